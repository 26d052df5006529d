//! `DeviceActor`: one per meter, gate or barrier. It asks `core` what a signal means, appends the
//! resulting events to the journal, and only once the journal confirms applies them, publishes
//! them, tells its building when its health changed, and answers the bridge's ack.
//!
//! Liveness is a timer of its own, not a sweep: one pending timer per device, re-armed for the
//! moment the device would have been silent for a whole heartbeat interval.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use hutong_core::device::{DeviceCommand, DeviceError, DeviceEvent, DeviceHealth, DeviceSpec, DeviceState};
use hutong_core::live::{DeviceView, LiveBody, LiveEvent};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use tokio::sync::oneshot;

use crate::building::BuildingMsg;
use crate::clock::Clock;
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
    /// The heartbeat timer fired.
    HeartbeatDue,
    /// Tell this building (a restarted building actor) the device's health again.
    ReportHealth(ActorRef<BuildingMsg>),
    /// The device as the API shows it.
    Get(RpcReplyPort<DeviceView>),
    /// Fail as an infrastructure failure would, so supervision can be tested (tests only).
    #[cfg(feature = "test-hooks")]
    Crash,
}

pub struct DeviceArgs {
    pub spec: DeviceSpec,
    pub journal: Arc<dyn Journal>,
    pub hub: Arc<LiveHub>,
    /// The building actor health changes are told to (the supervisor's, as spawned).
    pub building: Option<ActorRef<BuildingMsg>>,
    pub clock: Clock,
}

pub struct DeviceActorState {
    device: Journaled<DeviceState>,
    /// When this incarnation started: silence is measured from here until the device speaks.
    started: DateTime<Utc>,
    timer_armed: bool,
    reported: Option<DeviceHealth>,
    hub: Arc<LiveHub>,
    building: Option<ActorRef<BuildingMsg>>,
    clock: Clock,
}

pub struct DeviceActor;

impl Actor for DeviceActor {
    type Msg = DeviceMsg;
    type State = DeviceActorState;
    type Arguments = DeviceArgs;

    async fn pre_start(&self, myself: ActorRef<DeviceMsg>, args: DeviceArgs) -> Result<DeviceActorState, ActorProcessingErr> {
        let stream = StreamId::device(&args.spec.community, &args.spec.id);
        let spec = args.spec;
        // The registry may have changed since the snapshot (heartbeat interval, building); it wins.
        let device = Journaled::recover(args.journal, stream, || DeviceState::new(spec.clone()), |d| d.spec = spec.clone()).await?;
        let mut state = DeviceActorState {
            device,
            started: args.clock.now(),
            timer_armed: false,
            reported: None,
            hub: args.hub,
            building: args.building,
            clock: args.clock,
        };
        state.hub.put_device(&state.device.state().spec.community, state.view());
        state.report_health();
        state.arm_timer(&myself);
        Ok(state)
    }

    async fn handle(&self, myself: ActorRef<DeviceMsg>, msg: DeviceMsg, state: &mut DeviceActorState) -> Result<(), ActorProcessingErr> {
        // A quarantined device takes no signals (its state stops before a record it could not apply).
        if state.device.quarantined().is_some() && matches!(msg, DeviceMsg::Signal(..) | DeviceMsg::HeartbeatDue) {
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
                let command = DeviceCommand::CheckSilence { now: state.clock.now(), quiet_since: state.started };
                let events = state.device.state().decide(&command)?;
                state.commit(events).await?;
                state.arm_timer(&myself);
            }
            DeviceMsg::ReportHealth(building) => {
                state.building = Some(building);
                state.reported = None;
                state.report_health();
            }
            DeviceMsg::Get(reply) => {
                let _ = reply.send(state.view());
            }
            #[cfg(feature = "test-hooks")]
            DeviceMsg::Crash => return Err("crash requested".into()),
        }
        Ok(())
    }
}

impl DeviceActorState {
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
        self.hub.publish_device(live, self.view());
        self.report_health();
        Ok(())
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
        let device = self.device.state();
        if self.timer_armed || device.offline {
            return;
        }
        let quiet_since = device.last_seen.map_or(self.started, |seen| seen.max(self.started));
        let due = quiet_since + device.heartbeat();
        let wait = (due - self.clock.now()).to_std().unwrap_or(Duration::ZERO);
        self.timer_armed = true;
        myself.send_after(wait, || DeviceMsg::HeartbeatDue);
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
