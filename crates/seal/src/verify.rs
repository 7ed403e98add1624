//! Offline verification of a sealed permit: every signature's byte range, digest, Ed25519
//! signature, certificate binding and chain to a trusted root, and whether anything was added
//! after the last signature. Needs only the PDF and the published certificates.

use crate::cms_sig::{check_detached, issued_by};
use crate::SealError;
use der::Encode;
use lopdf::{Document, Object};
use serde::Serialize;
use sha2::{Digest, Sha512};
use x509_cert::Certificate;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SignatureReport {
    /// The sealing authority (certificate CN).
    pub signer: String,
    /// `construction` or `environment` (certificate OU).
    pub department: String,
    /// District id (certificate L).
    pub district: String,
    /// RFC 3339, from the signed signing-time attribute.
    pub signed_at: Option<String>,
    /// The digest over the byte range matches the signed one.
    pub intact: bool,
    /// The Ed25519 signature verifies and the certificate is the one bound in the signature.
    pub signature_valid: bool,
    /// The certificate was issued by one of the trusted roots and was valid when signing.
    pub trusted: bool,
    /// Bytes of the file this signature covers.
    pub covers_bytes: usize,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct VerifyReport {
    /// Every signature intact, valid and trusted, at least two (both departments), nothing appended.
    pub valid: bool,
    pub signatures: Vec<SignatureReport>,
    pub permit_number: Option<String>,
    /// Bytes after the last signature's range (0 if none).
    pub appended_bytes: usize,
    /// Chinese descriptions of each problem found.
    pub problems: Vec<String>,
}

fn attr(cert: &Certificate, oid: der::asn1::ObjectIdentifier) -> String {
    for rdn in cert.tbs_certificate.subject.0.iter() {
        for atv in rdn.0.iter() {
            if atv.oid == oid {
                if let Ok(s) = atv.value.decode_as::<der::asn1::Utf8StringRef>() {
                    return s.as_str().to_string();
                }
                if let Ok(s) = atv.value.decode_as::<der::asn1::PrintableStringRef>() {
                    return s.as_str().to_string();
                }
            }
        }
    }
    String::new()
}

/// Signing times are shown in Shanghai time (+08:00, no daylight saving since 1991).
const SHANGHAI: chrono::FixedOffset = match chrono::FixedOffset::east_opt(8 * 3600) {
    Some(offset) => offset,
    None => panic!("+08:00 is a valid offset"),
};

const CN: der::asn1::ObjectIdentifier = der::asn1::ObjectIdentifier::new_unwrap("2.5.4.3");
const OU: der::asn1::ObjectIdentifier = der::asn1::ObjectIdentifier::new_unwrap("2.5.4.11");
const L: der::asn1::ObjectIdentifier = der::asn1::ObjectIdentifier::new_unwrap("2.5.4.7");

fn within_validity(cert: &Certificate, at: i64) -> bool {
    let v = &cert.tbs_certificate.validity;
    let nb = v.not_before.to_unix_duration().as_secs() as i64;
    let na = v.not_after.to_unix_duration().as_secs() as i64;
    nb <= at && at <= na
}

/// Verifies `pdf` against the trusted `roots` (self-signed certificates).
pub fn verify_pdf(pdf: &[u8], roots: &[Certificate]) -> VerifyReport {
    let mut problems = Vec::new();
    let doc = match Document::load_mem(pdf) {
        Ok(d) => d,
        Err(e) => {
            return VerifyReport {
                valid: false,
                signatures: vec![],
                permit_number: None,
                appended_bytes: 0,
                problems: vec![format!("无法解析 PDF：{e}")],
            }
        }
    };
    let permit_number = doc
        .trailer
        .get(b"Info")
        .ok()
        .and_then(|o| match o {
            Object::Reference(id) => doc.get_object(*id).ok(),
            other => Some(other),
        })
        .and_then(|o| o.as_dict().ok())
        .and_then(|d| d.get(b"PermitNumber").ok())
        .and_then(|o| o.as_str().ok())
        .map(|s| String::from_utf8_lossy(s).to_string());
    let mut sigs: Vec<(Vec<i64>, Vec<u8>)> = doc
        .objects
        .values()
        .filter_map(|o| o.as_dict().ok())
        .filter(|d| d.get(b"Type").and_then(Object::as_name).is_ok_and(|n| n == b"Sig"))
        .filter_map(|d| {
            let range: Vec<i64> =
                d.get(b"ByteRange").ok()?.as_array().ok()?.iter().filter_map(|x| x.as_i64().ok()).collect();
            let contents = d.get(b"Contents").ok()?.as_str().ok()?.to_vec();
            Some((range, contents))
        })
        .collect();
    sigs.sort_by_key(|(r, _)| r.get(2).copied().unwrap_or(0) + r.get(3).copied().unwrap_or(0));
    let mut reports = Vec::new();
    let mut max_end = 0usize;
    for (range, contents) in &sigs {
        let [a, b, c, d] = range.as_slice() else {
            problems.push("签名的 ByteRange 格式错误".into());
            continue;
        };
        let (a, b, c, d) = (*a as usize, *b as usize, *c as usize, *d as usize);
        let sane = a == 0 && b < c && c + d <= pdf.len() && pdf.get(b) == Some(&b'<') && pdf.get(c - 1) == Some(&b'>');
        if !sane {
            problems.push("签名的 ByteRange 未覆盖除签名值以外的整个文件".into());
            continue;
        }
        max_end = max_end.max(c + d);
        let mut h = Sha512::new();
        h.update(&pdf[a..a + b]);
        h.update(&pdf[c..c + d]);
        let digest = h.finalize();
        match check_detached(contents, &digest) {
            Ok(check) => {
                let signed_at = check.signed_at;
                let trusted = roots.iter().any(|root| issued_by(&check.signer, root) && issued_by(root, root))
                    && signed_at.is_none_or(|t| within_validity(&check.signer, t));
                let report = SignatureReport {
                    signer: attr(&check.signer, CN),
                    department: attr(&check.signer, OU),
                    district: attr(&check.signer, L),
                    signed_at: signed_at
                        .and_then(|t| chrono::DateTime::from_timestamp(t, 0))
                        .map(|t| t.with_timezone(&SHANGHAI).to_rfc3339()),
                    intact: check.digest_matches,
                    signature_valid: check.signature_valid && check.certificate_bound,
                    trusted,
                    covers_bytes: c + d,
                };
                if !report.intact {
                    problems.push(format!("{}的签章之后文件内容被改动", report.signer));
                }
                if !report.signature_valid {
                    problems.push(format!("{}的签名值无效", report.signer));
                }
                if !report.trusted {
                    problems.push(format!("{}的证书不是由受信任的根证书签发的", report.signer));
                }
                reports.push(report);
            }
            Err(e) => problems.push(format!("签名数据无法解析：{e}")),
        }
    }
    if sigs.is_empty() {
        problems.push("文件中没有电子签章".into());
    } else if reports.len() < 2 {
        problems.push("许可证应有建设和生态环境两个部门的签章".into());
    }
    let appended = pdf.len().saturating_sub(max_end);
    // A final newline after %%EOF is within the last range; anything more was added later.
    if max_end > 0 && appended > 0 {
        problems.push(format!("最后一个签章之后追加了{appended}字节的内容"));
    }
    let valid = problems.is_empty() && reports.iter().all(|r| r.intact && r.signature_valid && r.trusted);
    VerifyReport { valid, signatures: reports, permit_number, appended_bytes: appended, problems }
}

/// DER of a certificate, for comparing trust anchors.
pub fn fingerprint(cert: &Certificate) -> Result<String, SealError> {
    Ok(hex::encode(Sha512::digest(cert.to_der().map_err(|e| SealError::Certificate(e.to_string()))?)))
}
