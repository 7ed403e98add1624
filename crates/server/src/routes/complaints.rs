//! Complaints about night noise (信访), followed by the 1/3/10/15-day rule: residents file one
//! without signing in and follow its progress by reference; the district's inspectors record
//! each step; an upheld complaint enters the firm's record and moves its grade.

use crate::auth::Caller;
use crate::error::{ApiError, ApiJson, ApiQuery, ApiResult, FieldError, Problem};
use crate::state::AppState;
use crate::views::{rfc3339, shanghai_local, shanghai_millis};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use nightpermit_cases::aftercare::{issued_permits, match_permits, work_calendar};
use nightpermit_domain::{ComplaintOutcome, ComplaintPriority, ComplaintStep, District, Role};
use nightpermit_rules::aftercare::deadlines;
use nightpermit_rules::grading::RecordKind;
use nightpermit_store::{ComplaintRecord, ComplaintStepUpdate, FirmRecordWrite};
use rand::Rng;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use utoipa::{IntoParams, ToSchema};

#[derive(Debug, Deserialize, ToSchema)]
pub struct ComplaintContact {
    pub name: Option<String>,
    pub phone: Option<String>,
    /// Where the complainant is told each time the complaint moves; `INVALID_EMAIL` if malformed.
    #[serde(default)]
    pub email: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewComplaint {
    /// District id, e.g. `jingan`.
    pub district: String,
    /// Where the noise is (either this or `permit_number`).
    pub address: Option<String>,
    /// The permit number posted at the site, if known.
    pub permit_number: Option<String>,
    /// When the noise occurred (RFC 3339).
    pub occurred_at: String,
    pub description: String,
    /// Optional; never shown publicly.
    pub contact: Option<ComplaintContact>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ComplaintDeadlines {
    pub contact_by: String,
    pub inspect_by: String,
    pub check_by: String,
    pub conclude_by: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ComplaintReceipt {
    pub reference: String,
    /// The permits in force at that place and time; empty means unpermitted night work.
    pub matched_permits: Vec<String>,
    /// `highest` for night work no permit covers, `normal` otherwise.
    pub priority: ComplaintPriority,
    pub deadlines: ComplaintDeadlines,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct StepProgress {
    pub step: ComplaintStep,
    pub label: String,
    pub due_by: String,
    pub done_at: Option<String>,
    pub overdue: bool,
}

/// A complaint as anyone holding its reference sees it: progress and outcome, no personal data
/// (no contact, no description, no inspector names).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PublicComplaint {
    pub reference: String,
    pub district: String,
    pub received_at: String,
    pub priority: ComplaintPriority,
    pub matched_permits: Vec<String>,
    pub deadlines: ComplaintDeadlines,
    pub steps: Vec<StepProgress>,
    /// `open` or `concluded`.
    pub status: String,
    pub outcome: Option<ComplaintOutcome>,
    pub overdue: bool,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct StaffComplaintContact {
    pub name: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
}

/// A complaint as the district's inspectors see it: everything needed to follow it up.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct StaffComplaint {
    #[serde(flatten)]
    pub progress: PublicComplaint,
    pub address: Option<String>,
    pub permit_number: Option<String>,
    pub occurred_at: String,
    /// Plain text, as written.
    pub description: String,
    pub contact: StaffComplaintContact,
    pub noise_db: Option<f64>,
    pub rectification_ordered: Option<bool>,
    pub rectified: Option<bool>,
    pub overdue_steps: Vec<ComplaintStep>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct StaffComplaintList {
    pub items: Vec<StaffComplaint>,
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct ComplaintQuery {
    /// District id; defaults to the inspector's own.
    pub district: Option<String>,
    /// Only complaints with a step past its deadline.
    pub overdue: Option<bool>,
    /// Include concluded complaints (default: open ones only).
    pub include_concluded: Option<bool>,
}

/// One step, as an inspector records it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(tag = "step", rename_all = "snake_case", deny_unknown_fields)]
pub enum StepBody {
    /// The complainant was contacted (1 day).
    Contacted { note: Option<String> },
    /// The site was inspected, with the measured level and whether rectification was ordered (3 days).
    Inspected { noise_db: f64, rectification_ordered: bool, note: Option<String> },
    /// The rectification was checked and monitoring arranged (10 days).
    Checked { rectified: bool, note: Option<String> },
    /// The case was concluded on the monitoring report (15 days).
    Concluded { outcome: ComplaintOutcome, note: Option<String> },
}

const STEPS: [ComplaintStep; 4] =
    [ComplaintStep::Contacted, ComplaintStep::Inspected, ComplaintStep::Checked, ComplaintStep::Concluded];

/// Letters and digits nobody misreads (no 0/O, 1/I/L): references are read out over the phone.
const REFERENCE_ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";

fn new_reference(now_ms: i64) -> String {
    let mut rng = rand::thread_rng();
    let tail: String =
        (0..8).map(|_| char::from(REFERENCE_ALPHABET[rng.gen_range(0..REFERENCE_ALPHABET.len())])).collect();
    format!("TS{}-{tail}", shanghai_local(now_ms).format("%Y%m%d"))
}

/// Plain text kept plain: control characters other than line breaks and tabs dropped, trimmed.
fn plain_text(s: &str) -> String {
    s.chars().filter(|c| !c.is_control() || *c == '\n' || *c == '\t').collect::<String>().trim().to_string()
}

fn optional_text(s: Option<&str>) -> Option<String> {
    s.map(plain_text).filter(|s| !s.is_empty())
}

fn deadline_view(c: &ComplaintRecord) -> ComplaintDeadlines {
    ComplaintDeadlines {
        contact_by: rfc3339(c.contact_by),
        inspect_by: rfc3339(c.inspect_by),
        check_by: rfc3339(c.check_by),
        conclude_by: rfc3339(c.conclude_by),
    }
}

fn matched(c: &ComplaintRecord) -> ApiResult<Vec<String>> {
    serde_json::from_str(&c.matched_permits).map_err(ApiError::internal)
}

fn public_view(c: &ComplaintRecord, now: i64) -> ApiResult<PublicComplaint> {
    let steps: Vec<StepProgress> = STEPS
        .iter()
        .map(|s| StepProgress {
            step: *s,
            label: s.label().into(),
            due_by: rfc3339(c.due_at(*s)),
            done_at: c.done_at(*s).map(rfc3339),
            overdue: c.overdue(*s, now),
        })
        .collect();
    Ok(PublicComplaint {
        reference: c.reference.clone(),
        district: c.district.clone(),
        received_at: rfc3339(c.received_at),
        priority: c.priority,
        matched_permits: matched(c)?,
        deadlines: deadline_view(c),
        overdue: steps.iter().any(|s| s.overdue),
        steps,
        status: if c.concluded_at.is_some() { "concluded" } else { "open" }.into(),
        outcome: c.outcome,
    })
}

fn staff_view(c: &ComplaintRecord, now: i64) -> ApiResult<StaffComplaint> {
    Ok(StaffComplaint {
        progress: public_view(c, now)?,
        address: c.address.clone(),
        permit_number: c.permit_number.clone(),
        occurred_at: rfc3339(c.occurred_at),
        description: c.description.clone(),
        contact: StaffComplaintContact {
            name: c.contact_name.clone(),
            phone: c.contact_phone.clone(),
            email: c.contact_email.clone(),
        },
        noise_db: c.noise_tenths_db.map(|t| t as f64 / 10.0),
        rectification_ordered: c.rectification_ordered,
        rectified: c.rectified,
        overdue_steps: STEPS.iter().copied().filter(|s| c.overdue(*s, now)).collect(),
    })
}

/// The inspectors of the complaint's district, and admins, follow complaints up.
fn follow_up(caller: &Caller, district: District) -> ApiResult<()> {
    match caller.role() {
        Role::Admin => Ok(()),
        Role::Inspector if caller.district() == Some(district) => Ok(()),
        Role::Inspector => Err(ApiError::forbidden("只能处理本区的投诉")),
        _ => Err(ApiError::forbidden("只有执法检查人员或管理员可以处理投诉")),
    }
}

/// Files a complaint about night construction noise. Public, rate-limited per client.
#[utoipa::path(post, path = "/api/v1/complaints", tag = "aftercare", request_body = NewComplaint,
    responses((status = 201, body = ComplaintReceipt), (status = 422, body = Problem), (status = 429, body = Problem)))]
pub async fn file_complaint(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<NewComplaint>,
) -> ApiResult<(StatusCode, Json<ComplaintReceipt>)> {
    let now = state.clock.now_ms();
    let mut errors = Vec::new();
    let district = body
        .district
        .parse::<District>()
        .map_err(|e| errors.push(FieldError::new("district", "UNKNOWN_DISTRICT", e.to_string())))
        .ok();
    let address = optional_text(body.address.as_deref());
    let permit_number = optional_text(body.permit_number.as_deref());
    if address.is_none() && permit_number.is_none() {
        errors.push(FieldError::new("address", "REQUIRED", "请填写施工地点（地址）或现场公示的许可证编号"));
    }
    if address.as_ref().is_some_and(|a| a.chars().count() > 200) {
        errors.push(FieldError::new("address", "TOO_LONG", "地址最多200字"));
    }
    if permit_number.as_ref().is_some_and(|n| n.chars().count() > 40) {
        errors.push(FieldError::new("permit_number", "TOO_LONG", "许可证编号最多40个字符"));
    }
    let occurred_at = match chrono::DateTime::parse_from_rfc3339(body.occurred_at.trim()) {
        Ok(t) if t.timestamp_millis() > now + 10 * 60_000 => {
            errors.push(FieldError::new("occurred_at", "IN_FUTURE", "发生时间不能晚于现在"));
            None
        }
        Ok(t) => Some(t.timestamp_millis()),
        Err(_) => {
            errors.push(FieldError::new(
                "occurred_at",
                "INVALID_TIME",
                "发生时间应为RFC 3339格式，如2026-12-01T23:30:00+08:00",
            ));
            None
        }
    };
    let description = plain_text(&body.description);
    if description.is_empty() || description.chars().count() > 2000 {
        errors.push(FieldError::new("description", "REQUIRED", "请用1至2000字描述噪声情况"));
    }
    let contact_name = optional_text(body.contact.as_ref().and_then(|c| c.name.as_deref()));
    let contact_phone = optional_text(body.contact.as_ref().and_then(|c| c.phone.as_deref()));
    if contact_name.as_ref().is_some_and(|n| n.chars().count() > 50) {
        errors.push(FieldError::new("contact.name", "TOO_LONG", "姓名最多50字"));
    }
    if contact_phone
        .as_ref()
        .is_some_and(|p| p.len() > 20 || !p.chars().all(|c| c.is_ascii_digit() || matches!(c, '+' | '-' | ' ')))
    {
        errors.push(FieldError::new("contact.phone", "INVALID_PHONE", "电话号码只能包含数字、空格、+ 和 -，最多20位"));
    }
    let contact_email = optional_text(body.contact.as_ref().and_then(|c| c.email.as_deref()));
    if contact_email.as_deref().is_some_and(|e| !nightpermit_cases::form::valid_email(e)) {
        errors.push(FieldError::new("contact.email", "INVALID_EMAIL", nightpermit_cases::form::INVALID_EMAIL_MESSAGE));
    }
    let (Some(district), Some(occurred_at), true) = (district, occurred_at, errors.is_empty()) else {
        return Err(ApiError::validation(errors));
    };

    let permits = issued_permits(&state, Some(district)).await?;
    let district_name = &state.settings.district(district).name;
    let matched = match_permits(&permits, district_name, permit_number.as_deref(), address.as_deref(), occurred_at);
    // No permit covered the work: unpermitted night construction, the most serious kind.
    let priority = if matched.is_empty() { ComplaintPriority::Highest } else { ComplaintPriority::Normal };
    let settings = &state.settings.complaints;
    let due = deadlines(shanghai_local(now), settings.steps(), settings.day_kind, &work_calendar(&state));
    let ms =
        |t| shanghai_millis(t).ok_or_else(|| ApiError::internal(anyhow::anyhow!("deadline {t} not representable")));
    let mut record = ComplaintRecord {
        id: uuid::Uuid::now_v7().to_string(),
        reference: new_reference(now),
        district: district.id().into(),
        address,
        permit_number,
        occurred_at,
        description,
        contact_name,
        contact_phone,
        contact_email,
        priority,
        matched_permits: serde_json::to_string(&matched).map_err(ApiError::internal)?,
        received_at: now,
        contact_by: ms(due.contact_by)?,
        inspect_by: ms(due.inspect_by)?,
        check_by: ms(due.check_by)?,
        conclude_by: ms(due.conclude_by)?,
        contacted_at: None,
        contacted_by: None,
        contact_note: None,
        inspected_at: None,
        inspected_by: None,
        noise_tenths_db: None,
        rectification_ordered: None,
        inspect_note: None,
        checked_at: None,
        checked_by: None,
        rectified: None,
        check_note: None,
        concluded_at: None,
        concluded_by: None,
        outcome: None,
        conclude_note: None,
    };
    // 31^8 references a day: a collision is a retry, not an error for the resident.
    let mut tries = 0;
    loop {
        match state.store.create_complaint(&record, "public").await {
            Ok(()) => break,
            Err(nightpermit_store::StoreError::AlreadyExists(_)) if tries < 3 => {
                tries += 1;
                record.reference = new_reference(now);
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok((
        StatusCode::CREATED,
        Json(ComplaintReceipt {
            reference: record.reference.clone(),
            matched_permits: matched,
            priority,
            deadlines: deadline_view(&record),
        }),
    ))
}

/// A complaint's progress and outcome, by its reference. Public; no personal data.
#[utoipa::path(get, path = "/api/v1/complaints/{reference}", tag = "aftercare",
    params(("reference" = String, Path, description = "the reference given when the complaint was filed")),
    responses((status = 200, body = PublicComplaint), (status = 404, body = Problem)))]
pub async fn get_complaint(
    State(state): State<AppState>,
    Path(reference): Path<String>,
) -> ApiResult<Json<PublicComplaint>> {
    let c = state.store.complaint(&reference).await?.ok_or_else(|| ApiError::not_found("投诉"))?;
    Ok(Json(public_view(&c, state.clock.now_ms())?))
}

/// A district's complaints for its inspectors and admins; `overdue=true` lists only those with
/// a step past its deadline.
#[utoipa::path(get, path = "/api/v1/complaints", tag = "aftercare", security(("bearer" = [])), params(ComplaintQuery),
    responses((status = 200, body = StaffComplaintList), (status = 401, body = Problem), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn list_complaints(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<ComplaintQuery>,
) -> ApiResult<Json<StaffComplaintList>> {
    let district = match q.district.as_deref() {
        Some(d) => d.parse::<District>().map_err(|e| ApiError::field("district", "UNKNOWN_DISTRICT", e.to_string()))?,
        None => caller.district().ok_or_else(|| ApiError::field("district", "REQUIRED", "请指定区（district）"))?,
    };
    follow_up(&caller, district)?;
    let now = state.clock.now_ms();
    let all = state.store.complaints_in_district(district.id(), !q.include_concluded.unwrap_or(false)).await?;
    let items = all
        .iter()
        .map(|c| staff_view(c, now))
        .collect::<ApiResult<Vec<_>>>()?
        .into_iter()
        .filter(|c| !q.overdue.unwrap_or(false) || c.progress.overdue)
        .collect();
    Ok(Json(StaffComplaintList { items }))
}

/// Records one step of a complaint. An upheld conclusion adds `complaint_upheld` to the record
/// of each firm whose permit the complaint matched and recomputes its grade, in one transaction.
#[utoipa::path(post, path = "/api/v1/complaints/{reference}/steps", tag = "aftercare", security(("bearer" = [])),
    params(("reference" = String, Path, description = "complaint reference")), request_body = StepBody,
    responses((status = 200, body = StaffComplaint), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn record_step(
    State(state): State<AppState>,
    caller: Caller,
    Path(reference): Path<String>,
    ApiJson(body): ApiJson<StepBody>,
) -> ApiResult<Json<StaffComplaint>> {
    let c = state.store.complaint(&reference).await?.ok_or_else(|| ApiError::not_found("投诉"))?;
    let district: District = c.district.parse().map_err(ApiError::internal)?;
    follow_up(&caller, district)?;
    let now = state.clock.now_ms();
    let note_of = |n: &Option<String>| -> ApiResult<Option<String>> {
        let n = optional_text(n.as_deref());
        if n.as_ref().is_some_and(|n| n.chars().count() > 500) {
            return Err(ApiError::field("note", "TOO_LONG", "说明最多500字"));
        }
        Ok(n)
    };
    let mut update = ComplaintStepUpdate {
        reference: reference.clone(),
        step: ComplaintStep::Contacted,
        by: caller.actor(),
        at: now,
        note: None,
        noise_tenths_db: None,
        rectification_ordered: None,
        rectified: None,
        outcome: None,
    };
    match &body {
        StepBody::Contacted { note } => update.note = note_of(note)?,
        StepBody::Inspected { noise_db, rectification_ordered, note } => {
            update.step = ComplaintStep::Inspected;
            update.noise_tenths_db = Some(nightpermit_cases::inspections::noise_tenths(*noise_db)?);
            update.rectification_ordered = Some(*rectification_ordered);
            update.note = note_of(note)?;
        }
        StepBody::Checked { rectified, note } => {
            update.step = ComplaintStep::Checked;
            update.rectified = Some(*rectified);
            update.note = note_of(note)?;
        }
        StepBody::Concluded { outcome, note } => {
            update.step = ComplaintStep::Concluded;
            update.outcome = Some(*outcome);
            update.note = note_of(note)?;
        }
    }
    // Checked here for a clear answer; the store checks again under the complaint's lock.
    if let Some(code) = c.refusal(update.step) {
        return Err(nightpermit_store::StoreError::Conflict(code).into());
    }
    let mut records: Vec<FirmRecordWrite> = Vec::new();
    if update.outcome == Some(ComplaintOutcome::Upheld) {
        let mut firms = BTreeSet::new();
        for number in matched(&c)? {
            if let Some(p) = state.store.permit(&number).await? {
                if let Some(app) = state.store.application(&p.application_id).await? {
                    firms.insert(app.firm_id);
                }
            }
        }
        for firm_id in firms {
            let Some(firm) = state.store.firm_by_id(&firm_id).await? else { continue };
            let note = format!("投诉{}经查属实", c.reference);
            let o = nightpermit_cases::grades::prepare(
                state.store.as_ref(),
                &state.policy.grading,
                &firm,
                RecordKind::ComplaintUpheld,
                c.occurred_at,
                &note,
                &caller.actor(),
                now,
            )
            .await?;
            records.push((o.entry, o.change));
        }
    }
    let updated = state.store.record_complaint_step(&update, &records, &caller.actor()).await?;
    Ok(Json(staff_view(&updated, now)?))
}
