//! A real browser on the wall: Debian's chromium, headless, driven over the DevTools protocol.
//! It opens the wall of a running demo, sees the tiles, sees values change live, and leaves a
//! screenshot in `test-output/wall.png` for a person to look at.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine;
use futures_util::SinkExt;
use hutong_tests::*;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

struct Browser {
    child: Child,
    ws: Ws,
    next_id: u64,
    profile: std::path::PathBuf,
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Chromium forks renderers and helpers; every one of them carries this run's own
        // --user-data-dir, so that names exactly them. (Not `kill -- -PGID`: procps' kill has
        // misread a negative pid as "every process" here.)
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = Command::new("pkill").args(["-KILL", "-f", "--"]).arg(format!("--user-data-dir={}", self.profile.display())).status();
    }
}

impl Browser {
    async fn launch(profile: &Path) -> Browser {
        let child = Command::new("chromium")
            .args([
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-quic",
                "--remote-debugging-port=0",
                "--window-size=1920,1080",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg("about:blank")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("Debian's chromium is installed by `cargo xtask test`");
        let port_file = profile.join("DevToolsActivePort");
        let port: u16 = wait_for("chromium's DevTools port", Duration::from_secs(30), async || {
            std::fs::read_to_string(&port_file).ok()?.lines().next()?.trim().parse().ok()
        })
        .await;
        let addr = format!("127.0.0.1:{port}").parse().unwrap();
        let page_ws: String = wait_for("a page target", Duration::from_secs(10), async || {
            let (_, body) = http_get(addr, "/json/list").ok()?;
            let targets: Vec<Value> = serde_json::from_str(&body).ok()?;
            targets.iter().find(|t| t["type"] == "page")?["webSocketDebuggerUrl"].as_str().map(str::to_string)
        })
        .await;
        let (ws, _) = tokio_tungstenite::connect_async(page_ws).await.expect("DevTools socket");
        Browser { child, ws: Ws::from(ws), next_id: 0, profile: profile.to_path_buf() }
    }

    async fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        self.ws.send(Message::Text(json!({"id": id, "method": method, "params": params}).to_string().into())).await.unwrap();
        loop {
            let msg = tokio::time::timeout(Duration::from_secs(20), next_json(&mut self.ws)).await.expect("DevTools answer").expect("DevTools open");
            if msg["id"] == id {
                assert!(msg.get("error").is_none(), "{method}: {msg}");
                return msg["result"].clone();
            }
        }
    }

    async fn eval(&mut self, expression: &str) -> Value {
        let r = self.call("Runtime.evaluate", json!({"expression": expression, "returnByValue": true})).await;
        r["result"]["value"].clone()
    }

    async fn screenshot(&mut self, name: &str) {
        let shot = self.call("Page.captureScreenshot", json!({"format": "png"})).await;
        let png = base64::engine::general_purpose::STANDARD.decode(shot["data"].as_str().unwrap()).unwrap();
        assert_eq!(&png[1..4], b"PNG");
        let path = output_dir().join(name);
        std::fs::write(&path, &png).unwrap();
        eprintln!("screenshot: {}", path.display());
    }

    /// Types into the sign-in form as a person would (input events) and submits it.
    async fn sign_in(&mut self, account: &str, password: &str) {
        wait_for("the sign-in form", Duration::from_secs(30), async || {
            self.eval("!!document.querySelector('[data-test=signin]')").await.as_bool().filter(|b| *b)
        })
        .await;
        let type_into = |name: &str, value: &str| {
            format!(
                "(() => {{ const i = document.querySelector('input[name={name}]'); i.value = {value:?};                  i.dispatchEvent(new Event('input', {{bubbles: true}})); return true; }})()"
            )
        };
        self.eval(&type_into("account", account)).await;
        self.eval(&type_into("password", password)).await;
        self.eval("document.querySelector('[data-test=signin] button').click()").await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wall_shows_buildings_and_changes_live() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::demo(&dir.path().join("data"), 300, &[]).await;
    let mut browser = Browser::launch(&dir.path().join("chromium")).await;
    browser.call("Page.enable", json!({})).await;
    browser.call("Page.navigate", json!({"url": format!("http://{}/", server.http)})).await;

    // A wrong password is refused on the form itself.
    browser.sign_in("control", "wrong-password").await;
    let error = wait_for("the sign-in error", Duration::from_secs(10), async || {
        browser.eval("document.querySelector('[data-test=signin-error]').textContent").await.as_str().filter(|t| !t.is_empty()).map(str::to_string)
    })
    .await;
    assert!(error.contains("账号或密码错误"), "{error}");
    browser.screenshot("signin.png").await;
    browser.sign_in("control", PASSWORD).await;

    let tiles = wait_for("10+ building tiles", Duration::from_secs(30), async || {
        let n = browser.eval("document.querySelectorAll('[data-test=tile]').length").await.as_u64()?;
        (n >= 10).then_some(n)
    })
    .await;
    assert_eq!(tiles, 11);
    let link = browser.eval("document.querySelector('[data-test=link]').textContent").await;
    assert!(link.as_str().unwrap_or_default().contains("实时连接"), "connected: {link}");
    let title = browser.eval("document.querySelector('h1').textContent").await;
    assert!(title.as_str().unwrap_or_default().contains("荷花苑"), "{title}");

    // Values change while we watch: the live event counter and the ticker's newest line.
    let count = async |b: &mut Browser| b.eval("Number(document.querySelector('[data-test=events-seen]').textContent)").await.as_u64();
    let ticker = async |b: &mut Browser| b.eval("(document.querySelector('[data-test=ticker] li') || {}).textContent || ''").await;
    let first_count = wait_for("the event counter to start", Duration::from_secs(20), async || count(&mut browser).await.filter(|n| *n > 0)).await;
    let first_line = ticker(&mut browser).await;
    wait_for("the counter to move", Duration::from_secs(20), async || count(&mut browser).await.filter(|n| *n > first_count + 10)).await;
    wait_for("the ticker to move", Duration::from_secs(20), async || {
        let line = ticker(&mut browser).await;
        (line != first_line && !line.as_str().unwrap_or_default().is_empty()).then_some(())
    })
    .await;

    // Every gate and barrier event has its own ticker.
    wait_for("the gate ticker", Duration::from_secs(20), async || {
        browser.eval("document.querySelectorAll('[data-test=gates] li').length").await.as_u64().filter(|n| *n > 0)
    })
    .await;
    browser.screenshot("wall.png").await;

    // The control-room operator signs out; a cashier signs in and gets the billing desk — no
    // wall (their role may not watch devices) and only their community.
    browser.eval("document.querySelector('[data-test=signout]').click()").await;
    browser.sign_in("cashier", PASSWORD).await;
    let desk = wait_for("the cashier's desk", Duration::from_secs(20), async || {
        let t = browser.eval("(document.querySelector('[data-test=desk]') || {}).textContent || ''").await;
        t.as_str().filter(|t| t.contains("荷花苑/")).map(str::to_string)
    })
    .await;
    assert!(desk.contains("缴费记录"), "{desk}");
    assert_eq!(browser.eval("document.querySelectorAll('[data-test=open-import]').length").await, 0, "a cashier does not import bills");
    let page = browser.eval("document.body.textContent").await.as_str().unwrap_or_default().to_string();
    for foreign in ["莲园", "梅园"] {
        assert!(!page.contains(foreign), "the cashier sees only 荷花苑: {page}");
    }
    assert_eq!(browser.eval("document.querySelectorAll('[data-test=tile]').length").await, 0);
    assert_eq!(browser.eval("document.querySelectorAll('[data-test=tab-staff]').length").await, 0, "no admin screens for a cashier");
    browser.screenshot("cashier.png").await;

    // The admin manages staff (phones masked) and reads the audit log, where the failed
    // sign-in above is recorded.
    browser.eval("document.querySelector('[data-test=signout]').click()").await;
    browser.sign_in("admin", PASSWORD).await;
    wait_for("the admin's tabs", Duration::from_secs(20), async || {
        browser.eval("document.querySelectorAll('[data-test=tab-staff]').length").await.as_u64().filter(|n| *n == 1)
    })
    .await;
    browser.eval("document.querySelector('[data-test=tab-staff]').click()").await;
    let table = wait_for("the staff table", Duration::from_secs(20), async || {
        let t = browser.eval("(document.querySelector('[data-test=staff-table]') || {}).textContent || ''").await;
        t.as_str().filter(|t| t.contains("cashier")).map(str::to_string)
    })
    .await;
    assert!(table.contains("138****0003") && !table.contains("13800000003"), "{table}");
    browser.screenshot("staff.png").await;
    // The office adds a wall display on screen and is shown its pairing code, which pairs.
    browser
        .eval("(() => { const i = document.querySelector('input[name=display-name]'); i.value = '监控中心左屏'; i.dispatchEvent(new Event('input', {bubbles: true})); return true; })()")
        .await;
    browser.eval("document.querySelector('[data-test=display-form] button').click()").await;
    let shown = wait_for("the pairing code", Duration::from_secs(10), async || {
        browser.eval("document.querySelector('[data-test=pairing-code]').textContent").await.as_str().filter(|t| t.contains("配对码：")).map(str::to_string)
    })
    .await;
    let code = shown.split("配对码：").nth(1).and_then(|rest| rest.split('（').next()).unwrap_or_default().to_string();
    let (status, reply) = http(server.http, "POST", "/api/v1/auth/pair", None, Some(&json!({ "code": code }).to_string())).unwrap();
    assert_eq!(status, 200, "the code shown on screen pairs: {shown} → {reply}");
    browser.eval("document.querySelector('[data-test=tab-audit]').click()").await;
    let audit = wait_for("the audit log", Duration::from_secs(20), async || {
        let t = browser.eval("(document.querySelector('[data-test=audit-table]') || {}).textContent || ''").await;
        t.as_str().filter(|t| t.contains("auth.sign_in")).map(str::to_string)
    })
    .await;
    assert!(audit.contains("failed") && audit.contains("control"), "the wrong password is in the log: {audit}");
    browser.screenshot("audit.png").await;
}

/// Clicks the element a CSS selector finds (inside `row` when given).
fn click(selector: &str) -> String {
    format!("(() => {{ const e = document.querySelector({selector:?}); if (!e) return false; e.click(); return true; }})()")
}

/// Types `value` into the input named `name` as a person would (an input event).
fn type_into(name: &str, value: &str) -> String {
    format!("(() => {{ const i = document.querySelector('input[name={name}]'); i.value = {value:?}; i.dispatchEvent(new Event('input', {{bubbles: true}})); return true; }})()")
}

/// The text of the element marked `data-test={test}` ('' while there is none).
fn text_of(test: &str) -> String {
    format!("(document.querySelector('[data-test={test}]') || {{}}).textContent || ''")
}

/// A desktop chromium signed in as the demo's administrator, on `path`.
async fn admin_at(server: &Server, profile: &Path, path: &str) -> Browser {
    let mut browser = Browser::launch(profile).await;
    browser.call("Page.enable", json!({})).await;
    browser.call("Page.navigate", json!({"url": format!("http://{}/", server.http)})).await;
    browser.sign_in("admin", PASSWORD).await;
    wait_for("signed in", Duration::from_secs(30), async || browser.eval("!!document.querySelector('[data-test=who]')").await.as_bool().filter(|b| *b)).await;
    browser.call("Page.navigate", json!({"url": format!("http://{}{path}", server.http)})).await;
    browser
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_billing_desk_and_the_manager_screen_work_in_a_browser() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::demo(&dir.path().join("data"), 0, &[]).await;
    let finance = server.login("finance");
    // One known pending bill beside the demo's paid ones.
    let csv = "房屋地址,费用类型,费用金额,开始时间,结束时间,备注\n荷花苑-1-1-101,水费,66.60,2026年10月,2026年10月,浏览器测试\n";
    let (status, _, reply) = request(server.http, "POST", "/api/v1/communities/heyuan/bills/import", Some(&finance), &[], csv.as_bytes()).unwrap();
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&reply));

    let mut browser = Browser::launch(&dir.path().join("chromium")).await;
    browser.call("Page.enable", json!({})).await;
    browser.call("DOM.enable", json!({})).await;
    browser.call("Page.navigate", json!({"url": format!("http://{}/", server.http)})).await;
    browser.sign_in("finance", PASSWORD).await;
    wait_for("the desk's rows", Duration::from_secs(30), async || {
        browser.eval("document.querySelectorAll('[data-test=bill-row]').length").await.as_u64().filter(|n| *n > 0)
    })
    .await;
    // Search by address, as a cashier does with the owner at the counter.
    browser.eval("(() => { const i = document.querySelector('[data-test=search]'); i.value = '荷花苑-1-1-101'; i.dispatchEvent(new Event('input', {bubbles: true})); return true; })()").await;
    browser.eval(&click("[data-test=search-button]")).await;
    let rows = wait_for("only 1-1-101's bills", Duration::from_secs(20), async || {
        let t = browser.eval("Array.from(document.querySelectorAll('[data-test=bill-row]')).map(r => r.textContent)").await;
        let rows: Vec<String> = t.as_array()?.iter().filter_map(|r| r.as_str().map(str::to_string)).collect();
        (!rows.is_empty() && rows.iter().all(|r| r.contains("荷花苑/1号楼/1层/101"))).then_some(rows)
    })
    .await;
    assert!(rows.iter().any(|r| r.contains("待支付") && r.contains("66.60")), "{rows:?}");
    assert!(rows.iter().any(|r| r.contains("已支付")), "{rows:?}");
    let check = |state: &str| format!("(() => {{ const r = Array.from(document.querySelectorAll('[data-test=bill-row]')).find(r => r.textContent.includes('{state}')); r.querySelector('[data-test=bill-check]').click(); return true; }})()");
    let bar = "getComputedStyle(document.querySelector('[data-test=batch-bar]')).display";
    browser.eval(&check("待支付")).await;
    wait_for("the batch bar", Duration::from_secs(5), async || browser.eval(bar).await.as_str().filter(|d| *d == "flex").map(|_| ())).await;
    browser.eval(&check("已支付")).await;
    wait_for("the batch bar to hide with a paid bill selected", Duration::from_secs(5), async || browser.eval(bar).await.as_str().filter(|d| *d == "none").map(|_| ())).await;
    browser.screenshot("desk.png").await;
    browser.eval(&check("已支付")).await;

    // Mark the pending bill paid with a channel and a payer.
    browser.eval("(() => { const r = Array.from(document.querySelectorAll('[data-test=bill-row]')).find(r => r.textContent.includes('待支付')); r.querySelector('[data-test=mark-paid]').click(); return true; })()").await;
    wait_for("the pay dialog", Duration::from_secs(5), async || browser.eval("document.querySelectorAll('[data-test=pay-dialog]').length").await.as_u64().filter(|n| *n == 1)).await;
    browser.eval("(() => { const s = document.querySelector('[data-test=pay-channel]'); s.value = 'pos_card'; s.dispatchEvent(new Event('change', {bubbles: true})); const i = document.querySelector('[data-test=payer]'); i.value = '李四'; i.dispatchEvent(new Event('input', {bubbles: true})); return true; })()").await;
    browser.eval(&click("[data-test=pay-confirm]")).await;
    wait_for("the bill to show paid", Duration::from_secs(10), async || {
        let t = browser.eval("(document.querySelector('[data-test=desk-message]') || {}).textContent || ''").await;
        let rows = browser.eval("Array.from(document.querySelectorAll('[data-test=bill-row]')).map(r => r.textContent).join('|')").await;
        (t.as_str()?.contains("已支付") && !rows.as_str()?.contains("待支付")).then_some(())
    })
    .await;
    let (_, body) = http(server.http, "GET", "/api/v1/communities/heyuan/bills?house=heyuan-1-1-101&item=water&period_from=2026-10-01&period_to=2026-10-31", Some(&finance), None).unwrap();
    let bill: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(bill["rows"][0]["state"], "paid", "{bill}");

    // The import dialog with a GBK file that has a bad row: the report names it.
    let bad = encoding_rs::GBK.encode("房屋地址,费用类型,费用金额,开始时间,结束时间,备注\n荷花苑-1-1-101,物业费,abc,2026年10月,2026年10月,\n").0.into_owned();
    let file = dir.path().join("坏数据.csv");
    std::fs::write(&file, bad).unwrap();
    browser.eval(&click("[data-test=open-import]")).await;
    wait_for("the import dialog", Duration::from_secs(5), async || browser.eval("document.querySelectorAll('[data-test=import-file]').length").await.as_u64().filter(|n| *n == 1)).await;
    let doc = browser.call("DOM.getDocument", json!({})).await;
    let node = browser.call("DOM.querySelector", json!({"nodeId": doc["root"]["nodeId"], "selector": "[data-test=import-file]"})).await;
    browser.call("DOM.setFileInputFiles", json!({"nodeId": node["nodeId"], "files": [file.display().to_string()]})).await;
    browser.eval(&click("[data-test=import-send]")).await;
    let report = wait_for("the import report", Duration::from_secs(10), async || {
        let t = browser.eval("(document.querySelector('[data-test=import-report]') || {}).textContent || ''").await;
        t.as_str().filter(|t| t.contains("费用金额")).map(str::to_string)
    })
    .await;
    assert!(report.contains("未导入") && report.contains("金额不是数字"), "{report}");
    browser.screenshot("import.png").await;

    // The manager's screen: the collection rate moves when a payment lands.
    browser.eval(&click("[data-test=signout]")).await;
    browser.sign_in("manager", PASSWORD).await;
    wait_for("the manager tab", Duration::from_secs(20), async || browser.eval("document.querySelectorAll('[data-test=tab-manager]').length").await.as_u64().filter(|n| *n == 1)).await;
    browser.eval(&click("[data-test=tab-manager]")).await;
    let today = async |b: &mut Browser| b.eval("(document.querySelector('[data-test=rate-today]') || {}).textContent || ''").await.as_str().map(str::to_string).filter(|t| t.contains('%'));
    let before = wait_for("today's rate", Duration::from_secs(20), async || today(&mut browser).await).await;
    wait_for("the money feed", Duration::from_secs(10), async || browser.eval("document.querySelector('.manager .link.up') !== null").await.as_bool().filter(|b| *b)).await;
    let cashier = server.login("cashier");
    let pay = json!({"key": "browser-1", "house": "荷花苑-3-2-105", "channel": "cash", "payer": "王五", "amount": "500.00"});
    let (status, reply) = http(server.http, "POST", "/api/v1/communities/heyuan/payments", Some(&cashier), Some(&pay.to_string())).unwrap();
    assert_eq!(status, 200, "{reply}");
    let after = wait_for("today's rate to move", Duration::from_secs(10), async || today(&mut browser).await.filter(|t| *t != before)).await;
    assert_ne!(before, after);
    let trend = browser.eval("document.querySelectorAll('[data-test=trend] rect').length").await;
    assert_eq!(trend, 12, "a 12-month trend");
    browser.screenshot("manager.png").await;
    // Every screen has its URL: a reload (or a link) lands on it again, live.
    let url = browser.eval("location.pathname").await;
    assert_eq!(url, "/manager/heyuan");
    browser.call("Page.navigate", json!({"url": format!("http://{}/manager/heyuan", server.http)})).await;
    wait_for("the manager screen after a reload", Duration::from_secs(20), async || today(&mut browser).await).await;
}

/// R8 on screen: an alarm raised by a meter appears on the control room's wall with its age and
/// "待接手"; the operator takes it (their name shows), a resolution without a note is refused on
/// the screen, one with a note takes it off the wall.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_control_room_takes_and_resolves_an_alarm_on_the_wall() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::demo(&dir.path().join("data"), 0, &[]).await;
    let key = server.device_key("heyuan", "wm-1-1-101");
    let topic = "hutong/heyuan/devices/wm-1-1-101/telemetry";
    let mut meter = Device::connect("127.0.0.1", server.mqtt_port, "browser-meter", "heyuan/wm-1-1-101", &key).await;
    meter.publish(topic, telemetry(1, "900")).await;
    for seq in 2..=4 {
        meter.publish(topic, telemetry(seq, "850")).await;
    }
    let mut browser = Browser::launch(&dir.path().join("chromium")).await;
    browser.call("Page.enable", json!({})).await;
    browser.call("Page.navigate", json!({"url": format!("http://{}/", server.http)})).await;
    browser.sign_in("control", PASSWORD).await;
    let row = async |b: &mut Browser| b.eval("(document.querySelector('[data-test=open-alarm]') || {}).textContent || ''").await.as_str().unwrap_or_default().to_string();
    let line = wait_for("the open alarm on the wall", Duration::from_secs(30), async || Some(row(&mut browser).await).filter(|t| t.contains("读数倒退"))).await;
    assert!(line.contains("×3") && line.contains("待接手"), "{line}");
    // The operator's workspace says what waits for them (X4).
    browser.call("Page.navigate", json!({"url": format!("http://{}/workspace", server.http)})).await;
    let waiting = wait_for("what waits", Duration::from_secs(20), async || {
        browser.eval("(document.querySelector('[data-test=waiting]') || {}).textContent || ''").await.as_str().filter(|t| t.contains("荷花苑")).map(str::to_string)
    })
    .await;
    assert!(waiting.contains("待接手告警 1 条"), "{waiting}");
    browser.call("Page.navigate", json!({"url": format!("http://{}/wall/heyuan", server.http)})).await;
    wait_for("the wall again", Duration::from_secs(30), async || Some(row(&mut browser).await).filter(|t| t.contains("读数倒退"))).await;
    assert_eq!(browser.eval(&click("[data-test=alarm-take]")).await, true);
    let line = wait_for("the operator's name on it", Duration::from_secs(10), async || Some(row(&mut browser).await).filter(|t| t.contains("处理中"))).await;
    assert!(!line.contains("待接手"), "{line}");
    browser.screenshot("wall-alarm-taken.png").await;
    assert_eq!(browser.eval(&click("[data-test=alarm-resolve]")).await, true);
    wait_for("the note field", Duration::from_secs(10), async || browser.eval("!!document.querySelector('[data-test=alarm-note]')").await.as_bool().filter(|b| *b)).await;
    browser.eval(&click("[data-test=alarm-confirm]")).await;
    let refusal = wait_for("the refusal of an empty note", Duration::from_secs(10), async || {
        browser.eval("document.querySelector('[data-test=alarm-error]').textContent").await.as_str().filter(|t| !t.is_empty()).map(str::to_string)
    })
    .await;
    assert!(refusal.contains("请填写处理说明"), "{refusal}");
    browser
        .eval("(() => { const i = document.querySelector('[data-test=alarm-note]'); i.value = '更换表头后读数归零'; i.dispatchEvent(new Event('input', {bubbles: true})); return true; })()")
        .await;
    browser.eval(&click("[data-test=alarm-confirm]")).await;
    wait_for("the wall without open alarms", Duration::from_secs(10), async || {
        let t = browser.eval("document.querySelector('[data-test=alarms]').textContent").await;
        t.as_str().filter(|t| t.contains("暂无未处理告警")).map(str::to_string)
    })
    .await;
    browser.screenshot("wall-alarm-resolved.png").await;
    let list = server.get_json("/api/v1/communities/heyuan/alarms");
    assert_eq!(list["resolved"][0]["resolved"]["note"], "更换表头后读数归零");
}

/// R2 unattended: a display pairs on its own screen with the office's code, shows its first
/// community with the community's clock, cycles to the second by itself, and when the office
/// closes its account it says — across the room — that it must be paired again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paired_display_cycles_its_communities_and_asks_to_be_paired_again_when_revoked() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::demo(&dir.path().join("data"), 0, &[]).await;
    let body = json!({"name": "监控中心左屏", "communities": ["heyuan", "lianyuan"]}).to_string();
    let (status, reply) = http(server.http, "POST", "/api/v1/displays", Some(&server.admin), Some(&body)).unwrap();
    assert_eq!(status, 200, "{reply}");
    let added: Value = serde_json::from_str(&reply).unwrap();
    let (code, id) = (added["code"].as_str().unwrap().to_string(), added["display"]["id"].as_str().unwrap().to_string());

    let mut browser = Browser::launch(&dir.path().join("chromium")).await;
    browser.call("Page.enable", json!({})).await;
    browser.call("Page.navigate", json!({"url": format!("http://{}/?cycle=3", server.http)})).await;
    wait_for("the pairing form", Duration::from_secs(30), async || browser.eval("!!document.querySelector('[data-test=pair]')").await.as_bool().filter(|b| *b)).await;
    let typed = format!("(() => {{ const i = document.querySelector('[data-test=pair] input[name=code]'); i.value = {code:?}; i.dispatchEvent(new Event('input', {{bubbles: true}})); return true; }})()");
    browser.eval(&typed).await;
    browser.eval("document.querySelector('[data-test=pair] button').click()").await;
    let title = async |b: &mut Browser| b.eval("(document.querySelector('h1') || {}).textContent || ''").await.as_str().unwrap_or_default().to_string();
    wait_for("the first community's wall", Duration::from_secs(30), async || Some(title(&mut browser).await).filter(|t| t.contains("荷花苑"))).await;
    let clock = browser.eval("document.querySelector('[data-test=clock]').textContent").await;
    assert!(clock.as_str().is_some_and(|c| c.contains(':')), "a clock: {clock}");
    assert_eq!(browser.eval("document.querySelectorAll('nav').length").await, 0, "a display has nothing to navigate");
    assert_eq!(browser.eval("document.querySelectorAll('[data-test=alarm-take]').length").await, 0);
    browser.screenshot("display-heyuan.png").await;
    wait_for("the second community's wall, by itself", Duration::from_secs(15), async || Some(title(&mut browser).await).filter(|t| t.contains("莲园"))).await;
    browser.screenshot("display-lianyuan.png").await;
    // Readable across a room: no text on the wall under 14 px on a 1080p screen, and on a 4K
    // screen every text twice as large (the wall is laid out in fractions of the screen).
    let smallest = "Math.min(...[...document.querySelectorAll('.wall *')].filter(e => e.offsetParent !== null && [...e.childNodes].some(n => n.nodeType === 3 && n.textContent.trim())).map(e => parseFloat(getComputedStyle(e).fontSize)))";
    let at_1080 = browser.eval(smallest).await.as_f64().unwrap();
    browser.call("Emulation.setDeviceMetricsOverride", json!({"width": 3840, "height": 2160, "deviceScaleFactor": 1, "mobile": false})).await;
    let at_4k = wait_for("the wall laid out for 4K", Duration::from_secs(10), async || browser.eval(smallest).await.as_f64().filter(|px| *px > at_1080)).await;
    assert!(at_1080 >= 14.0 && at_4k >= 1.9 * at_1080, "smallest text: {at_1080} px at 1080p, {at_4k} px at 4K");
    eprintln!("smallest text on the wall: {at_1080} px at 1080p, {at_4k} px at 4K");
    browser.screenshot("display-4k.png").await;
    browser.call("Emulation.setDeviceMetricsOverride", json!({"width": 1920, "height": 1080, "deviceScaleFactor": 1, "mobile": false})).await;

    // The office closes the display's account: the screen says so instead of retrying for ever.
    let (status, reply) = http(server.http, "POST", &format!("/api/v1/staff/{id}/disable"), Some(&server.admin), Some("")).unwrap();
    assert_eq!(status, 200, "{reply}");
    let gone = wait_for("the re-pair notice", Duration::from_secs(20), async || {
        browser.eval("(document.querySelector('[data-test=session-gone]') || {}).textContent || ''").await.as_str().filter(|t| !t.is_empty()).map(str::to_string)
    })
    .await;
    assert!(gone.contains("重新配对"), "{gone}");
    browser.screenshot("display-unpaired.png").await;
}

/// R7: the building chart in a browser — every house a cell coloured by arrears; a click opens
/// the house with what it owes; when a payment lands at the desk the cell turns green by itself;
/// by house state the same cells take their states' colours.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_building_chart_turns_a_cell_green_when_its_payment_lands() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::demo(&dir.path().join("data"), 0, &[]).await;
    let chart = server.get_json("/api/v1/communities/heyuan/buildings/heyuan-b01/chart");
    let cells = chart["cells"].as_array().unwrap();
    assert_eq!(cells.len(), 144, "every house of building 1");
    let owing = cells.iter().find(|c| c["owed"].as_str().is_some_and(|o| o != "0" && o != "0.00")).expect("a house that owes");
    let (house, address, owed) = (owing["house"].as_str().unwrap().to_string(), owing["address"].as_str().unwrap().to_string(), owing["owed"].as_str().unwrap().to_string());

    let mut browser = Browser::launch(&dir.path().join("chromium")).await;
    browser.call("Page.enable", json!({})).await;
    browser.call("Page.navigate", json!({"url": format!("http://{}/chart/heyuan", server.http)})).await;
    browser.sign_in("cashier", PASSWORD).await;
    let class = format!("(document.querySelector('[data-house=\"{house}\"]') || {{}}).className || ''");
    let before = wait_for("the cells", Duration::from_secs(30), async || browser.eval(&class).await.as_str().filter(|c| !c.is_empty()).map(str::to_string)).await;
    assert!(before.contains("owes") || before.contains("overdue"), "{before}");
    assert_eq!(browser.eval("document.querySelectorAll('[data-test=cell]').length").await, 144);
    browser.eval(&click(&format!("[data-house=\"{house}\"]"))).await;
    let detail = wait_for("the house opened", Duration::from_secs(10), async || {
        browser.eval("(document.querySelector('[data-test=house-owed]') || {}).textContent || ''").await.as_str().filter(|t| !t.is_empty()).map(str::to_string)
    })
    .await;
    assert!(detail.contains(&owed), "{detail} shows {owed}");
    browser.screenshot("chart-owing.png").await;

    // The desk takes the whole amount; the chart follows without a reload.
    let body = json!({"house": address, "amount": owed, "channel": "cash"}).to_string();
    let headers = [("Content-Type", "application/json"), ("Idempotency-Key", "chart-pays")];
    let (status, _, reply) = request(server.http, "POST", "/api/v1/communities/heyuan/payments", Some(&server.login("cashier")), &headers, body.as_bytes()).unwrap();
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&reply));
    wait_for("the cell to turn green", Duration::from_secs(15), async || browser.eval(&class).await.as_str().filter(|c| c.contains("clear")).map(str::to_string)).await;
    browser.screenshot("chart-paid.png").await;
    browser.eval(&click("[data-test=mode-state]")).await;
    let by_state = wait_for("the cells by state", Duration::from_secs(10), async || browser.eval(&class).await.as_str().filter(|c| c.contains("st-")).map(str::to_string)).await;
    assert!(by_state.starts_with("cell st-"), "{by_state}");
}

/// The guard's phone (R5, T4): on a phone-sized screen the guard lands on today's rounds, opens a
/// checkpoint's printed code (its URL, as the phone's camera would) and is checked in at once; a
/// forged code is refused with a sentence; when the round's window closes the unreached stop
/// reads 漏巡.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guard_checks_in_by_scanning_on_a_phone_and_sees_the_miss() {
    use chrono::{TimeDelta, Utc};
    let dir = tempfile::tempdir().unwrap();
    let server = Server::demo(&dir.path().join("data"), 0, &[]).await;
    let base = "/api/v1/communities/heyuan/patrol";
    for (id, name) in [("p-1", "东门岗亭"), ("p-2", "西侧围墙")] {
        let (status, reply) = http(server.http, "PUT", &format!("{base}/checkpoints/{id}"), Some(&server.admin), Some(&format!(r#"{{"name":"{name}"}}"#))).unwrap();
        assert_eq!(status, 200, "{reply}");
    }
    // Under way for 45 s: both windows close in about 15 s.
    let start = (Utc::now() - TimeDelta::seconds(45)).with_timezone(&chrono_tz::Asia::Shanghai).format("%H:%M:%S").to_string();
    let route = format!(r#"{{"name":"手机测试路线","stops":[{{"checkpoint":"p-1","after_mins":0}},{{"checkpoint":"p-2","after_mins":0}}],"plan":{{"starts":["{start}"],"tolerance_mins":1}}}}"#);
    let (status, reply) = http(server.http, "PUT", &format!("{base}/routes/phone"), Some(&server.admin), Some(&route)).unwrap();
    assert_eq!(status, 200, "{reply}");
    let code: Value = serde_json::from_str(&http(server.http, "GET", &format!("{base}/checkpoints/p-1/code"), Some(&server.admin), None).unwrap().1).unwrap();

    let mut browser = Browser::launch(&dir.path().join("chromium")).await;
    browser.call("Page.enable", json!({})).await;
    browser.call("Emulation.setDeviceMetricsOverride", json!({"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": true})).await;
    browser.call("Page.navigate", json!({"url": format!("http://{}/", server.http)})).await;
    browser.sign_in("guard", PASSWORD).await;
    let text = async |b: &mut Browser, selector: &str| b.eval(&format!("(document.querySelector('{selector}') || {{}}).textContent || ''")).await.as_str().unwrap_or_default().to_string();
    wait_for("today's rounds", Duration::from_secs(30), async || Some(text(&mut browser, "[data-test=patrol]").await).filter(|t| t.contains("手机测试路线"))).await;

    browser.call("Page.navigate", json!({"url": format!("http://{}/patrol/scan?community=heyuan&checkpoint=p-2&code=00000000000000000000000000000000", server.http)})).await;
    let refused = wait_for("the forged code refused", Duration::from_secs(30), async || Some(text(&mut browser, "[data-test=scan-error]").await).filter(|t| !t.is_empty())).await;
    assert!(refused.contains("二维码无效"), "{refused}");
    // The code as printed: the address read back from the sheet of codes.
    let (status, _, pdf) = request(server.http, "GET", &format!("{base}/codes.pdf"), Some(&server.admin), &[], b"").unwrap();
    assert_eq!(status, 200);
    let printed = printed_urls(&pdf).into_iter().find(|u| u.contains("checkpoint=p-1&")).expect("p-1's address on the sheet");
    assert!(printed.ends_with(code["url"].as_str().unwrap()), "{printed}");
    browser.call("Page.navigate", json!({"url": printed})).await;
    let ok = wait_for("the check-in", Duration::from_secs(30), async || Some(text(&mut browser, "[data-test=scan-ok]").await).filter(|t| !t.is_empty())).await;
    assert!(ok.contains("签到成功"), "{ok}");
    browser.screenshot("patrol-phone-scan.png").await;
    // A photo (from the phone's camera; here a file) and a note for the check-in.
    wait_for("the photo form", Duration::from_secs(10), async || browser.eval("!!document.querySelector('[data-test=scan-photo]')").await.as_bool().filter(|b| *b)).await;
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/photo-own.png");
    let doc = browser.call("DOM.getDocument", json!({})).await;
    let input = browser.call("DOM.querySelector", json!({"nodeId": doc["root"]["nodeId"], "selector": "[data-test=scan-photo]"})).await;
    browser.call("DOM.setFileInputFiles", json!({"files": [fixture.to_str().unwrap()], "nodeId": input["nodeId"]})).await;
    browser.eval("(() => { const t = document.querySelector('[data-test=scan-note] textarea'); t.value = '岗亭灯坏了'; t.dispatchEvent(new Event('input', {bubbles: true})); return true; })()").await;
    browser.eval(&click("[data-test=scan-save]")).await;
    let saved = wait_for("the photo saved", Duration::from_secs(20), async || Some(text(&mut browser, "[data-test=scan-note-ok]").await).filter(|t| !t.is_empty())).await;
    assert!(saved.contains("照片 1 张"), "{saved}");
    browser.screenshot("patrol-phone-photo.png").await;

    browser.call("Page.navigate", json!({"url": format!("http://{}/patrol/heyuan", server.http)})).await;
    let mine = "(Array.from(document.querySelectorAll('[data-test=route]')).find(r => r.textContent.includes('手机测试路线')) || {}).textContent || ''";
    let stops = wait_for("the stop checked in", Duration::from_secs(30), async || browser.eval(mine).await.as_str().filter(|t| t.contains("已签到")).map(str::to_string)).await;
    assert!(stops.contains("东门岗亭") && !stops.contains("漏巡"), "before the window closes nothing is missed: {stops}");
    assert!(stops.contains("备注：岗亭灯坏了") && stops.contains("照片1"), "the note and photo on the round: {stops}");
    // A round starting in a minute and 12 s, its guard reminded a minute ahead: 12 s from now.
    let soon = (Utc::now() + TimeDelta::seconds(72)).with_timezone(&chrono_tz::Asia::Shanghai).format("%H:%M:%S").to_string();
    let reminded = format!(r#"{{"name":"提醒测试路线","stops":[{{"checkpoint":"p-1","after_mins":0}}],"plan":{{"starts":["{soon}"],"tolerance_mins":1,"guards":["guard"],"remind_mins":1}}}}"#);
    let (status, reply) = http(server.http, "PUT", &format!("{base}/routes/soon"), Some(&server.admin), Some(&reminded)).unwrap();
    assert_eq!(status, 200, "{reply}");
    // The guard is reminded of the next round on the open page (pushed over /ws/patrol).
    let told = wait_for("the round's reminder", Duration::from_secs(40), async || Some(text(&mut browser, "[data-test=patrol-reminder]").await).filter(|t| !t.is_empty())).await;
    assert!(told.contains("提醒测试路线") && told.contains("即将开始"), "{told}");
    browser.screenshot("patrol-phone-reminder.png").await;
    // The second stop's window closes unreached: the page shows the miss by itself, nobody refreshes.
    let missed = wait_for("the miss on the phone", Duration::from_secs(40), async || browser.eval(mine).await.as_str().filter(|t| t.contains("漏巡")).map(str::to_string)).await;
    assert!(missed.contains("西侧围墙"), "{missed}");
    let banner = wait_for("the miss announced", Duration::from_secs(10), async || Some(text(&mut browser, "[data-test=patrol-missed]").await).filter(|t| !t.is_empty())).await;
    assert!(banner.contains("漏巡") && banner.contains("西侧围墙"), "{banner}");
    // The month's figures count the round as missed (T6).
    let row = "(document.querySelector('[data-test=patrol-figures] tr[data-id=phone]') || {}).textContent || ''";
    let figures = wait_for("the round in the month's figures", Duration::from_secs(10), async || browser.eval(row).await.as_str().filter(|t| t.contains("100.0%")).map(str::to_string)).await;
    assert!(figures.starts_with("手机测试路线1"), "one round, none completed, all missed: {figures}");
    browser.screenshot("patrol-phone-missed.png").await;
    browser.eval("document.querySelector('[data-test=patrol-figures]').scrollIntoView()").await;
    browser.screenshot("patrol-phone-figures.png").await;

    // The missed checkpoint scanned after its window: refused for the planned round, then kept as
    // a round of the guard's own (临时巡更).
    let missed_code: Value = serde_json::from_str(&http(server.http, "GET", &format!("{base}/checkpoints/p-2/code"), Some(&server.admin), None).unwrap().1).unwrap();
    browser.call("Page.navigate", json!({"url": format!("http://{}{}", server.http, missed_code["url"].as_str().unwrap())})).await;
    let refused = wait_for("the late scan refused", Duration::from_secs(30), async || Some(text(&mut browser, "[data-test=scan-error]").await).filter(|t| !t.is_empty())).await;
    assert!(refused.contains("已结束") || refused.contains("时段"), "{refused}");
    browser.eval(&click("[data-test=scan-unplanned]")).await;
    let kept = wait_for("the unplanned check-in", Duration::from_secs(30), async || Some(text(&mut browser, "[data-test=scan-ok]").await).filter(|t| !t.is_empty())).await;
    assert!(kept.contains("临时巡更已记录"), "{kept}");
}

/// Patrols set up on screen (T1–T3): the office adds a checkpoint and places it by clicking the
/// site plan, builds a route from checkpoints in the order the plan suggests, gives it its
/// plan, and is told in a sentence what the server refuses.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_office_sets_up_checkpoints_and_a_route_on_screen() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::demo(&dir.path().join("data"), 0, &[]).await;
    let mut browser = admin_at(&server, &dir.path().join("chromium"), "/patrol/heyuan/setup").await;
    wait_for("the demo's checkpoints", Duration::from_secs(30), async || {
        browser.eval("(document.querySelector('[data-test=checkpoints]') || {}).textContent || ''").await.as_str().filter(|t| t.contains("北门岗亭")).map(str::to_string)
    })
    .await;
    let type_into = |name: &str, value: &str| format!("(() => {{ const i = document.querySelector('input[name={name}]'); i.value = {value:?}; i.dispatchEvent(new Event('input', {{bubbles: true}})); return true; }})()");

    // A new checkpoint, placed by a click on the plan, with its RFID tag.
    browser.eval(&type_into("cp-id", "heyuan-cp-pool")).await;
    browser.eval(&type_into("cp-name", "泳池")).await;
    browser.eval(&type_into("cp-tag", "04:aa:bb:cc")).await;
    browser.eval("(() => { const s = document.querySelector('[data-test=site-plan]'); const r = s.getBoundingClientRect(); s.dispatchEvent(new MouseEvent('click', {bubbles: true, clientX: r.left + 180, clientY: r.top + 120})); return true; })()").await;
    let x = wait_for("the click's position", Duration::from_secs(5), async || browser.eval("document.querySelector('input[name=cp-x]').value").await.as_str().filter(|v| !v.is_empty()).map(str::to_string)).await;
    assert!(x.parse::<u32>().is_ok(), "metres east: {x}");
    browser.eval(&click("[data-test=save-checkpoint]")).await;
    let saved = wait_for("the checkpoint saved", Duration::from_secs(10), async || browser.eval("(document.querySelector('[data-test=checkpoint-message]') || {}).textContent || ''").await.as_str().filter(|t| !t.is_empty()).map(str::to_string)).await;
    assert!(saved.contains("已保存"), "{saved}");
    let checkpoints = server.get_json("/api/v1/communities/heyuan/patrol/checkpoints");
    let pool = checkpoints.as_array().unwrap().iter().find(|c| c["id"] == "heyuan-cp-pool").unwrap().clone();
    assert_eq!((pool["name"].as_str(), pool["tag"].as_str()), (Some("泳池"), Some("04:AA:BB:CC")), "{pool}");
    assert!(pool["position"][0].as_u64().is_some(), "placed on the plan: {pool}");

    // A route: two checkpoints added, the order suggested, a plan; a bad start time first.
    browser.eval(&type_into("route-id", "heyuan-pool-round")).await;
    browser.eval(&type_into("route-name", "泳池巡查")).await;
    let select = |selector: &str, value: &str| format!("(() => {{ const s = document.querySelector('{selector}'); s.value = {value:?}; s.dispatchEvent(new Event('change', {{bubbles: true}})); return true; }})()");
    for id in ["heyuan-cp-pool", "heyuan-cp-1", "heyuan-cp-2"] {
        browser.eval(&select("[data-test=add-stop-pick]", id)).await;
        browser.eval(&click("[data-test=add-stop]")).await;
    }
    browser.eval(&click("[data-test=suggest-order]")).await;
    wait_for("the suggested order", Duration::from_secs(10), async || browser.eval("(document.querySelector('[data-test=route-message]') || {}).textContent || ''").await.as_str().filter(|t| t.contains("建议顺序")).map(str::to_string)).await;
    browser.eval(&type_into("starts", "25:00")).await;
    browser.eval(&click("[data-test=save-route]")).await;
    let refused = wait_for("the refusal", Duration::from_secs(10), async || browser.eval("(document.querySelector('[data-test=route-message].error') || {}).textContent || ''").await.as_str().filter(|t| !t.is_empty()).map(str::to_string)).await;
    assert!(refused.contains("25:00"), "the sentence names what is wrong: {refused}");
    browser.eval(&type_into("starts", "21:30, 23:30")).await;
    browser.eval(&click("[data-test=save-route]")).await;
    let ok = wait_for("the route saved", Duration::from_secs(10), async || browser.eval("(document.querySelector('[data-test=route-message].ok') || {}).textContent || ''").await.as_str().filter(|t| t.contains("已保存")).map(str::to_string)).await;
    assert!(ok.contains("heyuan-pool-round"), "{ok}");
    browser.screenshot("patrol-setup.png").await;
    let route = server.get_json("/api/v1/communities/heyuan/patrol/routes/heyuan-pool-round");
    let stops: Vec<&str> = route["definition"]["stops"].as_array().unwrap().iter().map(|s| s["checkpoint"].as_str().unwrap()).collect();
    let mut sorted = stops.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, ["heyuan-cp-1", "heyuan-cp-2", "heyuan-cp-pool"], "{route}");
    assert_eq!(stops[0], "heyuan-cp-pool", "the suggested order starts where the route was begun");
    assert_eq!(route["definition"]["plan"]["starts"].as_array().map(Vec::len), Some(2), "{route}");
}

/// Work orders on screen (W2–W5, R5): on a phone-sized screen the technician's page shows an order
/// the moment the dispatcher gives it to them, with the count waiting; they accept it, scan the
/// door plate's code on arrival, and report it done with a photo and a charge — which lands as a
/// bill in the house's book. At a desk the dispatcher calls back (回访) and the figures move.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_technician_takes_an_order_on_a_phone_and_the_office_calls_back() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::demo(&dir.path().join("data"), 0, &[]).await;
    let base = "/api/v1/communities/heyuan/work-orders";
    let control = server.login("control");
    let butler = server.login("butler");
    let body = r#"{"kind":"repair","category":"水电","description":"卫生间水管漏水","house":"heyuan-1-1-101"}"#;
    let (status, reply) = http(server.http, "POST", base, Some(&butler), Some(body)).unwrap();
    assert_eq!(status, 200, "{reply}");
    let id = serde_json::from_str::<Value>(&reply).unwrap()["id"].as_str().unwrap().to_string();
    let (status, reply) = http(server.http, "POST", &format!("{base}/{id}/review"), Some(&control), Some("{}")).unwrap();
    assert_eq!(status, 200, "{reply}");

    let mut browser = Browser::launch(&dir.path().join("chromium")).await;
    browser.call("Page.enable", json!({})).await;
    browser.call("Emulation.setDeviceMetricsOverride", json!({"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": true})).await;
    browser.call("Page.navigate", json!({"url": format!("http://{}/", server.http)})).await;
    browser.sign_in("repair", PASSWORD).await;
    wait_for("the work tab", Duration::from_secs(30), async || browser.eval("!!document.querySelector('[data-test=tab-work]')").await.as_bool().filter(|b| *b)).await;
    browser.eval(&click("[data-test=tab-work]")).await;
    let text = async |b: &mut Browser, selector: &str| b.eval(&format!("(document.querySelector('{selector}') || {{}}).textContent || ''")).await.as_str().unwrap_or_default().to_string();
    wait_for("an empty inbox", Duration::from_secs(30), async || Some(text(&mut browser, "[data-test=inbox]").await).filter(|t| t.contains("暂无待办工单"))).await;

    // The dispatcher gives it to the technician: it is on the phone at once, counted as waiting.
    let card = format!("[data-test=my-order][data-id={id}]");
    let sent = std::time::Instant::now();
    let (status, reply) = http(server.http, "POST", &format!("{base}/{id}/dispatch"), Some(&control), Some(r#"{"to":"repair"}"#)).unwrap();
    assert_eq!(status, 200, "{reply}");
    let shown = wait_for("the order on the phone", Duration::from_secs(10), async || Some(text(&mut browser, &card).await).filter(|t| t.contains("待接单"))).await;
    eprintln!("dispatch → on the phone's screen: {:?}", sent.elapsed());
    assert!(shown.contains("卫生间水管漏水") && shown.contains("荷花苑/1号楼/1层/101"), "{shown}");
    assert_eq!(text(&mut browser, "[data-test=unread]").await, "待接单 1");
    browser.screenshot("work-phone-inbox.png").await;

    browser.eval(&click(&format!("{card} [data-test=order-accept]"))).await;
    wait_for("accepted", Duration::from_secs(10), async || browser.eval(&format!("!!document.querySelector('{card} [data-test=order-arrive]')")).await.as_bool().filter(|b| *b)).await;
    // A wrong scan is refused with a sentence; the door plate's code is taken.
    let type_code = |code: &str| format!("(() => {{ const i = document.querySelector('{card} [data-test=order-code]'); i.value = {code:?}; i.dispatchEvent(new Event('input', {{bubbles: true}})); return true; }})()");
    browser.eval(&type_code("not-the-code")).await;
    browser.eval(&click(&format!("{card} [data-test=order-arrive]"))).await;
    let refused = wait_for("the wrong code refused", Duration::from_secs(10), async || Some(text(&mut browser, &format!("{card} [data-test=order-error]")).await).filter(|t| !t.is_empty())).await;
    assert!(refused.contains("不是这张工单所在位置的二维码"), "{refused}");
    // The door plate as printed: the phone's camera opens its address, which fills the code in.
    let (status, _, pdf) = request(server.http, "GET", &format!("{base}/place-codes.pdf?building=heyuan-b01"), Some(&control), &[], b"").unwrap();
    assert_eq!(status, 200);
    let plate = printed_urls(&pdf).into_iter().find(|u| u.contains("place=house/heyuan-1-1-101&")).expect("101's door plate on the sheet");
    browser.call("Page.navigate", json!({"url": plate})).await;
    wait_for("the scanned plate", Duration::from_secs(20), async || browser.eval(&format!("!!document.querySelector('{card} [data-test=order-arrive]')")).await.as_bool().filter(|b| *b)).await;
    assert!(text(&mut browser, "[data-test=scanned]").await.contains("house/heyuan-1-1-101"));
    browser.eval(&click(&format!("{card} [data-test=order-arrive]"))).await;
    wait_for("in progress", Duration::from_secs(10), async || browser.eval(&format!("!!document.querySelector('{card} [data-test=order-complete]')")).await.as_bool().filter(|b| *b)).await;

    // Done: the code (still the scanned plate's), a photo, a note and the charge.
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/photo-own.png");
    let doc = browser.call("DOM.getDocument", json!({})).await;
    let input = browser.call("DOM.querySelector", json!({"nodeId": doc["root"]["nodeId"], "selector": format!("{card} [data-test=order-photo]")})).await;
    browser.call("DOM.setFileInputFiles", json!({"files": [fixture.to_str().unwrap()], "nodeId": input["nodeId"]})).await;
    for (field, value) in [("order-note", "更换角阀一个"), ("order-charge", "35.50")] {
        browser.eval(&format!("(() => {{ const i = document.querySelector('{card} [data-test={field}]'); i.value = {value:?}; i.dispatchEvent(new Event('input', {{bubbles: true}})); return true; }})()")).await;
    }
    browser.screenshot("work-phone-complete.png").await;
    browser.eval(&click(&format!("{card} [data-test=order-complete]"))).await;
    let done = wait_for("the order reported done", Duration::from_secs(20), async || Some(text(&mut browser, "[data-test=inbox]").await).filter(|t| t.contains("暂无待办工单"))).await;
    assert!(!done.contains(&id), "{done}");
    let finance = server.login("finance");
    let bill = wait_for("the charge in the house's book", Duration::from_secs(10), async || {
        let bills: Value = serde_json::from_str(&http(server.http, "GET", &format!("/api/v1/communities/heyuan/bills?house=heyuan-1-1-101&q={id}"), Some(&finance), None).unwrap().1).ok()?;
        bills["rows"].as_array()?.iter().find(|r| r["external_no"] == id.as_str()).cloned()
    })
    .await;
    assert_eq!(bill["amount"], "35.50", "{bill}");
    let order: Value = serde_json::from_str(&http(server.http, "GET", &format!("{base}/{id}"), Some(&control), None).unwrap().1).unwrap();
    assert_eq!(order["photos"].as_array().map(Vec::len), Some(1), "{order}");

    // At the desk: the control room calls the owner back (回访) and the month's figures move.
    browser.eval(&click("[data-test=signout]")).await;
    browser.call("Emulation.setDeviceMetricsOverride", json!({"width": 1366, "height": 900, "deviceScaleFactor": 1, "mobile": false})).await;
    browser.sign_in("control", PASSWORD).await;
    wait_for("the work tab", Duration::from_secs(30), async || browser.eval("!!document.querySelector('[data-test=tab-work]')").await.as_bool().filter(|b| *b)).await;
    browser.eval(&click("[data-test=tab-work]")).await;
    let on_board = format!("[data-test=board-order][data-id={id}]");
    wait_for("the order on the board", Duration::from_secs(20), async || Some(text(&mut browser, &on_board).await).filter(|t| t.contains("已回单"))).await;
    browser.eval(&click(&format!("{on_board} [data-test=order-visit]"))).await;
    wait_for("visited", Duration::from_secs(10), async || Some(text(&mut browser, &on_board).await).filter(|t| t.contains("已回访"))).await;
    let figures = wait_for("the figures", Duration::from_secs(10), async || Some(text(&mut browser, "[data-test=order-figures-row]").await).filter(|t| t.contains("5.00"))).await;
    assert!(figures.starts_with("1100.0%100.0%5.00"), "one order, completed on time, satisfaction 5: {figures}");
    browser.screenshot("work-board.png").await;
    // An announcement to building 1's residents, from the same page.
    for (field, value) in [("notice-title", "1号楼停水通知"), ("notice-building", "heyuan-b01"), ("notice-body", "12月2日上午1号楼停水，请提前储水。")] {
        browser.eval(&format!("(() => {{ const i = document.querySelector('[data-test={field}]'); i.value = {value:?}; i.dispatchEvent(new Event('input', {{bubbles: true}})); return true; }})()")).await;
    }
    browser.eval(&click("[data-test=notice-publish]")).await;
    let published = wait_for("the notice published", Duration::from_secs(20), async || Some(text(&mut browser, "[data-test=notice-ok]").await).filter(|t| !t.is_empty())).await;
    assert!(published.contains("已发布，送达"), "{published}");
    wait_for("the notice listed", Duration::from_secs(10), async || Some(text(&mut browser, "[data-test=notices] ul").await).filter(|t| t.contains("1号楼停水通知"))).await;
    browser.eval("document.querySelector('[data-test=notices]').scrollIntoView()").await;
    browser.screenshot("work-notice.png").await;

    // The wall's work-order board: an order registered now appears there live.
    browser.call("Emulation.setDeviceMetricsOverride", json!({"width": 1920, "height": 1080, "deviceScaleFactor": 1, "mobile": false})).await;
    browser.eval(&click("[data-test=tab-wall]")).await;
    wait_for("the wall", Duration::from_secs(20), async || browser.eval("!!document.querySelector('[data-test=wall-orders]')").await.as_bool().filter(|b| *b)).await;
    let body = r#"{"kind":"complaint","category":"环境","description":"2号楼电梯厅垃圾未清","place":"2号楼电梯厅"}"#;
    let (status, reply) = http(server.http, "POST", base, Some(&control), Some(body)).unwrap();
    assert_eq!(status, 200, "{reply}");
    let line = wait_for("the order on the wall", Duration::from_secs(10), async || Some(text(&mut browser, "[data-test=wall-orders]").await).filter(|t| t.contains("2号楼电梯厅"))).await;
    assert!(line.contains("待审核"), "{line}");
    browser.screenshot("wall-work-orders.png").await;

    // Anyone, on a phone, through the community's posted QR code: no sign-in.
    let posted: Value = serde_json::from_str(&http(server.http, "GET", &format!("{base}/report-code"), Some(&control), None).unwrap().1).unwrap();
    browser.eval(&click("[data-test=signout]")).await;
    browser.call("Emulation.setDeviceMetricsOverride", json!({"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": true})).await;
    browser.call("Page.navigate", json!({"url": format!("http://{}{}", server.http, posted["url"].as_str().unwrap())})).await;
    wait_for("the report form", Duration::from_secs(20), async || browser.eval("!!document.querySelector('[data-test=report-send]')").await.as_bool().filter(|b| *b)).await;
    for (field, value) in [("report-place", "东门草坪"), ("report-description", "草坪喷头一直在漏水")] {
        browser.eval(&format!("(() => {{ const i = document.querySelector('[data-test={field}]'); i.value = {value:?}; i.dispatchEvent(new Event('input', {{bubbles: true}})); return true; }})()")).await;
    }
    browser.eval(&click("[data-test=report-send]")).await;
    let taken = wait_for("the report taken", Duration::from_secs(10), async || Some(text(&mut browser, "[data-test=report-ok]").await).filter(|t| !t.is_empty())).await;
    assert!(taken.contains("已收到"), "{taken}");
    browser.screenshot("work-report-phone.png").await;
}

/// C1–C4 on screen: the platform operator adds a property company; its administrator, signed in
/// on an empty company, lands on the set-up screen and builds a community from a layout; at the
/// building chart the demo's administrator makes a home vacant from a day and adds a resident —
/// the cell takes the new state's colour.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_company_is_added_and_set_up_on_screen_and_a_house_changes_on_the_chart() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::demo_env(&dir.path().join("data"), 0, &[], &[("HUTONG_OPERATOR_PASSWORD", "platform-operator-pw")]).await;
    // An owner not known yet asks to be registered: it waits for the office (X4, below).
    let asked = json!({"community": "heyuan", "address": "荷花苑-2-1-101", "name": "孙八", "phone": "13700000088", "relation": "tenant"}).to_string();
    assert_eq!(http(server.http, "POST", "/api/v1/owner/registrations", None, Some(&asked)).unwrap().0, 200);
    let mut browser = Browser::launch(&dir.path().join("chromium")).await;
    browser.call("Page.enable", json!({})).await;
    browser.call("Page.navigate", json!({"url": format!("http://{}/", server.http)})).await;
    let type_into = |name: &str, value: &str| format!("(() => {{ const i = document.querySelector('input[name={name}]'); i.value = {value:?}; i.dispatchEvent(new Event('input', {{bubbles: true}})); return true; }})()");
    let text_of = |test: &str| format!("(document.querySelector('[data-test={test}]') || {{}}).textContent || ''");

    // The operator lands on the companies and adds one.
    browser.sign_in("operator", "platform-operator-pw").await;
    wait_for("the companies screen", Duration::from_secs(30), async || browser.eval(&text_of("companies")).await.as_str().filter(|t| t.contains("荷花物业")).map(str::to_string)).await;
    for (name, value) in [("company-id", "taohua"), ("company-name", "桃花物业"), ("admin-account", "taohua-admin"), ("admin-name", "桃花管理员"), ("admin-password", "taohua-admin-pw")] {
        browser.eval(&type_into(name, value)).await;
    }
    browser.eval(&click("[data-test=company-form] button")).await;
    wait_for("the company in the list", Duration::from_secs(10), async || browser.eval(&text_of("companies")).await.as_str().filter(|t| t.contains("桃花物业")).map(str::to_string)).await;
    browser.screenshot("setup-companies.png").await;
    browser.eval(&click("[data-test=signout]")).await;

    // Its administrator has no community yet: the set-up screen, a layout, a community.
    browser.sign_in("taohua-admin", "taohua-admin-pw").await;
    wait_for("the set-up screen", Duration::from_secs(30), async || browser.eval("!!document.querySelector('[data-test=setup-screen]')").await.as_bool().filter(|b| *b)).await;
    browser.eval(&type_into("community-id", "taoyuan")).await;
    browser.eval(&type_into("community-name", "桃园")).await;
    for (name, value) in [("no", "1"), ("units", "1"), ("floors", "2"), ("per-floor", "2"), ("area", "90")] {
        browser.eval(&type_into(name, value)).await;
    }
    browser.eval(&click("[data-test=layout-form] button")).await;
    let planned = wait_for("the planned building", Duration::from_secs(10), async || browser.eval(&text_of("planned")).await.as_str().filter(|t| !t.is_empty()).map(str::to_string)).await;
    assert!(planned.contains("共 4 户"), "{planned}");
    browser.eval(&click("[data-test=create-community]")).await;
    let done = wait_for("the community set up", Duration::from_secs(15), async || browser.eval(&text_of("setup-message")).await.as_str().filter(|t| !t.is_empty()).map(str::to_string)).await;
    assert!(done.contains("已建立小区 桃园") && done.contains("4 户"), "{done}");
    browser.screenshot("setup-community.png").await;
    let body = json!({"account": "taohua-admin", "password": "taohua-admin-pw"}).to_string();
    let (_, reply) = http(server.http, "POST", "/api/v1/auth/login", None, Some(&body)).unwrap();
    let token = serde_json::from_str::<Value>(&reply).unwrap()["token"].as_str().unwrap().to_string();
    let (status, tree) = http(server.http, "GET", "/api/v1/communities/taoyuan", Some(&token), None).unwrap();
    assert_eq!(status, 200, "{tree}");
    assert!(tree.contains("taoyuan-1-1-202"), "{tree}");
    browser.eval(&click("[data-test=signout]")).await;

    // The demo's administrator makes a home of 荷花苑 vacant and adds a tenant, on the chart.
    browser.sign_in("admin", PASSWORD).await;
    wait_for("signed in", Duration::from_secs(30), async || browser.eval("!!document.querySelector('[data-test=who]')").await.as_bool().filter(|b| *b)).await;
    browser.call("Page.navigate", json!({"url": format!("http://{}/chart/heyuan", server.http)})).await;
    let house = "heyuan-1-1-101";
    let class = format!("(document.querySelector('[data-house=\"{house}\"]') || {{}}).className || ''");
    wait_for("the cells", Duration::from_secs(30), async || browser.eval(&class).await.as_str().filter(|c| !c.is_empty()).map(str::to_string)).await;
    browser.eval(&click("[data-test=mode-state]")).await;
    browser.eval(&click(&format!("[data-house=\"{house}\"]"))).await;
    wait_for("the house's editor", Duration::from_secs(10), async || browser.eval(&text_of("house-history")).await.as_str().filter(|t| !t.is_empty()).map(str::to_string)).await;
    browser.eval(&click("[data-test=state-form] button")).await;
    let said = wait_for("the state changed", Duration::from_secs(10), async || browser.eval(&text_of("house-message")).await.as_str().filter(|t| !t.is_empty()).map(str::to_string)).await;
    assert!(said.contains("状态已变更"), "{said}");
    wait_for("the cell to turn vacant", Duration::from_secs(10), async || browser.eval(&class).await.as_str().filter(|c| c.contains("st-vacant")).map(str::to_string)).await;
    // The editor reads the house again after its change; the cell may have turned first.
    wait_for("the history to show the vacancy", Duration::from_secs(10), async || browser.eval(&text_of("house-history")).await.as_str().filter(|h| h.contains("空置")).map(str::to_string)).await;
    browser.eval(&type_into("resident-name", "钱七")).await;
    browser.eval(&type_into("resident-phone", "13900000077")).await;
    browser.eval(&click("[data-test=resident-form] button")).await;
    wait_for("the tenant listed", Duration::from_secs(10), async || browser.eval("[...document.querySelectorAll('[data-test=resident]')].map(r => r.textContent).join('|')").await.as_str().filter(|t| t.contains("钱七")).map(str::to_string)).await;
    // What the house is: a shop of 120 m² now.
    browser.eval("(() => { const s = document.querySelector('[data-test=house-form] select'); s.value = 'shop'; s.dispatchEvent(new Event('change', {bubbles: true})); return true; })()").await;
    browser.eval(&type_into("area", "120")).await;
    browser.eval(&click("[data-test=house-form] button")).await;
    wait_for("the house reshaped", Duration::from_secs(10), async || browser.eval(&text_of("house-fields")).await.as_str().filter(|t| t.contains("商铺 · 120")).map(str::to_string)).await;
    let counts = browser.eval(&text_of("chart-counts")).await;
    assert!(counts.as_str().is_some_and(|c| c.contains("空置") && c.contains("自住")), "the building's homes by state: {counts}");
    browser.screenshot("chart-house-edit.png").await;
    // What waits for the administrator (X4): this month's collection rate, community by community.
    browser.eval(&click("[data-test=tab-workspace]")).await;
    let waiting = wait_for("the workspace's figures", Duration::from_secs(15), async || browser.eval(&text_of("waiting")).await.as_str().filter(|t| t.contains("本月收缴率")).map(str::to_string)).await;
    assert!(waiting.contains("荷花苑：本月收缴率"), "{waiting}");
    let waiting = wait_for("the requests and homes waiting", Duration::from_secs(15), async || browser.eval(&text_of("waiting")).await.as_str().filter(|t| t.contains("业主注册") && t.contains("装修中")).map(str::to_string)).await;
    assert!(waiting.contains("荷花苑：待审核业主注册 1 条") && waiting.contains("荷花苑：已交房待入住"), "{waiting}");
    let on = browser.eval("[...document.querySelectorAll('nav .tab.on')].map(t => t.textContent).join('|')").await;
    assert_eq!(on, json!("工作台"), "only the workspace's tab is lit");
    browser.screenshot("workspace-waiting.png").await;
    let records = server.get_json("/api/v1/communities/heyuan/house-records?q=%E8%8D%B7%E8%8A%B1%E8%8B%91-1-1-101");
    let record = records["houses"].as_array().unwrap().iter().find(|h| h["id"] == house).unwrap().clone();
    assert_eq!(record["state"], "vacant", "{record}");
    assert!(record["residents"].to_string().contains("钱七"), "{record}");
}

/// M6 on screen: at set-up the administrator registers a meter for a home, reads its key for the
/// installer, replaces it by a new one in its place (换表; a taken id refused with its sentence)
/// and retires another; the list follows each change.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_office_registers_replaces_and_retires_devices_on_screen() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::demo(&dir.path().join("data"), 0, &[]).await;
    let mut browser = admin_at(&server, &dir.path().join("chromium"), "/setup").await;
    let row = |device: &str| format!("!!document.querySelector('[data-device=\"{device}\"]')");
    wait_for("the devices of 荷花苑", Duration::from_secs(30), async || browser.eval(&text_of("device-count")).await.as_str().filter(|t| t.contains("显示前 200 台")).map(str::to_string)).await;

    // Searched, the list shows one home's devices.
    browser.eval(&type_into("device-filter", "1-1-101")).await;
    wait_for("the search", Duration::from_secs(10), async || browser.eval(&row("wm-1-1-101")).await.as_bool().filter(|b| *b)).await;
    let counted = browser.eval(&text_of("device-count")).await;
    assert!(counted.as_str().is_some_and(|t| t.starts_with("共 ") && !t.contains("显示前")), "{counted}");

    // The home by its address, as the office writes it; the building follows from it.
    for (name, value) in [("device-id", "wm-1-1-101-x"), ("device-house", "荷花苑-1-1-101")] {
        browser.eval(&type_into(name, value)).await;
    }
    browser.eval(&click("[data-test=device-form] button")).await;
    wait_for("the new meter listed", Duration::from_secs(10), async || browser.eval(&row("wm-1-1-101-x")).await.as_bool().filter(|b| *b)).await;
    browser.eval(&click("[data-device=\"wm-1-1-101-x\"] [data-test=device-key]")).await;
    let shown = wait_for("its key", Duration::from_secs(10), async || browser.eval(&text_of("device-key-shown")).await.as_str().filter(|t| !t.is_empty()).map(str::to_string)).await;
    let key = server.device_key("heyuan", "wm-1-1-101-x");
    assert!(shown.contains(&key), "{shown}");

    // Replaced: first by a taken id (refused with its sentence), then by a new one.
    browser.eval(&click("[data-device=\"wm-1-1-101-x\"] [data-test=device-replace]")).await;
    browser.eval(&type_into("replace-id", "wm-1-1-101")).await;
    browser.eval(&type_into("replace-reason", "表坏")).await;
    browser.eval(&click("[data-test=device-change] button[type=submit]")).await;
    let refused = wait_for("the refusal", Duration::from_secs(10), async || browser.eval(&text_of("devices-message")).await.as_str().filter(|t| t.contains("已被使用")).map(str::to_string)).await;
    assert!(refused.contains("wm-1-1-101"), "{refused}");
    browser.eval(&type_into("replace-id", "wm-1-1-101-y")).await;
    browser.eval(&click("[data-test=device-change] button[type=submit]")).await;
    wait_for("the replacement listed", Duration::from_secs(10), async || browser.eval(&row("wm-1-1-101-y")).await.as_bool().filter(|b| *b)).await;
    assert_eq!(browser.eval(&row("wm-1-1-101-x")).await, json!(false), "the old meter left the list");
    let said = browser.eval(&text_of("devices-message")).await;
    assert!(said.as_str().is_some_and(|t| t.contains("已更换为 wm-1-1-101-y")), "{said}");
    let placed = server.get_json("/api/v1/communities/heyuan/devices/wm-1-1-101-y");
    assert_eq!((placed["house"].as_str(), placed["building"].as_str()), (Some("heyuan-1-1-101"), Some("heyuan-b01")), "{placed}");
    browser.call("Emulation.setDeviceMetricsOverride", json!({"width": 1920, "height": 1500, "deviceScaleFactor": 1, "mobile": false})).await;
    browser.screenshot("setup-devices.png").await;

    // Retired with a reason.
    browser.eval(&click("[data-device=\"wm-1-1-101-y\"] [data-test=device-retire]")).await;
    browser.eval(&type_into("retire-reason", "住户自装表，停用")).await;
    browser.eval(&click("[data-test=device-change] button[type=submit]")).await;
    wait_for("the retired meter gone", Duration::from_secs(10), async || browser.eval(&row("wm-1-1-101-y")).await.as_bool().filter(|b| !*b).map(|_| ())).await;
    let audit = server.get_json("/api/v1/audit?action=device.retire");
    assert_eq!(audit[0]["target"], "heyuan/wm-1-1-101-y", "{audit}");
}

/// The owner portal (R6) on a phone-sized screen: the owner signs in with the code the demo's
/// own SMS inbox shows, picks two bills and pays them at once on the sandbox provider's page;
/// back on the portal the bills are paid once the provider's notification has been verified.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_pays_two_bills_at_once_on_a_phone() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::demo(&dir.path().join("data"), 0, &[]).await;
    let csv = "房屋地址,费用类型,费用金额,开始时间,结束时间,备注\n荷花苑-1-1-101,水费,30.50,2027年01月,2027年01月,\n荷花苑-1-1-101,水费,40.25,2027年02月,2027年02月,\n";
    let (status, _, reply) = request(server.http, "POST", "/api/v1/communities/heyuan/bills/import", Some(&server.admin), &[], csv.as_bytes()).unwrap();
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&reply));

    // The office reminds the home in the app (N1): the owner finds it in the portal.
    let body = json!({"houses": ["荷花苑-1-1-101"], "channel": "in_app"}).to_string();
    let (status, reply) = http(server.http, "POST", "/api/v1/communities/heyuan/reminders", Some(&server.admin), Some(&body)).unwrap();
    assert_eq!(status, 200, "{reply}");

    // In the office meanwhile: the manager's screen, and beside it (same origin, in frames) the
    // control-room wall and the building chart of 1号楼, all live.
    let mut office = Browser::launch(&dir.path().join("chromium-office")).await;
    office.call("Page.enable", json!({})).await;
    office.call("Page.navigate", json!({"url": format!("http://{}/manager/heyuan", server.http)})).await;
    office.sign_in("manager", PASSWORD).await;
    let rate_today = "(document.querySelector('[data-test=rate-today]') || {}).textContent || ''";
    wait_for("the manager's feed", Duration::from_secs(30), async || office.eval("document.querySelector('.manager .link.up') !== null && document.querySelector('[data-test=rate-today]') !== null").await.as_bool().filter(|b| *b)).await;
    office.eval("(() => { for (const [id, src] of [['wall', '/wall/heyuan'], ['chart', '/chart/heyuan']]) { const f = document.createElement('iframe'); f.id = id; f.src = src; f.style = 'width:1800px;height:900px'; document.body.appendChild(f); } return true; })()").await;
    let wall_1 = "(() => { const d = document.getElementById('wall').contentDocument; const t = d && [...d.querySelectorAll('[data-test=tile]')].find(t => t.querySelector('.tile-name').textContent.trim() === '1号楼'); return t ? t.querySelector('[data-test=tile-arrears]').textContent : ''; })()";
    let wall_before = wait_for("the wall's tile of 1号楼", Duration::from_secs(30), async || office.eval(wall_1).await.as_str().filter(|t| t.contains("欠费")).map(str::to_string)).await;
    let cell_101 = "((document.getElementById('chart').contentDocument || document).querySelector('[data-house=\"heyuan-1-1-101\"] small') || {}).textContent || ''";
    let cell_before = wait_for("the chart's cell of 1-1-101", Duration::from_secs(30), async || office.eval(cell_101).await.as_str().filter(|t| t.contains('¥')).map(str::to_string)).await;
    let rate_before = wait_for("today's rate", Duration::from_secs(20), async || office.eval(rate_today).await.as_str().filter(|t| t.contains('%')).map(str::to_string)).await;

    let mut browser = Browser::launch(&dir.path().join("chromium")).await;
    browser.call("Page.enable", json!({})).await;
    browser.call("Emulation.setDeviceMetricsOverride", json!({"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": true})).await;
    // As the community's collection code leads: the owner portal of 荷花苑.
    browser.call("Page.navigate", json!({"url": format!("http://{}/owner?community=heyuan", server.http)})).await;
    let type_into = |name: &str, value: &str| format!("(() => {{ const i = document.querySelector('input[name={name}]'); i.value = {value:?}; i.dispatchEvent(new Event('input', {{bubbles: true}})); return true; }})()");
    let text_of = |test: &str| format!("(document.querySelector('[data-test={test}]') || {{}}).textContent || ''");
    wait_for("the owner's sign-in", Duration::from_secs(30), async || browser.eval("!!document.querySelector('[data-test=owner-signin]')").await.as_bool().filter(|b| *b)).await;
    // Someone not registered yet asks to be, from the same page.
    browser.eval(&type_into("owner-phone", "13911113333")).await;
    browser.eval(&type_into("register-address", "荷花苑-1-1-104")).await;
    browser.eval(&type_into("register-name", "新住户")).await;
    browser.eval("document.querySelector('[data-test=owner-register] button').click()").await;
    wait_for("the request taken", Duration::from_secs(10), async || browser.eval(&text_of("register-note")).await.as_str().filter(|t| t.contains("已提交")).map(str::to_string)).await;
    browser.eval(&type_into("owner-phone", "13898424613")).await;
    browser.eval(&click("[data-test=owner-code]")).await;
    // The code, read where the demo's owner reads it: the demo's own SMS inbox page.
    let code = wait_for("the code in the demo inbox", Duration::from_secs(10), async || {
        let (_, page) = http_get(server.http, "/demo/inbox").ok()?;
        page.split("验证码是 ").nth(1).map(|rest| rest.chars().take(6).collect::<String>())
    })
    .await;
    browser.eval(&type_into("owner-code", &code)).await;
    browser.eval("document.querySelector('[data-test=owner-signin] button[type=submit]').click()").await;
    wait_for("the owner's bills", Duration::from_secs(20), async || browser.eval("document.querySelectorAll('[data-test=owner-bill]').length").await.as_u64().filter(|n| *n >= 2)).await;
    let reminder = wait_for("the reminder in the portal", Duration::from_secs(10), async || browser.eval(&text_of("owner-reminder")).await.as_str().filter(|t| t.contains("缴费提醒")).map(str::to_string)).await;
    assert!(reminder.contains("荷花苑") && reminder.contains("/owner?community=heyuan"), "{reminder}");
    browser.screenshot("owner-pending.png").await;
    let water: Vec<String> = serde_json::from_value(browser.eval("[...document.querySelectorAll('[data-test=owner-bill]')].filter(b => b.textContent.includes('水费') && /2027-0[12]-/.test(b.textContent)).map(b => b.dataset.bill)").await).unwrap();
    assert_eq!(water.len(), 2, "{water:?}");
    for no in &water {
        browser.eval(&format!("document.querySelector('[data-bill=\"{no}\"] input').click()")).await;
    }
    let button = wait_for("the total", Duration::from_secs(5), async || browser.eval(&text_of("owner-pay")).await.as_str().filter(|t| t.contains("70.75")).map(str::to_string)).await;
    assert!(button.contains("合并支付"), "{button}");
    browser.eval(&click("[data-test=owner-pay]")).await;
    // The provider's page, then back.
    wait_for("the provider's checkout", Duration::from_secs(15), async || browser.eval(&text_of("sandbox-amount")).await.as_str().filter(|t| t.contains("70.75")).map(str::to_string)).await;
    browser.screenshot("owner-checkout.png").await;
    // A forged notification for the order first: refused and counted, nothing paid.
    let order = browser.eval("location.pathname.split('/').pop()").await.as_str().unwrap().to_string();
    let forged = json!({"community": "heyuan", "order": order, "txn": "forged-1", "amount": "70.75", "paid_at": chrono::Utc::now().to_rfc3339()}).to_string();
    let ts = chrono::Utc::now().timestamp().to_string();
    let headers = [("Content-Type", "application/json"), ("Hutong-Pay-Timestamp", ts.as_str()), ("Hutong-Pay-Nonce", "forged-n-1"), ("Hutong-Pay-Signature", "0badc0de")];
    assert_eq!(request(server.http, "POST", "/api/v1/pay/notify/sandbox", None, &headers, forged.as_bytes()).unwrap().0, 403);
    assert_eq!(server.metric("hutong_pay_notifications_refused_total{reason=\"signature\"}"), 1);
    // The owner confirms; the provider notifies twice. The manager's rate, the wall's 1号楼 (one
    // home fewer owing) and the chart's cell move within a second of the owner's tap (the
    // notification comes after it).
    browser.eval("document.querySelector('form').action += '?notify=2'").await;
    browser.eval(&click("[data-test=sandbox-pay]")).await;
    let tapped = std::time::Instant::now();
    let (rate_after, wall_after, cell_after) = loop {
        let rate = office.eval(rate_today).await.as_str().unwrap_or_default().to_string();
        let wall = office.eval(wall_1).await.as_str().unwrap_or_default().to_string();
        let cell = office.eval(cell_101).await.as_str().unwrap_or_default().to_string();
        if rate.contains('%') && rate != rate_before && wall.contains("欠费") && wall != wall_before && cell != cell_before {
            break (rate, wall, cell);
        }
        assert!(tapped.elapsed() < Duration::from_secs(10), "the office's screens did not move: {rate} / {wall} / {cell}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let moved = tapped.elapsed();
    eprintln!("owner's tap → manager's rate, wall tile and chart cell: {} ms ({rate_before} → {rate_after}; {wall_before} → {wall_after}; {cell_before} → {cell_after})", moved.as_millis());
    assert_eq!(cell_after, "已缴清", "the home owes nothing now");
    assert!(moved <= Duration::from_secs(1), "the office saw the payment {} ms after the tap", moved.as_millis());
    office.screenshot("office-after-owner-paid.png").await;
    office.eval("document.getElementById('wall').scrollIntoView()").await;
    office.screenshot("office-wall-after-owner-paid.png").await;
    wait_for("paid at the provider", Duration::from_secs(15), async || browser.eval(&text_of("sandbox-done")).await.as_str().filter(|t| t.contains("支付成功")).map(str::to_string)).await;
    wait_for("both notifications handled", Duration::from_secs(10), async || (server.metric("hutong_pay_notifications_total") == 2).then_some(())).await;
    assert_eq!(server.metric("hutong_pay_anomalies_total"), 0, "a repeated notification pays once and is no anomaly");
    // March's water is billed while the owner is on the provider's page.
    let march_csv = "房屋地址,费用类型,费用金额,开始时间,结束时间,备注\n荷花苑-1-1-101,水费,12.00,2027年03月,2027年03月,\n";
    assert_eq!(request(server.http, "POST", "/api/v1/communities/heyuan/bills/import", Some(&server.admin), &[], march_csv.as_bytes()).unwrap().0, 200);
    browser.eval(&click("[data-test=sandbox-back]")).await;
    let said = wait_for("the payment confirmed", Duration::from_secs(30), async || browser.eval(&text_of("owner-message")).await.as_str().filter(|t| t.contains("支付成功")).map(str::to_string)).await;
    assert!(said.contains("收据号"), "{said}");
    browser.eval(&click("[data-test=tab-paid]")).await;
    wait_for("the two bills paid", Duration::from_secs(10), async || {
        let paid: Vec<String> = serde_json::from_value(browser.eval("[...document.querySelectorAll('[data-test=owner-bill]')].map(b => b.dataset.bill)").await).ok()?;
        water.iter().all(|w| paid.contains(w)).then_some(())
    })
    .await;
    let receipts = browser.eval("document.querySelectorAll('[data-test=owner-receipt]').length").await.as_u64().unwrap_or_default();
    assert!(receipts >= 2, "each paid bill links to its receipt");
    browser.screenshot("owner-paid.png").await;

    // March, paid at the provider whose notification is lost — and the owner never comes back
    // to the portal to ask: Hutong has not booked it, and 一键对账 finds it.
    browser.eval(&click("[data-test=tab-pending]")).await;
    let march = wait_for("March's bill", Duration::from_secs(10), async || {
        let bills: Vec<String> = serde_json::from_value(browser.eval("[...document.querySelectorAll('[data-test=owner-bill]')].filter(b => b.textContent.includes('2027-03')).map(b => b.dataset.bill)").await).ok()?;
        bills.into_iter().next()
    })
    .await;
    browser.eval(&format!("document.querySelector('[data-bill=\"{march}\"] input').click()")).await;
    wait_for("March's total", Duration::from_secs(5), async || browser.eval(&text_of("owner-pay")).await.as_str().filter(|t| t.contains("12.00")).map(str::to_string)).await;
    browser.eval(&click("[data-test=owner-pay]")).await;
    wait_for("the provider's checkout", Duration::from_secs(15), async || browser.eval(&text_of("sandbox-amount")).await.as_str().filter(|t| t.contains("12.00")).map(str::to_string)).await;
    browser.eval("document.querySelector('form').action += '?notify=0'").await;
    browser.eval(&click("[data-test=sandbox-pay]")).await;
    wait_for("paid at the provider", Duration::from_secs(15), async || browser.eval(&text_of("sandbox-done")).await.as_str().filter(|t| t.contains("支付成功")).map(str::to_string)).await;
    // The phone is put away: this browser forgets the order it was waiting for and signs the
    // owner out (the office uses it next), so nothing asks the provider about March.
    let out = "localStorage.removeItem('hutong-pending-order'); fetch('/api/v1/auth/logout', {method: 'POST', headers: {'Content-Type': 'application/json'}, body: '{}'}).then(r => r.status)";
    let status = browser.call("Runtime.evaluate", json!({"expression": out, "awaitPromise": true, "returnByValue": true})).await;
    assert!(status["result"]["value"].as_u64().is_some_and(|s| s < 300), "signed out: {status}");

    // At the desk, 一键对账 shows the payment arrived, and the lost one as an anomaly.
    browser.call("Emulation.setDeviceMetricsOverride", json!({"width": 1920, "height": 1080, "deviceScaleFactor": 1, "mobile": false})).await;
    drop(office);
    browser.call("Page.navigate", json!({"url": format!("http://{}/desk/heyuan", server.http)})).await;
    // (The owner's sign-in is no staff session: the desk asks to sign in.)
    browser.sign_in("admin", PASSWORD).await;
    wait_for("the desk", Duration::from_secs(30), async || browser.eval("!!document.querySelector('[data-test=open-reconcile]')").await.as_bool().filter(|b| *b)).await;
    browser.eval(&click("[data-test=open-reconcile]")).await;
    let totals = wait_for("the reconciliation", Duration::from_secs(15), async || browser.eval(&text_of("reconcile-totals")).await.as_str().filter(|t| t.contains("70.75")).map(str::to_string)).await;
    assert!(totals.contains("到帐订单数1") && totals.contains("异常订单数1"), "{totals}");
    let anomaly = browser.eval("document.querySelector('[data-test=reconcile-dialog] table').textContent").await.as_str().unwrap_or_default().to_string();
    assert!(anomaly.contains("12.00") && anomaly.contains("通知未到"), "the lost notification: {anomaly}");
    browser.screenshot("desk-reconcile.png").await;
    // The office approves the newcomer's request.
    browser.eval(&click("[data-test=reconcile-dialog] > button")).await;
    browser.eval(&click("[data-test=open-registrations]")).await;
    wait_for("the request listed", Duration::from_secs(10), async || browser.eval("!!document.querySelector('[data-test=approve]')").await.as_bool().filter(|b| *b)).await;
    browser.screenshot("desk-registrations.png").await;
    browser.eval(&click("[data-test=approve]")).await;
    wait_for("approved", Duration::from_secs(10), async || browser.eval(&text_of("registrations-message")).await.as_str().filter(|t| t.contains("已通过")).map(str::to_string)).await;
}
