//! `hutong-bench recovery`: a community of 100k devices and 10k houses on the log journal — how
//! long its actors take to be ready after a restart, and what they hold in memory. Every device
//! has journaled one reading in its first life, so the second life replays something.

use std::sync::Arc;
use std::time::{Duration, Instant};

use hutong_actors::building::NoNotices;
use hutong_actors::community::{self, CommunityArgs};
use hutong_actors::device::DeviceMsg;
use hutong_actors::journal::{Journal, LogJournal, LogOptions};
use hutong_actors::{Clock, Directory, LiveHub, Metrics};
use hutong_core::device::{DeviceCommand, DeviceKind, DeviceSpec, Signal};
use hutong_core::ids::DeviceId;
use rust_decimal::Decimal;

use super::{Scratch, synthetic};

#[derive(Debug, Clone, clap::Args)]
pub struct RecoveryBench {
    #[arg(long, default_value_t = 100_000)]
    pub devices: usize,
    #[arg(long, default_value_t = 10_000)]
    pub houses: u32,
}

fn rss_mib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status.lines().find_map(|l| l.strip_prefix("VmRSS:")).and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok()).unwrap_or(0) / 1024
}

pub async fn recovery(options: RecoveryBench) -> anyhow::Result<()> {
    let scratch = Scratch::new("recovery")?;
    let dir = scratch.0.join("log");
    let community = Arc::new(synthetic(options.houses, 200));
    let houses: Vec<_> = community.houses().map(|(b, _, _, h)| (b.id.clone(), h.id.clone())).collect();
    let specs: Vec<DeviceSpec> = (0..options.devices)
        .map(|i| {
            let (building, house) = &houses[i % houses.len()];
            DeviceSpec {
                id: DeviceId::new(format!("m{i:06}")),
                kind: if i % 2 == 0 { DeviceKind::WaterMeter } else { DeviceKind::ElectricityMeter },
                community: community.id.clone(),
                building: Some(building.clone()),
                house: Some(house.clone()),
                heartbeat_secs: 3600,
            }
        })
        .collect();
    let rss_before = rss_mib();
    let start = async |journal: Arc<dyn Journal>, directory: Arc<Directory>| {
        community::start(CommunityArgs {
            community: community.clone(),
            devices: specs.clone(),
            journal,
            hub: LiveHub::new(),
            directory,
            metrics: Metrics::new(),
            clock: Clock::new(),
            notices: Arc::new(NoNotices),
        })
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))
    };

    // First life: start on an empty log, one durable reading per device, stop.
    let t = Instant::now();
    let journal: Arc<dyn Journal> = Arc::new(LogJournal::open(LogOptions::new(&dir))?);
    let directory = Arc::new(Directory::new());
    let actor = start(journal.clone(), directory.clone()).await?;
    let first_start = t.elapsed();
    let rss_first = rss_mib();
    let t = Instant::now();
    let now = chrono::Utc::now();
    let mut acks = Vec::with_capacity(specs.len());
    for spec in &specs {
        let device = directory.device(community.id.as_str(), spec.id.as_str()).ok_or_else(|| anyhow::anyhow!("no actor for {}", spec.id))?;
        let (tx, rx) = tokio::sync::oneshot::channel();
        let signal = Signal { seq: 1, boot: 0, at: now, seen: now };
        device.cast(DeviceMsg::Signal(DeviceCommand::RecordReading { signal, value: Decimal::new(12345, 3) }, Some(tx)))?;
        acks.push(rx);
    }
    for rx in acks {
        rx.await?;
    }
    let readings = t.elapsed();
    actor.stop_and_wait(None, Some(Duration::from_secs(60))).await?;
    drop(directory);
    // The next open waits for this journal's writer to let go of the log's lock.
    drop(journal);

    // Second life: open the log (checkpoint + tail scan) and recover every actor.
    let rss_between = rss_mib();
    let t = Instant::now();
    let journal: Arc<dyn Journal> = Arc::new(LogJournal::open(LogOptions::new(&dir))?);
    let opened = t.elapsed();
    let directory = Arc::new(Directory::new());
    let actor = start(journal.clone(), directory.clone()).await?;
    let ready = t.elapsed();
    // The first reading after the restart, acknowledged durable.
    let device = directory.device(community.id.as_str(), specs[0].id.as_str()).ok_or_else(|| anyhow::anyhow!("no actor"))?;
    let (tx, rx) = tokio::sync::oneshot::channel();
    let now = chrono::Utc::now();
    device.cast(DeviceMsg::Signal(DeviceCommand::RecordReading { signal: Signal { seq: 2, boot: 0, at: now, seen: now }, value: Decimal::new(12346, 3) }, Some(tx)))?;
    rx.await?;
    let first_accepted = t.elapsed();
    let rss_after = rss_mib();
    #[allow(clippy::float_arithmetic)]
    let per_device_kib = (rss_after.saturating_sub(rss_between) as f64 * 1024.0) / options.devices as f64;

    println!("| figure | value |");
    println!("|---|---|");
    println!("| devices / houses / buildings | {} / {} / {} |", options.devices, houses.len(), community.buildings.len());
    println!("| first start on an empty log | {first_start:.2?} |");
    println!("| one durable reading for every device | {readings:.2?} |");
    println!("| restart: log opened (checkpoint + tail scan) | {opened:.2?} |");
    println!("| restart: every actor recovered and ready | {ready:.2?} |");
    println!("| restart: first reading accepted durable | {first_accepted:.2?} |");
    println!("| RSS: empty process / first life started / after its stop / second life ready | {rss_before} / {rss_first} / {rss_between} / {rss_after} MiB |");
    println!("| RSS per device actor (after − between lives) | {per_device_kib:.1} KiB |");
    actor.stop_and_wait(None, Some(Duration::from_secs(60))).await?;
    Ok(())
}
