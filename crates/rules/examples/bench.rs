//! `make bench-rules`: evaluations per second of the default rule set on one core, on a clean
//! case (every rule evaluated, full trace built). Median of 5 runs.

use chrono::{Duration, NaiveDateTime};
use nightpermit_rules::*;
use std::time::Instant;

fn main() {
    let text = include_str!("../../../config/rules/default.toml");
    let set = RuleSet::from_toml("default.toml", text).expect("valid");
    let dt = |s: &str| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").expect("date");
    let start = dt("2026-12-01 22:00");
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
        .set(
            "request.intervals",
            FactValue::Intervals(
                (0..3)
                    .map(|i| Interval {
                        start: start + Duration::days(i),
                        end: start + Duration::days(i) + Duration::hours(6),
                    })
                    .collect(),
            ),
        )
        .set("request.nights_on_holidays", FactValue::Int(0))
        .set("prereview.warnings", FactValue::Int(0))
        .set(
            "calendar.exam_quiet_periods",
            FactValue::Intervals(vec![Interval { start: dt("2026-05-31 22:00"), end: dt("2026-06-15 06:00") }]),
        );
    let n = 200_000;
    let mut rates = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let mut approved = 0;
        for _ in 0..n {
            if std::hint::black_box(evaluate(&set, std::hint::black_box(&f))).outcome == Outcome::AutoApprove {
                approved += 1;
            }
        }
        assert_eq!(approved, n);
        rates.push(n as f64 / t.elapsed().as_secs_f64());
    }
    rates.sort_by(|a, b| a.total_cmp(b));
    println!(
        "default rule set ({} rules): median {:.0} evaluations/s on one core (runs: {:?})",
        set.rule_ids().len(),
        rates[2],
        rates.iter().map(|r| r.round()).collect::<Vec<_>>()
    );
}
