//! Storage for nightpermit: one [`Store`] trait, served by SQLite (embedded default) or Postgres
//! (scale-out), plus the content-addressed blob store. Both backends run the same SQL through
//! sqlx's `Any` driver; where the dialects differ (`FOR UPDATE SKIP LOCKED`, advisory locks) the
//! backend says so explicitly.
#![forbid(unsafe_code)]

pub mod aftercare;
pub mod audit;
pub mod blobs;
mod records;
mod sql;
/// Fresh databases for tests; only with the `testing` feature (tests enable it).
#[cfg(feature = "testing")]
pub mod testing;

pub use aftercare::*;
pub use audit::{AuditEntry, AuditVerification};
pub use blobs::{BlobError, BlobStore, LocalBlobStore};
pub use records::*;
pub use sql::{redact, Backend, SqlStore};

use async_trait::async_trait;
use nightpermit_domain::ApplicationStatus;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A unique value (credit code, username, ...) is already taken.
    #[error("already exists: {0}")]
    AlreadyExists(&'static str),
    /// The application is not in a status that allows the operation.
    #[error("application is {current}")]
    WrongStatus { current: ApplicationStatus },
    /// An idempotency key was reused for a different application.
    #[error("idempotency key reused for another application")]
    IdempotencyKeyReused,
    /// An after-care step the current state does not allow (recorded twice, out of order, not
    /// the caller's); carries the stable code the API answers with.
    #[error("conflict: {0}")]
    Conflict(&'static str),
    /// A stored value the code cannot read (e.g. a status outside its set): logged where it is
    /// found, answered as a plain server error.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Database(sqlx::Error),
    #[error("migration error: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            // A row whose column does not decode into its domain type holds data no code path
            // wrote: corruption (or a hand edit), not a database outage.
            sqlx::Error::ColumnDecode { index, source } => {
                let what = format!("column {index}: {source}");
                tracing::error!(problem = %what, "corrupt row in the database");
                StoreError::Corrupt(what)
            }
            other => StoreError::Database(other),
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Which applications a listing covers.
#[derive(Debug, Clone)]
pub enum ApplicationScope {
    Firm(String),
    District(String),
    All,
}

/// Everything the service persists, behind one interface so the API and workers do not care
/// which database serves them. Each method is one transaction; state changes append to the
/// audit log inside that same transaction.
#[async_trait]
pub trait Store: AftercareStore + Send + Sync + 'static {
    fn backend(&self) -> Backend;
    async fn migrate(&self) -> StoreResult<()>;
    async fn ping(&self) -> StoreResult<()>;

    async fn create_firm(&self, firm: &FirmRecord, actor: &str) -> StoreResult<()>;
    async fn firm_by_id(&self, id: &str) -> StoreResult<Option<FirmRecord>>;
    async fn firm_by_credit_code(&self, credit_code: &str) -> StoreResult<Option<FirmRecord>>;

    async fn create_staff(&self, staff: &StaffRecord, actor: &str) -> StoreResult<()>;
    async fn staff_by_id(&self, id: &str) -> StoreResult<Option<StaffRecord>>;
    async fn staff_by_username(&self, username: &str) -> StoreResult<Option<StaffRecord>>;
    /// Every staff account, by username.
    async fn list_staff(&self) -> StoreResult<Vec<StaffRecord>>;
    /// Disables a staff account and ends all its sessions in one transaction; audited. A second
    /// call keeps the first time. Returns how many sessions ended; NotFound if there is no such
    /// account.
    async fn disable_staff(&self, staff_id: &str, actor: &str, now: i64) -> StoreResult<u64>;
    /// Lets a disabled staff account sign in again; audited. NotFound if there is no such account.
    async fn enable_staff(&self, staff_id: &str, actor: &str, now: i64) -> StoreResult<()>;

    async fn create_session(&self, session: &SessionRecord) -> StoreResult<()>;
    /// The session a token hash names, with the account it signed in.
    async fn session(&self, token_hash: &str) -> StoreResult<Option<SignedIn>>;
    async fn delete_expired_sessions(&self, now: i64) -> StoreResult<u64>;
    /// Ends one session (sign-out); false if there was none.
    async fn delete_session(&self, token_hash: &str) -> StoreResult<bool>;
    /// Ends every session of a principal except `keep` (the caller's own, when it changes its
    /// password); audited. Returns how many ended.
    async fn revoke_sessions(
        &self,
        principal_kind: &str,
        principal_id: &str,
        keep: Option<&str>,
        actor: &str,
        now: i64,
    ) -> StoreResult<u64>;
    /// Replaces a firm's or staff member's password hash and ends its other sessions, in one
    /// transaction; audited (without the hash).
    async fn change_password(
        &self,
        principal_kind: &str,
        principal_id: &str,
        password_hash: &str,
        keep_session: Option<&str>,
        actor: &str,
        now: i64,
    ) -> StoreResult<()>;
    /// A security event with no state change of its own (e.g. an account locked after repeated
    /// wrong passwords), appended to the audit log.
    async fn record_security_event(
        &self,
        action: &str,
        entity: &str,
        entity_id: &str,
        detail: &serde_json::Value,
        actor: &str,
        now: i64,
    ) -> StoreResult<()>;

    async fn create_application(&self, app: &ApplicationRecord, actor: &str) -> StoreResult<()>;
    async fn application(&self, id: &str) -> StoreResult<Option<ApplicationRecord>>;
    /// An application with everything its view shows, in one round trip.
    async fn case_file(&self, id: &str) -> StoreResult<Option<CaseFile>>;
    /// Newest first; returns the page and the total count.
    async fn list_applications(
        &self,
        scope: &ApplicationScope,
        limit: i64,
        offset: i64,
    ) -> StoreResult<(Vec<ApplicationRecord>, i64)>;
    /// Replaces the form of an editable application (draft or needs_correction).
    async fn update_application_form(&self, update: &FormUpdate, actor: &str) -> StoreResult<ApplicationRecord>;

    async fn add_material(&self, material: &MaterialRecord, actor: &str) -> StoreResult<()>;
    async fn materials(&self, application_id: &str) -> StoreResult<Vec<MaterialRecord>>;
    async fn delete_material(&self, application_id: &str, material_id: &str, actor: &str, now: i64) -> StoreResult<()>;

    /// Submits an application for pre-review: one new round, one queued job, status
    /// `prereview`. With an idempotency key, a repeat returns the first receipt and does nothing.
    async fn submit_application(&self, submit: &SubmitRequest, actor: &str) -> StoreResult<SubmitReceipt>;
    async fn prereview_rounds(&self, application_id: &str) -> StoreResult<Vec<PrereviewRoundRecord>>;
    /// The firm withdraws its application before any decision: while a draft, in pre-review,
    /// returned for correction, or under review with neither department having decided.
    /// Audited; returns the withdrawn application.
    /// The firm contests the pre-review of `round` (`dispute` says which findings and why): a
    /// case returned for correction goes to both departments' reviewers instead, with `tracks`
    /// pending. WrongStatus unless the case is `needs_correction` in that round.
    async fn dispute_prereview(
        &self,
        application_id: &str,
        round: i64,
        tracks: &[TrackRecord],
        dispute: &serde_json::Value,
        actor: &str,
        now: i64,
    ) -> StoreResult<ApplicationRecord>;
    async fn withdraw_application(&self, application_id: &str, actor: &str, now: i64)
        -> StoreResult<ApplicationRecord>;

    /// Takes the oldest runnable job of one of `kinds`: queued and due, or running with an
    /// expired lease (its worker died). Counts the attempt.
    async fn claim_job(&self, kinds: &[&str], worker: &str, now: i64, lease_ms: i64) -> StoreResult<Option<JobRecord>>;
    /// Marks a job done; false if this worker no longer holds it.
    async fn complete_job(&self, job_id: &str, worker: &str, now: i64) -> StoreResult<bool>;
    /// Records a failure: queued again at `retry_at`, or dead once its attempts are used up.
    async fn fail_job(&self, job_id: &str, worker: &str, error: &str, now: i64, retry_at: i64) -> StoreResult<bool>;
    /// Gives a claimed job back untouched (graceful shutdown); the attempt is not counted.
    async fn release_job(&self, job_id: &str, worker: &str, now: i64) -> StoreResult<bool>;
    async fn job(&self, job_id: &str) -> StoreResult<Option<JobRecord>>;
    async fn jobs_for_application(&self, application_id: &str) -> StoreResult<Vec<JobRecord>>;

    /// Marks a round as running (a worker picked it up).
    async fn start_prereview(&self, application_id: &str, round: i64, now: i64) -> StoreResult<()>;
    async fn prereview_progress(&self, application_id: &str, round: i64, done: i64) -> StoreResult<()>;
    /// Records the report, the decision, the tracks and the new status, and completes the job —
    /// all or nothing. False if the job is no longer this worker's or the round is stale.
    async fn finish_prereview(&self, finish: &PrereviewFinish, actor: &str) -> StoreResult<bool>;
    async fn decisions(&self, application_id: &str) -> StoreResult<Vec<DecisionRecord>>;
    async fn decisions_since(&self, since: i64) -> StoreResult<Vec<DecisionRecord>>;
    async fn tracks(&self, application_id: &str) -> StoreResult<Vec<TrackRecord>>;
    async fn track(&self, track_id: &str) -> StoreResult<Option<TrackRecord>>;
    /// A department's queue in a district, oldest first; `pending` lists only cases still under
    /// review. Each task comes with what a queue shows of its case (one query, however long).
    async fn review_queue(
        &self,
        district: &str,
        department: &str,
        status: Option<&str>,
    ) -> StoreResult<Vec<QueueEntry>>;
    /// One page of [`Store::review_queue`]: `limit` tasks after the first `offset`.
    async fn review_queue_page(
        &self,
        district: &str,
        department: &str,
        status: Option<&str>,
        limit: i64,
        offset: i64,
    ) -> StoreResult<Vec<QueueEntry>>;
    /// How many tasks each `review_queue` filter would list.
    async fn review_queue_counts(&self, district: &str, department: &str) -> StoreResult<QueueCounts>;
    /// Decides a pending track and moves the application: any rejection rejects, a correction
    /// request returns it to the firm, both approvals approve. Returns the track and new status.
    async fn decide_track(
        &self,
        decision: &TrackDecision,
        actor: &str,
    ) -> StoreResult<(TrackRecord, ApplicationStatus)>;
    /// Every application for one construction site, oldest first, each with its sealed permit's number.
    async fn applications_by_site(&self, construction_permit_no: &str) -> StoreResult<Vec<SiteApplication>>;
    async fn applications_by_firm(&self, firm_id: &str) -> StoreResult<Vec<ApplicationRecord>>;
    async fn firm_records(&self, firm_id: &str) -> StoreResult<Vec<FirmRecordEntry>>;
    /// Adds a record entry and, if the grade changes, the new grade and its history line.
    async fn add_firm_record(
        &self,
        entry: &FirmRecordEntry,
        change: Option<&GradeChange>,
        actor: &str,
    ) -> StoreResult<()>;
    async fn grade_changes(&self, firm_id: &str) -> StoreResult<Vec<GradeChange>>;

    /// The permit number of an application, allocated once per district and year.
    async fn allocate_permit_number(
        &self,
        application_id: &str,
        district: &str,
        year: i64,
        now: i64,
    ) -> StoreResult<PermitRecord>;
    /// Records the sealed PDF, makes the permit valid and the application `issued`, and
    /// completes the sealing job — all or nothing. False if the job is no longer this worker's.
    async fn issue_permit(
        &self,
        job_id: &str,
        worker: &str,
        number: &str,
        pdf_sha256: &str,
        now: i64,
    ) -> StoreResult<bool>;
    async fn permit(&self, number: &str) -> StoreResult<Option<PermitRecord>>;
    async fn permit_for_application(&self, application_id: &str) -> StoreResult<Option<PermitRecord>>;
    /// Valid permits whose application's last night begins on or before `date` (YYYY-MM-DD):
    /// the candidates for expiry; the caller decides by the nights' exact end.
    async fn valid_permits_ending_by(&self, date: &str) -> StoreResult<Vec<PermitRecord>>;
    /// Marks a valid permit `expired` and its application `expired`, audited; false if it was
    /// no longer valid (revoked, or expired by another worker).
    async fn expire_permit(&self, number: &str, now: i64) -> StoreResult<bool>;
    /// Revokes a valid permit; the application becomes `revoked`.
    async fn revoke_permit(&self, number: &str, reason: &str, actor: &str, now: i64) -> StoreResult<PermitRecord>;

    /// Queues a job of any kind (e.g. one webhook delivery of an event).
    async fn enqueue_job(&self, id: &str, kind: &str, payload: &str, max_attempts: i64, now: i64) -> StoreResult<()>;
    async fn record_delivery(&self, delivery: &DeliveryRecord) -> StoreResult<()>;
    /// Delivery attempts of one event, oldest first.
    async fn deliveries(&self, event_id: &str) -> StoreResult<Vec<DeliveryRecord>>;

    async fn audit_entries(&self, after_seq: i64, limit: i64) -> StoreResult<Vec<AuditEntry>>;
    async fn audit_entries_for(&self, entity: &str, entity_id: &str) -> StoreResult<Vec<AuditEntry>>;
    /// Recomputes every chain, checks each against its head and the checkpoints, and names the
    /// first broken link.
    async fn verify_audit_chain(&self) -> StoreResult<AuditVerification>;
    /// Records the heads of the chains that moved since the last checkpoint; `None` if none
    /// moved. Run periodically by the workers (idempotent, serialised).
    async fn checkpoint_audit(&self, now: i64) -> StoreResult<Option<i64>>;
}
