//! The case lifecycle, in one place: submit, the pre-review's result routed by the rules, the
//! two departments' tracks decided and combined, the permit sealed and issued, revoked, expired,
//! withdrawn, disputed — and after-care (complaints, inspections, firm grades) beside it.
//!
//! The HTTP handlers, the web pages, the worker and the CLI call [`Cases`]; none of them holds
//! workflow of its own. The pure parts (legal transitions, how two tracks combine, when a
//! comment is required) live in `nightpermit-domain`.
#![forbid(unsafe_code)]

pub mod aftercare;
pub mod applications;
pub mod complaints;
pub mod config;
mod error;
pub mod facts;
pub mod form;
pub mod grades;
pub mod inspections;
pub mod permits;
pub mod policy;
pub mod prereview;
pub mod review;
pub mod sealing;
pub mod time;

pub use config::Settings;
pub use error::{conflict_message, CaseError, CaseResult, FieldError};
pub use policy::Policy;
pub use time::Clock;

use anyhow::Context;
use nightpermit_store::{BlobStore, LocalBlobStore, SqlStore, Store};
use std::sync::Arc;

/// Who the system is in the audit log and on decided tracks.
pub const SYSTEM_ACTOR: &str = "system";

/// The service's state as the lifecycle needs it: settings, storage, the clock, the decision
/// policy and the sealing keys. Cheap to clone (all shared).
#[derive(Clone)]
pub struct Cases {
    pub settings: Arc<Settings>,
    pub store: Arc<dyn Store>,
    pub blobs: Arc<dyn BlobStore>,
    pub clock: Clock,
    pub policy: Arc<Policy>,
    /// Sealing keys and published certificates.
    pub keys: Arc<nightpermit_seal::KeyDir>,
}

impl Cases {
    /// Opens everything the settings name: the policy files, the sealing keys, the database
    /// (migrated) and the blob directory. Each failure says what to fix.
    pub async fn open(settings: Settings) -> anyhow::Result<Cases> {
        let policy = Policy::load(&settings)?;
        let keys = prepare_keys(&settings)?;
        let store = open_store(&settings).await?;
        let blob_dir = settings.blob_dir();
        std::fs::create_dir_all(&blob_dir).with_context(|| format!("cannot create blob dir {}", blob_dir.display()))?;
        Ok(Cases {
            settings: Arc::new(settings),
            store: Arc::new(store),
            blobs: Arc::new(LocalBlobStore::new(blob_dir)),
            clock: Clock::default(),
            policy: Arc::new(policy),
            keys: Arc::new(keys),
        })
    }
}

/// Opens the database named by the settings (Postgres if `DATABASE_URL` is set, else the SQLite
/// file under the data dir), applying migrations.
pub async fn open_store(settings: &Settings) -> anyhow::Result<SqlStore> {
    let store = match &settings.database_url {
        Some(url) => SqlStore::connect(&url.0).await.with_context(|| {
            format!(
                "cannot connect to {} (fix: check DATABASE_URL and that Postgres is running)",
                nightpermit_store::redact(&url.0)
            )
        })?,
        None => {
            let dir = &settings.storage.data_dir;
            std::fs::create_dir_all(dir).with_context(|| {
                format!("cannot create data dir {} (fix: choose a writable --data-dir)", dir.display())
            })?;
            SqlStore::open_sqlite(&settings.sqlite_path()).await.with_context(|| {
                format!("cannot open {} (fix: check permissions of --data-dir)", settings.sqlite_path().display())
            })?
        }
    };
    store.migrate().await.context("applying database migrations")?;
    Ok(store)
}

/// The sealing keys: created on first start of the embedded default; otherwise they must exist
/// (created once with `nightpermit keys init`), and start-up stops with the command to fix it.
pub fn prepare_keys(settings: &Settings) -> anyhow::Result<nightpermit_seal::KeyDir> {
    let keys = nightpermit_seal::KeyDir::new(settings.keys_dir());
    if settings.database_url.is_none() {
        let created = keys
            .init(&settings.authorities())
            .with_context(|| format!("cannot create sealing keys in {}", keys.dir.display()))?;
        if created > 0 {
            tracing::info!(dir = %keys.dir.display(), created, "created sealing keys (root and one per district authority)");
            eprintln!("created {created} sealing keys in {}", keys.dir.display());
        }
    } else if !keys.has_root_certificate() {
        anyhow::bail!(
            "sealing keys missing in {} (fix: run `nightpermit keys init` with the same DATABASE_URL and NIGHTPERMIT__SEAL__KEYS_DIR, then copy the directory to the signing hosts)",
            keys.dir.display()
        );
    }
    Ok(keys)
}
