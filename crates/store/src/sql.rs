//! The one SQL implementation of [`Store`], run on SQLite or Postgres through sqlx's `Any`
//! driver. Queries use `$n` placeholders in ascending first-use order, which both dialects read
//! the same way.

use crate::audit::{
    chained_entry_hash, check_links, checkpoint_hash, AuditEntry, AuditEvent, AuditVerification, ChainCheck,
    CheckpointHead, GENESIS_HASH,
};
use crate::records::*;
use crate::{ApplicationScope, Store, StoreError, StoreResult};
use async_trait::async_trait;
use nightpermit_domain::{ApplicationStatus, TrackStatus};
use sqlx::any::AnyPoolOptions;
use sqlx::{Any, AnyPool, Executor, Transaction};
use std::path::Path;
use std::time::Duration;

// After-care (complaints, inspections, register) implements its own trait in sql/aftercare.rs.
mod aftercare;
mod documents;
use documents::Documents;

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/postgres");

/// Serialises audit checkpoints across Postgres connections (appends do not take it: each chain's
/// head row is their lock).
const AUDIT_CHECKPOINT_LOCK: i64 = 0x006e_7061_7564_6974;
/// Serialises permit-number allocation on Postgres: two cases of one district sealed at once
/// would otherwise both read the same highest number and one would fail on the unique key.
const PERMIT_NUMBER_ADVISORY_LOCK: i64 = 0x006e_7070_6e75_6d62;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

pub struct SqlStore {
    backend: Backend,
    /// Readers; on SQLite several connections read the WAL concurrently.
    read: AnyPool,
    /// Writers; on SQLite a single connection, so writes queue here instead of failing with
    /// SQLITE_BUSY. On Postgres the same pool as `read`.
    write: AnyPool,
    /// The one-document reads' SQL, written once for the backend's dialect.
    documents: Documents,
}

const APPLICATION_COLUMNS: &str =
    "id, firm_id, district, status, form, construction_permit_no, start_date, end_date, round, created_at, updated_at";
const MATERIAL_COLUMNS: &str = "id, application_id, kind, filename, content_type, sha256, size, created_at";
const JOB_COLUMNS: &str = "id, kind, payload, state, attempts, max_attempts, run_after, lease_until, locked_by, last_error, created_at, updated_at";
const ROUND_COLUMNS: &str = "application_id, round, state, submitted_at, started_at, finished_at, outcome, findings, materials, materials_done, materials_total";
const AUDIT_COLUMNS: &str =
    "seq, at, actor, action, entity, entity_id, before_state, after_state, prev_hash, hash, chain_pos";
const FIRM_COLUMNS: &str =
    "id, credit_code, name, password_hash, contact_name, contact_phone, grade, created_at, contact_email";
const TRACK_COLUMNS: &str =
    "id, application_id, round, department, district, status, reasons, decided_by, decided_at, comment, created_at";
const DECISION_COLUMNS: &str =
    "application_id, round, outcome, ruleset_id, ruleset_version, ruleset_sha256, reasons, trace, facts, decided_at";
const PERMIT_COLUMNS: &str =
    "number, application_id, district, year, seq, status, pdf_sha256, issued_at, revoked_at, revoke_reason, created_at";
const STAFF_COLUMNS: &str = "id, username, password_hash, role, department, district, created_at, disabled_at";
const SESSION_COLUMNS: &str = "token_hash, principal_kind, principal_id, expires_at, created_at";

fn is_unique_violation(e: &sqlx::Error) -> bool {
    e.as_database_error().is_some_and(|d| d.is_unique_violation())
}

fn status_json(status: ApplicationStatus) -> Option<String> {
    Some(serde_json::json!({ "status": status.id() }).to_string())
}

impl SqlStore {
    /// A reviewer's queue, oldest first, with each task's project, firm, dates and the other
    /// department's track; one page of it if `page` (limit, offset) is given.
    async fn review_queue_rows(
        &self,
        district: &str,
        department: &str,
        status: Option<&str>,
        page: Option<(i64, i64)>,
    ) -> StoreResult<Vec<QueueEntry>> {
        let columns = TRACK_COLUMNS.split(", ").map(|c| format!("t.{c}")).collect::<Vec<_>>().join(", ");
        let (filter, bind_status) = match status {
            // A pending task whose case has left review (the other department rejected or asked
            // for a correction), or whose round was superseded, is no longer work.
            Some("pending") => ("AND t.status = 'pending' AND a.status = 'under_review' AND t.round = a.round", None),
            Some(s) => ("AND t.status = $3", Some(s)),
            None => ("", None),
        };
        // The project name lives in the form document; each dialect reads it with its own JSON
        // function so the queue is one query however long it is.
        let project_name = match self.backend {
            Backend::Sqlite => "CAST(json_extract(a.form, '$.project.name') AS TEXT)",
            Backend::Postgres => "(a.form::json -> 'project' ->> 'name')",
        };
        // The page's bind numbers follow the status's, if it has one.
        let first = if bind_status.is_some() { 4 } else { 3 };
        let paging = match page {
            Some(_) => format!(" LIMIT ${first} OFFSET ${}", first + 1),
            None => String::new(),
        };
        // The page is chosen over the tracks alone (with the case's status and round for the
        // filter), so the form's JSON is read and the firm and other track joined only for the
        // tasks shown, not the whole backlog.
        let sql = format!(
            "SELECT {columns}, COALESCE({project_name}, '') AS project_name, f.name AS firm_name, \
             a.start_date AS start_date, a.end_date AS end_date, \
             o.department AS other_department, o.status AS other_status \
             FROM (SELECT t.id FROM review_tracks t JOIN applications a ON a.id = t.application_id \
                   WHERE t.district = $1 AND t.department = $2 {filter} ORDER BY t.created_at, t.id{paging}) page \
             JOIN review_tracks t ON t.id = page.id \
             JOIN applications a ON a.id = t.application_id \
             JOIN firms f ON f.id = a.firm_id \
             LEFT JOIN review_tracks o ON o.application_id = t.application_id AND o.round = t.round \
               AND o.department <> t.department \
             ORDER BY t.created_at, t.id"
        );
        let mut q = sqlx::query_as::<_, QueueEntry>(&sql).bind(district).bind(department);
        if let Some(s) = bind_status {
            q = q.bind(s);
        }
        if let Some((limit, offset)) = page {
            q = q.bind(limit).bind(offset);
        }
        Ok(q.fetch_all(&self.read).await?)
    }

    /// Connects by URL: `postgres://…` or `sqlite://…`. Does not migrate.
    pub async fn connect(url: &str) -> StoreResult<Self> {
        sqlx::any::install_default_drivers();
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let pool =
                AnyPoolOptions::new().max_connections(16).acquire_timeout(Duration::from_secs(10)).connect(url).await?;
            Ok(Self {
                backend: Backend::Postgres,
                read: pool.clone(),
                write: pool,
                documents: Documents::new(Backend::Postgres),
            })
        } else if url.starts_with("sqlite:") {
            let read = Self::sqlite_pool(url, 8).await?;
            let write = Self::sqlite_pool(url, 1).await?;
            Ok(Self { backend: Backend::Sqlite, read, write, documents: Documents::new(Backend::Sqlite) })
        } else {
            Err(StoreError::Database(sqlx::Error::Configuration(
                format!("unsupported database URL scheme in {:?}; use postgres:// or sqlite://", redact(url)).into(),
            )))
        }
    }

    /// Opens (creating if needed) the SQLite file at `path`.
    pub async fn open_sqlite(path: &Path) -> StoreResult<Self> {
        Self::connect(&format!("sqlite://{}?mode=rwc", path.display())).await
    }

    async fn sqlite_pool(url: &str, max: u32) -> StoreResult<AnyPool> {
        Ok(AnyPoolOptions::new()
            .max_connections(max)
            .acquire_timeout(Duration::from_secs(30))
            .after_connect(|conn, _meta| {
                Box::pin(async move {
                    // WAL lets readers run beside the writer; NORMAL sync is durable across
                    // process crashes in WAL mode; the busy timeout covers other processes
                    // (a CLI command beside the server).
                    conn.execute("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000;")
                        .await?;
                    Ok(())
                })
            })
            .connect(url)
            .await?)
    }

    /// Begins a write transaction. On SQLite the first statement takes the write lock at once,
    /// so a transaction that reads before it writes cannot fail half-way on a lock upgrade.
    async fn begin_write(&self) -> StoreResult<Transaction<'static, Any>> {
        let mut tx = self.write.begin().await?;
        if self.backend == Backend::Sqlite {
            sqlx::query("UPDATE audit_log SET seq = seq WHERE 1 = 0").execute(&mut *tx).await?;
        }
        Ok(tx)
    }

    /// Appends an entry to its entity's chain. The chain's head row is locked for the rest of the
    /// transaction, so appends to one chain happen one after the other while different cases'
    /// appends do not wait for each other.
    async fn append_audit(&self, tx: &mut Transaction<'static, Any>, ev: AuditEvent<'_>) -> StoreResult<()> {
        let (seq,): (i64,) = match self.backend {
            Backend::Postgres => sqlx::query_as("SELECT nextval('audit_seq')").fetch_one(&mut **tx).await?,
            // SQLite has one writer at a time, which `begin_write` already is.
            Backend::Sqlite => {
                sqlx::query_as("SELECT COALESCE(MAX(seq), 0) + 1 FROM audit_log").fetch_one(&mut **tx).await?
            }
        };
        sqlx::query(
            "INSERT INTO audit_heads (entity, entity_id, last_pos, last_hash) VALUES ($1, $2, 0, $3) \
             ON CONFLICT (entity, entity_id) DO NOTHING",
        )
        .bind(ev.entity)
        .bind(ev.entity_id)
        .bind(GENESIS_HASH)
        .execute(&mut **tx)
        .await?;
        let lock = if self.backend == Backend::Postgres { " FOR UPDATE" } else { "" };
        let (last_pos, prev_hash): (i64, String) = sqlx::query_as(&format!(
            "SELECT last_pos, last_hash FROM audit_heads WHERE entity = $1 AND entity_id = $2{lock}"
        ))
        .bind(ev.entity)
        .bind(ev.entity_id)
        .fetch_one(&mut **tx)
        .await?;
        let pos = last_pos + 1;
        let hash = chained_entry_hash(
            seq,
            pos,
            ev.at,
            ev.actor,
            ev.action,
            ev.entity,
            ev.entity_id,
            ev.before.as_deref(),
            ev.after.as_deref(),
            &prev_hash,
        );
        sqlx::query(&format!(
            "INSERT INTO audit_log ({AUDIT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        ))
        .bind(seq)
        .bind(ev.at)
        .bind(ev.actor)
        .bind(ev.action)
        .bind(ev.entity)
        .bind(ev.entity_id)
        .bind(ev.before)
        .bind(ev.after)
        .bind(prev_hash)
        .bind(&hash)
        .bind(pos)
        .execute(&mut **tx)
        .await?;
        sqlx::query("UPDATE audit_heads SET last_pos = $1, last_hash = $2 WHERE entity = $3 AND entity_id = $4")
            .bind(pos)
            .bind(&hash)
            .bind(ev.entity)
            .bind(ev.entity_id)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    /// Reads an application inside a write transaction and holds it until the transaction ends:
    /// every transaction that decides on what it read (status, round, tracks) and then writes
    /// must come through here, so two such transactions on one case run one after the other.
    /// Postgres locks the row (a plain SELECT under READ COMMITTED locks nothing, and two
    /// departments approving at once each saw the other still pending); SQLite already holds
    /// the database write lock from `begin_write`.
    async fn lock_application(&self, tx: &mut Transaction<'static, Any>, id: &str) -> StoreResult<ApplicationRecord> {
        let lock = if self.backend == Backend::Postgres { " FOR UPDATE" } else { "" };
        sqlx::query_as(&format!("SELECT {APPLICATION_COLUMNS} FROM applications WHERE id = $1{lock}"))
            .bind(id)
            .fetch_optional(&mut **tx)
            .await?
            .ok_or(StoreError::NotFound)
    }

    /// Locks an application inside a write transaction and checks the applicant may still edit it.
    async fn editable_application(
        &self,
        tx: &mut Transaction<'static, Any>,
        id: &str,
    ) -> StoreResult<ApplicationRecord> {
        let app = self.lock_application(tx, id).await?;
        let current = app.status;
        if !current.editable() {
            return Err(StoreError::WrongStatus { current });
        }
        Ok(app)
    }

    /// The stored answer to an earlier submit with the same idempotency key, if any.
    async fn earlier_receipt(conn: &mut sqlx::AnyConnection, s: &SubmitRequest) -> StoreResult<Option<SubmitReceipt>> {
        let Some(key) = &s.idempotency_key else { return Ok(None) };
        let earlier: Option<(String, String)> = sqlx::query_as(
            "SELECT application_id, response FROM idempotency_keys WHERE principal_id = $1 AND key = $2",
        )
        .bind(&s.principal_id)
        .bind(key)
        .fetch_optional(&mut *conn)
        .await?;
        match earlier {
            Some((application_id, _)) if application_id != s.application_id => Err(StoreError::IdempotencyKeyReused),
            Some((_, response)) => {
                serde_json::from_str(&response).map(Some).map_err(|e| StoreError::Corrupt(e.to_string()))
            }
            None => Ok(None),
        }
    }

    async fn submit_once(&self, s: &SubmitRequest, actor: &str) -> StoreResult<SubmitReceipt> {
        let mut tx = self.begin_write().await?;
        // Locked before the idempotency key is read: a racing submit with the same key then
        // waits here and finds the winner's receipt instead of a changed status.
        let app = self.lock_application(&mut tx, &s.application_id).await?;
        if let Some(receipt) = Self::earlier_receipt(&mut tx, s).await? {
            return Ok(receipt);
        }
        let current = app.status;
        if !current.can_become(ApplicationStatus::Prereview) {
            return Err(StoreError::WrongStatus { current });
        }
        let round = app.round + 1;
        // Also guarded by the status read above, so a caller that forgot the lock still cannot
        // submit twice.
        let changed = sqlx::query(
            "UPDATE applications SET status = $1, round = $2, updated_at = $3 WHERE id = $4 AND status = $5",
        )
        .bind(ApplicationStatus::Prereview.id())
        .bind(round)
        .bind(s.now)
        .bind(&s.application_id)
        .bind(app.status.id())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed != 1 {
            return Err(StoreError::WrongStatus { current });
        }
        let materials: Vec<MaterialRecord> = sqlx::query_as(&format!(
            "SELECT {MATERIAL_COLUMNS} FROM materials WHERE application_id = $1 ORDER BY created_at, id"
        ))
        .bind(&s.application_id)
        .fetch_all(&mut *tx)
        .await?;
        let snapshot = serde_json::to_string(&materials).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        sqlx::query(&format!("INSERT INTO prereview_rounds ({ROUND_COLUMNS}) VALUES ($1, $2, 'pending', $3, NULL, NULL, NULL, NULL, $4, 0, $5)"))
            .bind(&s.application_id)
            .bind(round)
            .bind(s.now)
            .bind(snapshot)
            .bind(i64::try_from(materials.len()).unwrap_or(i64::MAX))
            .execute(&mut *tx)
            .await?;
        let payload = serde_json::to_string(&PrereviewJob { application_id: s.application_id.clone(), round })
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        insert_job(&mut *tx, &s.job_id, JOB_KIND_PREREVIEW, &payload, s.max_attempts, s.now).await?;
        let receipt = SubmitReceipt {
            application_id: s.application_id.clone(),
            status: ApplicationStatus::Prereview,
            round,
            job_id: s.job_id.clone(),
            submitted_at: s.now,
        };
        if let Some(key) = &s.idempotency_key {
            let response = serde_json::to_string(&receipt).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            sqlx::query("INSERT INTO idempotency_keys (principal_id, key, application_id, response, created_at) VALUES ($1, $2, $3, $4, $5)")
                .bind(&s.principal_id)
                .bind(key)
                .bind(&s.application_id)
                .bind(response)
                .bind(s.now)
                .execute(&mut *tx)
                .await?;
        }
        self.append_audit(
            &mut tx,
            AuditEvent {
                at: s.now,
                actor,
                action: "application.submitted",
                entity: "application",
                entity_id: &s.application_id,
                before: status_json(current),
                after: Some(
                    serde_json::json!({"status": "prereview", "round": round, "materials": materials.len()})
                        .to_string(),
                ),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(receipt)
    }

    /// Runs a query that answers one JSON document (or no row) and decodes it. A document that
    /// does not decode holds values no code path wrote: corruption, as for a row.
    async fn json_document<T: serde::de::DeserializeOwned>(&self, sql: &str, key: &str) -> StoreResult<Option<T>> {
        let text: Option<String> = sqlx::query_scalar(sql).bind(key).fetch_optional(&self.read).await?;
        text.map(|t| {
            serde_json::from_str(&t).map_err(|e| {
                let what = format!("document of {key}: {e}");
                tracing::error!(problem = %what, "corrupt row in the database");
                StoreError::Corrupt(what)
            })
        })
        .transpose()
    }

    /// One row by a single key, from the readers.
    async fn optional<T>(&self, sql: &str, key: &str) -> StoreResult<Option<T>>
    where
        T: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow> + Send + Unpin,
    {
        Ok(sqlx::query_as(sql).bind(key).fetch_optional(&self.read).await?)
    }

    /// All rows by a single key, from the readers.
    async fn all<T>(&self, sql: &str, key: &str) -> StoreResult<Vec<T>>
    where
        T: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow> + Send + Unpin,
    {
        Ok(sqlx::query_as(sql).bind(key).fetch_all(&self.read).await?)
    }

    /// Completes a job this worker still holds; false if its lease has passed to another worker.
    async fn complete_held_job<'e, E>(exec: E, job_id: &str, worker: &str, now: i64) -> StoreResult<bool>
    where
        E: sqlx::Executor<'e, Database = Any>,
    {
        let n = sqlx::query(
            "UPDATE jobs SET state = 'done', lease_until = NULL, updated_at = $1 WHERE id = $2 AND locked_by = $3 AND state = 'running'",
        )
        .bind(now)
        .bind(job_id)
        .bind(worker)
        .execute(exec)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// Moves an application from `from` to `to` after submission, checked by the state
    /// machine: the one place those status changes are written. The update only applies while
    /// the stored status is still `from`; if it is not, the caller's decision was made on a
    /// stale read and nothing is written.
    async fn move_application(
        tx: &mut Transaction<'static, Any>,
        application_id: &str,
        from: ApplicationStatus,
        to: ApplicationStatus,
        now: i64,
    ) -> StoreResult<()> {
        from.transition(to).map_err(|_| StoreError::WrongStatus { current: from })?;
        let moved = sqlx::query("UPDATE applications SET status = $1, updated_at = $2 WHERE id = $3 AND status = $4")
            .bind(to.id())
            .bind(now)
            .bind(application_id)
            .bind(from.id())
            .execute(&mut **tx)
            .await?
            .rows_affected();
        if moved != 1 {
            return Err(StoreError::WrongStatus { current: from });
        }
        Self::enqueue_event(tx, "application.status_changed", "application", application_id, from.id(), to.id(), now)
            .await
    }

    /// The outbox: the announcement of a change, committed with the change itself.
    pub(crate) async fn enqueue_event(
        tx: &mut Transaction<'static, Any>,
        event: &str,
        subject: &str,
        subject_id: &str,
        from: &str,
        to: &str,
        now: i64,
    ) -> StoreResult<()> {
        let event = EventPayload {
            id: uuid::Uuid::now_v7().to_string(),
            event: event.into(),
            subject: subject.into(),
            subject_id: subject_id.into(),
            from: from.into(),
            to: to.into(),
            at: now,
            department: None,
        };
        Self::enqueue_event_payload(tx, &event, now).await
    }

    /// Queues a prepared event (one that carries more than the status change) in `tx`.
    async fn enqueue_event_payload(
        tx: &mut Transaction<'static, Any>,
        event: &EventPayload,
        now: i64,
    ) -> StoreResult<()> {
        let payload = serde_json::to_string(&event).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        insert_job(&mut **tx, &format!("event-{}", event.id), JOB_KIND_EVENT, &payload, 5, now).await
    }

    async fn permit_in(tx: &mut Transaction<'static, Any>, number: &str) -> StoreResult<PermitRecord> {
        sqlx::query_as(&format!("SELECT {PERMIT_COLUMNS} FROM permits WHERE number = $1"))
            .bind(number)
            .fetch_optional(&mut **tx)
            .await?
            .ok_or(StoreError::NotFound)
    }

    /// Queues the sealing of an application that has just become `approved` (same transaction).
    async fn enqueue_seal(tx: &mut Transaction<'static, Any>, application_id: &str, now: i64) -> StoreResult<()> {
        let payload = serde_json::to_string(&SealJob { application_id: application_id.to_string() })
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        insert_job(&mut **tx, &format!("seal-{application_id}"), JOB_KIND_SEAL, &payload, 5, now).await
    }

    /// Adds a firm-record entry and applies its grade change inside `tx`, audited: shared by
    /// the record endpoint and the after-care steps that cause entries.
    async fn write_firm_record(
        &self,
        tx: &mut Transaction<'static, Any>,
        e: &FirmRecordEntry,
        change: Option<&GradeChange>,
        actor: &str,
    ) -> StoreResult<()> {
        sqlx::query("INSERT INTO firm_records (id, firm_id, kind, occurred_at, note, recorded_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)")
            .bind(&e.id)
            .bind(&e.firm_id)
            .bind(&e.kind)
            .bind(e.occurred_at)
            .bind(&e.note)
            .bind(&e.recorded_by)
            .bind(e.created_at)
            .execute(&mut **tx)
            .await?;
        let after = serde_json::to_string(e).map_err(|err| StoreError::Corrupt(err.to_string()))?;
        self.append_audit(
            tx,
            AuditEvent {
                at: e.created_at,
                actor,
                action: "firm.record_added",
                entity: "firm",
                entity_id: &e.firm_id,
                before: None,
                after: Some(after),
            },
        )
        .await?;
        if let Some(c) = change {
            sqlx::query("UPDATE firms SET grade = $1 WHERE id = $2")
                .bind(&c.to_grade)
                .bind(&c.firm_id)
                .execute(&mut **tx)
                .await?;
            sqlx::query("INSERT INTO grade_changes (id, firm_id, from_grade, to_grade, points, cause, at) VALUES ($1, $2, $3, $4, $5, $6, $7)")
                .bind(&c.id)
                .bind(&c.firm_id)
                .bind(&c.from_grade)
                .bind(&c.to_grade)
                .bind(c.points)
                .bind(&c.cause)
                .bind(c.at)
                .execute(&mut **tx)
                .await?;
            self.append_audit(
                tx,
                AuditEvent {
                    at: c.at,
                    actor,
                    action: "firm.grade_changed",
                    entity: "firm",
                    entity_id: &c.firm_id,
                    before: Some(serde_json::json!({"grade": c.from_grade}).to_string()),
                    after: Some(
                        serde_json::json!({"grade": c.to_grade, "points": c.points, "cause": c.cause}).to_string(),
                    ),
                },
            )
            .await?;
        }
        Ok(())
    }

    /// A test hook: rewrites one audit entry behind the chain's back, as an attacker with
    /// database access could. Only `audit verify` should notice.
    #[cfg(feature = "testing")]
    pub async fn tamper_audit_entry(&self, seq: i64, new_action: &str) -> StoreResult<()> {
        sqlx::query("UPDATE audit_log SET action = $1 WHERE seq = $2")
            .bind(new_action)
            .bind(seq)
            .execute(&self.write)
            .await?;
        Ok(())
    }

    /// A test hook: applies the migrations up to `version` only, leaving the database as a
    /// release of that schema left it; `migrate` later applies the rest as an upgrade does.
    #[cfg(feature = "testing")]
    pub async fn migrate_up_to(&self, version: i64) -> StoreResult<()> {
        use sqlx::migrate::{Migration, MigrationSource, Migrator};
        #[derive(Debug)]
        struct Earlier(Vec<Migration>);
        impl MigrationSource<'static> for Earlier {
            fn resolve(
                self,
            ) -> std::pin::Pin<
                Box<
                    dyn std::future::Future<Output = Result<Vec<Migration>, sqlx::error::BoxDynError>> + Send + 'static,
                >,
            > {
                Box::pin(async move { Ok(self.0) })
            }
        }
        let all = match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        let earlier = Earlier(all.iter().filter(|m| m.version <= version).cloned().collect());
        Migrator::new(earlier).await?.run(&self.write).await?;
        Ok(())
    }

    /// A test hook: appends an audit entry as the code before per-entity chains (migration 0006)
    /// did: the next `seq`, linked to the last entry of the whole log, no chain position. Run on
    /// a database migrated only up to 0005, it makes the log that 0006 finds as the legacy chain.
    #[cfg(feature = "testing")]
    pub async fn append_legacy_audit(&self, ev: &AuditEvent<'_>) -> StoreResult<AuditEntry> {
        let mut tx = self.begin_write().await?;
        let last: Option<(i64, String)> = sqlx::query_as("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
            .fetch_optional(&mut *tx)
            .await?;
        let (prev_seq, prev_hash) = last.unwrap_or((0, GENESIS_HASH.to_string()));
        let mut entry = AuditEntry {
            seq: prev_seq + 1,
            at: ev.at,
            actor: ev.actor.into(),
            action: ev.action.into(),
            entity: ev.entity.into(),
            entity_id: ev.entity_id.into(),
            before_state: ev.before.clone(),
            after_state: ev.after.clone(),
            prev_hash,
            hash: String::new(),
            chain_pos: None,
        };
        // Without a chain position this is the legacy hash, as those entries were hashed.
        entry.hash = entry.recompute_hash();
        sqlx::query(
            "INSERT INTO audit_log (seq, at, actor, action, entity, entity_id, before_state, after_state, prev_hash, hash) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(entry.seq)
        .bind(entry.at)
        .bind(&entry.actor)
        .bind(&entry.action)
        .bind(&entry.entity)
        .bind(&entry.entity_id)
        .bind(&entry.before_state)
        .bind(&entry.after_state)
        .bind(&entry.prev_hash)
        .bind(&entry.hash)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(entry)
    }

    /// A test hook: deletes the entries of the legacy chain from `from_seq` on, as an attacker
    /// with database access could cut off its tail.
    #[cfg(feature = "testing")]
    pub async fn delete_legacy_audit_entries(&self, from_seq: i64) -> StoreResult<()> {
        sqlx::query("DELETE FROM audit_log WHERE chain_pos IS NULL AND seq >= $1")
            .bind(from_seq)
            .execute(&self.write)
            .await?;
        Ok(())
    }

    /// A test hook: deletes audit entries behind the chain's back (one entry, or a whole chain
    /// with its head), as an attacker with database access could.
    #[cfg(feature = "testing")]
    pub async fn delete_audit_entries(
        &self,
        entity: &str,
        entity_id: &str,
        from_pos: i64,
        with_head: bool,
    ) -> StoreResult<()> {
        sqlx::query("DELETE FROM audit_log WHERE entity = $1 AND entity_id = $2 AND chain_pos >= $3")
            .bind(entity)
            .bind(entity_id)
            .bind(from_pos)
            .execute(&self.write)
            .await?;
        if with_head {
            sqlx::query("DELETE FROM audit_heads WHERE entity = $1 AND entity_id = $2")
                .bind(entity)
                .bind(entity_id)
                .execute(&self.write)
                .await?;
        }
        Ok(())
    }

    /// Overwrites one text column of one row behind the store's back, as a hand edit or a bad
    /// migration could (tests only; identifiers come from test code, never from input).
    #[cfg(feature = "testing")]
    pub async fn overwrite_column(&self, table: &str, column: &str, key: (&str, &str), value: &str) -> StoreResult<()> {
        sqlx::query(&format!("UPDATE {table} SET {column} = $1 WHERE {} = $2", key.0))
            .bind(value)
            .bind(key.1)
            .execute(&self.write)
            .await?;
        Ok(())
    }

    /// Moves a job's lease into the past, as if its worker had died long ago (tests only).
    #[cfg(feature = "testing")]
    pub async fn expire_job_lease(&self, job_id: &str) -> StoreResult<()> {
        sqlx::query("UPDATE jobs SET lease_until = 0 WHERE id = $1").bind(job_id).execute(&self.write).await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.read.close().await;
        self.write.close().await;
    }
}

/// Hides a password in a database URL before it is shown anywhere.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            match userinfo.find(':') {
                Some(colon) => format!("{}{}:***{}", &url[..scheme_end + 3], &userinfo[..colon], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

#[async_trait]
impl Store for SqlStore {
    fn backend(&self) -> Backend {
        self.backend
    }

    async fn migrate(&self) -> StoreResult<()> {
        match self.backend {
            Backend::Sqlite => SQLITE_MIGRATIONS.run(&self.write).await?,
            Backend::Postgres => POSTGRES_MIGRATIONS.run(&self.write).await?,
        }
        Ok(())
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.read).await?;
        Ok(())
    }

    async fn create_firm(&self, firm: &FirmRecord, actor: &str) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        let inserted =
            sqlx::query(&format!("INSERT INTO firms ({FIRM_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"))
                .bind(&firm.id)
                .bind(&firm.credit_code)
                .bind(&firm.name)
                .bind(&firm.password_hash)
                .bind(&firm.contact_name)
                .bind(&firm.contact_phone)
                .bind(&firm.grade)
                .bind(firm.created_at)
                .bind(&firm.contact_email)
                .execute(&mut *tx)
                .await;
        match inserted {
            Err(e) if is_unique_violation(&e) => return Err(StoreError::AlreadyExists("credit_code")),
            other => other?,
        };
        let after = serde_json::json!({"credit_code": firm.credit_code, "name": firm.name, "grade": firm.grade});
        self.append_audit(
            &mut tx,
            AuditEvent {
                at: firm.created_at,
                actor,
                action: "firm.registered",
                entity: "firm",
                entity_id: &firm.id,
                before: None,
                after: Some(after.to_string()),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn firm_by_id(&self, id: &str) -> StoreResult<Option<FirmRecord>> {
        self.optional(&format!("SELECT {FIRM_COLUMNS} FROM firms WHERE id = $1"), id).await
    }

    async fn firm_by_credit_code(&self, credit_code: &str) -> StoreResult<Option<FirmRecord>> {
        self.optional(&format!("SELECT {FIRM_COLUMNS} FROM firms WHERE credit_code = $1"), credit_code).await
    }

    async fn create_staff(&self, staff: &StaffRecord, actor: &str) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        let inserted =
            sqlx::query(&format!("INSERT INTO staff ({STAFF_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"))
                .bind(&staff.id)
                .bind(&staff.username)
                .bind(&staff.password_hash)
                .bind(staff.role.id())
                .bind(staff.department.map(|d| d.id()))
                .bind(staff.district.map(|d| d.id()))
                .bind(staff.created_at)
                .bind(staff.disabled_at)
                .execute(&mut *tx)
                .await;
        match inserted {
            Err(e) if is_unique_violation(&e) => return Err(StoreError::AlreadyExists("username")),
            other => other?,
        };
        let after = serde_json::json!({"username": staff.username, "role": staff.role,
            "department": staff.department, "district": staff.district});
        self.append_audit(
            &mut tx,
            AuditEvent {
                at: staff.created_at,
                actor,
                action: "staff.created",
                entity: "staff",
                entity_id: &staff.id,
                before: None,
                after: Some(after.to_string()),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn staff_by_id(&self, id: &str) -> StoreResult<Option<StaffRecord>> {
        self.optional(&format!("SELECT {STAFF_COLUMNS} FROM staff WHERE id = $1"), id).await
    }

    async fn staff_by_username(&self, username: &str) -> StoreResult<Option<StaffRecord>> {
        self.optional(&format!("SELECT {STAFF_COLUMNS} FROM staff WHERE username = $1"), username).await
    }

    async fn list_staff(&self) -> StoreResult<Vec<StaffRecord>> {
        Ok(sqlx::query_as(&format!("SELECT {STAFF_COLUMNS} FROM staff ORDER BY username"))
            .fetch_all(&self.read)
            .await?)
    }

    async fn disable_staff(&self, staff_id: &str, actor: &str, now: i64) -> StoreResult<u64> {
        let mut tx = self.begin_write().await?;
        let before: Option<(Option<i64>,)> = sqlx::query_as("SELECT disabled_at FROM staff WHERE id = $1")
            .bind(staff_id)
            .fetch_optional(&mut *tx)
            .await?;
        let (before,) = before.ok_or(StoreError::NotFound)?;
        // Disabling twice keeps the first time: that is when the account stopped working.
        sqlx::query("UPDATE staff SET disabled_at = COALESCE(disabled_at, $1) WHERE id = $2")
            .bind(now)
            .bind(staff_id)
            .execute(&mut *tx)
            .await?;
        let ended = end_sessions(&mut tx, "staff", staff_id, None).await?;
        let after = serde_json::json!({"disabled_at": before.unwrap_or(now), "sessions_ended": ended});
        self.append_audit(
            &mut tx,
            AuditEvent {
                at: now,
                actor,
                action: "staff.disabled",
                entity: "staff",
                entity_id: staff_id,
                before: Some(serde_json::json!({"disabled_at": before}).to_string()),
                after: Some(after.to_string()),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(ended)
    }

    async fn enable_staff(&self, staff_id: &str, actor: &str, now: i64) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        let before: Option<(Option<i64>,)> = sqlx::query_as("SELECT disabled_at FROM staff WHERE id = $1")
            .bind(staff_id)
            .fetch_optional(&mut *tx)
            .await?;
        let (before,) = before.ok_or(StoreError::NotFound)?;
        sqlx::query("UPDATE staff SET disabled_at = NULL WHERE id = $1").bind(staff_id).execute(&mut *tx).await?;
        self.append_audit(
            &mut tx,
            AuditEvent {
                at: now,
                actor,
                action: "staff.enabled",
                entity: "staff",
                entity_id: staff_id,
                before: Some(serde_json::json!({"disabled_at": before}).to_string()),
                after: Some(serde_json::json!({"disabled_at": null}).to_string()),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn create_session(&self, s: &SessionRecord) -> StoreResult<()> {
        sqlx::query("INSERT INTO sessions (token_hash, principal_kind, principal_id, expires_at, created_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(&s.token_hash)
            .bind(&s.principal_kind)
            .bind(&s.principal_id)
            .bind(s.expires_at)
            .bind(s.created_at)
            .execute(&self.write)
            .await?;
        Ok(())
    }

    async fn session(&self, token_hash: &str) -> StoreResult<Option<SignedIn>> {
        // One round trip for what every authenticated request needs first.
        self.json_document(&self.documents.session, token_hash).await
    }

    async fn delete_expired_sessions(&self, now: i64) -> StoreResult<u64> {
        Ok(sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
            .bind(now)
            .execute(&self.write)
            .await?
            .rows_affected())
    }

    async fn delete_session(&self, token_hash: &str) -> StoreResult<bool> {
        Ok(sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&self.write)
            .await?
            .rows_affected()
            > 0)
    }

    async fn revoke_sessions(
        &self,
        principal_kind: &str,
        principal_id: &str,
        keep: Option<&str>,
        actor: &str,
        now: i64,
    ) -> StoreResult<u64> {
        let mut tx = self.begin_write().await?;
        let ended = end_sessions(&mut tx, principal_kind, principal_id, keep).await?;
        let after = serde_json::json!({"sessions_ended": ended});
        self.append_audit(
            &mut tx,
            AuditEvent {
                at: now,
                actor,
                action: "sessions.revoked",
                entity: principal_kind,
                entity_id: principal_id,
                before: None,
                after: Some(after.to_string()),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(ended)
    }

    async fn change_password(
        &self,
        principal_kind: &str,
        principal_id: &str,
        password_hash: &str,
        keep_session: Option<&str>,
        actor: &str,
        now: i64,
    ) -> StoreResult<()> {
        let table = match principal_kind {
            "firm" => "firms",
            "staff" => "staff",
            other => return Err(StoreError::Corrupt(format!("unknown principal kind {other}"))),
        };
        let mut tx = self.begin_write().await?;
        let updated = sqlx::query(&format!("UPDATE {table} SET password_hash = $1 WHERE id = $2"))
            .bind(password_hash)
            .bind(principal_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if updated == 0 {
            return Err(StoreError::NotFound);
        }
        let ended = end_sessions(&mut tx, principal_kind, principal_id, keep_session).await?;
        let after = serde_json::json!({"sessions_ended": ended});
        self.append_audit(
            &mut tx,
            AuditEvent {
                at: now,
                actor,
                action: "password.changed",
                entity: principal_kind,
                entity_id: principal_id,
                before: None,
                after: Some(after.to_string()),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn record_security_event(
        &self,
        action: &str,
        entity: &str,
        entity_id: &str,
        detail: &serde_json::Value,
        actor: &str,
        now: i64,
    ) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        self.append_audit(
            &mut tx,
            AuditEvent { at: now, actor, action, entity, entity_id, before: None, after: Some(detail.to_string()) },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn create_application(&self, app: &ApplicationRecord, actor: &str) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(&format!(
            "INSERT INTO applications ({APPLICATION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        ))
        .bind(&app.id)
        .bind(&app.firm_id)
        .bind(&app.district)
        .bind(app.status.id())
        .bind(&app.form)
        .bind(&app.construction_permit_no)
        .bind(&app.start_date)
        .bind(&app.end_date)
        .bind(app.round)
        .bind(app.created_at)
        .bind(app.updated_at)
        .execute(&mut *tx)
        .await?;
        let after = serde_json::json!({"status": app.status, "district": app.district, "form": app.form});
        self.append_audit(
            &mut tx,
            AuditEvent {
                at: app.created_at,
                actor,
                action: "application.created",
                entity: "application",
                entity_id: &app.id,
                before: None,
                after: Some(after.to_string()),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn application(&self, id: &str) -> StoreResult<Option<ApplicationRecord>> {
        self.optional(&format!("SELECT {APPLICATION_COLUMNS} FROM applications WHERE id = $1"), id).await
    }

    async fn case_file(&self, id: &str) -> StoreResult<Option<CaseFile>> {
        self.json_document(&self.documents.case_file, id).await
    }

    async fn list_applications(
        &self,
        scope: &ApplicationScope,
        limit: i64,
        offset: i64,
    ) -> StoreResult<(Vec<ApplicationRecord>, i64)> {
        let (filter, value) = match scope {
            ApplicationScope::Firm(id) => ("WHERE firm_id = $1", Some(id.as_str())),
            ApplicationScope::District(d) => ("WHERE district = $1", Some(d.as_str())),
            ApplicationScope::All => ("", None),
        };
        let n = if value.is_some() { 2 } else { 1 };
        let page_sql = format!(
            "SELECT {APPLICATION_COLUMNS} FROM applications {filter} ORDER BY created_at DESC, id DESC LIMIT ${n} OFFSET ${}",
            n + 1
        );
        let count_sql = format!("SELECT COUNT(*) FROM applications {filter}");
        let mut page = sqlx::query_as::<_, ApplicationRecord>(&page_sql);
        let mut count = sqlx::query_as::<_, (i64,)>(&count_sql);
        if let Some(v) = value {
            page = page.bind(v);
            count = count.bind(v);
        }
        let rows = page.bind(limit).bind(offset).fetch_all(&self.read).await?;
        let (total,) = count.fetch_one(&self.read).await?;
        Ok((rows, total))
    }

    async fn update_application_form(&self, u: &FormUpdate, actor: &str) -> StoreResult<ApplicationRecord> {
        let mut tx = self.begin_write().await?;
        let before = self.editable_application(&mut tx, &u.application_id).await?;
        sqlx::query("UPDATE applications SET district = $1, form = $2, construction_permit_no = $3, start_date = $4, end_date = $5, updated_at = $6 WHERE id = $7")
            .bind(&u.district)
            .bind(&u.form)
            .bind(&u.construction_permit_no)
            .bind(&u.start_date)
            .bind(&u.end_date)
            .bind(u.now)
            .bind(&u.application_id)
            .execute(&mut *tx)
            .await?;
        let after = self.lock_application(&mut tx, &u.application_id).await?;
        self.append_audit(
            &mut tx,
            AuditEvent {
                at: u.now,
                actor,
                action: "application.edited",
                entity: "application",
                entity_id: &u.application_id,
                before: Some(serde_json::json!({"district": before.district, "form": before.form}).to_string()),
                after: Some(serde_json::json!({"district": after.district, "form": after.form}).to_string()),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(after)
    }

    async fn add_material(&self, m: &MaterialRecord, actor: &str) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        self.editable_application(&mut tx, &m.application_id).await?;
        sqlx::query(&format!("INSERT INTO materials ({MATERIAL_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"))
            .bind(&m.id)
            .bind(&m.application_id)
            .bind(m.kind.id())
            .bind(&m.filename)
            .bind(&m.content_type)
            .bind(&m.sha256)
            .bind(m.size)
            .bind(m.created_at)
            .execute(&mut *tx)
            .await?;
        let after = serde_json::to_string(m).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.append_audit(
            &mut tx,
            AuditEvent {
                at: m.created_at,
                actor,
                action: "material.added",
                entity: "application",
                entity_id: &m.application_id,
                before: None,
                after: Some(after),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn materials(&self, application_id: &str) -> StoreResult<Vec<MaterialRecord>> {
        Ok(sqlx::query_as(&format!(
            "SELECT {MATERIAL_COLUMNS} FROM materials WHERE application_id = $1 ORDER BY created_at, id"
        ))
        .bind(application_id)
        .fetch_all(&self.read)
        .await?)
    }

    async fn delete_material(&self, application_id: &str, material_id: &str, actor: &str, now: i64) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        self.editable_application(&mut tx, application_id).await?;
        let removed: Option<MaterialRecord> =
            sqlx::query_as(&format!("SELECT {MATERIAL_COLUMNS} FROM materials WHERE id = $1 AND application_id = $2"))
                .bind(material_id)
                .bind(application_id)
                .fetch_optional(&mut *tx)
                .await?;
        let removed = removed.ok_or(StoreError::NotFound)?;
        sqlx::query("DELETE FROM materials WHERE id = $1").bind(material_id).execute(&mut *tx).await?;
        let before = serde_json::to_string(&removed).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.append_audit(
            &mut tx,
            AuditEvent {
                at: now,
                actor,
                action: "material.removed",
                entity: "application",
                entity_id: application_id,
                before: Some(before),
                after: None,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn submit_application(&self, s: &SubmitRequest, actor: &str) -> StoreResult<SubmitReceipt> {
        match self.submit_once(s, actor).await {
            // A concurrent submit with the same key may have won between our read of the key and
            // our write (Postgres runs them in parallel): its committed answer is ours too.
            Err(e @ (StoreError::WrongStatus { .. } | StoreError::Database(_))) if s.idempotency_key.is_some() => {
                let mut conn = self.write.acquire().await?;
                match Self::earlier_receipt(&mut conn, s).await? {
                    Some(receipt) => Ok(receipt),
                    None => Err(e),
                }
            }
            other => other,
        }
    }
    async fn dispute_prereview(
        &self,
        application_id: &str,
        round: i64,
        tracks: &[TrackRecord],
        dispute: &serde_json::Value,
        actor: &str,
        now: i64,
    ) -> StoreResult<ApplicationRecord> {
        let mut tx = self.begin_write().await?;
        let app = self.lock_application(&mut tx, application_id).await?;
        let current = app.status;
        if current != ApplicationStatus::NeedsCorrection || app.round != round {
            return Err(StoreError::WrongStatus { current });
        }
        insert_tracks(&mut tx, tracks).await?;
        Self::move_application(&mut tx, application_id, current, ApplicationStatus::UnderReview, now).await?;
        self.append_audit(
            &mut tx,
            AuditEvent {
                at: now,
                actor,
                action: "prereview.disputed",
                entity: "application",
                entity_id: application_id,
                before: status_json(current),
                after: Some(serde_json::json!({"status": ApplicationStatus::UnderReview.id(), "round": round, "dispute": dispute}).to_string()),
            },
        )
        .await?;
        let updated = self.lock_application(&mut tx, application_id).await?;
        tx.commit().await?;
        Ok(updated)
    }

    async fn withdraw_application(
        &self,
        application_id: &str,
        actor: &str,
        now: i64,
    ) -> StoreResult<ApplicationRecord> {
        let mut tx = self.begin_write().await?;
        // Locked, so a department's decision either committed before (and is seen below) or
        // waits and then finds the case withdrawn.
        let app = self.lock_application(&mut tx, application_id).await?;
        let current = app.status;
        let allowed = match current {
            ApplicationStatus::Draft | ApplicationStatus::Prereview | ApplicationStatus::NeedsCorrection => true,
            ApplicationStatus::UnderReview => {
                let (decided,): (i64,) = sqlx::query_as(
                    "SELECT COUNT(*) FROM review_tracks WHERE application_id = $1 AND round = $2 AND status <> $3",
                )
                .bind(application_id)
                .bind(app.round)
                .bind(TrackStatus::Pending.id())
                .fetch_one(&mut *tx)
                .await?;
                decided == 0
            }
            _ => false,
        };
        if !allowed {
            return Err(StoreError::WrongStatus { current });
        }
        Self::move_application(&mut tx, application_id, current, ApplicationStatus::Withdrawn, now).await?;
        self.append_audit(
            &mut tx,
            AuditEvent {
                at: now,
                actor,
                action: "application.withdrawn",
                entity: "application",
                entity_id: application_id,
                before: status_json(current),
                after: status_json(ApplicationStatus::Withdrawn),
            },
        )
        .await?;
        let withdrawn = self.lock_application(&mut tx, application_id).await?;
        tx.commit().await?;
        Ok(withdrawn)
    }

    async fn prereview_rounds(&self, application_id: &str) -> StoreResult<Vec<PrereviewRoundRecord>> {
        Ok(sqlx::query_as(&format!(
            "SELECT {ROUND_COLUMNS} FROM prereview_rounds WHERE application_id = $1 ORDER BY round"
        ))
        .bind(application_id)
        .fetch_all(&self.read)
        .await?)
    }

    async fn claim_job(&self, kinds: &[&str], worker: &str, now: i64, lease_ms: i64) -> StoreResult<Option<JobRecord>> {
        if kinds.is_empty() {
            return Ok(None);
        }
        let kind_params: Vec<String> = (0..kinds.len()).map(|i| format!("${}", i + 4)).collect();
        // Postgres: SKIP LOCKED lets many workers claim different jobs without waiting on each
        // other. SQLite has one writer at a time, so the plain subquery is already exclusive.
        let lock = if self.backend == Backend::Postgres { "FOR UPDATE SKIP LOCKED" } else { "" };
        let sql = format!(
            "UPDATE jobs SET state = 'running', attempts = attempts + 1, lease_until = $1, locked_by = $2, updated_at = $3 \
             WHERE id = (SELECT id FROM jobs WHERE ((state = 'queued' AND run_after <= $3) OR (state = 'running' AND lease_until < $3)) \
             AND kind IN ({}) ORDER BY run_after, created_at, id LIMIT 1 {lock}) RETURNING {JOB_COLUMNS}",
            kind_params.join(", ")
        );
        let mut q = sqlx::query_as::<_, JobRecord>(&sql).bind(now + lease_ms).bind(worker).bind(now);
        for k in kinds {
            q = q.bind(*k);
        }
        let mut tx = self.write.begin().await?;
        let job = q.fetch_optional(&mut *tx).await?;
        tx.commit().await?;
        Ok(job)
    }

    async fn complete_job(&self, job_id: &str, worker: &str, now: i64) -> StoreResult<bool> {
        Self::complete_held_job(&self.write, job_id, worker, now).await
    }

    async fn fail_job(&self, job_id: &str, worker: &str, error: &str, now: i64, retry_at: i64) -> StoreResult<bool> {
        let n = sqlx::query(
            "UPDATE jobs SET state = CASE WHEN attempts >= max_attempts THEN 'dead' ELSE 'queued' END, \
             run_after = $1, lease_until = NULL, last_error = $2, updated_at = $3 \
             WHERE id = $4 AND locked_by = $5 AND state = 'running'",
        )
        .bind(retry_at)
        .bind(error)
        .bind(now)
        .bind(job_id)
        .bind(worker)
        .execute(&self.write)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    async fn release_job(&self, job_id: &str, worker: &str, now: i64) -> StoreResult<bool> {
        let n = sqlx::query(
            "UPDATE jobs SET state = 'queued', attempts = attempts - 1, run_after = $1, lease_until = NULL, locked_by = NULL, updated_at = $1 \
             WHERE id = $2 AND locked_by = $3 AND state = 'running'",
        )
        .bind(now)
        .bind(job_id)
        .bind(worker)
        .execute(&self.write)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    async fn job(&self, job_id: &str) -> StoreResult<Option<JobRecord>> {
        self.optional(&format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1"), job_id).await
    }

    async fn jobs_for_application(&self, application_id: &str) -> StoreResult<Vec<JobRecord>> {
        // The payload is JSON we wrote ourselves with application_id first; the closing quote
        // keeps "a1" from matching "a10". (A sealing job's payload has no further key, so the
        // pattern must not demand a comma.)
        let pattern = format!("{{\"application_id\":\"{application_id}\"%");
        self.all(&format!("SELECT {JOB_COLUMNS} FROM jobs WHERE payload LIKE $1 ORDER BY created_at, id"), &pattern)
            .await
    }

    async fn start_prereview(&self, application_id: &str, round: i64, now: i64) -> StoreResult<()> {
        sqlx::query("UPDATE prereview_rounds SET state = 'running', started_at = COALESCE(started_at, $1) WHERE application_id = $2 AND round = $3 AND state <> 'done'")
            .bind(now)
            .bind(application_id)
            .bind(round)
            .execute(&self.write)
            .await?;
        Ok(())
    }

    async fn prereview_progress(&self, application_id: &str, round: i64, done: i64) -> StoreResult<()> {
        sqlx::query("UPDATE prereview_rounds SET materials_done = $1 WHERE application_id = $2 AND round = $3 AND state <> 'done'")
            .bind(done)
            .bind(application_id)
            .bind(round)
            .execute(&self.write)
            .await?;
        Ok(())
    }

    async fn finish_prereview(&self, f: &PrereviewFinish, actor: &str) -> StoreResult<bool> {
        let mut tx = self.begin_write().await?;
        // The job must still be ours: a worker whose lease ran out must not overwrite the retry.
        if !Self::complete_held_job(&mut *tx, &f.job_id, &f.worker, f.now).await? {
            return Ok(false);
        }
        let app = self.lock_application(&mut tx, &f.application_id).await?;
        let current = app.status;
        if current != ApplicationStatus::Prereview || app.round != f.round {
            // A stale job (the firm withdrew, or a newer round exists): finish it, change nothing.
            tx.commit().await?;
            return Ok(true);
        }
        sqlx::query("UPDATE prereview_rounds SET state = 'done', finished_at = $1, outcome = $2, findings = $3, materials_done = materials_total WHERE application_id = $4 AND round = $5")
            .bind(f.now)
            .bind(&f.outcome)
            .bind(&f.findings)
            .bind(&f.application_id)
            .bind(f.round)
            .execute(&mut *tx)
            .await?;
        if let Some(d) = &f.decision {
            sqlx::query("INSERT INTO decisions (application_id, round, outcome, ruleset_id, ruleset_version, ruleset_sha256, reasons, trace, facts, decided_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)")
                .bind(&d.application_id)
                .bind(d.round)
                .bind(d.outcome.id())
                .bind(&d.ruleset_id)
                .bind(&d.ruleset_version)
                .bind(&d.ruleset_sha256)
                .bind(&d.reasons)
                .bind(&d.trace)
                .bind(&d.facts)
                .bind(d.decided_at)
                .execute(&mut *tx)
                .await?;
        }
        insert_tracks(&mut tx, &f.tracks).await?;
        Self::move_application(&mut tx, &f.application_id, current, f.new_status, f.now).await?;
        if f.new_status == ApplicationStatus::Approved {
            Self::enqueue_seal(&mut tx, &f.application_id, f.now).await?;
        }
        self.append_audit(
            &mut tx,
            AuditEvent {
                at: f.now,
                actor,
                action: "prereview.finished",
                entity: "application",
                entity_id: &f.application_id,
                before: status_json(current),
                after: Some(
                    serde_json::json!({"status": f.new_status.id(), "round": f.round, "outcome": f.outcome,
                "findings": serde_json::from_str::<serde_json::Value>(&f.findings).unwrap_or_default()})
                    .to_string(),
                ),
            },
        )
        .await?;
        if let Some(d) = &f.decision {
            self.append_audit(&mut tx, AuditEvent {
                at: f.now, actor, action: "rules.decided", entity: "application", entity_id: &f.application_id,
                before: None,
                after: Some(serde_json::json!({"outcome": d.outcome, "ruleset": d.ruleset_id, "version": d.ruleset_version,
                    "sha256": d.ruleset_sha256, "trace": serde_json::from_str::<serde_json::Value>(&d.trace).unwrap_or_default()}).to_string()),
            })
            .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn decisions(&self, application_id: &str) -> StoreResult<Vec<DecisionRecord>> {
        Ok(sqlx::query_as(&format!(
            "SELECT {DECISION_COLUMNS} FROM decisions WHERE application_id = $1 ORDER BY round"
        ))
        .bind(application_id)
        .fetch_all(&self.read)
        .await?)
    }

    async fn decisions_since(&self, since: i64) -> StoreResult<Vec<DecisionRecord>> {
        Ok(sqlx::query_as(&format!(
            "SELECT {DECISION_COLUMNS} FROM decisions WHERE decided_at >= $1 ORDER BY decided_at, application_id"
        ))
        .bind(since)
        .fetch_all(&self.read)
        .await?)
    }

    async fn tracks(&self, application_id: &str) -> StoreResult<Vec<TrackRecord>> {
        Ok(sqlx::query_as(&format!(
            "SELECT {TRACK_COLUMNS} FROM review_tracks WHERE application_id = $1 AND round = (SELECT MAX(round) FROM review_tracks WHERE application_id = $1) ORDER BY department"
        ))
        .bind(application_id)
        .fetch_all(&self.read)
        .await?)
    }

    async fn track(&self, track_id: &str) -> StoreResult<Option<TrackRecord>> {
        self.optional(&format!("SELECT {TRACK_COLUMNS} FROM review_tracks WHERE id = $1"), track_id).await
    }

    async fn review_queue(
        &self,
        district: &str,
        department: &str,
        status: Option<&str>,
    ) -> StoreResult<Vec<QueueEntry>> {
        self.review_queue_rows(district, department, status, None).await
    }

    async fn review_queue_page(
        &self,
        district: &str,
        department: &str,
        status: Option<&str>,
        limit: i64,
        offset: i64,
    ) -> StoreResult<Vec<QueueEntry>> {
        self.review_queue_rows(district, department, status, Some((limit, offset))).await
    }

    async fn review_queue_counts(&self, district: &str, department: &str) -> StoreResult<QueueCounts> {
        // Counted as `review_queue` filters: a pending task of a case that has left review, or
        // of a superseded round, is in `all` but not in `pending`.
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT CASE WHEN t.status = 'pending' AND (a.status <> 'under_review' OR t.round <> a.round) \
               THEN 'stale' ELSE t.status END AS state, COUNT(*) \
             FROM review_tracks t JOIN applications a ON a.id = t.application_id \
             WHERE t.district = $1 AND t.department = $2 GROUP BY 1",
        )
        .bind(district)
        .bind(department)
        .fetch_all(&self.read)
        .await?;
        let mut counts = QueueCounts::default();
        for (state, n) in rows {
            counts.all += n;
            match state.as_str() {
                "pending" => counts.pending += n,
                "approved" => counts.approved += n,
                "rejected" => counts.rejected += n,
                "correction_requested" => counts.correction_requested += n,
                _ => {}
            }
        }
        Ok(counts)
    }

    async fn decide_track(&self, d: &TrackDecision, actor: &str) -> StoreResult<(TrackRecord, ApplicationStatus)> {
        let mut tx = self.begin_write().await?;
        let application_id: Option<(String,)> =
            sqlx::query_as("SELECT application_id FROM review_tracks WHERE id = $1")
                .bind(&d.track_id)
                .fetch_optional(&mut *tx)
                .await?;
        let (application_id,) = application_id.ok_or(StoreError::NotFound)?;
        // The case is locked before its tracks are read, so the other department's decision is
        // either fully committed (and seen below) or waits for this one.
        let app = self.lock_application(&mut tx, &application_id).await?;
        let track: TrackRecord = sqlx::query_as(&format!("SELECT {TRACK_COLUMNS} FROM review_tracks WHERE id = $1"))
            .bind(&d.track_id)
            .fetch_one(&mut *tx)
            .await?;
        let current = app.status;
        // A "decision" to leave the task pending decides nothing.
        if track.status != TrackStatus::Pending
            || d.status == TrackStatus::Pending
            || current != ApplicationStatus::UnderReview
            || app.round != track.round
        {
            return Err(StoreError::WrongStatus { current });
        }
        let decided = sqlx::query(
            "UPDATE review_tracks SET status = $1, decided_by = $2, decided_at = $3, comment = $4 WHERE id = $5 AND status = 'pending'",
        )
        .bind(d.status.id())
        .bind(&d.decided_by)
        .bind(d.now)
        .bind(&d.comment)
        .bind(&d.track_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if decided != 1 {
            return Err(StoreError::WrongStatus { current });
        }
        let siblings: Vec<TrackRecord> = sqlx::query_as(&format!(
            "SELECT {TRACK_COLUMNS} FROM review_tracks WHERE application_id = $1 AND round = $2"
        ))
        .bind(&track.application_id)
        .bind(track.round)
        .fetch_all(&mut *tx)
        .await?;
        // One department's decision is news for the firm even when the other has not decided yet.
        let track_event = EventPayload {
            id: uuid::Uuid::now_v7().to_string(),
            event: "application.track_decided".into(),
            subject: "application".into(),
            subject_id: track.application_id.clone(),
            from: TrackStatus::Pending.id().into(),
            to: d.status.id().into(),
            at: d.now,
            department: Some(track.department.id().into()),
        };
        Self::enqueue_event_payload(&mut tx, &track_event, d.now).await?;
        let round_tracks: Vec<TrackStatus> = siblings.iter().map(|t| t.status).collect();
        let next = nightpermit_domain::combined_status(d.status, &round_tracks);
        let new_status = next.unwrap_or(current);
        if let Some(next) = next {
            Self::move_application(&mut tx, &track.application_id, current, next, d.now).await?;
            if next == ApplicationStatus::Approved {
                Self::enqueue_seal(&mut tx, &track.application_id, d.now).await?;
            }
        }
        self.append_audit(&mut tx, AuditEvent {
            at: d.now, actor, action: "review.decided", entity: "application", entity_id: &track.application_id,
            before: Some(serde_json::json!({"status": current.id(), "track": track.department, "track_status": "pending"}).to_string()),
            after: Some(serde_json::json!({"status": new_status.id(), "track": track.department, "track_status": d.status, "comment": d.comment}).to_string()),
        })
        .await?;
        let updated: TrackRecord = sqlx::query_as(&format!("SELECT {TRACK_COLUMNS} FROM review_tracks WHERE id = $1"))
            .bind(&d.track_id)
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok((updated, new_status))
    }

    async fn applications_by_site(&self, construction_permit_no: &str) -> StoreResult<Vec<SiteApplication>> {
        let columns = APPLICATION_COLUMNS.split(", ").map(|c| format!("a.{c}")).collect::<Vec<_>>().join(", ");
        Ok(sqlx::query_as(&format!(
            "SELECT {columns}, p.number AS permit_number FROM applications a \
             LEFT JOIN permits p ON p.application_id = a.id AND p.status <> 'pending' \
             WHERE a.construction_permit_no = $1 ORDER BY a.created_at"
        ))
        .bind(construction_permit_no)
        .fetch_all(&self.read)
        .await?)
    }

    async fn applications_by_firm(&self, firm_id: &str) -> StoreResult<Vec<ApplicationRecord>> {
        Ok(sqlx::query_as(&format!(
            "SELECT {APPLICATION_COLUMNS} FROM applications WHERE firm_id = $1 ORDER BY created_at"
        ))
        .bind(firm_id)
        .fetch_all(&self.read)
        .await?)
    }

    async fn firm_records(&self, firm_id: &str) -> StoreResult<Vec<FirmRecordEntry>> {
        self.all("SELECT id, firm_id, kind, occurred_at, note, recorded_by, created_at FROM firm_records WHERE firm_id = $1 ORDER BY occurred_at, id", firm_id).await
    }

    async fn add_firm_record(&self, e: &FirmRecordEntry, change: Option<&GradeChange>, actor: &str) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        self.write_firm_record(&mut tx, e, change, actor).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn grade_changes(&self, firm_id: &str) -> StoreResult<Vec<GradeChange>> {
        self.all("SELECT id, firm_id, from_grade, to_grade, points, cause, at FROM grade_changes WHERE firm_id = $1 ORDER BY at, id", firm_id).await
    }

    async fn allocate_permit_number(
        &self,
        application_id: &str,
        district: &str,
        year: i64,
        now: i64,
    ) -> StoreResult<PermitRecord> {
        let mut tx = self.begin_write().await?;
        // A retried sealing job racing its predecessor must not allocate a second number.
        self.lock_application(&mut tx, application_id).await?;
        if self.backend == Backend::Postgres {
            sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(PERMIT_NUMBER_ADVISORY_LOCK).execute(&mut *tx).await?;
        }
        let existing: Option<PermitRecord> =
            sqlx::query_as(&format!("SELECT {PERMIT_COLUMNS} FROM permits WHERE application_id = $1"))
                .bind(application_id)
                .fetch_optional(&mut *tx)
                .await?;
        if let Some(p) = existing {
            return Ok(p);
        }
        let (max,): (Option<i64>,) = sqlx::query_as("SELECT MAX(seq) FROM permits WHERE district = $1 AND year = $2")
            .bind(district)
            .bind(year)
            .fetch_one(&mut *tx)
            .await?;
        let seq = max.unwrap_or(0) + 1;
        let number = format!("{district}-{year}-{seq:05}");
        sqlx::query(&format!(
            "INSERT INTO permits ({PERMIT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, 'pending', NULL, NULL, NULL, NULL, $6)"
        ))
        .bind(&number)
        .bind(application_id)
        .bind(district)
        .bind(year)
        .bind(seq)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let p = Self::permit_in(&mut tx, &number).await?;
        tx.commit().await?;
        Ok(p)
    }

    async fn issue_permit(
        &self,
        job_id: &str,
        worker: &str,
        number: &str,
        pdf_sha256: &str,
        now: i64,
    ) -> StoreResult<bool> {
        let mut tx = self.begin_write().await?;
        if !Self::complete_held_job(&mut *tx, job_id, worker, now).await? {
            return Ok(false);
        }
        let permit = Self::permit_in(&mut tx, number).await?;
        let app = self.lock_application(&mut tx, &permit.application_id).await?;
        let current = app.status;
        sqlx::query("UPDATE permits SET status = 'valid', pdf_sha256 = $1, issued_at = $2 WHERE number = $3")
            .bind(pdf_sha256)
            .bind(now)
            .bind(number)
            .execute(&mut *tx)
            .await?;
        Self::move_application(&mut tx, &permit.application_id, current, ApplicationStatus::Issued, now).await?;
        self.append_audit(
            &mut tx,
            AuditEvent {
                at: now,
                actor: "system",
                action: "permit.issued",
                entity: "application",
                entity_id: &permit.application_id,
                before: status_json(current),
                after: Some(
                    serde_json::json!({"status": "issued", "permit": number, "pdf_sha256": pdf_sha256}).to_string(),
                ),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn permit(&self, number: &str) -> StoreResult<Option<PermitRecord>> {
        self.optional(&format!("SELECT {PERMIT_COLUMNS} FROM permits WHERE number = $1"), number).await
    }

    async fn permit_for_application(&self, application_id: &str) -> StoreResult<Option<PermitRecord>> {
        self.optional(&format!("SELECT {PERMIT_COLUMNS} FROM permits WHERE application_id = $1"), application_id).await
    }

    async fn valid_permits_ending_by(&self, date: &str) -> StoreResult<Vec<PermitRecord>> {
        let columns = PERMIT_COLUMNS.split(", ").map(|c| format!("p.{c}")).collect::<Vec<_>>().join(", ");
        // Dates are stored as YYYY-MM-DD text, so text comparison is date comparison.
        Ok(sqlx::query_as(&format!(
            "SELECT {columns} FROM permits p JOIN applications a ON a.id = p.application_id \
             WHERE p.status = 'valid' AND a.end_date <= $1 ORDER BY p.number"
        ))
        .bind(date)
        .fetch_all(&self.read)
        .await?)
    }

    async fn expire_permit(&self, number: &str, now: i64) -> StoreResult<bool> {
        let mut tx = self.begin_write().await?;
        let application_id = Self::permit_in(&mut tx, number).await?.application_id;
        let app = self.lock_application(&mut tx, &application_id).await?;
        // Read again under the lock: a revocation may have committed meanwhile.
        let permit = Self::permit_in(&mut tx, number).await?;
        if permit.status != "valid" || app.status != ApplicationStatus::Issued {
            return Ok(false);
        }
        sqlx::query("UPDATE permits SET status = 'expired' WHERE number = $1").bind(number).execute(&mut *tx).await?;
        Self::move_application(&mut tx, &application_id, app.status, ApplicationStatus::Expired, now).await?;
        self.append_audit(
            &mut tx,
            AuditEvent {
                at: now,
                actor: "system",
                action: "permit.expired",
                entity: "application",
                entity_id: &application_id,
                before: status_json(app.status),
                after: Some(serde_json::json!({"status": "expired", "permit": number}).to_string()),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn revoke_permit(&self, number: &str, reason: &str, actor: &str, now: i64) -> StoreResult<PermitRecord> {
        let mut tx = self.begin_write().await?;
        let application_id = Self::permit_in(&mut tx, number).await?.application_id;
        let app = self.lock_application(&mut tx, &application_id).await?;
        // Read again under the lock: a concurrent revocation may have committed meanwhile.
        let permit = Self::permit_in(&mut tx, number).await?;
        let current = app.status;
        if permit.status != "valid" {
            return Err(StoreError::WrongStatus { current });
        }
        sqlx::query("UPDATE permits SET status = 'revoked', revoked_at = $1, revoke_reason = $2 WHERE number = $3")
            .bind(now)
            .bind(reason)
            .bind(number)
            .execute(&mut *tx)
            .await?;
        Self::move_application(&mut tx, &permit.application_id, current, ApplicationStatus::Revoked, now).await?;
        self.append_audit(
            &mut tx,
            AuditEvent {
                at: now,
                actor,
                action: "permit.revoked",
                entity: "application",
                entity_id: &permit.application_id,
                before: status_json(current),
                after: Some(serde_json::json!({"status": "revoked", "permit": number, "reason": reason}).to_string()),
            },
        )
        .await?;
        let updated = Self::permit_in(&mut tx, number).await?;
        tx.commit().await?;
        Ok(updated)
    }

    async fn enqueue_job(&self, id: &str, kind: &str, payload: &str, max_attempts: i64, now: i64) -> StoreResult<()> {
        match insert_job(&self.write, id, kind, payload, max_attempts, now).await {
            // Queued before (a fan-out retried after a crash): once is enough.
            Err(StoreError::Database(e)) if is_unique_violation(&e) => Ok(()),
            other => other,
        }
    }

    async fn record_delivery(&self, d: &DeliveryRecord) -> StoreResult<()> {
        sqlx::query("INSERT INTO webhook_deliveries (id, event_id, event, target, attempt, http_status, error, delivered, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)")
            .bind(&d.id)
            .bind(&d.event_id)
            .bind(&d.event)
            .bind(&d.target)
            .bind(d.attempt)
            .bind(d.http_status)
            .bind(&d.error)
            .bind(d.delivered)
            .bind(d.at)
            .execute(&self.write)
            .await?;
        Ok(())
    }

    async fn deliveries(&self, event_id: &str) -> StoreResult<Vec<DeliveryRecord>> {
        Ok(sqlx::query_as("SELECT id, event_id, event, target, attempt, http_status, error, delivered, at FROM webhook_deliveries WHERE event_id = $1 ORDER BY at, attempt")
            .bind(event_id)
            .fetch_all(&self.read)
            .await?)
    }

    async fn audit_entries(&self, after_seq: i64, limit: i64) -> StoreResult<Vec<AuditEntry>> {
        Ok(sqlx::query_as(&format!("SELECT {AUDIT_COLUMNS} FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2"))
            .bind(after_seq)
            .bind(limit)
            .fetch_all(&self.read)
            .await?)
    }

    async fn audit_entries_for(&self, entity: &str, entity_id: &str) -> StoreResult<Vec<AuditEntry>> {
        Ok(sqlx::query_as(&format!(
            "SELECT {AUDIT_COLUMNS} FROM audit_log WHERE entity = $1 AND entity_id = $2 ORDER BY seq"
        ))
        .bind(entity)
        .bind(entity_id)
        .fetch_all(&self.read)
        .await?)
    }

    async fn verify_audit_chain(&self) -> StoreResult<AuditVerification> {
        let broken = |entries: i64, at: (i64, String)| AuditVerification { entries, first_broken: Some(at) };
        // The legacy single chain (entries from before per-entity chains), in seq order.
        let mut prev = (0i64, GENESIS_HASH.to_string());
        let mut count = 0i64;
        loop {
            let page: Vec<AuditEntry> = sqlx::query_as(&format!(
                "SELECT {AUDIT_COLUMNS} FROM audit_log WHERE chain_pos IS NULL AND seq > $1 ORDER BY seq LIMIT 1000"
            ))
            .bind(prev.0)
            .fetch_all(&self.read)
            .await?;
            let Some(last) = page.last().cloned() else { break };
            if let Err(at) = check_links((prev.0, &prev.1), &page) {
                return Ok(broken(count + (at.0 - prev.0 - 1).max(0), at));
            }
            count += i64::try_from(page.len()).unwrap_or(0);
            prev = (last.seq, last.hash);
        }
        let legacy_head: Option<(i64, String)> =
            sqlx::query_as("SELECT last_seq, last_hash FROM audit_legacy_head").fetch_optional(&self.read).await?;
        if let Some((seq, hash)) = legacy_head {
            if (seq, hash) != prev {
                return Ok(broken(
                    count,
                    (
                        prev.0,
                        format!(
                            "the log before per-entity chains ended at entry {seq}; entries after {} are missing",
                            prev.0
                        ),
                    ),
                ));
            }
        }
        // The checkpoints' own chain.
        let rows: Vec<(i64, i64, String, String, String)> =
            sqlx::query_as("SELECT id, at, heads, prev_hash, hash FROM audit_checkpoints ORDER BY id")
                .fetch_all(&self.read)
                .await?;
        let mut checkpoints = Vec::with_capacity(rows.len());
        let mut prev_checkpoint = (0i64, GENESIS_HASH.to_string());
        for (id, at, heads, prev_hash, hash) in rows {
            if id != prev_checkpoint.0 + 1
                || prev_hash != prev_checkpoint.1
                || checkpoint_hash(id, at, &heads, &prev_hash) != hash
            {
                return Ok(broken(
                    count,
                    (0, format!("audit checkpoint {id} does not match its hash or the one before it")),
                ));
            }
            let recorded: Vec<CheckpointHead> =
                serde_json::from_str(&heads).map_err(|e| StoreError::Corrupt(format!("audit checkpoint {id}: {e}")))?;
            checkpoints.push((id, recorded));
            prev_checkpoint = (id, hash);
        }
        // Every entity's chain, against its head and the checkpoints.
        let heads: Vec<(String, String, i64, String)> =
            sqlx::query_as("SELECT entity, entity_id, last_pos, last_hash FROM audit_heads")
                .fetch_all(&self.read)
                .await?;
        let heads =
            heads.into_iter().map(|(entity, entity_id, pos, hash)| CheckpointHead { entity, entity_id, pos, hash });
        let mut check = ChainCheck::new(heads.collect(), &checkpoints);
        let mut after = (String::new(), String::new(), 0i64);
        loop {
            let page: Vec<AuditEntry> = sqlx::query_as(&format!(
                "SELECT {AUDIT_COLUMNS} FROM audit_log WHERE chain_pos IS NOT NULL \
                 AND (entity > $1 OR (entity = $1 AND (entity_id > $2 OR (entity_id = $2 AND chain_pos > $3)))) \
                 ORDER BY entity, entity_id, chain_pos LIMIT 1000"
            ))
            .bind(&after.0)
            .bind(&after.1)
            .bind(after.2)
            .fetch_all(&self.read)
            .await?;
            let Some(last) = page.last() else { break };
            after = (last.entity.clone(), last.entity_id.clone(), last.chain_pos.unwrap_or(0));
            for e in &page {
                check.entry(e);
            }
        }
        let (chained, first_broken) = check.finish();
        Ok(AuditVerification { entries: count + chained, first_broken })
    }

    async fn checkpoint_audit(&self, now: i64) -> StoreResult<Option<i64>> {
        let mut tx = self.begin_write().await?;
        if self.backend == Backend::Postgres {
            sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(AUDIT_CHECKPOINT_LOCK).execute(&mut *tx).await?;
        }
        let moved: Vec<(String, String, i64, String)> = sqlx::query_as(
            "SELECT entity, entity_id, last_pos, last_hash FROM audit_heads WHERE last_pos > checkpointed_pos \
             ORDER BY entity, entity_id",
        )
        .fetch_all(&mut *tx)
        .await?;
        if moved.is_empty() {
            tx.commit().await?;
            return Ok(None);
        }
        let last: Option<(i64, String)> =
            sqlx::query_as("SELECT id, hash FROM audit_checkpoints ORDER BY id DESC LIMIT 1")
                .fetch_optional(&mut *tx)
                .await?;
        let (prev_id, prev_hash) = last.unwrap_or((0, GENESIS_HASH.to_string()));
        let id = prev_id + 1;
        let heads: Vec<CheckpointHead> = moved
            .into_iter()
            .map(|(entity, entity_id, pos, hash)| CheckpointHead { entity, entity_id, pos, hash })
            .collect();
        let text = serde_json::to_string(&heads).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let hash = checkpoint_hash(id, now, &text, &prev_hash);
        sqlx::query("INSERT INTO audit_checkpoints (id, at, heads, prev_hash, hash) VALUES ($1, $2, $3, $4, $5)")
            .bind(id)
            .bind(now)
            .bind(&text)
            .bind(&prev_hash)
            .bind(&hash)
            .execute(&mut *tx)
            .await?;
        for h in &heads {
            sqlx::query(
                "UPDATE audit_heads SET checkpointed_pos = $1 WHERE entity = $2 AND entity_id = $3 AND checkpointed_pos < $1",
            )
            .bind(h.pos)
            .bind(&h.entity)
            .bind(&h.entity_id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(Some(id))
    }
}

/// Deletes a principal's sessions inside `tx`, keeping `keep` (a token hash) if given.
async fn end_sessions(
    tx: &mut Transaction<'static, Any>,
    principal_kind: &str,
    principal_id: &str,
    keep: Option<&str>,
) -> StoreResult<u64> {
    Ok(sqlx::query("DELETE FROM sessions WHERE principal_kind = $1 AND principal_id = $2 AND token_hash <> $3")
        .bind(principal_kind)
        .bind(principal_id)
        .bind(keep.unwrap_or(""))
        .execute(&mut **tx)
        .await?
        .rows_affected())
}

/// Queues a job; `executor` is a transaction when the job must commit with a change.
async fn insert_job<'e, E: sqlx::Executor<'e, Database = Any>>(
    executor: E,
    id: &str,
    kind: &str,
    payload: &str,
    max_attempts: i64,
    now: i64,
) -> StoreResult<()> {
    sqlx::query(&format!(
        "INSERT INTO jobs ({JOB_COLUMNS}) VALUES ($1, $2, $3, 'queued', 0, $4, $5, NULL, NULL, NULL, $5, $5)"
    ))
    .bind(id)
    .bind(kind)
    .bind(payload)
    .bind(max_attempts)
    .bind(now)
    .execute(executor)
    .await?;
    Ok(())
}

/// Inserts review tracks inside `tx` (routing after the pre-review, or a dispute).
async fn insert_tracks(tx: &mut Transaction<'static, Any>, tracks: &[TrackRecord]) -> StoreResult<()> {
    for t in tracks {
        sqlx::query(&format!(
            "INSERT INTO review_tracks ({TRACK_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        ))
        .bind(&t.id)
        .bind(&t.application_id)
        .bind(t.round)
        .bind(t.department.id())
        .bind(&t.district)
        .bind(t.status.id())
        .bind(&t.reasons)
        .bind(&t.decided_by)
        .bind(t.decided_at)
        .bind(&t.comment)
        .bind(t.created_at)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}
