//! Every configuration error code, each with its one-line meaning: the one
//! list diagnostics are built from and the README's table of codes is
//! checked against.
//!
//! A code is written once, here; the code that raises it names its constant
//! (`codes::MAPPING_FIELD`). The tests below read the engine's sources and
//! fail when a code raised there is not listed here, when a code listed here
//! is raised nowhere, or when the README's table says otherwise.

/// One configuration error code and what it means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Code {
    /// The code as diagnostics show it, such as `mapping::jsonpath`.
    pub code: &'static str,
    /// What it means, in one line.
    pub meaning: &'static str,
}

/// Declares each code as a constant documented with its meaning, and the
/// list of them all, from one line per code.
macro_rules! codes {
    ($($name:ident = $code:literal, $meaning:literal;)+) => {
        $(
            #[doc = $meaning]
            pub const $name: &str = $code;
        )+

        /// Every configuration error code, in the order the README lists them.
        pub const ALL: &[Code] = &[$(Code { code: $code, meaning: $meaning }),+];

        /// The constants' names, in the order of [`ALL`].
        #[cfg(test)]
        const NAMES: &[&str] = &[$(stringify!($name)),+];
    };
}

codes! {
    CONFIG_IO = "config::io",
        "A project, mapping or rule file cannot be read.";
    CONFIG_FILE_KIND = "config::file_kind",
        "A file named as a project, mapping or rule file is not one: not a regular file, over 8 MiB, a `${file:...}` secret, a mapping not named `.yaml` or `.yml`, a rule not named `.rhai`, or YAML without keys at its top.";
    YAML_SYNTAX = "yaml::syntax",
        "A file is not valid YAML.";
    CONFIG_INVALID = "config::invalid",
        "A file does not match its model: an unknown key, a value of the wrong type, a missing key.";
    CONFIG_ENV = "config::env",
        "A `${VAR}` or `${file:PATH}` reference cannot be expanded: the variable is not set, or the secret file cannot be read or is readable by others.";
    CONFIG_CONNECTOR = "config::connector",
        "A connection names an unknown connector kind, or options its connector refuses.";
    CONFIG_MODULE = "config::module",
        "A module is listed twice in the project file.";
    CONFIG_MISSING_FILE = "config::missing_file",
        "A module's mapping file does not exist.";
    CONFIG_OVERWRITE = "config::overwrite",
        "An output would write over a file the project reads: a `file` connection a module writes to, or `state:`, is a module's snapshot, the project file, a mapping, a rule, a `${file:...}` secret or the state file.";
    CONFIG_DEPENDS_ON = "config::depends_on",
        "Modules depend on each other in a cycle.";
    CONFIG_SET = "config::set",
        "A `--set KEY=VALUE` override names no setting, or gives one a value it cannot take.";
    MAPPING_CONNECTION = "mapping::connection",
        "A mapping names a connection the project file does not define.";
    MAPPING_MODULE = "mapping::module",
        "A warning: a mapping's `depends_on` or link enrichment names a module the project does not list, close to one it does (a likely typo).";
    MAPPING_JSONPATH = "mapping::jsonpath",
        "A JSONPath does not compile.";
    MAPPING_TWO_WAY = "mapping::two_way",
        "Two modules said to sync both ways do not pair up: the other module is not in the project, does not name this one back, does not read and write the same two connections the other way, or `prefer` names neither connection (nor `newest`) or differs between them.";
    MAPPING_ENRICH = "mapping::enrich",
        "An enrichment lacks what it needs (`module` or `link`; `id`, `ids` or `target_id`), has options that exclude each other, or a JSONPath that does not compile.";
    MAPPING_RULE = "mapping::rule",
        "A rule file the mapping lists does not exist.";
    MAPPING_FIELD = "mapping::field",
        "A field has no value source or more than one, or `each` without `fields` or with `path`.";
    MAPPING_LOOKUP = "mapping::lookup",
        "A field names a lookup table the mapping does not declare.";
    MAPPING_EXPR = "mapping::expr",
        "An `expr` or `when` expression is not valid Rhai.";
    MAPPING_TARGET = "mapping::target",
        "The target resource is not one Xero has.";
    MAPPING_TARGET_FIELD = "mapping::target_field",
        "A target field Xero does not have or computes itself, or built in a shape Xero does not take (a list without `each`, one value with it, `fields` on a plain value); a Zoho CRM field that is not an API name.";
    MAPPING_TARGET_VALUE = "mapping::target_value",
        "A constant, default or lookup value Xero does not allow in its field.";
    RULE_SYNTAX = "rule::syntax",
        "A rule script is not valid Rhai.";
    RULE_IMPORT = "rule::import",
        "A rule's `import` cannot be loaded: its path is not a string, leads outside the project's rules folder or to no file, or the shared module fails as it loads.";
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::{Path, PathBuf};

    use super::{ALL, NAMES};

    /// The engine's source files, each with its text before its unit tests.
    fn engine_sources() -> Vec<(PathBuf, String)> {
        fn walk(dir: &Path, found: &mut Vec<PathBuf>) {
            for entry in std::fs::read_dir(dir).expect("the engine's sources") {
                let path = entry.expect("a directory entry").path();
                if path.is_dir() {
                    walk(&path, found);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    found.push(path);
                }
            }
        }
        let mut paths = Vec::new();
        walk(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
            &mut paths,
        );
        paths.sort();
        paths
            .into_iter()
            .filter(|p| !p.ends_with("diagnostic/codes.rs"))
            .map(|p| {
                let text = std::fs::read_to_string(&p).expect("a source file");
                let code = match text.find("\n#[cfg(test)]\nmod tests") {
                    Some(end) => text[..end].to_string(),
                    None => text,
                };
                (p, code)
            })
            .collect()
    }

    /// String literals shaped as codes (`"mapping::field"`), tracing
    /// targets (`target: "syncwright::script"`) aside.
    fn code_literals(text: &str) -> Vec<&str> {
        let word =
            |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
        text.match_indices('"')
            .filter_map(|(start, _)| {
                let rest = &text[start + 1..];
                let literal = &rest[..rest.find('"')?];
                let (space, name) = literal.split_once("::")?;
                (word(space) && word(name) && !text[..start].ends_with("target: "))
                    .then_some(literal)
            })
            .collect()
    }

    /// True when `text` names the constant (`codes::NAME`).
    fn names_constant(text: &str, name: &str) -> bool {
        let wanted = format!("codes::{name}");
        text.match_indices(&wanted).any(|(at, _)| {
            !text[at + wanted.len()..].starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
        })
    }

    #[test]
    fn codes_are_unique_and_read_as_one_line_each() {
        let mut seen = BTreeSet::new();
        for code in ALL {
            assert!(seen.insert(code.code), "{} is listed twice", code.code);
            assert_eq!(code_literals(&format!("\"{}\"", code.code)), [code.code]);
            assert!(
                code.meaning.ends_with('.')
                    && !code.meaning.contains(['|', '\n'])
                    && code.meaning.starts_with(|c: char| c.is_uppercase()),
                "{}: one sentence, no `|`",
                code.code
            );
        }
        assert_eq!(NAMES.len(), ALL.len());
    }

    #[test]
    fn every_code_raised_is_listed_and_every_listed_code_is_raised() {
        let sources = engine_sources();
        let listed: BTreeSet<&str> = ALL.iter().map(|c| c.code).collect();
        for (path, text) in &sources {
            for literal in code_literals(text) {
                assert!(
                    listed.contains(literal),
                    "{} raises `{literal}`, which diagnostic/codes.rs does not list",
                    path.display()
                );
            }
        }
        for (code, name) in ALL.iter().zip(NAMES) {
            let raised = sources.iter().any(|(_, text)| {
                names_constant(text, name) || code_literals(text).contains(&code.code)
            });
            assert!(raised, "`{}` ({name}) is raised nowhere", code.code);
        }
    }

    #[test]
    fn the_readme_lists_every_code_with_its_meaning() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md");
        let readme = std::fs::read_to_string(&path).expect("README.md");
        let heading = "### Configuration error codes";
        let section = "## The project file and mapping files";
        let at = readme.find(heading).expect("the README's table of codes");
        let section_at = readme.find(section).expect("the README's section on files");
        let next_section = readme[section_at + section.len()..]
            .find("\n## ")
            .map_or(readme.len(), |i| section_at + section.len() + i);
        assert!(
            (section_at..next_section).contains(&at),
            "`{heading}` belongs to `{section}`"
        );
        let table: Vec<&str> = readme[at + heading.len()..]
            .lines()
            .skip_while(|l| !l.starts_with('|'))
            .take_while(|l| l.starts_with('|'))
            .collect();
        let mut expected = vec![
            "| code | meaning |".to_string(),
            "| --- | --- |".to_string(),
        ];
        expected.extend(
            ALL.iter()
                .map(|c| format!("| `{}` | {} |", c.code, c.meaning)),
        );
        assert_eq!(
            table,
            expected,
            "the README's table differs from diagnostic/codes.rs; it should read:\n{}",
            expected.join("\n")
        );
    }
}
