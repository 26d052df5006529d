//! `/ws?community=ID`: a screen's one WebSocket. It subscribes to the bus *before* it takes the
//! snapshot, sends the snapshot, then every event of that community. A client that falls too far
//! behind gets `{"type":"resync"}` followed by a fresh snapshot; it never slows an actor.
//!
//! Access was decided before the upgrade (`auth::authorize`: a session, `devices.read`, and the
//! community in scope); a browser's Origin must be this server's. Every event is filtered by what
//! the caller may see (a butler only their buildings), and the socket closes itself within a
//! second of its session being revoked or its account closed.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Extension, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use hutong_core::live::{LiveBody, MoneySnapshot, ServerMessage};
use serde::Deserialize;
use tokio::sync::broadcast::error::RecvError;

use crate::error::ApiError;
use crate::scope::{building_visible, scoped_wall};
use crate::auth::{Caller, admits, same_origin};
use crate::app::App;

#[derive(Deserialize)]
pub struct WsQuery {
    community: String,
}

pub async fn upgrade(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    Query(q): Query<WsQuery>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    open(app, caller, q, &headers, ws, Feed::Wall)
}

/// `/ws/money?community=ID`: money changes for the manager screen and the billing desk (access
/// decided before the upgrade: `collection.read` and the community in scope).
pub async fn upgrade_money(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    Query(q): Query<WsQuery>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    open(app, caller, q, &headers, ws, Feed::Money)
}

/// A write a client does not take within this long ends its socket: a client that stopped
/// reading holds nothing and no one (review V3). Its screen reconnects and starts from a snapshot.
const SEND_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
/// Sockets one sign-in may hold open at once (a wall, a desk and a few tabs), and all of them.
pub const SOCKETS_PER_SESSION: usize = 8;
pub const SOCKETS_MAX: usize = 20_000;

async fn send(socket: &mut WebSocket, message: Message) -> Result<(), ()> {
    match tokio::time::timeout(SEND_TIMEOUT, socket.send(message)).await {
        Ok(Ok(())) => Ok(()),
        _ => Err(()),
    }
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

fn open(app: Arc<App>, caller: Caller, q: WsQuery, headers: &HeaderMap, ws: WebSocketUpgrade, feed: Feed) -> Response {
    if !app.ready.load(Ordering::Acquire) {
        return ApiError::NotReady.into_response();
    }
    if !same_origin(headers) {
        return ApiError::CrossOrigin.into_response();
    }
    if app.hub.community(&q.community).is_none() {
        return ApiError::not_found("小区", "community", &q.community).into_response();
    }
    let slot = match take_slot(&app, &caller.session) {
        Ok(slot) => slot,
        Err(refused) => return refused.into_response(),
    };
    ws.on_upgrade(move |socket| async move {
        stream(socket, app, q.community, caller, feed).await;
        drop(slot);
    })
}

/// What a socket starts from (and starts again from after a resync): the wall as the caller
/// may see it, or every visible building's money.
fn snapshot_message(app: &App, caller: &Caller, community: &str, feed: Feed) -> Option<Message> {
    let message = match feed {
        Feed::Wall => ServerMessage::Snapshot(scoped_wall(app, caller, community)?),
        Feed::Money => {
            let buildings = app.hub.money(community)?.iter().filter(|b| building_visible(caller, Some(&b.building))).map(|b| (**b).clone()).collect();
            ServerMessage::MoneySnapshot(MoneySnapshot { community: hutong_core::CommunityId::new(community), buildings })
        }
    };
    serde_json::to_string(&message).ok().map(|s| Message::Text(s.into()))
}

/// Whether the caller may see this event (building-scoped callers see only their buildings).
fn visible(caller: &Caller, body: &LiveBody) -> bool {
    match body {
        LiveBody::Device { building, .. } => building_visible(caller, building.as_ref()),
        LiveBody::Building { building, .. } | LiveBody::Money { building, .. } => building_visible(caller, Some(building)),
        LiveBody::MoneyDetail(view) => building_visible(caller, Some(&view.building)),
        LiveBody::Alarm { alarm } => building_visible(caller, alarm.building.as_ref()),
    }
}

/// Which events a socket carries.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Feed {
    /// The wall: everything, after a wall snapshot.
    Wall,
    /// The money screens: every building's money first, then each building's money in full
    /// whenever it changes; the screen folds them (`MoneyState`), it never asks again.
    Money,
}

impl Feed {
    fn carries(self, body: &LiveBody) -> bool {
        match self {
            Feed::Wall => !matches!(body, LiveBody::MoneyDetail(_)),
            Feed::Money => matches!(body, LiveBody::MoneyDetail(_)),
        }
    }
}

async fn stream(mut socket: WebSocket, app: Arc<App>, community: String, mut caller: Caller, feed: Feed) {
    let clients = app.metrics.gauge("hutong_ws_clients", &[]);
    clients.fetch_add(1, Ordering::Relaxed);
    let mut bus = app.hub.subscribe();
    if let Some(snapshot) = snapshot_message(&app, &caller, &community, feed) {
        if send(&mut socket, snapshot).await.is_err() {
            clients.fetch_sub(1, Ordering::Relaxed);
            return;
        }
    }
    let resync = serde_json::to_string(&ServerMessage::Resync).unwrap_or_default();
    let mut session_check = tokio::time::interval(std::time::Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = app.shutdown.cancelled() => break,
            _ = session_check.tick() => {
                // The caller as they are now: a closed session or account ends the socket, a role
                // or scope that no longer admits this feed closes it, a narrower scope re-filters
                // it from a fresh snapshot (review A5).
                let Some(now) = app.identity.principal_of_session(&caller.session, chrono::Utc::now()) else {
                    let _ = send(&mut socket, Message::Close(Some(CloseFrame { code: 4401, reason: "session ended".into() }))).await;
                    break;
                };
                if admits(&app, &now, caller.access, Some(&community)).is_err() {
                    let _ = send(&mut socket, Message::Close(Some(CloseFrame { code: 4403, reason: "access changed".into() }))).await;
                    break;
                }
                if now != caller.principal {
                    caller.principal = now;
                    let Some(snapshot) = snapshot_message(&app, &caller, &community, feed) else { break };
                    if send(&mut socket, Message::Text(resync.clone().into())).await.is_err() || send(&mut socket, snapshot).await.is_err() {
                        break;
                    }
                }
            }
            received = bus.recv() => match received {
                Ok(envelope) => {
                    if envelope.event.community.as_str() != community || !feed.carries(&envelope.event.body) || !visible(&caller, &envelope.event.body) {
                        continue;
                    }
                    if send(&mut socket, Message::Text(envelope.json().into())).await.is_err() {
                        break;
                    }
                }
                Err(RecvError::Lagged(missed)) => {
                    app.metrics.inc("hutong_ws_resyncs_total", &[]);
                    tracing::debug!(missed, "slow WebSocket client; resync");
                    if send(&mut socket, Message::Text(resync.clone().into())).await.is_err() {
                        break;
                    }
                    let Some(snapshot) = snapshot_message(&app, &caller, &community, feed) else { break };
                    if send(&mut socket, snapshot).await.is_err() {
                        break;
                    }
                }
                Err(RecvError::Closed) => break,
            },
            incoming = socket.recv() => match incoming {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => break,
                Some(Ok(_)) => {}
            },
        }
    }
    clients.fetch_sub(1, Ordering::Relaxed);
}
