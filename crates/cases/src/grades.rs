//! Firm grades (三色码) kept in step with the firm's record: every new record entry recomputes
//! the grade, and a change is stored with its cause.

use nightpermit_rules::grading::{GradingPolicy, RecordKind};
use nightpermit_store::{FirmRecord, FirmRecordEntry, GradeChange, Store, StoreResult};

pub struct RecordOutcome {
    pub entry: FirmRecordEntry,
    pub grade: String,
    pub points: i64,
    pub change: Option<GradeChange>,
}

use crate::time::shanghai_local as local;

/// Adds a record entry for `firm` and recomputes its grade by `policy`.
#[allow(clippy::too_many_arguments)]
pub async fn record(
    store: &dyn Store,
    policy: &GradingPolicy,
    firm: &FirmRecord,
    kind: RecordKind,
    occurred_at: i64,
    note: &str,
    actor: &str,
    now: i64,
) -> StoreResult<RecordOutcome> {
    let outcome = prepare(store, policy, firm, kind, occurred_at, note, actor, now).await?;
    store.add_firm_record(&outcome.entry, outcome.change.as_ref(), actor).await?;
    Ok(outcome)
}

/// The entry and the grade change a new record would make, without writing them: for steps
/// that write the entry in their own transaction (an upheld complaint, a failed inspection).
#[allow(clippy::too_many_arguments)]
pub async fn prepare(
    store: &dyn Store,
    policy: &GradingPolicy,
    firm: &FirmRecord,
    kind: RecordKind,
    occurred_at: i64,
    note: &str,
    actor: &str,
    now: i64,
) -> StoreResult<RecordOutcome> {
    let entry = FirmRecordEntry {
        id: uuid::Uuid::now_v7().to_string(),
        firm_id: firm.id.clone(),
        kind: kind.id().into(),
        occurred_at,
        note: note.into(),
        recorded_by: actor.into(),
        created_at: now,
    };
    let mut history: Vec<(RecordKind, chrono::NaiveDateTime)> = store
        .firm_records(&firm.id)
        .await?
        .iter()
        .filter_map(|r| RecordKind::parse(&r.kind).map(|k| (k, local(r.occurred_at))))
        .collect();
    history.push((kind, local(occurred_at)));
    let result = policy.grade(&history, local(now));
    let grade = result.grade.id().to_string();
    let change = (grade != firm.grade).then(|| GradeChange {
        id: uuid::Uuid::now_v7().to_string(),
        firm_id: firm.id.clone(),
        from_grade: firm.grade.clone(),
        to_grade: grade.clone(),
        points: result.points,
        cause: format!("{}: {note}", kind.id()),
        at: now,
    });
    Ok(RecordOutcome { entry, grade, points: result.points, change })
}
