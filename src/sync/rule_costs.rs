//! `--profile-rules`: the time spent in each rule, printed after a pass.

use syncwright_engine::rules::RuleCost;
use syncwright_engine::Module;

/// Per-rule cost, slowest first, so an integrator sees which rule is slow;
/// then the mapping expressions, and all Rhai time per record. Times are
/// CPU time summed over the threads that evaluated records.
pub(super) fn print_rule_costs(modules: &[&Module]) {
    eprintln!(
        "{:<12} {:<8} {:<32} {:>9} {:>12} {:>10}",
        "MODULE", "STAGE", "RULE", "RECORDS", "TOTAL ms", "µs/record"
    );
    for module in modules {
        let mut rows: Vec<(&str, RuleCost)> = Vec::new();
        rows.extend(
            module
                .source_rules()
                .costs()
                .into_iter()
                .map(|c| ("source", c)),
        );
        rows.extend(
            module
                .target_rules()
                .costs()
                .into_iter()
                .map(|c| ("target", c)),
        );
        rows.sort_by_key(|r| std::cmp::Reverse(r.1.nanos));
        rows.push(("mapping", module.expression_cost()));
        // Every record runs the source rules: the largest count is the records'.
        let records = rows.iter().map(|r| r.1.calls).max().unwrap_or(0);
        let total: u64 = rows.iter().map(|r| r.1.nanos).sum();
        for (stage, cost) in rows {
            eprintln!(
                "{:<12} {:<8} {:<32} {:>9} {:>12.1} {:>10.1}",
                module.name,
                stage,
                cost.rule,
                cost.calls,
                cost.nanos as f64 / 1e6,
                micros_per(cost.nanos, cost.calls)
            );
        }
        eprintln!(
            "{:<12} {:<8} {:<32} {:>9} {:>12.1} {:>10.1}",
            module.name,
            "all",
            "Rhai: rules + mapping expressions",
            records,
            total as f64 / 1e6,
            micros_per(total, records)
        );
    }
}

/// Microseconds per call (0 when there were none).
fn micros_per(nanos: u64, calls: u64) -> f64 {
    if calls == 0 {
        0.0
    } else {
        nanos as f64 / calls as f64 / 1000.0
    }
}
