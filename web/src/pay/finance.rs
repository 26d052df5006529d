//! The finance software's pull (P11, the seed's 授权第三方财务软件获取银行对账单): per community an
//! app id and a secret the company switches on and off (停用); a pull is a signed request.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Extension, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use hmac::Mac;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Days, HmacSha256, signed, span};
use crate::app::App;
use crate::auth::Caller;
use crate::error::{ApiError, internal};
use hutong_core::pay::PayCommand;

/// The id finance software names itself by for a community.
fn finance_app_id(community: &str) -> String {
    format!("fin-{community}")
}

/// Its secret: derived from the deployment's secret and the generation, so it is never stored
/// and a new one voids the old.
fn finance_secret(app: &App, community: &str, generation: u32) -> String {
    app.keyring.place_code(&format!("_finance/{community}"), &generation.to_string())
}

/// The finance pull's state as the office sees it: the secret only when it was just made.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct FinanceAccessView {
    pub app_id: String,
    pub enabled: bool,
    /// Shown once, when switched on with a new secret.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

async fn set_finance(app: &App, caller: &Caller, community: &str, enabled: bool, rotate: bool) -> Result<FinanceAccessView, ApiError> {
    let desk = app.pay.desk(app, community).await?;
    desk.execute(&PayCommand::FinanceAccess { enabled, rotate }, app.clock.now().timestamp_millis()).await.map_err(|e| internal(e.to_string()))?;
    let access = desk.read().finance.clone();
    let action = if !enabled { "finance_access.disable" } else if rotate { "finance_access.new_secret" } else { "finance_access.enable" };
    // The audit names what happened, never the secret.
    app.identity.audit(crate::audit::audit_entry(caller, action, community, None, Some(serde_json::json!({"generation": access.generation, "enabled": access.enabled})))).await.map_err(internal)?;
    let secret = (enabled && rotate).then(|| finance_secret(app, community, access.generation));
    Ok(FinanceAccessView { app_id: finance_app_id(community), enabled: access.enabled, secret })
}

/// `GET …/finance-access`.
pub async fn finance_access(State(app): State<Arc<App>>, Path(community): Path<String>) -> Result<Json<FinanceAccessView>, ApiError> {
    let access = app.pay.desk(&app, &community).await?.read().finance.clone();
    Ok(Json(FinanceAccessView { app_id: finance_app_id(&community), enabled: access.enabled, secret: None }))
}

/// `POST …/finance-access`: switched on with a new secret, shown this once (the old one stops).
pub async fn finance_enable(State(app): State<Arc<App>>, Extension(caller): Extension<Caller>, Path(community): Path<String>) -> Result<Json<FinanceAccessView>, ApiError> {
    Ok(Json(set_finance(&app, &caller, &community, true, true).await?))
}

/// `POST …/finance-access/disable` (停用).
pub async fn finance_disable(State(app): State<Arc<App>>, Extension(caller): Extension<Caller>, Path(community): Path<String>) -> Result<Json<FinanceAccessView>, ApiError> {
    Ok(Json(set_finance(&app, &caller, &community, false, false).await?))
}

#[derive(Deserialize)]
pub struct PullQuery {
    pub community: String,
    pub from: chrono::NaiveDate,
    pub to: chrono::NaiveDate,
}

/// What finance software pulls: the provider's statement of the days, and the reconciliation.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct FinanceStatement {
    pub community: String,
    pub from: chrono::NaiveDate,
    pub to: chrono::NaiveDate,
    #[schema(value_type = Vec<Object>)]
    pub lines: Vec<hutong_core::pay::StatementLine>,
    #[schema(value_type = Object)]
    pub reconciliation: hutong_core::pay::Reconciliation,
}

/// `GET /api/v1/finance/statements?community=&from=&to=` (public, signed): finance software
/// names the community's app id (`Hutong-App-Id`) and signs `GET \n path?query \n timestamp \n
/// nonce \n` with its secret (HMAC-SHA256, hex, `Hutong-Signature`; `Hutong-Timestamp`,
/// `Hutong-Nonce`). A pull that is switched off, unsigned, stale, replayed or signed with another
/// secret is refused (403) and counted.
pub async fn finance_pull(State(app): State<Arc<App>>, uri: axum::http::Uri, headers: HeaderMap, Query(q): Query<PullQuery>) -> Response {
    let refused = |reason: &'static str| {
        app.metrics.inc("hutong_finance_pulls_refused_total", &[("reason", reason)]);
        (StatusCode::FORBIDDEN, Json(serde_json::json!({"error": {"code": "forbidden", "message": format!("拒绝 / refused: {reason}")}}))).into_response()
    };
    let Some(app_id) = headers.get("hutong-app-id").and_then(|v| v.to_str().ok()) else { return refused("unsigned") };
    if app.community(&q.community).is_err() || app_id != finance_app_id(&q.community) {
        return refused("app_id");
    }
    let Ok(desk) = app.pay.desk(&app, &q.community).await else { return refused("app_id") };
    let access = desk.read().finance.clone();
    if !access.enabled {
        return refused("disabled");
    }
    let now = app.clock.now();
    let (ts, nonce, given) = match signed(&headers, ["hutong-timestamp", "hutong-nonce", "hutong-signature"], now) {
        Ok(s) => s,
        Err(reason) => return refused(reason),
    };
    let secret = finance_secret(&app, &q.community, access.generation);
    let Ok(mut mac) = <HmacSha256 as Mac>::new_from_slice(secret.as_bytes()) else { return refused("signature") };
    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or_default();
    mac.update(format!("GET\n{path}\n{ts}\n{nonce}\n").as_bytes());
    if mac.verify_slice(&given).is_err() {
        return refused("signature");
    }
    if !app.pay.nonces.fresh(nonce, ts, now) {
        return refused("replayed");
    }
    let days = Days { from: q.from, to: q.to };
    let (from, to) = match span(&app, &q.community, &days) {
        Ok((_, from, to)) => (from, to),
        Err(e) => return e.into_response(),
    };
    let lines = match app.pay.provider.statement(&q.community, from, to).await {
        Ok(lines) => lines,
        Err(e) => return e.into_response(),
    };
    let reconciliation = hutong_core::pay::reconcile(&lines, &desk.read(), from, to);
    app.metrics.inc("hutong_finance_pulls_total", &[]);
    Json(FinanceStatement { community: q.community, from: q.from, to: q.to, lines, reconciliation }).into_response()
}
