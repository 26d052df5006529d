//! The community tree (C1): community → building (幢/栋) → unit (单元) → floor (层) → house (室),
//! each house with its area, and the two address forms people type and read:
//! `荷花苑-1-1-101` (community-building-unit-room) and `测试用小区/1号楼/1层/101`
//! (community/building/floor/room). Both are accepted on input; both print.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;

use serde::{Deserialize, Serialize};

use crate::ids::{BuildingId, CommunityId, HouseId};

/// A community with its buildings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Community {
    pub id: CommunityId,
    pub name: String,
    /// IANA zone the community lives in; periods, due dates and patrol windows use it.
    pub time_zone: String,
    pub buildings: Vec<Building>,
    /// Thresholds of the meter anomalies judged over time (M4); defaults when not set.
    #[serde(default)]
    pub meter_rules: crate::meter_rules::MeterRules,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Building {
    pub id: BuildingId,
    /// The building's number as printed in addresses (`1` in `1号楼`).
    pub no: u32,
    pub name: String,
    pub units: Vec<Unit>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Unit {
    pub no: u32,
    pub floors: Vec<Floor>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Floor {
    /// Negative for basements.
    pub no: i32,
    pub houses: Vec<House>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct House {
    pub id: HouseId,
    /// The room as printed, e.g. `101`.
    pub room: String,
    /// Building area in m², 2 dp.
    pub area: Decimal,
}

impl Community {
    pub fn building(&self, id: &BuildingId) -> Option<&Building> {
        self.buildings.iter().find(|b| &b.id == id)
    }

    pub fn houses(&self) -> impl Iterator<Item = (&Building, &Unit, &Floor, &House)> {
        self.buildings.iter().flat_map(|b| {
            b.units.iter().flat_map(move |u| {
                u.floors.iter().flat_map(move |f| f.houses.iter().map(move |h| (b, u, f, h)))
            })
        })
    }

    /// Finds the house an address names, whichever form it was written in.
    pub fn find_house(&self, address: &HouseAddress) -> Option<(&Building, &House)> {
        if address.community != self.name && address.community != self.id.as_str() {
            return None;
        }
        let building = self.buildings.iter().find(|b| b.no == address.building)?;
        building
            .units
            .iter()
            .filter(|u| address.unit.is_none_or(|n| n == u.no))
            .flat_map(|u| u.floors.iter())
            .filter(|f| address.floor.is_none_or(|n| n == f.no))
            .flat_map(|f| f.houses.iter())
            .find(|h| h.room == address.room)
            .map(|h| (building, h))
    }

    /// The full address of a house in both printed forms, if it is in this community.
    pub fn address_of(&self, house: &HouseId) -> Option<HouseAddress> {
        self.houses().find(|(_, _, _, h)| &h.id == house).map(|(b, u, f, h)| HouseAddress {
            community: self.name.clone(),
            building: b.no,
            unit: Some(u.no),
            floor: Some(f.no),
            room: h.room.clone(),
        })
    }

    pub fn house_count(&self) -> usize {
        self.houses().count()
    }

    /// The houses of one building with their full addresses, without searching the community.
    pub fn houses_of(&self, building: &BuildingId) -> Vec<(u32, i32, &House, HouseAddress)> {
        let Some(b) = self.building(building) else { return Vec::new() };
        b.units
            .iter()
            .flat_map(|u| u.floors.iter().map(move |f| (u, f)))
            .flat_map(|(u, f)| {
                f.houses.iter().map(move |h| {
                    let address = HouseAddress { community: self.name.clone(), building: b.no, unit: Some(u.no), floor: Some(f.no), room: h.room.clone() };
                    (u.no, f.no, h, address)
                })
            })
            .collect()
    }
}

/// Finds houses by address or id in constant time: built once for a community, so an import of
/// 100,000 rows does not search the tree 100,000 times.
#[derive(Clone, Debug, Default)]
pub struct HouseIndex {
    names: Vec<String>,
    by_unit: HashMap<(u32, u32, String), (HouseId, BuildingId)>,
    by_floor: HashMap<(u32, i32, String), (HouseId, BuildingId)>,
    by_id: HashMap<HouseId, BuildingId>,
}

impl HouseIndex {
    pub fn new(community: &Community) -> HouseIndex {
        let mut index = HouseIndex { names: vec![community.name.clone(), community.id.to_string()], ..HouseIndex::default() };
        for (b, u, f, h) in community.houses() {
            index.by_unit.insert((b.no, u.no, h.room.clone()), (h.id.clone(), b.id.clone()));
            index.by_floor.insert((b.no, f.no, h.room.clone()), (h.id.clone(), b.id.clone()));
            index.by_id.insert(h.id.clone(), b.id.clone());
        }
        index
    }

    /// A house named by either address form, or by its id; with its building.
    pub fn find(&self, text: &str) -> Option<(HouseId, BuildingId)> {
        let text = text.trim();
        if let Some((id, b)) = self.by_id.get_key_value(text) {
            return Some((id.clone(), b.clone()));
        }
        let a: HouseAddress = text.parse().ok()?;
        if !self.names.contains(&a.community) {
            return None;
        }
        let by_unit = a.unit.and_then(|u| self.by_unit.get(&(a.building, u, a.room.clone())));
        let by_floor = || a.floor.and_then(|f| self.by_floor.get(&(a.building, f, a.room.clone())));
        by_unit.or_else(by_floor).cloned()
    }

    pub fn building_of(&self, house: &str) -> Option<&BuildingId> {
        self.by_id.get(house)
    }
}

/// An address as a person writes it. A dash address names the unit but not the floor; a slash
/// address names the floor but not the unit; whatever is missing stays `None` until matched.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HouseAddress {
    pub community: String,
    pub building: u32,
    pub unit: Option<u32>,
    pub floor: Option<i32>,
    pub room: String,
}

/// Why a text is not an address; the message is shown to the person who typed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddressError {
    Empty,
    Shape(String),
    NotANumber { part: &'static str, text: String },
}

crate::bilingual!(AddressError {
    AddressError::Empty => ("地址为空") / ("the address is empty"),
    AddressError::Shape(_0) => ("无法识别的地址格式") / ("unrecognised address {_0:?}: use 荷花苑-1-1-101 or 测试用小区/1号楼/1层/101"),
    AddressError::NotANumber { part, text } => ("地址中的{part}不是数字") / ("the {part} in address {text:?} is not a number"),
});

impl HouseAddress {
    /// `荷花苑-1-1-101`. Without a unit, unit 1 is printed: single-unit buildings are written that way.
    pub fn dash_form(&self) -> String {
        format!("{}-{}-{}-{}", self.community, self.building, self.unit.unwrap_or(1), self.room)
    }

    /// `测试用小区/1号楼/1层/101`. Without a floor, the floor is read off the room number (1201 → 12).
    pub fn slash_form(&self) -> String {
        let floor = self.floor.or_else(|| floor_from_room(&self.room)).unwrap_or(1);
        format!("{}/{}号楼/{}层/{}", self.community, self.building, floor, self.room)
    }
}

/// The floor a room number implies: `101` → 1, `1203` → 12, `B101` → none.
pub fn floor_from_room(room: &str) -> Option<i32> {
    let n: i32 = room.parse().ok()?;
    (n >= 100).then_some(n / 100)
}

fn number<T: FromStr>(part: &'static str, text: &str, full: &str) -> Result<T, AddressError> {
    text.trim().parse().map_err(|_| AddressError::NotANumber { part, text: full.to_string() })
}

impl FromStr for HouseAddress {
    type Err = AddressError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.is_empty() {
            return Err(AddressError::Empty);
        }
        if s.contains('/') {
            let parts: Vec<&str> = s.split('/').map(str::trim).collect();
            let [community, building, floor, room] = parts[..] else {
                return Err(AddressError::Shape(s.to_string()));
            };
            let building = building.trim_end_matches(['楼', '幢', '栋']).trim_end_matches('号');
            let floor = floor.trim_end_matches(['层', 'F', 'f']);
            if community.is_empty() || room.is_empty() {
                return Err(AddressError::Shape(s.to_string()));
            }
            return Ok(HouseAddress {
                community: community.to_string(),
                building: number("楼号 building", building, s)?,
                unit: None,
                floor: Some(number("楼层 floor", floor, s)?),
                room: room.to_string(),
            });
        }
        // The community name itself may contain '-', so read the three numbers from the right.
        let mut parts = s.rsplitn(4, '-');
        let (Some(room), Some(unit), Some(building), Some(community)) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(AddressError::Shape(s.to_string()));
        };
        if community.trim().is_empty() || room.trim().is_empty() {
            return Err(AddressError::Shape(s.to_string()));
        }
        Ok(HouseAddress {
            community: community.trim().to_string(),
            building: number("楼号 building", building, s)?,
            unit: Some(number("单元 unit", unit, s)?),
            floor: None,
            room: room.trim().to_string(),
        })
    }
}

impl fmt::Display for HouseAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.dash_form())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(rooms: &[(&str, &str)]) -> CommunityPlan {
        let rooms = rooms.iter().map(|(room, area)| RoomPlan { room: room.to_string(), area: area.parse().unwrap_or_default() }).collect();
        CommunityPlan {
            id: "taoyuan".into(),
            name: "桃园".into(),
            time_zone: "Asia/Shanghai".into(),
            buildings: vec![BuildingPlan { no: 3, name: None, units: vec![UnitPlan { no: 1, floors: vec![FloorPlan { no: 1, rooms }] }] }],
        }
    }

    #[test]
    fn a_plan_builds_the_tree_with_ids_addresses_find_and_refuses_what_could_not_be_one() {
        let Ok(c) = plan(&[("101", "88.456"), ("102", "90")]).build() else { panic!("a good plan was refused") };
        assert_eq!((c.buildings[0].id.as_str(), c.buildings[0].name.as_str()), ("taoyuan-b03", "3号楼"));
        let Ok(address) = "桃园-3-1-101".parse::<HouseAddress>() else { panic!("an address that parses") };
        let Some((_, house)) = c.find_house(&address) else { panic!("the plan's house is found by its address") };
        assert_eq!((house.id.as_str(), house.area), ("taoyuan-3-1-101", Decimal::new(8846, 2)));
        assert_eq!(plan(&[("101", "1"), ("101", "2")]).build(), Err(PlanError::DuplicateRoom("3-1-101".into())));
        assert_eq!(plan(&[("1 01", "1")]).build(), Err(PlanError::BadRoom("3-1-1 01".into())));
        assert_eq!(plan(&[("101", "0")]).build(), Err(PlanError::BadArea("3-1-101".into())));
        assert_eq!(CommunityPlan { id: "Tao Yuan".into(), ..plan(&[]) }.build(), Err(PlanError::BadId));
        assert_eq!(CommunityPlan { time_zone: "Asia/Nowhere".into(), ..plan(&[]) }.build(), Err(PlanError::BadZone("Asia/Nowhere".into())));
    }

    #[test]
    fn dash_addresses_parse_and_print() {
        let a: HouseAddress = "荷花苑-1-1-101".parse().unwrap();
        assert_eq!((a.building, a.unit, a.room.as_str()), (1, Some(1), "101"));
        assert_eq!(a.dash_form(), "荷花苑-1-1-101");
        assert_eq!(a.slash_form(), "荷花苑/1号楼/1层/101");
    }

    #[test]
    fn slash_addresses_parse_and_print() {
        let a: HouseAddress = "测试用小区/1号楼/1层/101".parse().unwrap();
        assert_eq!((a.building, a.floor, a.room.as_str()), (1, Some(1), "101"));
        assert_eq!(a.slash_form(), "测试用小区/1号楼/1层/101");
        assert_eq!(a.dash_form(), "测试用小区-1-1-101");
    }

    #[test]
    fn a_community_name_with_a_dash_still_parses() {
        let a: HouseAddress = "A-区花园-12-2-1203".parse().unwrap();
        assert_eq!(a.community, "A-区花园");
        assert_eq!((a.building, a.unit), (12, Some(2)));
        assert_eq!(a.slash_form(), "A-区花园/12号楼/12层/1203");
    }

    #[test]
    fn malformed_addresses_say_what_is_wrong() {
        assert_eq!("".parse::<HouseAddress>(), Err(AddressError::Empty));
        assert!(matches!("荷花苑-x-1-101".parse::<HouseAddress>(), Err(AddressError::NotANumber { .. })));
        assert!(matches!("荷花苑/1号楼/101".parse::<HouseAddress>(), Err(AddressError::Shape(_))));
        let msg = "荷花苑101".parse::<HouseAddress>().unwrap_err().to_string();
        assert!(msg.contains("荷花苑-1-1-101") && msg.contains("unrecognised"));
    }

    #[test]
    fn both_forms_find_the_same_house() {
        let c = crate::demo::community();
        let by_dash = c.find_house(&"荷花苑-3-2-506".parse().unwrap()).unwrap();
        let slash = c.address_of(&by_dash.1.id).unwrap().slash_form();
        let by_slash = c.find_house(&slash.parse().unwrap()).unwrap();
        assert_eq!(by_dash.1.id, by_slash.1.id);
    }
}

/// A community as the office describes it to set it up (C1): its id, name, zone and the tree of
/// buildings, units, floors and rooms with their areas. Ids of buildings and houses are derived
/// (`{community}-b01`, `{community}-1-1-101`), so the addresses people type find them.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CommunityPlan {
    /// 2–32 lowercase letters, digits or dashes, e.g. `taoyuan`.
    pub id: String,
    pub name: String,
    /// IANA zone, e.g. `Asia/Shanghai`.
    pub time_zone: String,
    pub buildings: Vec<BuildingPlan>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BuildingPlan {
    pub no: u32,
    /// Defaults to `{no}号楼`.
    #[serde(default)]
    pub name: Option<String>,
    pub units: Vec<UnitPlan>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UnitPlan {
    pub no: u32,
    pub floors: Vec<FloorPlan>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FloorPlan {
    pub no: i32,
    pub rooms: Vec<RoomPlan>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RoomPlan {
    pub room: String,
    /// m², more than 0 and at most 100,000, 2 dp.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub area: Decimal,
}

/// The most houses one set-up takes (a very large estate is set up in parts... or imported).
pub const PLAN_MAX_HOUSES: usize = 50_000;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PlanError {
    BadId,
    BadName,
    BadZone(String),
    TooManyHouses,
    CommunityFull,
    DuplicateBuilding(u32),
    DuplicateUnit(u32, u32),
    DuplicateRoom(String),
    BadRoom(String),
    BadArea(String),
}

crate::bilingual!(PlanError {
    PlanError::BadId => ("小区编号须为 2–32 位小写字母、数字或连字符") / ("a community id is 2–32 lowercase letters, digits or dashes"),
    PlanError::BadName => ("小区和楼栋名称须为 1–40 个字") / ("names are 1–40 characters"),
    PlanError::BadZone(_0) => ("未知时区 {_0}") / ("unknown time zone {_0}"),
    PlanError::TooManyHouses => ("一次最多建立 50000 户") / ("at most 50,000 houses at once"),
    PlanError::CommunityFull => ("一个小区最多 200000 户") / ("a community holds at most 200,000 houses"),
    PlanError::DuplicateBuilding(_0) => ("楼栋号 {_0} 重复") / ("building number {_0} appears twice"),
    PlanError::DuplicateUnit(_0, _1) => ("{_0}号楼的 {_1} 单元重复") / ("unit {_1} of building {_0} appears twice"),
    PlanError::DuplicateRoom(_0) => ("房屋 {_0} 重复") / ("house {_0} appears twice"),
    PlanError::BadRoom(_0) => ("房号 {_0} 须为 1–8 位字母或数字") / ("room {_0} must be 1–8 letters or digits"),
    PlanError::BadArea(_0) => ("房屋 {_0} 的面积须大于 0 且不超过 100000 平方米") / ("house {_0} needs an area above 0 and at most 100,000 m²"),
});

impl CommunityPlan {
    /// The community this plan describes, or why it cannot be one.
    pub fn build(self) -> Result<Community, PlanError> {
        let id = self.id.trim().to_string();
        if !(2..=32).contains(&id.len()) || !id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') {
            return Err(PlanError::BadId);
        }
        let name = self.name.trim().to_string();
        if name.is_empty() || name.chars().count() > 40 {
            return Err(PlanError::BadName);
        }
        if self.time_zone.parse::<chrono_tz::Tz>().is_err() {
            return Err(PlanError::BadZone(self.time_zone));
        }
        // No buildings is a community whose tree comes later: grown, or by the house import.
        let rooms: usize = self.buildings.iter().flat_map(|b| &b.units).flat_map(|u| &u.floors).map(|f| f.rooms.len()).sum();
        if rooms > PLAN_MAX_HOUSES {
            return Err(PlanError::TooManyHouses);
        }
        let mut seen_buildings = std::collections::HashSet::new();
        let mut seen_houses = std::collections::HashSet::new();
        let mut buildings = Vec::with_capacity(self.buildings.len());
        for b in self.buildings {
            if !seen_buildings.insert(b.no) {
                return Err(PlanError::DuplicateBuilding(b.no));
            }
            let building_name = b.name.map(|n| n.trim().to_string()).unwrap_or_else(|| format!("{}号楼", b.no));
            if building_name.is_empty() || building_name.chars().count() > 40 {
                return Err(PlanError::BadName);
            }
            let mut seen_units = std::collections::HashSet::new();
            let mut units = Vec::with_capacity(b.units.len());
            for u in b.units {
                if !seen_units.insert(u.no) {
                    return Err(PlanError::DuplicateUnit(b.no, u.no));
                }
                let mut floors = Vec::with_capacity(u.floors.len());
                for f in u.floors {
                    let mut houses = Vec::with_capacity(f.rooms.len());
                    for r in f.rooms {
                        let room = r.room.trim().to_string();
                        let address = format!("{}-{}-{}", b.no, u.no, room);
                        if room.is_empty() || room.len() > 8 || !room.chars().all(|c| c.is_ascii_alphanumeric()) {
                            return Err(PlanError::BadRoom(address));
                        }
                        if r.area <= Decimal::ZERO || r.area > Decimal::from(100_000) {
                            return Err(PlanError::BadArea(address));
                        }
                        if !seen_houses.insert(address.clone()) {
                            return Err(PlanError::DuplicateRoom(address));
                        }
                        houses.push(House { id: HouseId::new(format!("{id}-{address}")), room, area: r.area.round_dp(2) });
                    }
                    floors.push(Floor { no: f.no, houses });
                }
                units.push(Unit { no: u.no, floors });
            }
            buildings.push(Building { id: BuildingId::new(format!("{id}-b{:02}", b.no)), no: b.no, name: building_name, units });
        }
        Ok(Community { id: CommunityId::new(&id), name, time_zone: self.time_zone, buildings, meter_rules: Default::default() })
    }
}

/// What a plan adds to a running community (C1): the buildings, units, floors and houses it does
/// not have yet, shaped as a tree of only those. Houses it already has are left as they are
/// (their area and state are the book's, changed there), so the same plan sent twice adds nothing.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Growth {
    pub buildings: Vec<Building>,
    /// Houses of the plan the community already had.
    pub existing: usize,
}

impl Growth {
    pub fn houses(&self) -> usize {
        self.buildings.iter().flat_map(|b| &b.units).flat_map(|u| &u.floors).map(|f| f.houses.len()).sum()
    }

    pub fn new_buildings<'a>(&'a self, before: &'a Community) -> impl Iterator<Item = &'a BuildingId> + 'a {
        self.buildings.iter().filter(|b| before.building(&b.id).is_none()).map(|b| &b.id)
    }
}

impl Community {
    /// What `buildings` would add to this community, or why the plan cannot be one.
    pub fn growth(&self, buildings: Vec<BuildingPlan>) -> Result<Growth, PlanError> {
        if buildings.is_empty() {
            return Ok(Growth { buildings: Vec::new(), existing: 0 });
        }
        let plan = CommunityPlan { id: self.id.to_string(), name: self.name.clone(), time_zone: self.time_zone.clone(), buildings };
        let planned = plan.build()?;
        let known: std::collections::HashSet<&HouseId> = self.houses().map(|(_, _, _, h)| &h.id).collect();
        let mut existing = 0;
        let mut added = Vec::new();
        for b in planned.buildings {
            let current = self.buildings.iter().find(|c| c.no == b.no);
            let mut units = Vec::new();
            for u in b.units {
                let mut floors = Vec::new();
                for f in u.floors {
                    let mut houses = Vec::new();
                    for h in f.houses {
                        let there = current.is_some_and(|c| c.units.iter().filter(|cu| cu.no == u.no).flat_map(|cu| &cu.floors).flat_map(|cf| &cf.houses).any(|ch| ch.room == h.room));
                        if there {
                            existing += 1;
                            continue;
                        }
                        // An id the tree gives another address (an older naming) is not reused.
                        if known.contains(&h.id) {
                            return Err(PlanError::DuplicateRoom(format!("{}-{}-{}", b.no, u.no, h.room)));
                        }
                        houses.push(h);
                    }
                    if !houses.is_empty() {
                        floors.push(Floor { no: f.no, houses });
                    }
                }
                if !floors.is_empty() {
                    units.push(Unit { no: u.no, floors });
                }
            }
            match current {
                Some(c) if !units.is_empty() => added.push(Building { id: c.id.clone(), no: c.no, name: c.name.clone(), units }),
                Some(_) => {}
                None if self.buildings.iter().any(|c| c.id == b.id) => return Err(PlanError::DuplicateBuilding(b.no)),
                None => added.push(Building { units, ..b }),
            }
        }
        let total = self.house_count() + added.iter().flat_map(|b| &b.units).flat_map(|u| &u.floors).map(|f| f.houses.len()).sum::<usize>();
        if total > COMMUNITY_MAX_HOUSES {
            return Err(PlanError::CommunityFull);
        }
        Ok(Growth { buildings: added, existing })
    }

    /// Grafts what `growth` decided onto the tree. Never fails: `growth` checked it.
    pub fn grow(&mut self, additions: &[Building]) {
        for add in additions {
            let Some(b) = self.buildings.iter_mut().find(|b| b.id == add.id) else {
                self.buildings.push(add.clone());
                continue;
            };
            for add_unit in &add.units {
                let Some(u) = b.units.iter_mut().find(|u| u.no == add_unit.no) else {
                    b.units.push(add_unit.clone());
                    continue;
                };
                for add_floor in &add_unit.floors {
                    match u.floors.iter_mut().find(|f| f.no == add_floor.no) {
                        Some(f) => f.houses.extend(add_floor.houses.iter().cloned()),
                        None => u.floors.push(add_floor.clone()),
                    }
                }
                u.floors.sort_by_key(|f| f.no);
            }
            b.units.sort_by_key(|u| u.no);
        }
        self.buildings.sort_by_key(|b| b.no);
    }
}

/// Where a house to create sits: building, unit, floor and room numbers.
pub type Placement = (u32, u32, i32, String);

impl Community {
    /// The house an address of this community would name if it were created: its id and place.
    /// A dash address has no floor (read off the room, `1203` → 12), a slash address no unit (1).
    /// `None` for another community's address or a room that could not be one.
    pub fn new_house_at(&self, text: &str) -> Option<(HouseId, Placement)> {
        let a: HouseAddress = text.parse().ok()?;
        if a.community != self.name && a.community != self.id.as_str() {
            return None;
        }
        if a.room.is_empty() || a.room.len() > 8 || !a.room.chars().all(|c| c.is_ascii_alphanumeric()) || a.building == 0 {
            return None;
        }
        let unit = a.unit.unwrap_or(1);
        let floor = a.floor.or_else(|| floor_from_room(&a.room)).unwrap_or(1);
        Some((HouseId::new(format!("{}-{}-{}-{}", self.id, a.building, unit, a.room)), (a.building, unit, floor, a.room)))
    }
}

/// The plan of some houses to create, each at its place with its area.
pub fn plan_of(houses: impl IntoIterator<Item = (Placement, Decimal)>) -> Vec<BuildingPlan> {
    let mut tree: std::collections::BTreeMap<u32, std::collections::BTreeMap<u32, std::collections::BTreeMap<i32, Vec<RoomPlan>>>> = Default::default();
    for ((b, u, f, room), area) in houses {
        tree.entry(b).or_default().entry(u).or_default().entry(f).or_default().push(RoomPlan { room, area });
    }
    tree.into_iter()
        .map(|(no, units)| BuildingPlan {
            no,
            name: None,
            units: units.into_iter().map(|(no, floors)| UnitPlan { no, floors: floors.into_iter().map(|(no, rooms)| FloorPlan { no, rooms }).collect() }).collect(),
        })
        .collect()
}

/// The most houses one community holds.
pub const COMMUNITY_MAX_HOUSES: usize = 200_000;

#[cfg(test)]
mod growth_tests {
    use super::*;

    fn rooms(rooms: &[&str]) -> Vec<RoomPlan> {
        rooms.iter().map(|r| RoomPlan { room: r.to_string(), area: Decimal::new(8800, 2) }).collect()
    }

    fn building(no: u32, unit: u32, floor: i32, r: &[&str]) -> BuildingPlan {
        BuildingPlan { no, name: None, units: vec![UnitPlan { no: unit, floors: vec![FloorPlan { no: floor, rooms: rooms(r) }] }] }
    }

    #[test]
    fn a_running_community_grows_by_what_it_lacks_and_the_same_plan_twice_adds_nothing() {
        let plan = CommunityPlan { id: "taoyuan".into(), name: "桃园".into(), time_zone: "Asia/Shanghai".into(), buildings: vec![building(1, 1, 1, &["101", "102"])] };
        let Ok(mut c) = plan.build() else { panic!("a good plan") };
        let more = vec![building(1, 1, 1, &["101", "103"]), building(1, 2, 2, &["201"]), building(2, 1, 1, &["101"])];
        // Two plans for building 1 are one building twice.
        assert_eq!(c.growth(more.clone()), Err(PlanError::DuplicateBuilding(1)));
        let more = vec![
            BuildingPlan { no: 1, name: None, units: vec![
                UnitPlan { no: 1, floors: vec![FloorPlan { no: 1, rooms: rooms(&["101", "103"]) }] },
                UnitPlan { no: 2, floors: vec![FloorPlan { no: 2, rooms: rooms(&["201"]) }] },
            ] },
            building(2, 1, 1, &["101"]),
        ];
        let Ok(g) = c.growth(more.clone()) else { panic!("growth refused") };
        assert_eq!((g.houses(), g.existing), (3, 1));
        assert_eq!(g.new_buildings(&c).map(|b| b.as_str()).collect::<Vec<_>>(), ["taoyuan-b02"]);
        c.grow(&g.buildings);
        assert_eq!(c.house_count(), 5);
        let Ok(a) = "桃园-1-2-201".parse::<HouseAddress>() else { panic!("address") };
        assert_eq!(c.find_house(&a).map(|(b, h)| (b.id.as_str(), h.id.as_str())), Some(("taoyuan-b01", "taoyuan-1-2-201")));
        let Ok(again) = c.growth(more) else { panic!("growth refused") };
        assert_eq!((again.houses(), again.existing), (0, 4));
        assert_eq!(c.growth(vec![building(3, 1, 1, &["1 01"])]), Err(PlanError::BadRoom("3-1-1 01".into())));
        // An import's addresses: the dash form reads the floor off the room, the slash form has unit 1.
        let at = |t: &str| c.new_house_at(t).map(|(id, place)| (id.to_string(), place));
        assert_eq!(at("桃园-5-2-1203"), Some(("taoyuan-5-2-1203".into(), (5, 2, 12, "1203".into()))));
        assert_eq!(at("桃园/5号楼/3层/A1"), Some(("taoyuan-5-1-A1".into(), (5, 1, 3, "A1".into()))));
        assert_eq!(at("荷花苑-5-2-1203"), None);
        let plan = plan_of([((5, 2, 12, "1203".to_string()), Decimal::ONE), ((5, 1, 3, "A1".to_string()), Decimal::TWO)]);
        let Ok(g) = c.growth(plan) else { panic!("growth refused") };
        assert_eq!((g.houses(), g.buildings.len(), g.buildings[0].units.len()), (2, 1, 2));
    }
}
