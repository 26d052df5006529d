//! One audit line for what a signed-in caller did: who, from where, when, to what, with the
//! state before and after. Recorded by `Identity::audit` (journaled, append-only).

use chrono::Utc;
use serde_json::Value;

use crate::auth::Caller;
use crate::identity::AuditEntry;

pub fn audit_entry(caller: &Caller, action: &str, target: &str, before: Option<Value>, after: Option<Value>) -> AuditEntry {
    AuditEntry {
        seq: 0,
        at: Utc::now(),
        company: Some(caller.principal.company.clone()),
        actor: caller.principal.actor(),
        action: action.into(),
        target: target.into(),
        outcome: "ok".into(),
        ip: Some(caller.ip.clone()),
        before,
        after,
    }
}
