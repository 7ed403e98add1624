//! What an uploaded file really is: its type from its first bytes (the client's word is never
//! trusted) and, for images, its declared size, so decompression bombs are refused before any
//! pixel is decoded.

use crate::error::ApiError;
use axum::http::StatusCode;
use nightpermit_cases::config::LimitSettings;
use std::io::Cursor;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileType {
    Png,
    Jpeg,
    Tiff,
    Pdf,
}

impl FileType {
    pub fn content_type(self) -> &'static str {
        match self {
            FileType::Png => "image/png",
            FileType::Jpeg => "image/jpeg",
            FileType::Tiff => "image/tiff",
            FileType::Pdf => "application/pdf",
        }
    }
}

pub fn sniff(bytes: &[u8]) -> Option<FileType> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(FileType::Png)
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(FileType::Jpeg)
    } else if bytes.starts_with(b"II*\0") || bytes.starts_with(b"MM\0*") {
        Some(FileType::Tiff)
    } else if bytes[..bytes.len().min(1024)].windows(5).any(|w| w == b"%PDF-") {
        // The PDF header may follow a little junk; readers look in the first 1024 bytes.
        Some(FileType::Pdf)
    } else {
        None
    }
}

/// Checks a file before it is stored. A damaged image whose header cannot be read is accepted
/// here: the pre-review reports it to the applicant as UNREADABLE_FILE with the material named.
pub fn check_upload(bytes: &[u8], limits: &LimitSettings) -> Result<FileType, ApiError> {
    if bytes.is_empty() {
        return Err(ApiError::field("file", "EMPTY_FILE", "上传的文件为空"));
    }
    if bytes.len() > limits.max_upload_bytes {
        return Err(too_large(limits.max_upload_bytes));
    }
    let kind = sniff(bytes).ok_or_else(|| {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UNSUPPORTED_MEDIA_TYPE",
            "文件类型不支持：仅接受 PNG、JPEG、TIFF 图片或 PDF（按文件内容识别，与文件名无关）",
        )
    })?;
    if kind != FileType::Pdf {
        let dims = image::ImageReader::new(Cursor::new(bytes))
            .with_guessed_format()
            .ok()
            .and_then(|r| r.into_dimensions().ok());
        if let Some((w, h)) = dims {
            if w > limits.max_image_side
                || h > limits.max_image_side
                || u64::from(w) * u64::from(h) > limits.max_image_pixels
            {
                return Err(ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "IMAGE_TOO_LARGE",
                    format!(
                        "图片尺寸 {w}×{h} 像素超出上限（单边不超过{}像素，总计不超过{}万像素），请以200–300 dpi扫描后上传",
                        limits.max_image_side,
                        limits.max_image_pixels / 10_000
                    ),
                ));
            }
        }
    }
    Ok(kind)
}

pub fn too_large(limit: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "FILE_TOO_LARGE",
        format!("文件超过大小上限 {} MiB，请压缩或分页后上传", limit / (1024 * 1024)),
    )
}

/// Characters that reorder or hide text when shown: bidi overrides and isolates, marks, zero
/// widths (`invoice\u{202e}gnp.exe` displays as `invoiceexe.png`).
fn hides_text(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

/// Keeps the last path component of a client-supplied file name, without control characters
/// and without characters that change how the name displays.
pub fn clean_filename(name: Option<&str>) -> String {
    let base = name.unwrap_or("").rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = base.chars().filter(|c| !c.is_control() && !hides_text(*c)).take(200).collect();
    let cleaned = cleaned.trim();
    if cleaned.is_empty() || cleaned == "." || cleaned == ".." {
        "upload".into()
    } else {
        cleaned.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> LimitSettings {
        LimitSettings {
            max_upload_bytes: 1024 * 1024,
            max_json_bytes: 1024,
            max_verify_bytes: 1024,
            max_image_pixels: 10_000,
            max_image_side: 1000,
            max_page_pixels: 1_000_000,
            max_application_pixels: 10_000_000,
            prereview_file_secs: 5,
            prereview_case_secs: 10,
            renderer_memory_mib: 512,
            max_materials_per_application: 40,
            page_size_max: 100,
        }
    }

    fn png(w: u32, h: u32) -> Vec<u8> {
        let img = image::GrayImage::new(w, h);
        let mut out = Vec::new();
        image::DynamicImage::ImageLuma8(img)
            .write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
            .expect("encode");
        out
    }

    #[test]
    fn sniffs_by_content() {
        assert_eq!(sniff(&png(2, 2)), Some(FileType::Png));
        assert_eq!(sniff(b"\xFF\xD8\xFF\xE0rest"), Some(FileType::Jpeg));
        assert_eq!(sniff(b"II*\0...."), Some(FileType::Tiff));
        assert_eq!(sniff(b"%PDF-1.7\n"), Some(FileType::Pdf));
        assert_eq!(sniff(b"hello, I am text pretending to be a png"), None);
        assert_eq!(sniff(b"GIF89a"), None);
    }

    #[test]
    fn refuses_oversized_dimensions_before_decoding() {
        assert!(check_upload(&png(100, 100), &limits()).is_ok());
        let err = check_upload(&png(101, 100), &limits()).expect_err("too many pixels");
        assert_eq!(err.code, "IMAGE_TOO_LARGE");
        let err = check_upload(b"plain text", &limits()).expect_err("not an image");
        assert_eq!(err.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    }

    #[test]
    fn truncated_image_is_accepted_for_pre_review() {
        let bytes = png(50, 50);
        assert!(check_upload(&bytes[..bytes.len() / 2], &limits()).is_ok());
    }

    #[test]
    fn filenames_are_cleaned() {
        assert_eq!(clean_filename(Some("../../etc/passwd")), "passwd");
        assert_eq!(clean_filename(Some("invoice\u{202e}gnp.exe")), "invoicegnp.exe");
        assert_eq!(clean_filename(Some("a\u{2066}b\u{200f}c\u{feff}.png")), "abc.png");
        assert_eq!(clean_filename(Some("C:\\scans\\营业执照.png")), "营业执照.png");
        assert_eq!(clean_filename(Some("a\nb.png")), "ab.png");
        assert_eq!(clean_filename(None), "upload");
    }
}

#[cfg(test)]
mod fuzz {
    //! A fixed-budget fuzz loop over the upload sniffer and its checks, run in `make test`:
    //! random bytes and real headers cut or corrupted are refused or accepted, never a panic.
    use super::*;
    use proptest::prelude::*;

    fn limits() -> LimitSettings {
        nightpermit_cases::config::Settings::load(None).map(|s| s.limits).unwrap_or_else(|e| panic!("defaults: {e}"))
    }

    const HEADERS: [&[u8]; 5] =
        [b"\\x89PNG\\r\\n\\x1a\\n", &[0xFF, 0xD8, 0xFF, 0xE0], b"II*\\0", b"MM\\0*", b"%PDF-1.7\\n"];

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        #[test]
        fn any_bytes_get_an_answer(header in 0usize..6, body in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let mut bytes = HEADERS.get(header).map(|h| h.to_vec()).unwrap_or_default();
            bytes.extend(body);
            let _ = sniff(&bytes);
            let _ = check_upload(&bytes, &limits());
        }
    }
}
