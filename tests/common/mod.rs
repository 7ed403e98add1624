//! Starts the real server on port 0 against a fresh database, as a client would meet it.
#![allow(dead_code)]

use chrono::{Duration, Utc};
use nightpermit_cases::config::DatabaseUrl;
use nightpermit_domain::CreditCode;
use nightpermit_server::{AppState, Settings};
use reqwest::multipart::{Form, Part};
use reqwest::{Response, StatusCode};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

pub struct TestApp {
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    pub state: AppState,
    pub settings: Settings,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

pub fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("nightpermit-{tag}-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// Settings for a fresh database of the given kind, with a small upload limit so limit tests
/// need not send megabytes.
pub async fn fresh_settings(db: Db) -> Settings {
    let mut s = Settings::load(None).expect("default settings");
    s.storage.data_dir = temp_dir("data");
    s.storage.blob_dir = PathBuf::new();
    s.limits.max_upload_bytes = 256 * 1024;
    // Intake tests look at queued jobs; pre-review tests start a worker explicitly.
    s.worker.in_process = false;
    // Every test client is 127.0.0.1: functional tests must not trip the per-client limits
    // (tests/hostile.rs checks those with the defaults).
    s.abuse.sign_in_per_minute = 100_000;
    s.abuse.sign_in_burst = 100_000;
    s.abuse.register_per_minute = 100_000;
    s.abuse.register_burst = 100_000;
    s.abuse.verify_per_minute = 100_000;
    s.abuse.verify_burst = 100_000;
    s.abuse.public_per_minute = 100_000;
    s.abuse.public_burst = 100_000;
    s.abuse.complaint_per_minute = 100_000;
    s.abuse.complaint_burst = 100_000;
    s.server.metrics_token = "test-metrics-token".into();
    s.database_url = match db {
        Db::Sqlite => None,
        Db::Postgres => {
            // With Postgres the keys must exist beforehand (`nightpermit keys init`).
            nightpermit_seal::KeyDir::new(s.keys_dir()).init(&s.authorities()).expect("keys");
            Some(DatabaseUrl(
                nightpermit_store::testing::fresh_postgres_url()
                    .await
                    .expect("Postgres at 127.0.0.1:5432 (see README)"),
            ))
        }
    };
    s
}

impl TestApp {
    pub async fn spawn(db: Db) -> Self {
        Self::start(fresh_settings(db).await).await
    }

    pub async fn start(settings: Settings) -> Self {
        let state = nightpermit_server::build_state(settings.clone()).await.expect("state");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(nightpermit_server::serve(state.clone(), listener, async move {
            let _ = rx.await;
        }));
        TestApp { addr, client: reqwest::Client::new(), state, settings, shutdown: Some(tx), server: Some(server) }
    }

    /// Stops the server gracefully and waits for it, as `kill -TERM` would.
    pub async fn stop(mut self) -> Settings {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.server.take() {
            h.await.expect("join").expect("server ended cleanly");
        }
        self.settings.clone()
    }

    /// Starts a pre-review worker in this process, as `nightpermit worker` would.
    pub fn start_worker(&self) -> (tokio::sync::oneshot::Sender<()>, tokio::task::JoinHandle<anyhow::Result<()>>) {
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let handle = tokio::spawn(nightpermit_worker::run_standalone(
            nightpermit_cases::Cases::clone(&self.state.cases),
            async move {
                let _ = rx.await;
            },
        ));
        (tx, handle)
    }

    /// Polls until the application leaves `prereview` (or the time runs out).
    pub async fn wait_prereview(&self, token: &str, id: &str) -> Value {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(180);
        loop {
            let v: Value =
                self.get(&format!("/api/v1/applications/{id}"), Some(token)).await.json().await.expect("json");
            if v["status"] != "prereview" || std::time::Instant::now() > deadline {
                return v;
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub async fn post_json(&self, path: &str, token: Option<&str>, body: &Value) -> Response {
        let mut r = self.client.post(self.url(path)).json(body);
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        r.send().await.expect("request")
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Response {
        let mut r = self.client.get(self.url(path));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        r.send().await.expect("request")
    }

    /// Registers a firm with a valid code derived from `seed` and signs it in; returns (code, token).
    pub async fn firm(&self, seed: u32) -> (String, String) {
        let code = CreditCode::complete(&format!("9131010{seed:010}")).expect("alphabet").to_string();
        let r = self
            .post_json(
                "/api/v1/firms",
                None,
                &json!({"credit_code": code, "name": format!("上海测试建设{seed}有限公司"), "password": "night-permit-1",
                        "contact_name": "张三", "contact_phone": "13800000000"}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap_or_default());
        (code.clone(), self.login(&code, "night-permit-1").await)
    }

    /// Creates a staff account as `nightpermit users add` would, and signs it in.
    pub async fn staff(&self, username: &str, role: &str, department: Option<&str>, district: Option<&str>) -> String {
        let record = nightpermit_store::StaffRecord {
            id: uuid::Uuid::new_v4().to_string(),
            username: username.into(),
            password_hash: nightpermit_server::auth::hash_password("staff-pass-1").expect("hash"),
            role: role.parse().expect("a known role"),
            department: department.map(|d| d.parse().expect("a known department")),
            district: district.map(|d| d.parse().expect("a known district")),
            created_at: 0,
            disabled_at: None,
        };
        self.state.store.create_staff(&record, "test").await.expect("staff");
        self.login(username, "staff-pass-1").await
    }

    pub async fn login(&self, login: &str, password: &str) -> String {
        let r = self.post_json("/api/v1/sessions", None, &json!({"login": login, "password": password})).await;
        assert_eq!(r.status(), StatusCode::CREATED);
        r.json::<Value>().await.expect("json")["token"].as_str().expect("token").to_string()
    }

    pub async fn create_application(&self, token: &str, form: &Value) -> Value {
        let r = self.post_json("/api/v1/applications", Some(token), form).await;
        assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap_or_default());
        r.json().await.expect("json")
    }

    pub async fn upload(&self, token: &str, app_id: &str, kind: &str, filename: &str, bytes: Vec<u8>) -> Response {
        let form =
            Form::new().text("kind", kind.to_string()).part("file", Part::bytes(bytes).file_name(filename.to_string()));
        self.client
            .post(self.url(&format!("/api/v1/applications/{app_id}/materials")))
            .bearer_auth(token)
            .multipart(form)
            .send()
            .await
            .expect("request")
    }

    /// Stands in for the worker: finishes the queued pre-review of `id` (round 1) as a pass that
    /// needs both departments of jingan, with these track reasons, findings and rule decision.
    pub async fn finish_for_review(
        &self,
        id: &str,
        reasons: String,
        findings: String,
        decision: Option<nightpermit_store::DecisionRecord>,
    ) {
        use nightpermit_domain::{Department, TrackStatus};
        let now = self.state.clock.now_ms();
        let job = self
            .state
            .store
            .claim_job(&[nightpermit_store::JOB_KIND_PREREVIEW], "stand-in", now, 60_000)
            .await
            .expect("claim")
            .expect("a queued pre-review");
        let track = |department: Department| nightpermit_store::TrackRecord {
            id: format!("{id}-{department}"),
            application_id: id.into(),
            round: 1,
            department,
            district: "jingan".into(),
            status: TrackStatus::Pending,
            reasons: reasons.clone(),
            decided_by: None,
            decided_at: None,
            comment: None,
            created_at: now,
        };
        let finish = nightpermit_store::PrereviewFinish {
            job_id: job.id,
            worker: "stand-in".into(),
            application_id: id.into(),
            round: 1,
            outcome: "pass".into(),
            findings,
            new_status: nightpermit_domain::ApplicationStatus::UnderReview,
            decision,
            tracks: vec![track(Department::Construction), track(Department::Environment)],
            now,
        };
        assert!(self.state.store.finish_prereview(&finish, "system").await.expect("finish"));
    }

    pub async fn submit(&self, token: &str, app_id: &str, key: Option<&str>) -> Response {
        let mut r = self.client.post(self.url(&format!("/api/v1/applications/{app_id}/submit"))).bearer_auth(token);
        if let Some(k) = key {
            r = r.header("Idempotency-Key", k);
        }
        r.send().await.expect("request")
    }
}

/// The API.md example form, with nights a few days from now so it never falls in the past.
pub fn example_form() -> Value {
    let start = (Utc::now() + Duration::days(5)).date_naive();
    let end = start + Duration::days(2);
    json!({
        "district": "jingan",
        "project": {"name": "静安区某商业综合体项目", "address": "上海市静安区某路100号",
                    "construction_permit_no": "310106202012150101", "builder": "上海某建设发展有限公司"},
        "night_work": {"start_date": start.to_string(), "end_date": end.to_string(), "nightly_start": "22:00",
                       "nightly_end": "04:00", "process": "continuous_pour", "description": "底板大体积混凝土连续浇筑"},
        "equipment": [{"name": "混凝土泵车", "count": 2, "sound_level_db": 85}],
        "measures": ["设置移动式隔声屏", "禁止鸣笛"],
        "contact": {"name": "张三", "phone": "13800000000"}
    })
}

/// A small real PNG.
pub fn png(w: u32, h: u32) -> Vec<u8> {
    let mut out = Vec::new();
    image::DynamicImage::ImageLuma8(image::GrayImage::from_pixel(w, h, image::Luma([255])))
        .write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .expect("png");
    out
}

/// Asserts a problem+json answer and returns it.
pub async fn problem(r: Response, status: StatusCode, code: &str) -> Value {
    assert_eq!(r.status(), status);
    assert_eq!(r.headers().get("content-type").and_then(|v| v.to_str().ok()), Some("application/problem+json"));
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["status"], status.as_u16());
    body
}

/// Asserts a 422 whose field errors include `field` with `code`.
pub async fn field_error(r: Response, field: &str, code: &str) {
    let body = problem(r, StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED").await;
    let errors = body["errors"].as_array().expect("errors");
    assert!(errors.iter().any(|e| e["field"] == field && e["code"] == code), "expected {field}/{code} in {body}");
}
pub mod browser;
pub mod hostile;
