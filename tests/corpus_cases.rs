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

/// Runs one case; returns (outcome, findings).
async fn run(app: &TestApp, case: &str) -> (String, Vec<Value>, Value) {
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
    (outcome, findings, expected)
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
        let (outcome, findings, expected) = run(&app, case).await;
        check(case, &outcome, &findings, &expected);
    }
}
