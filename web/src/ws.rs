//! `/ws?community=ID` and `/ws/money?community=ID`: a screen's one WebSocket. It joins its topic
//! (community, feed, what the caller may see) *before* it takes the snapshot, sends the snapshot,
//! then every frame of the topic (see `fanout`). A client that falls a topic's ring behind gets
//! `{"type":"resync"}` and a fresh snapshot; it never slows an actor or another screen.
//!
//! Access was decided before the upgrade (`auth::authorize`: a session, the feed's permission,
//! and the community in scope); a browser's Origin must be this server's. The socket checks its
//! caller again when told that access changed (a revoked session, a changed role or scope, a
//! closed account: `identity::AccessWatch`) and when its session lapses; it never polls.
//!
//! The handshake is answered here instead of by axum's extractor so the socket's buffers are
//! ours to size: a screen sends nothing but pings, so it reads into 4 KiB, and a large message
//! (a snapshot) goes out in 8 KiB fragments, so no socket keeps a buffer the size of the largest
//! message it ever sent. That keeps an open screen's memory to a few KiB.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::body::Body;
use axum::extract::{Extension, FromRequestParts, MatchedPath, Query, State};
use axum::http::header::{CONNECTION, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_KEY, SEC_WEBSOCKET_VERSION, UPGRADE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::{SinkExt, StreamExt};
use hutong_core::identity::Subject;
use hutong_core::live::ServerMessage;
use serde::Deserialize;
use tokio::sync::broadcast::error::RecvError;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::{CloseFrame, Frame as WireFrame};
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

use crate::app::App;
use crate::auth::{Caller, admits, same_origin};
use crate::error::ApiError;
use crate::fanout::{Feed, Frame, Topic, TopicKey};
use crate::scope::sight;

#[derive(Deserialize)]
pub struct WsQuery {
    community: String,
}

/// `/ws`, `/ws/money` and `/ws/patrol` (`?community=ID`): the wall; the money screens (the manager
/// and the billing desk); the patrol phones. Which feed is the address's; access is decided
/// before the upgrade by the route's own rule (the feed's permission and the community in scope).
pub async fn upgrade(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    Query(q): Query<WsQuery>,
    path: MatchedPath,
    headers: HeaderMap,
    handshake: Handshake,
) -> Response {
    match Feed::at(path.as_str()) {
        Some(feed) => open(app, caller, q, &headers, handshake, feed),
        None => ApiError::not_found("实时数据", "live feed", path.as_str()).into_response(),
    }
}

/// A WebSocket opening handshake (RFC 6455 §4.2), checked; answered by `Handshake::accept`.
pub struct Handshake {
    key: HeaderValue,
    on_upgrade: hyper::upgrade::OnUpgrade,
}

fn not_a_websocket() -> ApiError {
    ApiError::BadRequest { zh: "这个地址只接受 WebSocket 连接".into(), en: "this address takes WebSocket connections only".into() }
}

impl<S: Send + Sync> FromRequestParts<S> for Handshake {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let has_token = |name, token: &str| {
            parts.headers.get_all(name).iter().any(|v| v.to_str().is_ok_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token))))
        };
        let version_13 = parts.headers.get(SEC_WEBSOCKET_VERSION).is_some_and(|v| v.as_bytes() == b"13");
        if parts.method != Method::GET || !has_token(CONNECTION, "upgrade") || !has_token(UPGRADE, "websocket") || !version_13 {
            return Err(not_a_websocket());
        }
        let key = parts.headers.get(SEC_WEBSOCKET_KEY).cloned().ok_or_else(not_a_websocket)?;
        let on_upgrade = parts.extensions.remove::<hyper::upgrade::OnUpgrade>().ok_or_else(not_a_websocket)?;
        Ok(Handshake { key, on_upgrade })
    }
}

/// A socket as this server runs it.
type Socket = WebSocketStream<hyper_util::rt::TokioIo<hyper::upgrade::Upgraded>>;

/// Incoming messages are a screen's pings and its close: small.
const READ_BUFFER: usize = 4 * 1024;
const MAX_INCOMING: usize = 16 * 1024;
/// Outgoing messages longer than this go out as fragments of it.
const FRAGMENT: usize = 8 * 1024;

impl Handshake {
    /// Answers `101 Switching Protocols` and runs `serve` on the socket once the client has it.
    fn accept<F>(self, serve: impl FnOnce(Socket) -> F + Send + 'static) -> Response
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        let accept = tokio_tungstenite::tungstenite::handshake::derive_accept_key(self.key.as_bytes());
        let on_upgrade = self.on_upgrade;
        tokio::spawn(async move {
            let Ok(upgraded) = on_upgrade.await else { return };
            let config = WebSocketConfig::default()
                .read_buffer_size(READ_BUFFER)
                .write_buffer_size(0)
                .max_write_buffer_size(4 * FRAGMENT)
                .max_message_size(Some(MAX_INCOMING))
                .max_frame_size(Some(MAX_INCOMING));
            let socket = WebSocketStream::from_raw_socket(hyper_util::rt::TokioIo::new(upgraded), Role::Server, Some(config)).await;
            serve(socket).await;
        });
        let mut response = Response::new(Body::empty());
        *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
        let headers = response.headers_mut();
        headers.insert(CONNECTION, HeaderValue::from_static("upgrade"));
        headers.insert(UPGRADE, HeaderValue::from_static("websocket"));
        if let Ok(accept) = HeaderValue::from_str(&accept) {
            headers.insert(SEC_WEBSOCKET_ACCEPT, accept);
        }
        response
    }
}

/// A write a client does not take within this long ends its socket: a client that stopped
/// reading holds nothing and no one (review V3). Its screen reconnects and starts from a snapshot.
const SEND_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
/// Sockets one sign-in may hold open at once (a wall, a desk and a few tabs), and all of them.
pub const SOCKETS_PER_SESSION: usize = 8;
pub const SOCKETS_MAX: usize = 20_000;

/// Why a socket stopped.
enum Gone {
    /// Its client stopped taking what was sent: dropped, so it holds nothing.
    Stalled,
    /// The connection or the community is gone.
    Closed,
}

async fn send(socket: &mut Socket, message: Message) -> Result<(), Gone> {
    match tokio::time::timeout(SEND_TIMEOUT, socket.send(message)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(_)) => Err(Gone::Closed),
        Err(_) => Err(Gone::Stalled),
    }
}

/// Sends a text message, in fragments of `FRAGMENT` bytes (cut between characters) when it is
/// longer; the bytes are shared with every other socket sending the same text.
async fn send_text(socket: &mut Socket, text: Utf8Bytes) -> Result<(), Gone> {
    if text.len() <= FRAGMENT {
        return send(socket, Message::Text(text)).await;
    }
    let bytes = bytes::Bytes::from(text);
    let mut start = 0;
    while start < bytes.len() {
        let mut end = (start + FRAGMENT).min(bytes.len());
        // Back to a character's first byte: never a continuation byte (10xxxxxx).
        while end < bytes.len() && (bytes[end] & 0xC0) == 0x80 {
            end -= 1;
        }
        let opcode = OpCode::Data(if start == 0 { Data::Text } else { Data::Continue });
        send(socket, Message::Frame(WireFrame::message(bytes.slice(start..end), opcode, end == bytes.len()))).await?;
        start = end;
    }
    Ok(())
}

/// Open sockets by session, so one token cannot open thousands (review V3).
#[derive(Default)]
pub struct Sockets {
    open: std::sync::Mutex<std::collections::HashMap<String, usize>>,
}

/// One socket's place, given back when it closes.
pub struct SocketSlot {
    app: Arc<App>,
    session: String,
}

impl Drop for SocketSlot {
    fn drop(&mut self) {
        let mut open = self.app.sockets.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = open.get_mut(&self.session) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.session);
                self.app.identity.access.release(&self.session);
            }
        }
    }
}

fn take_slot(app: &Arc<App>, session: &str) -> Result<SocketSlot, ApiError> {
    let mut open = app.sockets.open.lock().unwrap_or_else(|e| e.into_inner());
    let total: usize = open.values().sum();
    let mine = open.get(session).copied().unwrap_or(0);
    if mine >= SOCKETS_PER_SESSION || total >= SOCKETS_MAX {
        return Err(ApiError::RateLimited {
            zh: format!("同一登录最多同时打开 {SOCKETS_PER_SESSION} 个实时连接，请关闭不用的页面"),
            en: format!("one sign-in holds at most {SOCKETS_PER_SESSION} live connections at once; close the pages you do not use"),
        });
    }
    *open.entry(session.to_string()).or_default() += 1;
    Ok(SocketSlot { app: app.clone(), session: session.to_string() })
}

fn open(app: Arc<App>, caller: Caller, q: WsQuery, headers: &HeaderMap, handshake: Handshake, feed: Feed) -> Response {
    if !app.ready.load(Ordering::Acquire) {
        return ApiError::NotReady.into_response();
    }
    if !same_origin(headers) {
        return ApiError::CrossOrigin.into_response();
    }
    let Some(community) = app.hub.community(&q.community).map(|c| c.id.clone()) else {
        return ApiError::not_found("小区", "community", &q.community).into_response();
    };
    let slot = match take_slot(&app, &caller.session) {
        Ok(slot) => slot,
        Err(refused) => return refused.into_response(),
    };
    handshake.accept(move |socket| async move {
        stream(socket, app, community, caller, feed).await;
        drop(slot);
    })
}

/// Who holds a socket, for `/metrics`.
fn client_kind(caller: &Caller) -> &'static str {
    match &caller.principal.subject {
        Subject::Staff { account, .. } if account.starts_with(crate::displays::DISPLAY_PREFIX) => "display",
        Subject::Staff { .. } => "staff",
        Subject::Owner { .. } => "owner",
    }
}

/// An open socket, counted in `/metrics` while it lives.
struct Counted(Arc<std::sync::atomic::AtomicI64>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The snapshot a socket (re)starts from; `resync` first when it starts again.
async fn start(socket: &mut Socket, app: &App, topic: &Topic, resync: bool) -> Result<(), Gone> {
    if resync {
        let text = serde_json::to_string(&ServerMessage::Resync).unwrap_or_default();
        send(socket, Message::Text(text.into())).await?;
    }
    let Some(snapshot) = topic.snapshot(&app.hub, &app.metrics) else { return Err(Gone::Closed) };
    app.metrics.counter("hutong_ws_bytes_sent_total", &[("feed", topic.key.feed.name())]).fetch_add(snapshot.len() as u64, Ordering::Relaxed);
    send_text(socket, snapshot).await
}

/// What a check of the caller found.
enum Recheck {
    Same,
    /// The caller's roles or scope changed but still admit this feed.
    Changed(hutong_core::identity::Principal),
    /// The session ended or lapsed, or the account closed.
    Ended,
    /// The caller may no longer see this feed of this community.
    Refused,
}

fn recheck(app: &App, caller: &Caller, community: &str) -> Recheck {
    let Some(now) = app.identity.principal_of_session(&caller.session, chrono::Utc::now()) else { return Recheck::Ended };
    if admits(app, &now, caller.access, Some(community)).is_err() {
        return Recheck::Refused;
    }
    if now == caller.principal { Recheck::Same } else { Recheck::Changed(now) }
}

async fn close(socket: &mut Socket, code: u16, reason: &'static str) {
    let frame = CloseFrame { code: code.into(), reason: reason.into() };
    let _ = send(socket, Message::Close(Some(frame))).await;
}

async fn stream(mut socket: Socket, app: Arc<App>, community: hutong_core::CommunityId, mut caller: Caller, feed: Feed) {
    let _open = {
        let gauge = app.metrics.gauge("hutong_ws_clients", &[("feed", feed.name()), ("client", client_kind(&caller))]);
        gauge.fetch_add(1, Ordering::Relaxed);
        Counted(gauge)
    };
    let frames_sent = app.metrics.counter("hutong_ws_frames_sent_total", &[("feed", feed.name())]);
    let bytes_sent = app.metrics.counter("hutong_ws_bytes_sent_total", &[("feed", feed.name())]);
    let latency = app.metrics.histogram("hutong_ws_publish_to_write_seconds");
    // Futures that wait the socket's whole life are made once: made per loop they would join and
    // leave a waiter list shared by every socket (the shutdown token's, the access watch's) on
    // every frame.
    let access = app.identity.access.watch(&caller.session).changed();
    tokio::pin!(access);
    let stopping = app.shutdown.cancelled();
    tokio::pin!(stopping);
    let now = chrono::Utc::now();
    let Some(lapses) = app.identity.session_expires(&caller.session, now) else { return close(&mut socket, 4401, "session ended").await };
    let lapse = tokio::time::sleep((lapses - now).to_std().unwrap_or_default());
    tokio::pin!(lapse);
    let mut key = TopicKey { community, feed, sight: sight(&caller) };
    let (mut topic, mut frames) = app.fanout.subscribe(&key);
    let mut outcome = start(&mut socket, &app, &topic, false).await;
    while outcome.is_ok() {
        outcome = tokio::select! {
            _ = &mut stopping => break,
            _ = &mut lapse => return close(&mut socket, 4401, "session ended").await,
            watcher = &mut access => match { access.set(watcher.changed()); recheck(&app, &caller, key.community.as_str()) } {
                Recheck::Same => Ok(()),
                Recheck::Ended => return close(&mut socket, 4401, "session ended").await,
                Recheck::Refused => return close(&mut socket, 4403, "access changed").await,
                Recheck::Changed(principal) => {
                    caller.principal = principal;
                    let now_sees = TopicKey { sight: sight(&caller), ..key.clone() };
                    if now_sees == key {
                        Ok(())
                    } else {
                        // Another sight: another topic, and a snapshot of what is in it.
                        key = now_sees;
                        (topic, frames) = app.fanout.subscribe(&key);
                        start(&mut socket, &app, &topic, true).await
                    }
                }
            },
            frame = frames.recv() => match frame {
                Ok(Frame::Events { text, oldest }) => {
                    let len = text.len() as u64;
                    let sent = send_text(&mut socket, text).await;
                    latency.observe(oldest.elapsed());
                    frames_sent.fetch_add(1, Ordering::Relaxed);
                    bytes_sent.fetch_add(len, Ordering::Relaxed);
                    sent
                }
                Ok(Frame::Resync) | Err(RecvError::Lagged(_)) => {
                    app.metrics.inc("hutong_ws_resyncs_total", &[("feed", feed.name())]);
                    tracing::debug!("slow WebSocket client; resync");
                    start(&mut socket, &app, &topic, true).await
                }
                Err(RecvError::Closed) => break,
            },
            incoming = socket.next() => match incoming {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => break,
                Some(Ok(_)) => Ok(()),
            },
        };
    }
    if let Err(Gone::Stalled) = outcome {
        app.metrics.inc("hutong_ws_dropped_total", &[("feed", feed.name())]);
    }
}
