//! The job loop: claims jobs from the store's queue and runs them — the OCR pre-review, the
//! sealing of approved cases, event fan-out, webhook deliveries and mails — plus periodic
//! housekeeping (expiring permits, purging ended sessions). What a job's result means for the
//! case is decided by `nightpermit-cases`; this crate only runs the jobs, and needs no HTTP
//! server (`nightpermit worker`).
#![forbid(unsafe_code)]

pub mod mail;
pub mod notify;

use anyhow::Context;
use nightpermit_cases::prereview::PrereviewStart;
use nightpermit_cases::{Cases, Settings};
use nightpermit_prereview::Prereviewer;
use nightpermit_store::{
    JobRecord, JOB_KIND_EVENT, JOB_KIND_MAIL, JOB_KIND_PREREVIEW, JOB_KIND_SEAL, JOB_KIND_WEBHOOK,
};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// How often a worker expires permits whose nights are over and purges ended sessions. Every
/// worker does it; both steps are idempotent, so several workers do no harm.
const HOUSEKEEPING_EVERY: Duration = Duration::from_secs(60);

/// The pre-review readers as configured. PP-OCR's models are loaded once here so that a missing
/// or corrupt model stops start-up with the fix, instead of failing the first case.
pub fn prereviewer(settings: &Settings) -> anyhow::Result<Prereviewer> {
    use nightpermit_prereview::{ppocr::PpOcr, ReaderChoice};
    let mut p = Prereviewer::new(settings.worker.ocr_threads);
    p.limits = settings.limits.prereview();
    p.reader = match settings.worker.ocr_reader.as_str() {
        "ppocr" => {
            let dir = if settings.worker.models_dir.as_os_str().is_empty() {
                PpOcr::default_dir()
            } else {
                settings.worker.models_dir.clone()
            };
            Prereviewer::check_models(&dir).map_err(|e| anyhow::anyhow!("{e}"))?;
            ReaderChoice::PpOcrFirst(dir)
        }
        "tesseract" => ReaderChoice::TesseractOnly,
        other => anyhow::bail!("worker.ocr_reader = {other:?} is not a reader (fix: \"ppocr\" or \"tesseract\")"),
    };
    Ok(p)
}

/// Runs a stand-alone worker (`nightpermit worker`) until `shutdown` resolves; the job in hand
/// is finished first.
pub async fn run_standalone(cases: Cases, shutdown: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
    let (stop_tx, stop_rx) = watch::channel(false);
    let prereviewer = Arc::new(prereviewer(&cases.settings)?);
    let id = format!("worker-{}-{}", std::process::id(), uuid::Uuid::new_v4().simple());
    let handle = tokio::spawn(run(cases, prereviewer, id, stop_rx));
    shutdown.await;
    let _ = stop_tx.send(true);
    handle.await.context("worker task")
}

/// Runs until `shutdown` turns true; finishes the jobs in hand first.
pub async fn run(cases: Cases, prereviewer: Arc<Prereviewer>, worker_id: String, mut shutdown: watch::Receiver<bool>) {
    let poll = Duration::from_millis(cases.settings.worker.poll_interval_ms);
    let lease_ms = cases.settings.jobs.lease_secs * 1000;
    tracing::info!(worker = %worker_id, "worker started");
    let mut housekeeping_due = tokio::time::Instant::now();
    // Several cases at once, sharing the OCR threads: a case whose file takes its whole time
    // budget holds one thread, and the next firm's case is read on the others meanwhile.
    let concurrent = cases.settings.worker.ocr_threads.max(1);
    let mut in_flight = tokio::task::JoinSet::new();
    loop {
        if *shutdown.borrow() {
            break;
        }
        if tokio::time::Instant::now() >= housekeeping_due {
            if let Err(e) = housekeeping(&cases).await {
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
        let now = cases.clock.now_ms();
        match cases
            .store
            .claim_job(
                &[JOB_KIND_PREREVIEW, JOB_KIND_SEAL, JOB_KIND_EVENT, JOB_KIND_WEBHOOK, JOB_KIND_MAIL],
                &worker_id,
                now,
                lease_ms,
            )
            .await
        {
            Ok(Some(job)) => {
                in_flight.spawn(handle_job(cases.clone(), prereviewer.clone(), worker_id.clone(), job));
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
    tracing::info!(worker = %worker_id, "worker stopped");
}

/// Puts a failed job back in the queue for a retry at `retry_at`.
async fn retry_later(cases: &Cases, worker_id: &str, job: &JobRecord, error: &str, retry_at: i64) {
    if let Err(e) = cases.store.fail_job(&job.id, worker_id, error, cases.clock.now_ms(), retry_at).await {
        tracing::error!(job = %job.id, error = %e, "cannot record the job's failure; its lease will run out");
    }
}

/// Runs one claimed job to its end: done, failed for a retry, or handed to a human.
async fn handle_job(cases: Cases, prereviewer: Arc<Prereviewer>, worker_id: String, job: JobRecord) {
    let started = std::time::Instant::now();
    if job.kind == JOB_KIND_EVENT || job.kind == JOB_KIND_WEBHOOK || job.kind == JOB_KIND_MAIL {
        let done = match job.kind.as_str() {
            JOB_KIND_EVENT => notify::fan_out(&cases, &worker_id, &job).await,
            JOB_KIND_WEBHOOK => notify::deliver(&cases, &worker_id, &job).await,
            _ => mail::deliver(&cases, &worker_id, &job).await,
        };
        if let Err(e) = done {
            tracing::error!(job = %job.id, error = %e, "notification job failed");
            retry_later(&cases, &worker_id, &job, &format!("{e:#}"), cases.clock.now_ms() + 10_000 * job.attempts)
                .await;
        }
        return;
    }
    if job.kind == JOB_KIND_SEAL {
        // Sealing has no human fallback: it retries until the keys or storage work
        // again, then stays visible as a dead job for operators.
        if let Err(e) = nightpermit_cases::sealing::process(&cases, &worker_id, &job).await {
            tracing::error!(job = %job.id, attempt = job.attempts, error = %e, "sealing failed");
            retry_later(&cases, &worker_id, &job, &format!("{e:#}"), cases.clock.now_ms() + 10_000 * job.attempts)
                .await;
        }
        return;
    }
    if let Err(e) = prereview(&cases, &prereviewer, &worker_id, &job).await {
        tracing::warn!(job = %job.id, attempt = job.attempts, error = %e, "pre-review job failed");
        let error = format!("{e:#}");
        // At the last attempt the case goes to a human instead of another retry.
        let handed_over = job.attempts >= job.max_attempts
            && cases
                .give_up_prereview(&job, &worker_id, &error)
                .await
                .map_err(|e| tracing::error!(error = %e, "cannot hand over"))
                .is_ok();
        if !handed_over {
            // Back off a little more each attempt.
            retry_later(&cases, &worker_id, &job, &error, cases.clock.now_ms() + 5_000 * job.attempts).await;
        }
    } else {
        tracing::info!(job = %job.id, ms = started.elapsed().as_millis() as u64, "pre-review job done");
    }
}

/// Reads the case's materials on the OCR threads (reporting progress as each is done) and
/// hands the report to the lifecycle.
async fn prereview(
    cases: &Cases,
    prereviewer: &Arc<Prereviewer>,
    worker_id: &str,
    job: &JobRecord,
) -> anyhow::Result<()> {
    let mut case = match cases.start_prereview(job, worker_id).await? {
        PrereviewStart::Read(case) => case,
        PrereviewStart::Stale | PrereviewStart::GaveUp => return Ok(()),
    };
    let (reviewer, form, files) = (prereviewer.clone(), case.form.clone(), std::mem::take(&mut case.files));
    let (progress_cases, progress_app, round) = (cases.clone(), case.application.id.clone(), case.round);
    let handle = tokio::runtime::Handle::current();
    let report = tokio::task::spawn_blocking(move || {
        let progress = move |done: usize| {
            let _ = handle.block_on(progress_cases.prereview_progress(&progress_app, round, done));
        };
        reviewer.review(&form, files, &progress)
    })
    .await??;
    if !cases.finish_prereview(job, worker_id, &case, &report).await? {
        tracing::warn!(job = %job.id, "lost the job's lease before finishing; another worker will redo it");
    }
    Ok(())
}

/// Stores `expired` on permits whose last night has ended, deletes ended sessions, and
/// checkpoints the audit chains that moved.
pub async fn housekeeping(cases: &Cases) -> anyhow::Result<()> {
    cases.expire_permits().await?;
    if let Some(id) = cases.store.checkpoint_audit(cases.clock.now_ms()).await? {
        tracing::debug!(checkpoint = id, "audit checkpoint recorded");
    }
    let purged = cases.store.delete_expired_sessions(cases.clock.now_ms()).await?;
    if purged > 0 {
        tracing::info!(sessions = purged, "ended sessions purged");
    }
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down: finishing requests in flight");
}
