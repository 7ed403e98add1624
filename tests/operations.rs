//! Black-box: the OpenAPI document matches the router, health and metrics answer, the CLI
//! creates staff and checks the audit chain.

mod common;

use common::*;
use reqwest::StatusCode;
use serde_json::Value;
use std::process::Command;

fn cli(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_nightpermit"))
        .args(args)
        .env_remove("DATABASE_URL")
        .output()
        .expect("run nightpermit")
}

#[tokio::test]
async fn every_documented_route_is_served_and_core_routes_are_documented() {
    let app = TestApp::spawn(Db::Sqlite).await;
    let doc: Value = app.get("/api/v1/openapi.json", None).await.json().await.expect("json");
    let paths = doc["paths"].as_object().expect("paths");
    for core in [
        "/api/v1/firms",
        "/api/v1/sessions",
        "/api/v1/applications",
        "/api/v1/applications/{id}",
        "/api/v1/applications/{id}/materials",
        "/api/v1/applications/{id}/materials/{material_id}",
        "/api/v1/applications/{id}/submit",
        "/api/v1/openapi.json",
        "/healthz",
        "/readyz",
        "/metrics",
    ] {
        assert!(paths.contains_key(core), "{core} missing from the OpenAPI document");
    }
    let mut checked = 0;
    for (path, item) in paths {
        let concrete = path.replace("{id}", "x").replace("{material_id}", "y");
        for method in item.as_object().expect("item").keys() {
            let m = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
            let r = app.client.request(m, app.url(&concrete)).send().await.expect("send");
            let status = r.status();
            let body = r.text().await.unwrap_or_default();
            assert!(
                !body.contains("ROUTE_NOT_FOUND") && status != StatusCode::METHOD_NOT_ALLOWED,
                "{method} {path} is documented but not served: {status} {body}"
            );
            checked += 1;
        }
    }
    assert!(checked >= 13, "only {checked} operations checked");
    // And something not documented is not served.
    let r = app.get("/api/v1/nothing-here", None).await;
    problem(r, StatusCode::NOT_FOUND, "ROUTE_NOT_FOUND").await;
    app.stop().await;
}

#[tokio::test]
async fn health_readiness_and_metrics() {
    let app = TestApp::spawn(Db::Sqlite).await;
    assert_eq!(app.get("/healthz", None).await.status(), StatusCode::OK);
    let ready: Value = app.get("/readyz", None).await.json().await.expect("json");
    assert_eq!(ready["database"], "sqlite");
    app.get("/api/v1/applications", None).await;
    assert_eq!(app.get("/metrics", None).await.status(), reqwest::StatusCode::UNAUTHORIZED);
    let metrics = app.get("/metrics", Some("test-metrics-token")).await.text().await.expect("text");
    assert!(metrics.contains("nightpermit_http_requests_total"), "{metrics}");
    assert!(metrics.contains("route=\"/api/v1/applications\""), "{metrics}");
    assert!(metrics.contains("status=\"401\""), "{metrics}");
    app.stop().await;
}

#[tokio::test]
async fn staff_from_the_cli_see_their_district_only() {
    let settings = fresh_settings(Db::Sqlite).await;
    let dir = settings.storage.data_dir.to_str().expect("utf-8 path").to_string();
    let add = |user: &str, district: &str| {
        cli(&[
            "users",
            "add",
            "--username",
            user,
            "--password",
            "review-pass-1",
            "--role",
            "reviewer",
            "--department",
            "construction",
            "--district",
            district,
            "--data-dir",
            &dir,
        ])
    };
    let out = add("jingan-c", "jingan");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(add("xuhui-c", "xuhui").status.success());
    let dup = add("jingan-c", "jingan");
    assert!(!dup.status.success());
    assert!(String::from_utf8_lossy(&dup.stderr).contains("already exists"));
    let bad = cli(&[
        "users",
        "add",
        "--username",
        "r2",
        "--password",
        "review-pass-1",
        "--role",
        "reviewer",
        "--data-dir",
        &dir,
    ]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--department"));

    let app = TestApp::start(settings).await;
    let (_, firm) = app.firm(8).await;
    let id = app.create_application(&firm, &example_form()).await["id"].as_str().expect("id").to_string();
    let jingan = app.login("jingan-c", "review-pass-1").await;
    let xuhui = app.login("xuhui-c", "review-pass-1").await;
    let path = format!("/api/v1/applications/{id}");
    assert_eq!(app.get(&path, Some(&jingan)).await.status(), StatusCode::OK);
    problem(app.get(&path, Some(&xuhui)).await, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    let list: Value = app.get("/api/v1/applications", Some(&jingan)).await.json().await.expect("json");
    assert_eq!(list["total"], 1);
    let list: Value = app.get("/api/v1/applications", Some(&xuhui)).await.json().await.expect("json");
    assert_eq!(list["total"], 0);
    // Staff cannot apply or submit on a firm's behalf.
    problem(
        app.post_json("/api/v1/applications", Some(&jingan), &example_form()).await,
        StatusCode::FORBIDDEN,
        "FORBIDDEN",
    )
    .await;
    problem(app.submit(&jingan, &id, None).await, StatusCode::FORBIDDEN, "FORBIDDEN").await;

    // The CLI disables an account as the admin page does: its token ends, sign-in is refused.
    let out = cli(&["users", "disable", "--username", "jingan-c", "--data-dir", &dir]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    problem(app.get(&path, Some(&jingan)).await, StatusCode::UNAUTHORIZED, "TOKEN_INVALID").await;
    let login = serde_json::json!({"login": "jingan-c", "password": "review-pass-1"});
    problem(app.post_json("/api/v1/sessions", None, &login).await, StatusCode::FORBIDDEN, "ACCOUNT_DISABLED").await;
    let out = cli(&["users", "enable", "--username", "jingan-c", "--data-dir", &dir]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    app.login("jingan-c", "review-pass-1").await;
    let missing = cli(&["users", "disable", "--username", "nobody", "--data-dir", &dir]);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no staff account nobody"));
    app.stop().await;
}

#[tokio::test]
async fn audit_verify_names_the_first_broken_link() {
    let dir = temp_dir("audit");
    let d = dir.to_str().expect("utf-8 path");
    let demo = cli(&["demo", "--data-dir", d]);
    assert!(demo.status.success(), "{}", String::from_utf8_lossy(&demo.stderr));
    let printed = String::from_utf8_lossy(&demo.stdout);
    assert!(printed.contains("jingan-construction") && printed.contains("password"), "{printed}");
    // Running it again changes nothing and still succeeds.
    assert!(cli(&["demo", "--data-dir", d]).status.success());

    let ok = cli(&["audit", "verify", "--data-dir", d]);
    assert!(ok.status.success());
    assert!(
        String::from_utf8_lossy(&ok.stdout).contains("intact: 6 entries"),
        "{}",
        String::from_utf8_lossy(&ok.stdout)
    );

    let store = nightpermit_store::SqlStore::open_sqlite(&dir.join("nightpermit.db")).await.expect("open");
    store.tamper_audit_entry(4, "staff.forged").await.expect("tamper");
    store.close().await;
    let broken = cli(&["audit", "verify", "--data-dir", d]);
    assert_eq!(broken.status.code(), Some(1));
    let out = String::from_utf8_lossy(&broken.stdout);
    assert!(out.contains("BROKEN at entry 4"), "{out}");
}

#[test]
fn help_lists_every_command() {
    let out = cli(&["--help"]);
    let text = String::from_utf8_lossy(&out.stdout);
    for cmd in ["serve", "worker", "migrate", "users", "audit", "demo", "rules", "firms", "keys", "verify", "permits"] {
        assert!(text.contains(cmd), "{cmd} missing from --help: {text}");
    }
    let bad = cli(&["serve", "--listen", "not-an-address"]);
    assert!(!bad.status.success());
}

/// The README's curl walk-through, run as written against a real server with the demo accounts
/// (only the API address is pointed at this test's server).
#[tokio::test]
async fn readme_walkthrough_works_as_written() {
    let settings = fresh_settings(Db::Sqlite).await;
    let dir = settings.storage.data_dir.to_str().expect("utf-8 path").to_string();
    assert!(cli(&["demo", "--data-dir", &dir]).status.success());
    let app = TestApp::start(settings).await;
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).expect("README");
    let block = readme
        .split("```sh\n")
        .skip(1)
        .filter_map(|b| b.split("```").next())
        .find(|b| b.contains("API=http://127.0.0.1:8080/api/v1"))
        .expect("walk-through block");
    let script = block.replace("API=http://127.0.0.1:8080/api/v1", &format!("API={}", app.url("/api/v1")));
    let out = tokio::process::Command::new("bash")
        .arg("-c")
        .arg(format!("set -e\n{script}"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .await
        .expect("bash");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("\"status\":\"prereview\",\"round\":1"), "{stdout}");
    assert!(stdout.lines().any(|l| l == "prereview"), "{stdout}");
    assert!(stdout.contains("'nightly_end': '05:00'"), "{stdout}");
    assert!(stdout.contains("CREDIT_CODE_INVALID"), "{stdout}");
    app.stop().await;
}

/// On Postgres the sealing keys are not created implicitly: start-up stops and says how to fix it.
#[tokio::test]
async fn missing_keys_on_postgres_stop_start_up_with_the_fix() {
    let mut s = fresh_settings(Db::Sqlite).await;
    s.storage.data_dir = temp_dir("nokeys");
    s.database_url = Some(nightpermit_cases::config::DatabaseUrl(
        nightpermit_store::testing::fresh_postgres_url().await.expect("postgres"),
    ));
    let err = nightpermit_server::build_state(s).await.err().expect("must not start without keys");
    assert!(format!("{err:#}").contains("nightpermit keys init"), "{err:#}");
}

/// `{id}`, `{task_id}`, `{number}` … all as `{}`: parameter names differ between documents.
fn path_shape(path: &str) -> String {
    let mut out = String::new();
    let mut in_param = false;
    for c in path.chars() {
        match c {
            '{' => {
                in_param = true;
                out.push_str("{}");
            }
            '}' => in_param = false,
            c if !in_param => out.push(c),
            _ => {}
        }
    }
    out
}

/// The fixed contract (../shared/API.md, written by hand, read by outside scripts) against the
/// OpenAPI document and the router: every endpoint the contract names is documented with that
/// method and answers something other than "no such route". A route missing from the router, or
/// registered without its documentation, or renamed, fails here.
#[tokio::test]
async fn every_contract_endpoint_is_documented_and_served() {
    let contract = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/API.md"))
        .expect("../shared/API.md, the API contract");
    let re = regex_lite(&contract);
    assert!(re.len() >= 20, "only {} endpoints read from API.md: {re:?}", re.len());
    let app = TestApp::spawn(Db::Sqlite).await;
    let doc: Value = app.get("/api/v1/openapi.json", None).await.json().await.expect("json");
    let documented: Vec<(String, String)> = doc["paths"]
        .as_object()
        .expect("paths")
        .iter()
        .flat_map(|(p, item)| {
            item.as_object().into_iter().flat_map(|m| m.keys()).map(move |m| (m.to_uppercase(), path_shape(p)))
        })
        .collect();
    for (method, path) in &re {
        assert!(
            documented.contains(&(method.clone(), path_shape(path))),
            "{method} {path} is in API.md but not in the OpenAPI document"
        );
        let concrete = path.replace('{', "x").replace('}', "");
        let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let r = app.client.request(m, app.url(&concrete)).send().await.expect("send");
        let status = r.status();
        let body = r.text().await.unwrap_or_default();
        assert!(
            !body.contains("ROUTE_NOT_FOUND") && status != StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path} is in API.md but not served: {status} {body}"
        );
    }
}

/// `METHOD /api/v1/…` pairs written in code spans of the contract.
fn regex_lite(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for span in text.split('`').skip(1).step_by(2) {
        let mut words = span.split_whitespace();
        let (Some(method), Some(path)) = (words.next(), words.next()) else { continue };
        if ["GET", "POST", "PATCH", "DELETE", "PUT"].contains(&method) && path.starts_with("/api/v1/") {
            let path = path.split('?').next().unwrap_or(path).to_string();
            if !out.contains(&(method.to_string(), path.clone())) {
                out.push((method.to_string(), path));
            }
        }
    }
    out
}
