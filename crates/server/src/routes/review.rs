//! Department review: each department's queue of flagged cases in its district, and decisions.

use crate::auth::Caller;
use crate::error::{ApiError, ApiJson, ApiQuery, ApiResult, Problem};
use crate::state::AppState;
use crate::views::rfc3339;
use axum::extract::{Path, State};
use axum::Json;
use nightpermit_domain::{ApplicationStatus, Department, Role, TrackStatus};
use nightpermit_store::{QueueEntry, TrackRecord};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ReviewTask {
    pub id: String,
    pub application_id: String,
    pub round: i64,
    pub department: Department,
    pub district: String,
    pub status: TrackStatus,
    /// Why the case needs a human (the rules' reasons).
    pub reasons: Vec<String>,
    pub project_name: String,
    pub firm_name: String,
    pub start_date: String,
    pub end_date: String,
    pub created_at: String,
    /// How long the task has waited (or waited until decided), in hours.
    pub waited_hours: f64,
    pub decided_by: Option<String>,
    pub decided_at: Option<String>,
    pub comment: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct TaskQuery {
    /// Must be the reviewer's own department (default).
    department: Option<String>,
    /// pending (default), approved, rejected, correction_requested or all.
    status: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TaskList {
    pub items: Vec<ReviewTask>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct TaskDecisionBody {
    /// approve, reject or request_correction.
    pub outcome: String,
    /// Required when rejecting or requesting a correction; shown to the firm.
    pub comment: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TaskDecisionView {
    pub task: ReviewTask,
    /// The application's status after this decision.
    pub application_status: ApplicationStatus,
}

/// The reviewer's department and district, or 403 for anyone else.
pub fn reviewer(caller: &Caller) -> ApiResult<(Department, String)> {
    match (caller.role(), caller.department(), caller.district()) {
        (Role::Reviewer, Some(dep), Some(dis)) => Ok((dep, dis.id().to_string())),
        _ => Err(ApiError::forbidden("只有区级审批人员可以处理审核任务")),
    }
}

/// The API's view of one queue entry; `now` ends the wait of a task still open.
pub fn entry_view(e: QueueEntry, now: i64) -> ReviewTask {
    let t = e.track;
    let until = t.decided_at.unwrap_or(now);
    ReviewTask {
        department: t.department,
        reasons: serde_json::from_str(&t.reasons).unwrap_or_default(),
        project_name: e.project_name,
        firm_name: e.firm_name,
        start_date: e.start_date,
        end_date: e.end_date,
        created_at: rfc3339(t.created_at),
        waited_hours: ((until - t.created_at) as f64 / 3_600_000.0 * 100.0).round() / 100.0,
        decided_at: t.decided_at.map(rfc3339),
        id: t.id,
        application_id: t.application_id,
        round: t.round,
        district: t.district,
        status: t.status,
        decided_by: t.decided_by,
        comment: t.comment,
    }
}

/// The view of one task outside a queue (just decided): its case read for it.
pub async fn task_view(state: &AppState, t: TrackRecord) -> ApiResult<ReviewTask> {
    let app = state.store.application(&t.application_id).await?.ok_or_else(|| ApiError::not_found("申请"))?;
    let firm = state.store.firm_by_id(&app.firm_id).await?;
    let form: nightpermit_cases::form::ApplicationForm = serde_json::from_str(&app.form).map_err(ApiError::internal)?;
    let entry = QueueEntry {
        track: t,
        project_name: form.project.name,
        firm_name: firm.map(|f| f.name).unwrap_or_default(),
        start_date: app.start_date,
        end_date: app.end_date,
        other: None,
    };
    Ok(entry_view(entry, state.clock.now_ms()))
}

/// A reviewer's queue: their department, their district, oldest first.
#[utoipa::path(get, path = "/api/v1/review/tasks", tag = "review", security(("bearer" = [])), params(TaskQuery),
    responses((status = 200, body = TaskList), (status = 403, body = Problem)))]
pub async fn list_tasks(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<TaskQuery>,
) -> ApiResult<Json<TaskList>> {
    let (department, _) = reviewer(&caller)?;
    if let Some(asked) = q.department.as_deref() {
        if asked != department.id() {
            return Err(ApiError::forbidden(format!("您属于{}，只能查看本部门的审核任务", department.label())));
        }
    }
    let now = state.clock.now_ms();
    let items =
        queue(&state, &caller, q.status.as_deref(), None).await?.into_iter().map(|e| entry_view(e, now)).collect();
    Ok(Json(TaskList { items }))
}

/// The task states a queue can be filtered by (`all` lists every one).
pub const TASK_FILTERS: [&str; 5] = ["pending", "approved", "rejected", "correction_requested", "all"];

/// The reviewer's queue in one state (default pending), oldest first, each task with its
/// case's project, firm and dates (one query); shared by the API and the review page, which
/// asks for one page (`limit`, `offset`).
pub async fn queue(
    state: &AppState,
    caller: &Caller,
    status: Option<&str>,
    page: Option<(i64, i64)>,
) -> ApiResult<Vec<QueueEntry>> {
    let (department, district) = reviewer(caller)?;
    let status = status.unwrap_or("pending");
    let filter = match status {
        "all" => None,
        "pending" | "approved" | "rejected" | "correction_requested" => Some(status),
        other => return Err(ApiError::field("status", "UNKNOWN_STATUS", format!("未知的任务状态“{other}”"))),
    };
    Ok(match page {
        None => state.store.review_queue(&district, department.id(), filter).await?,
        Some((limit, offset)) => {
            state.store.review_queue_page(&district, department.id(), filter, limit, offset).await?
        }
    })
}

/// One task of the reviewer's own department and district; any other is 404, so tasks of
/// other districts are not even confirmed to exist.
pub async fn own_task(state: &AppState, caller: &Caller, id: &str) -> ApiResult<TrackRecord> {
    let (department, district) = reviewer(caller)?;
    let track = state.store.track(id).await?.filter(|t| t.department == department && t.district == district);
    track.ok_or_else(|| ApiError::not_found("审核任务"))
}

/// Decide one task: approve, reject, or return the case to the firm for correction.
#[utoipa::path(post, path = "/api/v1/review/tasks/{id}/decision", tag = "review", security(("bearer" = [])),
    params(("id" = String, Path, description = "task id")), request_body = TaskDecisionBody,
    responses((status = 200, body = TaskDecisionView), (status = 404, body = Problem), (status = 409, body = Problem, description = "already decided or case no longer under review"),
              (status = 422, body = Problem)))]
pub async fn decide_task(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<TaskDecisionBody>,
) -> ApiResult<Json<TaskDecisionView>> {
    Ok(Json(decide(&state, &caller, &id, body).await?))
}

/// A reviewer's decision on one task of their own department and district, shared by the API
/// and the review page; the lifecycle checks the outcome and comment and decides the track.
pub async fn decide(
    state: &AppState,
    caller: &Caller,
    id: &str,
    body: TaskDecisionBody,
) -> ApiResult<TaskDecisionView> {
    let track = own_task(state, caller, id).await?;
    let (updated, app_status) =
        state.decide_track(&track, &body.outcome, body.comment.as_deref(), &caller.actor()).await?;
    Ok(TaskDecisionView { task: task_view(state, updated).await?, application_status: app_status })
}
