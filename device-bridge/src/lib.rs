//! hutong-device-bridge: MQTT in and out. It owns the topic layout and payload codecs, the
//! devices' keys, Hutong's own MQTT endpoint (the embedded default: devices connect to the
//! server, which acknowledges a publish only once the journal holds it), ingest from an external
//! broker, and the device simulator.
//!
//! # Layout
//! - [`codec`]: topic and payload decoding — pure, table-tested; bad input gets a reason.
//! - [`keys`]: each device's key — provisioning, rotation, revocation.
//! - [`endpoint`]: Hutong's MQTT 3.1.1 endpoint: CONNECT as the device, topic rights, PUBACK after durability.
//! - [`ingest`]: from an external broker — the rumqttc loop, in-order acks after durability, reconnect with capped backoff.
//! - [`simulator`]: realistic readings for a community, with the odd spike and a silent device.
//! - [`url`]: `mqtt://user:pass@host:port` into client options.

pub mod codec;
pub mod endpoint;
pub mod ingest;
pub mod keys;
pub mod simulator;
pub mod url;
