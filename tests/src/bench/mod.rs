//! The benchmarks behind `cargo xtask bench ingest|billing|import|payments|abuse|recovery|fanout|patrol` (the `hutong-bench` binary):
//! they print their figures (docs/benchmarks.md keeps them). Kept out of the server binary, which
//! neither needs their code nor their dependencies.
//!
//! # Layout
//! - [`ingest`]: MQTT publish → journal → WebSocket, end to end.
//! - [`billing`]: a bill run over 100k and 1M houses × 3 items through the building actors,
//!   durable, beside SQLite's own `INSERT … SELECT ROUND(area*price,2)`.
//! - [`import`]: reading and checking a 100k-row CSV and XLSX, and issuing their bills.
//! - [`payments`]: a cashier's payments one after another, HTTP to durable book and audit.
//! - [`recovery`]: a community of 100k devices and 10k houses restarted on the log journal.
//! - [`fanout`]: 1,000 to 10,000 screens on one server while devices publish: change → last
//!   screen, deliveries lost, memory per socket.
//! - [`patrol`]: 10,000 patrol routes whose windows close in the same second: close → the miss
//!   alarm on the wall, memory per route.
//! - [`pay`]: owners paying online through the sandbox provider: payments and verified
//!   notifications per second, provider → the manager's screen.
//! - [`alarms`]: an alarm storm — every meter going wrong at once, and one meter ten thousand
//!   times: durable, folded into open alarms, and the alarm lines the screens were sent.
//! - [`abuse`]: an anonymous flood of sign-ins and imports against the real binary: peak memory,
//!   `/healthz` latency and the wall's live updates meanwhile.

pub mod abuse;
pub mod alarms;
pub mod billing;
pub mod fanout;
pub mod import;
pub mod ingest;
pub mod patrol;
pub mod pay;
pub mod workorders;
pub mod payments;
pub mod recovery;

pub use billing::BillingBench;
pub use import::ImportBench;
pub use ingest::{DemoServer, IngestBench, demo_server, ingest};
pub use payments::{PaymentsBench, payments};

use std::sync::Arc;

use hutong_actors::building::NoNotices;
use hutong_actors::community::{self, CommunityArgs, CommunityMsg};
use hutong_actors::journal::{Journal, SqliteJournal, SqliteOptions};
use hutong_actors::{Clock, Directory, LiveHub, Metrics};
use hutong_core::community::{Building, Community, Floor, House, Unit};
use hutong_core::{BuildingId, CommunityId, HouseId};
use ractor::ActorRef;
use rust_decimal::Decimal;

/// A community of `houses` houses in buildings of `per_building` (2 units, 20 rooms a floor).
pub fn synthetic(houses: u32, per_building: u32) -> Community {
    let id = CommunityId::new("bench");
    let per_floor = 20;
    let floors = (per_building / 2).div_ceil(per_floor) as i32;
    let mut left = houses;
    let mut buildings = Vec::new();
    let mut b = 0;
    while left > 0 {
        b += 1;
        let units = (1..=2)
            .map(|u| Unit {
                no: u,
                floors: (1..=floors)
                    .map(|f| Floor {
                        no: f,
                        houses: (1..=per_floor)
                            .map_while(|r| {
                                left = left.checked_sub(1)?;
                                let room = format!("{f}{:02}", (u - 1) * per_floor + r);
                                let area = Decimal::new(5000 + i64::from((r * 37 + f as u32 * 11 + b) % 9000), 2);
                                Some(House { id: HouseId::new(format!("bench-{b}-{u}-{room}")), room, area })
                            })
                            .collect(),
                    })
                    .collect(),
            })
            .collect();
        buildings.push(Building { id: BuildingId::new(format!("bench-b{b:04}")), no: b, name: format!("{b}号楼"), units });
    }
    Community { id, name: "压测小区".into(), time_zone: "Asia/Shanghai".into(), buildings, meter_rules: Default::default() }
}

/// The community's actors on a fresh SQLite journal under `dir`.
pub async fn start(community: Community, dir: &std::path::Path) -> anyhow::Result<(Arc<Directory>, Arc<LiveHub>, ActorRef<CommunityMsg>)> {
    let journal: Arc<dyn Journal> = Arc::new(SqliteJournal::open(SqliteOptions::new(&dir.join("journal.db")))?);
    let directory = Arc::new(Directory::new());
    let hub = LiveHub::new();
    let actor = community::start(CommunityArgs {
        community: Arc::new(community),
        devices: Vec::new(),
        journal,
        hub: hub.clone(),
        directory: directory.clone(),
        metrics: Metrics::new(),
        clock: Clock::new(),
        notices: Arc::new(NoNotices),
        staffing: Arc::new(hutong_actors::work_order::NoStaff),
    })
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok((directory, hub, actor))
}

/// The process's peak resident memory so far (VmHWM), in MiB, where Linux reports it.
pub fn peak_rss_mib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kib: u64 = status.lines().find_map(|l| l.strip_prefix("VmHWM:"))?.trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kib / 1024)
}

/// A fresh scratch directory, removed on drop.
pub struct Scratch(pub std::path::PathBuf);

impl Scratch {
    pub fn new(name: &str) -> anyhow::Result<Scratch> {
        let dir = std::env::temp_dir().join(format!("hutong-bench-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        Ok(Scratch(dir))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The demo's password for every account in the benchmarks that run the server in a process of
/// its own.
pub(crate) const PASSWORD: &str = "bench-password";

/// A field of `/proc/{pid}/{file}` (e.g. `VmRSS:` of `status`, in kB).
pub(crate) fn proc_field(pid: u32, file: &str, field: &str) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/{file}")).unwrap_or_default();
    text.lines().find_map(|l| l.strip_prefix(field)).and_then(|v| v.split_whitespace().next()?.parse().ok()).unwrap_or(0)
}

/// CPU seconds (user + system) a process has used, in clock ticks of 1/100 s.
pub(crate) fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    fields.get(11).and_then(|u| u.parse::<u64>().ok()).unwrap_or(0) + fields.get(12).and_then(|s| s.parse::<u64>().ok()).unwrap_or(0)
}

/// Signs in with the benchmarks' password: the bearer token.
pub(crate) async fn sign_in(addr: std::net::SocketAddr, account: &str) -> anyhow::Result<String> {
    let body = serde_json::json!({"account": account, "password": PASSWORD}).to_string();
    let (status, reply) = tokio::task::spawn_blocking(move || crate::http(addr, "POST", "/api/v1/auth/login", None, Some(&body))).await??;
    anyhow::ensure!(status == 200, "sign-in as {account} refused: {status} {reply}");
    let value: serde_json::Value = serde_json::from_str(&reply)?;
    value["token"].as_str().map(str::to_string).ok_or_else(|| anyhow::anyhow!("no token"))
}

/// A request the set-up needs to succeed.
pub(crate) async fn send(addr: std::net::SocketAddr, token: &str, method: &'static str, path: &str, body: String) -> anyhow::Result<()> {
    let (token, path) = (token.to_string(), path.to_string());
    let (status, reply) = tokio::task::spawn_blocking(move || crate::http(addr, method, &path, Some(&token), Some(&body))).await??;
    anyhow::ensure!((200..300).contains(&status), "{method} refused: {status} {reply}");
    Ok(())
}

pub(crate) type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A screen's WebSocket at `path` (with its query), signed in with `token`.
pub(crate) async fn open_socket(addr: std::net::SocketAddr, path: &str, token: &str) -> anyhow::Result<Socket> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut request = format!("ws://{addr}{path}").into_client_request()?;
    request.headers_mut().insert("Authorization", format!("Bearer {token}").parse()?);
    Ok(tokio_tungstenite::connect_async(request).await?.0)
}

/// The demo server in a process of its own — this binary again, `<bench> --serve <data>` — so
/// its memory and CPU are its own; killed on drop.
pub(crate) struct ServerProcess {
    child: std::process::Child,
    pub addr: std::net::SocketAddr,
    pub mqtt: u16,
    pub pid: u32,
    bench: String,
    data: tempfile::TempDir,
}

impl ServerProcess {
    pub(crate) fn spawn(bench: &str) -> anyhow::Result<ServerProcess> {
        let data = tempfile::tempdir()?;
        let (http, mqtt) = (crate::free_port(), crate::free_port());
        let child = Self::start(bench, data.path(), http, mqtt)?;
        let pid = child.id();
        Ok(ServerProcess { child, addr: format!("127.0.0.1:{http}").parse()?, mqtt, pid, bench: bench.to_string(), data })
    }

    fn start(bench: &str, data: &std::path::Path, http: u16, mqtt: u16) -> anyhow::Result<std::process::Child> {
        Ok(std::process::Command::new(std::env::current_exe()?)
            .args([bench, "--serve"])
            .arg(data.join("data"))
            .args(["--http", &http.to_string(), "--mqtt", &mqtt.to_string()])
            .stdout(std::process::Stdio::null())
            .spawn()?)
    }

    /// `kill -9`, then the server again on the same data and ports (a restart's cost).
    pub(crate) fn restart(&mut self) -> anyhow::Result<()> {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.child = Self::start(&self.bench, self.data.path(), self.addr.port(), self.mqtt)?;
        self.pid = self.child.id();
        Ok(())
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The hidden arguments a [`ServerProcess`] is started with: its data directory and ports.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ServeArgs {
    /// Internal: run the server (the demo) with its data here, and nothing else.
    #[arg(long, hide = true)]
    pub serve: Option<std::path::PathBuf>,
    #[arg(long, hide = true)]
    pub http: Option<u16>,
    #[arg(long, hide = true)]
    pub mqtt: Option<u16>,
}

impl ServeArgs {
    /// When this process is the server: runs it until killed (`Some`); else `None`.
    pub(crate) async fn run(&self) -> Option<anyhow::Result<()>> {
        let data = self.serve.clone()?;
        Some(serve(data, self.http.unwrap_or(0), self.mqtt.unwrap_or(0)).await)
    }
}

/// The server side of a [`ServerProcess`]: the demo, until killed.
pub(crate) async fn serve(data: std::path::PathBuf, http: u16, mqtt: u16) -> anyhow::Result<()> {
    let config = ingest::bench_config(data, format!("127.0.0.1:{http}").parse()?, format!("127.0.0.1:{mqtt}").parse()?);
    let demo = hutong_web::server::DemoOptions { simulate_rate: 0, password: Some(PASSWORD.into()), print_sign_ins: false };
    hutong_web::server::run(config, Some(demo), tokio_util::sync::CancellationToken::new(), |_| {}).await
}
