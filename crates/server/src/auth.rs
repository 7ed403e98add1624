//! Passwords (argon2id), bearer tokens (random, stored only as sha256) and the signed-in caller.

use crate::error::ApiError;
use crate::state::AppState;
use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use base64::Engine;
use nightpermit_domain::{Department, District, Role};
use nightpermit_store::{FirmRecord, StaffRecord};
use rand::RngCore;
use sha2::{Digest, Sha256};

pub fn hash_password(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("hashing password: {e}"))
}

pub fn verify_password(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored)
        .map(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
        .unwrap_or(false)
}

/// A hash to verify against when the login does not exist, so that a wrong username takes as
/// long as a wrong password and does not reveal which accounts exist.
pub fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash_password("decoy-password-never-used").unwrap_or_default())
}

/// Minimum rules for a password chosen by a person.
pub fn password_problem(password: &str) -> Option<&'static str> {
    let len = password.chars().count();
    if len < 8 {
        Some("密码至少8位")
    } else if len > 128 {
        Some("密码最多128位")
    } else if password.chars().all(|c| c.is_ascii_digit()) {
        Some("密码不能全是数字")
    } else {
        None
    }
}

/// A new bearer token and the hash under which its session is stored.
pub fn new_token() -> (String, String) {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let hash = token_hash(&token);
    (token, hash)
}

pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Who is calling: a firm or a staff member.
#[derive(Debug, Clone)]
pub enum Caller {
    Firm(FirmRecord),
    Staff(StaffRecord),
}

impl Caller {
    pub fn role(&self) -> Role {
        match self {
            Caller::Firm(_) => Role::Firm,
            Caller::Staff(s) => s.role,
        }
    }

    /// The actor recorded in the audit log.
    pub fn actor(&self) -> String {
        match self {
            Caller::Firm(f) => format!("firm:{}", f.credit_code),
            Caller::Staff(s) => format!("staff:{}", s.username),
        }
    }

    pub fn principal_id(&self) -> &str {
        match self {
            Caller::Firm(f) => &f.id,
            Caller::Staff(s) => &s.id,
        }
    }

    /// The caller as the complaint rule sees whoever records a follow-up step.
    pub fn follower(&self) -> nightpermit_cases::complaints::Follower {
        nightpermit_cases::complaints::Follower { role: self.role(), district: self.district(), actor: self.actor() }
    }

    pub fn district(&self) -> Option<District> {
        match self {
            Caller::Firm(_) => None,
            Caller::Staff(s) => s.district,
        }
    }

    pub fn department(&self) -> Option<Department> {
        match self {
            Caller::Firm(_) => None,
            Caller::Staff(s) => s.department,
        }
    }

    pub fn firm(&self) -> Result<&FirmRecord, ApiError> {
        match self {
            Caller::Firm(f) => Ok(f),
            Caller::Staff(_) => Err(ApiError::forbidden("只有施工单位账号可以进行此操作")),
        }
    }
}

fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim()).filter(|t| !t.is_empty())
}

/// The caller together with the session it signed in with (for signing out, or keeping this
/// session when the password changes).
#[derive(Debug, Clone)]
pub struct CurrentSession {
    pub caller: Caller,
    pub token_hash: String,
}

impl FromRequestParts<AppState> for CurrentSession {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let token = bearer(parts).ok_or_else(ApiError::unauthenticated)?;
        session_for_token(state, token).await
    }
}

/// The live session a token names, whichever way it came (bearer header for the API, the
/// session cookie for pages): one sign-in concept, one lookup.
pub async fn session_for_token(state: &AppState, token: &str) -> Result<CurrentSession, ApiError> {
    let expired = || ApiError::new(StatusCode::UNAUTHORIZED, "TOKEN_INVALID", "登录已过期或令牌无效，请重新登录");
    let hash = token_hash(token);
    let signed_in = state.store.session(&hash).await?.ok_or_else(expired)?;
    if signed_in.session.expires_at <= state.clock.now_ms() {
        return Err(expired());
    }
    let caller = match (signed_in.firm, signed_in.staff) {
        (Some(firm), _) => Some(Caller::Firm(firm)),
        // Disabling an account ends its sessions; this also refuses one a sign-in racing the
        // disabling created just after.
        (None, Some(staff)) => Some(staff).filter(|s| s.disabled_at.is_none()).map(Caller::Staff),
        (None, None) => None,
    };
    Ok(CurrentSession { caller: caller.ok_or_else(expired)?, token_hash: hash })
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        Ok(CurrentSession::from_request_parts(parts, state).await?.caller)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_round_trip() {
        let h = hash_password("correct horse").expect("hash");
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("wrong horse", &h));
        assert!(!verify_password("x", "not a hash"));
    }

    #[test]
    fn tokens_are_random_and_hashed() {
        let (a, ha) = new_token();
        let (b, _) = new_token();
        assert_ne!(a, b);
        assert_eq!(token_hash(&a), ha);
        assert_eq!(ha.len(), 64);
    }

    #[test]
    fn password_rules() {
        assert!(password_problem("short").is_some());
        assert!(password_problem("12345678").is_some());
        assert!(password_problem("night-permit-1").is_none());
    }
}
