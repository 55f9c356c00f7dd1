//! Type coercion of mapped values: numbers, strings, booleans, dates and money.

use std::str::FromStr;

use chrono::{DateTime, NaiveDate, NaiveDateTime};
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::{Decimal, RoundingStrategy};
use serde_json::Value;

use crate::config::mapping::ValueType;
use crate::describe::{describe_value, kind_of, quote_clipped};

/// Coerces `value` to `ty`; `decimals` rounds numbers (half away from zero).
/// The error says what was found and why it does not fit.
pub fn coerce(value: &Value, ty: ValueType, decimals: Option<u32>) -> Result<Value, String> {
    match ty {
        ValueType::String => match value {
            Value::String(_) => Ok(value.clone()),
            Value::Number(n) => Ok(Value::String(n.to_string())),
            Value::Bool(b) => Ok(Value::String(b.to_string())),
            other => Err(format!("expected text, found {}", kind_of(other))),
        },
        ValueType::Number | ValueType::Money => {
            let decimal = to_decimal(value)?;
            let decimal = match decimals {
                Some(dp) => {
                    decimal.round_dp_with_strategy(dp, RoundingStrategy::MidpointAwayFromZero)
                }
                None => decimal,
            };
            Ok(decimal_to_json(decimal))
        }
        ValueType::Integer => {
            let decimal = to_decimal(value)?;
            if !decimal.fract().is_zero() {
                return Err(format!("expected a whole number, found {decimal}"));
            }
            decimal
                .to_i64()
                .map(Value::from)
                .ok_or_else(|| format!("{decimal} is out of range"))
        }
        ValueType::Bool => match value {
            Value::Bool(_) => Ok(value.clone()),
            Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(Value::Bool(true)),
            Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(Value::Bool(false)),
            Value::Number(n) if n.as_f64() == Some(1.0) => Ok(Value::Bool(true)),
            Value::Number(n) if n.as_f64() == Some(0.0) => Ok(Value::Bool(false)),
            other => Err(format!(
                "expected true or false, found {}",
                describe_value(other)
            )),
        },
        ValueType::Date => match value {
            Value::String(s) => to_date(s).map(Value::String),
            other => Err(format!("expected a date, found {}", kind_of(other))),
        },
    }
}

fn to_decimal(value: &Value) -> Result<Decimal, String> {
    let text = match value {
        // Whole numbers convert exactly; others go through their shortest text.
        Value::Number(n) if n.is_i64() => return Ok(Decimal::from(n.as_i64().expect("is_i64"))),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.trim().to_string(),
        other => return Err(format!("expected a number, found {}", kind_of(other))),
    };
    Decimal::from_str(&text)
        .or_else(|_| Decimal::from_scientific(&text))
        .map_err(|_| format!("expected a number, found {}", describe_value(value)))
}

fn decimal_to_json(decimal: Decimal) -> Value {
    let normalized = decimal.normalize();
    if normalized.scale() == 0 {
        if let Some(i) = normalized.to_i64() {
            return Value::from(i);
        }
    }
    normalized
        .to_f64()
        .and_then(serde_json::Number::from_f64)
        .map(Value::Number)
        .unwrap_or(Value::Null)
}

/// `YYYY-MM-DD` from a Zoho date or date-time (the date in the time's own offset).
fn to_date(text: &str) -> Result<String, String> {
    let text = text.trim();
    if let Ok(d) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(d.format("%Y-%m-%d").to_string());
    }
    if let Ok(dt) = DateTime::parse_from_rfc3339(text) {
        return Ok(dt.date_naive().format("%Y-%m-%d").to_string());
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M:%S%.f",
    ] {
        if let Ok(dt) = NaiveDateTime::parse_from_str(text, fmt) {
            return Ok(dt.date().format("%Y-%m-%d").to_string());
        }
    }
    Err(format!(
        "expected a date (YYYY-MM-DD or an ISO-8601 date-time), found {}",
        quote_clipped(text)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn money_rounds_half_away_from_zero() {
        assert_eq!(
            coerce(&json!(1.005), ValueType::Money, Some(2)).unwrap(),
            json!(1.01)
        );
        assert_eq!(
            coerce(&json!("-2.345"), ValueType::Money, Some(2)).unwrap(),
            json!(-2.35)
        );
        assert_eq!(
            coerce(&json!(12.3456), ValueType::Money, Some(4)).unwrap(),
            json!(12.3456)
        );
        assert_eq!(
            coerce(&json!(10.0), ValueType::Money, Some(2)).unwrap(),
            json!(10)
        );
    }

    #[test]
    fn dates_from_dates_and_datetimes() {
        assert_eq!(
            coerce(&json!("2026-11-02"), ValueType::Date, None).unwrap(),
            json!("2026-11-02")
        );
        assert_eq!(
            coerce(&json!("2026-11-02T23:30:00+11:00"), ValueType::Date, None).unwrap(),
            json!("2026-11-02")
        );
        assert!(coerce(&json!("31/02/2026"), ValueType::Date, None).is_err());
        assert!(coerce(&json!("2026-02-31"), ValueType::Date, None).is_err());
    }

    #[test]
    fn numbers_strings_bools() {
        assert_eq!(
            coerce(&json!("2.5"), ValueType::Number, None).unwrap(),
            json!(2.5)
        );
        assert!(coerce(&json!("abc"), ValueType::Number, None)
            .unwrap_err()
            .contains("\"abc\""));
        assert_eq!(
            coerce(&json!(3), ValueType::String, None).unwrap(),
            json!("3")
        );
        assert_eq!(
            coerce(&json!("TRUE"), ValueType::Bool, None).unwrap(),
            json!(true)
        );
        assert!(coerce(&json!(2.5), ValueType::Integer, None).is_err());
    }
}
