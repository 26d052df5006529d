//! REST under `/api/v1/`, health, metrics and the OpenAPI document. Handlers read the hub's read
//! model; a refusal becomes a 4xx with a message in Chinese and English, anything else an opaque
//! 500 that is logged.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use hutong_core::community::HouseAddress;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tower_http::services::{ServeDir, ServeFile};

use crate::server::App;

/// Every API path, as the OpenAPI document lists it; a test keeps the two in step.
pub const API_PATHS: &[&str] = &[
    "/healthz",
    "/metrics",
    "/api/openapi.json",
    "/api/v1/communities",
    "/api/v1/communities/{community}",
    "/api/v1/communities/{community}/houses",
    "/api/v1/communities/{community}/devices",
    "/api/v1/communities/{community}/devices/{device}",
    "/api/v1/communities/{community}/wall",
    "/ws",
];

pub const OPENAPI: &str = include_str!("../openapi.json");

pub fn router(app: Arc<App>) -> Router {
    let assets = app.assets.clone();
    let router = Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/api/openapi.json", get(openapi))
        .route("/api/v1/communities", get(communities))
        .route("/api/v1/communities/{community}", get(community))
        .route("/api/v1/communities/{community}/houses", get(house_by_address))
        .route("/api/v1/communities/{community}/devices", get(devices))
        .route("/api/v1/communities/{community}/devices/{device}", get(device))
        .route("/api/v1/communities/{community}/wall", get(wall))
        .route("/ws", get(crate::ws::upgrade))
        .with_state(app);
    if assets.join("index.html").is_file() {
        router.fallback_service(ServeDir::new(&assets).fallback(ServeFile::new(assets.join("index.html"))))
    } else {
        router.fallback(not_built)
    }
}

/// A refusal the caller can act on, or an internal failure they cannot.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{zh} / {en}")]
    NotFound { zh: String, en: String },
    #[error("{zh} / {en}")]
    BadRequest { zh: String, en: String },
    #[error("服务尚未就绪 / the server is still recovering")]
    NotReady,
}

impl ApiError {
    pub fn not_found(what_zh: &str, what_en: &str, id: &str) -> Self {
        ApiError::NotFound { zh: format!("找不到{what_zh} {id}"), en: format!("no {what_en} {id}") }
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    code: &'a str,
    message: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = match &self {
            ApiError::NotFound { .. } => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::BadRequest { .. } => (StatusCode::BAD_REQUEST, "bad_request"),
            ApiError::NotReady => (StatusCode::SERVICE_UNAVAILABLE, "not_ready"),
        };
        (status, Json(json!({ "error": ErrorBody { code, message: self.to_string() } }))).into_response()
    }
}

async fn healthz(State(app): State<Arc<App>>) -> Response {
    if app.ready.load(Ordering::Acquire) {
        Json(json!({"status": "ready"})).into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, Json(json!({"status": "recovering"}))).into_response()
    }
}

async fn metrics(State(app): State<Arc<App>>) -> Response {
    let ready = i64::from(app.ready.load(Ordering::Acquire));
    app.metrics.gauge("hutong_ready", &[]).store(ready, Ordering::Relaxed);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], app.metrics.render()).into_response()
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

fn ready(app: &App) -> Result<(), ApiError> {
    if app.ready.load(Ordering::Acquire) { Ok(()) } else { Err(ApiError::NotReady) }
}

#[derive(Serialize)]
struct CommunitySummary {
    id: String,
    name: String,
    time_zone: String,
    buildings: usize,
    houses: usize,
}

async fn communities(State(app): State<Arc<App>>) -> Result<Json<Vec<CommunitySummary>>, ApiError> {
    ready(&app)?;
    Ok(Json(
        app.hub
            .communities()
            .iter()
            .map(|c| CommunitySummary {
                id: c.id.to_string(),
                name: c.name.clone(),
                time_zone: c.time_zone.clone(),
                buildings: c.buildings.len(),
                houses: c.house_count(),
            })
            .collect(),
    ))
}

fn find_community(app: &App, id: &str) -> Result<Arc<hutong_core::community::Community>, ApiError> {
    ready(app)?;
    app.hub.community(id).ok_or_else(|| ApiError::not_found("小区", "community", id))
}

async fn community(State(app): State<Arc<App>>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let c = find_community(&app, &id)?;
    Ok(Json(&*c).into_response())
}

#[derive(Deserialize)]
struct AddressQuery {
    address: String,
}

async fn house_by_address(State(app): State<Arc<App>>, Path(id): Path<String>, Query(q): Query<AddressQuery>) -> Result<Response, ApiError> {
    let c = find_community(&app, &id)?;
    let address: HouseAddress = q.address.parse().map_err(|e: hutong_core::community::AddressError| {
        let text = e.to_string();
        let (zh, en) = text.split_once(" / ").map_or((text.clone(), text.clone()), |(a, b)| (a.to_string(), b.to_string()));
        ApiError::BadRequest { zh, en }
    })?;
    let (building, house) = c.find_house(&address).ok_or_else(|| ApiError::not_found("房屋", "house", &q.address))?;
    let full = c.address_of(&house.id).unwrap_or(address);
    Ok(Json(json!({
        "id": house.id,
        "building": building.id,
        "room": house.room,
        "area": house.area,
        "address": full.dash_form(),
        "address_path": full.slash_form(),
    }))
    .into_response())
}

async fn devices(State(app): State<Arc<App>>, Path(id): Path<String>) -> Result<Response, ApiError> {
    find_community(&app, &id)?;
    Ok(Json(app.hub.devices(&id).unwrap_or_default()).into_response())
}

async fn device(State(app): State<Arc<App>>, Path((id, device)): Path<(String, String)>) -> Result<Response, ApiError> {
    find_community(&app, &id)?;
    let view = app.hub.device(&id, &device).ok_or_else(|| ApiError::not_found("设备", "device", &device))?;
    Ok(Json(view).into_response())
}

async fn wall(State(app): State<Arc<App>>, Path(id): Path<String>) -> Result<Response, ApiError> {
    find_community(&app, &id)?;
    let snapshot = app.hub.wall_snapshot(&id).ok_or_else(|| ApiError::not_found("小区", "community", &id))?;
    Ok(Json(snapshot).into_response())
}

async fn not_built() -> Response {
    (
        StatusCode::NOT_FOUND,
        Html(
            "<!doctype html><meta charset=utf-8><title>Hutong</title>\
             <p>大屏尚未构建。请运行 <code>cargo xtask demo</code>。</p>\
             <p>The dashboards are not built: run <code>cargo xtask demo</code>. The API is at <a href=/api/openapi.json>/api/openapi.json</a>.</p>",
        ),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_openapi_document_lists_exactly_the_routes() {
        let doc: serde_json::Value = serde_json::from_str(OPENAPI).unwrap();
        let mut documented: Vec<&str> = doc["paths"].as_object().unwrap().keys().map(String::as_str).collect();
        documented.sort();
        let mut routes = API_PATHS.to_vec();
        routes.sort();
        assert_eq!(documented, routes);
        assert_eq!(doc["openapi"].as_str().unwrap().chars().next(), Some('3'));
    }
}
