//! Work orders against the real binary (W1–W6): a forced gate over MQTT opens an order by itself;
//! an order at a home is reviewed and dispatched, reaches the technician's phone socket at once,
//! is accepted, arrived at and completed by scanning the door plate's code, draws materials from
//! the store, and its charge lands as a bill in the house's book; the return visit closes it and
//! the month's figures move. Steps out of order are refused with a sentence; a butler of another
//! building does not see the order; `kill -9` loses none of it.

use std::time::{Duration, Instant};

use hutong_tests::*;
use serde_json::{Value, json};

const C: &str = "/api/v1/communities/heyuan";
const HOUSE: &str = "heyuan-1-1-101";

fn call(server: &Server, token: &str, method: &str, path: &str, body: Value) -> (u16, Value) {
    let body = (!body.is_null()).then(|| body.to_string());
    let (status, reply) = http(server.http, method, &format!("{C}{path}"), Some(token), body.as_deref()).unwrap();
    (status, serde_json::from_str(&reply).unwrap_or(Value::String(reply)))
}

fn ok(server: &Server, token: &str, method: &str, path: &str, body: Value) -> Value {
    let (status, reply) = call(server, token, method, path, body);
    assert_eq!(status, 200, "{method} {path}: {reply}");
    reply
}

fn is_order(msg: &Value, pred: impl Fn(&Value) -> bool) -> bool {
    msg["body"]["kind"] == "work_order" && pred(&msg["body"]["order"])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_from_registration_to_return_visit_with_its_bill_and_figures() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::demo(&data, 0, &[]).await;
    let (control, repair, manager, finance) = (server.login("control"), server.login("repair"), server.login("manager"), server.login("finance"));

    // The technician's phone is open before anything happens.
    let mut phone = ws_open_at(server.http, "/ws/work?community=heyuan", &repair).await.unwrap();
    let first = next_json(&mut phone).await.unwrap();
    assert_eq!(first["type"], "work_snapshot", "{first}");

    // The store holds pipe; the butler registers a leak in a home (urgent by its words).
    ok(&server, &control, "POST", "/work-orders/store", json!({"item": "ppr-20", "name": "PPR 水管 20mm", "unit": "米", "unit_price": "12.50", "quantity": 10}));
    let butler = server.login("butler");
    let order = ok(&server, &butler, "POST", "/work-orders", json!({"kind": "repair", "category": "水电", "description": "厨房水管漏水，地面有积水", "house": HOUSE, "owner_phone": "13898424613"}));
    let id = order["id"].as_str().unwrap().to_string();
    assert_eq!((order["urgency"].as_str(), order["status"].as_str()), (Some("urgent"), Some("registered")), "{order}");
    let o = format!("/work-orders/{id}");

    // Out of order: accepting what nobody dispatched is refused with a sentence.
    let (status, refusal) = call(&server, &repair, "POST", &format!("{o}/accept"), Value::Null);
    assert_eq!(status, 409, "{refusal}");
    assert!(refusal["error"]["message"].as_str().unwrap().contains("待审核"), "{refusal}");
    // Bad input: a place that is not one.
    let (status, refusal) = call(&server, &butler, "POST", "/work-orders", json!({"kind": "repair", "category": "水电", "description": "x", "house": HOUSE, "place": "大堂"}));
    assert_eq!(status, 400, "{refusal}");

    ok(&server, &control, "POST", &format!("{o}/review"), json!({}));
    let sent = Instant::now();
    ok(&server, &control, "POST", &format!("{o}/dispatch"), json!({"to": "repair"}));
    let pushed = wait_event(&mut phone, Duration::from_secs(5), |m| is_order(m, |t| t["id"] == id.as_str() && t["status"] == "dispatched" && t["assignee"]["account"] == "repair")).await.unwrap();
    let took = sent.elapsed();
    assert!(took < Duration::from_secs(1), "the phone heard of its order after {took:?}: {pushed}");
    assert_eq!(pushed["body"]["order"]["vip"], false);

    ok(&server, &repair, "POST", &format!("{o}/accept"), Value::Null);
    // Arrival needs the door plate's code: another code is refused.
    let (status, refusal) = call(&server, &repair, "POST", &format!("{o}/arrive"), json!({"code": "not-the-code"}));
    assert_eq!(status, 400, "{refusal}");
    let code = ok(&server, &control, "GET", &format!("{o}/place-code"), Value::Null)["code"].as_str().unwrap().to_string();
    ok(&server, &repair, "POST", &format!("{o}/arrive"), json!({"code": code}));
    // Materials: more than the store holds is refused; what it holds is drawn.
    let (status, refusal) = call(&server, &repair, "POST", &format!("{o}/materials"), json!({"item": "ppr-20", "quantity": 11}));
    assert_eq!(status, 409, "{refusal}");
    assert!(refusal["error"]["message"].as_str().unwrap().contains("库存只有 10 米"), "{refusal}");
    ok(&server, &repair, "POST", &format!("{o}/materials"), json!({"item": "ppr-20", "quantity": 2}));
    let store = ok(&server, &control, "GET", "/work-orders/store", Value::Null);
    assert_eq!(store[0]["stock"], 8, "{store}");

    // A photo of the job: an image, under this community only.
    let photo = include_bytes!("../fixtures/photo-own.png");
    let (status, _, reply) = request(server.http, "POST", &format!("{C}/work-orders/photos"), Some(&repair), &[], photo).unwrap();
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&reply));
    let photo_id = serde_json::from_slice::<Value>(&reply).unwrap()["id"].as_str().unwrap().to_string();
    let (status, _, _) = request(server.http, "POST", &format!("{C}/work-orders/photos"), Some(&repair), &[], b"not an image at all").unwrap();
    assert_eq!(status, 400);

    let done = ok(&server, &repair, "POST", &format!("{o}/complete"), json!({"code": code, "note": "更换一段 PPR 管", "photos": [photo_id], "charge": "80.00"}));
    assert_eq!(done["status"], "completed", "{done}");

    // The charge is a bill in the house's book, as the desk sees it.
    let bill = wait_for("the repair's bill", Duration::from_secs(5), async || {
        let (_, bills) = call(&server, &finance, "GET", &format!("/bills?house={HOUSE}&q={id}"), Value::Null);
        bills["rows"].as_array().and_then(|rows| rows.iter().find(|r| r["external_no"] == id.as_str()).cloned())
    })
    .await;
    assert_eq!(bill["amount"], "80.00", "{bill}");
    let recorded = wait_for("the order knows its bill", Duration::from_secs(5), async || {
        let o = ok(&server, &control, "GET", &o, Value::Null);
        o["bill"].as_str().map(str::to_string)
    })
    .await;
    assert_eq!(Some(recorded.as_str()), bill["no"].as_str());

    // A coordination order: the cleaners' part, at the same place, naming this order.
    let child = ok(&server, &repair, "POST", &format!("{o}/coordinate"), json!({"category": "保洁", "description": "维修后清理地面积水"}));
    assert_eq!((child["registration"]["origin"]["parent"].as_str(), child["registration"]["place_label"].as_str()), (Some(id.as_str()), order["registration"]["place_label"].as_str()), "{child}");

    // The return visit closes it; the month's figures move.
    let visited = ok(&server, &manager, "POST", &format!("{o}/visit"), json!({"satisfaction": 5, "note": "业主满意"}));
    assert_eq!(visited["status"], "visited");
    let figures = ok(&server, &manager, "GET", "/work-orders/figures", Value::Null);
    assert_eq!((figures["orders"].as_u64(), figures["completed"].as_u64(), figures["completion_rate"].as_str(), figures["satisfaction"].as_str()), (Some(2), Some(1), Some("50.0"), Some("5.00")), "{figures}");
    assert_eq!(figures["workload"][0]["account"], "repair", "{figures}");

    // A butler of another building does not see the order at all.
    let body = r#"{"account":"butler-b2","name":"二号楼管家","phone":"13900000002","password":"correct horse 2","roles":["butler"],"communities":["heyuan"],"buildings":["heyuan-b02"]}"#;
    let (status, reply) = http(server.http, "POST", "/api/v1/staff", Some(&server.admin), Some(body)).unwrap();
    assert_eq!(status, 200, "{reply}");
    let (_, reply) = http(server.http, "POST", "/api/v1/auth/login", None, Some(r#"{"account":"butler-b2","password":"correct horse 2"}"#)).unwrap();
    let other = serde_json::from_str::<Value>(&reply).unwrap()["token"].as_str().unwrap().to_string();
    assert_eq!(call(&server, &other, "GET", &o, Value::Null).0, 404);
    assert!(ok(&server, &other, "GET", "/work-orders", Value::Null).as_array().unwrap().is_empty());

    // kill -9: the order, its history and its bill are all there after a restart.
    let history = ok(&server, &control, "GET", &o, Value::Null)["history"].as_array().unwrap().len();
    server.kill9();
    let server = Server::demo(&data, 0, &[]).await;
    let control = server.login("control");
    let after = ok(&server, &control, "GET", &o, Value::Null);
    assert_eq!((after["status"].as_str(), after["history"].as_array().unwrap().len(), after["bill"].as_str()), (Some("visited"), history, Some(recorded.as_str())), "{after}");
    ok(&server, &control, "POST", &format!("{o}/archive"), Value::Null);
    let board = ok(&server, &control, "GET", "/work-orders", Value::Null);
    assert_eq!(board.as_array().unwrap().iter().map(|t| t["id"].as_str().unwrap()).collect::<Vec<_>>(), vec![child["id"].as_str().unwrap()], "an archived order leaves the board; its coordination order stays");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forced_gate_opens_a_work_order_by_itself() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::demo(&dir.path().join("data"), 0, &[]).await;
    let control = server.login("control");
    let mut board = ws_open_at(server.http, "/ws/work?community=heyuan", &control).await.unwrap();
    assert_eq!(next_json(&mut board).await.unwrap()["type"], "work_snapshot");
    let (mut wall, snapshot) = ws_connect(server.http, "heyuan", &control).await;
    assert!(snapshot["work_orders"].as_array().unwrap().is_empty(), "{snapshot}");

    let key = server.device_key("heyuan", "gate-1");
    let mut gate = Device::connect("127.0.0.1", server.mqtt_port, "forced-gate", "heyuan/gate-1", &key).await;
    gate.publish("hutong/heyuan/devices/gate-1/event", gate_event(1, "forced_open")).await;
    let opened = wait_event(&mut board, Duration::from_secs(10), |m| is_order(m, |t| t["from_alarm"].is_u64())).await.unwrap();
    let order = &opened["body"]["order"];
    assert_eq!((order["urgency"].as_str(), order["category"].as_str(), order["status"].as_str()), (Some("critical"), Some("门禁道闸"), Some("registered")), "{order}");
    // The wall's work-order board shows it too.
    wait_event(&mut wall, Duration::from_secs(5), |m| is_order(m, |t| t["id"] == order["id"])).await.unwrap();
    // The alarm shows the order is on it.
    let no = order["from_alarm"].as_u64().unwrap();
    let alarm = wait_for("the alarm acknowledged as the order's", Duration::from_secs(5), async || {
        let (_, alarms) = call(&server, &control, "GET", "/alarms", Value::Null);
        alarms["open"].as_array().and_then(|open| open.iter().find(|a| a["no"] == no && !a["acknowledged"].is_null()).cloned())
    })
    .await;
    assert_eq!(alarm["acknowledged"][0]["name"], format!("工单 {}", order["id"].as_str().unwrap()), "{alarm}");
}

/// Anyone reports through the community's posted QR code, without signing in (W1): the order
/// reaches the board; a wrong code is refused and counted; an address that keeps reporting is
/// slowed down.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anyone_reports_through_the_posted_code_and_a_flood_is_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::demo(&dir.path().join("data"), 0, &[]).await;
    let control = server.login("control");
    let posted = ok(&server, &control, "GET", "/work-orders/report-code", Value::Null);
    let code = posted["code"].as_str().unwrap().to_string();
    assert_eq!(posted["url"], format!("/report?community=heyuan&code={code}"));
    let report = |code: &str, community: &str, n: usize| {
        let body = json!({"community": community, "code": code, "kind": "repair", "category": "公共设施", "description": format!("路灯不亮 {n}"), "place": "东门草坪"}).to_string();
        let (status, reply) = http(server.http, "POST", "/api/v1/report", None, Some(&body)).unwrap();
        (status, serde_json::from_str::<Value>(&reply).unwrap_or(Value::String(reply)))
    };
    let (status, reply) = report(&code, "heyuan", 1);
    assert_eq!(status, 200, "{reply}");
    let id = reply["order"].as_str().unwrap().to_string();
    let order = ok(&server, &control, "GET", &format!("/work-orders/{id}"), Value::Null);
    assert_eq!((order["registration"]["origin"]["by"].as_str(), order["status"].as_str()), (Some("anonymous"), Some("registered")), "{order}");

    // Another community's code, a made-up one: "no such code", counted; nothing registered.
    let sister = server.get_json("/api/v1/communities/lianyuan/work-orders/report-code")["code"].as_str().unwrap().to_string();
    assert_eq!(report(&sister, "heyuan", 2).0, 404);
    assert_eq!(report("0000", "heyuan", 3).0, 404);
    assert_eq!(report(&code, "nowhere", 4).0, 404);
    assert!(server.metric("hutong_reports_refused_total{reason=\"bad_code\"}") >= 3);
    assert_eq!(ok(&server, &control, "GET", "/work-orders", Value::Null).as_array().unwrap().len(), 1);
    // A bad body is refused with a sentence.
    let (status, _) = http(server.http, "POST", "/api/v1/report", None, Some(r#"{"community":"heyuan"}"#)).unwrap();
    assert_eq!(status, 400);

    // A flood from one address: ten reports in a quarter of an hour, then "too many".
    let mut taken = 1;
    let limited = loop {
        let (status, reply) = report(&code, "heyuan", taken + 10);
        if status != 200 {
            break (status, reply);
        }
        taken += 1;
        assert!(taken <= 10, "more than ten reports taken from one address");
    };
    assert_eq!(limited.0, 429, "{}", limited.1);
    assert_eq!(taken, 10);
}

/// The control room turns an alarm the rules leave alone into a work order (转工单), once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_control_room_turns_an_alarm_into_a_work_order_once() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::demo(&dir.path().join("data"), 0, &[]).await;
    let control = server.login("control");
    let device = "wm-1-1-101";
    let key = server.device_key("heyuan", device);
    let mut meter = Device::connect("127.0.0.1", server.mqtt_port, "order-meter", &format!("heyuan/{device}"), &key).await;
    let topic = format!("hutong/heyuan/devices/{device}/telemetry");
    meter.publish(&topic, telemetry(1, "500")).await;
    meter.publish(&topic, telemetry(2, "400")).await;
    let no = wait_for("the meter's alarm", Duration::from_secs(10), async || {
        let (_, alarms) = call(&server, &control, "GET", "/alarms", Value::Null);
        alarms["open"].as_array()?.iter().find(|a| a["device"] == device)?["no"].as_u64()
    })
    .await;
    assert!(ok(&server, &control, "GET", "/work-orders", Value::Null).as_array().unwrap().is_empty(), "a meter going backwards opens no order by itself");
    let order = ok(&server, &control, "POST", &format!("/alarms/{no}/work-order"), Value::Null);
    assert_eq!((order["registration"]["origin"]["no"].as_u64(), order["registration"]["place"]["device"].as_str()), (Some(no), Some(device)), "{order}");
    let (status, refusal) = call(&server, &control, "POST", &format!("/alarms/{no}/work-order"), Value::Null);
    assert_eq!(status, 409, "{refusal}");
    assert!(refusal["error"]["message"].as_str().unwrap().contains("已转工单 wo-1"), "{refusal}");
    let (_, alarms) = call(&server, &control, "GET", "/alarms", Value::Null);
    let alarm = alarms["open"].as_array().unwrap().iter().find(|a| a["no"] == no).unwrap().clone();
    assert_eq!(alarm["acknowledged"][0]["name"], "工单 wo-1", "{alarm}");
}

/// Announcements (X4): the office tells one building's residents; each home with residents is sent
/// it in-app through the outbox; a butler of that building reads it, one of another does not; it
/// is withdrawn once and stays in the record.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notice_reaches_a_buildings_homes_and_is_withdrawn_once() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::demo(&dir.path().join("data"), 0, &[]).await;
    let manager = server.login("manager");
    let (status, refusal) = call(&server, &manager, "POST", "/notices", json!({"title": "", "body": "停水"}));
    assert_eq!(status, 400, "{refusal}");
    assert!(refusal["error"]["message"].as_str().unwrap().contains("请填写公告标题"), "{refusal}");
    let (status, _) = call(&server, &manager, "POST", "/notices", json!({"title": "停水", "body": "停水", "buildings": ["heyuan-b99"]}));
    assert_eq!(status, 404);
    let notice = ok(&server, &manager, "POST", "/notices", json!({"title": "1号楼停水通知", "body": "12月2日 9:00–12:00 1号楼停水，请提前储水。", "buildings": ["heyuan-b01"]}));
    let homes = notice["delivered"].as_u64().unwrap();
    assert!(homes > 100, "{notice}");
    let finance = server.login("finance");
    let sent = ok(&server, &finance, "GET", "/notifications", Value::Null);
    let in_app = sent["notifications"].as_array().unwrap().iter().filter(|m| m["text"].as_str().is_some_and(|t| t.contains("1号楼停水通知")) && m["channel"] == "in_app").count();
    assert!(in_app > 100, "the latest messages are the notice's, one per home: {sent}");

    let butler = server.login("butler");
    assert_eq!(ok(&server, &butler, "GET", "/notices", Value::Null)[0]["title"], "1号楼停水通知");
    let body = r#"{"account":"butler-b2","name":"二号楼管家","phone":"13900000002","password":"correct horse 2","roles":["butler"],"communities":["heyuan"],"buildings":["heyuan-b02"]}"#;
    assert_eq!(http(server.http, "POST", "/api/v1/staff", Some(&server.admin), Some(body)).unwrap().0, 200);
    let (_, reply) = http(server.http, "POST", "/api/v1/auth/login", None, Some(r#"{"account":"butler-b2","password":"correct horse 2"}"#)).unwrap();
    let other = serde_json::from_str::<Value>(&reply).unwrap()["token"].as_str().unwrap().to_string();
    assert!(ok(&server, &other, "GET", "/notices", Value::Null).as_array().unwrap().is_empty(), "building 2's butler does not read building 1's notice");

    let no = notice["no"].as_u64().unwrap();
    let withdrawn = ok(&server, &manager, "POST", &format!("/notices/{no}/withdraw"), Value::Null);
    assert!(!withdrawn["withdrawn"].is_null(), "{withdrawn}");
    assert_eq!(call(&server, &manager, "POST", &format!("/notices/{no}/withdraw"), Value::Null).0, 409);
    assert_eq!(ok(&server, &manager, "GET", "/notices", Value::Null).as_array().unwrap().len(), 1, "a withdrawn notice stays in the record");
}
