//! Statistics over a period, for the admin page: applications per month, the share decided by
//! the rules alone, how long the pre-review took, how long each department took to decide,
//! and which findings the pre-review reported. Read-only; computed from the stored cases.

use crate::state::AppState;
use crate::views::shanghai_local;
use nightpermit_domain::{DecisionOutcome, Department};
use nightpermit_store::{ApplicationScope, StoreResult};
use std::collections::BTreeMap;

/// One labelled number of a series.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    pub label: String,
    pub value: f64,
}

#[derive(Debug, Clone, Default)]
pub struct Stats {
    /// Applications created per month (YYYY-MM).
    pub per_month: Vec<Point>,
    /// Rules decisions by outcome, and the share auto-approved (0..=1; none if no decisions).
    pub outcomes: Vec<Point>,
    pub auto_share: Option<f64>,
    pub decisions: usize,
    /// Pre-review rounds finished, by how long they took.
    pub latency: Vec<Point>,
    /// Median hours from a task reaching a department's queue to its decision.
    pub decision_hours: Vec<Point>,
    /// Findings reported, by code, most frequent first.
    pub findings: Vec<Point>,
}

/// Latency buckets: upper bound in seconds and label.
const LATENCY_BUCKETS: [(i64, &str); 6] =
    [(10, "≤10秒"), (30, "10–30秒"), (60, "30秒–1分"), (300, "1–5分"), (1800, "5–30分"), (i64::MAX, ">30分")];

pub fn latency_bucket(ms: i64) -> usize {
    let secs = (ms.max(0) + 999) / 1000;
    LATENCY_BUCKETS.iter().position(|(max, _)| secs <= *max).unwrap_or(LATENCY_BUCKETS.len() - 1)
}

pub fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(|a, b| a.total_cmp(b));
    let n = values.len();
    Some(if n % 2 == 1 { values[n / 2] } else { (values[n / 2 - 1] + values[n / 2]) / 2.0 })
}

/// Every month from the one of `from_ms` to the one before `to_ms`, so empty months show.
fn months(from_ms: i64, to_ms: i64) -> Vec<String> {
    let (mut y, mut m) = {
        let d = shanghai_local(from_ms).date();
        (chrono::Datelike::year(&d), chrono::Datelike::month(&d))
    };
    let last = shanghai_local((to_ms - 1).max(from_ms)).date();
    let last = (chrono::Datelike::year(&last), chrono::Datelike::month(&last));
    let mut out = Vec::new();
    while (y, m) <= last && out.len() < 240 {
        out.push(format!("{y:04}-{m:02}"));
        (y, m) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    }
    out
}

/// The statistics of applications created in `[from_ms, to_ms)`.
pub async fn compute(state: &AppState, from_ms: i64, to_ms: i64) -> StoreResult<Stats> {
    let (apps, _) = state.store.list_applications(&ApplicationScope::All, 1_000_000, 0).await?;
    let apps: Vec<_> = apps.into_iter().filter(|a| a.created_at >= from_ms && a.created_at < to_ms).collect();

    let mut per_month: BTreeMap<String, f64> = months(from_ms, to_ms).into_iter().map(|m| (m, 0.0)).collect();
    let mut outcomes: BTreeMap<DecisionOutcome, f64> = DecisionOutcome::ALL.iter().map(|o| (*o, 0.0)).collect();
    let mut latency = [0f64; LATENCY_BUCKETS.len()];
    let mut hours: BTreeMap<Department, Vec<f64>> = BTreeMap::new();
    let mut findings: BTreeMap<String, f64> = BTreeMap::new();
    for a in &apps {
        let month = shanghai_local(a.created_at).format("%Y-%m").to_string();
        *per_month.entry(month).or_default() += 1.0;
        if a.round == 0 {
            continue;
        }
        for d in state.store.decisions(&a.id).await? {
            *outcomes.entry(d.outcome).or_default() += 1.0;
        }
        for r in state.store.prereview_rounds(&a.id).await? {
            if let Some(done) = r.finished_at {
                latency[latency_bucket(done - r.submitted_at)] += 1.0;
            }
            let list: Vec<serde_json::Value> =
                r.findings.as_deref().and_then(|f| serde_json::from_str(f).ok()).unwrap_or_default();
            for f in list {
                if let Some(code) = f.get("code").and_then(|c| c.as_str()) {
                    *findings.entry(code.to_string()).or_default() += 1.0;
                }
            }
        }
        for t in state.store.tracks(&a.id).await? {
            if let Some(at) = t.decided_at {
                hours.entry(t.department).or_default().push((at - t.created_at) as f64 / 3_600_000.0);
            }
        }
    }
    let decisions: f64 = outcomes.values().sum();
    let auto = outcomes.get(&DecisionOutcome::AutoApprove).copied().unwrap_or(0.0);
    let mut findings: Vec<Point> = findings.into_iter().map(|(label, value)| Point { label, value }).collect();
    findings.sort_by(|a, b| b.value.total_cmp(&a.value).then(a.label.cmp(&b.label)));
    Ok(Stats {
        per_month: per_month.into_iter().map(|(label, value)| Point { label, value }).collect(),
        outcomes: outcomes.into_iter().map(|(o, value)| Point { label: o.label().into(), value }).collect(),
        auto_share: (decisions > 0.0).then(|| auto / decisions),
        decisions: decisions as usize,
        latency: LATENCY_BUCKETS
            .iter()
            .zip(latency)
            .map(|((_, l), value)| Point { label: (*l).into(), value })
            .collect(),
        decision_hours: [Department::Construction, Department::Environment]
            .iter()
            .map(|d| Point {
                label: d.label().into(),
                value: hours.get_mut(d).and_then(|v| median(v)).map(|h| (h * 10.0).round() / 10.0).unwrap_or(0.0),
            })
            .collect(),
        findings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latencies_fall_in_their_bucket() {
        assert_eq!(latency_bucket(0), 0);
        assert_eq!(latency_bucket(10_000), 0);
        assert_eq!(latency_bucket(10_001), 1);
        assert_eq!(latency_bucket(3_600_000), 5);
    }

    #[test]
    fn medians_of_odd_and_even_counts() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&mut []), None);
    }

    #[test]
    fn every_month_of_the_period_is_listed() {
        let from = crate::views::shanghai_millis(
            chrono::NaiveDate::from_ymd_opt(2025, 11, 15).and_then(|d| d.and_hms_opt(0, 0, 0)).unwrap_or_default(),
        )
        .unwrap_or_default();
        let to = from + 70 * 86_400_000;
        assert_eq!(months(from, to), ["2025-11", "2025-12", "2026-01"]);
    }
}
