//! The owner's side (R6): their houses with 待支付 and 已支付, an order for the bills they pick
//! (合并支付), the order as it stands, notices and reminders, receipts.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Extension, Path, Query, State};
use axum::response::Response;
use chrono::{DateTime, Utc};
use hutong_core::bill::BillState;
use hutong_core::book::{BillQuery, BillRow};
use hutong_core::identity::{Subject, mask_phone};
use hutong_core::pay::{OrderState, PayCommand, PayEvent, PayOrder};
use hutong_core::{BuildingId, CommunityId, HouseId, Money};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::App;
use crate::auth::Caller;
use crate::error::{ApiError, ApiJson, internal};

/// How long an order waits for its notification before the provider is asked.
const QUERY_AFTER_SECS: i64 = 5;

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
    // The same bills asked again (a second tap, back from the checkout): the same order.
    let again = desk.read().reusable(&house, &body.bills, amount, app.clock.now()).cloned();
    if let Some(order) = again {
        let checkout_url = app.pay.provider.open(community.as_str(), &order.no, amount).await?;
        return Ok(Json(OrderOpened { order: order.no, community: community.to_string(), amount, checkout_url }));
    }
    let command = PayCommand::Open { house: house.clone(), building, bills: body.bills.clone(), amount, payer: mask_phone(&phone), at: app.clock.now() };
    let committed = desk.execute(&command, app.clock.now().timestamp_millis()).await.map_err(|e| ApiError::bad(&e.to_string(), &e.to_string()))?;
    let Some(PayEvent::Opened { order }) = committed.events.first() else { return Err(internal("an order opened with no event")) };
    // The provider learns the order and its amount (WeChat Pay's unified order).
    let checkout_url = app.pay.provider.open(community.as_str(), &order.no, amount).await?;
    Ok(Json(OrderOpened { order: order.no.clone(), community: community.to_string(), amount, checkout_url }))
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
            super::ask_provider(&app, &community, &order).await?;
        }
        let now = desk.read().orders.get(&order).cloned().ok_or_else(missing)?;
        return Ok(Json(now));
    }
    Err(missing())
}

// ---- Notices and reminders in the owner's portal (N1 in-app) ----

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
