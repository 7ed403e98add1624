//! The firm record, kept by admins and inspectors until complaints and inspections have their
//! own workflow: upheld complaints, inspection violations, penalties, clean completions.

use crate::auth::Caller;
use crate::error::{ApiError, ApiJson, ApiResult, Problem};
use crate::state::AppState;
use crate::views::{rfc3339, shanghai_millis};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use nightpermit_domain::{CreditCode, Role};
use nightpermit_rules::grading::RecordKind;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewRecordEntry {
    /// complaint_upheld, inspection_violation, penalty or permit_completed_clean.
    pub kind: String,
    /// When it happened (YYYY-MM-DD, Asia/Shanghai); default today.
    pub occurred_on: Option<String>,
    pub note: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RecordEntryView {
    pub id: String,
    pub kind: String,
    pub occurred_at: String,
    pub note: String,
    pub recorded_by: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct GradeChangeView {
    pub from_grade: String,
    pub to_grade: String,
    pub points: i64,
    pub cause: String,
    pub at: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct FirmRecordView {
    pub credit_code: String,
    pub name: String,
    pub grade: String,
    pub records: Vec<RecordEntryView>,
    pub grade_changes: Vec<GradeChangeView>,
}

fn record_keeper(caller: &Caller) -> ApiResult<()> {
    match caller.role() {
        Role::Admin | Role::Inspector => Ok(()),
        _ => Err(ApiError::forbidden("只有管理员或执法检查人员可以维护企业信用记录")),
    }
}

async fn firm_by_code(state: &AppState, code: &str) -> ApiResult<nightpermit_store::FirmRecord> {
    let code =
        CreditCode::parse(code).map_err(|e| ApiError::field("credit_code", "CREDIT_CODE_INVALID", e.to_string()))?;
    state.store.firm_by_credit_code(code.as_str()).await?.ok_or_else(|| ApiError::not_found("施工单位"))
}

async fn record_view(state: &AppState, firm: nightpermit_store::FirmRecord) -> ApiResult<FirmRecordView> {
    let records = state.store.firm_records(&firm.id).await?;
    let changes = state.store.grade_changes(&firm.id).await?;
    Ok(FirmRecordView {
        credit_code: firm.credit_code,
        name: firm.name,
        grade: firm.grade,
        records: records
            .into_iter()
            .map(|r| RecordEntryView {
                id: r.id,
                kind: r.kind,
                occurred_at: rfc3339(r.occurred_at),
                note: r.note,
                recorded_by: r.recorded_by,
            })
            .collect(),
        grade_changes: changes
            .into_iter()
            .map(|c| GradeChangeView {
                from_grade: c.from_grade,
                to_grade: c.to_grade,
                points: c.points,
                cause: c.cause,
                at: rfc3339(c.at),
            })
            .collect(),
    })
}

/// Adds an entry to a firm's record and recomputes its grade.
#[utoipa::path(post, path = "/api/v1/admin/firms/{credit_code}/records", tag = "admin", security(("bearer" = [])),
    params(("credit_code" = String, Path, description = "the firm's unified social credit code")), request_body = NewRecordEntry,
    responses((status = 201, body = FirmRecordView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn add_record(
    State(state): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
    ApiJson(body): ApiJson<NewRecordEntry>,
) -> ApiResult<(StatusCode, Json<FirmRecordView>)> {
    record_keeper(&caller)?;
    let firm = firm_by_code(&state, &code).await?;
    let kind = RecordKind::parse(&body.kind).ok_or_else(|| {
        ApiError::field(
            "kind",
            "UNKNOWN_RECORD_KIND",
            "记录类型应为 complaint_upheld、inspection_violation、penalty 或 permit_completed_clean",
        )
    })?;
    let note = body.note.trim();
    if note.is_empty() || note.chars().count() > 500 {
        return Err(ApiError::field("note", "REQUIRED", "请填写1至500字的说明（如投诉编号、检查结论）"));
    }
    let now = state.clock.now_ms();
    let occurred_at = match body.occurred_on.as_deref() {
        None => now,
        Some(d) => {
            let date = nightpermit_domain::parse_date(d)
                .map_err(|e| ApiError::field("occurred_on", "INVALID_DATE", e.to_string()))?;
            let at = shanghai_millis(date.and_hms_opt(12, 0, 0).unwrap_or_default()).unwrap_or(now);
            if at > now + 86_400_000 {
                return Err(ApiError::field("occurred_on", "IN_FUTURE", "发生日期不能晚于今天"));
            }
            at
        }
    };
    nightpermit_cases::grades::record(
        state.store.as_ref(),
        &state.policy.grading,
        &firm,
        kind,
        occurred_at,
        note,
        &caller.actor(),
        now,
    )
    .await?;
    let firm = firm_by_code(&state, &code).await?;
    Ok((StatusCode::CREATED, Json(record_view(&state, firm).await?)))
}

/// A firm's record and grade history.
#[utoipa::path(get, path = "/api/v1/admin/firms/{credit_code}/records", tag = "admin", security(("bearer" = [])),
    params(("credit_code" = String, Path, description = "the firm's unified social credit code")),
    responses((status = 200, body = FirmRecordView), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn get_records(
    State(state): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
) -> ApiResult<Json<FirmRecordView>> {
    match (&caller, caller.role()) {
        (_, Role::Admin | Role::Inspector | Role::Reviewer | Role::Auditor) => {}
        (Caller::Firm(f), _) if CreditCode::parse(&code).is_ok_and(|c| c.as_str() == f.credit_code) => {}
        _ => return Err(ApiError::forbidden("无权查看该企业的信用记录")),
    }
    let firm = firm_by_code(&state, &code).await?;
    Ok(Json(record_view(&state, firm).await?))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RevokedSessions {
    pub sessions_ended: u64,
}

/// Ends every session of an account (a firm by credit code, staff by username), e.g. when a
/// device is lost or a token leaked. Admin only.
#[utoipa::path(delete, path = "/api/v1/admin/accounts/{login}/sessions", tag = "admin", security(("bearer" = [])),
    params(("login" = String, Path, description = "credit code of a firm or username of a staff member")),
    responses((status = 200, body = RevokedSessions), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn revoke_sessions(
    State(state): State<AppState>,
    caller: Caller,
    Path(login): Path<String>,
) -> ApiResult<Json<RevokedSessions>> {
    if caller.role() != Role::Admin {
        return Err(ApiError::forbidden("只有管理员可以注销他人的登录"));
    }
    let principal = match CreditCode::parse(&login) {
        Ok(code) => state.store.firm_by_credit_code(code.as_str()).await?.map(|f| ("firm", f.id)),
        Err(_) => state.store.staff_by_username(&login).await?.map(|s| ("staff", s.id)),
    };
    let (kind, id) = principal.ok_or_else(|| ApiError::not_found("账号"))?;
    let sessions_ended = state.store.revoke_sessions(kind, &id, None, &caller.actor(), state.clock.now_ms()).await?;
    Ok(Json(RevokedSessions { sessions_ended }))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct StaffAccountView {
    pub username: String,
    pub role: Role,
    /// When the account was disabled; null while it can sign in.
    pub disabled_at: Option<String>,
}

async fn set_disabled(state: &AppState, caller: &Caller, login: &str, disabled: bool) -> ApiResult<StaffAccountView> {
    if caller.role() != Role::Admin {
        return Err(ApiError::forbidden("只有管理员可以停用或启用工作人员账号"));
    }
    let own = match caller {
        Caller::Staff(s) => Some(s.username.as_str()),
        Caller::Firm(_) => None,
    };
    let staff =
        crate::staff::set_disabled(state.store.as_ref(), login, disabled, own, &caller.actor(), state.clock.now_ms())
            .await?;
    Ok(StaffAccountView { username: staff.username, role: staff.role, disabled_at: staff.disabled_at.map(rfc3339) })
}

/// Disables a staff account: it cannot sign in (ACCOUNT_DISABLED) and every session it has ends
/// at once. Admin only; an admin cannot disable their own account (CANNOT_DISABLE_SELF).
#[utoipa::path(post, path = "/api/v1/admin/accounts/{login}/disable", tag = "admin", security(("bearer" = [])),
    params(("login" = String, Path, description = "username of a staff member")),
    responses((status = 200, body = StaffAccountView), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem, description = "CANNOT_DISABLE_SELF")))]
pub async fn disable_account(
    State(state): State<AppState>,
    caller: Caller,
    Path(login): Path<String>,
) -> ApiResult<Json<StaffAccountView>> {
    Ok(Json(set_disabled(&state, &caller, &login, true).await?))
}

/// Lets a disabled staff account sign in again. Admin only.
#[utoipa::path(post, path = "/api/v1/admin/accounts/{login}/enable", tag = "admin", security(("bearer" = [])),
    params(("login" = String, Path, description = "username of a staff member")),
    responses((status = 200, body = StaffAccountView), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn enable_account(
    State(state): State<AppState>,
    caller: Caller,
    Path(login): Path<String>,
) -> ApiResult<Json<StaffAccountView>> {
    Ok(Json(set_disabled(&state, &caller, &login, false).await?))
}
