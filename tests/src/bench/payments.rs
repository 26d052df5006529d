//! The payment path, end to end: a cashier's `POST …/payments` (one pending bill each, its own
//! idempotency key) against a demo server in this process — HTTP, authorisation, the building's
//! book deciding, the durable append, the audit line — one after another, as a desk works.

use std::time::Instant;

use hutong_core::api::{BillPage, PayBody, SignedIn};
use hutong_core::book::PayChannel;

use super::demo_server;

#[derive(Debug, Clone, clap::Args)]
pub struct PaymentsBench {
    /// Payments to take, one after another.
    #[arg(long, default_value_t = 400)]
    pub count: usize,
}

pub async fn payments(options: PaymentsBench) -> anyhow::Result<()> {
    let server = demo_server().await?;
    let http = server.http;
    let result = tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
        let (_, body) = crate::http(http, "POST", "/api/v1/auth/login", None, Some(r#"{"account":"cashier","password":"bench-password"}"#))?;
        let token = serde_json::from_str::<SignedIn>(&body)?.token;
        let (_, body) = crate::http(http, "GET", "/api/v1/communities/heyuan/bills?state=pending&page_size=500", Some(&token), None)?;
        let page: BillPage = serde_json::from_str(&body)?;
        let mut times_us = Vec::with_capacity(options.count);
        let started = Instant::now();
        for (i, bill) in page.rows.iter().take(options.count).enumerate() {
            let pay = PayBody { key: None, house: bill.row.address.clone(), bills: vec![bill.row.no.clone()], amount: None, channel: PayChannel::Cash, payer: "bench".into(), reference: None };
            let key = format!("bench-{i}");
            let t = Instant::now();
            let (status, _, reply) = crate::request(http, "POST", "/api/v1/communities/heyuan/payments", Some(&token), &[("Content-Type", "application/json"), ("Idempotency-Key", &key)], serde_json::to_string(&pay)?.as_bytes())?;
            times_us.push(u64::try_from(t.elapsed().as_micros()).unwrap_or(u64::MAX));
            anyhow::ensure!(status == 200, "payment refused: {}", String::from_utf8_lossy(&reply));
        }
        let elapsed = started.elapsed();
        times_us.sort_unstable();
        #[allow(clippy::float_arithmetic)]
        let per_sec = times_us.len() as f64 / elapsed.as_secs_f64();
        println!(
            "payments: {} in {:.2?} ({per_sec:.0}/s), one after another; p50 {:.2} ms, p99 {:.2} ms",
            times_us.len(),
            elapsed,
            super::ingest::percentile(&times_us, 0.5),
            super::ingest::percentile(&times_us, 0.99)
        );
        Ok(())
    })
    .await?;
    server.stop().await;
    result
}
