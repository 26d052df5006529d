//! The book of one building: commands, events, `decide` and `apply`.
//!
//! Money moves only as balanced ledger entries in the house's own ledger (P13):
//! - issuing a bill debits the item's receivable and credits the item's income subject;
//! - a payment debits the channel and credits the receivables it settles, the rest the
//!   house's prepayment (预存);
//! - prepayment is drawn on as soon as a bill is issued (预存抵扣, P3): prepayment debited,
//!   receivable credited;
//! - deleting or voiding a pending bill reverses what issuing it booked; editing its amount books
//!   the difference.

use std::collections::BTreeMap;
use std::sync::Arc;

use rustc_hash::{FxHashMap, FxHashSet};

use chrono::{NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};

use super::house::HouseRecord;
use crate::import::template::ImportedHouse;
use crate::bill::{Bill, BillCommand, BillError, BillEvent, BillState, allocate};
use crate::ids::{BuildingId, HouseId};
use crate::ledger::{Account, Entry, Ledger};
use crate::money::Money;
use crate::reminder::{Channel, ReminderLimits, ReminderRefusal};

/// How money arrived (P1).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PayChannel {
    Cash,
    PosCard,
    WechatPay,
    Alipay,
    BankTransfer,
    BankCollection,
}

impl PayChannel {
    pub const ALL: [PayChannel; 6] =
        [Self::Cash, Self::PosCard, Self::WechatPay, Self::Alipay, Self::BankTransfer, Self::BankCollection];

    /// Channels whose money arrives through a payment provider: a payment on one names the
    /// provider's transaction number, each number paying once.
    pub fn needs_reference(self) -> bool {
        matches!(self, PayChannel::WechatPay | PayChannel::Alipay)
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            Self::Cash => "现金",
            Self::PosCard => "POS刷卡",
            Self::WechatPay => "微信支付",
            Self::Alipay => "支付宝",
            Self::BankTransfer => "银行转账",
            Self::BankCollection => "银行托收",
        }
    }

    fn account(self) -> Account {
        Account::Collected(format!("{self:?}"))
    }
}

/// Where a bill came from.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum BillSource {
    /// A bill run (F3), by its id.
    Run {
        #[cfg_attr(feature = "openapi", schema(value_type = String))]
        run: Arc<str>,
    },
    /// A spreadsheet import (F6), by its batch id.
    Import {
        #[cfg_attr(feature = "openapi", schema(value_type = String))]
        batch: Arc<str>,
    },
    /// Entered by hand at the desk.
    Manual,
}

/// One bill to issue.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BillLine {
    pub house: HouseId,
    pub item: String,
    /// The accounting subject the item's income books to.
    pub subject: String,
    pub period_start: NaiveDate,
    pub period_end: NaiveDate,
    pub amount: Money,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_no: Option<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub remark: String,
}

/// One change to a bill, kept for ever (F5): who, when, what it was and what it became.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    pub at: NaiveDateTime,
    pub by: String,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub event: BillEvent,
}

/// A bill as the book keeps it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BillRecord {
    pub bill: Bill,
    pub house: HouseId,
    pub subject: String,
    pub external_no: Option<String>,
    pub source: BillSource,
    pub issued_at: NaiveDateTime,
    pub history: Vec<Change>,
}

/// A payment as asked for (P1–P2).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentRequest {
    /// The caller's idempotency key: the same key twice pays once.
    pub key: String,
    pub house: HouseId,
    /// The bills to settle; empty means every open bill of the house, earliest first.
    pub bills: Vec<String>,
    /// How much arrived; `None` means exactly what the chosen bills owe. More than they owe goes to
    /// prepayment.
    pub amount: Option<Money>,
    pub channel: PayChannel,
    pub payer: String,
    pub by: String,
    pub at: NaiveDateTime,
    /// The provider's transaction number (微信/支付宝交易单号): what proves a WeChat Pay or Alipay
    /// payment arrived (review M3); other channels may carry a slip number.
    #[serde(default)]
    pub reference: Option<String>,
}

/// A payment taken: what it settled and what went to prepayment.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payment {
    /// The receipt number.
    pub no: String,
    pub key: String,
    pub house: HouseId,
    pub channel: PayChannel,
    pub payer: String,
    pub by: String,
    pub at: NaiveDateTime,
    pub amount: Money,
    /// Each bill settled and the part of the payment it took: `[["bill no", "12.50"], …]`.
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Vec<String>>))]
    pub parts: Vec<(String, Money)>,
    pub prepaid: Money,
    /// The bills the request named (empty: every open bill), so a repeat of the key can be told
    /// from a different request under the same key.
    #[serde(default)]
    pub asked: Vec<String>,
    /// The provider's transaction number, or a slip number (see `PaymentRequest::reference`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
}

impl Payment {
    /// Whether a request is this payment asked again (same key, same body).
    pub fn answers(&self, r: &PaymentRequest) -> bool {
        let mut asked = self.asked.clone();
        let mut bills = r.bills.clone();
        asked.sort();
        bills.sort();
        self.house == r.house
            && self.channel == r.channel
            && self.payer == r.payer
            && asked == bills
            && r.amount.is_none_or(|a| a == self.amount)
            && r.reference == self.reference
    }

    /// The ledger postings this payment makes: the channel debited, each settled bill's item
    /// credited, the surplus to prepayment. `item_of` names a bill's item (a part for a bill the
    /// book does not know posts nothing, as `apply` settles nothing for it).
    pub fn postings(&self, item_of: impl Fn(&str) -> Option<String>) -> Vec<crate::ledger::Posting> {
        let mut postings = vec![crate::ledger::Posting { account: self.channel.account(), amount: self.amount }];
        for (no, part) in &self.parts {
            if let Some(item) = item_of(no) {
                postings.push(crate::ledger::Posting { account: Account::Receivable(item), amount: -*part });
            }
        }
        if !self.prepaid.is_zero() {
            postings.push(crate::ledger::Posting { account: Account::Prepayment, amount: -self.prepaid });
        }
        postings
    }
}

/// What may be asked of a building's book.
#[derive(Clone, Debug, PartialEq)]
pub enum BookCommand {
    /// Add houses or update them (area, kind, state, residents), e.g. from an import (C5).
    RegisterHouses { houses: Vec<HouseRecord> },
    /// Issue bills; a (house, item, period start) already billed is skipped, so a rerun issues
    /// nothing twice (F3).
    IssueBills { lines: Vec<BillLine>, source: BillSource, by: String, at: NaiveDateTime },
    /// Edit, delete or void one bill (F4, F5).
    ChangeBill { no: String, change: BillCommand, by: String, at: NaiveDateTime },
    /// Take a payment (P1–P3).
    Pay(PaymentRequest),
    /// Take several payments at once, all or none (batch prepayment, seeding): one journal append.
    PayMany(Vec<PaymentRequest>),
    /// Remind a house of what it owes on a channel, within the channel's limit (N1).
    Remind { house: HouseId, channel: Channel, limits: ReminderLimits, by: String, at: NaiveDateTime },
    /// Merge imported house rows (C5): kind, area, state (dated, `today` when the row gives no
    /// date), residents added or updated by phone. Decided against the book as it is, so an edit
    /// made meanwhile is never overwritten by a stale copy.
    ImportHouses { rows: Vec<ImportedHouse>, today: NaiveDate },
    /// A house enters a state on a day (C3: handover, decoration, vacancy, occupancy …), kept in
    /// its history; not before the day its current state began, nor after `today`.
    ChangeHouseState { house: HouseId, state: crate::fee::HouseState, on: NaiveDate, today: NaiveDate, by: String },
    /// Residents added, edited or removed on screen (C4), all or none; a move is a removal from
    /// one house and an addition to another.
    ChangeResidents { changes: Vec<ResidentChange>, today: NaiveDate },
    /// Several bills at once (F9), all or none: refused whole unless every bill is pending.
    Batch { bills: Vec<String>, action: BatchAction, by: String, at: NaiveDateTime },
}

/// One change to a house's residents.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum ResidentChange {
    /// Add a resident, or edit the one with phone `replacing` (their phone may change too).
    Put { house: HouseId, resident: super::house::Resident, replacing: Option<String> },
    /// The resident with this phone leaves the house.
    Remove { house: HouseId, phone: String },
}

/// What a batch does to every bill it names (F9). Reminders are not a batch action of the
/// book: each house's reminder stands alone (one house inside its channel limit must not stop the
/// others), so they go house by house.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum BatchAction {
    /// Delete every bill.
    Delete,
    /// Mark every bill paid: one payment per house, keyed `{key}/{house}`, so a repeated request
    /// pays once.
    MarkPaid { key: String, channel: PayChannel, payer: String },
}

/// What happened in a building's book.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum BookEvent {
    /// Houses were added or updated.
    HousesRegistered { houses: Vec<HouseRecord> },
    /// Bills were issued; their numbers follow from `at`, the building's number and `first`.
    BillsIssued {
        #[serde(with = "super::compact")]
        lines: Vec<BillLine>,
        source: BillSource, by: String, at: NaiveDateTime, first: u64 },
    /// A bill was edited, deleted, voided or paid.
    BillChanged { no: String, change: Change },
    /// A payment was taken.
    PaymentTaken { payment: Payment },
    /// A house's prepayment settled bills (预存抵扣).
    PrepaymentDrawn { house: HouseId, parts: Vec<(String, Money)>, at: NaiveDateTime },
    /// A house was reminded on a channel.
    Reminded { house: HouseId, channel: Channel, by: String, at: NaiveDateTime, bills: Vec<String> },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BookError {
    NoBill(String),
    NoHouse(String),
    OtherHouse { bill: String, house: String },
    Bill(BillError),
    NothingToPay,
    KeyReused(String),
    NothingOwed,
    Reminder(ReminderRefusal),
    NotAllPending { bill: String, state: &'static str },
    BatchAbandoned,
    OutOfRange(crate::limits::OutOfRange),
    /// A WeChat Pay or Alipay payment without its transaction number.
    NoReference(&'static str),
    /// A transaction number already recorded on this channel.
    ReferenceUsed(String),
    /// Marking many bills paid at once on a provider's channel (each needs its own number).
    OnlineBatch(&'static str),
    /// A payment whose postings would not balance (P13): impossible by construction, refused
    /// here so `apply` never meets one.
    Unbalanced,
    /// A state change dated in the future, or before the current state began.
    StateDate { on: NaiveDate, after: Option<NaiveDate> },
    /// No resident with this phone in the house.
    NoResident(String),
    /// Two residents of one house with one phone.
    ResidentTwice(String),
    /// A resident's name or phone that could not be one.
    BadResident(&'static str, &'static str),
}

crate::bilingual!(BookError {
    BookError::NoBill(_0) => ("找不到账单 {_0}") / ("no bill {_0}"),
    BookError::NoHouse(_0) => ("找不到房屋 {_0}") / ("no house {_0}"),
    BookError::StateDate { on, after: None } => ("状态日期 {on} 不能晚于今天") / ("the state's date {on} is after today"),
    BookError::StateDate { on, after: Some(after) } => ("状态日期 {on} 早于当前状态的开始日期 {after}") / ("the state's date {on} is before the current state began on {after}"),
    BookError::NoResident(_0) => ("该房屋没有手机号为 {_0} 的住户") / ("no resident with phone {_0} in this house"),
    BookError::ResidentTwice(_0) => ("手机号 {_0} 已是该房屋的住户") / ("phone {_0} is already a resident of this house"),
    BookError::BadResident(_0, _1) => ("{_0}") / ("{_1}"),
    BookError::OtherHouse { bill, house } => ("账单 {bill} 不属于房屋 {house}") / ("bill {bill} is not of house {house}"),
    BookError::Bill(_0) => ("{}", crate::bilingual::Bilingual::zh(_0)) / ("{}", crate::bilingual::Bilingual::en(_0)),
    BookError::NothingToPay => ("付款金额必须大于零") / ("a payment must be above zero"),
    BookError::KeyReused(_0) => ("幂等键 {_0} 已用于另一笔不同的付款") / ("idempotency key {_0} was used for a different payment"),
    BookError::NothingOwed => ("该房屋没有待缴账单") / ("the house owes nothing"),
    BookError::Reminder(_0) => ("{}", crate::bilingual::Bilingual::zh(_0)) / ("{}", crate::bilingual::Bilingual::en(_0)),
    BookError::NotAllPending { bill, state } => ("批量操作仅限全部为待支付的账单，{bill} 为{state}") / ("batch actions need every selected bill pending; {bill} is {state}"),
    BookError::BatchAbandoned => ("批量操作已超时放弃，请重试") / ("the batch was abandoned (it took too long); try again"),
    BookError::OutOfRange(_0) => ("{}", crate::bilingual::Bilingual::zh(_0)) / ("{}", crate::bilingual::Bilingual::en(_0)),
    BookError::Unbalanced => ("记账分录不平衡，已拒绝") / ("the ledger entry would not balance; refused"),
    BookError::NoReference(_0) => ("{_0}收款须填写交易单号") / ("a {_0} payment needs the provider's transaction number"),
    BookError::ReferenceUsed(_0) => ("交易单号 {_0} 已登记过一笔收款") / ("the transaction number {_0} is already recorded"),
    BookError::OnlineBatch(_0) => ("{_0}收款须逐户登记交易单号，不能批量标记") / ("{_0} payments are recorded one by one with their transaction numbers, not marked paid in bulk"),
});

impl From<BillError> for BookError {
    fn from(e: BillError) -> Self {
        BookError::Bill(e)
    }
}

impl From<crate::limits::OutOfRange> for BookError {
    fn from(e: crate::limits::OutOfRange) -> Self {
        BookError::OutOfRange(e)
    }
}

/// A house's numbers within the bounds of [`crate::limits`].
pub(super) fn check_house(h: &HouseRecord) -> Result<(), BookError> {
    crate::limits::check(h.area, crate::limits::AREA_MAX, crate::limits::PRICE_DECIMALS, "面积", "area")?;
    Ok(())
}

impl From<ReminderRefusal> for BookError {
    fn from(e: ReminderRefusal) -> Self {
        BookError::Reminder(e)
    }
}

/// The book of one building.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Book {
    pub building: BuildingId,
    /// The building's number, part of every bill and receipt number it hands out.
    pub building_no: u32,
    pub houses: BTreeMap<HouseId, HouseRecord>,
    bills: Vec<BillRecord>,
    #[serde(skip)]
    index: FxHashMap<String, usize>,
    #[serde(skip)]
    issued: FxHashSet<(HouseId, String, NaiveDate)>,
    ledgers: BTreeMap<HouseId, Ledger>,
    payments: Vec<Payment>,
    #[serde(skip)]
    payment_keys: FxHashMap<String, usize>,
    /// Each bill's last payment (its receipt), by bill number: an owner's paid bill links to it.
    #[serde(skip)]
    receipts: FxHashMap<String, usize>,
    /// Transaction numbers recorded, by channel.
    #[serde(skip)]
    references: FxHashSet<(PayChannel, String)>,
    #[serde(with = "crate::pairs")]
    reminded: BTreeMap<(HouseId, Channel), NaiveDate>,
    /// Bills and receipts numbered so far.
    counter: u64,
}

impl crate::Aggregate for Book {
    type Command = BookCommand;
    type Event = BookEvent;
    type Error = BookError;
    fn decide(&self, command: &BookCommand) -> Result<Vec<BookEvent>, BookError> {
        Book::decide(self, command)
    }
    fn apply(&mut self, event: &BookEvent) {
        Book::apply(self, event);
    }
}

impl Book {
    pub fn new(building: BuildingId, building_no: u32) -> Book {
        Book { building, building_no, ..Book::default() }
    }

    /// Rebuilds the lookups a snapshot does not carry.
    pub fn reindex(&mut self) {
        self.index = self.bills.iter().enumerate().map(|(i, b)| (b.bill.no.clone(), i)).collect();
        self.issued = self
            .bills
            .iter()
            .filter(|b| b.bill.state != BillState::Deleted && b.bill.state != BillState::Voided)
            .map(|b| (b.house.clone(), b.bill.item.clone(), b.bill.period_start))
            .collect();
        self.payment_keys = self.payments.iter().enumerate().map(|(i, p)| (p.key.clone(), i)).collect();
        self.receipts = self.payments.iter().enumerate().flat_map(|(i, p)| p.parts.iter().map(move |(bill, _)| (bill.clone(), i))).collect();
        self.references = self.payments.iter().filter_map(|p| Some((p.channel, p.reference.clone()?))).collect();
    }

    pub fn bills(&self) -> &[BillRecord] {
        &self.bills
    }

    pub fn bill(&self, no: &str) -> Option<&BillRecord> {
        self.index.get(no).map(|i| &self.bills[*i])
    }

    pub fn payments(&self) -> &[Payment] {
        &self.payments
    }

    pub fn payment(&self, no: &str) -> Option<&Payment> {
        self.payments.iter().find(|p| p.no == no)
    }

    /// The receipt number of the last payment that took part of a bill.
    pub fn receipt_of_bill(&self, bill: &str) -> Option<&str> {
        self.receipts.get(bill).map(|i| self.payments[*i].no.as_str())
    }

    pub fn payment_by_key(&self, key: &str) -> Option<&Payment> {
        self.payment_keys.get(key).map(|i| &self.payments[*i])
    }

    pub fn ledger(&self, house: &HouseId) -> Option<&Ledger> {
        self.ledgers.get(house)
    }

    pub fn prepayment(&self, house: &HouseId) -> Money {
        // The prepayment account is a liability: credits (negative) are what the house has.
        self.ledgers.get(house).map_or(Money::ZERO, |l| -l.balance(&Account::Prepayment))
    }

    pub fn last_reminded(&self, house: &HouseId, channel: Channel) -> Option<NaiveDate> {
        self.reminded.get(&(house.clone(), channel)).copied()
    }

    /// A number unique in the community: local time to the second, building, running counter.
    pub fn number(&self, at: NaiveDateTime, counter: u64) -> String {
        Self::numbered(&self.number_prefix(at), counter)
    }

    /// What every number handed out at `at` starts with (formatted once per event, not per bill).
    fn number_prefix(&self, at: NaiveDateTime) -> String {
        format!("{}{:03}", at.format("%Y%m%d%H%M%S"), self.building_no % 1000)
    }

    fn numbered(prefix: &str, counter: u64) -> String {
        let mut no = String::with_capacity(prefix.len() + 6);
        no.push_str(prefix);
        let _ = std::fmt::Write::write_fmt(&mut no, format_args!("{:06}", counter % 1_000_000));
        no
    }

    /// The building number encoded in a bill or receipt number, to find the book holding it.
    pub fn building_no_of(no: &str) -> Option<u32> {
        no.get(14..17)?.parse().ok()
    }

    fn open_bills_of(&self, house: &HouseId) -> Vec<Bill> {
        self.bills
            .iter()
            .filter(|b| &b.house == house && matches!(b.bill.state, BillState::Pending | BillState::PartlyPaid))
            .map(|b| b.bill.clone())
            .collect()
    }

    pub fn decide(&self, command: &BookCommand) -> Result<Vec<BookEvent>, BookError> {
        match command {
            BookCommand::RegisterHouses { houses } => {
                houses.iter().try_for_each(check_house)?;
                Ok(vec![BookEvent::HousesRegistered { houses: houses.clone() }])
            }
            BookCommand::IssueBills { lines, source, by, at } => {
                let mut seen = FxHashSet::default();
                let mut fresh = Vec::with_capacity(lines.len());
                for line in lines {
                    if !self.houses.contains_key(&line.house) {
                        return Err(BookError::NoHouse(line.house.to_string()));
                    }
                    // Idempotent per (house, item, period): a rerun or a repeated row issues nothing twice.
                    let key = (line.house.clone(), line.item.clone(), line.period_start);
                    if self.issued.contains(&key) || !seen.insert(key) {
                        continue;
                    }
                    if !line.amount.is_zero() && !line.amount.is_negative() {
                        crate::limits::check_amount(line.amount, "账单金额", "bill amount")?;
                        fresh.push(line.clone());
                    }
                }
                if fresh.is_empty() {
                    return Ok(Vec::new());
                }
                let first = self.counter;
                let credited = fresh.iter().any(|l| self.prepayment(&l.house).amount() > rust_decimal::Decimal::ZERO);
                let mut events =
                    vec![BookEvent::BillsIssued { lines: fresh, source: source.clone(), by: by.clone(), at: *at, first }];
                if !credited {
                    return Ok(events);
                }
                // 预存抵扣: houses with prepayment settle their new bills at once.
                let mut after = self.clone_for_draw();
                after.apply(&events[0]);
                let BookEvent::BillsIssued { lines, .. } = &events[0] else { unreachable!() };
                let houses: Vec<&HouseId> = {
                    let mut h: Vec<&HouseId> = lines.iter().map(|l| &l.house).collect();
                    h.sort();
                    h.dedup();
                    h
                };
                let mut draws = Vec::new();
                for house in houses {
                    let credit = self.prepayment(house);
                    if credit.is_zero() || credit.is_negative() {
                        continue;
                    }
                    let plan = allocate(credit, &after.open_bills_of(house));
                    if !plan.to_bills.is_empty() {
                        draws.push(BookEvent::PrepaymentDrawn { house: house.clone(), parts: plan.to_bills, at: *at });
                    }
                }
                events.extend(draws);
                Ok(events)
            }
            BookCommand::ChangeBill { no, change, by, at } => {
                let record = self.bill(no).ok_or_else(|| BookError::NoBill(no.clone()))?;
                match change {
                    // Payments go through `Pay`, so they reach the ledger and the receipt.
                    BillCommand::Pay { .. } => return Err(BookError::NothingToPay),
                    BillCommand::Edit { amount, .. } => crate::limits::check_amount(*amount, "账单金额", "bill amount")?,
                    _ => {}
                }
                let events = record.bill.decide(change)?;
                Ok(events
                    .into_iter()
                    .map(|event| BookEvent::BillChanged { no: no.clone(), change: Change { at: *at, by: by.clone(), event } })
                    .collect())
            }
            BookCommand::Pay(request) => self.decide_payment(request),
            BookCommand::PayMany(requests) => {
                // Each payment sees the ones before it, as if taken one by one.
                let mut scratch = self.clone();
                let mut events = Vec::new();
                for r in requests {
                    for e in scratch.decide_payment(r)? {
                        scratch.apply(&e);
                        events.push(e);
                    }
                }
                Ok(events)
            }
            BookCommand::ImportHouses { rows, today } => self.decide_house_import(rows, *today),
            BookCommand::ChangeHouseState { house, state, on, today, by } => {
                let mut h = self.houses.get(house).ok_or_else(|| BookError::NoHouse(house.to_string()))?.clone();
                if on > today {
                    return Err(BookError::StateDate { on: *on, after: None });
                }
                if let Some(since) = h.state_since.filter(|since| on < since) {
                    return Err(BookError::StateDate { on: *on, after: Some(since) });
                }
                if h.state == *state {
                    return Ok(Vec::new());
                }
                h.enter_state(*state, *on, by);
                Ok(vec![BookEvent::HousesRegistered { houses: vec![h] }])
            }
            BookCommand::ChangeResidents { changes, today } => self.decide_residents(changes, *today),
            BookCommand::Batch { bills, action, by, at } => self.decide_batch(bills, action, by, *at),
            BookCommand::Remind { house, channel, limits, by, at } => {
                if !self.houses.contains_key(house) {
                    return Err(BookError::NoHouse(house.to_string()));
                }
                let owing: Vec<String> = self.open_bills_of(house).into_iter().map(|b| b.no).collect();
                if owing.is_empty() {
                    return Err(BookError::NothingOwed);
                }
                limits.check(*channel, self.last_reminded(house, *channel), at.date())?;
                Ok(vec![BookEvent::Reminded { house: house.clone(), channel: *channel, by: by.clone(), at: *at, bills: owing }])
            }
        }
    }

    /// Only what issuing and drawing touch, so a large book is not copied whole.
    fn clone_for_draw(&self) -> Book {
        Book { building: self.building.clone(), building_no: self.building_no, houses: BTreeMap::new(), counter: self.counter, ..Book::default() }
    }

    fn decide_payment(&self, r: &PaymentRequest) -> Result<Vec<BookEvent>, BookError> {
        if let Some(done) = self.payment_by_key(&r.key) {
            // The same request again is answered by the payment it made; another under its key is refused.
            return if done.answers(r) { Ok(Vec::new()) } else { Err(BookError::KeyReused(r.key.clone())) };
        }
        if !self.houses.contains_key(&r.house) {
            return Err(BookError::NoHouse(r.house.to_string()));
        }
        match &r.reference {
            None if r.channel.needs_reference() => return Err(BookError::NoReference(r.channel.label_zh())),
            Some(reference) if self.references.contains(&(r.channel, reference.clone())) => return Err(BookError::ReferenceUsed(reference.clone())),
            _ => {}
        }
        let open = self.open_bills_of(&r.house);
        let chosen: Vec<Bill> = if r.bills.is_empty() {
            open
        } else {
            let mut chosen = Vec::new();
            for no in &r.bills {
                let record = self.bill(no).ok_or_else(|| BookError::NoBill(no.clone()))?;
                if record.house != r.house {
                    return Err(BookError::OtherHouse { bill: no.clone(), house: r.house.to_string() });
                }
                if !matches!(record.bill.state, BillState::Pending | BillState::PartlyPaid) {
                    return Err(BillError::Closed(record.bill.state.label_zh()).into());
                }
                chosen.push(record.bill.clone());
            }
            chosen
        };
        let owed: Money = chosen.iter().map(Bill::owed).sum();
        let amount = r.amount.unwrap_or(owed);
        if amount.is_zero() || amount.is_negative() {
            return Err(if owed.is_zero() { BookError::NothingOwed } else { BookError::NothingToPay });
        }
        crate::limits::check_amount(amount, "付款金额", "payment amount")?;
        let plan = allocate(amount, &chosen);
        let payment = Payment {
            no: self.number(r.at, self.counter),
            key: r.key.clone(),
            house: r.house.clone(),
            channel: r.channel,
            payer: r.payer.clone(),
            by: r.by.clone(),
            at: r.at,
            amount,
            parts: plan.to_bills,
            prepaid: plan.prepayment,
            asked: r.bills.clone(),
            reference: r.reference.clone(),
        };
        // The entry `apply` will post must balance; refusing here keeps `apply` infallible (M5).
        Entry::new(payment.postings(|no| self.bill(no).map(|b| b.bill.item.clone()))).map_err(|_| BookError::Unbalanced)?;
        Ok(vec![BookEvent::PaymentTaken { payment }])
    }

    pub fn apply(&mut self, event: &BookEvent) {
        match event {
            BookEvent::HousesRegistered { houses } => {
                for h in houses {
                    self.houses.insert(h.id.clone(), h.clone());
                }
            }
            BookEvent::BillsIssued { lines, source, by: _, at, first } => {
                self.bills.reserve(lines.len());
                self.index.reserve(lines.len());
                self.issued.reserve(lines.len());
                let prefix = self.number_prefix(*at);
                for (i, line) in lines.iter().enumerate() {
                    let no = Self::numbered(&prefix, first + i as u64);
                    let ledger = match self.ledgers.get_mut(&line.house) {
                        Some(l) => l,
                        None => self.ledgers.entry(line.house.clone()).or_default(),
                    };
                    ledger.transfer(&Account::Receivable(line.item.clone()), &Account::Income(line.subject.clone()), line.amount);
                    self.issued.insert((line.house.clone(), line.item.clone(), line.period_start));
                    self.index.insert(no.clone(), self.bills.len());
                    self.bills.push(BillRecord {
                        bill: Bill {
                            no,
                            item: line.item.clone(),
                            period_start: line.period_start,
                            period_end: line.period_end,
                            amount: line.amount,
                            paid: Money::ZERO,
                            state: BillState::Pending,
                            remark: line.remark.clone(),
                        },
                        house: line.house.clone(),
                        subject: line.subject.clone(),
                        external_no: line.external_no.clone(),
                        source: source.clone(),
                        issued_at: *at,
                        history: Vec::new(),
                    });
                }
                self.counter = self.counter.max(first + lines.len() as u64);
            }
            BookEvent::BillChanged { no, change } => {
                let Some(&i) = self.index.get(no) else { return };
                let record = &mut self.bills[i];
                let ledger = self.ledgers.entry(record.house.clone()).or_default();
                match &change.event {
                    BillEvent::BillEdited { before, item, amount, .. } => {
                        // Undo what the old bill booked, book the new one.
                        ledger.post(&Entry::transfer(
                            Account::Income(record.subject.clone()),
                            Account::Receivable(before.item.clone()),
                            before.amount,
                        ));
                        ledger.post(&Entry::transfer(Account::Receivable(item.clone()), Account::Income(record.subject.clone()), *amount));
                        self.issued.remove(&(record.house.clone(), before.item.clone(), before.period_start));
                    }
                    BillEvent::BillDeleted | BillEvent::BillVoided { .. } => {
                        ledger.post(&Entry::transfer(
                            Account::Income(record.subject.clone()),
                            Account::Receivable(record.bill.item.clone()),
                            record.bill.owed(),
                        ));
                        self.issued.remove(&(record.house.clone(), record.bill.item.clone(), record.bill.period_start));
                    }
                    BillEvent::BillPaid { .. } => {}
                }
                record.bill.apply(&change.event);
                record.history.push(change.clone());
                if let BillEvent::BillEdited { .. } = change.event {
                    self.issued.insert((record.house.clone(), record.bill.item.clone(), record.bill.period_start));
                }
            }
            BookEvent::PaymentTaken { payment } => {
                let postings = payment.postings(|no| self.bill(no).map(|b| b.bill.item.clone()));
                for (no, part) in &payment.parts {
                    if let Some(&i) = self.index.get(no) {
                        let record = &mut self.bills[i];
                        let change = Change { at: payment.at, by: payment.by.clone(), event: BillEvent::BillPaid { amount: *part } };
                        record.bill.apply(&change.event);
                        record.history.push(change);
                    }
                }
                // `decide` built this very entry and refused it unless it balanced.
                if let Ok(entry) = Entry::new(postings) {
                    self.ledgers.entry(payment.house.clone()).or_default().post(&entry);
                }
                self.payment_keys.insert(payment.key.clone(), self.payments.len());
                for (bill, _) in &payment.parts {
                    self.receipts.insert(bill.clone(), self.payments.len());
                }
                if let Some(reference) = &payment.reference {
                    self.references.insert((payment.channel, reference.clone()));
                }
                self.payments.push(payment.clone());
                self.counter += 1;
            }
            BookEvent::PrepaymentDrawn { house, parts, at } => {
                for (no, part) in parts {
                    let Some(&i) = self.index.get(no) else { continue };
                    let record = &mut self.bills[i];
                    self.ledgers.entry(house.clone()).or_default().post(&Entry::transfer(
                        Account::Prepayment,
                        Account::Receivable(record.bill.item.clone()),
                        *part,
                    ));
                    let change = Change { at: *at, by: "预存抵扣".into(), event: BillEvent::BillPaid { amount: *part } };
                    record.bill.apply(&change.event);
                    record.history.push(change);
                }
            }
            BookEvent::Reminded { house, channel, at, .. } => {
                self.reminded.insert((house.clone(), *channel), at.date());
            }
        }
    }
}
