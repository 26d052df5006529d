//! A community's alarms as things people handle (R8, M4): each one a record with a life —
//! raised → acknowledged (by whom, when) → resolved with a note — journaled in one stream per
//! community (`alarms/{community}`), so it survives restarts.
//!
//! The same condition (kind + device) folds into the alarm already open for it, with a count and
//! the time it was last seen, instead of flooding the wall: a meter that spikes ten thousand times
//! is one alarm seen ten thousand times. A condition that clears by itself (an offline device heard
//! again) resolves its alarm with the system's note; one nobody acknowledged still shows it was
//! never handled.

use std::collections::{BTreeMap, HashMap, VecDeque};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{BuildingId, DeviceId};
use crate::live::AlarmKind;

/// How urgent an alarm is: the wall sorts and colours by it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Notice,
    Warning,
    Critical,
}

impl AlarmKind {
    /// A forced or held gate is a security matter and water running all night floods a home; a
    /// meter's oddity or a silent device waits for the next round; months out of range are for
    /// the office to look into.
    pub fn severity(self) -> Severity {
        match self {
            AlarmKind::GateAlarm | AlarmKind::Leak => Severity::Critical,
            AlarmKind::MeterSpike | AlarmKind::MeterBackwards | AlarmKind::DeviceOffline | AlarmKind::PatrolMissed | AlarmKind::ZeroUse | AlarmKind::PaymentAnomaly => Severity::Warning,
            AlarmKind::UseOutOfRange => Severity::Notice,
            // A promise to a resident broken: the supervisor must see it now.
            AlarmKind::SlaBreach => Severity::Critical,
        }
    }
}

/// Who did something to an alarm: a staff member by account and name (names are shown on the
/// wall as "who is on it").
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Handler {
    pub account: String,
    pub name: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resolution {
    /// `None`: the condition cleared by itself.
    pub by: Option<Handler>,
    pub at: DateTime<Utc>,
    pub note: String,
}

/// One alarm as the wall, the API and the journal's snapshot hold it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlarmRecord {
    /// Numbered per community from 1.
    pub no: u64,
    pub kind: AlarmKind,
    pub severity: Severity,
    pub device: DeviceId,
    pub building: Option<BuildingId>,
    /// The latest sentence for the wall (Chinese).
    pub text: String,
    pub raised_at: DateTime<Utc>,
    pub last_at: DateTime<Utc>,
    /// How many times the condition was seen while this alarm was open (1 when raised).
    pub count: u64,
    pub acknowledged: Option<(Handler, DateTime<Utc>)>,
    pub resolved: Option<Resolution>,
    /// The device event that raised it: `stream`, `seq`.
    pub source: (String, u64),
}

impl AlarmRecord {
    pub fn is_open(&self) -> bool {
        self.resolved.is_none()
    }

    fn condition(&self) -> String {
        condition(self.kind, &self.device)
    }
}

/// The key an open alarm is folded under: its kind (the variant's name) and its device.
fn condition(kind: AlarmKind, device: &DeviceId) -> String {
    format!("{kind:?}/{device}")
}

/// How the wall lists open alarms: most severe first, then newest.
pub fn wall_order(a: &AlarmRecord, b: &AlarmRecord) -> std::cmp::Ordering {
    b.severity.cmp(&a.severity).then(b.raised_at.cmp(&a.raised_at)).then(b.no.cmp(&a.no))
}

/// The longest note kept with a resolution.
pub const NOTE_MAX_CHARS: usize = 500;
/// Resolved alarms kept in the state for the screens; older ones stay in the journal.
pub const RESOLVED_KEPT: usize = 500;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AlarmCommand {
    /// A device event that is an alarm (see `LiveEvent::alarm`).
    Raise {
        kind: AlarmKind,
        device: DeviceId,
        building: Option<BuildingId>,
        at: DateTime<Utc>,
        text: String,
        source: (String, u64),
    },
    /// Someone is on it.
    Acknowledge { no: u64, by: Handler, at: DateTime<Utc> },
    /// Dealt with, and how.
    Resolve { no: u64, by: Handler, at: DateTime<Utc>, note: String },
    /// The condition ended by itself (an offline device heard again): its open alarm, if any,
    /// is resolved with `note`.
    Clear { kind: AlarmKind, device: DeviceId, at: DateTime<Utc>, note: String },
    /// The device left service (retired or replaced): every alarm still open for it is resolved
    /// with `note`, so nobody is sent to a device that is no longer there.
    Gone { device: DeviceId, at: DateTime<Utc>, note: String },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AlarmEvent {
    Raised { alarm: AlarmRecord },
    /// The open alarm's condition was seen again.
    Repeated { no: u64, at: DateTime<Utc>, text: String, source: (String, u64) },
    Acknowledged { no: u64, by: Handler, at: DateTime<Utc> },
    Resolved { no: u64, resolution: Resolution },
}

impl AlarmEvent {
    pub fn no(&self) -> u64 {
        match self {
            AlarmEvent::Raised { alarm } => alarm.no,
            AlarmEvent::Repeated { no, .. } | AlarmEvent::Acknowledged { no, .. } | AlarmEvent::Resolved { no, .. } => *no,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AlarmError {
    NoSuchAlarm(u64),
    AlreadyResolved(u64),
    AlreadyAcknowledged(u64, String),
    NoteRequired,
    NoteTooLong,
}

crate::bilingual!(AlarmError {
    AlarmError::NoSuchAlarm(_0) => ("没有编号为 {_0} 的告警") / ("no alarm number {_0}"),
    AlarmError::AlreadyResolved(_0) => ("告警 {_0} 已处理完毕") / ("alarm {_0} is already resolved"),
    AlarmError::AlreadyAcknowledged(_0, _1) => ("告警 {_0} 已由 {_1} 接手") / ("{_1} is already on alarm {_0}"),
    AlarmError::NoteRequired => ("请填写处理说明") / ("say how it was resolved (a note is required)"),
    AlarmError::NoteTooLong => ("处理说明不能超过 500 字") / ("a note may be at most 500 characters"),
});

/// One community's alarms: every open one, and the latest resolved.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct AlarmDesk {
    /// The last number given.
    pub last_no: u64,
    open: BTreeMap<u64, AlarmRecord>,
    /// Open alarm by condition (`kind/device`).
    by_condition: HashMap<String, u64>,
    resolved: VecDeque<AlarmRecord>,
}

impl AlarmDesk {
    /// Open alarms in [`wall_order`].
    pub fn open(&self) -> Vec<&AlarmRecord> {
        let mut open: Vec<&AlarmRecord> = self.open.values().collect();
        open.sort_by(|a, b| wall_order(a, b));
        open
    }

    /// Resolved alarms, newest first.
    pub fn resolved(&self) -> impl Iterator<Item = &AlarmRecord> {
        self.resolved.iter()
    }

    pub fn get(&self, no: u64) -> Option<&AlarmRecord> {
        self.open.get(&no).or_else(|| self.resolved.iter().find(|a| a.no == no))
    }

    /// Decides what devices saw (`Raise`, `Clear`; anything else is skipped), in order, as one
    /// batch: each sees what the ones before it raised or cleared, so a burst (every patrol miss
    /// of one second, a building's meters going silent together) is one journal write. A device's
    /// word is never refused: it is on its own stream already.
    pub fn decide_seen(&self, commands: &[AlarmCommand]) -> Vec<AlarmEvent> {
        // What this batch changed: a condition now open under a number, or cleared (`None`).
        let mut changed: HashMap<String, Option<u64>> = HashMap::new();
        let mut last_no = self.last_no;
        let mut events = Vec::with_capacity(commands.len());
        for command in commands {
            let (kind, device) = match command {
                AlarmCommand::Raise { kind, device, .. } | AlarmCommand::Clear { kind, device, .. } => (*kind, device),
                AlarmCommand::Gone { device, at, note } => {
                    for kind in AlarmKind::ALL {
                        let key = condition(kind, device);
                        if let Some(no) = changed.get(&key).copied().unwrap_or_else(|| self.by_condition.get(&key).copied()) {
                            changed.insert(key, None);
                            events.push(AlarmEvent::Resolved { no, resolution: Resolution { by: None, at: *at, note: note.clone() } });
                        }
                    }
                    continue;
                }
                AlarmCommand::Acknowledge { .. } | AlarmCommand::Resolve { .. } => continue,
            };
            let key = condition(kind, device);
            let open = changed.get(&key).copied().unwrap_or_else(|| self.by_condition.get(&key).copied());
            match (command, open) {
                (AlarmCommand::Raise { at, text, source, .. }, Some(no)) => {
                    events.push(AlarmEvent::Repeated { no, at: *at, text: text.clone(), source: source.clone() });
                }
                (AlarmCommand::Raise { building, at, text, source, .. }, None) => {
                    last_no += 1;
                    changed.insert(key, Some(last_no));
                    events.push(AlarmEvent::Raised {
                        alarm: AlarmRecord {
                            no: last_no,
                            kind,
                            severity: kind.severity(),
                            device: device.clone(),
                            building: building.clone(),
                            text: text.clone(),
                            raised_at: *at,
                            last_at: *at,
                            count: 1,
                            acknowledged: None,
                            resolved: None,
                            source: source.clone(),
                        },
                    });
                }
                (AlarmCommand::Clear { at, note, .. }, Some(no)) => {
                    changed.insert(key, None);
                    events.push(AlarmEvent::Resolved { no, resolution: Resolution { by: None, at: *at, note: note.clone() } });
                }
                _ => {}
            }
        }
        events
    }

    fn open_one(&self, no: u64) -> Result<&AlarmRecord, AlarmError> {
        match self.open.get(&no) {
            Some(alarm) => Ok(alarm),
            None if self.resolved.iter().any(|a| a.no == no) || (no >= 1 && no <= self.last_no) => Err(AlarmError::AlreadyResolved(no)),
            None => Err(AlarmError::NoSuchAlarm(no)),
        }
    }
}

impl crate::Aggregate for AlarmDesk {
    type Command = AlarmCommand;
    type Event = AlarmEvent;
    type Error = AlarmError;

    fn decide(&self, command: &AlarmCommand) -> Result<Vec<AlarmEvent>, AlarmError> {
        Ok(match command {
            AlarmCommand::Raise { .. } | AlarmCommand::Clear { .. } | AlarmCommand::Gone { .. } => self.decide_seen(std::slice::from_ref(command)),
            AlarmCommand::Acknowledge { no, by, at } => {
                let alarm = self.open_one(*no)?;
                match &alarm.acknowledged {
                    Some((who, _)) if who.account == by.account => Vec::new(),
                    Some((who, _)) => return Err(AlarmError::AlreadyAcknowledged(*no, who.name.clone())),
                    None => vec![AlarmEvent::Acknowledged { no: *no, by: by.clone(), at: *at }],
                }
            }
            AlarmCommand::Resolve { no, by, at, note } => {
                self.open_one(*no)?;
                let note = note.trim();
                if note.is_empty() {
                    return Err(AlarmError::NoteRequired);
                }
                if note.chars().count() > NOTE_MAX_CHARS {
                    return Err(AlarmError::NoteTooLong);
                }
                vec![AlarmEvent::Resolved { no: *no, resolution: Resolution { by: Some(by.clone()), at: *at, note: note.to_string() } }]
            }
        })
    }

    fn apply(&mut self, event: &AlarmEvent) {
        match event {
            AlarmEvent::Raised { alarm } => {
                self.last_no = self.last_no.max(alarm.no);
                self.by_condition.insert(alarm.condition(), alarm.no);
                self.open.insert(alarm.no, alarm.clone());
            }
            AlarmEvent::Repeated { no, at, text, .. } => {
                if let Some(alarm) = self.open.get_mut(no) {
                    alarm.count = alarm.count.saturating_add(1);
                    alarm.last_at = alarm.last_at.max(*at);
                    alarm.text.clone_from(text);
                }
            }
            AlarmEvent::Acknowledged { no, by, at } => {
                if let Some(alarm) = self.open.get_mut(no) {
                    alarm.acknowledged = Some((by.clone(), *at));
                }
            }
            AlarmEvent::Resolved { no, resolution } => {
                if let Some(mut alarm) = self.open.remove(no) {
                    self.by_condition.remove(&alarm.condition());
                    alarm.resolved = Some(resolution.clone());
                    self.resolved.push_front(alarm);
                    self.resolved.truncate(RESOLVED_KEPT);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Aggregate;

    fn t(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_780_000_000 + s, 0).unwrap_or_default()
    }

    fn raise(kind: AlarmKind, device: &str, at: i64) -> AlarmCommand {
        AlarmCommand::Raise {
            kind,
            device: DeviceId::new(device),
            building: None,
            at: t(at),
            text: format!("{device} at {at}"),
            source: (format!("device/c/{device}"), at as u64),
        }
    }

    fn run(desk: &mut AlarmDesk, command: AlarmCommand) -> Result<Vec<AlarmEvent>, AlarmError> {
        let events = desk.decide(&command)?;
        events.iter().for_each(|e| desk.apply(e));
        Ok(events)
    }

    fn guard(name: &str) -> Handler {
        Handler { account: name.to_lowercase(), name: name.into() }
    }

    #[test]
    fn ten_thousand_of_the_same_condition_are_one_alarm_with_a_count() {
        let mut desk = AlarmDesk::default();
        for i in 0..10_000 {
            run(&mut desk, raise(AlarmKind::MeterSpike, "wm-1", i)).unwrap();
        }
        run(&mut desk, raise(AlarmKind::MeterBackwards, "wm-1", 5)).unwrap();
        run(&mut desk, raise(AlarmKind::MeterSpike, "wm-2", 6)).unwrap();
        let open = desk.open();
        assert_eq!(open.len(), 3);
        let spike = desk.get(1).unwrap();
        assert_eq!((spike.count, spike.raised_at, spike.last_at, spike.text.as_str()), (10_000, t(0), t(9_999), "wm-1 at 9999"));
    }

    #[test]
    fn an_alarm_is_acknowledged_once_resolved_with_a_note_and_the_next_one_is_new() {
        let mut desk = AlarmDesk::default();
        run(&mut desk, raise(AlarmKind::GateAlarm, "gate-1", 0)).unwrap();
        assert_eq!(desk.open()[0].severity, Severity::Critical);
        run(&mut desk, AlarmCommand::Acknowledge { no: 1, by: guard("Wang"), at: t(5) }).unwrap();
        // The same person again changes nothing; someone else is told who is on it.
        assert!(run(&mut desk, AlarmCommand::Acknowledge { no: 1, by: guard("Wang"), at: t(6) }).unwrap().is_empty());
        assert_eq!(run(&mut desk, AlarmCommand::Acknowledge { no: 1, by: guard("Li"), at: t(6) }), Err(AlarmError::AlreadyAcknowledged(1, "Wang".into())));
        let blank = AlarmCommand::Resolve { no: 1, by: guard("Wang"), at: t(60), note: "  ".into() };
        assert_eq!(run(&mut desk, blank), Err(AlarmError::NoteRequired));
        let long = AlarmCommand::Resolve { no: 1, by: guard("Wang"), at: t(60), note: "门".repeat(NOTE_MAX_CHARS + 1) };
        assert_eq!(run(&mut desk, long), Err(AlarmError::NoteTooLong));
        run(&mut desk, AlarmCommand::Resolve { no: 1, by: guard("Wang"), at: t(60), note: "门已关好，系风吹开".into() }).unwrap();
        assert!(desk.open().is_empty());
        assert_eq!(desk.get(1).unwrap().resolved.as_ref().unwrap().note, "门已关好，系风吹开");
        assert_eq!(run(&mut desk, AlarmCommand::Resolve { no: 1, by: guard("Wang"), at: t(61), note: "x".into() }), Err(AlarmError::AlreadyResolved(1)));
        assert_eq!(run(&mut desk, AlarmCommand::Acknowledge { no: 9, by: guard("Wang"), at: t(61) }), Err(AlarmError::NoSuchAlarm(9)));
        // The same condition after its alarm was resolved is a new alarm.
        run(&mut desk, raise(AlarmKind::GateAlarm, "gate-1", 100)).unwrap();
        assert_eq!(desk.open()[0].no, 2);
    }

    #[test]
    fn a_device_heard_again_clears_its_offline_alarm_and_the_desk_survives_a_snapshot() {
        let mut desk = AlarmDesk::default();
        run(&mut desk, raise(AlarmKind::DeviceOffline, "wm-1", 0)).unwrap();
        run(&mut desk, raise(AlarmKind::MeterSpike, "wm-1", 1)).unwrap();
        let clear = AlarmCommand::Clear { kind: AlarmKind::DeviceOffline, device: DeviceId::new("wm-1"), at: t(30), note: "back".into() };
        assert_eq!(run(&mut desk, clear.clone()).unwrap().len(), 1);
        assert!(run(&mut desk, clear).unwrap().is_empty(), "nothing left to clear");
        let open: Vec<u64> = desk.open().iter().map(|a| a.no).collect();
        assert_eq!(open, vec![2]);
        assert_eq!(desk.get(1).unwrap().resolved.as_ref().unwrap().by, None);
        let again: AlarmDesk = serde_json::from_slice(&serde_json::to_vec(&desk).unwrap()).unwrap();
        assert_eq!(again.open().len(), 1);
        assert_eq!(again.decide(&raise(AlarmKind::MeterSpike, "wm-1", 2)).unwrap()[0].no(), 2, "folds after a snapshot too");
    }

    #[test]
    fn a_device_leaving_service_resolves_every_alarm_it_still_has_open() {
        let mut desk = AlarmDesk::default();
        run(&mut desk, raise(AlarmKind::DeviceOffline, "wm-1", 0)).unwrap();
        run(&mut desk, raise(AlarmKind::MeterSpike, "wm-1", 1)).unwrap();
        run(&mut desk, raise(AlarmKind::MeterSpike, "wm-2", 2)).unwrap();
        let gone = |at| AlarmCommand::Gone { device: DeviceId::new("wm-1"), at: t(at), note: "设备已停用：表坏".into() };
        // Raised in the same batch as the device leaves: resolved too.
        let events = desk.decide_seen(&[raise(AlarmKind::Leak, "wm-1", 3), gone(4)]);
        events.iter().for_each(|e| desk.apply(e));
        assert_eq!(events.len(), 4, "the leak raised, then it and the two before resolved: {events:?}");
        let open: Vec<&str> = desk.open().iter().map(|a| a.device.as_str()).collect();
        assert_eq!(open, vec!["wm-2"]);
        assert_eq!(desk.get(1).and_then(|a| a.resolved.clone()).map(|r| (r.by, r.note)), Some((None, "设备已停用：表坏".to_string())));
        assert!(run(&mut desk, gone(5)).unwrap().is_empty(), "nothing left open for it");
    }

    #[test]
    fn a_burst_decided_as_one_batch_is_what_deciding_it_one_by_one_gives() {
        let clear = |device: &str, at| AlarmCommand::Clear { kind: AlarmKind::DeviceOffline, device: DeviceId::new(device), at: t(at), note: "back".into() };
        let mut before = AlarmDesk::default();
        run(&mut before, raise(AlarmKind::DeviceOffline, "wm-9", 0)).unwrap();
        // New, repeated within the batch, cleared within the batch and raised again, cleared from
        // before the batch, cleared with nothing open; a person's command in the middle is skipped.
        let burst = vec![
            raise(AlarmKind::DeviceOffline, "wm-1", 1),
            raise(AlarmKind::DeviceOffline, "wm-2", 1),
            raise(AlarmKind::DeviceOffline, "wm-1", 2),
            clear("wm-2", 3),
            AlarmCommand::Acknowledge { no: 1, by: guard("Wang"), at: t(3) },
            raise(AlarmKind::DeviceOffline, "wm-2", 4),
            clear("wm-9", 5),
            clear("wm-3", 5),
        ];
        let mut one_by_one = before.clone();
        let mut expected = Vec::new();
        for command in burst.iter().filter(|c| !matches!(c, AlarmCommand::Acknowledge { .. })) {
            expected.extend(run(&mut one_by_one, command.clone()).unwrap());
        }
        let batch = before.decide_seen(&burst);
        assert_eq!(batch, expected);
        let mut batched = before;
        batch.iter().for_each(|e| batched.apply(e));
        let open = |d: &AlarmDesk| d.open().iter().map(|a| (a.no, a.device.to_string(), a.count)).collect::<Vec<_>>();
        assert_eq!(open(&batched), open(&one_by_one));
        assert_eq!(open(&batched).len(), 2, "wm-1 (twice) and wm-2's second alarm");
    }
}
