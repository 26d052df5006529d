//! The security review's findings, one test each, named by finding id, each sending the review's
//! black-box sequence to the real binary and asserting the safe answer.

use std::process::Command;
use std::sync::Arc;

use hutong_actors::journal::{Append, Journal, SqliteJournal, SqliteOptions};
use hutong_core::book::{BookEvent, PayChannel, Payment};
use hutong_core::{HouseId, Money};
use hutong_tests::*;
use serde_json::{Value, json};

fn pay(server: &Server, token: &str, key: &str, body: &str) -> (u16, Value) {
    let (status, _, reply) = request(
        server.http,
        "POST",
        "/api/v1/communities/heyuan/payments",
        Some(token),
        &[("Content-Type", "application/json"), ("Idempotency-Key", key)],
        body.as_bytes(),
    )
    .unwrap();
    (status, serde_json::from_slice(&reply).unwrap_or(Value::Null))
}

fn message(v: &Value) -> &str {
    v["error"]["message"].as_str().unwrap_or_default()
}

/// M1 and M2: the review's two cashier payments of 5e28 (and sub-fen or float amounts) are refused
/// with a sentence; the community keeps serving and the server restarts on the same journal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn m1_m2_amounts_past_the_bound_or_the_fen_are_refused_and_the_community_survives() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("h");
    let server = Server::demo(&data, 0, &[]).await;
    let cashier = server.login("cashier");
    for key in ["p1", "p2"] {
        let (status, reply) = pay(&server, &cashier, key, r#"{"house":"荷花苑-1-1-101","amount":"50000000000000000000000000000","channel":"cash"}"#);
        assert_eq!(status, 400, "{reply}");
        assert!(message(&reply).contains("付款金额超出允许范围"), "{reply}");
    }
    let (status, reply) = pay(&server, &cashier, "p3", r#"{"house":"荷花苑-1-1-101","amount":12345678901234567.89,"channel":"cash"}"#);
    assert_eq!(status, 400, "a JSON number: {reply}");
    assert!(message(&reply).contains("字符串"), "{reply}");
    let (status, reply) = pay(&server, &cashier, "p4", r#"{"house":"荷花苑-1-1-102","amount":"0.001","channel":"cash"}"#);
    assert_eq!(status, 400, "a sub-fen amount: {reply}");
    assert!(message(&reply).contains("两位小数"), "{reply}");
    let bills = server.get_json("/api/v1/communities/heyuan/bills");
    assert!(bills["total"].as_u64().unwrap() > 0);
    assert!(!bills["rows"].as_array().unwrap().iter().any(|b| b["state"] == "partly_paid"), "no sub-fen payment landed");
    server.stop();
    let again = Server::demo(&data, 0, &[]).await;
    let (_, health) = http_get(again.http, "/healthz").unwrap();
    assert!(health.contains("\"ready\""), "{health}");
}

/// V1: stored settings that would overflow a bill run or a reminder date are refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v1_a_tariff_past_its_bounds_is_refused_and_bill_runs_keep_working() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::demo(&dir.path().join("h"), 0, &[]).await;
    let finance = server.login("finance");
    let path = "/api/v1/communities/heyuan/tariff";
    let tariff = server.get_json(path);
    let mut huge = tariff.clone();
    huge["rules"][0]["formula"] = json!({"type": "area_times_price", "unit_price": "79228162514264337593543950335"});
    let (status, reply) = http(server.http, "PUT", path, Some(&finance), Some(&huge.to_string())).unwrap();
    assert_eq!(status, 400, "{reply}");
    assert!(reply.contains("单价超出允许范围"), "{reply}");
    let mut forever = tariff.clone();
    forever["reminder_limits"] = json!({"days": {"in_app": 4294967295u64}});
    let (status, reply) = http(server.http, "PUT", path, Some(&finance), Some(&forever.to_string())).unwrap();
    assert_eq!(status, 400, "{reply}");
    let run = json!({"cycle": "monthly", "timing": "in_advance", "items": ["property"], "commit": false}).to_string();
    for _ in 0..6 {
        let (status, reply) = http(server.http, "POST", "/api/v1/communities/heyuan/bill-runs", Some(&finance), Some(&run)).unwrap();
        assert_eq!(status, 200, "{reply}");
    }
    assert_eq!(http(server.http, "GET", "/api/v1/communities/heyuan/bills", Some(&finance), None).unwrap().0, 200);
}

/// Two payments whose sum overflows `Decimal`, written straight into the journal as an old bug
/// (or a hand edit) might have left them.
async fn poison(data: &std::path::Path) -> u64 {
    let journal: Arc<dyn Journal> = Arc::new(SqliteJournal::open(SqliteOptions::new(data.join("journal.db"))).unwrap());
    let stream = "book/heyuan/heyuan-b01";
    let head = journal.head(stream).await.unwrap();
    let huge = Money::exact("50000000000000000000000000000").unwrap();
    let payloads = (1..=2)
        .map(|n| {
            let payment = Payment {
                no: format!("P-POISON-{n}"),
                key: format!("poison-{n}"),
                house: HouseId::new("heyuan-1-1-101"),
                channel: PayChannel::Cash,
                payer: String::new(),
                by: "cashier".into(),
                at: chrono::NaiveDate::from_ymd_opt(2026, 11, 1).unwrap().and_hms_opt(9, 0, 0).unwrap(),
                amount: huge,
                parts: Vec::new(),
                prepaid: huge,
                asked: Vec::new(),
            };
            serde_json::to_vec(&BookEvent::PaymentTaken { payment }).unwrap()
        })
        .collect();
    journal.append(Append { stream: stream.into(), expected: head, at_ms: now_ms(), payloads }).await.unwrap();
    head + 2
}

fn hutong(args: &[&str], data: &std::path::Path) -> String {
    let out = Command::new(hutong_bin()).args(args).arg("--data").arg(data).output().unwrap();
    assert!(out.status.success(), "hutong {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// M1 (the journal side): a journal holding a record that cannot be applied no longer stops the
/// server. The stream is quarantined — named in the log, counted on /healthz and /metrics, its
/// building refusing writes with 503 while every other building serves — and
/// `hutong journal inspect|quarantine` lets the operator set the record aside.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn m1_a_poisoned_stream_is_quarantined_and_the_community_still_starts() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("h");
    Server::demo(&data, 0, &[]).await.stop();
    let bad = poison(&data).await;

    let server = Server::demo(&data, 0, &[]).await;
    let (status, health) = http_get(server.http, "/healthz").unwrap();
    assert_eq!(status, 200);
    assert!(health.contains("\"degraded\"") && health.contains("\"quarantined\":1"), "{health}");
    assert_eq!(server.metric("hutong_quarantined_streams"), 1);
    let log = std::fs::read_to_string(&server.log).unwrap();
    assert!(log.contains("book/heyuan/heyuan-b01") && log.contains("quarantined"), "the log names the stream");
    let bills = server.get_json("/api/v1/communities/heyuan/bills?q=荷花苑-1-1-101");
    assert!(bills["total"].as_u64().unwrap() > 0, "the quarantined building is read from the state before the record");
    let cashier = server.login("cashier");
    let (status, reply) = pay(&server, &cashier, "after-1", r#"{"house":"荷花苑-1-1-101","amount":"100.00","channel":"cash"}"#);
    assert_eq!(status, 503, "the quarantined building takes no writes: {reply}");
    let (status, reply) = pay(&server, &cashier, "after-2", r#"{"house":"荷花苑-2-1-101","channel":"cash"}"#);
    assert_eq!(status, 200, "another building serves on: {reply}");
    server.stop();

    let inspected = hutong(&["journal", "inspect", "book/heyuan/heyuan-b01"], &data);
    assert!(inspected.contains(&format!("stops at record {bad}")), "{inspected}");
    for seq in [bad - 1, bad] {
        hutong(&["journal", "quarantine", "book/heyuan/heyuan-b01", &seq.to_string(), "--reason", "M1 overflow test"], &data);
    }
    let inspected = hutong(&["journal", "inspect", "book/heyuan/heyuan-b01"], &data);
    assert!(inspected.contains("recovers: yes"), "{inspected}");

    let server = Server::demo(&data, 0, &[]).await;
    let (_, health) = http_get(server.http, "/healthz").unwrap();
    assert!(health.contains("\"ready\""), "{health}");
    let cashier = server.login("cashier");
    let (status, reply) = pay(&server, &cashier, "after-3", r#"{"house":"荷花苑-1-1-101","amount":"100.00","channel":"cash"}"#);
    assert_eq!(status, 200, "{reply}");
}
