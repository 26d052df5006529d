//! Actor tests on the in-memory journal: the live path inside one process, heartbeats with paused
//! time, and supervision restarting a failed device from its journal.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use hutong_actors::community::{self, CommunityArgs};
use hutong_actors::device::{DeviceMsg, IngestOutcome};
use hutong_actors::journal::{Journal, MemoryJournal};
use hutong_actors::{Clock, Directory, LiveHub, Metrics};
use hutong_core::alarm::{AlarmCommand, AlarmError, AlarmRecord, Handler};
use hutong_core::building::TileLevel;
use hutong_core::community::{Building, Community};
use hutong_core::device::{DeviceCommand, DeviceEvent, DeviceHealth, DeviceKind, DeviceSpec, Signal};
use hutong_core::live::{AlarmKind, LiveBody, Sight};
use hutong_actors::hub::Envelope;
use hutong_core::{BuildingId, CommunityId, DeviceId};
use rust_decimal::Decimal;
use tokio::sync::oneshot;

struct World {
    journal: Arc<dyn Journal>,
    hub: Arc<LiveHub>,
    directory: Arc<Directory>,
    metrics: Arc<Metrics>,
    clock: Clock,
}

fn tiny_community() -> (Arc<Community>, Vec<DeviceSpec>) {
    let community = Community {
        id: CommunityId::new("c1"),
        name: "测试用小区".into(),
        time_zone: "Asia/Shanghai".into(),
        buildings: vec![Building { id: BuildingId::new("c1-b1"), no: 1, name: "1号楼".into(), units: vec![] }],
        meter_rules: Default::default(),
    };
    let meter = |id: &str, heartbeat_secs| DeviceSpec {
        id: DeviceId::new(id),
        kind: DeviceKind::WaterMeter,
        community: community.id.clone(),
        building: Some(BuildingId::new("c1-b1")),
        house: None,
        heartbeat_secs,
    };
    let devices = vec![meter("wm-1", 60), meter("wm-2", 600)];
    (Arc::new(community), devices)
}

impl World {
    fn new() -> Self {
        Self {
            journal: Arc::new(MemoryJournal::new()),
            hub: LiveHub::new(),
            directory: Arc::new(Directory::new()),
            metrics: Metrics::new(),
            clock: Clock::starting_at(DateTime::from_timestamp(1_700_000_000, 0).unwrap()),
        }
    }

    async fn start(&self) -> ractor::ActorRef<community::CommunityMsg> {
        let (community, devices) = tiny_community();
        self.start_with(community, devices).await
    }

    async fn start_with(&self, community: Arc<Community>, devices: Vec<DeviceSpec>) -> ractor::ActorRef<community::CommunityMsg> {
        community::start(CommunityArgs {
            community,
            devices,
            journal: self.journal.clone(),
            hub: self.hub.clone(),
            directory: self.directory.clone(),
            metrics: self.metrics.clone(),
            clock: self.clock,
            notices: Arc::new(hutong_actors::building::NoNotices),
            staffing: Arc::new(hutong_actors::work_order::NoStaff),
        })
        .await
        .unwrap()
    }

    fn signal(&self, seq: u64) -> Signal {
        let now: DateTime<Utc> = self.clock.now();
        Signal { seq, boot: 0, at: now, seen: now }
    }

    async fn read(&self, device: &str, seq: u64, value: i64) -> IngestOutcome {
        self.read_at("c1", device, seq, value).await
    }

    async fn read_at(&self, community: &str, device: &str, seq: u64, value: i64) -> IngestOutcome {
        let (tx, rx) = oneshot::channel();
        let cmd = DeviceCommand::RecordReading { signal: self.signal(seq), value: Decimal::new(value, 1) };
        self.directory.send_device(community, device, DeviceMsg::Signal(cmd, Some(tx))).expect("device registered");
        rx.await.unwrap()
    }

    /// The device's actor, woken if it sleeps.
    async fn awake(&self, device: &str) -> ractor::ActorRef<DeviceMsg> {
        loop {
            if let Some(actor) = self.directory.device("c1", device) {
                return actor;
            }
            let (tx, rx) = oneshot::channel();
            self.directory.send_device("c1", device, DeviceMsg::Get(tx.into())).unwrap();
            let _ = rx.await;
        }
    }
}

/// What the hub publishes from now on, one event at a time (the web's fan-out does not run here).
struct Bus {
    hub: Arc<LiveHub>,
    queue: std::collections::VecDeque<Arc<Envelope>>,
}

impl Bus {
    fn new(hub: Arc<LiveHub>) -> Self {
        hub.take_published();
        Self { hub, queue: Default::default() }
    }

    async fn recv(&mut self) -> Arc<Envelope> {
        loop {
            if let Some(envelope) = self.queue.pop_front() {
                return envelope;
            }
            let published = self.hub.take_published();
            if published.events.is_empty() {
                self.hub.published().await;
            }
            self.queue.extend(published.events);
        }
    }
}

#[tokio::test]
async fn a_reading_is_journaled_then_published_and_acked() {
    let w = World::new();
    let _sup = w.start().await;
    let mut bus = Bus::new(w.hub.clone());
    assert_eq!(w.read("wm-1", 1, 1000).await, IngestOutcome::Applied);
    // Building tiles may still be settling from start-up; the device's event is what we wait for.
    let env = loop {
        let env = bus.recv().await;
        if matches!(env.event.body, LiveBody::Device { .. }) {
            break env;
        }
    };
    assert!(matches!(&env.event.body, LiveBody::Device { event: DeviceEvent::ReadingAccepted { .. }, .. }));
    assert_eq!(env.event.seq, 1);
    assert!(env.json.contains("\"seq\":1"), "encoded once, as published: {}", env.json);
    let records = w.journal.replay("device/c1/wm-1", 0).await.unwrap();
    assert_eq!(records.len(), 1, "journaled before it was acknowledged");
    assert_eq!(w.hub.device("c1", "wm-1").unwrap().last_value, Some(Decimal::new(1000, 1)));
}

#[tokio::test]
async fn a_redelivered_signal_is_acked_as_duplicate_and_journals_nothing() {
    let w = World::new();
    let _sup = w.start().await;
    w.read("wm-1", 7, 1000).await;
    assert_eq!(w.read("wm-1", 7, 1000).await, IngestOutcome::Duplicate);
    assert_eq!(w.journal.replay("device/c1/wm-1", 0).await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_spike_turns_the_building_tile_red() {
    let w = World::new();
    let _sup = w.start().await;
    for (i, v) in [1000, 1003, 1006, 1009, 1012].into_iter().enumerate() {
        w.read("wm-1", i as u64 + 1, v).await;
    }
    let mut bus = Bus::new(w.hub.clone());
    w.read("wm-1", 6, 1500).await;
    let mut saw_alarm = false;
    let mut tile_red = false;
    while !(saw_alarm && tile_red) {
        let env = tokio::time::timeout(Duration::from_secs(2), bus.recv()).await.unwrap();
        saw_alarm |= env.event.alarm().is_some();
        if let LiveBody::Building { health, .. } = &env.event.body {
            tile_red |= health.level() == TileLevel::Alarm;
        }
    }
    let (_, snapshot) = w.hub.wall_snapshot("c1", &Sight::All).unwrap();
    assert_eq!(snapshot.buildings[0].health.level(), TileLevel::Alarm);
    assert!(snapshot.alarms[0].text.contains("用量突增"));
}

#[tokio::test(start_paused = true)]
async fn a_silent_device_raises_an_offline_alarm_when_its_interval_passes() {
    let w = World::new();
    let _sup = w.start().await;
    w.read("wm-1", 1, 1000).await;
    let mut bus = Bus::new(w.hub.clone());
    // Not yet: 59 s of silence.
    tokio::time::sleep(Duration::from_secs(59)).await;
    assert_eq!(w.hub.device("c1", "wm-1").unwrap().health, DeviceHealth::Ok);
    // A signal re-arms the deadline from the moment it was heard.
    w.read("wm-1", 2, 1001).await;
    tokio::time::sleep(Duration::from_secs(59)).await;
    assert_eq!(w.hub.device("c1", "wm-1").unwrap().health, DeviceHealth::Ok);
    let env = loop {
        let env = tokio::time::timeout(Duration::from_secs(5), bus.recv()).await.unwrap();
        if env.event.alarm().is_some() {
            break env;
        }
    };
    assert!(matches!(&env.event.body, LiveBody::Device { device, event: DeviceEvent::WentOffline { .. }, .. } if device.as_str() == "wm-1"));
    assert_eq!(w.hub.device("c1", "wm-1").unwrap().health, DeviceHealth::Offline);
    // The other meter has a 10-minute interval and is still fine.
    assert_eq!(w.hub.device("c1", "wm-2").unwrap().health, DeviceHealth::Ok);
    // The alarm desk holds it open, unhandled.
    let (open, _) = wait_alarms(&w, |open, _| !open.is_empty()).await;
    assert_eq!((open[0].kind, open[0].device.as_str(), open[0].acknowledged.is_none()), (AlarmKind::DeviceOffline, "wm-1", true));
    // It comes back with its next signal, and its offline alarm is resolved by the system.
    w.read("wm-1", 3, 1002).await;
    assert_eq!(w.hub.device("c1", "wm-1").unwrap().health, DeviceHealth::Ok);
    let (_, resolved) = wait_alarms(&w, |open, _| open.is_empty()).await;
    assert_eq!(resolved[0].resolved.as_ref().map(|r| r.by.is_none()), Some(true));
}

/// Moves the paused clock on by `d`: every timer due on the way fires in order, and nothing
/// really waits (these tests run with `start_paused`).
async fn pass(d: Duration) {
    tokio::time::sleep(d).await;
}

/// The hub's alarms once `ready` says so (the desk hears devices asynchronously).
async fn wait_alarms(w: &World, ready: impl Fn(&[AlarmRecord], &[AlarmRecord]) -> bool) -> (Vec<AlarmRecord>, Vec<AlarmRecord>) {
    for _ in 0..1000 {
        let (open, resolved) = w.hub.alarms("c1").unwrap();
        if ready(&open, &resolved) {
            return (open, resolved);
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("alarms never reached the expected state: {:?}", w.hub.alarms("c1"));
}

/// A storm seen at once — two thousand repeats of one condition and one other alarm — is one
/// commit and reaches the screens as one line per alarm as it then stands, not a line per repeat.
/// (On one thread, so that the whole storm is in the desk's mailbox before it reads any of it.)
#[tokio::test]
async fn a_storm_seen_at_once_reaches_the_screens_as_one_line_per_alarm() {
    let w = World::new();
    let _sup = w.start().await;
    let desk = w.directory.alarm_desk("c1").unwrap();
    let raise = |device: &str, kind, seq: u64| AlarmCommand::Raise {
        kind,
        device: DeviceId::new(device),
        building: Some(BuildingId::new("c1-b1")),
        at: w.clock.now(),
        text: format!("{device} #{seq}"),
        source: (format!("device/c1/{device}"), seq),
    };
    w.hub.take_published();
    for seq in 1..=2_000 {
        desk.seen(raise("wm-1", AlarmKind::MeterSpike, seq));
    }
    desk.seen(raise("wm-2", AlarmKind::MeterBackwards, 1));
    let (open, _) = wait_alarms(&w, |open, _| open.iter().any(|a| a.count == 2_000) && open.len() == 2).await;
    let lines: Vec<AlarmRecord> = w.hub.take_published().events.iter().filter_map(|e| if let LiveBody::Alarm { alarm } = &e.event.body { Some(alarm.clone()) } else { None }).collect();
    assert_eq!(lines.len(), 2, "one line per alarm: {:?}", lines.iter().map(|a| (a.no, a.count)).collect::<Vec<_>>());
    assert_eq!((lines[0].count, lines[0].text.as_str()), (2_000, "wm-1 #2000"), "as it stands after the storm");
    assert_eq!(open.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_identical_anomalies_are_one_alarm_handled_by_a_person_and_it_survives_a_restart() {
    let w = World::new();
    let sup = w.start().await;
    w.read("wm-1", 1, 5000).await;
    // Every reading below the last is an anomaly (reading going backwards): 10,000 of them.
    for seq in 2..=10_001 {
        w.read("wm-1", seq, 4000).await;
    }
    let (open, _) = wait_alarms(&w, |open, _| open.first().is_some_and(|a| a.count == 10_000)).await;
    assert_eq!(open.len(), 1, "one alarm, not a flood");
    assert_eq!((open[0].no, open[0].kind), (1, AlarmKind::MeterBackwards));
    let desk = w.directory.alarm_desk("c1").unwrap();
    let wang = Handler { account: "wang".into(), name: "王师傅".into() };
    let at = w.clock.now();
    let acked = desk.handle(AlarmCommand::Acknowledge { no: 1, by: wang.clone(), at }).await.unwrap().unwrap();
    assert_eq!(acked.acknowledged.as_ref().map(|(h, _)| h.name.as_str()), Some("王师傅"));
    let li = Handler { account: "li".into(), name: "李工".into() };
    let refused = desk.handle(AlarmCommand::Acknowledge { no: 1, by: li, at }).await.unwrap();
    assert_eq!(refused, Err(AlarmError::AlreadyAcknowledged(1, "王师傅".into())));
    let note = "表头更换，读数归零".to_string();
    let resolved = desk.handle(AlarmCommand::Resolve { no: 1, by: wang, at, note: note.clone() }).await.unwrap().unwrap();
    assert!(!resolved.is_open());
    // Restarted from the same journal: the desk's history is there.
    sup.stop_and_wait(None, None).await.unwrap();
    let again = World { journal: w.journal.clone(), ..World::new() };
    let _sup = again.start().await;
    let (open, resolved) = again.hub.alarms("c1").unwrap();
    assert!(open.is_empty());
    assert_eq!((resolved[0].no, resolved[0].count, resolved[0].resolved.as_ref().map(|r| r.note.clone())), (1, 10_000, Some(note)));
    // The condition seen again is a new alarm, numbered on.
    again.read("wm-1", 10_002, 3000).await;
    let (open, _) = wait_alarms(&again, |open, _| !open.is_empty()).await;
    assert_eq!(open[0].no, 2);
}

#[tokio::test]
async fn a_failed_device_is_restarted_and_replays_its_journal() {
    let w = World::new();
    let sup = w.start().await;
    w.read("wm-1", 1, 1000).await;
    w.read("wm-1", 2, 1010).await;
    let before = w.awake("wm-1").await;
    before.cast(DeviceMsg::Crash).unwrap();
    // Wait for the supervisor to register the new incarnation.
    let after = loop {
        if let Some(a) = w.directory.device("c1", "wm-1").filter(|a| a.get_id() != before.get_id()) {
            break a;
        }
        tokio::task::yield_now().await;
    };
    let view = after.call(DeviceMsg::Get, Some(Duration::from_secs(2))).await.unwrap().unwrap();
    assert_eq!((view.last_value, view.journal_seq, view.last_device_seq), (Some(Decimal::new(1010, 1)), 2, Some(2)));
    // It carries on: a duplicate is still a duplicate, a new reading appends at seq 3.
    assert_eq!(w.read("wm-1", 2, 1010).await, IngestOutcome::Duplicate);
    assert_eq!(w.read("wm-1", 3, 1020).await, IngestOutcome::Applied);
    assert_eq!(w.journal.head("device/c1/wm-1").await.unwrap(), 3);
    let children = sup.call(community::CommunityMsg::Children, None).await.unwrap().unwrap();
    // The alarm desk, the building and wm-1 are actors; wm-2 has not been spoken to and sleeps.
    assert_eq!(children, 3);
    assert_eq!(w.metrics.counter_value("hutong_actor_restarts_total", &[("community", "c1")]), 1);
}

#[tokio::test]
async fn a_child_that_keeps_failing_is_left_down_after_its_budget_and_leaves_the_directory() {
    let w = World::new();
    let _sup = w.start().await;
    for _ in 0..=community::RESTART_BUDGET {
        let current = w.awake("wm-2").await;
        current.cast(DeviceMsg::Crash).unwrap();
        let mut waited = 0;
        while w.directory.device("c1", "wm-2").is_some_and(|a| a.get_id() == current.get_id()) && waited < 200 {
            tokio::time::sleep(Duration::from_millis(10)).await;
            waited += 1;
        }
    }
    let mut waited = 0;
    while w.metrics.counter_value("hutong_actor_gave_up_total", &[("community", "c1")]) == 0 && waited < 200 {
        tokio::time::sleep(Duration::from_millis(10)).await;
        waited += 1;
    }
    assert_eq!(w.metrics.counter_value("hutong_actor_gave_up_total", &[("community", "c1")]), 1);
    // Left down means gone from the directory: nobody is handed a dead actor.
    assert!(w.directory.device("c1", "wm-2").is_none());
    assert_eq!(w.metrics.counter_value("hutong_actor_restarts_total", &[("community", "c1")]), community::RESTART_BUDGET as u64);
}

#[tokio::test(start_paused = true)]
async fn an_idle_device_sleeps_as_a_record_and_wakes_in_order_without_losing_anything() {
    let w = World::new();
    let sup = w.start().await;
    // Recovered asleep: a record each, no actor until spoken to.
    assert_eq!(w.directory.awake_devices("c1"), (0, 2));
    assert_eq!(w.read("wm-2", 1, 1000).await, IngestOutcome::Applied);
    assert_eq!(w.directory.awake_devices("c1"), (1, 2));
    // Idle long enough, it gives its state back and its actor stops. (wm-1, never heard, is woken
    // by its 60 s deadline from the timer wheel, goes offline, and sleeps again two minutes later.)
    pass(hutong_actors::device::IDLE_AFTER + Duration::from_secs(90)).await;
    assert_eq!(w.hub.device("c1", "wm-1").unwrap().health, DeviceHealth::Offline);
    let mut waited = 0;
    while w.directory.awake_devices("c1").0 != 0 && waited < 100 {
        tokio::task::yield_now().await;
        waited += 1;
    }
    assert_eq!(w.directory.awake_devices("c1").0, 0, "an idle device went back to sleep");
    let children = sup.call(community::CommunityMsg::Children, None).await.unwrap().unwrap();
    assert_eq!(children, 2, "only the alarm desk and the building are actors");
    // Many signals sent at once to a sleeping device: every one taken, in the order sent.
    let mut acks = Vec::new();
    for seq in 2..=40 {
        let (tx, rx) = oneshot::channel();
        let cmd = DeviceCommand::RecordReading { signal: w.signal(seq), value: Decimal::new(1000 + seq as i64, 1) };
        w.directory.send_device("c1", "wm-2", DeviceMsg::Signal(cmd, Some(tx))).unwrap();
        acks.push(rx);
    }
    for ack in acks {
        assert_eq!(ack.await.unwrap(), IngestOutcome::Applied);
    }
    assert_eq!(w.journal.head("device/c1/wm-2").await.unwrap(), 40);
    let view = w.hub.device("c1", "wm-2").unwrap();
    assert_eq!((view.last_device_seq, view.readings), (Some(40), 40));
    // Redelivery of an old one after sleeping again is still a duplicate (its state slept with it).
    pass(hutong_actors::device::IDLE_AFTER * 2).await;
    assert_eq!(w.read("wm-2", 40, 1040).await, IngestOutcome::Duplicate);
}

/// M4 through the actors, on paused time: a meter that uses water every hour of the night (in
/// the community's zone, Asia/Shanghai) raises a leak alarm at its first reading after 05:00 —
/// not before — and the alarm desk holds it as critical.
#[tokio::test(start_paused = true)]
async fn water_all_night_is_a_critical_leak_alarm_the_moment_the_night_is_over() {
    let w = World::new();
    let _sup = w.start().await;
    // The world's clock starts at 06:13 Beijing time; the night begins at 01:00 next day.
    let mut value = 10_000;
    w.read("wm-2", 1, value).await;
    pass(Duration::from_secs(19 * 3600 + 17 * 60)).await; // 01:30
    for seq in 2..=5 {
        value += 3;
        w.read("wm-2", seq, value).await;
        pass(Duration::from_secs(3600)).await;
    }
    // 05:30: the night is over, and water ran through all of it.
    let leaks = |open: &[AlarmRecord]| open.iter().filter(|a| a.kind == AlarmKind::Leak).count();
    assert_eq!(leaks(&w.hub.alarms("c1").unwrap().0), 0, "no leak while the night lasts");
    value += 3;
    w.read("wm-2", 6, value).await;
    let (open, _) = wait_alarms(&w, |open, _| leaks(open) == 1).await;
    let leak = open.iter().find(|a| a.kind == AlarmKind::Leak).unwrap();
    assert_eq!((leak.device.as_str(), leak.severity), ("wm-2", hutong_core::alarm::Severity::Critical));
    assert!(leak.text.contains("疑似漏水"), "{}", leak.text);
    // A leak opens its work order by itself (the default rules), critical, at the meter; the
    // alarm shows the order is on it.
    let no = leak.no;
    let (open, _) = wait_alarms(&w, |open, _| open.iter().any(|a| a.no == no && a.acknowledged.is_some())).await;
    let taken = open.iter().find(|a| a.no == no).unwrap();
    assert_eq!(taken.acknowledged.as_ref().map(|(by, _)| by.name.as_str()), Some("工单 wo-1"));
    let order = hutong_actors::work_order::get(&w.directory.order("c1", "wo-1").unwrap()).await.unwrap();
    assert_eq!(order.urgency, hutong_core::work_order::Urgency::Critical);
    assert_eq!(order.registration.map(|r| r.place), Some(hutong_core::work_order::Place::Device { device: DeviceId::new("wm-2") }));
}

/// New meter thresholds reach every device at once, awake (by message) or asleep (in place).
#[tokio::test(start_paused = true)]
async fn changed_meter_rules_reach_awake_and_sleeping_devices() {
    let w = World::new();
    let sup = w.start().await;
    w.read("wm-1", 1, 1000).await; // awake now; wm-2 sleeps
    assert!(w.directory.device("c1", "wm-1").is_some() && w.directory.device("c1", "wm-2").is_none());
    // A morning "night" from 07:00 to 09:00 Beijing, one wet reading enough (the clock is at 06:13).
    let rules = hutong_core::meter_rules::MeterRules { night_from_hour: 7, night_to_hour: 9, leak_min_readings: 1, ..Default::default() };
    sup.cast(community::CommunityMsg::MeterRules(rules)).unwrap();
    w.read("wm-2", 1, 2000).await;
    pass(Duration::from_secs(3600)).await; // 07:13
    w.read("wm-1", 2, 1001).await;
    w.read("wm-2", 2, 2001).await;
    pass(Duration::from_secs(2 * 3600)).await; // 09:13
    w.read("wm-1", 3, 1002).await;
    w.read("wm-2", 3, 2002).await;
    let (open, _) = wait_alarms(&w, |open, _| open.iter().filter(|a| a.kind == AlarmKind::Leak).count() == 2).await;
    let mut leaking: Vec<&str> = open.iter().filter(|a| a.kind == AlarmKind::Leak).map(|a| a.device.as_str()).collect();
    leaking.sort();
    assert_eq!(leaking, vec!["wm-1", "wm-2"]);
}

/// T5 with paused time: a round of three checkpoints — the first reached on time, the second
/// never, the third late — raises a patrol alarm at the very second the second's window closes
/// (not a second before), refuses the late scan, and closes the round into the month's figures.
#[tokio::test(start_paused = true)]
async fn a_patrol_miss_is_an_alarm_the_second_its_window_closes() {
    use hutong_actors::patrol::{PatrolArgs, PatrolMsg, PatrolRouteActor};
    use hutong_core::patrol::{CheckIn, PatrolError, PatrolPlan, RouteDefinition, Stop};
    use hutong_core::{CheckpointId, RouteId};
    let w = World::new();
    let _sup = w.start().await;
    let tz = chrono_tz::Asia::Shanghai;
    let begins = (w.clock.now() + chrono::TimeDelta::minutes(10)).with_timezone(&tz);
    let start = chrono::NaiveTime::from_hms_opt(chrono::Timelike::hour(&begins), chrono::Timelike::minute(&begins), 0).unwrap();
    let stop = |id: &str, after_mins, dwell_mins| Stop { checkpoint: CheckpointId::new(id), name: id.to_uppercase(), after_mins, dwell_mins };
    let definition = RouteDefinition {
        name: "夜巡".into(),
        time_zone: "Asia/Shanghai".into(),
        stops: vec![stop("a", 0, 2), stop("b", 10, 2), stop("c", 10, 0)],
        plan: PatrolPlan { starts: vec![start], days: Default::default(), tolerance_mins: 5, guards: Default::default(), remind_mins: 5 },
    };
    let round = definition.rounds_on(begins.date_naive())[0];
    let windows = definition.windows(round);
    let args = PatrolArgs { community: CommunityId::new("c1"), route: RouteId::new("night"), journal: w.journal.clone(), directory: w.directory.clone(), hub: w.hub.clone(), clock: w.clock };
    let (route, _) = ractor::Actor::spawn(None, PatrolRouteActor, args).await.unwrap();
    let defined = route.call(|r| PatrolMsg::Define(definition.clone(), r), None).await.unwrap().unwrap();
    assert_eq!(defined, Ok(()));
    let until = |t: DateTime<Utc>| (t - w.clock.now()).to_std().unwrap_or_default();
    let scan = |checkpoint: &str| CheckIn { checkpoint: CheckpointId::new(checkpoint), at: w.clock.now(), by: "guard".into(), name: "杨勇".into(), note: None, photos: Vec::new(), left_at: None };

    // The guards' reminder, the plan's five minutes before the round: not a second before, then once.
    let reminders = |w: &World| {
        let published = w.hub.take_published().events;
        published.iter().filter_map(|e| if let LiveBody::PatrolReminder { reminder } = &e.event.body { Some(reminder.clone()) } else { None }).collect::<Vec<_>>()
    };
    let settle = async || {
        for _ in 0..50 {
            tokio::task::yield_now().await;
        }
    };
    pass(until(round - chrono::TimeDelta::minutes(5)) - Duration::from_secs(1)).await;
    settle().await;
    assert!(reminders(&w).is_empty(), "no reminder before its time");
    pass(Duration::from_secs(1)).await;
    settle().await;
    let told = reminders(&w);
    assert_eq!(told.len(), 1, "one reminder at five minutes before: {told:?}");
    assert_eq!((told[0].start, told[0].first.as_str(), told[0].name.as_str()), (round, "A", "夜巡"));

    pass(until(round)).await;
    settle().await;
    assert!(reminders(&w).is_empty(), "reminded once");
    let reached = route.call(|r| PatrolMsg::CheckIn { check_in: scan("a"), unplanned: false, reply: r }, None).await.unwrap().unwrap();
    assert_eq!(reached, Ok(hutong_core::patrol::CheckInOutcome::Arrived));
    let patrol_alarms = |open: &[AlarmRecord]| open.iter().filter(|a| a.kind == AlarmKind::PatrolMissed).cloned().collect::<Vec<_>>();

    // A second before b's window closes: nothing.
    pass(until(windows[1].closes) - Duration::from_secs(1)).await;
    for _ in 0..50 {
        tokio::task::yield_now().await;
    }
    assert!(patrol_alarms(&w.hub.alarms("c1").unwrap().0).is_empty(), "no miss before the window closes");
    // At the close: the alarm, raised at the close.
    pass(Duration::from_secs(1)).await;
    let (open, _) = wait_alarms(&w, |open, _| !patrol_alarms(open).is_empty()).await;
    let miss = &patrol_alarms(&open)[0];
    assert_eq!(miss.raised_at, windows[1].closes, "raised at the second the window closed");
    assert!(miss.text.contains("B"), "{}", miss.text);
    assert!(w.clock.now() - windows[1].closes < chrono::TimeDelta::seconds(1), "and heard within a second of it");

    // c reached a minute after its window closed: refused, and missed at that close.
    pass(until(windows[2].closes + chrono::TimeDelta::minutes(1))).await;
    let late = route.call(|r| PatrolMsg::CheckIn { check_in: scan("c"), unplanned: false, reply: r }, None).await.unwrap().unwrap();
    assert_eq!(late, Err(PatrolError::RoundEnded));
    let state = route.call(PatrolMsg::Get, None).await.unwrap().unwrap();
    let month = &state.months[&definition.month_of(round)];
    assert_eq!((month.rounds, month.completed, month.missed_stops), (1, 0, 2));
    let (open, _) = wait_alarms(&w, |open, _| patrol_alarms(open).len() == 2).await;
    assert_eq!(patrol_alarms(&open).len(), 2, "one alarm per checkpoint missed");
}

/// Who was told what, as the notification adapter would deliver it.
#[derive(Default)]
struct Told(std::sync::Mutex<Vec<(String, String)>>);

impl hutong_actors::work_order::Staffing for Told {
    fn above(&self, _: &CommunityId, level: u8) -> Vec<Handler> {
        vec![Handler { account: format!("level-{level}"), name: format!("第{level}级") }]
    }
    fn notify(&self, _: &CommunityId, to: &Handler, text: String) -> futures_util::future::BoxFuture<'_, ()> {
        self.0.lock().unwrap().push((to.account.clone(), text));
        Box::pin(std::future::ready(()))
    }
}

#[tokio::test(start_paused = true)]
async fn an_order_nobody_takes_passes_on_then_escalates_with_an_sla_alarm_at_the_second() {
    use hutong_actors::work_order as orders;
    use hutong_core::work_order::{OrderCommand, OrderError, OrderKind, Origin, Place, Registration, Status};
    let w = World::new();
    let told = Arc::new(Told::default());
    let (community, devices) = tiny_community();
    let _sup = community::start(CommunityArgs {
        community,
        devices,
        journal: w.journal.clone(),
        hub: w.hub.clone(),
        directory: w.directory.clone(),
        metrics: w.metrics.clone(),
        clock: w.clock,
        notices: Arc::new(hutong_actors::building::NoNotices),
        staffing: told.clone(),
    })
    .await
    .unwrap();
    let person = |a: &str| Handler { account: a.into(), name: format!("{a}-name") };
    let registration = Registration {
        kind: OrderKind::Repair,
        category: "门窗".into(),
        description: "单元门闭门器坏了".into(),
        photos: vec![],
        place: Place::Public { text: "1号楼1单元门".into() },
        building: Some(BuildingId::new("c1-b1")),
        place_label: "1号楼1单元门".into(),
        visit_at: None,
        vip: false,
        origin: Origin::Staff { account: "butler".into() },
        contact: None,
    };
    let t0 = w.clock.now();
    let order = orders::open_order(&w.directory, &CommunityId::new("c1"), registration, t0).await.unwrap().unwrap();
    let id = order.id.clone().unwrap();
    assert_eq!((order.respond_by, order.complete_by), (Some(t0 + chrono::TimeDelta::minutes(30)), Some(t0 + chrono::TimeDelta::hours(24))), "a normal order: 30 min to respond");
    let actor = w.directory.order("c1", id.as_str()).unwrap();
    let act = async |command: OrderCommand| orders::call(&actor, command).await.unwrap();

    // Every step out of order is refused with a sentence.
    let refused = act(OrderCommand::Accept { by: person("a"), at: w.clock.now() }).await.unwrap_err();
    assert_eq!(refused, OrderError::Out { action: "接单", status: Status::Registered });
    act(OrderCommand::Review { by: person("control"), at: w.clock.now(), category: None, urgency: None }).await.unwrap();
    act(OrderCommand::Dispatch { to: vec![person("a"), person("b")], ack_mins: 5, by: person("control"), at: w.clock.now() }).await.unwrap();
    let settle = async || {
        for _ in 0..50 {
            tokio::task::yield_now().await;
        }
    };
    let holder = async || orders::get(&actor).await.unwrap().assignee.map(|a| a.account);
    let sla = |w: &World| w.hub.alarms("c1").unwrap().0.into_iter().filter(|a| a.kind == AlarmKind::SlaBreach).collect::<Vec<_>>();

    // a has five minutes: not a second less; then b has it, and is told.
    pass(Duration::from_secs(5 * 60 - 1)).await;
    settle().await;
    assert_eq!(holder().await.as_deref(), Some("a"));
    pass(Duration::from_secs(1)).await;
    settle().await;
    assert_eq!(holder().await.as_deref(), Some("b"));
    assert_eq!(told.0.lock().unwrap().iter().map(|(to, _)| to.as_str()).collect::<Vec<_>>(), vec!["a", "b"]);

    // Nobody of the post took it: up to the supervisor, with an SLA alarm raised at that second.
    pass(Duration::from_secs(5 * 60)).await;
    settle().await;
    let (open, _) = wait_alarms(&w, |open, _| open.iter().any(|a| a.kind == AlarmKind::SlaBreach)).await;
    let first = open.iter().find(|a| a.kind == AlarmKind::SlaBreach).unwrap();
    assert_eq!(first.raised_at, t0 + chrono::TimeDelta::minutes(10), "{first:?}");
    assert!(first.text.contains("无人接单"), "{}", first.text);
    assert!(told.0.lock().unwrap().iter().any(|(to, text)| to == "level-1" && text.contains("无人接单")));
    // The response deadline (30 min) passes: up to the company, a second alarm at that second.
    pass(Duration::from_secs(20 * 60 - 1)).await;
    settle().await;
    assert_eq!(sla(&w).len(), 1, "not a second early");
    pass(Duration::from_secs(1)).await;
    settle().await;
    let (open, _) = wait_alarms(&w, |open, _| open.iter().filter(|a| a.kind == AlarmKind::SlaBreach).count() == 2).await;
    let response = open.iter().filter(|a| a.kind == AlarmKind::SlaBreach).map(|a| a.raised_at).max().unwrap();
    assert_eq!(response, t0 + chrono::TimeDelta::minutes(30));
    let state = orders::get(&actor).await.unwrap();
    assert_eq!((state.escalation, state.overdue()), (2, true));
    assert!(told.0.lock().unwrap().iter().any(|(to, text)| to == "level-2" && text.contains("响应超时")));
    // a may no longer take it; b may.
    assert_eq!(act(OrderCommand::Accept { by: person("a"), at: w.clock.now() }).await.unwrap_err(), OrderError::NotYours("b-name".into()));
    act(OrderCommand::Accept { by: person("b"), at: w.clock.now() }).await.unwrap();

    // A restart of the order's actor recovers it from its journal, deadlines and all.
    actor.stop(None);
    let again = wait_for_order(&w, id.as_str(), &actor).await;
    let state = orders::get(&again).await.unwrap();
    assert_eq!((state.status, state.escalation, state.assignee.map(|a| a.account)), (Status::Accepted, 2, Some("b".to_string())));
}

/// The order's actor once its supervisor has started it again.
async fn wait_for_order(w: &World, order: &str, old: &ractor::ActorRef<hutong_actors::work_order::OrderMsg>) -> ractor::ActorRef<hutong_actors::work_order::OrderMsg> {
    for _ in 0..1000 {
        if let Some(actor) = w.directory.order("c1", order).filter(|a| a.get_id() != old.get_id()) {
            return actor;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("the order's actor did not come back");
}

#[tokio::test(start_paused = true)]
async fn a_device_offline_for_the_rules_hours_with_nobody_on_it_opens_a_work_order() {
    use hutong_core::work_order::{DeskCommand, ServiceRules};
    let w = World::new();
    let _sup = w.start().await;
    let mut rules = ServiceRules::default();
    rules.alarm_orders.insert(AlarmKind::DeviceOffline);
    rules.offline_order_hours = 1;
    w.directory.service_desk("c1").unwrap().execute(&DeskCommand::SetRules { rules }, 0).await.unwrap();
    w.read("wm-1", 1, 1000).await;
    pass(Duration::from_secs(60)).await;
    let (open, _) = wait_alarms(&w, |open, _| open.iter().any(|a| a.kind == AlarmKind::DeviceOffline)).await;
    let raised = open.iter().find(|a| a.kind == AlarmKind::DeviceOffline && a.device.as_str() == "wm-1").unwrap().raised_at;
    let settle = async || {
        for _ in 0..50 {
            tokio::task::yield_now().await;
        }
    };
    // Not a second before the hour is up.
    pass((raised + chrono::TimeDelta::hours(1) - w.clock.now()).to_std().unwrap() - Duration::from_secs(1)).await;
    settle().await;
    assert_eq!(w.directory.order_count("c1"), 0);
    pass(Duration::from_secs(1)).await;
    let (open, _) = wait_alarms(&w, |open, _| open.iter().any(|a| a.acknowledged.is_some())).await;
    // (wm-2, silent since 600 s, waits for its own hour.)
    let taken = open.iter().find(|a| a.kind == AlarmKind::DeviceOffline && a.device.as_str() == "wm-1").unwrap();
    assert_eq!(taken.acknowledged.as_ref().map(|(by, _)| by.name.as_str()), Some("工单 wo-1"));
    assert_eq!(w.directory.order_count("c1"), 1);
}

/// M4's zero use with paused time: two homes' water meters read nothing all December. The home
/// lived in all month raises a 入住零用量 alarm at its meter's first reading of January; the home
/// left vacant on 10 December does not.
#[tokio::test(start_paused = true)]
async fn a_home_lived_in_all_month_with_no_water_used_is_an_alarm_at_the_turn_of_the_month() {
    use hutong_core::community::{Floor, House, Unit};
    let w = World::new();
    let (tiny, _) = tiny_community();
    let house = |room: &str| House { id: hutong_core::HouseId::new(format!("c1-1-1-{room}")), room: room.into(), area: Decimal::from(80) };
    let mut community = (*tiny).clone();
    community.buildings[0].units = vec![Unit { no: 1, floors: vec![Floor { no: 1, houses: vec![house("101"), house("102")] }] }];
    let meter = |id: &str, room: &str| DeviceSpec {
        id: DeviceId::new(id),
        kind: DeviceKind::WaterMeter,
        community: CommunityId::new("c1"),
        building: Some(BuildingId::new("c1-b1")),
        house: Some(hutong_core::HouseId::new(format!("c1-1-1-{room}"))),
        heartbeat_secs: 86_400,
    };
    let _sup = w.start_with(Arc::new(community), vec![meter("wm-101", "101"), meter("wm-102", "102")]).await;
    // 15 November 06:13 Beijing; then 1 December 00:30, the first reading of a whole month.
    w.read("wm-101", 1, 5000).await;
    w.read("wm-102", 1, 7000).await;
    pass(Duration::from_secs(15 * 86_400 + 18 * 3600 + 17 * 60)).await;
    w.read("wm-101", 2, 5000).await;
    w.read("wm-102", 2, 7000).await;
    // House 102 is left empty from 10 December.
    let day = |s: &str| s.parse::<chrono::NaiveDate>().unwrap();
    let book = w.directory.building_ref(&BuildingId::new("c1-b1")).unwrap();
    let vacant = hutong_core::book::BookCommand::ChangeHouseState {
        house: hutong_core::HouseId::new("c1-1-1-102"),
        state: hutong_core::fee::HouseState::Vacant,
        on: day("2023-12-10"),
        today: day("2023-12-10"),
        by: "butler".into(),
    };
    book.book(vacant).await.unwrap().unwrap();
    let zero = |open: &[AlarmRecord]| open.iter().filter(|a| a.kind == AlarmKind::ZeroUse).map(|a| a.device.to_string()).collect::<Vec<_>>();
    // A reading on the last evening of December: the month is not over, nothing is judged.
    pass(Duration::from_secs(30 * 86_400 + 20 * 3600)).await;
    w.read("wm-101", 3, 5000).await;
    pass(Duration::from_secs(60)).await;
    assert!(zero(&w.hub.alarms("c1").unwrap().0).is_empty(), "December is not over");
    // 1 January 00:30: December closes with nothing used.
    pass(Duration::from_secs(4 * 3600)).await;
    w.read("wm-102", 3, 7000).await;
    w.read("wm-101", 4, 5000).await;
    let (open, _) = wait_alarms(&w, |open, _| !zero(open).is_empty()).await;
    let alarm = open.iter().find(|a| a.kind == AlarmKind::ZeroUse).unwrap();
    assert_eq!((alarm.device.as_str(), alarm.severity), ("wm-101", hutong_core::alarm::Severity::Warning));
    assert!(alarm.text.contains("2023年12月用量为零"), "{}", alarm.text);
    pass(Duration::from_secs(60)).await;
    assert_eq!(zero(&w.hub.alarms("c1").unwrap().0), vec!["wm-101".to_string()], "the home left vacant raised nothing");
}
