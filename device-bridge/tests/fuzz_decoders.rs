//! Random input against everything that reads bytes from a device: the MQTT packet decoder of the
//! endpoint (rumqttc's v4 codec, with the endpoint's size bound) and the payload decoder. Neither
//! may panic, allocate past the bound, or take a bad input: 0 crashes is the pass mark.
//! `HUTONG_FUZZ_CASES` raises the count (the soak runs more).

use bytes::BytesMut;
use chrono::DateTime;
use hutong_device_bridge::codec::{self, Channel};
use proptest::prelude::*;
use rumqttc::mqttbytes::v4::Packet;

const MAX_PACKET: usize = 64 * 1024;

fn cases() -> u32 {
    std::env::var("HUTONG_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(20_000)
}

/// Reads every packet it can from `bytes`, as the endpoint's framed reader does.
fn read_all(bytes: &[u8]) {
    let mut buf = BytesMut::from(bytes);
    while !buf.is_empty() {
        match Packet::read(&mut buf, MAX_PACKET) {
            Ok(_) => {}
            Err(_) => break,
        }
    }
}

/// A well-formed packet's first bytes, so the fuzzer reaches past the fixed header.
fn seeds() -> Vec<Vec<u8>> {
    let field = |s: &[u8]| {
        let mut v = (s.len() as u16).to_be_bytes().to_vec();
        v.extend_from_slice(s);
        v
    };
    let mut connect = field(b"MQTT");
    connect.extend_from_slice(&[4, 0xC2, 0, 10]);
    for part in [&b"id"[..], b"heyuan/wm-1", b"key"] {
        connect.extend(field(part));
    }
    let mut publish = field(b"hutong/heyuan/devices/wm-1/telemetry");
    publish.extend_from_slice(&[0, 1]);
    publish.extend_from_slice(br#"{"seq":1,"ts":1,"value":"1"}"#);
    let mut subscribe = vec![0, 1];
    subscribe.extend(field(b"hutong/#"));
    subscribe.push(1);
    [(0x10u8, connect), (0x32, publish), (0x82, subscribe)]
        .into_iter()
        .map(|(header, body)| {
            let mut packet = vec![header, body.len() as u8];
            packet.extend(body);
            packet
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn the_mqtt_decoder_takes_any_bytes_without_panicking(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        read_all(&bytes);
    }

    #[test]
    fn the_mqtt_decoder_takes_mutated_packets_without_panicking(
        seed in 0usize..3,
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8),
        tail in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let mut packet = seeds()[seed].clone();
        for (at, byte) in flips {
            let len = packet.len();
            packet[at % len] = byte;
        }
        packet.extend(tail);
        read_all(&packet);
    }

    #[test]
    fn a_remaining_length_past_the_bound_is_refused_before_it_is_buffered(len in (MAX_PACKET as u32 + 1)..(1 << 28)) {
        // The fixed header alone claims the size; the decoder must say no without waiting for it.
        let mut header = vec![0x30u8];
        let mut n = len;
        loop {
            let mut byte = (n % 128) as u8;
            n /= 128;
            if n > 0 { byte |= 0x80; }
            header.push(byte);
            if n == 0 { break; }
        }
        let mut buf = BytesMut::from(&header[..]);
        let refused = matches!(Packet::read(&mut buf, MAX_PACKET), Err(rumqttc::mqttbytes::Error::PayloadSizeLimitExceeded(_)));
        prop_assert!(refused);
    }

    #[test]
    fn the_payload_decoder_takes_any_bytes_without_panicking(bytes in proptest::collection::vec(any::<u8>(), 0..256), channel in 0usize..3) {
        let channel = [Channel::Telemetry, Channel::Event, Channel::Heartbeat][channel];
        let _ = codec::decode(channel, &bytes, DateTime::from_timestamp(1_763_798_400, 0).unwrap());
    }

    #[test]
    fn the_payload_decoder_takes_json_like_text_without_panicking(
        seq in "[-0-9eE.]{0,30}",
        ts in "[-0-9TZ:.+\"]{0,30}",
        value in "[-0-9eE.a-z\"]{0,40}",
        boot in "[-0-9]{0,25}",
    ) {
        let text = format!(r#"{{"seq":{seq},"boot":{boot},"ts":{ts},"value":{value}}}"#);
        let now = DateTime::from_timestamp(1_763_798_400, 0).unwrap();
        if let Ok((hutong_core::device::DeviceCommand::RecordReading { value, .. }, _)) = codec::decode(Channel::Telemetry, text.as_bytes(), now) {
            // Whatever is taken is a finite decimal the device actor can bound-check.
            prop_assert!(value.scale() <= 28);
        }
    }
}
