//! The printable A4 site notice (夜间施工公示) of a permit, drawn by the seal crate with
//! printpdf (same CJK font subset and QR code as the permit). Public, like the permit page it
//! points to: what it shows is what the site must post at its gate anyway.

use crate::error::{ApiError, ApiResult};
use crate::routes::permits::public_permit_with_form;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use nightpermit_seal::{render_site_notice, SiteNotice};

/// `GET /p/{number}/notice.pdf`.
pub async fn site_notice(State(state): State<AppState>, Path(number): Path<String>) -> ApiResult<Response> {
    let (p, _, form) = public_permit_with_form(&state, &number).await?;
    if p.status == "revoked" {
        return Err(ApiError::new(StatusCode::CONFLICT, "PERMIT_REVOKED", "许可证已被撤销，不能再公示"));
    }
    let base = state.settings.server.public_base_url.trim_end_matches('/');
    let district = state.settings.district(form.district);
    let notice = SiteNotice {
        public_url: format!("{base}/p/{}", p.number),
        complaint_url: format!("{base}/complaints/new?permit={}", p.number),
        number: p.number,
        district_name: p.district_name,
        project_name: p.project_name,
        address: p.project_address,
        firm_name: p.firm_name,
        start_date: p.nights.start_date,
        end_date: p.nights.end_date,
        nights: p.nights.count,
        nightly_start: p.nights.nightly_start,
        nightly_end: p.nights.nightly_end,
        process: form.night_work.process.label().into(),
        measures: form.measures,
        contact_name: form.contact.name,
        contact_phone: form.contact.phone,
        authorities: [district.construction_authority.clone(), district.environment_authority.clone()],
    };
    let filename = format!("site-notice-{}.pdf", notice.number);
    let pdf = tokio::task::spawn_blocking(move || render_site_notice(&notice))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;
    let mut res = (StatusCode::OK, pdf).into_response();
    res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/pdf"));
    if let Ok(v) = HeaderValue::from_str(&format!("inline; filename=\"{filename}\"")) {
        res.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(res)
}
