//! `hutong journal inspect|quarantine`: what an operator does when `/healthz` says `degraded`
//! and the log names a quarantined stream. `inspect` shows where the stream stands and whether
//! it recovers (and at which record it stops, and why); `quarantine` journals a skip mark so
//! every later recovery passes over that record. Run them with the server stopped: a running
//! owner has already recovered and would not see a new mark until it restarts.

use std::sync::Arc;

use anyhow::{Context, bail};
use hutong_actors::journal::Journal;
use hutong_actors::journaled::{Durable, Journaled, Shared, StreamId};
use hutong_actors::quarantine::{self, Poison, Skip};
use hutong_core::book::Book;
use hutong_core::device::DeviceState;
use hutong_core::registry::Registry;

use crate::config::Overrides;

#[derive(clap::Subcommand)]
pub enum JournalAction {
    /// A stream's head, its skip marks, whether it recovers, and (with --seq) one record.
    Inspect {
        /// The stream, as the log and /metrics name it (e.g. book/heyuan/heyuan-b01).
        stream: String,
        /// Print this record's payload too.
        #[arg(long)]
        seq: Option<u64>,
        #[command(flatten)]
        settings: Overrides,
    },
    /// Set one record aside: recovery skips it from now on. Stop the server first.
    Quarantine {
        stream: String,
        seq: u64,
        /// Why, for whoever reads the marks later.
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        settings: Overrides,
    },
}

pub async fn run(action: JournalAction) -> anyhow::Result<()> {
    match action {
        JournalAction::Inspect { stream, seq, settings } => {
            let journal = crate::server::open_journal(&settings.resolve()?).await?;
            quarantine::load(&journal).await?;
            let head = journal.head(&stream).await?;
            println!("stream {stream}: {head} records");
            for mark in quarantine::skips(&journal).await?.iter().filter(|m| m.stream == stream) {
                println!("  skipped: record {} ({})", mark.seq, mark.reason);
            }
            match recover(&journal, &stream).await? {
                None => println!("recovers: yes / 可以恢复"),
                Some(p) => println!("recovers: stops at record {} / 停在第 {} 条: {}", p.seq, p.seq, p.reason),
            }
            if let Some(seq) = seq {
                let record = journal.replay(&stream, seq.saturating_sub(1)).await?.into_iter().find(|r| r.seq == seq);
                let record = record.with_context(|| format!("no record {seq} in {stream}"))?;
                println!("record {seq} (at_ms {}): {}", record.at_ms, String::from_utf8_lossy(&record.payload));
            }
            Ok(())
        }
        JournalAction::Quarantine { stream, seq, reason, settings } => {
            let journal = crate::server::open_journal(&settings.resolve()?).await?;
            if seq == 0 || seq > journal.head(&stream).await? {
                bail!("{stream} 没有第 {seq} 条记录 / {stream} has no record {seq}");
            }
            let at_ms = chrono::Utc::now().timestamp_millis();
            quarantine::mark(&journal, &Skip { stream: stream.clone(), seq, reason, at_ms }).await?;
            println!("record {seq} of {stream} is set aside; it recovers without it from the next start");
            Ok(())
        }
    }
}

/// Recovers the stream as its owner would; the record it stops at, if any.
async fn recover(journal: &Arc<dyn Journal>, stream: &str) -> anyhow::Result<Option<Poison>> {
    async fn trial<A: Durable>(journal: &Arc<dyn Journal>, stream: &str, init: impl Fn() -> A) -> anyhow::Result<Option<Poison>> {
        let owned = Journaled::recover(journal.clone(), StreamId::named(stream), init, |_| {}).await?;
        Ok(owned.quarantined().cloned())
    }
    let parts: Vec<&str> = stream.split('/').collect();
    match parts.as_slice() {
        ["book", _, building] => trial(journal, stream, || Book::new((*building).into(), 0)).await,
        ["device", community, device] => {
            let registry: Shared<Registry> = Shared::recover(journal.clone(), StreamId::registry(), Registry::default).await?;
            let spec = registry
                .read()
                .communities
                .iter()
                .flat_map(|c| c.devices.iter())
                .find(|d| d.community.as_str() == *community && d.id.as_str() == *device)
                .cloned()
                .with_context(|| format!("no device {device} registered in {community}"))?;
            trial(journal, stream, || DeviceState::new(spec.clone())).await
        }
        ["tariff", _] => trial(journal, stream, hutong_core::fee::CommunityTariff::default).await,
        ["org"] => trial(journal, stream, hutong_core::identity::Org::default).await,
        ["sessions"] => trial(journal, stream, hutong_core::identity::Sessions::default).await,
        ["audit", _] => trial(journal, stream, hutong_core::identity::AuditLog::default).await,
        ["registry"] => trial(journal, stream, Registry::default).await,
        ["outbox"] => trial(journal, stream, hutong_core::outbox::Outbox::default).await,
        _ => bail!("不认识的数据流 / not a stream Hutong keeps: {stream}"),
    }
}
