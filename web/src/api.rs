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

/// One route: method, path, the access it needs and its handler. The router is built from this
/// table and each route carries its own access into the authorisation layer, so a route cannot
/// exist without a declared access — and the access-matrix test walks the same table.
pub struct RouteSpec {
    pub method: Method,
    pub path: &'static str,
    pub access: Access,
    pub handler: fn() -> MethodRouter<Arc<App>>,
}

const fn route(method: Method, path: &'static str, access: Access, handler: fn() -> MethodRouter<Arc<App>>) -> RouteSpec {
    RouteSpec { method, path, access, handler }
}

const DEVICES_READ: Option<Permission> = Some(Permission::Read(Module::Devices));
const SETTINGS_READ: Option<Permission> = Some(Permission::Read(Module::Settings));
const SETTINGS_WRITE: Option<Permission> = Some(Permission::Write(Module::Settings));
const BILLING_READ: Option<Permission> = Some(Permission::Read(Module::Billing));
const BILLING_WRITE: Option<Permission> = Some(Permission::Write(Module::Billing));
const COLLECTION_READ: Option<Permission> = Some(Permission::Read(Module::Collection));
const COLLECTION_WRITE: Option<Permission> = Some(Permission::Write(Module::Collection));

const fn community_route(method: Method, path: &'static str, permission: Option<Permission>, handler: fn() -> MethodRouter<Arc<App>>) -> RouteSpec {
    route(method, path, Access::Allowed(permission, Where::Community), handler)
}

pub const ROUTES: &[RouteSpec] = &[
    route(Method::GET, "/healthz", Access::Public, || get(healthz)),
    route(Method::GET, "/metrics", Access::Public, || get(metrics)),
    route(Method::GET, "/api/openapi.json", Access::Public, || get(openapi)),
    route(Method::POST, "/api/v1/auth/login", Access::Public, || post(auth::login)),
    route(Method::POST, "/api/v1/auth/owner/code", Access::Public, || post(auth::owner_code)),
    route(Method::POST, "/api/v1/auth/owner/login", Access::Public, || post(auth::owner_login)),
    route(Method::POST, "/api/v1/auth/logout", Access::SignedIn, || post(auth::logout)),
    route(Method::GET, "/api/v1/me", Access::SignedIn, || get(auth::me)),
    route(Method::PATCH, "/api/v1/me", Access::SignedIn, || patch(staff::update_me)),
    route(Method::GET, "/api/v1/communities", Access::SignedIn, || get(communities)),
    route(Method::GET, "/api/v1/communities/{community}", Access::Allowed(None, Where::Community), || get(community)),
    route(Method::GET, "/api/v1/communities/{community}/houses", Access::Allowed(None, Where::Community), || get(house_by_address)),
    route(Method::GET, "/api/v1/communities/{community}/devices", Access::Allowed(DEVICES_READ, Where::Community), || get(devices)),
    route(Method::GET, "/api/v1/communities/{community}/devices/{device}", Access::Allowed(DEVICES_READ, Where::Community), || get(device)),
    route(Method::GET, "/api/v1/communities/{community}/devices/{device}/key", Access::Allowed(Some(Permission::Write(Module::Devices)), Where::Community), || get(staff::device_key)),
    route(Method::GET, "/api/v1/communities/{community}/wall", Access::Allowed(DEVICES_READ, Where::Community), || get(wall)),
    route(Method::GET, "/api/v1/org", Access::Allowed(SETTINGS_READ, Where::Company), || get(staff::organisation)),
    route(Method::GET, "/api/v1/staff", Access::Allowed(SETTINGS_READ, Where::Company), || get(staff::list)),
    route(Method::POST, "/api/v1/staff", Access::Allowed(SETTINGS_WRITE, Where::Company), || post(staff::create)),
    route(Method::PUT, "/api/v1/staff/{staff}/roles", Access::Allowed(SETTINGS_WRITE, Where::Company), || put(staff::set_roles)),
    route(Method::POST, "/api/v1/staff/{staff}/disable", Access::Allowed(SETTINGS_WRITE, Where::Company), || post(staff::disable)),
    route(Method::GET, "/api/v1/staff/{staff}/phone", Access::Allowed(Some(Permission::UnmaskPersonalData), Where::Company), || get(staff::unmask_phone)),
    route(Method::GET, "/api/v1/roles", Access::Allowed(SETTINGS_READ, Where::Company), || get(staff::roles)),
    route(Method::POST, "/api/v1/roles", Access::Allowed(SETTINGS_WRITE, Where::Company), || post(staff::define_role)),
    route(Method::GET, "/api/v1/audit", Access::Allowed(SETTINGS_READ, Where::Company), || get(staff::audit_log)),
    route(Method::GET, "/ws", Access::Allowed(DEVICES_READ, Where::Community), || get(crate::ws::upgrade)),
    route(Method::GET, "/ws/money", Access::Allowed(COLLECTION_READ, Where::Community), || get(crate::ws::upgrade_money)),
    community_route(Method::GET, "/api/v1/communities/{community}/tariff", BILLING_READ, || get(billing::tariff::get)),
    community_route(Method::PUT, "/api/v1/communities/{community}/tariff", BILLING_WRITE, || put(billing::tariff::put)),
    community_route(Method::GET, "/api/v1/communities/{community}/bills", BILLING_READ, || get(billing::desk::list)),
    community_route(Method::GET, "/api/v1/communities/{community}/bills/export", BILLING_READ, || get(billing::desk::export)),
    community_route(Method::GET, "/api/v1/communities/{community}/bills/template", BILLING_READ, || get(billing::desk::template_file)),
    community_route(Method::POST, "/api/v1/communities/{community}/bills/import", BILLING_WRITE, || post(billing::desk::import).layer(DefaultBodyLimit::max(UPLOAD_LIMIT))),
    community_route(Method::POST, "/api/v1/communities/{community}/bills/batch", COLLECTION_WRITE, || post(billing::desk::batch)),
    community_route(Method::GET, "/api/v1/communities/{community}/bills/{bill}", BILLING_READ, || get(billing::desk::detail)),
    community_route(Method::POST, "/api/v1/communities/{community}/bills/{bill}/edit", BILLING_WRITE, || post(billing::desk::edit)),
    community_route(Method::POST, "/api/v1/communities/{community}/bills/{bill}/delete", BILLING_WRITE, || post(billing::desk::delete)),
    community_route(Method::POST, "/api/v1/communities/{community}/bills/{bill}/void", BILLING_WRITE, || post(billing::desk::void)),
    community_route(Method::POST, "/api/v1/communities/{community}/bill-runs", BILLING_WRITE, || post(billing::desk::run)),
    community_route(Method::POST, "/api/v1/communities/{community}/payments", COLLECTION_WRITE, || post(billing::pay::pay)),
    community_route(Method::GET, "/api/v1/communities/{community}/payments/{payment}/receipt", COLLECTION_READ, || get(billing::pay::receipt)),
    community_route(Method::POST, "/api/v1/communities/{community}/reminders", COLLECTION_WRITE, || post(billing::pay::remind)),
    community_route(Method::GET, "/api/v1/communities/{community}/notifications", COLLECTION_READ, || get(billing::pay::notifications)),
    community_route(Method::GET, "/api/v1/communities/{community}/money", COLLECTION_READ, || get(billing::money::summary)),
    community_route(Method::GET, "/api/v1/communities/{community}/house-records", BILLING_READ, || get(billing::houses::list)),
    community_route(Method::POST, "/api/v1/communities/{community}/house-records/import", BILLING_WRITE, || post(billing::houses::import).layer(DefaultBodyLimit::max(UPLOAD_LIMIT))),
];

pub const OPENAPI: &str = include_str!("../openapi.json");

pub fn router(app: Arc<App>) -> Router {
    let assets = app.assets.clone();
    let mut router: Router<Arc<App>> = Router::new();
    let mut paths: Vec<&str> = ROUTES.iter().map(|r| r.path).collect();
    paths.dedup();
    for path in paths {
        let mut methods: MethodRouter<Arc<App>> = MethodRouter::new();
        for spec in ROUTES.iter().filter(|r| r.path == path) {
            // The route's own access travels with it into `authorize`: no lookup by string.
            let guard = axum::middleware::from_fn_with_state(auth::Guard { app: app.clone(), route: spec }, auth::authorize);
            methods = methods.merge((spec.handler)().route_layer(guard));
        }
        router = router.route(path, methods);
    }
    let router = router.with_state(app);
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
    /// The request contradicts what is already there (a taken account, a reused key).
    #[error("{zh} / {en}")]
    Conflict { zh: String, en: String },
    #[error("服务尚未就绪 / the server is still recovering")]
    NotReady,
    /// Part of the server (a building) is not answering right now; the request changed nothing
    /// it can tell of, and may be retried.
    #[error("{zh} / {en}")]
    Unavailable { zh: String, en: String },
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

    /// A domain refusal whose message is `中文 / English` (the convention of `core`'s errors).
    pub fn bilingual(e: &impl std::fmt::Display) -> (String, String) {
        let text = e.to_string();
        match text.split_once(" / ") {
            Some((zh, en)) => (zh.to_string(), en.to_string()),
            None => (text.clone(), text),
        }
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
            ApiError::Conflict { .. } => (StatusCode::CONFLICT, "conflict"),
            ApiError::NotReady => (StatusCode::SERVICE_UNAVAILABLE, "not_ready"),
            ApiError::Unavailable { .. } => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
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

impl From<hutong_core::identity::OrgError> for ApiError {
    fn from(e: hutong_core::identity::OrgError) -> Self {
        use hutong_core::identity::OrgError::*;
        let (zh, en) = ApiError::bilingual(&e);
        match e {
            NoStaff(_) | NoCompany(_) => ApiError::NotFound { zh, en },
            AccountTaken | CommunityTaken(_) | CompanyExists(_) => ApiError::Conflict { zh, en },
            NotOurCommunity(_) | ShortPassword | NoRole(_) | BadRoleId => ApiError::BadRequest { zh, en },
        }
    }
}

impl<R: Into<ApiError>> From<hutong_actors::journaled::CommitError<R>> for ApiError {
    fn from(e: hutong_actors::journaled::CommitError<R>) -> Self {
        match e {
            hutong_actors::journaled::CommitError::Refused(r) => r.into(),
            hutong_actors::journaled::CommitError::Journal(j) => ApiError::Internal(j.to_string()),
        }
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
        let (zh, en) = ApiError::bilingual(&e);
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
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    /// Every declared route is routed (never the router's own 404/405), and every route that is
    /// not public refuses a caller without a session — in-process, no binary, no network.
    #[tokio::test]
    async fn every_declared_route_is_routed_and_guarded_by_its_own_access() {
        let app = App::in_memory().await.unwrap();
        let router = router(app);
        for route in ROUTES {
            let path = route.path.replace("{community}", "c1").replace("{staff}", "s1").replace("{device}", "d1").replace("{bill}", "b1").replace("{payment}", "p1");
            let request = Request::builder().method(route.method.clone()).uri(&path).header("content-type", "application/json").body(Body::from("{}")).unwrap();
            let status = router.clone().oneshot(request).await.unwrap().status();
            assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{} {path}", route.method);
            match route.access {
                Access::Public => assert_ne!(status, StatusCode::UNAUTHORIZED, "{} {path} is public", route.method),
                _ => assert_eq!(status, StatusCode::UNAUTHORIZED, "{} {path} needs a session", route.method),
            }
        }
    }

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
