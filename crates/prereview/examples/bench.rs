//! `make bench-prereview`: the synthetic corpus through the pre-review engine the worker uses
//! (2 OCR threads), scored against ground truth, timed, and compared with the tesseract CLI
//! reading the same image pages one after another.
//! Usage: bench [CLEAN_CASES=16] [CLI_CASES=6]

use nightpermit_domain::MaterialKind;
use nightpermit_prereview::synth::{self, Format};
use nightpermit_prereview::text::{self, Comparison};
use nightpermit_prereview::*;
use std::time::Instant;

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn main() {
    let args: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let clean = args.first().copied().unwrap_or(16);
    let cli_cases = args.get(1).copied().unwrap_or(6);
    let font = synth::font(0).expect("CJK font (make deps)");
    let start = chrono::NaiveDate::from_ymd_opt(2026, 12, 1).expect("date");
    let corpus = synth::corpus(start, clean);
    let mut reviewer = Prereviewer::new(2);
    if let Some(n) = args.get(2) {
        reviewer.second_looks = *n;
    }
    let (mut correct, mut false_pass, mut false_flag, mut clean_n, mut defect_n) = (0, 0, 0, 0, 0);
    let mut latencies = Vec::new();
    let mut fields: std::collections::BTreeMap<&str, (usize, usize)> = Default::default();
    let mut ours_on_cli_cases = 0.0;
    let mut cli_total = 0.0;
    let mut cli_done = 0;
    for cc in &corpus {
        let files = synth::corpus_files(cc, &font);
        let form = synth::form(&cc.case);
        let t = Instant::now();
        let report = reviewer.review(&form, files.clone(), &|_| {}).expect("review");
        let secs = t.elapsed().as_secs_f64();
        latencies.push(secs);
        let errors: Vec<&str> =
            report.findings.iter().filter(|f| f.severity == Severity::Error).map(|f| f.code.as_str()).collect();
        let is_clean = cc.expected_errors.is_empty();
        let ok = if is_clean {
            report.verdict == Verdict::Pass
        } else {
            cc.expected_errors.iter().all(|e| errors.contains(e))
        };
        if is_clean {
            clean_n += 1;
            if report.verdict != Verdict::Pass {
                false_flag += 1;
            }
        } else {
            defect_n += 1;
            if report.verdict == Verdict::Pass {
                false_pass += 1;
            }
        }
        if ok {
            correct += 1;
        }
        let warnings = report.findings.iter().filter(|f| f.severity == Severity::Warning).count();
        println!(
            "{:<28} {:>5.2}s pages {:>2} verdict {:<16} errors {:?} warnings {} {}",
            cc.name,
            secs,
            report.pages,
            report.verdict.id(),
            errors,
            warnings,
            if ok { "" } else { "  <-- WRONG" }
        );
        if !ok {
            for f in &report.findings {
                println!(
                    "      {} {:?} {} expected={:?} found={:?}",
                    f.code, f.severity, f.message, f.expected, f.found
                );
            }
        }
        if is_clean {
            let mut score = |name: &'static str, good: bool| {
                let e = fields.entry(name).or_default();
                e.1 += 1;
                if good {
                    e.0 += 1;
                }
            };
            for r in &report.readings {
                match r.kind {
                    MaterialKind::BusinessLicense => {
                        let code = text::read_credit_code(&r.pages, None);
                        score(
                            "credit_code",
                            matches!(code, Some(text::CodeReading::Valid { ref code, .. }) if code.as_str() == cc.case.credit_code),
                        );
                        let name = text::labeled_value(&r.pages, &["名称"])
                            .map(|(v, _)| text::compare(&cc.case.firm_name, &v));
                        score("firm_name", name == Some(Comparison::Same));
                    }
                    MaterialKind::ConstructionPermit => {
                        let no = text::labeled_value(&r.pages, &["编号"])
                            .map(|(v, _)| text::fold_str(&v.iter().map(|c| c.ch).collect::<String>()));
                        score("permit_no", no.as_deref() == Some(cc.case.permit_no.as_str()));
                        let p = text::labeled_value(&r.pages, &["工程名称"])
                            .map(|(v, _)| text::compare(&cc.case.project_name, &v));
                        score("project_name", p == Some(Comparison::Same));
                        let b = text::labeled_value(&r.pages, &["建设单位"])
                            .map(|(v, _)| text::compare(&cc.case.builder, &v));
                        score("builder", b == Some(Comparison::Same));
                    }
                    MaterialKind::ProcessCertificate | MaterialKind::ResidentNotice => {
                        let range = text::date_range_in(&r.pages, &["日期"]).map(|(r, _)| r);
                        score(
                            "date_range",
                            range.is_some_and(|r| r.start == cc.case.start_date && r.end == Some(cc.case.end_date)),
                        );
                        if r.kind == MaterialKind::ResidentNotice {
                            let h = text::nightly_hours_in(&r.pages);
                            score(
                                "nightly_hours",
                                h.is_some_and(|(a, b, _)| a == cc.case.nightly_start && b == cc.case.nightly_end),
                            );
                        }
                        score("seal", !r.seals.is_empty());
                    }
                    _ => {}
                }
            }
        }
        // The same image pages through the tesseract CLI, one after another.
        if is_clean && cli_done < cli_cases && cc.files.iter().all(|f| !matches!(f.3, Format::Pdf(_))) {
            let dir = std::env::temp_dir().join(format!("np-bench-{}", std::process::id()));
            std::fs::create_dir_all(&dir).expect("dir");
            let t = Instant::now();
            for f in &files {
                let path = dir.join(format!("{}.img", f.id));
                std::fs::write(&path, &f.bytes).expect("write");
                let out = std::process::Command::new("tesseract")
                    .arg(&path)
                    .arg("-")
                    .args(["-l", "chi_sim", "--oem", "1", "--psm", "6"])
                    .output()
                    .expect("tesseract CLI");
                assert!(out.status.success());
            }
            cli_total += t.elapsed().as_secs_f64();
            ours_on_cli_cases += secs;
            cli_done += 1;
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
    latencies.sort_by(|a, b| a.total_cmp(b));
    println!();
    println!("applications: {} ({} clean, {} defective)", corpus.len(), clean_n, defect_n);
    println!("verdict accuracy: {}/{} = {:.1} %", correct, corpus.len(), 100.0 * correct as f64 / corpus.len() as f64);
    println!("false passes (defective judged pass): {false_pass}");
    println!(
        "false flags (clean judged needs_correction): {false_flag}/{clean_n} = {:.1} %",
        100.0 * false_flag as f64 / clean_n.max(1) as f64
    );
    for (name, (good, total)) in &fields {
        println!("field {name:<14} {good}/{total} = {:.1} %", 100.0 * *good as f64 / (*total).max(1) as f64);
    }
    println!(
        "latency per application: p50 {:.2} s, p95 {:.2} s, max {:.2} s",
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.95),
        percentile(&latencies, 1.0)
    );
    if cli_done > 0 {
        println!(
            "ratio to sequential tesseract CLI on the same pages ({cli_done} applications): {:.2} s / {:.2} s = {:.2}",
            ours_on_cli_cases,
            cli_total,
            ours_on_cli_cases / cli_total
        );
    }
}
