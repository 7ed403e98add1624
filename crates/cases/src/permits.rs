//! A permit after it is issued: revoked by an admin, expired (stored) once its last night is
//! over.

use crate::form::ApplicationForm;
use crate::time::shanghai_millis;
use crate::{CaseError, CaseResult, Cases};
use nightpermit_store::{PermitRecord, StoreError};

/// Longest revocation reason, in characters; it is shown on the permit's public page.
pub const MAX_REVOKE_REASON_CHARS: usize = 500;

/// Whether the permit's last night has ended by `now_ms` (a form without nights has none left).
pub fn nights_over(form: &ApplicationForm, now_ms: i64) -> bool {
    let last_end = form.window().and_then(|w| w.intervals().last().map(|(_, end)| *end));
    last_end.and_then(shanghai_millis).is_some_and(|end| end <= now_ms)
}

/// The permit's status as the public sees it: valid, revoked or expired (a valid permit whose
/// last night has ended counts as expired before the periodic job has stored it).
pub fn permit_status(p: &PermitRecord, form: &ApplicationForm, now_ms: i64) -> String {
    if p.status != "valid" {
        return p.status.clone();
    }
    if nights_over(form, now_ms) {
        "expired".into()
    } else {
        "valid".into()
    }
}

impl Cases {
    /// Where anyone reads the permit and verifies its PDF (printed on the permit).
    pub fn permit_url(&self, number: &str) -> String {
        format!("{}/api/v1/permits/{number}", self.settings.server.public_base_url.trim_end_matches('/'))
    }

    /// Revokes a valid permit with a reason the public page shows.
    pub async fn revoke_permit(&self, number: &str, reason: &str, actor: &str) -> CaseResult<PermitRecord> {
        let reason = reason.trim();
        if reason.is_empty() || reason.chars().count() > MAX_REVOKE_REASON_CHARS {
            return Err(CaseError::field("reason", "REQUIRED", "请填写1至500字的撤销理由"));
        }
        match self.store.revoke_permit(number, reason, actor, self.clock.now_ms()).await {
            Err(StoreError::NotFound) => Err(CaseError::NotFound("许可证")),
            Err(StoreError::WrongStatus { .. }) => {
                Err(CaseError::conflict("PERMIT_NOT_VALID", "该许可证当前不是有效状态，无法撤销"))
            }
            other => Ok(other?),
        }
    }

    /// Stores `expired` on permits whose last night has ended; returns how many. Idempotent, so
    /// every worker may run it.
    pub async fn expire_permits(&self) -> CaseResult<usize> {
        let now = self.clock.now_ms();
        // Only permits whose last night began by today can be over; the form's exact night window
        // decides (a night beginning on the end date usually ends the next morning).
        let today = crate::time::shanghai_today(now);
        let mut expired = 0;
        for p in self.store.valid_permits_ending_by(&today.to_string()).await? {
            let Some(app) = self.store.application(&p.application_id).await? else { continue };
            let form: ApplicationForm = crate::form::stored(&app)?;
            if nights_over(&form, now) && self.store.expire_permit(&p.number, now).await? {
                tracing::info!(permit = %p.number, "permit expired");
                expired += 1;
            }
        }
        Ok(expired)
    }
}
