//! REST under `/api/v1/`, health, metrics and the OpenAPI document. Handlers read the hub's read
//! model; a refusal becomes a 4xx with a message in Chinese and English, anything else an opaque
//! 500 that is logged.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::http::Method;
use axum::routing::{MethodRouter, get, patch, post, put};
use axum::{Extension, Json, Router};
use hutong_core::community::HouseAddress;
use hutong_core::identity::{Module, Permission};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tower_http::services::{ServeDir, ServeFile};

use axum::extract::DefaultBodyLimit;

use crate::auth::{self, Caller};
use crate::billing;

/// The largest upload an import takes; the spreadsheet reader has its own limits inside.
pub const UPLOAD_LIMIT: usize = 64 << 20;
use crate::server::App;
use crate::staff;

/// Who may call a route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Anyone (health, metrics, sign-in).
    Public,
    /// Any signed-in caller.
    SignedIn,
    /// A signed-in caller holding the permission (if any), for something in their company or,
    /// with `Where::Community`, in a community they may see.
    Allowed(Option<Permission>, Where),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Where {
    Company,
    Community,
}

/// One route and the access it needs. The router is built from this table, so a route cannot
/// exist without a declared access — and the access-matrix test walks the same table.
pub struct RouteSpec {
    pub method: Method,
    pub path: &'static str,
    pub access: Access,
}

const fn route(method: Method, path: &'static str, access: Access) -> RouteSpec {
    RouteSpec { method, path, access }
}

const DEVICES_READ: Option<Permission> = Some(Permission::Read(Module::Devices));
const SETTINGS_READ: Option<Permission> = Some(Permission::Read(Module::Settings));
const SETTINGS_WRITE: Option<Permission> = Some(Permission::Write(Module::Settings));
const BILLING_READ: Option<Permission> = Some(Permission::Read(Module::Billing));
const BILLING_WRITE: Option<Permission> = Some(Permission::Write(Module::Billing));
const COLLECTION_READ: Option<Permission> = Some(Permission::Read(Module::Collection));
const COLLECTION_WRITE: Option<Permission> = Some(Permission::Write(Module::Collection));

const fn community_route(method: Method, path: &'static str, permission: Option<Permission>) -> RouteSpec {
    route(method, path, Access::Allowed(permission, Where::Community))
}

pub const ROUTES: &[RouteSpec] = &[
    route(Method::GET, "/healthz", Access::Public),
    route(Method::GET, "/metrics", Access::Public),
    route(Method::GET, "/api/openapi.json", Access::Public),
    route(Method::POST, "/api/v1/auth/login", Access::Public),
    route(Method::POST, "/api/v1/auth/owner/code", Access::Public),
    route(Method::POST, "/api/v1/auth/owner/login", Access::Public),
    route(Method::POST, "/api/v1/auth/logout", Access::SignedIn),
    route(Method::GET, "/api/v1/me", Access::SignedIn),
    route(Method::PATCH, "/api/v1/me", Access::SignedIn),
    route(Method::GET, "/api/v1/communities", Access::SignedIn),
    route(Method::GET, "/api/v1/communities/{community}", Access::Allowed(None, Where::Community)),
    route(Method::GET, "/api/v1/communities/{community}/houses", Access::Allowed(None, Where::Community)),
    route(Method::GET, "/api/v1/communities/{community}/devices", Access::Allowed(DEVICES_READ, Where::Community)),
    route(Method::GET, "/api/v1/communities/{community}/devices/{device}", Access::Allowed(DEVICES_READ, Where::Community)),
    route(
        Method::GET,
        "/api/v1/communities/{community}/devices/{device}/key",
        Access::Allowed(Some(Permission::Write(Module::Devices)), Where::Community),
    ),
    route(Method::GET, "/api/v1/communities/{community}/wall", Access::Allowed(DEVICES_READ, Where::Community)),
    route(Method::GET, "/api/v1/org", Access::Allowed(SETTINGS_READ, Where::Company)),
    route(Method::GET, "/api/v1/staff", Access::Allowed(SETTINGS_READ, Where::Company)),
    route(Method::POST, "/api/v1/staff", Access::Allowed(SETTINGS_WRITE, Where::Company)),
    route(Method::PUT, "/api/v1/staff/{staff}/roles", Access::Allowed(SETTINGS_WRITE, Where::Company)),
    route(Method::POST, "/api/v1/staff/{staff}/disable", Access::Allowed(SETTINGS_WRITE, Where::Company)),
    route(Method::GET, "/api/v1/staff/{staff}/phone", Access::Allowed(Some(Permission::UnmaskPersonalData), Where::Company)),
    route(Method::GET, "/api/v1/roles", Access::Allowed(SETTINGS_READ, Where::Company)),
    route(Method::POST, "/api/v1/roles", Access::Allowed(SETTINGS_WRITE, Where::Company)),
    route(Method::GET, "/api/v1/audit", Access::Allowed(SETTINGS_READ, Where::Company)),
    route(Method::GET, "/ws", Access::Allowed(DEVICES_READ, Where::Community)),
    route(Method::GET, "/ws/money", Access::Allowed(COLLECTION_READ, Where::Community)),
    community_route(Method::GET, "/api/v1/communities/{community}/tariff", BILLING_READ),
    community_route(Method::PUT, "/api/v1/communities/{community}/tariff", BILLING_WRITE),
    community_route(Method::GET, "/api/v1/communities/{community}/bills", BILLING_READ),
    community_route(Method::GET, "/api/v1/communities/{community}/bills/export", BILLING_READ),
    community_route(Method::GET, "/api/v1/communities/{community}/bills/template", BILLING_READ),
    community_route(Method::POST, "/api/v1/communities/{community}/bills/import", BILLING_WRITE),
    community_route(Method::POST, "/api/v1/communities/{community}/bills/batch", COLLECTION_WRITE),
    community_route(Method::GET, "/api/v1/communities/{community}/bills/{bill}", BILLING_READ),
    community_route(Method::POST, "/api/v1/communities/{community}/bills/{bill}/edit", BILLING_WRITE),
    community_route(Method::POST, "/api/v1/communities/{community}/bills/{bill}/delete", BILLING_WRITE),
    community_route(Method::POST, "/api/v1/communities/{community}/bills/{bill}/void", BILLING_WRITE),
    community_route(Method::POST, "/api/v1/communities/{community}/bill-runs", BILLING_WRITE),
    community_route(Method::POST, "/api/v1/communities/{community}/payments", COLLECTION_WRITE),
    community_route(Method::GET, "/api/v1/communities/{community}/payments/{payment}/receipt", COLLECTION_READ),
    community_route(Method::POST, "/api/v1/communities/{community}/reminders", COLLECTION_WRITE),
    community_route(Method::GET, "/api/v1/communities/{community}/notifications", COLLECTION_READ),
    community_route(Method::GET, "/api/v1/communities/{community}/money", COLLECTION_READ),
    community_route(Method::GET, "/api/v1/communities/{community}/house-records", BILLING_READ),
    community_route(Method::POST, "/api/v1/communities/{community}/house-records/import", BILLING_WRITE),
];

pub const OPENAPI: &str = include_str!("../openapi.json");

fn handler(spec: &RouteSpec) -> MethodRouter<Arc<App>> {
    let h = match spec.path {
        "/healthz" => get(healthz),
        "/metrics" => get(metrics),
        "/api/openapi.json" => get(openapi),
        "/api/v1/auth/login" => post(auth::login),
        "/api/v1/auth/owner/code" => post(auth::owner_code),
        "/api/v1/auth/owner/login" => post(auth::owner_login),
        "/api/v1/auth/logout" => post(auth::logout),
        "/api/v1/me" if spec.method == Method::GET => get(auth::me),
        "/api/v1/me" => patch(staff::update_me),
        "/api/v1/communities" => get(communities),
        "/api/v1/communities/{community}" => get(community),
        "/api/v1/communities/{community}/houses" => get(house_by_address),
        "/api/v1/communities/{community}/devices" => get(devices),
        "/api/v1/communities/{community}/devices/{device}" => get(device),
        "/api/v1/communities/{community}/devices/{device}/key" => get(staff::device_key),
        "/api/v1/communities/{community}/wall" => get(wall),
        "/api/v1/org" => get(staff::organisation),
        "/api/v1/staff" if spec.method == Method::GET => get(staff::list),
        "/api/v1/staff" => post(staff::create),
        "/api/v1/staff/{staff}/roles" => put(staff::set_roles),
        "/api/v1/staff/{staff}/disable" => post(staff::disable),
        "/api/v1/staff/{staff}/phone" => get(staff::unmask_phone),
        "/api/v1/roles" if spec.method == Method::GET => get(staff::roles),
        "/api/v1/roles" => post(staff::define_role),
        "/api/v1/audit" => get(staff::audit_log),
        "/ws" => get(crate::ws::upgrade),
        "/ws/money" => get(crate::ws::upgrade_money),
        "/api/v1/communities/{community}/tariff" if spec.method == Method::GET => get(billing::tariff::get),
        "/api/v1/communities/{community}/tariff" => put(billing::tariff::put),
        "/api/v1/communities/{community}/bills" => get(billing::desk::list),
        "/api/v1/communities/{community}/bills/export" => get(billing::desk::export),
        "/api/v1/communities/{community}/bills/template" => get(billing::desk::template_file),
        "/api/v1/communities/{community}/bills/import" => post(billing::desk::import).layer(DefaultBodyLimit::max(UPLOAD_LIMIT)),
        "/api/v1/communities/{community}/bills/batch" => post(billing::desk::batch),
        "/api/v1/communities/{community}/bills/{bill}" => get(billing::desk::detail),
        "/api/v1/communities/{community}/bills/{bill}/edit" => post(billing::desk::edit),
        "/api/v1/communities/{community}/bills/{bill}/delete" => post(billing::desk::delete),
        "/api/v1/communities/{community}/bills/{bill}/void" => post(billing::desk::void),
        "/api/v1/communities/{community}/bill-runs" => post(billing::desk::run),
        "/api/v1/communities/{community}/payments" => post(billing::pay::pay),
        "/api/v1/communities/{community}/payments/{payment}/receipt" => get(billing::pay::receipt),
        "/api/v1/communities/{community}/reminders" => post(billing::pay::remind),
        "/api/v1/communities/{community}/notifications" => get(billing::pay::notifications),
        "/api/v1/communities/{community}/money" => get(billing::money::summary),
        "/api/v1/communities/{community}/house-records" => get(billing::houses::list),
        "/api/v1/communities/{community}/house-records/import" => post(billing::houses::import).layer(DefaultBodyLimit::max(UPLOAD_LIMIT)),
        other => panic!("route {other} is declared in ROUTES but has no handler"),
    };
    debug_assert!(matches!(spec.method, Method::GET | Method::POST | Method::PUT | Method::PATCH));
    h
}

pub fn router(app: Arc<App>) -> Router {
    let assets = app.assets.clone();
    let mut router: Router<Arc<App>> = Router::new();
    let mut paths: Vec<&str> = ROUTES.iter().map(|r| r.path).collect();
    paths.dedup();
    for path in paths {
        let mut methods: MethodRouter<Arc<App>> = MethodRouter::new();
        for spec in ROUTES.iter().filter(|r| r.path == path) {
            methods = methods.merge(handler(spec));
        }
        router = router.route(path, methods);
    }
    let router = router.route_layer(axum::middleware::from_fn_with_state(app.clone(), auth::authorize)).with_state(app);
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
    #[error("请先登录 / sign in first")]
    Unauthenticated,
    #[error("没有权限（需要 {0}）/ not allowed: needs {0}")]
    Forbidden(Permission),
    #[error("业主账号不能访问员工功能 / owners cannot use staff functions")]
    NotStaff,
    #[error("内部错误 / internal error")]
    Internal(String),
}

impl ApiError {
    pub fn bad(zh: &str, en: &str) -> Self {
        ApiError::BadRequest { zh: zh.to_string(), en: en.to_string() }
    }

    /// A request body that is not the expected JSON — including fields it may not set.
    pub fn body(e: axum::extract::rejection::JsonRejection) -> Self {
        ApiError::BadRequest { zh: "请求内容无效或含有不允许的字段".into(), en: format!("invalid request body: {}", e.body_text()) }
    }

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
            ApiError::Unauthenticated => (StatusCode::UNAUTHORIZED, "unauthenticated"),
            ApiError::Forbidden(_) | ApiError::NotStaff => (StatusCode::FORBIDDEN, "forbidden"),
            ApiError::Internal(detail) => {
                tracing::error!(%detail, "request failed");
                (StatusCode::INTERNAL_SERVER_ERROR, "internal")
            }
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

async fn communities(State(app): State<Arc<App>>, Extension(caller): Extension<Caller>) -> Result<Json<Vec<CommunitySummary>>, ApiError> {
    ready(&app)?;
    let p = &caller.principal;
    Ok(Json(
        app.hub
            .communities()
            .iter()
            .filter(|c| p.scope.communities.contains(&c.id) && app.identity.org().company_of(c.id.as_str()) == Some(&p.company))
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

/// Whether a device or tile in `building` is within a building-scoped caller's reach.
pub fn building_visible(caller: &Caller, building: Option<&hutong_core::BuildingId>) -> bool {
    let b = &caller.principal.scope.buildings;
    b.is_empty() || building.is_some_and(|id| b.contains(id))
}

async fn devices(State(app): State<Arc<App>>, Extension(caller): Extension<Caller>, Path(id): Path<String>) -> Result<Response, ApiError> {
    find_community(&app, &id)?;
    let all = app.hub.devices(&id).unwrap_or_default();
    let visible: Vec<_> = all.into_iter().filter(|d| building_visible(&caller, d.building.as_ref())).collect();
    Ok(Json(visible).into_response())
}

async fn device(State(app): State<Arc<App>>, Extension(caller): Extension<Caller>, Path((id, device)): Path<(String, String)>) -> Result<Response, ApiError> {
    find_community(&app, &id)?;
    let view = app
        .hub
        .device(&id, &device)
        .filter(|d| building_visible(&caller, d.building.as_ref()))
        .ok_or_else(|| ApiError::not_found("设备", "device", &device))?;
    Ok(Json(view).into_response())
}

/// The wall as this caller may see it: a butler sees only their buildings' tiles and alarms.
pub fn scoped_wall(app: &App, caller: &Caller, community: &str) -> Option<hutong_core::live::WallSnapshot> {
    let mut snapshot = app.hub.wall_snapshot(community)?;
    snapshot.buildings.retain(|t| building_visible(caller, Some(&t.id)));
    snapshot.alarms.retain(|a| building_visible(caller, a.building.as_ref()));
    if !caller.principal.scope.buildings.is_empty() {
        let devices = app.hub.devices(community).unwrap_or_default();
        let mine: std::collections::HashSet<_> = devices.iter().filter(|d| building_visible(caller, d.building.as_ref())).map(|d| d.id.clone()).collect();
        snapshot.readings.retain(|r| mine.contains(&r.device));
        snapshot.devices_total = mine.len() as u32;
        snapshot.devices_offline = devices.iter().filter(|d| mine.contains(&d.id) && d.health == hutong_core::device::DeviceHealth::Offline).count() as u32;
    }
    Some(snapshot)
}

async fn wall(State(app): State<Arc<App>>, Extension(caller): Extension<Caller>, Path(id): Path<String>) -> Result<Response, ApiError> {
    find_community(&app, &id)?;
    let snapshot = scoped_wall(&app, &caller, &id).ok_or_else(|| ApiError::not_found("小区", "community", &id))?;
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
        let mut routes: Vec<&str> = ROUTES.iter().map(|r| r.path).collect();
        routes.sort();
        routes.dedup();
        assert_eq!(documented, routes);
        assert_eq!(doc["openapi"].as_str().unwrap().chars().next(), Some('3'));
    }
}
