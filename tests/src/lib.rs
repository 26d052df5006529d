//! Helpers for the end-to-end tests: start the real `hutong` binary on free ports, talk to it
//! over HTTP, WebSocket and MQTT, and wait for conditions (never for fixed times).
//!
//! # Layout
//! - this file: `Server` (the real binary on free ports), `wait_for`, HTTP / WebSocket / MQTT helpers.
//! - [`cassandra`]: a real CQL node from Maven Central's jars, for the ScyllaDB backend's tests.
//! - [`bench`]: the benchmarks behind `cargo xtask bench ingest|billing|import` (binary `hutong-bench`).
//! - `tests/*.rs`: the end-to-end tests; `src/bin/`: `hutong-bench`, `bench_journal`, `journal_writer`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

pub mod bench;
pub mod cassandra;
use futures_util::StreamExt;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;

/// The binary under test: `HUTONG_BIN` (set by `cargo xtask test`), else the workspace's debug build.
pub fn hutong_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("HUTONG_BIN") {
        return PathBuf::from(p);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let bin = target.join("debug/hutong");
    assert!(bin.exists(), "no hutong binary at {}: run `cargo xtask test`", bin.display());
    bin
}

/// Where tests keep what a person may want to look at afterwards (screenshots).
pub fn output_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../test-output");
    std::fs::create_dir_all(&dir).expect("test-output dir");
    dir
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

/// A free port below the kernel's ephemeral range, for a server that must start again on the same
/// port: a port from `free_port` may meanwhile become the source port of some client's outgoing
/// connection — or of a client's TCP self-connect while it retries the server that is down — and
/// the server then cannot bind it again. Each call in this process gives another port.
pub fn free_fixed_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").ok().and_then(|t| t.split_whitespace().next()?.parse::<u32>().ok()).unwrap_or(32768).max(12_000);
    let span = low - 10_000;
    // Processes start from different places (their pid), so test binaries seldom meet.
    let start = std::process::id() * 97 % span;
    for _ in 0..span {
        let port = 10_000 + (start + NEXT.fetch_add(1, Ordering::Relaxed)) % span;
        if let Ok(port) = u16::try_from(port) && TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port below the ephemeral range")
}

/// Polls `f` until it returns `Some`, or fails after `limit` with `what`.
pub async fn wait_for<T>(what: &str, limit: Duration, mut f: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out after {limit:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Every demo account's password in tests.
pub const PASSWORD: &str = "test-password-1";

/// A running `hutong` process; killed when dropped.
pub struct Server {
    pub child: Child,
    pub http: SocketAddr,
    pub mqtt_port: u16,
    pub data: PathBuf,
    pub log: PathBuf,
    /// The demo admin's session, for the calls tests make as "the operator".
    pub admin: String,
}

impl Server {
    /// `hutong demo --simulate-rate {rate}` on free ports; `extra` adds flags (e.g. `--mqtt-url`).
    /// A port another test took between our probe and the server's bind is tried again with
    /// fresh ports (the server refuses a port in use with a sentence and exits).
    pub async fn demo(data: &Path, rate: u32, extra: &[&str]) -> Server {
        Self::demo_env(data, rate, extra, &[]).await
    }

    /// `demo` with environment variables (secrets are never flags).
    pub async fn demo_env(data: &Path, rate: u32, extra: &[&str], env: &[(&str, &str)]) -> Server {
        for attempt in 1.. {
            let http: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
            let mqtt_port = free_port();
            let log = data.with_extension("log");
            std::fs::create_dir_all(data).unwrap();
            let log_file = std::fs::OpenOptions::new().create(true).append(true).open(&log).unwrap();
            let mut cmd = Command::new(hutong_bin());
            cmd.arg("demo")
                .arg("--data")
                .arg(data)
                .args(["--http", &http.to_string(), "--mqtt", &format!("127.0.0.1:{mqtt_port}")])
                .args(["--simulate-rate", &rate.to_string()])
                .env("HUTONG_DEMO_PASSWORD", PASSWORD)
                .envs(env.iter().copied())
                .args(extra)
                .stdout(Stdio::null())
                .stderr(log_file);
            if let Some(assets) = std::env::var_os("HUTONG_ASSETS") {
                cmd.arg("--assets").arg(assets);
            }
            let child = cmd.spawn().expect("start hutong");
            let mut server = Server { child, http, mqtt_port, data: data.to_path_buf(), log, admin: String::new() };
            match server.wait_ready().await {
                Ok(()) => {
                    server.admin = server.login("admin");
                    return server;
                }
                // A free port picked here may be taken by a parallel test before the server binds it.
                Err(log) if attempt < 3 && (log.contains("已被占用") || log.contains("Address already in use")) => continue,
                Err(log) => panic!("hutong did not become ready; log:\n{log}"),
            }
        }
        unreachable!()
    }

    /// Signs a demo account in and returns its session token.
    pub fn login(&self, account: &str) -> String {
        let body = serde_json::json!({"account": account, "password": PASSWORD}).to_string();
        let (status, reply) = http(self.http, "POST", "/api/v1/auth/login", None, Some(&body)).expect("sign-in request");
        assert_eq!(status, 200, "sign in as {account}: {reply}");
        let v: Value = serde_json::from_str(&reply).unwrap();
        v["token"].as_str().unwrap().to_string()
    }

    /// A device's key, as the operator provisions it.
    pub fn device_key(&self, community: &str, device: &str) -> String {
        self.get_json(&format!("/api/v1/communities/{community}/devices/{device}/key"))["key"].as_str().unwrap().to_string()
    }

    /// Ready, or the log when the process exited or took over 60 s.
    async fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            // 200 is ready or degraded (a quarantined stream); 503 is still recovering.
            if let Ok((200, _)) = http_get(self.http, "/healthz") {
                return Ok(());
            }
            let exited = self.child.try_wait().ok().flatten().is_some();
            if exited || Instant::now() > deadline {
                return Err(std::fs::read_to_string(&self.log).unwrap_or_default());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn mqtt(&self) -> (String, u16) {
        ("127.0.0.1".into(), self.mqtt_port)
    }

    /// GET as the demo admin.
    pub fn get_json(&self, path: &str) -> Value {
        let (status, body) = http(self.http, "GET", path, Some(&self.admin), None).unwrap_or_else(|e| panic!("GET {path}: {e}"));
        assert_eq!(status, 200, "GET {path}: {body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: {e}: {body}"))
    }

    pub fn metric(&self, line_prefix: &str) -> u64 {
        let (_, text) = http_get(self.http, "/metrics").expect("metrics");
        text.lines()
            .find_map(|l| l.strip_prefix(line_prefix).and_then(|rest| rest.trim().parse().ok()))
            .unwrap_or(0)
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL: no shutdown code runs.
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM and wait for a clean exit.
    pub fn stop(mut self) {
        let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn http_get(addr: SocketAddr, path: &str) -> anyhow::Result<(u16, String)> {
    http(addr, "GET", path, None, None)
}

/// A minimal HTTP/1.1 client, enough for JSON and metrics. It stops at Content-Length rather than
/// at close, because some servers (chromium's DevTools) keep the connection open regardless.
pub fn http(addr: SocketAddr, method: &str, path: &str, token: Option<&str>, body: Option<&str>) -> anyhow::Result<(u16, String)> {
    let (status, _, body) = request(addr, method, path, token, &[("Content-Type", "application/json")], body.unwrap_or("").as_bytes())?;
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

/// Any request, bytes in and out, with extra headers; returns the status, the headers (lower
/// case) and the body.
pub fn request(addr: SocketAddr, method: &str, path: &str, token: Option<&str>, headers: &[(&str, &str)], body: &[u8]) -> anyhow::Result<(u16, String, Vec<u8>)> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    s.set_read_timeout(Some(Duration::from_secs(60)))?;
    let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    let extra: String = headers.iter().map(|(k, v)| format!("{k}: {v}\r\n")).collect();
    write!(s, "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}{extra}Content-Length: {}\r\nConnection: close\r\n\r\n", body.len())?;
    // A server may answer (413) and stop reading before the body is sent whole: read its answer.
    let _ = s.write_all(body);
    let mut raw = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    let (head_len, head) = loop {
        let n = s.read(&mut buf)?;
        if n == 0 {
            bail!("connection closed before the headers ended");
        }
        raw.extend_from_slice(&buf[..n]);
        if let Some(i) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break (i + 4, String::from_utf8_lossy(&raw[..i]).to_ascii_lowercase());
        }
    };
    let status: u16 = head.split_whitespace().nth(1).context("no status")?.parse()?;
    let length = head.lines().find_map(|l| l.strip_prefix("content-length:").and_then(|v| v.trim().parse::<usize>().ok()));
    let chunked = head.contains("transfer-encoding: chunked");
    loop {
        let body = &raw[head_len..];
        let done = match length {
            Some(n) => body.len() >= n,
            None if chunked => body.windows(5).any(|w| w == b"0\r\n\r\n"),
            None => false,
        };
        if done {
            break;
        }
        let n = s.read(&mut buf)?;
        if n == 0 {
            break;
        }
        raw.extend_from_slice(&buf[..n]);
    }
    let body = raw[head_len..].to_vec();
    let body = if chunked { dechunk(&body) } else { body };
    Ok((status, head, body))
}

fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(i) = body.windows(2).position(|w| w == b"\r\n") {
        let Ok(n) = usize::from_str_radix(String::from_utf8_lossy(&body[..i]).trim(), 16) else { break };
        let rest = &body[i + 2..];
        if n == 0 || rest.len() < n {
            break;
        }
        out.extend_from_slice(&rest[..n]);
        body = rest[n..].strip_prefix(b"\r\n").unwrap_or(&rest[n..]);
    }
    out
}

/// A client's WebSocket; a frame of several events is read one event at a time (`next_json`).
pub struct Ws {
    socket: tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
    /// Events of a frame not read yet.
    pending: std::collections::VecDeque<Value>,
}

impl From<tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>> for Ws {
    fn from(socket: tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>) -> Self {
        Ws { socket, pending: Default::default() }
    }
}

impl std::ops::Deref for Ws {
    type Target = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;
    fn deref(&self) -> &Self::Target {
        &self.socket
    }
}

impl std::ops::DerefMut for Ws {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.socket
    }
}

/// Opens `/ws` for a community with a session token and returns it with the snapshot it sent first.
pub async fn ws_connect(http: SocketAddr, community: &str, token: &str) -> (Ws, Value) {
    let mut ws = ws_open(http, community, token).await.expect("ws connect");
    let first = next_json(&mut ws).await.expect("a snapshot");
    assert_eq!(first["type"], "snapshot", "first message is the snapshot: {first}");
    (ws, first)
}

/// Opens `/ws`; the error is the refusal (e.g. 401, 404) when the server would not upgrade.
pub async fn ws_open(http: SocketAddr, community: &str, token: &str) -> Result<Ws, tokio_tungstenite::tungstenite::Error> {
    ws_open_at(http, &format!("/ws?community={community}"), token).await
}

/// Opens a WebSocket at `path` (with its query) with a session token.
pub async fn ws_open_at(http: SocketAddr, path: &str, token: &str) -> Result<Ws, tokio_tungstenite::tungstenite::Error> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut request = format!("ws://{http}{path}").into_client_request()?;
    request.headers_mut().insert("Authorization", format!("Bearer {token}").parse().unwrap());
    tokio_tungstenite::connect_async(request).await.map(|(ws, _)| Ws::from(ws))
}

/// Opens a WebSocket whose client takes at most a few KiB into its kernel buffer: the server's
/// writes stall as soon as this client stops reading (a phone gone into a tunnel).
pub async fn ws_open_small_window(http: SocketAddr, path: &str, token: &str) -> Ws {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let stream = socket.connect(http).await.unwrap();
    let mut request = format!("ws://{http}{path}").into_client_request().unwrap();
    request.headers_mut().insert("Authorization", format!("Bearer {token}").parse().unwrap());
    let (ws, _) = tokio_tungstenite::client_async(request, tokio_tungstenite::MaybeTlsStream::Plain(stream)).await.unwrap();
    Ws::from(ws)
}

/// A gate's event as it sends it.
pub fn gate_event(seq: u64, action: &str) -> String {
    format!(r#"{{"seq":{seq},"ts":{},"action":"{action}"}}"#, now_ms())
}

/// The building a live event belongs to (`null` when none).
pub fn event_building(event: &Value) -> Value {
    let body = &event["body"];
    body.get("building").or_else(|| body["alarm"].get("building")).cloned().unwrap_or(Value::Null)
}

/// The next message, where each event of a frame of events (`{"type":"events"}`) is a message
/// of its own (`{"type":"event",…}`), in order.
pub async fn next_json(ws: &mut Ws) -> Option<Value> {
    loop {
        if let Some(event) = ws.pending.pop_front() {
            return Some(event);
        }
        let message: Value = match ws.socket.next().await? {
            Ok(Message::Text(t)) => serde_json::from_str(&t).ok()?,
            Ok(_) => continue,
            Err(_) => return None,
        };
        if message["type"] != "events" {
            return Some(message);
        }
        for mut event in message["events"].as_array().cloned().unwrap_or_default() {
            event["type"] = "event".into();
            ws.pending.push_back(event);
        }
    }
}

/// Waits up to `limit` for an event matching `pred` on the socket.
pub async fn wait_event(ws: &mut Ws, limit: Duration, pred: impl Fn(&Value) -> bool) -> anyhow::Result<Value> {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let msg = tokio::time::timeout_at(deadline, next_json(ws)).await.context("no matching event in time")?;
        let Some(msg) = msg else { bail!("socket closed") };
        if msg["type"] == "event" && pred(&msg) {
            return Ok(msg);
        }
    }
}

/// A device on MQTT: publishes QoS 1 and waits for the broker's PUBACK.
pub struct Device {
    client: AsyncClient,
    acks: tokio::sync::mpsc::UnboundedReceiver<()>,
    task: tokio::task::JoinHandle<()>,
}

impl Device {
    /// Connects as `username` (`{community}/{device}`) with `password` (that device's key).
    pub async fn connect(host: &str, port: u16, id: &str, username: &str, password: &str) -> Device {
        let mut options = MqttOptions::new(id, host, port);
        options.set_keep_alive(Duration::from_secs(10)).set_max_packet_size(1024 * 1024, 1024 * 1024).set_credentials(username, password);
        let (client, mut eventloop) = AsyncClient::new(options, 1000);
        let (tx, acks) = tokio::sync::mpsc::unbounded_channel();
        let (connected_tx, connected_rx) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(async move {
            let mut connected = Some(connected_tx);
            loop {
                match eventloop.poll().await {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        if let Some(c) = connected.take() {
                            let _ = c.send(());
                        }
                    }
                    Ok(Event::Incoming(Packet::PubAck(_))) => {
                        let _ = tx.send(());
                    }
                    Ok(_) => {}
                    Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                }
            }
        });
        tokio::time::timeout(Duration::from_secs(10), connected_rx).await.expect("MQTT connect in time").expect("connack");
        Device { client, acks, task }
    }

    pub async fn publish(&mut self, topic: &str, payload: impl Into<Vec<u8>>) {
        self.client.publish(topic, QoS::AtLeastOnce, false, payload).await.expect("publish");
        tokio::time::timeout(Duration::from_secs(10), self.acks.recv()).await.expect("PUBACK in time");
    }
}

/// Whether the broker refuses a connection with these credentials.
pub async fn connect_refused(host: &str, port: u16, username: &str, password: &str) -> bool {
    connect_refused_as(host, port, &format!("probe-{username}"), username, password).await
}

/// `connect_refused` with a client id of the caller's choosing.
pub async fn connect_refused_as(host: &str, port: u16, client_id: &str, username: &str, password: &str) -> bool {
    let mut options = MqttOptions::new(client_id, host, port);
    options.set_credentials(username, password);
    let (_client, mut eventloop) = AsyncClient::new(options, 10);
    match tokio::time::timeout(Duration::from_secs(10), eventloop.poll()).await {
        Ok(Ok(Event::Incoming(Packet::ConnAck(ack)))) => ack.code != rumqttc::ConnectReturnCode::Success,
        Ok(Ok(_)) => false,
        Ok(Err(_)) => true,
        Err(_) => panic!("no answer from the broker"),
    }
}

impl Drop for Device {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The journal of a data directory a (stopped) server ran on: the log, or SQLite for a directory
/// that has one.
pub fn open_journal_at(data: &Path) -> std::sync::Arc<dyn hutong_actors::journal::Journal> {
    use hutong_actors::journal::{LogJournal, LogOptions, SqliteJournal, SqliteOptions};
    if data.join("log").exists() {
        std::sync::Arc::new(LogJournal::open(LogOptions::new(data.join("log"))).expect("open the log"))
    } else {
        std::sync::Arc::new(SqliteJournal::open(SqliteOptions::new(data.join("journal.db"))).expect("open journal.db"))
    }
}

/// Bytes of journal data in a data directory (the log's segments up to their zeros, or SQLite's files).
pub fn journal_bytes(data: &Path) -> u64 {
    let sqlite: u64 = ["journal.db", "journal.db-wal"].iter().filter_map(|f| std::fs::metadata(data.join(f)).ok()).map(|m| m.len()).sum();
    let log: u64 = std::fs::read_dir(data.join("log"))
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .filter(|e| e.path().extension().is_some_and(|x| x == "seg"))
                .filter_map(|e| std::fs::read(e.path()).ok())
                .map(|bytes| bytes.iter().rposition(|b| *b != 0).map_or(0, |p| p as u64 + 1))
                .sum()
        })
        .unwrap_or(0);
    sqlite + log
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

/// A reading as a device sends it to Hutong's endpoint (who sent it is known from the connection).
pub fn telemetry(seq: u64, value: &str) -> String {
    format!(r#"{{"seq":{seq},"ts":{},"value":"{value}"}}"#, now_ms())
}

/// A reading carrying its device's key, for an external broker that does not ask Hutong who connects.
pub fn telemetry_keyed(key: &str, seq: u64, value: &str) -> String {
    format!(r#"{{"key":"{key}","seq":{seq},"ts":{},"value":"{value}"}}"#, now_ms())
}

/// A company's SMS gateway adapter, for tests: whatever Hutong POSTs to it is kept, so a test
/// reads an owner's one-time code where the owner would — never from a log.
pub struct SmsGateway {
    pub url: String,
    texts: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl SmsGateway {
    pub fn start() -> SmsGateway {
        let gateway = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/sms", gateway.local_addr().unwrap());
        let texts = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
        let kept = texts.clone();
        std::thread::spawn(move || {
            for stream in gateway.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut request = Vec::new();
                let mut buf = [0u8; 8192];
                while let Ok(read) = stream.read(&mut buf) {
                    request.extend_from_slice(&buf[..read]);
                    let text = String::from_utf8_lossy(&request).into_owned();
                    if read == 0 || text.split_once("\r\n\r\n").is_some_and(|(_, body)| body.ends_with('}')) {
                        break;
                    }
                }
                kept.lock().unwrap().push(String::from_utf8_lossy(&request).into_owned());
                let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            }
        });
        SmsGateway { url, texts }
    }

    /// Every request the gateway got so far.
    pub fn texts(&self) -> Vec<String> {
        self.texts.lock().unwrap().clone()
    }

    /// Asks for an owner's code and signs the owner in with it; the session token.
    pub async fn sign_in_owner(&self, server: &Server, phone: &str) -> String {
        let before = self.texts().len();
        let (status, _) = http(server.http, "POST", "/api/v1/auth/owner/code", None, Some(&format!("{{\"phone\":\"{phone}\"}}"))).unwrap();
        assert_eq!(status, 200);
        let sms = wait_for("the code at the SMS gateway", Duration::from_secs(10), async || {
            self.texts().into_iter().skip(before).find(|t| t.contains(phone) && t.contains("验证码是"))
        })
        .await;
        let code: String = sms.split("验证码是 ").nth(1).unwrap().chars().take(6).collect();
        let body = serde_json::json!({"phone": phone, "code": code}).to_string();
        let (status, reply) = http(server.http, "POST", "/api/v1/auth/owner/login", None, Some(&body)).unwrap();
        assert_eq!(status, 200, "{reply}");
        serde_json::from_str::<Value>(&reply).unwrap()["token"].as_str().unwrap().to_string()
    }
}

/// The addresses printed on a sheet of checkpoint codes, read back from the PDF with poppler's
/// `pdftotext` as a person reads the sheet (each address is printed in small lines; they are
/// joined again).
pub fn printed_urls(pdf: &[u8]) -> Vec<String> {
    let mut child = Command::new("pdftotext")
        .args(["-", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("pdftotext (poppler-utils) to read the printed codes");
    child.stdin.take().expect("pdftotext's input").write_all(pdf).expect("the PDF to pdftotext");
    let out = child.wait_with_output().expect("pdftotext's text");
    let text = String::from_utf8_lossy(&out.stdout);
    let complete = |url: &str| url.rsplit_once("code=").is_some_and(|(_, code)| code.len() >= 32);
    let mut tokens = text.split_whitespace().peekable();
    let mut urls = Vec::new();
    while let Some(token) = tokens.next() {
        if !token.starts_with("http") {
            continue;
        }
        let mut url = token.to_string();
        while !complete(&url) {
            match tokens.next_if(|next| next.is_ascii() && !next.starts_with("http")) {
                Some(piece) => url.push_str(piece),
                None => break,
            }
        }
        urls.push(url);
    }
    urls
}
