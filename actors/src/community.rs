//! `CommunitySupervisor`: one per community. It spawns the community's alarm desk and building actors, recovers
//! its devices asleep (their folded state in the directory, their heartbeat deadlines in the
//! community's timer wheel: see [`crate::directory`]), spawns a device's actor when it is first
//! spoken to, and restarts a child that failed — the child replays its journal in `pre_start`, so
//! a restart loses nothing acknowledged. ractor has
//! no restart strategy of its own; this one allows `RESTART_BUDGET` restarts of a child within
//! `RESTART_WINDOW`, then leaves it down and says so.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use hutong_core::alarm::AlarmCommand;
use hutong_core::community::Community;
use hutong_core::device::DeviceSpec;
use hutong_core::patrol::PatrolSite;
use hutong_core::{BuildingId, CommunityId, DeviceId, RouteId};
use ractor::{Actor, ActorCell, ActorId, ActorProcessingErr, ActorRef, SupervisionEvent};
use tokio::time::Instant;
use tokio_util::time::{DelayQueue, delay_queue};

use crate::alarms::{AlarmDeskActor, AlarmDeskArgs};
use crate::building::{BuildingActor, BuildingArgs, Notices};
use crate::clock::Clock;
use crate::device::{DeviceActor, DeviceActorState, DeviceArgs, DeviceLinks, DeviceMsg, HIBERNATED, RETIRED, Wheel};
use hutong_core::meter_rules::MeterContext;
use crate::directory::Directory;
use crate::hub::LiveHub;
use crate::journal::Journal;
use crate::journaled::{Shared, StreamId};
use crate::metrics::Metrics;
use crate::patrol::{PatrolArgs, PatrolRouteActor};
use crate::work_order::{OrderArgs, Staffing, WorkOrderActor};
use hutong_core::WorkOrderId;
use hutong_core::work_order::ServiceDesk;

pub const RESTART_BUDGET: usize = 5;
pub const RESTART_WINDOW: Duration = Duration::from_secs(60);

pub enum CommunityMsg {
    /// How many children are actors now (tests, health).
    Children(ractor::RpcReplyPort<usize>),
    /// A sleeping device was spoken to: spawn its actor with the state it slept with.
    Wake(DeviceId, Box<DeviceActorState>),
    /// The community's meter thresholds changed (already journaled in the registry).
    MeterRules(hutong_core::meter_rules::MeterRules),
    /// A device registered while running (journaled in the registry): it joins asleep.
    AddDevice(DeviceSpec),
    /// A device's registration changed (moved, another heartbeat interval).
    ChangeDevice(DeviceSpec),
    /// A device out of service (retired or replaced; already journaled in the registry): it
    /// leaves the directory, its building and the screens, and its open alarms are resolved
    /// with the note.
    RetireDevice { device: DeviceId, note: String },
    /// A patrol route opened (already journaled in the community's patrol site): start its actor.
    OpenRoute(RouteId, ractor::RpcReplyPort<()>),
    /// A work order was numbered at the community's service desk: start its actor.
    OpenOrder(WorkOrderId, ractor::RpcReplyPort<()>),
    /// The community's tree grew (already journaled in the registry): new buildings start, the
    /// others take in their new houses. The reply comes once every building has been told, so a
    /// book command sent after it finds the houses.
    Grown(Arc<hutong_core::community::Community>, ractor::RpcReplyPort<()>),
}

pub struct CommunityArgs {
    pub community: Arc<Community>,
    pub devices: Vec<DeviceSpec>,
    pub journal: Arc<dyn Journal>,
    pub hub: Arc<LiveHub>,
    pub directory: Arc<Directory>,
    pub metrics: Arc<Metrics>,
    pub clock: Clock,
    /// Where the building actors' reminders go.
    pub notices: Arc<dyn Notices>,
    /// The people around work orders: who is above whom, and how to tell them.
    pub staffing: Arc<dyn Staffing>,
}

#[derive(Clone)]
enum Child {
    AlarmDesk,
    Building(BuildingId),
    Device(Arc<DeviceSpec>),
    Route(RouteId),
    Order(WorkOrderId),
}

pub struct CommunityState {
    args: CommunityArgs,
    children: HashMap<ActorId, Child>,
    devices: HashMap<DeviceId, Arc<DeviceSpec>>,
    wheel: Wheel,
    restarts: HashMap<String, VecDeque<Instant>>,
}

pub struct CommunitySupervisor;

impl Actor for CommunitySupervisor {
    type Msg = CommunityMsg;
    type State = CommunityState;
    type Arguments = CommunityArgs;

    async fn pre_start(&self, myself: ActorRef<CommunityMsg>, args: CommunityArgs) -> Result<CommunityState, ActorProcessingErr> {
        args.hub.register_community(args.community.clone());
        args.directory.open_community(&args.community.id, myself.clone());
        let wheel = timer_wheel(args.community.id.clone(), args.directory.clone());
        let mut state = CommunityState { children: HashMap::new(), devices: HashMap::new(), restarts: HashMap::new(), wheel, args };
        // The service desk is in the directory before the alarm desk starts: an alarm recovered
        // open may open its work order at once.
        let desk = Arc::new(Shared::recover(state.args.journal.clone(), StreamId::service_desk(&state.args.community.id), ServiceDesk::default).await?);
        let orders: Vec<WorkOrderId> = desk.read().orders().collect();
        state.args.directory.put_service_desk(&state.args.community.id, desk);
        state.spawn(&myself, Child::AlarmDesk, None).await?;
        let buildings: Vec<BuildingId> = state.args.community.buildings.iter().map(|b| b.id.clone()).collect();
        for building in buildings {
            state.spawn(&myself, Child::Building(building), None).await?;
        }
        let specs: Vec<DeviceSpec> = state.args.devices.drain(..).collect();
        for spec in &specs {
            state.devices.insert(spec.id.clone(), Arc::new(spec.clone()));
        }
        let asleep = state.recover_devices(specs).await?;
        state.args.directory.put_dormant(&state.args.community.id, asleep);
        // Patrol routes run from the start: their windows close whether anyone looks or not.
        let site = Arc::new(Shared::recover(state.args.journal.clone(), StreamId::patrol_site(&state.args.community.id), PatrolSite::default).await?);
        let routes: Vec<RouteId> = site.read().routes.iter().cloned().collect();
        state.args.directory.put_patrol_site(&state.args.community.id, site);
        for route in routes {
            state.spawn(&myself, Child::Route(route), None).await?;
        }
        // Work orders too: their deadlines pass whether anyone looks or not.
        for order in orders {
            state.spawn(&myself, Child::Order(order), None).await?;
        }
        state.args.metrics.describe("hutong_actor_restarts_total", "Actors restarted by their supervisor after a failure");
        Ok(state)
    }

    async fn post_stop(&self, _myself: ActorRef<CommunityMsg>, state: &mut CommunityState) -> Result<(), ActorProcessingErr> {
        let buildings = state.args.community.buildings.iter().map(|b| b.id.clone());
        state.args.directory.remove_community(&state.args.community.id, buildings);
        Ok(())
    }

    async fn handle(&self, myself: ActorRef<CommunityMsg>, msg: CommunityMsg, state: &mut CommunityState) -> Result<(), ActorProcessingErr> {
        match msg {
            CommunityMsg::Children(reply) => {
                let _ = reply.send(state.children.len());
            }
            CommunityMsg::MeterRules(rules) => {
                let mut community = (*state.args.community).clone();
                community.meter_rules = rules;
                state.args.community = Arc::new(community);
                let context = MeterContext::of(&state.args.community);
                state.args.directory.set_meter_context(state.args.community.id.as_str(), &context);
            }
            CommunityMsg::AddDevice(spec) => {
                let (community, id) = (spec.community.clone(), spec.id.clone());
                if state.devices.contains_key(&id) {
                    return Ok(());
                }
                state.devices.insert(id.clone(), Arc::new(spec.clone()));
                let building = spec.building.as_ref().and_then(|b| state.args.directory.building(b));
                let life = DeviceActorState::recover(spec, building, &state.links()).await?;
                life.rearm_wheel();
                state.args.directory.put_dormant(&community, [(id, Box::new(life))]);
            }
            CommunityMsg::ChangeDevice(spec) => {
                state.devices.insert(spec.id.clone(), Arc::new(spec.clone()));
                let building = spec.building.as_ref().and_then(|b| state.args.directory.building(b));
                state.args.directory.respec(&spec, building);
            }
            CommunityMsg::RetireDevice { device, note } => {
                state.devices.remove(&device);
                let community = state.args.community.id.as_str();
                state.args.directory.retire(community, device.as_str());
                if let Some(desk) = state.args.directory.alarm_desk(community) {
                    desk.seen(AlarmCommand::Gone { device, at: state.args.clock.now(), note });
                }
            }
            CommunityMsg::OpenOrder(order, reply) => {
                if state.args.directory.order(state.args.community.id.as_str(), order.as_str()).is_none() {
                    state.spawn(&myself, Child::Order(order), None).await?;
                }
                let _ = reply.send(());
            }
            CommunityMsg::Grown(community, reply) => {
                let before = std::mem::replace(&mut state.args.community, community.clone());
                state.args.hub.grow(community.clone());
                for b in &community.buildings {
                    if before.building(&b.id).is_some() {
                        if let Some(actor) = state.args.directory.building(&b.id) {
                            let _ = actor.cast(crate::building::BuildingMsg::Grown(community.clone()));
                        }
                    } else {
                        state.spawn(&myself, Child::Building(b.id.clone()), None).await?;
                    }
                }
                let _ = reply.send(());
            }
            CommunityMsg::OpenRoute(route, reply) => {
                if state.args.directory.route(state.args.community.id.as_str(), route.as_str()).is_none() {
                    state.spawn(&myself, Child::Route(route), None).await?;
                }
                let _ = reply.send(());
            }
            CommunityMsg::Wake(device, life) => {
                let Some(spec) = state.devices.get(&device).cloned() else {
                    // Retired while it was waking.
                    life.leave();
                    return Ok(());
                };
                if let Err(e) = state.spawn(&myself, Child::Device(spec.clone()), Some(life)).await {
                    // What waited for it is dropped (its senders hear so); the next message
                    // finds no device rather than a slot nobody empties.
                    tracing::error!(device = %device, error = %e, "device actor did not start");
                    state.forget(&Child::Device(spec));
                }
            }
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<CommunityMsg>,
        event: SupervisionEvent,
        state: &mut CommunityState,
    ) -> Result<(), ActorProcessingErr> {
        let (cell, why) = match event {
            SupervisionEvent::ActorFailed(cell, err) => (cell, err.to_string()),
            SupervisionEvent::ActorTerminated(cell, _, reason) => (cell, reason.unwrap_or_else(|| "stopped".into())),
            _ => return Ok(()),
        };
        let Some(child) = state.children.remove(&cell.get_id()) else { return Ok(()) };
        if why == HIBERNATED || why == RETIRED {
            // Asleep again (its state is back in the directory), or out of service.
            return Ok(());
        }
        let name = child.name();
        if !state.within_budget(&name) {
            tracing::error!(child = %name, %why, "child failed too often; left stopped");
            // A child left down must not be handed out: callers then hear "not running" at once
            // instead of waiting on a dead actor.
            state.forget(&child);
            state.args.metrics.inc("hutong_actor_gave_up_total", &[("community", state.args.community.id.as_str())]);
            return Ok(());
        }
        tracing::warn!(child = %name, %why, "child failed; restarting with replay");
        state.args.metrics.inc("hutong_actor_restarts_total", &[("community", state.args.community.id.as_str())]);
        let building = match &child {
            Child::Building(id) => Some(id.clone()),
            Child::Device(_) | Child::AlarmDesk | Child::Route(_) | Child::Order(_) => None,
        };
        state.spawn(&myself, child, None).await?;
        // A new building actor knows nothing yet: its devices, awake or asleep, tell it again.
        if let Some((id, actor)) = building.and_then(|id| state.args.directory.building(&id).map(|a| (id, a))) {
            let community = state.args.community.id.as_str();
            for spec in state.devices.values().filter(|s| s.building.as_ref() == Some(&id)) {
                state.args.directory.report_health(community, spec.id.as_str(), actor.clone());
            }
        }
        Ok(())
    }
}

impl Child {
    fn name(&self) -> String {
        match self {
            Child::AlarmDesk => "alarm-desk".to_string(),
            Child::Building(id) => format!("building/{id}"),
            Child::Device(spec) => format!("device/{}", spec.id),
            Child::Route(route) => format!("patrol/{route}"),
            Child::Order(order) => format!("workorder/{order}"),
        }
    }
}

impl CommunityState {
    fn links(&self) -> DeviceLinks {
        let a = &self.args;
        DeviceLinks {
            journal: a.journal.clone(),
            hub: a.hub.clone(),
            clock: a.clock,
            wheel: self.wheel.clone(),
            directory: Arc::downgrade(&a.directory),
            context: MeterContext::of(&a.community),
        }
    }

    /// Folds every device's journal, on every core (each fold only reads), into sleeping records;
    /// their heartbeat deadlines go into the timer wheel.
    async fn recover_devices(&self, mut specs: Vec<DeviceSpec>) -> Result<Vec<(DeviceId, Box<DeviceActorState>)>, ActorProcessingErr> {
        let workers = std::thread::available_parallelism().map_or(1, |n| n.get()).min(8);
        let per = specs.len().div_ceil(workers).max(1);
        let mut folds = Vec::new();
        while !specs.is_empty() {
            let chunk: Vec<DeviceSpec> = specs.drain(..per.min(specs.len())).collect();
            let (links, directory) = (self.links(), self.args.directory.clone());
            folds.push(tokio::spawn(async move {
                let mut asleep = Vec::with_capacity(chunk.len());
                for spec in chunk {
                    let building = spec.building.as_ref().and_then(|b| directory.building(b));
                    let id = spec.id.clone();
                    let life = DeviceActorState::recover(spec, building, &links).await?;
                    if let Some(at) = life.deadline() {
                        let _ = links.wheel.send((id.clone(), at));
                    }
                    asleep.push((id, Box::new(life)));
                }
                Ok::<_, crate::journal::JournalError>(asleep)
            }));
        }
        let mut all = Vec::new();
        for fold in folds {
            all.extend(fold.await??);
        }
        Ok(all)
    }

    /// Spawns a child linked to this supervisor; a device resumes the state it slept with, or
    /// (`None`) recovers it from the journal.
    async fn spawn(&mut self, myself: &ActorRef<CommunityMsg>, child: Child, resume: Option<Box<DeviceActorState>>) -> Result<(), ActorProcessingErr> {
        let a = &self.args;
        let supervisor: ActorCell = myself.get_cell();
        let id = match &child {
            Child::AlarmDesk => {
                let args = AlarmDeskArgs { community: a.community.id.clone(), journal: a.journal.clone(), hub: a.hub.clone(), clock: a.clock, directory: a.directory.clone() };
                let (actor, _) = Actor::spawn_linked(None, AlarmDeskActor, args, supervisor).await?;
                a.directory.put_alarm_desk(&a.community.id, Some(actor.clone()));
                actor.get_id()
            }
            Child::Building(building) => {
                let args = BuildingArgs {
                    community: a.community.clone(),
                    building: building.clone(),
                    hub: a.hub.clone(),
                    journal: a.journal.clone(),
                    clock: a.clock,
                    notices: a.notices.clone(),
                };
                let (actor, _) = Actor::spawn_linked(None, BuildingActor, args, supervisor).await?;
                a.directory.put_building(building, actor.clone());
                actor.get_id()
            }
            Child::Device(spec) => {
                let args = DeviceArgs {
                    resume,
                    spec: (**spec).clone(),
                    building: spec.building.as_ref().and_then(|b| a.directory.building(b)),
                    links: self.links(),
                    directory: a.directory.clone(),
                };
                let (actor, _) = Actor::spawn_linked(None, DeviceActor, args, supervisor).await?;
                a.directory.put_awake(&spec.community, &spec.id, actor.clone());
                actor.get_id()
            }
            Child::Route(route) => {
                let args = PatrolArgs { community: a.community.id.clone(), route: route.clone(), journal: a.journal.clone(), directory: a.directory.clone(), hub: a.hub.clone(), clock: a.clock };
                let (actor, _) = Actor::spawn_linked(None, PatrolRouteActor, args, supervisor).await?;
                a.directory.put_route(&a.community.id, route, Some(actor.clone()));
                actor.get_id()
            }
            Child::Order(order) => {
                let args = OrderArgs {
                    community: a.community.id.clone(),
                    order: order.clone(),
                    journal: a.journal.clone(),
                    directory: a.directory.clone(),
                    hub: a.hub.clone(),
                    clock: a.clock,
                    staffing: a.staffing.clone(),
                    time_zone: a.community.time_zone.parse().unwrap_or(chrono_tz::Asia::Shanghai),
                };
                let (actor, _) = Actor::spawn_linked(None, WorkOrderActor, args, supervisor).await?;
                a.directory.put_order(&a.community.id, order, Some(actor.clone()));
                actor.get_id()
            }
        };
        self.children.insert(id, child);
        Ok(())
    }

    fn forget(&self, child: &Child) {
        match child {
            Child::AlarmDesk => self.args.directory.put_alarm_desk(&self.args.community.id, None),
            Child::Building(id) => self.args.directory.remove_building(id),
            Child::Device(spec) => self.args.directory.remove_device(&spec.community, &spec.id),
            Child::Route(route) => self.args.directory.put_route(&self.args.community.id, route, None),
            Child::Order(order) => self.args.directory.put_order(&self.args.community.id, order, None),
        }
    }

    fn within_budget(&mut self, name: &str) -> bool {
        let now = Instant::now();
        let log = self.restarts.entry(name.to_string()).or_default();
        while log.front().is_some_and(|t| now.duration_since(*t) > RESTART_WINDOW) {
            log.pop_front();
        }
        if log.len() >= RESTART_BUDGET {
            return false;
        }
        log.push_back(now);
        true
    }

}

/// A community's sleeping devices' heartbeat deadlines: one task and one timer wheel (tokio-util's
/// `DelayQueue`, a hierarchical wheel) for all of them, instead of a task and a timer each. A
/// deadline that comes wakes the device with `Due`; a newer deadline for the same device replaces
/// the older. It ends when the community's last sender (supervisor, device states) is gone.
fn timer_wheel(community: CommunityId, directory: Arc<Directory>) -> Wheel {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(DeviceId, Instant)>();
    tokio::spawn(async move {
        let mut queue: DelayQueue<DeviceId> = DelayQueue::new();
        let mut keys: HashMap<DeviceId, delay_queue::Key> = HashMap::new();
        loop {
            tokio::select! {
                next = rx.recv() => {
                    let Some((device, at)) = next else { break };
                    match keys.get(&device) {
                        Some(key) => queue.reset_at(key, at),
                        None => {
                            let key = queue.insert_at(device.clone(), at);
                            keys.insert(device, key);
                        }
                    }
                }
                Some(expired) = std::future::poll_fn(|cx| queue.poll_expired(cx)), if !queue.is_empty() => {
                    let device = expired.into_inner();
                    keys.remove(&device);
                    let _ = directory.send_device(community.as_str(), device.as_str(), DeviceMsg::Due);
                }
            }
        }
    });
    tx
}

/// Starts a community and waits until every building is up and every device recovered (asleep).
pub async fn start(args: CommunityArgs) -> Result<ActorRef<CommunityMsg>, ActorProcessingErr> {
    let id: CommunityId = args.community.id.clone();
    let (actor, _) = Actor::spawn(None, CommunitySupervisor, args).await?;
    tracing::info!(community = %id, "community recovered");
    Ok(actor)
}
