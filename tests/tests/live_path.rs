//! The live path end to end: the real binary, a real broker (in-process and Debian's mosquitto),
//! real WebSockets, real restarts on the same data directory.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hutong_tests::*;

const DEVICE: &str = "wm-1-1-101";
const TOPIC: &str = "hutong/heyuan/devices/wm-1-1-101/telemetry";

/// `keyed`: the payload carries the device's key (an external broker that does not ask Hutong who connects).
async fn reading_reaches_the_socket(server: &Server, broker: (String, u16), keyed: bool) {
    let (mut ws, snapshot) = ws_connect(server.http, "heyuan", &server.admin).await;
    assert!(snapshot["buildings"].as_array().unwrap().len() >= 10);
    let key = server.device_key("heyuan", DEVICE);
    let mut device = Device::connect(&broker.0, broker.1, "test-device", &format!("heyuan/{DEVICE}"), &key).await;
    let sent = Instant::now();
    device.publish(TOPIC, if keyed { telemetry_keyed(&key, 1, "12.345") } else { telemetry(1, "12.345") }).await;
    let event = wait_event(&mut ws, Duration::from_secs(1), |e| e["body"]["device"] == DEVICE)
        .await
        .expect("the reading arrives on /ws within a second");
    assert_eq!(event["body"]["event"]["type"], "reading_accepted");
    assert_eq!(event["body"]["event"]["value"], "12.345");
    eprintln!("publish → /ws in {:?}", sent.elapsed());
    let view = server.get_json(&format!("/api/v1/communities/heyuan/devices/{DEVICE}"));
    assert_eq!(view["last_value"], "12.345");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reading_published_to_the_embedded_broker_reaches_the_websocket_within_a_second() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::demo(&dir.path().join("data"), 0, &[]).await;
    reading_reaches_the_socket(&server, server.mqtt(), false).await;
}

struct Mosquitto(Child);

impl Drop for Mosquitto {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reading_published_through_mosquitto_reaches_the_websocket_within_a_second() {
    let port = free_port();
    let _mosquitto = start_mosquitto(port);
    let dir = tempfile::tempdir().unwrap();
    let url = format!("mqtt://127.0.0.1:{port}");
    let server = Server::demo(&dir.path().join("data"), 0, &["--mqtt-url", &url]).await;
    wait_for("ingest to connect to mosquitto", Duration::from_secs(10), async || (server.metric("hutong_mqtt_connected ") == 1).then_some(())).await;
    reading_reaches_the_socket(&server, ("127.0.0.1".into(), port), true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_state_is_the_same_after_a_restart_and_after_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::demo(&data, 0, &[]).await;
    let key = server.device_key("heyuan", DEVICE);
    let mut device = Device::connect("127.0.0.1", server.mqtt_port, "restart-device", &format!("heyuan/{DEVICE}"), &key).await;
    for seq in 1..=50u64 {
        device.publish(TOPIC, telemetry(seq, &format!("{}.5", 100 + seq))).await;
    }
    let applied = |s: &Server| s.metric("hutong_mqtt_messages_total{outcome=\"applied\"}");
    wait_for("50 readings applied", Duration::from_secs(10), async || (applied(&server) >= 50).then_some(())).await;
    let before = server.get_json(&format!("/api/v1/communities/heyuan/devices/{DEVICE}"));
    assert_eq!(before["last_value"], "150.5");
    assert_eq!(before["journal_seq"], 50);
    drop(device);
    server.stop();

    // A clean restart.
    let server = Server::demo(&data, 0, &[]).await;
    let after = server.get_json(&format!("/api/v1/communities/heyuan/devices/{DEVICE}"));
    assert_eq!(after, before, "the same device state after a restart");

    // More readings, then the plug is pulled: what was applied (acked) is all there.
    let mut device = Device::connect("127.0.0.1", server.mqtt_port, "restart-device-2", &format!("heyuan/{DEVICE}"), &key).await;
    assert_eq!(server.device_key("heyuan", DEVICE), key, "a restarted demo keeps its device keys");
    for seq in 51..=80u64 {
        device.publish(TOPIC, telemetry(seq, &format!("{}.5", 100 + seq))).await;
    }
    wait_for("30 more applied", Duration::from_secs(10), async || (applied(&server) >= 30).then_some(())).await;
    let acked = server.get_json(&format!("/api/v1/communities/heyuan/devices/{DEVICE}"));
    drop(device);
    server.kill9();
    let server = Server::demo(&data, 0, &[]).await;
    let recovered = server.get_json(&format!("/api/v1/communities/heyuan/devices/{DEVICE}"));
    assert_eq!(recovered["journal_seq"], acked["journal_seq"]);
    assert_eq!(recovered["last_value"], "180.5");
    // And the same address in both printed forms finds the house this meter belongs to.
    let by_dash = server.get_json("/api/v1/communities/heyuan/houses?address=%E8%8D%B7%E8%8A%B1%E8%8B%91-1-1-101");
    assert_eq!(by_dash["id"], recovered["house"]);
    assert_eq!(by_dash["address_path"], "荷花苑/1号楼/1层/101");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_device_messages_are_refused_counted_and_break_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::demo(&data, 0, &[]).await;
    let key = server.device_key("heyuan", DEVICE);
    let gate_key = server.device_key("heyuan", "gate-1");
    // Hutong's endpoint lets in only registered devices with their own key.
    assert!(connect_refused("127.0.0.1", server.mqtt_port, "heyuan/gate-1", &key).await, "another device's key");
    assert!(connect_refused("127.0.0.1", server.mqtt_port, "anonymous", "").await);
    let secret = std::fs::read_to_string(data.join("demo-device-secret")).unwrap();
    let unregistered = hutong_device_bridge::codec::device_key(secret.trim().as_bytes(), "heyuan", "no-such-meter");
    assert!(connect_refused("127.0.0.1", server.mqtt_port, "heyuan/no-such-meter", &unregistered).await, "an unregistered device");
    let mut device = Device::connect("127.0.0.1", server.mqtt_port, "bad-device", &format!("heyuan/{DEVICE}"), &key).await;
    device.publish(TOPIC, "not json").await;
    device.publish(TOPIC, r#"{"seq":"one","ts":1,"value":"1"}"#).await;
    device.publish("hutong/heyuan/devices/wm-1-1-101/bogus", telemetry(1, "1")).await;
    device.publish(TOPIC, vec![b'{'; 10_000]).await;
    // A device speaking for another device: refused, whatever key the payload names.
    device.publish("hutong/heyuan/devices/gate-1/telemetry", telemetry_keyed(&gate_key, 1, "1")).await;
    // A gate sending a reading: its actor refuses it.
    let mut gate = Device::connect("127.0.0.1", server.mqtt_port, "gate", "heyuan/gate-1", &gate_key).await;
    gate.publish("hutong/heyuan/devices/gate-1/telemetry", telemetry(1, "1")).await;
    let (mut ws, _) = ws_connect(server.http, "heyuan", &server.admin).await;
    device.publish(TOPIC, telemetry(1, "7")).await;
    wait_event(&mut ws, Duration::from_secs(2), |e| e["body"]["device"] == DEVICE).await.expect("a good reading still flows");
    for reason in ["not_json", "wrong_type", "bad_topic", "oversized", "refused", "forbidden"] {
        let line = format!("hutong_mqtt_rejected_total{{reason=\"{reason}\"}}");
        wait_for(&format!("{reason} counted"), Duration::from_secs(5), async || (server.metric(&line) == 1).then_some(())).await;
    }
    for (reason, n) in [("bad_credentials", 2), ("unknown_device", 1)] {
        assert_eq!(server.metric(&format!("hutong_mqtt_connections_refused_total{{reason=\"{reason}\"}}")), n, "{reason}");
    }
    let view = server.get_json(&format!("/api/v1/communities/heyuan/devices/{DEVICE}"));
    assert_eq!((view["last_value"].as_str(), view["journal_seq"].as_u64()), (Some("7"), Some(1)), "bad input changed nothing");
    let gate = server.get_json("/api/v1/communities/heyuan/devices/gate-1");
    assert_eq!(gate["journal_seq"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spike_raises_an_alarm_and_turns_its_building_red_on_the_wall() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::demo(&dir.path().join("data"), 0, &[]).await;
    let key = server.device_key("heyuan", DEVICE);
    let mut device = Device::connect("127.0.0.1", server.mqtt_port, "spike-device", &format!("heyuan/{DEVICE}"), &key).await;
    for (seq, value) in [(1, "10.0"), (2, "10.2"), (3, "10.4"), (4, "10.6"), (5, "10.8")] {
        device.publish(TOPIC, telemetry(seq, value)).await;
    }
    let (mut ws, _) = ws_connect(server.http, "heyuan", &server.admin).await;
    device.publish(TOPIC, telemetry(6, "25.0")).await;
    let alarm = wait_event(&mut ws, Duration::from_secs(2), |e| e["body"]["event"]["type"] == "usage_spiked").await.unwrap();
    assert_eq!(alarm["body"]["building"], "heyuan-b01");
    let tile = wait_event(&mut ws, Duration::from_secs(2), |e| e["body"]["kind"] == "building" && e["body"]["health"]["anomalies"] == 1).await;
    assert!(tile.is_ok(), "building 1 turned red");
    let wall = server.get_json("/api/v1/communities/heyuan/wall");
    assert!(wall["alarms"][0]["text"].as_str().unwrap().contains("用量突增"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_metrics_and_the_api_document_answer() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::demo(&dir.path().join("data"), 0, &[]).await;
    let doc = server.get_json("/api/openapi.json");
    assert!(doc["paths"]["/ws"].is_object());
    // Generated from the route table: every route, with its access and its body's schema.
    for route in hutong_web::routes::ROUTES {
        assert!(doc["paths"][route.path][route.method.as_str().to_ascii_lowercase()].is_object(), "{} {}", route.method, route.path);
    }
    assert!(doc["paths"]["/api/v1/staff"]["post"]["description"].as_str().unwrap().contains("settings.write"));
    assert_eq!(doc["paths"]["/api/v1/communities/{community}/payments"]["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"], "#/components/schemas/PayBody");
    let (status, body) = http(server.http, "GET", "/api/v1/communities/nowhere/devices", Some(&server.admin), None).unwrap();
    assert_eq!(status, 404);
    assert!(body.contains("找不到小区") && body.contains("no community"), "{body}");
    let (status, body) = http(server.http, "GET", "/api/v1/communities/heyuan/houses?address=nonsense", Some(&server.admin), None).unwrap();
    assert_eq!(status, 400, "{body}");
    assert!(server.metric("hutong_ready ") == 1);
}

/// D2: a meter that reboots and counts from 1 again is heard; after the review's forged
/// `seq = 18446744073709551615` the meter's next real reading is heard too; a redelivery is still
/// a duplicate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebooted_device_is_heard_and_a_forged_huge_seq_mutes_no_one() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::demo(&dir.path().join("data"), 0, &[]).await;
    let key = server.device_key("heyuan", DEVICE);
    let mut device = Device::connect("127.0.0.1", server.mqtt_port, "rebooting-meter", &format!("heyuan/{DEVICE}"), &key).await;
    let value = |server: &Server| server.get_json(&format!("/api/v1/communities/heyuan/devices/{DEVICE}"))["last_value"].as_str().map(str::to_string);
    device.publish(TOPIC, telemetry(5_000, "10")).await;
    wait_for("the first reading", Duration::from_secs(5), async || (value(&server).as_deref() == Some("10")).then_some(())).await;
    // A redelivery (just below the last seq) changes nothing; the reboot (seq 1) is heard.
    device.publish(TOPIC, telemetry(4_999, "99")).await;
    device.publish(TOPIC, telemetry(1, "12")).await;
    wait_for("the rebooted meter heard", Duration::from_secs(5), async || (value(&server).as_deref() == Some("12")).then_some(())).await;
    let seqs = server.get_json(&format!("/api/v1/communities/heyuan/devices/{DEVICE}"))["journal_seq"].as_u64();
    assert_eq!(seqs, Some(2), "the redelivery journaled nothing");
    device.publish(TOPIC, format!(r#"{{"seq":18446744073709551615,"ts":{},"value":"13"}}"#, now_ms())).await;
    wait_for("the forged message", Duration::from_secs(5), async || (value(&server).as_deref() == Some("13")).then_some(())).await;
    device.publish(TOPIC, telemetry(2, "14")).await;
    wait_for("heard after the forged seq", Duration::from_secs(5), async || (value(&server).as_deref() == Some("14")).then_some(())).await;
}

/// D3: a device cannot take over the ingest client's MQTT session by its client id — Hutong's
/// own client ids are refused to devices, and the ingest id is random, not the process id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_cannot_take_over_the_ingest_session() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::demo(&dir.path().join("data"), 0, &[]).await;
    let key = server.device_key("heyuan", DEVICE);
    let user = format!("heyuan/{DEVICE}");
    for id in [format!("hutong-ingest-{}", server.pid()), "hutong-ingest-1".to_string(), "hutong-anything".to_string()] {
        assert!(connect_refused_as("127.0.0.1", server.mqtt_port, &id, &user, &key).await, "{id} refused to a device");
    }
    // Ingest still carries readings.
    let (mut ws, _) = ws_connect(server.http, "heyuan", &server.admin).await;
    let mut device = Device::connect("127.0.0.1", server.mqtt_port, "meter-after-takeover", &user, &key).await;
    device.publish(TOPIC, telemetry(1, "5")).await;
    wait_event(&mut ws, Duration::from_secs(5), |e| e["body"]["device"] == DEVICE).await.expect("ingest still connected");
}

/// D5: a flood of bad messages is counted one by one but logged at most once a second per
/// reason, with how many lines were left out; the payload's values never reach the log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_bad_messages_is_counted_but_does_not_flood_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::demo(&dir.path().join("data"), 0, &[]).await;
    let key = server.device_key("heyuan", DEVICE);
    let mut device = Device::connect("127.0.0.1", server.mqtt_port, "flooding-meter", &format!("heyuan/{DEVICE}"), &key).await;
    let started = std::time::Instant::now();
    for n in 0..300 {
        device.publish(TOPIC, format!(r#"{{"seq":{n},"ts":1,"value":"PLATE沪A12345"}}"#)).await;
    }
    let line = "hutong_mqtt_rejected_total{reason=\"wrong_type\"}";
    wait_for("every bad message counted", Duration::from_secs(10), async || (server.metric(line) == 300).then_some(())).await;
    let seconds = started.elapsed().as_secs() + 2;
    let log = std::fs::read_to_string(&server.log).unwrap();
    let lines = log.lines().filter(|l| l.contains("device message refused")).count() as u64;
    assert!(lines <= seconds, "{lines} log lines for 300 refusals in about {seconds} s");
    assert!(!log.contains("沪A12345"), "a payload value reached the log");
}

fn start_mosquitto(port: u16) -> Mosquitto {
    let child = Command::new("mosquitto")
        .args(["-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("Debian's mosquitto is installed by `cargo xtask test`");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "mosquitto did not listen on {port}");
        std::thread::sleep(Duration::from_millis(10));
    }
    Mosquitto(child)
}

/// CPU time a process has used, in clock ticks (user + system).
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let fields: Vec<&str> = stat.rsplit_once(')').map_or("", |(_, rest)| rest).split_whitespace().collect();
    fields.get(11).and_then(|u| u.parse::<u64>().ok()).unwrap_or(0) + fields.get(12).and_then(|s| s.parse::<u64>().ok()).unwrap_or(0)
}

/// The external broker restarts again and again (`HUTONG_BROKER_RESTARTS`, default 100): each
/// time ingest reconnects and resubscribes, and a reading reaches the wall within 5 s; while the
/// broker is away Hutong waits with backoff instead of spinning.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_comes_back_within_5_s_of_every_broker_restart_without_a_busy_loop() {
    let restarts: u64 = std::env::var("HUTONG_BROKER_RESTARTS").ok().and_then(|v| v.parse().ok()).unwrap_or(100);
    let port = free_port();
    let mut mosquitto = Some(start_mosquitto(port));
    let dir = tempfile::tempdir().unwrap();
    let url = format!("mqtt://127.0.0.1:{port}");
    let server = Server::demo(&dir.path().join("data"), 0, &["--mqtt-url", &url]).await;
    wait_for("ingest to connect to mosquitto", Duration::from_secs(10), async || (server.metric("hutong_mqtt_connected ") == 1).then_some(())).await;
    let key = server.device_key("heyuan", DEVICE);
    let (mut ws, _) = ws_connect(server.http, "heyuan", &server.admin).await;
    let (started, cpu_before) = (Instant::now(), cpu_ticks(server.pid()));
    let mut seq = 0u64;
    let mut slowest = Duration::ZERO;
    for restart in 0..restarts {
        drop(mosquitto.take());
        // The broker is away for 20–220 ms, then back on the same port.
        tokio::time::sleep(Duration::from_millis(20 + (restart * 37) % 200)).await;
        mosquitto = Some(start_mosquitto(port));
        let back = Instant::now();
        let mut device = Device::connect("127.0.0.1", port, &format!("restart-meter-{restart}"), &format!("heyuan/{DEVICE}"), &key).await;
        loop {
            seq += 1;
            device.publish(TOPIC, telemetry_keyed(&key, seq, &seq.to_string())).await;
            let value = seq.to_string();
            if wait_event(&mut ws, Duration::from_millis(100), |e| e["body"]["device"] == DEVICE && e["body"]["event"]["value"] == value.as_str()).await.is_ok() {
                break;
            }
            assert!(back.elapsed() < Duration::from_secs(5), "restart {restart}: no reading through after 5 s");
        }
        slowest = slowest.max(back.elapsed());
    }
    let (wall, cpu) = (started.elapsed().as_secs_f64(), (cpu_ticks(server.pid()) - cpu_before) as f64 / 100.0);
    eprintln!("{restarts} broker restarts: slowest comeback {slowest:?}; Hutong used {cpu:.1} s of CPU in {wall:.1} s");
    assert!(cpu < wall * 0.5, "Hutong used {cpu:.1} s of CPU in {wall:.1} s of broker restarts: a busy loop?");
    assert!(server.metric("hutong_mqtt_reconnects_total ") >= restarts, "every restart was a reconnect");
}

/// At scale: the external broker asks Hutong who connects and who may publish or subscribe where
/// (EMQX's HTTP hooks; answered here by HTTP, as EMQX would call them), and Hutong's nodes share
/// the device subscription. With the hooks on, a payload needs no key: the broker vouches for the
/// topic. A rotated key is refused by the hook at once; without a token the hooks do not exist.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_external_broker_asks_hutong_who_connects_and_the_nodes_share_the_subscription() {
    let port = free_port();
    let _mosquitto = start_mosquitto(port);
    let dir = tempfile::tempdir().unwrap();
    let url = format!("mqtt://127.0.0.1:{port}");
    let token = "hook-token-0123456789abcdef0123456789";
    let extra = ["--mqtt-url", url.as_str(), "--mqtt-share-group", "hutong"];
    let server = Server::demo_env(&dir.path().join("data"), 0, &extra, &[("HUTONG_MQTT_HOOK_TOKEN", token)]).await;
    wait_for("ingest to connect to mosquitto", Duration::from_secs(10), async || (server.metric("hutong_mqtt_connected ") == 1).then_some(())).await;
    let key = server.device_key("heyuan", DEVICE);
    let gate_key = server.device_key("heyuan", "gate-1");
    let ask = |path: &str, bearer: Option<&str>, body: serde_json::Value| {
        let (status, reply) = http(server.http, "POST", path, bearer, Some(&body.to_string())).unwrap();
        (status, serde_json::from_str::<serde_json::Value>(&reply).map(|v| v["result"].as_str().unwrap_or_default().to_string()).unwrap_or(reply))
    };
    let auth = |clientid: &str, username: &str, password: &str| serde_json::json!({"clientid": clientid, "username": username, "password": password});
    let me = format!("heyuan/{DEVICE}");
    assert_eq!(ask("/api/v1/mqtt/auth", None, auth("m", &me, &key)).0, 401, "the hooks answer the broker only");
    assert_eq!(ask("/api/v1/mqtt/auth", Some("wrong-token"), auth("m", &me, &key)).0, 401);
    assert_eq!(ask("/api/v1/mqtt/auth", Some(token), auth("m", &me, &key)), (200, "allow".into()));
    assert_eq!(ask("/api/v1/mqtt/auth", Some(token), auth("m", &me, &gate_key)), (200, "deny".into()), "another device's key");
    assert_eq!(ask("/api/v1/mqtt/auth", Some(token), auth("hutong-ingest-x", &me, &key)), (200, "deny".into()), "Hutong's client ids");
    let acl = |username: &str, action: &str, topic: &str| serde_json::json!({"clientid": "c", "username": username, "topic": topic, "action": action});
    for (username, action, topic, allowed) in [
        (me.as_str(), "publish", TOPIC, true),
        (me.as_str(), "publish", "hutong/heyuan/devices/gate-1/event", false),
        (me.as_str(), "subscribe", "hutong/#", false),
        (me.as_str(), "subscribe", "hutong/heyuan/devices/wm-1-1-101/command", true),
        ("hutong", "subscribe", "$share/hutong/hutong/+/devices/+/+", true),
        ("nobody", "publish", TOPIC, false),
    ] {
        let want = if allowed { "allow" } else { "deny" };
        assert_eq!(ask("/api/v1/mqtt/acl", Some(token), acl(username, action, topic)), (200, want.into()), "{username} {action} {topic}");
    }
    // A reading with no key in it reaches the wall through the shared subscription.
    let (mut ws, _) = ws_connect(server.http, "heyuan", &server.admin).await;
    let mut device = Device::connect("127.0.0.1", port, "hooked-meter", &me, &key).await;
    device.publish(TOPIC, telemetry(1, "42.5")).await;
    wait_event(&mut ws, Duration::from_secs(5), |e| e["body"]["device"] == DEVICE && e["body"]["event"]["value"] == "42.5").await.expect("the reading arrives");
    // A rotated key: the broker's next question about the old one is answered no.
    let (status, _) = http(server.http, "POST", &format!("/api/v1/communities/heyuan/devices/{DEVICE}/key/rotate"), Some(&server.admin), Some("")).unwrap();
    assert_eq!(status, 200);
    assert_eq!(ask("/api/v1/mqtt/auth", Some(token), auth("m", &me, &key)), (200, "deny".into()));
    // A node without the token has no hooks.
    let plain = Server::demo(&dir.path().join("plain"), 0, &["--mqtt-url", &url]).await;
    let (status, _) = http(plain.http, "POST", "/api/v1/mqtt/auth", Some(token), Some(&auth("m", &me, &key).to_string())).unwrap();
    assert_eq!(status, 404);
}

/// Publishes `count` messages from a device, each acknowledged (durable) before the next.
async fn publish_many(server: &Server, device: &str, channel: &str, count: u64, payload: impl Fn(u64) -> String) {
    let key = server.device_key("heyuan", device);
    let mut client = Device::connect("127.0.0.1", server.mqtt_port, &format!("load-{device}"), &format!("heyuan/{device}"), &key).await;
    let topic = format!("hutong/heyuan/devices/{device}/{channel}");
    for seq in 1..=count {
        client.publish(&topic, payload(seq)).await;
    }
}

/// Events read until `total` device events came (or 10 s passed without one).
async fn device_events(ws: &mut Ws, total: usize) -> Vec<serde_json::Value> {
    let mut seen: Vec<serde_json::Value> = Vec::new();
    while seen.iter().filter(|e| e["body"]["kind"] == "device").count() < total {
        let Ok(Some(e)) = tokio::time::timeout(Duration::from_secs(10), next_json(ws)).await else { break };
        if e["type"] == "event" {
            seen.push(e);
        }
    }
    seen
}

/// R2/R3 fan-out: under a load from five devices at once, a butler's socket gets every event of
/// their building and not one of another building's or the community's entrance, while the
/// control room's gets them all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_butlers_socket_gets_all_of_their_building_and_nothing_else_under_load() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::demo(&dir.path().join("data"), 0, &[]).await;
    let (mut butler, snapshot) = ws_connect(server.http, "heyuan", &server.login("butler")).await;
    let tiles: Vec<&str> = snapshot["buildings"].as_array().unwrap().iter().map(|t| t["id"].as_str().unwrap()).collect();
    assert_eq!(tiles, ["heyuan-b01"], "the butler's snapshot is their building only");
    let (mut control, _) = ws_connect(server.http, "heyuan", &server.login("control")).await;
    const EACH: u64 = 60;
    let mine = ["wm-1-1-101", "gate-1"];
    let others = ["wm-2-1-101", "gate-2", "barrier-1"];
    let mut load = Vec::new();
    for device in mine.iter().chain(&others) {
        let server = &server;
        load.push(async move {
            if device.starts_with("wm") {
                publish_many(server, device, "telemetry", EACH, |seq| telemetry(seq, &format!("{}.5", 100 + seq))).await
            } else {
                publish_many(server, device, "event", EACH, |seq| gate_event(seq, "opened_by_card")).await
            }
        });
    }
    futures_util::future::join_all(load).await;
    let all = device_events(&mut control, 5 * EACH as usize).await;
    assert_eq!(all.iter().filter(|e| e["body"]["kind"] == "device").count(), 5 * EACH as usize, "the control room got every device event");
    let theirs = device_events(&mut butler, 2 * EACH as usize).await;
    assert_eq!(theirs.iter().filter(|e| e["body"]["kind"] == "device").count(), 2 * EACH as usize, "the butler got every event of their building");
    // Whatever else arrives for a while is still theirs only.
    let mut more = Vec::new();
    while let Ok(Some(e)) = tokio::time::timeout(Duration::from_millis(300), next_json(&mut butler)).await {
        more.push(e);
    }
    for e in theirs.iter().chain(more.iter().filter(|e| e["type"] == "event")) {
        assert_eq!(event_building(e), "heyuan-b01", "the butler saw another building's event: {e}");
    }
}

/// A socket whose client stops reading falls behind alone: the others get every event at once,
/// and it is told to resync (then sent a fresh snapshot) when it reads again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_that_stops_reading_is_resynced_and_nobody_waits_for_it() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::demo(&dir.path().join("data"), 0, &[]).await;
    let control = server.login("control");
    let mut stalled = ws_open_small_window(server.http, "/ws?community=heyuan", &control).await;
    assert_eq!(next_json(&mut stalled).await.unwrap()["type"], "snapshot");
    let (mut live, _) = ws_connect(server.http, "heyuan", &control).await;
    let seen = std::sync::Arc::new(std::sync::Mutex::new((0u64, Instant::now())));
    let counted = seen.clone();
    let reader = tokio::spawn(async move {
        while let Ok(Some(e)) = tokio::time::timeout(Duration::from_secs(20), next_json(&mut live)).await {
            if e["body"]["device"] == "gate-1" && e["body"]["event"]["action"] == "opened_by_card" {
                let mut seen = counted.lock().unwrap();
                *seen = (seen.0 + 1, Instant::now());
            }
        }
    });
    // Gate events leave within a few ms (no tick to wait for), so each few make a frame. Publish
    // until far more frames than the stalled client's kernel buffers and its topic's ring hold
    // have left (the ring holds 256).
    let key = server.device_key("heyuan", "gate-1");
    let mut gate = Device::connect("127.0.0.1", server.mqtt_port, "stall-gate-1", "heyuan/gate-1", &key).await;
    let frames = || server.metric("hutong_ws_frames_encoded_total{feed=\"wall\"}");
    let (first_frame, started) = (frames(), Instant::now());
    let mut published = 0;
    while frames() < first_frame + 700 {
        assert!(started.elapsed() < Duration::from_secs(9), "700 frames within 9 s ({} so far)", frames() - first_frame);
        for _ in 0..25 {
            published += 1;
            gate.publish("hutong/heyuan/devices/gate-1/event", gate_event(published, "opened_by_card")).await;
        }
    }
    let done = Instant::now();
    wait_for("every gate event on the reading socket", Duration::from_secs(5), async || (seen.lock().unwrap().0 == published).then_some(())).await;
    let last = seen.lock().unwrap().1;
    assert!(last.saturating_duration_since(done) < Duration::from_secs(1), "the last within a second of its publish");
    reader.abort();
    // The stalled client reads again: a resync, a fresh snapshot, then live events.
    let resynced = wait_for("a resync on the stalled socket", Duration::from_secs(10), async || {
        let e = tokio::time::timeout(Duration::from_millis(100), next_json(&mut stalled)).await.ok().flatten()?;
        (e["type"] == "resync").then_some(())
    });
    resynced.await;
    assert_eq!(next_json(&mut stalled).await.unwrap()["type"], "snapshot", "a snapshot follows the resync");
    assert!(server.metric("hutong_ws_resyncs_total{feed=\"wall\"}") >= 1);
}
