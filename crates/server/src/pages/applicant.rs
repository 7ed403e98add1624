//! The applicant's pages: the list of its cases, the one form (new and edit), and the case with
//! its materials, pre-review, the two departments' tracks and the permit. Every change goes
//! through the API's handlers, which check ownership, status and the form.

use super::formdata;
use super::session::PageSession;
use super::tasks::{self, TaskList};
use super::{see_other, Errors, Field, Nav};
use crate::error::{ApiError, ApiJson, ApiQuery, ApiResult, FieldError};
use crate::routes::applications::{self as api, add_material, PageQuery};
use crate::state::AppState;
use crate::views::ApplicationView;
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Form, Multipart, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use nightpermit_domain::{ApplicationStatus, Department, District, MaterialKind, Process};
use std::collections::BTreeMap;

/// What the firm has to do next, by status.
pub fn next_step(status: ApplicationStatus) -> &'static str {
    use ApplicationStatus::*;
    match status {
        Draft => "上传材料后提交申请",
        Prereview => "智能预审中，请稍候查看结果",
        NeedsCorrection => "按预审或审核意见修改、补充材料后重新提交",
        UnderReview => "等待建设管理部门和生态环境部门审核",
        Approved => "已批准，许可证正在签章生成",
        Issued => "许可证已签发，可下载并在现场公示",
        Rejected => "不予批准，可查看理由",
        Withdrawn => "申请已撤回",
        Revoked => "许可证已被撤销",
        Expired => "许可证的夜间施工期限已过",
    }
}

pub struct Row {
    pub id: String,
    pub project_name: String,
    pub status: String,
    pub status_label: &'static str,
    pub dates: String,
    pub next_step: &'static str,
}

#[derive(Template, WebTemplate)]
#[template(path = "applications.html")]
pub struct ListPage {
    pub title: &'static str,
    pub nav: Nav,
    pub rows: Vec<Row>,
    pub total: i64,
}

pub async fn list(State(state): State<AppState>, session: PageSession) -> ApiResult<ListPage> {
    session.caller().firm()?;
    let query = PageQuery { page: Some(1), per_page: Some(state.settings.limits.page_size_max) };
    let page = api::list_applications(State(state.clone()), session.caller().clone(), ApiQuery(query)).await?.0;
    let rows = page
        .items
        .into_iter()
        .map(|a| Row {
            status: a.status.id().into(),
            status_label: a.status.label(),
            next_step: next_step(a.status),
            dates: format!("{} 至 {}", a.start_date, a.end_date),
            project_name: a.project_name,
            id: a.id,
        })
        .collect();
    Ok(ListPage { title: "我的申请", nav: Nav::of(Some(&session)), rows, total: page.total })
}

pub struct Section {
    /// The task of the task list this part of the form is (its anchor is `#task-{task}`).
    pub task: &'static str,
    pub title: &'static str,
    pub fields: Vec<Field>,
}

#[derive(Template, WebTemplate)]
#[template(path = "application_form.html")]
pub struct ApplicationFormPage {
    pub title: &'static str,
    pub nav: Nav,
    pub action: String,
    pub cancel: String,
    pub csrf: String,
    pub errors: Errors,
    pub tasklist: TaskList,
    pub sections: Vec<Section>,
    /// `check` when the firm came from the check-your-answers page (it goes back there).
    pub from: &'static str,
    /// The values are a form kept across an expired session, not yet saved.
    pub restored: bool,
}

/// The one form's fields, filled with `values`, each with its errors.
pub fn sections(values: &BTreeMap<String, String>, errors: &[FieldError]) -> Vec<Section> {
    let f = |name: &str, label: &str, kind: &'static str| Field::new(name, label, kind).value(values.get(name));
    let equipment_rows = values
        .keys()
        .filter_map(|k| k.strip_prefix("equipment[")?.split_once(']')?.0.parse::<usize>().ok())
        .max()
        .map_or(3, |last| (last + 2).clamp(3, 50));
    let mut equipment = Vec::new();
    for i in 0..equipment_rows {
        let n = i + 1;
        let optional = i > 0;
        let mut name = f(&format!("equipment[{i}].name"), &format!("设备{n} 名称"), "text");
        let mut count = f(&format!("equipment[{i}].count"), &format!("设备{n} 数量（台）"), "number");
        let mut level = f(&format!("equipment[{i}].sound_level_db"), &format!("设备{n} 声级 dB(A)"), "number");
        if optional {
            name = name.optional();
            count = count.optional();
            level = level.optional();
        }
        equipment.extend([name, count, level]);
    }
    let mut all = vec![
        Section {
            task: "project",
            title: "工程项目",
            fields: vec![
                f("district", "所在区", "select")
                    .options(District::ALL.iter().map(|d| (d.id().to_string(), d.label().to_string()))),
                f("project.name", "项目名称", "text"),
                f("project.address", "项目地址", "text"),
                f("project.construction_permit_no", "建筑工程施工许可证编号", "text").hint("6至40位字母、数字或连字符"),
                f("project.builder", "建设单位", "text"),
            ],
        },
        Section {
            task: "night_work",
            title: "夜间施工",
            fields: vec![
                f("night_work.start_date", "第一个施工夜的日期", "date"),
                f("night_work.end_date", "最后一个施工夜的日期", "date"),
                f("night_work.nightly_start", "每晚开始时间", "time").hint("22:00 以后"),
                f("night_work.nightly_end", "每晚结束时间（次日）", "time").hint("06:00 以前"),
                f("night_work.process", "需要夜间连续施工的工艺", "select")
                    .options(Process::ALL.iter().map(|p| (p.id().to_string(), p.label().to_string()))),
                f("night_work.description", "施工内容说明", "textarea"),
            ],
        },
        Section { task: "equipment", title: "夜间使用的设备（不用的行留空）", fields: equipment },
        Section {
            task: "measures",
            title: "噪声污染防治措施",
            fields: vec![f("measures", "降噪措施（每行一项）", "textarea")],
        },
        Section {
            task: "contact",
            title: "现场联系人",
            fields: vec![
                f("contact.name", "联系人", "text").autocomplete("name"),
                f("contact.phone", "联系电话", "tel").autocomplete("tel"),
            ],
        },
    ];
    for s in &mut all {
        s.fields = std::mem::take(&mut s.fields).into_iter().map(|fl| fl.errors_from(errors)).collect();
    }
    all
}

/// Where the form is and what is around it: its action, the way back, the saved draft (for the
/// materials task) and whether the firm came from the check page.
struct FormContext {
    title: &'static str,
    action: String,
    cancel: String,
    /// The saved draft's id and the kinds of its materials; `None` for a new form.
    draft: Option<(String, Vec<MaterialKind>)>,
    from: &'static str,
}

impl FormContext {
    fn new_form() -> Self {
        FormContext {
            title: "填写申请表",
            action: "/applications".into(),
            cancel: "/applications".into(),
            draft: None,
            from: "",
        }
    }

    async fn edit(state: &AppState, id: &str, from: &'static str) -> ApiResult<Self> {
        let kinds = state.store.materials(id).await?.into_iter().map(|m| m.kind).collect();
        let back = if from == "check" { format!("/applications/{id}/check") } else { format!("/applications/{id}") };
        Ok(FormContext {
            title: "修改申请表",
            action: format!("/applications/{id}/edit"),
            cancel: back,
            draft: Some((id.to_string(), kinds)),
            from,
        })
    }
}

/// The task list of a form with these values: the form's tasks link to their part of the form
/// at `form_href`, the materials to the case's upload forms once there is a draft.
pub fn task_list(
    state: &AppState,
    values: &BTreeMap<String, String>,
    form_href: &str,
    draft: Option<(&str, &[MaterialKind])>,
) -> TaskList {
    let errors = tasks::form_errors(values, crate::views::shanghai_today(state.clock.now_ms()));
    let mut list = tasks::form_tasks(values, &errors, |task| format!("{form_href}#task-{task}"));
    list.push(match draft {
        Some((id, kinds)) => tasks::materials_task(kinds, Some(format!("/applications/{id}#materials"))),
        None => tasks::materials_task(&[], None),
    });
    TaskList { tasks: list }
}

fn form_page(
    state: &AppState,
    session: &PageSession,
    ctx: FormContext,
    values: &BTreeMap<String, String>,
    error: Option<&ApiError>,
) -> ApplicationFormPage {
    let field_errors = error.map(|e| e.errors.clone()).unwrap_or_default();
    let sections = sections(values, &field_errors);
    let errors = match error {
        Some(e) => Errors::from_api(e, &sections.iter().flat_map(|s| s.fields.iter()).collect::<Vec<_>>()),
        None => Errors::default(),
    };
    // The tasks link to the fieldsets of this very page.
    let tasklist = task_list(state, values, "", ctx.draft.as_ref().map(|(id, k)| (id.as_str(), k.as_slice())));
    ApplicationFormPage {
        title: ctx.title,
        nav: Nav::of(Some(session)),
        action: ctx.action,
        cancel: ctx.cancel,
        csrf: session.csrf(),
        errors,
        tasklist,
        sections,
        from: ctx.from,
        restored: false,
    }
}

/// A form kept when the session ended while the firm was on `path`: shown instead of `values`,
/// and its cookie cleared.
fn with_kept_form(
    state: &AppState,
    headers: &HeaderMap,
    session: &PageSession,
    path: &str,
    values: BTreeMap<String, String>,
) -> (BTreeMap<String, String>, bool) {
    match super::drafts::take(state, headers, session, path) {
        Some(pairs) => (formdata::values_posted(&pairs), true),
        None => (values, false),
    }
}

fn restored_response(state: &AppState, page: ApplicationFormPage) -> Response {
    let restored = page.restored;
    let mut res = page.into_response();
    if restored {
        res.headers_mut().append(axum::http::header::SET_COOKIE, super::drafts::clear_cookie(state));
    }
    res
}

pub async fn new_form(State(state): State<AppState>, headers: HeaderMap, session: PageSession) -> ApiResult<Response> {
    session.caller().firm()?;
    let mut values = BTreeMap::new();
    // A firm's own contact is the usual site contact; it can change it.
    if let crate::auth::Caller::Firm(f) = session.caller() {
        values.insert("contact.name".to_string(), f.contact_name.clone());
        values.insert("contact.phone".to_string(), f.contact_phone.clone());
    }
    let (values, restored) = with_kept_form(&state, &headers, &session, "/applications/new", values);
    let mut page = form_page(&state, &session, FormContext::new_form(), &values, None);
    page.restored = restored;
    Ok(restored_response(&state, page))
}

fn csrf_of(pairs: &[(String, String)]) -> Option<&str> {
    pairs.iter().find(|(k, _)| k == "csrf").map(|(_, v)| v.as_str())
}

/// Answers a rejected form: field errors shown on the form (422), anything else as an error.
fn refused(
    state: &AppState,
    session: &PageSession,
    ctx: FormContext,
    pairs: &[(String, String)],
    mut e: ApiError,
    posted: &formdata::Posted,
) -> Response {
    if e.status != StatusCode::UNPROCESSABLE_ENTITY {
        return e.into_response();
    }
    e.errors = posted.page_errors(std::mem::take(&mut e.errors));
    let values = formdata::values_posted(pairs);
    (StatusCode::UNPROCESSABLE_ENTITY, form_page(state, session, ctx, &values, Some(&e))).into_response()
}

/// Creates the draft through the API's handler (validate_form, the store, the audit).
pub async fn create(
    State(state): State<AppState>,
    session: PageSession,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    if let Err(e) = session.check_csrf(csrf_of(&pairs)) {
        return e.into_response();
    }
    let posted = formdata::application(&pairs);
    match api::create_application(State(state.clone()), session.caller().clone(), ApiJson(posted.json.clone())).await {
        Ok((_, view)) => see_other(&format!("/applications/{}", view.0.id)),
        Err(e) => refused(&state, &session, FormContext::new_form(), &pairs, e, &posted),
    }
}

#[derive(serde::Deserialize, Default)]
pub struct EditQuery {
    from: Option<String>,
}

/// Only the check page is a place to go back to (a fixed path, never one sent by the browser).
fn from_check(from: Option<&str>) -> &'static str {
    if from == Some("check") {
        "check"
    } else {
        ""
    }
}

pub async fn edit_form(
    State(state): State<AppState>,
    headers: HeaderMap,
    session: PageSession,
    Path(id): Path<String>,
    Query(q): Query<EditQuery>,
) -> ApiResult<Response> {
    session.caller().firm()?;
    let app = api::visible_application(&state, session.caller(), &id).await?;
    if !app.status.editable() {
        return Err(nightpermit_store::StoreError::WrongStatus { current: app.status }.into());
    }
    let form: serde_json::Value = serde_json::from_str(&app.form).map_err(ApiError::internal)?;
    let path = format!("/applications/{id}/edit");
    let (values, restored) = with_kept_form(&state, &headers, &session, &path, formdata::values_of(&form));
    let ctx = FormContext::edit(&state, &id, from_check(q.from.as_deref())).await?;
    let mut page = form_page(&state, &session, ctx, &values, None);
    page.restored = restored;
    Ok(restored_response(&state, page))
}

/// Saves the whole form through the API's PATCH handler (the page always sends every field).
pub async fn edit(
    State(state): State<AppState>,
    session: PageSession,
    Path(id): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    if let Err(e) = session.check_csrf(csrf_of(&pairs)) {
        return e.into_response();
    }
    let from = from_check(pairs.iter().find(|(k, _)| k == "from").map(|(_, v)| v.as_str()));
    let posted = formdata::application(&pairs);
    let patch = null_missing(posted.json.clone());
    let result =
        api::patch_application(State(state.clone()), session.caller().clone(), Path(id.clone()), ApiJson(patch)).await;
    match result {
        Ok(_) if from == "check" => see_other(&format!("/applications/{id}/check")),
        Ok(_) => see_other(&format!("/applications/{id}")),
        Err(e) => match FormContext::edit(&state, &id, from).await {
            Ok(ctx) => refused(&state, &session, ctx, &pairs, e, &posted),
            Err(other) => other.into_response(),
        },
    }
}

/// Every field of the page form that was left empty becomes `null` in the merge patch, so the
/// validator reports it as missing instead of the old value staying silently.
fn null_missing(mut patch: serde_json::Value) -> serde_json::Value {
    if patch.get("district").is_none() {
        patch["district"] = serde_json::Value::Null;
    }
    const NESTED: &[(&str, &[&str])] = &[
        ("project", &["name", "address", "construction_permit_no", "builder"]),
        ("night_work", &["start_date", "end_date", "nightly_start", "nightly_end", "process", "description"]),
        ("contact", &["name", "phone"]),
    ];
    for (section, keys) in NESTED {
        if !patch[*section].is_object() {
            patch[*section] = serde_json::json!({});
        }
        for k in *keys {
            if patch[*section].get(*k).is_none() {
                patch[*section][*k] = serde_json::Value::Null;
            }
        }
    }
    patch
}

pub struct MaterialRow {
    pub id: String,
    pub kind: &'static str,
    pub kind_id: &'static str,
    pub filename: String,
    pub size_kb: i64,
    pub first_page: String,
    pub thumb: String,
}

impl MaterialRow {
    pub fn of(application_id: &str, m: &crate::views::MaterialView) -> Self {
        MaterialRow {
            id: m.id.clone(),
            kind: m.kind.label(),
            kind_id: m.kind.id(),
            filename: m.filename.clone(),
            size_kb: (m.size + 1023) / 1024,
            first_page: super::page_images::page_url(application_id, &m.id, 1),
            thumb: super::page_images::thumbnail_url(application_id, &m.id),
        }
    }
}

/// One kind of material with its files: the checklist of required and optional kinds, each
/// with its own upload form (and drop zone).
pub struct KindBlock {
    pub id: &'static str,
    pub label: &'static str,
    pub required: bool,
    pub files: Vec<MaterialRow>,
}

/// Every kind, in the checklist's order, with the case's files of that kind.
pub fn kind_blocks(application_id: &str, materials: &[crate::views::MaterialView]) -> Vec<KindBlock> {
    MaterialKind::ALL
        .iter()
        .map(|k| KindBlock {
            id: k.id(),
            label: k.label(),
            required: k.required(),
            files: materials.iter().filter(|m| m.kind == *k).map(|m| MaterialRow::of(application_id, m)).collect(),
        })
        .collect()
}

/// One pre-review finding, numbered as on the page images.
pub struct FindingRow {
    pub n: usize,
    pub id: String,
    pub code: String,
    pub severity: String,
    pub message: String,
    pub kind: String,
    pub expected: String,
    pub found: String,
    pub region: String,
}

/// A numbered box over a page image, in the page's own pixels.
pub struct RegionBox {
    pub n: usize,
    pub severity: String,
    pub region: String,
    pub x: u32,
    pub y: u32,
    pub w: u32,
    pub h: u32,
    pub label_x: u32,
    pub label_y: u32,
    pub font: u32,
}

/// One page of a material with the boxes of its findings, and those findings in words.
pub struct Figure {
    pub caption: String,
    pub src: String,
    pub width: u32,
    pub height: u32,
    pub boxes: Vec<RegionBox>,
    pub findings: Vec<FindingRow>,
}

/// An earlier pre-review round, kept for the record.
pub struct RoundRow {
    pub round: i64,
    pub outcome: &'static str,
    pub finished_at: String,
    pub findings: Vec<FindingRow>,
}

/// One entry of the case's history (its audit entries).
pub struct TimelineRow {
    pub at: String,
    pub who: &'static str,
    pub what: String,
}

pub struct TrackRow {
    pub department: &'static str,
    pub department_label: &'static str,
    pub status: &'static str,
    pub status_label: &'static str,
    pub comment: String,
    pub decided_at: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "case.html")]
pub struct CasePage {
    pub title: String,
    pub nav: Nav,
    pub csrf: String,
    pub v: ApplicationView,
    pub status: &'static str,
    pub district_label: &'static str,
    pub process_label: &'static str,
    pub next_step: &'static str,
    pub is_owner: bool,
    pub editable: bool,
    pub can_dispute: bool,
    pub can_withdraw: bool,
    pub refresh: bool,
    pub materials_count: usize,
    pub kind_blocks: Vec<KindBlock>,
    /// The task list, while the firm can still change the case.
    pub tasklist: TaskList,
    pub prereview_state: String,
    pub progress: String,
    pub outcome: String,
    pub figures: Vec<Figure>,
    /// Findings without a region on a shown page (a missing material, a whole-file problem).
    pub findings: Vec<FindingRow>,
    /// Every finding of the round that carries an id, for the dispute form.
    pub contestable: Vec<FindingRow>,
    pub rounds: Vec<RoundRow>,
    pub timeline: Vec<TimelineRow>,
    pub tracks: Vec<TrackRow>,
    pub permit_status: &'static str,
    /// A refused dispute: the summary, the comment as sent and its field's error.
    pub errors: Errors,
    pub dispute_comment: String,
    pub dispute_error: Option<crate::error::FieldError>,
}

fn text(v: &serde_json::Value, key: &str) -> String {
    match v.get(key) {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(serde_json::Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

fn num(v: &serde_json::Value, key: &str) -> u32 {
    v.get(key).and_then(serde_json::Value::as_u64).and_then(|n| u32::try_from(n).ok()).unwrap_or(0)
}

fn finding_rows(findings: &[serde_json::Value]) -> Vec<FindingRow> {
    findings
        .iter()
        .enumerate()
        .map(|(i, f)| FindingRow {
            n: i + 1,
            id: text(f, "id"),
            code: text(f, "code"),
            severity: text(f, "severity"),
            message: text(f, "message"),
            kind: text(f, "kind").parse::<MaterialKind>().map(|k| k.label().to_string()).unwrap_or_default(),
            expected: text(f, "expected"),
            found: text(f, "found"),
            region: f
                .get("region")
                .filter(|r| r.is_object())
                .map(|r| format!("{},{},{},{},{}", num(r, "page"), num(r, "x"), num(r, "y"), num(r, "w"), num(r, "h")))
                .unwrap_or_default(),
        })
        .collect()
}

/// The box of `region` on a page of `width` × `height`, kept inside the page.
fn region_box(n: usize, severity: &str, region: &serde_json::Value, width: u32, height: u32) -> RegionBox {
    let x = num(region, "x").min(width.saturating_sub(1));
    let y = num(region, "y").min(height.saturating_sub(1));
    let w = num(region, "w").clamp(1, width - x);
    let h = num(region, "h").clamp(1, height - y);
    let font = (width / 32).max(12);
    // The number sits above the box, or inside it at the top of the page.
    let label_y = if y > font + 4 { y - 6 } else { y + font };
    RegionBox {
        n,
        severity: severity.into(),
        region: format!("{},{},{},{},{}", num(region, "page"), x, y, w, h),
        x,
        y,
        w,
        h,
        label_x: x,
        label_y,
        font,
    }
}

/// The pages of the materials the findings point at, each with its numbered boxes; the
/// findings that point at no shown page are returned apart.
async fn figures(
    state: &AppState,
    v: &ApplicationView,
    findings: &[serde_json::Value],
    rows: Vec<FindingRow>,
) -> (Vec<Figure>, Vec<FindingRow>) {
    let mut figures: Vec<(String, u32, Figure)> = Vec::new();
    let mut rest = Vec::new();
    for (f, row) in findings.iter().zip(rows) {
        let material = text(f, "material_id");
        let region = f.get("region").filter(|r| r.is_object());
        let (Some(m), Some(region)) = (v.materials.iter().find(|m| m.id == material), region) else {
            rest.push(row);
            continue;
        };
        let page = num(region, "page").max(1);
        if let Some((_, _, fig)) = figures.iter_mut().find(|(id, p, _)| *id == m.id && *p == page) {
            let (w, h) = (fig.width, fig.height);
            fig.boxes.push(region_box(row.n, &row.severity, region, w, h));
            fig.findings.push(row);
            continue;
        }
        let shown = match super::page_images::pages_of(state, &m.sha256, &m.content_type).await {
            Ok(s) => s,
            Err(_) => {
                rest.push(row);
                continue;
            }
        };
        let Some(p) = shown.get(page as usize - 1) else {
            rest.push(row);
            continue;
        };
        let caption = if shown.len() > 1 {
            format!("{}：{}（第 {page} 页，共 {} 页）", m.kind.label(), m.filename, shown.len())
        } else {
            format!("{}：{}", m.kind.label(), m.filename)
        };
        figures.push((
            m.id.clone(),
            page,
            Figure {
                caption,
                src: super::page_images::page_url(&v.id, &m.id, page),
                width: p.width,
                height: p.height,
                boxes: vec![region_box(row.n, &row.severity, region, p.width, p.height)],
                findings: vec![row],
            },
        ));
    }
    (figures.into_iter().map(|(_, _, f)| f).collect(), rest)
}

fn local_time(ms: i64) -> String {
    crate::views::shanghai_local(ms).format("%Y-%m-%d %H:%M").to_string()
}

fn action_label(action: &str) -> &'static str {
    match action {
        "application.created" => "创建申请（草稿）",
        "application.edited" => "修改申请表",
        "material.added" => "上传材料",
        "material.removed" => "删除材料",
        "application.submitted" => "提交申请，进入智能预审",
        "prereview.finished" => "智能预审完成",
        "rules.decided" => "规则引擎作出分流决定",
        "prereview.disputed" => "对预审结论提出异议，转人工审核",
        "review.decided" => "审核部门作出决定",
        "application.withdrawn" => "撤回申请",
        "permit.issued" => "签发许可证",
        "permit.revoked" => "撤销许可证",
        "permit.expired" => "许可证到期",
        _ => "其他",
    }
}

fn actor_label(actor: &str) -> &'static str {
    if actor.starts_with("firm:") {
        "施工单位"
    } else if actor.starts_with("staff:") {
        "工作人员"
    } else {
        "系统"
    }
}

/// The case's history from its audit entries, oldest first; a department's decision names it.
async fn timeline(state: &AppState, id: &str) -> ApiResult<Vec<TimelineRow>> {
    let entries = state.store.audit_entries_for("application", id).await?;
    Ok(entries
        .into_iter()
        .map(|e| {
            let mut what = action_label(&e.action).to_string();
            if let Some(after) =
                e.after_state.as_deref().and_then(|a| serde_json::from_str::<serde_json::Value>(a).ok())
            {
                let dep = after.get("track").and_then(|d| d.as_str()).and_then(|d| d.parse::<Department>().ok());
                let status =
                    after.get("status").and_then(|s| s.as_str()).and_then(|s| s.parse::<ApplicationStatus>().ok());
                if let Some(d) = dep {
                    what = format!("{what}（{}）", d.label());
                }
                if let Some(s) = status {
                    what = format!("{what} → {}", s.label());
                }
            }
            TimelineRow { at: local_time(e.at), who: actor_label(&e.actor), what }
        })
        .collect())
}

/// The case, built by the same view as `GET /api/v1/applications/{id}`.
pub async fn case(
    State(state): State<AppState>,
    headers: HeaderMap,
    session: PageSession,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let mut page = case_page(&state, &session, &id, None).await?;
    // A dispute typed when the session had ended: its reason is back in the open form.
    let kept = super::drafts::take(&state, &headers, &session, &format!("/applications/{id}"));
    let comment = kept.as_ref().and_then(|pairs| pairs.iter().find(|(k, _)| k == "comment"));
    if let Some((_, c)) = comment {
        page.dispute_comment = c.clone();
    }
    let mut res = page.into_response();
    if kept.is_some() {
        res.headers_mut().append(axum::http::header::SET_COOKIE, super::drafts::clear_cookie(&state));
    }
    Ok(res)
}

/// The case page; with a refused dispute (its error and the comment sent) the form shows again.
pub async fn case_page(
    state: &AppState,
    session: &PageSession,
    id: &str,
    refused: Option<(&ApiError, &str)>,
) -> ApiResult<CasePage> {
    let (state, id) = (state.clone(), id.to_string());
    let case = api::visible_case(&state, session.caller(), &id).await?;
    let is_owner = matches!(session.caller(), crate::auth::Caller::Firm(f) if f.id == case.application.firm_id);
    let editable = is_owner && case.application.status.editable();
    let stored_form = case.application.form.clone();
    let v = api::application_view(&state, case)?;
    let kind_blocks = kind_blocks(&v.id, &v.materials);
    let tasklist = if editable {
        let form: serde_json::Value = serde_json::from_str(&stored_form).map_err(ApiError::internal)?;
        let kinds: Vec<MaterialKind> = v.materials.iter().map(|m| m.kind).collect();
        task_list(&state, &formdata::values_of(&form), &format!("/applications/{id}/edit"), Some((&id, &kinds)))
    } else {
        TaskList::default()
    };
    let (prereview_state, progress, outcome) = match &v.prereview {
        Some(p) => (
            p.state.clone(),
            format!("{}/{}", p.progress.materials_done, p.progress.materials_total),
            p.outcome.clone().unwrap_or_default(),
        ),
        None => Default::default(),
    };
    let round_findings = v.prereview.as_ref().map(|p| p.findings.clone()).unwrap_or_default();
    let rows = finding_rows(&round_findings);
    let contestable: Vec<FindingRow> = finding_rows(&round_findings).into_iter().filter(|f| !f.id.is_empty()).collect();
    let (figures, findings) =
        if prereview_state == "done" { figures(&state, &v, &round_findings, rows).await } else { (Vec::new(), rows) };
    // Earlier rounds stay on the record; the current one is shown above.
    let mut rounds = Vec::new();
    if v.prereview.as_ref().is_some_and(|p| p.round > 1) {
        let all =
            crate::routes::applications::list_rounds(State(state.clone()), session.caller().clone(), Path(id.clone()))
                .await?
                .0;
        let current = v.prereview.as_ref().map_or(0, |p| p.round);
        rounds = all
            .into_iter()
            .filter(|r| r.round < current)
            .rev()
            .map(|r| RoundRow {
                round: r.round,
                outcome: match r.outcome.as_deref() {
                    Some("pass") => "通过",
                    Some(_) => "需要补正",
                    None => "未完成",
                },
                finished_at: r.finished_at.clone().unwrap_or_default(),
                findings: finding_rows(&r.findings),
            })
            .collect();
    }
    let tracks = v
        .tracks
        .iter()
        .flatten()
        .map(|t| TrackRow {
            department: t.department.id(),
            department_label: t.department.label(),
            status: t.status.id(),
            status_label: t.status.label(),
            comment: t.comment.clone().unwrap_or_default(),
            decided_at: t.decided_at.clone().unwrap_or_default(),
        })
        .collect();
    let refresh = v.status == ApplicationStatus::Prereview || v.status == ApplicationStatus::Approved;
    let undecided = v.tracks.iter().flatten().all(|t| t.status == nightpermit_domain::TrackStatus::Pending);
    let can_withdraw = is_owner
        && (matches!(
            v.status,
            ApplicationStatus::Draft | ApplicationStatus::Prereview | ApplicationStatus::NeedsCorrection
        ) || (v.status == ApplicationStatus::UnderReview && undecided));
    Ok(CasePage {
        title: format!("申请：{}", v.project.name),
        nav: Nav::of(Some(session)),
        csrf: session.csrf(),
        status: v.status.id(),
        district_label: v.district.label(),
        process_label: v.night_work.process.label(),
        next_step: next_step(v.status),
        editable,
        can_dispute: is_owner && v.status == ApplicationStatus::NeedsCorrection && !contestable.is_empty(),
        can_withdraw,
        is_owner,
        refresh,
        materials_count: v.materials.len(),
        kind_blocks,
        tasklist,
        prereview_state,
        progress,
        outcome,
        figures,
        findings,
        contestable,
        rounds,
        timeline: timeline(&state, &id).await?,
        tracks,
        permit_status: v.permit.as_ref().map(|p| super::public::permit_status_label(&p.status)).unwrap_or(""),
        errors: match refused {
            Some((e, _)) => {
                let comment = super::Field::new("comment", "理由", "textarea");
                Errors::from_api(e, &[&comment])
            }
            None => Errors::default(),
        },
        dispute_comment: refused.map(|(_, c)| c.to_string()).unwrap_or_default(),
        dispute_error: refused.and_then(|(e, _)| e.errors.iter().find(|fe| fe.field == "comment").cloned()),
        v,
    })
}

/// Stores every file of the upload form (one `kind`, one or more `file`s) through the API's
/// material code, then shows the case again.
pub async fn upload(
    State(state): State<AppState>,
    session: PageSession,
    Path(id): Path<String>,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> ApiResult<Response> {
    let mut multipart = multipart?;
    let limit = state.settings.limits.max_upload_bytes;
    let failed = |e: axum::extract::multipart::MultipartError| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            crate::upload::too_large(limit)
        } else {
            ApiError::bad_request("MALFORMED_MULTIPART", format!("上传的表单无法读取：{}", e.body_text()))
        }
    };
    let (mut csrf, mut kind, mut files) = (None, None, Vec::new());
    while let Some(field) = multipart.next_field().await.map_err(failed)? {
        match field.name() {
            Some("csrf") => csrf = Some(field.text().await.map_err(failed)?),
            Some("kind") => kind = Some(field.text().await.map_err(failed)?),
            Some("file") => {
                let name = field.file_name().map(str::to_string);
                let bytes = field.bytes().await.map_err(failed)?;
                // A file input with nothing chosen still sends an empty part.
                if !bytes.is_empty() || name.as_deref().is_some_and(|n| !n.is_empty()) {
                    files.push((name, bytes));
                }
            }
            _ => {}
        }
    }
    session.check_csrf(csrf.as_deref())?;
    if files.is_empty() {
        add_material(&state, session.caller(), &id, kind.clone(), None).await?;
    }
    for file in files {
        add_material(&state, session.caller(), &id, kind.clone(), Some(file)).await?;
    }
    Ok(see_other(&format!("/applications/{id}#materials")))
}

#[derive(serde::Deserialize)]
pub struct SubmitForm {
    csrf: Option<String>,
    idempotency_key: Option<String>,
}

/// Submits through the API's handler; the form's one-time key makes a double click one submit.
pub async fn submit(
    State(state): State<AppState>,
    session: PageSession,
    Path(id): Path<String>,
    Form(f): Form<SubmitForm>,
) -> ApiResult<Response> {
    session.check_csrf(f.csrf.as_deref())?;
    let mut headers = HeaderMap::new();
    if let Some(v) = f.idempotency_key.as_deref().and_then(|k| HeaderValue::from_str(k).ok()) {
        headers.insert("idempotency-key", v);
    }
    let _receipt = api::submit_application(State(state), session.caller().clone(), Path(id.clone()), headers).await?;
    Ok(see_other(&format!("/applications/{id}")))
}
