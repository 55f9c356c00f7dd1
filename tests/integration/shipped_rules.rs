//! The shipped rules as documented things, like a linter's lints. Every
//! `.rhai` file under `rules/` (and under each LMS example's own `rules/`)
//! opens with the same header (`What it checks:`, `Why:`, `Codes:`,
//! `Example:`); its codes are the codes its body raises (through the shared
//! modules it imports too); every code of every rule is shown by a case of
//! the suite beside it, each case named after the rule it shows; and each
//! README table of violation codes is the one the headers give.
//!
//! `SYNCWRIGHT_UPDATE_README=1 cargo test --test integration shipped_rules`
//! writes the table into README.md; read its diff.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::support::harness;

/// The folder of shared modules: `.rhai` files of functions rules import.
const SHARED: &str = "shared";

/// Where rules are shipped: a rules folder, the suite whose cases show
/// them, and the README heading above their table of codes.
struct Shelf {
    rules: &'static str,
    cases: &'static str,
    heading: &'static str,
}

/// The project's rules (shown by the Zoho -> Xero example's suite), and each
/// LMS example's own.
const SHELVES: &[Shelf] = &[
    Shelf {
        rules: "rules",
        cases: "examples/zoho-crm-to-xero/tests",
        heading: "### Violation codes",
    },
    Shelf {
        rules: "examples/canvas-crm/rules",
        cases: "examples/canvas-crm/tests",
        heading: "#### Canvas violation codes",
    },
    Shelf {
        rules: "examples/blackboard-crm/rules",
        cases: "examples/blackboard-crm/tests",
        heading: "#### Blackboard violation codes",
    },
];

/// A code a header lists: `- CODE (severity, ...): meaning`.
#[derive(Debug, Clone, PartialEq)]
struct ListedCode {
    code: String,
    /// In the order the header gives them.
    severities: Vec<String>,
    meaning: String,
}

/// A shipped file's header.
#[derive(Debug)]
struct Header {
    what: String,
    why: String,
    codes: Vec<ListedCode>,
    example: String,
}

/// One `.rhai` file of `rules/`: `invoices/status`, `shared/xero_lines`.
struct Shipped {
    name: String,
    path: PathBuf,
    text: String,
}

impl Shipped {
    fn is_shared_module(&self) -> bool {
        self.name.starts_with(&format!("{SHARED}/"))
    }

    fn header(&self) -> Header {
        parse_header(&self.text).unwrap_or_else(|e| panic!("{}: {e}", self.path.display()))
    }
}

/// Every `.rhai` file of the shelf's `<folder>/`, in name order.
fn shipped(shelf: &Shelf) -> Vec<Shipped> {
    let root = harness::root().join(shelf.rules);
    let mut found = Vec::new();
    for folder in std::fs::read_dir(&root).unwrap() {
        let folder = folder.unwrap().path();
        if !folder.is_dir() {
            continue;
        }
        for file in std::fs::read_dir(&folder).unwrap() {
            let path = file.unwrap().path();
            if path.extension().is_some_and(|e| e == "rhai") {
                let name = format!(
                    "{}/{}",
                    folder.file_name().unwrap().to_string_lossy(),
                    path.file_stem().unwrap().to_string_lossy()
                );
                let text = std::fs::read_to_string(&path).unwrap();
                found.push(Shipped { name, path, text });
            }
        }
    }
    found.sort_by(|a, b| a.name.cmp(&b.name));
    assert!(
        found.len() >= 5,
        "{}: the rules folders were read",
        shelf.rules
    );
    found
}

/// The shipped rules, without the shared modules.
fn rules(shelf: &Shelf) -> Vec<Shipped> {
    shipped(shelf)
        .into_iter()
        .filter(|s| !s.is_shared_module())
        .collect()
}

/// Reads the `//!` block a file opens with.
fn parse_header(text: &str) -> Result<Header, String> {
    const HEADINGS: [&str; 4] = ["What it checks:", "Why:", "Codes:", "Example:"];
    let mut sections: Vec<(usize, String)> = Vec::new();
    let mut codes: Vec<ListedCode> = Vec::new();
    for line in text.lines().take_while(|l| l.starts_with("//!")) {
        let line = line.trim_start_matches("//!");
        let line = line.strip_prefix(' ').unwrap_or(line);
        if let Some(i) = HEADINGS.iter().position(|h| line.starts_with(h)) {
            if i != sections.len() {
                return Err(format!(
                    "`{}` out of place: the header's headings are {HEADINGS:?}, in that order",
                    HEADINGS[i]
                ));
            }
            sections.push((i, line[HEADINGS[i].len()..].trim().to_string()));
        } else if let Some(entry) = line.strip_prefix("- ") {
            if sections.len() != 3 {
                return Err(format!("`- {entry}` outside `Codes:`"));
            }
            codes.push(parse_code(entry)?);
        } else if let Some(more) = line.strip_prefix("  ") {
            let more = more.trim();
            match (sections.len(), codes.last_mut()) {
                (3, Some(code)) => code.meaning = format!("{} {more}", code.meaning),
                (0, _) | (3, None) => return Err(format!("`{more}` continues no heading")),
                _ => {
                    let text = &mut sections.last_mut().unwrap().1;
                    *text = format!("{text} {more}").trim().to_string();
                }
            }
        } else {
            return Err(format!(
                "`{line}`: a header line is a heading ({HEADINGS:?}), a code (`- CODE (severity): meaning`) or a continuation indented by two spaces"
            ));
        }
    }
    if sections.len() != HEADINGS.len() {
        return Err(format!(
            "the file must open with a `//!` header with {HEADINGS:?}; found {} of them",
            sections.len()
        ));
    }
    let text = |i: usize| sections[i].1.clone();
    for (i, heading) in HEADINGS.iter().enumerate() {
        if i != 2 && text(i).is_empty() {
            return Err(format!("`{heading}` is empty"));
        }
    }
    if !sections[2].1.is_empty() || codes.is_empty() {
        return Err(
            "`Codes:` lists its codes on the lines below it, one `- CODE (severity): meaning` each"
                .into(),
        );
    }
    Ok(Header {
        what: text(0),
        why: text(1),
        codes,
        example: text(3),
    })
}

/// `CODE (severity, ...): meaning`.
fn parse_code(entry: &str) -> Result<ListedCode, String> {
    let bad = || format!("`- {entry}`: a code reads `- CODE (error|warning|skip, ...): meaning`");
    let (code, rest) = entry.split_once(" (").ok_or_else(bad)?;
    let (severities, meaning) = rest.split_once("): ").ok_or_else(bad)?;
    let severities: Vec<String> = severities.split(", ").map(str::to_string).collect();
    let known = ["error", "warning", "skip"];
    if !code.chars().all(|c| c.is_ascii_uppercase() || c == '_')
        || severities.iter().any(|s| !known.contains(&s.as_str()))
    {
        return Err(bad());
    }
    Ok(ListedCode {
        code: code.to_string(),
        severities,
        meaning: meaning.trim().to_string(),
    })
}

/// The codes (with their severities) each function of a shared module
/// raises, its calls of the module's other functions included.
fn module_functions(text: &str) -> BTreeMap<String, BTreeMap<String, BTreeSet<String>>> {
    let mut bodies: Vec<(String, String)> = Vec::new();
    for line in code_lines(text) {
        if let Some(rest) = line.strip_prefix("fn ") {
            let name = rest.split('(').next().unwrap().trim().to_string();
            bodies.push((name, String::new()));
        } else if let Some((_, body)) = bodies.last_mut() {
            body.push_str(line);
            body.push('\n');
        }
    }
    let mut raised: BTreeMap<String, BTreeMap<String, BTreeSet<String>>> = bodies
        .iter()
        .map(|(name, body)| (name.clone(), reports(body)))
        .collect();
    // A function reports what the functions it calls report.
    loop {
        let mut grew = false;
        for (name, body) in &bodies {
            for (other, _) in &bodies {
                if other != name && calls(body, other) {
                    let theirs = raised[other].clone();
                    let mine = raised.get_mut(name).unwrap();
                    for (code, severities) in theirs {
                        let entry = mine.entry(code).or_default();
                        let before = entry.len();
                        entry.extend(severities);
                        grew |= entry.len() > before;
                    }
                }
            }
        }
        if !grew {
            return raised;
        }
    }
}

/// What a shipped file raises: its own `error`, `warning` and `skip` calls,
/// and those of the shared-module functions it calls.
fn raised(file: &Shipped) -> BTreeMap<String, BTreeSet<String>> {
    if file.is_shared_module() {
        let mut all: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for codes in module_functions(&file.text).into_values() {
            for (code, severities) in codes {
                all.entry(code).or_default().extend(severities);
            }
        }
        return all;
    }
    let mut all = reports(&file.text);
    for (module, alias) in imports(&file.text) {
        let path = harness::root().join("rules").join(format!("{module}.rhai"));
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: import {module}: {e}", file.name));
        for (function, codes) in module_functions(&text) {
            if calls(&file.text, &format!("{alias}::{function}")) {
                for (code, severities) in codes {
                    all.entry(code).or_default().extend(severities);
                }
            }
        }
    }
    all
}

/// The lines of a script that are code, comments dropped.
fn code_lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines()
        .map(|l| l.split_once("//").map_or(l, |(code, _)| code))
        .filter(|l| !l.trim().is_empty())
}

/// `error("CODE"`, `warning("CODE"`, `skip("CODE"` in `text`'s code.
fn reports(text: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mut found: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for line in code_lines(text) {
        for severity in ["error", "warning", "skip"] {
            let call = format!("{severity}(\"");
            let mut rest = line;
            while let Some(at) = rest.find(&call) {
                let before = rest[..at].chars().last();
                let after = &rest[at + call.len()..];
                rest = after;
                if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                    continue;
                }
                let code = after.split('"').next().unwrap().to_string();
                found.entry(code).or_default().insert(severity.to_string());
            }
        }
    }
    found
}

/// Whether `text`'s code calls `function` (`name(` or `alias::name(`).
fn calls(text: &str, function: &str) -> bool {
    let call = format!("{function}(");
    code_lines(text).any(|line| {
        line.match_indices(&call).any(|(at, _)| {
            !line[..at]
                .chars()
                .last()
                .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':')
        })
    })
}

/// `import "PATH" as ALIAS;` lines: (path, alias).
fn imports(text: &str) -> Vec<(String, String)> {
    code_lines(text)
        .filter_map(|line| {
            let rest = line.trim().strip_prefix("import \"")?;
            let (path, rest) = rest.split_once('"')?;
            let alias = rest
                .trim()
                .strip_prefix("as ")?
                .trim_end_matches(';')
                .trim();
            Some((path.to_string(), alias.to_string()))
        })
        .collect()
}

/// Each case of the shelf's suite: (folder name, module, its plan).
fn cases(shelf: &Shelf) -> Vec<(String, String, Value)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(harness::root().join(shelf.cases)).unwrap() {
        let dir = entry.unwrap().path();
        let case: serde_yaml::Value =
            serde_yaml::from_str(&std::fs::read_to_string(dir.join("case.yaml")).unwrap()).unwrap();
        let snap = std::fs::read_to_string(dir.join("expected.snap")).unwrap();
        let plan: Value = serde_json::from_str(snap.splitn(3, "---\n").nth(2).unwrap()).unwrap();
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let module = case["module"]
            .as_str()
            .unwrap_or_else(|| panic!("{name}: case.yaml names its module"))
            .to_string();
        found.push((name, module, plan));
    }
    found.sort_by(|a, b| a.0.cmp(&b.0));
    found
}

/// (rule, code, severity) of every violation of a plan.
fn violations(plan: &Value) -> BTreeSet<(String, String, String)> {
    let mut found = BTreeSet::new();
    for record in plan["records"].as_array().unwrap() {
        for v in record["violations"].as_array().unwrap() {
            let text = |key: &str| v[key].as_str().unwrap().to_string();
            found.insert((text("rule"), text("code"), text("severity")));
        }
    }
    found
}

#[test]
fn every_shipped_file_opens_with_the_header() {
    for shelf in SHELVES {
        headers_open_with_their_case(shelf);
    }
}

fn headers_open_with_their_case(shelf: &Shelf) {
    let cases: BTreeSet<String> = cases(shelf).into_iter().map(|(name, ..)| name).collect();
    for file in shipped(shelf) {
        let header = file.header();
        assert!(
            header.why.contains('"'),
            "{}: `Why:` quotes the seed sentence or Xero's limit it encodes",
            file.name
        );
        assert!(
            header.what.len() > 20 && header.codes.iter().all(|c| !c.meaning.is_empty()),
            "{}: say what it checks, and what each code means",
            file.name
        );
        // A rule's example is a case of the suite, named first, in backticks.
        if !file.is_shared_module() {
            let case = header.example.split('`').nth(1).unwrap_or_default();
            assert!(
                cases.contains(case),
                "{}: `Example:` starts with the case that shows it, such as `{}`; `{case}` is not a folder of {}",
                file.name,
                file.name.replace('/', "_") + "_...",
                shelf.cases
            );
        }
    }
}

#[test]
fn the_header_lists_the_codes_the_body_raises() {
    for file in SHELVES.iter().flat_map(shipped) {
        let listed: BTreeMap<String, BTreeSet<String>> = file
            .header()
            .codes
            .into_iter()
            .map(|c| (c.code, c.severities.into_iter().collect()))
            .collect();
        assert_eq!(
            listed,
            raised(&file),
            "{}: `Codes:` (left) must list what the body raises (right), with its severities",
            file.name
        );
    }
}

#[test]
fn the_header_check_reads_what_a_script_raises() {
    let rule = "//! comment: error(\"NOT_A_CODE\", ...)\nif x { error(\"A\", \"f\", \"m\"); } else { warning(\"B\", (), `m`); }\n// skip(\"COMMENTED\", ...)\nmy_error(\"NOT_OURS\", 1);\nskip(\"A\", \"f\", \"m\");\n";
    let found = reports(rule);
    let codes: Vec<(&str, Vec<&str>)> = found
        .iter()
        .map(|(c, s)| (c.as_str(), s.iter().map(String::as_str).collect()))
        .collect();
    assert_eq!(
        codes,
        [("A", vec!["error", "skip"]), ("B", vec!["warning"])]
    );

    let module = "/// doc\nfn inner(x) {\n    error(\"INNER\", \"f\", \"m\");\n}\nfn outer(x) {\n    inner(x);\n    skip(\"OUTER\", \"f\", \"m\");\n}\nfn quiet() { 1 }\n";
    let functions = module_functions(module);
    assert_eq!(
        functions["outer"].keys().collect::<Vec<_>>(),
        ["INNER", "OUTER"]
    );
    assert!(functions["quiet"].is_empty());
    assert!(calls("lines::check_line(1, a, b);", "lines::check_line"));
    assert!(!calls("other_lines::check_line(1);", "lines::check_line"));

    assert!(parse_header("// no header\nlet x = 1;\n").is_err());
    let out_of_order =
        "//! Why: \"x\"\n//! What it checks: y\n//! Codes:\n//! - A (error): z\n//! Example: `c`\n";
    assert!(parse_header(out_of_order)
        .unwrap_err()
        .contains("out of place"));
    let bad_severity =
        "//! What it checks: y\n//! Why: \"x\"\n//! Codes:\n//! - A (fatal): z\n//! Example: `c`\n";
    assert!(parse_header(bad_severity).is_err());
    let good = "//! What it checks: y\n//!   and more\n//! Why: \"x\"\n//! Codes:\n//! - A (error, skip): z\n//!   continued\n//! Example: `c`\n\nlet x = 1;\n";
    let header = parse_header(good).unwrap();
    assert_eq!(header.what, "y and more");
    assert_eq!(header.codes[0].meaning, "z continued");
    assert_eq!(header.codes[0].severities.len(), 2);
}

#[test]
fn every_code_of_every_rule_is_shown_by_a_case() {
    for shelf in SHELVES {
        codes_shown_by_cases(shelf);
    }
}

fn codes_shown_by_cases(shelf: &Shelf) {
    let shown: BTreeSet<(String, String, String)> = cases(shelf)
        .iter()
        .flat_map(|(_, _, plan)| violations(plan))
        .collect();
    for file in rules(shelf) {
        for code in file.header().codes {
            for severity in &code.severities {
                let wanted = (file.name.clone(), code.code.clone(), severity.clone());
                assert!(
                    shown.contains(&wanted),
                    "no case of {} shows {} raising {} ({severity}): add one named {}_<situation>",
                    shelf.cases,
                    file.name,
                    code.code,
                    file.name.replace('/', "_")
                );
            }
        }
    }
}

#[test]
fn cases_are_named_after_the_rule_they_show() {
    for shelf in SHELVES {
        cases_named_after_their_rule(shelf);
    }
}

fn cases_named_after_their_rule(shelf: &Shelf) {
    let rules: BTreeSet<String> = rules(shelf).into_iter().map(|r| r.name).collect();
    for (name, module, plan) in cases(shelf) {
        let shown: BTreeSet<String> = violations(&plan)
            .into_iter()
            .map(|(rule, ..)| rule)
            .collect();
        let named = rules.iter().find(|rule| {
            let prefix = format!("{}_", rule.replace('/', "_"));
            rule.starts_with(&format!("{module}/")) && name.starts_with(&prefix)
        });
        match named {
            Some(rule) => assert!(
                shown.contains(rule),
                "case {name} is named after {rule}, which none of its records breaks"
            ),
            None => assert!(
                name.starts_with(&format!("{module}_valid_")) && shown.is_empty(),
                "case {name}: name it <module>_<rule>_<situation> after the rule it shows, or {module}_valid_<situation> when every rule passes"
            ),
        }
    }
}

#[test]
fn readme_lists_the_violation_codes_the_headers_give() {
    for shelf in SHELVES {
        readme_table_of(shelf);
    }
}

fn readme_table_of(shelf: &Shelf) {
    let mut rows: Vec<(String, String, String, String)> = Vec::new();
    for file in rules(shelf) {
        for code in file.header().codes {
            let severity = code.severities.join(", ");
            rows.push((code.code, file.name.clone(), severity, code.meaning));
        }
    }
    rows.sort();
    let mut table = vec![
        "| code | rule | severity | meaning |".to_string(),
        "| --- | --- | --- | --- |".to_string(),
    ];
    table.extend(rows.into_iter().map(|(code, rule, severity, meaning)| {
        format!("| `{code}` | `{rule}` | {severity} | {meaning} |")
    }));

    let readme_path = harness::root().join("README.md");
    let readme = std::fs::read_to_string(&readme_path).unwrap();
    let lines: Vec<&str> = readme.lines().collect();
    let heading = lines
        .iter()
        .position(|l| *l == shelf.heading)
        .unwrap_or_else(|| panic!("README.md has a `{}` section", shelf.heading));
    let start = heading
        + lines[heading..]
            .iter()
            .position(|l| l.starts_with("| code |"))
            .expect("the section holds the table");
    let end = start
        + lines[start..]
            .iter()
            .position(|l| !l.starts_with('|'))
            .unwrap_or(lines.len() - start);
    if lines[start..end] == table[..] {
        return;
    }
    if std::env::var_os("SYNCWRIGHT_UPDATE_README").is_some() {
        let mut updated: Vec<String> = lines[..start].iter().map(|l| l.to_string()).collect();
        updated.extend(table);
        updated.extend(lines[end..].iter().map(|l| l.to_string()));
        write_lines(&readme_path, &updated);
        return;
    }
    panic!(
        "README.md's violation codes under `{}` differ from the rules' headers; run with SYNCWRIGHT_UPDATE_README=1 to write this table:\n{}",
        shelf.heading,
        table.join("\n")
    );
}

fn write_lines(path: &Path, lines: &[String]) {
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
}
