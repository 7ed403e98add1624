//! The typed facts a rule may read. The schema is fixed here; a rule naming anything else is a
//! load-time error, and facts that are missing or malformed never reach evaluation.

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

/// Declares the closed set of facts: each with its name in rule files and snapshots, its type,
/// its Chinese label (for reasons shown to people) and what it means. Rust code names a fact
/// only through this enum, so a misspelt fact is a compile error, not a silently false rule.
macro_rules! facts {
    ($($variant:ident => $name:literal, $ty:ident, $label:literal, $meaning:literal;)+) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Fact { $($variant,)+ }

        impl Fact {
            pub const ALL: &'static [Fact] = &[$(Fact::$variant,)+];

            /// The name used in rule files and in stored snapshots.
            pub fn name(self) -> &'static str {
                match self { $(Fact::$variant => $name,)+ }
            }

            pub fn fact_type(self) -> FactType {
                match self { $(Fact::$variant => FactType::$ty,)+ }
            }

            /// The Chinese name shown in reasons.
            pub fn label(self) -> &'static str {
                match self { $(Fact::$variant => $label,)+ }
            }

            pub fn meaning(self) -> &'static str {
                match self { $(Fact::$variant => $meaning,)+ }
            }

            /// The fact a rule file names, if there is one by that name.
            pub fn from_name(name: &str) -> Option<Fact> {
                match name { $($name => Some(Fact::$variant),)+ _ => None }
            }
        }
    };
}

facts! {
    FirmGrade => "firm.grade", Text, "施工单位信用等级", "三色码: green / yellow / red";
    FirmPermits24m => "firm.permits_24m", Int, "近24个月夜间施工许可次数", "permits issued to the firm in the last 24 months";
    FirmUpheldComplaints12m => "firm.upheld_complaints_12m", Int, "近12个月查实投诉次数", "upheld complaints against the firm in the last 12 months";
    FirmDaysSinceUpheldComplaint => "firm.days_since_upheld_complaint", Int, "距上次查实投诉天数", "days since the last upheld complaint (100000 if none)";
    FirmInspectionViolations12m => "firm.inspection_violations_12m", Int, "近12个月检查违规次数", "inspection violations in the last 12 months";
    FirmPenalties12m => "firm.penalties_12m", Int, "近12个月行政处罚次数", "administrative penalties in the last 12 months";
    SiteNightDaysThisMonth => "site.night_days_this_month", Int, "工地本月已批准夜间施工天数", "night-work days already approved this month for the same construction permit";
    SiteNightDaysWithRequest => "site.night_days_with_request", Int, "工地本月夜间施工天数（含本次申请）", "the above plus the requested nights falling in that month";
    SiteHoursSinceLastApprovalEnd => "site.hours_since_last_approval_end", Number, "距工地上次批准夜间施工结束小时数", "hours since the site's last approved nights ended (100000 if none)";
    RequestNights => "request.nights", Int, "申请夜晚数", "number of nights requested";
    RequestNightlyHours => "request.nightly_hours", Number, "每晚作业小时数", "working hours per night";
    RequestProcess => "request.process", Text, "施工工艺", "process id, e.g. continuous_pour";
    RequestDistrict => "request.district", Text, "所在区", "district id";
    RequestMaxEquipmentDb => "request.max_equipment_db", Int, "最大设备噪声", "loudest equipment sound level, dB(A)";
    RequestMeasures => "request.measures", TextList, "降噪措施", "noise-control measures as written by the firm";
    RequestIntervals => "request.intervals", Intervals, "申请作业时段", "the requested working intervals, night by night";
    RequestNightsOnHolidays => "request.nights_on_holidays", Int, "节假日夜晚数", "requested nights starting on a public holiday";
    PrereviewWarnings => "prereview.warnings", Int, "智能预审警告数", "warnings left by the pre-review";
    CalendarExamQuietPeriods => "calendar.exam_quiet_periods", Intervals, "考试噪声管控期", "exam quiet periods from config/calendar";
}

/// Why a value cannot be trusted for this fact, beyond its type: a rule comparing against a
/// nonsensical value (a negative count, an unknown grade) would silently not hold.
fn value_problem(fact: Fact, value: &FactValue) -> Option<String> {
    use Fact::*;
    match (fact, value) {
        (FirmGrade, FactValue::Text(t)) => {
            crate::grading::Grade::parse(t).is_none().then(|| format!("未知的信用等级“{t}”"))
        }
        (RequestProcess, FactValue::Text(t)) => t.parse::<nightpermit_domain::Process>().err().map(|e| e.to_string()),
        (RequestDistrict, FactValue::Text(t)) => t.parse::<nightpermit_domain::District>().err().map(|e| e.to_string()),
        (RequestNights, FactValue::Int(n)) => (*n < 1).then(|| format!("夜晚数为{n}")),
        (RequestMaxEquipmentDb, FactValue::Int(n)) => (*n < 1).then(|| format!("噪声值为{n}")),
        (RequestNightlyHours, v) => match v.as_number() {
            Some(h) if h > 0.0 && h <= 24.0 => None,
            Some(h) => Some(format!("每晚{h}小时")),
            None => None,
        },
        // Hours since the last approval are negative when the nights overlap; every other
        // whole-number fact is a count or a level.
        (_, FactValue::Int(n)) if *n < 0 && fact != SiteHoursSinceLastApprovalEnd => Some(format!("不能为负数（{n}）")),
        (_, FactValue::Number(n)) if !n.is_finite() => Some("不是有限数值".into()),
        (RequestIntervals, FactValue::Intervals(list)) if list.is_empty() => Some("没有作业时段".into()),
        (_, FactValue::Intervals(list)) if list.iter().any(|i| i.start >= i.end) => Some("时段的结束早于开始".into()),
        _ => None,
    }
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

/// What is wrong with one fact of a snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FactProblem {
    Missing(Fact),
    WrongType { fact: Fact, got: FactType },
    Invalid { fact: Fact, why: String },
}

impl FactProblem {
    pub fn fact(&self) -> Fact {
        match self {
            FactProblem::Missing(f) | FactProblem::WrongType { fact: f, .. } | FactProblem::Invalid { fact: f, .. } => {
                *f
            }
        }
    }

    /// The Chinese reason given when the case goes to a human because of it; names the fact.
    pub fn reason(&self) -> String {
        let f = self.fact();
        match self {
            FactProblem::Missing(_) => {
                format!("缺少审批事实“{}”（{}），无法自动审批，需人工审核", f.label(), f.name())
            }
            FactProblem::WrongType { got, .. } => format!(
                "审批事实“{}”（{}）格式错误（应为{:?}，实为{:?}），无法自动审批，需人工审核",
                f.label(),
                f.name(),
                f.fact_type(),
                got
            ),
            FactProblem::Invalid { why, .. } => {
                format!("审批事实“{}”（{}）取值无效（{why}），无法自动审批，需人工审核", f.label(), f.name())
            }
        }
    }
}

/// The facts of one case, snapshotted with its decision so it can be replayed. Stored by name;
/// names outside the schema (from a retired fact) are kept but never read.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Facts(BTreeMap<String, FactValue>);

impl Facts {
    pub fn set(&mut self, fact: Fact, value: FactValue) -> &mut Self {
        self.0.insert(fact.name().to_string(), value);
        self
    }

    pub fn get(&self, fact: Fact) -> Option<&FactValue> {
        self.0.get(fact.name())
    }

    pub fn remove(&mut self, fact: Fact) -> Option<FactValue> {
        self.0.remove(fact.name())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Every schema fact that is missing, of the wrong type or of a nonsensical value.
    pub fn problems(&self) -> Vec<FactProblem> {
        Fact::ALL
            .iter()
            .filter_map(|&fact| {
                let ty = fact.fact_type();
                match self.get(fact) {
                    None => Some(FactProblem::Missing(fact)),
                    Some(v) if v.fact_type() != ty && !(ty == FactType::Number && v.fact_type() == FactType::Int) => {
                        Some(FactProblem::WrongType { fact, got: v.fact_type() })
                    }
                    Some(v) => value_problem(fact, v).map(|why| FactProblem::Invalid { fact, why }),
                }
            })
            .collect()
    }

    /// The only way to get facts the rules may evaluate: every schema fact present and sound.
    pub fn check(&self) -> Result<CheckedFacts<'_>, Vec<FactProblem>> {
        let problems = self.problems();
        if problems.is_empty() {
            Ok(CheckedFacts { facts: self })
        } else {
            Err(problems)
        }
    }
}

/// Facts that passed [`Facts::check`]. Evaluation takes only this, so a rule can never read a
/// missing fact as "false" and let a case through unexamined.
#[derive(Debug, Clone, Copy)]
pub struct CheckedFacts<'a> {
    facts: &'a Facts,
}

impl<'a> CheckedFacts<'a> {
    pub fn get(&self, fact: Fact) -> Option<&'a FactValue> {
        self.facts.get(fact)
    }

    pub fn facts(&self) -> &'a Facts {
        self.facts
    }
}
