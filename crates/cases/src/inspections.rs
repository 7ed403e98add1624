//! Double-random inspections (双随机、一公开), the lifecycle part: the draw over the permits in
//! force, weighted by the firm's grade, with the seed recorded so anyone can replay it; and an
//! inspector's result against the GB 12523 night limit, a failure entering the firm's record
//! (and recomputing its grade) in the same transaction.

use crate::aftercare::{in_force_now, issued_permits};
use crate::{CaseError, CaseResult, Cases};
use nightpermit_domain::{DecisionOutcome, District, InspectionStatus, Role};
use nightpermit_rules::grading::{Grade, RecordKind};
use nightpermit_store::{InspectionDrawRecord, InspectionRecord, InspectionResult, StaffRecord, StoreError};
use rand::Rng;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Longest inspection comment, in characters.
pub const MAX_INSPECTION_COMMENT_CHARS: usize = 500;

/// One permit of the sample frame, in the order the draw read them.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct FrameEntry {
    pub permit_number: String,
    pub grade: String,
    pub weight: u32,
    pub auto_approved: bool,
}

/// A stored draw: the frame, the inspections it assigned (with the inspector of each) and the
/// seed it was drawn with.
pub struct Draw {
    pub id: String,
    pub district: District,
    pub seed: u64,
    pub requested: u32,
    pub frame: Vec<FrameEntry>,
    /// Each assigned inspection with the frame index it came from and its inspector.
    pub sample: Vec<(usize, InspectionRecord, StaffRecord)>,
    pub drawn_at: i64,
}

/// Tenths of a dB(A), as noise levels are stored; a level outside 0–200 dB is refused.
pub fn noise_tenths(db: f64) -> CaseResult<i64> {
    if !db.is_finite() || !(0.0..=200.0).contains(&db) {
        return Err(CaseError::field("noise_db", "INVALID_VALUE", "噪声值应为0至200之间的分贝数"));
    }
    Ok((db * 10.0).round() as i64)
}

impl Cases {
    /// Draws `count` permits in force in `district` (weighted by grade; `seed` replays an
    /// earlier draw) and assigns the district's inspectors at random.
    pub async fn draw_inspections(
        &self,
        district: &str,
        count: u32,
        seed: Option<u64>,
        actor: &str,
    ) -> CaseResult<Draw> {
        let district: District = district.parse().map_err(|e: nightpermit_domain::UnknownValue| {
            CaseError::field("district", "UNKNOWN_DISTRICT", e.to_string())
        })?;
        let settings = &self.settings.inspections;
        if count == 0 || count > settings.max_draw {
            return Err(CaseError::field("count", "OUT_OF_RANGE", format!("抽取数量应为1至{}", settings.max_draw)));
        }
        let now = self.clock.now_ms();
        let inspectors = self.store.staff_in_district(district.id(), Role::Inspector).await?;
        if inspectors.is_empty() {
            return Err(CaseError::conflict("NO_INSPECTORS", "该区没有执法检查人员，无法分配检查"));
        }
        // The frame: every permit in force in the district, by number, so a replay reads the same.
        let mut frame = Vec::new();
        let mut firms = Vec::new();
        for p in issued_permits(self, Some(district)).await?.into_iter().filter(|p| in_force_now(p, now)) {
            let firm = self.store.firm_by_id(&p.application.firm_id).await?.ok_or(StoreError::NotFound)?;
            let grade = Grade::parse(&firm.grade)
                .ok_or_else(|| StoreError::Corrupt(format!("firm {} has grade {:?}", firm.id, firm.grade)))?;
            let weight = match grade {
                Grade::Green => settings.weight_green,
                Grade::Yellow => settings.weight_yellow,
                Grade::Red => settings.weight_red,
            };
            let decisions = self.store.decisions(&p.application.id).await?;
            let auto_approved = decisions.last().is_some_and(|d| d.outcome == DecisionOutcome::AutoApprove);
            frame.push(FrameEntry {
                permit_number: p.permit.number.clone(),
                grade: grade.id().into(),
                weight,
                auto_approved,
            });
            firms.push(firm.id);
        }
        // Below 2^53 so the seed survives any JSON client unchanged.
        let seed = seed.unwrap_or_else(|| rand::thread_rng().gen_range(0..(1u64 << 53)));
        let weights: Vec<u32> = frame.iter().map(|f| f.weight).collect();
        let picks = nightpermit_rules::aftercare::draw(seed, &weights, count as usize, inspectors.len());
        let draw_id = uuid::Uuid::now_v7().to_string();
        let items: Vec<InspectionRecord> = picks
            .iter()
            .map(|(c, i)| InspectionRecord {
                id: uuid::Uuid::now_v7().to_string(),
                draw_id: draw_id.clone(),
                permit_number: frame[*c].permit_number.clone(),
                firm_id: firms[*c].clone(),
                district: district.id().into(),
                inspector_id: inspectors[*i].id.clone(),
                status: InspectionStatus::Assigned,
                noise_tenths_db: None,
                measures_ok: None,
                comment: None,
                result_at: None,
                created_at: now,
            })
            .collect();
        let json = |v: Result<String, serde_json::Error>| v.map_err(|e| anyhow::anyhow!("draw record: {e}"));
        let record = InspectionDrawRecord {
            id: draw_id.clone(),
            district: district.id().into(),
            seed: seed.to_string(),
            requested: i64::from(count),
            frame: json(serde_json::to_string(&frame))?,
            inspectors: json(serde_json::to_string(&inspectors.iter().map(|s| &s.username).collect::<Vec<_>>()))?,
            drawn_by: actor.to_string(),
            drawn_at: now,
        };
        self.store.create_draw(&record, &items, actor).await?;
        let sample = picks.iter().zip(items).map(|((c, i), item)| (*c, item, inspectors[*i].clone())).collect();
        Ok(Draw { id: draw_id, district, seed, requested: count, frame, sample, drawn_at: now })
    }

    /// Records the result of an inspector's own assignment: above the night limit, or with the
    /// measures missing, it fails and the firm's record gains an inspection violation.
    pub async fn record_inspection_result(
        &self,
        inspection_id: &str,
        inspector_id: &str,
        noise_db: f64,
        measures_ok: bool,
        comment: Option<&str>,
        actor: &str,
    ) -> CaseResult<InspectionRecord> {
        let current = self.store.inspection(inspection_id).await?.ok_or(CaseError::NotFound("检查任务"))?;
        // Someone else's assignment is not found, not forbidden: ids do not leak across inspectors.
        if current.inspector_id != inspector_id {
            return Err(CaseError::NotFound("检查任务"));
        }
        let noise = noise_tenths(noise_db)?;
        let comment = comment.unwrap_or("").trim().to_string();
        if comment.chars().count() > MAX_INSPECTION_COMMENT_CHARS {
            return Err(CaseError::field("comment", "TOO_LONG", "说明最多500字"));
        }
        let limit_db = self.settings.inspections.night_limit_db;
        let passed = noise <= (limit_db * 10.0).round() as i64 && measures_ok;
        let now = self.clock.now_ms();
        let record = if passed {
            None
        } else {
            let firm = self.store.firm_by_id(&current.firm_id).await?.ok_or(StoreError::NotFound)?;
            let note = format!(
                "双随机检查{}不合格：夜间噪声{:.1}dB(A)（限值{limit_db}dB(A)），防治措施{}",
                current.permit_number,
                noise as f64 / 10.0,
                if measures_ok { "到位" } else { "未落实" }
            );
            let o = crate::grades::prepare(
                self.store.as_ref(),
                &self.policy.grading,
                &firm,
                RecordKind::InspectionViolation,
                now,
                &note,
                actor,
                now,
            )
            .await?;
            Some((o.entry, o.change))
        };
        let result = InspectionResult {
            inspection_id: inspection_id.to_string(),
            inspector_id: inspector_id.to_string(),
            status: if passed { InspectionStatus::Passed } else { InspectionStatus::Failed },
            noise_tenths_db: noise,
            measures_ok,
            comment,
            at: now,
        };
        Ok(self.store.record_inspection_result(&result, record.as_ref(), actor).await?)
    }
}
