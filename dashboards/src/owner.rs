//! The owner portal (R6), phone-first: every house the owner has, its bills to pay (待支付) and
//! paid (已支付), newest first; bills picked and paid at once (合并支付) on the payment provider's
//! page. Back from the provider, the page asks for the order until the provider's word has paid
//! it — a bill turns paid only when the server says so, never on the browser's word.

use hutong_core::book::BillRow;
use leptos::prelude::*;
use leptos::task::spawn_local;
use serde::Deserialize;
use serde_json::json;

use crate::http::{error_message, get_json, post_json, request};

#[derive(Clone, Debug, PartialEq, Deserialize)]
struct OwnerHouse {
    community: String,
    house: String,
    address: String,
    pending: Vec<BillRow>,
    paid: Vec<BillRow>,
}

#[derive(Clone, Debug, Deserialize)]
struct Opened {
    order: String,
    community: String,
    checkout_url: String,
}

/// The order the owner went to pay, kept across the trip to the provider's page.
const PENDING_ORDER: &str = "hutong-pending-order";

fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok()?
}

/// Phone and one-time code; the code comes by SMS (in the demo, on `/demo/inbox`).
#[component]
pub fn OwnerSignIn(signed_in: Callback<()>) -> impl IntoView {
    let (phone, code, note) = (RwSignal::new(String::new()), RwSignal::new(String::new()), RwSignal::new(String::new()));
    let send_code = move |_| {
        let body = json!({"phone": phone.get_untracked().trim()}).to_string();
        spawn_local(async move {
            match request("POST", "/api/v1/auth/owner/code", Some(body)).await {
                Some((200, _)) => note.set("验证码已发送，5 分钟内有效".into()),
                Some((_, text)) => note.set(error_message(&text)),
                None => note.set(error_message("")),
            }
        });
    };
    let sign_in = move |ev: web_sys::SubmitEvent| {
        ev.prevent_default();
        let body = json!({"phone": phone.get_untracked().trim(), "code": code.get_untracked().trim()}).to_string();
        spawn_local(async move {
            match request("POST", "/api/v1/auth/owner/login", Some(body)).await {
                Some((200, _)) => signed_in.run(()),
                Some((_, text)) => note.set(error_message(&text)),
                None => note.set(error_message("")),
            }
        });
    };
    // Not registered yet (the community's collection code brought them here): ask the office.
    let community = web_sys::window()
        .and_then(|w| w.location().search().ok())
        .and_then(|q| q.trim_start_matches('?').split('&').find_map(|kv| kv.strip_prefix("community=").map(String::from)))
        .unwrap_or_default();
    let (address, name, asked) = (RwSignal::new(String::new()), RwSignal::new(String::new()), RwSignal::new(String::new()));
    let register = move |ev: web_sys::SubmitEvent| {
        ev.prevent_default();
        let body = json!({"community": community.clone(), "address": address.get_untracked().trim(), "name": name.get_untracked().trim(), "phone": phone.get_untracked().trim()}).to_string();
        spawn_local(async move {
            match request("POST", "/api/v1/owner/registrations", Some(body)).await {
                Some((200, text)) => asked.set(serde_json::from_str::<serde_json::Value>(&text).ok().and_then(|v| v["message"].as_str().map(String::from)).unwrap_or_default()),
                Some((_, text)) => asked.set(error_message(&text)),
                None => asked.set(error_message("")),
            }
        });
    };
    view! {
        <form class="signin owner" on:submit=sign_in data-test="owner-signin">
            <h2>"业主登录"</h2>
            <label>"手机号"<input name="owner-phone" inputmode="numeric" autocomplete="tel" prop:value=phone on:input=move |ev| phone.set(event_target_value(&ev)) /></label>
            <button type="button" data-test="owner-code" on:click=send_code>"获取验证码"</button>
            <label>"验证码"<input name="owner-code" inputmode="numeric" autocomplete="one-time-code" prop:value=code on:input=move |ev| code.set(event_target_value(&ev)) /></label>
            <button type="submit">"登录"</button>
            <p class="error" data-test="owner-note">{move || note.get()}</p>
        </form>
        <form class="signin owner" on:submit=register data-test="owner-register">
            <h2>"还未登记？"</h2>
            <p class="dim">"填写房屋与姓名（手机号同上），物业审核通过后即可登录。"</p>
            <label>"房屋地址"<input name="register-address" placeholder="如 荷花苑-1-1-101" prop:value=address on:input=move |ev| address.set(event_target_value(&ev)) /></label>
            <label>"姓名"<input name="register-name" prop:value=name on:input=move |ev| name.set(event_target_value(&ev)) /></label>
            <button type="submit">"申请登记"</button>
            <p class="error" data-test="register-note">{move || asked.get()}</p>
        </form>
    }
}

#[component]
pub fn OwnerScreen(name: String) -> impl IntoView {
    let houses = RwSignal::new(Vec::<OwnerHouse>::new());
    let shown = RwSignal::new(0usize);
    let paid_tab = RwSignal::new(false);
    let picked = RwSignal::new(Vec::<String>::new());
    let note = RwSignal::new(String::new());
    let load = move || spawn_local(async move {
        match get_json::<Vec<OwnerHouse>>("/api/v1/owner/houses").await {
            Ok(h) => houses.set(h),
            Err(e) => note.set(e),
        }
    });
    load();
    // Back from the provider: ask for the order every 2 s until it is paid (or a minute has passed).
    let waiting = RwSignal::new(storage().and_then(|s| s.get_item(PENDING_ORDER).ok().flatten()).and_then(|v| v.split_once('/').map(|(c, o)| (c.to_string(), o.to_string()))));
    let tries = RwSignal::new(0u32);
    let check = move || {
        let Some((community, order)) = waiting.get_untracked() else { return };
        tries.update(|n| *n += 1);
        if tries.get_untracked() > 30 {
            waiting.set(None);
            note.set("支付结果尚未确认，请稍后刷新".into());
            return;
        }
        note.set(format!("正在确认支付结果（订单 {order}）…"));
        spawn_local(async move {
            let Ok(o) = get_json::<serde_json::Value>(&format!("/api/v1/owner/payments/{order}?community={community}")).await else { return };
            if let Some(receipt) = o["state"]["payment"].as_str() {
                waiting.set(None);
                note.set(format!("支付成功，收据号 {receipt}"));
                if let Some(s) = storage() {
                    let _ = s.remove_item(PENDING_ORDER);
                }
                load();
            }
        });
    };
    if waiting.get_untracked().is_some() {
        check();
        set_interval(check, std::time::Duration::from_secs(2));
    }
    let total = move || {
        houses.with(|hs| {
            let Some(h) = hs.get(shown.get()) else { return rust_decimal::Decimal::ZERO };
            picked.with(|p| h.pending.iter().filter(|b| p.contains(&b.no)).map(|b| b.amount.amount() - b.paid.amount()).sum())
        })
    };
    let pay = move |_| {
        let Some(h) = houses.with_untracked(|hs| hs.get(shown.get_untracked()).cloned()) else { return };
        let body = json!({"house": h.house, "bills": picked.get_untracked()});
        spawn_local(async move {
            match post_json::<_, Opened>("/api/v1/owner/payments", &body).await {
                Ok(o) => {
                    if let Some(s) = storage() {
                        let _ = s.set_item(PENDING_ORDER, &format!("{}/{}", o.community, o.order));
                    }
                    if let Some(w) = web_sys::window() {
                        let _ = w.location().set_href(&o.checkout_url);
                    }
                }
                Err(e) => note.set(e),
            }
        });
    };
    let toggle = move |no: String| picked.update(|p| if let Some(i) = p.iter().position(|x| *x == no) { p.remove(i); } else { p.push(no) });
    let bills = move || {
        houses.with(|hs| {
            let Some(h) = hs.get(shown.get()) else { return view! { <p class="dim">"没有房屋"</p> }.into_any() };
            let list = if paid_tab.get() { h.paid.clone() } else { h.pending.clone() };
            if list.is_empty() {
                return view! { <p class="dim" data-test="owner-empty">{if paid_tab.get() { "暂无已支付账单" } else { "没有待支付账单" }}</p> }.into_any();
            }
            let open = !paid_tab.get();
            let community = h.community.clone();
            list.into_iter().map(|b| {
                // A paid bill links to its receipt (the last payment that took part of it).
                let receipt = (!open).then_some(b.receipt.clone()).flatten().map(|r| format!("/api/v1/owner/receipts/{r}?community={community}&format=html"));
                let no = b.no.clone();
                let checked = { let no = no.clone(); move || picked.with(|p| p.contains(&no)) };
                let owed = b.amount.amount() - b.paid.amount();
                view! {
                    <label class="owner-bill" data-test="owner-bill" data-bill=no.clone()>
                        {open.then(|| { let no = no.clone(); view! { <input type="checkbox" prop:checked=checked on:change=move |_| toggle(no.clone()) /> } })}
                        <span class="item">{hutong_core::fee::standard_label(&b.item)}</span>
                        <span class="period">{format!("{} 至 {}", b.period_start, b.period_end)}</span>
                        <b>{format!("¥{}", if open { owed.to_string() } else { b.amount.to_string() })}</b>
                        {receipt.map(|href| view! { <a class="receipt" data-test="owner-receipt" href=href target="_blank">"收据"</a> })}
                    </label>
                }
            }).collect_view().into_any()
        })
    };
    // Announcements for the owner's homes (公告), newest first.
    let notices = RwSignal::new(Vec::<serde_json::Value>::new());
    spawn_local(async move {
        if let Ok(n) = get_json::<Vec<serde_json::Value>>("/api/v1/owner/notices").await {
            notices.set(n);
        }
    });
    view! {
        <div class="owner-portal" data-test="owner-portal">
            <h2>{if name.is_empty() { "我的缴费".to_string() } else { format!("{name} · 我的缴费") }}</h2>
            <div class="tabs">
                {move || houses.get().into_iter().enumerate().map(|(i, h)| view! {
                    <button class=move || if shown.get() == i { "tab on" } else { "tab" } on:click=move |_| { picked.set(Vec::new()); shown.set(i) }>{h.address.clone()}</button>
                }).collect_view()}
            </div>
            <div class="tabs">
                <button class=move || if paid_tab.get() { "tab" } else { "tab on" } data-test="tab-pending" on:click=move |_| paid_tab.set(false)>"待支付"</button>
                <button class=move || if paid_tab.get() { "tab on" } else { "tab" } data-test="tab-paid" on:click=move |_| paid_tab.set(true)>"已支付"</button>
            </div>
            <div class="owner-bills">{bills}</div>
            <p class="message" data-test="owner-message">{move || note.get()}</p>
            {move || (!notices.with(Vec::is_empty)).then(|| view! {
                <h3>"消息"</h3>
                <ul class="owner-notices" data-test="owner-notices">
                    {notices.get().into_iter().take(8).map(|n| {
                        let reminder = n["kind"] == "reminder";
                        view! {
                            <li class=if reminder { "reminder" } else { "" } data-test=if reminder { "owner-reminder" } else { "owner-notice" }>
                                <b>{n["title"].as_str().unwrap_or_default().to_string()}</b>
                                <small>{n["at"].as_str().unwrap_or_default().get(..10).unwrap_or_default().to_string()}</small>
                                <p>{n["body"].as_str().unwrap_or_default().to_string()}</p>
                                {reminder.then(|| view! { <button data-test="reminder-pay" on:click=move |_| paid_tab.set(false)>"去缴费"</button> })}
                            </li>
                        }
                    }).collect_view()}
                </ul>
            })}
            {move || (!paid_tab.get()).then(|| view! {
                <button class="pay" data-test="owner-pay" disabled=move || picked.with(Vec::is_empty) on:click=pay>{move || format!("合并支付 ¥{}", total())}</button>
            })}
        </div>
    }
}
