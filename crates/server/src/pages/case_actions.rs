//! What the firm does on its case page besides editing and uploading: contest findings of the
//! pre-review, withdraw the application, remove or replace a material. Each form goes through
//! the API's own handler (ownership, status, the audit), then back to the case.

use super::see_other;
use super::session::PageSession;
use crate::error::{ApiError, ApiJson, ApiResult};
use crate::routes::applications::{self as api, add_material, DisputeBody};
use crate::state::AppState;
use axum::extract::{Form, Multipart, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

fn value<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// `POST /applications/{id}/disputes`: the ticked findings (`finding_ids`, repeated) and the
/// firm's `comment`, through the API's dispute handler.
pub async fn dispute(
    State(state): State<AppState>,
    session: PageSession,
    Path(id): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> ApiResult<Response> {
    session.check_csrf(value(&pairs, "csrf"))?;
    let body = DisputeBody {
        finding_ids: pairs.iter().filter(|(k, _)| k == "finding_ids").map(|(_, v)| v.clone()).collect(),
        codes: pairs.iter().filter(|(k, _)| k == "codes").map(|(_, v)| v.clone()).collect(),
        comment: value(&pairs, "comment").unwrap_or_default().to_string(),
    };
    let comment = body.comment.clone();
    match api::dispute_findings(State(state.clone()), session.caller().clone(), Path(id.clone()), ApiJson(body)).await {
        Ok(_) => Ok(see_other(&format!("/applications/{id}"))),
        // A refused dispute shows the case again with the summary and the comment as sent.
        Err(e) if e.status == StatusCode::UNPROCESSABLE_ENTITY => {
            let page = super::applicant::case_page(&state, &session, &id, Some((&e, &comment))).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        Err(e) => Err(e),
    }
}

#[derive(serde::Deserialize)]
pub struct TokenOnly {
    csrf: Option<String>,
}

/// `POST /applications/{id}/withdraw`.
pub async fn withdraw(
    State(state): State<AppState>,
    session: PageSession,
    Path(id): Path<String>,
    Form(f): Form<TokenOnly>,
) -> ApiResult<Response> {
    session.check_csrf(f.csrf.as_deref())?;
    let _case = api::withdraw_application(State(state), session.caller().clone(), Path(id.clone())).await?;
    Ok(see_other(&format!("/applications/{id}")))
}

/// `POST /applications/{id}/materials/{material_id}/delete`.
pub async fn delete_material(
    State(state): State<AppState>,
    session: PageSession,
    Path((id, material_id)): Path<(String, String)>,
    Form(f): Form<TokenOnly>,
) -> ApiResult<Response> {
    session.check_csrf(f.csrf.as_deref())?;
    api::delete_material(State(state), session.caller().clone(), Path((id.clone(), material_id))).await?;
    Ok(see_other(&format!("/applications/{id}#materials")))
}

/// `POST /applications/{id}/materials/{material_id}/replace`: a new file of the same kind is
/// stored first, then the old one removed, so a refused upload leaves the case as it was.
pub async fn replace_material(
    State(state): State<AppState>,
    session: PageSession,
    Path((id, material_id)): Path<(String, String)>,
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
    let (mut csrf, mut file) = (None, None);
    while let Some(field) = multipart.next_field().await.map_err(failed)? {
        match field.name() {
            Some("csrf") => csrf = Some(field.text().await.map_err(failed)?),
            Some("file") => {
                let name = field.file_name().map(str::to_string);
                let bytes = field.bytes().await.map_err(failed)?;
                if !bytes.is_empty() {
                    file = Some((name, bytes));
                }
            }
            _ => {}
        }
    }
    session.check_csrf(csrf.as_deref())?;
    session.caller().firm()?;
    let app = api::visible_application(&state, session.caller(), &id).await?;
    let materials = state.store.materials(&app.id).await?;
    let old = materials.iter().find(|m| m.id == material_id).ok_or_else(|| ApiError::not_found("材料"))?;
    add_material(&state, session.caller(), &id, Some(old.kind.id().to_string()), file).await?;
    api::delete_material(State(state.clone()), session.caller().clone(), Path((id.clone(), material_id))).await?;
    Ok(see_other(&format!("/applications/{id}#materials")))
}
