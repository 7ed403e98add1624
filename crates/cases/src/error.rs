//! What a lifecycle step answers when it does not happen: the caller's input was wrong (per
//! field, with the API's stable codes), the case is in a state that does not allow it, or the
//! storage failed. The HTTP layer maps these to problem+json and HTML pages; the CLI prints them.

use nightpermit_store::StoreError;
use serde::Serialize;
use utoipa::ToSchema;

/// A problem with one field of the request.
#[derive(Debug, Clone, Serialize, serde::Deserialize, ToSchema, PartialEq, Eq)]
pub struct FieldError {
    /// Path of the field, e.g. `night_work.nightly_end` or `equipment[0].count`.
    pub field: String,
    pub code: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, code: &str, message: impl Into<String>) -> Self {
        Self { field: field.into(), code: code.into(), message: message.into() }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CaseError {
    /// The request is wrong; each error names its field.
    #[error("{}", .0.first().map(|e| e.message.as_str()).unwrap_or("invalid request"))]
    Invalid(Vec<FieldError>),
    /// The case (or task, permit) is not in a state that allows the step.
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// What the step was asked about does not exist (or is not the caller's to see).
    #[error("{0}不存在")]
    NotFound(&'static str),
    /// The caller's role or district does not allow the step (the message says whose it is).
    #[error("{0}")]
    Forbidden(&'static str),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A fault of ours (a stored record we cannot read, a key that fails): logged, not shown.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl CaseError {
    pub fn field(field: &str, code: &str, message: impl Into<String>) -> Self {
        CaseError::Invalid(vec![FieldError::new(field, code, message)])
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        CaseError::Conflict { code, message: message.into() }
    }

    /// A step the store refuses with one of its after-care codes, with that code's message.
    pub fn refused(code: &'static str) -> Self {
        CaseError::conflict(code, conflict_message(code))
    }
}

/// The Chinese message of an after-care conflict code, as the store reports it
/// (`StoreError::Conflict`).
pub fn conflict_message(code: &str) -> &'static str {
    match code {
        "COMPLAINT_CONCLUDED" => "该投诉已办结，不能再记录处理环节",
        "STEP_ALREADY_RECORDED" => "该处理环节已记录，不能重复记录",
        "STEP_OUT_OF_ORDER" => "请按顺序记录：联系投诉人、现场检查、整改复查（未责令整改可略过）、办结",
        "INSPECTION_RECORDED" => "该检查结果已记录，不能重复记录",
        "NOT_YOUR_INSPECTION" => "该检查任务未分配给您",
        _ => "当前状态不允许此操作",
    }
}

pub type CaseResult<T> = Result<T, CaseError>;
