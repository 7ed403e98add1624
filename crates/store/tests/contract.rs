//! The storage contract: every test here runs unchanged against SQLite and Postgres.

use nightpermit_domain::{ApplicationStatus, DecisionOutcome, Department, Role, TrackStatus};
use nightpermit_store::testing::{fresh_postgres, fresh_sqlite};
use nightpermit_store::*;
use std::sync::Arc;

fn firm(id: &str, code: &str) -> FirmRecord {
    FirmRecord {
        id: id.into(),
        credit_code: code.into(),
        name: "上海某建设发展有限公司".into(),
        password_hash: "hash".into(),
        contact_name: "张三".into(),
        contact_phone: "13800000000".into(),
        grade: "green".into(),
        created_at: 1_000,
        contact_email: Some("office@example.com".into()),
    }
}

fn application(id: &str, firm_id: &str, created_at: i64) -> ApplicationRecord {
    ApplicationRecord {
        id: id.into(),
        firm_id: firm_id.into(),
        district: "jingan".into(),
        status: ApplicationStatus::Draft,
        form: "{}".into(),
        construction_permit_no: "310106202012150101".into(),
        start_date: "2026-12-01".into(),
        end_date: "2026-12-03".into(),
        round: 0,
        created_at,
        updated_at: created_at,
    }
}

fn material(id: &str, app: &str, kind: &str) -> MaterialRecord {
    MaterialRecord {
        id: id.into(),
        application_id: app.into(),
        kind: kind.parse().expect("a material kind"),
        filename: "scan.png".into(),
        content_type: "image/png".into(),
        sha256: "ab".repeat(32),
        size: 10,
        created_at: 2_000,
    }
}

fn submit(app: &str, key: Option<&str>, job: &str, now: i64) -> SubmitRequest {
    SubmitRequest {
        application_id: app.into(),
        principal_id: "f1".into(),
        idempotency_key: key.map(Into::into),
        job_id: job.into(),
        max_attempts: 2,
        now,
    }
}

async fn firms_and_staff(s: &dyn Store) {
    s.create_firm(&firm("f1", "91310106MA1FL0D44X"), "firm:f1").await.expect("create");
    assert!(matches!(
        s.create_firm(&firm("f2", "91310106MA1FL0D44X"), "firm:f2").await,
        Err(StoreError::AlreadyExists("credit_code"))
    ));
    assert_eq!(s.firm_by_credit_code("91310106MA1FL0D44X").await.expect("q").map(|f| f.id), Some("f1".into()));
    assert!(s.firm_by_id("nope").await.expect("q").is_none());
    // The whole record comes back, the optional e-mail included, and a missing one stays missing.
    assert_eq!(s.firm_by_id("f1").await.expect("q"), Some(firm("f1", "91310106MA1FL0D44X")));
    let no_mail = FirmRecord { contact_email: None, ..firm("f3", "91310106MA1FL0D45X") };
    s.create_firm(&no_mail, "firm:f3").await.expect("create without e-mail");
    assert_eq!(s.firm_by_id("f3").await.expect("q"), Some(no_mail));
    let staff = StaffRecord {
        id: "s1".into(),
        username: "jingan-construction".into(),
        password_hash: "h".into(),
        role: Role::Reviewer,
        department: Some(Department::Construction),
        district: Some(nightpermit_domain::District::Jingan),
        created_at: 1,
        disabled_at: None,
    };
    s.create_staff(&staff, "cli").await.expect("staff");
    assert!(matches!(s.create_staff(&staff, "cli").await, Err(StoreError::AlreadyExists("username"))));
    assert_eq!(s.staff_by_username("jingan-construction").await.expect("q"), Some(staff.clone()));
    assert_eq!(s.staff_by_id("s1").await.expect("q"), Some(staff.clone()));

    let session = SessionRecord {
        token_hash: "t".repeat(64),
        principal_kind: "firm".into(),
        principal_id: "f1".into(),
        expires_at: 5_000,
        created_at: 1_000,
    };
    s.create_session(&session).await.expect("session");
    // The session comes with its account, whole, in one read: the firm's for a firm's session…
    let signed_in = s.session(&session.token_hash).await.expect("q").expect("found");
    assert_eq!(signed_in.session, session);
    assert_eq!(signed_in.firm, Some(firm("f1", "91310106MA1FL0D44X")));
    assert_eq!(signed_in.staff, None);
    // …the staff account (optional department and district decoded) for a staff session.
    let staff_session = SessionRecord {
        token_hash: "u".repeat(64),
        principal_kind: "staff".into(),
        principal_id: "s1".into(),
        expires_at: 9_000,
        created_at: 1_000,
    };
    s.create_session(&staff_session).await.expect("staff session");
    let signed_in = s.session(&staff_session.token_hash).await.expect("q").expect("found");
    assert_eq!((signed_in.firm, signed_in.staff), (None, Some(staff)));
    // A session whose account is gone has no principal rather than a guessed one.
    let orphan = SessionRecord { token_hash: "v".repeat(64), principal_id: "gone".into(), ..session.clone() };
    s.create_session(&orphan).await.expect("orphan session");
    let signed_in = s.session(&orphan.token_hash).await.expect("q").expect("found");
    assert_eq!((signed_in.firm, signed_in.staff), (None, None));
    assert_eq!(s.delete_expired_sessions(4_999).await.expect("gc"), 0);
    assert_eq!(s.delete_expired_sessions(5_000).await.expect("gc"), 2);
    assert!(s.session(&session.token_hash).await.expect("q").is_none());
    assert!(s.session(&staff_session.token_hash).await.expect("q").is_some());
}

/// The case file (one query) holds exactly what the separate reads of its parts return.
async fn case_file_matches_its_parts(s: &dyn Store, id: &str) -> CaseFile {
    let case = s.case_file(id).await.expect("case file").expect("exists");
    assert_eq!(Some(&case.application), s.application(id).await.expect("app").as_ref());
    assert_eq!(Some(&case.firm), s.firm_by_id(&case.application.firm_id).await.expect("firm").as_ref());
    assert_eq!(case.materials, s.materials(id).await.expect("materials"));
    assert_eq!(case.latest_round, s.prereview_rounds(id).await.expect("rounds").pop());
    assert_eq!(case.latest_decision, s.decisions(id).await.expect("decisions").pop());
    assert_eq!(case.tracks, s.tracks(id).await.expect("tracks"));
    assert_eq!(case.permit, s.permit_for_application(id).await.expect("permit"));
    case
}

async fn applications_materials_and_submit(s: &dyn Store) {
    s.create_firm(&firm("f1", "91310106MA1FL0D44X"), "firm:f1").await.expect("firm");
    for (i, id) in ["a1", "a2", "a3"].iter().enumerate() {
        s.create_application(&application(id, "f1", 10 + i as i64), "firm:f1").await.expect("create");
    }
    let (page, total) = s.list_applications(&ApplicationScope::Firm("f1".into()), 2, 0).await.expect("list");
    assert_eq!(total, 3);
    assert_eq!(page.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(), vec!["a3", "a2"]);
    let (page, _) = s.list_applications(&ApplicationScope::Firm("f1".into()), 2, 2).await.expect("list");
    assert_eq!(page.len(), 1);
    let (_, total) = s.list_applications(&ApplicationScope::District("xuhui".into()), 10, 0).await.expect("list");
    assert_eq!(total, 0);
    let (_, total) = s.list_applications(&ApplicationScope::All, 10, 0).await.expect("list");
    assert_eq!(total, 3);

    let updated = s
        .update_application_form(
            &FormUpdate {
                application_id: "a1".into(),
                district: "xuhui".into(),
                form: "{\"x\":1}".into(),
                construction_permit_no: "P2".into(),
                start_date: "2026-12-05".into(),
                end_date: "2026-12-06".into(),
                now: 50,
            },
            "firm:f1",
        )
        .await
        .expect("edit");
    assert_eq!((updated.district.as_str(), updated.form.as_str(), updated.updated_at), ("xuhui", "{\"x\":1}", 50));

    s.add_material(&material("m1", "a1", "business_license"), "firm:f1").await.expect("m1");
    s.add_material(&material("m2", "a1", "site_plan"), "firm:f1").await.expect("m2");
    s.delete_material("a1", "m2", "firm:f1", 60).await.expect("delete");
    assert!(matches!(s.delete_material("a1", "m2", "firm:f1", 61).await, Err(StoreError::NotFound)));
    assert!(matches!(s.delete_material("a2", "m1", "firm:f1", 61).await, Err(StoreError::NotFound)));
    assert_eq!(s.materials("a1").await.expect("list").len(), 1);
    // A draft's file: its materials, nothing else yet.
    let draft = case_file_matches_its_parts(s, "a1").await;
    assert_eq!((draft.materials.len(), draft.latest_round, draft.tracks.len()), (1, None, 0));
    s.add_material(&material("m4", "a1", "site_plan"), "firm:f1").await.expect("m4");
    let two = case_file_matches_its_parts(s, "a1").await;
    assert_eq!(two.materials.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(), vec!["m1", "m4"]);
    s.delete_material("a1", "m4", "firm:f1", 62).await.expect("delete m4");
    assert!(s.case_file("zz").await.expect("q").is_none());

    let receipt = s.submit_application(&submit("a1", Some("k1"), "j1", 100), "firm:f1").await.expect("submit");
    assert_eq!((receipt.round, receipt.status.id(), receipt.job_id.as_str()), (1, "prereview", "j1"));
    // Same key: same answer, nothing done twice.
    let again = s.submit_application(&submit("a1", Some("k1"), "j-other", 200), "firm:f1").await.expect("repeat");
    assert_eq!(again, receipt);
    assert_eq!(s.jobs_for_application("a1").await.expect("jobs").len(), 1);
    // The same key on another application is a client error.
    assert!(matches!(
        s.submit_application(&submit("a2", Some("k1"), "j2", 300), "firm:f1").await,
        Err(StoreError::IdempotencyKeyReused)
    ));
    // Without a key, a second submit finds the application no longer a draft.
    assert!(matches!(
        s.submit_application(&submit("a1", None, "j3", 300), "firm:f1").await,
        Err(StoreError::WrongStatus { current: nightpermit_domain::ApplicationStatus::Prereview })
    ));
    // Not editable any more.
    assert!(matches!(
        s.add_material(&material("m3", "a1", "site_plan"), "firm:f1").await,
        Err(StoreError::WrongStatus { .. })
    ));
    let app = s.application("a1").await.expect("get").expect("exists");
    assert_eq!((app.status.id(), app.round), ("prereview", 1));
    let rounds = s.prereview_rounds("a1").await.expect("rounds");
    assert_eq!(rounds.len(), 1);
    assert_eq!((rounds[0].state.as_str(), rounds[0].materials_total), ("pending", 1));
    assert!(rounds[0].materials.contains("m1"));
    assert_eq!(case_file_matches_its_parts(s, "a1").await.latest_round.map(|r| r.round), Some(1));
    assert!(matches!(s.submit_application(&submit("zz", None, "j4", 1), "firm:f1").await, Err(StoreError::NotFound)));
}

async fn job_queue_leases_and_retries(s: &dyn Store) {
    s.create_firm(&firm("f1", "91310106MA1FL0D44X"), "firm:f1").await.expect("firm");
    s.create_application(&application("a1", "f1", 1), "firm:f1").await.expect("app");
    s.create_application(&application("a2", "f1", 2), "firm:f1").await.expect("app");
    s.submit_application(&submit("a1", None, "j1", 100), "firm:f1").await.expect("submit");
    s.submit_application(&submit("a2", None, "j2", 101), "firm:f1").await.expect("submit");

    assert!(s.claim_job(&["other"], "w1", 200, 1000).await.expect("claim").is_none());
    let first = s.claim_job(&[JOB_KIND_PREREVIEW], "w1", 200, 1000).await.expect("claim").expect("job");
    assert_eq!((first.id.as_str(), first.attempts, first.state.as_str()), ("j1", 1, "running"));
    let payload: PrereviewJob = serde_json::from_str(&first.payload).expect("payload");
    assert_eq!(payload, PrereviewJob { application_id: "a1".into(), round: 1 });
    let second = s.claim_job(&[JOB_KIND_PREREVIEW], "w2", 200, 1000).await.expect("claim").expect("job");
    assert_eq!(second.id, "j2");
    assert!(s.claim_job(&[JOB_KIND_PREREVIEW], "w3", 300, 1000).await.expect("claim").is_none());

    // w1 dies; after its lease the job is taken again and the attempt counted.
    let retaken = s.claim_job(&[JOB_KIND_PREREVIEW], "w3", 1201, 1000).await.expect("claim").expect("expired");
    assert_eq!((retaken.id.as_str(), retaken.attempts, retaken.locked_by.as_deref()), ("j1", 2, Some("w3")));
    // The dead worker cannot complete what it no longer holds.
    assert!(!s.complete_job("j1", "w1", 1300).await.expect("complete"));
    assert!(s.complete_job("j1", "w3", 1300).await.expect("complete"));
    assert_eq!(s.job("j1").await.expect("get").map(|j| j.state), Some("done".into()));

    // j2 fails once: queued again for later; fails at its last attempt: dead.
    assert!(s.fail_job("j2", "w2", "boom", 300, 5_000).await.expect("fail"));
    let j2 = s.job("j2").await.expect("get").expect("exists");
    assert_eq!((j2.state.as_str(), j2.run_after, j2.last_error.as_deref()), ("queued", 5_000, Some("boom")));
    assert!(s.claim_job(&[JOB_KIND_PREREVIEW], "w2", 4_999, 1000).await.expect("claim").is_none());
    let j2 = s.claim_job(&[JOB_KIND_PREREVIEW], "w2", 5_000, 1000).await.expect("claim").expect("due");
    assert_eq!(j2.attempts, 2);
    // Released on shutdown: back in the queue, the attempt not counted.
    assert!(s.release_job("j2", "w2", 5_001).await.expect("release"));
    let j2 = s.claim_job(&[JOB_KIND_PREREVIEW], "w4", 5_002, 1000).await.expect("claim").expect("released");
    assert_eq!(j2.attempts, 2);
    assert!(s.fail_job("j2", "w4", "boom again", 5_003, 9_000).await.expect("fail"));
    assert_eq!(s.job("j2").await.expect("get").map(|j| j.state), Some("dead".into()));
    assert!(s.claim_job(&[JOB_KIND_PREREVIEW], "w4", 99_999, 1000).await.expect("claim").is_none());
}

async fn audit_chain(s: &dyn Store, tamper: impl std::future::Future<Output = ()>) {
    s.create_firm(&firm("f1", "91310106MA1FL0D44X"), "firm:f1").await.expect("firm");
    s.create_application(&application("a1", "f1", 1), "firm:f1").await.expect("app");
    s.add_material(&material("m1", "a1", "site_plan"), "firm:f1").await.expect("m");
    s.submit_application(&submit("a1", None, "j1", 100), "firm:f1").await.expect("submit");
    let all = s.audit_entries(0, 100).await.expect("entries");
    assert_eq!(
        all.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(),
        vec!["firm.registered", "application.created", "material.added", "application.submitted"]
    );
    assert_eq!(all.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![1, 2, 3, 4]);
    let for_app = s.audit_entries_for("application", "a1").await.expect("entries");
    assert_eq!(for_app.len(), 3);
    assert_eq!(for_app[2].before_state.as_deref(), Some("{\"status\":\"draft\"}"));
    assert_eq!(s.verify_audit_chain().await.expect("verify"), AuditVerification { entries: 4, first_broken: None });
    tamper.await;
    let v = s.verify_audit_chain().await.expect("verify");
    assert_eq!(v.first_broken.map(|b| b.0), Some(3));
}

/// Per-entity chains: a chain cut short is noticed by its head; a chain deleted whole with its
/// head is noticed by the checkpoint taken before; many cases appending at once keep every
/// chain intact.
async fn audit_chains_heads_and_checkpoints(s: Arc<SqlStore>) {
    s.create_firm(&firm("f1", "91310106MA1FL0D44X"), "firm:f1").await.expect("firm");
    let mut racers = Vec::new();
    for i in 0..12 {
        let s = s.clone();
        racers.push(tokio::spawn(async move {
            let id = format!("a{i}");
            s.create_application(&application(&id, "f1", 10 + i), "firm:f1").await.expect("app");
            s.add_material(&material(&format!("m{i}"), &id, "site_plan"), "firm:f1").await.expect("material");
            s.submit_application(&submit(&id, None, &format!("j{i}"), 100 + i), "firm:f1").await.expect("submit");
        }));
    }
    for r in racers {
        r.await.expect("join");
    }
    let v = s.verify_audit_chain().await.expect("verify");
    assert_eq!(v, AuditVerification { entries: 1 + 12 * 3, first_broken: None });
    let chain = s.audit_entries_for("application", "a3").await.expect("entries");
    assert_eq!(chain.iter().map(|e| e.chain_pos).collect::<Vec<_>>(), vec![Some(1), Some(2), Some(3)]);

    assert_eq!(s.checkpoint_audit(5_000).await.expect("checkpoint"), Some(1));
    assert_eq!(s.checkpoint_audit(5_001).await.expect("nothing moved"), None);
    assert_eq!(s.verify_audit_chain().await.expect("verify").first_broken, None);

    // The last entry of a4 deleted: its head still says 3.
    s.delete_audit_entries("application", "a4", 3, false).await.expect("delete");
    let v = s.verify_audit_chain().await.expect("verify");
    let (_, why) = v.first_broken.expect("a cut-off chain is noticed");
    assert!(why.contains("application/a4"), "{why}");
}

/// A chain deleted whole, head and all, leaves no trace in the chains; the checkpoint taken
/// before it remembers it.
async fn audit_chain_deleted_whole_is_noticed_by_checkpoint(s: SqlStore) {
    s.create_firm(&firm("f1", "91310106MA1FL0D44X"), "firm:f1").await.expect("firm");
    s.create_application(&application("a1", "f1", 1), "firm:f1").await.expect("app");
    s.create_application(&application("a2", "f1", 2), "firm:f1").await.expect("app");
    assert_eq!(s.checkpoint_audit(5_000).await.expect("checkpoint"), Some(1));
    s.add_material(&material("m1", "a2", "site_plan"), "firm:f1").await.expect("material");
    assert_eq!(s.checkpoint_audit(6_000).await.expect("checkpoint"), Some(2));
    assert_eq!(s.verify_audit_chain().await.expect("verify").first_broken, None);
    s.delete_audit_entries("application", "a1", 1, true).await.expect("delete");
    let (_, why) = s.verify_audit_chain().await.expect("verify").first_broken.expect("a deleted chain is noticed");
    assert!(why.contains("application/a1") && why.contains("checkpoint 1"), "{why}");
}

/// The log as it was before per-entity chains: a database written at schema 0005 (one chain
/// in `seq` order), then migrated on. `audit verify` walks that legacy chain, checks that it ends
/// where migration 0006 recorded (`audit_legacy_head`), and goes on with the per-entity chains
/// written since. A legacy entry changed, or the legacy chain's tail cut off, is named as the
/// first broken link.
async fn legacy_audit_chain_before_0006(s: SqlStore) {
    let written_before = [
        ("firm.registered", "firm", "f1", None),
        ("application.created", "application", "a1", None),
        ("material.added", "application", "a1", None),
        ("application.submitted", "application", "a1", Some("{\"status\":\"draft\"}")),
    ];
    let mut legacy = Vec::new();
    for (i, (action, entity, entity_id, before)) in written_before.into_iter().enumerate() {
        let at = 100 + i64::try_from(i).expect("small");
        let ev = audit::AuditEvent {
            at,
            actor: "firm:f1",
            action,
            entity,
            entity_id,
            before: before.map(str::to_string),
            after: Some(format!("{{\"at\":{at}}}")),
        };
        legacy.push(s.append_legacy_audit(&ev).await.expect("an entry as the code before 0006 wrote it"));
    }
    // Each entry links to the one before it in the whole log, whatever its entity.
    assert!(legacy.windows(2).all(|w| w[1].prev_hash == w[0].hash && w[1].seq == w[0].seq + 1));
    s.migrate().await.expect("0006 and the migrations after it");

    // Written since: per-entity chains, numbered after the legacy entries.
    s.create_firm(&firm("f2", "91310106MA1FL0D45X"), "firm:f2").await.expect("firm");
    s.create_application(&application("a2", "f2", 200), "firm:f2").await.expect("app");
    let all = s.audit_entries(0, 100).await.expect("entries");
    assert_eq!(
        all.iter().map(|e| (e.seq, e.chain_pos)).collect::<Vec<_>>(),
        vec![(1, None), (2, None), (3, None), (4, None), (5, Some(1)), (6, Some(1))]
    );
    assert_eq!(all[..4], legacy[..], "the migration leaves the legacy entries as they were");
    assert_eq!(s.checkpoint_audit(5_000).await.expect("checkpoint"), Some(1));
    assert_eq!(s.verify_audit_chain().await.expect("verify"), AuditVerification { entries: 6, first_broken: None });

    // A legacy entry changed behind the log's back is the first broken link; put back, it holds.
    s.tamper_audit_entry(2, "application.forged").await.expect("tamper");
    let v = s.verify_audit_chain().await.expect("verify");
    assert_eq!(v.first_broken, Some((2, "content does not match its hash".to_string())));
    s.tamper_audit_entry(2, "application.created").await.expect("restore");
    assert_eq!(s.verify_audit_chain().await.expect("verify").first_broken, None);

    // The legacy tail cut off: every entry left links up, but the chain no longer ends where
    // 0006 recorded; the last entry left is named, with the entries missing after it.
    s.delete_legacy_audit_entries(3).await.expect("cut");
    let v = s.verify_audit_chain().await.expect("verify");
    let (seq, why) = v.first_broken.expect("a cut-off legacy tail is noticed");
    assert_eq!(seq, 2, "{why}");
    assert!(why.contains("ended at entry 4") && why.contains("entries after 2 are missing"), "{why}");
}

async fn concurrent_submits_make_one_round(s: std::sync::Arc<dyn Store>) {
    s.create_firm(&firm("f1", "91310106MA1FL0D44X"), "firm:f1").await.expect("firm");
    s.create_application(&application("a1", "f1", 1), "firm:f1").await.expect("app");
    let mut handles = Vec::new();
    for i in 0..8 {
        let s = s.clone();
        handles.push(tokio::spawn(async move {
            s.submit_application(&submit("a1", Some("same"), &format!("j{i}"), 100 + i), "firm:f1").await
        }));
    }
    let mut receipts = Vec::new();
    for h in handles {
        receipts.push(h.await.expect("join").expect("every racer gets the one answer"));
    }
    assert_eq!(receipts.len(), 8);
    assert!(receipts.windows(2).all(|w| w[0] == w[1]));
    assert_eq!(s.jobs_for_application("a1").await.expect("jobs").len(), 1);
    assert_eq!(s.prereview_rounds("a1").await.expect("rounds").len(), 1);
    assert_eq!(s.verify_audit_chain().await.expect("verify").first_broken, None);
}

fn track(id: &str, app: &str, round: i64, dept: &str) -> TrackRecord {
    TrackRecord {
        id: id.into(),
        application_id: app.into(),
        round,
        department: dept.parse().expect("a department"),
        district: "jingan".into(),
        status: TrackStatus::Pending,
        reasons: "[\"r\"]".into(),
        decided_by: None,
        decided_at: None,
        comment: None,
        created_at: 500,
    }
}

async fn prereview_to_review(s: &dyn Store, app: &str, job: &str, now: i64, round: i64) {
    let claimed = s.claim_job(&[JOB_KIND_PREREVIEW], "w", now, 1000).await.expect("claim").expect("job");
    assert_eq!(claimed.id, job);
    s.start_prereview(app, round, now).await.expect("start");
    s.prereview_progress(app, round, 1).await.expect("progress");
    let finish = PrereviewFinish {
        job_id: job.into(),
        worker: "w".into(),
        application_id: app.into(),
        round,
        outcome: "pass".into(),
        findings: "[]".into(),
        new_status: nightpermit_domain::ApplicationStatus::UnderReview,
        decision: Some(DecisionRecord {
            application_id: app.into(),
            round,
            outcome: DecisionOutcome::ManualReview,
            ruleset_id: "default".into(),
            ruleset_version: "1".into(),
            ruleset_sha256: "00".into(),
            reasons: "[]".into(),
            trace: "[]".into(),
            facts: "{}".into(),
            decided_at: now,
        }),
        tracks: vec![
            track(&format!("{app}-c{round}"), app, round, "construction"),
            track(&format!("{app}-e{round}"), app, round, "environment"),
        ],
        now,
    };
    // Another worker that lost the lease cannot finish it.
    let mut stale = finish.clone();
    stale.worker = "other".into();
    assert!(!s.finish_prereview(&stale, "system").await.expect("stale"));
    assert!(s.finish_prereview(&finish, "system").await.expect("finish"));
    assert_eq!(s.job(job).await.expect("job").map(|j| j.state), Some("done".into()));
}

async fn review_flow(s: &dyn Store) {
    use nightpermit_domain::ApplicationStatus::*;
    s.create_firm(&firm("f1", "91310106MA1FL0D44X"), "firm:f1").await.expect("firm");
    for a in ["a1", "a2", "a3"] {
        let mut record = application(a, "f1", 1);
        record.form = format!(r#"{{"project": {{"name": "静安区{a}项目"}}}}"#);
        s.create_application(&record, "firm:f1").await.expect("app");
        s.submit_application(&submit(a, None, &format!("j-{a}"), 100), "firm:f1").await.expect("submit");
        prereview_to_review(s, a, &format!("j-{a}"), 200, 1).await;
        assert_eq!(s.application(a).await.expect("get").map(|x| x.status.id()), Some("under_review"));
    }
    let rounds = s.prereview_rounds("a1").await.expect("rounds");
    assert_eq!((rounds[0].state.as_str(), rounds[0].outcome.as_deref()), ("done", Some("pass")));
    assert_eq!(s.decisions("a1").await.expect("d").len(), 1);
    assert_eq!(s.decisions_since(0).await.expect("d").len(), 3);
    assert_eq!(s.tracks("a1").await.expect("t").len(), 2);
    assert_eq!(s.review_queue("jingan", "construction", Some("pending")).await.expect("q").len(), 3);
    assert_eq!(s.review_queue("xuhui", "construction", Some("pending")).await.expect("q").len(), 0);

    let decide = |id: &str, status: &str| TrackDecision {
        track_id: id.into(),
        status: status.parse().expect("a track status"),
        decided_by: "rev".into(),
        comment: Some("ok".into()),
        now: 300,
    };
    // a1: both approve.
    let (_, st) = s.decide_track(&decide("a1-c1", "approved"), "staff:rev").await.expect("decide");
    assert_eq!(st, UnderReview);
    assert!(matches!(
        s.decide_track(&decide("a1-c1", "approved"), "staff:rev").await,
        Err(StoreError::WrongStatus { .. })
    ));
    let (t, st) = s.decide_track(&decide("a1-e1", "approved"), "staff:rev").await.expect("decide");
    assert_eq!((st, t.status.id(), t.decided_by.as_deref()), (Approved, "approved", Some("rev")));
    // a2: one rejects; the other department's task leaves the pending queue.
    let (_, st) = s.decide_track(&decide("a2-c1", "rejected"), "staff:rev").await.expect("decide");
    assert_eq!(st, Rejected);
    let pending_env = s.review_queue("jingan", "environment", Some("pending")).await.expect("q");
    assert_eq!(pending_env.iter().map(|e| e.track.id.as_str()).collect::<Vec<_>>(), vec!["a3-e1"]);
    assert!(matches!(
        s.decide_track(&decide("a2-e1", "approved"), "staff:rev").await,
        Err(StoreError::WrongStatus { .. })
    ));
    // a3: correction requested, the firm resubmits: round 2, new tracks.
    let (_, st) = s.decide_track(&decide("a3-e1", "correction_requested"), "staff:rev").await.expect("decide");
    assert_eq!(st, NeedsCorrection);
    let r = s.submit_application(&submit("a3", None, "j-a3-2", 400), "firm:f1").await.expect("resubmit");
    assert_eq!(r.round, 2);
    prereview_to_review(s, "a3", "j-a3-2", 500, 2).await;
    let tracks = s.tracks("a3").await.expect("t");
    assert_eq!(
        tracks.iter().map(|t| (t.round, t.status.id())).collect::<Vec<_>>(),
        vec![(2, "pending"), (2, "pending")]
    );
    assert_eq!(s.prereview_rounds("a3").await.expect("rounds").len(), 2);
    // The file shows the second round: its pre-review, its decision, its two tracks.
    let a3 = case_file_matches_its_parts(s, "a3").await;
    assert_eq!((a3.latest_round.map(|r| r.round), a3.latest_decision.map(|d| d.round)), (Some(2), Some(2)));
    assert_eq!(a3.tracks.iter().map(|t| t.id.as_str()).collect::<Vec<_>>(), vec!["a3-c2", "a3-e2"]);
    for a in ["a1", "a2"] {
        case_file_matches_its_parts(s, a).await;
    }
    // The superseded round's construction task is no longer work; the new round's is.
    let pending: Vec<String> = s
        .review_queue("jingan", "construction", Some("pending"))
        .await
        .expect("q")
        .into_iter()
        .map(|e| e.track.id)
        .collect();
    assert_eq!(pending, vec!["a3-c2".to_string()]);
    // Each entry carries its case (firm, dates, project from the form) and the other track.
    let all = s.review_queue("jingan", "construction", None).await.expect("q");
    assert_eq!(all.len(), 4);
    // A page of it: the same order, `limit` tasks after `offset`.
    let page = s.review_queue_page("jingan", "construction", None, 2, 1).await.expect("page");
    assert_eq!(
        page.iter().map(|e| &e.track.id).collect::<Vec<_>>(),
        all[1..3].iter().map(|e| &e.track.id).collect::<Vec<_>>()
    );
    let pending_page = s.review_queue_page("jingan", "construction", Some("pending"), 10, 0).await.expect("page");
    assert_eq!(pending_page.len(), s.review_queue("jingan", "construction", Some("pending")).await.expect("q").len());
    let a1 = all.iter().find(|e| e.track.id == "a1-c1").expect("a1's task");
    assert_eq!(
        (a1.firm_name.as_str(), a1.start_date.as_str(), a1.end_date.as_str(), a1.project_name.as_str()),
        ("上海某建设发展有限公司", "2026-12-01", "2026-12-03", "静安区a1项目")
    );
    assert_eq!(a1.other, Some((Department::Environment, TrackStatus::Approved)));
    let a3 = all.iter().find(|e| e.track.id == "a3-c2").expect("a3's new task");
    assert_eq!(a3.other, Some((Department::Environment, TrackStatus::Pending)));
    // Counted as listed: a2's and a3's first-round tasks are pending but no longer work.
    let counts = s.review_queue_counts("jingan", "construction").await.expect("counts");
    assert_eq!(
        counts,
        QueueCounts { pending: 1, approved: 1, rejected: 1, correction_requested: 0, all: 4 },
        "{all:?}"
    );
    for (filter, n) in [("pending", 1), ("approved", 1), ("rejected", 1), ("correction_requested", 0)] {
        assert_eq!(s.review_queue("jingan", "construction", Some(filter)).await.expect("q").len(), n, "{filter}");
    }
    assert_eq!(s.review_queue_counts("xuhui", "construction").await.expect("counts"), QueueCounts::default());
    assert!(matches!(s.decide_track(&decide("nope", "approved"), "x").await, Err(StoreError::NotFound)));
    assert_eq!(s.applications_by_site("310106202012150101").await.expect("site").len(), 3);
    assert_eq!(s.applications_by_firm("f1").await.expect("firm").len(), 3);
    assert_eq!(s.verify_audit_chain().await.expect("verify").first_broken, None);
}

async fn staff_disabled_and_enabled(s: &dyn Store) {
    let staff = |id: &str, username: &str| StaffRecord {
        id: id.into(),
        username: username.into(),
        password_hash: "h".into(),
        role: Role::Auditor,
        department: None,
        district: None,
        created_at: 1,
        disabled_at: None,
    };
    s.create_staff(&staff("s1", "auditor-a"), "cli").await.expect("staff");
    s.create_staff(&staff("s2", "auditor-b"), "cli").await.expect("staff");
    let session = |token: char, principal: &str| SessionRecord {
        token_hash: token.to_string().repeat(64),
        principal_kind: "staff".into(),
        principal_id: principal.into(),
        expires_at: 9_000,
        created_at: 10,
    };
    for (t, p) in [('a', "s1"), ('b', "s1"), ('c', "s2")] {
        s.create_session(&session(t, p)).await.expect("session");
    }
    assert_eq!(s.disable_staff("s1", "staff:admin", 100).await.expect("disable"), 2);
    assert_eq!(s.staff_by_id("s1").await.expect("q").and_then(|x| x.disabled_at), Some(100));
    // Its sessions ended with it; another account's did not.
    assert!(s.session(&"a".repeat(64)).await.expect("q").is_none());
    assert!(s.session(&"b".repeat(64)).await.expect("q").is_none());
    assert!(s.session(&"c".repeat(64)).await.expect("q").is_some());
    assert_eq!(s.staff_by_id("s2").await.expect("q").and_then(|x| x.disabled_at), None);
    // Disabling again keeps the first time; the listing shows the state.
    s.disable_staff("s1", "staff:admin", 200).await.expect("again");
    let listed: Vec<_> = s.list_staff().await.expect("list").into_iter().map(|x| (x.username, x.disabled_at)).collect();
    assert_eq!(listed, vec![("auditor-a".to_string(), Some(100)), ("auditor-b".to_string(), None)]);
    s.enable_staff("s1", "staff:admin", 300).await.expect("enable");
    assert_eq!(s.staff_by_username("auditor-a").await.expect("q").and_then(|x| x.disabled_at), None);
    assert!(matches!(s.disable_staff("nobody", "staff:admin", 1).await, Err(StoreError::NotFound)));
    assert!(matches!(s.enable_staff("nobody", "staff:admin", 1).await, Err(StoreError::NotFound)));
    // Each change is in the audit log, attributed, and the chain holds.
    let actions: Vec<_> =
        s.audit_entries_for("staff", "s1").await.expect("audit").into_iter().map(|e| (e.action, e.actor)).collect();
    assert_eq!(
        actions,
        [
            ("staff.created", "cli"),
            ("staff.disabled", "staff:admin"),
            ("staff.disabled", "staff:admin"),
            ("staff.enabled", "staff:admin")
        ]
        .map(|(a, b)| (a.to_string(), b.to_string()))
    );
    assert_eq!(s.verify_audit_chain().await.expect("verify").first_broken, None);
}

async fn firm_records_and_grades(s: &dyn Store) {
    s.create_firm(&firm("f1", "91310106MA1FL0D44X"), "firm:f1").await.expect("firm");
    let entry = |id: &str, kind: &str| FirmRecordEntry {
        id: id.into(),
        firm_id: "f1".into(),
        kind: kind.into(),
        occurred_at: 1000,
        note: "查实".into(),
        recorded_by: "admin".into(),
        created_at: 1001,
    };
    s.add_firm_record(&entry("r1", "inspection_violation"), None, "staff:admin").await.expect("add");
    let change = GradeChange {
        id: "g1".into(),
        firm_id: "f1".into(),
        from_grade: "green".into(),
        to_grade: "yellow".into(),
        points: 5,
        cause: "complaint_upheld".into(),
        at: 1002,
    };
    s.add_firm_record(&entry("r2", "complaint_upheld"), Some(&change), "staff:admin").await.expect("add");
    assert_eq!(s.firm_records("f1").await.expect("records").len(), 2);
    assert_eq!(s.grade_changes("f1").await.expect("changes"), vec![change]);
    assert_eq!(s.firm_by_id("f1").await.expect("firm").map(|f| f.grade), Some("yellow".into()));
}

async fn permits_issue_and_revoke(s: &dyn Store) {
    use nightpermit_domain::ApplicationStatus::*;
    s.create_firm(&firm("f1", "91310106MA1FL0D44X"), "firm:f1").await.expect("firm");
    s.create_application(&application("a1", "f1", 1), "firm:f1").await.expect("app");
    s.submit_application(&submit("a1", None, "j1", 100), "firm:f1").await.expect("submit");
    prereview_to_review(s, "a1", "j1", 200, 1).await;
    for t in ["a1-c1", "a1-e1"] {
        let d = TrackDecision {
            track_id: t.into(),
            status: TrackStatus::Approved,
            decided_by: "r".into(),
            comment: None,
            now: 300,
        };
        s.decide_track(&d, "staff:r").await.expect("decide");
    }
    // Approval queued the sealing, in the same transaction.
    let job = s.claim_job(&[JOB_KIND_SEAL], "signer", 400, 1000).await.expect("claim").expect("seal job");
    assert_eq!(serde_json::from_str::<SealJob>(&job.payload).expect("payload").application_id, "a1");
    let p = s.allocate_permit_number("a1", "jingan", 2026, 400).await.expect("number");
    assert_eq!((p.number.as_str(), p.status.as_str()), ("jingan-2026-00001", "pending"));
    // A retried job gets the same number.
    assert_eq!(s.allocate_permit_number("a1", "jingan", 2026, 401).await.expect("again").number, p.number);
    assert!(!s.issue_permit(&job.id, "someone-else", &p.number, "ab", 500).await.expect("not held"));
    assert!(s.issue_permit(&job.id, "signer", &p.number, "ab", 500).await.expect("issue"));
    assert_eq!(s.application("a1").await.expect("app").map(|a| a.status.id()), Some("issued"));
    let p = s.permit(&p.number).await.expect("permit").expect("exists");
    assert_eq!((p.status.as_str(), p.pdf_sha256.as_deref(), p.issued_at), ("valid", Some("ab"), Some(500)));
    assert_eq!(s.permit_for_application("a1").await.expect("by app").map(|p| p.number), Some(p.number.clone()));
    assert_eq!(case_file_matches_its_parts(s, "a1").await.permit.map(|p| p.status), Some("valid".into()));
    // The site's history names the sealed permit beside its application.
    let site = s.applications_by_site("310106202012150101").await.expect("site");
    assert_eq!(
        site.iter().map(|x| (x.application.id.as_str(), x.permit_number.as_deref())).collect::<Vec<_>>(),
        vec![("a1", Some(p.number.as_str()))]
    );
    // The application's nights are 2026-12-01..03 (see `application`).
    assert_eq!(
        s.permit_cases_for_night("jingan", "2026-12-02")
            .await
            .expect("night")
            .iter()
            .map(|c| c.permit.number.clone())
            .collect::<Vec<_>>(),
        vec![p.number.clone()]
    );
    let case = s.permit_case(&p.number).await.expect("case").expect("issued");
    assert_eq!((case.application.id.as_str(), case.firm_name.as_str()), ("a1", "上海某建设发展有限公司"));
    assert!(s.permit_case("jingan-2026-99999").await.expect("case").is_none());
    assert!(s.permit_cases_for_night("jingan", "2026-12-04").await.expect("night").is_empty());
    assert!(s.permit_cases_for_night("xuhui", "2026-12-02").await.expect("night").is_empty());
    let r = s.revoke_permit(&p.number, "噪声扰民经查属实", "staff:admin", 600).await.expect("revoke");
    assert!(
        s.permit_cases_for_night("jingan", "2026-12-02").await.expect("night").is_empty(),
        "a revoked permit permits nothing"
    );
    assert_eq!((r.status.as_str(), r.revoke_reason.as_deref()), ("revoked", Some("噪声扰民经查属实")));
    assert_eq!(s.application("a1").await.expect("app").map(|a| a.status), Some(Revoked));
    assert!(matches!(s.revoke_permit(&p.number, "again", "x", 700).await, Err(StoreError::WrongStatus { .. })));
    assert!(matches!(s.revoke_permit("nope", "x", "x", 700).await, Err(StoreError::NotFound)));
    assert_eq!(s.verify_audit_chain().await.expect("verify").first_broken, None);
}

/// Both departments decide every case at the same moment (the product's normal case): each
/// case must end `approved` with exactly one sealing job, never stuck `under_review`.
/// `n` cases a0.. of firm f1, each pre-reviewed into both departments' queues.
async fn cases_under_review(s: &dyn Store, n: usize) {
    s.create_firm(&firm("f1", "91310106MA1FL0D44X"), "firm:f1").await.expect("firm");
    for i in 0..n {
        let a = format!("a{i}");
        s.create_application(&application(&a, "f1", 1), "firm:f1").await.expect("app");
        s.submit_application(&submit(&a, None, &format!("j-{a}"), 100), "firm:f1").await.expect("submit");
        prereview_to_review(s, &a, &format!("j-{a}"), 200, 1).await;
    }
}

/// Every one of the `n` cases approved, with exactly one sealing job, and the audit intact.
async fn all_approved_once(s: &dyn Store, n: usize) {
    for i in 0..n {
        let a = format!("a{i}");
        assert_eq!(s.application(&a).await.expect("get").map(|x| x.status.id()), Some("approved"), "{a}");
        let seals = s.jobs_for_application(&a).await.expect("jobs").into_iter().filter(|j| j.kind == JOB_KIND_SEAL);
        assert_eq!(seals.count(), 1, "{a} has exactly one sealing job");
    }
    assert_eq!(s.verify_audit_chain().await.expect("verify").first_broken, None);
}

async fn simultaneous_approvals_approve_once(s: Arc<dyn Store>) {
    const CASES: usize = 50;
    cases_under_review(s.as_ref(), CASES).await;
    let barrier = Arc::new(tokio::sync::Barrier::new(CASES * 2));
    let mut racers = Vec::new();
    for i in 0..CASES {
        for dept in ["c", "e"] {
            let (s, barrier) = (s.clone(), barrier.clone());
            let d = TrackDecision {
                track_id: format!("a{i}-{dept}1"),
                status: TrackStatus::Approved,
                decided_by: format!("rev-{dept}"),
                comment: None,
                now: 300,
            };
            racers.push(tokio::spawn(async move {
                barrier.wait().await;
                s.decide_track(&d, "staff:rev").await
            }));
        }
    }
    for r in racers {
        r.await.expect("join").expect("each department's approval is accepted");
    }
    all_approved_once(s.as_ref(), CASES).await;
}

/// `make bench-api`: both departments approving every case at the same moment, 32 decisions in
/// flight at a time (as wrk's 32 connections). Prints decisions/s and latency percentiles; it
/// also checks the outcome, so a fast wrong answer fails it.
async fn bench_concurrent_decisions(backend: &str, s: Arc<dyn Store>) {
    const CASES: usize = 400;
    const IN_FLIGHT: usize = 32;
    cases_under_review(s.as_ref(), CASES).await;
    let gate = Arc::new(tokio::sync::Semaphore::new(IN_FLIGHT));
    let started = std::time::Instant::now();
    let mut racers = Vec::new();
    for i in 0..CASES {
        for dept in ["c", "e"] {
            let (s, gate) = (s.clone(), gate.clone());
            let d = TrackDecision {
                track_id: format!("a{i}-{dept}1"),
                status: TrackStatus::Approved,
                decided_by: format!("rev-{dept}"),
                comment: None,
                now: 300,
            };
            racers.push(tokio::spawn(async move {
                let _slot = gate.acquire().await.expect("semaphore");
                let t = std::time::Instant::now();
                s.decide_track(&d, "staff:rev").await.expect("decided");
                t.elapsed()
            }));
        }
    }
    let mut latencies = Vec::with_capacity(racers.len());
    for r in racers {
        latencies.push(r.await.expect("join"));
    }
    let total = started.elapsed();
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() as f64 - 1.0) * q).round() as usize].as_secs_f64() * 1000.0;
    println!(
        "BENCH {backend}: {} concurrent decisions ({CASES} cases, {IN_FLIGHT} in flight): {:.0}/s, p50 {:.2} ms, p99 {:.2} ms",
        latencies.len(),
        latencies.len() as f64 / total.as_secs_f64(),
        at(0.5),
        at(0.99)
    );
    all_approved_once(s.as_ref(), CASES).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: make bench-api"]
async fn bench_decisions_sqlite() {
    let dir = tempdir();
    let store = fresh_sqlite(&dir).await.expect("sqlite");
    bench_concurrent_decisions("SQLite", Arc::new(store)).await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: make bench-api"]
async fn bench_decisions_postgres() {
    let store = fresh_postgres().await.expect("postgres at 127.0.0.1:5432 (see README)");
    bench_concurrent_decisions("Postgres", Arc::new(store)).await;
}

/// A form patch or a material upload racing a submit either lands before the submit (and the
/// round sees it) or is refused with WrongStatus; a submitted case never changes afterwards.
async fn edits_racing_a_submit_never_change_a_submitted_case(s: Arc<dyn Store>) {
    const CASES: usize = 30;
    s.create_firm(&firm("f1", "91310106MA1FL0D44X"), "firm:f1").await.expect("firm");
    for i in 0..CASES {
        s.create_application(&application(&format!("a{i}"), "f1", 1), "firm:f1").await.expect("app");
    }
    let barrier = Arc::new(tokio::sync::Barrier::new(CASES * 3));
    let mut racers = Vec::new();
    for i in 0..CASES {
        let a = format!("a{i}");
        let (s1, b1, a1) = (s.clone(), barrier.clone(), a.clone());
        let submitter = tokio::spawn(async move {
            b1.wait().await;
            s1.submit_application(&submit(&a1, None, &format!("j-{a1}"), 100), "firm:f1").await
        });
        let (s2, b2, a2) = (s.clone(), barrier.clone(), a.clone());
        let editor = tokio::spawn(async move {
            let u = FormUpdate {
                application_id: a2.clone(),
                district: "jingan".into(),
                form: "{\"edited\":true}".into(),
                construction_permit_no: "P2".into(),
                start_date: "2026-12-05".into(),
                end_date: "2026-12-06".into(),
                now: 100,
            };
            b2.wait().await;
            s2.update_application_form(&u, "firm:f1").await
        });
        let (s3, b3, a3) = (s.clone(), barrier.clone(), a.clone());
        let uploader = tokio::spawn(async move {
            b3.wait().await;
            s3.add_material(&material(&format!("m-{a3}"), &a3, "site_plan"), "firm:f1").await
        });
        racers.push((a, submitter, editor, uploader));
    }
    for (a, submitter, editor, uploader) in racers {
        submitter.await.expect("join").expect("the submit itself always succeeds");
        let edited = editor.await.expect("join");
        let uploaded = uploader.await.expect("join");
        assert!(edited.is_ok() || refused_as_submitted(edited.as_ref().err()), "{a}: edit {edited:?}");
        assert!(uploaded.is_ok() || refused_as_submitted(uploaded.as_ref().err()), "{a}: upload {uploaded:?}");
        // The audit log is appended in commit order: an accepted edit came before the submit.
        let actions: Vec<String> =
            s.audit_entries_for("application", &a).await.expect("audit").into_iter().map(|e| e.action).collect();
        let at = |action: &str| actions.iter().position(|x| x == action);
        let submitted = at("application.submitted").expect("submitted");
        assert_eq!(at("application.edited").is_some(), edited.is_ok(), "{a}: {actions:?}");
        assert!(at("application.edited").is_none_or(|e| e < submitted), "{a}: edit after submit: {actions:?}");
        assert!(at("material.added").is_none_or(|m| m < submitted), "{a}: upload after submit: {actions:?}");
        // What the round reviews is what the case holds.
        let round = s.prereview_rounds(&a).await.expect("rounds").remove(0);
        let snapshot: Vec<MaterialRecord> = serde_json::from_str(&round.materials).expect("snapshot");
        assert_eq!(snapshot.len(), usize::from(uploaded.is_ok()), "{a}");
        assert_eq!(s.materials(&a).await.expect("materials").len(), usize::from(uploaded.is_ok()), "{a}");
        let app = s.application(&a).await.expect("get").expect("exists");
        assert_eq!(app.status.id(), "prereview");
        assert_eq!(app.form == "{\"edited\":true}", edited.is_ok(), "{a}");
    }
    assert_eq!(s.verify_audit_chain().await.expect("verify").first_broken, None);
}

/// A stored value outside its closed set is reported as corruption, never guessed.
async fn unknown_stored_values_are_corrupt(s: SqlStore) {
    let corrupt = |r: StoreResult<_>| matches!(r, Err(StoreError::Corrupt(_)));
    s.create_firm(&firm("f1", "91310106MA1FL0D44X"), "firm:f1").await.expect("firm");
    s.create_application(&application("a1", "f1", 1), "firm:f1").await.expect("app");
    s.add_material(&material("m1", "a1", "site_plan"), "firm:f1").await.expect("m");
    s.create_application(&application("a2", "f1", 1), "firm:f1").await.expect("app");
    s.submit_application(&submit("a2", None, "j-a2", 100), "firm:f1").await.expect("submit");
    prereview_to_review(&s, "a2", "j-a2", 200, 1).await;
    let staff = StaffRecord {
        id: "s1".into(),
        username: "rev".into(),
        password_hash: "h".into(),
        role: Role::Reviewer,
        department: Some(Department::Construction),
        district: Some(nightpermit_domain::District::Jingan),
        created_at: 1,
        disabled_at: None,
    };
    s.create_staff(&staff, "cli").await.expect("staff");

    s.overwrite_column("materials", "kind", ("id", "m1"), "photo").await.expect("tamper");
    assert!(corrupt(s.materials("a1").await.map(drop)));
    assert!(corrupt(s.case_file("a1").await.map(drop)));
    s.overwrite_column("applications", "status", ("id", "a1"), "archived").await.expect("tamper");
    assert!(corrupt(s.application("a1").await.map(drop)));
    assert!(corrupt(s.list_applications(&ApplicationScope::All, 10, 0).await.map(drop)));
    assert!(corrupt(s.submit_application(&submit("a1", None, "j-a1", 300), "firm:f1").await.map(drop)));
    s.overwrite_column("staff", "role", ("id", "s1"), "superuser").await.expect("tamper");
    assert!(corrupt(s.staff_by_username("rev").await.map(drop)));
    s.overwrite_column("staff", "role", ("id", "s1"), "reviewer").await.expect("repair");
    s.overwrite_column("staff", "department", ("id", "s1"), "planning").await.expect("tamper");
    assert!(corrupt(s.staff_by_id("s1").await.map(drop)));
    // A session of that account does not sign anyone in as a guessed department.
    let session = SessionRecord {
        token_hash: "s".repeat(64),
        principal_kind: "staff".into(),
        principal_id: "s1".into(),
        expires_at: 9_000,
        created_at: 1,
    };
    s.create_session(&session).await.expect("session");
    assert!(corrupt(s.session(&session.token_hash).await.map(drop)));
    s.overwrite_column("review_tracks", "department", ("id", "a2-c1"), "planning").await.expect("tamper");
    assert!(corrupt(s.tracks("a2").await.map(drop)));
    s.overwrite_column("review_tracks", "status", ("id", "a2-e1"), "maybe").await.expect("tamper");
    assert!(corrupt(s.track("a2-e1").await.map(drop)));
    s.overwrite_column("decisions", "outcome", ("application_id", "a2"), "approve_anyway").await.expect("tamper");
    assert!(corrupt(s.decisions("a2").await.map(drop)));
    assert!(corrupt(s.case_file("a2").await.map(drop)));
    // Nothing was written on the strength of a guess.
    assert_eq!(s.jobs_for_application("a1").await.expect("jobs").len(), 0);
}

fn refused_as_submitted(e: Option<&StoreError>) -> bool {
    matches!(e, Some(StoreError::WrongStatus { current: nightpermit_domain::ApplicationStatus::Prereview }))
}

macro_rules! contract {
    ($($name:ident),+) => {
        mod sqlite {
            $(
            // Several worker threads, so the racing scenarios really run in parallel.
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                let dir = super::tempdir();
                let store = super::fresh_sqlite(&dir).await.expect("sqlite");
                super::run::$name(store).await;
                let _ = std::fs::remove_dir_all(dir);
            }
            )+
        }
        mod postgres {
            $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                let store = super::fresh_postgres().await.expect("postgres at 127.0.0.1:5432 (see README)");
                super::run::$name(store).await;
            }
            )+
        }
    };
}

/// Contract tests that begin on an older schema and migrate on, on both backends.
mod upgraded {
    use nightpermit_store::testing::{fresh_postgres_at, fresh_sqlite_at};

    /// The last migration before per-entity audit chains.
    const BEFORE_AUDIT_CHAINS: i64 = 5;

    #[tokio::test]
    async fn legacy_audit_chain_before_0006_sqlite() {
        let dir = super::tempdir();
        let store = fresh_sqlite_at(&dir, BEFORE_AUDIT_CHAINS).await.expect("sqlite at 0005");
        super::legacy_audit_chain_before_0006(store).await;
        let _ = std::fs::remove_dir_all(dir);
    }

    #[tokio::test]
    async fn legacy_audit_chain_before_0006_postgres() {
        let store =
            fresh_postgres_at(BEFORE_AUDIT_CHAINS).await.expect("postgres at 127.0.0.1:5432 (see README), at 0005");
        super::legacy_audit_chain_before_0006(store).await;
    }
}

fn tempdir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("np-contract-{}", uuid_like()));
    std::fs::create_dir_all(&dir).expect("tempdir");
    dir
}

fn uuid_like() -> String {
    use std::time::{SystemTime, UNIX_EPOCH};
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("{}-{nanos}", std::process::id())
}

/// Adapters from a concrete store to each contract scenario.
mod run {
    use super::*;

    pub async fn firms_and_staff(s: SqlStore) {
        super::firms_and_staff(&s).await
    }
    pub async fn applications_materials_and_submit(s: SqlStore) {
        super::applications_materials_and_submit(&s).await
    }
    pub async fn job_queue_leases_and_retries(s: SqlStore) {
        super::job_queue_leases_and_retries(&s).await
    }
    pub async fn audit_chain(s: SqlStore) {
        let s = Arc::new(s);
        let t = s.clone();
        super::audit_chain(s.as_ref(), async move { t.tamper_audit_entry(3, "material.forged").await.expect("tamper") })
            .await
    }
    pub async fn audit_chains_heads_and_checkpoints(s: SqlStore) {
        super::audit_chains_heads_and_checkpoints(Arc::new(s)).await
    }
    pub async fn audit_chain_deleted_whole_is_noticed_by_checkpoint(s: SqlStore) {
        super::audit_chain_deleted_whole_is_noticed_by_checkpoint(s).await
    }
    pub async fn concurrent_submits_make_one_round(s: SqlStore) {
        super::concurrent_submits_make_one_round(Arc::new(s)).await
    }
    pub async fn simultaneous_approvals_approve_once(s: SqlStore) {
        super::simultaneous_approvals_approve_once(Arc::new(s)).await
    }
    pub async fn edits_racing_a_submit_never_change_a_submitted_case(s: SqlStore) {
        super::edits_racing_a_submit_never_change_a_submitted_case(Arc::new(s)).await
    }
    pub async fn unknown_stored_values_are_corrupt(s: SqlStore) {
        super::unknown_stored_values_are_corrupt(s).await
    }
    pub async fn review_flow(s: SqlStore) {
        super::review_flow(&s).await
    }
    pub async fn staff_disabled_and_enabled(s: SqlStore) {
        super::staff_disabled_and_enabled(&s).await
    }
    pub async fn firm_records_and_grades(s: SqlStore) {
        super::firm_records_and_grades(&s).await
    }
    pub async fn permits_issue_and_revoke(s: SqlStore) {
        super::permits_issue_and_revoke(&s).await
    }
}

contract!(
    firms_and_staff,
    applications_materials_and_submit,
    job_queue_leases_and_retries,
    audit_chain,
    audit_chains_heads_and_checkpoints,
    audit_chain_deleted_whole_is_noticed_by_checkpoint,
    concurrent_submits_make_one_round,
    simultaneous_approvals_approve_once,
    edits_racing_a_submit_never_change_a_submitted_case,
    review_flow,
    unknown_stored_values_are_corrupt,
    firm_records_and_grades,
    staff_disabled_and_enabled,
    permits_issue_and_revoke
);
