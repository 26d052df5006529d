//! The embedded journal: one SQLite file in WAL mode with `synchronous=FULL`, so an acknowledged
//! append survives a crash or power cut. One writer thread owns the write connection and commits
//! whatever appends queued up while the previous commit was syncing (group commit): one fsync
//! acknowledges many actors' events. Reads use their own connection and never wait for the writer.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OptionalExtension, params};
use tokio::sync::{mpsc, oneshot};

use super::{Append, BoxFuture, Journal, JournalError, Record, Snapshot};

/// How the SQLite journal is opened.
#[derive(Clone, Debug)]
pub struct SqliteOptions {
    pub path: PathBuf,
    /// The most requests one commit takes.
    pub max_batch: usize,
    /// A cap on the file's size, in MiB (SQLite's `max_page_count`): past it a write fails as on
    /// a full disk. `None`: the disk is the limit.
    pub max_mib: Option<u64>,
}

impl SqliteOptions {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into(), max_batch: 4096, max_mib: None }
    }
}

enum WriteRequest {
    Append(Append, oneshot::Sender<Result<u64, JournalError>>),
    Snapshot(Snapshot, oneshot::Sender<Result<(), JournalError>>),
}

pub struct SqliteJournal {
    writes: mpsc::Sender<WriteRequest>,
    reader: Arc<Mutex<Connection>>,
    failed: Failed,
}

/// The first write that failed, if one did: from then on the journal refuses every write
/// (fail-stop, review R3) — a half-failed store is not written to again until a person looked
/// at it and restarted Hutong.
type Failed = Arc<Mutex<Option<String>>>;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS events (
    stream  TEXT    NOT NULL,
    seq     INTEGER NOT NULL,
    at_ms   INTEGER NOT NULL,
    payload BLOB    NOT NULL,
    PRIMARY KEY (stream, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS snapshots (
    stream  TEXT    NOT NULL PRIMARY KEY,
    seq     INTEGER NOT NULL,
    payload BLOB    NOT NULL
) WITHOUT ROWID;
";

fn store_err(e: impl std::fmt::Display) -> JournalError {
    JournalError::Store(e.to_string())
}

fn open_connection(path: &Path) -> Result<Connection, JournalError> {
    let conn = Connection::open(path).map_err(store_err)?;
    conn.busy_timeout(std::time::Duration::from_secs(10)).map_err(store_err)?;
    // Thousands of streams append at once, so a commit dirties one leaf page per stream it
    // touches; small pages keep those WAL frames (and the fsync behind them) small. Only takes
    // effect when the file is created.
    conn.pragma_update(None, "page_size", 1024).map_err(store_err)?;
    conn.pragma_update(None, "journal_mode", "WAL").map_err(store_err)?;
    // FULL: the WAL is synced on every commit, so an acknowledged append survives power loss too.
    conn.pragma_update(None, "synchronous", "FULL").map_err(store_err)?;
    Ok(conn)
}

impl SqliteJournal {
    /// Opens (creating if needed) the journal file and starts its writer thread.
    pub fn open(options: SqliteOptions) -> Result<Self, JournalError> {
        if let Some(dir) = options.path.parent() {
            std::fs::create_dir_all(dir).map_err(store_err)?;
        }
        let writer = open_connection(&options.path)?;
        writer.execute_batch(SCHEMA).map_err(store_err)?;
        if let Some(mib) = options.max_mib {
            // Pages are 1 KiB (see `open_connection`).
            writer.pragma_update(None, "max_page_count", mib.saturating_mul(1024)).map_err(store_err)?;
        }
        let reader = open_connection(&options.path)?;
        let (tx, rx) = mpsc::channel(options.max_batch * 4);
        let max_batch = options.max_batch.max(1);
        let failed = Failed::default();
        let writer_failed = failed.clone();
        std::thread::Builder::new()
            .name("journal-writer".into())
            .spawn(move || Writer { conn: writer, heads: HashMap::new(), failed: writer_failed }.run(rx, max_batch))
            .map_err(store_err)?;
        Ok(Self { writes: tx, reader: Arc::new(Mutex::new(reader)), failed })
    }

    async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, JournalError> {
        let reader = self.reader.clone();
        tokio::task::spawn_blocking(move || {
            let conn = reader.lock().unwrap_or_else(|e| e.into_inner());
            f(&conn).map_err(store_err)
        })
        .await
        .map_err(store_err)?
    }
}

struct Writer {
    conn: Connection,
    /// Last seq of each stream touched so far; the writer is the only one who moves them.
    heads: HashMap<String, u64>,
    failed: Failed,
}

enum Reply {
    Append(oneshot::Sender<Result<u64, JournalError>>, Result<u64, JournalError>),
    Snapshot(oneshot::Sender<Result<(), JournalError>>),
}

impl Writer {
    fn run(mut self, mut rx: mpsc::Receiver<WriteRequest>, max_batch: usize) {
        let mut batch = Vec::with_capacity(max_batch);
        while let Some(first) = rx.blocking_recv() {
            batch.push(first);
            while batch.len() < max_batch {
                match rx.try_recv() {
                    Ok(next) => batch.push(next),
                    Err(_) => break,
                }
            }
            self.commit(&mut batch);
        }
    }

    fn head(&mut self, stream: &str) -> rusqlite::Result<u64> {
        if let Some(h) = self.heads.get(stream) {
            return Ok(*h);
        }
        let h: Option<i64> =
            self.conn.query_row("SELECT MAX(seq) FROM events WHERE stream = ?1", [stream], |r| r.get(0))?;
        let h = h.unwrap_or(0) as u64;
        self.heads.insert(stream.to_string(), h);
        Ok(h)
    }

    fn commit(&mut self, batch: &mut Vec<WriteRequest>) {
        if let Some(first) = self.failed.lock().unwrap_or_else(|e| e.into_inner()).clone() {
            let err = JournalError::Store(format!("the journal stopped taking writes after a failure: {first}"));
            for request in batch.drain(..) {
                match request {
                    WriteRequest::Append(_, tx) => drop(tx.send(Err(err.clone()))),
                    WriteRequest::Snapshot(_, tx) => drop(tx.send(Err(err.clone()))),
                }
            }
            return;
        }
        let mut replies = Vec::with_capacity(batch.len());
        let mut touched: Vec<String> = Vec::new();
        let mut pending = batch.drain(..);
        let outcome = self.write_all(&mut pending, &mut replies, &mut touched);
        // Requests a failure left unread are answered with it too.
        for request in pending {
            match request {
                WriteRequest::Append(_, tx) => replies.push(Reply::Append(tx, Ok(0))),
                WriteRequest::Snapshot(_, tx) => replies.push(Reply::Snapshot(tx)),
            }
        }
        match outcome {
            Ok(()) => {
                for reply in replies {
                    match reply {
                        Reply::Append(tx, r) => drop(tx.send(r)),
                        Reply::Snapshot(tx) => drop(tx.send(Ok(()))),
                    }
                }
            }
            Err(e) => {
                // Nothing of this batch is durable: forget the heads it moved and say so to
                // everyone; and take no more writes (fail-stop).
                tracing::error!(error = %e,
                    "日志写入失败，Hutong 已停止接受写入：请检查磁盘后重启 / the journal failed to write; Hutong takes no more writes — check the disk, then restart it");
                *self.failed.lock().unwrap_or_else(|e| e.into_inner()) = Some(e.to_string());
                for stream in touched {
                    self.heads.remove(&stream);
                }
                let err = store_err(e);
                for reply in replies {
                    match reply {
                        Reply::Append(tx, _) => drop(tx.send(Err(err.clone()))),
                        Reply::Snapshot(tx) => drop(tx.send(Err(err.clone()))),
                    }
                }
            }
        }
    }

    fn write_all(
        &mut self,
        requests: impl Iterator<Item = WriteRequest>,
        replies: &mut Vec<Reply>,
        touched: &mut Vec<String>,
    ) -> rusqlite::Result<()> {
        self.conn.execute_batch("BEGIN IMMEDIATE")?;
        let result = (|| {
            for request in requests {
                match request {
                    WriteRequest::Append(append, tx) => {
                        let actual = match self.head(&append.stream) {
                            Ok(actual) => actual,
                            Err(e) => {
                                // The request that failed hears why, like every other of the batch.
                                replies.push(Reply::Append(tx, Ok(0)));
                                return Err(e);
                            }
                        };
                        if actual != append.expected {
                            let conflict = JournalError::Conflict { stream: append.stream, expected: append.expected, actual };
                            replies.push(Reply::Append(tx, Err(conflict)));
                            continue;
                        }
                        let inserted = (|| {
                            let mut insert =
                                self.conn.prepare_cached("INSERT INTO events (stream, seq, at_ms, payload) VALUES (?1, ?2, ?3, ?4)")?;
                            let mut seq = actual;
                            for payload in &append.payloads {
                                seq += 1;
                                insert.execute(params![append.stream, seq as i64, append.at_ms, payload])?;
                            }
                            Ok(seq)
                        })();
                        match inserted {
                            Ok(seq) => {
                                self.heads.insert(append.stream.clone(), seq);
                                touched.push(append.stream);
                                replies.push(Reply::Append(tx, Ok(seq)));
                            }
                            Err(e) => {
                                replies.push(Reply::Append(tx, Ok(0)));
                                return Err(e);
                            }
                        }
                    }
                    WriteRequest::Snapshot(snapshot, tx) => {
                        replies.push(Reply::Snapshot(tx));
                        self.conn
                            .prepare_cached(
                                "INSERT INTO snapshots (stream, seq, payload) VALUES (?1, ?2, ?3)
                                 ON CONFLICT (stream) DO UPDATE SET seq = excluded.seq, payload = excluded.payload
                                 WHERE excluded.seq >= snapshots.seq",
                            )?
                            .execute(params![snapshot.stream, snapshot.seq as i64, snapshot.payload])?;
                    }
                }
            }
            Ok(())
        })();
        // A COMMIT that fails may leave the transaction open: roll it back either way.
        match result.and_then(|()| self.conn.execute_batch("COMMIT")) {
            Ok(()) => Ok(()),
            Err(e) => {
                let _ = self.conn.execute_batch("ROLLBACK");
                Err(e)
            }
        }
    }
}

impl Journal for SqliteJournal {
    fn failure(&self) -> Option<String> {
        self.failed.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn append(&self, append: Append) -> BoxFuture<'_, Result<u64, JournalError>> {
        Box::pin(async move {
            let (tx, rx) = oneshot::channel();
            self.writes.send(WriteRequest::Append(append, tx)).await.map_err(|_| JournalError::Closed)?;
            rx.await.map_err(|_| JournalError::Closed)?
        })
    }

    fn replay<'a>(&'a self, stream: &'a str, after: u64) -> BoxFuture<'a, Result<Vec<Record>, JournalError>> {
        let stream = stream.to_string();
        Box::pin(self.read(move |conn| {
            let mut stmt =
                conn.prepare_cached("SELECT seq, at_ms, payload FROM events WHERE stream = ?1 AND seq > ?2 ORDER BY seq")?;
            let rows = stmt.query_map(params![stream, after as i64], |r| {
                Ok(Record { stream: stream.clone(), seq: r.get::<_, i64>(0)? as u64, at_ms: r.get(1)?, payload: r.get(2)? })
            })?;
            rows.collect()
        }))
    }

    fn replay_page<'a>(&'a self, stream: &'a str, after: u64, limit: usize) -> BoxFuture<'a, Result<Vec<Record>, JournalError>> {
        let stream = stream.to_string();
        Box::pin(self.read(move |conn| {
            let mut stmt = conn
                .prepare_cached("SELECT seq, at_ms, payload FROM events WHERE stream = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3")?;
            let rows = stmt.query_map(params![stream, after as i64, limit as i64], |r| {
                Ok(Record { stream: stream.clone(), seq: r.get::<_, i64>(0)? as u64, at_ms: r.get(1)?, payload: r.get(2)? })
            })?;
            rows.collect()
        }))
    }

    fn head<'a>(&'a self, stream: &'a str) -> BoxFuture<'a, Result<u64, JournalError>> {
        let stream = stream.to_string();
        Box::pin(self.read(move |conn| {
            let h: Option<i64> = conn.query_row("SELECT MAX(seq) FROM events WHERE stream = ?1", [stream], |r| r.get(0))?;
            Ok(h.unwrap_or(0) as u64)
        }))
    }

    fn save_snapshot(&self, snapshot: Snapshot) -> BoxFuture<'_, Result<(), JournalError>> {
        Box::pin(async move {
            let (tx, rx) = oneshot::channel();
            self.writes.send(WriteRequest::Snapshot(snapshot, tx)).await.map_err(|_| JournalError::Closed)?;
            rx.await.map_err(|_| JournalError::Closed)?
        })
    }

    fn load_snapshot<'a>(&'a self, stream: &'a str) -> BoxFuture<'a, Result<Option<Snapshot>, JournalError>> {
        let stream = stream.to_string();
        Box::pin(self.read(move |conn| {
            conn.query_row("SELECT seq, payload FROM snapshots WHERE stream = ?1", [&stream], |r| {
                Ok(Snapshot { stream: stream.clone(), seq: r.get::<_, i64>(0)? as u64, payload: r.get(1)? })
            })
            .optional()
        }))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_sqlite_journal_passes_the_conformance_suite() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.db");
        super::super::conformance::run_all(move || {
            let path = path.clone();
            async move { Arc::new(SqliteJournal::open(SqliteOptions::new(path)).unwrap()) as Arc<dyn Journal> }
        })
        .await;
    }

    /// R3: a full disk (here, the file's size cap) fails the write that hit it, and every write
    /// after it, with the reason; what was acknowledged before is all still there.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_write_stops_the_journal_taking_writes() {
        let dir = tempfile::tempdir().unwrap();
        let options = SqliteOptions { max_mib: Some(1), ..SqliteOptions::new(dir.path().join("journal.db")) };
        let journal = SqliteJournal::open(options).unwrap();
        let append = |expected: u64| Append { stream: "full/1".into(), expected, at_ms: 0, payloads: vec![vec![7u8; 64 << 10]] };
        let mut acked = 0;
        let failed = loop {
            match journal.append(append(acked)).await {
                Ok(seq) => acked = seq,
                Err(e) => break e,
            }
            assert!(acked < 64, "a 1 MiB cap never filled");
        };
        assert!(matches!(failed, JournalError::Store(_)), "{failed}");
        assert!(journal.failure().is_some());
        let small = Append { stream: "other/1".into(), expected: 0, at_ms: 0, payloads: vec![b"{}".to_vec()] };
        assert!(journal.append(small).await.unwrap_err().to_string().contains("stopped taking writes"));
        assert_eq!(journal.replay("full/1", 0).await.unwrap().len() as u64, acked);
    }
}
