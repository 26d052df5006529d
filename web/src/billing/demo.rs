//! The demo's money, seeded once on a fresh data directory: residents in every house (the demo
//! owner in 荷花苑-1-1-101), a few vacant and decorating homes, four monthly bill runs up to this
//! month, and payments — most houses paid up, some a month or more behind, some paying today — so
//! the billing desk and the manager screen open on a living community.

use std::sync::Arc;

use chrono::{Datelike, Months, NaiveDate, NaiveTime};
use hutong_actors::building::RunRequest;
use hutong_core::bill_run::{Cycle, RunSpec, Timing};
use hutong_core::book::{BookCommand, PayChannel, PaymentRequest, Relation, Resident};
use hutong_core::community::Community;
use hutong_core::fee::HouseState;

use super::{command, local_now};
use crate::app::App;

const SURNAMES: [&str; 16] = ["王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙", "胡", "朱", "高", "林"];
const GIVEN: [&str; 12] = ["伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳"];

pub async fn seed(app: &Arc<App>, community: &Community, owner_phone: &str) -> anyhow::Result<()> {
    let Some(first) = community.buildings.first() else { return Ok(()) };
    if super::building(app, &first.id)?.houses("", true).await?.iter().any(|h| !h.residents.is_empty()) {
        return Ok(());
    }
    let now = local_now(app, community);
    let today = now.date();
    let this_month = today.with_day(1).unwrap_or(today);
    let tariff = app.tariffs.get(community.id.as_str());
    let mut n: u64 = 0;
    for building in &community.buildings {
        let mut houses = super::building(app, &building.id)?.houses("", true).await?;
        for h in &mut houses {
            n += 1;
            let phone = if h.address.ends_with("-1-1-101") && building.no == 1 { owner_phone.to_string() } else { format!("139{:08}", 10_000_000 + n * 7919 % 89_999_999) };
            let name = format!("{}{}", SURNAMES[(n * 7 % 16) as usize], GIVEN[(n * 5 % 12) as usize]);
            h.residents = vec![Resident { name, phone, id_number: None, relation: Relation::Owner, vip: n % 37 == 0, since: NaiveDate::from_ymd_opt(2019, 6, 1).unwrap_or(today) }];
            (h.state, h.state_since) = match n % 50 {
                0..=2 => (HouseState::Vacant, NaiveDate::from_ymd_opt(2024, 1, 1)),
                3 => (HouseState::Decorating, Some(this_month)),
                _ => (HouseState::Occupied, None),
            };
        }
        command(app, &building.id, BookCommand::RegisterHouses { houses }).await?.map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    for back in (0..4).rev() {
        let month = this_month.checked_sub_months(Months::new(back)).unwrap_or(this_month);
        let spec = RunSpec { cycle: Cycle::Monthly, timing: Timing::InAdvance, on: month, items: vec!["property".into(), "elevator".into(), "garbage".into()] };
        let at = month.and_time(NaiveTime::from_hms_opt(9, 0, 0).unwrap_or_default());
        let runs = community.buildings.iter().map(|building| {
            let request = RunRequest { spec: spec.clone(), items: Arc::new(tariff.items.clone()), rules: Arc::new(tariff.rules.clone()), commit: true, by: "演示数据".into(), at };
            async move {
                let target = super::building(app, &building.id).map_err(|e| anyhow::anyhow!("{e}"))?;
                target.run(request).await.map_err(|e| anyhow::anyhow!("{e}"))
            }
        });
        futures_util::future::try_join_all(runs).await?;
    }
    // Buildings pay side by side: each building actor takes its own payments in turn, and on a
    // cluster store every one is a round trip.
    let payers = community.buildings.iter().map(|building| pay_demo_bills(app, building, today));
    futures_util::future::try_join_all(payers).await?;
    tracing::info!(community = %community.id, "demo billing seeded");
    Ok(())
}

/// One building's demo payments, journaled as one append: most houses paid up, some one or more
/// months behind.
async fn pay_demo_bills(app: &App, building: &hutong_core::community::Building, today: NaiveDate) -> anyhow::Result<()> {
    let channels = [PayChannel::WechatPay, PayChannel::Alipay, PayChannel::Cash, PayChannel::PosCard, PayChannel::BankCollection];
    let owing = super::building(app, &building.id)?.owing().await?;
    let mut payments = Vec::new();
    for (i, (house, bills)) in owing.into_iter().enumerate() {
        let k = i as u64 + u64::from(building.no) * 131;
        // How many of the latest months stay unpaid: most none, some one, a few three or four.
        let behind = match k % 20 {
            0 => 4,
            1 | 2 => 3,
            3..=6 => 1,
            _ => 0,
        };
        let months: Vec<NaiveDate> = {
            let mut m: Vec<_> = bills.iter().map(|(start, _)| *start).collect();
            m.sort();
            m.dedup();
            m
        };
        let paid_months = months.len().saturating_sub(behind);
        if paid_months == 0 {
            continue;
        }
        let last_paid = months[paid_months - 1];
        let amount = bills.iter().filter(|(start, _)| *start <= last_paid).map(|(_, owed)| *owed).sum();
        // Some pay today; the rest in the month they last paid for.
        let day = if k % 40 == 0 { today } else { last_paid.with_day(1 + (k % 25) as u32).unwrap_or(last_paid).min(today) };
        let request = PaymentRequest {
            key: format!("demo-{house}"),
            house,
            bills: Vec::new(),
            amount: Some(amount),
            channel: channels[(k % 5) as usize],
            payer: String::new(),
            by: "演示数据".into(),
            at: day.and_time(NaiveTime::from_hms_opt(10, (k % 60) as u32, 0).unwrap_or_default()),
            reference: channels[(k % 5) as usize].needs_reference().then(|| format!("DEMO{}{k:08}", building.no)),
        };
        payments.push(request);
    }
    command(app, &building.id, BookCommand::PayMany(payments)).await?.map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(())
}
