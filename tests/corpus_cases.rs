//! A few cases of the realistic dev corpus (../shared/corpus/dev) through the real server and
//! worker, PP-OCR and Tesseract included, asserting verdicts and codes as score.py would. The
//! whole corpus runs in `make bench-corpus`; these are its representatives in `make test`: a
//! clean scan set, phone photos, another firm's credit code, and a plan with no seal.
mod common;

use common::{Db, TestApp};
use reqwest::multipart::{Form, Part};
use reqwest::StatusCode;
use serde_json::Value;
use std::path::PathBuf;

fn corpus_dir() -> PathBuf {
    std::env::var_os("NIGHTPERMIT_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/dev"))
}

fn load(dir: &std::path::Path, name: &str) -> Value {
    let text = std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{}: {e}", dir.join(name).display()));
    serde_json::from_str(&text).expect("json")
}

fn content_type(file: &str) -> &'static str {
    match file.rsplit('.').next().map(str::to_ascii_lowercase).as_deref() {
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("tif" | "tiff") => "image/tiff",
        Some("pdf") => "application/pdf",
        _ => "application/octet-stream",
    }
}

/// Runs one case; returns (outcome, findings, expected, firm token, application id).
async fn run(app: &TestApp, case: &str) -> (String, Vec<Value>, Value, String, String) {
    let dir = corpus_dir().join(case);
    let (firm, form, expected) = (load(&dir, "firm.json"), load(&dir, "application.json"), load(&dir, "expected.json"));
    // Several cases share a firm: registered once.
    let r = app.post_json("/api/v1/firms", None, &firm).await;
    assert!(
        [StatusCode::CREATED, StatusCode::CONFLICT].contains(&r.status()),
        "{}",
        r.text().await.unwrap_or_default()
    );
    let token = app.login(firm["credit_code"].as_str().expect("code"), firm["password"].as_str().expect("pw")).await;
    let id = app.create_application(&token, &form).await["id"].as_str().expect("id").to_string();
    for file in expected["files"].as_array().expect("files").iter().filter_map(Value::as_str) {
        let kind = file.split('.').next().expect("kind");
        let bytes = std::fs::read(dir.join(file)).expect("file");
        let part = Part::bytes(bytes).file_name(file.to_string()).mime_str(content_type(file)).expect("mime");
        let r = app
            .client
            .post(app.url(&format!("/api/v1/applications/{id}/materials")))
            .bearer_auth(&token)
            .multipart(Form::new().text("kind", kind.to_string()).part("file", part))
            .send()
            .await
            .expect("upload");
        assert_eq!(r.status(), StatusCode::CREATED, "{file}: {}", r.text().await.unwrap_or_default());
    }
    assert_eq!(app.submit(&token, &id, None).await.status(), StatusCode::ACCEPTED);
    let v = app.wait_prereview(&token, &id).await;
    assert_eq!(v["prereview"]["state"], "done", "{case}: {v:#}");
    let outcome = v["prereview"]["outcome"].as_str().unwrap_or("").to_string();
    let findings = v["prereview"]["findings"].as_array().cloned().unwrap_or_default();
    (outcome, findings, expected, token, id)
}

fn check(case: &str, outcome: &str, findings: &[Value], expected: &Value) {
    let summary: Vec<String> =
        findings.iter().map(|f| format!("{} {} {}", f["severity"], f["code"], f["message"])).collect();
    assert_eq!(outcome, expected["outcome"].as_str().expect("outcome"), "{case}: {summary:#?}");
    for code in expected["codes"].as_array().expect("codes").iter().filter_map(Value::as_str) {
        assert!(findings.iter().any(|f| f["code"] == code), "{case}: {code} missing from {summary:#?}");
    }
    for code in expected["forbidden_codes"].as_array().expect("forbidden").iter().filter_map(Value::as_str) {
        assert!(
            !findings.iter().any(|f| f["code"] == code && f["severity"] == "error"),
            "{case}: {code} must not be an error: {summary:#?}"
        );
    }
    // Every finding says where: a region, or the material it is about.
    for f in findings {
        assert!(f["id"].is_string() || f.get("id").is_none(), "{f}");
    }
}

#[tokio::test]
async fn representative_dev_corpus_cases() {
    if !corpus_dir().is_dir() {
        panic!("the dev corpus is missing at {} (set NIGHTPERMIT_CORPUS)", corpus_dir().display());
    }
    let mut settings = common::fresh_settings(Db::Sqlite).await;
    settings.worker.in_process = true;
    settings.limits.max_upload_bytes = 20 * 1024 * 1024;
    let app = TestApp::start(settings).await;
    for case in [
        "v01_clean_png_serif_300dpi",
        "v03_phone_photos_microhei",
        "v12_credit_code_other_firm",
        "v19_plan_no_seal_pdf",
    ] {
        let (outcome, findings, expected, token, id) = run(&app, case).await;
        check(case, &outcome, &findings, &expected);
        if case.starts_with("v12") {
            the_case_page_draws_the_finding(&app, &token, &id, &findings).await;
            contest_the_finding(&app, &token, &id, &findings).await;
        }
    }
}

/// The firm holds the credit-code finding wrong: the case goes to both departments' reviewers
/// with the dispute, instead of back to the firm.
/// The case page shows the finding with its box over the page image as the pre-review read it,
/// and the image is served to the firm (and to nobody outside the case).
async fn the_case_page_draws_the_finding(app: &TestApp, token: &str, id: &str, findings: &[Value]) {
    let finding = findings.iter().find(|f| f["code"] == "CREDIT_CODE_MISMATCH").expect("finding");
    let region = &finding["region"];
    assert!(region.is_object(), "the finding has a region: {finding}");
    let cookie = format!("np_session={token}");
    let get = |path: String, cookie: String| {
        let client = app.client.clone();
        let url = app.url(&path);
        async move { client.get(url).header(reqwest::header::COOKIE, cookie).send().await.expect("get") }
    };
    let html = get(format!("/applications/{id}"), cookie.clone()).await.text().await.expect("html");
    assert!(html.contains("data-finding=\"CREDIT_CODE_MISMATCH\""), "{html}");
    let marker = format!("data-region=\"{},{},{},", region["page"], region["x"], region["y"]);
    assert!(html.contains(&marker), "{marker} in {html}");
    let src = html.split("<image href=\"").nth(1).and_then(|s| s.split('"').next()).expect("a page image");
    let view_box = html.split("viewBox=\"0 0 ").nth(1).and_then(|s| s.split('"').next()).expect("viewBox");
    let (w, h) = view_box.split_once(' ').expect("w h");
    let (w, h): (u64, u64) = (w.parse().expect("w"), h.parse().expect("h"));
    // The page's short side at A4 width and 200 dpi (a business licence lies landscape).
    assert!((1300..=2000).contains(&w.min(h)), "the page at the OCR scale: {w}x{h}");
    assert!(region["x"].as_u64().expect("x") + region["w"].as_u64().expect("w") <= w);
    let r = get(src.to_string(), cookie.clone()).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()[reqwest::header::CONTENT_TYPE], "image/jpeg");
    let img = image::load_from_memory(&r.bytes().await.expect("bytes")).expect("a JPEG");
    let ratio = |a: u64, b: u64| a as f64 / b as f64;
    assert!((ratio(u64::from(img.height()), u64::from(img.width())) - ratio(h, w)).abs() < 0.01, "same shape");
    // Another firm sees neither the case nor its pages.
    let other = app.firm(4242).await.1;
    let r = get(src.to_string(), format!("np_session={other}")).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

async fn contest_the_finding(app: &TestApp, token: &str, id: &str, findings: &[Value]) {
    let finding = findings.iter().find(|f| f["code"] == "CREDIT_CODE_MISMATCH").expect("finding");
    let fid = finding["id"].as_str().expect("findings carry an id");
    let path = format!("/api/v1/applications/{id}/disputes");
    let r = app.post_json(&path, Some(token), &serde_json::json!({"finding_ids": [fid]})).await;
    common::field_error(r, "comment", "COMMENT_REQUIRED").await;
    let r = app.post_json(&path, Some(token), &serde_json::json!({"finding_ids": ["9-99"], "comment": "x"})).await;
    common::field_error(r, "finding_ids", "UNKNOWN_FINDING").await;
    let body = serde_json::json!({"finding_ids": [fid], "comment": "执照上的代码与我单位一致，请人工核对原件"});
    let r = app.post_json(&path, Some(token), &body).await;
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap_or_default());
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["status"], "under_review");
    let tracks = v["tracks"].as_array().expect("tracks");
    assert_eq!(tracks.len(), 2);
    assert!(tracks.iter().all(|t| t["status"] == "pending"), "{tracks:?}");
    // A second dispute is too late: the case is with the reviewers now.
    let r = app.post_json(&path, Some(token), &body).await;
    common::problem(r, StatusCode::CONFLICT, "INVALID_STATE").await;
    let reviewer = app
        .staff("corpus-reviewer", "reviewer", Some("construction"), Some(v["district"].as_str().expect("district")))
        .await;
    let queue: Value = app.get("/api/v1/review/tasks", Some(&reviewer)).await.json().await.expect("json");
    let item =
        queue["items"].as_array().and_then(|i| i.iter().find(|t| t["application_id"] == id)).expect("in the queue");
    assert!(item.to_string().contains("异议"), "the dispute is shown to the reviewer: {item}");
}
