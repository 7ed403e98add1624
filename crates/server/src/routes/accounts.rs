//! Firm registration and sign-in.

use crate::auth::{decoy_hash, hash_password, new_token, password_problem, verify_password};
use crate::error::{ApiError, ApiJson, ApiResult, Problem};
use crate::form::Check;
use crate::state::AppState;
use crate::views::{rfc3339, FirmView, SessionView};
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use nightpermit_domain::{CreditCode, Role};
use nightpermit_store::{FirmRecord, SessionRecord};
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

#[derive(Deserialize, ToSchema)]
#[allow(dead_code)] // documents the body; the handler reads it as loose JSON to report every field
pub struct RegisterFirm {
    #[schema(example = "91310106MA1FL0D44X")]
    credit_code: String,
    name: String,
    password: String,
    contact_name: String,
    contact_phone: String,
}

#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct Login {
    /// The credit code for a firm, the username for staff.
    login: String,
    password: String,
}

/// A construction firm registers.
#[utoipa::path(post, path = "/api/v1/firms", tag = "accounts", request_body = RegisterFirm,
    responses((status = 201, body = FirmView), (status = 409, body = Problem, description = "credit code already registered"),
              (status = 422, body = Problem, description = "invalid field, e.g. CREDIT_CODE_INVALID")))]
pub async fn register_firm(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<(StatusCode, Json<FirmView>)> {
    let mut c = Check::new(&body);
    let code = c.text("credit_code", "统一社会信用代码", 18).and_then(|raw| match CreditCode::parse(&raw) {
        Ok(code) => Some(code),
        Err(e) => {
            c.fail("credit_code", "CREDIT_CODE_INVALID", e.to_string());
            None
        }
    });
    let name = c.text("name", "单位名称", 100);
    let password = match c.at("password").and_then(Value::as_str) {
        Some(p) => match password_problem(p) {
            Some(problem) => {
                c.fail("password", "WEAK_PASSWORD", problem);
                None
            }
            None => Some(p.to_string()),
        },
        None => {
            c.fail("password", "REQUIRED", "请设置密码");
            None
        }
    };
    let contact_name = c.text("contact_name", "联系人", 50);
    let contact_phone = c.phone("contact_phone");
    let (Some(code), Some(name), Some(password), Some(contact_name), Some(contact_phone)) =
        (code, name, password, contact_name, contact_phone)
    else {
        return Err(ApiError::validation(c.into_errors()));
    };
    let password_hash = tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;
    let firm = FirmRecord {
        id: uuid::Uuid::now_v7().to_string(),
        credit_code: code.to_string(),
        name,
        password_hash,
        contact_name,
        contact_phone,
        grade: "green".into(),
        created_at: state.clock.now_ms(),
    };
    match state.store.create_firm(&firm, &format!("firm:{}", firm.credit_code)).await {
        Err(nightpermit_store::StoreError::AlreadyExists(_)) => {
            return Err(ApiError::new(StatusCode::CONFLICT, "FIRM_EXISTS", "该统一社会信用代码已注册，请直接登录"))
        }
        other => other?,
    }
    Ok((
        StatusCode::CREATED,
        Json(FirmView { id: firm.id, credit_code: firm.credit_code, name: firm.name, grade: firm.grade }),
    ))
}

/// Sign in as a firm (credit code) or staff (username).
#[utoipa::path(post, path = "/api/v1/sessions", tag = "accounts", request_body = Login,
    responses((status = 201, body = SessionView), (status = 401, body = Problem, description = "INVALID_CREDENTIALS")))]
pub async fn create_session(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<(StatusCode, Json<SessionView>)> {
    let mut c = Check::new(&body);
    let login = c.text("login", "登录名", 100);
    let password = c.at("password").and_then(Value::as_str).map(str::to_string);
    if password.is_none() {
        c.fail("password", "REQUIRED", "请输入密码");
    }
    let (Some(login), Some(password)) = (login, password) else {
        return Err(ApiError::validation(c.into_errors()));
    };
    // A firm signs in with its credit code; anything else is a staff username.
    let principal = match CreditCode::parse(&login) {
        Ok(code) => {
            state.store.firm_by_credit_code(code.as_str()).await?.map(|f| ("firm", f.id, f.password_hash, Role::Firm))
        }
        Err(_) => state
            .store
            .staff_by_username(&login)
            .await?
            .map(|s| ("staff", s.id, s.password_hash, s.role.parse().unwrap_or(Role::Auditor))),
    };
    let stored_hash = principal.as_ref().map(|p| p.2.clone()).unwrap_or_else(|| decoy_hash().to_string());
    let ok = tokio::task::spawn_blocking(move || verify_password(&password, &stored_hash))
        .await
        .map_err(ApiError::internal)?;
    let Some((kind, principal_id, _, role)) = principal.filter(|_| ok) else {
        return Err(ApiError::new(StatusCode::UNAUTHORIZED, "INVALID_CREDENTIALS", "登录名或密码错误"));
    };
    let now = state.clock.now_ms();
    let expires_at = now + state.settings.auth.session_ttl_hours * 3_600_000;
    let (token, token_hash) = new_token();
    state
        .store
        .create_session(&SessionRecord {
            token_hash,
            principal_kind: kind.into(),
            principal_id,
            expires_at,
            created_at: now,
        })
        .await?;
    Ok((StatusCode::CREATED, Json(SessionView { token, role, expires_at: rfc3339(expires_at) })))
}
