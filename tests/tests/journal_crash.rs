//! `kill -9` in the middle of appends: every append the journal acknowledged is there after the
//! restart, and nothing half-written is decoded.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;

use hutong_actors::journal::{Journal, LogJournal, LogOptions, SqliteJournal, SqliteOptions};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_append_survives_kill_9_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    kill_rounds("sqlite", &dir.path().join("journal.db"), 3).await;
}

/// The log over 1 MiB segments, so the kills land in rolls too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_append_survives_kill_9_on_the_log() {
    let dir = tempfile::tempdir().unwrap();
    kill_rounds("log", &dir.path().join("log"), 10).await;
}

fn open(store: &str, path: &std::path::Path) -> Arc<dyn Journal> {
    match store {
        "log" => Arc::new(LogJournal::open(LogOptions { segment_bytes: 1 << 20, ..LogOptions::new(path) }).unwrap()),
        _ => Arc::new(SqliteJournal::open(SqliteOptions::new(path)).unwrap()),
    }
}

async fn kill_rounds(store: &str, path: &std::path::Path, rounds: usize) {
    for round in 0..rounds {
        let mut child = Command::new(env!("CARGO_BIN_EXE_journal_writer"))
            .arg(store)
            .arg(path)
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the writer");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut acked: HashMap<String, u64> = HashMap::new();
        let mut count = 0;
        while count < 1500 {
            let line = lines.next().expect("writer output").unwrap();
            let mut parts = line.split_whitespace().skip(1);
            let (stream, seq) = (parts.next().unwrap().to_string(), parts.next().unwrap().parse::<u64>().unwrap());
            let high = acked.entry(stream).or_default();
            *high = (*high).max(seq);
            count += 1;
        }
        child.kill().unwrap(); // SIGKILL, mid-append
        child.wait().unwrap();
        // Acks printed before the kill still count.
        for line in lines.map_while(Result::ok) {
            let mut parts = line.split_whitespace().skip(1);
            if let (Some(stream), Some(Ok(seq))) = (parts.next(), parts.next().map(str::parse::<u64>)) {
                let high = acked.entry(stream.to_string()).or_default();
                *high = (*high).max(seq);
            }
        }

        let journal = open(store, path);
        for (stream, high) in &acked {
            let records = journal.replay(stream, 0).await.unwrap();
            let head = records.last().map_or(0, |r| r.seq);
            assert!(head >= *high, "round {round}: {stream} acked {high} but holds {head}");
            assert_eq!(head % 2, 0, "round {round}: {stream} holds half an append");
            for (i, r) in records.iter().enumerate() {
                assert_eq!(r.seq, i as u64 + 1, "round {round}: {stream} has a gap");
                let decoded: serde_json::Value = serde_json::from_slice(&r.payload).expect("every stored event decodes");
                assert_eq!(decoded["seq"], r.seq);
                assert_eq!(decoded["stream"].as_str(), Some(stream.as_str()));
            }
        }
    }
}
