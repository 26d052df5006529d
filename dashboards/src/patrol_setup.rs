//! Setting patrols up on screen (T1–T3), for the office (`settings.write`): the community's
//! checkpoints on its site plan — click the plan to place the one being edited — with their
//! RFID tags and printed codes; and a route editor: stops in order with the minutes between them
//! and the stay at each, an order suggested from the plan, and the plan of its rounds (start
//! times, days, tolerance, guards, reminder). Every save goes through the same API as any other
//! client and shows the server's sentence when it is refused.

use std::collections::BTreeSet;

use leptos::prelude::*;
use leptos::task::spawn_local;
use serde::Deserialize;

use hutong_core::patrol::{Checkpoint, RouteDefinition, Stop};

use crate::http::{error_message, get_json, request};

#[derive(Clone, Debug, Deserialize, PartialEq)]
struct RouteRow {
    id: String,
    definition: Option<RouteDefinition>,
}

#[derive(Clone, Debug, Deserialize)]
struct Suggested {
    order: Vec<String>,
    metres: u64,
}

/// The site plan's drawing, in pixels.
const PLAN_W: f64 = 360.0;
const PLAN_H: f64 = 240.0;

/// The plan's extent in metres: every placed checkpoint and a margin, at least 100 m.
fn extent(points: &[Checkpoint]) -> f64 {
    let far = points.iter().filter_map(|c| c.position).map(|(x, y)| x.max(y)).max().unwrap_or(0);
    (f64::from(far) * 1.15).max(100.0)
}

/// 22:00 as "22:00"; a time to the second keeps its seconds.
fn short_time(t: &chrono::NaiveTime) -> String {
    t.format(if chrono::Timelike::second(t) == 0 { "%H:%M" } else { "%H:%M:%S" }).to_string()
}

const DAYS: [(u8, &str); 7] = [(1, "一"), (2, "二"), (3, "三"), (4, "四"), (5, "五"), (6, "六"), (7, "日")];

#[component]
pub fn PatrolSetupScreen(community: String) -> impl IntoView {
    let base = StoredValue::new(format!("/api/v1/communities/{community}/patrol"));
    let checkpoints = RwSignal::new(Vec::<Checkpoint>::new());
    let routes = RwSignal::new(Vec::<RouteRow>::new());
    let load = move || {
        spawn_local(async move {
            let base = base.get_value();
            if let Ok(all) = get_json::<Vec<Checkpoint>>(&format!("{base}/checkpoints")).await {
                checkpoints.set(all);
            }
            if let Ok(all) = get_json::<Vec<RouteRow>>(&format!("{base}/routes")).await {
                routes.set(all);
            }
        });
    };
    load();

    // The checkpoint being edited.
    let (cp_id, cp_name, cp_x, cp_y, cp_tag) = (RwSignal::new(String::new()), RwSignal::new(String::new()), RwSignal::new(String::new()), RwSignal::new(String::new()), RwSignal::new(String::new()));
    let cp_message = RwSignal::new(None::<Result<String, String>>);
    let edit_checkpoint = move |c: &Checkpoint| {
        cp_id.set(c.id.to_string());
        cp_name.set(c.name.clone());
        cp_x.set(c.position.map(|p| p.0.to_string()).unwrap_or_default());
        cp_y.set(c.position.map(|p| p.1.to_string()).unwrap_or_default());
        cp_tag.set(c.tag.clone().unwrap_or_default());
        cp_message.set(None);
    };
    let save_checkpoint = move |_| {
        let (id, name, x, y, tag) = (cp_id.get_untracked(), cp_name.get_untracked(), cp_x.get_untracked(), cp_y.get_untracked(), cp_tag.get_untracked());
        let position = match (x.trim().parse::<u32>(), y.trim().parse::<u32>()) {
            (Ok(x), Ok(y)) => Some((x, y)),
            _ if x.trim().is_empty() && y.trim().is_empty() => None,
            _ => {
                cp_message.set(Some(Err("位置请填写两个整数（米）/ the position is two whole numbers of metres".into())));
                return;
            }
        };
        let tag = Some(tag.trim().to_string()).filter(|t| !t.is_empty());
        let body = serde_json::json!({ "name": name, "position": position, "tag": tag }).to_string();
        spawn_local(async move {
            let reply = request("PUT", &format!("{}/checkpoints/{}", base.get_value(), id.trim()), Some(body)).await;
            cp_message.set(Some(match reply {
                Some((200, _)) => Ok(format!("已保存巡更点 {}", id.trim())),
                Some((_, body)) => Err(error_message(&body)),
                None => Err("无法连接服务器 / the server cannot be reached".into()),
            }));
            load();
        });
    };
    let new_code = move |_| {
        let id = cp_id.get_untracked();
        spawn_local(async move {
            let reply = request("POST", &format!("{}/checkpoints/{}/new-code", base.get_value(), id.trim()), Some(String::new())).await;
            cp_message.set(Some(match reply {
                Some((200, _)) => Ok("已生成新二维码：旧码即刻作废，请重新打印张贴".into()),
                Some((_, body)) => Err(error_message(&body)),
                None => Err("无法连接服务器 / the server cannot be reached".into()),
            }));
            load();
        });
    };

    // The route being edited.
    let (route_id, route_name, starts, tolerance, remind, guards) =
        (RwSignal::new(String::new()), RwSignal::new(String::new()), RwSignal::new("22:00".to_string()), RwSignal::new("10".to_string()), RwSignal::new("10".to_string()), RwSignal::new(String::new()));
    let stops = RwSignal::new(Vec::<Stop>::new());
    let days = RwSignal::new(BTreeSet::<u8>::new());
    let adding = RwSignal::new(String::new());
    let route_message = RwSignal::new(None::<Result<String, String>>);
    let open_route = move |id: String| {
        route_message.set(None);
        let found = routes.get_untracked().into_iter().find(|r| r.id == id).and_then(|r| r.definition);
        route_id.set(id);
        match found {
            Some(d) => {
                route_name.set(d.name);
                stops.set(d.stops);
                starts.set(d.plan.starts.iter().map(short_time).collect::<Vec<_>>().join(", "));
                days.set(d.plan.days);
                tolerance.set(d.plan.tolerance_mins.to_string());
                remind.set(d.plan.remind_mins.to_string());
                guards.set(d.plan.guards.into_iter().collect::<Vec<_>>().join(", "));
            }
            None => {
                route_name.set(String::new());
                stops.set(Vec::new());
            }
        }
    };
    let add_stop = move |_| {
        let id = adding.get_untracked();
        let Some(c) = checkpoints.get_untracked().into_iter().find(|c| c.id.as_str() == id) else { return };
        stops.update(|s| s.push(Stop { checkpoint: c.id, name: c.name, after_mins: if s.is_empty() { 0 } else { 5 }, dwell_mins: 1 }));
    };
    let suggest = move |_| {
        let ids: Vec<String> = stops.get_untracked().iter().map(|s| s.checkpoint.to_string()).collect();
        spawn_local(async move {
            match get_json::<Suggested>(&format!("{}/suggested-order?checkpoints={}", base.get_value(), ids.join(","))).await {
                Ok(s) => {
                    stops.update(|all| {
                        let mut ordered: Vec<Stop> = s.order.iter().filter_map(|id| all.iter().find(|x| x.checkpoint.as_str() == id).cloned()).collect();
                        if let Some(first) = ordered.first_mut() {
                            first.after_mins = 0;
                        }
                        *all = ordered;
                    });
                    route_message.set(Some(Ok(format!("建议顺序：全程约 {} 米", s.metres))));
                }
                Err(e) => route_message.set(Some(Err(e))),
            }
        });
    };
    let save_route = move |_| {
        let list = |s: String| s.split([',', '，', ' ']).map(str::trim).filter(|t| !t.is_empty()).map(str::to_string).collect::<Vec<_>>();
        let number = |s: String| s.trim().parse::<u32>().ok();
        let (Some(tolerance_mins), Some(remind_mins)) = (number(tolerance.get_untracked()), number(remind.get_untracked())) else {
            route_message.set(Some(Err("误差和提前提醒请填写整数分钟 / tolerance and reminder are whole minutes".into())));
            return;
        };
        let body = serde_json::json!({
            "name": route_name.get_untracked(),
            "stops": stops.get_untracked().iter().map(|s| serde_json::json!({"checkpoint": s.checkpoint, "after_mins": s.after_mins, "dwell_mins": s.dwell_mins})).collect::<Vec<_>>(),
            "plan": {
                "starts": list(starts.get_untracked()),
                "days": days.get_untracked().into_iter().collect::<Vec<_>>(),
                "tolerance_mins": tolerance_mins,
                "remind_mins": remind_mins,
                "guards": list(guards.get_untracked()),
            },
        })
        .to_string();
        let id = route_id.get_untracked().trim().to_string();
        spawn_local(async move {
            let reply = request("PUT", &format!("{}/routes/{id}", base.get_value()), Some(body)).await;
            route_message.set(Some(match reply {
                Some((200, _)) => Ok(format!("已保存路线 {id}")),
                Some((_, body)) => Err(error_message(&body)),
                None => Err("无法连接服务器 / the server cannot be reached".into()),
            }));
            load();
        });
    };

    // The site plan: every placed checkpoint, the route being edited as a line through them.
    let plan = move || {
        let all = checkpoints.get();
        let metres = extent(&all);
        let at = move |(x, y): (u32, u32)| (f64::from(x) / metres * PLAN_W, f64::from(y) / metres * PLAN_H);
        let line: String = stops
            .get()
            .iter()
            .filter_map(|s| all.iter().find(|c| c.id == s.checkpoint)?.position)
            .map(|p| {
                let (x, y) = at(p);
                format!("{x:.1},{y:.1}")
            })
            .collect::<Vec<_>>()
            .join(" ");
        let dots = all
            .iter()
            .filter_map(|c| c.position.map(|p| (c.clone(), at(p))))
            .map(|(c, (x, y))| {
                let picked = cp_id.get() == c.id.as_str();
                view! {
                    <g class="cp" class:picked=picked>
                        <circle cx=format!("{x:.1}") cy=format!("{y:.1}") r="5"></circle>
                        <text x=format!("{:.1}", x + 7.0) y=format!("{:.1}", y + 4.0)>{c.name.clone()}</text>
                    </g>
                }
            })
            .collect_view();
        view! {
            <svg class="site-plan" data-test="site-plan" width=PLAN_W height=PLAN_H viewBox=format!("0 0 {PLAN_W} {PLAN_H}")
                on:click=move |ev: leptos::ev::MouseEvent| {
                    // A click places the checkpoint being edited (metres from the plan's corner).
                    let metres = extent(&checkpoints.get_untracked());
                    cp_x.set(format!("{:.0}", f64::from(ev.offset_x()) / PLAN_W * metres));
                    cp_y.set(format!("{:.0}", f64::from(ev.offset_y()) / PLAN_H * metres));
                }>
                <polyline points=line class="walk"></polyline>
                {dots}
            </svg>
            <div class="dim">{format!("平面图约 {:.0} × {:.0} 米；点按图上位置可放置正在编辑的巡更点", metres, metres * PLAN_H / PLAN_W)}</div>
        }
    };

    let message = |m: RwSignal<Option<Result<String, String>>>, test: &'static str| {
        move || {
            m.get().map(|r| match r {
                Ok(t) => view! { <p class="ok" data-test=test>{t}</p> }.into_any(),
                Err(t) => view! { <p class="error" data-test=test>{t}</p> }.into_any(),
            })
        }
    };
    let text_input = |label: &'static str, name: &'static str, value: RwSignal<String>| {
        view! { <label>{label}<input name=name prop:value=value on:input=move |ev| value.set(event_target_value(&ev)) /></label> }
    };

    view! {
        <div class="patrol setup" data-test="patrol-setup">
            <h2>"巡更设置"</h2>
            <a class="big" href=move || format!("{}/codes.pdf", base.get_value()) target="_blank">"打印全部巡更点二维码（PDF）"</a>
            <section class="route">
                <h3>"巡更点"</h3>
                {plan}
                <table data-test="checkpoints">
                    <tr><th>"名称"</th><th>"编号"</th><th>"位置（米）"</th><th>"标签"</th><th></th></tr>
                    {move || checkpoints.get().into_iter().map(|c| {
                        let place = c.position.map(|(x, y)| format!("{x}, {y}")).unwrap_or_else(|| "未放置".into());
                        let shown = c.clone();
                        view! {
                            <tr>
                                <td>{c.name.clone()}</td><td>{c.id.to_string()}</td><td>{place}</td>
                                <td>{c.tag.clone().unwrap_or_default()}</td>
                                <td><button on:click=move |_| edit_checkpoint(&shown)>{format!("编辑（码 v{}）", c.code_version)}</button></td>
                            </tr>
                        }
                    }).collect_view()}
                </table>
                <div class="form" data-test="checkpoint-form">
                    {text_input("编号", "cp-id", cp_id)}
                    {text_input("名称", "cp-name", cp_name)}
                    {text_input("东（米）", "cp-x", cp_x)}
                    {text_input("南（米）", "cp-y", cp_y)}
                    {text_input("RFID 标签", "cp-tag", cp_tag)}
                    <button class="big" data-test="save-checkpoint" on:click=save_checkpoint>"保存巡更点"</button>
                    <button data-test="new-code" on:click=new_code>"补发二维码（旧码作废）"</button>
                </div>
                {message(cp_message, "checkpoint-message")}
            </section>
            <section class="route">
                <h3>"巡更路线"</h3>
                <label>"打开路线"
                    <select data-test="pick-route" on:change=move |ev| open_route(event_target_value(&ev))>
                        <option value="">"（新路线）"</option>
                        {move || routes.get().into_iter().map(|r| {
                            let name = r.definition.as_ref().map(|d| d.name.clone()).unwrap_or_default();
                            view! { <option value=r.id.clone()>{format!("{name}（{}）", r.id)}</option> }
                        }).collect_view()}
                    </select>
                </label>
                {text_input("路线编号", "route-id", route_id)}
                {text_input("路线名称", "route-name", route_name)}
                <ol data-test="route-stops">
                    {move || stops.get().into_iter().enumerate().map(|(i, s)| {
                        let minutes = |field: fn(&mut Stop) -> &mut u32| move |ev| {
                            let value = event_target_value(&ev).trim().parse().unwrap_or(0);
                            stops.update(|all| if let Some(s) = all.get_mut(i) { *field(s) = value });
                        };
                        view! {
                            <li class="stop-edit">
                                <b>{s.name.clone()}</b>
                                <label>{if i == 0 { "开始后" } else { "路程" }}<input class="mins" prop:value=s.after_mins.to_string() on:change=minutes(|s| &mut s.after_mins) />"分"</label>
                                <label>"停留"<input class="mins" prop:value=s.dwell_mins.to_string() on:change=minutes(|s| &mut s.dwell_mins) />"分"</label>
                                <button on:click=move |_| stops.update(|all| if i > 0 { all.swap(i, i - 1) })>"↑"</button>
                                <button on:click=move |_| stops.update(|all| if i + 1 < all.len() { all.swap(i, i + 1) })>"↓"</button>
                                <button on:click=move |_| stops.update(|all| { all.remove(i); })>"✕"</button>
                            </li>
                        }
                    }).collect_view()}
                </ol>
                <div class="form">
                    <select data-test="add-stop-pick" on:change=move |ev| adding.set(event_target_value(&ev))>
                        <option value="">"选择巡更点…"</option>
                        {move || checkpoints.get().into_iter().map(|c| view! { <option value=c.id.to_string()>{c.name.clone()}</option> }).collect_view()}
                    </select>
                    <button data-test="add-stop" on:click=add_stop>"加入路线"</button>
                    <button data-test="suggest-order" on:click=suggest>"按平面图建议顺序"</button>
                </div>
                <div class="form">
                    {text_input("开始时间（如 20:00, 22:00）", "starts", starts)}
                    <span class="days">"星期（不选为每天）"
                        {DAYS.into_iter().map(|(d, label)| view! {
                            <label class="day"><input type="checkbox" prop:checked=move || days.get().contains(&d)
                                on:change=move |_| days.update(|all| if !all.remove(&d) { all.insert(d); }) />{label}</label>
                        }).collect_view()}
                    </span>
                    {text_input("允许误差（分钟）", "tolerance", tolerance)}
                    {text_input("提前提醒（分钟，0 为不提醒）", "remind", remind)}
                    {text_input("巡更员账号（空为全部）", "guards", guards)}
                </div>
                <button class="big" data-test="save-route" on:click=save_route>"保存路线"</button>
                {message(route_message, "route-message")}
            </section>
        </div>
    }
}
