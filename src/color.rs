//! Colour on terminals: when to use it, and how to paint a piece of text.

/// Whether to colour output written to a stream (`NO_COLOR` turns it off).
pub(crate) fn color_for(stream_is_terminal: bool) -> bool {
    stream_is_terminal && std::env::var_os("NO_COLOR").is_none()
}

/// `text` in the ANSI colour `code` (`"32"` green, `"31"` red, `"33"`
/// yellow) when `color`, as it is otherwise.
pub(crate) fn paint(text: &str, code: &str, color: bool) -> String {
    if color {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_string()
    }
}
