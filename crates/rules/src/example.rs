//! A worked example for tests, benchmarks and documentation: the facts of a credit-worthy firm
//! asking for three nights of concrete pour in December, which the default rule set approves.

use crate::facts::{Fact, FactValue, Facts, Interval};
use chrono::{Duration, NaiveDateTime};

fn at(s: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap_or_default()
}

/// `n` nights of 22:00–04:00 from the night beginning on `first` (YYYY-MM-DD).
pub fn nights(first: &str, n: i64) -> FactValue {
    let start = at(&format!("{first} 22:00"));
    FactValue::Intervals(
        (0..n)
            .map(|i| Interval { start: start + Duration::days(i), end: start + Duration::days(i) + Duration::hours(6) })
            .collect(),
    )
}

/// Every schema fact, set so that no default rule holds.
pub fn clean_facts() -> Facts {
    let mut f = Facts::default();
    f.set(Fact::FirmGrade, FactValue::Text("green".into()))
        .set(Fact::FirmPermits24m, FactValue::Int(5))
        .set(Fact::FirmUpheldComplaints12m, FactValue::Int(0))
        .set(Fact::FirmDaysSinceUpheldComplaint, FactValue::Int(100_000))
        .set(Fact::FirmInspectionViolations12m, FactValue::Int(0))
        .set(Fact::FirmPenalties12m, FactValue::Int(0))
        .set(Fact::SiteNightDaysThisMonth, FactValue::Int(4))
        .set(Fact::SiteNightDaysWithRequest, FactValue::Int(7))
        .set(Fact::SiteHoursSinceLastApprovalEnd, FactValue::Number(100.0))
        .set(Fact::RequestNights, FactValue::Int(3))
        .set(Fact::RequestNightlyHours, FactValue::Number(6.0))
        .set(Fact::RequestProcess, FactValue::Text("continuous_pour".into()))
        .set(Fact::RequestDistrict, FactValue::Text("jingan".into()))
        .set(Fact::RequestMaxEquipmentDb, FactValue::Int(85))
        .set(Fact::RequestMeasures, FactValue::TextList(vec!["设置移动式隔声屏".into(), "禁止鸣笛".into()]))
        .set(Fact::RequestIntervals, nights("2026-12-01", 3))
        .set(Fact::RequestNightsOnHolidays, FactValue::Int(0))
        .set(Fact::PrereviewWarnings, FactValue::Int(0))
        .set(
            Fact::CalendarExamQuietPeriods,
            FactValue::Intervals(vec![Interval { start: at("2026-05-31 22:00"), end: at("2026-06-15 06:00") }]),
        );
    f
}
