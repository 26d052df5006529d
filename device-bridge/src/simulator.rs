//! The device simulator: publishes what a community's devices would — meter registers that
//! climb at each household's own pace, gate events, now and then a leak-sized spike or a forced
//! gate — over MQTT at a chosen rate, and leaves chosen devices silent so the wall sees them go
//! offline. Registers are a function of wall time, so a restarted simulator carries on climbing.

use std::collections::HashSet;
use std::time::Duration;

use chrono::Utc;
use hutong_core::device::{DeviceKind, DeviceSpec, GateAction};
use hutong_core::ids::DeviceId;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use rumqttc::{AsyncClient, Event, QoS};
use rust_decimal::Decimal;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::codec::{Channel, topic};
use crate::url::BrokerAddress;

pub struct SimulatorOptions {
    pub broker: BrokerAddress,
    /// Messages per second across all devices.
    pub rate: u32,
    /// On average one reading in this many is a spike.
    pub spike_one_in: u32,
    /// Devices that never speak.
    pub silent: HashSet<DeviceId>,
    pub seed: u64,
    /// Behind an external broker that does not ask Hutong who connects, each payload carries its
    /// device's provisioning key, derived from this device secret; `None` on Hutong's own
    /// endpoint, where the simulator signs in as the service user.
    pub payload_keys: Option<Vec<u8>>,
}

struct SimDevice {
    spec: DeviceSpec,
    /// Units per hour this household uses.
    hourly: Decimal,
    base: Decimal,
    /// Usage injected by spikes; added to every later reading so the register never goes back.
    extra: Decimal,
    seq: u64,
    key: Option<String>,
}

impl SimDevice {
    fn register(&self, now_ms: i64) -> Decimal {
        (self.base + self.hourly * used_hours(self.spec.kind, now_ms) + self.extra).round_dp(3)
    }
}

/// Hours of use up to `now_ms`. Households sleep: water and gas run still from 01:00 to 05:00
/// Beijing time (else every simulated water meter would be a night-long leak, M4); electricity
/// never stops (a fridge).
fn used_hours(kind: DeviceKind, now_ms: i64) -> Decimal {
    let hour_ms = Decimal::from(3_600_000);
    if !matches!(kind, DeviceKind::WaterMeter | DeviceKind::GasMeter) {
        return Decimal::from(now_ms) / hour_ms;
    }
    let local = now_ms + 8 * 3_600_000;
    let (days, into_day) = (local.div_euclid(86_400_000), local.rem_euclid(86_400_000));
    let hours = Decimal::from(into_day) / hour_ms;
    let asleep = (hours - Decimal::ONE).clamp(Decimal::ZERO, Decimal::from(4));
    Decimal::from(days) * Decimal::from(20) + hours - asleep
}

/// Counts of what was published.
#[derive(Debug, Default, Clone, Copy)]
pub struct SimulatorStats {
    pub published: u64,
    pub spikes: u64,
    pub gate_alarms: u64,
}

pub async fn run(devices: Vec<DeviceSpec>, options: SimulatorOptions, shutdown: CancellationToken) -> SimulatorStats {
    let mut rng = SmallRng::seed_from_u64(options.seed);
    // Sequence numbers continue from the wall clock, so a restarted simulator is never a duplicate.
    let seq0 = (Utc::now().timestamp_millis() as u64) * 1000;
    let mut fleet: Vec<SimDevice> = devices
        .into_iter()
        .filter(|d| !options.silent.contains(&d.id))
        .map(|spec| {
            let (hourly, base) = match spec.kind {
                DeviceKind::WaterMeter | DeviceKind::GasMeter => (Decimal::new(rng.random_range(5..25), 3), Decimal::from(rng.random_range(10..900))),
                _ => (Decimal::new(rng.random_range(100..600), 3), Decimal::from(rng.random_range(1000..9000))),
            };
            // Registers start from a household-sized offset below today's time-based value.
            let base = base - hourly * used_hours(spec.kind, Utc::now().timestamp_millis());
            let key = options.payload_keys.as_ref().map(|secret| crate::codec::device_key(secret, spec.community.as_str(), spec.id.as_str()));
            SimDevice { spec, hourly, base, extra: Decimal::ZERO, seq: seq0, key }
        })
        .collect();
    let mut stats = SimulatorStats::default();
    if fleet.is_empty() {
        return stats;
    }
    let mut mqtt = options.broker.options(&format!("hutong-sim-{}", options.seed));
    mqtt.set_keep_alive(Duration::from_secs(30)).set_inflight(1000);
    let (client, mut eventloop) = AsyncClient::new(mqtt, 10_000);
    let driver_stop = shutdown.clone();
    let driver = tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = driver_stop.cancelled() => break,
                event = eventloop.poll() => if let Err(e) = event {
                    tracing::warn!(error = %e, "simulator lost the broker; retrying");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                } else if let Ok(Event::Incoming(_)) = event {}
            }
        }
    });
    let ticks_per_second = 20u32;
    let per_tick = options.rate.div_ceil(ticks_per_second).max(1) as usize;
    let mut tick = tokio::time::interval(Duration::from_secs(1) / ticks_per_second);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut cursor = 0usize;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tick.tick() => {}
        }
        for _ in 0..per_tick {
            let index = cursor % fleet.len();
            cursor = cursor.wrapping_add(1);
            let device = &mut fleet[index];
            device.seq += 1;
            let now_ms = Utc::now().timestamp_millis();
            let (channel, payload) = if device.spec.kind.is_meter() {
                if options.spike_one_in > 0 && rng.random_range(0..options.spike_one_in) == 0 {
                    device.extra += if device.spec.kind == DeviceKind::ElectricityMeter { Decimal::from(40) } else { Decimal::from(3) };
                    stats.spikes += 1;
                }
                (Channel::Telemetry, json!({"seq": device.seq, "ts": now_ms, "value": device.register(now_ms).to_string()}))
            } else {
                let action = match rng.random_range(0..100) {
                    0 => {
                        stats.gate_alarms += 1;
                        GateAction::ForcedOpen
                    }
                    1..=30 => GateAction::OpenedByCard,
                    31..=60 => GateAction::OpenedByFace,
                    61..=80 => GateAction::OpenedByQr,
                    _ => GateAction::OpenedByApp,
                };
                (Channel::Event, json!({"seq": device.seq, "ts": now_ms, "action": action}))
            };
            let mut payload = payload;
            if let Some(key) = &device.key {
                payload["key"] = key.as_str().into();
            }
            let topic = topic(device.spec.community.as_str(), device.spec.id.as_str(), channel);
            if client.publish(topic, QoS::AtLeastOnce, false, payload.to_string()).await.is_err() {
                break;
            }
            stats.published += 1;
        }
    }
    let _ = client.disconnect().await;
    driver.abort();
    stats
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simulated_water_stands_still_at_night_and_electricity_does_not() {
        // 2026-12-01 00:00 Beijing = 2026-11-30 16:00 UTC.
        let midnight = chrono::DateTime::parse_from_rfc3339("2026-11-30T16:00:00Z").unwrap().timestamp_millis();
        let at = |hours: i64| midnight + hours * 3_600_000;
        let water = |h| used_hours(DeviceKind::WaterMeter, at(h));
        assert!(water(1) > water(0), "evening use");
        assert_eq!(water(1), water(3));
        assert_eq!(water(3), water(5), "nothing from 01:00 to 05:00");
        assert_eq!(water(6) - water(5), Decimal::ONE);
        assert_eq!(water(24) - water(0), Decimal::from(20), "20 hours of use a day");
        let power = |h| used_hours(DeviceKind::ElectricityMeter, at(h));
        assert_eq!(power(5) - power(1), Decimal::from(4));
    }
}
