//! The reminder outbox (N3): every reminder the books record is queued with its delivery state
//! and delivered by the sender of its channel, off the actors' path. In-app reminders land in the
//! owner portal's inbox; SMS, WeChat and e-mail go to their gateway adapters — with none
//! configured (the demo), a sender that writes to the log with the phone masked; a webhook POSTs
//! JSON to the configured URL.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use hutong_actors::building::{Notices, ReminderNotice};
use hutong_core::identity::mask_phone;
use hutong_core::reminder::Channel;
use serde::Serialize;
use tokio::sync::mpsc;

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "state", content = "detail")]
pub enum Delivery {
    Queued,
    Sent,
    Failed(String),
}

#[derive(Clone, Debug, Serialize)]
pub struct OutboxEntry {
    pub id: u64,
    pub community: String,
    pub house: String,
    pub channel: Channel,
    /// Masked phones: the outbox is shown to staff.
    pub to: Vec<String>,
    pub text: String,
    pub reason: String,
    pub queued_at: DateTime<Utc>,
    pub delivery: Delivery,
}

/// Delivers one reminder on its channel.
pub trait ChannelSender: Send + Sync {
    fn send(&self, notice: &ReminderNotice, text: &str) -> futures_util::future::BoxFuture<'_, Result<(), String>>;
}

/// No gateway configured: the reminder is written to the log, phones masked.
pub struct LogChannel;

impl ChannelSender for LogChannel {
    fn send(&self, notice: &ReminderNotice, text: &str) -> futures_util::future::BoxFuture<'_, Result<(), String>> {
        let to: Vec<String> = notice.phones.iter().map(|p| mask_phone(p)).collect();
        tracing::info!(channel = ?notice.channel, to = ?to, house = %notice.house, %text, "reminder (log sender)");
        Box::pin(async { Ok(()) })
    }
}

/// POSTs the reminder as JSON to an `http://` URL (a company's own notification service).
pub struct WebhookChannel {
    pub url: String,
}

impl ChannelSender for WebhookChannel {
    fn send(&self, notice: &ReminderNotice, text: &str) -> futures_util::future::BoxFuture<'_, Result<(), String>> {
        let body = serde_json::json!({"community": notice.community, "house": notice.house, "address": notice.address, "bills": notice.bills, "owed": notice.owed, "phones": notice.phones, "text": text}).to_string();
        Box::pin(async move { post_json(&self.url, &body).await })
    }
}

async fn post_json(url: &str, body: &str) -> Result<(), String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url.strip_prefix("http://").ok_or("only http:// webhooks are supported")?;
    let (host, path) = rest.split_once('/').map_or((rest, "/".to_string()), |(h, p)| (h, format!("/{p}")));
    let mut stream = tokio::time::timeout(std::time::Duration::from_secs(5), tokio::net::TcpStream::connect(host)).await.map_err(|_| "timed out")?.map_err(|e| e.to_string())?;
    let request = format!("POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
    stream.write_all(request.as_bytes()).await.map_err(|e| e.to_string())?;
    let mut head = [0u8; 12];
    tokio::time::timeout(std::time::Duration::from_secs(5), stream.read_exact(&mut head)).await.map_err(|_| "timed out")?.map_err(|e| e.to_string())?;
    let status = String::from_utf8_lossy(&head[9..12]).to_string();
    if status.starts_with('2') { Ok(()) } else { Err(format!("webhook answered {status}")) }
}

/// The outbox: queue, deliver in the background, keep the last entries with their state.
pub struct ReminderOutbox {
    entries: Mutex<VecDeque<OutboxEntry>>,
    tx: mpsc::UnboundedSender<(u64, ReminderNotice, String)>,
    next: std::sync::atomic::AtomicU64,
}

const KEEP: usize = 10_000;

impl ReminderOutbox {
    /// Starts the delivery task; `webhook` replaces the log sender for the webhook channel.
    pub fn start(webhook: Option<String>) -> Arc<ReminderOutbox> {
        let (tx, mut rx) = mpsc::unbounded_channel::<(u64, ReminderNotice, String)>();
        let outbox = Arc::new(ReminderOutbox { entries: Mutex::new(VecDeque::new()), tx, next: 1.into() });
        let weak = Arc::downgrade(&outbox);
        let webhook: Option<Arc<dyn ChannelSender>> = webhook.map(|url| Arc::new(WebhookChannel { url }) as Arc<dyn ChannelSender>);
        tokio::spawn(async move {
            let log: Arc<dyn ChannelSender> = Arc::new(LogChannel);
            while let Some((id, notice, text)) = rx.recv().await {
                let sender = match (notice.channel, &webhook) {
                    (Channel::Webhook, Some(w)) => w.clone(),
                    _ => log.clone(),
                };
                let result = sender.send(&notice, &text).await;
                let Some(outbox) = weak.upgrade() else { break };
                outbox.settle(id, result);
            }
        });
        outbox
    }

    fn settle(&self, id: u64, result: Result<(), String>) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(e) = entries.iter_mut().find(|e| e.id == id) {
            e.delivery = match result {
                Ok(()) => Delivery::Sent,
                Err(why) => Delivery::Failed(why),
            };
        }
    }

    pub fn recent(&self, community: &str, limit: usize) -> Vec<OutboxEntry> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.iter().rev().filter(|e| e.community == community).take(limit).cloned().collect()
    }
}

fn text_of(n: &ReminderNotice) -> String {
    format!("【缴费通知】您的房屋 {} 有 {} 笔账单待缴，合计 ¥{}，请及时缴纳。", n.address, n.bills.len(), n.owed)
}

impl Notices for ReminderOutbox {
    fn remind(&self, notice: ReminderNotice) {
        let id = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let text = text_of(&notice);
        let entry = OutboxEntry {
            id,
            community: notice.community.to_string(),
            house: notice.house.to_string(),
            channel: notice.channel,
            to: notice.phones.iter().map(|p| mask_phone(p)).collect(),
            text: text.clone(),
            reason: notice.reason.clone(),
            queued_at: Utc::now(),
            delivery: Delivery::Queued,
        };
        {
            let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
            entries.push_back(entry);
            while entries.len() > KEEP {
                entries.pop_front();
            }
        }
        let _ = self.tx.send((id, notice, text));
    }
}
