//! How a failing case shows the difference: a unified diff of the expected
//! plan against the actual one, coloured on a terminal.

use crate::color::paint;

/// Prints the unified diff of `expected` against `actual` to stdout,
/// indented; added lines green and removed ones red when `color`.
pub(super) fn print_diff(expected: &str, actual: &str, color: bool) {
    let diff = similar::TextDiff::from_lines(expected, actual);
    let text = diff
        .unified_diff()
        .context_radius(3)
        .header("expected", "actual")
        .to_string();
    for line in text.lines() {
        let code = match line.chars().next() {
            Some('+') if !line.starts_with("+++") => "32",
            Some('-') if !line.starts_with("---") => "31",
            _ => "",
        };
        println!(
            "  {}",
            if code.is_empty() {
                line.to_string()
            } else {
                paint(line, code, color)
            }
        );
    }
}
