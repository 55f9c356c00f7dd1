//! A progress bar on stderr around another reporter, for long runs on a terminal.

use syncwright_engine::pipeline::Reporter;
use syncwright_engine::{Module, RecordOutcome, Summary};

/// Passes every call on to the reporter inside, keeping a progress bar on
/// stderr out of its way.
pub(super) struct Progress<'a> {
    /// The reporter that writes the report.
    inner: &'a mut dyn Reporter,
    /// The bar, on stderr.
    bar: indicatif::ProgressBar,
}

impl<'a> Progress<'a> {
    /// A spinner counting records until the source tells the total.
    pub(super) fn new(inner: &'a mut dyn Reporter) -> Self {
        let bar = indicatif::ProgressBar::new_spinner();
        bar.set_style(Self::counting());
        Self { inner, bar }
    }

    /// Records so far and the rate, while the total is unknown.
    fn counting() -> indicatif::ProgressStyle {
        indicatif::ProgressStyle::with_template("{spinner} {msg} {pos} records ({per_sec})")
            .expect("template")
    }
}

impl Reporter for Progress<'_> {
    fn notice(&mut self, message: &str) -> std::io::Result<()> {
        self.inner.notice(message)
    }

    fn begin(
        &mut self,
        module: &Module,
        source: &str,
        target: Option<&str>,
    ) -> std::io::Result<()> {
        self.bar.reset();
        self.bar.set_length(0);
        self.bar.set_style(Self::counting());
        self.bar.set_message(module.name.clone());
        self.bar
            .enable_steady_tick(std::time::Duration::from_millis(120));
        self.bar
            .suspend(|| self.inner.begin(module, source, target))
    }

    fn wants_total(&self) -> bool {
        true
    }

    fn expect(&mut self, total: u64) {
        self.bar.set_length(total);
        self.bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{msg} [{bar:30}] {pos}/{len} records ({per_sec}, {eta} left)",
            )
            .expect("template")
            .progress_chars("=> "),
        );
    }

    fn record(&mut self, outcome: &RecordOutcome) -> std::io::Result<()> {
        self.bar.inc(1);
        self.bar.suspend(|| self.inner.record(outcome))
    }

    fn end(&mut self, module: &Module, summary: &Summary) -> std::io::Result<()> {
        self.bar.finish_and_clear();
        self.inner.end(module, summary)
    }
}
