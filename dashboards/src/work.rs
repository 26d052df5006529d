//! Work orders on screen (W2–W6, R5). One page, two faces by who is signed in:
//! - the staff phone (everyone who takes orders): "my orders" — what waits for acknowledgement
//!   first, with its count, a sound and a vibration when one arrives; accept, the place's code
//!   scanned on arrival and on completion, photos, the note and the charge to the house;
//! - the dispatcher's board (those who operate work orders): new orders to review and dispatch,
//!   overdue orders in red, orders by person; closing, the return visit, the archive; a form to
//!   register an order; the month's figures.
//! Everything comes live over `/ws/work`, folded by `WorkBoard` (see `work_feed`).

use leptos::prelude::*;
use leptos::task::spawn_local;
use wasm_bindgen::JsCast;

use hutong_core::work_order::{OrderFigures, Status, WorkOrderTile};

use crate::http::{error_message, get_json, request};
use crate::work_feed::WorkBoard;

/// Who is signed in, for the work-order page.
#[derive(Clone, Debug, Default)]
pub struct WorkViewer {
    pub account: String,
    /// Reviews, dispatches, closes (`work_orders.operate`).
    pub may_operate: bool,
}

fn local(t: chrono::DateTime<chrono::Utc>) -> String {
    // Beijing time without a time-zone database in the WASM (the demo's and the default zone).
    (t + chrono::TimeDelta::hours(8)).format("%m-%d %H:%M").to_string()
}

fn urgency_class(o: &WorkOrderTile) -> &'static str {
    if o.overdue {
        "order overdue"
    } else {
        match o.urgency {
            hutong_core::work_order::Urgency::Critical => "order critical",
            hutong_core::work_order::Urgency::Urgent => "order urgent",
            hutong_core::work_order::Urgency::Normal => "order",
        }
    }
}

/// One POST on an order: `Ok` with a sentence, or the server's refusal.
async fn act(community: &str, order: &str, action: &str, body: serde_json::Value) -> Result<(), String> {
    let (status, reply) = request("POST", &format!("/api/v1/communities/{community}/work-orders/{order}/{action}"), Some(body.to_string())).await.ok_or_else(|| "暂时无法联网，请稍后再试".to_string())?;
    if status == 200 { Ok(()) } else { Err(error_message(&reply)) }
}

/// The order's line: id, urgency, category, place, status, who has it, deadline.
fn headline(o: &WorkOrderTile) -> impl IntoView + use<> {
    let vip = o.vip.then(|| view! { <span class="vip">"VIP"</span> });
    let who = o.contractor.clone().map(|c| format!("外委 {c}")).or_else(|| o.assignee.as_ref().map(|a| a.name.clone())).unwrap_or_else(|| "未派".into());
    let due = if o.status < Status::Accepted { format!("响应 {}", local(o.respond_by)) } else { format!("完成 {}", local(o.complete_by)) };
    view! {
        <div class="headline">
            <b>{o.id.to_string()}</b>" "{vip}
            <span class="urgency">{o.urgency.label_zh()}</span>" "
            <span>{format!("{} · {}", o.kind.label_zh(), o.category)}</span>
            <span class="status" data-test="order-status">{o.status.label_zh()}</span>
        </div>
        <div class="place">{o.place.clone()}</div>
        <div class="desc">{o.description.clone()}</div>
        <div class="dim">{format!("{who} · {due}{}", if o.overdue { " · 已超时" } else { "" })}</div>
    }
}

/// The staff phone's card for one of my orders: the step it waits for.
#[component]
fn MyOrder(community: String, order: WorkOrderTile, scanned: Option<(String, String)>) -> impl IntoView {
    // A door plate or equipment code scanned with the phone's camera opened this page: it fills
    // in the code of the order at that place.
    let here = scanned.filter(|(place, _)| order.place_key.as_ref() == Some(place)).map(|(_, code)| code);
    let code = RwSignal::new(here.unwrap_or_default());
    let note = RwSignal::new(String::new());
    let charge = RwSignal::new(String::new());
    let outcome = RwSignal::new(None::<Result<String, String>>);
    let input: NodeRef<leptos::html::Input> = NodeRef::new();
    let id = order.id.to_string();
    let status = order.status;
    let home = order.house.is_some();
    let run = {
        let (community, id) = (community.clone(), id.clone());
        move |action: &'static str| {
            let (community, id) = (community.clone(), id.clone());
            let files = input.get().and_then(|i| i.files());
            spawn_local(async move {
                let answer = match action {
                    "accept" => act(&community, &id, "accept", serde_json::json!({})).await.map(|_| "已接单".to_string()),
                    "arrive" => act(&community, &id, "arrive", serde_json::json!({ "code": code.get_untracked() })).await.map(|_| "已到达现场".to_string()),
                    _ => complete(&community, &id, files, code.get_untracked(), note.get_untracked(), charge.get_untracked()).await,
                };
                outcome.set(Some(answer));
            });
        }
    };
    let (accept, arrive, done) = (run.clone(), run.clone(), run);
    view! {
        <section class=urgency_class(&order) data-test="my-order" data-id=id.clone()>
            {headline(&order)}
            {match status {
                Status::Dispatched => view! { <button class="big" data-test="order-accept" on:click=move |_| accept("accept")>"接单"</button> }.into_any(),
                Status::Accepted => view! {
                    <label>"到达后扫门牌或设备上的码"<input type="text" inputmode="text" placeholder="扫码结果" prop:value=code on:input=move |ev| code.set(event_target_value(&ev)) data-test="order-code" /></label>
                    <button class="big" data-test="order-arrive" on:click=move |_| arrive("arrive")>"扫码到达"</button>
                }.into_any(),
                _ => view! {
                    <label>"完工再扫一次码"<input type="text" placeholder="扫码结果" prop:value=code on:input=move |ev| code.set(event_target_value(&ev)) data-test="order-code" /></label>
                    <textarea maxlength="500" placeholder="处理情况" prop:value=note on:input=move |ev| note.set(event_target_value(&ev)) data-test="order-note"></textarea>
                    <input type="file" accept="image/jpeg,image/png,image/webp" capture="environment" multiple node_ref=input data-test="order-photo" />
                    {home.then(|| view! { <label>"向业主收费（元，可不填）"<input type="text" inputmode="decimal" prop:value=charge on:input=move |ev| charge.set(event_target_value(&ev)) data-test="order-charge" /></label> })}
                    <button class="big" data-test="order-complete" on:click=move |_| done("complete")>"回单（完工）"</button>
                }.into_any(),
            }}
            {move || outcome.get().map(|o| match o {
                Ok(text) => view! { <p class="ok" data-test="order-ok">{text}</p> }.into_any(),
                Err(text) => view! { <p class="error" data-test="order-error">{text}</p> }.into_any(),
            })}
        </section>
    }
}

/// Uploads the photos, then reports the job done with its note and charge.
async fn complete(community: &str, id: &str, files: Option<web_sys::FileList>, code: String, note: String, charge: String) -> Result<String, String> {
    let offline = || "暂时无法联网，请稍后再试".to_string();
    let mut photos = Vec::new();
    for file in files.iter().flat_map(|list| (0..list.length()).filter_map(|i| list.get(i))) {
        let (status, body) = crate::http::upload(&format!("/api/v1/communities/{community}/work-orders/photos"), file.unchecked_ref()).await.ok_or_else(offline)?;
        if status != 200 {
            return Err(error_message(&body));
        }
        let kept: serde_json::Value = serde_json::from_str(&body).map_err(|e| e.to_string())?;
        photos.push(kept["id"].as_str().unwrap_or_default().to_string());
    }
    let charge = Some(charge.trim().to_string()).filter(|c| !c.is_empty());
    act(community, id, "complete", serde_json::json!({ "code": code, "note": note, "photos": photos, "charge": charge })).await?;
    Ok(format!("已回单{}{}", if photos.is_empty() { String::new() } else { format!("，照片 {} 张", photos.len()) }, charge.map(|c| format!("，收费 ¥{c} 已入账单")).unwrap_or_default()))
}

#[derive(Clone, Debug, serde::Deserialize)]
struct Person {
    account: String,
    name: String,
    open: u32,
}

/// The dispatcher's card: the office's next step for the order.
#[component]
fn BoardOrder(community: String, order: WorkOrderTile, people: RwSignal<Vec<Person>>) -> impl IntoView {
    let to = RwSignal::new(String::new());
    let satisfaction = RwSignal::new("5".to_string());
    let outcome = RwSignal::new(None::<String>);
    let id = order.id.to_string();
    let status = order.status;
    let go = {
        let (community, id) = (community.clone(), id.clone());
        move |action: &'static str| {
            let (community, id) = (community.clone(), id.clone());
            spawn_local(async move {
                let body = match action {
                    "dispatch" => serde_json::json!({ "to": to.get_untracked() }),
                    "visit" => serde_json::json!({ "satisfaction": satisfaction.get_untracked().parse::<u8>().unwrap_or(5) }),
                    _ => serde_json::json!({}),
                };
                if let Err(e) = act(&community, &id, action, body).await {
                    outcome.set(Some(e));
                }
            });
        }
    };
    let (review, dispatch, close, visit, archive) = (go.clone(), go.clone(), go.clone(), go.clone(), go);
    view! {
        <div class=urgency_class(&order) data-test="board-order" data-id=id.clone()>
            {headline(&order)}
            {match status {
                Status::Registered => view! { <button data-test="order-review" on:click=move |_| review("review")>"审核"</button> }.into_any(),
                Status::Completed | Status::Closed => view! {
                    {(status == Status::Completed).then(|| view! { <button on:click=move |_| close("close")>"结单"</button> })}
                    <select prop:value=satisfaction on:change=move |ev| satisfaction.set(event_target_value(&ev)) data-test="order-satisfaction">
                        {(1..=5).rev().map(|n| view! { <option value=n.to_string()>{format!("满意度 {n}")}</option> }).collect_view()}
                    </select>
                    <button data-test="order-visit" on:click=move |_| visit("visit")>"回访"</button>
                }.into_any(),
                Status::Visited | Status::Cancelled => view! { <button data-test="order-archive" on:click=move |_| archive("archive")>"归档"</button> }.into_any(),
                _ => view! {
                    <select on:change=move |ev| to.set(event_target_value(&ev)) data-test="order-to">
                        <option value="">"派给…"</option>
                        {move || people.get().into_iter().map(|p| view! { <option value=p.account.clone()>{format!("{}（手上 {} 单）", p.name, p.open)}</option> }).collect_view()}
                    </select>
                    <button data-test="order-dispatch" on:click=move |_| dispatch("dispatch")>{if status == Status::Reviewed { "派工" } else { "改派" }}</button>
                }.into_any(),
            }}
            {move || outcome.get().map(|e| view! { <p class="error">{e}</p> })}
        </div>
    }
}

/// Registers an order for a house (by its id), a device or a public area.
#[component]
fn NewOrder(community: String) -> impl IntoView {
    let kind = RwSignal::new("repair".to_string());
    let category = RwSignal::new(String::new());
    let description = RwSignal::new(String::new());
    let place = RwSignal::new(String::new());
    let outcome = RwSignal::new(None::<Result<String, String>>);
    let save = move |_| {
        let community = community.clone();
        spawn_local(async move {
            let p = place.get_untracked();
            let mut body = serde_json::json!({ "kind": kind.get_untracked(), "category": category.get_untracked(), "description": description.get_untracked() });
            // A house id (荷花苑's read `heyuan-1-1-101`), else a public area described.
            if p.starts_with(&format!("{community}-")) { body["house"] = p.into(); } else { body["place"] = p.into(); }
            let (status, reply) = request("POST", &format!("/api/v1/communities/{community}/work-orders"), Some(body.to_string())).await.unwrap_or((0, String::new()));
            outcome.set(Some(if status == 200 { Ok("已登记".into()) } else { Err(error_message(&reply)) }));
        });
    };
    view! {
        <section class="new-order" data-test="new-order">
            <h3>"登记报事"</h3>
            <select prop:value=kind on:change=move |ev| kind.set(event_target_value(&ev))>
                <option value="repair">"报修"</option><option value="complaint">"投诉"</option><option value="suggestion">"建议"</option>
            </select>
            <input placeholder="类别（水电、门窗、电梯…）" prop:value=category on:input=move |ev| category.set(event_target_value(&ev)) />
            <input placeholder="房屋编号或公共区域" prop:value=place on:input=move |ev| place.set(event_target_value(&ev)) />
            <textarea placeholder="事项说明" prop:value=description on:input=move |ev| description.set(event_target_value(&ev))></textarea>
            <button on:click=save>"登记"</button>
            {move || outcome.get().map(|o| match o {
                Ok(t) => view! { <span class="ok">{t}</span> }.into_any(),
                Err(t) => view! { <span class="error">{t}</span> }.into_any(),
            })}
        </section>
    }
}

/// The month's figures (W6).
#[component]
fn Figures(community: String, loads: RwSignal<u32>) -> impl IntoView {
    let figures = RwSignal::new(None::<OrderFigures>);
    Effect::new(move |_| {
        loads.get();
        let community = community.clone();
        spawn_local(async move {
            if let Ok(f) = get_json::<OrderFigures>(&format!("/api/v1/communities/{community}/work-orders/figures")).await {
                figures.set(Some(f));
            }
        });
    });
    let rate = |r: Option<rust_decimal::Decimal>| r.map_or("—".to_string(), |r| format!("{r}%"));
    view! {
        <section class="figures" data-test="order-figures">
            {move || figures.get().map(|f| view! {
                <h3>{format!("{} 工单统计", f.month)}</h3>
                <table>
                    <tr><th>"工单"</th><th>"完成率"</th><th>"及时率"</th><th>"满意度"</th><th>"二次派工率"</th><th>"回访率"</th></tr>
                    <tr data-test="order-figures-row"><td>{f.orders}</td><td>{rate(f.completion_rate)}</td><td>{rate(f.on_time_rate)}</td><td>{f.satisfaction.map_or("—".into(), |s| s.to_string())}</td><td>{rate(f.redispatch_rate)}</td><td>{rate(f.visit_rate)}</td></tr>
                </table>
                <table>
                    <tr><th>"员工"</th><th>"接单"</th><th>"完成"</th></tr>
                    {f.workload.into_iter().map(|w| view! { <tr><td>{w.name}</td><td>{w.orders}</td><td>{w.completed}</td></tr> }).collect_view()}
                </table>
            })}
        </section>
    }
}

#[component]
pub fn WorkScreen(community: String) -> impl IntoView {
    let viewer = use_context::<WorkViewer>().unwrap_or_default();
    let me = viewer.account.clone();
    let board = RwSignal::new(WorkBoard::default());
    let connected = RwSignal::new(false);
    let loads = RwSignal::new(0u32);
    let people = RwSignal::new(Vec::<Person>::new());
    if viewer.may_operate {
        let community = community.clone();
        spawn_local(async move {
            if let Ok(list) = get_json::<Vec<Person>>(&format!("/api/v1/communities/{community}/work-orders/staff")).await {
                people.set(list);
            }
        });
    }
    {
        let me = me.clone();
        crate::socket::connect_feed(
            format!("/ws/work?community={community}"),
            move |batch| {
                let mut sound = false;
                board.update(|b| {
                    for message in batch {
                        sound |= b.fold(message, &me);
                    }
                });
                loads.update(|n| *n += 1);
                if sound && let Some(w) = web_sys::window() {
                    let _ = w.navigator().vibrate_with_duration(600);
                }
            },
            connected,
        );
    }
    let (me_inbox, me_unread, me_empty) = (me.clone(), me.clone(), me.clone());
    // `?place=…&code=…`: the page a printed door-plate code opens.
    let query = web_sys::window().and_then(|w| w.location().search().ok()).and_then(|q| web_sys::UrlSearchParams::new_with_str(&q).ok());
    let scanned = query.and_then(|p| Some((p.get("place")?, p.get("code")?)));
    let scanned_place = scanned.as_ref().map(|(place, _)| place.clone());
    let c_inbox = community.clone();
    let c_board = StoredValue::new(community.clone());
    view! {
        <div class="patrol work" data-test="work">
            <h2>"工单"{move || { let n = board.with(|b| b.unread(&me_unread)); (n > 0).then(|| view! { <span class="unread" data-test="unread">{format!("待接单 {n}")}</span> }) }}</h2>
            {move || (!connected.get()).then(|| view! { <p class="queued">"连接中断，正在重连…"</p> })}
            {move || board.with(|b| b.breach.clone()).map(|text| view! {
                <div class="reminder missed" data-test="order-breach" on:click=move |_| board.update(|b| b.breach = None)>{text}<span class="hint">" （点按关闭）"</span></div>
            })}
            {scanned_place.map(|place| view! { <p class="ok" data-test="scanned">{format!("已扫码：{place}，对应工单的扫码结果已填好")}</p> })}
            <h3>"我的工单"</h3>
            <div data-test="inbox">
                {move || board.with(|b| b.inbox(&me_empty).is_empty()).then(|| view! { <p class="dim">"暂无待办工单"</p> })}
                // Keyed by order and step: a card keeps what is typed into it while other orders change.
                <For each=move || board.with(|b| b.inbox(&me_inbox)) key=|o| (o.id.to_string(), o.status) let:o>
                    <MyOrder community=c_inbox.clone() order=o scanned=scanned.clone() />
                </For>
            </div>
            {viewer.may_operate.then(|| view! {
                <div class="board" data-test="board">
                    <h3>"待审核 / 待派工"</h3>
                    {move || board.with(|b| b.new_orders()).into_iter().map(|o| view! { <BoardOrder community=c_board.get_value() order=o people /> }).collect_view()}
                    <h3>"已超时"</h3>
                    <div data-test="board-overdue">
                        {move || board.with(|b| b.overdue()).into_iter().map(|o| view! { <BoardOrder community=c_board.get_value() order=o people /> }).collect_view()}
                    </div>
                    <h3>"按人员"</h3>
                    {move || board.with(|b| b.by_person()).into_iter().map(|(who, orders)| view! {
                        <h4>{format!("{who}（{} 单）", orders.len())}</h4>
                        {orders.into_iter().map(|o| view! { <BoardOrder community=c_board.get_value() order=o people /> }).collect_view()}
                    }).collect_view()}
                    <h3>"待结单 / 回访 / 归档"</h3>
                    {move || board.with(|b| b.to_close()).into_iter().map(|o| view! { <BoardOrder community=c_board.get_value() order=o people /> }).collect_view()}
                    <NewOrder community=c_board.get_value() />
                </div>
            })}
            <Figures community=community.clone() loads />
            <Notices community=community.clone() may_publish=viewer.may_operate />
        </div>
    }
}

/// The page the community's posted QR code opens (`/report?community=…&code=…`): anyone reports a
/// matter in a public place without signing in. Made for a phone.
#[component]
pub fn ReportScreen() -> impl IntoView {
    let query = web_sys::window().and_then(|w| w.location().search().ok()).and_then(|q| web_sys::UrlSearchParams::new_with_str(&q).ok());
    let param = |name: &str| query.as_ref().and_then(|p| p.get(name)).unwrap_or_default();
    let (community, code) = (param("community"), param("code"));
    let kind = RwSignal::new("repair".to_string());
    let category = RwSignal::new("公共设施".to_string());
    let place = RwSignal::new(String::new());
    let description = RwSignal::new(String::new());
    let contact = RwSignal::new(String::new());
    let outcome = RwSignal::new(None::<Result<String, String>>);
    let send = move |_| {
        let body = serde_json::json!({
            "community": community, "code": code, "kind": kind.get_untracked(), "category": category.get_untracked(),
            "place": place.get_untracked(), "description": description.get_untracked(), "contact": Some(contact.get_untracked()).filter(|c| !c.trim().is_empty()),
        });
        spawn_local(async move {
            let answer = match request("POST", "/api/v1/report", Some(body.to_string())).await {
                Some((200, reply)) => Ok(serde_json::from_str::<serde_json::Value>(&reply).ok().and_then(|v| v["message"].as_str().map(str::to_string)).unwrap_or_default()),
                Some((_, reply)) => Err(error_message(&reply)),
                None => Err("暂时无法联网，请稍后再试".into()),
            };
            outcome.set(Some(answer));
        });
    };
    view! {
        <div class="patrol work" data-test="report">
            <h2>"报事"</h2>
            <p class="dim">"看到公共区域需要维修、清洁或有安全隐患，在这里告诉物业。无需登录。"</p>
            <label>"类型"<select prop:value=kind on:change=move |ev| kind.set(event_target_value(&ev))>
                <option value="repair">"报修"</option><option value="complaint">"投诉"</option><option value="suggestion">"建议"</option>
            </select></label>
            <label>"类别"<input type="text" prop:value=category on:input=move |ev| category.set(event_target_value(&ev)) /></label>
            <label>"地点"<input type="text" placeholder="如：3号楼电梯、东门草坪" prop:value=place on:input=move |ev| place.set(event_target_value(&ev)) data-test="report-place" /></label>
            <textarea maxlength="500" placeholder="发生了什么" prop:value=description on:input=move |ev| description.set(event_target_value(&ev)) data-test="report-description"></textarea>
            <label>"联系电话（可不填）"<input type="text" inputmode="tel" prop:value=contact on:input=move |ev| contact.set(event_target_value(&ev)) /></label>
            <button class="big" on:click=send data-test="report-send">"提交"</button>
            {move || outcome.get().map(|o| match o {
                Ok(text) => view! { <p class="ok" data-test="report-ok">{text}</p> }.into_any(),
                Err(text) => view! { <p class="error" data-test="report-error">{text}</p> }.into_any(),
            })}
        </div>
    }
}

/// Announcements (公告): the office publishes to the residents of the community or of one
/// building, and withdraws; everyone on the page reads them.
#[component]
fn Notices(community: String, may_publish: bool) -> impl IntoView {
    let notices = RwSignal::new(Vec::<hutong_core::notice::Notice>::new());
    let title = RwSignal::new(String::new());
    let body = RwSignal::new(String::new());
    let building = RwSignal::new(String::new());
    let outcome = RwSignal::new(None::<Result<String, String>>);
    let load = {
        let community = community.clone();
        move || {
            let community = community.clone();
            spawn_local(async move {
                if let Ok(list) = get_json::<Vec<hutong_core::notice::Notice>>(&format!("/api/v1/communities/{community}/notices")).await {
                    notices.set(list);
                }
            });
        }
    };
    load();
    let (publish, withdraw) = {
        let (c1, c2, l1, l2) = (community.clone(), community.clone(), load.clone(), load.clone());
        let publish = move |_| {
            let (community, load) = (c1.clone(), l1.clone());
            let b = building.get_untracked();
            let buildings: Vec<String> = if b.trim().is_empty() { Vec::new() } else { vec![b.trim().to_string()] };
            let payload = serde_json::json!({ "title": title.get_untracked(), "body": body.get_untracked(), "buildings": buildings });
            spawn_local(async move {
                let answer = match request("POST", &format!("/api/v1/communities/{community}/notices"), Some(payload.to_string())).await {
                    Some((200, reply)) => Ok(serde_json::from_str::<hutong_core::notice::Notice>(&reply).map(|n| format!("已发布，送达 {} 户", n.delivered)).unwrap_or_default()),
                    Some((_, reply)) => Err(error_message(&reply)),
                    None => Err("暂时无法联网，请稍后再试".into()),
                };
                outcome.set(Some(answer));
                load();
            });
        };
        let withdraw = move |no: u64| {
            let (community, load) = (c2.clone(), l2.clone());
            spawn_local(async move {
                let _ = request("POST", &format!("/api/v1/communities/{community}/notices/{no}/withdraw"), None).await;
                load();
            });
        };
        (publish, withdraw)
    };
    view! {
        <section class="notices" data-test="notices">
            <h3>"公告"</h3>
            {may_publish.then(|| view! {
                <div class="new-order">
                    <input placeholder="标题" prop:value=title on:input=move |ev| title.set(event_target_value(&ev)) data-test="notice-title" />
                    <input placeholder="楼栋编号（不填为全小区）" prop:value=building on:input=move |ev| building.set(event_target_value(&ev)) data-test="notice-building" />
                    <textarea placeholder="内容" prop:value=body on:input=move |ev| body.set(event_target_value(&ev)) data-test="notice-body"></textarea>
                    <button on:click=publish data-test="notice-publish">"发布"</button>
                    {move || outcome.get().map(|o| match o {
                        Ok(t) => view! { <span class="ok" data-test="notice-ok">{t}</span> }.into_any(),
                        Err(t) => view! { <span class="error" data-test="notice-error">{t}</span> }.into_any(),
                    })}
                </div>
            })}
            <ul>
                {move || notices.get().into_iter().map(|n| {
                    let withdraw = withdraw.clone();
                    let no = n.no;
                    let live = n.withdrawn.is_none();
                    view! {
                        <li class=if live { "" } else { "dim" }>
                            <b>{n.title.clone()}</b>" "<span class="dim">{format!("{} · {} · 送达 {} 户{}", local(n.at), n.by, n.delivered, if live { "" } else { " · 已撤回" })}</span>
                            <div>{n.body.clone()}</div>
                            {(may_publish && live).then(|| view! { <button on:click=move |_| withdraw(no)>"撤回"</button> })}
                        </li>
                    }
                }).collect_view()}
            </ul>
        </section>
    }
}
