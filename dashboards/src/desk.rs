//! The billing desk (R4, F8, F9): Haina's 缴费记录 page — search by bill number, phone, name or
//! address; advanced filters; the list newest first with its 海纳单号/物业系统单号, 导入时间,
//! 住户/电话, 住址, 类型/金额 and 状态; per-row actions; batch actions shown only while every
//! selected bill is pending; import and export dialogs; details with the change history; mark
//! paid with channel and payer; receipts to print. The list refreshes itself when money moves.

use std::collections::BTreeSet;

use hutong_core::api::{BatchAction, BatchBody, BatchReply, BillDetail, BillPage, BillReply, BillView, EditBody, ImportReport, PayBody, PayReply, RemindBody, RemindReply, RunBody, RunReply};
use hutong_core::bill::BillState;
use hutong_core::bill_run::{Cycle, Timing};
use hutong_core::book::PayChannel;
use hutong_core::fee::{Tariff, standard_items};
use hutong_core::live::ServerMessage;
use hutong_core::reminder::Channel;
use leptos::prelude::*;
use leptos::task::spawn_local;
use wasm_bindgen::JsCast;

use crate::desk_feed::DeskFeed;
use crate::http::{error_message, get_json, post_json, upload};

/// A value as it travels (`pending`, `wechat_pay` …): the contract's own spelling.
fn wire<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}

fn from_wire<T: serde::de::DeserializeOwned>(s: &str) -> Option<T> {
    serde_json::from_value(serde_json::Value::String(s.to_string())).ok()
}

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
    Detail(Box<BillDetail>),
    Pay(Vec<String>, String),
    Edit(Box<BillView>),
    Import,
    Run,
    Reconcile,
    Registrations,
}

#[component]
pub fn DeskScreen(community: String, may_write_billing: bool) -> impl IntoView {
    // Stored, so every closure that needs it stays `Copy`.
    let base = StoredValue::new(format!("/api/v1/communities/{community}"));
    let rows = RwSignal::new(Vec::<BillView>::new());
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
    // Loads can overlap (a search while a live refresh is in flight): only the newest one's
    // answer is shown, so a slow earlier answer never replaces what the clerk asked for last.
    let generation = StoredValue::new(0u64);
    let load = move || {
        let path = format!("{}/bills?page={}&page_size=20&{}", base.get_value(), page.get_untracked(), filters());
        generation.update_value(|g| *g += 1);
        let mine = generation.get_value();
        spawn_local(async move {
            let answer = get_json::<BillPage>(&path).await;
            if generation.get_value() != mine {
                return;
            }
            match answer {
                Ok(p) => {
                    total.set(p.total as u64);
                    selected.update(|s| s.retain(|no| p.rows.iter().any(|r| r.row.no == *no)));
                    rows.set(p.rows);
                }
                Err(e) => message.set(e),
            }
        });
    };
    load();
    // Money moved somewhere in the community: refresh what is on screen.
    let live = RwSignal::new(false);
    // Buildings whose money changed since a bill run started: the run's progress on screen.
    let feed = RwSignal::new(DeskFeed::default());
    crate::socket::connect_feed(
        format!("/ws/money?community={community}"),
        move |batch: Vec<ServerMessage>| {
            let reload = feed.try_update(|f| batch.into_iter().fold(false, |any, m| f.fold(m) || any)).unwrap_or(false);
            if reload {
                load();
            }
        },
        live,
    );

    let all_pending = move || {
        let sel = selected.get();
        !sel.is_empty() && rows.with(|r| sel.iter().all(|no| r.iter().any(|x| x.row.no == *no && x.row.state == BillState::Pending)))
    };
    // After an action: what went through, what was refused and why; the page again.
    let settle = move |refused: Vec<String>, done: &'static str| {
        message.set(if refused.is_empty() { done.to_string() } else { format!("催缴失败：{}", refused.join("；")) });
        selected.set(BTreeSet::new());
        dialog.set(Dialog::None);
        load();
    };
    let remind_channel = RwSignal::new(Channel::InApp);
    let remind_bills = move |bills: Vec<String>| {
        let path = format!("{}/reminders", base.get_value());
        let body = RemindBody { bills, houses: Vec::new(), batch: None, channel: Some(remind_channel.get_untracked()) };
        spawn_local(async move {
            match post_json::<_, RemindReply>(&path, &body).await {
                Ok(r) => settle(r.results.into_iter().filter(|l| !l.ok).filter_map(|l| l.message).collect(), "已发送催缴通知"),
                Err(e) => message.set(e),
            }
        });
    };
    let batch = move |action: BatchAction| {
        let bills: Vec<String> = selected.get_untracked().into_iter().collect();
        if matches!(action, BatchAction::MarkPaid) {
            dialog.set(Dialog::Pay(bills, String::new()));
            return;
        }
        let done = if matches!(action, BatchAction::Remind) { "已发送催缴通知" } else { "已删除" };
        let path = format!("{}/bills/batch", base.get_value());
        let body = BatchBody { action, bills, channel: Some(remind_channel.get_untracked()), pay_channel: None, payer: None, key: None };
        spawn_local(async move {
            match post_json::<_, BatchReply>(&path, &body).await {
                Ok(r) => settle(r.results.into_iter().filter(|l| !l.ok).filter_map(|l| l.message).collect(), done),
                Err(e) => message.set(e),
            }
        });
    };
    let delete_bill = move |no: String| {
        let path = format!("{}/bills/{no}/delete", base.get_value());
        spawn_local(async move {
            match post_json::<_, BillReply>(&path, &()).await {
                Ok(_) => settle(Vec::new(), "已删除"),
                Err(e) => message.set(e),
            }
        });
    };
    let open_detail = move |no: String| {
        let path = format!("{}/bills/{no}", base.get_value());
        spawn_local(async move {
            match get_json::<BillDetail>(&path).await {
                Ok(d) => dialog.set(Dialog::Detail(Box::new(d))),
                Err(e) => message.set(e),
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
            .map(|v| {
                let r = &v.row;
                let no = r.no.clone();
                let pending = r.state == BillState::Pending;
                let (n1, n2, n3, n4, n5, n6) = (no.clone(), no.clone(), no.clone(), no.clone(), no.clone(), no.clone());
                let row = v.clone();
                let house = r.address.clone();
                let checked = move || selected.with(|s| s.contains(&n1));
                let state_class = format!("state {}", wire(&r.state));
                view! {
                    <tr data-test="bill-row">
                        <td><input type="checkbox" data-test="bill-check" prop:checked=checked on:change=move |ev| {
                            let on = event_target_checked(&ev);
                            selected.update(|s| { if on { s.insert(n2.clone()); } else { s.remove(&n2); } });
                        } /></td>
                        <td class="mono">{no.clone()}<br /><span class="dim">{r.external_no.clone().unwrap_or_else(|| "--".into())}</span></td>
                        <td>{r.issued_at.format("%Y-%m-%d %H:%M").to_string()}</td>
                        <td>{r.resident.clone().unwrap_or_else(|| "--".into())}{if r.vip { " VIP" } else { "" }}<br /><span class="dim">{r.phone.clone().unwrap_or_default()}</span></td>
                        <td>{r.address_path.clone()}</td>
                        <td>{v.item_name.clone()}<br /><b>{format!("¥{}", r.amount)}</b></td>
                        <td><span class=state_class>{v.state_label.clone()}</span></td>
                        <td class="actions">
                            <a on:click=move |_| open_detail(n3.clone())>"详情"</a>
                            {pending.then(|| view! {
                                <a on:click=move |_| remind_bills(vec![n4.clone()])>"催缴"</a>
                                <a data-test="mark-paid" on:click=move |_| dialog.set(Dialog::Pay(vec![n5.clone()], house.clone()))>"标记已支付"</a>
                            })}
                            {(pending && may_write_billing).then(|| view! {
                                <a on:click=move |_| dialog.set(Dialog::Edit(Box::new(row.clone())))>"编辑"</a>
                                <a on:click=move |_| delete_bill(n6.clone())>"删除"</a>
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
                <button data-test="open-reconcile" on:click=move |_| dialog.set(Dialog::Reconcile)>"一键对账"</button>
                {may_write_billing.then(|| view! { <button data-test="open-registrations" on:click=move |_| dialog.set(Dialog::Registrations)>"业主登记审核"</button> })}
                <a class="button" href=move || export_href("xlsx") data-test="export-xlsx">"导出缴费单 (xlsx)"</a>
                <a class="button" href=move || export_csv("csv")>"导出 csv"</a>
                <span class=move || if live.get() { "link up" } else { "link down" }>{move || if live.get() { "实时" } else { "连接中" }}</span>
            </div>
            <form class="inline" on:submit=search>
                <input class="wide" data-test="search" placeholder="输入订单号/手机号/姓名/房屋地址搜索" prop:value=text on:input=move |ev| text.set(event_target_value(&ev)) />
                <select data-test="filter-state" on:change=move |ev| state.set(event_target_value(&ev))>
                    <option value="">"全部状态"</option>
                    {BillState::ALL.iter().map(|s| view! { <option value=wire(s)>{s.label_zh()}</option> }).collect_view()}
                </select>
                <select on:change=move |ev| item.set(event_target_value(&ev))>
                    <option value="">"全部类型"</option>
                    {standard_items().into_iter().map(|i| view! { <option value=i.id>{i.name}</option> }).collect_view()}
                </select>
                <input type="date" title="费用开始" prop:value=period_from on:input=move |ev| period_from.set(event_target_value(&ev)) />
                <input type="date" title="费用结束" prop:value=period_to on:input=move |ev| period_to.set(event_target_value(&ev)) />
                <button type="submit" data-test="search-button">"搜索"</button>
            </form>
            <div class="batch" data-test="batch-bar" style:display=move || if all_pending() { "flex" } else { "none" }>
                <span>{move || format!("已选 {} 笔待支付账单", selected.with(|s| s.len()))}</span>
                <select on:change=move |ev| { if let Some(c) = from_wire(&event_target_value(&ev)) { remind_channel.set(c); } }>
                    {Channel::ALL.iter().filter(|c| **c != Channel::Webhook).map(|c| view! { <option value=wire(c)>{c.label_zh()}</option> }).collect_view()}
                </select>
                <button data-test="batch-remind" on:click=move |_| batch(BatchAction::Remind)>"催缴"</button>
                <button data-test="batch-paid" on:click=move |_| batch(BatchAction::MarkPaid)>"标记已支付"</button>
                {may_write_billing.then(|| view! { <button class="danger" on:click=move |_| batch(BatchAction::Delete)>"删除"</button> })}
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
                Dialog::Detail(d) => view! { <DetailDialog detail=*d base=base.get_value() close=move || dialog.set(Dialog::None) /> }.into_any(),
                Dialog::Pay(bills, house) => view! { <PayDialog bills house base=base.get_value() rows done=move |m: String| { message.set(m); selected.set(BTreeSet::new()); dialog.set(Dialog::None); load(); } /> }.into_any(),
                Dialog::Edit(row) => view! { <EditDialog row=*row base=base.get_value() done=move |m: String| { message.set(m); dialog.set(Dialog::None); load(); } /> }.into_any(),
                Dialog::Import => view! { <ImportDialog base=base.get_value() close=move || { dialog.set(Dialog::None); load(); } /> }.into_any(),
                Dialog::Run => view! { <RunDialog base=base.get_value() feed close=move || { dialog.set(Dialog::None); load(); } /> }.into_any(),
                Dialog::Reconcile => view! { <ReconcileDialog base=base.get_value() close=move || dialog.set(Dialog::None) /> }.into_any(),
                Dialog::Registrations => view! { <RegistrationsDialog base=base.get_value() close=move || dialog.set(Dialog::None) /> }.into_any(),
            }}
        </div>
    }
}

#[component]
fn DetailDialog(detail: BillDetail, base: String, close: impl Fn() + Clone + Send + Sync + 'static) -> impl IntoView {
    let b = &detail.bill.row;
    let or_dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "--".into());
    view! {
        <div class="dialog" data-test="detail">
            <h3>{format!("账单 {}", b.no)}</h3>
            <table>
                <tr><th>"住址"</th><td>{b.address_path.clone()}</td><th>"住户"</th><td>{format!("{} {}", or_dash(&b.resident), or_dash(&b.phone))}</td></tr>
                <tr><th>"类型"</th><td>{detail.bill.item_name.clone()}</td><th>"金额 / 已付"</th><td>{format!("¥{} / ¥{}", b.amount, b.paid)}</td></tr>
                <tr><th>"费用时段"</th><td>{format!("{} ~ {}", b.period_start, b.period_end)}</td><th>"状态"</th><td>{detail.bill.state_label.clone()}</td></tr>
                <tr><th>"物业系统单号"</th><td>{or_dash(&b.external_no)}</td><th>"备注"</th><td>{if b.remark.is_empty() { "--".to_string() } else { b.remark.clone() }}</td></tr>
            </table>
            <h3>"变更记录"</h3>
            <ul class="history">
                {detail.history.iter().map(|h| view! { <li>{format!("{} {} {}", h.at.format("%Y-%m-%d %H:%M:%S"), h.by, h.event.label_zh())}</li> }).collect_view()}
            </ul>
            <h3>"收款"</h3>
            <ul>
                {detail.payments.iter().map(|p| {
                    let no = p.no.clone();
                    view! { <li>{format!("{} ¥{} {} ", no, p.amount, p.channel.label_zh())}
                        <a target="_blank" href=format!("{base}/payments/{no}/receipt?format=html")>"打印收据"</a>" "
                        <a target="_blank" data-test="receipt-pdf" href=format!("{base}/payments/{no}/receipt")>"PDF"</a></li> }
                }).collect_view()}
            </ul>
            <button on:click=move |_| close()>"关闭"</button>
        </div>
    }
}

#[component]
fn PayDialog(bills: Vec<String>, house: String, base: String, rows: RwSignal<Vec<BillView>>, done: impl Fn(String) + Clone + Send + Sync + 'static) -> impl IntoView {
    let channel = RwSignal::new(PayChannel::Cash);
    let payer = RwSignal::new(String::new());
    let reference = RwSignal::new(String::new());
    let error = RwSignal::new(String::new());
    let request_key = key();
    let amount: String = rows.with_untracked(|r| r.iter().filter(|x| bills.contains(&x.row.no)).map(|x| x.row.amount.to_string()).collect::<Vec<_>>().join(" + "));
    let count = bills.len();
    let submit = move |ev: web_sys::SubmitEvent| {
        ev.prevent_default();
        let (bills, house, base, done, key) = (bills.clone(), house.clone(), base.clone(), done.clone(), request_key.clone());
        let (channel, payer) = (channel.get_untracked(), payer.get_untracked());
        let reference = Some(reference.get_untracked().trim().to_string()).filter(|r| !r.is_empty());
        spawn_local(async move {
            let paid = if house.is_empty() {
                let body = BatchBody { action: BatchAction::MarkPaid, bills, channel: None, pay_channel: Some(channel), payer: Some(payer), key: Some(key) };
                post_json::<_, BatchReply>(&format!("{base}/bills/batch"), &body).await.map(|_| ())
            } else {
                let body = PayBody { key: Some(key), house, bills, amount: None, channel, payer, reference };
                post_json::<_, PayReply>(&format!("{base}/payments"), &body).await.map(|_| ())
            };
            match paid {
                Ok(()) => done("已标记为已支付".into()),
                Err(e) => error.set(e),
            }
        });
    };
    view! {
        <form class="dialog" on:submit=submit data-test="pay-dialog">
            <h3>{format!("标记已支付（{count} 笔）")}</h3>
            <p>{format!("金额：¥{amount}")}</p>
            <label>"支付渠道"<select data-test="pay-channel" on:change=move |ev| { if let Some(c) = from_wire(&event_target_value(&ev)) { channel.set(c); } }>
                {PayChannel::ALL.iter().map(|c| view! { <option value=wire(c)>{c.label_zh()}</option> }).collect_view()}
            </select></label>
            <label>"支付人姓名"<input data-test="payer" prop:value=payer on:input=move |ev| payer.set(event_target_value(&ev)) /></label>
            // WeChat Pay and Alipay: the provider's transaction number proves the money arrived.
            <Show when=move || channel.get().needs_reference()>
                <label>"交易单号"<input data-test="pay-reference" maxlength="64" prop:value=reference on:input=move |ev| reference.set(event_target_value(&ev)) /></label>
            </Show>
            <button type="submit" data-test="pay-confirm">"确认收款"</button>
            <p class="message">{move || error.get()}</p>
        </form>
    }
}

#[component]
fn EditDialog(row: BillView, base: String, done: impl Fn(String) + Clone + Send + Sync + 'static) -> impl IntoView {
    let r = row.row;
    let no = r.no.clone();
    let (item, start, end, amount, remark) =
        (RwSignal::new(r.item.clone()), RwSignal::new(r.period_start.to_string()), RwSignal::new(r.period_end.to_string()), RwSignal::new(r.amount.to_string()), RwSignal::new(r.remark.clone()));
    let error = RwSignal::new(String::new());
    let title = format!("编辑账单 {no}");
    let submit = move |ev: web_sys::SubmitEvent| {
        ev.prevent_default();
        let path = format!("{base}/bills/{no}/edit");
        let done = done.clone();
        // The form's text, checked here as the server would: dates and an amount in yuan.
        let body = (|| {
            let day = |s: String| s.parse::<chrono::NaiveDate>().map_err(|_| format!("日期“{s}”无法识别 / unreadable date"));
            let amount = amount.get_untracked().trim().parse().map_err(|_| "金额无效 / invalid amount".to_string())?;
            Ok::<_, String>(EditBody { item: item.get_untracked(), period_start: day(start.get_untracked())?, period_end: day(end.get_untracked())?, amount, remark: remark.get_untracked() })
        })();
        spawn_local(async move {
            let saved = match body {
                Ok(body) => post_json::<_, BillReply>(&path, &body).await,
                Err(e) => Err(e),
            };
            match saved {
                Ok(_) => done("已保存".into()),
                Err(e) => error.set(e),
            }
        });
    };
    view! {
        <form class="dialog" on:submit=submit data-test="edit-dialog">
            <h3>{title}</h3>
            <label>"费用类型"<select on:change=move |ev| item.set(event_target_value(&ev))>
                {standard_items().into_iter().map(|i| { let selected = i.id == item.get_untracked(); view! { <option value=i.id selected=selected>{i.name}</option> } }).collect_view()}
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
    let report = RwSignal::new(None::<ImportReport>);
    let note = RwSignal::new(String::new());
    let busy = RwSignal::new(false);
    let input: NodeRef<leptos::html::Input> = NodeRef::new();
    let stored = StoredValue::new(base.clone());
    let send = move |_| {
        let Some(file) = input.get().and_then(|i| i.files()).and_then(|f| f.get(0)) else {
            note.set("请选择文件 / choose a file".into());
            return;
        };
        let path = format!("{}/bills/import?good_only={}", stored.get_value(), good_only.get_untracked());
        busy.set(true);
        spawn_local(async move {
            let reply = upload(&path, file.unchecked_ref()).await;
            busy.set(false);
            // 200 and 422 both carry the report; anything else is a refusal with its sentence.
            match reply {
                Some((200 | 422, body)) => match serde_json::from_str::<ImportReport>(&body) {
                    Ok(r) => {
                        note.set(r.message.clone());
                        report.set(Some(r));
                    }
                    Err(e) => note.set(e.to_string()),
                },
                Some((_, body)) => {
                    report.set(None);
                    note.set(error_message(&body));
                }
                None => note.set(error_message("")),
            }
        });
    };
    let close = StoredValue::new(close);
    let remind_now = move |_| {
        let batch = report.with_untracked(|r| r.as_ref().and_then(|r| r.batch.clone()));
        let path = format!("{}/reminders", stored.get_value());
        let close = close.get_value();
        spawn_local(async move {
            let body = RemindBody { bills: Vec::new(), houses: Vec::new(), batch, channel: None };
            if let Err(e) = post_json::<_, RemindReply>(&path, &body).await {
                note.set(e);
                return;
            }
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
                <p class="message">{move || note.get()}</p>
                {move || report.get().map(|r| {
                    let imported = r.batch.is_some();
                    view! {
                        {(!r.errors.is_empty()).then(|| view! {
                            <table class="errors"><thead><tr><th>"行"</th><th>"列"</th><th>"原因"</th></tr></thead><tbody>
                                {r.errors.iter().map(|e| view! { <tr><td>{e.row}</td><td>{e.column.clone()}</td><td>{e.reason.clone()}</td></tr> }).collect_view()}
                            </tbody></table>
                        })}
                        {imported.then(|| view! { <div class="inline"><button data-test="remind-now" on:click=remind_now>"确定（立即催缴）"</button><button on:click=move |_| close.get_value()()>"稍后催缴"</button></div> })}
                    }
                })}
            </div>
            <button on:click=move |_| close.get_value()()>"关闭"</button>
        </div>
    }
}

#[component]
fn RunDialog(base: String, feed: RwSignal<DeskFeed>, close: impl Fn() + Clone + Send + Sync + 'static) -> impl IntoView {
    let running = RwSignal::new(false);
    let cycle = RwSignal::new(Cycle::Monthly);
    let timing = RwSignal::new(Timing::InAdvance);
    let result = RwSignal::new(None::<Result<RunReply, String>>);
    // The items the community prices: a run bills those (read from the tariff, not assumed).
    let priced = RwSignal::new(Vec::<(String, String)>::new());
    let base = StoredValue::new(base);
    spawn_local(async move {
        if let Ok(t) = get_json::<Tariff>(&format!("{}/tariff", base.get_value())).await {
            let mut items: Vec<(String, String)> = Vec::new();
            for rule in &t.rules {
                if !items.iter().any(|(id, _)| *id == rule.item) {
                    let name = t.item(&rule.item).map_or_else(|| rule.item.clone(), |i| i.name.clone());
                    items.push((rule.item.clone(), name));
                }
            }
            priced.set(items);
        }
    });
    let go = move |commit: bool| {
        let path = format!("{}/bill-runs", base.get_value());
        let body = RunBody { cycle: cycle.get_untracked(), timing: timing.get_untracked(), on: None, items: priced.with_untracked(|p| p.iter().map(|(id, _)| id.clone()).collect()), commit };
        if commit {
            feed.update(DeskFeed::start_run);
            running.set(true);
        }
        spawn_local(async move {
            let reply = post_json::<_, RunReply>(&path, &body).await;
            running.set(false);
            result.set(Some(reply));
        });
    };
    view! {
        <div class="dialog" data-test="run-dialog">
            <h3>{move || format!("生成账单（{}）", priced.with(|p| p.iter().map(|(_, n)| n.as_str()).collect::<Vec<_>>().join("、")))}</h3>
            <div class="inline">
                <select on:change=move |ev| { if let Some(c) = from_wire(&event_target_value(&ev)) { cycle.set(c); } }><option value="monthly">"按月"</option><option value="quarterly">"按季"</option><option value="yearly">"按年"</option></select>
                <select on:change=move |ev| { if let Some(t) = from_wire(&event_target_value(&ev)) { timing.set(t); } }><option value="in_advance">"预收（本期）"</option><option value="in_arrears">"后收（上期）"</option></select>
                <button on:click=move |_| go(false)>"预览"</button>
                <button on:click=move |_| go(true)>"确认生成"</button>
            </div>
            <p data-test="run-progress" style:display=move || if running.get() { "block" } else { "none" }>
                {move || format!("生成中… 已完成 {} 栋楼", feed.with(|f| f.moved.len()))}
            </p>
            {move || match result.get() {
                None => ().into_any(),
                Some(Err(e)) => view! { <p class="message">{e}</p> }.into_any(),
                Some(Ok(r)) => view! {
                    <p>{format!("{}：{} ~ {}，{} 笔，合计 ¥{}，已存在跳过 {} 笔，用时 {} ms",
                        if r.committed { "已生成" } else { "预览" }, r.period_start, r.period_end, r.bills, r.amount, r.skipped, r.elapsed_ms)}</p>
                }.into_any(),
            }}
            <button on:click=move |_| close()>"关闭"</button>
        </div>
    }
}

/// 一键对账 (P10): the payment provider's statement for a range of days against what was
/// recorded — the seed's three totals, then every line that did not simply arrive.
#[component]
fn ReconcileDialog(base: String, close: impl Fn() + Clone + Send + Sync + 'static) -> impl IntoView {
    // The browser's day (in Beijing time, where the desk's communities are by default).
    let today = (crate::wall::browser_now() + chrono::TimeDelta::hours(8)).date_naive();
    let (from, to) = (RwSignal::new(today.pred_opt().unwrap_or(today).to_string()), RwSignal::new(today.to_string()));
    let result = RwSignal::new(None::<Result<hutong_core::pay::Reconciliation, String>>);
    let base = StoredValue::new(base);
    let go = move || {
        let path = format!("{}/reconciliation?from={}&to={}", base.get_value(), from.get_untracked(), to.get_untracked());
        spawn_local(async move { result.set(Some(get_json::<hutong_core::pay::Reconciliation>(&path).await)) });
    };
    go();
    view! {
        <div class="dialog" data-test="reconcile-dialog">
            <h3>"一键对账"</h3>
            <div class="inline">
                <input type="date" prop:value=from on:input=move |ev| from.set(event_target_value(&ev)) />
                <span>"至"</span>
                <input type="date" prop:value=to on:input=move |ev| to.set(event_target_value(&ev)) />
                <button on:click=move |_| go()>"对账"</button>
            </div>
            {move || match result.get() {
                None => view! { <p>"对账中…"</p> }.into_any(),
                Some(Err(e)) => view! { <p class="message">{e}</p> }.into_any(),
                Some(Ok(r)) => view! {
                    <div class="cards" data-test="reconcile-totals">
                        <div class="card"><span>"合计到帐金额"</span><b>{format!("¥{}", r.arrived_amount)}</b></div>
                        <div class="card"><span>"到帐订单数"</span><b>{r.arrived}</b></div>
                        <div class="card"><span>"未到帐订单数"</span><b>{r.not_arrived}</b></div>
                        <div class="card"><span>"异常订单数"</span><b>{r.anomalies}</b></div>
                    </div>
                    <table class="errors"><tbody>
                        {r.lines.into_iter().filter(|l| l.matched != hutong_core::pay::Matched::Arrived).map(|l| view! {
                            <tr><td>{l.order}</td><td>{l.txn.unwrap_or_default()}</td><td>{format!("¥{}", l.amount)}</td><td>{l.reason}</td></tr>
                        }).collect_view()}
                    </tbody></table>
                }.into_any(),
            }}
            <button on:click=move |_| close()>"关闭"</button>
        </div>
    }
}

/// Owners not known yet asking to be registered (R6): approved, they are the house's resident and
/// may sign in to the portal; or turned down with a note.
#[component]
fn RegistrationsDialog(base: String, close: impl Fn() + Clone + Send + Sync + 'static) -> impl IntoView {
    let list = RwSignal::new(Vec::<serde_json::Value>::new());
    let message = RwSignal::new(String::new());
    let base = StoredValue::new(base);
    let load = move || spawn_local(async move {
        match get_json::<Vec<serde_json::Value>>(&format!("{}/owner-registrations", base.get_value())).await {
            Ok(l) => list.set(l),
            Err(e) => message.set(e),
        }
    });
    load();
    let decide = move |no: u64, approve: bool| {
        let path = format!("{}/owner-registrations/{no}/decide", base.get_value());
        let body = serde_json::json!({"approve": approve, "note": if approve { "" } else { "信息不符" }});
        spawn_local(async move {
            match post_json::<_, serde_json::Value>(&path, &body).await {
                Ok(v) => message.set(v["message"].as_str().unwrap_or_default().to_string()),
                Err(e) => message.set(e),
            }
            load();
        });
    };
    view! {
        <div class="dialog" data-test="registrations-dialog">
            <h3>"业主登记审核"</h3>
            <table><tbody>
                {move || list.get().into_iter().map(|r| {
                    let no = r["no"].as_u64().unwrap_or_default();
                    let waiting = r["state"] == "waiting";
                    let state = match r["state"].as_str() { Some("waiting") => "待审核", Some("approved") => "已通过", _ => "已驳回" };
                    view! {
                        <tr data-test="registration">
                            <td>{r["address"].as_str().unwrap_or_default().to_string()}</td><td>{r["name"].as_str().unwrap_or_default().to_string()}</td>
                            <td>{r["phone"].as_str().unwrap_or_default().to_string()}</td><td>{r["relation"].as_str().unwrap_or_default().to_string()}</td><td>{state}</td>
                            <td>{waiting.then(|| view! { <button data-test="approve" on:click=move |_| decide(no, true)>"通过"</button><button on:click=move |_| decide(no, false)>"驳回"</button> })}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody></table>
            <p class="message" data-test="registrations-message">{move || message.get()}</p>
            <button on:click=move |_| close()>"关闭"</button>
        </div>
    }
}
