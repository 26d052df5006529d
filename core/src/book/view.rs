//! What the billing desk and the manager screen read from a book: bill rows found by a query
//! (F8), and a building's money summary (R3) — receivable, received, arrears by item and month,
//! collections by day, the largest arrears.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};

use super::state::{BillRecord, BillSource, Book};
use crate::bill::BillState;
use crate::ids::HouseId;
use crate::identity::mask_phone;
use crate::money::Money;

/// A search over bills (F8). Empty fields do not filter.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct BillQuery {
    /// Fuzzy: part of the bill number, external number, phone, name or address.
    pub text: String,
    pub states: Vec<BillState>,
    pub item: Option<String>,
    pub building: Option<String>,
    pub house: Option<String>,
    /// Bills whose period overlaps `[period_from, period_to]`.
    pub period_from: Option<NaiveDate>,
    pub period_to: Option<NaiveDate>,
    pub issued_from: Option<NaiveDate>,
    pub issued_to: Option<NaiveDate>,
    pub amount_min: Option<Money>,
    pub amount_max: Option<Money>,
    pub batch: Option<String>,
    /// Whether the caller sees phones in full: only then does part of a phone match. Otherwise
    /// only the whole number does, so masked digits cannot be found by probing (review A4).
    pub unmasked: bool,
}

/// A phone matches a search: any part of it for a caller who sees phones in full, else only all of it.
pub fn phone_matches(phone: &str, text: &str, unmasked: bool) -> bool {
    if unmasked { phone.contains(text) } else { phone == text }
}

/// One row of the bill list, as the desk shows it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BillRow {
    pub no: String,
    /// `--` on screen when absent.
    pub external_no: Option<String>,
    pub house: HouseId,
    pub building: String,
    pub address: String,
    pub address_path: String,
    pub resident: Option<String>,
    /// Masked unless the caller may see personal data; the web layer decides.
    pub phone: Option<String>,
    pub vip: bool,
    pub item: String,
    pub period_start: NaiveDate,
    pub period_end: NaiveDate,
    pub amount: Money,
    pub paid: Money,
    pub state: BillState,
    pub issued_at: NaiveDateTime,
    pub source: BillSource,
    pub remark: String,
    /// When money was last applied to it (local time), if ever.
    #[serde(default)]
    pub paid_at: Option<NaiveDateTime>,
    /// The receipt of the last payment that took part of it, if any.
    #[serde(default)]
    pub receipt: Option<String>,
}

impl BillQuery {
    fn matches(&self, book: &Book, b: &BillRecord) -> bool {
        if b.bill.state == BillState::Deleted && !self.states.contains(&BillState::Deleted) {
            return false;
        }
        if !self.states.is_empty() && !self.states.contains(&b.bill.state) {
            return false;
        }
        if self.item.as_ref().is_some_and(|i| i != &b.bill.item)
            || self.house.as_ref().is_some_and(|h| h.as_str() != b.house.as_str())
            || self.building.as_ref().is_some_and(|x| x.as_str() != book.building.as_str())
            || self.period_from.is_some_and(|f| b.bill.period_end < f)
            || self.period_to.is_some_and(|t| b.bill.period_start > t)
            || self.issued_from.is_some_and(|f| b.issued_at.date() < f)
            || self.issued_to.is_some_and(|t| b.issued_at.date() > t)
            || self.amount_min.is_some_and(|m| b.bill.amount < m)
            || self.amount_max.is_some_and(|m| b.bill.amount > m)
            || self.batch.as_ref().is_some_and(|x| !matches!(&b.source, BillSource::Import { batch } if **batch == **x))
        {
            return false;
        }
        let text = self.text.trim();
        if text.is_empty() {
            return true;
        }
        if b.bill.no.contains(text) || b.external_no.as_deref().is_some_and(|x| x.contains(text)) {
            return true;
        }
        let Some(house) = book.houses.get(&b.house) else { return false };
        house.address.contains(text)
            || house.address_path.contains(text)
            || house.residents.iter().any(|r| r.name.contains(text) || phone_matches(&r.phone, text, self.unmasked))
    }
}

impl Book {
    /// Bills matching `query`, newest first.
    pub fn find(&self, query: &BillQuery) -> Vec<BillRow> {
        let mut rows: Vec<BillRow> = self.bills().iter().filter(|b| query.matches(self, b)).map(|b| self.row(b, false)).collect();
        rows.sort_by(|a, b| b.issued_at.cmp(&a.issued_at).then_with(|| b.no.cmp(&a.no)));
        rows
    }

    /// One bill as a row; the phone in full only when `unmasked`.
    pub fn row(&self, b: &BillRecord, unmasked: bool) -> BillRow {
        let house = self.houses.get(&b.house);
        let payer = house.and_then(|h| h.payer());
        BillRow {
            no: b.bill.no.clone(),
            external_no: b.external_no.clone(),
            house: b.house.clone(),
            building: self.building.to_string(),
            address: house.map(|h| h.address.clone()).unwrap_or_default(),
            address_path: house.map(|h| h.address_path.clone()).unwrap_or_default(),
            resident: payer.map(|r| r.name.clone()),
            phone: payer.map(|r| if unmasked { r.phone.clone() } else { mask_phone(&r.phone) }),
            vip: payer.is_some_and(|r| r.vip),
            item: b.bill.item.clone(),
            period_start: b.bill.period_start,
            period_end: b.bill.period_end,
            amount: b.bill.amount,
            paid: b.bill.paid,
            state: b.bill.state,
            issued_at: b.issued_at,
            source: b.source.clone(),
            remark: b.bill.remark.clone(),
            paid_at: b.history.iter().rev().find(|c| matches!(c.event, crate::bill::BillEvent::BillPaid { .. })).map(|c| c.at),
            receipt: self.receipt_of_bill(&b.bill.no).map(str::to_string),
        }
    }

    /// The building's money as the manager screen shows it, as of `today`.
    pub fn money(&self, today: NaiveDate) -> BuildingMoney {
        let mut m = BuildingMoney { building: self.building.to_string(), ..BuildingMoney::default() };
        let mut per_house: BTreeMap<&HouseId, Money> = BTreeMap::new();
        for b in self.bills() {
            if matches!(b.bill.state, BillState::Deleted | BillState::Voided) {
                continue;
            }
            let owed = b.bill.owed();
            m.receivable += b.bill.amount;
            m.received += b.bill.paid;
            let item = m.by_item.entry(b.bill.item.clone()).or_default();
            item.receivable += b.bill.amount;
            item.received += b.bill.paid;
            let month = m.by_month.entry(b.bill.period_start.format("%Y-%m").to_string()).or_default();
            month.receivable += b.bill.amount;
            month.received += b.bill.paid;
            if !owed.is_zero() {
                *per_house.entry(&b.house).or_default() += owed;
                // Age of an arrear: from the end of its period.
                let days = (today - b.bill.period_end).num_days();
                let bucket = match days {
                    ..=30 => 0,
                    31..=90 => 1,
                    91..=365 => 2,
                    _ => 3,
                };
                m.arrears_by_age[bucket] += owed;
                if b.bill.period_end < today {
                    m.overdue += owed;
                }
            }
        }
        m.arrears = m.receivable - m.received;
        for p in self.payments() {
            *m.collected_by_day.entry(p.at.date()).or_default() += p.amount;
            if p.at.date() == today {
                m.payments_today += 1;
            }
        }
        // Keep only this year's days: enough for today, the month and the year.
        m.collected_by_day.retain(|d, _| d.year() == today.year());
        let mut top: Vec<HouseArrears> = per_house
            .into_iter()
            .map(|(house, owed)| HouseArrears {
                house: house.clone(),
                address: self.houses.get(house).map(|h| h.address.clone()).unwrap_or_default(),
                owed,
            })
            .collect();
        top.sort_by(|a, b| b.owed.cmp(&a.owed).then_with(|| a.house.cmp(&b.house)));
        m.houses_in_arrears = top.len() as u32;
        top.truncate(10);
        m.top_arrears = top;
        m
    }
}

/// Receivable and received of one slice (an item, a month).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemMoney {
    pub receivable: Money,
    pub received: Money,
}

/// A house and what it owes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HouseArrears {
    pub house: HouseId,
    pub address: String,
    pub owed: Money,
}

/// One building's money, summed from its book.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildingMoney {
    pub building: String,
    pub receivable: Money,
    pub received: Money,
    pub arrears: Money,
    /// Arrears of bills whose period has ended (the part that is really late).
    #[serde(default)]
    pub overdue: Money,
    pub by_item: BTreeMap<String, ItemMoney>,
    /// By the month a bill's period starts in, `YYYY-MM`.
    pub by_month: BTreeMap<String, ItemMoney>,
    pub collected_by_day: BTreeMap<NaiveDate, Money>,
    pub payments_today: u32,
    /// Arrears by age: ≤30 days, 31–90, 91–365, over a year past the period's end.
    pub arrears_by_age: [Money; 4],
    pub houses_in_arrears: u32,
    pub top_arrears: Vec<HouseArrears>,
}

/// Collection figures of one window (today, this month, this year).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rate {
    pub receivable: Money,
    pub received: Money,
    /// Received as a percentage of receivable, 2 dp (0 when nothing is receivable).
    pub percent: rust_decimal::Decimal,
}

impl Rate {
    fn of(receivable: Money, received: Money) -> Rate {
        let percent = if receivable.is_zero() {
            rust_decimal::Decimal::ZERO
        } else {
            (received.amount() * rust_decimal::Decimal::from(100) / receivable.amount())
                .round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero)
        };
        Rate { receivable, received, percent }
    }
}

/// A community's money as the manager screen shows it (R3).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommunityMoney {
    pub today: NaiveDate,
    /// Collected today against what was owed at the start of the day (arrears now + today's money).
    pub rate_today: Rate,
    /// Bills whose period starts this month / this year: received against receivable.
    pub rate_month: Rate,
    pub rate_year: Rate,
    pub receivable: Money,
    pub received: Money,
    pub arrears: Money,
    pub payments_today: u32,
    pub by_building: Vec<(String, ItemMoney)>,
    pub by_item: BTreeMap<String, ItemMoney>,
    /// The last 12 months, oldest first: `(YYYY-MM, rate)`.
    pub trend: Vec<(String, Rate)>,
    pub arrears_by_age: [Money; 4],
    pub houses_in_arrears: u32,
    pub top_arrears: Vec<HouseArrears>,
}

impl CommunityMoney {
    pub fn sum<'a>(buildings: impl Iterator<Item = &'a BuildingMoney>, today: NaiveDate) -> CommunityMoney {
        let mut m = CommunityMoney { today, ..CommunityMoney::default() };
        let mut months: BTreeMap<String, ItemMoney> = BTreeMap::new();
        let mut collected_today = Money::ZERO;
        let mut top = Vec::new();
        for b in buildings {
            m.receivable += b.receivable;
            m.received += b.received;
            m.arrears += b.arrears;
            m.payments_today += b.payments_today;
            m.houses_in_arrears += b.houses_in_arrears;
            m.by_building.push((b.building.clone(), ItemMoney { receivable: b.receivable, received: b.received }));
            for (k, v) in &b.by_item {
                let e = m.by_item.entry(k.clone()).or_default();
                e.receivable += v.receivable;
                e.received += v.received;
            }
            for (k, v) in &b.by_month {
                let e = months.entry(k.clone()).or_default();
                e.receivable += v.receivable;
                e.received += v.received;
            }
            collected_today += b.collected_by_day.get(&today).copied().unwrap_or_default();
            for (i, a) in b.arrears_by_age.iter().enumerate() {
                m.arrears_by_age[i] += *a;
            }
            top.extend(b.top_arrears.iter().cloned());
        }
        top.sort_by(|a, b| b.owed.cmp(&a.owed).then_with(|| a.house.cmp(&b.house)));
        top.truncate(10);
        m.top_arrears = top;
        m.rate_today = Rate::of(m.arrears + collected_today, collected_today);
        let month = today.format("%Y-%m").to_string();
        let year = today.format("%Y-").to_string();
        let this = months.get(&month).copied().unwrap_or_default();
        m.rate_month = Rate::of(this.receivable, this.received);
        let (yr, yd) = months.iter().filter(|(k, _)| k.starts_with(&year)).fold((Money::ZERO, Money::ZERO), |(r, d), (_, v)| (r + v.receivable, d + v.received));
        m.rate_year = Rate::of(yr, yd);
        let mut cursor = today.with_day(1).unwrap_or(today);
        let mut trend = Vec::new();
        for _ in 0..12 {
            let key = cursor.format("%Y-%m").to_string();
            let v = months.get(&key).copied().unwrap_or_default();
            trend.push((key, Rate::of(v.receivable, v.received)));
            cursor = cursor.checked_sub_months(chrono::Months::new(1)).unwrap_or(cursor);
        }
        trend.reverse();
        m.trend = trend;
        m
    }
}
