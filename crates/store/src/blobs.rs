//! Content-addressed storage for uploaded files: a file's name is its sha256, so the same scan
//! uploaded twice is stored once and a stored file cannot change under its name.

use async_trait::async_trait;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("blob {0} not found")]
    NotFound(String),
    #[error("invalid blob id {0}")]
    InvalidId(String),
    #[error("blob storage I/O: {0}")]
    Io(#[from] std::io::Error),
}

/// Where uploaded files live. Local directory now; an S3-compatible store can implement the
/// same trait for deployments with several machines.
#[async_trait]
pub trait BlobStore: Send + Sync + 'static {
    /// Stores the bytes durably and returns their sha256 (hex).
    async fn put(&self, bytes: &[u8]) -> Result<String, BlobError>;
    async fn get(&self, sha256: &str) -> Result<Vec<u8>, BlobError>;
    async fn exists(&self, sha256: &str) -> Result<bool, BlobError>;
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[derive(Debug, Clone)]
pub struct LocalBlobStore {
    root: PathBuf,
}

impl LocalBlobStore {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path_of(&self, sha256: &str) -> Result<PathBuf, BlobError> {
        let valid = sha256.len() == 64 && sha256.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase());
        if !valid {
            return Err(BlobError::InvalidId(sha256.to_string()));
        }
        Ok(self.root.join(&sha256[..2]).join(&sha256[2..4]).join(sha256))
    }
}

#[async_trait]
impl BlobStore for LocalBlobStore {
    async fn put(&self, bytes: &[u8]) -> Result<String, BlobError> {
        let sha = sha256_hex(bytes);
        let path = self.path_of(&sha)?;
        if tokio::fs::try_exists(&path).await? {
            return Ok(sha);
        }
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_else(|| self.root.clone());
        tokio::fs::create_dir_all(&dir).await?;
        // Write to a temporary name, sync, then rename: a crash leaves either no blob or a
        // whole one, never a torn file under the real name.
        let tmp = dir.join(format!(".{sha}.{}.tmp", uuid::Uuid::new_v4()));
        let data = bytes.to_vec();
        let (tmp2, path2) = (tmp.clone(), path.clone());
        let result = tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            use std::io::Write;
            let mut f = std::fs::File::create(&tmp2)?;
            f.write_all(&data)?;
            f.sync_all()?;
            std::fs::rename(&tmp2, &path2)?;
            if let Some(parent) = path2.parent() {
                std::fs::File::open(parent)?.sync_all()?;
            }
            Ok(())
        })
        .await
        .map_err(|e| std::io::Error::other(e.to_string()))?;
        if result.is_err() {
            let _ = tokio::fs::remove_file(&tmp).await;
        }
        result?;
        Ok(sha)
    }

    async fn get(&self, sha256: &str) -> Result<Vec<u8>, BlobError> {
        let path = self.path_of(sha256)?;
        match tokio::fs::read(&path).await {
            Ok(b) => Ok(b),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(BlobError::NotFound(sha256.into())),
            Err(e) => Err(e.into()),
        }
    }

    async fn exists(&self, sha256: &str) -> Result<bool, BlobError> {
        Ok(tokio::fs::try_exists(self.path_of(sha256)?).await?)
    }
}
