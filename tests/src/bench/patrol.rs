//! `hutong-bench patrol`: ten thousand patrol routes whose windows close in the same second.
//!
//! The server runs in a process of its own (the demo, on the log journal). The bench sets up, as
//! a company's administrator would over the API, communities of at most 500 routes (a
//! community's limit) — 20 communities for 10,000 routes, each with a checkpoint and its routes,
//! every route one round whose only window closes at the same instant `T`. Nobody walks them.
//! A control-room wall is open on every community. At `T` every route's actor settles, each miss
//! is journaled on the route and raised at its community's alarm desk, and the wall shows it.
//!
//! It prints the time from `T` to each miss alarm's arrival on its community's wall (p50 / p99 /
//! max), how many arrived within a second and how many never did, the server's memory per route
//! (its RSS grown by setting the routes up, divided by their number) and its CPU around `T`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use futures_util::StreamExt;
use hutong_core::live::{AlarmKind, LiveBody, ServerMessage};
use tokio_tungstenite::tungstenite::Message;

use super::{Socket, cpu_ticks, open_socket, proc_field, send as put, sign_in};
use crate::{http, http_get};

#[derive(Debug, Clone, clap::Args)]
pub struct PatrolBench {
    /// Routes, in communities of at most 500 each.
    #[arg(long, default_value_t = 10_000)]
    pub routes: usize,
    /// Seconds from the start of the set-up to the instant every window closes (the set-up must
    /// finish before it).
    #[arg(long, default_value_t = 45)]
    pub lead: u64,
    /// Requests setting routes up at once.
    #[arg(long, default_value_t = 16)]
    pub clients: usize,
    #[command(flatten)]
    pub server: super::ServeArgs,
}

/// A community's limit of routes.
const PER_COMMUNITY: usize = hutong_core::patrol::MAX_ROUTES;
const ZONE: chrono_tz::Tz = chrono_tz::Asia::Shanghai;

pub async fn patrol(options: PatrolBench) -> anyhow::Result<()> {
    if let Some(served) = options.server.run().await {
        return served;
    }
    let server = super::ServerProcess::spawn("patrol")?;
    run(&options, server.addr, server.pid).await
}

fn community(i: usize) -> String {
    format!("pbench-{i:02}")
}

/// The route ids of community `c`: `r0000`…
fn routes_of(options: &PatrolBench, c: usize) -> std::ops::Range<usize> {
    c * PER_COMMUNITY..((c + 1) * PER_COMMUNITY).min(options.routes)
}

async fn run(options: &PatrolBench, addr: SocketAddr, pid: u32) -> anyhow::Result<()> {
    let started = Instant::now();
    crate::wait_for("the server", Duration::from_secs(120), async || {
        matches!(http_get(addr, "/healthz"), Ok((200, _))).then_some(())
    })
    .await;
    println!("server ready in {:.1?} (pid {pid})", started.elapsed());
    let admin = sign_in(addr, "admin").await?;
    let closes = (Utc::now() + TimeDelta::seconds(options.lead as i64))
        .duration_trunc(TimeDelta::seconds(1))?;
    let communities = options.routes.div_ceil(PER_COMMUNITY);

    // Communities, each with one checkpoint by its gate.
    for c in 0..communities {
        let id = community(c);
        let plan = serde_json::json!({
            "id": id, "name": format!("巡更压测{c}"), "time_zone": ZONE.name(),
            "buildings": [{"no": 1, "units": [{"no": 1, "floors": [{"no": 1, "rooms": [{"room": "101", "area": "90"}]}]}]}],
        });
        put(
            addr,
            &admin,
            "POST",
            "/api/v1/communities",
            plan.to_string(),
        )
        .await?;
        put(
            addr,
            &admin,
            "PUT",
            &format!("/api/v1/communities/{id}/patrol/checkpoints/gate"),
            r#"{"name":"大门","position":[10,10]}"#.into(),
        )
        .await?;
    }
    let rss_before = proc_field(pid, "status", "VmRSS:");

    // Every route: one round a day whose only window (give or take a minute) closes at `closes`.
    let start = (closes - TimeDelta::minutes(1))
        .with_timezone(&ZONE)
        .format("%H:%M:%S")
        .to_string();
    let setting_up = Instant::now();
    let jobs: Vec<(String, String)> = (0..communities)
        .flat_map(|c| routes_of(options, c).map(move |r| (community(c), format!("r{r:05}"))))
        .collect();
    let jobs = std::sync::Arc::new(std::sync::Mutex::new(jobs));
    let mut workers = Vec::new();
    for _ in 0..options.clients.max(1) {
        let (jobs, admin, start) = (jobs.clone(), admin.clone(), start.clone());
        workers.push(tokio::task::spawn_blocking(move || -> anyhow::Result<usize> {
            let mut done = 0;
            while let Some((c, route)) = jobs.lock().unwrap_or_else(|e| e.into_inner()).pop() {
                let body = format!(r#"{{"name":"夜巡 {route}","stops":[{{"checkpoint":"gate","after_mins":0}}],"plan":{{"starts":["{start}"],"tolerance_mins":1}}}}"#);
                let (status, reply) = http(addr, "PUT", &format!("/api/v1/communities/{c}/patrol/routes/{route}"), Some(&admin), Some(&body))?;
                anyhow::ensure!(status == 200, "route {c}/{route} refused: {status} {reply}");
                done += 1;
            }
            Ok(done)
        }));
    }
    let mut defined = 0;
    for worker in workers {
        defined += worker.await??;
    }
    let took = setting_up.elapsed();
    let rss_after = proc_field(pid, "status", "VmRSS:");
    println!(
        "{defined} routes in {communities} communities set up over HTTP in {took:.1?} ({:.0} routes/s)",
        defined as f64 / took.as_secs_f64().max(1e-9)
    );
    let left = closes - Utc::now();
    anyhow::ensure!(
        left > TimeDelta::seconds(5),
        "the set-up ran past the windows' close ({left} left): give a longer --lead"
    );

    // A control-room wall on every community (an admin sign-in holds 8 sockets).
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(String, DateTime<Utc>)>();
    let mut token = String::new();
    for c in 0..communities {
        if c % 8 == 0 {
            token = sign_in(addr, "admin").await?;
        }
        let socket = open_socket(addr, &format!("/ws?community={}", community(c)), &token).await?;
        tokio::spawn(read_wall(socket, tx.clone()));
    }
    drop(tx);
    println!(
        "{communities} walls open; every window closes at {} ({:.0} s from now)",
        closes.with_timezone(&ZONE).format("%H:%M:%S"),
        left.as_seconds_f64()
    );

    // Until every miss has arrived, or 30 s after the close.
    let until = tokio::time::Instant::now()
        + (closes - Utc::now()).to_std().unwrap_or_default()
        + Duration::from_secs(30);
    let mut cpu_at_close = None;
    let mut arrived: HashMap<String, DateTime<Utc>> = HashMap::with_capacity(defined);
    while arrived.len() < defined {
        if cpu_at_close.is_none() && Utc::now() >= closes - TimeDelta::milliseconds(200) {
            cpu_at_close = Some((cpu_ticks(pid), Instant::now()));
        }
        match tokio::time::timeout_at(
            until.min(tokio::time::Instant::now() + Duration::from_millis(100)),
            rx.recv(),
        )
        .await
        {
            Ok(Some((alarm, at))) => {
                arrived.entry(alarm).or_insert(at);
            }
            Ok(None) => break,
            Err(_) if tokio::time::Instant::now() >= until => break,
            Err(_) => {}
        }
    }
    let cpu = cpu_at_close.map(|(ticks, at)| (cpu_ticks(pid).saturating_sub(ticks), at.elapsed()));

    // Milliseconds from the close to each arrival, in order; the nearest rank for a percentile.
    let mut lags: Vec<i64> = arrived.values().map(|at| (*at - closes).num_milliseconds()).collect();
    lags.sort_unstable();
    let at = |percent: usize| lags.get(lags.len().saturating_sub(1) * percent / 100).map_or_else(|| "-".to_string(), i64::to_string);
    let within = lags.iter().filter(|l| **l <= 1000).count();
    let early = lags.iter().filter(|l| **l < 0).count();
    let per_route_kib = (rss_after.saturating_sub(rss_before)) as f64 / defined.max(1) as f64;
    println!();
    println!(
        "| routes | communities | misses on the walls | within 1 s | never | before the close | close → wall p50 ms | p99 ms | max ms | RSS per route KiB | server CPU s (close → last) |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    println!(
        "| {defined} | {communities} | {} | {within} | {} | {early} | {} | {} | {} | {per_route_kib:.1} | {} |",
        arrived.len(),
        defined - arrived.len().min(defined),
        at(50),
        at(99),
        at(100),
        // CPU ticks are hundredths of a second.
        cpu.map_or("-".into(), |(ticks, over)| format!("{}.{:02} over {over:.1?}", ticks / 100, ticks % 100)),
    );
    println!(
        "machine: {} cores; the server and this load share them",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    anyhow::ensure!(
        arrived.len() >= defined,
        "{} misses never reached a wall",
        defined - arrived.len()
    );
    Ok(())
}

/// Tells, for every patrol-miss alarm the wall shows (live, or in a snapshot after a resync),
/// its condition and when it arrived.
async fn read_wall(
    mut socket: Socket,
    seen: tokio::sync::mpsc::UnboundedSender<(String, DateTime<Utc>)>,
) {
    while let Some(Ok(message)) = socket.next().await {
        let now = Utc::now();
        let Message::Text(text) = message else {
            continue;
        };
        let Ok(message) = serde_json::from_str::<ServerMessage>(&text) else {
            continue;
        };
        let alarms: Vec<&hutong_core::alarm::AlarmRecord> = match &message {
            ServerMessage::Snapshot(wall) => wall.open_alarms.iter().collect(),
            other => other
                .events()
                .iter()
                .filter_map(|e| {
                    if let LiveBody::Alarm { alarm } = &e.body {
                        Some(alarm)
                    } else {
                        None
                    }
                })
                .collect(),
        };
        for alarm in alarms
            .into_iter()
            .filter(|a| a.kind == AlarmKind::PatrolMissed)
        {
            if seen.send((alarm.device.to_string(), now)).is_err() {
                return;
            }
        }
    }
}
