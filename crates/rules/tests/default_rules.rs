//! The default rule set: a clean case is auto-approved, and for every rule a scenario in which
//! that rule alone flips the outcome.

use nightpermit_rules::*;

const DEFAULT: &str = include_str!("../../../config/rules/default.toml");

use nightpermit_rules::example::{clean_facts as clean, nights};

/// A change to the clean facts.
type Change = Box<dyn Fn(&mut Facts)>;

fn set() -> RuleSet {
    RuleSet::from_toml("config/rules/default.toml", DEFAULT).expect("default rules are valid")
}

#[test]
fn clean_case_is_auto_approved_with_a_full_trace() {
    let facts = clean();
    assert!(facts.problems().is_empty(), "{:?}", facts.problems());
    let d = decide(&set(), &facts);
    assert_eq!(d.outcome, Outcome::AutoApprove);
    assert!(d.reasons.is_empty());
    assert_eq!(d.trace.len(), set().rule_ids().len());
    assert!(d.trace.iter().all(|t| !t.result && !t.facts.is_empty()));
    assert_eq!(d.ruleset_version, "2026.1");
    assert_eq!(d.ruleset_sha256.len(), 64);
}

#[test]
fn each_rule_alone_flips_the_outcome() {
    let scenarios: Vec<(&str, Outcome, Change)> = vec![
        (
            "exam_quiet_period",
            Outcome::Reject,
            Box::new(|f| {
                f.set(Fact::RequestIntervals, nights("2026-06-05", 2));
            }),
        ),
        (
            "grade_not_green",
            Outcome::ManualReview,
            Box::new(|f| {
                f.set(Fact::FirmGrade, FactValue::Text("yellow".into()));
            }),
        ),
        (
            "too_few_permits",
            Outcome::ManualReview,
            Box::new(|f| {
                f.set(Fact::FirmPermits24m, FactValue::Int(2));
            }),
        ),
        (
            "recent_upheld_complaint",
            Outcome::ManualReview,
            Box::new(|f| {
                f.set(Fact::FirmDaysSinceUpheldComplaint, FactValue::Int(89));
            }),
        ),
        (
            "too_many_nights",
            Outcome::ManualReview,
            Box::new(|f| {
                f.set(Fact::RequestNights, FactValue::Int(4));
            }),
        ),
        (
            "site_month_cap",
            Outcome::ManualReview,
            Box::new(|f| {
                f.set(Fact::SiteNightDaysWithRequest, FactValue::Int(16));
            }),
        ),
        (
            "too_soon_after_last",
            Outcome::ManualReview,
            Box::new(|f| {
                f.set(Fact::SiteHoursSinceLastApprovalEnd, FactValue::Number(23.5));
            }),
        ),
        (
            "process_other",
            Outcome::ManualReview,
            Box::new(|f| {
                f.set(Fact::RequestProcess, FactValue::Text("other".into()));
            }),
        ),
        (
            "loud_equipment_without_barrier",
            Outcome::ManualReview,
            Box::new(|f| {
                f.set(Fact::RequestMaxEquipmentDb, FactValue::Int(100));
                f.set(Fact::RequestMeasures, FactValue::TextList(vec!["禁止鸣笛".into()]));
            }),
        ),
        (
            "prereview_warnings",
            Outcome::ManualReview,
            Box::new(|f| {
                f.set(Fact::PrereviewWarnings, FactValue::Int(1));
            }),
        ),
    ];
    let set = set();
    assert_eq!(scenarios.len(), set.rule_ids().len(), "a scenario for every rule");
    for (rule, outcome, change) in scenarios {
        let mut f = clean();
        change(&mut f);
        let d = decide(&set, &f);
        assert_eq!(d.outcome, outcome, "{rule}");
        assert_eq!(d.matched, vec![rule.to_string()], "{rule} alone");
        assert_eq!(d.reasons.len(), 1);
    }
}

#[test]
fn boundaries_do_not_flip() {
    let set = set();
    let at_limit: Vec<Change> = vec![
        Box::new(|f| {
            f.set(Fact::FirmPermits24m, FactValue::Int(3));
        }),
        Box::new(|f| {
            f.set(Fact::FirmDaysSinceUpheldComplaint, FactValue::Int(90));
        }),
        Box::new(|f| {
            f.set(Fact::SiteNightDaysWithRequest, FactValue::Int(15));
        }),
        Box::new(|f| {
            f.set(Fact::SiteHoursSinceLastApprovalEnd, FactValue::Number(24.0));
        }),
        // Loud, but behind a barrier.
        Box::new(|f| {
            f.set(Fact::RequestMaxEquipmentDb, FactValue::Int(110));
        }),
        // In the quiet period, but emergency repair.
        Box::new(|f| {
            f.set(Fact::RequestIntervals, nights("2026-06-05", 1));
            f.set(Fact::RequestProcess, FactValue::Text("emergency_repair".into()));
        }),
        // The night before the quiet period starts ends at 04:00 on 31 May.
        Box::new(|f| {
            f.set(Fact::RequestIntervals, nights("2026-05-30", 1));
        }),
    ];
    for (i, change) in at_limit.into_iter().enumerate() {
        let mut f = clean();
        change(&mut f);
        assert_eq!(decide(&set, &f).outcome, Outcome::AutoApprove, "case {i}");
    }
}

#[test]
fn reject_wins_over_manual_review_and_all_reasons_are_given() {
    let mut f = clean();
    f.set(Fact::RequestIntervals, nights("2026-06-01", 2));
    f.set(Fact::FirmGrade, FactValue::Text("red".into()));
    let d = decide(&set(), &f);
    assert_eq!(d.outcome, Outcome::Reject);
    assert_eq!(d.matched, vec!["exam_quiet_period".to_string(), "grade_not_green".to_string()]);
}

#[test]
fn invalid_files_name_file_and_line() {
    let err = |text: &str| RuleSet::from_toml("rules/x.toml", text).expect_err("invalid").to_string();
    let head = "id = \"x\"\nversion = \"1\"\n";
    let e = err(&format!("{head}[[rules]]\nid = \"a\"\noutcome = \"manual_review\"\nreason = \"r\"\nwhen = {{ fact = \"firm.colour\", eq = \"green\" }}\n"));
    assert!(e.starts_with("rules/x.toml:7:") && e.contains("unknown fact"), "{e}");
    let e = err(&format!("{head}[[rules]]\nid = \"a\"\noutcome = \"manual_review\"\nreason = \"r\"\nwhen = {{ fact = \"request.nights\", gt = \"three\" }}\n"));
    assert!(e.starts_with("rules/x.toml:7:") && e.contains("Int"), "{e}");
    let e = err(&format!("{head}[[rules]]\nid = \"a\"\noutcome = \"approve\"\nreason = \"r\"\nwhen = {{ fact = \"request.nights\", gt = 3 }}\n"));
    assert!(e.starts_with("rules/x.toml:5:") && e.contains("outcome"), "{e}");
    let e = err(&format!("{head}[[rules]]\nid = \"a\"\noutcome = \"reject\"\nreason = \"r\"\nwhen = {{ fact = \"firm.grade\", lt = \"green\" }}\n"));
    assert!(e.contains("ordered"), "{e}");
    let e = err(&format!("{head}[[rules]]\nid = \"a\"\noutcome = \"reject\"\nreason = \"r\"\nwhen = {{ fact = \"request.nights\", gt = 3, lt = 9 }}\n"));
    assert!(e.contains("exactly one operator"), "{e}");
    let e = err(&format!("{head}[[rules]]\nid = \"a\"\noutcome = \"reject\"\nreason = \"r\"\nwhen = {{ fact = \"request.nights\", gt = 3 }}\n[[rules]]\nid = \"a\"\noutcome = \"reject\"\nreason = \"r\"\nwhen = {{ fact = \"request.nights\", gt = 3 }}\n"));
    assert!(e.contains("duplicate"), "{e}");
    let e = err("id = \"x\"\nversion = \"1\"\nrules = [\n");
    assert!(e.starts_with("rules/x.toml:"), "{e}");
    let e = err(&format!("{head}[[rules]]\nid = \"a\"\noutcome = \"reject\"\nreason = \"r\"\nwhen = {{ fact = \"request.intervals\", overlaps = \"firm.grade\" }}\n"));
    assert!(e.contains("overlaps"), "{e}");
}

#[test]
fn simulation_reports_changed_decisions_only() {
    let strict =
        DEFAULT.replace("when = { fact = \"request.nights\", gt = 3 }", "when = { fact = \"request.nights\", gt = 2 }");
    let strict = RuleSet::from_toml("strict.toml", &strict).expect("valid");
    let two_nights = {
        let mut f = clean();
        f.set(Fact::RequestNights, FactValue::Int(2));
        f
    };
    let three = clean();
    let cases = [("a", Outcome::AutoApprove, &two_nights), ("b", Outcome::AutoApprove, &three)];
    let (total, changes) = simulate(&strict, cases.iter().map(|(c, o, f)| (*c, *o, *f)));
    assert_eq!(total, 2);
    assert_eq!(changes.len(), 1);
    assert_eq!((changes[0].case.as_str(), changes[0].after), ("b", Outcome::ManualReview));
}

#[test]
fn each_missing_fact_sends_the_case_to_a_human_naming_it() {
    let set = set();
    for &fact in Fact::ALL {
        let mut f = clean();
        f.remove(fact);
        let d = decide(&set, &f);
        assert_eq!(d.outcome, Outcome::ManualReview, "{} missing", fact.name());
        assert_eq!(d.matched, vec![FACTS_INCOMPLETE.to_string()]);
        assert_eq!(d.reasons.len(), 1, "{:?}", d.reasons);
        assert!(d.reasons[0].contains(fact.name()) && d.reasons[0].contains(fact.label()), "{}", d.reasons[0]);
        assert!(d.reasons[0].contains("缺少"), "{}", d.reasons[0]);
    }
}

#[test]
fn malformed_facts_send_the_case_to_a_human_naming_them() {
    let set = set();
    let malformed: Vec<(Fact, FactValue)> = vec![
        (Fact::RequestNights, FactValue::Text("3".into())),
        (Fact::FirmGrade, FactValue::Text("purple".into())),
        (Fact::FirmPermits24m, FactValue::Int(-1)),
        (Fact::RequestNights, FactValue::Int(0)),
        (Fact::RequestNightlyHours, FactValue::Number(f64::NAN)),
        (Fact::RequestNightlyHours, FactValue::Number(0.0)),
        (Fact::RequestProcess, FactValue::Text("piling".into())),
        (Fact::RequestDistrict, FactValue::Text("beijing".into())),
        (Fact::RequestMaxEquipmentDb, FactValue::Int(0)),
        (Fact::RequestIntervals, FactValue::Intervals(vec![])),
        (Fact::SiteHoursSinceLastApprovalEnd, FactValue::Number(f64::INFINITY)),
    ];
    for (fact, value) in malformed {
        let mut f = clean();
        f.set(fact, value.clone());
        let d = decide(&set, &f);
        assert_eq!(d.outcome, Outcome::ManualReview, "{} = {value:?}", fact.name());
        assert_eq!(d.reasons.len(), 1, "{:?}", d.reasons);
        assert!(d.reasons[0].contains(fact.name()), "{}", d.reasons[0]);
    }
    // Values that are merely unusual stay with the rules: overlapping nights give negative hours.
    let mut f = clean();
    f.set(Fact::SiteHoursSinceLastApprovalEnd, FactValue::Number(-3.0));
    assert!(f.check().is_ok());
}

#[test]
fn a_stored_snapshot_missing_a_fact_replays_as_manual_review() {
    let mut f = clean();
    f.remove(Fact::FirmGrade);
    let stored = serde_json::to_string(&f).expect("json");
    let replayed: Facts = serde_json::from_str(&stored).expect("json");
    let (_, changes) = simulate(&set(), [("a", Outcome::AutoApprove, &replayed)]);
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].after, Outcome::ManualReview);
}
