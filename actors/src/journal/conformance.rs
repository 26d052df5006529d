//! The one conformance suite every journal backend must pass. `open` opens the *same* store each
//! time it is called, so "after a restart" means: drop the journal, open it again, look.
//! Each check writes its own streams, so they can share one store.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::{Append, Journal, JournalError, Snapshot};

static RUN: AtomicU64 = AtomicU64::new(0);

fn stream(name: &str) -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    format!("conformance/{name}/{nanos}-{}", RUN.fetch_add(1, Ordering::Relaxed))
}

fn payloads(from: u64, n: u64) -> Vec<Vec<u8>> {
    (from..from + n).map(|i| format!("{{\"n\":{i}}}").into_bytes()).collect()
}

fn append(stream: &str, expected: u64, payloads: Vec<Vec<u8>>) -> Append {
    Append { stream: stream.to_string(), expected, at_ms: 1_700_000_000_000, payloads }
}

/// Runs every check, panicking with the name of the first that fails.
pub async fn run_all<F, Fut>(open: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Arc<dyn Journal>>,
{
    appends_replay_in_order(open().await).await;
    a_stale_expected_seq_is_refused_and_writes_nothing(open().await).await;
    replay_starts_after_the_given_seq(open().await).await;
    snapshots_keep_the_newest(open().await).await;
    concurrent_writers_on_one_stream_never_overwrite(open().await).await;
    many_streams_commit_together(open().await).await;
    large_streams_replay_whole(open().await).await;
    everything_is_there_after_a_restart(&open).await;
}

pub async fn appends_replay_in_order(j: Arc<dyn Journal>) {
    let s = stream("order");
    assert_eq!(j.append(append(&s, 0, payloads(1, 3))).await.unwrap(), 3);
    assert_eq!(j.append(append(&s, 3, payloads(4, 2))).await.unwrap(), 5);
    let records = j.replay(&s, 0).await.unwrap();
    assert_eq!(records.iter().map(|r| r.seq).collect::<Vec<_>>(), vec![1, 2, 3, 4, 5], "order");
    assert_eq!(records.iter().map(|r| r.payload.clone()).collect::<Vec<_>>(), payloads(1, 5), "payloads");
    assert_eq!(j.head(&s).await.unwrap(), 5);
    assert_eq!(j.head(&stream("empty")).await.unwrap(), 0);
}

pub async fn a_stale_expected_seq_is_refused_and_writes_nothing(j: Arc<dyn Journal>) {
    let s = stream("conflict");
    j.append(append(&s, 0, payloads(1, 2))).await.unwrap();
    let err = j.append(append(&s, 0, payloads(100, 5))).await.unwrap_err();
    assert_eq!(err, JournalError::Conflict { stream: s.clone(), expected: 0, actual: 2 });
    let err = j.append(append(&s, 7, payloads(100, 1))).await.unwrap_err();
    assert!(matches!(err, JournalError::Conflict { actual: 2, .. }), "ahead of the stream is a conflict too");
    assert_eq!(j.replay(&s, 0).await.unwrap().len(), 2, "a refused append wrote nothing");
}

pub async fn replay_starts_after_the_given_seq(j: Arc<dyn Journal>) {
    let s = stream("after");
    j.append(append(&s, 0, payloads(1, 10))).await.unwrap();
    let tail = j.replay(&s, 7).await.unwrap();
    assert_eq!(tail.iter().map(|r| r.seq).collect::<Vec<_>>(), vec![8, 9, 10]);
    assert!(j.replay(&s, 10).await.unwrap().is_empty());
    let page = j.replay_page(&s, 2, 3).await.unwrap();
    assert_eq!(page.iter().map(|r| r.seq).collect::<Vec<_>>(), vec![3, 4, 5], "a page holds at most its limit, in order");
    assert_eq!(j.replay_page(&s, 8, 5).await.unwrap().len(), 2);
}

pub async fn snapshots_keep_the_newest(j: Arc<dyn Journal>) {
    let s = stream("snapshot");
    assert_eq!(j.load_snapshot(&s).await.unwrap(), None);
    let snap = |seq: u64| Snapshot { stream: s.clone(), seq, payload: format!("state@{seq}").into_bytes() };
    j.save_snapshot(snap(5)).await.unwrap();
    j.save_snapshot(snap(3)).await.unwrap();
    assert_eq!(j.load_snapshot(&s).await.unwrap(), Some(snap(5)), "an older snapshot never replaces a newer");
    j.save_snapshot(snap(8)).await.unwrap();
    assert_eq!(j.load_snapshot(&s).await.unwrap(), Some(snap(8)));
}

pub async fn concurrent_writers_on_one_stream_never_overwrite(j: Arc<dyn Journal>) {
    let s = stream("concurrent");
    let writers = 8u64;
    let each = 25u64;
    let mut tasks = Vec::new();
    for w in 0..writers {
        let (j, s) = (j.clone(), s.clone());
        tasks.push(tokio::spawn(async move {
            let mut written = 0;
            let mut conflicts = 0u64;
            while written < each {
                let head = j.head(&s).await.unwrap();
                let payload = vec![format!("w{w}-{written}").into_bytes()];
                match j.append(append(&s, head, payload)).await {
                    Ok(_) => written += 1,
                    Err(JournalError::Conflict { .. }) => conflicts += 1,
                    Err(e) => panic!("concurrent append failed: {e}"),
                }
            }
            conflicts
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let records = j.replay(&s, 0).await.unwrap();
    assert_eq!(records.len() as u64, writers * each, "every successful append is there exactly once");
    assert!(records.iter().enumerate().all(|(i, r)| r.seq == i as u64 + 1), "seqs are contiguous");
    let mut seen: Vec<_> = records.iter().map(|r| r.payload.clone()).collect();
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len() as u64, writers * each, "no event was overwritten by another writer");
}

pub async fn many_streams_commit_together(j: Arc<dyn Journal>) {
    let base = stream("many");
    let mut tasks = Vec::new();
    for i in 0..200 {
        let (j, s) = (j.clone(), format!("{base}/{i}"));
        tasks.push(tokio::spawn(async move {
            for k in 0..10u64 {
                j.append(append(&s, k, payloads(k, 1))).await.unwrap();
            }
            s
        }));
    }
    for t in tasks {
        let s = t.await.unwrap();
        assert_eq!(j.head(&s).await.unwrap(), 10);
    }
}

pub async fn large_streams_replay_whole(j: Arc<dyn Journal>) {
    let s = stream("large");
    let mut head = 0;
    for chunk in 0..50u64 {
        head = j.append(append(&s, head, payloads(chunk * 200, 200))).await.unwrap();
    }
    let records = j.replay(&s, 0).await.unwrap();
    assert_eq!(records.len(), 10_000);
    assert!(records.windows(2).all(|w| w[1].seq == w[0].seq + 1));
    assert_eq!(records[9_999].payload, payloads(9_999, 1)[0]);
}

pub async fn everything_is_there_after_a_restart<F, Fut>(open: &F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Arc<dyn Journal>>,
{
    let s = stream("restart");
    {
        let j = open().await;
        j.append(append(&s, 0, payloads(1, 4))).await.unwrap();
        j.save_snapshot(Snapshot { stream: s.clone(), seq: 2, payload: b"two".to_vec() }).await.unwrap();
    }
    let j = open().await;
    assert_eq!(j.replay(&s, 0).await.unwrap().len(), 4);
    assert_eq!(j.head(&s).await.unwrap(), 4);
    assert_eq!(j.load_snapshot(&s).await.unwrap().map(|s| s.seq), Some(2));
    // And the reopened journal keeps appending where the stream left off.
    assert_eq!(j.append(append(&s, 4, payloads(5, 1))).await.unwrap(), 5);
}
