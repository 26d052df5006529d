//! Sign-in rate limits (review S1, S3, V2). A key — an account from one address, an address, an
//! account from anywhere, a phone — is refused once it has its limit of failures within `WINDOW`,
//! until the oldest leaves the window, and the refusal says when.
//!
//! Why three keys for a staff account: five failures of an account *from one address* lock that
//! account at that address only, so a stranger cannot lock a cashier out of her own desk; twenty
//! failures from an address lock the address (guessing many accounts); fifty failures of an
//! account from anywhere lock it (guessing from many addresses) — except at addresses where that
//! account signed in successfully before, which keep working.
//!
//! Bounded: failures older than the window are forgotten, keys with none left are dropped, and
//! the map never holds more than `MAX_KEYS` keys; past that, a new key is not tracked (the
//! address key, already tracked, still stops a flood).

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use chrono::{DateTime, TimeDelta, Utc};

pub const MAX_FAILURES: usize = 5;
pub const MAX_FAILURES_PER_ADDRESS: usize = 20;
pub const MAX_FAILURES_PER_ACCOUNT: usize = 50;
/// Anonymous reports one address may make in the window: a neighbour reports a few things, a
/// script flooding the office's board is stopped.
pub const MAX_REPORTS_PER_ADDRESS: usize = 10;
pub const WINDOW: TimeDelta = TimeDelta::minutes(15);
/// Keys tracked at most (each holds at most its limit of timestamps).
pub const MAX_KEYS: usize = 100_000;
/// Addresses remembered per account as "signed in here before".
const KNOWN_PER_ACCOUNT: usize = 8;

/// A key a failure counts against.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Key {
    /// An account (or an owner's phone) from one address.
    AccountAt(String, String),
    /// An account from any address.
    Account(String),
    /// An address.
    Address(String),
    /// Texts sent to a phone.
    Texts(String),
    /// Anonymous reports (匿名报事) taken from an address.
    Reports(String),
}

impl Key {
    fn limit(&self) -> usize {
        match self {
            Key::AccountAt(..) | Key::Texts(_) => MAX_FAILURES,
            Key::Reports(_) => MAX_REPORTS_PER_ADDRESS,
            Key::Address(_) => MAX_FAILURES_PER_ADDRESS,
            Key::Account(_) => MAX_FAILURES_PER_ACCOUNT,
        }
    }
}

#[derive(Default)]
struct Ledger {
    failures: HashMap<Key, VecDeque<DateTime<Utc>>>,
    known: HashMap<String, VecDeque<String>>,
    swept: Option<DateTime<Utc>>,
}

impl Ledger {
    /// Drops what left the window, at most once a minute.
    fn sweep(&mut self, now: DateTime<Utc>) {
        if self.swept.is_some_and(|t| now - t < TimeDelta::minutes(1)) {
            return;
        }
        self.swept = Some(now);
        self.failures.retain(|_, log| {
            while log.front().is_some_and(|t| now - *t >= WINDOW) {
                log.pop_front();
            }
            !log.is_empty()
        });
    }
}

#[derive(Default)]
pub struct LoginLimiter {
    ledger: Mutex<Ledger>,
}

impl LoginLimiter {
    fn ledger(&self) -> std::sync::MutexGuard<'_, Ledger> {
        self.ledger.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The keys of a staff sign-in, with the account-wide key left out at an address where the
    /// account signed in before.
    pub fn staff_keys(&self, account: &str, ip: &str) -> Vec<Key> {
        let mut keys = vec![Key::AccountAt(account.into(), ip.into()), Key::Address(ip.into())];
        let known = self.ledger().known.get(account).is_some_and(|k| k.iter().any(|a| a == ip));
        if !known {
            keys.push(Key::Account(account.into()));
        }
        keys
    }

    /// When the first of `keys` that is over its limit frees up, if any is.
    pub fn locked_until(&self, keys: &[Key], now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let mut ledger = self.ledger();
        ledger.sweep(now);
        keys.iter()
            .filter_map(|k| {
                let log = ledger.failures.get_mut(k)?;
                while log.front().is_some_and(|t| now - *t >= WINDOW) {
                    log.pop_front();
                }
                (log.len() >= k.limit()).then(|| log[log.len() - k.limit()] + WINDOW)
            })
            .max()
    }

    pub fn fail(&self, keys: &[Key], now: DateTime<Utc>) {
        let mut ledger = self.ledger();
        ledger.sweep(now);
        for k in keys {
            let full = ledger.failures.len() >= MAX_KEYS;
            match ledger.failures.get_mut(k) {
                Some(log) => {
                    log.push_back(now);
                    // A key needs only its last `limit` failures to answer.
                    while log.len() > k.limit() {
                        log.pop_front();
                    }
                }
                None if !full => {
                    ledger.failures.insert(k.clone(), VecDeque::from([now]));
                }
                None => {}
            }
        }
    }

    /// A successful sign-in: its account-at-address failures are forgotten and the address is
    /// remembered as the account's.
    pub fn succeeded(&self, account: &str, ip: &str) {
        let mut ledger = self.ledger();
        ledger.failures.remove(&Key::AccountAt(account.into(), ip.into()));
        if ledger.known.len() >= MAX_KEYS && !ledger.known.contains_key(account) {
            return;
        }
        let known = ledger.known.entry(account.into()).or_default();
        if !known.iter().any(|a| a == ip) {
            if known.len() >= KNOWN_PER_ACCOUNT {
                known.pop_front();
            }
            known.push_back(ip.into());
        }
    }

    /// Keys tracked now (tests and metrics).
    pub fn tracked(&self) -> usize {
        self.ledger().failures.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t0() -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000, 0).unwrap()
    }

    #[test]
    fn the_sixth_failure_from_one_address_is_refused_until_the_first_expires() {
        let l = LoginLimiter::default();
        let keys = l.staff_keys("wang", "1.2.3.4");
        for i in 0..5 {
            assert_eq!(l.locked_until(&keys, t0() + TimeDelta::minutes(i)), None);
            l.fail(&keys, t0() + TimeDelta::minutes(i));
        }
        assert_eq!(l.locked_until(&keys, t0() + TimeDelta::minutes(5)), Some(t0() + WINDOW));
        assert_eq!(l.locked_until(&keys, t0() + WINDOW), None, "the first failure left the window");
    }

    #[test]
    fn a_stranger_cannot_lock_an_account_out_of_another_address() {
        let l = LoginLimiter::default();
        let attacker = l.staff_keys("cashier", "6.6.6.6");
        for i in 0..10 {
            l.fail(&attacker, t0() + TimeDelta::seconds(i));
        }
        assert!(l.locked_until(&attacker, t0() + TimeDelta::seconds(11)).is_some());
        assert_eq!(l.locked_until(&l.staff_keys("cashier", "10.0.0.5"), t0() + TimeDelta::seconds(11)), None);
    }

    #[test]
    fn many_addresses_lock_the_account_except_where_it_signed_in_before() {
        let l = LoginLimiter::default();
        l.succeeded("cashier", "10.0.0.5");
        for n in 0..MAX_FAILURES_PER_ACCOUNT {
            l.fail(&l.staff_keys("cashier", &format!("6.6.{}.{}", n / 200, n % 200)), t0());
        }
        assert!(l.locked_until(&l.staff_keys("cashier", "7.7.7.7"), t0()).is_some(), "a new address waits");
        assert_eq!(l.locked_until(&l.staff_keys("cashier", "10.0.0.5"), t0()), None, "her own desk does not");
    }

    #[test]
    fn the_map_forgets_old_failures_and_never_grows_past_its_bound() {
        let l = LoginLimiter::default();
        for n in 0..1_000 {
            l.fail(&[Key::Account(format!("x{n}"))], t0());
        }
        assert_eq!(l.tracked(), 1_000);
        l.fail(&[Key::Address("1.1.1.1".into())], t0() + WINDOW + TimeDelta::minutes(2));
        assert_eq!(l.tracked(), 1, "what left the window is dropped");
    }
}
