//! Open sign-ins (X2): a session is known by the hash of its token (the token itself is never
//! kept), belongs to a staff member or an owner, and ends when it expires or is revoked. Expired
//! sessions leave the state when a later one starts, so the map stays bounded by the sign-ins of
//! one session lifetime.

use std::collections::HashMap;
use std::convert::Infallible;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::StaffId;

/// Who a session belongs to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SessionSubject {
    Staff { id: StaffId },
    Owner { phone: String },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub subject: SessionSubject,
    pub expires_at: DateTime<Utc>,
}

pub enum SessionCommand {
    /// Open a session for a signed-in subject.
    Start { token_hash: String, subject: SessionSubject, expires_at: DateTime<Utc>, at: DateTime<Utc> },
    /// End one session (sign-out).
    Revoke { token_hash: String },
    /// End every session of a staff member (account closed), in one append.
    RevokeStaff { staff: StaffId },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SessionEvent {
    /// A session was opened.
    Started {
        token_hash: String,
        subject: SessionSubject,
        expires_at: DateTime<Utc>,
        /// When; sessions expired by then are forgotten. Absent in events of older versions.
        #[serde(default)]
        at: Option<DateTime<Utc>>,
    },
    /// A session was ended before its time.
    Revoked { token_hash: String },
}

/// Open sessions one person may hold at once (phones, desks, a wall or two).
pub const MAX_SESSIONS_PER_PERSON: usize = 20;

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Sessions {
    pub open: HashMap<String, Session>,
}

impl Sessions {
    /// The session behind a token hash, while it has not expired.
    pub fn get(&self, token_hash: &str, now: DateTime<Utc>) -> Option<&Session> {
        self.open.get(token_hash).filter(|s| s.expires_at > now)
    }
}

impl crate::Aggregate for Sessions {
    type Command = SessionCommand;
    type Event = SessionEvent;
    type Error = Infallible;

    fn decide(&self, command: &SessionCommand) -> Result<Vec<SessionEvent>, Infallible> {
        Ok(match command {
            SessionCommand::Start { token_hash, subject, expires_at, at } => {
                // Each person holds a bounded number of sessions (review V2): the oldest of a
                // full set ends when a new one starts.
                let mut theirs: Vec<(&DateTime<Utc>, &String)> =
                    self.open.iter().filter(|(_, s)| &s.subject == subject && s.expires_at > *at).map(|(h, s)| (&s.expires_at, h)).collect();
                theirs.sort();
                let excess = (theirs.len() + 1).saturating_sub(MAX_SESSIONS_PER_PERSON);
                let mut events: Vec<SessionEvent> =
                    theirs.into_iter().take(excess).map(|(_, h)| SessionEvent::Revoked { token_hash: h.clone() }).collect();
                events.push(SessionEvent::Started { token_hash: token_hash.clone(), subject: subject.clone(), expires_at: *expires_at, at: Some(*at) });
                events
            }
            SessionCommand::Revoke { token_hash } => {
                if self.open.contains_key(token_hash) {
                    vec![SessionEvent::Revoked { token_hash: token_hash.clone() }]
                } else {
                    Vec::new()
                }
            }
            SessionCommand::RevokeStaff { staff } => {
                let mine = SessionSubject::Staff { id: staff.clone() };
                let mut hashes: Vec<&String> = self.open.iter().filter(|(_, s)| s.subject == mine).map(|(h, _)| h).collect();
                hashes.sort();
                hashes.into_iter().map(|h| SessionEvent::Revoked { token_hash: h.clone() }).collect()
            }
        })
    }

    fn apply(&mut self, event: &SessionEvent) {
        match event {
            SessionEvent::Started { token_hash, subject, expires_at, at } => {
                if let Some(at) = at {
                    self.open.retain(|_, s| s.expires_at > *at);
                }
                self.open.insert(token_hash.clone(), Session { subject: subject.clone(), expires_at: *expires_at });
            }
            SessionEvent::Revoked { token_hash } => {
                self.open.remove(token_hash);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Aggregate;
    use chrono::TimeDelta;

    fn start(s: &mut Sessions, hash: &str, staff: &str, at: DateTime<Utc>) {
        let cmd = SessionCommand::Start {
            token_hash: hash.into(),
            subject: SessionSubject::Staff { id: StaffId::new(staff) },
            expires_at: at + TimeDelta::hours(12),
            at,
        };
        for e in s.decide(&cmd).unwrap() {
            s.apply(&e);
        }
    }

    #[test]
    fn a_person_holds_a_bounded_number_of_sessions_the_oldest_ending_first() {
        let t = Utc::now();
        let mut s = Sessions::default();
        for n in 0..MAX_SESSIONS_PER_PERSON + 5 {
            start(&mut s, &format!("h{n:03}"), "a", t + TimeDelta::seconds(n as i64));
        }
        assert_eq!(s.open.len(), MAX_SESSIONS_PER_PERSON);
        assert!(!s.open.contains_key("h000") && s.open.contains_key(&format!("h{:03}", MAX_SESSIONS_PER_PERSON + 4)));
    }

    #[test]
    fn closing_an_account_revokes_all_its_sessions_and_only_them() {
        let t = Utc::now();
        let mut s = Sessions::default();
        start(&mut s, "a1", "a", t);
        start(&mut s, "a2", "a", t);
        start(&mut s, "b1", "b", t);
        let events = s.decide(&SessionCommand::RevokeStaff { staff: StaffId::new("a") }).unwrap();
        assert_eq!(events.len(), 2);
        for e in &events {
            s.apply(e);
        }
        assert!(s.get("a1", t).is_none() && s.get("a2", t).is_none());
        assert!(s.get("b1", t).is_some());
    }

    #[test]
    fn expired_sessions_are_forgotten_when_a_later_one_starts() {
        let t = Utc::now();
        let mut s = Sessions::default();
        start(&mut s, "old", "a", t);
        start(&mut s, "new", "a", t + TimeDelta::hours(13));
        assert_eq!(s.open.len(), 1);
        assert!(s.open.contains_key("new"));
    }
}
