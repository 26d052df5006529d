//! Setting a community up while Hutong runs (C1): an administrator describes it — id, name, time
//! zone, buildings, units, floors, rooms and areas — and it is the company's at once: placed under
//! the company, in the administrator's scope, registered, and its actors started (books seeded
//! with its houses), so the wall, the desk and the device endpoint know it without a restart.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Extension, State};
use hutong_core::api::CommunitySummary;
use hutong_core::community::{CommunityPlan, PlanError};
use hutong_core::identity::{OrgCommand, Subject};
use hutong_core::registry::{CommunityRegistered, RegistryCommand};

use crate::app::App;
use crate::audit::audit_entry;
use crate::auth::Caller;
use crate::error::{ApiError, internal};

pub async fn create(State(app): State<Arc<App>>, Extension(caller): Extension<Caller>, body: Result<Json<CommunityPlan>, JsonRejection>) -> Result<Json<CommunitySummary>, ApiError> {
    app.ready()?;
    let Json(plan) = body.map_err(ApiError::body)?;
    let community = plan.build()?;
    let registry = app.registered()?;
    if registry.read().has(community.id.as_str()) {
        return Err(ApiError::Conflict { zh: format!("小区编号 {} 已被使用", community.id), en: format!("community id {} is taken", community.id) });
    }
    let Subject::Staff { id: staff, .. } = &caller.principal.subject else { return Err(ApiError::NotStaff) };
    // The company's first (a refusal here changes nothing); then the registry; then the actors.
    let open = OrgCommand::OpenCommunity { company: caller.principal.company.clone(), community: community.id.clone(), staff: staff.clone() };
    app.identity.change(open).await?;
    let registration = CommunityRegistered { community: community.clone(), devices: Vec::new() };
    registry.execute(&RegistryCommand::Register(registration.clone()), app.clock.now().timestamp_millis()).await?;
    crate::server::start_community(&app, registration, false).await.map_err(internal)?;
    let houses = community.houses().count();
    let summary = CommunitySummary { id: community.id.clone(), name: community.name.clone(), time_zone: community.time_zone.clone(), buildings: community.buildings.len(), houses };
    let after = serde_json::json!({"name": summary.name, "time_zone": summary.time_zone, "buildings": summary.buildings, "houses": houses});
    app.identity.audit(audit_entry(&caller, "community.create", community.id.as_str(), None, Some(after))).await.map_err(internal)?;
    Ok(Json(summary))
}

impl From<PlanError> for ApiError {
    fn from(e: PlanError) -> Self {
        let (zh, en) = ApiError::bilingual(&e);
        ApiError::BadRequest { zh, en }
    }
}
