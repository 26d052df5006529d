//! Wall displays (R2): a control-room screen is added once by the office — a name, the
//! communities (or buildings) it shows — and paired with a one-time code typed on the display.
//! It then runs for months with no keyboard, as an account of its own holding only the
//! `wall_display` role (it watches, it changes nothing). Closing that account
//! (`POST /api/v1/staff/{staff}/disable`) unpairs it at once: its session ends and its socket
//! closes; the screen then says it must be paired again.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Extension, Path, State};
use chrono::{DateTime, Utc};
use hutong_core::api::StaffView;
use hutong_core::identity::{Actor, BuiltinRole, OrgCommand, Scope};
use hutong_core::{BuildingId, CommunityId, StaffId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::App;
use crate::audit::audit_entry;
use crate::auth::Caller;
use crate::error::{ApiError, ApiJson, internal};
use crate::identity::{StaffRecord, hash_password, random_secret};

/// Every display account starts so; no person's account may.
pub const DISPLAY_PREFIX: &str = "display-";

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDisplay {
    /// What the office calls it (1–40 characters), e.g. 「荷花苑监控中心左屏」.
    name: String,
    /// The communities it shows (it cycles through them when there are several).
    #[schema(value_type = Vec<String>)]
    communities: BTreeSet<CommunityId>,
    /// Only these buildings' tiles and alarms; empty: the whole communities.
    #[serde(default)]
    #[schema(value_type = Vec<String>)]
    buildings: BTreeSet<BuildingId>,
}

/// A display and the code to pair it with, shown this once.
#[derive(Serialize, ToSchema)]
pub struct Pairing {
    #[schema(value_type = Object)]
    display: StaffView,
    /// Type it on the display's pairing screen within 15 minutes.
    code: String,
    #[schema(value_type = String)]
    expires_at: DateTime<Utc>,
}

fn is_display(staff: &StaffRecord) -> bool {
    staff.account.starts_with(DISPLAY_PREFIX)
}

pub async fn list(State(app): State<Arc<App>>, Extension(caller): Extension<Caller>) -> Json<Vec<StaffView>> {
    let org = app.identity.org();
    let mut displays: Vec<&StaffRecord> = org.staff.values().filter(|s| s.company == caller.principal.company && is_display(s)).collect();
    displays.sort_by(|a, b| a.name.cmp(&b.name));
    Json(displays.into_iter().map(|s| StaffView::of(s, false)).collect())
}

pub async fn create(State(app): State<Arc<App>>, Extension(caller): Extension<Caller>, ApiJson(body): ApiJson<NewDisplay>) -> Result<Json<Pairing>, ApiError> {
    let name = body.name.trim().to_string();
    if name.is_empty() || name.chars().count() > 40 {
        return Err(ApiError::bad("显示屏名称须为 1–40 个字", "a display's name is 1–40 characters"));
    }
    if body.communities.is_empty() {
        return Err(ApiError::bad("请选择显示屏要显示的小区", "say which communities the display shows"));
    }
    let company = caller.principal.company.clone();
    let account = format!("{DISPLAY_PREFIX}{}", random_secret(4));
    // Nobody knows this password: a display signs in only by pairing.
    let secret = random_secret(32);
    let password_hash = tokio::task::spawn_blocking(move || hash_password(&secret)).await.map_err(internal)?;
    let record = StaffRecord {
        id: StaffId::new(format!("{company}-{account}")),
        company,
        account,
        name,
        phone: String::new(),
        department: None,
        post: None,
        roles: vec![BuiltinRole::WallDisplay.id()],
        scope: Scope { communities: body.communities, buildings: body.buildings },
        disabled: false,
        password_hash,
    };
    app.identity.change(OrgCommand::CreateStaff { staff: record.clone(), password_chars: 64, by: Actor::of(&caller.principal) }).await?;
    let view = StaffView::of(&record, false);
    app.identity.audit(audit_entry(&caller, "display.create", &record.account, None, serde_json::to_value(&view).ok())).await.map_err(internal)?;
    let (code, expires_at) = app.identity.issue_pairing(&record.id, Utc::now());
    Ok(Json(Pairing { display: view, code, expires_at }))
}

/// A new code for a display of the caller's company (a replaced screen, a lapsed code); any
/// earlier code of that display stops working.
pub async fn new_code(State(app): State<Arc<App>>, Extension(caller): Extension<Caller>, Path(id): Path<String>) -> Result<Json<Pairing>, ApiError> {
    let record = {
        let org = app.identity.org();
        org.staff.get(id.as_str()).filter(|s| s.company == caller.principal.company).cloned()
    };
    let record = record.ok_or_else(|| ApiError::not_found("员工", "staff member", &id))?;
    if !is_display(&record) {
        return Err(ApiError::Conflict { zh: "这不是显示屏账号".into(), en: "this account is not a display".into() });
    }
    if record.disabled {
        return Err(ApiError::Conflict { zh: "该显示屏已停用：请先启用".into(), en: "this display is closed: enable it first".into() });
    }
    app.identity.audit(audit_entry(&caller, "display.code", &record.account, None, None)).await.map_err(internal)?;
    let (code, expires_at) = app.identity.issue_pairing(&record.id, Utc::now());
    Ok(Json(Pairing { display: StaffView::of(&record, false), code, expires_at }))
}
