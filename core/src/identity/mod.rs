//! Who may do what, where (X1–X5, C4), and the durable state behind it: the organisation, the
//! open sessions and the audit log — each an [`Aggregate`](crate::Aggregate) journaled by the
//! actors' runtime like every other piece of state.
//!
//! # Layout
//! - [`access`]: permissions, built-in roles, scope, the caller (`Principal`), masking.
//! - [`org`]: companies, communities, roles, staff and owners; `OrgCommand` → `OrgEvent`.
//! - [`sessions`]: open sign-ins by token hash, with their expiry and revocation.
//! - [`audit`]: the append-only audit log.

pub mod access;
pub mod audit;
pub mod org;
pub mod sessions;

pub use access::*;
pub use audit::{AuditEntry, AuditLog};
pub use org::{Actor, Company, Org, OrgCommand, OrgError, OrgEvent, Owner, OwnerRequest, StaffRecord, MAX_PASSWORD_CHARS, MIN_PASSWORD_CHARS};
pub use sessions::{Session, SessionCommand, SessionEvent, SessionSubject, Sessions};
