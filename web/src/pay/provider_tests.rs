//! The sandbox provider: what it believes, and what it says of an order.

use super::*;

/// What a step answered, or the test stops saying which step failed and why.
fn ok<T, E: std::fmt::Debug>(step: &str, answer: Result<T, E>) -> T {
    match answer {
        Ok(value) => value,
        Err(e) => panic!("{step}: {e:?}"),
    }
}

fn headers(ts: i64, nonce: &str, signature: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (name, value) in [("hutong-pay-timestamp", ts.to_string()), ("hutong-pay-nonce", nonce.to_string()), ("hutong-pay-signature", signature.to_string())] {
        h.insert(name, ok("a header value", value.parse()));
    }
    h
}

#[tokio::test]
async fn a_notification_is_believed_once_and_only_as_signed() {
    let sandbox = Sandbox::new(b"the provider's key".to_vec(), Arc::new(hutong_actors::journal::MemoryJournal::new()));
    let now = Utc::now();
    let body = br#"{"community":"heyuan","order":"po-1","txn":"t-1","amount":"70.75","paid_at":"2027-01-05T08:00:00Z"}"#;
    let signed = |ts: i64, nonce: &str, body: &[u8]| headers(ts, nonce, &sandbox.sign(ts, nonce, body));
    let (community, n) = ok("a signed notification", sandbox.verify(&signed(now.timestamp(), "n-1", body), body, now));
    assert_eq!((community.as_str(), n.order.as_str(), n.txn.as_str(), n.amount.to_string().as_str()), ("heyuan", "po-1", "t-1", "70.75"));
    assert_eq!(sandbox.verify(&signed(now.timestamp(), "n-1", body), body, now).err(), Some("replayed"));
    let altered = body.to_vec().iter().map(|b| if *b == b'7' { b'8' } else { *b }).collect::<Vec<u8>>();
    assert_eq!(sandbox.verify(&signed(now.timestamp(), "n-2", body), &altered, now).err(), Some("signature"), "an altered amount");
    assert_eq!(sandbox.verify(&signed(now.timestamp() - 301, "n-3", body), body, now).err(), Some("stale"));
    assert_eq!(sandbox.verify(&HeaderMap::new(), body, now).err(), Some("unsigned"));
    assert_eq!(sandbox.verify(&signed(now.timestamp(), "n-4", b"not json"), b"not json", now).err(), Some("body"));
    let other = Sandbox::new(b"another key".to_vec(), Arc::new(hutong_actors::journal::MemoryJournal::new()));
    assert_eq!(other.verify(&signed(now.timestamp(), "n-5", body), body, now).err(), Some("signature"), "another provider's key");
}

#[tokio::test]
async fn an_order_is_paid_at_the_provider_only_once_charged() {
    let sandbox = Sandbox::new(b"k".to_vec(), Arc::new(hutong_actors::journal::MemoryJournal::new()));
    let checkout = ok("registering the order", sandbox.open("heyuan", "po-7", Money::from_fen(1200)).await);
    assert_eq!(checkout, "/sandbox/checkout/heyuan/po-7");
    assert!(ok("asking about the order", sandbox.query("heyuan", "po-7").await).is_none(), "not paid yet");
    let ledger = ok("the sandbox's books", sandbox.ledger().await);
    ok("the charge", ledger.execute(&SandboxCommand::Charge { community: "heyuan".into(), order: "po-7".into(), txn: "sbx-1".into(), at: Utc::now() }, 0).await);
    let Some(paid) = ok("asking about the order", sandbox.query("heyuan", "po-7").await) else { panic!("charged, the order is paid at the provider") };
    assert_eq!((paid.txn.as_str(), paid.amount), ("sbx-1", Money::from_fen(1200)));
    ok("registering the order again", sandbox.open("heyuan", "po-7", Money::from_fen(1200)).await);
    assert!(ok("asking about the order", sandbox.query("heyuan", "po-7").await).is_some(), "registering the order again keeps its charge");
    let day = Utc::now() - chrono::TimeDelta::days(1);
    assert_eq!(ok("the statement", sandbox.statement("heyuan", day, Utc::now() + chrono::TimeDelta::days(1)).await).len(), 1);
    assert!(ok("the statement", sandbox.statement("lianyuan", day, Utc::now() + chrono::TimeDelta::days(1)).await).is_empty(), "another community's statement");
}
