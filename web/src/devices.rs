//! Registering devices while Hutong runs (M6, C5): a new meter, gate or barrier joins its
//! community asleep and is heard as soon as it connects with its provisioning key; a device is
//! moved (another building or house, another heartbeat interval), replaced by a new one in the
//! same place (换表) or retired — never deleted:
//! its journal stays, its id is never given again, its MQTT key is revoked and its connection
//! closed. Each change is journaled in the registry first, then told to the community's actors,
//! and audited.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Extension, Path, State};
use hutong_actors::community::CommunityMsg;
use hutong_core::device::{DeviceKind, DeviceSpec};
use hutong_core::registry::RegistryCommand;
use hutong_core::{BuildingId, CommunityId, DeviceId, HouseId};
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;

use crate::app::App;
use crate::audit::audit_entry;
use crate::auth::Caller;
use crate::error::{ApiError, internal};
use crate::scope::building_visible;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDevice {
    /// 1–64 lowercase letters, digits or dashes, unique in the community for ever.
    id: String,
    /// water_meter, electricity_meter, gas_meter, gate or barrier.
    #[schema(value_type = String)]
    kind: DeviceKind,
    /// Its building (a public-area device may have none; taken from the house when not given).
    building: Option<String>,
    /// Its house, for a household meter: its id or its address (荷花苑-1-1-101).
    house: Option<String>,
    /// Seconds it promises between signs of life (10 s – 1 day); default 3,600 for a meter, 300
    /// for a gate or barrier.
    heartbeat_secs: Option<u32>,
}

/// Where a device is and how often it speaks: the whole placement, replaced.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Placement {
    building: Option<String>,
    house: Option<String>,
    heartbeat_secs: u32,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Retirement {
    /// Why (at most 200 characters), e.g. 「表坏，已换新表 wm-1-1-101-b」.
    reason: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Replacement {
    /// The new device's id (never used in the community before); it takes the old one's place,
    /// kind and heartbeat interval.
    id: String,
    /// Why (at most 200 characters), e.g. 「表坏」.
    reason: String,
}

/// Where a device goes, as typed: the house by its id or either address form (荷花苑-1-1-101,
/// 荷花苑/1号楼/1层/101), its building taken from the house when none is given. A house no
/// address finds stays as typed, for the registry to refuse with its sentence. A butler places
/// devices only in their own buildings.
fn placement(app: &App, caller: &Caller, community: &str, building: Option<String>, house: Option<String>) -> Result<(Option<BuildingId>, Option<HouseId>), ApiError> {
    let c = app.community(community)?;
    let typed = |t: Option<String>| t.map(|t| t.trim().to_string()).filter(|t| !t.is_empty());
    let (building, house) = (typed(building).map(BuildingId::new), typed(house));
    let (building, house) = match house.as_deref().and_then(|h| crate::billing::index(app, &c).find(h)) {
        Some((house, its_building)) => (building.or(Some(its_building)), Some(house)),
        None => (building, house.map(HouseId::new)),
    };
    if !building_visible(caller, building.as_ref()) {
        return Err(ApiError::not_found("楼栋", "building", building.as_ref().map_or("-", |b| b.as_str())));
    }
    Ok((building, house))
}

pub async fn register(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    Path(community): Path<String>,
    body: Result<Json<NewDevice>, JsonRejection>,
) -> Result<Json<DeviceSpec>, ApiError> {
    app.community(&community)?;
    let Json(body) = body.map_err(ApiError::body)?;
    let (building, house) = placement(&app, &caller, &community, body.building, body.house)?;
    let default_heartbeat = if body.kind.is_meter() { 3600 } else { 300 };
    let spec = DeviceSpec {
        id: DeviceId::new(body.id),
        kind: body.kind,
        community: CommunityId::new(&community),
        building,
        house,
        heartbeat_secs: body.heartbeat_secs.unwrap_or(default_heartbeat),
    };
    app.change_registry(RegistryCommand::AddDevice(spec.clone()), CommunityMsg::AddDevice(spec.clone()), &community).await?;
    let target = format!("{community}/{}", spec.id);
    app.identity.audit(audit_entry(&caller, "device.register", &target, None, serde_json::to_value(&spec).ok())).await.map_err(internal)?;
    Ok(Json(spec))
}

pub async fn place(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    Path((community, device)): Path<(String, String)>,
    body: Result<Json<Placement>, JsonRejection>,
) -> Result<Json<DeviceSpec>, ApiError> {
    let current = registered(&app, &caller, &community, &device)?;
    let Json(body) = body.map_err(ApiError::body)?;
    let (building, house) = placement(&app, &caller, &community, body.building, body.house)?;
    let spec = DeviceSpec { building, house, heartbeat_secs: body.heartbeat_secs, ..current.clone() };
    app.change_registry(RegistryCommand::ChangeDevice(spec.clone()), CommunityMsg::ChangeDevice(spec.clone()), &community).await?;
    let target = format!("{community}/{device}");
    app.identity.audit(audit_entry(&caller, "device.place", &target, serde_json::to_value(&current).ok(), serde_json::to_value(&spec).ok())).await.map_err(internal)?;
    Ok(Json(spec))
}

pub async fn retire(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    Path((community, device)): Path<(String, String)>,
    body: Result<Json<Retirement>, JsonRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    registered(&app, &caller, &community, &device)?;
    let Json(body) = body.map_err(ApiError::body)?;
    let at = chrono::Utc::now();
    let command = RegistryCommand::RetireDevice { community: community.clone(), device: device.clone(), at, reason: body.reason.trim().to_string() };
    let note = format!("设备已停用：{}", body.reason.trim());
    app.change_registry(command, CommunityMsg::RetireDevice { device: DeviceId::new(&device), note }, &community).await?;
    // No key of a retired device is accepted again, and its connection closes now.
    app.keyring.revoke(&community, &device, at.timestamp_millis()).await?;
    let target = format!("{community}/{device}");
    app.identity.audit(audit_entry(&caller, "device.retire", &target, None, Some(json!({"reason": body.reason})))).await.map_err(internal)?;
    Ok(Json(json!({"device": device, "retired_at": at})))
}

/// A device swapped for a new one in the same place (a broken meter, a gate's reader): the old
/// one retired and the new one registered in one registry append, so the place is never left
/// without a device or with two. The old key is revoked; the new device joins asleep and is
/// heard as soon as it connects with its own provisioning key. Its open alarms are resolved
/// with the replacement as their note.
pub async fn replace(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    Path((community, device)): Path<(String, String)>,
    body: Result<Json<Replacement>, JsonRejection>,
) -> Result<Json<DeviceSpec>, ApiError> {
    let old = registered(&app, &caller, &community, &device)?;
    let Json(body) = body.map_err(ApiError::body)?;
    let (by, reason, at) = (DeviceId::new(body.id.trim()), body.reason.trim().to_string(), app.clock.now());
    let command = RegistryCommand::ReplaceDevice { community: community.clone(), device: device.clone(), by: by.clone(), at, reason: reason.clone() };
    app.registered()?.execute(&command, at.timestamp_millis()).await?;
    let new = DeviceSpec { id: by.clone(), ..old.clone() };
    let note = format!("设备已更换为 {by}：{reason}");
    let _ = app.directory.tell_community(&community, CommunityMsg::RetireDevice { device: old.id.clone(), note });
    let _ = app.directory.tell_community(&community, CommunityMsg::AddDevice(new.clone()));
    app.keyring.revoke(&community, &device, at.timestamp_millis()).await?;
    let target = format!("{community}/{device}");
    app.identity.audit(audit_entry(&caller, "device.replace", &target, serde_json::to_value(&old).ok(), Some(json!({"by": by, "reason": reason})))).await.map_err(internal)?;
    Ok(Json(new))
}

/// Devices by spreadsheet (XLSX, XLS or CSV, the columns of `hutong_core::import::devices`): every
/// row is checked — its own cells, then the registry's rules (ids never used, the house in its
/// building) — and with any row wrong nothing is registered (422 with the row report, as the other
/// imports answer); otherwise all of them are, in one registry append.
pub async fn import(State(app): State<Arc<App>>, Extension(caller): Extension<Caller>, Path(community): Path<String>, upload: crate::error::Upload) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    use hutong_core::api::ImportReport;
    use hutong_core::import::RowError;
    use hutong_core::import::devices::DeviceReader;
    let c = app.community(&community)?;
    let _slot = app.imports.start(&community)?;
    let body = upload.read().await?;
    let index = crate::billing::index(&app, &c);
    let tree = c.clone();
    let reader = DeviceReader::new(c.id.clone(), move |a: &str| index.find(a), move |no: &str| {
        let no: u32 = no.trim_end_matches("号楼").parse().ok()?;
        tree.buildings.iter().find(|b| b.no == no).map(|b| b.id.clone())
    });
    let parsed = crate::billing::upload::read(body, reader).await?.finish();
    let (mut errors, mut bad_rows) = (parsed.errors, parsed.bad_rows);
    let registry = app.registered()?;
    {
        let current = registry.read();
        for (row, spec) in &parsed.devices {
            let refusal = if building_visible(&caller, spec.building.as_ref()) { current.check_new_device(spec).err().map(|e| hutong_core::Bilingual::zh(&e) + " / " + &hutong_core::Bilingual::en(&e)) } else { Some("不在您管理的楼栋内 / outside your buildings".into()) };
            if let Some(reason) = refusal {
                bad_rows += 1;
                errors.push(RowError { row: *row, column: "设备编号".into(), reason });
            }
        }
    }
    if !errors.is_empty() || parsed.devices.is_empty() {
        let message = if errors.is_empty() { "文件中没有设备 / the file lists no devices".to_string() } else { format!("{bad_rows} 行有误，未导入任何设备 / {bad_rows} bad rows; nothing was imported") };
        let report = ImportReport { rows: parsed.rows, bad_rows, message, errors, ..ImportReport::default() };
        return Err(ApiError::Unprocessable(Box::new(report)));
    }
    let specs: Vec<DeviceSpec> = parsed.devices.into_iter().map(|(_, spec)| spec).collect();
    registry.execute(&RegistryCommand::AddDevices(specs.clone()), app.clock.now().timestamp_millis()).await?;
    for spec in &specs {
        let _ = app.directory.tell_community(&community, CommunityMsg::AddDevice(spec.clone()));
    }
    app.identity.audit(audit_entry(&caller, "device.import", &community, None, Some(json!({"devices": specs.len()})))).await.map_err(internal)?;
    Ok(Json(ImportReport { imported: specs.len(), rows: parsed.rows, ..ImportReport::default() }).into_response())
}

/// A device in service that the caller may see, or 404.
fn registered(app: &App, caller: &Caller, community: &str, device: &str) -> Result<DeviceSpec, ApiError> {
    app.community(community)?;
    let spec = app.registered()?.read().device(community, device).cloned();
    spec.filter(|s| building_visible(caller, s.building.as_ref())).ok_or_else(|| ApiError::not_found("设备", "device", device))
}
