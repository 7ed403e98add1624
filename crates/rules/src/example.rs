//! A worked example for tests, benchmarks and documentation: the facts of a credit-worthy firm
//! asking for three nights of concrete pour in December, which the default rule set approves.

use crate::facts::{FactValue, Facts, Interval};
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
    f.set("firm.grade", FactValue::Text("green".into()))
        .set("firm.permits_24m", FactValue::Int(5))
        .set("firm.upheld_complaints_12m", FactValue::Int(0))
        .set("firm.days_since_upheld_complaint", FactValue::Int(100_000))
        .set("firm.inspection_violations_12m", FactValue::Int(0))
        .set("firm.penalties_12m", FactValue::Int(0))
        .set("site.night_days_this_month", FactValue::Int(4))
        .set("site.night_days_with_request", FactValue::Int(7))
        .set("site.hours_since_last_approval_end", FactValue::Number(100.0))
        .set("request.nights", FactValue::Int(3))
        .set("request.nightly_hours", FactValue::Number(6.0))
        .set("request.process", FactValue::Text("continuous_pour".into()))
        .set("request.district", FactValue::Text("jingan".into()))
        .set("request.max_equipment_db", FactValue::Int(85))
        .set("request.measures", FactValue::TextList(vec!["设置移动式隔声屏".into(), "禁止鸣笛".into()]))
        .set("request.intervals", nights("2026-12-01", 3))
        .set("request.nights_on_holidays", FactValue::Int(0))
        .set("prereview.warnings", FactValue::Int(0))
        .set(
            "calendar.exam_quiet_periods",
            FactValue::Intervals(vec![Interval { start: at("2026-05-31 22:00"), end: at("2026-06-15 06:00") }]),
        );
    f
}
