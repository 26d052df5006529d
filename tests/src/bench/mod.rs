//! The benchmarks behind `cargo xtask bench ingest|billing|import|payments|abuse` (the `hutong-bench` binary):
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
//! - [`abuse`]: an anonymous flood of sign-ins and imports against the real binary: peak memory,
//!   `/healthz` latency and the wall's live updates meanwhile.

pub mod abuse;
pub mod billing;
pub mod fanout;
pub mod import;
pub mod ingest;
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
