//! Two-way links: one link per pair of records that two modules sync both
//! ways (CRM Contacts <-> LMS Users), whichever module made it. Each side
//! keeps what its own module last sent from it (its hash and payload), the
//! record as that module last read it, and what the other module wrote to
//! it since: what a module writes is then told apart from a change made on
//! that side, and never comes back as one.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::model::OrgPair;

/// One side of a two-way pair of modules: the left is the module whose name
/// sorts first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// The records the first module (by name) reads.
    Left,
    /// The records the second module reads.
    Right,
}

impl Side {
    /// The other side.
    pub fn other(self) -> Side {
        match self {
            Side::Left => Side::Right,
            Side::Right => Side::Left,
        }
    }

    /// The side a module reads, in a pair with `peer`.
    pub fn of(module: &str, peer: &str) -> Side {
        if module <= peer {
            Side::Left
        } else {
            Side::Right
        }
    }

    /// The name of the pair of `module` and `peer`: both names, sorted,
    /// joined by `+` (`contacts+users`).
    pub fn pair_name(module: &str, peer: &str) -> String {
        match Side::of(module, peer) {
            Side::Left => format!("{module}+{peer}"),
            Side::Right => format!("{peer}+{module}"),
        }
    }

    /// The pair's organisations, kept as its left module sees them, from
    /// the organisations a module reading this side is bound to.
    pub fn orient(self, bound: &OrgPair) -> OrgPair {
        match self {
            Side::Left => bound.clone(),
            Side::Right => OrgPair {
                source: bound.target.clone(),
                target: bound.source.clone(),
            },
        }
    }
}

/// What is known of one side's record.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PairSide {
    /// The record's id on its side.
    #[serde(default)]
    pub id: String,
    /// Hash of the payload this side's module last sent from the record, or
    /// took as already there; `None` before it has seen the record.
    #[serde(default)]
    pub hash: Option<String>,
    /// That payload, for field-level diffs.
    #[serde(default)]
    pub payload: Option<Value>,
    /// The record as this side's module last read it (or as the other
    /// module found it when settling a conflict).
    #[serde(default)]
    pub image: Option<Value>,
    /// What the other module wrote to the record since this side's module
    /// last read it, merged in order of writing.
    #[serde(default)]
    pub written: Option<Value>,
    /// Hash of `written`.
    #[serde(default)]
    pub written_hash: Option<String>,
    /// True once a full read of this side no longer found the record.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deleted: bool,
}

/// The one link of a pair of records across both directions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairLink {
    /// The organisations, as the pair's left module sees them.
    pub orgs: OrgPair,
    /// The pair of modules (`contacts+users`).
    pub pair: String,
    /// The left module's record.
    pub left: PairSide,
    /// The right module's record.
    pub right: PairSide,
    /// When the link last changed (RFC 3339).
    pub updated_at: String,
}

impl PairLink {
    /// The side `side`.
    pub fn side(&self, side: Side) -> &PairSide {
        match side {
            Side::Left => &self.left,
            Side::Right => &self.right,
        }
    }

    /// The side `side`, to change.
    pub fn side_mut(&mut self, side: Side) -> &mut PairSide {
        match side {
            Side::Left => &mut self.left,
            Side::Right => &mut self.right,
        }
    }
}

/// `written` merged over `base`, object by object: what a record holds
/// after a write of `written` to a record that held `base`.
pub fn merged(base: Option<&Value>, written: &Value) -> Value {
    match (base, written) {
        (Some(Value::Object(base)), Value::Object(written)) => {
            let mut out = base.clone();
            for (k, v) in written {
                let next = merged(out.get(k), v);
                out.insert(k.clone(), next);
            }
            Value::Object(out)
        }
        (_, written) => written.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sides_and_pairs_are_named_by_module_order() {
        assert_eq!(Side::of("contacts", "users"), Side::Left);
        assert_eq!(Side::of("users", "contacts"), Side::Right);
        assert_eq!(Side::pair_name("users", "contacts"), "contacts+users");
        assert_eq!(Side::pair_name("contacts", "users"), "contacts+users");
        let bound = OrgPair {
            source: "rest:lms".into(),
            target: "zoho:1".into(),
        };
        assert_eq!(Side::Right.orient(&bound).source, "zoho:1");
        assert_eq!(Side::Left.orient(&bound), bound);
    }

    #[test]
    fn a_write_merges_over_the_record_field_by_field() {
        let record =
            json!({"id": "_1_1", "name": {"given": "Ada", "family": "Lovelace"}, "modified": "t0"});
        let written = json!({"name": {"given": "Augusta Ada"}, "userName": "ada"});
        assert_eq!(
            merged(Some(&record), &written),
            json!({"id": "_1_1", "name": {"given": "Augusta Ada", "family": "Lovelace"}, "modified": "t0", "userName": "ada"})
        );
        assert_eq!(merged(None, &written), written);
    }
}
