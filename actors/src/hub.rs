//! The live hub: the read model screens' snapshots and the API are served from, and the outbox
//! their live changes leave by. Actors write to it right after their journal append is applied.
//!
//! Publishing is cheap and never waits on a screen: an actor updates its community's view under
//! that view's lock, then appends the event (encoded once, here, on the actor's thread) to the
//! outbox under a lock held for a `Vec::extend`. No socket is woken by an actor. The web layer's
//! fan-out takes the outbox once per screen tick (at once for anything but a reading) and sends
//! each group of screens one frame.
//!
//! A screen subscribes to its frames first and takes its snapshot after, so it misses nothing:
//! an event is in the snapshot, or in a frame after it (or both; clients drop what they already
//! have by `(stream, seq)`). Each view counts its changes (`version`), so a snapshot built at one
//! version serves every screen that connects before the next change.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use hutong_core::alarm::AlarmRecord;
use hutong_core::building::BuildingHealth;
use hutong_core::community::Community;
use hutong_core::device::{DeviceEvent, DeviceHealth};
use hutong_core::book::BuildingMoney;
use hutong_core::live::{Alarm, BuildingMoneyView, BuildingTile, MoneySnapshot, MoneyTile, DeviceView, FEED_LENGTH, GateTick, LiveBody, LiveEvent, PatrolReminder, PatrolSnapshot, PatrolTile, ReadingTick, Sight, WallSnapshot, WorkSnapshot};
use hutong_core::work_order::WorkOrderTile;
use chrono::NaiveDate;
use hutong_core::{BuildingId, CommunityId, DeviceId};
use tokio::sync::Notify;

use crate::journaled::StreamId;

/// A live event with its JSON encoded once, on the publisher's thread, however many screens get it.
pub struct Envelope {
    pub event: LiveEvent,
    /// The event as JSON (a `LiveEvent`), spliced as is into every frame that carries it.
    pub json: String,
    /// When it was published: the fan-out measures publish → socket write from here.
    pub published: Instant,
}

impl Envelope {
    pub fn new(event: LiveEvent) -> Self {
        let json = serde_json::to_string(&event).unwrap_or_else(|_| "{}".into());
        Self { event, json, published: Instant::now() }
    }

    /// Readings are the high-rate stream and wait for the next screen tick; alarms, money,
    /// gates and health go out at once.
    pub fn urgent(&self) -> bool {
        !matches!(&self.event.body, LiveBody::Device { event: DeviceEvent::ReadingAccepted { .. }, .. })
    }
}

/// Events published and not yet taken by the fan-out.
#[derive(Default)]
struct Outbox {
    queue: Mutex<Vec<Arc<Envelope>>>,
    urgent: AtomicBool,
    /// More piled up than `OUTBOX_MAX` (nobody took them): the oldest were dropped, so every
    /// screen must start again from a snapshot.
    overflowed: AtomicBool,
    ready: Notify,
}

/// Events the outbox holds when nobody takes them (a fan-out stalled or not running).
pub const OUTBOX_MAX: usize = 20_000;

/// What the fan-out takes from the outbox.
pub struct Published {
    pub events: Vec<Arc<Envelope>>,
    /// Events were dropped before this batch: screens must resync.
    pub overflowed: bool,
}

struct CommunityView {
    community: Arc<Community>,
    buildings: BTreeMap<BuildingId, (BuildingHealth, u64)>,
    devices: HashMap<DeviceId, DeviceView>,
    alarms: VecDeque<Alarm>,
    readings: VecDeque<ReadingTick>,
    gates: VecDeque<GateTick>,
    money: BTreeMap<BuildingId, Arc<BuildingMoneyView>>,
    /// The alarm desk's open alarms, by number, and the latest resolved (newest first).
    open_alarms: BTreeMap<u64, AlarmRecord>,
    resolved_alarms: VecDeque<AlarmRecord>,
    /// Devices and how many of them are offline, by building, kept as they change so a
    /// snapshot does not walk every device.
    device_counts: HashMap<Option<BuildingId>, (u32, u32)>,
    /// Each patrol route's day, by route.
    patrols: BTreeMap<String, PatrolTile>,
    /// Each work order not yet archived, by id.
    work: BTreeMap<hutong_core::WorkOrderId, WorkOrderTile>,
    /// Changes so far: a snapshot taken at one version is right until the next.
    version: u64,
}

impl CommunityView {
    fn count(&mut self, view: &DeviceView, sign: i32) {
        let entry = self.device_counts.entry(view.building.clone()).or_default();
        let offline = u32::from(view.health == DeviceHealth::Offline);
        if sign > 0 {
            entry.0 += 1;
            entry.1 += offline;
        } else {
            entry.0 = entry.0.saturating_sub(1);
            entry.1 = entry.1.saturating_sub(offline);
        }
    }

    fn put_device(&mut self, view: DeviceView) {
        self.count(&view, 1);
        if let Some(old) = self.devices.insert(view.id.clone(), view) {
            self.count(&old, -1);
        }
    }

    fn remove_device(&mut self, device: &DeviceId) {
        if let Some(old) = self.devices.remove(device) {
            self.count(&old, -1);
        }
    }

    /// The building of a device, for sights that see only some buildings.
    fn device_building(&self, device: &DeviceId) -> Option<&BuildingId> {
        self.devices.get(device).and_then(|d| d.building.as_ref())
    }
}

pub struct LiveHub {
    views: RwLock<HashMap<CommunityId, Arc<Mutex<CommunityView>>>>,
    outbox: Outbox,
    derived_seq: AtomicU64,
}

fn sorted_open(open: &BTreeMap<u64, AlarmRecord>) -> Vec<AlarmRecord> {
    let mut all: Vec<AlarmRecord> = open.values().cloned().collect();
    all.sort_by(hutong_core::alarm::wall_order);
    all
}

fn push_front_capped<T>(feed: &mut VecDeque<T>, item: T) {
    feed.push_front(item);
    feed.truncate(FEED_LENGTH);
}

impl LiveHub {
    pub fn new() -> Arc<Self> {
        // Derived streams (building health) are not journaled; their seqs start from the wall clock
        // in microseconds so they keep increasing across restarts.
        let start = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_micros() as u64);
        Arc::new(Self { views: RwLock::new(HashMap::new()), outbox: Outbox::default(), derived_seq: AtomicU64::new(start) })
    }

    /// Appends published events to the outbox: a short lock, no wake-ups but the fan-out's.
    fn post(&self, events: Vec<LiveEvent>) {
        if events.is_empty() {
            return;
        }
        let envelopes: Vec<Arc<Envelope>> = events.into_iter().map(|e| Arc::new(Envelope::new(e))).collect();
        let urgent = envelopes.iter().any(|e| e.urgent());
        let was_empty = {
            let mut queue = self.outbox.queue.lock().unwrap_or_else(|e| e.into_inner());
            let was_empty = queue.is_empty();
            queue.extend(envelopes);
            if queue.len() > OUTBOX_MAX {
                let excess = queue.len() - OUTBOX_MAX;
                queue.drain(..excess);
                self.outbox.overflowed.store(true, Ordering::Release);
            }
            was_empty
        };
        if urgent {
            self.outbox.urgent.store(true, Ordering::Release);
        }
        if was_empty || urgent {
            self.outbox.ready.notify_one();
        }
    }

    /// Waits until something was published since the last `take_published`.
    pub async fn published(&self) {
        self.outbox.ready.notified().await;
    }

    /// Whether something waiting in the outbox should go out without waiting for a tick.
    pub fn urgent_waiting(&self) -> bool {
        self.outbox.urgent.load(Ordering::Acquire)
    }

    /// Everything published since the last call, in the order it was published.
    pub fn take_published(&self) -> Published {
        self.outbox.urgent.store(false, Ordering::Release);
        let events = std::mem::take(&mut *self.outbox.queue.lock().unwrap_or_else(|e| e.into_inner()));
        Published { events, overflowed: self.outbox.overflowed.swap(false, Ordering::AcqRel) }
    }

    /// A community's change count (see `CommunityView::version`).
    pub fn version(&self, community: &str) -> Option<u64> {
        self.with_view(community, |v| v.version)
    }

    pub fn next_derived_seq(&self) -> u64 {
        self.derived_seq.fetch_add(1, Ordering::Relaxed) + 1
    }

    pub fn register_community(&self, community: Arc<Community>) {
        let buildings = community.buildings.iter().map(|b| (b.id.clone(), (BuildingHealth::default(), 0))).collect();
        let view = CommunityView {
            community: community.clone(),
            buildings,
            devices: HashMap::new(),
            alarms: VecDeque::new(),
            readings: VecDeque::new(),
            gates: VecDeque::new(),
            money: BTreeMap::new(),
            open_alarms: BTreeMap::new(),
            resolved_alarms: VecDeque::new(),
            device_counts: HashMap::new(),
            patrols: BTreeMap::new(),
            work: BTreeMap::new(),
            version: 0,
        };
        self.views.write().unwrap_or_else(|e| e.into_inner()).insert(community.id.clone(), Arc::new(Mutex::new(view)));
    }

    /// The community's tree grew: screens and lookups see the new buildings and houses.
    pub fn grow(&self, community: Arc<Community>) {
        self.change(community.id.clone().as_str(), |v| {
            for b in &community.buildings {
                v.buildings.entry(b.id.clone()).or_insert_with(|| (BuildingHealth::default(), 0));
            }
            v.community = community;
            Vec::new()
        });
    }

    pub fn communities(&self) -> Vec<Arc<Community>> {
        let views = self.views.read().unwrap_or_else(|e| e.into_inner());
        let mut all: Vec<_> = views.values().map(|v| v.lock().unwrap_or_else(|e| e.into_inner()).community.clone()).collect();
        all.sort_by(|a, b| a.id.cmp(&b.id));
        all
    }

    pub fn community(&self, id: &str) -> Option<Arc<Community>> {
        self.view(id).map(|v| v.lock().unwrap_or_else(|e| e.into_inner()).community.clone())
    }

    fn view(&self, community: &str) -> Option<Arc<Mutex<CommunityView>>> {
        self.views.read().unwrap_or_else(|e| e.into_inner()).get(community).cloned()
    }

    fn with_view<T>(&self, community: &str, f: impl FnOnce(&mut CommunityView) -> T) -> Option<T> {
        let view = self.view(community)?;
        let mut guard = view.lock().unwrap_or_else(|e| e.into_inner());
        Some(f(&mut guard))
    }

    /// Changes a community's view (counting the change), then publishes what `f` returns —
    /// after the view's lock is let go.
    fn change(&self, community: &str, f: impl FnOnce(&mut CommunityView) -> Vec<LiveEvent>) {
        let events = self.with_view(community, |v| {
            v.version += 1;
            f(v)
        });
        self.post(events.unwrap_or_default());
    }

    /// Records a device's current state without an event (after recovery).
    pub fn put_device(&self, community: &CommunityId, view: DeviceView) {
        self.change(community.as_str(), |v| {
            v.put_device(view);
            Vec::new()
        });
    }

    /// A retired device leaves the screens' read model.
    pub fn remove_device(&self, community: &CommunityId, device: &DeviceId) {
        self.change(community.as_str(), |v| {
            v.remove_device(device);
            Vec::new()
        });
    }

    /// Publishes a device's journaled events, with its state after them.
    pub fn publish_device(&self, events: Vec<LiveEvent>, state: DeviceView) {
        let Some(community) = events.first().map(|e| e.community.clone()) else { return };
        self.change(community.as_str(), |v| {
            v.put_device(state);
            for event in &events {
                if let Some(alarm) = event.alarm() {
                    push_front_capped(&mut v.alarms, alarm);
                }
                if let Some(tick) = event.reading() {
                    push_front_capped(&mut v.readings, tick);
                }
                if let Some(tick) = event.gate() {
                    push_front_capped(&mut v.gates, tick);
                }
            }
            events
        });
    }

    /// Publishes a building's new health.
    pub fn publish_building(&self, community: &CommunityId, building: BuildingId, health: BuildingHealth) {
        self.change(community.as_str(), |v| {
            let seq = self.next_derived_seq();
            v.buildings.insert(building.clone(), (health, seq));
            vec![LiveEvent {
                community: community.clone(),
                stream: StreamId::derived_health(&building).into_string(),
                seq,
                body: LiveBody::Building { building, health },
            }]
        });
    }

    /// A building's money changed (as of `today`, the community's date): keep it for the
    /// summaries, and tell the screens — the wall its tile's brief, the money screens the whole.
    pub fn publish_money(&self, community: &CommunityId, building: BuildingId, today: NaiveDate, money: BuildingMoney) {
        self.change(community.as_str(), |v| {
            let brief = tile(&money);
            let name = v.community.building(&building).map(|b| b.name.clone()).unwrap_or_else(|| building.to_string());
            let detail = BuildingMoneyView { building: building.clone(), name, today, money };
            v.money.insert(building.clone(), Arc::new(detail.clone()));
            let stream = StreamId::derived_money(&building).into_string();
            let seq = self.next_derived_seq();
            [LiveBody::Money { building, money: brief }, LiveBody::MoneyDetail(detail)]
                .into_iter()
                .map(|body| LiveEvent { community: community.clone(), stream: stream.clone(), seq, body })
                .collect()
        });
    }

    /// The alarm desk as recovered: its open and its latest resolved alarms.
    pub fn put_alarms(&self, community: &CommunityId, open: impl Iterator<Item = AlarmRecord>, resolved: impl Iterator<Item = AlarmRecord>) {
        self.change(community.as_str(), |v| {
            v.open_alarms = open.map(|a| (a.no, a)).collect();
            v.resolved_alarms = resolved.take(FEED_LENGTH).collect();
            Vec::new()
        });
    }

    /// Publishes alarms as they now stand (raised, seen again, acknowledged, resolved).
    pub fn publish_alarms(&self, events: Vec<LiveEvent>) {
        let Some(community) = events.first().map(|e| e.community.clone()) else { return };
        self.change(community.as_str(), |v| {
            for event in &events {
                if let LiveBody::Alarm { alarm } = &event.body {
                    if alarm.is_open() {
                        v.open_alarms.insert(alarm.no, alarm.clone());
                    } else if v.open_alarms.remove(&alarm.no).is_some() {
                        push_front_capped(&mut v.resolved_alarms, alarm.clone());
                    }
                }
            }
            events
        });
    }

    /// A patrol route's day changed: the wall's patrol panel (those who see the whole community).
    pub fn publish_patrol(&self, community: &CommunityId, tile: PatrolTile) {
        self.change(community.as_str(), |v| {
            v.patrols.insert(tile.route.clone(), tile.clone());
            let stream = format!("derived/patrol/{}", tile.route);
            vec![LiveEvent { community: community.clone(), stream, seq: self.next_derived_seq(), body: LiveBody::Patrol { patrol: tile } }]
        });
    }

    /// A round starts soon: the patrol phones' reminder (no read model changes; a phone that
    /// connects later sees the round on its page).
    pub fn publish_patrol_reminder(&self, community: &CommunityId, reminder: PatrolReminder) {
        let stream = format!("derived/patrol-reminder/{}", reminder.route);
        let event = LiveEvent { community: community.clone(), stream, seq: self.next_derived_seq(), body: LiveBody::PatrolReminder { reminder } };
        self.post(vec![event]);
    }

    /// Each patrol route's day, as of the returned version (`/ws/patrol`).
    pub fn patrol_snapshot(&self, community: &str) -> Option<(u64, PatrolSnapshot)> {
        self.with_view(community, |v| (v.version, PatrolSnapshot { community: v.community.id.clone(), patrols: v.patrols.values().cloned().collect() }))
    }

    /// A work order changed: the board, the phones' inboxes, the wall. An archived order leaves
    /// the screens (its figures stay in its journal).
    pub fn publish_work_order(&self, community: &CommunityId, order: WorkOrderTile) {
        self.change(community.as_str(), |v| {
            if order.status == hutong_core::work_order::Status::Archived {
                v.work.remove(&order.id);
            } else {
                v.work.insert(order.id.clone(), order.clone());
            }
            let stream = format!("derived/workorder/{}", order.id);
            vec![LiveEvent { community: community.clone(), stream, seq: self.next_derived_seq(), body: LiveBody::WorkOrder { order } }]
        });
    }

    /// Records a work order as it stands without an event (after recovery: a hundred thousand
    /// orders starting up must not flood every screen; they start from the snapshot).
    pub fn put_work_order(&self, community: &CommunityId, order: WorkOrderTile) {
        self.change(community.as_str(), |v| {
            if order.status != hutong_core::work_order::Status::Archived {
                v.work.insert(order.id.clone(), order);
            }
            Vec::new()
        });
    }

    /// The work orders in sight, as of the returned version (`/ws/work`).
    pub fn work_snapshot(&self, community: &str, sight: &Sight) -> Option<(u64, WorkSnapshot)> {
        self.with_view(community, |v| {
            let orders = v.work.values().filter(|o| sight.sees(o.building.as_ref())).cloned().collect();
            (v.version, WorkSnapshot { community: v.community.id.clone(), orders })
        })
    }

    /// Every work order of a community not yet archived (the board, the figures).
    pub fn work_orders(&self, community: &str) -> Option<Vec<WorkOrderTile>> {
        self.with_view(community, |v| v.work.values().cloned().collect())
    }

    /// A community's open alarms (most severe, then newest first) and its latest resolved.
    pub fn alarms(&self, community: &str) -> Option<(Vec<AlarmRecord>, Vec<AlarmRecord>)> {
        self.with_view(community, |v| (sorted_open(&v.open_alarms), v.resolved_alarms.iter().cloned().collect()))
    }

    /// Every building's money in a community.
    pub fn money(&self, community: &str) -> Option<Vec<Arc<BuildingMoneyView>>> {
        self.with_view(community, |v| v.money.values().cloned().collect())
    }

    /// Every building's money in sight, as of the returned version.
    pub fn money_snapshot(&self, community: &str, sight: &Sight) -> Option<(u64, MoneySnapshot)> {
        self.with_view(community, |v| {
            let buildings = v.money.values().filter(|m| sight.sees(Some(&m.building))).map(|m| (**m).clone()).collect();
            (v.version, MoneySnapshot { community: v.community.id.clone(), buildings })
        })
    }

    /// The wall as a sight sees it (a butler: only their buildings' tiles, alarms, readings,
    /// gates and devices), as of the returned version.
    pub fn wall_snapshot(&self, community: &str, sight: &Sight) -> Option<(u64, WallSnapshot)> {
        self.with_view(community, |v| {
            let c = &v.community;
            let buildings = c
                .buildings
                .iter()
                .filter(|b| sight.sees(Some(&b.id)))
                .map(|b| {
                    let (health, seq) = v.buildings.get(&b.id).copied().unwrap_or_default();
                    let houses = b.units.iter().flat_map(|u| &u.floors).map(|f| f.houses.len() as u32).sum();
                    let money = v.money.get(&b.id).map(|m| tile(&m.money)).unwrap_or_default();
                    BuildingTile { id: b.id.clone(), no: b.no, name: b.name.clone(), houses, health, seq, money }
                })
                .collect();
            let device_seen = |device: &DeviceId| *sight == Sight::All || sight.sees(v.device_building(device));
            let (devices_total, devices_offline) = v.device_counts.iter().filter(|(b, _)| sight.sees(b.as_ref())).fold((0, 0), |(t, o), (_, (dt, doff))| (t + dt, o + doff));
            let snapshot = WallSnapshot {
                community: c.id.clone(),
                name: c.name.clone(),
                time_zone: c.time_zone.clone(),
                buildings,
                alarms: v.alarms.iter().filter(|a| sight.sees(a.building.as_ref())).cloned().collect(),
                readings: v.readings.iter().filter(|r| device_seen(&r.device)).cloned().collect(),
                gates: v.gates.iter().filter(|g| device_seen(&g.device)).cloned().collect(),
                open_alarms: sorted_open(&v.open_alarms).into_iter().filter(|a| sight.sees(a.building.as_ref())).collect(),
                devices_total,
                devices_offline,
                // Routes belong to no building: for those who see the whole community.
                patrols: if *sight == Sight::All { v.patrols.values().cloned().collect() } else { Vec::new() },
                work_orders: v.work.values().filter(|o| o.status.is_open() && sight.sees(o.building.as_ref())).cloned().collect(),
            };
            (v.version, snapshot)
        })
    }

    pub fn device(&self, community: &str, device: &str) -> Option<DeviceView> {
        self.with_view(community, |v| v.devices.get(device).cloned()).flatten()
    }

    pub fn devices(&self, community: &str) -> Option<Vec<DeviceView>> {
        self.with_view(community, |v| {
            let mut all: Vec<DeviceView> = v.devices.values().cloned().collect();
            all.sort_by(|a, b| a.id.cmp(&b.id));
            all
        })
    }
}

fn tile(m: &BuildingMoney) -> MoneyTile {
    MoneyTile { receivable: m.receivable, received: m.received, arrears: m.arrears, overdue: m.overdue, houses_in_arrears: m.houses_in_arrears }
}
