//! The manager's screen (R3): collection rate now — today, this month, this year — receivable,
//! received and arrears, a 12-month trend, arrears by building, fee type and age, and the ten
//! largest arrears. It refetches the summary whenever a building's money changes.

use hutong_core::book::CommunityMoney;
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::http::{error_message, request};

fn item_label(item: &str) -> &str {
    match item {
        "property" => "物业费",
        "elevator" => "电梯费",
        "garbage" => "垃圾清运费",
        "water" => "水费",
        "electricity" => "电费",
        "parking" => "车位费",
        "other" => "其它",
        other => other,
    }
}

const AGES: [&str; 4] = ["30天内", "31–90天", "91–365天", "一年以上"];

#[component]
pub fn ManagerScreen(community: String) -> impl IntoView {
    let money = RwSignal::new(None::<CommunityMoney>);
    let message = RwSignal::new(String::new());
    let path = format!("/api/v1/communities/{community}/money");
    let load = move || {
        let path = path.clone();
        spawn_local(async move {
            match request("GET", &path, None).await {
                Some((200, body)) => match serde_json::from_str(&body) {
                    Ok(m) => money.set(Some(m)),
                    Err(e) => message.set(e.to_string()),
                },
                Some((_, body)) => message.set(error_message(&body)),
                None => message.set(error_message("")),
            }
        })
    };
    load();
    let live = RwSignal::new(false);
    let reload = load.clone();
    crate::socket::connect_feed(format!("/ws/money?community={community}"), move |_| reload(), live);

    let kpi = move |label: &'static str, test: &'static str, f: fn(&CommunityMoney) -> (String, String)| {
        view! {
            <div class="card" data-test=test>
                <span>{label}</span>
                <b>{move || money.with(|m| m.as_ref().map(|m| f(m).0).unwrap_or_default())}</b>
                <small>{move || money.with(|m| m.as_ref().map(|m| f(m).1).unwrap_or_default())}</small>
            </div>
        }
    };
    let trend = move || {
        money.with(|m| {
            let Some(m) = m else { return ().into_any() };
            let n = m.trend.len().max(1) as f64;
            let w = 600.0 / n;
            let bars = m.trend.iter().enumerate().map(|(i, (month, rate))| {
                let pct: f64 = rate.percent.to_string().parse().unwrap_or(0.0);
                let h = pct * 1.6;
                let x = i as f64 * w + 6.0;
                view! {
                    <g>
                        <rect x=x y=180.0 - h width=w - 12.0 height=h class="bar" />
                        <text x=x + (w - 12.0) / 2.0 y=196.0 class="axis">{month[5..].to_string()}</text>
                        <text x=x + (w - 12.0) / 2.0 y=174.0 - h class="value">{format!("{:.0}%", pct)}</text>
                    </g>
                }
            }).collect_view();
            view! { <svg viewBox="0 0 600 200" class="trend" data-test="trend">{bars}</svg> }.into_any()
        })
    };
    view! {
        <div class="admin manager" data-test="manager">
            <div class="desk-head">
                <h2>"收缴情况"</h2>
                <span class=move || if live.get() { "link up" } else { "link down" }>{move || if live.get() { "实时" } else { "连接中" }}</span>
            </div>
            <div class="cards">
                {kpi("今日收缴率", "rate-today", |m| (format!("{}%", m.rate_today.percent), format!("今日实收 ¥{} · {}笔", m.rate_today.received, m.payments_today)))}
                {kpi("本月收缴率", "rate-month", |m| (format!("{}%", m.rate_month.percent), format!("实收 ¥{} / 应收 ¥{}", m.rate_month.received, m.rate_month.receivable)))}
                {kpi("本年收缴率", "rate-year", |m| (format!("{}%", m.rate_year.percent), format!("实收 ¥{} / 应收 ¥{}", m.rate_year.received, m.rate_year.receivable)))}
                {kpi("欠费", "arrears", |m| (format!("¥{}", m.arrears), format!("{}户欠费 · 应收 ¥{} · 实收 ¥{}", m.houses_in_arrears, m.receivable, m.received)))}
            </div>
            <p class="message">{move || message.get()}</p>
            <h2>"近12个月收缴率"</h2>
            {trend}
            <div class="columns">
                <section>
                    <h2>"按楼栋"</h2>
                    <table data-test="by-building"><thead><tr><th>"楼栋"</th><th>"应收"</th><th>"实收"</th><th>"欠费"</th></tr></thead><tbody>
                        {move || money.with(|m| m.iter().flat_map(|m| m.by_building.clone()).map(|(b, v)| view! {
                            <tr><td>{b}</td><td>{v.receivable.to_string()}</td><td>{v.received.to_string()}</td><td>{(v.receivable - v.received).to_string()}</td></tr>
                        }).collect_view())}
                    </tbody></table>
                </section>
                <section>
                    <h2>"按收费项目"</h2>
                    <table><thead><tr><th>"项目"</th><th>"应收"</th><th>"实收"</th></tr></thead><tbody>
                        {move || money.with(|m| m.iter().flat_map(|m| m.by_item.clone()).map(|(k, v)| view! {
                            <tr><td>{item_label(&k).to_string()}</td><td>{v.receivable.to_string()}</td><td>{v.received.to_string()}</td></tr>
                        }).collect_view())}
                    </tbody></table>
                    <h2>"欠费账龄"</h2>
                    <table><tbody>
                        {move || money.with(|m| m.iter().flat_map(|m| m.arrears_by_age.iter().enumerate().map(|(i, a)| (AGES[i], *a)).collect::<Vec<_>>()).map(|(label, a)| view! {
                            <tr><td>{label}</td><td>{a.to_string()}</td></tr>
                        }).collect_view())}
                    </tbody></table>
                </section>
                <section>
                    <h2>"欠费前十"</h2>
                    <table data-test="top-arrears"><tbody>
                        {move || money.with(|m| m.iter().flat_map(|m| m.top_arrears.clone()).map(|h| view! {
                            <tr><td>{h.address}</td><td>{format!("¥{}", h.owed)}</td></tr>
                        }).collect_view())}
                    </tbody></table>
                </section>
            </div>
        </div>
    }
}
