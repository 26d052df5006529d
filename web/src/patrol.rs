//! Patrols over HTTP (T1–T5). The office places checkpoints — each with a printed code carrying
//! a token signed for that community and checkpoint — and sets routes with their plans; a
//! guard's phone checks in by sending what it scanned; everyone with `patrol.read` sees each
//! route's rounds today and its figures by month. A miss needs nobody here: the route's actor
//! decides it when the window closes and the alarm desk raises it.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Extension, Path, State};
use chrono::{DateTime, NaiveTime, Utc};
use hutong_actors::journaled::Shared;
use hutong_actors::patrol::{NotCounted, PatrolMsg};
use hutong_core::identity::Subject;
use hutong_core::patrol::{CheckIn, CheckInOutcome, Checkpoint, MonthFigures, PatrolError, PatrolMonth, PatrolPlan, PatrolRoute, PatrolSite, RouteDefinition, SiteCommand, SiteError, Stop};
use hutong_core::{CheckpointId, RouteId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::App;
use crate::audit::audit_entry;
use crate::auth::Caller;
use crate::error::ApiError;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckpointBody {
    /// What guards and the office call it (1–50 characters).
    name: String,
    /// Metres east and south of the site plan's top-left corner, if placed.
    #[serde(default)]
    #[schema(value_type = Option<Vec<u32>>)]
    position: Option<(u32, u32)>,
    /// The RFID/NFC tag fixed there, for patrol readers (巡更棒); left out: none.
    #[serde(default)]
    tag: Option<String>,
}

/// What a checkpoint's printed code opens on a guard's phone.
#[derive(Serialize, ToSchema)]
pub struct CheckpointCode {
    pub checkpoint: String,
    pub name: String,
    /// The token the code carries (signed for this community, checkpoint and code version).
    pub code: String,
    /// The address the code holds: the guard's phone opens it to check in.
    pub url: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StopBody {
    checkpoint: String,
    /// Minutes allowed to reach it from the previous stop (from the round's start, for the first).
    after_mins: u32,
    /// Minutes to stay.
    #[serde(default)]
    dwell_mins: u32,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanBody {
    /// Start times of day (`"22:00"`, or to the second), in the community's time zone.
    #[schema(value_type = Vec<String>)]
    starts: Vec<String>,
    /// Days of the week, 1 = Monday … 7 = Sunday; none: every day.
    #[serde(default)]
    days: Vec<u8>,
    /// Minutes before and after the expected arrival a check-in counts.
    tolerance_mins: u32,
    /// Accounts of the guards who walk it (or patrol readers' ids); none: any guard of the community.
    #[serde(default)]
    guards: Vec<String>,
    /// Minutes before a round its guards' phones remind them (0: none); 10 when left out.
    #[serde(default)]
    remind_mins: Option<u32>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RouteBody {
    name: String,
    stops: Vec<StopBody>,
    plan: PlanBody,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckInBody {
    checkpoint: String,
    /// The token the printed code carries.
    code: String,
    /// When it was scanned, if the phone held it while offline; otherwise now.
    #[serde(default)]
    scanned_at: Option<DateTime<Utc>>,
    #[serde(default)]
    note: Option<String>,
    /// Photos taken there, by the ids `POST …/patrol/photos` gave them.
    #[serde(default)]
    photos: Vec<String>,
    /// On a round of the guard's own (临时巡更), not a planned one.
    #[serde(default)]
    unplanned: bool,
}

/// A note and photos for one's own check-in.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoteBody {
    checkpoint: String,
    /// The check-in's scan time, as its answer gave it.
    at: DateTime<Utc>,
    #[serde(default)]
    note: Option<String>,
    #[serde(default)]
    photos: Vec<String>,
}

#[derive(Serialize, ToSchema)]
pub struct CheckedIn {
    /// The route the check-in counted for.
    pub route: String,
    pub checkpoint: String,
    pub at: DateTime<Utc>,
    /// `arrived`, `left` (a second scan where the guard arrived: the stay is measured) or `unplanned`.
    pub kind: &'static str,
    /// On leaving: minutes stayed.
    pub stayed_mins: Option<i64>,
}

/// One stop of a round as screens show it.
#[derive(Serialize, ToSchema)]
pub struct StopView {
    pub checkpoint: String,
    pub name: String,
    pub opens: DateTime<Utc>,
    pub closes: DateTime<Utc>,
    /// `reached`, `missed`, `open` (now within its window), `due` (later) or `closed` (before
    /// the route was set: not judged).
    pub state: &'static str,
    pub at: Option<DateTime<Utc>>,
    pub by: Option<String>,
    /// What the guard noted there, and the ids of their photos (`GET …/patrol/photos/{id}`).
    pub note: Option<String>,
    pub photos: Vec<String>,
    /// When the guard scanned again on leaving.
    pub left_at: Option<DateTime<Utc>>,
}

#[derive(Serialize, ToSchema)]
pub struct RoundView {
    pub start: DateTime<Utc>,
    pub stops: Vec<StopView>,
}

#[derive(Serialize, ToSchema)]
pub struct RouteView {
    pub id: String,
    #[schema(value_type = Object)]
    pub definition: Option<RouteDefinition>,
    /// When the next window closes (a miss is decided then).
    pub next_close: Option<DateTime<Utc>>,
    /// Today's rounds (in the community's time zone), each stop's state.
    pub today: Vec<RoundView>,
    /// Figures by month (`YYYY-MM`): rounds, completed, missed, per guard.
    #[schema(value_type = Object)]
    pub months: BTreeMap<String, MonthFigures>,
}

fn site(app: &App, community: &str) -> Result<Arc<Shared<PatrolSite>>, ApiError> {
    app.community(community)?;
    app.directory.patrol_site(community).ok_or_else(|| ApiError::Unavailable { zh: "巡更服务暂时无法处理请求".into(), en: "patrols are not available right now".into() })
}

fn unavailable() -> ApiError {
    ApiError::Unavailable { zh: "巡更路线暂时无法处理请求".into(), en: "the patrol route is not available right now".into() }
}

async fn ask<M: ractor::Message, T: Send + 'static>(actor: &ractor::ActorRef<M>, msg: impl FnOnce(ractor::RpcReplyPort<T>) -> M) -> Result<T, ApiError> {
    crate::app::ask(actor, msg).await.map_err(|_| unavailable())
}

async fn route_state(app: &App, community: &str, route: &str) -> Result<PatrolRoute, ApiError> {
    let actor = app.directory.route(community, route).ok_or_else(|| ApiError::not_found("巡更路线", "patrol route", route))?;
    ask(&actor, PatrolMsg::Get).await
}


pub async fn checkpoints(State(app): State<Arc<App>>, Path(community): Path<String>) -> Result<Json<Vec<Checkpoint>>, ApiError> {
    let site = site(&app, &community)?;
    let all = site.read().checkpoints.values().cloned().collect();
    Ok(Json(all))
}

pub async fn put_checkpoint(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    Path((community, checkpoint)): Path<(String, String)>,
    body: Result<Json<CheckpointBody>, JsonRejection>,
) -> Result<Json<Checkpoint>, ApiError> {
    let site = site(&app, &community)?;
    let Json(body) = body.map_err(ApiError::body)?;
    let id = CheckpointId::new(&checkpoint);
    site.execute(&SiteCommand::PutCheckpoint { id: id.clone(), name: body.name, position: body.position, tag: body.tag }, app.clock.now().timestamp_millis()).await?;
    app.identity.audit(audit_entry(&caller, "patrol.checkpoint", &format!("{community}/{checkpoint}"), None, None)).await.map_err(crate::error::internal)?;
    let saved = site.read().checkpoints.get(&id).cloned();
    saved.map(Json).ok_or_else(|| ApiError::not_found("巡更点", "checkpoint", &checkpoint))
}

/// The code to print for a checkpoint (as it stands; `new-code` replaces it).
pub async fn code(State(app): State<Arc<App>>, Path((community, checkpoint)): Path<(String, String)>) -> Result<Json<CheckpointCode>, ApiError> {
    let site = site(&app, &community)?;
    let found = site.read().checkpoints.get(checkpoint.as_str()).cloned();
    let found = found.ok_or_else(|| ApiError::not_found("巡更点", "checkpoint", &checkpoint))?;
    Ok(Json(printed_code(&app, &community, &found)))
}

/// A new code for a lost or copied one: the printed code stops working at once (audited).
pub async fn new_code(State(app): State<Arc<App>>, Extension(caller): Extension<Caller>, Path((community, checkpoint)): Path<(String, String)>) -> Result<Json<CheckpointCode>, ApiError> {
    let site = site(&app, &community)?;
    site.execute(&SiteCommand::NewCode { id: CheckpointId::new(&checkpoint) }, app.clock.now().timestamp_millis()).await?;
    app.identity.audit(audit_entry(&caller, "patrol.new_code", &format!("{community}/{checkpoint}"), None, None)).await.map_err(crate::error::internal)?;
    let found = site.read().checkpoints.get(checkpoint.as_str()).cloned();
    let found = found.ok_or_else(|| ApiError::not_found("巡更点", "checkpoint", &checkpoint))?;
    Ok(Json(printed_code(&app, &community, &found)))
}

fn printed_code(app: &App, community: &str, checkpoint: &Checkpoint) -> CheckpointCode {
    let code = app.keyring.checkpoint_code(community, checkpoint.id.as_str(), checkpoint.code_version);
    let url = format!("/patrol/scan?community={community}&checkpoint={}&code={code}", checkpoint.id);
    CheckpointCode { checkpoint: checkpoint.id.to_string(), name: checkpoint.name.clone(), code, url }
}

pub async fn routes(State(app): State<Arc<App>>, Path(community): Path<String>) -> Result<Json<Vec<RouteView>>, ApiError> {
    let site = site(&app, &community)?;
    let ids: Vec<RouteId> = site.read().routes.iter().cloned().collect();
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let state = route_state(&app, &community, id.as_str()).await?;
        out.push(view(&app, &id, state));
    }
    Ok(Json(out))
}

#[derive(Deserialize, ToSchema)]
pub struct FiguresQuery {
    /// `YYYY-MM`; the community's current month when left out.
    pub month: Option<String>,
}

/// One line of the month's figures: a route, a guard or the total.
#[derive(Serialize, ToSchema)]
pub struct FiguresRow {
    /// The route's id or the guard's account (empty for the total).
    pub id: String,
    pub name: String,
    /// Rounds closed in the month (planned and judged).
    pub rounds: u32,
    /// Rounds with every stop reached.
    pub completed: u32,
    /// Rounds with at least one stop missed.
    pub missed_rounds: u32,
    /// Stops missed (routes and the total).
    pub missed_stops: Option<u32>,
    /// Percent with one decimal, e.g. "97.5"; none without rounds.
    pub completion_rate: Option<String>,
    pub miss_rate: Option<String>,
}

/// A month of the community's patrols (T6): per route, per guard, in total.
#[derive(Serialize, ToSchema)]
pub struct PatrolFigures {
    pub month: String,
    pub routes: Vec<FiguresRow>,
    pub guards: Vec<FiguresRow>,
    pub total: FiguresRow,
}

fn figures_row(id: &str, name: &str, f: &MonthFigures) -> FiguresRow {
    FiguresRow {
        id: id.to_string(),
        name: name.to_string(),
        rounds: f.rounds,
        completed: f.completed,
        missed_rounds: f.missed_rounds,
        missed_stops: Some(f.missed_stops),
        completion_rate: f.completion_rate().map(|r| r.to_string()),
        miss_rate: f.miss_rate().map(|r| r.to_string()),
    }
}

/// The month's figures of every route and guard (T6): rounds, completed, missed, rates.
pub async fn figures(State(app): State<Arc<App>>, Path(community): Path<String>, axum::extract::Query(q): axum::extract::Query<FiguresQuery>) -> Result<Json<PatrolFigures>, ApiError> {
    let tz: chrono_tz::Tz = app.community(&community)?.time_zone.parse().unwrap_or(chrono_tz::Asia::Shanghai);
    let month = match q.month {
        None => app.clock.now().with_timezone(&tz).format("%Y-%m").to_string(),
        Some(m) if m.len() == 7 && chrono::NaiveDate::parse_from_str(&format!("{m}-01"), "%Y-%m-%d").is_ok() => m,
        Some(m) => {
            return Err(ApiError::BadRequest { zh: format!("月份 {m} 应写成 年-月，如 2026-11"), en: format!("month {m} should read year-month, like 2026-11") });
        }
    };
    let site = site(&app, &community)?;
    let ids: Vec<RouteId> = site.read().routes.iter().cloned().collect();
    let mut states = Vec::with_capacity(ids.len());
    for id in ids {
        states.push(route_state(&app, &community, id.as_str()).await?);
    }
    let report = PatrolMonth::of(&month, &states);
    let routes = report.routes.iter().map(|(id, name, f)| figures_row(id.as_str(), name, f)).collect();
    let guards = {
        let org = app.identity.org();
        report
            .total
            .by_guard
            .iter()
            .map(|(account, g)| FiguresRow {
                id: account.clone(),
                name: org.staff_name(account).unwrap_or(account).to_string(),
                rounds: g.rounds,
                completed: g.completed,
                missed_rounds: g.rounds.saturating_sub(g.completed),
                missed_stops: None,
                completion_rate: g.completion_rate().map(|r| r.to_string()),
                miss_rate: g.miss_rate().map(|r| r.to_string()),
            })
            .collect()
    };
    let total = figures_row("", "合计", &report.total);
    Ok(Json(PatrolFigures { month, routes, guards, total }))
}

pub async fn route(State(app): State<Arc<App>>, Path((community, route)): Path<(String, String)>) -> Result<Json<RouteView>, ApiError> {
    site(&app, &community)?;
    let state = route_state(&app, &community, &route).await?;
    Ok(Json(view(&app, &RouteId::new(&route), state)))
}

fn view(app: &App, id: &RouteId, state: PatrolRoute) -> RouteView {
    let now = app.clock.now();
    let today = state.definition.as_ref().map_or_else(Vec::new, |d| {
        let tz: chrono_tz::Tz = d.time_zone.parse().unwrap_or(chrono_tz::Asia::Shanghai);
        d.rounds_on(now.with_timezone(&tz).date_naive())
            .into_iter()
            .map(|start| {
                let progress = state.progress(start);
                let stops = d
                    .windows(start)
                    .into_iter()
                    .map(|w| {
                        let reached = progress.and_then(|p| p.reached.get(&w.stop));
                        let missed = progress.is_some_and(|p| p.missed.contains(&w.stop));
                        let stage = match (reached, missed) {
                            (Some(_), _) => "reached",
                            (None, true) => "missed",
                            _ if w.opens <= now && now <= w.closes => "open",
                            // Closed before the route was set (or changed): not judged.
                            _ if w.closes < now => "closed",
                            _ => "due",
                        };
                        StopView { checkpoint: w.checkpoint.to_string(), name: d.stops[w.stop].name.clone(), opens: w.opens, closes: w.closes, state: stage, at: reached.map(|c| c.at), by: reached.map(|c| c.name.clone()), note: reached.and_then(|c| c.note.clone()), photos: reached.map(|c| c.photos.clone()).unwrap_or_default(), left_at: reached.and_then(|c| c.left_at) }
                    })
                    .collect();
                RoundView { start, stops }
            })
            .collect()
    });
    RouteView { id: id.to_string(), next_close: state.next_close(), definition: state.definition, today, months: state.months }
}

/// Sets a route and its plan (audited); a new route starts its actor, which keeps the timers.
pub async fn put_route(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    Path((community, route)): Path<(String, String)>,
    body: Result<Json<RouteBody>, JsonRejection>,
) -> Result<Json<RouteView>, ApiError> {
    let site = site(&app, &community)?;
    let Json(body) = body.map_err(ApiError::body)?;
    let time_zone = app.community(&community)?.time_zone.clone();
    let definition = definition(&site, body, time_zone)?;
    let id = RouteId::new(&route);
    set_route(&app, &site, &community, &id, definition).await?;
    app.identity.audit(audit_entry(&caller, "patrol.route", &format!("{community}/{route}"), None, None)).await.map_err(crate::error::internal)?;
    let state = route_state(&app, &community, &route).await?;
    Ok(Json(view(&app, &id, state)))
}

/// Opens the route in the community's site (a new one: its actor is started by the community's
/// supervisor, which keeps it running), then gives its actor the definition.
async fn set_route(app: &App, site: &Shared<PatrolSite>, community: &str, route: &RouteId, definition: RouteDefinition) -> Result<(), ApiError> {
    definition.check()?;
    site.execute(&SiteCommand::OpenRoute { route: route.clone() }, app.clock.now().timestamp_millis()).await?;
    let supervisor = app.directory.supervisor(community).ok_or_else(unavailable)?;
    let opened = route.clone();
    ask(&supervisor, |reply| hutong_actors::community::CommunityMsg::OpenRoute(opened, reply)).await?;
    let actor = app.directory.route(community, route.as_str()).ok_or_else(unavailable)?;
    ask(&actor, |reply| PatrolMsg::Define(definition, reply)).await??;
    Ok(())
}

fn definition(site: &Shared<PatrolSite>, body: RouteBody, time_zone: String) -> Result<RouteDefinition, ApiError> {
    let site = site.read();
    let mut stops = Vec::with_capacity(body.stops.len());
    for stop in body.stops {
        let checkpoint = site.checkpoints.get(stop.checkpoint.as_str()).ok_or_else(|| ApiError::from(SiteError::NoSuchCheckpoint(stop.checkpoint.clone())))?;
        stops.push(Stop { checkpoint: checkpoint.id.clone(), name: checkpoint.name.clone(), after_mins: stop.after_mins, dwell_mins: stop.dwell_mins });
    }
    let mut starts = Vec::with_capacity(body.plan.starts.len());
    for text in &body.plan.starts {
        let time = NaiveTime::parse_from_str(text, "%H:%M:%S").or_else(|_| NaiveTime::parse_from_str(text, "%H:%M")).map_err(|_| ApiError::BadRequest {
            zh: format!("开始时间 {text} 应写成 时:分，如 22:00"),
            en: format!("start time {text} should read hours:minutes, like 22:00"),
        })?;
        starts.push(time);
    }
    let plan = PatrolPlan { starts, days: body.plan.days.into_iter().collect(), tolerance_mins: body.plan.tolerance_mins, guards: body.plan.guards.into_iter().collect(), remind_mins: body.plan.remind_mins.unwrap_or(hutong_core::patrol::DEFAULT_REMIND_MINS) };
    Ok(RouteDefinition { name: body.name, time_zone, stops, plan })
}

/// A guard's scan: the code checked first (a forged, old or another community's code changes
/// nothing and is counted), then the check-in offered to each route through that checkpoint.
pub async fn check_in(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    Path(community): Path<String>,
    body: Result<Json<CheckInBody>, JsonRejection>,
) -> Result<Json<CheckedIn>, ApiError> {
    let site = site(&app, &community)?;
    let Json(body) = body.map_err(ApiError::body)?;
    let Subject::Staff { account, name, .. } = &caller.principal.subject else { return Err(ApiError::NotStaff) };
    let checkpoint = site.read().checkpoints.get(body.checkpoint.as_str()).cloned();
    let genuine = checkpoint.as_ref().is_some_and(|c| app.keyring.checkpoint_code_matches(&community, c.id.as_str(), c.code_version, &body.code));
    let Some(checkpoint) = checkpoint.filter(|_| genuine) else {
        app.metrics.inc("hutong_patrol_refused_total", &[("reason", "bad_code")]);
        return Err(ApiError::BadRequest { zh: "二维码无效或已作废，请扫描巡更点上张贴的二维码".into(), en: "this code is not valid (forged, replaced or of another place); scan the code posted at the checkpoint".into() });
    };
    let now = app.clock.now();
    known_photos(&app, &community, &body.photos).await?;
    let check_in = CheckIn { checkpoint: checkpoint.id.clone(), at: body.scanned_at.unwrap_or(now), by: account.clone(), name: name.clone(), note: body.note, photos: body.photos, left_at: None };
    let counted = hutong_actors::patrol::offer_check_in(&app.directory, &community, check_in.clone(), body.unplanned).await;
    match counted {
        Ok((route, outcome)) => {
            let (kind, stayed_mins) = match outcome {
                CheckInOutcome::Arrived => ("arrived", None),
                CheckInOutcome::Left { stayed_mins } => ("left", Some(stayed_mins)),
                CheckInOutcome::Unplanned => ("unplanned", None),
            };
            app.metrics.inc("hutong_patrol_check_ins_total", &[("kind", kind)]);
            Ok(Json(CheckedIn { route: route.to_string(), checkpoint: checkpoint.id.to_string(), at: check_in.at, kind, stayed_mins }))
        }
        Err(not_counted) => {
            app.metrics.inc("hutong_patrol_refused_total", &[("reason", "not_counted")]);
            Err(match not_counted {
                NotCounted::NoRoute => ApiError::not_found("巡更路线", "patrol route through", &checkpoint.name),
                NotCounted::Refused(refusal) => ApiError::from(refusal),
                NotCounted::Unavailable => unavailable(),
            })
        }
    }
}

/// Photos a check-in names must have been taken in this community.
async fn known_photos(app: &App, community: &str, photos: &[String]) -> Result<(), ApiError> {
    for id in photos.iter().take(hutong_core::patrol::MAX_PHOTOS + 1) {
        if app.photos.find(community, id).await.is_none() {
            return Err(ApiError::BadRequest { zh: format!("照片 {} 不存在，请重新上传", id.chars().take(40).collect::<String>()), en: format!("no photo {}; upload it again", id.chars().take(40).collect::<String>()) });
        }
    }
    Ok(())
}

/// A guard's note and photos for their own check-in, of a round under way or lately closed.
pub async fn annotate(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    Path((community, route)): Path<(String, String)>,
    body: Result<Json<NoteBody>, JsonRejection>,
) -> Result<Json<CheckedIn>, ApiError> {
    site(&app, &community)?;
    let Json(body) = body.map_err(ApiError::body)?;
    let Subject::Staff { account, .. } = &caller.principal.subject else { return Err(ApiError::NotStaff) };
    known_photos(&app, &community, &body.photos).await?;
    let actor = app.directory.route(&community, &route).ok_or_else(|| ApiError::not_found("巡更路线", "patrol route", &route))?;
    let (checkpoint, at, by) = (CheckpointId::new(&body.checkpoint), body.at, account.clone());
    ask(&actor, |reply| PatrolMsg::Annotate { checkpoint, at, by, note: body.note, photos: body.photos, reply }).await??;
    Ok(Json(CheckedIn { route, checkpoint: body.checkpoint, at, kind: "arrived", stayed_mins: None }))
}

impl From<PatrolError> for ApiError {
    fn from(e: PatrolError) -> Self {
        let (zh, en) = ApiError::bilingual(&e);
        match e {
            PatrolError::RoundEnded | PatrolError::AlreadyCheckedIn => ApiError::Conflict { zh, en },
            PatrolError::NoSuchCheckIn => ApiError::NotFound { zh, en },
            PatrolError::NotAssigned(_) => ApiError::Beyond { zh, en },
            _ => ApiError::BadRequest { zh, en },
        }
    }
}

impl From<SiteError> for ApiError {
    fn from(e: SiteError) -> Self {
        let (zh, en) = ApiError::bilingual(&e);
        match e {
            SiteError::NoSuchCheckpoint(_) => ApiError::NotFound { zh, en },
            _ => ApiError::BadRequest { zh, en },
        }
    }
}

/// The demo's patrol: three checkpoints and a night route in each community (ids carry the
/// community's, so a sister community's are told apart), set once.
pub async fn seed_demo(app: &Arc<App>, community: &str) -> anyhow::Result<()> {
    // Before the server is ready: straight to the community's site, not through `site()`.
    let site = app.directory.patrol_site(community).ok_or_else(|| anyhow::anyhow!("no patrol site for {community}"))?;
    let route = RouteId::new(format!("{community}-night"));
    if site.read().routes.contains(&route) {
        return Ok(());
    }
    let at = app.clock.now().timestamp_millis();
    let places = [("cp-1", "北门岗亭", (20, 10)), ("cp-2", "地下车库入口", (120, 60)), ("cp-3", "中心花园", (80, 140))];
    for (id, name, position) in places {
        site.execute(&SiteCommand::PutCheckpoint { id: CheckpointId::new(format!("{community}-{id}")), name: name.into(), position: Some(position), tag: None }, at).await?;
    }
    let body = RouteBody {
        name: "夜间巡更".into(),
        stops: places.iter().enumerate().map(|(i, (id, _, _))| StopBody { checkpoint: format!("{community}-{id}"), after_mins: if i == 0 { 0 } else { 15 }, dwell_mins: 2 }).collect(),
        plan: PlanBody { starts: ["20:00", "22:00", "00:00", "02:00", "04:00"].map(String::from).to_vec(), days: Vec::new(), tolerance_mins: 10, guards: Vec::new(), remind_mins: None },
    };
    let time_zone = app.hub.community(community).map_or_else(|| "Asia/Shanghai".to_string(), |c| c.time_zone.clone());
    let definition = definition(&site, body, time_zone).map_err(|e| anyhow::anyhow!("{e}"))?;
    set_route(app, &site, community, &route, definition).await.map_err(|e| anyhow::anyhow!("{e}"))
}

#[derive(Deserialize)]
pub struct OrderQuery {
    /// Checkpoint ids, comma-separated; the first is where rounds start.
    #[serde(default)]
    checkpoints: String,
}

/// A suggested walking order (T2).
#[derive(Serialize, ToSchema)]
pub struct SuggestedOrder {
    #[schema(value_type = Vec<String>)]
    pub order: Vec<CheckpointId>,
    /// The walk's length on the site plan, in metres (unplaced checkpoints not counted).
    pub metres: u64,
}

/// An order to walk the given checkpoints in, from their places on the site plan.
pub async fn suggested_order(State(app): State<Arc<App>>, Path(community): Path<String>, axum::extract::Query(q): axum::extract::Query<OrderQuery>) -> Result<Json<SuggestedOrder>, ApiError> {
    let site = site(&app, &community)?;
    let ids: Vec<&str> = q.checkpoints.split(',').map(str::trim).filter(|s| !s.is_empty()).collect();
    if ids.len() > hutong_core::patrol::MAX_STOPS {
        return Err(PatrolError::TooManyStops.into());
    }
    let points = {
        let site = site.read();
        let mut points = Vec::with_capacity(ids.len());
        for id in ids {
            let found = site.checkpoints.get(id).ok_or_else(|| ApiError::from(SiteError::NoSuchCheckpoint(id.to_string())))?;
            points.push((found.id.clone(), found.position));
        }
        points
    };
    let (order, metres) = hutong_core::patrol::suggest_order(&points);
    Ok(Json(SuggestedOrder { order, metres }))
}

/// Codes on an A4 sheet: two columns, three rows.
const CODES_PER_ROW: usize = 2;
const CODE_ROWS: usize = 3;

/// Every checkpoint's code as one print-ready A4 PDF (T1): the QR code of the address a guard's
/// phone opens, the checkpoint's name, its id and the address in small print, six to a page.
/// The addresses start with this server as the office reached it (its Host), so a phone
/// scanning the sheet lands here.
pub async fn codes_pdf(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    Path(community): Path<String>,
    headers: axum::http::HeaderMap,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    let site = site(&app, &community)?;
    let origin = origin(&app, &headers);
    let checkpoints: Vec<Checkpoint> = site.read().checkpoints.values().cloned().collect();
    let sheet: Vec<(String, String, String)> = checkpoints.iter().map(|c| {
        let printed = printed_code(&app, &community, c);
        (c.name.clone(), c.id.to_string(), format!("{origin}{}", printed.url))
    }).collect();
    let pdf = tokio::task::spawn_blocking(move || codes_sheet(&sheet)).await.map_err(crate::error::internal)?;
    let pdf = pdf.map_err(|e| ApiError::BadRequest { zh: format!("无法生成二维码PDF：{e}"), en: format!("cannot make the codes' PDF: {e}") })?;
    app.identity.audit(audit_entry(&caller, "patrol.codes_printed", &community, None, Some(serde_json::json!({ "checkpoints": checkpoints.len() })))).await.map_err(crate::error::internal)?;
    let disposition = format!("inline; filename=\"patrol-codes-{community}.pdf\"");
    Ok(([(axum::http::header::CONTENT_TYPE, "application/pdf".to_string()), (axum::http::header::CONTENT_DISPOSITION, disposition)], pdf).into_response())
}

/// This server as the office reached it (its Host, checked), so a phone scanning a printed sheet
/// lands here.
pub(crate) fn origin(app: &App, headers: &axum::http::HeaderMap) -> String {
    let host = headers.get(axum::http::header::HOST).and_then(|h| h.to_str().ok()).filter(|h| h.chars().all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))).unwrap_or("localhost");
    format!("{}://{host}", if app.https { "https" } else { "http" })
}

/// A sheet of codes, six to an A4 page: `(name, id, address)` per code (a checkpoint, a door plate).
pub(crate) fn codes_sheet(codes: &[(String, String, String)]) -> Result<Vec<u8>, String> {
    use krilla::Document;
    use krilla::geom::{PathBuilder, Point, Rect};
    use krilla::page::PageSettings;
    use krilla::paint::Fill;
    use krilla::text::{Font, TextDirection};

    let (data, index) = crate::billing::receipt::font_data().ok_or("未安装中文字体 fonts-noto-cjk / the CJK font (fonts-noto-cjk) is not installed")?;
    let font = Font::new(data.clone().into(), *index).ok_or("字体无法读取 / the font cannot be read")?;
    let mut doc = Document::new();
    let (cell_w, cell_h, side) = (595.0_f32 / CODES_PER_ROW as f32, 842.0_f32 / CODE_ROWS as f32, 170.0_f32);
    for page_codes in codes.chunks(CODES_PER_ROW * CODE_ROWS) {
        let settings = PageSettings::from_wh(595.0, 842.0).ok_or("page size")?;
        let mut page = doc.start_page_with(settings);
        let mut s = page.surface();
        for (i, (name, id, url)) in page_codes.iter().enumerate() {
            let (x0, y0) = ((i % CODES_PER_ROW) as f32 * cell_w, (i / CODES_PER_ROW) as f32 * cell_h);
            let code = qrcode::QrCode::with_error_correction_level(url.as_bytes(), qrcode::EcLevel::M).map_err(|e| e.to_string())?;
            let modules = code.width();
            let unit = side / modules as f32;
            let (left, top) = (x0 + (cell_w - side) / 2.0, y0 + 40.0);
            let mut dark = PathBuilder::new();
            for (n, color) in code.to_colors().iter().enumerate() {
                if *color == qrcode::Color::Dark {
                    let (col, row) = ((n % modules) as f32, (n / modules) as f32);
                    dark.push_rect(Rect::from_xywh(left + col * unit, top + row * unit, unit, unit).ok_or("rect")?);
                }
            }
            s.set_fill(Some(Fill::default()));
            if let Some(path) = dark.finish() {
                s.draw_path(&path);
            }
            let line = |s: &mut krilla::surface::Surface<'_>, y: f32, size: f32, t: &str| {
                // A glyph's advance in twentieths of the font size: Latin about 11, CJK 20.
                let twentieths: u32 = t.chars().map(|c| if c.is_ascii() { 11 } else { 20 }).sum();
                let width = twentieths as f32 * size / 20.0;
                s.draw_text(Point::from_xy(x0 + ((cell_w - width) / 2.0).max(8.0), y), font.clone(), size, t, false, TextDirection::Auto);
            };
            line(&mut s, top + side + 24.0, 16.0, name);
            line(&mut s, top + side + 42.0, 9.0, &format!("巡更点 {id} · 巡更人员扫码签到"));
            // The address in small print, in as many lines as the cell needs.
            let per_line = ((cell_w - 16.0) / (0.55 * 6.0)) as usize;
            let chars: Vec<char> = url.chars().collect();
            for (n, piece) in chars.chunks(per_line.max(1)).enumerate() {
                line(&mut s, top + side + 56.0 + n as f32 * 8.0, 6.0, &piece.iter().collect::<String>());
            }
        }
        s.finish();
        page.finish();
    }
    doc.finish().map_err(|e| format!("{e:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_codes_sheet_is_a_pdf_of_six_codes_a_page() {
        let codes: Vec<(String, String, String)> = (1..=7).map(|n| (format!("巡更点{n}"), format!("cp-{n}"), format!("http://hutong.local/patrol/scan?community=c&checkpoint=cp-{n}&code=0123456789abcdef0123456789abcdef"))).collect();
        let pdf = match codes_sheet(&codes) {
            Ok(pdf) => pdf,
            // A machine without the CJK font says so instead of printing boxes.
            Err(e) => return assert!(e.contains("fonts-noto-cjk"), "{e}"),
        };
        assert!(pdf.starts_with(b"%PDF-"));
        let pages = pdf.windows(b"/Type /Page\n".len()).filter(|w| *w == b"/Type /Page\n").count() + pdf.windows(b"/Type /Page>".len()).filter(|w| *w == b"/Type /Page>").count();
        assert!(pages == 2 || pdf.windows(b"/Count 2".len()).any(|w| w == b"/Count 2"), "seven codes on two pages");
    }
}
