//! Page tokens: where a list call is, encoded into `page_token`.

use base64::Engine;
use serde_json::{json, Value};

/// Where a list call is: encoded into `page_token`.
#[derive(Debug, Clone)]
pub(super) struct ListCursor {
    pub(super) offset: usize,
    pub(super) per_page: usize,
    pub(super) sort_by: String,
    pub(super) sort_order: String,
    pub(super) since: Option<String>,
}

impl ListCursor {
    pub(super) fn encode(&self) -> String {
        let v = json!({"o": self.offset, "p": self.per_page, "b": self.sort_by, "s": self.sort_order, "m": self.since});
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    }
    pub(super) fn decode(tok: &str) -> Option<Self> {
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(tok)
            .ok()?;
        let v: Value = serde_json::from_slice(&raw).ok()?;
        Some(ListCursor {
            offset: v["o"].as_u64()? as usize,
            per_page: v["p"].as_u64()? as usize,
            sort_by: v["b"].as_str()?.to_string(),
            sort_order: v["s"].as_str()?.to_string(),
            since: v["m"].as_str().map(str::to_string),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_token_round_trips_and_garbage_is_refused() {
        let c = ListCursor {
            offset: 400,
            per_page: 200,
            sort_by: "Modified_Time".into(),
            sort_order: "desc".into(),
            since: Some("2024-01-01T00:00:00+00:00".into()),
        };
        let back = ListCursor::decode(&c.encode()).unwrap();
        assert_eq!(
            (
                back.offset,
                back.per_page,
                back.sort_by.as_str(),
                back.sort_order.as_str()
            ),
            (400, 200, "Modified_Time", "desc")
        );
        assert_eq!(back.since, c.since);
        assert!(ListCursor::decode("not-a-token").is_none());
    }
}
