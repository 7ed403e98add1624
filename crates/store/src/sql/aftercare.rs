//! The SQL of [`AftercareStore`], on both backends like the rest of [`SqlStore`].

use super::{SqlStore, APPLICATION_COLUMNS, AUDIT_COLUMNS, PERMIT_COLUMNS, STAFF_COLUMNS};
use crate::aftercare::*;
use crate::audit::{AuditEntry, AuditEvent};
use crate::{ApplicationRecord, Backend, PermitRecord, StaffRecord, StoreError, StoreResult};
use async_trait::async_trait;
use nightpermit_domain::{ComplaintStep, InspectionStatus, Role};
use sqlx::{Any, Transaction};
use std::collections::HashMap;

const COMPLAINT_COLUMNS: &str = "id, reference, district, address, permit_number, occurred_at, description, contact_name, contact_phone, priority, matched_permits, received_at, contact_by, inspect_by, check_by, conclude_by, contacted_at, contacted_by, contact_note, inspected_at, inspected_by, noise_tenths_db, rectification_ordered, inspect_note, checked_at, checked_by, rectified, check_note, concluded_at, concluded_by, outcome, conclude_note, contact_email";
const INSPECTION_COLUMNS: &str = "id, draw_id, permit_number, firm_id, district, inspector_id, status, noise_tenths_db, measures_ok, comment, result_at, created_at";
const DRAW_COLUMNS: &str = "id, district, seed, requested, frame, inspectors, drawn_by, drawn_at";

fn flag(v: Option<bool>) -> Option<i64> {
    v.map(i64::from)
}

fn json(v: serde_json::Value) -> Option<String> {
    Some(v.to_string())
}

impl SqlStore {
    /// Reads a row for update inside a write transaction (Postgres locks it; SQLite holds the
    /// write lock already), so a step decided on what was read cannot race another.
    async fn locked<T>(&self, tx: &mut Transaction<'static, Any>, sql: &str, key: &str) -> StoreResult<T>
    where
        T: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow> + Send + Unpin,
    {
        let lock = if self.backend == Backend::Postgres { " FOR UPDATE" } else { "" };
        sqlx::query_as(&format!("{sql}{lock}")).bind(key).fetch_optional(&mut **tx).await?.ok_or(StoreError::NotFound)
    }
}

#[async_trait]
impl AftercareStore for SqlStore {
    async fn create_complaint(&self, c: &ComplaintRecord, actor: &str) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(&format!(
            "INSERT INTO complaints ({COMPLAINT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, \
             NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, $17)"
        ))
        .bind(&c.id)
        .bind(&c.reference)
        .bind(&c.district)
        .bind(&c.address)
        .bind(&c.permit_number)
        .bind(c.occurred_at)
        .bind(&c.description)
        .bind(&c.contact_name)
        .bind(&c.contact_phone)
        .bind(c.priority.id())
        .bind(&c.matched_permits)
        .bind(c.received_at)
        .bind(c.contact_by)
        .bind(c.inspect_by)
        .bind(c.check_by)
        .bind(c.conclude_by)
        .bind(&c.contact_email)
        .execute(&mut *tx)
        .await
        .map_err(|e| if super::is_unique_violation(&e) { StoreError::AlreadyExists("reference") } else { e.into() })?;
        // No name, phone or free text in the log: it is kept for good and read by many.
        let after = serde_json::json!({"district": c.district, "priority": c.priority.id(),
            "matched_permits": c.matched_permits, "occurred_at": c.occurred_at});
        self.append_audit(
            &mut tx,
            AuditEvent {
                at: c.received_at,
                actor,
                action: "complaint.received",
                entity: "complaint",
                entity_id: &c.reference,
                before: None,
                after: json(after),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn complaint(&self, reference: &str) -> StoreResult<Option<ComplaintRecord>> {
        self.optional(&format!("SELECT {COMPLAINT_COLUMNS} FROM complaints WHERE reference = $1"), reference).await
    }

    async fn complaints_in_district(&self, district: &str, open_only: bool) -> StoreResult<Vec<ComplaintRecord>> {
        let open = if open_only { " AND concluded_at IS NULL" } else { "" };
        self.all(
            &format!("SELECT {COMPLAINT_COLUMNS} FROM complaints WHERE district = $1{open} ORDER BY received_at, id"),
            district,
        )
        .await
    }

    async fn record_complaint_step(
        &self,
        s: &ComplaintStepUpdate,
        records: &[FirmRecordWrite],
        actor: &str,
    ) -> StoreResult<ComplaintRecord> {
        let mut tx = self.begin_write().await?;
        let sql = format!("SELECT {COMPLAINT_COLUMNS} FROM complaints WHERE reference = $1");
        let current: ComplaintRecord = self.locked(&mut tx, &sql, &s.reference).await?;
        if let Some(code) = current.refusal(s.step) {
            return Err(StoreError::Conflict(code));
        }
        let (update, detail) = match s.step {
            ComplaintStep::Contacted => (
                "UPDATE complaints SET contacted_at = $1, contacted_by = $2, contact_note = $3 WHERE reference = $4",
                serde_json::json!({}),
            ),
            ComplaintStep::Inspected => (
                "UPDATE complaints SET inspected_at = $1, inspected_by = $2, inspect_note = $3, noise_tenths_db = $4, rectification_ordered = $5 WHERE reference = $6",
                serde_json::json!({"noise_tenths_db": s.noise_tenths_db, "rectification_ordered": s.rectification_ordered}),
            ),
            ComplaintStep::Checked => (
                "UPDATE complaints SET checked_at = $1, checked_by = $2, check_note = $3, rectified = $4 WHERE reference = $5",
                serde_json::json!({"rectified": s.rectified}),
            ),
            ComplaintStep::Concluded => (
                "UPDATE complaints SET concluded_at = $1, concluded_by = $2, conclude_note = $3, outcome = $4 WHERE reference = $5",
                serde_json::json!({"outcome": s.outcome.map(|o| o.id())}),
            ),
        };
        let mut q = sqlx::query(update).bind(s.at).bind(&s.by).bind(&s.note);
        q = match s.step {
            ComplaintStep::Contacted => q,
            ComplaintStep::Inspected => q.bind(s.noise_tenths_db).bind(flag(s.rectification_ordered)),
            ComplaintStep::Checked => q.bind(flag(s.rectified)),
            ComplaintStep::Concluded => q.bind(s.outcome.map(|o| o.id())),
        };
        q.bind(&s.reference).execute(&mut *tx).await?;
        let mut after = detail;
        after["step"] = serde_json::json!(s.step.id());
        self.append_audit(
            &mut tx,
            AuditEvent {
                at: s.at,
                actor,
                action: "complaint.step_recorded",
                entity: "complaint",
                entity_id: &s.reference,
                before: None,
                after: json(after),
            },
        )
        .await?;
        for (entry, change) in records {
            self.write_firm_record(&mut tx, entry, change.as_ref(), actor).await?;
        }
        // The complaint moved: announced with the step itself (no personal data in the event).
        let before = current.last_step().map_or("received", |st| st.id());
        Self::enqueue_event(&mut tx, "complaint.step_recorded", "complaint", &s.reference, before, s.step.id(), s.at)
            .await?;
        let updated: ComplaintRecord = self.locked(&mut tx, &sql, &s.reference).await?;
        tx.commit().await?;
        Ok(updated)
    }

    async fn staff_in_district(&self, district: &str, role: Role) -> StoreResult<Vec<StaffRecord>> {
        Ok(sqlx::query_as(&format!(
            "SELECT {STAFF_COLUMNS} FROM staff WHERE district = $1 AND role = $2 ORDER BY username"
        ))
        .bind(district)
        .bind(role.id())
        .fetch_all(&self.read)
        .await?)
    }

    async fn permit_cases_for_night(&self, district: &str, night: &str) -> StoreResult<Vec<PermitCase>> {
        // Dates are stored as YYYY-MM-DD text, so text comparison is date comparison.
        self.permit_cases(
            "p.district = $1 AND p.status = 'valid' AND a.start_date <= $2 AND a.end_date >= $2",
            &[district, night],
        )
        .await
    }

    async fn permit_case(&self, number: &str) -> StoreResult<Option<PermitCase>> {
        Ok(self.permit_cases("p.number = $1 AND p.status <> 'pending'", &[number]).await?.pop())
    }

    async fn issued_permits(&self, district: Option<&str>) -> StoreResult<Vec<(PermitRecord, ApplicationRecord)>> {
        // Two plain queries joined here: the Any driver cannot map one joined row onto two records.
        let (permits, apps): (Vec<PermitRecord>, Vec<ApplicationRecord>) = match district {
            Some(d) => (
                sqlx::query_as(&format!(
                    "SELECT {PERMIT_COLUMNS} FROM permits WHERE district = $1 AND status <> 'pending' ORDER BY number"
                ))
                .bind(d)
                .fetch_all(&self.read)
                .await?,
                sqlx::query_as(&format!(
                    "SELECT {APPLICATION_COLUMNS} FROM applications WHERE id IN (SELECT application_id FROM permits WHERE district = $1)"
                ))
                .bind(d)
                .fetch_all(&self.read)
                .await?,
            ),
            None => (
                sqlx::query_as(&format!(
                    "SELECT {PERMIT_COLUMNS} FROM permits WHERE status <> 'pending' ORDER BY number"
                ))
                .fetch_all(&self.read)
                .await?,
                sqlx::query_as(&format!(
                    "SELECT {APPLICATION_COLUMNS} FROM applications WHERE id IN (SELECT application_id FROM permits)"
                ))
                .fetch_all(&self.read)
                .await?,
            ),
        };
        let mut apps: HashMap<String, ApplicationRecord> = apps.into_iter().map(|a| (a.id.clone(), a)).collect();
        Ok(permits.into_iter().filter_map(|p| apps.remove(&p.application_id).map(|a| (p, a))).collect())
    }

    async fn permit_events(&self, limit: i64) -> StoreResult<Vec<AuditEntry>> {
        Ok(sqlx::query_as(&format!(
            "SELECT {AUDIT_COLUMNS} FROM audit_log WHERE action IN ('permit.issued', 'permit.revoked', 'permit.expired') \
             ORDER BY seq DESC LIMIT $1"
        ))
        .bind(limit)
        .fetch_all(&self.read)
        .await?)
    }

    async fn create_draw(&self, d: &InspectionDrawRecord, items: &[InspectionRecord], actor: &str) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(&format!("INSERT INTO inspection_draws ({DRAW_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"))
            .bind(&d.id)
            .bind(&d.district)
            .bind(&d.seed)
            .bind(d.requested)
            .bind(&d.frame)
            .bind(&d.inspectors)
            .bind(&d.drawn_by)
            .bind(d.drawn_at)
            .execute(&mut *tx)
            .await?;
        for i in items {
            sqlx::query(&format!(
                "INSERT INTO inspections ({INSPECTION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, NULL, NULL, NULL, $8)"
            ))
            .bind(&i.id)
            .bind(&i.draw_id)
            .bind(&i.permit_number)
            .bind(&i.firm_id)
            .bind(&i.district)
            .bind(&i.inspector_id)
            .bind(i.status.id())
            .bind(i.created_at)
            .execute(&mut *tx)
            .await?;
        }
        let sample: Vec<_> = items
            .iter()
            .map(|i| serde_json::json!({"inspection": i.id, "permit": i.permit_number, "inspector": i.inspector_id}))
            .collect();
        let after = serde_json::json!({"district": d.district, "seed": d.seed, "requested": d.requested,
            "frame": d.frame, "sample": sample});
        self.append_audit(
            &mut tx,
            AuditEvent {
                at: d.drawn_at,
                actor,
                action: "inspection.drawn",
                entity: "inspection_draw",
                entity_id: &d.id,
                before: None,
                after: json(after),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn inspection_draw(&self, id: &str) -> StoreResult<Option<InspectionDrawRecord>> {
        self.optional(&format!("SELECT {DRAW_COLUMNS} FROM inspection_draws WHERE id = $1"), id).await
    }

    async fn inspection(&self, id: &str) -> StoreResult<Option<InspectionRecord>> {
        self.optional(&format!("SELECT {INSPECTION_COLUMNS} FROM inspections WHERE id = $1"), id).await
    }

    async fn inspections_for_inspector(&self, inspector_id: &str) -> StoreResult<Vec<InspectionRecord>> {
        self.all(
            &format!("SELECT {INSPECTION_COLUMNS} FROM inspections WHERE inspector_id = $1 ORDER BY created_at, id"),
            inspector_id,
        )
        .await
    }

    async fn inspections_for_permit(&self, number: &str) -> StoreResult<Vec<InspectionRecord>> {
        self.all(
            &format!("SELECT {INSPECTION_COLUMNS} FROM inspections WHERE permit_number = $1 ORDER BY created_at, id"),
            number,
        )
        .await
    }

    async fn record_inspection_result(
        &self,
        r: &InspectionResult,
        record: Option<&FirmRecordWrite>,
        actor: &str,
    ) -> StoreResult<InspectionRecord> {
        let mut tx = self.begin_write().await?;
        let sql = format!("SELECT {INSPECTION_COLUMNS} FROM inspections WHERE id = $1");
        let current: InspectionRecord = self.locked(&mut tx, &sql, &r.inspection_id).await?;
        if current.inspector_id != r.inspector_id {
            return Err(StoreError::Conflict("NOT_YOUR_INSPECTION"));
        }
        if current.status != InspectionStatus::Assigned {
            return Err(StoreError::Conflict("INSPECTION_RECORDED"));
        }
        sqlx::query(
            "UPDATE inspections SET status = $1, noise_tenths_db = $2, measures_ok = $3, comment = $4, result_at = $5 WHERE id = $6",
        )
        .bind(r.status.id())
        .bind(r.noise_tenths_db)
        .bind(i64::from(r.measures_ok))
        .bind(&r.comment)
        .bind(r.at)
        .bind(&r.inspection_id)
        .execute(&mut *tx)
        .await?;
        let after = serde_json::json!({"status": r.status.id(), "noise_tenths_db": r.noise_tenths_db,
            "measures_ok": r.measures_ok, "permit": current.permit_number});
        self.append_audit(
            &mut tx,
            AuditEvent {
                at: r.at,
                actor,
                action: "inspection.result_recorded",
                entity: "inspection",
                entity_id: &r.inspection_id,
                before: json(serde_json::json!({"status": current.status.id()})),
                after: json(after),
            },
        )
        .await?;
        if let Some((entry, change)) = record {
            self.write_firm_record(&mut tx, entry, change.as_ref(), actor).await?;
        }
        let updated: InspectionRecord = self.locked(&mut tx, &sql, &r.inspection_id).await?;
        tx.commit().await?;
        Ok(updated)
    }
}

impl SqlStore {
    /// Permits matching `filter` (over `permits p JOIN applications a`), each with its case, firm
    /// name and inspections: four queries for any number of permits, joined here (the Any driver
    /// cannot map one joined row onto several records).
    async fn permit_cases(&self, filter: &str, binds: &[&str]) -> StoreResult<Vec<PermitCase>> {
        let from = format!("FROM permits p JOIN applications a ON a.id = p.application_id WHERE {filter}");
        let prefixed = |columns: &str, alias: &str| {
            columns.split(", ").map(|c| format!("{alias}.{c}")).collect::<Vec<_>>().join(", ")
        };
        let permits_sql = format!("SELECT {} {from} ORDER BY p.number", prefixed(PERMIT_COLUMNS, "p"));
        let apps_sql = format!("SELECT {} {from}", prefixed(APPLICATION_COLUMNS, "a"));
        let firms_sql = format!("SELECT f.id, f.name FROM firms f WHERE f.id IN (SELECT a.firm_id {from})");
        let inspections_sql = format!(
            "SELECT {} FROM inspections i WHERE i.permit_number IN (SELECT p.number {from}) ORDER BY i.created_at, i.id",
            prefixed(INSPECTION_COLUMNS, "i")
        );
        let mut permits = sqlx::query_as::<_, PermitRecord>(&permits_sql);
        let mut apps = sqlx::query_as::<_, ApplicationRecord>(&apps_sql);
        let mut firms = sqlx::query_as::<_, (String, String)>(&firms_sql);
        let mut inspections = sqlx::query_as::<_, InspectionRecord>(&inspections_sql);
        for b in binds {
            permits = permits.bind(*b);
            apps = apps.bind(*b);
            firms = firms.bind(*b);
            inspections = inspections.bind(*b);
        }
        let permits = permits.fetch_all(&self.read).await?;
        if permits.is_empty() {
            return Ok(Vec::new());
        }
        let mut apps: HashMap<String, ApplicationRecord> =
            apps.fetch_all(&self.read).await?.into_iter().map(|a| (a.id.clone(), a)).collect();
        let firms: HashMap<String, String> = firms.fetch_all(&self.read).await?.into_iter().collect();
        let mut by_permit: HashMap<String, Vec<InspectionRecord>> = HashMap::new();
        for i in inspections.fetch_all(&self.read).await? {
            by_permit.entry(i.permit_number.clone()).or_default().push(i);
        }
        permits
            .into_iter()
            .map(|permit| {
                let application = apps
                    .remove(&permit.application_id)
                    .ok_or_else(|| StoreError::Corrupt(format!("permit {} has no application", permit.number)))?;
                Ok(PermitCase {
                    firm_name: firms.get(&application.firm_id).cloned().unwrap_or_default(),
                    inspections: by_permit.remove(&permit.number).unwrap_or_default(),
                    application,
                    permit,
                })
            })
            .collect()
    }
}
