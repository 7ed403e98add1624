//! Public permits: anyone (a resident, an auditor) can look a permit up, download its sealed
//! PDF, and have a PDF verified; the certificates are published for offline checks.

use crate::auth::Caller;
use crate::error::{ApiError, ApiJson, ApiResult, Problem};
use crate::state::AppState;
use crate::views::{rfc3339, tonight};
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use nightpermit_cases::form::ApplicationForm;
use nightpermit_domain::Role;
use nightpermit_store::{PermitCase, PermitRecord};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PermitNights {
    pub start_date: String,
    pub end_date: String,
    pub nightly_start: String,
    pub nightly_end: String,
    pub count: i64,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PublicPermit {
    pub number: String,
    /// valid, revoked or expired.
    pub status: String,
    pub district: String,
    pub district_name: String,
    pub project_name: String,
    pub project_address: String,
    pub firm_name: String,
    pub nights: PermitNights,
    pub issued_at: Option<String>,
    pub revoked_at: Option<String>,
    pub revoke_reason: Option<String>,
    pub pdf_url: String,
    /// Double-random inspections of this permit with a recorded result (一公开).
    pub inspections: Vec<crate::routes::inspections::PublicInspection>,
}

use nightpermit_cases::permits::permit_status;

async fn public_permit(state: &AppState, number: &str) -> ApiResult<(PublicPermit, PermitRecord)> {
    public_permit_with_form(state, number).await.map(|(view, p, _)| (view, p))
}

/// A permit's public record, its stored row and the form it was granted on (the public page
/// also shows the equipment).
pub async fn public_permit_with_form(
    state: &AppState,
    number: &str,
) -> ApiResult<(PublicPermit, PermitRecord, ApplicationForm)> {
    let case = state.store.permit_case(number).await?.ok_or_else(|| ApiError::not_found("许可证"))?;
    public_view(state, case)
}

/// The public record of a permit already loaded with its case: no further queries.
fn public_view(state: &AppState, case: PermitCase) -> ApiResult<(PublicPermit, PermitRecord, ApplicationForm)> {
    let PermitCase { permit: p, application: app, firm_name, inspections } = case;
    let form = nightpermit_cases::form::stored(&app)?;
    let view = PublicPermit {
        number: p.number.clone(),
        status: permit_status(&p, &form, state.clock.now_ms()),
        district: form.district.id().into(),
        district_name: state.settings.district(form.district).name.clone(),
        project_name: form.project.name.clone(),
        project_address: form.project.address.clone(),
        firm_name,
        nights: PermitNights {
            count: form.window().map(|w| w.nights()).unwrap_or(0),
            start_date: form.night_work.start_date.clone(),
            end_date: form.night_work.end_date.clone(),
            nightly_start: form.night_work.nightly_start.clone(),
            nightly_end: form.night_work.nightly_end.clone(),
        },
        issued_at: p.issued_at.map(rfc3339),
        revoked_at: p.revoked_at.map(rfc3339),
        revoke_reason: p.revoke_reason.clone(),
        pdf_url: format!("/api/v1/permits/{}/pdf", p.number),
        inspections: crate::routes::inspections::public_inspections(&inspections),
    };
    Ok((view, p, form))
}

/// A permit's public record: who may work at night where, when, and whether it still holds.
#[utoipa::path(get, path = "/api/v1/permits/{number}", tag = "permits",
    params(("number" = String, Path, description = "permit number, e.g. jingan-2026-00001")),
    responses((status = 200, body = PublicPermit), (status = 404, body = Problem)))]
pub async fn get_permit(State(state): State<AppState>, Path(number): Path<String>) -> ApiResult<Json<PublicPermit>> {
    Ok(Json(public_permit(&state, &number).await?.0))
}

/// The sealed permit PDF.
#[utoipa::path(get, path = "/api/v1/permits/{number}/pdf", tag = "permits",
    params(("number" = String, Path, description = "permit number")),
    responses((status = 200, description = "the sealed PDF", content_type = "application/pdf"), (status = 404, body = Problem)))]
pub async fn get_permit_pdf(State(state): State<AppState>, Path(number): Path<String>) -> ApiResult<impl IntoResponse> {
    let (_, p) = public_permit(&state, &number).await?;
    let sha = p.pdf_sha256.ok_or_else(|| ApiError::not_found("许可证文件"))?;
    let bytes = state.blobs.get(&sha).await.map_err(ApiError::internal)?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/pdf".to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{number}.pdf\"")),
        ],
        bytes,
    ))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SignatureView {
    pub signer: String,
    pub department: String,
    pub district: String,
    pub signed_at: Option<String>,
    /// The signed bytes are unchanged.
    pub intact: bool,
    /// The Ed25519 signature verifies and is bound to its certificate.
    pub signature_valid: bool,
    /// The certificate chains to the service's root.
    pub trusted: bool,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct VerifyView {
    /// Signatures intact, valid and trusted, nothing appended, and the permit currently valid.
    pub valid: bool,
    pub signatures: Vec<SignatureView>,
    pub permit_number: Option<String>,
    /// valid, revoked or expired — the online answer; null if the number is unknown here.
    pub permit_status: Option<String>,
    /// Chinese descriptions of each problem found.
    pub problems: Vec<String>,
    /// The stable code of each problem, in the same order (e.g. `BYTE_RANGE_INVALID`,
    /// `TOO_MANY_SIGNATURES`, `PDF_UNPARSEABLE`, `PERMIT_REVOKED`).
    pub problem_codes: Vec<String>,
}

/// Verifies a permit PDF: its seals, and the permit's current status.
#[utoipa::path(post, path = "/api/v1/verify", tag = "permits",
    request_body(content = Vec<u8>, content_type = "application/pdf", description = "the permit PDF"),
    responses((status = 200, body = VerifyView), (status = 415, body = Problem), (status = 413, body = Problem)))]
pub async fn verify(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> ApiResult<Json<VerifyView>> {
    let body = crate::error::read_body(body, state.settings.limits.max_verify_bytes).await?;
    let is_pdf = crate::upload::sniff(&body) == Some(crate::upload::FileType::Pdf);
    let declared = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if !is_pdf
        || !(declared.is_empty()
            || declared.starts_with("application/pdf")
            || declared.starts_with("application/octet-stream"))
    {
        return Err(not_a_pdf());
    }
    Ok(Json(verify_bytes(&state, body).await?))
}

fn not_a_pdf() -> ApiError {
    ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "UNSUPPORTED_MEDIA_TYPE",
        "请以 application/pdf 上传许可证 PDF 文件",
    )
}

/// The verdict on a permit PDF, shared by `POST /api/v1/verify` and the verify page: the seals
/// (on a blocking thread, parsing is bounded in the seal crate) and the permit's current status.
pub async fn verify_bytes(state: &AppState, body: axum::body::Bytes) -> ApiResult<VerifyView> {
    if crate::upload::sniff(&body) != Some(crate::upload::FileType::Pdf) {
        return Err(not_a_pdf());
    }
    let root = state.keys.root().map_err(ApiError::internal)?;
    let report = tokio::task::spawn_blocking(move || nightpermit_seal::verify_pdf(&body, &[root]))
        .await
        .map_err(ApiError::internal)?;
    let mut problems: Vec<(String, String)> =
        report.problems.iter().map(|p| (p.code.to_string(), p.message.clone())).collect();
    let permit_status = match &report.permit_number {
        Some(n) => match public_permit(state, n).await {
            Ok((p, _)) => Some(p.status),
            Err(_) => {
                problems.push(("PERMIT_UNKNOWN".into(), format!("许可证编号 {n} 在本系统中不存在")));
                None
            }
        },
        None => None,
    };
    match permit_status.as_deref() {
        Some("revoked") => problems.push(("PERMIT_REVOKED".into(), "该许可证已被撤销".into())),
        Some("expired") => problems.push(("PERMIT_EXPIRED".into(), "该许可证的夜间施工期限已过".into())),
        _ => {}
    }
    let (problem_codes, problems) = problems.into_iter().unzip();
    Ok(VerifyView {
        valid: report.valid && permit_status.as_deref() == Some("valid"),
        signatures: report
            .signatures
            .into_iter()
            .map(|s| SignatureView {
                signer: s.signer,
                department: s.department,
                district: s.district,
                signed_at: s.signed_at,
                intact: s.intact,
                signature_valid: s.signature_valid,
                trusted: s.trusted,
            })
            .collect(),
        permit_number: report.permit_number,
        permit_status,
        problems,
        problem_codes,
    })
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CertificateView {
    /// root or authority.
    pub role: String,
    pub subject: String,
    pub serial: String,
    pub not_before: String,
    pub not_after: String,
    pub pem: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CertificateList {
    pub certificates: Vec<CertificateView>,
}

/// The published certificates (root first, then every authority certificate ever issued), for
/// verifying permits offline: `nightpermit verify FILE --certs DIR` or any PDF validator.
#[utoipa::path(get, path = "/api/v1/seal/certificates", tag = "permits", responses((status = 200, body = CertificateList)))]
pub async fn certificates(State(state): State<AppState>) -> ApiResult<Json<CertificateList>> {
    let certs = state.keys.published().map_err(ApiError::internal)?;
    let mut out = Vec::new();
    for c in certs {
        let tbs = &c.tbs_certificate;
        out.push(CertificateView {
            role: if tbs.issuer == tbs.subject { "root".into() } else { "authority".into() },
            subject: tbs.subject.to_string(),
            serial: hex::encode(tbs.serial_number.as_bytes()),
            not_before: tbs.validity.not_before.to_string(),
            not_after: tbs.validity.not_after.to_string(),
            pem: nightpermit_seal::keys::to_pem(&c).map_err(ApiError::internal)?,
        });
    }
    Ok(Json(CertificateList { certificates: out }))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RevokeBody {
    pub reason: String,
}

/// Revokes a permit (admin).
#[utoipa::path(post, path = "/api/v1/permits/{number}/revoke", tag = "permits", security(("bearer" = [])),
    params(("number" = String, Path, description = "permit number")), request_body = RevokeBody,
    responses((status = 200, body = PublicPermit), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    Path(number): Path<String>,
    ApiJson(body): ApiJson<RevokeBody>,
) -> ApiResult<Json<PublicPermit>> {
    if caller.role() != Role::Admin {
        return Err(ApiError::forbidden("只有管理员可以撤销许可证"));
    }
    state.revoke_permit(&number, &body.reason, &caller.actor()).await?;
    Ok(Json(public_permit(&state, &number).await?.0))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct NightQuery {
    /// District id, e.g. jingan.
    district: String,
    /// The date the night begins (YYYY-MM-DD); default tonight in Shanghai (before 06:00 that is
    /// the night that began yesterday).
    night: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct NightPermits {
    pub district: String,
    pub night: String,
    pub permits: Vec<PublicPermit>,
}

/// For residents: which sites in a district may work on a given night, and when.
#[utoipa::path(get, path = "/api/v1/permits", tag = "permits", params(NightQuery),
    responses((status = 200, body = NightPermits), (status = 422, body = Problem)))]
pub async fn permits_for_night(
    State(state): State<AppState>,
    crate::error::ApiQuery(q): crate::error::ApiQuery<NightQuery>,
) -> ApiResult<Json<NightPermits>> {
    Ok(Json(night_permits(&state, &q.district, q.night.as_deref()).await?))
}

/// The permits in force in `district` on `night` (default tonight), shared by the API and the
/// residents' night page.
pub async fn night_permits(state: &AppState, district: &str, night: Option<&str>) -> ApiResult<NightPermits> {
    let district: nightpermit_domain::District = district
        .parse()
        .map_err(|_| ApiError::field("district", "UNKNOWN_DISTRICT", format!("未知的区：{district}")))?;
    let night = match night {
        Some(d) => {
            nightpermit_domain::parse_date(d).map_err(|e| ApiError::field("night", "INVALID_DATE", e.to_string()))?
        }
        None => tonight(state.clock.now_ms()),
    };
    let mut permits = Vec::new();
    for case in state.store.permit_cases_for_night(district.id(), &night.to_string()).await? {
        permits.push(public_view(state, case)?.0);
    }
    Ok(NightPermits { district: district.id().into(), night: night.to_string(), permits })
}
