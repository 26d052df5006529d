//! `hutong bench billing`: a bill run for N houses × 3 items (property fee by area × 2.18,
//! elevator and garbage fixed), through the building actors: each computes its lines, journals
//! one event durably (SQLite, synchronous=FULL, group commit), then applies it. Beside it, the
//! same data in a plain SQLite table and `INSERT … SELECT ROUND(area*price,2)`, committed.

use std::time::Instant;

use hutong_actors::building::RunRequest;
use hutong_core::bill_run::{Cycle, RunSpec, Timing};

use super::{Scratch, peak_rss_mib, start, synthetic};
use hutong_core::demo::demo_tariff;

#[derive(Debug, Clone, clap::Args)]
pub struct BillingBench {
    /// House counts to run, comma-separated.
    #[arg(long, value_delimiter = ',', default_values_t = [100_000u32, 1_000_000])]
    pub houses: Vec<u32>,
    /// Houses per building (one building actor each).
    #[arg(long, default_value_t = 1_000)]
    pub per_building: u32,
}

pub async fn billing(options: BillingBench) -> anyhow::Result<()> {
    println!("bill run: houses × 3 items, durable (SQLite journal, synchronous=FULL), {} houses per building actor", options.per_building);
    for &houses in &options.houses {
        let scratch = Scratch::new("billing")?;
        let community = synthetic(houses, options.per_building);
        let buildings: Vec<_> = community.buildings.iter().map(|b| b.id.clone()).collect();
        let tariff = demo_tariff(&community.id);
        let started = Instant::now();
        let (directory, _hub, actor) = start(community, &scratch.0).await?;
        let startup = started.elapsed();
        let items = std::sync::Arc::new(tariff.items.clone());
        let rules = std::sync::Arc::new(tariff.rules.clone());
        let on = chrono::NaiveDate::from_ymd_opt(2026, 11, 1).unwrap_or_default();
        let spec = RunSpec { cycle: Cycle::Monthly, timing: Timing::InAdvance, on, items: vec!["property".into(), "elevator".into(), "garbage".into()] };
        let at = on.and_hms_opt(9, 0, 0).unwrap_or_default();
        let run = Instant::now();
        let mut pending = Vec::new();
        for b in &buildings {
            let target = directory.building_ref(b).ok_or_else(|| anyhow::anyhow!("no actor for {b}"))?;
            let request = RunRequest { spec: spec.clone(), items: items.clone(), rules: rules.clone(), commit: true, by: "bench".into(), at };
            pending.push(tokio::spawn(async move { target.run(request).await }));
        }
        let mut bills = 0u64;
        let mut amount = hutong_core::Money::ZERO;
        let count = pending.len();
        for (done, p) in pending.into_iter().enumerate() {
            let o = p.await?.map_err(|e| anyhow::anyhow!("{e}"))?;
            bills += o.bills;
            amount += o.amount;
            progress(done + 1, count);
        }
        eprintln!();
        let seconds = run.elapsed().as_secs_f64();
        actor.stop(None);
        let reference = sqlite_reference(houses, &scratch.0.join("reference.db"))?;
        println!(
            "  {houses:>9} houses: {bills:>9} bills, total ¥{amount}, {seconds:.2} s ({:.0} bills/s); actors up in {:.2} s; peak memory so far {} MiB | SQLite INSERT…SELECT ROUND(area*price,2): {:.2} s ({:.0} rows/s)",
            bills as f64 / seconds,
            startup.as_secs_f64(),
            peak_rss_mib().map_or_else(|| "?".to_string(), |m| m.to_string()),
            reference,
            f64::from(houses) * 3.0 / reference
        );
    }
    Ok(())
}

/// A progress bar on stderr: buildings done of all.
fn progress(done: usize, all: usize) {
    let width = 40;
    let filled = done * width / all.max(1);
    // Redraw only when the bar grows, so a captured log stays short.
    if done != all && filled == (done - 1) * width / all.max(1) {
        return;
    }
    eprint!("\r  [{}{}] {done}/{all} buildings", "#".repeat(filled), ".".repeat(width - filled));
}

/// The same houses in a table; the three items' bills by one `INSERT … SELECT`, committed durably.
fn sqlite_reference(houses: u32, path: &std::path::Path) -> anyhow::Result<f64> {
    let db = rusqlite::Connection::open(path)?;
    db.execute_batch(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;
         CREATE TABLE houses(id TEXT PRIMARY KEY, area REAL);
         CREATE TABLE items(id TEXT, price REAL, fixed INTEGER);
         CREATE TABLE bills(house TEXT, item TEXT, amount REAL);
         INSERT INTO items VALUES ('property', 2.18, 0), ('elevator', 30, 1), ('garbage', 15, 1);",
    )?;
    {
        let tx = db.unchecked_transaction()?;
        let mut insert = tx.prepare("INSERT INTO houses VALUES (?1, ?2)")?;
        for i in 0..houses {
            insert.execute(rusqlite::params![format!("h{i}"), f64::from(5000 + (i * 37) % 9000) / 100.0])?;
        }
        drop(insert);
        tx.commit()?;
    }
    let t = Instant::now();
    db.execute_batch(
        "BEGIN; INSERT INTO bills SELECT h.id, i.id, CASE WHEN i.fixed THEN i.price ELSE ROUND(h.area * i.price, 2) END FROM houses h, items i; COMMIT;",
    )?;
    Ok(t.elapsed().as_secs_f64())
}
