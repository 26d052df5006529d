//! Houses, other resources and their residents (C2–C5): the list, bulk import with a row-level
//! report (nothing imported unless every row is good, or only the good ones when asked) and
//! export. Phones and ID numbers are masked unless the caller may see personal data.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use hutong_core::api::{HousePage, HouseView, ImportReport, ResidentView};
use hutong_core::book::house::house_state_label;
use hutong_core::book::{BookCommand, HouseRecord, Resident};
use hutong_core::identity::{Module, Permission, mask_id_number, mask_phone};
use hutong_core::import::template;
use hutong_core::{BuildingId, HouseId};
use serde::Deserialize;
use serde_json::json;

use super::{building_of_house, community_of, in_scope, internal, local_now, refused};
use crate::error::{ApiError, Upload};
use crate::auth::Caller;
use crate::app::App;
use crate::audit::audit_entry;

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HouseListQuery {
    pub building: String,
    pub q: String,
    pub format: String,
    pub good_only: bool,
}

fn masked(r: &Resident, unmasked: bool) -> ResidentView {
    ResidentView {
        name: r.name.clone(),
        phone: if unmasked { r.phone.clone() } else { mask_phone(&r.phone) },
        id_number: r.id_number.as_ref().map(|n| if unmasked { n.clone() } else { mask_id_number(n) }),
        relation: r.relation,
        relation_label: r.relation.label_zh().to_string(),
        vip: r.vip,
        since: r.since,
    }
}

fn view(h: &HouseRecord, unmasked: bool) -> HouseView {
    HouseView {
        id: h.id.clone(),
        address: h.address.clone(),
        address_path: h.address_path.clone(),
        kind: h.kind,
        kind_label: h.kind.label_zh().to_string(),
        area: h.area,
        state: h.state,
        state_label: house_state_label(h.state).to_string(),
        state_since: h.state_since,
        residents: h.residents.iter().map(|r| masked(r, unmasked)).collect(),
        history: h.spans(),
        fields: h.fields.clone(),
    }
}

async fn houses_of(app: &App, caller: &Caller, community: &str, q: &HouseListQuery) -> Result<Vec<HouseRecord>, ApiError> {
    let c = community_of(app, community)?;
    let mut out = Vec::new();
    for b in c.buildings.iter().filter(|b| in_scope(caller, &b.id) && (q.building.is_empty() || q.building == b.id.as_str())) {
        let text = q.q.trim().to_string();
        out.extend(
            super::building(app, &b.id)?.houses(&text, caller.principal.may(Permission::UnmaskPersonalData)).await?,
        );
    }
    Ok(out)
}

pub async fn list(State(app): State<Arc<App>>, Extension(caller): Extension<Caller>, Path(community): Path<String>, Query(q): Query<HouseListQuery>) -> Result<Response, ApiError> {
    // An export (a file) is heavy work: one per account at a time (review I2).
    let _slot = if q.format.is_empty() { None } else { Some(app.exports.start(&caller.principal.actor())?) };
    let houses = houses_of(&app, &caller, &community, &q).await?;
    let unmasked = caller.principal.may(Permission::UnmaskPersonalData);
    if q.format.is_empty() {
        let rows: Vec<HouseView> = houses.iter().map(|h| view(h, unmasked)).collect();
        return Ok(Json(HousePage { total: rows.len(), houses: rows }).into_response());
    }
    // The template's columns, then the custom fields any house has: the export imports again as is.
    let custom: std::collections::BTreeSet<&String> = houses.iter().flat_map(|h| h.fields.keys()).collect();
    let mut header = ["房屋地址", "类型", "面积", "状态", "状态日期", "住户姓名", "手机号", "身份证号", "关系", "VIP"].map(String::from).to_vec();
    header.extend(custom.iter().map(|f| (*f).clone()));
    let mut table = vec![header];
    for h in &houses {
        let base = [h.address.clone(), h.kind.label_zh().into(), h.area.to_string(), house_state_label(h.state).into(), h.state_since.map(|d| d.to_string()).unwrap_or_default()];
        let own: Vec<String> = custom.iter().map(|f| h.fields.get(*f).cloned().unwrap_or_default()).collect();
        if h.residents.is_empty() {
            table.push(base.iter().cloned().chain(std::iter::repeat_n(String::new(), 5)).chain(own.iter().cloned()).collect());
        }
        for r in &h.residents {
            let phone = if unmasked { r.phone.clone() } else { mask_phone(&r.phone) };
            let id = r.id_number.as_ref().map(|n| if unmasked { n.clone() } else { mask_id_number(n) }).unwrap_or_default();
            let person = [r.name.clone(), phone, id, r.relation.label_zh().into(), if r.vip { "是".into() } else { String::new() }];
            table.push(base.iter().cloned().chain(person).chain(own.iter().cloned()).collect());
        }
    }
    app.identity.audit(audit_entry(&caller, "house.export", &community, None, Some(json!({"rows": table.len() - 1, "unmasked": unmasked})))).await.map_err(internal)?;
    super::desk::file_response(&q.format, "房屋住户", table)
}

/// C5: houses and residents from the house template.
pub async fn import(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    Path(community): Path<String>,
    Query(q): Query<HouseListQuery>,
    upload: Upload,
) -> Result<Response, ApiError> {
    let c = community_of(&app, &community)?;
    let _slot = app.imports.start(&community)?;
    let body = upload.read().await?;
    let houses = super::index(&app, &c);
    // C1 by import: an address of this community that names no house yet is a house to create,
    // for someone who may change the community's set-up (else it stays "no house there").
    let may_create = caller.principal.may(Permission::Write(Module::Settings)) && caller.principal.scope.buildings.is_empty();
    let planned: Arc<std::sync::Mutex<HashMap<HouseId, (u32, u32, i32, String)>>> = Arc::default();
    let plan = planned.clone();
    let tree = c.clone();
    let reader = template::HouseReader::new(move |a: &str| {
        houses.find(a).map(|(h, _)| h).or_else(|| {
            let new = may_create.then(|| tree.new_house_at(a)).flatten()?;
            plan.lock().unwrap_or_else(|e| e.into_inner()).insert(new.0.clone(), new.1);
            Some(new.0)
        })
    });
    let parsed = super::upload::read(body, reader).await?.finish();
    let mut errors = parsed.errors;
    let mut bad_rows = parsed.bad_rows;
    let planned = std::mem::take(&mut *planned.lock().unwrap_or_else(|e| e.into_inner()));
    // A house to create needs its area on one of its rows.
    let mut areas: HashMap<HouseId, rust_decimal::Decimal> = HashMap::new();
    for h in parsed.houses.iter().filter(|h| planned.contains_key(&h.house)) {
        if let Some(a) = h.area {
            areas.entry(h.house.clone()).or_insert(a);
        }
    }
    let mut rows = Vec::with_capacity(parsed.houses.len());
    for h in parsed.houses {
        if planned.contains_key(&h.house) && !areas.contains_key(&h.house) {
            bad_rows += 1;
            if errors.len() < template::MAX_REPORTED_ERRORS {
                errors.push(template::RowError { row: h.row, column: "面积".into(), reason: "新建房屋须填写面积 / a new house needs its area".into() });
            }
        } else {
            rows.push(h);
        }
    }
    let plan = hutong_core::community::plan_of(planned.into_iter().filter_map(|(id, at)| areas.get(&id).map(|a| (at, *a))));
    let growth = if plan.is_empty() { None } else { Some(c.growth(plan.clone())?) };
    let mut out_of_scope = 0;
    let mut by_building: HashMap<BuildingId, Vec<template::ImportedHouse>> = HashMap::new();
    let buildings_to_be: HashMap<&HouseId, &BuildingId> =
        growth.iter().flat_map(|g| &g.buildings).flat_map(|b| b.units.iter().flat_map(|u| &u.floors).flat_map(|f| &f.houses).map(move |h| (&h.id, &b.id))).collect();
    for h in rows {
        let building = building_of_house(&app, &c, h.house.as_str()).or_else(|| buildings_to_be.get(&h.house).map(|b| (*b).clone()));
        match building.filter(|b| in_scope(&caller, b)) {
            Some(b) => by_building.entry(b).or_default().push(h),
            None => {
                out_of_scope += 1;
                if errors.len() < template::MAX_REPORTED_ERRORS {
                    errors.push(template::RowError { row: h.row, column: "房屋地址".into(), reason: "不在您管理的楼栋内 / outside your buildings".into() });
                }
            }
        }
    }
    if !errors.is_empty() && !q.good_only {
        let bad_rows = bad_rows + out_of_scope;
        let message = format!("{bad_rows} 行有误，未导入任何房屋 / {bad_rows} bad rows; nothing was imported");
        let report = ImportReport { rows: parsed.rows, bad_rows, message, errors, ..ImportReport::default() };
        return Err(ApiError::Unprocessable(Box::new(report)));
    }
    // The tree first (new buildings start, books meet their new houses), then the rows.
    let mut created = 0;
    if growth.is_some_and(|g| g.houses() > 0) {
        created = crate::setup::grow(&app, &community, plan).await?.houses_added;
    }
    // Each building merges its rows into its own book (`ImportHouses`), all buildings or none.
    let today = local_now(&app, &c).date();
    let imported: usize = by_building.values().map(Vec::len).sum();
    let parts = by_building
        .into_iter()
        .map(|(bd, rows)| Ok((super::building(&app, &bd)?, BookCommand::ImportHouses { rows, today })))
        .collect::<Result<Vec<_>, ApiError>>()?;
    hutong_actors::handle::batch(parts).await?.map_err(refused)?;
    app.identity.audit(audit_entry(&caller, "house.import", &community, None, Some(json!({"rows": imported, "houses_created": created})))).await.map_err(internal)?;
    Ok(Json(ImportReport { imported, created, rows: parsed.rows, errors, ..ImportReport::default() }).into_response())
}

/// C6: how many homes and resources are in each state and of each kind, and their residents.
pub async fn stats(State(app): State<Arc<App>>, Extension(caller): Extension<Caller>, Path(community): Path<String>) -> Result<Json<hutong_core::api::HouseStats>, ApiError> {
    use hutong_core::api::{BuildingHouseStats, HouseStats};
    let c = community_of(&app, &community)?;
    let mut all = HouseStats::default();
    for b in c.buildings.iter().filter(|b| in_scope(&caller, &b.id)) {
        let houses = super::building(&app, &b.id)?.houses("", false).await?;
        let mut one = BuildingHouseStats { building: b.id.to_string(), name: b.name.clone(), houses: houses.len(), ..Default::default() };
        for h in &houses {
            *one.by_state.entry(house_state_label(h.state).to_string()).or_default() += 1;
            *all.by_kind.entry(h.kind.label_zh().to_string()).or_default() += 1;
            one.residents += h.residents.len();
        }
        all.houses += one.houses;
        all.residents += one.residents;
        for (state, n) in &one.by_state {
            *all.by_state.entry(state.clone()).or_default() += n;
        }
        all.by_building.push(one);
    }
    Ok(Json(all))
}

/// A house of the community the caller may reach: its building and its record as the book
/// holds it. Another building's house, for a butler, does not exist (404).
async fn house_record(app: &App, caller: &Caller, c: &hutong_core::community::Community, house: &str) -> Result<(BuildingId, HouseRecord), ApiError> {
    let missing = || ApiError::not_found("房屋", "house", house);
    let id = super::resolve_house(app, c, house).ok_or_else(missing)?;
    let building = building_of_house(app, c, id.as_str()).filter(|b| in_scope(caller, b)).ok_or_else(missing)?;
    let address = c.address_of(&id).map(|a| a.dash_form()).ok_or_else(missing)?;
    let found = super::building(app, &building)?.houses(&address, true).await?;
    let record = found.into_iter().find(|h| h.id == id).ok_or_else(missing)?;
    Ok((building, record))
}

/// `PATCH …/house-records/{house}`: what a house is (C2). Absent fields stay as they are; a
/// custom field given an empty value is left as it is too (fields are never deleted here).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HouseChange {
    /// home, shop, office, parking, storage or ad_space.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub kind: Option<hutong_core::book::ResourceKind>,
    /// m², above 0 and at most 1000000, 2 dp.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub area: Option<rust_decimal::Decimal>,
    #[serde(default)]
    pub fields: std::collections::BTreeMap<String, String>,
}

/// C2 on screen: a house's kind, area and custom fields, merged as an import row would be (so a
/// change made meanwhile to its residents or state is never overwritten).
pub async fn change(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    Path((community, house)): Path<(String, String)>,
    body: Result<Json<HouseChange>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<HouseView>, ApiError> {
    let c = community_of(&app, &community)?;
    let (building, record) = house_record(&app, &caller, &c, &house).await?;
    let Json(body) = body.map_err(ApiError::body)?;
    if let Some(a) = body.area {
        if a <= rust_decimal::Decimal::ZERO || a > hutong_core::limits::AREA_MAX || a.scale() > 2 {
            return Err(ApiError::bad("面积须大于 0、不超过 1000000，至多两位小数", "an area is above 0, at most 1000000, with at most 2 decimals"));
        }
    }
    let too_long = |s: &str, n: usize| s.trim().is_empty() || s.chars().count() > n;
    if body.fields.len() > template::MAX_FIELDS
        || body.fields.iter().any(|(k, v)| too_long(k, template::FIELD_NAME_CHARS) || v.chars().count() > template::FIELD_VALUE_CHARS)
    {
        return Err(ApiError::bad("自定义字段至多 20 个，名称 1–20 字，内容至多 200 字", "at most 20 custom fields, names of 1–20 characters, values of at most 200"));
    }
    let fields: Vec<(String, String)> = body.fields.into_iter().filter(|(_, v)| !v.trim().is_empty()).map(|(k, v)| (k.trim().to_string(), v.trim().to_string())).collect();
    let row = template::ImportedHouse { row: 0, house: record.id.clone(), kind: body.kind, area: body.area, state: None, state_since: None, resident: None, fields };
    let today = local_now(&app, &c).date();
    super::command(&app, &building, BookCommand::ImportHouses { rows: vec![row], today }).await?.map_err(refused)?;
    let (_, after) = house_record(&app, &caller, &c, record.id.as_str()).await?;
    let (before, changed) = (json!({"kind": record.kind, "area": record.area, "fields": record.fields}), json!({"kind": after.kind, "area": after.area, "fields": after.fields}));
    app.identity.audit(audit_entry(&caller, "house.change", record.id.as_str(), Some(before), Some(changed))).await.map_err(internal)?;
    Ok(Json(view(&after, caller.principal.may(Permission::UnmaskPersonalData))))
}

/// `POST …/house-records/{house}/state`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StateBody {
    /// `unsold`, `handed_over`, `decorating`, `vacant`, `occupied` or `rented`.
    #[schema(value_type = String)]
    pub state: hutong_core::fee::HouseState,
    /// The day the house entered it (today when absent); not before its current state began.
    #[serde(default)]
    pub on: Option<chrono::NaiveDate>,
}

/// C3: a house enters a state on a day (交房, 装修, 空置, 入住 …), kept in its history; the next
/// bill run prices each part of a period in the state it was in.
pub async fn change_state(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    Path((community, house)): Path<(String, String)>,
    body: Result<Json<StateBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<HouseView>, ApiError> {
    let c = community_of(&app, &community)?;
    let (building, record) = house_record(&app, &caller, &c, &house).await?;
    let Json(body) = body.map_err(ApiError::body)?;
    let today = local_now(&app, &c).date();
    let on = body.on.unwrap_or(today);
    let before = json!({"state": record.state, "since": record.state_since});
    let command = BookCommand::ChangeHouseState { house: record.id.clone(), state: body.state, on, today, by: super::actor_name(&caller) };
    super::command(&app, &building, command).await?.map_err(refused)?;
    let (_, after) = house_record(&app, &caller, &c, record.id.as_str()).await?;
    let audit = audit_entry(&caller, "house.state", record.id.as_str(), Some(before), Some(json!({"state": after.state, "since": after.state_since})));
    app.identity.audit(audit).await.map_err(internal)?;
    Ok(Json(view(&after, caller.principal.may(Permission::UnmaskPersonalData))))
}

/// `POST …/house-records/{house}/residents`: one change to the house's residents. A resident is
/// named by their phone as the caller sees it (masked or not).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub enum ResidentsBody {
    /// Add a resident, or edit the one whose phone is `replacing`.
    Put {
        name: String,
        phone: String,
        #[serde(default)]
        id_number: Option<String>,
        #[schema(value_type = String)]
        relation: hutong_core::book::Relation,
        #[serde(default)]
        vip: bool,
        #[serde(default)]
        replacing: Option<String>,
    },
    /// The resident leaves the house.
    Remove { phone: String },
    /// The resident moves to another house (an address or id), in one step.
    Move { phone: String, to: String },
}

/// The real phone of the house's resident the caller names by the phone they see.
fn named(record: &HouseRecord, seen: &str) -> Result<String, ApiError> {
    let seen = seen.trim();
    let matching: Vec<&Resident> = record.residents.iter().filter(|r| r.phone == seen || mask_phone(&r.phone) == seen).collect();
    match matching.as_slice() {
        [one] => Ok(one.phone.clone()),
        [] => Err(refused(hutong_core::book::BookError::NoResident(seen.to_string()))),
        _ => Err(ApiError::BadRequest { zh: "有多位住户符合，请输入完整手机号".into(), en: "several residents match: give the full phone".into() }),
    }
}

/// C4: residents added, edited, removed or moved on screen; a move between buildings is one
/// change of both books, all or none.
pub async fn change_residents(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    Path((community, house)): Path<(String, String)>,
    body: Result<Json<ResidentsBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<HousePage>, ApiError> {
    use hutong_core::book::ResidentChange;
    let c = community_of(&app, &community)?;
    let (building, record) = house_record(&app, &caller, &c, &house).await?;
    let Json(body) = body.map_err(ApiError::body)?;
    let today = local_now(&app, &c).date();
    let mut parts: Vec<(BuildingId, ResidentChange)> = Vec::new();
    let mut touched = vec![record.id.clone()];
    match body {
        ResidentsBody::Put { name, phone, id_number, relation, vip, replacing } => {
            let replacing = replacing.map(|p| named(&record, &p)).transpose()?;
            let resident = Resident { name: name.trim().to_string(), phone: phone.trim().to_string(), id_number: id_number.filter(|n| !n.trim().is_empty()), relation, vip, since: today };
            parts.push((building, ResidentChange::Put { house: record.id.clone(), resident, replacing }));
        }
        ResidentsBody::Remove { phone } => {
            parts.push((building, ResidentChange::Remove { house: record.id.clone(), phone: named(&record, &phone)? }));
        }
        ResidentsBody::Move { phone, to } => {
            let phone = named(&record, &phone)?;
            let (to_building, target) = house_record(&app, &caller, &c, &to).await?;
            let Some(resident) = record.residents.iter().find(|r| r.phone == phone).cloned() else { return Err(refused(hutong_core::book::BookError::NoResident(phone))) };
            parts.push((building, ResidentChange::Remove { house: record.id.clone(), phone }));
            parts.push((to_building, ResidentChange::Put { house: target.id.clone(), resident, replacing: None }));
            touched.push(target.id);
        }
    }
    // One command per building (a move inside a building is one), all buildings or none.
    let mut by_building: Vec<(BuildingId, Vec<ResidentChange>)> = Vec::new();
    for (b, change) in parts {
        match by_building.iter_mut().find(|(x, _)| *x == b) {
            Some((_, changes)) => changes.push(change),
            None => by_building.push((b, vec![change])),
        }
    }
    let commands = by_building
        .into_iter()
        .map(|(b, changes)| Ok((super::building(&app, &b)?, BookCommand::ChangeResidents { changes, today })))
        .collect::<Result<Vec<_>, ApiError>>()?;
    hutong_actors::handle::batch(commands).await?.map_err(refused)?;
    let unmasked = caller.principal.may(Permission::UnmaskPersonalData);
    let mut houses = Vec::new();
    for id in &touched {
        houses.push(view(&house_record(&app, &caller, &c, id.as_str()).await?.1, unmasked));
    }
    app.identity.audit(audit_entry(&caller, "house.residents", record.id.as_str(), None, Some(json!({"houses": touched})))).await.map_err(internal)?;
    Ok(Json(HousePage { total: houses.len(), houses }))
}
