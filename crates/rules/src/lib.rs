//! Rule sets as data (`config/rules/*.toml`) and their pure evaluation:
//! `decide(&RuleSet, &Facts) -> Decision`, which checks the facts first and sends a case whose
//! facts are incomplete to a human. No I/O beyond parsing the text callers hand in.
#![forbid(unsafe_code)]

pub mod aftercare;
pub mod example;
mod facts;
pub mod grading;
mod ruleset;

pub use facts::{CheckedFacts, Fact, FactProblem, FactType, FactValue, Facts, Interval};
pub use ruleset::{
    decide, evaluate, simulate, Decision, Outcome, RuleDescription, RuleSet, RuleSetError, SimulationChange,
    TraceEntry, FACTS_INCOMPLETE,
};
