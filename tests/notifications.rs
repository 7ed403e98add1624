//! Events out: a status change reaches a webhook receiver started by the test, signed, and is
//! retried after the receiver fails; every attempt is in the delivery log. Both backends.
mod common;

use common::{Db, TestApp};
use nightpermit_cases::config::Webhook;
use serde_json::Value;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Default)]
struct Received {
    calls: Vec<Call>,
}

/// Signature header, event header, body.
type Call = (String, String, Vec<u8>);

/// A receiver that fails its first call with 500 and accepts the rest.
async fn receiver() -> (String, Arc<Mutex<Received>>) {
    let seen = Arc::new(Mutex::new(Received::default()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    let state = seen.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
            let state = state.clone();
            async move {
                let header = |k: &str| headers.get(k).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
                let mut s = state.lock().expect("lock");
                s.calls.push((header("x-nightpermit-signature"), header("x-nightpermit-event"), body.to_vec()));
                if s.calls.len() == 1 {
                    axum::http::StatusCode::INTERNAL_SERVER_ERROR
                } else {
                    axum::http::StatusCode::NO_CONTENT
                }
            }
        }),
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url, seen)
}

async fn status_change_reaches_the_webhook(db: Db) {
    let (url, seen) = receiver().await;
    let mut settings = common::fresh_settings(db).await;
    settings.notifications.webhooks = vec![Webhook { url: url.clone(), secret: "hook-secret".into() }];
    settings.notifications.retry_base_secs = 1;
    let app = TestApp::start(settings).await;
    let (_, token) = app.firm(501).await;
    let id = app.create_application(&token, &common::example_form()).await["id"].as_str().expect("id").to_string();
    let r = app.post_json(&format!("/api/v1/applications/{id}/withdraw"), Some(&token), &serde_json::json!({})).await;
    assert_eq!(r.status(), reqwest::StatusCode::OK);
    let (stop, worker) = app.start_worker();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while seen.lock().expect("lock").calls.len() < 2 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let calls = std::mem::take(&mut seen.lock().expect("lock").calls);
    assert_eq!(calls.len(), 2, "one failed delivery, then its retry");
    for (signature, event, body) in &calls {
        assert_eq!(event, "application.status_changed");
        assert_eq!(signature, &nightpermit_worker::notify::signature("hook-secret", body), "signed with the secret");
    }
    assert_eq!(calls[0].2, calls[1].2, "the retry sends the same event");
    let body: Value = serde_json::from_slice(&calls[1].2).expect("json");
    assert_eq!((body["subject"].as_str(), body["subject_id"].as_str()), (Some("application"), Some(id.as_str())));
    assert_eq!((body["from"].as_str(), body["to"].as_str()), (Some("draft"), Some("withdrawn")));
    assert!(body["url"].as_str().is_some_and(|u| u.ends_with(&id)));
    // Nothing personal: no names or phone numbers in an event.
    assert!(!String::from_utf8_lossy(&calls[1].2).contains("13800000000"));
    let log = app.state.store.deliveries(body["id"].as_str().expect("event id")).await.expect("log");
    assert_eq!(log.len(), 2, "{log:?}");
    assert_eq!((log[0].delivered, log[0].http_status), (0, Some(500)));
    assert_eq!((log[1].delivered, log[1].http_status), (1, Some(204)));
    // A complaint moving is announced too, without the complainant's contact.
    let night = (chrono::Utc::now() - chrono::Duration::hours(2)).to_rfc3339();
    let filed = app
        .post_json(
            "/api/v1/complaints",
            None,
            &serde_json::json!({"district": "jingan", "address": "静安区另一路8号", "occurred_at": night,
                "description": "夜里很吵", "contact": {"name": "李四", "phone": "13911112222"}}),
        )
        .await;
    assert_eq!(filed.status(), reqwest::StatusCode::CREATED, "{}", filed.text().await.unwrap_or_default());
    let reference = filed.json::<Value>().await.expect("json")["reference"].as_str().expect("reference").to_string();
    let inspector = app.staff("notify-inspector", "inspector", None, Some("jingan")).await;
    let r = app
        .post_json(
            &format!("/api/v1/complaints/{reference}/steps"),
            Some(&inspector),
            &serde_json::json!({"step": "contacted"}),
        )
        .await;
    assert!(r.status().is_success(), "{}", r.text().await.unwrap_or_default());
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let complaint_call = loop {
        let found = seen.lock().expect("lock").calls.iter().find(|c| c.1 == "complaint.step_recorded").cloned();
        if found.is_some() || std::time::Instant::now() > deadline {
            break found;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let (_, _, body) = complaint_call.expect("the complaint step was announced");
    let body: Value = serde_json::from_slice(&body).expect("json");
    assert_eq!((body["subject"].as_str(), body["subject_id"].as_str()), (Some("complaint"), Some(reference.as_str())));
    assert_eq!((body["from"].as_str(), body["to"].as_str()), (Some("received"), Some("contacted")));
    assert!(!body.to_string().contains("13911112222") && !body.to_string().contains("李四"));
    let _ = stop.send(());
    let _ = worker.await;
}

#[tokio::test]
async fn status_changes_reach_webhooks_sqlite() {
    status_change_reaches_the_webhook(Db::Sqlite).await;
}

#[tokio::test]
async fn status_changes_reach_webhooks_postgres() {
    status_change_reaches_the_webhook(Db::Postgres).await;
}
