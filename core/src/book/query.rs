//! What may be asked of a building's book, each a named query: the building actor answers these
//! and nothing else, so its message enum says everything a caller can learn, and no caller's
//! code runs inside the actor.

use std::collections::BTreeMap;

use chrono::NaiveDate;

use super::house::HouseRecord;
use super::state::{BillRecord, Book, Payment};
use super::view::BillRow;
use crate::ids::HouseId;
use crate::money::Money;

/// A payment with what its receipt prints: each bill it settled (record, row, the part paid)
/// and the house.
#[derive(Clone, Debug, PartialEq)]
pub struct ReceiptFacts {
    pub payment: Payment,
    pub lines: Vec<(BillRecord, BillRow, Money)>,
    pub house: Option<HouseRecord>,
}

impl Book {
    /// One bill with its row (phones masked).
    pub fn bill_with_row(&self, no: &str) -> Option<(BillRecord, BillRow)> {
        self.bill(no).map(|b| (b.clone(), self.row(b, false)))
    }

    /// The payments that settled part of a bill.
    pub fn payments_of(&self, bill: &str) -> Vec<Payment> {
        self.payments().iter().filter(|p| p.parts.iter().any(|(n, _)| n == bill)).cloned().collect()
    }

    /// Houses whose address or residents (name, phone) contain `text`; every house for "". A
    /// phone matches in part only when `unmasked` (see `phone_matches`).
    pub fn houses_matching(&self, text: &str, unmasked: bool) -> Vec<HouseRecord> {
        self.houses
            .values()
            .filter(|h| {
                text.is_empty()
                    || h.address.contains(text)
                    || h.address_path.contains(text)
                    || h.residents.iter().any(|r| r.name.contains(text) || super::view::phone_matches(&r.phone, text, unmasked))
            })
            .cloned()
            .collect()
    }

    /// A payment and what its receipt prints.
    pub fn receipt(&self, no: &str) -> Option<ReceiptFacts> {
        let payment = self.payment(no)?.clone();
        let lines = payment.parts.iter().filter_map(|(bill, part)| self.bill(bill).map(|b| (b.clone(), self.row(b, false), *part))).collect();
        let house = self.houses.get(&payment.house).cloned();
        Some(ReceiptFacts { payment, lines, house })
    }

    /// What each house owes, bill by bill: (period start, owed).
    pub fn owing_by_house(&self) -> BTreeMap<HouseId, Vec<(NaiveDate, Money)>> {
        let mut by_house: BTreeMap<HouseId, Vec<(NaiveDate, Money)>> = BTreeMap::new();
        for b in self.bills() {
            by_house.entry(b.house.clone()).or_default().push((b.bill.period_start, b.bill.owed()));
        }
        by_house
    }
}
