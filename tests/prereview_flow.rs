//! Black-box: real materials (rendered, sealed, degraded) go through the real OCR pre-review and
//! the rules, then the two departments' reviewers decide.

mod common;

use chrono::{Datelike, Duration, Utc};
use common::*;
use nightpermit_domain::MaterialKind;
use nightpermit_prereview::synth::{self, Format, SynthCase, Variant};
use reqwest::StatusCode;
use serde_json::{json, Value};

fn case(i: usize) -> SynthCase {
    // A few days ahead, but never inside the early-June exam quiet period (the rules reject
    // those nights, which is not what these tests are about).
    let mut start = (Utc::now() + Duration::days(5)).date_naive();
    while (start.month() == 5 && start.day() >= 25) || (start.month() == 6 && start.day() <= 20) {
        start += Duration::days(7);
    }
    synth::case(i, start)
}

fn form_for(c: &SynthCase) -> Value {
    json!({
        "district": "jingan",
        "project": {"name": c.project_name, "address": c.address, "construction_permit_no": c.permit_no, "builder": c.builder},
        "night_work": {"start_date": c.start_date.to_string(), "end_date": c.end_date.to_string(),
                       "nightly_start": c.nightly_start.format("%H:%M").to_string(), "nightly_end": c.nightly_end.format("%H:%M").to_string(),
                       "process": "continuous_pour", "description": "底板大体积混凝土连续浇筑"},
        "equipment": [{"name": "混凝土泵车", "count": 2, "sound_level_db": 85}],
        "measures": ["设置移动式隔声屏障", "禁止鸣笛"],
        "contact": {"name": "张三", "phone": "13800000000"}
    })
}

async fn register(app: &TestApp, c: &SynthCase) -> String {
    let r = app
        .post_json(
            "/api/v1/firms",
            None,
            &json!({"credit_code": c.credit_code, "name": c.firm_name, "password": "night-permit-1",
            "contact_name": "张三", "contact_phone": "13800000000"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap_or_default());
    app.login(&c.credit_code, "night-permit-1").await
}

/// The six required materials, in the varied shapes real uploads come in.
fn clean_plan() -> Vec<(MaterialKind, Variant, Format)> {
    vec![
        (MaterialKind::BusinessLicense, Variant::Clean, Format::Png),
        (MaterialKind::ConstructionPermit, Variant::Skewed(1.5), Format::Jpeg(85)),
        (MaterialKind::ProcessCertificate, Variant::Clean, Format::Pdf(2)),
        (MaterialKind::NoisePlan, Variant::Sideways, Format::Png),
        (MaterialKind::ResidentNotice, Variant::Photo, Format::Jpeg(80)),
        (MaterialKind::SitePlan, Variant::Clean, Format::Png),
    ]
}

async fn upload_plan(app: &TestApp, token: &str, id: &str, c: &SynthCase, plan: &[(MaterialKind, Variant, Format)]) {
    let font = synth::font(0).expect("CJK font (make deps)");
    for (i, (kind, variant, format)) in plan.iter().enumerate() {
        let (_, bytes) = synth::file(&synth::document(*kind, c), *variant, *format, 200, &font, i as u64);
        let r = app.upload(token, id, kind.id(), &format!("{}.bin", kind.id()), bytes).await;
        assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap_or_default());
    }
}

async fn submitted(app: &TestApp, token: &str, c: &SynthCase, plan: &[(MaterialKind, Variant, Format)]) -> String {
    let id = app.create_application(token, &form_for(c)).await["id"].as_str().expect("id").to_string();
    upload_plan(app, token, &id, c, plan).await;
    assert_eq!(app.submit(token, &id, None).await.status(), StatusCode::ACCEPTED);
    id
}

fn codes(v: &Value) -> Vec<(String, String)> {
    v["prereview"]["findings"]
        .as_array()
        .map(|f| {
            f.iter()
                .map(|x| {
                    (x["code"].as_str().unwrap_or("").to_string(), x["severity"].as_str().unwrap_or("").to_string())
                })
                .collect()
        })
        .unwrap_or_default()
}

async fn bigger_uploads(db: Db) -> TestApp {
    let mut s = fresh_settings(db).await;
    s.limits.max_upload_bytes = 20 * 1024 * 1024;
    TestApp::start(s).await
}

async fn add_reviewers(app: &TestApp) -> (String, String, String) {
    (
        app.staff("jc", "reviewer", Some("construction"), Some("jingan")).await,
        app.staff("je", "reviewer", Some("environment"), Some("jingan")).await,
        app.staff("xe", "reviewer", Some("environment"), Some("xuhui")).await,
    )
}

async fn decide(app: &TestApp, token: &str, task: &str, outcome: &str, comment: Option<&str>) -> reqwest::Response {
    app.post_json(
        &format!("/api/v1/review/tasks/{task}/decision"),
        Some(token),
        &json!({"outcome": outcome, "comment": comment}),
    )
    .await
}

/// A clean application: pre-review passes; the firm has no permit history, so the rules send it
/// to both departments, who approve. The first worker "dies" holding the job; after its lease
/// another worker takes it and finishes.
async fn clean_case_through_review(db: Db) {
    let app = bigger_uploads(db).await;
    let c = case(1);
    let token = register(&app, &c).await;
    let id = submitted(&app, &token, &c, &clean_plan()).await;

    // A worker claims the job and dies; its lease has run out by the time the next one looks.
    let job = app
        .state
        .store
        .claim_job(&["prereview"], "dead-worker", app.state.clock.now_ms(), -1)
        .await
        .expect("claim")
        .expect("job");
    assert_eq!(job.attempts, 1);
    let (stop, worker) = app.start_worker();
    let v = app.wait_prereview(&token, &id).await;
    assert_eq!(v["status"], "under_review", "{v:#}");
    assert_eq!(v["prereview"]["outcome"], "pass");
    assert_eq!(v["prereview"]["state"], "done");
    assert_eq!(v["prereview"]["progress"]["materials_done"], 6);
    assert!(codes(&v).iter().all(|(_, sev)| sev == "warning"), "{:?}", codes(&v));
    let jobs = app.state.store.jobs_for_application(&id).await.expect("jobs");
    assert_eq!((jobs[0].state.as_str(), jobs[0].attempts), ("done", 2));
    assert_eq!(v["decision"]["outcome"], "manual_review");
    assert!(v["decision"]["reasons"]
        .as_array()
        .expect("reasons")
        .iter()
        .any(|r| r.as_str().is_some_and(|r| r.contains("少于3次"))));
    assert_eq!(v["decision"]["trace"].as_array().map(Vec::len), Some(10));
    assert_eq!(v["decision"]["ruleset_version"], "2026.1");
    let tracks = v["tracks"].as_array().expect("tracks");
    assert_eq!(tracks.len(), 2);
    assert!(tracks.iter().all(|t| t["status"] == "pending"));

    let (jc, je, xe) = add_reviewers(&app).await;
    let queue: Value = app.get("/api/v1/review/tasks", Some(&jc)).await.json().await.expect("json");
    let task = queue["items"][0]["id"].as_str().expect("task").to_string();
    assert_eq!(queue["items"][0]["application_id"], id.as_str());
    assert!(queue["items"][0]["waited_hours"].as_f64().is_some());
    // Another district's reviewer and another department's queue are closed.
    let xq: Value = app.get("/api/v1/review/tasks", Some(&xe)).await.json().await.expect("json");
    assert_eq!(xq["items"].as_array().map(Vec::len), Some(0));
    problem(
        app.get("/api/v1/review/tasks?department=environment", Some(&jc)).await,
        StatusCode::FORBIDDEN,
        "FORBIDDEN",
    )
    .await;
    problem(decide(&app, &je, &task, "approve", None).await, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    problem(decide(&app, &token, &task, "approve", None).await, StatusCode::FORBIDDEN, "FORBIDDEN").await;
    field_error(decide(&app, &jc, &task, "reject", None).await, "comment", "COMMENT_REQUIRED").await;

    let r: Value = decide(&app, &jc, &task, "approve", Some("同意")).await.json().await.expect("json");
    assert_eq!(r["application_status"], "under_review");
    problem(decide(&app, &jc, &task, "approve", None).await, StatusCode::CONFLICT, "TASK_CLOSED").await;
    let eq: Value = app.get("/api/v1/review/tasks", Some(&je)).await.json().await.expect("json");
    let etask = eq["items"][0]["id"].as_str().expect("task").to_string();
    let r: Value = decide(&app, &je, &etask, "approve", None).await.json().await.expect("json");
    assert_eq!(r["application_status"], "approved");
    let v: Value = app.get(&format!("/api/v1/applications/{id}"), Some(&token)).await.json().await.expect("json");
    assert_eq!(v["status"], "approved");
    assert!(v["tracks"].as_array().expect("tracks").iter().all(|t| t["status"] == "approved"));
    let _ = stop.send(());
    worker.await.expect("join").expect("worker");
    app.stop().await;
}

#[tokio::test]
async fn clean_case_through_review_sqlite() {
    clean_case_through_review(Db::Sqlite).await
}

#[tokio::test]
async fn clean_case_through_review_postgres() {
    clean_case_through_review(Db::Postgres).await
}

/// Defects come back as findings with stable codes; the firm corrects and resubmits (round 2),
/// earlier rounds are kept; a department may then reject or return it again.
#[tokio::test]
async fn defects_correction_and_rejection() {
    let app = bigger_uploads(Db::Sqlite).await;
    let c = case(6);
    let token = register(&app, &c).await;
    let id = app.create_application(&token, &form_for(&c)).await["id"].as_str().expect("id").to_string();
    // The licence of another firm (one character apart) with the seal over its name, a
    // truncated file, an upside-down construction permit, and no noise plan at all.
    let font = synth::font(0).expect("font");
    let mut other = c.clone();
    other.firm_name = c.firm_name.replacen("华沪", "华浦", 1);
    assert_ne!(other.firm_name, c.firm_name);
    let mut licence = synth::document(MaterialKind::BusinessLicense, &other);
    licence.seal_over_line = Some(1);
    let (_, bytes) = synth::file(&licence, Variant::Clean, Format::Png, 200, &font, 7);
    assert_eq!(app.upload(&token, &id, "business_license", "licence.png", bytes).await.status(), StatusCode::CREATED);
    upload_plan(
        &app,
        &token,
        &id,
        &c,
        &[
            (MaterialKind::ConstructionPermit, Variant::UpsideDown, Format::Png),
            (MaterialKind::ProcessCertificate, Variant::Clean, Format::Png),
            (MaterialKind::ResidentNotice, Variant::Clean, Format::Png),
        ],
    )
    .await;
    let (_, site) =
        synth::file(&synth::document(MaterialKind::SitePlan, &c), Variant::Clean, Format::Png, 200, &font, 3);
    let r = app.upload(&token, &id, "site_plan", "plan.png", site[..site.len() / 3].to_vec()).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(app.submit(&token, &id, None).await.status(), StatusCode::ACCEPTED);
    let (stop, worker) = app.start_worker();
    let v = app.wait_prereview(&token, &id).await;
    assert_eq!(v["status"], "needs_correction", "{v:#}");
    assert_eq!(v["prereview"]["outcome"], "needs_correction");
    let errors: Vec<String> = codes(&v).into_iter().filter(|(_, s)| s == "error").map(|(c, _)| c).collect();
    for code in ["MISSING_MATERIAL", "FIRM_NAME_MISMATCH", "UNREADABLE_FILE"] {
        assert!(errors.contains(&code.to_string()), "{code} missing in {errors:?}");
    }
    assert!(!errors.contains(&"PERMIT_NO_MISMATCH".to_string()), "upside-down permit misread: {errors:?}");
    let name = v["prereview"]["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|f| f["code"] == "FIRM_NAME_MISMATCH")
        .cloned()
        .expect("finding");
    assert_eq!(name["expected"], c.firm_name.as_str());
    assert!(name["material_id"].is_string() && name["kind"] == "business_license");

    // Correct: replace the licence and the site plan, add the noise plan, resubmit.
    for m in v["materials"].as_array().expect("materials") {
        if m["kind"] == "business_license" || m["kind"] == "site_plan" {
            let r = app
                .client
                .delete(app.url(&format!("/api/v1/applications/{id}/materials/{}", m["id"].as_str().expect("id"))))
                .bearer_auth(&token)
                .send()
                .await
                .expect("delete");
            assert_eq!(r.status(), StatusCode::NO_CONTENT);
        }
    }
    upload_plan(
        &app,
        &token,
        &id,
        &c,
        &[
            (MaterialKind::BusinessLicense, Variant::Noisy, Format::Png),
            (MaterialKind::NoisePlan, Variant::Clean, Format::Png),
            (MaterialKind::SitePlan, Variant::Clean, Format::Png),
        ],
    )
    .await;
    let r: Value = app.submit(&token, &id, Some("round-2")).await.json().await.expect("json");
    assert_eq!(r["round"], 2);
    let v = app.wait_prereview(&token, &id).await;
    assert_eq!(v["status"], "under_review", "{:?}", codes(&v));
    let rounds: Value =
        app.get(&format!("/api/v1/applications/{id}/prereview"), Some(&token)).await.json().await.expect("json");
    assert_eq!(rounds.as_array().map(Vec::len), Some(2));
    assert_eq!(rounds[0]["outcome"], "needs_correction");

    // The environment bureau asks for a correction: back to the firm, with the comment.
    let (jc, je, _) = add_reviewers(&app).await;
    let eq: Value = app.get("/api/v1/review/tasks", Some(&je)).await.json().await.expect("json");
    let task = eq["items"][0]["id"].as_str().expect("task").to_string();
    let r: Value = decide(&app, &je, &task, "request_correction", Some("请补充夜间噪声监测方案"))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(r["application_status"], "needs_correction");
    let v: Value = app.get(&format!("/api/v1/applications/{id}"), Some(&token)).await.json().await.expect("json");
    assert!(v["tracks"].as_array().expect("tracks").iter().any(|t| t["comment"] == "请补充夜间噪声监测方案"));
    // Resubmitted (round 3), then rejected by the construction committee: rejected.
    assert_eq!(app.submit(&token, &id, None).await.status(), StatusCode::ACCEPTED);
    let v = app.wait_prereview(&token, &id).await;
    assert_eq!(v["status"], "under_review");
    let cq: Value = app.get("/api/v1/review/tasks", Some(&jc)).await.json().await.expect("json");
    let ctask = cq["items"][0]["id"].as_str().expect("task").to_string();
    let r: Value = decide(&app, &jc, &ctask, "reject", Some("该工艺可在昼间完成")).await.json().await.expect("json");
    assert_eq!(r["application_status"], "rejected");
    // The environment task of that round is no longer in its pending queue.
    let eq: Value = app.get("/api/v1/review/tasks", Some(&je)).await.json().await.expect("json");
    assert_eq!(eq["items"].as_array().map(Vec::len), Some(0));
    let _ = stop.send(());
    worker.await.expect("join").expect("worker");
    app.stop().await;
}

/// Under a rule set without the history rule, a clean case from a green firm is approved by
/// the system alone, both tracks completed by the system actor.
#[tokio::test]
async fn auto_approval_under_a_custom_rule_set() {
    let mut s = fresh_settings(Db::Sqlite).await;
    s.limits.max_upload_bytes = 20 * 1024 * 1024;
    let default =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config/rules/default.toml")).expect("rules");
    let relaxed = default
        .replace("when = { fact = \"firm.permits_24m\", lt = 3 }", "when = { fact = \"firm.permits_24m\", lt = 0 }")
        .replace(
            "when = { fact = \"prereview.warnings\", gt = 0 }",
            "when = { fact = \"prereview.warnings\", gt = 100 }",
        );
    let file = s.storage.data_dir.join("relaxed.toml");
    std::fs::create_dir_all(&s.storage.data_dir).expect("dir");
    std::fs::write(&file, relaxed).expect("write");
    s.rules.file = file;
    let app = TestApp::start(s).await;
    let c = case(3);
    let token = register(&app, &c).await;
    let plan: Vec<_> = clean_plan().into_iter().map(|(k, _, f)| (k, Variant::Clean, f)).collect();
    let id = submitted(&app, &token, &c, &plan).await;
    let (stop, worker) = app.start_worker();
    let v = app.wait_prereview(&token, &id).await;
    assert!(v["status"] == "approved" || v["status"] == "issued", "{:?} {}", codes(&v), v["decision"]);
    assert_eq!(v["decision"]["outcome"], "auto_approve");
    assert!(v["tracks"]
        .as_array()
        .expect("tracks")
        .iter()
        .all(|t| t["status"] == "approved" && t["decided_by"] == "system"));
    let actions: Vec<String> = app
        .state
        .store
        .audit_entries_for("application", &id)
        .await
        .expect("audit")
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert!(actions.contains(&"rules.decided".to_string()), "{actions:?}");

    // The worker seals it: both departments' signatures, status issued.
    let mut v = v;
    for _ in 0..100 {
        if v["status"] == "issued" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        v = app.get(&format!("/api/v1/applications/{id}"), Some(&token)).await.json().await.expect("json");
    }
    assert_eq!(v["status"], "issued", "{v:#}");
    let number = v["permit"]["number"].as_str().expect("number").to_string();
    assert!(number.starts_with("jingan-20"), "{number}");
    assert_eq!(v["permit"]["status"], "valid");

    // A resident asks which sites may work on the second night, and on a night after the last.
    let second = c.start_date.succ_opt().expect("date");
    let night: Value =
        app.get(&format!("/api/v1/permits?district=jingan&night={second}"), None).await.json().await.expect("json");
    assert_eq!(night["permits"][0]["number"], number.as_str());
    assert_eq!(night["permits"][0]["nights"]["nightly_end"], "04:00");
    let later = c.end_date + Duration::days(1);
    let none: Value =
        app.get(&format!("/api/v1/permits?district=jingan&night={later}"), None).await.json().await.expect("json");
    assert_eq!(none["permits"].as_array().map(Vec::len), Some(0));
    field_error(app.get("/api/v1/permits?district=gotham", None).await, "district", "UNKNOWN_DISTRICT").await;

    // Anyone can look it up, download it and have it verified.
    let public: Value = app.get(&format!("/api/v1/permits/{number}"), None).await.json().await.expect("json");
    assert_eq!(
        (public["status"].as_str(), public["project_name"].as_str()),
        (Some("valid"), Some(c.project_name.as_str()))
    );
    assert_eq!(public["nights"]["count"], 3);
    let pdf = app.get(&format!("/api/v1/permits/{number}/pdf"), None).await.bytes().await.expect("pdf").to_vec();
    assert!(pdf.starts_with(b"%PDF-"));
    let verify = |bytes: Vec<u8>| {
        app.client.post(app.url("/api/v1/verify")).header("content-type", "application/pdf").body(bytes).send()
    };
    let r: Value = verify(pdf.clone()).await.expect("verify").json().await.expect("json");
    assert_eq!(r["valid"], true, "{r:#}");
    assert_eq!(r["permit_status"], "valid");
    assert_eq!(r["signatures"].as_array().map(Vec::len), Some(2));
    assert!(r["signatures"].as_array().expect("sigs").iter().all(|s| s["intact"] == true && s["trusted"] == true));
    let mut tampered = pdf.clone();
    let at = tampered.len() / 2;
    tampered[at] ^= 0x20;
    let r: Value = verify(tampered).await.expect("verify").json().await.expect("json");
    assert_eq!(r["valid"], false);
    let r = app
        .client
        .post(app.url("/api/v1/verify"))
        .header("content-type", "application/pdf")
        .body("not a pdf")
        .send()
        .await
        .expect("send");
    problem(r, StatusCode::UNSUPPORTED_MEDIA_TYPE, "UNSUPPORTED_MEDIA_TYPE").await;
    let certs: Value = app.get("/api/v1/seal/certificates", None).await.json().await.expect("json");
    assert_eq!(certs["certificates"][0]["role"], "root");
    assert!(certs["certificates"].as_array().expect("certs").len() >= 33);
    assert!(!certs.to_string().contains("PRIVATE KEY"));

    // Offline, with only the published root certificate.
    let dir = temp_dir("certs");
    std::fs::write(dir.join("root.pem"), certs["certificates"][0]["pem"].as_str().expect("pem")).expect("write");
    let file = dir.join("permit.pdf");
    std::fs::write(&file, &pdf).expect("write");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_nightpermit"))
        .args(["verify", file.to_str().expect("path"), "--certs", dir.to_str().expect("path")])
        .output()
        .expect("cli");
    let printed = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{printed}");
    assert!(printed.contains("VALID") && !printed.contains("INVALID"), "{printed}");

    // The site notice to post at the gate: a PDF whose Chinese text a reader can extract.
    let notice = app.get(&format!("/p/{number}/notice.pdf"), None).await;
    assert_eq!(notice.headers()["content-type"], "application/pdf");
    let notice_file = dir.join("notice.pdf");
    std::fs::write(&notice_file, notice.bytes().await.expect("notice")).expect("write");
    let text = std::process::Command::new("pdftotext")
        .args(["-enc", "UTF-8"])
        .arg(&notice_file)
        .arg("-")
        .output()
        .expect("pdftotext (fix: run `make deps`)");
    let text = String::from_utf8_lossy(&text.stdout);
    for expected in ["夜间施工公示", number.as_str(), c.project_name.as_str(), "扫码查看许可证状态"] {
        assert!(text.contains(expected), "the notice lacks {expected}: {text}");
    }

    // Revoked: the public record, the night list and the online verification say so.
    let admin = app.staff("root-admin", "admin", None, None).await;
    let r = app.post_json(&format!("/api/v1/permits/{number}/revoke"), Some(&token), &json!({"reason": "x"})).await;
    problem(r, StatusCode::FORBIDDEN, "FORBIDDEN").await;
    let r: Value = app
        .post_json(&format!("/api/v1/permits/{number}/revoke"), Some(&admin), &json!({"reason": "噪声投诉经查属实"}))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(r["status"], "revoked");
    let night: Value =
        app.get(&format!("/api/v1/permits?district=jingan&night={second}"), None).await.json().await.expect("json");
    assert_eq!(night["permits"].as_array().map(Vec::len), Some(0));
    let r: Value = verify(pdf).await.expect("verify").json().await.expect("json");
    assert_eq!((r["valid"].as_bool(), r["permit_status"].as_str()), (Some(false), Some("revoked")));
    assert!(
        r["signatures"].as_array().expect("sigs").iter().all(|s| s["intact"] == true),
        "the seals are still intact"
    );
    let _ = stop.send(());
    worker.await.expect("join").expect("worker");
    app.stop().await;
}

/// A job that fails on every attempt (its file vanished from the blob store) ends with an
/// internal-error finding and goes to the reviewers; it does not loop.
#[tokio::test]
async fn a_job_that_keeps_failing_goes_to_a_human() {
    let mut s = fresh_settings(Db::Sqlite).await;
    s.jobs.max_attempts = 2;
    let app = TestApp::start(s).await;
    let (_, token) = app.firm(40).await;
    let id = app.create_application(&token, &example_form()).await["id"].as_str().expect("id").to_string();
    let m: Value = app.upload(&token, &id, "site_plan", "p.png", png(900, 900)).await.json().await.expect("json");
    assert_eq!(app.submit(&token, &id, None).await.status(), StatusCode::ACCEPTED);
    let sha = m["sha256"].as_str().expect("sha");
    let blob = app.state.settings.blob_dir().join(&sha[..2]).join(&sha[2..4]).join(sha);
    std::fs::remove_file(blob).expect("remove blob");
    let (stop, worker) = app.start_worker();
    // Skip the retry back-off instead of sleeping through it.
    for _ in 0..50 {
        app.state.clock.advance_ms(10_000);
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let v: Value = app.get(&format!("/api/v1/applications/{id}"), Some(&token)).await.json().await.expect("json");
        if v["status"] != "prereview" {
            break;
        }
    }
    let v = app.wait_prereview(&token, &id).await;
    assert_eq!(v["status"], "under_review");
    assert_eq!(codes(&v), vec![("PREREVIEW_FAILED".to_string(), "warning".to_string())]);
    assert_eq!(v["decision"]["outcome"], "manual_review");
    let jobs = app.state.store.jobs_for_application(&id).await.expect("jobs");
    assert_eq!((jobs[0].state.as_str(), jobs[0].attempts), ("done", 2));
    let _ = stop.send(());
    worker.await.expect("join").expect("worker");
    app.stop().await;
}
