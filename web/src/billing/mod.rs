//! Billing and collection over HTTP (F1–F9, P1–P3, P7, N1–N4, R3, R4, C2–C5). Handlers find the
//! building that holds a bill or a house and ask it through its typed handle (`BuildingRef`);
//! every decision is the book's (`core::book`). Its refusals come back as 4xx with their own
//! sentence, a building that does not answer as 503, journal failures as 500.
//!
//! # Layout
//! - [`tariff`]: a community's tariff over HTTP (the store is `crate::tariffs`).
//! - [`desk`]: the bill list (search, filters, pages), edits, deletes, voids, batch actions,
//!   imports, exports and bill runs.
//! - [`pay`]: payments with idempotency keys, receipts (print page and PDF), reminders.
//! - [`houses`]: houses and residents, their import and export.
//! - [`money`]: the manager's money summary.
//! - [`receipt`]: the A4 receipt as a PDF.
//! - [`upload`]: an import's spreadsheet read row by row, a legacy XLS in a memory-capped child
//!   process, one import per community at a time.

pub mod chart;
pub mod demo;
pub mod desk;
pub mod houses;
pub mod money;
pub mod notice;
pub mod pay;
pub mod receipt;
pub mod tariff;
pub mod upload;

use std::sync::Arc;

use hutong_actors::handle::{BuildingRef, CallError};
use hutong_core::book::{Book, BookCommand, BookError, BookEvent};
use hutong_core::community::{Community, HouseIndex};
use hutong_core::{BuildingId, HouseId};

use crate::error::ApiError;
use crate::auth::Caller;
use crate::app::App;

pub(crate) use crate::error::internal;

/// A book refusal as the API answers it (see `From<BookError> for ApiError`).
pub(crate) fn refused(e: BookError) -> ApiError {
    e.into()
}

pub(crate) fn community_of(app: &App, id: &str) -> Result<Arc<Community>, ApiError> {
    app.community(id)
}

/// The typed handle of a building's actor; a building left down by its supervisor is 503.
pub(crate) fn building(app: &App, building: &BuildingId) -> Result<BuildingRef, ApiError> {
    app.directory.building_ref(building).ok_or_else(|| CallError::Unavailable(building.clone()).into())
}

/// The building whose number a bill or receipt number carries.
pub(crate) fn building_of_no(community: &Community, no: &str) -> Option<BuildingId> {
    let n = Book::building_no_of(no)?;
    community.buildings.iter().find(|b| b.no % 1000 == n).map(|b| b.id.clone())
}

/// The community's house index, built on first use and kept (the tree does not change while
/// the server runs).
pub(crate) fn index(app: &App, community: &Community) -> Arc<HouseIndex> {
    if let Some(i) = app.house_index.read().unwrap_or_else(|e| e.into_inner()).get(community.id.as_str()) {
        return i.clone();
    }
    let built = Arc::new(HouseIndex::new(community));
    app.house_index.write().unwrap_or_else(|e| e.into_inner()).insert(community.id.to_string(), built.clone());
    built
}

pub(crate) fn building_of_house(app: &App, community: &Community, house: &str) -> Option<BuildingId> {
    index(app, community).building_of(house).cloned()
}

/// A house named by either address form (or by its id).
pub(crate) fn resolve_house(app: &App, community: &Community, text: &str) -> Option<HouseId> {
    index(app, community).find(text).map(|(h, _)| h)
}

/// Whether a building-scoped caller (a butler) may touch this building.
pub(crate) fn in_scope(caller: &Caller, building: &BuildingId) -> bool {
    crate::scope::building_visible(caller, Some(building))
}

/// Sends a command to a building's book and waits for the journaled events.
pub(crate) async fn command(app: &App, id: &BuildingId, command: BookCommand) -> Result<Result<Vec<BookEvent>, BookError>, ApiError> {
    Ok(building(app, id)?.book(command).await?)
}

/// The operator's name for the book's history.
pub(crate) fn actor_name(caller: &Caller) -> String {
    caller.principal.actor()
}

/// The longest idempotency key and payer name a payment takes.
pub(crate) const KEY_MAX: usize = 100;
pub(crate) const PAYER_MAX: usize = 64;

/// An idempotency key as the book keeps it: the caller's own (review M4, as Stripe scopes keys
/// to an account), so one cashier's key never answers with another's payment.
pub(crate) fn scoped_key(caller: &Caller, key: &str) -> Result<String, ApiError> {
    let key = key.trim();
    if key.is_empty() || key.chars().count() > KEY_MAX {
        return Err(ApiError::bad("幂等键须为 1 至 100 个字符", "an idempotency key is 1 to 100 characters"));
    }
    Ok(format!("{}/{key}", actor_name(caller)))
}

/// A transaction or slip number within its bound; blank is none.
pub(crate) fn reference(text: Option<&str>) -> Result<Option<String>, ApiError> {
    let Some(text) = text.map(str::trim).filter(|t| !t.is_empty()) else { return Ok(None) };
    if text.chars().count() > 64 || text.chars().any(char::is_control) {
        return Err(ApiError::bad("交易单号最多 64 个字符", "a transaction number is at most 64 characters"));
    }
    Ok(Some(text.to_string()))
}

/// A payer's name within its bound.
pub(crate) fn payer_name(payer: &str) -> Result<String, ApiError> {
    let payer = payer.trim();
    if payer.chars().count() > PAYER_MAX {
        return Err(ApiError::bad("付款人姓名最多 64 个字符", "a payer's name is at most 64 characters"));
    }
    Ok(payer.to_string())
}

/// Community-local now, by the app's clock — the one the actors read too, so a command's `at`
/// and the building's own "now" never disagree (and tests can pause both).
pub(crate) fn local_now(app: &App, community: &Community) -> chrono::NaiveDateTime {
    let tz: chrono_tz::Tz = community.time_zone.parse().unwrap_or(chrono_tz::Asia::Shanghai);
    app.clock.now().with_timezone(&tz).naive_local()
}

/// An item's name in the community's tariff, else its standard label.
pub(crate) fn item_name(app: &App, community: &str, item: &str) -> String {
    app.tariffs.get(community).items.iter().find(|i| i.id == item).map_or_else(|| hutong_core::import::template::label_of(item).to_string(), |i| i.name.clone())
}
