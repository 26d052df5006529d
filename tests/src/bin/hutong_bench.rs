//! `hutong-bench`: the benchmarks `cargo xtask bench ingest|billing|import` runs (release build).
//! Each prints its figures; docs/benchmarks.md keeps them.

use clap::{Parser, Subcommand};
use hutong_tests::bench;

#[derive(Parser)]
#[command(name = "hutong-bench", about = "Hutong's benchmarks: they print their figures")]
struct Cli {
    #[command(subcommand)]
    which: Which,
}

#[derive(Subcommand)]
enum Which {
    /// MQTT publish → journal durable → WebSocket: sustained msg/s and latency percentiles.
    Ingest(bench::IngestBench),
    /// A bill run over 100k and 1M houses × 3 items, durable, beside SQLite INSERT…SELECT.
    Billing(bench::BillingBench),
    /// A 100k-row import as CSV and XLSX: read, check, resolve, issue.
    Import(bench::ImportBench),
    /// A cashier's payments, one after another: HTTP → book → journal → audit.
    Payments(bench::PaymentsBench),
    /// An anonymous flood of sign-ins and imports: peak memory, /healthz latency, live updates.
    Abuse(bench::abuse::AbuseBench),
    /// 100k devices and 10k houses restarted on the log journal: time to ready, memory.
    Recovery(bench::recovery::RecoveryBench),
    /// 1,000 to 10,000 WebSocket screens while devices publish: change → last screen, losses, memory.
    Fanout(bench::fanout::FanoutBench),
    /// 10,000 patrol routes whose windows close in the same second: close → miss alarm on the wall.
    Patrol(bench::patrol::PatrolBench),
    /// 100,000 open work orders, 1,000 passing their deadline in the same second: deadline → board.
    Workorders(bench::workorders::WorkOrdersBench),
    /// Owners paying online through the sandbox provider.
    Pay(bench::pay::PayBench),
    /// An alarm storm: every meter going wrong at once, and one meter ten thousand times.
    Alarms(bench::alarms::AlarmsBench),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_from_env("HUTONG_LOG").unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,rumqttc=warn"));
    tracing_subscriber::fmt().with_env_filter(filter).with_target(false).with_writer(std::io::stderr).init();
    match Cli::parse().which {
        Which::Ingest(options) => bench::ingest(options).await,
        Which::Billing(options) => bench::billing::billing(options).await,
        Which::Import(options) => bench::import::import(options).await,
        Which::Payments(options) => bench::payments(options).await,
        Which::Abuse(options) => bench::abuse::abuse(options).await,
        Which::Recovery(options) => bench::recovery::recovery(options).await,
        Which::Fanout(options) => bench::fanout::fanout(options).await,
        Which::Patrol(options) => bench::patrol::patrol(options).await,
        Which::Workorders(options) => bench::workorders::workorders(options).await,
        Which::Pay(options) => bench::pay::pay(options).await,
        Which::Alarms(options) => bench::alarms::alarms(options).await,
    }
}
