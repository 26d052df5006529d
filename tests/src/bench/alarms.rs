//! `hutong-bench alarms`: an alarm storm on the log journal (R8, M4) — every meter of a community
//! going wrong at once, each seen again and again, and one meter alone seen ten thousand times.
//!
//! Each anomaly is a durable device event; the community's alarm desk folds repeats of a
//! condition into its open alarm (count, last seen) and journals what it saw in batches. The
//! bench prints how long the storm takes to be durable and folded, how many alarms it left open,
//! and how many alarm lines a wall screen received for it through the real fan-out (one per
//! alarm as it stands after each tick, not one per anomaly).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hutong_core::alarm::AlarmRecord;

use hutong_actors::journal::{Journal, LogJournal, LogOptions};
use hutong_actors::{Directory, LiveHub, Metrics};
use hutong_core::live::{LiveBody, ServerMessage, Sight};
use hutong_web::fanout::{Fanout, Feed, Frame, TopicKey};
use tokio_util::sync::CancellationToken;

use super::Scratch;
use super::recovery::{metered, reading, start};

#[derive(Debug, Clone, clap::Args)]
pub struct AlarmsBench {
    /// Meters going wrong at once (one per home).
    #[arg(long, default_value_t = 1_000)]
    pub meters: usize,
    /// Readings going backwards from each of them.
    #[arg(long, default_value_t = 10)]
    pub repeats: u64,
    /// Readings going backwards from one meter alone, afterwards.
    #[arg(long, default_value_t = 10_000)]
    pub single: u64,
}

/// What one storm cost.
struct Storm {
    anomalies: u64,
    durable: Duration,
    folded: Duration,
    /// Until the wall screen showed every alarm as the desk folded it.
    shown: Duration,
    lines: usize,
}

/// What the wall screen received: its alarm lines, and each alarm as its latest line shows it.
#[derive(Default)]
struct Screen {
    lines: usize,
    alarms: BTreeMap<u64, AlarmRecord>,
}

impl Screen {
    fn open(&self) -> Vec<AlarmRecord> {
        self.alarms.values().filter(|a| a.is_open()).cloned().collect()
    }
}

pub async fn alarms(options: AlarmsBench) -> anyhow::Result<()> {
    let scratch = Scratch::new("alarms")?;
    let journal: Arc<dyn Journal> = Arc::new(LogJournal::open(LogOptions::new(&scratch.0.join("log")))?);
    let (community, specs) = metered(options.meters as u32, options.meters);
    let (directory, hub) = (Arc::new(Directory::new()), LiveHub::new());
    let actor = start(&community, &specs, journal, directory.clone(), hub.clone()).await?;
    let c = community.id.as_str();

    // Each meter's first reading, high: what follows goes backwards.
    let mut acks = Vec::new();
    for spec in &specs {
        let (msg, rx) = reading(1, 1_000_000);
        directory.send_device(c, spec.id.as_str(), msg)?;
        acks.push(rx);
    }
    for rx in acks.drain(..) {
        rx.await?;
    }
    hub.take_published();

    // A wall screen on the community, through the fan-out the server runs.
    let fanout = Fanout::new(Metrics::new());
    let (_topic, mut frames) = fanout.subscribe(&TopicKey { community: community.id.clone(), feed: Feed::Wall, sight: Sight::All });
    let stop = CancellationToken::new();
    tokio::spawn(fanout.clone().run(hub.clone(), stop.clone()));
    let screen = Arc::new(Mutex::new(Screen::default()));
    let seen = screen.clone();
    tokio::spawn(async move {
        while let Ok(frame) = frames.recv().await {
            if let Frame::Events { text, .. } = frame
                && let Ok(ServerMessage::Events { events }) = serde_json::from_str::<ServerMessage>(&text)
            {
                let mut screen = seen.lock().unwrap_or_else(|e| e.into_inner());
                for event in events {
                    if let LiveBody::Alarm { alarm } = event.body {
                        screen.lines += 1;
                        screen.alarms.insert(alarm.no, alarm);
                    }
                }
            }
        }
    });

    // Every meter at once, each `repeats` times.
    let meters: Vec<&str> = specs.iter().map(|s| s.id.as_str()).collect();
    let wide = storm(&directory, &hub, &screen, c, &meters, (2, options.repeats), |open| {
        open.len() == options.meters && open.iter().all(|a| a.count == options.repeats)
    })
    .await?;
    // One meter alone, `single` more times: its open alarm counts on.
    let alone = [meters[0]];
    let total = options.repeats + options.single;
    let narrow = storm(&directory, &hub, &screen, c, &alone, (2 + options.repeats, options.single), |open| open.iter().any(|a| a.device.as_str() == alone[0] && a.count == total)).await?;
    let (open, _) = hub.alarms(c).unwrap_or_default();

    println!("| storm | anomalies | all durable | all folded on the alarm desk | all shown on a wall screen | anomalies/s | alarms open after | alarm lines on a wall screen |");
    println!("|---|---|---|---|---|---|---|---|");
    for (name, s, alarms) in [(format!("{} meters × {}", options.meters, options.repeats), &wide, options.meters), (format!("1 meter × {}", options.single), &narrow, 1)] {
        #[allow(clippy::float_arithmetic)]
        let rate = s.anomalies as f64 / s.folded.max(s.durable).as_secs_f64();
        println!("| {name} | {} | {:.2?} | {:.2?} | {:.2?} | {rate:.0} | {alarms} | {} |", s.anomalies, s.durable, s.folded, s.shown, s.lines);
    }
    println!("open alarms at the end: {} (the single meter's counted {})", open.len(), open.iter().find(|a| a.device.as_str() == alone[0]).map_or(0, |a| a.count));
    stop.cancel();
    actor.stop_and_wait(None, Some(Duration::from_secs(60))).await?;
    Ok(())
}

/// Sends `repeats` readings going backwards from each of `meters` at once (sequence numbers from
/// `first_seq`: a number seen before would be a redelivery, not an anomaly) and waits until they
/// are durable and `folded` says the desk's alarms, then the wall screen's, are as they should
/// be; counts the alarm lines the screen received meanwhile.
async fn storm(directory: &Directory, hub: &LiveHub, screen: &Mutex<Screen>, community: &str, meters: &[&str], (first_seq, repeats): (u64, u64), folded: impl Fn(&[AlarmRecord]) -> bool) -> anyhow::Result<Storm> {
    let on_screen = || {
        let screen = screen.lock().unwrap_or_else(|e| e.into_inner());
        (screen.lines, screen.open())
    };
    let t = Instant::now();
    let mut acks = Vec::new();
    for k in 0..repeats {
        for meter in meters {
            let (msg, rx) = reading(first_seq + k, 999_000 - k as i64);
            directory.send_device(community, meter, msg)?;
            acks.push(rx);
        }
    }
    // Durable once every reading is acknowledged.
    let durable = tokio::spawn(async move {
        for rx in acks {
            let _ = rx.await;
        }
        t.elapsed()
    });
    let (before, _) = on_screen();
    let deadline = Instant::now() + Duration::from_secs(60);
    // Folded on the desk, then shown so on the screen (what the last frames carried).
    let mut done = None;
    let shown = loop {
        if Instant::now() > deadline {
            let (open, _) = hub.alarms(community).unwrap_or_default();
            let counts: BTreeMap<String, usize> = open.iter().map(|a| format!("{:?}×{}", a.kind, a.count)).fold(Default::default(), |mut m, k| {
                *m.entry(k).or_default() += 1;
                m
            });
            anyhow::bail!("the storm was not folded and shown within a minute: {} open alarms on the desk, by kind × count {counts:?}; {} on the screen", open.len(), on_screen().1.len());
        }
        if done.is_none() && hub.alarms(community).is_some_and(|(open, _)| folded(&open)) {
            done = Some(t.elapsed());
        }
        if done.is_some() && folded(&on_screen().1) {
            break t.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    };
    let durable = durable.await?;
    let lines = on_screen().0 - before;
    Ok(Storm { anomalies: repeats * meters.len() as u64, durable, folded: done.unwrap_or(shown), shown, lines })
}
