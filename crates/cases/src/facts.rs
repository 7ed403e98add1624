//! Assembles the facts of a case for the rules from the store: the firm's record, the site's
//! record, the request, the pre-review and the calendar. The snapshot is stored with the
//! decision so `rules simulate` can replay it. A fact that cannot be established (no valid
//! night window, no equipment listed) is left out rather than guessed, so the rules send the
//! case to a human naming it.

use crate::form::ApplicationForm;
use crate::Cases;
use chrono::{Datelike, Duration, NaiveDateTime};
use nightpermit_domain::ApplicationStatus;
use nightpermit_rules::grading::RecordKind;
use nightpermit_rules::{Fact, FactValue, Facts, Interval};
use nightpermit_store::{ApplicationRecord, FirmRecord, StoreResult};

/// Statuses in which an application's nights count as approved.
const APPROVED: &[ApplicationStatus] =
    &[ApplicationStatus::Approved, ApplicationStatus::Issued, ApplicationStatus::Expired, ApplicationStatus::Revoked];
/// Large value for "never happened", so "less than N days since" stays false.
const NEVER: i64 = 100_000;

use crate::time::shanghai_local as local;

fn intervals(form: &ApplicationForm) -> Vec<Interval> {
    form.window()
        .map(|w| w.intervals().into_iter().map(|(start, end)| Interval { start, end }).collect())
        .unwrap_or_default()
}

pub async fn assemble(
    state: &Cases,
    app: &ApplicationRecord,
    form: &ApplicationForm,
    firm: &FirmRecord,
    prereview_warnings: usize,
    now_ms: i64,
) -> StoreResult<Facts> {
    let calendar = &state.policy.calendar;
    let now = local(now_ms);
    let mut f = Facts::default();

    // The firm's record.
    let firm_apps = state.store.applications_by_firm(&firm.id).await?;
    let permits_24m = firm_apps
        .iter()
        .filter(|a| a.id != app.id && APPROVED.contains(&a.status) && local(a.updated_at) > now - Duration::days(730))
        .count();
    let records = state.store.firm_records(&firm.id).await?;
    let in_year = |kind: RecordKind| {
        records.iter().filter(|r| r.kind == kind.id() && local(r.occurred_at) > now - Duration::days(365)).count()
            as i64
    };
    let last_complaint =
        records.iter().filter(|r| r.kind == RecordKind::ComplaintUpheld.id()).map(|r| r.occurred_at).max();
    f.set(Fact::FirmGrade, FactValue::Text(firm.grade.clone()))
        .set(Fact::FirmPermits24m, FactValue::Int(permits_24m as i64))
        .set(Fact::FirmUpheldComplaints12m, FactValue::Int(in_year(RecordKind::ComplaintUpheld)))
        .set(
            Fact::FirmDaysSinceUpheldComplaint,
            FactValue::Int(last_complaint.map(|t| (now - local(t)).num_days()).unwrap_or(NEVER)),
        )
        .set(Fact::FirmInspectionViolations12m, FactValue::Int(in_year(RecordKind::InspectionViolation)))
        .set(Fact::FirmPenalties12m, FactValue::Int(in_year(RecordKind::Penalty)));

    // The site's record: other approved applications for the same construction permit.
    let requested = intervals(form);
    let first = requested.first().map(|i| i.start.date()).unwrap_or(now.date());
    let same_month = |d: chrono::NaiveDate| d.year() == first.year() && d.month() == first.month();
    let mut days_this_month = 0i64;
    let mut last_end: Option<NaiveDateTime> = None;
    for other in state.store.applications_by_site(&app.construction_permit_no).await? {
        let other = other.application;
        if other.id == app.id || !APPROVED.contains(&other.status) {
            continue;
        }
        let Ok(other_form) = serde_json::from_str::<ApplicationForm>(&other.form) else { continue };
        for night in intervals(&other_form) {
            if same_month(night.start.date()) {
                days_this_month += 1;
            }
            last_end = Some(last_end.map_or(night.end, |e| e.max(night.end)));
        }
    }
    let requested_this_month = requested.iter().filter(|i| same_month(i.start.date())).count() as i64;
    // Hours from the end of the site's last approved night to the start of the first requested
    // one; negative when they overlap.
    let gap_hours = last_end
        .zip(requested.first())
        .map(|(end, next)| (next.start - end).num_minutes() as f64 / 60.0)
        .unwrap_or(NEVER as f64);
    f.set(Fact::SiteNightDaysThisMonth, FactValue::Int(days_this_month))
        .set(Fact::SiteNightDaysWithRequest, FactValue::Int(days_this_month + requested_this_month))
        .set(Fact::SiteHoursSinceLastApprovalEnd, FactValue::Number(gap_hours));

    // The request. Without a valid night window the nights, their hours and their intervals
    // are unknown, not zero.
    if let Some(w) = form.window() {
        f.set(Fact::RequestNights, FactValue::Int(w.nights()))
            .set(Fact::RequestNightlyHours, FactValue::Number(w.nightly_minutes() as f64 / 60.0))
            .set(Fact::RequestIntervals, FactValue::Intervals(requested.clone()));
    }
    if let Some(loudest) = form.equipment.iter().map(|e| i64::from(e.sound_level_db)).max() {
        f.set(Fact::RequestMaxEquipmentDb, FactValue::Int(loudest));
    }
    f.set(Fact::RequestProcess, FactValue::Text(form.night_work.process.id().into()))
        .set(Fact::RequestDistrict, FactValue::Text(form.district.id().into()))
        .set(Fact::RequestMeasures, FactValue::TextList(form.measures.clone()))
        .set(
            Fact::RequestNightsOnHolidays,
            FactValue::Int(requested.iter().filter(|i| calendar.holidays.contains(&i.start.date())).count() as i64),
        )
        .set(Fact::PrereviewWarnings, FactValue::Int(prereview_warnings as i64))
        .set(Fact::CalendarExamQuietPeriods, FactValue::Intervals(calendar.exam_quiet_periods.clone()));
    Ok(f)
}
