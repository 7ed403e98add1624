//! Black-box, as a person meets the service: headless Chromium driven over WebDriver
//! (chromedriver, started here on a free port) against the real server on port 0. Every journey
//! runs twice, with JavaScript on and with it off: the pages must work without script.
//! Screenshots of each step land in $CARGO_TARGET_DIR/screenshots/.

mod common;

use common::*;
use fantoccini::{Client, Locator};
use nightpermit_domain::CreditCode;
use nightpermit_store::JOB_KIND_SEAL;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::browser::{browser, start_driver, Driver, PHONE};

fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    let dir = target.join("screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot dir");
    dir
}

struct Journey<'a> {
    app: &'a TestApp,
    c: Client,
    mode: &'static str,
    step: u32,
}

impl Journey<'_> {
    async fn goto(&self, path: &str) {
        self.c.goto(&self.app.url(path)).await.expect("goto");
    }

    async fn shot(&mut self, name: &str) {
        self.step += 1;
        let png = self.c.screenshot().await.expect("screenshot");
        std::fs::write(screenshot_dir().join(format!("{}-{:02}-{name}.png", self.mode, self.step)), png)
            .expect("write");
    }

    async fn path(&self) -> String {
        self.c.current_url().await.expect("url").path().to_string()
    }

    async fn fill(&self, name: &str, value: &str) {
        let input = self.c.find(Locator::Css(&format!("[name=\"{name}\"]"))).await.expect(name);
        input.clear().await.expect("clear");
        input.send_keys(value).await.expect("type");
    }

    async fn attr(&self, css: &str, attr: &str) -> Option<String> {
        self.c
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|_| panic!("{css} on {}", self.mode))
            .attr(attr)
            .await
            .expect("attr")
    }

    /// Clicks something that loads a new page, and waits until the new page is there: the old
    /// document's root goes stale once the browser has replaced it.
    async fn click(&self, css: &str) {
        let old = self.c.find(Locator::Css("html")).await.expect("document");
        self.c.find(Locator::Css(css)).await.unwrap_or_else(|_| panic!("{css}")).click().await.expect("click");
        let deadline = Instant::now() + Duration::from_secs(15);
        while old.tag_name().await.is_ok() {
            assert!(Instant::now() < deadline, "{css} did not load a new page ({})", self.mode);
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        self.c.wait().for_element(Locator::Css("body footer")).await.expect("the new page loaded");
    }
}

/// An issued permit whose nights start today: the firm applies over HTTP, the pre-review is
/// stood in for through the store (OCR is not what these tests are about), both departments
/// approve over HTTP and the sealing job runs as the worker runs it. Returns (number, first night).
async fn issued_permit(app: &TestApp) -> (String, String) {
    let (_, token) = app.firm(900).await;
    let today = nightpermit_server::views::shanghai_today(app.state.clock.now_ms());
    let mut form = example_form();
    form["night_work"]["start_date"] = json!(today.to_string());
    form["night_work"]["end_date"] = json!((today + chrono::Duration::days(2)).to_string());
    let id = app.create_application(&token, &form).await["id"].as_str().expect("id").to_string();
    assert_eq!(app.submit(&token, &id, None).await.status(), StatusCode::ACCEPTED);
    app.finish_for_review(&id, "[\"需人工审核\"]".into(), "[]".into(), None).await;
    for (user, dep) in [("bc", "construction"), ("be", "environment")] {
        let reviewer = app.staff(user, "reviewer", Some(dep), Some("jingan")).await;
        let r = app
            .post_json(
                &format!("/api/v1/review/tasks/{id}-{dep}/decision"),
                Some(&reviewer),
                &json!({"outcome": "approve"}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap_or_default());
    }
    let seal = app.state.store.claim_job(&[JOB_KIND_SEAL], "test", app.state.clock.now_ms(), 60_000).await;
    let seal = seal.expect("claim").expect("a sealing job");
    nightpermit_cases::sealing::process(&app.state, "test", &seal).await.expect("sealed");
    let v: Value = app.get(&format!("/api/v1/applications/{id}"), Some(&token)).await.json().await.expect("json");
    assert_eq!(v["status"], "issued", "{v:#}");
    (v["permit"]["number"].as_str().expect("number").to_string(), today.to_string())
}

async fn journeys(
    app: &TestApp,
    driver: &Driver,
    js: bool,
    seed: u32,
    number: &str,
    first_night: &str,
    pdfs: (&Path, &Path),
) {
    let mode = if js { "js-on" } else { "js-off" };
    let mut j = Journey { app, c: browser(driver, js).await, mode, step: 0 };

    // Register with a credit code whose check character is wrong: the summary and the field say so.
    j.goto("/register").await;
    let script_ran = j.attr("html", "data-js").await;
    assert_eq!(script_ran.as_deref(), js.then_some("on"), "JavaScript should be {mode}");
    let good = CreditCode::complete(&format!("9131010{seed:010}")).expect("alphabet").to_string();
    let last = good.chars().last().expect("check char");
    let bad = format!("{}{}", &good[..17], if last == '0' { '1' } else { '0' });
    j.fill("credit_code", &bad).await;
    j.fill("name", &format!("上海浏览器测试{seed}建设有限公司")).await;
    j.fill("password", "night-permit-1").await;
    j.fill("contact_name", "王五").await;
    j.fill("contact_phone", "13700000000").await;
    j.click("form.stack button[type=submit]").await;
    assert_eq!(j.attr("[data-errors]", "role").await.as_deref(), Some("alert"));
    assert!(j
        .c
        .find(Locator::Css("[data-errors] li[data-code=CREDIT_CODE_INVALID] a[href='#f-credit_code']"))
        .await
        .is_ok());
    assert_eq!(j.attr("#f-credit_code-error", "data-code").await.as_deref(), Some("CREDIT_CODE_INVALID"));
    assert_eq!(j.attr("#f-credit_code", "value").await.as_deref(), Some(bad.as_str()));
    j.shot("register-invalid-code").await;

    // Fixed: registered, signed in, on the firm's start page.
    j.fill("credit_code", &good).await;
    j.fill("password", "night-permit-1").await;
    j.click("form.stack button[type=submit]").await;
    assert_eq!(j.path().await, "/applications");
    assert!(j.c.find(Locator::Css("a[href='/applications/new']")).await.is_ok());
    j.shot("registered-applications").await;

    // Sign out: the session ends, the firm's pages ask for a sign-in again.
    j.click("[data-action=logout]").await;
    assert_eq!(j.path().await, "/");
    j.shot("signed-out").await;
    j.goto("/applications").await;
    assert_eq!(j.path().await, "/login");
    j.shot("login-required").await;

    // The public permit page, tonight's answer computed as the service defines tonight.
    j.goto(&format!("/p/{number}")).await;
    assert_eq!(j.attr("[data-permit]", "data-permit").await.as_deref(), Some(number));
    assert_eq!(j.attr("[data-permit]", "data-permit-status").await.as_deref(), Some("valid"));
    let tonight = nightpermit_server::views::tonight(app.state.clock.now_ms()).to_string();
    let expected = if tonight.as_str() >= first_night { "yes" } else { "no" };
    assert_eq!(j.attr("[data-tonight]", "data-tonight").await.as_deref(), Some(expected));
    assert!(j.c.find(Locator::Css(&format!("a[href='/complaints/new?permit={number}']"))).await.is_ok());
    j.shot("permit-page").await;

    // The district's list for the permit's first night.
    j.goto(&format!("/night/jingan?night={first_night}")).await;
    assert!(j.c.find(Locator::Css(&format!("li[data-permit='{number}'] a[href='/p/{number}']"))).await.is_ok());
    j.shot("night-list").await;

    // Verify the sealed PDF, then a tampered copy.
    for (pdf, valid) in [(pdfs.0, "true"), (pdfs.1, "false")] {
        j.goto("/verify").await;
        let input = j.c.find(Locator::Css("input[type=file][name=file]")).await.expect("file input");
        input.send_keys(pdf.to_str().expect("path")).await.expect("choose file");
        j.click("form[action='/verify'] button[type=submit]").await;
        assert_eq!(j.attr("[data-valid]", "data-valid").await.as_deref(), Some(valid), "{mode} {}", pdf.display());
        j.shot(if valid == "true" { "verify-sealed" } else { "verify-tampered" }).await;
    }
    let signatures = j.c.find_all(Locator::Css("[data-signature]")).await.expect("signatures");
    assert_eq!(signatures.len(), 2);
    j.c.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn people_use_the_pages_with_and_without_javascript() {
    let app = TestApp::spawn(Db::Sqlite).await;
    let (number, first_night) = issued_permit(&app).await;
    let pdf = app.get(&format!("/api/v1/permits/{number}/pdf"), None).await.bytes().await.expect("pdf").to_vec();
    let dir = temp_dir("browser-pdfs");
    let (sealed, tampered) = (dir.join(format!("{number}.pdf")), dir.join("tampered.pdf"));
    std::fs::write(&sealed, &pdf).expect("write");
    let mut bad = pdf.clone();
    let at = bad.len() / 2;
    bad[at] ^= 0x20;
    std::fs::write(&tampered, bad).expect("write");

    let driver = start_driver().await;
    let started = Instant::now();
    journeys(&app, &driver, true, 901, &number, &first_night, (&sealed, &tampered)).await;
    journeys(&app, &driver, false, 902, &number, &first_night, (&sealed, &tampered)).await;
    eprintln!("browser journeys took {:?}; screenshots in {}", started.elapsed(), screenshot_dir().display());
    drop(driver);
    app.stop().await;
}

// ---- Staff at work: reviewers, the auditor, the admin ----

/// A case under review in Jing'an as the worker leaves it: the pre-review's findings, the
/// rules' decision on `facts` (with its trace), both departments' tracks pending with the
/// reasons (a dispute from the firm is one of them). Returns the application id.
async fn flagged_case(app: &TestApp, token: &str, facts: &nightpermit_rules::Facts, findings: Value) -> String {
    let today = nightpermit_server::views::shanghai_today(app.state.clock.now_ms());
    let mut form = example_form();
    form["night_work"]["start_date"] = json!(today.to_string());
    form["night_work"]["end_date"] = json!((today + chrono::Duration::days(2)).to_string());
    let id = app.create_application(token, &form).await["id"].as_str().expect("id").to_string();
    let r = app.upload(token, &id, "site_plan", "plan.png", png(40, 30)).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(app.submit(token, &id, None).await.status(), StatusCode::ACCEPTED);
    let now = app.state.clock.now_ms();
    let d = nightpermit_rules::decide(&app.state.policy.rules, facts);
    let mut reasons = d.reasons.clone();
    reasons.push("施工单位对预审结论提出异议：隔声屏已在总平面图中标注".into());
    let decision = nightpermit_store::DecisionRecord {
        application_id: id.clone(),
        round: 1,
        outcome: d.outcome,
        ruleset_id: d.ruleset_id.clone(),
        ruleset_version: d.ruleset_version.clone(),
        ruleset_sha256: d.ruleset_sha256.clone(),
        reasons: serde_json::to_string(&d.reasons).expect("json"),
        trace: serde_json::to_string(&d.trace).expect("json"),
        facts: serde_json::to_string(facts).expect("json"),
        decided_at: now,
    };
    app.finish_for_review(&id, serde_json::to_string(&reasons).expect("json"), findings.to_string(), Some(decision))
        .await;
    id
}

impl Journey<'_> {
    async fn sign_in(&self, login: &str) {
        self.goto("/login").await;
        self.fill("login", login).await;
        self.fill("password", "staff-pass-1").await;
        self.click("form.stack button[type=submit]").await;
    }

    /// Signs out from the front page (error pages do not carry the session's header).
    async fn sign_out(&self) {
        self.goto("/").await;
        self.click("[data-action=logout]").await;
    }

    async fn fill_at(&self, css: &str, value: &str) {
        let input = self.c.find(Locator::Css(css)).await.expect(css);
        input.clear().await.expect("clear");
        input.send_keys(value).await.expect("type");
    }

    async fn has(&self, css: &str) -> bool {
        self.c.find(Locator::Css(css)).await.is_ok()
    }

    async fn choose(&self, css: &str) {
        self.c.find(Locator::Css(css)).await.unwrap_or_else(|_| panic!("{css}")).click().await.expect("click");
    }

    async fn select(&self, name: &str, value: &str) {
        let el = self.c.find(Locator::Css(&format!("select[name=\"{name}\"]"))).await.expect(name);
        el.select_by_value(value).await.expect("select");
    }

    async fn upload_file(&self, form: &str, file: &Path) {
        let input =
            self.c.find(Locator::Css(&format!("{form} input[type=file][name=file]"))).await.expect("file input");
        input.send_keys(file.to_str().expect("path")).await.expect("choose file");
        self.click(&format!("{form} button[type=submit]")).await;
    }

    /// The status an error page says it answered with.
    async fn problem_status(&self) -> Option<String> {
        self.attr("[data-problem]", "data-status").await
    }
}

async fn status_of(app: &TestApp, token: &str, id: &str) -> Value {
    app.get(&format!("/api/v1/applications/{id}"), Some(token)).await.json().await.expect("json")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reviewers_auditors_and_admins_work_from_their_pages() {
    let app = TestApp::spawn(Db::Sqlite).await;
    let (firm_code, firm) = app.firm(950).await;
    for (user, dep, district) in
        [("jc", "construction", "jingan"), ("je", "environment", "jingan"), ("hc", "construction", "huangpu")]
    {
        app.staff(user, "reviewer", Some(dep), Some(district)).await;
    }
    app.staff("aud", "auditor", None, None).await;
    app.staff("adm", "admin", None, None).await;

    // A new firm (too few permits) with a warning from the pre-review: flagged for review.
    let mut facts = nightpermit_rules::example::clean_facts();
    facts.set(nightpermit_rules::Fact::FirmPermits24m, nightpermit_rules::FactValue::Int(0));
    let findings = json!([{"code": "MEASURE_NOT_SHOWN", "severity": "warning", "kind": "site_plan",
                           "message": "总平面图上未见隔声屏位置", "expected": "隔声屏", "found": ""}]);
    let flagged = flagged_case(&app, &firm, &facts, findings).await;
    let task = format!("{flagged}-construction");

    let driver = start_driver().await;
    let mut j = Journey { app: &app, c: browser(&driver, true).await, mode: "staff", step: 0 };

    // The reviewer signs in, lands on the queue, finds the flagged case and opens it.
    j.sign_in("jc").await;
    assert_eq!(j.path().await, "/review");
    assert!(j.has(&format!("[data-task='{task}'][data-urgency=ok]")).await);
    assert_eq!(j.attr("[data-filter=pending]", "data-count").await.as_deref(), Some("1"));
    assert_eq!(
        j.attr(&format!("[data-task='{task}'] [data-other-status]"), "data-other-status").await.as_deref(),
        Some("pending")
    );
    j.shot("review-queue").await;
    j.click(&format!("[data-task='{task}'] h2 a")).await;
    assert_eq!(j.path().await, format!("/review/tasks/{task}"));
    assert_eq!(j.attr("[data-finding=MEASURE_NOT_SHOWN]", "data-severity").await.as_deref(), Some("warning"));
    assert_eq!(j.attr("[data-rule=too_few_permits]", "data-result").await.as_deref(), Some("true"));
    assert_eq!(j.attr("[data-rule=grade_not_green]", "data-result").await.as_deref(), Some("false"));
    assert!(j.has("#rules[data-decision=manual_review]").await);
    assert!(j.has("[data-track=environment][data-track-status=pending]").await);
    assert!(j.has("[data-grade=green]").await);
    assert!(j.has("[data-material] a[href*='/materials/']").await);
    assert!(j.has("[data-audit-action]").await);
    j.shot("review-task").await;

    // A correction without a comment is refused with the API's rule; with one it goes back.
    j.choose("#f-outcome-request_correction").await;
    j.click("[data-action=decide]").await;
    assert!(j.has("[data-errors] li[data-code=COMMENT_REQUIRED]").await);
    assert_eq!(j.attr("#f-comment-error", "data-code").await.as_deref(), Some("COMMENT_REQUIRED"));
    j.shot("review-comment-required").await;
    j.choose("#f-outcome-request_correction").await;
    j.fill("comment", "请在总平面图上标注隔声屏位置后重新提交").await;
    j.click("[data-action=decide]").await;
    assert_eq!(j.path().await, "/review");
    assert!(!j.has(&format!("[data-task='{task}']")).await);
    assert_eq!(status_of(&app, &firm, &flagged).await["status"], "needs_correction");
    j.goto("/review?status=correction_requested").await;
    assert!(j.has(&format!("[data-task='{task}'][data-task-status=correction_requested]")).await);
    j.shot("review-corrected").await;

    // Role boundaries: another district's reviewer, another department's, a firm, a visitor.
    let second = flagged_case(&app, &firm, &facts, json!([])).await;
    j.sign_out().await;
    j.sign_in("hc").await;
    j.goto(&format!("/review/tasks/{second}-construction")).await;
    assert_eq!(j.problem_status().await.as_deref(), Some("404"));
    j.shot("review-other-district").await;
    j.sign_out().await;
    j.sign_in("je").await;
    j.goto(&format!("/review/tasks/{second}-construction")).await;
    assert_eq!(j.problem_status().await.as_deref(), Some("404"));
    // Both departments approve the second case from their pages.
    j.goto(&format!("/review/tasks/{second}-environment")).await;
    j.choose("#f-outcome-approve").await;
    j.click("[data-action=decide]").await;
    assert_eq!(j.path().await, "/review");
    j.goto("/audit").await;
    assert_eq!(j.problem_status().await.as_deref(), Some("403"));
    j.sign_out().await;
    j.sign_in("jc").await;
    j.goto(&format!("/review/tasks/{second}-construction")).await;
    assert!(j.has("[data-track=environment][data-track-status=approved]").await);
    j.choose("#f-outcome-approve").await;
    j.click("[data-action=decide]").await;
    assert_eq!(status_of(&app, &firm, &second).await["status"], "approved");
    j.sign_out().await;
    j.goto("/login").await;
    j.fill("login", &firm_code).await;
    j.fill("password", "night-permit-1").await;
    j.click("form.stack button[type=submit]").await;
    for page in ["/review", "/audit", "/admin"] {
        j.goto(page).await;
        assert_eq!(j.problem_status().await.as_deref(), Some("403"), "{page}");
    }
    j.shot("firm-on-staff-page").await;
    j.sign_out().await;
    for page in ["/review", "/audit", "/admin", &format!("/review/tasks/{task}")] {
        j.goto(page).await;
        assert_eq!(j.path().await, "/login", "{page}");
    }

    // The permit is sealed as the worker seals it; the auditor verifies it and a tampered copy.
    let seal = app.state.store.claim_job(&[JOB_KIND_SEAL], "test", app.state.clock.now_ms(), 60_000).await;
    nightpermit_cases::sealing::process(&app.state, "test", &seal.expect("claim").expect("a sealing job"))
        .await
        .expect("sealed");
    let number = status_of(&app, &firm, &second).await["permit"]["number"].as_str().expect("number").to_string();
    let pdf = app.get(&format!("/api/v1/permits/{number}/pdf"), None).await.bytes().await.expect("pdf").to_vec();
    let dir = temp_dir("staff-pdfs");
    let (sealed, tampered) = (dir.join(format!("{number}.pdf")), dir.join("tampered.pdf"));
    std::fs::write(&sealed, &pdf).expect("write");
    let mut bad = pdf.clone();
    let at = bad.len() / 2;
    bad[at] ^= 0x20;
    std::fs::write(&tampered, bad).expect("write");
    j.sign_in("aud").await;
    assert_eq!(j.path().await, "/audit");
    for (file, valid) in [(&sealed, "true"), (&tampered, "false")] {
        j.upload_file("form[action='/audit/verify']", file).await;
        assert_eq!(j.attr("[data-valid]", "data-valid").await.as_deref(), Some(valid));
        j.shot(if valid == "true" { "audit-verify-sealed" } else { "audit-verify-tampered" }).await;
    }
    assert_eq!(j.c.find_all(Locator::Css("[data-signature]")).await.expect("signatures").len(), 2);
    j.fill("application", &second).await;
    j.click("[data-action=show-log]").await;
    assert_eq!(j.attr("[data-chain-ok]", "data-chain-ok").await.as_deref(), Some("true"));
    assert!(j.has("[data-audit-seq][data-intact=true]").await);
    let export = j.attr("[data-action=export]", "href").await.expect("href");
    j.shot("audit-log").await;
    // At a desktop's 800 px the log fits without scrolling sideways and its short columns keep
    // their width (long JSON and ids once squeezed the time to a few digits a line).
    j.c.set_window_size(800, 900).await.expect("resize");
    let layout =
        j.c.execute(
            "const t = document.querySelector('table.audit-log'); const at = t.querySelector('td.at');
             return [t.parentElement.scrollWidth - t.parentElement.clientWidth, at.getBoundingClientRect().width];",
            vec![],
        )
        .await
        .expect("layout");
    let overflow = layout[0].as_f64().expect("px");
    let time_width = layout[1].as_f64().expect("px");
    assert!(
        overflow <= 0.0 && time_width >= 90.0,
        "audit log at 800 px: overflow {overflow}, time column {time_width}"
    );
    j.shot("audit-log-800px").await;
    j.c.set_window_size(PHONE.0, PHONE.1).await.expect("resize");
    let auditor = app.login("aud", "staff-pass-1").await;
    let r =
        app.client.get(app.url(&export)).header("cookie", format!("np_session={auditor}")).send().await.expect("get");
    assert_eq!(r.status(), StatusCode::OK);
    let lines = r.text().await.expect("text");
    let actions: Vec<String> = lines
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("a JSON line")["action"].as_str().unwrap_or("").to_string())
        .collect();
    assert!(
        actions.contains(&"review.decided".to_string()) && actions.contains(&"permit.issued".to_string()),
        "{actions:?}"
    );
    j.sign_out().await;

    // The admin creates a reviewer (a missing department is refused first) and simulates a rule
    // file with no rules: every past manual review would become an auto-approval.
    j.sign_in("adm").await;
    assert_eq!(j.path().await, "/admin");
    assert!(j.has("[data-rule=too_few_permits]").await);
    j.fill("username", "jc2").await;
    j.fill_at("form[data-form=create-staff] [name=password]", "staff-pass-2").await;
    j.select("role", "reviewer").await;
    j.select("district", "jingan").await;
    j.click("[data-action=create-staff]").await;
    assert!(j.has("[data-errors] li[data-code=REQUIRED] a[href='#f-department']").await);
    assert!(!j.has("[data-errors] li[data-code=WEAK_PASSWORD]").await);
    j.shot("admin-staff-refused").await;
    j.fill_at("form[data-form=create-staff] [name=password]", "staff-pass-2").await;
    j.select("department", "construction").await;
    j.click("[data-action=create-staff]").await;
    assert!(j.has("[data-staff=jc2]").await);
    assert_eq!(app.state.store.staff_by_username("jc2").await.expect("db").expect("created").role.id(), "reviewer");
    // The admin disables the new account and sees it marked; their own row has no such button.
    assert!(!j.has("[data-staff=adm] [data-action=disable-staff]").await);
    j.click("[data-staff=jc2] [data-action=disable-staff]").await;
    assert!(j.has("[data-staff=jc2][data-disabled=true] [data-account-state=disabled]").await);
    assert!(j.has("[data-staff=jc2] [data-action=enable-staff]").await);
    assert!(j.has("[data-staff=jc][data-disabled=false]").await);
    assert!(app.state.store.staff_by_username("jc2").await.expect("db").expect("jc2").disabled_at.is_some());
    j.shot("admin-staff-disabled").await;
    let rules = dir.join("no-rules.toml");
    std::fs::write(&rules, "id = \"lenient\"\nversion = \"1\"\nrules = []\n").expect("write");
    j.upload_file("form[action='/admin/rules/simulate']", &rules).await;
    assert_eq!(j.attr("[data-simulation]", "data-total").await.as_deref(), Some("2"));
    assert_eq!(j.attr("[data-simulation]", "data-changes").await.as_deref(), Some("2"));
    assert!(j.has(&format!("[data-change='{flagged}#1']")).await);
    j.shot("admin-simulate").await;
    j.goto("/admin#stats").await;
    assert_eq!(j.attr("[data-chart=per-month] table", "data-table").await.as_deref(), Some("per-month"));
    assert!(j.has("[data-chart=findings] [data-bar=MEASURE_NOT_SHOWN][data-value='1']").await);
    assert!(j.has("[data-chart=decision-time] svg rect").await);
    j.shot("admin-stats").await;
    j.c.close().await.expect("close");
    drop(driver);
    app.stop().await;
}

// ---- An applicant with real scans; a resident's complaint; the inspector's follow-up ----

/// A case of the dev corpus, as a canonical path (file inputs refuse `..`).
fn corpus_case(case: &str) -> PathBuf {
    let dir = std::env::var_os("NIGHTPERMIT_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/dev"))
        .join(case);
    dir.canonicalize().unwrap_or(dir)
}

fn load_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("json")
}

/// `2027-03-30` as keys for a date input of an en-US browser.
fn date_keys(d: &str) -> String {
    let p: Vec<&str> = d.split('-').collect();
    format!("{}{}{}", p[1], p[2], p[0])
}

/// `22:00` as keys for a time input of an en-US browser.
fn time_keys(t: &str) -> String {
    let (h, m) = t.split_once(':').expect("hh:mm");
    let h: u32 = h.parse().expect("hour");
    let (h12, half) = match h {
        0 => (12, "AM"),
        1..=11 => (h, "AM"),
        12 => (12, "PM"),
        _ => (h - 12, "PM"),
    };
    format!("{h12:02}{m}{half}")
}

impl Journey<'_> {
    async fn select_at(&self, css: &str, value: &str) {
        let el = self.c.find(Locator::Css(css)).await.unwrap_or_else(|_| panic!("{css}"));
        el.select_by_value(value).await.expect("select");
    }

    /// Reloads the case page until its pre-review is done.
    async fn wait_prereview_page(&self, case: &str) {
        let deadline = Instant::now() + Duration::from_secs(120);
        while !self.has("[data-prereview-state=done]").await {
            assert!(Instant::now() < deadline, "the pre-review of {case} did not finish ({})", self.mode);
            tokio::time::sleep(Duration::from_millis(750)).await;
            self.goto(case).await;
        }
    }
}

/// The firm of corpus case v12 applies from its pages with the case's real scans: one form
/// (a wrong phone number refused, then fixed), the upload form, submit, the progress page until
/// the pre-review is done, the credit-code finding drawn on the licence, contested with a comment.
async fn applicant_journey(app: &TestApp, driver: &Driver, js: bool, register: bool) {
    let mode = if js { "applicant-js-on" } else { "applicant-js-off" };
    let mut j = Journey { app, c: browser(driver, js).await, mode, step: 0 };
    let dir = corpus_case("v12_credit_code_other_firm");
    let firm = load_json(&dir.join("firm.json"));
    let form = load_json(&dir.join("application.json"));
    let expected = load_json(&dir.join("expected.json"));
    let text = |v: &Value| v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string());

    if register {
        j.goto("/register").await;
        for k in ["credit_code", "name", "password", "contact_name", "contact_phone"] {
            j.fill(k, &text(&firm[k])).await;
        }
    } else {
        j.goto("/login").await;
        j.fill("login", &text(&firm["credit_code"])).await;
        j.fill("password", &text(&firm["password"])).await;
    }
    j.click("form.stack button[type=submit]").await;
    assert_eq!(j.path().await, "/applications", "{mode}");

    // The one form, with a phone number too short: the summary links to the field.
    j.goto("/applications/new").await;
    j.select("district", &text(&form["district"])).await;
    for k in ["name", "address", "construction_permit_no", "builder"] {
        j.fill(&format!("project.{k}"), &text(&form["project"][k])).await;
    }
    let nw = &form["night_work"];
    j.fill("night_work.start_date", &date_keys(&text(&nw["start_date"]))).await;
    j.fill("night_work.end_date", &date_keys(&text(&nw["end_date"]))).await;
    j.fill("night_work.nightly_start", &time_keys(&text(&nw["nightly_start"]))).await;
    j.fill("night_work.nightly_end", &time_keys(&text(&nw["nightly_end"]))).await;
    j.select("night_work.process", &text(&nw["process"])).await;
    j.fill("night_work.description", &text(&nw["description"])).await;
    for (i, e) in form["equipment"].as_array().expect("equipment").iter().enumerate() {
        for k in ["name", "count", "sound_level_db"] {
            j.fill(&format!("equipment[{i}].{k}"), &text(&e[k])).await;
        }
    }
    let measures: Vec<String> = form["measures"].as_array().expect("measures").iter().map(text).collect();
    j.fill("measures", &measures.join("\n")).await;
    j.fill("contact.name", &text(&form["contact"]["name"])).await;
    j.fill("contact.phone", "1396").await;
    j.click("form.stack button[type=submit]").await;
    assert!(j.has("[data-errors][role=alert] a[href='#f-contact-phone']").await, "{mode}");
    assert_eq!(j.attr("#f-contact-phone", "aria-invalid").await.as_deref(), Some("true"));
    assert_eq!(j.attr("#f-night_work-start_date", "value").await, nw["start_date"].as_str().map(str::to_string));
    j.shot("form-invalid-phone").await;
    j.fill("contact.phone", &text(&form["contact"]["phone"])).await;
    j.click("form.stack button[type=submit]").await;
    let case = j.path().await;
    let id = case.strip_prefix("/applications/").expect("on the case page").to_string();
    assert_eq!(j.attr("[data-status]", "data-status").await.as_deref(), Some("draft"));

    // The real scans, one by one through each kind's upload form; kind = the name before the
    // first dot.
    let files: Vec<String> = expected["files"].as_array().expect("files").iter().map(text).collect();
    for file in &files {
        let kind = file.split('.').next().expect("kind");
        j.upload_file(&format!("form[action='/applications/{id}/materials'][data-dropzone={kind}]"), &dir.join(file))
            .await;
    }
    assert_eq!(j.c.find_all(Locator::Css("[data-material]")).await.expect("materials").len(), files.len());
    assert!(j.has("[data-form-task=materials][data-task-state=completed]").await, "{mode}");
    j.shot("materials-uploaded").await;

    // Submitted from the check page: the progress page until the pre-review is done.
    j.click("[data-action=check-answers]").await;
    assert_eq!(j.path().await, format!("{case}/check"));
    j.click("[data-action=submit]").await;
    assert_eq!(j.path().await, case);
    j.shot("prereview-progress").await;
    j.wait_prereview_page(&case).await;
    assert_eq!(j.attr("[data-status]", "data-status").await.as_deref(), Some("needs_correction"));
    let finding = "[data-finding=CREDIT_CODE_MISMATCH]";
    assert_eq!(j.attr(finding, "data-severity").await.as_deref(), Some("error"), "{mode}");
    let region = j.attr(finding, "data-finding-region").await.expect("the finding has a region");
    assert!(j.has(&format!("svg g[data-region=\"{region}\"] rect")).await, "{mode}: no box for {region}");
    let image = j.attr("svg.page-svg image", "href").await.expect("page image");
    assert!(image.starts_with(&format!("/applications/{id}/materials/")), "{image}");
    j.shot("finding-drawn").await;

    // A comment of blanks is refused: the case page again, with the summary and the form open.
    j.choose("#dispute summary").await;
    j.fill_at("#dispute textarea[name=comment]", "   ").await;
    j.click("[data-action=dispute]").await;
    assert!(j.has("[data-errors][role=alert] li[data-code=COMMENT_REQUIRED]").await, "{mode}");
    assert_eq!(j.attr("#f-comment-error", "data-code").await.as_deref(), Some("COMMENT_REQUIRED"));
    assert_eq!(j.attr("[data-status]", "data-status").await.as_deref(), Some("needs_correction"));
    j.shot("dispute-refused").await;

    // Contested with a comment (the form is still open): the case goes to the two departments.
    j.fill_at("#dispute textarea[name=comment]", "营业执照为本单位联营方的执照，已在补充说明中附上联营协议").await;
    j.click("[data-action=dispute]").await;
    assert_eq!(j.path().await, case);
    assert_eq!(j.attr("[data-status]", "data-status").await.as_deref(), Some("under_review"), "{mode}");
    assert!(j.has("[data-track=construction][data-track-status=pending]").await);
    j.shot("disputed-under-review").await;
    j.c.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_applicant_applies_with_real_scans_and_contests_a_finding() {
    let dir = corpus_case("v12_credit_code_other_firm");
    assert!(dir.is_dir(), "the dev corpus is missing at {} (set NIGHTPERMIT_CORPUS)", dir.display());
    let mut settings = fresh_settings(Db::Sqlite).await;
    settings.worker.in_process = true;
    settings.limits.max_upload_bytes = 20 * 1024 * 1024;
    let app = TestApp::start(settings).await;
    let driver = start_driver().await;
    let started = Instant::now();
    applicant_journey(&app, &driver, true, true).await;
    applicant_journey(&app, &driver, false, false).await;
    eprintln!("applicant journeys took {:?}", started.elapsed());
    drop(driver);
    app.stop().await;
}

/// Keys for a datetime-local input of an en-US browser: a Shanghai time `minutes` ago.
fn datetime_keys(app: &TestApp, minutes_ago: i64) -> String {
    let t = nightpermit_server::views::shanghai_local(app.state.clock.now_ms() - minutes_ago * 60_000);
    format!("{}\u{e004}{}", t.format("%m%d%Y"), t.format("%I%M%p"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resident_complains_and_the_inspector_follows_up() {
    let app = TestApp::spawn(Db::Sqlite).await;
    let (number, _) = issued_permit(&app).await;
    app.staff("insp", "inspector", None, Some("jingan")).await;
    let admin = app.staff("adm", "admin", None, None).await;
    let r =
        app.post_json("/api/v1/admin/inspections/draw", Some(&admin), &json!({"district": "jingan", "count": 1})).await;
    assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap_or_default());
    let inspection = r.json::<Value>().await.expect("json")["sample"][0]["inspection_id"]
        .as_str()
        .expect("an inspection drawn")
        .to_string();

    let driver = start_driver().await;
    let mut j = Journey { app: &app, c: browser(&driver, false).await, mode: "aftercare", step: 0 };

    // A resident files a complaint from the permit's public page and follows it by reference.
    j.goto(&format!("/p/{number}")).await;
    j.click(&format!("a[href='/complaints/new?permit={number}']")).await;
    assert_eq!(j.attr("[name=permit_number]", "value").await.as_deref(), Some(number.as_str()));
    j.fill("occurred_at", &datetime_keys(&app, 30)).await;
    j.fill("description", "夜间持续有切割声，影响休息").await;
    j.click("form.stack button[type=submit]").await;
    let reference = j.attr("[data-complaint]", "data-complaint").await.expect("reference");
    assert_eq!(j.path().await, format!("/complaints/{reference}"));
    assert!(j.has("[role=status]").await);
    j.shot("complaint-filed").await;
    j.goto(&format!("/complaints/{reference}")).await;
    assert!(j.has("[data-step=contacted]:not([data-done])").await);
    assert!(!j.has("[data-errors]").await);

    // The district's inspector: the drawn inspection and the complaint, each with its form.
    j.sign_in("insp").await;
    assert_eq!(j.path().await, "/inspections");
    let card = format!("[data-inspection='{inspection}']");
    let complaint = format!("[data-complaint='{reference}']");
    assert!(j.has(&format!("{card}[data-inspection-status=assigned]")).await);
    assert!(j.has(&format!("{complaint} form[data-next-step=contacted]")).await);
    assert!(j.has(&format!("{complaint} [data-step=inspected] [data-due]")).await);
    for label in
        j.c.find_all(Locator::Css("main input:not([type=hidden]), main select, main textarea")).await.expect("inputs")
    {
        let id = label.attr("id").await.expect("attr").expect("every input has an id");
        assert!(j.has(&format!("label[for='{id}']")).await, "no label for #{id}");
    }
    j.shot("inspections").await;

    // An inspection result without the level is refused with the summary, then recorded.
    j.click(&format!("{card} [data-action=record-result]")).await;
    assert!(
        j.has(&format!("[data-errors][role=alert] li[data-code=REQUIRED] a[href='#f-{inspection}-noise_db']")).await
    );
    assert_eq!(j.attr(&format!("#f-{inspection}-noise_db-error"), "data-code").await.as_deref(), Some("REQUIRED"));
    j.shot("inspection-refused").await;
    j.fill_at(&format!("#f-{inspection}-noise_db"), "52.5").await;
    j.select_at(&format!("#f-{inspection}-measures_ok"), "true").await;
    j.click(&format!("{card} [data-action=record-result]")).await;
    assert!(j.has(&format!("{card}[data-inspection-status=passed]")).await);

    // The complaint's steps: contacted; a level that is no number refused; inspected.
    j.fill_at(&format!("#f-{reference}-note"), "已电话联系投诉人").await;
    j.click(&format!("{complaint} [data-action=record-step]")).await;
    assert!(j.has(&format!("{complaint} [data-step=contacted][data-done]")).await);
    assert!(j.has(&format!("{complaint} form[data-next-step=inspected]")).await);
    j.fill_at(&format!("#f-{reference}-noise_db"), "很吵").await;
    j.select_at(&format!("#f-{reference}-rectification_ordered"), "false").await;
    j.click(&format!("{complaint} [data-action=record-step]")).await;
    assert!(j.has(&format!("[data-errors] li[data-code=INVALID_VALUE] a[href='#f-{reference}-noise_db']")).await);
    j.shot("complaint-step-refused").await;
    j.fill_at(&format!("#f-{reference}-noise_db"), "48.5").await;
    j.click(&format!("{complaint} [data-action=record-step]")).await;
    assert!(j.has(&format!("{complaint} [data-step=inspected][data-done]")).await);
    assert!(j.has(&format!("{complaint} form[data-next-step=concluded]")).await);
    j.shot("complaint-inspected").await;

    // The resident sees the progress, without the inspector's notes.
    j.sign_out().await;
    j.goto(&format!("/complaints/{reference}")).await;
    assert!(j.has("[data-step=contacted][data-done]").await && j.has("[data-step=inspected][data-done]").await);
    let body = j.c.find(Locator::Css("main")).await.expect("main").text().await.expect("text");
    assert!(!body.contains("已电话联系投诉人"), "{body}");
    j.shot("complaint-progress").await;
    j.c.close().await.expect("close");
    drop(driver);
    app.stop().await;
}

// ---- The one form as a task list, check your answers, materials per kind, an expired session ----

impl Journey<'_> {
    async fn task_state(&self, task: &str) -> Option<String> {
        self.attr(&format!("[data-tasklist] [data-form-task={task}]"), "data-task-state").await
    }

    async fn text_of(&self, css: &str) -> String {
        self.c
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|_| panic!("{css} ({})", self.mode))
            .text()
            .await
            .expect("text")
    }

    /// The session cookie the browser holds, as a `Cookie` header for plain HTTP requests.
    async fn cookie_header(&self) -> String {
        let c = self.c.get_named_cookie("np_session").await.expect("the session cookie");
        format!("np_session={}", c.value())
    }

    /// Drops a small PNG (drawn in the page) on the drop zone of `kind`, as a person dragging a
    /// file from the desktop would: the page's script puts it in the zone's input and sends it.
    async fn drop_png(&self, kind: &str, name: &str) {
        let old = self.c.find(Locator::Css("html")).await.expect("document");
        let script = r##"
            const [kind, name, done] = arguments;
            const form = document.querySelector(`form[data-dropzone="${kind}"]`);
            const canvas = document.createElement("canvas");
            canvas.width = 64; canvas.height = 48;
            const g = canvas.getContext("2d");
            g.fillStyle = "#fff"; g.fillRect(0, 0, 64, 48); g.fillStyle = "#c00"; g.fillRect(8, 8, 30, 20);
            canvas.toBlob(blob => {
              const dt = new DataTransfer();
              dt.items.add(new File([blob], name, {type: "image/png"}));
              const drag = type => new DragEvent(type, {dataTransfer: dt, bubbles: true, cancelable: true});
              form.dispatchEvent(drag("dragenter"));
              form.dispatchEvent(drag("dragover"));
              const highlighted = form.classList.contains("dragging");
              // The drop sends the form: answer first, so the page going away ends no script.
              setTimeout(() => form.dispatchEvent(drag("drop")), 50);
              done(highlighted);
            }, "image/png");
        "##;
        let sent = self.c.execute_async(script, vec![json!(kind), json!(name)]).await.expect("drop");
        assert_eq!(sent, json!(true), "the drop zone of {kind} did not light up under the file");
        let deadline = Instant::now() + Duration::from_secs(15);
        while old.tag_name().await.is_ok() {
            assert!(Instant::now() < deadline, "the drop on {kind} did not upload");
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        self.c.wait().for_element(Locator::Css("body footer")).await.expect("the new page loaded");
    }
}

/// Everything but the measures of the example form, typed into the new form.
async fn fill_form_but_measures(j: &Journey<'_>, project: &str) {
    let start = nightpermit_server::views::shanghai_today(j.app.state.clock.now_ms()) + chrono::Duration::days(5);
    let end = start + chrono::Duration::days(2);
    j.select("district", "jingan").await;
    j.fill("project.name", project).await;
    j.fill("project.address", "上海市静安区某路100号").await;
    j.fill("project.construction_permit_no", "310106202012150101").await;
    j.fill("project.builder", "上海某建设发展有限公司").await;
    j.fill("night_work.start_date", &date_keys(&start.to_string())).await;
    j.fill("night_work.end_date", &date_keys(&end.to_string())).await;
    j.fill("night_work.nightly_start", &time_keys("22:00")).await;
    j.fill("night_work.nightly_end", &time_keys("04:00")).await;
    j.select("night_work.process", "continuous_pour").await;
    j.fill("night_work.description", "底板大体积混凝土连续浇筑").await;
    j.fill("equipment[0].name", "混凝土泵车").await;
    j.fill("equipment[0].count", "2").await;
    j.fill("equipment[0].sound_level_db", "85").await;
}

/// New form → task list (with the API's reasons) → case with materials per kind (uploaded by
/// the plain input, and by a drop with JavaScript on; thumbnails; a delete) → check your answers
/// → change one answer and come back → submit.
async fn task_list_journey(app: &TestApp, driver: &Driver, js: bool, seed: u32, plan: &Path) {
    let mode = if js { "tasks-js-on" } else { "tasks-js-off" };
    let mut j = Journey { app, c: browser(driver, js).await, mode, step: 0 };
    let (code, _) = app.firm(seed).await;
    j.sign_in_firm(&code).await;

    // A new form: nothing started but the contact (the firm's own, filled in); no materials yet.
    j.goto("/applications/new").await;
    assert_eq!(j.task_state("project").await.as_deref(), Some("not_started"), "{mode}");
    assert_eq!(j.task_state("contact").await.as_deref(), Some("completed"), "{mode}");
    assert_eq!(j.task_state("materials").await.as_deref(), Some("not_started"));
    assert!(!j.has("[data-form-task=materials] a").await, "materials cannot be started before a draft");
    assert_eq!(j.attr("[data-form-task=night_work] a", "href").await.as_deref(), Some("#task-night_work"));
    assert!(j.has("fieldset#task-night_work [name='night_work.start_date']").await);
    j.shot("tasks-new").await;

    // Saved without measures and with a wrong phone: the tasks say which, with the API's codes.
    fill_form_but_measures(&j, "任务清单测试项目").await;
    j.fill("contact.phone", "1396").await;
    j.click("form.stack button[type=submit]").await;
    assert!(j.has("[data-errors] li[data-code=INVALID_PHONE]").await, "{mode}");
    assert_eq!(j.task_state("project").await.as_deref(), Some("completed"), "{mode}");
    assert_eq!(j.task_state("night_work").await.as_deref(), Some("completed"), "{mode}");
    assert_eq!(j.task_state("measures").await.as_deref(), Some("not_started"), "{mode}");
    assert_eq!(j.task_state("contact").await.as_deref(), Some("incomplete"), "{mode}");
    assert!(j.has("[data-form-task=contact] .task-reasons li[data-code=INVALID_PHONE]").await);
    j.shot("tasks-refused").await;
    j.fill("measures", "设置移动式隔声屏\n禁止鸣笛").await;
    j.fill("contact.phone", "13800000000").await;
    j.click("form.stack button[type=submit]").await;
    let case = j.path().await;
    let id = case.strip_prefix("/applications/").expect("on the case page").to_string();
    for task in ["project", "night_work", "equipment", "measures", "contact"] {
        assert_eq!(j.task_state(task).await.as_deref(), Some("completed"), "{mode} {task}");
    }
    assert_eq!(j.task_state("materials").await.as_deref(), Some("not_started"));
    assert_eq!(
        j.attr("[data-form-task=project] a", "href").await.as_deref(),
        Some(format!("/applications/{id}/edit#task-project").as_str())
    );

    // Materials per kind: one upload form (drop zone) each around a plain file input.
    assert_eq!(j.c.find_all(Locator::Css("form[data-dropzone]")).await.expect("zones").len(), 7);
    assert!(j.has("form[data-dropzone=site_plan] input[type=file][name=file][multiple]").await);
    assert!(j.has("form[data-dropzone=site_plan] input[type=hidden][name=kind][value=site_plan]").await);
    if js {
        assert!(j.has("form[data-dropzone=site_plan][data-drop-ready]").await, "the script made the zones");
        j.drop_png("site_plan", "dropped-plan.png").await;
    } else {
        j.upload_file("form[data-dropzone=site_plan]", plan).await;
    }
    assert_eq!(j.attr("[data-kind-zone=site_plan]", "data-count").await.as_deref(), Some("1"), "{mode}");
    // A second file of the same kind, by the plain input; then deleted again.
    j.upload_file("form[data-dropzone=site_plan]", plan).await;
    assert_eq!(j.attr("[data-kind-zone=site_plan]", "data-count").await.as_deref(), Some("2"), "{mode}");
    j.choose("[data-kind-zone=site_plan] li[data-material]:last-child details summary").await;
    j.click("[data-kind-zone=site_plan] li[data-material]:last-child [data-action=delete]").await;
    assert_eq!(j.attr("[data-kind-zone=site_plan]", "data-count").await.as_deref(), Some("1"), "{mode}");
    assert_eq!(j.task_state("materials").await.as_deref(), Some("incomplete"));
    assert!(j.has("[data-form-task=materials] li[data-code=MISSING_MATERIAL]").await);

    // The thumbnail: drawn by the browser, a small PNG the browser may keep, for the owner only.
    let thumb = j.attr("[data-kind-zone=site_plan] img[data-thumb]", "src").await.expect("a thumbnail");
    if js {
        let drawn =
            j.c.execute(
                "const i = document.querySelector('[data-kind-zone=site_plan] img[data-thumb]');\
                 return i.complete ? i.naturalWidth : -1",
                vec![],
            )
            .await
            .expect("js");
        assert!(drawn.as_i64().unwrap_or(0) > 0, "the thumbnail did not load: {drawn}");
    }
    let cookie = j.cookie_header().await;
    let r = app.client.get(app.url(&thumb)).header("cookie", &cookie).send().await.expect("get");
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "image/png");
    assert_eq!(r.headers()["cache-control"], "private, max-age=86400");
    let etag = r.headers()["etag"].to_str().expect("ascii").to_string();
    let png = r.bytes().await.expect("bytes");
    let small = image::load_from_memory(&png).expect("a PNG");
    assert!(small.width() <= 160 && small.width() > 0, "{}", small.width());
    let again = app.client.get(app.url(&thumb)).header("cookie", &cookie).header("if-none-match", &etag).send();
    assert_eq!(again.await.expect("get").status(), StatusCode::NOT_MODIFIED);
    // The full page image the thumbnail links to is kept and revalidated the same way.
    let page = j.attr("[data-kind-zone=site_plan] a.thumb", "href").await.expect("the page image");
    let r = app.client.get(app.url(&page)).header("cookie", &cookie).send().await.expect("get");
    assert_eq!((r.status(), r.headers()["content-type"].to_str().ok()), (StatusCode::OK, Some("image/jpeg")));
    let page_tag = r.headers()["etag"].to_str().expect("ascii").to_string();
    assert_ne!(page_tag, etag);
    let again = app.client.get(app.url(&page)).header("cookie", &cookie).header("if-none-match", &page_tag).send();
    assert_eq!(again.await.expect("get").status(), StatusCode::NOT_MODIFIED);
    let (_, other) = app.firm(seed + 50).await;
    let r = app.client.get(app.url(&thumb)).header("cookie", format!("np_session={other}")).send().await.expect("get");
    assert_eq!(r.status(), StatusCode::NOT_FOUND, "another firm must not see the thumbnail");
    j.shot("tasks-materials").await;

    // Check your answers: every answer with its change link; the materials per kind.
    j.click("[data-action=check-answers]").await;
    assert_eq!(j.path().await, format!("/applications/{id}/check"));
    assert_eq!(j.text_of("[data-answer='project.name'] dd").await, "任务清单测试项目");
    assert_eq!(j.text_of("[data-answer='district'] dd").await, "静安区");
    assert!(j.has("[data-answer='measures'] dd br").await, "one measure per line");
    assert_eq!(
        j.attr("a[data-change='project.name']", "href").await.as_deref(),
        Some(format!("/applications/{id}/edit?from=check#f-project-name").as_str())
    );
    assert!(j.has("[data-answer-kind=site_plan][data-count='1'] img[data-thumb]").await);
    assert!(j.has("[data-answer-kind=business_license][data-count='0']").await);
    assert!(j.has("[data-unfinished] [data-form-task=materials] [data-code=MISSING_MATERIAL]").await);
    assert!(j.has(&format!("form[action='/applications/{id}/submit'] [data-action=submit]")).await);
    j.shot("check-answers").await;

    // Change one answer: the edit form, then back to the check page with the new value.
    j.click("a[data-change='project.name']").await;
    assert_eq!(j.path().await, format!("/applications/{id}/edit"));
    j.fill("project.name", "任务清单测试项目（二期）").await;
    j.click("form.stack button[type=submit]").await;
    assert_eq!(
        j.path().await,
        format!("/applications/{id}/check"),
        "{mode}: saved from the check page goes back there"
    );
    assert_eq!(j.text_of("[data-answer='project.name'] dd").await, "任务清单测试项目（二期）");

    // Submitted from here: the case, in pre-review.
    j.click("[data-action=submit]").await;
    assert_eq!(j.path().await, case);
    assert_eq!(j.attr("[data-status]", "data-status").await.as_deref(), Some("prereview"), "{mode}");
    j.shot("submitted").await;
    j.goto(&format!("/applications/{id}/check")).await;
    assert_eq!(j.problem_status().await.as_deref(), Some("409"), "nothing to check once submitted");
    j.c.close().await.expect("close");
}

impl Journey<'_> {
    async fn sign_in_firm(&self, code: &str) {
        self.goto("/login").await;
        self.fill("login", code).await;
        self.fill("password", "night-permit-1").await;
        self.click("form.stack button[type=submit]").await;
        assert_eq!(self.path().await, "/applications", "{}", self.mode);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_firm_works_through_the_task_list_checks_its_answers_and_submits() {
    let app = TestApp::spawn(Db::Sqlite).await;
    let dir = temp_dir("task-list");
    let plan = dir.join("site-plan.png");
    std::fs::write(&plan, png(120, 90)).expect("write");
    let driver = start_driver().await;
    task_list_journey(&app, &driver, true, 1001, &plan).await;
    task_list_journey(&app, &driver, false, 1002, &plan).await;
    drop(driver);
    app.stop().await;
}

/// The session ends while the firm types: saving sends it to sign in, then back to the form
/// with what it had typed; the draft is only saved when it saves.
async fn expired_session_journey(app: &TestApp, driver: &Driver, js: bool, seed: u32) {
    let mode = if js { "expired-js-on" } else { "expired-js-off" };
    let mut j = Journey { app, c: browser(driver, js).await, mode, step: 0 };
    let (code, token) = app.firm(seed).await;
    j.sign_in_firm(&code).await;
    j.goto("/applications/new").await;
    fill_form_but_measures(&j, "登录过期测试项目").await;
    j.fill("measures", "设置移动式隔声屏").await;

    // The session passes its end (the clock moves past the session's lifetime) while typing.
    let ttl_ms = app.settings.auth.session_ttl_hours * 3_600_000;
    app.state.clock.advance_ms(ttl_ms + 60_000);
    j.click("form.stack button[type=submit]").await;
    assert_eq!(j.path().await, "/login", "{mode}");
    let url = j.c.current_url().await.expect("url");
    assert_eq!(url.query(), Some("next=/applications/new"), "{mode}");
    assert!(j.text_of("main").await.contains("已为您保留"), "{mode}: the sign-in page says the form is kept");
    let list = app.get("/api/v1/applications", Some(&token)).await;
    assert_eq!(list.status(), StatusCode::UNAUTHORIZED, "the old session has ended");
    j.shot("expired-sign-in").await;

    j.fill("login", &code).await;
    j.fill("password", "night-permit-1").await;
    j.click("form.stack button[type=submit]").await;
    assert_eq!(j.path().await, "/applications/new", "{mode}: back on the page the firm was on");
    assert!(j.has("[data-restored]").await, "{mode}");
    assert_eq!(j.attr("#f-project-name", "value").await.as_deref(), Some("登录过期测试项目"));
    assert_eq!(j.text_of("#f-measures").await, "设置移动式隔声屏");
    let process = j.c.find(Locator::Css("#f-night_work-process")).await.expect("process");
    assert_eq!(process.prop("value").await.expect("prop").as_deref(), Some("continuous_pour"));
    j.shot("expired-restored").await;

    // Saved now, as typed; the kept copy is gone.
    j.click("form.stack button[type=submit]").await;
    let id = j.path().await.strip_prefix("/applications/").expect("a saved draft").to_string();
    let session = app.login(&code, "night-permit-1").await;
    let v: Value = app.get(&format!("/api/v1/applications/{id}"), Some(&session)).await.json().await.expect("json");
    assert_eq!(v["project"]["name"], "登录过期测试项目", "{v:#}");
    j.goto("/applications/new").await;
    assert!(!j.has("[data-restored]").await, "a kept form is given back once");
    j.c.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_session_sends_the_firm_to_sign_in_and_back_with_its_draft() {
    let app = TestApp::spawn(Db::Sqlite).await;
    let driver = start_driver().await;
    expired_session_journey(&app, &driver, true, 1101).await;
    expired_session_journey(&app, &driver, false, 1102).await;
    drop(driver);
    app.stop().await;
}
