//! Read-only views of JSON documents, which is how scripts see a record, its
//! related records and the mapped payload: the document is shared by every
//! rule and expression of the record as it is, never converted into Rhai
//! values as a whole. Reading a field gives a Rhai value for that field alone
//! (a string, a number, a boolean, `()`), or another view when the field is
//! an object or an array; copying a view copies a handle, not the data.
//!
//! To scripts a view is a map or an array: `type_of` says `"map"` or
//! `"array"`, fields and elements read as they do on maps and arrays,
//! `for` walks an array's elements, and `len`, `is_empty`, `contains` (a
//! map's key), `keys`, `values`, `==`, `!=` and the text forms answer as they
//! do for Rhai's own. Whatever else a script does with a view (any other
//! function of maps and arrays, a change to a field or an element) first
//! turns it into a Rhai map or array, in place, and then goes on exactly as
//! it would have: a script never tells a view from a converted document,
//! except by being faster, and by where an index out of an array view's
//! bounds is reported (at its `[`, not at the index within).

use std::ptr::NonNull;
use std::sync::Arc;

use rhai::{Array, Dynamic, Engine, EvalAltResult, ImmutableString, Map, NativeCallContext, INT};
use serde_json::Value;

/// A JSON document scripts read through views: a record, a related record or
/// a payload. It is never changed while views of it exist.
pub type Document = Arc<Value>;

/// A view of a JSON object inside a [`Document`].
#[derive(Clone)]
pub struct ObjectView {
    doc: Document,
    at: NonNull<serde_json::Map<String, Value>>,
}

/// A view of a JSON array inside a [`Document`].
#[derive(Clone)]
pub struct ArrayView {
    doc: Document,
    at: NonNull<Vec<Value>>,
}

// SAFETY: a view is an `Arc` of its document and a pointer into that same
// document, derived from a shared reference to it (see `value_in`). The
// document is immutable while any `Arc` of it exists, so the pointer stays
// valid for as long as the view, on any thread, as a `&Value` into an
// `Arc<Value>` would.
unsafe impl Send for ObjectView {}
// SAFETY: as for `Send`: views only ever read the document.
unsafe impl Sync for ObjectView {}
// SAFETY: as for `ObjectView`.
unsafe impl Send for ArrayView {}
// SAFETY: as for `ObjectView`.
unsafe impl Sync for ArrayView {}

impl ObjectView {
    /// The object's members.
    pub fn members(&self) -> &serde_json::Map<String, Value> {
        // SAFETY: `at` points into `doc`, which `self` keeps alive and which
        // is not changed while it is shared (see the `Send` impl).
        unsafe { self.at.as_ref() }
    }

    /// A member as a script sees it: a Rhai value, or a view.
    pub fn get(&self, key: &str) -> Dynamic {
        self.members()
            .get(key)
            .map_or(Dynamic::UNIT, |v| value_in(&self.doc, v))
    }
}

impl ArrayView {
    /// The array's elements.
    pub fn items(&self) -> &[Value] {
        // SAFETY: as in `ObjectView::members`.
        unsafe { self.at.as_ref() }
    }

    /// An element as a script sees it.
    pub fn get(&self, index: usize) -> Dynamic {
        value_in(&self.doc, &self.items()[index])
    }
}

/// What a script sees of `doc` as a whole: a view of its object or array,
/// or the Rhai value of a scalar document.
pub fn view(doc: &Document) -> Dynamic {
    value_in(doc, doc)
}

/// `value`, which lies inside `doc`, as a script sees it. Private: every
/// view's pointer is derived here from a reference into its own document.
fn value_in(doc: &Document, value: &Value) -> Dynamic {
    match value {
        Value::Object(members) => Dynamic::from(ObjectView {
            doc: doc.clone(),
            at: NonNull::from(members),
        }),
        Value::Array(items) => Dynamic::from(ArrayView {
            doc: doc.clone(),
            at: NonNull::from(items),
        }),
        scalar => super::json_to_dynamic(scalar),
    }
}

/// The JSON a view shows, when `value` is a view.
pub fn viewed_json(value: &Dynamic) -> Option<Value> {
    if let Some(object) = value.read_lock::<ObjectView>() {
        return Some(Value::Object(object.members().clone()));
    }
    value
        .read_lock::<ArrayView>()
        .map(|array| Value::Array(array.items().to_vec()))
}

/// True when `value` is a view.
pub fn is_view(value: &Dynamic) -> bool {
    value.is::<ObjectView>() || value.is::<ArrayView>()
}

/// The view's document as Rhai's own map or array; other values as they are.
pub fn materialised(value: &Dynamic) -> Option<Dynamic> {
    if let Some(object) = value.read_lock::<ObjectView>() {
        return Some(Dynamic::from_map(
            object
                .members()
                .iter()
                .map(|(k, v)| (k.as_str().into(), super::json_to_dynamic(v)))
                .collect(),
        ));
    }
    value.read_lock::<ArrayView>().map(|array| {
        Dynamic::from_array(array.items().iter().map(super::json_to_dynamic).collect())
    })
}

/// Turns a view into Rhai's own map or array, in place; true when it was one.
fn materialise(value: &mut Dynamic) -> bool {
    match materialised(value) {
        Some(real) => {
            *value = real;
            true
        }
        None => false,
    }
}

/// Iterates an array view's elements as scripts see them.
pub struct Elements {
    array: ArrayView,
    next: usize,
}

impl Iterator for Elements {
    type Item = Dynamic;

    fn next(&mut self) -> Option<Dynamic> {
        let item = self.array.items().get(self.next)?;
        self.next += 1;
        Some(value_in(&self.array.doc, item))
    }
}

impl IntoIterator for ArrayView {
    type Item = Dynamic;
    type IntoIter = Elements;

    fn into_iter(self) -> Elements {
        Elements {
            array: self,
            next: 0,
        }
    }
}

/// Rhai's index of `index` in an array of `len` (negative from the end).
fn array_index(len: usize, index: INT) -> Result<usize, Box<EvalAltResult>> {
    let found = if index < 0 {
        usize::try_from(index.unsigned_abs())
            .ok()
            .filter(|back| *back <= len && len > 0)
            .map(|back| len - back)
    } else {
        usize::try_from(index).ok().filter(|i| *i < len)
    };
    found.ok_or_else(|| EvalAltResult::ErrorArrayBounds(len, index, rhai::Position::NONE).into())
}

/// Calls the script function `name` on the arguments with every view turned
/// into Rhai's own value first.
fn call_materialised(
    ctx: &NativeCallContext,
    name: &str,
    mut args: Vec<Dynamic>,
) -> Result<Dynamic, Box<EvalAltResult>> {
    for arg in &mut args {
        materialise(arg);
    }
    let mut refs: Vec<&mut Dynamic> = args.iter_mut().collect();
    ctx.call_native_fn_raw(name, false, &mut refs)
}

/// Registers, for every name in `properties`, a getter that reads that field
/// of an object view (`line.Description`). Without one a property read still
/// works, through the view's indexer, after Rhai has looked for a getter and
/// built the error it falls back from; the module's scripts name their
/// properties, so they are registered once when the module is compiled.
pub fn register_properties<'a>(engine: &mut Engine, properties: impl IntoIterator<Item = &'a str>) {
    for name in properties {
        let key = name.to_string();
        engine.register_get(name, move |object: &mut ObjectView| object.get(&key));
    }
}

/// Adds the name of every property `ast` reads or writes (`x.name`) to `into`.
pub fn collect_properties(ast: &rhai::AST, into: &mut std::collections::BTreeSet<String>) {
    ast.walk(&mut |path: &[rhai::ASTNode]| {
        if let Some(rhai::ASTNode::Expr(rhai::Expr::Property(property, ..))) = path.last() {
            into.insert(property.2.to_string());
        }
        true
    });
}

/// Registers the view types and what scripts can do with them.
pub fn register(engine: &mut Engine) {
    engine.register_type_with_name::<ObjectView>("map");
    engine.register_type_with_name::<ArrayView>("array");
    engine.register_iterator::<ArrayView>();

    engine.register_indexer_get(|object: &mut ObjectView, key: &str| object.get(key));
    engine.register_indexer_get(
        |array: &mut ArrayView, index: INT| -> Result<Dynamic, Box<EvalAltResult>> {
            let at = array_index(array.items().len(), index)?;
            Ok(array.get(at))
        },
    );

    engine.register_fn("len", |object: &mut ObjectView| {
        object.members().len() as INT
    });
    engine.register_fn("len", |array: &mut ArrayView| array.items().len() as INT);
    engine.register_fn("is_empty", |object: &mut ObjectView| {
        object.members().is_empty()
    });
    engine.register_fn("is_empty", |array: &mut ArrayView| array.items().is_empty());
    engine.register_fn("contains", |object: &mut ObjectView, key: &str| {
        object.members().contains_key(key)
    });
    engine.register_fn("keys", |object: &mut ObjectView| -> Array {
        object
            .members()
            .keys()
            .map(|k| Dynamic::from(ImmutableString::from(k.as_str())))
            .collect()
    });
    engine.register_fn("values", |object: &mut ObjectView| -> Array {
        object
            .members()
            .values()
            .map(|v| value_in(&object.doc, v))
            .collect()
    });

    // Text forms and comparisons: as Rhai's own maps and arrays give them.
    for name in [rhai::FUNC_TO_STRING, rhai::FUNC_TO_DEBUG] {
        engine.register_fn(
            name,
            move |ctx: NativeCallContext, object: &mut ObjectView| {
                call_materialised(&ctx, name, vec![Dynamic::from(object.clone())])
            },
        );
        engine.register_fn(
            name,
            move |ctx: NativeCallContext, array: &mut ArrayView| {
                call_materialised(&ctx, name, vec![Dynamic::from(array.clone())])
            },
        );
    }
    for op in ["==", "!="] {
        macro_rules! compare {
            ($left:ty, $right:ty) => {
                engine.register_fn(
                    op,
                    move |ctx: NativeCallContext, left: &mut $left, right: $right| {
                        call_materialised(
                            &ctx,
                            op,
                            vec![Dynamic::from(left.clone()), Dynamic::from(right)],
                        )
                    },
                );
            };
        }
        compare!(ObjectView, ObjectView);
        compare!(ObjectView, Map);
        compare!(Map, ObjectView);
        compare!(ArrayView, ArrayView);
        compare!(ArrayView, Array);
        compare!(Array, ArrayView);
    }

    // A change to a view's field or element (`line.Quantity = 2`, `lines[0] = x`)
    // makes it Rhai's own map or array first. Registered for any target, so
    // other values keep Rhai's own refusal. Rhai also calls it to write back
    // a value a method may have changed (`record.Lines.len()`): on a
    // constant that is refused as it is for a map, which Rhai takes as
    // "nothing to write back"; so it is registered as pure, not to be
    // refused by Rhai first with an error that stops the script.
    rhai::FuncRegistration::new("index$set$")
        .with_purity(true)
        .register_into_engine(
            engine,
            |ctx: NativeCallContext,
             target: &mut Dynamic,
             index: Dynamic,
             value: Dynamic|
             -> Result<(), Box<EvalAltResult>> {
                if target.is_read_only() || !materialise(target) {
                    let engine = ctx.engine();
                    return Err(EvalAltResult::ErrorIndexingType(
                        format!(
                            "{} [{}] = {}",
                            engine.map_type_name(target.type_name()),
                            engine.map_type_name(index.type_name()),
                            engine.map_type_name(value.type_name())
                        ),
                        rhai::Position::NONE,
                    )
                    .into());
                }
                if let Some(mut map) = target.write_lock::<Map>() {
                    let key = index.into_immutable_string().map_err(|found| {
                        Box::new(EvalAltResult::ErrorMismatchDataType(
                            "string".into(),
                            found.into(),
                            rhai::Position::NONE,
                        ))
                    })?;
                    map.insert(key.as_str().into(), value);
                    return Ok(());
                }
                let mut array = target
                    .write_lock::<Array>()
                    .expect("a view becomes a map or an array");
                let index = index.as_int().map_err(|found| {
                    Box::new(EvalAltResult::ErrorMismatchDataType(
                        "i64".into(),
                        found.into(),
                        rhai::Position::NONE,
                    ))
                })?;
                let at = array_index(array.len(), index)?;
                array[at] = value;
                Ok(())
            },
        );

    // Any other function of maps and arrays: the views among the arguments
    // become Rhai's own values, in place, and the call is made again.
    #[allow(deprecated)]
    engine.on_missing_function(|name, args, is_method_call, mut ctx| {
        let mut changed = false;
        for arg in args.iter_mut() {
            changed |= materialise(arg);
        }
        if !changed {
            return Ok(None);
        }
        ctx.call_fn_raw(name, is_method_call, is_method_call, args)
            .map(Some)
    });
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::sync::Arc;

    use rhai::{Dynamic, Scope};
    use serde_json::json;

    use super::{register_properties, view, Document};
    use crate::script::{build_engine, dynamic_to_json, json_to_dynamic, ScriptLimits};

    /// What `script` answers with `record` as a view and as Rhai's own
    /// value, as JSON (errors as their text).
    fn both(record: &serde_json::Value, script: &str) -> (String, String) {
        let mut engine = build_engine(ScriptLimits::default(), Arc::default());
        let ast = engine.compile(script).expect("compiles");
        let mut properties = BTreeSet::new();
        super::collect_properties(&ast, &mut properties);
        register_properties(&mut engine, properties.iter().map(String::as_str));
        let run = |value: Dynamic| {
            let mut scope = Scope::new();
            scope.push_constant_dynamic("record", value);
            match engine.eval_ast_with_scope::<Dynamic>(&mut scope, &ast) {
                Ok(v) => dynamic_to_json(&v).to_string(),
                Err(e) => format!("error: {e}"),
            }
        };
        let doc: Document = Arc::new(record.clone());
        (run(view(&doc)), run(json_to_dynamic(record)))
    }

    #[test]
    fn scripts_read_a_view_as_they_read_the_converted_record() {
        let record = json!({
            "Status": "Approved",
            "Account_Name": {"name": "Acme", "id": "42"},
            "Lines": [
                {"Quantity": 2, "Price": 1.5, "Tax": [{"name": "GST"}]},
                {"Quantity": 3, "Price": 0.5, "Tax": []}
            ],
            "Empty": {},
            "Nothing": null
        });
        for script in [
            "type_of(record)",
            "type_of(record.Lines)",
            "record.Status",
            "record[\"Account_Name\"].name",
            "record.Missing",
            "record.Lines[1].Quantity",
            "record.Lines[-1].Price",
            "let t = 0.0; for l in record.Lines { t += l.Quantity * l.Price } t",
            "record.Lines.len() + record.len()",
            "is_blank(record.Empty) && is_blank(record.Nothing) && !is_blank(record.Lines)",
            "record.contains(\"Status\") && !record.contains(\"Nope\")",
            "record.keys()",
            "record.Account_Name.values()",
            "`${record.Account_Name}`",
            "record.Lines[0].Tax.to_debug()",
            "record.Account_Name == #{name: \"Acme\", id: \"42\"}",
            "record.Lines != []",
            "record.Lines.map(|l| l.Quantity)",
            "record.Lines.filter(|l| l.Tax.len() > 0).len()",
            "let a = record.Account_Name; a.name = \"Other\"; [a, record.Account_Name.name]",
            "let l = record.Lines; l[0] = 1; l",
            "record.Lines + [1]",
            "record.Status.len()",
            "record.Lines.len()",
            "record.Lines[0].Tax[0].name",
            "let a = record.Account_Name; a.name.len(); a",
            "\"Status\" in record",
            "record.Lines.contains(#{Quantity: 3, Price: 0.5, Tax: []})",
            "lookup(\"none\", record.Account_Name)",
            "record.Lines[0].Tax.is_empty() || record.Empty.is_empty()",
        ] {
            let (viewed, converted) = both(&record, script);
            assert_eq!(viewed, converted, "{script}");
        }
    }

    #[test]
    fn an_index_out_of_bounds_fails_as_on_an_array_pointing_at_the_bracket() {
        let record = json!({"Lines": [1, 2]});
        let (viewed, converted) = both(&record, "record.Lines[5]");
        assert_eq!(
            viewed,
            "error: Array index 5 out of bounds: only 2 elements in array (line 1, position 13)"
        );
        assert_eq!(
            converted,
            "error: Array index 5 out of bounds: only 2 elements in array (line 1, position 14)"
        );
    }
}
