//! The device import template (M6, C5): one device per row — 设备编号, 设备类型, 房屋地址 (a
//! household meter), 楼栋号 (a public-area device), 心跳间隔(秒) — read row by row with the same
//! report as the other imports (row, column, reason in both languages). What it cannot place is
//! a row error; the registry's own checks (ids never used, house in building) come after.

use std::collections::HashSet;

use crate::device::{DeviceKind, DeviceSpec};
use crate::ids::{BuildingId, CommunityId, DeviceId, HouseId};
use crate::import::template::{MAX_REPORTED_ERRORS, RowError};

pub const COLUMNS: [&str; 5] = ["设备编号", "设备类型", "房屋地址", "楼栋号", "心跳间隔(秒)"];

/// What a device import read: the devices of its good rows (with their row), and what was wrong.
#[derive(Debug, Default)]
pub struct DeviceImport {
    pub devices: Vec<(usize, DeviceSpec)>,
    pub errors: Vec<RowError>,
    pub rows: usize,
    pub bad_rows: usize,
}

pub fn kind_of(label: &str) -> Option<DeviceKind> {
    Some(match label.trim() {
        "水表" | "water_meter" => DeviceKind::WaterMeter,
        "电表" | "electricity_meter" => DeviceKind::ElectricityMeter,
        "燃气表" | "气表" | "gas_meter" => DeviceKind::GasMeter,
        "门禁" | "gate" => DeviceKind::Gate,
        "道闸" | "barrier" => DeviceKind::Barrier,
        "巡更棒" | "巡更器" | "patrol_reader" => DeviceKind::PatrolReader,
        _ => return None,
    })
}

/// Reads rows as they come; `house` finds a house (and its building) by address, `building` a
/// building by its number.
pub struct DeviceReader<H, B> {
    community: CommunityId,
    house: H,
    building: B,
    columns: Option<[Option<usize>; 5]>,
    seen: HashSet<String>,
    out: DeviceImport,
}

impl<H: Fn(&str) -> Option<(HouseId, BuildingId)>, B: Fn(&str) -> Option<BuildingId>> DeviceReader<H, B> {
    pub fn new(community: CommunityId, house: H, building: B) -> Self {
        Self { community, house, building, columns: None, seen: HashSet::new(), out: DeviceImport::default() }
    }

    fn error(&mut self, row: usize, column: &str, reason: String) {
        if self.out.errors.len() < MAX_REPORTED_ERRORS {
            self.out.errors.push(RowError { row, column: column.into(), reason });
        }
    }

    pub fn finish(mut self) -> DeviceImport {
        if self.columns.is_none() {
            self.error(1, "设备编号", "找不到表头（设备编号、设备类型……）/ no header row (设备编号, 设备类型, …)".into());
            self.out.bad_rows += 1;
        }
        self.out
    }
}

impl<H: Fn(&str) -> Option<(HouseId, BuildingId)>, B: Fn(&str) -> Option<BuildingId>> super::RowSink for DeviceReader<H, B> {
    fn row(&mut self, i: usize, cells: &[String]) {
        let row = i + 1;
        let Some(columns) = self.columns else {
            let at = |name: &str| cells.iter().position(|c| c.trim() == name);
            if at(COLUMNS[0]).is_some() {
                self.columns = Some(COLUMNS.map(at));
            }
            return;
        };
        let cell = |k: usize| columns[k].and_then(|c| cells.get(c)).map(|s| s.trim().to_string()).unwrap_or_default();
        if cells.iter().all(|c| c.trim().is_empty()) {
            return;
        }
        self.out.rows += 1;
        let before = self.out.errors.len();
        let id = cell(0);
        if id.is_empty() {
            self.error(row, COLUMNS[0], "缺少设备编号 / the device id is missing".into());
        } else if !self.seen.insert(id.clone()) {
            self.error(row, COLUMNS[0], format!("设备编号 {id} 在文件中重复 / device id {id} appears twice in the file"));
        }
        let kind = kind_of(&cell(1));
        if kind.is_none() {
            self.error(row, COLUMNS[1], format!("设备类型「{}」不认识：水表、电表、燃气表、门禁、道闸或巡更棒 / unknown kind", cell(1)));
        }
        let (address, number) = (cell(2), cell(3));
        let mut place = (None, None);
        if !address.is_empty() {
            match (self.house)(&address) {
                Some((house, building)) => place = (Some(house), Some(building)),
                None => self.error(row, COLUMNS[2], format!("找不到房屋 {address} / no house {address}")),
            }
        }
        if !number.is_empty() {
            match (self.building)(&number) {
                Some(b) if place.1.as_ref().is_some_and(|hb| hb != &b) => {
                    self.error(row, COLUMNS[3], format!("房屋不在 {number} 号楼 / the house is not in building {number}"));
                }
                Some(b) => place.1 = Some(b),
                None => self.error(row, COLUMNS[3], format!("没有 {number} 号楼 / no building {number}")),
            }
        }
        let heartbeat = match cell(4) {
            t if t.is_empty() => Some(if kind.is_some_and(DeviceKind::is_meter) { 3600 } else { 300 }),
            t => t.parse::<u32>().ok().filter(|s| (10..=86_400).contains(s)),
        };
        if heartbeat.is_none() {
            self.error(row, COLUMNS[4], "心跳间隔须为 10–86400 秒 / a heartbeat interval is 10–86400 seconds".into());
        }
        match (kind, heartbeat) {
            (Some(kind), Some(heartbeat_secs)) if self.out.errors.len() == before => {
                let spec = DeviceSpec { id: DeviceId::new(id), kind, community: self.community.clone(), building: place.1, house: place.0, heartbeat_secs };
                self.out.devices.push((row, spec));
            }
            _ => self.out.bad_rows += 1,
        }
    }
}
