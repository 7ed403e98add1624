//! Accessibility, as each role meets the pages: axe-core (vendored by `make deps`, never fetched
//! at test time) runs in headless Chromium on every page and there must be no violation of
//! impact serious or critical. The application form is also filled in by keyboard alone.
//! With NIGHTPERMIT_SCREENSHOTS_DIR set, the main page of each role is saved there as an
//! 800 px wide PNG (docs/screenshots/ holds the committed ones).

mod common;

use common::browser::{browser, start_driver, PHONE};
use common::*;
use fantoccini::key::Key;
use fantoccini::{Client, Locator};
use nightpermit_store::JOB_KIND_SEAL;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The version scripts/install-deps.sh pins (with the tarball's integrity).
const AXE_VERSION: &str = "4.10.3";
/// Screenshots for the README: wide enough to read, small enough to commit.
const SHOT_WIDTH: u32 = 800;
const SHOT_MAX_HEIGHT: u32 = 1150;

fn axe_source() -> String {
    let dir = std::env::var_os("NIGHTPERMIT_AXE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache/nightpermit/axe"));
    let file = dir.join(AXE_VERSION).join("axe.min.js");
    std::fs::read_to_string(&file)
        .unwrap_or_else(|e| panic!("axe-core is missing at {} ({e}); fix: `make deps`", file.display()))
}

/// Runs axe-core in the page and returns its violations. The source goes in through WebDriver,
/// which the page's CSP (script-src 'self') does not govern.
async fn axe(c: &Client, source: &str) -> Vec<Value> {
    let script = format!(
        "{source}\n;const done = arguments[arguments.length - 1];\
         axe.run(document, {{resultTypes: ['violations']}})\
           .then(r => done({{violations: r.violations, passes: r.passes.length}}),\
                 e => done({{violations: [{{id: 'axe-error', impact: 'critical', help: String(e), nodes: []}}], passes: 0}}));"
    );
    let v = c.execute_async(&script, vec![]).await.expect("axe ran");
    assert!(v["passes"].as_u64().unwrap_or(0) > 0, "axe-core checked nothing: {v}");
    v["violations"].as_array().cloned().unwrap_or_default()
}

struct Audit<'a> {
    app: &'a TestApp,
    c: Client,
    axe: String,
    shots: Option<PathBuf>,
    failures: Vec<String>,
    checked: Vec<String>,
}

impl Audit<'_> {
    async fn goto(&self, path: &str) {
        self.c.goto(&self.app.url(path)).await.expect("goto");
    }

    /// Signs in through the sign-in page, as the person would.
    async fn sign_in_as(&self, login: &str, password: &str) {
        self.c.delete_all_cookies().await.expect("cookies");
        self.goto("/login").await;
        self.fill("[name=login]", login).await;
        self.fill("[name=password]", password).await;
        self.submit("form.stack button[type=submit]").await;
    }

    async fn path(&self) -> String {
        self.c.current_url().await.expect("url").path().to_string()
    }

    /// Checks the page the browser shows now, under `label`.
    async fn check(&mut self, label: &str) {
        let url = self.c.current_url().await.expect("url").to_string();
        let violations = axe(&self.c, &self.axe).await;
        let mut report = Vec::new();
        for v in &violations {
            let impact = v["impact"].as_str().unwrap_or("?");
            let nodes: Vec<String> = v["nodes"]
                .as_array()
                .into_iter()
                .flatten()
                .take(5)
                .map(|n| {
                    format!(
                        "      {} :: {}",
                        n["target"],
                        n["failureSummary"].as_str().unwrap_or("").replace('\n', " ")
                    )
                })
                .collect();
            let line = format!("  [{impact}] {}: {}\n{}", v["id"], v["help"].as_str().unwrap_or(""), nodes.join("\n"));
            eprintln!("{label} ({url}){line}");
            if matches!(impact, "serious" | "critical") {
                report.push(line);
            }
        }
        if !report.is_empty() {
            self.failures.push(format!("{label} ({url}):\n{}", report.join("\n")));
        }
        eprintln!("{label}: {} violation(s), {} serious or critical", violations.len(), report.len());
        self.checked.push(label.to_string());
    }

    /// Saves the page, `SHOT_WIDTH` wide and as tall as it is (capped), when screenshots are asked for.
    async fn shot(&self, name: &str) {
        let Some(dir) = &self.shots else { return };
        let height = self.c.execute("return document.documentElement.scrollHeight", vec![]).await.expect("height");
        let height = (height.as_u64().unwrap_or(900) as u32).clamp(600, SHOT_MAX_HEIGHT);
        self.c.set_window_size(SHOT_WIDTH, height).await.expect("resize");
        tokio::time::sleep(Duration::from_millis(150)).await;
        let png = self.c.screenshot().await.expect("screenshot");
        // Re-encoded without alpha and with the best compression: these are committed.
        let rgb = image::load_from_memory(&png).expect("a PNG").to_rgb8();
        let mut out = Vec::new();
        let encoder = image::codecs::png::PngEncoder::new_with_quality(
            &mut out,
            image::codecs::png::CompressionType::Best,
            image::codecs::png::FilterType::Adaptive,
        );
        rgb.write_with_encoder(encoder).expect("encode");
        std::fs::write(dir.join(format!("{name}.png")), out).expect("write screenshot");
        self.c.set_window_size(PHONE.0, PHONE.1).await.expect("resize back");
    }

    async fn fill(&self, css: &str, value: &str) {
        let input = self.c.find(Locator::Css(css)).await.unwrap_or_else(|_| panic!("{css}"));
        input.clear().await.expect("clear");
        input.send_keys(value).await.expect("type");
    }

    /// Clicks something that loads a new page and waits for it.
    async fn submit(&self, css: &str) {
        let old = self.c.find(Locator::Css("html")).await.expect("document");
        self.c.find(Locator::Css(css)).await.unwrap_or_else(|_| panic!("{css}")).click().await.expect("click");
        wait_replaced(&self.c, old).await;
    }
}

async fn wait_replaced(c: &Client, old: fantoccini::elements::Element) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while old.tag_name().await.is_ok() {
        assert!(Instant::now() < deadline, "no new page loaded");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    c.wait().for_element(Locator::Css("body footer")).await.expect("the new page loaded");
}

/// A case under review in Jing'an as the worker leaves it: the pre-review's `findings`, the
/// rules' decision, both departments' tracks pending. Returns the application id.
async fn flagged_case(app: &TestApp, token: &str, findings: Value) -> String {
    let mut facts = nightpermit_rules::example::clean_facts();
    facts.set(nightpermit_rules::Fact::FirmPermits24m, nightpermit_rules::FactValue::Int(0));
    let today = nightpermit_server::views::shanghai_today(app.state.clock.now_ms());
    let mut form = example_form();
    form["night_work"]["start_date"] = json!(today.to_string());
    form["night_work"]["end_date"] = json!((today + chrono::Duration::days(2)).to_string());
    let id = app.create_application(token, &form).await["id"].as_str().expect("id").to_string();
    let r = app.upload(token, &id, "site_plan", "plan.png", png(40, 30)).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(app.submit(token, &id, None).await.status(), StatusCode::ACCEPTED);
    let now = app.state.clock.now_ms();
    let d = nightpermit_rules::decide(&app.state.policy.rules, &facts);
    let decision = nightpermit_store::DecisionRecord {
        application_id: id.clone(),
        round: 1,
        outcome: d.outcome,
        ruleset_id: d.ruleset_id.clone(),
        ruleset_version: d.ruleset_version.clone(),
        ruleset_sha256: d.ruleset_sha256.clone(),
        reasons: serde_json::to_string(&d.reasons).expect("json"),
        trace: serde_json::to_string(&d.trace).expect("json"),
        facts: serde_json::to_string(&facts).expect("json"),
        decided_at: now,
    };
    app.finish_for_review(&id, serde_json::to_string(&d.reasons).expect("json"), findings.to_string(), Some(decision))
        .await;
    id
}

/// Both departments approve `id` and the sealing job runs: returns the permit number.
async fn issue(app: &TestApp, firm: &str, id: &str, reviewers: [&str; 2]) -> String {
    for (token, dep) in reviewers.iter().zip(["construction", "environment"]) {
        let r = app
            .post_json(
                &format!("/api/v1/review/tasks/{id}-{dep}/decision"),
                Some(token),
                &json!({"outcome": "approve"}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap_or_default());
    }
    let seal = app.state.store.claim_job(&[JOB_KIND_SEAL], "test", app.state.clock.now_ms(), 60_000).await;
    nightpermit_cases::sealing::process(&app.state, "test", &seal.expect("claim").expect("a sealing job"))
        .await
        .expect("sealed");
    let v: Value = app.get(&format!("/api/v1/applications/{id}"), Some(firm)).await.json().await.expect("json");
    assert_eq!(v["status"], "issued", "{v:#}");
    v["permit"]["number"].as_str().expect("number").to_string()
}

/// A complaint filed through the page's form; returns its reference.
async fn complaint(app: &TestApp, number: &str) -> String {
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let r = client
        .post(app.url("/complaints"))
        .header("origin", app.url(""))
        .form(&[
            ("district", "jingan"),
            ("permit_number", number),
            ("occurred_at", "2025-06-01T23:30"),
            ("description", "凌晨打桩声音很大"),
        ])
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{}", r.text().await.unwrap_or_default());
    r.headers()["location"].to_str().expect("ascii").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_passes_axe_as_its_role_sees_it() {
    let app = TestApp::spawn(Db::Sqlite).await;
    let (firm_code, firm) = app.firm(960).await;
    let jc = app.staff("jc", "reviewer", Some("construction"), Some("jingan")).await;
    let je = app.staff("je", "reviewer", Some("environment"), Some("jingan")).await;
    app.staff("aud", "auditor", None, None).await;
    app.staff("adm", "admin", None, None).await;
    let findings = json!([{"code": "MEASURE_NOT_SHOWN", "severity": "warning", "kind": "site_plan",
                           "message": "总平面图上未见隔声屏位置", "expected": "隔声屏", "found": ""}]);
    let flagged = flagged_case(&app, &firm, findings).await;
    let second = flagged_case(&app, &firm, json!([])).await;
    let number = issue(&app, &firm, &second, [&jc, &je]).await;
    let today = nightpermit_server::views::shanghai_today(app.state.clock.now_ms()).to_string();
    let pdf = app.get(&format!("/api/v1/permits/{number}/pdf"), None).await.bytes().await.expect("pdf").to_vec();
    let dir = temp_dir("a11y-pdfs");
    let sealed = dir.join(format!("{number}.pdf"));
    std::fs::write(&sealed, &pdf).expect("write");
    let reference = complaint(&app, &number).await;
    // A draft with one material: the task list, the kinds' drop zones, a thumbnail, the check page.
    let draft = app.create_application(&firm, &example_form()).await["id"].as_str().expect("id").to_string();
    let r = app.upload(&firm, &draft, "site_plan", "plan.png", png(120, 90)).await;
    assert_eq!(r.status(), StatusCode::CREATED);

    let shots = std::env::var_os("NIGHTPERMIT_SCREENSHOTS_DIR").map(PathBuf::from);
    if let Some(d) = &shots {
        std::fs::create_dir_all(d).expect("screenshot dir");
    }
    let driver = start_driver().await;
    let axe_js = axe_source();
    let mut a =
        Audit { app: &app, c: browser(&driver, true).await, axe: axe_js, shots, failures: vec![], checked: vec![] };
    let width = a.c.execute("return window.innerWidth", vec![]).await.expect("width");
    eprintln!("viewport width {width} (asked for {})", PHONE.0);

    // The check itself: a field without a label must be caught.
    a.goto("/").await;
    a.c.execute("document.querySelector('main').append(document.createElement('input'))", vec![]).await.expect("js");
    let caught = axe(&a.c, &a.axe).await;
    assert!(caught.iter().any(|v| v["id"] == "label" && v["impact"] == "critical"), "axe-core missed it: {caught:?}");

    // A visitor and a resident.
    a.goto("/").await;
    a.check("front page").await;
    a.shot("public-home").await;
    a.goto("/login").await;
    a.check("sign-in").await;
    a.goto("/register").await;
    a.check("register").await;
    a.fill("[name=credit_code]", "91310100000000000X").await;
    a.submit("form.stack button[type=submit]").await;
    assert!(a.c.find(Locator::Css("[data-errors]")).await.is_ok(), "the error summary");
    a.check("register with errors").await;
    a.shot("register-errors").await;
    a.goto(&format!("/p/{number}")).await;
    a.check("permit page").await;
    a.shot("public-permit").await;
    a.goto(&format!("/night/jingan?night={today}")).await;
    a.check("night list").await;
    a.shot("public-night").await;
    a.goto("/verify").await;
    a.check("verify").await;
    let input = a.c.find(Locator::Css("input[type=file][name=file]")).await.expect("file input");
    input.send_keys(sealed.to_str().expect("path")).await.expect("choose file");
    a.submit("form[action='/verify'] button[type=submit]").await;
    assert!(a.c.find(Locator::Css("[data-valid=true]")).await.is_ok(), "a verdict");
    a.check("verify verdict").await;
    a.shot("public-verify").await;
    a.goto(&format!("/complaints/new?permit={number}")).await;
    a.check("complaint form").await;
    a.goto(&reference).await;
    a.check("complaint progress").await;
    a.shot("public-complaint").await;
    a.goto("/p/NO-SUCH-PERMIT").await;
    a.check("error page").await;

    // The firm.
    a.sign_in_as(&firm_code, "night-permit-1").await;
    a.goto("/applications").await;
    assert_eq!(a.path().await, "/applications");
    a.check("applications").await;
    a.shot("firm-applications").await;
    a.goto("/applications/new").await;
    a.check("application form").await;
    a.fill("[name='contact.phone']", "1396").await;
    a.submit("form.stack button[type=submit]").await;
    assert!(a.c.find(Locator::Css("[data-tasklist] [data-task-state=incomplete]")).await.is_ok(), "task reasons");
    a.check("application form with errors and its task list").await;
    a.goto(&format!("/applications/{draft}")).await;
    assert!(a.c.find(Locator::Css("form[data-dropzone][data-drop-ready]")).await.is_ok(), "the drop zones");
    assert!(a.c.find(Locator::Css("img[data-thumb]")).await.is_ok(), "a thumbnail");
    a.check("draft with task list and materials").await;
    a.shot("firm-draft").await;
    a.goto(&format!("/applications/{draft}/check")).await;
    assert!(a.c.find(Locator::Css("[data-answer='project.name']")).await.is_ok(), "the answers");
    a.check("check your answers").await;
    a.shot("firm-check-answers").await;
    a.goto(&format!("/applications/{draft}/edit?from=check")).await;
    a.check("edit form from the check page").await;
    a.goto(&format!("/applications/{flagged}")).await;
    assert!(a.c.find(Locator::Css("[data-finding]")).await.is_ok(), "findings on the case page");
    a.check("case page").await;
    a.shot("firm-case").await;
    a.goto("/review").await;
    a.check("forbidden page").await;

    // Staff.
    a.sign_in_as("jc", "staff-pass-1").await;
    a.goto("/review").await;
    a.check("review queue").await;
    a.shot("reviewer-queue").await;
    a.goto(&format!("/review/tasks/{flagged}-construction")).await;
    a.check("review task").await;
    a.shot("reviewer-task").await;
    a.sign_in_as("aud", "staff-pass-1").await;
    a.goto(&format!("/audit?application={second}")).await;
    assert!(a.c.find(Locator::Css("[data-chain-ok]")).await.is_ok(), "a case's log");
    a.check("audit").await;
    a.shot("auditor-log").await;
    a.sign_in_as("adm", "staff-pass-1").await;
    a.goto("/admin").await;
    a.check("admin").await;
    a.shot("admin").await;

    let checked = a.checked.len();
    let failures = std::mem::take(&mut a.failures);
    a.c.close().await.expect("close");
    drop(driver);
    app.stop().await;
    assert!(failures.is_empty(), "serious or critical accessibility violations:\n{}", failures.join("\n"));
    eprintln!("{checked} pages checked, no serious or critical violations");
}

/// Presses keys on whatever has the focus, as a person at a keyboard does: no clicks, no
/// element picked by the test.
async fn press(c: &Client, keys: &str) {
    c.active_element().await.expect("focus").send_keys(keys).await.expect("keys");
}

async fn focused_id(c: &Client) -> String {
    c.execute("return document.activeElement && document.activeElement.id || ''", vec![])
        .await
        .expect("active")
        .as_str()
        .unwrap_or("")
        .to_string()
}

/// Tabs forward until `id` has the focus; returns how many presses that took.
async fn tab_to(c: &Client, id: &str) -> usize {
    for n in 1..=40 {
        press(c, &Key::Tab).await;
        if focused_id(c).await == id {
            return n;
        }
    }
    panic!("Tab never reached #{id} (stuck at #{})", focused_id(c).await);
}

/// Chooses an option of the focused (closed) select with the arrow keys.
async fn arrow_to(c: &Client, id: &str, value: &str) {
    let index = c
        .execute(
            "return [...document.getElementById(arguments[0]).options].findIndex(o => o.value === arguments[1])",
            vec![json!(id), json!(value)],
        )
        .await
        .expect("index")
        .as_i64()
        .expect("a number");
    assert!(index > 0, "{value} is not an option of #{id}");
    let current = c
        .execute("return document.getElementById(arguments[0]).selectedIndex", vec![json!(id)])
        .await
        .expect("selected")
        .as_i64()
        .expect("a number");
    for _ in current..index {
        press(c, &Key::Down).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_application_form_can_be_completed_by_keyboard_alone() {
    let app = TestApp::spawn(Db::Sqlite).await;
    let (code, firm) = app.firm(961).await;
    let driver = start_driver().await;
    let c = browser(&driver, true).await;
    c.goto(&app.url("/login")).await.expect("goto");
    for (name, value) in [("login", code.as_str()), ("password", "night-permit-1")] {
        c.find(Locator::Css(&format!("[name={name}]"))).await.expect(name).send_keys(value).await.expect("type");
    }
    let old = c.find(Locator::Css("html")).await.expect("document");
    c.find(Locator::Css("form.stack button[type=submit]")).await.expect("submit").click().await.expect("click");
    wait_replaced(&c, old).await;
    c.goto(&app.url("/applications/new")).await.expect("goto");

    let start = (chrono::Utc::now() + chrono::Duration::days(5)).date_naive();
    let end = start + chrono::Duration::days(2);
    // en-US: dates are typed month, day, year; times as hours, minutes, then A or P.
    let mmddyyyy = |d: chrono::NaiveDate| d.format("%m%d%Y").to_string();

    let presses = tab_to(&c, "f-district").await;
    eprintln!("{presses} Tab presses from the top of the page to the first field");
    arrow_to(&c, "f-district", "jingan").await;
    let typed: [(&str, String); 12] = [
        ("f-project-name", "静安区某商业综合体项目".into()),
        ("f-project-address", "上海市静安区某路100号".into()),
        ("f-project-construction_permit_no", "310106202012150101".into()),
        ("f-project-builder", "上海某建设发展有限公司".into()),
        ("f-night_work-start_date", mmddyyyy(start)),
        ("f-night_work-end_date", mmddyyyy(end)),
        ("f-night_work-nightly_start", "1000P".into()),
        ("f-night_work-nightly_end", "0400A".into()),
        ("f-night_work-process", String::new()),
        ("f-night_work-description", "底板大体积混凝土连续浇筑".into()),
        ("f-equipment-0--name", "混凝土泵车".into()),
        ("f-equipment-0--count", "2".into()),
    ];
    let mut here = "f-district".to_string();
    for (id, text) in &typed {
        // Date and time inputs take Tab between their parts first: Tab until the focus moves on.
        while focused_id(&c).await == here {
            press(&c, &Key::Tab).await;
        }
        here = focused_id(&c).await;
        assert_eq!(&here, id, "Tab order");
        if *id == "f-night_work-process" {
            arrow_to(&c, id, "continuous_pour").await;
        } else {
            press(&c, text).await;
        }
    }
    tab_to(&c, "f-equipment-0--sound_level_db").await;
    press(&c, "85").await;
    tab_to(&c, "f-measures").await;
    press(&c, &format!("设置移动式隔声屏{}禁止鸣笛", Key::Enter)).await;
    tab_to(&c, "f-contact-name").await;
    press(&c, "张三").await;
    press(&c, &Key::Tab).await;
    press(&c, "13800000000").await;
    let typed_in = c
        .execute(
            "return [...document.querySelectorAll('form.stack [name]')].map(e => e.name + '=' + e.value).join(' | ')",
            vec![],
        )
        .await
        .expect("values");
    let old = c.find(Locator::Css("html")).await.expect("document");
    press(&c, &Key::Enter).await;
    wait_replaced(&c, old).await;

    let path = c.current_url().await.expect("url").path().to_string();
    let errors = match c.find(Locator::Css("[data-errors]")).await {
        Ok(e) => e.html(false).await.unwrap_or_default(),
        Err(_) => String::new(),
    };
    let id = path
        .strip_prefix("/applications/")
        .unwrap_or_else(|| panic!("not a saved draft: {path} {errors}\ntyped: {typed_in}"));
    let v: Value = app.get(&format!("/api/v1/applications/{id}"), Some(&firm)).await.json().await.expect("json");
    assert_eq!(v["status"], "draft", "{v:#}");
    let form = &v;
    assert_eq!(form["district"], "jingan", "{v:#}");
    assert_eq!(form["night_work"]["start_date"], start.to_string(), "{v:#}");
    assert_eq!(form["night_work"]["end_date"], end.to_string(), "{v:#}");
    assert_eq!(form["night_work"]["nightly_start"], "22:00", "{v:#}");
    assert_eq!(form["night_work"]["nightly_end"], "04:00", "{v:#}");
    assert_eq!(form["night_work"]["process"], "continuous_pour", "{v:#}");
    assert_eq!(form["equipment"][0]["sound_level_db"], 85, "{v:#}");
    assert_eq!(form["measures"], json!(["设置移动式隔声屏", "禁止鸣笛"]), "{v:#}");
    assert_eq!(form["contact"]["phone"], "13800000000", "{v:#}");
    c.close().await.expect("close");
    drop(driver);
    app.stop().await;
}
