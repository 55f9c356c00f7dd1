//! The reporter a pass writes to: the format asked for, on stdout, behind a
//! progress bar when loading on a terminal.

use std::io::{IsTerminal, Write};

use syncwright_engine::pipeline::Reporter;
use syncwright_engine::report::{JsonReport, TableReport};

use super::progress::Progress;
use crate::args::OutputFormat;
use crate::color::color_for;

/// Runs `body` with the reporter `format` asks for on stdout, then flushes
/// it. A loading pass shows a progress bar when stderr is a terminal.
/// `several_modules` makes the JSON report one document over all modules.
/// The outer error is a failure to write the report.
pub(super) fn report_to_stdout<F>(
    format: OutputFormat,
    loading: bool,
    several_modules: bool,
    body: F,
) -> std::io::Result<u8>
where
    F: FnOnce(&mut dyn Reporter) -> u8,
{
    let stdout = std::io::stdout();
    let progress = loading && std::io::stderr().is_terminal();
    match format {
        OutputFormat::Json => {
            // One document for programs: buffered, written in large blocks.
            let out = std::io::BufWriter::with_capacity(1 << 16, stdout.lock());
            let mut report = JsonReport::new(out, several_modules);
            let result = with_progress(&mut report, progress, body);
            report.finish().map(|_| result)
        }
        OutputFormat::Table => {
            let color = color_for(stdout.is_terminal());
            let mut report = TableReport::new(stdout.lock(), color);
            let result = with_progress(&mut report, progress, body);
            report.into_inner().flush().map(|_| result)
        }
    }
}

/// `body` on `report`, behind a progress bar when `progress`.
fn with_progress<F>(report: &mut dyn Reporter, progress: bool, body: F) -> u8
where
    F: FnOnce(&mut dyn Reporter) -> u8,
{
    if progress {
        body(&mut Progress::new(report))
    } else {
        body(report)
    }
}
