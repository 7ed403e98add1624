//! The HTTP surface: every route is registered through utoipa-axum, so the OpenAPI document is
//! built from the same list the router serves.

pub mod accounts;
pub mod admin;
pub mod applications;
pub mod complaints;
pub mod inspections;
pub mod ops;
pub mod permits;
pub mod register;
pub mod review;

use crate::error::{ApiError, Problem};
use crate::metrics;
use crate::state::AppState;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::{Json, Router};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

#[derive(OpenApi)]
#[openapi(
    info(title = "nightpermit", description = "夜间施工许可“一件事一次办”：一次填表、一次上传，智能预审，两部门并联审批，电子印章许可证。"),
    modifiers(&BearerAuth),
    components(schemas(Problem, crate::error::FieldError)),
    tags((name = "accounts", description = "施工单位注册与登录"), (name = "applications", description = "申请、材料与提交"),
         (name = "review", description = "两部门并联审核"),
         (name = "admin", description = "企业信用记录与三色码、账号管理"),
         (name = "permits", description = "许可证公开查询、下载与验签"),
         (name = "aftercare", description = "批后监管：投诉处理、双随机检查与许可公示"),
         (name = "operations", description = "运维"))
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The routes and the OpenAPI document describing exactly them.
pub fn api() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(accounts::register_firm))
        .routes(routes!(accounts::create_session))
        .routes(routes!(accounts::delete_session))
        .routes(routes!(accounts::change_password))
        .routes(routes!(admin::revoke_sessions))
        .routes(routes!(admin::disable_account))
        .routes(routes!(admin::enable_account))
        .routes(routes!(applications::create_application, applications::list_applications))
        .routes(routes!(applications::get_application, applications::patch_application))
        .routes(routes!(applications::upload_material))
        .routes(routes!(applications::delete_material))
        .routes(routes!(applications::submit_application))
        .routes(routes!(applications::dispute_findings))
        .routes(routes!(applications::withdraw_application))
        .routes(routes!(applications::list_rounds))
        .routes(routes!(review::list_tasks))
        .routes(routes!(review::decide_task))
        .routes(routes!(admin::add_record, admin::get_records))
        .routes(routes!(permits::permits_for_night))
        .routes(routes!(permits::get_permit))
        .routes(routes!(permits::get_permit_pdf))
        .routes(routes!(permits::revoke))
        .routes(routes!(permits::verify))
        .routes(routes!(permits::certificates))
        // After-care: complaints, double-random inspections, the open register.
        .routes(routes!(complaints::file_complaint, complaints::list_complaints))
        .routes(routes!(complaints::get_complaint))
        .routes(routes!(complaints::record_step))
        .routes(routes!(inspections::draw))
        .routes(routes!(inspections::my_inspections))
        .routes(routes!(inspections::record_result))
        .routes(routes!(register::register))
        .routes(routes!(register::register_feed))
        .routes(routes!(ops::healthz))
        .routes(routes!(ops::readyz))
        .routes(routes!(ops::metrics))
        .routes(routes!(openapi_document))
        .split_for_parts()
}

/// This document: every route the server serves, generated from the handlers.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "operations", responses((status = 200, description = "OpenAPI 3.1 document")))]
pub async fn openapi_document() -> Json<utoipa::openapi::OpenApi> {
    static DOC: std::sync::OnceLock<utoipa::openapi::OpenApi> = std::sync::OnceLock::new();
    Json(DOC.get_or_init(|| api().1).clone())
}

async fn route_not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "ROUTE_NOT_FOUND", "请求的接口不存在，接口列表见 /api/v1/openapi.json")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "METHOD_NOT_ALLOWED",
        "该接口不支持此请求方法，见 /api/v1/openapi.json",
    )
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> axum::response::Response {
    ApiError::internal(anyhow::anyhow!("handler panicked")).into_response()
}

/// Why a request was refused before any handler ran: too many at once, or too slow.
async fn overload_response(err: tower::BoxError) -> ApiError {
    if err.is::<tower::timeout::error::Elapsed>() {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "REQUEST_TIMEOUT", "请求处理超时，请稍后重试")
            .retry_after(std::time::Duration::from_secs(5))
    } else if err.is::<tower::load_shed::error::Overloaded>() {
        crate::protection::busy()
    } else {
        ApiError::internal(anyhow::anyhow!("request failed in a middleware: {err}"))
    }
}

pub fn router(state: AppState) -> Router {
    let (api, _) = api();
    // Multipart framing adds a little to the file itself; the file's own limit is checked exactly.
    let body_limit = state.settings.limits.max_upload_bytes + 1024 * 1024;
    let server = &state.settings.server;
    // Outermost first: shed load before doing any work, then bound the time of what is taken
    // (the body is read inside the handler, so a body trickled byte by byte is cut too).
    let overload = tower::ServiceBuilder::new()
        .layer(axum::error_handling::HandleErrorLayer::new(overload_response))
        .load_shed()
        .concurrency_limit(server.max_concurrent_requests.max(1))
        .timeout(std::time::Duration::from_secs(server.request_timeout_secs.max(1)));
    api.merge(crate::pages::router(state.clone()))
        .fallback(route_not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(state.clone(), crate::protection::rate_limit))
        .layer(axum::middleware::from_fn(crate::protection::size_guard))
        .layer(axum::middleware::from_fn_with_state(state.clone(), metrics::track))
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(overload)
        .layer(axum::middleware::from_fn(crate::pages::html_errors))
        .layer(axum::middleware::from_fn_with_state(state.clone(), crate::protection::security_headers))
        .layer(TraceLayer::new_for_http())
        .layer(CatchPanicLayer::custom(panic_response))
        .with_state(state)
}
