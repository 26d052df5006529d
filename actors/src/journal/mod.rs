//! The journal: per-actor streams of events, `(stream, seq)` with seq counting from 1, appended
//! with the seq the writer expects to follow, replayed on start, and snapshots so replay starts
//! late. An append is acknowledged only once it is durable.
//!
//! One trait, several backends: [`MemoryJournal`] for actor tests, [`LogJournal`] (an
//! append-only log) and [`SqliteJournal`] for one machine, [`ScyllaJournal`] for a cluster. Every backend passes the one [`conformance`] suite.

pub mod conformance;
mod log;
mod memory;
mod scylla;
mod sqlite;

use std::future::Future;
use std::pin::Pin;

pub use log::{LogJournal, LogOptions};
pub use memory::MemoryJournal;
pub use scylla::{BUCKET as SCYLLA_BUCKET, ScyllaJournal, ScyllaOptions, init_schema};
pub use sqlite::{SqliteJournal, SqliteOptions};

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One journaled event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub stream: String,
    pub seq: u64,
    /// Milliseconds since the epoch, when it was appended.
    pub at_ms: i64,
    /// The event, encoded by the stream's owner (JSON for the domain events).
    pub payload: Vec<u8>,
}

/// A stream's state as of `seq`, encoded by its owner.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    pub stream: String,
    pub seq: u64,
    pub payload: Vec<u8>,
}

/// Events to add to one stream, all or none.
#[derive(Clone, Debug)]
pub struct Append {
    pub stream: String,
    /// The seq of the last event the writer knows of (0 for a new stream); the new events take
    /// `expected + 1 ..`. Anything else already there is a conflict.
    pub expected: u64,
    pub at_ms: i64,
    pub payloads: Vec<Vec<u8>>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JournalError {
    /// Another writer got there first; the caller's view of the stream is stale.
    #[error("stream {stream}: expected seq {expected}, but the stream is at {actual}")]
    Conflict { stream: String, expected: u64, actual: u64 },
    /// The store failed; nothing of this append is acknowledged.
    #[error("journal store failed: {0}")]
    Store(String),
    #[error("journal is closed")]
    Closed,
    /// The stream holds a record that cannot be applied; writes wait for an operator.
    #[error("数据流 {stream} 第 {seq} 条记录无法应用，已隔离，等待运维处理 / stream {stream} is quarantined at record {seq} until an operator deals with it")]
    Quarantined { stream: String, seq: u64 },
}

/// Where actors keep their events.
pub trait Journal: Send + Sync + 'static {
    /// Why the journal stopped taking writes, once a write failed (fail-stop); `None` while it
    /// works. A store that recovers by itself (a cluster reconnecting) never stops.
    fn failure(&self) -> Option<String> {
        None
    }
    /// Appends durably; returns the seq of the last event written.
    fn append(&self, append: Append) -> BoxFuture<'_, Result<u64, JournalError>>;
    /// Events of one stream with seq > `after`, in order.
    fn replay<'a>(&'a self, stream: &'a str, after: u64) -> BoxFuture<'a, Result<Vec<Record>, JournalError>>;
    /// At most `limit` events of one stream with seq > `after`, in order: a page, for readers
    /// that must not hold a whole stream (the audit log).
    fn replay_page<'a>(&'a self, stream: &'a str, after: u64, limit: usize) -> BoxFuture<'a, Result<Vec<Record>, JournalError>> {
        Box::pin(async move {
            let mut records = self.replay(stream, after).await?;
            records.truncate(limit);
            Ok(records)
        })
    }
    /// The seq of the last event of a stream (0 when empty).
    fn head<'a>(&'a self, stream: &'a str) -> BoxFuture<'a, Result<u64, JournalError>>;
    /// Keeps a snapshot; a later one replaces an earlier one, an older one never replaces a newer.
    fn save_snapshot(&self, snapshot: Snapshot) -> BoxFuture<'_, Result<(), JournalError>>;
    /// The newest snapshot of a stream.
    fn load_snapshot<'a>(&'a self, stream: &'a str) -> BoxFuture<'a, Result<Option<Snapshot>, JournalError>>;
}

/// Takes a snapshot every this many events of a stream.
pub const SNAPSHOT_EVERY: u64 = 200;
