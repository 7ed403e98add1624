//! The admin's page: staff accounts (created with the CLI's validation, passwords reset,
//! accounts disabled and enabled again), the
//! rule set in force, a rule file simulated against past decisions (nothing applied), and
//! statistics over a period drawn as SVG charts, each with its table.

use super::audit::{part_text, read_parts};
use super::session::PageSession;
use super::{see_other, Errors, Field, Nav};
use crate::error::{ApiError, ApiResult};
use crate::staff::NewStaff;
use crate::state::AppState;
use crate::stats::Point;
use crate::views::{rfc3339, shanghai_millis, shanghai_today};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Form, Multipart, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use nightpermit_domain::{Department, District, Role};
use serde::Deserialize;

pub fn admin(session: &PageSession) -> ApiResult<()> {
    if session.caller().role() != Role::Admin {
        return Err(ApiError::forbidden("此页面仅供管理员使用"));
    }
    Ok(())
}

pub struct StaffRow {
    pub username: String,
    pub role: &'static str,
    pub department: &'static str,
    pub district: &'static str,
    pub created_at: String,
    /// When it was disabled, empty while it can sign in.
    pub disabled_at: String,
    /// The signed-in admin's own row: no disable button (the server refuses it anyway).
    pub own: bool,
}

pub struct RuleRow {
    pub id: String,
    pub outcome: &'static str,
    pub reason: String,
    pub when: String,
}

pub struct ChangeRow {
    pub case: String,
    pub application_id: String,
    pub before: &'static str,
    pub after: &'static str,
    pub reasons: String,
}

pub struct SimulationView {
    pub ruleset: String,
    pub total: usize,
    pub changes: Vec<ChangeRow>,
}

/// One bar of a chart, laid out in the SVG's coordinates.
pub struct Bar {
    pub label: String,
    pub value: String,
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
    pub cx: f64,
}

pub struct Chart {
    pub id: &'static str,
    pub title: String,
    pub unit: &'static str,
    pub width: f64,
    pub height: f64,
    pub base: f64,
    pub bars: Vec<Bar>,
}

const CHART_W: f64 = 640.0;
const CHART_H: f64 = 220.0;
const PLOT_TOP: f64 = 20.0;
const PLOT_BOTTOM: f64 = 180.0;

fn number(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// Vertical bars scaled to the largest value, labels under them.
pub fn chart(id: &'static str, title: impl Into<String>, unit: &'static str, points: &[Point]) -> Chart {
    let max = points.iter().map(|p| p.value).fold(0.0, f64::max).max(1.0);
    let n = points.len().max(1) as f64;
    let slot = (CHART_W - 20.0) / n;
    let w = (slot * 0.7).max(2.0);
    let bars = points
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let h = (p.value / max * (PLOT_BOTTOM - PLOT_TOP)).max(0.0);
            let x = 10.0 + i as f64 * slot + (slot - w) / 2.0;
            Bar { label: p.label.clone(), value: number(p.value), x, y: PLOT_BOTTOM - h, w, h, cx: x + w / 2.0 }
        })
        .collect();
    Chart { id, title: title.into(), unit, width: CHART_W, height: CHART_H, base: PLOT_BOTTOM, bars }
}

#[derive(Template, WebTemplate)]
#[template(path = "admin.html")]
pub struct AdminPage {
    pub title: &'static str,
    pub nav: Nav,
    pub csrf: String,
    pub notice: String,
    pub staff: Vec<StaffRow>,
    pub staff_errors: Errors,
    pub staff_fields: Vec<Field>,
    pub reset_errors: Errors,
    pub account_errors: Errors,
    pub rules_id: String,
    pub rules: Vec<RuleRow>,
    pub simulate_errors: Errors,
    pub simulation: Option<SimulationView>,
    pub from: String,
    pub to: String,
    pub stats_errors: Errors,
    pub auto_share: String,
    pub decisions: usize,
    pub charts: Vec<Chart>,
}

#[derive(Deserialize, Default)]
pub struct AdminQuery {
    from: Option<String>,
    to: Option<String>,
    notice: Option<String>,
}

fn staff_fields(n: &NewStaff) -> Vec<Field> {
    let v = |s: &str| Some(s.to_string());
    vec![
        Field::new("username", "用户名", "text").value(v(&n.username).as_ref()).hint("字母、数字、“-”“_”或“.”"),
        Field::new("password", "初始密码", "password").autocomplete("new-password").hint("至少8位，不能全是数字"),
        Field::new("role", "角色", "select").value(v(&n.role).as_ref()).options(
            [Role::Reviewer, Role::Inspector, Role::Auditor, Role::Admin]
                .iter()
                .map(|r| (r.id().to_string(), super::role_label(*r).to_string())),
        ),
        Field::new("department", "部门", "select")
            .value(n.department.as_ref())
            .optional()
            .hint("审核人员必填")
            .options(Department::ALL.iter().map(|d| (d.id().to_string(), d.label().to_string()))),
        Field::new("district", "所在区", "select")
            .value(n.district.as_ref())
            .optional()
            .hint("审核人员必填；检查人员可填")
            .options(District::ALL.iter().map(|d| (d.id().to_string(), d.label().to_string()))),
    ]
}

fn parse_day(name: &str, label: &str, v: Option<&str>) -> Result<Option<NaiveDate>, ApiError> {
    match v.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => nightpermit_domain::parse_date(s)
            .map(Some)
            .map_err(|e| ApiError::field(name, "INVALID_DATE", format!("{label}：{e}"))),
    }
}

fn day_start(d: NaiveDate) -> i64 {
    shanghai_millis(d.and_hms_opt(0, 0, 0).unwrap_or_default()).unwrap_or(0)
}

/// The whole page; the posts below fill in their part (errors, results) before rendering.
async fn admin_page(state: &AppState, session: &PageSession, q: &AdminQuery) -> ApiResult<AdminPage> {
    admin(session)?;
    let own = session.caller().principal_id().to_string();
    let staff = state
        .store
        .list_staff()
        .await?
        .into_iter()
        .map(|s| StaffRow {
            username: s.username,
            role: super::role_label(s.role),
            department: s.department.map(|d| d.label()).unwrap_or("—"),
            district: s.district.map(|d| d.label()).unwrap_or("—"),
            created_at: if s.created_at > 0 { rfc3339(s.created_at) } else { String::new() },
            disabled_at: s.disabled_at.map(rfc3339).unwrap_or_default(),
            own: s.id == own,
        })
        .collect();
    let rules = state
        .policy
        .rules
        .describe()
        .into_iter()
        .map(|r| RuleRow { id: r.id, outcome: r.outcome.label(), reason: r.reason, when: r.when })
        .collect();
    // The period: by default the twelve months up to today.
    let today = shanghai_today(state.clock.now_ms());
    let default_from = today - chrono::Duration::days(365);
    let mut stats_errors = Errors::default();
    let period = parse_day("from", "开始日期", q.from.as_deref())
        .and_then(|f| Ok((f, parse_day("to", "结束日期", q.to.as_deref())?)));
    let (from, to) = match period {
        Ok((f, t)) => (f.unwrap_or(default_from), t.unwrap_or(today)),
        Err(e) => {
            let fields = [Field::new("from", "开始日期", "date"), Field::new("to", "结束日期", "date")];
            stats_errors = Errors::from_api(&e, &fields.iter().collect::<Vec<_>>());
            (default_from, today)
        }
    };
    let (from, to) = if to < from { (to, from) } else { (from, to) };
    let stats = crate::stats::compute(state, day_start(from), day_start(to + chrono::Duration::days(1))).await?;
    let charts = vec![
        chart("per-month", "每月申请数", "件", &stats.per_month),
        chart("outcomes", "规则审批结论", "件", &stats.outcomes),
        chart("latency", "智能预审用时分布", "轮", &stats.latency),
        chart("decision-time", "各部门审核用时（中位数）", "小时", &stats.decision_hours),
        chart("findings", "预审发现（按代码）", "次", &stats.findings),
    ];
    Ok(AdminPage {
        title: "系统管理",
        nav: Nav::of(Some(session)),
        csrf: session.csrf(),
        notice: q.notice.clone().unwrap_or_default(),
        staff,
        staff_errors: Errors::default(),
        staff_fields: staff_fields(&NewStaff::default()),
        reset_errors: Errors::default(),
        account_errors: Errors::default(),
        rules_id: format!(
            "{} {}（sha256 {}）",
            state.policy.rules.id,
            state.policy.rules.version,
            state.policy.rules.sha256.get(..12).unwrap_or("")
        ),
        rules,
        simulate_errors: Errors::default(),
        simulation: None,
        from: from.to_string(),
        to: to.to_string(),
        stats_errors,
        auto_share: stats.auto_share.map(|s| format!("{:.1}%", s * 100.0)).unwrap_or_else(|| "—".into()),
        decisions: stats.decisions,
        charts,
    })
}

pub async fn page(
    State(state): State<AppState>,
    session: PageSession,
    Query(q): Query<AdminQuery>,
) -> ApiResult<AdminPage> {
    admin_page(&state, &session, &q).await
}

#[derive(Deserialize)]
pub struct StaffForm {
    csrf: Option<String>,
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    role: String,
    department: Option<String>,
    district: Option<String>,
}

/// Creates a staff account with the same validation as `nightpermit users add`.
pub async fn create_staff(
    State(state): State<AppState>,
    session: PageSession,
    Form(f): Form<StaffForm>,
) -> ApiResult<Response> {
    admin(&session)?;
    session.check_csrf(f.csrf.as_deref())?;
    let n = NewStaff {
        username: f.username,
        password: f.password,
        role: f.role,
        department: f.department,
        district: f.district,
    };
    match crate::staff::create_staff(&state, &n, &session.caller().actor()).await {
        Ok(s) => Ok(see_other(&format!("/admin?notice=created:{}#staff", s.username))),
        Err(e) if e.status == StatusCode::UNPROCESSABLE_ENTITY => {
            let mut page = admin_page(&state, &session, &AdminQuery::default()).await?;
            let fields = staff_fields(&n);
            page.staff_errors = Errors::from_api(&e, &fields.iter().collect::<Vec<_>>());
            page.staff_fields = fields.into_iter().map(|fl| fl.errors_from(&e.errors)).collect();
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        Err(e) => Err(e),
    }
}

#[derive(Deserialize)]
pub struct ResetForm {
    csrf: Option<String>,
    #[serde(default)]
    password: String,
}

/// Sets a new password for a staff account; its sessions end.
pub async fn reset_password(
    State(state): State<AppState>,
    session: PageSession,
    Path(username): Path<String>,
    Form(f): Form<ResetForm>,
) -> ApiResult<Response> {
    admin(&session)?;
    session.check_csrf(f.csrf.as_deref())?;
    match crate::staff::reset_password(&state, &username, &f.password, &session.caller().actor()).await {
        Ok(()) => Ok(see_other(&format!("/admin?notice=reset:{username}#staff"))),
        Err(e) if e.status == StatusCode::UNPROCESSABLE_ENTITY => {
            let mut page = admin_page(&state, &session, &AdminQuery::default()).await?;
            let field = Field::new("password", &format!("{username} 的新密码"), "password");
            page.reset_errors = Errors::from_api(&e, &[&field]);
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        Err(e) => Err(e),
    }
}

#[derive(Deserialize)]
pub struct CsrfOnly {
    csrf: Option<String>,
}

async fn set_disabled(
    state: &AppState,
    session: &PageSession,
    username: &str,
    csrf: Option<&str>,
    disabled: bool,
) -> ApiResult<Response> {
    admin(session)?;
    session.check_csrf(csrf)?;
    let caller = session.caller();
    let own = match caller {
        crate::auth::Caller::Staff(s) => Some(s.username.as_str()),
        crate::auth::Caller::Firm(_) => None,
    };
    let result = crate::staff::set_disabled(
        state.store.as_ref(),
        username,
        disabled,
        own,
        &caller.actor(),
        state.clock.now_ms(),
    )
    .await;
    match result {
        Ok(s) => {
            let what = if disabled { "disabled" } else { "enabled" };
            Ok(see_other(&format!("/admin?notice={what}:{}#staff", s.username)))
        }
        // Refusals (one's own account) are shown on the page beside the accounts table.
        Err(e) if e.status == StatusCode::CONFLICT => {
            let mut page = admin_page(state, session, &AdminQuery::default()).await?;
            page.account_errors = Errors::from_api(&e, &[]);
            Ok((e.status, page).into_response())
        }
        Err(e) => Err(e),
    }
}

/// Disables a staff account: it can no longer sign in and its sessions end.
pub async fn disable_staff(
    State(state): State<AppState>,
    session: PageSession,
    Path(username): Path<String>,
    Form(f): Form<CsrfOnly>,
) -> ApiResult<Response> {
    set_disabled(&state, &session, &username, f.csrf.as_deref(), true).await
}

/// Lets a disabled staff account sign in again.
pub async fn enable_staff(
    State(state): State<AppState>,
    session: PageSession,
    Path(username): Path<String>,
    Form(f): Form<CsrfOnly>,
) -> ApiResult<Response> {
    set_disabled(&state, &session, &username, f.csrf.as_deref(), false).await
}

/// Replays past decisions under an uploaded rule file (the CLI's `rules simulate`); nothing
/// is applied.
pub async fn simulate(
    State(state): State<AppState>,
    session: PageSession,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> ApiResult<Response> {
    admin(&session)?;
    let parts = read_parts(multipart, 1024 * 1024).await?;
    session.check_csrf(part_text(&parts, "csrf").as_deref())?;
    let mut page = admin_page(&state, &session, &AdminQuery::default()).await?;
    let result = async {
        let (name, bytes) = parts
            .get("file")
            .filter(|(_, b)| !b.is_empty())
            .ok_or_else(|| ApiError::field("file", "REQUIRED", "请选择要模拟的规则文件（TOML）"))?;
        let text = std::str::from_utf8(bytes)
            .map_err(|_| ApiError::field("file", "RULES_INVALID", "规则文件须为 UTF-8 编码的 TOML 文本"))?;
        let name = name.clone().filter(|n| !n.is_empty()).unwrap_or_else(|| "上传的规则文件".into());
        let rules = nightpermit_rules::RuleSet::from_toml(&name, text)
            .map_err(|e| ApiError::field("file", "RULES_INVALID", format!("规则文件有误：{e}")))?;
        let since = parse_day("since", "起始日期", part_text(&parts, "since").as_deref())?.map(day_start).unwrap_or(0);
        let sim = crate::staff::simulate(state.store.as_ref(), &rules, since).await?;
        Ok::<_, ApiError>(SimulationView {
            ruleset: format!("{} {}（sha256 {}）", rules.id, rules.version, rules.sha256.get(..12).unwrap_or("")),
            total: sim.total,
            changes: sim
                .changes
                .into_iter()
                .map(|c| ChangeRow {
                    application_id: c.case.split('#').next().unwrap_or("").to_string(),
                    case: c.case,
                    before: c.before.label(),
                    after: c.after.label(),
                    reasons: c.after_reasons.join("；"),
                })
                .collect(),
        })
    }
    .await;
    match result {
        Ok(sim) => {
            page.simulation = Some(sim);
            Ok(page.into_response())
        }
        Err(e) if e.status.is_client_error() => {
            let fields = [Field::new("file", "规则文件", "file"), Field::new("since", "起始日期", "date")];
            page.simulate_errors = Errors::from_api(&e, &fields.iter().collect::<Vec<_>>());
            Ok((e.status, page).into_response())
        }
        Err(e) => Err(e),
    }
}
