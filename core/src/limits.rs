//! The bounds every stored number lives within (security review M1, V1, D4), chosen far above
//! anything a property company meets and far below where `Decimal` arithmetic could overflow.
//!
//! Why they make `apply` safe by construction: `decide` refuses any command whose amounts,
//! prices, areas or readings fall outside these bounds, so every journaled amount is at most
//! [`AMOUNT_MAX`] (10^8 yuan, 10^10 fen). A `Decimal` holds 2^96 ≈ 7.9 × 10^28 units, so a sum of
//! journaled amounts could overflow only after ~10^18 of them — more events than any journal will
//! ever hold. Products (area × price × coefficient × share) stay below 10^24 before the result is
//! checked against [`AMOUNT_MAX`] in `decide`.

use rust_decimal::Decimal;

use crate::money::Money;

/// One amount — a bill, a payment, an edit, an imported row: 100,000,000.00 yuan (一亿元).
pub const AMOUNT_MAX: Money = Money::from_parts_fen(10_000_000_000);
/// A house's or a resource's area: 1,000,000 m².
pub const AREA_MAX: Decimal = Decimal::from_parts(1_000_000, 0, 0, false, 0);
/// A unit price, a fixed amount per house, a tier price: 1,000,000 yuan per unit.
pub const PRICE_MAX: Decimal = Decimal::from_parts(1_000_000, 0, 0, false, 0);
/// A floor coefficient or a vacant share: 1,000.
pub const FACTOR_MAX: Decimal = Decimal::from_parts(1_000, 0, 0, false, 0);
/// A meter reading, a tier limit, a usage: 1,000,000,000,000 (10^12, a register no meter has).
pub const READING_MAX: Decimal = Decimal::from_parts(3_567_587_328, 232, 0, false, 0);
/// Days between two reminders on one channel: ten years.
pub const REMINDER_DAYS_MAX: u32 = 3_660;
/// Decimal places a price, an area or a factor may carry (a reading may carry as many as a meter gives).
pub const PRICE_DECIMALS: u32 = 6;

/// A bound a number broke, in words for the person who typed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutOfRange {
    pub what: &'static str,
    pub what_en: &'static str,
    pub max: String,
}

crate::bilingual!(OutOfRange {
    OutOfRange { what, what_en, max } => ("{what}超出允许范围（0 至 {max}）") / ("the {what_en} is out of range (0 to {max})"),
});

/// `value` within `0..=max` with at most `decimals` places, else why not.
pub fn check(value: Decimal, max: Decimal, decimals: u32, what: &'static str, what_en: &'static str) -> Result<(), OutOfRange> {
    // `normalize` only when the scale says there may be too many places (it is the slow part).
    let too_fine = value.scale() > decimals && value.normalize().scale() > decimals;
    if value.is_sign_negative() && !value.is_zero() || value > max || too_fine {
        return Err(OutOfRange { what, what_en, max: max.to_string() });
    }
    Ok(())
}

/// An amount within `0..=AMOUNT_MAX` (a `Money` never has more than two places). On the hot path
/// of a bill run: a sign test and one comparison.
pub fn check_amount(value: Money, what: &'static str, what_en: &'static str) -> Result<(), OutOfRange> {
    if value.is_negative() || value > AMOUNT_MAX {
        return Err(OutOfRange { what, what_en, max: AMOUNT_MAX.to_string() });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bounds_say_what_the_docs_say() {
        assert_eq!(AMOUNT_MAX.to_string(), "100000000.00");
        assert_eq!(AREA_MAX.to_string(), "1000000");
        assert_eq!(READING_MAX.to_string(), "1000000000000");
        assert_eq!(PRICE_MAX.to_string(), "1000000");
        assert_eq!(FACTOR_MAX.to_string(), "1000");
    }

    #[test]
    fn out_of_range_is_refused_in_both_languages() {
        let e = check(Decimal::from(2_000_000), AREA_MAX, PRICE_DECIMALS, "面积", "area").unwrap_err();
        assert_eq!(crate::Bilingual::zh(&e), "面积超出允许范围（0 至 1000000）");
        assert!(check(Decimal::new(-1, 0), AREA_MAX, 2, "面积", "area").is_err());
        assert!(check(Decimal::new(1_234_567, 7), AREA_MAX, 6, "面积", "area").is_err());
        assert!(check(Decimal::new(1_000_000, 6), AREA_MAX, 6, "面积", "area").is_ok());
    }
}
