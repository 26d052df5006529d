//! Wall time for actors. It is read off tokio's clock, so a test that pauses and advances tokio
//! time moves the wall time too, and heartbeat deadlines can be tested without waiting.

use chrono::{DateTime, TimeDelta, Utc};
use tokio::time::Instant;

#[derive(Clone, Copy, Debug)]
pub struct Clock {
    base: DateTime<Utc>,
    start: Instant,
}

impl Clock {
    pub fn new() -> Self {
        Self { base: Utc::now(), start: Instant::now() }
    }

    /// A clock that starts at the given wall time (tests).
    pub fn starting_at(base: DateTime<Utc>) -> Self {
        Self { base, start: Instant::now() }
    }

    pub fn now(&self) -> DateTime<Utc> {
        let elapsed = TimeDelta::from_std(self.start.elapsed()).unwrap_or(TimeDelta::MAX);
        self.base + elapsed
    }
}

impl Default for Clock {
    fn default() -> Self {
        Self::new()
    }
}
