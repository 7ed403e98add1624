//! Firm grades (三色码: green / yellow / red) computed from the firm's record by
//! `config/grading.toml`.

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Grade {
    Green,
    Yellow,
    Red,
}

impl Grade {
    pub const ALL: &'static [Grade] = &[Grade::Green, Grade::Yellow, Grade::Red];

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|g| g.id() == s)
    }

    pub fn id(self) -> &'static str {
        match self {
            Grade::Green => "green",
            Grade::Yellow => "yellow",
            Grade::Red => "red",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordKind {
    ComplaintUpheld,
    InspectionViolation,
    Penalty,
    PermitCompletedClean,
}

impl RecordKind {
    pub const ALL: &'static [RecordKind] = &[
        RecordKind::ComplaintUpheld,
        RecordKind::InspectionViolation,
        RecordKind::Penalty,
        RecordKind::PermitCompletedClean,
    ];

    pub fn id(self) -> &'static str {
        match self {
            RecordKind::ComplaintUpheld => "complaint_upheld",
            RecordKind::InspectionViolation => "inspection_violation",
            RecordKind::Penalty => "penalty",
            RecordKind::PermitCompletedClean => "permit_completed_clean",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|k| k.id() == s)
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GradingPolicy {
    pub window_days: i64,
    pub points: BTreeMap<RecordKind, i64>,
    pub thresholds: Thresholds,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Thresholds {
    pub yellow: i64,
    pub red: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GradeResult {
    pub grade: Grade,
    pub points: i64,
    /// The records inside the window that carried points, as (kind, when, points).
    pub counted: Vec<(RecordKind, NaiveDateTime, i64)>,
}

impl GradingPolicy {
    pub fn from_toml(text: &str) -> Result<Self, String> {
        let p: GradingPolicy = toml::from_str(text).map_err(|e| format!("grading.toml: {e}"))?;
        if p.thresholds.yellow > p.thresholds.red || p.window_days <= 0 {
            return Err("grading.toml: need 0 < window_days and yellow <= red".into());
        }
        Ok(p)
    }

    /// The grade now, from the records (kind, when). Points never go below zero.
    pub fn grade(&self, records: &[(RecordKind, NaiveDateTime)], now: NaiveDateTime) -> GradeResult {
        let since = now - chrono::Duration::days(self.window_days);
        let counted: Vec<_> = records
            .iter()
            .filter(|(_, at)| *at > since && *at <= now)
            .map(|(k, at)| (*k, *at, self.points.get(k).copied().unwrap_or(0)))
            .collect();
        let points = counted.iter().map(|c| c.2).sum::<i64>().max(0);
        let grade = if points >= self.thresholds.red {
            Grade::Red
        } else if points >= self.thresholds.yellow {
            Grade::Yellow
        } else {
            Grade::Green
        };
        GradeResult { grade, points, counted }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> GradingPolicy {
        GradingPolicy::from_toml(include_str!("../../../config/grading.toml")).expect("valid")
    }

    fn at(d: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(&format!("{d} 12:00"), "%Y-%m-%d %H:%M").expect("date")
    }

    #[test]
    fn transitions_green_yellow_red_and_back() {
        let p = policy();
        let now = at("2026-11-28");
        let mut record = vec![];
        assert_eq!(p.grade(&record, now).grade, Grade::Green);
        record.push((RecordKind::ComplaintUpheld, at("2026-10-01")));
        assert_eq!(p.grade(&record, now).grade, Grade::Yellow);
        record.push((RecordKind::Penalty, at("2026-10-05")));
        let r = p.grade(&record, now);
        assert_eq!((r.grade, r.points), (Grade::Red, 8));
        // A year later the window has passed them by.
        assert_eq!(p.grade(&record, at("2027-10-06")).grade, Grade::Green);
        // Clean completions earn credit back: 3 - 1 = 2 < yellow.
        let record =
            vec![(RecordKind::ComplaintUpheld, at("2026-10-01")), (RecordKind::PermitCompletedClean, at("2026-11-01"))];
        assert_eq!(p.grade(&record, now).grade, Grade::Green);
        // Credit never makes points negative.
        let record = vec![(RecordKind::PermitCompletedClean, at("2026-11-01")); 5];
        assert_eq!(p.grade(&record, now).points, 0);
    }

    #[test]
    fn bad_policy_is_refused() {
        assert!(GradingPolicy::from_toml("window_days = 0\n[points]\n[thresholds]\nyellow=1\nred=2").is_err());
        assert!(
            GradingPolicy::from_toml("window_days = 10\n[points]\nbribe = 1\n[thresholds]\nyellow=1\nred=2").is_err()
        );
    }
}
