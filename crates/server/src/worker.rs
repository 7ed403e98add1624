//! The pre-review worker: claims jobs, runs the OCR pre-review, and on a clean result asks the
//! rules — all results written in one transaction with the job's completion, so a crash at any
//! point leaves the job to be retried after its lease.

use crate::facts;
use crate::form::ApplicationForm;
use crate::state::AppState;
use nightpermit_domain::{ApplicationStatus, Department, TrackStatus};
use nightpermit_prereview::findings::{Finding, Severity, PREREVIEW_FAILED};
use nightpermit_prereview::{CaseForm, MaterialFile, Prereviewer, Verdict};
use nightpermit_rules::{decide, Outcome};
use nightpermit_store::{
    DecisionRecord, JobRecord, MaterialRecord, PrereviewFinish, PrereviewJob, TrackRecord, JOB_KIND_EVENT,
    JOB_KIND_PREREVIEW, JOB_KIND_SEAL, JOB_KIND_WEBHOOK,
};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

pub const SYSTEM_ACTOR: &str = "system";
/// How often a worker expires permits whose nights are over and purges ended sessions. Every
/// worker does it; both steps are idempotent, so several workers do no harm.
const HOUSEKEEPING_EVERY: Duration = Duration::from_secs(60);

/// Runs until `shutdown` turns true; finishes the job in hand first.
pub async fn run(
    state: AppState,
    prereviewer: Arc<Prereviewer>,
    worker_id: String,
    mut shutdown: watch::Receiver<bool>,
) {
    let poll = Duration::from_millis(state.settings.worker.poll_interval_ms);
    let lease_ms = state.settings.jobs.lease_secs * 1000;
    tracing::info!(worker = %worker_id, "pre-review worker started");
    let mut housekeeping_due = tokio::time::Instant::now();
    // Several cases at once, sharing the OCR threads: a case whose file takes its whole time
    // budget holds one thread, and the next firm's case is read on the others meanwhile.
    let concurrent = state.settings.worker.ocr_threads.max(1);
    let mut in_flight = tokio::task::JoinSet::new();
    loop {
        if *shutdown.borrow() {
            break;
        }
        if tokio::time::Instant::now() >= housekeeping_due {
            if let Err(e) = housekeeping(&state).await {
                tracing::error!(error = %e, "housekeeping failed; will try again");
            }
            housekeeping_due = tokio::time::Instant::now() + HOUSEKEEPING_EVERY;
        }
        // Finished jobs leave the set; a panic in one is logged, its job retried after its lease.
        while let Some(done) = in_flight.try_join_next() {
            if let Err(e) = done {
                tracing::error!(error = %e, "a job task ended abnormally");
            }
        }
        if in_flight.len() >= concurrent {
            tokio::select! {
                _ = in_flight.join_next() => {}
                _ = shutdown.changed() => {}
            }
            continue;
        }
        let now = state.clock.now_ms();
        match state
            .store
            .claim_job(
                &[JOB_KIND_PREREVIEW, JOB_KIND_SEAL, JOB_KIND_EVENT, JOB_KIND_WEBHOOK],
                &worker_id,
                now,
                lease_ms,
            )
            .await
        {
            Ok(Some(job)) => {
                in_flight.spawn(handle_job(state.clone(), prereviewer.clone(), worker_id.clone(), job));
            }
            Ok(None) => {
                tokio::select! {
                    _ = tokio::time::sleep(poll) => {}
                    _ = shutdown.changed() => {}
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot claim jobs");
                tokio::time::sleep(poll * 4).await;
            }
        }
    }
    // Shutdown finishes the jobs in hand.
    while in_flight.join_next().await.is_some() {}
    tracing::info!(worker = %worker_id, "pre-review worker stopped");
}

/// Runs one claimed job to its end: done, failed for a retry, or handed to a human.
async fn handle_job(state: AppState, prereviewer: Arc<Prereviewer>, worker_id: String, job: JobRecord) {
    let started = std::time::Instant::now();
    if job.kind == JOB_KIND_EVENT || job.kind == JOB_KIND_WEBHOOK {
        let done = if job.kind == JOB_KIND_EVENT {
            crate::notify::fan_out(&state, &worker_id, &job).await
        } else {
            crate::notify::deliver(&state, &worker_id, &job).await
        };
        if let Err(e) = done {
            tracing::error!(job = %job.id, error = %e, "notification job failed");
            let retry_at = state.clock.now_ms() + 10_000 * job.attempts;
            let _ = state.store.fail_job(&job.id, &worker_id, &format!("{e:#}"), state.clock.now_ms(), retry_at).await;
        }
        return;
    }
    if job.kind == JOB_KIND_SEAL {
        // Sealing has no human fallback: it retries until the keys or storage work
        // again, then stays visible as a dead job for operators.
        if let Err(e) = crate::sealing::process(&state, &worker_id, &job).await {
            tracing::error!(job = %job.id, attempt = job.attempts, error = %e, "sealing failed");
            let retry_at = state.clock.now_ms() + 10_000 * job.attempts;
            let _ = state.store.fail_job(&job.id, &worker_id, &format!("{e:#}"), state.clock.now_ms(), retry_at).await;
        }
        return;
    }
    if let Err(e) = process(&state, &prereviewer, &worker_id, &job).await {
        tracing::warn!(job = %job.id, attempt = job.attempts, error = %e, "pre-review job failed");
        let error = format!("{e:#}");
        // At the last attempt the case goes to a human instead of another retry.
        let handed_over = job.attempts >= job.max_attempts
            && give_up(&state, &worker_id, &job, &error)
                .await
                .map_err(|e| tracing::error!(error = %e, "cannot hand over"))
                .is_ok();
        if !handed_over {
            // Back off a little more each attempt.
            let retry_at = state.clock.now_ms() + 5_000 * job.attempts;
            let _ = state.store.fail_job(&job.id, &worker_id, &error, state.clock.now_ms(), retry_at).await;
        }
    } else {
        tracing::info!(job = %job.id, ms = started.elapsed().as_millis() as u64, "pre-review job done");
    }
}

/// Stores `expired` on permits whose last night has ended, and deletes ended sessions.
pub async fn housekeeping(state: &AppState) -> anyhow::Result<()> {
    let now = state.clock.now_ms();
    // Only permits whose last night began by today can be over; the form's exact night window
    // decides (a night beginning on the end date usually ends the next morning).
    let today = crate::views::shanghai_today(now);
    for p in state.store.valid_permits_ending_by(&today.to_string()).await? {
        let Some(app) = state.store.application(&p.application_id).await? else { continue };
        let form: ApplicationForm = serde_json::from_str(&app.form)?;
        if crate::routes::permits::nights_over(&form, now) && state.store.expire_permit(&p.number, now).await? {
            tracing::info!(permit = %p.number, "permit expired");
        }
    }
    let purged = state.store.delete_expired_sessions(now).await?;
    if purged > 0 {
        tracing::info!(sessions = purged, "ended sessions purged");
    }
    Ok(())
}

pub(crate) fn tracks_for(
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

async fn process(
    state: &AppState,
    prereviewer: &Arc<Prereviewer>,
    worker_id: &str,
    job: &JobRecord,
) -> anyhow::Result<()> {
    let payload: PrereviewJob = serde_json::from_str(&job.payload)?;
    let (app_id, round) = (payload.application_id.clone(), payload.round);
    let app =
        state.store.application(&app_id).await?.ok_or_else(|| anyhow::anyhow!("application {app_id} vanished"))?;
    let rounds = state.store.prereview_rounds(&app_id).await?;
    let this_round =
        rounds.iter().find(|r| r.round == round).ok_or_else(|| anyhow::anyhow!("round {round} missing"))?;
    let finish = |new_status, outcome: &str, findings: &[Finding], decision, tracks| {
        finish_of(state, job, worker_id, &app_id, round, new_status, outcome, findings, decision, tracks)
    };
    if app.status != ApplicationStatus::Prereview || app.round != round {
        // Stale (withdrawn, or superseded by a newer round): finish the job, change nothing.
        state.store.complete_job(&job.id, worker_id, state.clock.now_ms()).await?;
        return Ok(());
    }
    if job.attempts > job.max_attempts {
        // A worker died holding it at its last attempt: no further try.
        let error = job.last_error.clone().unwrap_or_else(|| "worker stopped mid-job".into());
        return give_up(state, worker_id, job, &error).await;
    }
    state.store.start_prereview(&app_id, round, state.clock.now_ms()).await?;

    let form: ApplicationForm = serde_json::from_str(&app.form)?;
    let firm = state.store.firm_by_id(&app.firm_id).await?.ok_or_else(|| anyhow::anyhow!("firm missing"))?;
    let materials: Vec<MaterialRecord> = serde_json::from_str(&this_round.materials)?;
    let mut files = Vec::with_capacity(materials.len());
    for m in &materials {
        files.push(MaterialFile {
            id: m.id.clone(),
            kind: m.kind,
            content_type: m.content_type.clone(),
            bytes: state.blobs.get(&m.sha256).await?,
        });
    }
    let window = form.window().ok_or_else(|| anyhow::anyhow!("stored form has no valid night window"))?;
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
    let reviewer = prereviewer.clone();
    let progress_state = state.clone();
    let (progress_app, handle) = (app_id.clone(), tokio::runtime::Handle::current());
    let report = tokio::task::spawn_blocking(move || {
        let progress = move |done: usize| {
            let _ = handle.block_on(progress_state.store.prereview_progress(&progress_app, round, done as i64));
        };
        reviewer.review(&case, files, &progress)
    })
    .await??;

    if report.verdict == Verdict::NeedsCorrection {
        let f =
            finish(ApplicationStatus::NeedsCorrection, Verdict::NeedsCorrection.id(), &report.findings, None, vec![]);
        state.store.finish_prereview(&f, SYSTEM_ACTOR).await?;
        return Ok(());
    }
    let warnings = report.findings.iter().filter(|f| f.severity == Severity::Warning).count();
    let now = state.clock.now_ms();
    let facts = facts::assemble(state, &app, &form, &firm, &state.policy.calendar, warnings, now).await?;
    // Fails closed: facts that are missing or malformed send the case to both departments.
    let decision = decide(&state.policy.rules, &facts);
    let record = DecisionRecord {
        application_id: app_id.clone(),
        round,
        outcome: decision.outcome,
        ruleset_id: decision.ruleset_id.clone(),
        ruleset_version: decision.ruleset_version.clone(),
        ruleset_sha256: decision.ruleset_sha256.clone(),
        reasons: serde_json::to_string(&decision.reasons)?,
        trace: serde_json::to_string(&decision.trace)?,
        facts: serde_json::to_string(&facts)?,
        decided_at: now,
    };
    let (status, tracks) = match decision.outcome {
        Outcome::AutoApprove => (
            ApplicationStatus::Approved,
            tracks_for(&app_id, round, &app.district, TrackStatus::Approved, &[], true, now),
        ),
        Outcome::ManualReview => (
            ApplicationStatus::UnderReview,
            tracks_for(&app_id, round, &app.district, TrackStatus::Pending, &decision.reasons, false, now),
        ),
        Outcome::Reject => (ApplicationStatus::Rejected, vec![]),
    };
    let f = finish(status, Verdict::Pass.id(), &report.findings, Some(record), tracks);
    if !state.store.finish_prereview(&f, SYSTEM_ACTOR).await? {
        tracing::warn!(job = %job.id, "lost the job's lease before finishing; another worker will redo it");
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn finish_of(
    state: &AppState,
    job: &JobRecord,
    worker_id: &str,
    app_id: &str,
    round: i64,
    new_status: ApplicationStatus,
    outcome: &str,
    findings: &[Finding],
    decision: Option<DecisionRecord>,
    tracks: Vec<TrackRecord>,
) -> PrereviewFinish {
    PrereviewFinish {
        job_id: job.id.clone(),
        worker: worker_id.to_string(),
        application_id: app_id.to_string(),
        round,
        outcome: outcome.to_string(),
        findings: serde_json::to_string(&numbered(findings, round)).unwrap_or_else(|_| "[]".into()),
        new_status,
        decision,
        tracks,
        now: state.clock.now_ms(),
    }
}

/// The findings with their ids (`<round>-<n>`), by which a firm contests one.
fn numbered(findings: &[Finding], round: i64) -> Vec<Finding> {
    findings.iter().enumerate().map(|(i, f)| Finding { id: Some(format!("{round}-{}", i + 1)), ..f.clone() }).collect()
}

/// A job that failed on every attempt: the case goes to both departments' reviewers with an
/// internal-error finding, never back to the applicant and never into a retry loop.
async fn give_up(state: &AppState, worker_id: &str, job: &JobRecord, error: &str) -> anyhow::Result<()> {
    let payload: PrereviewJob = serde_json::from_str(&job.payload)?;
    let app = state
        .store
        .application(&payload.application_id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("application vanished"))?;
    let now = state.clock.now_ms();
    let reason = "智能预审多次未能完成，转人工审核".to_string();
    let finding = Finding::new(
        PREREVIEW_FAILED,
        Severity::Warning,
        format!("智能预审系统故障（{}），材料需人工审核", error.chars().take(200).collect::<String>()),
    );
    let rules = &state.policy.rules;
    let decision = DecisionRecord {
        application_id: app.id.clone(),
        round: payload.round,
        outcome: Outcome::ManualReview,
        ruleset_id: rules.id.clone(),
        ruleset_version: rules.version.clone(),
        ruleset_sha256: rules.sha256.clone(),
        reasons: serde_json::to_string(&[&reason])?,
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
    let f = finish_of(
        state,
        job,
        worker_id,
        &app.id,
        payload.round,
        ApplicationStatus::UnderReview,
        Verdict::Pass.id(),
        &[finding],
        Some(decision),
        tracks,
    );
    state.store.finish_prereview(&f, SYSTEM_ACTOR).await?;
    tracing::error!(job = %job.id, application = %app.id, attempts = job.attempts, "pre-review gave up; sent to reviewers");
    Ok(())
}
