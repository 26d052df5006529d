//! Owners pay from their phones (R6, P8–P11): their houses and bills, an order for the bills they
//! pick (合并支付), the provider's hosted checkout, and the provider's signed notification — the
//! only thing that marks a bill paid.
//!
//! A notification that verifies (`provider::Provider::verify`) goes to the community's pay desk
//! (`hutong_core::pay`), which checks the order and the amount; the house's book then takes the
//! payment under the order's key, naming the provider's transaction, so however often the
//! provider says it, it pays once. An order whose notification does not come is asked about
//! (`GET /api/v1/owner/payments/{order}` queries the provider). The modules: the owner's side
//! (`owner`), the provider and its sandbox (`provider`), 一键对账 (`reconcile`), the finance
//! software's pull (`finance`), collection codes (`code`) and owners' registration
//! (`registration`).

pub mod code;
pub mod finance;
pub mod owner;
pub mod provider;
pub mod reconcile;
pub mod registration;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use hmac::Hmac;
use hutong_actors::journal::Journal;
use hutong_actors::journaled::{Shared, StreamId};
use hutong_core::alarm::AlarmCommand;
use hutong_core::book::{PayChannel, PaymentRequest};
use hutong_core::live::AlarmKind;
use hutong_core::pay::{Notification, OrderState, PayCommand, PayDesk, PayEvent, PayOrder};
use hutong_core::{CommunityId, DeviceId, Money};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::App;
use crate::error::{ApiError, internal};
use provider::{Provider, Sandbox};

type HmacSha256 = Hmac<sha2::Sha256>;

/// How far a signed request's timestamp may be from Hutong's clock.
const SKEW_SECS: i64 = 300;

/// Online payments: each community's pay desk and the provider.
pub struct Payments {
    desks: Mutex<HashMap<String, Arc<Shared<PayDesk>>>>,
    /// The provider Hutong asks; the sandbox unless an adapter for a real one is configured.
    pub provider: Arc<dyn Provider>,
    /// The sandbox provider, whose checkout pages Hutong serves.
    pub sandbox: Arc<Sandbox>,
    /// Finance pulls' nonces seen within the skew window.
    nonces: Nonces,
}

impl Payments {
    /// `key`: what the sandbox provider signs its notifications with.
    pub fn new(key: Vec<u8>, journal: Arc<dyn Journal>) -> Self {
        let sandbox = Arc::new(Sandbox::new(key, journal));
        Payments { desks: Mutex::default(), provider: sandbox.clone(), sandbox, nonces: Nonces::default() }
    }

    /// A community's pay desk, recovered from its journal on first use.
    pub async fn desk(&self, app: &App, community: &str) -> Result<Arc<Shared<PayDesk>>, ApiError> {
        if let Some(d) = self.desks.lock().unwrap_or_else(|e| e.into_inner()).get(community) {
            return Ok(d.clone());
        }
        let recovered = Arc::new(Shared::recover(app.journal.clone(), StreamId::pay_desk(&CommunityId::new(community)), PayDesk::default).await.map_err(internal)?);
        Ok(self.desks.lock().unwrap_or_else(|e| e.into_inner()).entry(community.to_string()).or_insert(recovered).clone())
    }
}

/// An open order is asked about at the provider when its notification is this late (WeChat Pay
/// advises querying after a few minutes), and until it is a day old (then the owner abandoned
/// the checkout).
const QUERY_OVERDUE: chrono::TimeDelta = chrono::TimeDelta::minutes(2);
const QUERY_UNTIL: chrono::TimeDelta = chrono::TimeDelta::hours(24);
/// How often the overdue orders are looked for.
const QUERY_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

/// Once a minute, asks the provider about every order whose notification is overdue, and books
/// what it says was paid: a lost notification, and an owner who never came back to the portal to
/// ask, leave no money unbooked until reconciliation finds it.
pub async fn query_overdue(app: Arc<App>, shutdown: tokio_util::sync::CancellationToken) {
    let mut every = tokio::time::interval(QUERY_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = every.tick() => {}
        }
        // The communities this node runs now (one added since start included).
        for community in app.hub.communities().iter().map(|c| c.id.to_string()) {
            if let Err(e) = query_community(&app, &community).await {
                tracing::warn!(%community, error = %e, "overdue payment orders not asked about; trying again in a minute");
            }
        }
    }
}

async fn query_community(app: &App, community: &str) -> Result<(), ApiError> {
    let desk = app.pay.desk(app, community).await?;
    let overdue = desk.read().overdue(app.clock.now(), QUERY_OVERDUE, QUERY_UNTIL);
    for order in overdue {
        // One order the book could not take now does not hold up the others.
        match ask_provider(app, community, &order).await {
            Ok(true) => app.metrics.inc("hutong_pay_orders_found_paid_total", &[]),
            Ok(false) => {}
            Err(e) => tracing::warn!(%community, %order, error = %e, "an overdue order not settled; asked again in a minute"),
        }
    }
    Ok(())
}

/// Asks the provider about an open order and settles what it says was paid, as a verified
/// notification would; whether it was paid.
pub(crate) async fn ask_provider(app: &App, community: &str, order: &str) -> Result<bool, ApiError> {
    let Some(paid) = app.pay.provider.query(community, order).await? else { return Ok(false) };
    settle(app, community, paid).await?;
    Ok(true)
}

/// Nonces of signed requests seen within the skew window, with their timestamps: each is taken
/// once. Only requests whose signature verified get here, so a flood of forgeries cannot fill it.
#[derive(Default)]
pub(crate) struct Nonces(Mutex<HashMap<String, i64>>);

impl Nonces {
    /// Whether a nonce is new within the skew window (and takes it).
    pub(crate) fn fresh(&self, nonce: String, ts: i64, now: DateTime<Utc>) -> bool {
        let mut seen = self.0.lock().unwrap_or_else(|e| e.into_inner());
        seen.retain(|_, at| (now.timestamp() - *at).abs() <= SKEW_SECS);
        seen.insert(nonce, ts).is_none()
    }
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
    let (community, notification) = match app.pay.provider.verify(&headers, &body, app.clock.now()) {
        Ok(n) => n,
        Err(reason @ "body") => return refused(reason, StatusCode::BAD_REQUEST),
        Err(reason) => return refused(reason, StatusCode::FORBIDDEN),
    };
    if app.community(&community).is_err() {
        return refused("community", StatusCode::BAD_REQUEST);
    }
    match settle(&app, &community, notification).await {
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
pub(crate) async fn settle(app: &App, community: &str, notification: Notification) -> Result<(), ApiError> {
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

/// A range of days in the community's zone, both included.
#[derive(Deserialize)]
pub struct Days {
    pub from: chrono::NaiveDate,
    pub to: chrono::NaiveDate,
}

/// The instants a range of local days spans, `[from 00:00, to + 1 00:00)`.
pub(crate) fn span(app: &App, community: &str, days: &Days) -> Result<(chrono_tz::Tz, DateTime<Utc>, DateTime<Utc>), ApiError> {
    if days.to < days.from || (days.to - days.from).num_days() > 366 {
        return Err(ApiError::bad("对账日期范围须为 1–366 天，且开始不晚于结束", "a range of 1 to 366 days, from no later than to"));
    }
    let tz: chrono_tz::Tz = app.community(community)?.time_zone.parse().unwrap_or(chrono_tz::Asia::Shanghai);
    let at = |d: chrono::NaiveDate| d.and_hms_opt(0, 0, 0).and_then(|t| t.and_local_timezone(tz).earliest()).map(|t| t.with_timezone(&Utc));
    let (Some(from), Some(to)) = (at(days.from), days.to.succ_opt().and_then(at)) else { return Err(ApiError::bad("日期无效", "invalid dates")) };
    Ok((tz, from, to))
}

/// A signed request's timestamp (within the skew of `now`), nonce and signature bytes, from the
/// headers named — or why not (`unsigned`, `stale`, `signature`).
pub(crate) fn signed(headers: &HeaderMap, [ts, nonce, signature]: [&str; 3], now: DateTime<Utc>) -> Result<(i64, String, Vec<u8>), &'static str> {
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


pub(crate) fn hex_id() -> String {
    use argon2::password_hash::rand_core::{OsRng, RngCore};
    let mut bytes = [0u8; 12];
    OsRng.fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
