//! The one diagnostic type for configuration errors: every problem found in a
//! project file, mapping file or rule script names its file, line, column and
//! the path of the offending key, before any record is touched. Each carries
//! a stable code from [`codes`].

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

impl SourceFile {
    /// Reads a file, turning an I/O failure into a diagnostic.
    pub fn read(path: &Path) -> Result<Self, Box<ConfigError>> {
        match std::fs::read_to_string(path) {
            Ok(text) => Ok(Self::from_text(path, text)),
            Err(err) => Err(Box::new(ConfigError::without_source(
                codes::CONFIG_IO,
                format!("cannot read {}: {err}", path.display()),
            ))),
        }
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

    /// Converts a byte offset into a 1-based line and column (columns count characters).
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
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
        let span = SourceSpan::new(loc.offset.into(), loc.len.max(1));
        let label = self.label.clone().or_else(|| self.key_path.clone());
        Some(Box::new(std::iter::once(LabeledSpan::new_with_span(
            label, span,
        ))))
    }
}

impl miette::SourceCode for SourceFile {
    fn read_span<'a>(
        &'a self,
        span: &SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn miette::SpanContents<'a> + 'a>, miette::MietteError> {
        let inner =
            self.text
                .as_str()
                .read_span(span, context_lines_before, context_lines_after)?;
        Ok(Box::new(miette::MietteSpanContents::new_named(
            self.path.display().to_string(),
            inner.data(),
            *inner.span(),
            inner.line(),
            inner.column(),
            inner.line_count(),
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
