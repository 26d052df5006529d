//! The in-memory journal, for actor tests: same contract as the durable ones, nothing kept.

use std::collections::HashMap;
use std::sync::Mutex;

use super::{Append, BoxFuture, Journal, JournalError, Record, Snapshot};

#[derive(Default)]
pub struct MemoryJournal {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    streams: HashMap<String, Vec<Record>>,
    snapshots: HashMap<String, Snapshot>,
}

impl MemoryJournal {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave a half-appended stream: pushes happen after
        // the conflict check, all at once.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Journal for MemoryJournal {
    fn append(&self, append: Append) -> BoxFuture<'_, Result<u64, JournalError>> {
        let result = (|| {
            let mut inner = self.lock();
            let stream = inner.streams.entry(append.stream.clone()).or_default();
            let actual = stream.last().map_or(0, |r| r.seq);
            if actual != append.expected {
                return Err(JournalError::Conflict { stream: append.stream, expected: append.expected, actual });
            }
            let mut seq = actual;
            for payload in append.payloads {
                seq += 1;
                stream.push(Record { stream: append.stream.clone(), seq, at_ms: append.at_ms, payload });
            }
            Ok(seq)
        })();
        Box::pin(async move { result })
    }

    fn replay<'a>(&'a self, stream: &'a str, after: u64) -> BoxFuture<'a, Result<Vec<Record>, JournalError>> {
        let records = self
            .lock()
            .streams
            .get(stream)
            .map(|s| s.iter().filter(|r| r.seq > after).cloned().collect())
            .unwrap_or_default();
        Box::pin(async move { Ok(records) })
    }

    fn head<'a>(&'a self, stream: &'a str) -> BoxFuture<'a, Result<u64, JournalError>> {
        let head = self.lock().streams.get(stream).and_then(|s| s.last()).map_or(0, |r| r.seq);
        Box::pin(async move { Ok(head) })
    }

    fn save_snapshot(&self, snapshot: Snapshot) -> BoxFuture<'_, Result<(), JournalError>> {
        let mut inner = self.lock();
        let newer = inner.snapshots.get(&snapshot.stream).is_none_or(|s| s.seq <= snapshot.seq);
        if newer {
            inner.snapshots.insert(snapshot.stream.clone(), snapshot);
        }
        Box::pin(async { Ok(()) })
    }

    fn load_snapshot<'a>(&'a self, stream: &'a str) -> BoxFuture<'a, Result<Option<Snapshot>, JournalError>> {
        let snapshot = self.lock().snapshots.get(stream).cloned();
        Box::pin(async move { Ok(snapshot) })
    }
}

#[cfg(test)]
mod tests {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_memory_journal_passes_the_conformance_suite() {
        // Memory "restarts" keep the same store: it lives as long as the process.
        let store: std::sync::Arc<dyn super::Journal> = std::sync::Arc::new(super::MemoryJournal::new());
        super::super::conformance::run_all(|| {
            let store = store.clone();
            async move { store }
        })
        .await;
    }
}
