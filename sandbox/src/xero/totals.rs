//! Line and invoice totals for Exclusive, Inclusive and NoTax amounts.

/// Rounds half away from zero to `dp` decimals.
pub fn round_dp(x: f64, dp: u32) -> f64 {
    let f = 10f64.powi(dp as i32);
    let y = x * f;
    let r = (y + y.signum() * 1e-7).round();
    let out = r / f;
    if out == 0.0 {
        0.0
    } else {
        out
    }
}

/// Rounds to cents.
pub fn round2(x: f64) -> f64 {
    round_dp(x, 2)
}

/// How line amounts relate to tax.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AmountType {
    /// Line amounts exclude tax (Xero's default).
    Exclusive,
    /// Line amounts include tax.
    Inclusive,
    /// No tax.
    NoTax,
}

impl AmountType {
    /// Parses Xero's `LineAmountTypes` value.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "Exclusive" => Some(AmountType::Exclusive),
            "Inclusive" => Some(AmountType::Inclusive),
            "NoTax" => Some(AmountType::NoTax),
            _ => None,
        }
    }
    /// Xero's spelling.
    pub fn as_str(&self) -> &'static str {
        match self {
            AmountType::Exclusive => "Exclusive",
            AmountType::Inclusive => "Inclusive",
            AmountType::NoTax => "NoTax",
        }
    }
}

/// One line's inputs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LineInput {
    /// Quantity.
    pub quantity: f64,
    /// Unit amount (already rounded to unitdp).
    pub unit_amount: f64,
    /// Discount percentage, if any.
    pub discount_rate: Option<f64>,
    /// Discount amount, if any (used when no rate).
    pub discount_amount: Option<f64>,
    /// Tax rate in percent (`EffectiveRate`).
    pub tax_rate: f64,
}

/// One line's computed amounts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LineTotals {
    /// Quantity x unit amount less discount, rounded to cents (tax inclusive when Inclusive).
    pub line_amount: f64,
    /// Tax on the line.
    pub tax_amount: f64,
    /// Discount taken off.
    pub discount: f64,
}

/// Computes one line.
pub fn line(input: LineInput, kind: AmountType) -> LineTotals {
    let gross = input.quantity * input.unit_amount;
    let discount = match (input.discount_rate, input.discount_amount) {
        (Some(r), _) => gross * r / 100.0,
        (None, Some(a)) => a,
        (None, None) => 0.0,
    };
    let line_amount = round2(gross - discount);
    let tax_amount = match kind {
        AmountType::Exclusive => round2(line_amount * input.tax_rate / 100.0),
        AmountType::Inclusive => round2(line_amount * input.tax_rate / (100.0 + input.tax_rate)),
        AmountType::NoTax => 0.0,
    };
    LineTotals {
        line_amount,
        tax_amount,
        discount: round2(discount),
    }
}

/// Invoice totals.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InvoiceTotals {
    /// Sum of line amounts net of tax.
    pub sub_total: f64,
    /// Sum of line taxes.
    pub total_tax: f64,
    /// SubTotal + TotalTax.
    pub total: f64,
    /// Sum of discounts.
    pub total_discount: f64,
}

/// Adds up lines.
pub fn invoice(lines: &[LineTotals], kind: AmountType) -> InvoiceTotals {
    let tax: f64 = lines.iter().map(|l| l.tax_amount).sum();
    let amounts: f64 = lines.iter().map(|l| l.line_amount).sum();
    let sub_total = match kind {
        AmountType::Inclusive => amounts - tax,
        _ => amounts,
    };
    let sub_total = round2(sub_total);
    let total_tax = round2(tax);
    InvoiceTotals {
        sub_total,
        total_tax,
        total: round2(sub_total + total_tax),
        total_discount: round2(lines.iter().map(|l| l.discount).sum()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exclusive_inclusive_notax() {
        let i = LineInput {
            quantity: 2.0,
            unit_amount: 55.0,
            discount_rate: None,
            discount_amount: None,
            tax_rate: 10.0,
        };
        let e = line(i, AmountType::Exclusive);
        assert_eq!((e.line_amount, e.tax_amount), (110.0, 11.0));
        let inc = line(i, AmountType::Inclusive);
        assert_eq!((inc.line_amount, inc.tax_amount), (110.0, 10.0));
        let t = invoice(&[inc], AmountType::Inclusive);
        assert_eq!((t.sub_total, t.total_tax, t.total), (100.0, 10.0, 110.0));
        let n = line(i, AmountType::NoTax);
        assert_eq!(n.tax_amount, 0.0);
        let d = line(
            LineInput {
                discount_rate: Some(10.0),
                ..i
            },
            AmountType::Exclusive,
        );
        assert_eq!((d.line_amount, d.tax_amount, d.discount), (99.0, 9.9, 11.0));
    }
}
