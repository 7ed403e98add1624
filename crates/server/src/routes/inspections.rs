//! Double-random inspections (双随机、一公开): an admin draws permits in force in a district,
//! weighted by the firm's grade, and assigns the district's inspectors at random; the seed is
//! stored and returned so anyone can replay the draw. Inspectors record results against the
//! GB 12523 night limit; a failure enters the firm's record; results are public on the permit.

use crate::auth::Caller;
use crate::error::{ApiError, ApiJson, ApiResult, Problem};
use crate::routes::complaints::tenths;
use crate::state::AppState;
use crate::views::rfc3339;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use nightpermit_cases::aftercare::{in_force_now, issued_permits};
use nightpermit_domain::{DecisionOutcome, District, InspectionStatus, Role};
use nightpermit_rules::grading::{Grade, RecordKind};
use nightpermit_store::{InspectionDrawRecord, InspectionRecord, InspectionResult, StoreError};
use rand::Rng;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Deserialize, ToSchema)]
pub struct DrawRequest {
    pub district: String,
    pub count: u32,
    /// Replays an earlier draw; a fresh one is chosen and returned when absent.
    pub seed: Option<u64>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DrawnInspection {
    pub inspection_id: String,
    pub permit_number: String,
    pub grade: String,
    pub auto_approved: bool,
    /// The inspector's username.
    pub inspector: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct FrameEntry {
    pub permit_number: String,
    pub grade: String,
    pub weight: u32,
    pub auto_approved: bool,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DrawView {
    pub draw_id: String,
    pub district: String,
    pub seed: u64,
    pub requested: u32,
    /// Every permit in force in the district, in the order the draw read them.
    pub frame: Vec<FrameEntry>,
    pub sample: Vec<DrawnInspection>,
    pub drawn_at: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ResultBody {
    /// Site-boundary level measured at night, dB(A).
    pub noise_db: f64,
    /// Whether the noise-control measures of the permit were in place.
    pub measures_ok: bool,
    pub comment: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct InspectionView {
    pub id: String,
    pub permit_number: String,
    pub project_name: String,
    pub project_address: String,
    pub status: InspectionStatus,
    pub assigned_at: String,
    pub noise_db: Option<f64>,
    pub measures_ok: Option<bool>,
    pub comment: Option<String>,
    pub result_at: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct InspectionList {
    pub items: Vec<InspectionView>,
}

/// An inspection as the permit's public record shows it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PublicInspection {
    /// The day of the inspection (YYYY-MM-DD, Asia/Shanghai).
    pub date: String,
    pub noise_db: f64,
    pub passed: bool,
}

/// The recorded inspections of a permit, for its public JSON.
pub fn public_inspections(inspections: &[InspectionRecord]) -> Vec<PublicInspection> {
    inspections
        .iter()
        .filter_map(|i| {
            let at = i.result_at?;
            Some(PublicInspection {
                date: crate::views::shanghai_today(at).to_string(),
                noise_db: i.noise_tenths_db? as f64 / 10.0,
                passed: i.status == InspectionStatus::Passed,
            })
        })
        .collect()
}

/// Draws inspections in a district. Admin only.
#[utoipa::path(post, path = "/api/v1/admin/inspections/draw", tag = "aftercare", security(("bearer" = [])), request_body = DrawRequest,
    responses((status = 201, body = DrawView), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn draw(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<DrawRequest>,
) -> ApiResult<(StatusCode, Json<DrawView>)> {
    if caller.role() != Role::Admin {
        return Err(ApiError::forbidden("只有管理员可以抽取双随机检查"));
    }
    let district: District = body.district.parse().map_err(|e: nightpermit_domain::UnknownValue| {
        ApiError::field("district", "UNKNOWN_DISTRICT", e.to_string())
    })?;
    let settings = &state.settings.inspections;
    if body.count == 0 || body.count > settings.max_draw {
        return Err(ApiError::field("count", "OUT_OF_RANGE", format!("抽取数量应为1至{}", settings.max_draw)));
    }
    let now = state.clock.now_ms();
    let inspectors = state.store.staff_in_district(district.id(), Role::Inspector).await?;
    if inspectors.is_empty() {
        return Err(ApiError::new(StatusCode::CONFLICT, "NO_INSPECTORS", "该区没有执法检查人员，无法分配检查"));
    }
    // The frame: every permit in force in the district, by number, so a replay reads the same.
    let mut frame = Vec::new();
    let mut firms = Vec::new();
    for p in issued_permits(&state, Some(district)).await?.into_iter().filter(|p| in_force_now(p, now)) {
        let firm = state.store.firm_by_id(&p.application.firm_id).await?.ok_or(StoreError::NotFound)?;
        let grade = Grade::parse(&firm.grade)
            .ok_or_else(|| StoreError::Corrupt(format!("firm {} has grade {:?}", firm.id, firm.grade)))?;
        let weight = match grade {
            Grade::Green => settings.weight_green,
            Grade::Yellow => settings.weight_yellow,
            Grade::Red => settings.weight_red,
        };
        let decisions = state.store.decisions(&p.application.id).await?;
        let auto_approved = decisions.last().is_some_and(|d| d.outcome == DecisionOutcome::AutoApprove);
        frame.push(FrameEntry {
            permit_number: p.permit.number.clone(),
            grade: grade.id().into(),
            weight,
            auto_approved,
        });
        firms.push(firm.id);
    }
    // Below 2^53 so the seed survives any JSON client unchanged.
    let seed = body.seed.unwrap_or_else(|| rand::thread_rng().gen_range(0..(1u64 << 53)));
    let weights: Vec<u32> = frame.iter().map(|f| f.weight).collect();
    let picks = nightpermit_rules::aftercare::draw(seed, &weights, body.count as usize, inspectors.len());
    let draw_id = uuid::Uuid::now_v7().to_string();
    let items: Vec<InspectionRecord> = picks
        .iter()
        .map(|(c, i)| InspectionRecord {
            id: uuid::Uuid::now_v7().to_string(),
            draw_id: draw_id.clone(),
            permit_number: frame[*c].permit_number.clone(),
            firm_id: firms[*c].clone(),
            district: district.id().into(),
            inspector_id: inspectors[*i].id.clone(),
            status: InspectionStatus::Assigned,
            noise_tenths_db: None,
            measures_ok: None,
            comment: None,
            result_at: None,
            created_at: now,
        })
        .collect();
    let record = InspectionDrawRecord {
        id: draw_id.clone(),
        district: district.id().into(),
        seed: seed.to_string(),
        requested: i64::from(body.count),
        frame: serde_json::to_string(&frame).map_err(ApiError::internal)?,
        inspectors: serde_json::to_string(&inspectors.iter().map(|s| &s.username).collect::<Vec<_>>())
            .map_err(ApiError::internal)?,
        drawn_by: caller.actor(),
        drawn_at: now,
    };
    state.store.create_draw(&record, &items, &caller.actor()).await?;
    let sample = picks
        .iter()
        .zip(&items)
        .map(|((c, i), item)| DrawnInspection {
            inspection_id: item.id.clone(),
            permit_number: frame[*c].permit_number.clone(),
            grade: frame[*c].grade.clone(),
            auto_approved: frame[*c].auto_approved,
            inspector: inspectors[*i].username.clone(),
        })
        .collect();
    Ok((
        StatusCode::CREATED,
        Json(DrawView {
            draw_id,
            district: district.id().into(),
            seed,
            requested: body.count,
            frame,
            sample,
            drawn_at: rfc3339(now),
        }),
    ))
}

async fn view(state: &AppState, i: InspectionRecord) -> ApiResult<InspectionView> {
    let form = match state.store.permit(&i.permit_number).await? {
        Some(p) => state
            .store
            .application(&p.application_id)
            .await?
            .and_then(|a| serde_json::from_str::<nightpermit_cases::form::ApplicationForm>(&a.form).ok()),
        None => None,
    };
    Ok(InspectionView {
        id: i.id,
        permit_number: i.permit_number,
        project_name: form.as_ref().map(|f| f.project.name.clone()).unwrap_or_default(),
        project_address: form.as_ref().map(|f| f.project.address.clone()).unwrap_or_default(),
        status: i.status,
        assigned_at: rfc3339(i.created_at),
        noise_db: i.noise_tenths_db.map(|t| t as f64 / 10.0),
        measures_ok: i.measures_ok,
        comment: i.comment,
        result_at: i.result_at.map(rfc3339),
    })
}

fn inspector(caller: &Caller) -> ApiResult<()> {
    if caller.role() == Role::Inspector {
        Ok(())
    } else {
        Err(ApiError::forbidden("只有执法检查人员可以查看和记录检查任务"))
    }
}

/// The signed-in inspector's assignments, oldest first.
#[utoipa::path(get, path = "/api/v1/inspections", tag = "aftercare", security(("bearer" = [])),
    responses((status = 200, body = InspectionList), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn my_inspections(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<InspectionList>> {
    inspector(&caller)?;
    let mut items = Vec::new();
    for i in state.store.inspections_for_inspector(caller.principal_id()).await? {
        items.push(view(&state, i).await?);
    }
    Ok(Json(InspectionList { items }))
}

/// Records the result of one's own assigned inspection: above the night limit or with the
/// measures missing it fails, and the firm's record gains an inspection violation.
#[utoipa::path(post, path = "/api/v1/inspections/{id}/result", tag = "aftercare", security(("bearer" = [])),
    params(("id" = String, Path, description = "inspection id")), request_body = ResultBody,
    responses((status = 200, body = InspectionView), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn record_result(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ResultBody>,
) -> ApiResult<Json<InspectionView>> {
    inspector(&caller)?;
    let current = state.store.inspection(&id).await?.ok_or_else(|| ApiError::not_found("检查任务"))?;
    // Someone else's assignment is not found, not forbidden: ids do not leak across inspectors.
    if current.inspector_id != caller.principal_id() {
        return Err(ApiError::not_found("检查任务"));
    }
    let noise = tenths(body.noise_db)?;
    let comment = body.comment.as_deref().unwrap_or("").trim().to_string();
    if comment.chars().count() > 500 {
        return Err(ApiError::field("comment", "TOO_LONG", "说明最多500字"));
    }
    let limit = (state.settings.inspections.night_limit_db * 10.0).round() as i64;
    let passed = noise <= limit && body.measures_ok;
    let now = state.clock.now_ms();
    let record = if passed {
        None
    } else {
        let firm = state.store.firm_by_id(&current.firm_id).await?.ok_or(StoreError::NotFound)?;
        let note = format!(
            "双随机检查{}不合格：夜间噪声{:.1}dB(A)（限值{}dB(A)），防治措施{}",
            current.permit_number,
            noise as f64 / 10.0,
            state.settings.inspections.night_limit_db,
            if body.measures_ok { "到位" } else { "未落实" }
        );
        let o = nightpermit_cases::grades::prepare(
            state.store.as_ref(),
            &state.policy.grading,
            &firm,
            RecordKind::InspectionViolation,
            now,
            &note,
            &caller.actor(),
            now,
        )
        .await?;
        Some((o.entry, o.change))
    };
    let result = InspectionResult {
        inspection_id: id,
        inspector_id: caller.principal_id().to_string(),
        status: if passed { InspectionStatus::Passed } else { InspectionStatus::Failed },
        noise_tenths_db: noise,
        measures_ok: body.measures_ok,
        comment,
        at: now,
    };
    let updated = state.store.record_inspection_result(&result, record.as_ref(), &caller.actor()).await?;
    Ok(Json(view(&state, updated).await?))
}
