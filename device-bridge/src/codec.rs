//! Topics and payloads, decoded by pure functions. A device publishes on
//! `hutong/{community}/devices/{device}/{telemetry|event|heartbeat}` a JSON object:
//!
//! - telemetry: `{"seq": 42, "ts": "2026-11-22T08:00:00Z", "value": "1234.567"}`
//! - event: `{"seq": 43, "ts": 1763798400000, "action": "forced_open", "plate": "沪A12345"}`
//! - heartbeat: `{"seq": 44, "ts": 1763798400000}`
//!
//! Each may carry `"boot"`, the device's boot counter. Who sent a message is known from its
//! connection (the device signed in with its own key, [`crate::keys`]); only behind an external
//! broker that does not ask Hutong who connects must a payload carry `"key"`, the device's key.
//!
//! `ts` is RFC 3339 or epoch milliseconds; `value` a decimal string or a JSON number (at most 15
//! significant digits, read back exactly). Anything else is refused with a [`Rejection`] whose
//! reason is counted in `/metrics`.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use hutong_core::device::{DeviceCommand, GateAction, Signal};
use hutong_core::ids::is_valid_id;
use hutong_core::patrol::{MAX_TAG, is_valid_tag};
use rust_decimal::Decimal;
use serde::Deserialize;
use serde::de::{self, Visitor};

/// The subscription that covers every device topic.
pub const SUBSCRIPTION: &str = "hutong/+/devices/+/+";
/// Payloads above this are refused unread.
pub const MAX_PAYLOAD: usize = 4096;

/// Which of a device's topics a message came on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Channel {
    Telemetry,
    Event,
    Heartbeat,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Telemetry => "telemetry",
            Channel::Event => "event",
            Channel::Heartbeat => "heartbeat",
        }
    }
}

/// The address a message came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceTopic<'a> {
    pub community: &'a str,
    pub device: &'a str,
    pub channel: Channel,
}

pub fn topic(community: &str, device: &str, channel: Channel) -> String {
    format!("hutong/{community}/devices/{device}/{}", channel.as_str())
}

/// The one topic a device may subscribe to: Hutong's commands to it (open a gate or a barrier).
pub fn command_topic(community: &str, device: &str) -> String {
    format!("hutong/{community}/devices/{device}/command")
}

/// Why a message was dropped. `reason()` is the metrics label.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("主题无效 / not a Hutong device topic: {0}")]
    BadTopic(String),
    #[error("消息过大 / payload of {0} bytes is over the {MAX_PAYLOAD}-byte limit")]
    Oversized(usize),
    #[error("不是 JSON / payload is not JSON: {0}")]
    NotJson(String),
    #[error("字段缺失或类型错误 / payload has missing or wrongly typed fields: {0}")]
    WrongType(String),
    #[error("未登记的设备 / unknown device {community}/{device}")]
    UnknownDevice { community: String, device: String },
    #[error("设备拒绝 / the device refused it: {0}")]
    Refused(String),
    #[error("设备密钥不符 / the key does not belong to device {0}: a device may publish only on its own topics")]
    Forbidden(String),
}

impl Rejection {
    pub fn reason(&self) -> &'static str {
        match self {
            Rejection::BadTopic(_) => "bad_topic",
            Rejection::Oversized(_) => "oversized",
            Rejection::NotJson(_) => "not_json",
            Rejection::WrongType(_) => "wrong_type",
            Rejection::UnknownDevice { .. } => "unknown_device",
            Rejection::Refused(_) => "refused",
            Rejection::Forbidden(_) => "forbidden",
        }
    }

    pub const REASONS: [&'static str; 7] = ["bad_topic", "oversized", "not_json", "wrong_type", "unknown_device", "refused", "forbidden"];
}

pub fn parse_topic(topic: &str) -> Result<DeviceTopic<'_>, Rejection> {
    let bad = || Rejection::BadTopic(topic.chars().take(200).collect());
    let mut parts = topic.split('/');
    let (Some("hutong"), Some(community), Some("devices"), Some(device), Some(channel), None) =
        (parts.next(), parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad());
    };
    if !is_valid_id(community) || !is_valid_id(device) {
        return Err(bad());
    }
    let channel = match channel {
        "telemetry" => Channel::Telemetry,
        "event" => Channel::Event,
        "heartbeat" => Channel::Heartbeat,
        _ => return Err(bad()),
    };
    Ok(DeviceTopic { community, device, channel })
}

/// A time as devices send it: RFC 3339 text or epoch milliseconds.
struct DeviceTime(DateTime<Utc>);

impl<'de> Deserialize<'de> for DeviceTime {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = DeviceTime;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an RFC 3339 time or epoch milliseconds")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<DeviceTime, E> {
                DateTime::parse_from_rfc3339(s).map(|t| DeviceTime(t.with_timezone(&Utc))).map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, ms: u64) -> Result<DeviceTime, E> {
                i64::try_from(ms).ok().and_then(DateTime::from_timestamp_millis).map(DeviceTime).ok_or_else(|| E::custom("ts out of range"))
            }
            fn visit_i64<E: de::Error>(self, ms: i64) -> Result<DeviceTime, E> {
                DateTime::from_timestamp_millis(ms).map(DeviceTime).ok_or_else(|| E::custom("ts out of range"))
            }
        }
        d.deserialize_any(V)
    }
}

/// A register value read exactly: from text, an integer, or a JSON number whose shortest
/// round-trip text is the literal the device sent (true up to 15 significant digits).
struct ReadingValue(Decimal);

impl<'de> Deserialize<'de> for ReadingValue {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = ReadingValue;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a decimal number or decimal string")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<ReadingValue, E> {
                Decimal::from_str(s.trim()).map(ReadingValue).map_err(|_| E::custom(format!("{s:?} is not a decimal")))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ReadingValue, E> {
                Ok(ReadingValue(Decimal::from(v)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ReadingValue, E> {
                Ok(ReadingValue(Decimal::from(v)))
            }
            #[allow(clippy::float_arithmetic)]
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<ReadingValue, E> {
                if !v.is_finite() {
                    return Err(E::custom("value is not finite"));
                }
                self.visit_str(&v.to_string())
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TelemetryPayload {
    /// Read only behind an external broker that does not authenticate devices itself.
    #[serde(default)]
    key: Option<String>,
    seq: u64,
    /// The device's boot counter (optional): one more at every start.
    #[serde(default)]
    boot: u64,
    ts: DeviceTime,
    value: ReadingValue,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EventPayload {
    /// Read only behind an external broker that does not authenticate devices itself.
    #[serde(default)]
    key: Option<String>,
    seq: u64,
    /// The device's boot counter (optional): one more at every start.
    #[serde(default)]
    boot: u64,
    ts: DeviceTime,
    /// A gate's or barrier's event…
    #[serde(default)]
    action: Option<GateAction>,
    #[serde(default)]
    plate: Option<String>,
    /// …or the tag a patrol reader read (the RFID/NFC id fixed at a checkpoint).
    #[serde(default)]
    tag: Option<String>,
}


#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HeartbeatPayload {
    /// Read only behind an external broker that does not authenticate devices itself.
    #[serde(default)]
    key: Option<String>,
    seq: u64,
    /// The device's boot counter (optional): one more at every start.
    #[serde(default)]
    boot: u64,
    ts: DeviceTime,
}

fn json<'a, T: Deserialize<'a>>(payload: &'a [u8]) -> Result<T, Rejection> {
    let parsed = serde_json::from_slice(payload).map_err(|e| {
        if e.is_syntax() || e.is_eof() {
            Rejection::NotJson(e.to_string())
        } else {
            Rejection::WrongType(e.to_string())
        }
    });
    // serde would read a struct from an array too; devices send objects, anything else is wrong.
    match payload.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => parsed,
        _ if parsed.is_err() => parsed,
        _ => Err(Rejection::WrongType("payload must be a JSON object".into())),
    }
}

/// The key of a device: HMAC-SHA256 of `community/device` under the deployment's device secret,
/// hex, first 16 bytes. Provisioned into the device; checked on every message.
pub fn device_key(secret: &[u8], community: &str, device: &str) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(community.as_bytes());
    mac.update(b"/");
    mac.update(device.as_bytes());
    mac.finalize().into_bytes()[..16].iter().map(|b| format!("{b:02x}")).collect()
}

/// The start of every client id Hutong's own clients use; devices may not use it (review D3).
pub const INGEST_CLIENT_PREFIX: &str = "hutong-";

/// The user the server's own MQTT clients (ingest, the simulator) connect as.
pub const SERVICE_USER: &str = "hutong";

/// The service user's password, derived from the device secret like every device key.
pub fn service_password(secret: &[u8]) -> String {
    device_key(secret, "_service", SERVICE_USER)
}

/// Compares in time independent of where the texts differ.
pub(crate) fn same_key(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Decodes a payload into the command for the device actor and the key it carried.
pub fn decode(channel: Channel, payload: &[u8], seen: DateTime<Utc>) -> Result<(DeviceCommand, Option<String>), Rejection> {
    if payload.len() > MAX_PAYLOAD {
        return Err(Rejection::Oversized(payload.len()));
    }
    let signal = |seq, boot, ts: DeviceTime| Signal { seq, boot, at: ts.0, seen };
    Ok(match channel {
        Channel::Telemetry => {
            let p: TelemetryPayload = json(payload)?;
            (DeviceCommand::RecordReading { signal: signal(p.seq, p.boot, p.ts), value: p.value.0 }, p.key)
        }
        Channel::Event => {
            let p: EventPayload = json(payload)?;
            if p.plate.as_ref().is_some_and(|plate| plate.chars().count() > 16) {
                return Err(Rejection::WrongType("plate longer than 16 characters".into()));
            }
            match (p.action, p.tag) {
                (Some(action), None) => (DeviceCommand::RecordGateEvent { signal: signal(p.seq, p.boot, p.ts), action, plate: p.plate }, p.key),
                (None, Some(tag)) if p.plate.is_none() => {
                    if !is_valid_tag(&tag) {
                        return Err(Rejection::WrongType(format!("tag must be 1–{MAX_TAG} letters, digits, ':' or '-'")));
                    }
                    (DeviceCommand::RecordTagRead { signal: signal(p.seq, p.boot, p.ts), tag: tag.to_ascii_uppercase() }, p.key)
                }
                _ => return Err(Rejection::WrongType("an event carries either `action` (a gate or barrier) or `tag` (a patrol reader)".into())),
            }
        }
        Channel::Heartbeat => {
            let p: HeartbeatPayload = json(payload)?;
            (DeviceCommand::RecordHeartbeat { signal: signal(p.seq, p.boot, p.ts) }, p.key)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_763_798_400, 0).unwrap()
    }

    #[test]
    fn topics_parse_or_say_why_not() {
        let t = parse_topic("hutong/heyuan/devices/wm-1-1-101/telemetry").unwrap();
        assert_eq!((t.community, t.device, t.channel), ("heyuan", "wm-1-1-101", Channel::Telemetry));
        for bad in [
            "hutong/heyuan/devices/wm-1/other",
            "hutong/heyuan/devices/wm-1",
            "hutong/heyuan/devices/wm-1/telemetry/extra",
            "other/heyuan/devices/wm-1/telemetry",
            "hutong/he yuan/devices/wm-1/telemetry",
            "hutong//devices/wm-1/telemetry",
        ] {
            assert_eq!(parse_topic(bad).unwrap_err().reason(), "bad_topic", "{bad}");
        }
    }

    #[test]
    fn payloads_decode_exactly() {
        let cases: &[(Channel, &str, &str)] = &[
            (Channel::Telemetry, r#"{"key":"k","seq":1,"ts":"2026-11-22T08:00:00Z","value":"1234.567"}"#, "1234.567"),
            (Channel::Telemetry, r#"{"key":"k","seq":1,"ts":1763798400000,"value":1234.567}"#, "1234.567"),
            (Channel::Telemetry, r#"{"key":"k","seq":1,"ts":1763798400000,"value":0.1}"#, "0.1"),
            (Channel::Telemetry, r#"{"key":"k","seq":1,"ts":1763798400000,"value":42}"#, "42"),
        ];
        for (channel, payload, want) in cases {
            match decode(*channel, payload.as_bytes(), now()).unwrap().0 {
                DeviceCommand::RecordReading { value, signal } => {
                    assert_eq!(value.to_string(), *want, "{payload}");
                    assert_eq!(signal.seen, now());
                }
                other => panic!("{other:?}"),
            }
        }
        let gate = decode(Channel::Event, br#"{"key":"k","seq":9,"ts":1763798400000,"action":"forced_open"}"#, now()).unwrap().0;
        assert!(matches!(gate, DeviceCommand::RecordGateEvent { action: GateAction::ForcedOpen, plate: None, .. }));
        let read = decode(Channel::Event, br#"{"key":"k","seq":11,"ts":1763798400000,"tag":"04:a1:b2:c3"}"#, now()).unwrap().0;
        assert!(matches!(read, DeviceCommand::RecordTagRead { ref tag, .. } if tag == "04:A1:B2:C3"), "{read:?}");
        let hb = decode(Channel::Heartbeat, br#"{"key":"k","seq":10,"ts":"2026-11-22T08:00:00+08:00"}"#, now()).unwrap().0;
        assert!(matches!(hb, DeviceCommand::RecordHeartbeat { signal } if signal.seq == 10));
    }

    #[test]
    fn bad_payloads_are_refused_with_a_reason() {
        let big = vec![b' '; MAX_PAYLOAD + 1];
        let cases: &[(Channel, &[u8], &str)] = &[
            (Channel::Telemetry, b"not json", "not_json"),
            (Channel::Telemetry, b"{\"seq\":1,", "not_json"),
            (Channel::Telemetry, &[0xff, 0xfe], "not_json"),
            (Channel::Telemetry, br#"{"key":"k","seq":"one","ts":1,"value":1}"#, "wrong_type"),
            (Channel::Telemetry, br#"{"key":"k","seq":1,"ts":1}"#, "wrong_type"),
            (Channel::Telemetry, br#"{"key":"k","seq":-1,"ts":1,"value":1}"#, "wrong_type"),
            (Channel::Telemetry, br#"{"key":"k","seq":1,"ts":"yesterday","value":1}"#, "wrong_type"),
            (Channel::Telemetry, br#"{"key":"k","seq":1,"ts":1,"value":"12abc"}"#, "wrong_type"),
            (Channel::Telemetry, br#"{"key":"k","seq":1,"ts":1,"value":1,"extra":true}"#, "wrong_type"),
            (Channel::Telemetry, br#"[1,2,3]"#, "wrong_type"),
            (Channel::Event, br#"{"key":"k","seq":1,"ts":1,"action":"exploded"}"#, "wrong_type"),
            (Channel::Event, br#"{"key":"k","seq":1,"ts":1,"action":"vehicle_in","plate":"AAAAAAAAAAAAAAAAAAAAAAAA"}"#, "wrong_type"),
            (Channel::Event, br#"{"key":"k","seq":1,"ts":1}"#, "wrong_type"),
            (Channel::Event, br#"{"key":"k","seq":1,"ts":1,"action":"vehicle_in","tag":"04A1"}"#, "wrong_type"),
            (Channel::Event, br#"{"key":"k","seq":1,"ts":1,"tag":"04A1","plate":"X"}"#, "wrong_type"),
            (Channel::Event, br#"{"key":"k","seq":1,"ts":1,"tag":""}"#, "wrong_type"),
            (Channel::Event, br#"{"key":"k","seq":1,"ts":1,"tag":"04 A1; DROP"}"#, "wrong_type"),
            (Channel::Event, br#"{"key":"k","seq":1,"ts":1,"tag":"0123456789012345678901234567890123"}"#, "wrong_type"),
            (Channel::Heartbeat, &big, "oversized"),
        ];
        for (channel, payload, reason) in cases {
            let err = decode(*channel, payload, now()).unwrap_err();
            assert_eq!(err.reason(), *reason, "{}", String::from_utf8_lossy(payload));
            assert!(!err.to_string().is_empty());
        }
    }
}
