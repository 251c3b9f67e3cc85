//! Money helpers for rules: minor-unit exponents per ISO 4217 currency, conversion between a table's decimal
//! amounts ("50.00") and integer minor units, and the human format used in explanations (`CNY 8,000.00`).
//!
//! Rounding policy (one place, used by every late-fee calculation): **round half up** to whole minor units
//! (0.5 fen → 1 fen; fees are never negative so half-up = half away from zero), the usual commercial rounding
//! in Chinese invoices (四舍五入). Caps expressed as a share of the outstanding amount are rounded **down** so that
//! a capped fee never exceeds the exact cap.

use rust_decimal::{Decimal, RoundingStrategy};

/// Number of decimal places of one minor unit: 2 for CNY/USD/EUR/HKD..., 0 for JPY/KRW..., 3 for BHD/KWD....
pub fn minor_exponent(currency: &str) -> u32 {
    match currency {
        "JPY" | "KRW" | "VND" | "CLP" | "ISK" | "PYG" | "UGX" | "XAF" | "XOF" | "XPF" | "RWF" | "KMF" | "GNF"
        | "DJF" | "BIF" | "VUV" => 0,
        "BHD" | "KWD" | "OMR" | "JOD" | "TND" | "IQD" | "LYD" => 3,
        _ => 2,
    }
}

/// True for a plausible ISO 4217 code: three ASCII upper-case letters.
pub fn is_currency_code(code: &str) -> bool {
    code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase())
}

/// Decimal major amount → exact minor units; `None` when it has more decimals than the currency allows or
/// does not fit in i64.
pub fn major_to_minor(amount: Decimal, currency: &str) -> Option<i64> {
    let scaled = amount.checked_mul(Decimal::from(10i64.pow(minor_exponent(currency))))?;
    if scaled.fract() != Decimal::ZERO {
        return None;
    }
    i64::try_from(scaled.trunc()).ok()
}

/// Minor units → decimal major amount (`12345` CNY → `123.45`).
pub fn minor_to_major(minor: i64, currency: &str) -> Decimal {
    Decimal::new(minor, minor_exponent(currency))
}

/// Round a (non-negative) amount of minor units half up to whole minor units, saturating at i64::MAX.
pub fn round_half_up(minor: Decimal) -> i64 {
    let r = minor.round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero);
    i64::try_from(r).unwrap_or(if r.is_sign_negative() { i64::MIN } else { i64::MAX })
}

/// Round an amount of minor units down (toward negative infinity) to whole minor units, saturating.
pub fn round_down(minor: Decimal) -> i64 {
    let r = minor.floor();
    i64::try_from(r).unwrap_or(if r.is_sign_negative() { i64::MIN } else { i64::MAX })
}

/// `CNY 8,000.00`, `JPY 1,200`, `CNY -3.50`.
pub fn format_money(minor: i64, currency: &str) -> String {
    let exp = minor_exponent(currency) as usize;
    let neg = minor < 0;
    let digits = minor.unsigned_abs().to_string();
    let digits = if digits.len() <= exp { format!("{}{}", "0".repeat(exp + 1 - digits.len()), digits) } else { digits };
    let (int, frac) = digits.split_at(digits.len() - exp);
    let mut grouped = String::with_capacity(int.len() + int.len() / 3);
    for (i, ch) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(ch);
    }
    let sign = if neg { "-" } else { "" };
    if exp == 0 { format!("{currency} {sign}{grouped}") } else { format!("{currency} {sign}{grouped}.{frac}") }
}

/// A rate in ppm as a percentage for people: `500` → `0.05 %`, `50000` → `5 %`, `12500` → `1.25 %`.
pub fn format_ppm_percent(ppm: u32) -> String {
    format!("{} %", (Decimal::from(ppm) / Decimal::from(10_000)).normalize())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn exponents_and_conversion() {
        assert_eq!(minor_exponent("CNY"), 2);
        assert_eq!(minor_exponent("JPY"), 0);
        assert_eq!(minor_exponent("KWD"), 3);
        assert_eq!(major_to_minor(dec!(50.00), "CNY"), Some(5000));
        assert_eq!(major_to_minor(dec!(50.005), "CNY"), None);
        assert_eq!(major_to_minor(dec!(1200), "JPY"), Some(1200));
        assert_eq!(major_to_minor(dec!(12.5), "JPY"), None);
        assert_eq!(minor_to_major(12345, "CNY"), dec!(123.45));
    }

    #[test]
    fn rounding_is_half_up_and_caps_round_down() {
        assert_eq!(round_half_up(dec!(400.5)), 401);
        assert_eq!(round_half_up(dec!(400.4999)), 400);
        assert_eq!(round_half_up(dec!(401.5)), 402); // not banker's (which would give 402 too) ...
        assert_eq!(round_half_up(dec!(402.5)), 403); // ... but here banker's would give 402
        assert_eq!(round_down(dec!(400.99)), 400);
    }

    #[test]
    fn formats_for_people() {
        assert_eq!(format_money(800_000, "CNY"), "CNY 8,000.00");
        assert_eq!(format_money(5, "CNY"), "CNY 0.05");
        assert_eq!(format_money(-350, "CNY"), "CNY -3.50");
        assert_eq!(format_money(1_234_567, "JPY"), "JPY 1,234,567");
        assert_eq!(format_money(100_000_000, "CNY"), "CNY 1,000,000.00");
        assert_eq!(format_ppm_percent(500), "0.05 %");
        assert_eq!(format_ppm_percent(50_000), "5 %");
        assert_eq!(format_ppm_percent(12_500), "1.25 %");
    }
}
