//! hutong-core: the Hutong domain, pure. It owns money, ids, the community tree and its addresses,
//! devices with their readings and the meter rules, and the wire types the screens receive.
//! No tokio, no IO, no clock: time is always passed in.
//!
//! # Layout
//! - [`aggregate`]: the `Aggregate` trait (`decide`/`apply`) every journaled state implements.
//! - [`api`]: the HTTP replies, typed once for the server and the screens.
//! - [`bilingual`]: refusals in Chinese and English, each sentence written once per language.
//! - [`money`]: `Money`, exact CNY amounts (rust_decimal, 2 dp, half-up).
//! - [`ids`]: newtype ids (`CommunityId`, `BuildingId`, `HouseId`, `DeviceId`).
//! - [`community`]: the tree company → community → building → unit → floor → house, and addresses.
//! - [`device`]: devices, their commands and events, `decide`/`apply`, the meter anomaly rules.
//! - [`identity`]: permissions, roles, scope, the caller (`Principal`), masking; the organisation,
//!   sessions and audit log aggregates.
//! - [`fee`]: charge items, price rules by scope and date, formulas, the amount a house owes; the
//!   community tariff (items with their accounting subjects) and its validation.
//! - [`ledger`]: balanced entries and account balances (P13).
//! - [`limits`]: the bounds every stored amount, price, area and reading lives within.
//! - [`bill`]: bill states, edits, voids, and how a payment settles bills (earliest first).
//! - [`book`]: a building's book — houses, residents, bills, payments, ledgers, reminders.
//! - [`bill_run`]: a bill run's lines for a period (F3), prorated, previewed before commit.
//! - [`reminder`]: reminder channels and the per-house, per-channel limit (N1).
//! - [`notice`]: announcements (公告) to a community's or some buildings' residents.
//! - [`outbox`]: the notification outbox — queued messages, delivery state, retries.
//! - [`registry`]: the communities and devices a deployment runs.
//! - [`import`]: bill and house templates, spreadsheet reading (bounded) and safe exports.
//! - [`building`]: a building's health as the wall shows it, folded from its devices.
//! - [`live`]: what the server streams to screens (snapshot, event, resync).
//! - [`work_order`]: work orders (W1–W6) — one order's life, deadlines and escalation; the
//!   community's service desk (numbers, rules, the materials store); the figures.
//! - [`demo`]: the seeded demo community (荷花苑).

pub mod aggregate;
pub mod alarm;
pub mod api;
pub mod bill;
pub mod bilingual;
pub mod bill_run;
pub mod book;
pub mod building;
pub mod community;
pub mod demo;
pub mod device;
pub mod device_keys;
pub mod fee;
pub mod identity;
pub mod import;
pub mod ledger;
pub mod limits;
pub mod ids;
pub mod live;
pub mod meter_rules;
pub mod money;
pub mod notice;
pub mod outbox;
pub mod patrol;
pub mod pay;
mod pairs;
pub mod registry;
pub mod reminder;
pub mod work_order;

pub use ids::{BuildingId, CheckpointId, CommunityId, CompanyId, DeviceId, HouseId, RoleId, RouteId, StaffId, WorkOrderId};
pub use aggregate::Aggregate;
pub use bilingual::Bilingual;
pub use money::Money;
