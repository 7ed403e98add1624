//! Department review, the pure part: what a reviewer may decide, when a comment is required,
//! and how the two departments' tracks combine into the case's status.

use crate::enums::{closed_set, UnknownValue};
use crate::{ApplicationStatus, TrackStatus};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use utoipa::ToSchema;

/// Longest reviewer comment, in characters; the firm reads it on its case page.
pub const MAX_REVIEW_COMMENT_CHARS: usize = 1000;

closed_set!(
    /// A reviewer's decision on one department's track.
    ReviewOutcome, "审核结论", {
        Approve => "approve", "同意";
        Reject => "reject", "不予批准";
        RequestCorrection => "request_correction", "要求补正";
    }
);

impl ReviewOutcome {
    /// The track's status after this decision.
    pub fn track_status(self) -> TrackStatus {
        match self {
            Self::Approve => TrackStatus::Approved,
            Self::Reject => TrackStatus::Rejected,
            Self::RequestCorrection => TrackStatus::CorrectionRequested,
        }
    }

    /// A refusal or a correction request must say why: the firm acts on the comment.
    pub fn requires_comment(self) -> bool {
        !matches!(self, Self::Approve)
    }
}

/// The case's status once one track has been decided, given every track of the round (the
/// decided one included, with its new status): one refusal refuses the case, one correction
/// request returns it, and it is approved only when every department has approved. `None`: the
/// case stays under review, waiting for the other department.
pub fn combined_status(decided: TrackStatus, round_tracks: &[TrackStatus]) -> Option<ApplicationStatus> {
    match decided {
        TrackStatus::Rejected => Some(ApplicationStatus::Rejected),
        TrackStatus::CorrectionRequested => Some(ApplicationStatus::NeedsCorrection),
        TrackStatus::Pending => None,
        TrackStatus::Approved => (!round_tracks.is_empty() && round_tracks.iter().all(|t| *t == TrackStatus::Approved))
            .then_some(ApplicationStatus::Approved),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use TrackStatus::*;

    #[test]
    fn both_approvals_approve_and_one_waits() {
        assert_eq!(combined_status(Approved, &[Approved, Approved]), Some(ApplicationStatus::Approved));
        assert_eq!(combined_status(Approved, &[Approved, Pending]), None);
        assert_eq!(combined_status(Approved, &[]), None);
    }

    #[test]
    fn one_refusal_or_correction_decides_the_case() {
        assert_eq!(combined_status(Rejected, &[Rejected, Approved]), Some(ApplicationStatus::Rejected));
        assert_eq!(
            combined_status(CorrectionRequested, &[CorrectionRequested, Pending]),
            Some(ApplicationStatus::NeedsCorrection)
        );
        assert_eq!(combined_status(Pending, &[Pending, Pending]), None);
    }

    #[test]
    fn only_approval_goes_without_a_comment() {
        assert!(!ReviewOutcome::Approve.requires_comment());
        assert!(ReviewOutcome::Reject.requires_comment());
        assert!(ReviewOutcome::RequestCorrection.requires_comment());
        assert_eq!(
            "request_correction".parse::<ReviewOutcome>().map(ReviewOutcome::track_status),
            Ok(CorrectionRequested)
        );
        assert!("approved".parse::<ReviewOutcome>().is_err());
    }
}
