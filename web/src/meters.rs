//! A community's meter thresholds (M4): the night a leak is judged over, how many months out of
//! range raise an alarm, and each kind's monthly range. Kept in the registry with the community;
//! a change reaches every meter at once (asleep or awake) and is audited.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Extension, Path, State};
use hutong_actors::community::CommunityMsg;
use hutong_core::meter_rules::MeterRules;
use hutong_core::registry::RegistryCommand;

use crate::app::App;
use crate::audit::audit_entry;
use crate::auth::Caller;
use crate::error::ApiError;

fn rules_of(app: &App, community: &str) -> Result<MeterRules, ApiError> {
    app.community(community)?;
    let registration = app.registered()?.read().community(community).map(|r| r.community.meter_rules.clone());
    registration.ok_or_else(|| ApiError::not_found("小区", "community", community))
}

pub async fn get(State(app): State<Arc<App>>, Path(community): Path<String>) -> Result<Json<MeterRules>, ApiError> {
    rules_of(&app, &community).map(Json)
}

pub async fn put(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    Path(community): Path<String>,
    body: Result<Json<MeterRules>, JsonRejection>,
) -> Result<Json<MeterRules>, ApiError> {
    let before = rules_of(&app, &community)?;
    let Json(rules) = body.map_err(ApiError::body)?;
    let command = RegistryCommand::SetMeterRules { community: community.clone(), rules: rules.clone() };
    app.change_registry(command, CommunityMsg::MeterRules(rules.clone()), &community).await?;
    let audit = audit_entry(&caller, "meters.rules", &community, serde_json::to_value(&before).ok(), serde_json::to_value(&rules).ok());
    app.identity.audit(audit).await.map_err(crate::error::internal)?;
    Ok(Json(rules))
}
