//! Authentication and authorisation in one place. Every route is declared in `api::ROUTES` with
//! the access it needs; the router hands each route's own declaration to `authorize` (a
//! [`Guard`]), which runs before the handler of every route (REST and the WebSocket upgrade),
//! resolves the caller from the session cookie or bearer token, and refuses: 401 without a
//! session, 404 for a community outside the caller's company or scope (its existence is not
//! confirmed), 403 for a missing permission.

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts, RawPathParams, Request, State};
use axum::http::{HeaderMap, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use hutong_core::identity::{Permission, Principal, Subject};

use crate::app::App;
use crate::error::ApiError;

pub const COOKIE: &str = "hutong_session";

/// The caller of a request, once `authorize` let it through; also carries the session's hash.
#[derive(Clone, Debug)]
pub struct Caller {
    pub principal: Principal,
    pub session: String,
    pub ip: String,
    /// The access the route declared: an open socket checks it again as roles change.
    pub access: Access,
}

fn token_of(headers: &HeaderMap) -> Option<String> {
    if let Some(bearer) = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer ")) {
        return Some(bearer.trim().to_string());
    }
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|kv| kv.trim().strip_prefix(&format!("{COOKIE}=")).map(str::to_string))
}

/// The caller's address: the TCP peer, unless the peer is a trusted reverse proxy — then the
/// nearest address in X-Forwarded-For that is not one of ours (a client can prepend anything to
/// that header, so it is read from the right). Without a trusted proxy the header is ignored.
pub fn client_addr(trusted: &[IpAddr], peer: Option<IpAddr>, headers: &HeaderMap) -> String {
    let Some(peer) = peer else { return "unknown".into() };
    if !trusted.contains(&peer) {
        return peer.to_string();
    }
    let forwarded = headers.get_all("x-forwarded-for").iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).collect::<Vec<_>>();
    forwarded
        .iter()
        .rev()
        .filter_map(|a| a.trim().parse::<IpAddr>().ok())
        .find(|a| !trusted.contains(a))
        .unwrap_or(peer)
        .to_string()
}

pub fn client_ip(app: &App, request: &Request) -> String {
    let peer = request.extensions().get::<ConnectInfo<crate::tls::Peer>>().map(|c| c.0.0.ip());
    client_addr(&app.trusted_proxies, peer, request.headers())
}

/// A browser's Origin must name this server's host; clients without one (devices, scripts) are
/// not browsers and carry their own bearer token.
pub fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else { return true };
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or_default();
    origin.split_once("://").is_some_and(|(_, rest)| rest == host)
}

/// A change asked with the session cookie must come from a page of this server (review S7):
/// `SameSite=Strict` keeps other sites' requests cookie-less, but not a sibling sub-domain's, and
/// an import's body is not JSON, so no content type stops a form from posting one.
fn forged(request: &Request, by_cookie: bool) -> bool {
    let safe = matches!(*request.method(), axum::http::Method::GET | axum::http::Method::HEAD | axum::http::Method::OPTIONS);
    if safe || !by_cookie {
        return false;
    }
    let fetched_from_elsewhere = request.headers().get("sec-fetch-site").and_then(|v| v.to_str().ok()).is_some_and(|site| site != "same-origin" && site != "none");
    fetched_from_elsewhere || !same_origin(request.headers())
}

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
    /// A signed-in owner, about their own houses only (the handler checks which); staff are refused.
    Owner,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Where {
    Company,
    Community,
}

/// What `authorize` guards: the app, and the access the route declared.
#[derive(Clone)]
pub struct Guard {
    pub app: Arc<App>,
    pub access: Access,
}

/// The community a request is about: the `{community}` path parameter, else `?community=`.
async fn community_of(request: Request) -> (Option<String>, Request) {
    let (mut parts, body) = request.into_parts();
    let from_path = RawPathParams::from_request_parts(&mut parts, &())
        .await
        .ok()
        .and_then(|params| params.iter().find(|(k, _)| *k == "community").map(|(_, v)| v.to_string()));
    let community = from_path.or_else(|| parts.uri.query()?.split('&').find_map(|kv| kv.strip_prefix("community=")).map(str::to_string));
    (community, Request::from_parts(parts, body))
}

/// Whether `principal` may use a route declaring `access`, about `community`: the one rule for
/// a request and, every second, for an open socket (review A5).
pub fn admits(app: &App, principal: &Principal, access: Access, community: Option<&str>) -> Result<(), ApiError> {
    if access == Access::Owner {
        return match principal.subject {
            Subject::Owner { .. } => Ok(()),
            Subject::Staff { .. } => Err(ApiError::Beyond { zh: "业主专用".into(), en: "for owners only".into() }),
        };
    }
    let Access::Allowed(permission, place) = access else { return Ok(()) };
    // Staff routes: an owner reaches only routes made for owners (their own houses).
    if matches!(principal.subject, Subject::Owner { .. }) {
        return Err(ApiError::NotStaff);
    }
    if let Where::Community = place {
        let visible = community.is_some_and(|c| {
            let org = app.identity.org();
            org.company_of(c).is_some_and(|company| principal.sees_community(company, &hutong_core::CommunityId::new(c)))
        });
        if !visible {
            return Err(ApiError::not_found("小区", "community", community.unwrap_or_default()));
        }
    }
    match permission {
        Some(p) if !principal.may(p) => Err(ApiError::Forbidden(p)),
        _ => Ok(()),
    }
}

pub async fn authorize(State(Guard { app, access }): State<Guard>, request: Request, next: Next) -> Response {
    if matches!(access, Access::Public) {
        return next.run(request).await;
    }
    let mut request = request;
    let by_cookie = !request.headers().contains_key(header::AUTHORIZATION);
    let found = match token_of(request.headers()) {
        Some(token) => app.identity.principal_now(&token, Utc::now()).await,
        None => None,
    };
    if found.is_some() && forged(&request, by_cookie) {
        return ApiError::CrossOrigin.into_response();
    }
    let Some((session, principal)) = found else {
        return ApiError::Unauthenticated.into_response();
    };
    let mut community = None;
    if let Access::Allowed(_, Where::Community) = access {
        let (found, back) = community_of(request).await;
        request = back;
        community = found;
    }
    if let Err(refused) = admits(&app, &principal, access, community.as_deref()) {
        return refused.into_response();
    }
    let ip = client_ip(&app, &request);
    request.extensions_mut().insert(Caller { principal, session, ip, access });
    next.run(request).await
}

