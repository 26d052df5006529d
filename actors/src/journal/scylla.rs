//! The journal on ScyllaDB (Apache Cassandra 5 speaks the same CQL), for when one machine is not
//! enough. Same contract as SQLite: append with the expected seq, refused on conflict, durable at
//! the configured consistency (QUORUM by default) before it is acknowledged.
//!
//! Layout (`deploy/scylla/schema.cql`): events partitioned by `(stream, bucket)`, a bucket holding
//! the appends whose first seq falls in `[b·BUCKET+1, (b+1)·BUCKET]`; an append never splits, so
//! a bucket may run a little past its range. Each append is one conditional batch on one
//! partition — `IF head = expected` (or `IF head = null` when it opens a bucket, after checking
//! the previous bucket ends at `expected`) — so it is all-or-nothing and a stale writer loses.
//! Results of conditional statements are read by their `[applied]` column only.

use std::sync::Arc;

use scylla::client::session::Session;
use scylla::client::session_builder::SessionBuilder;
use scylla::statement::batch::{Batch, BatchType};
use scylla::statement::prepared::PreparedStatement;
use scylla::statement::{Consistency, SerialConsistency};
use scylla::value::{CqlValue, Row};

use super::{Append, BoxFuture, Journal, JournalError, Record, Snapshot};

/// Events per bucket (partition) before a stream moves to the next one.
pub const BUCKET: u64 = 4096;

/// Where and how to reach the cluster.
#[derive(Clone, Debug)]
pub struct ScyllaOptions {
    pub nodes: Vec<String>,
    pub keyspace: String,
    /// Consistency of acknowledged writes and of reads.
    pub consistency: Consistency,
}

impl ScyllaOptions {
    /// `scylla://host:port[,host:port…]/keyspace[?consistency=quorum|local_quorum|all]`. `one` is
    /// refused: an append acknowledged by one replica is not durable (review R5).
    pub fn from_url(url: &str) -> Result<Self, JournalError> {
        let bad = |why: &str| JournalError::Store(format!("存储地址无效 / invalid store URL {url:?}: {why} (expected scylla://host:port/keyspace)"));
        let rest = url.strip_prefix("scylla://").ok_or_else(|| bad("scheme must be scylla://"))?;
        let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
        let consistency = match query.strip_prefix("consistency=") {
            None if query.is_empty() => Consistency::Quorum,
            Some("quorum") => Consistency::Quorum,
            Some("local_quorum") => Consistency::LocalQuorum,
            Some("all") => Consistency::All,
            Some("one") => return Err(bad("consistency=one would acknowledge an append one replica holds; use quorum or local_quorum")),
            _ => return Err(bad("consistency must be quorum, local_quorum or all")),
        };
        let (hosts, keyspace) = rest.split_once('/').ok_or_else(|| bad("no keyspace"))?;
        if keyspace.is_empty() || !keyspace.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(bad("the keyspace must be letters, digits and _"));
        }
        let nodes: Vec<String> = hosts.split(',').filter(|h| !h.is_empty()).map(str::to_string).collect();
        if nodes.is_empty() {
            return Err(bad("no host"));
        }
        Ok(Self { nodes, keyspace: keyspace.to_string(), consistency })
    }
}

fn store_err(e: impl std::fmt::Display) -> JournalError {
    JournalError::Store(e.to_string())
}

struct Statements {
    append: PreparedStatement,
    bucket_head: PreparedStatement,
    read_bucket: PreparedStatement,
    save_snapshot_new: PreparedStatement,
    save_snapshot_newer: PreparedStatement,
    load_snapshot: PreparedStatement,
}

pub struct ScyllaJournal {
    session: Arc<Session>,
    st: Statements,
    /// The last `(bucket, head)` this journal wrote per stream: lets an append skip the reads
    /// when it continues where this process left off. Only a hint — the LWT still decides.
    heads: std::sync::Mutex<std::collections::HashMap<String, (i64, u64)>>,
}

/// The bucket an append starting at `first` goes to.
fn bucket_of(first: u64) -> i64 {
    ((first.max(1) - 1) / BUCKET) as i64
}

/// Runs the schema file's statements for `keyspace` with `replication` (a CQL map literal).
pub async fn init_schema(session: &Session, keyspace: &str, replication: &str) -> Result<(), JournalError> {
    let schema = include_str!("../../../deploy/scylla/schema.cql");
    let text: String = schema.lines().filter(|l| !l.trim_start().starts_with("--")).collect::<Vec<_>>().join("\n");
    for statement in text.split(';').map(str::trim).filter(|s| !s.is_empty()) {
        let cql = statement.replace("{keyspace}", keyspace).replace("{replication}", replication);
        session.query_unpaged(cql, ()).await.map_err(store_err)?;
    }
    session.await_schema_agreement().await.map_err(store_err)?;
    Ok(())
}

/// Whether a conditional statement or batch was applied, read from its `[applied]` column.
fn applied(result: scylla::response::query_result::QueryResult) -> Result<bool, JournalError> {
    let rows = result.into_rows_result().map_err(store_err)?;
    let index = rows
        .column_specs()
        .iter()
        .position(|c| c.name() == "[applied]")
        .ok_or_else(|| store_err("no [applied] column in a conditional result"))?;
    let row: Row = rows.first_row().map_err(store_err)?;
    Ok(matches!(row.columns.get(index), Some(Some(CqlValue::Boolean(true)))))
}

impl ScyllaJournal {
    /// Connects and prepares; refuses with a clear sentence when the cluster is unreachable or
    /// the schema is missing.
    pub async fn connect(options: &ScyllaOptions) -> Result<Self, JournalError> {
        let session = SessionBuilder::new()
            .known_nodes(&options.nodes)
            .connection_timeout(std::time::Duration::from_secs(5))
            .build()
            .await
            .map_err(|e| JournalError::Store(format!("无法连接 ScyllaDB / cannot reach the cluster at {:?}: {e}", options.nodes)))?;
        Self::with_session(Arc::new(session), options).await
    }

    pub async fn with_session(session: Arc<Session>, options: &ScyllaOptions) -> Result<Self, JournalError> {
        let ks = &options.keyspace;
        let prepare = async |cql: String, serial: bool| -> Result<PreparedStatement, JournalError> {
            let mut p = session.prepare(cql).await.map_err(|e| {
                JournalError::Store(format!("ScyllaDB 缺少表结构 / the schema in keyspace {ks} is missing or different (run `hutong store init`): {e}"))
            })?;
            p.set_consistency(options.consistency);
            if serial {
                p.set_serial_consistency(Some(SerialConsistency::Serial));
            }
            Ok(p)
        };
        let st = Statements {
            append: prepare(
                format!("UPDATE {ks}.events SET at_ms = ?, payload = ?, head = ? WHERE stream = ? AND bucket = ? AND seq = ? IF head = ?"),
                true,
            )
            .await?,
            bucket_head: prepare(format!("SELECT head FROM {ks}.events WHERE stream = ? AND bucket = ? LIMIT 1"), false).await?,
            read_bucket: prepare(format!("SELECT seq, at_ms, payload FROM {ks}.events WHERE stream = ? AND bucket = ? AND seq > ?"), false).await?,
            save_snapshot_new: prepare(format!("INSERT INTO {ks}.snapshots (stream, seq, payload) VALUES (?, ?, ?) IF NOT EXISTS"), true).await?,
            save_snapshot_newer: prepare(format!("UPDATE {ks}.snapshots SET seq = ?, payload = ? WHERE stream = ? IF seq <= ?"), true).await?,
            load_snapshot: prepare(format!("SELECT seq, payload FROM {ks}.snapshots WHERE stream = ?"), false).await?,
        };
        Ok(Self { session, st, heads: Default::default() })
    }

    /// The last seq written to a bucket, `None` when the bucket is empty.
    async fn bucket_head(&self, stream: &str, bucket: i64) -> Result<Option<u64>, JournalError> {
        let rows = self.session.execute_unpaged(&self.st.bucket_head, (stream, bucket)).await.map_err(store_err)?;
        let rows = rows.into_rows_result().map_err(store_err)?;
        let head: Option<(Option<i64>,)> = rows.maybe_first_row().map_err(store_err)?;
        Ok(head.and_then(|(h,)| h).map(|h| h as u64))
    }

    async fn append_inner(&self, append: Append) -> Result<u64, JournalError> {
        let n = append.payloads.len() as u64;
        if n == 0 {
            return Ok(append.expected);
        }
        if n > BUCKET {
            return Err(store_err(format!("an append of {n} events is over the {BUCKET}-event limit")));
        }
        let bucket = bucket_of(append.expected + 1);
        let known = self.heads.lock().unwrap_or_else(|e| e.into_inner()).get(&append.stream).copied();
        // Opening a bucket: the previous one must end exactly at `expected`.
        let condition = match known {
            // Continuing this process's own last append: no read needed.
            Some((b, h)) if h == append.expected && b == bucket => Some(h as i64),
            Some((b, h)) if h == append.expected && b + 1 == bucket => None,
            _ => self.condition_by_reading(&append, bucket).await?,
        };
        let head = (append.expected + n) as i64;
        let mut batch = Batch::new(BatchType::Logged);
        let mut values = Vec::with_capacity(n as usize);
        for (i, payload) in append.payloads.into_iter().enumerate() {
            batch.append_statement(self.st.append.clone());
            let seq = (append.expected + 1 + i as u64) as i64;
            values.push((append.at_ms, payload, head, append.stream.clone(), bucket, seq, condition));
        }
        batch.set_consistency(self.st.append.get_consistency().unwrap_or(Consistency::Quorum));
        batch.set_serial_consistency(Some(SerialConsistency::Serial));
        let result = self.session.batch(&batch, values).await.map_err(store_err)?;
        if applied(result)? {
            self.heads.lock().unwrap_or_else(|e| e.into_inner()).insert(append.stream, (bucket, head as u64));
            Ok(head as u64)
        } else {
            // Someone else moved the stream first; say where it is now.
            self.heads.lock().unwrap_or_else(|e| e.into_inner()).remove(&append.stream);
            let actual = self.head_inner(&append.stream).await?;
            Err(JournalError::Conflict { stream: append.stream, expected: append.expected, actual })
        }
    }

    /// The condition for an append into `bucket`, from what the store holds now.
    async fn condition_by_reading(&self, append: &Append, bucket: i64) -> Result<Option<i64>, JournalError> {
        let conflict = |actual: u64| JournalError::Conflict { stream: append.stream.clone(), expected: append.expected, actual };
        Ok(match self.bucket_head(&append.stream, bucket).await? {
            Some(h) if h != append.expected => return Err(conflict(h)),
            Some(h) => Some(h as i64),
            None => {
                let before = if bucket == 0 { 0 } else { self.bucket_head(&append.stream, bucket - 1).await?.unwrap_or(0) };
                if before != append.expected {
                    return Err(conflict(before));
                }
                None
            }
        })
    }

    async fn replay_inner(&self, stream: &str, after: u64, limit: usize) -> Result<Vec<Record>, JournalError> {
        // The event after `after` is in its own bucket or, if an append ran past a boundary, the one before.
        let mut bucket = (bucket_of(after + 1) - 1).max(0);
        let mut out = Vec::new();
        loop {
            if self.bucket_head(stream, bucket).await?.is_none() {
                if bucket > bucket_of(after + 1) {
                    break;
                }
                bucket += 1;
                continue;
            }
            let mut pager = self
                .session
                .execute_iter(self.st.read_bucket.clone(), (stream, bucket, after as i64))
                .await
                .map_err(store_err)?
                .rows_stream::<(i64, Option<i64>, Option<Vec<u8>>)>()
                .map_err(store_err)?;
            use futures_util::TryStreamExt;
            while let Some((seq, at_ms, payload)) = pager.try_next().await.map_err(store_err)? {
                out.push(Record { stream: stream.to_string(), seq: seq as u64, at_ms: at_ms.unwrap_or(0), payload: payload.unwrap_or_default() });
                if out.len() >= limit {
                    return Ok(out);
                }
            }
            bucket += 1;
        }
        Ok(out)
    }

    async fn head_inner(&self, stream: &str) -> Result<u64, JournalError> {
        let mut bucket = 0;
        let mut head = 0;
        while let Some(h) = self.bucket_head(stream, bucket).await? {
            head = h;
            bucket += 1;
        }
        Ok(head)
    }

    async fn save_snapshot_inner(&self, s: Snapshot) -> Result<(), JournalError> {
        let r = self.session.execute_unpaged(&self.st.save_snapshot_new, (&s.stream, s.seq as i64, &s.payload)).await.map_err(store_err)?;
        if applied(r)? {
            return Ok(());
        }
        // Not applied by an older snapshot is no error: the newer one stays.
        let r = self
            .session
            .execute_unpaged(&self.st.save_snapshot_newer, (s.seq as i64, &s.payload, &s.stream, s.seq as i64))
            .await
            .map_err(store_err)?;
        let _ = applied(r)?;
        Ok(())
    }

    async fn load_snapshot_inner(&self, stream: &str) -> Result<Option<Snapshot>, JournalError> {
        let rows = self.session.execute_unpaged(&self.st.load_snapshot, (stream,)).await.map_err(store_err)?;
        let rows = rows.into_rows_result().map_err(store_err)?;
        let row: Option<(i64, Option<Vec<u8>>)> = rows.maybe_first_row().map_err(store_err)?;
        Ok(row.map(|(seq, payload)| Snapshot { stream: stream.to_string(), seq: seq as u64, payload: payload.unwrap_or_default() }))
    }
}

impl Journal for ScyllaJournal {
    fn append(&self, append: Append) -> BoxFuture<'_, Result<u64, JournalError>> {
        Box::pin(self.append_inner(append))
    }

    fn replay<'a>(&'a self, stream: &'a str, after: u64) -> BoxFuture<'a, Result<Vec<Record>, JournalError>> {
        Box::pin(self.replay_inner(stream, after, usize::MAX))
    }

    fn replay_page<'a>(&'a self, stream: &'a str, after: u64, limit: usize) -> BoxFuture<'a, Result<Vec<Record>, JournalError>> {
        Box::pin(self.replay_inner(stream, after, limit))
    }

    fn head<'a>(&'a self, stream: &'a str) -> BoxFuture<'a, Result<u64, JournalError>> {
        Box::pin(self.head_inner(stream))
    }

    fn save_snapshot(&self, snapshot: Snapshot) -> BoxFuture<'_, Result<(), JournalError>> {
        Box::pin(self.save_snapshot_inner(snapshot))
    }

    fn load_snapshot<'a>(&'a self, stream: &'a str) -> BoxFuture<'a, Result<Option<Snapshot>, JournalError>> {
        Box::pin(self.load_snapshot_inner(stream))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_urls_parse_or_say_why_not() {
        let o = ScyllaOptions::from_url("scylla://10.0.0.1:9042,10.0.0.2:9042/hutong").unwrap();
        assert_eq!((o.nodes.len(), o.keyspace.as_str(), o.consistency), (2, "hutong", Consistency::Quorum));
        let o = ScyllaOptions::from_url("scylla://h:9042/ks?consistency=local_quorum").unwrap();
        assert_eq!(o.consistency, Consistency::LocalQuorum);
        assert!(ScyllaOptions::from_url("scylla://h:9042/ks?consistency=maybe").is_err());
        // R5: an acknowledgement from one replica is not durable.
        assert!(ScyllaOptions::from_url("scylla://h:9042/ks?consistency=one").unwrap_err().to_string().contains("quorum"));
        for bad in ["cassandra://x/ks", "scylla://x", "scylla:///ks", "scylla://x/k-s"] {
            assert!(ScyllaOptions::from_url(bad).unwrap_err().to_string().contains("scylla://"), "{bad}");
        }
    }

    #[test]
    fn appends_go_to_the_bucket_of_their_first_event() {
        assert_eq!((bucket_of(1), bucket_of(BUCKET), bucket_of(BUCKET + 1)), (0, 0, 1));
    }
}
