//! Exact money. Every amount is a `rust_decimal::Decimal` in yuan, rounded to the fen (2 dp) half-up
//! unless a fee item says otherwise; a float never touches an amount.

use std::fmt;
use std::iter::Sum;
use std::ops::{Add, AddAssign, Neg, Sub, SubAssign};
use std::str::FromStr;

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

/// An amount of CNY, always held at 2 decimal places.
///
/// Read from JSON only as a string with at most two decimals (`"194.57"`): a JSON number would
/// pass through a float, and a third decimal would leave a sub-fen remainder no one can settle
/// (review M2). Bounds on size live in `decide` (see [`crate::limits`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Money(Decimal);

impl<'de> Deserialize<'de> for Money {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Exact;
        impl serde::de::Visitor<'_> for Exact {
            type Value = Money;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("金额须写成带引号的字符串，最多两位小数，如 \"194.57\" / an amount is a string with at most two decimals, such as \"194.57\"")
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Money, E> {
                Money::exact(text).map_err(E::custom)
            }
        }
        deserializer.deserialize_str(Exact)
    }
}

/// Why a text is not an amount of money.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("不是有效金额（最多两位小数）/ not a valid amount (at most two decimals): {0:?}")]
pub struct MoneyParseError(pub String);

impl Money {
    pub const ZERO: Money = Money(Decimal::ZERO);

    /// Rounds any decimal to the fen, half away from zero (四舍五入), as the seeds' fee rules do.
    pub fn from_decimal(value: Decimal) -> Money {
        Money(value.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero))
    }

    /// Rounds with an explicit strategy and scale, for fee items that round differently.
    pub fn from_decimal_with(value: Decimal, dp: u32, strategy: RoundingStrategy) -> Money {
        let mut rounded = value.round_dp_with_strategy(dp.min(2), strategy);
        rounded.rescale(2);
        Money(rounded)
    }

    /// Whole fen, at compile time (for bounds).
    pub const fn from_parts_fen(fen: u64) -> Money {
        Money(Decimal::from_parts(fen as u32, (fen >> 32) as u32, 0, false, 2))
    }

    /// An amount as a person wrote it, refused rather than rounded when it has more than two
    /// decimals: `"194.57"`, `"-3"`, `"0.10"`.
    pub fn exact(text: &str) -> Result<Money, MoneyParseError> {
        let digits = text.trim().trim_start_matches(['-', '+']);
        if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit() || c == '.') {
            return Err(MoneyParseError(text.chars().take(40).collect()));
        }
        let value = Decimal::from_str(text.trim()).map_err(|_| MoneyParseError(text.chars().take(40).collect()))?;
        if value.normalize().scale() > 2 {
            return Err(MoneyParseError(text.chars().take(40).collect()));
        }
        let mut value = value.normalize();
        value.rescale(2);
        Ok(Money(value))
    }

    /// `self + other`, or `None` where `Decimal` would overflow.
    pub fn checked_add(self, other: Money) -> Option<Money> {
        self.0.checked_add(other.0).map(Money)
    }

    /// Whole fen, for integer-only consumers (payment providers count in fen).
    pub fn from_fen(fen: i64) -> Money {
        Money(Decimal::new(fen, 2))
    }

    pub fn amount(self) -> Decimal {
        self.0
    }

    pub fn is_zero(self) -> bool {
        self.0.is_zero()
    }

    pub fn is_negative(self) -> bool {
        self.0.is_sign_negative() && !self.0.is_zero()
    }

    /// `quantity × unit price`, rounded once at the end (never per step), e.g. 面积 × 2.18.
    pub fn times(quantity: Decimal, unit_price: Decimal) -> Money {
        Money::from_decimal(quantity * unit_price)
    }
}

impl FromStr for Money {
    type Err = MoneyParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let trimmed = s.trim().trim_start_matches(['¥', '￥']).replace(',', "");
        Decimal::from_str(trimmed.trim())
            .map(Money::from_decimal)
            .map_err(|_| MoneyParseError(s.to_string()))
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut v = self.0;
        v.rescale(2);
        write!(f, "{v}")
    }
}

impl Add for Money {
    type Output = Money;
    fn add(self, rhs: Money) -> Money {
        Money(self.0 + rhs.0)
    }
}
impl AddAssign for Money {
    fn add_assign(&mut self, rhs: Money) {
        self.0 += rhs.0;
    }
}
impl Sub for Money {
    type Output = Money;
    fn sub(self, rhs: Money) -> Money {
        Money(self.0 - rhs.0)
    }
}
impl SubAssign for Money {
    fn sub_assign(&mut self, rhs: Money) {
        self.0 -= rhs.0;
    }
}
impl Neg for Money {
    type Output = Money;
    fn neg(self) -> Money {
        Money(-self.0)
    }
}
impl Sum for Money {
    fn sum<I: Iterator<Item = Money>>(iter: I) -> Money {
        iter.fold(Money::ZERO, Add::add)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn area_times_unit_price_rounds_half_up_to_the_fen() {
        // 89.25 m² × 2.18 = 194.565 → 194.57 (half-up), not 194.56 (banker's).
        assert_eq!(Money::times(d("89.25"), d("2.18")).to_string(), "194.57");
        assert_eq!(Money::times(d("100"), d("2.18")).to_string(), "218.00");
    }

    #[test]
    fn negative_halves_round_away_from_zero() {
        assert_eq!(Money::from_decimal(d("-0.005")).to_string(), "-0.01");
    }

    #[test]
    fn amounts_parse_with_currency_signs_and_separators() {
        assert_eq!("¥1,300".parse::<Money>().unwrap().to_string(), "1300.00");
        assert_eq!("0.015".parse::<Money>().unwrap().to_string(), "0.02");
        assert!("abc".parse::<Money>().is_err());
    }

    #[test]
    fn json_amounts_are_strings_with_at_most_two_decimals() {
        assert_eq!(serde_json::from_str::<Money>("\"194.57\"").unwrap().to_string(), "194.57");
        assert_eq!(serde_json::from_str::<Money>("\"1.500\"").unwrap().to_string(), "1.50");
        for refused in ["\"0.001\"", "12345678901234567.89", "12", "\"abc\"", "\"1e3\""] {
            let e = serde_json::from_str::<Money>(refused).unwrap_err().to_string();
            assert!(e.contains("两位小数"), "{refused}: {e}");
        }
    }

    proptest! {
        #[test]
        fn sums_of_fen_are_exact(fens in proptest::collection::vec(-1_000_000i64..1_000_000, 0..200)) {
            let total: Money = fens.iter().map(|f| Money::from_fen(*f)).sum();
            prop_assert_eq!(total, Money::from_fen(fens.iter().sum()));
        }

        #[test]
        fn display_then_parse_is_identity(fen in -10_000_000_000i64..10_000_000_000) {
            let m = Money::from_fen(fen);
            prop_assert_eq!(m.to_string().parse::<Money>().unwrap(), m);
        }
    }
}

// On the wire an amount is a decimal string with at most two places (`"194.57"`).
#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for Money {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .description(Some("Yuan, a decimal string with at most two places; a JSON number is refused. One amount (a bill, a payment, an edit) is at most 100000000.00."))
            .examples(["194.57"])
            .build()
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for Money {}
