//! The pre-review's side of the lifecycle: what the worker reads a case with, and where its
//! report sends the case — back to the firm, or on to the rules, which approve, refuse or hand
//! it to both departments. Every result is written in one transaction with the job's
//! completion, so a crash at any point leaves the job to be retried after its lease.

use crate::form::ApplicationForm;
use crate::{CaseResult, Cases, SYSTEM_ACTOR};
use nightpermit_domain::{ApplicationStatus, Department, TrackStatus};
use nightpermit_prereview::findings::{Finding, Severity, PREREVIEW_FAILED};
use nightpermit_prereview::{CaseForm, MaterialFile, PrereviewReport, Verdict};
use nightpermit_rules::{decide, Outcome};
use nightpermit_store::{
    ApplicationRecord, DecisionRecord, JobRecord, MaterialRecord, PrereviewFinish, PrereviewJob, StoreError,
    TrackRecord,
};

/// A case as the pre-review reads it: the round's materials with their bytes, and the form's
/// claims the materials are checked against.
pub struct CaseToRead {
    pub application: ApplicationRecord,
    pub round: i64,
    pub form: CaseForm,
    pub files: Vec<MaterialFile>,
}

/// What a claimed pre-review job is for.
pub enum PrereviewStart {
    /// Read the case.
    Read(Box<CaseToRead>),
    /// Withdrawn, or superseded by a newer round: the job was finished, nothing changed.
    Stale,
    /// A worker died holding the job at its last attempt: it was handed to the reviewers.
    GaveUp,
}

/// The two departments' tracks of a round, pending or decided by the system.
pub fn tracks_for(
    app_id: &str,
    round: i64,
    district: &str,
    status: TrackStatus,
    reasons: &[String],
    decided: bool,
    now: i64,
) -> Vec<TrackRecord> {
    [Department::Construction, Department::Environment]
        .iter()
        .map(|d| TrackRecord {
            id: uuid::Uuid::now_v7().to_string(),
            application_id: app_id.into(),
            round,
            department: *d,
            district: district.into(),
            status,
            reasons: serde_json::to_string(reasons).unwrap_or_else(|_| "[]".into()),
            decided_by: decided.then(|| SYSTEM_ACTOR.to_string()),
            decided_at: decided.then_some(now),
            comment: decided.then(|| "规则自动审批（无人工干预）".to_string()),
            created_at: now,
        })
        .collect()
}

/// The findings with their ids (`<round>-<n>`), by which a firm contests one.
fn numbered(findings: &[Finding], round: i64) -> Vec<Finding> {
    findings.iter().enumerate().map(|(i, f)| Finding { id: Some(format!("{round}-{}", i + 1)), ..f.clone() }).collect()
}

impl Cases {
    /// Begins a claimed pre-review job: marks the round started and loads what is to be read.
    pub async fn start_prereview(&self, job: &JobRecord, worker_id: &str) -> CaseResult<PrereviewStart> {
        let payload: PrereviewJob =
            serde_json::from_str(&job.payload).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let (app_id, round) = (payload.application_id.clone(), payload.round);
        let app = self.store.application(&app_id).await?.ok_or(StoreError::NotFound)?;
        if app.status != ApplicationStatus::Prereview || app.round != round {
            self.store.complete_job(&job.id, worker_id, self.clock.now_ms()).await?;
            return Ok(PrereviewStart::Stale);
        }
        if job.attempts > job.max_attempts {
            let error = job.last_error.clone().unwrap_or_else(|| "worker stopped mid-job".into());
            self.give_up_prereview(job, worker_id, &error).await?;
            return Ok(PrereviewStart::GaveUp);
        }
        let rounds = self.store.prereview_rounds(&app_id).await?;
        let this_round = rounds
            .iter()
            .find(|r| r.round == round)
            .ok_or_else(|| StoreError::Corrupt(format!("round {round} of {app_id} missing")))?;
        self.store.start_prereview(&app_id, round, self.clock.now_ms()).await?;
        let form: ApplicationForm = crate::form::stored(&app)?;
        let firm = self.store.firm_by_id(&app.firm_id).await?.ok_or(StoreError::NotFound)?;
        let materials: Vec<MaterialRecord> =
            serde_json::from_str(&this_round.materials).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let mut files = Vec::with_capacity(materials.len());
        for m in &materials {
            files.push(MaterialFile {
                id: m.id.clone(),
                kind: m.kind,
                content_type: m.content_type.clone(),
                bytes: self.blobs.get(&m.sha256).await.map_err(|e| anyhow::anyhow!("material {}: {e}", m.id))?,
            });
        }
        let window = form
            .window()
            .ok_or_else(|| StoreError::Corrupt(format!("stored form of {app_id} has no valid night window")))?;
        let case = CaseForm {
            firm_name: firm.name.clone(),
            credit_code: firm.credit_code.clone(),
            project_name: form.project.name.clone(),
            construction_permit_no: form.project.construction_permit_no.clone(),
            builder: form.project.builder.clone(),
            start_date: window.start_date(),
            end_date: window.end_date(),
            nightly_start: window.nightly_start(),
            nightly_end: window.nightly_end(),
        };
        Ok(PrereviewStart::Read(Box::new(CaseToRead { application: app, round, form: case, files })))
    }

    /// Materials read so far, for the firm's progress view.
    pub async fn prereview_progress(&self, app_id: &str, round: i64, done: usize) -> CaseResult<()> {
        Ok(self.store.prereview_progress(app_id, round, i64::try_from(done).unwrap_or(i64::MAX)).await?)
    }

    /// Routes the case by the pre-review's report: failing findings return it to the firm;
    /// a clean case goes to the rules (which fail closed: a fact that cannot be established
    /// sends it to both departments). Returns false if the job's lease was lost meanwhile
    /// (another worker redoes it; nothing was written).
    pub async fn finish_prereview(
        &self,
        job: &JobRecord,
        worker_id: &str,
        case: &CaseToRead,
        report: &PrereviewReport,
    ) -> CaseResult<bool> {
        let app = &case.application;
        if report.verdict == Verdict::NeedsCorrection {
            let f = self.finish_of(
                job,
                worker_id,
                app,
                case.round,
                ApplicationStatus::NeedsCorrection,
                Verdict::NeedsCorrection,
                &report.findings,
                None,
                vec![],
            );
            return Ok(self.store.finish_prereview(&f, SYSTEM_ACTOR).await?);
        }
        let warnings = report.findings.iter().filter(|f| f.severity == Severity::Warning).count();
        let now = self.clock.now_ms();
        let form: ApplicationForm = crate::form::stored(app)?;
        let firm = self.store.firm_by_id(&app.firm_id).await?.ok_or(StoreError::NotFound)?;
        let facts = crate::facts::assemble(self, app, &form, &firm, warnings, now).await?;
        let decision = decide(&self.policy.rules, &facts);
        let json = |v: Result<String, serde_json::Error>| v.map_err(|e| anyhow::anyhow!("decision record: {e}"));
        let record = DecisionRecord {
            application_id: app.id.clone(),
            round: case.round,
            outcome: decision.outcome,
            ruleset_id: decision.ruleset_id.clone(),
            ruleset_version: decision.ruleset_version.clone(),
            ruleset_sha256: decision.ruleset_sha256.clone(),
            reasons: json(serde_json::to_string(&decision.reasons))?,
            trace: json(serde_json::to_string(&decision.trace))?,
            facts: json(serde_json::to_string(&facts))?,
            decided_at: now,
        };
        let (status, tracks) = match decision.outcome {
            Outcome::AutoApprove => (
                ApplicationStatus::Approved,
                tracks_for(&app.id, case.round, &app.district, TrackStatus::Approved, &[], true, now),
            ),
            Outcome::ManualReview => (
                ApplicationStatus::UnderReview,
                tracks_for(&app.id, case.round, &app.district, TrackStatus::Pending, &decision.reasons, false, now),
            ),
            Outcome::Reject => (ApplicationStatus::Rejected, vec![]),
        };
        let f = self.finish_of(
            job,
            worker_id,
            app,
            case.round,
            status,
            Verdict::Pass,
            &report.findings,
            Some(record),
            tracks,
        );
        Ok(self.store.finish_prereview(&f, SYSTEM_ACTOR).await?)
    }

    /// A job that failed on every attempt: the case goes to both departments' reviewers with an
    /// internal-error finding, never back to the applicant and never into a retry loop.
    pub async fn give_up_prereview(&self, job: &JobRecord, worker_id: &str, error: &str) -> CaseResult<()> {
        let payload: PrereviewJob =
            serde_json::from_str(&job.payload).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let app = self.store.application(&payload.application_id).await?.ok_or(StoreError::NotFound)?;
        let now = self.clock.now_ms();
        let reason = "智能预审多次未能完成，转人工审核".to_string();
        let finding = Finding::new(
            PREREVIEW_FAILED,
            Severity::Warning,
            format!("智能预审系统故障（{}），材料需人工审核", error.chars().take(200).collect::<String>()),
        );
        let rules = &self.policy.rules;
        let decision = DecisionRecord {
            application_id: app.id.clone(),
            round: payload.round,
            outcome: Outcome::ManualReview,
            ruleset_id: rules.id.clone(),
            ruleset_version: rules.version.clone(),
            ruleset_sha256: rules.sha256.clone(),
            reasons: serde_json::to_string(&[&reason]).map_err(|e| anyhow::anyhow!(e))?,
            trace: "[]".into(),
            facts: "{}".into(),
            decided_at: now,
        };
        let tracks = tracks_for(
            &app.id,
            payload.round,
            &app.district,
            TrackStatus::Pending,
            std::slice::from_ref(&reason),
            false,
            now,
        );
        let f = self.finish_of(
            job,
            worker_id,
            &app,
            payload.round,
            ApplicationStatus::UnderReview,
            Verdict::Pass,
            &[finding],
            Some(decision),
            tracks,
        );
        self.store.finish_prereview(&f, SYSTEM_ACTOR).await?;
        tracing::error!(job = %job.id, application = %app.id, attempts = job.attempts, "pre-review gave up; sent to reviewers");
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn finish_of(
        &self,
        job: &JobRecord,
        worker_id: &str,
        app: &ApplicationRecord,
        round: i64,
        new_status: ApplicationStatus,
        verdict: Verdict,
        findings: &[Finding],
        decision: Option<DecisionRecord>,
        tracks: Vec<TrackRecord>,
    ) -> PrereviewFinish {
        PrereviewFinish {
            job_id: job.id.clone(),
            worker: worker_id.to_string(),
            application_id: app.id.clone(),
            round,
            outcome: verdict.id().to_string(),
            findings: serde_json::to_string(&numbered(findings, round)).unwrap_or_else(|_| "[]".into()),
            new_status,
            decision,
            tracks,
            now: self.clock.now_ms(),
        }
    }
}
