//! Houses and other resources a fee can be charged to (C2, C3), and the people living in them (C4).

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::fee::HouseState;
use crate::ids::HouseId;

/// What a resource is (C2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResourceKind {
    Home,
    Shop,
    Office,
    Parking,
    Storage,
    AdSpace,
}

impl ResourceKind {
    pub const ALL: [ResourceKind; 6] = [Self::Home, Self::Shop, Self::Office, Self::Parking, Self::Storage, Self::AdSpace];

    pub fn label_zh(self) -> &'static str {
        match self {
            Self::Home => "住宅",
            Self::Shop => "商铺",
            Self::Office => "写字间",
            Self::Parking => "车位",
            Self::Storage => "储藏室",
            Self::AdSpace => "广告位",
        }
    }

    pub fn from_label(label: &str) -> Option<ResourceKind> {
        Self::ALL.into_iter().find(|k| k.label_zh() == label.trim())
    }
}

pub fn house_state_label(state: HouseState) -> &'static str {
    match state {
        HouseState::Unsold => "未售",
        HouseState::HandedOver => "已交房",
        HouseState::Decorating => "装修中",
        HouseState::Vacant => "空置",
        HouseState::Occupied => "入住",
        HouseState::Rented => "出租",
    }
}

pub fn house_state_from_label(label: &str) -> Option<HouseState> {
    use HouseState::*;
    [Unsold, HandedOver, Decorating, Vacant, Occupied, Rented].into_iter().find(|s| house_state_label(*s) == label.trim())
}

/// How a person is tied to a house.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Relation {
    Owner,
    Tenant,
    Family,
}

impl Relation {
    pub fn label_zh(self) -> &'static str {
        match self {
            Relation::Owner => "业主",
            Relation::Tenant => "租户",
            Relation::Family => "家属",
        }
    }

    pub fn from_label(label: &str) -> Option<Relation> {
        [Relation::Owner, Relation::Tenant, Relation::Family].into_iter().find(|r| r.label_zh() == label.trim())
    }
}

/// A resident of a house. A person with several houses appears once per house, keyed by phone.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resident {
    pub name: String,
    pub phone: String,
    #[serde(default)]
    pub id_number: Option<String>,
    pub relation: Relation,
    #[serde(default)]
    pub vip: bool,
    /// The day they joined the house: a newcomer sees the house's last 7 days of payments (N4).
    pub since: NaiveDate,
}

/// A house or other resource, as the book knows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HouseRecord {
    pub id: HouseId,
    /// The dash form, `荷花苑-1-1-101`.
    pub address: String,
    /// The slash form, `荷花苑/1号楼/1层/101`, as the billing desk shows it.
    pub address_path: String,
    pub unit: u32,
    pub floor: i32,
    pub kind: ResourceKind,
    /// m², 2 dp.
    pub area: Decimal,
    pub state: HouseState,
    /// Since when the house has been in `state` (C3: state changes are recorded with dates).
    #[serde(default)]
    pub state_since: Option<NaiveDate>,
    #[serde(default)]
    pub residents: Vec<Resident>,
    /// Every state the house has been in, oldest first (C3). Empty until the first change: then
    /// the house has been in `state` since `state_since` (or always).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<StateSpan>,
    /// The company's own fields (C2: 朝向, 产权证号 …), by name, from the house sheet's own columns.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub fields: std::collections::BTreeMap<String, String>,
}

/// A state a house entered on a day; it lasts until the next span's day.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StateSpan {
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub state: HouseState,
    /// `None`: since before the house was known to Hutong.
    pub since: Option<NaiveDate>,
    /// Who recorded it (an account, or `import`).
    #[serde(default)]
    pub by: String,
}

/// The part of a billed period a house spent in one state (first and last day inclusive).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StatePart {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub state: HouseState,
}

impl HouseRecord {
    /// The house's states, oldest first, with the day each began.
    pub fn spans(&self) -> Vec<StateSpan> {
        if self.history.is_empty() {
            return vec![StateSpan { state: self.state, since: self.state_since, by: String::new() }];
        }
        self.history.clone()
    }

    /// The house enters `state` on `on`. A date on or before a recorded change rewrites history
    /// from there (an import correcting it); `decide` refuses that for a change made by hand.
    pub fn enter_state(&mut self, state: HouseState, on: NaiveDate, by: &str) {
        let mut spans = self.spans();
        spans.retain(|s| s.since.is_none_or(|d| d < on));
        if spans.last().is_some_and(|s| s.state == state) {
            // Already in that state: the day it began stays.
        } else {
            spans.push(StateSpan { state, since: Some(on), by: by.to_string() });
        }
        let last = spans.last().cloned().unwrap_or(StateSpan { state, since: Some(on), by: by.to_string() });
        (self.state, self.state_since) = (last.state, last.since);
        self.history = spans;
    }

    /// Whether someone lived in the house (occupied or rented) every day of `start..=end`.
    pub fn lived_in_throughout(&self, start: NaiveDate, end: NaiveDate) -> bool {
        let parts = self.parts(start, end);
        parts.first().is_some_and(|p| p.from == start) && parts.iter().all(|p| matches!(p.state, HouseState::Occupied | HouseState::Rented))
    }

    /// The parts of `start..=end` the house spent in each state (C3: a state change inside a
    /// billed period splits it). Days before the house's first known state are in none.
    pub fn parts(&self, start: NaiveDate, end: NaiveDate) -> Vec<StatePart> {
        let spans = self.spans();
        let mut out = Vec::new();
        for (i, span) in spans.iter().enumerate() {
            let from = span.since.map_or(start, |d| d.max(start));
            let next = spans.get(i + 1).and_then(|n| n.since);
            let to = next.and_then(|d| d.pred_opt()).map_or(end, |d| d.min(end));
            if from <= to {
                out.push(StatePart { from, to, state: span.state });
            }
        }
        out
    }

    /// The resident a bill names first: the owner, else whoever came first.
    pub fn payer(&self) -> Option<&Resident> {
        self.residents.iter().find(|r| r.relation == Relation::Owner).or_else(|| self.residents.first())
    }
}
