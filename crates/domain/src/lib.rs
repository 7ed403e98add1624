//! Pure domain types of the night-construction permit service: validated values and the
//! application state machine. No I/O lives here, so every rule can be unit-tested on its own.
#![forbid(unsafe_code)]

mod credit_code;
mod enums;
mod night;
mod review;
mod status;

pub use credit_code::{CreditCode, CreditCodeError, CREDIT_CODE_ALPHABET};
pub use enums::{
    ComplaintOutcome, ComplaintPriority, ComplaintStep, DecisionOutcome, Department, District, InspectionStatus,
    MaterialKind, Process, Role, TrackStatus, UnknownValue,
};
pub use night::{
    minutes_after_night_start, parse_clock, parse_date, NightWindow, NightWindowError, MAX_NIGHTS_PER_APPLICATION,
    NIGHT_END, NIGHT_START,
};
pub use review::{combined_status, ReviewOutcome, MAX_REVIEW_COMMENT_CHARS};
pub use status::{ApplicationStatus, IllegalTransition};
