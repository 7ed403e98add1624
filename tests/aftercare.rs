//! Black-box: after-care over HTTP on both backends — complaints matched to permits and followed
//! through the 1/3/10/15-day rule, an upheld complaint moving the firm's grade, double-random
//! inspections replayed from their seed, and the open register as JSON, CSV and Atom.

mod common;

use chrono::{Duration, Utc};
use common::*;
use nightpermit_store::JOB_KIND_SEAL;
use reqwest::StatusCode;
use serde_json::{json, Value};

const DAY_MS: i64 = 86_400_000;

/// A form whose nights begin `days` days after the real today.
fn form_in(days: i64) -> Value {
    let mut f = example_form();
    let start = (Utc::now() + Duration::days(days)).date_naive();
    f["night_work"]["start_date"] = json!(start.to_string());
    f["night_work"]["end_date"] = json!((start + Duration::days(2)).to_string());
    f
}

/// Runs a case to an issued permit: the pre-review stood in for through the store, both
/// departments approving over HTTP, sealing without rendering a PDF.
async fn issued_permit(app: &TestApp, token: &str) -> String {
    let id = app.create_application(token, &example_form()).await["id"].as_str().expect("id").to_string();
    assert_eq!(app.submit(token, &id, None).await.status(), StatusCode::ACCEPTED);
    let store = &app.state.store;
    app.finish_for_review(&id, "[]".into(), "[]".into(), None).await;
    for dept in ["construction", "environment"] {
        let reviewer = app.staff(&format!("r-{dept}-{id}"), "reviewer", Some(dept), Some("jingan")).await;
        let r = app
            .post_json(
                &format!("/api/v1/review/tasks/{id}-{dept}/decision"),
                Some(&reviewer),
                &json!({"outcome": "approve"}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK);
    }
    let now = app.state.clock.now_ms();
    let job = store.claim_job(&[JOB_KIND_SEAL], "signer", now, 60_000).await.expect("claim").expect("seal job");
    let permit = store.allocate_permit_number(&id, "jingan", 2026, now).await.expect("number");
    assert!(store.issue_permit(&job.id, "signer", &permit.number, "ab", now).await.expect("issue"));
    permit.number
}

async fn json_of(r: reqwest::Response, status: StatusCode) -> Value {
    let got = r.status();
    let text = r.text().await.unwrap_or_default();
    assert_eq!(got, status, "{text}");
    serde_json::from_str(&text).expect("json")
}

async fn complain(app: &TestApp, body: Value) -> Value {
    json_of(app.post_json("/api/v1/complaints", None, &body).await, StatusCode::CREATED).await
}

async fn step(app: &TestApp, token: &str, reference: &str, body: Value) -> reqwest::Response {
    app.post_json(&format!("/api/v1/complaints/{reference}/steps"), Some(token), &body).await
}

async fn aftercare(db: Db) {
    let app = TestApp::spawn(db).await;
    let (code, _) = app.firm(11).await;
    let firm_token = app.login(&code, "night-permit-1").await;
    let number = issued_permit(&app, &firm_token).await;
    let permit = json_of(app.get(&format!("/api/v1/permits/{number}"), None).await, StatusCode::OK).await;
    assert_eq!(permit["inspections"], json!([]));
    let start = permit["nights"]["start_date"].as_str().expect("start").to_string();

    // The register lists it; other districts do not.
    let reg = json_of(app.get("/api/v1/register?district=jingan", None).await, StatusCode::OK).await;
    assert_eq!(reg["items"][0]["number"], number.as_str());
    assert_eq!(reg["items"][0]["project_address"], "上海市静安区某路100号");
    let other = json_of(app.get("/api/v1/register?district=xuhui&format=json", None).await, StatusCode::OK).await;
    assert_eq!(other["items"], json!([]));
    field_error(app.get("/api/v1/register?district=beijing", None).await, "district", "UNKNOWN_DISTRICT").await;
    field_error(app.get("/api/v1/register?format=xml", None).await, "format", "UNKNOWN_FORMAT").await;
    let csv = app.get("/api/v1/register?district=jingan&format=csv", None).await;
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    let csv = csv.text().await.expect("csv");
    let mut lines = csv.lines();
    assert!(lines.next().expect("header").starts_with("number,district,district_name,project_name"));
    assert!(lines.next().expect("row").starts_with(&format!("{number},jingan,静安区,")));

    // Into the first night: the noise happens, residents complain.
    app.state.clock.advance_ms(6 * DAY_MS);
    let night = format!("{start}T23:30:00+08:00");
    let by_number = complain(
        &app,
        json!({"district": "jingan", "permit_number": number, "occurred_at": night,
               "description": "<script>alert(1)</script> 泵车噪声很大", "contact": {"name": "李四", "phone": "13900000000"}}),
    )
    .await;
    assert_eq!(by_number["matched_permits"], json!([number]));
    assert_eq!(by_number["priority"], "normal");
    for key in ["contact_by", "inspect_by", "check_by", "conclude_by"] {
        assert!(by_number["deadlines"][key].as_str().is_some_and(|d| d.ends_with("T23:59:59+08:00")), "{by_number}");
    }
    let by_address = complain(
        &app,
        json!({"district": "jingan", "address": "上海市静安区某路 １００ 号", "occurred_at": night, "description": "夜里很吵"}),
    )
    .await;
    assert_eq!(by_address["matched_permits"], json!([number]));
    let unpermitted = complain(
        &app,
        json!({"district": "jingan", "address": "静安区另一路8号", "occurred_at": night, "description": "无证施工"}),
    )
    .await;
    assert_eq!(
        (unpermitted["matched_permits"].clone(), unpermitted["priority"].clone()),
        (json!([]), json!("highest"))
    );
    // The right number at noon is not covered by the permit either.
    let daytime = complain(
        &app,
        json!({"district": "jingan", "permit_number": number, "occurred_at": format!("{start}T12:00:00+08:00"), "description": "白天"}),
    )
    .await;
    assert_eq!(daytime["priority"], "highest");
    field_error(
        app.post_json(
            "/api/v1/complaints",
            None,
            &json!({"district": "jingan", "occurred_at": night, "description": "x"}),
        )
        .await,
        "address",
        "REQUIRED",
    )
    .await;
    field_error(
        app.post_json(
            "/api/v1/complaints",
            None,
            &json!({"district": "jingan", "address": "某路100号", "occurred_at": "昨晚", "description": "x"}),
        )
        .await,
        "occurred_at",
        "INVALID_TIME",
    )
    .await;

    // Inspectors follow it up, in order.
    let insp = app.staff("insp", "inspector", None, Some("jingan")).await;
    let xinsp = app.staff("xinsp", "inspector", None, Some("xuhui")).await;
    let reference = by_number["reference"].as_str().expect("reference").to_string();
    problem(step(&app, &xinsp, &reference, json!({"step": "contacted"})).await, StatusCode::FORBIDDEN, "FORBIDDEN")
        .await;
    problem(
        step(&app, &firm_token_now(&app, &code).await, &reference, json!({"step": "contacted"})).await,
        StatusCode::FORBIDDEN,
        "FORBIDDEN",
    )
    .await;
    problem(
        step(&app, &insp, &reference, json!({"step": "concluded", "outcome": "upheld"})).await,
        StatusCode::CONFLICT,
        "STEP_OUT_OF_ORDER",
    )
    .await;
    assert_eq!(
        step(&app, &insp, &reference, json!({"step": "contacted", "note": "已电话联系"})).await.status(),
        StatusCode::OK
    );
    problem(
        step(&app, &insp, &reference, json!({"step": "contacted"})).await,
        StatusCode::CONFLICT,
        "STEP_ALREADY_RECORDED",
    )
    .await;
    let inspected = json_of(
        step(&app, &insp, &reference, json!({"step": "inspected", "noise_db": 68.5, "rectification_ordered": true}))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(inspected["noise_db"], 68.5);
    // The description comes back exactly as written, as plain text in JSON.
    assert_eq!(inspected["description"], "<script>alert(1)</script> 泵车噪声很大");
    assert_eq!(inspected["contact"]["name"], "李四");
    assert_eq!(
        step(&app, &insp, &reference, json!({"step": "checked", "rectified": false})).await.status(),
        StatusCode::OK
    );
    let concluded = json_of(
        step(&app, &insp, &reference, json!({"step": "concluded", "outcome": "upheld", "note": "监测超标"})).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!((concluded["status"].clone(), concluded["outcome"].clone()), (json!("concluded"), json!("upheld")));

    // The public view: progress and outcome, nobody's name or number, not even the description.
    let public = app.get(&format!("/api/v1/complaints/{reference}"), None).await;
    assert_eq!(public.status(), StatusCode::OK);
    let text = public.text().await.expect("text");
    for private in ["李四", "13900000000", "staff:", "\"insp\"", "script", "泵车", "已电话联系", "监测超标"]
    {
        assert!(!text.contains(private), "public complaint view shows {private}: {text}");
    }
    let public: Value = serde_json::from_str(&text).expect("json");
    assert_eq!(public["outcome"], "upheld");
    assert_eq!(public["steps"].as_array().map(Vec::len), Some(4));
    assert!(public["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .all(|s| s["done_at"].is_string() && s["overdue"] == false));
    problem(app.get("/api/v1/complaints/TS00000000-NOPE", None).await, StatusCode::NOT_FOUND, "NOT_FOUND").await;

    // Upheld: the green firm is yellow (3 points >= yellow 3 in grading.toml) ...
    let record =
        json_of(app.get(&format!("/api/v1/admin/firms/{code}/records"), Some(&insp)).await, StatusCode::OK).await;
    assert_eq!(record["grade"], "yellow", "{record}");
    assert_eq!(record["records"][0]["kind"], "complaint_upheld");
    // ... and its next application goes to a human on that ground.
    let token = firm_token_now(&app, &code).await;
    let next = app.create_application(&token, &form_in(12)).await["id"].as_str().expect("id").to_string();
    let rec = app.state.store.application(&next).await.expect("app").expect("exists");
    let form: nightpermit_cases::form::ApplicationForm = serde_json::from_str(&rec.form).expect("form");
    let firm = app.state.store.firm_by_id(&rec.firm_id).await.expect("firm").expect("exists");
    let facts = nightpermit_cases::facts::assemble(&app.state, &rec, &form, &firm, 0, app.state.clock.now_ms())
        .await
        .expect("facts");
    let decision = nightpermit_rules::decide(&app.state.policy.rules, &facts);
    assert_eq!(decision.outcome, nightpermit_rules::Outcome::ManualReview);
    assert!(decision.trace.iter().any(|t| t.rule == "grade_not_green" && t.result), "{:?}", decision.trace);
    assert!(decision.reasons.iter().any(|r| r.contains("不是绿码")));

    // Double-random: the draw is replayed exactly from its seed.
    let admin = app.staff("admin", "admin", None, None).await;
    problem(
        app.post_json("/api/v1/admin/inspections/draw", Some(&insp), &json!({"district": "jingan", "count": 1})).await,
        StatusCode::FORBIDDEN,
        "FORBIDDEN",
    )
    .await;
    let draw = |seed: Option<u64>| {
        let body = json!({"district": "jingan", "count": 1, "seed": seed});
        let app = &app;
        let admin = admin.clone();
        async move {
            json_of(app.post_json("/api/v1/admin/inspections/draw", Some(&admin), &body).await, StatusCode::CREATED)
                .await
        }
    };
    let first = draw(None).await;
    let seed = first["seed"].as_u64().expect("seed returned");
    let replay = draw(Some(seed)).await;
    assert_eq!(first["frame"], replay["frame"]);
    let pick = |v: &Value| (v["sample"][0]["permit_number"].clone(), v["sample"][0]["inspector"].clone());
    assert_eq!(pick(&first), pick(&replay));
    assert_eq!(pick(&first), (json!(number), json!("insp")));
    assert_eq!(first["frame"][0]["grade"], "yellow");
    assert_eq!(first["frame"][0]["weight"], 3);
    let audit = app.state.store.audit_entries(0, 10_000).await.expect("audit");
    assert!(audit
        .iter()
        .any(|e| e.action == "inspection.drawn"
            && e.after_state.as_deref().is_some_and(|a| a.contains(&seed.to_string()))));

    // Results: one over 55 dB(A) fails and enters the record; both are public on the permit.
    let mine = json_of(app.get("/api/v1/inspections", Some(&insp)).await, StatusCode::OK).await;
    let ids: Vec<String> =
        mine["items"].as_array().expect("items").iter().map(|i| i["id"].as_str().expect("id").to_string()).collect();
    assert_eq!(ids.len(), 2);
    assert_eq!(mine["items"][0]["project_address"], "上海市静安区某路100号");
    let xmine = json_of(app.get("/api/v1/inspections", Some(&xinsp)).await, StatusCode::OK).await;
    assert_eq!(xmine["items"], json!([]));
    problem(result(&app, &ids[0], &xinsp, 50.0).await, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    let failed = json_of(result(&app, &ids[0], &insp, 61.0).await, StatusCode::OK).await;
    assert_eq!(failed["status"], "failed");
    problem(result(&app, &ids[0], &insp, 50.0).await, StatusCode::CONFLICT, "INSPECTION_RECORDED").await;
    assert_eq!(json_of(result(&app, &ids[1], &insp, 55.0).await, StatusCode::OK).await["status"], "passed");
    let record =
        json_of(app.get(&format!("/api/v1/admin/firms/{code}/records"), Some(&insp)).await, StatusCode::OK).await;
    assert!(record["records"].as_array().expect("records").iter().any(|r| r["kind"] == "inspection_violation"));
    let permit = app.get(&format!("/api/v1/permits/{number}"), None).await.text().await.expect("text");
    assert!(!permit.contains("staff:") && !permit.contains("\"insp\""), "{permit}");
    let permit: Value = serde_json::from_str(&permit).expect("json");
    let seen: Vec<(f64, bool)> = permit["inspections"]
        .as_array()
        .expect("inspections")
        .iter()
        .map(|i| (i["noise_db"].as_f64().expect("db"), i["passed"].as_bool().expect("passed")))
        .collect();
    assert_eq!(seen, vec![(61.0, false), (55.0, true)]);
    assert!(permit["inspections"][0]["date"].as_str().is_some_and(|d| d.len() == 10));

    // Revoked: off the register, and in the feed with its reason escaped.
    let r = app
        .post_json(&format!("/api/v1/permits/{number}/revoke"), Some(&admin), &json!({"reason": "噪声<超标>&投诉属实"}))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let reg = json_of(app.get("/api/v1/register?district=jingan", None).await, StatusCode::OK).await;
    assert_eq!(reg["items"], json!([]));
    let feed = app.get("/api/v1/register.atom?district=jingan", None).await;
    assert_eq!(feed.headers()["content-type"], "application/atom+xml; charset=utf-8");
    let feed = feed.text().await.expect("atom");
    assert!(
        feed.starts_with("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\">")
    );
    assert_eq!(feed.matches("<entry>").count(), 2, "{feed}");
    assert!(feed.contains("<category term=\"revoked\"/>") && feed.contains("<category term=\"issued\"/>"));
    assert!(feed.contains("撤销原因：噪声&lt;超标&gt;&amp;投诉属实"), "{feed}");
    assert!(!feed.contains("<超标>"));
    // Newest first: the revocation leads.
    assert!(feed.find("term=\"revoked\"") < feed.find("term=\"issued\""));
    let xfeed = app.get("/api/v1/register.atom?district=xuhui", None).await.text().await.expect("atom");
    assert_eq!(xfeed.matches("<entry>").count(), 0);

    // Past the contact deadline (a weekend or holiday may lie between), nobody has contacted
    // the unpermitted-work complainant: overdue.
    let contact_by = unpermitted["deadlines"]["contact_by"].as_str().expect("contact_by");
    let due = chrono::DateTime::parse_from_rfc3339(contact_by).expect("rfc3339").timestamp_millis();
    app.state.clock.advance_ms(due - app.state.clock.now_ms() + 60_000);
    let insp = app.login("insp", "staff-pass-1").await;
    let overdue =
        json_of(app.get("/api/v1/complaints?district=jingan&overdue=true", Some(&insp)).await, StatusCode::OK).await;
    let items = overdue["items"].as_array().expect("items");
    let late = items.iter().find(|c| c["reference"] == unpermitted["reference"]).expect("listed as overdue");
    assert_eq!(late["overdue_steps"][0], "contacted");
    assert_eq!(late["priority"], "highest");
    // The concluded one is not in the open list at all.
    assert!(items.iter().all(|c| c["reference"] != reference.as_str()));
    let public = json_of(
        app.get(&format!("/api/v1/complaints/{}", unpermitted["reference"].as_str().expect("r")), None).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!((public["overdue"].clone(), public["steps"][0]["overdue"].clone()), (json!(true), json!(true)));
    let xinsp = app.login("xinsp", "staff-pass-1").await;
    problem(app.get("/api/v1/complaints?district=jingan", Some(&xinsp)).await, StatusCode::FORBIDDEN, "FORBIDDEN")
        .await;
    problem(app.get("/api/v1/complaints?district=jingan", None).await, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED")
        .await;
    assert!(app.state.store.verify_audit_chain().await.expect("verify").first_broken.is_none());
    app.stop().await;
}

async fn result(app: &TestApp, id: &str, token: &str, noise: f64) -> reqwest::Response {
    let body = json!({"noise_db": noise, "measures_ok": true, "comment": "边界测点"});
    app.post_json(&format!("/api/v1/inspections/{id}/result"), Some(token), &body).await
}

/// Sessions end after 12 hours and these tests move the clock by days: sign in again.
async fn firm_token_now(app: &TestApp, code: &str) -> String {
    app.login(code, "night-permit-1").await
}

#[tokio::test]
async fn aftercare_sqlite() {
    aftercare(Db::Sqlite).await
}

#[tokio::test]
async fn aftercare_postgres() {
    aftercare(Db::Postgres).await
}

/// Filing is limited per client; the inspectors' step endpoints under the same path are not;
/// with `day_kind = "calendar"` the contact deadline is simply tomorrow.
#[tokio::test]
async fn complaints_are_rate_limited_and_calendar_days_count_every_day() {
    let mut s = fresh_settings(Db::Sqlite).await;
    s.abuse.complaint_per_minute = 1;
    s.abuse.complaint_burst = 2;
    s.complaints.day_kind = nightpermit_rules::aftercare::DayKind::Calendar;
    let app = TestApp::start(s).await;
    let body = json!({"district": "jingan", "address": "静安区某路100号", "occurred_at": "2026-01-01T23:00:00+08:00", "description": "吵"});
    let first = complain(&app, body.clone()).await;
    let tomorrow = nightpermit_server::views::shanghai_today(app.state.clock.now_ms()) + Duration::days(1);
    assert_eq!(first["deadlines"]["contact_by"], format!("{tomorrow}T23:59:59+08:00"));
    let fifteen = tomorrow + Duration::days(14);
    assert_eq!(first["deadlines"]["conclude_by"], format!("{fifteen}T23:59:59+08:00"));
    complain(&app, body.clone()).await;
    let limited = app.post_json("/api/v1/complaints", None, &body).await;
    problem(limited, StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED").await;
    let reference = first["reference"].as_str().expect("reference");
    for _ in 0..3 {
        let r =
            app.post_json(&format!("/api/v1/complaints/{reference}/steps"), None, &json!({"step": "contacted"})).await;
        problem(r, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED").await;
    }
    app.stop().await;
}
