//! `DeviceActor`: one per meter, gate or barrier. It asks `core` what a signal means, appends the
//! resulting events to the journal, and only once the journal confirms applies them, publishes
//! them, tells its building when its health changed, and answers the bridge's ack.
//!
//! Liveness is a timer of its own, not a sweep: one pending timer per awake device, re-armed for
//! the moment the device would have been silent for a whole heartbeat interval; a sleeping
//! device's deadline waits in its community's timer wheel instead (see [`crate::directory`]).

use std::sync::{Arc, Weak};
use std::time::Duration;

use chrono::{DateTime, Utc};
use hutong_core::device::{DeviceCommand, DeviceError, DeviceEvent, DeviceHealth, DeviceSpec, DeviceState};
use hutong_core::DeviceId;
use hutong_core::alarm::AlarmCommand;
use hutong_core::live::{AlarmKind, DeviceView, LiveBody, LiveEvent};
use hutong_core::meter_rules::MeterContext;
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::building::BuildingMsg;
use crate::clock::Clock;
use crate::directory::Directory;
use crate::hub::LiveHub;
use crate::journal::Journal;
use crate::journaled::{Journaled, StreamId};

/// How a signal from a device ended; the bridge acks the broker once it hears this.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IngestOutcome {
    /// Journaled and applied.
    Applied,
    /// Already seen (a QoS 1 redelivery); nothing changed.
    Duplicate,
    /// The device sent something its kind cannot take; nothing changed.
    Refused(DeviceError),
}

pub type Ack = oneshot::Sender<IngestOutcome>;

pub enum DeviceMsg {
    /// A signal from the device; `ack` hears the outcome once the journal holds it.
    Signal(DeviceCommand, Option<Ack>),
    /// Its heartbeat deadline came while it slept (from its community's timer wheel).
    Due,
    /// Its own heartbeat timer fired.
    HeartbeatDue,
    /// Its own idle check: asleep again if nothing came for [`IDLE_AFTER`].
    Idle,
    /// Tell this building (a restarted building actor) the device's health again.
    ReportHealth(ActorRef<BuildingMsg>),
    /// The device as the API shows it.
    Get(RpcReplyPort<DeviceView>),
    /// Its community's zone or meter rules changed.
    Context(MeterContext),
    /// Its registration changed (moved, another heartbeat interval), with its new building's actor.
    Respec(DeviceSpec, Option<ActorRef<BuildingMsg>>),
    /// Out of service: leave the screens and stop for good.
    Retire,
    /// Fail as an infrastructure failure would, so supervision can be tested (tests only).
    #[cfg(feature = "test-hooks")]
    Crash,
}

impl DeviceMsg {
    /// Sent by the actor to itself, not through the directory (not counted there).
    fn own(&self) -> bool {
        matches!(self, DeviceMsg::HeartbeatDue | DeviceMsg::Idle)
    }
}

/// An awake device with nothing to do for this long gives its state back to the directory and
/// stops; its next message wakes it again (a spawn, no replay).
pub const IDLE_AFTER: Duration = Duration::from_secs(120);

/// The reason an actor stops when it goes back to sleep: its supervisor does not restart it.
pub const HIBERNATED: &str = "hibernated";

/// The reason an actor stops when its device is retired: its supervisor does not restart it.
pub const RETIRED: &str = "retired";

/// Where a sleeping device's heartbeat deadline is kept (its community's timer wheel).
pub type Wheel = tokio::sync::mpsc::UnboundedSender<(DeviceId, Instant)>;

/// What every device of a community shares: where it journals, publishes, sleeps, finds its
/// alarm desk, and the community's zone and meter rules.
#[derive(Clone)]
pub struct DeviceLinks {
    pub journal: Arc<dyn Journal>,
    pub hub: Arc<LiveHub>,
    pub clock: Clock,
    pub wheel: Wheel,
    /// Weak: the directory keeps sleeping devices.
    pub directory: Weak<Directory>,
    pub context: MeterContext,
}

pub struct DeviceArgs {
    /// The state it slept with; `None`: recover it from the journal (a restart after a failure).
    pub resume: Option<Box<DeviceActorState>>,
    pub spec: DeviceSpec,
    /// The building actor health changes are told to (the supervisor's, as spawned).
    pub building: Option<ActorRef<BuildingMsg>>,
    pub links: DeviceLinks,
    pub directory: Arc<Directory>,
}

/// A device's life, awake or asleep: what it holds between messages. Asleep, this is all it costs
/// (kept by the [`Directory`]).
pub struct DeviceActorState {
    device: Journaled<DeviceState>,
    /// When this incarnation started: silence is measured from here until the device speaks.
    started: DateTime<Utc>,
    timer_armed: bool,
    reported: Option<DeviceHealth>,
    hub: Arc<LiveHub>,
    building: Option<ActorRef<BuildingMsg>>,
    clock: Clock,
    wheel: Wheel,
    /// Where its community's alarm desk is found (weak: the directory keeps sleeping devices).
    directory: Weak<Directory>,
}

/// The actor's own state around the device's life.
pub struct Awake {
    /// `None` once it went back to sleep (it is stopping).
    life: Option<Box<DeviceActorState>>,
    directory: Arc<Directory>,
    /// Messages taken that came through the directory (compared with what it cast, to sleep).
    received: u64,
    last_active: Instant,
    idle_armed: bool,
}

pub struct DeviceActor;

impl Actor for DeviceActor {
    type Msg = DeviceMsg;
    type State = Awake;
    type Arguments = DeviceArgs;

    async fn pre_start(&self, myself: ActorRef<DeviceMsg>, args: DeviceArgs) -> Result<Awake, ActorProcessingErr> {
        let mut life = match args.resume {
            Some(life) => life,
            None => Box::new(DeviceActorState::recover(args.spec, args.building, &args.links).await?),
        };
        // Timers of a former life were its actor's; this one arms its own.
        life.timer_armed = false;
        life.arm_timer(&myself);
        let mut awake = Awake { life: Some(life), directory: args.directory, received: 0, last_active: Instant::now(), idle_armed: false };
        awake.arm_idle(&myself);
        Ok(awake)
    }

    async fn handle(&self, myself: ActorRef<DeviceMsg>, msg: DeviceMsg, awake: &mut Awake) -> Result<(), ActorProcessingErr> {
        if !msg.own() {
            awake.received += 1;
            awake.last_active = Instant::now();
        }
        if matches!(msg, DeviceMsg::Idle) {
            awake.idle_armed = false;
            awake.rest(&myself);
            return Ok(());
        }
        let Some(state) = awake.life.as_deref_mut() else { return Ok(()) };
        // A quarantined device takes no signals (its state stops before a record it could not apply).
        if state.device.quarantined().is_some() && matches!(msg, DeviceMsg::Signal(..) | DeviceMsg::HeartbeatDue | DeviceMsg::Due) {
            return Ok(());
        }
        match msg {
            DeviceMsg::Signal(command, ack) => {
                let outcome = match state.device.state().decide(&command) {
                    Err(refusal) => IngestOutcome::Refused(refusal),
                    Ok(events) if events.is_empty() => IngestOutcome::Duplicate,
                    Ok(events) => {
                        state.commit(events).await?;
                        IngestOutcome::Applied
                    }
                };
                if let Some(ack) = ack {
                    let _ = ack.send(outcome);
                }
                state.arm_timer(&myself);
            }
            DeviceMsg::HeartbeatDue => {
                state.timer_armed = false;
                state.check_silence(&myself).await?;
            }
            DeviceMsg::Due => state.check_silence(&myself).await?,
            DeviceMsg::ReportHealth(building) => state.report_to(building),
            DeviceMsg::Get(reply) => {
                let _ = reply.send(state.view());
            }
            DeviceMsg::Context(context) => state.set_context(context),
            DeviceMsg::Retire => {
                state.leave();
                myself.stop(Some(RETIRED.into()));
            }
            DeviceMsg::Respec(spec, building) => {
                state.respec(spec, building);
                state.timer_armed = false;
                state.arm_timer(&myself);
            }
            DeviceMsg::Idle => {}
            #[cfg(feature = "test-hooks")]
            DeviceMsg::Crash => return Err("crash requested".into()),
        }
        awake.arm_idle(&myself);
        Ok(())
    }
}

impl Awake {
    fn arm_idle(&mut self, myself: &ActorRef<DeviceMsg>) {
        if self.idle_armed {
            return;
        }
        self.idle_armed = true;
        let wait = IDLE_AFTER.saturating_sub(self.last_active.elapsed());
        myself.send_after(wait, || DeviceMsg::Idle);
    }

    /// Back to sleep when idle long enough and nothing waits in the mailbox; otherwise later.
    fn rest(&mut self, myself: &ActorRef<DeviceMsg>) {
        let Some(life) = self.life.as_deref() else { return };
        if self.last_active.elapsed() < IDLE_AFTER {
            self.arm_idle(myself);
            return;
        }
        let spec = &life.device.state().spec;
        let (community, device) = (spec.community.clone(), spec.id.clone());
        let (deadline, wheel) = (life.deadline(), life.wheel.clone());
        let slot = &mut self.life;
        if self.directory.hibernate(&community, &device, myself.get_id(), self.received, || slot.take()) {
            if let Some(at) = deadline {
                let _ = wheel.send((device, at));
            }
            myself.stop(Some(HIBERNATED.into()));
        } else {
            self.arm_idle(myself);
        }
    }
}

impl DeviceActorState {
    /// Folds the device's journal and shows it on the hub and to its building; asleep until it
    /// is spoken to or its heartbeat deadline comes.
    pub(crate) async fn recover(spec: DeviceSpec, building: Option<ActorRef<BuildingMsg>>, links: &DeviceLinks) -> Result<Self, crate::journal::JournalError> {
        let stream = StreamId::device(&spec.community, &spec.id);
        // The registry may have changed since the snapshot (heartbeat interval, building, the
        // community's zone and rules); it wins.
        let settle = |d: &mut DeviceState| {
            d.spec = spec.clone();
            d.context = links.context.clone();
        };
        let device = Journaled::recover(links.journal.clone(), stream, || DeviceState::new(spec.clone()), settle).await?;
        let l = links.clone();
        let mut state = DeviceActorState {
            device,
            started: l.clock.now(),
            timer_armed: false,
            reported: None,
            hub: l.hub,
            building,
            clock: l.clock,
            wheel: l.wheel,
            directory: l.directory,
        };
        state.hub.put_device(&state.device.state().spec.community, state.view());
        state.report_health();
        Ok(state)
    }

    /// When its silence will have lasted a whole heartbeat interval (`None` once offline).
    pub(crate) fn deadline(&self) -> Option<Instant> {
        let device = self.device.state();
        if device.offline {
            return None;
        }
        let quiet_since = device.last_seen.map_or(self.started, |seen| seen.max(self.started));
        let wait = (quiet_since + device.heartbeat() - self.clock.now()).to_std().unwrap_or(Duration::ZERO);
        Some(Instant::now() + wait)
    }

    pub(crate) fn set_context(&mut self, context: MeterContext) {
        self.device.settle(|d| d.context = context);
    }

    /// Moved or re-timed: the old building forgets it, the new one hears its health, the
    /// screens see where it is now.
    pub(crate) fn respec(&mut self, spec: DeviceSpec, building: Option<ActorRef<BuildingMsg>>) {
        if let Some(old) = &self.building
            && self.device.state().spec.building != spec.building
        {
            let _ = old.cast(BuildingMsg::DeviceGone(spec.id.clone()));
        }
        self.device.settle(|d| d.spec = spec);
        self.building = building;
        self.reported = None;
        self.report_health();
        self.hub.put_device(&self.device.state().spec.community, self.view());
    }

    /// Asleep with a changed heartbeat: its deadline moves in the wheel.
    pub(crate) fn rearm_wheel(&self) {
        if let Some(at) = self.deadline() {
            let _ = self.wheel.send((self.device.state().spec.id.clone(), at));
        }
    }

    /// Retired: its building forgets it and the screens no longer show it.
    pub(crate) fn leave(&self) {
        let spec = &self.device.state().spec;
        if let Some(building) = &self.building {
            let _ = building.cast(BuildingMsg::DeviceGone(spec.id.clone()));
        }
        self.hub.remove_device(&spec.community, &spec.id);
    }

    pub(crate) fn report_to(&mut self, building: ActorRef<BuildingMsg>) {
        self.building = Some(building);
        self.reported = None;
        self.report_health();
    }

    async fn check_silence(&mut self, myself: &ActorRef<DeviceMsg>) -> Result<(), ActorProcessingErr> {
        let command = DeviceCommand::CheckSilence { now: self.clock.now(), quiet_since: self.started };
        let events = self.device.state().decide(&command)?;
        self.commit(events).await?;
        self.arm_timer(myself);
        Ok(())
    }

    /// Journal first; apply, publish and report only what the journal confirmed.
    async fn commit(&mut self, events: Vec<DeviceEvent>) -> Result<(), ActorProcessingErr> {
        if events.is_empty() {
            return Ok(());
        }
        let committed = self.device.commit(events, self.clock.now().timestamp_millis()).await?;
        let stream = self.device.stream().as_str();
        let spec = &self.device.state().spec;
        let live: Vec<LiveEvent> = committed
            .numbered()
            .map(|(seq, event)| LiveEvent {
                community: spec.community.clone(),
                stream: stream.to_string(),
                seq,
                body: LiveBody::Device {
                    device: spec.id.clone(),
                    device_kind: spec.kind,
                    building: spec.building.clone(),
                    house: spec.house.clone(),
                    event: event.clone(),
                },
            })
            .collect();
        self.tell_alarm_desk(&live);
        self.judge_zero_use(&live);
        self.check_in_tags(&committed.events);
        self.hub.publish_device(live, self.view());
        self.report_health();
        Ok(())
    }

    /// What the alarm desk must hear: a condition seen, or an offline device heard again.
    fn tell_alarm_desk(&self, live: &[LiveEvent]) {
        let spec = &self.device.state().spec;
        let Some(desk) = self.directory.upgrade().and_then(|d| d.alarm_desk(spec.community.as_str())) else { return };
        for event in live {
            if let Some(alarm) = event.alarm() {
                desk.seen(AlarmCommand::Raise {
                    kind: alarm.kind,
                    device: alarm.device,
                    building: alarm.building,
                    at: alarm.at,
                    text: alarm.text,
                    source: (alarm.stream, alarm.seq),
                });
            } else if let LiveBody::Device { event: DeviceEvent::CameBackOnline { at }, .. } = &event.body {
                let note = "设备已恢复上报 / the device is reporting again".to_string();
                desk.seen(AlarmCommand::Clear { kind: AlarmKind::DeviceOffline, device: spec.id.clone(), at: *at, note });
            }
        }
    }

    /// M4: a meter of a home that used nothing in a whole month raises an alarm when the home was
    /// lived in every day of it — which only the building's book knows, so the book is asked on
    /// a task of its own (the meter's next reading does not wait for it).
    fn judge_zero_use(&self, live: &[LiveEvent]) {
        let spec = &self.device.state().spec;
        let (Some(house), Some(building)) = (spec.house.clone(), self.building.clone()) else { return };
        for event in live {
            let LiveBody::Device { event: DeviceEvent::MonthClosed { signal, year, month, used, .. }, .. } = &event.body else { continue };
            let Some((first, last)) = hutong_core::meter_rules::month_span(*year, *month) else { continue };
            if !used.is_zero() {
                continue;
            }
            let Some(desk) = self.directory.upgrade().and_then(|d| d.alarm_desk(spec.community.as_str())) else { return };
            let text = format!("{} {} 所在房屋 {house} 入住中，{year}年{month}月用量为零", spec.kind.label_zh(), spec.id);
            let raise = AlarmCommand::Raise { kind: AlarmKind::ZeroUse, device: spec.id.clone(), building: spec.building.clone(), at: signal.at, text, source: (event.stream.clone(), event.seq) };
            let (house, building) = (house.clone(), building.clone());
            tokio::spawn(async move {
                let lived_in = building.call(|reply| BuildingMsg::LivedIn(house, first, last, reply), Some(Duration::from_secs(10))).await;
                if matches!(lived_in, Ok(ractor::rpc::CallResult::Success(true))) {
                    desk.seen(raise);
                }
            });
        }
    }

    /// A patrol reader's tag reads, each offered to the community's routes as a check-in by the
    /// reader (on its own task: the reader's next message does not wait for the routes). The
    /// read is in the reader's stream already; what a route made of it is in the route's.
    fn check_in_tags(&self, events: &[DeviceEvent]) {
        let spec = &self.device.state().spec;
        let Some(directory) = self.directory.upgrade() else { return };
        for event in events {
            let DeviceEvent::TagRead { signal, tag } = event else { continue };
            let (community, device, at, tag) = (spec.community.to_string(), spec.id.to_string(), signal.at, tag.clone());
            let directory = directory.clone();
            tokio::spawn(async move {
                let checkpoint = directory.patrol_site(&community).and_then(|site| site.read().by_tag(&tag).map(|c| c.id.clone()));
                let Some(checkpoint) = checkpoint else {
                    tracing::warn!(%community, %device, %tag, "a patrol reader read a tag fixed at no checkpoint");
                    return;
                };
                let name = format!("巡更棒 {device}");
                let check_in = hutong_core::patrol::CheckIn { checkpoint, at, by: device.clone(), name, note: None, photos: Vec::new(), left_at: None };
                match crate::patrol::offer_check_in(&directory, &community, check_in, false).await {
                    Ok((route, outcome)) => tracing::debug!(%community, %device, %route, ?outcome, "a patrol reader's read counted"),
                    Err(not_counted) => tracing::info!(%community, %device, %tag, reason = ?not_counted, "a patrol reader's read counted on no route"),
                }
            });
        }
    }

    fn report_health(&mut self) {
        let device = self.device.state();
        let health = device.health();
        if self.reported == Some(health) {
            return;
        }
        if let Some(actor) = &self.building {
            if actor.cast(BuildingMsg::DeviceHealth(device.spec.id.clone(), health)).is_ok() {
                self.reported = Some(health);
            }
        }
    }

    /// One pending timer at a time, due when the device will have been quiet a whole interval.
    fn arm_timer(&mut self, myself: &ActorRef<DeviceMsg>) {
        if self.timer_armed {
            return;
        }
        let Some(due) = self.deadline() else { return };
        self.timer_armed = true;
        myself.send_after(due.saturating_duration_since(Instant::now()), || DeviceMsg::HeartbeatDue);
    }

    fn view(&self) -> DeviceView {
        let d = self.device.state();
        DeviceView {
            id: d.spec.id.clone(),
            kind: d.spec.kind,
            building: d.spec.building.clone(),
            house: d.spec.house.clone(),
            health: d.health(),
            last_value: d.last_value,
            last_seen: d.last_seen,
            last_device_seq: d.last_seq,
            readings: d.readings,
            journal_seq: self.device.seq(),
        }
    }
}
