//! The firm's steps on its case once the form is filled: submit (one case, one pre-review job),
//! withdraw before a decision, and contest the pre-review's findings.

use crate::{CaseError, CaseResult, Cases};
use nightpermit_domain::{ApplicationStatus, TrackStatus};
use nightpermit_prereview::Finding;
use nightpermit_store::{ApplicationRecord, StoreError, SubmitReceipt, SubmitRequest};

/// Longest dispute comment, in characters.
pub const MAX_DISPUTE_COMMENT_CHARS: usize = 2000;

/// What the firm contests: findings by id (`<round>-<n>`) or by code, and why.
pub struct Dispute<'a> {
    pub finding_ids: &'a [String],
    pub codes: &'a [String],
    pub comment: &'a str,
}

impl Cases {
    /// Submits a draft or a corrected case: a new pre-review round and its job. The same
    /// idempotency key gets the same receipt.
    pub async fn submit(
        &self,
        application_id: &str,
        principal_id: &str,
        idempotency_key: Option<String>,
        actor: &str,
    ) -> CaseResult<SubmitReceipt> {
        let request = SubmitRequest {
            application_id: application_id.to_string(),
            principal_id: principal_id.to_string(),
            idempotency_key,
            job_id: uuid::Uuid::now_v7().to_string(),
            max_attempts: self.settings.jobs.max_attempts,
            now: self.clock.now_ms(),
        };
        Ok(self.store.submit_application(&request, actor).await?)
    }

    /// Withdraws a case no department has decided yet.
    pub async fn withdraw(&self, application_id: &str, actor: &str) -> CaseResult<ApplicationRecord> {
        Ok(self.store.withdraw_application(application_id, actor, self.clock.now_ms()).await?)
    }

    /// The firm contests findings of the pre-review: instead of waiting for a correction, the
    /// case goes to both departments' reviewers with the dispute shown.
    pub async fn dispute(
        &self,
        app: &ApplicationRecord,
        d: &Dispute<'_>,
        actor: &str,
    ) -> CaseResult<ApplicationRecord> {
        if app.status != ApplicationStatus::NeedsCorrection {
            return Err(StoreError::WrongStatus { current: app.status }.into());
        }
        let comment = d.comment.trim();
        if comment.is_empty() {
            return Err(CaseError::field("comment", "COMMENT_REQUIRED", "请说明认为预审结论有误的理由"));
        }
        if comment.chars().count() > MAX_DISPUTE_COMMENT_CHARS {
            return Err(CaseError::field("comment", "TOO_LONG", "理由最多2000字"));
        }
        let round = self.store.prereview_rounds(&app.id).await?.pop().ok_or(CaseError::NotFound("预审结果"))?;
        let findings: Vec<Finding> = match round.findings.as_deref() {
            Some(text) => serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("findings: {e}")))?,
            None => Vec::new(),
        };
        if let Some(unknown) = d.finding_ids.iter().find(|fid| !findings.iter().any(|f| f.id.as_ref() == Some(*fid))) {
            return Err(CaseError::field(
                "finding_ids",
                "UNKNOWN_FINDING",
                format!("本轮预审没有编号为 {unknown} 的问题"),
            ));
        }
        let contested: Vec<&Finding> = findings
            .iter()
            .filter(|f| f.id.as_ref().is_some_and(|fid| d.finding_ids.contains(fid)) || d.codes.contains(&f.code))
            .collect();
        if contested.is_empty() {
            return Err(CaseError::field(
                "finding_ids",
                "NO_FINDING",
                "请指明有异议的预审问题（finding_ids 或 codes）",
            ));
        }
        let listed: Vec<String> = contested.iter().map(|f| format!("{}（{}）", f.message, f.code)).collect();
        let reasons =
            vec![format!("申请人对预审结论提出异议：{comment}"), format!("有异议的问题：{}", listed.join("；"))];
        let now = self.clock.now_ms();
        let tracks = crate::prereview::tracks_for(
            &app.id,
            round.round,
            &app.district,
            TrackStatus::Pending,
            &reasons,
            false,
            now,
        );
        let dispute = serde_json::json!({
            "finding_ids": contested.iter().filter_map(|f| f.id.clone()).collect::<Vec<_>>(),
            "codes": contested.iter().map(|f| f.code.clone()).collect::<Vec<_>>(),
            "comment": comment,
        });
        Ok(self.store.dispute_prereview(&app.id, round.round, &tracks, &dispute, actor, now).await?)
    }
}
