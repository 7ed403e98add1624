//! What a firm typed when its session had ended: a form posted without a live session is kept
//! here for a short while (server-side, under a random id in a short-lived cookie), the
//! browser is sent to sign in, and the page it came from fills the form again with what was
//! posted. Nothing typed is lost to an expiry; nothing is saved either until the firm saves.

use super::session::{cookie_token, secure, PageSession, SignInToContinue};
use crate::auth::token_hash;
use crate::state::AppState;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use cookie::{Cookie, SameSite};
use std::sync::{Mutex, OnceLock};

/// How long a kept form waits for its firm to sign in again.
const KEEP_MS: i64 = 30 * 60 * 1000;
/// Kept forms at most (the oldest goes first); each is one form's fields.
const MAX_KEPT: usize = 500;
/// Largest form body kept. The application form is a few KB; uploads (multipart) are never kept.
const MAX_BODY: usize = 64 * 1024;
/// Fields that belong to the ended session, not to what was typed.
const NOT_KEPT: &[&str] = &["csrf", "idempotency_key"];

struct Kept {
    id: String,
    /// The account whose session ended, when its row was still there: only it gets the form back.
    principal: Option<String>,
    /// The page to fill again (a local path, possibly with a query).
    back: String,
    pairs: Vec<(String, String)>,
    at_ms: i64,
}

fn kept() -> &'static Mutex<Vec<Kept>> {
    static KEPT: OnceLock<Mutex<Vec<Kept>>> = OnceLock::new();
    KEPT.get_or_init(|| Mutex::new(Vec::new()))
}

fn cookie_name(state: &AppState) -> &'static str {
    // As the session cookie: `__Host-` over https so no sibling subdomain can plant one.
    if secure(state) {
        "__Host-np_draft"
    } else {
        "np_draft"
    }
}

fn draft_cookie(state: &AppState, value: &str, max_age: cookie::time::Duration) -> HeaderValue {
    let c = Cookie::build((cookie_name(state), value.to_string()))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure(state))
        .max_age(max_age)
        .build();
    // The id is hex, so the header is always valid; an impossible failure just clears it.
    HeaderValue::from_str(&c.to_string()).unwrap_or(HeaderValue::from_static("np_draft=; Max-Age=0; Path=/"))
}

/// `Set-Cookie` that forgets the kept form's id.
pub fn clear_cookie(state: &AppState) -> HeaderValue {
    draft_cookie(state, "", cookie::time::Duration::ZERO)
}

fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"))
}

/// Middleware over the page routes: a form post from a browser whose session cookie no longer
/// works is buffered (small forms only) and, when the page answers "sign in first", kept.
pub async fn keep_expired_posts(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let session_token = cookie_token(req.headers(), super::session::cookie_name(&state));
    let small = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        .is_some_and(|n| n <= MAX_BODY);
    // Only a browser that had a session can have lost one; without a length the body is not
    // read twice.
    let Some(token) = session_token.filter(|_| req.method() == Method::POST && is_form(req.headers()) && small) else {
        return next.run(req).await;
    };
    let (parts, body) = req.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(e) => {
            return crate::error::ApiError::bad_request("MALFORMED_FORM", format!("表单无法读取：{e}")).into_response()
        }
    };
    let req = Request::from_parts(parts, axum::body::Body::from(bytes.clone()));
    let mut res = next.run(req).await;
    let Some(to) = res.extensions().get::<SignInToContinue>().cloned() else { return res };
    // Only the firm's pages fill a form again; anything else is not worth keeping.
    if !to.back.starts_with("/applications") {
        return res;
    }
    let pairs: Vec<(String, String)> = form_urlencoded::parse(&bytes)
        .filter(|(k, _)| !NOT_KEPT.contains(&k.as_ref()))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    if pairs.is_empty() {
        return res;
    }
    // The ended session's row, if the store still has it, says whose form this is.
    let principal = match state.store.session(&token_hash(&token)).await {
        Ok(s) => s.map(|s| s.session.principal_id),
        Err(e) => {
            tracing::warn!(error = %e, "session lookup for a kept form failed");
            None
        }
    };
    let id = uuid::Uuid::new_v4().simple().to_string();
    let now = state.clock.now_ms();
    if let Ok(mut all) = kept().lock() {
        all.retain(|k| now - k.at_ms < KEEP_MS);
        if all.len() >= MAX_KEPT {
            all.remove(0);
        }
        all.push(Kept { id: id.clone(), principal, back: to.back, pairs, at_ms: now });
    }
    let max_age = cookie::time::Duration::milliseconds(KEEP_MS);
    res.headers_mut().append(header::SET_COOKIE, draft_cookie(&state, &id, max_age));
    res
}

/// Whether this browser holds a kept form (the sign-in page says it is waiting).
pub fn waiting(state: &AppState, headers: &HeaderMap) -> bool {
    cookie_token(headers, cookie_name(state)).is_some()
}

/// The form kept for `path` (the page now shown, without its query) and this account, taken
/// out of the store. The caller shows it and clears the cookie with [`clear_cookie`].
pub fn take(state: &AppState, headers: &HeaderMap, session: &PageSession, path: &str) -> Option<Vec<(String, String)>> {
    let id = cookie_token(headers, cookie_name(state))?;
    let now = state.clock.now_ms();
    let me = session.caller().principal_id().to_string();
    let mut all = kept().lock().ok()?;
    all.retain(|k| now - k.at_ms < KEEP_MS);
    let i = all.iter().position(|k| {
        k.id == id && k.back.split('?').next() == Some(path) && k.principal.as_ref().is_none_or(|p| *p == me)
    })?;
    Some(all.remove(i).pairs)
}
