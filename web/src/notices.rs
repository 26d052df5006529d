//! Announcements over HTTP (X4, 公告): the office (`work_orders.operate`, the customer-service
//! side) publishes a notice to the residents of the community or of some buildings; each home's
//! residents are sent it through the notification outbox (the owner portal's in-app channel),
//! and the notice records how many homes it reached. Staff of the community read the notices (a
//! butler: those for their buildings); a notice is withdrawn, never deleted.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Extension, Path, State};
use hutong_core::BuildingId;
use hutong_core::notice::Notice;
use hutong_core::outbox::Outgoing;
use hutong_core::reminder::Channel;
use hutong_core::work_order::DeskCommand;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::app::App;
use crate::audit::audit_entry;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::work_orders::desk;

/// The caller's notices, newest first: a butler's are those for their buildings or everyone.
pub async fn list(State(app): State<Arc<App>>, Extension(caller): Extension<Caller>, Path(community): Path<String>) -> Result<Json<Vec<Notice>>, ApiError> {
    let desk = desk(&app, &community)?;
    let mine = &caller.principal.scope.buildings;
    let mut notices: Vec<Notice> = desk.read().notices.iter().filter(|n| mine.is_empty() || n.buildings.is_empty() || n.buildings.iter().any(|b| mine.contains(b))).cloned().collect();
    notices.reverse();
    Ok(Json(notices))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnnounceBody {
    /// 1–50 characters.
    title: String,
    /// 1–2,000 characters.
    body: String,
    /// The buildings whose residents it is for; left out: the whole community.
    #[serde(default)]
    #[schema(value_type = Vec<String>)]
    buildings: BTreeSet<BuildingId>,
}

pub async fn announce(State(app): State<Arc<App>>, Extension(caller): Extension<Caller>, Path(community): Path<String>, body: Result<Json<AnnounceBody>, JsonRejection>) -> Result<Json<Notice>, ApiError> {
    let c = app.community(&community)?;
    let desk = desk(&app, &community)?;
    let Json(b) = body.map_err(ApiError::body)?;
    if let Some(unknown) = b.buildings.iter().find(|id| !c.buildings.iter().any(|x| &x.id == *id)) {
        return Err(ApiError::not_found("楼栋", "building", unknown.as_str()));
    }
    // A butler announces to their own buildings only.
    let mine = &caller.principal.scope.buildings;
    if !mine.is_empty() && (b.buildings.is_empty() || !b.buildings.is_subset(mine)) {
        return Err(ApiError::Beyond { zh: "只能向自己负责的楼栋发布公告".into(), en: "you may announce to your own buildings only".into() });
    }
    let by = caller.principal.actor();
    let committed = desk.execute(&DeskCommand::Announce { title: b.title, body: b.body, buildings: b.buildings, by, at: app.clock.now() }, app.clock.now().timestamp_millis()).await?;
    let Some(hutong_core::work_order::DeskEvent::Announced { notice }) = committed.events.into_iter().next() else { return Err(crate::error::internal("no notice")) };
    // Every home it is for: its residents' phones, one message per home.
    let mut homes = 0u32;
    for building in c.buildings.iter().filter(|x| notice.reaches(Some(&x.id))) {
        let Some(book) = app.directory.building_ref(&building.id) else { continue };
        for house in book.houses("", true).await? {
            let to: Vec<String> = house.residents.iter().map(|r| r.phone.clone()).filter(|p| !p.is_empty()).collect();
            if to.is_empty() {
                continue;
            }
            let outgoing = Outgoing { community: Some(c.id.clone()), house: Some(house.id.clone()), channel: Channel::InApp, to, text: notice.text(), body: None, reason: format!("{}{}", hutong_core::outbox::ANNOUNCEMENT, notice.no), at: app.clock.now() };
            app.outbox.queue(outgoing).await.map_err(crate::error::internal)?;
            homes += 1;
        }
    }
    desk.execute(&DeskCommand::Delivered { notice: notice.no, homes }, app.clock.now().timestamp_millis()).await?;
    app.identity.audit(audit_entry(&caller, "notice.announce", &format!("{community}/{}", notice.no), None, Some(serde_json::json!({ "homes": homes })))).await.map_err(crate::error::internal)?;
    let kept = desk.read().notice(notice.no).cloned();
    Ok(Json(kept?))
}

pub async fn withdraw(State(app): State<Arc<App>>, Extension(caller): Extension<Caller>, Path((community, no)): Path<(String, String)>) -> Result<Json<Notice>, ApiError> {
    let desk = desk(&app, &community)?;
    let missing = || ApiError::not_found("公告", "notice", &no);
    let no: u64 = no.parse().map_err(|_| missing())?;
    let notice = desk.read().notice(no).cloned().map_err(|_| missing())?;
    let mine = &caller.principal.scope.buildings;
    if !mine.is_empty() && (notice.buildings.is_empty() || !notice.buildings.is_subset(mine)) {
        return Err(missing());
    }
    desk.execute(&DeskCommand::Withdraw { notice: no, by: caller.principal.actor(), at: app.clock.now() }, app.clock.now().timestamp_millis()).await?;
    app.identity.audit(audit_entry(&caller, "notice.withdraw", &format!("{community}/{no}"), None, None)).await.map_err(crate::error::internal)?;
    Ok(Json(desk.read().notice(no).cloned()?))
}
