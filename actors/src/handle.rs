//! `BuildingRef`: how the edges (HTTP handlers, the CLI's server side, benchmarks) reach a
//! building's book — typed calls with a timeout, so a stuck or stopped building is an answer
//! ("not available"), never a request that hangs. Nothing outside `actors` builds a
//! `BuildingMsg`.
//!
//! [`batch`] runs one book command in several buildings, all or none, in two phases: every
//! building decides its part and holds its book (`Prepare`); only when all said yes does each
//! journal its part (`Commit`); a refusal anywhere aborts the rest. Buildings are prepared in
//! the order of their ids, so two batches over the same buildings queue instead of deadlocking.
//! What remains outside "all or none" is a journal failure between two commits — an
//! infrastructure failure, reported as such (the journal holds no cross-stream transaction).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use std::collections::BTreeMap;

use chrono::NaiveDate;
use hutong_core::book::{BillQuery, BillRecord, BillRow, BookCommand, BookError, BookEvent, HouseRecord, Payment, PaymentRequest, ReceiptFacts};
use hutong_core::{BuildingId, HouseId, Money};
use hutong_core::building::BuildingHealth;
use ractor::rpc::CallResult;
use ractor::{ActorRef, RpcReplyPort};

use crate::building::{BATCH_HOLD, BuildingMsg, Paid, RunOutcome, RunRequest};

/// How long a caller waits for a building before it answers "not available".
pub const CALL_TIMEOUT: Duration = Duration::from_secs(15);

/// Why a building did not answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallError {
    Unavailable(BuildingId),
}

hutong_core::bilingual!(CallError {
    CallError::Unavailable(building) => ("楼栋 {building} 暂时无法处理请求") / ("building {building} is not available right now"),
});

#[derive(Clone)]
pub struct BuildingRef {
    id: BuildingId,
    actor: ActorRef<BuildingMsg>,
}

impl BuildingRef {
    pub fn new(id: BuildingId, actor: ActorRef<BuildingMsg>) -> Self {
        Self { id, actor }
    }

    pub fn id(&self) -> &BuildingId {
        &self.id
    }

    async fn call<T: Send + 'static>(&self, msg: impl FnOnce(RpcReplyPort<T>) -> BuildingMsg, timeout: Duration) -> Result<T, CallError> {
        match self.actor.call(msg, Some(timeout)).await {
            Ok(CallResult::Success(v)) => Ok(v),
            Ok(CallResult::Timeout | CallResult::SenderError) | Err(_) => Err(CallError::Unavailable(self.id.clone())),
        }
    }

    /// A command for the book: the events once journaled, or the book's refusal.
    pub async fn book(&self, command: BookCommand) -> Result<Result<Vec<BookEvent>, BookError>, CallError> {
        self.call(|reply| BuildingMsg::Book(command, reply), CALL_TIMEOUT).await
    }

    /// A payment: the one taken, or the one this key already took.
    pub async fn pay(&self, request: PaymentRequest) -> Result<Result<Paid, BookError>, CallError> {
        self.call(|reply| BuildingMsg::Pay(request, reply), CALL_TIMEOUT).await
    }

    /// A bill run of this building, previewed or committed. A large building takes a while.
    pub async fn run(&self, request: RunRequest) -> Result<RunOutcome, CallError> {
        self.call(|reply| BuildingMsg::Run(Box::new(request), reply), CALL_TIMEOUT * 8).await
    }

    /// Bills matching a query.
    pub async fn find(&self, query: BillQuery) -> Result<Vec<BillRow>, CallError> {
        self.call(|reply| BuildingMsg::Find(query, reply), CALL_TIMEOUT).await
    }

    /// One bill with its row.
    pub async fn bill(&self, no: &str) -> Result<Option<(BillRecord, BillRow)>, CallError> {
        let no = no.to_string();
        self.call(|reply| BuildingMsg::Bill(no, reply), CALL_TIMEOUT).await
    }

    /// The payments that settled part of a bill.
    pub async fn payments_of(&self, no: &str) -> Result<Vec<Payment>, CallError> {
        let no = no.to_string();
        self.call(|reply| BuildingMsg::PaymentsOf(no, reply), CALL_TIMEOUT).await
    }

    /// F9: the houses of a selection, when every bill is pending.
    pub async fn pending_houses(&self, bills: Vec<String>) -> Result<Result<Vec<HouseId>, BookError>, CallError> {
        self.call(|reply| BuildingMsg::PendingHouses(bills, reply), CALL_TIMEOUT).await
    }

    /// Houses whose address or residents match a text (all for ""); a phone matches in part only
    /// for a caller who sees phones in full (`unmasked`).
    pub async fn houses(&self, text: &str, unmasked: bool) -> Result<Vec<HouseRecord>, CallError> {
        let text = text.to_string();
        self.call(|reply| BuildingMsg::Houses(text, unmasked, reply), CALL_TIMEOUT).await
    }

    /// A payment and what its receipt prints.
    pub async fn receipt(&self, no: &str) -> Result<Option<ReceiptFacts>, CallError> {
        let no = no.to_string();
        self.call(|reply| BuildingMsg::Receipt(no, reply), CALL_TIMEOUT).await
    }

    /// What each house owes, bill by bill: (period start, owed).
    pub async fn owing(&self) -> Result<BTreeMap<HouseId, Vec<(NaiveDate, Money)>>, CallError> {
        self.call(BuildingMsg::Owing, CALL_TIMEOUT).await
    }

    /// The building's health as its devices report it.
    pub async fn health(&self) -> Result<BuildingHealth, CallError> {
        self.call(BuildingMsg::Get, CALL_TIMEOUT).await
    }
}

static NEXT_BATCH: AtomicU64 = AtomicU64::new(1);

/// One command per building, all or none (see the module's doc). Returns every building's events.
pub async fn batch(mut parts: Vec<(BuildingRef, BookCommand)>) -> Result<Result<Vec<BookEvent>, BookError>, CallError> {
    if let [_] = parts.as_slice() {
        // One building: one command is atomic already.
        let (building, command) = parts.remove(0);
        return building.book(command).await;
    }
    parts.sort_by(|a, b| a.0.id.cmp(&b.0.id));
    let id = NEXT_BATCH.fetch_add(1, Ordering::Relaxed);
    let mut prepared: Vec<&BuildingRef> = Vec::with_capacity(parts.len());
    let mut outcome = Ok(Ok(()));
    for (building, command) in &parts {
        // A building holding another batch answers once that one ends, within its hold.
        let answer = building.call(|reply| BuildingMsg::Prepare(id, command.clone(), reply), CALL_TIMEOUT + BATCH_HOLD).await;
        match answer {
            Ok(Ok(())) => prepared.push(building),
            other => {
                outcome = other;
                // It may still prepare after we stop waiting; the abort tells it not to hold.
                let _ = building.actor.cast(BuildingMsg::Abort(id));
                break;
            }
        }
    }
    match outcome {
        Ok(Ok(())) => {}
        failed => {
            for building in prepared {
                let _ = building.actor.cast(BuildingMsg::Abort(id));
            }
            return failed.map(|r| r.map(|()| Vec::new()));
        }
    }
    let mut events = Vec::new();
    for (i, (building, _)) in parts.iter().enumerate() {
        match building.call(|reply| BuildingMsg::Commit(id, reply), CALL_TIMEOUT).await? {
            Ok(mine) => events.extend(mine),
            // The first building gave up its hold before anything was written: abandon it all.
            Err(refusal) if i == 0 => {
                for (rest, _) in &parts[1..] {
                    let _ = rest.actor.cast(BuildingMsg::Abort(id));
                }
                return Ok(Err(refusal));
            }
            // Later ones held since their prepare, well inside their hold, unless this task was
            // starved for seconds: then part is written, and that is an infrastructure failure.
            Err(_) => return Err(CallError::Unavailable(building.id.clone())),
        }
    }
    Ok(Ok(events))
}
