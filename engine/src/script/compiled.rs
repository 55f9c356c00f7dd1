//! A compiled script that keeps Rhai's function-resolution cache from one
//! run to the next.
//!
//! `Engine::eval_ast_with_scope` starts every run with an empty cache, so
//! each run looks every function, operator and property getter up again
//! through the engine's modules, trying the `Dynamic` overloads one argument
//! at a time when the exact types miss; and a function called only once in
//! a run is never cached at all. A rule runs once per record and a line's
//! expression once per line, so those look-ups were a tenth of the engine's
//! time. Here each script keeps its cache, one per thread, for as long as
//! the thread lives.
//!
//! A run is otherwise Rhai's own (`eval_ast_with_scope`): fresh runtime
//! state (so the operation count starts at zero), the script's functions and
//! embedded modules in reach, and a top-level `return` or `exit` giving the
//! value. Keeping the cache is sound because what a call resolves to depends
//! only on the engine, which is fixed once the project is compiled, and on
//! the script's own functions: a cache is kept per script and engine, never
//! shared.

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};

use rhai::{
    Caches, Dynamic, Engine, EvalAltResult, EvalContext, Expr, Expression, Position, Scope,
    StmtBlock, AST,
};
use rustc_hash::FxHashMap;

/// Most scripts whose caches one thread keeps; past it the thread starts
/// again with none. A project has some dozens, and a server that reloads
/// projects compiles new ones, so this bounds what old ones leave behind.
const CACHES_PER_THREAD: usize = 1024;

/// Numbers scripts so that each finds its own cache.
static NEXT_ID: AtomicU64 = AtomicU64::new(0);

thread_local! {
    // Boxed: a cache is a few hundred bytes, moved out and back on every run.
    // Keyed by script and engine: what a call resolves to is the engine's.
    static CACHES: RefCell<FxHashMap<(u64, usize), Box<Caches>>> =
        RefCell::new(FxHashMap::default());
}

/// A compiled rule or expression, run with its cache kept.
pub struct CompiledScript {
    ast: AST,
    /// The script's statements as one block, which is how Rhai evaluates a
    /// script's top level.
    body: Expr,
    id: u64,
}

impl CompiledScript {
    /// Wraps a compiled script.
    pub fn new(ast: AST) -> Self {
        let body = Expr::Stmt(Box::new(StmtBlock::new(
            ast.statements().iter().cloned(),
            Position::NONE,
            Position::NONE,
        )));
        Self {
            ast,
            body,
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
        }
    }

    /// The script as compiled.
    pub fn ast(&self) -> &AST {
        &self.ast
    }

    /// Runs the script over `scope`, as `engine.eval_ast_with_scope` would.
    /// Variables the script declares at its top level are left in `scope`.
    pub fn eval(&self, engine: &Engine, scope: &mut Scope) -> Result<Dynamic, Box<EvalAltResult>> {
        let mut global = engine.new_global_runtime_state();
        global.source = self.ast.source().map(Into::into);
        global.lib.push(self.ast.shared_lib().clone());
        global.embedded_module_resolver = self.ast.resolver().cloned();
        // Taken out for the run, so that a script run from inside this one
        // (by a native function) finds none and starts its own.
        let key = (self.id, std::ptr::from_ref(engine) as usize);
        let mut caches = CACHES
            .with(|all| all.borrow_mut().remove(&key))
            .unwrap_or_else(|| Box::new(Caches::new()));
        #[allow(deprecated)] // Rhai marks this entry point volatile, not deprecated.
        let result = EvalContext::new(engine, &mut global, &mut caches, scope, None)
            .eval_expression_tree_raw(&Expression::from(&self.body), false);
        CACHES.with(|all| {
            let mut all = all.borrow_mut();
            if all.len() >= CACHES_PER_THREAD {
                all.clear();
            }
            all.insert(key, caches);
        });
        result.or_else(|err| match *err {
            EvalAltResult::Return(value, _) | EvalAltResult::Exit(value, _) => Ok(value),
            _ => Err(err),
        })
    }
}

#[cfg(test)]
mod tests {
    use rhai::{Dynamic, Engine, Scope};

    use super::CompiledScript;

    fn both(engine: &Engine, code: &str, x: i64) -> (String, String) {
        let ast = engine.compile(code).expect("compiles");
        let script = CompiledScript::new(ast.clone());
        let shown = |r: Result<Dynamic, Box<rhai::EvalAltResult>>| match r {
            Ok(v) => format!("{v:?}"),
            Err(e) => format!("error: {e}"),
        };
        let mut scope = Scope::new();
        scope.push_constant("x", x);
        let rhai = shown(engine.eval_ast_with_scope::<Dynamic>(&mut scope, &ast));
        let mut scope = Scope::new();
        scope.push_constant("x", x);
        // Twice: the second run finds the cache the first one filled.
        let _ = script.eval(engine, &mut scope);
        let mut scope = Scope::new();
        scope.push_constant("x", x);
        (shown(script.eval(engine, &mut scope)), rhai)
    }

    #[test]
    fn a_run_answers_as_rhai_s_own_eval() {
        let mut engine = Engine::new();
        engine.set_max_operations(1_000);
        for code in [
            "x + 1",
            "fn twice(v) { v * 2 } twice(x) + twice(1)",
            "if x > 1 { return \"big\"; } \"small\"",
            "exit(x * 3); 0",
            "let total = 0; for i in 0..x { total += i; } total",
            "loop { }",
            "const LIMIT = 3; fn over(v) { v > global::LIMIT } over(x)",
            "x.to_string().len() + \"abc\".len()",
            "let m = #{a: x}; m.a += 1; m",
            "throw `no ${x}`",
            "x / 0",
        ] {
            for x in [0, 2, 5] {
                let (ours, rhai) = both(&engine, code, x);
                assert_eq!(ours, rhai, "{code} with x = {x}");
            }
        }
    }

    #[test]
    fn every_run_gets_the_whole_operation_budget() {
        let mut engine = Engine::new();
        engine.set_max_operations(200);
        let script = CompiledScript::new(
            engine
                .compile("let n = 0; for i in 0..20 { n += i; } n")
                .unwrap(),
        );
        for _ in 0..50 {
            let value = script.eval(&engine, &mut Scope::new()).unwrap();
            assert_eq!(value.as_int().unwrap(), 190);
        }
    }

    #[test]
    fn two_scripts_defining_the_same_function_each_call_their_own() {
        let engine = Engine::new();
        let one = CompiledScript::new(engine.compile("fn f() { 1 } f()").unwrap());
        let two = CompiledScript::new(engine.compile("fn f() { 2 } f()").unwrap());
        for _ in 0..3 {
            assert_eq!(
                one.eval(&engine, &mut Scope::new()).unwrap().as_int(),
                Ok(1)
            );
            assert_eq!(
                two.eval(&engine, &mut Scope::new()).unwrap().as_int(),
                Ok(2)
            );
        }
    }
}
