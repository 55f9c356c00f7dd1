//! A module's half of a two-way pair, compiled: the module syncing the
//! other way, the pair's name, the side this module reads, and how a
//! record changed on both sides and a deleted one are settled.

use crate::config::mapping::{DeletePolicy, MappingFile};
use crate::state::Side;

/// Whose change wins when a record changed on both sides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Prefer {
    /// The side this connection is.
    Connection(String),
    /// The side changed last.
    Newest,
}

/// One module's half of a two-way pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TwoWay {
    /// The module syncing the other way.
    pub peer: String,
    /// The pair's name (`contacts+users`).
    pub pair: String,
    /// The side this module reads.
    pub side: Side,
    /// Whose change wins a conflict.
    pub prefer: Prefer,
    /// What a deletion does.
    pub deletes: DeletePolicy,
}

impl TwoWay {
    /// The half `mapping` declares for module `name`, or why it cannot be
    /// one, as (key path, message).
    pub(crate) fn compile(
        name: &str,
        mapping: &MappingFile,
    ) -> Result<Option<TwoWay>, (String, String)> {
        let Some(spec) = &mapping.two_way else {
            return Ok(None);
        };
        if spec.with == name {
            return Err((
                "two_way.with".into(),
                format!("`{name}` cannot sync both ways with itself: name the module syncing the other way"),
            ));
        }
        let prefer = if spec.prefer == "newest" {
            Prefer::Newest
        } else if spec.prefer == mapping.source.connection
            || spec.prefer == mapping.target.connection
        {
            Prefer::Connection(spec.prefer.clone())
        } else {
            return Err((
                "two_way.prefer".into(),
                format!(
                    "`prefer: {}` names neither connection of the pair: use `{}`, `{}` or `newest`",
                    spec.prefer, mapping.source.connection, mapping.target.connection
                ),
            ));
        };
        Ok(Some(TwoWay {
            peer: spec.with.clone(),
            pair: Side::pair_name(name, &spec.with),
            side: Side::of(name, &spec.with),
            prefer,
            deletes: spec.deletes,
        }))
    }

    /// `prefer` as written.
    pub fn prefer_text(&self) -> &str {
        match &self.prefer {
            Prefer::Connection(c) => c,
            Prefer::Newest => "newest",
        }
    }
}
