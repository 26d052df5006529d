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

/// Where a company's audit log stands: the seq of its last entry. The entries themselves stay in
/// the journal and are read a page at a time (review S1, V2): the log only grows, so holding it
/// would cost memory without bound and a full replay at every start.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct AuditLog {
    #[serde(default)]
    pub last_seq: u64,
}

/// The longest text an entry keeps of a name or target (its fields come from requests).
pub const AUDIT_TEXT_MAX: usize = 128;
/// The longest `before`/`after` an entry keeps, as JSON text; past it, a note says it was cut.
pub const AUDIT_VALUE_MAX: usize = 16 * 1024;

fn capped_text(text: &str) -> String {
    if text.chars().count() <= AUDIT_TEXT_MAX {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(AUDIT_TEXT_MAX).collect();
    cut.push('…');
    cut
}

fn capped_value(value: &Option<serde_json::Value>) -> Option<serde_json::Value> {
    let v = value.as_ref()?;
    let size = serde_json::to_string(v).map_or(usize::MAX, |t| t.len());
    Some(if size <= AUDIT_VALUE_MAX { v.clone() } else { serde_json::json!({ "omitted_bytes": size }) })
}

impl AuditEntry {
    /// Matches an actor exactly and an action by prefix.
    pub fn matches(&self, actor: Option<&str>, action: Option<&str>) -> bool {
        actor.is_none_or(|a| self.actor == a) && action.is_none_or(|a| self.action.starts_with(a))
    }
}

impl crate::Aggregate for AuditLog {
    /// Record this entry (its `seq` is assigned here, its fields capped).
    type Command = AuditEntry;
    /// The entry as recorded.
    type Event = AuditEntry;
    type Error = Infallible;

    fn decide(&self, entry: &AuditEntry) -> Result<Vec<AuditEntry>, Infallible> {
        Ok(vec![AuditEntry {
            seq: self.last_seq + 1,
            actor: capped_text(&entry.actor),
            action: capped_text(&entry.action),
            target: capped_text(&entry.target),
            outcome: capped_text(&entry.outcome),
            ip: entry.ip.as_deref().map(capped_text),
            before: capped_value(&entry.before),
            after: capped_value(&entry.after),
            ..entry.clone()
        }])
    }

    fn apply(&mut self, entry: &AuditEntry) {
        self.last_seq = self.last_seq.max(entry.seq);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Aggregate;

    #[test]
    fn an_entry_keeps_at_most_a_bounded_text_of_each_field() {
        let entry = AuditEntry {
            seq: 0,
            at: Utc::now(),
            company: None,
            actor: "A".repeat(2_000_000),
            action: "auth.sign_in".into(),
            target: "B".repeat(1000),
            outcome: "failed".into(),
            ip: None,
            before: None,
            after: Some(serde_json::json!({"big": "x".repeat(100_000)})),
        };
        let recorded = AuditLog::default().decide(&entry).unwrap().remove(0);
        assert_eq!(recorded.seq, 1);
        assert_eq!(recorded.actor.chars().count(), AUDIT_TEXT_MAX + 1);
        assert_eq!(recorded.target.chars().count(), AUDIT_TEXT_MAX + 1);
        assert!(serde_json::to_string(&recorded).unwrap().len() < 2 * 1024);
    }
}
