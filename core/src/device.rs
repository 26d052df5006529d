//! Devices (M1, M4, M6): water, electricity and gas meters, gates and parking barriers. A device's
//! state is rebuilt from its events; `decide` says what a command means, `apply` folds an event in.
//!
//! Meter rules raised the moment they are seen: a reading below the previous one (going
//! backwards) and usage far above this meter's own recent history (spike). A device silent past its
//! heartbeat interval goes offline; any signal brings it back.

use std::collections::VecDeque;

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::ids::{BuildingId, CommunityId, DeviceId, HouseId};
use crate::meter_rules::{MeterContext, MonthTally, NightTally, UseRange};

/// What a device is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceKind {
    WaterMeter,
    ElectricityMeter,
    GasMeter,
    Gate,
    Barrier,
    /// A patrol reader (巡更棒): carried on rounds, it reads the RFID/NFC tag fixed at each
    /// checkpoint and reports each read as an event (T1, T4).
    PatrolReader,
}

impl DeviceKind {
    pub fn is_meter(self) -> bool {
        matches!(self, Self::WaterMeter | Self::ElectricityMeter | Self::GasMeter)
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            Self::WaterMeter => "水表",
            Self::ElectricityMeter => "电表",
            Self::GasMeter => "燃气表",
            Self::Gate => "门禁",
            Self::Barrier => "道闸",
            Self::PatrolReader => "巡更棒",
        }
    }

    pub fn unit(self) -> &'static str {
        match self {
            Self::WaterMeter | Self::GasMeter => "m³",
            Self::ElectricityMeter => "kWh",
            Self::Gate | Self::Barrier | Self::PatrolReader => "",
        }
    }

    /// Usage between two readings below which no spike is raised, whatever the history: a dripping
    /// tap after a dry week is not an anomaly.
    fn spike_floor(self) -> Decimal {
        match self {
            Self::WaterMeter | Self::GasMeter => Decimal::new(5, 1),
            _ => Decimal::from(2),
        }
    }
}

/// How a device is registered (M6).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceSpec {
    pub id: DeviceId,
    pub kind: DeviceKind,
    pub community: CommunityId,
    pub building: Option<BuildingId>,
    pub house: Option<HouseId>,
    /// The device promises a sign of life at least this often.
    pub heartbeat_secs: u32,
}

/// What happened at a gate or barrier (A1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GateAction {
    OpenedByApp,
    OpenedByQr,
    OpenedByFace,
    OpenedByCard,
    VehicleIn,
    VehicleOut,
    /// Opened without a credential: an alarm.
    ForcedOpen,
    /// Left open too long: an alarm.
    HeldOpen,
}

impl GateAction {
    pub fn is_alarm(self) -> bool {
        matches!(self, Self::ForcedOpen | Self::HeldOpen)
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            Self::OpenedByApp => "App开门",
            Self::OpenedByQr => "二维码开门",
            Self::OpenedByFace => "人脸开门",
            Self::OpenedByCard => "刷卡开门",
            Self::VehicleIn => "车辆入场",
            Self::VehicleOut => "车辆出场",
            Self::ForcedOpen => "强行开门",
            Self::HeldOpen => "门长时间未关",
        }
    }
}

/// When a device spoke: its own sequence number and clock, and when the server heard it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signal {
    /// The device's own sequence number; QoS 1 redelivers, so a seen one is a duplicate.
    pub seq: u64,
    /// The device's boot counter (one more at every start), when it keeps one: a higher boot
    /// starts its sequence again, a lower one is a late redelivery from before a restart.
    #[serde(default)]
    pub boot: u64,
    /// The device's clock.
    pub at: DateTime<Utc>,
    /// The server's clock when it was received; liveness is judged by this one.
    pub seen: DateTime<Utc>,
}

/// What a device, or its heartbeat timer, asks of its actor.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum DeviceCommand {
    /// Record a meter reading (cumulative register value).
    RecordReading { signal: Signal, value: Decimal },
    /// Record a gate or barrier event.
    RecordGateEvent { signal: Signal, action: GateAction, plate: Option<String> },
    /// Record a patrol reader's read of a checkpoint's tag.
    RecordTagRead { signal: Signal, tag: String },
    /// Record a heartbeat.
    RecordHeartbeat { signal: Signal },
    /// The heartbeat deadline passed: the device goes offline if it has been quiet since `quiet_since`.
    CheckSilence { now: DateTime<Utc>, quiet_since: DateTime<Utc> },
}

/// What happened to a device. Past tense; each is journaled before it is applied.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum DeviceEvent {
    /// A reading was taken; `usage` is what was used since the previous reading.
    ReadingAccepted { signal: Signal, value: Decimal, usage: Option<Decimal> },
    /// A reading below the previous one; the register keeps the previous value (M4).
    ReadingWentBackwards { signal: Signal, previous: Decimal, value: Decimal },
    /// Usage far above this meter's own recent typical usage (M4).
    UsageSpiked { signal: Signal, usage: Decimal, typical: Decimal },
    /// A gate or barrier event was recorded (A1).
    GateEventRecorded { signal: Signal, action: GateAction, plate: Option<String> },
    /// A patrol reader read a checkpoint's tag (the check-in it makes is the route's own record).
    TagRead { signal: Signal, tag: String },
    /// The device said it is alive.
    HeartbeatReceived { signal: Signal },
    /// Nothing heard past the heartbeat interval (M6).
    WentOffline { at: DateTime<Utc>, last_seen: Option<DateTime<Utc>> },
    /// Heard from again after being offline.
    CameBackOnline { at: DateTime<Utc> },
    /// Water flowed through the whole night (M4): most likely a leak.
    LeakSuspected { signal: Signal, night: NaiveDate, readings: u32 },
    /// A local month ended (judged at the first reading of the next): what it used.
    MonthClosed { signal: Signal, year: i32, month: u32, used: Decimal, in_range: bool },
    /// The monthly use has been out of range this many months in a row (M4).
    UseOutOfRange { signal: Signal, months: u32, used: Decimal, range: UseRange },
}

impl DeviceEvent {
    pub fn signal(&self) -> Option<&Signal> {
        match self {
            Self::ReadingAccepted { signal, .. }
            | Self::ReadingWentBackwards { signal, .. }
            | Self::UsageSpiked { signal, .. }
            | Self::GateEventRecorded { signal, .. }
            | Self::TagRead { signal, .. }
            | Self::LeakSuspected { signal, .. }
            | Self::MonthClosed { signal, .. }
            | Self::UseOutOfRange { signal, .. }
            | Self::HeartbeatReceived { signal } => Some(signal),
            Self::WentOffline { .. } | Self::CameBackOnline { .. } => None,
        }
    }
}

/// A seq this far below the last one is a counter that started again, not a redelivery.
pub const RESTART_GAP: u64 = 1_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Place {
    Next,
    Duplicate,
    Restart,
}

/// A refusal a device actor sends back; never an infrastructure failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeviceError {
    #[error("{kind:?} 设备不接受此类消息 / a {kind:?} does not take {what}")]
    WrongKind { kind: DeviceKind, what: &'static str },
    #[error("读数不能为负数 / a reading cannot be negative: {0}")]
    NegativeReading(Decimal),
    #[error("读数超出上限 1000000000000 / a reading above 1000000000000 is refused")]
    ReadingTooLarge,
}

/// How a device looks on the wall.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceHealth {
    Ok,
    Anomaly,
    Offline,
}

/// Why a meter is in anomaly.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Anomaly {
    WentBackwards { at: DateTime<Utc> },
    Spike { at: DateTime<Utc> },
    Gate { at: DateTime<Utc>, action: GateAction },
    Leak { at: DateTime<Utc> },
    OutOfRange { at: DateTime<Utc> },
}

/// How many recent usages a meter remembers to judge spikes by.
pub const USAGE_HISTORY: usize = 12;
/// Spikes are judged only once this many usages are known.
pub const SPIKE_MIN_HISTORY: usize = 4;
/// A usage above this multiple of the typical usage is a spike.
pub const SPIKE_FACTOR: i64 = 5;

/// A device's state, rebuilt from its events.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeviceState {
    pub spec: DeviceSpec,
    pub last_seq: Option<u64>,
    /// The boot counter of the last signal (0 for devices that keep none).
    #[serde(default)]
    pub boot: u64,
    pub last_seen: Option<DateTime<Utc>>,
    pub offline: bool,
    pub last_value: Option<Decimal>,
    pub last_reading_at: Option<DateTime<Utc>>,
    pub recent_usage: VecDeque<Decimal>,
    pub anomaly: Option<Anomaly>,
    pub readings: u64,
    /// The night being watched (water meters).
    #[serde(default)]
    pub night: Option<NightTally>,
    /// The month being added up.
    #[serde(default)]
    pub month: Option<MonthTally>,
    /// Whole months in a row whose use was out of range.
    #[serde(default)]
    pub months_out_of_range: u32,
    /// The community's zone and rules, set at recovery (not journaled).
    #[serde(skip)]
    pub context: MeterContext,
}

impl crate::Aggregate for DeviceState {
    type Command = DeviceCommand;
    type Event = DeviceEvent;
    type Error = DeviceError;
    fn decide(&self, command: &DeviceCommand) -> Result<Vec<DeviceEvent>, DeviceError> {
        DeviceState::decide(self, command)
    }
    fn apply(&mut self, event: &DeviceEvent) {
        DeviceState::apply(self, event);
    }
}

impl DeviceState {
    pub fn new(spec: DeviceSpec) -> Self {
        Self {
            spec,
            last_seq: None,
            boot: 0,
            last_seen: None,
            offline: false,
            last_value: None,
            last_reading_at: None,
            recent_usage: VecDeque::with_capacity(USAGE_HISTORY),
            anomaly: None,
            readings: 0,
            night: None,
            month: None,
            months_out_of_range: 0,
            context: MeterContext::default(),
        }
    }

    pub fn health(&self) -> DeviceHealth {
        if self.offline {
            DeviceHealth::Offline
        } else if self.anomaly.is_some() {
            DeviceHealth::Anomaly
        } else {
            DeviceHealth::Ok
        }
    }

    pub fn heartbeat(&self) -> TimeDelta {
        TimeDelta::seconds(i64::from(self.spec.heartbeat_secs.max(1)))
    }

    /// This meter's typical usage: the mean of its remembered usages, exact.
    pub fn typical_usage(&self) -> Option<Decimal> {
        (self.recent_usage.len() >= SPIKE_MIN_HISTORY).then(|| {
            // Readings are bounded in `decide`, so this cannot overflow; checked all the same,
            // since an old journal may hold readings from before the bound.
            let sum = self.recent_usage.iter().try_fold(Decimal::ZERO, |sum, u| sum.checked_add(*u));
            sum.map(|sum| sum / Decimal::from(self.recent_usage.len()))
        })
        .flatten()
    }

    /// Where a signal stands against what this device said before (review D2): a redelivery, the
    /// next message, or a new start of its counter. (Sequences may leap ahead: the simulator's,
    /// and many devices', are clock-based, so a leap after downtime is normal.)
    fn place(&self, signal: &Signal) -> Place {
        let Some(last) = self.last_seq else { return Place::Next };
        if signal.boot != self.boot {
            return if signal.boot > self.boot { Place::Restart } else { Place::Duplicate };
        }
        if signal.seq <= last {
            // Redeliveries come back near the top; a counter far below it started again (a
            // device rebooted that keeps no boot counter) — or the top was a forged huge seq,
            // which therefore mutes no one: the device's next real message is heard.
            return if last - signal.seq < RESTART_GAP { Place::Duplicate } else { Place::Restart };
        }
        Place::Next
    }

    /// What a command means. A duplicate (seq already seen) means nothing: `Ok(vec![])`.
    pub fn decide(&self, command: &DeviceCommand) -> Result<Vec<DeviceEvent>, DeviceError> {
        let kind = self.spec.kind;
        let mut events = Vec::with_capacity(2);
        if let Some(signal) = command_signal(command) {
            if self.place(signal) == Place::Duplicate {
                return Ok(events);
            }
            if self.offline {
                events.push(DeviceEvent::CameBackOnline { at: signal.seen });
            }
        }
        match command {
            DeviceCommand::RecordReading { signal, value } => {
                if !kind.is_meter() {
                    return Err(DeviceError::WrongKind { kind, what: "readings" });
                }
                if value.is_sign_negative() && !value.is_zero() {
                    return Err(DeviceError::NegativeReading(*value));
                }
                if *value > crate::limits::READING_MAX {
                    return Err(DeviceError::ReadingTooLarge);
                }
                match self.last_value {
                    Some(previous) if *value < previous => events.push(DeviceEvent::ReadingWentBackwards {
                        signal: *signal,
                        previous,
                        value: *value,
                    }),
                    previous => {
                        let usage = previous.map(|p| *value - p);
                        events.push(DeviceEvent::ReadingAccepted { signal: *signal, value: *value, usage });
                        self.judge_over_time(signal, &mut events);
                        if let (Some(usage), Some(typical)) = (usage, self.typical_usage()) {
                            let threshold = typical.saturating_mul(Decimal::from(SPIKE_FACTOR)).max(kind.spike_floor());
                            if usage > threshold {
                                events.push(DeviceEvent::UsageSpiked { signal: *signal, usage, typical });
                            }
                        }
                    }
                }
            }
            DeviceCommand::RecordTagRead { signal, tag } => {
                if kind != DeviceKind::PatrolReader {
                    return Err(DeviceError::WrongKind { kind, what: "tag reads" });
                }
                events.push(DeviceEvent::TagRead { signal: *signal, tag: tag.clone() });
            }
            DeviceCommand::RecordGateEvent { signal, action, plate } => {
                if kind.is_meter() || kind == DeviceKind::PatrolReader {
                    return Err(DeviceError::WrongKind { kind, what: "gate events" });
                }
                events.push(DeviceEvent::GateEventRecorded { signal: *signal, action: *action, plate: plate.clone() });
            }
            DeviceCommand::RecordHeartbeat { signal } => events.push(DeviceEvent::HeartbeatReceived { signal: *signal }),
            DeviceCommand::CheckSilence { now, quiet_since } => {
                let quiet_since = self.last_seen.map_or(*quiet_since, |seen| seen.max(*quiet_since));
                if !self.offline && *now - quiet_since >= self.heartbeat() {
                    events.push(DeviceEvent::WentOffline { at: *now, last_seen: self.last_seen });
                }
            }
        }
        Ok(events)
    }

    /// What a reading closes (M4): a night that was wet throughout, a month out of range.
    fn judge_over_time(&self, signal: &Signal, events: &mut Vec<DeviceEvent>) {
        let rules = &self.context.rules;
        let local = self.context.local(signal.at);
        if let Some(night) = &self.night
            && rules.night_of(&local) != Some(night.night)
            && !night.dry
            && night.flowing >= rules.leak_min_readings
        {
            events.push(DeviceEvent::LeakSuspected { signal: *signal, night: night.night, readings: night.flowing });
        }
        if let (Some(month), Some(range)) = (&self.month, rules.month_range(self.spec.kind))
            && month.whole
            && !month.is(&local)
        {
            let in_range = range.contains(month.used);
            events.push(DeviceEvent::MonthClosed { signal: *signal, year: month.year, month: month.month, used: month.used, in_range });
            let months = self.months_out_of_range.saturating_add(1);
            if !in_range && months >= rules.out_of_range_months {
                events.push(DeviceEvent::UseOutOfRange { signal: *signal, months, used: month.used, range: range.clone() });
            }
        }
    }

    /// Adds a reading's use to the night and the month it falls in.
    fn tally(&mut self, at: DateTime<Utc>, usage: Option<Decimal>) {
        let local = self.context.local(at);
        let used = usage.unwrap_or_default();
        if self.spec.kind == DeviceKind::WaterMeter {
            self.night = self.context.rules.night_of(&local).map(|night| {
                let mut tally = match self.night.take() {
                    Some(t) if t.night == night => t,
                    _ => NightTally { night, flowing: 0, dry: false },
                };
                if used > Decimal::ZERO {
                    tally.flowing = tally.flowing.saturating_add(1);
                } else {
                    tally.dry = true;
                }
                tally
            });
        }
        match &mut self.month {
            Some(month) if month.is(&local) => month.used = month.used.saturating_add(used),
            Some(_) => self.month = Some(MonthTally::start(&local, used, true)),
            None => self.month = Some(MonthTally::start(&local, used, false)),
        }
    }

    /// Folds one event in. Never fails: an event is a fact.
    pub fn apply(&mut self, event: &DeviceEvent) {
        if let Some(signal) = event.signal() {
            // `decide` let this signal through; a restart (new boot, or a counter far below the
            // last) starts the sequence again from it.
            self.last_seq = Some(match self.place(signal) {
                Place::Restart => signal.seq,
                _ => self.last_seq.map_or(signal.seq, |s| s.max(signal.seq)),
            });
            self.boot = self.boot.max(signal.boot);
            self.last_seen = Some(self.last_seen.map_or(signal.seen, |s| s.max(signal.seen)));
        }
        match event {
            DeviceEvent::ReadingAccepted { signal, value, usage } => {
                self.last_value = Some(*value);
                self.last_reading_at = Some(signal.at);
                self.readings += 1;
                // A normal reading ends a meter anomaly: the condition no longer holds.
                if !matches!(self.anomaly, Some(Anomaly::Gate { .. })) {
                    self.anomaly = None;
                }
                if let Some(usage) = usage {
                    if self.recent_usage.len() == USAGE_HISTORY {
                        self.recent_usage.pop_front();
                    }
                    self.recent_usage.push_back(*usage);
                }
                self.tally(signal.at, *usage);
            }
            DeviceEvent::LeakSuspected { signal, .. } => self.anomaly = Some(Anomaly::Leak { at: signal.at }),
            DeviceEvent::MonthClosed { in_range, .. } => {
                self.months_out_of_range = if *in_range { 0 } else { self.months_out_of_range.saturating_add(1) };
            }
            DeviceEvent::UseOutOfRange { signal, .. } => self.anomaly = Some(Anomaly::OutOfRange { at: signal.at }),
            DeviceEvent::ReadingWentBackwards { signal, .. } => {
                self.anomaly = Some(Anomaly::WentBackwards { at: signal.at });
            }
            DeviceEvent::UsageSpiked { signal, .. } => {
                // A spike is not history: keep it out of what "typical" is judged by.
                self.recent_usage.pop_back();
                self.anomaly = Some(Anomaly::Spike { at: signal.at });
            }
            DeviceEvent::GateEventRecorded { signal, action, .. } => {
                if action.is_alarm() {
                    self.anomaly = Some(Anomaly::Gate { at: signal.at, action: *action });
                } else if matches!(self.anomaly, Some(Anomaly::Gate { .. })) {
                    self.anomaly = None;
                }
            }
            DeviceEvent::HeartbeatReceived { .. } | DeviceEvent::TagRead { .. } => {}
            DeviceEvent::WentOffline { .. } => self.offline = true,
            DeviceEvent::CameBackOnline { .. } => self.offline = false,
        }
    }
}

fn command_signal(command: &DeviceCommand) -> Option<&Signal> {
    match command {
        DeviceCommand::RecordReading { signal, .. }
        | DeviceCommand::RecordGateEvent { signal, .. }
        | DeviceCommand::RecordTagRead { signal, .. }
        | DeviceCommand::RecordHeartbeat { signal } => Some(signal),
        DeviceCommand::CheckSilence { .. } => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn meter() -> DeviceState {
        DeviceState::new(DeviceSpec {
            id: DeviceId::new("wm-1-1-101"),
            kind: DeviceKind::WaterMeter,
            community: CommunityId::new("heyuan"),
            building: Some(BuildingId::new("heyuan-b01")),
            house: None,
            heartbeat_secs: 60,
        })
    }

    fn t(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + secs, 0).unwrap()
    }

    fn sig(seq: u64) -> Signal {
        Signal { seq, boot: 0, at: t(seq as i64 * 10), seen: t(seq as i64 * 10) }
    }

    fn run(state: &mut DeviceState, cmd: DeviceCommand) -> Vec<DeviceEvent> {
        let events = state.decide(&cmd).unwrap();
        events.iter().for_each(|e| state.apply(e));
        events
    }

    fn read(state: &mut DeviceState, seq: u64, value: i64) -> Vec<DeviceEvent> {
        run(state, DeviceCommand::RecordReading { signal: sig(seq), value: Decimal::new(value, 1) })
    }

    #[test]
    fn a_reading_below_the_previous_one_is_an_anomaly_and_keeps_the_register() {
        let mut m = meter();
        read(&mut m, 1, 1000);
        let events = read(&mut m, 2, 990);
        assert!(matches!(events[..], [DeviceEvent::ReadingWentBackwards { .. }]));
        assert_eq!(m.last_value, Some(Decimal::new(1000, 1)));
        assert_eq!(m.health(), DeviceHealth::Anomaly);
        read(&mut m, 3, 1001);
        assert_eq!(m.health(), DeviceHealth::Ok);
    }

    #[test]
    fn usage_far_above_this_meters_history_is_a_spike() {
        let mut m = meter();
        for (i, v) in [1000, 1003, 1006, 1009, 1012].into_iter().enumerate() {
            assert!(read(&mut m, i as u64 + 1, v).iter().all(|e| !matches!(e, DeviceEvent::UsageSpiked { .. })));
        }
        let events = read(&mut m, 6, 1112); // 10 m³ after four readings of 0.3 m³
        assert!(matches!(events[..], [DeviceEvent::ReadingAccepted { .. }, DeviceEvent::UsageSpiked { .. }]));
        assert_eq!(m.health(), DeviceHealth::Anomaly);
        // The spike does not become the new normal.
        assert!(m.recent_usage.iter().all(|u| *u < Decimal::ONE));
    }

    #[test]
    fn small_usage_is_never_a_spike_even_after_a_dry_spell() {
        let mut m = meter();
        for i in 1..=6 {
            read(&mut m, i, 1000);
        }
        assert!(read(&mut m, 7, 1003).iter().all(|e| !matches!(e, DeviceEvent::UsageSpiked { .. })));
    }

    #[test]
    fn a_redelivered_message_changes_nothing() {
        let mut m = meter();
        read(&mut m, 5, 1000);
        let before = m.clone();
        assert!(read(&mut m, 5, 2000).is_empty());
        assert!(read(&mut m, 4, 2000).is_empty());
        assert_eq!(m, before);
    }

    #[test]
    fn a_silent_device_goes_offline_and_comes_back_on_its_next_signal() {
        let mut m = meter();
        read(&mut m, 1, 1000);
        assert!(run(&mut m, DeviceCommand::CheckSilence { now: t(69), quiet_since: t(0) }).is_empty());
        let events = run(&mut m, DeviceCommand::CheckSilence { now: t(70), quiet_since: t(0) });
        assert!(matches!(events[..], [DeviceEvent::WentOffline { .. }]));
        assert_eq!(m.health(), DeviceHealth::Offline);
        assert!(run(&mut m, DeviceCommand::CheckSilence { now: t(500), quiet_since: t(0) }).is_empty());
        let events = run(&mut m, DeviceCommand::RecordHeartbeat { signal: sig(60) });
        assert!(matches!(events[..], [DeviceEvent::CameBackOnline { .. }, DeviceEvent::HeartbeatReceived { .. }]));
        assert_eq!(m.health(), DeviceHealth::Ok);
    }

    #[test]
    fn a_gate_refuses_readings_and_a_forced_gate_is_an_anomaly() {
        let mut g = meter();
        g.spec.kind = DeviceKind::Gate;
        assert!(g.decide(&DeviceCommand::RecordReading { signal: sig(1), value: Decimal::ONE }).is_err());
        run(&mut g, DeviceCommand::RecordGateEvent { signal: sig(2), action: GateAction::ForcedOpen, plate: None });
        assert_eq!(g.health(), DeviceHealth::Anomaly);
        run(&mut g, DeviceCommand::RecordGateEvent { signal: sig(3), action: GateAction::OpenedByCard, plate: None });
        assert_eq!(g.health(), DeviceHealth::Ok);
    }

    #[test]
    fn a_rebooted_device_is_heard_and_a_forged_huge_seq_mutes_no_one() {
        let mut m = meter();
        read(&mut m, 5_000, 1000);
        // Redelivery is still a duplicate.
        assert!(m.decide(&DeviceCommand::RecordHeartbeat { signal: sig(4_999) }).unwrap().is_empty());
        // A counter started again far below the last: a restart, heard.
        assert!(!read(&mut m, 1, 1001).is_empty());
        assert_eq!(m.last_seq, Some(1));
        assert!(!read(&mut m, 2, 1002).is_empty());
        // A forged seq = u64::MAX mutes no one: the device's next real message is a restart.
        run(&mut m, DeviceCommand::RecordHeartbeat { signal: sig(u64::MAX) });
        assert!(!read(&mut m, 3, 1003).is_empty());
        assert_eq!(m.last_seq, Some(3));
        // A device that keeps a boot counter: a new boot starts again, a late message of the
        // old boot is a redelivery.
        let booted = Signal { boot: 1, ..sig(1) };
        assert!(!run(&mut m, DeviceCommand::RecordHeartbeat { signal: booted }).is_empty());
        assert_eq!((m.boot, m.last_seq), (1, Some(1)));
        assert!(m.decide(&DeviceCommand::RecordHeartbeat { signal: sig(4) }).unwrap().is_empty(), "boot 0 is over");
    }

    #[derive(Clone, Debug)]
    enum Step {
        Reading(u64, i64),
        Heartbeat(u64),
        Silence(i64),
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            (1u64..60, 0i64..100_000).prop_map(|(s, v)| Step::Reading(s, v)),
            (1u64..60).prop_map(Step::Heartbeat),
            (0i64..2_000).prop_map(Step::Silence),
        ]
    }

    proptest! {
        /// Replaying the journaled events from scratch rebuilds exactly the live state.
        #[test]
        fn replay_rebuilds_the_live_state(steps in proptest::collection::vec(step(), 0..80)) {
            let mut live = meter();
            let mut journal = Vec::new();
            for s in steps {
                let cmd = match s {
                    Step::Reading(seq, v) => DeviceCommand::RecordReading { signal: sig(seq), value: Decimal::new(v, 2) },
                    Step::Heartbeat(seq) => DeviceCommand::RecordHeartbeat { signal: sig(seq) },
                    Step::Silence(now) => DeviceCommand::CheckSilence { now: t(now), quiet_since: t(0) },
                };
                let events = live.decide(&cmd).unwrap();
                for e in &events { live.apply(e); }
                journal.extend(events);
            }
            let mut replayed = meter();
            for e in &journal { replayed.apply(e); }
            prop_assert_eq!(&replayed, &live);
            // And through the journal's encoding too.
            let decoded: Vec<DeviceEvent> = serde_json::from_str(&serde_json::to_string(&journal).unwrap()).unwrap();
            let mut from_json = meter();
            for e in &decoded { from_json.apply(e); }
            prop_assert_eq!(&from_json, &live);
        }

        /// D4: readings at the edges of `Decimal` are refused or folded, never a panic, and
        /// nothing past the bound reaches the journal.
        #[test]
        fn extreme_readings_never_panic(values in proptest::collection::vec(prop_oneof![
            Just(Decimal::MAX), Just(Decimal::MIN), Just(crate::limits::READING_MAX), Just(Decimal::ZERO),
            (0i64..i64::MAX).prop_map(|v| Decimal::new(v, 0)), (0i64..1_000).prop_map(|v| Decimal::new(v, 1)),
        ], 1..40)) {
            let mut m = meter();
            for (n, value) in values.into_iter().enumerate() {
                let Ok(events) = m.decide(&DeviceCommand::RecordReading { signal: sig(n as u64 + 1), value }) else { continue };
                for e in &events {
                    if let DeviceEvent::ReadingAccepted { value, .. } = e {
                        prop_assert!(*value <= crate::limits::READING_MAX);
                    }
                    m.apply(e);
                }
                let _ = m.typical_usage();
            }
        }

        /// The sequence number only moves forward, whatever order messages arrive in.
        #[test]
        fn last_seq_never_moves_back(seqs in proptest::collection::vec(1u64..100, 1..50)) {
            let mut m = meter();
            let mut high = 0;
            for s in seqs {
                run(&mut m, DeviceCommand::RecordHeartbeat { signal: sig(s) });
                high = high.max(s);
                prop_assert_eq!(m.last_seq, Some(high));
            }
        }
    }
}
