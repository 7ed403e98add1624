//! Black-box: a firm registers, fills the one form, uploads once and submits — on SQLite and
//! Postgres — and every kind of bad input gets its status and stable code.

mod common;

use common::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

async fn full_walk(db: Db) {
    let app = TestApp::spawn(db).await;
    let (code, token) = app.firm(1).await;
    let created = app.create_application(&token, &example_form()).await;
    assert_eq!(created["status"], "draft");
    assert_eq!(created["firm"]["credit_code"], code.as_str());
    assert_eq!(created["nights"], 3);
    assert!(created["prereview"].is_null() && created["decision"].is_null() && created["permit"].is_null());
    let id = created["id"].as_str().expect("id");

    let r = app.upload(&token, id, "business_license", "营业执照.png", png(40, 30)).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let m: Value = r.json().await.expect("json");
    assert_eq!(
        (m["kind"].as_str(), m["content_type"].as_str(), m["filename"].as_str()),
        (Some("business_license"), Some("image/png"), Some("营业执照.png"))
    );
    assert_eq!(m["sha256"].as_str().map(str::len), Some(64));

    let r = app.submit(&token, id, Some("submit-1")).await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let first: Value = r.json().await.expect("json");
    assert_eq!((first["status"].as_str(), first["round"].as_i64()), (Some("prereview"), Some(1)));

    let got: Value = app.get(&format!("/api/v1/applications/{id}"), Some(&token)).await.json().await.expect("json");
    assert_eq!(got["status"], "prereview");
    assert_eq!(got["materials"].as_array().map(Vec::len), Some(1));
    assert_eq!(got["prereview"]["round"], 1);
    assert_eq!(got["prereview"]["state"], "pending");
    assert_eq!(got["prereview"]["progress"]["materials_total"], 1);
    let jobs = app.state.store.jobs_for_application(id).await.expect("jobs");
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].state, "queued");

    // The same submit again with the same key: same answer, still one job.
    let again = app.submit(&token, id, Some("submit-1")).await;
    assert_eq!(again.status(), StatusCode::ACCEPTED);
    assert_eq!(again.json::<Value>().await.expect("json"), first);
    assert_eq!(app.state.store.jobs_for_application(id).await.expect("jobs").len(), 1);

    // Without the key it is a second submit of a case no longer in draft.
    problem(app.submit(&token, id, None).await, StatusCode::CONFLICT, "INVALID_STATE").await;
    // And the form is frozen while pre-review runs.
    let r = app
        .client
        .patch(app.url(&format!("/api/v1/applications/{id}")))
        .bearer_auth(&token)
        .header("content-type", "application/merge-patch+json")
        .body(r#"{"measures":["x"]}"#)
        .send()
        .await
        .expect("patch");
    problem(r, StatusCode::CONFLICT, "INVALID_STATE").await;
    problem(app.upload(&token, id, "site_plan", "plan.png", png(10, 10)).await, StatusCode::CONFLICT, "INVALID_STATE")
        .await;

    // Every step is in the audit log, and the chain holds.
    let actions: Vec<String> = app
        .state
        .store
        .audit_entries_for("application", id)
        .await
        .expect("audit")
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert_eq!(actions, vec!["application.created", "material.added", "application.submitted"]);
    assert_eq!(app.state.store.verify_audit_chain().await.expect("verify").first_broken, None);
    app.stop().await;
}

async fn survives_restart(db: Db) {
    let app = TestApp::spawn(db).await;
    let (code, token) = app.firm(2).await;
    let id = app.create_application(&token, &example_form()).await["id"].as_str().expect("id").to_string();
    let bytes = png(64, 48);
    let m: Value = app.upload(&token, &id, "noise_plan", "noise.png", bytes.clone()).await.json().await.expect("json");
    assert_eq!(app.submit(&token, &id, None).await.status(), StatusCode::ACCEPTED);
    let before: Value = app.get(&format!("/api/v1/applications/{id}"), Some(&token)).await.json().await.expect("json");
    let settings = app.stop().await;

    let app = TestApp::start(settings).await;
    // Sessions survive too: the same token still works.
    let after: Value = app.get(&format!("/api/v1/applications/{id}"), Some(&token)).await.json().await.expect("json");
    assert_eq!(after, before);
    let blob = app.state.blobs.get(m["sha256"].as_str().expect("sha")).await.expect("blob kept");
    assert_eq!(blob, bytes);
    assert_eq!(app.state.store.jobs_for_application(&id).await.expect("jobs").len(), 1);
    let fresh = app.login(&code, "night-permit-1").await;
    assert_eq!(app.get(&format!("/api/v1/applications/{id}"), Some(&fresh)).await.status(), StatusCode::OK);
    app.stop().await;
}

#[tokio::test]
async fn full_walk_sqlite() {
    full_walk(Db::Sqlite).await
}
#[tokio::test]
async fn full_walk_postgres() {
    full_walk(Db::Postgres).await
}
#[tokio::test]
async fn survives_restart_sqlite() {
    survives_restart(Db::Sqlite).await
}
#[tokio::test]
async fn survives_restart_postgres() {
    survives_restart(Db::Postgres).await
}

#[tokio::test]
async fn registration_rejects_bad_codes_and_duplicates() {
    let app = TestApp::spawn(Db::Sqlite).await;
    let body = |code: &str| json!({"credit_code": code, "name": "上海某公司", "password": "night-permit-1", "contact_name": "李四", "contact_phone": "13900000000"});
    // A valid code with its last character changed fails the check character.
    let good = nightpermit_domain::CreditCode::complete("91310106MA1FL0D44").expect("code").to_string();
    let bad = format!("{}{}", &good[..17], if good.ends_with('0') { '1' } else { '0' });
    field_error(app.post_json("/api/v1/firms", None, &body(&bad)).await, "credit_code", "CREDIT_CODE_INVALID").await;
    field_error(app.post_json("/api/v1/firms", None, &body("1234")).await, "credit_code", "CREDIT_CODE_INVALID").await;
    let r = app.post_json("/api/v1/firms", None, &body(&good.to_lowercase())).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let firm: Value = r.json().await.expect("json");
    assert_eq!((firm["credit_code"].as_str(), firm["grade"].as_str()), (Some(good.as_str()), Some("green")));
    assert!(firm.get("password_hash").is_none());
    problem(app.post_json("/api/v1/firms", None, &body(&good)).await, StatusCode::CONFLICT, "FIRM_EXISTS").await;
    let mut weak = body("91310106MA1FL0D44Z");
    weak["password"] = json!("123");
    field_error(app.post_json("/api/v1/firms", None, &weak).await, "password", "WEAK_PASSWORD").await;
    // Malformed JSON is a 400 with a code, not a panic.
    let r = app
        .client
        .post(app.url("/api/v1/firms"))
        .header("content-type", "application/json")
        .body("{oops")
        .send()
        .await
        .expect("send");
    problem(r, StatusCode::BAD_REQUEST, "MALFORMED_JSON").await;
    problem(
        app.post_json("/api/v1/sessions", None, &json!({"login": good, "password": "wrong-password"})).await,
        StatusCode::UNAUTHORIZED,
        "INVALID_CREDENTIALS",
    )
    .await;
    problem(
        app.post_json("/api/v1/sessions", None, &json!({"login": "nobody", "password": "wrong-password"})).await,
        StatusCode::UNAUTHORIZED,
        "INVALID_CREDENTIALS",
    )
    .await;
    app.stop().await;
}

#[tokio::test]
async fn form_errors_name_the_field() {
    let app = TestApp::spawn(Db::Sqlite).await;
    let (_, token) = app.firm(3).await;
    let with = |path: &[&str], v: Value| {
        let mut f = example_form();
        let mut cur = &mut f;
        for p in &path[..path.len() - 1] {
            cur = &mut cur[*p];
        }
        cur[path[path.len() - 1]] = v;
        f
    };
    let cases = [
        (with(&["night_work", "nightly_end"], json!("07:00")), "night_work.nightly_end", "OUTSIDE_NIGHT_HOURS"),
        (with(&["night_work", "nightly_start"], json!("21:00")), "night_work.nightly_start", "OUTSIDE_NIGHT_HOURS"),
        (with(&["night_work", "end_date"], json!("2020-01-01")), "night_work.end_date", "END_BEFORE_START"),
        (with(&["night_work", "process"], json!("piling")), "night_work.process", "UNKNOWN_PROCESS"),
        (with(&["district"], json!("beijing")), "district", "UNKNOWN_DISTRICT"),
        (with(&["contact", "phone"], json!("abc")), "contact.phone", "INVALID_PHONE"),
        (
            with(&["equipment"], json!([{"name": "破碎锤", "count": 1, "sound_level_db": 500}])),
            "equipment[0].sound_level_db",
            "OUT_OF_RANGE",
        ),
    ];
    for (form, field, code) in cases {
        field_error(app.post_json("/api/v1/applications", Some(&token), &form).await, field, code).await;
    }
    // PATCH is validated the same way, and a good patch is applied.
    let id = app.create_application(&token, &example_form()).await["id"].as_str().expect("id").to_string();
    let patch = |body: &str| {
        app.client
            .patch(app.url(&format!("/api/v1/applications/{id}")))
            .bearer_auth(&token)
            .header("content-type", "application/merge-patch+json")
            .body(body.to_string())
            .send()
    };
    field_error(
        patch(r#"{"night_work":{"nightly_end":"08:00"}}"#).await.expect("send"),
        "night_work.nightly_end",
        "OUTSIDE_NIGHT_HOURS",
    )
    .await;
    let r = patch(r#"{"night_work":{"nightly_end":"05:30"},"measures":["设置隔声屏"]}"#).await.expect("send");
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.expect("json");
    assert_eq!(
        (v["night_work"]["nightly_end"].as_str(), v["measures"][0].as_str()),
        (Some("05:30"), Some("设置隔声屏"))
    );
    assert_eq!(v["night_work"]["nightly_start"], "22:00");
    app.stop().await;
}

#[tokio::test]
async fn uploads_are_checked_by_content_and_size() {
    let app = TestApp::spawn(Db::Sqlite).await;
    let (_, token) = app.firm(4).await;
    let id = app.create_application(&token, &example_form()).await["id"].as_str().expect("id").to_string();
    // A text file named .png.
    problem(
        app.upload(&token, &id, "site_plan", "plan.png", b"this is not an image".to_vec()).await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "UNSUPPORTED_MEDIA_TYPE",
    )
    .await;
    // Over the configured file limit (256 KiB in tests) but inside the request limit.
    let mut big = png(8, 8);
    big.resize(300 * 1024, 0);
    problem(
        app.upload(&token, &id, "site_plan", "big.png", big).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "FILE_TOO_LARGE",
    )
    .await;
    // Far over: the request body itself is cut off.
    let mut huge = png(8, 8);
    huge.resize(3 * 1024 * 1024, 0);
    problem(
        app.upload(&token, &id, "site_plan", "huge.png", huge).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "FILE_TOO_LARGE",
    )
    .await;
    // A decompression bomb: a tiny file declaring 60000×60000 pixels is refused unread.
    problem(
        app.upload(&token, &id, "site_plan", "bomb.png", png_header_only(60_000, 60_000)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "IMAGE_TOO_LARGE",
    )
    .await;
    // Unknown kind.
    field_error(app.upload(&token, &id, "selfie", "x.png", png(4, 4)).await, "kind", "UNKNOWN_MATERIAL_KIND").await;
    // Not multipart at all: still problem+json with a code.
    let r = app
        .post_json(&format!("/api/v1/applications/{id}/materials"), Some(&token), &json!({"kind": "site_plan"}))
        .await;
    problem(r, StatusCode::BAD_REQUEST, "MALFORMED_MULTIPART").await;
    // A body over the request limit on a JSON route.
    let huge_json = format!("{{\"measures\": [\"{}\"]}}", "x".repeat(2 * 1024 * 1024));
    let r = app
        .client
        .patch(app.url(&format!("/api/v1/applications/{id}")))
        .bearer_auth(&token)
        .header("content-type", "application/merge-patch+json")
        .body(huge_json)
        .send()
        .await
        .expect("send");
    problem(r, StatusCode::PAYLOAD_TOO_LARGE, "BODY_TOO_LARGE").await;
    // A PDF and a JPEG are fine; the type comes from the bytes, not the name.
    let r =
        app.upload(&token, &id, "construction_permit", "permit.bin", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n".to_vec()).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(r.json::<Value>().await.expect("json")["content_type"], "application/pdf");
    let r = app.upload(&token, &id, "site_plan", "a.png", png(4, 4)).await;
    let m: Value = r.json().await.expect("json");
    // Delete one, and the list shrinks.
    let r = app
        .client
        .delete(app.url(&format!("/api/v1/applications/{id}/materials/{}", m["id"].as_str().expect("id"))))
        .bearer_auth(&token)
        .send()
        .await
        .expect("delete");
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let v: Value = app.get(&format!("/api/v1/applications/{id}"), Some(&token)).await.json().await.expect("json");
    assert_eq!(v["materials"].as_array().map(Vec::len), Some(1));
    app.stop().await;
}

/// A PNG signature and IHDR declaring `w`×`h`, followed by one tiny IDAT: what a decompression
/// bomb looks like to a parser that reads the header first.
fn png_header_only(w: u32, h: u32) -> Vec<u8> {
    fn crc32(data: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for &b in data {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
            }
        }
        !crc
    }
    fn chunk(out: &mut Vec<u8>, kind: &[u8], data: &[u8]) {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut body = kind.to_vec();
        body.extend_from_slice(data);
        out.extend_from_slice(&body);
        out.extend_from_slice(&crc32(&body).to_be_bytes());
    }
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 0, 0, 0, 0]);
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(&mut out, b"IDAT", &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]);
    chunk(&mut out, b"IEND", &[]);
    out
}

#[tokio::test]
async fn access_is_limited_to_the_owner_and_valid_tokens() {
    let app = TestApp::spawn(Db::Sqlite).await;
    let (_, owner) = app.firm(5).await;
    let (_, other) = app.firm(6).await;
    let id = app.create_application(&owner, &example_form()).await["id"].as_str().expect("id").to_string();
    let path = format!("/api/v1/applications/{id}");
    problem(app.get(&path, Some(&other)).await, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    problem(app.submit(&other, &id, None).await, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    problem(app.upload(&other, &id, "site_plan", "x.png", png(4, 4)).await, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    problem(app.get("/api/v1/applications/does-not-exist", Some(&owner)).await, StatusCode::NOT_FOUND, "NOT_FOUND")
        .await;
    problem(app.get(&path, None).await, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED").await;
    problem(app.get(&path, Some("made-up-token")).await, StatusCode::UNAUTHORIZED, "TOKEN_INVALID").await;
    // Other firm's list does not include it.
    let list: Value = app.get("/api/v1/applications", Some(&other)).await.json().await.expect("json");
    assert_eq!(list["total"], 0);
    // Tokens expire.
    app.state.clock.advance_ms((app.settings.auth.session_ttl_hours + 1) * 3_600_000);
    problem(app.get(&path, Some(&owner)).await, StatusCode::UNAUTHORIZED, "TOKEN_INVALID").await;
    app.stop().await;
}

#[tokio::test]
async fn lists_are_newest_first_and_paged() {
    let app = TestApp::spawn(Db::Sqlite).await;
    let (_, token) = app.firm(7).await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(app.create_application(&token, &example_form()).await["id"].as_str().expect("id").to_string());
        tokio::time::sleep(std::time::Duration::from_millis(3)).await;
    }
    let page: Value = app.get("/api/v1/applications?per_page=2", Some(&token)).await.json().await.expect("json");
    assert_eq!(page["total"], 3);
    let got: Vec<&str> = page["items"].as_array().expect("items").iter().filter_map(|i| i["id"].as_str()).collect();
    assert_eq!(got, vec![ids[2].as_str(), ids[1].as_str()]);
    let page2: Value =
        app.get("/api/v1/applications?per_page=2&page=2", Some(&token)).await.json().await.expect("json");
    assert_eq!(page2["items"][0]["id"], ids[0].as_str());
    field_error(app.get("/api/v1/applications?per_page=1000", Some(&token)).await, "per_page", "OUT_OF_RANGE").await;
    problem(app.get("/api/v1/applications?page=abc", Some(&token)).await, StatusCode::BAD_REQUEST, "INVALID_QUERY")
        .await;
    app.stop().await;
}
