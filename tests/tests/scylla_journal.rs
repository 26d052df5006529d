//! The journal conformance suite on the ScyllaDB backend, against a real CQL node (Apache
//! Cassandra 5 from Maven Central), plus what only a cluster store has to prove: refusing to
//! start on a missing schema, and streams longer than one partition.

use std::sync::Arc;

use hutong_actors::journal::{Journal, SCYLLA_BUCKET, ScyllaJournal, ScyllaOptions, conformance, init_schema};
use hutong_tests::cassandra::CassandraNode;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scylla_journal_passes_the_conformance_suite_on_a_real_node() {
    let dir = tempfile::tempdir().unwrap();
    let node = tokio::task::spawn_blocking({
        let d = dir.path().join("node");
        move || CassandraNode::start(&d)
    })
    .await
    .unwrap();
    let options = ScyllaOptions::from_url(&format!("scylla://{}/hutong_test", node.cql)).unwrap();

    // Without the schema the journal refuses, with a sentence saying what to do.
    let err = ScyllaJournal::connect(&options).await.err().expect("no schema yet");
    assert!(err.to_string().contains("hutong store init"), "{err}");

    let session = scylla::client::session_builder::SessionBuilder::new().known_node(&node.cql).build().await.unwrap();
    init_schema(&session, "hutong_test", "{'class': 'SimpleStrategy', 'replication_factor': 1}").await.unwrap();
    // Running it again changes nothing.
    init_schema(&session, "hutong_test", "{'class': 'SimpleStrategy', 'replication_factor': 1}").await.unwrap();

    // Each `open` is a new connection: "after a restart" of the Hutong process.
    conformance::run_all(|| {
        let options = options.clone();
        async move { Arc::new(ScyllaJournal::connect(&options).await.unwrap()) as Arc<dyn Journal> }
    })
    .await;

    // The conformance suite's large stream (10,000 events) spans three partitions of 4,096.
    assert!(SCYLLA_BUCKET < 10_000);
    drop(node);
}
