//! The application state machine (API.md "Statuses"): the only place that says which status may
//! follow which.

use crate::enums::UnknownValue;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ApplicationStatus {
    Draft,
    Prereview,
    NeedsCorrection,
    UnderReview,
    Approved,
    Issued,
    Rejected,
    Withdrawn,
    Revoked,
    Expired,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("申请状态为“{}”，不能变为“{}”", from.label(), to.label())]
pub struct IllegalTransition {
    pub from: ApplicationStatus,
    pub to: ApplicationStatus,
}

impl ApplicationStatus {
    pub const ALL: &'static [ApplicationStatus] = &[
        Self::Draft,
        Self::Prereview,
        Self::NeedsCorrection,
        Self::UnderReview,
        Self::Approved,
        Self::Issued,
        Self::Rejected,
        Self::Withdrawn,
        Self::Revoked,
        Self::Expired,
    ];

    pub fn id(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Prereview => "prereview",
            Self::NeedsCorrection => "needs_correction",
            Self::UnderReview => "under_review",
            Self::Approved => "approved",
            Self::Issued => "issued",
            Self::Rejected => "rejected",
            Self::Withdrawn => "withdrawn",
            Self::Revoked => "revoked",
            Self::Expired => "expired",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Draft => "草稿",
            Self::Prereview => "智能预审中",
            Self::NeedsCorrection => "待补正",
            Self::UnderReview => "部门审核中",
            Self::Approved => "已批准（待盖章）",
            Self::Issued => "已发证",
            Self::Rejected => "未予批准",
            Self::Withdrawn => "已撤回",
            Self::Revoked => "已撤销",
            Self::Expired => "已过期",
        }
    }

    /// Which statuses may directly follow this one.
    pub fn successors(self) -> &'static [ApplicationStatus] {
        use ApplicationStatus::*;
        match self {
            Draft => &[Prereview, Withdrawn],
            // A clean pre-review goes to the departments; the rules may approve or reject at once.
            // The firm may withdraw while the machine reads its materials.
            Prereview => &[NeedsCorrection, UnderReview, Approved, Rejected, Withdrawn],
            // UnderReview: the firm contests the pre-review's findings and a human decides.
            NeedsCorrection => &[Prereview, UnderReview, Withdrawn],
            UnderReview => &[Approved, Rejected, NeedsCorrection, Withdrawn],
            Approved => &[Issued],
            Issued => &[Revoked, Expired],
            Rejected | Withdrawn | Revoked | Expired => &[],
        }
    }

    pub fn can_become(self, to: ApplicationStatus) -> bool {
        self.successors().contains(&to)
    }

    /// Checks a transition; the error names both ends for the caller's message.
    pub fn transition(self, to: ApplicationStatus) -> Result<ApplicationStatus, IllegalTransition> {
        if self.can_become(to) {
            Ok(to)
        } else {
            Err(IllegalTransition { from: self, to })
        }
    }

    /// The applicant may edit the form and the materials only in these statuses.
    pub fn editable(self) -> bool {
        matches!(self, Self::Draft | Self::NeedsCorrection)
    }

    pub fn is_terminal(self) -> bool {
        self.successors().is_empty()
    }
}

impl FromStr for ApplicationStatus {
    type Err = UnknownValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .iter()
            .copied()
            .find(|st| st.id() == s)
            .ok_or_else(|| UnknownValue { set: "申请状态", value: s.to_string() })
    }
}

/// For decoding stored text: an unknown status is an error, never a guess.
impl TryFrom<String> for ApplicationStatus {
    type Error = UnknownValue;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl fmt::Display for ApplicationStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ApplicationStatus::*;

    #[test]
    fn the_happy_path_is_legal() {
        let path = [Draft, Prereview, UnderReview, Approved, Issued, Expired];
        for pair in path.windows(2) {
            assert_eq!(pair[0].transition(pair[1]), Ok(pair[1]));
        }
        assert!(Prereview.can_become(NeedsCorrection));
        assert!(NeedsCorrection.can_become(Prereview));
        assert!(UnderReview.can_become(NeedsCorrection));
        assert!(Issued.can_become(Revoked));
    }

    #[test]
    fn every_transition_not_listed_is_illegal() {
        let legal = [
            (Draft, Prereview),
            (Draft, Withdrawn),
            (Prereview, NeedsCorrection),
            (Prereview, UnderReview),
            (Prereview, Approved),
            (Prereview, Rejected),
            (Prereview, Withdrawn),
            (NeedsCorrection, Prereview),
            (NeedsCorrection, UnderReview),
            (NeedsCorrection, Withdrawn),
            (UnderReview, Approved),
            (UnderReview, Rejected),
            (UnderReview, NeedsCorrection),
            (UnderReview, Withdrawn),
            (Approved, Issued),
            (Issued, Revoked),
            (Issued, Expired),
        ];
        for from in ApplicationStatus::ALL {
            for to in ApplicationStatus::ALL {
                let expected = legal.contains(&(*from, *to));
                assert_eq!(from.can_become(*to), expected, "{from} -> {to}");
                if !expected {
                    assert_eq!(from.transition(*to), Err(IllegalTransition { from: *from, to: *to }));
                }
            }
        }
    }

    #[test]
    fn examples_of_illegal_transitions() {
        assert!(Draft.transition(Issued).is_err());
        assert!(Issued.transition(Draft).is_err());
        assert!(Rejected.transition(Prereview).is_err());
        assert!(Prereview.transition(Prereview).is_err());
        assert!(Approved.transition(Rejected).is_err());
    }

    #[test]
    fn editability_and_terminality() {
        let editable: Vec<_> = ApplicationStatus::ALL.iter().filter(|s| s.editable()).collect();
        assert_eq!(editable, vec![&Draft, &NeedsCorrection]);
        for s in [Rejected, Withdrawn, Revoked, Expired] {
            assert!(s.is_terminal());
        }
        assert_eq!("under_review".parse::<ApplicationStatus>(), Ok(UnderReview));
        assert!("done".parse::<ApplicationStatus>().is_err());
    }
}
