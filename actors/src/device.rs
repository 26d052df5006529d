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
use crate::directory::Directory;
use crate::hub::LiveHub;
use crate::journal::{Append, Journal, SNAPSHOT_EVERY, Snapshot};

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
    /// Tell the building this device's health again (its building actor restarted).
    ReportHealth,
    /// The device as the API shows it.
    Get(RpcReplyPort<DeviceView>),
    /// Fail as an infrastructure failure would, so supervision can be tested.
    #[doc(hidden)]
    Crash,
}

pub struct DeviceArgs {
    pub spec: DeviceSpec,
    pub journal: Arc<dyn Journal>,
    pub hub: Arc<LiveHub>,
    pub directory: Arc<Directory>,
    pub clock: Clock,
}

pub struct DeviceActorState {
    device: DeviceState,
    /// Journal seq of the last event applied.
    seq: u64,
    /// When this incarnation started: silence is measured from here until the device speaks.
    started: DateTime<Utc>,
    timer_armed: bool,
    since_snapshot: u64,
    reported: Option<DeviceHealth>,
    journal: Arc<dyn Journal>,
    hub: Arc<LiveHub>,
    directory: Arc<Directory>,
    clock: Clock,
    stream: String,
}

pub struct DeviceActor;

/// The journal stream of a device.
pub fn stream_of(spec: &DeviceSpec) -> String {
    format!("device/{}/{}", spec.community, spec.id)
}

impl Actor for DeviceActor {
    type Msg = DeviceMsg;
    type State = DeviceActorState;
    type Arguments = DeviceArgs;

    async fn pre_start(&self, myself: ActorRef<DeviceMsg>, args: DeviceArgs) -> Result<DeviceActorState, ActorProcessingErr> {
        let stream = stream_of(&args.spec);
        let (mut device, mut seq) = match args.journal.load_snapshot(&stream).await? {
            Some(snap) => (serde_json::from_slice::<DeviceState>(&snap.payload)?, snap.seq),
            None => (DeviceState::new(args.spec.clone()), 0),
        };
        // The registry may have changed since the snapshot (heartbeat interval, building); it wins.
        device.spec = args.spec;
        let records = args.journal.replay(&stream, seq).await?;
        let since_snapshot = records.len() as u64;
        for record in records {
            let event: DeviceEvent = serde_json::from_slice(&record.payload)?;
            device.apply(&event);
            seq = record.seq;
        }
        let mut state = DeviceActorState {
            device,
            seq,
            started: args.clock.now(),
            timer_armed: false,
            since_snapshot,
            reported: None,
            journal: args.journal,
            hub: args.hub,
            directory: args.directory,
            clock: args.clock,
            stream,
        };
        state.hub.put_device(&state.device.spec.community, state.view());
        state.report_health();
        state.arm_timer(&myself);
        Ok(state)
    }

    async fn handle(&self, myself: ActorRef<DeviceMsg>, msg: DeviceMsg, state: &mut DeviceActorState) -> Result<(), ActorProcessingErr> {
        match msg {
            DeviceMsg::Signal(command, ack) => {
                let outcome = match state.device.decide(&command) {
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
                let events = state.device.decide(&command)?;
                state.commit(events).await?;
                state.arm_timer(&myself);
            }
            DeviceMsg::ReportHealth => {
                state.reported = None;
                state.report_health();
            }
            DeviceMsg::Get(reply) => {
                let _ = reply.send(state.view());
            }
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
        let payloads = events.iter().map(serde_json::to_vec).collect::<Result<Vec<_>, _>>()?;
        let at_ms = self.clock.now().timestamp_millis();
        // A conflict means another writer owns this stream or our view is stale: fail, and the
        // supervisor restarts us from the journal.
        let head = self.journal.append(Append { stream: self.stream.clone(), expected: self.seq, at_ms, payloads }).await?;
        let first = self.seq + 1;
        self.seq = head;
        let spec = &self.device.spec;
        let live: Vec<LiveEvent> = events
            .iter()
            .enumerate()
            .map(|(i, event)| LiveEvent {
                community: spec.community.clone(),
                stream: self.stream.clone(),
                seq: first + i as u64,
                body: LiveBody::Device {
                    device: spec.id.clone(),
                    device_kind: spec.kind,
                    building: spec.building.clone(),
                    house: spec.house.clone(),
                    event: event.clone(),
                },
            })
            .collect();
        for event in &events {
            self.device.apply(event);
        }
        self.since_snapshot += events.len() as u64;
        self.hub.publish_device(live, self.view());
        self.report_health();
        if self.since_snapshot >= SNAPSHOT_EVERY {
            self.since_snapshot = 0;
            self.snapshot();
        }
        Ok(())
    }

    /// Snapshots are an optimisation of replay: written in the background, never awaited.
    fn snapshot(&self) {
        let Ok(payload) = serde_json::to_vec(&self.device) else { return };
        let journal = self.journal.clone();
        let snapshot = Snapshot { stream: self.stream.clone(), seq: self.seq, payload };
        tokio::spawn(async move {
            if let Err(e) = journal.save_snapshot(snapshot).await {
                tracing::warn!(error = %e, "snapshot not saved; replay will start earlier");
            }
        });
    }

    fn report_health(&mut self) {
        let health = self.device.health();
        if self.reported == Some(health) {
            return;
        }
        let Some(building) = self.device.spec.building.as_ref() else { return };
        if let Some(actor) = self.directory.building(building) {
            if actor.cast(BuildingMsg::DeviceHealth(self.device.spec.id.clone(), health)).is_ok() {
                self.reported = Some(health);
            }
        }
    }

    /// One pending timer at a time, due when the device will have been quiet a whole interval.
    fn arm_timer(&mut self, myself: &ActorRef<DeviceMsg>) {
        if self.timer_armed || self.device.offline {
            return;
        }
        let quiet_since = self.device.last_seen.map_or(self.started, |seen| seen.max(self.started));
        let due = quiet_since + self.device.heartbeat();
        let wait = (due - self.clock.now()).to_std().unwrap_or(Duration::ZERO);
        self.timer_armed = true;
        myself.send_after(wait, || DeviceMsg::HeartbeatDue);
    }

    fn view(&self) -> DeviceView {
        let d = &self.device;
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
            journal_seq: self.seq,
        }
    }
}
