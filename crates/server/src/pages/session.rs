//! Browser sessions: the session cookie carries the same random token a bearer client gets, so
//! a page sign-in is a row in the same sessions table (sign-out, expiry, password change and an
//! admin's revocation end both alike). Forms of a signed-in page carry a token derived from the
//! session, and every state-changing page request must come from this origin.

use crate::auth::{session_for_token, token_hash, Caller, CurrentSession};
use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::{FromRequestParts, OptionalFromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use cookie::{Cookie, SameSite};
use hmac::{Hmac, Mac};
use nightpermit_domain::Role;
use sha2::Sha256;

/// The cookie's name. Over https the `__Host-` prefix makes browsers refuse it unless it is
/// Secure, host-only and for path `/`, so a sibling subdomain cannot plant one.
pub fn cookie_name(state: &AppState) -> &'static str {
    if secure(state) {
        "__Host-np_session"
    } else {
        "np_session"
    }
}

fn secure(state: &AppState) -> bool {
    state.settings.server.public_base_url.starts_with("https://")
}

/// `Set-Cookie` for a new session: HttpOnly (no script reads it), SameSite=Lax (not sent on
/// cross-site posts), Secure over https, and no longer-lived than the session row.
pub fn session_cookie(state: &AppState, token: &str) -> HeaderValue {
    let max_age = cookie::time::Duration::hours(state.settings.auth.session_ttl_hours.max(1));
    let c = Cookie::build((cookie_name(state), token.to_string()))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure(state))
        .max_age(max_age)
        .build();
    // A token is URL-safe base64, so the header is always valid; fall back to clearing it.
    HeaderValue::from_str(&c.to_string()).unwrap_or_else(|_| clear_cookie(state))
}

/// `Set-Cookie` that removes the session cookie.
pub fn clear_cookie(state: &AppState) -> HeaderValue {
    let c = Cookie::build((cookie_name(state), ""))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure(state))
        .max_age(cookie::time::Duration::ZERO)
        .build();
    HeaderValue::from_str(&c.to_string()).unwrap_or(HeaderValue::from_static("np_session=; Max-Age=0; Path=/"))
}

fn cookie_token(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == name)
        .map(|c| c.value().to_string())
        .filter(|v| !v.is_empty())
}

/// A signed-in browser: the caller and the raw token from its cookie (the form token is
/// derived from it).
#[derive(Clone)]
pub struct PageSession {
    pub session: CurrentSession,
    token: String,
}

impl PageSession {
    pub fn caller(&self) -> &Caller {
        &self.session.caller
    }

    /// The form token of this session: HMAC-SHA256 keyed with the session's secret token over
    /// its stored hash. Only the holder of the cookie can know it, a cross-site page cannot
    /// read it, and no server-side secret or extra row is needed (it holds across servers).
    pub fn csrf(&self) -> String {
        self.mac().map(|m| hex::encode(m.finalize().into_bytes())).unwrap_or_default()
    }

    /// HMAC takes a key of any length, so this is always `Some`; an impossible `None` makes
    /// every form token fail rather than panic.
    fn mac(&self) -> Option<Hmac<Sha256>> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(self.token.as_bytes()).ok()?;
        mac.update(b"nightpermit-form:");
        mac.update(token_hash(&self.token).as_bytes());
        Some(mac)
    }

    /// Refuses a state-changing request whose form token is missing or wrong (compared in
    /// constant time).
    pub fn check_csrf(&self, sent: Option<&str>) -> Result<(), ApiError> {
        let ok = match (sent.and_then(|s| hex::decode(s.trim()).ok()), self.mac()) {
            (Some(bytes), Some(mac)) => mac.verify_slice(&bytes).is_ok(),
            _ => false,
        };
        if ok {
            Ok(())
        } else {
            Err(ApiError::new(StatusCode::FORBIDDEN, "CSRF_TOKEN_INVALID", "表单已失效，请返回上一页刷新后重新提交"))
        }
    }

    /// Where this account starts after signing in.
    pub fn home(&self) -> &'static str {
        home_for(self.caller().role())
    }
}

pub fn home_for(role: Role) -> &'static str {
    match role {
        Role::Firm => "/applications",
        Role::Reviewer => "/review",
        Role::Auditor => "/audit",
        Role::Inspector => "/inspections",
        Role::Admin => "/admin",
    }
}

async fn from_cookie(parts: &Parts, state: &AppState) -> Result<Option<PageSession>, ApiError> {
    let Some(token) = cookie_token(&parts.headers, cookie_name(state)) else { return Ok(None) };
    match session_for_token(state, &token).await {
        Ok(session) => Ok(Some(PageSession { session, token })),
        // An ended or unknown session is simply not signed in; store failures are 500s.
        Err(e) if e.status == StatusCode::UNAUTHORIZED => Ok(None),
        Err(e) => Err(e),
    }
}

/// A page that needs a signed-in account sends everyone else to the sign-in page, and back
/// here afterwards.
pub struct SignInFirst(String);

impl IntoResponse for SignInFirst {
    fn into_response(self) -> Response {
        Redirect::to(&format!("/login?next={}", percent_path(&self.0))).into_response()
    }
}

/// A local path as a query value: only characters that need no escaping are kept as they are.
fn percent_path(path: &str) -> String {
    path.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'/' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub enum SessionRejection {
    SignIn(SignInFirst),
    Failed(ApiError),
}

impl IntoResponse for SessionRejection {
    fn into_response(self) -> Response {
        match self {
            SessionRejection::SignIn(r) => r.into_response(),
            SessionRejection::Failed(e) => e.into_response(),
        }
    }
}

impl FromRequestParts<AppState> for PageSession {
    type Rejection = SessionRejection;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        match from_cookie(parts, state).await {
            Ok(Some(s)) => Ok(s),
            Ok(None) => {
                // Only GET pages are worth coming back to; a post without a session starts over.
                let back = if parts.method == Method::GET { parts.uri.path().to_string() } else { "/".into() };
                Err(SessionRejection::SignIn(SignInFirst(back)))
            }
            Err(e) => Err(SessionRejection::Failed(e)),
        }
    }
}

impl OptionalFromRequestParts<AppState> for PageSession {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Option<Self>, Self::Rejection> {
        from_cookie(parts, state).await
    }
}

/// Fetch Metadata and `Origin` checks on every state-changing page request: a browser says
/// where a request comes from, and only this site's own pages may post to it. Requests that
/// carry neither header (old browsers, scripts) still need the session's form token.
pub async fn same_origin_only(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return next.run(req).await;
    }
    if let Err(e) = check_origin(&state, req.headers()) {
        tracing::warn!(path = %req.uri().path(), code = e.code, "cross-site page request refused");
        return e.into_response();
    }
    next.run(req).await
}

fn check_origin(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    let refused =
        || ApiError::new(StatusCode::FORBIDDEN, "CROSS_SITE_REQUEST", "拒绝来自其他网站的提交，请在本站页面上操作");
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    if let Some(site) = text("sec-fetch-site") {
        if !matches!(site, "same-origin" | "none") {
            return Err(refused());
        }
    }
    if let Some(origin) = text("origin") {
        let host = text("host").unwrap_or("");
        let own_base = state.settings.server.public_base_url.trim_end_matches('/');
        let same_host = origin.split_once("://").is_some_and(|(_, h)| !host.is_empty() && h == host);
        if !(same_host || origin == own_base) {
            return Err(refused());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_paths_are_escaped() {
        assert_eq!(percent_path("/applications/ab-1"), "/applications/ab-1");
        assert_eq!(percent_path("/a?b=c&d"), "/a%3Fb%3Dc%26d");
    }

    #[test]
    fn cookies_are_found_among_others() {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::from_static("a=1; np_session=tok; b=2"));
        assert_eq!(cookie_token(&h, "np_session").as_deref(), Some("tok"));
        assert_eq!(cookie_token(&h, "other"), None);
    }
}
