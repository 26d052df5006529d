//! A building's book (账簿): its houses and residents, every bill issued to them, every payment
//! taken, each house's ledger and prepayment, and when each house was last reminded on each
//! channel. One aggregate per building, held by the building actor: `decide` answers a command
//! with events or a refusal, `apply` folds an event in, and replaying the events rebuilds the
//! same book.
//!
//! # Layout
//! - [`house`]: resources (homes, shops, parking …) and the people living in them (C2–C4).
//! - [`state`]: the book itself, its commands and events, `decide` / `apply`.
//! - `batch`: decisions over many rows or bills at once — house imports and F9's batches.
//! - `compact`: how a bill run's lines are journaled, as columns.
//! - [`query`]: the named questions a book answers (a bill, its payments, a receipt, houses …).
//! - [`view`]: what the API and the screens read: bill rows, queries, the money summary.

mod batch;
mod compact;
pub mod query;
pub mod house;
pub mod state;
pub mod view;

pub use house::{HouseRecord, Relation, Resident, ResourceKind, StateSpan};
pub use state::{
    BatchAction, BillLine, BillRecord, BillSource, Book, BookCommand, BookError, BookEvent, Change, PayChannel, Payment, PaymentRequest, ResidentChange,
};
pub use query::ReceiptFacts;
pub use view::{BillQuery, BillRow, BuildingMoney, CommunityMoney, HouseArrears, ItemMoney, Rate};

#[cfg(test)]
mod tests;
