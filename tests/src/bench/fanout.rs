//! `hutong-bench fanout`: thousands of screens on one server while devices publish.
//!
//! The server runs in a process of its own (this binary again, with `--serve`: the demo on the
//! log journal, its own MQTT endpoint), so its memory and CPU are its own. This process is the
//! load: it signs in as the demo's real roles (a sign-in holds at most 8 sockets, so 10,000
//! screens are 1,250 sign-ins), opens WebSockets spread over the demo's communities, feeds and
//! scopes — control-room walls, a butler's wall of one building, the manager's and the cashier's
//! money screens, the sister community's wall, another company's wall — many connections per
//! task, and then has devices publish over MQTT: readings from a meter in every building, a gate
//! forced open every second (an alarm), a payment at the desk every second (money).
//!
//! For each number of screens it prints, for every change, the time from its publish to its
//! arrival on the *last* screen that should show it (p50 / p99 / max), the deliveries lost (a
//! screen that should have got a change and did not; alarms and money must lose none), the
//! server's memory per open socket and its CPU.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use futures_util::stream::SelectAll;
use hutong_core::api::{BillPage, PayBody};
use hutong_core::book::PayChannel;
use rumqttc::{AsyncClient, MqttOptions, QoS};
use serde::Deserialize;
use tokio_tungstenite::tungstenite::Message;

use super::{PASSWORD, cpu_ticks, proc_field, sign_in};
use crate::{http, http_get, request};

#[derive(Debug, Clone, clap::Args)]
pub struct FanoutBench {
    /// Numbers of screens to measure, in turn (each adds to the screens already open).
    #[arg(long, value_delimiter = ',', default_value = "1000,3000,10000")]
    pub screens: Vec<usize>,
    /// Seconds devices publish at each number of screens.
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// Readings per second (spread over one meter in every building of the demo community and
    /// one of its sister community).
    #[arg(long, default_value_t = 20)]
    pub rate: u32,
    /// WebSocket connections each client task holds.
    #[arg(long, default_value_t = 100)]
    pub per_task: usize,
    #[command(flatten)]
    pub server: super::ServeArgs,
}


/// One kind of screen: the role of whoever watches it (an account the bench opens, by the
/// company's admin), which community and feed, and which building it sees — `None`: all.
#[derive(Clone, Copy)]
struct Screen {
    kind: &'static str,
    role: &'static str,
    company_admin: &'static str,
    community: &'static str,
    feed: &'static str,
    building: Option<&'static str>,
}

/// The mix of screens, repeated: walls most, then the money screens, a butler, the sister
/// community and another company (that no change here concerns: they must not be woken).
const MIX: [Screen; 20] = {
    const fn screen(kind: &'static str, role: &'static str, community: &'static str, feed: &'static str, building: Option<&'static str>) -> Screen {
        let company_admin = if matches!(community.as_bytes(), b"meiyuan") { "meiyuan-admin" } else { "admin" };
        Screen { kind, role, company_admin, community, feed, building }
    }
    const CONTROL: Screen = screen("control", "control_room", "heyuan", "/ws", None);
    const BUTLER: Screen = screen("butler", "butler", "heyuan", "/ws", Some("heyuan-b01"));
    const MANAGER: Screen = screen("manager", "manager", "heyuan", "/ws/money", None);
    const CASHIER: Screen = screen("cashier", "cashier", "heyuan", "/ws/money", None);
    const SISTER: Screen = screen("sister", "control_room", "lianyuan", "/ws", None);
    const SISTER_MONEY: Screen = screen("sister-money", "manager", "lianyuan", "/ws/money", None);
    const OTHER: Screen = screen("other", "control_room", "meiyuan", "/ws", None);
    [
        CONTROL, CONTROL, CONTROL, CONTROL, CONTROL, CONTROL, CONTROL, CONTROL, BUTLER, BUTLER, BUTLER, BUTLER, MANAGER, MANAGER, CASHIER, CASHIER, SISTER,
        SISTER, SISTER_MONEY, OTHER,
    ]
};

/// Sockets one sign-in may hold (the server's limit), and sign-ins per account the bench uses
/// (a person's wall and a few tabs; the server keeps at most 20).
const PER_SESSION: usize = 8;
const SESSIONS_PER_ACCOUNT: usize = 4;

#[derive(Deserialize)]
struct Incoming {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    events: Vec<Event>,
}

#[derive(Deserialize)]
struct Event {
    body: Body,
}

#[derive(Deserialize)]
struct Body {
    kind: String,
    #[serde(default)]
    device: Option<String>,
    #[serde(default)]
    event: Option<DeviceEvent>,
}

#[derive(Deserialize)]
struct DeviceEvent {
    #[serde(default)]
    signal: Option<SignalSeq>,
}

#[derive(Deserialize)]
struct SignalSeq {
    seq: u64,
}

/// A change the bench made: a device's event, by device and its seq (one counter for every
/// device, so a seq names one change even where device ids repeat across communities).
type Change = (String, u64);

/// What one client task saw during a phase.
#[derive(Default)]
struct Seen {
    /// Per change: screens that got it, and when the last of them did.
    changes: HashMap<Change, (u32, Instant)>,
    /// Per screen (index in the roster): alarm records and money changes it got.
    alarms: HashMap<usize, u64>,
    money: HashMap<usize, u64>,
    resyncs: u64,
    closed: u64,
}

impl Seen {
    fn merge(&mut self, other: Seen) {
        for (change, (got, last)) in other.changes {
            let entry = self.changes.entry(change).or_insert((0, last));
            entry.0 += got;
            entry.1 = entry.1.max(last);
        }
        self.alarms.extend(other.alarms);
        self.money.extend(other.money);
        self.resyncs += other.resyncs;
        self.closed += other.closed;
    }
}

struct Load {
    /// What each client task saw (each locks only its own: the load must not contend with itself).
    tallies: Mutex<Vec<Arc<Mutex<Seen>>>>,
    /// Counting only while a phase runs.
    recording: AtomicBool,
}

impl Load {
    fn take(&self) -> Seen {
        let mut all = Seen::default();
        for tally in self.tallies.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            all.merge(std::mem::take(&mut *tally.lock().unwrap_or_else(|e| e.into_inner())));
        }
        all
    }
}

pub async fn fanout(options: FanoutBench) -> anyhow::Result<()> {
    if let Some(served) = options.server.run().await {
        return served;
    }
    let server = super::ServerProcess::spawn("fanout")?;
    run(&options, server.addr, server.mqtt, server.pid).await
}

async fn run(options: &FanoutBench, addr: SocketAddr, mqtt_port: u16, pid: u32) -> anyhow::Result<()> {
    let started = Instant::now();
    crate::wait_for("the server", Duration::from_secs(120), async || matches!(http_get(addr, "/healthz"), Ok((200, _))).then_some(())).await;
    println!("server ready in {:.1?} (pid {pid})", started.elapsed());

    let load = Arc::new(Load { tallies: Mutex::new(Vec::new()), recording: AtomicBool::new(false) });
    // Every screen opened so far, with the sign-in it uses; accounts by kind of screen.
    let mut roster: Vec<Screen> = Vec::new();
    let mut session_of: Vec<usize> = Vec::new();
    let mut sessions: Vec<String> = Vec::new();
    let mut opened_by_kind: HashMap<&'static str, usize> = HashMap::new();
    let mut admins: HashMap<&'static str, String> = HashMap::new();
    // Each kind's sign-in being filled.
    let mut current: HashMap<&'static str, usize> = HashMap::new();
    let mut tasks = Vec::new();
    let publishers = Publishers::start(addr, mqtt_port).await?;
    // The server's publish → write histogram as last read, so each step reports its own.
    let mut histogram: Vec<u64> = Vec::new();
    println!("| screens | sockets open | changes | change → last screen p50 ms | p99 ms | max ms | readings & gate events lost | alarm records lost | money changes lost | resyncs | server RSS MiB | RSS per socket KiB | server CPU % | load CPU % |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for &target in &options.screens {
        // Sign in and open the screens this step adds.
        let first = roster.len();
        let signing_in = Instant::now();
        while roster.len() < target {
            let screen = MIX[roster.len() % MIX.len()];
            let nth = opened_by_kind.entry(screen.kind).or_default();
            let (account, seat) = (*nth / (PER_SESSION * SESSIONS_PER_ACCOUNT), *nth % (PER_SESSION * SESSIONS_PER_ACCOUNT));
            *nth += 1;
            let account = format!("fan-{}-{account:04}", screen.kind);
            if seat == 0 {
                if !admins.contains_key(screen.company_admin) {
                    admins.insert(screen.company_admin, sign_in(addr, screen.company_admin).await?);
                }
                open_account(addr, &admins[screen.company_admin], &account, &screen).await?;
            }
            if seat % PER_SESSION == 0 {
                sessions.push(sign_in(addr, &account).await?);
                current.insert(screen.kind, sessions.len() - 1);
            }
            roster.push(screen);
            session_of.push(current[screen.kind]);
        }
        let signed_in = signing_in.elapsed();
        let rss_before = proc_field(pid, "status", "VmRSS:");
        let mut opened = 0;
        for chunk_start in (first..target).step_by(options.per_task) {
            let chunk: Vec<(usize, Screen, String)> = (chunk_start..(chunk_start + options.per_task).min(target))
                .map(|i| {
                    (i, roster[i], sessions[session_of[i]].clone())
                })
                .collect();
            let (sockets, ready) = connect_all(addr, chunk).await?;
            opened += ready;
            tasks.push(tokio::spawn(read_all(sockets, load.clone())));
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
        let rss = proc_field(pid, "status", "VmRSS:");

        // Publish for a while, counting.
        load.take();
        load.recording.store(true, Ordering::Release);
        let (cpu0, load0, wall0) = (cpu_ticks(pid), cpu_ticks(std::process::id()), Instant::now());
        eprintln!("{target} screens open; devices publish for {} s", options.seconds);
        let sent = publishers.run(options.rate, Duration::from_secs(options.seconds)).await?;
        let wall = wall0.elapsed();
        let (cpu1, load1) = (cpu_ticks(pid), cpu_ticks(std::process::id()));
        // Let the last changes land.
        tokio::time::sleep(Duration::from_secs(2)).await;
        load.recording.store(false, Ordering::Release);
        let seen = load.take();

        let mut latencies: Vec<u64> = Vec::new();
        let mut lost_events = 0u64;
        for (change, (published, community, building)) in &sent.changes {
            let expected = roster.iter().filter(|s| s.feed == "/ws" && s.community == *community && (s.building.is_none() || s.building == Some(building.as_str()))).count() as u64;
            match seen.changes.get(change) {
                Some((got, last)) => {
                    lost_events += expected.saturating_sub(u64::from(*got));
                    latencies.push(u64::try_from(last.saturating_duration_since(*published).as_micros()).unwrap_or(u64::MAX));
                }
                None => lost_events += expected,
            }
        }
        latencies.sort_unstable();
        let lost_in = |counts: &HashMap<usize, u64>, feed: &str| -> u64 {
            // Screens of one kind get the same alarms (or money): each counts against the most any got.
            let mut lost = 0;
            for kind in MIX.iter().filter(|s| s.feed == feed) {
                let same: Vec<u64> = (0..roster.len()).filter(|i| same_screen(&roster[*i], kind)).map(|i| counts.get(&i).copied().unwrap_or(0)).collect();
                let most = same.iter().copied().max().unwrap_or(0);
                lost += same.iter().map(|c| most - c).sum::<u64>();
            }
            lost / MIX.iter().filter(|s| s.feed == feed).count().max(1) as u64
        };
        let lost_alarms = lost_in(&seen.alarms, "/ws");
        let lost_desk = lost_in(&seen.money, "/ws/money") + lost_in(&seen.money, "/ws");
        #[allow(clippy::float_arithmetic)]
        let (server_cpu, load_cpu) = {
            let secs = wall.as_secs_f64();
            ((cpu1 - cpu0) as f64 / secs, (load1 - load0) as f64 / secs)
        };
        println!(
            "| {target} | {sockets_open} | {changes} | {p50:.1} | {p99:.1} | {max:.1} | {lost_events} | {lost_alarms} | {lost_desk} | {resyncs} | {rss_mib} | {per_socket:.1} | {server_cpu:.0} | {load_cpu:.0} |",
            sockets_open = first + opened,
            changes = sent.changes.len(),
            p50 = super::ingest::percentile(&latencies, 0.5),
            p99 = super::ingest::percentile(&latencies, 0.99),
            max = latencies.last().copied().unwrap_or(0) as f64 / 1000.0,
            resyncs = seen.resyncs,
            rss_mib = rss / 1024,
            per_socket = rss.saturating_sub(rss_before) as f64 / (target - first).max(1) as f64,
        );
        if seen.closed > 0 {
            println!("  ({} sockets closed during the phase)", seen.closed);
        }
        println!("  alarms raised {}, payments taken {}; accounts opened and signed in for this step in {signed_in:.1?}", sent.alarms, sent.payments);
        println!("  the server's own publish → socket write in this step: {}", server_latency(addr, &mut histogram));
    }
    println!("machine: {} cores; the server and this load share them", std::thread::available_parallelism().map_or(0, |n| n.get()));
    for t in tasks {
        t.abort();
    }
    Ok(())
}

/// The share of socket writes within each bound of the server's publish → write histogram,
/// since it was last read (`before`).
fn server_latency(addr: SocketAddr, before: &mut Vec<u64>) -> String {
    let Ok((_, text)) = http_get(addr, "/metrics") else { return "?".into() };
    let now: Vec<(&str, u64)> = text
        .lines()
        .filter_map(|l| l.strip_prefix("hutong_ws_publish_to_write_seconds_bucket{le=\""))
        .filter_map(|l| l.split_once("\"} ").and_then(|(le, n)| Some((le, n.trim().parse().ok()?))))
        .collect();
    let buckets: Vec<(&str, u64)> = now.iter().enumerate().map(|(i, (le, n))| (*le, n - before.get(i).copied().unwrap_or(0))).collect();
    *before = now.iter().map(|(_, n)| *n).collect();
    let writes = buckets.last().map_or(0, |b| b.1).max(1);
    // Shares in tenths of a percent, rounded down.
    let shares: Vec<String> = buckets
        .iter()
        .filter(|(le, _)| ["0.005", "0.01", "0.025", "0.05", "0.1"].contains(le))
        .map(|(le, n)| {
            let permille = n * 1000 / writes;
            format!("≤{le} s {}.{}%", permille / 10, permille % 10)
        })
        .collect();
    shares.join(", ")
}

fn same_screen(a: &Screen, b: &Screen) -> bool {
    a.kind == b.kind
}

/// Opens a staff account for a screen's watcher, as their company's admin would.
async fn open_account(addr: SocketAddr, admin: &str, account: &str, screen: &Screen) -> anyhow::Result<()> {
    let n: u64 = account.bytes().fold(0, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
    let body = serde_json::json!({
        "account": account,
        "name": account,
        "phone": format!("137{:08}", n % 100_000_000),
        "password": PASSWORD,
        "roles": [screen.role],
        "communities": [screen.community],
        "buildings": screen.building.into_iter().collect::<Vec<_>>(),
    })
    .to_string();
    let admin = admin.to_string();
    let (status, reply) = tokio::task::spawn_blocking(move || http(addr, "POST", "/api/v1/staff", Some(&admin), Some(&body))).await??;
    anyhow::ensure!((200..300).contains(&status), "opening {account} refused: {status} {reply}");
    Ok(())
}


type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens a task's screens, each read up to its snapshot; returns them tagged by roster index.
async fn connect_all(addr: SocketAddr, screens: Vec<(usize, Screen, String)>) -> anyhow::Result<(Vec<(usize, Screen, Socket)>, usize)> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut out = Vec::with_capacity(screens.len());
    for (index, screen, token) in screens {
        let mut request = format!("ws://{addr}{}?community={}", screen.feed, screen.community).into_client_request()?;
        request.headers_mut().insert("Authorization", format!("Bearer {token}").parse()?);
        let (mut socket, _) = tokio_tungstenite::connect_async(request).await?;
        // The snapshot first.
        let first = tokio::time::timeout(Duration::from_secs(30), socket.next()).await?;
        anyhow::ensure!(matches!(first, Some(Ok(Message::Text(_)))), "no snapshot for a {} screen on {}{}", screen.kind, screen.feed, screen.community);
        out.push((index, screen, socket));
    }
    let n = out.len();
    Ok((out, n))
}

/// What one frame carries that the bench counts.
#[derive(Default)]
struct Decoded {
    resync: bool,
    changes: Vec<Change>,
    alarms: u64,
    money: u64,
}

fn decode(text: &str) -> Decoded {
    let mut out = Decoded::default();
    let Ok(incoming) = serde_json::from_str::<Incoming>(text) else { return out };
    match incoming.kind.as_str() {
        "resync" => out.resync = true,
        "events" => {
            for event in incoming.events {
                match event.body.kind.as_str() {
                    "device" => {
                        if let (Some(device), Some(seq)) = (event.body.device, event.body.event.and_then(|e| e.signal).map(|s| s.seq)) {
                            out.changes.push((device, seq));
                        }
                    }
                    "alarm" => out.alarms += 1,
                    "money" | "money_detail" => out.money += 1,
                    _ => {}
                }
            }
        }
        _ => {}
    }
    out
}

/// Reads every socket of a task, tallying what matters. Every screen of a topic is sent the same
/// bytes, so each distinct frame is decoded once per task and each screen's arrival tallied
/// from that: the load's own JSON parsing (one process standing in for thousands of phones and
/// walls) does not queue the last screens' reads behind it.
async fn read_all(sockets: Vec<(usize, Screen, Socket)>, load: Arc<Load>) {
    use std::hash::{Hash, Hasher};
    let tally = Arc::new(Mutex::new(Seen::default()));
    load.tallies.lock().unwrap_or_else(|e| e.into_inner()).push(tally.clone());
    let mut all: SelectAll<_> = SelectAll::new();
    for (index, _, socket) in sockets {
        all.push(socket.map(move |m| (index, m)));
    }
    let mut decoded: HashMap<u64, Arc<Decoded>> = HashMap::new();
    while let Some((index, message)) = all.next().await {
        let arrived = Instant::now();
        let text = match message {
            Ok(Message::Text(text)) => text,
            Ok(Message::Close(_)) | Err(_) => {
                tally.lock().unwrap_or_else(|e| e.into_inner()).closed += 1;
                continue;
            }
            Ok(_) => continue,
        };
        if !load.recording.load(Ordering::Acquire) {
            continue;
        }
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        text.as_bytes().hash(&mut hasher);
        let key = hasher.finish();
        if decoded.len() > 4_096 {
            decoded.clear();
        }
        let frame = decoded.entry(key).or_insert_with(|| Arc::new(decode(&text))).clone();
        let mut seen = tally.lock().unwrap_or_else(|e| e.into_inner());
        seen.resyncs += u64::from(frame.resync);
        for change in &frame.changes {
            let entry = seen.changes.entry(change.clone()).or_insert((0, arrived));
            entry.0 += 1;
            entry.1 = entry.1.max(arrived);
        }
        if frame.alarms > 0 {
            *seen.alarms.entry(index).or_default() += frame.alarms;
        }
        if frame.money > 0 {
            *seen.money.entry(index).or_default() += frame.money;
        }
    }
}

/// The devices and the desk that make the changes.
struct Publishers {
    meters: Vec<Meter>,
    gate: AsyncClient,
    addr: SocketAddr,
    cashier: String,
    bills: Mutex<Vec<(String, String)>>,
    seq: AtomicU64,
}

struct Meter {
    client: AsyncClient,
    community: &'static str,
    device: String,
    building: String,
}

/// What a phase published: each device change with when, in which community and building.
struct Sent {
    changes: HashMap<Change, (Instant, &'static str, String)>,
    alarms: u64,
    payments: u64,
}

async fn device_client(addr: SocketAddr, mqtt: u16, admin: &str, community: &str, device: &str) -> anyhow::Result<AsyncClient> {
    let path = format!("/api/v1/communities/{community}/devices/{device}/key");
    let (status, reply) = http(addr, "GET", &path, Some(admin), None)?;
    anyhow::ensure!(status == 200, "no key for {device}: {reply}");
    let key: serde_json::Value = serde_json::from_str(&reply)?;
    let mut options = MqttOptions::new(format!("fanout-{community}-{device}"), "127.0.0.1", mqtt);
    options.set_keep_alive(Duration::from_secs(30)).set_credentials(format!("{community}/{device}"), key["key"].as_str().unwrap_or_default());
    let (client, mut eventloop) = AsyncClient::new(options, 1000);
    tokio::spawn(async move { while eventloop.poll().await.is_ok() {} });
    Ok(client)
}

impl Publishers {
    async fn start(addr: SocketAddr, mqtt: u16) -> anyhow::Result<Publishers> {
        let admin = sign_in(addr, "admin").await?;
        let mut meters = Vec::new();
        // One water meter in each of the demo community's 11 buildings, and two of its sister's.
        for (community, buildings) in [("heyuan", 11), ("lianyuan", 2)] {
            for b in 1..=buildings {
                let device = format!("wm-{b}-1-101");
                let client = device_client(addr, mqtt, &admin, community, &device).await?;
                meters.push(Meter { client, community, device, building: format!("{community}-b{b:02}") });
            }
        }
        let gate = device_client(addr, mqtt, &admin, "heyuan", "gate-1").await?;
        let cashier = sign_in(addr, "cashier").await?;
        let (status, body) = http(addr, "GET", "/api/v1/communities/heyuan/bills?state=pending&page_size=500", Some(&cashier), None)?;
        anyhow::ensure!(status == 200, "bills: {body}");
        let page: BillPage = serde_json::from_str(&body)?;
        let bills = page.rows.into_iter().map(|b| (b.row.address, b.row.no)).collect();
        Ok(Publishers { meters, gate, addr, cashier, bills: Mutex::new(bills), seq: AtomicU64::new(0) })
    }

    /// Readings at `rate` per second over the meters, a gate forced open and a payment every second.
    async fn run(&self, rate: u32, length: Duration) -> anyhow::Result<Sent> {
        let mut sent = Sent { changes: HashMap::new(), alarms: 0, payments: 0 };
        let start = Instant::now();
        let mut published = 0u64;
        let mut next_second = Duration::ZERO;
        while start.elapsed() < length {
            let due = (start.elapsed().as_micros() as u64 * u64::from(rate)) / 1_000_000;
            while published < due {
                let seq = self.seq.fetch_add(1, Ordering::Relaxed) + 1;
                let meter = &self.meters[published as usize % self.meters.len()];
                // Each meter's register climbs by a steady step, so no spike rule fires.
                let value = format!("{}.{:03}", 1000 + seq / 1000, seq % 1000);
                let payload = format!(r#"{{"seq":{seq},"ts":{},"value":"{value}"}}"#, crate::now_ms());
                let topic = format!("hutong/{}/devices/{}/telemetry", meter.community, meter.device);
                sent.changes.insert((meter.device.clone(), seq), (Instant::now(), meter.community, meter.building.clone()));
                meter.client.publish(topic, QoS::AtLeastOnce, false, payload).await?;
                published += 1;
            }
            if start.elapsed() >= next_second {
                next_second += Duration::from_secs(1);
                let seq = self.seq.fetch_add(1, Ordering::Relaxed) + 1;
                let payload = format!(r#"{{"seq":{seq},"ts":{},"action":"forced_open"}}"#, crate::now_ms());
                sent.changes.insert(("gate-1".to_string(), seq), (Instant::now(), "heyuan", "heyuan-b01".into()));
                self.gate.publish("hutong/heyuan/devices/gate-1/event", QoS::AtLeastOnce, false, payload).await?;
                sent.alarms += 1;
                sent.payments += u64::from(self.pay().await?);
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        Ok(sent)
    }

    /// Takes one pending bill's payment at the desk (false when none is left).
    async fn pay(&self) -> anyhow::Result<bool> {
        let Some((house, bill)) = self.bills.lock().unwrap_or_else(|e| e.into_inner()).pop() else { return Ok(false) };
        let body = serde_json::to_vec(&PayBody { key: None, house, bills: vec![bill.clone()], amount: None, channel: PayChannel::Cash, payer: "fanout".into(), reference: None })?;
        let (addr, token) = (self.addr, self.cashier.clone());
        let key = format!("fanout-{bill}");
        let (status, _, reply) = tokio::task::spawn_blocking(move || request(addr, "POST", "/api/v1/communities/heyuan/payments", Some(&token), &[("Content-Type", "application/json"), ("Idempotency-Key", &key)], &body)).await??;
        anyhow::ensure!(status == 200, "payment refused: {}", String::from_utf8_lossy(&reply));
        Ok(true)
    }
}
