//! The reviewer's pages: the queue of the department's tasks in the district, one task with
//! everything needed to decide it, and the decision form. The queue, the task check and the
//! decision are the review API's own functions; these pages only present them.

use super::session::PageSession;
use super::{see_other, Errors, Field, Nav};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::routes::applications::{application_view, visible_case};
use crate::routes::review::{decide, own_task, queue, reviewer, TaskDecisionBody};
use crate::state::AppState;
use crate::views::{rfc3339, ApplicationView};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Form, Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use nightpermit_domain::{ApplicationStatus, TrackStatus};
use nightpermit_rules::aftercare::{DayKind, WorkCalendar};
use nightpermit_store::QueueEntry;
use nightpermit_store::SiteApplication;
use serde::Deserialize;

/// How long something has waited, in words: "2天3小时", "5小时12分", "8分".
pub fn waited_text(ms: i64) -> String {
    let minutes = ms.max(0) / 60_000;
    let (days, hours, mins) = (minutes / 1440, minutes / 60 % 24, minutes % 60);
    if days > 0 {
        format!("{days}天{hours}小时")
    } else if hours > 0 {
        format!("{hours}小时{mins}分")
    } else {
        format!("{mins}分")
    }
}

/// `ok` within half the target, `due` within it, `late` past it: the target is the end of the
/// working day `target_working_days` after the task reached the queue.
pub fn urgency(state: &AppState, created_ms: i64, until_ms: i64) -> &'static str {
    urgency_in(
        &nightpermit_cases::aftercare::work_calendar(state),
        state.settings.review.target_working_days,
        created_ms,
        until_ms,
    )
}

/// [`urgency`] with the calendar built once, for a queue of hundreds of tasks.
fn urgency_in(calendar: &WorkCalendar, days: u32, created_ms: i64, until_ms: i64) -> &'static str {
    let received = crate::views::shanghai_local(created_ms).date();
    let due_day = calendar.add_days(received, days, DayKind::Working);
    let due_ms = due_day
        .succ_opt()
        .and_then(|d| crate::views::shanghai_millis(d.and_hms_opt(0, 0, 0).unwrap_or_default()))
        .unwrap_or(created_ms + i64::from(days.max(1)) * 86_400_000);
    if until_ms > due_ms {
        "late"
    } else if until_ms - created_ms > (due_ms - created_ms) / 2 {
        "due"
    } else {
        "ok"
    }
}

fn urgency_label(u: &str) -> &'static str {
    match u {
        "late" => "已超时",
        "due" => "临近时限",
        _ => "时限内",
    }
}

pub struct FilterLink {
    pub value: &'static str,
    pub label: &'static str,
    pub count: i64,
    pub active: bool,
}

pub struct QueueRow {
    pub task_id: String,
    pub application_id: String,
    pub project_name: String,
    pub firm_name: String,
    pub round: i64,
    pub status: &'static str,
    pub status_label: &'static str,
    pub reasons: Vec<String>,
    pub received: String,
    pub waited: String,
    pub urgency: &'static str,
    pub urgency_label: &'static str,
    pub other_department: &'static str,
    pub other_status: &'static str,
    pub other_label: &'static str,
}

#[derive(Template, WebTemplate)]
#[template(path = "review_queue.html")]
pub struct QueuePage {
    pub title: String,
    pub nav: Nav,
    pub department_label: &'static str,
    pub district_name: String,
    pub target_days: u32,
    pub filter: String,
    pub filters: Vec<FilterLink>,
    pub rows: Vec<QueueRow>,
    /// Paging: this page, the last page, the tasks in this state, the first row's place.
    pub page: usize,
    pub pages: usize,
    pub total: usize,
    pub first: usize,
}

/// Tasks per queue page: the oldest fifty are what a reviewer works through; a district's
/// whole backlog on one page made it 350 KB at 500 tasks.
pub const QUEUE_PAGE_SIZE: usize = 50;

#[derive(Deserialize)]
pub struct QueueQuery {
    status: Option<String>,
    /// 1-based; anything else shows the first page.
    page: Option<String>,
}

fn filter_label(f: &str) -> &'static str {
    match f {
        "pending" => "待审核",
        "approved" => "已同意",
        "rejected" => "不予批准",
        "correction_requested" => "要求补正",
        _ => "全部",
    }
}

fn queue_row(e: QueueEntry, calendar: &WorkCalendar, target_days: u32, now: i64) -> QueueRow {
    let t = e.track;
    let until = t.decided_at.unwrap_or(now);
    let u = urgency_in(calendar, target_days, t.created_at, until);
    QueueRow {
        task_id: t.id,
        application_id: t.application_id,
        project_name: e.project_name,
        firm_name: e.firm_name,
        round: t.round,
        status: t.status.id(),
        status_label: t.status.label(),
        reasons: serde_json::from_str(&t.reasons).unwrap_or_default(),
        received: rfc3339(t.created_at),
        waited: waited_text(until - t.created_at),
        urgency: u,
        urgency_label: urgency_label(u),
        other_department: e.other.map(|(d, _)| d.label()).unwrap_or("另一部门"),
        other_status: e.other.map(|(_, s)| s.id()).unwrap_or("none"),
        other_label: e.other.map(|(_, s)| s.label()).unwrap_or("无"),
    }
}

/// `/review`: the queue in one state (pending by default), oldest first, with the count of
/// every state as a filter.
pub async fn queue_page(
    State(state): State<AppState>,
    session: PageSession,
    Query(q): Query<QueueQuery>,
) -> ApiResult<QueuePage> {
    let caller = session.caller();
    let (department, district) = reviewer(caller)?;
    let filter = q.status.filter(|s| !s.is_empty()).unwrap_or_else(|| "pending".into());
    // The other filters' counts in one grouped query rather than listing each queue.
    let counts = state.store.review_queue_counts(&district, department.id()).await?;
    let count_of = |f: &str| match f {
        "pending" => counts.pending,
        "approved" => counts.approved,
        "rejected" => counts.rejected,
        "correction_requested" => counts.correction_requested,
        _ => counts.all,
    };
    let filters = crate::routes::review::TASK_FILTERS
        .into_iter()
        .map(|f| FilterLink { value: f, label: filter_label(f), count: count_of(f), active: f == filter })
        .collect();
    let total = usize::try_from(count_of(&filter)).unwrap_or(0);
    let pages = total.div_ceil(QUEUE_PAGE_SIZE).max(1);
    let page = q.page.as_deref().and_then(|p| p.trim().parse::<usize>().ok()).unwrap_or(1).clamp(1, pages);
    let first = (page - 1) * QUEUE_PAGE_SIZE;
    let limit = i64::try_from(QUEUE_PAGE_SIZE).unwrap_or(50);
    let offset = i64::try_from(first).unwrap_or(0);
    let entries = queue(&state, caller, Some(&filter), Some((limit, offset))).await?;
    let now = state.clock.now_ms();
    let calendar = nightpermit_cases::aftercare::work_calendar(&state);
    let days = state.settings.review.target_working_days;
    let rows = entries.into_iter().map(|e| queue_row(e, &calendar, days, now)).collect();
    let district_name = district
        .parse::<nightpermit_domain::District>()
        .map(|d| state.settings.district(d).name.clone())
        .unwrap_or(district);
    Ok(QueuePage {
        title: format!("审核队列 · {}", filter_label(&filter)),
        nav: Nav::of(Some(&session)),
        department_label: department.label(),
        district_name,
        target_days: state.settings.review.target_working_days,
        filter,
        filters,
        rows,
        page,
        pages,
        total,
        first: first + 1,
    })
}

pub struct MaterialLink {
    pub href: String,
    pub kind: &'static str,
    pub filename: String,
    pub size_kb: i64,
}

pub struct FindingRow {
    pub code: String,
    pub severity: String,
    pub message: String,
    pub kind: String,
    pub expected: String,
    pub found: String,
}

pub struct FactRow {
    pub name: String,
    pub value: String,
}

pub struct TraceRow {
    pub rule: String,
    pub result: bool,
    pub facts: Vec<FactRow>,
}

pub struct TrackRow {
    pub id: String,
    pub department: &'static str,
    pub department_label: &'static str,
    pub status: &'static str,
    pub status_label: &'static str,
    pub reasons: Vec<String>,
    pub decided_by: String,
    pub decided_at: String,
    pub comment: String,
    pub mine: bool,
}

pub struct SiteRow {
    pub id: String,
    pub project_name: String,
    pub dates: String,
    pub status: &'static str,
    pub status_label: &'static str,
    pub permit: String,
}

pub struct RecordRow {
    pub kind: String,
    pub occurred_at: String,
    pub note: String,
}

pub struct TimelineRow {
    pub at: String,
    pub actor: String,
    pub action: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "review_task.html")]
pub struct TaskPage {
    pub title: String,
    pub nav: Nav,
    pub csrf: String,
    pub task_id: String,
    pub round: i64,
    pub task_status: &'static str,
    pub task_status_label: &'static str,
    pub department_label: &'static str,
    pub open: bool,
    pub waited: String,
    pub urgency: &'static str,
    pub urgency_label: &'static str,
    pub v: ApplicationView,
    pub status: &'static str,
    pub process_label: &'static str,
    pub materials: Vec<MaterialLink>,
    pub findings: Vec<FindingRow>,
    pub decision_outcome: String,
    pub decision_label: &'static str,
    pub decision_reasons: Vec<String>,
    pub trace: Vec<TraceRow>,
    pub ruleset: String,
    pub grade: String,
    pub grade_label: &'static str,
    pub records: Vec<RecordRow>,
    pub site: Vec<SiteRow>,
    pub tracks: Vec<TrackRow>,
    pub timeline: Vec<TimelineRow>,
    pub errors: Errors,
    pub outcome: String,
    pub comment: Field,
}

fn text(v: &serde_json::Value, key: &str) -> String {
    match v.get(key) {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(serde_json::Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

fn grade_label(g: &str) -> &'static str {
    match g {
        "green" => "绿码",
        "yellow" => "黄码",
        "red" => "红码",
        _ => "未知",
    }
}

fn action_label(a: &str) -> String {
    let label = match a {
        "application.created" => "创建申请",
        "application.edited" => "修改申请表",
        "material.added" => "上传材料",
        "material.removed" => "删除材料",
        "application.submitted" => "提交申请",
        "prereview.finished" => "智能预审完成",
        "rules.decided" => "规则审批",
        "review.decided" => "部门审核",
        "permit.issued" => "许可证签发",
        "permit.revoked" => "许可证撤销",
        "permit.expired" => "许可证到期",
        "permit.number_allocated" => "分配许可证编号",
        "application.withdrawn" => "撤回申请",
        "prereview.disputed" => "对预审提出异议",
        _ => "",
    };
    if label.is_empty() {
        a.to_string()
    } else {
        format!("{label}（{a}）")
    }
}

/// Everything about one task's case, gathered through the API's own views.
async fn task_page(
    state: &AppState,
    session: &PageSession,
    task_id: &str,
    errors: Errors,
    outcome: &str,
    comment: Field,
) -> ApiResult<TaskPage> {
    let caller = session.caller();
    let task = own_task(state, caller, task_id).await?;
    let case = visible_case(state, caller, &task.application_id).await?;
    let site_no = case.application.construction_permit_no.clone();
    // The case file holds the latest round's tracks, the same as `Store::tracks` reads.
    let latest_tracks = case.tracks.clone();
    let v = application_view(state, case)?;
    let now = state.clock.now_ms();
    let until = task.decided_at.unwrap_or(now);
    let u = urgency(state, task.created_at, until);
    let materials = v
        .materials
        .iter()
        .map(|m| MaterialLink {
            href: format!("/review/tasks/{}/materials/{}", task.id, m.id),
            kind: m.kind.label(),
            filename: m.filename.clone(),
            size_kb: (m.size + 1023) / 1024,
        })
        .collect();
    let findings = v
        .prereview
        .iter()
        .flat_map(|p| p.findings.iter())
        .map(|f| FindingRow {
            code: text(f, "code"),
            severity: text(f, "severity"),
            message: text(f, "message"),
            kind: text(f, "kind")
                .parse::<nightpermit_domain::MaterialKind>()
                .map(|k| k.label().to_string())
                .unwrap_or_default(),
            expected: text(f, "expected"),
            found: text(f, "found"),
        })
        .collect();
    let (decision_outcome, decision_label, decision_reasons, trace, ruleset) = match &v.decision {
        Some(d) => (
            d.outcome.id().to_string(),
            d.outcome.label(),
            d.reasons.clone(),
            d.trace
                .iter()
                .map(|t| TraceRow {
                    rule: t.rule.clone(),
                    result: t.result,
                    facts: t
                        .facts
                        .as_object()
                        .map(|o| {
                            o.iter()
                                .map(|(k, val)| FactRow {
                                    name: k.clone(),
                                    value: match val {
                                        serde_json::Value::String(s) => s.clone(),
                                        other => other.to_string(),
                                    },
                                })
                                .collect()
                        })
                        .unwrap_or_default(),
                })
                .collect(),
            format!("{} {}（sha256 {}）", d.ruleset_id, d.ruleset_version, d.ruleset_sha256.get(..12).unwrap_or("")),
        ),
        None => (String::new(), "无规则审批记录", Vec::new(), Vec::new(), String::new()),
    };
    // The firm's grade and record, as the admin API shows it to reviewers.
    let record =
        crate::routes::admin::get_records(State(state.clone()), caller.clone(), Path(v.firm.credit_code.clone()))
            .await?
            .0;
    let mut site = Vec::new();
    for SiteApplication { application: other, permit_number } in state.store.applications_by_site(&site_no).await? {
        if other.id == v.id {
            continue;
        }
        let name = serde_json::from_str::<nightpermit_cases::form::ApplicationForm>(&other.form)
            .map(|f| f.project.name)
            .unwrap_or_default();
        site.push(SiteRow {
            dates: format!("{} 至 {}", other.start_date, other.end_date),
            status: other.status.id(),
            status_label: other.status.label(),
            permit: permit_number.unwrap_or_default(),
            project_name: name,
            id: other.id,
        });
    }
    let tracks = latest_tracks
        .into_iter()
        .filter(|t| t.round == task.round)
        .map(|t| TrackRow {
            mine: t.id == task.id,
            department: t.department.id(),
            department_label: t.department.label(),
            status: t.status.id(),
            status_label: t.status.label(),
            reasons: serde_json::from_str(&t.reasons).unwrap_or_default(),
            decided_by: t.decided_by.unwrap_or_default(),
            decided_at: t.decided_at.map(rfc3339).unwrap_or_default(),
            comment: t.comment.unwrap_or_default(),
            id: t.id,
        })
        .collect();
    let timeline = state
        .store
        .audit_entries_for("application", &v.id)
        .await?
        .into_iter()
        .map(|e| TimelineRow { at: rfc3339(e.at), actor: e.actor, action: action_label(&e.action) })
        .collect();
    Ok(TaskPage {
        title: format!("审核：{}", v.project.name),
        nav: Nav::of(Some(session)),
        csrf: session.csrf(),
        task_id: task.id.clone(),
        round: task.round,
        task_status: task.status.id(),
        task_status_label: task.status.label(),
        department_label: task.department.label(),
        open: task.status == TrackStatus::Pending && v.status == ApplicationStatus::UnderReview,
        waited: waited_text(until - task.created_at),
        urgency: u,
        urgency_label: urgency_label(u),
        status: v.status.id(),
        process_label: v.night_work.process.label(),
        materials,
        findings,
        decision_outcome,
        decision_label,
        decision_reasons,
        trace,
        ruleset,
        grade_label: grade_label(&record.grade),
        grade: record.grade,
        records: record
            .records
            .into_iter()
            .map(|r| RecordRow { kind: r.kind, occurred_at: r.occurred_at, note: r.note })
            .collect(),
        site,
        tracks,
        timeline,
        errors,
        outcome: outcome.to_string(),
        comment,
        v,
    })
}

fn comment_field(value: &str) -> Field {
    Field::new("comment", "审核意见", "textarea")
        .value(Some(&value.to_string()))
        .optional()
        .hint("不予批准或要求补正时必填，申请人将看到该意见")
}

/// `/review/tasks/{id}`: one case to decide.
pub async fn task(State(state): State<AppState>, session: PageSession, Path(id): Path<String>) -> ApiResult<TaskPage> {
    task_page(&state, &session, &id, Errors::default(), "", comment_field("")).await
}

#[derive(Deserialize)]
pub struct DecisionForm {
    csrf: Option<String>,
    #[serde(default)]
    outcome: String,
    #[serde(default)]
    comment: String,
}

/// Decides through the review API's own decision; a refused form comes back with its errors.
pub async fn decision(
    State(state): State<AppState>,
    session: PageSession,
    Path(id): Path<String>,
    Form(f): Form<DecisionForm>,
) -> Response {
    if let Err(e) = session.check_csrf(f.csrf.as_deref()) {
        return e.into_response();
    }
    let body = TaskDecisionBody { outcome: f.outcome.clone(), comment: Some(f.comment.clone()) };
    match decide(&state, session.caller(), &id, body).await {
        Ok(_) => see_other("/review"),
        Err(e) if e.status == StatusCode::UNPROCESSABLE_ENTITY => {
            let outcome = Field::new("outcome", "审核结论", "radio").errors_from(&e.errors);
            let comment = comment_field(&f.comment).errors_from(&e.errors);
            let mut errors = Errors::from_api(&e, &[&outcome, &comment]);
            for item in &mut errors.items {
                if item.href == "#f-outcome" {
                    item.href = "#f-outcome-approve".into();
                }
            }
            match task_page(&state, &session, &id, errors, &f.outcome, comment).await {
                Ok(page) => (StatusCode::UNPROCESSABLE_ENTITY, page).into_response(),
                Err(e) => e.into_response(),
            }
        }
        Err(e) => e.into_response(),
    }
}

/// A material of the task's case, for the reviewer to open (types were sniffed on upload).
pub async fn material(
    State(state): State<AppState>,
    session: PageSession,
    Path((task_id, material_id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let caller: &Caller = session.caller();
    let task = own_task(&state, caller, &task_id).await?;
    let m = state
        .store
        .materials(&task.application_id)
        .await?
        .into_iter()
        .find(|m| m.id == material_id)
        .ok_or_else(|| ApiError::not_found("材料"))?;
    let bytes = state.blobs.get(&m.sha256).await.map_err(ApiError::internal)?;
    let mut res = (StatusCode::OK, bytes).into_response();
    let h = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&m.content_type) {
        h.insert(header::CONTENT_TYPE, v);
    }
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("default-src 'none'; sandbox"));
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waiting_is_said_in_days_hours_and_minutes() {
        assert_eq!(waited_text(8 * 60_000), "8分");
        assert_eq!(waited_text((5 * 60 + 12) * 60_000), "5小时12分");
        assert_eq!(waited_text((2 * 1440 + 3 * 60) * 60_000), "2天3小时");
    }
}
