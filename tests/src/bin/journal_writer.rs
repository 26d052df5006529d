//! Appends to a journal (`journal_writer sqlite FILE` or `journal_writer log DIR`) as fast as it
//! can from many tasks, printing `ack STREAM SEQ` for every append the journal acknowledged,
//! until it is killed. The crash test kills it with -9.

use std::io::Write;
use std::sync::Arc;

use hutong_actors::journal::{Append, Journal, LogJournal, LogOptions, SqliteJournal, SqliteOptions};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let store = std::env::args().nth(1).expect("sqlite or log");
    let path = std::env::args().nth(2).expect("journal path");
    let journal: Arc<dyn Journal> = match store.as_str() {
        "log" => Arc::new(LogJournal::open(LogOptions { segment_bytes: 1 << 20, ..LogOptions::new(path) }).expect("open")),
        _ => Arc::new(SqliteJournal::open(SqliteOptions::new(path)).expect("open")),
    };
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    for w in 0..16 {
        let (journal, tx) = (journal.clone(), tx.clone());
        tokio::spawn(async move {
            let stream = format!("crash/{w}");
            let mut head = journal.head(&stream).await.expect("head");
            loop {
                // Two events per append, so a torn append would show as a gap or an odd count.
                let payloads = (1..=2).map(|i| format!("{{\"stream\":\"{stream}\",\"seq\":{}}}", head + i).into_bytes()).collect();
                let append = Append { stream: stream.clone(), expected: head, at_ms: 0, payloads };
                head = journal.append(append).await.expect("append");
                if tx.send(format!("ack {stream} {head}")).is_err() {
                    return;
                }
            }
        });
    }
    drop(tx);
    let mut out = std::io::stdout().lock();
    while let Some(line) = rx.recv().await {
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    }
}
