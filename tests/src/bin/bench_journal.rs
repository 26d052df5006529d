//! `cargo xtask bench journal`: durable appends per second and latency percentiles of the journal
//! on SQLite and on a real CQL node (Apache Cassandra 5 from Maven Central), beside the raw driver
//! executing the same conditional batches, so our writer's overhead over the driver shows.
//!
//! Workload: `streams` actors append one ~200-byte event at a time, each waiting for its
//! acknowledgement before the next (as a device actor does), all streams at once.

use std::sync::Arc;
use std::time::{Duration, Instant};

use hutong_actors::journal::{Append, Journal, LogJournal, LogOptions, ScyllaJournal, ScyllaOptions, SqliteJournal, SqliteOptions, init_schema};
use hutong_tests::cassandra::CassandraNode;
use scylla::client::session::Session;
use scylla::statement::batch::{Batch, BatchType};
use scylla::statement::{Consistency, SerialConsistency};

struct Figures {
    appends: usize,
    seconds: f64,
    p50_ms: f64,
    p99_ms: f64,
}

fn summarise(mut latencies: Vec<Duration>, elapsed: Duration) -> Figures {
    latencies.sort_unstable();
    let at = |p: f64| {
        #[allow(clippy::float_arithmetic)]
        let i = ((latencies.len() - 1) as f64 * p).round() as usize;
        latencies[i].as_secs_f64() * 1000.0
    };
    Figures { appends: latencies.len(), seconds: elapsed.as_secs_f64(), p50_ms: at(0.5), p99_ms: at(0.99) }
}

fn payload(stream: usize, seq: u64) -> Vec<u8> {
    format!("{{\"type\":\"reading_accepted\",\"signal\":{{\"seq\":{seq},\"at\":\"2026-11-22T08:00:00Z\",\"seen\":\"2026-11-22T08:00:00.001Z\"}},\"value\":\"{stream}.{seq:03}\",\"usage\":\"0.012\",\"pad\":\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}}").into_bytes()
}

/// Runs `streams` tasks that each make `per_stream` appends one after another, timing each.
async fn run_streams<F, Fut>(streams: usize, per_stream: u64, append: F) -> Figures
where
    F: Fn(usize, u64) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let start = Instant::now();
    let tasks: Vec<_> = (0..streams)
        .map(|s| {
            let append = append.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(per_stream as usize);
                for seq in 0..per_stream {
                    let t = Instant::now();
                    append(s, seq).await;
                    latencies.push(t.elapsed());
                }
                latencies
            })
        })
        .collect();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    summarise(all, start.elapsed())
}

async fn through_journal(journal: Arc<dyn Journal>, prefix: &str, streams: usize, per_stream: u64) -> Figures {
    let prefix = prefix.to_string();
    run_streams(streams, per_stream, move |s, seq| {
        let (journal, stream) = (journal.clone(), format!("{prefix}/{s}"));
        async move {
            let append = Append { stream, expected: seq, at_ms: 0, payloads: vec![payload(s, seq + 1)] };
            journal.append(append).await.expect("append");
        }
    })
    .await
}

/// The same conditional batches, straight through the driver, with heads tracked by the caller.
async fn raw_driver(session: Arc<Session>, keyspace: &str, prefix: &str, streams: usize, per_stream: u64) -> Figures {
    let mut statement = session
        .prepare(format!("UPDATE {keyspace}.events SET at_ms = ?, payload = ?, head = ? WHERE stream = ? AND bucket = ? AND seq = ? IF head = ?"))
        .await
        .unwrap();
    statement.set_consistency(Consistency::Quorum);
    let prefix = prefix.to_string();
    run_streams(streams, per_stream, move |s, seq| {
        let (session, statement, stream) = (session.clone(), statement.clone(), format!("{prefix}/{s}"));
        async move {
            let mut batch = Batch::new(BatchType::Logged);
            batch.append_statement(statement);
            batch.set_consistency(Consistency::Quorum);
            batch.set_serial_consistency(Some(SerialConsistency::Serial));
            let condition = (seq > 0).then_some(seq as i64);
            let values = vec![(0i64, payload(s, seq + 1), (seq + 1) as i64, stream, 0i64, (seq + 1) as i64, condition)];
            session.batch(&batch, values).await.expect("raw batch");
        }
    })
    .await
}

/// The review's named peer for the log: fjall (an LSM store), driven the way our journals are —
/// one writer thread taking every waiting append, one write batch and one `persist(SyncData)` per
/// group commit, heads checked in memory — so the figures compare the stores, not the plumbing.
struct FjallAppender {
    requests: std::sync::mpsc::Sender<(String, u64, Vec<u8>, tokio::sync::oneshot::Sender<()>)>,
}

impl FjallAppender {
    fn open(dir: &std::path::Path) -> Self {
        let db = fjall::Database::builder(dir).open().expect("fjall opens");
        let events = db.keyspace("events", fjall::KeyspaceCreateOptions::default).expect("keyspace");
        let (tx, rx) = std::sync::mpsc::channel::<(String, u64, Vec<u8>, tokio::sync::oneshot::Sender<()>)>();
        std::thread::spawn(move || {
            let mut heads: std::collections::HashMap<String, u64> = std::collections::HashMap::new();
            while let Ok(first) = rx.recv() {
                let mut batch = vec![first];
                while let Ok(next) = rx.try_recv() {
                    batch.push(next);
                }
                let mut write = db.batch();
                let mut replies = Vec::with_capacity(batch.len());
                for (stream, expected, payload, reply) in batch {
                    let head = heads.entry(stream.clone()).or_default();
                    assert_eq!(*head, expected, "one writer per stream");
                    *head += 1;
                    let mut key = stream.into_bytes();
                    key.push(0);
                    key.extend_from_slice(&head.to_be_bytes());
                    write.insert(&events, key, payload);
                    replies.push(reply);
                }
                write.commit().expect("fjall batch");
                db.persist(fjall::PersistMode::SyncData).expect("fjall persist");
                for reply in replies {
                    let _ = reply.send(());
                }
            }
        });
        FjallAppender { requests: tx }
    }
}

async fn through_fjall(fjall: Arc<FjallAppender>, streams: usize, per_stream: u64) -> Figures {
    run_streams(streams, per_stream, move |s, seq| {
        let fjall = fjall.clone();
        async move {
            let (tx, rx) = tokio::sync::oneshot::channel();
            fjall.requests.send((format!("bench/{s}"), seq, payload(s, seq + 1), tx)).expect("fjall writer");
            rx.await.expect("fjall ack");
        }
    })
    .await
}

fn row(name: &str, f: &Figures) {
    #[allow(clippy::float_arithmetic)]
    let rate = f.appends as f64 / f.seconds;
    println!("| {name} | {} | {:.2} | {rate:.0} | {:.2} | {:.2} |", f.appends, f.seconds, f.p50_ms, f.p99_ms);
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    // The two embedded stores, side by side: 256 and 3,000 streams appending at once.
    let mut embedded = Vec::new();
    for (streams, per_stream) in [(256, 400), (3_000, 60)] {
        let sqlite: Arc<dyn Journal> = Arc::new(SqliteJournal::open(SqliteOptions::new(dir.path().join(format!("journal-{streams}.db")))).unwrap());
        embedded.push((format!("SQLite (WAL, synchronous=FULL), {streams} streams"), through_journal(sqlite, "bench", streams, per_stream).await));
        let log: Arc<dyn Journal> = Arc::new(LogJournal::open(LogOptions::new(dir.path().join(format!("log-{streams}")))).unwrap());
        embedded.push((format!("append-only log (fdatasync per group commit), {streams} streams"), through_journal(log, "bench", streams, per_stream).await));
        let fjall = Arc::new(FjallAppender::open(&dir.path().join(format!("fjall-{streams}"))));
        embedded.push((format!("fjall 3 (LSM; one batch + persist(SyncData) per group commit), {streams} streams"), through_fjall(fjall, streams, per_stream).await));
    }
    println!("| store | appends | seconds | durable appends/s | p50 ms | p99 ms |");
    println!("|---|---|---|---|---|---|");
    for (name, figures) in &embedded {
        row(name, figures);
    }
    if std::env::args().any(|a| a == "--embedded-only") {
        return;
    }

    let node = CassandraNode::start_blocking(dir.path().join("node")).await;
    let session = Arc::new(scylla::client::session_builder::SessionBuilder::new().known_node(&node.cql).build().await.unwrap());
    init_schema(&session, "bench", "{'class': 'SimpleStrategy', 'replication_factor': 1}").await.unwrap();
    let options = ScyllaOptions::from_url(&format!("scylla://{}/bench", node.cql)).unwrap();
    let cql: Arc<dyn Journal> = Arc::new(ScyllaJournal::connect(&options).await.unwrap());
    // Warm up both paths (connections, prepared statements, Paxos tables).
    through_journal(cql.clone(), "warm", 16, 10).await;
    raw_driver(session.clone(), "bench", "warm-raw", 16, 10).await;
    // Interleaved rounds, so the node warming up (JIT, Paxos tables) favours neither side; the
    // last round of each is reported.
    let (streams, per_stream) = (64, 40);
    let mut ours = None;
    let mut raw = None;
    for round in 0..3 {
        ours = Some(through_journal(cql.clone(), &format!("ours{round}"), streams, per_stream).await);
        raw = Some(raw_driver(session.clone(), "bench", &format!("raw{round}"), streams, per_stream).await);
    }
    let (ours, raw) = (ours.unwrap(), raw.unwrap());

    println!("\n| store | appends | seconds | durable appends/s | p50 ms | p99 ms |");
    println!("|---|---|---|---|---|---|");
    row(&format!("CQL node, Hutong journal (LWT batch, QUORUM), {streams} streams"), &ours);
    row(&format!("CQL node, raw driver, same batches, {streams} streams"), &raw);
    #[allow(clippy::float_arithmetic)]
    let overhead = (raw.appends as f64 / raw.seconds) / (ours.appends as f64 / ours.seconds) - 1.0;
    #[allow(clippy::float_arithmetic)]
    let overhead_pct = overhead * 100.0;
    println!("\nHutong's writer over the raw driver: {overhead_pct:+.1}% time per append (target ≤ 10%)");
    drop(node);
}
