//! Patrols (巡更, T1–T6), pure: a route through checkpoints, the plan of its rounds, and what
//! happened on each round. Each stop of a round has a window — its expected arrival, give or take
//! the plan's tolerance — and a stop not checked in when its window closes is a **miss**.
//!
//! Rounds start at times of day in the community's time zone (chrono-tz): a start that falls in
//! the hour skipped when clocks go forward moves to the first minute after it, one in the hour
//! repeated when they go back takes the first of the two, and a walk takes real minutes either
//! way. The route's actor keeps one timer on the next window to close and asks `Settle` at that
//! instant, so a miss is decided when it becomes true, not by a nightly sweep.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use chrono::{DateTime, Datelike, LocalResult, NaiveDate, NaiveTime, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::ids::{CheckpointId, RouteId, is_photo_id, is_valid_id};

/// One stop of a route: a checkpoint, the minutes allowed to reach it from the previous stop (from
/// the round's start, for the first) and the minutes to stay there.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stop {
    pub checkpoint: CheckpointId,
    pub name: String,
    pub after_mins: u32,
    pub dwell_mins: u32,
}

/// When a route is walked (T3).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatrolPlan {
    /// Start times of day, in the community's time zone.
    pub starts: Vec<NaiveTime>,
    /// Days of the week (1 = Monday … 7 = Sunday); empty: every day.
    #[serde(default)]
    pub days: BTreeSet<u8>,
    /// Minutes before and after the expected arrival a check-in counts.
    pub tolerance_mins: u32,
    /// Who walks it (accounts, or patrol readers' ids); empty: any guard of the community.
    #[serde(default)]
    pub guards: BTreeSet<String>,
    /// Minutes before a round starts its guards' phones remind them; 0: no reminder.
    #[serde(default = "default_remind_mins")]
    pub remind_mins: u32,
}

/// Reminded this long before a round unless the plan says otherwise.
pub const DEFAULT_REMIND_MINS: u32 = 10;

fn default_remind_mins() -> u32 {
    DEFAULT_REMIND_MINS
}

/// A route and its plan, as the office set them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteDefinition {
    pub name: String,
    /// The community's time zone (IANA), copied so the rounds need nothing else.
    pub time_zone: String,
    pub stops: Vec<Stop>,
    pub plan: PatrolPlan,
}

/// When a stop of one round may be checked in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Window {
    /// The round, by its start.
    pub round: DateTime<Utc>,
    pub stop: usize,
    pub checkpoint: CheckpointId,
    pub opens: DateTime<Utc>,
    pub closes: DateTime<Utc>,
}

/// The most stops a route has, start times a day, and characters of a name or a note.
pub const MAX_STOPS: usize = 100;
pub const MAX_STARTS: usize = 48;
pub const MAX_NAME: usize = 50;
pub const MAX_NOTE: usize = 200;
pub const MAX_PHOTOS: usize = 9;
/// How far a phone's scan time may run ahead of the server's clock.
pub const CLOCK_SKEW: TimeDelta = TimeDelta::minutes(2);
/// How far back a settle looks after the server was down (older windows are not judged).
pub const SETTLE_HORIZON: TimeDelta = TimeDelta::days(35);

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PatrolError {
    NotDefined,
    NoStops,
    TooManyStops,
    NoStarts,
    BadTimeZone(String),
    BadDay(u8),
    BadTolerance,
    BadReminder,
    RoundTooLong,
    BadCheckpoint(String),
    NameTooLong,
    UnknownCheckpoint(String),
    NotAssigned(String),
    ScanInFuture,
    NoteTooLong,
    TooManyPhotos,
    RoundEnded,
    AlreadyCheckedIn,
    NoSuchCheckIn,
    BadPhoto(String),
    NotInWindow { next: Option<String> },
}

crate::bilingual!(PatrolError {
    PatrolError::NotDefined => ("这条巡更路线还没有设置") / ("this patrol route is not set up yet"),
    PatrolError::NoStops => ("巡更路线至少要有一个巡更点") / ("a route needs at least one checkpoint"),
    PatrolError::TooManyStops => ("一条巡更路线最多 {MAX_STOPS} 个巡更点") / ("a route has at most {MAX_STOPS} checkpoints"),
    PatrolError::NoStarts => ("巡更计划至少要有一个开始时间（最多 {MAX_STARTS} 个）") / ("a plan needs between 1 and {MAX_STARTS} start times"),
    PatrolError::BadTimeZone(_0) => ("时区 {_0} 无法识别") / ("unknown time zone {_0}"),
    PatrolError::BadDay(_0) => ("星期只能是 1（周一）到 7（周日），不能是 {_0}") / ("days are 1 (Monday) to 7 (Sunday), not {_0}"),
    PatrolError::BadTolerance => ("允许误差须在 1 到 240 分钟之间") / ("the tolerance is 1 to 240 minutes"),
    PatrolError::BadReminder => ("提前提醒须在 0 到 240 分钟之间（0 为不提醒）") / ("the reminder is 0 (none) to 240 minutes ahead"),
    PatrolError::RoundTooLong => ("一轮巡更的时长（路程加停留）须少于 24 小时，每段最多 24 小时、停留最多 120 分钟") / ("a round (walking and staying) must take under 24 hours, each leg at most 24 hours and each stay at most 120 minutes"),
    PatrolError::BadCheckpoint(_0) => ("巡更点编号 {_0} 只能用字母、数字、- 和 _") / ("checkpoint id {_0} may use letters, digits, - and _ only"),
    PatrolError::NameTooLong => ("名称最多 {MAX_NAME} 个字") / ("a name is at most {MAX_NAME} characters"),
    PatrolError::UnknownCheckpoint(_0) => ("巡更点 {_0} 不在这条路线上") / ("checkpoint {_0} is not on this route"),
    PatrolError::NotAssigned(_0) => ("{_0} 不在这条路线的排班内") / ("{_0} is not assigned to this route"),
    PatrolError::ScanInFuture => ("扫码时间晚于服务器时间，请校准手机时间") / ("the scan time is ahead of the server's clock; set the phone's time"),
    PatrolError::NoteTooLong => ("备注最多 {MAX_NOTE} 个字") / ("a note is at most {MAX_NOTE} characters"),
    PatrolError::TooManyPhotos => ("每次签到最多 {MAX_PHOTOS} 张照片") / ("at most {MAX_PHOTOS} photos a check-in"),
    PatrolError::RoundEnded => ("这一轮巡更在这个点的时段已结束，已记为漏巡") / ("this round's window at this checkpoint has closed and was counted as missed"),
    PatrolError::AlreadyCheckedIn => ("这一轮已在这个点签到过") / ("this round is already checked in here"),
    PatrolError::NoSuchCheckIn => ("找不到你的这次签到（只能给自己近期的签到补充照片和备注）") / ("no such check-in of yours (photos and notes go with your own recent check-ins)"),
    PatrolError::BadPhoto(_0) => ("照片编号 {_0} 无效，请重新上传") / ("photo id {_0} is not valid; upload the photo again"),
    PatrolError::NotInWindow { next: Some(next) } => ("现在不在这个巡更点的巡查时段内，下一时段 {next} 开始") / ("not within a window of this checkpoint; the next opens at {next}"),
    PatrolError::NotInWindow { next: None } => ("现在不在这个巡更点的巡查时段内") / ("not within a window of this checkpoint"),
});

/// Where a local date and time of day is on the time line (see the module's note on daylight saving).
fn local_instant(tz: Tz, date: NaiveDate, time: NaiveTime) -> Option<DateTime<Utc>> {
    let naive = date.and_time(time);
    match tz.from_local_datetime(&naive) {
        LocalResult::Single(t) => Some(t.with_timezone(&Utc)),
        LocalResult::Ambiguous(first, _) => Some(first.with_timezone(&Utc)),
        LocalResult::None => (1..=180).find_map(|m| tz.from_local_datetime(&(naive + TimeDelta::minutes(m))).earliest()).map(|t| t.with_timezone(&Utc)),
    }
}

impl RouteDefinition {
    /// Refuses a route or plan that could not be walked, with the reason.
    pub fn check(&self) -> Result<(), PatrolError> {
        if self.stops.is_empty() {
            return Err(PatrolError::NoStops);
        }
        if self.stops.len() > MAX_STOPS {
            return Err(PatrolError::TooManyStops);
        }
        self.tz()?;
        if self.plan.starts.is_empty() || self.plan.starts.len() > MAX_STARTS {
            return Err(PatrolError::NoStarts);
        }
        if let Some(day) = self.plan.days.iter().find(|d| !(1..=7).contains(*d)) {
            return Err(PatrolError::BadDay(*day));
        }
        if !(1..=240).contains(&self.plan.tolerance_mins) {
            return Err(PatrolError::BadTolerance);
        }
        if self.plan.remind_mins > 240 {
            return Err(PatrolError::BadReminder);
        }
        if self.stops.iter().any(|s| s.after_mins > 24 * 60 || s.dwell_mins > 120) || self.length() >= TimeDelta::hours(24) {
            return Err(PatrolError::RoundTooLong);
        }
        if let Some(bad) = self.stops.iter().find(|s| !is_valid_id(s.checkpoint.as_str())) {
            return Err(PatrolError::BadCheckpoint(bad.checkpoint.to_string()));
        }
        if self.name.chars().count() > MAX_NAME || self.stops.iter().any(|s| s.name.chars().count() > MAX_NAME) {
            return Err(PatrolError::NameTooLong);
        }
        Ok(())
    }

    fn tz(&self) -> Result<Tz, PatrolError> {
        self.time_zone.parse::<Tz>().map_err(|_| PatrolError::BadTimeZone(self.time_zone.clone()))
    }

    /// From a round's start to its last stop's expected arrival, plus the tolerance.
    fn length(&self) -> TimeDelta {
        let walk: u32 = self.stops.iter().map(|s| s.after_mins).sum::<u32>() + self.stops.iter().rev().skip(1).map(|s| s.dwell_mins).sum::<u32>();
        TimeDelta::minutes(i64::from(walk + self.plan.tolerance_mins))
    }

    /// The starts of the rounds planned on a local date.
    pub fn rounds_on(&self, date: NaiveDate) -> Vec<DateTime<Utc>> {
        let Ok(tz) = self.tz() else { return Vec::new() };
        let weekday = date.weekday().number_from_monday() as u8;
        if !self.plan.days.is_empty() && !self.plan.days.contains(&weekday) {
            return Vec::new();
        }
        let mut starts: Vec<DateTime<Utc>> = self.plan.starts.iter().filter_map(|t| local_instant(tz, date, *t)).collect();
        starts.sort();
        starts.dedup();
        starts
    }

    /// The first round starting after `after` (within two days), and when its guards are to be
    /// reminded of it; `None` without reminders.
    pub fn next_reminder(&self, after: DateTime<Utc>) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        if self.plan.remind_mins == 0 {
            return None;
        }
        let tz = self.tz().ok()?;
        let first = after.with_timezone(&tz).date_naive();
        let round = first.iter_days().take(3).flat_map(|d| self.rounds_on(d)).find(|start| *start > after)?;
        Some((round - TimeDelta::minutes(i64::from(self.plan.remind_mins)), round))
    }

    /// Each stop's window in the round starting at `round`.
    pub fn windows(&self, round: DateTime<Utc>) -> Vec<Window> {
        let tolerance = TimeDelta::minutes(i64::from(self.plan.tolerance_mins));
        let mut expected = round;
        let mut out = Vec::with_capacity(self.stops.len());
        for (i, stop) in self.stops.iter().enumerate() {
            if i > 0 {
                expected += TimeDelta::minutes(i64::from(self.stops[i - 1].dwell_mins));
            }
            expected += TimeDelta::minutes(i64::from(stop.after_mins));
            out.push(Window { round, stop: i, checkpoint: stop.checkpoint.clone(), opens: expected - tolerance, closes: expected + tolerance });
        }
        out
    }

    /// Every window closing in `(from, to]`, by when it closes.
    pub fn windows_closing(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<Window> {
        let Ok(tz) = self.tz() else { return Vec::new() };
        // A round may start the day before `from` and close after it (rounds last under a day).
        let first = from.with_timezone(&tz).date_naive().pred_opt().unwrap_or(NaiveDate::MIN);
        let last = to.with_timezone(&tz).date_naive();
        let mut out: Vec<Window> = first
            .iter_days()
            .take_while(|d| *d <= last)
            .flat_map(|d| self.rounds_on(d))
            .flat_map(|round| self.windows(round))
            .filter(|w| w.closes > from && w.closes <= to)
            .collect();
        out.sort_by_key(|w| (w.closes, w.round, w.stop));
        out
    }

    /// The local month (`YYYY-MM`) a round counts in: the month it started.
    pub fn month_of(&self, round: DateTime<Utc>) -> String {
        match self.tz() {
            Ok(tz) => round.with_timezone(&tz).format("%Y-%m").to_string(),
            Err(_) => round.format("%Y-%m").to_string(),
        }
    }
}

/// A check-in (T4): where, when (the scan's time), who, and what they noted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckIn {
    pub checkpoint: CheckpointId,
    pub at: DateTime<Utc>,
    pub by: String,
    pub name: String,
    #[serde(default)]
    pub note: Option<String>,
    #[serde(default)]
    pub photos: Vec<String>,
    /// When the guard scanned again on leaving (the stay is from `at` to this).
    #[serde(default)]
    pub left_at: Option<DateTime<Utc>>,
}

/// The longest stay measured at a checkpoint: a later scan there is not a departure.
pub const MAX_STAY: TimeDelta = TimeDelta::hours(3);

/// What a counted scan was.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckInOutcome {
    /// Arrived at a stop of a planned round.
    Arrived,
    /// Left a stop reached earlier in the round: stayed this many minutes.
    Left { stayed_mins: i64 },
    /// On a round of the guard's own (临时巡更).
    Unplanned,
}

impl CheckInOutcome {
    /// What the events of a counted scan say it was.
    pub fn of(events: &[PatrolEvent], route: &PatrolRoute) -> CheckInOutcome {
        for event in events {
            match event {
                PatrolEvent::Left { round, stop, at } => {
                    let arrived = route.progress(*round).and_then(|p| p.reached.get(stop)).map_or(*at, |c| c.at);
                    return CheckInOutcome::Left { stayed_mins: (*at - arrived).num_minutes() };
                }
                PatrolEvent::UnplannedCheckIn { .. } => return CheckInOutcome::Unplanned,
                _ => {}
            }
        }
        CheckInOutcome::Arrived
    }
}

/// A round not closed yet: what was reached and what was missed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoundProgress {
    pub reached: BTreeMap<usize, CheckIn>,
    pub missed: BTreeSet<usize>,
}

/// A guard's part of a month.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuardFigures {
    pub rounds: u32,
    pub completed: u32,
}

/// A month of a route (T6): rounds planned and closed, completed (every stop reached), missed
/// (at least one stop missed), and stops missed; per guard who checked in on a round.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MonthFigures {
    pub rounds: u32,
    pub completed: u32,
    pub missed_rounds: u32,
    pub missed_stops: u32,
    pub by_guard: BTreeMap<String, GuardFigures>,
}

impl MonthFigures {
    /// Rounds with every stop reached, in percent of the rounds (one decimal); `None` with no rounds.
    pub fn completion_rate(&self) -> Option<rust_decimal::Decimal> {
        percent(self.completed, self.rounds)
    }

    /// Rounds with a stop missed, in percent of the rounds.
    pub fn miss_rate(&self) -> Option<rust_decimal::Decimal> {
        percent(self.missed_rounds, self.rounds)
    }

    fn add(&mut self, other: &MonthFigures) {
        self.rounds += other.rounds;
        self.completed += other.completed;
        self.missed_rounds += other.missed_rounds;
        self.missed_stops += other.missed_stops;
        for (guard, g) in &other.by_guard {
            let mine = self.by_guard.entry(guard.clone()).or_default();
            mine.rounds += g.rounds;
            mine.completed += g.completed;
        }
    }
}

impl GuardFigures {
    pub fn completion_rate(&self) -> Option<rust_decimal::Decimal> {
        percent(self.completed, self.rounds)
    }

    pub fn miss_rate(&self) -> Option<rust_decimal::Decimal> {
        percent(self.rounds.saturating_sub(self.completed), self.rounds)
    }
}

/// `part` of `whole` in percent, rounded half away from zero to one decimal (exact, no float).
pub fn percent(part: u32, whole: u32) -> Option<rust_decimal::Decimal> {
    if whole == 0 {
        return None;
    }
    let ratio = rust_decimal::Decimal::from(part) * rust_decimal::Decimal::ONE_HUNDRED / rust_decimal::Decimal::from(whole);
    let mut rate = ratio.round_dp_with_strategy(1, rust_decimal::RoundingStrategy::MidpointAwayFromZero);
    rate.rescale(1);
    Some(rate)
}

/// A community's patrol month (T6): each route's figures, and their sum — per guard too, a
/// guard's rounds counted on every route they walked.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PatrolMonth {
    pub month: String,
    pub routes: Vec<(RouteId, String, MonthFigures)>,
    pub total: MonthFigures,
}

impl PatrolMonth {
    pub fn of<'a>(month: &str, routes: impl IntoIterator<Item = &'a PatrolRoute>) -> PatrolMonth {
        let mut report = PatrolMonth { month: month.to_string(), ..Default::default() };
        for route in routes {
            let (Some(id), Some(definition)) = (&route.id, &route.definition) else { continue };
            let figures = route.months.get(month).cloned().unwrap_or_default();
            report.total.add(&figures);
            report.routes.push((id.clone(), definition.name.clone(), figures));
        }
        report.routes.sort_by(|a, b| a.0.cmp(&b.0));
        report
    }
}

/// The unplanned check-ins and closed rounds a route keeps.
pub const UNPLANNED_KEPT: usize = 100;
pub const CLOSED_KEPT: usize = 100;

/// One route: its definition, the rounds under way and its figures.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct PatrolRoute {
    pub id: Option<RouteId>,
    pub definition: Option<RouteDefinition>,
    /// Windows closing at or before this are decided, reached or missed.
    pub settled_through: Option<DateTime<Utc>>,
    pub open_rounds: BTreeMap<DateTime<Utc>, RoundProgress>,
    /// The latest closed rounds, stop by stop (newest last), for today's screens.
    #[serde(default)]
    pub closed_rounds: VecDeque<(DateTime<Utc>, RoundProgress)>,
    pub months: BTreeMap<String, MonthFigures>,
    pub unplanned: VecDeque<CheckIn>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum PatrolCommand {
    /// Sets (or changes) the route and its plan; windows before `at` are not judged.
    Define { route: RouteId, definition: RouteDefinition, at: DateTime<Utc> },
    /// A guard scanned a checkpoint at `check_in.at`; the server got it at `received_at`.
    CheckIn { check_in: CheckIn, received_at: DateTime<Utc>, unplanned: bool },
    /// Decides every window closed by `now`: reached, or missed.
    Settle { now: DateTime<Utc> },
    /// The guard adds a note and photos to their own check-in (the one at `checkpoint` scanned at
    /// `at`), of a round under way or lately closed.
    Annotate { checkpoint: CheckpointId, at: DateTime<Utc>, by: String, note: Option<String>, photos: Vec<String> },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum PatrolEvent {
    Defined { route: RouteId, definition: RouteDefinition, at: DateTime<Utc> },
    CheckedIn { round: DateTime<Utc>, stop: usize, check_in: CheckIn },
    UnplannedCheckIn { check_in: CheckIn },
    Missed { round: DateTime<Utc>, stop: usize, checkpoint: CheckpointId, name: String, closed: DateTime<Utc> },
    RoundClosed { round: DateTime<Utc>, month: String, stops: u32, reached: u32, guards: BTreeSet<String> },
    Settled { through: DateTime<Utc> },
    Annotated { round: DateTime<Utc>, stop: usize, note: Option<String>, photos: Vec<String> },
    /// The guard scanned a stop again on leaving it.
    Left { round: DateTime<Utc>, stop: usize, at: DateTime<Utc> },
}

impl PatrolRoute {
    /// When the next window closes after what is settled: the route's timer.
    pub fn next_close(&self) -> Option<DateTime<Utc>> {
        let (definition, from) = (self.definition.as_ref()?, self.settled_through?);
        definition.windows_closing(from, from + TimeDelta::days(2)).first().map(|w| w.closes)
    }

    /// A round's progress, under way or lately closed.
    pub fn progress(&self, round: DateTime<Utc>) -> Option<&RoundProgress> {
        self.open_rounds.get(&round).or_else(|| self.closed_rounds.iter().rev().find(|(r, _)| *r == round).map(|(_, p)| p))
    }

    /// The route's day (the community's date of `now`) for the wall: stops reached, missed, to come.
    pub fn tile(&self, route: &str, now: DateTime<Utc>) -> crate::live::PatrolTile {
        let mut tile = crate::live::PatrolTile { route: route.to_string(), next_close: self.next_close(), ..Default::default() };
        let Some(definition) = &self.definition else { return tile };
        tile.name = definition.name.clone();
        let Ok(tz) = definition.tz() else { return tile };
        for round in definition.rounds_on(now.with_timezone(&tz).date_naive()) {
            let progress = self.progress(round);
            for window in definition.windows(round) {
                if progress.is_some_and(|p| p.reached.contains_key(&window.stop)) {
                    tile.reached += 1;
                } else if progress.is_some_and(|p| p.missed.contains(&window.stop)) {
                    tile.missed += 1;
                } else if window.closes > now {
                    tile.due += 1;
                }
            }
        }
        tile
    }

    fn reached(&self, window: &Window) -> bool {
        self.open_rounds.get(&window.round).is_some_and(|r| r.reached.contains_key(&window.stop))
    }

    fn check_in(&self, check_in: &CheckIn, received_at: DateTime<Utc>, unplanned: bool) -> Result<Vec<PatrolEvent>, PatrolError> {
        let definition = self.definition.as_ref().ok_or(PatrolError::NotDefined)?;
        if !definition.stops.iter().any(|s| s.checkpoint == check_in.checkpoint) {
            return Err(PatrolError::UnknownCheckpoint(check_in.checkpoint.to_string()));
        }
        if !definition.plan.guards.is_empty() && !definition.plan.guards.contains(&check_in.by) {
            return Err(PatrolError::NotAssigned(check_in.name.clone()));
        }
        if check_in.at > received_at + CLOCK_SKEW {
            return Err(PatrolError::ScanInFuture);
        }
        if check_in.note.as_ref().is_some_and(|n| n.chars().count() > MAX_NOTE) {
            return Err(PatrolError::NoteTooLong);
        }
        if check_in.photos.len() > MAX_PHOTOS {
            return Err(PatrolError::TooManyPhotos);
        }
        if let Some(bad) = check_in.photos.iter().find(|p| !is_photo_id(p)) {
            return Err(PatrolError::BadPhoto(bad.chars().take(40).collect()));
        }
        if unplanned {
            return Ok(vec![PatrolEvent::UnplannedCheckIn { check_in: check_in.clone() }]);
        }
        let at = check_in.at;
        let around = definition.windows_closing(at - TimeDelta::days(1), at + TimeDelta::days(1));
        let mine: Vec<&Window> = around.iter().filter(|w| w.checkpoint == check_in.checkpoint).collect();
        let open: Vec<&&Window> = mine.iter().filter(|w| w.opens <= at && at <= w.closes).collect();
        let settled = |w: &Window| self.settled_through.is_some_and(|s| w.closes <= s);
        if let Some(w) = open.iter().find(|w| !settled(w) && !self.reached(w)) {
            return Ok(vec![PatrolEvent::CheckedIn { round: w.round, stop: w.stop, check_in: check_in.clone() }]);
        }
        // The same guard again where they arrived in a round still under way: leaving it, and the
        // stay is measured (T4: dwell).
        let leaving = self.open_rounds.iter().find_map(|(round, p)| {
            let (stop, _) = p.reached.iter().find(|(_, c)| c.checkpoint == check_in.checkpoint && c.by == check_in.by && c.left_at.is_none() && c.at < at && at - c.at <= MAX_STAY)?;
            Some((*round, *stop))
        });
        if let Some((round, stop)) = leaving {
            return Ok(vec![PatrolEvent::Left { round, stop, at }]);
        }
        if open.iter().any(|w| !settled(w)) {
            return Err(PatrolError::AlreadyCheckedIn);
        }
        // Late: this checkpoint's window of a round still under way closed before the scan.
        let late = mine.iter().any(|w| w.closes < at && at - w.closes <= definition.length() && !self.reached(w));
        if !open.is_empty() || late {
            return Err(PatrolError::RoundEnded);
        }
        let next = mine.iter().filter(|w| w.opens > at).map(|w| w.opens).min();
        let next = next.and_then(|t| definition.tz().ok().map(|tz| t.with_timezone(&tz).format("%m-%d %H:%M").to_string()));
        Err(PatrolError::NotInWindow { next })
    }

    fn annotate(&self, checkpoint: &CheckpointId, at: DateTime<Utc>, by: &str, note: &Option<String>, photos: &[String]) -> Result<Vec<PatrolEvent>, PatrolError> {
        let rounds = self.open_rounds.iter().map(|(r, p)| (*r, p)).chain(self.closed_rounds.iter().map(|(r, p)| (*r, p)));
        let mine = |c: &CheckIn| c.checkpoint == *checkpoint && c.at == at && c.by == by;
        let found = rounds.filter_map(|(round, p)| p.reached.iter().find(|(_, c)| mine(c)).map(|(stop, c)| (round, *stop, c))).next();
        let (round, stop, check_in) = found.ok_or(PatrolError::NoSuchCheckIn)?;
        let note = note.as_deref().map(str::trim).filter(|n| !n.is_empty()).map(str::to_string);
        if note.as_ref().is_some_and(|n| n.chars().count() > MAX_NOTE) {
            return Err(PatrolError::NoteTooLong);
        }
        if let Some(bad) = photos.iter().find(|p| !is_photo_id(p)) {
            return Err(PatrolError::BadPhoto(bad.chars().take(40).collect()));
        }
        let mut added: Vec<String> = photos.iter().filter(|p| !check_in.photos.contains(p)).cloned().collect();
        added.dedup();
        if check_in.photos.len() + added.len() > MAX_PHOTOS {
            return Err(PatrolError::TooManyPhotos);
        }
        if note.is_none() && added.is_empty() {
            return Ok(Vec::new());
        }
        Ok(vec![PatrolEvent::Annotated { round, stop, note, photos: added }])
    }

    fn settle(&self, now: DateTime<Utc>) -> Vec<PatrolEvent> {
        let (Some(definition), Some(from)) = (&self.definition, self.settled_through) else { return Vec::new() };
        if now <= from {
            return Vec::new();
        }
        let from = from.max(now - SETTLE_HORIZON);
        let last_stop = definition.stops.len() - 1;
        let closed = definition.windows_closing(from, now);
        // Nothing closed: nothing to journal (the range is looked at again next time).
        if closed.is_empty() {
            return Vec::new();
        }
        let mut events = Vec::new();
        for window in closed {
            let progress = self.open_rounds.get(&window.round);
            if !self.reached(&window) {
                let name = definition.stops[window.stop].name.clone();
                events.push(PatrolEvent::Missed { round: window.round, stop: window.stop, checkpoint: window.checkpoint.clone(), name, closed: window.closes });
            }
            if window.stop == last_stop {
                let reached = progress.map_or(0, |p| p.reached.len()) as u32;
                let guards = progress.map(|p| p.reached.values().map(|c| c.by.clone()).collect()).unwrap_or_default();
                events.push(PatrolEvent::RoundClosed { round: window.round, month: definition.month_of(window.round), stops: definition.stops.len() as u32, reached, guards });
            }
        }
        events.push(PatrolEvent::Settled { through: now });
        events
    }
}

impl crate::Aggregate for PatrolRoute {
    type Command = PatrolCommand;
    type Event = PatrolEvent;
    type Error = PatrolError;

    fn decide(&self, command: &PatrolCommand) -> Result<Vec<PatrolEvent>, PatrolError> {
        match command {
            PatrolCommand::Define { route, definition, at } => {
                definition.check()?;
                Ok(vec![PatrolEvent::Defined { route: route.clone(), definition: definition.clone(), at: *at }])
            }
            PatrolCommand::CheckIn { check_in, received_at, unplanned } => self.check_in(check_in, *received_at, *unplanned),
            PatrolCommand::Settle { now } => Ok(self.settle(*now)),
            PatrolCommand::Annotate { checkpoint, at, by, note, photos } => self.annotate(checkpoint, *at, by, note, photos),
        }
    }

    fn apply(&mut self, event: &PatrolEvent) {
        match event {
            PatrolEvent::Defined { route, definition, at } => {
                // Rounds under way start over under the new definition; what came before is not judged.
                self.id = Some(route.clone());
                self.definition = Some(definition.clone());
                self.open_rounds.clear();
                self.settled_through = Some(self.settled_through.map_or(*at, |s| s.max(*at)));
            }
            PatrolEvent::CheckedIn { round, stop, check_in } => {
                self.open_rounds.entry(*round).or_default().reached.insert(*stop, check_in.clone());
            }
            PatrolEvent::UnplannedCheckIn { check_in } => {
                self.unplanned.push_front(check_in.clone());
                self.unplanned.truncate(UNPLANNED_KEPT);
            }
            PatrolEvent::Missed { round, stop, .. } => {
                self.open_rounds.entry(*round).or_default().missed.insert(*stop);
            }
            PatrolEvent::RoundClosed { round, month, stops, reached, guards } => {
                let progress = self.open_rounds.remove(round).unwrap_or_default();
                self.closed_rounds.push_back((*round, progress));
                if self.closed_rounds.len() > CLOSED_KEPT {
                    self.closed_rounds.pop_front();
                }
                let figures = self.months.entry(month.clone()).or_default();
                let completed = reached == stops;
                figures.rounds += 1;
                figures.completed += u32::from(completed);
                figures.missed_rounds += u32::from(!completed);
                figures.missed_stops += stops.saturating_sub(*reached);
                for guard in guards {
                    let g = figures.by_guard.entry(guard.clone()).or_default();
                    g.rounds += 1;
                    g.completed += u32::from(completed);
                }
            }
            PatrolEvent::Settled { through } => self.settled_through = Some(*through),
            PatrolEvent::Left { round, stop, at } => {
                if let Some(check_in) = self.open_rounds.get_mut(round).and_then(|p| p.reached.get_mut(stop)) {
                    check_in.left_at = Some(*at);
                }
            }
            PatrolEvent::Annotated { round, stop, note, photos } => {
                let open = self.open_rounds.get_mut(round);
                let progress = match open {
                    Some(p) => Some(p),
                    None => self.closed_rounds.iter_mut().rev().find(|(r, _)| r == round).map(|(_, p)| p),
                };
                if let Some(check_in) = progress.and_then(|p| p.reached.get_mut(stop)) {
                    if note.is_some() {
                        check_in.note.clone_from(note);
                    }
                    check_in.photos.extend(photos.iter().cloned());
                }
            }
        }
    }
}

/// A named place guards check in at (T1): on the community's site plan (metres from its corner)
/// if placed. Its printed code carries a token signed for its current `code_version`; printing a
/// new code (after one was lost) makes the old one worthless.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub id: CheckpointId,
    pub name: String,
    #[serde(default)]
    pub position: Option<(u32, u32)>,
    #[serde(default)]
    pub code_version: u32,
    /// The RFID/NFC tag fixed there, for patrol readers (巡更棒), upper case.
    #[serde(default)]
    pub tag: Option<String>,
}

/// The longest tag id a patrol reader reports (RFID/NFC UIDs are 4–10 bytes, in hex with
/// separators).
pub const MAX_TAG: usize = 32;

/// A tag id as readers report it: 1–[`MAX_TAG`] letters, digits, `:` or `-`.
pub fn is_valid_tag(tag: &str) -> bool {
    (1..=MAX_TAG).contains(&tag.len()) && tag.bytes().all(|b| b.is_ascii_alphanumeric() || b == b':' || b == b'-')
}

/// A community's checkpoints and routes (the routes' rounds live in each route's own stream).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct PatrolSite {
    pub checkpoints: BTreeMap<CheckpointId, Checkpoint>,
    pub routes: BTreeSet<RouteId>,
}

/// The most checkpoints and routes a community has.
pub const MAX_CHECKPOINTS: usize = 2_000;
pub const MAX_ROUTES: usize = 500;
/// The largest site plan, in metres a side.
pub const MAX_PLAN_METRES: u32 = 100_000;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SiteCommand {
    /// Adds a checkpoint or renames / moves one.
    PutCheckpoint { id: CheckpointId, name: String, position: Option<(u32, u32)>, #[serde(default)] tag: Option<String> },
    /// A new code for a checkpoint: the printed one stops working.
    NewCode { id: CheckpointId },
    OpenRoute { route: RouteId },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SiteEvent {
    CheckpointPut { checkpoint: Checkpoint },
    RouteOpened { route: RouteId },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SiteError {
    BadId(String),
    NoName,
    NameTooLong,
    OffThePlan,
    TooManyCheckpoints,
    TooManyRoutes,
    NoSuchCheckpoint(String),
    BadTag(String),
    TagTaken(String),
}

crate::bilingual!(SiteError {
    SiteError::BadId(_0) => ("编号 {_0} 只能用字母、数字、- 和 _（最多 64 个）") / ("id {_0} may use letters, digits, - and _ only (64 at most)"),
    SiteError::NoName => ("请填写巡更点名称") / ("a checkpoint needs a name"),
    SiteError::NameTooLong => ("名称最多 {MAX_NAME} 个字") / ("a name is at most {MAX_NAME} characters"),
    SiteError::OffThePlan => ("位置须在平面图内（0 到 {MAX_PLAN_METRES} 米）") / ("a position is on the site plan (0 to {MAX_PLAN_METRES} m)"),
    SiteError::TooManyCheckpoints => ("一个小区最多 {MAX_CHECKPOINTS} 个巡更点") / ("a community has at most {MAX_CHECKPOINTS} checkpoints"),
    SiteError::TooManyRoutes => ("一个小区最多 {MAX_ROUTES} 条巡更路线") / ("a community has at most {MAX_ROUTES} routes"),
    SiteError::NoSuchCheckpoint(_0) => ("没有巡更点 {_0}") / ("no checkpoint {_0}"),
    SiteError::BadTag(_0) => ("标签号 {_0} 只能用字母、数字、: 和 -（最多 {MAX_TAG} 个）") / ("tag {_0} may use letters, digits, : and - only ({MAX_TAG} at most)"),
    SiteError::TagTaken(_0) => ("这个标签已装在巡更点「{_0}」") / ("this tag is already fixed at checkpoint {_0}"),
});

impl PatrolSite {
    /// The checkpoint a reader's tag is fixed at.
    pub fn by_tag(&self, tag: &str) -> Option<&Checkpoint> {
        self.checkpoints.values().find(|c| c.tag.as_deref() == Some(tag))
    }
}

impl crate::Aggregate for PatrolSite {
    type Command = SiteCommand;
    type Event = SiteEvent;
    type Error = SiteError;

    fn decide(&self, command: &SiteCommand) -> Result<Vec<SiteEvent>, SiteError> {
        match command {
            SiteCommand::PutCheckpoint { id, name, position, tag } => {
                if !is_valid_id(id.as_str()) {
                    return Err(SiteError::BadId(id.to_string()));
                }
                let name = name.trim();
                if name.is_empty() {
                    return Err(SiteError::NoName);
                }
                if name.chars().count() > MAX_NAME {
                    return Err(SiteError::NameTooLong);
                }
                if position.is_some_and(|(x, y)| x > MAX_PLAN_METRES || y > MAX_PLAN_METRES) {
                    return Err(SiteError::OffThePlan);
                }
                let existing = self.checkpoints.get(id);
                if existing.is_none() && self.checkpoints.len() >= MAX_CHECKPOINTS {
                    return Err(SiteError::TooManyCheckpoints);
                }
                let tag = tag.as_deref().map(str::trim).filter(|t| !t.is_empty()).map(str::to_ascii_uppercase);
                if let Some(tag) = &tag {
                    if !is_valid_tag(tag) {
                        return Err(SiteError::BadTag(tag.clone()));
                    }
                    if let Some(other) = self.by_tag(tag).filter(|c| c.id != *id) {
                        return Err(SiteError::TagTaken(other.name.clone()));
                    }
                }
                let checkpoint = Checkpoint { id: id.clone(), name: name.to_string(), position: *position, code_version: existing.map_or(0, |c| c.code_version), tag };
                if existing == Some(&checkpoint) {
                    return Ok(Vec::new());
                }
                Ok(vec![SiteEvent::CheckpointPut { checkpoint }])
            }
            SiteCommand::NewCode { id } => {
                let mut checkpoint = self.checkpoints.get(id).cloned().ok_or_else(|| SiteError::NoSuchCheckpoint(id.to_string()))?;
                checkpoint.code_version = checkpoint.code_version.saturating_add(1);
                Ok(vec![SiteEvent::CheckpointPut { checkpoint }])
            }
            SiteCommand::OpenRoute { route } => {
                if !is_valid_id(route.as_str()) {
                    return Err(SiteError::BadId(route.to_string()));
                }
                if self.routes.contains(route) {
                    return Ok(Vec::new());
                }
                if self.routes.len() >= MAX_ROUTES {
                    return Err(SiteError::TooManyRoutes);
                }
                Ok(vec![SiteEvent::RouteOpened { route: route.clone() }])
            }
        }
    }

    fn apply(&mut self, event: &SiteEvent) {
        match event {
            SiteEvent::CheckpointPut { checkpoint } => {
                self.checkpoints.insert(checkpoint.id.clone(), checkpoint.clone());
            }
            SiteEvent::RouteOpened { route } => {
                self.routes.insert(route.clone());
            }
        }
    }
}

/// An order to walk checkpoints in (T2), from where they are on the site plan: nearest neighbour
/// from the first, then 2-opt (reverse any stretch that makes the walk shorter) until no swap
/// helps. Checkpoints not placed on the plan keep their place at the end. Distances in metres.
pub fn suggest_order(points: &[(CheckpointId, Option<(u32, u32)>)]) -> (Vec<CheckpointId>, u64) {
    let placed: Vec<(&CheckpointId, (i64, i64))> = points.iter().filter_map(|(id, p)| p.map(|(x, y)| (id, (i64::from(x), i64::from(y))))).collect();
    let distance = |a: (i64, i64), b: (i64, i64)| -> u64 {
        // Integer square root of the squared distance: metres, exact enough to compare walks.
        let squared = ((a.0 - b.0).pow(2) + (a.1 - b.1).pow(2)) as u64;
        squared.isqrt()
    };
    let mut order: Vec<usize> = Vec::with_capacity(placed.len());
    let mut left: Vec<usize> = (0..placed.len()).collect();
    if !left.is_empty() {
        order.push(left.remove(0));
    }
    while let Some(last) = order.last().copied() {
        let Some((k, _)) = left.iter().enumerate().min_by_key(|(_, i)| distance(placed[last].1, placed[**i].1)) else { break };
        order.push(left.remove(k));
    }
    let length = |order: &[usize]| order.windows(2).map(|w| distance(placed[w[0]].1, placed[w[1]].1)).sum::<u64>();
    // 2-opt on the open walk (the first checkpoint stays first: it is where rounds start).
    let mut improved = true;
    while improved {
        improved = false;
        for i in 1..order.len().saturating_sub(1) {
            for j in (i + 1)..order.len() {
                let mut candidate = order.clone();
                candidate[i..=j].reverse();
                if length(&candidate) < length(&order) {
                    order = candidate;
                    improved = true;
                }
            }
        }
    }
    let total = length(&order);
    let mut ids: Vec<CheckpointId> = order.into_iter().map(|i| placed[i].0.clone()).collect();
    ids.extend(points.iter().filter(|(_, p)| p.is_none()).map(|(id, _)| id.clone()));
    (ids, total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Aggregate;

    fn at(s: &str) -> DateTime<Utc> {
        let Ok(t) = s.parse::<DateTime<Utc>>() else { panic!("a time: {s}") };
        t
    }

    fn hm(h: u32, m: u32) -> NaiveTime {
        let Some(t) = NaiveTime::from_hms_opt(h, m, 0) else { panic!("a time of day") };
        t
    }

    fn night_route(tz: &str, start: NaiveTime) -> RouteDefinition {
        let stop = |id: &str, after_mins, dwell_mins| Stop { checkpoint: CheckpointId::new(id), name: id.to_uppercase(), after_mins, dwell_mins };
        RouteDefinition {
            name: "夜巡".into(),
            time_zone: tz.into(),
            stops: vec![stop("gate", 0, 2), stop("garage", 10, 2), stop("pool", 10, 0)],
            plan: PatrolPlan { starts: vec![start], days: BTreeSet::new(), tolerance_mins: 5, guards: ["guard".to_string()].into(), remind_mins: 10 },
        }
    }

    fn defined(definition: RouteDefinition, since: &str) -> PatrolRoute {
        let mut route = PatrolRoute::default();
        route.apply(&PatrolEvent::Defined { route: RouteId::new("night"), definition, at: at(since) });
        route
    }

    fn run(route: &mut PatrolRoute, command: PatrolCommand) -> Result<Vec<PatrolEvent>, PatrolError> {
        let events = route.decide(&command)?;
        events.iter().for_each(|e| route.apply(e));
        Ok(events)
    }

    fn scan(route: &mut PatrolRoute, checkpoint: &str, when: &str) -> Result<Vec<PatrolEvent>, PatrolError> {
        let check_in = CheckIn { checkpoint: CheckpointId::new(checkpoint), at: at(when), by: "guard".into(), name: "杨勇".into(), note: None, photos: Vec::new(), left_at: None };
        run(route, PatrolCommand::CheckIn { check_in, received_at: at(when), unplanned: false })
    }

    fn missed(events: &[PatrolEvent]) -> Vec<&str> {
        events.iter().filter_map(|e| if let PatrolEvent::Missed { checkpoint, .. } = e { Some(checkpoint.as_str()) } else { None }).collect()
    }

    #[test]
    fn each_stop_has_its_window_from_the_walk_before_it() {
        let d = night_route("Asia/Shanghai", hm(22, 0));
        let Some(date) = NaiveDate::from_ymd_opt(2026, 11, 30) else { panic!() };
        let rounds = d.rounds_on(date);
        assert_eq!(rounds, [at("2026-11-30T14:00:00Z")], "22:00 in Beijing");
        let w = d.windows(rounds[0]);
        assert_eq!((w[0].opens, w[0].closes), (at("2026-11-30T13:55:00Z"), at("2026-11-30T14:05:00Z")));
        assert_eq!(w[1].closes, at("2026-11-30T14:17:00Z"), "10 min walk after 2 min at the gate, +5");
        assert_eq!(w[2].closes, at("2026-11-30T14:29:00Z"));
    }

    #[test]
    fn a_miss_is_decided_when_its_window_closes_not_before_and_a_late_scan_is_refused() {
        let mut route = defined(night_route("Asia/Shanghai", hm(22, 0)), "2026-11-30T12:00:00Z");
        assert_eq!(route.next_close(), Some(at("2026-11-30T14:05:00Z")));
        assert!(scan(&mut route, "gate", "2026-11-30T14:01:00Z").is_ok(), "on time at the gate");
        // The garage's window closes at 14:17: a second before, nothing is missed.
        let before = run(&mut route, PatrolCommand::Settle { now: at("2026-11-30T14:16:59Z") }).unwrap_or_default();
        assert!(missed(&before).is_empty(), "{before:?}");
        let closing = run(&mut route, PatrolCommand::Settle { now: at("2026-11-30T14:17:00Z") }).unwrap_or_default();
        assert_eq!(missed(&closing), ["garage"], "missed at the close, to the second");
        assert_eq!(route.next_close(), Some(at("2026-11-30T14:29:00Z")));
        // Reached late: refused with a sentence, nothing recorded.
        assert_eq!(scan(&mut route, "garage", "2026-11-30T14:18:00Z"), Err(PatrolError::RoundEnded));
        // The pool is never reached: missed at 14:29, and the round closes with one stop of three.
        let last = run(&mut route, PatrolCommand::Settle { now: at("2026-11-30T14:29:00Z") }).unwrap_or_default();
        assert_eq!(missed(&last), ["pool"]);
        let november = &route.months["2026-11"];
        assert_eq!((november.rounds, november.completed, november.missed_rounds, november.missed_stops), (1, 0, 1, 2));
        assert_eq!(november.by_guard["guard"], GuardFigures { rounds: 1, completed: 0 });
        assert!(route.open_rounds.is_empty(), "a closed round is no longer under way");
        let Some(progress) = route.progress(at("2026-11-30T14:00:00Z")) else { panic!("the closed round is kept for today's screens") };
        assert_eq!((progress.reached.len(), progress.missed.len()), (1, 2));
        // Settling again decides nothing twice.
        assert!(missed(&run(&mut route, PatrolCommand::Settle { now: at("2026-11-30T14:30:00Z") }).unwrap_or_default()).is_empty());
    }

    #[test]
    fn scans_outside_a_window_another_checkpoint_or_anothers_assignment_are_refused() {
        let mut route = defined(night_route("Asia/Shanghai", hm(22, 0)), "2026-11-30T12:00:00Z");
        assert_eq!(scan(&mut route, "gate", "2026-11-30T13:00:00Z"), Err(PatrolError::NotInWindow { next: Some("11-30 21:55".into()) }));
        assert_eq!(scan(&mut route, "roof", "2026-11-30T14:01:00Z"), Err(PatrolError::UnknownCheckpoint("roof".into())));
        assert!(scan(&mut route, "gate", "2026-11-30T14:01:00Z").is_ok());
        // Scanned again on leaving: the stay is measured; a third scan there is refused.
        let left = scan(&mut route, "gate", "2026-11-30T14:03:00Z").unwrap();
        assert_eq!(CheckInOutcome::of(&left, &route), CheckInOutcome::Left { stayed_mins: 2 });
        assert_eq!(route.progress(at("2026-11-30T14:00:00Z")).and_then(|p| p.reached[&0].left_at), Some(at("2026-11-30T14:03:00Z")));
        assert_eq!(scan(&mut route, "gate", "2026-11-30T14:04:00Z"), Err(PatrolError::AlreadyCheckedIn));
        let stranger = CheckIn { checkpoint: CheckpointId::new("garage"), at: at("2026-11-30T14:12:00Z"), by: "repair".into(), name: "赵磊".into(), note: None, photos: Vec::new(), left_at: None };
        assert_eq!(route.decide(&PatrolCommand::CheckIn { check_in: stranger, received_at: at("2026-11-30T14:12:00Z"), unplanned: false }), Err(PatrolError::NotAssigned("赵磊".into())));
        let ahead = CheckIn { checkpoint: CheckpointId::new("garage"), at: at("2026-11-30T14:30:00Z"), by: "guard".into(), name: "杨勇".into(), note: None, photos: Vec::new(), left_at: None };
        assert_eq!(route.decide(&PatrolCommand::CheckIn { check_in: ahead, received_at: at("2026-11-30T14:12:00Z"), unplanned: false }), Err(PatrolError::ScanInFuture));
    }

    #[test]
    fn rounds_follow_the_clock_across_daylight_saving_changes() {
        // New York springs forward on 2026-03-08 (02:00 → 03:00) and falls back on 2026-11-01.
        let d = night_route("America/New_York", hm(2, 30));
        let day = |m, d| NaiveDate::from_ymd_opt(2026, m, d).unwrap_or_default();
        assert_eq!(d.rounds_on(day(3, 7)), [at("2026-03-07T07:30:00Z")], "EST: 02:30 is 07:30 UTC");
        assert_eq!(d.rounds_on(day(3, 8)), [at("2026-03-08T07:00:00Z")], "02:30 does not exist: the round starts at 03:00 EDT");
        assert_eq!(d.rounds_on(day(3, 9)), [at("2026-03-09T06:30:00Z")], "EDT: 02:30 is 06:30 UTC");
        let early = night_route("America/New_York", hm(1, 30));
        assert_eq!(early.rounds_on(day(11, 1)), [at("2026-11-01T05:30:00Z")], "01:30 happens twice: the first");
        // Settling across the change decides each night's round once.
        let mut route = defined(night_route("America/New_York", hm(2, 30)), "2026-03-06T12:00:00Z");
        let events = run(&mut route, PatrolCommand::Settle { now: at("2026-03-10T12:00:00Z") }).unwrap_or_default();
        let closed = events.iter().filter(|e| matches!(e, PatrolEvent::RoundClosed { .. })).count();
        assert_eq!(closed, 4, "the 7th, 8th, 9th and 10th");
        assert_eq!(missed(&events).len(), 12);
    }

    #[test]
    fn a_round_counts_in_the_month_it_started_and_weekdays_are_kept() {
        let mut d = night_route("Asia/Shanghai", hm(23, 50));
        d.plan.days = (1..=5).collect();
        // Saturday 2027-01-30 and Sunday the 31st have no round; Friday the 29th's closes after midnight.
        let Some(saturday) = NaiveDate::from_ymd_opt(2027, 1, 30) else { panic!() };
        assert!(d.rounds_on(saturday).is_empty());
        let mut route = defined(d, "2027-01-29T12:00:00Z");
        let events = run(&mut route, PatrolCommand::Settle { now: at("2027-02-01T15:00:00Z") }).unwrap_or_default();
        let months: Vec<&str> = events.iter().filter_map(|e| if let PatrolEvent::RoundClosed { month, .. } = e { Some(month.as_str()) } else { None }).collect();
        assert_eq!(months, ["2027-01"], "Friday's round, closed on Saturday, counts in January; Monday's has not closed yet");
        assert_eq!(route.next_close(), Some(at("2027-02-01T15:55:00Z")));
    }

    #[test]
    fn a_route_that_could_not_be_walked_is_refused_with_the_reason() {
        let mut d = night_route("Asia/Shanghai", hm(22, 0));
        d.time_zone = "Mars/Olympus".into();
        assert_eq!(d.check(), Err(PatrolError::BadTimeZone("Mars/Olympus".into())));
        let mut d = night_route("Asia/Shanghai", hm(22, 0));
        d.plan.days = [8].into();
        assert_eq!(d.check(), Err(PatrolError::BadDay(8)));
        let mut d = night_route("Asia/Shanghai", hm(22, 0));
        d.stops[1].after_mins = 23 * 60;
        d.stops[2].after_mins = 60;
        assert_eq!(d.check(), Err(PatrolError::RoundTooLong));
        assert!(night_route("Asia/Shanghai", hm(22, 0)).check().is_ok());
    }

    #[test]
    fn a_checkpoint_is_named_placed_and_given_new_codes_and_bad_ones_are_refused() {
        let mut site = PatrolSite::default();
        let put = |id: &str, name: &str, position| SiteCommand::PutCheckpoint { id: CheckpointId::new(id), name: name.into(), position, tag: None };
        for command in [put("gate", " 北门 ", Some((10, 20))), SiteCommand::NewCode { id: CheckpointId::new("gate") }, SiteCommand::OpenRoute { route: RouteId::new("night") }] {
            let Ok(events) = site.decide(&command) else { panic!("{command:?} refused") };
            events.iter().for_each(|e| site.apply(e));
        }
        let gate = &site.checkpoints[&CheckpointId::new("gate")];
        assert_eq!((gate.name.as_str(), gate.position, gate.code_version), ("北门", Some((10, 20)), 1));
        assert_eq!(site.decide(&put("gate", "北门", Some((10, 20)))), Ok(Vec::new()), "the same again changes nothing and keeps its code");
        assert_eq!(site.decide(&SiteCommand::OpenRoute { route: RouteId::new("night") }), Ok(Vec::new()));
        assert_eq!(site.decide(&put("门/1", "x", None)), Err(SiteError::BadId("门/1".into())));
        assert_eq!(site.decide(&put("roof", "  ", None)), Err(SiteError::NoName));
        assert_eq!(site.decide(&put("roof", "屋顶", Some((MAX_PLAN_METRES + 1, 0)))), Err(SiteError::OffThePlan));
        assert_eq!(site.decide(&SiteCommand::NewCode { id: CheckpointId::new("roof") }), Err(SiteError::NoSuchCheckpoint("roof".into())));
        // A reader's tag: stored upper case, one checkpoint each, checked.
        let tagged = |id: &str, tag: &str| SiteCommand::PutCheckpoint { id: CheckpointId::new(id), name: id.into(), position: None, tag: Some(tag.into()) };
        let Ok(events) = site.decide(&tagged("gate", "04:a1:b2")) else { panic!("a tag refused") };
        events.iter().for_each(|e| site.apply(e));
        assert_eq!(site.by_tag("04:A1:B2").map(|c| c.id.as_str()), Some("gate"));
        assert_eq!(site.checkpoints[&CheckpointId::new("gate")].code_version, 1, "a tag keeps the printed code");
        assert_eq!(site.decide(&tagged("roof", "04:A1:B2")), Err(SiteError::TagTaken("gate".into())));
        assert_eq!(site.decide(&tagged("roof", "04 A1")), Err(SiteError::BadTag("04 A1".into())));
    }

    #[test]
    fn a_suggested_walk_goes_round_the_square_not_across_it() {
        let at = |id: &str, x, y| (CheckpointId::new(id), Some((x, y)));
        // A square's corners given crosswise, and one checkpoint not on the plan.
        let points = [at("a", 0, 0), at("c", 100, 100), at("b", 100, 0), at("d", 0, 100), (CheckpointId::new("roof"), None)];
        let (order, metres) = suggest_order(&points);
        let names: Vec<&str> = order.iter().map(CheckpointId::as_str).collect();
        assert_eq!(names, ["a", "b", "c", "d", "roof"], "round the square from the first, the unplaced last");
        assert_eq!(metres, 300);
        assert_eq!(suggest_order(&[]), (Vec::new(), 0));
    }

    #[test]
    fn a_month_sums_its_routes_and_guards_and_rates_are_exact_percent() {
        let route = |id: &str, rounds, completed, guards: &[(&str, u32, u32)]| PatrolRoute {
            id: Some(RouteId::new(id)),
            definition: Some(RouteDefinition {
                name: format!("路线{id}"),
                time_zone: "Asia/Shanghai".into(),
                stops: vec![],
                plan: PatrolPlan { starts: vec![], days: BTreeSet::new(), tolerance_mins: 5, guards: BTreeSet::new(), remind_mins: 0 },
            }),
            months: BTreeMap::from([(
                "2026-11".to_string(),
                MonthFigures {
                    rounds,
                    completed,
                    missed_rounds: rounds - completed,
                    missed_stops: rounds - completed,
                    by_guard: guards.iter().map(|(g, r, c)| (g.to_string(), GuardFigures { rounds: *r, completed: *c })).collect(),
                },
            )]),
            ..Default::default()
        };
        let routes = [route("b", 3, 2, &[("wang", 3, 2)]), route("a", 30, 29, &[("wang", 10, 10), ("li", 20, 19)]), PatrolRoute::default()];
        let month = PatrolMonth::of("2026-11", &routes);
        assert_eq!(month.routes.iter().map(|r| r.0.as_str()).collect::<Vec<_>>(), ["a", "b"], "by id; a route never set is left out");
        assert_eq!((month.total.rounds, month.total.completed, month.total.missed_rounds), (33, 31, 2));
        assert_eq!(month.total.by_guard["wang"], GuardFigures { rounds: 13, completed: 12 });
        assert_eq!(month.routes[1].2.completion_rate().map(|d| d.to_string()), Some("66.7".into()));
        assert_eq!(month.routes[1].2.miss_rate().map(|d| d.to_string()), Some("33.3".into()));
        assert_eq!(month.total.by_guard["li"].miss_rate().map(|d| d.to_string()), Some("5.0".into()));
        assert_eq!(percent(1, 8).map(|d| d.to_string()), Some("12.5".into()));
        assert_eq!(percent(1, 16).map(|d| d.to_string()), Some("6.3".into()), "half away from zero");
        assert_eq!(PatrolMonth::of("2026-12", &routes).total.completion_rate(), None, "no rounds: no rate");
    }

    #[test]
    fn the_next_reminder_falls_the_plan_s_minutes_before_the_next_round_across_midnight_and_daylight_saving() {
        // 22:00 Shanghai is 14:00 UTC.
        let shanghai = night_route("Asia/Shanghai", hm(22, 0));
        assert_eq!(shanghai.next_reminder(at("2026-11-30T10:00:00Z")), Some((at("2026-11-30T13:50:00Z"), at("2026-11-30T14:00:00Z"))));
        // Reminded of tonight's: the next is tomorrow's.
        assert_eq!(shanghai.next_reminder(at("2026-11-30T14:00:00Z")).map(|(_, r)| r), Some(at("2026-12-01T14:00:00Z")));
        // 00:05 the next day: due 23:55 the evening before.
        let after_midnight = night_route("Asia/Shanghai", hm(0, 5));
        assert_eq!(after_midnight.next_reminder(at("2026-11-30T15:00:00Z")), Some((at("2026-11-30T15:55:00Z"), at("2026-11-30T16:05:00Z"))));
        // New York's clocks go back on 2026-11-01: 22:00 EST is 03:00 UTC, 10 minutes before is 02:50.
        let new_york = night_route("America/New_York", hm(22, 0));
        assert_eq!(new_york.next_reminder(at("2026-11-01T12:00:00Z")), Some((at("2026-11-02T02:50:00Z"), at("2026-11-02T03:00:00Z"))));
        let mut quiet = night_route("Asia/Shanghai", hm(22, 0));
        quiet.plan.remind_mins = 0;
        assert_eq!(quiet.next_reminder(at("2026-11-30T10:00:00Z")), None, "no reminders asked for");
        quiet.plan.remind_mins = 241;
        assert_eq!(quiet.check(), Err(PatrolError::BadReminder));
    }

    #[test]
    fn a_guard_adds_a_note_and_photos_to_their_own_check_in_only() {
        let mut route = defined(night_route("Asia/Shanghai", hm(22, 0)), "2026-11-30T10:00:00Z");
        scan(&mut route, "gate", "2026-11-30T14:01:00Z").unwrap();
        let photo = "0123456789abcdef0123456789abcdef".to_string();
        let annotate = |by: &str, at: &str, note: Option<&str>, photos: Vec<String>| PatrolCommand::Annotate { checkpoint: CheckpointId::new("gate"), at: self::at(at), by: by.into(), note: note.map(str::to_string), photos };
        assert_eq!(route.decide(&annotate("li", "2026-11-30T14:01:00Z", Some("x"), vec![])), Err(PatrolError::NoSuchCheckIn), "someone else's");
        assert_eq!(route.decide(&annotate("guard", "2026-11-30T14:02:00Z", Some("x"), vec![])), Err(PatrolError::NoSuchCheckIn), "another scan");
        assert_eq!(route.decide(&annotate("guard", "2026-11-30T14:01:00Z", None, vec!["../etc/passwd".into()])), Err(PatrolError::BadPhoto("../etc/passwd".into())));
        assert_eq!(route.decide(&annotate("guard", "2026-11-30T14:01:00Z", Some(&"长".repeat(MAX_NOTE + 1)), vec![])), Err(PatrolError::NoteTooLong));
        run(&mut route, annotate("guard", "2026-11-30T14:01:00Z", Some(" 门锁松动 "), vec![photo.clone(), photo.clone()])).unwrap();
        assert_eq!(run(&mut route, annotate("guard", "2026-11-30T14:01:00Z", None, vec![photo.clone()])), Ok(Vec::new()), "the same photo again adds nothing");
        let round = at("2026-11-30T14:00:00Z");
        let Some(progress) = route.progress(round) else { panic!("the round") };
        let check_in = &progress.reached[&0];
        assert_eq!((check_in.note.as_deref(), check_in.photos.clone()), (Some("门锁松动"), vec![photo.clone()]));
        let many: Vec<String> = (0..MAX_PHOTOS).map(|i| format!("{i:032x}")).collect();
        assert_eq!(route.decide(&annotate("guard", "2026-11-30T14:01:00Z", None, many)), Err(PatrolError::TooManyPhotos));
        // After the round closed, still the guard's to complete.
        run(&mut route, PatrolCommand::Settle { now: at("2026-11-30T15:00:00Z") }).unwrap();
        run(&mut route, annotate("guard", "2026-11-30T14:01:00Z", Some("已报修"), vec![])).unwrap();
        let Some(progress) = route.progress(round) else { panic!("the closed round") };
        assert_eq!(progress.reached[&0].note.as_deref(), Some("已报修"));
    }
}
