//! Counters, gauges and latency histograms rendered in the Prometheus text format. Handles are looked up once and
//! kept, so the hot path is one atomic add.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

#[derive(Default)]
pub struct Metrics {
    counters: Mutex<BTreeMap<(&'static str, String), Arc<AtomicU64>>>,
    gauges: Mutex<BTreeMap<(&'static str, String), Arc<AtomicI64>>>,
    histograms: Mutex<BTreeMap<&'static str, Arc<Histogram>>>,
    help: Mutex<BTreeMap<&'static str, &'static str>>,
}

/// Upper bounds of a latency histogram's buckets: microseconds, and as Prometheus prints them.
const LATENCY_BUCKETS: [(u64, &str); 11] = [
    (1_000, "0.001"),
    (2_500, "0.0025"),
    (5_000, "0.005"),
    (10_000, "0.01"),
    (25_000, "0.025"),
    (50_000, "0.05"),
    (100_000, "0.1"),
    (250_000, "0.25"),
    (500_000, "0.5"),
    (1_000_000, "1"),
    (u64::MAX, "+Inf"),
];

/// A latency histogram (seconds): one atomic add per bucket an observation falls in.
#[derive(Default)]
pub struct Histogram {
    buckets: [AtomicU64; LATENCY_BUCKETS.len()],
    sum_us: AtomicU64,
}

impl Histogram {
    pub fn observe(&self, took: std::time::Duration) {
        let us = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        let slot = LATENCY_BUCKETS.iter().position(|(bound, _)| us <= *bound).unwrap_or(LATENCY_BUCKETS.len() - 1);
        self.buckets[slot].fetch_add(1, Ordering::Relaxed);
        self.sum_us.fetch_add(us, Ordering::Relaxed);
    }

    fn render(&self, name: &str, out: &mut String) {
        let mut cumulative = 0;
        for ((_, label), count) in LATENCY_BUCKETS.iter().zip(&self.buckets) {
            cumulative += count.load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{le=\"{label}\"}} {cumulative}");
        }
        let sum_us = self.sum_us.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_sum {}.{:06}", sum_us / 1_000_000, sum_us % 1_000_000);
        let _ = writeln!(out, "{name}_count {cumulative}");
    }
}

fn label_text(labels: &[(&str, &str)]) -> String {
    if labels.is_empty() {
        return String::new();
    }
    let inner: Vec<String> = labels
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")))
        .collect();
    format!("{{{}}}", inner.join(","))
}

impl Metrics {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    pub fn describe(&self, name: &'static str, help: &'static str) {
        self.help.lock().unwrap_or_else(|e| e.into_inner()).insert(name, help);
    }

    pub fn counter(&self, name: &'static str, labels: &[(&str, &str)]) -> Arc<AtomicU64> {
        let mut map = self.counters.lock().unwrap_or_else(|e| e.into_inner());
        map.entry((name, label_text(labels))).or_default().clone()
    }

    pub fn gauge(&self, name: &'static str, labels: &[(&str, &str)]) -> Arc<AtomicI64> {
        let mut map = self.gauges.lock().unwrap_or_else(|e| e.into_inner());
        map.entry((name, label_text(labels))).or_default().clone()
    }

    /// A latency histogram in seconds (no labels).
    pub fn histogram(&self, name: &'static str) -> Arc<Histogram> {
        self.histograms.lock().unwrap_or_else(|e| e.into_inner()).entry(name).or_default().clone()
    }

    pub fn inc(&self, name: &'static str, labels: &[(&str, &str)]) {
        self.counter(name, labels).fetch_add(1, Ordering::Relaxed);
    }

    /// A counter summed over all its labels.
    pub fn total(&self, name: &str) -> u64 {
        let map = self.counters.lock().unwrap_or_else(|e| e.into_inner());
        map.iter().filter(|((n, _), _)| *n == name).map(|(_, v)| v.load(Ordering::Relaxed)).sum()
    }

    /// The value of a counter (tests and benchmarks).
    pub fn counter_value(&self, name: &'static str, labels: &[(&str, &str)]) -> u64 {
        self.counter(name, labels).load(Ordering::Relaxed)
    }

    pub fn render(&self) -> String {
        let help = self.help.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let mut out = String::new();
        let counters: Vec<_> = {
            let map = self.counters.lock().unwrap_or_else(|e| e.into_inner());
            map.iter().map(|((n, l), v)| (*n, l.clone(), v.load(Ordering::Relaxed).to_string())).collect()
        };
        let gauges: Vec<_> = {
            let map = self.gauges.lock().unwrap_or_else(|e| e.into_inner());
            map.iter().map(|((n, l), v)| (*n, l.clone(), v.load(Ordering::Relaxed).to_string())).collect()
        };
        for (kind, series) in [("counter", counters), ("gauge", gauges)] {
            let mut last = "";
            for (name, labels, value) in series {
                if name != last {
                    if let Some(h) = help.get(name) {
                        let _ = writeln!(out, "# HELP {name} {h}");
                    }
                    let _ = writeln!(out, "# TYPE {name} {kind}");
                    last = name;
                }
                let _ = writeln!(out, "{name}{labels} {value}");
            }
        }
        let histograms: Vec<_> = self.histograms.lock().unwrap_or_else(|e| e.into_inner()).iter().map(|(n, h)| (*n, h.clone())).collect();
        for (name, histogram) in histograms {
            if let Some(h) = help.get(name) {
                let _ = writeln!(out, "# HELP {name} {h}");
            }
            let _ = writeln!(out, "# TYPE {name} histogram");
            histogram.render(name, &mut out);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_render_with_labels_escaped() {
        let m = Metrics::new();
        m.describe("hutong_x_total", "things");
        m.inc("hutong_x_total", &[("reason", "bad \"json\"")]);
        m.inc("hutong_x_total", &[("reason", "bad \"json\"")]);
        let text = m.render();
        assert!(text.contains("# TYPE hutong_x_total counter"));
        assert!(text.contains("hutong_x_total{reason=\"bad \\\"json\\\"\"} 2"), "{text}");
    }

    #[test]
    fn a_histogram_counts_each_observation_in_its_bucket_and_every_wider_one() {
        let m = Metrics::new();
        let h = m.histogram("hutong_wait_seconds");
        h.observe(std::time::Duration::from_micros(700));
        h.observe(std::time::Duration::from_millis(30));
        h.observe(std::time::Duration::from_secs(5));
        let text = m.render();
        assert!(text.contains("# TYPE hutong_wait_seconds histogram"), "{text}");
        assert!(text.contains("hutong_wait_seconds_bucket{le=\"0.001\"} 1\n"), "{text}");
        assert!(text.contains("hutong_wait_seconds_bucket{le=\"0.05\"} 2\n"), "{text}");
        assert!(text.contains("hutong_wait_seconds_bucket{le=\"1\"} 2\n"), "{text}");
        assert!(text.contains("hutong_wait_seconds_bucket{le=\"+Inf\"} 3\n"), "{text}");
        assert!(text.contains("hutong_wait_seconds_count 3\n"), "{text}");
        assert!(text.contains("hutong_wait_seconds_sum 5.030700\n"), "{text}");
    }
}
