//! `PatrolRouteActor`: one per patrol route (R1, T5). It owns the route's [`PatrolRoute`]
//! (journaled in `patrol/{community}/{route}`) and keeps one timer — the next window to close.
//! When it fires, the route settles at that instant: every stop not reached is a miss, journaled
//! and told to the community's alarm desk at once (a `PatrolMissed` alarm, folded per checkpoint).
//! The same timer reminds the guards' phones the plan's minutes before each round starts.
//! No sweep looks for misses; a restart re-arms the timer and settles what closed meanwhile.

use std::sync::Arc;

use hutong_core::alarm::AlarmCommand;
use hutong_core::live::{AlarmKind, PatrolReminder};
use hutong_core::patrol::{CheckIn, CheckInOutcome, PatrolCommand, PatrolError, PatrolEvent, PatrolRoute, RouteDefinition};
use hutong_core::{CheckpointId, CommunityId, DeviceId, RouteId};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};

use crate::clock::Clock;
use crate::directory::Directory;
use crate::hub::LiveHub;
use crate::journal::Journal;
use crate::journaled::{Journaled, StreamId};

pub enum PatrolMsg {
    /// The office sets or changes the route and its plan.
    Define(RouteDefinition, RpcReplyPort<Result<(), PatrolError>>),
    /// A guard scanned a checkpoint (planned, or on an unplanned round).
    CheckIn { check_in: CheckIn, unplanned: bool, reply: RpcReplyPort<Result<CheckInOutcome, PatrolError>> },
    /// A guard adds a note and photos to their own check-in (at `checkpoint`, scanned at `at`).
    Annotate { checkpoint: CheckpointId, at: chrono::DateTime<chrono::Utc>, by: String, note: Option<String>, photos: Vec<String>, reply: RpcReplyPort<Result<(), PatrolError>> },
    /// The route as it stands (definition, rounds under way, figures).
    Get(RpcReplyPort<PatrolRoute>),
    /// The timer: a window has closed, or a round's reminder is due.
    Settle,
}

pub struct PatrolArgs {
    pub community: CommunityId,
    pub route: RouteId,
    pub journal: Arc<dyn Journal>,
    /// Where the community's alarm desk is found (looked up per miss: the desk may have restarted).
    pub directory: Arc<Directory>,
    /// The wall's patrol panel.
    pub hub: Arc<LiveHub>,
    pub clock: Clock,
}

pub struct PatrolState {
    route: Journaled<PatrolRoute>,
    args: PatrolArgs,
    /// The timer set, and for when.
    armed: Option<(chrono::DateTime<chrono::Utc>, tokio::task::JoinHandle<()>)>,
    /// What the wall was last shown.
    shown: Option<hutong_core::live::PatrolTile>,
    /// The latest round its guards were reminded of (kept in memory: after a restart a round may
    /// be reminded of twice, never not at all).
    reminded: Option<chrono::DateTime<chrono::Utc>>,
}

pub struct PatrolRouteActor;

impl Actor for PatrolRouteActor {
    type Msg = PatrolMsg;
    type State = PatrolState;
    type Arguments = PatrolArgs;

    async fn pre_start(&self, myself: ActorRef<PatrolMsg>, args: PatrolArgs) -> Result<PatrolState, ActorProcessingErr> {
        let route = Journaled::recover(args.journal.clone(), StreamId::patrol(&args.community, &args.route), PatrolRoute::default, |_| {}).await?;
        // Whatever closed while the route was down is decided now.
        let _ = myself.cast(PatrolMsg::Settle);
        Ok(PatrolState { route, args, armed: None, shown: None, reminded: None })
    }

    async fn handle(&self, myself: ActorRef<PatrolMsg>, msg: PatrolMsg, state: &mut PatrolState) -> Result<(), ActorProcessingErr> {
        if state.route.quarantined().is_some() {
            return Ok(());
        }
        let now = state.args.clock.now();
        match msg {
            PatrolMsg::Define(definition, reply) => {
                let command = PatrolCommand::Define { route: state.args.route.clone(), definition, at: now };
                let answer = state.execute(&command).await?;
                let _ = reply.send(answer.map(drop));
            }
            PatrolMsg::CheckIn { check_in, unplanned, reply } => {
                let answer = state.execute(&PatrolCommand::CheckIn { check_in, received_at: now, unplanned }).await?;
                let _ = reply.send(answer.map(|events| CheckInOutcome::of(&events, state.route.state())));
            }
            PatrolMsg::Annotate { checkpoint, at, by, note, photos, reply } => {
                let answer = state.execute(&PatrolCommand::Annotate { checkpoint, at, by, note, photos }).await?;
                let _ = reply.send(answer.map(drop));
            }
            PatrolMsg::Get(reply) => {
                let _ = reply.send(state.route.state().clone());
            }
            PatrolMsg::Settle => {
                state.execute(&PatrolCommand::Settle { now }).await?.ok();
            }
        }
        state.remind();
        state.arm(&myself);
        state.show();
        Ok(())
    }

    async fn post_stop(&self, _myself: ActorRef<PatrolMsg>, state: &mut PatrolState) -> Result<(), ActorProcessingErr> {
        if let Some((_, timer)) = state.armed.take() {
            timer.abort();
        }
        Ok(())
    }
}

impl PatrolState {
    /// Decides, journals, applies; then tells the alarm desk of every miss. The events committed
    /// or the refusal is the answer; a journal failure stops the actor (its supervisor restarts
    /// it from the journal).
    async fn execute(&mut self, command: &PatrolCommand) -> Result<Result<Vec<PatrolEvent>, PatrolError>, ActorProcessingErr> {
        let events = match hutong_core::Aggregate::decide(self.route.state(), command) {
            Ok(events) => events,
            Err(refusal) => return Ok(Err(refusal)),
        };
        if events.is_empty() {
            return Ok(Ok(events));
        }
        let committed = self.route.commit(events, self.args.clock.now().timestamp_millis()).await?;
        let stream = self.route.stream().as_str().to_string();
        let definition = self.route.state().definition.clone();
        let name = definition.as_ref().map(|d| d.name.clone()).unwrap_or_default();
        let tz: chrono_tz::Tz = definition.and_then(|d| d.time_zone.parse().ok()).unwrap_or(chrono_tz::Asia::Shanghai);
        for (seq, event) in committed.numbered() {
            if let PatrolEvent::Missed { checkpoint, name: stop, closed, .. } = event {
                let Some(desk) = self.args.directory.alarm_desk(self.args.community.as_str()) else {
                    tracing::warn!(route = %self.args.route, "a patrol miss with no alarm desk running; it stays in the route's figures");
                    continue;
                };
                desk.seen(AlarmCommand::Raise {
                    kind: AlarmKind::PatrolMissed,
                    device: DeviceId::new(format!("patrol-{}-{checkpoint}", self.args.route)),
                    building: None,
                    at: *closed,
                    text: format!("巡更漏巡：{name} {stop}，{} 时段结束时未到", closed.with_timezone(&tz).format("%H:%M")),
                    source: (stream.clone(), seq),
                });
            }
        }
        Ok(Ok(committed.events))
    }

    /// The route's day on the wall, when it changed.
    fn show(&mut self) {
        if self.route.state().definition.is_none() {
            return;
        }
        let tile = self.route.state().tile(self.args.route.as_str(), self.args.clock.now());
        if self.shown.as_ref() != Some(&tile) {
            self.args.hub.publish_patrol(&self.args.community, tile.clone());
            self.shown = Some(tile);
        }
    }

    /// Reminds the guards of each round whose reminder is due (T3): on the patrol phones.
    fn remind(&mut self) {
        let Some(definition) = &self.route.state().definition else { return };
        let now = self.args.clock.now();
        while let Some((at, round)) = definition.next_reminder(self.reminded.map_or(now, |r| r.max(now))) {
            if at > now {
                break;
            }
            let reminder = PatrolReminder {
                route: self.args.route.to_string(),
                name: definition.name.clone(),
                start: round,
                first: definition.stops.first().map(|s| s.name.clone()).unwrap_or_default(),
                guards: definition.plan.guards.iter().cloned().collect(),
            };
            self.args.hub.publish_patrol_reminder(&self.args.community, reminder);
            self.reminded = Some(round);
        }
    }

    /// One timer: the next window to close or reminder due, whichever comes first (set again
    /// only when that changed).
    fn arm(&mut self, myself: &ActorRef<PatrolMsg>) {
        let state = self.route.state();
        let now = self.args.clock.now();
        let reminder = state.definition.as_ref().and_then(|d| d.next_reminder(self.reminded.map_or(now, |r| r.max(now)))).map(|(at, _)| at);
        let next = match (state.next_close(), reminder) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        if self.armed.as_ref().map(|(at, _)| *at) == next {
            return;
        }
        if let Some((_, timer)) = self.armed.take() {
            timer.abort();
        }
        if let Some(due) = next {
            let wait = (due - now).to_std().unwrap_or_default();
            let me = myself.clone();
            let timer = tokio::spawn(async move {
                tokio::time::sleep(wait).await;
                let _ = me.cast(PatrolMsg::Settle);
            });
            self.armed = Some((due, timer));
        }
    }
}

/// Why a check-in counted on no route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotCounted {
    /// No route of the community passes the checkpoint.
    NoRoute,
    /// The refusal that says most: a late or repeated scan over "not in a window".
    Refused(PatrolError),
    /// A route's actor did not answer in time.
    Unavailable,
}

/// How long a check-in waits for a route's actor.
const CHECK_IN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Offers a check-in — a phone's scan or a reader's tag — to each route of the community until
/// one counts it (a checkpoint may be on several routes; each judges its own windows).
pub async fn offer_check_in(directory: &Directory, community: &str, check_in: CheckIn, unplanned: bool) -> Result<(RouteId, CheckInOutcome), NotCounted> {
    let site = directory.patrol_site(community).ok_or(NotCounted::Unavailable)?;
    let routes: Vec<RouteId> = site.read().routes.iter().cloned().collect();
    let mut refusals = Vec::new();
    for route in routes {
        let actor = directory.route(community, route.as_str()).ok_or(NotCounted::Unavailable)?;
        let offered = check_in.clone();
        let answer = match actor.call(|reply| PatrolMsg::CheckIn { check_in: offered, unplanned, reply }, Some(CHECK_IN_TIMEOUT)).await {
            Ok(ractor::rpc::CallResult::Success(answer)) => answer,
            _ => return Err(NotCounted::Unavailable),
        };
        match answer {
            Ok(outcome) => return Ok((route, outcome)),
            // A route that does not pass this checkpoint (or is not set yet) has nothing to say about it.
            Err(PatrolError::UnknownCheckpoint(_) | PatrolError::NotDefined) => {}
            Err(refusal) => refusals.push(refusal),
        }
    }
    refusals.sort_by_key(|r| match r {
        PatrolError::RoundEnded | PatrolError::AlreadyCheckedIn => 0,
        PatrolError::NotAssigned(_) => 1,
        PatrolError::NotInWindow { .. } => 3,
        _ => 2,
    });
    Err(refusals.into_iter().next().map_or(NotCounted::NoRoute, NotCounted::Refused))
}
