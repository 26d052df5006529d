//! `AlarmDeskActor`: one per community, a child of its supervisor. It owns the community's
//! [`AlarmDesk`] (journaled in `alarms/{community}`): device actors tell it what they saw (an
//! anomaly, a forced gate, a device gone silent or heard again), people acknowledge and resolve
//! through [`AlarmDeskRef`], and every change goes to the hub — the wall's open alarms with their
//! age, count and who is on them.
//!
//! A device's event is journaled in the device's stream first and told here afterwards; a crash
//! between the two loses the alarm record, not the event (the wall's feed and the device's state
//! still show it), and the next occurrence of the condition raises it again. What devices tell
//! the desk is gathered and committed in batches (one journal write per burst, not per alarm).

use std::sync::Arc;
use std::time::Duration;

use hutong_core::CommunityId;
use hutong_core::alarm::{AlarmCommand, AlarmDesk, AlarmError, AlarmEvent, AlarmRecord, Handler};
use hutong_core::live::{LiveBody, LiveEvent};
use ractor::rpc::CallResult;
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};

use crate::clock::Clock;
use crate::directory::Directory;
use crate::hub::LiveHub;
use crate::journal::Journal;
use crate::journaled::{Journaled, StreamId};

pub enum AlarmMsg {
    /// From a device actor: a condition seen (`Raise`) or ended (`Clear`). Nobody waits.
    Seen(AlarmCommand),
    /// From a person: `Acknowledge` or `Resolve`; answers with the alarm after it.
    Handle(AlarmCommand, RpcReplyPort<Result<AlarmRecord, AlarmError>>),
    /// To itself: decide and journal what was seen since the last flush, as one commit.
    Flush,
}

pub struct AlarmDeskArgs {
    pub community: CommunityId,
    pub journal: Arc<dyn Journal>,
    pub hub: Arc<LiveHub>,
    pub clock: Clock,
    /// Where the community's service desk is found: some alarms open a work order by themselves.
    pub directory: Arc<Directory>,
}

pub struct AlarmDeskState {
    desk: Journaled<AlarmDesk>,
    /// What devices and routes told the desk since its last commit (see [`AlarmMsg::Flush`]).
    seen: Vec<AlarmCommand>,
    flush_asked: bool,
    community: CommunityId,
    hub: Arc<LiveHub>,
    clock: Clock,
    directory: Arc<Directory>,
    /// Alarms waiting to open their work order (an offline device's day).
    waiting: Vec<tokio::task::JoinHandle<()>>,
}

pub struct AlarmDeskActor;

impl Actor for AlarmDeskActor {
    type Msg = AlarmMsg;
    type State = AlarmDeskState;
    type Arguments = AlarmDeskArgs;

    async fn pre_start(&self, _myself: ActorRef<AlarmMsg>, args: AlarmDeskArgs) -> Result<AlarmDeskState, ActorProcessingErr> {
        let desk = Journaled::recover(args.journal, StreamId::alarms(&args.community), AlarmDesk::default, |_| {}).await?;
        args.hub.put_alarms(&args.community, desk.state().open().into_iter().cloned(), desk.state().resolved().cloned());
        let mut state = AlarmDeskState { desk, seen: Vec::new(), flush_asked: false, community: args.community, hub: args.hub, clock: args.clock, directory: args.directory, waiting: Vec::new() };
        // Offline devices nobody has taken wait for their day again.
        let untaken: Vec<AlarmRecord> = state.desk.state().open().into_iter().filter(|a| a.kind == hutong_core::live::AlarmKind::DeviceOffline && a.acknowledged.is_none()).cloned().collect();
        for alarm in untaken {
            state.order_when_due(alarm);
        }
        Ok(state)
    }

    async fn post_stop(&self, _myself: ActorRef<AlarmMsg>, state: &mut AlarmDeskState) -> Result<(), ActorProcessingErr> {
        for waiting in state.waiting.drain(..) {
            waiting.abort();
        }
        Ok(())
    }

    async fn handle(&self, myself: ActorRef<AlarmMsg>, msg: AlarmMsg, state: &mut AlarmDeskState) -> Result<(), ActorProcessingErr> {
        // A quarantined desk takes no changes (its state stops before a record it could not apply).
        if state.desk.quarantined().is_some() {
            return Ok(());
        }
        match msg {
            // Gathered, not committed one by one: the flush is queued behind whatever is in the
            // mailbox already, and what arrives while it commits waits for the next. A burst — ten
            // thousand patrol windows closing in one second — is a handful of journal writes.
            AlarmMsg::Seen(command) => {
                state.seen.push(command);
                if !state.flush_asked {
                    state.flush_asked = myself.cast(AlarmMsg::Flush).is_ok();
                }
            }
            AlarmMsg::Flush => {
                state.flush_asked = false;
                state.flush(&myself).await?;
            }
            AlarmMsg::Handle(command, reply) => {
                // What was seen before the person's command is decided before it.
                while !state.seen.is_empty() {
                    state.flush(&myself).await?;
                }
                let answer = match hutong_core::Aggregate::decide(state.desk.state(), &command) {
                    Err(refusal) => Err(refusal),
                    Ok(events) => {
                        let no = command_no(&command);
                        state.commit(events).await?;
                        state.desk.state().get(no).cloned().ok_or(AlarmError::NoSuchAlarm(no))
                    }
                };
                let _ = reply.send(answer);
            }
        }
        Ok(())
    }
}

/// The most commands one flush decides (one journal write of bounded size).
const FLUSH_MAX: usize = 2_000;

fn command_no(command: &AlarmCommand) -> u64 {
    match command {
        AlarmCommand::Acknowledge { no, .. } | AlarmCommand::Resolve { no, .. } => *no,
        AlarmCommand::Raise { .. } | AlarmCommand::Clear { .. } | AlarmCommand::Gone { .. } => 0,
    }
}

impl AlarmDeskState {
    /// Decides up to [`FLUSH_MAX`] of what was seen, in order, and commits it at once; asks for
    /// another flush when more waits.
    async fn flush(&mut self, myself: &ActorRef<AlarmMsg>) -> Result<(), ActorProcessingErr> {
        let batch: Vec<AlarmCommand> = self.seen.drain(..self.seen.len().min(FLUSH_MAX)).collect();
        let events = self.desk.state().decide_seen(&batch);
        self.commit(events).await?;
        if !self.seen.is_empty() && !self.flush_asked {
            self.flush_asked = myself.cast(AlarmMsg::Flush).is_ok();
        }
        Ok(())
    }

    /// Journal first; publish each changed alarm as it now stands.
    async fn commit(&mut self, events: Vec<hutong_core::alarm::AlarmEvent>) -> Result<(), ActorProcessingErr> {
        if events.is_empty() {
            return Ok(());
        }
        let committed = self.desk.commit(events, self.clock.now().timestamp_millis()).await?;
        let stream = self.desk.stream().as_str();
        // Each changed alarm once, as it now stands, under the seq of its last event: a storm of
        // two thousand repeats in one commit is one line on the screens, not two thousand.
        // In seq order still: a screen takes a stream's events only in increasing seq.
        let last_seq: std::collections::BTreeMap<u64, u64> = committed.numbered().map(|(seq, event)| (event.no(), seq)).collect();
        let mut changed: Vec<(u64, u64)> = last_seq.into_iter().collect();
        changed.sort_by_key(|(_, seq)| *seq);
        let live: Vec<LiveEvent> = changed
            .into_iter()
            .filter_map(|(no, seq)| {
                let alarm = self.desk.state().get(no)?.clone();
                Some(LiveEvent { community: self.community.clone(), stream: stream.to_string(), seq, body: LiveBody::Alarm { alarm } })
            })
            .collect();
        self.hub.publish_alarms(live);
        self.open_orders(&committed.events);
        Ok(())
    }

    /// Alarms the community's rules say open a work order (a leak, a forced gate …): each new
    /// one opens its order, off the desk's path; the alarm is then acknowledged as the order's. An
    /// offline device waits the rules' hours first (see [`open_order_when_due`]).
    fn open_orders(&mut self, events: &[AlarmEvent]) {
        for event in events {
            if let AlarmEvent::Raised { alarm } = event {
                self.order_when_due(alarm.clone());
            }
        }
    }

    /// Spawns [`open_order_when_due`], kept so that a desk stopping takes its waits with it (a
    /// desk restarted waits again from its journal, once).
    fn order_when_due(&mut self, alarm: AlarmRecord) {
        self.waiting.retain(|w| !w.is_finished());
        self.waiting.push(tokio::spawn(open_order_when_due(self.directory.clone(), self.hub.clone(), self.community.clone(), self.clock, alarm)));
    }
}

/// Opens an alarm's work order when the community's rules say it opens one: at once, or — a
/// device gone offline — when it is still open and nobody has taken it the rules' hours after it
/// was raised. After a restart the desk calls this again for every open offline alarm nobody
/// has taken, so a day that ends while the server is down still opens its order.
async fn open_order_when_due(directory: Arc<Directory>, hub: Arc<LiveHub>, community: CommunityId, clock: Clock, alarm: AlarmRecord) {
    // The community puts its service desk in the directory before it starts the alarm desk.
    let rules = directory.service_desk(community.as_str()).map(|desk| desk.read().rules.clone());
    let Some(rules) = rules.filter(|r| r.alarm_orders.contains(&alarm.kind)) else { return };
    if alarm.kind == hutong_core::live::AlarmKind::DeviceOffline {
        let due = alarm.raised_at + chrono::TimeDelta::hours(i64::from(rules.offline_order_hours));
        tokio::time::sleep((due - clock.now()).to_std().unwrap_or_default()).await;
        let (open, _) = hub.alarms(community.as_str()).unwrap_or_default();
        if !open.iter().any(|a| a.no == alarm.no && a.acknowledged.is_none()) {
            return;
        }
    }
    let at = clock.now();
    let registration = crate::work_order::from_alarm(&alarm);
    match crate::work_order::open_order(&directory, &community, registration, at).await {
        Ok(Ok(order)) => {
            let id = order.id.map(|id| id.to_string()).unwrap_or_default();
            let by = Handler { account: "system".into(), name: format!("工单 {id}") };
            if let Some(desk) = directory.alarm_desk(community.as_str()) {
                let _ = desk.handle(AlarmCommand::Acknowledge { no: alarm.no, by, at }).await;
            }
        }
        Ok(Err(refusal)) => tracing::error!(%community, alarm = alarm.no, %refusal, "an alarm's work order was refused"),
        Err(why) => tracing::error!(%community, alarm = alarm.no, %why, "an alarm's work order could not be opened"),
    }
}

/// How long a person waits for the desk before hearing "not available".
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// The typed way in to a community's alarm desk.
#[derive(Clone)]
pub struct AlarmDeskRef {
    actor: ActorRef<AlarmMsg>,
}

/// Why the desk did not answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeskUnavailable;

hutong_core::bilingual!(DeskUnavailable {
    DeskUnavailable => ("告警台暂时无法处理请求") / ("the alarm desk is not available right now"),
});

impl AlarmDeskRef {
    pub(crate) fn new(actor: ActorRef<AlarmMsg>) -> Self {
        Self { actor }
    }

    /// Acknowledge or resolve: the alarm after it, or why not.
    pub async fn handle(&self, command: AlarmCommand) -> Result<Result<AlarmRecord, AlarmError>, DeskUnavailable> {
        match self.actor.call(|reply| AlarmMsg::Handle(command, reply), Some(CALL_TIMEOUT)).await {
            Ok(CallResult::Success(answer)) => Ok(answer),
            _ => Err(DeskUnavailable),
        }
    }

    /// What a device (or another part of Hutong: a payment provider's notification) saw; nobody waits.
    pub fn seen(&self, command: AlarmCommand) {
        let _ = self.actor.cast(AlarmMsg::Seen(command));
    }
}
