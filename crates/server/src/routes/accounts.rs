//! Firm registration and sign-in.

use crate::auth::{decoy_hash, hash_password, new_token, password_problem, verify_password, Caller, CurrentSession};
use crate::error::{ApiError, ApiJson, ApiResult, Problem};
use crate::state::AppState;
use crate::views::{rfc3339, FirmView, SessionView};
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use nightpermit_cases::form::Check;
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
    /// Optional: where notifications about the firm's cases are mailed (pre-review answered,
    /// a department decided, permit issued). Never shown publicly. `INVALID_EMAIL` if malformed.
    #[schema(example = "office@example.com")]
    contact_email: Option<String>,
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
    Ok((StatusCode::CREATED, Json(register(&state, &body).await?)))
}

/// Registration itself, shared by the API and the registration page: every field checked and
/// every problem reported at once, the password hashed on the bounded pool.
pub async fn register(state: &AppState, body: &Value) -> ApiResult<FirmView> {
    let mut c = Check::new(body);
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
    let contact_email = c.optional_email("contact_email");
    let errors = c.into_errors();
    let (Some(code), Some(name), Some(password), Some(contact_name), Some(contact_phone), true) =
        (code, name, password, contact_name, contact_phone, errors.is_empty())
    else {
        return Err(ApiError::validation(errors));
    };
    let password_hash =
        state.protection.password_job(move || hash_password(&password)).await?.map_err(ApiError::internal)?;
    let firm = FirmRecord {
        id: uuid::Uuid::now_v7().to_string(),
        credit_code: code.to_string(),
        name,
        password_hash,
        contact_name,
        contact_phone,
        grade: "green".into(),
        created_at: state.clock.now_ms(),
        contact_email,
    };
    match state.store.create_firm(&firm, &format!("firm:{}", firm.credit_code)).await {
        Err(nightpermit_store::StoreError::AlreadyExists(_)) => {
            return Err(ApiError::new(StatusCode::CONFLICT, "FIRM_EXISTS", "该统一社会信用代码已注册，请直接登录"))
        }
        other => other?,
    }
    Ok(FirmView { id: firm.id, credit_code: firm.credit_code, name: firm.name, grade: firm.grade })
}

/// Sign in as a firm (credit code) or staff (username).
#[utoipa::path(post, path = "/api/v1/sessions", tag = "accounts", request_body = Login,
    responses((status = 201, body = SessionView), (status = 401, body = Problem, description = "INVALID_CREDENTIALS"),
              (status = 403, body = Problem, description = "ACCOUNT_DISABLED: a staff account an admin disabled")))]
pub async fn create_session(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<(StatusCode, Json<SessionView>)> {
    Ok((StatusCode::CREATED, Json(sign_in(&state, &body).await?)))
}

/// Signing in itself, shared by the API and the sign-in page: the lock, the constant-time
/// decoy check, the audit of locks, and a new row in the one sessions table.
pub async fn sign_in(state: &AppState, body: &Value) -> ApiResult<SessionView> {
    let mut c = Check::new(body);
    let login = c.text("login", "登录名", 100);
    let password = c.at("password").and_then(Value::as_str).map(str::to_string);
    if password.is_none() {
        c.fail("password", "REQUIRED", "请输入密码");
    }
    let (Some(login), Some(password)) = (login, password) else {
        return Err(ApiError::validation(c.into_errors()));
    };
    // A firm signs in with its credit code; anything else is a staff username.
    let firm_code = CreditCode::parse(&login).ok();
    let lock_key = firm_code.as_ref().map_or_else(|| login.clone(), |c| c.to_string());
    if let Err(locked) = state.protection.check_login(&lock_key) {
        return Err(account_locked(locked.retry_after));
    }
    let principal = match &firm_code {
        Some(code) => state
            .store
            .firm_by_credit_code(code.as_str())
            .await?
            .map(|f| ("firm", f.id, f.password_hash, Role::Firm, false)),
        None => state
            .store
            .staff_by_username(&login)
            .await?
            .map(|s| ("staff", s.id, s.password_hash, s.role, s.disabled_at.is_some())),
    };
    let stored_hash = principal.as_ref().map(|p| p.2.clone()).unwrap_or_else(|| decoy_hash().to_string());
    let ok = state.protection.password_job(move || verify_password(&password, &stored_hash)).await?;
    let Some((kind, principal_id, _, role, disabled)) = principal.filter(|_| ok) else {
        if let Some(locked) = state.protection.login_failed(&lock_key) {
            let detail = serde_json::json!({"login": lock_key, "locked_secs": locked.retry_after.as_secs()});
            state
                .store
                .record_security_event("signin.locked", "login", &lock_key, &detail, "system", state.clock.now_ms())
                .await?;
            tracing::warn!(login = %lock_key, secs = locked.retry_after.as_secs(), "sign-in locked after repeated failures");
            return Err(account_locked(locked.retry_after));
        }
        return Err(ApiError::new(StatusCode::UNAUTHORIZED, "INVALID_CREDENTIALS", "登录名或密码错误"));
    };
    // Checked after the password, so only the account's holder learns it was disabled.
    if disabled {
        return Err(crate::staff::account_disabled());
    }
    state.protection.login_succeeded(&lock_key);
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
    Ok(SessionView { token, role, expires_at: rfc3339(expires_at) })
}

fn account_locked(wait: std::time::Duration) -> ApiError {
    ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "ACCOUNT_LOCKED",
        format!("密码错误次数过多，账号已暂时锁定，请{}秒后再试", wait.as_secs().max(1)),
    )
    .retry_after(wait)
}

/// Signs out: the token stops working at once.
#[utoipa::path(delete, path = "/api/v1/sessions/current", tag = "accounts", security(("bearer" = [])),
    responses((status = 204, description = "signed out"), (status = 401, body = Problem)))]
pub async fn delete_session(State(state): State<AppState>, session: CurrentSession) -> ApiResult<StatusCode> {
    state.store.delete_session(&session.token_hash).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
pub struct PasswordChange {
    current_password: String,
    new_password: String,
}

/// Changes the caller's password; every other session of the account ends.
#[utoipa::path(post, path = "/api/v1/sessions/current/password", tag = "accounts", security(("bearer" = [])),
    request_body = PasswordChange,
    responses((status = 204, description = "changed; other sessions ended"), (status = 401, body = Problem),
              (status = 422, body = Problem, description = "WRONG_PASSWORD or WEAK_PASSWORD")))]
pub async fn change_password(
    State(state): State<AppState>,
    session: CurrentSession,
    ApiJson(body): ApiJson<PasswordChange>,
) -> ApiResult<StatusCode> {
    if let Some(problem) = password_problem(&body.new_password) {
        return Err(ApiError::field("new_password", "WEAK_PASSWORD", problem));
    }
    let (kind, stored) = match &session.caller {
        Caller::Firm(f) => ("firm", f.password_hash.clone()),
        Caller::Staff(s) => ("staff", s.password_hash.clone()),
    };
    let current = body.current_password;
    if !state.protection.password_job(move || verify_password(&current, &stored)).await? {
        return Err(ApiError::field("current_password", "WRONG_PASSWORD", "当前密码不正确"));
    }
    let new = body.new_password;
    let hash = state.protection.password_job(move || hash_password(&new)).await?.map_err(ApiError::internal)?;
    state
        .store
        .change_password(
            kind,
            session.caller.principal_id(),
            &hash,
            Some(&session.token_hash),
            &session.caller.actor(),
            state.clock.now_ms(),
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
