//! Rows as the store reads and writes them. Closed sets (statuses, kinds, departments, roles,
//! outcomes) are decoded into the domain's types: a stored value outside its set is
//! `StoreError::Corrupt`, never a guess.

use nightpermit_domain::{ApplicationStatus, DecisionOutcome, Department, District, MaterialKind, Role, TrackStatus};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, Deserialize)]
pub struct FirmRecord {
    pub id: String,
    pub credit_code: String,
    pub name: String,
    pub password_hash: String,
    pub contact_name: String,
    pub contact_phone: String,
    pub grade: String,
    pub created_at: i64,
    /// Where notifications about its cases are mailed; `None` means none are.
    pub contact_email: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct StaffRecord {
    pub id: String,
    pub username: String,
    pub password_hash: String,
    pub role: Role,
    pub department: Option<Department>,
    pub district: Option<District>,
    pub created_at: i64,
    /// When an admin disabled the account (it cannot sign in); None while it is in use.
    pub disabled_at: Option<i64>,
}

/// One task of a review queue with what the queue shows of its case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueEntry {
    pub track: TrackRecord,
    /// From the application's form; empty if the form has none.
    pub project_name: String,
    pub firm_name: String,
    pub start_date: String,
    pub end_date: String,
    /// The other department's track of the same round, if the case has one.
    pub other: Option<(Department, TrackStatus)>,
}

impl<'r> sqlx::FromRow<'r, sqlx::any::AnyRow> for QueueEntry {
    fn from_row(row: &'r sqlx::any::AnyRow) -> Result<Self, sqlx::Error> {
        use sqlx::Row;
        let other_department: Option<String> = row.try_get("other_department")?;
        let other_status: Option<String> = row.try_get("other_status")?;
        let other = match (other_department, other_status) {
            (Some(d), Some(s)) => Some((closed("other_department", &d)?, closed("other_status", &s)?)),
            _ => None,
        };
        Ok(QueueEntry {
            track: <TrackRecord as sqlx::FromRow<'r, sqlx::any::AnyRow>>::from_row(row)?,
            project_name: row.try_get("project_name")?,
            firm_name: row.try_get("firm_name")?,
            start_date: row.try_get("start_date")?,
            end_date: row.try_get("end_date")?,
            other,
        })
    }
}

/// How many tasks each filter of a review queue lists.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueCounts {
    /// Still work: pending, and the case under review in that round.
    pub pending: i64,
    pub approved: i64,
    pub rejected: i64,
    pub correction_requested: i64,
    /// Every task, including pending ones whose case has left review.
    pub all: i64,
}

/// Decodes one closed-set column, naming the column when the stored text is outside the set.
fn closed<T: std::str::FromStr<Err = nightpermit_domain::UnknownValue>>(
    column: &str,
    text: &str,
) -> Result<T, sqlx::Error> {
    text.parse().map_err(|e| sqlx::Error::ColumnDecode { index: column.into(), source: Box::new(e) })
}

// By hand because the derive cannot decode optional closed-set columns.
impl<'r> sqlx::FromRow<'r, sqlx::any::AnyRow> for StaffRecord {
    fn from_row(row: &'r sqlx::any::AnyRow) -> Result<Self, sqlx::Error> {
        use sqlx::Row;
        let role: String = row.try_get("role")?;
        let department: Option<String> = row.try_get("department")?;
        let district: Option<String> = row.try_get("district")?;
        Ok(StaffRecord {
            id: row.try_get("id")?,
            username: row.try_get("username")?,
            password_hash: row.try_get("password_hash")?,
            role: closed("role", &role)?,
            department: department.map(|d| closed("department", &d)).transpose()?,
            district: district.map(|d| closed("district", &d)).transpose()?,
            created_at: row.try_get("created_at")?,
            disabled_at: row.try_get("disabled_at")?,
        })
    }
}

/// A sign-in; only the sha256 of the bearer token is stored, so a database leak yields no
/// usable tokens.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, Deserialize)]
pub struct SessionRecord {
    pub token_hash: String,
    /// `firm` or `staff`.
    pub principal_kind: String,
    pub principal_id: String,
    pub expires_at: i64,
    pub created_at: i64,
}

/// A session with the account it signed in, read in one query: every authenticated request
/// starts with it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SignedIn {
    pub session: SessionRecord,
    /// The firm, if the session is a firm's and the firm still exists.
    pub firm: Option<FirmRecord>,
    /// The staff account, if the session is staff's and the account still exists.
    pub staff: Option<StaffRecord>,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, Deserialize)]
pub struct ApplicationRecord {
    pub id: String,
    pub firm_id: String,
    pub district: String,
    #[sqlx(try_from = "String")]
    pub status: ApplicationStatus,
    /// The one form as JSON: project, night_work, equipment, measures, contact.
    pub form: String,
    pub construction_permit_no: String,
    pub start_date: String,
    pub end_date: String,
    pub round: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

/// An application for one construction site, with the number of its permit once sealed.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SiteApplication {
    #[sqlx(flatten)]
    pub application: ApplicationRecord,
    /// `None` until the permit is sealed (a number allocated to a case being sealed is not one).
    pub permit_number: Option<String>,
}

/// A new form for an editable application, with the columns derived from it.
#[derive(Debug, Clone)]
pub struct FormUpdate {
    pub application_id: String,
    pub district: String,
    pub form: String,
    pub construction_permit_no: String,
    pub start_date: String,
    pub end_date: String,
    pub now: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct MaterialRecord {
    pub id: String,
    pub application_id: String,
    #[sqlx(try_from = "String")]
    pub kind: MaterialKind,
    pub filename: String,
    pub content_type: String,
    pub sha256: String,
    pub size: i64,
    pub created_at: i64,
}

#[derive(Debug, Clone)]
pub struct SubmitRequest {
    pub application_id: String,
    /// Who submits; idempotency keys are scoped to them.
    pub principal_id: String,
    pub idempotency_key: Option<String>,
    pub job_id: String,
    pub max_attempts: i64,
    pub now: i64,
}

/// The answer to a submit, stored with its idempotency key so a repeat gets it unchanged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubmitReceipt {
    pub application_id: String,
    pub status: ApplicationStatus,
    pub round: i64,
    pub job_id: String,
    pub submitted_at: i64,
}

/// What a pre-review job is asked to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrereviewJob {
    pub application_id: String,
    pub round: i64,
}

pub const JOB_KIND_PREREVIEW: &str = "prereview";

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, Deserialize)]
pub struct PrereviewRoundRecord {
    pub application_id: String,
    pub round: i64,
    /// `pending`, `running` or `done`.
    pub state: String,
    pub submitted_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    pub outcome: Option<String>,
    /// JSON list of findings once done.
    pub findings: Option<String>,
    /// JSON list of the materials as they were at submission, so later rounds keep theirs.
    pub materials: String,
    pub materials_done: i64,
    pub materials_total: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct JobRecord {
    pub id: String,
    pub kind: String,
    pub payload: String,
    /// `queued`, `running`, `done` or `dead`.
    pub state: String,
    pub attempts: i64,
    pub max_attempts: i64,
    pub run_after: i64,
    pub lease_until: Option<i64>,
    pub locked_by: Option<String>,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// The rules' decision for one round, with the facts it was made on (for replay).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, Deserialize)]
pub struct DecisionRecord {
    pub application_id: String,
    pub round: i64,
    #[sqlx(try_from = "String")]
    pub outcome: DecisionOutcome,
    pub ruleset_id: String,
    pub ruleset_version: String,
    pub ruleset_sha256: String,
    /// JSON list of Chinese reasons.
    pub reasons: String,
    /// JSON trace: rule, result, facts read.
    pub trace: String,
    /// JSON snapshot of all facts.
    pub facts: String,
    pub decided_at: i64,
}

/// One department's review of one round of an application.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, Deserialize)]
pub struct TrackRecord {
    pub id: String,
    pub application_id: String,
    pub round: i64,
    #[sqlx(try_from = "String")]
    pub department: Department,
    pub district: String,
    #[sqlx(try_from = "String")]
    pub status: TrackStatus,
    /// JSON list of the reasons the case needs a human.
    pub reasons: String,
    pub decided_by: Option<String>,
    pub decided_at: Option<i64>,
    pub comment: Option<String>,
    pub created_at: i64,
}

/// Everything a finished pre-review changes, written in one transaction with the job's end.
#[derive(Debug, Clone)]
pub struct PrereviewFinish {
    pub job_id: String,
    pub worker: String,
    pub application_id: String,
    pub round: i64,
    /// `pass` or `needs_correction`.
    pub outcome: String,
    pub findings: String,
    pub new_status: ApplicationStatus,
    pub decision: Option<DecisionRecord>,
    pub tracks: Vec<TrackRecord>,
    pub now: i64,
}

#[derive(Debug, Clone)]
pub struct TrackDecision {
    pub track_id: String,
    /// Approved, rejected or correction requested (never pending).
    pub status: TrackStatus,
    pub decided_by: String,
    pub comment: Option<String>,
    pub now: i64,
}

/// A fact of a firm's record: an upheld complaint, an inspection violation, a penalty, a clean
/// completion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct FirmRecordEntry {
    pub id: String,
    pub firm_id: String,
    pub kind: String,
    pub occurred_at: i64,
    pub note: String,
    pub recorded_by: String,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct GradeChange {
    pub id: String,
    pub firm_id: String,
    pub from_grade: String,
    pub to_grade: String,
    pub points: i64,
    pub cause: String,
    pub at: i64,
}

pub const JOB_KIND_SEAL: &str = "seal";

/// What a sealing job is asked to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealJob {
    pub application_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, Deserialize)]
pub struct PermitRecord {
    pub number: String,
    pub application_id: String,
    pub district: String,
    pub year: i64,
    pub seq: i64,
    /// `pending` (number allocated, not sealed yet), `valid` or `revoked`.
    pub status: String,
    pub pdf_sha256: Option<String>,
    pub issued_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub revoke_reason: Option<String>,
    pub created_at: i64,
}

/// Job kind: one event to announce (a case changed status), fanned out by the worker.
pub const JOB_KIND_EVENT: &str = "event";
/// Job kind: one event to deliver to one webhook, retried on its own.
pub const JOB_KIND_WEBHOOK: &str = "webhook";
/// Job kind: one event to mail to one person (the applicant or the complainant), retried on its own.
pub const JOB_KIND_MAIL: &str = "mail";

/// An event as queued in the same transaction as the change it announces (an outbox), so an
/// event is never lost nor sent for a change that was rolled back.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EventPayload {
    pub id: String,
    /// `application.status_changed` or `complaint.step_recorded`.
    pub event: String,
    /// `application` or `complaint`.
    pub subject: String,
    /// The application id or the complaint reference.
    pub subject_id: String,
    /// Status (or step) before and after.
    pub from: String,
    pub to: String,
    pub at: i64,
    /// The department, for `application.track_decided` (one department's decision).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
}

/// One delivery attempt of an event to one webhook.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct DeliveryRecord {
    pub id: String,
    pub event_id: String,
    pub event: String,
    pub target: String,
    pub attempt: i64,
    /// The HTTP status a webhook answered, or the SMTP reply code for a mail (`mailto:` target).
    pub http_status: Option<i64>,
    pub error: Option<String>,
    /// 1 if the receiver answered 2xx.
    pub delivered: i64,
    pub at: i64,
}

/// Everything one application's page or API view shows, read in one query: the application,
/// its firm, its materials, its latest pre-review round and rule decision, the tracks of its
/// latest review round and its permit.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CaseFile {
    pub application: ApplicationRecord,
    pub firm: FirmRecord,
    /// Oldest first.
    pub materials: Vec<MaterialRecord>,
    pub latest_round: Option<PrereviewRoundRecord>,
    pub latest_decision: Option<DecisionRecord>,
    /// The latest review round's tracks, by department; empty before the case reaches review.
    pub tracks: Vec<TrackRecord>,
    pub permit: Option<PermitRecord>,
}
