//! What the API answers: the application as API.md shapes it, and the smaller pieces.

use nightpermit_cases::form::{Contact, Equipment, NightWork, Project};
use nightpermit_domain::{ApplicationStatus, District, MaterialKind, Role};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

pub use nightpermit_cases::time::{rfc3339, shanghai_local, shanghai_millis, shanghai_today, tonight};

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct FirmView {
    pub id: String,
    pub credit_code: String,
    pub name: String,
    /// Three-colour credit grade: green, yellow or red.
    pub grade: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SessionView {
    pub token: String,
    pub role: Role,
    pub expires_at: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct FirmRef {
    pub credit_code: String,
    pub name: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MaterialView {
    pub id: String,
    pub kind: MaterialKind,
    pub filename: String,
    pub content_type: String,
    pub sha256: String,
    pub size: i64,
    pub uploaded_at: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Progress {
    pub materials_done: i64,
    pub materials_total: i64,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PrereviewView {
    pub round: i64,
    /// pending, running or done.
    pub state: String,
    pub submitted_at: String,
    pub finished_at: Option<String>,
    /// pass or needs_correction, once done.
    pub outcome: Option<String>,
    #[schema(value_type = Vec<Object>)]
    pub findings: Vec<Value>,
    pub progress: Progress,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ApplicationView {
    pub id: String,
    pub status: ApplicationStatus,
    pub status_label: String,
    pub district: District,
    pub district_name: String,
    pub firm: FirmRef,
    pub project: Project,
    pub night_work: NightWork,
    /// Number of nights requested.
    pub nights: i64,
    pub equipment: Vec<Equipment>,
    pub measures: Vec<String>,
    pub contact: Contact,
    pub materials: Vec<MaterialView>,
    pub prereview: Option<PrereviewView>,
    /// The rules decision for the latest round, once made.
    pub decision: Option<DecisionView>,
    /// One review track per department, once routed.
    pub tracks: Option<Vec<TrackView>>,
    /// The sealed permit, once issued.
    pub permit: Option<PermitRef>,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ApplicationSummary {
    pub id: String,
    pub status: ApplicationStatus,
    pub status_label: String,
    pub district: District,
    pub project_name: String,
    pub start_date: String,
    pub end_date: String,
    pub round: i64,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ApplicationPage {
    pub items: Vec<ApplicationSummary>,
    pub page: i64,
    pub per_page: i64,
    pub total: i64,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SubmitView {
    pub id: String,
    pub status: ApplicationStatus,
    /// Pre-review round started by this submission (1 for the first, 2 after a correction, ...).
    pub round: i64,
    pub submitted_at: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TraceView {
    pub rule: String,
    /// Whether the rule's condition held.
    pub result: bool,
    /// The facts the rule read, with their values.
    #[schema(value_type = Object)]
    pub facts: Value,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DecisionView {
    /// auto_approve, manual_review or reject.
    pub outcome: nightpermit_domain::DecisionOutcome,
    pub ruleset_id: String,
    pub ruleset_version: String,
    /// sha256 of the exact rule file used.
    pub ruleset_sha256: String,
    pub reasons: Vec<String>,
    pub trace: Vec<TraceView>,
    pub decided_at: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TrackView {
    /// The review task id (reviewers decide it at /api/v1/review/tasks/{id}/decision).
    pub id: String,
    pub department: nightpermit_domain::Department,
    /// pending, approved, rejected or correction_requested.
    pub status: nightpermit_domain::TrackStatus,
    pub reasons: Vec<String>,
    pub decided_by: Option<String>,
    pub decided_at: Option<String>,
    pub comment: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PermitRef {
    pub number: String,
    /// valid, revoked or expired.
    pub status: String,
    pub pdf_url: String,
}
