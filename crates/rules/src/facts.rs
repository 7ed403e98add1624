//! The typed facts a rule may read. The schema is fixed here; a rule naming anything else is a
//! load-time error.

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FactType {
    Bool,
    Int,
    Number,
    Text,
    TextList,
    /// Local (Asia/Shanghai) date-time ranges, e.g. the requested nights or exam quiet periods.
    Intervals,
}

/// Every fact a rule may use, its type, and what it means.
pub const FACT_SCHEMA: &[(&str, FactType, &str)] = &[
    ("firm.grade", FactType::Text, "三色码: green / yellow / red"),
    ("firm.permits_24m", FactType::Int, "permits issued to the firm in the last 24 months"),
    ("firm.upheld_complaints_12m", FactType::Int, "upheld complaints against the firm in the last 12 months"),
    ("firm.days_since_upheld_complaint", FactType::Int, "days since the last upheld complaint (100000 if none)"),
    ("firm.inspection_violations_12m", FactType::Int, "inspection violations in the last 12 months"),
    ("firm.penalties_12m", FactType::Int, "administrative penalties in the last 12 months"),
    (
        "site.night_days_this_month",
        FactType::Int,
        "night-work days already approved this month for the same construction permit",
    ),
    ("site.night_days_with_request", FactType::Int, "the above plus the requested nights falling in that month"),
    (
        "site.hours_since_last_approval_end",
        FactType::Number,
        "hours since the site's last approved nights ended (100000 if none)",
    ),
    ("request.nights", FactType::Int, "number of nights requested"),
    ("request.nightly_hours", FactType::Number, "working hours per night"),
    ("request.process", FactType::Text, "process id, e.g. continuous_pour"),
    ("request.district", FactType::Text, "district id"),
    ("request.max_equipment_db", FactType::Int, "loudest equipment sound level, dB(A)"),
    ("request.measures", FactType::TextList, "noise-control measures as written by the firm"),
    ("request.intervals", FactType::Intervals, "the requested working intervals, night by night"),
    ("request.nights_on_holidays", FactType::Int, "requested nights starting on a public holiday"),
    ("prereview.warnings", FactType::Int, "warnings left by the pre-review"),
    ("calendar.exam_quiet_periods", FactType::Intervals, "exam quiet periods from config/calendar"),
];

pub fn fact_type(name: &str) -> Option<FactType> {
    FACT_SCHEMA.iter().find(|(n, _, _)| *n == name).map(|(_, t, _)| *t)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Interval {
    pub start: NaiveDateTime,
    pub end: NaiveDateTime,
}

impl Interval {
    pub fn overlaps(&self, other: &Interval) -> bool {
        self.start < other.end && other.start < self.end
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum FactValue {
    Bool(bool),
    Int(i64),
    Number(f64),
    Text(String),
    TextList(Vec<String>),
    Intervals(Vec<Interval>),
}

impl FactValue {
    pub fn fact_type(&self) -> FactType {
        match self {
            FactValue::Bool(_) => FactType::Bool,
            FactValue::Int(_) => FactType::Int,
            FactValue::Number(_) => FactType::Number,
            FactValue::Text(_) => FactType::Text,
            FactValue::TextList(_) => FactType::TextList,
            FactValue::Intervals(_) => FactType::Intervals,
        }
    }

    pub fn as_number(&self) -> Option<f64> {
        match self {
            FactValue::Int(i) => Some(*i as f64),
            FactValue::Number(n) => Some(*n),
            _ => None,
        }
    }
}

/// The facts of one case, snapshotted with its decision so it can be replayed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Facts(pub BTreeMap<String, FactValue>);

impl Facts {
    pub fn set(&mut self, name: &str, value: FactValue) -> &mut Self {
        self.0.insert(name.to_string(), value);
        self
    }

    pub fn get(&self, name: &str) -> Option<&FactValue> {
        self.0.get(name)
    }

    /// Names of schema facts missing or of the wrong type: a case is only evaluated when empty.
    pub fn problems(&self) -> Vec<String> {
        FACT_SCHEMA
            .iter()
            .filter_map(|(name, ty, _)| match self.0.get(*name) {
                None => Some(format!("{name}: missing")),
                Some(v) if v.fact_type() != *ty && !(*ty == FactType::Number && v.fact_type() == FactType::Int) => {
                    Some(format!("{name}: expected {ty:?}, got {:?}", v.fact_type()))
                }
                Some(_) => None,
            })
            .collect()
    }
}
