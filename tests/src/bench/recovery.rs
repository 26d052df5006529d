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
    /// The second life, in a process of its own (its memory is its own): the log to restart from.
    #[arg(long, hide = true)]
    pub restart_from: Option<std::path::PathBuf>,
}

fn rss_mib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status.lines().find_map(|l| l.strip_prefix("VmRSS:")).and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok()).unwrap_or(0) / 1024
}

/// The bench's community and its devices (the same in both lives).
fn world(options: &RecoveryBench) -> (Arc<hutong_core::community::Community>, Vec<DeviceSpec>) {
    metered(options.houses, options.devices)
}

/// A synthetic community of `houses` homes and `devices` meters spread over them (water and
/// electricity in turn), ids `m000000`….
pub(crate) fn metered(houses: u32, devices: usize) -> (Arc<hutong_core::community::Community>, Vec<DeviceSpec>) {
    let community = Arc::new(synthetic(houses, 200));
    let houses: Vec<_> = community.houses().map(|(b, _, _, h)| (b.id.clone(), h.id.clone())).collect();
    let specs = (0..devices)
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
    (community, specs)
}

pub(crate) async fn start(
    community: &Arc<hutong_core::community::Community>,
    specs: &[DeviceSpec],
    journal: Arc<dyn Journal>,
    directory: Arc<Directory>,
    hub: Arc<LiveHub>,
) -> anyhow::Result<ractor::ActorRef<community::CommunityMsg>> {
    community::start(CommunityArgs {
        community: community.clone(),
        devices: specs.to_vec(),
        journal,
        hub,
        directory,
        metrics: Metrics::new(),
        clock: Clock::new(),
        notices: Arc::new(NoNotices),
        staffing: Arc::new(hutong_actors::work_order::NoStaff),
    })
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))
}

pub(crate) fn reading(seq: u64, value: i64) -> (DeviceMsg, tokio::sync::oneshot::Receiver<hutong_actors::device::IngestOutcome>) {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let now = chrono::Utc::now();
    let signal = Signal { seq, boot: 0, at: now, seen: now };
    (DeviceMsg::Signal(DeviceCommand::RecordReading { signal, value: Decimal::new(value, 3) }, Some(tx)), rx)
}

pub async fn recovery(options: RecoveryBench) -> anyhow::Result<()> {
    if let Some(dir) = &options.restart_from {
        return second_life(&options, dir).await;
    }
    let scratch = Scratch::new("recovery")?;
    let dir = scratch.0.join("log");
    let (community, specs) = world(&options);
    let rss_before = rss_mib();

    // First life: start on an empty log, one durable reading per device (each wakes it), stop.
    let t = Instant::now();
    let journal: Arc<dyn Journal> = Arc::new(LogJournal::open(LogOptions::new(&dir))?);
    let directory = Arc::new(Directory::new());
    let actor = start(&community, &specs, journal.clone(), directory.clone(), LiveHub::new()).await?;
    let first_start = t.elapsed();
    let rss_asleep = rss_mib();
    let t = Instant::now();
    let mut acks = Vec::with_capacity(specs.len());
    for spec in &specs {
        let (msg, rx) = reading(1, 12345);
        directory.send_device(community.id.as_str(), spec.id.as_str(), msg)?;
        acks.push(rx);
    }
    for rx in acks {
        rx.await?;
    }
    let readings = t.elapsed();
    let rss_awake = rss_mib();
    actor.stop_and_wait(None, Some(Duration::from_secs(60))).await?;
    drop(directory);
    // The second life waits for this journal's writer to let go of the log's lock.
    drop(journal);

    println!("| figure | value |");
    println!("|---|---|");
    println!("| devices / houses / buildings | {} / {} / {} |", options.devices, community.houses().count(), community.buildings.len());
    println!("| first start on an empty log (every device recovered asleep) | {first_start:.2?} |");
    println!("| one durable reading for every device (each wakes its actor) | {readings:.2?} |");
    #[allow(clippy::float_arithmetic)]
    let kib = |mib: u64| (mib as f64 * 1024.0) / options.devices as f64;
    println!("| RSS: empty / every device asleep / every device an actor | {rss_before} / {rss_asleep} / {rss_awake} MiB |");
    println!("| RSS per device: asleep / awake (over the empty process, houses included) | {:.2} / {:.2} KiB |", kib(rss_asleep - rss_before), kib(rss_awake - rss_before));
    // Second life in a fresh process: its memory is the restart's alone.
    let exe = std::env::current_exe()?;
    let status = std::process::Command::new(exe)
        .args(["recovery", "--devices", &options.devices.to_string(), "--houses", &options.houses.to_string(), "--restart-from"])
        .arg(&dir)
        .status()?;
    anyhow::ensure!(status.success(), "the second life failed");
    Ok(())
}

/// Opens the log (checkpoint + tail scan), recovers every building and device, then hears one
/// reading; prints its rows of the table.
async fn second_life(options: &RecoveryBench, dir: &std::path::Path) -> anyhow::Result<()> {
    let (community, specs) = world(options);
    let rss_before = rss_mib();
    let t = Instant::now();
    let journal: Arc<dyn Journal> = Arc::new(LogJournal::open(LogOptions::new(dir))?);
    let opened = t.elapsed();
    let directory = Arc::new(Directory::new());
    let actor = start(&community, &specs, journal.clone(), directory.clone(), LiveHub::new()).await?;
    let ready = t.elapsed();
    let rss_ready = rss_mib();
    let (msg, rx) = reading(2, 12346);
    let woken = Instant::now();
    directory.send_device(community.id.as_str(), specs[0].id.as_str(), msg)?;
    rx.await?;
    let first_after_ready = woken.elapsed();
    let first_accepted = t.elapsed();
    let (awake, registered) = directory.awake_devices(community.id.as_str());
    println!("| restart: log opened (checkpoint + tail scan) | {opened:.2?} |");
    println!("| restart: every building up, every device recovered (asleep) | {ready:.2?} |");
    println!("| restart: first reading accepted durable, from start / from ready (it wakes its device) | {first_accepted:.2?} / {first_after_ready:.2?} |");
    println!("| restart: RSS before / ready | {rss_before} / {rss_ready} MiB |");
    println!("| restart: device actors awake / registered after that reading | {awake} / {registered} |");
    actor.stop_and_wait(None, Some(Duration::from_secs(60))).await?;
    Ok(())
}
