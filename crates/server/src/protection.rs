//! What keeps one client from taking the service from everyone else: per-client rate limits by
//! kind of endpoint, a growing lock on an account after repeated wrong passwords, a bounded pool
//! for password hashing (argon2 takes ~19 MiB per hash: a burst must queue, not allocate),
//! refusals of oversized URIs and headers, and the response headers every answer carries.

use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use nightpermit_cases::config::AbuseSettings;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Mutex};
use std::time::{Duration, Instant};

/// Kinds of endpoint with a rate limit of their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limited {
    SignIn,
    Register,
    Verify,
    /// Public reads: permit lookups, the night list, the register.
    Public,
    Complaint,
}

impl Limited {
    /// The limit a request falls under, if any.
    pub fn of(method: &Method, path: &str) -> Option<Limited> {
        match (method, path) {
            (&Method::POST, "/api/v1/sessions") | (&Method::POST, "/login") => Some(Limited::SignIn),
            (&Method::POST, "/api/v1/firms") | (&Method::POST, "/register") => Some(Limited::Register),
            (&Method::POST, "/api/v1/verify") | (&Method::POST, "/verify") => Some(Limited::Verify),
            // Only the public filing: the inspectors' step endpoints below it are signed in and
            // must not share the residents' five-a-minute allowance.
            (&Method::POST, "/api/v1/complaints") | (&Method::POST, "/complaints") => Some(Limited::Complaint),
            (&Method::GET, p)
                if p.starts_with("/api/v1/permits")
                    || p.starts_with("/api/v1/register")
                    || p.starts_with("/api/v1/complaints/")
                    || p.starts_with("/p/")
                    || p.starts_with("/night/") =>
            {
                Some(Limited::Public)
            }
            _ => None,
        }
    }
}

fn quota(per_minute: u32, burst: u32) -> Quota {
    let per_minute = NonZeroU32::new(per_minute.max(1)).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new(burst.max(1)).unwrap_or(NonZeroU32::MIN);
    Quota::per_minute(per_minute).allow_burst(burst)
}

/// Consecutive failures of one login and until when it is locked.
#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    locked_until: Option<Instant>,
    last: Instant,
}

/// A sign-in refused before the password is even checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Locked {
    pub retry_after: Duration,
}

pub struct Protection {
    settings: AbuseSettings,
    limiters: Vec<(Limited, DefaultKeyedRateLimiter<IpAddr>)>,
    checks: AtomicU64,
    failures: Mutex<HashMap<String, Failures>>,
    password_jobs: mpsc::SyncSender<Box<dyn FnOnce() + Send>>,
}

impl Protection {
    pub fn new(settings: &AbuseSettings) -> Self {
        let limiters = [
            (Limited::SignIn, quota(settings.sign_in_per_minute, settings.sign_in_burst)),
            (Limited::Register, quota(settings.register_per_minute, settings.register_burst)),
            (Limited::Verify, quota(settings.verify_per_minute, settings.verify_burst)),
            (Limited::Public, quota(settings.public_per_minute, settings.public_burst)),
            (Limited::Complaint, quota(settings.complaint_per_minute, settings.complaint_burst)),
        ]
        .into_iter()
        .map(|(kind, q)| (kind, RateLimiter::keyed(q)))
        .collect();
        Protection {
            settings: settings.clone(),
            limiters,
            checks: AtomicU64::new(0),
            failures: Mutex::new(HashMap::new()),
            password_jobs: password_pool(settings.password_threads, settings.password_queue),
        }
    }

    /// `Err(wait)` if `client` has used up its allowance for `kind`.
    pub fn check_rate(&self, kind: Limited, client: IpAddr) -> Result<(), Duration> {
        // The keyed stores grow with every client seen; forget idle ones now and then.
        if self.checks.fetch_add(1, Ordering::Relaxed) % 4096 == 4095 {
            for (_, l) in &self.limiters {
                l.retain_recent();
            }
        }
        let Some((_, limiter)) = self.limiters.iter().find(|(k, _)| *k == kind) else { return Ok(()) };
        limiter.check_key(&client).map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }

    /// `Err` while `login` is locked after repeated wrong passwords.
    pub fn check_login(&self, login: &str) -> Result<(), Locked> {
        let now = Instant::now();
        let failures = self.failures.lock().map_err(|_| Locked { retry_after: Duration::from_secs(1) })?;
        match failures.get(login).and_then(|f| f.locked_until) {
            Some(until) if until > now => Err(Locked { retry_after: until - now }),
            _ => Ok(()),
        }
    }

    /// Counts a wrong password; returns the lock it starts, if this failure locks the login.
    /// Each failure past the threshold doubles the lock, up to the configured maximum.
    pub fn login_failed(&self, login: &str) -> Option<Locked> {
        let now = Instant::now();
        let mut failures = self.failures.lock().ok()?;
        if failures.len() > 100_000 {
            // Bounded memory under a spray of made-up logins: keep only what still locks.
            failures.retain(|_, f| f.locked_until.is_some_and(|u| u > now) || now - f.last < Duration::from_secs(900));
        }
        let entry = failures.entry(login.to_string()).or_insert(Failures { count: 0, locked_until: None, last: now });
        entry.count += 1;
        entry.last = now;
        let over = entry.count.checked_sub(self.settings.lockout_after_failures)?;
        let secs = self
            .settings
            .lockout_base_secs
            .saturating_mul(1u64 << over.min(20))
            .min(self.settings.lockout_max_secs)
            .max(1);
        let lock = Duration::from_secs(secs);
        entry.locked_until = Some(now + lock);
        Some(Locked { retry_after: lock })
    }

    pub fn login_succeeded(&self, login: &str) {
        if let Ok(mut failures) = self.failures.lock() {
            failures.remove(login);
        }
    }

    /// Runs a password hash or check on the bounded pool: at most `password_threads` at once, at
    /// most `password_queue` waiting; beyond that the request is shed with 503.
    pub async fn password_job<T: Send + 'static>(
        &self,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let task: Box<dyn FnOnce() + Send> = Box::new(move || {
            let _ = tx.send(job());
        });
        self.password_jobs.try_send(task).map_err(|_| busy())?;
        rx.await.map_err(|_| ApiError::internal(anyhow::anyhow!("password worker ended")))
    }
}

/// A fixed set of threads for argon2, fed through a bounded queue. Fixed threads also keep the
/// allocator's arenas few: per-request blocking threads each kept their own 19 MiB blocks.
fn password_pool(threads: usize, queue: usize) -> mpsc::SyncSender<Box<dyn FnOnce() + Send>> {
    let (tx, rx) = mpsc::sync_channel::<Box<dyn FnOnce() + Send>>(queue.max(1));
    let rx = std::sync::Arc::new(Mutex::new(rx));
    let threads = if threads == 0 { std::thread::available_parallelism().map_or(2, |n| n.get()) } else { threads };
    for i in 0..threads {
        let rx = rx.clone();
        let spawned = std::thread::Builder::new().name(format!("password-{i}")).spawn(move || loop {
            let job = match rx.lock() {
                Ok(guard) => guard.recv(),
                Err(_) => return,
            };
            match job {
                Ok(job) => job(),
                Err(_) => return,
            }
        });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "cannot start a password thread");
        }
    }
    tx
}

pub fn busy() -> ApiError {
    ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "SERVER_BUSY", "服务繁忙，请稍后重试")
        .retry_after(Duration::from_secs(1))
}

pub fn rate_limited(wait: Duration) -> ApiError {
    ApiError::new(StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED", "请求过于频繁，请稍后再试").retry_after(wait)
}

/// The client's address: the TCP peer (a deployment behind a proxy limits at the proxy).
fn client_ip(req: &Request) -> IpAddr {
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
}

/// Per-client rate limits by kind of endpoint (429 problem+json with `Retry-After`).
pub async fn rate_limit(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if let Some(kind) = Limited::of(req.method(), req.uri().path()) {
        if let Err(wait) = state.protection.check_rate(kind, client_ip(&req)) {
            tracing::warn!(?kind, client = %client_ip(&req), "rate limited");
            return rate_limited(wait).into_response();
        }
    }
    next.run(req).await
}

/// URI and header sizes far beyond any real client: 414 and 431 as problem+json (hyper's own
/// refusals, further out, carry no body).
pub async fn size_guard(req: Request, next: Next) -> Response {
    const MAX_URI: usize = 4096;
    const MAX_HEADERS: usize = 32 * 1024;
    if req.uri().to_string().len() > MAX_URI {
        return ApiError::new(StatusCode::URI_TOO_LONG, "URI_TOO_LONG", "请求地址过长").into_response();
    }
    let header_bytes: usize = req.headers().iter().map(|(k, v)| k.as_str().len() + v.len() + 4).sum();
    if header_bytes > MAX_HEADERS {
        return ApiError::new(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, "HEADERS_TOO_LARGE", "请求头过大")
            .into_response();
    }
    next.run(req).await
}

/// Pages and API answers carry these: no sniffing, no framing, no inline script, no referrer
/// leaking case ids to other sites; and nothing that depends on who asked is cached.
pub async fn security_headers(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let personal = req.headers().contains_key(header::AUTHORIZATION)
        || req.headers().contains_key(header::COOKIE)
        || (req.method() == Method::POST && req.uri().path() == "/api/v1/sessions");
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
        ),
    );
    if state.settings.server.public_base_url.starts_with("https://") {
        h.insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static("max-age=31536000; includeSubDomains"));
    }
    // A handler may let the browser alone keep what it answered (`private`: a material's page
    // images, checked for access on every request); everything else personal is not stored.
    let private = h
        .get(header::CACHE_CONTROL)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|d| d.trim() == "private"));
    if personal && !private {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    res
}
