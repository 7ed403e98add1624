//! A department's decision on its track of a case. The store decides the track and combines it
//! with the other department's (by `nightpermit_domain::combined_status`) in one transaction
//! that locks the case, so two approvals at the same moment issue exactly one seal job.

use crate::{CaseError, CaseResult, Cases};
use nightpermit_domain::{ApplicationStatus, ReviewOutcome, MAX_REVIEW_COMMENT_CHARS};
use nightpermit_store::{StoreError, TrackDecision, TrackRecord};

impl Cases {
    /// Decides one track: `outcome` is approve, reject or request_correction; a comment is
    /// required unless approving (the firm reads it). Returns the decided track and the case's
    /// status after it.
    pub async fn decide_track(
        &self,
        track: &TrackRecord,
        outcome: &str,
        comment: Option<&str>,
        actor: &str,
    ) -> CaseResult<(TrackRecord, ApplicationStatus)> {
        let outcome: ReviewOutcome = outcome.parse().map_err(|_| {
            CaseError::field(
                "outcome",
                "UNKNOWN_OUTCOME",
                format!("未知的审核结论“{outcome}”；应为 approve、reject 或 request_correction"),
            )
        })?;
        let comment = comment.map(str::trim).filter(|c| !c.is_empty());
        if outcome.requires_comment() && comment.is_none() {
            return Err(CaseError::field(
                "comment",
                "COMMENT_REQUIRED",
                "不予批准或要求补正时必须填写意见，申请人将看到该意见",
            ));
        }
        if comment.is_some_and(|c| c.chars().count() > MAX_REVIEW_COMMENT_CHARS) {
            return Err(CaseError::field("comment", "TOO_LONG", "审核意见最多1000字"));
        }
        let decision = TrackDecision {
            track_id: track.id.clone(),
            status: outcome.track_status(),
            decided_by: actor.to_string(),
            comment: comment.map(str::to_string),
            now: self.clock.now_ms(),
        };
        match self.store.decide_track(&decision, actor).await {
            Err(StoreError::WrongStatus { current }) => Err(CaseError::conflict(
                "TASK_CLOSED",
                format!("该任务已处理或申请已不在审核中（当前状态：{}）", current.label()),
            )),
            other => Ok(other?),
        }
    }
}
