//! Black-box: the case lifecycle under concurrency, through HTTP. The pre-review itself is
//! stood in for through the store (OCR is not what these tests are about), everything the
//! firm and the reviewers do goes over the wire.

mod common;

use common::*;
use nightpermit_domain::{Department, TrackStatus};
use nightpermit_store::{PrereviewFinish, TrackRecord, JOB_KIND_PREREVIEW, JOB_KIND_SEAL};
use reqwest::StatusCode;
use serde_json::{json, Value};

/// Finishes the queued pre-review of `id` as a clean pass that needs both departments.
async fn to_review(app: &TestApp, id: &str) {
    let now = app.state.clock.now_ms();
    let job = app.state.store.claim_job(&[JOB_KIND_PREREVIEW], "stand-in", now, 60_000).await.expect("claim");
    let job = job.expect("a queued pre-review");
    let track = |department: Department| TrackRecord {
        id: format!("{id}-{department}"),
        application_id: id.into(),
        round: 1,
        department,
        district: "jingan".into(),
        status: TrackStatus::Pending,
        reasons: "[\"需人工审核\"]".into(),
        decided_by: None,
        decided_at: None,
        comment: None,
        created_at: now,
    };
    let finish = PrereviewFinish {
        job_id: job.id,
        worker: "stand-in".into(),
        application_id: id.into(),
        round: 1,
        outcome: "pass".into(),
        findings: "[]".into(),
        new_status: nightpermit_domain::ApplicationStatus::UnderReview,
        decision: None,
        tracks: vec![track(Department::Construction), track(Department::Environment)],
        now,
    };
    assert!(app.state.store.finish_prereview(&finish, "system").await.expect("finish"));
}

async fn submitted_case(app: &TestApp, token: &str) -> String {
    let id = app.create_application(token, &example_form()).await["id"].as_str().expect("id").to_string();
    assert_eq!(app.submit(token, &id, None).await.status(), StatusCode::ACCEPTED);
    id
}

/// Both departments approve every case at the same moment: every case ends `approved` with one
/// sealing job, and each reviewer's answer is a 200.
async fn simultaneous_approvals(db: Db) {
    const CASES: usize = 10;
    let app = TestApp::spawn(db).await;
    let (_, token) = app.firm(1).await;
    let jc = app.staff("jc", "reviewer", Some("construction"), Some("jingan")).await;
    let je = app.staff("je", "reviewer", Some("environment"), Some("jingan")).await;
    let mut ids = Vec::new();
    for _ in 0..CASES {
        let id = submitted_case(&app, &token).await;
        to_review(&app, &id).await;
        ids.push(id);
    }
    let decide = |reviewer: &str, task: String| {
        let req = app
            .client
            .post(app.url(&format!("/api/v1/review/tasks/{task}/decision")))
            .bearer_auth(reviewer.to_string())
            .json(&json!({"outcome": "approve"}));
        tokio::spawn(async move { req.send().await.expect("request") })
    };
    let mut racing = Vec::new();
    for id in &ids {
        racing.push(decide(&jc, format!("{id}-construction")));
        racing.push(decide(&je, format!("{id}-environment")));
    }
    for r in racing {
        let r = r.await.expect("join");
        assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap_or_default());
    }
    for id in &ids {
        let v: Value = app.get(&format!("/api/v1/applications/{id}"), Some(&token)).await.json().await.expect("json");
        assert_eq!(v["status"], "approved", "{v:#}");
        let jobs = app.state.store.jobs_for_application(id).await.expect("jobs");
        assert_eq!(jobs.iter().filter(|j| j.kind == JOB_KIND_SEAL).count(), 1, "{id}");
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn simultaneous_approvals_sqlite() {
    simultaneous_approvals(Db::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn simultaneous_approvals_postgres() {
    simultaneous_approvals(Db::Postgres).await
}

/// A PATCH racing the submit either lands first (and the submitted form is the patched one) or
/// is refused with 409; the submitted case never changes.
async fn patch_racing_submit(db: Db) {
    const CASES: usize = 10;
    let app = TestApp::spawn(db).await;
    let (_, token) = app.firm(2).await;
    let mut patched_form = example_form();
    patched_form["project"]["name"] = json!("改过的项目名称");
    for _ in 0..CASES {
        let id = app.create_application(&token, &example_form()).await["id"].as_str().expect("id").to_string();
        let patch = app
            .client
            .patch(app.url(&format!("/api/v1/applications/{id}")))
            .bearer_auth(&token)
            .json(&patched_form)
            .send();
        let (patched, submitted) = tokio::join!(patch, app.submit(&token, &id, None));
        let patched = patched.expect("request");
        assert_eq!(submitted.status(), StatusCode::ACCEPTED);
        let landed = match patched.status() {
            StatusCode::OK => true,
            StatusCode::CONFLICT => false,
            other => panic!("PATCH answered {other}: {}", patched.text().await.unwrap_or_default()),
        };
        let v: Value = app.get(&format!("/api/v1/applications/{id}"), Some(&token)).await.json().await.expect("json");
        assert_eq!(v["status"], "prereview");
        assert_eq!(v["project"]["name"] == "改过的项目名称", landed, "{v:#}");
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn patch_racing_submit_sqlite() {
    patch_racing_submit(Db::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn patch_racing_submit_postgres() {
    patch_racing_submit(Db::Postgres).await
}

/// A stored status outside its set is a 500 without internals, not a guessed status.
#[tokio::test]
async fn a_corrupt_row_is_a_plain_server_error() {
    let app = TestApp::spawn(Db::Sqlite).await;
    let (_, token) = app.firm(3).await;
    let id = app.create_application(&token, &example_form()).await["id"].as_str().expect("id").to_string();
    let store = nightpermit_store::SqlStore::open_sqlite(&app.settings.sqlite_path()).await.expect("store");
    store.overwrite_column("applications", "status", ("id", &id), "archived").await.expect("tamper");
    let body = problem(
        app.get(&format!("/api/v1/applications/{id}"), Some(&token)).await,
        StatusCode::INTERNAL_SERVER_ERROR,
        "INTERNAL",
    )
    .await;
    assert!(!body.to_string().contains("archived") && !body.to_string().contains("column"), "{body}");
    app.stop().await;
}
