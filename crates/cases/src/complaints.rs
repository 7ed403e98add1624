//! Complaints about night noise (信访), followed by the 1/3/10/15-day rule: a resident's
//! complaint checked, matched to the permits in force at that place and night, given a
//! reference and its deadlines; the follow-up steps that the district's inspectors (or an
//! admin) record in their legal order, an upheld conclusion entering the record of each matched
//! firm and moving its grade; and where a complaint stands at a given moment. The store writes
//! each change with its audit entry and its event (webhooks, the complainant's e-mail) in one
//! transaction.

use crate::aftercare::{issued_permits, match_permits, work_calendar};
use crate::inspections::noise_tenths;
use crate::time::{shanghai_local, shanghai_millis};
use crate::{CaseError, CaseResult, Cases, FieldError};
use nightpermit_domain::{ComplaintOutcome, ComplaintPriority, ComplaintStep, District, Role};
use nightpermit_rules::aftercare::deadlines;
use nightpermit_rules::grading::RecordKind;
use nightpermit_store::{ComplaintRecord, ComplaintStepUpdate, FirmRecordWrite, StoreError};
use rand::Rng;
use serde::Deserialize;
use std::collections::BTreeSet;
use utoipa::ToSchema;

/// Longest site address, in characters.
pub const MAX_ADDRESS_CHARS: usize = 200;
/// Longest permit number as a resident may type it, in characters.
pub const MAX_PERMIT_NUMBER_CHARS: usize = 40;
/// Longest description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 2000;
/// Longest complainant's name, in characters.
pub const MAX_CONTACT_NAME_CHARS: usize = 50;
/// Longest note an inspector adds to a step, in characters.
pub const MAX_STEP_NOTE_CHARS: usize = 500;
/// How far after our clock a noise may be dated: a resident's device clock a few minutes ahead
/// is tolerated.
const FUTURE_SLACK_MS: i64 = 10 * 60_000;

#[derive(Debug, Deserialize, ToSchema)]
pub struct ComplaintContact {
    pub name: Option<String>,
    pub phone: Option<String>,
    /// Where the complainant is told each time the complaint moves; `INVALID_EMAIL` if malformed.
    #[serde(default)]
    pub email: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewComplaint {
    /// District id, e.g. `jingan`.
    pub district: String,
    /// Where the noise is (either this or `permit_number`).
    pub address: Option<String>,
    /// The permit number posted at the site, if known.
    pub permit_number: Option<String>,
    /// When the noise occurred (RFC 3339).
    pub occurred_at: String,
    pub description: String,
    /// Optional; never shown publicly.
    pub contact: Option<ComplaintContact>,
}

/// One step, as an inspector records it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(tag = "step", rename_all = "snake_case", deny_unknown_fields)]
#[schema(as = StepBody)]
pub enum StepReport {
    /// The complainant was contacted (1 day).
    Contacted { note: Option<String> },
    /// The site was inspected, with the measured level and whether rectification was ordered (3 days).
    Inspected { noise_db: f64, rectification_ordered: bool, note: Option<String> },
    /// The rectification was checked and monitoring arranged (10 days).
    Checked { rectified: bool, note: Option<String> },
    /// The case was concluded on the monitoring report (15 days).
    Concluded { outcome: ComplaintOutcome, note: Option<String> },
}

impl StepReport {
    pub fn step(&self) -> ComplaintStep {
        match self {
            StepReport::Contacted { .. } => ComplaintStep::Contacted,
            StepReport::Inspected { .. } => ComplaintStep::Inspected,
            StepReport::Checked { .. } => ComplaintStep::Checked,
            StepReport::Concluded { .. } => ComplaintStep::Concluded,
        }
    }
}

/// Who follows complaints up, as far as the complaint rule cares: their role, their district
/// and the actor the audit log records.
#[derive(Debug, Clone)]
pub struct Follower {
    pub role: Role,
    pub district: Option<District>,
    pub actor: String,
}

/// Which of the complaints a follower asks for.
#[derive(Debug, Clone, Copy, Default)]
pub struct ComplaintSelection<'a> {
    /// A district id; the follower's own district when absent.
    pub district: Option<&'a str>,
    /// Concluded complaints too (only open ones otherwise).
    pub include_concluded: bool,
    /// Only complaints with a step past its deadline.
    pub overdue_only: bool,
}

/// One step of the rule at a given moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StepState {
    pub step: ComplaintStep,
    pub due_at: i64,
    pub done_at: Option<i64>,
    pub overdue: bool,
}

/// Where a complaint stands at a given moment: every step in the rule's order with its deadline,
/// and the step to record next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    pub steps: Vec<StepState>,
    pub concluded: bool,
    /// `None` once concluded.
    pub next: Option<ComplaintStep>,
}

impl Progress {
    pub fn overdue(&self) -> bool {
        self.steps.iter().any(|s| s.overdue)
    }

    pub fn overdue_steps(&self) -> Vec<ComplaintStep> {
        self.steps.iter().filter(|s| s.overdue).map(|s| s.step).collect()
    }
}

/// A stored complaint with what the views read of it: the permits it matched and where it
/// stands now.
#[derive(Debug, Clone)]
pub struct ComplaintCase {
    pub record: ComplaintRecord,
    /// The permits in force at that place and time; empty means unpermitted night work.
    pub matched_permits: Vec<String>,
    pub progress: Progress,
}

impl ComplaintCase {
    fn of(record: ComplaintRecord, now: i64) -> CaseResult<ComplaintCase> {
        let matched_permits = serde_json::from_str(&record.matched_permits)
            .map_err(|e| StoreError::Corrupt(format!("complaint {}: matched_permits: {e}", record.reference)))?;
        let progress = progress(&record, now);
        Ok(ComplaintCase { record, matched_permits, progress })
    }
}

/// The steps at `now`: late when done after the deadline, or not done and past it (a step
/// skipped by a conclusion is not late).
pub fn progress(c: &ComplaintRecord, now: i64) -> Progress {
    let steps = ComplaintStep::ALL
        .iter()
        .map(|s| StepState { step: *s, due_at: c.due_at(*s), done_at: c.done_at(*s), overdue: c.overdue(*s, now) })
        .collect();
    Progress { steps, concluded: c.concluded_at.is_some(), next: next_step(c) }
}

/// The first step the rule allows and asks for now: the check may be left out when no
/// rectification was ordered, so the conclusion comes next.
pub fn next_step(c: &ComplaintRecord) -> Option<ComplaintStep> {
    ComplaintStep::ALL
        .iter()
        .copied()
        .find(|s| c.refusal(*s).is_none() && !(*s == ComplaintStep::Checked && c.rectification_ordered == Some(false)))
}

/// Letters and digits nobody misreads (no 0/O, 1/I/L): references are read out over the phone.
const REFERENCE_ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";

/// `TS<Shanghai date>-<8 characters>`, e.g. `TS20261201-7KQ2M9XA`.
pub fn new_reference(now_ms: i64) -> String {
    let mut rng = rand::thread_rng();
    let tail: String =
        (0..8).map(|_| char::from(REFERENCE_ALPHABET[rng.gen_range(0..REFERENCE_ALPHABET.len())])).collect();
    format!("TS{}-{tail}", shanghai_local(now_ms).format("%Y%m%d"))
}

/// Plain text kept plain: control characters other than line breaks and tabs dropped, trimmed.
fn plain_text(s: &str) -> String {
    s.chars().filter(|c| !c.is_control() || *c == '\n' || *c == '\t').collect::<String>().trim().to_string()
}

fn optional_text(s: Option<&str>) -> Option<String> {
    s.map(plain_text).filter(|s| !s.is_empty())
}

/// A complaint that passed its checks, before it is matched and stored.
#[derive(Debug, PartialEq, Eq)]
struct Accepted {
    district: District,
    address: Option<String>,
    permit_number: Option<String>,
    occurred_at: i64,
    description: String,
    contact_name: Option<String>,
    contact_phone: Option<String>,
    contact_email: Option<String>,
}

impl Accepted {
    /// The complaint as stored when it is received: `due` holds the deadlines of the four steps
    /// in the rule's order, and no step is recorded yet.
    fn into_record(
        self,
        reference: String,
        priority: ComplaintPriority,
        matched_permits: String,
        received_at: i64,
        due: [i64; 4],
    ) -> ComplaintRecord {
        let [contact_by, inspect_by, check_by, conclude_by] = due;
        ComplaintRecord {
            id: uuid::Uuid::now_v7().to_string(),
            reference,
            district: self.district.id().into(),
            address: self.address,
            permit_number: self.permit_number,
            occurred_at: self.occurred_at,
            description: self.description,
            contact_name: self.contact_name,
            contact_phone: self.contact_phone,
            contact_email: self.contact_email,
            priority,
            matched_permits,
            received_at,
            contact_by,
            inspect_by,
            check_by,
            conclude_by,
            contacted_at: None,
            contacted_by: None,
            contact_note: None,
            inspected_at: None,
            inspected_by: None,
            noise_tenths_db: None,
            rectification_ordered: None,
            inspect_note: None,
            checked_at: None,
            checked_by: None,
            rectified: None,
            check_note: None,
            concluded_at: None,
            concluded_by: None,
            outcome: None,
            conclude_note: None,
        }
    }
}

/// Checks every field at once, so the resident sees all that is wrong in one answer.
fn accept(c: &NewComplaint, now: i64) -> CaseResult<Accepted> {
    let mut errors = Vec::new();
    let district = c
        .district
        .parse::<District>()
        .map_err(|e| errors.push(FieldError::new("district", "UNKNOWN_DISTRICT", e.to_string())))
        .ok();
    let address = optional_text(c.address.as_deref());
    let permit_number = optional_text(c.permit_number.as_deref());
    if address.is_none() && permit_number.is_none() {
        errors.push(FieldError::new("address", "REQUIRED", "请填写施工地点（地址）或现场公示的许可证编号"));
    }
    if address.as_ref().is_some_and(|a| a.chars().count() > MAX_ADDRESS_CHARS) {
        errors.push(FieldError::new("address", "TOO_LONG", "地址最多200字"));
    }
    if permit_number.as_ref().is_some_and(|n| n.chars().count() > MAX_PERMIT_NUMBER_CHARS) {
        errors.push(FieldError::new("permit_number", "TOO_LONG", "许可证编号最多40个字符"));
    }
    let occurred_at = match chrono::DateTime::parse_from_rfc3339(c.occurred_at.trim()) {
        Ok(t) if t.timestamp_millis() > now + FUTURE_SLACK_MS => {
            errors.push(FieldError::new("occurred_at", "IN_FUTURE", "发生时间不能晚于现在"));
            None
        }
        Ok(t) => Some(t.timestamp_millis()),
        Err(_) => {
            errors.push(FieldError::new(
                "occurred_at",
                "INVALID_TIME",
                "发生时间应为RFC 3339格式，如2026-12-01T23:30:00+08:00",
            ));
            None
        }
    };
    let description = plain_text(&c.description);
    if description.is_empty() || description.chars().count() > MAX_DESCRIPTION_CHARS {
        errors.push(FieldError::new("description", "REQUIRED", "请用1至2000字描述噪声情况"));
    }
    let contact = c.contact.as_ref();
    let contact_name = optional_text(contact.and_then(|c| c.name.as_deref()));
    let contact_phone = optional_text(contact.and_then(|c| c.phone.as_deref()));
    if contact_name.as_ref().is_some_and(|n| n.chars().count() > MAX_CONTACT_NAME_CHARS) {
        errors.push(FieldError::new("contact.name", "TOO_LONG", "姓名最多50字"));
    }
    if contact_phone
        .as_ref()
        .is_some_and(|p| p.len() > 20 || !p.chars().all(|c| c.is_ascii_digit() || matches!(c, '+' | '-' | ' ')))
    {
        errors.push(FieldError::new("contact.phone", "INVALID_PHONE", "电话号码只能包含数字、空格、+ 和 -，最多20位"));
    }
    let contact_email = optional_text(contact.and_then(|c| c.email.as_deref()));
    if contact_email.as_deref().is_some_and(|e| !crate::form::valid_email(e)) {
        errors.push(FieldError::new("contact.email", "INVALID_EMAIL", crate::form::INVALID_EMAIL_MESSAGE));
    }
    match (district, occurred_at) {
        (Some(district), Some(occurred_at)) if errors.is_empty() => Ok(Accepted {
            district,
            address,
            permit_number,
            occurred_at,
            description,
            contact_name,
            contact_phone,
            contact_email,
        }),
        _ => Err(CaseError::Invalid(errors)),
    }
}

/// The inspectors of the complaint's district, and admins, follow complaints up.
fn may_follow_up(follower: &Follower, district: District) -> CaseResult<()> {
    match follower.role {
        Role::Admin => Ok(()),
        Role::Inspector if follower.district == Some(district) => Ok(()),
        Role::Inspector => Err(CaseError::Forbidden("只能处理本区的投诉")),
        _ => Err(CaseError::Forbidden("只有执法检查人员或管理员可以处理投诉")),
    }
}

/// A step's note as stored: plain text, at most 500 characters.
fn step_note(note: &Option<String>) -> CaseResult<Option<String>> {
    let note = optional_text(note.as_deref());
    if note.as_ref().is_some_and(|n| n.chars().count() > MAX_STEP_NOTE_CHARS) {
        return Err(CaseError::field("note", "TOO_LONG", "说明最多500字"));
    }
    Ok(note)
}

/// The update a report makes, its fields checked.
fn step_update(reference: &str, report: &StepReport, by: &str, at: i64) -> CaseResult<ComplaintStepUpdate> {
    let mut update = ComplaintStepUpdate {
        reference: reference.to_string(),
        step: report.step(),
        by: by.to_string(),
        at,
        note: None,
        noise_tenths_db: None,
        rectification_ordered: None,
        rectified: None,
        outcome: None,
    };
    match report {
        StepReport::Contacted { note } => update.note = step_note(note)?,
        StepReport::Inspected { noise_db, rectification_ordered, note } => {
            update.noise_tenths_db = Some(noise_tenths(*noise_db)?);
            update.rectification_ordered = Some(*rectification_ordered);
            update.note = step_note(note)?;
        }
        StepReport::Checked { rectified, note } => {
            update.rectified = Some(*rectified);
            update.note = step_note(note)?;
        }
        StepReport::Concluded { outcome, note } => {
            update.outcome = Some(*outcome);
            update.note = step_note(note)?;
        }
    }
    Ok(update)
}

impl Cases {
    /// Files a resident's complaint: checked, matched to the permits in force at that place and
    /// time (none matched is unpermitted night work, handled first), given a reference and the
    /// deadlines of the 1/3/10/15-day rule counted from now.
    pub async fn file_complaint(&self, c: &NewComplaint) -> CaseResult<ComplaintCase> {
        let now = self.clock.now_ms();
        let a = accept(c, now)?;
        let permits = issued_permits(self, Some(a.district)).await?;
        let district_name = &self.settings.district(a.district).name;
        let matched =
            match_permits(&permits, district_name, a.permit_number.as_deref(), a.address.as_deref(), a.occurred_at);
        let priority = if matched.is_empty() { ComplaintPriority::Highest } else { ComplaintPriority::Normal };
        let settings = &self.settings.complaints;
        let due = deadlines(shanghai_local(now), settings.steps(), settings.day_kind, &work_calendar(self));
        let ms = |t| shanghai_millis(t).ok_or_else(|| anyhow::anyhow!("deadline {t} not representable"));
        let due = [ms(due.contact_by)?, ms(due.inspect_by)?, ms(due.check_by)?, ms(due.conclude_by)?];
        let matched_json = serde_json::to_string(&matched).map_err(|e| anyhow::anyhow!("matched permits: {e}"))?;
        let mut record = a.into_record(new_reference(now), priority, matched_json, now, due);
        // 31^8 references a day: a collision is a retry, not an error for the resident.
        let mut tries = 0;
        loop {
            match self.store.create_complaint(&record, "public").await {
                Ok(()) => break,
                Err(StoreError::AlreadyExists(_)) if tries < 3 => {
                    tries += 1;
                    record.reference = new_reference(now);
                }
                Err(e) => return Err(e.into()),
            }
        }
        let progress = progress(&record, now);
        Ok(ComplaintCase { record, matched_permits: matched, progress })
    }

    /// A complaint by its reference, as it stands now.
    pub async fn complaint(&self, reference: &str) -> CaseResult<ComplaintCase> {
        let record = self.store.complaint(reference).await?.ok_or(CaseError::NotFound("投诉"))?;
        ComplaintCase::of(record, self.clock.now_ms())
    }

    /// A district's complaints, oldest first, for its inspectors and admins.
    pub async fn complaints_to_follow(
        &self,
        follower: &Follower,
        selection: ComplaintSelection<'_>,
    ) -> CaseResult<Vec<ComplaintCase>> {
        let district = match selection.district {
            Some(d) => {
                d.parse::<District>().map_err(|e| CaseError::field("district", "UNKNOWN_DISTRICT", e.to_string()))?
            }
            None => {
                follower.district.ok_or_else(|| CaseError::field("district", "REQUIRED", "请指定区（district）"))?
            }
        };
        may_follow_up(follower, district)?;
        let now = self.clock.now_ms();
        let mut cases = Vec::new();
        for record in self.store.complaints_in_district(district.id(), !selection.include_concluded).await? {
            let case = ComplaintCase::of(record, now)?;
            if !selection.overdue_only || case.progress.overdue() {
                cases.push(case);
            }
        }
        Ok(cases)
    }

    /// Records one step of a complaint, in the rule's order. An upheld conclusion adds
    /// `complaint_upheld` to the record of each firm whose permit the complaint matched and
    /// recomputes its grade, in the step's transaction.
    pub async fn record_complaint_step(
        &self,
        reference: &str,
        report: &StepReport,
        follower: &Follower,
    ) -> CaseResult<ComplaintCase> {
        let current = self.complaint(reference).await?;
        let c = &current.record;
        let district: District =
            c.district.parse().map_err(|e| StoreError::Corrupt(format!("complaint {}: district: {e}", c.reference)))?;
        may_follow_up(follower, district)?;
        let now = self.clock.now_ms();
        let update = step_update(reference, report, &follower.actor, now)?;
        // Checked here for a clear answer; the store checks again under the complaint's lock.
        if let Some(code) = c.refusal(update.step) {
            return Err(CaseError::refused(code));
        }
        let mut records: Vec<FirmRecordWrite> = Vec::new();
        if update.outcome == Some(ComplaintOutcome::Upheld) {
            let mut firms = BTreeSet::new();
            for number in &current.matched_permits {
                if let Some(p) = self.store.permit(number).await? {
                    if let Some(app) = self.store.application(&p.application_id).await? {
                        firms.insert(app.firm_id);
                    }
                }
            }
            for firm_id in firms {
                let Some(firm) = self.store.firm_by_id(&firm_id).await? else { continue };
                let note = format!("投诉{}经查属实", c.reference);
                let o = crate::grades::prepare(
                    self.store.as_ref(),
                    &self.policy.grading,
                    &firm,
                    RecordKind::ComplaintUpheld,
                    c.occurred_at,
                    &note,
                    &follower.actor,
                    now,
                )
                .await?;
                records.push((o.entry, o.change));
            }
        }
        match self.store.record_complaint_step(&update, &records, &follower.actor).await {
            Err(StoreError::Conflict(code)) => Err(CaseError::refused(code)),
            Err(e) => Err(e.into()),
            Ok(updated) => ComplaintCase::of(updated, now),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-11-30 08:53:20 in Shanghai.
    const NOW: i64 = 1_796_000_000_000;

    fn complaint(body: serde_json::Value) -> NewComplaint {
        serde_json::from_value(body).expect("a complaint body")
    }

    fn codes(e: CaseError) -> Vec<(String, String)> {
        match e {
            CaseError::Invalid(errors) => errors.into_iter().map(|e| (e.field, e.code)).collect(),
            other => panic!("expected field errors, got {other:?}"),
        }
    }

    fn pair(field: &str, code: &str) -> (String, String) {
        (field.to_string(), code.to_string())
    }

    #[test]
    fn a_complaint_is_checked_field_by_field_and_kept_as_plain_text() {
        let ok = accept(
            &complaint(serde_json::json!({
                "district": "jingan", "address": "  静安区某路100号\u{0007} ", "occurred_at": "2026-11-29T23:30:00+08:00",
                "description": "<b>吵</b>\n第二行", "contact": {"name": " ", "phone": "139 0000 0000", "email": "a@b.cn"}
            })),
            NOW,
        )
        .expect("accepted");
        assert_eq!(ok.district, District::Jingan);
        assert_eq!(ok.address.as_deref(), Some("静安区某路100号"));
        assert_eq!(ok.permit_number, None);
        assert_eq!(ok.description, "<b>吵</b>\n第二行", "markup is kept as text, never interpreted");
        assert_eq!(ok.contact_name, None, "a blank name is no name");
        assert_eq!(ok.contact_email.as_deref(), Some("a@b.cn"));

        let all_wrong = accept(
            &complaint(serde_json::json!({
                "district": "beijing", "occurred_at": "昨晚", "description": " ",
                "contact": {"name": "名".repeat(51), "phone": "call me", "email": "nobody"}
            })),
            NOW,
        )
        .expect_err("refused");
        assert_eq!(
            codes(all_wrong),
            vec![
                pair("district", "UNKNOWN_DISTRICT"),
                pair("address", "REQUIRED"),
                pair("occurred_at", "INVALID_TIME"),
                pair("description", "REQUIRED"),
                pair("contact.name", "TOO_LONG"),
                pair("contact.phone", "INVALID_PHONE"),
                pair("contact.email", "INVALID_EMAIL"),
            ]
        );

        let too_long = accept(
            &complaint(serde_json::json!({
                "district": "jingan", "address": "路".repeat(201), "permit_number": "N".repeat(41),
                "occurred_at": crate::time::rfc3339(NOW + FUTURE_SLACK_MS + 60_000), "description": "x".repeat(2001)
            })),
            NOW,
        )
        .expect_err("refused");
        assert_eq!(
            codes(too_long),
            vec![
                pair("address", "TOO_LONG"),
                pair("permit_number", "TOO_LONG"),
                pair("occurred_at", "IN_FUTURE"),
                pair("description", "REQUIRED"),
            ]
        );
        // A clock a few minutes fast is no reason to refuse.
        let slack = serde_json::json!({"district": "jingan", "permit_number": "jingan-2026-00001",
            "occurred_at": crate::time::rfc3339(NOW + 60_000), "description": "吵"});
        assert!(accept(&complaint(slack), NOW).is_ok());
    }

    #[test]
    fn references_can_be_read_out_over_the_phone() {
        let r = new_reference(NOW);
        let (date, tail) = r.split_once('-').expect("TSdate-tail");
        assert_eq!(date, format!("TS{}", shanghai_local(NOW).format("%Y%m%d")));
        assert_eq!(tail.len(), 8);
        assert!(tail.bytes().all(|b| REFERENCE_ALPHABET.contains(&b)), "{r}");
        assert!(!REFERENCE_ALPHABET.iter().any(|b| b"01ILO".contains(b)));
    }

    /// A complaint received at `NOW` with the default day limits counted as calendar days.
    fn record() -> ComplaintRecord {
        let day = 86_400_000;
        let body = serde_json::json!({"district": "jingan", "address": "静安区某路100号",
            "occurred_at": crate::time::rfc3339(NOW - 3_600_000), "description": "吵"});
        let accepted = accept(&complaint(body), NOW).expect("accepted");
        let due = [NOW + day, NOW + 3 * day, NOW + 10 * day, NOW + 15 * day];
        accepted.into_record("TS20261201-AAAAAAAA".into(), ComplaintPriority::Highest, "[]".into(), NOW, due)
    }

    #[test]
    fn the_next_step_follows_the_rule_and_skips_a_check_nobody_ordered() {
        let mut c = record();
        assert_eq!(next_step(&c), Some(ComplaintStep::Contacted));
        c.contacted_at = Some(NOW + 1);
        assert_eq!(next_step(&c), Some(ComplaintStep::Inspected));
        c.inspected_at = Some(NOW + 2);
        c.rectification_ordered = Some(true);
        assert_eq!(next_step(&c), Some(ComplaintStep::Checked));
        let mut not_ordered = c.clone();
        not_ordered.rectification_ordered = Some(false);
        assert_eq!(next_step(&not_ordered), Some(ComplaintStep::Concluded));
        c.checked_at = Some(NOW + 3);
        assert_eq!(next_step(&c), Some(ComplaintStep::Concluded));
        c.concluded_at = Some(NOW + 4);
        assert_eq!(next_step(&c), None);
        // In every state the steps can reach, what is proposed next the store lets through.
        for bits in 0u8..32 {
            let on = |bit: u8| (bits & (1 << bit) != 0).then_some(NOW);
            let mut c = record();
            c.contacted_at = on(0);
            c.inspected_at = on(1).filter(|_| c.contacted_at.is_some());
            c.rectification_ordered = c.inspected_at.map(|_| bits & (1 << 2) != 0);
            c.checked_at = on(3).filter(|_| c.inspected_at.is_some());
            c.concluded_at = on(4).filter(|_| c.refusal(ComplaintStep::Concluded).is_none());
            match next_step(&c) {
                Some(next) => assert_eq!(c.refusal(next), None, "{c:?}"),
                None => assert!(c.concluded_at.is_some(), "{c:?}"),
            }
        }
    }

    #[test]
    fn progress_marks_late_steps_but_not_those_a_conclusion_skipped() {
        let mut c = record();
        let late = c.contact_by + 1;
        let p = progress(&c, late);
        assert_eq!(p.overdue_steps(), vec![ComplaintStep::Contacted]);
        assert!(p.overdue() && !p.concluded);
        assert_eq!(p.steps.iter().map(|s| s.step).collect::<Vec<_>>(), ComplaintStep::ALL.to_vec());
        // Contacted late, inspected in time, concluded without a check: only the contact was late.
        c.contacted_at = Some(late);
        c.inspected_at = Some(late + 1);
        c.rectification_ordered = Some(false);
        c.concluded_at = Some(late + 2);
        let p = progress(&c, c.conclude_by + 1);
        assert_eq!(p.overdue_steps(), vec![ComplaintStep::Contacted]);
        assert!(p.concluded && p.next.is_none());
        assert_eq!(p.steps[2].done_at, None);
    }

    #[test]
    fn only_the_districts_inspectors_and_admins_follow_up() {
        let who = |role, district| Follower { role, district, actor: "staff:x".into() };
        assert!(may_follow_up(&who(Role::Admin, None), District::Jingan).is_ok());
        assert!(may_follow_up(&who(Role::Inspector, Some(District::Jingan)), District::Jingan).is_ok());
        for (role, district, message) in [
            (Role::Inspector, Some(District::Xuhui), "只能处理本区的投诉"),
            (Role::Reviewer, Some(District::Jingan), "只有执法检查人员或管理员可以处理投诉"),
            (Role::Firm, None, "只有执法检查人员或管理员可以处理投诉"),
        ] {
            match may_follow_up(&who(role, district), District::Jingan) {
                Err(CaseError::Forbidden(m)) => assert_eq!(m, message),
                other => panic!("{role:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_step_keeps_only_what_it_records() {
        let report: StepReport =
            serde_json::from_value(serde_json::json!({"step": "inspected", "noise_db": 62.46, "rectification_ordered": true, "note": " 已责令 "}))
                .expect("report");
        let u = step_update("R", &report, "staff:x", 5).expect("update");
        assert_eq!(
            (u.step, u.noise_tenths_db, u.rectification_ordered),
            (ComplaintStep::Inspected, Some(625), Some(true))
        );
        assert_eq!((u.note.as_deref(), u.rectified, u.outcome), (Some("已责令"), None, None));
        let loud = StepReport::Inspected { noise_db: 250.0, rectification_ordered: false, note: None };
        assert_eq!(
            codes(step_update("R", &loud, "staff:x", 5).expect_err("refused")),
            vec![pair("noise_db", "INVALID_VALUE")]
        );
        let long = StepReport::Contacted { note: Some("字".repeat(501)) };
        assert_eq!(codes(step_update("R", &long, "staff:x", 5).expect_err("refused")), vec![pair("note", "TOO_LONG")]);
        let unknown = serde_json::from_value::<StepReport>(serde_json::json!({"step": "contacted", "noise_db": 1}));
        assert!(unknown.is_err(), "fields another step records are refused");
    }
}
