//! hutong-actors: the actors that own Hutong's live state — one per community (a supervisor), per
//! building and per device — plus the journal they write before they change, and the hub that
//! fans their changes out to screens.
//!
//! # Layout
//! - [`journal`]: the `Journal` trait, the in-memory, SQLite and ScyllaDB backends, the conformance suite.
//! - [`journaled`]: the one runtime of durable state — typed stream ids, `recover` (snapshot +
//!   replay) and `commit` (append with the expected seq → apply → snapshot policy), owned by an
//!   actor (`Journaled`) or shared by handlers (`Shared`).
//! - [`device`]: `DeviceActor` — decide, journal, apply, publish; its own heartbeat timer.
//! - [`alarms`]: `AlarmDeskActor` — a community's alarms with their life (raised, acknowledged, resolved).
//! - [`building`]: `BuildingActor` — folds its devices' health for the wall.
//! - [`handle`]: `BuildingRef`, the typed way in to a building (timeouts), and `batch`: one
//!   command in several buildings, all or none.
//! - [`work_order`]: `WorkOrderActor` — one work order's life, its deadlines on its own timer,
//!   escalation with an SLA alarm, a repair's charge into the house's book; `open_order`.
//! - [`community`]: `CommunitySupervisor` — spawns the rest, restarts a failed child with replay.
//! - [`hub`]: the live event bus and the read model the snapshot and the API are served from.
//! - [`directory`]: where the device bridge finds a device — an actor while it talks, a record while it sleeps.
//! - [`metrics`]: counters and gauges rendered for Prometheus.
//! - [`quarantine`]: streams holding a record that cannot be applied — reported, skipped on an operator's word.
//! - [`clock`]: wall time that follows tokio's clock, so timers are testable with paused time.

pub mod alarms;
pub mod building;
pub mod clock;
pub mod community;
pub mod device;
pub mod directory;
pub mod handle;
pub mod hub;
pub mod journal;
pub mod journaled;
pub mod metrics;
pub mod patrol;
pub mod quarantine;
pub mod work_order;

pub use clock::Clock;
pub use directory::Directory;
pub use hub::LiveHub;
pub use metrics::Metrics;
