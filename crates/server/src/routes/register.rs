//! The open register (一公开): the permits in force as JSON or CSV, and an Atom feed of permits
//! issued, revoked and expired, so residents and open-data users need not ask permit by permit.

use crate::error::{ApiError, ApiQuery, ApiResult, Problem};
use crate::state::AppState;
use crate::views::rfc3339;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use nightpermit_cases::aftercare::{in_force_now, issued_permits, IssuedPermit};
use nightpermit_domain::District;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use utoipa::{IntoParams, ToSchema};

#[derive(Debug, Deserialize, IntoParams)]
pub struct RegisterQuery {
    /// District id; all districts when absent.
    pub district: Option<String>,
    /// `json` (default) or `csv`.
    pub format: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct FeedQuery {
    /// District id; all districts when absent.
    pub district: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RegisterEntry {
    pub number: String,
    pub district: String,
    pub district_name: String,
    pub project_name: String,
    pub project_address: String,
    pub firm_name: String,
    pub start_date: String,
    pub end_date: String,
    pub nightly_start: String,
    pub nightly_end: String,
    pub issued_at: Option<String>,
    pub url: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RegisterView {
    pub district: Option<String>,
    pub generated_at: String,
    pub items: Vec<RegisterEntry>,
}

fn district_of(q: Option<&str>) -> ApiResult<Option<District>> {
    q.filter(|d| !d.is_empty())
        .map(|d| d.parse::<District>().map_err(|e| ApiError::field("district", "UNKNOWN_DISTRICT", e.to_string())))
        .transpose()
}

fn permit_url(state: &AppState, number: &str) -> String {
    format!("{}/api/v1/permits/{number}", state.settings.server.public_base_url.trim_end_matches('/'))
}

async fn firm_names(state: &AppState, permits: &[IssuedPermit]) -> ApiResult<HashMap<String, String>> {
    let mut names = HashMap::new();
    for p in permits {
        if !names.contains_key(&p.application.firm_id) {
            let name = state.store.firm_by_id(&p.application.firm_id).await?.map(|f| f.name).unwrap_or_default();
            names.insert(p.application.firm_id.clone(), name);
        }
    }
    Ok(names)
}

/// A CSV cell a spreadsheet will not run as a formula: a leading `=`, `+`, `-`, `@` is quoted
/// away with an apostrophe (OWASP "CSV injection").
fn cell(s: &str) -> String {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_string()
    }
}

/// The permits in force (valid, last night not over), by number.
#[utoipa::path(get, path = "/api/v1/register", tag = "aftercare", params(RegisterQuery),
    responses((status = 200, body = RegisterView), (status = 200, description = "the same as CSV", content_type = "text/csv"),
              (status = 422, body = Problem)))]
pub async fn register(State(state): State<AppState>, ApiQuery(q): ApiQuery<RegisterQuery>) -> ApiResult<Response> {
    let district = district_of(q.district.as_deref())?;
    let csv = match q.format.as_deref().unwrap_or("json") {
        "json" => false,
        "csv" => true,
        _ => return Err(ApiError::field("format", "UNKNOWN_FORMAT", "format 应为 json 或 csv")),
    };
    let now = state.clock.now_ms();
    let permits: Vec<IssuedPermit> =
        issued_permits(&state, district).await?.into_iter().filter(|p| in_force_now(p, now)).collect();
    let names = firm_names(&state, &permits).await?;
    let items: Vec<RegisterEntry> = permits
        .iter()
        .map(|p| RegisterEntry {
            number: p.permit.number.clone(),
            district: p.form.district.id().into(),
            district_name: state.settings.district(p.form.district).name.clone(),
            project_name: p.form.project.name.clone(),
            project_address: p.form.project.address.clone(),
            firm_name: names.get(&p.application.firm_id).cloned().unwrap_or_default(),
            start_date: p.form.night_work.start_date.clone(),
            end_date: p.form.night_work.end_date.clone(),
            nightly_start: p.form.night_work.nightly_start.clone(),
            nightly_end: p.form.night_work.nightly_end.clone(),
            issued_at: p.permit.issued_at.map(rfc3339),
            url: permit_url(&state, &p.permit.number),
        })
        .collect();
    if !csv {
        let view = RegisterView { district: district.map(|d| d.id().to_string()), generated_at: rfc3339(now), items };
        return Ok(Json(view).into_response());
    }
    let mut w = csv::Writer::from_writer(Vec::new());
    let header = [
        "number",
        "district",
        "district_name",
        "project_name",
        "project_address",
        "firm_name",
        "start_date",
        "end_date",
        "nightly_start",
        "nightly_end",
        "issued_at",
        "url",
    ];
    w.write_record(header).map_err(ApiError::internal)?;
    for e in &items {
        let row = [
            &e.number,
            &e.district,
            &e.district_name,
            &e.project_name,
            &e.project_address,
            &e.firm_name,
            &e.start_date,
            &e.end_date,
            &e.nightly_start,
            &e.nightly_end,
            e.issued_at.as_deref().unwrap_or(""),
            &e.url,
        ];
        w.write_record(row.map(cell)).map_err(ApiError::internal)?;
    }
    let body = w.into_inner().map_err(|e| ApiError::internal(anyhow::anyhow!("csv: {e}")))?;
    let name = format!("nightpermit-register-{}.csv", district.map_or("all", |d| d.id()));
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")),
        ],
        body,
    )
        .into_response())
}

/// Text made safe inside XML character data and attribute values.
pub fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Characters XML 1.0 cannot carry at all are dropped.
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\t' | '\r') => {}
            c => out.push(c),
        }
    }
    out
}

const FEED_ENTRIES: i64 = 200;

/// An Atom feed of permits issued, revoked and expired, newest first (from the audit log).
#[utoipa::path(get, path = "/api/v1/register.atom", tag = "aftercare", params(FeedQuery),
    responses((status = 200, description = "Atom 1.0 feed", content_type = "application/atom+xml"), (status = 422, body = Problem)))]
pub async fn register_feed(State(state): State<AppState>, ApiQuery(q): ApiQuery<FeedQuery>) -> ApiResult<Response> {
    let district = district_of(q.district.as_deref())?;
    let permits: HashMap<String, IssuedPermit> =
        issued_permits(&state, district).await?.into_iter().map(|p| (p.permit.number.clone(), p)).collect();
    let base = state.settings.server.public_base_url.trim_end_matches('/').to_string();
    let scope = district.map_or("all".to_string(), |d| d.id().to_string());
    let mut entries = String::new();
    let mut updated = None;
    for e in state.store.permit_events(FEED_ENTRIES * 4).await? {
        let after: serde_json::Value =
            e.after_state.as_deref().and_then(|a| serde_json::from_str(a).ok()).unwrap_or_default();
        let Some(number) = after["permit"].as_str() else { continue };
        // Permits of other districts are not in this district's list.
        let Some(p) = permits.get(number) else { continue };
        let (verb, kind) = match e.action.as_str() {
            "permit.issued" => ("已签发", "issued"),
            "permit.revoked" => ("已撤销", "revoked"),
            _ => ("已到期", "expired"),
        };
        let mut summary = format!(
            "{}，{}，{}至{}每晚{}-{}",
            p.form.project.name,
            p.form.project.address,
            p.form.night_work.start_date,
            p.form.night_work.end_date,
            p.form.night_work.nightly_start,
            p.form.night_work.nightly_end
        );
        if let Some(reason) = after["reason"].as_str() {
            summary.push_str(&format!("；撤销原因：{reason}"));
        }
        updated.get_or_insert(e.at);
        entries.push_str(&format!(
            "  <entry>\n    <id>urn:nightpermit:{kind}:{seq}:{number}</id>\n    <title>{title}</title>\n    <updated>{at}</updated>\n    <category term=\"{kind}\"/>\n    <link rel=\"alternate\" type=\"application/json\" href=\"{href}\"/>\n    <summary>{summary}</summary>\n  </entry>\n",
            kind = kind,
            seq = e.seq,
            number = xml_escape(number),
            title = xml_escape(&format!("夜间施工许可证 {number} {verb}")),
            at = rfc3339(e.at),
            href = xml_escape(&format!("{base}/api/v1/permits/{number}")),
            summary = xml_escape(&summary),
        ));
        if entries.matches("<entry>").count() as i64 >= FEED_ENTRIES {
            break;
        }
    }
    let title = match district {
        Some(d) => format!("{}夜间施工许可公示", state.settings.district(d).name),
        None => "上海市夜间施工许可公示".to_string(),
    };
    let self_href = match district {
        Some(d) => format!("{base}/api/v1/register.atom?district={}", d.id()),
        None => format!("{base}/api/v1/register.atom"),
    };
    let feed = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\">\n  <id>urn:nightpermit:register:{scope}</id>\n  <title>{title}</title>\n  <updated>{updated}</updated>\n  <author><name>nightpermit</name></author>\n  <link rel=\"self\" href=\"{self_href}\"/>\n{entries}</feed>\n",
        scope = xml_escape(&scope),
        title = xml_escape(&title),
        updated = rfc3339(updated.unwrap_or_else(|| state.clock.now_ms())),
        self_href = xml_escape(&self_href),
    );
    Ok(([(header::CONTENT_TYPE, "application/atom+xml; charset=utf-8")], feed).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_and_csv_cells_are_made_safe() {
        assert_eq!(xml_escape("<a href=\"x\">&'</a>\u{1}"), "&lt;a href=&quot;x&quot;&gt;&amp;&apos;&lt;/a&gt;");
        assert_eq!(cell("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(cell("静安区某路100号"), "静安区某路100号");
    }
}
