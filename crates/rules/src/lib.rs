//! Rule sets as data (`config/rules/*.toml`) and their pure evaluation:
//! `evaluate(&RuleSet, &Facts) -> Decision`. No I/O beyond parsing the text callers hand in.
#![forbid(unsafe_code)]

pub mod example;
mod facts;
pub mod grading;
mod ruleset;

pub use facts::{FactType, FactValue, Facts, Interval, FACT_SCHEMA};
pub use ruleset::{evaluate, simulate, Decision, Outcome, RuleSet, RuleSetError, SimulationChange, TraceEntry};
