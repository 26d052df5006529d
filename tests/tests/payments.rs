//! Owners paying online against the real binary (R6, P9): an owner signed in by SMS code pays two
//! bills of their home at once through the sandbox provider; the provider's notification comes
//! twice and a forged one once — the bills are paid once, the forged one refused and counted; a
//! notification that never comes is made good by asking the provider; a staff member cannot use
//! the owner's routes, and the owner reaches no other house.

use std::time::Duration;

use hutong_tests::*;
use serde_json::{Value, json};

const OWNER: &str = "13898424613";

fn call(server: &Server, token: &str, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let body = body.map(|b| b.to_string());
    let token = Some(token).filter(|t| !t.is_empty());
    let (status, text) = http(server.http, method, path, token, body.as_deref()).unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

/// Water bills of the owner's home for months to come, imported by the office.
fn bill_water(server: &Server, months: &[(&str, &str)]) {
    let rows: String = months.iter().map(|(month, amount)| format!("荷花苑-1-1-101,水费,{amount},{month},{month},线上缴费\n")).collect();
    let csv = format!("房屋地址,费用类型,费用金额,开始时间,结束时间,备注\n{rows}");
    let (status, _, reply) = request(server.http, "POST", "/api/v1/communities/heyuan/bills/import", Some(&server.admin), &[], csv.as_bytes()).unwrap();
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&reply));
}

fn pending_water(server: &Server, owner: &str) -> Vec<(String, String)> {
    let (status, houses) = call(server, owner, "GET", "/api/v1/owner/houses", None);
    assert_eq!(status, 200, "{houses}");
    houses[0]["pending"].as_array().unwrap().iter().filter(|b| b["item"] == "water").map(|b| (b["no"].as_str().unwrap().to_string(), b["period_start"].as_str().unwrap().to_string())).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_pays_two_bills_at_once_and_the_provider_s_word_pays_them_once() {
    let gateway = SmsGateway::start();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::demo(&data, 0, &["--sms-webhook", &gateway.url]).await;
    bill_water(&server, &[("2027年01月", "30.50"), ("2027年02月", "40.25")]);
    let owner = gateway.sign_in_owner(&server, OWNER).await;

    let (status, houses) = call(&server, &owner, "GET", "/api/v1/owner/houses", None);
    assert_eq!(status, 200, "{houses}");
    assert_eq!(houses.as_array().map(Vec::len), Some(1), "the owner's one home: {houses}");
    assert_eq!(houses[0]["house"], "heyuan-1-1-101");
    let water = pending_water(&server, &owner);
    assert_eq!(water.len(), 2, "{houses}");
    let (january, february) = if water[0].1 < water[1].1 { (&water[0].0, &water[1].0) } else { (&water[1].0, &water[0].0) };

    // Within one item the earliest first; a neighbour's home does not exist; staff are refused.
    let (status, reply) = call(&server, &owner, "POST", "/api/v1/owner/payments", Some(json!({"house": "heyuan-1-1-101", "bills": [february]})));
    assert_eq!(status, 400, "{reply}");
    assert!(reply.to_string().contains("较早的账单"), "{reply}");
    let (status, _) = call(&server, &owner, "POST", "/api/v1/owner/payments", Some(json!({"house": "heyuan-1-1-102", "bills": [january]})));
    assert_eq!(status, 404);
    assert_eq!(call(&server, &server.admin, "GET", "/api/v1/owner/houses", None).0, 403);

    let (status, opened) = call(&server, &owner, "POST", "/api/v1/owner/payments", Some(json!({"house": "heyuan-1-1-101", "bills": [january, february]})));
    assert_eq!(status, 200, "{opened}");
    assert_eq!(opened["amount"], "70.75", "what the two owe: {opened}");
    let (order, checkout) = (opened["order"].as_str().unwrap().to_string(), opened["checkout_url"].as_str().unwrap().to_string());
    // A second tap on the same bills: the same order, nothing new opened.
    let (status, again) = call(&server, &owner, "POST", "/api/v1/owner/payments", Some(json!({"house": "heyuan-1-1-101", "bills": [february, january]})));
    assert_eq!((status, again["order"].as_str()), (200, Some(order.as_str())), "{again}");
    let (status, page) = http_get(server.http, &checkout).unwrap();
    assert_eq!(status, 200);
    assert!(page.contains("¥70.75"), "the provider's page: {page}");

    // A forged notification: refused, counted, nothing paid.
    let forged = json!({"community": "heyuan", "order": order, "txn": "forged-1", "amount": "70.75", "paid_at": "2027-01-05T08:00:00Z"}).to_string();
    let ts = chrono::Utc::now().timestamp().to_string();
    let headers = [("Content-Type", "application/json"), ("Hutong-Pay-Timestamp", ts.as_str()), ("Hutong-Pay-Nonce", "n-1"), ("Hutong-Pay-Signature", "00ff")];
    let (status, _, _) = request(server.http, "POST", "/api/v1/pay/notify/sandbox", None, &headers, forged.as_bytes()).unwrap();
    assert_eq!(status, 403);
    assert_eq!(server.metric("hutong_pay_notifications_refused_total{reason=\"signature\"}"), 1);
    assert_eq!(pending_water(&server, &owner).len(), 2, "a forged notification pays nothing");

    // The owner pays on the provider's page; the provider notifies twice.
    let (status, _, done) = request(server.http, "POST", &format!("{checkout}?notify=2"), None, &[], b"").unwrap();
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&done));
    wait_for("both notifications handled", Duration::from_secs(10), async || (server.metric("hutong_pay_notifications_total") == 2).then_some(())).await;
    assert!(pending_water(&server, &owner).is_empty(), "both bills paid");
    let (_, paid) = call(&server, &owner, "GET", &format!("/api/v1/owner/payments/{order}?community=heyuan"), None);
    assert_eq!(paid["state"]["state"], "paid", "{paid}");
    let receipt = paid["state"]["payment"].as_str().unwrap_or_default().to_string();
    assert!(!receipt.is_empty(), "booked once, with its receipt number: {paid}");
    let (_, payments) = call(&server, &server.admin, "GET", "/api/v1/communities/heyuan/bills?house=heyuan-1-1-101&item=water&period_from=2027-01-01", None);
    let rows = payments["rows"].as_array().unwrap();
    assert!(rows.iter().all(|r| r["state"] == "paid"), "{payments}");
    assert_eq!(server.metric("hutong_pay_anomalies_total"), 0, "a repeated notification is no anomaly");

    // A notification that never comes: Hutong asks the provider about the order still open.
    bill_water(&server, &[("2027年03月", "12.00")]);
    let march = pending_water(&server, &owner)[0].0.clone();
    let (_, second) = call(&server, &owner, "POST", "/api/v1/owner/payments", Some(json!({"house": "heyuan-1-1-101", "bills": [march]})));
    let (order2, checkout2) = (second["order"].as_str().unwrap().to_string(), second["checkout_url"].as_str().unwrap().to_string());
    let (status, _, _) = request(server.http, "POST", &format!("{checkout2}?notify=0"), None, &[], b"").unwrap();
    assert_eq!(status, 200);
    wait_for("the order asked about and paid", Duration::from_secs(20), async || {
        let (_, o) = call(&server, &owner, "GET", &format!("/api/v1/owner/payments/{order2}?community=heyuan"), None);
        (o["state"]["state"] == "paid" && o["state"]["payment"].is_string()).then_some(())
    })
    .await;
    assert!(pending_water(&server, &owner).is_empty());
    assert_eq!(server.metric("hutong_pay_notifications_total"), 2, "no notification came for the second order");

    // 一键对账: the provider's statement against what was recorded — then a statement file.
    let today = (chrono::Utc::now() + chrono::Duration::hours(8)).date_naive();
    let range = format!("from={}&to={}", today.pred_opt().unwrap(), today.succ_opt().unwrap());
    let (status, r) = call(&server, &server.admin, "GET", &format!("/api/v1/communities/heyuan/reconciliation?{range}"), None);
    assert_eq!(status, 200, "{r}");
    assert_eq!((r["arrived"].as_u64(), r["arrived_amount"].as_str(), r["anomalies"].as_u64(), r["not_arrived"].as_u64()), (Some(2), Some("82.75"), Some(0), Some(0)), "{r}");
    let at = chrono::Utc::now().to_rfc3339();
    let txn1 = r["lines"].as_array().unwrap().iter().find(|l| l["order"] == order.as_str()).unwrap()["txn"].as_str().unwrap().to_string();
    let file = format!("商户订单号,交易单号,金额,支付时间\n{order},{txn1},70.75,{at}\n{order2},tx-2,11.00,{at}\npo-99,tx-99,5.00,{at}\n");
    let (status, _, body) = request(server.http, "POST", &format!("/api/v1/communities/heyuan/reconciliation?{range}"), Some(&server.admin), &[], file.as_bytes()).unwrap();
    let r: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(status, 200, "{r}");
    assert_eq!((r["arrived"].as_u64(), r["arrived_amount"].as_str(), r["anomalies"].as_u64()), (Some(1), Some("70.75"), Some(2)), "{r}");
    let (status, _, body) = request(server.http, "POST", &format!("/api/v1/communities/heyuan/reconciliation?{range}"), Some(&server.admin), &[], "商户订单号,交易单号,金额,支付时间\npo-1,t,abc,昨天\n".as_bytes()).unwrap();
    assert_eq!(status, 422, "{}", String::from_utf8_lossy(&body));

    // P8: the community's collection code, printable and as an image, leads to the owner portal.
    let (status, page) = http(server.http, "GET", "/api/v1/communities/heyuan/collection-code", Some(&server.admin), None).unwrap();
    assert_eq!(status, 200);
    assert!(page.contains("微信扫一扫缴纳费用") && page.contains("/owner?community=heyuan") && page.contains("<svg"), "{page}");
    let (status, headers, svg) = request(server.http, "GET", "/api/v1/communities/heyuan/collection-code?format=svg", Some(&server.admin), &[], b"").unwrap();
    assert_eq!(status, 200);
    assert!(headers.to_lowercase().contains("image/svg+xml") && svg.starts_with(b"<svg"), "{headers}");

    // In-app: the notices for the owner's building reach the portal; another building's do not.
    for (title, building) in [("一号楼停水通知", "heyuan-b01"), ("二号楼电梯检修", "heyuan-b02")] {
        let (status, reply) = call(&server, &server.admin, "POST", "/api/v1/communities/heyuan/notices", Some(json!({"title": title, "body": "明天上午九点至十一点", "buildings": [building]})));
        assert_eq!(status, 200, "{reply}");
    }
    let (status, notices) = call(&server, &owner, "GET", "/api/v1/owner/notices", None);
    assert_eq!(status, 200, "{notices}");
    assert!(notices.to_string().contains("一号楼停水通知") && !notices.to_string().contains("二号楼电梯检修"), "{notices}");

    // P7 for owners: a paid bill names its receipt; the owner prints it, not a neighbour's.
    let (_, houses) = call(&server, &owner, "GET", "/api/v1/owner/houses", None);
    let paid_rows = houses[0]["paid"].as_array().unwrap();
    let own_receipt = paid_rows.iter().find(|b| b["no"] == january.as_str()).and_then(|b| b["receipt"].as_str()).expect("the paid bill names its receipt").to_string();
    assert_eq!(own_receipt, receipt, "the online payment's receipt");
    let (status, page) = http(server.http, "GET", &format!("/api/v1/owner/receipts/{own_receipt}?format=html"), Some(&owner), None).unwrap();
    assert_eq!(status, 200, "{page}");
    assert!(page.contains(&own_receipt) && page.contains("70.75"), "{page}");
    let (status, _, pdf) = request(server.http, "GET", &format!("/api/v1/owner/receipts/{own_receipt}?community=heyuan"), Some(&owner), &[], b"").unwrap();
    assert_eq!((status, &pdf[..4]), (200, &b"%PDF"[..]));
    let csv = "房屋地址,费用类型,费用金额,开始时间,结束时间,备注\n荷花苑-1-1-102,水费,8.00,2027年01月,2027年01月,\n";
    assert_eq!(request(server.http, "POST", "/api/v1/communities/heyuan/bills/import", Some(&server.admin), &[], csv.as_bytes()).unwrap().0, 200);
    let (status, desk) = call(&server, &server.admin, "POST", "/api/v1/communities/heyuan/payments", Some(json!({"key": "neighbour-1", "house": "荷花苑-1-1-102", "channel": "cash"})));
    assert_eq!(status, 200, "{desk}");
    let neighbours = desk["payment"]["no"].as_str().unwrap();
    assert_eq!(call(&server, &owner, "GET", &format!("/api/v1/owner/receipts/{neighbours}?format=html"), None).0, 404, "a neighbour's receipt does not exist for them");
    assert_eq!(call(&server, &server.admin, "GET", &format!("/api/v1/owner/receipts/{own_receipt}"), None).0, 403, "staff use the desk's receipts");

    // N1 in-app: the office's reminder lands in the portal, with the way to pay.
    bill_water(&server, &[("2027年04月", "9.00")]);
    let (status, reminded) = call(&server, &server.admin, "POST", "/api/v1/communities/heyuan/reminders", Some(json!({"houses": ["荷花苑-1-1-101"], "channel": "in_app"})));
    assert_eq!((status, reminded["sent"].as_u64()), (200, Some(1)), "{reminded}");
    let (_, notices) = call(&server, &owner, "GET", "/api/v1/owner/notices", None);
    let reminder = notices.as_array().unwrap().iter().find(|n| n["kind"] == "reminder").unwrap_or_else(|| panic!("the reminder in the portal: {notices}"));
    assert_eq!(reminder["house"], "heyuan-1-1-101");
    let text = reminder["body"].as_str().unwrap();
    assert!(text.contains("缴费通知") && text.contains(&format!("http://{}/owner?community=heyuan", server.http)), "{text}");

    // The printed notice (缴费通知单): the home's open bills, their total and the collection code.
    let (status, page) = http(server.http, "GET", "/api/v1/communities/heyuan/payment-notices?house=荷花苑-1-1-101", Some(&server.admin), None).unwrap();
    assert_eq!(status, 200, "{page}");
    assert_eq!(page.matches("data-test=payment-notice").count(), 1, "one home, one page");
    assert!(page.contains("微信扫一扫缴纳费用") && page.contains("<svg") && page.contains("9.00"), "{page}");
    let (status, page) = http(server.http, "GET", "/api/v1/communities/heyuan/payment-notices?building=heyuan-b01", Some(&server.admin), None).unwrap();
    assert_eq!(status, 200);
    assert!(page.matches("data-test=payment-notice").count() > 1, "every home of building 1 that owes");
    let butler = server.login("butler");
    assert_eq!(http(server.http, "GET", "/api/v1/communities/heyuan/payment-notices?building=heyuan-b02", Some(&butler), None).unwrap().0, 404, "a butler prints their buildings' notices only");
    assert_eq!(http(server.http, "GET", "/api/v1/communities/heyuan/payment-notices", Some(&server.admin), None).unwrap().0, 400);

    // R6: someone not known registers from the portal; the office approves; they sign in.
    let newcomer = "13911112222";
    let body = json!({"community": "heyuan", "address": "荷花苑-1-1-103", "name": "新住户", "phone": newcomer, "relation": "tenant"});
    let (status, taken) = call(&server, "", "POST", "/api/v1/owner/registrations", Some(body));
    assert_eq!(status, 200, "{taken}");
    let no = taken["no"].as_u64().unwrap();
    let (_, list) = call(&server, &server.admin, "GET", "/api/v1/communities/heyuan/owner-registrations", None);
    assert_eq!((list[0]["no"].as_u64(), list[0]["state"].as_str()), (Some(no), Some("waiting")), "{list}");
    let decide = |approve: bool| call(&server, &server.admin, "POST", &format!("/api/v1/communities/heyuan/owner-registrations/{no}/decide"), Some(json!({"approve": approve, "note": "核对租赁合同"})));
    assert_eq!(decide(true).0, 200);
    assert_eq!(decide(false).0, 409, "decided once");
    let newcomer_token = gateway.sign_in_owner(&server, newcomer).await;
    let (_, theirs) = call(&server, &newcomer_token, "GET", "/api/v1/owner/houses", None);
    assert_eq!(theirs[0]["house"], "heyuan-1-1-103", "{theirs}");
    let (_, records) = call(&server, &server.admin, "GET", "/api/v1/communities/heyuan/house-records?q=%E6%96%B0%E4%BD%8F%E6%88%B7", None);
    assert!(records.to_string().contains("heyuan-1-1-103"), "the book has the new resident: {records}");

    // The office opens the portal to an owner at handover; another company cannot take them over.
    let (status, opened) = call(&server, &server.admin, "POST", "/api/v1/communities/heyuan/owners", Some(json!({"phone": "13922223333", "houses": ["荷花苑-1-1-102"]})));
    assert_eq!(status, 200, "{opened}");
    let handed = gateway.sign_in_owner(&server, "13922223333").await;
    assert_eq!(call(&server, &handed, "GET", "/api/v1/owner/houses", None).1[0]["house"], "heyuan-1-1-102");
    let other = server.login("meiyuan-admin");
    let (status, reply) = call(&server, &other, "POST", "/api/v1/communities/meiyuan/owners", Some(json!({"phone": "13922223333", "houses": ["meiyuan-1-1-101"]})));
    assert_eq!(status, 409, "{reply}");

    // P11: finance software pulls the statement with a signed request; replay, a switched-off
    // access and an old secret are refused.
    let (status, access) = call(&server, &server.admin, "POST", "/api/v1/communities/heyuan/finance-access", None);
    assert_eq!(status, 200, "{access}");
    let (app_id, secret) = (access["app_id"].as_str().unwrap().to_string(), access["secret"].as_str().unwrap().to_string());
    assert!(call(&server, &server.admin, "GET", "/api/v1/communities/heyuan/finance-access", None).1.get("secret").is_none(), "the secret is shown once");
    let path = format!("/api/v1/finance/statements?community=heyuan&{range}");
    let pull = |secret: &str, nonce: &str| {
        use hmac::Mac;
        let ts = chrono::Utc::now().timestamp().to_string();
        let mut mac = <hmac::Hmac<sha2::Sha256> as Mac>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(format!("GET\n{path}\n{ts}\n{nonce}\n").as_bytes());
        let signature: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
        let headers = [("Hutong-App-Id", app_id.as_str()), ("Hutong-Timestamp", ts.as_str()), ("Hutong-Nonce", nonce), ("Hutong-Signature", signature.as_str())];
        let (status, _, body) = request(server.http, "GET", &path, None, &headers, b"").unwrap();
        (status, serde_json::from_slice::<Value>(&body).unwrap_or(Value::Null))
    };
    let (status, statement) = pull(&secret, "nonce-1");
    assert_eq!(status, 200, "{statement}");
    assert_eq!((statement["lines"].as_array().map(Vec::len), statement["reconciliation"]["arrived_amount"].as_str()), (Some(2), Some("82.75")), "{statement}");
    assert_eq!(pull(&secret, "nonce-1").0, 403, "a replayed pull");
    assert_eq!(pull("not-the-secret", "nonce-2").0, 403);
    assert_eq!(call(&server, &server.admin, "POST", "/api/v1/communities/heyuan/finance-access/disable", None).0, 200);
    assert_eq!(pull(&secret, "nonce-3").0, 403, "switched off (停用)");
    let (_, again) = call(&server, &server.admin, "POST", "/api/v1/communities/heyuan/finance-access", None);
    assert_eq!(pull(&secret, "nonce-4").0, 403, "the old secret stopped");
    assert_eq!(pull(again["secret"].as_str().unwrap(), "nonce-5").0, 200);
    assert_eq!(server.metric("hutong_finance_pulls_refused_total{reason=\"replayed\"}"), 1);

    // After kill -9 the orders and payments are all there, and a late retry pays nothing.
    server.kill9();
    let server = Server::demo(&data, 0, &["--sms-webhook", &gateway.url]).await;
    let owner = gateway.sign_in_owner(&server, OWNER).await;
    let (_, again) = call(&server, &owner, "GET", &format!("/api/v1/owner/payments/{order}?community=heyuan"), None);
    assert_eq!(again["state"]["payment"].as_str(), Some(receipt.as_str()), "{again}");
    let (status, _, _) = request(server.http, "POST", &checkout, None, &[], b"").unwrap();
    assert_eq!(status, 200, "the provider's page again: paid already, nothing charged");
    assert_eq!(pending_water(&server, &owner).len(), 1, "only April's, reminded, still to pay");
}
