//! What one Rhai operation costs in the engine's script runtime: each kind
//! of step the shipped rules and expressions take per invoice line, run
//! 100 times in a loop over a view of a record, on the engine rules run on
//! (`script::build_engine`, run through `script::CompiledScript` as rules
//! are). The README's benchmark section quotes these figures.
//!
//! Usage: `syncwright-bench-rhai [RUNS]` (release build); each figure is the
//! best of 5 runs of RUNS scripts (default 2,000), in nanoseconds per
//! operation, the loop included.

use std::sync::Arc;
use std::time::Instant;

use rhai::Scope;
use syncwright_engine::script::{
    build_engine, register_properties, view, CompiledScript, ScriptLimits,
};

/// Each step, as a rule or an expression writes it.
const STEPS: [&str; 14] = [
    "if n < 0 { continue; }",
    "n += 1",
    "let x = i + 1;",
    "let x = line.Line_Tax;",
    "let x = taxes[0].name;",
    "let x = is_blank(line);",
    "let x = len(taxes);",
    "let x = taxes.len();",
    "let x = type_of(line) != \"map\";",
    "let x = lookup(\"tax_types\", \"GST\");",
    "let x = names.contains(\"GST\");",
    "for t in taxes { }",
    "let x = `line ${i}`;",
    "let x = check(i, line);",
];

fn main() {
    let runs: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(2_000);
    let mut engine = build_engine(ScriptLimits::default(), Arc::default());
    register_properties(&mut engine, ["Line_Tax", "name"]);
    let record = serde_json::json!({
        "Invoiced_Items": [{"Line_Tax": [{"name": "GST"}], "Description": "Widget"}]
    });
    let doc = Arc::new(record);
    println!("one Rhai step in the engine's runtime, in a loop of 100 (best of 5 x {runs} runs)");
    for step in STEPS {
        let code = format!(
            "fn check(n, line) {{ n > 0 }}\n\
             let line = record.Invoiced_Items[0]; let taxes = line.Line_Tax;\n\
             let names = [\"GST\"]; let n = 0;\n\
             for i in 0..100 {{ {step} }}"
        );
        let script = CompiledScript::new(engine.compile(&code).expect("the step compiles"));
        let best = (0..5)
            .map(|_| {
                let started = Instant::now();
                for _ in 0..runs {
                    let mut scope = Scope::new();
                    scope.push_constant_dynamic("record", view(&doc));
                    drop(std::hint::black_box(
                        script.eval(&engine, &mut scope).expect("the step runs"),
                    ));
                }
                started.elapsed().as_nanos() as f64 / runs as f64 / 100.0
            })
            .fold(f64::INFINITY, f64::min);
        println!("  {best:>6.0} ns  {step}");
    }
}
