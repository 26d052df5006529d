//! Hutong's own MQTT 3.1.1 endpoint: on one machine, devices connect to the server itself.
//!
//! Packets are read and written by rumqttc's MQTT codec (the `mqttbytes` v4 module of the
//! client crate Hutong already uses, with the size bound checked before any payload is
//! buffered), so no MQTT parsing is written here. What this module adds is what a broker could
//! not give us:
//!
//! - **CONNECT as the device itself**: user `{community}/{device}`, its own key as password
//!   ([`Keyring`]); the device must be registered. Hutong's own client ids (`hutong-…`) are the
//!   service user's alone.
//! - **Topic rights**: a device publishes only on its own topics and subscribes only to its own
//!   command topic (`hutong/{c}/devices/{d}/command`); anything else is refused and counted.
//! - **PUBACK after durability**: each publish goes straight to its device actor, and its PUBACK
//!   is written only once the journal holds the event (or it was a duplicate or refused), in the
//!   order the publishes came, as MQTT requires. If an actor fails before the journal holds a
//!   message, the connection is closed unacknowledged so the device sends it again.
//! - **Bounds**: publishes awaiting durability per connection (the socket is not read past it),
//!   connections per address and in all, the packet size, time to CONNECT, keep-alive (1.5× the
//!   device's, and at most [`MAX_IDLE`] when it asks for none).
//! - **Takeover and revocation**: a second connection of the same device closes the first; a key
//!   rotated or revoked closes the device's connection at once.
//!
//! Sessions are not kept across connections (CONNACK says `session_present = false`): a device
//! resubscribes on connect, and a command to open a gate is never delivered late to a device
//! that was away when it was sent.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::stream::FuturesOrdered;
use futures_util::{FutureExt, SinkExt, StreamExt};
use hutong_actors::device::IngestOutcome;
use hutong_actors::{Clock, Directory, Metrics};
use rumqttc::mqttbytes::v4::{
    Codec, ConnAck, ConnectReturnCode, Packet, PubAck, Publish, SubAck, SubscribeReasonCode, UnsubAck,
};
use rumqttc::mqttbytes::{Protocol, QoS};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tokio_util::codec::Framed;
use tokio_util::sync::CancellationToken;

use crate::codec::INGEST_CLIENT_PREFIX;
use crate::codec::command_topic;
use crate::ingest::{self, Sender};
use crate::keys::{Keyring, Principal};

/// The longest a connection may stay silent when the device asked for no keep-alive.
pub const MAX_IDLE: Duration = Duration::from_secs(20 * 60);

#[derive(Clone, Debug)]
pub struct EndpointOptions {
    pub listen: SocketAddr,
    /// Connections in all.
    pub max_connections: usize,
    /// Connections from one address (a community's gateway may carry many devices).
    pub max_per_address: usize,
    /// Publishes of one connection awaiting durability before the socket is read again.
    pub max_inflight: usize,
    /// Time from the TCP connection to its CONNECT.
    pub connect_timeout: Duration,
    /// The largest packet read; a payload above `codec::MAX_PAYLOAD` is still read and refused
    /// with a reason, a packet above this closes the connection.
    pub max_packet: usize,
}

impl EndpointOptions {
    pub fn new(listen: SocketAddr) -> Self {
        EndpointOptions {
            listen,
            max_connections: 50_000,
            max_per_address: 5_000,
            max_inflight: 256,
            connect_timeout: Duration::from_secs(10),
            max_packet: 64 * 1024,
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("MQTT 端口 {0} 不可用 / cannot listen for MQTT on {0}: {1}; pass --mqtt with a free address or --mqtt-url for an external broker")]
pub struct ListenError(pub SocketAddr, pub std::io::Error);

/// One live connection, as the rest of the endpoint sees it.
struct Live {
    id: u64,
    close: CancellationToken,
    /// Why it was closed from outside (takeover, key change), for the metrics.
    closed_because: Arc<Mutex<&'static str>>,
    /// Commands for the device; `None` until it subscribed to its command topic.
    commands: Option<mpsc::Sender<Publish>>,
}

pub struct Endpoint {
    options: EndpointOptions,
    keyring: Arc<Keyring>,
    directory: Arc<Directory>,
    metrics: Arc<Metrics>,
    clock: Clock,
    /// By `community/device` for devices, `service/{client id}` for the service user.
    sessions: Mutex<HashMap<String, Live>>,
    per_address: Mutex<HashMap<IpAddr, usize>>,
    next_id: AtomicU64,
    connections: Arc<AtomicI64>,
    outcomes: ingest::Outcomes,
    local: SocketAddr,
}

/// Why a connection was refused or ended: the labels of `/metrics`.
pub const REFUSALS: [&str; 8] =
    ["bad_credentials", "revoked", "unknown_device", "reserved_client_id", "protocol", "connect_timeout", "too_many_from_address", "too_many_connections"];
pub const DISCONNECTS: [&str; 7] = ["client", "keep_alive", "takeover", "key_changed", "protocol_error", "not_durable", "shutdown"];

fn describe_metrics(metrics: &Metrics) {
    metrics.describe("hutong_mqtt_connections", "Device connections open on Hutong's MQTT endpoint");
    metrics.describe("hutong_mqtt_connections_refused_total", "MQTT connections refused, by reason");
    metrics.describe("hutong_mqtt_disconnects_total", "MQTT connections ended, by reason");
    metrics.describe("hutong_mqtt_subscriptions_refused_total", "Subscriptions refused: a device may subscribe only to its own command topic");
    metrics.describe("hutong_mqtt_commands_total", "Commands written to devices");
    for reason in REFUSALS {
        metrics.counter("hutong_mqtt_connections_refused_total", &[("reason", reason)]);
    }
    for reason in DISCONNECTS {
        metrics.counter("hutong_mqtt_disconnects_total", &[("reason", reason)]);
    }
    metrics.counter("hutong_mqtt_subscriptions_refused_total", &[]);
}

/// Holds one connection's place in the per-address count.
struct AddressSlot {
    endpoint: Arc<Endpoint>,
    ip: IpAddr,
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        let mut map = self.endpoint.per_address.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = map.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.ip);
            }
        }
        self.endpoint.connections.fetch_sub(1, Ordering::Relaxed);
    }
}

/// What waits for a PUBACK: the publish's packet id (`None` at QoS 0) and whether the journal holds it.
type Pending = std::pin::Pin<Box<dyn std::future::Future<Output = (Option<u16>, bool)> + Send>>;

impl Endpoint {
    /// Binds the listener and serves until `shutdown`.
    pub async fn start(
        options: EndpointOptions,
        keyring: Arc<Keyring>,
        directory: Arc<Directory>,
        metrics: Arc<Metrics>,
        clock: Clock,
        shutdown: CancellationToken,
    ) -> Result<Arc<Endpoint>, ListenError> {
        let listener = TcpListener::bind(options.listen).await.map_err(|e| ListenError(options.listen, e))?;
        let local = listener.local_addr().map_err(|e| ListenError(options.listen, e))?;
        describe_metrics(&metrics);
        ingest::describe_metrics(&metrics);
        let gauge = metrics.gauge("hutong_mqtt_connections", &[]);
        let endpoint = Arc::new(Endpoint {
            options,
            keyring,
            directory,
            metrics: metrics.clone(),
            clock,
            sessions: Mutex::default(),
            per_address: Mutex::default(),
            next_id: AtomicU64::new(1),
            connections: gauge,
            outcomes: ingest::Outcomes::new(&metrics),
            local,
        });
        tracing::info!(listen = %local, "MQTT endpoint listening");
        tokio::spawn(endpoint.clone().accept(listener, shutdown.clone()));
        tokio::spawn(endpoint.clone().follow_keys(shutdown));
        Ok(endpoint)
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    async fn accept(self: Arc<Self>, listener: TcpListener, shutdown: CancellationToken) {
        loop {
            let accepted = tokio::select! {
                _ = shutdown.cancelled() => break,
                accepted = listener.accept() => accepted,
            };
            let (stream, peer) = match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of file descriptors, mostly: wait rather than spin.
                    tracing::warn!(error = %e, "MQTT accept failed; pausing 100 ms");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let Some(slot) = self.admit(peer.ip()) else { continue };
            let _ = stream.set_nodelay(true);
            tokio::spawn(self.clone().connection(stream, slot, shutdown.clone()));
        }
        // Close every open connection so devices reconnect to whoever serves next.
        for live in self.sessions.lock().unwrap_or_else(|e| e.into_inner()).values() {
            *live.closed_because.lock().unwrap_or_else(|e| e.into_inner()) = "shutdown";
            live.close.cancel();
        }
    }

    fn admit(self: &Arc<Self>, ip: IpAddr) -> Option<AddressSlot> {
        let mut map = self.per_address.lock().unwrap_or_else(|e| e.into_inner());
        let refused = if self.connections.load(Ordering::Relaxed).max(0) as usize >= self.options.max_connections {
            Some("too_many_connections")
        } else if map.get(&ip).copied().unwrap_or(0) >= self.options.max_per_address {
            Some("too_many_from_address")
        } else {
            None
        };
        if let Some(reason) = refused {
            self.refused(reason);
            return None;
        }
        *map.entry(ip).or_insert(0) += 1;
        self.connections.fetch_add(1, Ordering::Relaxed);
        Some(AddressSlot { endpoint: self.clone(), ip })
    }

    fn refused(&self, reason: &'static str) {
        self.metrics.inc("hutong_mqtt_connections_refused_total", &[("reason", reason)]);
        crate::ingest::log_refusal(reason, "(connect)");
    }

    /// Closes the connection of a device whose key changed.
    async fn follow_keys(self: Arc<Self>, shutdown: CancellationToken) {
        let mut changes = self.keyring.changes();
        loop {
            let slot = tokio::select! {
                _ = shutdown.cancelled() => return,
                changed = changes.recv() => match changed {
                    Ok(slot) => Some(slot),
                    // Missed some: close every device connection rather than keep a revoked one.
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => None,
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                },
            };
            let sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
            for (session, live) in sessions.iter().filter(|(session, _)| slot.as_ref().is_none_or(|s| *session == s) && !session.starts_with("service/")) {
                // `session` is `community/device`; the key itself is never at hand here.
                tracing::info!(device = %session, "device credentials changed; closing its MQTT connection");
                *live.closed_because.lock().unwrap_or_else(|e| e.into_inner()) = "key_changed";
                live.close.cancel();
            }
        }
    }

    /// Sends a command to a connected device that subscribed to its command topic; `false` when
    /// it is not there to hear it (a command is never kept for later: a gate must not open late).
    pub fn command(&self, community: &str, device: &str, payload: Vec<u8>) -> bool {
        let sender = {
            let sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
            sessions.get(&format!("{community}/{device}")).and_then(|live| live.commands.clone())
        };
        let publish = Publish::new(command_topic(community, device), QoS::AtLeastOnce, payload);
        let sent = sender.is_some_and(|s| s.try_send(publish).is_ok());
        if sent {
            self.metrics.inc("hutong_mqtt_commands_total", &[]);
        }
        sent
    }

    fn session_key(principal: &Principal, client_id: &str) -> String {
        match principal {
            Principal::Service => format!("service/{client_id}"),
            Principal::Device { community, device } => format!("{community}/{device}"),
        }
    }

    /// Registers a session, closing the one it takes over.
    fn open_session(&self, key: &str) -> (u64, CancellationToken, Arc<Mutex<&'static str>>) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let close = CancellationToken::new();
        let because = Arc::new(Mutex::new("client"));
        let live = Live { id, close: close.clone(), closed_because: because.clone(), commands: None };
        if let Some(old) = self.sessions.lock().unwrap_or_else(|e| e.into_inner()).insert(key.to_string(), live) {
            *old.closed_because.lock().unwrap_or_else(|e| e.into_inner()) = "takeover";
            old.close.cancel();
        }
        (id, close, because)
    }

    fn close_session(&self, key: &str, id: u64) {
        let mut sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        if sessions.get(key).is_some_and(|live| live.id == id) {
            sessions.remove(key);
        }
    }

    fn set_commands(&self, key: &str, id: u64, sender: mpsc::Sender<Publish>) {
        let mut sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(live) = sessions.get_mut(key).filter(|live| live.id == id) {
            live.commands = Some(sender);
        }
    }

    /// CONNECT, then the session.
    async fn connection(self: Arc<Self>, stream: TcpStream, _slot: AddressSlot, shutdown: CancellationToken) {
        let codec = Codec { max_incoming_size: self.options.max_packet, max_outgoing_size: self.options.max_packet };
        let mut framed = Framed::new(stream, codec);
        let connect = match tokio::time::timeout(self.options.connect_timeout, framed.next()).await {
            Ok(Some(Ok(Packet::Connect(connect)))) => connect,
            Ok(Some(Ok(_)) | Some(Err(_))) => return self.refused("protocol"),
            Ok(None) => return,
            Err(_) => return self.refused("connect_timeout"),
        };
        let refuse = async |framed: &mut Framed<TcpStream, Codec>, code| {
            let _ = framed.send(Packet::ConnAck(ConnAck::new(code, false))).await;
        };
        // rumqttc's v4 reader accepts level 5 but does not read its properties: only 3.1.1 here.
        if connect.protocol != Protocol::V4 {
            self.refused("protocol");
            return refuse(&mut framed, ConnectReturnCode::RefusedProtocolVersion).await;
        }
        let (user, password) = connect.login.as_ref().map_or(("", ""), |l| (l.username.as_str(), l.password.as_str()));
        let principal = match self.keyring.authenticate(user, password) {
            Ok(principal) => principal,
            Err(refusal) => {
                self.refused(refusal.reason());
                return refuse(&mut framed, ConnectReturnCode::BadUserNamePassword).await;
            }
        };
        if let Principal::Device { community, device } = &principal {
            // A client id of Hutong's own is the service user's alone (review D3).
            if connect.client_id.starts_with(INGEST_CLIENT_PREFIX) {
                self.refused("reserved_client_id");
                return refuse(&mut framed, ConnectReturnCode::BadClientId).await;
            }
            if !self.directory.has_device(community, device) {
                self.refused("unknown_device");
                return refuse(&mut framed, ConnectReturnCode::NotAuthorized).await;
            }
        }
        let key = Self::session_key(&principal, &connect.client_id);
        let (id, close, because) = self.open_session(&key);
        if framed.send(Packet::ConnAck(ConnAck::new(ConnectReturnCode::Success, false))).await.is_err() {
            self.close_session(&key, id);
            return;
        }
        let keep_alive = match connect.keep_alive {
            0 => MAX_IDLE,
            secs => Duration::from_millis(u64::from(secs) * 1500),
        };
        let ended = self.session(&mut framed, &principal, &key, id, keep_alive, &close, &shutdown).await;
        self.close_session(&key, id);
        let reason = if close.is_cancelled() { *because.lock().unwrap_or_else(|e| e.into_inner()) } else { ended };
        self.metrics.inc("hutong_mqtt_disconnects_total", &[("reason", reason)]);
    }

    /// The connected session until it ends; why it ended.
    #[allow(clippy::too_many_arguments)]
    async fn session(
        &self,
        framed: &mut Framed<TcpStream, Codec>,
        principal: &Principal,
        key: &str,
        id: u64,
        keep_alive: Duration,
        close: &CancellationToken,
        shutdown: &CancellationToken,
    ) -> &'static str {
        let mut pending: FuturesOrdered<Pending> = FuturesOrdered::new();
        let (command_tx, mut commands) = mpsc::channel::<Publish>(16);
        let mut command_tx = Some(command_tx);
        let mut next_pkid: u16 = 0;
        let mut deadline = Instant::now() + keep_alive;
        loop {
            tokio::select! {
                biased;
                _ = close.cancelled() => return "takeover",
                _ = shutdown.cancelled() => return "shutdown",
                Some((pkid, durable)) = pending.next(), if !pending.is_empty() => {
                    // The socket is not read while publishes wait for the journal: a device that is
                    // only waiting for its PUBACKs is not silent.
                    deadline = Instant::now() + keep_alive;
                    // Every PUBACK ready now goes out in one write, in arrival order.
                    let mut done = vec![(pkid, durable)];
                    while let Some(Some(next)) = pending.next().now_or_never() {
                        done.push(next);
                    }
                    for (pkid, durable) in done {
                        if !durable {
                            return "not_durable";
                        }
                        if let Some(pkid) = pkid && framed.feed(Packet::PubAck(PubAck::new(pkid))).await.is_err() {
                            return "client";
                        }
                    }
                    if framed.flush().await.is_err() {
                        return "client";
                    }
                }
                Some(mut command) = commands.recv() => {
                    next_pkid = next_pkid.checked_add(1).unwrap_or(1);
                    command.pkid = next_pkid;
                    if framed.send(Packet::Publish(command)).await.is_err() {
                        return "client";
                    }
                }
                _ = tokio::time::sleep_until(deadline) => return "keep_alive",
                packet = framed.next(), if pending.len() < self.options.max_inflight => {
                    deadline = Instant::now() + keep_alive;
                    let packet = match packet {
                        Some(Ok(packet)) => packet,
                        Some(Err(e)) => {
                            tracing::debug!(error = %e, "MQTT protocol error");
                            return "protocol_error";
                        }
                        None => return "client",
                    };
                    match packet {
                        Packet::Publish(publish) => {
                            if publish.qos == QoS::ExactlyOnce {
                                // Granted at most QoS 1; a QoS 2 publish breaks the contract.
                                return "protocol_error";
                            }
                            let pkid = (publish.qos == QoS::AtLeastOnce).then_some(publish.pkid);
                            let outcome = ingest::dispatch(&publish.topic, &publish.payload, Sender::Connected(principal), &self.directory, &self.metrics, &self.clock);
                            pending.push_back(self.settle(pkid, outcome));
                        }
                        Packet::Subscribe(subscribe) => {
                            // On this endpoint only devices subscribe, to their commands.
                            let device = matches!(principal, Principal::Device { .. });
                            let codes = subscribe
                                .filters
                                .iter()
                                .map(|f| {
                                    if device && principal.may_subscribe(&f.path) {
                                        if let Some(sender) = command_tx.take() {
                                            self.set_commands(key, id, sender);
                                        }
                                        SubscribeReasonCode::Success(if f.qos == QoS::AtMostOnce { QoS::AtMostOnce } else { QoS::AtLeastOnce })
                                    } else {
                                        self.metrics.inc("hutong_mqtt_subscriptions_refused_total", &[]);
                                        crate::ingest::log_refusal("forbidden_subscribe", &f.path);
                                        SubscribeReasonCode::Failure
                                    }
                                })
                                .collect();
                            if framed.send(Packet::SubAck(SubAck::new(subscribe.pkid, codes))).await.is_err() {
                                return "client";
                            }
                        }
                        Packet::Unsubscribe(unsubscribe) => {
                            if framed.send(Packet::UnsubAck(UnsubAck::new(unsubscribe.pkid))).await.is_err() {
                                return "client";
                            }
                        }
                        Packet::PingReq => {
                            if framed.send(Packet::PingResp).await.is_err() {
                                return "client";
                            }
                        }
                        // The device's acknowledgement of a command: nothing is resent, so nothing to clear.
                        Packet::PubAck(_) => {}
                        Packet::Disconnect => return "client",
                        _ => return "protocol_error",
                    }
                }
            }
        }
    }

    /// Waits for the actor's word, counts it, and says whether the PUBACK may go.
    fn settle(&self, pkid: Option<u16>, outcome: Option<oneshot::Receiver<IngestOutcome>>) -> Pending {
        let outcomes = self.outcomes.clone();
        Box::pin(async move {
            let durable = match outcome {
                None => true,
                Some(rx) => outcomes.account(rx.await.ok()),
            };
            (pkid, durable)
        })
    }
}
