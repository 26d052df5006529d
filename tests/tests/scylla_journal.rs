//! The journal conformance suite on the ScyllaDB backend, against a real CQL node (Apache
//! Cassandra 5 from Maven Central), plus what only a cluster store has to prove: refusing to
//! start on a missing schema, and streams longer than one partition.

use std::sync::Arc;

use hutong_actors::journal::{Journal, SCYLLA_BUCKET, ScyllaJournal, ScyllaOptions, conformance, init_schema};
use hutong_tests::cassandra::CassandraNode;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scylla_journal_passes_the_conformance_suite_on_a_real_node() {
    let dir = tempfile::tempdir().unwrap();
    let node = CassandraNode::start_blocking(dir.path().join("node")).await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_path_runs_on_the_cluster_store_and_survives_a_restart() {
    use std::time::Duration;

    use hutong_tests::*;

    let dir = tempfile::tempdir().unwrap();
    let node = CassandraNode::start_blocking(dir.path().join("node")).await;
    let store = format!("scylla://{}/hutong_live", node.cql);

    // Serving on a keyspace that does not exist yet is refused with what to do.
    let refused = std::process::Command::new(hutong_bin())
        .args(["demo", "--simulate-rate", "0", "--store", &store, "--data"])
        .arg(dir.path().join("refused"))
        .args(["--http", &format!("127.0.0.1:{}", free_port()), "--mqtt", &format!("127.0.0.1:{}", free_port())])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("hutong store init"), "{}", String::from_utf8_lossy(&refused.stderr));

    let init = std::process::Command::new(hutong_bin())
        .args(["store", "init", "--store", &store, "--replication", "{'class': 'SimpleStrategy', 'replication_factor': 1}"])
        .output()
        .unwrap();
    assert!(init.status.success(), "{}", String::from_utf8_lossy(&init.stderr));

    let data = dir.path().join("data");
    let server = Server::demo(&data, 0, &["--store", &store]).await;
    let key = server.device_key("heyuan", "wm-1-1-101");
    let (mut ws, _) = ws_connect(server.http, "heyuan", &server.admin).await;
    let mut device = Device::connect("127.0.0.1", server.mqtt_port, "cql-device", "heyuan/wm-1-1-101", &key).await;
    device.publish("hutong/heyuan/devices/wm-1-1-101/telemetry", telemetry(1, "42.5")).await;
    wait_event(&mut ws, Duration::from_secs(1), |e| e["body"]["device"] == "wm-1-1-101").await.expect("on /ws within a second");
    let before = server.get_json("/api/v1/communities/heyuan/devices/wm-1-1-101");
    assert_eq!(before["last_value"], "42.5");
    drop(device);
    server.stop();

    let server = Server::demo(&data, 0, &["--store", &store]).await;
    let after = server.get_json("/api/v1/communities/heyuan/devices/wm-1-1-101");
    assert_eq!(after, before, "the same state, recovered from the cluster store");
    drop(server);
    drop(node);
}

#[test]
fn serve_refuses_to_start_when_the_cluster_is_unreachable() {
    let dir = tempfile::tempdir().unwrap();
    let dead = format!("scylla://127.0.0.1:{}/hutong", hutong_tests::free_port());
    let out = std::process::Command::new(hutong_tests::hutong_bin())
        .args(["serve", "--store", &dead, "--data"])
        .arg(dir.path())
        .args(["--http", &format!("127.0.0.1:{}", hutong_tests::free_port()), "--mqtt", &format!("127.0.0.1:{}", hutong_tests::free_port())])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("无法连接 ScyllaDB") && err.contains("cannot reach the cluster"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_journal_carries_on_when_its_node_comes_back() {
    use hutong_actors::journal::Append;

    let dir = tempfile::tempdir().unwrap();
    let node_dir = dir.path().join("node");
    let node = CassandraNode::start_blocking(node_dir.clone()).await;
    let ports = node.ports();
    let session = scylla::client::session_builder::SessionBuilder::new().known_node(&node.cql).build().await.unwrap();
    init_schema(&session, "hutong_back", "{'class': 'SimpleStrategy', 'replication_factor': 1}").await.unwrap();
    let options = ScyllaOptions::from_url(&format!("scylla://{}/hutong_back", node.cql)).unwrap();
    let journal = ScyllaJournal::connect(&options).await.unwrap();
    let append = |expected: u64| Append { stream: "back/1".into(), expected, at_ms: 0, payloads: vec![b"{}".to_vec()] };
    assert_eq!(journal.append(append(0)).await.unwrap(), 1);

    drop(node); // the node goes away …
    assert!(journal.append(append(1)).await.is_err(), "nothing is acknowledged while the node is down");
    let node = tokio::task::spawn_blocking(move || CassandraNode::start_on(&node_dir, ports)).await.unwrap(); // … and comes back
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let head = loop {
        match journal.append(append(1)).await {
            Ok(head) => break head,
            Err(e) => assert!(std::time::Instant::now() < deadline, "no reconnect within 60 s: {e}"),
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    };
    assert_eq!(head, 2);
    assert_eq!(journal.replay("back/1", 0).await.unwrap().len(), 2, "what was acknowledged before is still there");
    drop(node);
}

/// R2: two Hutong nodes on one store. Sign-in works on either node whichever served the last
/// request; a session started on one is honoured on the other; a role change made on one and an
/// account closed on the other are refused on the first within a second; the audit log holds
/// both nodes' entries.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r2_two_nodes_on_one_store_share_sign_ins_revocations_and_roles() {
    use std::time::{Duration, Instant};

    use hutong_tests::*;

    let dir = tempfile::tempdir().unwrap();
    let node = CassandraNode::start_blocking(dir.path().join("node")).await;
    let store = format!("scylla://{}/hutong_two", node.cql);
    let init = std::process::Command::new(hutong_bin())
        .args(["store", "init", "--store", &store, "--replication", "{'class': 'SimpleStrategy', 'replication_factor': 1}"])
        .output()
        .unwrap();
    assert!(init.status.success(), "{}", String::from_utf8_lossy(&init.stderr));

    let one = Server::demo(&dir.path().join("one"), 0, &["--store", &store, "--communities", "heyuan"]).await;
    let two = Server::demo(&dir.path().join("two"), 0, &["--store", &store, "--communities", "lianyuan"]).await;
    // Sign-ins alternate between the nodes, each after the other wrote.
    let token = one.login("cashier");
    let _ = two.login("cashier");
    let _ = one.login("finance");
    let (status, me) = http(two.http, "GET", "/api/v1/me", Some(&token), None).unwrap();
    assert_eq!(status, 200, "a session started on node one is honoured on node two: {me}");

    let within_a_second = |server: &Server, path: &str, want: u16| {
        let deadline = Instant::now() + Duration::from_secs(1);
        loop {
            let (status, body) = http(server.http, "GET", path, Some(&token), None).unwrap();
            if status == want {
                return;
            }
            assert!(Instant::now() < deadline, "GET {path}: still {status} after a second: {body}");
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    assert_eq!(http(one.http, "GET", "/api/v1/communities/heyuan/bills", Some(&token), None).unwrap().0, 200);
    let (status, reply) = http(two.http, "PUT", "/api/v1/staff/heyuan-wuye-cashier/roles", Some(&two.admin), Some(r#"{"roles":[]}"#)).unwrap();
    assert_eq!(status, 200, "{reply}");
    within_a_second(&one, "/api/v1/communities/heyuan/bills", 403);

    let (status, reply) = http(one.http, "POST", "/api/v1/staff/heyuan-wuye-cashier/disable", Some(&one.admin), Some("{}")).unwrap();
    assert_eq!(status, 200, "{reply}");
    within_a_second(&two, "/api/v1/me", 401);

    let audit = two.get_json("/api/v1/audit?limit=50");
    let actions: Vec<&str> = audit.as_array().unwrap().iter().filter_map(|e| e["action"].as_str()).collect();
    assert!(actions.iter().any(|a| a.contains("disable")) && actions.iter().any(|a| a.contains("roles")), "both nodes' changes are in the log: {actions:?}");
    drop((one, two, node));
}
