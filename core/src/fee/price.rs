//! Charge items and their prices (F1, F2, C3): what a house is charged for one item, from the
//! price rule that applies to it on a date. Pure and exact — every amount is computed in
//! `Decimal` and rounded once, at the end, by the item's own rounding (half-up to the fen unless
//! the item says otherwise).
//!
//! A price is set per community, building, unit, floor or single house, with effective dates; the
//! most specific scope wins, then the latest rule in effect. House state changes the fee: a vacant
//! house pays the item's vacant share (half of the property fee by default), a decorating one pays
//! in full again.

use chrono::NaiveDate;
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

use crate::ids::{BuildingId, CommunityId, HouseId};
use crate::money::Money;

/// The kinds of charge of F1; `Custom` for items a property company defines itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChargeKind {
    PropertyResidential,
    PropertyCommercial,
    Water,
    Electricity,
    Gas,
    Heating,
    Parking,
    Rent,
    SharedCost,
    LateFee,
    Elevator,
    Garbage,
    Broadband,
    Decoration,
    MonthTotal,
    Other,
    Custom,
}

impl ChargeKind {
    pub fn label_zh(self) -> &'static str {
        match self {
            Self::PropertyResidential => "物业费（住宅）",
            Self::PropertyCommercial => "物业费（商业）",
            Self::Water => "水费",
            Self::Electricity => "电费",
            Self::Gas => "燃气费",
            Self::Heating => "暖气费",
            Self::Parking => "停车费",
            Self::Rent => "租金",
            Self::SharedCost => "公摊费",
            Self::LateFee => "滞纳金",
            Self::Elevator => "电梯费",
            Self::Garbage => "垃圾清运费",
            Self::Broadband => "宽带费",
            Self::Decoration => "装修管理费",
            Self::MonthTotal => "当月应缴费用",
            Self::Other => "其它",
            Self::Custom => "自定义",
        }
    }
}

/// How an item rounds its amounts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rounding {
    /// Decimal places, at most 2 (the fen).
    pub dp: u32,
    pub mode: RoundingMode,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoundingMode {
    /// 四舍五入, the default.
    HalfUp,
    /// 抹零: drop what is below `dp`.
    Down,
    /// 进位: any remainder rounds up.
    Up,
}

impl Default for Rounding {
    fn default() -> Self {
        Rounding { dp: 2, mode: RoundingMode::HalfUp }
    }
}

impl Rounding {
    pub fn apply(self, value: Decimal) -> Money {
        let strategy = match self.mode {
            RoundingMode::HalfUp => RoundingStrategy::MidpointAwayFromZero,
            RoundingMode::Down => RoundingStrategy::ToZero,
            RoundingMode::Up => RoundingStrategy::AwayFromZero,
        };
        Money::from_decimal_with(value, self.dp, strategy)
    }
}

/// A charge item of a property company.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChargeItem {
    pub id: String,
    pub name: String,
    pub kind: ChargeKind,
    /// The accounting subject (会计科目) its income books to.
    pub subject: String,
    #[serde(default)]
    pub rounding: Rounding,
    /// Share of the fee a vacant house pays (0.5 = half); `None`: vacancy changes nothing.
    #[serde(default)]
    pub vacant_share: Option<Decimal>,
}

/// One step of a tiered (阶梯) price: usage up to `up_to` (cumulative) at `price`; the last tier has no limit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Tier {
    pub up_to: Option<Decimal>,
    pub price: Decimal,
}

/// How an amount is computed (F2).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Formula {
    /// 面积 × 单价, e.g. `面积 × 2.18`.
    AreaTimesPrice { unit_price: Decimal },
    /// A fixed amount per house.
    Fixed { amount: Decimal },
    /// Usage × tiered price.
    Tiered { tiers: Vec<Tier> },
}

/// Where a price applies; the narrower wins.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "level", rename_all = "snake_case")]
pub enum PriceScope {
    Community { community: CommunityId },
    Building { building: BuildingId },
    Unit { building: BuildingId, unit: u32 },
    Floor { building: BuildingId, floor: i32 },
    House { house: HouseId },
}

impl PriceScope {
    fn specificity(&self) -> u8 {
        match self {
            PriceScope::Community { .. } => 0,
            PriceScope::Building { .. } => 1,
            PriceScope::Unit { .. } => 2,
            PriceScope::Floor { .. } => 3,
            PriceScope::House { .. } => 4,
        }
    }

    fn covers(&self, h: &HouseFacts) -> bool {
        match self {
            PriceScope::Community { community } => *community == h.community,
            PriceScope::Building { building } => *building == h.building,
            PriceScope::Unit { building, unit } => *building == h.building && *unit == h.unit,
            PriceScope::Floor { building, floor } => *building == h.building && *floor == h.floor,
            PriceScope::House { house } => *house == h.house,
        }
    }
}

/// A price for an item over a stretch of time.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PriceRule {
    pub item: String,
    pub scope: PriceScope,
    pub formula: Formula,
    pub effective_from: NaiveDate,
    /// Last day in effect; `None`: until replaced.
    #[serde(default)]
    pub effective_to: Option<NaiveDate>,
    /// Floor coefficients `(from floor, coefficient)`, ascending: a house on floor f takes the
    /// coefficient of the last entry with `from <= f` (e.g. no elevator fee below the 3rd floor).
    #[serde(default)]
    pub floor_coefficients: Vec<(i32, Decimal)>,
}

/// The state of a house (C3), as far as fees care.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HouseState {
    Unsold,
    HandedOver,
    Decorating,
    Vacant,
    Occupied,
    Rented,
}

/// What pricing needs to know about a house.
#[derive(Clone, Debug, PartialEq)]
pub struct HouseFacts {
    pub community: CommunityId,
    pub building: BuildingId,
    pub unit: u32,
    pub floor: i32,
    pub house: HouseId,
    pub area: Decimal,
    pub state: HouseState,
}

/// Why no amount could be computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FeeError {
    #[error("收费项目 {item} 在 {date} 没有适用的价格 / no price for item {item} on {date}")]
    NoPrice { item: String, date: NaiveDate },
    #[error("计算出的金额超过单笔上限 100000000.00 / the amount computed is above the limit of 100000000.00 for one bill")]
    TooLarge,
    #[error("阶梯价格需要用量 / a tiered price needs a usage")]
    UsageMissing,
    #[error("阶梯价格无效：上限须递增、最后一档不设上限 / tiers must rise and end without a limit")]
    BadTiers,
}

/// The rule in force for `item` at `house` on `date`: most specific scope, then latest start.
pub fn rule_for<'a>(rules: &'a [PriceRule], item: &str, house: &HouseFacts, date: NaiveDate) -> Option<&'a PriceRule> {
    rules
        .iter()
        .filter(|r| r.item == item && r.scope.covers(house))
        .filter(|r| r.effective_from <= date && r.effective_to.is_none_or(|to| date <= to))
        .max_by_key(|r| (r.scope.specificity(), r.effective_from))
}

fn tiered(tiers: &[Tier], usage: Decimal) -> Result<Decimal, FeeError> {
    let mut total = Decimal::ZERO;
    let mut floor = Decimal::ZERO;
    for (i, tier) in tiers.iter().enumerate() {
        let last = i + 1 == tiers.len();
        let top = match tier.up_to {
            Some(t) if t > floor && !last => t,
            None if last => usage.max(floor),
            _ => return Err(FeeError::BadTiers),
        };
        if usage <= floor {
            break;
        }
        let step = (usage.min(top) - floor).checked_mul(tier.price).ok_or(FeeError::TooLarge)?;
        total = total.checked_add(step).ok_or(FeeError::TooLarge)?;
        floor = top;
    }
    Ok(total)
}

/// The amount of one period of `item` for `house`, before proration — unrounded.
fn raw_amount(item: &ChargeItem, rule: &PriceRule, house: &HouseFacts, usage: Option<Decimal>) -> Result<Decimal, FeeError> {
    let base = match &rule.formula {
        Formula::AreaTimesPrice { unit_price } => house.area.checked_mul(*unit_price).ok_or(FeeError::TooLarge)?,
        Formula::Fixed { amount } => *amount,
        Formula::Tiered { tiers } => tiered(tiers, usage.ok_or(FeeError::UsageMissing)?)?,
    };
    let coefficient = rule.floor_coefficients.iter().rev().find(|(from, _)| *from <= house.floor).map_or(Decimal::ONE, |(_, c)| *c);
    let share = match (house.state, item.vacant_share) {
        (HouseState::Vacant, Some(share)) => share,
        _ => Decimal::ONE,
    };
    base.checked_mul(coefficient).and_then(|b| b.checked_mul(share)).ok_or(FeeError::TooLarge)
}

/// What `house` owes for `item` for a period, on the price in force on `date`; `covered` of
/// `period` days prorates a part period. Rounded once, by the item's rounding.
pub fn charge(
    item: &ChargeItem,
    rules: &[PriceRule],
    house: &HouseFacts,
    date: NaiveDate,
    usage: Option<Decimal>,
    covered: u32,
    period: u32,
) -> Result<Money, FeeError> {
    let amount = prorated(item, rules, house, date, usage, covered, period)?;
    rounded(item, amount)
}

/// What `house` owes for `item` for a period it spent in several states (C3): each part priced
/// in its state for its days, then the sum rounded once.
pub fn charge_in_parts(item: &ChargeItem, rules: &[PriceRule], house: &HouseFacts, date: NaiveDate, parts: &[(HouseState, u32)], period: u32) -> Result<Money, FeeError> {
    let mut total = Decimal::ZERO;
    for (state, covered) in parts {
        let facts = HouseFacts { state: *state, ..house.clone() };
        total = total.checked_add(prorated(item, rules, &facts, date, None, *covered, period)?).ok_or(FeeError::TooLarge)?;
    }
    rounded(item, total)
}

fn prorated(item: &ChargeItem, rules: &[PriceRule], house: &HouseFacts, date: NaiveDate, usage: Option<Decimal>, covered: u32, period: u32) -> Result<Decimal, FeeError> {
    let rule = rule_for(rules, &item.id, house, date).ok_or_else(|| FeeError::NoPrice { item: item.id.clone(), date })?;
    let mut amount = raw_amount(item, rule, house, usage)?;
    if period > 0 && covered < period {
        amount = amount.checked_mul(Decimal::from(covered)).ok_or(FeeError::TooLarge)? / Decimal::from(period);
    }
    Ok(amount)
}

fn rounded(item: &ChargeItem, amount: Decimal) -> Result<Money, FeeError> {
    let amount = item.rounding.apply(amount);
    // A bill above the bound is refused here, as a problem of this house, not of the run.
    crate::limits::check_amount(amount, "账单金额", "bill amount").map_err(|_| FeeError::TooLarge)?;
    Ok(amount)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    fn day(s: &str) -> NaiveDate {
        NaiveDate::from_str(s).unwrap()
    }

    fn house(area: &str, floor: i32, state: HouseState) -> HouseFacts {
        HouseFacts {
            community: CommunityId::new("heyuan"),
            building: BuildingId::new("heyuan-b01"),
            unit: 1,
            floor,
            house: HouseId::new("heyuan-1-1-101"),
            area: d(area),
            state,
        }
    }

    fn property_fee() -> ChargeItem {
        ChargeItem {
            id: "property".into(),
            name: "物业费".into(),
            kind: ChargeKind::PropertyResidential,
            subject: "6001.01".into(),
            rounding: Rounding::default(),
            vacant_share: Some(d("0.5")),
        }
    }

    fn community_price(unit_price: &str, from: &str) -> PriceRule {
        PriceRule {
            item: "property".into(),
            scope: PriceScope::Community { community: CommunityId::new("heyuan") },
            formula: Formula::AreaTimesPrice { unit_price: d(unit_price) },
            effective_from: day(from),
            effective_to: None,
            floor_coefficients: vec![],
        }
    }

    #[test]
    fn area_times_2_18_rounds_half_up_to_the_fen() {
        let rules = [community_price("2.18", "2024-01-01")];
        let m = charge(&property_fee(), &rules, &house("89.25", 1, HouseState::Occupied), day("2026-11-01"), None, 30, 30).unwrap();
        assert_eq!(m.to_string(), "194.57");
    }

    #[test]
    fn a_vacant_house_pays_half_and_a_decorating_one_pays_in_full() {
        let rules = [community_price("2.00", "2024-01-01")];
        let at = |state| charge(&property_fee(), &rules, &house("100", 1, state), day("2026-11-01"), None, 30, 30).unwrap().to_string();
        assert_eq!(at(HouseState::Vacant), "100.00");
        assert_eq!(at(HouseState::Decorating), "200.00");
    }

    #[test]
    fn the_most_specific_price_in_force_wins() {
        let mut house_price = community_price("1.50", "2025-06-01");
        house_price.scope = PriceScope::House { house: HouseId::new("heyuan-1-1-101") };
        house_price.effective_to = Some(day("2025-12-31"));
        let rules = [community_price("2.00", "2024-01-01"), community_price("2.50", "2026-01-01"), house_price];
        let h = house("100", 1, HouseState::Occupied);
        let at = |date| charge(&property_fee(), &rules, &h, day(date), None, 30, 30).unwrap().to_string();
        assert_eq!(at("2025-03-01"), "200.00", "community price of 2024");
        assert_eq!(at("2025-07-01"), "150.00", "the house's own price while it is in effect");
        assert_eq!(at("2026-02-01"), "250.00", "the community's new price once the house price ended");
        let err = charge(&property_fee(), &rules, &h, day("2023-01-01"), None, 30, 30).unwrap_err();
        assert!(err.to_string().contains("no price"));
    }

    #[test]
    fn water_is_charged_by_tiers() {
        let water = ChargeItem { id: "water".into(), kind: ChargeKind::Water, vacant_share: None, ..property_fee() };
        let tiers = vec![
            Tier { up_to: Some(d("20")), price: d("3.5") },
            Tier { up_to: Some(d("30")), price: d("4.5") },
            Tier { up_to: None, price: d("6") },
        ];
        let rule = PriceRule { item: "water".into(), formula: Formula::Tiered { tiers }, ..community_price("0", "2024-01-01") };
        let h = house("90", 5, HouseState::Occupied);
        let at = |usage: &str| charge(&water, std::slice::from_ref(&rule), &h, day("2026-11-01"), Some(d(usage)), 30, 30).unwrap().to_string();
        assert_eq!(at("12"), "42.00");
        assert_eq!(at("35"), "145.00"); // 20×3.5 + 10×4.5 + 5×6
        assert_eq!(at("0"), "0.00");
        assert_eq!(charge(&water, &[rule], &h, day("2026-11-01"), None, 30, 30), Err(FeeError::UsageMissing));
    }

    #[test]
    fn floor_coefficients_and_proration_apply_before_the_one_rounding() {
        let elevator = ChargeItem { id: "elevator".into(), kind: ChargeKind::Elevator, vacant_share: None, ..property_fee() };
        let rule = PriceRule {
            item: "elevator".into(),
            formula: Formula::Fixed { amount: d("30") },
            floor_coefficients: vec![(1, d("0")), (3, d("1")), (10, d("1.2"))],
            ..community_price("0", "2024-01-01")
        };
        let at = |floor, covered| {
            charge(&elevator, std::slice::from_ref(&rule), &house("90", floor, HouseState::Occupied), day("2026-11-01"), None, covered, 30)
                .unwrap()
                .to_string()
        };
        assert_eq!(at(2, 30), "0.00");
        assert_eq!(at(5, 30), "30.00");
        assert_eq!(at(12, 30), "36.00");
        assert_eq!(at(12, 10), "12.00"); // 36 × 10/30
        assert_eq!(at(5, 7), "7.00"); // 30 × 7/30
        let mut down = elevator.clone();
        down.rounding = Rounding { dp: 0, mode: RoundingMode::Down };
        let m = charge(&down, &[rule], &house("90", 12, HouseState::Occupied), day("2026-11-01"), None, 11, 30).unwrap();
        assert_eq!(m.to_string(), "13.00"); // 36 × 11/30 = 13.2 → 抹零 13
    }
}
