//! Bill runs (F3): for a cycle (month, quarter, year) billed in advance or in arrears, the line
//! each house owes for each item, from the price in force when the period starts; a house that
//! became chargeable part-way through the period pays for the days it was. Pure: the same houses,
//! items and prices always give the same lines, and the book skips a (house, item, period)
//! already billed, so running twice issues once.

use std::collections::BTreeMap;

use chrono::{Datelike, Months, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::book::{BillLine, HouseRecord};
use crate::fee::{ChargeItem, FeeError, Formula, HouseFacts, HouseState, PriceRule, charge, charge_in_parts, rule_for};
use crate::ids::{BuildingId, CommunityId};
use crate::money::Money;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cycle {
    Monthly,
    Quarterly,
    Yearly,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Timing {
    /// 预收: the run bills the cycle it falls in.
    InAdvance,
    /// 后收: the run bills the cycle before.
    InArrears,
}

/// What to bill.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunSpec {
    pub cycle: Cycle,
    pub timing: Timing,
    /// The day the run is for (in the community's time zone).
    pub on: NaiveDate,
    /// Item ids to bill; each needs a price.
    pub items: Vec<String>,
}

impl Cycle {
    fn months(self) -> u32 {
        match self {
            Cycle::Monthly => 1,
            Cycle::Quarterly => 3,
            Cycle::Yearly => 12,
        }
    }

    /// The first day of the cycle containing `day`.
    fn start_of(self, day: NaiveDate) -> NaiveDate {
        let m0 = (day.month0() / self.months()) * self.months();
        NaiveDate::from_ymd_opt(day.year(), m0 + 1, 1).unwrap_or(day)
    }
}

impl RunSpec {
    /// The period billed, first and last day inclusive.
    pub fn period(&self) -> (NaiveDate, NaiveDate) {
        let months = Months::new(self.cycle.months());
        let current = self.cycle.start_of(self.on);
        let start = match self.timing {
            Timing::InAdvance => current,
            Timing::InArrears => current.checked_sub_months(months).unwrap_or(current),
        };
        let end = start.checked_add_months(months).and_then(|d| d.pred_opt()).unwrap_or(start);
        (start, end)
    }
}

/// A house that could not be billed for an item, and why.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunProblem {
    pub house: String,
    pub item: String,
    pub reason: String,
}

/// The lines of a run over some houses, and the houses that could not be billed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunLines {
    pub lines: Vec<BillLine>,
    pub problems: Vec<RunProblem>,
}

/// Lines for `houses` of one building. Unsold houses are not billed (the developer's, not an
/// owner's); usage-priced items are billed from meter readings, not by a run.
pub fn lines_for<'a>(
    spec: &RunSpec,
    community: &CommunityId,
    building: &BuildingId,
    houses: impl Iterator<Item = &'a HouseRecord>,
    items: &[ChargeItem],
    rules: &[PriceRule],
) -> RunLines {
    let (start, end) = spec.period();
    let days = (end - start).num_days() as u32 + 1;
    let chosen: Vec<&ChargeItem> = items.iter().filter(|i| spec.items.contains(&i.id)).collect();
    let mut out = RunLines::default();
    // Chargeable houses first, then item by item: the lines of one item sit together, which keeps
    // the journaled event compact (see `book::compact`).
    let mut chargeable = Vec::new();
    for house in houses {
        // The days of the period in each chargeable state (C3): an unsold house is not billed, a
        // house handed over mid-period pays from that day, and a state change inside the period
        // prices each part in its own state.
        let parts: Vec<(HouseState, u32)> = house
            .parts(start, end)
            .into_iter()
            .filter(|p| p.state != HouseState::Unsold)
            .map(|p| (p.state, (p.to - p.from).num_days() as u32 + 1))
            .collect();
        if parts.is_empty() {
            continue;
        }
        let facts = HouseFacts {
            community: community.clone(),
            building: building.clone(),
            unit: house.unit,
            floor: house.floor,
            house: house.id.clone(),
            area: house.area,
            state: house.state,
        };
        chargeable.push((house, facts, parts));
    }
    for item in &chosen {
        for (house, facts, parts) in &chargeable {
            if rule_for(rules, &item.id, facts, start).is_some_and(|r| matches!(r.formula, Formula::Tiered { .. })) {
                continue;
            }
            let amount = match parts.as_slice() {
                [(state, covered)] => charge(item, rules, &HouseFacts { state: *state, ..facts.clone() }, start, None, *covered, days),
                _ => charge_in_parts(item, rules, facts, start, parts, days),
            };
            match amount {
                Ok(amount) if amount.is_zero() => {}
                Ok(amount) => out.lines.push(BillLine {
                    house: house.id.clone(),
                    item: item.id.clone(),
                    subject: item.subject.clone(),
                    period_start: start,
                    period_end: end,
                    amount,
                    external_no: None,
                    remark: split_remark(house, start, end),
                }),
                Err(e @ (FeeError::NoPrice { .. } | FeeError::UsageMissing | FeeError::BadTiers | FeeError::TooLarge)) => {
                    out.problems.push(RunProblem { house: house.address.clone(), item: item.id.clone(), reason: e.to_string() })
                }
            }
        }
    }
    out
}

/// A bill's remark when its period was split by a state change: each part with its days
/// (`11-01~11-14 空置; 11-15~11-30 入住`), so the owner sees why the amount is what it is.
fn split_remark(house: &HouseRecord, start: NaiveDate, end: NaiveDate) -> String {
    let parts = house.parts(start, end);
    if parts.len() < 2 {
        return String::new();
    }
    parts
        .iter()
        .map(|p| format!("{}~{} {}", p.from.format("%m-%d"), p.to.format("%m-%d"), crate::book::house::house_state_label(p.state)))
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::book::ResourceKind;
    use crate::fee::{PriceScope, Rounding};
    use crate::ids::HouseId;
    use crate::money::Money;
    use rust_decimal::Decimal;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn periods_follow_the_cycle_and_timing() {
        let spec = |cycle, timing| RunSpec { cycle, timing, on: day("2026-11-22"), items: vec![] }.period();
        assert_eq!(spec(Cycle::Monthly, Timing::InAdvance), (day("2026-11-01"), day("2026-11-30")));
        assert_eq!(spec(Cycle::Monthly, Timing::InArrears), (day("2026-10-01"), day("2026-10-31")));
        assert_eq!(spec(Cycle::Quarterly, Timing::InAdvance), (day("2026-10-01"), day("2026-12-31")));
        assert_eq!(spec(Cycle::Yearly, Timing::InArrears), (day("2025-01-01"), day("2025-12-31")));
    }

    #[test]
    fn a_house_handed_over_mid_month_pays_for_its_days_and_an_unsold_one_not_at_all() {
        let (item, rule) = (property_item(), rule_of());
        let house = |id: &str, state, since: Option<&str>| HouseRecord {
            id: HouseId::new(id),
            address: id.into(),
            address_path: id.into(),
            unit: 1,
            floor: 1,
            kind: ResourceKind::Home,
            area: Decimal::new(8925, 2),
            state,
            state_since: since.map(day),
            residents: vec![],
            history: vec![],
            fields: Default::default(),
        };
        let houses = [
            house("a", HouseState::Occupied, None),
            house("b", HouseState::HandedOver, Some("2026-11-16")),
            house("c", HouseState::Unsold, None),
        ];
        let spec = RunSpec { cycle: Cycle::Monthly, timing: Timing::InAdvance, on: day("2026-11-22"), items: vec!["property".into()] };
        let run = lines_for(&spec, &CommunityId::new("c"), &BuildingId::new("b1"), houses.iter(), &[item], &[rule]);
        let amounts: Vec<(String, Money)> = run.lines.iter().map(|l| (l.house.to_string(), l.amount)).collect();
        // 89.25 × 2.18 = 194.565 → 194.57; half a month (15 of 30 days) → 97.2825 → 97.28.
        assert_eq!(amounts, vec![("a".into(), "194.57".parse().unwrap()), ("b".into(), "97.28".parse().unwrap())]);

        // C3: a house sold on the 1st of October, vacant from 15 November, occupied again from
        // 25 November. November splits: 14 days occupied, 10 vacant (half), 6 occupied.
        let mut d = house("d", HouseState::Unsold, None);
        d.area = Decimal::from(100);
        d.enter_state(HouseState::Occupied, day("2026-10-01"), "cashier");
        d.enter_state(HouseState::Vacant, day("2026-11-15"), "cashier");
        d.enter_state(HouseState::Occupied, day("2026-11-25"), "cashier");
        let parts: Vec<(u32, HouseState)> = d.parts(day("2026-11-01"), day("2026-11-30")).iter().map(|p| (p.to.day() - p.from.day() + 1, p.state)).collect();
        assert_eq!(parts, vec![(14, HouseState::Occupied), (10, HouseState::Vacant), (6, HouseState::Occupied)]);
        let halved = ChargeItem { vacant_share: Some(Decimal::new(5, 1)), ..property_item() };
        let flat = PriceRule { formula: Formula::AreaTimesPrice { unit_price: Decimal::TWO }, ..rule_of() };
        let run = lines_for(&spec, &CommunityId::new("c"), &BuildingId::new("b1"), [&d].into_iter(), &[halved.clone()], std::slice::from_ref(&flat));
        // 200 × 14/30 + 100 × 10/30 + 200 × 6/30 = 93.33… + 33.33… + 40 = 166.67, rounded once.
        assert_eq!(run.lines[0].amount.to_string(), "166.67");
        assert_eq!(run.lines[0].remark, "11-01~11-14 入住; 11-15~11-24 空置; 11-25~11-30 入住");
        // October: unsold until the 1st — the whole month at the full price, and no remark.
        let october = RunSpec { on: day("2026-10-05"), ..spec.clone() };
        let run = lines_for(&october, &CommunityId::new("c"), &BuildingId::new("b1"), [&d].into_iter(), &[halved], &[flat]);
        assert_eq!((run.lines[0].amount.to_string(), run.lines[0].remark.as_str()), ("200.00".into(), ""));
        // A correction dated before a recorded change rewrites history from that day.
        d.enter_state(HouseState::Decorating, day("2026-11-10"), "import");
        assert_eq!(d.spans().iter().map(|s| s.state).collect::<Vec<_>>(), vec![HouseState::Unsold, HouseState::Occupied, HouseState::Decorating]);
        assert_eq!((d.state, d.state_since), (HouseState::Decorating, Some(day("2026-11-10"))));
    }

    fn property_item() -> ChargeItem {
        ChargeItem {
            id: "property".into(),
            name: "物业费".into(),
            kind: crate::fee::ChargeKind::PropertyResidential,
            subject: "6001".into(),
            rounding: Rounding::default(),
            vacant_share: None,
        }
    }

    fn rule_of() -> PriceRule {
        PriceRule {
            item: "property".into(),
            scope: PriceScope::Community { community: CommunityId::new("c") },
            formula: Formula::AreaTimesPrice { unit_price: Decimal::new(218, 2) },
            effective_from: day("2020-01-01"),
            effective_to: None,
            floor_coefficients: vec![],
        }
    }
}

/// What a run issued (or would issue), in one building or summed over many.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunOutcome {
    pub bills: u64,
    pub amount: Money,
    /// Lines already billed for this period, skipped.
    pub skipped: u64,
    pub by_item: BTreeMap<String, (u64, Money)>,
    pub problems: Vec<RunProblem>,
    /// The first few lines, for the preview.
    pub sample: Vec<BillLine>,
}

impl RunOutcome {
    /// How many lines a preview shows.
    pub const SAMPLE: usize = 5;

    /// One building's outcome: the lines issued out of `asked`, and the houses it could not price.
    pub fn of(issued: &[BillLine], asked: u64, problems: Vec<RunProblem>) -> Self {
        let mut outcome = RunOutcome { bills: issued.len() as u64, problems, ..RunOutcome::default() };
        for l in issued {
            outcome.amount += l.amount;
            let e = outcome.by_item.entry(l.item.clone()).or_default();
            e.0 += 1;
            e.1 += l.amount;
        }
        outcome.sample = issued.iter().take(Self::SAMPLE).cloned().collect();
        outcome.skipped = asked.saturating_sub(outcome.bills);
        outcome
    }

    /// Adds another building's outcome to this one.
    pub fn merge(&mut self, other: RunOutcome) {
        self.bills += other.bills;
        self.amount += other.amount;
        self.skipped += other.skipped;
        for (item, (n, m)) in other.by_item {
            let e = self.by_item.entry(item).or_default();
            e.0 += n;
            e.1 += m;
        }
        self.problems.extend(other.problems);
        let room = Self::SAMPLE.saturating_sub(self.sample.len());
        self.sample.extend(other.sample.into_iter().take(room));
    }
}
