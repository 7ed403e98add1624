//! Mail to the people a change concerns: the firm when the pre-review has answered, when a
//! department decides and when the permit is issued (or revoked); the complainant each time the
//! complaint moves. The fan-out queues one mail job per recipient, the job carries the event and
//! who it is for but never the address: that is read when the mail is sent, so an address
//! removed meanwhile is not mailed. Subject and body are Chinese, carry the case reference and a
//! link under `public_base_url`, and nothing else personal.

use crate::notify::backoff_until;
use anyhow::Context;
use lettre::message::header::ContentTransferEncoding;
use lettre::message::{header::ContentType, Body, Mailbox};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use nightpermit_cases::config::{EmailSettings, SmtpTls};
use nightpermit_cases::Cases;
use nightpermit_domain::{ComplaintStep, Department, TrackStatus};
use nightpermit_store::{DeliveryRecord, EventPayload, JobRecord, JOB_KIND_MAIL};
use serde::{Deserialize, Serialize};

/// Whom a mail is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Recipient {
    /// The firm that applied (its registration's `contact_email`).
    Applicant,
    /// Whoever filed the complaint (its `contact.email`).
    Complainant,
}

impl Recipient {
    fn id(self) -> &'static str {
        match self {
            Recipient::Applicant => "applicant",
            Recipient::Complainant => "complainant",
        }
    }
}

/// One event for one person, as the mail job carries it.
#[derive(Debug, Serialize, Deserialize)]
struct MailJob {
    event: EventPayload,
    recipient: Recipient,
}

/// A composed mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Letter {
    pub subject: String,
    pub body: String,
}

const SUBJECT_PREFIX: &str = "【夜间施工许可】";

/// Who hears of `event`, if anyone: the changes the firm did not cause itself, and every step of
/// a complaint.
pub fn concerns(event: &EventPayload) -> Option<Recipient> {
    compose(event, "", None).map(|(r, _)| r)
}

/// The mail for `event`, or `None` when it concerns nobody by mail. `base` is the public base
/// URL; `permit_number` is the issued permit's, when known.
pub fn compose(event: &EventPayload, base: &str, permit_number: Option<&str>) -> Option<(Recipient, Letter)> {
    let base = base.trim_end_matches('/');
    let letter = |subject: String, news: String, link: String| Letter {
        subject: format!("{SUBJECT_PREFIX}{subject}"),
        body: format!(
            "您好：\n\n{news}\n\n查看详情：{link}\n\n此邮件由系统自动发送，请勿直接回复。\n上海市夜间施工许可服务\n"
        ),
    };
    match (event.event.as_str(), event.subject.as_str()) {
        ("application.status_changed", "application") => {
            let id = &event.subject_id;
            let link = format!("{base}/applications/{id}");
            let (subject, news) = match (event.from.as_str(), event.to.as_str()) {
                ("prereview", "needs_correction") => (
                    "预审结果：材料需要补正".to_string(),
                    format!("您的夜间施工申请（编号 {id}）已完成智能预审，材料需要补正。请登录查看预审意见，补正后重新提交。"),
                ),
                ("prereview", "under_review") => (
                    "预审通过，已转两部门审核".to_string(),
                    format!("您的夜间施工申请（编号 {id}）已通过智能预审，已同时转建设管理和生态环境两部门审核。"),
                ),
                ("prereview", "approved") => (
                    "预审通过，已批准".to_string(),
                    format!("您的夜间施工申请（编号 {id}）已通过智能预审并获批准，许可证正在盖章，签发后将另行通知。"),
                ),
                ("prereview", "rejected") => (
                    "预审结果：未予批准".to_string(),
                    format!("您的夜间施工申请（编号 {id}）经智能预审未予批准。请登录查看原因。"),
                ),
                (_, "issued") => {
                    let number = permit_number.map(|n| format!("（许可证编号 {n}）")).unwrap_or_default();
                    (
                        "夜间施工许可证已签发".to_string(),
                        format!("您的夜间施工申请（编号 {id}）已签发许可证{number}，请下载并在工地公示。"),
                    )
                }
                (_, "revoked") => (
                    "夜间施工许可证已撤销".to_string(),
                    format!("您的夜间施工申请（编号 {id}）的许可证已被撤销，请立即停止夜间施工。请登录查看原因。"),
                ),
                // The firm's own steps (submit, withdraw, dispute), expiry, and the combined
                // result of both departments, which the department mails already announce.
                _ => return None,
            };
            Some((Recipient::Applicant, letter(subject, news, link)))
        }
        ("application.track_decided", "application") => {
            let id = &event.subject_id;
            let department = event.department.as_deref()?.parse::<Department>().ok()?;
            let decided = event.to.parse::<TrackStatus>().ok().filter(|s| *s != TrackStatus::Pending)?;
            let subject = format!("{}审核意见：{}", department.label(), decided.label());
            let news = format!(
                "{}已对您的夜间施工申请（编号 {id}）作出审核决定：{}。请登录查看审核意见。",
                department.label(),
                decided.label()
            );
            Some((Recipient::Applicant, letter(subject, news, format!("{base}/applications/{id}"))))
        }
        ("complaint.step_recorded", "complaint") => {
            let reference = &event.subject_id;
            let step = event.to.parse::<ComplaintStep>().ok()?;
            let subject = format!("投诉 {reference} 进展：{}", step.label());
            let news = match step {
                ComplaintStep::Concluded => format!("您的投诉（查询编号 {reference}）已办结，处理结论可凭编号查看。"),
                _ => format!("您的投诉（查询编号 {reference}）已完成“{}”环节。", step.label()),
            };
            Some((Recipient::Complainant, letter(subject, news, format!("{base}/complaints/{reference}"))))
        }
        _ => None,
    }
}

/// The recipient's address as on record now, if they gave one.
async fn address(state: &Cases, event: &EventPayload, recipient: Recipient) -> anyhow::Result<Option<String>> {
    Ok(match recipient {
        Recipient::Applicant => match state.store.application(&event.subject_id).await? {
            Some(app) => state.store.firm_by_id(&app.firm_id).await?.and_then(|f| f.contact_email),
            None => None,
        },
        Recipient::Complainant => state.store.complaint(&event.subject_id).await?.and_then(|c| c.contact_email),
    })
}

/// Part of the fan-out: one mail job for the person `event` concerns, if they gave an address.
/// The job id is derived from the event and the recipient, so a fan-out redone after a crash
/// queues nothing twice.
pub async fn queue(state: &Cases, event: &EventPayload) -> anyhow::Result<()> {
    let n = &state.settings.notifications;
    if !n.email.enabled {
        return Ok(());
    }
    let Some(recipient) = concerns(event) else {
        return Ok(());
    };
    if address(state, event, recipient).await?.is_none() {
        return Ok(());
    }
    let payload = serde_json::to_string(&MailJob { event: event.clone(), recipient })?;
    let id = format!("mail-{}-{}", event.id, recipient.id());
    state.store.enqueue_job(&id, JOB_KIND_MAIL, &payload, n.max_attempts.max(1), state.clock.now_ms()).await?;
    Ok(())
}

/// The SMTP transport as configured. Built per mail: mails are few, and a relay that dropped
/// an idle connection is then never a failed attempt.
fn transport(e: &EmailSettings, timeout_secs: u64) -> anyhow::Result<AsyncSmtpTransport<Tokio1Executor>> {
    let host = e.smtp_host.trim();
    let tls = match e.tls {
        SmtpTls::None => Tls::None,
        SmtpTls::Starttls => Tls::Required(TlsParameters::new(host.to_string()).context("TLS parameters")?),
        SmtpTls::Tls => Tls::Wrapper(TlsParameters::new(host.to_string()).context("TLS parameters")?),
    };
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
        .port(e.smtp_port)
        .tls(tls)
        .timeout(Some(std::time::Duration::from_secs(timeout_secs.max(1))));
    if let (Some(user), Some(password)) = (&e.username, &e.password) {
        builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
    }
    Ok(builder.build())
}

/// The message itself. The body is base64: Chinese text survives any relay unchanged.
fn message(e: &EmailSettings, to: &str, letter: &Letter, job_id: &str) -> anyhow::Result<Message> {
    let from = Mailbox::new(Some(e.from_name.clone()), e.from.parse().context("notifications.email.from")?);
    let to = Mailbox::new(None, to.parse().context("recipient address")?);
    // The job id names the message, so a resent attempt is recognisably the same mail.
    let domain = e.from.rsplit_once('@').map_or("nightpermit", |(_, d)| d);
    Message::builder()
        .from(from)
        .to(to)
        .subject(letter.subject.clone())
        .message_id(Some(format!("<{job_id}@{domain}>")))
        .header(ContentType::TEXT_PLAIN)
        .body(
            Body::new_with_encoding(letter.body.clone(), ContentTransferEncoding::Base64)
                .map_err(|_| anyhow::anyhow!("body cannot be base64-encoded"))?,
        )
        .context("building the message")
}

/// A mail job: send it through the relay; accepted completes it, anything else is logged and
/// retried with the same back-off as webhooks.
pub async fn deliver(state: &Cases, worker_id: &str, job: &JobRecord) -> anyhow::Result<()> {
    let m: MailJob = serde_json::from_str(&job.payload).context("mail payload")?;
    let n = &state.settings.notifications;
    let now = state.clock.now_ms();
    let give_up = |why: &'static str| async move {
        tracing::warn!(job = %job.id, why, "mail dropped");
        state.store.complete_job(&job.id, worker_id, now).await.map(|_| ())
    };
    if !n.email.enabled {
        return Ok(give_up("e-mail notifications switched off").await?);
    }
    let Some(to) = address(state, &m.event, m.recipient).await? else {
        return Ok(give_up("the recipient no longer has an address").await?);
    };
    let permit = match m.recipient {
        Recipient::Applicant if m.event.to == "issued" => {
            state.store.permit_for_application(&m.event.subject_id).await?.map(|p| p.number)
        }
        _ => None,
    };
    let Some((_, letter)) = compose(&m.event, &state.settings.server.public_base_url, permit.as_deref()) else {
        return Ok(give_up("the event concerns nobody by mail").await?);
    };
    // A message that cannot be built (an address on record that no relay would take) fails
    // the same way every time: logged once, not retried.
    let (sent, retry) = match message(&n.email, &to, &letter, &job.id) {
        Ok(msg) => match transport(&n.email, n.timeout_secs) {
            Ok(t) => (
                t.send(msg).await.map(|r| u16::from(r.code())).map_err(|e| (e.status().map(u16::from), e.to_string())),
                true,
            ),
            Err(e) => (Err((None, format!("{e:#}"))), true),
        },
        Err(e) => (Err((None, format!("{e:#}"))), false),
    };
    let (code, error) = match &sent {
        Ok(code) => (Some(*code), None),
        Err((code, e)) => (*code, Some(e.clone())),
    };
    state
        .store
        .record_delivery(&DeliveryRecord {
            id: uuid::Uuid::now_v7().to_string(),
            event_id: m.event.id.clone(),
            event: m.event.event.clone(),
            target: format!("mailto:{to}"),
            attempt: job.attempts,
            http_status: code.map(i64::from),
            error: error.clone(),
            delivered: i64::from(error.is_none()),
            at: now,
        })
        .await?;
    match error {
        None => {
            state.store.complete_job(&job.id, worker_id, now).await?;
        }
        Some(e) if !retry => {
            tracing::error!(job = %job.id, error = %e, "mail cannot be built; dropped");
            state.store.complete_job(&job.id, worker_id, now).await?;
        }
        Some(e) => {
            tracing::warn!(job = %job.id, attempt = job.attempts, error = %e, "mail not accepted; will retry");
            state.store.fail_job(&job.id, worker_id, &e, now, backoff_until(n, job.attempts, now)).await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(event: &str, subject: &str, from: &str, to: &str, department: Option<&str>) -> EventPayload {
        EventPayload {
            id: "e1".into(),
            event: event.into(),
            subject: subject.into(),
            subject_id: "A1".into(),
            from: from.into(),
            to: to.into(),
            at: 0,
            department: department.map(str::to_string),
        }
    }

    #[test]
    fn the_applicant_hears_of_the_pre_review_the_departments_and_the_permit() {
        let base = "https://permits.example/";
        let (who, l) = compose(
            &event("application.status_changed", "application", "prereview", "needs_correction", None),
            base,
            None,
        )
        .expect("mailed");
        assert_eq!(who, Recipient::Applicant);
        assert_eq!(l.subject, "【夜间施工许可】预审结果：材料需要补正");
        assert!(l.body.contains("编号 A1") && l.body.contains("https://permits.example/applications/A1"), "{}", l.body);
        let (_, l) = compose(
            &event("application.track_decided", "application", "pending", "approved", Some("environment")),
            base,
            None,
        )
        .expect("mailed");
        assert_eq!(l.subject, "【夜间施工许可】生态环境局审核意见：同意");
        let (_, l) = compose(
            &event("application.status_changed", "application", "approved", "issued", None),
            base,
            Some("jingan-2026-00001"),
        )
        .expect("mailed");
        assert!(l.body.contains("jingan-2026-00001"));
        // What the firm did itself, and what is announced otherwise, is not mailed.
        for (from, to) in
            [("draft", "prereview"), ("draft", "withdrawn"), ("under_review", "approved"), ("issued", "expired")]
        {
            assert!(concerns(&event("application.status_changed", "application", from, to, None)).is_none(), "{to}");
        }
        assert!(concerns(&event("application.track_decided", "application", "pending", "approved", None)).is_none());
    }

    #[test]
    fn the_complainant_hears_of_every_step() {
        for step in ComplaintStep::ALL {
            let (who, l) =
                compose(&event("complaint.step_recorded", "complaint", "x", step.id(), None), "http://h", None)
                    .expect("mailed");
            assert_eq!(who, Recipient::Complainant);
            assert!(l.subject.contains("投诉 A1 进展") && l.body.contains("http://h/complaints/A1"), "{l:?}");
        }
    }
}
