//! CMS SignedData for PDF signatures (ETSI.CAdES.detached): Ed25519 (RFC 8419) over signed
//! attributes holding the SHA-512 digest of the PDF's byte ranges, the signing time and the
//! signing-certificate-v2 attribute. Built and parsed with RustCrypto's cms crate.

use crate::keys::{Ed25519Signature, SealKey};
use crate::SealError;
use cms::builder::{create_signing_time_attribute, SignedDataBuilder, SignerInfoBuilder};
use cms::cert::{CertificateChoices, IssuerAndSerialNumber};
use cms::content_info::ContentInfo;
use cms::signed_data::{EncapsulatedContentInfo, SignedData, SignerIdentifier};
use const_oid::db::rfc5911::{ID_CONTENT_TYPE, ID_DATA, ID_MESSAGE_DIGEST, ID_SIGNED_DATA, ID_SIGNING_TIME};
use der::asn1::{OctetString, SetOfVec};
use der::{Any, Decode, Encode, Sequence};
use sha2::{Digest, Sha256};
use spki::{AlgorithmIdentifierOwned, ObjectIdentifier};
use x509_cert::attr::Attribute;
use x509_cert::Certificate;

/// id-aa-signingCertificateV2 (RFC 5035).
const ID_SIGNING_CERTIFICATE_V2: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.47");
const ID_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.3");

/// ESSCertIDv2 with the default hash (SHA-256) and no issuerSerial.
#[derive(Clone, Debug, Sequence)]
struct EssCertIdV2 {
    cert_hash: OctetString,
}

#[derive(Clone, Debug, Sequence)]
struct SigningCertificateV2 {
    certs: Vec<EssCertIdV2>,
}

fn der_err(e: impl std::fmt::Display) -> SealError {
    SealError::Cms(e.to_string())
}

/// Signs the SHA-512 `digest` of the signed byte ranges; returns the DER ContentInfo.
pub fn sign_detached(key: &SealKey, cert: &Certificate, digest: &[u8]) -> Result<Vec<u8>, SealError> {
    let digest_alg = AlgorithmIdentifierOwned { oid: ID_SHA512, parameters: None };
    let eci = EncapsulatedContentInfo { econtent_type: ID_DATA, econtent: None };
    let sid = SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
        issuer: cert.tbs_certificate.issuer.clone(),
        serial_number: cert.tbs_certificate.serial_number.clone(),
    });
    let cert_der = cert.to_der().map_err(der_err)?;
    let signing_cert = SigningCertificateV2 {
        certs: vec![EssCertIdV2 { cert_hash: OctetString::new(Sha256::digest(&cert_der).to_vec()).map_err(der_err)? }],
    };
    let attr = Attribute {
        oid: ID_SIGNING_CERTIFICATE_V2,
        values: SetOfVec::try_from(vec![Any::encode_from(&signing_cert).map_err(der_err)?]).map_err(der_err)?,
    };
    let mut signer_info = SignerInfoBuilder::new(key, sid, digest_alg.clone(), &eci, Some(digest)).map_err(der_err)?;
    signer_info.add_signed_attribute(create_signing_time_attribute().map_err(der_err)?).map_err(der_err)?;
    signer_info.add_signed_attribute(attr).map_err(der_err)?;
    let content = SignedDataBuilder::new(&eci)
        .add_digest_algorithm(digest_alg)
        .map_err(der_err)?
        .add_certificate(CertificateChoices::Certificate(cert.clone()))
        .map_err(der_err)?
        .add_signer_info::<SealKey, Ed25519Signature>(signer_info)
        .map_err(der_err)?
        .build()
        .map_err(der_err)?;
    content.to_der().map_err(der_err)
}

/// What a CMS signature says about itself.
#[derive(Debug, Clone)]
pub struct CmsCheck {
    pub signer: Certificate,
    /// Seconds since the epoch, from the signing-time attribute.
    pub signed_at: Option<i64>,
    /// The message-digest attribute equals the digest of the signed bytes.
    pub digest_matches: bool,
    /// The Ed25519 signature over the signed attributes verifies with the signer's key.
    pub signature_valid: bool,
    /// The signing-certificate-v2 attribute names this certificate.
    pub certificate_bound: bool,
}

fn ed25519_key(cert: &Certificate) -> Result<ed25519_dalek::VerifyingKey, SealError> {
    let raw = cert.tbs_certificate.subject_public_key_info.subject_public_key.raw_bytes();
    let bytes: [u8; 32] = raw.try_into().map_err(|_| SealError::Cms("signer key is not Ed25519".into()))?;
    ed25519_dalek::VerifyingKey::from_bytes(&bytes).map_err(der_err)
}

/// Whether `cert` was signed by `issuer` (Ed25519).
pub fn issued_by(cert: &Certificate, issuer: &Certificate) -> bool {
    if cert.tbs_certificate.issuer != issuer.tbs_certificate.subject {
        return false;
    }
    let (Ok(key), Ok(tbs)) = (ed25519_key(issuer), cert.tbs_certificate.to_der()) else { return false };
    let Ok(sig) = ed25519_dalek::Signature::from_slice(cert.signature.raw_bytes()) else { return false };
    key.verify_strict(&tbs, &sig).is_ok()
}

/// Parses and checks a detached CMS signature against the digest of the signed bytes. `der`
/// may carry trailing zero padding (a PDF's /Contents is larger than the signature): only the
/// first DER value is read.
pub fn check_detached(der: &[u8], digest: &[u8]) -> Result<CmsCheck, SealError> {
    let mut reader = der::SliceReader::new(der).map_err(der_err)?;
    let ci = ContentInfo::decode(&mut reader).map_err(der_err)?;
    if ci.content_type != ID_SIGNED_DATA {
        return Err(SealError::Cms("not a CMS SignedData".into()));
    }
    let sd: SignedData = ci.content.decode_as().map_err(der_err)?;
    let si = sd.signer_infos.0.iter().next().ok_or_else(|| SealError::Cms("no signer".into()))?;
    let SignerIdentifier::IssuerAndSerialNumber(ias) = &si.sid else {
        return Err(SealError::Cms("signer identified by key id; issuer and serial expected".into()));
    };
    let signer = sd
        .certificates
        .as_ref()
        .and_then(|set| {
            set.0.iter().find_map(|c| match c {
                CertificateChoices::Certificate(c)
                    if c.tbs_certificate.serial_number == ias.serial_number
                        && c.tbs_certificate.issuer == ias.issuer =>
                {
                    Some(c.clone())
                }
                _ => None,
            })
        })
        .ok_or_else(|| SealError::Cms("the signer's certificate is not in the signature".into()))?;
    let attrs = si.signed_attrs.as_ref().ok_or_else(|| SealError::Cms("no signed attributes".into()))?;
    let value_of =
        |oid: ObjectIdentifier| attrs.iter().find(|a| a.oid == oid).and_then(|a| a.values.iter().next().cloned());
    let digest_matches = value_of(ID_MESSAGE_DIGEST)
        .and_then(|v| v.decode_as::<OctetString>().ok())
        .is_some_and(|o| o.as_bytes() == digest);
    let content_type_ok =
        value_of(ID_CONTENT_TYPE).and_then(|v| v.decode_as::<ObjectIdentifier>().ok()) == Some(ID_DATA);
    let signed_at = value_of(ID_SIGNING_TIME)
        .and_then(|v| v.to_der().ok().and_then(|d| x509_cert::time::Time::from_der(&d).ok()))
        .map(|t| t.to_unix_duration().as_secs() as i64);
    let cert_der = signer.to_der().map_err(der_err)?;
    let certificate_bound =
        value_of(ID_SIGNING_CERTIFICATE_V2).and_then(|v| v.decode_as::<SigningCertificateV2>().ok()).is_some_and(|s| {
            s.certs.first().is_some_and(|c| c.cert_hash.as_bytes() == Sha256::digest(&cert_der).as_slice())
        });
    let signed_attrs_der = attrs.to_der().map_err(der_err)?;
    let signature_valid = content_type_ok
        && ed25519_key(&signer)
            .ok()
            .zip(ed25519_dalek::Signature::from_slice(si.signature.as_bytes()).ok())
            .is_some_and(|(k, s)| k.verify_strict(&signed_attrs_der, &s).is_ok());
    Ok(CmsCheck { signer, signed_at, digest_matches, signature_valid, certificate_bound })
}
