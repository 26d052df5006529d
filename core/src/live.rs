//! What the server streams to screens over `/ws`: first a snapshot, then live events (a frame of them per screen tick), and a
//! `resync` when the client fell behind and must start over. Shared by the server and the WASM
//! dashboards so both sides read the same shapes.

use std::collections::BTreeSet;

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
    /// Every building's money as of now (`/ws/money`); then `MoneyDetail` events.
    MoneySnapshot(MoneySnapshot),
    /// Each patrol route's day as of now (`/ws/patrol`); then `Patrol` and `PatrolReminder` events.
    PatrolSnapshot(PatrolSnapshot),
    /// The community's work orders still in hand as of now (`/ws/work`); then `WorkOrder` events.
    WorkSnapshot(WorkSnapshot),
    /// One change, after the snapshot.
    Event(LiveEvent),
    /// The changes of one screen tick, in order: what the server sends (one frame per tick,
    /// the same bytes to every screen that may see them).
    Events { events: Vec<LiveEvent> },
    /// The client fell behind: drop what it has and reload.
    Resync,
}

impl ServerMessage {
    /// The changes this message carries: one event, a tick's batch, or none.
    pub fn events(&self) -> &[LiveEvent] {
        match self {
            ServerMessage::Event(e) => std::slice::from_ref(e),
            ServerMessage::Events { events } => events,
            _ => &[],
        }
    }
}

/// What a screen may see of a community: every building, or only some (a butler's). Screens with
/// the same sight share one stream of frames and one cached snapshot.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Sight {
    All,
    Buildings(BTreeSet<BuildingId>),
}

impl Sight {
    /// A scope's buildings (none listed: all of them).
    pub fn of(buildings: &BTreeSet<BuildingId>) -> Sight {
        if buildings.is_empty() { Sight::All } else { Sight::Buildings(buildings.clone()) }
    }

    /// Whether something of `building` is in sight; something of no building (a gate at the
    /// community's entrance) is for those who see every building.
    pub fn sees(&self, building: Option<&BuildingId>) -> bool {
        match self {
            Sight::All => true,
            Sight::Buildings(mine) => building.is_some_and(|b| mine.contains(b)),
        }
    }

    pub fn sees_body(&self, body: &LiveBody) -> bool {
        self.sees(body.building())
    }
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
    /// A building's money changed (a bill issued, a payment taken …): the brief for its tile.
    Money {
        building: BuildingId,
        money: MoneyTile,
    },
    /// The same change in full, for the money screens (`/ws/money` only): they fold it with
    /// the other buildings' (`CommunityMoney::sum`) instead of asking the server again.
    MoneyDetail(BuildingMoneyView),
    /// An alarm as it now stands, after it was raised, seen again, acknowledged or resolved.
    Alarm { alarm: crate::alarm::AlarmRecord },
    /// A patrol route's day after a check-in, a miss or a change of plan.
    Patrol { patrol: PatrolTile },
    /// A planned round starts soon: its guards' phones remind them (`/ws/patrol` only).
    PatrolReminder { reminder: PatrolReminder },
    /// A work order as it now stands (`/ws/work`: the dispatcher's board, the staff phones' inbox).
    WorkOrder { order: crate::work_order::WorkOrderTile },
}

impl LiveBody {
    /// The building the change belongs to, if any.
    pub fn building(&self) -> Option<&BuildingId> {
        match self {
            LiveBody::Device { building, .. } => building.as_ref(),
            LiveBody::Building { building, .. } | LiveBody::Money { building, .. } => Some(building),
            LiveBody::MoneyDetail(view) => Some(&view.building),
            LiveBody::Alarm { alarm } => alarm.building.as_ref(),
            LiveBody::Patrol { .. } | LiveBody::PatrolReminder { .. } => None,
            LiveBody::WorkOrder { order } => order.building.as_ref(),
        }
    }
}

/// One building's money as the money screens hold it: its name, the community's date the
/// figures are as of, and the figures.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BuildingMoneyView {
    pub building: BuildingId,
    pub name: String,
    pub today: chrono::NaiveDate,
    pub money: crate::book::BuildingMoney,
}

/// Every visible building's money, first on `/ws/money` and again after a resync.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MoneySnapshot {
    pub community: CommunityId,
    pub buildings: Vec<BuildingMoneyView>,
}

/// What the money screens (the manager's, the desk's figures) hold: each building's latest money,
/// folded from `/ws/money`. Pure, so it is tested natively.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MoneyState {
    pub buildings: std::collections::BTreeMap<BuildingId, (u64, BuildingMoneyView)>,
    pub events_seen: u64,
}

impl MoneyState {
    /// Folds one message: a snapshot replaces everything; a detail replaces its building's
    /// figures unless an event with a later seq already did.
    pub fn fold(&mut self, message: ServerMessage) {
        match message {
            ServerMessage::MoneySnapshot(s) => {
                self.buildings = s.buildings.into_iter().map(|b| (b.building.clone(), (0, b))).collect();
            }
            ServerMessage::Event(LiveEvent { seq, body: LiveBody::MoneyDetail(view), .. }) => {
                self.events_seen += 1;
                let fresher = self.buildings.get(&view.building).is_none_or(|(at, _)| *at < seq);
                if fresher {
                    self.buildings.insert(view.building.clone(), (seq, view));
                }
            }
            ServerMessage::Events { events } => events.into_iter().for_each(|e| self.fold(ServerMessage::Event(e))),
            ServerMessage::Resync => self.buildings.clear(),
            ServerMessage::Snapshot(_) | ServerMessage::PatrolSnapshot(_) | ServerMessage::WorkSnapshot(_) | ServerMessage::Event(_) => {}
        }
    }

    /// The community's figures: the buildings summed as of the latest date any of them reports,
    /// each building shown by its name.
    pub fn summary(&self) -> crate::book::CommunityMoney {
        let today = self.buildings.values().map(|(_, b)| b.today).max().unwrap_or_default();
        let mut money = crate::book::CommunityMoney::sum(self.buildings.values().map(|(_, b)| &b.money), today);
        for (building, _) in &mut money.by_building {
            if let Some((_, b)) = self.buildings.get(building.as_str()) {
                *building = b.name.clone();
            }
        }
        money
    }
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
    /// The community's IANA zone: the wall's clock shows its time.
    #[serde(default)]
    pub time_zone: String,
    pub buildings: Vec<BuildingTile>,
    /// Newest first.
    pub alarms: Vec<Alarm>,
    /// Newest first.
    pub readings: Vec<ReadingTick>,
    /// Gate and barrier events, newest first.
    #[serde(default)]
    pub gates: Vec<GateTick>,
    /// Alarms nobody has resolved yet, most severe first, then newest.
    pub open_alarms: Vec<crate::alarm::AlarmRecord>,
    pub devices_total: u32,
    pub devices_offline: u32,
    /// Each patrol route's day so far.
    #[serde(default)]
    pub patrols: Vec<PatrolTile>,
    /// The work orders still open (the wall's work-order board), in sight.
    #[serde(default)]
    pub work_orders: Vec<crate::work_order::WorkOrderTile>,
}

/// A patrol route's day on the wall (R2): stops reached, missed and still to come today.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatrolTile {
    pub route: String,
    pub name: String,
    pub reached: u32,
    pub missed: u32,
    pub due: u32,
    /// When the next window closes.
    pub next_close: Option<DateTime<Utc>>,
}

/// A round about to start (T3): which, when, where it begins and who walks it (empty: any
/// guard of the community).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatrolReminder {
    pub route: String,
    pub name: String,
    pub start: DateTime<Utc>,
    /// The first checkpoint's name.
    pub first: String,
    pub guards: Vec<String>,
}

/// What the patrol phones start from (`/ws/patrol`): each route's day so far.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PatrolSnapshot {
    pub community: CommunityId,
    pub patrols: Vec<PatrolTile>,
}

/// What the work-order screens start from (`/ws/work`): the orders not yet archived, in sight.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct WorkSnapshot {
    pub community: CommunityId,
    pub orders: Vec<crate::work_order::WorkOrderTile>,
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
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlarmKind {
    MeterSpike,
    MeterBackwards,
    DeviceOffline,
    GateAlarm,
    /// Water through the whole night (M4).
    Leak,
    /// Monthly use out of range for months in a row (M4).
    UseOutOfRange,
    /// A patrol checkpoint not reached when its window closed (T5).
    PatrolMissed,
    /// A work order's deadline passed (W3): raised at that instant, for the escalation level.
    SlaBreach,
    /// A meter of an occupied home used nothing in a whole month (M4): a stuck meter, a bypass,
    /// or someone who needs a visit.
    ZeroUse,
    /// A payment provider's notification that paid nothing: another amount, no such order, an
    /// order paid twice (P9, P10).
    PaymentAnomaly,
}

impl AlarmKind {
    /// Every kind, for what concerns all of a device's alarms (it left service).
    pub const ALL: [AlarmKind; 10] = [
        AlarmKind::MeterSpike,
        AlarmKind::MeterBackwards,
        AlarmKind::DeviceOffline,
        AlarmKind::GateAlarm,
        AlarmKind::Leak,
        AlarmKind::UseOutOfRange,
        AlarmKind::PatrolMissed,
        AlarmKind::SlaBreach,
        AlarmKind::ZeroUse,
        AlarmKind::PaymentAnomaly,
    ];
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

/// One line of the wall's gate ticker: every gate and barrier event (R2, A1).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GateTick {
    pub stream: String,
    pub seq: u64,
    pub at: DateTime<Utc>,
    pub device: DeviceId,
    pub device_kind: DeviceKind,
    /// What happened, as the ticker prints it (`车辆入场 沪A12345`).
    pub text: String,
    /// A forced or held door: shown in red.
    pub alarm: bool,
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
            DeviceEvent::LeakSuspected { signal, night, readings } => (
                signal.at,
                AlarmKind::Leak,
                format!("{label} {device} 疑似漏水：{} 夜间 {readings} 次读数均有用水", night.format("%m月%d日")),
            ),
            DeviceEvent::UseOutOfRange { signal, months, used, range } => (
                signal.at,
                AlarmKind::UseOutOfRange,
                format!(
                    "{label} {device} 连续 {months} 个月用量超出范围：上月 {} {}（范围 {}–{}）",
                    used.normalize(),
                    device_kind.unit(),
                    range.min.normalize(),
                    range.max.normalize()
                ),
            ),
            DeviceEvent::GateEventRecorded { signal, action, .. } if action.is_alarm() => {
                (signal.at, AlarmKind::GateAlarm, format!("{label} {device} {}", action.label_zh()))
            }
            _ => return None,
        };
        Some(Alarm { stream: self.stream.clone(), seq: self.seq, at, kind, device: device.clone(), building: building.clone(), text })
    }

    /// The gate ticker line this event adds, if it is a gate or barrier event.
    pub fn gate(&self) -> Option<GateTick> {
        match &self.body {
            LiveBody::Device { device, device_kind, event: DeviceEvent::GateEventRecorded { signal, action, plate }, .. } => Some(GateTick {
                stream: self.stream.clone(),
                seq: self.seq,
                at: signal.at,
                device: device.clone(),
                device_kind: *device_kind,
                text: gate_text(*action, plate.as_deref()),
                alarm: action.is_alarm(),
            }),
            _ => None,
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::book::BuildingMoney;
    use crate::money::Money;

    fn view(building: &str, name: &str, received: i64) -> BuildingMoneyView {
        let money = BuildingMoney { building: building.into(), receivable: Money::from_fen(10_000), received: Money::from_fen(received), ..BuildingMoney::default() };
        BuildingMoneyView { building: BuildingId::new(building), name: name.into(), today: chrono::NaiveDate::from_ymd_opt(2026, 11, 30).unwrap(), money }
    }

    fn detail(seq: u64, v: BuildingMoneyView) -> ServerMessage {
        ServerMessage::Event(LiveEvent { community: "c".into(), stream: format!("derived/money/{}", v.building), seq, body: LiveBody::MoneyDetail(v) })
    }

    #[test]
    fn the_money_screens_sum_the_latest_figures_of_every_building_by_name() {
        let mut s = MoneyState::default();
        s.fold(ServerMessage::MoneySnapshot(MoneySnapshot { community: "c".into(), buildings: vec![view("b1", "1号楼", 2_000), view("b2", "2号楼", 0)] }));
        assert_eq!(s.summary().received, Money::from_fen(2_000));
        // A payment in building 2 arrives; an older event for it afterwards changes nothing.
        s.fold(detail(7, view("b2", "2号楼", 5_000)));
        s.fold(detail(6, view("b2", "2号楼", 1)));
        let sum = s.summary();
        assert_eq!((sum.receivable, sum.received), (Money::from_fen(20_000), Money::from_fen(7_000)));
        assert!(sum.by_building.iter().any(|(name, m)| name == "2号楼" && m.received == Money::from_fen(5_000)));
        // The wall's messages are not the money screens' business.
        s.fold(ServerMessage::Event(LiveEvent { community: "c".into(), stream: "x".into(), seq: 9, body: LiveBody::Money { building: "b1".into(), money: MoneyTile::default() } }));
        assert_eq!(s.summary().received, Money::from_fen(7_000));
        s.fold(ServerMessage::Resync);
        assert!(s.buildings.is_empty());
    }
}
