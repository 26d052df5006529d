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
}

impl HouseRecord {
    /// The resident a bill names first: the owner, else whoever came first.
    pub fn payer(&self) -> Option<&Resident> {
        self.residents.iter().find(|r| r.relation == Relation::Owner).or_else(|| self.residents.first())
    }
}
