//! `make bench-rules`: evaluations per second of the default rule set on one core, on a clean
//! case (every rule evaluated, full trace built). Median of 5 runs.

use nightpermit_rules::*;
use std::time::Instant;

fn main() {
    let text = include_str!("../../../config/rules/default.toml");
    let set = RuleSet::from_toml("default.toml", text).expect("valid");
    let f = nightpermit_rules::example::clean_facts();
    let n = 200_000;
    let mut rates = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let mut approved = 0;
        for _ in 0..n {
            if std::hint::black_box(decide(&set, std::hint::black_box(&f))).outcome == Outcome::AutoApprove {
                approved += 1;
            }
        }
        assert_eq!(approved, n);
        rates.push(n as f64 / t.elapsed().as_secs_f64());
    }
    rates.sort_by(|a, b| a.total_cmp(b));
    println!(
        "default rule set ({} rules): median {:.0} evaluations/s on one core (runs: {:?})",
        set.rule_ids().len(),
        rates[2],
        rates.iter().map(|r| r.round()).collect::<Vec<_>>()
    );
}
