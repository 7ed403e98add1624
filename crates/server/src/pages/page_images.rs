//! The page images of a case's materials, as the pre-review read them: decoded with the
//! pre-review's own decoder under the same limits, then scaled and turned upright by the same
//! functions ([`nightpermit_prereview::pages::page_as_read`]), so a finding's region — pixels
//! of the page as read — lines up with the picture. Shown to whoever may see the case.

use super::session::PageSession;
use crate::error::{ApiError, ApiResult};
use crate::routes::applications::visible_application;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use nightpermit_prereview::pages::{self, FileBudget};
use std::sync::{Arc, Mutex, OnceLock};

/// Widest image sent to the browser; the boxes are drawn in the page's own coordinates, so the
/// picture may be smaller than the page as read.
const SHOWN_WIDTH: u32 = 1100;
/// Files whose rendered pages are kept in memory (a case page and its images come together).
const CACHED_FILES: usize = 24;
/// Width of a material's thumbnail (shown at half that on the page, sharp on phones).
const THUMB_WIDTH: u32 = 160;
/// Thumbnails kept in memory: a few KB each, many more than the case pages' full renders.
const CACHED_THUMBS: usize = 256;
/// How long a browser may keep an image without asking again. A material's images never change
/// (a replaced file is a new material), so only access, checked on every request, could.
const IMAGE_MAX_AGE: &str = "private, max-age=86400";

/// One page as shown: the size of the page as read (the regions' coordinate space) and a JPEG.
pub struct ShownPage {
    pub width: u32,
    pub height: u32,
    pub jpeg: Vec<u8>,
}

type Cache = Mutex<Vec<(String, Arc<Vec<ShownPage>>)>>;

fn cache() -> &'static Cache {
    static CACHE: OnceLock<Cache> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(Vec::new()))
}

/// Every page of one material as shown (rendered once per file content, then kept a while).
pub async fn pages_of(state: &AppState, sha256: &str, content_type: &str) -> ApiResult<Arc<Vec<ShownPage>>> {
    if let Ok(c) = cache().lock() {
        if let Some((_, hit)) = c.iter().find(|(sha, _)| sha == sha256) {
            return Ok(hit.clone());
        }
    }
    let bytes = state.blobs.get(sha256).await.map_err(ApiError::internal)?;
    let content_type = content_type.to_string();
    let limits = state.settings.limits.prereview();
    let rendered = tokio::task::spawn_blocking(move || {
        let mut budget = FileBudget {
            max_page_pixels: limits.max_page_pixels,
            pixels_left: limits.max_application_pixels,
            deadline: std::time::Instant::now() + limits.file_budget,
            renderer_memory_bytes: limits.renderer_memory_bytes,
        };
        let decoded = pages::decode(&bytes, &content_type, &mut budget)?;
        decoded.iter().map(|p| shown(&p.image)).collect::<Result<Vec<_>, pages::ReadError>>()
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "UNREADABLE_FILE", format!("无法显示该文件：{e}")))?;
    let rendered = Arc::new(rendered);
    if let Ok(mut c) = cache().lock() {
        if c.len() >= CACHED_FILES {
            c.remove(0);
        }
        c.push((sha256.to_string(), rendered.clone()));
    }
    Ok(rendered)
}

fn shown(rgb: &image::RgbImage) -> Result<ShownPage, pages::ReadError> {
    let page = pages::page_as_read(rgb);
    let (width, height) = page.dimensions();
    let small = if width > SHOWN_WIDTH {
        let h = (u64::from(height) * u64::from(SHOWN_WIDTH) / u64::from(width)).max(1) as u32;
        image::imageops::resize(&page, SHOWN_WIDTH, h, image::imageops::FilterType::Triangle)
    } else {
        page
    };
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 80)
        .encode_image(&small)
        .map_err(|e| pages::ReadError::Unreadable(e.to_string()))?;
    Ok(ShownPage { width, height, jpeg })
}

/// The address of one page image.
pub fn page_url(application_id: &str, material_id: &str, page: u32) -> String {
    format!("/applications/{application_id}/materials/{material_id}/pages/{page}")
}

/// The address of a material's thumbnail.
pub fn thumbnail_url(application_id: &str, material_id: &str) -> String {
    format!("/applications/{application_id}/materials/{material_id}/thumbnail")
}

type ThumbCache = Mutex<Vec<(String, Arc<Vec<u8>>)>>;

fn thumbs() -> &'static ThumbCache {
    static THUMBS: OnceLock<ThumbCache> = OnceLock::new();
    THUMBS.get_or_init(|| Mutex::new(Vec::new()))
}

/// A small PNG of the first page as shown, made from the same render as the page images.
pub async fn thumbnail_of(state: &AppState, sha256: &str, content_type: &str) -> ApiResult<Arc<Vec<u8>>> {
    if let Ok(c) = thumbs().lock() {
        if let Some((_, hit)) = c.iter().find(|(sha, _)| sha == sha256) {
            return Ok(hit.clone());
        }
    }
    let shown = pages_of(state, sha256, content_type).await?;
    let first = shown.first().ok_or_else(|| ApiError::not_found("页面"))?;
    let jpeg = first.jpeg.clone();
    let png = tokio::task::spawn_blocking(move || -> Result<Vec<u8>, image::ImageError> {
        let page = image::load_from_memory_with_format(&jpeg, image::ImageFormat::Jpeg)?.to_rgb8();
        let (w, h) = page.dimensions();
        let th = (u64::from(h) * u64::from(THUMB_WIDTH) / u64::from(w.max(1))).clamp(1, 4 * u64::from(THUMB_WIDTH));
        let small = image::imageops::thumbnail(&page, THUMB_WIDTH.min(w), th as u32);
        let mut out = Vec::new();
        small.write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)?;
        Ok(out)
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "UNREADABLE_FILE", format!("无法显示该文件：{e}")))?;
    let png = Arc::new(png);
    if let Ok(mut c) = thumbs().lock() {
        if c.len() >= CACHED_THUMBS {
            c.remove(0);
        }
        c.push((sha256.to_string(), png.clone()));
    }
    Ok(png)
}

/// An image of a material: the browser may keep it (privately), and asks again with its
/// `ETag`, answered `304` without the bytes. Access has been checked before this is called.
fn image_response(headers: &HeaderMap, etag: String, content_type: &'static str, bytes: &[u8]) -> Response {
    let tag = HeaderValue::from_str(&etag).ok();
    let fresh = already_has(headers, &etag);
    let mut res =
        if fresh { StatusCode::NOT_MODIFIED.into_response() } else { (StatusCode::OK, bytes.to_vec()).into_response() };
    let h = res.headers_mut();
    if !fresh {
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(IMAGE_MAX_AGE));
    if let Some(tag) = tag {
        h.insert(header::ETAG, tag);
    }
    res
}

/// Whether the browser says it holds the image tagged `etag` (`If-None-Match`).
fn already_has(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|sent| sent.split(',').any(|t| t.trim() == etag))
}

/// The material `material_id` of case `id`, if whoever asks may see the case.
async fn visible_material(
    state: &AppState,
    session: &PageSession,
    id: &str,
    material_id: &str,
) -> ApiResult<nightpermit_store::MaterialRecord> {
    let app = visible_application(state, session.caller(), id).await?;
    let materials = state.store.materials(&app.id).await?;
    materials.into_iter().find(|m| m.id == material_id).ok_or_else(|| ApiError::not_found("材料"))
}

/// `GET /applications/{id}/materials/{material_id}/pages/{page}`: one page image (JPEG), for
/// the firm that owns the case and the staff who may see it.
pub async fn page_image(
    State(state): State<AppState>,
    session: PageSession,
    headers: HeaderMap,
    Path((id, material_id, page)): Path<(String, String, u32)>,
) -> ApiResult<Response> {
    let m = visible_material(&state, &session, &id, &material_id).await?;
    // The file's content hash names its render: the same bytes always give the same image.
    let etag = format!("\"p{SHOWN_WIDTH}-{}-{page}\"", m.sha256);
    if already_has(&headers, &etag) {
        return Ok(image_response(&headers, etag, "image/jpeg", &[]));
    }
    let shown = pages_of(&state, &m.sha256, &m.content_type).await?;
    let p = page.checked_sub(1).and_then(|i| shown.get(i as usize)).ok_or_else(|| ApiError::not_found("页面"))?;
    Ok(image_response(&headers, etag, "image/jpeg", &p.jpeg))
}

/// `GET /applications/{id}/materials/{material_id}/thumbnail`: the first page as a small PNG,
/// for the same people as the page images.
pub async fn thumbnail(
    State(state): State<AppState>,
    session: PageSession,
    headers: HeaderMap,
    Path((id, material_id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let m = visible_material(&state, &session, &id, &material_id).await?;
    let etag = format!("\"t{THUMB_WIDTH}-{}\"", m.sha256);
    // A browser that already has it is answered without rendering anything.
    if already_has(&headers, &etag) {
        return Ok(image_response(&headers, etag, "image/png", &[]));
    }
    let png = thumbnail_of(&state, &m.sha256, &m.content_type).await?;
    Ok(image_response(&headers, etag, "image/png", &png))
}
