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

fn registered(app: &App) -> Result<&hutong_actors::journaled::Shared<hutong_core::registry::Registry>, ApiError> {
    app.registry.get().map(|r| &**r).ok_or(ApiError::NotReady)
}

pub async fn get(State(app): State<Arc<App>>, Path(community): Path<String>) -> Result<Json<MeterRules>, ApiError> {
    app.community(&community)?;
    let registry = registered(&app)?.read();
    let registration = registry.communities.iter().find(|r| r.community.id.as_str() == community);
    registration.map(|r| Json(r.community.meter_rules.clone())).ok_or_else(|| ApiError::not_found("小区", "community", &community))
}

pub async fn put(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    Path(community): Path<String>,
    body: Result<Json<MeterRules>, JsonRejection>,
) -> Result<Json<MeterRules>, ApiError> {
    app.community(&community)?;
    let Json(rules) = body.map_err(ApiError::body)?;
    let before = get(State(app.clone()), Path(community.clone())).await?.0;
    let command = RegistryCommand::SetMeterRules { community: community.clone(), rules: rules.clone() };
    registered(&app)?.execute(&command, app.clock.now().timestamp_millis()).await?;
    // A node that does not run the community has no supervisor for it: its own start reads the registry.
    let _ = app.directory.tell_community(&community, CommunityMsg::MeterRules(rules.clone()));
    let audit = audit_entry(&caller, "meters.rules", &community, serde_json::to_value(&before).ok(), serde_json::to_value(&rules).ok());
    app.identity.audit(audit).await.map_err(crate::error::internal)?;
    Ok(Json(rules))
}
