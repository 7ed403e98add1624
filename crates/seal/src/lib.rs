//! Sealed permits: the permit PDF, each department's seal as a real PDF signature (CMS with
//! Ed25519, RFC 8419), and offline verification. No I/O beyond the key files and fonts callers
//! point at.
#![forbid(unsafe_code)]

pub mod cms_sig;
pub mod keys;
pub mod render;
pub mod sign;
pub mod verify;

pub use keys::{Authority, KeyDir, SealKey};
pub use render::{render_permit, render_site_notice, PermitContent, SiteNotice};
pub use sign::{sign_pdf, SignRequest};
pub use verify::{verify_pdf, SignatureReport, VerifyReport};

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("keys: {0}")]
    Keys(String),
    #[error("certificate: {0}")]
    Certificate(String),
    #[error("CMS: {0}")]
    Cms(String),
    #[error("PDF: {0}")]
    Pdf(String),
    #[error("rendering: {0}")]
    Render(String),
}

/// Renders a permit and seals it by both departments, construction first.
pub fn seal_permit(
    content: &PermitContent,
    signers: [(&SealKey, &x509_cert::Certificate, &str, &str); 2],
    pdf_date: &str,
) -> Result<Vec<u8>, SealError> {
    let mut pdf = render_permit(content)?;
    for (key, cert, field, name) in signers {
        pdf = sign_pdf(
            &pdf,
            &SignRequest { key, cert, field, signer_name: name, reason: "夜间施工许可电子印章", pdf_date },
        )?;
    }
    Ok(pdf)
}
