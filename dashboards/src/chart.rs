//! The building chart (R7, 销控图): every house of a building as a cell, top floor first, units
//! left to right, coloured by state or by arrears (switchable); a click opens the house — state,
//! residents, what it owes, its bills. It follows the money socket (`/ws/money`): when the shown
//! building's money changes (a payment lands, a bill is issued) the chart is fetched again.

use hutong_core::community::Community;
use hutong_core::live::{LiveBody, ServerMessage};
use leptos::prelude::*;
use leptos::task::spawn_local;
use serde::Deserialize;

use hutong_core::api::{HousePage, HouseView};

use crate::http::{error_message, get_json, request};

#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
pub struct Chart {
    pub building: String,
    pub name: String,
    pub cells: Vec<Cell>,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct Cell {
    pub house: String,
    pub address: String,
    pub unit: u32,
    pub floor: i32,
    pub room: String,
    pub area: String,
    pub state: String,
    pub residents: usize,
    pub owed: String,
    pub overdue: String,
}

impl Cell {
    fn owes(&self) -> bool {
        self.owed.parse::<rust_decimal::Decimal>().is_ok_and(|d| d > rust_decimal::Decimal::ZERO)
    }

    fn overdue(&self) -> bool {
        self.overdue.parse::<rust_decimal::Decimal>().is_ok_and(|d| d > rust_decimal::Decimal::ZERO)
    }

    /// The cell's class in one mode or the other.
    pub fn class(&self, by_arrears: bool) -> String {
        if by_arrears {
            let band = if self.overdue() { "overdue" } else if self.owes() { "owes" } else { "clear" };
            format!("cell {band}")
        } else {
            format!("cell st-{}", self.state)
        }
    }
}

pub fn state_label(state: &str) -> &'static str {
    match state {
        "unsold" => "未售",
        "handed_over" => "已交房",
        "decorating" => "装修中",
        "vacant" => "空置",
        "occupied" => "自住",
        "rented" => "出租",
        _ => "—",
    }
}

#[derive(Clone, Debug, Deserialize)]
struct BillPage {
    rows: Vec<BillLine>,
}

#[derive(Clone, Debug, Deserialize)]
struct BillLine {
    no: String,
    item: String,
    period_start: String,
    amount: String,
    state: hutong_core::bill::BillState,
}

#[component]
pub fn ChartScreen(community: String, #[prop(optional)] may_write: bool) -> impl IntoView {
    let community_id = StoredValue::new(community.clone());
    let buildings = RwSignal::new(Vec::<(String, String)>::new());
    let shown = RwSignal::new(String::new());
    let chart = RwSignal::new(Chart::default());
    let by_arrears = RwSignal::new(true);
    let selected = RwSignal::new(None::<Cell>);
    let bills = RwSignal::new(Vec::<BillLine>::new());
    let refresh = RwSignal::new(0u64);
    let base = StoredValue::new(format!("/api/v1/communities/{community}"));
    spawn_local(async move {
        if let Ok(tree) = get_json::<Community>(&base.get_value()).await {
            let list: Vec<(String, String)> = tree.buildings.iter().map(|b| (b.id.to_string(), b.name.clone())).collect();
            if let Some((first, _)) = list.first() {
                shown.set(first.clone());
            }
            buildings.set(list);
        }
    });
    // The shown building's chart, again whenever its money changes.
    Effect::new(move |_| {
        let (building, _) = (shown.get(), refresh.get());
        if building.is_empty() {
            return;
        }
        spawn_local(async move {
            if let Ok(c) = get_json::<Chart>(&format!("{}/buildings/{building}/chart", base.get_value())).await {
                if let Some(open) = selected.get_untracked() {
                    selected.set(c.cells.iter().find(|x| x.house == open.house).cloned());
                }
                chart.set(c);
            }
        });
    });
    let live = RwSignal::new(false);
    crate::socket::connect_feed(
        format!("/ws/money?community={community}"),
        move |batch| {
            let mine = shown.get_untracked();
            let touched = batch.iter().flat_map(ServerMessage::events).any(|e| matches!(&e.body, LiveBody::MoneyDetail(v) if v.building.as_str() == mine));
            if touched {
                refresh.update(|n| *n += 1);
            }
        },
        live,
    );
    // The open house's bills.
    Effect::new(move |_| {
        let (Some(cell), _) = (selected.get(), refresh.get()) else { return };
        let q: String = js_sys::encode_uri_component(&cell.address).into();
        spawn_local(async move {
            if let Ok(page) = get_json::<BillPage>(&format!("{}/bills?q={q}&page_size=20", base.get_value())).await {
                bills.set(page.rows);
            }
        });
    });

    let tabs = move || {
        buildings.with(|list| {
            list.iter()
                .map(|(id, name)| {
                    let id = id.clone();
                    let on = { let id = id.clone(); move || shown.with(|s| *s == id) };
                    view! { <button class=move || if on() { "tab on" } else { "tab" } data-test="chart-building" on:click=move |_| { selected.set(None); shown.set(id.clone()) }>{name.clone()}</button> }
                })
                .collect_view()
        })
    };
    let rows = move || {
        let arrears = by_arrears.get();
        chart.with(|c| {
            let mut floors: Vec<i32> = c.cells.iter().map(|x| x.floor).collect();
            floors.dedup();
            floors
                .into_iter()
                .map(|floor| {
                    let cells = c.cells.iter().filter(|x| x.floor == floor).cloned().map(|cell| {
                        let hint = if arrears { if cell.owes() { format!("¥{}", cell.owed) } else { "已缴清".into() } } else { state_label(&cell.state).to_string() };
                        let open = cell.clone();
                        view! {
                            <button class=cell.class(arrears) data-test="cell" data-house=cell.house.clone() on:click=move |_| selected.set(Some(open.clone()))>
                                <b>{format!("{}-{}", cell.unit, cell.room)}</b>
                                <small>{hint}</small>
                            </button>
                        }
                    }).collect_view();
                    view! { <div class="floor-row"><span class="floor">{format!("{floor}层")}</span>{cells}</div> }
                })
                .collect_view()
        })
    };
    let detail = move || {
        selected.get().map(|cell| {
            let lines = bills.with(|b| b.iter().map(|l| view! {
                <tr><td>{l.no.clone()}</td><td>{hutong_core::fee::standard_label(&l.item)}</td><td>{l.period_start.clone()}</td><td>{format!("¥{}", l.amount)}</td><td>{l.state.label_zh()}</td></tr>
            }).collect_view());
            view! {
                <aside class="house-detail" data-test="house-detail">
                    <h3>{cell.address.clone()}</h3>
                    <p>{format!("{} · {} m² · 住户 {} 人", state_label(&cell.state), cell.area, cell.residents)}</p>
                    <p data-test="house-owed">{format!("待缴 ¥{} · 逾期 ¥{}", cell.owed, cell.overdue)}</p>
                    <table class="bills"><tbody>{lines}</tbody></table>
                </aside>
            }
        })
    };
    // The editor follows the open house, not each refresh of its cell: what is being typed stays.
    let open_address = Memo::new(move |_| selected.with(|s| s.as_ref().map(|c| c.address.clone())));
    let editor = move || {
        open_address.get().map(|address| view! {
            <aside class="house-detail">
                <HouseEditor community=community_id.get_value() address may_write changed=Callback::new(move |_| refresh.update(|n| *n += 1)) />
            </aside>
        })
    };
    view! {
        <div class="admin chart" data-test="chart">
            <div class="desk-head">
                <h2>{move || chart.with(|c| format!("销控图 · {}", c.name))}</h2>
                <span class=move || if live.get() { "link up" } else { "link down" }>{move || if live.get() { "实时" } else { "连接中" }}</span>
            </div>
            <div class="tabs">{tabs}</div>
            <div class="modes">
                <button class=move || if by_arrears.get() { "tab on" } else { "tab" } data-test="mode-arrears" on:click=move |_| by_arrears.set(true)>"按欠费"</button>
                <button class=move || if by_arrears.get() { "tab" } else { "tab on" } data-test="mode-state" on:click=move |_| by_arrears.set(false)>"按房屋状态"</button>
                <span class="legend">{move || if by_arrears.get() { "绿：已缴清 · 黄：待缴 · 红：逾期" } else { "自住 · 出租 · 空置 · 装修中 · 已交房 · 未售" }}</span>
                <span class="legend" data-test="chart-counts">{move || chart.with(|c| {
                    // C6: the building's homes by state, as counted on its cells.
                    let count = |s: &str| c.cells.iter().filter(|x| x.state == s).count();
                    ["occupied", "rented", "vacant", "decorating", "handed_over", "unsold"]
                        .iter()
                        .filter(|s| count(s) > 0)
                        .map(|s| format!("{} {}", state_label(s), count(s)))
                        .collect::<Vec<_>>()
                        .join(" · ")
                })}</span>
            </div>
            <div class="chart-body">
                <div class="grid" data-test="chart-grid">{rows}</div>
                <div class="side">{detail}{editor}</div>
            </div>
        </div>
    }
}

/// The open house's state and residents, changed in place (C3, C4): a state from a day (kept in
/// its history; a bill run prices each part of a period in its state), residents added, edited,
/// moved to another house or removed. Phones are shown as the server shows them (masked unless
/// the caller may see them in full) and name the resident to change.
#[component]
fn HouseEditor(community: String, address: String, may_write: bool, changed: Callback<()>) -> impl IntoView {
    let house = RwSignal::new(None::<HouseView>);
    let message = RwSignal::new(String::new());
    let base = StoredValue::new(format!("/api/v1/communities/{community}/house-records"));
    let load = move |address: String| {
        let q: String = js_sys::encode_uri_component(&address).into();
        spawn_local(async move {
            if let Ok(page) = get_json::<HousePage>(&format!("{}?q={q}", base.get_value())).await {
                house.set(page.houses.into_iter().find(|h| h.address == address));
            }
        })
    };
    load(address.clone());
    let address = StoredValue::new(address);
    let (name, phone) = (RwSignal::new(String::new()), RwSignal::new(String::new()));
    let send_as = move |method: &'static str, path: String, body: serde_json::Value, done: &'static str| {
        spawn_local(async move {
            match request(method, &path, Some(body.to_string())).await {
                Some((200, _)) => {
                    message.set(done.to_string());
                    (name.set(String::new()), phone.set(String::new()));
                    load(address.get_value());
                    changed.run(());
                }
                Some((_, text)) => message.set(error_message(&text)),
                None => message.set(error_message("")),
            }
        })
    };
    let send = move |path: String, body: serde_json::Value, done: &'static str| send_as("POST", path, body, done);
    let path = move |tail: &str| house.with_untracked(|h| h.as_ref().map(|h| format!("{}/{}/{tail}", base.get_value(), h.id)));
    let (state, on) = (RwSignal::new("vacant".to_string()), RwSignal::new(String::new()));
    let change_state = move |ev: web_sys::SubmitEvent| {
        ev.prevent_default();
        let Some(p) = path("state") else { return };
        let day = on.get_untracked();
        let body = if day.is_empty() { serde_json::json!({"state": state.get_untracked()}) } else { serde_json::json!({"state": state.get_untracked(), "on": day}) };
        send(p, body, "状态已变更");
    };
    let (relation, replacing) = (RwSignal::new("owner".to_string()), RwSignal::new(None::<String>));
    let put = move |ev: web_sys::SubmitEvent| {
        ev.prevent_default();
        let Some(p) = path("residents") else { return };
        let body = serde_json::json!({"action": "put", "name": name.get_untracked(), "phone": phone.get_untracked(), "relation": relation.get_untracked(), "replacing": replacing.get_untracked()});
        replacing.set(None);
        send(p, body, "住户已保存");
    };
    let to = RwSignal::new(String::new());
    // What the house is: its kind and area (C2).
    let (kind, area) = (RwSignal::new(String::new()), RwSignal::new(String::new()));
    let reshape = move |ev: web_sys::SubmitEvent| {
        ev.prevent_default();
        let Some(p) = house.with_untracked(|h| h.as_ref().map(|h| format!("{}/{}", base.get_value(), h.id))) else { return };
        let mut body = serde_json::json!({});
        if !kind.get_untracked().is_empty() {
            body["kind"] = kind.get_untracked().into();
        }
        if !area.get_untracked().trim().is_empty() {
            body["area"] = area.get_untracked().trim().into();
        }
        send_as("PATCH", p, body, "房屋信息已保存");
    };
    let kinds = [("", "类型不变"), ("home", "住宅"), ("shop", "商铺"), ("office", "写字间"), ("parking", "车位"), ("storage", "储藏室"), ("ad_space", "广告位")];
    let states = [("handed_over", "已交房"), ("decorating", "装修中"), ("occupied", "自住"), ("rented", "出租"), ("vacant", "空置"), ("unsold", "未售")];
    let relations = [("owner", "业主"), ("tenant", "租户"), ("family", "家属")];
    let residents = move || house.get().map(|h| h.residents.into_iter().map(|r| {
        let (shown, for_edit, for_move) = (r.phone.clone(), r.clone(), r.phone.clone());
        let remove = move |_| if let Some(p) = path("residents") { send(p, serde_json::json!({"action": "remove", "phone": shown.clone()}), "住户已移出") };
        let edit = move |_| {
            name.set(for_edit.name.clone());
            phone.set(String::new());
            relation.set(serde_json::to_value(for_edit.relation).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default());
            replacing.set(Some(for_edit.phone.clone()));
        };
        let relocate = move |_| if let Some(p) = path("residents") { send(p, serde_json::json!({"action": "move", "phone": for_move.clone(), "to": to.get_untracked()}), "住户已迁往新房屋") };
        view! {
            <tr data-test="resident">
                <td>{r.name.clone()}</td><td>{r.phone.clone()}</td><td>{r.relation_label.clone()}</td>
                {may_write.then(|| view! { <td><button on:click=edit>"编辑"</button><button on:click=remove data-test="resident-remove">"移出"</button><button on:click=relocate data-test="resident-move">"迁往"</button></td> })}
            </tr>
        }
    }).collect_view());
    view! {
        <div class="house-edit" data-test="house-edit">
            <p data-test="house-history">{move || house.get().map(|h| h.history.iter().map(|s| format!("{} {}", s.since.map(|d| d.to_string()).unwrap_or_else(|| "起初".into()), state_label(&serde_json::to_value(s.state).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default()))).collect::<Vec<_>>().join(" → "))}</p>
            {may_write.then(|| view! {
                <form class="inline" on:submit=change_state data-test="state-form">
                    <select name="state" on:change=move |ev| state.set(event_target_value(&ev))>
                        {states.map(|(v, t)| view! { <option value=v selected=v == "vacant">{t}</option> }).collect_view()}
                    </select>
                    <input name="on" type="date" prop:value=on on:input=move |ev| on.set(event_target_value(&ev)) />
                    <button type="submit">"变更状态"</button>
                </form>
            })}
            <p class="dim" data-test="house-fields">{move || house.get().map(|h| std::iter::once(format!("{} · {} m²", h.kind_label, h.area)).chain(h.fields.iter().map(|(k, v)| format!("{k}：{v}"))).collect::<Vec<_>>().join(" · "))}</p>
            {may_write.then(|| view! {
                <form class="inline" on:submit=reshape data-test="house-form">
                    <select name="kind" on:change=move |ev| kind.set(event_target_value(&ev))>
                        {kinds.map(|(v, t)| view! { <option value=v>{t}</option> }).collect_view()}
                    </select>
                    <input name="area" size="8" placeholder=move || house.get().map(|h| format!("面积 {}", h.area)).unwrap_or_default() prop:value=area on:input=move |ev| area.set(event_target_value(&ev)) />
                    <button type="submit">"保存"</button>
                </form>
            })}
            <table class="residents"><tbody>{residents}</tbody></table>
            {may_write.then(|| view! {
                <form class="inline" on:submit=put data-test="resident-form">
                    <input name="resident-name" placeholder="姓名" prop:value=name on:input=move |ev| name.set(event_target_value(&ev)) />
                    <input name="resident-phone" placeholder=move || if replacing.get().is_some() { "新手机号" } else { "手机号" } prop:value=phone on:input=move |ev| phone.set(event_target_value(&ev)) />
                    <select name="relation" on:change=move |ev| relation.set(event_target_value(&ev))>
                        {relations.map(|(v, t)| view! { <option value=v selected=move || relation.get() == v>{t}</option> }).collect_view()}
                    </select>
                    <button type="submit">{move || if replacing.get().is_some() { "保存修改" } else { "添加住户" }}</button>
                </form>
                <label>"迁往房屋"<input name="move-to" placeholder="如 荷花苑-2-1-101" prop:value=to on:input=move |ev| to.set(event_target_value(&ev)) /></label>
            })}
            <p class="message" data-test="house-message">{move || message.get()}</p>
        </div>
    }
}
