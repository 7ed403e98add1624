//! Events out: a case's status change is queued as an event job in the same transaction as the
//! change (the store's outbox); the worker fans each event out into one delivery job per
//! configured webhook, so each receiver is retried on its own with back-off, and every attempt
//! lands in the delivery log. Secrets stay in configuration, never in the job table. The same
//! fan-out queues the mails (`crate::mail`) for the people an event concerns.

use anyhow::Context;
use hmac::{Hmac, Mac};
use nightpermit_cases::config::{NotificationSettings, Webhook};
use nightpermit_cases::Cases;
use nightpermit_store::{DeliveryRecord, EventPayload, JobRecord, JOB_KIND_WEBHOOK};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// One event for one receiver, as the delivery job carries it.
#[derive(Debug, Serialize, Deserialize)]
struct Delivery {
    event: EventPayload,
    url: String,
}

/// The body a receiver gets: the event and where to read its subject (no personal data).
#[derive(Debug, Serialize)]
struct EventBody<'a> {
    #[serde(flatten)]
    event: &'a EventPayload,
    url: String,
}

/// `sha256=<hex>` of the body under the webhook's secret.
pub fn signature(secret: &str, body: &[u8]) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(m) => m,
        Err(_) => return String::new(),
    };
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// An event job: one delivery job per webhook (ids derived from the event, so a fan-out redone
/// after a crash queues nothing twice), then done.
pub async fn fan_out(state: &Cases, worker_id: &str, job: &JobRecord) -> anyhow::Result<()> {
    let event: EventPayload = serde_json::from_str(&job.payload).context("event payload")?;
    let n = &state.settings.notifications;
    for (i, hook) in n.webhooks.iter().enumerate() {
        let payload = serde_json::to_string(&Delivery { event: event.clone(), url: hook.url.clone() })?;
        let id = format!("webhook-{}-{i}", event.id);
        state.store.enqueue_job(&id, JOB_KIND_WEBHOOK, &payload, n.max_attempts.max(1), state.clock.now_ms()).await?;
    }
    crate::mail::queue(state, &event).await?;
    state.store.complete_job(&job.id, worker_id, state.clock.now_ms()).await?;
    Ok(())
}

/// A delivery job: POST the signed event; 2xx completes it, anything else is retried later.
pub async fn deliver(state: &Cases, worker_id: &str, job: &JobRecord) -> anyhow::Result<()> {
    let d: Delivery = serde_json::from_str(&job.payload).context("delivery payload")?;
    let n = &state.settings.notifications;
    let Some(hook) = n.webhooks.iter().find(|w: &&Webhook| w.url == d.url) else {
        // The receiver was removed from the configuration: nothing to send it any more.
        tracing::warn!(url = %d.url, "webhook no longer configured; delivery dropped");
        state.store.complete_job(&job.id, worker_id, state.clock.now_ms()).await?;
        return Ok(());
    };
    let base = state.settings.server.public_base_url.trim_end_matches('/');
    let url = match d.event.subject.as_str() {
        "complaint" => format!("{base}/api/v1/complaints/{}", d.event.subject_id),
        _ => format!("{base}/api/v1/applications/{}", d.event.subject_id),
    };
    let body = serde_json::to_vec(&EventBody { event: &d.event, url })?;
    // One client for all deliveries: its connection pool and TLS set-up are reused.
    static CLIENT: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    let client = CLIENT.get_or_init(reqwest::Client::new);
    let sent = client
        .post(&hook.url)
        .timeout(std::time::Duration::from_secs(n.timeout_secs.max(1)))
        .header("content-type", "application/json")
        .header("x-nightpermit-event", &d.event.event)
        .header("x-nightpermit-delivery", &job.id)
        .header("x-nightpermit-signature", signature(&hook.secret, &body))
        .body(body)
        .send()
        .await;
    let (http_status, error) = match &sent {
        Ok(r) => {
            (Some(i64::from(r.status().as_u16())), (!r.status().is_success()).then(|| format!("HTTP {}", r.status())))
        }
        Err(e) => (None, Some(e.to_string())),
    };
    let now = state.clock.now_ms();
    state
        .store
        .record_delivery(&DeliveryRecord {
            id: uuid::Uuid::now_v7().to_string(),
            event_id: d.event.id.clone(),
            event: d.event.event.clone(),
            target: d.url.clone(),
            attempt: job.attempts,
            http_status,
            error: error.clone(),
            delivered: i64::from(error.is_none()),
            at: now,
        })
        .await?;
    match error {
        None => {
            state.store.complete_job(&job.id, worker_id, now).await?;
        }
        Some(e) => {
            tracing::warn!(url = %d.url, attempt = job.attempts, error = %e, "webhook delivery failed; will retry");
            state.store.fail_job(&job.id, worker_id, &e, now, backoff_until(n, job.attempts, now)).await?;
        }
    }
    Ok(())
}

/// When a delivery that failed its `attempts`-th try is tried again: the n-th retry waits
/// retry_base_secs × 2^(n-1), at most an hour. Shared by webhooks and mails.
pub(crate) fn backoff_until(n: &NotificationSettings, attempts: i64, now: i64) -> i64 {
    let exp = u32::try_from(attempts.saturating_sub(1).clamp(0, 16)).unwrap_or(16);
    let wait_secs = n.retry_base_secs.saturating_mul(1u64 << exp).min(3600);
    now + i64::try_from(wait_secs * 1000).unwrap_or(3_600_000)
}

#[cfg(test)]
mod tests {
    #[test]
    fn signatures_are_hmac_sha256_of_the_body() {
        // RFC 4231 test case 2.
        assert_eq!(
            super::signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
