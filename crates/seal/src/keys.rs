//! The service's root certificate and one issuing key and certificate per authority
//! (district × department). Private keys are files with mode 0600 under the keys directory —
//! never in the database, the logs or an API answer. Rotation keeps old certificates so permits
//! sealed with them still verify.

use crate::SealError;
use der::asn1::BitString;
use der::{Decode, DecodePem, Encode, EncodePem};
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use ed25519_dalek::SigningKey;
use signature::Keypair;
use spki::{
    AlgorithmIdentifierOwned, DynSignatureAlgorithmIdentifier, EncodePublicKey, ObjectIdentifier,
    SignatureBitStringEncoding,
};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;
use x509_cert::builder::{Builder, CertificateBuilder, Profile};
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::Validity;
use x509_cert::Certificate;

/// id-Ed25519 (RFC 8410).
pub const ED25519_OID: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");

/// An Ed25519 signature as the X.509 and CMS builders need it (a BIT STRING encoding, which
/// `ed25519::Signature` itself lacks).
#[derive(Clone, Debug)]
pub struct Ed25519Signature(pub ed25519_dalek::Signature);

impl SignatureBitStringEncoding for Ed25519Signature {
    fn to_bitstring(&self) -> der::Result<BitString> {
        BitString::new(0, self.0.to_bytes().to_vec())
    }
}

/// An Ed25519 signing key usable by the x509-cert and cms builders.
pub struct SealKey(pub SigningKey);

impl Keypair for SealKey {
    type VerifyingKey = ed25519_dalek::VerifyingKey;
    fn verifying_key(&self) -> Self::VerifyingKey {
        self.0.verifying_key()
    }
}

impl DynSignatureAlgorithmIdentifier for SealKey {
    fn signature_algorithm_identifier(&self) -> spki::Result<AlgorithmIdentifierOwned> {
        Ok(AlgorithmIdentifierOwned { oid: ED25519_OID, parameters: None })
    }
}

impl signature::Signer<Ed25519Signature> for SealKey {
    fn try_sign(&self, msg: &[u8]) -> Result<Ed25519Signature, signature::Error> {
        Ok(Ed25519Signature(self.0.sign(msg)))
    }
}

impl SealKey {
    pub fn generate() -> Self {
        SealKey(SigningKey::generate(&mut rand::rngs::OsRng))
    }
}

/// An issuing authority: who seals, for which district and department.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authority {
    /// e.g. `jingan`.
    pub district: String,
    /// `construction` or `environment`.
    pub department: String,
    /// e.g. 静安区建设管理委员会.
    pub name: String,
}

impl Authority {
    /// File stem of its key and certificate: `jingan-construction`.
    pub fn id(&self) -> String {
        format!("{}-{}", self.district, self.department)
    }
}

fn name(cn: &str, ou: Option<&str>, l: Option<&str>) -> Result<Name, SealError> {
    // RFC 4514 string; commas and other specials in our values are not expected (Chinese names,
    // ids), but escape the few that matter anyway.
    let esc = |s: &str| s.replace('\\', "\\\\").replace(',', "\\,").replace('+', "\\+").replace('=', "\\=");
    let mut parts = vec![format!("CN={}", esc(cn))];
    if let Some(ou) = ou {
        parts.push(format!("OU={}", esc(ou)));
    }
    if let Some(l) = l {
        parts.push(format!("L={}", esc(l)));
    }
    parts.push("O=nightpermit".into());
    parts.push("C=CN".into());
    Name::from_str(&parts.join(",")).map_err(|e| SealError::Certificate(format!("name {cn}: {e}")))
}

fn serial() -> Result<SerialNumber, SealError> {
    let mut bytes = rand::random::<[u8; 16]>();
    bytes[0] &= 0x7f; // positive
    bytes[0] |= 0x01; // no leading zero byte
    SerialNumber::new(&bytes).map_err(|e| SealError::Certificate(e.to_string()))
}

fn spki_of(key: &SealKey) -> Result<spki::SubjectPublicKeyInfoOwned, SealError> {
    let der = key.verifying_key().to_public_key_der().map_err(|e| SealError::Certificate(e.to_string()))?;
    spki::SubjectPublicKeyInfoOwned::from_der(der.as_bytes()).map_err(|e| SealError::Certificate(e.to_string()))
}

const YEAR: u64 = 365 * 24 * 3600;

pub fn root_certificate(key: &SealKey) -> Result<Certificate, SealError> {
    let validity =
        Validity::from_now(Duration::from_secs(20 * YEAR)).map_err(|e| SealError::Certificate(e.to_string()))?;
    let builder = CertificateBuilder::new(
        Profile::Root,
        serial()?,
        validity,
        name("nightpermit 电子印章根证书", None, None)?,
        spki_of(key)?,
        key,
    )
    .map_err(|e| SealError::Certificate(e.to_string()))?;
    builder.build::<Ed25519Signature>().map_err(|e| SealError::Certificate(e.to_string()))
}

pub fn authority_certificate(
    root_key: &SealKey,
    root: &Certificate,
    key: &SealKey,
    a: &Authority,
) -> Result<Certificate, SealError> {
    let validity =
        Validity::from_now(Duration::from_secs(5 * YEAR)).map_err(|e| SealError::Certificate(e.to_string()))?;
    let profile = Profile::Leaf {
        issuer: root.tbs_certificate.subject.clone(),
        enable_key_agreement: false,
        enable_key_encipherment: false,
    };
    let builder = CertificateBuilder::new(
        profile,
        serial()?,
        validity,
        name(&a.name, Some(&a.department), Some(&a.district))?,
        spki_of(key)?,
        root_key,
    )
    .map_err(|e| SealError::Certificate(e.to_string()))?;
    builder.build::<Ed25519Signature>().map_err(|e| SealError::Certificate(e.to_string()))
}

/// The keys directory: `root.key`, `root.crt`, `<authority>.key`, `<authority>.crt`, and
/// `certs/` with every certificate ever issued (for verification and publication).
#[derive(Debug, Clone)]
pub struct KeyDir {
    pub dir: PathBuf,
}

fn write_private(path: &Path, pem: &str) -> Result<(), SealError> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    opts.mode(0o600);
    let mut f = opts.open(path).map_err(|e| SealError::Keys(format!("{}: {e}", path.display())))?;
    f.write_all(pem.as_bytes()).map_err(|e| SealError::Keys(e.to_string()))?;
    f.sync_all().map_err(|e| SealError::Keys(e.to_string()))
}

fn cert_pem(cert: &Certificate) -> Result<String, SealError> {
    cert.to_pem(der::pem::LineEnding::LF).map_err(|e| SealError::Certificate(e.to_string()))
}

pub fn parse_cert_pem(pem: &str) -> Result<Certificate, SealError> {
    Certificate::from_pem(pem.as_bytes()).map_err(|e| SealError::Certificate(e.to_string()))
}

impl KeyDir {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        KeyDir { dir: dir.into() }
    }

    fn certs_dir(&self) -> PathBuf {
        self.dir.join("certs")
    }

    /// Whether the published root certificate is here: all an API server needs to verify.
    pub fn has_root_certificate(&self) -> bool {
        self.dir.join("root.crt").exists()
    }

    pub fn exists(&self) -> bool {
        self.dir.join("root.key").exists() && self.dir.join("root.crt").exists()
    }

    fn read_key(&self, stem: &str) -> Result<SealKey, SealError> {
        let path = self.dir.join(format!("{stem}.key"));
        let pem = std::fs::read_to_string(&path).map_err(|e| SealError::Keys(format!("{}: {e}", path.display())))?;
        SigningKey::from_pkcs8_pem(&pem).map(SealKey).map_err(|e| SealError::Keys(format!("{}: {e}", path.display())))
    }

    fn read_cert(&self, stem: &str) -> Result<Certificate, SealError> {
        let path = self.dir.join(format!("{stem}.crt"));
        let pem = std::fs::read_to_string(&path).map_err(|e| SealError::Keys(format!("{}: {e}", path.display())))?;
        parse_cert_pem(&pem)
    }

    fn publish(&self, cert: &Certificate, stem: &str) -> Result<(), SealError> {
        std::fs::create_dir_all(self.certs_dir()).map_err(|e| SealError::Keys(e.to_string()))?;
        let serial = hex::encode(cert.tbs_certificate.serial_number.as_bytes());
        std::fs::write(self.certs_dir().join(format!("{stem}-{serial}.crt")), cert_pem(cert)?)
            .map_err(|e| SealError::Keys(e.to_string()))
    }

    fn issue(&self, a: &Authority, root_key: &SealKey, root: &Certificate) -> Result<(), SealError> {
        let key = SealKey::generate();
        let cert = authority_certificate(root_key, root, &key, a)?;
        let stem = a.id();
        let key_path = self.dir.join(format!("{stem}.key"));
        if key_path.exists() {
            std::fs::remove_file(&key_path).map_err(|e| SealError::Keys(e.to_string()))?;
        }
        let pem = key.0.to_pkcs8_pem(der::pem::LineEnding::LF).map_err(|e| SealError::Keys(e.to_string()))?;
        write_private(&key_path, &pem)?;
        std::fs::write(self.dir.join(format!("{stem}.crt")), cert_pem(&cert)?)
            .map_err(|e| SealError::Keys(e.to_string()))?;
        self.publish(&cert, &stem)
    }

    /// Creates the root and every missing authority key. Returns how many keys were created.
    pub fn init(&self, authorities: &[Authority]) -> Result<usize, SealError> {
        std::fs::create_dir_all(&self.dir).map_err(|e| SealError::Keys(format!("{}: {e}", self.dir.display())))?;
        let mut created = 0;
        if !self.exists() {
            let root_key = SealKey::generate();
            let root = root_certificate(&root_key)?;
            let pem = root_key.0.to_pkcs8_pem(der::pem::LineEnding::LF).map_err(|e| SealError::Keys(e.to_string()))?;
            write_private(&self.dir.join("root.key"), &pem)?;
            std::fs::write(self.dir.join("root.crt"), cert_pem(&root)?).map_err(|e| SealError::Keys(e.to_string()))?;
            self.publish(&root, "root")?;
            created += 1;
        }
        let root_key = self.read_key("root")?;
        let root = self.read_cert("root")?;
        for a in authorities {
            if !self.dir.join(format!("{}.key", a.id())).exists() {
                self.issue(a, &root_key, &root)?;
                created += 1;
            }
        }
        Ok(created)
    }

    /// Issues a new key and certificate for one authority; the old certificate stays published.
    pub fn rotate(&self, a: &Authority) -> Result<(), SealError> {
        let root_key = self.read_key("root")?;
        let root = self.read_cert("root")?;
        self.issue(a, &root_key, &root)
    }

    /// The current key and certificate of an authority.
    pub fn signer(&self, a: &Authority) -> Result<(SealKey, Certificate), SealError> {
        Ok((self.read_key(&a.id())?, self.read_cert(&a.id())?))
    }

    pub fn root(&self) -> Result<Certificate, SealError> {
        self.read_cert("root")
    }

    /// Every published certificate (root first), for `/api/v1/seal/certificates` and offline checks.
    pub fn published(&self) -> Result<Vec<Certificate>, SealError> {
        read_cert_dir(&self.certs_dir())
    }
}

/// All certificates in a directory (`.crt` or `.pem`, PEM), self-signed roots first.
pub fn read_cert_dir(dir: &Path) -> Result<Vec<Certificate>, SealError> {
    let mut certs = Vec::new();
    let entries = std::fs::read_dir(dir).map_err(|e| SealError::Keys(format!("{}: {e}", dir.display())))?;
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for p in paths {
        if p.extension().is_some_and(|x| x == "crt" || x == "pem") {
            let text = std::fs::read_to_string(&p).map_err(|e| SealError::Keys(e.to_string()))?;
            for block in text.split_inclusive("-----END CERTIFICATE-----") {
                if block.contains("BEGIN CERTIFICATE") {
                    certs.push(parse_cert_pem(block.trim())?);
                }
            }
        }
    }
    certs.sort_by_key(|c| c.tbs_certificate.issuer != c.tbs_certificate.subject);
    Ok(certs)
}

pub fn to_pem(cert: &Certificate) -> Result<String, SealError> {
    cert_pem(cert)
}

pub fn der_of(cert: &Certificate) -> Result<Vec<u8>, SealError> {
    cert.to_der().map_err(|e| SealError::Certificate(e.to_string()))
}
