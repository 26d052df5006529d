//! The control-room wall. `WallState` folds server messages (pure, tested natively); the view
//! renders it for a screen read from across a room: big type, three colours, no clicks.

use std::collections::VecDeque;

use hutong_core::building::TileLevel;
use hutong_core::device::DeviceEvent;
#[cfg(any(target_arch = "wasm32", test))]
use hutong_core::live::AlarmKind;
use hutong_core::alarm::{AlarmRecord, wall_order};
#[cfg(target_arch = "wasm32")]
use hutong_core::alarm::Severity;
use hutong_core::live::{Alarm, BuildingTile, GateTick, LiveBody, PatrolTile, ReadingTick, ServerMessage};
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
    pub time_zone: String,
    pub tiles: Vec<BuildingTile>,
    pub alarms: VecDeque<Alarm>,
    /// The alarm desk's open alarms, in wall order.
    pub open_alarms: Vec<AlarmRecord>,
    pub readings: VecDeque<ReadingTick>,
    pub gates: VecDeque<GateTick>,
    /// Each patrol route's day (R2).
    pub patrols: Vec<PatrolTile>,
    /// The work orders still open, by id (the wall's work-order board).
    pub work_orders: std::collections::BTreeMap<String, hutong_core::work_order::WorkOrderTile>,
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
                    time_zone: s.time_zone,
                    tiles: s.buildings,
                    alarms: s.alarms.into_iter().take(ALARMS_SHOWN).collect(),
                    open_alarms: s.open_alarms,
                    readings: s.readings.into_iter().take(TICKS_SHOWN).collect(),
                    gates: s.gates.into_iter().take(TICKS_SHOWN).collect(),
                    patrols: s.patrols,
                    work_orders: s.work_orders.into_iter().map(|o| (o.id.to_string(), o)).collect(),
                    devices_total: s.devices_total,
                    devices_offline: s.devices_offline,
                    events_seen,
                };
            }
            // The money screens' messages; the wall has its tiles' brief.
            ServerMessage::MoneySnapshot(_) | ServerMessage::PatrolSnapshot(_) | ServerMessage::WorkSnapshot(_) => {}
            ServerMessage::Resync => {
                self.alarms.clear();
                self.readings.clear();
                self.gates.clear();
            }
            ServerMessage::Events { events } => events.into_iter().for_each(|e| self.fold(ServerMessage::Event(e))),
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
                if let LiveBody::Patrol { patrol } = &event.body {
                    match self.patrols.iter_mut().find(|p| p.route == patrol.route) {
                        Some(shown) => *shown = patrol.clone(),
                        None => self.patrols.push(patrol.clone()),
                    }
                }
                if let LiveBody::WorkOrder { order } = &event.body {
                    if order.status.is_open() {
                        self.work_orders.insert(order.id.to_string(), order.clone());
                    } else {
                        self.work_orders.remove(order.id.as_str());
                    }
                }
                if let LiveBody::Alarm { alarm } = &event.body {
                    self.open_alarms.retain(|a| a.no != alarm.no);
                    if alarm.is_open() {
                        self.open_alarms.push(alarm.clone());
                        self.open_alarms.sort_by(wall_order);
                    }
                }
                if let Some(alarm) = event.alarm() {
                    if !self.alarms.iter().any(|a| a.stream == alarm.stream && a.seq == alarm.seq) {
                        self.alarms.push_front(alarm);
                        self.alarms.truncate(ALARMS_SHOWN);
                    }
                }
                if let Some(tick) = event.gate() {
                    if !self.gates.iter().any(|g| g.stream == tick.stream && g.seq == tick.seq) {
                        self.gates.push_front(tick);
                        self.gates.truncate(TICKS_SHOWN);
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

    /// The board's orders: overdue first, then the most urgent, then the oldest.
    pub fn board(&self) -> Vec<&hutong_core::work_order::WorkOrderTile> {
        let mut all: Vec<_> = self.work_orders.values().collect();
        all.sort_by(|a, b| b.overdue.cmp(&a.overdue).then(b.urgency.cmp(&a.urgency)).then(a.registered_at.cmp(&b.registered_at)));
        all
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
fn alarm_class(kind: AlarmKind, severity: Severity) -> &'static str {
    match (kind, severity) {
        (_, Severity::Critical) => "alarm red critical",
        (AlarmKind::DeviceOffline, _) => "alarm offline",
        _ => "alarm red",
    }
}

/// Now in a zone, from the browser's own time-zone data (no zone database in the WASM).
#[cfg(target_arch = "wasm32")]
fn local_clock(time_zone: &str) -> String {
    let options = js_sys::Object::new();
    let _ = js_sys::Reflect::set(&options, &"timeZone".into(), &time_zone.into());
    let _ = js_sys::Reflect::set(&options, &"hour12".into(), &false.into());
    js_sys::Date::new_0().to_locale_string("zh-CN", &options).into()
}

/// The browser's clock (`std`'s is not there in WASM).
#[cfg(target_arch = "wasm32")]
pub(crate) fn browser_now() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_millis(js_sys::Date::now() as i64).unwrap_or_default()
}

/// How long an alarm has been open, as the room reads it: 45秒, 12分, 3时05分, 2天3时.
pub fn age(open_for: chrono::TimeDelta) -> String {
    let s = open_for.num_seconds().max(0);
    match s {
        0..60 => format!("{s}秒"),
        60..3600 => format!("{}分", s / 60),
        3600..86400 => format!("{}时{:02}分", s / 3600, s % 3600 / 60),
        _ => format!("{}天{}时", s / 86400, s % 86400 / 3600),
    }
}

#[cfg(target_arch = "wasm32")]
fn alarm_label(kind: AlarmKind) -> &'static str {
    match kind {
        AlarmKind::MeterSpike => "用量突增",
        AlarmKind::MeterBackwards => "读数倒退",
        AlarmKind::DeviceOffline => "设备离线",
        AlarmKind::GateAlarm => "门禁告警",
        AlarmKind::Leak => "疑似漏水",
        AlarmKind::UseOutOfRange => "用量异常",
        AlarmKind::PatrolMissed => "巡更漏巡",
        AlarmKind::SlaBreach => "工单超时",
        AlarmKind::ZeroUse => "入住零用量",
        AlarmKind::PaymentAnomaly => "支付异常",
    }
}

/// Beijing time for the wall, from UTC, without pulling a time-zone database into the WASM.
#[cfg(target_arch = "wasm32")]
fn local_hms(at: chrono::DateTime<chrono::Utc>) -> String {
    (at + chrono::TimeDelta::hours(8)).format("%H:%M:%S").to_string()
}

#[cfg(target_arch = "wasm32")]
#[component]
pub fn WallScreen(
    community: String,
    may_operate: bool,
    /// A paired display: a lost session means it must be paired again, and it says so.
    #[prop(optional)]
    display: bool,
) -> impl IntoView {
    let state = RwSignal::new(WallState::default());
    // The alarm whose note is being written, the note, and the desk's last refusal.
    let resolving = RwSignal::new(None::<u64>);
    let note = RwSignal::new(String::new());
    let refusal = RwSignal::new(String::new());
    let act = {
        let community = community.clone();
        move |no: u64, action: &'static str, body: Option<String>| {
            let path = format!("/api/v1/communities/{community}/alarms/{no}/{action}");
            leptos::task::spawn_local(async move {
                match crate::http::request("POST", &path, body).await {
                    Some((200, _)) => {
                        refusal.set(String::new());
                        if action == "resolve" {
                            resolving.set(None);
                            note.set(String::new());
                        }
                    }
                    Some((_, body)) => refusal.set(crate::http::error_message(&body)),
                    None => refusal.set(crate::http::error_message("")),
                }
            });
        }
    };
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
    // The ages of open alarms and the clock move on by themselves.
    let now = RwSignal::new(browser_now());
    set_interval(move || now.set(browser_now()), std::time::Duration::from_secs(1));
    let clock = move || {
        now.track();
        state.with(|s| local_clock(if s.time_zone.is_empty() { "Asia/Shanghai" } else { &s.time_zone }))
    };
    // A socket that closes may mean the session ended (a display unpaired, an account closed):
    // ask once per loss; 401 is final, anything else is a network to wait for.
    let session_gone = RwSignal::new(false);
    let was_up = StoredValue::new(false);
    Effect::new(move |_| {
        let up = connected.get();
        if up {
            was_up.set_value(true);
        } else if was_up.get_value() {
            was_up.set_value(false);
            leptos::task::spawn_local(async move {
                if let Some((401, _)) = crate::http::request("GET", "/api/v1/me", None).await {
                    session_gone.set(true);
                }
            });
        }
    });
    let alarms = move || {
        let now = now.get();
        state.with(|s| {
            if s.open_alarms.is_empty() {
                return view! { <li class="empty">"暂无未处理告警"</li> }.into_any();
            }
            s.open_alarms
                .iter()
                .take(ALARMS_SHOWN)
                .map(|a| {
                    let on_it = match &a.acknowledged {
                        Some((who, _)) => format!("{} 处理中", who.name),
                        None => "待接手".to_string(),
                    };
                    let count = (a.count > 1).then(|| format!("×{}", a.count)).unwrap_or_default();
                    let no = a.no;
                    let taken = a.acknowledged.is_some();
                    let ordered = a.acknowledged.as_ref().is_some_and(|(who, _)| who.account == "system");
                    let act = act.clone();
                    let controls = may_operate.then(move || {
                        let (take, order, confirm) = (act.clone(), act.clone(), act.clone());
                        view! {
                            <span class="controls">
                                {(!taken).then(|| view! { <button data-test="alarm-take" on:click=move |_| take(no, "acknowledge", None)>"接手"</button> })}
                                {(!ordered).then(|| view! { <button data-test="alarm-order" on:click=move |_| order(no, "work-order", None)>"转工单"</button> })}
                                <button data-test="alarm-resolve" on:click=move |_| resolving.set(Some(no))>"处理"</button>
                                {move || (resolving.get() == Some(no)).then(|| {
                                    let confirm = confirm.clone();
                                    view! {
                                        <input data-test="alarm-note" placeholder="处理说明" prop:value=note on:input=move |ev| note.set(event_target_value(&ev)) />
                                        <button data-test="alarm-confirm" on:click=move |_| confirm(no, "resolve", Some(serde_json::json!({"note": note.get_untracked()}).to_string()))>"确认"</button>
                                    }
                                })}
                            </span>
                        }
                    });
                    view! {
                        <li class=alarm_class(a.kind, a.severity) data-test="open-alarm">
                            <span class="time">{local_hms(a.raised_at)}</span>
                            <span class="kind">{alarm_label(a.kind)}</span>
                            <span class="text">{a.text.clone()}</span>
                            <span class="count">{count}</span>
                            <span class="age">{age(now - a.raised_at)}</span>
                            <span class=if a.acknowledged.is_some() { "who taken" } else { "who waiting" }>{on_it}</span>
                            {controls}
                        </li>
                    }
                })
                .collect_view()
                .into_any()
        })
    };
    let gate_ticker = move || {
        state.with(|s| {
            s.gates
                .iter()
                .map(|g| {
                    view! {
                        <li class=if g.alarm { "gate-alarm" } else { "" }>
                            <span class="time">{local_hms(g.at)}</span>
                            <span class="kind">{g.device_kind.label_zh()}</span>
                            <span class="device">{g.device.to_string()}</span>
                            <span class="value">{g.text.clone()}</span>
                        </li>
                    }
                })
                .collect_view()
        })
    };
    let patrols = move || {
        state.with(|s| {
            s.patrols
                .iter()
                .map(|p| {
                    let class = if p.missed > 0 { "gate-alarm" } else { "" };
                    view! {
                        <li class=class data-test="patrol-route">
                            <span class="device">{p.name.clone()}</span>
                            <span class="value">{format!("已巡 {} · 漏巡 {} · 待巡 {}", p.reached, p.missed, p.due)}</span>
                        </li>
                    }
                })
                .collect_view()
        })
    };
    let orders = move || {
        state.with(|s| {
            s.board()
                .into_iter()
                .take(TICKS_SHOWN)
                .map(|o| {
                    let who = o.contractor.clone().or_else(|| o.assignee.as_ref().map(|a| a.name.clone())).unwrap_or_else(|| "未派".into());
                    view! {
                        <li class=if o.overdue { "gate-alarm" } else { "" } data-test="wall-order">
                            <span class="time">{local_hms(o.registered_at)}</span>
                            <span class="kind">{o.category.clone()}</span>
                            <span class="device">{o.place.clone()}</span>
                            <span class="value">{format!("{} · {}{}", o.status.label_zh(), who, if o.overdue { " · 超时" } else { "" })}</span>
                        </li>
                    }
                })
                .collect_view()
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

    let gone = move || {
        session_gone.get().then(|| {
            let (title, hint) = if display {
                ("此显示屏已停用或配对已失效", "请在管理后台为它生成新的配对码，然后在本屏重新配对。")
            } else {
                ("登录已失效", "请重新登录。")
            };
            view! {
                <div class="overlay" data-test="session-gone">
                    <h2>{title}</h2>
                    <p>{hint}</p>
                    <button on:click=move |_| { let _ = web_sys::window().map(|w| w.location().reload()); }>{if display { "重新配对" } else { "重新登录" }}</button>
                </div>
            }
        })
    };
    view! {
        <div class="wall">
            {gone}
            <header>
                <h1>{move || state.with(|s| if s.name.is_empty() { "智慧社区运营大屏".to_string() } else { format!("{} · 智慧社区运营大屏", s.name) })}</h1>
                <div class="kpis">
                    <div class="kpi"><b data-test="devices-total">{move || state.with(|s| s.devices_total)}</b>"设备总数"</div>
                    <div class="kpi"><b class="amber">{move || state.with(|s| s.devices_offline)}</b>"离线设备"</div>
                    <div class="kpi"><b class="red">{move || state.with(|s| s.tiles_in(TileLevel::Alarm))}</b>"告警楼栋"</div>
                    <div class="kpi"><b data-test="events-seen">{move || state.with(|s| s.events_seen)}</b>"实时事件"</div>
                </div>
                <div class="clock" data-test="clock">{clock}</div>
                <div class=move || if connected.get() { "link up" } else { "link down" } data-test="link">
                    {move || if connected.get() { "● 实时连接" } else { "○ 正在重连…" }}
                </div>
            </header>
            <main>
                <section class="tiles" data-test="tiles">{tiles}</section>
                <section class="feed">
                    <h2>"未处理告警"</h2>
                    <ul data-test="alarms">{alarms}</ul>
                    <p class="error" data-test="alarm-error">{move || refusal.get()}</p>
                </section>
            </main>
            <footer>
                <div>
                    <h2>"实时读数"</h2>
                    <ul class="ticker" data-test="ticker">{ticker}</ul>
                </div>
                <div>
                    <h2>"门禁道闸"</h2>
                    <ul class="ticker" data-test="gates">{gate_ticker}</ul>
                </div>
                <div>
                    <h2>"今日巡更"</h2>
                    <ul class="ticker" data-test="patrols">{patrols}</ul>
                </div>
                <div>
                    <h2>{move || state.with(|s| format!("工单 · 未完成 {} · 超时 {}", s.work_orders.len(), s.work_orders.values().filter(|o| o.overdue).count()))}</h2>
                    <ul class="ticker" data-test="wall-orders">{orders}</ul>
                </div>
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
            time_zone: "Asia/Shanghai".into(),
            buildings: vec![BuildingTile { id: BuildingId::new("b1"), no: 1, name: "1号楼".into(), houses: 4, health: BuildingHealth::default(), money: Default::default(), seq: 5 }],
            alarms: vec![],
            readings: vec![],
            gates: vec![],
            patrols: vec![],
            work_orders: vec![],
            open_alarms: vec![],
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
    fn the_work_order_board_holds_open_orders_overdue_first() {
        use hutong_core::work_order::{Status, WorkOrderTile};
        let mut wall = WallState::default();
        wall.fold(snapshot());
        let at = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let order = |id: &str, status: Status, overdue: bool| {
            let tile: WorkOrderTile = serde_json::from_value(serde_json::json!({
                "id": id, "kind": "repair", "category": "水电", "description": "漏水", "place": "1号楼", "building": null, "house": null, "place_key": null,
                "vip": false, "from_alarm": null, "urgency": "normal", "status": status, "assignee": null, "contractor": null, "ack_by": null,
                "registered_at": at, "respond_by": at, "complete_by": at, "completed_at": null, "overdue": overdue, "escalation": 0,
                "dispatches": 0, "satisfaction": null, "visited": false, "charge": null, "bill": null
            })).unwrap();
            ServerMessage::Event(LiveEvent { community: CommunityId::new("c"), stream: format!("derived/workorder/{id}"), seq: 1, body: LiveBody::WorkOrder { order: tile } })
        };
        wall.fold(order("wo-1", Status::Registered, false));
        wall.fold(order("wo-2", Status::Accepted, true));
        assert_eq!(wall.board().iter().map(|o| o.id.as_str()).collect::<Vec<_>>(), vec!["wo-2", "wo-1"], "overdue first");
        wall.fold(order("wo-2", Status::Completed, false));
        assert_eq!(wall.board().len(), 1, "a completed order leaves the board");
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
    fn open_alarms_follow_their_life_and_show_their_age() {
        use hutong_core::alarm::{Handler, Resolution, Severity};
        let at = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let record = |no: u64, kind: AlarmKind| AlarmRecord {
            no,
            kind,
            severity: kind.severity(),
            device: DeviceId::new("wm"),
            building: None,
            text: "x".into(),
            raised_at: at,
            last_at: at,
            count: 1,
            acknowledged: None,
            resolved: None,
            source: ("device/c/wm".into(), no),
        };
        let event = |seq: u64, alarm: AlarmRecord| ServerMessage::Event(LiveEvent { community: CommunityId::new("c"), stream: "alarms/c".into(), seq, body: LiveBody::Alarm { alarm } });
        let mut s = WallState::default();
        s.fold(snapshot());
        s.fold(event(1, record(1, AlarmKind::MeterSpike)));
        s.fold(event(2, record(2, AlarmKind::GateAlarm)));
        assert_eq!(s.open_alarms.iter().map(|a| a.no).collect::<Vec<_>>(), vec![2, 1], "the critical one first");
        assert_eq!(s.open_alarms[0].severity, Severity::Critical);
        let mut taken = record(1, AlarmKind::MeterSpike);
        taken.count = 7;
        taken.acknowledged = Some((Handler { account: "wang".into(), name: "王师傅".into() }, at));
        s.fold(event(3, taken));
        assert_eq!((s.open_alarms.len(), s.open_alarms[1].count), (2, 7));
        let mut done = record(2, AlarmKind::GateAlarm);
        done.resolved = Some(Resolution { by: None, at, note: "ok".into() });
        s.fold(event(4, done));
        assert_eq!(s.open_alarms.iter().map(|a| a.no).collect::<Vec<_>>(), vec![1]);
        assert_eq!(age(chrono::TimeDelta::seconds(45)), "45秒");
        assert_eq!(age(chrono::TimeDelta::seconds(3 * 3600 + 5 * 60)), "3时05分");
        assert_eq!(age(chrono::TimeDelta::seconds(2 * 86400 + 3 * 3600)), "2天3时");
    }

    #[test]
    fn every_gate_event_is_on_the_gate_ticker_once_and_a_forced_door_is_marked() {
        use hutong_core::device::GateAction;
        let at = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let gate = |seq: u64, action: GateAction, plate: Option<&str>| {
            ServerMessage::Event(LiveEvent {
                community: CommunityId::new("c"),
                stream: "device/c/gate-1".into(),
                seq,
                body: LiveBody::Device {
                    device: DeviceId::new("gate-1"),
                    device_kind: DeviceKind::Barrier,
                    building: None,
                    house: None,
                    event: DeviceEvent::GateEventRecorded { signal: Signal { seq, boot: 0, at, seen: at }, action, plate: plate.map(str::to_string) },
                },
            })
        };
        let mut s = WallState::default();
        s.fold(snapshot());
        s.fold(gate(1, GateAction::VehicleIn, Some("沪A12345")));
        s.fold(gate(1, GateAction::VehicleIn, Some("沪A12345")));
        s.fold(gate(2, GateAction::ForcedOpen, None));
        assert_eq!(s.gates.len(), 2);
        assert!(s.gates[1].text.contains("沪A12345") && !s.gates[1].alarm);
        assert!(s.gates[0].alarm, "a forced door is marked");
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
