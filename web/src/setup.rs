//! Setting a community up while Hutong runs (C1): an administrator describes it — id, name, time
//! zone, buildings, units, floors, rooms and areas — and it is the company's at once: placed under
//! the company, in the administrator's scope, registered, and its actors started (books seeded
//! with its houses), so the wall, the desk and the device endpoint know it without a restart.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Extension, State};
use hutong_core::api::CommunitySummary;
use axum::extract::Path;
use hutong_core::community::{BuildingPlan, CommunityPlan, Growth, PlanError};
use hutong_core::registry::RegistryChange;
use serde::{Deserialize, Serialize};
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

/// Buildings, units, floors and rooms to add to a running community (the shape of a set-up's
/// `buildings`); what the community has already is left as it is.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GrowBody {
    pub buildings: Vec<BuildingPlan>,
}

/// What a growth added.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Grown {
    /// Ids of the buildings new to the community.
    pub new_buildings: Vec<String>,
    pub houses_added: usize,
    /// Houses of the plan the community had already (left as they were).
    pub houses_existing: usize,
}

/// C1 while running: new buildings, units, floors and houses join the community at once — the
/// registry journals them, new buildings' actors start, the others' books take their new houses.
pub async fn grow_route(State(app): State<Arc<App>>, Extension(caller): Extension<Caller>, Path(community): Path<String>, body: Result<Json<GrowBody>, JsonRejection>) -> Result<Json<Grown>, ApiError> {
    let Json(body) = body.map_err(ApiError::body)?;
    if !caller.principal.scope.buildings.is_empty() {
        // A butler's scope is some buildings; the tree is the community's.
        return Err(ApiError::Beyond { zh: "楼栋管辖范围的账号不能增加楼栋或房屋".into(), en: "an account scoped to some buildings cannot add buildings or houses".into() });
    }
    let grown = grow(&app, &community, body.buildings).await?;
    let after = serde_json::json!({"new_buildings": grown.new_buildings, "houses_added": grown.houses_added});
    app.identity.audit(audit_entry(&caller, "community.grow", &community, None, Some(after))).await.map_err(internal)?;
    Ok(Json(grown))
}

/// Journals the growth, then waits until the community's actors know it: a book command sent
/// after this returns finds the new houses.
pub(crate) async fn grow(app: &App, community: &str, buildings: Vec<BuildingPlan>) -> Result<Grown, ApiError> {
    let before = app.community(community)?;
    let registry = app.registered()?;
    // Houses the plan named that the community had: all it named, less what it added.
    let planned: usize = buildings.iter().flat_map(|b| &b.units).flat_map(|u| &u.floors).map(|f| f.rooms.len()).sum();
    let command = RegistryCommand::Grow { community: community.to_string(), buildings };
    let committed = registry.execute(&command, app.clock.now().timestamp_millis()).await?;
    let added: Vec<_> = committed.events.iter().filter_map(|e| match e {
        hutong_core::registry::RegistryEvent::Changed(RegistryChange::TreeGrown { buildings, .. }) => Some(buildings.clone()),
        _ => None,
    }).flatten().collect();
    let growth = Growth { buildings: added, existing: 0 };
    let houses_added = growth.houses();
    let grown = Grown { new_buildings: growth.new_buildings(&before).map(|b| b.to_string()).collect(), houses_added, houses_existing: planned.saturating_sub(houses_added) };
    if growth.buildings.is_empty() {
        return Ok(grown);
    }
    let tree = registry.read().community(community).map(|r| Arc::new(r.community.clone())).ok_or_else(|| ApiError::not_found("小区", "community", community))?;
    app.house_index.write().unwrap_or_else(|e| e.into_inner()).remove(community);
    let supervisor = app.directory.supervisor(community).ok_or_else(|| ApiError::not_found("小区", "community", community))?;
    crate::app::ask(&supervisor, |reply| hutong_actors::community::CommunityMsg::Grown(tree, reply)).await?;
    Ok(grown)
}

impl From<PlanError> for ApiError {
    fn from(e: PlanError) -> Self {
        let (zh, en) = ApiError::bilingual(&e);
        ApiError::BadRequest { zh, en }
    }
}
