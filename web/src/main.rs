//! `hutong`: serve, demo, simulate, bill-run, journal inspect|quarantine, store init. (The benchmarks are `hutong-bench`.)

use std::collections::HashSet;

use anyhow::Context;
use clap::{Parser, Subcommand};
use hutong_core::ids::DeviceId;
use hutong_device_bridge::simulator::{self, SimulatorOptions};
use hutong_web::config::{Overrides, secret};
use hutong_web::server::{self, DemoOptions};
use tokio_util::sync::CancellationToken;

#[derive(Parser)]
#[command(name = "hutong", version, about = "Hutong — real-time operations for residential communities (小区)")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server: SQLite journal, in-process MQTT broker (or --mqtt-url), HTTP.
    Serve {
        #[command(flatten)]
        settings: Overrides,
    },
    /// Serve plus the demo community 荷花苑 and the device simulator.
    Demo {
        #[command(flatten)]
        settings: Overrides,
        /// Messages per second the simulator publishes (0: no simulator).
        #[arg(long, default_value_t = 200, env = "HUTONG_SIMULATE_RATE")]
        simulate_rate: u32,
        /// Refused: the demo accounts' password comes from HUTONG_DEMO_PASSWORD (default: generated
        /// once, kept in the data directory), never the command line.
        #[arg(long = "demo-password", hide = true)]
        demo_password_flag: Option<String>,
    },
    /// A bill run against a running server: preview, or --commit with a progress bar.
    BillRun(hutong_web::bill_run_cli::BillRunArgs),
    /// Publish realistic device traffic for a community to a broker.
    Simulate {
        /// The broker, mqtt://host:port.
        #[arg(long, default_value = "mqtt://127.0.0.1:1883")]
        mqtt_url: String,
        /// Messages per second.
        #[arg(long, default_value_t = 200)]
        rate: u32,
        /// Stop after this many seconds (default: run until Ctrl-C).
        #[arg(long)]
        duration: Option<u64>,
        /// Devices to keep silent, comma separated.
        #[arg(long, value_delimiter = ',')]
        silent: Vec<String>,
        /// One reading in this many is a spike (0: none).
        #[arg(long, default_value_t = 3000)]
        spike_one_in: u32,
        /// Refused: the server's device secret comes from HUTONG_DEVICE_SECRET (the demo keeps it in
        /// its data directory as demo-device-secret), never the command line.
        #[arg(long = "device-secret", hide = true)]
        device_secret_flag: Option<String>,
        /// Put each device's key in its payloads, for an external broker that does not ask Hutong
        /// who connects. Without it the simulator signs in as Hutong's service user (on Hutong's
        /// own endpoint, when the URL names no user).
        #[arg(long)]
        payload_keys: bool,
    },
    /// An XLS on stdin as CSV on stdout: the memory-capped converter the server runs for XLS imports.
    #[command(hide = true)]
    SheetConvert,
    /// See and deal with a quarantined journal stream (the server stopped).
    Journal {
        #[command(subcommand)]
        action: hutong_web::journal_cli::JournalAction,
    },
    /// The cluster store: `hutong store init --store scylla://host:port/keyspace` creates the schema.
    Store {
        #[command(subcommand)]
        action: StoreAction,
    },
}

#[derive(Subcommand)]
enum StoreAction {
    /// Create the keyspace and tables of deploy/scylla/schema.cql (idempotent).
    Init {
        /// scylla://host:port[,host:port]/keyspace
        #[arg(long, env = "HUTONG_STORE")]
        store: String,
        /// The keyspace's replication, as a CQL map.
        #[arg(long, default_value = "{'class': 'NetworkTopologyStrategy', 'replication_factor': 3}")]
        replication: String,
    },
}


fn init_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("HUTONG_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,rumqttc=warn"));
    tracing_subscriber::fmt().with_env_filter(filter).with_target(false).with_writer(std::io::stderr).init();
}

fn shutdown_on_signal() -> CancellationToken {
    let token = CancellationToken::new();
    let t = token.clone();
    tokio::spawn(async move {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        {
            let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
            tokio::select! { _ = ctrl_c => {}, _ = term.recv() => {} }
        }
        #[cfg(not(unix))]
        let _ = ctrl_c.await;
        t.cancel();
    });
    token
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    init_logs();
    let shutdown = shutdown_on_signal();
    match cli.command {
        Command::Serve { settings } => {
            let config = settings.resolve()?;
            server::run(config, None, shutdown, |addr| {
                println!("Hutong 已就绪 / ready: http://{addr}/");
            })
            .await
        }
        Command::Demo { settings, simulate_rate, demo_password_flag } => {
            let config = settings.resolve()?;
            let demo_password = secret(&demo_password_flag, "--demo-password", "HUTONG_DEMO_PASSWORD")?;
            server::run(config, Some(DemoOptions { simulate_rate, password: demo_password, print_sign_ins: true }), shutdown, |addr| {
                println!("Hutong 演示已就绪 / demo ready: http://{addr}/  (荷花苑, simulator {simulate_rate} msg/s)");
            })
            .await
        }
        Command::Simulate { mqtt_url, rate, duration, silent, spike_one_in, device_secret_flag, payload_keys } => {
            let device_secret = secret(&device_secret_flag, "--device-secret", "HUTONG_DEVICE_SECRET")?
                .ok_or_else(|| anyhow::anyhow!("缺少设备密钥：请设置 HUTONG_DEVICE_SECRET / no device secret: set HUTONG_DEVICE_SECRET"))?;
            let mut broker = hutong_device_bridge::url::parse(&mqtt_url)?;
            if broker.credentials.is_none() && !payload_keys {
                let service = hutong_device_bridge::codec::service_password(device_secret.as_bytes());
                broker.credentials = Some((hutong_device_bridge::codec::SERVICE_USER.to_string(), service));
            }
            let community = hutong_core::demo::community();
            let devices = hutong_core::demo::devices(&community);
            let silent: HashSet<DeviceId> = silent.iter().map(DeviceId::new).collect();
            if let Some(secs) = duration {
                let t = shutdown.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(std::time::Duration::from_secs(secs)).await;
                    t.cancel();
                });
            }
            let payload_keys = payload_keys.then(|| device_secret.into_bytes());
            let options = SimulatorOptions { broker, rate, spike_one_in, silent, seed: std::process::id().into(), payload_keys };
            let stats = simulator::run(devices, options, shutdown).await;
            println!("published {} messages ({} spikes, {} gate alarms)", stats.published, stats.spikes, stats.gate_alarms);
            Ok(())
        }
        Command::BillRun(args) => hutong_web::bill_run_cli::run(args).await,
        Command::SheetConvert => hutong_web::billing::upload::convert_stdin().map_err(|e| anyhow::anyhow!(e)),
        Command::Journal { action } => hutong_web::journal_cli::run(action).await,
        Command::Store { action: StoreAction::Init { store, replication } } => {
            let options = hutong_actors::journal::ScyllaOptions::from_url(&store)?;
            let session = scylla::client::session_builder::SessionBuilder::new()
                .known_nodes(&options.nodes)
                .build()
                .await
                .with_context(|| format!("无法连接 ScyllaDB / cannot reach the cluster at {:?}", options.nodes))?;
            hutong_actors::journal::init_schema(&session, &options.keyspace, &replication).await?;
            println!("keyspace {} ready", options.keyspace);
            Ok(())
        }
    }
    .context("hutong")
}
