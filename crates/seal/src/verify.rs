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

/// One reason a file does not verify: a stable code and a Chinese message.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct VerifyProblem {
    pub code: &'static str,
    pub message: String,
}

impl VerifyProblem {
    fn new(code: &'static str, message: impl Into<String>) -> Self {
        VerifyProblem { code, message: message.into() }
    }
}

/// Bounds on the work one verification may do, whatever the file holds.
#[derive(Debug, Clone)]
pub struct VerifyLimits {
    /// A permit carries two signatures; a file with many more is refused before any hashing,
    /// since each signature may make us hash the whole file once.
    pub max_signatures: usize,
    /// Wall time after which no further signature is checked.
    pub budget: std::time::Duration,
}

impl Default for VerifyLimits {
    fn default() -> Self {
        VerifyLimits { max_signatures: 8, budget: std::time::Duration::from_secs(5) }
    }
}

/// Stack of the thread that parses an untrusted PDF. lopdf's parser recurses once per nesting
/// level (it stops at 100 levels); a stack overflow aborts the whole process rather than
/// failing one request, so the parse runs on a stack we sized, not on whatever thread called.
const PARSE_STACK_BYTES: usize = 64 * 1024 * 1024;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct VerifyReport {
    /// Every signature intact, valid and trusted, at least two (both departments), nothing appended.
    pub valid: bool,
    pub signatures: Vec<SignatureReport>,
    pub permit_number: Option<String>,
    /// Bytes after the last signature's range (0 if none).
    pub appended_bytes: usize,
    /// Each problem found, with its stable code.
    pub problems: Vec<VerifyProblem>,
}

impl VerifyReport {
    fn refused(problem: VerifyProblem) -> Self {
        VerifyReport {
            valid: false,
            signatures: vec![],
            permit_number: None,
            appended_bytes: 0,
            problems: vec![problem],
        }
    }
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

/// Verifies `pdf` against the trusted `roots` (self-signed certificates) within the default
/// limits.
pub fn verify_pdf(pdf: &[u8], roots: &[Certificate]) -> VerifyReport {
    verify_pdf_within(pdf, roots, &VerifyLimits::default())
}

/// Verifies `pdf` on a thread with a stack of known size, within `limits`. Whatever the file
/// holds, the answer is a report: a file that cannot be parsed, or that asks for more work
/// than the limits allow, is a problem in it, never a panic.
pub fn verify_pdf_within(pdf: &[u8], roots: &[Certificate], limits: &VerifyLimits) -> VerifyReport {
    std::thread::scope(|scope| {
        let worker = std::thread::Builder::new()
            .name("pdf-verify".into())
            .stack_size(PARSE_STACK_BYTES)
            .spawn_scoped(scope, || verify_parsed(pdf, roots, limits));
        match worker {
            // A panic here is a bug of ours (the fuzz tests look for this code): the caller still
            // gets an answer, and the service stays up.
            Ok(handle) => handle.join().unwrap_or_else(|_| {
                VerifyReport::refused(VerifyProblem::new("VERIFY_INTERNAL_ERROR", "验签时发生内部错误，该文件未能验证"))
            }),
            Err(_) => VerifyReport::refused(VerifyProblem::new("VERIFY_UNAVAILABLE", "验签服务暂时繁忙，请稍后重试")),
        }
    })
}

/// The byte range of a signature as four offsets, if it is one a signer could have written:
/// non-negative, ascending, starting at 0, inside the file, and leaving out exactly the
/// `/Contents` hex string (`contents_len` decoded bytes, so `2 × len + 2` bytes with the angle
/// brackets). Anything else is refused before hashing, so a range can never make us hash more
/// than the file once, read outside it, or overflow.
fn checked_byte_range(range: &[i64], pdf: &[u8], contents_len: usize) -> Option<[usize; 4]> {
    let [a, b, c, d] = range else { return None };
    let [a, b, c, d] = [*a, *b, *c, *d].map(|v| usize::try_from(v).ok());
    let (a, b, c, d) = (a?, b?, c?, d?);
    let end = c.checked_add(d)?;
    let gap = c.checked_sub(b)?;
    let expected_gap = contents_len.checked_mul(2)?.checked_add(2)?;
    let sane = a == 0
        && gap == expected_gap
        && end <= pdf.len()
        && pdf.get(b) == Some(&b'<')
        && c.checked_sub(1).and_then(|i| pdf.get(i)) == Some(&b'>');
    sane.then_some([a, b, c, d])
}

fn verify_parsed(pdf: &[u8], roots: &[Certificate], limits: &VerifyLimits) -> VerifyReport {
    let started = std::time::Instant::now();
    let mut problems = Vec::new();
    let doc = match Document::load_mem(pdf) {
        Ok(d) => d,
        Err(e) => return VerifyReport::refused(VerifyProblem::new("PDF_UNPARSEABLE", format!("无法解析 PDF：{e}"))),
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
    if sigs.len() > limits.max_signatures {
        return VerifyReport {
            permit_number,
            ..VerifyReport::refused(VerifyProblem::new(
                "TOO_MANY_SIGNATURES",
                format!("文件中有{}个签名，超过上限{}个，未予验证", sigs.len(), limits.max_signatures),
            ))
        };
    }
    sigs.sort_by_key(|(r, _)| r.get(2).copied().unwrap_or(0).saturating_add(r.get(3).copied().unwrap_or(0)));
    let mut reports = Vec::new();
    let mut max_end = 0usize;
    for (range, contents) in &sigs {
        if started.elapsed() > limits.budget {
            problems.push(VerifyProblem::new("VERIFY_TIME_EXCEEDED", "验签超出时间上限，其余签名未验证"));
            break;
        }
        let Some([a, b, c, d]) = checked_byte_range(range, pdf, contents.len()) else {
            problems.push(VerifyProblem::new("BYTE_RANGE_INVALID", "签名的 ByteRange 未覆盖除签名值以外的整个文件"));
            continue;
        };
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
                    problems.push(VerifyProblem::new("ALTERED", format!("{}的签章之后文件内容被改动", report.signer)));
                }
                if !report.signature_valid {
                    problems.push(VerifyProblem::new("SIGNATURE_INVALID", format!("{}的签名值无效", report.signer)));
                }
                if !report.trusted {
                    problems.push(VerifyProblem::new(
                        "UNTRUSTED",
                        format!("{}的证书不是由受信任的根证书签发的", report.signer),
                    ));
                }
                reports.push(report);
            }
            Err(e) => problems.push(VerifyProblem::new("SIGNATURE_UNREADABLE", format!("签名数据无法解析：{e}"))),
        }
    }
    if sigs.is_empty() {
        problems.push(VerifyProblem::new("NO_SIGNATURE", "文件中没有电子签章"));
    } else if reports.len() < 2 {
        problems.push(VerifyProblem::new("SIGNATURE_MISSING", "许可证应有建设和生态环境两个部门的签章"));
    }
    let appended = pdf.len().saturating_sub(max_end);
    // A final newline after %%EOF is within the last range; anything more was added later.
    if max_end > 0 && appended > 0 {
        problems.push(VerifyProblem::new("APPENDED", format!("最后一个签章之后追加了{appended}字节的内容")));
    }
    let valid = problems.is_empty() && reports.iter().all(|r| r.intact && r.signature_valid && r.trusted);
    VerifyReport { valid, signatures: reports, permit_number, appended_bytes: appended, problems }
}

/// DER of a certificate, for comparing trust anchors.
pub fn fingerprint(cert: &Certificate) -> Result<String, SealError> {
    Ok(hex::encode(Sha512::digest(cert.to_der().map_err(|e| SealError::Certificate(e.to_string()))?)))
}

#[cfg(test)]
mod tests {
    use super::checked_byte_range;

    #[test]
    fn byte_ranges_must_be_what_a_signer_writes() {
        // 10 bytes, then <0000> (2 decoded bytes = 6 bytes of hex with brackets), then 4 bytes.
        let pdf = b"0123456789<0000>abcd";
        assert_eq!(checked_byte_range(&[0, 10, 16, 4], pdf, 2), Some([0, 10, 16, 4]));
        for bad in [
            vec![0, -40, 0, -1],       // negative lengths
            vec![0, 10, 16, 5],        // past the end
            vec![1, 9, 16, 4],         // not from the start
            vec![0, 16, 10, 4],        // descending
            vec![0, 10, 16],           // three numbers
            vec![0, 10, 16, i64::MAX], // overflow
            vec![0, 9, 16, 4],         // gap not exactly the signature value
        ] {
            assert_eq!(checked_byte_range(&bad, pdf, 2), None, "{bad:?}");
        }
        assert_eq!(checked_byte_range(&[0, 10, 16, 4], pdf, 3), None, "contents longer than the gap");
    }
}
