//! The page images of a case's materials, as the pre-review read them: decoded with the
//! pre-review's own decoder under the same limits, then scaled and turned upright by the same
//! functions ([`nightpermit_prereview::pages::page_as_read`]), so a finding's region — pixels
//! of the page as read — lines up with the picture. Shown to whoever may see the case.

use super::session::PageSession;
use crate::error::{ApiError, ApiResult};
use crate::routes::applications::visible_application;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use nightpermit_prereview::pages::{self, FileBudget};
use std::sync::{Arc, Mutex, OnceLock};

/// Widest image sent to the browser; the boxes are drawn in the page's own coordinates, so the
/// picture may be smaller than the page as read.
const SHOWN_WIDTH: u32 = 1100;
/// Files whose rendered pages are kept in memory (a case page and its images come together).
const CACHED_FILES: usize = 24;

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

/// `GET /applications/{id}/materials/{material_id}/pages/{page}`: one page image (JPEG), for
/// the firm that owns the case and the staff who may see it.
pub async fn page_image(
    State(state): State<AppState>,
    session: PageSession,
    Path((id, material_id, page)): Path<(String, String, u32)>,
) -> ApiResult<Response> {
    let app = visible_application(&state, session.caller(), &id).await?;
    let materials = state.store.materials(&app.id).await?;
    let m = materials.iter().find(|m| m.id == material_id).ok_or_else(|| ApiError::not_found("材料"))?;
    let shown = pages_of(&state, &m.sha256, &m.content_type).await?;
    let p = page.checked_sub(1).and_then(|i| shown.get(i as usize)).ok_or_else(|| ApiError::not_found("页面"))?;
    let mut res = (StatusCode::OK, p.jpeg.clone()).into_response();
    res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("image/jpeg"));
    Ok(res)
}
