//! Work orders over HTTP (W1–W6). Staff register an order (for a public area, or on an owner's
//! behalf); the office (`work_orders.operate`) reviews, dispatches, outsources, closes, calls back
//! and archives; the person it is with (`work_orders.write`) accepts, scans the place's code on
//! arrival and on completion, draws materials and reports the job done with its charge. Every
//! step is the order's actor's to decide; the screens hear of it through `/ws/work`.
//!
//! A butler sees only the orders of their buildings; an order outside them does not exist for
//! them (404), as a bill or an alarm would not.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Extension, Path, Query, State};
use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;
use hutong_actors::work_order::{self as actor, OrderUnavailable, Staffing};
use hutong_core::alarm::Handler;
use hutong_core::identity::{BuiltinRole, Org};
use hutong_core::outbox::Outgoing;
use hutong_core::reminder::Channel;
use hutong_core::work_order::{DeskCommand, MaterialUse, OrderCommand, OrderError, OrderFigures, OrderKind, Origin, Place, Registration, ServiceRules, StockItem, Urgency, WorkOrder, WorkOrderTile};
use hutong_core::{CommunityId, DeviceId, HouseId, Money};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::App;
use crate::audit::audit_entry;
use crate::alarms::handler;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::scope::building_visible;

impl From<OrderError> for ApiError {
    fn from(e: OrderError) -> Self {
        let (zh, en) = ApiError::bilingual(&e);
        match e {
            OrderError::NotRegistered => ApiError::NotFound { zh, en },
            // Someone else holding the order is the order's state, not the caller's permissions.
            OrderError::Out { .. } | OrderError::AlreadyRegistered | OrderError::NotYours(_) => ApiError::Conflict { zh, en },
            _ => ApiError::BadRequest { zh, en },
        }
    }
}

impl From<hutong_core::work_order::DeskError> for ApiError {
    fn from(e: hutong_core::work_order::DeskError) -> Self {
        let (zh, en) = ApiError::bilingual(&e);
        match e {
            hutong_core::work_order::DeskError::NoItem(_) | hutong_core::work_order::DeskError::Notice(hutong_core::notice::NoticeError::NoSuchNotice(_)) => ApiError::NotFound { zh, en },
            hutong_core::work_order::DeskError::Short { .. } | hutong_core::work_order::DeskError::Notice(hutong_core::notice::NoticeError::Withdrawn(_)) => ApiError::Conflict { zh, en },
            _ => ApiError::BadRequest { zh, en },
        }
    }
}

impl From<OrderUnavailable> for ApiError {
    fn from(e: OrderUnavailable) -> Self {
        let (zh, en) = ApiError::bilingual(&e);
        ApiError::Unavailable { zh, en }
    }
}

/// The people around work orders, from the organisation; messages through the outbox (the
/// webhook channel when one is configured, else the log).
pub struct OrgStaffing {
    pub app: std::sync::Weak<App>,
}

/// Whether a staff member works in a community (enabled, in scope).
fn works_in(s: &hutong_core::identity::StaffRecord, community: &str) -> bool {
    !s.disabled && s.scope.communities.iter().any(|c| c.as_str() == community)
}

fn has_role(s: &hutong_core::identity::StaffRecord, role: BuiltinRole) -> bool {
    s.roles.iter().any(|r| BuiltinRole::from_id(r) == Some(role))
}

/// Level 1: the community's managers; level 2 (and above): the company's administrators.
fn above(org: &Org, community: &str, level: u8) -> Vec<Handler> {
    let role = if level >= hutong_core::work_order::TOP_LEVEL { BuiltinRole::Admin } else { BuiltinRole::Manager };
    let mut people: Vec<Handler> = org.staff.values().filter(|s| works_in(s, community) && has_role(s, role)).map(|s| Handler { account: s.account.clone(), name: s.name.clone() }).collect();
    people.sort_by(|a, b| a.account.cmp(&b.account));
    people
}

impl Staffing for OrgStaffing {
    fn above(&self, community: &CommunityId, level: u8) -> Vec<Handler> {
        let Some(app) = self.app.upgrade() else { return Vec::new() };
        let org = app.identity.org();
        above(&org, community.as_str(), level)
    }

    fn notify(&self, community: &CommunityId, to: &Handler, text: String) -> BoxFuture<'_, ()> {
        let community = community.clone();
        let account = to.account.clone();
        Box::pin(async move {
            let Some(app) = self.app.upgrade() else { return };
            let phone = {
                let org = app.identity.org();
                org.accounts.get(&account).and_then(|id| org.staff.get(id)).map(|s| s.phone.clone())
            };
            let body = serde_json::json!({"community": community, "to": account, "text": text}).to_string();
            let outgoing = Outgoing {
                community: Some(community),
                house: None,
                channel: Channel::Webhook,
                to: phone.into_iter().collect(),
                text,
                body: Some(body),
                reason: format!("工单通知 {account}"),
                at: Utc::now(),
            };
            if let Err(e) = app.outbox.queue(outgoing).await {
                tracing::error!(error = %e, "work-order notice not queued");
            }
        })
    }
}

/// The community's service desk (order numbers, rules, store, notices).
pub(crate) fn desk(app: &App, community: &str) -> Result<Arc<hutong_actors::journaled::Shared<hutong_core::work_order::ServiceDesk>>, ApiError> {
    app.community(community)?;
    app.directory.service_desk(community).ok_or_else(|| OrderUnavailable::NoDesk.into())
}

/// The order's actor and the order, if the caller may see it (a butler: their buildings').
async fn visible(app: &App, caller: &Caller, community: &str, order: &str) -> Result<(ractor::ActorRef<hutong_actors::work_order::OrderMsg>, WorkOrder), ApiError> {
    app.community(community)?;
    let missing = || ApiError::not_found("工单", "work order", order);
    let actor = app.directory.order(community, order).ok_or_else(missing)?;
    let state = actor::get(&actor).await?;
    let building = state.registration.as_ref().ok_or_else(missing)?.building.clone();
    if !building_visible(caller, building.as_ref()) {
        return Err(missing());
    }
    Ok((actor, state))
}

/// One step on an order, audited: the order must be one the caller sees before its body is
/// even read (an order outside their buildings does not exist for them, whatever they send).
async fn step<B>(
    app: &App,
    caller: &Caller,
    (community, order): (String, String),
    action: &str,
    body: Result<Json<B>, JsonRejection>,
    command: impl FnOnce(B, &WorkOrder, Handler, DateTime<Utc>) -> Result<OrderCommand, ApiError>,
) -> Result<Json<WorkOrder>, ApiError> {
    let (actor, state) = visible(app, caller, &community, &order).await?;
    let Json(body) = body.map_err(ApiError::body)?;
    let command = command(body, &state, handler(caller)?, app.clock.now())?;
    let after = actor::call(&actor, command).await??;
    app.identity.audit(audit_entry(caller, action, &format!("{community}/{order}"), None, None)).await.map_err(crate::error::internal)?;
    Ok(Json(after))
}

/// No body.
fn none() -> Result<Json<()>, JsonRejection> {
    Ok(Json(()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterBody {
    /// `repair`, `complaint` or `suggestion`.
    #[schema(value_type = String)]
    kind: OrderKind,
    /// 维修类别 (1–30 characters): 水电, 门窗, 电梯 …
    category: String,
    description: String,
    #[serde(default)]
    photos: Vec<String>,
    /// The house (a private home), or …
    #[serde(default)]
    house: Option<String>,
    /// … a device, or …
    #[serde(default)]
    device: Option<String>,
    /// … a public area, described.
    #[serde(default)]
    place: Option<String>,
    /// When the owner would like the visit.
    #[serde(default)]
    visit_at: Option<DateTime<Utc>>,
    /// Raised for an owner (their phone, to call back): an owner's order rather than staff's.
    #[serde(default)]
    owner_phone: Option<String>,
}

/// Registers an order: its place checked against the community (a house's address and VIP flag
/// from its book), its urgency and deadlines from the community's rules.
pub async fn register(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    Path(community): Path<String>,
    body: Result<Json<RegisterBody>, JsonRejection>,
) -> Result<Json<WorkOrder>, ApiError> {
    let c = app.community(&community)?;
    let Json(body) = body.map_err(ApiError::body)?;
    let by = handler(&caller)?;
    let (place, building, label, vip) = match (&body.house, &body.device, &body.place) {
        (Some(house), None, None) => {
            let (building, record) = find_house(&app, &c, house).await?;
            let vip = record.residents.iter().any(|r| r.vip);
            (Place::House { house: HouseId::new(house) }, Some(building), record.address_path.clone(), vip)
        }
        (None, Some(device), None) => {
            let view = app.hub.device(&community, device).ok_or_else(|| ApiError::not_found("设备", "device", device))?;
            (Place::Device { device: DeviceId::new(device) }, view.building.clone(), format!("设备 {device}"), false)
        }
        (None, None, Some(text)) => (Place::Public { text: text.clone() }, None, text.clone(), false),
        _ => return Err(ApiError::bad("请指明一处：房屋（house）、设备（device）或公共区域（place），只填一项", "name one place: a house, a device or a public area (place), exactly one")),
    };
    if !building_visible(&caller, building.as_ref()) {
        return Err(ApiError::not_found("房屋或设备", "house or device", body.house.as_deref().or(body.device.as_deref()).unwrap_or("")));
    }
    let origin = match body.owner_phone.filter(|p| !p.trim().is_empty()) {
        Some(phone) => Origin::Owner { phone },
        None => Origin::Staff { account: by.account.clone() },
    };
    let contact = match &origin {
        Origin::Owner { phone } => Some(phone.clone()),
        _ => None,
    };
    let registration = Registration { kind: body.kind, category: body.category.trim().to_string(), description: body.description, photos: body.photos, place, building, place_label: label, visit_at: body.visit_at, vip, origin, contact };
    let order = actor::open_order(&app.directory, &c.id, registration, app.clock.now()).await??;
    let id = order.id.as_ref().map(ToString::to_string).unwrap_or_default();
    app.identity.audit(audit_entry(&caller, "work_order.register", &format!("{community}/{id}"), None, None)).await.map_err(crate::error::internal)?;
    Ok(Json(order))
}

/// A house of the community, with its building.
async fn find_house(app: &App, c: &hutong_core::community::Community, house: &str) -> Result<(hutong_core::BuildingId, hutong_core::book::HouseRecord), ApiError> {
    let missing = || ApiError::not_found("房屋", "house", house);
    let building = c.buildings.iter().find(|b| b.units.iter().flat_map(|u| &u.floors).flat_map(|f| &f.houses).any(|h| h.id.as_str() == house)).ok_or_else(missing)?;
    let book = app.directory.building_ref(&building.id).ok_or_else(missing)?;
    let records = book.houses("", false).await?;
    let record = records.into_iter().find(|r| r.id.as_str() == house).ok_or_else(missing)?;
    Ok((building.id.clone(), record))
}

#[derive(Deserialize, ToSchema)]
pub struct ListQuery {
    /// Only orders with this person (`mine` for the caller).
    #[serde(default)]
    with: Option<String>,
}

/// The board: every order not yet archived the caller may see, most urgent and oldest first.
pub async fn list(State(app): State<Arc<App>>, Extension(caller): Extension<Caller>, Path(community): Path<String>, Query(q): Query<ListQuery>) -> Result<Json<Vec<WorkOrderTile>>, ApiError> {
    app.community(&community)?;
    let mut all = app.hub.work_orders(&community).unwrap_or_default();
    all.retain(|t| building_visible(&caller, t.building.as_ref()));
    if let Some(with) = q.with {
        let with = if with == "mine" { handler(&caller)?.account } else { with };
        all.retain(|t| t.assignee.as_ref().is_some_and(|a| a.account == with));
    }
    all.sort_by(|a, b| b.overdue.cmp(&a.overdue).then(b.urgency.cmp(&a.urgency)).then(a.registered_at.cmp(&b.registered_at)));
    Ok(Json(all))
}

/// One order in full: its registration, where it stands, its history.
pub async fn get(State(app): State<Arc<App>>, Extension(caller): Extension<Caller>, Path((community, order)): Path<(String, String)>) -> Result<Json<WorkOrder>, ApiError> {
    let (_, mut state) = visible(&app, &caller, &community, &order).await?;
    // A phone to call back is personal data.
    if !caller.principal.may(hutong_core::identity::Permission::UnmaskPersonalData) {
        if let Some(r) = state.registration.as_mut() {
            r.contact = r.contact.as_deref().map(hutong_core::identity::mask_phone);
            if let Origin::Owner { phone } = &mut r.origin {
                *phone = hutong_core::identity::mask_phone(phone);
            }
        }
    }
    Ok(Json(state))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewBody {
    #[serde(default)]
    category: Option<String>,
    /// `normal`, `urgent` or `critical`.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    urgency: Option<Urgency>,
}

pub async fn review(State(app): State<Arc<App>>, Extension(caller): Extension<Caller>, Path(at): Path<(String, String)>, body: Result<Json<ReviewBody>, JsonRejection>) -> Result<Json<WorkOrder>, ApiError> {
    step(&app, &caller, at, "work_order.review", body, |b, _, by, at| Ok(OrderCommand::Review { by, at, category: b.category, urgency: b.urgency })).await
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoteBody {
    #[serde(default)]
    note: String,
}

pub async fn cancel(State(app): State<Arc<App>>, Extension(caller): Extension<Caller>, Path(at): Path<(String, String)>, body: Result<Json<NoteBody>, JsonRejection>) -> Result<Json<WorkOrder>, ApiError> {
    step(&app, &caller, at, "work_order.cancel", body, |b, _, by, at| Ok(OrderCommand::Cancel { by, at, reason: b.note })).await
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DispatchBody {
    /// The staff account to give it to.
    to: String,
}

/// Who of the community can be given an order, and who follows whom: the people of the same post
/// (else of the same roles) in the community, by account.
fn chain(org: &Org, community: &str, first: &str) -> Option<Vec<Handler>> {
    let person = org.accounts.get(first).and_then(|id| org.staff.get(id)).filter(|s| works_in(s, community))?;
    let may = org.staff_principal(&person.id).is_some_and(|p| p.may(hutong_core::identity::Permission::Write(hutong_core::identity::Module::WorkOrders)));
    if !may {
        return None;
    }
    let same_post = |s: &hutong_core::identity::StaffRecord| match &person.post {
        Some(post) => s.post.as_ref() == Some(post),
        None => s.roles == person.roles,
    };
    let mut colleagues: Vec<&hutong_core::identity::StaffRecord> = org.staff.values().filter(|s| s.id != person.id && works_in(s, community) && same_post(s)).collect();
    colleagues.sort_by(|a, b| a.account.cmp(&b.account));
    let handler = |s: &hutong_core::identity::StaffRecord| Handler { account: s.account.clone(), name: s.name.clone() };
    let mut chain: Vec<Handler> = std::iter::once(handler(person)).chain(colleagues.into_iter().map(handler)).collect();
    chain.truncate(hutong_core::work_order::MAX_CHAIN);
    Some(chain)
}

pub async fn dispatch(State(app): State<Arc<App>>, Extension(caller): Extension<Caller>, Path(at): Path<(String, String)>, body: Result<Json<DispatchBody>, JsonRejection>) -> Result<Json<WorkOrder>, ApiError> {
    let ack_mins = desk(&app, &at.0)?.read().rules.ack_mins;
    let community = at.0.clone();
    step(&app, &caller, at, "work_order.dispatch", body, |b, _, by, at| {
        let to = chain(&app.identity.org(), &community, &b.to);
        let to = to.ok_or_else(|| ApiError::bad(&format!("{} 不是本小区可接工单的员工", b.to), &format!("{} is not staff of this community who takes work orders", b.to)))?;
        Ok(OrderCommand::Dispatch { to, ack_mins, by, at })
    })
    .await
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OutsourceBody {
    contractor: String,
}

pub async fn outsource(State(app): State<Arc<App>>, Extension(caller): Extension<Caller>, Path(at): Path<(String, String)>, body: Result<Json<OutsourceBody>, JsonRejection>) -> Result<Json<WorkOrder>, ApiError> {
    step(&app, &caller, at, "work_order.outsource", body, |b, _, by, at| Ok(OrderCommand::Outsource { contractor: b.contractor, by, at })).await
}

pub async fn accept(State(app): State<Arc<App>>, Extension(caller): Extension<Caller>, Path(at): Path<(String, String)>) -> Result<Json<WorkOrder>, ApiError> {
    step(&app, &caller, at, "work_order.accept", none(), |_, _, by, at| Ok(OrderCommand::Accept { by, at })).await
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScanBody {
    /// What the phone read from the place's printed code (a house's door plate, the equipment).
    code: String,
}

/// The scan matches the order's place (a public area needs none).
fn scanned(app: &App, community: &str, order: &WorkOrder, code: Option<&str>) -> Result<(), ApiError> {
    let Some(key) = order.registration.as_ref().and_then(|r| r.place.code_key()) else { return Ok(()) };
    match code {
        Some(code) if app.keyring.place_code_matches(community, &key, code.trim()) => Ok(()),
        _ => Err(ApiError::bad("扫到的不是这张工单所在位置的二维码，请到现场扫门牌或设备上的码", "the scanned code is not this work order's place: scan the code on the door plate or the equipment there")),
    }
}

pub async fn arrive(State(app): State<Arc<App>>, Extension(caller): Extension<Caller>, Path(at): Path<(String, String)>, body: Result<Json<ScanBody>, JsonRejection>) -> Result<Json<WorkOrder>, ApiError> {
    let community = at.0.clone();
    step(&app, &caller, at, "work_order.arrive", body, |b, state, by, at| {
        scanned(&app, &community, state, Some(&b.code))?;
        Ok(OrderCommand::Arrive { by, at })
    })
    .await
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompleteBody {
    /// The place's code scanned again on completion (an outsourced job, reported by the office: none).
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    note: String,
    #[serde(default)]
    photos: Vec<String>,
    /// The charge to the house (yuan, e.g. `"80.00"`): a bill in its book.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    charge: Option<Money>,
}

pub async fn complete(State(app): State<Arc<App>>, Extension(caller): Extension<Caller>, Path(at): Path<(String, String)>, body: Result<Json<CompleteBody>, JsonRejection>) -> Result<Json<WorkOrder>, ApiError> {
    let community = at.0.clone();
    step(&app, &caller, at, "work_order.complete", body, |b, state, by, at| {
        if state.contractor.is_none() {
            scanned(&app, &community, state, b.code.as_deref())?;
        }
        Ok(OrderCommand::Complete { by, at, note: b.note, photos: b.photos, charge: b.charge })
    })
    .await
}

pub async fn close(State(app): State<Arc<App>>, Extension(caller): Extension<Caller>, Path(at): Path<(String, String)>, body: Result<Json<NoteBody>, JsonRejection>) -> Result<Json<WorkOrder>, ApiError> {
    step(&app, &caller, at, "work_order.close", body, |b, _, by, at| Ok(OrderCommand::Close { by, at, note: b.note })).await
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VisitBody {
    /// 1 (very dissatisfied) to 5 (very satisfied).
    satisfaction: u8,
    #[serde(default)]
    note: String,
}

pub async fn visit(State(app): State<Arc<App>>, Extension(caller): Extension<Caller>, Path(at): Path<(String, String)>, body: Result<Json<VisitBody>, JsonRejection>) -> Result<Json<WorkOrder>, ApiError> {
    step(&app, &caller, at, "work_order.visit", body, |b, _, by, at| Ok(OrderCommand::ReturnVisit { by, at, satisfaction: b.satisfaction, note: b.note })).await
}

pub async fn archive(State(app): State<Arc<App>>, Extension(caller): Extension<Caller>, Path(at): Path<(String, String)>) -> Result<Json<WorkOrder>, ApiError> {
    step(&app, &caller, at, "work_order.archive", none(), |_, _, by, at| Ok(OrderCommand::Archive { by, at })).await
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CoordinateBody {
    /// The other department's part: its category (保洁, 绿化, 秩序 …) and what it should do.
    category: String,
    description: String,
}

/// A coordination order (协调单): another department's part of an order, at the same place, its
/// own order with its own deadlines, naming the order it serves.
pub async fn coordinate(State(app): State<Arc<App>>, Extension(caller): Extension<Caller>, Path((community, order)): Path<(String, String)>, body: Result<Json<CoordinateBody>, JsonRejection>) -> Result<Json<WorkOrder>, ApiError> {
    let (_, parent) = visible(&app, &caller, &community, &order).await?;
    let Json(body) = body.map_err(ApiError::body)?;
    let c = app.community(&community)?;
    let Some(from) = parent.registration else { return Err(ApiError::not_found("工单", "work order", &order)) };
    if from.kind == OrderKind::Suggestion {
        return Err(ApiError::bad("建议不需要协调单", "a suggestion takes no coordination order"));
    }
    let registration = Registration {
        kind: from.kind,
        category: body.category.trim().to_string(),
        description: body.description,
        photos: Vec::new(),
        origin: Origin::Coordination { parent: hutong_core::WorkOrderId::new(&order) },
        ..from
    };
    let child = actor::open_order(&app.directory, &c.id, registration, app.clock.now()).await??;
    let id = child.id.as_ref().map(ToString::to_string).unwrap_or_default();
    app.identity.audit(audit_entry(&caller, "work_order.coordinate", &format!("{community}/{order}"), None, Some(serde_json::json!({ "order": id })))).await.map_err(crate::error::internal)?;
    Ok(Json(child))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DrawBody {
    item: String,
    quantity: u32,
}

/// Materials for the job: taken from the store's stock first (refused when short), then
/// recorded on the order with their price.
pub async fn draw(State(app): State<Arc<App>>, Extension(caller): Extension<Caller>, Path((community, order)): Path<(String, String)>, body: Result<Json<DrawBody>, JsonRejection>) -> Result<Json<WorkOrder>, ApiError> {
    let (actor, state) = visible(&app, &caller, &community, &order).await?;
    let Json(body) = body.map_err(ApiError::body)?;
    let by = handler(&caller)?;
    // The order must be one the caller may draw for now: decided before the stock moves.
    let probe = MaterialUse { item: body.item.clone(), name: String::new(), quantity: body.quantity, unit_price: Money::ZERO };
    hutong_core::Aggregate::decide(&state, &OrderCommand::UseMaterials { materials: probe, by: by.clone(), at: app.clock.now() })?;
    if state.assignee.as_ref().is_some_and(|a| a.account != by.account) && state.contractor.is_none() {
        return Err(OrderError::NotYours(state.assignee.map(|a| a.name).unwrap_or_default()).into());
    }
    let desk = desk(&app, &community)?;
    let order_id = hutong_core::WorkOrderId::new(&order);
    desk.execute(&DeskCommand::Draw { item: body.item.clone(), quantity: body.quantity, order: order_id }, app.clock.now().timestamp_millis()).await?;
    let item = desk.read().items.get(&body.item).cloned();
    let item = item.ok_or_else(|| ApiError::not_found("物料", "item", &body.item))?;
    let materials = MaterialUse { item: body.item, name: item.name, quantity: body.quantity, unit_price: item.unit_price };
    let after = actor::call(&actor, OrderCommand::UseMaterials { materials, by, at: app.clock.now() }).await??;
    app.identity.audit(audit_entry(&caller, "work_order.materials", &format!("{community}/{order}"), None, None)).await.map_err(crate::error::internal)?;
    Ok(Json(after))
}

/// A work order's photo. A caller who sees only some buildings sees only the photos of their
/// buildings' orders; the rest of the community's photos do not exist for them.
pub async fn photo(State(app): State<Arc<App>>, Extension(caller): Extension<Caller>, Path((community, id)): Path<(String, String)>) -> Result<axum::response::Response, ApiError> {
    app.community(&community)?;
    if !caller.principal.scope.buildings.is_empty() {
        let tiles = app.hub.work_orders(&community).unwrap_or_default();
        let theirs = tiles.iter().any(|t| building_visible(&caller, t.building.as_ref()) && t.photos.contains(&id));
        if !theirs {
            return Err(ApiError::not_found("照片", "photo", &id));
        }
    }
    crate::photos::photo(State(app), Path((community, id))).await
}

/// What the community's posted QR code opens: the anonymous report form.
#[derive(Serialize, ToSchema)]
pub struct ReportCode {
    pub code: String,
    /// The address the QR code holds.
    pub url: String,
}

pub async fn report_code(State(app): State<Arc<App>>, Path(community): Path<String>) -> Result<Json<ReportCode>, ApiError> {
    app.community(&community)?;
    let code = app.keyring.report_code(&community);
    Ok(Json(ReportCode { url: format!("/report?community={community}&code={code}"), code }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportBody {
    community: String,
    /// The token of the community's posted QR code.
    code: String,
    #[schema(value_type = String)]
    kind: OrderKind,
    category: String,
    description: String,
    /// Where (a public area, described: 3号楼电梯、东门草坪 …).
    place: String,
    /// A phone to call back, if the reporter wants one.
    #[serde(default)]
    contact: Option<String>,
}

/// What an anonymous reporter is told: the order's number, nothing of the office's.
#[derive(Serialize, ToSchema)]
pub struct Reported {
    pub order: String,
    pub message: String,
}

/// Anyone, without signing in, through the community's posted QR code (W1): an order from a
/// public place. The code is checked in constant time; a wrong one, like an unknown community,
/// is "no such code" and counts against the address; an address makes at most a few reports in
/// a quarter of an hour.
pub async fn report(
    State(app): State<Arc<App>>,
    axum::extract::ConnectInfo(crate::tls::Peer(addr)): axum::extract::ConnectInfo<crate::tls::Peer>,
    headers: axum::http::HeaderMap,
    body: Result<Json<ReportBody>, JsonRejection>,
) -> Result<Json<Reported>, ApiError> {
    use crate::identity::limit::Key;
    let ip = crate::auth::client_addr(&app.trusted_proxies, Some(addr.ip()), &headers);
    let now = Utc::now();
    let refused = |reason: &str| app.metrics.inc("hutong_reports_refused_total", &[("reason", reason)]);
    if let Some(until) = app.identity.limiter.locked_until(&[Key::Address(ip.clone()), Key::Reports(ip.clone())], now) {
        refused("rate_limited");
        let at = until.format("%H:%M:%S UTC");
        return Err(ApiError::RateLimited { zh: format!("提交过于频繁，请在 {at} 之后再试"), en: format!("too many reports; try again after {at}") });
    }
    let Json(b) = body.inspect_err(|_| refused("bad_body")).map_err(ApiError::body)?;
    let genuine = app.hub.community(&b.community).is_some() && app.keyring.place_code_matches(&b.community, "_report", b.code.trim());
    if !genuine {
        refused("bad_code");
        app.identity.limiter.fail(&[Key::Address(ip)], now);
        return Err(ApiError::NotFound { zh: "二维码无效或已停用，请扫描小区张贴的报事二维码".into(), en: "this code is not valid: scan the report code posted in the community".into() });
    }
    let c = app.community(&b.community)?;
    let contact = b.contact.map(|p| p.trim().to_string()).filter(|p| !p.is_empty());
    let registration = Registration { kind: b.kind, category: b.category.trim().to_string(), description: b.description, photos: Vec::new(), place: Place::Public { text: b.place.clone() }, building: None, place_label: b.place, visit_at: None, vip: false, origin: Origin::Anonymous, contact };
    let order = actor::open_order(&app.directory, &c.id, registration, app.clock.now()).await?.inspect_err(|_| refused("bad_report"))?;
    app.identity.limiter.fail(&[Key::Reports(ip)], now);
    app.metrics.inc("hutong_reports_taken_total", &[]);
    let id = order.id.map(|id| id.to_string()).unwrap_or_default();
    Ok(Json(Reported { message: format!("已收到，编号 {id}，物业将尽快处理 / received as {id}; the property office will see to it"), order: id }))
}

/// The code to print for an order's place (a house's door plate, the equipment): what the
/// technician scans on arrival and completion.
#[derive(Serialize, ToSchema)]
pub struct PlaceCode {
    pub place: String,
    pub code: String,
}

pub async fn place_code(State(app): State<Arc<App>>, Extension(caller): Extension<Caller>, Path((community, order)): Path<(String, String)>) -> Result<Json<PlaceCode>, ApiError> {
    let (_, state) = visible(&app, &caller, &community, &order).await?;
    let key = state.registration.as_ref().and_then(|r| r.place.code_key());
    let key = key.ok_or_else(|| ApiError::bad("公共区域的工单没有位置码", "a public area's work order has no place code"))?;
    Ok(Json(PlaceCode { code: app.keyring.place_code(&community, &key), place: key }))
}

#[derive(Deserialize, ToSchema)]
pub struct BuildingQuery {
    pub building: String,
}

/// Every house's door-plate code of a building, print-ready (six to an A4 page): the address the
/// technician's phone opens, with the house's code in it, to confirm arrival and completion.
pub async fn place_codes_pdf(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    Path(community): Path<String>,
    Query(q): Query<BuildingQuery>,
    headers: axum::http::HeaderMap,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    let c = app.community(&community)?;
    let building = c.buildings.iter().find(|b| b.id.as_str() == q.building).ok_or_else(|| ApiError::not_found("楼栋", "building", &q.building))?;
    if !building_visible(&caller, Some(&building.id)) {
        return Err(ApiError::not_found("楼栋", "building", &q.building));
    }
    let origin = crate::patrol::origin(&app, &headers);
    let mut sheet = Vec::new();
    for unit in &building.units {
        for house in unit.floors.iter().flat_map(|f| &f.houses) {
            let key = Place::House { house: house.id.clone() }.code_key().unwrap_or_default();
            let code = app.keyring.place_code(&community, &key);
            sheet.push((format!("{} {}单元 {}", building.name, unit.no, house.room), house.id.to_string(), format!("{origin}/work/{community}?place={key}&code={code}")));
        }
    }
    let houses = sheet.len();
    let pdf = tokio::task::spawn_blocking(move || crate::patrol::codes_sheet(&sheet)).await.map_err(crate::error::internal)?;
    let pdf = pdf.map_err(|e| ApiError::BadRequest { zh: format!("无法生成门牌码PDF：{e}"), en: format!("cannot make the door plates' PDF: {e}") })?;
    app.identity.audit(audit_entry(&caller, "work_order.place_codes_printed", &format!("{community}/{}", building.id), None, Some(serde_json::json!({ "houses": houses })))).await.map_err(crate::error::internal)?;
    let disposition = format!("inline; filename=\"door-plates-{}.pdf\"", building.id);
    Ok(([(axum::http::header::CONTENT_TYPE, "application/pdf".to_string()), (axum::http::header::CONTENT_DISPOSITION, disposition)], pdf).into_response())
}

#[derive(Deserialize, ToSchema)]
pub struct MonthQuery {
    /// `YYYY-MM`; the community's current month when left out.
    pub month: Option<String>,
}

/// The month's figures (W6): completion, on-time, re-dispatch and return-visit rates,
/// satisfaction, and each person's workload.
pub async fn figures(State(app): State<Arc<App>>, Extension(caller): Extension<Caller>, Path(community): Path<String>, Query(q): Query<MonthQuery>) -> Result<Json<OrderFigures>, ApiError> {
    let c = app.community(&community)?;
    let tz: chrono_tz::Tz = c.time_zone.parse().unwrap_or(chrono_tz::Asia::Shanghai);
    let month = match q.month {
        Some(m) if chrono::NaiveDate::parse_from_str(&format!("{m}-01"), "%Y-%m-%d").is_ok() => m,
        Some(m) => return Err(ApiError::bad(&format!("月份 {m} 应写作 YYYY-MM"), &format!("month {m} should read YYYY-MM"))),
        None => app.clock.now().with_timezone(&tz).format("%Y-%m").to_string(),
    };
    let mut tiles = app.hub.work_orders(&community).unwrap_or_default();
    tiles.retain(|t| building_visible(&caller, t.building.as_ref()));
    Ok(Json(OrderFigures::of(&month, tz, &tiles)))
}

pub async fn rules(State(app): State<Arc<App>>, Path(community): Path<String>) -> Result<Json<ServiceRules>, ApiError> {
    Ok(Json(desk(&app, &community)?.read().rules.clone()))
}

pub async fn put_rules(State(app): State<Arc<App>>, Extension(caller): Extension<Caller>, Path(community): Path<String>, body: Result<Json<ServiceRules>, JsonRejection>) -> Result<Json<ServiceRules>, ApiError> {
    let Json(rules) = body.map_err(ApiError::body)?;
    let desk = desk(&app, &community)?;
    desk.execute(&DeskCommand::SetRules { rules }, app.clock.now().timestamp_millis()).await?;
    app.identity.audit(audit_entry(&caller, "work_order.rules", &community, None, None)).await.map_err(crate::error::internal)?;
    Ok(Json(desk.read().rules.clone()))
}

#[derive(Serialize, ToSchema)]
pub struct StoreLine {
    pub item: String,
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub stock: StockItem,
}

pub async fn store(State(app): State<Arc<App>>, Path(community): Path<String>) -> Result<Json<Vec<StoreLine>>, ApiError> {
    let desk = desk(&app, &community)?;
    let lines = desk.read().items.iter().map(|(item, stock)| StoreLine { item: item.clone(), stock: stock.clone() }).collect();
    Ok(Json(lines))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StockInBody {
    item: String,
    name: String,
    unit: String,
    #[schema(value_type = String)]
    unit_price: Money,
    quantity: u32,
}

pub async fn stock_in(State(app): State<Arc<App>>, Extension(caller): Extension<Caller>, Path(community): Path<String>, body: Result<Json<StockInBody>, JsonRejection>) -> Result<Json<Vec<StoreLine>>, ApiError> {
    let Json(b) = body.map_err(ApiError::body)?;
    let d = desk(&app, &community)?;
    d.execute(&DeskCommand::StockIn { item: b.item.clone(), name: b.name, unit: b.unit, unit_price: b.unit_price, quantity: b.quantity }, app.clock.now().timestamp_millis()).await?;
    app.identity.audit(audit_entry(&caller, "work_order.stock_in", &format!("{community}/{}", b.item), None, None)).await.map_err(crate::error::internal)?;
    store(State(app), Path(community)).await
}

/// Someone an order can be given to.
#[derive(Serialize, ToSchema)]
pub struct Assignable {
    pub account: String,
    pub name: String,
    pub post: Option<String>,
    /// Orders with them now, not yet completed.
    pub open: u32,
}

/// The community's staff who take work orders, with what they hold now (the dispatcher's picker).
pub async fn assignable(State(app): State<Arc<App>>, Path(community): Path<String>) -> Result<Json<Vec<Assignable>>, ApiError> {
    app.community(&community)?;
    let tiles = app.hub.work_orders(&community).unwrap_or_default();
    let org = app.identity.org();
    let mut people: Vec<Assignable> = org
        .staff
        .values()
        .filter(|s| works_in(s, &community) && org.staff_principal(&s.id).is_some_and(|p| p.may(hutong_core::identity::Permission::Write(hutong_core::identity::Module::WorkOrders))))
        .map(|s| Assignable {
            account: s.account.clone(),
            name: s.name.clone(),
            post: s.post.clone(),
            open: tiles.iter().filter(|t| t.status.is_open() && t.assignee.as_ref().is_some_and(|a| a.account == s.account)).count() as u32,
        })
        .collect();
    people.sort_by(|a, b| a.account.cmp(&b.account));
    Ok(Json(people))
}
