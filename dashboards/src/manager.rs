//! The manager's screen (R3): collection rate now — today, this month, this year — receivable,
//! received and arrears, a 12-month trend, arrears by building, fee type and age, and the ten
//! largest arrears. Shaped like the wall: one socket (`/ws/money`), whose snapshot and per-building
//! money it folds into a pure `MoneyState`; the figures are `MoneyState::summary()`
//! (`CommunityMoney::sum`), so a payment moves them without asking the server again.

use hutong_core::book::CommunityMoney;
use hutong_core::fee::standard_label;
use hutong_core::live::MoneyState;
use leptos::prelude::*;
use rust_decimal::Decimal;

const AGES: [&str; 4] = ["30天内", "31–90天", "91–365天", "一年以上"];

#[component]
pub fn ManagerScreen(community: String) -> impl IntoView {
    let state = RwSignal::new(MoneyState::default());
    let money = Memo::new(move |_| state.with(|s| (!s.buildings.is_empty()).then(|| s.summary())));
    let live = RwSignal::new(false);
    crate::socket::connect_feed(format!("/ws/money?community={community}"), move |batch| state.update(|s| batch.into_iter().for_each(|m| s.fold(m))), live);

    let kpi = move |label: &'static str, test: &'static str, f: fn(&CommunityMoney) -> (String, String)| {
        view! {
            <div class="card" data-test=test>
                <span>{label}</span>
                <b>{move || money.with(|m| m.as_ref().map(|m| f(m).0).unwrap_or_default())}</b>
                <small>{move || money.with(|m| m.as_ref().map(|m| f(m).1).unwrap_or_default())}</small>
            </div>
        }
    };
    // Bar geometry in exact decimals (SVG takes them as text): 600 wide, 160 high at 100 %.
    let trend = move || {
        money.with(|m| {
            let Some(m) = m else { return ().into_any() };
            let w = Decimal::from(600) / Decimal::from(m.trend.len().max(1));
            let px = |d: Decimal| d.round_dp(1).to_string();
            let bars = m.trend.iter().enumerate().map(|(i, (month, rate))| {
                let pct = rate.percent;
                let h = pct * Decimal::new(16, 1);
                let x = Decimal::from(i) * w + Decimal::from(6);
                let inner = w - Decimal::from(12);
                let mid = x + inner / Decimal::from(2);
                view! {
                    <g>
                        <rect x=px(x) y=px(Decimal::from(180) - h) width=px(inner) height=px(h) class="bar" />
                        <text x=px(mid) y="196" class="axis">{month.get(5..).unwrap_or_default().to_string()}</text>
                        <text x=px(mid) y=px(Decimal::from(174) - h) class="value">{format!("{}%", pct.round())}</text>
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
                            <tr><td>{standard_label(&k)}</td><td>{v.receivable.to_string()}</td><td>{v.received.to_string()}</td></tr>
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
