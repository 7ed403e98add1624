//! The after-care storage contract: complaints and inspections, unchanged on SQLite and Postgres,
//! including steps racing each other.

use nightpermit_domain::{ComplaintOutcome, ComplaintPriority, ComplaintStep, InspectionStatus, Role};
use nightpermit_store::testing::{fresh_postgres, fresh_sqlite};
use nightpermit_store::*;
use std::sync::Arc;

async fn seed(s: &dyn Store) -> PermitRecord {
    let firm = FirmRecord {
        id: "f1".into(),
        credit_code: "91310106MA1FL0D44X".into(),
        name: "上海某建设发展有限公司".into(),
        password_hash: "h".into(),
        contact_name: "张三".into(),
        contact_phone: "13800000000".into(),
        grade: "green".into(),
        created_at: 1,
        contact_email: None,
    };
    s.create_firm(&firm, "test").await.expect("firm");
    let app = ApplicationRecord {
        id: "a1".into(),
        firm_id: "f1".into(),
        district: "jingan".into(),
        status: nightpermit_domain::ApplicationStatus::Draft,
        form: "{}".into(),
        construction_permit_no: "310106202012150101".into(),
        start_date: "2026-12-01".into(),
        end_date: "2026-12-03".into(),
        round: 0,
        created_at: 1,
        updated_at: 1,
    };
    s.create_application(&app, "test").await.expect("app");
    for (id, name) in [("i1", "insp-a"), ("i2", "insp-b")] {
        let staff = StaffRecord {
            id: id.into(),
            username: name.into(),
            password_hash: "h".into(),
            role: Role::Inspector,
            department: None,
            district: Some(nightpermit_domain::District::Jingan),
            created_at: 1,
            disabled_at: None,
        };
        s.create_staff(&staff, "test").await.expect("staff");
    }
    s.allocate_permit_number("a1", "jingan", 2026, 10).await.expect("number")
}

fn complaint(reference: &str) -> ComplaintRecord {
    ComplaintRecord {
        id: format!("id-{reference}"),
        reference: reference.into(),
        district: "jingan".into(),
        address: Some("静安区某路100号".into()),
        permit_number: None,
        occurred_at: 100,
        description: "<b>吵</b>".into(),
        contact_name: Some("李四".into()),
        contact_phone: Some("13900000000".into()),
        contact_email: Some("lisi@example.com".into()),
        priority: ComplaintPriority::Normal,
        matched_permits: "[\"jingan-2026-00001\"]".into(),
        received_at: 200,
        contact_by: 1_000,
        inspect_by: 2_000,
        check_by: 3_000,
        conclude_by: 4_000,
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

fn step(reference: &str, step: ComplaintStep, at: i64) -> ComplaintStepUpdate {
    ComplaintStepUpdate {
        reference: reference.into(),
        step,
        by: "staff:insp-a".into(),
        at,
        note: None,
        noise_tenths_db: (step == ComplaintStep::Inspected).then_some(625),
        rectification_ordered: (step == ComplaintStep::Inspected).then_some(true),
        rectified: (step == ComplaintStep::Checked).then_some(true),
        outcome: (step == ComplaintStep::Concluded).then_some(ComplaintOutcome::Upheld),
    }
}

fn upheld_entry(n: usize) -> FirmRecordWrite {
    (
        FirmRecordEntry {
            id: format!("r{n}"),
            firm_id: "f1".into(),
            kind: "complaint_upheld".into(),
            occurred_at: 100,
            note: "投诉属实".into(),
            recorded_by: "staff:insp".into(),
            created_at: 5_000,
        },
        Some(GradeChange {
            id: format!("g{n}"),
            firm_id: "f1".into(),
            from_grade: "green".into(),
            to_grade: "yellow".into(),
            points: 3,
            cause: "complaint_upheld".into(),
            at: 5_000,
        }),
    )
}

async fn complaints_follow_the_steps(s: Arc<dyn Store>) {
    seed(s.as_ref()).await;
    s.create_complaint(&complaint("TS1"), "public").await.expect("create");
    assert!(matches!(
        s.create_complaint(&complaint("TS1"), "public").await,
        Err(StoreError::AlreadyExists("reference"))
    ));
    let got = s.complaint("TS1").await.expect("get").expect("exists");
    assert_eq!(got, complaint("TS1"));
    // Out of order, then in order, then twice.
    let refused = s.record_complaint_step(&step("TS1", ComplaintStep::Inspected, 300), &[], "x").await;
    assert!(matches!(refused, Err(StoreError::Conflict("STEP_OUT_OF_ORDER"))));
    s.record_complaint_step(&step("TS1", ComplaintStep::Contacted, 1_500), &[], "x").await.expect("contacted");
    let again = s.record_complaint_step(&step("TS1", ComplaintStep::Contacted, 1_600), &[], "x").await;
    assert!(matches!(again, Err(StoreError::Conflict("STEP_ALREADY_RECORDED"))));
    let c = s.record_complaint_step(&step("TS1", ComplaintStep::Inspected, 1_700), &[], "x").await.expect("inspected");
    assert_eq!((c.noise_tenths_db, c.rectification_ordered), (Some(625), Some(true)));
    // Contacted late (1_500 > 1_000): overdue for good; inspect on time.
    assert!(c.overdue(ComplaintStep::Contacted, 0));
    assert!(!c.overdue(ComplaintStep::Inspected, 10_000));
    assert!(c.overdue(ComplaintStep::Checked, 3_001));
    s.record_complaint_step(&step("TS1", ComplaintStep::Checked, 2_500), &[], "x").await.expect("checked");

    // Two inspectors conclude at once: one wins, the firm gets one entry and one grade change.
    let racing: Vec<_> = (0..4)
        .map(|n| {
            let s = s.clone();
            tokio::spawn(async move {
                s.record_complaint_step(&step("TS1", ComplaintStep::Concluded, 3_500), &[upheld_entry(n)], "x").await
            })
        })
        .collect();
    let mut won = 0;
    for r in racing {
        match r.await.expect("join") {
            Ok(c) => {
                won += 1;
                assert_eq!(c.outcome, Some(ComplaintOutcome::Upheld));
            }
            Err(StoreError::Conflict("COMPLAINT_CONCLUDED")) => {}
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert_eq!(won, 1);
    assert_eq!(s.firm_records("f1").await.expect("records").len(), 1);
    assert_eq!(s.grade_changes("f1").await.expect("grades").len(), 1);
    assert_eq!(s.firm_by_id("f1").await.expect("firm").map(|f| f.grade), Some("yellow".into()));
    assert!(s.complaints_in_district("jingan", true).await.expect("open").is_empty());
    assert_eq!(s.complaints_in_district("jingan", false).await.expect("all").len(), 1);
    let audit = s.audit_entries_for("complaint", "TS1").await.expect("audit");
    assert_eq!(audit.len(), 5);
    // The log holds no personal data.
    assert!(audit.iter().all(|e| !e.after_state.clone().unwrap_or_default().contains("李四")));
    assert!(s.verify_audit_chain().await.expect("verify").first_broken.is_none());
}

async fn inspections_are_recorded_once(s: Arc<dyn Store>) {
    let permit = seed(s.as_ref()).await;
    let inspectors = s.staff_in_district("jingan", Role::Inspector).await.expect("staff");
    assert_eq!(inspectors.iter().map(|i| i.username.as_str()).collect::<Vec<_>>(), vec!["insp-a", "insp-b"]);
    let draw = InspectionDrawRecord {
        id: "d1".into(),
        district: "jingan".into(),
        seed: u64::MAX.to_string(),
        requested: 1,
        frame: "[]".into(),
        inspectors: "[\"insp-a\",\"insp-b\"]".into(),
        drawn_by: "staff:admin".into(),
        drawn_at: 50,
    };
    let item = InspectionRecord {
        id: "n1".into(),
        draw_id: "d1".into(),
        permit_number: permit.number.clone(),
        firm_id: "f1".into(),
        district: "jingan".into(),
        inspector_id: "i1".into(),
        status: InspectionStatus::Assigned,
        noise_tenths_db: None,
        measures_ok: None,
        comment: None,
        result_at: None,
        created_at: 50,
    };
    s.create_draw(&draw, std::slice::from_ref(&item), "staff:admin").await.expect("draw");
    assert_eq!(s.inspection_draw("d1").await.expect("draw").map(|d| d.seed), Some(u64::MAX.to_string()));
    assert_eq!(s.inspections_for_inspector("i1").await.expect("mine"), vec![item.clone()]);
    assert!(s.inspections_for_inspector("i2").await.expect("theirs").is_empty());
    let result = |inspector: &str| InspectionResult {
        inspection_id: "n1".into(),
        inspector_id: inspector.into(),
        status: InspectionStatus::Failed,
        noise_tenths_db: 612,
        measures_ok: true,
        comment: "超标".into(),
        at: 60,
    };
    assert!(matches!(
        s.record_inspection_result(&result("i2"), None, "x").await,
        Err(StoreError::Conflict("NOT_YOUR_INSPECTION"))
    ));
    let racing: Vec<_> = (0..3)
        .map(|n| {
            let s = s.clone();
            let r = result("i1");
            tokio::spawn(async move {
                let mut e = upheld_entry(n);
                e.0.kind = "inspection_violation".into();
                e.1 = None;
                s.record_inspection_result(&r, Some(&e), "x").await
            })
        })
        .collect();
    let mut won = 0;
    for r in racing {
        match r.await.expect("join") {
            Ok(i) => {
                won += 1;
                assert_eq!(
                    (i.status, i.noise_tenths_db, i.measures_ok),
                    (InspectionStatus::Failed, Some(612), Some(true))
                );
            }
            Err(StoreError::Conflict("INSPECTION_RECORDED")) => {}
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert_eq!(won, 1);
    assert_eq!(s.firm_records("f1").await.expect("records").len(), 1);
    assert_eq!(s.inspections_for_permit(&permit.number).await.expect("by permit").len(), 1);
}

async fn unknown_stored_values_are_corrupt(s: SqlStore) {
    seed(&s).await;
    s.create_complaint(&complaint("TS2"), "public").await.expect("create");
    s.overwrite_column("complaints", "priority", ("reference", "TS2"), "urgent").await.expect("tamper");
    assert!(matches!(s.complaint("TS2").await, Err(StoreError::Corrupt(_))));
}

macro_rules! both {
    ($($name:ident => $run:expr),+ $(,)?) => {
        mod sqlite {
            use super::*;
            $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                let dir = std::env::temp_dir().join(format!("np-aftercare-{}-{}", stringify!($name), std::process::id()));
                std::fs::create_dir_all(&dir).expect("tempdir");
                let store = fresh_sqlite(&dir).await.expect("sqlite");
                ($run)(store).await;
                let _ = std::fs::remove_dir_all(dir);
            }
            )+
        }
        mod postgres {
            use super::*;
            $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                let store = fresh_postgres().await.expect("postgres at 127.0.0.1:5432 (see README)");
                ($run)(store).await;
            }
            )+
        }
    };
}

both!(
    // `super::`: inside the generated modules the bare name is the test itself.
    complaints_follow_the_steps => |s: SqlStore| super::complaints_follow_the_steps(Arc::new(s)),
    inspections_are_recorded_once => |s: SqlStore| super::inspections_are_recorded_once(Arc::new(s)),
    unknown_stored_values_are_corrupt => super::unknown_stored_values_are_corrupt,
);
