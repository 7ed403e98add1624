//! Complaints about night noise (信访), followed by the 1/3/10/15-day rule: residents file one
//! without signing in and follow its progress by reference; the district's inspectors record
//! each step; an upheld complaint enters the firm's record and moves its grade. The workflow is
//! `nightpermit_cases::complaints`; these handlers read the request and answer its JSON.

use crate::auth::Caller;
use crate::error::{ApiJson, ApiQuery, ApiResult, Problem};
use crate::state::AppState;
use crate::views::rfc3339;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use nightpermit_cases::complaints::{ComplaintCase, ComplaintSelection, StepReport};
use nightpermit_domain::{ComplaintOutcome, ComplaintPriority, ComplaintStep};
use nightpermit_store::ComplaintRecord;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

pub use nightpermit_cases::complaints::{ComplaintContact, NewComplaint};

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ComplaintDeadlines {
    pub contact_by: String,
    pub inspect_by: String,
    pub check_by: String,
    pub conclude_by: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ComplaintReceipt {
    pub reference: String,
    /// The permits in force at that place and time; empty means unpermitted night work.
    pub matched_permits: Vec<String>,
    /// `highest` for night work no permit covers, `normal` otherwise.
    pub priority: ComplaintPriority,
    pub deadlines: ComplaintDeadlines,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct StepProgress {
    pub step: ComplaintStep,
    pub label: String,
    pub due_by: String,
    pub done_at: Option<String>,
    pub overdue: bool,
}

/// A complaint as anyone holding its reference sees it: progress and outcome, no personal data
/// (no contact, no description, no inspector names).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PublicComplaint {
    pub reference: String,
    pub district: String,
    pub received_at: String,
    pub priority: ComplaintPriority,
    pub matched_permits: Vec<String>,
    pub deadlines: ComplaintDeadlines,
    pub steps: Vec<StepProgress>,
    /// `open` or `concluded`.
    pub status: String,
    pub outcome: Option<ComplaintOutcome>,
    pub overdue: bool,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct StaffComplaintContact {
    pub name: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
}

/// A complaint as the district's inspectors see it: everything needed to follow it up.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct StaffComplaint {
    #[serde(flatten)]
    pub progress: PublicComplaint,
    pub address: Option<String>,
    pub permit_number: Option<String>,
    pub occurred_at: String,
    /// Plain text, as written.
    pub description: String,
    pub contact: StaffComplaintContact,
    pub noise_db: Option<f64>,
    pub rectification_ordered: Option<bool>,
    pub rectified: Option<bool>,
    pub overdue_steps: Vec<ComplaintStep>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct StaffComplaintList {
    pub items: Vec<StaffComplaint>,
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct ComplaintQuery {
    /// District id; defaults to the inspector's own.
    pub district: Option<String>,
    /// Only complaints with a step past its deadline.
    pub overdue: Option<bool>,
    /// Include concluded complaints (default: open ones only).
    pub include_concluded: Option<bool>,
}

fn deadline_view(c: &ComplaintRecord) -> ComplaintDeadlines {
    ComplaintDeadlines {
        contact_by: rfc3339(c.contact_by),
        inspect_by: rfc3339(c.inspect_by),
        check_by: rfc3339(c.check_by),
        conclude_by: rfc3339(c.conclude_by),
    }
}

/// A complaint's progress as anyone holding its reference sees it (the resident's page too).
pub fn public_view(case: &ComplaintCase) -> PublicComplaint {
    let c = &case.record;
    PublicComplaint {
        reference: c.reference.clone(),
        district: c.district.clone(),
        received_at: rfc3339(c.received_at),
        priority: c.priority,
        matched_permits: case.matched_permits.clone(),
        deadlines: deadline_view(c),
        steps: case
            .progress
            .steps
            .iter()
            .map(|s| StepProgress {
                step: s.step,
                label: s.step.label().into(),
                due_by: rfc3339(s.due_at),
                done_at: s.done_at.map(rfc3339),
                overdue: s.overdue,
            })
            .collect(),
        status: if case.progress.concluded { "concluded" } else { "open" }.into(),
        outcome: c.outcome,
        overdue: case.progress.overdue(),
    }
}

/// A complaint as the district's inspectors see it (their page too).
pub fn staff_view(case: &ComplaintCase) -> StaffComplaint {
    let c = &case.record;
    StaffComplaint {
        progress: public_view(case),
        address: c.address.clone(),
        permit_number: c.permit_number.clone(),
        occurred_at: rfc3339(c.occurred_at),
        description: c.description.clone(),
        contact: StaffComplaintContact {
            name: c.contact_name.clone(),
            phone: c.contact_phone.clone(),
            email: c.contact_email.clone(),
        },
        noise_db: c.noise_tenths_db.map(|t| t as f64 / 10.0),
        rectification_ordered: c.rectification_ordered,
        rectified: c.rectified,
        overdue_steps: case.progress.overdue_steps(),
    }
}

/// Files a complaint about night construction noise. Public, rate-limited per client.
#[utoipa::path(post, path = "/api/v1/complaints", tag = "aftercare", request_body = NewComplaint,
    responses((status = 201, body = ComplaintReceipt), (status = 422, body = Problem), (status = 429, body = Problem)))]
pub async fn file_complaint(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<NewComplaint>,
) -> ApiResult<(StatusCode, Json<ComplaintReceipt>)> {
    let filed = state.file_complaint(&body).await?;
    Ok((
        StatusCode::CREATED,
        Json(ComplaintReceipt {
            reference: filed.record.reference.clone(),
            priority: filed.record.priority,
            deadlines: deadline_view(&filed.record),
            matched_permits: filed.matched_permits,
        }),
    ))
}

/// A complaint's progress and outcome, by its reference. Public; no personal data.
#[utoipa::path(get, path = "/api/v1/complaints/{reference}", tag = "aftercare",
    params(("reference" = String, Path, description = "the reference given when the complaint was filed")),
    responses((status = 200, body = PublicComplaint), (status = 404, body = Problem)))]
pub async fn get_complaint(
    State(state): State<AppState>,
    Path(reference): Path<String>,
) -> ApiResult<Json<PublicComplaint>> {
    Ok(Json(public_view(&state.complaint(&reference).await?)))
}

/// A district's complaints for its inspectors and admins; `overdue=true` lists only those with
/// a step past its deadline.
#[utoipa::path(get, path = "/api/v1/complaints", tag = "aftercare", security(("bearer" = [])), params(ComplaintQuery),
    responses((status = 200, body = StaffComplaintList), (status = 401, body = Problem), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn list_complaints(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<ComplaintQuery>,
) -> ApiResult<Json<StaffComplaintList>> {
    let selection = ComplaintSelection {
        district: q.district.as_deref(),
        include_concluded: q.include_concluded.unwrap_or(false),
        overdue_only: q.overdue.unwrap_or(false),
    };
    let cases = state.complaints_to_follow(&caller.follower(), selection).await?;
    Ok(Json(StaffComplaintList { items: cases.iter().map(staff_view).collect() }))
}

/// Records one step of a complaint. An upheld conclusion adds `complaint_upheld` to the record
/// of each firm whose permit the complaint matched and recomputes its grade, in one transaction.
#[utoipa::path(post, path = "/api/v1/complaints/{reference}/steps", tag = "aftercare", security(("bearer" = [])),
    params(("reference" = String, Path, description = "complaint reference")), request_body = StepReport,
    responses((status = 200, body = StaffComplaint), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn record_step(
    State(state): State<AppState>,
    caller: Caller,
    Path(reference): Path<String>,
    ApiJson(body): ApiJson<StepReport>,
) -> ApiResult<Json<StaffComplaint>> {
    Ok(Json(staff_view(&state.record_complaint_step(&reference, &body, &caller.follower()).await?)))
}
