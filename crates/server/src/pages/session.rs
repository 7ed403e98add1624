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

pub(super) fn secure(state: &AppState) -> bool {
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

pub(super) fn cookie_token(headers: &HeaderMap, name: &str) -> Option<String> {
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
/// here afterwards. A post (a form sent after the session ended) is marked with
/// [`SignInToContinue`] so [`super::drafts`] can keep what was typed.
pub struct SignInFirst {
    back: String,
    posted: bool,
}

/// On the sign-in redirect of a post: the page the form came from, to return to.
#[derive(Clone)]
pub struct SignInToContinue {
    pub back: String,
}

impl IntoResponse for SignInFirst {
    fn into_response(self) -> Response {
        let mut res = Redirect::to(&format!("/login?next={}", percent_path(&self.back))).into_response();
        if self.posted {
            res.extensions_mut().insert(SignInToContinue { back: self.back });
        }
        res
    }
}

/// Where to come back to after signing in. A page (GET) is itself; a post returns to the page
/// its form was on: the `Referer`'s path when it names this host (the pages send it, policy
/// `same-origin`), otherwise the page each kind of post belongs to. Only local paths are kept.
fn return_path(parts: &Parts) -> String {
    let own = |p: &str| super::local_path(Some(p));
    if parts.method == Method::GET {
        let here = parts.uri.path_and_query().map_or(parts.uri.path(), |pq| pq.as_str());
        return own(here).unwrap_or_else(|| "/".into());
    }
    let host = parts.headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("");
    let referer = parts
        .headers
        .get(header::REFERER)
        .and_then(|v| v.to_str().ok())
        .and_then(|r| r.parse::<axum::http::Uri>().ok())
        .filter(|u| !host.is_empty() && u.authority().is_some_and(|a| a.as_str() == host))
        .and_then(|u| u.path_and_query().and_then(|pq| own(pq.as_str())));
    referer.unwrap_or_else(|| page_of_post(parts.uri.path()))
}

/// The page a post is sent from, when the browser did not say: the new form for a new
/// application, the edit form for an edit, the case for its other actions.
fn page_of_post(path: &str) -> String {
    if path == "/applications" {
        return "/applications/new".into();
    }
    if let Some(rest) = path.strip_prefix("/applications/") {
        let id = rest.split('/').next().unwrap_or("");
        if !id.is_empty() {
            return if rest.ends_with("/edit") { path.to_string() } else { format!("/applications/{id}") };
        }
    }
    "/".into()
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
            Ok(None) => Err(SessionRejection::SignIn(SignInFirst {
                back: return_path(parts),
                posted: parts.method != Method::GET,
            })),
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

    fn parts(method: Method, uri: &str, referer: Option<&str>) -> Parts {
        let mut b = axum::http::Request::builder().method(method).uri(uri).header(header::HOST, "np.example:8080");
        if let Some(r) = referer {
            b = b.header(header::REFERER, r);
        }
        b.body(()).expect("request").into_parts().0
    }

    #[test]
    fn a_post_returns_to_the_local_page_it_came_from() {
        let p = parts(
            Method::POST,
            "/applications/a1/edit",
            Some("http://np.example:8080/applications/a1/edit?from=check"),
        );
        assert_eq!(return_path(&p), "/applications/a1/edit?from=check");
        // Another site's address is never followed: the post's own page instead.
        let p = parts(Method::POST, "/applications/a1/submit", Some("http://evil.example/applications/a1"));
        assert_eq!(return_path(&p), "/applications/a1");
        let p = parts(Method::POST, "/applications", None);
        assert_eq!(return_path(&p), "/applications/new");
        let p = parts(Method::POST, "/logout", Some("http://np.example:8080//evil.example/x"));
        assert_eq!(return_path(&p), "/");
        let p = parts(Method::GET, "/applications/a1/check?x=1", None);
        assert_eq!(return_path(&p), "/applications/a1/check?x=1");
    }

    #[test]
    fn cookies_are_found_among_others() {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::from_static("a=1; np_session=tok; b=2"));
        assert_eq!(cookie_token(&h, "np_session").as_deref(), Some("tok"));
        assert_eq!(cookie_token(&h, "other"), None);
    }
}
