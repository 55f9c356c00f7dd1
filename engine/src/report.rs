//! Reports of a run: the [`Reporter`] the pipeline hands each outcome to,
//! and its two forms, the plan JSON document (a contract) and the table for people.

use std::borrow::Cow;
use std::io::Write;

use crate::module::Module;
use crate::outcome::{Action, RecordOutcome, Summary, Verdict};

/// Receives outcomes as they are decided, in source order.
pub trait Reporter {
    /// A module starts.
    fn begin(&mut self, module: &Module, source: &str, target: Option<&str>)
        -> std::io::Result<()>;
    /// True when the reporter shows progress against a total, worth a call
    /// to the source to count its records.
    fn wants_total(&self) -> bool {
        false
    }
    /// How many records the module will report, when the source can tell.
    fn expect(&mut self, total: u64) {
        let _ = total;
    }
    /// Something people running the module should know before its records
    /// (a new organisation, state adopted); the report's own lines are not
    /// disturbed where it has none.
    fn notice(&mut self, message: &str) -> std::io::Result<()> {
        tracing::warn!("{message}");
        Ok(())
    }
    /// One record's outcome.
    fn record(&mut self, outcome: &RecordOutcome) -> std::io::Result<()>;
    /// The module ended.
    fn end(&mut self, module: &Module, summary: &Summary) -> std::io::Result<()>;
}

/// Streams `{"module": ..., "records": [...], "summary": {...}}` for one
/// module. Several modules are written as one document too:
/// `{"modules": [<one document per module>], "summary": {...totals}}`.
pub struct JsonReport<W: Write> {
    out: W,
    first_record: bool,
    modules_written: usize,
    expect_many: bool,
    total: Summary,
}

impl<W: Write> JsonReport<W> {
    /// A report over `out`; `many_modules` wraps the module documents.
    pub fn new(out: W, many_modules: bool) -> Self {
        Self {
            out,
            first_record: true,
            modules_written: 0,
            expect_many: many_modules,
            total: Summary::default(),
        }
    }

    /// Closes the wrapper when several modules were written.
    pub fn finish(mut self) -> std::io::Result<W> {
        if self.expect_many {
            if self.modules_written == 0 {
                write!(self.out, "{{\"modules\":[")?;
            }
            write!(self.out, "],\"summary\":")?;
            serde_json::to_writer(&mut self.out, &self.total)?;
            writeln!(self.out, "}}")?;
        }
        self.out.flush()?;
        Ok(self.out)
    }
}

impl<W: Write> Reporter for JsonReport<W> {
    fn begin(
        &mut self,
        module: &Module,
        _source: &str,
        _target: Option<&str>,
    ) -> std::io::Result<()> {
        if self.expect_many {
            write!(
                self.out,
                "{}",
                if self.modules_written == 0 {
                    "{\"modules\":["
                } else {
                    ","
                }
            )?;
        }
        self.first_record = true;
        write!(
            self.out,
            "{{\"module\":{},\"records\":[",
            serde_json::to_string(&module.name).expect("string")
        )
    }

    fn record(&mut self, outcome: &RecordOutcome) -> std::io::Result<()> {
        if !self.first_record {
            write!(self.out, ",")?;
        }
        self.first_record = false;
        writeln!(self.out)?;
        serde_json::to_writer(&mut self.out, outcome)?;
        Ok(())
    }

    fn end(&mut self, _module: &Module, summary: &Summary) -> std::io::Result<()> {
        self.modules_written += 1;
        self.total.sync += summary.sync;
        self.total.skip += summary.skip;
        self.total.reject += summary.reject;
        self.total.failed += summary.failed;
        self.total.refused += summary.refused;
        self.total.created += summary.created;
        self.total.updated += summary.updated;
        self.total.unchanged += summary.unchanged;
        for (connection, calls) in &summary.calls {
            *self.total.calls.entry(connection.clone()).or_default() += calls;
        }
        write!(self.out, "\n],\"summary\":")?;
        serde_json::to_writer(&mut self.out, summary)?;
        write!(self.out, "}}")?;
        if !self.expect_many {
            writeln!(self.out)?;
        }
        Ok(())
    }
}

/// One aligned line per record, reasons in words; colour only when asked
/// (the CLI asks when writing to a terminal).
pub struct TableReport<W: Write> {
    out: W,
    color: bool,
    loading: bool,
}

const ID_WIDTH: usize = 20;
const LABEL_WIDTH: usize = 16;
const VERDICT_WIDTH: usize = 7;

impl<W: Write> TableReport<W> {
    /// A table over `out`.
    pub fn new(out: W, color: bool) -> Self {
        Self {
            out,
            color,
            loading: false,
        }
    }

    /// Gives back the writer.
    pub fn into_inner(self) -> W {
        self.out
    }

    fn paint(&self, text: &str, verdict: Verdict) -> String {
        if !self.color {
            return text.to_string();
        }
        let code = match verdict {
            Verdict::Sync => "32",
            Verdict::Skip => "33",
            Verdict::Reject => "31",
        };
        format!("\x1b[{code}m{text}\x1b[0m")
    }
}

/// Text from the systems synced (an invoice number, a CRM field, a
/// target's message) as a terminal may show it: control characters and
/// the marks that reorder text (which could retitle the terminal, move the
/// cursor over a line, or hide one) are shown as `\u{1b}` escapes. Every
/// table line passes through it.
pub fn printable(text: &str) -> Cow<'_, str> {
    fn hidden(c: char) -> bool {
        c.is_control()
            || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    }
    if !text.chars().any(hidden) {
        return Cow::Borrowed(text);
    }
    let mut shown = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if hidden(c) {
            shown.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            shown.push(c);
        }
    }
    Cow::Owned(shown)
}

fn fit(text: &str, width: usize) -> String {
    let count = text.chars().count();
    if count <= width {
        format!("{text:<width$}")
    } else {
        let cut: String = text.chars().take(width - 1).collect();
        format!("{cut}…")
    }
}

impl<W: Write> Reporter for TableReport<W> {
    fn begin(
        &mut self,
        module: &Module,
        source: &str,
        target: Option<&str>,
    ) -> std::io::Result<()> {
        self.loading = target.is_some();
        let action = match target {
            Some(t) => format!("to {t}"),
            None => "plan only, nothing sent".to_string(),
        };
        writeln!(
            self.out,
            "{} ({} -> {}): from {}, {}",
            module.name,
            module.source.module,
            module.target.resource,
            printable(source),
            printable(&action)
        )?;
        writeln!(
            self.out,
            "{} {} {} DETAILS",
            fit("ID", ID_WIDTH),
            fit("RECORD", LABEL_WIDTH),
            fit("VERDICT", VERDICT_WIDTH)
        )
    }

    fn notice(&mut self, message: &str) -> std::io::Result<()> {
        writeln!(self.out, "note: {}", printable(message))
    }

    fn record(&mut self, outcome: &RecordOutcome) -> std::io::Result<()> {
        let id = outcome.source_id.as_deref().unwrap_or("-");
        let label = outcome.label.as_deref().unwrap_or("-");
        let verdict = fit(outcome.verdict.as_str(), VERDICT_WIDTH);
        let mut details: Vec<String> = outcome
            .violations
            .iter()
            .map(|v| {
                let prefix = if v.severity == crate::outcome::Severity::Warning {
                    "warning: "
                } else {
                    ""
                };
                format!("{prefix}{}", v.message)
            })
            .collect();
        match (&outcome.load, outcome.verdict) {
            (Some(load), _) if load.ok => {
                let what = load
                    .target_number
                    .clone()
                    .or_else(|| load.target_id.clone())
                    .or_else(|| load.location.clone())
                    .unwrap_or_default();
                let verb = match outcome.action {
                    Some(Action::Create) => "created",
                    Some(Action::Update) => "updated",
                    _ => "sent",
                };
                details.insert(0, format!("{verb} {what}").trim_end().to_string());
            }
            (Some(load), _) if load.refused => details.insert(
                0,
                format!(
                    "refused, target keeps its last accepted state: {}",
                    load_messages(load)
                ),
            ),
            (Some(load), _) => details.insert(0, format!("failed: {}", load_messages(load))),
            (None, Verdict::Sync) => match outcome.action {
                Some(Action::Unchanged) => details.insert(0, "unchanged, nothing to send".into()),
                Some(Action::Update) => {
                    let changes: Vec<String> = outcome
                        .changes
                        .iter()
                        .map(|c| format!("{}: {} -> {}", c.field, c.before, c.after))
                        .collect();
                    details.insert(0, format!("update: {}", changes.join(", ")));
                }
                _ if details.is_empty() => details.push(if self.loading {
                    "ready".into()
                } else {
                    "ready to send".into()
                }),
                _ => {}
            },
            _ => {}
        }
        writeln!(
            self.out,
            "{} {} {} {}",
            fit(&printable(id), ID_WIDTH),
            fit(&printable(label), LABEL_WIDTH),
            self.paint(&verdict, outcome.verdict),
            printable(&details.join(" | "))
        )
    }

    fn end(&mut self, _module: &Module, summary: &Summary) -> std::io::Result<()> {
        let total = summary.sync + summary.skip + summary.reject;
        let mut line = format!(
            "{total} records: {} sync, {} skip, {} reject",
            summary.sync, summary.skip, summary.reject
        );
        for (n, what) in [
            (summary.created, "created"),
            (summary.updated, "updated"),
            (summary.unchanged, "unchanged"),
            (summary.failed, "failed at load"),
            (summary.refused, "of them refused for good"),
        ] {
            if n > 0 {
                line.push_str(&format!(", {n} {what}"));
            }
        }
        if !summary.calls.is_empty() {
            let calls: Vec<String> = summary
                .calls
                .iter()
                .map(|(c, n)| format!("{c} {n}"))
                .collect();
            line.push_str(&format!("; API calls: {}", calls.join(", ")));
        }
        if let Some(seconds) = summary.seconds {
            line.push_str(&format!("; {seconds:.2} s"));
        }
        writeln!(self.out, "{line}\n")
    }
}

/// The target's messages, each with the field it concerns when known.
fn load_messages(load: &crate::outcome::LoadResult) -> String {
    if load.errors.is_empty() {
        return load.messages.join("; ");
    }
    load.errors
        .iter()
        .map(|e| match &e.field {
            Some(field) => format!("{} ({field})", e.message),
            None => e.message.clone(),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::printable;

    #[test]
    fn control_characters_and_reordering_marks_are_shown_not_obeyed() {
        assert_eq!(printable("INV-10101"), "INV-10101");
        assert!(matches!(printable("plain"), std::borrow::Cow::Borrowed(_)));
        // A title change, a carriage return over the line, a bell, and a
        // right-to-left override.
        assert_eq!(
            printable("INV\u{1b}]0;pwned\u{7}\r\u{202e}1"),
            "INV\\u{1b}]0;pwned\\u{7}\\u{d}\\u{202e}1"
        );
        assert_eq!(printable("Zoë – Ltd"), "Zoë – Ltd", "text is left alone");
    }
}
