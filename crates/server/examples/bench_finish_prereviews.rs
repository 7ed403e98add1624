//! Bench seeding (scripts/bench-pages.sh): stands in for the pre-review worker on every queued
//! pre-review of a SQLite data dir, so hundreds of cases reach the reviewers' queues without
//! hours of OCR. Each case passes with one warning, is flagged by the default rule set (a firm
//! with no permits in 24 months) and gets both departments' tracks, pending; the tracks' times
//! are spread over the last days so the queue shows every waiting-time colour.
//!
//! Usage: bench_finish_prereviews DATA_DIR

use anyhow::Context;
use nightpermit_domain::{ApplicationStatus, Department, TrackStatus};
use nightpermit_rules::{Fact, FactValue, RuleSet};
use nightpermit_store::{
    DecisionRecord, PrereviewFinish, PrereviewJob, SqlStore, Store, TrackRecord, JOB_KIND_PREREVIEW,
};

const RULES: &str = include_str!("../../../config/rules/default.toml");
/// Between one case's tracks and the next: 500 cases span about three days.
const SPREAD_MS: i64 = 9 * 60_000;

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let dir = std::env::args().nth(1).context("usage: bench_finish_prereviews DATA_DIR")?;
    let store = SqlStore::open_sqlite(&std::path::Path::new(&dir).join("nightpermit.db")).await?;
    store.migrate().await?;
    let rules = RuleSet::from_toml("config/rules/default.toml", RULES)?;
    let mut facts = nightpermit_rules::example::clean_facts();
    facts.set(Fact::FirmPermits24m, FactValue::Int(0));
    let d = nightpermit_rules::decide(&rules, &facts);
    let findings = serde_json::json!([{"id": "f1", "code": "MEASURE_NOT_SHOWN", "severity": "warning",
        "kind": "site_plan", "message": "总平面图上未见隔声屏位置", "expected": "隔声屏", "found": ""}]);
    let now = chrono::Utc::now().timestamp_millis();
    let mut jobs = Vec::new();
    while let Some(job) = store.claim_job(&[JOB_KIND_PREREVIEW], "bench-seed", now, 3_600_000).await? {
        jobs.push(job);
    }
    let total = jobs.len() as i64;
    for (i, job) in jobs.into_iter().enumerate() {
        let PrereviewJob { application_id, round } = serde_json::from_str(&job.payload)?;
        let app = store.application(&application_id).await?.context("the job's application")?;
        // The first claimed (oldest submitted) waits longest.
        let at = now - (total - i as i64) * SPREAD_MS;
        let track = |department: Department| TrackRecord {
            id: uuid::Uuid::now_v7().to_string(),
            application_id: application_id.clone(),
            round,
            department,
            district: app.district.clone(),
            status: TrackStatus::Pending,
            reasons: serde_json::to_string(&d.reasons).unwrap_or_default(),
            decided_by: None,
            decided_at: None,
            comment: None,
            created_at: at,
        };
        let finish = PrereviewFinish {
            job_id: job.id,
            worker: "bench-seed".into(),
            application_id: application_id.clone(),
            round,
            outcome: "pass".into(),
            findings: findings.to_string(),
            new_status: ApplicationStatus::UnderReview,
            decision: Some(DecisionRecord {
                application_id: application_id.clone(),
                round,
                outcome: d.outcome,
                ruleset_id: d.ruleset_id.clone(),
                ruleset_version: d.ruleset_version.clone(),
                ruleset_sha256: d.ruleset_sha256.clone(),
                reasons: serde_json::to_string(&d.reasons)?,
                trace: serde_json::to_string(&d.trace)?,
                facts: serde_json::to_string(&facts)?,
                decided_at: at,
            }),
            tracks: vec![track(Department::Construction), track(Department::Environment)],
            now: at,
        };
        anyhow::ensure!(
            store.finish_prereview(&finish, "system").await?,
            "pre-review of {application_id} not finished"
        );
    }
    println!("{total}");
    Ok(())
}
