//! `BuildingActor`: one per building. It folds the health its devices report into the building's
//! health for the wall (derived: devices re-report after a restart, so that part journals
//! nothing), and it holds the building's book — houses, bills, payments, ledgers — which it
//! journals before it changes: a command is decided by `core`, the events are appended, and only
//! once the journal holds them are they applied, the money summary published and the reply sent.
//!
//! Due-soon reminders are a timer of the building's own: it wakes at 09:00 (community time) on
//! the first day some bill falls due within `DUE_SOON_DAYS`, not on a sweep.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{Days, NaiveDate, NaiveDateTime, NaiveTime, TimeZone};
use hutong_core::bill::BillState;
use hutong_core::bill_run::{RunProblem, RunSpec, lines_for};
use hutong_core::book::{BillLine, BillSource, Book, BookCommand, BookError, BookEvent, HouseRecord, ResourceKind};
use hutong_core::building::{BuildingBoard, BuildingHealth};
use hutong_core::community::Community;
use hutong_core::device::DeviceHealth;
use hutong_core::fee::{ChargeItem, HouseState, PriceRule};
use hutong_core::reminder::{Channel, ReminderLimits};
use hutong_core::{BuildingId, CommunityId, DeviceId, Money};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use serde::{Deserialize, Serialize};

use crate::clock::Clock;
use crate::hub::LiveHub;
use crate::journal::{Append, Journal, SNAPSHOT_EVERY, Snapshot};

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

/// Where recorded reminders go (the web layer's outbox).
pub trait Notices: Send + Sync + 'static {
    fn remind(&self, notice: ReminderNotice);
}

/// Drops reminders (actor tests, benchmarks).
pub struct NoNotices;

impl Notices for NoNotices {
    fn remind(&self, _notice: ReminderNotice) {}
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

/// What a run issued (or would issue) in this building.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunOutcome {
    pub bills: u64,
    pub amount: Money,
    /// Lines already billed for this period, skipped.
    pub skipped: u64,
    pub by_item: BTreeMap<String, (u64, Money)>,
    pub problems: Vec<RunProblem>,
    pub sample: Vec<BillLine>,
}

pub type BookReply = RpcReplyPort<Result<Vec<BookEvent>, BookError>>;

pub enum BuildingMsg {
    /// A device of this building reports its health.
    DeviceHealth(DeviceId, DeviceHealth),
    /// The building's health now.
    Get(RpcReplyPort<BuildingHealth>),
    /// A command for the book; the reply carries the events once they are journaled.
    Book(BookCommand, BookReply),
    /// A bill run, previewed or committed.
    Run(Box<RunRequest>, RpcReplyPort<RunOutcome>),
    /// Read the book (queries, receipts, exports).
    Read(Box<dyn FnOnce(&Book) + Send>),
    /// The due-soon timer fired.
    DueSoon,
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
    book: Book,
    seq: u64,
    since_snapshot: u64,
    stream: String,
    tz: chrono_tz::Tz,
}

pub struct BuildingActor;

/// The journal stream of a building's book.
pub fn book_stream(community: &CommunityId, building: &BuildingId) -> String {
    format!("book/{community}/{building}")
}

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
            }
        })
        .collect()
}

impl Actor for BuildingActor {
    type Msg = BuildingMsg;
    type State = BuildingState;
    type Arguments = BuildingArgs;

    async fn pre_start(&self, myself: ActorRef<BuildingMsg>, args: BuildingArgs) -> Result<BuildingState, ActorProcessingErr> {
        let stream = book_stream(&args.community.id, &args.building);
        let no = args.community.building(&args.building).map_or(0, |b| b.no);
        let (mut book, mut seq) = match args.journal.load_snapshot(&stream).await? {
            Some(snap) => (serde_json::from_slice::<Book>(&snap.payload)?, snap.seq),
            None => (Book::new(args.building.clone(), no), 0),
        };
        book.reindex();
        // Houses of the tree the book has not met yet (a fresh book, or a building that grew).
        for house in seed_houses(&args.community, &args.building) {
            book.houses.entry(house.id.clone()).or_insert(house);
        }
        let records = args.journal.replay(&stream, seq).await?;
        let since_snapshot = records.len() as u64;
        for record in records {
            book.apply(&serde_json::from_slice::<BookEvent>(&record.payload)?);
            seq = record.seq;
        }
        let tz = args.community.time_zone.parse().unwrap_or(chrono_tz::Asia::Shanghai);
        let state = BuildingState { args, board: BuildingBoard::default(), book, seq, since_snapshot, stream, tz };
        state.publish_money();
        let _ = myself.cast(BuildingMsg::DueSoon);
        Ok(state)
    }

    async fn handle(&self, myself: ActorRef<BuildingMsg>, msg: BuildingMsg, state: &mut BuildingState) -> Result<(), ActorProcessingErr> {
        match msg {
            BuildingMsg::DeviceHealth(device, health) => {
                if let Some(changed) = state.board.note(device, health) {
                    state.args.hub.publish_building(&state.args.community.id, state.args.building.clone(), changed);
                }
            }
            BuildingMsg::Get(reply) => {
                let _ = reply.send(state.board.health());
            }
            BuildingMsg::Book(command, reply) => {
                let outcome = match state.book.decide(&command) {
                    Err(refusal) => Err(refusal),
                    Ok(events) => {
                        state.commit(&events).await?;
                        state.after(&events);
                        Ok(events)
                    }
                };
                let _ = reply.send(outcome);
            }
            BuildingMsg::Run(request, reply) => {
                let outcome = state.run(*request).await?;
                let _ = reply.send(outcome);
            }
            BuildingMsg::Read(read) => read(&state.book),
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
    fn local_now(&self) -> NaiveDateTime {
        self.args.clock.now().with_timezone(&self.tz).naive_local()
    }

    /// Journal first; apply only what the journal holds.
    async fn commit(&mut self, events: &[BookEvent]) -> Result<(), ActorProcessingErr> {
        if events.is_empty() {
            return Ok(());
        }
        let payloads = events.iter().map(serde_json::to_vec).collect::<Result<Vec<_>, _>>()?;
        let append = Append {
            stream: self.stream.clone(),
            expected: self.seq,
            at_ms: self.args.clock.now().timestamp_millis(),
            payloads,
        };
        self.seq = self.args.journal.append(append).await?;
        for e in events {
            self.book.apply(e);
        }
        self.since_snapshot += events.len() as u64;
        if self.since_snapshot >= SNAPSHOT_EVERY {
            let payload = serde_json::to_vec(&self.book)?;
            self.args.journal.save_snapshot(Snapshot { stream: self.stream.clone(), seq: self.seq, payload }).await?;
            self.since_snapshot = 0;
        }
        Ok(())
    }

    /// What follows a change: the screens hear of the money, residents of their reminders.
    fn after(&self, events: &[BookEvent]) {
        if events.iter().any(|e| !matches!(e, BookEvent::Reminded { .. })) {
            self.publish_money();
        }
        for event in events {
            if let BookEvent::Reminded { house, channel, bills, by, .. } = event {
                let Some(record) = self.book.houses.get(house) else { continue };
                let owed = bills.iter().filter_map(|no| self.book.bill(no)).map(|b| b.bill.owed()).sum();
                self.args.notices.remind(ReminderNotice {
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
    }

    fn publish_money(&self) {
        let today = self.local_now().date();
        self.args.hub.publish_money(&self.args.community.id, self.args.building.clone(), self.book.money(today));
    }

    async fn run(&mut self, r: RunRequest) -> Result<RunOutcome, ActorProcessingErr> {
        let lines = lines_for(&r.spec, &self.args.community.id, &self.args.building, self.book.houses.values(), &r.items, &r.rules);
        let asked = lines.lines.len() as u64;
        let command = BookCommand::IssueBills { lines: lines.lines, source: BillSource::Run { run: run_id(&r.spec).into() }, by: r.by, at: r.at };
        let events = self.book.decide(&command).unwrap_or_default();
        let mut outcome = RunOutcome { problems: lines.problems, ..RunOutcome::default() };
        if let Some(BookEvent::BillsIssued { lines, .. }) = events.first() {
            outcome.bills = lines.len() as u64;
            for l in lines {
                outcome.amount += l.amount;
                let e = outcome.by_item.entry(l.item.clone()).or_default();
                e.0 += 1;
                e.1 += l.amount;
            }
            outcome.sample = lines.iter().take(5).cloned().collect();
        }
        outcome.skipped = asked - outcome.bills;
        if r.commit {
            self.commit(&events).await?;
            self.after(&events);
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
        let mut houses: Vec<_> = self
            .book
            .bills()
            .iter()
            .filter(|b| matches!(b.bill.state, BillState::Pending | BillState::PartlyPaid))
            .filter(|b| {
                let day = Self::due_soon_day(b.bill.period_end);
                day <= today && b.bill.period_end >= today
                    && self.book.last_reminded(&b.house, Channel::InApp).is_none_or(|last| last < day)
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
            if let Ok(events) = self.book.decide(&command) {
                self.commit(&events).await?;
                self.after(&events);
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
