//! A community's alarms over HTTP (R8): what is open and what was resolved lately, as the caller
//! may see them (a butler: their buildings'), and the two things a person does with an alarm —
//! acknowledge it (I am on it) and resolve it with a note. Both are audited and reach every
//! screen through the hub as the alarm's new state.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Extension, Path, State};
use hutong_core::alarm::{AlarmCommand, AlarmError, AlarmRecord, Handler};
use hutong_core::identity::Subject;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::App;
use crate::audit::audit_entry;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::scope::building_visible;

#[derive(Serialize, ToSchema)]
pub struct AlarmList {
    /// Most severe first, then newest.
    #[schema(value_type = Vec<Object>)]
    pub open: Vec<AlarmRecord>,
    /// The latest resolved, newest first.
    #[schema(value_type = Vec<Object>)]
    pub resolved: Vec<AlarmRecord>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolveBody {
    /// How it was dealt with (1–500 characters).
    note: String,
}

pub async fn list(State(app): State<Arc<App>>, Extension(caller): Extension<Caller>, Path(community): Path<String>) -> Result<Json<AlarmList>, ApiError> {
    app.community(&community)?;
    let (mut open, mut resolved) = app.hub.alarms(&community).unwrap_or_default();
    open.retain(|a| building_visible(&caller, a.building.as_ref()));
    resolved.retain(|a| building_visible(&caller, a.building.as_ref()));
    Ok(Json(AlarmList { open, resolved }))
}

pub async fn acknowledge(State(app): State<Arc<App>>, Extension(caller): Extension<Caller>, Path((community, no)): Path<(String, String)>) -> Result<Json<AlarmRecord>, ApiError> {
    let no = visible_alarm(&app, &caller, &community, &no)?;
    let by = handler(&caller)?;
    let command = AlarmCommand::Acknowledge { no, by, at: chrono::Utc::now() };
    let alarm = handle(&app, &community, command).await?;
    app.identity.audit(audit_entry(&caller, "alarm.acknowledge", &format!("{community}/{no}"), None, None)).await.map_err(crate::error::internal)?;
    Ok(Json(alarm))
}

pub async fn resolve(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    Path((community, no)): Path<(String, String)>,
    body: Result<Json<ResolveBody>, JsonRejection>,
) -> Result<Json<AlarmRecord>, ApiError> {
    let no = visible_alarm(&app, &caller, &community, &no)?;
    let Json(body) = body.map_err(ApiError::body)?;
    let by = handler(&caller)?;
    let command = AlarmCommand::Resolve { no, by, at: chrono::Utc::now(), note: body.note };
    let alarm = handle(&app, &community, command).await?;
    let note = alarm.resolved.as_ref().map(|r| serde_json::json!({ "note": r.note }));
    app.identity.audit(audit_entry(&caller, "alarm.resolve", &format!("{community}/{no}"), None, note)).await.map_err(crate::error::internal)?;
    Ok(Json(alarm))
}

/// Turns an open alarm into a work order (R8): the order carries the alarm's sentence, device and
/// building; the alarm then shows the order as who is on it. Once is enough: an alarm already
/// turned into an order is refused with the order's number.
pub async fn to_work_order(State(app): State<Arc<App>>, Extension(caller): Extension<Caller>, Path((community, no)): Path<(String, String)>) -> Result<Json<hutong_core::work_order::WorkOrder>, ApiError> {
    let no = visible_alarm(&app, &caller, &community, &no)?;
    let (open, _) = app.hub.alarms(&community).unwrap_or_default();
    let alarm = open.into_iter().find(|a| a.no == no).ok_or_else(|| ApiError::Conflict { zh: format!("告警 #{no} 已处理，不能再转工单"), en: format!("alarm #{no} is resolved; it cannot become a work order") })?;
    if let Some((by, _)) = alarm.acknowledged.as_ref().filter(|(by, _)| by.account == "system") {
        return Err(ApiError::Conflict { zh: format!("告警 #{no} 已转{}", by.name), en: format!("alarm #{no} is already {}", by.name) });
    }
    let c = app.community(&community)?;
    let order = hutong_actors::work_order::open_order(&app.directory, &c.id, hutong_actors::work_order::from_alarm(&alarm), app.clock.now()).await??;
    let id = order.id.as_ref().map(ToString::to_string).unwrap_or_default();
    // Nobody on it yet: the order is. (Someone already on it stays on it.)
    if alarm.acknowledged.is_none() {
        let by = Handler { account: "system".into(), name: format!("工单 {id}") };
        handle(&app, &community, AlarmCommand::Acknowledge { no, by, at: chrono::Utc::now() }).await.ok();
    }
    app.identity.audit(audit_entry(&caller, "alarm.work_order", &format!("{community}/{no}"), None, Some(serde_json::json!({ "order": id })))).await.map_err(crate::error::internal)?;
    Ok(Json(order))
}

/// The alarm's number, if it is one of the caller's buildings'; otherwise it does not exist for
/// them (404, as a device or a bill would: review A3).
fn visible_alarm(app: &App, caller: &Caller, community: &str, no: &str) -> Result<u64, ApiError> {
    app.community(community)?;
    let missing = || ApiError::not_found("告警", "alarm", no);
    let no: u64 = no.parse().map_err(|_| missing())?;
    let (open, resolved) = app.hub.alarms(community).unwrap_or_default();
    let alarm = open.iter().chain(&resolved).find(|a| a.no == no);
    match alarm {
        Some(a) if building_visible(caller, a.building.as_ref()) => Ok(no),
        Some(_) => Err(missing()),
        // Resolved long ago (no longer kept on screen): the desk answers for it.
        None if caller.principal.scope.buildings.is_empty() => Ok(no),
        None => Err(missing()),
    }
}

/// The person acting, as the wall shows them.
pub(crate) fn handler(caller: &Caller) -> Result<Handler, ApiError> {
    match &caller.principal.subject {
        Subject::Staff { account, name, .. } => Ok(Handler { account: account.clone(), name: name.clone() }),
        Subject::Owner { .. } => Err(ApiError::NotStaff),
    }
}

async fn handle(app: &App, community: &str, command: AlarmCommand) -> Result<AlarmRecord, ApiError> {
    let desk = app.directory.alarm_desk(community).ok_or_else(|| ApiError::Unavailable {
        zh: "告警台暂时无法处理请求".into(),
        en: "the alarm desk is not available right now".into(),
    })?;
    let answer = desk.handle(command).await.map_err(|e| {
        let (zh, en) = ApiError::bilingual(&e);
        ApiError::Unavailable { zh, en }
    })?;
    answer.map_err(ApiError::from)
}

impl From<AlarmError> for ApiError {
    fn from(e: AlarmError) -> Self {
        let (zh, en) = ApiError::bilingual(&e);
        match e {
            AlarmError::NoSuchAlarm(_) => ApiError::NotFound { zh, en },
            AlarmError::AlreadyResolved(_) | AlarmError::AlreadyAcknowledged(..) => ApiError::Conflict { zh, en },
            AlarmError::NoteRequired | AlarmError::NoteTooLong => ApiError::BadRequest { zh, en },
        }
    }
}
