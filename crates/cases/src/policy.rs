//! The decision policy in force: the rule set, the calendar and the grading policy, loaded and
//! validated at start-up (a bad file stops the start with its name and line).

use crate::config::Settings;
use anyhow::{bail, Context};
use chrono::{NaiveDate, NaiveDateTime};
use nightpermit_rules::grading::GradingPolicy;
use nightpermit_rules::{Interval, RuleSet};
use serde::Deserialize;
use std::path::Path;

const DEFAULT_RULES: &str = include_str!("../../../config/rules/default.toml");
const DEFAULT_CALENDAR: &str = include_str!("../../../config/calendar/shanghai.toml");
const DEFAULT_GRADING: &str = include_str!("../../../config/grading.toml");

#[derive(Debug, Clone, Deserialize)]
struct CalendarFile {
    exam_quiet_periods: Vec<QuietPeriod>,
    #[serde(default)]
    holidays: Vec<NaiveDate>,
    /// Weekend days that are working days (调休上班), for deadlines counted in working days.
    #[serde(default)]
    workdays: Vec<NaiveDate>,
}

#[derive(Debug, Clone, Deserialize)]
struct QuietPeriod {
    #[allow(dead_code)]
    name: String,
    start: NaiveDateTime,
    end: NaiveDateTime,
}

#[derive(Debug, Clone)]
pub struct Calendar {
    pub exam_quiet_periods: Vec<Interval>,
    pub holidays: Vec<NaiveDate>,
    pub workdays: Vec<NaiveDate>,
}

#[derive(Debug, Clone)]
pub struct Policy {
    pub rules: RuleSet,
    pub calendar: Calendar,
    pub grading: GradingPolicy,
}

fn read_or_default(path: &Path, default: &'static str) -> anyhow::Result<(String, String)> {
    if path.as_os_str().is_empty() {
        return Ok(("(built-in)".into(), default.to_string()));
    }
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok((path.display().to_string(), text))
}

pub fn parse_calendar(name: &str, text: &str) -> anyhow::Result<Calendar> {
    let file: CalendarFile = toml::from_str(text).with_context(|| format!("{name}: invalid calendar"))?;
    for p in &file.exam_quiet_periods {
        if p.end <= p.start {
            bail!("{name}: quiet period {} ends before it starts", p.name);
        }
    }
    Ok(Calendar {
        exam_quiet_periods: file.exam_quiet_periods.iter().map(|p| Interval { start: p.start, end: p.end }).collect(),
        holidays: file.holidays,
        workdays: file.workdays,
    })
}

impl Policy {
    pub fn load(settings: &Settings) -> anyhow::Result<Self> {
        let (name, text) = read_or_default(&settings.rules.file, DEFAULT_RULES)?;
        let rules = RuleSet::from_toml(&name, &text).map_err(|e| anyhow::anyhow!("rule set: {e}"))?;
        let (name, text) = read_or_default(&settings.rules.calendar, DEFAULT_CALENDAR)?;
        let calendar = parse_calendar(&name, &text)?;
        let (_, text) = read_or_default(&settings.rules.grading, DEFAULT_GRADING)?;
        let grading = GradingPolicy::from_toml(&text).map_err(|e| anyhow::anyhow!(e))?;
        Ok(Policy { rules, calendar, grading })
    }

    /// Loads a rule-set file as `rules simulate` does.
    pub fn rules_from_file(path: &Path) -> anyhow::Result<RuleSet> {
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        RuleSet::from_toml(&path.display().to_string(), &text).map_err(|e| anyhow::anyhow!("{e}"))
    }
}
