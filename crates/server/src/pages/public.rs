//! Pages anyone may open: the front page, the public permit page (the QR code on a permit points
//! here), tonight's sites in a district, and the verification of a permit PDF.

use super::session::PageSession;
use super::{Errors, Nav};
use crate::error::{ApiError, ApiResult};
use crate::routes::permits::{night_permits, public_permit_with_form, verify_bytes, PublicPermit, VerifyView};
use crate::state::AppState;
use crate::views::tonight;
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use nightpermit_domain::{Department, District};
use serde::Deserialize;

pub struct DistrictLink {
    pub id: &'static str,
    pub name: String,
}

fn districts(state: &AppState) -> Vec<DistrictLink> {
    District::ALL.iter().map(|d| DistrictLink { id: d.id(), name: state.settings.district(*d).name.clone() }).collect()
}

#[derive(Template, WebTemplate)]
#[template(path = "index.html")]
pub struct IndexPage {
    pub title: &'static str,
    pub nav: Nav,
    pub districts: Vec<DistrictLink>,
}

pub async fn index(State(state): State<AppState>, session: Option<PageSession>) -> IndexPage {
    IndexPage {
        title: "夜间施工许可 一件事一次办", nav: Nav::of(session.as_ref()), districts: districts(&state)
    }
}

/// The Chinese name of a permit status.
pub fn permit_status_label(status: &str) -> &'static str {
    match status {
        "valid" => "有效",
        "revoked" => "已撤销",
        "expired" => "已过期",
        _ => "未生效",
    }
}

pub struct EquipmentRow {
    pub name: String,
    pub count: u32,
    pub sound_level_db: u32,
}

#[derive(Template, WebTemplate)]
#[template(path = "permit.html")]
pub struct PermitPage {
    pub title: String,
    pub nav: Nav,
    pub p: PublicPermit,
    pub status_label: &'static str,
    pub process: &'static str,
    pub equipment: Vec<EquipmentRow>,
    pub tonight: String,
    /// Valid, and tonight is one of its nights.
    pub tonight_ok: bool,
}

pub async fn permit(
    State(state): State<AppState>,
    session: Option<PageSession>,
    Path(number): Path<String>,
) -> ApiResult<PermitPage> {
    let (p, _, form) = public_permit_with_form(&state, &number).await?;
    let night = tonight(state.clock.now_ms()).to_string();
    // The same test as the night list's store query: a valid permit whose nights include it.
    let tonight_ok = p.status == "valid"
        && p.nights.start_date.as_str() <= night.as_str()
        && night.as_str() <= p.nights.end_date.as_str();
    Ok(PermitPage {
        title: format!("夜间施工许可证 {}", p.number),
        nav: Nav::of(session.as_ref()),
        status_label: permit_status_label(&p.status),
        process: form.night_work.process.label(),
        equipment: form
            .equipment
            .into_iter()
            .map(|e| EquipmentRow { name: e.name, count: e.count, sound_level_db: e.sound_level_db })
            .collect(),
        tonight: night,
        tonight_ok,
        p,
    })
}

#[derive(Deserialize)]
pub struct NightQuery {
    night: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "night.html")]
pub struct NightPage {
    pub title: String,
    pub nav: Nav,
    pub district: String,
    pub district_name: String,
    pub night: String,
    pub is_tonight: bool,
    pub prev: String,
    pub next: String,
    pub permits: Vec<PublicPermit>,
    pub districts: Vec<DistrictLink>,
}

pub async fn night(
    State(state): State<AppState>,
    session: Option<PageSession>,
    Path(district): Path<String>,
    Query(q): Query<NightQuery>,
) -> ApiResult<NightPage> {
    // An empty date box (the form sent without a date) means tonight.
    let wanted = q.night.as_deref().map(str::trim).filter(|n| !n.is_empty());
    let list = night_permits(&state, &district, wanted).await?;
    let date = nightpermit_domain::parse_date(&list.night).map_err(ApiError::internal)?;
    let d: District = list.district.parse().map_err(ApiError::internal)?;
    Ok(NightPage {
        title: format!("{} {} 夜间施工", state.settings.district(d).name, list.night),
        nav: Nav::of(session.as_ref()),
        district_name: state.settings.district(d).name.clone(),
        is_tonight: date == tonight(state.clock.now_ms()),
        prev: date.pred_opt().map(|d| d.to_string()).unwrap_or_default(),
        next: date.succ_opt().map(|d| d.to_string()).unwrap_or_default(),
        district: list.district,
        night: list.night,
        permits: list.permits,
        districts: districts(&state),
    })
}

pub struct SignatureRow {
    pub signer: String,
    pub department: &'static str,
    pub signed_at: String,
    pub intact: bool,
    pub trusted: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "verify.html")]
pub struct VerifyPage {
    pub title: &'static str,
    pub nav: Nav,
    pub errors: Errors,
    pub verdict: Option<VerifyView>,
    pub signatures: Vec<SignatureRow>,
    pub permit_status: &'static str,
}

pub async fn verify_page(session: Option<PageSession>) -> VerifyPage {
    VerifyPage {
        title: "许可证验真",
        nav: Nav::of(session.as_ref()),
        errors: Errors::default(),
        verdict: None,
        signatures: Vec::new(),
        permit_status: "",
    }
}

/// Reads the uploaded `file` of the verify form, at most `limit` bytes.
async fn read_file(mut multipart: Multipart, limit: usize) -> Result<Option<axum::body::Bytes>, ApiError> {
    let too_large =
        || ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "BODY_TOO_LARGE", format!("文件超过大小上限（{limit}字节）"));
    let malformed = |_| ApiError::bad_request("MALFORMED_MULTIPART", "上传的表单无法读取，请重新选择文件");
    while let Some(mut field) = multipart.next_field().await.map_err(malformed)? {
        if field.name() != Some("file") {
            continue;
        }
        let mut buf = Vec::new();
        while let Some(chunk) = field.chunk().await.map_err(malformed)? {
            if buf.len() + chunk.len() > limit {
                return Err(too_large());
            }
            buf.extend_from_slice(&chunk);
        }
        return Ok(Some(buf.into()));
    }
    Ok(None)
}

/// The verdict on an uploaded permit PDF, from the same code as `POST /api/v1/verify`.
pub async fn verify(
    State(state): State<AppState>,
    session: Option<PageSession>,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Response {
    let nav = Nav::of(session.as_ref());
    let result = async {
        let bytes = read_file(multipart?, state.settings.limits.max_verify_bytes).await?;
        let bytes = bytes
            .filter(|b| !b.is_empty())
            .ok_or_else(|| ApiError::field("file", "REQUIRED", "请选择要验证的许可证 PDF 文件"))?;
        verify_bytes(&state, bytes).await
    }
    .await;
    match result {
        Ok(v) => {
            let signatures = v
                .signatures
                .iter()
                .map(|s| SignatureRow {
                    signer: s.signer.clone(),
                    department: s.department.parse::<Department>().map(|d| d.label()).unwrap_or("未知部门"),
                    signed_at: s.signed_at.clone().unwrap_or_default(),
                    intact: s.intact,
                    trusted: s.trusted && s.signature_valid,
                })
                .collect();
            let permit_status = v.permit_status.as_deref().map(permit_status_label).unwrap_or("本系统无此许可证");
            VerifyPage {
                title: "验真结果",
                nav,
                errors: Errors::default(),
                verdict: Some(v),
                signatures,
                permit_status,
            }
            .into_response()
        }
        Err(e) if e.status.is_client_error() => {
            let file = super::Field::new("file", "许可证 PDF 文件", "file");
            let status = e.status;
            let page = VerifyPage {
                title: "许可证验真",
                nav,
                errors: Errors::from_api(&e, &[&file]),
                verdict: None,
                signatures: Vec::new(),
                permit_status: "",
            };
            (status, page).into_response()
        }
        Err(e) => e.into_response(),
    }
}
