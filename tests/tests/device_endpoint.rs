//! Hutong's own MQTT endpoint against the real binary: a PUBACK means the journal holds the
//! reading (kill -9 at random moments, many times), a device reads and writes only its own
//! topics, keys rotate and revoke at once, takeover, keep-alive and the per-address bound.

use std::io::{Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use hutong_tests::*;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS, SubscribeReasonCode};
use serde_json::Value;

const DEVICE: &str = "wm-1-1-101";
const USER: &str = "heyuan/wm-1-1-101";
const TOPIC: &str = "hutong/heyuan/devices/wm-1-1-101/telemetry";
const COMMANDS: &str = "hutong/heyuan/devices/wm-1-1-101/command";

fn device_view(server: &Server) -> Value {
    server.get_json(&format!("/api/v1/communities/heyuan/devices/{DEVICE}"))
}

/// A QoS 1 publisher that keeps up to 100 readings in flight and counts the PUBACKs it got.
/// The endpoint acknowledges in arrival order, so `acked` = n means readings 1..=n of this run
/// are acknowledged.
struct Publisher {
    acked: Arc<AtomicU64>,
    sent: Arc<AtomicU64>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Publisher {
    /// Publishes readings with seq `first`, `first + 1`, … (value = seq) until dropped.
    async fn start(port: u16, key: &str, first: u64) -> Publisher {
        let mut options = MqttOptions::new(format!("kill-loop-{first}"), "127.0.0.1", port);
        options.set_credentials(USER, key).set_keep_alive(Duration::from_secs(10)).set_inflight(100);
        let (client, mut eventloop) = AsyncClient::new(options, 100);
        let (acked, sent) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
        let (connected_tx, connected) = tokio::sync::oneshot::channel();
        let counter = acked.clone();
        let driver = tokio::spawn(async move {
            let mut connected_tx = Some(connected_tx);
            loop {
                match eventloop.poll().await {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        if let Some(tx) = connected_tx.take() {
                            let _ = tx.send(());
                        }
                    }
                    Ok(Event::Incoming(Packet::PubAck(_))) => {
                        counter.fetch_add(1, Ordering::SeqCst);
                    }
                    Ok(_) => {}
                    // The server is gone: stop here, so nothing is counted after the kill.
                    Err(_) => return,
                }
            }
        });
        tokio::time::timeout(Duration::from_secs(10), connected).await.expect("MQTT connect in time").expect("connack");
        let count = sent.clone();
        let publisher = tokio::spawn(async move {
            for seq in first.. {
                let payload = format!(r#"{{"seq":{seq},"ts":{},"value":"{seq}"}}"#, now_ms());
                if client.publish(TOPIC, QoS::AtLeastOnce, false, payload).await.is_err() {
                    return;
                }
                count.fetch_add(1, Ordering::SeqCst);
            }
        });
        Publisher { acked, sent, tasks: vec![driver, publisher] }
    }
}

impl Publisher {
    /// Waits until the connection is gone and every PUBACK it carried is counted.
    async fn closed(&mut self) {
        let driver = &mut self.tasks[0];
        tokio::time::timeout(Duration::from_secs(10), driver).await.expect("the client sees the connection close").ok();
    }
}

impl Drop for Publisher {
    fn drop(&mut self) {
        self.tasks.iter().for_each(|t| t.abort());
    }
}

/// QoS 1 readings, `kill -9` at a random moment, restart: every acknowledged reading is in the
/// device's state. `HUTONG_KILL_CYCLES` sets how many times (the soak runs 1,000).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_reading_survives_kill_9_at_a_random_moment() {
    let cycles: u64 = std::env::var("HUTONG_KILL_CYCLES").ok().and_then(|v| v.parse().ok()).unwrap_or(100);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut server = Server::demo(&data, 0, &[]).await;
    let key = server.device_key("heyuan", DEVICE);
    // Readings acknowledged in all cycles so far, and the next seq never sent before.
    let (mut acked_total, mut next_seq, mut last_acked_value) = (0u64, 1u64, 0u64);
    let mut rng = now_ms() as u64 | 1;
    for cycle in 0..cycles {
        let mut publisher = Publisher::start(server.mqtt_port, &key, next_seq).await;
        // A random moment between 20 and 400 ms into the stream of readings.
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        tokio::time::sleep(Duration::from_millis(20 + rng % 380)).await;
        let pid = server.pid();
        server.kill9();
        // The client reads what the dead server sent before it died, then its event loop ends on
        // the closed connection; nothing can be acknowledged after that.
        publisher.closed().await;
        let acked = publisher.acked.load(Ordering::SeqCst);
        let sent = publisher.sent.load(Ordering::SeqCst);
        drop(publisher);
        acked_total += acked;
        if acked > 0 {
            last_acked_value = next_seq + acked - 1;
        }
        next_seq += sent.max(acked) + 1;
        server = Server::demo(&data, 0, &[]).await;
        let view = device_view(&server);
        let journaled = view["journal_seq"].as_u64().unwrap();
        let value: u64 = view["last_value"].as_str().map_or(0, |v| v.parse().unwrap());
        assert!(
            journaled >= acked_total && value >= last_acked_value,
            "cycle {cycle} (pid {pid}): {acked_total} readings acknowledged up to value {last_acked_value}, but the device holds {journaled} up to {value}"
        );
    }
    eprintln!("{cycles} kill -9 cycles, {acked_total} acknowledged readings, none lost");
    assert!(acked_total > 0, "the loop acknowledged nothing: it tested nothing");
}

/// A subscription's answer per filter.
async fn subscribe(port: u16, user: &str, key: &str, filters: &[&str]) -> Vec<SubscribeReasonCode> {
    let mut options = MqttOptions::new(format!("sub-{}", now_ms()), "127.0.0.1", port);
    options.set_credentials(user, key);
    let (client, mut eventloop) = AsyncClient::new(options, 10);
    let filters: Vec<_> = filters.iter().map(|f| rumqttc::SubscribeFilter::new(f.to_string(), QoS::AtLeastOnce)).collect();
    client.subscribe_many(filters).await.unwrap();
    tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            if let Ok(Event::Incoming(Packet::SubAck(ack))) = eventloop.poll().await {
                return ack.return_codes;
            }
        }
    })
    .await
    .expect("SUBACK in time")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_reads_only_its_own_command_topic_and_writes_only_its_own_topics() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::demo(&dir.path().join("data"), 0, &[]).await;
    let key = server.device_key("heyuan", DEVICE);
    let codes = subscribe(server.mqtt_port, USER, &key, &["hutong/#", "#", "hutong/heyuan/devices/gate-1/command", COMMANDS, "hutong/+/devices/+/telemetry"]).await;
    use SubscribeReasonCode::{Failure, Success};
    assert_eq!(codes, vec![Failure, Failure, Failure, Success(QoS::AtLeastOnce), Failure]);
    assert_eq!(server.metric("hutong_mqtt_subscriptions_refused_total"), 4);
    // Publishing for another device, or on a topic of no device, journals nothing.
    let mut device = Device::connect("127.0.0.1", server.mqtt_port, "nosy-meter", USER, &key).await;
    device.publish("hutong/heyuan/devices/wm-1-1-102/telemetry", telemetry(1, "5")).await;
    device.publish("hutong/lianyuan/devices/wm-1-1-101/telemetry", telemetry(1, "5")).await;
    device.publish("hutong/heyuan/devices/wm-1-1-101/command", telemetry(1, "5")).await;
    let forbidden = "hutong_mqtt_rejected_total{reason=\"forbidden\"}";
    wait_for("refusals counted", Duration::from_secs(5), async || (server.metric(forbidden) == 2).then_some(())).await;
    assert_eq!(server.metric("hutong_mqtt_rejected_total{reason=\"bad_topic\"}"), 1);
    assert_eq!(server.get_json("/api/v1/communities/heyuan/devices/wm-1-1-102")["journal_seq"], 0);
    assert_eq!(server.get_json("/api/v1/communities/lianyuan/devices/wm-1-1-101")["journal_seq"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_key_replaces_the_old_one_and_a_revoked_device_is_cut_off_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::demo(&dir.path().join("data"), 0, &[]).await;
    let first = server.device_key("heyuan", DEVICE);
    let mut device = Device::connect("127.0.0.1", server.mqtt_port, "rotating-meter", USER, &first).await;
    device.publish(TOPIC, telemetry(1, "1")).await;

    let (status, reply) = http(server.http, "POST", &format!("/api/v1/communities/heyuan/devices/{DEVICE}/key/rotate"), Some(&server.admin), Some("")).unwrap();
    assert_eq!(status, 200, "{reply}");
    let rotated: Value = serde_json::from_str(&reply).unwrap();
    let second = rotated["key"].as_str().unwrap().to_string();
    assert_eq!(rotated["generation"], 1);
    let changed = "hutong_mqtt_disconnects_total{reason=\"key_changed\"}";
    wait_for("the old key's connection closed", Duration::from_secs(2), async || (server.metric(changed) == 1).then_some(())).await;
    assert!(connect_refused("127.0.0.1", server.mqtt_port, USER, &first).await, "the old key is refused");
    let (status, reply) = http(server.http, "GET", &format!("/api/v1/communities/heyuan/devices/{DEVICE}/key"), Some(&server.admin), None).unwrap();
    assert_eq!(status, 409, "a rotated key is shown once: {reply}");
    let mut device = Device::connect("127.0.0.1", server.mqtt_port, "rotated-meter", USER, &second).await;
    device.publish(TOPIC, telemetry(2, "2")).await;
    wait_for("the reading under the new key", Duration::from_secs(5), async || (device_view(&server)["last_value"] == "2").then_some(())).await;

    let (status, reply) = http(server.http, "POST", &format!("/api/v1/communities/heyuan/devices/{DEVICE}/key/revoke"), Some(&server.admin), Some("")).unwrap();
    assert_eq!(status, 200, "{reply}");
    wait_for("the revoked device's connection closed", Duration::from_secs(2), async || (server.metric(changed) == 2).then_some(())).await;
    assert!(connect_refused("127.0.0.1", server.mqtt_port, USER, &second).await, "a revoked device is refused");
    assert_eq!(server.metric("hutong_mqtt_connections_refused_total{reason=\"revoked\"}"), 1);
    // Other devices are untouched, and the revocation outlives a restart.
    assert!(!connect_refused("127.0.0.1", server.mqtt_port, "heyuan/wm-1-1-102", &server.device_key("heyuan", "wm-1-1-102")).await);
    let audit = server.get_json("/api/v1/audit?action=device.key.revoke");
    assert_eq!(audit[0]["target"], format!("heyuan/{DEVICE}"));
    let log = std::fs::read_to_string(&server.log).unwrap();
    assert!(!log.contains(&second) && !log.contains(&first), "a device key reached the log");
    let data = server.data.clone();
    drop(device);
    server.stop();
    let server = Server::demo(&data, 0, &[]).await;
    assert!(connect_refused("127.0.0.1", server.mqtt_port, USER, &second).await, "still revoked after a restart");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_connection_of_a_device_takes_over_the_first() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::demo(&dir.path().join("data"), 0, &[]).await;
    let key = server.device_key("heyuan", DEVICE);
    let _old = Device::connect("127.0.0.1", server.mqtt_port, "meter-before", USER, &key).await;
    let mut new = Device::connect("127.0.0.1", server.mqtt_port, "meter-after", USER, &key).await;
    let takeover = "hutong_mqtt_disconnects_total{reason=\"takeover\"}";
    wait_for("the first connection closed", Duration::from_secs(2), async || (server.metric(takeover) >= 1).then_some(())).await;
    new.publish(TOPIC, telemetry(1, "3")).await;
    wait_for("the new connection heard", Duration::from_secs(5), async || (device_view(&server)["last_value"] == "3").then_some(())).await;
}

/// A raw MQTT 3.1.1 CONNECT with this keep-alive, so the test controls what the client (does not) send.
fn raw_connect(port: u16, user: &str, key: &str, keep_alive: u16) -> std::net::TcpStream {
    let field = |s: &str| {
        let mut v = (s.len() as u16).to_be_bytes().to_vec();
        v.extend_from_slice(s.as_bytes());
        v
    };
    let mut body = field("MQTT");
    body.extend_from_slice(&[4, 0xC2]);
    body.extend_from_slice(&keep_alive.to_be_bytes());
    for part in ["silent-meter", user, key] {
        body.extend(field(part));
    }
    let mut packet = vec![0x10, body.len() as u8];
    packet.extend(body);
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.write_all(&packet).unwrap();
    let mut connack = [0u8; 4];
    stream.read_exact(&mut connack).unwrap();
    assert_eq!(connack, [0x20, 2, 0, 0], "CONNACK accepted");
    stream
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_device_is_dropped_after_its_keep_alive_and_one_address_cannot_hold_every_slot() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::demo(&dir.path().join("data"), 0, &["--mqtt-max-per-address", "3"]).await;
    let key = server.device_key("heyuan", DEVICE);
    let mut silent = raw_connect(server.mqtt_port, USER, &key, 1);
    silent.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let started = std::time::Instant::now();
    let mut buf = [0u8; 16];
    assert_eq!(silent.read(&mut buf).unwrap_or(0), 0, "closed by the server");
    let after = started.elapsed();
    assert!(after >= Duration::from_millis(1400) && after < Duration::from_secs(3), "closed after {after:?} (keep-alive 1 s × 1.5)");
    wait_for("counted", Duration::from_secs(2), async || (server.metric("hutong_mqtt_disconnects_total{reason=\"keep_alive\"}") == 1).then_some(())).await;

    // Three connections from this address are held; the fourth is closed at once.
    let held: Vec<_> = (0..3).map(|_| std::net::TcpStream::connect(("127.0.0.1", server.mqtt_port)).unwrap()).collect();
    wait_for("three connections held", Duration::from_secs(5), async || (server.metric("hutong_mqtt_connections ") == 3).then_some(())).await;
    let mut fourth = std::net::TcpStream::connect(("127.0.0.1", server.mqtt_port)).unwrap();
    fourth.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    assert_eq!(fourth.read(&mut buf).unwrap_or(0), 0, "the fourth connection is closed");
    assert_eq!(server.metric("hutong_mqtt_connections_refused_total{reason=\"too_many_from_address\"}"), 1);
    drop(held);
    // Once they are gone, the address may connect again.
    wait_for("slots freed", Duration::from_secs(5), async || (server.metric("hutong_mqtt_connections ") == 0).then_some(())).await;
    let _device = Device::connect("127.0.0.1", server.mqtt_port, "after-the-flood", USER, &key).await;
}

/// The control room opens a gate: the command reaches the gate on its own command topic, only
/// while it is connected and listening; a meter cannot be opened; a cashier may not; audited.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_control_room_opens_a_connected_gate_through_its_command_topic() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::demo(&dir.path().join("data"), 0, &[]).await;
    let control = server.login("control");
    let open = |token: &str, device: &str| http(server.http, "POST", &format!("/api/v1/communities/heyuan/devices/{device}/open"), Some(token), Some("")).unwrap();
    // Not connected yet: nothing is sent, and it says so.
    let (status, reply) = open(&control, "gate-1");
    assert_eq!(status, 409, "{reply}");
    let key = server.device_key("heyuan", "gate-1");
    let mut options = MqttOptions::new("gate-1-listener", "127.0.0.1", server.mqtt_port);
    options.set_credentials("heyuan/gate-1", &key);
    let (client, mut eventloop) = AsyncClient::new(options, 10);
    client.subscribe("hutong/heyuan/devices/gate-1/command", QoS::AtLeastOnce).await.unwrap();
    let (commands_tx, mut commands) = tokio::sync::mpsc::unbounded_channel();
    let (subscribed_tx, subscribed) = tokio::sync::oneshot::channel();
    let listener = tokio::spawn(async move {
        let mut subscribed_tx = Some(subscribed_tx);
        while let Ok(event) = eventloop.poll().await {
            match event {
                Event::Incoming(Packet::SubAck(_)) => {
                    if let Some(tx) = subscribed_tx.take() {
                        let _ = tx.send(());
                    }
                }
                Event::Incoming(Packet::Publish(p)) => {
                    let _ = commands_tx.send((p.topic.clone(), String::from_utf8_lossy(&p.payload).into_owned()));
                }
                _ => {}
            }
        }
    });
    tokio::time::timeout(Duration::from_secs(5), subscribed).await.expect("SUBACK").unwrap();
    let (status, reply) = open(&control, "gate-1");
    assert_eq!(status, 200, "{reply}");
    let (topic, payload) = tokio::time::timeout(Duration::from_secs(5), commands.recv()).await.expect("the command arrives").unwrap();
    assert_eq!(topic, "hutong/heyuan/devices/gate-1/command");
    let command: Value = serde_json::from_str(&payload).unwrap();
    assert_eq!((command["action"].as_str(), command["by"].as_str()), (Some("open"), Some("control")));
    assert_eq!(server.metric("hutong_mqtt_commands_total"), 1);
    // A meter is not a gate; a cashier may not open anything.
    assert_eq!(open(&control, DEVICE).0, 409);
    assert_eq!(open(&server.login("cashier"), "gate-1").0, 403);
    let audit = server.get_json("/api/v1/audit?action=device.open");
    assert_eq!((audit[0]["actor"].as_str(), audit[0]["target"].as_str()), (Some("control"), Some("heyuan/gate-1")));
    listener.abort();
}

/// M6 while running: a device registered by API is heard at once with its provisioning key;
/// moved, its buildings' tiles follow; retired, its connection closes, it leaves the screens,
/// its id is never given again — and a restart keeps all of it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_is_registered_moved_and_retired_while_hutong_runs() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::demo(&data, 0, &[]).await;
    let base = "/api/v1/communities/heyuan/devices";
    let tile = |server: &Server, building: &str| {
        let wall = server.get_json("/api/v1/communities/heyuan/wall");
        wall["buildings"].as_array().unwrap().iter().find(|t| t["id"] == building).unwrap()["health"]["devices"].as_u64().unwrap()
    };
    let (before_b2, before_b3) = (tile(&server, "heyuan-b02"), tile(&server, "heyuan-b03"));
    let new_meter = r#"{"id":"wm-2-1-101-b","kind":"water_meter","building":"heyuan-b02","house":"heyuan-2-1-101"}"#;
    assert_eq!(http(server.http, "POST", base, Some(&server.login("butler")), Some(new_meter)).unwrap().0, 403, "a butler registers no devices");
    assert_eq!(http(server.http, "POST", base, Some(&server.login("control")), Some(new_meter)).unwrap().0, 403);
    let refused = http(server.http, "POST", base, Some(&server.admin), Some(r#"{"id":"wm-x","kind":"water_meter","building":"heyuan-b02","house":"heyuan-3-1-101"}"#)).unwrap();
    assert_eq!(refused.0, 400, "{}", refused.1);
    assert!(refused.1.contains("不在所选楼栋"), "{}", refused.1);
    let (status, reply) = http(server.http, "POST", base, Some(&server.admin), Some(new_meter)).unwrap();
    assert_eq!(status, 200, "{reply}");
    assert_eq!(http(server.http, "POST", base, Some(&server.admin), Some(new_meter)).unwrap().0, 409);

    // Heard at once, with the key it was flashed with.
    let key = wait_for("the new device's key", Duration::from_secs(5), async || {
        let (status, body) = http(server.http, "GET", &format!("{base}/wm-2-1-101-b/key"), Some(&server.admin), None).ok()?;
        (status == 200).then(|| serde_json::from_str::<Value>(&body).ok()?["key"].as_str().map(str::to_string)).flatten()
    })
    .await;
    let topic = "hutong/heyuan/devices/wm-2-1-101-b/telemetry";
    let mut meter = Device::connect("127.0.0.1", server.mqtt_port, "new-meter", "heyuan/wm-2-1-101-b", &key).await;
    meter.publish(topic, telemetry(1, "12.5")).await;
    let view = server.get_json(&format!("{base}/wm-2-1-101-b"));
    assert_eq!((view["last_value"].as_str(), view["building"].as_str()), (Some("12.5"), Some("heyuan-b02")));
    assert_eq!(tile(&server, "heyuan-b02"), before_b2 + 1);

    // Moved to a public area of building 3: the tiles follow.
    let (status, reply) = http(server.http, "PUT", &format!("{base}/wm-2-1-101-b"), Some(&server.admin), Some(r#"{"building":"heyuan-b03","house":null,"heartbeat_secs":600}"#)).unwrap();
    assert_eq!(status, 200, "{reply}");
    wait_for("the tiles to follow the move", Duration::from_secs(5), async || (tile(&server, "heyuan-b03") == before_b3 + 1 && tile(&server, "heyuan-b02") == before_b2).then_some(())).await;
    assert_eq!(server.get_json(&format!("{base}/wm-2-1-101-b"))["building"], "heyuan-b03");

    // Retired: the connection closes, the screens forget it, its id stays taken.
    let (status, reply) = http(server.http, "POST", &format!("{base}/wm-2-1-101-b/retire"), Some(&server.admin), Some(r#"{"reason":"表坏，已换新表"}"#)).unwrap();
    assert_eq!(status, 200, "{reply}");
    wait_for("the retired device to leave the screens", Duration::from_secs(5), async || {
        (http(server.http, "GET", &format!("{base}/wm-2-1-101-b"), Some(&server.admin), None).ok()?.0 == 404).then_some(())
    })
    .await;
    assert_eq!(tile(&server, "heyuan-b03"), before_b3);
    assert!(connect_refused("127.0.0.1", server.mqtt_port, "heyuan/wm-2-1-101-b", &key).await, "its key is refused");
    assert_eq!(http(server.http, "POST", base, Some(&server.admin), Some(new_meter)).unwrap().0, 409, "a retired id is never given again");
    let audit = server.get_json("/api/v1/audit?action=device.retire");
    assert_eq!(audit[0]["target"].as_str(), Some("heyuan/wm-2-1-101-b"));
    let kept = r#"{"id":"gate-9","kind":"gate","building":"heyuan-b01"}"#;
    assert_eq!(http(server.http, "POST", base, Some(&server.admin), Some(kept)).unwrap().0, 200);

    server.kill9();
    let server = Server::demo(&data, 0, &[]).await;
    assert_eq!(http(server.http, "GET", &format!("{base}/wm-2-1-101-b"), Some(&server.admin), None).unwrap().0, 404);
    assert_eq!(server.get_json(&format!("{base}/gate-9"))["kind"], "gate");
    server.stop();
}

/// M6, a broken meter swapped (换表): the new meter takes the old one's place in one step — the
/// old one retired (its key refused, its id never given again, its open alarm resolved with the
/// replacement as the note, nobody sent to it), the new one heard at once with its own key, in
/// the same house — and a restart keeps all of it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_meter_is_replaced_in_its_place_and_its_alarm_is_closed() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::demo(&data, 0, &[]).await;
    let base = "/api/v1/communities/heyuan/devices";
    let meter = r#"{"id":"wm-2-1-101-b","kind":"water_meter","building":"heyuan-b02","house":"heyuan-2-1-101","heartbeat_secs":600}"#;
    let (status, reply) = http(server.http, "POST", base, Some(&server.admin), Some(meter)).unwrap();
    assert_eq!(status, 200, "{reply}");
    let key_of = |device: &'static str| {
        let server = &server;
        async move {
            wait_for("a device's key", Duration::from_secs(5), async || {
                let (status, body) = http(server.http, "GET", &format!("{base}/{device}/key"), Some(&server.admin), None).ok()?;
                (status == 200).then(|| serde_json::from_str::<Value>(&body).ok()?["key"].as_str().map(str::to_string)).flatten()
            })
            .await
        }
    };
    let old_key = key_of("wm-2-1-101-b").await;
    let mut old = Device::connect("127.0.0.1", server.mqtt_port, "old-meter", "heyuan/wm-2-1-101-b", &old_key).await;
    old.publish("hutong/heyuan/devices/wm-2-1-101-b/telemetry", telemetry(1, "500")).await;
    old.publish("hutong/heyuan/devices/wm-2-1-101-b/telemetry", telemetry(2, "12")).await;
    let alarm_of = |device: &str| {
        let all = server.get_json("/api/v1/communities/heyuan/alarms");
        all["open"].as_array().into_iter().chain(all["resolved"].as_array()).flatten().find(|a| a["device"] == device).cloned()
    };
    let raised = wait_for("the broken meter's alarm", Duration::from_secs(10), async || alarm_of("wm-2-1-101-b")).await;
    assert_eq!((raised["kind"].as_str(), raised["resolved"].is_null()), (Some("meter_backwards"), true), "{raised}");

    // Refused, and nothing changes: no permission, a taken id, a bad one, no body.
    let replace = |token: &str, body: &str| http(server.http, "POST", &format!("{base}/wm-2-1-101-b/replace"), Some(token), Some(body)).unwrap();
    assert_eq!(replace(&server.login("control"), r#"{"id":"wm-2-1-101-c","reason":"表坏"}"#).0, 403, "the control room operates gates, it does not replace meters");
    let (status, reply) = replace(&server.admin, r#"{"id":"wm-1-1-101","reason":"表坏"}"#);
    assert_eq!(status, 409, "{reply}");
    assert!(reply.contains("已被使用"), "{reply}");
    assert_eq!(replace(&server.admin, r#"{"id":"WM C","reason":"表坏"}"#).0, 400);
    assert_eq!(replace(&server.admin, "{}").0, 400);
    assert_eq!(server.get_json(&format!("{base}/wm-2-1-101-b"))["house"], "heyuan-2-1-101", "still in service");

    let (status, reply) = replace(&server.admin, r#"{"id":"wm-2-1-101-c","reason":"表坏，读数倒走"}"#);
    assert_eq!(status, 200, "{reply}");
    let new: Value = serde_json::from_str(&reply).unwrap();
    assert_eq!((new["id"].as_str(), new["house"].as_str(), new["kind"].as_str(), new["heartbeat_secs"].as_u64()), (Some("wm-2-1-101-c"), Some("heyuan-2-1-101"), Some("water_meter"), Some(600)));
    let closed = wait_for("the old meter's alarm to be closed", Duration::from_secs(5), async || alarm_of("wm-2-1-101-b").filter(|a| !a["resolved"].is_null())).await;
    assert_eq!(closed["resolved"]["note"], "设备已更换为 wm-2-1-101-c：表坏，读数倒走", "{closed}");
    assert!(connect_refused("127.0.0.1", server.mqtt_port, "heyuan/wm-2-1-101-b", &old_key).await, "the old key is refused");
    assert_eq!(http(server.http, "GET", &format!("{base}/wm-2-1-101-b"), Some(&server.admin), None).unwrap().0, 404);
    assert_eq!(replace(&server.admin, r#"{"id":"wm-2-1-101-d","reason":"x"}"#).0, 404, "a retired device is replaced once");

    // The new meter is heard at once with its own key, where the old one was.
    let new_key = key_of("wm-2-1-101-c").await;
    assert_ne!(new_key, old_key);
    let mut fresh = Device::connect("127.0.0.1", server.mqtt_port, "new-meter", "heyuan/wm-2-1-101-c", &new_key).await;
    fresh.publish("hutong/heyuan/devices/wm-2-1-101-c/telemetry", telemetry(1, "0.5")).await;
    let view = server.get_json(&format!("{base}/wm-2-1-101-c"));
    assert_eq!((view["last_value"].as_str(), view["house"].as_str()), (Some("0.5"), Some("heyuan-2-1-101")));
    assert!(alarm_of("wm-2-1-101-c").is_none(), "a new meter starting from zero is not 'going backwards'");
    let audit = server.get_json("/api/v1/audit?action=device.replace");
    assert_eq!((audit[0]["target"].as_str(), audit[0]["after"]["by"].as_str()), (Some("heyuan/wm-2-1-101-b"), Some("wm-2-1-101-c")), "{audit}");

    drop(fresh);
    server.kill9();
    let server = Server::demo(&data, 0, &[]).await;
    assert_eq!(http(server.http, "GET", &format!("{base}/wm-2-1-101-b"), Some(&server.admin), None).unwrap().0, 404);
    assert_eq!(server.get_json(&format!("{base}/wm-2-1-101-c"))["last_value"], "0.5");
    let all = server.get_json("/api/v1/communities/heyuan/alarms");
    assert!(all["open"].as_array().unwrap().iter().all(|a| a["device"] != "wm-2-1-101-b"), "{all}");
    server.stop();
}

/// Devices by spreadsheet (a real XLSX): a file with a bad row registers nothing and says which
/// row and why; the corrected file registers every device, heard at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_are_imported_from_a_spreadsheet_all_or_none() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::demo(&dir.path().join("data"), 0, &[]).await;
    let sheet = |rows: &[&[&str]]| hutong_core::import::export::xlsx(&rows.iter().map(|r| r.iter().map(|c| c.to_string()).collect()).collect::<Vec<_>>()).unwrap();
    let header: &[&str] = &["设备编号", "设备类型", "房屋地址", "楼栋号", "心跳间隔(秒)"];
    let upload = |bytes: &[u8]| {
        let (status, _, body) = request(server.http, "POST", "/api/v1/communities/heyuan/devices/import", Some(&server.admin), &[("Content-Type", "application/octet-stream")], bytes).unwrap();
        (status, serde_json::from_slice::<Value>(&body).unwrap_or(Value::Null))
    };
    let bad = sheet(&[header, &["wm-x-1", "水表", "荷花苑-3-1-101", "", ""], &["wm-1-1-101", "水表", "荷花苑-1-1-101", "", ""], &["lamp-1", "路灯", "", "2", ""]]);
    let (status, report) = upload(&bad);
    assert_eq!(status, 422, "{report}");
    let rows: Vec<u64> = report["errors"].as_array().unwrap().iter().map(|e| e["row"].as_u64().unwrap()).collect();
    assert!(rows.contains(&3) && rows.contains(&4), "the taken id and the unknown kind, by row: {report}");
    assert_eq!(http(server.http, "GET", "/api/v1/communities/heyuan/devices/wm-x-1", Some(&server.admin), None).unwrap().0, 404, "nothing registered");
    let good = sheet(&[header, &["wm-x-1", "水表", "荷花苑-3-1-101", "", ""], &["gate-x-2", "门禁", "", "2", "120"]]);
    let (status, report) = upload(&good);
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["imported"].as_u64(), Some(2));
    let gate = wait_for("the imported gate", Duration::from_secs(5), async || {
        let (status, body) = http(server.http, "GET", "/api/v1/communities/heyuan/devices/gate-x-2", Some(&server.admin), None).ok()?;
        (status == 200).then(|| serde_json::from_str::<Value>(&body).ok()).flatten()
    })
    .await;
    assert_eq!((gate["kind"].as_str(), gate["building"].as_str()), (Some("gate"), Some("heyuan-b02")));
    let meter = server.get_json("/api/v1/communities/heyuan/devices/wm-x-1");
    assert_eq!((meter["house"].as_str(), meter["building"].as_str()), (Some("heyuan-3-1-101"), Some("heyuan-b03")));
    assert_eq!(server.get_json("/api/v1/audit?action=device.import")[0]["target"], "heyuan");
    server.stop();
}
