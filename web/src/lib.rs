//! hutong-web: the HTTP API, the WebSocket streams and the `hutong` binary that wires everything
//! together (serve, demo, simulate, bench).
//!
//! # Layout
//! - [`config`]: defaults → `--config` TOML → `HUTONG_*` env → flags, validated at start.
//! - [`server`]: start-up (journal, recovery, broker, ingest, HTTP) and shutdown.
//! - [`api`]: REST under `/api/v1/`, `/healthz`, `/metrics`, `/api/openapi.json`; `ApiError`.
//! - [`auth`]: the one place access is decided (route table → caller → permission and scope).
//! - [`identity`]: sign-in, rate limits, device keys, the outbox; the organisation, sessions
//!   and audit log as `core` aggregates on the actors' journaled runtime (`Shared`).
//! - [`staff`]: staff, roles and audit log endpoints.
//! - [`ws`]: `/ws` — snapshot, then live events, resync on lag.
//! - [`bench`]: `hutong bench …`, the end-to-end ingest, billing and import benchmarks.
//! - [`bill_run_cli`]: `hutong bill-run`, a bill run from the command line with a progress bar.
//! - [`billing`]: bills, imports, exports, bill runs, payments, receipts, reminders, money.

pub mod api;
pub mod auth;
pub mod bench;
pub mod bill_run_cli;
pub mod billing;
pub mod config;
pub mod identity;
pub mod server;
pub mod staff;
pub mod ws;
