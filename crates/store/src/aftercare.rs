//! After-care storage: complaints and their steps, inspection draws and their results. Declared
//! as its own trait (a supertrait of [`crate::Store`]) so it stays one block beside the case
//! workflow; the SQL lives in `sql/aftercare.rs`.

use crate::{ApplicationRecord, AuditEntry, FirmRecordEntry, GradeChange, PermitRecord, StaffRecord, StoreResult};
use async_trait::async_trait;
use nightpermit_domain::{ComplaintOutcome, ComplaintPriority, ComplaintStep, InspectionStatus, Role};

/// A firm-record entry and the grade change it causes, written in the same transaction as the
/// step that caused it (an upheld complaint, a failed inspection).
pub type FirmRecordWrite = (FirmRecordEntry, Option<GradeChange>);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComplaintRecord {
    pub id: String,
    pub reference: String,
    pub district: String,
    pub address: Option<String>,
    pub permit_number: Option<String>,
    pub occurred_at: i64,
    /// Plain text as the resident wrote it; never interpreted as markup.
    pub description: String,
    pub contact_name: Option<String>,
    pub contact_phone: Option<String>,
    /// Where the complainant is told when the complaint moves; never shown publicly.
    pub contact_email: Option<String>,
    pub priority: ComplaintPriority,
    /// JSON list of the permit numbers in force at that place and time.
    pub matched_permits: String,
    pub received_at: i64,
    pub contact_by: i64,
    pub inspect_by: i64,
    pub check_by: i64,
    pub conclude_by: i64,
    pub contacted_at: Option<i64>,
    pub contacted_by: Option<String>,
    pub contact_note: Option<String>,
    pub inspected_at: Option<i64>,
    pub inspected_by: Option<String>,
    pub noise_tenths_db: Option<i64>,
    pub rectification_ordered: Option<bool>,
    pub inspect_note: Option<String>,
    pub checked_at: Option<i64>,
    pub checked_by: Option<String>,
    pub rectified: Option<bool>,
    pub check_note: Option<String>,
    pub concluded_at: Option<i64>,
    pub concluded_by: Option<String>,
    pub outcome: Option<ComplaintOutcome>,
    pub conclude_note: Option<String>,
}

impl ComplaintRecord {
    /// When `step` was recorded, if it was.
    pub fn done_at(&self, step: ComplaintStep) -> Option<i64> {
        match step {
            ComplaintStep::Contacted => self.contacted_at,
            ComplaintStep::Inspected => self.inspected_at,
            ComplaintStep::Checked => self.checked_at,
            ComplaintStep::Concluded => self.concluded_at,
        }
    }

    pub fn due_at(&self, step: ComplaintStep) -> i64 {
        match step {
            ComplaintStep::Contacted => self.contact_by,
            ComplaintStep::Inspected => self.inspect_by,
            ComplaintStep::Checked => self.check_by,
            ComplaintStep::Concluded => self.conclude_by,
        }
    }

    /// Whether `step` is late at `now`: done after its deadline, or not done and past it.
    pub fn overdue(&self, step: ComplaintStep, now: i64) -> bool {
        let due = self.due_at(step);
        match self.done_at(step) {
            Some(at) => at > due,
            // A step skipped because the case was concluded without it is not late.
            None => self.concluded_at.is_none() && now > due,
        }
    }

    /// The last step recorded, if any (steps are recorded in order).
    pub fn last_step(&self) -> Option<ComplaintStep> {
        [ComplaintStep::Concluded, ComplaintStep::Checked, ComplaintStep::Inspected, ComplaintStep::Contacted]
            .into_iter()
            .find(|st| self.done_at(*st).is_some())
    }

    /// Whether `step` may be recorded now: not yet recorded, the case still open, and the steps
    /// before it done (the check may be skipped when no rectification was ordered). Returns the
    /// stable code of the refusal.
    pub fn refusal(&self, step: ComplaintStep) -> Option<&'static str> {
        if self.concluded_at.is_some() {
            return Some("COMPLAINT_CONCLUDED");
        }
        if self.done_at(step).is_some() {
            return Some("STEP_ALREADY_RECORDED");
        }
        let ready = match step {
            ComplaintStep::Contacted => true,
            ComplaintStep::Inspected => self.contacted_at.is_some(),
            ComplaintStep::Checked => self.inspected_at.is_some(),
            ComplaintStep::Concluded => {
                self.inspected_at.is_some() && (self.checked_at.is_some() || self.rectification_ordered == Some(false))
            }
        };
        (!ready).then_some("STEP_OUT_OF_ORDER")
    }
}

fn closed<T: std::str::FromStr<Err = nightpermit_domain::UnknownValue>>(
    column: &str,
    text: &str,
) -> Result<T, sqlx::Error> {
    text.parse().map_err(|e| sqlx::Error::ColumnDecode { index: column.into(), source: Box::new(e) })
}

fn flag(column: &str, v: Option<i64>) -> Result<Option<bool>, sqlx::Error> {
    match v {
        None => Ok(None),
        Some(0) => Ok(Some(false)),
        Some(1) => Ok(Some(true)),
        Some(other) => Err(sqlx::Error::ColumnDecode {
            index: column.into(),
            source: format!("flag must be 0 or 1, found {other}").into(),
        }),
    }
}

impl<'r> sqlx::FromRow<'r, sqlx::any::AnyRow> for ComplaintRecord {
    fn from_row(row: &'r sqlx::any::AnyRow) -> Result<Self, sqlx::Error> {
        use sqlx::Row;
        let priority: String = row.try_get("priority")?;
        let outcome: Option<String> = row.try_get("outcome")?;
        Ok(ComplaintRecord {
            id: row.try_get("id")?,
            reference: row.try_get("reference")?,
            district: row.try_get("district")?,
            address: row.try_get("address")?,
            permit_number: row.try_get("permit_number")?,
            occurred_at: row.try_get("occurred_at")?,
            description: row.try_get("description")?,
            contact_name: row.try_get("contact_name")?,
            contact_phone: row.try_get("contact_phone")?,
            contact_email: row.try_get("contact_email")?,
            priority: closed("priority", &priority)?,
            matched_permits: row.try_get("matched_permits")?,
            received_at: row.try_get("received_at")?,
            contact_by: row.try_get("contact_by")?,
            inspect_by: row.try_get("inspect_by")?,
            check_by: row.try_get("check_by")?,
            conclude_by: row.try_get("conclude_by")?,
            contacted_at: row.try_get("contacted_at")?,
            contacted_by: row.try_get("contacted_by")?,
            contact_note: row.try_get("contact_note")?,
            inspected_at: row.try_get("inspected_at")?,
            inspected_by: row.try_get("inspected_by")?,
            noise_tenths_db: row.try_get("noise_tenths_db")?,
            rectification_ordered: flag("rectification_ordered", row.try_get("rectification_ordered")?)?,
            inspect_note: row.try_get("inspect_note")?,
            checked_at: row.try_get("checked_at")?,
            checked_by: row.try_get("checked_by")?,
            rectified: flag("rectified", row.try_get("rectified")?)?,
            check_note: row.try_get("check_note")?,
            concluded_at: row.try_get("concluded_at")?,
            concluded_by: row.try_get("concluded_by")?,
            outcome: outcome.map(|o| closed("outcome", &o)).transpose()?,
            conclude_note: row.try_get("conclude_note")?,
        })
    }
}

/// One step of a complaint as an inspector records it; the fields a step does not use are None.
#[derive(Debug, Clone)]
pub struct ComplaintStepUpdate {
    pub reference: String,
    pub step: ComplaintStep,
    pub by: String,
    pub at: i64,
    pub note: Option<String>,
    pub noise_tenths_db: Option<i64>,
    pub rectification_ordered: Option<bool>,
    pub rectified: Option<bool>,
    pub outcome: Option<ComplaintOutcome>,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct InspectionDrawRecord {
    pub id: String,
    pub district: String,
    /// The seed as decimal text (a u64 does not fit every database's BIGINT).
    pub seed: String,
    pub requested: i64,
    /// JSON: the frame drawn from, each permit with its grade and weight, in draw order.
    pub frame: String,
    /// JSON: the inspectors' usernames the draw chose among.
    pub inspectors: String,
    pub drawn_by: String,
    pub drawn_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InspectionRecord {
    pub id: String,
    pub draw_id: String,
    pub permit_number: String,
    pub firm_id: String,
    pub district: String,
    pub inspector_id: String,
    pub status: InspectionStatus,
    pub noise_tenths_db: Option<i64>,
    pub measures_ok: Option<bool>,
    pub comment: Option<String>,
    pub result_at: Option<i64>,
    pub created_at: i64,
}

impl<'r> sqlx::FromRow<'r, sqlx::any::AnyRow> for InspectionRecord {
    fn from_row(row: &'r sqlx::any::AnyRow) -> Result<Self, sqlx::Error> {
        use sqlx::Row;
        let status: String = row.try_get("status")?;
        Ok(InspectionRecord {
            id: row.try_get("id")?,
            draw_id: row.try_get("draw_id")?,
            permit_number: row.try_get("permit_number")?,
            firm_id: row.try_get("firm_id")?,
            district: row.try_get("district")?,
            inspector_id: row.try_get("inspector_id")?,
            status: closed("status", &status)?,
            noise_tenths_db: row.try_get("noise_tenths_db")?,
            measures_ok: flag("measures_ok", row.try_get("measures_ok")?)?,
            comment: row.try_get("comment")?,
            result_at: row.try_get("result_at")?,
            created_at: row.try_get("created_at")?,
        })
    }
}

#[derive(Debug, Clone)]
pub struct InspectionResult {
    pub inspection_id: String,
    /// Only the assigned inspector may record the result.
    pub inspector_id: String,
    pub status: InspectionStatus,
    pub noise_tenths_db: i64,
    pub measures_ok: bool,
    pub comment: String,
    pub at: i64,
}

#[async_trait]
pub trait AftercareStore: Send + Sync {
    /// Records a new complaint; audited without the complainant's personal data.
    async fn create_complaint(&self, c: &ComplaintRecord, actor: &str) -> StoreResult<()>;
    async fn complaint(&self, reference: &str) -> StoreResult<Option<ComplaintRecord>>;
    /// A district's complaints, oldest first; `open_only` leaves out the concluded ones.
    async fn complaints_in_district(&self, district: &str, open_only: bool) -> StoreResult<Vec<ComplaintRecord>>;
    /// Records one step under the complaint's lock, with the firm-record entries it causes
    /// (an upheld conclusion), all or nothing. A step out of order, recorded twice or after the
    /// conclusion is `StoreError::Conflict` with its code.
    async fn record_complaint_step(
        &self,
        step: &ComplaintStepUpdate,
        records: &[FirmRecordWrite],
        actor: &str,
    ) -> StoreResult<ComplaintRecord>;

    /// Staff of one role in one district (the inspectors a draw assigns).
    async fn staff_in_district(&self, district: &str, role: Role) -> StoreResult<Vec<StaffRecord>>;
    /// Every permit that has been issued (not pending) with its application, by number; in one
    /// district or all.
    async fn issued_permits(&self, district: Option<&str>) -> StoreResult<Vec<(PermitRecord, ApplicationRecord)>>;
    /// Valid permits whose nights include `night` in a district, each with its case, firm name and
    /// inspections, by number — a fixed number of queries however many permits there are.
    async fn permit_cases_for_night(&self, district: &str, night: &str) -> StoreResult<Vec<PermitCase>>;
    /// One issued (not pending) permit with its case, firm name and inspections.
    async fn permit_case(&self, number: &str) -> StoreResult<Option<PermitCase>>;
    /// Issued, revoked and expired events from the audit log, newest first.
    async fn permit_events(&self, limit: i64) -> StoreResult<Vec<AuditEntry>>;

    /// Stores a draw and the inspections it assigned, audited with its seed.
    async fn create_draw(
        &self,
        draw: &InspectionDrawRecord,
        items: &[InspectionRecord],
        actor: &str,
    ) -> StoreResult<()>;
    async fn inspection_draw(&self, id: &str) -> StoreResult<Option<InspectionDrawRecord>>;
    async fn inspection(&self, id: &str) -> StoreResult<Option<InspectionRecord>>;
    async fn inspections_for_inspector(&self, inspector_id: &str) -> StoreResult<Vec<InspectionRecord>>;
    async fn inspections_for_permit(&self, number: &str) -> StoreResult<Vec<InspectionRecord>>;
    /// Records the result of an assigned inspection (once; by its inspector) with the firm-record
    /// entry a failure causes, all or nothing.
    async fn record_inspection_result(
        &self,
        result: &InspectionResult,
        record: Option<&FirmRecordWrite>,
        actor: &str,
    ) -> StoreResult<InspectionRecord>;
}

/// A permit with what its public record shows: the case it was granted on, the firm's name and
/// the inspections of the site.
#[derive(Debug, Clone, PartialEq)]
pub struct PermitCase {
    pub permit: PermitRecord,
    pub application: ApplicationRecord,
    pub firm_name: String,
    pub inspections: Vec<InspectionRecord>,
}
