//! Fees (F1, F2, C3, N1): what a house is charged for an item, and a community's tariff — its
//! charge items with their accounting subjects, its price rules and its reminder limits.
//!
//! # Layout
//! - [`price`]: charge items, price rules by scope and date, formulas, the amount a house owes.
//! - [`tariff`]: a community's tariff, its validation, the standard items, and the journaled
//!   `CommunityTariff` aggregate.

pub mod price;
pub mod tariff;

pub use price::*;
pub use tariff::*;
