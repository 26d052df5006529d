//! The notification outbox: every message to a person (sign-in codes now; reminders later) is
//! queued with its delivery state and handed to a pluggable sender. The demo's sender writes to
//! the log, with the phone masked.

use std::sync::Mutex;

use chrono::{DateTime, Utc};
use hutong_core::identity::mask_phone;
use serde::Serialize;

#[derive(Clone, Debug, Serialize)]
pub struct Notification {
    pub channel: &'static str,
    pub to: String,
    pub text: String,
    pub state: DeliveryState,
    pub queued_at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    Queued,
    Sent,
    Failed(String),
}

impl Notification {
    pub fn sms(phone: &str, text: String) -> Self {
        Notification { channel: "sms", to: phone.to_string(), text, state: DeliveryState::Queued, queued_at: Utc::now() }
    }
}

/// Delivers one notification (SMS gateway, WeChat, webhook …).
pub trait NotificationSender: Send + Sync {
    fn send(&self, n: &Notification) -> Result<(), String>;
}

/// Writes notifications to the log instead of delivering them (demo, tests).
pub struct LogSender;

impl NotificationSender for LogSender {
    fn send(&self, n: &Notification) -> Result<(), String> {
        tracing::info!(channel = n.channel, to = %mask_phone(&n.to), text = %n.text, "notification (log sender)");
        Ok(())
    }
}

pub struct Outbox {
    sender: Box<dyn NotificationSender>,
    sent: Mutex<Vec<Notification>>,
}

impl Outbox {
    pub fn new(sender: Box<dyn NotificationSender>) -> Self {
        Self { sender, sent: Mutex::new(Vec::new()) }
    }

    pub fn send(&self, mut n: Notification) {
        n.state = match self.sender.send(&n) {
            Ok(()) => DeliveryState::Sent,
            Err(e) => DeliveryState::Failed(e),
        };
        let mut sent = self.sent.lock().unwrap_or_else(|e| e.into_inner());
        sent.push(n);
        let excess = sent.len().saturating_sub(10_000);
        sent.drain(..excess);
    }
}
