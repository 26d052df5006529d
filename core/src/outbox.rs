//! The notification outbox (N3): every message to a person — a reminder, a sign-in code — is
//! queued with its channel and delivery state, delivered off the actors' path, and retried with
//! backoff when its channel fails, up to `MAX_ATTEMPTS`. Journaled, so what was queued and not yet
//! delivered survives a restart and goes out after it.

use std::collections::VecDeque;
use std::convert::Infallible;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{CommunityId, HouseId};
use crate::reminder::Channel;

/// Attempts before a message is given up on.
pub const MAX_ATTEMPTS: u32 = 5;
/// Settled messages kept for the screens; undelivered ones are never dropped.
pub const KEEP: usize = 10_000;

/// Waits between attempts: the first retry soon (a gateway blip), then longer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    pub waits: Vec<TimeDelta>,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy { waits: vec![TimeDelta::seconds(2), TimeDelta::seconds(30), TimeDelta::minutes(5), TimeDelta::minutes(30)] }
    }
}

impl RetryPolicy {
    /// When to try again after `attempts` failed attempts, or `None`: give up.
    pub fn next(&self, attempts: u32, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        if attempts >= MAX_ATTEMPTS {
            return None;
        }
        let i = usize::try_from(attempts.saturating_sub(1)).unwrap_or(usize::MAX);
        self.waits.get(i).or(self.waits.last()).map(|w| now + *w)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "state", content = "detail")]
pub enum Delivery {
    Queued,
    /// The last attempt failed (why); the next one is due at `at`.
    Retrying { why: String, at: DateTime<Utc> },
    Sent,
    /// Every attempt failed; the last said why.
    Failed(String),
}

impl Delivery {
    pub fn is_settled(&self) -> bool {
        matches!(self, Delivery::Sent | Delivery::Failed(_))
    }
}

/// How an announcement's messages name their reason: `公告 #3`.
pub const ANNOUNCEMENT: &str = "公告 #";

/// One message to one or more people.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub id: u64,
    pub community: Option<CommunityId>,
    pub house: Option<HouseId>,
    pub channel: Channel,
    /// Full phone numbers (the sender needs them); screens and logs get them masked.
    pub to: Vec<String>,
    pub text: String,
    /// What a webhook POSTs, as JSON text.
    #[serde(default)]
    pub body: Option<String>,
    /// Why it was sent (who reminded, the due-soon timer …).
    pub reason: String,
    pub queued_at: DateTime<Utc>,
    pub delivery: Delivery,
    pub attempts: u32,
}

/// A message to queue (its id is the outbox's to give).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outgoing {
    pub community: Option<CommunityId>,
    pub house: Option<HouseId>,
    pub channel: Channel,
    pub to: Vec<String>,
    pub text: String,
    pub body: Option<String>,
    pub reason: String,
    pub at: DateTime<Utc>,
}

pub enum OutboxCommand {
    /// Queue a message.
    Queue(Outgoing),
    /// An attempt to deliver `id` ended.
    Settle { id: u64, outcome: Result<(), String>, at: DateTime<Utc>, policy: RetryPolicy },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OutboxEvent {
    /// A message was queued.
    Queued { message: Message },
    /// A message was delivered.
    Sent { id: u64, at: DateTime<Utc> },
    /// An attempt failed; another is due at `next`.
    Retrying { id: u64, why: String, next: DateTime<Utc> },
    /// The last attempt failed; no more are made.
    GaveUp { id: u64, why: String },
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outbox {
    pub messages: VecDeque<Message>,
    pub next_id: u64,
}

impl Message {
    /// A home's copy of an announcement (the portal shows the announcement itself).
    pub fn is_announcement(&self) -> bool {
        self.reason.starts_with(ANNOUNCEMENT)
    }
}

impl Outbox {
    pub fn get(&self, id: u64) -> Option<&Message> {
        self.messages.iter().find(|m| m.id == id)
    }

    /// Messages still to deliver, with when (now for queued ones).
    pub fn due(&self) -> impl Iterator<Item = (&Message, Option<DateTime<Utc>>)> {
        self.messages.iter().filter_map(|m| match &m.delivery {
            Delivery::Queued => Some((m, None)),
            Delivery::Retrying { at, .. } => Some((m, Some(*at))),
            Delivery::Sent | Delivery::Failed(_) => None,
        })
    }

    /// The newest messages of a community, newest first.
    pub fn recent<'a>(&'a self, community: &'a str, limit: usize) -> impl Iterator<Item = &'a Message> + 'a {
        self.messages.iter().rev().filter(move |m| m.community.as_ref().is_some_and(|c| c.as_str() == community)).take(limit)
    }

    fn set(&mut self, id: u64, delivery: Delivery, attempted: bool) {
        if let Some(m) = self.messages.iter_mut().find(|m| m.id == id) {
            m.delivery = delivery;
            m.attempts += u32::from(attempted);
        }
    }
}

impl crate::Aggregate for Outbox {
    type Command = OutboxCommand;
    type Event = OutboxEvent;
    type Error = Infallible;

    fn decide(&self, command: &OutboxCommand) -> Result<Vec<OutboxEvent>, Infallible> {
        Ok(match command {
            OutboxCommand::Queue(o) => vec![OutboxEvent::Queued {
                message: Message {
                    id: self.next_id + 1,
                    community: o.community.clone(),
                    house: o.house.clone(),
                    channel: o.channel,
                    to: o.to.clone(),
                    text: o.text.clone(),
                    body: o.body.clone(),
                    reason: o.reason.clone(),
                    queued_at: o.at,
                    delivery: Delivery::Queued,
                    attempts: 0,
                },
            }],
            OutboxCommand::Settle { id, outcome, at, policy } => {
                // A settled or unknown message (a duplicate report) changes nothing.
                let Some(m) = self.get(*id).filter(|m| !m.delivery.is_settled()) else { return Ok(Vec::new()) };
                match outcome {
                    Ok(()) => vec![OutboxEvent::Sent { id: *id, at: *at }],
                    Err(why) => match policy.next(m.attempts + 1, *at) {
                        Some(next) => vec![OutboxEvent::Retrying { id: *id, why: why.clone(), next }],
                        None => vec![OutboxEvent::GaveUp { id: *id, why: why.clone() }],
                    },
                }
            }
        })
    }

    fn apply(&mut self, event: &OutboxEvent) {
        match event {
            OutboxEvent::Queued { message } => {
                self.next_id = self.next_id.max(message.id);
                self.messages.push_back(message.clone());
                // Keep the newest settled ones; never drop one still to deliver.
                while self.messages.len() > KEEP {
                    match self.messages.iter().position(|m| m.delivery.is_settled()) {
                        Some(i) => {
                            self.messages.remove(i);
                        }
                        None => break,
                    }
                }
            }
            OutboxEvent::Sent { id, .. } => self.set(*id, Delivery::Sent, true),
            OutboxEvent::Retrying { id, why, next } => self.set(*id, Delivery::Retrying { why: why.clone(), at: *next }, true),
            OutboxEvent::GaveUp { id, why } => self.set(*id, Delivery::Failed(why.clone()), true),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Aggregate;

    fn run(o: &mut Outbox, c: OutboxCommand) {
        for e in o.decide(&c).unwrap() {
            o.apply(&e);
        }
    }

    #[test]
    fn a_failing_channel_is_retried_with_backoff_then_given_up() {
        let t = Utc::now();
        let mut o = Outbox::default();
        let out = Outgoing { community: None, house: None, channel: Channel::Webhook, to: vec![], text: "x".into(), body: None, reason: "t".into(), at: t };
        run(&mut o, OutboxCommand::Queue(out));
        let policy = RetryPolicy::default();
        for attempt in 1..MAX_ATTEMPTS {
            run(&mut o, OutboxCommand::Settle { id: 1, outcome: Err("503".into()), at: t, policy: policy.clone() });
            assert!(matches!(o.get(1).unwrap().delivery, Delivery::Retrying { .. }), "attempt {attempt}");
        }
        run(&mut o, OutboxCommand::Settle { id: 1, outcome: Err("503".into()), at: t, policy: policy.clone() });
        assert_eq!(o.get(1).unwrap().delivery, Delivery::Failed("503".into()));
        assert_eq!(o.get(1).unwrap().attempts, MAX_ATTEMPTS);
        // A late report of success changes nothing once given up.
        run(&mut o, OutboxCommand::Settle { id: 1, outcome: Ok(()), at: t, policy });
        assert_eq!(o.get(1).unwrap().delivery, Delivery::Failed("503".into()));
        assert_eq!(o.due().count(), 0);
    }
}
