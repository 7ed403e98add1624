//! Black-box: the case lifecycle under concurrency, through HTTP. The pre-review itself is
//! stood in for through the store (OCR is not what these tests are about), everything the
//! firm and the reviewers do goes over the wire.

mod common;

use common::*;
use nightpermit_store::JOB_KIND_SEAL;
use reqwest::StatusCode;
use serde_json::{json, Value};

/// Finishes the queued pre-review of `id` as a clean pass that needs both departments.
async fn to_review(app: &TestApp, id: &str) {
    app.finish_for_review(id, "[\"需人工审核\"]".into(), "[]".into(), None).await;
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

async fn withdraw(app: &TestApp, token: &str, id: &str) -> reqwest::Response {
    app.client
        .post(app.url(&format!("/api/v1/applications/{id}/withdraw")))
        .bearer_auth(token)
        .send()
        .await
        .expect("request")
}

/// The firm withdraws before a decision: draft, pre-review, or under review while neither
/// department has decided; not once a department has, nor someone else's case.
async fn withdrawal(db: Db) {
    let app = TestApp::spawn(db).await;
    let (_, token) = app.firm(4).await;
    let (_, other) = app.firm(5).await;
    let jc = app.staff("jc", "reviewer", Some("construction"), Some("jingan")).await;

    let draft = app.create_application(&token, &example_form()).await["id"].as_str().expect("id").to_string();
    problem(withdraw(&app, &other, &draft).await, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    let r = withdraw(&app, &token, &draft).await;
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.expect("json");
    assert_eq!((v["id"].as_str(), v["status"].as_str()), (Some(draft.as_str()), Some("withdrawn")));
    problem(withdraw(&app, &token, &draft).await, StatusCode::CONFLICT, "INVALID_STATE").await;
    let audit = app.state.store.audit_entries_for("application", &draft).await.expect("audit");
    assert_eq!(audit.last().map(|e| e.action.as_str()), Some("application.withdrawn"));

    // In pre-review: the worker's job for it becomes stale and changes nothing.
    let in_prereview = submitted_case(&app, &token).await;
    assert_eq!(withdraw(&app, &token, &in_prereview).await.status(), StatusCode::OK);

    // Under review, nobody has decided yet.
    let undecided = submitted_case(&app, &token).await;
    to_review(&app, &undecided).await;
    assert_eq!(withdraw(&app, &token, &undecided).await.status(), StatusCode::OK);
    let v: Value =
        app.get(&format!("/api/v1/applications/{undecided}"), Some(&token)).await.json().await.expect("json");
    assert_eq!(v["status"], "withdrawn");

    // Under review, one department has approved: too late.
    let half = submitted_case(&app, &token).await;
    to_review(&app, &half).await;
    let r = app
        .post_json(
            &format!("/api/v1/review/tasks/{half}-construction/decision"),
            Some(&jc),
            &json!({"outcome": "approve"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    problem(withdraw(&app, &token, &half).await, StatusCode::CONFLICT, "INVALID_STATE").await;
    app.stop().await;
}

#[tokio::test]
async fn withdrawal_sqlite() {
    withdrawal(Db::Sqlite).await
}

#[tokio::test]
async fn withdrawal_postgres() {
    withdrawal(Db::Postgres).await
}

/// After its last night a permit is stored `expired` by the worker's housekeeping, which also
/// purges ended sessions.
async fn expiry(db: Db) {
    let app = TestApp::spawn(db).await;
    let (_, token) = app.firm(6).await;
    let id = submitted_case(&app, &token).await;
    to_review(&app, &id).await;
    let jc = app.staff("jc", "reviewer", Some("construction"), Some("jingan")).await;
    let je = app.staff("je", "reviewer", Some("environment"), Some("jingan")).await;
    for (reviewer, dept) in [(&jc, "construction"), (&je, "environment")] {
        let r = app
            .post_json(
                &format!("/api/v1/review/tasks/{id}-{dept}/decision"),
                Some(reviewer),
                &json!({"outcome": "approve"}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK);
    }
    // Issue without rendering a PDF (sealing has its own tests).
    let store = &app.state.store;
    let now = app.state.clock.now_ms();
    let job = store.claim_job(&[JOB_KIND_SEAL], "signer", now, 60_000).await.expect("claim").expect("seal job");
    let permit = store.allocate_permit_number(&id, "jingan", 2026, now).await.expect("number");
    assert!(store.issue_permit(&job.id, "signer", &permit.number, "ab", now).await.expect("issue"));

    nightpermit_worker::housekeeping(&app.state.cases).await.expect("housekeeping");
    assert_eq!(store.permit(&permit.number).await.expect("permit").map(|p| p.status), Some("valid".into()));

    // The example form's nights begin five days from now and last three nights.
    app.state.clock.advance_ms(30 * 24 * 3_600_000);
    nightpermit_worker::housekeeping(&app.state.cases).await.expect("housekeeping");
    assert_eq!(store.permit(&permit.number).await.expect("permit").map(|p| p.status), Some("expired".into()));
    let a = store.application(&id).await.expect("app").expect("exists");
    assert_eq!(a.status, nightpermit_domain::ApplicationStatus::Expired);
    let audit = store.audit_entries_for("application", &id).await.expect("audit");
    assert_eq!(audit.last().map(|e| e.action.as_str()), Some("permit.expired"));
    // Running again changes nothing.
    nightpermit_worker::housekeeping(&app.state.cases).await.expect("housekeeping");
    assert_eq!(store.audit_entries_for("application", &id).await.expect("audit").len(), audit.len());
    // Thirty days on, every session of this test has ended and is gone.
    assert_eq!(store.delete_expired_sessions(app.state.clock.now_ms()).await.expect("purge"), 0);
    app.stop().await;
}

#[tokio::test]
async fn expiry_sqlite() {
    expiry(Db::Sqlite).await
}

#[tokio::test]
async fn expiry_postgres() {
    expiry(Db::Postgres).await
}
