//! The route table: every route once — method, path, the access it needs, its handler — and the
//! router built from it. Each route hands its own access to the authorisation layer (`auth`),
//! so a route cannot exist without one, and the access-matrix test walks this same table.

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::http::{Method, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{MethodRouter, get, patch, post, put};
use axum::Router;
use hutong_core::identity::{Module, Permission};
use tower_http::services::{ServeDir, ServeFile};

use crate::app::App;
use crate::auth::{self, Access, Guard, Where};
use crate::{api, billing, signin, staff, ws};

/// The largest upload an import takes; the spreadsheet reader has its own limits inside.
pub const UPLOAD_LIMIT: usize = 64 << 20;

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
    route(Method::GET, "/healthz", Access::Public, || get(api::healthz)),
    route(Method::GET, "/metrics", Access::Public, || get(api::metrics)),
    route(Method::GET, "/api/openapi.json", Access::Public, || get(api::openapi)),
    route(Method::POST, "/api/v1/auth/login", Access::Public, || post(signin::login)),
    route(Method::POST, "/api/v1/auth/owner/code", Access::Public, || post(signin::owner_code)),
    route(Method::POST, "/api/v1/auth/owner/login", Access::Public, || post(signin::owner_login)),
    route(Method::POST, "/api/v1/auth/logout", Access::SignedIn, || post(signin::logout)),
    route(Method::GET, "/api/v1/me", Access::SignedIn, || get(signin::me)),
    route(Method::PATCH, "/api/v1/me", Access::SignedIn, || patch(staff::update_me)),
    route(Method::GET, "/api/v1/communities", Access::SignedIn, || get(api::communities)),
    route(Method::GET, "/api/v1/communities/{community}", Access::Allowed(None, Where::Community), || get(api::community)),
    route(Method::GET, "/api/v1/communities/{community}/houses", Access::Allowed(None, Where::Community), || get(api::house_by_address)),
    route(Method::GET, "/api/v1/communities/{community}/devices", Access::Allowed(DEVICES_READ, Where::Community), || get(api::devices)),
    route(Method::GET, "/api/v1/communities/{community}/devices/{device}", Access::Allowed(DEVICES_READ, Where::Community), || get(api::device)),
    route(Method::GET, "/api/v1/communities/{community}/devices/{device}/key", Access::Allowed(Some(Permission::Write(Module::Devices)), Where::Community), || get(staff::device_key)),
    route(Method::GET, "/api/v1/communities/{community}/wall", Access::Allowed(DEVICES_READ, Where::Community), || get(api::wall)),
    route(Method::GET, "/api/v1/org", Access::Allowed(SETTINGS_READ, Where::Company), || get(staff::organisation)),
    route(Method::GET, "/api/v1/staff", Access::Allowed(SETTINGS_READ, Where::Company), || get(staff::list)),
    route(Method::POST, "/api/v1/staff", Access::Allowed(SETTINGS_WRITE, Where::Company), || post(staff::create)),
    route(Method::PUT, "/api/v1/staff/{staff}/roles", Access::Allowed(SETTINGS_WRITE, Where::Company), || put(staff::set_roles)),
    route(Method::POST, "/api/v1/staff/{staff}/disable", Access::Allowed(SETTINGS_WRITE, Where::Company), || post(staff::disable)),
    route(Method::GET, "/api/v1/staff/{staff}/phone", Access::Allowed(Some(Permission::UnmaskPersonalData), Where::Company), || get(staff::unmask_phone)),
    route(Method::GET, "/api/v1/roles", Access::Allowed(SETTINGS_READ, Where::Company), || get(staff::roles)),
    route(Method::POST, "/api/v1/roles", Access::Allowed(SETTINGS_WRITE, Where::Company), || post(staff::define_role)),
    route(Method::GET, "/api/v1/audit", Access::Allowed(SETTINGS_READ, Where::Company), || get(staff::audit_log)),
    route(Method::GET, "/ws", Access::Allowed(DEVICES_READ, Where::Community), || get(ws::upgrade)),
    route(Method::GET, "/ws/money", Access::Allowed(COLLECTION_READ, Where::Community), || get(ws::upgrade_money)),
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

pub fn router(app: Arc<App>) -> Router {
    let assets = app.assets.clone();
    let mut router: Router<Arc<App>> = Router::new();
    let mut paths: Vec<&str> = ROUTES.iter().map(|r| r.path).collect();
    paths.dedup();
    for path in paths {
        let mut methods: MethodRouter<Arc<App>> = MethodRouter::new();
        for spec in ROUTES.iter().filter(|r| r.path == path) {
            // The route's own access travels with it into `authorize`: no lookup by string.
            let guard = axum::middleware::from_fn_with_state(Guard { app: app.clone(), access: spec.access }, auth::authorize);
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
        let doc: serde_json::Value = serde_json::from_str(api::OPENAPI).unwrap();
        let mut documented: Vec<&str> = doc["paths"].as_object().unwrap().keys().map(String::as_str).collect();
        documented.sort();
        let mut routes: Vec<&str> = ROUTES.iter().map(|r| r.path).collect();
        routes.sort();
        routes.dedup();
        assert_eq!(documented, routes);
        assert_eq!(doc["openapi"].as_str().unwrap().chars().next(), Some('3'));
    }
}
