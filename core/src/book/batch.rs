//! Decisions over many rows or bills at once: a house import merged into the book as it is
//! (C5), and F9's batches — refused whole unless every bill is pending, one payment per house
//! under a key derived from the batch's, so a repeated batch pays nothing twice.

use std::collections::BTreeMap;

use chrono::{NaiveDate, NaiveDateTime};

use super::house::{HouseRecord, Resident};
use super::state::{BatchAction, Book, BookCommand, BookError, BookEvent, Change, PaymentRequest, ResidentChange};
use crate::bill::{BillCommand, BillState};
use crate::ids::HouseId;
use crate::import::template::ImportedHouse;

impl Book {
    pub(super) fn decide_house_import(&self, rows: &[ImportedHouse], today: NaiveDate) -> Result<Vec<BookEvent>, BookError> {
        let mut merged: BTreeMap<HouseId, HouseRecord> = BTreeMap::new();
        for r in rows {
            let h = match merged.get_mut(&r.house) {
                Some(h) => h,
                None => {
                    let current = self.houses.get(&r.house).ok_or_else(|| BookError::NoHouse(r.house.to_string()))?;
                    merged.entry(r.house.clone()).or_insert_with(|| current.clone())
                }
            };
            if let Some(k) = r.kind {
                h.kind = k;
            }
            if let Some(a) = r.area {
                h.area = a;
            }
            if let Some(state) = r.state {
                if state != h.state {
                    h.enter_state(state, r.state_since.unwrap_or(today), "import");
                }
            }
            for (name, value) in &r.fields {
                h.fields.insert(name.clone(), value.clone());
            }
            if let Some((name, phone, id_number, relation, vip)) = &r.resident {
                match h.residents.iter_mut().find(|x| &x.phone == phone) {
                    Some(x) => {
                        x.name = name.clone();
                        x.relation = *relation;
                        x.vip = *vip;
                        if id_number.is_some() {
                            x.id_number = id_number.clone();
                        }
                    }
                    None => h.residents.push(Resident {
                        name: name.clone(),
                        phone: phone.clone(),
                        id_number: id_number.clone(),
                        relation: *relation,
                        vip: *vip,
                        since: today,
                    }),
                }
            }
        }
        if merged.is_empty() {
            return Ok(Vec::new());
        }
        Ok(vec![BookEvent::HousesRegistered { houses: merged.into_values().collect() }])
    }

    pub(super) fn decide_residents(&self, changes: &[ResidentChange], today: NaiveDate) -> Result<Vec<BookEvent>, BookError> {
        let mut merged: BTreeMap<HouseId, HouseRecord> = BTreeMap::new();
        for change in changes {
            let house = match change {
                ResidentChange::Put { house, .. } | ResidentChange::Remove { house, .. } => house,
            };
            if !merged.contains_key(house) {
                let current = self.houses.get(house).ok_or_else(|| BookError::NoHouse(house.to_string()))?;
                merged.insert(house.clone(), current.clone());
            }
            let Some(h) = merged.get_mut(house) else { continue };
            match change {
                ResidentChange::Remove { phone, .. } => {
                    let at = h.residents.iter().position(|r| &r.phone == phone).ok_or_else(|| BookError::NoResident(phone.clone()))?;
                    h.residents.remove(at);
                }
                ResidentChange::Put { resident, replacing, .. } => {
                    check_resident(resident)?;
                    let mut resident = resident.clone();
                    let at = match replacing {
                        Some(phone) => Some(h.residents.iter().position(|r| &r.phone == phone).ok_or_else(|| BookError::NoResident(phone.clone()))?),
                        None => None,
                    };
                    if h.residents.iter().enumerate().any(|(i, r)| r.phone == resident.phone && Some(i) != at) {
                        return Err(BookError::ResidentTwice(resident.phone));
                    }
                    match at {
                        Some(i) => {
                            // An edit keeps the day they joined; the ID number stays unless given.
                            resident.since = h.residents[i].since;
                            if resident.id_number.is_none() {
                                resident.id_number = h.residents[i].id_number.clone();
                            }
                            h.residents[i] = resident;
                        }
                        None => {
                            resident.since = today;
                            h.residents.push(resident);
                        }
                    }
                }
            }
        }
        if merged.is_empty() {
            return Ok(Vec::new());
        }
        Ok(vec![BookEvent::HousesRegistered { houses: merged.into_values().collect() }])
    }

    /// The payment key a marked-paid batch uses for one house.
    pub fn batch_key(key: &str, house: &HouseId) -> String {
        format!("{key}/{house}")
    }

    /// F9's rule for a selection: every bill exists and is pending. The houses they belong to.
    pub fn pending_houses(&self, bills: &[String]) -> Result<Vec<HouseId>, BookError> {
        let mut houses = Vec::new();
        for no in bills {
            let r = self.bill(no).ok_or_else(|| BookError::NoBill(no.clone()))?;
            if r.bill.state != BillState::Pending {
                return Err(BookError::NotAllPending { bill: r.bill.no.clone(), state: r.bill.state.label_zh() });
            }
            houses.push(r.house.clone());
        }
        houses.sort();
        houses.dedup();
        Ok(houses)
    }

    pub(super) fn decide_batch(&self, bills: &[String], action: &BatchAction, by: &str, at: NaiveDateTime) -> Result<Vec<BookEvent>, BookError> {
        let mut records = Vec::with_capacity(bills.len());
        for no in bills {
            records.push(self.bill(no).ok_or_else(|| BookError::NoBill(no.clone()))?);
        }
        match action {
            BatchAction::Delete => {
                self.pending_houses(bills)?;
                let mut events = Vec::with_capacity(records.len());
                for r in records {
                    for event in r.bill.decide(&BillCommand::Delete)? {
                        events.push(BookEvent::BillChanged { no: r.bill.no.clone(), change: Change { at, by: by.to_string(), event } });
                    }
                }
                Ok(events)
            }
            BatchAction::MarkPaid { key, channel, payer } => {
                let mut by_house: BTreeMap<&HouseId, Vec<String>> = BTreeMap::new();
                for r in &records {
                    by_house.entry(&r.house).or_default().push(r.bill.no.clone());
                }
                // A house already paid under this batch's key is a repeat of the same request: the
                // payment answers it (or the key is refused if the bills differ). Every other bill
                // must still be pending.
                for r in &records {
                    let repeat = self.payment_by_key(&Self::batch_key(key, &r.house)).is_some();
                    if !repeat && r.bill.state != BillState::Pending {
                        return Err(BookError::NotAllPending { bill: r.bill.no.clone(), state: r.bill.state.label_zh() });
                    }
                }
                if channel.needs_reference() {
                    return Err(BookError::OnlineBatch(channel.label_zh()));
                }
                let requests: Vec<PaymentRequest> = by_house
                    .into_iter()
                    .map(|(house, bills)| PaymentRequest {
                        key: Self::batch_key(key, house),
                        house: house.clone(),
                        bills,
                        amount: None,
                        channel: *channel,
                        payer: payer.clone(),
                        by: by.to_string(),
                        at,
                        reference: None,
                    })
                    .collect();
                self.decide(&BookCommand::PayMany(requests))
            }
        }
    }
}

/// A resident as a person types them: a name of 1–40 characters, an 11-digit mobile number, an
/// ID number of at most 18 characters.
fn check_resident(r: &Resident) -> Result<(), BookError> {
    let name = r.name.trim();
    if name.is_empty() || name.chars().count() > 40 {
        return Err(BookError::BadResident("住户姓名须为 1–40 个字", "a resident's name is 1–40 characters"));
    }
    if !crate::identity::is_mobile(&r.phone) {
        return Err(BookError::BadResident("手机号应为 11 位数字", "the phone must be 11 digits"));
    }
    if r.id_number.as_ref().is_some_and(|n| n.chars().count() > 18 || !n.chars().all(|c| c.is_ascii_alphanumeric())) {
        return Err(BookError::BadResident("身份证号至多 18 位字母或数字", "an ID number is at most 18 letters or digits"));
    }
    Ok(())
}
