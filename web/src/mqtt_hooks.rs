//! The external broker's questions to Hutong (at scale, `--mqtt-url` with EMQX): its HTTP
//! authentication hook asks who may connect, its HTTP authorization hook which topic a client
//! may publish on or subscribe to. The answers follow the rules of Hutong's own endpoint — a
//! device as `{community}/{device}` with its own current key, publishing on its own topics and
//! subscribing to its own command topic; Hutong's nodes as the service user — so a rotated or
//! revoked key is refused by the broker too. The hooks answer only the broker: they are off
//! unless `HUTONG_MQTT_HOOK_TOKEN` is set, and then ask for it as a bearer token.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use hutong_device_bridge::codec::INGEST_CLIENT_PREFIX;
use hutong_device_bridge::keys::Principal;
use serde::{Deserialize, Serialize};

use crate::app::App;
use crate::error::{ApiError, ApiJson};

/// EMQX's authentication request (configure its body as these three placeholders).
#[derive(Deserialize, utoipa::ToSchema)]
pub struct AuthQuestion {
    pub clientid: String,
    pub username: String,
    pub password: String,
}

/// EMQX's authorization request.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct AclQuestion {
    pub clientid: String,
    pub username: String,
    pub topic: String,
    /// `publish` or `subscribe`.
    pub action: String,
}

/// `allow` or `deny`, as EMQX reads it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct HookAnswer {
    pub result: &'static str,
    pub is_superuser: bool,
}

fn answer(allowed: bool) -> Json<HookAnswer> {
    Json(HookAnswer { result: if allowed { "allow" } else { "deny" }, is_superuser: false })
}

/// Only the broker, with the configured token; without one the hooks do not exist.
fn broker_only(app: &App, headers: &HeaderMap) -> Result<(), ApiError> {
    use sha2::{Digest, Sha256};
    let Some(token) = &app.mqtt_hook_token else {
        return Err(ApiError::not_found("接口", "route", "/api/v1/mqtt"));
    };
    let given = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    // Compared as digests: equal lengths, so the comparison's time tells nothing useful.
    given.is_some_and(|g| Sha256::digest(g.trim().as_bytes()) == Sha256::digest(token.as_bytes())).then_some(()).ok_or(ApiError::Unauthenticated)
}

/// Who the client is, if its credentials are good; Hutong's own client ids are the service's alone.
fn principal(app: &App, clientid: &str, username: &str, password: &str) -> Option<Principal> {
    let principal = app.keyring.authenticate(username, password).ok()?;
    let reserved = clientid.starts_with(INGEST_CLIENT_PREFIX) && principal != Principal::Service;
    (!reserved).then_some(principal)
}

pub async fn authenticate(State(app): State<Arc<App>>, headers: HeaderMap, ApiJson(q): ApiJson<AuthQuestion>) -> Result<Json<HookAnswer>, ApiError> {
    broker_only(&app, &headers)?;
    let who = principal(&app, &q.clientid, &q.username, &q.password);
    if who.is_none() {
        app.metrics.inc("hutong_mqtt_connections_refused_total", &[("reason", "bad_credentials")]);
    }
    Ok(answer(who.is_some()))
}

/// Authorization needs no password: the broker asks it of a client it already authenticated. A
/// user name that is not a known principal is denied.
pub async fn authorize(State(app): State<Arc<App>>, headers: HeaderMap, ApiJson(q): ApiJson<AclQuestion>) -> Result<Json<HookAnswer>, ApiError> {
    broker_only(&app, &headers)?;
    let principal = match q.username.split_once('/') {
        _ if q.username == hutong_device_bridge::codec::SERVICE_USER => Some(Principal::Service),
        Some((community, device)) => Some(Principal::Device { community: community.into(), device: device.into() }),
        None => None,
    };
    let reserved = q.clientid.starts_with(INGEST_CLIENT_PREFIX) && principal != Some(Principal::Service);
    let allowed = !reserved
        && principal.is_some_and(|p| match q.action.as_str() {
            "publish" => p.may_publish(&q.topic),
            "subscribe" => p.may_subscribe(&q.topic),
            _ => false,
        });
    if !allowed {
        app.metrics.inc("hutong_mqtt_rejected_total", &[("reason", "forbidden")]);
    }
    Ok(answer(allowed))
}
