//! The security review's findings, one test each, named by finding id, each sending the review's
//! black-box sequence to the real binary and asserting the safe answer.

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use hutong_actors::journal::{Append, Journal};
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
    let journal: Arc<dyn Journal> = open_journal_at(data);
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
                reference: None,
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

fn sign_in(server: &Server, account: &str, password: &str, from: &str) -> u16 {
    let body = json!({"account": account, "password": password}).to_string();
    let headers = [("Content-Type", "application/json"), ("X-Forwarded-For", from)];
    request(server.http, "POST", "/api/v1/auth/login", None, &headers, body.as_bytes()).unwrap().0
}

/// Sends a body and reads the status, even when the server answers (and stops reading) before
/// the body has been sent whole, as it does for a body past its limit.
fn status_of_upload(addr: std::net::SocketAddr, path: &str, body: &[u8]) -> u16 {
    status_of_upload_as(addr, path, "", body)
}

fn status_of_upload_as(addr: std::net::SocketAddr, path: &str, token: &str, body: &[u8]) -> u16 {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    let auth = if token.is_empty() { String::new() } else { format!("Authorization: Bearer {token}\r\n") };
    let head = format!("POST {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
    s.write_all(head.as_bytes()).unwrap();
    let _ = s.write_all(body);
    let mut reply = Vec::new();
    let _ = s.read_to_end(&mut reply);
    String::from_utf8_lossy(&reply).split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0)
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status.lines().find_map(|l| l.strip_prefix("VmRSS:")).and_then(|v| v.split_whitespace().next()?.parse().ok()).unwrap_or(0)
}

/// S1: the review's flood — 300 sign-ins with a 2,000,000-character account, then 300 with
/// made-up accounts — is refused before anything is written: the journal and the memory stay
/// where they were, and the audit log holds none of it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s1_a_sign_in_flood_writes_nothing_and_holds_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("h");
    let server = Server::demo(&data, 0, &[]).await;
    let (journal_before, rss_before) = (journal_bytes(&data), rss_kib(server.pid()));
    let big = json!({"account": "A".repeat(2_000_000), "password": "x"}).to_string();
    for _ in 0..300 {
        assert_eq!(status_of_upload(server.http, "/api/v1/auth/login", big.as_bytes()), 413);
    }
    assert!(rss_kib(server.pid()).saturating_sub(rss_before) < 16 * 1024, "refused bodies cost nothing");
    // Made-up accounts: the first twenty from an address cost a password check (on two threads of
    // their own, whatever the flood), the rest are refused by the limit before anything happens.
    let mut statuses = std::collections::BTreeMap::new();
    let mut attempt = |n: usize| *statuses.entry(sign_in(&server, &format!("nobody-{n}-{}", "x".repeat(40)), &"p".repeat(256), "")).or_insert(0) += 1;
    (0..100).for_each(&mut attempt);
    let rss_warm = rss_kib(server.pid());
    (100..1_100).for_each(&mut attempt);
    assert_eq!(statuses.keys().copied().collect::<Vec<_>>(), vec![401, 429], "{statuses:?}");
    let grown = journal_bytes(&data).saturating_sub(journal_before);
    assert!(grown < 64 * 1024, "the journal grew by {grown} bytes");
    let rss_grown = rss_kib(server.pid()).saturating_sub(rss_warm);
    assert!(rss_grown < 8 * 1024, "a thousand more attempts grew memory by {rss_grown} KiB");
    let audit = server.get_json("/api/v1/audit?action=auth&limit=1000");
    assert!(!audit.to_string().contains("nobody-"), "no attempt on a made-up account is audited");
    assert!(server.metric("hutong_sign_ins_total{outcome=\"locked\"}") > 0);
}

/// S3: five wrong passwords for the cashier from a stranger's address lock the cashier out of
/// that address only; behind a trusted proxy, a flood of wrong sign-ins from one client does not
/// lock out everyone else coming through the same proxy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_a_stranger_cannot_lock_staff_out_and_a_proxy_does_not_share_one_limit() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::demo(&dir.path().join("h"), 0, &["--trusted-proxies", "127.0.0.1"]).await;
    assert_eq!(sign_in(&server, "cashier", PASSWORD, "10.0.0.5"), 200, "the cashier at her desk");
    let stranger: Vec<u16> = (0..6).map(|_| sign_in(&server, "cashier", "guess", "6.6.6.6")).collect();
    assert_eq!(stranger, vec![401, 401, 401, 401, 401, 429]);
    assert_eq!(sign_in(&server, "cashier", PASSWORD, "6.6.6.6"), 429, "the stranger's address stays locked");
    assert_eq!(sign_in(&server, "cashier", PASSWORD, "10.0.0.5"), 200, "her own desk is not locked out");
    for n in 0..20 {
        sign_in(&server, &format!("random-{n}"), "guess", "7.7.7.7");
    }
    assert_eq!(sign_in(&server, "random-x", "guess", "7.7.7.7"), 429, "the flooding client is limited");
    assert_eq!(sign_in(&server, "admin", PASSWORD, "10.0.0.9"), 200, "everyone else behind the proxy signs in");
    // A client cannot pick its own address by prepending to the header: the proxy's own entry counts.
    assert_eq!(sign_in(&server, "random-y", "guess", "1.2.3.4, 7.7.7.7"), 429);
}

/// A5: the review's sequence — `control` watches the wall, the admin takes its roles away — closes
/// the open socket within 1 s (it is told, it does not poll).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a5_an_open_socket_follows_role_and_scope_changes() {
    use std::time::Duration;
    let dir = tempfile::tempdir().unwrap();
    let server = Server::demo(&dir.path().join("h"), 0, &[]).await;
    let control = server.login("control");
    let (mut ws, _) = ws_connect(server.http, "heyuan", &control).await;
    let (status, reply) = http(server.http, "PUT", "/api/v1/staff/heyuan-wuye-control/roles", Some(&server.admin), Some(r#"{"roles":[]}"#)).unwrap();
    assert_eq!(status, 200, "{reply}");
    assert_eq!(http(server.http, "GET", "/api/v1/communities/heyuan/devices", Some(&control), None).unwrap().0, 403);
    let closed = tokio::time::timeout(Duration::from_secs(1), async { while next_json(&mut ws).await.is_some() {} }).await;
    assert!(closed.is_ok(), "the socket closed within 1 s of the role change");

    // Signing out ends that session's sockets within 1 s; the same account's other session keeps its own.
    let (first, second) = (server.login("butler"), server.login("butler"));
    let (mut leaving, _) = ws_connect(server.http, "heyuan", &first).await;
    let (mut staying, _) = ws_connect(server.http, "heyuan", &second).await;
    let (status, reply) = http(server.http, "POST", "/api/v1/auth/logout", Some(&first), None).unwrap();
    assert!((200..300).contains(&status), "{status} {reply}");
    let closed = tokio::time::timeout(Duration::from_secs(1), async { while next_json(&mut leaving).await.is_some() {} }).await;
    assert!(closed.is_ok(), "the signed-out session's socket closed within 1 s");
    let still = tokio::time::timeout(Duration::from_millis(300), next_json(&mut staying)).await;
    assert!(!matches!(still, Ok(None)), "the other session's socket stays open");
}

fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status.lines().find_map(|l| l.strip_prefix("VmHWM:")).and_then(|v| v.split_whitespace().next()?.parse().ok()).unwrap_or(0)
}

/// I1: the review's 64 MB CSV is refused at the door; a file just under the 10 MiB limit made of
/// the review's 63-comma lines is read row by row (the server's peak memory moves by a small
/// multiple of the file, not 1.5 GiB); a second import into a community while one runs is told
/// to wait; a broken legacy XLS is refused by its converter, the server untouched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn i1_imports_are_read_row_by_row_one_per_community_within_limits() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::demo(&dir.path().join("h"), 0, &[]).await;
    let finance = server.login("finance");
    let path = "/api/v1/communities/heyuan/bills/import";
    let upload = |body: &[u8]| {
        let (status, _, reply) = request(server.http, "POST", path, Some(&finance), &[], body).unwrap();
        (status, String::from_utf8_lossy(&reply).into_owned())
    };
    let huge = (",".repeat(63) + "\n").repeat(1_000_000);
    assert_eq!(status_of_upload_as(server.http, path, &finance, huge.as_bytes()), 413);

    let commas = (",".repeat(63) + "\n").repeat(160_000);
    assert!(commas.len() < 10 << 20);
    let peak_before = peak_rss_kib(server.pid());
    let (status, reply) = upload(commas.as_bytes());
    assert!(status == 400 || status == 422, "{status} {reply}");
    let grown = peak_rss_kib(server.pid()).saturating_sub(peak_before);
    assert!(grown < 100 * 1024, "an import of {} bytes raised peak memory by {grown} KiB", commas.len());

    // A large valid import holds the community's slot; a second one meanwhile is told to wait.
    let mut rows = String::from("房屋地址,费用类型,费用金额,开始时间,结束时间,备注\n");
    for n in 0..120_000 {
        rows.push_str(&format!("荷花苑-1-1-101,水费,1.00,{}年01月,{}年01月,\n", 1000 + n, 1000 + n));
    }
    // The large one sends its headers and half its body, holding the community's slot while
    // the server reads the rest: a small one meanwhile is told to wait.
    use std::io::{Read, Write};
    let big = rows.into_bytes();
    let head = format!(
        "POST /api/v1/communities/heyuan/bills/import?good_only=true HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {finance}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        server.http,
        big.len()
    );
    // The probe is a template with no rows: when the slot happens to be free it holds it for
    // an instant only. Should the large one arrive in that instant and be told to wait itself,
    // nothing holds the slot and the probes never hear 409: the large one starts over.
    let probe = "房屋地址,费用类型,费用金额,开始时间,结束时间,备注\n";
    let mut told = None;
    let mut first = None;
    for _attempt in 0..3 {
        let mut big_one = std::net::TcpStream::connect(server.http).unwrap();
        big_one.write_all(head.as_bytes()).unwrap();
        big_one.write_all(&big[..big.len() / 2]).unwrap();
        // Up to 20 s: on a loaded machine (this file's servers start side by side) the large
        // import's handler may take a while to be scheduled; the slot is what is checked.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while told.is_none() && std::time::Instant::now() < deadline {
            let (status, reply) = upload(probe.as_bytes());
            if status == 409 {
                told = Some(reply);
            } else {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
        if told.is_some() {
            first = Some(big_one);
            break;
        }
    }
    let (Some(reply), Some(mut first)) = (told, first) else { panic!("a second import was never told to wait while a large one ran") };
    assert!(reply.contains("正在进行"), "{reply}");
    first.write_all(&big[big.len() / 2..]).unwrap();
    let mut answer = String::new();
    first.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "the first import went through: {}", answer.lines().next().unwrap_or_default());

    let mut broken_xls = vec![0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
    broken_xls.extend(std::iter::repeat_n(0x41, 4096));
    let (status, reply) = upload(&broken_xls);
    assert_eq!(status, 400, "{reply}");
    assert!(reply.contains("xls"), "{reply}");
    assert_eq!(http_get(server.http, "/healthz").unwrap().0, 200);
}

/// R3: the journal's disk fills (here its size cap, a few MiB above what the demo holds): the
/// write that hit it fails, Hutong takes no more writes, `/healthz` answers 503 `failed` and the
/// log says what happened and what to do; after a restart with room, what was acknowledged is there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r3_a_full_disk_stops_hutong_taking_writes_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("h");
    Server::demo(&data, 0, &[]).await.stop();
    let mib = journal_bytes(&data).div_ceil(1 << 20) + 4;
    let server = Server::demo(&data, 0, &["--journal-max-mib", &mib.to_string()]).await;
    let cashier = server.login("cashier");
    let finance = server.login("finance");
    let (status, paid) = pay(&server, &cashier, "before-full", r#"{"house":"荷花苑-1-1-101","amount":"1.00","channel":"cash"}"#);
    assert_eq!(status, 200, "{paid}");
    let acked = paid["payment"]["no"].as_str().unwrap().to_string();
    // An import far larger than the room left.
    let mut rows = String::from("房屋地址,费用类型,费用金额,开始时间,结束时间,备注\n");
    for n in 0..60_000 {
        rows.push_str(&format!("荷花苑-1-1-101,水费,1.00,{}年01月,{}年01月,{}\n", 2000 + n, 2000 + n, "备".repeat(20)));
    }
    let (status, _, reply) = request(server.http, "POST", "/api/v1/communities/heyuan/bills/import", Some(&finance), &[], rows.as_bytes()).unwrap();
    assert!(status >= 500, "{status} {}", String::from_utf8_lossy(&reply));
    let (status, health) = http_get(server.http, "/healthz").unwrap();
    assert_eq!(status, 503, "{health}");
    assert!(health.contains("\"failed\""), "{health}");
    let (status, _) = pay(&server, &cashier, "after-full", r#"{"house":"荷花苑-1-1-102","amount":"1.00","channel":"cash"}"#);
    assert!(status >= 500, "no write is taken after the failure");
    assert!(std::fs::read_to_string(&server.log).unwrap().contains("the journal failed to write"));
    server.kill9();
    let server = Server::demo(&data, 0, &[]).await;
    assert_eq!(http_get(server.http, "/healthz").unwrap().0, 200);
    let (status, _) = http(server.http, "GET", &format!("/api/v1/communities/heyuan/payments/{acked}/receipt?format=html"), Some(&server.admin), None).unwrap();
    assert_eq!(status, 200, "the payment acknowledged before the disk filled is there");
}

/// S6: behind a TLS-terminating proxy the session cookie is `Secure`; on plain HTTP (the demo on
/// a laptop) it cannot be, or no browser would keep it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s6_the_session_cookie_is_secure_over_https() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::demo(&dir.path().join("h"), 0, &["--trusted-proxies", "127.0.0.1"]).await;
    let body = json!({"account": "cashier", "password": PASSWORD}).to_string();
    let sign_in = |proto: &str| {
        let headers = [("Content-Type", "application/json"), ("X-Forwarded-Proto", proto), ("X-Forwarded-For", "10.0.0.5")];
        let (status, head, _) = request(server.http, "POST", "/api/v1/auth/login", None, &headers, body.as_bytes()).unwrap();
        assert_eq!(status, 200);
        head.lines().find(|l| l.starts_with("set-cookie:")).unwrap_or_default().to_string()
    };
    assert!(sign_in("https").contains("; secure"), "over https");
    assert!(!sign_in("http").contains("secure"), "over plain http");
}

/// S7: the review's form post from a sibling sub-domain — an import with the session cookie and a
/// foreign Origin — is refused, as is a sign-out; the screens' own requests and bearer-token
/// clients go through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s7_a_cookie_carries_no_change_from_another_origin() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::demo(&dir.path().join("h"), 0, &[]).await;
    let finance = server.login("finance");
    let cookie = format!("hutong_session={finance}");
    let csv = "房屋地址,费用类型,费用金额,开始时间,结束时间,备注\n荷花苑-1-1-103,水费,5.00,2026年02月,2026年02月,\n";
    let path = "/api/v1/communities/heyuan/bills/import";
    let post = |path: &str, headers: &[(&str, &str)], token: Option<&str>| request(server.http, "POST", path, token, headers, csv.as_bytes()).unwrap().0;
    let evil = [("Cookie", cookie.as_str()), ("Origin", "https://evil.sibling.example"), ("Content-Type", "text/plain")];
    assert_eq!(post(path, &evil, None), 403);
    let sibling = [("Cookie", cookie.as_str()), ("Sec-Fetch-Site", "same-site"), ("Content-Type", "text/plain")];
    assert_eq!(post(path, &sibling, None), 403);
    assert_eq!(post("/api/v1/auth/logout", &evil, None), 403);
    let own_origin = format!("http://{}", server.http);
    let own = [("Cookie", cookie.as_str()), ("Origin", own_origin.as_str()), ("Sec-Fetch-Site", "same-origin")];
    assert_eq!(post(path, &own, None), 200);
    assert_eq!(post(path, &[("Origin", "https://evil.sibling.example")], Some(&finance)), 200, "a bearer token is no ambient credential");
}

/// M4: an idempotency key is the caller's own — the review's repeat with the same key and other
/// bills is refused (409), and another cashier's same key is another payment, not the first one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn m4_a_key_is_the_callers_own_and_answers_only_the_same_request() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::demo(&dir.path().join("h"), 0, &[]).await;
    let (cashier, admin) = (server.login("cashier"), server.admin.clone());
    let (status, first) = pay(&server, &cashier, "k", r#"{"house":"荷花苑-1-1-101","amount":"1.00","channel":"cash"}"#);
    assert_eq!(status, 200, "{first}");
    let (status, again) = pay(&server, &cashier, "k", r#"{"house":"荷花苑-1-1-101","amount":"1.00","channel":"cash"}"#);
    assert_eq!((status, &again["payment"]["no"]), (200, &first["payment"]["no"]), "the same request answers with the first payment");
    let (status, other) = pay(&server, &cashier, "k", r#"{"house":"荷花苑-1-1-101","amount":"2.00","channel":"cash"}"#);
    assert_eq!(status, 409, "another body under the key: {other}");
    let (status, theirs) = pay(&server, &admin, "k", r#"{"house":"荷花苑-1-1-101","amount":"1.00","channel":"cash"}"#);
    assert_eq!(status, 200, "{theirs}");
    assert_ne!(theirs["payment"]["no"], first["payment"]["no"], "another caller's key is another payment");
    let (status, _) = pay(&server, &cashier, &"k".repeat(101), r#"{"house":"荷花苑-1-1-101","amount":"1.00","channel":"cash"}"#);
    assert_eq!(status, 400);
}

/// V3: one token cannot hold thousands of sockets — the ninth at once is refused with a sentence,
/// and closing one frees its place.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v3_one_sign_in_holds_a_bounded_number_of_sockets() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::demo(&dir.path().join("h"), 0, &[]).await;
    let control = server.login("control");
    let mut open = Vec::new();
    for _ in 0..8 {
        open.push(ws_open(server.http, "heyuan", &control).await.expect("within the bound"));
    }
    let refused = ws_open(server.http, "heyuan", &control).await.err().expect("the ninth is refused");
    assert!(refused.to_string().contains("429"), "{refused}");
    drop(open.pop());
    let reopened = wait_for("a freed place", std::time::Duration::from_secs(5), async || ws_open(server.http, "heyuan", &control).await.ok()).await;
    drop(reopened);
}

/// L5: `/metrics` (payments by channel and the like) is not public: with a token set, a scraper
/// must show it; a failed sign-in's text never reaches the audit log (see s1).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn l5_metrics_ask_for_their_token() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::demo_env(&dir.path().join("h"), 0, &[], &[("HUTONG_METRICS_TOKEN", "scrape-token-123")]).await;
    assert_eq!(http_get(server.http, "/metrics").unwrap().0, 401);
    assert_eq!(http(server.http, "GET", "/metrics", Some("wrong"), None).unwrap().0, 401);
    let (status, text) = http(server.http, "GET", "/metrics", Some("scrape-token-123"), None).unwrap();
    assert_eq!(status, 200);
    assert!(text.contains("hutong_ready"));
}

/// S8: a staff member changes their own password (the review found no way to): a wrong current
/// password is refused and counted; a new one outside 8–256 characters is refused; after the
/// change every session of the account has ended and only the new password signs in. A closed
/// account can be opened again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s8_passwords_can_be_changed_and_closed_accounts_reopened() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::demo(&dir.path().join("h"), 0, &[]).await;
    let cashier = server.login("cashier");
    let change = |current: &str, new: &str| http(server.http, "POST", "/api/v1/me/password", Some(&cashier), Some(&json!({"current": current, "new": new}).to_string())).unwrap().0;
    assert_eq!(change("wrong-one", "a-new-password-1"), 401);
    assert_eq!(change(PASSWORD, "short"), 400);
    assert_eq!(change(PASSWORD, &"x".repeat(257)), 400);
    assert_eq!(change(PASSWORD, "a-new-password-1"), 200);
    assert_eq!(http(server.http, "GET", "/api/v1/me", Some(&cashier), None).unwrap().0, 401, "the old session ended");
    assert_eq!(sign_in(&server, "cashier", PASSWORD, ""), 401);
    assert_eq!(sign_in(&server, "cashier", "a-new-password-1", ""), 200);

    let admin = server.admin.clone();
    assert_eq!(http(server.http, "POST", "/api/v1/staff/heyuan-wuye-control/disable", Some(&admin), Some("{}")).unwrap().0, 200);
    assert_eq!(sign_in(&server, "control", PASSWORD, ""), 401);
    assert_eq!(http(server.http, "POST", "/api/v1/staff/heyuan-wuye-control/enable", Some(&admin), Some("{}")).unwrap().0, 200);
    assert_eq!(sign_in(&server, "control", PASSWORD, ""), 200);
}

/// Objects of one community (or of one building of it), real ones, as the matrix uses them.
#[derive(Clone, Debug)]
struct Objects {
    community: &'static str,
    bill: String,
    payment: String,
    device: String,
    /// The number of an alarm this device raised.
    alarm: String,
    /// The building all these are in.
    building: String,
    /// A patrol photo taken in the community.
    photo: String,
    /// A work order at the house.
    order: String,
    /// An announcement to the building.
    notice: String,
    /// The house all these are of.
    house: String,
    /// A registration request of someone not known yet, at the house.
    registration: String,
    /// Text only this community's (or building's) answers carry.
    markers: Vec<String>,
}

/// A pending bill, a payment, a meter and an alarm it raised, of `community` (in building
/// `building_no`), made or found by that community's own administrator.
async fn objects(server: &Server, admin: &str, community: &'static str, address: &str, building: &str) -> Objects {
    let csv = format!("房屋地址,费用类型,费用金额,开始时间,结束时间,备注\n{address},水费,9.99,2026年03月,2026年03月,矩阵\n");
    let base = format!("/api/v1/communities/{community}");
    let (status, _, reply) = request(server.http, "POST", &format!("{base}/bills/import"), Some(admin), &[], csv.as_bytes()).unwrap();
    assert_eq!(status, 200, "{community}: {}", String::from_utf8_lossy(&reply));
    let bills: Value = serde_json::from_str(&http(server.http, "GET", &format!("{base}/bills?q={}&page_size=50", urlencode(address)), Some(admin), None).unwrap().1).unwrap();
    let bill = bills["rows"].as_array().unwrap().iter().find(|b| b["state"] == "pending").expect("a pending bill")["no"].as_str().unwrap().to_string();
    let body = json!({"house": address, "amount": "1.00", "channel": "cash"}).to_string();
    let headers = [("Content-Type", "application/json"), ("Idempotency-Key", "matrix")];
    let (status, _, reply) = request(server.http, "POST", &format!("{base}/payments"), Some(admin), &headers, body.as_bytes()).unwrap();
    assert_eq!(status, 200, "{community}: {}", String::from_utf8_lossy(&reply));
    let payment = serde_json::from_slice::<Value>(&reply).unwrap()["payment"]["no"].as_str().unwrap().to_string();
    let devices: Value = serde_json::from_str(&http(server.http, "GET", &format!("{base}/devices"), Some(admin), None).unwrap().1).unwrap();
    let meter = |d: &&Value| d["building"] == building && d["kind"].as_str().is_some_and(|k| k.ends_with("_meter"));
    let device = devices.as_array().unwrap().iter().find(meter).expect("a meter")["id"].as_str().unwrap().to_string();
    // The meter goes backwards once: an alarm of this building.
    let (status, reply) = http(server.http, "GET", &format!("{base}/devices/{device}/key"), Some(admin), None).unwrap();
    assert_eq!(status, 200, "{reply}");
    let key = serde_json::from_str::<Value>(&reply).unwrap()["key"].as_str().unwrap().to_string();
    let topic = format!("hutong/{community}/devices/{device}/telemetry");
    let mut meter = Device::connect("127.0.0.1", server.mqtt_port, &format!("matrix-{device}"), &format!("{community}/{device}"), &key).await;
    meter.publish(&topic, telemetry(1, "500")).await;
    meter.publish(&topic, telemetry(2, "400")).await;
    let alarm = wait_for("the meter's alarm", Duration::from_secs(10), async || {
        let list: Value = serde_json::from_str(&http(server.http, "GET", &format!("{base}/alarms"), Some(admin), None).unwrap().1).ok()?;
        list["open"].as_array()?.iter().find(|a| a["device"] == device.as_str())?["no"].as_u64().map(|n| n.to_string())
    })
    .await;
    // A patrol photo, different in each community.
    let image: &[u8] = match community {
        "heyuan" if building.ends_with("b02") => include_bytes!("../fixtures/photo-building-two.png"),
        "heyuan" => include_bytes!("../fixtures/photo-own.png"),
        "lianyuan" => include_bytes!("../fixtures/photo-sister.png"),
        _ => include_bytes!("../fixtures/photo-foreign.png"),
    };
    let (status, _, reply) = request(server.http, "POST", &format!("{base}/patrol/photos"), Some(admin), &[], image).unwrap();
    assert_eq!(status, 200, "{community}: {}", String::from_utf8_lossy(&reply));
    let photo = serde_json::from_slice::<Value>(&reply).unwrap()["id"].as_str().unwrap().to_string();
    // A work order at the house, with words only this house's order carries.
    let house = bills["rows"].as_array().unwrap()[0]["house"].as_str().unwrap().to_string();
    let words = format!("矩阵工单{house}");
    let body = json!({"kind": "repair", "category": "水电", "description": words, "house": house, "photos": [photo]}).to_string();
    let (status, reply) = http(server.http, "POST", &format!("{base}/work-orders"), Some(admin), Some(&body)).unwrap();
    assert_eq!(status, 200, "{community}: {reply}");
    let order = serde_json::from_str::<Value>(&reply).unwrap()["id"].as_str().unwrap().to_string();
    // An announcement to the building's residents.
    let title = format!("矩阵公告{house}");
    let body = json!({"title": title, "body": "明天上午停水", "buildings": [building]}).to_string();
    let (status, reply) = http(server.http, "POST", &format!("{base}/notices"), Some(admin), Some(&body)).unwrap();
    assert_eq!(status, 200, "{community}: {reply}");
    let notice = serde_json::from_str::<Value>(&reply).unwrap()["no"].as_u64().unwrap().to_string();
    // A phone of the address's own (a phone may have only a few requests waiting).
    let digits: String = address.chars().filter(char::is_ascii_digit).collect();
    let body = json!({"community": community, "address": house, "name": format!("申请人{house}"), "phone": format!("137{digits:0>8}")}).to_string();
    let (status, reply) = http(server.http, "POST", "/api/v1/owner/registrations", None, Some(&body)).unwrap();
    assert_eq!(status, 200, "{community}: {reply}");
    let registration = serde_json::from_str::<Value>(&reply).unwrap()["no"].as_u64().unwrap().to_string();
    let applicant = format!("申请人{house}");
    Objects { community, markers: vec![bill.clone(), payment.clone(), address.to_string(), photo.clone(), words, title, applicant], bill, payment, device, alarm, building: building.to_string(), photo, order, notice, house, registration }
}

/// Objects of a community's first house, whatever the community.
async fn community_objects(server: &Server, admin: &str, community: &'static str) -> Objects {
    let page: Value = serde_json::from_str(&http(server.http, "GET", &format!("/api/v1/communities/{community}/house-records"), Some(admin), None).unwrap().1).unwrap();
    let house = &page["houses"][0];
    let (address, id) = (house["address"].as_str().unwrap(), house["id"].as_str().unwrap());
    let building_no: u32 = id.split('-').nth(1).and_then(|n| n.parse().ok()).unwrap_or(1);
    objects(server, admin, community, address, &format!("{community}-b{building_no:02}")).await
}

fn urlencode(text: &str) -> String {
    text.bytes().map(|b| if b.is_ascii_alphanumeric() || b == b'-' { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
}

/// T1 (and A2, A3, A7): the access matrix with every declared route, for every company-A role, the
/// other company's admin and an owner, against real objects — a bill, a payment, a device — of
/// the caller's own community, a building outside a butler's scope, a sister community and
/// another company; then every method on every path (HEAD as GET, the rest 405), and every route
/// without a session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t1_the_access_matrix_walks_real_objects_every_method_and_owners() {
    use hutong_core::identity::Permission;
    use hutong_web::auth::{Access, Where};
    use hutong_web::routes::ROUTES;
    use hutong_web::server::DEMO_ACCOUNTS;

    let gateway = SmsGateway::start();
    let dir = tempfile::tempdir().unwrap();
    let server = Server::demo(&dir.path().join("h"), 0, &["--sms-webhook", &gateway.url]).await;
    let meiyuan_admin = server.login("meiyuan-admin");
    let own = objects(&server, &server.admin, "heyuan", "荷花苑-1-1-102", "heyuan-b01").await;
    let other_building = objects(&server, &server.admin, "heyuan", "荷花苑-2-1-102", "heyuan-b02").await;
    let sister = community_objects(&server, &server.admin, "lianyuan").await;
    let foreign = community_objects(&server, &meiyuan_admin, "meiyuan").await;
    let owner = gateway.sign_in_owner(&server, "13898424613").await;

    // Who may see which target: communities by role; a butler (scope heyuan-b01) not building 2.
    let sees = |account: &str, target: &Objects, building_two: bool| match account {
        "admin" | "manager" | "finance" => target.community != "meiyuan",
        "meiyuan-admin" => target.community == "meiyuan",
        "butler" => target.community == "heyuan" && !building_two,
        "owner" => false,
        _ => target.community == "heyuan",
    };
    let mut accounts: Vec<(String, String, Vec<Permission>)> = DEMO_ACCOUNTS
        .iter()
        .map(|(a, role, _)| (a.to_string(), server.login(a), role.permissions().into_iter().collect()))
        .collect();
    // No live feed opens to an owner, of their own community or another's.
    for route in ROUTES.iter().filter(|r| r.path.starts_with("/ws")) {
        for community in ["heyuan", "lianyuan", "meiyuan"] {
            let status = match ws_open_at(server.http, &format!("{}?community={community}", route.path), &owner).await {
                Err(tokio_tungstenite::tungstenite::Error::Http(reply)) => reply.status().as_u16(),
                other => panic!("owner {} {community}: {:?}", route.path, other.map(|_| "opened")),
            };
            assert!([403, 404].contains(&status), "owner {} {community}: {status}", route.path);
        }
    }
    accounts.push(("owner".into(), owner, Vec::new()));
    let targets = [(&own, false), (&other_building, true), (&sister, false), (&foreign, false)];
    let mut checked = 0;
    for (account, token, permissions) in &accounts {
        for route in ROUTES.iter().filter(|r| !r.path.starts_with("/ws") && !matches!(r.access, Access::Public)) {
            // Routes that end or change the caller's own session are walked elsewhere.
            if ["/api/v1/auth/logout", "/api/v1/me/password"].contains(&route.path) {
                continue;
            }
            for (target, building_two) in targets {
                let path = route
                    .path
                    .replace("{community}", target.community)
                    .replace("{bill}", &target.bill)
                    .replace("{payment}", &target.payment)
                    .replace("{device}", &target.device)
                    .replace("{alarm}", &target.alarm)
                    .replace("{building}", &target.building)
                    .replace("{checkpoint}", &format!("{}-cp-1", target.community))
                    .replace("{route}", &format!("{}-night", target.community))
                    .replace("{photo}", &target.photo)
                    .replace("{order}", &target.order)
                    .replace("{notice}", &target.notice)
                    .replace("{house}", &target.house)
                    .replace("{registration}", &target.registration)
                    .replace("{staff}", if target.community == "meiyuan" { "meiyuan-wuye-meiyuan-admin" } else { "heyuan-wuye-nobody" });
                let names_object = ["{bill}", "{payment}", "{device}", "{alarm}", "{building}", "{checkpoint}", "{route}", "{photo}", "{order}", "{notice}", "{house}", "{registration}"].iter().any(|p| route.path.contains(p));
                let allowed = match route.access {
                    Access::SignedIn => true,
                    // The owner's routes answer about their own houses only; staff are refused.
                    // (Every object here is of a neighbour's home: 404 for them too.)
                    Access::Owner => account == "owner" && !names_object,
                    Access::Allowed(_, _) if account == "owner" => false,
                    Access::Allowed(p, Where::Community) => {
                        // Building scope reaches objects, and the community's own reads; a butler
                        // still sees building 2's community exists.
                        let in_scope = if names_object { sees(account, target, building_two) } else { sees(account, target, false) };
                        in_scope && p.is_none_or(|p| permissions.contains(&p))
                    }
                    Access::Allowed(p, Where::Company) => {
                        (!route.path.contains("{staff}") || target.community != "meiyuan") && account != "meiyuan-admin" && p.is_none_or(|p| permissions.contains(&p))
                            || account == "meiyuan-admin" && (!route.path.contains("{staff}") || target.community == "meiyuan") && p.is_none_or(|p| permissions.contains(&p))
                    }
                    Access::Public => true,
                };
                let body = (route.method != "GET").then_some("{}");
                let (status, reply) = http(server.http, route.method.as_str(), &path, Some(token), body).unwrap();
                let what = format!("{account} {} {path}", route.method);
                if allowed {
                    assert!(![401, 403].contains(&status), "{what}: refused with {status}: {reply}");
                    if route.method == "GET" && names_object {
                        assert_ne!(status, 404, "{what}: a real object, in scope, answered 404: {reply}");
                    }
                } else {
                    assert!([403, 404].contains(&status), "{what}: expected a refusal, got {status}: {reply}");
                }
                // No answer carries an object the caller may not see.
                for (t, two) in targets {
                    if !sees(account, t, two) && !(account == "butler" && t.community == "heyuan" && !names_object && route.path.ends_with("/tariff")) {
                        // (A refusal may name what was asked for; it must name nothing else.)
                        for marker in t.markers.iter().filter(|m| !path.contains(m.as_str())) {
                            assert!(!reply.contains(marker.as_str()), "{what}: leaked {marker} of {}: {reply}", t.community);
                        }
                    }
                }
                checked += 1;
            }
        }
    }
    assert!(checked > 1500, "the matrix covered {checked} cases");

    // Every method on every path: HEAD answers as GET does (A2); an undeclared method is 405,
    // never a success; and without a session every guarded route is 401, HEAD included.
    let admin = server.admin.clone();
    let mut paths: Vec<&str> = ROUTES.iter().filter(|r| !r.path.starts_with("/ws")).map(|r| r.path).collect();
    paths.dedup();
    for pattern in paths {
        let path = pattern.replace("{community}", "heyuan").replace("{bill}", &own.bill).replace("{payment}", &own.payment).replace("{device}", &own.device).replace("{alarm}", &own.alarm).replace("{building}", &own.building).replace("{checkpoint}", "heyuan-cp-1").replace("{route}", "heyuan-night").replace("{photo}", &own.photo).replace("{order}", &own.order).replace("{notice}", &own.notice).replace("{house}", &own.house).replace("{registration}", &own.registration).replace("{staff}", "heyuan-wuye-nobody");
        let declared: Vec<&str> = ROUTES.iter().filter(|r| r.path == pattern).map(|r| r.method.as_str()).collect();
        let public = ROUTES.iter().any(|r| r.path == pattern && matches!(r.access, Access::Public));
        for method in ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"] {
            if ["/api/v1/auth/logout", "/api/v1/me/password"].contains(&pattern) && method == "POST" {
                continue;
            }
            let body = (!matches!(method, "GET" | "HEAD")).then_some("{}");
            let anonymous = http(server.http, method, &path, None, body).unwrap().0;
            let (status, _) = http(server.http, method, &path, Some(&admin), body).unwrap();
            if declared.contains(&method) || (method == "HEAD" && declared.contains(&"GET")) {
                if !public {
                    assert_eq!(anonymous, 401, "anonymous {method} {path}");
                }
                if method == "HEAD" {
                    let get = http(server.http, "GET", &path, Some(&admin), None).unwrap().0;
                    assert_eq!(status, get, "HEAD {path} answers as GET");
                }
            } else {
                assert_eq!(status, 405, "{method} {path} is not a method of this path");
                assert!(!(200..300).contains(&anonymous), "anonymous {method} {path}: {anonymous}");
            }
        }
    }
}

/// I2: exports copy every matching row, so one account runs one at a time and the server two in
/// all: the review's ten parallel exports by one butler get one file and nine "wait" answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn i2_parallel_exports_by_one_account_run_one_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::demo(&dir.path().join("h"), 0, &[]).await;
    let butler = server.login("butler");
    let addr = server.http;
    let statuses: Vec<u16> = (0..10)
        .map(|_| {
            let token = butler.clone();
            std::thread::spawn(move || http(addr, "GET", "/api/v1/communities/heyuan/bills/export?format=xlsx", Some(&token), None).unwrap().0)
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|t| t.join().unwrap())
        .collect();
    assert!(statuses.contains(&200), "{statuses:?}");
    assert!(statuses.iter().all(|s| [200, 409, 429].contains(s)), "{statuses:?}");
    assert!(statuses.iter().any(|s| *s == 409), "parallel exports of one account wait: {statuses:?}");
    assert_eq!(http(addr, "GET", "/api/v1/communities/heyuan/bills/export?format=csv", Some(&butler), None).unwrap().0, 200, "and the next one runs");
}

/// M3: a WeChat Pay or Alipay payment a cashier records names the provider's transaction number,
/// and a number pays once — the review's 100,000 "wechat_pay" without proof is refused, and a
/// bulk mark-paid on a provider's channel too. (Verifying the number with the provider itself is
/// the payment-provider issue's.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn m3_provider_payments_name_their_transaction_number_once() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::demo(&dir.path().join("h"), 0, &[]).await;
    let cashier = server.login("cashier");
    let (status, reply) = pay(&server, &cashier, "x1", r#"{"house":"荷花苑-1-1-101","amount":"100000","channel":"wechat_pay"}"#);
    assert_eq!(status, 400, "{reply}");
    assert!(message(&reply).contains("交易单号"), "{reply}");
    let (status, reply) = pay(&server, &cashier, "x2", r#"{"house":"荷花苑-1-1-101","amount":"10.00","channel":"wechat_pay","reference":"4200009999"}"#);
    assert_eq!(status, 200, "{reply}");
    let (status, reply) = pay(&server, &cashier, "x3", r#"{"house":"荷花苑-1-1-101","amount":"10.00","channel":"wechat_pay","reference":"4200009999"}"#);
    assert_eq!(status, 409, "the same transaction number twice: {reply}");
    let bills = server.get_json("/api/v1/communities/heyuan/bills?state=pending&page_size=2");
    let nos: Vec<&str> = bills["rows"].as_array().unwrap().iter().filter_map(|b| b["no"].as_str()).collect();
    let batch = json!({"action": "mark_paid", "bills": nos, "pay_channel": "alipay", "key": "b1"}).to_string();
    let (status, reply) = http(server.http, "POST", "/api/v1/communities/heyuan/bills/batch", Some(&cashier), Some(&batch)).unwrap();
    assert!(status == 400 || status == 409, "{status} {reply}");
    assert!(reply.contains("逐户"), "{reply}");
}

/// S6 (on Hutong's own port): with a certificate and key it speaks HTTPS only, and the session
/// cookie it sets is `Secure`; plain HTTP to that port gets no answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s6_hutong_serves_https_itself_with_a_secure_cookie() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let made = std::process::Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let port = free_port();
    let mut child = Command::new(hutong_bin())
        .args(["demo", "--simulate-rate", "0", "--http", &format!("127.0.0.1:{port}"), "--mqtt", &format!("127.0.0.1:{}", free_port()), "--data"])
        .arg(dir.path().join("h"))
        .arg("--tls-cert")
        .arg(&cert)
        .arg("--tls-key")
        .arg(&key)
        .env("HUTONG_DEMO_PASSWORD", PASSWORD)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let curl = |args: &[&str]| {
        let out = Command::new("curl").args(["-sk", "--max-time", "5"]).args(args).output().unwrap();
        (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let base = format!("https://127.0.0.1:{port}");
    let ready = wait_for("https to be ready", std::time::Duration::from_secs(60), async || {
        let (ok, body) = curl(&[&format!("{base}/healthz")]);
        (ok && body.contains("ready")).then_some(())
    })
    .await;
    let _ = ready;
    let login = json!({"account": "cashier", "password": PASSWORD}).to_string();
    let (ok, head) = curl(&["-i", "-H", "Content-Type: application/json", "-d", &login, &format!("{base}/api/v1/auth/login")]);
    assert!(ok, "{head}");
    let cookie = head.lines().find(|l| l.to_ascii_lowercase().starts_with("set-cookie:")).unwrap_or_default().to_string();
    assert!(cookie.contains("; Secure"), "{cookie}");
    assert!(http_get(format!("127.0.0.1:{port}").parse().unwrap(), "/healthz").map_or(true, |(status, _)| status != 200), "no plain HTTP");
    let _ = child.kill();
    let _ = child.wait();
}

/// I3: the review's bill whose remark starts with NUL and a formula is exported with the
/// apostrophe that keeps a spreadsheet from running it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn i3_an_exported_cell_starting_with_nul_or_a_formula_is_defused() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::demo(&dir.path().join("h"), 0, &[]).await;
    let finance = server.login("finance");
    let csv = "房屋地址,费用类型,费用金额,开始时间,结束时间,备注\n荷花苑-1-1-104,水费,3.00,2026年04月,2026年04月,\u{0}=1+1\n荷花苑-1-1-104,电费,4.00,2026年04月,2026年04月,-5\n";
    let (status, _, reply) = request(server.http, "POST", "/api/v1/communities/heyuan/bills/import", Some(&finance), &[], csv.as_bytes()).unwrap();
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&reply));
    let (status, exported) = http(server.http, "GET", "/api/v1/communities/heyuan/bills/export?format=csv&q=%E8%8D%B7%E8%8A%B1%E8%8B%91-1-1-104", Some(&finance), None).unwrap();
    assert_eq!(status, 200);
    assert!(exported.contains("'\u{0}=1+1"), "NUL first is defused: {exported:?}");
    assert!(exported.contains("'-5"), "{exported:?}");
    assert!(!exported.contains(",\u{0}=1+1"), "{exported:?}");
}

/// L2: a gateway that would carry full phone numbers over plain HTTP across a network is refused
/// at start with a sentence; one on this machine, or over HTTPS, is taken.
#[test]
fn l2_gateways_carrying_phone_numbers_are_https_or_on_this_machine() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(hutong_bin())
        .args(["demo", "--simulate-rate", "0", "--reminder-webhook", "http://10.0.0.5:9000/h", "--data"])
        .arg(dir.path().join("h"))
        .args(["--http", &format!("127.0.0.1:{}", free_port()), "--mqtt", &format!("127.0.0.1:{}", free_port())])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("https://") && err.contains("phone numbers"), "{err}");
}
