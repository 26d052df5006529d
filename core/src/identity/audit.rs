//! The audit log (X3): who did what to what, when, from where, with before and after. Append
//! only: the one command is "record this entry", and its place in the log is its `seq`.

use std::convert::Infallible;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::CompanyId;

/// One line of the audit log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Its place in the log, from 1; set when it is recorded.
    pub seq: u64,
    pub at: DateTime<Utc>,
    pub company: Option<CompanyId>,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub outcome: String,
    #[serde(default)]
    pub ip: Option<String>,
    #[serde(default)]
    pub before: Option<serde_json::Value>,
    #[serde(default)]
    pub after: Option<serde_json::Value>,
}

/// Every entry so far, oldest first.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct AuditLog {
    pub entries: Vec<AuditEntry>,
}

impl AuditLog {
    /// The entries of one company, newest first, filtered by actor and action prefix.
    pub fn of_company<'a>(
        &'a self,
        company: &'a CompanyId,
        actor: Option<&'a str>,
        action: Option<&'a str>,
    ) -> impl Iterator<Item = &'a AuditEntry> + 'a {
        self.entries
            .iter()
            .rev()
            .filter(move |e| e.company.as_ref() == Some(company))
            .filter(move |e| actor.is_none_or(|a| e.actor == a))
            .filter(move |e| action.is_none_or(|a| e.action.starts_with(a)))
    }
}

impl crate::Aggregate for AuditLog {
    /// Record this entry (its `seq` is assigned here).
    type Command = AuditEntry;
    /// The entry as recorded.
    type Event = AuditEntry;
    type Error = Infallible;

    fn decide(&self, entry: &AuditEntry) -> Result<Vec<AuditEntry>, Infallible> {
        let seq = self.entries.last().map_or(0, |e| e.seq) + 1;
        Ok(vec![AuditEntry { seq, ..entry.clone() }])
    }

    fn apply(&mut self, entry: &AuditEntry) {
        self.entries.push(entry.clone());
    }
}
