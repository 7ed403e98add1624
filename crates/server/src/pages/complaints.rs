//! A resident's complaint about night noise: the form (prefilled from a permit page or a
//! district's night list), filed by the cases crate as the API files it (rate-limited as the API
//! is, see `protection::Limited::of`), and its progress by reference — no personal data.

use super::accounts::FormPage;
use super::session::PageSession;
use super::{see_other, Errors, Field, Nav};
use crate::error::{ApiError, ApiResult, FieldError};
use crate::routes::complaints::{public_view, ComplaintContact, NewComplaint, PublicComplaint};
use crate::state::AppState;
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use nightpermit_domain::District;
use serde::Deserialize;

#[derive(Deserialize, Default)]
pub struct Prefill {
    permit: Option<String>,
    district: Option<String>,
}

#[derive(Deserialize, Default, Clone)]
pub struct ComplaintForm {
    #[serde(default)]
    district: String,
    #[serde(default)]
    permit_number: String,
    #[serde(default)]
    address: String,
    #[serde(default)]
    occurred_at: String,
    #[serde(default)]
    description: String,
    #[serde(default, rename = "contact.name")]
    contact_name: String,
    #[serde(default, rename = "contact.phone")]
    contact_phone: String,
    #[serde(default, rename = "contact.email")]
    contact_email: String,
}

fn fields(f: &ComplaintForm, errors: &[FieldError]) -> Vec<Field> {
    let v = |s: &String| Some(s.clone());
    vec![
        Field::new("district", "所在区", "select")
            .value(v(&f.district).as_ref())
            .options(District::ALL.iter().map(|d| (d.id().to_string(), d.label().to_string()))),
        Field::new("permit_number", "工地公示的许可证编号", "text")
            .value(v(&f.permit_number).as_ref())
            .optional()
            .hint("工地门口公示牌上的编号；不知道可留空，填写下面的地址"),
        Field::new("address", "施工地点", "text")
            .value(v(&f.address).as_ref())
            .optional()
            .hint("路名和门牌号，或附近的路口"),
        Field::new("occurred_at", "噪声发生时间", "datetime-local").value(v(&f.occurred_at).as_ref()),
        Field::new("description", "情况说明", "textarea").value(v(&f.description).as_ref()),
        Field::new("contact.name", "您的称呼", "text")
            .value(v(&f.contact_name).as_ref())
            .optional()
            .autocomplete("name")
            .hint("仅供处理人员回访，不会公开"),
        Field::new("contact.phone", "联系电话", "tel")
            .value(v(&f.contact_phone).as_ref())
            .optional()
            .autocomplete("tel"),
        Field::new("contact.email", "电子邮箱", "email")
            .value(v(&f.contact_email).as_ref())
            .optional()
            .autocomplete("email")
            .hint("选填；填写后，投诉每推进一步都会发邮件告诉您，不会公开"),
    ]
    .into_iter()
    .map(|fl| fl.errors_from(errors))
    .collect()
}

fn form_page(session: Option<&PageSession>, f: &ComplaintForm, error: Option<&ApiError>) -> FormPage {
    let field_errors = error.map(|e| e.errors.clone()).unwrap_or_default();
    let fields = fields(f, &field_errors);
    let errors = match error {
        Some(e) => Errors::from_api(e, &fields.iter().collect::<Vec<_>>()),
        None => Errors::default(),
    };
    FormPage {
        title: "投诉夜间施工噪声".into(),
        nav: Nav::of(session),
        intro: "提交后会得到一个查询编号，凭编号可随时查看处理进度：1个工作日内联系、3个工作日内现场检查、10个工作日内复查、15个工作日内办结。",
        action: "/complaints".into(),
        submit: "提交投诉",
        errors,
        fields,
        csrf: String::new(),
        after: "",
    }
}

/// `GET /complaints/new[?permit=…|?district=…]`.
pub async fn new_form(
    State(state): State<AppState>,
    session: Option<PageSession>,
    Query(q): Query<Prefill>,
) -> FormPage {
    let mut f = ComplaintForm { district: q.district.clone().unwrap_or_default(), ..Default::default() };
    if let Some(number) = q.permit.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
        f.permit_number = number.chars().take(40).collect();
        if let Ok((p, _, _)) = crate::routes::permits::public_permit_with_form(&state, number).await {
            f.district = p.district;
            f.address = p.project_address;
        }
    }
    form_page(session.as_ref(), &f, None)
}

fn none_if_empty(s: &str) -> Option<String> {
    Some(s.trim().to_string()).filter(|s| !s.is_empty())
}

/// `POST /complaints`: filed as the API files it; a datetime-local value is Shanghai time.
pub async fn file(
    State(state): State<AppState>,
    session: Option<PageSession>,
    Form(f): Form<ComplaintForm>,
) -> Response {
    let occurred = f.occurred_at.trim();
    let occurred_at = match occurred.len() {
        16 => format!("{occurred}:00+08:00"),
        19 => format!("{occurred}+08:00"),
        _ => occurred.to_string(),
    };
    let contact = [&f.contact_name, &f.contact_phone, &f.contact_email]
        .iter()
        .any(|s| none_if_empty(s).is_some())
        .then(|| ComplaintContact {
            name: none_if_empty(&f.contact_name),
            phone: none_if_empty(&f.contact_phone),
            email: none_if_empty(&f.contact_email),
        });
    let body = NewComplaint {
        district: f.district.trim().to_string(),
        // The permit number wins when both are given, as in the API.
        address: none_if_empty(&f.address).filter(|_| none_if_empty(&f.permit_number).is_none()),
        permit_number: none_if_empty(&f.permit_number),
        occurred_at,
        description: f.description.clone(),
        contact,
    };
    match state.file_complaint(&body).await.map_err(ApiError::from) {
        Ok(filed) => see_other(&format!("/complaints/{}?filed=1", filed.record.reference)),
        Err(e) if e.status == StatusCode::UNPROCESSABLE_ENTITY => {
            (StatusCode::UNPROCESSABLE_ENTITY, form_page(session.as_ref(), &f, Some(&e))).into_response()
        }
        Err(e) => e.into_response(),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "complaint.html")]
pub struct ComplaintPage {
    pub title: String,
    pub nav: Nav,
    pub c: PublicComplaint,
    pub filed: bool,
    pub district_name: String,
    pub priority_label: &'static str,
    pub outcome_label: &'static str,
}

#[derive(Deserialize)]
pub struct Filed {
    filed: Option<String>,
}

/// `GET /complaints/{reference}`: progress and outcome, as the public API shows them.
pub async fn show(
    State(state): State<AppState>,
    session: Option<PageSession>,
    Path(reference): Path<String>,
    Query(q): Query<Filed>,
) -> ApiResult<ComplaintPage> {
    let c = public_view(&state.complaint(&reference).await?);
    let district_name = c
        .district
        .parse::<District>()
        .map(|d| state.settings.district(d).name.clone())
        .unwrap_or_else(|_| c.district.clone());
    Ok(ComplaintPage {
        title: format!("投诉 {}", c.reference),
        nav: Nav::of(session.as_ref()),
        filed: q.filed.is_some(),
        district_name,
        priority_label: c.priority.label(),
        outcome_label: c.outcome.map(|o| o.label()).unwrap_or(""),
        c,
    })
}
