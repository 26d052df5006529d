//! Counters and gauges rendered in the Prometheus text format. Handles are looked up once and
//! kept, so the hot path is one atomic add.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

#[derive(Default)]
pub struct Metrics {
    counters: Mutex<BTreeMap<(&'static str, String), Arc<AtomicU64>>>,
    gauges: Mutex<BTreeMap<(&'static str, String), Arc<AtomicI64>>>,
    help: Mutex<BTreeMap<&'static str, &'static str>>,
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
}
