//! `WorkOrderActor`: one per work order (R1, W2, W3). It owns the order's [`WorkOrder`]
//! (journaled in `workorder/{community}/{order}`) and keeps one timer — the next instant the clock
//! changes something: the holder's time to acknowledge, the response or the completion deadline.
//! When it fires, the order decides at that instant: passed to the next person of the post, or
//! escalated one level, which raises an SLA-breach alarm on the community's desk at once and tells
//! the people of that level. No sweep looks for late orders; a restart re-arms the timer and
//! decides what passed meanwhile, each at its own instant.
//!
//! A completed repair in a private home with a charge becomes a bill in the house's book through
//! its building's actor; the order records the bill's number, and a restart before that retries
//! (the book issues an order's charge once, whatever is asked twice).

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;
use hutong_core::alarm::{AlarmCommand, Handler};
use hutong_core::book::{BillLine, BillQuery, BillSource, BookCommand, BookEvent};
use hutong_core::live::AlarmKind;
use hutong_core::work_order::{Breach, OrderCommand, OrderError, OrderEvent, Place, Registration, WorkOrder};
use hutong_core::{CommunityId, DeviceId, WorkOrderId};
use ractor::rpc::CallResult;
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};

use crate::clock::Clock;
use crate::directory::Directory;
use crate::hub::LiveHub;
use crate::journal::Journal;
use crate::journaled::{Journaled, StreamId};

pub enum OrderMsg {
    /// A person's step (or the registration); the reply is the order after it, or why not.
    Do(OrderCommand, RpcReplyPort<Result<WorkOrder, OrderError>>),
    /// The order as it stands.
    Get(RpcReplyPort<WorkOrder>),
    /// The timer: a deadline or a time to acknowledge has come.
    Tick,
    /// Put a completed repair's charge in the house's book (after completion, and after a
    /// restart that came before it was done).
    Bill,
}

/// The people around an order, from the organisation (the web layer's staff): who stands at each
/// level above a community's orders, and how to reach a person off the screens — the
/// notification adapter (log and webhook now; 企业微信 or SMS are further channels of it).
pub trait Staffing: Send + Sync + 'static {
    /// Level 1: the community's supervisors (its managers); level 2: the company's administrators.
    fn above(&self, community: &CommunityId, level: u8) -> Vec<Handler>;
    /// Tells a person of something that waits for them (the phone's socket tells them too).
    fn notify(&self, community: &CommunityId, to: &Handler, text: String) -> BoxFuture<'_, ()>;
}

/// Nobody above, nobody told (actor tests, benchmarks).
pub struct NoStaff;

impl Staffing for NoStaff {
    fn above(&self, _: &CommunityId, _: u8) -> Vec<Handler> {
        Vec::new()
    }
    fn notify(&self, _: &CommunityId, _: &Handler, _: String) -> BoxFuture<'_, ()> {
        Box::pin(std::future::ready(()))
    }
}

pub struct OrderArgs {
    pub community: CommunityId,
    pub order: WorkOrderId,
    pub journal: Arc<dyn Journal>,
    pub directory: Arc<Directory>,
    pub hub: Arc<LiveHub>,
    pub clock: Clock,
    pub staffing: Arc<dyn Staffing>,
    /// The community's time zone (deadlines on messages, a bill's date).
    pub time_zone: chrono_tz::Tz,
}

pub struct OrderState {
    order: Journaled<WorkOrder>,
    args: OrderArgs,
    armed: Option<(DateTime<Utc>, tokio::task::JoinHandle<()>)>,
}

pub struct WorkOrderActor;

impl Actor for WorkOrderActor {
    type Msg = OrderMsg;
    type State = OrderState;
    type Arguments = OrderArgs;

    async fn pre_start(&self, myself: ActorRef<OrderMsg>, args: OrderArgs) -> Result<OrderState, ActorProcessingErr> {
        let order = Journaled::recover(args.journal.clone(), StreamId::work_order(&args.community, &args.order), WorkOrder::default, |_| {}).await?;
        // What passed while the order was down is decided now; a charge not yet billed is billed.
        let _ = myself.cast(OrderMsg::Tick);
        if order.state().charge.is_some() && order.state().bill.is_none() {
            let _ = myself.cast(OrderMsg::Bill);
        }
        // On the screens' read model without an event: a hundred thousand orders starting up must
        // not flood every screen; screens start from the snapshot.
        if let Some(tile) = order.state().tile() {
            args.hub.put_work_order(&args.community, tile);
        }
        Ok(OrderState { order, args, armed: None })
    }

    async fn handle(&self, myself: ActorRef<OrderMsg>, msg: OrderMsg, state: &mut OrderState) -> Result<(), ActorProcessingErr> {
        if state.order.quarantined().is_some() {
            if let OrderMsg::Get(reply) = msg {
                let _ = reply.send(state.order.state().clone());
            }
            return Ok(());
        }
        match msg {
            OrderMsg::Do(command, reply) => {
                let answer = state.execute(&command, &myself).await?;
                let _ = reply.send(answer.map(|_| state.order.state().clone()));
            }
            OrderMsg::Get(reply) => {
                let _ = reply.send(state.order.state().clone());
            }
            OrderMsg::Tick => {
                let now = state.args.clock.now();
                state.execute(&OrderCommand::Tick { now }, &myself).await?.ok();
            }
            OrderMsg::Bill => state.bill(&myself).await?,
        }
        state.arm(&myself);
        Ok(())
    }

    async fn post_stop(&self, _myself: ActorRef<OrderMsg>, state: &mut OrderState) -> Result<(), ActorProcessingErr> {
        if let Some((_, timer)) = state.armed.take() {
            timer.abort();
        }
        Ok(())
    }
}

/// The system's own hand (an order an alarm opened; the clock).
pub fn system() -> Handler {
    Handler { account: "system".into(), name: "系统".into() }
}

impl OrderState {
    /// Decides, journals, applies; then tells whom each event concerns and shows the order.
    async fn execute(&mut self, command: &OrderCommand, myself: &ActorRef<OrderMsg>) -> Result<Result<(), OrderError>, ActorProcessingErr> {
        let events = match hutong_core::Aggregate::decide(self.order.state(), command) {
            Ok(events) => events,
            Err(refusal) => return Ok(Err(refusal)),
        };
        if events.is_empty() {
            return Ok(Ok(()));
        }
        let committed = self.order.commit(events, self.args.clock.now().timestamp_millis()).await?;
        let stream = self.order.stream().as_str().to_string();
        for (seq, event) in committed.numbered() {
            match event {
                OrderEvent::Dispatched { to, ack_by, .. } | OrderEvent::Passed { to, ack_by, .. } => {
                    let text = format!("【工单】{} 待你接单，请在 {} 前接单", self.brief(), self.local(*ack_by));
                    self.args.staffing.notify(&self.args.community, to, text).await;
                }
                OrderEvent::Escalated { breach, level, at } => self.escalate(*breach, *level, *at, (stream.clone(), seq)).await,
                OrderEvent::Completed { charge: Some(_), .. } => {
                    let _ = myself.cast(OrderMsg::Bill);
                }
                _ => {}
            }
        }
        self.show();
        Ok(Ok(()))
    }

    /// `wo-3 水电 · 1号楼1单元101`
    fn brief(&self) -> String {
        let o = self.order.state();
        let r = o.registration.as_ref();
        format!("{} {} · {}", self.args.order, r.map_or("", |r| r.category.as_str()), r.map_or("", |r| r.place_label.as_str()))
    }

    fn local(&self, at: DateTime<Utc>) -> String {
        at.with_timezone(&self.args.time_zone).format("%m-%d %H:%M").to_string()
    }

    /// A passed deadline: an SLA-breach alarm on the community's desk (at the deadline's
    /// instant, one per order and breach) and word to the people of the level it went up to.
    async fn escalate(&self, breach: Breach, level: u8, at: DateTime<Utc>, source: (String, u64)) {
        let to = if level >= hutong_core::work_order::TOP_LEVEL { "公司" } else { "主管" };
        let text = format!("工单超时：{}，{}，已上报{to}", self.brief(), breach.label_zh());
        match self.args.directory.alarm_desk(self.args.community.as_str()) {
            Some(desk) => desk.seen(AlarmCommand::Raise {
                kind: AlarmKind::SlaBreach,
                device: DeviceId::new(format!("workorder-{}-{breach:?}", self.args.order)),
                building: self.order.state().registration.as_ref().and_then(|r| r.building.clone()),
                at,
                text: text.clone(),
                source,
            }),
            None => tracing::warn!(order = %self.args.order, "an SLA breach with no alarm desk running; it stays in the order's history"),
        }
        for person in self.args.staffing.above(&self.args.community, level) {
            self.args.staffing.notify(&self.args.community, &person, text.clone()).await;
        }
    }

    /// The order on every screen that shows it.
    fn show(&self) {
        if let Some(tile) = self.order.state().tile() {
            self.args.hub.publish_work_order(&self.args.community, tile);
        }
    }

    /// The charge of a completed repair in a home, as a bill in the house's book; the order then
    /// records its number. A book that does not answer is asked again later.
    async fn bill(&mut self, myself: &ActorRef<OrderMsg>) -> Result<(), ActorProcessingErr> {
        let o = self.order.state();
        let (Some(charge), None, Some(registration), Some(completed)) = (o.charge, &o.bill, &o.registration, o.completed_at) else { return Ok(()) };
        let (Place::House { house }, Some(building)) = (&registration.place, &registration.building) else { return Ok(()) };
        let Some(book) = self.args.directory.building_ref(building) else {
            tracing::warn!(order = %self.args.order, %building, "the house's building is not running; the charge waits");
            return Ok(());
        };
        let local = completed.with_timezone(&self.args.time_zone).naive_local();
        let item = repair_item(&self.args.order);
        let line = BillLine {
            house: house.clone(),
            item: item.clone(),
            subject: "其他业务收入-维修".into(),
            period_start: local.date(),
            period_end: local.date(),
            amount: charge,
            external_no: Some(self.args.order.to_string()),
            remark: o.note.chars().take(100).collect(),
        };
        let by = o.history.iter().rev().find(|s| s.what.starts_with("回单")).map_or_else(|| "系统".to_string(), |s| s.by.clone());
        let issued = book.book(BookCommand::IssueBills { lines: vec![line], source: BillSource::Manual, by, at: local }).await;
        let found = match issued {
            Ok(Ok(events)) => {
                let fresh = events.iter().any(|e| matches!(e, BookEvent::BillsIssued { .. }));
                // Issued now or before (a retry): the book holds one bill for the order either way.
                let rows = book.find(BillQuery { house: Some(house.to_string()), item: Some(item), ..Default::default() }).await.ok();
                tracing::debug!(order = %self.args.order, fresh, "repair charge in the book");
                rows.and_then(|rows| rows.into_iter().next()).map(|row| row.no)
            }
            Ok(Err(refusal)) => {
                tracing::error!(order = %self.args.order, %refusal, "the house's book refused the repair charge");
                return Ok(());
            }
            Err(_) => None,
        };
        match found {
            Some(bill) => {
                let now = self.args.clock.now();
                self.execute(&OrderCommand::RecordBill { bill, at: now }, myself).await?.ok();
            }
            None => {
                // The book did not answer: ask again in a while (a message to the order itself).
                myself.send_after(BILL_RETRY, || OrderMsg::Bill);
            }
        }
        Ok(())
    }

    /// One timer: the next instant the clock changes something (set again only when that changed).
    fn arm(&mut self, myself: &ActorRef<OrderMsg>) {
        let next = self.order.state().next_due();
        if self.armed.as_ref().map(|(at, _)| *at) == next {
            return;
        }
        if let Some((_, timer)) = self.armed.take() {
            timer.abort();
        }
        if let Some(due) = next {
            let wait = (due - self.args.clock.now()).to_std().unwrap_or_default();
            let me = myself.clone();
            let timer = tokio::spawn(async move {
                tokio::time::sleep(wait).await;
                let _ = me.cast(OrderMsg::Tick);
            });
            self.armed = Some((due, timer));
        }
    }
}

/// What an alarm's own work order says: the alarm's sentence, at its device, in its building.
pub fn from_alarm(alarm: &hutong_core::alarm::AlarmRecord) -> Registration {
    let category = match alarm.kind {
        AlarmKind::Leak | AlarmKind::MeterSpike | AlarmKind::MeterBackwards | AlarmKind::UseOutOfRange | AlarmKind::ZeroUse => "水电",
        AlarmKind::GateAlarm => "门禁道闸",
        AlarmKind::DeviceOffline => "设备",
        AlarmKind::PatrolMissed => "安防",
        AlarmKind::SlaBreach | AlarmKind::PaymentAnomaly => "客服",
    };
    Registration {
        kind: hutong_core::work_order::OrderKind::Repair,
        category: category.into(),
        description: format!("告警 #{}：{}", alarm.no, alarm.text).chars().take(hutong_core::work_order::MAX_TEXT).collect(),
        photos: Vec::new(),
        place: Place::Device { device: alarm.device.clone() },
        building: alarm.building.clone(),
        place_label: format!("设备 {}", alarm.device),
        visit_at: None,
        vip: false,
        origin: hutong_core::work_order::Origin::Alarm { no: alarm.no, kind: alarm.kind },
        contact: None,
    }
}

/// How long a charge waits before asking a book that did not answer again.
const BILL_RETRY: Duration = Duration::from_secs(30);

/// The bill item of an order's charge: one per order, so the book issues it once.
pub fn repair_item(order: &WorkOrderId) -> String {
    format!("维修费（工单 {order}）")
}

/// Why an order could not be opened or reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderUnavailable {
    /// The community runs no service desk (not running).
    NoDesk,
    /// The order's actor did not start or answer in time.
    NotAnswering,
}

hutong_core::bilingual!(OrderUnavailable {
    OrderUnavailable::NoDesk => ("这个小区的工单台没有运行") / ("this community's service desk is not running"),
    OrderUnavailable::NotAnswering => ("工单暂时无法处理请求，请稍后再试") / ("the work order is not answering; try again shortly"),
});

/// How long a person waits for an order's actor.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// Opens an order: numbers it at the community's service desk, starts its actor, registers it
/// with the urgency and deadlines the community's rules give. The id, or why not.
pub async fn open_order(directory: &Directory, community: &CommunityId, registration: Registration, at: DateTime<Utc>) -> Result<Result<WorkOrder, OrderError>, OrderUnavailable> {
    if let Err(refusal) = registration.check() {
        return Ok(Err(refusal));
    }
    let desk = directory.service_desk(community.as_str()).ok_or(OrderUnavailable::NoDesk)?;
    let committed = desk.execute(&hutong_core::work_order::DeskCommand::Number, at.timestamp_millis()).await.map_err(|_| OrderUnavailable::NoDesk)?;
    let Some(hutong_core::work_order::DeskEvent::Numbered { no }) = committed.events.first() else { return Err(OrderUnavailable::NoDesk) };
    let id = hutong_core::work_order::order_id(*no);
    let rules = desk.read().rules.clone();
    let supervisor = directory.supervisor(community.as_str()).ok_or(OrderUnavailable::NoDesk)?;
    let opened = supervisor.call(|reply| crate::community::CommunityMsg::OpenOrder(id.clone(), reply), Some(CALL_TIMEOUT)).await;
    if !matches!(opened, Ok(CallResult::Success(()))) {
        return Err(OrderUnavailable::NotAnswering);
    }
    let actor = directory.order(community.as_str(), id.as_str()).ok_or(OrderUnavailable::NotAnswering)?;
    let urgency = rules.urgency(&registration);
    let command = OrderCommand::Register { id, registration, urgency, deadlines: rules.deadlines(urgency), at };
    call(&actor, command).await
}

/// A step on an order's actor: the order after it, or why not.
pub async fn call(actor: &ActorRef<OrderMsg>, command: OrderCommand) -> Result<Result<WorkOrder, OrderError>, OrderUnavailable> {
    match actor.call(|reply| OrderMsg::Do(command, reply), Some(CALL_TIMEOUT)).await {
        Ok(CallResult::Success(answer)) => Ok(answer),
        _ => Err(OrderUnavailable::NotAnswering),
    }
}

/// The order as it stands.
pub async fn get(actor: &ActorRef<OrderMsg>) -> Result<WorkOrder, OrderUnavailable> {
    match actor.call(OrderMsg::Get, Some(CALL_TIMEOUT)).await {
        Ok(CallResult::Success(order)) => Ok(order),
        _ => Err(OrderUnavailable::NotAnswering),
    }
}
