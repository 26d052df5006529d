//! The building chart (R7, 销控图): every house of a building as a cell — unit, floor, room,
//! area, state, how many live there, what it owes and how much of that is overdue — for the
//! screen that colours cells by state or by arrears and opens a house on a click. Answered by
//! the building's own actor (its book), so it is as current as the last payment.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Extension, Path, State};
use hutong_core::fee::HouseState;
use hutong_core::{BuildingId, Money};
use serde::Serialize;
use utoipa::ToSchema;

use crate::app::App;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::scope::building_visible;

#[derive(Serialize, ToSchema)]
pub struct Chart {
    building: String,
    name: String,
    /// The community's date the arrears are judged on.
    #[schema(value_type = String)]
    today: chrono::NaiveDate,
    cells: Vec<Cell>,
}

#[derive(Serialize, ToSchema)]
pub struct Cell {
    house: String,
    address: String,
    unit: u32,
    floor: i32,
    room: String,
    #[schema(value_type = String)]
    area: rust_decimal::Decimal,
    #[schema(value_type = String)]
    state: HouseState,
    residents: usize,
    /// Everything pending.
    #[schema(value_type = String)]
    owed: Money,
    /// Pending past its due date.
    #[schema(value_type = String)]
    overdue: Money,
}

pub async fn chart(State(app): State<Arc<App>>, Extension(caller): Extension<Caller>, Path((community, building)): Path<(String, String)>) -> Result<Json<Chart>, ApiError> {
    let c = app.community(&community)?;
    let id = BuildingId::new(&building);
    let found = c.building(&id).filter(|_| building_visible(&caller, Some(&id)));
    let b = found.ok_or_else(|| ApiError::not_found("楼栋", "building", &building))?;
    let actor = super::building(&app, &id)?;
    let today = super::local_now(&app, &c).date();
    let (houses, owing) = (actor.houses("", false).await?, actor.owing().await?);
    let rooms: std::collections::HashMap<_, _> = c.houses().filter(|(hb, ..)| hb.id == id).map(|(_, _, _, h)| (h.id.clone(), h.room.clone())).collect();
    let mut cells: Vec<Cell> = houses
        .into_iter()
        .map(|h| {
            let bills = owing.get(&h.id).map(Vec::as_slice).unwrap_or_default();
            Cell {
                room: rooms.get(&h.id).cloned().unwrap_or_default(),
                house: h.id.to_string(),
                address: h.address,
                unit: h.unit,
                floor: h.floor,
                area: h.area,
                state: h.state,
                residents: h.residents.len(),
                owed: bills.iter().map(|(_, m)| *m).sum(),
                overdue: bills.iter().filter(|(due, _)| *due < today).map(|(_, m)| *m).sum(),
            }
        })
        .collect();
    // Top floor first, as the building stands; units left to right.
    cells.sort_by(|a, b| b.floor.cmp(&a.floor).then(a.unit.cmp(&b.unit)).then(a.room.cmp(&b.room)));
    Ok(Json(Chart { building: building.clone(), name: b.name.clone(), today, cells }))
}
