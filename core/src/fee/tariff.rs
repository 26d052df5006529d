//! A community's tariff (F1, F2, N1): its charge items with their accounting subjects, its price
//! rules and its reminder limits. Journaled whole in the community's `tariff/{community}` stream:
//! each change appends the whole tariff and the last one wins. Accounting subjects come from
//! here and nowhere else — an item the tariff does not know books to the item `other`.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::price::{ChargeItem, ChargeKind, PriceRule, Rounding};
use crate::reminder::ReminderLimits;

/// The item every unknown or unlisted charge books to.
pub const OTHER_ITEM: &str = "other";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tariff {
    pub items: Vec<ChargeItem>,
    pub rules: Vec<PriceRule>,
    #[serde(default)]
    pub reminder_limits: ReminderLimits,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TariffError {
    UnknownItem(String),
    DuplicateItem(String),
    OutOfRange(crate::limits::OutOfRange),
}

impl From<crate::limits::OutOfRange> for TariffError {
    fn from(e: crate::limits::OutOfRange) -> Self {
        TariffError::OutOfRange(e)
    }
}

crate::bilingual!(TariffError {
    TariffError::UnknownItem(_0) => ("价格引用了不存在的收费项目 {_0}") / ("a price names the unknown item {_0}"),
    TariffError::DuplicateItem(_0) => ("收费项目 {_0} 重复") / ("the item {_0} is listed twice"),
    TariffError::OutOfRange(_0) => ("{}", crate::bilingual::Bilingual::zh(_0)) / ("{}", crate::bilingual::Bilingual::en(_0)),
});

impl Default for Tariff {
    /// The standard items and no prices yet.
    fn default() -> Self {
        Tariff { items: standard_items(), rules: Vec::new(), reminder_limits: ReminderLimits::default() }
    }
}

impl Tariff {
    /// Every price names an item of the tariff, and no item is listed twice.
    pub fn validate(&self) -> Result<(), TariffError> {
        for (i, item) in self.items.iter().enumerate() {
            if self.items[..i].iter().any(|other| other.id == item.id) {
                return Err(TariffError::DuplicateItem(item.id.clone()));
            }
        }
        if let Some(rule) = self.rules.iter().find(|r| !self.items.iter().any(|i| i.id == r.item)) {
            return Err(TariffError::UnknownItem(rule.item.clone()));
        }
        self.check_bounds()
    }

    /// Every number within [`crate::limits`], so no bill run or reminder can overflow on it (V1).
    fn check_bounds(&self) -> Result<(), TariffError> {
        use crate::limits::{FACTOR_MAX, PRICE_DECIMALS, PRICE_MAX, READING_MAX, REMINDER_DAYS_MAX, check};
        use super::price::Formula;
        for item in &self.items {
            if let Some(share) = item.vacant_share {
                check(share, FACTOR_MAX, PRICE_DECIMALS, "空置比例", "vacant share")?;
            }
        }
        for rule in &self.rules {
            match &rule.formula {
                Formula::AreaTimesPrice { unit_price } => check(*unit_price, PRICE_MAX, PRICE_DECIMALS, "单价", "unit price")?,
                Formula::Fixed { amount } => check(*amount, PRICE_MAX, 2, "固定金额", "fixed amount")?,
                Formula::Tiered { tiers } => {
                    for tier in tiers {
                        check(tier.price, PRICE_MAX, PRICE_DECIMALS, "阶梯单价", "tier price")?;
                        if let Some(up_to) = tier.up_to {
                            check(up_to, READING_MAX, PRICE_DECIMALS, "阶梯上限", "tier limit")?;
                        }
                    }
                }
            }
            for (_, coefficient) in &rule.floor_coefficients {
                check(*coefficient, FACTOR_MAX, PRICE_DECIMALS, "楼层系数", "floor coefficient")?;
            }
        }
        for days in self.reminder_limits.days.values() {
            check((*days).into(), REMINDER_DAYS_MAX.into(), 0, "提醒间隔天数", "days between reminders")?;
        }
        Ok(())
    }

    pub fn item(&self, id: &str) -> Option<&ChargeItem> {
        self.items.iter().find(|i| i.id == id)
    }

    /// The accounting subject an item's income books to: the item's own, else `other`'s, else
    /// the standard `other` subject.
    pub fn subject_of(&self, item: &str) -> String {
        self.item(item)
            .or_else(|| self.item(OTHER_ITEM))
            .map(|i| i.subject.clone())
            .unwrap_or_else(|| standard_item(OTHER_ITEM).map(|i| i.subject).unwrap_or_default())
    }
}

/// The charge items of F1, with their accounting subjects; the property fee's vacant share is half.
pub fn standard_items() -> Vec<ChargeItem> {
    use ChargeKind::*;
    let items: [(&str, &str, ChargeKind, &str); 16] = [
        ("property", "物业费", PropertyResidential, "6001.01"),
        ("property_commercial", "物业费（商业）", PropertyCommercial, "6001.02"),
        ("water", "水费", Water, "6001.03"),
        ("electricity", "电费", Electricity, "6001.04"),
        ("gas", "燃气费", Gas, "6001.05"),
        ("heating", "暖气费", Heating, "6001.06"),
        ("parking", "车位费", Parking, "6001.07"),
        ("rent", "租金", Rent, "6001.08"),
        ("shared_cost", "公摊费用", SharedCost, "6001.09"),
        ("late_fee", "滞纳金", LateFee, "6301.01"),
        ("elevator", "电梯费", Elevator, "6001.10"),
        ("garbage", "垃圾清运费", Garbage, "6001.11"),
        ("broadband", "宽带费", Broadband, "6001.12"),
        ("decoration", "装修管理费", Decoration, "6001.13"),
        ("month_total", "当月应缴费用", MonthTotal, "6001.14"),
        (OTHER_ITEM, "其它", Other, "6051.01"),
    ];
    items
        .into_iter()
        .map(|(id, name, kind, subject)| ChargeItem {
            id: id.into(),
            name: name.into(),
            kind,
            subject: subject.into(),
            rounding: Rounding::default(),
            vacant_share: (id == "property").then(|| Decimal::new(5, 1)),
        })
        .collect()
}

/// A standard item's name (物业费 for `property`), or the id itself: the label screens show when
/// they have no community tariff at hand.
pub fn standard_label(id: &str) -> String {
    standard_item(id).map_or_else(|| id.to_string(), |i| i.name)
}

fn standard_item(id: &str) -> Option<ChargeItem> {
    standard_items().into_iter().find(|i| i.id == id)
}

/// A community's tariff as journaled: `None` until one is set.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CommunityTariff {
    /// Shared, so every reader (a bill list names each row's item from it) takes it without a copy.
    pub current: Option<std::sync::Arc<Tariff>>,
}

impl crate::Aggregate for CommunityTariff {
    /// Replace the tariff with this one.
    type Command = Tariff;
    /// The tariff now in force (the whole of it).
    type Event = Tariff;
    type Error = TariffError;

    fn decide(&self, tariff: &Tariff) -> Result<Vec<Tariff>, TariffError> {
        tariff.validate()?;
        Ok(vec![tariff.clone()])
    }

    fn apply(&mut self, tariff: &Tariff) {
        self.current = Some(std::sync::Arc::new(tariff.clone()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Aggregate;

    #[test]
    fn a_price_for_an_unknown_item_is_refused_and_changes_nothing() {
        let state = CommunityTariff::default();
        let mut t = Tariff::default();
        let mut rule = crate::demo::demo_tariff(&"c".into()).rules.remove(0);
        rule.item = "pets".into();
        t.rules.push(rule);
        assert_eq!(state.decide(&t), Err(TariffError::UnknownItem("pets".into())));
    }

    #[test]
    fn a_price_or_reminder_limit_past_its_bound_is_refused_with_a_sentence() {
        use crate::fee::Formula;
        let state = CommunityTariff::default();
        let mut t = crate::demo::demo_tariff(&"c".into());
        t.rules[0].formula = Formula::AreaTimesPrice { unit_price: rust_decimal::Decimal::MAX };
        let refused = state.decide(&t).unwrap_err();
        assert_eq!(crate::Bilingual::en(&refused), "the unit price is out of range (0 to 1000000)");
        let mut t = crate::demo::demo_tariff(&"c".into());
        t.reminder_limits.days.insert(crate::reminder::Channel::InApp, u32::MAX);
        assert!(matches!(state.decide(&t), Err(TariffError::OutOfRange(_))));
        assert!(state.decide(&crate::demo::demo_tariff(&"c".into())).is_ok());
    }

    #[test]
    fn an_unknown_item_books_to_the_subject_of_other() {
        let t = Tariff::default();
        assert_eq!(t.subject_of("property"), "6001.01");
        assert_eq!(t.subject_of("宠物费"), "6051.01");
        let bare = Tariff { items: Vec::new(), ..Tariff::default() };
        assert_eq!(bare.subject_of("宠物费"), "6051.01");
    }
}
