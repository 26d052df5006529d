//! What the server streams to screens over `/ws`: first a snapshot, then live events, and a
//! `resync` when the client fell behind and must start over. Shared by the server and the WASM
//! dashboards so both sides read the same shapes.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::building::BuildingHealth;
use crate::device::{DeviceEvent, DeviceHealth, DeviceKind, GateAction};
use crate::ids::{BuildingId, CommunityId, DeviceId, HouseId};

/// One message on a screen's WebSocket.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    /// Everything the wall shows, as of now.
    Snapshot(WallSnapshot),
    /// One change, after the snapshot.
    Event(LiveEvent),
    /// The client fell behind: drop what it has and reload.
    Resync,
}

/// A change, as streamed. `(stream, seq)` orders changes of one actor; a client ignores an event
/// whose seq it has already seen in the snapshot. Device events carry their journal stream and
/// seq; a building's health and money are derived (streams under `derived/`, seqs that only grow).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LiveEvent {
    pub community: CommunityId,
    pub stream: String,
    pub seq: u64,
    pub body: LiveBody,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LiveBody {
    Device {
        device: DeviceId,
        device_kind: DeviceKind,
        building: Option<BuildingId>,
        house: Option<HouseId>,
        event: DeviceEvent,
    },
    Building {
        building: BuildingId,
        health: BuildingHealth,
    },
    /// A building's money changed (a bill issued, a payment taken …).
    Money {
        building: BuildingId,
        money: MoneyTile,
    },
}

/// A building's money in brief, for its wall tile and the manager's live figures.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MoneyTile {
    pub receivable: crate::Money,
    pub received: crate::Money,
    pub arrears: crate::Money,
    /// Arrears of bills whose period has ended.
    #[serde(default)]
    pub overdue: crate::Money,
    pub houses_in_arrears: u32,
}

impl MoneyTile {
    /// Overdue arrears as a share of what was billed, in per mille (0 when nothing was billed):
    /// a bill still inside its period is owed but not late, so it does not colour the tile.
    pub fn arrears_permille(&self) -> u32 {
        if self.receivable.is_zero() {
            return 0;
        }
        let share = self.overdue.amount() * rust_decimal::Decimal::from(1000) / self.receivable.amount();
        u32::try_from(share.round().mantissa()).unwrap_or(0)
    }
}

/// The wall's state for one community.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WallSnapshot {
    pub community: CommunityId,
    pub name: String,
    pub buildings: Vec<BuildingTile>,
    /// Newest first.
    pub alarms: Vec<Alarm>,
    /// Newest first.
    pub readings: Vec<ReadingTick>,
    pub devices_total: u32,
    pub devices_offline: u32,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BuildingTile {
    pub id: BuildingId,
    pub no: u32,
    pub name: String,
    pub houses: u32,
    pub health: BuildingHealth,
    /// Seq of the last health change folded in; older live updates are ignored.
    pub seq: u64,
    #[serde(default)]
    pub money: MoneyTile,
}

/// A device as the API shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeviceView {
    pub id: DeviceId,
    pub kind: DeviceKind,
    pub building: Option<BuildingId>,
    pub house: Option<HouseId>,
    pub health: DeviceHealth,
    pub last_value: Option<Decimal>,
    pub last_seen: Option<DateTime<Utc>>,
    pub last_device_seq: Option<u64>,
    pub readings: u64,
    /// The journal seq of the last event applied.
    pub journal_seq: u64,
}

/// What kind of alarm the feed shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlarmKind {
    MeterSpike,
    MeterBackwards,
    DeviceOffline,
    GateAlarm,
}

/// One line of the wall's alarm feed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Alarm {
    pub stream: String,
    pub seq: u64,
    pub at: DateTime<Utc>,
    pub kind: AlarmKind,
    pub device: DeviceId,
    pub building: Option<BuildingId>,
    /// A sentence in Chinese for the wall.
    pub text: String,
}

/// One line of the wall's readings ticker.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReadingTick {
    pub stream: String,
    pub seq: u64,
    pub at: DateTime<Utc>,
    pub device: DeviceId,
    pub device_kind: DeviceKind,
    pub value: Decimal,
    pub usage: Option<Decimal>,
}

impl LiveEvent {
    /// The alarm this event raises, if any.
    pub fn alarm(&self) -> Option<Alarm> {
        let LiveBody::Device { device, device_kind, building, event, .. } = &self.body else {
            return None;
        };
        let label = device_kind.label_zh();
        let (at, kind, text) = match event {
            DeviceEvent::UsageSpiked { signal, usage, typical } => (
                signal.at,
                AlarmKind::MeterSpike,
                format!("{label} {device} 用量突增：{} {}（平时约 {}）", usage.normalize(), device_kind.unit(), typical.round_dp(2).normalize()),
            ),
            DeviceEvent::ReadingWentBackwards { signal, previous, value } => (
                signal.at,
                AlarmKind::MeterBackwards,
                format!("{label} {device} 读数倒退：{} → {}", previous.normalize(), value.normalize()),
            ),
            DeviceEvent::WentOffline { at, .. } => (*at, AlarmKind::DeviceOffline, format!("{label} {device} 离线，超时未上报心跳")),
            DeviceEvent::GateEventRecorded { signal, action, .. } if action.is_alarm() => {
                (signal.at, AlarmKind::GateAlarm, format!("{label} {device} {}", action.label_zh()))
            }
            _ => return None,
        };
        Some(Alarm { stream: self.stream.clone(), seq: self.seq, at, kind, device: device.clone(), building: building.clone(), text })
    }

    /// The ticker line this event adds, if it is a reading.
    pub fn reading(&self) -> Option<ReadingTick> {
        match &self.body {
            LiveBody::Device { device, device_kind, event: DeviceEvent::ReadingAccepted { signal, value, usage }, .. } => {
                Some(ReadingTick { stream: self.stream.clone(), seq: self.seq, at: signal.at, device: device.clone(), device_kind: *device_kind, value: *value, usage: *usage })
            }
            _ => None,
        }
    }
}

/// How many alarms and readings a snapshot carries.
pub const FEED_LENGTH: usize = 50;

/// A gate action as the ticker prints it.
pub fn gate_text(action: GateAction, plate: Option<&str>) -> String {
    match plate {
        Some(p) => format!("{} {p}", action.label_zh()),
        None => action.label_zh().to_string(),
    }
}
