//! `hutong-bench pay`: owners paying online through the sandbox provider, as fast as they can.
//!
//! The server runs in a process of its own (the demo, on the log journal). The bench sets up a
//! community of `--homes` homes as an administrator would, bills each home once (a bill import),
//! and opens the portal to the demo's owner phone for every home (the office's
//! `POST …/owners`: owners' own sign-ins come one per phone through an SMS code, and one address
//! may ask for only a few codes — by design). Then `--clients` clients, as that owner, each pay
//! a home's bill: open the order (`POST /api/v1/owner/payments`), pay on the provider's page; the
//! provider notifies Hutong (a signed HTTP request), Hutong verifies it, checks the order and
//! books the payment. The manager's money socket (`/ws/money`) is open on the community.
//!
//! It prints the payments per second end to end, the notifications verified and booked per
//! second, and — per payment — the time from the provider taking it to the manager's screen
//! counting it (a building's `payments_today` reaching that payment): p50 / p99 / max.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use hutong_core::live::{LiveBody, ServerMessage};
use tokio_tungstenite::tungstenite::Message;

use super::{open_socket, send, sign_in};
use crate::http_get;

#[derive(Debug, Clone, clap::Args)]
pub struct PayBench {
    /// Homes, each paying one bill.
    #[arg(long, default_value_t = 10_000)]
    pub homes: usize,
    /// Payments in flight at once.
    #[arg(long, default_value_t = 32)]
    pub clients: usize,
    #[command(flatten)]
    pub server: super::ServeArgs,
}

const COMMUNITY: &str = "paybench";
const OWNER: &str = "13898424613";

pub async fn pay(options: PayBench) -> anyhow::Result<()> {
    if let Some(served) = options.server.run().await {
        return served;
    }
    let server = super::ServerProcess::spawn("pay")?;
    run(&options, server.addr).await
}

/// Buildings of 20 floors × 2 units × 10 homes (400 each), enough for `homes`.
fn plan(homes: usize) -> serde_json::Value {
    let buildings = homes.div_ceil(400).max(1);
    let floors: Vec<serde_json::Value> = (1..=20).map(|f| serde_json::json!({"no": f, "rooms": (1..=10).map(|r| serde_json::json!({"room": format!("{f}{r:02}"), "area": "88.50"})).collect::<Vec<_>>()})).collect();
    let units: Vec<serde_json::Value> = (1..=2).map(|u| serde_json::json!({"no": u, "floors": floors})).collect();
    serde_json::json!({"id": COMMUNITY, "name": "支付压测", "time_zone": "Asia/Shanghai", "buildings": (1..=buildings).map(|b| serde_json::json!({"no": b, "units": units})).collect::<Vec<_>>()})
}

/// The owner's session: their code read where the demo's owner reads it (`/demo/inbox`).
async fn owner_session(addr: SocketAddr) -> anyhow::Result<String> {
    let body = serde_json::json!({"phone": OWNER}).to_string();
    let (status, _) = tokio::task::spawn_blocking(move || crate::http(addr, "POST", "/api/v1/auth/owner/code", None, Some(&body))).await??;
    anyhow::ensure!(status == 200, "code refused: {status}");
    let code = crate::wait_for("the code in the demo inbox", Duration::from_secs(10), async || {
        let (_, page) = http_get(addr, "/demo/inbox").ok()?;
        page.split("验证码是 ").nth(1).map(|rest| rest.chars().take(6).collect::<String>())
    })
    .await;
    let body = serde_json::json!({"phone": OWNER, "code": code}).to_string();
    let (status, reply) = tokio::task::spawn_blocking(move || crate::http(addr, "POST", "/api/v1/auth/owner/login", None, Some(&body))).await??;
    anyhow::ensure!(status == 200, "owner sign-in refused: {status} {reply}");
    let v: serde_json::Value = serde_json::from_str(&reply)?;
    v["token"].as_str().map(str::to_string).ok_or_else(|| anyhow::anyhow!("no token"))
}

/// A counter of the server's `/metrics` (scraped from this machine).
fn metric(addr: SocketAddr, name: &str) -> u64 {
    let text = http_get(addr, "/metrics").map(|(_, t)| t).unwrap_or_default();
    text.lines().find_map(|l| l.strip_prefix(name).and_then(|rest| rest.trim().parse().ok())).unwrap_or(0)
}

fn percentile(sorted: &[u128], p: f64) -> u128 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

async fn run(options: &PayBench, addr: SocketAddr) -> anyhow::Result<()> {
    crate::wait_for("the server", Duration::from_secs(120), async || matches!(http_get(addr, "/healthz"), Ok((200, _))).then_some(())).await;
    let admin = sign_in(addr, "admin").await?;
    send(addr, &admin, "POST", "/api/v1/communities", plan(options.homes).to_string()).await?;
    let tree: serde_json::Value = serde_json::from_str(&crate::http(addr, "GET", &format!("/api/v1/communities/{COMMUNITY}"), Some(&admin), None)?.1)?;
    let mut homes: Vec<(String, String)> = Vec::new();
    for b in tree["buildings"].as_array().into_iter().flatten() {
        for u in b["units"].as_array().into_iter().flatten() {
            for f in u["floors"].as_array().into_iter().flatten() {
                for h in f["houses"].as_array().into_iter().flatten() {
                    homes.push((h["id"].as_str().unwrap_or_default().to_string(), b["id"].as_str().unwrap_or_default().to_string()));
                }
            }
        }
    }
    homes.truncate(options.homes);
    // One water bill per home, imported; the portal opened to the owner for every home.
    let rows: String = homes.iter().map(|(h, _)| format!("{h},水费,{}.{:02},2027年01月,2027年01月,\n", 20 + h.len() % 30, h.len() % 100)).collect();
    let csv = format!("房屋地址,费用类型,费用金额,开始时间,结束时间,备注\n{rows}");
    let (status, _, reply) = {
        let (admin, csv) = (admin.clone(), csv.clone());
        tokio::task::spawn_blocking(move || crate::request(addr, "POST", &format!("/api/v1/communities/{COMMUNITY}/bills/import"), Some(&admin), &[], csv.as_bytes())).await??
    };
    anyhow::ensure!(status == 200, "bill import refused: {status} {}", String::from_utf8_lossy(&reply));
    let houses: Vec<&str> = homes.iter().map(|(h, _)| h.as_str()).collect();
    send(addr, &admin, "POST", &format!("/api/v1/communities/{COMMUNITY}/owners"), serde_json::json!({"phone": OWNER, "houses": houses}).to_string()).await?;
    let owner = owner_session(addr).await?;
    println!("{} homes billed and opened to the owner", homes.len());

    // The manager's screen: each building's payments today as they change.
    let seen: Arc<std::sync::Mutex<HashMap<String, Vec<Instant>>>> = Arc::default();
    let mut socket = open_socket(addr, &format!("/ws/money?community={COMMUNITY}"), &admin).await?;
    let watching = seen.clone();
    tokio::spawn(async move {
        let mut counts: HashMap<String, u32> = HashMap::new();
        while let Some(Ok(Message::Text(text))) = socket.next().await {
            let Ok(message) = serde_json::from_str::<ServerMessage>(&text) else { continue };
            for event in message.events() {
                if let LiveBody::MoneyDetail(view) = &event.body {
                    let b = view.building.to_string();
                    let now = view.money.payments_today;
                    let before = counts.insert(b.clone(), now).unwrap_or(0);
                    if now > before {
                        let at = Instant::now();
                        watching.lock().unwrap_or_else(|e| e.into_inner()).entry(b).or_default().extend(std::iter::repeat_n(at, (now - before) as usize));
                    }
                }
            }
        }
    });

    // Each home's bill, as the owner's portal lists it.
    let listed: serde_json::Value = serde_json::from_str(&crate::http(addr, "GET", "/api/v1/owner/houses", Some(&owner), None)?.1)?;
    let mut jobs: Vec<(String, String, String)> = Vec::new();
    let building_of: HashMap<&str, &str> = homes.iter().map(|(h, b)| (h.as_str(), b.as_str())).collect();
    for h in listed.as_array().into_iter().flatten() {
        let house = h["house"].as_str().unwrap_or_default();
        let (Some(building), Some(bill)) = (building_of.get(house), h["pending"][0]["no"].as_str()) else { continue };
        jobs.push((house.to_string(), building.to_string(), bill.to_string()));
    }
    println!("{} bills to pay, {} at a time", jobs.len(), options.clients);

    // The payments: open the order, pay on the provider's page (which then notifies Hutong).
    let charged: Arc<std::sync::Mutex<HashMap<String, Vec<Instant>>>> = Arc::default();
    let started = Instant::now();
    let queue = Arc::new(std::sync::Mutex::new(jobs));
    let mut tasks = Vec::new();
    for _ in 0..options.clients.max(1) {
        let (queue, owner, charged) = (queue.clone(), owner.clone(), charged.clone());
        tasks.push(tokio::task::spawn_blocking(move || -> anyhow::Result<usize> {
            let mut done = 0;
            loop {
                let Some((house, building, bill)) = queue.lock().unwrap_or_else(|e| e.into_inner()).pop() else { return Ok(done) };
                let body = serde_json::json!({"house": house, "bills": [bill]}).to_string();
                let (status, reply) = crate::http(addr, "POST", "/api/v1/owner/payments", Some(&owner), Some(&body))?;
                anyhow::ensure!(status == 200, "order refused: {status} {reply}");
                let opened: serde_json::Value = serde_json::from_str(&reply)?;
                let checkout = opened["checkout_url"].as_str().unwrap_or_default().to_string();
                let (status, _, _) = crate::request(addr, "POST", &checkout, None, &[], b"")?;
                anyhow::ensure!(status == 200, "the provider refused: {status}");
                charged.lock().unwrap_or_else(|e| e.into_inner()).entry(building).or_default().push(Instant::now());
                done += 1;
            }
        }));
    }
    let mut paid = 0;
    for t in tasks {
        paid += t.await??;
    }
    let paying = started.elapsed();
    // Until the manager's screen has counted every payment (or 30 s more).
    let total = paid;
    let until = Instant::now() + Duration::from_secs(30);
    while seen.lock().unwrap_or_else(|e| e.into_inner()).values().map(Vec::len).sum::<usize>() < total && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut latencies: Vec<u128> = Vec::new();
    let seen = seen.lock().unwrap_or_else(|e| e.into_inner()).clone();
    for (building, mut at) in charged.lock().unwrap_or_else(|e| e.into_inner()).clone() {
        at.sort();
        let shown = seen.get(&building).cloned().unwrap_or_default();
        for (i, charged_at) in at.iter().enumerate() {
            if let Some(on_screen) = shown.get(i) {
                latencies.push(on_screen.saturating_duration_since(*charged_at).as_millis());
            }
        }
    }
    latencies.sort_unstable();
    let booked = metric(addr, "hutong_pay_notifications_total");
    println!();
    println!("| payments | clients | took | payments/s | notifications verified+booked/s | on the manager's screen | p50 ms | p99 ms | max ms |");
    println!("|---|---|---|---|---|---|---|---|---|");
    println!(
        "| {paid} | {} | {:.1} s | {} | {} | {} | {} | {} | {} |",
        options.clients,
        paying.as_secs_f64(),
        paid as u128 * 1000 / paying.as_millis().max(1),
        booked as u128 * 1000 / paying.as_millis().max(1),
        latencies.len(),
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        latencies.last().copied().unwrap_or(0),
    );
    Ok(())
}
