//! Streams whose journal holds a record that cannot be decoded or applied (security review M1).
//! `decide` makes such a record impossible by construction; this is what happens if one exists
//! anyway (an old journal, a bug, a hand edit): the owner still starts — with the state before
//! that record — refuses writes to that stream, and the stream is named on `/healthz` and in
//! `/metrics`, so an operator can look at it (`hutong journal inspect`) and set the record aside
//! (`hutong journal quarantine`), which journals a skip mark that every later recovery honours.
//!
//! The board is process-wide, like the journal it describes: one per running server.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, LazyLock, Mutex};

use serde::{Deserialize, Serialize};

use crate::journal::{Append, Journal, JournalError};
use crate::journaled::StreamId;

/// A record that stopped a stream's recovery.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Poison {
    pub stream: String,
    pub seq: u64,
    /// Why, in the decoder's or the panic's words.
    pub reason: String,
}

/// An operator's decision, journaled in the `quarantine` stream: recovery skips this record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skip {
    pub stream: String,
    pub seq: u64,
    pub reason: String,
    pub at_ms: i64,
}

#[derive(Default)]
struct Board {
    skipped: HashMap<String, BTreeSet<u64>>,
    poisoned: BTreeMap<String, Poison>,
}

static BOARD: LazyLock<Mutex<Board>> = LazyLock::new(Mutex::default);

fn board() -> std::sync::MutexGuard<'static, Board> {
    BOARD.lock().unwrap_or_else(|e| e.into_inner())
}

/// Reads the operator's skip marks; called once at start, before any stream recovers.
pub async fn load(journal: &Arc<dyn Journal>) -> Result<usize, JournalError> {
    let marks = skips(journal).await?;
    let mut b = board();
    for m in &marks {
        b.skipped.entry(m.stream.clone()).or_default().insert(m.seq);
    }
    Ok(marks.len())
}

/// Every skip mark in the journal.
pub async fn skips(journal: &Arc<dyn Journal>) -> Result<Vec<Skip>, JournalError> {
    let stream = StreamId::quarantine();
    let records = journal.replay(stream.as_str(), 0).await?;
    Ok(records.iter().filter_map(|r| serde_json::from_slice(&r.payload).ok()).collect())
}

/// Journals a skip mark (the server should be stopped: a running owner already recovered).
pub async fn mark(journal: &Arc<dyn Journal>, skip: &Skip) -> Result<u64, JournalError> {
    let stream = StreamId::quarantine();
    let expected = journal.head(stream.as_str()).await?;
    let payload = serde_json::to_vec(skip).map_err(|e| JournalError::Store(e.to_string()))?;
    journal.append(Append { stream: stream.into_string(), expected, at_ms: skip.at_ms, payloads: vec![payload] }).await
}

pub(crate) fn is_skipped(stream: &str, seq: u64) -> bool {
    board().skipped.get(stream).is_some_and(|s| s.contains(&seq))
}

pub(crate) fn report(poison: Poison) {
    // The reason is left out: a decoder's or a panic's message may quote the record's values
    // (phones, names); `hutong journal inspect` shows it to the operator who asks.
    tracing::error!(stream = %poison.stream, seq = poison.seq,
        "数据流已隔离：该记录无法应用，写入被拒绝，请用 hutong journal inspect 查看 / stream quarantined: a record cannot be applied; writes are refused until an operator deals with it (hutong journal inspect)");
    board().poisoned.insert(poison.stream.clone(), poison);
}

pub(crate) fn cleared(stream: &str) {
    board().poisoned.remove(stream);
}

/// The streams quarantined now.
pub fn poisoned() -> Vec<Poison> {
    board().poisoned.values().cloned().collect()
}
