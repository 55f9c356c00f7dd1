//! The one diagnostic type for configuration errors: every problem found in a
//! project file, mapping file or rule script names its file, line, column and
//! the path of the offending key, before any record is touched. Each carries
//! a stable code from [`codes`]. A diagnostic quotes the line it points at
//! and nothing else of the file (a long line only around the point), so a
//! file that is not what it was named as (a secret, `/etc/passwd`) is not
//! shown whole.

pub mod codes;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, SourceSpan};

/// A configuration file loaded into memory, kept so diagnostics can quote it.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// Path as the user would recognise it (relative to where they ran the command).
    pub path: PathBuf,
    /// Full text of the file.
    pub text: Arc<String>,
}

/// The largest project, mapping or rule file read.
pub const MAX_CONFIG_BYTES: u64 = 8 * 1024 * 1024;

/// The most of a line a diagnostic quotes, in bytes, around the point.
const QUOTED_WIDTH: usize = 160;

impl SourceFile {
    /// Reads a configuration file: a regular file (a device, a pipe or a
    /// directory is refused unread) of at most [`MAX_CONFIG_BYTES`], as
    /// UTF-8 text. Errors name the file, never its content.
    pub fn read(path: &Path) -> Result<Self, Box<ConfigError>> {
        let shown = path.display();
        let io = |err: std::io::Error| {
            Box::new(ConfigError::without_source(
                codes::CONFIG_IO,
                format!("cannot read {shown}: {err}"),
            ))
        };
        let kind = |why: String| {
            Box::new(ConfigError::without_source(
                codes::CONFIG_FILE_KIND,
                format!("{shown} {why}"),
            ))
        };
        let meta = std::fs::metadata(path).map_err(io)?;
        if !meta.is_file() {
            return Err(kind(
                "is not a regular file (a directory, a device or a pipe)".into(),
            ));
        }
        let too_big = || kind(format!("is larger than {} MiB", MAX_CONFIG_BYTES >> 20));
        if meta.len() > MAX_CONFIG_BYTES {
            return Err(too_big());
        }
        let mut text = String::new();
        std::io::Read::read_to_string(
            &mut std::io::Read::take(std::fs::File::open(path).map_err(io)?, MAX_CONFIG_BYTES + 1),
            &mut text,
        )
        .map_err(io)?;
        if text.len() as u64 > MAX_CONFIG_BYTES {
            return Err(too_big());
        }
        Ok(Self::from_text(path, text))
    }

    /// Wraps text that did not come from disk (tests, `--set` values).
    pub fn from_text(path: &Path, text: impl Into<String>) -> Self {
        Self {
            path: path.to_path_buf(),
            text: Arc::new(text.into()),
        }
    }

    /// Converts a 1-based line and column into a byte offset (clamped to the text).
    pub fn offset_of(&self, line: usize, column: usize) -> usize {
        let mut offset = 0;
        for (index, text_line) in self.text.split_inclusive('\n').enumerate() {
            if index + 1 == line {
                let col_bytes: usize = text_line
                    .chars()
                    .take(column.saturating_sub(1))
                    .map(char::len_utf8)
                    .sum();
                return (offset + col_bytes).min(self.text.len());
            }
            offset += text_line.len();
        }
        self.text.len()
    }

    /// The bytes a diagnostic at `offset` may quote: the line it is on
    /// (without its line break), or, on a long line, a stretch of it
    /// around the offset.
    fn quotable(&self, offset: usize) -> std::ops::Range<usize> {
        let text = self.text.as_str();
        let offset = floor_char(text, offset.min(text.len()));
        let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
        let line_end = text[offset..]
            .find(['\n', '\r'])
            .map_or(text.len(), |i| offset + i);
        if line_end - line_start <= QUOTED_WIDTH {
            return line_start..line_end;
        }
        let start = floor_char(
            text,
            offset.saturating_sub(QUOTED_WIDTH / 4).max(line_start),
        );
        let end = floor_char(text, (start + QUOTED_WIDTH).min(line_end));
        start..end
    }

    /// Converts a byte offset into a 1-based line and column (columns count characters).
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = floor_char(&self.text, offset.min(self.text.len()));
        let before = &self.text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
        let column = before[line_start..].chars().count() + 1;
        (line, column)
    }
}

/// Where in a file a diagnostic points.
#[derive(Debug, Clone)]
pub struct Location {
    /// The file.
    pub file: SourceFile,
    /// Byte offset of the start of the offending text.
    pub offset: usize,
    /// Length in bytes of the offending text (at least 1 when rendered).
    pub len: usize,
}

impl Location {
    /// 1-based line and column of the start.
    pub fn line_col(&self) -> (usize, usize) {
        self.file.line_col(self.offset)
    }
}

/// A configuration error: what is wrong, where, and how to fix it.
#[derive(Debug, Clone)]
pub struct ConfigError {
    /// Stable machine-readable code, one of [`codes::ALL`], such as `mapping::jsonpath`.
    pub code: &'static str,
    /// One-sentence description of the problem.
    pub message: String,
    /// Where the problem is, when it is in a file.
    pub location: Option<Location>,
    /// Dotted path of the offending key, such as `fields.LineItems.each`.
    pub key_path: Option<String>,
    /// Short label shown under the offending text.
    pub label: Option<String>,
    /// Advice on how to fix it.
    pub help: Option<String>,
}

impl ConfigError {
    /// A diagnostic with no file position (missing file, bad command-line value).
    pub fn without_source(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            location: None,
            key_path: None,
            label: None,
            help: None,
        }
    }

    /// A diagnostic pointing at `location`.
    pub fn at(code: &'static str, message: impl Into<String>, location: Location) -> Self {
        Self {
            location: Some(location),
            ..Self::without_source(code, message)
        }
    }

    /// Adds the dotted key path.
    pub fn with_key_path(mut self, key_path: impl Into<String>) -> Self {
        let key_path = key_path.into();
        if !key_path.is_empty() {
            self.key_path = Some(key_path);
        }
        self
    }

    /// Adds a label under the offending text.
    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    /// Adds advice.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// `file:line:column` when the error has a location.
    pub fn position(&self) -> Option<String> {
        self.location.as_ref().map(|loc| {
            let (line, column) = loc.line_col();
            format!("{}:{line}:{column}", loc.file.path.display())
        })
    }

    /// Renders the diagnostic for people: a `file:line:col` header, then the
    /// quoted source with the offending text underlined. `color` adds ANSI colours.
    pub fn render(&self, color: bool) -> String {
        let theme = if color {
            GraphicalTheme::unicode()
        } else {
            GraphicalTheme::unicode_nocolor()
        };
        let handler = GraphicalReportHandler::new_themed(theme)
            .with_width(100)
            .with_links(false);
        let mut out = String::new();
        let _ = handler.render_report(&mut out, self);
        out
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(position) = self.position() {
            write!(f, "{position}: ")?;
        }
        write!(f, "{}", self.message)?;
        if let Some(path) = &self.key_path {
            write!(f, " (at `{path}`)")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

impl miette::Diagnostic for ConfigError {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(self.code))
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.location
            .as_ref()
            .map(|loc| &loc.file as &dyn miette::SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let loc = self.location.as_ref()?;
        // Underlined on the quoted line only.
        let quoted = loc.file.quotable(loc.offset);
        let offset = loc.offset.clamp(quoted.start, quoted.end);
        let len = loc.len.min(quoted.end.saturating_sub(offset)).max(1);
        let span = SourceSpan::new(offset.into(), len);
        let label = self.label.clone().or_else(|| self.key_path.clone());
        Some(Box::new(std::iter::once(LabeledSpan::new_with_span(
            label, span,
        ))))
    }
}

/// The nearest char boundary of `text` at or before `offset`.
fn floor_char(text: &str, mut offset: usize) -> usize {
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

impl miette::SourceCode for SourceFile {
    /// The line the span starts on, whatever context is asked for; from
    /// the span on when none is (as `str` does: the report's header says
    /// where the span starts from that).
    fn read_span<'a>(
        &'a self,
        span: &SourceSpan,
        context_lines_before: usize,
        _context_lines_after: usize,
    ) -> Result<Box<dyn miette::SpanContents<'a> + 'a>, miette::MietteError> {
        let mut quoted = self.quotable(span.offset());
        if context_lines_before == 0 {
            quoted.start = floor_char(&self.text, span.offset()).clamp(quoted.start, quoted.end);
        }
        let (line, column) = self.line_col(quoted.start);
        Ok(Box::new(miette::MietteSpanContents::new_named(
            self.path.display().to_string(),
            self.text[quoted.clone()].as_bytes(),
            SourceSpan::new(quoted.start.into(), quoted.len()),
            line - 1,
            column - 1,
            1,
        )))
    }
}

/// Every error found while compiling a project, in the order found.
#[derive(Debug, Default, Clone)]
pub struct Diagnostics {
    /// The errors.
    pub errors: Vec<ConfigError>,
}

impl Diagnostics {
    /// Records one error.
    pub fn push(&mut self, error: ConfigError) {
        self.errors.push(error);
    }

    /// True when nothing was found.
    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    /// Renders every error, separated by blank lines.
    pub fn render(&self, color: bool) -> String {
        self.errors
            .iter()
            .map(|e| e.render(color))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for error in &self.errors {
            writeln!(f, "{error}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

impl From<ConfigError> for Diagnostics {
    fn from(error: ConfigError) -> Self {
        Self {
            errors: vec![error],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(text: &str, offset: usize, len: usize) -> String {
        let file = SourceFile::from_text(Path::new("m.yaml"), text);
        ConfigError::at(
            codes::CONFIG_INVALID,
            "wrong",
            Location { file, offset, len },
        )
        .render(false)
    }

    #[test]
    fn quotes_the_located_line_and_nothing_around_it() {
        let text = "secret: s3cr3t\nsettings:\n  max_line_items: many\nother: hunter2\n";
        let at = text.find("many").unwrap();
        let shown = render(text, at, 4);
        assert!(
            shown.contains("max_line_items: many") && shown.contains("m.yaml:3:19"),
            "{shown}"
        );
        for hidden in ["s3cr3t", "settings:", "hunter2"] {
            assert!(!shown.contains(hidden), "{hidden} is quoted:\n{shown}");
        }
    }

    #[test]
    fn a_span_over_several_lines_quotes_its_first() {
        let text = "key: |\n  first\n  second\n";
        let shown = render(text, 5, text.len() - 5);
        assert!(shown.contains("key: |"), "{shown}");
        assert!(
            !shown.contains("first") && !shown.contains("second"),
            "{shown}"
        );
    }

    #[test]
    fn a_long_line_is_quoted_around_the_point() {
        let text = format!("x: {}TARGET{}\n", "a".repeat(1000), "z".repeat(1000));
        let at = text.find("TARGET").unwrap();
        let shown = render(&text, at, 6);
        assert!(
            shown.contains("TARGET") && shown.contains("m.yaml:1:1004"),
            "{shown}"
        );
        assert!(shown.len() < 600, "{} bytes:\n{shown}", shown.len());
        // Offsets inside a character are taken to its start.
        let wide = format!("k: {}\n", "ü".repeat(200));
        assert!(render(&wide, 250, 3).contains("üü"));
    }

    #[test]
    fn only_regular_files_of_a_bounded_size_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let err = SourceFile::read(dir.path()).unwrap_err();
        assert_eq!(err.code, codes::CONFIG_FILE_KIND);
        assert!(
            err.message.contains("not a regular file"),
            "{}",
            err.message
        );
        let big = dir.path().join("big.yaml");
        let file = std::fs::File::create(&big).unwrap();
        file.set_len(MAX_CONFIG_BYTES + 1).unwrap();
        let err = SourceFile::read(&big).unwrap_err();
        assert_eq!(err.code, codes::CONFIG_FILE_KIND);
        assert!(err.message.contains("larger than 8 MiB"), "{}", err.message);
        std::fs::write(dir.path().join("bin.yaml"), [0xff, 0xfe, b's', b'3']).unwrap();
        let err = SourceFile::read(&dir.path().join("bin.yaml")).unwrap_err();
        assert_eq!(err.code, codes::CONFIG_IO);
        assert!(!err.message.contains("s3"), "{}", err.message);
    }
}
