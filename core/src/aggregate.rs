//! The one shape of every journaled aggregate — device, building book, organisation, sessions,
//! audit log, tariff, registry: a pure `decide` that turns a command into events (or refuses it),
//! and an `apply` that folds one event in. The actors' runtime journals what `decide` returns
//! before it calls `apply`, so `apply` must never fail: anything that could fail is refused in
//! `decide`.

/// A piece of durable state, pure: no IO, no clock (time travels inside the commands).
pub trait Aggregate {
    /// What someone asks for, in the imperative (`IssueBills`).
    type Command;
    /// What happened, in the past tense (`BillsIssued`); what the journal holds.
    type Event;
    /// Why a command was refused; travels back to whoever asked.
    type Error;

    /// What the command means given the state now: the events to journal, none (nothing to do,
    /// e.g. a redelivery), or a refusal.
    fn decide(&self, command: &Self::Command) -> Result<Vec<Self::Event>, Self::Error>;

    /// Folds one journaled event in. Replaying every event from the start rebuilds the state.
    fn apply(&mut self, event: &Self::Event);
}
