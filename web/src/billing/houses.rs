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
        let rows: Vec<HouseView> = houses
            .iter()
            .map(|h| HouseView {
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
            })
            .collect();
        return Ok(Json(HousePage { total: rows.len(), houses: rows }).into_response());
    }
    let mut table = vec![["房屋地址", "类型", "面积", "状态", "状态日期", "住户姓名", "手机号", "身份证号", "关系", "VIP"].map(String::from).to_vec()];
    for h in &houses {
        let base = [h.address.clone(), h.kind.label_zh().into(), h.area.to_string(), house_state_label(h.state).into(), h.state_since.map(|d| d.to_string()).unwrap_or_default()];
        if h.residents.is_empty() {
            table.push(base.iter().cloned().chain(std::iter::repeat_n(String::new(), 5)).collect());
        }
        for r in &h.residents {
            let phone = if unmasked { r.phone.clone() } else { mask_phone(&r.phone) };
            let id = r.id_number.as_ref().map(|n| if unmasked { n.clone() } else { mask_id_number(n) }).unwrap_or_default();
            table.push(base.iter().cloned().chain([r.name.clone(), phone, id, r.relation.label_zh().into(), if r.vip { "是".into() } else { String::new() }]).collect());
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
