//! The web pages: server-rendered HTML (askama templates, checked at compile time) for the
//! people who use the service in a browser. Paths, field names and `data-` markers are fixed
//! by PAGES.md. Every page works without JavaScript (forms post and redirect); the one
//! stylesheet and the small script are embedded in the binary and served under `/static/`.
//! Pages call the same functions as the JSON API handlers: they present, they do not decide.

pub mod accounts;
pub mod applicant;
pub mod case_actions;
pub mod check;
pub mod complaints;
pub mod drafts;
pub mod formdata;
pub mod inspections;
pub mod notice;
pub mod page_images;
pub mod public;
pub mod session;
pub mod tasks;
// Staff pages: review, audit, admin.
pub mod admin;
pub mod audit;
pub mod review;

use crate::error::FieldError;
use crate::state::AppState;
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Request};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use session::PageSession;

/// The page routes. State-changing requests must come from this site's own pages.
pub fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/", get(public::index))
        .route("/login", get(accounts::login_page).post(accounts::login))
        .route("/logout", post(accounts::logout))
        .route("/register", get(accounts::register_page).post(accounts::register))
        .route("/inspections", get(inspections::show))
        .route("/inspections/{id}/result", post(inspections::result))
        .route("/inspections/complaints/{reference}/steps", post(inspections::step))
        .route("/p/{number}", get(public::permit))
        .route("/night/{district}", get(public::night))
        .route("/verify", get(public::verify_page).post(public::verify))
        .route("/applications", get(applicant::list).post(applicant::create))
        .route("/applications/new", get(applicant::new_form))
        .route("/applications/{id}", get(applicant::case))
        .route("/applications/{id}/edit", get(applicant::edit_form).post(applicant::edit))
        .route("/applications/{id}/materials", post(applicant::upload))
        .route("/applications/{id}/submit", post(applicant::submit))
        .route("/applications/{id}/check", get(check::page))
        // The case page's own forms and page images.
        .route("/applications/{id}/materials/{material_id}/pages/{page}", get(page_images::page_image))
        .route("/applications/{id}/materials/{material_id}/thumbnail", get(page_images::thumbnail))
        .route("/applications/{id}/materials/{material_id}/delete", post(case_actions::delete_material))
        .route("/applications/{id}/materials/{material_id}/replace", post(case_actions::replace_material))
        .route("/applications/{id}/disputes", post(case_actions::dispute))
        .route("/applications/{id}/withdraw", post(case_actions::withdraw))
        .route("/p/{number}/notice.pdf", get(notice::site_notice))
        .route("/complaints", post(complaints::file))
        .route("/complaints/new", get(complaints::new_form))
        .route("/complaints/{reference}", get(complaints::show))
        .route("/static/{*path}", get(asset))
        .merge(staff_routes())
        // Inside the origin check: only this site's own posts are ever kept.
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), drafts::keep_expired_posts))
        .route_layer(axum::middleware::from_fn_with_state(state, session::same_origin_only))
}

/// The staff pages: reviewers' queue and tasks, the auditor's checks, the admin's accounts,
/// rule sets and statistics.
fn staff_routes() -> Router<AppState> {
    Router::new()
        .route("/review", get(review::queue_page))
        .route("/review/tasks/{id}", get(review::task))
        .route("/review/tasks/{id}/decision", post(review::decision))
        .route("/review/tasks/{id}/materials/{material_id}", get(review::material))
        .route("/audit", get(audit::page))
        .route("/audit/verify", post(audit::verify))
        .route("/audit/applications/{id}/log.jsonl", get(audit::export))
        .route("/admin", get(admin::page))
        .route("/admin/staff", post(admin::create_staff))
        .route("/admin/staff/{username}/password", post(admin::reset_password))
        .route("/admin/staff/{username}/disable", post(admin::disable_staff))
        .route("/admin/staff/{username}/enable", post(admin::enable_staff))
        .route("/admin/rules/simulate", post(admin::simulate))
}

#[derive(rust_embed::Embed)]
#[folder = "static/"]
struct Assets;

/// An embedded asset. Names are fixed at build time, so a path outside them is simply 404.
async fn asset(Path(path): Path<String>) -> Response {
    match Assets::get(&path) {
        Some(file) => {
            let mime = file.metadata.mimetype().to_string();
            let mut res = (StatusCode::OK, file.data.into_owned()).into_response();
            if let Ok(v) = HeaderValue::from_str(&mime) {
                res.headers_mut().insert(header::CONTENT_TYPE, v);
            }
            res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600"));
            res
        }
        None => crate::error::ApiError::not_found("文件").into_response(),
    }
}

/// What the header of every page shows: who is signed in, and the sign-out form's token.
pub struct Nav {
    pub who: Option<String>,
    pub home: &'static str,
    pub csrf: String,
}

impl Nav {
    pub fn of(session: Option<&PageSession>) -> Self {
        match session {
            Some(s) => Nav {
                who: Some(match s.caller() {
                    crate::auth::Caller::Firm(f) => f.name.clone(),
                    crate::auth::Caller::Staff(st) => format!("{}（{}）", st.username, role_label(st.role)),
                }),
                home: s.home(),
                csrf: s.csrf(),
            },
            None => Nav { who: None, home: "/", csrf: String::new() },
        }
    }
}

pub fn role_label(role: nightpermit_domain::Role) -> &'static str {
    use nightpermit_domain::Role::*;
    match role {
        Firm => "施工单位",
        Reviewer => "审核人员",
        Inspector => "检查人员",
        Auditor => "审计人员",
        Admin => "管理员",
    }
}

/// The HTML id of the input named `name` (dots and brackets replaced, so `#id` works in CSS too).
pub fn field_id(name: &str) -> String {
    format!("f-{}", name.replace(['.', '[', ']'], "-"))
}

/// One option of a select.
pub struct Opt {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

/// One form field as the shared field template draws it: its label, its value, its errors.
pub struct Field {
    pub name: String,
    pub id: String,
    pub label: String,
    /// text, password, date, time, number, tel, textarea or select.
    pub kind: &'static str,
    pub value: String,
    pub options: Vec<Opt>,
    pub errors: Vec<FieldError>,
    pub required: bool,
    pub autocomplete: &'static str,
    pub hint: &'static str,
}

impl Field {
    pub fn new(name: &str, label: &str, kind: &'static str) -> Self {
        Field {
            name: name.into(),
            id: field_id(name),
            label: label.into(),
            kind,
            value: String::new(),
            options: Vec::new(),
            errors: Vec::new(),
            required: true,
            autocomplete: "off",
            hint: "",
        }
    }

    pub fn value(mut self, v: Option<&String>) -> Self {
        self.value = v.cloned().unwrap_or_default();
        self
    }

    pub fn optional(mut self) -> Self {
        self.required = false;
        self
    }

    pub fn autocomplete(mut self, a: &'static str) -> Self {
        self.autocomplete = a;
        self
    }

    pub fn hint(mut self, h: &'static str) -> Self {
        self.hint = h;
        self
    }

    pub fn options(mut self, opts: impl IntoIterator<Item = (String, String)>) -> Self {
        self.options =
            opts.into_iter().map(|(value, label)| Opt { selected: value == self.value, value, label }).collect();
        self
    }

    /// Takes this field's errors out of `errors`.
    pub fn errors_from(mut self, errors: &[FieldError]) -> Self {
        self.errors = errors.iter().filter(|e| e.field == self.name).cloned().collect();
        self
    }

    /// The ids of the hint and the error message under the label, for `aria-describedby`, so a
    /// screen reader reads them with the field.
    pub fn described_by(&self) -> String {
        let mut ids = Vec::new();
        if !self.hint.is_empty() {
            ids.push(format!("{}-hint", self.id));
        }
        if !self.errors.is_empty() {
            ids.push(format!("{}-error", self.id));
        }
        ids.join(" ")
    }
}

/// One entry of the error summary at the top of a form.
pub struct SummaryItem {
    pub href: String,
    pub code: String,
    pub text: String,
}

/// The error summary: every field error linking to its field, and any error that is not about
/// one field (wrong password, a conflict) with its code.
#[derive(Default)]
pub struct Errors {
    pub items: Vec<SummaryItem>,
}

impl Errors {
    /// From an API error: its field errors (labelled with the page's labels) or its detail.
    pub fn from_api(e: &crate::error::ApiError, fields: &[&Field]) -> Self {
        let mut items: Vec<SummaryItem> = e
            .errors
            .iter()
            .map(|fe| {
                let label = fields.iter().find(|f| f.name == fe.field).map(|f| f.label.clone());
                SummaryItem {
                    href: match label {
                        Some(_) => format!("#{}", field_id(&fe.field)),
                        None => String::new(),
                    },
                    code: fe.code.clone(),
                    // Name the field unless the message already begins with its name.
                    text: match label {
                        Some(l) if !fe.message.starts_with(l.as_str()) => format!("{l}：{}", fe.message),
                        _ => fe.message.clone(),
                    },
                }
            })
            .collect();
        if items.is_empty() {
            items.push(SummaryItem { href: String::new(), code: e.code.into(), text: e.detail.clone() });
        }
        Errors { items }
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

/// The HTML answer to an error, for browsers: the same status, code and Chinese message as the
/// API's problem+json.
#[derive(Template, WebTemplate)]
#[template(path = "error.html")]
pub struct ErrorPage {
    pub title: String,
    pub nav: Nav,
    pub status: u16,
    pub code: String,
    pub detail: String,
    pub errors: Vec<FieldError>,
}

#[derive(Deserialize)]
struct ProblemBody {
    title: String,
    status: u16,
    code: String,
    detail: String,
    #[serde(default)]
    errors: Vec<FieldError>,
}

fn wants_html(headers: &HeaderMap) -> bool {
    headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|a| a.contains("text/html"))
}

/// A browser that meets an error (404, 403, 429, 500 …, from a page or from anywhere) gets a
/// page instead of problem+json: the problem is rendered as it was answered, so the two never
/// say different things. API clients (no `text/html` in `Accept`) are untouched.
pub async fn html_errors(req: Request, next: Next) -> Response {
    let html = wants_html(req.headers());
    let res = next.run(req).await;
    let is_problem = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/problem+json"));
    if !html || !is_problem {
        return res;
    }
    let (parts, body) = res.into_parts();
    // Problems are small JSON documents written by this server.
    let Ok(bytes) = axum::body::to_bytes(body, 256 * 1024).await else {
        return (parts.status, "服务器错误").into_response();
    };
    let Ok(p) = serde_json::from_slice::<ProblemBody>(&bytes) else {
        return Response::from_parts(parts, axum::body::Body::from(bytes));
    };
    let page = ErrorPage {
        title: p.title,
        nav: Nav { who: None, home: "/", csrf: String::new() },
        status: p.status,
        code: p.code,
        detail: p.detail,
        errors: p.errors,
    };
    let mut out = (parts.status, page).into_response();
    if let Some(wait) = parts.headers.get(header::RETRY_AFTER) {
        out.headers_mut().insert(header::RETRY_AFTER, wait.clone());
    }
    out
}

/// `303 See Other` to `to`, with extra headers (the answer to every successful form post).
pub fn see_other(to: &str) -> Response {
    let mut res = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    res
}

/// Only local paths are followed after signing in (no open redirect to another site).
pub fn local_path(next: Option<&str>) -> Option<String> {
    next.filter(|n| n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') && !n.contains("://"))
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_followed() {
        assert_eq!(local_path(Some("/applications/1")).as_deref(), Some("/applications/1"));
        assert_eq!(local_path(Some("//evil.example")), None);
        assert_eq!(local_path(Some("https://evil.example")), None);
        assert_eq!(local_path(Some("/\\evil.example")), None);
        assert_eq!(local_path(None), None);
    }

    #[test]
    fn field_ids_are_plain() {
        assert_eq!(field_id("equipment[0].name"), "f-equipment-0--name");
    }
}
