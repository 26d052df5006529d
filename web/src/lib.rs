//! hutong-web: the HTTP API, the WebSocket streams and the `hutong` binary that wires everything
//! together (serve, demo, simulate, bench).
//!
//! # Layout
//! Layers, each using only those above it: `error` → `app` → `auth` → `scope`, `audit` →
//! handlers → `routes` → `server`.
//! - [`config`]: defaults → `--config` TOML → `HUTONG_*` env → flags, validated at start.
//! - [`error`]: `ApiError`, the one producer of error bodies, and the `ApiJson` body extractor.
//! - [`app`]: `App`, what every handler shares; `App::in_memory()` for in-process route tests.
//! - [`identity`]: sign-in, rate limits, device keys, the outbox; the organisation, sessions
//!   and audit log as `core` aggregates on the actors' journaled runtime (`Shared`).
//! - [`tariffs`]: every community's tariff, journaled. [`notify`]: the reminder outbox.
//! - [`auth`]: the one place access is decided (each route's declared access → caller →
//!   permission and scope).
//! - [`scope`]: what a building-scoped caller sees. [`audit`]: one audit line of a caller's act.
//! - Handlers: [`api`] (communities, devices, wall, health, metrics, OpenAPI), [`signin`],
//!   [`staff`], [`companies`] (companies, branches, 片区), [`setup`] (a community set up and
//!   grown while running), [`ws`] (`/ws`, `/ws/money`), [`billing`] (bills, imports, exports,
//!   bill runs, payments, receipts, reminders, money, houses and residents).
//! - [`routes`]: the route table (method, path, access, handler, doc) and the router built from it.
//! - [`openapi`]: the OpenAPI document, generated from the route table and the body types.
//! - [`server`]: start-up (journal, recovery, broker, ingest, HTTP) and shutdown.
//! - [`bill_run_cli`]: `hutong bill-run`, a bill run from the command line with a progress bar.
//! - [`tls`]: HTTPS on Hutong's own port (`--tls-cert`, `--tls-key`) and the caller's address.
//! - [`journal_cli`]: `hutong journal inspect|quarantine`, for a stream that holds a record it cannot apply.

pub mod alarms;
pub mod api;
pub mod app;
pub mod audit;
pub mod auth;
pub mod bill_run_cli;
pub mod billing;
pub mod companies;
pub mod config;
pub mod devices;
pub mod displays;
pub mod error;
pub mod fanout;
pub mod identity;
pub mod journal_cli;
pub mod meters;
pub mod mqtt_hooks;
pub mod notices;
pub mod notify;
pub mod openapi;
pub mod patrol;
pub mod pay;
pub mod photos;
pub mod routes;
pub mod scope;
pub mod server;
pub mod setup;
pub mod signin;
pub mod staff;
pub mod tariffs;
pub mod tls;
pub mod work_orders;
pub mod ws;
