//! The inspector's page: the double-random inspections drawn for them, each with a form for
//! its result, and the open complaints of their district with the deadline of every step and a
//! form for the next one. Results and steps are recorded by the cases crate (the night limit,
//! the firm's record, the order of the steps); this page only presents them.

use super::session::PageSession;
use super::{see_other, Errors, Field, Nav};
use crate::auth::Caller;
use crate::error::{ApiError, ApiJson, ApiResult, FieldError};
use crate::routes::complaints::{staff_view, StaffComplaint};
use crate::routes::inspections::{my_inspections, record_result, InspectionView, ResultBody};
use crate::state::AppState;
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use nightpermit_cases::complaints::{ComplaintSelection, StepReport};
use nightpermit_domain::{ComplaintOutcome, ComplaintStep, InspectionStatus, Role};
use serde::Deserialize;

pub struct InspectionCard {
    pub v: InspectionView,
    pub status: &'static str,
    pub status_label: &'static str,
    pub open: bool,
    pub measures_label: &'static str,
    pub fields: Vec<Field>,
}

pub struct ComplaintCard {
    pub c: StaffComplaint,
    pub priority_label: &'static str,
    /// The step the next form records, if the complaint is not concluded.
    pub next: &'static str,
    pub next_label: &'static str,
    pub fields: Vec<Field>,
}

#[derive(Template, WebTemplate)]
#[template(path = "inspections.html")]
pub struct InspectionsPage {
    pub title: String,
    pub nav: Nav,
    pub csrf: String,
    pub district_name: String,
    pub limit_db: f64,
    pub errors: Errors,
    pub inspections: Vec<InspectionCard>,
    pub complaints: Vec<ComplaintCard>,
}

/// What a refused form sent, to show it again with its errors.
enum Refused<'a> {
    Result(&'a str, &'a ResultForm),
    Step(&'a str, &'a StepForm),
}

fn yes_no() -> Vec<(String, String)> {
    vec![("true".into(), "是".into()), ("false".into(), "否".into())]
}

/// A field of one of the page's many forms: its id carries the form's key so ids stay unique.
fn keyed(key: &str, name: &str, label: &str, kind: &'static str, value: &str) -> Field {
    let mut f = Field::new(name, label, kind).value(Some(&value.to_string()));
    f.id = format!("f-{key}-{}", name.replace(['.', '[', ']'], "-"));
    f
}

fn result_fields(id: &str, f: &ResultForm, errors: &[FieldError]) -> Vec<Field> {
    vec![
        keyed(id, "noise_db", "厂界夜间噪声 dB(A)", "text", &f.noise_db).hint("现场测得的数值，如 52.5"),
        keyed(id, "measures_ok", "降噪措施是否落实", "select", &f.measures_ok).options(yes_no()),
        keyed(id, "comment", "检查说明", "textarea", &f.comment).optional(),
    ]
    .into_iter()
    .map(|fl| fl.errors_from(errors))
    .collect()
}

fn step_fields(reference: &str, step: ComplaintStep, f: &StepForm, errors: &[FieldError]) -> Vec<Field> {
    let mut fields = match step {
        ComplaintStep::Contacted => vec![],
        ComplaintStep::Inspected => vec![
            keyed(reference, "noise_db", "现场测得噪声 dB(A)", "text", &f.noise_db).hint("如 62.5"),
            keyed(reference, "rectification_ordered", "是否责令整改", "select", &f.rectification_ordered)
                .options(yes_no()),
        ],
        ComplaintStep::Checked => {
            vec![keyed(reference, "rectified", "是否已整改到位", "select", &f.rectified).options(yes_no())]
        }
        ComplaintStep::Concluded => vec![keyed(reference, "outcome", "处理结论", "select", &f.outcome).options(
            [ComplaintOutcome::Upheld, ComplaintOutcome::NotUpheld]
                .map(|o| (o.id().to_string(), o.label().to_string())),
        )],
    };
    fields.push(keyed(reference, "note", "处理说明", "textarea", &f.note).optional());
    fields.into_iter().map(|fl| fl.errors_from(errors)).collect()
}

/// The error summary of one refused form, each entry linking to that form's own field.
fn summary(e: &ApiError, fields: &[Field]) -> Errors {
    let mut errors = Errors::from_api(e, &fields.iter().collect::<Vec<_>>());
    if !e.errors.is_empty() {
        for (item, fe) in errors.items.iter_mut().zip(&e.errors) {
            if let Some(f) = fields.iter().find(|f| f.name == fe.field) {
                item.href = format!("#{}", f.id);
            }
        }
    }
    errors
}

fn inspector(session: &PageSession) -> ApiResult<&Caller> {
    let caller = session.caller();
    if caller.role() != Role::Inspector {
        return Err(ApiError::forbidden(format!("此页面仅供{}使用", super::role_label(Role::Inspector))));
    }
    Ok(caller)
}

async fn page(
    state: &AppState,
    session: &PageSession,
    refused: Option<(&Refused<'_>, &ApiError)>,
) -> ApiResult<InspectionsPage> {
    let caller = inspector(session)?;
    let mut errors = Errors::default();
    let field_errors = |key: &str| match refused {
        Some((Refused::Result(k, _) | Refused::Step(k, _), e)) if *k == key => e.errors.clone(),
        _ => Vec::new(),
    };
    let mut inspections = Vec::new();
    for v in my_inspections(State(state.clone()), caller.clone()).await?.0.items {
        let blank = ResultForm::default();
        let sent = match refused {
            Some((Refused::Result(k, f), _)) if *k == v.id => f,
            _ => &blank,
        };
        let fields = result_fields(&v.id, sent, &field_errors(&v.id));
        if let Some((Refused::Result(k, _), e)) = refused {
            if *k == v.id {
                errors = summary(e, &fields);
            }
        }
        inspections.push(InspectionCard {
            status: v.status.id(),
            status_label: v.status.label(),
            open: v.status == InspectionStatus::Assigned,
            measures_label: match v.measures_ok {
                Some(true) => "已落实",
                Some(false) => "未落实",
                None => "",
            },
            fields,
            v,
        });
    }
    // Open ones first, then the recorded ones, each oldest first as the API lists them.
    inspections.sort_by_key(|i| !i.open);
    let mut complaints = Vec::new();
    if caller.district().is_some() {
        for case in state.complaints_to_follow(&caller.follower(), ComplaintSelection::default()).await? {
            let next = case.progress.next;
            let c = staff_view(&case);
            let reference = c.progress.reference.clone();
            let blank = StepForm::default();
            let sent = match refused {
                Some((Refused::Step(k, f), _)) if *k == reference => f,
                _ => &blank,
            };
            let fields = match next {
                Some(s) => step_fields(&reference, s, sent, &field_errors(&reference)),
                None => Vec::new(),
            };
            if let Some((Refused::Step(k, _), e)) = refused {
                if *k == reference {
                    errors = summary(e, &fields);
                }
            }
            complaints.push(ComplaintCard {
                priority_label: c.progress.priority.label(),
                next: next.map(|s| s.id()).unwrap_or(""),
                next_label: next.map(|s| s.label()).unwrap_or(""),
                fields,
                c,
            });
        }
    }
    // The most urgent first: overdue ones, then by the next deadline.
    complaints.sort_by_key(|c| {
        let due = c.c.progress.steps.iter().find(|s| s.done_at.is_none()).map(|s| s.due_by.clone());
        (!c.c.progress.overdue, due)
    });
    if let Some((_, e)) = refused {
        // A form that is no longer on the page (recorded meanwhile): its error still shows.
        if errors.is_empty() {
            errors = Errors::from_api(e, &[]);
        }
    }
    Ok(InspectionsPage {
        title: "今日检查".into(),
        nav: Nav::of(Some(session)),
        csrf: session.csrf(),
        district_name: caller.district().map(|d| state.settings.district(d).name.clone()).unwrap_or_default(),
        limit_db: state.settings.inspections.night_limit_db,
        errors,
        inspections,
        complaints,
    })
}

/// `GET /inspections`.
pub async fn show(State(state): State<AppState>, session: PageSession) -> ApiResult<InspectionsPage> {
    page(&state, &session, None).await
}

/// Answers a refused form: the page again with the form's errors (422 for fields, 409 when the
/// step or result was already recorded); anything else is the error page.
async fn refused_page(state: &AppState, session: &PageSession, refused: Refused<'_>, e: ApiError) -> Response {
    if e.status != StatusCode::UNPROCESSABLE_ENTITY && e.status != StatusCode::CONFLICT {
        return e.into_response();
    }
    match page(state, session, Some((&refused, &e))).await {
        Ok(p) => (e.status, p).into_response(),
        Err(e) => e.into_response(),
    }
}

fn flag(errors: &mut Vec<FieldError>, name: &str, value: &str) -> Option<bool> {
    match value.trim() {
        "true" => Some(true),
        "false" => Some(false),
        _ => {
            errors.push(FieldError::new(name, "REQUIRED", "请选择“是”或“否”"));
            None
        }
    }
}

/// A measured level as typed: a number (a comma taken as the decimal point), else a field error.
fn decibels(errors: &mut Vec<FieldError>, value: &str) -> Option<f64> {
    let v = value.trim().replace(['，', ','], ".");
    if v.is_empty() {
        errors.push(FieldError::new("noise_db", "REQUIRED", "请填写测得的噪声值"));
        return None;
    }
    match v.parse::<f64>() {
        Ok(db) => Some(db),
        Err(_) => {
            errors.push(FieldError::new("noise_db", "INVALID_VALUE", "噪声值应为0至200之间的分贝数"));
            None
        }
    }
}

#[derive(Deserialize, Default)]
pub struct ResultForm {
    csrf: Option<String>,
    #[serde(default)]
    noise_db: String,
    #[serde(default)]
    measures_ok: String,
    #[serde(default)]
    comment: String,
}

/// `POST /inspections/{id}/result`: through the API's result handler.
pub async fn result(
    State(state): State<AppState>,
    session: PageSession,
    Path(id): Path<String>,
    Form(f): Form<ResultForm>,
) -> Response {
    if let Err(e) = session.check_csrf(f.csrf.as_deref()).and_then(|()| inspector(&session).map(|_| ())) {
        return e.into_response();
    }
    let mut errors = Vec::new();
    let noise = decibels(&mut errors, &f.noise_db);
    let measures = flag(&mut errors, "measures_ok", &f.measures_ok);
    let outcome = match (noise, measures) {
        (Some(noise_db), Some(measures_ok)) if errors.is_empty() => {
            let body = ResultBody { noise_db, measures_ok, comment: Some(f.comment.clone()) };
            record_result(State(state.clone()), session.caller().clone(), Path(id.clone()), ApiJson(body))
                .await
                .map(|_| ())
        }
        _ => Err(ApiError::validation(errors)),
    };
    match outcome {
        Ok(()) => see_other(&format!("/inspections#i-{id}")),
        Err(e) => refused_page(&state, &session, Refused::Result(&id, &f), e).await,
    }
}

#[derive(Deserialize, Default)]
pub struct StepForm {
    csrf: Option<String>,
    #[serde(default)]
    step: String,
    #[serde(default)]
    note: String,
    #[serde(default)]
    noise_db: String,
    #[serde(default)]
    rectification_ordered: String,
    #[serde(default)]
    rectified: String,
    #[serde(default)]
    outcome: String,
}

fn step_report(f: &StepForm) -> ApiResult<StepReport> {
    let mut errors = Vec::new();
    let note = Some(f.note.clone());
    let body = match f.step.parse::<ComplaintStep>() {
        Ok(ComplaintStep::Contacted) => Some(StepReport::Contacted { note }),
        Ok(ComplaintStep::Inspected) => {
            let noise = decibels(&mut errors, &f.noise_db);
            let ordered = flag(&mut errors, "rectification_ordered", &f.rectification_ordered);
            noise.zip(ordered).map(|(noise_db, rectification_ordered)| StepReport::Inspected {
                noise_db,
                rectification_ordered,
                note,
            })
        }
        Ok(ComplaintStep::Checked) => {
            flag(&mut errors, "rectified", &f.rectified).map(|rectified| StepReport::Checked { rectified, note })
        }
        Ok(ComplaintStep::Concluded) => match f.outcome.parse::<ComplaintOutcome>() {
            Ok(outcome) => Some(StepReport::Concluded { outcome, note }),
            Err(_) => {
                errors.push(FieldError::new("outcome", "REQUIRED", "请选择处理结论"));
                None
            }
        },
        Err(e) => return Err(ApiError::field("step", "UNKNOWN_STEP", e.to_string())),
    };
    match body {
        Some(b) if errors.is_empty() => Ok(b),
        _ => Err(ApiError::validation(errors)),
    }
}

/// `POST /inspections/complaints/{reference}/steps`: recorded as the API records it.
pub async fn step(
    State(state): State<AppState>,
    session: PageSession,
    Path(reference): Path<String>,
    Form(f): Form<StepForm>,
) -> Response {
    if let Err(e) = session.check_csrf(f.csrf.as_deref()).and_then(|()| inspector(&session).map(|_| ())) {
        return e.into_response();
    }
    let outcome = match step_report(&f) {
        Ok(report) => state
            .record_complaint_step(&reference, &report, &session.caller().follower())
            .await
            .map(|_| ())
            .map_err(ApiError::from),
        Err(e) => Err(e),
    };
    match outcome {
        Ok(()) => see_other(&format!("/inspections#c-{reference}")),
        Err(e) => refused_page(&state, &session, Refused::Step(&reference, &f), e).await,
    }
}
