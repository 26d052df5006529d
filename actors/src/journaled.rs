//! The one runtime every piece of durable state lives on — devices, building books, the
//! organisation, sessions, the audit log, tariffs and the registry. `recover` loads the newest
//! snapshot and replays what follows it; `commit` journals what `core` decided (append with the
//! seq it expects to follow), applies it only once the journal holds it, takes a snapshot when the
//! policy says so (in the background: a snapshot is an optimisation of replay, never awaited), and
//! hands back the committed events with their seqs for the caller to publish.
//!
//! Two homes for the state, one rule: [`Journaled`] is owned by an actor (one writer by
//! construction); [`Shared`] is shared by request handlers (writes serialised by a lock held across
//! decide → append → apply, reads never wait for the journal).

use std::ops::Range;
use std::sync::{Arc, RwLock, RwLockReadGuard};

use hutong_core::{Aggregate, BuildingId, CommunityId, CompanyId, DeviceId};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::journal::{Append, Journal, JournalError, SNAPSHOT_EVERY, Snapshot};
use crate::quarantine::Poison;

/// A stream folded from its snapshot and records.
struct Folded<A> {
    state: A,
    /// The stream's last seq (recovery may have stopped before it).
    head: u64,
    replayed: u64,
    poison: Option<Stopped>,
}

struct Stopped {
    at: Poison,
    /// `apply` panicked part-way: the state must be folded again without it.
    torn: bool,
}

/// Folds a stream, stopping at the first record that does not decode or does not apply, or
/// before `stop_at`.
async fn fold<A: Durable>(
    journal: &Arc<dyn Journal>,
    stream: &StreamId,
    init: &impl Fn() -> A,
    settle: &impl Fn(&mut A),
    stop_at: Option<u64>,
) -> Result<Folded<A>, JournalError> {
    let snapshot = journal.load_snapshot(stream.as_str()).await?.filter(|s| stop_at.is_none_or(|stop| s.seq < stop));
    let decoded = snapshot.and_then(|snap| match serde_json::from_slice::<A>(&snap.payload) {
        Ok(state) => Some((state, snap.seq)),
        Err(e) => {
            // A snapshot only shortens replay: without it, replay starts from the first record.
            tracing::warn!(%stream, seq = snap.seq, error = %e, "snapshot does not decode; replaying the stream whole");
            None
        }
    });
    let (mut state, from) = decoded.unwrap_or_else(|| (init(), 0));
    settle(&mut state);
    let records = journal.replay(stream.as_str(), from).await?;
    let head = records.last().map_or(from, |r| r.seq);
    let mut replayed = 0;
    for record in &records {
        if stop_at.is_some_and(|stop| record.seq >= stop) {
            break;
        }
        replayed += 1;
        if crate::quarantine::is_skipped(stream.as_str(), record.seq) {
            continue;
        }
        if let Err((reason, torn)) = apply_record(&mut state, record) {
            let poison = Stopped { at: Poison { stream: stream.to_string(), seq: record.seq, reason }, torn };
            return Ok(Folded { state, head, replayed, poison: Some(poison) });
        }
    }
    Ok(Folded { state, head, replayed, poison: None })
}

/// Decodes one record and folds it in; why not, and whether `apply` stopped part-way (the state
/// must then be folded again without it). The one way recovery and catching up read a record.
fn apply_record<A: Durable>(state: &mut A, record: &crate::journal::Record) -> Result<(), (String, bool)> {
    let event: A::Event = serde_json::from_slice(&record.payload).map_err(|e| (format!("does not decode: {e}"), false))?;
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| state.apply(&event))).map_err(|panic| {
        let why = panic.downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| panic.downcast_ref::<String>().cloned());
        (format!("apply panicked: {}", why.unwrap_or_default()), true)
    })
}

/// A journal stream's name, built in one place so no two owners can drift apart.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct StreamId(String);

impl StreamId {
    /// A device's readings, gate events and health.
    pub fn device(community: &CommunityId, device: &DeviceId) -> Self {
        Self(format!("device/{community}/{device}"))
    }
    /// A building's book: houses, bills, payments, ledgers.
    pub fn book(community: &CommunityId, building: &BuildingId) -> Self {
        Self(format!("book/{community}/{building}"))
    }
    /// A community's alarms and their handling.
    pub fn alarms(community: &CommunityId) -> Self {
        Self(format!("alarms/{community}"))
    }
    /// A community's patrol checkpoints and routes.
    pub fn patrol_site(community: &CommunityId) -> Self {
        Self(format!("patrol-site/{community}"))
    }
    /// A patrol route of a community.
    pub fn patrol(community: &CommunityId, route: &hutong_core::RouteId) -> Self {
        Self(format!("patrol/{community}/{route}"))
    }
    /// A community's service desk: order numbers, service rules, the materials store.
    pub fn service_desk(community: &CommunityId) -> Self {
        Self(format!("service-desk/{community}"))
    }
    /// A work order of a community.
    pub fn work_order(community: &CommunityId, order: &hutong_core::WorkOrderId) -> Self {
        Self(format!("workorder/{community}/{order}"))
    }
    /// A community's online payment orders (owners paying through a provider).
    pub fn pay_desk(community: &CommunityId) -> Self {
        Self(format!("paydesk/{community}"))
    }
    /// A community's tariff.
    pub fn tariff(community: &CommunityId) -> Self {
        Self(format!("tariff/{community}"))
    }
    /// Companies, communities, roles, staff and owners.
    pub fn org() -> Self {
        Self("org".into())
    }
    /// Open sign-ins and their revocations.
    pub fn sessions() -> Self {
        Self("sessions".into())
    }
    /// One company's audit log (`-` for sign-in attempts no company owns).
    pub fn audit(company: Option<&CompanyId>) -> Self {
        Self(format!("audit/{}", company.map_or("-", |c| c.as_str())))
    }
    /// The communities and devices this deployment runs.
    pub fn registry() -> Self {
        Self("registry".into())
    }
    /// Which devices have a rotated or revoked MQTT key.
    pub fn device_keys() -> Self {
        Self("device-keys".into())
    }
    /// Messages to people and their delivery.
    pub fn outbox() -> Self {
        Self("outbox".into())
    }
    /// Operators' marks: records recovery skips (see [`crate::quarantine`]).
    pub fn quarantine() -> Self {
        Self("quarantine".into())
    }
    /// A stream by the name the journal keeps (an operator's tool names streams by hand).
    pub fn named(name: &str) -> Self {
        Self(name.into())
    }

    /// Not a journal stream: a building's health as folded from its devices, recomputed after a
    /// restart. Its seqs are derived (see `LiveHub::next_derived_seq`), never replayed.
    pub fn derived_health(building: &BuildingId) -> Self {
        Self(format!("derived/health/{building}"))
    }
    /// Not a journal stream: a building's money summary, recomputed from its book.
    pub fn derived_money(building: &BuildingId) -> Self {
        Self(format!("derived/money/{building}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl std::fmt::Display for StreamId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// State the runtime can journal: an aggregate whose state and events are serialisable.
pub trait Durable: Aggregate<Event: Serialize + DeserializeOwned + Send + Sync> + Serialize + DeserializeOwned + Send + Sync + 'static {
    /// A snapshot after this many events since the last one; `None`: never (replay is cheap, or
    /// the state is too large to write whole).
    const SNAPSHOT_EVERY: Option<u64> = Some(SNAPSHOT_EVERY);
}

impl Durable for hutong_core::device::DeviceState {}
impl Durable for hutong_core::book::Book {}
impl Durable for hutong_core::identity::Org {}
impl Durable for hutong_core::identity::Sessions {}
impl Durable for hutong_core::fee::CommunityTariff {}
impl Durable for hutong_core::registry::Registry {}
impl Durable for hutong_core::device_keys::DeviceKeys {}
impl Durable for hutong_core::alarm::AlarmDesk {}
impl Durable for hutong_core::patrol::PatrolRoute {}
impl Durable for hutong_core::patrol::PatrolSite {}
impl Durable for hutong_core::work_order::WorkOrder {}
impl Durable for hutong_core::work_order::ServiceDesk {}
impl Durable for hutong_core::pay::PayDesk {}
impl Durable for hutong_core::pay::SandboxLedger {}
impl Durable for hutong_core::outbox::Outbox {
    const SNAPSHOT_EVERY: Option<u64> = Some(1_000);
}
/// The audit log's state is its last seq: a snapshot is a few bytes, so start-up replays little.
impl Durable for hutong_core::identity::AuditLog {}

/// Events the journal now holds, with their seqs, for the caller to publish.
#[derive(Debug)]
pub struct Committed<E> {
    pub events: Vec<E>,
    pub seqs: Range<u64>,
}

impl<E> Committed<E> {
    /// Each event with its seq.
    pub fn numbered(&self) -> impl Iterator<Item = (u64, &E)> {
        self.seqs.clone().zip(&self.events)
    }
}

/// Why a command did not change anything: refused by the domain, or the journal failed.
#[derive(Debug, thiserror::Error)]
pub enum CommitError<R> {
    #[error("{0}")]
    Refused(R),
    #[error("{0}")]
    Journal(#[from] JournalError),
}

/// Where a stream stands: its name, the seq of its last event, and events since the last snapshot.
struct Log {
    stream: StreamId,
    seq: u64,
    since_snapshot: u64,
    journal: Arc<dyn Journal>,
    /// The record that stopped recovery: writes are refused until an operator deals with it.
    poison: Option<Poison>,
}

impl Log {
    /// Appends with the seq this writer expects to follow. A conflict means another writer owns
    /// the stream or this view is stale: the error travels up and the owner recovers again.
    async fn append<E: Serialize>(&mut self, events: &[E], at_ms: i64) -> Result<Range<u64>, JournalError> {
        let first = self.seq + 1;
        if events.is_empty() {
            return Ok(first..first);
        }
        if let Some(p) = &self.poison {
            return Err(JournalError::Quarantined { stream: p.stream.clone(), seq: p.seq });
        }
        let payloads = events
            .iter()
            .map(serde_json::to_vec)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| JournalError::Store(format!("{}: an event does not encode: {e}", self.stream)))?;
        let append = Append { stream: self.stream.as_str().to_string(), expected: self.seq, at_ms, payloads };
        self.seq = self.journal.append(append).await?;
        Ok(first..self.seq + 1)
    }

    /// After `applied` events reached the state: a snapshot when the policy says so.
    fn applied<A: Durable>(&mut self, applied: u64, state: &A) {
        self.since_snapshot += applied;
        let Some(every) = A::SNAPSHOT_EVERY else { return };
        if self.since_snapshot < every {
            return;
        }
        self.since_snapshot = 0;
        // Encoded here (it must see this state), written in the background.
        let payload = match serde_json::to_vec(state) {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(stream = %self.stream, error = %e, "snapshot not encoded; replay will start earlier");
                return;
            }
        };
        let journal = self.journal.clone();
        let snapshot = Snapshot { stream: self.stream.as_str().to_string(), seq: self.seq, payload };
        tokio::spawn(async move {
            if let Err(e) = journal.save_snapshot(snapshot).await {
                tracing::warn!(error = %e, "snapshot not saved; replay will start earlier");
            }
        });
    }
}

/// An aggregate owned by one actor, with its place in the journal.
pub struct Journaled<A: Durable> {
    log: Log,
    state: A,
}

impl<A: Durable> Journaled<A> {
    /// The newest snapshot (or `init()` when there is none), then `settle` (what the snapshot may
    /// not know yet, e.g. a changed registration), then every event after it. A record that does
    /// not decode or whose `apply` panics quarantines the stream: the state is the one before it,
    /// and writes are refused (see [`crate::quarantine`]); the owner still starts.
    pub async fn recover(
        journal: Arc<dyn Journal>,
        stream: StreamId,
        init: impl Fn() -> A,
        settle: impl Fn(&mut A),
    ) -> Result<Self, JournalError> {
        let mut folded = fold(&journal, &stream, &init, &settle, None).await?;
        if let Some(poison) = &folded.poison
            && poison.torn
        {
            // The panic may have left the state half-changed: fold again, stopping before it.
            let before = fold(&journal, &stream, &init, &settle, Some(poison.at.seq)).await?;
            folded = Folded { poison: folded.poison, ..before };
        }
        let poison = folded.poison.map(|p| p.at);
        match &poison {
            Some(p) => crate::quarantine::report(p.clone()),
            None => crate::quarantine::cleared(stream.as_str()),
        }
        let log = Log { stream, seq: folded.head, since_snapshot: folded.replayed, journal, poison };
        Ok(Journaled { log, state: folded.state })
    }

    /// The record that stopped recovery, when there is one.
    pub fn quarantined(&self) -> Option<&Poison> {
        self.log.poison.as_ref()
    }

    pub fn state(&self) -> &A {
        &self.state
    }

    /// The seq of the last event applied.
    pub fn seq(&self) -> u64 {
        self.log.seq
    }

    pub fn stream(&self) -> &StreamId {
        &self.log.stream
    }

    /// Changes what the state holds beside its journaled facts — its context, e.g. a device's
    /// community rules — never what an event would change (that goes through `commit`).
    pub fn settle(&mut self, settle: impl FnOnce(&mut A)) {
        settle(&mut self.state);
    }

    /// Decides and commits one command.
    pub async fn execute(&mut self, command: &A::Command, at_ms: i64) -> Result<Committed<A::Event>, CommitError<A::Error>> {
        let events = self.state.decide(command).map_err(CommitError::Refused)?;
        Ok(self.commit(events, at_ms).await?)
    }

    /// Journals events already decided against this state, then applies them.
    pub async fn commit(&mut self, events: Vec<A::Event>, at_ms: i64) -> Result<Committed<A::Event>, JournalError> {
        let seqs = self.log.append(&events, at_ms).await?;
        for event in &events {
            self.state.apply(event);
        }
        self.log.applied(events.len() as u64, &self.state);
        Ok(Committed { events, seqs })
    }
}

/// An aggregate shared by request handlers: reads take a read lock on the folded state; a write
/// decides, appends and applies under one writer lock, so no check can go stale before its append.
pub struct Shared<A: Durable> {
    log: tokio::sync::Mutex<Log>,
    state: RwLock<A>,
}

impl<A: Durable> Shared<A> {
    pub async fn recover(journal: Arc<dyn Journal>, stream: StreamId, init: impl Fn() -> A) -> Result<Self, JournalError> {
        Ok(Journaled::recover(journal, stream, init, |_| {}).await?.into())
    }

    /// The state now (do not hold it across an await).
    pub fn read(&self) -> RwLockReadGuard<'_, A> {
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Decides and commits one command, one writer at a time. Another node writing the same
    /// stream (a shared store) makes the append conflict: this view then folds in what that node
    /// wrote and decides again on the state as it now is (review R2).
    pub async fn execute(&self, command: &A::Command, at_ms: i64) -> Result<Committed<A::Event>, CommitError<A::Error>> {
        let mut log = self.log.lock().await;
        let mut conflicts = 0;
        let (events, seqs) = loop {
            let events = self.read().decide(command).map_err(CommitError::Refused)?;
            match log.append(&events, at_ms).await {
                Ok(seqs) => break (events, seqs),
                Err(JournalError::Conflict { .. }) if conflicts < 8 => {
                    conflicts += 1;
                    self.fold_new(&mut log).await?;
                }
                Err(e) => return Err(e.into()),
            }
        };
        let applied = {
            let mut state = self.state.write().unwrap_or_else(|e| e.into_inner());
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| events.iter().for_each(|e| state.apply(e))))
        };
        if applied.is_err() {
            // Impossible by construction (`decide` bounds what it journals); should it happen, the
            // stream stops taking writes rather than build on a half-applied state.
            self.poisoned(&mut log, seqs.start, "apply panicked after the append".into());
            return Err(CommitError::Journal(JournalError::Quarantined { stream: log.stream.to_string(), seq: seqs.start }));
        }
        log.applied(events.len() as u64, &*self.read());
        Ok(Committed { events, seqs })
    }

    /// Folds in what other writers appended since this view last looked; how many events. Nodes
    /// sharing a store call it on a short period, so a revocation made on one is honoured on the
    /// other within that period.
    pub async fn catch_up(&self) -> Result<usize, JournalError> {
        let mut log = self.log.lock().await;
        self.fold_new(&mut log).await
    }

    async fn fold_new(&self, log: &mut Log) -> Result<usize, JournalError> {
        if let Some(p) = &log.poison {
            return Err(JournalError::Quarantined { stream: p.stream.clone(), seq: p.seq });
        }
        let records = log.journal.replay(log.stream.as_str(), log.seq).await?;
        let mut state = self.state.write().unwrap_or_else(|e| e.into_inner());
        for record in &records {
            if !crate::quarantine::is_skipped(log.stream.as_str(), record.seq) {
                if let Err((reason, _)) = apply_record(&mut *state, record) {
                    drop(state);
                    self.poisoned(log, record.seq, reason);
                    return Err(JournalError::Quarantined { stream: log.stream.to_string(), seq: record.seq });
                }
            }
            log.seq = record.seq;
        }
        Ok(records.len())
    }

    fn poisoned(&self, log: &mut Log, seq: u64, reason: String) {
        let poison = Poison { stream: log.stream.to_string(), seq, reason };
        crate::quarantine::report(poison.clone());
        log.poison = Some(poison);
    }
}

impl<A: Durable> From<Journaled<A>> for Shared<A> {
    fn from(j: Journaled<A>) -> Self {
        Shared { log: tokio::sync::Mutex::new(j.log), state: RwLock::new(j.state) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::MemoryJournal;
    use hutong_core::registry::{CommunityRegistered, Registry, RegistryCommand};

    fn registration(id: &str, devices: usize) -> RegistryCommand {
        let community = hutong_core::demo::small_communities()[0].clone();
        let community = hutong_core::community::Community { id: id.into(), ..community };
        let mut all = hutong_core::demo::devices(&community);
        all.truncate(devices);
        RegistryCommand::Register(CommunityRegistered { community, devices: all })
    }

    #[tokio::test]
    async fn a_store_recovers_what_it_committed_and_replaces_by_id() {
        let journal: Arc<dyn Journal> = Arc::new(MemoryJournal::new());
        let store: Shared<Registry> = Shared::recover(journal.clone(), StreamId::registry(), Registry::default).await.unwrap();
        let first = store.execute(&registration("a", 1), 0).await.unwrap();
        assert_eq!(first.seqs, 1..2);
        store.execute(&registration("b", 1), 0).await.unwrap();
        store.execute(&registration("a", 2), 0).await.unwrap();
        let again: Shared<Registry> = Shared::recover(journal, StreamId::registry(), Registry::default).await.unwrap();
        let r = again.read();
        assert_eq!(r.communities.len(), 2);
        assert_eq!(r.communities[0].devices.len(), 2);
    }

    #[tokio::test]
    async fn a_stale_writer_is_refused_and_changes_nothing() {
        let journal: Arc<dyn Journal> = Arc::new(MemoryJournal::new());
        let mut one: Journaled<Registry> = Journaled::recover(journal.clone(), StreamId::registry(), Registry::default, |_| {}).await.unwrap();
        let mut two: Journaled<Registry> = Journaled::recover(journal.clone(), StreamId::registry(), Registry::default, |_| {}).await.unwrap();
        one.execute(&registration("a", 0), 0).await.unwrap();
        let refused = two.execute(&registration("b", 0), 0).await;
        assert!(matches!(refused, Err(CommitError::Journal(JournalError::Conflict { .. }))));
        assert!(two.state().communities.is_empty());
        assert_eq!(two.seq(), 0);
    }
}
