//! The one API error type, answered as RFC 9457 problem+json with a stable `code` and a Chinese
//! message. 5xx causes are logged, never sent.

use axum::extract::multipart::MultipartRejection;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use nightpermit_store::StoreError;
use serde::Serialize;
use utoipa::ToSchema;

pub use nightpermit_cases::FieldError;

/// RFC 9457 problem details as we send them.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub type_: String,
    pub title: String,
    pub status: u16,
    /// Stable machine-readable identifier, e.g. `VALIDATION_FAILED`.
    pub code: String,
    pub detail: String,
    pub errors: Vec<FieldError>,
}

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub detail: String,
    pub errors: Vec<FieldError>,
    /// The cause of a server error, for the log only.
    pub source: Option<anyhow::Error>,
    /// Sent as `Retry-After` (429, 503).
    pub retry_after: Option<std::time::Duration>,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        Self { status, code, detail: detail.into(), errors: Vec::new(), source: None, retry_after: None }
    }

    pub fn retry_after(mut self, wait: std::time::Duration) -> Self {
        self.retry_after = Some(wait);
        self
    }

    pub fn validation(errors: Vec<FieldError>) -> Self {
        let detail = match errors.as_slice() {
            [only] => only.message.clone(),
            _ => format!("提交的数据有{}处错误", errors.len()),
        };
        Self { errors, ..Self::new(StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED", detail) }
    }

    pub fn field(field: &str, code: &str, message: impl Into<String>) -> Self {
        Self::validation(vec![FieldError::new(field, code, message)])
    }

    pub fn unauthenticated() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "UNAUTHENTICATED", "请先登录：缺少有效的 Authorization: Bearer 令牌")
    }

    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "FORBIDDEN", detail)
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, "NOT_FOUND", format!("{what}不存在"))
    }

    pub fn bad_request(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, detail)
    }

    pub fn internal(source: impl Into<anyhow::Error>) -> Self {
        Self {
            source: Some(source.into()),
            ..Self::new(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL", "服务器内部错误，请稍后重试")
        }
    }

    fn title(&self) -> &'static str {
        match self.status {
            StatusCode::BAD_REQUEST => "请求格式错误",
            StatusCode::UNAUTHORIZED => "未登录或登录已失效",
            StatusCode::FORBIDDEN => "无权操作",
            StatusCode::NOT_FOUND => "资源不存在",
            StatusCode::CONFLICT => "状态冲突",
            StatusCode::PAYLOAD_TOO_LARGE => "文件过大",
            StatusCode::UNSUPPORTED_MEDIA_TYPE => "文件类型不支持",
            StatusCode::UNPROCESSABLE_ENTITY => "数据校验未通过",
            StatusCode::SERVICE_UNAVAILABLE => "服务暂不可用",
            StatusCode::TOO_MANY_REQUESTS => "请求过于频繁",
            StatusCode::URI_TOO_LONG => "请求地址过长",
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => "请求头过大",
            StatusCode::REQUEST_TIMEOUT => "请求超时",
            s if s.is_server_error() => "服务器错误",
            _ => "请求失败",
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            match &self.source {
                Some(cause) => tracing::error!(code = self.code, error = ?cause, "request failed"),
                None => tracing::error!(code = self.code, detail = %self.detail, "request failed"),
            }
        }
        let problem = Problem {
            type_: format!("https://nightpermit.example/problems/{}", self.code.to_ascii_lowercase().replace('_', "-")),
            title: self.title().into(),
            status: self.status.as_u16(),
            code: self.code.into(),
            detail: self.detail,
            errors: self.errors,
        };
        let body = serde_json::to_vec(&problem).unwrap_or_default();
        let mut res = (self.status, [(header::CONTENT_TYPE, "application/problem+json")], body).into_response();
        if let Some(wait) = self.retry_after {
            // Whole seconds, rounded up: "0" would invite an immediate retry.
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            res.headers_mut().insert(header::RETRY_AFTER, header::HeaderValue::from(secs.max(1)));
        }
        res
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ApiError::not_found("资源"),
            StoreError::AlreadyExists(what) => {
                ApiError::new(StatusCode::CONFLICT, "ALREADY_EXISTS", format!("{what} 已被使用"))
            }
            StoreError::WrongStatus { current } => ApiError::new(
                StatusCode::CONFLICT,
                "INVALID_STATE",
                format!("申请当前状态为“{}”，不能进行此操作", current.label()),
            ),
            StoreError::IdempotencyKeyReused => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "IDEMPOTENCY_KEY_REUSED",
                "该 Idempotency-Key 已用于另一份申请，请为每次提交使用新的键",
            ),
            StoreError::Conflict(code) => {
                ApiError::new(StatusCode::CONFLICT, code, nightpermit_cases::conflict_message(code))
            }
            other => ApiError::internal(other),
        }
    }
}

impl From<nightpermit_cases::CaseError> for ApiError {
    fn from(e: nightpermit_cases::CaseError) -> Self {
        use nightpermit_cases::CaseError;
        match e {
            CaseError::Invalid(errors) => ApiError::validation(errors),
            CaseError::Conflict { code, message } => ApiError::new(StatusCode::CONFLICT, code, message),
            CaseError::NotFound(what) => ApiError::not_found(what),
            CaseError::Forbidden(why) => ApiError::forbidden(why),
            CaseError::Store(e) => e.into(),
            CaseError::Internal(e) => ApiError::internal(e),
        }
    }
}

impl From<MultipartRejection> for ApiError {
    fn from(r: MultipartRejection) -> Self {
        ApiError::bad_request(
            "MALFORMED_MULTIPART",
            format!("请以 multipart/form-data 上传（字段 kind 与 file）：{}", r.body_text()),
        )
    }
}

impl From<BytesRejection> for ApiError {
    fn from(r: BytesRejection) -> Self {
        if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "BODY_TOO_LARGE", "请求体超过大小上限")
        } else {
            ApiError::bad_request("MALFORMED_BODY", format!("请求体无法读取：{}", r.body_text()))
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        ApiError::bad_request("INVALID_QUERY", format!("查询参数错误：{}", r.body_text()))
    }
}

/// A JSON body: only `application/json` or `application/merge-patch+json` (415 otherwise; a
/// lenient `*/*+json` or `text/plain` match would let any form post pass as JSON), at most
/// `limits.max_json_bytes` (413), syntax errors 400, wrong shapes 422 — all problem+json.
pub struct ApiJson<T>(pub T);

/// The essence of a `Content-Type` (type/subtype, lower case, no parameters).
pub fn media_type(headers: &axum::http::HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// Reads a whole body up to `limit` bytes; more is 413, a broken stream 400.
pub async fn read_body(body: axum::body::Body, limit: usize) -> Result<axum::body::Bytes, ApiError> {
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        if e.into_inner().downcast_ref::<http_body_util::LengthLimitError>().is_some() {
            ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "BODY_TOO_LARGE", format!("请求体超过大小上限（{limit}字节）"))
        } else {
            ApiError::bad_request("MALFORMED_BODY", "请求体无法读取")
        }
    })
}

impl<T: serde::de::DeserializeOwned> axum::extract::FromRequest<crate::state::AppState> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &crate::state::AppState) -> Result<Self, ApiError> {
        let media = media_type(req.headers());
        if media != "application/json" && media != "application/merge-patch+json" {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "UNSUPPORTED_MEDIA_TYPE",
                "请求体必须是 JSON（Content-Type: application/json 或 application/merge-patch+json）",
            ));
        }
        let bytes = read_body(req.into_body(), state.settings.limits.max_json_bytes).await?;
        serde_json::from_slice(&bytes).map(ApiJson).map_err(|e| match e.classify() {
            serde_json::error::Category::Data => {
                ApiError::field("body", "INVALID_VALUE", format!("数据不符合要求：{e}"))
            }
            _ => ApiError::bad_request("MALFORMED_JSON", format!("JSON 格式错误：{e}")),
        })
    }
}

/// `Query` whose rejections are problem+json.
#[derive(axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct ApiQuery<T>(pub T);
