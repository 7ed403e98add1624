//! What the API answers: the application as API.md shapes it, and the smaller pieces.

use crate::form::{Contact, Equipment, NightWork, Project};
use chrono::{FixedOffset, NaiveDate, NaiveDateTime, TimeZone};
use nightpermit_domain::{ApplicationStatus, District, MaterialKind, Role};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

/// Asia/Shanghai has had no daylight saving since 1991: a fixed +08:00 is exact.
pub fn shanghai() -> FixedOffset {
    const SHANGHAI: FixedOffset = match FixedOffset::east_opt(8 * 3600) {
        Some(offset) => offset,
        None => panic!("+08:00 is a valid offset"),
    };
    SHANGHAI
}

/// RFC 3339 with the Shanghai offset, as every time in the API is given.
pub fn rfc3339(ms: i64) -> String {
    shanghai()
        .timestamp_millis_opt(ms)
        .single()
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, false))
        .unwrap_or_default()
}

/// The Shanghai wall-clock time of an instant given in Unix milliseconds.
pub fn shanghai_local(ms: i64) -> NaiveDateTime {
    shanghai().timestamp_millis_opt(ms).single().map(|t| t.naive_local()).unwrap_or_default()
}

/// Unix milliseconds of a Shanghai wall-clock time.
pub fn shanghai_millis(local: NaiveDateTime) -> Option<i64> {
    shanghai().from_local_datetime(&local).single().map(|t| t.timestamp_millis())
}

pub fn shanghai_today(now_ms: i64) -> NaiveDate {
    shanghai_local(now_ms).date()
}

/// The date "tonight" began in Shanghai: today after 06:00, yesterday before 06:00 (the night
/// that began at 22:00 yesterday is still going on).
pub fn tonight(now_ms: i64) -> NaiveDate {
    let now = shanghai_local(now_ms);
    let date = now.date();
    if now.time() < nightpermit_domain::NIGHT_END {
        date.pred_opt().unwrap_or(date)
    } else {
        date
    }
}

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
