//! `BuildingActor`: one per building. It folds the health its devices report into the building's
//! health for the wall (derived: devices re-report after a restart, so that part journals
//! nothing), and it holds the building's book — houses, bills, payments, ledgers — which it
//! journals before it changes: a command is decided by `core`, the events are appended, and only
//! once the journal holds them are they applied, the money summary published and the reply sent.
//!
//! Due-soon reminders are a timer of the building's own: it wakes at 09:00 (community time) on
//! the first day some bill falls due within `DUE_SOON_DAYS`, not on a sweep.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use chrono::{Days, NaiveDate, NaiveDateTime, NaiveTime, TimeZone};
use hutong_core::bill::BillState;
pub use hutong_core::bill_run::RunOutcome;
use hutong_core::bill_run::{RunSpec, lines_for};
use hutong_core::book::{BillQuery, BillRecord, BillRow, BillSource, Book, BookCommand, BookError, BookEvent, HouseRecord, Payment, PaymentRequest, ReceiptFacts, ResourceKind};
use hutong_core::building::{BuildingBoard, BuildingHealth};
use hutong_core::community::Community;
use hutong_core::device::DeviceHealth;
use hutong_core::fee::{ChargeItem, HouseState, PriceRule};
use hutong_core::reminder::{Channel, ReminderLimits};
use hutong_core::{BuildingId, CommunityId, DeviceId, HouseId, Money};
use futures_util::future::BoxFuture;
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use serde::{Deserialize, Serialize};

use crate::clock::Clock;
use crate::hub::LiveHub;
use crate::journal::Journal;
use crate::journaled::{Journaled, StreamId};

/// Days before a bill's period ends that its house is reminded (N2).
pub const DUE_SOON_DAYS: u64 = 3;

/// A reminder the book has recorded, to be delivered by whoever sends notifications.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReminderNotice {
    pub community: CommunityId,
    pub house: hutong_core::HouseId,
    pub address: String,
    pub channel: Channel,
    pub bills: Vec<String>,
    pub owed: Money,
    /// The residents' phones, in full: the sender needs them; they never reach a log.
    pub phones: Vec<String>,
    pub reason: String,
}

/// Where recorded reminders go (the web layer's outbox). The building waits for it before it
/// answers, so whoever asked for the reminder finds it queued.
pub trait Notices: Send + Sync + 'static {
    fn remind(&self, notice: ReminderNotice) -> BoxFuture<'_, ()>;
}

/// Drops reminders (actor tests, benchmarks).
pub struct NoNotices;

impl Notices for NoNotices {
    fn remind(&self, _notice: ReminderNotice) -> BoxFuture<'_, ()> {
        Box::pin(std::future::ready(()))
    }
}

/// A bill run for this building.
pub struct RunRequest {
    pub spec: RunSpec,
    pub items: Arc<Vec<ChargeItem>>,
    pub rules: Arc<Vec<PriceRule>>,
    /// `false`: only say what would be issued (the preview).
    pub commit: bool,
    pub by: String,
    pub at: NaiveDateTime,
}

pub type BookReply = RpcReplyPort<Result<Vec<BookEvent>, BookError>>;

/// A payment as the pay request's reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Paid {
    pub payment: Payment,
    /// `false`: the request repeated a key, and its earlier payment answers it.
    pub fresh: bool,
}

/// How long a building holds its book for a batch between "prepare" and "commit" before it gives
/// up on the batch by itself (its coordinator went away).
pub const BATCH_HOLD: Duration = Duration::from_secs(5);

pub enum BuildingMsg {
    /// A device of this building reports its health.
    DeviceHealth(DeviceId, DeviceHealth),
    /// A device left this building (moved or retired).
    DeviceGone(DeviceId),
    /// The building's health now.
    Get(RpcReplyPort<BuildingHealth>),
    /// A command for the book; the reply carries the events once they are journaled.
    Book(BookCommand, BookReply),
    /// A payment; the reply is the payment taken, or the one this request's key already took.
    Pay(PaymentRequest, RpcReplyPort<Result<Paid, BookError>>),
    /// Phase one of a batch across buildings: decide, and hold the book (other writes wait) until
    /// `Commit` or `Abort` of the same batch, or `BATCH_HOLD`.
    Prepare(u64, BookCommand, RpcReplyPort<Result<(), BookError>>),
    /// Phase two: journal and apply what `Prepare` decided.
    Commit(u64, RpcReplyPort<Result<Vec<BookEvent>, BookError>>),
    /// Drop a prepared batch (another building refused, or the hold ran out).
    Abort(u64),
    /// A bill run, previewed or committed.
    Run(Box<RunRequest>, RpcReplyPort<RunOutcome>),
    /// Bills matching a query, newest first by the caller.
    Find(BillQuery, RpcReplyPort<Vec<BillRow>>),
    /// One bill with its row.
    Bill(String, RpcReplyPort<Option<(BillRecord, BillRow)>>),
    /// The payments that settled part of a bill.
    PaymentsOf(String, RpcReplyPort<Vec<Payment>>),
    /// F9: the houses of a selection, when every bill is pending.
    PendingHouses(Vec<String>, RpcReplyPort<Result<Vec<HouseId>, BookError>>),
    /// Houses whose address or residents match a text (all for "").
    Houses(String, bool, RpcReplyPort<Vec<HouseRecord>>),
    /// A payment and what its receipt prints.
    Receipt(String, RpcReplyPort<Option<ReceiptFacts>>),
    /// What each house owes, bill by bill.
    Owing(RpcReplyPort<BTreeMap<HouseId, Vec<(NaiveDate, Money)>>>),
    /// How many bills the book holds, and when a house was last reminded on a channel.
    Reminded(HouseId, Channel, RpcReplyPort<(usize, Option<NaiveDate>)>),
    /// The due-soon timer fired.
    DueSoon,
    /// The community's tree grew: the book takes in this building's new houses.
    Grown(Arc<Community>),
    /// Whether someone lived in the house every day of these dates (M4's zero use).
    LivedIn(HouseId, NaiveDate, NaiveDate, RpcReplyPort<bool>),
}

pub struct BuildingArgs {
    pub community: Arc<Community>,
    pub building: BuildingId,
    pub hub: Arc<LiveHub>,
    pub journal: Arc<dyn Journal>,
    pub clock: Clock,
    pub notices: Arc<dyn Notices>,
}

pub struct BuildingState {
    args: BuildingArgs,
    board: BuildingBoard,
    book: Journaled<Book>,
    tz: chrono_tz::Tz,
    /// A batch decided and waiting for its commit, with the writes that arrived meanwhile.
    held: Option<Held>,
    /// Batches given up here, so a prepare that arrives after its abort is refused, not held.
    aborted: VecDeque<u64>,
}

struct Held {
    batch: u64,
    events: Vec<BookEvent>,
    waiting: VecDeque<BuildingMsg>,
}

pub struct BuildingActor;

/// The houses of the community tree, as a fresh book first knows them.
fn seed_houses(community: &Community, building: &BuildingId) -> Vec<HouseRecord> {
    community
        .houses_of(building)
        .into_iter()
        .map(|(unit, floor, house, address)| {
            HouseRecord {
                id: house.id.clone(),
                address: address.dash_form(),
                address_path: address.slash_form(),
                unit,
                floor,
                kind: ResourceKind::Home,
                area: house.area,
                state: HouseState::Occupied,
                state_since: None,
                residents: Vec::new(),
                history: Vec::new(),
                fields: Default::default(),
            }
        })
        .collect()
}

impl Actor for BuildingActor {
    type Msg = BuildingMsg;
    type State = BuildingState;
    type Arguments = BuildingArgs;

    async fn pre_start(&self, myself: ActorRef<BuildingMsg>, args: BuildingArgs) -> Result<BuildingState, ActorProcessingErr> {
        let stream = StreamId::book(&args.community.id, &args.building);
        let no = args.community.building(&args.building).map_or(0, |b| b.no);
        let book = Journaled::recover(
            args.journal.clone(),
            stream,
            || Book::new(args.building.clone(), no),
            |book| {
                book.reindex();
                // Houses of the tree the book has not met yet (a fresh book, or a building that grew).
                for house in seed_houses(&args.community, &args.building) {
                    book.houses.entry(house.id.clone()).or_insert(house);
                }
            },
        )
        .await?;
        let tz = args.community.time_zone.parse().unwrap_or(chrono_tz::Asia::Shanghai);
        let state = BuildingState { args, board: BuildingBoard::default(), book, tz, held: None, aborted: VecDeque::new() };
        state.publish_money();
        let _ = myself.cast(BuildingMsg::DueSoon);
        Ok(state)
    }

    async fn handle(&self, myself: ActorRef<BuildingMsg>, msg: BuildingMsg, state: &mut BuildingState) -> Result<(), ActorProcessingErr> {
        // While a batch is held, writes wait their turn: the batch's decision must still be true
        // when it commits.
        let msg = match (&mut state.held, msg) {
            (Some(held), msg @ (BuildingMsg::Book(..) | BuildingMsg::Pay(..) | BuildingMsg::Run(..) | BuildingMsg::Prepare(..) | BuildingMsg::DueSoon)) => {
                held.waiting.push_back(msg);
                return Ok(());
            }
            (_, msg) => msg,
        };
        // A quarantined book takes no writes (they would build on a record it could not apply):
        // the reply is dropped, so the caller answers 503, and reads go on from the state before it.
        if state.book.quarantined().is_some()
            && matches!(msg, BuildingMsg::Book(..) | BuildingMsg::Pay(..) | BuildingMsg::Run(..) | BuildingMsg::Prepare(..) | BuildingMsg::Commit(..) | BuildingMsg::DueSoon)
        {
            return Ok(());
        }
        match msg {
            BuildingMsg::DeviceHealth(device, health) => {
                if let Some(changed) = state.board.note(device, health) {
                    state.args.hub.publish_building(&state.args.community.id, state.args.building.clone(), changed);
                }
            }
            BuildingMsg::DeviceGone(device) => {
                if let Some(changed) = state.board.forget(&device) {
                    state.args.hub.publish_building(&state.args.community.id, state.args.building.clone(), changed);
                }
            }
            BuildingMsg::Get(reply) => {
                let _ = reply.send(state.board.health());
            }
            BuildingMsg::Book(command, reply) => {
                let outcome = match state.book.state().decide(&command) {
                    Err(refusal) => Err(refusal),
                    Ok(events) => Ok(state.commit(events).await?),
                };
                let _ = reply.send(outcome);
            }
            BuildingMsg::Pay(request, reply) => {
                let outcome = match state.book.state().decide(&BookCommand::Pay(request.clone())) {
                    Err(refusal) => Err(refusal),
                    Ok(events) => {
                        let events = state.commit(events).await?;
                        let taken = events.into_iter().find_map(|e| match e {
                            BookEvent::PaymentTaken { payment } => Some(Paid { payment, fresh: true }),
                            _ => None,
                        });
                        // No event: the key's earlier payment answers the repeat.
                        let repeat = || state.book.state().payment_by_key(&request.key).map(|p| Paid { payment: p.clone(), fresh: false });
                        taken.or_else(repeat).ok_or(BookError::NothingToPay)
                    }
                };
                let _ = reply.send(outcome);
            }
            BuildingMsg::Prepare(batch, command, reply) => {
                if state.aborted.contains(&batch) {
                    let _ = reply.send(Err(BookError::BatchAbandoned));
                    return Ok(());
                }
                match state.book.state().decide(&command) {
                    Err(refusal) => {
                        let _ = reply.send(Err(refusal));
                    }
                    Ok(events) => {
                        state.held = Some(Held { batch, events, waiting: VecDeque::new() });
                        myself.send_after(BATCH_HOLD, move || BuildingMsg::Abort(batch));
                        let _ = reply.send(Ok(()));
                    }
                }
            }
            BuildingMsg::Commit(batch, reply) => {
                let outcome = match state.held.take() {
                    Some(held) if held.batch == batch => {
                        let events = state.commit(held.events).await?;
                        state.release(&myself, held.waiting);
                        Ok(events)
                    }
                    other => {
                        state.held = other;
                        Err(BookError::BatchAbandoned)
                    }
                };
                let _ = reply.send(outcome);
            }
            BuildingMsg::Abort(batch) => match state.held.take() {
                Some(held) if held.batch == batch => state.release(&myself, held.waiting),
                other => {
                    state.held = other;
                    if state.aborted.len() >= 64 {
                        state.aborted.pop_front();
                    }
                    state.aborted.push_back(batch);
                }
            },
            BuildingMsg::Run(request, reply) => {
                let outcome = state.run(*request).await?;
                let _ = reply.send(outcome);
            }
            BuildingMsg::Find(q, reply) => {
                let _ = reply.send(state.book.state().find(&q));
            }
            BuildingMsg::Bill(no, reply) => {
                let _ = reply.send(state.book.state().bill_with_row(&no));
            }
            BuildingMsg::PaymentsOf(no, reply) => {
                let _ = reply.send(state.book.state().payments_of(&no));
            }
            BuildingMsg::PendingHouses(bills, reply) => {
                let _ = reply.send(state.book.state().pending_houses(&bills));
            }
            BuildingMsg::Houses(text, unmasked, reply) => {
                let _ = reply.send(state.book.state().houses_matching(&text, unmasked));
            }
            BuildingMsg::Receipt(no, reply) => {
                let _ = reply.send(state.book.state().receipt(&no));
            }
            BuildingMsg::Owing(reply) => {
                let _ = reply.send(state.book.state().owing_by_house());
            }
            BuildingMsg::Reminded(house, channel, reply) => {
                let book = state.book.state();
                let _ = reply.send((book.bills().len(), book.last_reminded(&house, channel)));
            }
            BuildingMsg::LivedIn(house, from, to, reply) => {
                let _ = reply.send(state.book.state().houses.get(&house).is_some_and(|h| h.lived_in_throughout(from, to)));
            }
            BuildingMsg::Grown(community) => {
                // Like recovery: the tree's houses the book has not met yet, in their first state.
                state.book.settle(|book| {
                    for house in seed_houses(&community, &state.args.building) {
                        book.houses.entry(house.id.clone()).or_insert(house);
                    }
                });
                state.args.community = community;
            }
            BuildingMsg::DueSoon => {
                state.remind_due_soon().await?;
                if let Some(wait) = state.next_due_soon() {
                    myself.send_after(wait, || BuildingMsg::DueSoon);
                }
            }
        }
        Ok(())
    }
}

impl BuildingState {
    /// The writes that waited for a batch go back to the mailbox, in the order they came.
    fn release(&mut self, myself: &ActorRef<BuildingMsg>, waiting: VecDeque<BuildingMsg>) {
        for msg in waiting {
            let _ = myself.send_message(msg);
        }
    }

    fn local_now(&self) -> NaiveDateTime {
        self.args.clock.now().with_timezone(&self.tz).naive_local()
    }

    /// Journal first; apply only what the journal holds; then what follows the change.
    async fn commit(&mut self, events: Vec<BookEvent>) -> Result<Vec<BookEvent>, ActorProcessingErr> {
        if events.is_empty() {
            return Ok(events);
        }
        let committed = self.book.commit(events, self.args.clock.now().timestamp_millis()).await?;
        for notice in self.after(&committed.events) {
            self.args.notices.remind(notice).await;
        }
        Ok(committed.events)
    }

    /// What follows a change: the screens hear of the money; the reminders to send are returned.
    fn after(&self, events: &[BookEvent]) -> Vec<ReminderNotice> {
        let book = self.book.state();
        let mut notices = Vec::new();
        if events.iter().any(|e| !matches!(e, BookEvent::Reminded { .. })) {
            self.publish_money();
        }
        for event in events {
            if let BookEvent::Reminded { house, channel, bills, by, .. } = event {
                let Some(record) = book.houses.get(house) else { continue };
                let owed = bills.iter().filter_map(|no| book.bill(no)).map(|b| b.bill.owed()).sum();
                notices.push(ReminderNotice {
                    community: self.args.community.id.clone(),
                    house: house.clone(),
                    address: record.address.clone(),
                    channel: *channel,
                    bills: bills.clone(),
                    owed,
                    phones: record.residents.iter().map(|r| r.phone.clone()).collect(),
                    reason: by.clone(),
                });
            }
        }
        notices
    }

    fn publish_money(&self) {
        let today = self.local_now().date();
        self.args.hub.publish_money(&self.args.community.id, self.args.building.clone(), today, self.book.state().money(today));
    }

    async fn run(&mut self, r: RunRequest) -> Result<RunOutcome, ActorProcessingErr> {
        let book = self.book.state();
        let lines = lines_for(&r.spec, &self.args.community.id, &self.args.building, book.houses.values(), &r.items, &r.rules);
        let asked = lines.lines.len() as u64;
        let command = BookCommand::IssueBills { lines: lines.lines, source: BillSource::Run { run: run_id(&r.spec).into() }, by: r.by, at: r.at };
        let events = book.decide(&command).unwrap_or_default();
        let issued = match events.first() {
            Some(BookEvent::BillsIssued { lines, .. }) => lines.as_slice(),
            _ => &[],
        };
        let outcome = RunOutcome::of(issued, asked, lines.problems);
        if r.commit {
            self.commit(events).await?;
        }
        Ok(outcome)
    }

    /// The day a bill's house is reminded that it falls due.
    fn due_soon_day(end: NaiveDate) -> NaiveDate {
        end - Days::new(DUE_SOON_DAYS)
    }

    async fn remind_due_soon(&mut self) -> Result<(), ActorProcessingErr> {
        let now = self.local_now();
        let today = now.date();
        let book = self.book.state();
        let mut houses: Vec<_> = book
            .bills()
            .iter()
            .filter(|b| matches!(b.bill.state, BillState::Pending | BillState::PartlyPaid))
            .filter(|b| {
                let day = Self::due_soon_day(b.bill.period_end);
                day <= today && b.bill.period_end >= today
                    && book.last_reminded(&b.house, Channel::InApp).is_none_or(|last| last < day)
            })
            .map(|b| b.house.clone())
            .collect();
        houses.dedup();
        for house in houses {
            let command = BookCommand::Remind {
                house,
                channel: Channel::InApp,
                limits: ReminderLimits::default(),
                by: "到期提醒".into(),
                at: now,
            };
            if let Ok(events) = self.book.state().decide(&command) {
                self.commit(events).await?;
            }
        }
        Ok(())
    }

    /// How long until 09:00 on the next day some open bill becomes due-soon; at most a day, so a
    /// bill issued meanwhile is picked up too.
    fn next_due_soon(&self) -> Option<Duration> {
        let now = self.local_now();
        let next = self
            .book
            .state()
            .bills()
            .iter()
            .filter(|b| matches!(b.bill.state, BillState::Pending | BillState::PartlyPaid))
            .map(|b| Self::due_soon_day(b.bill.period_end).and_time(NaiveTime::from_hms_opt(9, 0, 0).unwrap_or_default()))
            .filter(|t| *t > now)
            .min()
            .unwrap_or(now + chrono::Duration::days(1));
        let at = self.tz.from_local_datetime(&next).earliest()?;
        (at.with_timezone(&chrono::Utc) - self.args.clock.now()).to_std().ok().map(|d| d.min(Duration::from_secs(86_400)))
    }
}

/// A run's id: its cycle and period, so reruns share it.
pub fn run_id(spec: &RunSpec) -> String {
    let (start, end) = spec.period();
    format!("{start}~{end}")
}
