//! Overloads of functions scripts call on every record, registered for the
//! exact types they are called with most: Rhai finds a function by its
//! arguments' types first, and only then tries again with `Dynamic` for
//! each argument, so a general function costs a second look-up per call.
//! Each answers exactly as the general function it stands in for.

use rhai::{Array, Engine, ImmutableString, Map};

use super::json_view::{ArrayView, ObjectView};

/// Registers the overloads of `is_blank` (the general one takes any value)
/// and of `contains` for an array and a string (Rhai's own calls `==` on
/// each element through the engine).
pub(super) fn register(engine: &mut Engine) {
    engine.register_fn("is_blank", |s: ImmutableString| s.trim().is_empty());
    engine.register_fn("is_blank", |_: ()| true);
    engine.register_fn("is_blank", |o: &mut ObjectView| o.members().is_empty());
    engine.register_fn("is_blank", |a: &mut ArrayView| a.items().is_empty());
    engine.register_fn("is_blank", |a: &mut Array| a.is_empty());
    engine.register_fn("is_blank", |m: &mut Map| m.is_empty());

    // Rhai's `==` between a string and an element: equal text, or a
    // character equal to the whole string; false for any other type.
    engine.register_fn("contains", |array: &mut Array, value: ImmutableString| {
        array.iter().any(|item| {
            if let Some(text) = item.read_lock::<ImmutableString>() {
                return *text == value;
            }
            match item.as_char() {
                Ok(c) => {
                    let mut chars = value.chars();
                    chars.next() == Some(c) && chars.next().is_none()
                }
                Err(_) => false,
            }
        })
    });
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Arc;

    use rhai::{Dynamic, Engine};

    use crate::script::{build_engine, ScriptLimits};

    #[test]
    fn the_overloads_answer_as_the_general_functions() {
        let ours = build_engine(ScriptLimits::default(), Arc::new(BTreeMap::new()));
        // Rhai's own `contains`, and `is_blank` for any value alone.
        let mut general = Engine::new();
        general.register_fn("is_blank", |v: Dynamic| crate::script::is_blank(&v));
        for script in [
            r#"["GST", "VAT"].contains("VAT")"#,
            r#"["GST", "VAT"].contains("GS")"#,
            r#"[].contains("GST")"#,
            r#"[1, (), #{name: "GST"}, ["GST"], true, 'G'].contains("G")"#,
            r#"[1, (), #{name: "GST"}, ["GST"], true, 'G'].contains("GST")"#,
            r#"['G', 'S'].contains("GS")"#,
            r#"is_blank("") && is_blank("  ") && !is_blank(" a ")"#,
            r#"is_blank(()) && is_blank([]) && is_blank(#{}) && !is_blank([()]) && !is_blank(#{a: 1})"#,
            r#"!is_blank(0) && !is_blank(false) && !is_blank('c')"#,
        ] {
            let a: Dynamic = ours.eval(script).expect(script);
            let b: Dynamic = general.eval(script).expect(script);
            assert_eq!(a.as_bool(), b.as_bool(), "{script}");
        }
    }
}
