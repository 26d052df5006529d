//! Ingest from an external broker (`--mqtt-url`): one task owns the rumqttc event loop and never
//! blocks in it. A publish is decoded by the pure codec, cast to its device actor with a one-shot
//! for the outcome, and queued for the ack task, which acks the broker in arrival order once each
//! outcome says the journal holds it (or that it was a duplicate or refused). A message whose
//! actor failed before the journal held it is not acked: the broker delivers it again after the
//! next reconnect. [`dispatch`] and [`Outcomes`] are shared with Hutong's own endpoint.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use hutong_actors::device::{DeviceMsg, IngestOutcome};
use hutong_actors::{Clock, Directory, Metrics};
use rumqttc::{AsyncClient, Event, Packet, Publish, QoS};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::codec::{self, Rejection};
use crate::keys::{Keyring, Principal};
use crate::url::BrokerAddress;

pub struct IngestOptions {
    pub broker: BrokerAddress,
    pub client_id: String,
    /// The devices' keys: a broker that does not ask Hutong who connects passes on whatever any
    /// client publishes, so every message must carry its device's key.
    pub keyring: Arc<Keyring>,
    /// The broker asks Hutong's hooks (`/api/v1/mqtt/auth`, `/api/v1/mqtt/acl`) who connects and
    /// who may publish where: a topic then says who sent the message, no payload key needed.
    pub broker_authenticates: bool,
    /// Share the subscription among Hutong's nodes (`$share/{group}/…`) with a persistent session,
    /// so each message goes to one node and none is lost while a node restarts.
    pub share_group: Option<String>,
    /// Subscribe only to these communities' devices (a node running some communities); `None`: all.
    pub communities: Option<Vec<String>>,
}

const BACKOFF_START: Duration = Duration::from_millis(100);
const BACKOFF_CAP: Duration = Duration::from_secs(5);

pub fn describe_metrics(metrics: &Metrics) {
    metrics.describe("hutong_mqtt_messages_total", "Device messages taken, by outcome");
    metrics.describe("hutong_mqtt_rejected_total", "Device messages refused, by reason");
    metrics.describe("hutong_mqtt_connected", "1 while ingest is connected to the broker");
    metrics.describe("hutong_mqtt_reconnects_total", "Times ingest lost the broker and reconnected");
    for reason in Rejection::REASONS {
        metrics.counter("hutong_mqtt_rejected_total", &[("reason", reason)]);
    }
}

/// Runs until `shutdown`; reconnects with capped backoff and resubscribes on every connection.
pub async fn run(options: IngestOptions, directory: Arc<Directory>, metrics: Arc<Metrics>, clock: Clock, shutdown: CancellationToken) {
    describe_metrics(&metrics);
    let mut mqtt = options.broker.options(&options.client_id);
    mqtt.set_manual_acks(true)
        // A shared subscription's persistent session keeps messages for this node while it restarts.
        .set_clean_session(options.share_group.is_none())
        .set_keep_alive(Duration::from_secs(30))
        // Oversized payloads must reach the codec to be counted, not break the connection.
        .set_max_packet_size(1024 * 1024, 64 * 1024);
    let (client, mut eventloop) = AsyncClient::new(mqtt, 4096);
    let keyring = options.keyring;
    let trust_broker = options.broker_authenticates;
    let filters: Vec<String> = match &options.communities {
        Some(list) => list.iter().map(|c| format!("hutong/{c}/devices/+/+")).collect(),
        None => vec![codec::SUBSCRIPTION.to_string()],
    };
    let filters: Vec<String> = match &options.share_group {
        Some(group) => filters.into_iter().map(|f| format!("$share/{group}/{f}")).collect(),
        None => filters,
    };
    let (queue, pending) = mpsc::channel(16_384);
    let acker = tokio::spawn(ack_in_order(client.clone(), pending, Outcomes::new(&metrics)));
    let connected = metrics.gauge("hutong_mqtt_connected", &[]);
    let mut backoff = BACKOFF_START;
    loop {
        let event = tokio::select! {
            biased;
            _ = shutdown.cancelled() => break,
            event = eventloop.poll() => event,
        };
        match event {
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                backoff = BACKOFF_START;
                connected.store(1, Ordering::Relaxed);
                tracing::info!("ingest connected to the MQTT broker; subscribing");
                for filter in &filters {
                    if let Err(e) = client.try_subscribe(filter.as_str(), QoS::AtLeastOnce) {
                        tracing::error!(error = %e, %filter, "could not subscribe");
                    }
                }
            }
            Ok(Event::Incoming(Packet::Publish(publish))) => {
                let sender = if trust_broker { Sender::Broker } else { Sender::PayloadKey(&keyring) };
                let outcome = dispatch(&publish.topic, &publish.payload, sender, &directory, &metrics, &clock);
                if queue.send((publish, outcome)).await.is_err() {
                    break;
                }
            }
            Ok(_) => {}
            Err(e) => {
                connected.store(0, Ordering::Relaxed);
                metrics.inc("hutong_mqtt_reconnects_total", &[]);
                tracing::warn!(error = %e, retry_in_ms = backoff.as_millis() as u64, "MQTT connection lost");
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(BACKOFF_CAP);
            }
        }
    }
    connected.store(0, Ordering::Relaxed);
    drop(queue);
    let _ = acker.await;
    let _ = client.try_disconnect();
}

/// Logs a refused device message — at most one line a second per reason, with how many were
/// left out, so a flood of bad messages cannot flood the log (review D5). The topic is quoted
/// (a newline in it cannot forge a log line) and the payload's values are not logged at all (a
/// decoder's message may quote a plate, review L5); `/metrics` counts every refusal.
pub(crate) fn log_refusal(reason: &'static str, topic: &str) {
    static LAST: std::sync::LazyLock<std::sync::Mutex<std::collections::HashMap<&'static str, (std::time::Instant, u64)>>> =
        std::sync::LazyLock::new(Default::default);
    let now = std::time::Instant::now();
    let left_out = {
        let mut last = LAST.lock().unwrap_or_else(|e| e.into_inner());
        let entry = last.entry(reason).or_insert((now - std::time::Duration::from_secs(2), 0));
        if now.duration_since(entry.0) < std::time::Duration::from_secs(1) {
            entry.1 += 1;
            return;
        }
        let left_out = entry.1;
        *entry = (now, 0);
        left_out
    };
    let topic: String = topic.chars().take(200).collect();
    tracing::warn!(reason, topic = ?topic, left_out, "device message refused (counted in hutong_mqtt_rejected_total)");
}

/// How a message's sender is known.
pub(crate) enum Sender<'a> {
    /// By its connection: Hutong's own endpoint authenticated it.
    Connected(&'a Principal),
    /// By the key in its payload: an external broker passes on what any client publishes.
    PayloadKey(&'a Keyring),
    /// By the external broker, which asked Hutong's hooks who connects and who may publish where.
    Broker,
}

/// Decodes, checks the sender may speak for the topic's device, and casts to its actor; `None`
/// means refused here (counted) and to be acknowledged at once.
pub(crate) fn dispatch(
    topic: &str,
    payload: &[u8],
    sender: Sender<'_>,
    directory: &Directory,
    metrics: &Metrics,
    clock: &Clock,
) -> Option<oneshot::Receiver<IngestOutcome>> {
    let decoded = codec::parse_topic(topic).and_then(|parsed| {
        let forbidden = || Rejection::Forbidden(format!("{}/{}", parsed.community, parsed.device));
        if let Sender::Connected(principal) = &sender
            && !principal.may_publish(topic)
        {
            return Err(forbidden());
        }
        let topic = &parsed;
        if !directory.has_device(topic.community, topic.device) {
            return Err(Rejection::UnknownDevice { community: topic.community.to_string(), device: topic.device.to_string() });
        }
        let (command, key) = codec::decode(topic.channel, payload, clock.now())?;
        if let Sender::PayloadKey(keyring) = &sender
            && keyring.check(topic.community, topic.device, key.as_deref().unwrap_or_default()).is_err()
        {
            return Err(forbidden());
        }
        Ok((parsed, command))
    });
    match decoded {
        Ok((topic, command)) => {
            // A sleeping device is woken by this; the ack waits for its actor either way.
            let (tx, rx) = oneshot::channel();
            directory.send_device(topic.community, topic.device, DeviceMsg::Signal(command, Some(tx))).ok().map(|_| rx)
        }
        Err(rejection) => {
            metrics.inc("hutong_mqtt_rejected_total", &[("reason", rejection.reason())]);
            log_refusal(rejection.reason(), topic);
            None
        }
    }
}

/// The counters of what became of the messages the actors took.
#[derive(Clone)]
pub(crate) struct Outcomes {
    applied: Arc<AtomicU64>,
    duplicate: Arc<AtomicU64>,
    refused: Arc<AtomicU64>,
    not_durable: Arc<AtomicU64>,
}

impl Outcomes {
    pub(crate) fn new(metrics: &Metrics) -> Self {
        Outcomes {
            applied: metrics.counter("hutong_mqtt_messages_total", &[("outcome", "applied")]),
            duplicate: metrics.counter("hutong_mqtt_messages_total", &[("outcome", "duplicate")]),
            refused: metrics.counter("hutong_mqtt_rejected_total", &[("reason", "refused")]),
            not_durable: metrics.counter("hutong_mqtt_messages_total", &[("outcome", "not_durable")]),
        }
    }

    /// Counts an actor's answer; whether the message may be acknowledged (`None`: the actor
    /// stopped before the journal held it, so the sender must send it again).
    pub(crate) fn account(&self, outcome: Option<IngestOutcome>) -> bool {
        let counter = match outcome {
            Some(IngestOutcome::Applied) => &self.applied,
            Some(IngestOutcome::Duplicate) => &self.duplicate,
            Some(IngestOutcome::Refused(_)) => {
                log_refusal("refused", "(device actor)");
                &self.refused
            }
            None => {
                self.not_durable.fetch_add(1, Ordering::Relaxed);
                return false;
            }
        };
        counter.fetch_add(1, Ordering::Relaxed);
        true
    }
}

async fn ack_in_order(client: AsyncClient, mut pending: mpsc::Receiver<(Publish, Option<oneshot::Receiver<IngestOutcome>>)>, outcomes: Outcomes) {
    while let Some((publish, outcome)) = pending.recv().await {
        if let Some(outcome) = outcome
            && !outcomes.account(outcome.await.ok())
        {
            continue;
        }
        if publish.qos != QoS::AtMostOnce && client.ack(&publish).await.is_err() {
            break;
        }
    }
}
