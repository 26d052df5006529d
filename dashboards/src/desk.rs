//! The billing desk (R4, F8, F9): Haina's 缴费记录 page — search by bill number, phone, name or
//! address; advanced filters; the list newest first with its 海纳单号/物业系统单号, 导入时间,
//! 住户/电话, 住址, 类型/金额 and 状态; per-row actions; batch actions shown only while every
//! selected bill is pending; import and export dialogs; details with the change history; mark
//! paid with channel and payer; receipts to print. The list refreshes itself when money moves.

use std::collections::BTreeSet;

use leptos::prelude::*;
use leptos::task::spawn_local;
use serde_json::{Value, json};
use wasm_bindgen::JsCast;

use crate::http::{error_message, request, upload};

const STATES: [(&str, &str); 5] = [("pending", "待支付"), ("partly_paid", "部分支付"), ("paid", "已支付"), ("voided", "已作废"), ("deleted", "已删除")];
const ITEMS: [(&str, &str); 12] = [
    ("property", "物业费"),
    ("water", "水费"),
    ("electricity", "电费"),
    ("parking", "车位费"),
    ("rent", "租金"),
    ("shared_cost", "公摊费用"),
    ("late_fee", "滞纳金"),
    ("elevator", "电梯费"),
    ("garbage", "垃圾清运费"),
    ("month_total", "当月应缴费用"),
    ("other", "其它"),
    ("gas", "燃气费"),
];
const CHANNELS: [(&str, &str); 6] =
    [("cash", "现金"), ("pos_card", "POS刷卡"), ("wechat_pay", "微信支付"), ("alipay", "支付宝"), ("bank_transfer", "银行转账"), ("bank_collection", "银行托收")];
const REMIND: [(&str, &str); 4] = [("in_app", "站内"), ("wechat", "微信"), ("sms", "短信"), ("email", "邮件")];

fn key() -> String {
    format!("desk-{}-{}", js_sys::Date::now() as u64, (js_sys::Math::random() * 1e9) as u64)
}

fn enc(s: &str) -> String {
    String::from(js_sys::encode_uri_component(s))
}

/// What a dialog shows.
#[derive(Clone, Debug, PartialEq)]
enum Dialog {
    None,
    Detail(Value),
    Pay(Vec<String>, String),
    Edit(Value),
    Import,
    Run,
}

#[component]
pub fn DeskScreen(community: String, may_write_billing: bool) -> impl IntoView {
    // Stored, so every closure that needs it stays `Copy`.
    let base = StoredValue::new(format!("/api/v1/communities/{community}"));
    let rows = RwSignal::new(Vec::<Value>::new());
    let total = RwSignal::new(0u64);
    let page = RwSignal::new(1u64);
    let text = RwSignal::new(String::new());
    let state = RwSignal::new(String::new());
    let item = RwSignal::new(String::new());
    let period_from = RwSignal::new(String::new());
    let period_to = RwSignal::new(String::new());
    let selected = RwSignal::new(BTreeSet::<String>::new());
    let message = RwSignal::new(String::new());
    let dialog = RwSignal::new(Dialog::None);
    let filters = move || {
        let mut q = vec![];
        for (k, v) in [("q", text.get_untracked()), ("state", state.get_untracked()), ("item", item.get_untracked()), ("period_from", period_from.get_untracked()), ("period_to", period_to.get_untracked())] {
            if !v.is_empty() {
                q.push(format!("{k}={}", enc(&v)));
            }
        }
        q.join("&")
    };
    let load = move || {
        let path = format!("{}/bills?page={}&page_size=20&{}", base.get_value(), page.get_untracked(), filters());
        spawn_local(async move {
            match request("GET", &path, None).await {
                Some((200, body)) => {
                    let v: Value = serde_json::from_str(&body).unwrap_or_default();
                    total.set(v["total"].as_u64().unwrap_or(0));
                    rows.set(v["rows"].as_array().cloned().unwrap_or_default());
                    selected.update(|s| s.retain(|no| v["rows"].as_array().into_iter().flatten().any(|r| r["no"] == no.as_str())));
                }
                Some((_, body)) => message.set(error_message(&body)),
                None => message.set(error_message("")),
            }
        });
    };
    load();
    // Money moved somewhere in the community: refresh what is on screen.
    let live = RwSignal::new(false);
    // Buildings whose money changed since a bill run started: the run's progress on screen.
    let moved = RwSignal::new(BTreeSet::<String>::new());
    crate::socket::connect_feed(
        format!("/ws/money?community={community}"),
        move |batch| {
            let buildings: Vec<String> = batch
                .iter()
                .filter_map(|m| match m {
                    hutong_core::live::ServerMessage::Event(e) => match &e.body {
                        hutong_core::live::LiveBody::MoneyDetail(money) => Some(money.building.to_string()),
                        _ => None,
                    },
                    _ => None,
                })
                .collect();
            moved.update(|m| m.extend(buildings));
            load();
        },
        live,
    );

    let all_pending = move || {
        let sel = selected.get();
        !sel.is_empty() && rows.with(|r| sel.iter().all(|no| r.iter().any(|x| x["no"] == no.as_str() && x["state"] == "pending")))
    };
    let post = move |path: String, body: Value, done: &'static str| {
        let path = format!("{}{path}", base.get_value());
        spawn_local(async move {
            match request("POST", &path, Some(body.to_string())).await {
                Some((200, reply)) => {
                    let v: Value = serde_json::from_str(&reply).unwrap_or_default();
                    let refused: Vec<String> = v["results"].as_array().into_iter().flatten().filter(|r| r["ok"] == false).filter_map(|r| r["message"].as_str().map(str::to_string)).collect();
                    message.set(if refused.is_empty() { done.to_string() } else { format!("催缴失败：{}", refused.join("；")) });
                    selected.set(BTreeSet::new());
                    dialog.set(Dialog::None);
                    load();
                }
                Some((_, reply)) => message.set(error_message(&reply)),
                None => message.set(error_message("")),
            }
        });
    };
    let remind_channel = RwSignal::new("in_app".to_string());
    let batch = move |action: &'static str| {
        let bills: Vec<String> = selected.get_untracked().into_iter().collect();
        match action {
            "mark_paid" => dialog.set(Dialog::Pay(bills, String::new())),
            "remind" => post("/bills/batch".into(), json!({"action": "remind", "bills": bills, "channel": remind_channel.get_untracked()}), "已发送催缴通知"),
            _ => post("/bills/batch".into(), json!({"action": "delete", "bills": bills}), "已删除"),
        }
    };
    let open_detail = move |no: String| {
        let path = format!("{}/bills/{no}", base.get_value());
        spawn_local(async move {
            if let Some((200, body)) = request("GET", &path, None).await {
                dialog.set(Dialog::Detail(serde_json::from_str(&body).unwrap_or_default()));
            }
        });
    };
    let export_href = move |format: &str| format!("{}/bills/export?format={format}&{}", base.get_value(), filters());
    let export_csv = export_href;
    let search = move |ev: web_sys::SubmitEvent| {
        ev.prevent_default();
        page.set(1);
        load();
    };

    let table = move || {
        rows.get()
            .into_iter()
            .map(|r| {
                let no = r["no"].as_str().unwrap_or_default().to_string();
                let pending = r["state"] == "pending";
                let (n1, n2, n3, n4, n5, n6) = (no.clone(), no.clone(), no.clone(), no.clone(), no.clone(), no.clone());
                let row = r.clone();
                let house = r["address"].as_str().unwrap_or_default().to_string();
                let checked = move || selected.with(|s| s.contains(&n1));
                let state_class = format!("state {}", r["state"].as_str().unwrap_or_default());
                view! {
                    <tr data-test="bill-row">
                        <td><input type="checkbox" data-test="bill-check" prop:checked=checked on:change=move |ev| {
                            let on = event_target_checked(&ev);
                            selected.update(|s| { if on { s.insert(n2.clone()); } else { s.remove(&n2); } });
                        } /></td>
                        <td class="mono">{no.clone()}<br /><span class="dim">{r["external_no"].as_str().unwrap_or("--").to_string()}</span></td>
                        <td>{r["issued_at"].as_str().unwrap_or_default().replace('T', " ").chars().take(16).collect::<String>()}</td>
                        <td>{r["resident"].as_str().unwrap_or("--").to_string()}{if r["vip"] == true { " VIP" } else { "" }}<br /><span class="dim">{r["phone"].as_str().unwrap_or_default().to_string()}</span></td>
                        <td>{r["address_path"].as_str().unwrap_or_default().to_string()}</td>
                        <td>{r["item_name"].as_str().unwrap_or_default().to_string()}<br /><b>{format!("¥{}", r["amount"].as_str().unwrap_or_default())}</b></td>
                        <td><span class=state_class>{r["state_label"].as_str().unwrap_or_default().to_string()}</span></td>
                        <td class="actions">
                            <a on:click=move |_| open_detail(n3.clone())>"详情"</a>
                            {pending.then(|| view! {
                                <a on:click=move |_| post("/reminders".into(), json!({"bills": [n4.clone()], "channel": remind_channel.get_untracked()}), "已发送催缴通知")>"催缴"</a>
                                <a data-test="mark-paid" on:click=move |_| dialog.set(Dialog::Pay(vec![n5.clone()], house.clone()))>"标记已支付"</a>
                            })}
                            {(pending && may_write_billing).then(|| view! {
                                <a on:click=move |_| dialog.set(Dialog::Edit(row.clone()))>"编辑"</a>
                                <a on:click=move |_| post(format!("/bills/{n6}/delete"), Value::Null, "已删除")>"删除"</a>
                            })}
                        </td>
                    </tr>
                }
            })
            .collect_view()
    };

    let pages = move || total.get().div_ceil(20).max(1);
    view! {
        <div class="admin desk" data-test="desk">
            <div class="desk-head">
                <h2>"缴费记录"</h2>
                {may_write_billing.then(|| view! {
                    <button data-test="open-import" on:click=move |_| dialog.set(Dialog::Import)>"导入缴费单"</button>
                    <button data-test="open-run" on:click=move |_| dialog.set(Dialog::Run)>"生成账单"</button>
                })}
                <a class="button" href=move || export_href("xlsx") data-test="export-xlsx">"导出缴费单 (xlsx)"</a>
                <a class="button" href=move || export_csv("csv")>"导出 csv"</a>
                <span class=move || if live.get() { "link up" } else { "link down" }>{move || if live.get() { "实时" } else { "连接中" }}</span>
            </div>
            <form class="inline" on:submit=search>
                <input class="wide" data-test="search" placeholder="输入订单号/手机号/姓名/房屋地址搜索" prop:value=text on:input=move |ev| text.set(event_target_value(&ev)) />
                <select data-test="filter-state" on:change=move |ev| state.set(event_target_value(&ev))>
                    <option value="">"全部状态"</option>
                    {STATES.iter().map(|(v, l)| view! { <option value=*v>{*l}</option> }).collect_view()}
                </select>
                <select on:change=move |ev| item.set(event_target_value(&ev))>
                    <option value="">"全部类型"</option>
                    {ITEMS.iter().map(|(v, l)| view! { <option value=*v>{*l}</option> }).collect_view()}
                </select>
                <input type="date" title="费用开始" prop:value=period_from on:input=move |ev| period_from.set(event_target_value(&ev)) />
                <input type="date" title="费用结束" prop:value=period_to on:input=move |ev| period_to.set(event_target_value(&ev)) />
                <button type="submit" data-test="search-button">"搜索"</button>
            </form>
            <div class="batch" data-test="batch-bar" style:display=move || if all_pending() { "flex" } else { "none" }>
                <span>{move || format!("已选 {} 笔待支付账单", selected.with(|s| s.len()))}</span>
                <select on:change=move |ev| remind_channel.set(event_target_value(&ev))>
                    {REMIND.iter().map(|(v, l)| view! { <option value=*v>{*l}</option> }).collect_view()}
                </select>
                <button data-test="batch-remind" on:click=move |_| batch("remind")>"催缴"</button>
                <button data-test="batch-paid" on:click=move |_| batch("mark_paid")>"标记已支付"</button>
                {may_write_billing.then(|| view! { <button class="danger" on:click=move |_| batch("delete")>"删除"</button> })}
            </div>
            <p class="message" data-test="desk-message">{move || message.get()}</p>
            <table data-test="bill-table">
                <thead><tr><th></th><th>"海纳单号/物业系统单号"</th><th>"导入时间"</th><th>"住户/电话"</th><th>"住址"</th><th>"类型/金额"</th><th>"状态"</th><th>"操作"</th></tr></thead>
                <tbody>{table}</tbody>
            </table>
            <div class="pager">
                <span data-test="bill-total">{move || format!("共 {} 条", total.get())}</span>
                <button on:click=move |_| { if page.get_untracked() > 1 { page.update(|p| *p -= 1); load(); } }>"上一页"</button>
                <span>{move || format!("{} / {}", page.get(), pages())}</span>
                <button on:click=move |_| { if page.get_untracked() < pages() { page.update(|p| *p += 1); load(); } }>"下一页"</button>
            </div>
            {move || match dialog.get() {
                Dialog::None => ().into_any(),
                Dialog::Detail(v) => view! { <DetailDialog detail=v base=base.get_value() close=move || dialog.set(Dialog::None) /> }.into_any(),
                Dialog::Pay(bills, house) => view! { <PayDialog bills house base=base.get_value() rows done=move |m: String| { message.set(m); selected.set(BTreeSet::new()); dialog.set(Dialog::None); load(); } /> }.into_any(),
                Dialog::Edit(row) => view! { <EditDialog row base=base.get_value() done=move |m: String| { message.set(m); dialog.set(Dialog::None); load(); } /> }.into_any(),
                Dialog::Import => view! { <ImportDialog base=base.get_value() close=move || { dialog.set(Dialog::None); load(); } /> }.into_any(),
                Dialog::Run => view! { <RunDialog base=base.get_value() moved close=move || { dialog.set(Dialog::None); load(); } /> }.into_any(),
            }}
        </div>
    }
}

#[component]
fn DetailDialog(detail: Value, base: String, close: impl Fn() + Clone + Send + Sync + 'static) -> impl IntoView {
    let bill = detail["bill"].clone();
    let field = |k: &str| bill[k].as_str().unwrap_or("--").to_string();
    let history: Vec<Value> = detail["history"].as_array().cloned().unwrap_or_default();
    let payments: Vec<Value> = detail["payments"].as_array().cloned().unwrap_or_default();
    view! {
        <div class="dialog" data-test="detail">
            <h3>{format!("账单 {}", field("no"))}</h3>
            <table>
                <tr><th>"住址"</th><td>{field("address_path")}</td><th>"住户"</th><td>{format!("{} {}", field("resident"), field("phone"))}</td></tr>
                <tr><th>"类型"</th><td>{field("item_name")}</td><th>"金额 / 已付"</th><td>{format!("¥{} / ¥{}", field("amount"), field("paid"))}</td></tr>
                <tr><th>"费用时段"</th><td>{format!("{} ~ {}", field("period_start"), field("period_end"))}</td><th>"状态"</th><td>{field("state_label")}</td></tr>
                <tr><th>"物业系统单号"</th><td>{field("external_no")}</td><th>"备注"</th><td>{field("remark")}</td></tr>
            </table>
            <h3>"变更记录"</h3>
            <ul class="history">
                {history.into_iter().map(|h| view! { <li>{format!("{} {} {}", h["at"].as_str().unwrap_or_default().replace('T', " "), h["by"].as_str().unwrap_or_default(), h["event"]["type"].as_str().unwrap_or_default())}</li> }).collect_view()}
            </ul>
            <h3>"收款"</h3>
            <ul>
                {payments.into_iter().map(|p| {
                    let no = p["no"].as_str().unwrap_or_default().to_string();
                    view! { <li>{format!("{} ¥{} ", no, p["amount"].as_str().unwrap_or_default())}
                        <a target="_blank" href=format!("{base}/payments/{no}/receipt?format=html")>"打印收据"</a>" "
                        <a target="_blank" data-test="receipt-pdf" href=format!("{base}/payments/{no}/receipt")>"PDF"</a></li> }
                }).collect_view()}
            </ul>
            <button on:click=move |_| close()>"关闭"</button>
        </div>
    }
}

#[component]
fn PayDialog(bills: Vec<String>, house: String, base: String, rows: RwSignal<Vec<Value>>, done: impl Fn(String) + Clone + Send + Sync + 'static) -> impl IntoView {
    let channel = RwSignal::new("cash".to_string());
    let payer = RwSignal::new(String::new());
    let error = RwSignal::new(String::new());
    let request_key = key();
    let amount: String = rows.with_untracked(|r| {
        r.iter().filter(|x| bills.iter().any(|b| x["no"] == b.as_str())).filter_map(|x| x["amount"].as_str()).collect::<Vec<_>>().join(" + ")
    });
    let count = bills.len();
    let submit = move |ev: web_sys::SubmitEvent| {
        ev.prevent_default();
        let (bills, house, base, done, key) = (bills.clone(), house.clone(), base.clone(), done.clone(), request_key.clone());
        spawn_local(async move {
            let (path, body) = if house.is_empty() {
                (format!("{base}/bills/batch"), json!({"action": "mark_paid", "bills": bills, "pay_channel": channel.get_untracked(), "payer": payer.get_untracked(), "key": key}))
            } else {
                (format!("{base}/payments"), json!({"key": key, "house": house, "bills": bills, "channel": channel.get_untracked(), "payer": payer.get_untracked()}))
            };
            match request("POST", &path, Some(body.to_string())).await {
                Some((200, _)) => done("已标记为已支付".into()),
                Some((_, reply)) => error.set(error_message(&reply)),
                None => error.set(error_message("")),
            }
        });
    };
    view! {
        <form class="dialog" on:submit=submit data-test="pay-dialog">
            <h3>{format!("标记已支付（{count} 笔）")}</h3>
            <p>{format!("金额：¥{amount}")}</p>
            <label>"支付渠道"<select data-test="pay-channel" on:change=move |ev| channel.set(event_target_value(&ev))>
                {CHANNELS.iter().map(|(v, l)| view! { <option value=*v>{*l}</option> }).collect_view()}
            </select></label>
            <label>"支付人姓名"<input data-test="payer" prop:value=payer on:input=move |ev| payer.set(event_target_value(&ev)) /></label>
            <button type="submit" data-test="pay-confirm">"确认收款"</button>
            <p class="message">{move || error.get()}</p>
        </form>
    }
}

#[component]
fn EditDialog(row: Value, base: String, done: impl Fn(String) + Clone + Send + Sync + 'static) -> impl IntoView {
    let text = |k: &str| row[k].as_str().unwrap_or_default().to_string();
    let no = text("no");
    let (item, start, end, amount, remark) = (RwSignal::new(text("item")), RwSignal::new(text("period_start")), RwSignal::new(text("period_end")), RwSignal::new(text("amount")), RwSignal::new(text("remark")));
    let error = RwSignal::new(String::new());
    let title = format!("编辑账单 {no}");
    let submit = move |ev: web_sys::SubmitEvent| {
        ev.prevent_default();
        let path = format!("{base}/bills/{no}/edit");
        let body = json!({"item": item.get_untracked(), "period_start": start.get_untracked(), "period_end": end.get_untracked(), "amount": amount.get_untracked(), "remark": remark.get_untracked()});
        let done = done.clone();
        spawn_local(async move {
            match request("POST", &path, Some(body.to_string())).await {
                Some((200, _)) => done("已保存".into()),
                Some((_, reply)) => error.set(error_message(&reply)),
                None => error.set(error_message("")),
            }
        });
    };
    view! {
        <form class="dialog" on:submit=submit data-test="edit-dialog">
            <h3>{title}</h3>
            <label>"费用类型"<select on:change=move |ev| item.set(event_target_value(&ev))>
                {ITEMS.iter().map(|(v, l)| view! { <option value=*v selected=*v == item.get_untracked()>{*l}</option> }).collect_view()}
            </select></label>
            <label>"开始时间"<input type="date" prop:value=start on:input=move |ev| start.set(event_target_value(&ev)) /></label>
            <label>"结束时间"<input type="date" prop:value=end on:input=move |ev| end.set(event_target_value(&ev)) /></label>
            <label>"金额"<input prop:value=amount on:input=move |ev| amount.set(event_target_value(&ev)) /></label>
            <label>"备注（最多500字）"<input maxlength="500" prop:value=remark on:input=move |ev| remark.set(event_target_value(&ev)) /></label>
            <button type="submit">"保存"</button>
            <p class="message">{move || error.get()}</p>
        </form>
    }
}

#[component]
fn ImportDialog(base: String, close: impl Fn() + Clone + Send + Sync + 'static) -> impl IntoView {
    let good_only = RwSignal::new(false);
    let report = RwSignal::new(Value::Null);
    let busy = RwSignal::new(false);
    let input: NodeRef<leptos::html::Input> = NodeRef::new();
    let stored = StoredValue::new(base.clone());
    let send = move |_| {
        let Some(file) = input.get().and_then(|i| i.files()).and_then(|f| f.get(0)) else {
            report.set(json!({"message": "请选择文件 / choose a file"}));
            return;
        };
        let path = format!("{}/bills/import?good_only={}", stored.get_value(), good_only.get_untracked());
        busy.set(true);
        spawn_local(async move {
            let reply = upload(&path, file.unchecked_ref()).await;
            busy.set(false);
            report.set(match reply {
                Some((_, body)) => serde_json::from_str(&body).unwrap_or_else(|_| json!({"message": body})),
                None => json!({"message": error_message("")}),
            });
        });
    };
    let close = StoredValue::new(close);
    let remind_now = move |_| {
        let batch = report.get_untracked()["batch"].as_str().unwrap_or_default().to_string();
        let path = format!("{}/reminders", stored.get_value());
        let close = close.get_value();
        spawn_local(async move {
            let reply = request("POST", &path, Some(json!({"batch": batch}).to_string())).await;
            report.update(|r| r["reminded"] = json!(reply.map(|(_, t)| t).unwrap_or_default()));
            close();
        });
    };
    view! {
        <div class="dialog" data-test="import-dialog">
            <h3>"导入缴费单"</h3>
            <p>"1. 下载模板："<a href=format!("{base}/bills/template?kind=standard")>"标准缴费单模板"</a>" · "<a href=format!("{base}/bills/template?kind=xinshichuang")>"新视窗缴费单模板"</a></p>
            <p>"2. 导入缴费单Excel文档 (csv, xls, xlsx格式)"</p>
            <input type="file" node_ref=input data-test="import-file" accept=".csv,.xls,.xlsx" />
            <label class="check"><input type="checkbox" on:change=move |ev| good_only.set(event_target_checked(&ev)) />"有错误时仅导入正确的行"</label>
            <button data-test="import-send" on:click=send disabled=move || busy.get()>{move || if busy.get() { "导入中…" } else { "导入" }}</button>
            <div data-test="import-report">
                {move || {
                    let r = report.get();
                    let errors: Vec<Value> = r["errors"].as_array().cloned().unwrap_or_default();
                    let ok = r["batch"].is_string();
                    view! {
                        <p class="message">{r["message"].as_str().unwrap_or_default().to_string()}</p>
                        {(!errors.is_empty()).then(|| view! {
                            <table class="errors"><thead><tr><th>"行"</th><th>"列"</th><th>"原因"</th></tr></thead><tbody>
                                {errors.into_iter().map(|e| view! { <tr><td>{e["row"].as_u64().unwrap_or(0)}</td><td>{e["column"].as_str().unwrap_or_default().to_string()}</td><td>{e["reason"].as_str().unwrap_or_default().to_string()}</td></tr> }).collect_view()}
                            </tbody></table>
                        })}
                        {ok.then(|| view! { <div class="inline"><button data-test="remind-now" on:click=remind_now>"确定（立即催缴）"</button><button on:click=move |_| close.get_value()()>"稍后催缴"</button></div> })}
                    }
                }}
            </div>
            <button on:click=move |_| close.get_value()()>"关闭"</button>
        </div>
    }
}

#[component]
fn RunDialog(base: String, moved: RwSignal<BTreeSet<String>>, close: impl Fn() + Clone + Send + Sync + 'static) -> impl IntoView {
    let running = RwSignal::new(false);
    let cycle = RwSignal::new("monthly".to_string());
    let timing = RwSignal::new("in_advance".to_string());
    let result = RwSignal::new(Value::Null);
    let base = StoredValue::new(base);
    let go = move |commit: bool| {
        let path = format!("{}/bill-runs", base.get_value());
        let body = json!({"cycle": cycle.get_untracked(), "timing": timing.get_untracked(), "items": ["property", "elevator", "garbage"], "commit": commit});
        if commit {
            moved.set(BTreeSet::new());
            running.set(true);
        }
        spawn_local(async move {
            let reply = request("POST", &path, Some(body.to_string())).await;
            running.set(false);
            result.set(match reply {
                Some((200, t)) => serde_json::from_str(&t).unwrap_or_default(),
                Some((_, t)) => json!({"error": error_message(&t)}),
                None => json!({"error": error_message("")}),
            });
        });
    };
    view! {
        <div class="dialog" data-test="run-dialog">
            <h3>"生成账单（物业费、电梯费、垃圾清运费）"</h3>
            <div class="inline">
                <select on:change=move |ev| cycle.set(event_target_value(&ev))><option value="monthly">"按月"</option><option value="quarterly">"按季"</option><option value="yearly">"按年"</option></select>
                <select on:change=move |ev| timing.set(event_target_value(&ev))><option value="in_advance">"预收（本期）"</option><option value="in_arrears">"后收（上期）"</option></select>
                <button on:click=move |_| go(false)>"预览"</button>
                <button on:click=move |_| go(true)>"确认生成"</button>
            </div>
            <p data-test="run-progress" style:display=move || if running.get() { "block" } else { "none" }>
                {move || format!("生成中… 已完成 {} 栋楼", moved.with(|m| m.len()))}
            </p>
            {move || {
                let r = result.get();
                if r.is_null() { return ().into_any(); }
                if let Some(e) = r["error"].as_str() { return view! { <p class="message">{e.to_string()}</p> }.into_any(); }
                view! {
                    <p>{format!("{}：{} ~ {}，{} 笔，合计 ¥{}，已存在跳过 {} 笔，用时 {} ms",
                        if r["committed"] == true { "已生成" } else { "预览" },
                        r["period_start"].as_str().unwrap_or_default(), r["period_end"].as_str().unwrap_or_default(),
                        r["bills"], r["amount"].as_str().unwrap_or_default(), r["skipped"], r["elapsed_ms"])}</p>
                }.into_any()
            }}
            <button on:click=move |_| close()>"关闭"</button>
        </div>
    }
}
