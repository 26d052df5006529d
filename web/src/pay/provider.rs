//! The payment provider as Hutong uses it (P9), and the sandbox provider that runs inside Hutong
//! for the demo and the tests.
//!
//! `Provider` is the one interface: an order is registered with the provider (its amount) and the
//! owner is sent to the provider's checkout; the provider's notification is believed only when
//! its signature verifies, it is fresh and its nonce new; an order whose notification does not
//! come is asked about; the provider's statement is what reconciliation (一键对账) and the finance
//! pull read. An adapter for WeChat Pay v3 or Alipay turns their wire (RSA signatures, encrypted
//! resources) into these calls; nothing else in Hutong changes.
//!
//! The sandbox is modelled on WeChat Pay v3: its own journaled books (`SandboxLedger`), a hosted
//! checkout page, and an asynchronous notification by HTTP signing `timestamp \n nonce \n body \n`
//! with a key both sides hold (HMAC-SHA256), a few attempts.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Html;
use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;
use hmac::Mac;
use hutong_actors::journal::Journal;
use hutong_actors::journaled::{Shared, StreamId};
use hutong_core::Money;
use hutong_core::pay::{Notification, SandboxCommand, SandboxLedger, StatementLine};
use serde::Deserialize;

use super::{HmacSha256, Nonces, NotifyBody, hex_id, signed};
use crate::app::App;
use crate::error::{ApiError, internal};

/// A payment provider, as Hutong asks it things.
pub trait Provider: Send + Sync {
    /// Registers an order of a community for `amount` (WeChat Pay's unified order); answers
    /// where the owner pays it.
    fn open<'a>(&'a self, community: &'a str, order: &'a str, amount: Money) -> BoxFuture<'a, Result<String, ApiError>>;
    /// A notification as it arrived: the community and what was paid, if it verifies — or why
    /// not (`unsigned`, `stale`, `signature`, `replayed`, `body`), to refuse and count.
    fn verify(&self, headers: &HeaderMap, body: &[u8], now: DateTime<Utc>) -> Result<(String, Notification), &'static str>;
    /// What the provider says of an order whose notification has not come: paid, or not (yet).
    fn query<'a>(&'a self, community: &'a str, order: &'a str) -> BoxFuture<'a, Result<Option<Notification>, ApiError>>;
    /// The provider's statement of a community's transactions in `[from, to)`.
    fn statement<'a>(&'a self, community: &'a str, from: DateTime<Utc>, to: DateTime<Utc>) -> BoxFuture<'a, Result<Vec<StatementLine>, ApiError>>;
}

/// The sandbox provider: its books, the key it signs with, where it notifies.
pub struct Sandbox {
    journal: Arc<dyn Journal>,
    ledger: OnceLock<Arc<Shared<SandboxLedger>>>,
    /// The key the sandbox signs with and Hutong verifies with.
    key: Vec<u8>,
    /// Notification nonces seen within the skew window.
    nonces: Nonces,
    /// Where the sandbox delivers notifications: this server's own address, once it listens.
    pub notify_base: OnceLock<String>,
    client: reqwest::Client,
}

impl Sandbox {
    pub fn new(key: Vec<u8>, journal: Arc<dyn Journal>) -> Self {
        let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap_or_default();
        Sandbox { journal, ledger: OnceLock::new(), key, nonces: Nonces::default(), notify_base: OnceLock::new(), client }
    }

    /// The sandbox's books, recovered from its journal on first use.
    async fn ledger(&self) -> Result<Arc<Shared<SandboxLedger>>, ApiError> {
        if let Some(s) = self.ledger.get() {
            return Ok(s.clone());
        }
        let recovered = Arc::new(Shared::recover(self.journal.clone(), StreamId::named("sandbox-provider"), SandboxLedger::default).await.map_err(internal)?);
        Ok(self.ledger.get_or_init(|| recovered).clone())
    }

    /// The MAC of a notification: HMAC-SHA256 over `timestamp \n nonce \n body \n`.
    fn mac(&self, timestamp: i64, nonce: &str, body: &[u8]) -> Option<HmacSha256> {
        let mut mac = <HmacSha256 as Mac>::new_from_slice(&self.key).ok()?;
        mac.update(format!("{timestamp}\n{nonce}\n").as_bytes());
        mac.update(body);
        mac.update(b"\n");
        Some(mac)
    }

    /// A notification's signature, hex (the provider's side).
    pub fn sign(&self, timestamp: i64, nonce: &str, body: &[u8]) -> String {
        self.mac(timestamp, nonce, body).map(|m| m.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()).unwrap_or_default()
    }
}

impl Provider for Sandbox {
    fn open<'a>(&'a self, community: &'a str, order: &'a str, amount: Money) -> BoxFuture<'a, Result<String, ApiError>> {
        Box::pin(async move {
            let command = SandboxCommand::Register { community: community.to_string(), order: order.to_string(), amount };
            self.ledger().await?.execute(&command, Utc::now().timestamp_millis()).await.map_err(internal)?;
            Ok(format!("/sandbox/checkout/{community}/{order}"))
        })
    }

    fn verify(&self, headers: &HeaderMap, body: &[u8], now: DateTime<Utc>) -> Result<(String, Notification), &'static str> {
        let (ts, nonce, given) = signed(headers, ["hutong-pay-timestamp", "hutong-pay-nonce", "hutong-pay-signature"], now)?;
        // Compared in constant time.
        self.mac(ts, &nonce, body).ok_or("signature")?.verify_slice(&given).map_err(|_| "signature")?;
        if !self.nonces.fresh(nonce, ts, now) {
            return Err("replayed");
        }
        let n: NotifyBody = serde_json::from_slice(body).map_err(|_| "body")?;
        Ok((n.community, Notification { order: n.order, txn: n.txn, amount: n.amount, paid_at: n.paid_at }))
    }

    fn query<'a>(&'a self, community: &'a str, order: &'a str) -> BoxFuture<'a, Result<Option<Notification>, ApiError>> {
        Box::pin(async move { Ok(self.ledger().await?.read().paid(community, order)) })
    }

    fn statement<'a>(&'a self, community: &'a str, from: DateTime<Utc>, to: DateTime<Utc>) -> BoxFuture<'a, Result<Vec<StatementLine>, ApiError>> {
        Box::pin(async move { Ok(self.ledger().await?.read().statement(community, from, to)) })
    }
}

// ---- The sandbox's own pages ----

/// `GET /sandbox/checkout/{community}/{order}`: the provider's hosted checkout page.
pub async fn checkout_page(State(app): State<Arc<App>>, Path((community, order)): Path<(String, String)>) -> Result<Html<String>, ApiError> {
    let ledger = app.pay.sandbox.ledger().await?;
    let (amount, paid) = ledger.read().order(&community, &order).ok_or_else(|| ApiError::not_found("支付订单", "payment order", &order))?;
    let action = if paid {
        "<p class=done>该订单已支付</p>".to_string()
    } else {
        format!("<form method=post action=\"/sandbox/checkout/{community}/{order}\"><button data-test=sandbox-pay>确认支付 ¥{amount}</button></form>")
    };
    Ok(Html(format!(
        "<!doctype html><html lang=zh><meta charset=utf-8><meta name=viewport content=\"width=device-width,initial-scale=1\"><title>沙箱支付</title>\
         <style>body{{font-family:sans-serif;background:#f4f6f8;margin:0;padding:2rem 1rem;text-align:center}}.card{{background:#fff;border-radius:.8rem;padding:1.5rem;max-width:24rem;margin:auto}}button{{font-size:1.2rem;padding:.8rem 2rem;background:#07c160;color:#fff;border:0;border-radius:.5rem}}</style>\
         <div class=card><h1>沙箱支付</h1><p>商户订单 {order}</p><p data-test=sandbox-amount style=\"font-size:2rem\">¥{amount}</p>{action}<p><a href=\"/\">返回</a></p></div></html>"
    )))
}

#[derive(Deserialize)]
pub struct ChargeQuery {
    /// How many times the provider notifies (0: the notification is lost, and Hutong must ask;
    /// several: a retry storm); 1 by default.
    #[serde(default)]
    pub notify: Option<u8>,
}

/// `POST /sandbox/checkout/{community}/{order}`: the owner confirms on the provider's page. The
/// provider records the transaction, then notifies Hutong on its own, retrying until answered.
pub async fn charge(State(app): State<Arc<App>>, Path((community, order)): Path<(String, String)>, Query(q): Query<ChargeQuery>) -> Result<Html<String>, ApiError> {
    let ledger = app.pay.sandbox.ledger().await?;
    let txn = format!("sbx{}", hex_id());
    let command = SandboxCommand::Charge { community: community.clone(), order: order.clone(), txn, at: app.clock.now() };
    ledger.execute(&command, app.clock.now().timestamp_millis()).await.map_err(|e| ApiError::bad(&e.to_string(), &e.to_string()))?;
    let Some(paid) = ledger.read().paid(&community, &order) else { return Err(internal("a charge left no transaction")) };
    let times = q.notify.unwrap_or(1).min(5);
    for _ in 0..times {
        app.pay.sandbox.clone().deliver(community.clone(), paid.clone());
    }
    Ok(Html(format!(
        "<!doctype html><html lang=zh><meta charset=utf-8><meta name=viewport content=\"width=device-width,initial-scale=1\"><title>支付成功</title>\
         <div style=\"font-family:sans-serif;text-align:center;padding:2rem\"><h1 data-test=sandbox-done>支付成功</h1><p>¥{}</p><p><a data-test=sandbox-back href=\"/owner\">返回缴费页</a></p></div></html>",
        paid.amount
    )))
}

/// The provider's notifier: signed and sent on a task of its own, a few attempts. One that never
/// arrives is no loss: Hutong asks the provider about an order still open.
impl Sandbox {
    fn deliver(self: Arc<Self>, community: String, paid: Notification) {
        tokio::spawn(async move {
            let Some(base) = self.notify_base.get().cloned() else {
                tracing::warn!("the sandbox provider has no address to notify");
                return;
            };
            let body = serde_json::to_vec(&NotifyBody { community, order: paid.order, txn: paid.txn, amount: paid.amount, paid_at: paid.paid_at }).unwrap_or_default();
            for _ in 0..3 {
                let (ts, nonce) = (Utc::now().timestamp(), hex_id());
                let signature = self.sign(ts, &nonce, &body);
                let sent = self
                    .client
                    .post(format!("{base}/api/v1/pay/notify/sandbox"))
                    .header("Content-Type", "application/json")
                    .header("Hutong-Pay-Timestamp", ts.to_string())
                    .header("Hutong-Pay-Nonce", nonce)
                    .header("Hutong-Pay-Signature", signature)
                    .body(body.clone())
                    .send()
                    .await;
                if sent.is_ok_and(|r| r.status().is_success()) {
                    return;
                }
            }
            tracing::warn!("the sandbox provider could not notify an order; Hutong will ask about it");
        });
    }
}

#[cfg(test)]
#[path = "provider_tests.rs"]
mod tests;
