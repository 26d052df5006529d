//! `/ws?community=ID`: a screen's one WebSocket. It subscribes to the bus *before* it takes the
//! snapshot, sends the snapshot, then every event of that community. A client that falls too far
//! behind gets `{"type":"resync"}` followed by a fresh snapshot; it never slows an actor.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use hutong_core::live::ServerMessage;
use serde::Deserialize;
use tokio::sync::broadcast::error::RecvError;

use crate::api::ApiError;
use crate::server::App;

#[derive(Deserialize)]
pub struct WsQuery {
    community: String,
}

pub async fn upgrade(State(app): State<Arc<App>>, Query(q): Query<WsQuery>, ws: WebSocketUpgrade) -> Response {
    if !app.ready.load(Ordering::Acquire) {
        return ApiError::NotReady.into_response();
    }
    if app.hub.community(&q.community).is_none() {
        return ApiError::not_found("小区", "community", &q.community).into_response();
    }
    ws.on_upgrade(move |socket| stream(socket, app, q.community))
}

fn snapshot_message(app: &App, community: &str) -> Option<Message> {
    let snapshot = app.hub.wall_snapshot(community)?;
    serde_json::to_string(&ServerMessage::Snapshot(snapshot)).ok().map(|s| Message::Text(s.into()))
}

async fn stream(mut socket: WebSocket, app: Arc<App>, community: String) {
    let clients = app.metrics.gauge("hutong_ws_clients", &[]);
    clients.fetch_add(1, Ordering::Relaxed);
    let mut bus = app.hub.subscribe();
    if let Some(snapshot) = snapshot_message(&app, &community) {
        if socket.send(snapshot).await.is_err() {
            clients.fetch_sub(1, Ordering::Relaxed);
            return;
        }
    }
    let resync = serde_json::to_string(&ServerMessage::Resync).unwrap_or_default();
    loop {
        tokio::select! {
            _ = app.shutdown.cancelled() => break,
            received = bus.recv() => match received {
                Ok(envelope) => {
                    if envelope.event.community.as_str() != community {
                        continue;
                    }
                    if socket.send(Message::Text(envelope.json().into())).await.is_err() {
                        break;
                    }
                }
                Err(RecvError::Lagged(missed)) => {
                    app.metrics.inc("hutong_ws_resyncs_total", &[]);
                    tracing::debug!(missed, "slow WebSocket client; resync");
                    if socket.send(Message::Text(resync.clone().into())).await.is_err() {
                        break;
                    }
                    let Some(snapshot) = snapshot_message(&app, &community) else { break };
                    if socket.send(snapshot).await.is_err() {
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
