//! Authentication and authorisation in one place. Every route is declared in `api::ROUTES` with
//! the access it needs; the router hands each route's own declaration to `authorize` (a
//! [`Guard`]), which runs before the handler of every route (REST and the WebSocket upgrade),
//! resolves the caller from the session cookie or bearer token, and refuses: 401 without a
//! session, 404 for a community outside the caller's company or scope (its existence is not
//! confirmed), 403 for a missing permission.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts, RawPathParams, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use chrono::Utc;
use hutong_core::identity::{Permission, Principal, Subject};
use serde::Deserialize;
use serde_json::json;

use crate::api::{Access, ApiError, RouteSpec, Where};
use crate::identity::{AuditEntry, LoginError};
use crate::server::App;

pub const COOKIE: &str = "hutong_session";

/// The caller of a request, once `authorize` let it through; also carries the session's hash.
#[derive(Clone, Debug)]
pub struct Caller {
    pub principal: Principal,
    pub session: String,
    pub ip: String,
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

pub fn client_ip(request: &Request) -> String {
    request.extensions().get::<ConnectInfo<SocketAddr>>().map_or_else(|| "unknown".into(), |c| c.0.ip().to_string())
}

/// What `authorize` guards: the app, and the route as declared (its access comes with it).
#[derive(Clone)]
pub struct Guard {
    pub app: Arc<App>,
    pub route: &'static RouteSpec,
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

pub async fn authorize(State(Guard { app, route }): State<Guard>, request: Request, next: Next) -> Response {
    if matches!(route.access, Access::Public) {
        return next.run(request).await;
    }
    let mut request = request;
    let Some((session, principal)) = token_of(request.headers()).and_then(|t| app.identity.principal(&t, Utc::now())) else {
        return ApiError::Unauthenticated.into_response();
    };
    if let Access::Allowed(permission, place) = route.access {
        // Staff routes: an owner reaches only routes made for owners (their own houses).
        if matches!(principal.subject, Subject::Owner { .. }) {
            return ApiError::NotStaff.into_response();
        }
        if let Where::Community = place {
            let (community, back) = community_of(request).await;
            request = back;
            let visible = community.as_deref().is_some_and(|c| {
                let org = app.identity.org();
                org.company_of(c).is_some_and(|company| principal.sees_community(company, &hutong_core::CommunityId::new(c)))
            });
            if !visible {
                return ApiError::not_found("小区", "community", community.as_deref().unwrap_or_default()).into_response();
            }
        }
        if let Some(p) = permission {
            if !principal.may(p) {
                return ApiError::Forbidden(p).into_response();
            }
        }
    }
    let ip = client_ip(&request);
    request.extensions_mut().insert(Caller { principal, session, ip });
    next.run(request).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaffLogin {
    account: String,
    password: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeRequest {
    phone: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OwnerLogin {
    phone: String,
    code: String,
}

fn signed_in(app: &App, token: String, principal: &Principal) -> Response {
    let max_age = app.identity.session_ttl.num_seconds();
    let cookie = format!("{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}");
    ([(header::SET_COOKIE, cookie)], Json(json!({ "token": token, "me": me_json(principal) }))).into_response()
}

fn login_refused(e: LoginError) -> Response {
    match e {
        LoginError::Locked(_) => (StatusCode::TOO_MANY_REQUESTS, Json(json!({"error": {"code": "rate_limited", "message": e.to_string()}}))).into_response(),
        LoginError::Journal(_) => ApiError::Internal(e.to_string()).into_response(),
        _ => (StatusCode::UNAUTHORIZED, Json(json!({"error": {"code": "sign_in_failed", "message": e.to_string()}}))).into_response(),
    }
}

type Body<T> = Result<Json<T>, axum::extract::rejection::JsonRejection>;

/// Audits a sign-in attempt — whoever it was, however it ended — then answers it.
async fn finish_sign_in(app: &App, who: SignInAttempt, result: Result<(String, Principal), LoginError>) -> Response {
    let outcome = match &result {
        Ok(_) => "ok",
        Err(LoginError::Locked(_)) => "locked",
        Err(_) => "failed",
    };
    let entry = AuditEntry {
        seq: 0,
        at: Utc::now(),
        company: who.company,
        actor: who.actor.clone(),
        action: who.action.into(),
        target: who.actor,
        outcome: outcome.into(),
        ip: Some(who.ip),
        before: None,
        after: None,
    };
    if let Err(e) = app.identity.audit(entry).await {
        return ApiError::Internal(e.to_string()).into_response();
    }
    match result {
        Ok((token, principal)) => signed_in(app, token, &principal),
        Err(e) => login_refused(e),
    }
}

struct SignInAttempt {
    actor: String,
    company: Option<hutong_core::CompanyId>,
    action: &'static str,
    ip: String,
}

pub async fn login(State(app): State<Arc<App>>, ConnectInfo(addr): ConnectInfo<SocketAddr>, body: Body<StaffLogin>) -> Response {
    let Json(body) = match body {
        Ok(b) => b,
        Err(e) => return ApiError::body(e).into_response(),
    };
    let ip = addr.ip().to_string();
    let result = app.identity.login_staff(&body.account, &body.password, &ip, Utc::now()).await;
    let company = {
        let org = app.identity.org();
        org.accounts.get(&body.account).and_then(|id| org.staff.get(id)).map(|s| s.company.clone())
    };
    let who = SignInAttempt { actor: body.account, company, action: "auth.sign_in", ip };
    finish_sign_in(&app, who, result).await
}

pub async fn owner_code(State(app): State<Arc<App>>, ConnectInfo(addr): ConnectInfo<SocketAddr>, body: Body<CodeRequest>) -> Response {
    let Json(body) = match body {
        Ok(b) => b,
        Err(e) => return ApiError::body(e).into_response(),
    };
    match app.identity.send_owner_code(&body.phone, &addr.ip().to_string(), Utc::now()).await {
        Ok(()) => Json(json!({"sent": true})).into_response(),
        Err(e) => login_refused(e),
    }
}

pub async fn owner_login(State(app): State<Arc<App>>, ConnectInfo(addr): ConnectInfo<SocketAddr>, body: Body<OwnerLogin>) -> Response {
    let Json(body) = match body {
        Ok(b) => b,
        Err(e) => return ApiError::body(e).into_response(),
    };
    let ip = addr.ip().to_string();
    let result = app.identity.login_owner(&body.phone, &body.code, &ip, Utc::now()).await;
    let company = app.identity.org().owners.get(&body.phone).map(|o| o.company.clone());
    let who = SignInAttempt { actor: format!("owner:{}", hutong_core::identity::mask_phone(&body.phone)), company, action: "auth.owner_sign_in", ip };
    finish_sign_in(&app, who, result).await
}

pub async fn logout(State(app): State<Arc<App>>, Extension(caller): Extension<Caller>) -> Result<Response, ApiError> {
    app.identity.revoke(&caller.session).await.map_err(|e| ApiError::Internal(e.to_string()))?;
    let cookie = format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
    Ok(([(header::SET_COOKIE, cookie)], Json(json!({"signed_out": true}))).into_response())
}

pub fn me_json(p: &Principal) -> serde_json::Value {
    let (kind, account, name) = match &p.subject {
        Subject::Staff { account, name, .. } => ("staff", account.clone(), name.clone()),
        Subject::Owner { phone } => ("owner", hutong_core::identity::mask_phone(phone), String::new()),
    };
    let permissions: Vec<String> = p.permissions.iter().map(Permission::to_string).collect();
    json!({
        "kind": kind,
        "account": account,
        "name": name,
        "company": p.company,
        "permissions": permissions,
        "communities": p.scope.communities,
        "buildings": p.scope.buildings,
    })
}

pub async fn me(Extension(caller): Extension<Caller>) -> Json<serde_json::Value> {
    Json(me_json(&caller.principal))
}
