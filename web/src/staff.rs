//! Staff, roles and the audit log (X1, X3, C4): list and open accounts, change roles, close an
//! account (its sessions end, its open sockets close), define a company's own roles, read the
//! audit log. Every change is audited with before and after; phone numbers are masked unless the
//! caller may unmask, and each unmasking is audited too.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Extension, Path, Query, State};
use hutong_core::identity::{Actor, OrgCommand, Permission, Role, Scope, mask_phone};
use hutong_core::{RoleId, StaffId};
use serde::Deserialize;
use utoipa::ToSchema;
use serde_json::json;

use crate::error::{ApiError, ApiJson, internal};
use crate::auth::Caller;
use crate::identity::{AuditEntry, StaffRecord, hash_password};
use hutong_core::api::{CompanyRef, DeviceKey, DeviceKeyState, DisabledReply, GateOpened, NewStaff, OrgCommunity, OrgView, PhoneReply, ProfileReply, RolesReply, StaffView};
use crate::audit::audit_entry;
use crate::app::App;

/// A staff member of the caller's own company, or 404 (another company's staff do not exist).
fn own_staff(app: &App, caller: &Caller, id: &str) -> Result<StaffRecord, ApiError> {
    let org = app.identity.org();
    org.staff.get(id).filter(|s| s.company == caller.principal.company).cloned().ok_or_else(|| ApiError::not_found("员工", "staff member", id))
}

pub async fn list(State(app): State<Arc<App>>, Extension(caller): Extension<Caller>) -> Json<Vec<StaffView>> {
    let org = app.identity.org();
    let mut staff: Vec<&StaffRecord> = org.staff.values().filter(|s| s.company == caller.principal.company).collect();
    staff.sort_by(|a, b| a.account.cmp(&b.account));
    // The list is always masked; the full number is its own, audited, request.
    Json(staff.into_iter().map(|s| StaffView::of(s, false)).collect())
}


pub async fn create(State(app): State<Arc<App>>, Extension(caller): Extension<Caller>, ApiJson(body): ApiJson<NewStaff>) -> Result<Json<StaffView>, ApiError> {
    let company = caller.principal.company.clone();
    if body.account.starts_with(crate::displays::DISPLAY_PREFIX) {
        return Err(ApiError::bad("以 display- 开头的账号留给显示屏", "accounts starting with display- are for wall displays"));
    }
    let password_chars = body.password.chars().count();
    // Argon2 off the async threads (review S5).
    let password = body.password.clone();
    let password_hash = tokio::task::spawn_blocking(move || hash_password(&password)).await.map_err(internal)?;
    let record = StaffRecord {
        id: StaffId::new(format!("{}-{}", company, body.account)),
        company,
        account: body.account,
        name: body.name,
        phone: body.phone,
        department: body.department,
        post: body.post,
        roles: body.roles,
        scope: Scope { communities: body.communities, buildings: body.buildings },
        disabled: false,
        password_hash,
    };
    let view = StaffView::of(&record, false);
    app.identity.change(OrgCommand::CreateStaff { staff: record.clone(), password_chars, by: Actor::of(&caller.principal) }).await?;
    app.identity.audit(audit_entry(&caller, "staff.create", &record.account, None, serde_json::to_value(&view).ok())).await.map_err(internal)?;
    Ok(Json(view))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RolesBody {
    #[schema(value_type = Vec<String>)]
    roles: Vec<RoleId>,
}

pub async fn set_roles(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Result<Json<RolesBody>, JsonRejection>,
) -> Result<Json<RolesReply>, ApiError> {
    // Another company's staff member does not exist, whatever the body says.
    let staff = own_staff(&app, &caller, &id)?;
    let Json(body) = body.map_err(ApiError::body)?;
    app.identity.change(OrgCommand::ChangeRoles { staff: staff.id.clone(), roles: body.roles.clone(), by: Actor::of(&caller.principal) }).await?;
    let entry = audit_entry(&caller, "staff.roles", &staff.account, Some(json!(staff.roles)), Some(json!(body.roles)));
    app.identity.audit(entry).await.map_err(internal)?;
    Ok(Json(RolesReply { id: staff.id, roles: body.roles }))
}

pub async fn disable(State(app): State<Arc<App>>, Extension(caller): Extension<Caller>, Path(id): Path<String>) -> Result<Json<DisabledReply>, ApiError> {
    let staff = own_staff(&app, &caller, &id)?;
    if matches!(&caller.principal.subject, hutong_core::identity::Subject::Staff { id, .. } if *id == staff.id) {
        return Err(ApiError::bad("不能停用自己的账号", "you cannot close your own account"));
    }
    app.identity.change(OrgCommand::DisableStaff { staff: staff.id.clone(), by: Actor::of(&caller.principal) }).await?;
    app.identity.revoke_staff(&staff.id).await.map_err(internal)?;
    app.identity.audit(audit_entry(&caller, "staff.disable", &staff.account, Some(json!({"disabled": false})), Some(json!({"disabled": true})))).await.map_err(internal)?;
    Ok(Json(DisabledReply { id: staff.id, disabled: true }))
}

/// Open a closed account again (review S8): within the caller's own permissions and scope.
pub async fn enable(State(app): State<Arc<App>>, Extension(caller): Extension<Caller>, Path(id): Path<String>) -> Result<Json<DisabledReply>, ApiError> {
    let staff = own_staff(&app, &caller, &id)?;
    app.identity.change(OrgCommand::EnableStaff { staff: staff.id.clone(), by: Actor::of(&caller.principal) }).await?;
    app.identity.audit(audit_entry(&caller, "staff.enable", &staff.account, Some(json!({"disabled": true})), Some(json!({"disabled": false})))).await.map_err(internal)?;
    Ok(Json(DisabledReply { id: staff.id, disabled: false }))
}

pub async fn unmask_phone(State(app): State<Arc<App>>, Extension(caller): Extension<Caller>, Path(id): Path<String>) -> Result<Json<PhoneReply>, ApiError> {
    let staff = own_staff(&app, &caller, &id)?;
    app.identity.audit(audit_entry(&caller, "personal.unmask", &staff.account, None, None)).await.map_err(internal)?;
    Ok(Json(PhoneReply { id: staff.id, phone: staff.phone }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    name: Option<String>,
    phone: Option<String>,
}

/// A staff member edits their own name and phone — and nothing else: a body that tries to set
/// roles, scope or company is refused whole.
pub async fn update_me(State(app): State<Arc<App>>, Extension(caller): Extension<Caller>, ApiJson(body): ApiJson<Profile>) -> Result<Json<ProfileReply>, ApiError> {
    let hutong_core::identity::Subject::Staff { id, .. } = &caller.principal.subject else {
        return Err(ApiError::bad("业主资料请在业主端修改", "owners change their details in the owner portal"));
    };
    let staff = own_staff(&app, &caller, id.as_str())?;
    let name = body.name.unwrap_or_else(|| staff.name.clone());
    let phone = body.phone.unwrap_or_else(|| staff.phone.clone());
    app.identity.change(OrgCommand::ChangeProfile { staff: staff.id.clone(), name: name.clone(), phone: phone.clone() }).await?;
    let entry = audit_entry(&caller, "staff.profile", &staff.account, Some(json!({"name": staff.name})), Some(json!({"name": name})));
    app.identity.audit(entry).await.map_err(internal)?;
    Ok(Json(ProfileReply { name, phone: mask_phone(&phone) }))
}

pub async fn roles(State(app): State<Arc<App>>, Extension(caller): Extension<Caller>) -> Json<Vec<Role>> {
    Json(app.identity.org().roles(&caller.principal.company))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRole {
    #[schema(value_type = String)]
    id: RoleId,
    name: String,
    /// `module.read`, `module.write` or `personal.unmask`; never more than the caller holds.
    #[schema(value_type = Vec<String>)]
    permissions: BTreeSet<Permission>,
}

pub async fn define_role(State(app): State<Arc<App>>, Extension(caller): Extension<Caller>, ApiJson(body): ApiJson<NewRole>) -> Result<Json<Role>, ApiError> {
    // Nobody hands out more than they hold.
    if let Some(p) = body.permissions.iter().find(|p| !caller.principal.may(**p)) {
        return Err(ApiError::Forbidden(*p));
    }
    let role = Role { id: body.id, name: body.name, permissions: body.permissions, builtin: false };
    let company = caller.principal.company.clone();
    app.identity.change(OrgCommand::DefineRole { company, role: role.clone() }).await?;
    app.identity.audit(audit_entry(&caller, "role.define", role.id.as_str(), None, Some(json!(role)))).await.map_err(internal)?;
    Ok(Json(role))
}

/// The caller's organisation: company → branches → communities, and the departments and posts
/// its staff are placed in.
pub async fn organisation(State(app): State<Arc<App>>, Extension(caller): Extension<Caller>) -> Result<Json<OrgView>, ApiError> {
    org_view(&app, &caller)
}

pub(crate) fn org_view(app: &App, caller: &Caller) -> Result<Json<OrgView>, ApiError> {
    let org = app.identity.org();
    let company_id = &caller.principal.company;
    let company = org.companies.get(company_id).ok_or_else(|| ApiError::not_found("公司", "company", company_id.as_str()))?;
    let names: std::collections::HashMap<String, String> =
        app.hub.communities().iter().map(|c| (c.id.to_string(), c.name.clone())).collect();
    let communities = company
        .communities
        .iter()
        .map(|c| OrgCommunity { id: c.clone(), name: names.get(c.as_str()).cloned(), branch: company.community_branch.get(c).cloned(), region: company.community_region.get(c).cloned() })
        .collect();
    let staff = org.staff.values().filter(|s| &s.company == company_id);
    let departments: BTreeSet<String> = staff.clone().filter_map(|s| s.department.clone()).collect();
    let posts: BTreeSet<String> = staff.filter_map(|s| s.post.clone()).collect();
    Ok(Json(OrgView {
        company: CompanyRef { id: company_id.clone(), name: company.name.clone() },
        branches: company.branches.iter().cloned().collect(),
        regions: company.regions.iter().map(|(b, rs)| (b.clone(), rs.iter().cloned().collect())).collect(),
        communities,
        departments: departments.into_iter().collect(),
        posts: posts.into_iter().collect(),
    }))
}

#[derive(Deserialize)]
pub struct AuditQuery {
    actor: Option<String>,
    action: Option<String>,
    /// At most this many entries (1–1000, 200 by default).
    limit: Option<usize>,
    /// Entries older than this seq: the next page is `before` = the last seq of this one.
    before: Option<u64>,
}

pub async fn audit_log(State(app): State<Arc<App>>, Extension(caller): Extension<Caller>, Query(q): Query<AuditQuery>) -> Result<Json<Vec<AuditEntry>>, ApiError> {
    let limit = q.limit.unwrap_or(200).clamp(1, 1000);
    let entries = app.identity.audit_page(&caller.principal.company, q.actor.as_deref(), q.action.as_deref(), limit, q.before).await.map_err(internal)?;
    Ok(Json(entries))
}

/// A device of the caller's buildings, or 404: outside them a device does not exist (review A3).
fn visible_device(app: &App, caller: &Caller, community: &str, device: &str) -> Result<(), ApiError> {
    let visible = app.hub.device(community, device).is_some_and(|d| crate::scope::building_visible(caller, d.building.as_ref()));
    visible.then_some(()).ok_or_else(|| ApiError::not_found("设备", "device", device))
}

/// Opens a gate or a barrier from the control room: a command on the device's command topic,
/// delivered only if the device is connected and listening now (a gate must never open late).
/// Audited.
pub async fn open_gate(State(app): State<Arc<App>>, Extension(caller): Extension<Caller>, Path((community, device)): Path<(String, String)>) -> Result<Json<GateOpened>, ApiError> {
    visible_device(&app, &caller, &community, &device)?;
    let kind = app.hub.device(&community, &device).map(|d| d.kind);
    if !kind.is_some_and(|k| matches!(k, hutong_core::device::DeviceKind::Gate | hutong_core::device::DeviceKind::Barrier)) {
        return Err(ApiError::Conflict { zh: "只有门禁和道闸可以远程开启".into(), en: "only gates and barriers can be opened remotely".into() });
    }
    let Some(endpoint) = app.endpoint.get() else {
        return Err(ApiError::Unavailable {
            zh: "使用外部 MQTT 代理时不能远程开闸".into(),
            en: "remote opening needs Hutong's own MQTT endpoint; this node uses an external broker".into(),
        });
    };
    let at = chrono::Utc::now();
    let command = json!({"action": "open", "by": caller.principal.actor(), "at": at.to_rfc3339()}).to_string().into_bytes();
    if !endpoint.command(&community, &device, command) {
        return Err(ApiError::Conflict {
            zh: "设备未连接或未订阅指令，未发送开闸指令".into(),
            en: "the device is not connected and listening for commands: nothing was sent".into(),
        });
    }
    app.identity.audit(audit_entry(&caller, "device.open", &format!("{community}/{device}"), None, None)).await.map_err(internal)?;
    Ok(Json(GateOpened { device, at }))
}

/// A device's provisioning key, while it has it; handing it out is audited.
pub async fn device_key(State(app): State<Arc<App>>, Extension(caller): Extension<Caller>, Path((community, device)): Path<(String, String)>) -> Result<Json<DeviceKey>, ApiError> {
    visible_device(&app, &caller, &community, &device)?;
    let Some(key) = app.keyring.provisioning_key(&community, &device) else {
        return Err(ApiError::Conflict {
            zh: "该设备的密钥已轮换或吊销：新密钥只在轮换时显示一次，如需新密钥请再次轮换".into(),
            en: "this device's key was rotated or revoked: a rotated key is shown once, when it is issued; rotate again for a new one".into(),
        });
    };
    app.identity.audit(audit_entry(&caller, "device.key", &format!("{community}/{device}"), None, None)).await.map_err(internal)?;
    Ok(Json(DeviceKey { device, key, generation: 0 }))
}

/// Gives a device a new random key, shown in this answer only; the old key is refused from now
/// on and the device's open connection is closed. Audited (the key itself never is).
pub async fn rotate_device_key(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    Path((community, device)): Path<(String, String)>,
) -> Result<Json<DeviceKey>, ApiError> {
    visible_device(&app, &caller, &community, &device)?;
    let key = app.keyring.rotate(&community, &device, chrono::Utc::now().timestamp_millis()).await?;
    let (generation, _) = app.keyring.generation(&community, &device);
    app.identity.audit(audit_entry(&caller, "device.key.rotate", &format!("{community}/{device}"), None, Some(json!({"generation": generation})))).await.map_err(internal)?;
    Ok(Json(DeviceKey { device, key, generation }))
}

/// Refuses every key of a device (a stolen or retired device) until its next rotation; its open
/// connection is closed at once. Audited.
pub async fn revoke_device_key(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    Path((community, device)): Path<(String, String)>,
) -> Result<Json<DeviceKeyState>, ApiError> {
    visible_device(&app, &caller, &community, &device)?;
    app.keyring.revoke(&community, &device, chrono::Utc::now().timestamp_millis()).await?;
    let (generation, revoked) = app.keyring.generation(&community, &device);
    app.identity.audit(audit_entry(&caller, "device.key.revoke", &format!("{community}/{device}"), None, Some(json!({"generation": generation})))).await.map_err(internal)?;
    Ok(Json(DeviceKeyState { device, generation, revoked }))
}
