//! The fan-out: from the hub's outbox to every screen, one frame per group of screens per tick.
//!
//! Screens that see the same thing share a topic: a community, a feed (the wall, or money) and a
//! sight (every building, or a butler's set). Once per screen tick (`TICK`; at once for anything
//! but a reading) one task takes what the actors published, and for each topic with screens
//! splices the events it may carry, already encoded, into one frame: `{"type":"events",…}`. The
//! frame's bytes are shared by every socket of the topic (a reference count each), through a
//! bounded ring per topic: a socket that falls a ring behind is told to resync and starts again
//! from a snapshot, and nobody waits for it.
//!
//! Snapshots are cached per topic by the community's version: 1,000 screens connecting after a
//! restart share one encoded snapshot instead of building a thousand.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use hutong_actors::hub::{Envelope, Published};
use hutong_actors::{LiveHub, Metrics};
use hutong_core::CommunityId;
use hutong_core::live::{LiveBody, ServerMessage, Sight};
use tokio::sync::broadcast;
use tokio_tungstenite::tungstenite::Utf8Bytes;
use tokio_util::sync::CancellationToken;

/// The screens' tick: a frame leaves at most this often, so changes that come close together
/// (a burst of readings) share one. 20 ms keeps a change well inside the 50 ms budget from
/// change to glass while 10,000 screens are written at most 50 times a second.
pub const TICK: Duration = Duration::from_millis(20);

/// How long an urgent change (an alarm, money, a gate) waits for company instead of the tick:
/// long enough that what one change sets off (a gate forced open: its event, the building's
/// health, the alarm record — three actors, a few ms apart) shares one frame instead of sweeping
/// every screen three times.
pub const URGENT_GATHER: Duration = Duration::from_millis(5);

/// Frames a topic keeps for sockets still writing the previous ones (about 5 s of ticks); a
/// socket further behind resyncs.
pub const TOPIC_FRAMES: usize = 256;

/// Which events a socket carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Feed {
    /// The wall: everything but the money screens' detail, after a wall snapshot.
    Wall,
    /// The money screens: every building's money first, then each building's money in full
    /// whenever it changes; the screen folds them (`MoneyState`), it never asks again.
    Money,
    /// The patrol phones: each route's day, then its changes, the rounds' reminders and the
    /// misses as alarms.
    Patrol,
    /// The work-order screens: the board, the staff phones' inbox, the wall's work-order panel.
    Work,
}

impl Feed {
    /// The feed a socket's address opens.
    pub fn at(path: &str) -> Option<Feed> {
        match path {
            "/ws" => Some(Feed::Wall),
            "/ws/money" => Some(Feed::Money),
            "/ws/patrol" => Some(Feed::Patrol),
            "/ws/work" => Some(Feed::Work),
            _ => None,
        }
    }

    pub fn carries(self, body: &LiveBody) -> bool {
        match self {
            Feed::Wall => !matches!(body, LiveBody::MoneyDetail(_) | LiveBody::PatrolReminder { .. }),
            Feed::Money => matches!(body, LiveBody::MoneyDetail(_)),
            Feed::Patrol => match body {
                LiveBody::Patrol { .. } | LiveBody::PatrolReminder { .. } => true,
                LiveBody::Alarm { alarm } => alarm.kind == hutong_core::live::AlarmKind::PatrolMissed,
                _ => false,
            },
            Feed::Work => match body {
                LiveBody::WorkOrder { .. } => true,
                LiveBody::Alarm { alarm } => alarm.kind == hutong_core::live::AlarmKind::SlaBreach,
                _ => false,
            },
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Feed::Wall => "wall",
            Feed::Money => "money",
            Feed::Patrol => "patrol",
            Feed::Work => "work",
        }
    }
}

/// The screens that get the same frames.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TopicKey {
    pub community: CommunityId,
    pub feed: Feed,
    pub sight: Sight,
}

/// What a socket receives from its topic.
#[derive(Clone)]
pub enum Frame {
    /// A tick's events, encoded once; `oldest` is when the first of them was published.
    Events { text: Utf8Bytes, oldest: Instant },
    /// Events were lost before they reached the topic (the outbox overflowed): start again.
    Resync,
}

pub struct Topic {
    pub key: TopicKey,
    frames: broadcast::Sender<Frame>,
    /// The latest snapshot built and the community's version it was built at.
    snapshot: Mutex<Option<(u64, Utf8Bytes)>>,
}

impl Topic {
    /// The snapshot a socket of this topic starts from, taken after it subscribed: the cached
    /// one while the community has not changed since it was built, else a new one.
    pub fn snapshot(&self, hub: &LiveHub, metrics: &Metrics) -> Option<Utf8Bytes> {
        let community = self.key.community.as_str();
        let now = hub.version(community)?;
        if let Some((built_at, text)) = &*self.snapshot.lock().unwrap_or_else(|e| e.into_inner()) {
            if *built_at == now {
                return Some(text.clone());
            }
        }
        let (version, message) = match self.key.feed {
            Feed::Wall => hub.wall_snapshot(community, &self.key.sight).map(|(v, s)| (v, ServerMessage::Snapshot(s)))?,
            Feed::Money => hub.money_snapshot(community, &self.key.sight).map(|(v, s)| (v, ServerMessage::MoneySnapshot(s)))?,
            Feed::Patrol => hub.patrol_snapshot(community).map(|(v, s)| (v, ServerMessage::PatrolSnapshot(s)))?,
            Feed::Work => hub.work_snapshot(community, &self.key.sight).map(|(v, s)| (v, ServerMessage::WorkSnapshot(s)))?,
        };
        let text = Utf8Bytes::from(serde_json::to_string(&message).ok()?);
        metrics.inc("hutong_ws_snapshots_built_total", &[("feed", self.key.feed.name())]);
        let mut cached = self.snapshot.lock().unwrap_or_else(|e| e.into_inner());
        if cached.as_ref().is_none_or(|(v, _)| *v < version) {
            *cached = Some((version, text.clone()));
        }
        Some(text)
    }
}

pub struct Fanout {
    topics: RwLock<HashMap<TopicKey, Arc<Topic>>>,
    metrics: Arc<Metrics>,
}

const FRAME_START: &str = r#"{"type":"events","events":["#;
const FRAME_END: &str = "]}";

impl Fanout {
    pub fn new(metrics: Arc<Metrics>) -> Arc<Self> {
        metrics.describe("hutong_ws_frames_encoded_total", "Frames encoded, one per topic per tick with events for it");
        metrics.describe("hutong_ws_frames_sent_total", "Frames written to sockets, by feed");
        metrics.describe("hutong_ws_bytes_sent_total", "Bytes of frames and snapshots written to sockets, by feed");
        metrics.describe("hutong_ws_resyncs_total", "Sockets that fell a topic's ring behind and started again from a snapshot");
        metrics.describe("hutong_ws_dropped_total", "Sockets closed because their client stopped taking what was sent");
        metrics.describe("hutong_ws_snapshots_built_total", "Snapshots encoded (the rest were served from a topic's cache)");
        metrics.describe("hutong_ws_publish_to_write_seconds", "From an actor's publish to the socket write of the frame carrying it");
        metrics.describe("hutong_ws_topics", "Topics with screens");
        Arc::new(Self { topics: RwLock::new(HashMap::new()), metrics })
    }

    /// A socket joins its topic; its frames start now. Take the snapshot after this.
    pub fn subscribe(&self, key: &TopicKey) -> (Arc<Topic>, broadcast::Receiver<Frame>) {
        if let Some(topic) = self.topics.read().unwrap_or_else(|e| e.into_inner()).get(key) {
            // Subscribed under the read lock: `forget_idle` removes a topic only under the write
            // lock and only when nobody is subscribed.
            return (topic.clone(), topic.frames.subscribe());
        }
        let mut topics = self.topics.write().unwrap_or_else(|e| e.into_inner());
        let topic = topics
            .entry(key.clone())
            .or_insert_with(|| Arc::new(Topic { key: key.clone(), frames: broadcast::channel(TOPIC_FRAMES).0, snapshot: Mutex::new(None) }))
            .clone();
        self.metrics.gauge("hutong_ws_topics", &[]).store(topics.len() as i64, Ordering::Relaxed);
        let frames = topic.frames.subscribe();
        (topic, frames)
    }

    /// Takes the hub's outbox once per tick — at once when something urgent waits — and sends
    /// each topic its frame, until shutdown.
    pub async fn run(self: Arc<Self>, hub: Arc<LiveHub>, shutdown: CancellationToken) {
        let mut last = tokio::time::Instant::now();
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = hub.published() => {}
            }
            // Readings wait for the rest of the tick (none when the last frame left a tick ago or
            // more), so a burst shares one frame; an urgent change waits only to gather what it
            // sets off.
            let woke = tokio::time::Instant::now();
            loop {
                let until = if hub.urgent_waiting() { woke + URGENT_GATHER } else { last + TICK };
                if tokio::time::Instant::now() >= until {
                    break;
                }
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep_until(until) => break,
                    // Something urgent may have come: look again.
                    _ = hub.published() => {}
                }
            }
            let published = hub.take_published();
            last = tokio::time::Instant::now();
            self.send(published);
        }
    }

    /// One frame per topic for what was published since the last tick.
    pub fn send(&self, published: Published) {
        let topics: Vec<Arc<Topic>> = self.topics.read().unwrap_or_else(|e| e.into_inner()).values().cloned().collect();
        let mut by_community: HashMap<&str, Vec<&Envelope>> = HashMap::new();
        for envelope in current(&published.events) {
            by_community.entry(envelope.event.community.as_str()).or_default().push(envelope);
        }
        let mut idle = false;
        for topic in &topics {
            if topic.frames.receiver_count() == 0 {
                idle = true;
                continue;
            }
            if published.overflowed {
                let _ = topic.frames.send(Frame::Resync);
                continue;
            }
            let Some(events) = by_community.get(topic.key.community.as_str()) else { continue };
            if let Some(frame) = frame_for(&topic.key, events) {
                self.metrics.inc("hutong_ws_frames_encoded_total", &[("feed", topic.key.feed.name())]);
                // Nobody subscribed between the count and now is fine: the frame waits in the ring.
                let _ = topic.frames.send(frame);
            }
        }
        if idle {
            self.forget_idle();
        }
    }

    fn forget_idle(&self) {
        let mut topics = self.topics.write().unwrap_or_else(|e| e.into_inner());
        topics.retain(|_, t| t.frames.receiver_count() > 0);
        self.metrics.gauge("hutong_ws_topics", &[]).store(topics.len() as i64, Ordering::Relaxed);
    }
}

/// What a tick carries, in order, without an alarm's lines that a later line of the same alarm
/// in the same tick supersedes: a line is the alarm as it then stood, and a screen keeps only
/// an alarm's latest. A meter seen ten thousand times in four seconds is then a line a tick,
/// not ten thousand, on every screen.
fn current(events: &[Arc<Envelope>]) -> impl Iterator<Item = &Envelope> {
    let mut latest: HashMap<(&str, u64), usize> = HashMap::new();
    for (i, envelope) in events.iter().enumerate() {
        if let LiveBody::Alarm { alarm } = &envelope.event.body {
            latest.insert((envelope.event.community.as_str(), alarm.no), i);
        }
    }
    events.iter().enumerate().filter(move |(i, e)| match &e.event.body {
        LiveBody::Alarm { alarm } => latest.get(&(e.event.community.as_str(), alarm.no)) == Some(i),
        _ => true,
    }).map(|(_, e)| e.as_ref())
}

/// The frame of a topic for one tick: the events it carries and may see, spliced as encoded.
fn frame_for(key: &TopicKey, events: &[&Envelope]) -> Option<Frame> {
    let mut carried = events.iter().filter(|e| key.feed.carries(&e.event.body) && key.sight.sees_body(&e.event.body)).peekable();
    let first = carried.peek()?;
    let mut oldest = first.published;
    let mut text = String::with_capacity(FRAME_START.len() + FRAME_END.len() + events.iter().map(|e| e.json.len() + 1).sum::<usize>());
    text.push_str(FRAME_START);
    for (i, envelope) in carried.enumerate() {
        if i > 0 {
            text.push(',');
        }
        text.push_str(&envelope.json);
        oldest = oldest.min(envelope.published);
    }
    text.push_str(FRAME_END);
    Some(Frame::Events { text: Utf8Bytes::from(text), oldest })
}

#[cfg(test)]
mod tests {
    use super::*;
    use hutong_core::BuildingId;
    use hutong_core::live::LiveEvent;
    use hutong_core::building::BuildingHealth;

    fn health(building: &str, seq: u64) -> Envelope {
        let body = LiveBody::Building { building: BuildingId::new(building), health: BuildingHealth::default() };
        Envelope::new(LiveEvent { community: CommunityId::new("c"), stream: format!("derived/health/{building}"), seq, body })
    }

    #[test]
    fn a_frame_is_the_events_a_sight_may_see_and_reads_back_as_them() {
        let all = [health("b1", 1), health("b2", 2), health("b1", 3)];
        let refs: Vec<&Envelope> = all.iter().collect();
        let butler = TopicKey { community: CommunityId::new("c"), feed: Feed::Wall, sight: Sight::Buildings([BuildingId::new("b1")].into()) };
        let Some(Frame::Events { text, .. }) = frame_for(&butler, &refs) else { panic!("the butler's frame") };
        let Ok(ServerMessage::Events { events }) = serde_json::from_str::<ServerMessage>(&text) else { panic!("a frame of events: {text}") };
        assert_eq!(events.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 3], "only building 1's, in order");
        assert_eq!(events[0], all[0].event);

        let money = TopicKey { feed: Feed::Money, ..butler };
        assert!(frame_for(&money, &refs).is_none(), "nothing for the money screens: no frame at all");
    }

    fn alarm(community: &str, no: u64, count: u64, seq: u64) -> Arc<Envelope> {
        let at = chrono::DateTime::from_timestamp(1_780_000_000, 0).unwrap_or_default();
        let alarm = hutong_core::alarm::AlarmRecord {
            no,
            kind: hutong_core::live::AlarmKind::MeterBackwards,
            severity: hutong_core::alarm::Severity::Warning,
            device: hutong_core::DeviceId::new("wm-1"),
            building: None,
            text: format!("#{count}"),
            raised_at: at,
            last_at: at,
            count,
            acknowledged: None,
            resolved: None,
            source: ("device/c/wm-1".into(), seq),
        };
        Arc::new(Envelope::new(LiveEvent { community: CommunityId::new(community), stream: format!("alarms/{community}"), seq, body: LiveBody::Alarm { alarm } }))
    }

    #[test]
    fn a_tick_carries_each_alarm_once_as_it_last_stood() {
        let events = vec![alarm("c", 1, 1, 1), Arc::new(health("b1", 2)), alarm("c", 2, 1, 3), alarm("c", 1, 2, 4), alarm("d", 1, 7, 1), alarm("c", 1, 3, 5)];
        let kept: Vec<(String, u64)> = current(&events).map(|e| (e.event.community.to_string(), e.event.seq)).collect();
        let want: Vec<(String, u64)> = [("c", 2), ("c", 3), ("d", 1), ("c", 5)].iter().map(|(c, s)| (c.to_string(), *s)).collect();
        assert_eq!(kept, want, "health kept; alarm 1 of c only as it last stood; d's alarm 1 is another alarm");
    }
}
