//! Xero's `where` filter and `order` clause: a small parser and evaluator.
//!
//! Grammar (keywords in any case):
//!
//! ```text
//! expr       := and (("OR" | "||") and)*
//! and        := unary (("AND" | "&&") unary)*
//! unary      := ("NOT" | "!") unary | "(" expr ")" | comparison
//! comparison := operand (("==" | "=" | "!=" | "<>" | ">" | ">=" | "<" | "<=") operand)?
//! operand    := literal | path ("." method "(" args ")")*
//! literal    := "text" | number | true | false | null
//!             | guid("...") | DateTime(y, m, d[, h, mi, s]) | DateTime.Parse("...")
//! method     := StartsWith | EndsWith | Contains | ToUpper | ToLower | Trim | Equals
//! ```
//!
//! Text compares without regard to case, as Xero's does; a field holding a
//! `/Date(...)/` compares as a date with a `DateTime(...)` literal.

use crate::time::parse_any;
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;
use std::cmp::Ordering;

/// A value met while evaluating a filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    /// Missing or `null`.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// A number.
    Num(f64),
    /// Text.
    Text(String),
    /// A point in time (`DateTime(...)`).
    Date(DateTime<Utc>),
}

/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `<`
    Lt,
    /// `<=`
    Le,
}

/// String methods Xero's filters take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// `.StartsWith("x")`
    StartsWith,
    /// `.EndsWith("x")`
    EndsWith,
    /// `.Contains("x")`
    Contains,
    /// `.Equals("x")`
    Equals,
    /// `.ToUpper()`
    ToUpper,
    /// `.ToLower()`
    ToLower,
    /// `.Trim()`
    Trim,
}

/// A parsed filter expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// A literal value.
    Lit(Val),
    /// A field path, e.g. `Contact.ContactID`.
    Field(Vec<String>),
    /// A method called on a value.
    Call(Box<Expr>, Method, Vec<Expr>),
    /// A comparison.
    Cmp(Box<Expr>, CmpOp, Box<Expr>),
    /// Both.
    And(Box<Expr>, Box<Expr>),
    /// Either.
    Or(Box<Expr>, Box<Expr>),
    /// Negation.
    Not(Box<Expr>),
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Num(f64),
    Op(&'static str),
    LParen,
    RParen,
    Comma,
    Dot,
}

fn tokenize(src: &str) -> Result<Vec<Tok>, String> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if c == '"' || c == '\'' {
            let mut s = String::new();
            i += 1;
            loop {
                match chars.get(i) {
                    None => return Err("a quoted text is not closed".into()),
                    Some('\\') if chars.get(i + 1).is_some() => {
                        s.push(chars[i + 1]);
                        i += 2;
                    }
                    Some(&q) if q == c => {
                        i += 1;
                        break;
                    }
                    Some(&other) => {
                        s.push(other);
                        i += 1;
                    }
                }
            }
            out.push(Tok::Str(s));
            continue;
        }
        if c.is_ascii_digit() || (c == '-' && chars.get(i + 1).is_some_and(|d| d.is_ascii_digit()))
        {
            let start = i;
            i += 1;
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                i += 1;
            }
            let text: String = chars[start..i].iter().collect();
            let n = text
                .parse::<f64>()
                .map_err(|_| format!("'{text}' is not a number"))?;
            out.push(Tok::Num(n));
            continue;
        }
        if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            out.push(Tok::Ident(chars[start..i].iter().collect()));
            continue;
        }
        let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
        let op = match two.as_str() {
            "==" => Some("=="),
            "!=" => Some("!="),
            "<>" => Some("!="),
            ">=" => Some(">="),
            "<=" => Some("<="),
            "&&" => Some("&&"),
            "||" => Some("||"),
            _ => None,
        };
        if let Some(op) = op {
            out.push(Tok::Op(op));
            i += 2;
            continue;
        }
        let tok = match c {
            '(' => Tok::LParen,
            ')' => Tok::RParen,
            ',' => Tok::Comma,
            '.' => Tok::Dot,
            '=' => Tok::Op("=="),
            '>' => Tok::Op(">"),
            '<' => Tok::Op("<"),
            '!' => Tok::Op("!"),
            other => return Err(format!("unexpected '{other}'")),
        };
        out.push(tok);
        i += 1;
    }
    Ok(out)
}

struct Parser {
    toks: Vec<Tok>,
    at: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.at)
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.at).cloned();
        self.at += 1;
        t
    }

    fn expect(&mut self, want: Tok, what: &str) -> Result<(), String> {
        match self.next() {
            Some(t) if t == want => Ok(()),
            Some(t) => Err(format!("expected {what}, found {t:?}")),
            None => Err(format!("expected {what} at the end")),
        }
    }

    fn keyword(&self, word: &str) -> bool {
        matches!(self.peek(), Some(Tok::Ident(w)) if w.eq_ignore_ascii_case(word))
    }

    fn or(&mut self) -> Result<Expr, String> {
        let mut left = self.and()?;
        while self.keyword("or") || self.peek() == Some(&Tok::Op("||")) {
            self.next();
            let right = self.and()?;
            left = Expr::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, String> {
        let mut left = self.unary()?;
        while self.keyword("and") || self.peek() == Some(&Tok::Op("&&")) {
            self.next();
            let right = self.unary()?;
            left = Expr::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr, String> {
        if self.keyword("not") || self.peek() == Some(&Tok::Op("!")) {
            self.next();
            return Ok(Expr::Not(Box::new(self.unary()?)));
        }
        if self.peek() == Some(&Tok::LParen) {
            self.next();
            let inner = self.or()?;
            self.expect(Tok::RParen, "')'")?;
            return self.comparison_tail(inner);
        }
        let left = self.operand()?;
        self.comparison_tail(left)
    }

    fn comparison_tail(&mut self, left: Expr) -> Result<Expr, String> {
        let op = match self.peek() {
            Some(Tok::Op("==")) => CmpOp::Eq,
            Some(Tok::Op("!=")) => CmpOp::Ne,
            Some(Tok::Op(">")) => CmpOp::Gt,
            Some(Tok::Op(">=")) => CmpOp::Ge,
            Some(Tok::Op("<")) => CmpOp::Lt,
            Some(Tok::Op("<=")) => CmpOp::Le,
            _ => return Ok(left),
        };
        self.next();
        let right = self.operand()?;
        Ok(Expr::Cmp(Box::new(left), op, Box::new(right)))
    }

    fn args(&mut self) -> Result<Vec<Expr>, String> {
        self.expect(Tok::LParen, "'('")?;
        let mut args = Vec::new();
        if self.peek() == Some(&Tok::RParen) {
            self.next();
            return Ok(args);
        }
        loop {
            args.push(self.operand()?);
            match self.next() {
                Some(Tok::Comma) => continue,
                Some(Tok::RParen) => return Ok(args),
                _ => return Err("expected ',' or ')' in an argument list".into()),
            }
        }
    }

    fn operand(&mut self) -> Result<Expr, String> {
        let base = match self.next() {
            Some(Tok::Str(s)) => Expr::Lit(Val::Text(s)),
            Some(Tok::Num(n)) => Expr::Lit(Val::Num(n)),
            Some(Tok::LParen) => {
                let inner = self.operand()?;
                self.expect(Tok::RParen, "')'")?;
                inner
            }
            Some(Tok::Ident(word)) => self.word(&word)?,
            Some(t) => return Err(format!("unexpected {t:?}")),
            None => return Err("the clause ends too soon".into()),
        };
        self.methods(base)
    }

    fn word(&mut self, word: &str) -> Result<Expr, String> {
        let lower = word.to_ascii_lowercase();
        match lower.as_str() {
            "true" => return Ok(Expr::Lit(Val::Bool(true))),
            "false" => return Ok(Expr::Lit(Val::Bool(false))),
            "null" => return Ok(Expr::Lit(Val::Null)),
            "guid" if self.peek() == Some(&Tok::LParen) => {
                let args = self.args()?;
                return match args.as_slice() {
                    [Expr::Lit(Val::Text(g))] => Ok(Expr::Lit(Val::Text(g.clone()))),
                    _ => Err("guid() takes one quoted id".into()),
                };
            }
            "datetime" if self.peek() == Some(&Tok::Dot) => {
                self.next();
                match self.next() {
                    Some(Tok::Ident(p)) if p.eq_ignore_ascii_case("parse") => {}
                    _ => return Err("expected DateTime.Parse(\"...\")".into()),
                }
                let args = self.args()?;
                return match args.as_slice() {
                    [Expr::Lit(Val::Text(d))] => parse_any(d)
                        .map(|t| Expr::Lit(Val::Date(t)))
                        .ok_or_else(|| format!("'{d}' is not a date")),
                    _ => Err("DateTime.Parse() takes one quoted date".into()),
                };
            }
            "datetime" if self.peek() == Some(&Tok::LParen) => {
                let args = self.args()?;
                let mut parts = Vec::new();
                for a in &args {
                    match a {
                        Expr::Lit(Val::Num(n)) if n.fract() == 0.0 => parts.push(*n as i64),
                        _ => return Err("DateTime() takes whole numbers".into()),
                    }
                }
                return date_from_parts(&parts).map(|t| Expr::Lit(Val::Date(t)));
            }
            _ => {}
        }
        Ok(Expr::Field(vec![word.to_string()]))
    }

    fn methods(&mut self, mut base: Expr) -> Result<Expr, String> {
        while self.peek() == Some(&Tok::Dot) {
            self.next();
            let Some(Tok::Ident(name)) = self.next() else {
                return Err("expected a field or method name after '.'".into());
            };
            if self.peek() == Some(&Tok::LParen) {
                let method = match name.to_ascii_lowercase().as_str() {
                    "startswith" => Method::StartsWith,
                    "endswith" => Method::EndsWith,
                    "contains" => Method::Contains,
                    "equals" => Method::Equals,
                    "toupper" | "toupperinvariant" => Method::ToUpper,
                    "tolower" | "tolowerinvariant" => Method::ToLower,
                    "trim" => Method::Trim,
                    _ => return Err(format!("unknown method {name}()")),
                };
                let args = self.args()?;
                let want = match method {
                    Method::ToUpper | Method::ToLower | Method::Trim => 0,
                    _ => 1,
                };
                if args.len() != want {
                    return Err(format!("{name}() takes {want} argument(s)"));
                }
                base = Expr::Call(Box::new(base), method, args);
            } else {
                match &mut base {
                    Expr::Field(path) => path.push(name),
                    _ => return Err(format!("'.{name}' follows something that is not a field")),
                }
            }
        }
        Ok(base)
    }
}

fn date_from_parts(p: &[i64]) -> Result<DateTime<Utc>, String> {
    if !(p.len() == 3 || p.len() == 6) {
        return Err("DateTime() takes year, month, day (and hour, minute, second)".into());
    }
    let date = NaiveDate::from_ymd_opt(p[0] as i32, p[1] as u32, p[2] as u32)
        .ok_or("DateTime() names a day that does not exist")?;
    let (h, mi, s) = if p.len() == 6 {
        (p[3] as u32, p[4] as u32, p[5] as u32)
    } else {
        (0, 0, 0)
    };
    date.and_hms_opt(h, mi, s)
        .map(|t| t.and_utc())
        .ok_or_else(|| "DateTime() names a time that does not exist".into())
}

/// Parses a `where` clause.
pub fn parse_where(src: &str) -> Result<Expr, String> {
    let toks = tokenize(src)?;
    if toks.is_empty() {
        return Err("the clause is empty".into());
    }
    let mut p = Parser { toks, at: 0 };
    let e = p.or()?;
    if let Some(t) = p.peek() {
        return Err(format!("unexpected {t:?} after a complete clause"));
    }
    check_condition(&e)?;
    Ok(e)
}

/// A condition must be a comparison, a test (`.StartsWith()` ...), a
/// flag (`IsSupplier`, `HasAttachments`), or `AND`/`OR`/`NOT` of those: a bare
/// name such as `garbage` is no condition, as Xero says.
fn check_condition(e: &Expr) -> Result<(), String> {
    match e {
        Expr::And(a, b) | Expr::Or(a, b) => {
            check_condition(a)?;
            check_condition(b)
        }
        Expr::Not(a) => check_condition(a),
        Expr::Cmp(..) => Ok(()),
        Expr::Lit(Val::Bool(_)) => Ok(()),
        Expr::Call(_, m, _) if !matches!(m, Method::ToUpper | Method::ToLower | Method::Trim) => {
            Ok(())
        }
        Expr::Field(path) => {
            let last = path.last().map(String::as_str).unwrap_or("");
            if ["Is", "Has", "Sent"].iter().any(|p| last.starts_with(p)) {
                Ok(())
            } else {
                Err(format!("'{}' is not a condition", path.join(".")))
            }
        }
        other => Err(format!("{other:?} is not a condition")),
    }
}

fn field(r: &Value, path: &[String]) -> Val {
    let mut cur = r;
    for p in path {
        let next = match cur {
            Value::Object(o) => o.get(p).or_else(|| {
                o.iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(p))
                    .map(|(_, v)| v)
            }),
            _ => None,
        };
        match next {
            Some(v) => cur = v,
            None => return Val::Null,
        }
    }
    match cur {
        Value::Null => Val::Null,
        Value::Bool(b) => Val::Bool(*b),
        Value::Number(n) => Val::Num(n.as_f64().unwrap_or(0.0)),
        Value::String(s) if s.starts_with("/Date(") => {
            parse_any(s).map(Val::Date).unwrap_or(Val::Text(s.clone()))
        }
        Value::String(s) => Val::Text(s.clone()),
        other => Val::Text(other.to_string()),
    }
}

fn text_of(v: &Val) -> String {
    match v {
        Val::Null => String::new(),
        Val::Bool(b) => b.to_string(),
        Val::Num(n) => n.to_string(),
        Val::Text(s) => s.clone(),
        Val::Date(d) => d.to_rfc3339(),
    }
}

/// Orders two values: numbers, dates and text (without regard to case); `None`
/// when they cannot be compared (then only `!=` holds).
pub fn compare(a: &Val, b: &Val) -> Option<Ordering> {
    match (a, b) {
        (Val::Null, Val::Null) => Some(Ordering::Equal),
        (Val::Null, _) | (_, Val::Null) => None,
        (Val::Num(x), Val::Num(y)) => x.partial_cmp(y),
        (Val::Num(x), Val::Text(s)) => s
            .trim()
            .parse::<f64>()
            .ok()?
            .partial_cmp(x)
            .map(Ordering::reverse),
        (Val::Text(s), Val::Num(y)) => s.trim().parse::<f64>().ok()?.partial_cmp(y),
        (Val::Date(x), Val::Date(y)) => Some(x.cmp(y)),
        (Val::Date(x), Val::Text(s)) => parse_any(s).map(|y| x.cmp(&y)),
        (Val::Text(s), Val::Date(y)) => parse_any(s).map(|x| x.cmp(y)),
        (Val::Bool(x), Val::Bool(y)) => Some(x.cmp(y)),
        (Val::Bool(x), Val::Text(s)) | (Val::Text(s), Val::Bool(x)) => {
            s.parse::<bool>().ok().map(|y| x.cmp(&y))
        }
        (Val::Text(x), Val::Text(y)) => Some(x.to_lowercase().cmp(&y.to_lowercase())),
        _ => None,
    }
}

fn truthy(v: &Val) -> bool {
    matches!(v, Val::Bool(true))
}

/// Evaluates an expression against one record.
pub fn eval(e: &Expr, r: &Value) -> Val {
    match e {
        Expr::Lit(v) => v.clone(),
        Expr::Field(path) => field(r, path),
        Expr::Call(base, method, args) => {
            let s = text_of(&eval(base, r));
            let arg = args.first().map(|a| text_of(&eval(a, r)).to_lowercase());
            let low = s.to_lowercase();
            match (method, arg) {
                (Method::ToUpper, _) => Val::Text(s.to_uppercase()),
                (Method::ToLower, _) => Val::Text(low),
                (Method::Trim, _) => Val::Text(s.trim().to_string()),
                (Method::StartsWith, Some(a)) => Val::Bool(low.starts_with(&a)),
                (Method::EndsWith, Some(a)) => Val::Bool(low.ends_with(&a)),
                (Method::Contains, Some(a)) => Val::Bool(low.contains(&a)),
                (Method::Equals, Some(a)) => Val::Bool(low == a),
                _ => Val::Null,
            }
        }
        Expr::Cmp(a, op, b) => {
            let (x, y) = (eval(a, r), eval(b, r));
            let ord = compare(&x, &y);
            Val::Bool(match op {
                CmpOp::Eq => ord == Some(Ordering::Equal),
                CmpOp::Ne => ord != Some(Ordering::Equal),
                CmpOp::Gt => ord == Some(Ordering::Greater),
                CmpOp::Ge => matches!(ord, Some(Ordering::Greater | Ordering::Equal)),
                CmpOp::Lt => ord == Some(Ordering::Less),
                CmpOp::Le => matches!(ord, Some(Ordering::Less | Ordering::Equal)),
            })
        }
        Expr::And(a, b) => Val::Bool(truthy(&eval(a, r)) && truthy(&eval(b, r))),
        Expr::Or(a, b) => Val::Bool(truthy(&eval(a, r)) || truthy(&eval(b, r))),
        Expr::Not(a) => Val::Bool(!truthy(&eval(a, r))),
    }
}

/// Whether record `r` passes the filter.
pub fn matches(e: &Expr, r: &Value) -> bool {
    truthy(&eval(e, r))
}

/// One key of an `order` clause.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderKey {
    /// Field path.
    pub path: Vec<String>,
    /// Descending when true.
    pub descending: bool,
}

/// Parses `order=Name ASC, Date DESC`.
pub fn parse_order(src: &str) -> Result<Vec<OrderKey>, String> {
    let mut keys = Vec::new();
    for part in src.split(',') {
        let mut words = part.split_whitespace();
        let Some(path) = words.next() else {
            return Err("an order key is empty".into());
        };
        let descending = match words.next().map(str::to_ascii_lowercase).as_deref() {
            None | Some("asc") => false,
            Some("desc") => true,
            Some(other) => return Err(format!("'{other}' is neither ASC nor DESC")),
        };
        if words.next().is_some() {
            return Err(format!("'{}' is not one order key", part.trim()));
        }
        let path: Vec<String> = path.split('.').map(str::to_string).collect();
        if path
            .iter()
            .any(|p| p.is_empty() || !p.chars().all(|c| c.is_alphanumeric() || c == '_'))
        {
            return Err(format!("'{}' is not a field", part.trim()));
        }
        keys.push(OrderKey { path, descending });
    }
    Ok(keys)
}

/// Orders two records by the keys; missing values first.
pub fn order_records(keys: &[OrderKey], a: &Value, b: &Value) -> Ordering {
    for k in keys {
        let (x, y) = (field(a, &k.path), field(b, &k.path));
        let o = match (&x, &y) {
            (Val::Null, Val::Null) => Ordering::Equal,
            (Val::Null, _) => Ordering::Less,
            (_, Val::Null) => Ordering::Greater,
            _ => compare(&x, &y).unwrap_or(Ordering::Equal),
        };
        let o = if k.descending { o.reverse() } else { o };
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn invoice() -> Value {
        json!({
            "InvoiceID": "3e1d6a64-1111-4000-8000-000000000001",
            "Type": "ACCREC",
            "Status": "AUTHORISED",
            "Reference": "ZOHO-1",
            "AmountDue": 55.0,
            "Date": "/Date(1709251200000+0000)/",
            "Contact": {"ContactID": "c0000000-0000-4000-8000-000000000001", "Name": "Basket Case", "EmailAddress": null},
        })
    }

    fn holds(w: &str) -> bool {
        let e = parse_where(w).unwrap_or_else(|err| panic!("{w}: {err}"));
        matches(&e, &invoice())
    }

    #[test]
    fn xeros_documented_filters_parse_and_match() {
        assert!(holds(
            r#"Contact.ContactID==guid("c0000000-0000-4000-8000-000000000001")"#
        ));
        assert!(holds(
            r#"Contact.ContactID == Guid("C0000000-0000-4000-8000-000000000001")"#
        ));
        assert!(holds("Date >= DateTime(2024, 01, 01)"));
        assert!(!holds("Date >= DateTime(2024, 03, 02)"));
        assert!(holds("Date < DateTime(2024,03,01,00,00,01)"));
        assert!(holds(r#"Date == DateTime.Parse("2024-03-01")"#));
        assert!(holds("AmountDue > 0"));
        assert!(!holds("AmountDue <= 0"));
        assert!(holds(r#"Status == "DRAFT" OR Status == "AUTHORISED""#));
        assert!(holds(
            r#"(Status == "DRAFT" || Status == "AUTHORISED") && Type == "ACCREC""#
        ));
        assert!(!holds(
            r#"Status == "DRAFT" OR (Status == "AUTHORISED" AND AmountDue > 100)"#
        ));
        assert!(holds(r#"NOT Status == "VOIDED""#));
        assert!(holds(r#"!(Status == "VOIDED")"#));
        assert!(holds(r#"Reference.StartsWith("zoho")"#));
        assert!(holds(r#"Reference.EndsWith("-1")"#));
        assert!(holds(r#"Contact.Name.Contains("basket")"#));
        assert!(holds(r#"Contact.Name.ToUpper() == "BASKET CASE""#));
        assert!(holds(r#"Contact.Name.ToLower().StartsWith("bas")"#));
        assert!(holds("Contact.EmailAddress == null"));
        assert!(holds("Contact.Phone == null"), "a missing field is null");
        assert!(!holds("Reference != null AND Reference == null"));
        assert!(holds(r#"Type=="ACCREC" AND Reference=="ZOHO-1""#));
        assert!(!holds("IsDiscounted"), "a flag is a condition");
    }

    #[test]
    fn what_xero_would_not_parse_is_an_error() {
        for bad in [
            "garbage here",
            "garbage",
            r#""text""#,
            "Name.ToUpper()",
            "Status ==",
            r#"Status == "open"#,
            "(Status == 1",
            "Date >= DateTime(2020, 13, 01)",
            r#"Name.Shout("x")"#,
            "AmountDue > 0 AND",
            "",
        ] {
            assert!(parse_where(bad).is_err(), "{bad} should not parse");
        }
    }

    #[test]
    fn order_sorts_by_keys_missing_values_first() {
        let recs = [
            json!({"Name": "b", "N": 2}),
            json!({"Name": "A", "N": 2}),
            json!({"N": 1}),
        ];
        let keys = parse_order("N DESC, Name").unwrap();
        let mut v: Vec<&Value> = recs.iter().collect();
        v.sort_by(|a, b| order_records(&keys, a, b));
        assert_eq!(v[0]["Name"], "A");
        assert_eq!(v[1]["Name"], "b");
        assert_eq!(v[2]["N"], 1);
        assert!(parse_order("Name SIDEWAYS").is_err());
        assert!(parse_order("Name;drop").is_err());
    }
}
