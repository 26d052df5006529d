//! Sign-in rate limits: after `MAX_FAILURES` failures within `WINDOW` for an account (or phone)
//! or for an address, further attempts are refused until the oldest failure leaves the window,
//! and the refusal says when.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use chrono::{DateTime, TimeDelta, Utc};

pub const MAX_FAILURES: usize = 5;
pub const MAX_FAILURES_PER_ADDRESS: usize = 20;
pub const WINDOW: TimeDelta = TimeDelta::minutes(15);

#[derive(Default)]
pub struct LoginLimiter {
    failures: Mutex<HashMap<String, VecDeque<DateTime<Utc>>>>,
}

fn limit_for(key: &str) -> usize {
    if key.starts_with("ip:") { MAX_FAILURES_PER_ADDRESS } else { MAX_FAILURES }
}

impl LoginLimiter {
    /// When the first of `keys` that is over its limit frees up, if any is.
    pub fn locked_until(&self, keys: &[String], now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        keys.iter()
            .filter_map(|k| {
                let log = map.get_mut(k)?;
                while log.front().is_some_and(|t| now - *t >= WINDOW) {
                    log.pop_front();
                }
                (log.len() >= limit_for(k)).then(|| log[log.len() - limit_for(k)] + WINDOW)
            })
            .max()
    }

    pub fn fail(&self, keys: &[String], now: DateTime<Utc>) {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        for k in keys {
            map.entry(k.clone()).or_default().push_back(now);
        }
    }

    pub fn clear(&self, key: &str) {
        self.failures.lock().unwrap_or_else(|e| e.into_inner()).remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sixth_failure_in_a_quarter_hour_is_refused_until_the_first_expires() {
        let l = LoginLimiter::default();
        let t0 = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let keys = ["account:wang".to_string(), "ip:1.2.3.4".to_string()];
        for i in 0..5 {
            assert_eq!(l.locked_until(&keys, t0 + TimeDelta::minutes(i)), None);
            l.fail(&keys, t0 + TimeDelta::minutes(i));
        }
        assert_eq!(l.locked_until(&keys, t0 + TimeDelta::minutes(5)), Some(t0 + WINDOW));
        assert_eq!(l.locked_until(&keys, t0 + WINDOW), None, "the first failure left the window");
    }
}
