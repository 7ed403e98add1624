//! Signing in and out, and firm registration.

use super::session::{clear_cookie, home_for, session_cookie, PageSession};
use super::{local_path, see_other, Errors, Field, Nav};
use crate::error::ApiResult;
use crate::routes::accounts::{register as register_firm, sign_in};
use crate::state::AppState;
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Form, Query, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use nightpermit_domain::Role;
use serde::Deserialize;
use serde_json::json;

#[derive(Template, WebTemplate)]
#[template(path = "form_page.html")]
pub struct FormPage {
    pub title: String,
    pub nav: Nav,
    pub intro: &'static str,
    pub action: String,
    pub submit: &'static str,
    pub errors: Errors,
    pub fields: Vec<Field>,
    /// The session's form token, empty on pages used before signing in.
    pub csrf: String,
    pub after: &'static str,
}

#[derive(Deserialize, Default)]
pub struct NextQuery {
    next: Option<String>,
}

fn login_fields(login: &str) -> Vec<Field> {
    vec![
        Field::new("login", "登录名", "text")
            .value(Some(&login.to_string()))
            .autocomplete("username")
            .hint("施工单位填统一社会信用代码；工作人员填用户名"),
        Field::new("password", "密码", "password").autocomplete("current-password"),
    ]
}

fn login_form(login: &str, next: Option<&str>, errors: Errors) -> FormPage {
    let action = match local_path(next) {
        Some(n) => format!("/login?next={}", url_encode(&n)),
        None => "/login".into(),
    };
    FormPage {
        title: "登录".into(),
        nav: Nav::of(None),
        intro: "",
        action,
        submit: "登录",
        errors,
        fields: login_fields(login),
        csrf: String::new(),
        after: "login",
    }
}

fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'/' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub async fn login_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    session: Option<PageSession>,
    Query(q): Query<NextQuery>,
) -> Response {
    if let Some(s) = session {
        return see_other(s.home());
    }
    let mut page = login_form("", q.next.as_deref(), Errors::default());
    if super::drafts::waiting(&state, &headers) {
        page.intro = "登录已过期。请重新登录：您刚才填写的内容已为您保留，登录后回到原来的页面继续。";
    }
    page.into_response()
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    login: String,
    #[serde(default)]
    password: String,
}

/// Signs in through the API's own sign-in (locks, throttling, audit) and keeps the new
/// session's token in the cookie.
pub async fn login(State(state): State<AppState>, Query(q): Query<NextQuery>, Form(f): Form<LoginForm>) -> Response {
    // Empty boxes are "not given", as missing JSON keys are, so the API's REQUIRED codes apply.
    let mut body = serde_json::Map::new();
    if !f.login.trim().is_empty() {
        body.insert("login".into(), json!(f.login));
    }
    if !f.password.is_empty() {
        body.insert("password".into(), json!(f.password));
    }
    match sign_in(&state, &serde_json::Value::Object(body)).await {
        Ok(s) => {
            let to = local_path(q.next.as_deref()).unwrap_or_else(|| home_for(s.role).to_string());
            let mut res = see_other(&to);
            res.headers_mut().append(header::SET_COOKIE, session_cookie(&state, &s.token));
            res
        }
        Err(e) if e.status.is_client_error() && e.status.as_u16() != 429 => {
            let fields = login_fields(&f.login);
            let errors = Errors::from_api(&e, &fields.iter().collect::<Vec<_>>());
            let mut page = login_form(&f.login, q.next.as_deref(), errors);
            page.fields = fields.into_iter().map(|fl| fl.errors_from(&e.errors)).collect();
            (e.status, page).into_response()
        }
        Err(e) => e.into_response(),
    }
}

#[derive(Deserialize)]
pub struct CsrfForm {
    csrf: Option<String>,
}

/// Ends the session in the store (the token stops working everywhere) and clears the cookie.
pub async fn logout(
    State(state): State<AppState>,
    session: PageSession,
    Form(f): Form<CsrfForm>,
) -> ApiResult<Response> {
    session.check_csrf(f.csrf.as_deref())?;
    state.store.delete_session(&session.session.token_hash).await?;
    let mut res = see_other("/");
    res.headers_mut().append(header::SET_COOKIE, clear_cookie(&state));
    Ok(res)
}

#[derive(Deserialize, Default)]
pub struct RegisterForm {
    #[serde(default)]
    credit_code: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    contact_name: String,
    #[serde(default)]
    contact_phone: String,
    #[serde(default)]
    contact_email: String,
}

fn register_fields(f: &RegisterForm) -> Vec<Field> {
    let v = |s: &String| Some(s.clone());
    vec![
        Field::new("credit_code", "统一社会信用代码", "text")
            .value(v(&f.credit_code).as_ref())
            .hint("18位，营业执照上的代码；也是以后的登录名"),
        Field::new("name", "单位名称", "text").value(v(&f.name).as_ref()).autocomplete("organization"),
        Field::new("password", "密码", "password").autocomplete("new-password").hint("至少8位，不能全是数字"),
        Field::new("contact_name", "联系人", "text").value(v(&f.contact_name).as_ref()).autocomplete("name"),
        Field::new("contact_phone", "联系电话", "tel").value(v(&f.contact_phone).as_ref()).autocomplete("tel"),
        Field::new("contact_email", "电子邮箱", "email")
            .value(v(&f.contact_email).as_ref())
            .optional()
            .autocomplete("email")
            .hint("选填；填写后，预审结果、部门审核意见和发证情况会发到这个邮箱，不会公开"),
    ]
}

fn register_form(errors: Errors, fields: Vec<Field>) -> FormPage {
    FormPage {
        title: "施工单位注册".into(),
        nav: Nav::of(None),
        intro: "注册后即可在线填写一张申请表、上传一套材料，两部门并联审批。",
        action: "/register".into(),
        submit: "注册并登录",
        errors,
        fields,
        csrf: String::new(),
        after: "register",
    }
}

pub async fn register_page(session: Option<PageSession>) -> Response {
    if let Some(s) = session {
        return see_other(s.home());
    }
    let f = RegisterForm::default();
    register_form(Errors::default(), register_fields(&f)).into_response()
}

/// Registers through the API's registration (every field checked at once, same codes) and
/// signs the new firm in.
pub async fn register(State(state): State<AppState>, Form(f): Form<RegisterForm>) -> Response {
    let mut body = serde_json::Map::new();
    for (k, v) in [
        ("credit_code", &f.credit_code),
        ("name", &f.name),
        ("password", &f.password),
        ("contact_name", &f.contact_name),
        ("contact_phone", &f.contact_phone),
        ("contact_email", &f.contact_email),
    ] {
        if !v.trim().is_empty() {
            body.insert(k.into(), json!(v));
        }
    }
    let body = serde_json::Value::Object(body);
    let result = async {
        let firm = register_firm(&state, &body).await?;
        sign_in(&state, &json!({"login": firm.credit_code, "password": f.password})).await
    }
    .await;
    match result {
        Ok(s) => {
            let mut res = see_other(home_for(Role::Firm));
            res.headers_mut().append(header::SET_COOKIE, session_cookie(&state, &s.token));
            res
        }
        Err(mut e) if e.status.is_client_error() && e.status.as_u16() != 429 => {
            // An existing registration is about the credit code: show it there.
            if e.code == "FIRM_EXISTS" && e.errors.is_empty() {
                e.errors.push(crate::error::FieldError::new("credit_code", "FIRM_EXISTS", e.detail.clone()));
            }
            let fields = register_fields(&f);
            let errors = Errors::from_api(&e, &fields.iter().collect::<Vec<_>>());
            let fields = fields.into_iter().map(|fl| fl.errors_from(&e.errors)).collect();
            (e.status, register_form(errors, fields)).into_response()
        }
        Err(e) => e.into_response(),
    }
}
