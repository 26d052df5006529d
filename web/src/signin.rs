//! Signing in and out (X2): staff with account and password, owners with their phone and a
//! one-time code; every attempt on a real account audited, however it ends (a flood of
//! rate-limited or made-up ones is only counted); the session as an HttpOnly cookie and
//! a bearer token; `me`, the caller as the screens see them.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use chrono::Utc;
use hutong_core::api::{CodeSent, Me, SignedIn, SignedOut};
use hutong_core::identity::{Permission, Principal, Subject};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::app::App;
use crate::auth::{COOKIE, Caller, client_addr};
use crate::tls::Peer;
use crate::error::{ApiError, ApiJson};
use crate::identity::{AuditEntry, LoginError};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StaffLogin {
    account: String,
    password: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeRequest {
    phone: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OwnerLogin {
    phone: String,
    code: String,
}

/// Whether the caller reached us over HTTPS: on our own TLS port, or through a trusted reverse
/// proxy that says so.
fn over_https(app: &App, peer: SocketAddr, headers: &HeaderMap) -> bool {
    app.https
        || app.trusted_proxies.contains(&peer.ip())
        && headers.get("x-forwarded-proto").and_then(|v| v.to_str().ok()).is_some_and(|p| p.trim().eq_ignore_ascii_case("https"))
}

fn signed_in(app: &App, token: String, principal: &Principal, https: bool) -> Response {
    // A paired display's session is long (it runs unattended); a person's is the configured one.
    let display = matches!(&principal.subject, Subject::Staff { account, .. } if account.starts_with(crate::displays::DISPLAY_PREFIX));
    let max_age = if display { crate::identity::DISPLAY_SESSION_TTL } else { app.identity.session_ttl }.num_seconds();
    // Over HTTPS the cookie is `Secure`, so a browser never sends it over plain HTTP (review S6).
    let secure = if https { "; Secure" } else { "" };
    let cookie = format!("{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}");
    ([(header::SET_COOKIE, cookie)], Json(SignedIn { token, me: me_of(principal) })).into_response()
}

fn login_refused(e: LoginError) -> Response {
    ApiError::from(e).into_response()
}

/// Audits a sign-in attempt on a real account — however it ended — then answers it. An attempt
/// refused by the rate limit, or naming no account, writes nothing (review S1): it is counted in
/// `/metrics`, so a flood costs neither disk nor memory, and text typed into the account field
/// (a password, by mistake) never lands in the audit log (L5).
async fn finish_sign_in(app: &App, who: SignInAttempt, result: Result<(String, Principal), LoginError>) -> Response {
    let https = who.https;
    let outcome = match &result {
        Ok(_) => "ok",
        Err(LoginError::Locked(_)) => "locked",
        Err(_) => "failed",
    };
    app.metrics.inc("hutong_sign_ins_total", &[("outcome", outcome)]);
    if outcome == "locked" || who.company.is_none() {
        return match result {
            Ok((token, principal)) => signed_in(app, token, &principal, https),
            Err(e) => login_refused(e),
        };
    }
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
        Ok((token, principal)) => signed_in(app, token, &principal, https),
        Err(e) => login_refused(e),
    }
}

struct SignInAttempt {
    https: bool,
    actor: String,
    company: Option<hutong_core::CompanyId>,
    action: &'static str,
    ip: String,
}

/// The longest account name and password a sign-in reads; longer is refused before anything else.
pub const ACCOUNT_MAX: usize = 64;
pub const PASSWORD_MAX: usize = 256;

pub async fn login(State(app): State<Arc<App>>, ConnectInfo(Peer(addr)): ConnectInfo<Peer>, headers: HeaderMap, ApiJson(body): ApiJson<StaffLogin>) -> Response {
    if body.account.chars().count() > ACCOUNT_MAX || body.password.chars().count() > PASSWORD_MAX {
        app.metrics.inc("hutong_sign_ins_total", &[("outcome", "too_long")]);
        return ApiError::BadRequest {
            zh: format!("账号最多 {ACCOUNT_MAX} 个字符，密码最多 {PASSWORD_MAX} 个字符"),
            en: format!("an account is at most {ACCOUNT_MAX} characters and a password at most {PASSWORD_MAX}"),
        }
        .into_response();
    }
    let ip = client_addr(&app.trusted_proxies, Some(addr.ip()), &headers);
    let result = app.identity.login_staff(&body.account, &body.password, &ip, Utc::now()).await;
    let company = {
        let org = app.identity.org();
        org.accounts.get(&body.account).and_then(|id| org.staff.get(id)).map(|s| s.company.clone())
    };
    let who = SignInAttempt { https: over_https(&app, addr, &headers), actor: body.account, company, action: "auth.sign_in", ip };
    finish_sign_in(&app, who, result).await
}

pub async fn owner_code(State(app): State<Arc<App>>, ConnectInfo(Peer(addr)): ConnectInfo<Peer>, headers: HeaderMap, ApiJson(body): ApiJson<CodeRequest>) -> Response {
    if body.phone.chars().count() > 20 {
        return ApiError::BadRequest { zh: "手机号格式不对".into(), en: "not a phone number".into() }.into_response();
    }
    let ip = client_addr(&app.trusted_proxies, Some(addr.ip()), &headers);
    match app.identity.send_owner_code(&body.phone, &ip, Utc::now()).await {
        Ok(()) => Json(CodeSent { sent: true }).into_response(),
        Err(e) => login_refused(e),
    }
}

pub async fn owner_login(State(app): State<Arc<App>>, ConnectInfo(Peer(addr)): ConnectInfo<Peer>, headers: HeaderMap, ApiJson(body): ApiJson<OwnerLogin>) -> Response {
    if body.phone.chars().count() > 20 || body.code.chars().count() > 12 {
        return ApiError::BadRequest { zh: "手机号或验证码格式不对".into(), en: "not a phone number and code".into() }.into_response();
    }
    let ip = client_addr(&app.trusted_proxies, Some(addr.ip()), &headers);
    let result = app.identity.login_owner(&body.phone, &body.code, &ip, Utc::now()).await;
    let company = app.identity.org().owners.get(&body.phone).map(|o| o.company.clone());
    let who = SignInAttempt { https: over_https(&app, addr, &headers), actor: format!("owner:{}", hutong_core::identity::mask_phone(&body.phone)), company, action: "auth.owner_sign_in", ip };
    finish_sign_in(&app, who, result).await
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PairBody {
    /// The code shown once to the office when the display was added (8 characters; case,
    /// spaces and dashes do not matter).
    code: String,
}

/// A wall display pairs with its one-time code: a session of a year, as the display's own
/// account (closing that account unpairs it at once). Audited like a sign-in; the code never is.
pub async fn pair(State(app): State<Arc<App>>, ConnectInfo(Peer(addr)): ConnectInfo<Peer>, headers: HeaderMap, ApiJson(body): ApiJson<PairBody>) -> Response {
    if body.code.chars().count() > 32 {
        return ApiError::BadRequest { zh: "配对码格式不对".into(), en: "not a pairing code".into() }.into_response();
    }
    let ip = client_addr(&app.trusted_proxies, Some(addr.ip()), &headers);
    let result = app.identity.pair_display(&body.code, &ip, Utc::now()).await;
    let (actor, company) = match &result {
        Ok((_, p)) => (p.actor(), Some(p.company.clone())),
        Err(_) => ("display".to_string(), None),
    };
    let who = SignInAttempt { https: over_https(&app, addr, &headers), actor, company, action: "display.paired", ip };
    finish_sign_in(&app, who, result).await
}

pub async fn logout(State(app): State<Arc<App>>, Extension(caller): Extension<Caller>) -> Result<Response, ApiError> {
    app.identity.revoke(&caller.session).await.map_err(crate::error::internal)?;
    let cookie = format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
    Ok(([(header::SET_COOKIE, cookie)], Json(SignedOut { signed_out: true })).into_response())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    current: String,
    new: String,
}

/// A staff member changes their own password (review S8); every session of theirs ends, this one
/// too, so they sign in again with the new one.
pub async fn change_password(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    ApiJson(body): ApiJson<PasswordChange>,
) -> Result<Json<SignedOut>, ApiError> {
    use crate::identity::PasswordError;
    let Subject::Staff { id, .. } = &caller.principal.subject else { return Err(ApiError::NotStaff) };
    if body.current.chars().count() > PASSWORD_MAX {
        return Err(ApiError::bad("当前密码不正确", "the current password is wrong"));
    }
    match app.identity.change_own_password(id, &body.current, &body.new, &caller.ip, Utc::now()).await {
        Ok(()) => {}
        Err(PasswordError::Wrong) => return Err(ApiError::SignInFailed { zh: "当前密码不正确".into(), en: "the current password is wrong".into() }),
        Err(PasswordError::Login(e)) => return Err(e.into()),
        Err(PasswordError::Org(e)) => return Err(e.into()),
    }
    app.identity.audit(crate::audit::audit_entry(&caller, "auth.password_change", &caller.principal.actor(), None, None)).await.map_err(crate::error::internal)?;
    Ok(Json(SignedOut { signed_out: true }))
}

pub fn me_of(p: &Principal) -> Me {
    let (kind, account, name) = match &p.subject {
        Subject::Staff { account, name, .. } if account.starts_with(crate::displays::DISPLAY_PREFIX) => ("display", account.clone(), name.clone()),
        Subject::Staff { account, name, .. } => ("staff", account.clone(), name.clone()),
        Subject::Owner { phone } => ("owner", hutong_core::identity::mask_phone(phone), String::new()),
    };
    Me {
        kind: kind.into(),
        account,
        name,
        company: p.company.clone(),
        permissions: p.permissions.iter().map(Permission::to_string).collect(),
        communities: p.scope.communities.iter().cloned().collect(),
        buildings: p.scope.buildings.iter().cloned().collect(),
    }
}

pub async fn me(Extension(caller): Extension<Caller>) -> Json<Me> {
    Json(me_of(&caller.principal))
}

/// `GET /demo/inbox`: `hutong demo`'s own SMS inbox — the text messages its demo phones got,
/// owners' sign-in codes among them — so the demo's owner portal can be tried without an SMS
/// gateway. It exists only in a demo with no gateway (404 elsewhere); codes never reach a log.
pub async fn demo_inbox(State(app): State<Arc<App>>) -> Result<axum::response::Html<String>, ApiError> {
    let inbox = app.demo_inbox.as_ref().ok_or_else(|| ApiError::not_found("页面", "page", "/demo/inbox"))?;
    let escape = |s: &str| s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
    let rows: String = inbox
        .texts()
        .iter()
        .map(|(at, to, text)| format!("<tr><td>{}</td><td>{}</td><td data-test=sms>{}</td></tr>", at.format("%H:%M:%S"), escape(&to.join(", ")), escape(text)))
        .collect();
    Ok(axum::response::Html(format!(
        "<!doctype html><html lang=zh><meta charset=utf-8><meta name=viewport content=\"width=device-width,initial-scale=1\"><title>演示短信收件箱</title>\
         <body style=\"font-family:sans-serif;padding:1rem\"><h1>演示短信收件箱</h1><p>仅演示环境：演示手机号收到的短信（含登录验证码）。</p>\
         <table border=1 cellpadding=6 style=\"border-collapse:collapse\"><tr><th>时间 (UTC)</th><th>收件人</th><th>内容</th></tr>{rows}</table></body></html>"
    )))
}
