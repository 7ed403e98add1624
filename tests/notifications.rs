//! Events out: a status change reaches a webhook receiver started by the test, signed, and is
//! retried after the receiver fails; the people a change concerns are mailed through an SMTP
//! sink the test starts, again after a refusal; every attempt is in the delivery log. Both
//! backends.
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

/// One mail as the sink took it: envelope and the raw DATA.
#[derive(Clone, Debug)]
struct SunkMail {
    rcpt: Vec<String>,
    data: String,
}

#[derive(Default)]
struct SinkState {
    mails: Vec<SunkMail>,
    /// Transactions still to refuse with 451 at MAIL FROM (a relay that is busy).
    refuse: u32,
    refused: u32,
}

/// A tiny SMTP server: enough of RFC 5321 for one client (EHLO/HELO, MAIL, RCPT, DATA, RSET,
/// NOOP, QUIT), keeping what it receives; it refuses the first `refuse` transactions.
async fn smtp_sink(refuse: u32) -> (u16, Arc<Mutex<SinkState>>) {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let state = Arc::new(Mutex::new(SinkState { refuse, ..SinkState::default() }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let shared = state.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let state = shared.clone();
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut lines = BufReader::new(read).lines();
                let mut rcpt = Vec::new();
                if write.write_all(b"220 sink.test ESMTP\r\n").await.is_err() {
                    return;
                }
                while let Ok(Some(line)) = lines.next_line().await {
                    let verb = line.get(..4).unwrap_or(&line).to_ascii_uppercase();
                    let reply: &[u8] = match verb.as_str() {
                        "EHLO" => b"250-sink.test\r\n250 8BITMIME\r\n",
                        "HELO" | "NOOP" => b"250 ok\r\n",
                        "RSET" => {
                            rcpt.clear();
                            b"250 ok\r\n"
                        }
                        "MAIL" => {
                            let mut s = state.lock().expect("lock");
                            if s.refuse > 0 {
                                s.refuse -= 1;
                                s.refused += 1;
                                b"451 4.3.0 busy, try again later\r\n"
                            } else {
                                b"250 ok\r\n"
                            }
                        }
                        "RCPT" => {
                            let to = line.split_once(':').map(|(_, a)| a.trim()).unwrap_or("");
                            rcpt.push(to.trim_start_matches('<').split('>').next().unwrap_or("").to_string());
                            b"250 ok\r\n"
                        }
                        "DATA" => {
                            if write.write_all(b"354 end with <CRLF>.<CRLF>\r\n").await.is_err() {
                                return;
                            }
                            let mut data = String::new();
                            while let Ok(Some(l)) = lines.next_line().await {
                                if l == "." {
                                    break;
                                }
                                // Undo the dot-stuffing.
                                data.push_str(l.strip_prefix('.').filter(|_| l.starts_with("..")).unwrap_or(&l));
                                data.push('\n');
                            }
                            state.lock().expect("lock").mails.push(SunkMail { rcpt: std::mem::take(&mut rcpt), data });
                            b"250 2.0.0 queued\r\n"
                        }
                        "QUIT" => {
                            let _ = write.write_all(b"221 bye\r\n").await;
                            return;
                        }
                        _ => b"502 5.5.2 not implemented\r\n",
                    };
                    if write.write_all(reply).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (port, state)
}

/// A header of a received mail, unfolded, its RFC 2047 encoded words decoded.
fn mail_header(data: &str, name: &str) -> Option<String> {
    use base64::Engine;
    let head = data.split("\n\n").next().unwrap_or("");
    let unfolded = head.replace("\n ", " ").replace("\n\t", " ");
    let value = unfolded.lines().find_map(|l| {
        l.split_once(':').filter(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.trim().to_string())
    })?;
    let mut bytes = Vec::new();
    // Whitespace between two encoded words is folding, not text (RFC 2047 §6.2).
    let mut last_encoded = None;
    for word in value.split_whitespace() {
        let encoded = word
            .strip_prefix("=?utf-8?b?")
            .or_else(|| word.strip_prefix("=?UTF-8?B?"))
            .and_then(|w| w.strip_suffix("?="));
        if last_encoded.is_some() && !(last_encoded == Some(true) && encoded.is_some()) {
            bytes.push(b' ');
        }
        match encoded {
            Some(b64) => bytes.extend(base64::engine::general_purpose::STANDARD.decode(b64).expect("base64 word")),
            None => bytes.extend(word.as_bytes()),
        }
        last_encoded = Some(encoded.is_some());
    }
    Some(String::from_utf8(bytes).expect("utf-8 header"))
}

/// The text body of a received mail (the sender writes it base64).
fn mail_body(data: &str) -> String {
    use base64::Engine;
    let (_, body) = data.split_once("\n\n").expect("a body");
    let b64: String = body.split_whitespace().collect();
    String::from_utf8(base64::engine::general_purpose::STANDARD.decode(b64).expect("base64 body")).expect("utf-8")
}

/// Waits until the sink holds a mail whose subject contains `subject`.
async fn mail_with(sink: &Arc<Mutex<SinkState>>, subject: &str) -> SunkMail {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let found = sink
            .lock()
            .expect("lock")
            .mails
            .iter()
            .find(|m| mail_header(&m.data, "subject").is_some_and(|s| s.contains(subject)))
            .cloned();
        if let Some(m) = found {
            return m;
        }
        assert!(std::time::Instant::now() < deadline, "no mail with subject {subject:?} arrived");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn people_are_mailed(db: Db) {
    let (port, sink) = smtp_sink(1).await;
    let mut settings = common::fresh_settings(db).await;
    settings.server.public_base_url = "https://permits.example".into();
    settings.notifications.retry_base_secs = 1;
    let email = &mut settings.notifications.email;
    email.enabled = true;
    email.smtp_host = "127.0.0.1".into();
    email.smtp_port = port;
    email.tls = nightpermit_cases::config::SmtpTls::None;
    email.from = "noreply@nightpermit.test".into();
    let app = TestApp::start(settings).await;

    // A malformed address is refused with its own code, at registration and with a complaint.
    let code = nightpermit_domain::CreditCode::complete("91310100000000601").expect("code").to_string();
    let mut firm = serde_json::json!({"credit_code": code, "name": "上海邮件测试建设有限公司", "password": "night-permit-1",
        "contact_name": "张三", "contact_phone": "13800000000", "contact_email": "not-an-address"});
    common::field_error(app.post_json("/api/v1/firms", None, &firm).await, "contact_email", "INVALID_EMAIL").await;
    firm["contact_email"] = "office@firm.example".into();
    let r = app.post_json("/api/v1/firms", None, &firm).await;
    assert_eq!(r.status(), reqwest::StatusCode::CREATED, "{}", r.text().await.unwrap_or_default());
    let token = app.login(&code, "night-permit-1").await;

    // The pre-review answers: the firm is mailed, after the relay refused the first attempt.
    let id = app.create_application(&token, &common::example_form()).await["id"].as_str().expect("id").to_string();
    assert_eq!(app.submit(&token, &id, None).await.status(), reqwest::StatusCode::ACCEPTED);
    app.finish_for_review(&id, "[\"需人工审核\"]".into(), "[]".into(), None).await;
    let (stop, worker) = app.start_worker();
    let mail = mail_with(&sink, "预审通过").await;
    assert_eq!(mail.rcpt, ["office@firm.example"]);
    assert_eq!(mail_header(&mail.data, "subject").as_deref(), Some("【夜间施工许可】预审通过，已转两部门审核"));
    let body = mail_body(&mail.data);
    assert!(body.contains(&id) && body.contains(&format!("https://permits.example/applications/{id}")), "{body}");
    for personal in ["张三", "13800000000", "上海邮件测试建设有限公司"] {
        assert!(!mail.data.contains(personal) && !body.contains(personal), "{personal} in the mail");
    }
    assert_eq!(sink.lock().expect("lock").refused, 1, "the first attempt was refused");
    // Both attempts are in the delivery log, addressed mailto:, with the relay's reply codes.
    let message_id = mail_header(&mail.data, "message-id").expect("a Message-ID");
    let event_id = message_id
        .trim_matches(|c| c == '<' || c == '>')
        .strip_prefix("mail-")
        .and_then(|rest| rest.split_once("-applicant@"))
        .map(|(event, _)| event.to_string())
        .expect("the Message-ID names the mail job");
    let log = app.state.store.deliveries(&event_id).await.expect("log");
    let mails: Vec<_> = log.iter().filter(|d| d.target == "mailto:office@firm.example").collect();
    assert_eq!(mails.len(), 2, "{log:?}");
    assert_eq!((mails[0].delivered, mails[0].http_status), (0, Some(451)));
    assert_eq!((mails[1].delivered, mails[1].http_status), (1, Some(250)));

    // A department decides: the firm hears it, though the other department has not decided.
    let reviewer = app.staff("mail-jc", "reviewer", Some("construction"), Some("jingan")).await;
    let r = app
        .post_json(
            &format!("/api/v1/review/tasks/{id}-construction/decision"),
            Some(&reviewer),
            &serde_json::json!({"outcome": "approve"}),
        )
        .await;
    assert_eq!(r.status(), reqwest::StatusCode::OK, "{}", r.text().await.unwrap_or_default());
    let mail = mail_with(&sink, "审核意见").await;
    assert_eq!(mail_header(&mail.data, "subject").as_deref(), Some("【夜间施工许可】建设管理委员会审核意见：同意"));
    assert_eq!(mail.rcpt, ["office@firm.example"]);

    // A complaint with an address: its complainant is mailed when a step is recorded, and the
    // public view of the complaint does not show the address.
    let night = (chrono::Utc::now() - chrono::Duration::hours(2)).to_rfc3339();
    let mut complaint = serde_json::json!({"district": "jingan", "address": "静安区另一路8号", "occurred_at": night,
        "description": "夜里很吵", "contact": {"name": "李四", "email": "li@@resident"}});
    common::field_error(app.post_json("/api/v1/complaints", None, &complaint).await, "contact.email", "INVALID_EMAIL")
        .await;
    complaint["contact"]["email"] = "li.si@resident.example".into();
    let filed = app.post_json("/api/v1/complaints", None, &complaint).await;
    assert_eq!(filed.status(), reqwest::StatusCode::CREATED, "{}", filed.text().await.unwrap_or_default());
    let reference = filed.json::<Value>().await.expect("json")["reference"].as_str().expect("reference").to_string();
    let public = app.get(&format!("/api/v1/complaints/{reference}"), None).await.text().await.expect("text");
    assert!(!public.contains("li.si@resident.example") && !public.contains("李四"), "{public}");
    let inspector = app.staff("mail-inspector", "inspector", None, Some("jingan")).await;
    let r = app
        .post_json(
            &format!("/api/v1/complaints/{reference}/steps"),
            Some(&inspector),
            &serde_json::json!({"step": "contacted"}),
        )
        .await;
    assert!(r.status().is_success(), "{}", r.text().await.unwrap_or_default());
    let mail = mail_with(&sink, &format!("投诉 {reference}")).await;
    assert_eq!(mail.rcpt, ["li.si@resident.example"]);
    assert_eq!(
        mail_header(&mail.data, "subject").as_deref(),
        Some(format!("【夜间施工许可】投诉 {reference} 进展：联系投诉人").as_str())
    );
    let body = mail_body(&mail.data);
    assert!(body.contains(&format!("https://permits.example/complaints/{reference}")), "{body}");
    assert!(!body.contains("李四") && !body.contains("夜里很吵"), "{body}");
    // Each event was mailed once: three mails, no duplicates from the retry.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(sink.lock().expect("lock").mails.len(), 3);
    let _ = stop.send(());
    let _ = worker.await;
}

#[tokio::test]
async fn people_are_mailed_sqlite() {
    people_are_mailed(Db::Sqlite).await;
}

#[tokio::test]
async fn people_are_mailed_postgres() {
    people_are_mailed(Db::Postgres).await;
}
