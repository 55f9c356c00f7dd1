//! YAML loading with positions: typed deserialisation through serde_yaml, plus
//! an index from dotted key paths to their place in the file, so that errors
//! found after parsing (a bad JSONPath, an unknown lookup) still point at the
//! exact line and column. A file without keys at its top (a secret, a word
//! list, `/etc/passwd`) is refused without a word of its content, and
//! serde's messages lose the string values they would quote.

use std::collections::HashMap;

use serde::de::DeserializeOwned;
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;

use crate::diagnostic::{codes, ConfigError, Location, SourceFile};

/// Where one node sits in the file.
#[derive(Debug, Clone, Copy)]
struct NodeSpan {
    key_offset: Option<usize>,
    value_offset: usize,
    value_len: usize,
}

/// A parsed YAML file with its key-path index.
#[derive(Debug, Clone)]
pub struct YamlDoc {
    /// The file the document came from.
    pub file: SourceFile,
    spans: HashMap<String, NodeSpan>,
    /// Whether the document's top is keys and values; `None` when empty.
    top_is_mapping: Option<bool>,
}

impl YamlDoc {
    /// Parses `file`, reporting YAML syntax errors with their position.
    pub fn parse(file: SourceFile) -> Result<Self, ConfigError> {
        let mut builder = IndexBuilder::new(&file);
        let mut parser = Parser::new_from_str(&file.text);
        if let Err(err) = parser.load(&mut builder, false) {
            let marker = err.marker();
            let offset = builder.byte_offset(marker.index());
            let location = Location {
                file: file.clone(),
                offset,
                len: 1,
            };
            return Err(ConfigError::at(
                codes::YAML_SYNTAX,
                format!("invalid YAML: {}", err.info()),
                location,
            ));
        }
        let (spans, top_is_mapping) = (builder.spans, builder.top_is_mapping);
        Ok(Self {
            file,
            spans,
            top_is_mapping,
        })
    }

    /// Deserialises the whole document into `T`, turning serde errors (unknown
    /// key, wrong type, missing key) into diagnostics with positions.
    pub fn deserialize<T: DeserializeOwned>(&self) -> Result<T, ConfigError> {
        if self.top_is_mapping == Some(false) {
            return Err(ConfigError::without_source(
                codes::CONFIG_FILE_KIND,
                format!(
                    "{} has no YAML keys at its top, so it is not a project or mapping file \
                     (its content is not shown)",
                    self.file.path.display()
                ),
            ));
        }
        let text = self.file.text.as_str();
        let text = if text.trim().is_empty() { "{}" } else { text };
        serde_yaml::from_str(text).map_err(|e| self.serde_error(e))
    }

    fn serde_error(&self, err: serde_yaml::Error) -> ConfigError {
        let full = without_string_values(&err.to_string());
        // serde_yaml appends " at line L column C"; the location carries that.
        let message = match full.rfind(" at line ") {
            Some(i) => full[..i].to_string(),
            None => full,
        };
        let (key_path, message) = split_key_path(&message);
        let offset = match err.location() {
            Some(loc) => loc.index(),
            None => key_path
                .as_deref()
                .and_then(|p| self.spans.get(p))
                .map(|s| s.value_offset)
                .unwrap_or(0),
        };
        let len = self.token_len(offset);
        let mut error = ConfigError::at(
            codes::CONFIG_INVALID,
            message,
            Location {
                file: self.file.clone(),
                offset,
                len,
            },
        );
        if let Some(path) = key_path {
            error = error.with_key_path(path);
        }
        error
    }

    /// Location of the value at `key_path`, or of its nearest existing ancestor.
    pub fn locate(&self, key_path: &str) -> Location {
        let span = self.find(key_path);
        Location {
            file: self.file.clone(),
            offset: span.map(|s| s.value_offset).unwrap_or(0),
            len: span.map(|s| s.value_len).unwrap_or(1),
        }
    }

    /// Location of the key itself at `key_path` (for "unknown key" style errors).
    pub fn locate_key(&self, key_path: &str) -> Location {
        let span = self.find(key_path);
        let offset = span
            .and_then(|s| s.key_offset.or(Some(s.value_offset)))
            .unwrap_or(0);
        Location {
            file: self.file.clone(),
            offset,
            len: self.token_len(offset),
        }
    }

    /// True when the document has a node at `key_path`.
    pub fn has(&self, key_path: &str) -> bool {
        self.spans.contains_key(key_path)
    }

    /// A diagnostic pointing at the value at `key_path`.
    pub fn error(
        &self,
        code: &'static str,
        message: impl Into<String>,
        key_path: &str,
    ) -> ConfigError {
        ConfigError::at(code, message, self.locate(key_path)).with_key_path(key_path)
    }

    fn find(&self, key_path: &str) -> Option<NodeSpan> {
        let mut path = key_path;
        loop {
            if let Some(span) = self.spans.get(path) {
                return Some(*span);
            }
            let cut = path.rfind(['.', '['])?;
            path = &path[..cut];
        }
    }

    fn token_len(&self, offset: usize) -> usize {
        let rest = &self.file.text[offset.min(self.file.text.len())..];
        let line = rest.split('\n').next().unwrap_or("");
        let end = line
            .find(": ")
            .or_else(|| line.find(" #"))
            .unwrap_or(line.len());
        line[..end].trim_end().len().max(1)
    }
}

/// serde's message without the string values it quotes (`invalid type:
/// string "many", expected u32` becomes `invalid type: a string, expected
/// u32`): the quoted line shows the value, which may run over lines.
fn without_string_values(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(at) = rest.find("string \"") {
        out.push_str(&rest[..at]);
        let quoted = &rest[at + "string \"".len()..];
        let mut escaped = false;
        let end = quoted.char_indices().find_map(|(i, c)| match c {
            _ if escaped => {
                escaped = false;
                None
            }
            '\\' => {
                escaped = true;
                None
            }
            '"' => Some(i),
            _ => None,
        });
        match end {
            Some(end) => {
                out.push_str("a string");
                rest = &quoted[end + 1..];
            }
            None => {
                out.push_str("a string");
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// serde_yaml prefixes messages with the key path (`fields.Date: unknown field`).
fn split_key_path(message: &str) -> (Option<String>, String) {
    if let Some((head, tail)) = message.split_once(": ") {
        let looks_like_path = !head.is_empty()
            && !head.contains(' ')
            && head
                .chars()
                .all(|c| c.is_alphanumeric() || "._[]$-".contains(c));
        if looks_like_path {
            return (Some(head.to_string()), tail.to_string());
        }
    }
    (None, message.to_string())
}

enum Frame {
    Map {
        path: String,
        key: Option<(String, usize)>,
    },
    Seq {
        path: String,
        index: usize,
    },
}

struct IndexBuilder<'a> {
    text: &'a str,
    ascii: bool,
    stack: Vec<Frame>,
    spans: HashMap<String, NodeSpan>,
    top_is_mapping: Option<bool>,
}

impl<'a> IndexBuilder<'a> {
    fn new(file: &'a SourceFile) -> Self {
        Self {
            text: file.text.as_str(),
            ascii: file.text.is_ascii(),
            stack: Vec::new(),
            spans: HashMap::new(),
            top_is_mapping: None,
        }
    }

    fn byte_offset(&self, char_index: usize) -> usize {
        if self.ascii {
            return char_index.min(self.text.len());
        }
        self.text
            .char_indices()
            .nth(char_index)
            .map(|(i, _)| i)
            .unwrap_or(self.text.len())
    }

    fn scalar_len(&self, offset: usize, value: &str) -> usize {
        let rest = &self.text[offset.min(self.text.len())..];
        match rest.chars().next() {
            Some(q @ ('"' | '\'')) => {
                let mut escaped = false;
                for (i, c) in rest.char_indices().skip(1) {
                    if q == '"' && c == '\\' && !escaped {
                        escaped = true;
                        continue;
                    }
                    if c == q && !escaped {
                        return i + 1;
                    }
                    escaped = false;
                }
                rest.len()
            }
            Some('|' | '>') => 1,
            _ if rest.starts_with(value) && !value.is_empty() => value.len(),
            _ => rest
                .split('\n')
                .next()
                .unwrap_or("")
                .trim_end()
                .len()
                .max(1),
        }
    }

    /// Called for every node; decides whether it is a key or a value.
    /// Returns the path of the node when it is a value.
    fn node(&mut self, offset: usize, len: usize, scalar: Option<&str>) -> Option<String> {
        match self.stack.last_mut() {
            None => {
                self.spans.insert(
                    String::new(),
                    NodeSpan {
                        key_offset: None,
                        value_offset: offset,
                        value_len: len,
                    },
                );
                Some(String::new())
            }
            Some(Frame::Map { path, key }) => match key.take() {
                None => {
                    *key = Some((scalar.unwrap_or("").to_string(), offset));
                    None
                }
                Some((name, key_offset)) => {
                    let child = if path.is_empty() {
                        name
                    } else {
                        format!("{path}.{name}")
                    };
                    self.spans.insert(
                        child.clone(),
                        NodeSpan {
                            key_offset: Some(key_offset),
                            value_offset: offset,
                            value_len: len,
                        },
                    );
                    Some(child)
                }
            },
            Some(Frame::Seq { path, index }) => {
                let child = format!("{path}[{index}]");
                *index += 1;
                self.spans.insert(
                    child.clone(),
                    NodeSpan {
                        key_offset: None,
                        value_offset: offset,
                        value_len: len,
                    },
                );
                Some(child)
            }
        }
    }
}

impl MarkedEventReceiver for IndexBuilder<'_> {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        let offset = self.byte_offset(mark.index());
        if self.stack.is_empty() && self.top_is_mapping.is_none() {
            match ev {
                Event::MappingStart(..) => self.top_is_mapping = Some(true),
                Event::SequenceStart(..) | Event::Scalar(..) | Event::Alias(_) => {
                    self.top_is_mapping = Some(false)
                }
                _ => {}
            }
        }
        match ev {
            Event::Scalar(value, ..) => {
                let len = self.scalar_len(offset, &value);
                self.node(offset, len, Some(&value));
            }
            Event::Alias(_) => {
                self.node(offset, 1, Some("*alias"));
            }
            Event::MappingStart(..) => {
                let path = self.node(offset, 1, None).unwrap_or_default();
                self.stack.push(Frame::Map { path, key: None });
            }
            Event::SequenceStart(..) => {
                let path = self.node(offset, 1, None).unwrap_or_default();
                self.stack.push(Frame::Seq { path, index: 0 });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                self.stack.pop();
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn doc(text: &str) -> YamlDoc {
        YamlDoc::parse(SourceFile::from_text(Path::new("t.yaml"), text)).unwrap()
    }

    #[test]
    fn locates_nested_values_by_key_path() {
        let d = doc("a:\n  b: hello\n  list:\n    - x\n    - {c: 'q'}\n");
        assert_eq!(d.locate("a.b").line_col(), (2, 6));
        assert_eq!(d.locate("a.b").len, 5);
        assert_eq!(d.locate("a.list[1].c").line_col(), (5, 11));
        assert_eq!(d.locate("a.list[1].c").len, 3);
        assert_eq!(d.locate_key("a.b").line_col(), (2, 3));
        // unknown paths fall back to the nearest ancestor
        assert_eq!(d.locate("a.b.zzz").line_col(), (2, 6));
    }

    #[test]
    fn positions_count_characters_after_unicode() {
        let d = doc("é: ü\nk: v\n");
        assert_eq!(d.locate("k").line_col(), (2, 4));
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Model {
        name: String,
        count: u32,
    }

    #[test]
    fn a_file_without_keys_is_refused_unquoted() {
        for text in [
            "s3cr3t-token-value\n",
            "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n",
            "- s3cr3t\n- hunter2\n",
        ] {
            let err = doc(text).deserialize::<Model>().unwrap_err();
            assert_eq!(err.code, "config::file_kind");
            let shown = format!("{err}\n{}", err.render(false));
            assert!(
                shown.contains("t.yaml") && shown.contains("no YAML keys"),
                "{shown}"
            );
            for word in ["s3cr3t", "root", "daemon", "hunter2"] {
                assert!(!shown.contains(word), "{word} shown:\n{shown}");
            }
        }
    }

    #[test]
    fn string_values_stay_out_of_messages() {
        let err = doc("name: x\ncount: \"many \\\"more\\\" lines\\nof it\"\n")
            .deserialize::<Model>()
            .unwrap_err();
        assert_eq!(err.message, "invalid type: a string, expected u32");
        assert_eq!(err.key_path.as_deref(), Some("count"));
        assert_eq!(
            without_string_values(r#"invalid type: string "a\"b", expected u32"#),
            "invalid type: a string, expected u32"
        );
    }

    #[test]
    fn syntax_errors_carry_a_position() {
        let err = YamlDoc::parse(SourceFile::from_text(
            Path::new("t.yaml"),
            "a: [1, 2\nb: 3\n",
        ))
        .unwrap_err();
        assert_eq!(err.code, "yaml::syntax");
        assert!(err.position().unwrap().starts_with("t.yaml:"));
    }
}
