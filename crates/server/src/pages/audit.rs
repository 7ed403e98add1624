//! The auditor's page: verify a permit PDF (the same verdict as `/verify` and the API), a
//! case's audit log with the check of the hash chain, and the log as JSON lines.

use super::session::PageSession;
use super::{Errors, Field, Nav};
use crate::error::{ApiError, ApiResult};
use crate::routes::permits::{verify_bytes, VerifyView};
use crate::state::AppState;
use crate::views::rfc3339;
use askama::Template;
use askama_web::WebTemplate;
use axum::body::Bytes;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use nightpermit_domain::{Department, Role};
use serde::Deserialize;
use std::collections::HashMap;

/// The fields of a multipart form, each at most `limit` bytes: text fields and files alike
/// (a file keeps its name). A repeated name keeps its first value.
pub async fn read_parts(
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
    limit: usize,
) -> ApiResult<HashMap<String, (Option<String>, Bytes)>> {
    let mut multipart = multipart?;
    let too_large =
        || ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "BODY_TOO_LARGE", format!("文件超过大小上限（{limit}字节）"));
    let malformed = |_| ApiError::bad_request("MALFORMED_MULTIPART", "上传的表单无法读取，请重新选择文件");
    let mut out = HashMap::new();
    while let Some(mut field) = multipart.next_field().await.map_err(malformed)? {
        let Some(name) = field.name().map(str::to_string) else { continue };
        let filename = field.file_name().map(str::to_string);
        let mut buf = Vec::new();
        while let Some(chunk) = field.chunk().await.map_err(malformed)? {
            if buf.len() + chunk.len() > limit {
                return Err(too_large());
            }
            buf.extend_from_slice(&chunk);
        }
        out.entry(name).or_insert((filename, Bytes::from(buf)));
    }
    Ok(out)
}

/// The text of one multipart field.
pub fn part_text(parts: &HashMap<String, (Option<String>, Bytes)>, name: &str) -> Option<String> {
    parts.get(name).map(|(_, b)| String::from_utf8_lossy(b).into_owned())
}

pub fn auditor(session: &PageSession) -> ApiResult<()> {
    if session.caller().role() != Role::Auditor {
        return Err(ApiError::forbidden("此页面仅供审计人员使用"));
    }
    Ok(())
}

pub struct SignatureRow {
    pub signer: String,
    pub department: &'static str,
    pub district: String,
    pub signed_at: String,
    pub intact: bool,
    pub trusted: bool,
}

pub struct EntryRow {
    pub seq: i64,
    pub at: String,
    /// `at` as Shanghai wall-clock date and time with a space between, so the narrow time
    /// column wraps between the two instead of inside a number.
    pub when: String,
    pub actor: String,
    pub action: String,
    pub after: String,
    /// The entry's stored hash is its content's hash.
    pub intact: bool,
    pub hash: String,
}

pub struct ChainCheck {
    pub ok: bool,
    pub entries: i64,
    pub broken_at: i64,
    pub why: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "audit.html")]
pub struct AuditPage {
    pub title: &'static str,
    pub nav: Nav,
    pub csrf: String,
    pub verify_errors: Errors,
    pub verdict: Option<VerifyView>,
    pub signatures: Vec<SignatureRow>,
    pub permit_status: &'static str,
    pub log_errors: Errors,
    pub application: String,
    pub entries: Vec<EntryRow>,
    pub chain: Option<ChainCheck>,
}

impl AuditPage {
    fn new(session: &PageSession) -> Self {
        AuditPage {
            title: "审计",
            nav: Nav::of(Some(session)),
            csrf: session.csrf(),
            verify_errors: Errors::default(),
            verdict: None,
            signatures: Vec::new(),
            permit_status: "",
            log_errors: Errors::default(),
            application: String::new(),
            entries: Vec::new(),
            chain: None,
        }
    }
}

#[derive(Deserialize)]
pub struct LogQuery {
    application: Option<String>,
}

/// `/audit`, and `/audit?application=ID` for one case's log and the chain check.
pub async fn page(
    State(state): State<AppState>,
    session: PageSession,
    Query(q): Query<LogQuery>,
) -> ApiResult<Response> {
    auditor(&session)?;
    let mut page = AuditPage::new(&session);
    let Some(id) = q.application.map(|a| a.trim().to_string()).filter(|a| !a.is_empty()) else {
        return Ok(page.into_response());
    };
    page.application = id.clone();
    if state.store.application(&id).await?.is_none() {
        let e = ApiError::field("application", "NOT_FOUND", format!("没有编号为 {id} 的申请"));
        let field = Field::new("application", "申请编号", "text");
        page.log_errors = Errors::from_api(&e, &[&field]);
        return Ok((StatusCode::NOT_FOUND, page).into_response());
    }
    page.entries = state
        .store
        .audit_entries_for("application", &id)
        .await?
        .into_iter()
        .map(|e| EntryRow {
            intact: e.recompute_hash() == e.hash,
            seq: e.seq,
            at: rfc3339(e.at),
            when: crate::views::shanghai_local(e.at).format("%Y-%m-%d %H:%M:%S").to_string(),
            actor: e.actor,
            action: e.action,
            after: e.after_state.unwrap_or_default(),
            hash: e.hash.get(..12).unwrap_or("").to_string(),
        })
        .collect();
    let v = state.store.verify_audit_chain().await?;
    page.chain = Some(match v.first_broken {
        None => ChainCheck { ok: true, entries: v.entries, broken_at: 0, why: String::new() },
        Some((seq, why)) => ChainCheck { ok: false, entries: v.entries, broken_at: seq, why },
    });
    Ok(page.into_response())
}

/// The verdict on an uploaded permit, from the same function as `/verify`.
pub async fn verify(
    State(state): State<AppState>,
    session: PageSession,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> ApiResult<Response> {
    auditor(&session)?;
    let parts = read_parts(multipart, state.settings.limits.max_verify_bytes).await?;
    session.check_csrf(part_text(&parts, "csrf").as_deref())?;
    let mut page = AuditPage::new(&session);
    let bytes = parts.get("file").map(|(_, b)| b.clone()).filter(|b| !b.is_empty());
    let result = match bytes {
        Some(b) => verify_bytes(&state, b).await,
        None => Err(ApiError::field("file", "REQUIRED", "请选择要验证的许可证 PDF 文件")),
    };
    match result {
        Ok(v) => {
            page.signatures = v
                .signatures
                .iter()
                .map(|s| SignatureRow {
                    signer: s.signer.clone(),
                    department: s.department.parse::<Department>().map(|d| d.label()).unwrap_or("未知部门"),
                    district: s.district.clone(),
                    signed_at: s.signed_at.clone().unwrap_or_default(),
                    intact: s.intact,
                    trusted: s.trusted && s.signature_valid,
                })
                .collect();
            page.permit_status =
                v.permit_status.as_deref().map(super::public::permit_status_label).unwrap_or("本系统无此许可证");
            page.verdict = Some(v);
            Ok(page.into_response())
        }
        Err(e) if e.status.is_client_error() => {
            let field = Field::new("file", "许可证 PDF 文件", "file");
            page.verify_errors = Errors::from_api(&e, &[&field]);
            Ok((e.status, page).into_response())
        }
        Err(e) => Err(e),
    }
}

/// A case's audit log as JSON lines, one entry a line, in chain order, with the hashes so the
/// chain can be checked again outside.
pub async fn export(
    State(state): State<AppState>,
    session: PageSession,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    auditor(&session)?;
    state.store.application(&id).await?.ok_or_else(|| ApiError::not_found("申请"))?;
    let mut out = String::new();
    for e in state.store.audit_entries_for("application", &id).await? {
        let line = serde_json::json!({
            "seq": e.seq, "at": rfc3339(e.at), "at_ms": e.at, "actor": e.actor, "action": e.action,
            "entity": e.entity, "entity_id": e.entity_id, "before": e.before_state, "after": e.after_state,
            "prev_hash": e.prev_hash, "hash": e.hash,
        });
        out.push_str(&line.to_string());
        out.push('\n');
    }
    let mut res = (StatusCode::OK, out).into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/x-ndjson; charset=utf-8"));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"audit-{id}.jsonl\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(res)
}
