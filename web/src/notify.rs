//! The one notification outbox (N3): reminders from the books and sign-in codes from identity go
//! through it alike — queued with their delivery state, delivered by their channel's sender off
//! the actors' path, and retried with backoff (`core::outbox`). Reminders are journaled (stream
//! `outbox`), so one queued before a restart still goes out after it. A one-time sign-in code is
//! the exception: it is kept in memory only and never written to the journal or a log — a code
//! that did not go out before a restart is worthless anyway.
//!
//! Channels: a webhook POSTs JSON with a real HTTP client (reqwest, rustls: https as well as
//! http, redirects, chunked replies); SMS, WeChat and e-mail have no gateway configured here, so
//! their sender writes to the log with phones masked (and a code withheld).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use futures_util::future::BoxFuture;
use hutong_actors::building::{Notices, ReminderNotice};
use hutong_actors::journal::{Journal, JournalError};
use hutong_actors::journaled::{Shared, StreamId};
use hutong_core::identity::mask_phone;
use hutong_core::outbox::{Delivery, Message, Outbox as Messages, OutboxCommand, Outgoing, RetryPolicy};
use hutong_core::reminder::Channel;
use hutong_core::HouseId;
use hutong_core::api::NotificationView;
use tokio::sync::mpsc;

/// A message as the screens see it: phones masked.
fn entry(m: &Message) -> NotificationView {
    NotificationView {
        id: m.id,
        community: m.community.as_ref().map(ToString::to_string).unwrap_or_default(),
        house: m.house.as_ref().map(ToString::to_string).unwrap_or_default(),
        channel: m.channel,
        to: m.to.iter().map(|p| mask_phone(p)).collect(),
        text: m.text.clone(),
        reason: m.reason.clone(),
        queued_at: m.queued_at,
        delivery: m.delivery.clone(),
        attempts: m.attempts,
    }
}

/// Delivers one message on its channel.
pub trait ChannelSender: Send + Sync {
    fn send<'a>(&'a self, message: &'a Message, secret: bool) -> BoxFuture<'a, Result<(), String>>;
}

/// No gateway configured: the message is written to the log, phones masked, a code withheld.
pub struct LogSender;

impl ChannelSender for LogSender {
    fn send<'a>(&'a self, m: &'a Message, secret: bool) -> BoxFuture<'a, Result<(), String>> {
        let to: Vec<String> = m.to.iter().map(|p| mask_phone(p)).collect();
        let text = if secret { "（一次性验证码，不记入日志 / one-time code withheld）" } else { m.text.as_str() };
        tracing::info!(channel = ?m.channel, to = ?to, house = ?m.house, %text, "notification (log sender)");
        Box::pin(async { Ok(()) })
    }
}

/// Where the outbox's channels deliver beyond the log.
#[derive(Clone, Default)]
pub struct Gateways {
    /// The webhook channel POSTs each message's JSON here.
    pub webhook: Option<String>,
    /// Text messages (SMS: reminders and sign-in codes) are POSTed here as `{"to": [...], "text": ...}`.
    pub sms: Option<String>,
    /// `hutong demo` with no SMS gateway: text messages land in the demo's own inbox page
    /// (`/demo/inbox`), sign-in codes included — the demo's phones are nobody's.
    pub demo_inbox: Option<Arc<DemoInbox>>,
}

/// The demo's SMS inbox: the last text messages, newest last, in memory only.
#[derive(Default)]
pub struct DemoInbox {
    texts: Mutex<std::collections::VecDeque<(chrono::DateTime<Utc>, Vec<String>, String)>>,
}

impl DemoInbox {
    /// The messages, newest first.
    pub fn texts(&self) -> Vec<(chrono::DateTime<Utc>, Vec<String>, String)> {
        self.texts.lock().unwrap_or_else(|e| e.into_inner()).iter().rev().cloned().collect()
    }
}

impl ChannelSender for DemoInbox {
    fn send<'a>(&'a self, m: &'a Message, _secret: bool) -> BoxFuture<'a, Result<(), String>> {
        let mut texts = self.texts.lock().unwrap_or_else(|e| e.into_inner());
        texts.push_back((Utc::now(), m.to.clone(), m.text.clone()));
        while texts.len() > 100 {
            texts.pop_front();
        }
        Box::pin(async { Ok(()) })
    }
}

/// POSTs JSON to an http(s) URL: the webhook channel (the message's own body) or an SMS gateway
/// adapter (`{"to", "text"}`).
pub struct PostSender {
    url: String,
    sms: bool,
    client: reqwest::Client,
}

impl PostSender {
    fn new(url: String, sms: bool) -> Self {
        // A slow endpoint must not hold deliveries for long; redirects are followed (a few).
        let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap_or_default();
        PostSender { url, sms, client }
    }
}

impl ChannelSender for PostSender {
    fn send<'a>(&'a self, m: &'a Message, _secret: bool) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let body = match (&m.body, self.sms) {
                (Some(body), false) => body.clone(),
                _ => serde_json::json!({"to": m.to, "text": m.text}).to_string(),
            };
            let reply = self.client.post(&self.url).header("content-type", "application/json").body(body).send().await.map_err(|e| e.without_url().to_string())?;
            let status = reply.status();
            if status.is_success() { Ok(()) } else { Err(format!("{} answered {status}", if self.sms { "SMS gateway" } else { "webhook" })) }
        })
    }
}

/// What the delivery task is handed: a journaled message by id, or a secret one whole.
enum Job {
    Journaled(u64),
    Secret(Message),
}

pub struct Outbox {
    messages: Shared<Messages>,
    /// Secret messages (sign-in codes), in memory only, newest last, bounded.
    secrets: Mutex<std::collections::VecDeque<Message>>,
    jobs: mpsc::UnboundedSender<Job>,
    policy: RetryPolicy,
    /// Where owners reach Hutong: a reminder's text carries its pay link (P8) when known.
    portal: std::sync::OnceLock<String>,
}

impl Outbox {
    /// Recovers the journaled messages, starts the delivery task and hands it every message
    /// still to deliver. `webhook` is where the webhook channel POSTs.
    pub async fn open(journal: Arc<dyn Journal>, gateways: Gateways, policy: RetryPolicy) -> Result<Arc<Outbox>, JournalError> {
        let messages = Shared::recover(journal, StreamId::outbox(), Messages::default).await?;
        let (jobs, rx) = mpsc::unbounded_channel();
        let outbox = Arc::new(Outbox { messages, secrets: Mutex::default(), jobs, policy, portal: std::sync::OnceLock::new() });
        tokio::spawn(deliver(Arc::downgrade(&outbox), rx, gateways));
        let due: Vec<(u64, Option<chrono::DateTime<Utc>>)> = outbox.messages.read().due().map(|(m, at)| (m.id, at)).collect();
        for (id, at) in due {
            outbox.schedule(id, at);
        }
        Ok(outbox)
    }

    /// The address owners reach Hutong at, once known (set once, at start).
    pub fn set_portal(&self, base: String) {
        let _ = self.portal.set(base);
    }

    /// The in-app reminders of some houses of a community, newest first (the owner portal's;
    /// announcements it shows from the notices themselves).
    pub fn in_app(&self, community: &str, houses: &[HouseId]) -> Vec<Message> {
        let messages = self.messages.read();
        messages
            .recent(community, usize::MAX)
            .filter(|m| m.channel == Channel::InApp && !m.is_announcement() && m.house.as_ref().is_some_and(|h| houses.contains(h)))
            .take(50)
            .cloned()
            .collect()
    }

    /// Hands a journaled message to the delivery task, now or at `at`.
    fn schedule(&self, id: u64, at: Option<chrono::DateTime<Utc>>) {
        let wait = at.and_then(|at| (at - Utc::now()).to_std().ok()).unwrap_or(Duration::ZERO);
        if wait.is_zero() {
            let _ = self.jobs.send(Job::Journaled(id));
            return;
        }
        let jobs = self.jobs.clone();
        tokio::spawn(async move {
            tokio::time::sleep(wait).await;
            let _ = jobs.send(Job::Journaled(id));
        });
    }

    /// Queues a message (journaled first) and hands it to the delivery task.
    pub async fn queue(&self, outgoing: Outgoing) -> Result<u64, JournalError> {
        let at_ms = outgoing.at.timestamp_millis();
        let committed = self.messages.execute(&OutboxCommand::Queue(outgoing), at_ms).await.map_err(|e| match e {
            hutong_actors::journaled::CommitError::Journal(j) => j,
            hutong_actors::journaled::CommitError::Refused(never) => match never {},
        })?;
        let id = committed.events.iter().find_map(|e| match e {
            hutong_core::outbox::OutboxEvent::Queued { message } => Some(message.id),
            _ => None,
        });
        if let Some(id) = id {
            self.schedule(id, None);
        }
        Ok(id.unwrap_or_default())
    }

    /// Sends a one-time code by SMS: in memory only, never journaled, never logged.
    pub fn send_secret(&self, phone: &str, text: String) {
        let message = Message {
            id: 0,
            community: None,
            house: None,
            channel: Channel::Sms,
            to: vec![phone.to_string()],
            text,
            body: None,
            reason: "登录验证码".into(),
            queued_at: Utc::now(),
            delivery: Delivery::Queued,
            attempts: 0,
        };
        let _ = self.jobs.send(Job::Secret(message));
    }

    /// The newest messages of a community, newest first, phones masked.
    pub fn recent(&self, community: &str, limit: usize) -> Vec<NotificationView> {
        self.messages.read().recent(community, limit).map(entry).collect()
    }

    async fn settle(&self, id: u64, outcome: Result<(), String>) {
        let command = OutboxCommand::Settle { id, outcome, at: Utc::now(), policy: self.policy.clone() };
        match self.messages.execute(&command, Utc::now().timestamp_millis()).await {
            Ok(committed) => {
                for event in committed.events {
                    if let hutong_core::outbox::OutboxEvent::Retrying { id, next, .. } = event {
                        self.schedule(id, Some(next));
                    }
                }
            }
            Err(e) => tracing::error!(error = %e, id, "delivery outcome not journaled; the message will be sent again after a restart"),
        }
    }

    fn keep_secret(&self, mut message: Message, outcome: Result<(), String>) {
        message.attempts = 1;
        message.delivery = match outcome {
            Ok(()) => Delivery::Sent,
            Err(why) => Delivery::Failed(why),
        };
        // The code itself is not kept, only that it was sent.
        message.text = "（一次性验证码）".into();
        let mut secrets = self.secrets.lock().unwrap_or_else(|e| e.into_inner());
        secrets.push_back(message);
        while secrets.len() > 1_000 {
            secrets.pop_front();
        }
    }
}

/// The delivery task: one message at a time, each by its channel's sender; outcomes journaled.
async fn deliver(outbox: std::sync::Weak<Outbox>, mut jobs: mpsc::UnboundedReceiver<Job>, gateways: Gateways) {
    let log: Arc<dyn ChannelSender> = Arc::new(LogSender);
    let webhook = gateways.webhook.map(|url| Arc::new(PostSender::new(url, false)) as Arc<dyn ChannelSender>);
    let sms = match (gateways.sms, gateways.demo_inbox) {
        (Some(url), _) => Some(Arc::new(PostSender::new(url, true)) as Arc<dyn ChannelSender>),
        (None, Some(inbox)) => Some(inbox as Arc<dyn ChannelSender>),
        (None, None) => None,
    };
    while let Some(job) = jobs.recv().await {
        let Some(outbox) = outbox.upgrade() else { break };
        let (message, secret) = match job {
            Job::Secret(m) => (m, true),
            Job::Journaled(id) => match outbox.messages.read().get(id).filter(|m| !m.delivery.is_settled()).cloned() {
                Some(m) => (m, false),
                None => continue,
            },
        };
        let sender = match (message.channel, &webhook, &sms) {
            (Channel::Webhook, Some(w), _) => w.clone(),
            (Channel::Sms, _, Some(s)) => s.clone(),
            _ => log.clone(),
        };
        let outcome = sender.send(&message, secret).await;
        if secret {
            outbox.keep_secret(message, outcome);
        } else {
            outbox.settle(message.id, outcome).await;
        }
    }
}

/// The reminder's words, with the community's pay link when the portal's address is known.
fn text_of(n: &ReminderNotice, portal: Option<&String>) -> String {
    let text = format!("【缴费通知】您的房屋 {} 有 {} 笔账单待缴，合计 ¥{}，请及时缴纳。", n.address, n.bills.len(), n.owed);
    match portal {
        Some(base) => format!("{text}在线缴费：{base}/owner?community={}", n.community),
        None => text,
    }
}

/// Reminders the books record: queued (journaled) before the building answers; delivered off
/// its path.
impl Notices for Outbox {
    fn remind(&self, notice: ReminderNotice) -> BoxFuture<'_, ()> {
        let text = text_of(&notice, self.portal.get());
        let body = serde_json::json!({"community": notice.community, "house": notice.house, "address": notice.address, "bills": notice.bills, "owed": notice.owed, "phones": notice.phones, "text": text}).to_string();
        let outgoing = Outgoing {
            community: Some(notice.community.clone()),
            house: Some(notice.house.clone()),
            channel: notice.channel,
            to: notice.phones.clone(),
            text,
            body: Some(body),
            reason: notice.reason.clone(),
            at: Utc::now(),
        };
        Box::pin(async move {
            if let Err(e) = self.queue(outgoing).await {
                tracing::error!(error = %e, "reminder not queued");
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hutong_actors::journal::MemoryJournal;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn reminder(text: &str) -> Outgoing {
        Outgoing {
            community: Some("heyuan".into()),
            house: Some("heyuan-1-1-101".into()),
            channel: Channel::Webhook,
            to: vec!["13898424613".into()],
            text: text.into(),
            body: Some(serde_json::json!({"text": text}).to_string()),
            reason: "test".into(),
            at: Utc::now(),
        }
    }

    async fn state_of(outbox: &Outbox) -> Delivery {
        outbox.recent("heyuan", 1)[0].delivery.clone()
    }

    /// A delivery that failed before a restart is retried after it, and goes out once.
    #[tokio::test]
    async fn a_queued_delivery_survives_a_restart_and_is_retried() {
        let journal: Arc<dyn Journal> = Arc::new(MemoryJournal::new());
        // A port nobody listens on yet.
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let hook = Gateways { webhook: Some(format!("http://127.0.0.1:{port}/hook")), ..Gateways::default() };
        let quick = RetryPolicy { waits: vec![chrono::TimeDelta::milliseconds(200)] };
        let first = Outbox::open(journal.clone(), hook.clone(), quick.clone()).await.unwrap();
        first.queue(reminder("【缴费通知】一")).await.unwrap();
        for _ in 0..100 {
            if matches!(state_of(&first).await, Delivery::Retrying { .. }) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(matches!(state_of(&first).await, Delivery::Retrying { .. }), "{:?}", state_of(&first).await);
        drop(first);

        // The hook comes up; the server restarts on the same journal.
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.unwrap();
        let served = tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut request = Vec::new();
            let mut buf = [0u8; 4096];
            while !String::from_utf8_lossy(&request).contains("一\"}") {
                let n = stream.read(&mut buf).await.unwrap();
                if n == 0 {
                    break;
                }
                request.extend_from_slice(&buf[..n]);
            }
            stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").await.unwrap();
            String::from_utf8_lossy(&request).into_owned()
        });
        let again = Outbox::open(journal, hook, quick).await.unwrap();
        let request = tokio::time::timeout(Duration::from_secs(10), served).await.unwrap().unwrap();
        assert!(request.starts_with("POST /hook"), "{request}");
        for _ in 0..100 {
            if state_of(&again).await == Delivery::Sent {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let entry = again.recent("heyuan", 1).remove(0);
        assert_eq!((entry.delivery, entry.attempts), (Delivery::Sent, 2));
        assert_eq!(entry.to, vec!["138****4613".to_string()], "screens see the phone masked");
    }
}
