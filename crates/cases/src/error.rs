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
}

pub type CaseResult<T> = Result<T, CaseError>;
