//! The control-room wall. `WallState` folds server messages (pure, tested natively); the view
//! renders it for a screen read from across a room: big type, three colours, no clicks.

use std::collections::VecDeque;

use hutong_core::building::TileLevel;
use hutong_core::device::DeviceEvent;
#[cfg(target_arch = "wasm32")]
use hutong_core::live::AlarmKind;
use hutong_core::live::{Alarm, BuildingTile, LiveBody, ReadingTick, ServerMessage};
#[cfg(target_arch = "wasm32")]
use leptos::prelude::*;

/// Lines kept in the alarm feed and the ticker.
pub const ALARMS_SHOWN: usize = 14;
pub const TICKS_SHOWN: usize = 12;

/// Everything the wall shows, folded from the stream.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WallState {
    pub community: String,
    pub name: String,
    pub tiles: Vec<BuildingTile>,
    pub alarms: VecDeque<Alarm>,
    pub readings: VecDeque<ReadingTick>,
    pub devices_total: u32,
    pub devices_offline: u32,
    pub events_seen: u64,
}

impl WallState {
    /// Folds one message; duplicates (already in a feed by `(stream, seq)`) are dropped.
    pub fn fold(&mut self, message: ServerMessage) {
        match message {
            ServerMessage::Snapshot(s) => {
                let events_seen = self.events_seen;
                *self = WallState {
                    community: s.community.to_string(),
                    name: s.name,
                    tiles: s.buildings,
                    alarms: s.alarms.into_iter().take(ALARMS_SHOWN).collect(),
                    readings: s.readings.into_iter().take(TICKS_SHOWN).collect(),
                    devices_total: s.devices_total,
                    devices_offline: s.devices_offline,
                    events_seen,
                };
            }
            // The money screens' messages; the wall has its tiles' brief.
            ServerMessage::MoneySnapshot(_) => {}
            ServerMessage::Resync => {
                self.alarms.clear();
                self.readings.clear();
            }
            ServerMessage::Event(event) => {
                self.events_seen += 1;
                if let LiveBody::Building { building, health } = &event.body {
                    if let Some(tile) = self.tiles.iter_mut().find(|t| &t.id == building && t.seq < event.seq) {
                        tile.health = *health;
                        tile.seq = event.seq;
                    }
                }
                if let LiveBody::Money { building, money } = &event.body {
                    if let Some(tile) = self.tiles.iter_mut().find(|t| &t.id == building) {
                        tile.money = *money;
                    }
                }
                if let LiveBody::Device { event: e, .. } = &event.body {
                    match e {
                        DeviceEvent::WentOffline { .. } => self.devices_offline += 1,
                        DeviceEvent::CameBackOnline { .. } => self.devices_offline = self.devices_offline.saturating_sub(1),
                        _ => {}
                    }
                }
                if let Some(alarm) = event.alarm() {
                    if !self.alarms.iter().any(|a| a.stream == alarm.stream && a.seq == alarm.seq) {
                        self.alarms.push_front(alarm);
                        self.alarms.truncate(ALARMS_SHOWN);
                    }
                }
                if let Some(tick) = event.reading() {
                    if !self.readings.iter().any(|r| r.stream == tick.stream && r.seq == tick.seq) {
                        self.readings.push_front(tick);
                        self.readings.truncate(TICKS_SHOWN);
                    }
                }
            }
        }
    }

    pub fn tiles_in(&self, level: TileLevel) -> usize {
        self.tiles.iter().filter(|t| t.health.level() == level).count()
    }
}

#[cfg(target_arch = "wasm32")]
fn level_class(level: TileLevel) -> &'static str {
    match level {
        TileLevel::Normal => "tile ok",
        TileLevel::Offline => "tile offline",
        TileLevel::Alarm => "tile alarm",
    }
}

/// A tile's arrears band: how much of what the building was billed is still owed.
pub fn arrears_class(permille: u32) -> &'static str {
    match permille {
        0..=50 => "arrears-low",
        51..=120 => "arrears-mid",
        _ => "arrears-high",
    }
}

#[cfg(target_arch = "wasm32")]
fn level_text(level: TileLevel) -> &'static str {
    match level {
        TileLevel::Normal => "正常",
        TileLevel::Offline => "设备离线",
        TileLevel::Alarm => "告警",
    }
}

#[cfg(target_arch = "wasm32")]
fn alarm_class(kind: AlarmKind) -> &'static str {
    match kind {
        AlarmKind::DeviceOffline => "alarm offline",
        _ => "alarm red",
    }
}

#[cfg(target_arch = "wasm32")]
fn alarm_label(kind: AlarmKind) -> &'static str {
    match kind {
        AlarmKind::MeterSpike => "用量突增",
        AlarmKind::MeterBackwards => "读数倒退",
        AlarmKind::DeviceOffline => "设备离线",
        AlarmKind::GateAlarm => "门禁告警",
    }
}

/// Beijing time for the wall, from UTC, without pulling a time-zone database into the WASM.
#[cfg(target_arch = "wasm32")]
fn local_hms(at: chrono::DateTime<chrono::Utc>) -> String {
    (at + chrono::TimeDelta::hours(8)).format("%H:%M:%S").to_string()
}

#[cfg(target_arch = "wasm32")]
#[component]
pub fn WallScreen(community: String) -> impl IntoView {
    let state = RwSignal::new(WallState::default());
    let connected = RwSignal::new(false);
    crate::socket::connect_feed(format!("/ws?community={community}"), move |batch| state.update(|s| batch.into_iter().for_each(|m| s.fold(m))), connected);

    let tiles = move || {
        state.with(|s| {
            s.tiles
                .iter()
                .map(|t| {
                    let level = t.health.level();
                    view! {
                        <div class=format!("{} {}", level_class(level), arrears_class(t.money.arrears_permille())) data-test="tile">
                            <div class="tile-name">{t.name.clone()}</div>
                            <div class="tile-state">{level_text(level)}</div>
                            <div class="tile-meta">{format!("{}户 · 设备{} · 离线{} · 告警{}", t.houses, t.health.devices, t.health.offline, t.health.anomalies)}</div>
                            <div class="tile-money" data-test="tile-arrears">{{
                                let share = t.money.arrears_permille();
                                format!("逾期 ¥{} · {}.{}% · 欠费{}户", t.money.overdue, share / 10, share % 10, t.money.houses_in_arrears)
                            }}</div>
                        </div>
                    }
                })
                .collect_view()
        })
    };
    let alarms = move || {
        state.with(|s| {
            if s.alarms.is_empty() {
                return view! { <li class="empty">"暂无告警"</li> }.into_any();
            }
            s.alarms
                .iter()
                .map(|a| {
                    view! {
                        <li class=alarm_class(a.kind)>
                            <span class="time">{local_hms(a.at)}</span>
                            <span class="kind">{alarm_label(a.kind)}</span>
                            <span class="text">{a.text.clone()}</span>
                        </li>
                    }
                })
                .collect_view()
                .into_any()
        })
    };
    let ticker = move || {
        state.with(|s| {
            s.readings
                .iter()
                .map(|r| {
                    let usage = r.usage.map(|u| format!("（+{}）", u.normalize())).unwrap_or_default();
                    view! {
                        <li>
                            <span class="time">{local_hms(r.at)}</span>
                            <span class="kind">{r.device_kind.label_zh()}</span>
                            <span class="device">{r.device.to_string()}</span>
                            <span class="value">{format!("{} {}", r.value.normalize(), r.device_kind.unit())}</span>
                            <span class="usage">{usage}</span>
                        </li>
                    }
                })
                .collect_view()
        })
    };

    view! {
        <div class="wall">
            <header>
                <h1>{move || state.with(|s| if s.name.is_empty() { "智慧社区运营大屏".to_string() } else { format!("{} · 智慧社区运营大屏", s.name) })}</h1>
                <div class="kpis">
                    <div class="kpi"><b data-test="devices-total">{move || state.with(|s| s.devices_total)}</b>"设备总数"</div>
                    <div class="kpi"><b class="amber">{move || state.with(|s| s.devices_offline)}</b>"离线设备"</div>
                    <div class="kpi"><b class="red">{move || state.with(|s| s.tiles_in(TileLevel::Alarm))}</b>"告警楼栋"</div>
                    <div class="kpi"><b data-test="events-seen">{move || state.with(|s| s.events_seen)}</b>"实时事件"</div>
                </div>
                <div class=move || if connected.get() { "link up" } else { "link down" } data-test="link">
                    {move || if connected.get() { "● 实时连接" } else { "○ 正在重连…" }}
                </div>
            </header>
            <main>
                <section class="tiles" data-test="tiles">{tiles}</section>
                <section class="feed">
                    <h2>"实时告警"</h2>
                    <ul data-test="alarms">{alarms}</ul>
                </section>
            </main>
            <footer>
                <h2>"实时读数"</h2>
                <ul class="ticker" data-test="ticker">{ticker}</ul>
            </footer>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hutong_core::building::BuildingHealth;
    use hutong_core::device::{DeviceKind, Signal};
    use hutong_core::live::{LiveEvent, WallSnapshot};
    use hutong_core::{BuildingId, CommunityId, DeviceId};

    fn snapshot() -> ServerMessage {
        ServerMessage::Snapshot(WallSnapshot {
            community: CommunityId::new("c"),
            name: "荷花苑".into(),
            buildings: vec![BuildingTile { id: BuildingId::new("b1"), no: 1, name: "1号楼".into(), houses: 4, health: BuildingHealth::default(), money: Default::default(), seq: 5 }],
            alarms: vec![],
            readings: vec![],
            devices_total: 2,
            devices_offline: 0,
        })
    }

    fn spike(seq: u64) -> ServerMessage {
        let at = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        ServerMessage::Event(LiveEvent {
            community: CommunityId::new("c"),
            stream: "device/c/wm".into(),
            seq,
            body: LiveBody::Device {
                device: DeviceId::new("wm"),
                device_kind: DeviceKind::WaterMeter,
                building: Some(BuildingId::new("b1")),
                house: None,
                event: DeviceEvent::UsageSpiked { signal: Signal { seq: 1, boot: 0, at, seen: at }, usage: 5.into(), typical: 1.into() },
            },
        })
    }

    #[test]
    fn a_redelivered_alarm_shows_once_and_old_tile_updates_are_ignored() {
        let mut s = WallState::default();
        s.fold(snapshot());
        s.fold(spike(9));
        s.fold(spike(9));
        assert_eq!(s.alarms.len(), 1);
        let stale = |seq, anomalies| {
            ServerMessage::Event(LiveEvent {
                community: CommunityId::new("c"),
                stream: "derived/health/b1".into(),
                seq,
                body: LiveBody::Building { building: BuildingId::new("b1"), health: BuildingHealth { devices: 2, offline: 0, anomalies } },
            })
        };
        s.fold(stale(4, 1));
        assert_eq!(s.tiles_in(TileLevel::Alarm), 0, "older than the snapshot");
        s.fold(stale(6, 1));
        assert_eq!(s.tiles_in(TileLevel::Alarm), 1);
    }

    #[test]
    fn a_money_change_recolours_its_tile_by_arrears() {
        let mut s = WallState::default();
        s.fold(snapshot());
        assert_eq!(arrears_class(s.tiles[0].money.arrears_permille()), "arrears-low");
        let money = hutong_core::live::MoneyTile {
            receivable: hutong_core::Money::from_fen(100_000),
            received: hutong_core::Money::from_fen(70_000),
            arrears: hutong_core::Money::from_fen(30_000),
            overdue: hutong_core::Money::from_fen(30_000),
            houses_in_arrears: 3,
        };
        s.fold(ServerMessage::Event(LiveEvent { community: CommunityId::new("c"), stream: "derived/money/b1".into(), seq: 1, body: LiveBody::Money { building: BuildingId::new("b1"), money } }));
        assert_eq!(s.tiles[0].money.arrears_permille(), 300);
        assert_eq!(arrears_class(s.tiles[0].money.arrears_permille()), "arrears-high");
    }
}
