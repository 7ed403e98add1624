//! Staff accounts and rule-set simulation, shared by the `nightpermit` command and the admin
//! pages: one validation of a new account, one disabling rule, one replay of past decisions.

use crate::auth::{hash_password, password_problem};
use crate::error::{ApiError, ApiResult, FieldError};
use crate::state::AppState;
use axum::http::StatusCode;
use nightpermit_domain::{CreditCode, Department, District, Role};
use nightpermit_rules::{RuleSet, SimulationChange};
use nightpermit_store::{StaffRecord, Store, StoreError, StoreResult};

/// What a new staff account is made of, as typed (CLI flags or form fields).
#[derive(Debug, Clone, Default)]
pub struct NewStaff {
    pub username: String,
    pub password: String,
    pub role: String,
    pub department: Option<String>,
    pub district: Option<String>,
}

/// A checked new account, password not yet hashed.
#[derive(Debug, Clone)]
pub struct ValidStaff {
    pub username: String,
    pub password: String,
    pub role: Role,
    pub department: Option<Department>,
    pub district: Option<District>,
}

impl ValidStaff {
    pub fn into_record(self, password_hash: String, now_ms: i64) -> StaffRecord {
        StaffRecord {
            id: uuid::Uuid::now_v7().to_string(),
            username: self.username,
            password_hash,
            role: self.role,
            department: self.department,
            district: self.district,
            created_at: now_ms,
            disabled_at: None,
        }
    }
}

fn given(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// Checks every field of a new staff account and reports every problem at once (field names
/// `username`, `password`, `role`, `department`, `district`).
pub fn validate_staff(n: &NewStaff) -> Result<ValidStaff, Vec<FieldError>> {
    let mut errors = Vec::new();
    let username = n.username.trim();
    if username.is_empty()
        || username.len() > 64
        || !username.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        errors.push(FieldError::new("username", "USERNAME_INVALID", "用户名须为1至64位字母、数字、“-”“_”或“.”"));
    } else if CreditCode::parse(username).is_ok() {
        errors.push(FieldError::new(
            "username",
            "USERNAME_INVALID",
            "用户名不能是统一社会信用代码的形式（施工单位用它登录）",
        ));
    }
    if let Some(problem) = password_problem(&n.password) {
        errors.push(FieldError::new("password", "WEAK_PASSWORD", problem));
    }
    let role = match n.role.trim().parse::<Role>() {
        Ok(Role::Firm) => {
            errors.push(FieldError::new("role", "ROLE_INVALID", "施工单位通过注册页面或 POST /api/v1/firms 注册"));
            None
        }
        Ok(r) => Some(r),
        Err(_) => {
            errors.push(FieldError::new("role", "ROLE_INVALID", "角色应为 reviewer、inspector、auditor 或 admin"));
            None
        }
    };
    let department = match given(&n.department).map(str::parse::<Department>) {
        None => None,
        Some(Ok(d)) => Some(d),
        Some(Err(_)) => {
            errors.push(FieldError::new("department", "UNKNOWN_DEPARTMENT", "部门应为 construction 或 environment"));
            None
        }
    };
    let district = match given(&n.district).map(str::parse::<District>) {
        None => None,
        Some(Ok(d)) => Some(d),
        Some(Err(_)) => {
            errors.push(FieldError::new("district", "UNKNOWN_DISTRICT", "区应为上海的区代码，如 jingan"));
            None
        }
    };
    if role == Some(Role::Reviewer) {
        if given(&n.department).is_none() {
            errors.push(FieldError::new("department", "REQUIRED", "审核人员须指定部门（construction 或 environment）"));
        }
        if given(&n.district).is_none() {
            errors.push(FieldError::new("district", "REQUIRED", "审核人员须指定所在区，如 jingan"));
        }
    }
    match (errors.is_empty(), role) {
        (true, Some(role)) => {
            Ok(ValidStaff { username: username.to_string(), password: n.password.clone(), role, department, district })
        }
        _ => Err(errors),
    }
}

/// The CLI's account: validated as the admin page does, hashed here.
pub fn staff_record_now(n: &NewStaff, now_ms: i64) -> anyhow::Result<StaffRecord> {
    let valid = validate_staff(n).map_err(|errors| {
        let lines: Vec<String> = errors.iter().map(|e| format!("--{}: {}", e.field, e.message)).collect();
        anyhow::anyhow!("{}", lines.join("; "))
    })?;
    let hash = hash_password(&valid.password)?;
    Ok(valid.into_record(hash, now_ms))
}

/// Creates a staff account from the admin page: validated, hashed on the bounded pool, audited.
pub async fn create_staff(state: &AppState, n: &NewStaff, actor: &str) -> ApiResult<StaffRecord> {
    let valid = validate_staff(n).map_err(ApiError::validation)?;
    let password = valid.password.clone();
    let hash = state.protection.password_job(move || hash_password(&password)).await?.map_err(ApiError::internal)?;
    let record = valid.into_record(hash, state.clock.now_ms());
    match state.store.create_staff(&record, actor).await {
        Err(StoreError::AlreadyExists(_)) => {
            Err(ApiError::field("username", "USERNAME_TAKEN", format!("用户名 {} 已被使用", record.username)))
        }
        other => other.map(|_| record).map_err(Into::into),
    }
}

/// Sets a new password for a staff account; every session of it ends.
pub async fn reset_password(state: &AppState, username: &str, password: &str, actor: &str) -> ApiResult<()> {
    if let Some(problem) = password_problem(password) {
        return Err(ApiError::field("password", "WEAK_PASSWORD", problem));
    }
    let staff = state.store.staff_by_username(username).await?.ok_or_else(|| ApiError::not_found("工作人员账号"))?;
    let password = password.to_string();
    let hash = state.protection.password_job(move || hash_password(&password)).await?.map_err(ApiError::internal)?;
    state.store.change_password("staff", &staff.id, &hash, None, actor, state.clock.now_ms()).await?;
    Ok(())
}

/// The answer to a disabled account signing in, the same from the API and the sign-in page.
/// Given only after the right password, so it does not tell a guesser the account exists.
pub fn account_disabled() -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, "ACCOUNT_DISABLED", "该账号已被管理员停用，请联系系统管理员")
}

/// Disables a staff account (`disabled`) or enables it again, by username: the one check the
/// API, the admin page and the CLI share. `by` is the signed-in admin's own username: an admin
/// cannot disable themselves (they would lose the page mid-task, and perhaps the last admin).
/// Disabling ends every session of the account. Returns the account as it is now.
pub async fn set_disabled(
    store: &dyn Store,
    username: &str,
    disabled: bool,
    by: Option<&str>,
    actor: &str,
    now_ms: i64,
) -> ApiResult<StaffRecord> {
    let staff = store.staff_by_username(username).await?.ok_or_else(|| ApiError::not_found("工作人员账号"))?;
    if disabled && by == Some(staff.username.as_str()) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "CANNOT_DISABLE_SELF",
            "不能停用自己的账号；如需停用，请由另一位管理员操作",
        ));
    }
    if disabled {
        store.disable_staff(&staff.id, actor, now_ms).await?;
    } else {
        store.enable_staff(&staff.id, actor, now_ms).await?;
    }
    store.staff_by_id(&staff.id).await?.ok_or_else(|| ApiError::not_found("工作人员账号"))
}

/// The outcome of replaying past decisions under another rule set.
#[derive(Debug, Clone)]
pub struct Simulation {
    pub total: usize,
    pub changes: Vec<SimulationChange>,
}

/// Replays the stored fact snapshot of every rules decision made since `since_ms` under
/// `rules`; changes nothing.
pub async fn simulate(store: &dyn Store, rules: &RuleSet, since_ms: i64) -> StoreResult<Simulation> {
    let decisions = store.decisions_since(since_ms).await?;
    let mut snapshots = Vec::new();
    for d in &decisions {
        // Decisions made without facts (a pre-review that failed and went to a human) are not
        // rules decisions.
        let Ok(facts) = serde_json::from_str::<nightpermit_rules::Facts>(&d.facts) else { continue };
        if facts.is_empty() {
            continue;
        }
        snapshots.push((format!("{}#{}", d.application_id, d.round), d.outcome, facts));
    }
    let (total, changes) = nightpermit_rules::simulate(rules, snapshots.iter().map(|(c, o, f)| (c.as_str(), *o, f)));
    Ok(Simulation { total, changes })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new(username: &str, role: &str, department: Option<&str>, district: Option<&str>) -> NewStaff {
        NewStaff {
            username: username.into(),
            password: "staff-pass-1".into(),
            role: role.into(),
            department: department.map(Into::into),
            district: district.map(Into::into),
        }
    }

    #[test]
    fn reviewers_need_a_department_and_district() {
        let errors = validate_staff(&new("r1", "reviewer", None, Some(""))).expect_err("refused");
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["department", "district"]);
        assert!(validate_staff(&new("r1", "reviewer", Some("construction"), Some("jingan"))).is_ok());
        assert!(validate_staff(&new("a1", "auditor", None, None)).is_ok());
    }

    #[test]
    fn every_problem_is_reported() {
        let mut n = new("bad name", "firm", Some("x"), Some("nowhere"));
        n.password = "1234".into();
        let errors = validate_staff(&n).expect_err("refused");
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["username", "password", "role", "department", "district"]);
    }
}
