//! Owners not known yet (R6): someone who scanned the collection code asks to be registered; the
//! office approves (they become the house's resident and may sign in) or turns it down; the
//! office may also open the portal to an owner itself (开通业主).

use std::sync::Arc;

use axum::Json;
use axum::extract::{Extension, Path, State};
use axum::http::HeaderMap;
use chrono::{DateTime, Utc};
use hutong_core::identity::mask_phone;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::App;
use crate::auth::Caller;
use crate::error::{ApiError, ApiJson, internal};

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
