//! Where the device bridge and the API find a device or a building.
//!
//! A device is not always an actor. Most meters speak once an hour: keeping 100,000 actors (a task,
//! a mailbox, timers — about 9 KiB each) for devices that say nothing most of the time is what made
//! a restart slow and large. So a device's slot is one of:
//! - **dormant**: its folded state, a few hundred bytes, and a place in its community's timer wheel
//!   for its heartbeat deadline;
//! - **waking**: its community supervisor is spawning its actor; messages wait here, in order;
//! - **awake**: an actor, reached by casting.
//!
//! Every message to a device goes through [`Directory::send_device`], which casts under the slot's
//! lock and counts what it cast. An actor idle for a while gives its state back with
//! [`Directory::hibernate`], which only succeeds if the actor has taken everything cast to it — so
//! no message is ever left in a mailbox that nobody will read, and none overtakes another.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::sync::atomic::{AtomicU64, Ordering};

use hutong_core::device::DeviceSpec;
use hutong_core::meter_rules::MeterContext;
use hutong_core::{BuildingId, CommunityId, DeviceId};
use ractor::{ActorId, ActorRef};

use crate::alarms::{AlarmDeskRef, AlarmMsg};
use crate::building::BuildingMsg;
use crate::community::CommunityMsg;
use crate::device::{DeviceActorState, DeviceMsg};
use crate::journaled::Shared;
use crate::patrol::PatrolMsg;
use hutong_core::RouteId;
use hutong_core::patrol::PatrolSite;
use hutong_core::WorkOrderId;
use hutong_core::work_order::ServiceDesk;
use crate::work_order::OrderMsg;

enum Slot {
    Awake { actor: ActorRef<DeviceMsg>, sent: AtomicU64 },
    Waking(Vec<DeviceMsg>),
    Dormant(Box<DeviceActorState>),
}

struct CommunitySlots {
    supervisor: ActorRef<CommunityMsg>,
    alarms: Option<ActorRef<AlarmMsg>>,
    devices: HashMap<DeviceId, Slot>,
    /// Checkpoints and routes (changed in place by the office), and each route's actor.
    patrol_site: Option<Arc<Shared<PatrolSite>>>,
    routes: HashMap<RouteId, ActorRef<PatrolMsg>>,
    /// Order numbers, service rules and the materials store, and each work order's actor.
    service_desk: Option<Arc<Shared<ServiceDesk>>>,
    orders: HashMap<WorkOrderId, ActorRef<OrderMsg>>,
}

/// Why a message did not reach a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Unreachable {
    #[error("no such device is registered")]
    Unknown,
    #[error("the device's actor is not running")]
    NotRunning,
}

#[derive(Default)]
pub struct Directory {
    communities: RwLock<HashMap<CommunityId, CommunitySlots>>,
    buildings: RwLock<HashMap<BuildingId, ActorRef<BuildingMsg>>>,
}

impl Directory {
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether the device is registered here (awake or not).
    pub fn has_device(&self, community: &str, device: &str) -> bool {
        let map = self.communities.read().unwrap_or_else(|e| e.into_inner());
        map.get(community).is_some_and(|c| c.devices.contains_key(device))
    }

    /// The device's actor when it is awake (tests and supervision; messages go through
    /// [`Directory::send_device`]).
    pub fn device(&self, community: &str, device: &str) -> Option<ActorRef<DeviceMsg>> {
        let map = self.communities.read().unwrap_or_else(|e| e.into_inner());
        match map.get(community)?.devices.get(device)? {
            Slot::Awake { actor, .. } => Some(actor.clone()),
            _ => None,
        }
    }

    /// How many of a community's devices are actors now, and how many are registered.
    pub fn awake_devices(&self, community: &str) -> (usize, usize) {
        let map = self.communities.read().unwrap_or_else(|e| e.into_inner());
        map.get(community).map_or((0, 0), |c| {
            (c.devices.values().filter(|s| matches!(s, Slot::Awake { .. })).count(), c.devices.len())
        })
    }

    /// Delivers a message to a device, waking it first when it is dormant. Messages from one
    /// sender arrive in the order sent, across a wake-up.
    pub fn send_device(&self, community: &str, device: &str, msg: DeviceMsg) -> Result<(), Unreachable> {
        {
            let map = self.communities.read().unwrap_or_else(|e| e.into_inner());
            let slot = map.get(community).and_then(|c| c.devices.get(device)).ok_or(Unreachable::Unknown)?;
            if let Slot::Awake { actor, sent } = slot {
                return cast(actor, sent, msg);
            }
        }
        let mut map = self.communities.write().unwrap_or_else(|e| e.into_inner());
        let slots = map.get_mut(community).ok_or(Unreachable::Unknown)?;
        let slot = slots.devices.get_mut(device).ok_or(Unreachable::Unknown)?;
        match std::mem::replace(slot, Slot::Waking(Vec::new())) {
            Slot::Awake { actor, sent } => {
                let cast = cast(&actor, &sent, msg);
                *slot = Slot::Awake { actor, sent };
                cast
            }
            Slot::Waking(mut waiting) => {
                waiting.push(msg);
                *slot = Slot::Waking(waiting);
                Ok(())
            }
            Slot::Dormant(state) => {
                *slot = Slot::Waking(vec![msg]);
                let wake = CommunityMsg::Wake(DeviceId::new(device), state);
                slots.supervisor.cast(wake).map_err(|_| Unreachable::NotRunning)
            }
        }
    }

    /// Tells a device its (restarted) building, without waking a dormant device for it.
    pub(crate) fn report_health(&self, community: &str, device: &str, building: ActorRef<BuildingMsg>) {
        {
            let mut map = self.communities.write().unwrap_or_else(|e| e.into_inner());
            if let Some(Slot::Dormant(state)) = map.get_mut(community).and_then(|c| c.devices.get_mut(device)) {
                state.report_to(building);
                return;
            }
        }
        let _ = self.send_device(community, device, DeviceMsg::ReportHealth(building));
    }

    /// Gives every device of a community its new zone and rules: in place while asleep, by
    /// message (in order with the rest) while awake or waking.
    pub(crate) fn set_meter_context(&self, community: &str, context: &MeterContext) {
        let mut map = self.communities.write().unwrap_or_else(|e| e.into_inner());
        let Some(c) = map.get_mut(community) else { return };
        for slot in c.devices.values_mut() {
            match slot {
                Slot::Dormant(state) => state.set_context(context.clone()),
                Slot::Waking(waiting) => waiting.push(DeviceMsg::Context(context.clone())),
                Slot::Awake { actor, sent } => {
                    let _ = cast(actor, sent, DeviceMsg::Context(context.clone()));
                }
            }
        }
    }

    /// Gives a device its new registration (and its building's actor): in place while asleep
    /// (its heartbeat deadline moved in the wheel), by message while awake or waking.
    pub(crate) fn respec(&self, spec: &DeviceSpec, building: Option<ActorRef<BuildingMsg>>) {
        let mut map = self.communities.write().unwrap_or_else(|e| e.into_inner());
        let Some(slot) = map.get_mut(spec.community.as_str()).and_then(|c| c.devices.get_mut(&spec.id)) else { return };
        match slot {
            Slot::Dormant(state) => {
                state.respec(spec.clone(), building);
                state.rearm_wheel();
            }
            Slot::Waking(waiting) => waiting.push(DeviceMsg::Respec(spec.clone(), building)),
            Slot::Awake { actor, sent } => {
                let _ = cast(actor, sent, DeviceMsg::Respec(spec.clone(), building));
            }
        }
    }

    /// Takes a retired device out: asleep, it leaves the screens here; awake, its actor is told
    /// to (and stops); waking, its supervisor finds no registration when the wake-up arrives.
    pub(crate) fn retire(&self, community: &str, device: &str) {
        let slot = {
            let mut map = self.communities.write().unwrap_or_else(|e| e.into_inner());
            map.get_mut(community).and_then(|c| c.devices.remove(device))
        };
        match slot {
            Some(Slot::Dormant(state)) => state.leave(),
            Some(Slot::Awake { actor, .. }) => {
                let _ = actor.cast(DeviceMsg::Retire);
            }
            Some(Slot::Waking(_)) | None => {}
        }
    }

    /// Tells a community's supervisor something (its registration changed).
    /// A community's supervisor, to ask it something and wait for the answer.
    pub fn supervisor(&self, community: &str) -> Option<ActorRef<CommunityMsg>> {
        let map = self.communities.read().unwrap_or_else(|e| e.into_inner());
        map.get(community).map(|c| c.supervisor.clone())
    }

    pub fn tell_community(&self, community: &str, msg: CommunityMsg) -> Result<(), Unreachable> {
        let map = self.communities.read().unwrap_or_else(|e| e.into_inner());
        let c = map.get(community).ok_or(Unreachable::Unknown)?;
        c.supervisor.cast(msg).map_err(|_| Unreachable::NotRunning)
    }

    pub fn building(&self, building: &BuildingId) -> Option<ActorRef<BuildingMsg>> {
        self.buildings.read().unwrap_or_else(|e| e.into_inner()).get(building).cloned()
    }

    /// The typed handle the edges use to reach a building's book.
    pub fn building_ref(&self, building: &BuildingId) -> Option<crate::handle::BuildingRef> {
        self.building(building).map(|actor| crate::handle::BuildingRef::new(building.clone(), actor))
    }

    pub fn has_community(&self, community: &str) -> bool {
        self.communities.read().unwrap_or_else(|e| e.into_inner()).contains_key(community)
    }

    pub(crate) fn open_community(&self, community: &CommunityId, supervisor: ActorRef<CommunityMsg>) {
        let mut map = self.communities.write().unwrap_or_else(|e| e.into_inner());
        map.insert(community.clone(), CommunitySlots { supervisor, alarms: None, devices: HashMap::new(), patrol_site: None, routes: HashMap::new(), service_desk: None, orders: HashMap::new() });
    }

    /// The typed way in to a community's alarm desk.
    pub fn alarm_desk(&self, community: &str) -> Option<AlarmDeskRef> {
        let map = self.communities.read().unwrap_or_else(|e| e.into_inner());
        map.get(community)?.alarms.clone().map(AlarmDeskRef::new)
    }

    pub(crate) fn put_alarm_desk(&self, community: &CommunityId, actor: Option<ActorRef<AlarmMsg>>) {
        let mut map = self.communities.write().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = map.get_mut(community) {
            c.alarms = actor;
        }
    }

    /// A community's checkpoints and routes.
    pub fn patrol_site(&self, community: &str) -> Option<Arc<Shared<PatrolSite>>> {
        let map = self.communities.read().unwrap_or_else(|e| e.into_inner());
        map.get(community)?.patrol_site.clone()
    }

    pub(crate) fn put_patrol_site(&self, community: &CommunityId, site: Arc<Shared<PatrolSite>>) {
        let mut map = self.communities.write().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = map.get_mut(community) {
            c.patrol_site = Some(site);
        }
    }

    /// A community's service desk.
    pub fn service_desk(&self, community: &str) -> Option<Arc<Shared<ServiceDesk>>> {
        let map = self.communities.read().unwrap_or_else(|e| e.into_inner());
        map.get(community)?.service_desk.clone()
    }

    pub(crate) fn put_service_desk(&self, community: &CommunityId, desk: Arc<Shared<ServiceDesk>>) {
        let mut map = self.communities.write().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = map.get_mut(community) {
            c.service_desk = Some(desk);
        }
    }

    /// A work order's actor.
    pub fn order(&self, community: &str, order: &str) -> Option<ActorRef<OrderMsg>> {
        let map = self.communities.read().unwrap_or_else(|e| e.into_inner());
        map.get(community)?.orders.get(order).cloned()
    }

    /// How many work orders of a community have an actor.
    pub fn order_count(&self, community: &str) -> usize {
        let map = self.communities.read().unwrap_or_else(|e| e.into_inner());
        map.get(community).map_or(0, |c| c.orders.len())
    }

    pub(crate) fn put_order(&self, community: &CommunityId, order: &WorkOrderId, actor: Option<ActorRef<OrderMsg>>) {
        let mut map = self.communities.write().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = map.get_mut(community) {
            match actor {
                Some(actor) => c.orders.insert(order.clone(), actor),
                None => c.orders.remove(order),
            };
        }
    }

    /// A patrol route's actor.
    pub fn route(&self, community: &str, route: &str) -> Option<ActorRef<PatrolMsg>> {
        let map = self.communities.read().unwrap_or_else(|e| e.into_inner());
        map.get(community)?.routes.get(route).cloned()
    }

    pub(crate) fn put_route(&self, community: &CommunityId, route: &RouteId, actor: Option<ActorRef<PatrolMsg>>) {
        let mut map = self.communities.write().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = map.get_mut(community) {
            match actor {
                Some(actor) => c.routes.insert(route.clone(), actor),
                None => c.routes.remove(route),
            };
        }
    }

    /// Devices recovered but not spoken to yet.
    pub(crate) fn put_dormant(&self, community: &CommunityId, asleep: impl IntoIterator<Item = (DeviceId, Box<DeviceActorState>)>) {
        let mut map = self.communities.write().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = map.get_mut(community) {
            c.devices.extend(asleep.into_iter().map(|(device, state)| (device, Slot::Dormant(state))));
        }
    }

    /// A device's actor is up: what waited for it is cast now, in order, before anything newer.
    pub(crate) fn put_awake(&self, community: &CommunityId, device: &DeviceId, actor: ActorRef<DeviceMsg>) {
        let mut map = self.communities.write().unwrap_or_else(|e| e.into_inner());
        let Some(c) = map.get_mut(community) else { return };
        let sent = AtomicU64::new(0);
        if let Some(Slot::Waking(waiting)) = c.devices.get_mut(device) {
            for msg in waiting.drain(..) {
                let _ = cast(&actor, &sent, msg);
            }
        }
        c.devices.insert(device.clone(), Slot::Awake { actor, sent });
    }

    /// An idle actor gives its state back. Only if it is still this device's actor and has taken
    /// every message cast to it (`received`); otherwise it stays awake and `state` is not called.
    pub(crate) fn hibernate(
        &self,
        community: &CommunityId,
        device: &DeviceId,
        me: ActorId,
        received: u64,
        state: impl FnOnce() -> Option<Box<DeviceActorState>>,
    ) -> bool {
        let mut map = self.communities.write().unwrap_or_else(|e| e.into_inner());
        let Some(slot) = map.get_mut(community).and_then(|c| c.devices.get_mut(device)) else { return false };
        match slot {
            Slot::Awake { actor, sent } if actor.get_id() == me && sent.load(Ordering::Acquire) == received => match state() {
                Some(state) => {
                    *slot = Slot::Dormant(state);
                    true
                }
                None => false,
            },
            _ => false,
        }
    }

    pub(crate) fn put_building(&self, building: &BuildingId, actor: ActorRef<BuildingMsg>) {
        self.buildings.write().unwrap_or_else(|e| e.into_inner()).insert(building.clone(), actor);
    }

    pub(crate) fn remove_building(&self, building: &BuildingId) {
        self.buildings.write().unwrap_or_else(|e| e.into_inner()).remove(building);
    }

    pub(crate) fn remove_device(&self, community: &CommunityId, device: &DeviceId) {
        let mut map = self.communities.write().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = map.get_mut(community) {
            c.devices.remove(device);
        }
    }

    pub(crate) fn remove_community(&self, community: &CommunityId, buildings: impl Iterator<Item = BuildingId>) {
        // Dropped outside the lock: dormant states hold timer-wheel senders and actor refs.
        let gone = self.communities.write().unwrap_or_else(|e| e.into_inner()).remove(community);
        drop(gone);
        let mut map = self.buildings.write().unwrap_or_else(|e| e.into_inner());
        for b in buildings {
            map.remove(&b);
        }
    }
}

fn cast(actor: &ActorRef<DeviceMsg>, sent: &AtomicU64, msg: DeviceMsg) -> Result<(), Unreachable> {
    // Counted before the cast, both under the slot's lock: `hibernate` compares under the write lock.
    sent.fetch_add(1, Ordering::AcqRel);
    actor.cast(msg).map_err(|_| Unreachable::NotRunning)
}
