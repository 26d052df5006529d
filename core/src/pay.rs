//! Online payments (P8–P10): the orders an owner opens at a payment provider, and what the
//! provider's notifications may do to them. One `PayDesk` per community, journaled
//! (`paydesk/{community}`).
//!
//! A notification reaches `decide` only after its adapter verified the provider's signature; the
//! desk then checks it against what was asked: the order exists, the amount is the order's to the
//! fen, the provider's transaction id has not paid another order. Only then is the order paid —
//! and the book is asked to take the payment under the order's own key, naming the transaction,
//! so a repeated or replayed notification pays once. Anything else is an anomaly, journaled and
//! raised as an alarm; it never pays a bill. Hutong never marks a bill paid on the browser's word.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{BuildingId, HouseId};
use crate::money::Money;

/// One order at the provider: some pending bills of one house, their amount owed when opened.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PayOrder {
    /// `po-{n}`, per community; the provider's out_trade_no.
    pub no: String,
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub house: HouseId,
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub building: BuildingId,
    pub bills: Vec<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub amount: Money,
    /// Who opened it (an owner's masked phone).
    pub payer: String,
    pub opened_at: DateTime<Utc>,
    pub state: OrderState,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum OrderState {
    /// Waiting for the provider.
    Open,
    /// The provider says it is paid; `payment` once the house's book has taken it.
    Paid { txn: String, paid_at: DateTime<Utc>, payment: Option<String> },
}

/// What a provider says happened, once its signature is verified.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    pub order: String,
    /// The provider's transaction id.
    pub txn: String,
    pub amount: Money,
    pub paid_at: DateTime<Utc>,
}

/// A notification that must not pay: kept, counted, raised.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Anomaly {
    /// No such order here.
    UnknownOrder { order: String, txn: String, #[cfg_attr(feature = "openapi", schema(value_type = String))] amount: Money },
    /// Paid another amount than the order asked.
    AmountDiffers { order: String, txn: String, #[cfg_attr(feature = "openapi", schema(value_type = String))] asked: Money, #[cfg_attr(feature = "openapi", schema(value_type = String))] paid: Money },
    /// A second transaction for an order already paid (the owner paid twice: a refund is due).
    PaidTwice { order: String, txn: String, first: String, #[cfg_attr(feature = "openapi", schema(value_type = String))] amount: Money },
    /// A transaction id that already paid another order.
    TxnReused { order: String, txn: String, paid: String },
}

impl Anomaly {
    pub fn order(&self) -> &str {
        match self {
            Anomaly::UnknownOrder { order, .. } | Anomaly::AmountDiffers { order, .. } | Anomaly::PaidTwice { order, .. } | Anomaly::TxnReused { order, .. } => order,
        }
    }

    /// A sentence for the wall and the desk.
    pub fn text(&self) -> String {
        match self {
            Anomaly::UnknownOrder { order, txn, amount } => format!("支付通知异常：订单 {order} 不存在（交易 {txn}，¥{amount}）"),
            Anomaly::AmountDiffers { order, txn, asked, paid } => format!("支付通知异常：订单 {order} 应付 ¥{asked}，通知金额 ¥{paid}（交易 {txn}），未入账"),
            Anomaly::PaidTwice { order, txn, first, amount } => format!("重复支付：订单 {order} 已由交易 {first} 支付，又收到交易 {txn} ¥{amount}，需退款"),
            Anomaly::TxnReused { order, txn, paid } => format!("支付通知异常：交易 {txn} 已支付订单 {paid}，又用于订单 {order}"),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnomalyRecord {
    pub at: DateTime<Utc>,
    pub anomaly: Anomaly,
}

/// A community's online orders.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PayDesk {
    pub next: u64,
    pub orders: BTreeMap<String, PayOrder>,
    /// Each transaction id that paid, and the order it paid.
    pub txns: HashMap<String, String>,
    pub anomalies: Vec<AnomalyRecord>,
    /// The finance software's pull access (P11), switched on and off by the company.
    #[serde(default)]
    pub finance: FinanceAccess,
}

/// A community's key for finance software pulling its statements: an id, and a secret derived
/// from the deployment's secret and this generation (never stored; a new one voids the old).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FinanceAccess {
    pub generation: u32,
    pub enabled: bool,
}

pub enum PayCommand {
    /// Open an order for pending bills of one house (their amount worked out by the caller from
    /// the book, at this instant).
    Open { house: HouseId, building: BuildingId, bills: Vec<String>, amount: Money, payer: String, at: DateTime<Utc> },
    /// A notification whose signature its adapter verified (or the provider's answer to a query).
    Notified { notification: Notification, at: DateTime<Utc> },
    /// The house's book took the order's payment.
    Booked { order: String, payment: String },
    /// Switch the finance pull on with a new secret (`rotate`), back on, or off (停用).
    FinanceAccess { enabled: bool, rotate: bool },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum PayEvent {
    /// An order was opened.
    Opened { order: PayOrder },
    /// The provider paid an order.
    Paid { order: String, txn: String, paid_at: DateTime<Utc> },
    /// A notification that paid nothing.
    Anomalous { record: AnomalyRecord },
    /// The book took the payment.
    Booked { order: String, payment: String },
    /// The finance pull's access changed.
    FinanceAccessSet { access: FinanceAccess },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PayError {
    NothingToPay,
    NoOrder(String),
    TooManyOpen,
}

crate::bilingual!(PayError {
    PayError::NothingToPay => ("没有可支付的账单") / ("nothing to pay"),
    PayError::NoOrder(_0) => ("没有支付订单 {_0}") / ("no payment order {_0}"),
    PayError::TooManyOpen => ("此房屋未完成的支付订单过多，请先完成或稍后再试") / ("too many unfinished payment orders for this house; finish one or try again later"),
});

/// Most orders a house may have open from the last day: an owner's phone (or a stolen session)
/// cannot fill the journal with orders it never pays.
pub const MOST_OPEN_ORDERS: usize = 10;
/// An order asked for again (the same bills, the same amount) within this long is the same order:
/// a second tap, or back and forth at the checkout, opens nothing new.
pub const REUSE_ORDER_MINUTES: i64 = 30;

impl PayDesk {
    /// Orders paid at the provider whose payment the book has not taken yet (after a crash
    /// between the two): taken again, under the same key, at start.
    /// The open order of a house for exactly these bills and amount, opened less than
    /// `REUSE_ORDER_MINUTES` before `at`: paying the same bills again reuses it.
    pub fn reusable(&self, house: &HouseId, bills: &[String], amount: Money, at: DateTime<Utc>) -> Option<&PayOrder> {
        let mut wanted = bills.to_vec();
        wanted.sort();
        self.orders.values().filter(|o| o.state == OrderState::Open && &o.house == house && o.amount == amount && at - o.opened_at < chrono::TimeDelta::minutes(REUSE_ORDER_MINUTES)).find(|o| {
            let mut theirs = o.bills.clone();
            theirs.sort();
            theirs == wanted
        })
    }

    pub fn unbooked(&self) -> impl Iterator<Item = &PayOrder> {
        self.orders.values().filter(|o| matches!(o.state, OrderState::Paid { payment: None, .. }))
    }

    /// Orders still open whose notification is overdue at `now`: opened at least `after` ago
    /// and less than `until` ago (older ones were abandoned at the checkout, not lost).
    pub fn overdue(&self, now: DateTime<Utc>, after: chrono::TimeDelta, until: chrono::TimeDelta) -> Vec<String> {
        self.orders.values().filter(|o| o.state == OrderState::Open && now - o.opened_at >= after && now - o.opened_at < until).map(|o| o.no.clone()).collect()
    }

    fn notified(&self, n: &Notification, at: DateTime<Utc>) -> Vec<PayEvent> {
        let anomaly = |anomaly| vec![PayEvent::Anomalous { record: AnomalyRecord { at, anomaly } }];
        if let Some(paid) = self.txns.get(&n.txn) {
            // The same transaction again is a provider's retry: nothing new.
            if *paid == n.order {
                return Vec::new();
            }
            return anomaly(Anomaly::TxnReused { order: n.order.clone(), txn: n.txn.clone(), paid: paid.clone() });
        }
        let Some(order) = self.orders.get(&n.order) else {
            return anomaly(Anomaly::UnknownOrder { order: n.order.clone(), txn: n.txn.clone(), amount: n.amount });
        };
        if order.amount != n.amount {
            return anomaly(Anomaly::AmountDiffers { order: n.order.clone(), txn: n.txn.clone(), asked: order.amount, paid: n.amount });
        }
        if let OrderState::Paid { txn, .. } = &order.state {
            return anomaly(Anomaly::PaidTwice { order: n.order.clone(), txn: n.txn.clone(), first: txn.clone(), amount: n.amount });
        }
        vec![PayEvent::Paid { order: n.order.clone(), txn: n.txn.clone(), paid_at: n.paid_at }]
    }
}

impl crate::Aggregate for PayDesk {
    type Command = PayCommand;
    type Event = PayEvent;
    type Error = PayError;

    fn decide(&self, command: &PayCommand) -> Result<Vec<PayEvent>, PayError> {
        match command {
            PayCommand::Open { house, building, bills, amount, payer, at } => {
                if bills.is_empty() || amount.is_zero() || amount.is_negative() {
                    return Err(PayError::NothingToPay);
                }
                let open = self.orders.values().filter(|o| &o.house == house && o.state == OrderState::Open && *at - o.opened_at < chrono::TimeDelta::days(1)).count();
                if open >= MOST_OPEN_ORDERS {
                    return Err(PayError::TooManyOpen);
                }
                let order = PayOrder {
                    no: format!("po-{}", self.next + 1),
                    house: house.clone(),
                    building: building.clone(),
                    bills: bills.clone(),
                    amount: *amount,
                    payer: payer.clone(),
                    opened_at: *at,
                    state: OrderState::Open,
                };
                Ok(vec![PayEvent::Opened { order }])
            }
            PayCommand::Notified { notification, at } => Ok(self.notified(notification, *at)),
            PayCommand::Booked { order, payment } => match self.orders.get(order).map(|o| &o.state) {
                Some(OrderState::Paid { payment: None, .. }) => Ok(vec![PayEvent::Booked { order: order.clone(), payment: payment.clone() }]),
                Some(_) => Ok(Vec::new()),
                None => Err(PayError::NoOrder(order.clone())),
            },
            PayCommand::FinanceAccess { enabled, rotate } => {
                let generation = self.finance.generation + u32::from(*rotate || self.finance.generation == 0);
                let access = FinanceAccess { generation, enabled: *enabled };
                Ok(if access == self.finance { Vec::new() } else { vec![PayEvent::FinanceAccessSet { access }] })
            }
        }
    }

    fn apply(&mut self, event: &PayEvent) {
        match event {
            PayEvent::Opened { order } => {
                self.next += 1;
                self.orders.insert(order.no.clone(), order.clone());
            }
            PayEvent::Paid { order, txn, paid_at } => {
                if let Some(o) = self.orders.get_mut(order) {
                    o.state = OrderState::Paid { txn: txn.clone(), paid_at: *paid_at, payment: None };
                }
                self.txns.insert(txn.clone(), order.clone());
            }
            PayEvent::Anomalous { record } => self.anomalies.push(record.clone()),
            PayEvent::FinanceAccessSet { access } => self.finance = access.clone(),
            PayEvent::Booked { order, payment: no } => {
                if let Some(OrderState::Paid { payment, .. }) = self.orders.get_mut(order).map(|o| &mut o.state) {
                    *payment = Some(no.clone());
                }
            }
        }
    }
}

/// The sandbox provider's own books (it runs inside Hutong for the demo and the tests): the
/// orders merchants registered with it and the transactions that paid them. What its checkout,
/// its notifications, its order query and its statement answer from; journaled apart from
/// Hutong's own record, as a real provider's would be.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SandboxLedger {
    /// `community/order` → amount asked, and the transaction that paid it.
    pub orders: BTreeMap<String, (Money, Option<(String, DateTime<Utc>)>)>,
}

fn ledger_key(community: &str, order: &str) -> String {
    format!("{community}/{order}")
}

pub enum SandboxCommand {
    /// A merchant registers an order and its amount.
    Register { community: String, order: String, amount: Money },
    /// The payer pays it on the checkout page.
    Charge { community: String, order: String, txn: String, at: DateTime<Utc> },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SandboxEvent {
    /// An order was registered.
    Registered { community: String, order: String, amount: Money },
    /// An order was paid.
    Charged { community: String, order: String, txn: String, at: DateTime<Utc> },
}

impl SandboxLedger {
    /// An order's amount, and whether it is paid.
    pub fn order(&self, community: &str, order: &str) -> Option<(Money, bool)> {
        self.orders.get(&ledger_key(community, order)).map(|(amount, paid)| (*amount, paid.is_some()))
    }

    /// What the provider says of a paid order (its notification, or its answer to a query).
    pub fn paid(&self, community: &str, order: &str) -> Option<Notification> {
        let (amount, paid) = self.orders.get(&ledger_key(community, order))?;
        let (txn, at) = paid.as_ref()?;
        Some(Notification { order: order.to_string(), txn: txn.clone(), amount: *amount, paid_at: *at })
    }
}

impl crate::Aggregate for SandboxLedger {
    type Command = SandboxCommand;
    type Event = SandboxEvent;
    type Error = PayError;

    fn decide(&self, command: &SandboxCommand) -> Result<Vec<SandboxEvent>, PayError> {
        match command {
            // Registered already (the owner asked to pay the same bills again): as it was — a
            // charge it took stays taken.
            SandboxCommand::Register { community, order, .. } if self.order(community, order).is_some() => Ok(Vec::new()),
            SandboxCommand::Register { community, order, amount } => {
                Ok(vec![SandboxEvent::Registered { community: community.clone(), order: order.clone(), amount: *amount }])
            }
            SandboxCommand::Charge { community, order, txn, at } => match self.order(community, order) {
                None => Err(PayError::NoOrder(order.clone())),
                // Paid already: the page was sent twice; nothing is charged again.
                Some((_, true)) => Ok(Vec::new()),
                Some((_, false)) => Ok(vec![SandboxEvent::Charged { community: community.clone(), order: order.clone(), txn: txn.clone(), at: *at }]),
            },
        }
    }

    fn apply(&mut self, event: &SandboxEvent) {
        match event {
            SandboxEvent::Registered { community, order, amount } => {
                self.orders.insert(ledger_key(community, order), (*amount, None));
            }
            SandboxEvent::Charged { community, order, txn, at } => {
                if let Some((_, paid)) = self.orders.get_mut(&ledger_key(community, order)) {
                    *paid = Some((txn.clone(), *at));
                }
            }
        }
    }
}

/// One line of a provider's statement (对账单): a transaction that paid an order.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatementLine {
    pub order: String,
    pub txn: String,
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub amount: Money,
    pub paid_at: DateTime<Utc>,
}

impl SandboxLedger {
    /// The provider's statement of a community: what it collected in `[from, to)`.
    pub fn statement(&self, community: &str, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<StatementLine> {
        let prefix = format!("{community}/");
        self.orders
            .range(prefix.clone()..)
            .take_while(|(key, _)| key.starts_with(&prefix))
            .filter_map(|(key, (amount, paid))| {
                let order = &key[prefix.len()..];
                let (txn, at) = paid.as_ref()?;
                (from <= *at && *at < to).then(|| StatementLine { order: order.to_string(), txn: txn.clone(), amount: *amount, paid_at: *at })
            })
            .collect()
    }
}

/// Reads a provider's statement file (商户订单号, 交易单号, 金额, 支付时间) row by row: each
/// good row a line, each bad one a row error; times without a zone are the community's.
pub struct StatementReader {
    tz: chrono_tz::Tz,
    columns: Option<[usize; 4]>,
    pub lines: Vec<StatementLine>,
    pub errors: Vec<crate::import::RowError>,
}

impl StatementReader {
    pub fn new(tz: chrono_tz::Tz) -> Self {
        StatementReader { tz, columns: None, lines: Vec::new(), errors: Vec::new() }
    }

    /// The lines, or — when no row had the statement's header — that as an error.
    pub fn finish(mut self) -> Self {
        if self.columns.is_none() {
            self.errors.push(crate::import::RowError { row: 1, column: String::new(), reason: "找不到表头：商户订单号、交易单号、金额、支付时间 / no header row".into() });
        }
        self
    }

    fn time(&self, text: &str) -> Option<DateTime<Utc>> {
        if let Ok(t) = DateTime::parse_from_rfc3339(text) {
            return Some(t.with_timezone(&Utc));
        }
        let local = chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S").ok()?;
        use chrono::TimeZone;
        self.tz.from_local_datetime(&local).earliest().map(|t| t.with_timezone(&Utc))
    }
}

impl crate::import::RowSink for StatementReader {
    fn row(&mut self, i: usize, cells: &[String]) {
        let Some([order, txn, amount, at]) = self.columns else {
            let find = |names: &[&str]| cells.iter().position(|c| names.contains(&c.trim()));
            if let (Some(o), Some(t), Some(a), Some(p)) = (find(&["商户订单号", "订单号"]), find(&["交易单号", "交易号"]), find(&["金额", "订单金额"]), find(&["支付时间", "交易时间"])) {
                self.columns = Some([o, t, a, p]);
            }
            return;
        };
        let cell = |c: usize| cells.get(c).map(|s| s.trim()).unwrap_or_default();
        if cells.iter().all(|c| c.trim().is_empty()) || self.errors.len() >= crate::import::template::MAX_REPORTED_ERRORS {
            return;
        }
        let bad = |column: &str, reason: &str| crate::import::RowError { row: i + 1, column: column.into(), reason: reason.into() };
        let amount = match Money::exact(cell(amount)) {
            Ok(m) if !m.is_negative() => m,
            _ => return self.errors.push(bad("金额", "金额应为至多两位小数的数字 / the amount must be a number with at most 2 decimals")),
        };
        let Some(paid_at) = self.time(cell(at)) else {
            return self.errors.push(bad("支付时间", "时间应为 2027-01-05 08:00:00 / the time must read 2027-01-05 08:00:00"));
        };
        if cell(order).is_empty() || cell(txn).is_empty() {
            return self.errors.push(bad("商户订单号", "订单号和交易单号不能为空 / the order and transaction numbers are required"));
        }
        self.lines.push(StatementLine { order: cell(order).to_string(), txn: cell(txn).to_string(), amount, paid_at });
    }
}

/// How a line of the reconciliation stands.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Matched {
    /// On the statement and recorded alike: 到帐.
    Arrived,
    /// Recorded as paid, not on the statement: 未到帐.
    NotArrived,
    /// On the statement but not as recorded: 异常.
    Anomaly,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReconciledLine {
    pub matched: Matched,
    pub order: String,
    pub txn: Option<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub amount: Money,
    /// The payment (receipt) the book took, if it did.
    pub payment: Option<String>,
    /// Why it is an anomaly, in Chinese.
    pub reason: String,
}

/// 一键对账 (P10): the seed's totals and every line.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reconciliation {
    /// 合计到帐金额.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub arrived_amount: Money,
    /// 到帐订单数.
    pub arrived: usize,
    /// 未到帐订单数.
    pub not_arrived: usize,
    /// 异常订单数.
    pub anomalies: usize,
    pub lines: Vec<ReconciledLine>,
}

/// Matches a provider's statement for `[from, to)` against the orders recorded as paid in it.
pub fn reconcile(statement: &[StatementLine], desk: &PayDesk, from: DateTime<Utc>, to: DateTime<Utc>) -> Reconciliation {
    let mut out = Reconciliation::default();
    let mut on_statement = std::collections::HashSet::new();
    let mut seen_txns = std::collections::HashSet::new();
    for line in statement {
        on_statement.insert(line.order.clone());
        let recorded = desk.orders.get(&line.order);
        let reason = match recorded.map(|o| (&o.state, o.amount)) {
            _ if !seen_txns.insert(line.txn.clone()) => Some("交易号在对账单中重复".to_string()),
            None => Some("没有这个订单".to_string()),
            Some((_, asked)) if asked != line.amount => Some(format!("金额不符：订单 ¥{asked}，对账单 ¥{}", line.amount)),
            Some((OrderState::Open, _)) => Some("支付方已收款，本系统未入账（通知未到）".to_string()),
            Some((OrderState::Paid { txn, .. }, _)) if *txn != line.txn => Some(format!("交易号不符：本系统记录 {txn}")),
            Some((OrderState::Paid { payment: None, .. }, _)) => Some("已收到通知，账簿尚未入账".to_string()),
            Some(_) => None,
        };
        let payment = recorded.and_then(|o| match &o.state {
            OrderState::Paid { payment, .. } => payment.clone(),
            OrderState::Open => None,
        });
        let matched = if reason.is_some() { Matched::Anomaly } else { Matched::Arrived };
        if matched == Matched::Arrived {
            out.arrived += 1;
            out.arrived_amount = out.arrived_amount.checked_add(line.amount).unwrap_or(out.arrived_amount);
        } else {
            out.anomalies += 1;
        }
        out.lines.push(ReconciledLine { matched, order: line.order.clone(), txn: Some(line.txn.clone()), amount: line.amount, payment, reason: reason.unwrap_or_default() });
    }
    for order in desk.orders.values() {
        let OrderState::Paid { txn, paid_at, payment } = &order.state else { continue };
        if from <= *paid_at && *paid_at < to && !on_statement.contains(&order.no) {
            out.not_arrived += 1;
            out.lines.push(ReconciledLine { matched: Matched::NotArrived, order: order.no.clone(), txn: Some(txn.clone()), amount: order.amount, payment: payment.clone(), reason: "对账单中没有这笔交易".into() });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Aggregate;
    use proptest::prelude::*;

    fn at(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_780_000_000 + s, 0).unwrap_or_default()
    }

    /// A desk with these orders opened, and the events that opened them.
    fn desk_with(orders: &[i64]) -> (PayDesk, Vec<PayEvent>) {
        let (mut d, mut log) = (PayDesk::default(), Vec::new());
        for (i, fen) in orders.iter().enumerate() {
            let open = PayCommand::Open {
                house: HouseId::new(format!("h{i}")),
                building: BuildingId::new("b1"),
                bills: vec![format!("bill-{i}")],
                amount: Money::from_fen(*fen),
                payer: "139****0001".into(),
                at: at(0),
            };
            for e in d.decide(&open).unwrap_or_default() {
                d.apply(&e);
                log.push(e);
            }
        }
        (d, log)
    }

    fn run(d: &mut PayDesk, n: &Notification) -> Vec<PayEvent> {
        let events = d.decide(&PayCommand::Notified { notification: n.clone(), at: at(5) }).unwrap_or_default();
        events.iter().for_each(|e| d.apply(e));
        events
    }

    fn note(order: &str, txn: &str, fen: i64) -> Notification {
        Notification { order: order.into(), txn: txn.into(), amount: Money::from_fen(fen), paid_at: at(3) }
    }

    #[test]
    fn the_same_bills_asked_again_reuse_their_order_and_a_house_cannot_open_orders_without_end() {
        let (d, _) = desk_with(&[1_000]);
        let house = HouseId::new("h0");
        let bills = vec!["bill-0".to_string()];
        assert_eq!(d.reusable(&house, &bills, Money::from_fen(1_000), at(60)).map(|o| o.no.as_str()), Some("po-1"));
        assert!(d.reusable(&house, &bills, Money::from_fen(999), at(60)).is_none(), "another amount is another order");
        assert!(d.reusable(&house, &bills, Money::from_fen(1_000), at(31 * 60)).is_none(), "half an hour on, a new order");
        let mut d = d;
        let open = |n: i64| PayCommand::Open { house: house.clone(), building: BuildingId::new("b1"), bills: vec![format!("x-{n}")], amount: Money::from_fen(100), payer: "139****0001".into(), at: at(n) };
        for n in 1..MOST_OPEN_ORDERS as i64 {
            for e in d.decide(&open(n)).unwrap_or_default() {
                d.apply(&e);
            }
        }
        assert_eq!(d.decide(&open(100)), Err(PayError::TooManyOpen), "ten open from the last day");
        assert!(d.decide(&open(86_400 + 10)).is_ok(), "a day on, the old ones no longer count");
    }

    #[test]
    fn an_order_is_overdue_for_a_query_after_a_while_and_until_abandoned() {
        let (mut d, _) = desk_with(&[1_000, 2_000]);
        let (after, until) = (chrono::TimeDelta::minutes(2), chrono::TimeDelta::hours(24));
        assert!(d.overdue(at(60), after, until).is_empty(), "a minute: the notification may still come");
        assert_eq!(d.overdue(at(120), after, until), vec!["po-1".to_string(), "po-2".to_string()]);
        run(&mut d, &note("po-1", "t1", 1_000));
        assert_eq!(d.overdue(at(600), after, until), vec!["po-2".to_string()], "a paid order is not asked about");
        assert!(d.overdue(at(24 * 3600), after, until).is_empty(), "a day on, the checkout was abandoned");
    }

    #[test]
    fn a_notification_pays_its_order_once_and_anything_else_is_an_anomaly() {
        let (mut d, _) = desk_with(&[12_000, 5_000]);
        assert!(matches!(run(&mut d, &note("po-1", "t1", 12_000))[..], [PayEvent::Paid { .. }]));
        assert!(run(&mut d, &note("po-1", "t1", 12_000)).is_empty(), "the provider's retry pays nothing");
        let kinds: Vec<Anomaly> = [note("po-2", "t2", 4_999), note("po-9", "t3", 100), note("po-1", "t4", 12_000), note("po-2", "t1", 5_000)]
            .iter()
            .flat_map(|n| run(&mut d, n))
            .filter_map(|e| match e {
                PayEvent::Anomalous { record } => Some(record.anomaly),
                _ => None,
            })
            .collect();
        assert!(matches!(kinds[..], [Anomaly::AmountDiffers { .. }, Anomaly::UnknownOrder { .. }, Anomaly::PaidTwice { .. }, Anomaly::TxnReused { .. }]), "{kinds:?}");
        assert_eq!(d.orders["po-2"].state, OrderState::Open, "an amount that differs never pays");
        assert_eq!(d.unbooked().count(), 1);
        let booked = d.decide(&PayCommand::Booked { order: "po-1".into(), payment: "P1".into() }).unwrap_or_default();
        booked.iter().for_each(|e| d.apply(e));
        assert_eq!(d.unbooked().count(), 0);
        assert!(d.decide(&PayCommand::Booked { order: "po-1".into(), payment: "P1".into() }).is_ok_and(|e| e.is_empty()));
    }

    #[test]
    fn a_statement_is_matched_into_arrived_not_arrived_and_anomalies() {
        let (mut d, _) = desk_with(&[12_000, 5_000, 800]);
        run(&mut d, &note("po-1", "t1", 12_000));
        run(&mut d, &note("po-2", "t2", 5_000));
        for e in d.decide(&PayCommand::Booked { order: "po-1".into(), payment: "P1".into() }).unwrap_or_default() {
            d.apply(&e);
        }
        let line = |order: &str, txn: &str, fen| StatementLine { order: order.into(), txn: txn.into(), amount: Money::from_fen(fen), paid_at: at(3) };
        // po-1 arrived; po-2 is not on the statement; po-3 paid at the provider but never notified;
        // an order Hutong never had; a transaction listed twice.
        let statement = [line("po-1", "t1", 12_000), line("po-3", "t3", 800), line("po-8", "t8", 100), line("po-1", "t1", 12_000)];
        let r = reconcile(&statement, &d, at(0), at(10));
        assert_eq!((r.arrived, r.arrived_amount, r.not_arrived, r.anomalies), (1, Money::from_fen(12_000), 1, 3));
        assert_eq!(r.lines[0].payment.as_deref(), Some("P1"));
        assert!(r.lines[1].reason.contains("通知未到"), "{:?}", r.lines[1]);
        assert_eq!(r.lines.last().map(|l| (l.matched.clone(), l.order.as_str())), Some((Matched::NotArrived, "po-2")));
        // Outside the range, nothing is due on the statement.
        assert_eq!(reconcile(&[], &d, at(100), at(200)).not_arrived, 0);
    }

    #[test]
    fn a_statement_file_is_read_row_by_row_with_its_errors() {
        use crate::import::RowSink;
        let mut r = StatementReader::new(chrono_tz::Asia::Shanghai);
        let rows: [&[&str]; 4] = [
            &["微信支付对账单"],
            &["支付时间", "商户订单号", "交易单号", "金额"],
            &["2027-01-05 08:00:00", "po-1", "t1", "70.75"],
            &["昨天", "po-2", "t2", "1.234"],
        ];
        for (i, row) in rows.iter().enumerate() {
            r.row(i, &row.iter().map(|c| c.to_string()).collect::<Vec<_>>());
        }
        let r = r.finish();
        assert_eq!(r.lines.len(), 1);
        assert_eq!(r.lines[0].paid_at.to_rfc3339(), "2027-01-05T00:00:00+00:00", "08:00 in Shanghai");
        assert_eq!((r.errors[0].row, r.errors[0].column.as_str()), (4, "金额"));
        assert_eq!(StatementReader::new(chrono_tz::Asia::Shanghai).finish().errors.len(), 1, "no header");
    }

    proptest! {
        /// Any order and duplication of notifications reaches the same paid orders; a notification
        /// whose amount differs never pays.
        #[test]
        fn notifications_in_any_order_and_number_pay_the_same(picks in proptest::collection::vec((0usize..4, 0usize..3), 1..40)) {
            // Four notifications: two true, one with a wrong amount, one for no order.
            let all = [note("po-1", "t1", 12_000), note("po-2", "t2", 5_000), note("po-2", "t9", 4_000), note("po-7", "t7", 100)];
            let (mut d, mut log) = desk_with(&[12_000, 5_000]);
            for (i, times) in &picks {
                for _ in 0..=*times {
                    log.extend(run(&mut d, &all[*i]));
                }
            }
            let sent: std::collections::BTreeSet<usize> = picks.iter().map(|(i, _)| *i).collect();
            let paid = |o: &str| matches!(d.orders[o].state, OrderState::Paid { .. });
            prop_assert_eq!(paid("po-1"), sent.contains(&0));
            prop_assert_eq!(paid("po-2"), sent.contains(&1));
            if let OrderState::Paid { txn, .. } = &d.orders["po-2"].state {
                prop_assert_eq!(txn.as_str(), "t2");
            }
            // Replaying the journal rebuilds the same desk.
            let mut replayed = PayDesk::default();
            log.iter().for_each(|e| replayed.apply(e));
            prop_assert_eq!(replayed, d);
        }
    }
}
