//! Owners pay from their phones (R6, P8, P9): their houses and bills, an order for the bills they
//! pick (合并支付), the provider's hosted checkout, and the provider's signed notification — the
//! only thing that marks a bill paid.
//!
//! The provider here is the sandbox, which runs inside Hutong for the demo and the tests and is
//! modelled on WeChat Pay v3: an order is registered with the provider when it opens, the owner
//! pays on the provider's page, and the provider notifies Hutong asynchronously by HTTP, signing
//! `timestamp \n nonce \n body \n` with a key both sides hold (HMAC-SHA256), a few attempts.
//! Hutong refuses a notification whose signature does not verify, whose
//! timestamp is more than five minutes off, or whose nonce it has seen — and counts each. One that
//! verifies goes to the community's pay desk (`hutong_core::pay`), which checks the order and the
//! amount; the house's book then takes the payment under the order's key, naming the provider's
//! transaction, so however often the provider says it, it pays once. An order whose notification
//! does not come is asked about (`GET …/payments/{order}` queries the provider).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Extension, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use hutong_actors::journaled::{Shared, StreamId};
use hutong_core::alarm::AlarmCommand;
use hutong_core::bill::BillState;
use hutong_core::book::{BillQuery, BillRow, PayChannel, PaymentRequest};
use hutong_core::identity::{Subject, mask_phone};
use hutong_core::live::AlarmKind;
use hutong_core::pay::{Notification, OrderState, PayCommand, PayDesk, PayEvent, PayOrder, SandboxCommand, SandboxLedger};
use hutong_core::{BuildingId, CommunityId, DeviceId, HouseId, Money};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::App;
use crate::auth::Caller;
use crate::error::{ApiError, ApiJson, internal};

type HmacSha256 = Hmac<sha2::Sha256>;

/// How far a notification's timestamp may be from Hutong's clock.
const SKEW_SECS: i64 = 300;
/// How long an order waits for its notification before the provider is asked.
const QUERY_AFTER_SECS: i64 = 5;

/// Online payments: each community's pay desk, the sandbox provider and what verifying needs.
pub struct Payments {
    desks: Mutex<HashMap<String, Arc<Shared<PayDesk>>>>,
    sandbox: OnceLock<Arc<Shared<SandboxLedger>>>,
    /// The key the sandbox signs with and Hutong verifies with.
    key: Vec<u8>,
    /// Nonces seen within the skew window, with their timestamps.
    nonces: Mutex<HashMap<String, i64>>,
    /// Where the sandbox delivers notifications: this server's own address, once it listens.
    pub notify_base: OnceLock<String>,
    client: reqwest::Client,
}

impl Payments {
    pub fn new(key: Vec<u8>) -> Self {
        let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap_or_default();
        Payments { desks: Mutex::default(), sandbox: OnceLock::new(), key, nonces: Mutex::default(), notify_base: OnceLock::new(), client }
    }

    /// A community's pay desk, recovered from its journal on first use.
    pub async fn desk(&self, app: &App, community: &str) -> Result<Arc<Shared<PayDesk>>, ApiError> {
        if let Some(d) = self.desks.lock().unwrap_or_else(|e| e.into_inner()).get(community) {
            return Ok(d.clone());
        }
        let recovered = Arc::new(Shared::recover(app.journal.clone(), StreamId::pay_desk(&CommunityId::new(community)), PayDesk::default).await.map_err(internal)?);
        Ok(self.desks.lock().unwrap_or_else(|e| e.into_inner()).entry(community.to_string()).or_insert(recovered).clone())
    }

    async fn sandbox(&self, app: &App) -> Result<Arc<Shared<SandboxLedger>>, ApiError> {
        if let Some(s) = self.sandbox.get() {
            return Ok(s.clone());
        }
        let recovered = Arc::new(Shared::recover(app.journal.clone(), StreamId::named("sandbox-provider"), SandboxLedger::default).await.map_err(internal)?);
        Ok(self.sandbox.get_or_init(|| recovered).clone())
    }

    /// The MAC of a notification: HMAC-SHA256 over `timestamp \n nonce \n body \n`.
    fn mac(&self, timestamp: i64, nonce: &str, body: &[u8]) -> Option<HmacSha256> {
        let mut mac = <HmacSha256 as Mac>::new_from_slice(&self.key).ok()?;
        mac.update(format!("{timestamp}\n{nonce}\n").as_bytes());
        mac.update(body);
        mac.update(b"\n");
        Some(mac)
    }

    /// A notification's signature, hex (the sandbox provider's side).
    pub fn sign(&self, timestamp: i64, nonce: &str, body: &[u8]) -> String {
        self.mac(timestamp, nonce, body).map(|m| m.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()).unwrap_or_default()
    }

    /// Whether a nonce is new within the skew window (each is taken once).
    fn fresh_nonce(&self, nonce: String, ts: i64, now: DateTime<Utc>) -> bool {
        let mut seen = self.nonces.lock().unwrap_or_else(|e| e.into_inner());
        seen.retain(|_, at| (now.timestamp() - *at).abs() <= SKEW_SECS);
        seen.insert(nonce, ts).is_none()
    }

    /// Why a notification is not believed, if it is not.
    fn verify(&self, headers: &HeaderMap, body: &[u8], now: DateTime<Utc>) -> Result<(), &'static str> {
        let (ts, nonce, given) = signed(headers, ["hutong-pay-timestamp", "hutong-pay-nonce", "hutong-pay-signature"], now)?;
        // Compared in constant time.
        self.mac(ts, &nonce, body).ok_or("signature")?.verify_slice(&given).map_err(|_| "signature")?;
        if !self.fresh_nonce(format!("provider/{nonce}"), ts, now) {
            return Err("replayed");
        }
        Ok(())
    }
}

// ---- The owner's side ----

/// One of the owner's houses with its bills, newest first.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct OwnerHouse {
    pub community: String,
    pub house: String,
    pub address: String,
    /// 待支付: pending or partly paid.
    #[schema(value_type = Vec<Object>)]
    pub pending: Vec<BillRow>,
    /// 已支付.
    #[schema(value_type = Vec<Object>)]
    pub paid: Vec<BillRow>,
}

fn owner_of(caller: &Caller) -> Result<&str, ApiError> {
    match &caller.principal.subject {
        Subject::Owner { phone } => Ok(phone),
        Subject::Staff { .. } => Err(ApiError::NotStaff),
    }
}

/// Where an owner's house is: its community and building. Another house does not exist (404).
fn place_of(app: &App, caller: &Caller, house: &str) -> Result<(CommunityId, BuildingId, HouseId), ApiError> {
    let missing = || ApiError::not_found("房屋", "house", house);
    let id = caller.principal.houses.get(house).ok_or_else(missing)?;
    for community in &caller.principal.scope.communities {
        let Ok(c) = app.community(community.as_str()) else { continue };
        if let Some(b) = crate::billing::building_of_house(app, &c, id.as_str()) {
            return Ok((community.clone(), b, id.clone()));
        }
    }
    Err(missing())
}

async fn bills_of(app: &App, building: &BuildingId, house: &HouseId) -> Result<Vec<BillRow>, ApiError> {
    let query = BillQuery { house: Some(house.to_string()), ..BillQuery::default() };
    let mut rows = crate::billing::building(app, building)?.find(query).await?;
    rows.sort_by(|a, b| (b.period_start, &b.no).cmp(&(a.period_start, &a.no)));
    Ok(rows)
}

fn open(state: BillState) -> bool {
    state.is_open()
}

/// The day from which a resident sees a house's payments (N4): a week before they joined it, as
/// its book records them; a resident the book does not name (a portal the office opened) sees all.
async fn sees_payments_from(app: &App, building: &BuildingId, house: &HouseId, phone: &str, community: &str) -> Option<chrono::NaiveDate> {
    let c = app.community(community).ok()?;
    let address = c.address_of(house)?.dash_form();
    let records = crate::billing::building(app, building).ok()?.houses(&address, true).await.ok()?;
    let since = records.iter().find(|h| &h.id == house)?.residents.iter().find(|r| r.phone == phone)?.since;
    since.checked_sub_days(chrono::Days::new(7))
}

/// `GET /api/v1/owner/houses`: every house the owner has, with 待支付 and 已支付 — the paid ones
/// from a week before the owner joined the house (N4).
pub async fn houses(State(app): State<Arc<App>>, Extension(caller): Extension<Caller>) -> Result<Json<Vec<OwnerHouse>>, ApiError> {
    let phone = owner_of(&caller)?.to_string();
    let mut out = Vec::new();
    for house in &caller.principal.houses {
        let Ok((community, building, id)) = place_of(&app, &caller, house.as_str()) else { continue };
        let rows = bills_of(&app, &building, &id).await?;
        let from = sees_payments_from(&app, &building, &id, &phone, community.as_str()).await;
        let address = rows.first().map(|r| r.address.clone()).or_else(|| app.community(community.as_str()).ok().and_then(|c| c.address_of(&id)).map(|a| a.dash_form())).unwrap_or_default();
        let (pending, mut paid): (Vec<BillRow>, Vec<BillRow>) = rows.into_iter().filter(|r| !matches!(r.state, BillState::Deleted | BillState::Voided)).partition(|r| open(r.state));
        if let Some(from) = from {
            paid.retain(|r| r.paid_at.is_some_and(|at| at.date() >= from));
        }
        out.push(OwnerHouse { community: community.to_string(), house: id.to_string(), address, pending, paid });
    }
    Ok(Json(out))
}

/// The bills an owner picked to pay at once.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PayBody {
    pub house: String,
    pub bills: Vec<String>,
}

/// An order opened at the provider, and where the owner pays it.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct OrderOpened {
    pub order: String,
    pub community: String,
    #[schema(value_type = String)]
    pub amount: Money,
    /// The provider's hosted checkout page.
    pub checkout_url: String,
}

/// `POST /api/v1/owner/payments` (合并支付): one order for the picked bills of one house, at what
/// they owe now. Within one fee item the earliest bill goes first: a later one cannot be paid
/// while an earlier one of the same item stays open.
pub async fn pay(State(app): State<Arc<App>>, Extension(caller): Extension<Caller>, ApiJson(body): ApiJson<PayBody>) -> Result<Json<OrderOpened>, ApiError> {
    let phone = owner_of(&caller)?.to_string();
    let (community, building, house) = place_of(&app, &caller, &body.house)?;
    if body.bills.is_empty() || body.bills.len() > 100 {
        return Err(ApiError::bad("请选择 1–100 张待支付账单", "pick 1 to 100 bills to pay"));
    }
    let rows = bills_of(&app, &building, &house).await?;
    let mut amount = Money::ZERO;
    for no in &body.bills {
        let row = rows.iter().find(|r| &r.no == no && open(r.state)).ok_or_else(|| ApiError::bad(&format!("账单 {no} 不是本房屋的待支付账单"), &format!("bill {no} is not an open bill of this house")))?;
        let earlier = rows.iter().find(|r| r.item == row.item && open(r.state) && r.period_start < row.period_start && !body.bills.contains(&r.no));
        if let Some(e) = earlier {
            return Err(ApiError::bad(&format!("请先缴纳同一收费项目较早的账单 {}", e.no), &format!("pay the earlier bill {} of the same item first", e.no)));
        }
        let owed = Money::from_decimal(row.amount.amount() - row.paid.amount());
        amount = amount.checked_add(owed).ok_or_else(|| ApiError::bad("金额过大", "the amount is too large"))?;
    }
    let desk = app.pay.desk(&app, community.as_str()).await?;
    let command = PayCommand::Open { house: house.clone(), building, bills: body.bills.clone(), amount, payer: mask_phone(&phone), at: app.clock.now() };
    let committed = desk.execute(&command, app.clock.now().timestamp_millis()).await.map_err(|e| ApiError::bad(&e.to_string(), &e.to_string()))?;
    let Some(PayEvent::Opened { order }) = committed.events.first() else { return Err(internal("an order opened with no event")) };
    // The provider learns the order and its amount (WeChat Pay's unified order).
    let sandbox = app.pay.sandbox(&app).await?;
    sandbox.execute(&SandboxCommand::Register { community: community.to_string(), order: order.no.clone(), amount }, app.clock.now().timestamp_millis()).await.map_err(internal)?;
    Ok(Json(OrderOpened { order: order.no.clone(), community: community.to_string(), amount, checkout_url: format!("/sandbox/checkout/{community}/{}", order.no) }))
}

#[derive(Deserialize)]
pub struct OrderQuery {
    /// The community the order (or receipt) is of; without it, each of the owner's in turn.
    #[serde(default)]
    pub community: Option<String>,
}

/// The owner's communities an object may be of: the one named (if theirs), or all of theirs.
fn owner_communities(caller: &Caller, named: Option<&str>) -> Vec<String> {
    caller.principal.scope.communities.iter().map(|c| c.to_string()).filter(|c| named.is_none_or(|n| n == c)).collect()
}

/// `GET /api/v1/owner/payments/{order}[?community=]`: the order as it stands. An order still open
/// a few seconds after it was opened is asked about at the provider (its notification may be
/// lost); what the provider answers is taken as a verified notification.
pub async fn order(State(app): State<Arc<App>>, Extension(caller): Extension<Caller>, Path(order): Path<String>, Query(q): Query<OrderQuery>) -> Result<Json<PayOrder>, ApiError> {
    owner_of(&caller)?;
    let missing = || ApiError::not_found("支付订单", "payment order", &order);
    for community in owner_communities(&caller, q.community.as_deref()) {
        let desk = app.pay.desk(&app, &community).await?;
        let Some(found) = desk.read().orders.get(&order).cloned().filter(|o| caller.principal.houses.contains(&o.house)) else { continue };
        if found.state == OrderState::Open && (app.clock.now() - found.opened_at).num_seconds() >= QUERY_AFTER_SECS {
            let paid = app.pay.sandbox(&app).await?.read().paid(&community, &order);
            if let Some(notification) = paid {
                settle(&app, &community, notification).await?;
            }
        }
        let now = desk.read().orders.get(&order).cloned().ok_or_else(missing)?;
        return Ok(Json(now));
    }
    Err(missing())
}

// ---- The provider's notification ----

/// The body of a notification (the sandbox's; a real provider's adapter decrypts theirs to this).
#[derive(Serialize, Deserialize, ToSchema)]
pub struct NotifyBody {
    pub community: String,
    pub order: String,
    pub txn: String,
    #[schema(value_type = String)]
    pub amount: Money,
    pub paid_at: DateTime<Utc>,
}

/// `POST /api/v1/pay/notify/sandbox` (public: the provider calls it). 200 `{"code":"SUCCESS"}`
/// once handled — a repeat included — so the provider stops retrying; 403 for what does not
/// verify, counted by reason.
pub async fn notify(State(app): State<Arc<App>>, headers: HeaderMap, body: Bytes) -> Response {
    let refused = |reason: &'static str, status: StatusCode| {
        app.metrics.inc("hutong_pay_notifications_refused_total", &[("reason", reason)]);
        (status, Json(serde_json::json!({"code": "FAIL", "message": reason}))).into_response()
    };
    if let Err(reason) = app.pay.verify(&headers, &body, app.clock.now()) {
        return refused(reason, StatusCode::FORBIDDEN);
    }
    let Ok(n) = serde_json::from_slice::<NotifyBody>(&body) else { return refused("body", StatusCode::BAD_REQUEST) };
    if app.community(&n.community).is_err() {
        return refused("community", StatusCode::BAD_REQUEST);
    }
    match settle(&app, &n.community, Notification { order: n.order, txn: n.txn, amount: n.amount, paid_at: n.paid_at }).await {
        // Counted once handled (booked included), so the count says what has taken effect.
        Ok(()) => {
            app.metrics.inc("hutong_pay_notifications_total", &[]);
            Json(serde_json::json!({"code": "SUCCESS"})).into_response()
        }
        // Not handled (a book that did not answer): the provider tries again later.
        Err(e) => e.into_response(),
    }
}

/// A verified notification (or the provider's answer to a query): the desk decides; the order,
/// paid now or by an earlier notification whose booking did not finish, is booked in the house's
/// book; an anomaly is raised as an alarm at once.
async fn settle(app: &App, community: &str, notification: Notification) -> Result<(), ApiError> {
    let desk = app.pay.desk(app, community).await?;
    let order = notification.order.clone();
    let committed = desk.execute(&PayCommand::Notified { notification, at: app.clock.now() }, app.clock.now().timestamp_millis()).await.map_err(|e| internal(e.to_string()))?;
    for event in &committed.events {
        if let PayEvent::Anomalous { record } = event {
            app.metrics.inc("hutong_pay_anomalies_total", &[]);
            if let Some(alarms) = app.directory.alarm_desk(community) {
                alarms.seen(AlarmCommand::Raise {
                    kind: AlarmKind::PaymentAnomaly,
                    device: DeviceId::new(format!("pay-{}", record.anomaly.order())),
                    building: None,
                    at: record.at,
                    text: record.anomaly.text(),
                    source: (StreamId::pay_desk(&CommunityId::new(community)).to_string(), committed.seqs.start),
                });
            }
        }
    }
    // Only this notification's order: each notification books its own (one book call), so a
    // storm of them costs what it carries, not every open order again.
    let waiting = desk.read().orders.get(&order).filter(|o| matches!(o.state, OrderState::Paid { payment: None, .. })).cloned();
    match waiting {
        Some(o) => book(app, community, &desk, o).await,
        None => Ok(()),
    }
}

/// Every order the provider paid that the book has not taken yet (after a crash between the
/// two): taken now, at start.
pub async fn book_paid(app: &App, community: &str, desk: &Shared<PayDesk>) -> Result<(), ApiError> {
    let waiting: Vec<PayOrder> = desk.read().unbooked().cloned().collect();
    for order in waiting {
        book(app, community, desk, order).await?;
    }
    Ok(())
}

/// The house's book takes a paid order's payment under the order's own key (a repeat answers
/// with the first payment), naming the provider's transaction; the desk records its receipt.
async fn book(app: &App, community: &str, desk: &Shared<PayDesk>, order: PayOrder) -> Result<(), ApiError> {
    let OrderState::Paid { txn, paid_at, .. } = &order.state else { return Ok(()) };
    let tz: chrono_tz::Tz = app.community(community)?.time_zone.parse().unwrap_or(chrono_tz::Asia::Shanghai);
    let request = PaymentRequest {
        key: format!("online/{}", order.no),
        house: order.house.clone(),
        bills: order.bills.clone(),
        amount: Some(order.amount),
        channel: PayChannel::WechatPay,
        payer: order.payer.clone(),
        by: "online".into(),
        at: paid_at.with_timezone(&tz).naive_local(),
        reference: Some(txn.clone()),
    };
    let paid = crate::billing::building(app, &order.building)?.pay(request).await?.map_err(ApiError::from)?;
    desk.execute(&PayCommand::Booked { order: order.no.clone(), payment: paid.payment.no.clone() }, app.clock.now().timestamp_millis()).await.map_err(|e| internal(e.to_string()))?;
    Ok(())
}

// ---- The sandbox provider ----

/// `GET /sandbox/checkout/{community}/{order}`: the provider's hosted checkout page.
pub async fn checkout_page(State(app): State<Arc<App>>, Path((community, order)): Path<(String, String)>) -> Result<Html<String>, ApiError> {
    let ledger = app.pay.sandbox(&app).await?;
    let (amount, paid) = ledger.read().order(&community, &order).ok_or_else(|| ApiError::not_found("支付订单", "payment order", &order))?;
    let action = if paid {
        "<p class=done>该订单已支付</p>".to_string()
    } else {
        format!("<form method=post action=\"/sandbox/checkout/{community}/{order}\"><button data-test=sandbox-pay>确认支付 ¥{amount}</button></form>")
    };
    Ok(Html(format!(
        "<!doctype html><html lang=zh><meta charset=utf-8><meta name=viewport content=\"width=device-width,initial-scale=1\"><title>沙箱支付</title>\
         <style>body{{font-family:sans-serif;background:#f4f6f8;margin:0;padding:2rem 1rem;text-align:center}}.card{{background:#fff;border-radius:.8rem;padding:1.5rem;max-width:24rem;margin:auto}}button{{font-size:1.2rem;padding:.8rem 2rem;background:#07c160;color:#fff;border:0;border-radius:.5rem}}</style>\
         <div class=card><h1>沙箱支付</h1><p>商户订单 {order}</p><p data-test=sandbox-amount style=\"font-size:2rem\">¥{amount}</p>{action}<p><a href=\"/\">返回</a></p></div></html>"
    )))
}

#[derive(Deserialize)]
pub struct ChargeQuery {
    /// How many times the provider notifies (0: the notification is lost, and Hutong must ask;
    /// several: a retry storm); 1 by default.
    #[serde(default)]
    pub notify: Option<u8>,
}

/// `POST /sandbox/checkout/{community}/{order}`: the owner confirms on the provider's page. The
/// provider records the transaction, then notifies Hutong on its own, retrying until answered.
pub async fn charge(State(app): State<Arc<App>>, Path((community, order)): Path<(String, String)>, Query(q): Query<ChargeQuery>) -> Result<Html<String>, ApiError> {
    let ledger = app.pay.sandbox(&app).await?;
    let txn = format!("sbx{}", hex_id());
    let command = SandboxCommand::Charge { community: community.clone(), order: order.clone(), txn, at: app.clock.now() };
    ledger.execute(&command, app.clock.now().timestamp_millis()).await.map_err(|e| ApiError::bad(&e.to_string(), &e.to_string()))?;
    let Some(paid) = ledger.read().paid(&community, &order) else { return Err(internal("a charge left no transaction")) };
    let times = q.notify.unwrap_or(1).min(5);
    for _ in 0..times {
        deliver(app.clone(), community.clone(), paid.clone());
    }
    Ok(Html(format!(
        "<!doctype html><html lang=zh><meta charset=utf-8><meta name=viewport content=\"width=device-width,initial-scale=1\"><title>支付成功</title>\
         <div style=\"font-family:sans-serif;text-align:center;padding:2rem\"><h1 data-test=sandbox-done>支付成功</h1><p>¥{}</p><p><a data-test=sandbox-back href=\"/owner\">返回缴费页</a></p></div></html>",
        paid.amount
    )))
}

/// The provider's notifier: signed and sent on a task of its own, a few attempts. One that never
/// arrives is no loss: Hutong asks the provider about an order still open (`order` above).
fn deliver(app: Arc<App>, community: String, paid: Notification) {
    tokio::spawn(async move {
        let Some(base) = app.pay.notify_base.get().cloned() else {
            tracing::warn!("the sandbox provider has no address to notify");
            return;
        };
        let body = serde_json::to_vec(&NotifyBody { community, order: paid.order, txn: paid.txn, amount: paid.amount, paid_at: paid.paid_at }).unwrap_or_default();
        for _ in 0..3 {
            let (ts, nonce) = (Utc::now().timestamp(), hex_id());
            let signature = app.pay.sign(ts, &nonce, &body);
            let sent = app
                .pay
                .client
                .post(format!("{base}/api/v1/pay/notify/sandbox"))
                .header("Content-Type", "application/json")
                .header("Hutong-Pay-Timestamp", ts.to_string())
                .header("Hutong-Pay-Nonce", nonce)
                .header("Hutong-Pay-Signature", signature)
                .body(body.clone())
                .send()
                .await;
            if sent.is_ok_and(|r| r.status().is_success()) {
                return;
            }
        }
        tracing::warn!("the sandbox provider could not notify an order; Hutong will ask about it");
    });
}

fn hex_id() -> String {
    use argon2::password_hash::rand_core::{OsRng, RngCore};
    let mut bytes = [0u8; 12];
    OsRng.fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

// ---- Reconciliation (一键对账) ----

/// A range of days in the community's zone, both included.
#[derive(Deserialize)]
pub struct Days {
    pub from: chrono::NaiveDate,
    pub to: chrono::NaiveDate,
}

/// The instants a range of local days spans, `[from 00:00, to + 1 00:00)`.
fn span(app: &App, community: &str, days: &Days) -> Result<(chrono_tz::Tz, DateTime<Utc>, DateTime<Utc>), ApiError> {
    if days.to < days.from || (days.to - days.from).num_days() > 366 {
        return Err(ApiError::bad("对账日期范围须为 1–366 天，且开始不晚于结束", "a range of 1 to 366 days, from no later than to"));
    }
    let tz: chrono_tz::Tz = app.community(community)?.time_zone.parse().unwrap_or(chrono_tz::Asia::Shanghai);
    let at = |d: chrono::NaiveDate| d.and_hms_opt(0, 0, 0).and_then(|t| t.and_local_timezone(tz).earliest()).map(|t| t.with_timezone(&Utc));
    let (Some(from), Some(to)) = (at(days.from), days.to.succ_opt().and_then(at)) else { return Err(ApiError::bad("日期无效", "invalid dates")) };
    Ok((tz, from, to))
}

/// `GET …/reconciliation?from=&to=` (P10): the provider's statement for those days against the
/// orders recorded as paid — arrived, not arrived, anomalies, with the seed's totals.
pub async fn reconciliation(State(app): State<Arc<App>>, Path(community): Path<String>, Query(days): Query<Days>) -> Result<Json<hutong_core::pay::Reconciliation>, ApiError> {
    let (_, from, to) = span(&app, &community, &days)?;
    let statement = app.pay.sandbox(&app).await?.read().statement(&community, from, to);
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

/// A signed request's timestamp (within the skew of `now`), nonce and signature bytes, from the
/// headers named — or why not (`unsigned`, `stale`, `signature`).
fn signed(headers: &HeaderMap, [ts, nonce, signature]: [&str; 3], now: DateTime<Utc>) -> Result<(i64, String, Vec<u8>), &'static str> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
    let (Some(ts), Some(nonce), Some(signature)) = (header(ts), header(nonce), header(signature)) else { return Err("unsigned") };
    let ts: i64 = ts.parse().map_err(|_| "unsigned")?;
    if (now.timestamp() - ts).abs() > SKEW_SECS {
        return Err("stale");
    }
    Ok((ts, nonce, unhex(&signature).ok_or("signature")?))
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    (0..text.len()).step_by(2).map(|i| text.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok())).collect()
}

// ---- The finance software's pull (P11) ----

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
    if !app.pay.fresh_nonce(format!("finance/{nonce}"), ts, now) {
        return refused("replayed");
    }
    let days = Days { from: q.from, to: q.to };
    let (from, to) = match span(&app, &q.community, &days) {
        Ok((_, from, to)) => (from, to),
        Err(e) => return e.into_response(),
    };
    let lines = match app.pay.sandbox(&app).await {
        Ok(s) => s.read().statement(&q.community, from, to),
        Err(e) => return e.into_response(),
    };
    let reconciliation = hutong_core::pay::reconcile(&lines, &desk.read(), from, to);
    app.metrics.inc("hutong_finance_pulls_total", &[]);
    Json(FinanceStatement { community: q.community, from: q.from, to: q.to, lines, reconciliation }).into_response()
}

// ---- Collection QR codes (P8) ----

/// A QR code as SVG: one square per dark module, a quiet zone of four.
pub fn qr_svg(text: &str) -> Result<String, ApiError> {
    let code = qrcode::QrCode::with_error_correction_level(text.as_bytes(), qrcode::EcLevel::M).map_err(|e| internal(e.to_string()))?;
    let width = code.width();
    let squares: String = code
        .to_colors()
        .iter()
        .enumerate()
        .filter(|(_, c)| **c == qrcode::Color::Dark)
        .map(|(n, _)| format!("M{} {}h1v1h-1z", n % width + 4, n / width + 4))
        .collect();
    let side = width + 8;
    Ok(format!("<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {side} {side}\" shape-rendering=\"crispEdges\"><rect width=\"{side}\" height=\"{side}\" fill=\"#fff\"/><path d=\"{squares}\" fill=\"#000\"/></svg>"))
}

/// Where the community's collection code leads: the owner portal, on this server.
pub(crate) fn portal_url(app: &App, headers: &HeaderMap, community: &str) -> String {
    let base = app.public_url.clone().unwrap_or_else(|| {
        let host = headers.get(axum::http::header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("localhost");
        format!("{}://{host}", if app.https { "https" } else { "http" })
    });
    format!("{base}/owner?community={community}")
}

#[derive(Deserialize)]
pub struct CodeFormat {
    /// `svg` for the image alone (to save or put on a notice); the printable page otherwise.
    #[serde(default)]
    pub format: String,
}

/// `GET …/collection-code` (P8, the seed's 收款码): the community's QR code for owners — a
/// printable page (微信扫一扫缴纳费用) or, with `?format=svg`, the image alone. Scanned, it opens the
/// owner portal: a registered owner signs in and sees their bills; anyone else is led to register.
pub async fn collection_code(State(app): State<Arc<App>>, Path(community): Path<String>, headers: HeaderMap, Query(f): Query<CodeFormat>) -> Result<Response, ApiError> {
    let c = app.community(&community)?;
    let url = portal_url(&app, &headers, &community);
    let svg = qr_svg(&url)?;
    if f.format == "svg" {
        return Ok(([(axum::http::header::CONTENT_TYPE, "image/svg+xml")], svg).into_response());
    }
    let name = c.name.replace('<', "&lt;");
    Ok(Html(format!(
        "<!doctype html><html lang=zh><meta charset=utf-8><title>{name} 收款码</title>\
         <body style=\"font-family:sans-serif;text-align:center;padding:2rem\"><h1>{name}</h1><h2>微信扫一扫缴纳费用</h2>\
         <div data-test=collection-code style=\"width:18rem;margin:auto\">{svg}</div><p>{url}</p>\
         <p><a href=\"?format=svg\" download=\"{community}-collection-code.svg\">保存为图片</a> · <a href=\"javascript:print()\">打印</a></p></body></html>"
    ))
    .into_response())
}

// ---- Notices in the owner's portal (N1 in-app) ----

/// A notice as an owner reads it: an announcement, or a reminder of what a home owes.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct OwnerNotice {
    pub community: String,
    pub no: u64,
    pub title: String,
    pub body: String,
    pub at: DateTime<Utc>,
    /// `notice` (公告) or `reminder` (缴费提醒).
    #[serde(default)]
    pub kind: String,
    /// The home a reminder is about (pay it from there).
    #[serde(default)]
    pub house: Option<String>,
}

/// `GET /api/v1/owner/notices`: the announcements for the owner's homes — their communities' and
/// their buildings' — and the in-app reminders of what those homes owe (N1), newest first;
/// withdrawn announcements are gone from here.
pub async fn notices(State(app): State<Arc<App>>, Extension(caller): Extension<Caller>) -> Result<Json<Vec<OwnerNotice>>, ApiError> {
    owner_of(&caller)?;
    let mut out = Vec::new();
    for community in &caller.principal.scope.communities {
        let Ok(c) = app.community(community.as_str()) else { continue };
        let homes: Vec<HouseId> = caller.principal.houses.iter().filter(|h| c.address_of(h).is_some()).cloned().collect();
        let buildings: Vec<BuildingId> = homes.iter().filter_map(|h| crate::billing::building_of_house(&app, &c, h.as_str())).collect();
        for m in app.outbox.in_app(community.as_str(), &homes) {
            let house = m.house.map(|h| h.to_string());
            out.push(OwnerNotice { community: community.to_string(), no: m.id, title: "缴费提醒".into(), body: m.text, at: m.queued_at, kind: "reminder".into(), house });
        }
        let Ok(desk) = crate::work_orders::desk(&app, community.as_str()) else { continue };
        let read = desk.read();
        for n in read.notices.iter().filter(|n| n.withdrawn.is_none() && (n.buildings.is_empty() || n.buildings.iter().any(|b| buildings.contains(b)))) {
            out.push(OwnerNotice { community: community.to_string(), no: n.no, title: n.title.clone(), body: n.body.clone(), at: n.at, kind: "notice".into(), house: None });
        }
    }
    out.sort_by(|a, b| b.at.cmp(&a.at));
    Ok(Json(out))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct OwnerReceiptQuery {
    /// The community the receipt is of; without it, each of the owner's in turn.
    #[serde(default)]
    pub community: Option<String>,
    /// `html` for the print page; a PDF otherwise.
    #[serde(default)]
    pub format: String,
}

/// `GET /api/v1/owner/receipts/{payment}[?community=]`: the receipt of a payment for one of the
/// owner's homes (P7), as a PDF or print page. Another home's receipt, or one from before a
/// newcomer may see the home's payments (N4), does not exist for them.
pub async fn receipt(State(app): State<Arc<App>>, Extension(caller): Extension<Caller>, Path(no): Path<String>, Query(q): Query<OwnerReceiptQuery>) -> Result<Response, ApiError> {
    let phone = owner_of(&caller)?.to_string();
    for community in owner_communities(&caller, q.community.as_deref()) {
        let Ok(c) = app.community(&community) else { continue };
        let Some(building) = crate::billing::building_of_no(&c, &no) else { continue };
        let Some(facts) = crate::billing::building(&app, &building)?.receipt(&no).await? else { continue };
        let house = facts.payment.house.clone();
        if !caller.principal.houses.contains(&house) {
            continue;
        }
        let from = sees_payments_from(&app, &building, &house, &phone, &community).await;
        if from.is_some_and(|from| facts.payment.at.date() < from) {
            continue;
        }
        let r = crate::billing::pay::receipt_from(&app, &c, facts);
        return crate::billing::pay::render_receipt(r, &crate::billing::pay::ReceiptQuery { format: q.format }, &no).await;
    }
    Err(ApiError::not_found("收据", "receipt", &no))
}

// ---- Registration of owners not known yet (R6) ----

/// Someone who scanned the collection code but is not registered asks to be.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegistrationBody {
    pub community: String,
    /// The house, in either address form (`荷花苑-1-1-101`).
    pub address: String,
    pub name: String,
    pub phone: String,
    /// owner, tenant or family; owner when left out.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub relation: Option<hutong_core::book::Relation>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct RegistrationTaken {
    pub no: u64,
    pub message: String,
}

/// `POST /api/v1/owner/registrations` (public, a few per address in 15 minutes): a request the
/// property office approves. The answer is the same whether the phone is known or not.
pub async fn register(
    State(app): State<Arc<App>>,
    axum::extract::ConnectInfo(crate::tls::Peer(addr)): axum::extract::ConnectInfo<crate::tls::Peer>,
    headers: HeaderMap,
    ApiJson(b): ApiJson<RegistrationBody>,
) -> Result<Json<RegistrationTaken>, ApiError> {
    use crate::identity::limit::Key;
    let ip = crate::auth::client_addr(&app.trusted_proxies, Some(addr.ip()), &headers);
    let now = Utc::now();
    if let Some(until) = app.identity.limiter.locked_until(&[Key::Address(ip.clone()), Key::Reports(ip.clone())], now) {
        let at = until.format("%H:%M:%S UTC");
        return Err(ApiError::RateLimited { zh: format!("提交过于频繁，请在 {at} 之后再试"), en: format!("too many requests; try again after {at}") });
    }
    app.identity.limiter.fail(&[Key::Reports(ip)], now);
    let phone = b.phone.trim().to_string();
    if !hutong_core::identity::is_mobile(&phone) {
        return Err(ApiError::bad("手机号应为 11 位数字", "the phone must be 11 digits"));
    }
    let c = app.community(&b.community)?;
    let company = app.identity.org().company_of(&b.community).cloned().ok_or_else(|| ApiError::not_found("小区", "community", &b.community))?;
    let house = crate::billing::resolve_house(&app, &c, &b.address).ok_or_else(|| ApiError::bad(&format!("找不到房屋“{}”", b.address.trim()), &format!("no house at “{}”", b.address.trim())))?;
    let address = c.address_of(&house).map(|a| a.dash_form()).unwrap_or_default();
    let request = hutong_core::identity::OwnerRequest {
        no: 0,
        company,
        community: c.id.clone(),
        house,
        address,
        name: b.name.trim().to_string(),
        phone,
        relation: b.relation.unwrap_or(hutong_core::book::Relation::Owner),
        at: app.clock.now(),
        decided: None,
    };
    let events = app.identity.change(hutong_core::identity::OrgCommand::RequestOwner { request }).await?;
    let no = events.iter().find_map(|e| match e {
        hutong_core::identity::OrgEvent::OwnerRequested { request } => Some(request.no),
        _ => None,
    });
    Ok(Json(RegistrationTaken { no: no.unwrap_or_default(), message: "已提交，物业审核通过后即可用手机号登录 / sent: sign in with your phone once the office approves".into() }))
}

/// A registration request as the office sees it (the phone masked unless they may see it).
#[derive(Serialize, Deserialize, ToSchema)]
pub struct RegistrationView {
    pub no: u64,
    pub address: String,
    pub name: String,
    pub phone: String,
    pub relation: String,
    pub at: DateTime<Utc>,
    /// `waiting`, `approved` or `rejected`.
    pub state: String,
    pub note: String,
}

/// The community's requests a caller may handle: a butler, their buildings' only.
fn requests_in_sight(app: &App, caller: &Caller, community: &str) -> Result<Vec<hutong_core::identity::OwnerRequest>, ApiError> {
    let c = app.community(community)?;
    let org = app.identity.org();
    Ok(org
        .owner_requests
        .values()
        .filter(|r| r.community.as_str() == community && r.company == caller.principal.company)
        .filter(|r| crate::billing::building_of_house(app, &c, r.house.as_str()).is_some_and(|b| crate::billing::in_scope(caller, &b)))
        .cloned()
        .collect())
}

/// `GET …/owner-registrations`: newest first.
pub async fn registrations(State(app): State<Arc<App>>, Extension(caller): Extension<Caller>, Path(community): Path<String>) -> Result<Json<Vec<RegistrationView>>, ApiError> {
    let unmasked = caller.principal.may(hutong_core::identity::Permission::UnmaskPersonalData);
    let mut list: Vec<RegistrationView> = requests_in_sight(&app, &caller, &community)?
        .into_iter()
        .map(|r| RegistrationView {
            no: r.no,
            address: r.address,
            name: r.name,
            phone: if unmasked { r.phone } else { mask_phone(&r.phone) },
            relation: r.relation.label_zh().into(),
            at: r.at,
            state: match &r.decided { None => "waiting", Some((true, ..)) => "approved", Some((false, ..)) => "rejected" }.into(),
            note: r.decided.map(|(_, _, note)| note).unwrap_or_default(),
        })
        .collect();
    list.reverse();
    Ok(Json(list))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionBody {
    pub approve: bool,
    #[serde(default)]
    pub note: String,
}

/// `POST …/owner-registrations/{registration}/decide`: approved, the person is the house's
/// resident in its book and may sign in to the portal; or turned down with a note (audited).
pub async fn decide_registration(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    Path((community, no)): Path<(String, u64)>,
    ApiJson(b): ApiJson<DecisionBody>,
) -> Result<Json<RegistrationTaken>, ApiError> {
    let request = requests_in_sight(&app, &caller, &community)?.into_iter().find(|r| r.no == no).ok_or_else(|| ApiError::not_found("登记申请", "registration request", &no.to_string()))?;
    if b.note.chars().count() > 200 {
        return Err(ApiError::bad("备注至多 200 字", "a note is at most 200 characters"));
    }
    let by = crate::billing::actor_name(&caller);
    let command = hutong_core::identity::OrgCommand::DecideOwnerRequest { company: caller.principal.company.clone(), no, approve: b.approve, by, note: b.note.clone() };
    app.identity.change(command).await?;
    if b.approve {
        let c = app.community(&community)?;
        let building = crate::billing::building_of_house(&app, &c, request.house.as_str()).ok_or_else(|| ApiError::not_found("房屋", "house", request.house.as_str()))?;
        let today = crate::billing::local_now(&app, &c).date();
        let resident = hutong_core::book::Resident { name: request.name.clone(), phone: request.phone.clone(), id_number: None, relation: request.relation, vip: false, since: today };
        let change = hutong_core::book::ResidentChange::Put { house: request.house.clone(), resident, replacing: None };
        match crate::billing::command(&app, &building, hutong_core::book::BookCommand::ChangeResidents { changes: vec![change], today }).await? {
            // Already a resident of the house: the portal opens to them all the same.
            Ok(_) | Err(hutong_core::book::BookError::ResidentTwice(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let action = if b.approve { "owner_registration.approve" } else { "owner_registration.reject" };
    app.identity.audit(crate::audit::audit_entry(&caller, action, &no.to_string(), None, Some(serde_json::json!({"house": request.house, "note": b.note})))).await.map_err(internal)?;
    let message = if b.approve { "已通过，业主可用手机号登录 / approved" } else { "已驳回 / turned down" };
    Ok(Json(RegistrationTaken { no, message: message.into() }))
}

/// The office opens the portal to an owner of some homes (开通业主), e.g. at handover.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OwnerBody {
    pub phone: String,
    /// Houses of this community (ids or addresses), at most 10,000.
    pub houses: Vec<String>,
}

/// `POST …/owners`: the phone may sign in to the portal for these houses (audited). A butler,
/// only for houses of their buildings.
pub async fn open_portal(State(app): State<Arc<App>>, Extension(caller): Extension<Caller>, Path(community): Path<String>, ApiJson(b): ApiJson<OwnerBody>) -> Result<Json<serde_json::Value>, ApiError> {
    let phone = b.phone.trim().to_string();
    if !hutong_core::identity::is_mobile(&phone) {
        return Err(ApiError::bad("手机号应为 11 位数字", "the phone must be 11 digits"));
    }
    if b.houses.is_empty() || b.houses.len() > 10_000 {
        return Err(ApiError::bad("房屋须为 1–10000 户", "1 to 10,000 houses"));
    }
    let c = app.community(&community)?;
    let mut houses = Vec::with_capacity(b.houses.len());
    for text in &b.houses {
        let missing = || ApiError::not_found("房屋", "house", text);
        let house = crate::billing::resolve_house(&app, &c, text).ok_or_else(missing)?;
        crate::billing::building_of_house(&app, &c, house.as_str()).filter(|bd| crate::billing::in_scope(&caller, bd)).ok_or_else(missing)?;
        houses.push(house);
    }
    let command = hutong_core::identity::OrgCommand::RegisterOwner { company: caller.principal.company.clone(), phone: phone.clone(), community: c.id.clone(), houses: houses.clone() };
    app.identity.change(command).await?;
    let after = serde_json::json!({"phone": mask_phone(&phone), "houses": houses.len()});
    app.identity.audit(crate::audit::audit_entry(&caller, "owner.open_portal", &community, None, Some(after.clone()))).await.map_err(internal)?;
    Ok(Json(after))
}
