//! Charge items, prices and reminder limits of a community (F1, F2, N1), journaled in the stream
//! `tariff/{community}`: each change appends the whole tariff, the last one wins.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use axum::extract::{Path, State};
use axum::{Extension, Json};
use chrono::NaiveDate;
use hutong_actors::journal::{Append, Journal, JournalError};
use hutong_core::fee::{ChargeItem, ChargeKind, Formula, PriceRule, PriceScope, Rounding};
use hutong_core::reminder::ReminderLimits;
use hutong_core::CommunityId;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::{community_of, internal};
use crate::api::ApiError;
use crate::auth::Caller;
use crate::server::App;
use crate::staff::audit_entry;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tariff {
    pub items: Vec<ChargeItem>,
    pub rules: Vec<PriceRule>,
    #[serde(default)]
    pub reminder_limits: ReminderLimits,
}

/// The charge items of F1, with their accounting subjects; the property fee's vacant share is half.
pub fn standard_items() -> Vec<ChargeItem> {
    use ChargeKind::*;
    let items: [(&str, &str, ChargeKind, &str); 17] = [
        ("property", "物业费", PropertyResidential, "6001.01"),
        ("property_commercial", "物业费（商业）", PropertyCommercial, "6001.02"),
        ("water", "水费", Water, "6001.03"),
        ("electricity", "电费", Electricity, "6001.04"),
        ("gas", "燃气费", Gas, "6001.05"),
        ("heating", "暖气费", Heating, "6001.06"),
        ("parking", "车位费", Parking, "6001.07"),
        ("rent", "租金", Rent, "6001.08"),
        ("shared_cost", "公摊费用", SharedCost, "6001.09"),
        ("late_fee", "滞纳金", LateFee, "6301.01"),
        ("elevator", "电梯费", Elevator, "6001.10"),
        ("garbage", "垃圾清运费", Garbage, "6001.11"),
        ("broadband", "宽带费", Broadband, "6001.12"),
        ("decoration", "装修管理费", Decoration, "6001.13"),
        ("month_total", "当月应缴费用", MonthTotal, "6001.14"),
        ("other", "其它", Other, "6051.01"),
        ("custom", "自定义", Custom, "6051.02"),
    ];
    items
        .into_iter()
        .filter(|(id, ..)| *id != "custom")
        .map(|(id, name, kind, subject)| ChargeItem {
            id: id.into(),
            name: name.into(),
            kind,
            subject: subject.into(),
            rounding: Rounding::default(),
            vacant_share: (id == "property").then(|| Decimal::new(5, 1)),
        })
        .collect()
}

/// The demo's prices: 面积 × 2.18 for the property fee, 30.00 elevator, 15.00 garbage a month.
pub fn demo_tariff(community: &CommunityId) -> Tariff {
    let from = NaiveDate::from_ymd_opt(2020, 1, 1).unwrap_or_default();
    let rule = |item: &str, formula| PriceRule {
        item: item.into(),
        scope: PriceScope::Community { community: community.clone() },
        formula,
        effective_from: from,
        effective_to: None,
        floor_coefficients: Vec::new(),
    };
    Tariff {
        items: standard_items(),
        rules: vec![
            rule("property", Formula::AreaTimesPrice { unit_price: Decimal::new(218, 2) }),
            rule("elevator", Formula::Fixed { amount: Decimal::new(3000, 2) }),
            rule("garbage", Formula::Fixed { amount: Decimal::new(1500, 2) }),
        ],
        reminder_limits: ReminderLimits::default(),
    }
}

fn stream(community: &str) -> String {
    format!("tariff/{community}")
}

/// The tariffs of every community, as last journaled.
pub struct Tariffs {
    journal: Arc<dyn Journal>,
    current: RwLock<HashMap<String, (u64, Arc<Tariff>)>>,
}

impl Tariffs {
    pub fn new(journal: Arc<dyn Journal>) -> Self {
        Tariffs { journal, current: RwLock::new(HashMap::new()) }
    }

    /// Loads a community's tariff; a community without one gets `fallback` (journaled).
    pub async fn load(&self, community: &CommunityId, fallback: impl FnOnce() -> Tariff) -> Result<(), JournalError> {
        let records = self.journal.replay(&stream(community.as_str()), 0).await?;
        let last = records.last().map(|r| (r.seq, serde_json::from_slice::<Tariff>(&r.payload)));
        match last {
            Some((seq, Ok(t))) => {
                self.current.write().unwrap_or_else(|e| e.into_inner()).insert(community.to_string(), (seq, Arc::new(t)));
                Ok(())
            }
            Some((_, Err(e))) => Err(JournalError::Store(format!("tariff of {community}: {e}"))),
            None => self.put(community.as_str(), fallback()).await,
        }
    }

    pub fn get(&self, community: &str) -> Arc<Tariff> {
        let map = self.current.read().unwrap_or_else(|e| e.into_inner());
        map.get(community).map(|(_, t)| t.clone()).unwrap_or_else(|| {
            Arc::new(Tariff { items: standard_items(), rules: Vec::new(), reminder_limits: ReminderLimits::default() })
        })
    }

    pub async fn put(&self, community: &str, tariff: Tariff) -> Result<(), JournalError> {
        let expected = self.current.read().unwrap_or_else(|e| e.into_inner()).get(community).map_or(0, |(s, _)| *s);
        let payload = serde_json::to_vec(&tariff).map_err(|e| JournalError::Store(e.to_string()))?;
        let at_ms = chrono::Utc::now().timestamp_millis();
        let seq = self.journal.append(Append { stream: stream(community), expected, at_ms, payloads: vec![payload] }).await?;
        self.current.write().unwrap_or_else(|e| e.into_inner()).insert(community.to_string(), (seq, Arc::new(tariff)));
        Ok(())
    }
}

pub async fn get(State(app): State<Arc<App>>, Path(community): Path<String>) -> Result<Json<Tariff>, ApiError> {
    community_of(&app, &community)?;
    Ok(Json((*app.tariffs.get(&community)).clone()))
}

pub async fn put(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    Path(community): Path<String>,
    body: Result<Json<Tariff>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<Tariff>, ApiError> {
    community_of(&app, &community)?;
    let Json(tariff) = body.map_err(ApiError::body)?;
    for rule in &tariff.rules {
        if !tariff.items.iter().any(|i| i.id == rule.item) {
            return Err(ApiError::BadRequest { zh: format!("价格引用了不存在的收费项目 {}", rule.item), en: format!("a price names the unknown item {}", rule.item) });
        }
    }
    let before = serde_json::to_value(&*app.tariffs.get(&community)).ok();
    app.tariffs.put(&community, tariff.clone()).await.map_err(internal)?;
    app.identity.audit(audit_entry(&caller, "tariff.update", &community, before, serde_json::to_value(&tariff).ok())).await.map_err(internal)?;
    Ok(Json(tariff))
}
