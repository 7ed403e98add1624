//! Loading, validating and evaluating a rule set.

use crate::facts::{CheckedFacts, Fact, FactType, FactValue, Facts};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// The rules' outcome is the domain's, so the store keeps it typed too.
pub use nightpermit_domain::DecisionOutcome as Outcome;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleSetError {
    #[error("{file}:{line}: {message}")]
    Invalid { file: String, line: usize, message: String },
}

/// A compiled condition over facts.
#[derive(Debug, Clone, PartialEq)]
enum Condition {
    All(Vec<Condition>),
    Any(Vec<Condition>),
    Not(Box<Condition>),
    Compare {
        fact: Fact,
        op: CompareOp,
        value: FactValue,
    },
    /// The text fact is one of these.
    In {
        fact: Fact,
        values: Vec<String>,
    },
    /// Some element of the text-list fact contains one of these substrings.
    AnyContains {
        fact: Fact,
        needles: Vec<String>,
    },
    /// Some interval of `fact` overlaps some interval of `other`.
    Overlaps {
        fact: Fact,
        other: Fact,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CompareOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone, PartialEq)]
struct Rule {
    id: String,
    outcome: Outcome,
    reason: String,
    when: Condition,
}

/// A validated rule set; `sha256` identifies the exact text it was loaded from.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleSet {
    pub id: String,
    pub version: String,
    pub sha256: String,
    rules: Vec<Rule>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TraceEntry {
    pub rule: String,
    /// Whether the rule's condition held.
    pub result: bool,
    /// The facts it read, with their values.
    pub facts: BTreeMap<String, FactValue>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    pub outcome: Outcome,
    pub ruleset_id: String,
    pub ruleset_version: String,
    pub ruleset_sha256: String,
    /// Chinese reasons of every rule that held, strongest outcome first.
    pub reasons: Vec<String>,
    /// Ids of the rules that held.
    pub matched: Vec<String>,
    pub trace: Vec<TraceEntry>,
}

// ---- parsing ----

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSpec {
    id: String,
    version: String,
    #[serde(default)]
    #[allow(dead_code)]
    description: String,
    rules: Vec<RuleSpec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleSpec {
    id: toml::Spanned<String>,
    outcome: toml::Spanned<String>,
    reason: String,
    when: ConditionSpec,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConditionSpec {
    all: Option<Vec<ConditionSpec>>,
    any: Option<Vec<ConditionSpec>>,
    not: Option<Box<ConditionSpec>>,
    fact: Option<toml::Spanned<String>>,
    eq: Option<toml::Value>,
    ne: Option<toml::Value>,
    lt: Option<toml::Value>,
    le: Option<toml::Value>,
    gt: Option<toml::Value>,
    ge: Option<toml::Value>,
    #[serde(rename = "in")]
    in_: Option<Vec<String>>,
    any_contains: Option<Vec<String>>,
    overlaps: Option<toml::Spanned<String>>,
}

struct Loader<'a> {
    file: &'a str,
    text: &'a str,
}

impl Loader<'_> {
    fn line_of(&self, offset: usize) -> usize {
        self.text[..offset.min(self.text.len())].matches('\n').count() + 1
    }

    fn err(&self, offset: usize, message: impl Into<String>) -> RuleSetError {
        RuleSetError::Invalid { file: self.file.to_string(), line: self.line_of(offset), message: message.into() }
    }

    fn literal(
        &self,
        fact: &str,
        ty: FactType,
        v: &toml::Value,
        at: usize,
        ordered: bool,
    ) -> Result<FactValue, RuleSetError> {
        let value = match (ty, v) {
            (FactType::Bool, toml::Value::Boolean(b)) if !ordered => FactValue::Bool(*b),
            (FactType::Int, toml::Value::Integer(i)) => FactValue::Int(*i),
            (FactType::Number, toml::Value::Integer(i)) => FactValue::Number(*i as f64),
            (FactType::Number, toml::Value::Float(f)) => FactValue::Number(*f),
            (FactType::Text, toml::Value::String(s)) if !ordered => FactValue::Text(s.clone()),
            _ => {
                let what = if ordered { "an ordered comparison" } else { "a comparison" };
                return Err(self.err(at, format!("fact {fact} is {ty:?}; {v} is not valid in {what} with it")));
            }
        };
        Ok(value)
    }

    fn condition(&self, spec: &ConditionSpec, at: usize) -> Result<Condition, RuleSetError> {
        let forms = [spec.all.is_some(), spec.any.is_some(), spec.not.is_some(), spec.fact.is_some()];
        if forms.iter().filter(|f| **f).count() != 1 {
            return Err(self.err(at, "a condition needs exactly one of all, any, not, fact"));
        }
        if let Some(list) = &spec.all {
            return Ok(Condition::All(list.iter().map(|c| self.condition(c, at)).collect::<Result<_, _>>()?));
        }
        if let Some(list) = &spec.any {
            return Ok(Condition::Any(list.iter().map(|c| self.condition(c, at)).collect::<Result<_, _>>()?));
        }
        if let Some(inner) = &spec.not {
            return Ok(Condition::Not(Box::new(self.condition(inner, at)?)));
        }
        let Some(fact) = &spec.fact else { return Err(self.err(at, "missing fact")) };
        let at = fact.span().start;
        let name = fact.get_ref().clone();
        let known = Fact::from_name(&name);
        let known = known
            .ok_or_else(|| self.err(at, format!("unknown fact {name:?} (see Fact in crates/rules/src/facts.rs)")))?;
        let ty = known.fact_type();
        let comparisons = [
            (CompareOp::Eq, &spec.eq),
            (CompareOp::Ne, &spec.ne),
            (CompareOp::Lt, &spec.lt),
            (CompareOp::Le, &spec.le),
            (CompareOp::Gt, &spec.gt),
            (CompareOp::Ge, &spec.ge),
        ];
        let given = comparisons.iter().filter(|(_, v)| v.is_some()).count()
            + usize::from(spec.in_.is_some())
            + usize::from(spec.any_contains.is_some())
            + usize::from(spec.overlaps.is_some());
        if given != 1 {
            return Err(self.err(
                at,
                format!("fact {name}: give exactly one operator (eq ne lt le gt ge in any_contains overlaps)"),
            ));
        }
        for (op, v) in comparisons {
            if let Some(v) = v {
                let ordered = !matches!(op, CompareOp::Eq | CompareOp::Ne);
                return Ok(Condition::Compare { fact: known, op, value: self.literal(&name, ty, v, at, ordered)? });
            }
        }
        if let Some(values) = &spec.in_ {
            if ty != FactType::Text {
                return Err(self.err(at, format!("`in` needs a Text fact; {name} is {ty:?}")));
            }
            return Ok(Condition::In { fact: known, values: values.clone() });
        }
        if let Some(needles) = &spec.any_contains {
            if ty != FactType::TextList {
                return Err(self.err(at, format!("`any_contains` needs a TextList fact; {name} is {ty:?}")));
            }
            return Ok(Condition::AnyContains { fact: known, needles: needles.clone() });
        }
        if let Some(other) = &spec.overlaps {
            let other_fact = Fact::from_name(other.get_ref()).filter(|f| f.fact_type() == FactType::Intervals);
            let Some(other_fact) = other_fact.filter(|_| ty == FactType::Intervals) else {
                return Err(self.err(
                    other.span().start,
                    format!("`overlaps` needs two Intervals facts; got {name} and {}", other.get_ref()),
                ));
            };
            return Ok(Condition::Overlaps { fact: known, other: other_fact });
        }
        Err(self.err(at, "no operator"))
    }
}

impl RuleSet {
    /// Parses and validates a rule file; errors name the file and line.
    pub fn from_toml(file: &str, text: &str) -> Result<Self, RuleSetError> {
        let loader = Loader { file, text };
        let spec: FileSpec = toml::from_str(text).map_err(|e| {
            let offset = e.span().map(|s| s.start).unwrap_or(0);
            loader.err(offset, e.message().to_string())
        })?;
        let mut rules = Vec::new();
        let mut seen = std::collections::BTreeSet::new();
        for r in &spec.rules {
            let at = r.id.span().start;
            if !seen.insert(r.id.get_ref().clone()) {
                return Err(loader.err(at, format!("duplicate rule id {}", r.id.get_ref())));
            }
            let outcome = match r.outcome.get_ref().as_str() {
                "manual_review" => Outcome::ManualReview,
                "reject" => Outcome::Reject,
                other => {
                    return Err(loader.err(r.outcome.span().start, format!("outcome must be manual_review or reject, not {other:?} (auto-approval is what remains when no rule holds)")))
                }
            };
            if r.reason.trim().is_empty() {
                return Err(loader.err(at, format!("rule {} needs a Chinese reason", r.id.get_ref())));
            }
            rules.push(Rule {
                id: r.id.get_ref().clone(),
                outcome,
                reason: r.reason.clone(),
                when: loader.condition(&r.when, at)?,
            });
        }
        if spec.id.trim().is_empty() || spec.version.trim().is_empty() {
            return Err(loader.err(0, "id and version are required"));
        }
        Ok(RuleSet { id: spec.id, version: spec.version, sha256: hex::encode(Sha256::digest(text.as_bytes())), rules })
    }

    pub fn rule_ids(&self) -> Vec<&str> {
        self.rules.iter().map(|r| r.id.as_str()).collect()
    }

    /// Each rule as people read it: id, outcome, reason and its condition written out.
    pub fn describe(&self) -> Vec<RuleDescription> {
        self.rules
            .iter()
            .map(|r| RuleDescription {
                id: r.id.clone(),
                outcome: r.outcome,
                reason: r.reason.clone(),
                when: r.when.describe(),
            })
            .collect()
    }
}

/// One rule of a set, for display.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleDescription {
    pub id: String,
    pub outcome: Outcome,
    pub reason: String,
    /// The condition, e.g. `firm.grade ≠ "green"` or `(a) 且 (非 b)`.
    pub when: String,
}

fn describe_value(v: &FactValue) -> String {
    match v {
        FactValue::Bool(b) => b.to_string(),
        FactValue::Int(i) => i.to_string(),
        FactValue::Number(n) => n.to_string(),
        FactValue::Text(t) => format!("\"{t}\""),
        other => serde_json::to_string(other).unwrap_or_default(),
    }
}

impl Condition {
    fn describe(&self) -> String {
        let join = |parts: &[Condition], word: &str| {
            parts.iter().map(|c| format!("（{}）", c.describe())).collect::<Vec<_>>().join(word)
        };
        match self {
            Condition::All(parts) => join(parts, " 且 "),
            Condition::Any(parts) => join(parts, " 或 "),
            Condition::Not(inner) => format!("非（{}）", inner.describe()),
            Condition::Compare { fact, op, value } => {
                let op = match op {
                    CompareOp::Eq => "=",
                    CompareOp::Ne => "≠",
                    CompareOp::Lt => "<",
                    CompareOp::Le => "≤",
                    CompareOp::Gt => ">",
                    CompareOp::Ge => "≥",
                };
                format!("{} {op} {}", fact.name(), describe_value(value))
            }
            Condition::In { fact, values } => format!("{} 属于 {}", fact.name(), values.join("、")),
            Condition::AnyContains { fact, needles } => format!("{} 含有 {}", fact.name(), needles.join("、")),
            Condition::Overlaps { fact, other } => format!("{} 与 {} 重叠", fact.name(), other.name()),
        }
    }
}

// ---- evaluation ----

fn compare(op: CompareOp, actual: &FactValue, expected: &FactValue) -> bool {
    match (actual.as_number(), expected.as_number()) {
        (Some(a), Some(e)) => match op {
            CompareOp::Eq => a == e,
            CompareOp::Ne => a != e,
            CompareOp::Lt => a < e,
            CompareOp::Le => a <= e,
            CompareOp::Gt => a > e,
            CompareOp::Ge => a >= e,
        },
        _ => match op {
            CompareOp::Eq => actual == expected,
            CompareOp::Ne => actual != expected,
            _ => false,
        },
    }
}

fn holds(c: &Condition, facts: &CheckedFacts<'_>, read: &mut BTreeMap<String, FactValue>) -> bool {
    let mut get = |fact: &Fact| -> Option<FactValue> {
        let v = facts.get(*fact).cloned();
        if let Some(v) = &v {
            read.insert(fact.name().to_string(), v.clone());
        }
        v
    };
    match c {
        // Every branch is evaluated (no short-circuit) so the trace shows all facts consulted.
        Condition::All(list) => list.iter().map(|c| holds(c, facts, read)).fold(true, |a, b| a & b),
        Condition::Any(list) => list.iter().map(|c| holds(c, facts, read)).fold(false, |a, b| a | b),
        Condition::Not(inner) => !holds(inner, facts, read),
        Condition::Compare { fact, op, value } => get(fact).is_some_and(|v| compare(*op, &v, value)),
        Condition::In { fact, values } => matches!(get(fact), Some(FactValue::Text(t)) if values.contains(&t)),
        Condition::AnyContains { fact, needles } => match get(fact) {
            Some(FactValue::TextList(items)) => items.iter().any(|i| needles.iter().any(|n| i.contains(n.as_str()))),
            _ => false,
        },
        Condition::Overlaps { fact, other } => match (get(fact), get(other)) {
            (Some(FactValue::Intervals(a)), Some(FactValue::Intervals(b))) => {
                a.iter().any(|x| b.iter().any(|y| x.overlaps(y)))
            }
            _ => false,
        },
    }
}

/// The rule id a decision names when the facts were incomplete and no rule was evaluated.
pub const FACTS_INCOMPLETE: &str = "facts_incomplete";

/// Decides a case: evaluates the rules on its facts if they pass [`Facts::check`]; otherwise
/// the case goes to a human with one Chinese reason per missing or malformed fact. This fails
/// closed: a fact the server could not establish never lets a case be auto-approved.
pub fn decide(set: &RuleSet, facts: &Facts) -> Decision {
    match facts.check() {
        Ok(checked) => evaluate(set, &checked),
        Err(problems) => Decision {
            outcome: Outcome::ManualReview,
            ruleset_id: set.id.clone(),
            ruleset_version: set.version.clone(),
            ruleset_sha256: set.sha256.clone(),
            reasons: problems.iter().map(|p| p.reason()).collect(),
            matched: vec![FACTS_INCOMPLETE.to_string()],
            trace: Vec::new(),
        },
    }
}

/// Evaluates every rule on checked facts. Reject beats manual review beats auto-approval.
///
/// Unchecked facts do not compile:
/// ```compile_fail
/// let set = nightpermit_rules::RuleSet::from_toml("x.toml", "id = \"x\"\nversion = \"1\"\nrules = []").unwrap();
/// nightpermit_rules::evaluate(&set, &nightpermit_rules::Facts::default());
/// ```
pub fn evaluate(set: &RuleSet, facts: &CheckedFacts<'_>) -> Decision {
    let mut trace = Vec::with_capacity(set.rules.len());
    let mut matched: Vec<&Rule> = Vec::new();
    for rule in &set.rules {
        let mut read = BTreeMap::new();
        let result = holds(&rule.when, facts, &mut read);
        if result {
            matched.push(rule);
        }
        trace.push(TraceEntry { rule: rule.id.clone(), result, facts: read });
    }
    matched.sort_by_key(|r| std::cmp::Reverse(r.outcome));
    let outcome = matched.first().map(|r| r.outcome).unwrap_or(Outcome::AutoApprove);
    Decision {
        outcome,
        ruleset_id: set.id.clone(),
        ruleset_version: set.version.clone(),
        ruleset_sha256: set.sha256.clone(),
        reasons: matched.iter().map(|r| r.reason.clone()).collect(),
        matched: matched.iter().map(|r| r.id.clone()).collect(),
        trace,
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SimulationChange {
    pub case: String,
    pub before: Outcome,
    pub after: Outcome,
    pub after_reasons: Vec<String>,
}

/// Replays stored fact snapshots under `set`; returns the cases whose outcome would change.
pub fn simulate<'a>(
    set: &RuleSet,
    snapshots: impl IntoIterator<Item = (&'a str, Outcome, &'a Facts)>,
) -> (usize, Vec<SimulationChange>) {
    let mut total = 0;
    let mut changes = Vec::new();
    for (case, before, facts) in snapshots {
        total += 1;
        let d = decide(set, facts);
        if d.outcome != before {
            changes.push(SimulationChange {
                case: case.to_string(),
                before,
                after: d.outcome,
                after_reasons: d.reasons,
            });
        }
    }
    (total, changes)
}
