//! 一键对账 (P10): the provider's statement for a range of days, or a statement file it gave,
//! against the orders recorded as paid.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};

use super::{Days, span};
use crate::app::App;
use crate::error::ApiError;

/// `GET …/reconciliation?from=&to=` (P10): the provider's statement for those days against the
/// orders recorded as paid — arrived, not arrived, anomalies, with the seed's totals.
pub async fn reconciliation(State(app): State<Arc<App>>, Path(community): Path<String>, Query(days): Query<Days>) -> Result<Json<hutong_core::pay::Reconciliation>, ApiError> {
    let (_, from, to) = span(&app, &community, &days)?;
    let statement = app.pay.provider.statement(&community, from, to).await?;
    let desk = app.pay.desk(&app, &community).await?;
    let reconciled = hutong_core::pay::reconcile(&statement, &desk.read(), from, to);
    Ok(Json(reconciled))
}

/// `POST …/reconciliation?from=&to=` with a statement file the provider gave (CSV, XLS, XLSX:
/// 商户订单号, 交易单号, 金额, 支付时间): the same matching; a bad row is refused with the row report.
pub async fn reconcile_file(State(app): State<Arc<App>>, Path(community): Path<String>, Query(days): Query<Days>, upload: crate::error::Upload) -> Result<Response, ApiError> {
    let (tz, from, to) = span(&app, &community, &days)?;
    let body = upload.read().await?;
    let read = crate::billing::upload::read(body, hutong_core::pay::StatementReader::new(tz)).await?.finish();
    if !read.errors.is_empty() {
        let n = read.errors.len();
        let report = hutong_core::api::ImportReport { bad_rows: n, errors: read.errors, message: format!("对账单有 {n} 行无法读取 / {n} rows could not be read"), ..Default::default() };
        return Err(ApiError::Unprocessable(Box::new(report)));
    }
    let desk = app.pay.desk(&app, &community).await?;
    Ok(Json(hutong_core::pay::reconcile(&read.lines, &desk.read(), from, to)).into_response())
}

