//! What the pre-review reports: findings with stable codes, Chinese messages and where on the
//! page they are.

use nightpermit_domain::MaterialKind;
use serde::{Deserialize, Serialize};

pub const MISSING_MATERIAL: &str = "MISSING_MATERIAL";
pub const UNREADABLE_FILE: &str = "UNREADABLE_FILE";
pub const ILLEGIBLE: &str = "ILLEGIBLE";
pub const WRONG_DOCUMENT_KIND: &str = "WRONG_DOCUMENT_KIND";
pub const FIRM_NAME_MISMATCH: &str = "FIRM_NAME_MISMATCH";
pub const CREDIT_CODE_MISMATCH: &str = "CREDIT_CODE_MISMATCH";
pub const CREDIT_CODE_INVALID: &str = "CREDIT_CODE_INVALID";
pub const PERMIT_NO_MISMATCH: &str = "PERMIT_NO_MISMATCH";
pub const PROJECT_MISMATCH: &str = "PROJECT_MISMATCH";
pub const DOCUMENT_EXPIRED: &str = "DOCUMENT_EXPIRED";
pub const PERIOD_NOT_COVERED: &str = "PERIOD_NOT_COVERED";
pub const SEAL_MISSING: &str = "SEAL_MISSING";
/// A field the pre-review could not find or read with confidence: a human should look.
pub const FIELD_UNCERTAIN: &str = "FIELD_UNCERTAIN";
/// A file whose pages are larger than the pixel budget even when rendered at low resolution.
pub const IMAGE_TOO_LARGE: &str = "IMAGE_TOO_LARGE";
/// A file not read within its time budget: what was read counts, a human looks at the rest.
pub const READ_TIME_EXCEEDED: &str = "READ_TIME_EXCEEDED";
/// The pre-review itself failed (after retries); the case goes to a human.
pub const PREREVIEW_FAILED: &str = "PREREVIEW_FAILED";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Error,
    Warning,
}

/// A rectangle on a page, in pixels of the page as the pre-review read it (page 1-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Region {
    pub page: u32,
    pub x: u32,
    pub y: u32,
    pub w: u32,
    pub h: u32,
}

impl Region {
    pub fn union(self, other: Region) -> Region {
        let x = self.x.min(other.x);
        let y = self.y.min(other.y);
        let right = (self.x + self.w).max(other.x + other.w);
        let bottom = (self.y + self.h).max(other.y + other.h);
        Region { page: self.page, x, y, w: right - x, h: bottom - y }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// Stable within the case: `<round>-<n>`, given when the round's report is stored, so the
    /// firm can contest one finding and a reviewer see which.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub code: String,
    pub severity: Severity,
    pub material_id: Option<String>,
    pub kind: Option<MaterialKind>,
    pub message: String,
    pub expected: Option<String>,
    pub found: Option<String>,
    pub region: Option<Region>,
}

impl Finding {
    pub fn new(code: &str, severity: Severity, message: impl Into<String>) -> Self {
        Finding {
            id: None,
            code: code.into(),
            severity,
            material_id: None,
            kind: None,
            message: message.into(),
            expected: None,
            found: None,
            region: None,
        }
    }

    pub fn on(mut self, material_id: &str, kind: MaterialKind) -> Self {
        self.material_id = Some(material_id.into());
        self.kind = Some(kind);
        self
    }

    pub fn expected_found(mut self, expected: impl Into<String>, found: impl Into<String>) -> Self {
        self.expected = Some(expected.into());
        self.found = Some(found.into());
        self
    }

    pub fn at(mut self, region: Option<Region>) -> Self {
        self.region = region;
        self
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Pass,
    NeedsCorrection,
}

impl Verdict {
    pub fn id(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::NeedsCorrection => "needs_correction",
        }
    }

    /// Any error finding means the applicant must correct something.
    pub fn of(findings: &[Finding]) -> Verdict {
        if findings.iter().any(|f| f.severity == Severity::Error) {
            Verdict::NeedsCorrection
        } else {
            Verdict::Pass
        }
    }
}
