//! Money helpers for rules: minor-unit exponents per ISO 4217 currency, conversion between a table's decimal
//! amounts ("50.00") and integer minor units, and the human format used in explanations (`CNY 8,000.00`).
//!
//! Rounding policy (one place, used by every late-fee calculation): **round half up** to whole minor units
//! (0.5 fen → 1 fen; fees are never negative so half-up = half away from zero), the usual commercial rounding
//! in Chinese invoices (四舍五入). Caps expressed as a share of the outstanding amount are rounded **down** so that
//! a capped fee never exceeds the exact cap.

use rust_decimal::Decimal;

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

/// `minor × ppm / 1 000 000 × times`, computed exactly in integers and rounded **half up** (half away from
/// zero) to whole minor units, saturating at the i64 range. The percent and daily-percent late fees.
/// Exact for every input (`|minor| × ppm × times` < 2^127), no decimal arithmetic: the same answer natively and
/// in a WebAssembly plugin, and no overflow panic whatever the figures.
pub fn ppm_of_half_up(minor: i64, ppm: u32, times: u64) -> i64 {
    // Every real fee fits in i64 (fen × ppm × days < 9.2e18): one machine division, also in WebAssembly,
    // where i128 division is a software routine.
    if let Some(n) = i64::try_from(times).ok().and_then(|t| minor.checked_mul(i64::from(ppm))?.checked_mul(t)) {
        let q = (n.unsigned_abs() + u64::from(crate::types::PPM / 2)) / u64::from(crate::types::PPM);
        // q ≤ (2^63 + 5e5) / 1e6: fits in i64.
        return if n < 0 { -(q as i64) } else { q as i64 };
    }
    let n = i128::from(minor) * i128::from(ppm) * i128::from(times);
    let q = (n.abs() + i128::from(crate::types::PPM / 2)) / i128::from(crate::types::PPM);
    saturate(if n < 0 { -q } else { q })
}

/// `minor × ppm / 1 000 000`, exact, rounded **down** (toward negative infinity) to whole minor units,
/// saturating. Caps given as a share of the amount outstanding (a capped fee never exceeds the exact cap).
pub fn ppm_of_down(minor: i64, ppm: u32) -> i64 {
    if let Some(n) = minor.checked_mul(i64::from(ppm)) {
        return n.div_euclid(i64::from(crate::types::PPM));
    }
    let n = i128::from(minor) * i128::from(ppm);
    saturate(n.div_euclid(i128::from(crate::types::PPM)))
}

fn saturate(v: i128) -> i64 {
    i64::try_from(v).unwrap_or(if v < 0 { i64::MIN } else { i64::MAX })
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

    /// The integer late-fee arithmetic equals exact decimal arithmetic (the former implementation) rounded the
    /// same way, over a spread of amounts, rates and days including the extremes.
    #[test]
    fn ppm_arithmetic_equals_exact_decimal_arithmetic() {
        use rust_decimal::RoundingStrategy;
        let half_up =
            |d: Decimal| i64::try_from(d.round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero)).unwrap();
        let down = |d: Decimal| i64::try_from(d.floor()).unwrap();
        let ppm = Decimal::from(crate::types::PPM);
        let mut amounts: Vec<i64> = vec![0, 1, 2, 3, 499, 500, 501, 999_999, 1_000_000, 1_000_001, 123_456_789];
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..2_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            amounts.push((x % 100_000_000_000) as i64);
        }
        let rates = [0u32, 1, 5, 333, 500, 499_999, 500_000, 500_001, 999_999, 1_000_000];
        let days = [0u64, 1, 2, 7, 30, 365, 3_650];
        for &a in &amounts {
            for sign in [1i64, -1] {
                let a = a * sign;
                for &r in &rates {
                    let exact = Decimal::from(a) * Decimal::from(r) / ppm;
                    assert_eq!(ppm_of_down(a, r), down(exact), "{a} x {r} ppm, down");
                    for &d in &days {
                        let want = half_up(Decimal::from(a) * Decimal::from(r) * Decimal::from(d) / ppm);
                        assert_eq!(ppm_of_half_up(a, r, d), want, "{a} x {r} ppm x {d} days, half up");
                    }
                }
            }
        }
        // Halves round away from zero; shares round toward negative infinity.
        assert_eq!(ppm_of_half_up(1, 500_000, 1), 1);
        assert_eq!(ppm_of_half_up(-1, 500_000, 1), -1);
        assert_eq!(ppm_of_half_up(1, 499_999, 1), 0);
        assert_eq!(ppm_of_down(-1, 1), -1);
        assert_eq!(ppm_of_down(999_999, 1), 0);
        // Beyond the decimal type's range: exact, then saturated, never a panic.
        assert_eq!(ppm_of_half_up(i64::MAX, 1_000_000, u64::from(u32::MAX)), i64::MAX);
        assert_eq!(ppm_of_half_up(i64::MIN, 1_000_000, u64::from(u32::MAX)), i64::MIN);
        assert_eq!(ppm_of_down(i64::MAX, 1_000_000), i64::MAX);
        assert_eq!(ppm_of_half_up(i64::MAX, 10, 100_000), i64::MAX);
    }

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
        // 80,100 fen at 0.5 % = 400.5 fen → 401 (half up), 400.4999 → 400.
        assert_eq!(ppm_of_half_up(80_100, 5_000, 1), 401);
        assert_eq!(ppm_of_half_up(4_004_999, 100, 1), 400);
        assert_eq!(ppm_of_half_up(80_300, 5_000, 1), 402); // 401.5: banker's would give 402 too ...
        assert_eq!(ppm_of_half_up(80_500, 5_000, 1), 403); // ... 402.5: banker's would give 402
        assert_eq!(ppm_of_down(40_099, 10_000), 400); // 400.99 → 400
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
