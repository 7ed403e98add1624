//! Double-random inspections (双随机、一公开): an admin draws permits in force in a district,
//! weighted by the firm's grade, and assigns the district's inspectors at random; the seed is
//! stored and returned so anyone can replay the draw. Inspectors record results against the
//! GB 12523 night limit; a failure enters the firm's record; results are public on the permit.

use crate::auth::Caller;
use crate::error::{ApiError, ApiJson, ApiResult, Problem};
use crate::state::AppState;
use crate::views::rfc3339;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use nightpermit_cases::inspections::FrameEntry;
use nightpermit_domain::{InspectionStatus, Role};
use nightpermit_store::InspectionRecord;
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
    let d = state.draw_inspections(&body.district, body.count, body.seed, &caller.actor()).await?;
    let sample = d
        .sample
        .iter()
        .map(|(c, item, inspector)| DrawnInspection {
            inspection_id: item.id.clone(),
            permit_number: d.frame[*c].permit_number.clone(),
            grade: d.frame[*c].grade.clone(),
            auto_approved: d.frame[*c].auto_approved,
            inspector: inspector.username.clone(),
        })
        .collect();
    Ok((
        StatusCode::CREATED,
        Json(DrawView {
            draw_id: d.id,
            district: d.district.id().into(),
            seed: d.seed,
            requested: d.requested,
            frame: d.frame,
            sample,
            drawn_at: rfc3339(d.drawn_at),
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
    let updated = state
        .record_inspection_result(
            &id,
            caller.principal_id(),
            body.noise_db,
            body.measures_ok,
            body.comment.as_deref(),
            &caller.actor(),
        )
        .await?;
    Ok(Json(view(&state, updated).await?))
}
