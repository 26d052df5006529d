//! A building's health as the wall shows it (R2): folded from the health of its devices. The wall
//! colours a tile red while any device is in anomaly, amber while any is offline, green otherwise.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::device::DeviceHealth;
use crate::ids::DeviceId;

/// Counts of a building's devices by health.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildingHealth {
    pub devices: u32,
    pub offline: u32,
    pub anomalies: u32,
}

/// The colour a building tile takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TileLevel {
    Normal,
    Offline,
    Alarm,
}

impl BuildingHealth {
    pub fn level(&self) -> TileLevel {
        if self.anomalies > 0 {
            TileLevel::Alarm
        } else if self.offline > 0 {
            TileLevel::Offline
        } else {
            TileLevel::Normal
        }
    }
}

/// The health of every device of one building, as last reported by each device.
#[derive(Clone, Debug, Default)]
pub struct BuildingBoard {
    devices: HashMap<DeviceId, DeviceHealth>,
    health: BuildingHealth,
}

impl BuildingBoard {
    pub fn health(&self) -> BuildingHealth {
        self.health
    }

    /// Notes a device's health; returns the building's new health when it changed.
    pub fn note(&mut self, device: DeviceId, health: DeviceHealth) -> Option<BuildingHealth> {
        let before = self.health;
        if let Some(old) = self.devices.insert(device, health) {
            self.count(old, -1);
        } else {
            self.health.devices += 1;
        }
        self.count(health, 1);
        (self.health != before).then_some(self.health)
    }

    /// A device that left the building (moved, retired); the building's new health when it changed.
    pub fn forget(&mut self, device: &DeviceId) -> Option<BuildingHealth> {
        let before = self.health;
        let old = self.devices.remove(device)?;
        self.count(old, -1);
        self.health.devices = self.health.devices.saturating_sub(1);
        (self.health != before).then_some(self.health)
    }

    fn count(&mut self, health: DeviceHealth, delta: i32) {
        let slot = match health {
            DeviceHealth::Ok => return,
            DeviceHealth::Offline => &mut self.health.offline,
            DeviceHealth::Anomaly => &mut self.health.anomalies,
        };
        *slot = slot.saturating_add_signed(delta);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tile_turns_red_on_an_anomaly_and_back_when_it_clears() {
        let mut board = BuildingBoard::default();
        board.note(DeviceId::new("a"), DeviceHealth::Ok);
        board.note(DeviceId::new("b"), DeviceHealth::Offline);
        assert_eq!(board.health().level(), TileLevel::Offline);
        let h = board.note(DeviceId::new("a"), DeviceHealth::Anomaly).unwrap();
        assert_eq!((h.devices, h.offline, h.anomalies, h.level()), (2, 1, 1, TileLevel::Alarm));
        assert!(board.note(DeviceId::new("a"), DeviceHealth::Anomaly).is_none());
        board.note(DeviceId::new("a"), DeviceHealth::Ok);
        board.note(DeviceId::new("b"), DeviceHealth::Ok);
        assert_eq!(board.health().level(), TileLevel::Normal);
    }
}
