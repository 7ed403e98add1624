//! After-care helpers shared by complaints, inspections and the register route: which permits
//! were in force at a place and time, and the calendar the complaint deadlines count on.

use crate::form::ApplicationForm;
use crate::time::shanghai_local;
use crate::Cases;
use nightpermit_domain::District;
use nightpermit_rules::aftercare::{addresses_match, WorkCalendar};
use nightpermit_store::{ApplicationRecord, PermitRecord, StoreResult};

/// An issued permit with its form, as the after-care views read it.
pub struct IssuedPermit {
    pub permit: PermitRecord,
    pub application: ApplicationRecord,
    pub form: ApplicationForm,
}

/// Every issued permit (valid, expired or revoked), in one district or all. A stored form that
/// no longer parses is logged and left out rather than failing a public listing.
pub async fn issued_permits(state: &Cases, district: Option<District>) -> StoreResult<Vec<IssuedPermit>> {
    let rows = state.store.issued_permits(district.map(|d| d.id())).await?;
    Ok(rows
        .into_iter()
        .filter_map(|(permit, application)| match serde_json::from_str::<ApplicationForm>(&application.form) {
            Ok(form) => Some(IssuedPermit { permit, application, form }),
            Err(e) => {
                tracing::error!(permit = %permit.number, error = %e, "stored form of an issued permit does not parse");
                None
            }
        })
        .collect())
}

/// Whether the permit allowed work at instant `at_ms`: issued by then, not revoked before, and
/// `at_ms` inside one of its nights and hours.
pub fn in_force_at(p: &IssuedPermit, at_ms: i64) -> bool {
    let issued = p.permit.issued_at.is_some_and(|t| t <= at_ms);
    let not_revoked = p.permit.revoked_at.is_none_or(|t| t > at_ms);
    issued && not_revoked && p.form.window().is_some_and(|w| w.covers(shanghai_local(at_ms)))
}

/// Whether the permit is in force now: valid and its last night not over.
pub fn in_force_now(p: &IssuedPermit, now_ms: i64) -> bool {
    p.permit.status == "valid" && !crate::permits::nights_over(&p.form, now_ms)
}

/// The permits a complaint names: by number if one is given, otherwise by the site address in
/// that district; only those in force when the noise occurred.
pub fn match_permits(
    permits: &[IssuedPermit],
    district_name: &str,
    permit_number: Option<&str>,
    address: Option<&str>,
    occurred_ms: i64,
) -> Vec<String> {
    permits
        .iter()
        .filter(|p| match (permit_number, address) {
            (Some(n), _) => p.permit.number.eq_ignore_ascii_case(n.trim()),
            (None, Some(a)) => addresses_match(a, &p.form.project.address, district_name),
            (None, None) => false,
        })
        .filter(|p| in_force_at(p, occurred_ms))
        .map(|p| p.permit.number.clone())
        .collect()
}

pub fn work_calendar(state: &Cases) -> WorkCalendar {
    WorkCalendar::new(&state.policy.calendar.holidays, &state.policy.calendar.workdays)
}
