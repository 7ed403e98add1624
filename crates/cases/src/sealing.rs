//! Sealing an approved case: the permit number, the PDF, both departments' signatures, and the
//! permit recorded with the case `issued` — in one transaction with the job's completion.

use crate::form::ApplicationForm;
use crate::time::shanghai_local;
use crate::Cases;
use chrono::Datelike;
use nightpermit_domain::{Department, District};
use nightpermit_seal::{seal_permit, Authority, PermitContent};
use nightpermit_store::{JobRecord, SealJob};

/// Seals the case a claimed seal job names; a retry after a crash reuses the permit number
/// already allocated to the case.
pub async fn process(state: &Cases, worker_id: &str, job: &JobRecord) -> anyhow::Result<()> {
    let payload: SealJob = serde_json::from_str(&job.payload)?;
    let app = state
        .store
        .application(&payload.application_id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("application vanished"))?;
    if app.status != nightpermit_domain::ApplicationStatus::Approved {
        // Withdrawn or already issued by an earlier attempt: nothing to seal.
        state.store.complete_job(&job.id, worker_id, state.clock.now_ms()).await?;
        return Ok(());
    }
    let form: ApplicationForm = crate::form::stored(&app)?;
    let firm = state.store.firm_by_id(&app.firm_id).await?.ok_or_else(|| anyhow::anyhow!("firm missing"))?;
    let now = state.clock.now_ms();
    let local = shanghai_local(now);
    let district: District = form.district;
    let permit = state.store.allocate_permit_number(&app.id, district.id(), i64::from(local.year()), now).await?;
    let names = state.settings.district(district);
    let window = form.window().ok_or_else(|| anyhow::anyhow!("stored form has no valid night window"))?;
    let content = PermitContent {
        number: permit.number.clone(),
        district_name: names.name.clone(),
        firm_name: firm.name.clone(),
        credit_code: firm.credit_code.clone(),
        project_name: form.project.name.clone(),
        address: form.project.address.clone(),
        construction_permit_no: form.project.construction_permit_no.clone(),
        builder: form.project.builder.clone(),
        start_date: form.night_work.start_date.clone(),
        end_date: form.night_work.end_date.clone(),
        nights: window.nights(),
        nightly_start: form.night_work.nightly_start.clone(),
        nightly_end: form.night_work.nightly_end.clone(),
        process: form.night_work.process.label().into(),
        equipment: form
            .equipment
            .iter()
            .map(|e| format!("{}×{}（{} dB(A)）", e.name, e.count, e.sound_level_db))
            .collect(),
        measures: form.measures.clone(),
        issued_on: local.format("%Y-%m-%d").to_string(),
        verify_url: state.permit_url(&permit.number),
        authorities: [names.construction_authority.clone(), names.environment_authority.clone()],
    };
    let authority = |dep: Department| Authority {
        district: district.id().into(),
        department: dep.id().into(),
        name: names.authority(dep).into(),
    };
    let (construction, environment) = (authority(Department::Construction), authority(Department::Environment));
    let keys = state.keys.clone();
    let pdf_date = local.format("D:%Y%m%d%H%M%S+08'00'").to_string();
    let pdf = tokio::task::spawn_blocking(move || -> anyhow::Result<Vec<u8>> {
        let (kc, cc) = keys.signer(&construction)?;
        let (ke, ce) = keys.signer(&environment)?;
        Ok(seal_permit(
            &content,
            [(&kc, &cc, "seal-construction", &construction.name), (&ke, &ce, "seal-environment", &environment.name)],
            &pdf_date,
        )?)
    })
    .await??;
    let sha = state.blobs.put(&pdf).await?;
    if !state.store.issue_permit(&job.id, worker_id, &permit.number, &sha, state.clock.now_ms()).await? {
        tracing::warn!(job = %job.id, "lost the sealing job's lease; another worker will redo it with the same number");
    }
    Ok(())
}
