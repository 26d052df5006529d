//! Start-up and shutdown. HTTP comes up first so `/healthz` can say "recovering"; then the
//! broker, then every registered community recovers from the journal, then ingest subscribes,
//! and only then is the server ready.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context;
use hutong_actors::community::{self, CommunityArgs};
use hutong_actors::journal::{Journal, SqliteJournal, SqliteOptions};
use hutong_actors::{Clock, Directory, LiveHub, Metrics};
use hutong_core::ids::DeviceId;
use hutong_device_bridge::ingest::{self, IngestOptions};
use hutong_device_bridge::simulator::{self, SimulatorOptions};
use hutong_device_bridge::url::BrokerAddress;
use hutong_device_bridge::broker;
use tokio_util::sync::CancellationToken;

use crate::config::{Broker, Config};
use crate::registry::{self, CommunityRegistered};

/// What the HTTP handlers share.
pub struct App {
    pub hub: Arc<LiveHub>,
    pub directory: Arc<Directory>,
    pub metrics: Arc<Metrics>,
    pub ready: AtomicBool,
    pub assets: PathBuf,
    pub shutdown: CancellationToken,
}

/// What `hutong demo` adds to `serve`.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// Messages per second the simulator publishes; 0 runs no simulator.
    pub simulate_rate: u32,
}

/// The device the demo keeps silent so the wall shows an offline alarm.
pub const DEMO_SILENT_DEVICE: &str = "gate-4";

fn broker_address(config: &Config) -> BrokerAddress {
    match &config.broker {
        Broker::Embedded(addr) => BrokerAddress { host: addr.ip().to_string(), port: addr.port(), credentials: None },
        Broker::External(a) => a.clone(),
    }
}

/// Runs the server until `shutdown` is cancelled. Returns the HTTP address once ready, via `on_ready`.
pub async fn run(config: Config, demo: Option<DemoOptions>, shutdown: CancellationToken, on_ready: impl FnOnce(SocketAddr)) -> anyhow::Result<()> {
    let journal_path = config.data.join("journal.db");
    let journal: Arc<dyn Journal> = Arc::new(
        SqliteJournal::open(SqliteOptions::new(&journal_path))
            .with_context(|| format!("打开日志失败 / cannot open the journal at {}", journal_path.display()))?,
    );
    let metrics = Metrics::new();
    metrics.describe("hutong_ws_clients", "WebSocket clients connected");
    metrics.describe("hutong_ws_resyncs_total", "Times a slow WebSocket client was told to resync");
    let app = Arc::new(App {
        hub: LiveHub::new(),
        directory: Arc::new(Directory::new()),
        metrics: metrics.clone(),
        ready: AtomicBool::new(false),
        assets: config.assets.clone(),
        shutdown: shutdown.clone(),
    });

    let listener = tokio::net::TcpListener::bind(config.http)
        .await
        .with_context(|| format!("HTTP 端口不可用 / cannot listen on {} (in use? pass --http)", config.http))?;
    let http_addr = listener.local_addr()?;
    let router = crate::api::router(app.clone());
    let http_shutdown = shutdown.clone();
    let http = tokio::spawn(async move {
        axum::serve(listener, router).with_graceful_shutdown(http_shutdown.cancelled_owned()).await
    });

    if let Broker::Embedded(addr) = config.broker {
        tokio::task::spawn_blocking(move || broker::start(addr)).await??;
    }

    let clock = Clock::new();
    let (mut head, mut communities) = registry::load(&journal).await?;
    if demo.is_some() && !communities.iter().any(|c| c.community.id.as_str() == hutong_core::demo::DEMO_COMMUNITY) {
        let community = hutong_core::demo::community();
        let devices = hutong_core::demo::devices(&community);
        let reg = CommunityRegistered { community, devices };
        head = registry::register(&journal, head, &reg).await?;
        communities.push(reg);
        tracing::info!(seq = head, "demo community 荷花苑 registered");
    }
    let mut supervisors = Vec::new();
    let mut demo_devices = Vec::new();
    for reg in communities {
        let started = std::time::Instant::now();
        if reg.community.id.as_str() == hutong_core::demo::DEMO_COMMUNITY {
            demo_devices = reg.devices.clone();
        }
        let devices = reg.devices.len();
        let sup = community::start(CommunityArgs {
            community: Arc::new(reg.community),
            devices: reg.devices,
            journal: journal.clone(),
            hub: app.hub.clone(),
            directory: app.directory.clone(),
            metrics: metrics.clone(),
            clock,
        })
        .await
        .map_err(|e| anyhow::anyhow!("community recovery failed: {e}"))?;
        tracing::info!(devices, elapsed_ms = started.elapsed().as_millis() as u64, "community recovered");
        supervisors.push(sup);
    }

    let ingest = tokio::spawn(ingest::run(
        IngestOptions { broker: broker_address(&config), client_id: format!("hutong-ingest-{}", std::process::id()) },
        app.directory.clone(),
        metrics.clone(),
        clock,
        shutdown.clone(),
    ));
    app.ready.store(true, Ordering::Release);
    on_ready(http_addr);

    if let Some(demo) = demo.filter(|d| d.simulate_rate > 0) {
        let options = SimulatorOptions {
            broker: broker_address(&config),
            rate: demo.simulate_rate,
            spike_one_in: 3000,
            silent: [DeviceId::new(DEMO_SILENT_DEVICE)].into_iter().collect(),
            seed: std::process::id().into(),
        };
        tokio::spawn(simulator::run(demo_devices, options, shutdown.clone()));
    }

    shutdown.cancelled().await;
    tracing::info!("shutting down");
    let _ = ingest.await;
    for sup in supervisors {
        sup.stop(None);
    }
    let _ = http.await;
    Ok(())
}
