//! The ledger (P13): every movement of money is one balanced entry — its postings sum to zero to
//! the fen — so the books can never drift from what happened. Debits are positive, credits
//! negative.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::money::Money;

/// Where money sits, for one house's ledger.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "of", rename_all = "snake_case")]
pub enum Account {
    /// Owed by the house for a charge item (应收).
    Receivable(String),
    /// Income of an accounting subject (收入), credited when a bill is issued.
    Income(String),
    /// Money taken through a channel (cash, WeChat Pay …), debited when paid.
    Collected(String),
    /// The house's prepayment balance (预存), a liability: credited when money arrives early.
    Prepayment,
}

/// One posting of an entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Posting {
    pub account: Account,
    pub amount: Money,
}

/// A balanced set of postings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    postings: Vec<Posting>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LedgerError {
    #[error("分录不平衡（差额 {0}）/ the entry does not balance (off by {0})")]
    Unbalanced(Money),
    #[error("分录为空 / an entry needs postings")]
    Empty,
}

impl Entry {
    /// A balanced entry, or the amount it is off by.
    pub fn new(postings: Vec<Posting>) -> Result<Entry, LedgerError> {
        if postings.is_empty() {
            return Err(LedgerError::Empty);
        }
        let sum: Money = postings.iter().map(|p| p.amount).sum();
        if !sum.is_zero() {
            return Err(LedgerError::Unbalanced(sum));
        }
        Ok(Entry { postings })
    }

    /// Debit one account, credit another, by the same amount.
    pub fn transfer(debit: Account, credit: Account, amount: Money) -> Entry {
        Entry { postings: vec![Posting { account: debit, amount }, Posting { account: credit, amount: -amount }] }
    }

    pub fn postings(&self) -> &[Posting] {
        &self.postings
    }
}

/// Balances of every account, folded from balanced entries.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ledger {
    #[serde(with = "crate::pairs")]
    balances: BTreeMap<Account, Money>,
}

impl Ledger {
    pub fn post(&mut self, entry: &Entry) {
        for p in &entry.postings {
            *self.balances.entry(p.account.clone()).or_default() += p.amount;
        }
    }

    /// Debits one account and credits another by the same amount: one balanced entry, posted
    /// without building it (the hot path of a bill run).
    pub fn transfer(&mut self, debit: &Account, credit: &Account, amount: Money) {
        self.add(debit, amount);
        self.add(credit, -amount);
    }

    fn add(&mut self, account: &Account, amount: Money) {
        match self.balances.get_mut(account) {
            Some(b) => *b += amount,
            None => {
                self.balances.insert(account.clone(), amount);
            }
        }
    }

    pub fn balance(&self, account: &Account) -> Money {
        self.balances.get(account).copied().unwrap_or_default()
    }

    /// Always zero: the sum over all accounts of balanced entries.
    pub fn total(&self) -> Money {
        self.balances.values().copied().sum()
    }

    pub fn balances(&self) -> impl Iterator<Item = (&Account, &Money)> {
        self.balances.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn an_unbalanced_entry_is_refused_with_the_difference() {
        let p = |a: Account, fen| Posting { account: a, amount: Money::from_fen(fen) };
        let err = Entry::new(vec![p(Account::Prepayment, 100), p(Account::Income("6001".into()), -99)]).unwrap_err();
        assert_eq!(err, LedgerError::Unbalanced(Money::from_fen(1)));
        assert!(err.to_string().contains("0.01"));
        assert_eq!(Entry::new(vec![]), Err(LedgerError::Empty));
    }

    fn account() -> impl Strategy<Value = Account> {
        prop_oneof![
            Just(Account::Prepayment),
            "[a-c]".prop_map(Account::Receivable),
            "[a-c]".prop_map(Account::Income),
            "[a-c]".prop_map(Account::Collected),
        ]
    }

    proptest! {
        /// Whatever balanced entries are posted, in whatever order, the ledger sums to zero.
        #[test]
        fn the_ledger_always_balances(moves in proptest::collection::vec((account(), account(), -1_000_000i64..1_000_000), 0..200)) {
            let mut ledger = Ledger::default();
            for (debit, credit, fen) in &moves {
                ledger.post(&Entry::transfer(debit.clone(), credit.clone(), Money::from_fen(*fen)));
                prop_assert!(ledger.total().is_zero());
            }
        }
    }
}
