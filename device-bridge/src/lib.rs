//! hutong-device-bridge: MQTT in and out. It owns the topic layout and payload codecs, the
//! ingest loop that turns publishes into device-actor signals (acking the broker only after the
//! journal holds them), the in-process broker of the embedded default, and the device simulator.
//!
//! # Layout
//! - [`codec`]: topic and payload decoding — pure, table-tested; bad input gets a reason.
//! - [`ingest`]: the rumqttc loop, in-order acks after durability, reconnect with capped backoff.
//! - [`broker`]: the embedded broker (rumqttd in its own threads).
//! - [`simulator`]: realistic readings for a community, with the odd spike and a silent device.
//! - [`url`]: `mqtt://user:pass@host:port` into client options.

pub mod broker;
pub mod codec;
pub mod ingest;
pub mod simulator;
pub mod url;
