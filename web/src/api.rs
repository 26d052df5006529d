//! The community, device and wall reads, health, metrics and the OpenAPI document. Handlers read
//! the hub's read model, filtered by the caller's scope.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use hutong_core::community::HouseAddress;
use serde::Deserialize;

use hutong_core::api::{CommunitySummary, Health, HouseAt};

use crate::app::App;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::scope::{building_visible, scoped_wall};

pub async fn healthz(State(app): State<Arc<App>>) -> Response {
    let quarantined = hutong_actors::quarantine::poisoned().len();
    let actors_down = app.metrics.total("hutong_actor_gave_up_total");
    let health = |status: &str| Health { status: status.into(), quarantined, actors_down };
    if app.journal.failure().is_some() {
        // Fail-stop: the journal refused a write and takes no more; an orchestrator restarts us.
        return (StatusCode::SERVICE_UNAVAILABLE, Json(health("failed"))).into_response();
    }
    if !app.ready.load(Ordering::Acquire) {
        return (StatusCode::SERVICE_UNAVAILABLE, Json(health("recovering"))).into_response();
    }
    // Still serving (200), but not whole: an operator should look (review R3).
    let status = if quarantined > 0 || actors_down > 0 { "degraded" } else { "ready" };
    Json(health(status)).into_response()
}

/// `/metrics` carries business figures (payments by channel), so it is not for everyone (review
/// L5): with `HUTONG_METRICS_TOKEN` set, a scraper shows it as a bearer token; without one, only
/// this machine may read it.
fn may_scrape(app: &App, peer: std::net::SocketAddr, headers: &axum::http::HeaderMap) -> bool {
    use sha2::{Digest, Sha256};
    match &app.metrics_token {
        Some(token) => headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            // Compared as digests: equal lengths, so the comparison's time tells nothing useful.
            .is_some_and(|given| Sha256::digest(given.trim().as_bytes()) == Sha256::digest(token.as_bytes())),
        None => peer.ip().is_loopback(),
    }
}

pub async fn metrics(
    State(app): State<Arc<App>>,
    axum::extract::ConnectInfo(crate::tls::Peer(peer)): axum::extract::ConnectInfo<crate::tls::Peer>,
    headers: axum::http::HeaderMap,
) -> Response {
    if !may_scrape(&app, peer, &headers) {
        return ApiError::Unauthenticated.into_response();
    }
    let ready = i64::from(app.ready.load(Ordering::Acquire) && app.journal.failure().is_none());
    app.metrics.gauge("hutong_journal_failed", &[]).store(i64::from(app.journal.failure().is_some()), Ordering::Relaxed);
    app.metrics.gauge("hutong_ready", &[]).store(ready, Ordering::Relaxed);
    let poisoned = hutong_actors::quarantine::poisoned();
    app.metrics.gauge("hutong_quarantined_streams", &[]).store(poisoned.len() as i64, Ordering::Relaxed);
    for p in &poisoned {
        app.metrics.gauge("hutong_stream_quarantined_at", &[("stream", &p.stream)]).store(p.seq as i64, Ordering::Relaxed);
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], app.metrics.render()).into_response()
}



pub async fn communities(State(app): State<Arc<App>>, Extension(caller): Extension<Caller>) -> Result<Json<Vec<CommunitySummary>>, ApiError> {
    app.ready()?;
    let p = &caller.principal;
    Ok(Json(
        app.hub
            .communities()
            .iter()
            .filter(|c| p.scope.communities.contains(&c.id) && app.identity.org().company_of(c.id.as_str()) == Some(&p.company))
            .map(|c| CommunitySummary {
                id: c.id.clone(),
                name: c.name.clone(),
                time_zone: c.time_zone.clone(),
                buildings: c.buildings.len(),
                houses: c.house_count(),
            })
            .collect(),
    ))
}

/// The community tree, cut to the caller's buildings (review A3).
pub async fn community(State(app): State<Arc<App>>, Extension(caller): Extension<Caller>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let c = app.community(&id)?;
    if caller.principal.scope.buildings.is_empty() {
        return Ok(Json(&*c).into_response());
    }
    let mut mine = (*c).clone();
    mine.buildings.retain(|b| building_visible(&caller, Some(&b.id)));
    Ok(Json(mine).into_response())
}

#[derive(Deserialize)]
pub struct AddressQuery {
    address: String,
}

/// A house by its address; outside a butler's buildings it does not exist (review A3).
pub async fn house_by_address(State(app): State<Arc<App>>, Extension(caller): Extension<Caller>, Path(id): Path<String>, Query(q): Query<AddressQuery>) -> Result<Response, ApiError> {
    let c = app.community(&id)?;
    let address: HouseAddress = q.address.parse().map_err(|e: hutong_core::community::AddressError| {
        let (zh, en) = ApiError::bilingual(&e);
        ApiError::BadRequest { zh, en }
    })?;
    let (building, house) =
        c.find_house(&address).filter(|(b, _)| building_visible(&caller, Some(&b.id))).ok_or_else(|| ApiError::not_found("房屋", "house", &q.address))?;
    let full = c.address_of(&house.id).unwrap_or(address);
    Ok(Json(HouseAt {
        id: house.id.clone(),
        building: building.id.clone(),
        room: house.room.clone(),
        area: house.area,
        address: full.dash_form(),
        address_path: full.slash_form(),
    })
    .into_response())
}

pub async fn devices(State(app): State<Arc<App>>, Extension(caller): Extension<Caller>, Path(id): Path<String>) -> Result<Response, ApiError> {
    app.community(&id)?;
    let all = app.hub.devices(&id).unwrap_or_default();
    let visible: Vec<_> = all.into_iter().filter(|d| building_visible(&caller, d.building.as_ref())).collect();
    Ok(Json(visible).into_response())
}

pub async fn device(State(app): State<Arc<App>>, Extension(caller): Extension<Caller>, Path((id, device)): Path<(String, String)>) -> Result<Response, ApiError> {
    app.community(&id)?;
    let view = app
        .hub
        .device(&id, &device)
        .filter(|d| building_visible(&caller, d.building.as_ref()))
        .ok_or_else(|| ApiError::not_found("设备", "device", &device))?;
    Ok(Json(view).into_response())
}

pub async fn wall(State(app): State<Arc<App>>, Extension(caller): Extension<Caller>, Path(id): Path<String>) -> Result<Response, ApiError> {
    app.community(&id)?;
    let snapshot = scoped_wall(&app, &caller, &id).ok_or_else(|| ApiError::not_found("小区", "community", &id))?;
    Ok(Json(snapshot).into_response())
}

