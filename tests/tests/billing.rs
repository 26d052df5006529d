//! Billing and collection against the real binary: a bill run (previewed, committed, rerun), a
//! real XLSX made with the standard template imported (and one with errors refused whole), two
//! bills paid in one payment with an idempotency key sent twice, the receipt PDF read back with
//! poppler's pdftotext, reminders refused inside the channel's limit, batch actions refused with a
//! paid bill selected, a formula-safe export, the manager's collection rate moving live when a
//! payment lands — and all of it still there after `kill -9`.

use std::time::Duration;

use hutong_core::import::export;
use hutong_tests::*;
use serde_json::{Value, json};

const C: &str = "/api/v1/communities/heyuan";

fn call(server: &Server, token: &str, method: &str, path: &str, body: Value) -> (u16, Value) {
    let body = (method != "GET").then(|| body.to_string());
    let (status, text) = http(server.http, method, path, Some(token), body.as_deref()).unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

fn upload(server: &Server, token: &str, path: &str, bytes: &[u8]) -> (u16, Value) {
    let (status, _, body) = request(server.http, "POST", path, Some(token), &[("Content-Type", "application/octet-stream")], bytes).unwrap();
    (status, serde_json::from_slice(&body).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned())))
}

fn table(rows: &[&[&str]]) -> Vec<Vec<String>> {
    rows.iter().map(|r| r.iter().map(|c| c.to_string()).collect()).collect()
}

fn bills_of(server: &Server, token: &str, query: &str) -> Value {
    let (status, v) = call(server, token, "GET", &format!("{C}/bills?{query}"), Value::Null);
    assert_eq!(status, 200, "{v}");
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bills_are_run_imported_paid_printed_and_reminded_and_survive_a_kill() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::demo(&data, 0, &[]).await;
    let finance = server.login("finance");
    let cashier = server.login("cashier");
    let manager = server.login("manager");

    // F3: preview, commit, rerun.
    // The demo has billed up to this month; this run is for March 2027.
    let run = json!({"cycle": "monthly", "timing": "in_advance", "on": "2027-03-15", "items": ["property", "elevator"], "commit": false});
    let march = "period_from=2027-03-01&period_to=2027-03-31";
    let (status, preview) = call(&server, &finance, "POST", &format!("{C}/bill-runs"), run.clone());
    assert_eq!(status, 200, "{preview}");
    assert_eq!(preview["bills"], 1584 * 2, "{preview}");
    assert_eq!(bills_of(&server, &finance, march)["total"], 0, "a preview issues nothing");
    let mut commit = run.clone();
    commit["commit"] = json!(true);
    let (_, done) = call(&server, &finance, "POST", &format!("{C}/bill-runs"), commit.clone());
    assert_eq!((done["bills"].clone(), done["amount"].clone()), (preview["bills"].clone(), preview["amount"].clone()));
    let (_, again) = call(&server, &finance, "POST", &format!("{C}/bill-runs"), commit);
    assert_eq!((again["bills"].as_u64(), again["skipped"].as_u64()), (Some(0), Some(3168)), "a rerun issues nothing twice: {again}");

    // The property fee of 荷花苑-1-1-101 is its area × 2.18, half-up.
    let (_, house) = call(&server, &finance, "GET", &format!("{C}/houses?address=荷花苑-1-1-101"), Value::Null);
    let area: rust_decimal::Decimal = house["area"].as_str().unwrap().parse().unwrap();
    let expected = hutong_core::Money::times(area, rust_decimal::Decimal::new(218, 2));
    let mine = bills_of(&server, &finance, &format!("house=heyuan-1-1-101&item=property&{march}"));
    assert_eq!(mine["rows"][0]["amount"].as_str().unwrap(), expected.to_string());

    // F6: a real XLSX made with the standard template; its sample row is skipped.
    let good = table(&[
        &["保留字段", "必填字段", "", "", "", "选填字段"],
        &["房屋地址", "费用类型", "费用金额", "开始时间", "结束时间", "备注"],
        &["一栋一单元101", "物业费", "1300", "2018年01月02日", "2018年12月01日", "缴费备注说明(最多500字)"],
        &["荷花苑/1号楼/1层/101", "水费", "88.885", "2026年10月", "2026年10月31日", ""],
        &["荷花苑-1-1-102", "宠物费", "12", "2026-10-01", "2026年10月", "=HYPERLINK(\"http://evil\")"],
    ]);
    let (status, imported) = upload(&server, &finance, &format!("{C}/bills/import"), &export::xlsx(&good).unwrap());
    assert_eq!(status, 200, "{imported}");
    assert_eq!(imported["imported"], 2, "{imported}");
    let batch = imported["batch"].as_str().unwrap().to_string();
    let water = bills_of(&server, &finance, &format!("batch={batch}&item=water"));
    assert_eq!(water["rows"][0]["amount"], "88.89", "half-up to the fen");
    assert_eq!(bills_of(&server, &finance, &format!("batch={batch}&item=other"))["total"], 1, "an unknown fee type is 其它");

    // A file with bad rows: every one reported, nothing imported.
    let bad = table(&[
        &["房屋地址", "费用类型", "费用金额", "开始时间", "结束时间", "备注"],
        &["荷花苑-1-1-103", "物业费", "50", "2026年09月", "2026年09月", ""],
        &["火星小区-9-9-999", "物业费", "abc", "2026年09月", "2026年09月", ""],
        &["荷花苑-1-1-104", "水费", "10", "2026年13月", "2026年09月", ""],
    ]);
    let before = bills_of(&server, &finance, "")["total"].clone();
    let (status, report) = upload(&server, &finance, &format!("{C}/bills/import"), &export::xlsx(&bad).unwrap());
    assert_eq!(status, 422, "{report}");
    let cells: Vec<(u64, &str)> = report["errors"].as_array().unwrap().iter().map(|e| (e["row"].as_u64().unwrap(), e["column"].as_str().unwrap())).collect();
    assert_eq!(cells, vec![(3, "房屋地址"), (3, "费用金额"), (4, "开始时间")]);
    assert_eq!(bills_of(&server, &finance, "")["total"], before, "nothing half-imported");
    // A hostile upload is refused with a sentence.
    let (status, refused) = upload(&server, &finance, &format!("{C}/bills/import"), b"PK\x03\x04not really a zip");
    assert_eq!(status, 400, "{refused}");
    assert!(refused["error"]["message"].as_str().unwrap().contains("csv"), "{refused}");
    // An upload past the limit is refused with a sentence before it is read.
    let (status, refused) = upload(&server, &finance, &format!("{C}/bills/import"), &vec![b'x'; (10 << 20) + 1]);
    assert_eq!((status, refused["error"]["code"].as_str()), (413, Some("too_large")), "{refused}");

    // The manager watches money live.
    let mut money_ws = ws_open_at(server.http, "/ws/money?community=heyuan", &manager).await.unwrap();
    let (_, money_before) = call(&server, &manager, "GET", &format!("{C}/money"), Value::Null);

    // P2: two bills of one house paid in one payment; the same key twice pays once.
    let property = &mine["rows"][0]["no"];
    let nos: Vec<String> = [property, &water["rows"][0]["no"]].iter().map(|n| n.as_str().unwrap().to_string()).collect();
    let pay = json!({"house": "荷花苑-1-1-101", "bills": nos, "channel": "wechat_pay", "payer": "张三", "reference": "4200001234567"});
    let headers = [("Content-Type", "application/json"), ("Idempotency-Key", "desk-7f3a")];
    let first = request(server.http, "POST", &format!("{C}/payments"), Some(&cashier), &headers, pay.to_string().as_bytes()).unwrap();
    let second = request(server.http, "POST", &format!("{C}/payments"), Some(&cashier), &headers, pay.to_string().as_bytes()).unwrap();
    assert_eq!(first.0, 200, "{}", String::from_utf8_lossy(&first.2));
    let first: Value = serde_json::from_slice(&first.2).unwrap();
    let second: Value = serde_json::from_slice(&second.2).unwrap();
    assert_eq!(first["payment"]["no"], second["payment"]["no"], "one payment for one key");
    // The same key with another body is not a repeat: refused, nothing paid.
    let other = json!({"house": "荷花苑-1-1-101", "bills": nos, "channel": "cash", "payer": "张三"});
    let third = request(server.http, "POST", &format!("{C}/payments"), Some(&cashier), &headers, other.to_string().as_bytes()).unwrap();
    assert_eq!(third.0, 409, "{}", String::from_utf8_lossy(&third.2));
    let paid_amount: rust_decimal::Decimal = first["payment"]["amount"].as_str().unwrap().parse().unwrap();
    assert_eq!(paid_amount, expected.amount() + rust_decimal::Decimal::new(8889, 2));
    for no in &nos {
        let (_, d) = call(&server, &cashier, "GET", &format!("{C}/bills/{no}"), Value::Null);
        assert_eq!(d["bill"]["state"], "paid", "{d}");
    }
    let event = wait_event(&mut money_ws, Duration::from_secs(5), |m| m["body"]["kind"] == "money_detail").await.unwrap();
    assert_eq!(event["body"]["building"], "heyuan-b01");
    let (_, money_after) = call(&server, &manager, "GET", &format!("{C}/money"), Value::Null);
    let received = |m: &Value| m["received"].as_str().unwrap().parse::<rust_decimal::Decimal>().unwrap();
    assert_eq!(received(&money_after) - received(&money_before), paid_amount, "the collection figures moved by the payment");
    let today_rate = |m: &Value| m["rate_today"]["percent"].as_str().unwrap().parse::<rust_decimal::Decimal>().unwrap();
    assert!(today_rate(&money_after) > today_rate(&money_before), "today's rate moved: {} → {}", money_before["rate_today"], money_after["rate_today"]);

    // P7: the receipt PDF, read back by poppler.
    let receipt_no = first["payment"]["no"].as_str().unwrap();
    let (status, head, pdf) = request(server.http, "GET", &format!("{C}/payments/{receipt_no}/receipt"), Some(&cashier), &[], b"").unwrap();
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&pdf));
    assert!(head.contains("application/pdf") && pdf.starts_with(b"%PDF"));
    let file = output_dir().join("receipt.pdf");
    std::fs::write(&file, &pdf).unwrap();
    let text = std::process::Command::new("pdftotext").arg(&file).arg("-").output().expect("pdftotext (poppler-utils)");
    let text = String::from_utf8_lossy(&text.stdout);
    for needle in ["荷花苑收款收据", receipt_no, "微信支付", "张三", "水费", "收款单位", &nos[0], "138****4613"] {
        assert!(text.contains(needle), "receipt text lacks {needle}: {text}");
    }
    let (status, page) = http(server.http, "GET", &format!("{C}/payments/{receipt_no}/receipt?format=html"), Some(&cashier), None).unwrap();
    assert_eq!(status, 200);
    assert!(page.contains("收款单位（盖章）") && page.contains("打印"));

    // F9: batch actions only when every selected bill is pending.
    let open = bills_of(&server, &cashier, &format!("house=heyuan-1-1-102&state=pending&{march}"));
    let open_no = open["rows"][0]["no"].as_str().unwrap().to_string();
    let (status, refused) = call(&server, &cashier, "POST", &format!("{C}/bills/batch"), json!({"action": "remind", "bills": [open_no, nos[0]]}));
    assert_eq!(status, 409, "{refused}");
    assert!(refused["error"]["message"].as_str().unwrap().contains("待支付"));
    // A paid bill is never deleted.
    let (status, _) = call(&server, &finance, "POST", &format!("{C}/bills/{}/delete", nos[0]), Value::Null);
    assert_eq!(status, 409, "a paid bill cannot be deleted: a conflict with its state");

    // N1: WeChat once per 7 days, with the seed's sentence and the next date.
    let remind = json!({"houses": ["荷花苑-1-1-102"], "channel": "wechat"});
    let (_, sent) = call(&server, &cashier, "POST", &format!("{C}/reminders"), remind.clone());
    assert_eq!(sent["sent"], 1, "{sent}");
    let (_, refused) = call(&server, &cashier, "POST", &format!("{C}/reminders"), remind);
    let message = refused["results"][0]["message"].as_str().unwrap();
    let today = chrono::Utc::now().with_timezone(&chrono_tz::Asia::Shanghai).date_naive();
    let next = today + chrono::Days::new(7);
    assert!(message.contains(&format!("已推送过微信缴费通知，请于{}后再催缴", next.format("%Y年%m月%d日"))), "{message}");
    let (_, outbox) = call(&server, &cashier, "GET", &format!("{C}/notifications"), Value::Null);
    let entry = &outbox["notifications"][0];
    assert_eq!(entry["house"], "heyuan-1-1-102");
    assert!(entry["to"].as_array().is_some());

    // C5: houses and residents from the house template; a bad row refuses the file whole unless
    // the operator asks for the good rows only.
    let houses = "房屋地址,类型,面积,状态,状态日期,住户姓名,手机号,身份证号,关系,VIP\n\
                  荷花苑-2-1-101,住宅,88.80,空置,2026年11月1日,赵六,13912345678,110101199001011234,业主,是\n\
                  荷花苑-2-1-102,别墅,90,入住,,钱七,123,,租户,\n";
    let (status, report) = upload(&server, &finance, &format!("{C}/house-records/import"), houses.as_bytes());
    assert_eq!(status, 422, "{report}");
    let columns: Vec<&str> = report["errors"].as_array().unwrap().iter().map(|e| e["column"].as_str().unwrap()).collect();
    assert_eq!(columns, vec!["类型", "手机号"]);
    let (status, report) = upload(&server, &finance, &format!("{C}/house-records/import?good_only=true"), houses.as_bytes());
    assert_eq!((status, report["imported"].as_u64()), (200, Some(1)), "{report}");
    let (_, listed) = call(&server, &finance, "GET", &format!("{C}/house-records?q=赵六"), Value::Null);
    let house = &listed["houses"][0];
    assert_eq!((house["state"].as_str(), house["area"].as_str()), (Some("vacant"), Some("88.80")), "{listed}");
    let zhao = |v: &Value| v["houses"][0]["residents"].as_array().unwrap().iter().find(|r| r["name"] == "赵六").cloned().unwrap();
    let resident = zhao(&listed);
    assert_eq!(resident["phone"], "139****5678", "masked for finance: {listed}");
    assert_eq!(resident["id_number"], "110101********1234");
    assert_eq!(resident["vip"], true);
    let (_, for_admin) = call(&server, &server.admin, "GET", &format!("{C}/house-records?q=赵六"), Value::Null);
    assert_eq!(zhao(&for_admin)["phone"], "13912345678", "the admin holds personal.unmask");

    // F7: the export is formula-safe.
    let (status, _, csv) = request(server.http, "GET", &format!("{C}/bills/export?format=csv&batch={batch}"), Some(&finance), &[], b"").unwrap();
    assert_eq!(status, 200);
    let csv = String::from_utf8(csv).unwrap();
    assert!(csv.contains("'=HYPERLINK"), "{csv}");
    assert!(csv.contains("荷花苑/1号楼/1层/102"));

    // The same run from the command line, with its progress bar.
    let out = std::process::Command::new(hutong_bin())
        .args(["bill-run", "--url", &format!("http://{}", server.http), "--account", "finance", "--community", "heyuan", "--on", "2027-05-02", "--commit"])
        .env("HUTONG_PASSWORD", PASSWORD)
        .output()
        .unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("2027-05-01 ~ 2027-05-31") && stdout.contains("4752 笔"), "{stdout}");
    assert!(stderr.contains("11/11 栋"), "{stderr}");
    let refused = std::process::Command::new(hutong_bin())
        .args(["bill-run", "--url", &format!("http://{}", server.http), "--account", "cashier", "--community", "heyuan"])
        .env("HUTONG_PASSWORD", PASSWORD)
        .output()
        .unwrap();
    assert!(!refused.status.success() && String::from_utf8_lossy(&refused.stderr).contains("billing.write"));

    // kill -9: everything acknowledged is still there.
    let total = bills_of(&server, &finance, "")["total"].clone();
    server.kill9();
    let server = Server::demo(&data, 0, &[]).await;
    let cashier = server.login("cashier");
    assert_eq!(bills_of(&server, &cashier, "")["total"], total);
    let (_, d) = call(&server, &cashier, "GET", &format!("{C}/bills/{}", nos[1]), Value::Null);
    assert_eq!(d["bill"]["state"], "paid");
    assert_eq!(d["payments"][0]["no"].as_str(), Some(receipt_no));
}

/// N3: a webhook reminder is POSTed to the configured URL and the outbox says it was sent; a
/// receiver that refuses leaves the entry failed, with the answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_reminders_are_delivered_and_their_state_kept() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let received = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let seen = received.clone();
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        for (n, stream) in listener.incoming().enumerate() {
            let Ok(mut stream) = stream else { continue };
            // The whole request: headers, then as many body bytes as they announce.
            let mut request = Vec::new();
            let mut buf = [0u8; 16 * 1024];
            loop {
                let read = stream.read(&mut buf).unwrap_or(0);
                request.extend_from_slice(&buf[..read]);
                let text = String::from_utf8_lossy(&request);
                let Some((head, body)) = text.split_once("\r\n\r\n") else {
                    if read == 0 { break } else { continue }
                };
                let length = head.lines().find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse::<usize>().unwrap_or(0))).unwrap_or(0);
                if body.len() >= length || read == 0 {
                    break;
                }
            }
            seen.lock().unwrap().push(String::from_utf8_lossy(&request).into_owned());
            // The first delivery is accepted, the second refused once and accepted on its retry.
            let status = if n == 1 { "503 Service Unavailable" } else { "200 OK" };
            let _ = stream.write_all(format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").as_bytes());
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let hook = format!("http://127.0.0.1:{port}/hook");
    let server = Server::demo(&dir.path().join("data"), 0, &["--reminder-webhook", &hook]).await;
    let cashier = server.login("cashier");
    // Two houses the demo left owing.
    let pending = bills_of(&server, &cashier, "state=pending&page_size=100");
    let mut houses: Vec<String> = pending["rows"].as_array().unwrap().iter().map(|r| r["address"].as_str().unwrap().to_string()).collect();
    houses.dedup();
    let houses = &houses[..2];
    for house in houses {
        let (status, sent) = call(&server, &cashier, "POST", &format!("{C}/reminders"), json!({"houses": [house], "channel": "webhook"}));
        assert_eq!((status, sent["sent"].as_u64()), (200, Some(1)), "{sent}");
    }
    // The refused one is retried, not dropped: it shows as retrying with the hook's answer…
    let retrying = wait_for("the refused delivery to wait for its retry", Duration::from_secs(10), async || {
        let (_, outbox) = call(&server, &cashier, "GET", &format!("{C}/notifications"), Value::Null);
        outbox["notifications"].as_array()?.iter().find(|e| e["channel"] == "webhook" && e["delivery"]["state"] == "retrying").cloned()
    })
    .await;
    assert!(retrying["delivery"]["detail"]["why"].as_str().unwrap().contains("503"), "{retrying}");
    // …and then delivered.
    let entries = wait_for("both deliveries sent", Duration::from_secs(20), async || {
        let (_, outbox) = call(&server, &cashier, "GET", &format!("{C}/notifications"), Value::Null);
        let entries: Vec<Value> = outbox["notifications"].as_array()?.iter().filter(|e| e["channel"] == "webhook").cloned().collect();
        (entries.len() == 2 && entries.iter().all(|e| e["delivery"]["state"] == "sent")).then_some(entries)
    })
    .await;
    let mut attempts: Vec<u64> = entries.iter().map(|e| e["attempts"].as_u64().unwrap()).collect();
    attempts.sort();
    assert_eq!(attempts, vec![1, 2], "{entries:?}");
    let posts = received.lock().unwrap().clone();
    assert_eq!(posts.len(), 3, "two deliveries and one retry");
    assert!(posts.iter().all(|p| p.starts_with("POST /hook HTTP/1.1") && p.contains("缴费通知")), "{posts:?}");
    assert!(posts.iter().any(|p| p.contains(houses[0].as_str())), "{posts:?}");
}
