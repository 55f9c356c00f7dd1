//! Lengths of time as the project file writes them: `90s`, `5m`, `4h`,
//! `1h30m`, `250ms`, `7d`.

use std::time::Duration;

/// Reads a length of time: one or more `<number><unit>` parts, the units
/// `ms`, `s`, `m`, `h` and `d`. The error says what is wrong, in words.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("an empty length of time (write e.g. `4h`, `30m`, `90s`)".into());
    }
    let mut total = Duration::ZERO;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .ok_or_else(|| format!("`{text}` has a number without a unit (ms, s, m, h or d)"))?;
        if digits == 0 {
            return Err(format!(
                "`{text}` is not a length of time (write e.g. `4h`, `30m`, `90s`)"
            ));
        }
        let number: f64 = rest[..digits]
            .parse()
            .map_err(|_| format!("`{}` in `{text}` is not a number", &rest[..digits]))?;
        let after = &rest[digits..];
        let unit_len = after
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(after.len());
        let seconds = match &after[..unit_len] {
            "ms" => number / 1000.0,
            "s" => number,
            "m" => number * 60.0,
            "h" => number * 3600.0,
            "d" => number * 86_400.0,
            unit => {
                return Err(format!(
                    "`{unit}` in `{text}` is not a unit of time (ms, s, m, h or d)"
                ))
            }
        };
        total += Duration::from_secs_f64(seconds);
        rest = &after[unit_len..];
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_units_and_sums_parts() {
        assert_eq!(parse_duration("4h"), Ok(Duration::from_secs(4 * 3600)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("0.5s"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration(" 7d "), Ok(Duration::from_secs(7 * 86_400)));
    }

    #[test]
    fn says_what_is_wrong() {
        assert!(parse_duration("4").unwrap_err().contains("without a unit"));
        assert!(parse_duration("4 hours")
            .unwrap_err()
            .contains("not a unit"));
        assert!(parse_duration("h").unwrap_err().contains("not a length"));
        assert!(parse_duration("").is_err());
    }
}
