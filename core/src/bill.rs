//! Bills (F4, F5) and how a payment settles them (P2). A bill is pending (待支付) until paid in
//! full (已支付), partly paid in between; only a pending bill may be edited or deleted, a paid one
//! never; voiding needs a reason. A payment settles the earliest bill of an item first, and what
//! is left over goes to the house's prepayment balance.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::money::Money;

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BillState {
    Pending,
    PartlyPaid,
    Paid,
    Voided,
    Deleted,
}

impl BillState {
    pub const ALL: [BillState; 5] = [BillState::Pending, BillState::PartlyPaid, BillState::Paid, BillState::Voided, BillState::Deleted];

    /// Still owing: pending or partly paid.
    pub fn is_open(self) -> bool {
        matches!(self, BillState::Pending | BillState::PartlyPaid)
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            BillState::Pending => "待支付",
            BillState::PartlyPaid => "部分支付",
            BillState::Paid => "已支付",
            BillState::Voided => "已作废",
            BillState::Deleted => "已删除",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bill {
    pub no: String,
    pub item: String,
    pub period_start: NaiveDate,
    pub period_end: NaiveDate,
    pub amount: Money,
    pub paid: Money,
    pub state: BillState,
    pub remark: String,
}

/// What may be asked of a bill.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BillCommand {
    /// Change a pending bill's period, fee type, amount and remark (F5).
    Edit { item: String, period_start: NaiveDate, period_end: NaiveDate, amount: Money, remark: String },
    /// Remove a pending bill.
    Delete,
    /// Cancel a bill that was issued in error.
    Void { reason: String },
    /// Settle part or all of what is owed.
    Pay { amount: Money },
}

/// What happened to a bill.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum BillEvent {
    /// The bill's period, fee type, amount or remark was changed; `before` is the bill as it was.
    BillEdited { before: Box<Bill>, item: String, period_start: NaiveDate, period_end: NaiveDate, amount: Money, remark: String },
    /// The bill was deleted.
    BillDeleted,
    /// The bill was voided.
    BillVoided { reason: String },
    /// Money was applied to the bill.
    BillPaid { amount: Money },
}

impl BillEvent {
    /// What happened, as the bill's history shows it.
    pub fn label_zh(&self) -> String {
        match self {
            BillEvent::BillEdited { .. } => "编辑".into(),
            BillEvent::BillDeleted => "删除".into(),
            BillEvent::BillVoided { reason } => format!("作废（{reason}）"),
            BillEvent::BillPaid { amount } => format!("收款 ¥{amount}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BillError {
    NotPending(&'static str, &'static str),
    RemarkTooLong,
    NotPositive,
    Overpaid { paying: Money, owed: Money },
    PeriodBackwards,
    NoReason,
    Closed(&'static str),
}

crate::bilingual!(BillError {
    BillError::NotPending(_0, _1) => ("只有待支付的账单可以{_0}") / ("only a pending bill can be {_1}"),
    BillError::RemarkTooLong => ("备注不能超过500字") / ("the remark is over 500 characters"),
    BillError::NotPositive => ("金额必须大于零") / ("the amount must be above zero"),
    BillError::Overpaid { paying, owed } => ("支付金额 {paying} 超过未付金额 {owed}") / ("paying {paying} is more than the {owed} owed"),
    BillError::PeriodBackwards => ("结束时间早于开始时间") / ("the period ends before it starts"),
    BillError::NoReason => ("作废需要填写原因") / ("voiding needs a reason"),
    BillError::Closed(_0) => ("账单已{_0}，不能再操作") / ("the bill is closed"),
});

impl Bill {
    pub fn owed(&self) -> Money {
        self.amount - self.paid
    }

    pub fn decide(&self, command: &BillCommand) -> Result<Vec<BillEvent>, BillError> {
        if matches!(self.state, BillState::Voided | BillState::Deleted) {
            return Err(BillError::Closed(self.state.label_zh()));
        }
        let pending = self.state == BillState::Pending;
        Ok(vec![match command {
            BillCommand::Edit { item, period_start, period_end, amount, remark } => {
                if !pending {
                    return Err(BillError::NotPending("修改", "edited"));
                }
                if remark.chars().count() > 500 {
                    return Err(BillError::RemarkTooLong);
                }
                if amount.is_negative() || amount.is_zero() {
                    return Err(BillError::NotPositive);
                }
                if period_end < period_start {
                    return Err(BillError::PeriodBackwards);
                }
                BillEvent::BillEdited {
                    before: Box::new(self.clone()),
                    item: item.clone(),
                    period_start: *period_start,
                    period_end: *period_end,
                    amount: *amount,
                    remark: remark.clone(),
                }
            }
            BillCommand::Delete => {
                if !pending {
                    return Err(BillError::NotPending("删除", "deleted"));
                }
                BillEvent::BillDeleted
            }
            BillCommand::Void { reason } => {
                if reason.trim().is_empty() {
                    return Err(BillError::NoReason);
                }
                if self.state == BillState::Paid || !self.paid.is_zero() {
                    return Err(BillError::NotPending("作废", "voided"));
                }
                BillEvent::BillVoided { reason: reason.clone() }
            }
            BillCommand::Pay { amount } => {
                if amount.is_negative() || amount.is_zero() {
                    return Err(BillError::NotPositive);
                }
                if *amount > self.owed() {
                    return Err(BillError::Overpaid { paying: *amount, owed: self.owed() });
                }
                BillEvent::BillPaid { amount: *amount }
            }
        }])
    }

    pub fn apply(&mut self, event: &BillEvent) {
        match event {
            BillEvent::BillEdited { item, period_start, period_end, amount, remark, .. } => {
                self.item = item.clone();
                self.period_start = *period_start;
                self.period_end = *period_end;
                self.amount = *amount;
                self.remark = remark.clone();
            }
            BillEvent::BillDeleted => self.state = BillState::Deleted,
            BillEvent::BillVoided { .. } => self.state = BillState::Voided,
            BillEvent::BillPaid { amount } => {
                self.paid += *amount;
                self.state = if self.paid == self.amount { BillState::Paid } else { BillState::PartlyPaid };
            }
        }
    }
}

/// How a payment splits over open bills: the earliest period of each item first, then the next;
/// what no bill needs is the house's prepayment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Allocation {
    pub to_bills: Vec<(String, Money)>,
    pub prepayment: Money,
}

/// Splits `payment` over `bills` (those still owing), earliest first within an item; items are
/// taken in the order of their earliest open bill.
pub fn allocate(payment: Money, bills: &[Bill]) -> Allocation {
    let mut open: Vec<&Bill> =
        bills.iter().filter(|b| matches!(b.state, BillState::Pending | BillState::PartlyPaid) && !b.owed().is_zero()).collect();
    open.sort_by(|a, b| (a.period_start, &a.item, &a.no).cmp(&(b.period_start, &b.item, &b.no)));
    let mut left = payment;
    let mut to_bills = Vec::new();
    for bill in open {
        if left.is_zero() {
            break;
        }
        let part = bill.owed().min(left);
        to_bills.push((bill.no.clone(), part));
        left -= part;
    }
    Allocation { to_bills, prepayment: left }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn bill(no: &str, item: &str, month: u32, fen: i64) -> Bill {
        Bill {
            no: no.into(),
            item: item.into(),
            period_start: NaiveDate::from_ymd_opt(2026, month, 1).unwrap(),
            period_end: NaiveDate::from_ymd_opt(2026, month, 28).unwrap(),
            amount: Money::from_fen(fen),
            paid: Money::ZERO,
            state: BillState::Pending,
            remark: String::new(),
        }
    }

    fn edit(b: &Bill, fen: i64, remark: &str) -> BillCommand {
        BillCommand::Edit {
            item: b.item.clone(),
            period_start: b.period_start,
            period_end: b.period_end,
            amount: Money::from_fen(fen),
            remark: remark.into(),
        }
    }

    fn run(b: &mut Bill, c: BillCommand) -> Result<(), BillError> {
        let events = b.decide(&c)?;
        events.iter().for_each(|e| b.apply(e));
        Ok(())
    }

    #[test]
    fn a_paid_bill_can_be_neither_deleted_edited_nor_voided() {
        let mut b = bill("1", "property", 1, 130000);
        run(&mut b, BillCommand::Pay { amount: Money::from_fen(130000) }).unwrap();
        assert_eq!(b.state, BillState::Paid);
        assert!(run(&mut b, BillCommand::Delete).unwrap_err().to_string().contains("only a pending bill"));
        let c = edit(&b, 1, "");
        assert!(run(&mut b, c).is_err());
        assert!(run(&mut b, BillCommand::Void { reason: "wrong".into() }).is_err());
    }

    #[test]
    fn remarks_stop_at_500_characters_and_voiding_needs_a_reason() {
        let mut b = bill("1", "property", 1, 100);
        let c = edit(&b, 200, &"备".repeat(501));
        assert_eq!(run(&mut b, c), Err(BillError::RemarkTooLong));
        let c = edit(&b, 200, &"备".repeat(500));
        run(&mut b, c).unwrap();
        assert_eq!(run(&mut b, BillCommand::Void { reason: " ".into() }), Err(BillError::NoReason));
        run(&mut b, BillCommand::Void { reason: "重复开单".into() }).unwrap();
        assert!(matches!(run(&mut b, BillCommand::Pay { amount: Money::from_fen(1) }), Err(BillError::Closed(_))));
    }

    #[test]
    fn a_payment_settles_the_earliest_bill_of_an_item_first_and_the_rest_is_prepaid() {
        let bills = [bill("feb", "property", 2, 10000), bill("jan", "property", 1, 10000), bill("mar-w", "water", 3, 3000)];
        let a = allocate(Money::from_fen(25000), &bills);
        assert_eq!(
            a.to_bills,
            vec![("jan".into(), Money::from_fen(10000)), ("feb".into(), Money::from_fen(10000)), ("mar-w".into(), Money::from_fen(3000))]
        );
        assert_eq!(a.prepayment, Money::from_fen(2000));
        let partial = allocate(Money::from_fen(15000), &bills);
        assert_eq!(partial.to_bills, vec![("jan".into(), Money::from_fen(10000)), ("feb".into(), Money::from_fen(5000))]);
    }

    proptest! {
        /// Paying in any split reaches the same balances, and a bill is never both paid and deleted.
        #[test]
        fn any_split_of_payments_reaches_the_same_balances(
            amounts in proptest::collection::vec(1i64..50_000, 1..6),
            splits in proptest::collection::vec(1i64..40_000, 1..12),
        ) {
            let fresh: Vec<Bill> = amounts.iter().enumerate().map(|(i, f)| bill(&format!("b{i}"), "property", (i % 12) as u32 + 1, *f)).collect();
            let total: i64 = splits.iter().sum();
            let pay = |parts: &[i64]| {
                let mut bills = fresh.clone();
                let mut prepaid = Money::ZERO;
                for part in parts {
                    let a = allocate(Money::from_fen(*part), &bills);
                    for (no, m) in a.to_bills {
                        let b = bills.iter_mut().find(|b| b.no == no).unwrap();
                        run(b, BillCommand::Pay { amount: m }).unwrap();
                    }
                    prepaid += a.prepayment;
                }
                (bills.iter().map(|b| (b.paid, b.state)).collect::<Vec<_>>(), prepaid)
            };
            let (split_result, split_prepaid) = pay(&splits);
            let (whole_result, whole_prepaid) = pay(&[total]);
            prop_assert_eq!(&split_result, &whole_result);
            prop_assert_eq!(split_prepaid, whole_prepaid);
            for b in fresh.iter().map(|b| b.no.clone()) {
                let mut copy = fresh.iter().find(|x| x.no == b).unwrap().clone();
                let whole = copy.amount;
                run(&mut copy, BillCommand::Pay { amount: whole }).unwrap();
                prop_assert!(run(&mut copy, BillCommand::Delete).is_err(), "a paid bill is never deleted");
            }
        }
    }
}
