//! The manager's money (R3): collection rate today, this month and this year; receivable,
//! received and arrears by building and fee type; arrears by age; the top ten; a 12-month trend.
//! Summed from the buildings' live summaries, which their actors publish after every change.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::{Extension, Json};
use hutong_core::book::CommunityMoney;

use super::{community_of, in_scope, local_now};
use crate::error::ApiError;
use crate::auth::Caller;
use crate::app::App;

pub async fn summary(State(app): State<Arc<App>>, Extension(caller): Extension<Caller>, Path(community): Path<String>) -> Result<Json<CommunityMoney>, ApiError> {
    let c = community_of(&app, &community)?;
    let buildings = app.hub.money(&community).unwrap_or_default();
    let visible = buildings.iter().filter(|b| in_scope(&caller, &b.building)).map(|b| &b.money);
    let mut money = CommunityMoney::sum(visible, local_now(&app, &c).date());
    // Screens show a building by its name.
    for (building, _) in &mut money.by_building {
        if let Some(b) = c.buildings.iter().find(|b| b.id.as_str() == building.as_str()) {
            *building = b.name.clone();
        }
    }
    Ok(Json(money))
}
