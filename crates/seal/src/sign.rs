//! Adds a PDF signature as an incremental update: a signature dictionary, a signature field
//! whose widget joins the page's existing /Annots, the field in the catalog's /AcroForm, then the
//! CMS over /ByteRange (the whole file but the /Contents hole). Earlier bytes are never touched,
//! so an earlier signature stays valid and the later one covers it.

use crate::cms_sig::sign_detached;
use crate::keys::SealKey;
use crate::SealError;
use lopdf::{Dictionary, Document, Object, ObjectId, StringFormat};
use sha2::{Digest, Sha512};
use std::fmt::Write as _;
use x509_cert::Certificate;

/// Room for the DER signature (hex-encoded in the file); ours is about 1 KiB.
const CONTENTS_BYTES: usize = 8192;
const BYTE_RANGE_PLACEHOLDER: &str = "[0 0000000000 0000000000 0000000000]";

fn pdf_err(e: impl std::fmt::Display) -> SealError {
    SealError::Pdf(e.to_string())
}

fn write_name(out: &mut String, name: &[u8]) {
    out.push('/');
    for b in name {
        if b.is_ascii_alphanumeric() || b"-_.+".contains(b) {
            out.push(*b as char);
        } else {
            let _ = write!(out, "#{b:02X}");
        }
    }
}

/// Serialises a (non-stream) object as PDF syntax.
fn write_object(out: &mut String, obj: &Object) -> Result<(), SealError> {
    match obj {
        Object::Null => out.push_str("null"),
        Object::Boolean(b) => out.push_str(if *b { "true" } else { "false" }),
        Object::Integer(i) => {
            let _ = write!(out, "{i}");
        }
        Object::Real(r) => {
            let _ = write!(out, "{r}");
        }
        Object::Name(n) => write_name(out, n),
        Object::String(s, _) => {
            let _ = write!(out, "<{}>", hex::encode(s));
        }
        Object::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                write_object(out, item)?;
            }
            out.push(']');
        }
        Object::Dictionary(d) => write_dict(out, d)?,
        Object::Reference((id, gen)) => {
            let _ = write!(out, "{id} {gen} R");
        }
        Object::Stream(_) => return Err(SealError::Pdf("cannot rewrite a stream object".into())),
    }
    Ok(())
}

fn write_dict(out: &mut String, d: &Dictionary) -> Result<(), SealError> {
    out.push_str("<<");
    for (k, v) in d.iter() {
        out.push(' ');
        write_name(out, k);
        out.push(' ');
        write_object(out, v)?;
    }
    out.push_str(" >>");
    Ok(())
}

fn utf16(s: &str) -> Object {
    let mut bytes = vec![0xFE, 0xFF];
    for u in s.encode_utf16() {
        bytes.extend_from_slice(&u.to_be_bytes());
    }
    Object::String(bytes, StringFormat::Hexadecimal)
}

/// An array that may be inline or behind a reference.
fn resolve_array(doc: &Document, obj: Option<&Object>) -> Vec<Object> {
    match obj {
        Some(Object::Array(a)) => a.clone(),
        Some(Object::Reference(id)) => {
            doc.get_object(*id).ok().and_then(|o| o.as_array().ok().cloned()).unwrap_or_default()
        }
        _ => Vec::new(),
    }
}

fn resolve_dict(doc: &Document, obj: Option<&Object>) -> Dictionary {
    match obj {
        Some(Object::Dictionary(d)) => d.clone(),
        Some(Object::Reference(id)) => {
            doc.get_object(*id).ok().and_then(|o| o.as_dict().ok().cloned()).unwrap_or_default()
        }
        _ => Dictionary::new(),
    }
}

fn previous_startxref(pdf: &[u8]) -> Result<usize, SealError> {
    let tail = &pdf[pdf.len().saturating_sub(1024)..];
    let text = String::from_utf8_lossy(tail);
    let pos = text.rfind("startxref").ok_or_else(|| SealError::Pdf("no startxref".into()))?;
    text[pos + 9..]
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| SealError::Pdf("bad startxref".into()))
}

/// Who signs and why.
pub struct SignRequest<'a> {
    pub key: &'a SealKey,
    pub cert: &'a Certificate,
    /// Field name, unique in the document, e.g. `seal-construction`.
    pub field: &'a str,
    pub signer_name: &'a str,
    pub reason: &'a str,
    /// Local signing time as a PDF date, e.g. `D:20261128120000+08'00'`.
    pub pdf_date: &'a str,
}

/// Returns `pdf` with one more signature appended.
pub fn sign_pdf(pdf: &[u8], req: &SignRequest) -> Result<Vec<u8>, SealError> {
    let doc = Document::load_mem(pdf).map_err(pdf_err)?;
    let root_id: ObjectId = doc.trailer.get(b"Root").and_then(Object::as_reference).map_err(pdf_err)?;
    let info = doc.trailer.get(b"Info").ok().cloned();
    let id_array = doc.trailer.get(b"ID").ok().cloned();
    let (_, page_id) = doc.get_pages().into_iter().next().ok_or_else(|| SealError::Pdf("no page".into()))?;
    let mut page = doc.get_object(page_id).and_then(Object::as_dict).map_err(pdf_err)?.clone();
    let mut catalog = doc.get_object(root_id).and_then(Object::as_dict).map_err(pdf_err)?.clone();

    let sig_id = doc.max_id + 1;
    let widget_id = doc.max_id + 2;
    // The widget joins whatever annotations the page already has (never a second /Annots key).
    let mut annots = resolve_array(&doc, page.get(b"Annots").ok());
    annots.push(Object::Reference((widget_id, 0)));
    page.set("Annots", Object::Array(annots));
    let mut acroform = resolve_dict(&doc, catalog.get(b"AcroForm").ok());
    let mut fields = resolve_array(&doc, acroform.get(b"Fields").ok());
    fields.push(Object::Reference((widget_id, 0)));
    acroform.set("Fields", Object::Array(fields));
    acroform.set("SigFlags", Object::Integer(3));
    catalog.set("AcroForm", Object::Dictionary(acroform));

    let mut widget = Dictionary::new();
    widget.set("Type", Object::Name(b"Annot".to_vec()));
    widget.set("Subtype", Object::Name(b"Widget".to_vec()));
    widget.set("FT", Object::Name(b"Sig".to_vec()));
    widget.set("T", utf16(req.field));
    widget.set("V", Object::Reference((sig_id, 0)));
    // Invisible widget: the seal itself is drawn in the page; the signature is its proof.
    widget.set("Rect", Object::Array(vec![0.into(), 0.into(), 0.into(), 0.into()]));
    widget.set("F", Object::Integer(132));
    widget.set("P", Object::Reference(page_id));

    let mut sig_text = String::from("<< /Type /Sig /Filter /Adobe.PPKLite /SubFilter /ETSI.CAdES.detached /ByteRange ");
    sig_text.push_str(BYTE_RANGE_PLACEHOLDER);
    sig_text.push_str(" /Contents <");
    sig_text.push_str(&"0".repeat(CONTENTS_BYTES * 2));
    sig_text.push_str("> /M ");
    write_object(&mut sig_text, &Object::String(req.pdf_date.as_bytes().to_vec(), StringFormat::Literal))?;
    sig_text.push_str(" /Name ");
    write_object(&mut sig_text, &utf16(req.signer_name))?;
    sig_text.push_str(" /Reason ");
    write_object(&mut sig_text, &utf16(req.reason))?;
    sig_text.push_str(" >>");

    let mut out = pdf.to_vec();
    if !out.ends_with(b"\n") {
        out.push(b'\n');
    }
    let mut entries: Vec<(u32, usize)> = Vec::new();
    let mut emit = |out: &mut Vec<u8>, id: u32, body: &str| {
        entries.push((id, out.len()));
        out.extend_from_slice(format!("{id} 0 obj\n{body}\nendobj\n").as_bytes());
    };
    emit(&mut out, sig_id, &sig_text);
    let mut s = String::new();
    write_dict(&mut s, &widget)?;
    emit(&mut out, widget_id, &s);
    let mut s = String::new();
    write_dict(&mut s, &page)?;
    emit(&mut out, page_id.0, &s);
    let mut s = String::new();
    write_dict(&mut s, &catalog)?;
    emit(&mut out, root_id.0, &s);

    entries.sort();
    let xref = out.len();
    let mut x = String::from("xref\n0 1\n0000000000 65535 f \n");
    for (id, offset) in &entries {
        let _ = write!(x, "{id} 1\n{offset:010} 00000 n \n");
    }
    let mut trailer = Dictionary::new();
    trailer.set("Size", Object::Integer(i64::from(widget_id) + 1));
    trailer.set("Root", Object::Reference(root_id));
    if let Some(info) = info {
        trailer.set("Info", info);
    }
    if let Some(id) = id_array {
        trailer.set("ID", id);
    }
    trailer.set("Prev", Object::Integer(i64::try_from(previous_startxref(pdf)?).map_err(pdf_err)?));
    x.push_str("trailer\n");
    write_dict(&mut x, &trailer)?;
    let _ = write!(x, "\nstartxref\n{xref}\n%%EOF\n");
    out.extend_from_slice(x.as_bytes());

    // Fill in the byte range around the /Contents hole, then the signature itself.
    let sig_start = entries.iter().find(|(id, _)| *id == sig_id).map(|(_, o)| *o).unwrap_or(0);
    let find =
        |needle: &[u8], from: usize| out[from..].windows(needle.len()).position(|w| w == needle).map(|p| p + from);
    let br_at = find(BYTE_RANGE_PLACEHOLDER.as_bytes(), sig_start)
        .ok_or_else(|| SealError::Pdf("byte range placeholder lost".into()))?;
    let hole_start = find(b"/Contents <", sig_start)
        .ok_or_else(|| SealError::Pdf("contents placeholder lost".into()))?
        + "/Contents ".len();
    let hole_end = hole_start + CONTENTS_BYTES * 2 + 2;
    let total = out.len();
    let range = format!("[0 {hole_start} {hole_end} {}]", total - hole_end);
    let padded = format!("{range:<width$}", width = BYTE_RANGE_PLACEHOLDER.len());
    out[br_at..br_at + padded.len()].copy_from_slice(padded.as_bytes());
    let mut hasher = Sha512::new();
    hasher.update(&out[..hole_start]);
    hasher.update(&out[hole_end..]);
    let cms = sign_detached(req.key, req.cert, &hasher.finalize())?;
    if cms.len() > CONTENTS_BYTES {
        return Err(SealError::Pdf("signature larger than its reserved space".into()));
    }
    let hex = hex::encode_upper(&cms);
    out[hole_start + 1..hole_start + 1 + hex.len()].copy_from_slice(hex.as_bytes());
    Ok(out)
}
