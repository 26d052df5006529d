//! `hutong bench import`: a 100k-row bill import in the standard template, as CSV and as XLSX —
//! reading the file, checking every row and resolving every address (the part a person waits
//! for before the report), then issuing the bills through the building actors, durable.

use std::time::Instant;

use hutong_core::book::{BillLine, BillSource, BookCommand};
use hutong_core::community::HouseIndex;
use hutong_core::import::{export, sheet, template};

use super::{Scratch, peak_rss_mib, start, synthetic};

#[derive(Debug, Clone, clap::Args)]
pub struct ImportBench {
    /// Rows in the file.
    #[arg(long, default_value_t = 100_000)]
    pub rows: u32,
}

pub async fn import(options: ImportBench) -> anyhow::Result<()> {
    let community = synthetic(options.rows, 1_000);
    let index = HouseIndex::new(&community);
    let mut table: Vec<Vec<String>> = vec![
        ["房屋地址", "费用类型", "费用金额", "开始时间", "结束时间", "备注"].map(String::from).to_vec(),
        ["一栋一单元101", "物业费", "1300", "2018年01月02日", "2018年12月01日", "缴费备注说明(最多500字)"].map(String::from).to_vec(),
    ];
    for (i, (b, u, _, h)) in community.houses().enumerate() {
        let fee = ["物业费", "水费", "电梯费"][i % 3];
        table.push(vec![format!("压测小区-{}-{}-{}", b.no, u.no, h.room), fee.into(), format!("{}.{:03}", 100 + i % 900, i % 1000), "2026年10月".into(), "2026年10月31日".into(), String::new()]);
    }
    let csv = export::csv(&table);
    let xlsx = export::xlsx(&table)?;
    println!("import: {} rows; CSV {:.1} MB, XLSX {:.1} MB", options.rows, csv.len() as f64 / 1e6, xlsx.len() as f64 / 1e6);
    let mut checked = None;
    for (name, bytes) in [("CSV", &csv), ("XLSX", &xlsx)] {
        // As the server reads an upload: row by row, never the whole sheet at once.
        let t = Instant::now();
        let mut seen = 0usize;
        sheet::for_each_row(bytes, sheet::Limits::default(), |_, _| seen += 1)?;
        let read = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let mut reader = template::BillReader::new(|a: &str| index.find(a).map(|(h, _)| h));
        sheet::for_each_row(bytes, sheet::Limits::default(), |i, cells| reader.row(i, cells))?;
        let parsed = reader.finish();
        let secs = t.elapsed().as_secs_f64();
        anyhow::ensure!(parsed.errors.is_empty() && parsed.bills.len() == options.rows as usize, "{name}: {} errors", parsed.errors.len());
        println!(
            "  {name:>4}: read {read:.2} s, read + check + resolve (one pass) {secs:.2} s → {:.0} rows/s",
            f64::from(options.rows) / secs
        );
        checked = Some(parsed);
    }
    let parsed = checked.ok_or_else(|| anyhow::anyhow!("nothing parsed"))?;
    let scratch = Scratch::new("import")?;
    let (directory, _hub, actor) = start(community, &scratch.0).await?;
    let mut by_building: std::collections::HashMap<_, Vec<BillLine>> = std::collections::HashMap::new();
    for b in parsed.bills {
        let Some(building) = index.building_of(b.house.as_str()).cloned() else { continue };
        by_building.entry(building).or_default().push(BillLine {
            house: b.house,
            item: b.item,
            subject: "6001".into(),
            period_start: b.period_start,
            period_end: b.period_end,
            amount: b.amount,
            external_no: b.external_no,
            remark: b.remark,
        });
    }
    let t = Instant::now();
    let at = chrono::NaiveDate::from_ymd_opt(2026, 11, 1).and_then(|d| d.and_hms_opt(9, 0, 0)).unwrap_or_default();
    let mut pending = Vec::new();
    for (building, lines) in by_building {
        let target = directory.building_ref(&building).ok_or_else(|| anyhow::anyhow!("no actor"))?;
        let command = BookCommand::IssueBills { lines, source: BillSource::Import { batch: "bench".into() }, by: "bench".into(), at };
        pending.push(tokio::spawn(async move { target.book(command).await }));
    }
    let mut issued = 0;
    for p in pending {
        if let Ok(Ok(Ok(events))) = p.await.map(|r| r.map_err(|e| anyhow::anyhow!("{e}"))) {
            if let Some(hutong_core::book::BookEvent::BillsIssued { lines, .. }) = events.first() {
                issued += lines.len();
            }
        }
    }
    let seconds = t.elapsed().as_secs_f64();
    println!("  issue {issued} bills through the building actors, durable: {seconds:.2} s ({:.0} bills/s)", issued as f64 / seconds);
    println!("  peak memory of the whole benchmark: {} MiB", peak_rss_mib().map_or_else(|| "?".to_string(), |m| m.to_string()));
    actor.stop(None);
    Ok(())
}
