//! Payments (P1–P3): every request carries an idempotency key (the `Idempotency-Key` header or
//! `key` in the body) — the same key twice pays once and answers with the first payment.
//! Receipts (P7) as a print-ready page and as a PDF; reminders (N1) per bill, house, selection or
//! import batch, refused early with the seed's sentence.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{Html, IntoResponse, Response};
use axum::{Extension, Json};
use hutong_actors::building::Paid;
use hutong_core::api::{Notifications, PayBody, PayReply, RemindBody, RemindReply, ResultLine};
use hutong_core::book::{BookCommand, BookError, Payment, PaymentRequest, ReceiptFacts};
use hutong_core::reminder::Channel;
use hutong_core::{BuildingId, HouseId};
use serde::Deserialize;
use serde_json::json;

use super::receipt::{Receipt, ReceiptLine};
use super::{actor_name, item_name, building_of_house, building_of_no, command, community_of, in_scope, internal, local_now, refused, resolve_house};
use crate::error::{ApiError, ApiJson};
use crate::auth::Caller;
use crate::app::App;
use crate::audit::audit_entry;


/// Takes a payment in `building`; a repeated key answers with the first payment.
pub(crate) async fn take(app: &App, caller: &Caller, community: &str, building: &BuildingId, body: PayBody) -> Result<Payment, ApiError> {
    let c = community_of(app, community)?;
    let key = body.key.clone().filter(|k| !k.trim().is_empty()).ok_or_else(|| ApiError::bad("缺少幂等键（Idempotency-Key）", "an Idempotency-Key is required"))?;
    let key = super::scoped_key(caller, &key)?;
    let house = resolve_house(app, &c, &body.house).ok_or_else(|| ApiError::not_found("房屋", "house", &body.house))?;
    let request = PaymentRequest {
        key: key.clone(),
        house: house.clone(),
        bills: body.bills.clone(),
        amount: body.amount,
        channel: body.channel,
        payer: super::payer_name(&body.payer)?,
        reference: super::reference(body.reference.as_deref())?,
        by: actor_name(caller),
        at: local_now(&app, &c),
    };
    // One round trip: the reply is the payment, fresh or the one this key already took.
    let Paid { payment, fresh } = super::building(app, building)?.pay(request).await?.map_err(refused)?;
    if fresh {
        let audit = audit_entry(caller, "payment.take", &payment.no, None, Some(json!({"house": house, "amount": payment.amount, "channel": payment.channel, "bills": payment.parts})));
        app.identity.audit(audit).await.map_err(internal)?;
        app.metrics.inc("hutong_payments_total", &[("channel", payment.channel.label_zh())]);
    }
    Ok(payment)
}

pub async fn pay(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    Path(community): Path<String>,
    headers: HeaderMap,
    ApiJson(mut b): ApiJson<PayBody>,
) -> Result<Json<PayReply>, ApiError> {
    if let Some(k) = headers.get("idempotency-key").and_then(|v| v.to_str().ok()) {
        b.key = Some(k.to_string());
    }
    let c = community_of(&app, &community)?;
    let house = resolve_house(&app, &c, &b.house).ok_or_else(|| ApiError::not_found("房屋", "house", &b.house))?;
    let building = building_of_house(&app, &c, house.as_str()).filter(|bd| in_scope(&caller, bd)).ok_or_else(|| ApiError::not_found("房屋", "house", &b.house))?;
    let payment = take(&app, &caller, &community, &building, b).await?;
    let receipt = format!("/api/v1/communities/{community}/payments/{}/receipt", payment.no);
    Ok(Json(PayReply { payment, receipt }))
}

/// A payment and everything its receipt prints, for a member of staff (their buildings only).
async fn receipt_of(app: &App, caller: &Caller, community: &str, no: &str) -> Result<Receipt, ApiError> {
    let c = community_of(app, community)?;
    let missing = || ApiError::not_found("收据", "receipt", no);
    let building = building_of_no(&c, no).filter(|b| in_scope(caller, b)).ok_or_else(missing)?;
    let facts = super::building(app, &building)?.receipt(no).await?.ok_or_else(missing)?;
    Ok(receipt_from(app, &c, facts))
}

/// What a receipt prints, from its payment's facts (whoever may see them).
pub(crate) fn receipt_from(app: &App, c: &hutong_core::community::Community, facts: ReceiptFacts) -> Receipt {
    let community = c.id.as_str();
    let ReceiptFacts { payment, lines, house } = facts;
    let resident = house.as_ref().and_then(|h| h.payer()).map(|r| format!("{} {}", r.name, hutong_core::identity::mask_phone(&r.phone)));
    Receipt {
        community: c.name.clone(),
        printed: local_now(app, c).date(),
        no: payment.no.clone(),
        address: house.as_ref().map(|h| h.address_path.clone()).unwrap_or_default(),
        resident: resident.unwrap_or_else(|| "--".into()),
        lines: lines
            .into_iter()
            .map(|(record, row, part)| ReceiptLine {
                bill: record.bill.no.clone(),
                item: item_name(app, community, &record.bill.item),
                amount: record.bill.amount,
                paid_now: part,
                period: format!("{}~{}", hutong_core::reminder::zh_date(record.bill.period_start), hutong_core::reminder::zh_date(record.bill.period_end)),
                state: record.bill.state.label_zh().to_string(),
                issued: row.issued_at.format("%Y-%m-%d %H:%M").to_string(),
                external_no: record.external_no.clone().unwrap_or_else(|| "--".into()),
                remark: record.bill.remark.clone(),
            })
            .collect(),
        amount: payment.amount,
        prepaid: payment.prepaid,
        paid_at: payment.at.format("%Y-%m-%d %H:%M").to_string(),
        channel: payment.channel.label_zh().to_string(),
        payer: if payment.payer.is_empty() { "--".into() } else { payment.payer.clone() },
        cashier: payment.by.clone(),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReceiptQuery {
    /// pdf (default) or html.
    pub format: String,
}

/// P7: the A4 receipt, as a PDF or a print-ready page; printing again is a reprint (audited).
pub async fn receipt(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    Path((community, no)): Path<(String, String)>,
    Query(q): Query<ReceiptQuery>,
) -> Result<Response, ApiError> {
    let r = receipt_of(&app, &caller, &community, &no).await?;
    app.identity.audit(audit_entry(&caller, "receipt.print", &no, None, None)).await.map_err(internal)?;
    render_receipt(r, &q, &no).await
}

/// The receipt as the query asks: a print page or a PDF.
pub(crate) async fn render_receipt(r: Receipt, q: &ReceiptQuery, no: &str) -> Result<Response, ApiError> {
    match q.format.as_str() {
        "html" => Ok(Html(r.html()).into_response()),
        "" | "pdf" => {
            let pdf = tokio::task::spawn_blocking(move || r.pdf()).await.map_err(internal)?;
            let pdf = pdf.map_err(|e| ApiError::BadRequest { zh: format!("无法生成PDF收据：{e}"), en: format!("cannot make the PDF receipt: {e}") })?;
            let disposition = format!("inline; filename=\"receipt-{no}.pdf\"");
            Ok(([(header::CONTENT_TYPE, "application/pdf".to_string()), (header::CONTENT_DISPOSITION, disposition)], pdf).into_response())
        }
        other => Err(ApiError::BadRequest { zh: format!("不支持的格式 {other}"), en: format!("unsupported format {other}; use pdf or html") }),
    }
}

/// Reminds one house on one channel; an early reminder comes back refused with its sentence.
pub(crate) async fn remind_house(app: &App, caller: &Caller, community: &str, building: &BuildingId, house: &HouseId, channel: Channel) -> Result<ResultLine, ApiError> {
    let c = community_of(app, community)?;
    let limits = app.tariffs.get(community).reminder_limits.clone();
    let cmd = BookCommand::Remind { house: house.clone(), channel, limits, by: actor_name(caller), at: local_now(&app, &c) };
    Ok(match command(app, building, cmd).await? {
        Ok(_) => ResultLine { house: Some(house.clone()), ok: true, ..ResultLine::default() },
        Err(e @ (BookError::Reminder(_) | BookError::NothingOwed)) => {
            app.metrics.inc("hutong_reminders_refused_total", &[("channel", channel.label_zh())]);
            ResultLine { house: Some(house.clone()), ok: false, message: Some(e.to_string()), ..ResultLine::default() }
        }
        Err(e) => return Err(refused(e)),
    })
}



/// N1: remind the houses of some bills, some houses, or an import batch.
pub async fn remind(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    Path(community): Path<String>,
    ApiJson(b): ApiJson<RemindBody>,
) -> Result<Json<RemindReply>, ApiError> {
    let c = community_of(&app, &community)?;
    let channel = b.channel.unwrap_or(Channel::InApp);
    let mut houses: Vec<(BuildingId, HouseId)> = Vec::new();
    for no in &b.bills {
        let building = building_of_no(&c, no).filter(|x| in_scope(&caller, x)).ok_or_else(|| ApiError::not_found("账单", "bill", no))?;
        let house = super::building(&app, &building)?.bill(no).await?.map(|(r, _)| r.house).ok_or_else(|| ApiError::not_found("账单", "bill", no))?;
        houses.push((building, house));
    }
    for h in &b.houses {
        let house = resolve_house(&app, &c, h).ok_or_else(|| ApiError::not_found("房屋", "house", h))?;
        let building = building_of_house(&app, &c, house.as_str()).filter(|x| in_scope(&caller, x)).ok_or_else(|| ApiError::not_found("房屋", "house", h))?;
        houses.push((building, house));
    }
    if let Some(batch) = &b.batch {
        for building in c.buildings.iter().filter(|x| in_scope(&caller, &x.id)) {
            let q = hutong_core::book::BillQuery { batch: Some(batch.clone()), ..Default::default() };
            let found: Vec<HouseId> = super::building(&app, &building.id)?.find(q).await?.into_iter().map(|r| r.house).collect();
            houses.extend(found.into_iter().map(|h| (building.id.clone(), h)));
        }
    }
    houses.sort();
    houses.dedup();
    if houses.is_empty() {
        return Err(ApiError::bad("没有要催缴的房屋", "nothing to remind"));
    }
    let mut results = Vec::new();
    for (building, house) in &houses {
        results.push(remind_house(&app, &caller, &community, building, house, channel).await?);
    }
    let sent = results.iter().filter(|r| r.ok).count();
    Ok(Json(RemindReply { sent, refused: results.len() - sent, results }))
}

/// N3: the outbox, newest first, with delivery state (phones masked).
/// A butler sees only the messages of their own buildings' houses (review A3).
pub async fn notifications(State(app): State<Arc<App>>, Extension(caller): Extension<Caller>, Path(community): Path<String>) -> Result<Json<Notifications>, ApiError> {
    let c = community_of(&app, &community)?;
    let mut notifications = app.outbox.recent(&community, 200);
    if !caller.principal.scope.buildings.is_empty() {
        notifications.retain(|n| building_of_house(&app, &c, &n.house).is_some_and(|b| in_scope(&caller, &b)));
    }
    Ok(Json(Notifications { notifications }))
}
