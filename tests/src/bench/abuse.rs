//! `hutong bench abuse`: what an anonymous flood does to a running server (security review S1,
//! S5, I1, V2). The real binary runs the demo with its simulator (so the wall has live updates);
//! for a while, many threads at once send sign-ins with 2 MB account names, sign-ins for made-up
//! accounts from ever-new addresses (through a trusted proxy, so every one costs a password
//! check), wrong passwords for a real account, 10 MB imports of empty rows, and large valid
//! imports; meanwhile one thread times `/healthz` and one WebSocket counts the wall's events.
//! It prints the server's peak memory, the `/healthz` latency and the wall's event rate before
//! and during the flood. Targets: RSS under 512 MiB, the wall keeps its live updates.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::{Server, http, http_get, next_json, request, ws_connect};

#[derive(Debug, Clone, clap::Args)]
pub struct AbuseBench {
    /// How long the flood lasts, in seconds.
    #[arg(long, default_value_t = 20)]
    pub seconds: u64,
    /// Threads sending each kind of abuse.
    #[arg(long, default_value_t = 6)]
    pub threads: usize,
}

fn rss_mib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status.lines().find_map(|l| l.strip_prefix(field)).and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok()).unwrap_or(0) / 1024
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// `/healthz` latencies over `window`, in ms, sorted.
fn healthz_for(server: &Server, window: Duration) -> Vec<f64> {
    let until = Instant::now() + window;
    let mut out = Vec::new();
    while Instant::now() < until {
        let t = Instant::now();
        let _ = http_get(server.http, "/healthz");
        out.push(t.elapsed().as_secs_f64() * 1000.0);
        // A sample every 100 ms: the probe, not a wait for anything.
        std::thread::sleep(Duration::from_millis(100));
    }
    out.sort_by(f64::total_cmp);
    out
}

pub async fn abuse(options: AbuseBench) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let server = Arc::new(Server::demo(&dir.path().join("data"), 200, &["--trusted-proxies", "127.0.0.1"]).await);
    let pid = server.pid();
    let finance = server.login("finance");
    let control = server.login("control");
    let (mut ws, _) = ws_connect(server.http, "heyuan", &control).await;
    let events = Arc::new(AtomicU64::new(0));
    let counted = events.clone();
    tokio::spawn(async move {
        while next_json(&mut ws).await.is_some() {
            counted.fetch_add(1, Ordering::Relaxed);
        }
    });
    // Measure from the wall's first live event on.
    let first = events.clone();
    crate::wait_for("the wall's first live event", Duration::from_secs(30), async || (first.load(Ordering::Relaxed) > 0).then_some(())).await;

    let quiet_window = Duration::from_secs(5);
    let before_events = events.load(Ordering::Relaxed);
    let s = server.clone();
    let quiet = tokio::task::spawn_blocking(move || healthz_for(&s, quiet_window)).await?;
    let quiet_rate = (events.load(Ordering::Relaxed) - before_events) as f64 / quiet_window.as_secs_f64();
    let rss_before = rss_mib(pid, "VmRSS:");

    let stop = Arc::new(AtomicBool::new(false));
    let outcomes: Arc<Mutex<BTreeMap<(&'static str, u16), u64>>> = Arc::default();
    let big_account = Arc::new(serde_json::json!({"account": "A".repeat(2_000_000), "password": "x"}).to_string());
    let empty_rows = Arc::new((",".repeat(63) + "\n").repeat(160_000));
    let valid_rows = Arc::new({
        let mut rows = String::from("房屋地址,费用类型,费用金额,开始时间,结束时间,备注\n");
        for n in 0..50_000 {
            rows.push_str(&format!("荷花苑-1-1-101,水费,1.00,{}年01月,{}年01月,\n", 3000 + n, 3000 + n));
        }
        rows
    });
    let mut workers = Vec::new();
    let kinds: [&'static str; 5] = ["huge sign-in", "made-up account", "wrong password", "empty-row import", "valid import"];
    for kind in kinds {
        for t in 0..options.threads {
            let (server, stop, outcomes) = (server.clone(), stop.clone(), outcomes.clone());
            let (big_account, empty_rows, valid_rows, finance) = (big_account.clone(), empty_rows.clone(), valid_rows.clone(), finance.clone());
            workers.push(std::thread::spawn(move || {
                let mut n: u64 = 0;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    // An address of its own for every attempt: the per-address limit does not help.
                    let from = format!("10.{}.{}.{}", t, (n >> 8) & 255, n & 255);
                    let json = [("Content-Type", "application/json"), ("X-Forwarded-For", from.as_str())];
                    let status = match kind {
                        "huge sign-in" => request(server.http, "POST", "/api/v1/auth/login", None, &json, big_account.as_bytes()).map(|r| r.0),
                        "made-up account" => {
                            let body = serde_json::json!({"account": format!("nobody-{t}-{n}"), "password": "guess"}).to_string();
                            request(server.http, "POST", "/api/v1/auth/login", None, &json, body.as_bytes()).map(|r| r.0)
                        }
                        "wrong password" => {
                            let body = serde_json::json!({"account": "cashier", "password": format!("guess-{n}")}).to_string();
                            request(server.http, "POST", "/api/v1/auth/login", None, &json, body.as_bytes()).map(|r| r.0)
                        }
                        "empty-row import" => request(server.http, "POST", "/api/v1/communities/lianyuan/bills/import", Some(&finance), &[], empty_rows.as_bytes()).map(|r| r.0),
                        _ => request(server.http, "POST", "/api/v1/communities/heyuan/bills/import?good_only=true", Some(&finance), &[], valid_rows.as_bytes()).map(|r| r.0),
                    };
                    *outcomes.lock().unwrap().entry((kind, status.unwrap_or(0))).or_default() += 1;
                }
            }));
        }
    }
    let flood_window = Duration::from_secs(options.seconds);
    let during_events = events.load(Ordering::Relaxed);
    let peak = Arc::new(AtomicU64::new(rss_before));
    let (watch_stop, watch_peak) = (stop.clone(), peak.clone());
    let watcher = std::thread::spawn(move || {
        while !watch_stop.load(Ordering::Relaxed) {
            watch_peak.fetch_max(rss_mib(pid, "VmRSS:"), Ordering::Relaxed);
            // Sampling period; the kernel's VmHWM below catches what falls between samples.
            std::thread::sleep(Duration::from_millis(50));
        }
    });
    let s = server.clone();
    let flooded = tokio::task::spawn_blocking(move || healthz_for(&s, flood_window)).await?;
    let flood_rate = (events.load(Ordering::Relaxed) - during_events) as f64 / flood_window.as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        let _ = w.join();
    }
    let _ = watcher.join();
    // The kernel's high-water mark covers moments between samples too.
    let peak_rss = peak.load(Ordering::Relaxed).max(rss_mib(pid, "VmHWM:"));
    let (status, _) = http(server.http, "GET", "/api/v1/me", Some(&control), None)?;

    println!("abuse: {} s of flood, {} threads per kind, against `hutong demo` (simulator 200 msg/s)", options.seconds, options.threads);
    for ((kind, status), n) in outcomes.lock().unwrap().iter() {
        println!("  {kind:<18} answered {status}: {n}");
    }
    println!("  server RSS: {rss_before} MiB before, peak {peak_rss} MiB during (target < 512 MiB)");
    println!(
        "  /healthz ms: quiet p50 {:.1} p99 {:.1} max {:.1}; flooded p50 {:.1} p99 {:.1} max {:.1}",
        percentile(&quiet, 0.5),
        percentile(&quiet, 0.99),
        quiet.last().copied().unwrap_or(0.0),
        percentile(&flooded, 0.5),
        percentile(&flooded, 0.99),
        flooded.last().copied().unwrap_or(0.0)
    );
    println!("  wall events/s on /ws: {quiet_rate:.0} quiet, {flood_rate:.0} during the flood");
    println!("  the wall's account still signed in afterwards: {}", status == 200);
    Ok(())
}
