//! The demo community 荷花苑: 11 buildings × 2 units × 18 floors × 4 houses (1,584 houses), a water
//! and an electricity meter per house, a gate per entrance and a parking barrier. Deterministic, so
//! tests and the demo see the same ids.

use rust_decimal::Decimal;

use crate::community::{Building, Community, Floor, House, Unit};
use crate::device::{DeviceKind, DeviceSpec};
use crate::fee::{Formula, PriceRule, PriceScope, Tariff};
use crate::ids::{BuildingId, CommunityId, DeviceId, HouseId};

pub const DEMO_COMMUNITY: &str = "heyuan";
pub const BUILDINGS: u32 = 11;
pub const UNITS: u32 = 2;
pub const FLOORS: i32 = 18;
pub const HOUSES_PER_UNIT_FLOOR: u32 = 4;

/// A second community of the demo's first company: 莲园, 2 small buildings.
pub const SISTER_COMMUNITY: &str = "lianyuan";
/// A community of another company: 梅园, 2 small buildings.
pub const OTHER_COMPANY_COMMUNITY: &str = "meiyuan";

/// Rooms are numbered across the floor (unit 1 has x01–x04, unit 2 x05–x08), so the slash form,
/// which names no unit, still names one house.
pub fn community() -> Community {
    sized(DEMO_COMMUNITY, "荷花苑", BUILDINGS, FLOORS)
}

/// The small communities that show the demo's scope: one beside 荷花苑, one of another company.
pub fn small_communities() -> [Community; 2] {
    [sized(SISTER_COMMUNITY, "莲园", 2, 3), sized(OTHER_COMPANY_COMMUNITY, "梅园", 2, 3)]
}

fn sized(id: &str, name: &str, buildings: u32, floors: i32) -> Community {
    let id = CommunityId::new(id);
    let prefix = id.as_str();
    let buildings = (1..=buildings)
        .map(|b| Building {
            id: BuildingId::new(format!("{prefix}-b{b:02}")),
            no: b,
            name: format!("{b}号楼"),
            units: (1..=UNITS)
                .map(|u| Unit {
                    no: u,
                    floors: (1..=floors)
                        .map(|f| Floor {
                            no: f,
                            houses: (1..=HOUSES_PER_UNIT_FLOOR)
                                .map(|h| {
                                    let room = format!("{}{:02}", f, (u - 1) * HOUSES_PER_UNIT_FLOOR + h);
                                    // Areas 78.50–143.50 m² by position, 2 dp.
                                    let area = Decimal::new(7850 + i64::from((h * 13 + b * 7) % 6) * 1300, 2);
                                    House { id: HouseId::new(format!("{prefix}-{b}-{u}-{room}")), room, area }
                                })
                                .collect(),
                        })
                        .collect(),
                })
                .collect(),
        })
        .collect();
    Community { id, name: name.into(), time_zone: "Asia/Shanghai".into(), buildings, meter_rules: Default::default() }
}

/// Every device of the demo community: two meters per house, four gates and one barrier.
pub fn devices(community: &Community) -> Vec<DeviceSpec> {
    let mut out = Vec::with_capacity(community.house_count() * 2 + 8);
    for (b, u, _f, h) in community.houses() {
        for (kind, prefix) in [(DeviceKind::WaterMeter, "wm"), (DeviceKind::ElectricityMeter, "em")] {
            out.push(DeviceSpec {
                id: DeviceId::new(format!("{prefix}-{}-{}-{}", b.no, u.no, h.room)),
                kind,
                community: community.id.clone(),
                building: Some(b.id.clone()),
                house: Some(h.id.clone()),
                heartbeat_secs: 300,
            });
        }
    }
    for (i, b) in community.buildings.iter().take(4).enumerate() {
        out.push(DeviceSpec {
            id: DeviceId::new(format!("gate-{}", i + 1)),
            kind: DeviceKind::Gate,
            community: community.id.clone(),
            building: Some(b.id.clone()),
            house: None,
            heartbeat_secs: 60,
        });
    }
    out.push(DeviceSpec {
        id: DeviceId::new("barrier-1"),
        kind: DeviceKind::Barrier,
        community: community.id.clone(),
        building: None,
        house: None,
        heartbeat_secs: 60,
    });
    out
}

/// The demo's prices: 面积 × 2.18 for the property fee, 30.00 elevator, 15.00 garbage a month.
pub fn demo_tariff(community: &CommunityId) -> Tariff {
    let from = chrono::NaiveDate::from_ymd_opt(2020, 1, 1).unwrap_or_default();
    let rule = |item: &str, formula| PriceRule {
        item: item.into(),
        scope: PriceScope::Community { community: community.clone() },
        formula,
        effective_from: from,
        effective_to: None,
        floor_coefficients: Vec::new(),
    };
    Tariff {
        rules: vec![
            rule("property", Formula::AreaTimesPrice { unit_price: Decimal::new(218, 2) }),
            rule("elevator", Formula::Fixed { amount: Decimal::new(3000, 2) }),
            rule("garbage", Formula::Fixed { amount: Decimal::new(1500, 2) }),
        ],
        ..Tariff::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_community_is_the_size_the_wall_is_built_for() {
        let c = community();
        assert!(c.buildings.len() >= 10);
        assert_eq!(c.house_count(), 1584);
        assert_eq!(devices(&c).len(), 1584 * 2 + 5);
        let [sister, other] = small_communities();
        assert_eq!((sister.house_count(), other.buildings[0].id.as_str()), (48, "meiyuan-b01"));
    }
}
