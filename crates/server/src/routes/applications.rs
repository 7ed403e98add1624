//! The one-form application: create, edit, read, list, upload materials, submit.

use crate::auth::Caller;
use crate::error::{ApiError, ApiJson, ApiQuery, ApiResult, Problem};
use crate::state::AppState;
use crate::upload::{check_upload, clean_filename, too_large};
use crate::views::*;
use axum::extract::{Multipart, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use nightpermit_cases::applications::Dispute;
use nightpermit_cases::form::{merge_patch, validate_form, ApplicationForm};
use nightpermit_domain::{ApplicationStatus, MaterialKind};
use nightpermit_store::{ApplicationRecord, ApplicationScope, CaseFile, FormUpdate, MaterialRecord, StoreError};
use serde::Deserialize;
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

/// Whether the caller may see an application: its own firm, or staff of its district (or of
/// every district).
fn may_see(caller: &Caller, app: &ApplicationRecord) -> bool {
    match caller {
        Caller::Firm(f) => app.firm_id == f.id,
        Caller::Staff(_) => caller.district().is_none_or(|d| d.id() == app.district),
    }
}

/// Loads an application the caller may see. Anything else is 404, so ids of other firms'
/// applications are not even confirmed to exist.
pub async fn visible_application(state: &AppState, caller: &Caller, id: &str) -> ApiResult<ApplicationRecord> {
    let app = state.store.application(id).await?.filter(|a| may_see(caller, a));
    app.ok_or_else(|| ApiError::not_found("申请"))
}

/// Loads the whole case file of an application the caller may see (one query), 404 otherwise.
pub async fn visible_case(state: &AppState, caller: &Caller, id: &str) -> ApiResult<CaseFile> {
    let case = state.store.case_file(id).await?.filter(|c| may_see(caller, &c.application));
    case.ok_or_else(|| ApiError::not_found("申请"))
}

/// The view of an application as it is now, after a change the caller made to it.
async fn current_view(state: &AppState, caller: &Caller, id: &str) -> ApiResult<ApplicationView> {
    application_view(state, visible_case(state, caller, id).await?)
}

/// Loads an application the calling firm owns, for changes.
async fn owned_application(state: &AppState, caller: &Caller, id: &str) -> ApiResult<ApplicationRecord> {
    caller.firm()?;
    visible_application(state, caller, id).await
}

fn stored_form(app: &ApplicationRecord) -> ApiResult<ApplicationForm> {
    serde_json::from_str(&app.form)
        .map_err(|e| ApiError::internal(anyhow::anyhow!("application {} has an unreadable form: {e}", app.id)))
}

fn form_record_fields(form: &ApplicationForm) -> ApiResult<String> {
    serde_json::to_string(form).map_err(ApiError::internal)
}

fn round_view(r: nightpermit_store::PrereviewRoundRecord) -> PrereviewView {
    PrereviewView {
        round: r.round,
        state: r.state,
        submitted_at: rfc3339(r.submitted_at),
        finished_at: r.finished_at.map(rfc3339),
        outcome: r.outcome,
        findings: r.findings.and_then(|f| serde_json::from_str(&f).ok()).unwrap_or_default(),
        progress: Progress { materials_done: r.materials_done, materials_total: r.materials_total },
    }
}

/// Every pre-review round of an application, oldest first (earlier rounds are kept).
#[utoipa::path(get, path = "/api/v1/applications/{id}/prereview", tag = "applications", security(("bearer" = [])),
    params(("id" = String, Path, description = "application id")),
    responses((status = 200, body = Vec<PrereviewView>), (status = 404, body = Problem)))]
pub async fn list_rounds(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<PrereviewView>>> {
    let app = visible_application(&state, &caller, &id).await?;
    Ok(Json(state.store.prereview_rounds(&app.id).await?.into_iter().map(round_view).collect()))
}

/// Builds the full API.md view of one application from its case file.
pub fn application_view(state: &AppState, case: CaseFile) -> ApiResult<ApplicationView> {
    let CaseFile { application: app, firm, materials, latest_round, latest_decision, tracks, permit } = case;
    let form = stored_form(&app)?;
    let status = app.status;
    let may_have_permit = matches!(
        status,
        ApplicationStatus::Approved
            | ApplicationStatus::Issued
            | ApplicationStatus::Revoked
            | ApplicationStatus::Expired
    );
    let materials = materials
        .into_iter()
        .map(|m| MaterialView {
            kind: m.kind,
            id: m.id,
            filename: m.filename,
            content_type: m.content_type,
            sha256: m.sha256,
            size: m.size,
            uploaded_at: rfc3339(m.created_at),
        })
        .collect();
    let prereview = latest_round.map(round_view);
    let decision = latest_decision.map(|d| DecisionView {
        outcome: d.outcome,
        ruleset_id: d.ruleset_id,
        ruleset_version: d.ruleset_version,
        ruleset_sha256: d.ruleset_sha256,
        reasons: serde_json::from_str(&d.reasons).unwrap_or_default(),
        trace: serde_json::from_str(&d.trace).unwrap_or_default(),
        decided_at: rfc3339(d.decided_at),
    });
    // A permit is shown once sealed: a number allocated to a case still being sealed is not one.
    let permit = match permit.filter(|p| may_have_permit && p.status != "pending") {
        Some(p) => Some(PermitRef {
            status: nightpermit_cases::permits::permit_status(&p, &form, state.clock.now_ms()),
            pdf_url: format!("/api/v1/permits/{}/pdf", p.number),
            number: p.number,
        }),
        None => None,
    };
    let tracks = (!tracks.is_empty()).then(|| {
        tracks
            .into_iter()
            .map(|t| TrackView {
                id: t.id,
                department: t.department,
                status: t.status,
                reasons: serde_json::from_str(&t.reasons).unwrap_or_default(),
                decided_by: t.decided_by,
                decided_at: t.decided_at.map(rfc3339),
                comment: t.comment,
            })
            .collect()
    });
    Ok(ApplicationView {
        id: app.id,
        status,
        status_label: status.label().into(),
        district: form.district,
        district_name: state.settings.district(form.district).name.clone(),
        firm: FirmRef { credit_code: firm.credit_code, name: firm.name },
        nights: form.window().map(|w| w.nights()).unwrap_or(0),
        project: form.project,
        night_work: form.night_work,
        equipment: form.equipment,
        measures: form.measures,
        contact: form.contact,
        materials,
        prereview,
        decision,
        tracks,
        permit,
        created_at: rfc3339(app.created_at),
        updated_at: rfc3339(app.updated_at),
    })
}

/// A firm creates a draft application: the one form.
#[utoipa::path(post, path = "/api/v1/applications", tag = "applications", request_body = ApplicationForm,
    security(("bearer" = [])),
    responses((status = 201, body = ApplicationView), (status = 401, body = Problem), (status = 403, body = Problem),
              (status = 422, body = Problem, description = "VALIDATION_FAILED with field errors")))]
pub async fn create_application(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<(StatusCode, Json<ApplicationView>)> {
    let firm = caller.firm()?;
    let now = state.clock.now_ms();
    let form = validate_form(&body, shanghai_today(now)).map_err(ApiError::validation)?;
    let record = ApplicationRecord {
        id: uuid::Uuid::now_v7().to_string(),
        firm_id: firm.id.clone(),
        district: form.district.id().into(),
        status: ApplicationStatus::Draft,
        form: form_record_fields(&form)?,
        construction_permit_no: form.project.construction_permit_no.clone(),
        start_date: form.night_work.start_date.clone(),
        end_date: form.night_work.end_date.clone(),
        round: 0,
        created_at: now,
        updated_at: now,
    };
    state.store.create_application(&record, &caller.actor()).await?;
    Ok((StatusCode::CREATED, Json(current_view(&state, &caller, &record.id).await?)))
}

/// Edits a draft, or an application returned for correction (JSON merge patch, RFC 7396).
#[utoipa::path(patch, path = "/api/v1/applications/{id}", tag = "applications", security(("bearer" = [])),
    params(("id" = String, Path, description = "application id")),
    request_body(content = Object, content_type = "application/merge-patch+json", description = "fields to change"),
    responses((status = 200, body = ApplicationView), (status = 404, body = Problem), (status = 409, body = Problem, description = "INVALID_STATE"),
              (status = 422, body = Problem)))]
pub async fn patch_application(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(patch): ApiJson<Value>,
) -> ApiResult<Json<ApplicationView>> {
    let app = owned_application(&state, &caller, &id).await?;
    if !patch.is_object() {
        return Err(ApiError::field("body", "INVALID_TYPE", "修改内容应为 JSON 对象"));
    }
    let current = app.status;
    if !current.editable() {
        return Err(StoreError::WrongStatus { current }.into());
    }
    let mut merged: Value = serde_json::from_str(&app.form).map_err(ApiError::internal)?;
    merge_patch(&mut merged, &patch);
    let now = state.clock.now_ms();
    let form = validate_form(&merged, shanghai_today(now)).map_err(ApiError::validation)?;
    let updated = state
        .store
        .update_application_form(
            &FormUpdate {
                application_id: id,
                district: form.district.id().into(),
                form: form_record_fields(&form)?,
                construction_permit_no: form.project.construction_permit_no.clone(),
                start_date: form.night_work.start_date.clone(),
                end_date: form.night_work.end_date.clone(),
                now,
            },
            &caller.actor(),
        )
        .await?;
    Ok(Json(current_view(&state, &caller, &updated.id).await?))
}

/// One application with its materials, pre-review, decision, tracks and permit.
#[utoipa::path(get, path = "/api/v1/applications/{id}", tag = "applications", security(("bearer" = [])),
    params(("id" = String, Path, description = "application id")),
    responses((status = 200, body = ApplicationView), (status = 401, body = Problem), (status = 404, body = Problem)))]
pub async fn get_application(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<ApplicationView>> {
    Ok(Json(application_view(&state, visible_case(&state, &caller, &id).await?)?))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct PageQuery {
    /// 1-based page number.
    pub page: Option<i64>,
    /// Items per page (default 20).
    pub per_page: Option<i64>,
}

/// The caller's applications, newest first: a firm's own; a reviewer's district's.
#[utoipa::path(get, path = "/api/v1/applications", tag = "applications", security(("bearer" = [])), params(PageQuery),
    responses((status = 200, body = ApplicationPage), (status = 401, body = Problem)))]
pub async fn list_applications(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> ApiResult<Json<ApplicationPage>> {
    let page = q.page.unwrap_or(1);
    let per_page = q.per_page.unwrap_or(20);
    if page < 1 || per_page < 1 || per_page > state.settings.limits.page_size_max {
        return Err(ApiError::field(
            "per_page",
            "OUT_OF_RANGE",
            format!("page 应不小于1，per_page 应在1至{}之间", state.settings.limits.page_size_max),
        ));
    }
    let scope = match (&caller, caller.district()) {
        (Caller::Firm(f), _) => ApplicationScope::Firm(f.id.clone()),
        (Caller::Staff(_), Some(d)) => ApplicationScope::District(d.id().into()),
        (Caller::Staff(_), None) => ApplicationScope::All,
    };
    let (rows, total) = state.store.list_applications(&scope, per_page, (page - 1).saturating_mul(per_page)).await?;
    let items = rows
        .into_iter()
        .map(|a| {
            let status = a.status;
            let form = stored_form(&a)?;
            Ok(ApplicationSummary {
                status,
                status_label: status.label().into(),
                district: form.district,
                project_name: form.project.name,
                start_date: a.start_date,
                end_date: a.end_date,
                round: a.round,
                created_at: rfc3339(a.created_at),
                updated_at: rfc3339(a.updated_at),
                id: a.id,
            })
        })
        .collect::<ApiResult<Vec<_>>>()?;
    Ok(Json(ApplicationPage { items, page, per_page, total }))
}

#[derive(ToSchema)]
#[allow(dead_code)] // documents the multipart body
pub struct MaterialUpload {
    /// business_license, construction_permit, process_certificate, noise_plan, resident_notice, site_plan or schedule.
    kind: MaterialKind,
    /// PNG, JPEG, TIFF or PDF; the type is read from the content.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

/// Uploads one material file.
#[utoipa::path(post, path = "/api/v1/applications/{id}/materials", tag = "applications", security(("bearer" = [])),
    params(("id" = String, Path, description = "application id")),
    request_body(content = MaterialUpload, content_type = "multipart/form-data"),
    responses((status = 201, body = MaterialView), (status = 404, body = Problem), (status = 409, body = Problem),
              (status = 413, body = Problem, description = "FILE_TOO_LARGE"), (status = 415, body = Problem, description = "UNSUPPORTED_MEDIA_TYPE"),
              (status = 422, body = Problem, description = "IMAGE_TOO_LARGE, unknown kind")))]
pub async fn upload_material(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> ApiResult<(StatusCode, Json<MaterialView>)> {
    let app = owned_application(&state, &caller, &id).await?;
    let mut multipart = multipart?;
    let current = app.status;
    if !current.editable() {
        return Err(StoreError::WrongStatus { current }.into());
    }
    let limit = state.settings.limits.max_upload_bytes;
    let multipart_error = |e: axum::extract::multipart::MultipartError| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            too_large(limit)
        } else {
            ApiError::bad_request("MALFORMED_MULTIPART", format!("multipart 表单格式错误：{}", e.body_text()))
        }
    };
    let (mut kind, mut file) = (None::<String>, None::<(Option<String>, axum::body::Bytes)>);
    while let Some(field) = multipart.next_field().await.map_err(multipart_error)? {
        match field.name() {
            Some("kind") => kind = Some(field.text().await.map_err(multipart_error)?),
            Some("file") => {
                let filename = field.file_name().map(str::to_string);
                file = Some((filename, field.bytes().await.map_err(multipart_error)?));
            }
            _ => {}
        }
    }
    Ok((StatusCode::CREATED, Json(add_material(&state, &caller, &id, kind, file).await?)))
}

/// Stores one uploaded material of an application the calling firm owns, whatever read the
/// upload (the API's multipart handler, or the case page's form with several files): the kind
/// and the file checked, the type sniffed from the bytes, the count capped.
pub async fn add_material(
    state: &AppState,
    caller: &Caller,
    id: &str,
    kind: Option<String>,
    file: Option<(Option<String>, axum::body::Bytes)>,
) -> ApiResult<MaterialView> {
    let app = owned_application(state, caller, id).await?;
    let current = app.status;
    if !current.editable() {
        return Err(StoreError::WrongStatus { current }.into());
    }
    let kind_text = kind.ok_or_else(|| ApiError::field("kind", "REQUIRED", "请注明材料类型（kind）"))?;
    let kind: MaterialKind = kind_text.trim().parse().map_err(|_| {
        let ids: Vec<&str> = MaterialKind::ALL.iter().map(|k| k.id()).collect();
        ApiError::field(
            "kind",
            "UNKNOWN_MATERIAL_KIND",
            format!("未知的材料类型“{kind_text}”；应为 {} 之一", ids.join("、")),
        )
    })?;
    let (filename, bytes) = file.ok_or_else(|| ApiError::field("file", "REQUIRED", "请选择要上传的文件（file）"))?;
    let file_type = check_upload(&bytes, &state.settings.limits)?;
    if state.store.materials(id).await?.len() >= state.settings.limits.max_materials_per_application {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "TOO_MANY_MATERIALS",
            "材料文件数量已达上限，请删除多余文件后再上传",
        ));
    }
    // The blob first: if we crash before the row is written, an unreferenced file is all that
    // is left, never a row pointing at nothing.
    let sha256 = state.blobs.put(&bytes).await.map_err(ApiError::internal)?;
    let material = MaterialRecord {
        id: uuid::Uuid::now_v7().to_string(),
        application_id: id.to_string(),
        kind,
        filename: clean_filename(filename.as_deref()),
        content_type: file_type.content_type().into(),
        sha256,
        size: i64::try_from(bytes.len()).unwrap_or(i64::MAX),
        created_at: state.clock.now_ms(),
    };
    state.store.add_material(&material, &caller.actor()).await?;
    Ok(MaterialView {
        id: material.id,
        kind,
        filename: material.filename,
        content_type: material.content_type,
        sha256: material.sha256,
        size: material.size,
        uploaded_at: rfc3339(material.created_at),
    })
}

/// Removes one material while the application is editable.
#[utoipa::path(delete, path = "/api/v1/applications/{id}/materials/{material_id}", tag = "applications", security(("bearer" = [])),
    params(("id" = String, Path, description = "application id"), ("material_id" = String, Path, description = "material id")),
    responses((status = 204, description = "removed"), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn delete_material(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, material_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    owned_application(&state, &caller, &id).await?;
    match state.store.delete_material(&id, &material_id, &caller.actor(), state.clock.now_ms()).await {
        Err(StoreError::NotFound) => Err(ApiError::not_found("材料")),
        other => other.map(|()| StatusCode::NO_CONTENT).map_err(Into::into),
    }
}

/// The firm withdraws its application before a decision (draft, pre-review, returned for
/// correction, or under review before either department decided).
#[utoipa::path(post, path = "/api/v1/applications/{id}/withdraw", tag = "applications", security(("bearer" = [])),
    params(("id" = String, Path, description = "application id")),
    responses((status = 200, body = ApplicationView), (status = 404, body = Problem),
              (status = 409, body = Problem, description = "INVALID_STATE: already decided, or a department has decided")))]
pub async fn withdraw_application(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<ApplicationView>> {
    owned_application(&state, &caller, &id).await?;
    let withdrawn = state.withdraw(&id, &caller.actor()).await?;
    Ok(Json(current_view(&state, &caller, &withdrawn.id).await?))
}

/// Submits the application: one case, one pre-review job. Repeat-safe with `Idempotency-Key`.
#[utoipa::path(post, path = "/api/v1/applications/{id}/submit", tag = "applications", security(("bearer" = [])),
    params(("id" = String, Path, description = "application id"),
           ("Idempotency-Key" = Option<String>, Header, description = "repeat a submit safely: the same key gets the same answer")),
    responses((status = 202, body = SubmitView), (status = 404, body = Problem),
              (status = 409, body = Problem, description = "INVALID_STATE: not a draft or returned for correction"),
              (status = 422, body = Problem, description = "IDEMPOTENCY_KEY_REUSED")))]
pub async fn submit_application(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<(StatusCode, Json<SubmitView>)> {
    owned_application(&state, &caller, &id).await?;
    let idempotency_key = match headers.get("idempotency-key") {
        None => None,
        Some(v) => {
            let key = v.to_str().ok().map(str::trim).filter(|k| !k.is_empty() && k.len() <= 255);
            Some(
                key.ok_or_else(|| {
                    ApiError::bad_request("INVALID_IDEMPOTENCY_KEY", "Idempotency-Key 应为1至255个可见ASCII字符")
                })?
                .to_string(),
            )
        }
    };
    let receipt = state.submit(&id, caller.principal_id(), idempotency_key, &caller.actor()).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(SubmitView {
            id: receipt.application_id,
            status: receipt.status,
            round: receipt.round,
            submitted_at: rfc3339(receipt.submitted_at),
        }),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct DisputeBody {
    /// Ids of the contested findings (as in `prereview.findings[].id`), or
    #[serde(default)]
    pub finding_ids: Vec<String>,
    /// the codes of the contested findings.
    #[serde(default)]
    pub codes: Vec<String>,
    /// Why the firm holds the findings wrong (required).
    #[serde(default)]
    pub comment: String,
}

/// The firm contests findings of the pre-review: instead of waiting for a correction, the case
/// goes to both departments' reviewers with the dispute shown.
#[utoipa::path(post, path = "/api/v1/applications/{id}/disputes", tag = "applications", security(("bearer" = [])),
    params(("id" = String, Path, description = "application id")), request_body = DisputeBody,
    responses((status = 200, body = ApplicationView), (status = 404, body = Problem),
              (status = 409, body = Problem, description = "INVALID_STATE: not returned for correction"),
              (status = 422, body = Problem, description = "COMMENT_REQUIRED, UNKNOWN_FINDING, NO_FINDING")))]
pub async fn dispute_findings(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<DisputeBody>,
) -> ApiResult<Json<ApplicationView>> {
    let app = owned_application(&state, &caller, &id).await?;
    let dispute = Dispute { finding_ids: &body.finding_ids, codes: &body.codes, comment: &body.comment };
    let updated = state.dispute(&app, &dispute, &caller.actor()).await?;
    Ok(Json(current_view(&state, &caller, &updated.id).await?))
}
