//! The live hub: the event bus screens subscribe to, and the read model their snapshots and the
//! API are served from. Actors write to it right after their journal append is applied.
//!
//! A community's view and its publications share one lock, so a socket that subscribes first and
//! then takes the snapshot misses nothing: an event is either in the snapshot, or arrives after it
//! (or both; clients drop what they already have by `(stream, seq)`).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};

use hutong_core::alarm::AlarmRecord;
use hutong_core::building::BuildingHealth;
use hutong_core::community::Community;
use hutong_core::device::DeviceHealth;
use hutong_core::book::BuildingMoney;
use hutong_core::live::{Alarm, BuildingMoneyView, BuildingTile, MoneyTile, DeviceView, FEED_LENGTH, GateTick, LiveBody, LiveEvent, ReadingTick, ServerMessage, WallSnapshot};
use chrono::NaiveDate;
use hutong_core::{BuildingId, CommunityId, DeviceId};
use tokio::sync::broadcast;

use crate::journaled::StreamId;

/// A live event with its JSON encoded once, however many sockets send it.
pub struct Envelope {
    pub event: LiveEvent,
    json: OnceLock<String>,
}

impl Envelope {
    pub fn new(event: LiveEvent) -> Self {
        Self { event, json: OnceLock::new() }
    }

    /// `{"type":"event",...}` as sent on `/ws`.
    pub fn json(&self) -> &str {
        self.json.get_or_init(|| {
            serde_json::to_string(&ServerMessage::Event(self.event.clone())).unwrap_or_else(|_| "{}".into())
        })
    }
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
}

pub struct LiveHub {
    tx: broadcast::Sender<Arc<Envelope>>,
    views: RwLock<HashMap<CommunityId, Arc<Mutex<CommunityView>>>>,
    derived_seq: AtomicU64,
}

/// How many events the bus holds for a slow socket before it is told to resync.
pub const BUS_CAPACITY: usize = 16_384;

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
        let (tx, _) = broadcast::channel(BUS_CAPACITY);
        // Derived streams (building health) are not journaled; their seqs start from the wall clock
        // in microseconds so they keep increasing across restarts.
        let start = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_micros() as u64);
        Arc::new(Self { tx, views: RwLock::new(HashMap::new()), derived_seq: AtomicU64::new(start) })
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Envelope>> {
        self.tx.subscribe()
    }

    pub fn subscribers(&self) -> usize {
        self.tx.receiver_count()
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
        };
        self.views.write().unwrap_or_else(|e| e.into_inner()).insert(community.id.clone(), Arc::new(Mutex::new(view)));
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

    /// Records a device's current state without an event (after recovery).
    pub fn put_device(&self, community: &CommunityId, view: DeviceView) {
        self.with_view(community.as_str(), |v| v.devices.insert(view.id.clone(), view));
    }

    /// A retired device leaves the screens' read model.
    pub fn remove_device(&self, community: &CommunityId, device: &DeviceId) {
        self.with_view(community.as_str(), |v| v.devices.remove(device));
    }

    /// Publishes a device's journaled events, with its state after them.
    pub fn publish_device(&self, events: Vec<LiveEvent>, state: DeviceView) {
        let Some(community) = events.first().map(|e| e.community.clone()) else { return };
        self.with_view(community.as_str(), |v| {
            v.devices.insert(state.id.clone(), state);
            for event in events {
                if let Some(alarm) = event.alarm() {
                    push_front_capped(&mut v.alarms, alarm);
                }
                if let Some(tick) = event.reading() {
                    push_front_capped(&mut v.readings, tick);
                }
                if let Some(tick) = event.gate() {
                    push_front_capped(&mut v.gates, tick);
                }
                // No receiver is not an error: nobody is watching.
                let _ = self.tx.send(Arc::new(Envelope::new(event)));
            }
        });
    }

    /// Publishes a building's new health.
    pub fn publish_building(&self, community: &CommunityId, building: BuildingId, health: BuildingHealth) {
        self.with_view(community.as_str(), |v| {
            let seq = self.next_derived_seq();
            v.buildings.insert(building.clone(), (health, seq));
            let event = LiveEvent {
                community: community.clone(),
                stream: StreamId::derived_health(&building).into_string(),
                seq,
                body: LiveBody::Building { building, health },
            };
            let _ = self.tx.send(Arc::new(Envelope::new(event)));
        });
    }

    /// A building's money changed (as of `today`, the community's date): keep it for the
    /// summaries, and tell the screens — the wall its tile's brief, the money screens the whole.
    pub fn publish_money(&self, community: &CommunityId, building: BuildingId, today: NaiveDate, money: BuildingMoney) {
        self.with_view(community.as_str(), |v| {
            let brief = tile(&money);
            let name = v.community.building(&building).map(|b| b.name.clone()).unwrap_or_else(|| building.to_string());
            let detail = BuildingMoneyView { building: building.clone(), name, today, money };
            v.money.insert(building.clone(), Arc::new(detail.clone()));
            let stream = StreamId::derived_money(&building).into_string();
            let seq = self.next_derived_seq();
            for body in [LiveBody::Money { building, money: brief }, LiveBody::MoneyDetail(detail)] {
                let event = LiveEvent { community: community.clone(), stream: stream.clone(), seq, body };
                let _ = self.tx.send(Arc::new(Envelope::new(event)));
            }
        });
    }

    /// The alarm desk as recovered: its open and its latest resolved alarms.
    pub fn put_alarms(&self, community: &CommunityId, open: impl Iterator<Item = AlarmRecord>, resolved: impl Iterator<Item = AlarmRecord>) {
        self.with_view(community.as_str(), |v| {
            v.open_alarms = open.map(|a| (a.no, a)).collect();
            v.resolved_alarms = resolved.take(FEED_LENGTH).collect();
        });
    }

    /// Publishes alarms as they now stand (raised, seen again, acknowledged, resolved).
    pub fn publish_alarms(&self, events: Vec<LiveEvent>) {
        let Some(community) = events.first().map(|e| e.community.clone()) else { return };
        self.with_view(community.as_str(), |v| {
            for event in events {
                if let LiveBody::Alarm { alarm } = &event.body {
                    if alarm.is_open() {
                        v.open_alarms.insert(alarm.no, alarm.clone());
                    } else if v.open_alarms.remove(&alarm.no).is_some() {
                        push_front_capped(&mut v.resolved_alarms, alarm.clone());
                    }
                }
                let _ = self.tx.send(Arc::new(Envelope::new(event)));
            }
        });
    }

    /// A community's open alarms (most severe, then newest first) and its latest resolved.
    pub fn alarms(&self, community: &str) -> Option<(Vec<AlarmRecord>, Vec<AlarmRecord>)> {
        self.with_view(community, |v| (sorted_open(&v.open_alarms), v.resolved_alarms.iter().cloned().collect()))
    }

    /// Every building's money in a community.
    pub fn money(&self, community: &str) -> Option<Vec<Arc<BuildingMoneyView>>> {
        self.with_view(community, |v| v.money.values().cloned().collect())
    }

    pub fn wall_snapshot(&self, community: &str) -> Option<WallSnapshot> {
        self.with_view(community, |v| {
            let c = &v.community;
            let buildings = c
                .buildings
                .iter()
                .map(|b| {
                    let (health, seq) = v.buildings.get(&b.id).copied().unwrap_or_default();
                    let houses = b.units.iter().flat_map(|u| &u.floors).map(|f| f.houses.len() as u32).sum();
                    let money = v.money.get(&b.id).map(|m| tile(&m.money)).unwrap_or_default();
                    BuildingTile { id: b.id.clone(), no: b.no, name: b.name.clone(), houses, health, seq, money }
                })
                .collect();
            WallSnapshot {
                community: c.id.clone(),
                name: c.name.clone(),
                time_zone: c.time_zone.clone(),
                buildings,
                alarms: v.alarms.iter().cloned().collect(),
                readings: v.readings.iter().cloned().collect(),
                gates: v.gates.iter().cloned().collect(),
                open_alarms: sorted_open(&v.open_alarms),
                devices_total: v.devices.len() as u32,
                devices_offline: v.devices.values().filter(|d| d.health == DeviceHealth::Offline).count() as u32,
            }
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
