//! `CommunitySupervisor`: one per community. It spawns the community's building and device actors
//! linked to itself, registers them in the directory, and restarts a child that failed — the
//! child replays its journal in `pre_start`, so a restart loses nothing acknowledged. ractor has
//! no restart strategy of its own; this one allows `RESTART_BUDGET` restarts of a child within
//! `RESTART_WINDOW`, then leaves it down and says so.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use hutong_core::community::Community;
use hutong_core::device::DeviceSpec;
use hutong_core::{BuildingId, CommunityId};
use ractor::{Actor, ActorCell, ActorId, ActorProcessingErr, ActorRef, SupervisionEvent};
use tokio::time::Instant;

use crate::building::{BuildingActor, BuildingArgs, Notices};
use crate::clock::Clock;
use crate::device::{DeviceActor, DeviceArgs, DeviceMsg};
use crate::directory::Directory;
use crate::hub::LiveHub;
use crate::journal::Journal;
use crate::metrics::Metrics;

pub const RESTART_BUDGET: usize = 5;
pub const RESTART_WINDOW: Duration = Duration::from_secs(60);

pub enum CommunityMsg {
    /// How many children are up (tests, health).
    Children(ractor::RpcReplyPort<usize>),
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
}

#[derive(Clone)]
enum Child {
    Building(BuildingId),
    Device(Arc<DeviceSpec>),
}

pub struct CommunityState {
    args: CommunityArgs,
    children: HashMap<ActorId, Child>,
    restarts: HashMap<String, VecDeque<Instant>>,
}

pub struct CommunitySupervisor;

impl Actor for CommunitySupervisor {
    type Msg = CommunityMsg;
    type State = CommunityState;
    type Arguments = CommunityArgs;

    async fn pre_start(&self, myself: ActorRef<CommunityMsg>, args: CommunityArgs) -> Result<CommunityState, ActorProcessingErr> {
        args.hub.register_community(args.community.clone());
        let mut state = CommunityState { children: HashMap::new(), restarts: HashMap::new(), args };
        let buildings: Vec<BuildingId> = state.args.community.buildings.iter().map(|b| b.id.clone()).collect();
        for building in buildings {
            state.spawn(&myself, Child::Building(building)).await?;
        }
        let devices: Vec<Arc<DeviceSpec>> = state.args.devices.drain(..).map(Arc::new).collect();
        for spec in devices {
            state.spawn(&myself, Child::Device(spec)).await?;
        }
        state.args.metrics.describe("hutong_actor_restarts_total", "Actors restarted by their supervisor after a failure");
        Ok(state)
    }

    async fn post_stop(&self, _myself: ActorRef<CommunityMsg>, state: &mut CommunityState) -> Result<(), ActorProcessingErr> {
        let buildings = state.args.community.buildings.iter().map(|b| b.id.clone());
        state.args.directory.remove_community(&state.args.community.id, buildings);
        Ok(())
    }

    async fn handle(&self, _myself: ActorRef<CommunityMsg>, msg: CommunityMsg, state: &mut CommunityState) -> Result<(), ActorProcessingErr> {
        match msg {
            CommunityMsg::Children(reply) => {
                let _ = reply.send(state.children.len());
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
        let rejoined = matches!(child, Child::Building(_)).then(|| state.devices_of(&child));
        let building = match &child {
            Child::Building(id) => Some(id.clone()),
            Child::Device(_) => None,
        };
        state.spawn(&myself, child).await?;
        // A new building actor knows nothing yet: its devices learn where it is and tell it again.
        if let Some(actor) = building.and_then(|id| state.args.directory.building(&id)) {
            for device in rejoined.into_iter().flatten() {
                let _ = device.cast(DeviceMsg::ReportHealth(actor.clone()));
            }
        }
        Ok(())
    }
}

impl Child {
    fn name(&self) -> String {
        match self {
            Child::Building(id) => format!("building/{id}"),
            Child::Device(spec) => format!("device/{}", spec.id),
        }
    }
}

impl CommunityState {
    async fn spawn(&mut self, myself: &ActorRef<CommunityMsg>, child: Child) -> Result<(), ActorProcessingErr> {
        let a = &self.args;
        let supervisor: ActorCell = myself.get_cell();
        let id = match &child {
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
                    spec: (**spec).clone(),
                    journal: a.journal.clone(),
                    hub: a.hub.clone(),
                    building: spec.building.as_ref().and_then(|b| a.directory.building(b)),
                    clock: a.clock,
                };
                let (actor, _) = Actor::spawn_linked(None, DeviceActor, args, supervisor).await?;
                a.directory.put_device(&spec.community, &spec.id, actor.clone());
                actor.get_id()
            }
        };
        self.children.insert(id, child);
        Ok(())
    }

    fn forget(&self, child: &Child) {
        match child {
            Child::Building(id) => self.args.directory.remove_building(id),
            Child::Device(spec) => self.args.directory.remove_device(&spec.community, &spec.id),
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

    fn devices_of(&self, building: &Child) -> Vec<ActorRef<DeviceMsg>> {
        let Child::Building(id) = building else { return Vec::new() };
        self.children
            .values()
            .filter_map(|c| match c {
                Child::Device(spec) if spec.building.as_ref() == Some(id) => {
                    self.args.directory.device(spec.community.as_str(), spec.id.as_str())
                }
                _ => None,
            })
            .collect()
    }
}

/// Starts a community and waits until every child has recovered from the journal.
pub async fn start(args: CommunityArgs) -> Result<ActorRef<CommunityMsg>, ActorProcessingErr> {
    let id: CommunityId = args.community.id.clone();
    let (actor, _) = Actor::spawn(None, CommunitySupervisor, args).await?;
    tracing::info!(community = %id, "community recovered");
    Ok(actor)
}
