//! `hutong bench ingest`: the end-to-end ingest benchmark. It starts a real server in this
//! process (the log journal in a temp dir, Hutong's own MQTT endpoint, HTTP), connects a
//! WebSocket client, and has simulated devices publish readings over MQTT with QoS 1. A PUBACK
//! from Hutong means the reading is durable in the journal; each reading carries its publish
//! time, and the WebSocket client measures publish → durable → WebSocket.
//!
//! Beside it, the same publishers and messages through Debian's mosquitto to one QoS 1 subscriber
//! (no journal), the peer the issue asks the ratio to.
//!
//! Two phases: as fast as the server keeps up (publishers keep at most `window` messages published
//! but not yet acknowledged: sustained PUBACKed messages/s), then a fixed rate (latency
//! percentiles at that rate). Screens catch up between phases.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat, Utc};
use futures_util::StreamExt;
use hutong_core::device::DeviceSpec;
use rumqttc::{AsyncClient, MqttOptions, QoS};
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

use hutong_web::config::{Broker, Config};
use hutong_web::server::{self, DemoOptions};

#[derive(Debug, Clone, clap::Args)]
pub struct IngestBench {
    /// Seconds of each phase.
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// Messages per second of the fixed-rate phase.
    #[arg(long, default_value_t = 10_000)]
    pub rate: u32,
    /// MQTT connections publishing.
    #[arg(long, default_value_t = 4)]
    pub publishers: usize,
    /// Most messages in flight end to end in the max phase.
    #[arg(long, default_value_t = 20_000)]
    pub window: u64,
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// What the WebSocket client saw.
#[derive(Default)]
struct Seen {
    events: AtomicU64,
    resyncs: AtomicU64,
    latencies_us: std::sync::Mutex<Vec<u64>>,
    recording: AtomicBool,
}

pub(crate) fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    #[allow(clippy::float_arithmetic)]
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i] as f64 / 1000.0
}

/// A demo server in this process (SQLite journal in a temp dir, the embedded broker, HTTP), ready.
pub struct DemoServer {
    pub http: std::net::SocketAddr,
    pub mqtt: std::net::SocketAddr,
    pub dir: std::path::PathBuf,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

pub const DEVICE_SECRET: &str = "bench-device-secret";

/// A server's configuration for the benchmarks: the log journal under `data`, Hutong's own MQTT
/// endpoint, no TLS, no assets, the bench's device secret.
pub(crate) fn bench_config(data: std::path::PathBuf, http: std::net::SocketAddr, mqtt: std::net::SocketAddr) -> Config {
    Config {
        assets: data.join("none"),
        data,
        http,
        broker: Broker::Embedded(mqtt),
        admin_password: None,
        operator_password: None,
        device_secret: Some(DEVICE_SECRET.into()),
        session_hours: 12,
        reminder_webhook: None,
        sms_webhook: None,
        public_url: None,
        store: hutong_web::config::Store::Log,
        communities: None,
        trusted_proxies: Vec::new(),
        journal_max_mib: None,
        metrics_token: None,
        tls: None,
        mqtt_max_per_address: 5_000,
        mqtt_hook_token: None,
        mqtt_share_group: None,
    }
}

pub async fn demo_server() -> anyhow::Result<DemoServer> {
    let dir = tempfile_dir()?;
    let http: std::net::SocketAddr = format!("127.0.0.1:{}", free_port()?).parse()?;
    let mqtt: std::net::SocketAddr = format!("127.0.0.1:{}", free_port()?).parse()?;
    let config = bench_config(dir.clone(), http, mqtt);
    let shutdown = CancellationToken::new();
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    let task = tokio::spawn(server::run(config, Some(DemoOptions { simulate_rate: 0, password: Some("bench-password".into()), print_sign_ins: false }), shutdown.clone(), move |a| {
        let _ = ready_tx.send(a);
    }));
    let started = Instant::now();
    ready_rx.await?;
    println!("server ready in {:.2?} (demo community: 3,173 devices, the log journal in {})", started.elapsed(), dir.display());
    Ok(DemoServer { http, mqtt, dir, shutdown, task })
}

impl DemoServer {
    pub async fn stop(self) {
        self.shutdown.cancel();
        let _ = self.task.await;
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub async fn ingest(options: IngestBench) -> anyhow::Result<()> {
    let community = hutong_core::demo::community();
    let meters: Vec<DeviceSpec> = hutong_core::demo::devices(&community).into_iter().filter(|d| d.kind.is_meter()).collect();

    // Hutong: devices → its own MQTT endpoint → device actor → journal (durable) → PUBACK, /ws.
    let demo = demo_server().await?;
    let seen = Arc::new(Seen::default());
    let token = sign_in(demo.http, "control", "bench-password").await?;
    let mut request = tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(format!("ws://{}/ws?community=heyuan", demo.http))?;
    request.headers_mut().insert("Authorization", format!("Bearer {token}").parse()?);
    let (ws, _) = tokio_tungstenite::connect_async(request).await?;
    let reader = tokio::spawn(read_socket(ws, seen.clone()));
    let service = Some((hutong_device_bridge::codec::SERVICE_USER.to_string(), hutong_device_bridge::codec::service_password(DEVICE_SECRET.as_bytes())));
    let hutong = phases(&options, demo.mqtt.port(), service, &meters, &seen).await?;
    let resyncs = seen.resyncs.load(Ordering::Relaxed);
    // What became of every message, by the server's own count.
    let metrics = crate::http_get(demo.http, "/metrics").map(|(_, text)| text).unwrap_or_default();
    let outcomes: Vec<&str> = metrics.lines().filter(|l| l.starts_with("hutong_mqtt_") && !l.ends_with(" 0")).collect();
    reader.abort();
    demo.stop().await;

    // The peer: Debian's mosquitto passing the same QoS 1 messages to one subscriber, no journal.
    let peer = match Mosquitto::start() {
        Ok(mosquitto) => {
            let seen = Arc::new(Seen::default());
            let subscriber = subscribe_all(mosquitto.port, seen.clone()).await?;
            let rows = phases(&options, mosquitto.port, None, &meters, &seen).await?;
            subscriber.abort();
            Some(rows)
        }
        Err(e) => {
            println!("mosquitto not run ({e}); install Debian's mosquitto for the comparison");
            None
        }
    };

    println!();
    println!("| system | phase | target msg/s | published | PUBACKed | received (/ws; subscriber) | sustained PUBACKed msg/s | p50 ms | p99 ms | p99.9 ms |");
    println!("|---|---|---|---|---|---|---|---|---|---|");
    let systems = [("Hutong (PUBACK = durable in the journal)", Some(&hutong)), ("mosquitto (PUBACK = in memory, no journal)", peer.as_ref())];
    for (system, rows) in systems.into_iter().filter_map(|(name, rows)| rows.map(|r| (name, r))) {
        for row in rows {
            let target = row.rate.map_or("as fast as possible".to_string(), |r| r.to_string());
            println!(
                "| {system} | {} | {target} | {} | {} | {} | {:.0} | {:.2} | {:.2} | {:.2} |",
                row.phase, row.published, row.acked, row.received, row.per_sec, row.p50, row.p99, row.p999
            );
        }
    }
    if let Some(peer) = &peer {
        #[allow(clippy::float_arithmetic)]
        let ratio = hutong[0].per_sec / peer[0].per_sec;
        println!("\nsustained PUBACKed msg/s, Hutong / mosquitto: {ratio:.2}; latency is publish → /ws (Hutong) and publish → subscriber (mosquitto)");
    }
    println!("Hutong's MQTT counters (non-zero): {}", outcomes.join(", "));
    println!("WebSocket resyncs: {resyncs}; machine: {} cores", std::thread::available_parallelism().map_or(0, |n| n.get()));
    Ok(())
}

/// One phase's figures.
struct Row {
    phase: &'static str,
    rate: Option<u32>,
    published: u64,
    /// PUBACKs the publishers got (Hutong: durable in the journal; mosquitto: taken by the broker).
    acked: u64,
    received: u64,
    per_sec: f64,
    p50: f64,
    p99: f64,
    p999: f64,
}

/// The two phases against one broker: as fast as it keeps up, then the fixed rate.
async fn phases(options: &IngestBench, port: u16, credentials: Option<(String, String)>, meters: &[DeviceSpec], seen: &Arc<Seen>) -> anyhow::Result<Vec<Row>> {
    let mut rows = Vec::new();
    let mut seq0 = 1u64;
    for (phase, rate) in [("max", None), ("fixed", Some(options.rate))] {
        seen.latencies_us.lock().unwrap().clear();
        let before = seen.events.load(Ordering::Relaxed);
        seen.recording.store(true, Ordering::Relaxed);
        let t0 = Instant::now();
        let gate = Window { published: Arc::new(AtomicU64::new(0)), acked: Arc::new(AtomicU64::new(0)), limit: options.window };
        let published =
            publish_phase(port, meters, credentials.clone(), options.publishers, rate, Duration::from_secs(options.seconds), seq0, gate.clone()).await?;
        // Every publisher waited for its last PUBACK before it returned.
        let acked_in = t0.elapsed();
        let acked = gate.acked.load(Ordering::Relaxed);
        seq0 += published + 1;
        // Wait for the screens to catch up, until nothing more arrives for a second.
        let (mut last, mut still_since) = (seen.events.load(Ordering::Relaxed), Instant::now());
        while seen.events.load(Ordering::Relaxed) - before < published && still_since.elapsed() < Duration::from_secs(1) {
            tokio::time::sleep(Duration::from_millis(20)).await;
            let now = seen.events.load(Ordering::Relaxed);
            if now != last {
                (last, still_since) = (now, Instant::now());
            }
        }
        seen.recording.store(false, Ordering::Relaxed);
        let received = seen.events.load(Ordering::Relaxed) - before;
        let mut lat = seen.latencies_us.lock().unwrap().clone();
        lat.sort_unstable();
        #[allow(clippy::float_arithmetic)]
        let per_sec = acked as f64 / acked_in.as_secs_f64();
        rows.push(Row { phase, rate, published, acked, received, per_sec, p50: percentile(&lat, 0.5), p99: percentile(&lat, 0.99), p999: percentile(&lat, 0.999) });
    }
    Ok(rows)
}

/// Debian's mosquitto on a free port, stopped when dropped.
struct Mosquitto {
    child: std::process::Child,
    port: u16,
}

impl Mosquitto {
    fn start() -> anyhow::Result<Mosquitto> {
        let port = free_port()?;
        // Its defaults drop QoS 1 messages past 1,000 queued for a subscriber and keep 20 in
        // flight: lifted, so it passes every message, as Hutong must.
        let conf = std::env::temp_dir().join(format!("hutong-bench-mosquitto-{port}.conf"));
        std::fs::write(&conf, format!("listener {port} 127.0.0.1\nallow_anonymous true\nmax_queued_messages 0\nmax_inflight_messages 1000\n"))?;
        let child = std::process::Command::new("mosquitto")
            .arg("-c")
            .arg(&conf)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()?;
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            anyhow::ensure!(Instant::now() < deadline, "mosquitto did not listen in 10 s");
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(Mosquitto { child, port })
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One QoS 1 subscriber to every reading, counting them and their latency like the /ws reader.
async fn subscribe_all(port: u16, seen: Arc<Seen>) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let mut options = MqttOptions::new("bench-subscriber", "127.0.0.1", port);
    options.set_keep_alive(Duration::from_secs(30)).set_inflight(1000);
    let (client, mut eventloop) = AsyncClient::new(options, 10_000);
    client.subscribe("hutong/+/devices/+/telemetry", QoS::AtLeastOnce).await?;
    let (subscribed_tx, subscribed) = tokio::sync::oneshot::channel();
    let task = tokio::spawn(async move {
        let mut subscribed_tx = Some(subscribed_tx);
        while let Ok(event) = eventloop.poll().await {
            match event {
                rumqttc::Event::Incoming(rumqttc::Packet::SubAck(_)) => {
                    if let Some(tx) = subscribed_tx.take() {
                        let _ = tx.send(());
                    }
                }
                rumqttc::Event::Incoming(rumqttc::Packet::Publish(publish)) => {
                    let now = Utc::now();
                    seen.events.fetch_add(1, Ordering::Relaxed);
                    if seen.recording.load(Ordering::Relaxed) {
                        let value: serde_json::Value = serde_json::from_slice(&publish.payload).unwrap_or_default();
                        if let Some(at) = value["ts"].as_str().and_then(|s| s.parse::<DateTime<Utc>>().ok()) {
                            let us = (now - at).num_microseconds().unwrap_or(0).max(0) as u64;
                            seen.latencies_us.lock().unwrap().push(us);
                        }
                    }
                }
                _ => {}
            }
        }
    });
    tokio::time::timeout(Duration::from_secs(10), subscribed).await??;
    Ok(task)
}

/// Signs in over HTTP, as the control-room operator whose wall the benchmark watches.
async fn sign_in(http: std::net::SocketAddr, account: &str, password: &str) -> anyhow::Result<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let body = serde_json::json!({"account": account, "password": password}).to_string();
    let mut stream = tokio::net::TcpStream::connect(http).await?;
    let request = format!(
        "POST /api/v1/auth/login HTTP/1.1\r\nHost: {http}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await?;
    let mut reply = String::new();
    stream.read_to_string(&mut reply).await?;
    let json = reply.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or_default();
    let value: serde_json::Value = serde_json::from_str(json)?;
    value["token"].as_str().map(str::to_string).ok_or_else(|| anyhow::anyhow!("sign-in refused: {reply}"))
}

fn tempfile_dir() -> anyhow::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("hutong-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

async fn read_socket(
    mut ws: tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
    seen: Arc<Seen>,
) {
    while let Some(Ok(msg)) = ws.next().await {
        let Message::Text(text) = msg else { continue };
        let now = Utc::now();
        let Ok(value) = serde_json::from_str::<serde_json::Value>(&text) else { continue };
        match value["type"].as_str() {
            Some("resync") => {
                seen.resyncs.fetch_add(1, Ordering::Relaxed);
            }
            Some("events") => {
                for event in value["events"].as_array().into_iter().flatten().filter(|e| e["body"]["event"]["type"] == "reading_accepted") {
                    seen.events.fetch_add(1, Ordering::Relaxed);
                    if seen.recording.load(Ordering::Relaxed) {
                        if let Some(at) = event["body"]["event"]["signal"]["at"].as_str().and_then(|s| s.parse::<DateTime<Utc>>().ok()) {
                            let us = (now - at).num_microseconds().unwrap_or(0).max(0) as u64;
                            seen.latencies_us.lock().unwrap().push(us);
                        }
                    }
                }
            }
            _ => {}
        }
    }
}

/// Keeps the max phase closed-loop: publishers wait while too many messages are published but
/// not yet acknowledged (on Hutong's endpoint, a PUBACK means durable).
#[derive(Clone)]
struct Window {
    published: Arc<AtomicU64>,
    acked: Arc<AtomicU64>,
    limit: u64,
}

impl Window {
    fn open(&self) -> bool {
        self.published.load(Ordering::Relaxed).saturating_sub(self.acked.load(Ordering::Relaxed)) < self.limit
    }
}

/// Publishes readings round-robin over the meters; returns how many were published.
#[allow(clippy::too_many_arguments)]
async fn publish_phase(
    port: u16,
    meters: &[DeviceSpec],
    credentials: Option<(String, String)>,
    publishers: usize,
    rate: Option<u32>,
    length: Duration,
    seq0: u64,
    window: Window,
) -> anyhow::Result<u64> {
    let mut tasks = Vec::new();
    for p in 0..publishers {
        let window = window.clone();
        let credentials = credentials.clone();
        let mine: Vec<DeviceSpec> = meters.iter().skip(p).step_by(publishers).cloned().collect();
        let per_publisher = rate.map(|r| r.div_ceil(publishers as u32));
        tasks.push(tokio::spawn(async move {
            let mut options = MqttOptions::new(format!("bench-{p}-{seq0}"), "127.0.0.1", port);
            options.set_keep_alive(Duration::from_secs(30)).set_inflight(1000);
            if let Some((user, password)) = credentials {
                options.set_credentials(user, password);
            }
            let (client, mut eventloop) = AsyncClient::new(options, 10_000);
            let acked = Arc::new(AtomicU64::new(0));
            let (acks, all_acks) = (acked.clone(), window.acked.clone());
            let driver = tokio::spawn(async move {
                while let Ok(event) = eventloop.poll().await {
                    match event {
                        rumqttc::Event::Incoming(rumqttc::Packet::PubAck(_)) => {
                            acks.fetch_add(1, Ordering::Relaxed);
                            all_acks.fetch_add(1, Ordering::Relaxed);
                        }
                        rumqttc::Event::Outgoing(rumqttc::Outgoing::Disconnect) => break,
                        _ => {}
                    }
                }
            });
            let mut sent = 0u64;
            let start = Instant::now();
            let mut i = 0usize;
            while start.elapsed() < length {
                let batch = match per_publisher {
                    // Fixed rate: publish what is due by now, then yield a millisecond.
                    Some(r) => {
                        let due = (start.elapsed().as_micros() as u64 * u64::from(r)) / 1_000_000;
                        if due <= sent {
                            tokio::time::sleep(Duration::from_millis(1)).await;
                            continue;
                        }
                        due - sent
                    }
                    None if window.open() => 256,
                    None => {
                        tokio::time::sleep(Duration::from_millis(1)).await;
                        continue;
                    }
                };
                for _ in 0..batch {
                    let meter = &mine[i % mine.len()];
                    i += 1;
                    let seq = seq0 + sent;
                    // The register climbs by a steady step so no spike rule fires.
                    let value = format!("{}.{:03}", 1000 + seq / 1000, seq % 1000);
                    let ts = Utc::now().to_rfc3339_opts(SecondsFormat::Micros, true);
                    let payload = format!(r#"{{"seq":{seq},"ts":"{ts}","value":"{value}"}}"#);
                    let topic = format!("hutong/heyuan/devices/{}/telemetry", meter.id);
                    if client.publish(topic, QoS::AtLeastOnce, false, payload).await.is_err() {
                        return sent;
                    }
                    sent += 1;
                    window.published.fetch_add(1, Ordering::Relaxed);
                }
            }
            // Disconnect once every publish is acknowledged: rumqttc drops what it still holds
            // when it sends DISCONNECT, which would count as lost here.
            let deadline = Instant::now() + Duration::from_secs(60);
            while acked.load(Ordering::Relaxed) < sent && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            let _ = client.disconnect().await;
            if tokio::time::timeout(Duration::from_secs(10), driver).await.is_err() {
                tracing::warn!("a publisher's connection did not close in 10 s");
            }
            sent
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await?;
    }
    Ok(total)
}
