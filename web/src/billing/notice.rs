//! The printed payment notice (缴费通知单, seed 003: "可打印缴费通知单通知业主备款"): one A4 page per
//! home that owes, its open bills and total, and the community's collection code (P8) so the
//! owner scans it and pays on their phone.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Html;
use axum::Extension;
use hutong_core::Money;
use hutong_core::book::{BillQuery, BillRow};
use serde::Deserialize;

use super::receipt::esc;
use super::{building_of_house, community_of, in_scope, internal, item_name, local_now, resolve_house};
use crate::app::App;
use crate::audit::audit_entry;
use crate::auth::Caller;
use crate::error::ApiError;

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(default, deny_unknown_fields)]
pub struct NoticeQuery {
    /// One building's homes that owe (its id, `heyuan-b01`).
    pub building: Option<String>,
    /// One home (its id or address).
    pub house: Option<String>,
}

/// Most pages one request prints: a building's homes, not a whole city's.
const MOST_PAGES: usize = 2_000;

/// `GET …/payment-notices?building=|house=`: the notices to print, one page per home that owes,
/// each with the collection code. A butler: their buildings only (another is 404). Audited:
/// the pages name residents.
pub async fn print(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    Path(community): Path<String>,
    headers: HeaderMap,
    Query(q): Query<NoticeQuery>,
) -> Result<Html<String>, ApiError> {
    let c = community_of(&app, &community)?;
    let (building, house) = match (&q.building, &q.house) {
        (_, Some(h)) => {
            let house = resolve_house(&app, &c, h).ok_or_else(|| ApiError::not_found("房屋", "house", h))?;
            let building = building_of_house(&app, &c, house.as_str()).filter(|b| in_scope(&caller, b)).ok_or_else(|| ApiError::not_found("房屋", "house", h))?;
            (building, Some(house.to_string()))
        }
        (Some(b), None) => {
            let building = c.buildings.iter().map(|x| x.id.clone()).find(|x| x.as_str() == b && in_scope(&caller, x)).ok_or_else(|| ApiError::not_found("楼栋", "building", b))?;
            (building, None)
        }
        (None, None) => return Err(ApiError::bad("请指定楼栋或房屋", "name a building or a house")),
    };
    let rows = super::building(&app, &building)?.find(BillQuery { house, ..BillQuery::default() }).await?;
    let mut homes: BTreeMap<String, Vec<BillRow>> = BTreeMap::new();
    for row in rows.into_iter().filter(|r| r.state.is_open()) {
        homes.entry(row.house.to_string()).or_default().push(row);
    }
    // Oldest first, as the owner settles them.
    for bills in homes.values_mut() {
        bills.sort_by(|a, b| (a.period_start, &a.item).cmp(&(b.period_start, &b.item)));
    }
    if homes.len() > MOST_PAGES {
        return Err(ApiError::bad(&format!("一次最多打印 {MOST_PAGES} 户"), &format!("at most {MOST_PAGES} homes at a time")));
    }
    app.identity.audit(audit_entry(&caller, "payment-notice.print", building.as_str(), None, None)).await.map_err(internal)?;
    let code = crate::pay::code::qr_svg(&crate::pay::code::portal_url(&app, &headers, &community))?;
    let printed = hutong_core::reminder::zh_date(local_now(&app, &c).date());
    let pages: String = homes.values().map(|bills| page(&app, &community, &c.name, &printed, &code, bills)).collect();
    let empty = if homes.is_empty() { "<p data-test=no-notice>没有欠费的房屋，无需打印。</p>" } else { "" };
    Ok(Html(format!(
        "<!doctype html><html lang=zh-CN><meta charset=utf-8><title>缴费通知单</title>\
<style>@page{{size:A4;margin:18mm}}body{{font-family:'Noto Sans CJK SC',sans-serif;font-size:12pt}}h1{{text-align:center;font-size:18pt}}\
section{{page-break-after:always}}table{{width:100%;border-collapse:collapse;margin:6pt 0}}td,th{{border:1px solid #333;padding:4pt;text-align:left}}\
.pay{{display:flex;gap:12pt;align-items:center;margin-top:12pt}}.pay svg{{width:110pt;height:110pt}}@media print{{button{{display:none}}}}</style>\
<body><button onclick=print()>打印</button>{empty}{pages}</body></html>"
    )))
}

/// One home's page.
fn page(app: &App, community: &str, name: &str, printed: &str, code: &str, bills: &[BillRow]) -> String {
    let Some(first) = bills.first() else { return String::new() };
    let mut total = Money::ZERO;
    let rows: String = bills
        .iter()
        .map(|b| {
            // Both bounded by the bill's own amount (decided when it was issued).
            let owed = b.amount - b.paid;
            total = total.checked_add(owed).unwrap_or(total);
            format!(
                "<tr><td>{}</td><td>{}~{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&item_name(app, community, &b.item)),
                hutong_core::reminder::zh_date(b.period_start),
                hutong_core::reminder::zh_date(b.period_end),
                b.amount,
                b.paid,
                owed
            )
        })
        .collect();
    format!(
        "<section data-test=payment-notice data-house=\"{house}\"><h1>{name} 缴费通知单</h1>\
<p>尊敬的 {resident}：您的房屋 <b>{address}</b> 有以下费用待缴，请及时缴纳。</p>\
<table><tr><th>收费项目</th><th>费用时段</th><th>应收</th><th>已收</th><th>待缴</th></tr>{rows}\
<tr><th colspan=4>合计待缴</th><td data-test=notice-total>¥{total}</td></tr></table>\
<div class=pay>{code}<div><b>微信扫一扫缴纳费用</b><p>扫码登录业主缴费页，可合并支付以上账单；也可到物业服务中心缴纳。</p></div></div>\
<p style=\"text-align:right\">{name} 物业服务中心 · {printed}</p></section>",
        house = esc(first.house.as_str()),
        name = esc(name),
        resident = esc(first.resident.as_deref().unwrap_or("业主")),
        address = esc(&first.address_path),
    )
}
