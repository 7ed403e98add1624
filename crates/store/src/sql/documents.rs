//! Reads that answer one JSON document instead of one query per part: what every signed-in
//! request needs first (the session and its account) and what an application's view shows (the
//! case file). Each part is the query its own store method runs, as a subquery; the document's
//! keys are the records' field names, so the records decode it with their serde derive. The SQL
//! is written once per backend, in its dialect's JSON functions.

use super::{
    Backend, APPLICATION_COLUMNS, DECISION_COLUMNS, FIRM_COLUMNS, MATERIAL_COLUMNS, PERMIT_COLUMNS, ROUND_COLUMNS,
    SESSION_COLUMNS, STAFF_COLUMNS, TRACK_COLUMNS,
};

pub(super) struct Documents {
    /// `$1` = token hash → `SignedIn`.
    pub session: String,
    /// `$1` = application id → `CaseFile`.
    pub case_file: String,
}

impl Documents {
    pub fn new(backend: Backend) -> Self {
        let json = Dialect(backend);
        let session = json.document(&[
            ("session", json.row("s", SESSION_COLUMNS)),
            (
                "firm",
                json.one(&format!(
                    "SELECT {} FROM firms f WHERE s.principal_kind = 'firm' AND f.id = s.principal_id",
                    json.row("f", FIRM_COLUMNS)
                )),
            ),
            (
                "staff",
                json.one(&format!(
                    "SELECT {} FROM staff st WHERE s.principal_kind = 'staff' AND st.id = s.principal_id",
                    json.row("st", STAFF_COLUMNS)
                )),
            ),
        ]);
        let case_file = json.document(&[
            ("application", json.row("a", APPLICATION_COLUMNS)),
            ("firm", json.one(&format!("SELECT {} FROM firms f WHERE f.id = a.firm_id", json.row("f", FIRM_COLUMNS)))),
            (
                "materials",
                json.rows(
                    &json.row("m", MATERIAL_COLUMNS),
                    "FROM materials m WHERE m.application_id = a.id",
                    "m.created_at, m.id",
                ),
            ),
            (
                "latest_round",
                json.one(&format!(
                    "SELECT {} FROM prereview_rounds r WHERE r.application_id = a.id ORDER BY r.round DESC LIMIT 1",
                    json.row("r", ROUND_COLUMNS)
                )),
            ),
            (
                "latest_decision",
                json.one(&format!(
                    "SELECT {} FROM decisions d WHERE d.application_id = a.id ORDER BY d.round DESC LIMIT 1",
                    json.row("d", DECISION_COLUMNS)
                )),
            ),
            (
                "tracks",
                json.rows(
                    &json.row("t", TRACK_COLUMNS),
                    "FROM review_tracks t WHERE t.application_id = a.id \
                     AND t.round = (SELECT MAX(round) FROM review_tracks WHERE application_id = a.id)",
                    "t.department",
                ),
            ),
            (
                "permit",
                json.one(&format!(
                    "SELECT {} FROM permits p WHERE p.application_id = a.id",
                    json.row("p", PERMIT_COLUMNS)
                )),
            ),
        ]);
        Documents {
            session: format!("SELECT {session} FROM sessions s WHERE s.token_hash = $1"),
            case_file: format!("SELECT {case_file} FROM applications a WHERE a.id = $1"),
        }
    }
}

/// The JSON functions of one backend's SQL.
struct Dialect(Backend);

impl Dialect {
    /// One row (aliased `alias`) as a JSON object with the columns as keys. SQLite builds the
    /// parts in its binary JSONB, which passes through subqueries as JSON (text would arrive as a
    /// string and need re-parsing) and is turned into text once, by the document.
    fn row(&self, alias: &str, columns: &str) -> String {
        let pairs = columns.split(", ").map(|c| format!("'{c}', {alias}.{c}")).collect::<Vec<_>>().join(", ");
        match self.0 {
            Backend::Sqlite => format!("jsonb_object({pairs})"),
            Backend::Postgres => format!("json_build_object({pairs})"),
        }
    }

    /// A scalar subquery's JSON object, or JSON null, inside an enclosing JSON object.
    fn one(&self, select: &str) -> String {
        format!("({select})")
    }

    /// The JSON array of `row` over `from_where`, ordered by `order` (an empty array, not null,
    /// when there are no rows).
    fn rows(&self, row: &str, from_where: &str, order: &str) -> String {
        match self.0 {
            Backend::Sqlite => format!("(SELECT jsonb_group_array({row} ORDER BY {order}) {from_where})"),
            Backend::Postgres => {
                format!("COALESCE((SELECT json_agg({row} ORDER BY {order}) {from_where}), '[]'::json)")
            }
        }
    }

    /// The SELECT list of one document built from `(key, JSON expression)` parts, as text.
    fn document(&self, parts: &[(&str, String)]) -> String {
        let pairs = parts.iter().map(|(k, v)| format!("'{k}', {v}")).collect::<Vec<_>>().join(", ");
        match self.0 {
            Backend::Sqlite => format!("json_object({pairs})"),
            Backend::Postgres => format!("json_build_object({pairs})::text"),
        }
    }
}
