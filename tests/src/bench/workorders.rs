//! `hutong-bench workorders`: a hundred thousand open work orders, each an actor with its own
//! deadline timer, and a thousand of them passing their response deadline in the same second.
//!
//! The server runs in a process of its own (the demo, on the log journal). The bench creates
//! communities as an administrator would, and registers the orders over the API: first the
//! background — orders with the default rules, whose deadlines lie half an hour ahead — spread over
//! the communities; then, in the first community, whose rules give one minute to respond, the
//! burst: as fast as the clients can, so their deadlines fall within about a second of each other.
//! Nobody accepts them. The dispatcher's board (`/ws/work`) is open on that community; when a
//! deadline passes, the order's actor escalates it at that instant and the board receives it.
//!
//! It prints, for the burst, the spread of the deadlines, the time from each order's own deadline
//! to its escalation on the board (p50 / p99 / max), how many arrived within a second and how many
//! never did; and the server's memory per open order (its RSS grown by the registrations, divided
//! by their number) and the registration rate.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use futures_util::StreamExt;
use hutong_core::live::{LiveBody, ServerMessage};
use tokio_tungstenite::tungstenite::Message;

use super::{Socket, cpu_ticks, open_socket, proc_field, send, sign_in};
use crate::{http, http_get};

#[derive(Debug, Clone, clap::Args)]
pub struct WorkOrdersBench {
    /// Open orders in all (the burst included).
    #[arg(long, default_value_t = 100_000)]
    pub orders: usize,
    /// Orders whose response deadline passes in the same second.
    #[arg(long, default_value_t = 1_000)]
    pub burst: usize,
    /// Communities the orders are spread over.
    #[arg(long, default_value_t = 20)]
    pub communities: usize,
    /// Requests registering orders at once.
    #[arg(long, default_value_t = 16)]
    pub clients: usize,
    #[command(flatten)]
    pub server: super::ServeArgs,
}

pub async fn workorders(options: WorkOrdersBench) -> anyhow::Result<()> {
    if let Some(served) = options.server.run().await {
        return served;
    }
    let mut server = super::ServerProcess::spawn("workorders")?;
    run(&options, server.addr, server.pid).await?;
    restart(&mut server, options.orders).await
}

/// `kill -9` with every order open, and the server again: time until it answers ready (every
/// order's actor recovered from its journal, its timer armed), and its memory then.
async fn restart(server: &mut super::ServerProcess, orders: usize) -> anyhow::Result<()> {
    let addr = server.addr;
    server.restart()?;
    let started = Instant::now();
    crate::wait_for("the server again", Duration::from_secs(600), async || matches!(http_get(addr, "/healthz"), Ok((200, _))).then_some(())).await;
    let ready = started.elapsed();
    let rss = proc_field(server.pid, "status", "VmRSS:");
    println!();
    println!("| open orders | kill -9 → ready ms | RSS after restart MiB |");
    println!("|---|---|---|");
    println!("| {orders} | {} | {} |", ready.as_millis(), rss / 1024);
    Ok(())
}

fn community(i: usize) -> String {
    format!("wbench-{i:02}")
}

async fn run(options: &WorkOrdersBench, addr: SocketAddr, pid: u32) -> anyhow::Result<()> {
    let started = Instant::now();
    crate::wait_for("the server", Duration::from_secs(120), async || matches!(http_get(addr, "/healthz"), Ok((200, _))).then_some(())).await;
    println!("server ready in {:.1?} (pid {pid})", started.elapsed());
    let admin = sign_in(addr, "admin").await?;
    let communities = options.communities.max(1);
    for c in 0..communities {
        let plan = serde_json::json!({
            "id": community(c), "name": format!("工单压测{c}"), "time_zone": "Asia/Shanghai",
            "buildings": [{"no": 1, "units": [{"no": 1, "floors": [{"no": 1, "rooms": [{"room": "101", "area": "90"}]}]}]}],
        });
        send(addr, &admin, "POST", "/api/v1/communities", plan.to_string()).await?;
    }
    let rss_before = proc_field(pid, "status", "VmRSS:");

    // The background: every community's share, deadlines half an hour ahead.
    let background = options.orders.saturating_sub(options.burst);
    let jobs: Vec<String> = (0..background).map(|i| community(i % communities)).collect();
    let registering = Instant::now();
    register(addr, &admin, jobs, options.clients, "公共区域照明").await?;
    let took = registering.elapsed();
    println!("{background} background orders in {communities} communities registered over HTTP in {took:.1?} ({} orders/s)", background as u128 * 1000 / took.as_millis().max(1));

    // The burst community gives one minute to respond; its board is open.
    let rules: serde_json::Value = serde_json::from_str(&http(addr, "GET", &format!("/api/v1/communities/{}/work-orders/rules", community(0)), Some(&admin), None)?.1)?;
    let mut rules = rules;
    for urgency in ["normal", "urgent", "critical"] {
        rules[urgency]["respond_mins"] = 1.into();
    }
    send(addr, &admin, "PUT", &format!("/api/v1/communities/{}/work-orders/rules", community(0)), rules.to_string()).await?;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(String, DateTime<Utc>, DateTime<Utc>)>();
    let socket = open_socket(addr, &format!("/ws/work?community={}", community(0)), &admin).await?;
    tokio::spawn(read_board(socket, tx));

    let bursting = Instant::now();
    register(addr, &admin, vec![community(0); options.burst], options.clients.max(32), "消防通道门闭门器损坏").await?;
    let burst_took = bursting.elapsed();
    let rss_after = proc_field(pid, "status", "VmRSS:");
    println!("{} burst orders registered in {burst_took:.1?}; their response deadlines pass about a minute from now", options.burst);

    // Until every burst order's escalation has arrived, or 30 s after the last deadline.
    let until = tokio::time::Instant::now() + Duration::from_secs(60) + burst_took + Duration::from_secs(30);
    let mut cpu_at_first = None;
    let mut arrived: HashMap<String, (DateTime<Utc>, DateTime<Utc>)> = HashMap::with_capacity(options.burst);
    let first_deadline = Utc::now() + TimeDelta::seconds(60) - TimeDelta::from_std(burst_took).unwrap_or_default();
    while arrived.len() < options.burst {
        if cpu_at_first.is_none() && Utc::now() >= first_deadline - TimeDelta::milliseconds(500) {
            cpu_at_first = Some((cpu_ticks(pid), Instant::now()));
        }
        match tokio::time::timeout_at(until.min(tokio::time::Instant::now() + Duration::from_millis(100)), rx.recv()).await {
            Ok(Some((order, due, at))) => {
                arrived.entry(order).or_insert((due, at));
            }
            Ok(None) => break,
            Err(_) if tokio::time::Instant::now() >= until => break,
            Err(_) => {}
        }
    }
    let cpu = cpu_at_first.map(|(ticks, at)| (cpu_ticks(pid).saturating_sub(ticks), at.elapsed()));

    let deadlines: Vec<DateTime<Utc>> = arrived.values().map(|(due, _)| *due).collect();
    let spread = match (deadlines.iter().min(), deadlines.iter().max()) {
        (Some(a), Some(b)) => (*b - *a).num_milliseconds(),
        _ => 0,
    };
    let mut lags: Vec<i64> = arrived.values().map(|(due, at)| (*at - *due).num_milliseconds()).collect();
    lags.sort_unstable();
    let at = |percent: usize| lags.get(lags.len().saturating_sub(1) * percent / 100).map_or_else(|| "-".to_string(), i64::to_string);
    let within = lags.iter().filter(|l| **l <= 1000).count();
    let early = lags.iter().filter(|l| **l < 0).count();
    let total = background + options.burst;
    // Whole bytes per order, shown in KiB with one decimal (integers only).
    let per_order_tenths = rss_after.saturating_sub(rss_before) * 10 / total.max(1) as u64;
    println!();
    println!("| open orders | communities | burst | deadlines spread ms | escalations on the board | within 1 s | never | before the deadline | deadline → board p50 ms | p99 ms | max ms | RSS per order KiB | server CPU s (first deadline → last) |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    println!(
        "| {total} | {communities} | {} | {spread} | {} | {within} | {} | {early} | {} | {} | {} | {}.{} | {} |",
        options.burst,
        arrived.len(),
        options.burst - arrived.len().min(options.burst),
        at(50),
        at(99),
        at(100),
        per_order_tenths / 10,
        per_order_tenths % 10,
        // CPU ticks are hundredths of a second.
        cpu.map_or("-".into(), |(ticks, over)| format!("{}.{:02} over {over:.1?}", ticks / 100, ticks % 100)),
    );
    println!("machine: {} cores; the server and this load share them", std::thread::available_parallelism().map_or(0, |n| n.get()));
    anyhow::ensure!(arrived.len() >= options.burst, "{} escalations never reached the board", options.burst - arrived.len());
    Ok(())
}

/// Registers an order in each community listed, `clients` requests at a time.
async fn register(addr: SocketAddr, token: &str, jobs: Vec<String>, clients: usize, place: &str) -> anyhow::Result<()> {
    let body = serde_json::json!({"kind": "repair", "category": "公共设施", "description": "压测工单：请安排维修", "place": place}).to_string();
    let jobs = std::sync::Arc::new(std::sync::Mutex::new(jobs));
    let mut workers = Vec::new();
    for _ in 0..clients.max(1) {
        let (jobs, token, body) = (jobs.clone(), token.to_string(), body.clone());
        workers.push(tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
            while let Some(c) = jobs.lock().unwrap_or_else(|e| e.into_inner()).pop() {
                let (status, reply) = http(addr, "POST", &format!("/api/v1/communities/{c}/work-orders"), Some(&token), Some(&body))?;
                anyhow::ensure!(status == 200, "an order in {c} refused: {status} {reply}");
            }
            Ok(())
        }));
    }
    for worker in workers {
        worker.await??;
    }
    Ok(())
}

/// Tells, for every order the board shows escalated (live, or in a snapshot after a resync), its
/// id, its response deadline and when the board had it.
async fn read_board(mut socket: Socket, seen: tokio::sync::mpsc::UnboundedSender<(String, DateTime<Utc>, DateTime<Utc>)>) {
    while let Some(Ok(message)) = socket.next().await {
        let now = Utc::now();
        let Message::Text(text) = message else { continue };
        let Ok(message) = serde_json::from_str::<ServerMessage>(&text) else { continue };
        let orders: Vec<&hutong_core::work_order::WorkOrderTile> = match &message {
            ServerMessage::WorkSnapshot(s) => s.orders.iter().collect(),
            other => other.events().iter().filter_map(|e| if let LiveBody::WorkOrder { order } = &e.body { Some(order) } else { None }).collect(),
        };
        for order in orders.into_iter().filter(|o| o.escalation > 0) {
            if seen.send((order.id.to_string(), order.respond_by, now)).is_err() {
                return;
            }
        }
    }
}
