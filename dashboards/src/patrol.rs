//! The guard's phone (R5, T4): today's rounds of every route, stop by stop — reached, missed,
//! open now, due — with the next checkpoint first; and the page a checkpoint's printed code opens
//! (`/patrol/scan?community=…&checkpoint=…&code=…`), which checks in at once. Made for a narrow
//! screen and a thumb. A scan made without a connection is kept on the phone with its scan time
//! and sent when the connection returns (the server judges it by when it was scanned). Below,
//! the month's figures (T6) per route and guard, for the guard and the manager alike.

use leptos::prelude::*;
use leptos::task::spawn_local;
use serde::{Deserialize, Serialize};

use hutong_core::live::{LiveBody, PatrolReminder, ServerMessage};

use crate::http::{error_message, get_json, request};

#[derive(Clone, Debug, Deserialize, PartialEq)]
struct StopView {
    name: String,
    #[serde(default)]
    at: Option<chrono::DateTime<chrono::Utc>>,
    #[serde(default)]
    left_at: Option<chrono::DateTime<chrono::Utc>>,
    opens: chrono::DateTime<chrono::Utc>,
    closes: chrono::DateTime<chrono::Utc>,
    state: String,
    by: Option<String>,
    #[serde(default)]
    note: Option<String>,
    #[serde(default)]
    photos: Vec<String>,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
struct RoundView {
    start: chrono::DateTime<chrono::Utc>,
    stops: Vec<StopView>,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
struct RouteView {
    id: String,
    definition: Option<Definition>,
    today: Vec<RoundView>,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
struct Definition {
    name: String,
}

/// A scan as the server takes it (kept on the phone while offline).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
struct Scan {
    community: String,
    checkpoint: String,
    code: String,
    scanned_at: chrono::DateTime<chrono::Utc>,
    /// On a round of the guard's own (临时巡更).
    #[serde(default)]
    unplanned: bool,
}

const QUEUE_KEY: &str = "hutong.patrol.queue";

fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok()?
}

fn queued() -> Vec<Scan> {
    storage().and_then(|s| s.get_item(QUEUE_KEY).ok()?).and_then(|t| serde_json::from_str(&t).ok()).unwrap_or_default()
}

fn keep(scans: &[Scan]) {
    if let (Some(s), Ok(text)) = (storage(), serde_json::to_string(scans)) {
        let _ = s.set_item(QUEUE_KEY, &text);
    }
}

/// Sends one scan: the server's answer (`Ok` or its sentence), or `None` without a connection.
async fn send(scan: &Scan) -> Option<Result<String, String>> {
    let body = serde_json::json!({ "checkpoint": scan.checkpoint, "code": scan.code, "scanned_at": scan.scanned_at, "unplanned": scan.unplanned }).to_string();
    let (status, reply) = request("POST", &format!("/api/v1/communities/{}/patrol/check-ins", scan.community), Some(body)).await?;
    Some(if status == 200 { Ok(reply) } else { Err(error_message(&reply)) })
}

/// Sends what waited on the phone; what still finds no connection keeps waiting.
async fn flush_queue() -> usize {
    let mut left = Vec::new();
    for scan in queued() {
        if send(&scan).await.is_none() {
            left.push(scan);
        }
    }
    keep(&left);
    left.len()
}

fn local(t: chrono::DateTime<chrono::Utc>) -> String {
    // Beijing time without a time-zone database in the WASM (the demo's and the default zone).
    (t + chrono::TimeDelta::hours(8)).format("%H:%M").to_string()
}

fn badge(state: &str) -> (&'static str, &'static str) {
    match state {
        "reached" => ("已签到", "stop reached"),
        "missed" => ("漏巡", "stop missed"),
        "open" => ("请现在前往", "stop open"),
        "closed" => ("未计", "stop closed"),
        _ => ("待巡", "stop due"),
    }
}

/// Who is signed in: the guard a reminder is for, and whether they may set patrols up.
#[derive(Clone, Debug, Default)]
pub struct Viewer {
    pub account: String,
    pub may_set_up: bool,
}

/// A round about to start, as the phone says it.
fn reminder_text(r: &PatrolReminder) -> String {
    format!("{} 巡更「{}」即将开始，第一站：{}", local(r.start), r.name, r.first)
}

/// Today's rounds of the community's routes, live: a route's day changes on the page as it
/// changes on the server, and a round about to start is announced (with a vibration where the
/// phone allows).
#[component]
pub fn PatrolScreen(community: String) -> impl IntoView {
    let viewer = use_context::<Viewer>().unwrap_or_default();
    let me = viewer.account.clone();
    let setup = viewer.may_set_up.then(|| format!("/patrol/{community}/setup"));
    let reminder = RwSignal::new(None::<String>);
    let missed = RwSignal::new(None::<String>);
    let connected = RwSignal::new(false);
    let routes = RwSignal::new(None::<Result<Vec<RouteView>, String>>);
    let waiting = RwSignal::new(0usize);
    // Counts the loads: the figures below load again with the rounds.
    let loads = RwSignal::new(0u32);
    let load = {
        let community = community.clone();
        move || {
            let community = community.clone();
            loads.update(|n| *n += 1);
            spawn_local(async move {
                waiting.set(flush_queue().await);
                routes.set(Some(get_json::<Vec<RouteView>>(&format!("/api/v1/communities/{community}/patrol/routes")).await));
            });
        }
    };
    load();
    let reload = load.clone();
    let for_figures = community.clone();
    let community_for_stops = community.clone();
    {
        let load = load.clone();
        crate::socket::connect_feed(
            format!("/ws/patrol?community={community}"),
            move |batch| {
                let mut changed = false;
                for message in &batch {
                    // A snapshot after a reconnect: what happened meanwhile is loaded afresh.
                    changed |= matches!(message, ServerMessage::PatrolSnapshot(_));
                    for event in message.events() {
                        match &event.body {
                            LiveBody::Patrol { .. } => changed = true,
                            LiveBody::PatrolReminder { reminder: r } if r.guards.is_empty() || r.guards.contains(&me) => {
                                reminder.set(Some(reminder_text(r)));
                                if let Some(w) = web_sys::window() {
                                    let _ = w.navigator().vibrate_with_duration(400);
                                }
                            }
                            // A miss as it is raised (not as it is acknowledged or resolved later).
                            LiveBody::Alarm { alarm } if alarm.count == 1 && alarm.acknowledged.is_none() && alarm.resolved.is_none() => {
                                missed.set(Some(alarm.text.clone()));
                                if let Some(w) = web_sys::window() {
                                    let _ = w.navigator().vibrate_with_duration(800);
                                }
                            }
                            _ => {}
                        }
                    }
                }
                if changed {
                    load();
                }
            },
            connected,
        );
    }
    view! {
        <div class="patrol" data-test="patrol">
            <h2>"今日巡更"</h2>
            {move || (!connected.get()).then(|| view! { <p class="queued" data-test="patrol-offline">"连接中断，正在重连…"</p> })}
            {move || missed.get().map(|text| view! {
                <div class="reminder missed" data-test="patrol-missed" on:click=move |_| missed.set(None)>{text}<span class="hint">" （点按关闭）"</span></div>
            })}
            {move || reminder.get().map(|text| view! {
                <div class="reminder" data-test="patrol-reminder" on:click=move |_| reminder.set(None)>{text}<span class="hint">" （点按关闭）"</span></div>
            })}
            {move || (waiting.get() > 0).then(|| view! { <p class="queued">{format!("{} 条签到等待联网补传", waiting.get())}</p> })}
            <button class="big" on:click=move |_| reload()>"刷新"</button>
            {setup.map(|href| view! { <a class="big" href=href data-test="patrol-setup-link">"巡更设置（巡更点、路线、计划）"</a> })}
            {move || match routes.get() {
                None => view! { <p class="dim">"正在加载…"</p> }.into_any(),
                Some(Err(e)) => view! { <p class="error">{e}</p> }.into_any(),
                Some(Ok(all)) => all.into_iter().map(|route| {
                    let name = route.definition.map(|d| d.name).unwrap_or(route.id);
                    view! {
                        <section class="route" data-test="route">
                            <h3>{name}</h3>
                            // Rounds that ended before the route was set say nothing to a guard.
                            {route.today.into_iter().filter(|r| !r.stops.iter().all(|s| s.state == "closed")).map(|round| view! {
                                <div class="round">
                                    <div class="dim">{format!("{} 开始", local(round.start))}</div>
                                    <ol>
                                        {round.stops.into_iter().map(|stop| {
                                            let (label, class) = badge(&stop.state);
                                            let stayed = stop.at.zip(stop.left_at).map(|(a, l)| format!(" · 停留 {} 分", (l - a).num_minutes())).unwrap_or_default();
                                            let who = stop.by.map(|b| format!(" · {b}{stayed}")).unwrap_or_default();
                                            let note = stop.note.map(|n| view! { <div class="dim" data-test="stop-note">{format!("备注：{n}")}</div> });
                                            let photos = stop.photos.iter().enumerate().map(|(i, id)| {
                                                let href = format!("/api/v1/communities/{}/patrol/photos/{id}", community_for_stops);
                                                view! { <a class="photo" href=href target="_blank">{format!("照片{} ", i + 1)}</a> }
                                            }).collect_view();
                                            view! {
                                                <li class=class data-test="stop">
                                                    <b>{stop.name}</b>
                                                    <span>{format!(" {}–{} ", local(stop.opens), local(stop.closes))}</span>
                                                    <em>{label}{who}</em>
                                                    {note}
                                                    <div>{photos}</div>
                                                </li>
                                            }
                                        }).collect_view()}
                                    </ol>
                                </div>
                            }).collect_view()}
                        </section>
                    }
                }).collect_view().into_any(),
            }}
            <PatrolFigures community=for_figures loads />
        </div>
    }
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
struct FiguresRow {
    id: String,
    name: String,
    rounds: u32,
    completed: u32,
    missed_rounds: u32,
    missed_stops: Option<u32>,
    completion_rate: Option<String>,
    miss_rate: Option<String>,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
struct Figures {
    month: String,
    routes: Vec<FiguresRow>,
    guards: Vec<FiguresRow>,
    total: FiguresRow,
}

/// `YYYY-MM` moved by `by` months.
fn shift_month(month: &str, by: i32) -> Option<String> {
    let first = chrono::NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d").ok()?;
    let moved = if by < 0 {
        first.checked_sub_months(chrono::Months::new(by.unsigned_abs()))
    } else {
        first.checked_add_months(chrono::Months::new(by.unsigned_abs()))
    }?;
    Some(moved.format("%Y-%m").to_string())
}

fn figures_rows(rows: Vec<FiguresRow>, with_stops: bool) -> impl IntoView {
    rows.into_iter()
        .map(|r| {
            let rate = |v: Option<String>| v.map(|v| format!("{v}%")).unwrap_or_else(|| "—".into());
            let stops = with_stops.then(|| view! { <td>{r.missed_stops.unwrap_or(0)}</td> });
            view! {
                <tr data-test="figures-row" data-id=r.id.clone()>
                    <td>{r.name}</td>
                    <td>{r.rounds}</td>
                    <td>{r.completed}</td>
                    <td>{r.missed_rounds}</td>
                    {stops}
                    <td>{rate(r.completion_rate)}</td>
                    <td>{rate(r.miss_rate)}</td>
                </tr>
            }
        })
        .collect_view()
}

/// The month's figures (T6): each route, each guard and the total — rounds, completed, missed,
/// completion and miss rates — with the months before it a tap away.
#[component]
fn PatrolFigures(community: String, loads: RwSignal<u32>) -> impl IntoView {
    let month = RwSignal::new(None::<String>);
    let figures = RwSignal::new(None::<Result<Figures, String>>);
    Effect::new(move |_| {
        let community = community.clone();
        let wanted = month.get();
        loads.track();
        spawn_local(async move {
            let query = wanted.map(|m| format!("?month={m}")).unwrap_or_default();
            figures.set(Some(get_json::<Figures>(&format!("/api/v1/communities/{community}/patrol/figures{query}")).await));
        });
    });
    let go = move |by: i32| {
        let shown = figures.get_untracked().and_then(|f| f.ok()).map(|f| f.month);
        if let Some(m) = shown.and_then(|m| shift_month(&m, by)) {
            month.set(Some(m));
        }
    };
    view! {
        <section class="route figures" data-test="patrol-figures">
            <h3>"巡更统计"</h3>
            <div class="months">
                <button on:click=move |_| go(-1)>"‹ 上月"</button>
                <b data-test="figures-month">{move || figures.get().and_then(|f| f.ok()).map(|f| f.month).unwrap_or_default()}</b>
                <button on:click=move |_| go(1)>"下月 ›"</button>
            </div>
            {move || match figures.get() {
                None => view! { <p class="dim">"正在加载…"</p> }.into_any(),
                Some(Err(e)) => view! { <p class="error">{e}</p> }.into_any(),
                Some(Ok(f)) => view! {
                    <table>
                        <tr><th>"路线"</th><th>"轮次"</th><th>"完成"</th><th title="漏巡轮次">"漏巡"</th><th title="漏巡点数">"漏点"</th><th>"完成率"</th><th>"漏巡率"</th></tr>
                        {figures_rows(f.routes, true)}
                        {figures_rows(vec![f.total], true)}
                    </table>
                    <table>
                        <tr><th>"巡更员"</th><th>"轮次"</th><th>"完成"</th><th title="漏巡轮次">"漏巡"</th><th>"完成率"</th><th>"漏巡率"</th></tr>
                        {figures_rows(f.guards, false)}
                    </table>
                }.into_any(),
            }}
        </section>
    }
}

/// What a checkpoint's code opens: the check-in, at once.
#[component]
pub fn ScanScreen() -> impl IntoView {
    let params = web_sys::window()
        .and_then(|w| w.location().search().ok())
        .and_then(|q| web_sys::UrlSearchParams::new_with_str(&q).ok());
    let get = |name: &str| params.as_ref().and_then(|p| p.get(name)).unwrap_or_default();
    // The phone's clock (chrono's own clock has no source in this WASM build).
    let scanned_at = chrono::DateTime::from_timestamp_millis(js_sys::Date::now() as i64).unwrap_or_default();
    let scan = Scan { community: get("community"), checkpoint: get("checkpoint"), code: get("code"), scanned_at, unplanned: false };
    let outcome = RwSignal::new(None::<Result<String, String>>);
    let checked = RwSignal::new(None::<CheckedInReply>);
    let back = format!("/patrol/{}", scan.community);
    let community = scan.community.clone();
    let submit = move |scan: Scan| spawn_local(async move {
        let answer = match send(&scan).await {
            Some(Ok(reply)) => {
                let counted: Option<CheckedInReply> = serde_json::from_str(&reply).ok();
                let said = match counted.as_ref().map(|c| (c.kind.as_str(), c.stayed_mins)) {
                    Some(("left", Some(mins))) => format!("已记录离开，停留 {mins} 分钟"),
                    Some(("unplanned", _)) => format!("临时巡更已记录 {}", local(scan.scanned_at)),
                    _ => format!("签到成功 {}", local(scan.scanned_at)),
                };
                // Photos and a note go with an arrival.
                checked.set(counted.filter(|c| c.kind == "arrived"));
                Ok(said)
            }
            Some(Err(refusal)) => Err(refusal),
            None => {
                let mut all = queued();
                all.push(scan);
                keep(&all);
                Ok("暂时无法联网：已保存在手机上，联网后自动补传（按扫码时间计）".to_string())
            }
        };
        outcome.set(Some(answer));
    });
    let again = StoredValue::new(scan.clone());
    submit(scan);
    // Refused on a planned round: the guard may count it as a round of their own (临时巡更).
    let unplanned = move |_| {
        outcome.set(None);
        submit(Scan { unplanned: true, ..again.get_value() });
    };
    view! {
        <div class="patrol" data-test="scan">
            {move || match outcome.get() {
                None => view! { <p class="big-text">"正在签到…"</p> }.into_any(),
                Some(Ok(text)) => view! { <p class="big-text ok" data-test="scan-ok">{text}</p> }.into_any(),
                Some(Err(text)) => view! {
                    <p class="big-text error" data-test="scan-error">{text}</p>
                    <button class="big" data-test="scan-unplanned" on:click=unplanned>"记为临时巡更"</button>
                }.into_any(),
            }}
            {move || checked.get().map(|c| view! { <AddNote community=community.clone() checked=c /> })}
            <a class="big" href=back.clone()>"查看今日巡更"</a>
        </div>
    }
}

/// A check-in as the server counted it.
#[derive(Clone, Debug, Deserialize, PartialEq)]
struct CheckedInReply {
    route: String,
    checkpoint: String,
    at: chrono::DateTime<chrono::Utc>,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    stayed_mins: Option<i64>,
}

/// Photos and a note for the check-in just made (T4): the photos go up first (each answered
/// with its id), then the note naming them.
#[component]
fn AddNote(community: String, checked: CheckedInReply) -> impl IntoView {
    let note = RwSignal::new(String::new());
    let status = RwSignal::new(None::<Result<String, String>>);
    let busy = RwSignal::new(false);
    let input: NodeRef<leptos::html::Input> = NodeRef::new();
    let save = move |_| {
        let files = input.get().and_then(|i| i.files());
        let (community, checked) = (community.clone(), checked.clone());
        busy.set(true);
        spawn_local(async move {
            let outcome = save_note(&community, &checked, files, note.get_untracked()).await;
            busy.set(false);
            status.set(Some(outcome));
        });
    };
    view! {
        <section class="route" data-test="scan-note">
            <h3>"照片与备注"</h3>
            <textarea maxlength="200" placeholder="发现的情况（可不填）" prop:value=note on:input=move |ev| note.set(event_target_value(&ev))></textarea>
            <input type="file" accept="image/jpeg,image/png,image/webp" capture="environment" multiple node_ref=input data-test="scan-photo" />
            <button class="big" disabled=move || busy.get() on:click=save data-test="scan-save">"保存照片与备注"</button>
            {move || status.get().map(|s| match s {
                Ok(text) => view! { <p class="ok" data-test="scan-note-ok">{text}</p> }.into_any(),
                Err(text) => view! { <p class="error" data-test="scan-note-error">{text}</p> }.into_any(),
            })}
        </section>
    }
}

async fn save_note(community: &str, checked: &CheckedInReply, files: Option<web_sys::FileList>, note: String) -> Result<String, String> {
    use wasm_bindgen::JsCast;
    let offline = || "暂时无法联网，请稍后再保存".to_string();
    let mut photos = Vec::new();
    for file in files.iter().flat_map(|list| (0..list.length()).filter_map(|i| list.get(i))) {
        let (status, body) = crate::http::upload(&format!("/api/v1/communities/{community}/patrol/photos"), file.unchecked_ref()).await.ok_or_else(offline)?;
        if status != 200 {
            return Err(error_message(&body));
        }
        let kept: serde_json::Value = serde_json::from_str(&body).map_err(|e| e.to_string())?;
        photos.push(kept["id"].as_str().unwrap_or_default().to_string());
    }
    let note = Some(note).filter(|n| !n.trim().is_empty());
    let body = serde_json::json!({ "checkpoint": checked.checkpoint, "at": checked.at, "note": note, "photos": photos }).to_string();
    let (status, reply) = request("POST", &format!("/api/v1/communities/{community}/patrol/routes/{}/notes", checked.route), Some(body)).await.ok_or_else(offline)?;
    if status != 200 {
        return Err(error_message(&reply));
    }
    Ok(format!("已保存{}", if photos.is_empty() { String::new() } else { format!("，照片 {} 张", photos.len()) }))
}
