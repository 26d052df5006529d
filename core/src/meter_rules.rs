//! The meter anomalies judged over time (M4), each detected the moment it becomes true:
//! - **a leak**: water flowing through the whole night (every reading inside the community's
//!   night window used water) — judged at the first reading after the night;
//! - **out of range for months**: a month's use outside the community's range for its kind,
//!   several months in a row — judged at the first reading of the next month;
//! - **zero use in an occupied home**: a home's meter that used nothing in a whole month while
//!   the home was lived in every day of it — judged at the same moment, the month's close asked
//!   of the building's book (which knows the home's states).
//!
//! Thresholds are per community ([`MeterRules`], kept with the community's registration), with
//! defaults a property office would start from. Hours and months are the community's own (its
//! time zone, through chrono-tz). (Spikes and readings going backwards are judged on each
//! reading in `device`.)

use std::sync::Arc;

use chrono::{DateTime, Datelike, NaiveDate, Timelike, Utc};
use chrono_tz::Tz;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::device::DeviceKind;

/// A month's use a meter of some kind is expected to stay within.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UseRange {
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub min: Decimal,
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub max: Decimal,
}

impl UseRange {
    fn new(min: i64, max: i64) -> Self {
        Self { min: Decimal::from(min), max: Decimal::from(max) }
    }

    pub fn contains(&self, used: Decimal) -> bool {
        used >= self.min && used <= self.max
    }
}

/// A community's thresholds for the anomalies judged over time. A field left out keeps its
/// default; an unknown one is refused.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MeterRules {
    /// The night, in local hours `[from, to)` (may wrap midnight, e.g. 23 → 5).
    pub night_from_hour: u32,
    pub night_to_hour: u32,
    /// Readings inside one night, every one with water used, that make it a leak.
    pub leak_min_readings: u32,
    /// Months in a row out of range that raise an alarm.
    pub out_of_range_months: u32,
    /// Monthly use ranges: m³ of water, kWh of electricity, m³ of gas.
    pub water_month: UseRange,
    pub electricity_month: UseRange,
    pub gas_month: UseRange,
}

impl Default for MeterRules {
    fn default() -> Self {
        Self {
            night_from_hour: 1,
            night_to_hour: 5,
            leak_min_readings: 3,
            out_of_range_months: 3,
            water_month: UseRange::new(1, 50),
            electricity_month: UseRange::new(10, 1500),
            gas_month: UseRange::new(1, 100),
        }
    }
}

/// Why a community's rules were refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RulesError {
    BadNight,
    BadCount,
    BadRange,
}

crate::bilingual!(RulesError {
    RulesError::BadNight => ("夜间时段须为 0–23 点之间的两个不同整点") / ("the night is two different whole hours between 0 and 23"),
    RulesError::BadCount => ("读数次数和月数须在 1–24 之间") / ("counts of readings and months must be between 1 and 24"),
    RulesError::BadRange => ("用量范围须满足 0 ≤ 下限 ≤ 上限 ≤ 1000000") / ("a use range needs 0 ≤ min ≤ max ≤ 1000000"),
});

impl MeterRules {
    /// Refuses rules that could not be applied as written.
    pub fn check(&self) -> Result<(), RulesError> {
        if self.night_from_hour > 23 || self.night_to_hour > 23 || self.night_from_hour == self.night_to_hour {
            return Err(RulesError::BadNight);
        }
        if !(1..=24).contains(&self.leak_min_readings) || !(1..=24).contains(&self.out_of_range_months) {
            return Err(RulesError::BadCount);
        }
        let cap = Decimal::from(1_000_000);
        for r in [&self.water_month, &self.electricity_month, &self.gas_month] {
            if r.min.is_sign_negative() || r.min > r.max || r.max > cap {
                return Err(RulesError::BadRange);
            }
        }
        Ok(())
    }

    pub fn month_range(&self, kind: DeviceKind) -> Option<&UseRange> {
        match kind {
            DeviceKind::WaterMeter => Some(&self.water_month),
            DeviceKind::ElectricityMeter => Some(&self.electricity_month),
            DeviceKind::GasMeter => Some(&self.gas_month),
            DeviceKind::Gate | DeviceKind::Barrier | DeviceKind::PatrolReader => None,
        }
    }

    /// The night a local time falls in, named by the date it ends on; `None` outside the night.
    pub fn night_of(&self, local: &DateTime<Tz>) -> Option<NaiveDate> {
        let (hour, date) = (local.hour(), local.date_naive());
        let (from, to) = (self.night_from_hour, self.night_to_hour);
        if from < to {
            (from..to).contains(&hour).then_some(date)
        } else if hour >= from {
            date.succ_opt()
        } else {
            (hour < to).then_some(date)
        }
    }
}

/// Where a community's meters judge time: its zone and its rules. Not journaled: set from the
/// community's registration whenever a device is recovered.
#[derive(Clone, Debug, PartialEq)]
pub struct MeterContext {
    pub tz: Tz,
    pub rules: Arc<MeterRules>,
}

impl Default for MeterContext {
    fn default() -> Self {
        Self { tz: chrono_tz::Asia::Shanghai, rules: Arc::default() }
    }
}

impl MeterContext {
    /// A community's context (an unknown zone name falls back to Asia/Shanghai, as registration
    /// refuses unknown zones).
    pub fn of(community: &crate::community::Community) -> Self {
        let tz = community.time_zone.parse().unwrap_or(chrono_tz::Asia::Shanghai);
        Self { tz, rules: Arc::new(community.meter_rules.clone()) }
    }

    pub fn local(&self, at: DateTime<Utc>) -> DateTime<Tz> {
        at.with_timezone(&self.tz)
    }
}

/// The first and last day of a month.
pub fn month_span(year: i32, month: u32) -> Option<(NaiveDate, NaiveDate)> {
    let first = NaiveDate::from_ymd_opt(year, month, 1)?;
    let last = first.checked_add_months(chrono::Months::new(1))?.pred_opt()?;
    Some((first, last))
}

/// One night of a water meter: readings inside it, and whether any used no water.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NightTally {
    pub night: NaiveDate,
    pub flowing: u32,
    pub dry: bool,
}

/// One local month of a meter.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MonthTally {
    pub year: i32,
    pub month: u32,
    pub used: Decimal,
    /// Started at the month's turn (not mid-month, with the meter's first reading): only a
    /// whole month is judged.
    pub whole: bool,
}

impl MonthTally {
    pub fn is(&self, local: &DateTime<Tz>) -> bool {
        (self.year, self.month) == (local.year(), local.month())
    }

    pub fn start(local: &DateTime<Tz>, used: Decimal, whole: bool) -> Self {
        Self { year: local.year(), month: local.month(), used, whole }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::{DeviceCommand, DeviceEvent, DeviceHealth, DeviceSpec, DeviceState, Signal};
    use crate::ids::{CommunityId, DeviceId};
    use chrono::TimeZone;

    fn meter(kind: DeviceKind, tz: Tz) -> DeviceState {
        let mut state = DeviceState::new(DeviceSpec {
            id: DeviceId::new("m"),
            kind,
            community: CommunityId::new("c"),
            building: None,
            house: None,
            heartbeat_secs: 3600,
        });
        state.context = MeterContext { tz, rules: Arc::new(MeterRules::default()) };
        state
    }

    /// A reading at a local wall time of the meter's zone; `seq` keeps growing.
    fn read(state: &mut DeviceState, local: (i32, u32, u32, u32, u32), value: Decimal) -> Vec<DeviceEvent> {
        let (y, mo, d, h, mi) = local;
        let Some(local) = state.context.tz.with_ymd_and_hms(y, mo, d, h, mi, 0).earliest() else { panic!("{y}-{mo}-{d} {h}:{mi} is not a local time") };
        let at = local.with_timezone(&Utc);
        let seq = state.last_seq.map_or(1, |s| s + 1);
        let command = DeviceCommand::RecordReading { signal: Signal { seq, boot: 0, at, seen: at }, value };
        let Ok(events) = state.decide(&command) else { panic!("a reading was refused") };
        events.iter().for_each(|e| state.apply(e));
        events
    }

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default()
    }

    fn leaks(events: &[DeviceEvent]) -> Vec<(NaiveDate, u32)> {
        events.iter().filter_map(|e| if let DeviceEvent::LeakSuspected { night, readings, .. } = e { Some((*night, *readings)) } else { None }).collect()
    }

    #[test]
    fn water_through_the_whole_night_is_a_leak_the_moment_the_night_ends() {
        let mut m = meter(DeviceKind::WaterMeter, chrono_tz::Asia::Shanghai);
        let mut v = Decimal::from(100);
        read(&mut m, (2026, 11, 30, 23, 0), v);
        for hour in 1..5 {
            v += Decimal::new(3, 2);
            assert!(leaks(&read(&mut m, (2026, 12, 1, hour, 0), v)).is_empty(), "not before the night is over");
        }
        // The first reading after 05:00 closes the night: four readings, every one with water.
        v += Decimal::new(3, 2);
        let events = read(&mut m, (2026, 12, 1, 6, 0), v);
        assert_eq!(leaks(&events), vec![(day(2026, 12, 1), 4)]);
        assert_eq!(m.health(), DeviceHealth::Anomaly);
        // Said once: the next reading of the day says nothing more.
        assert!(leaks(&read(&mut m, (2026, 12, 1, 7, 0), v + Decimal::ONE)).is_empty());
    }

    #[test]
    fn a_night_with_one_dry_reading_or_too_few_readings_is_not_a_leak() {
        let mut m = meter(DeviceKind::WaterMeter, chrono_tz::Asia::Shanghai);
        let v = Decimal::from(100);
        read(&mut m, (2026, 12, 1, 0, 30), v);
        read(&mut m, (2026, 12, 1, 1, 0), v + Decimal::new(1, 2));
        read(&mut m, (2026, 12, 1, 2, 0), v + Decimal::new(1, 2)); // nothing used: a dry hour
        read(&mut m, (2026, 12, 1, 3, 0), v + Decimal::new(2, 2));
        read(&mut m, (2026, 12, 1, 4, 0), v + Decimal::new(3, 2));
        assert!(leaks(&read(&mut m, (2026, 12, 1, 6, 0), v + Decimal::ONE)).is_empty());
        // Two readings with water, then the night is over: too few to judge.
        read(&mut m, (2026, 12, 2, 3, 0), v + Decimal::from(2));
        read(&mut m, (2026, 12, 2, 4, 0), v + Decimal::from(3));
        assert!(leaks(&read(&mut m, (2026, 12, 2, 8, 0), v + Decimal::from(4))).is_empty());
        // An electricity meter has no night rule (the fridge runs all night).
        let mut e = meter(DeviceKind::ElectricityMeter, chrono_tz::Asia::Shanghai);
        for (i, hour) in [0, 1, 2, 3, 4, 6].into_iter().enumerate() {
            assert!(leaks(&read(&mut e, (2026, 12, 1, hour, 0), Decimal::from(10 * i as i64))).is_empty());
        }
    }

    #[test]
    fn the_night_follows_the_community_zone_across_a_daylight_saving_change() {
        // New York's clocks go back at 02:00 on 2026-11-01: 01:00–02:00 happens twice.
        let mut m = meter(DeviceKind::WaterMeter, chrono_tz::America::New_York);
        let mut v = Decimal::from(50);
        read(&mut m, (2026, 10, 31, 23, 0), v);
        for hour in [1, 2, 3, 4] {
            v += Decimal::new(1, 1);
            assert!(leaks(&read(&mut m, (2026, 11, 1, hour, 30), v)).is_empty());
        }
        let events = read(&mut m, (2026, 11, 1, 5, 15), v + Decimal::new(1, 1));
        assert_eq!(leaks(&events), vec![(day(2026, 11, 1), 4)]);
    }

    fn out_of_range(events: &[DeviceEvent]) -> Option<u32> {
        events.iter().find_map(|e| if let DeviceEvent::UseOutOfRange { months, .. } = e { Some(*months) } else { None })
    }

    #[test]
    fn three_whole_months_in_a_row_out_of_range_raise_it_at_the_turn_of_the_third() {
        let mut m = meter(DeviceKind::WaterMeter, chrono_tz::Asia::Shanghai);
        // Installed mid-August: August is not a whole month and is not judged.
        let mut v = Decimal::from(1000);
        read(&mut m, (2026, 8, 20, 12, 0), v);
        v += Decimal::from(200);
        read(&mut m, (2026, 8, 30, 12, 0), v);
        // September, October, November each use 120 m³ (range 1–50).
        for month in [9, 10, 11] {
            for day in [1, 15] {
                v += Decimal::from(60);
                let events = read(&mut m, (2026, month, day, 12, 0), v);
                let judged = events.iter().any(|e| matches!(e, DeviceEvent::MonthClosed { .. }));
                assert_eq!(judged, day == 1 && month > 9, "month {month} day {day}");
                assert_eq!(out_of_range(&events), None, "not yet: month {month} day {day}");
            }
        }
        // The first reading of December closes November, the third month out of range in a row.
        // (Its own use counts to December: a reading's use belongs to the month it is read in.)
        v += Decimal::from(10);
        assert_eq!(out_of_range(&read(&mut m, (2026, 12, 1, 0, 5), v)), Some(3));
        assert_eq!(m.months_out_of_range, 3);
        // A month back in range starts the count again.
        v += Decimal::from(20);
        read(&mut m, (2026, 12, 20, 12, 0), v);
        read(&mut m, (2027, 1, 2, 12, 0), v + Decimal::from(5));
        assert_eq!(m.months_out_of_range, 0);
    }

    #[test]
    fn rules_that_cannot_be_applied_are_refused() {
        assert_eq!(MeterRules::default().check(), Ok(()));
        let night = MeterRules { night_from_hour: 3, night_to_hour: 3, ..MeterRules::default() };
        assert_eq!(night.check(), Err(RulesError::BadNight));
        let range = MeterRules { water_month: UseRange::new(10, 5), ..MeterRules::default() };
        assert_eq!(range.check(), Err(RulesError::BadRange));
        let wrapped = MeterRules { night_from_hour: 23, night_to_hour: 5, ..MeterRules::default() };
        let at = chrono_tz::Asia::Shanghai.with_ymd_and_hms(2026, 12, 31, 23, 30, 0).single();
        assert_eq!(at.and_then(|at| wrapped.night_of(&at)), Some(day(2027, 1, 1)), "a night that wraps midnight is named by the day it ends");
    }
}
