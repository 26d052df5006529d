//! Alarms as things people handle (R8), against the real binary: a meter's repeated anomaly over
//! MQTT is one alarm with a count on the wall's socket; the control room acknowledges and
//! resolves it over HTTP; a butler of another building does not see it; `kill -9` loses nothing
//! of its life.

use std::time::Duration;

use hutong_tests::*;
use serde_json::{Value, json};

const DEVICE: &str = "wm-1-1-101";
const TOPIC: &str = "hutong/heyuan/devices/wm-1-1-101/telemetry";

fn alarms(server: &Server, token: &str) -> Value {
    let (status, body) = http(server.http, "GET", "/api/v1/communities/heyuan/alarms", Some(token), None).unwrap();
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

fn is_alarm(msg: &Value, pred: impl Fn(&Value) -> bool) -> bool {
    msg["body"]["kind"] == "alarm" && pred(&msg["body"]["alarm"])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_anomaly_is_one_alarm_handled_by_a_person_and_kill_9_loses_none_of_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::demo(&data, 0, &[]).await;
    let control = server.login("control");
    let (mut wall, snapshot) = ws_connect(server.http, "heyuan", &control).await;
    assert!(snapshot["open_alarms"].as_array().unwrap().is_empty(), "{snapshot}");

    // A meter whose reading goes backwards 300 times: one alarm, seen 300 times.
    let key = server.device_key("heyuan", DEVICE);
    let mut device = Device::connect("127.0.0.1", server.mqtt_port, "alarm-meter", &format!("heyuan/{DEVICE}"), &key).await;
    device.publish(TOPIC, telemetry(1, "900.5")).await;
    for seq in 2..=301 {
        device.publish(TOPIC, telemetry(seq, "800")).await;
    }
    let raised = match wait_event(&mut wall, Duration::from_secs(10), |m| is_alarm(m, |a| a["count"] == 300)).await {
        Ok(raised) => raised,
        Err(e) => panic!("{e}: alarms {} device {}", alarms(&server, &control), server.get_json(&format!("/api/v1/communities/heyuan/devices/{DEVICE}"))),
    };
    let alarm = &raised["body"]["alarm"];
    assert_eq!((alarm["kind"].as_str(), alarm["device"].as_str(), alarm["severity"].as_str()), (Some("meter_backwards"), Some(DEVICE), Some("warning")));
    let no = alarm["no"].as_u64().unwrap();
    let listed = alarms(&server, &control);
    assert_eq!(listed["open"].as_array().unwrap().len(), 1, "{listed}");

    // A butler of another building does not see it, nor can act on it; a cashier may not act.
    let butler2 = {
        let body = r#"{"account":"butler-b2","name":"二号楼管家","phone":"13900000002","password":"correct horse 2","roles":["butler"],"communities":["heyuan"],"buildings":["heyuan-b02"]}"#;
        let (status, reply) = http(server.http, "POST", "/api/v1/staff", Some(&server.admin), Some(body)).unwrap();
        assert_eq!(status, 200, "{reply}");
        let body = r#"{"account":"butler-b2","password":"correct horse 2"}"#;
        let (_, reply) = http(server.http, "POST", "/api/v1/auth/login", None, Some(body)).unwrap();
        serde_json::from_str::<Value>(&reply).unwrap()["token"].as_str().unwrap().to_string()
    };
    assert!(alarms(&server, &butler2)["open"].as_array().unwrap().is_empty());
    let act = |token: &str, action: &str, body: &str| http(server.http, "POST", &format!("/api/v1/communities/heyuan/alarms/{no}/{action}"), Some(token), Some(body)).unwrap();
    assert_eq!(act(&server.login("cashier"), "acknowledge", "").0, 403);

    // The control room takes it; the wall shows who is on it.
    let (status, reply) = act(&control, "acknowledge", "");
    assert_eq!(status, 200, "{reply}");
    let taken = wait_event(&mut wall, Duration::from_secs(5), |m| is_alarm(m, |a| !a["acknowledged"].is_null())).await.unwrap();
    assert_eq!(taken["body"]["alarm"]["acknowledged"][0]["account"], "control");
    // Resolving needs a note; with one, it leaves the open list.
    let (status, reply) = act(&control, "resolve", r#"{"note":""}"#);
    assert_eq!(status, 400, "{reply}");
    assert!(reply.contains("请填写处理说明"), "{reply}");
    assert_eq!(act(&control, "resolve", r#"{"note":"x","extra":1}"#).0, 400, "unknown fields are refused");
    let (status, reply) = act(&control, "resolve", r#"{"note":"换表后读数归零，已核对"}"#);
    assert_eq!(status, 200, "{reply}");
    wait_event(&mut wall, Duration::from_secs(5), |m| is_alarm(m, |a| !a["resolved"].is_null())).await.unwrap();
    assert_eq!(act(&control, "resolve", r#"{"note":"again"}"#).0, 409);
    assert_eq!(act(&control, "acknowledge", "").0, 409);
    assert_eq!(http(server.http, "POST", "/api/v1/communities/heyuan/alarms/999/acknowledge", Some(&control), Some("")).unwrap().0, 404);
    let audit = server.get_json("/api/v1/audit?action=alarm.resolve");
    assert_eq!(audit[0]["target"].as_str(), Some(format!("heyuan/{no}").as_str()));
    // A new occurrence after the resolution is a new alarm, still unhandled.
    device.publish(TOPIC, telemetry(302, "700")).await;
    wait_event(&mut wall, Duration::from_secs(10), |m| is_alarm(m, |a| a["no"].as_u64() == Some(no + 1))).await.unwrap();

    // Pulled plug: the desk's history and the open alarm come back as they were.
    server.kill9();
    let server = Server::demo(&data, 0, &[]).await;
    let control = server.login("control");
    let listed = alarms(&server, &control);
    let open = listed["open"].as_array().unwrap();
    assert_eq!(open.len(), 1, "{listed}");
    assert_eq!((open[0]["no"].as_u64(), open[0]["acknowledged"].is_null()), (Some(no + 1), true));
    let resolved = listed["resolved"].as_array().unwrap();
    assert_eq!((resolved[0]["no"].as_u64(), resolved[0]["count"].as_u64()), (Some(no), Some(300)));
    assert_eq!(resolved[0]["resolved"]["note"], "换表后读数归零，已核对");
    assert!(resolved[0]["resolved"]["by"]["name"].as_str().is_some());
    let (_, snapshot) = ws_connect(server.http, "heyuan", &control).await;
    assert_eq!(snapshot["open_alarms"][0]["no"].as_u64(), Some(no + 1));
    server.stop();
}

/// M4 thresholds per community over HTTP: defaults, refusals in both languages, a change kept
/// across a restart and audited; a cashier may not change them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn meter_thresholds_are_per_community_checked_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::demo(&data, 0, &[]).await;
    let path = "/api/v1/communities/heyuan/meter-rules";
    let rules = server.get_json(path);
    assert_eq!((rules["night_from_hour"].as_u64(), rules["night_to_hour"].as_u64(), rules["out_of_range_months"].as_u64()), (Some(1), Some(5), Some(3)));
    assert_eq!(rules["water_month"]["max"], "50");
    let put = |token: &str, body: &str| http(server.http, "PUT", path, Some(token), Some(body)).unwrap();
    let (status, reply) = put(&server.admin, r#"{"night_from_hour":3,"night_to_hour":3}"#);
    assert_eq!(status, 400, "{reply}");
    assert!(reply.contains("夜间时段") && reply.contains("the night"), "{reply}");
    assert_eq!(put(&server.admin, r#"{"water_month":{"min":"60","max":"5"}}"#).0, 400);
    assert_eq!(put(&server.admin, r#"{"leak_after":2}"#).0, 400, "unknown fields are refused");
    assert_eq!(put(&server.login("cashier"), r#"{"leak_min_readings":2}"#).0, 403);
    let (status, reply) = put(&server.admin, r#"{"night_from_hour":23,"night_to_hour":5,"leak_min_readings":4,"water_month":{"min":"0.5","max":"40"}}"#);
    assert_eq!(status, 200, "{reply}");
    // Other communities keep theirs.
    assert_eq!(server.get_json("/api/v1/communities/lianyuan/meter-rules")["night_from_hour"].as_u64(), Some(1));
    let audit = server.get_json("/api/v1/audit?action=meters.rules");
    assert_eq!(audit[0]["target"].as_str(), Some("heyuan"));
    server.kill9();
    let server = Server::demo(&data, 0, &[]).await;
    let rules = server.get_json(path);
    assert_eq!((rules["night_from_hour"].as_u64(), rules["leak_min_readings"].as_u64(), rules["water_month"]["max"].as_str()), (Some(23), Some(4), Some("40")));
    server.stop();
}

/// Patrols (T1, T4, T5) against the real binary: the office places two checkpoints and a route
/// whose round is under way; the guard scans the first code (a forged code and a code of a place
/// not on any route change nothing); the second is never reached — the wall's socket gets the
/// miss within a second of its window closing; a late scan is refused; the round's figures count it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missed_checkpoint_is_on_the_wall_the_second_its_window_closes() {
    use chrono::{TimeDelta, Utc};
    let dir = tempfile::tempdir().unwrap();
    let server = Server::demo(&dir.path().join("data"), 0, &[]).await;
    let (admin, guard) = (server.admin.clone(), server.login("guard"));
    let base = "/api/v1/communities/heyuan/patrol";
    for (id, name) in [("t-1", "东门"), ("t-2", "西门"), ("t-9", "屋顶")] {
        let (status, reply) = http(server.http, "PUT", &format!("{base}/checkpoints/{id}"), Some(&admin), Some(&format!(r#"{{"name":"{name}","position":[10,20]}}"#))).unwrap();
        assert_eq!(status, 200, "{reply}");
    }
    // A round that began 50 s ago, both stops due at once, give or take a minute: both windows
    // close 10 s from now.
    let start = (Utc::now() - TimeDelta::seconds(50)).with_timezone(&chrono_tz::Asia::Shanghai).format("%H:%M:%S").to_string();
    let route = format!(r#"{{"name":"测试路线","stops":[{{"checkpoint":"t-1","after_mins":0}},{{"checkpoint":"t-2","after_mins":0}}],"plan":{{"starts":["{start}"],"tolerance_mins":1}}}}"#);
    let (status, reply) = http(server.http, "PUT", &format!("{base}/routes/t-route"), Some(&admin), Some(&route)).unwrap();
    assert_eq!(status, 200, "{reply}");
    let view: Value = serde_json::from_str(&reply).unwrap();
    let closes: chrono::DateTime<Utc> = view["next_close"].as_str().unwrap().parse().unwrap();
    // The sheet to print: every checkpoint's code, six to an A4 page.
    let (status, _, pdf) = request(server.http, "GET", &format!("{base}/codes.pdf"), Some(&admin), &[], b"").unwrap();
    assert_eq!(status, 200);
    assert!(pdf.starts_with(b"%PDF-"), "a PDF");
    std::fs::write(output_dir().join("patrol-codes.pdf"), &pdf).unwrap();
    let (mut wall, snapshot) = ws_connect(server.http, "heyuan", &server.login("control")).await;
    let on_wall: Vec<&str> = snapshot["patrols"].as_array().unwrap().iter().map(|p| p["route"].as_str().unwrap()).collect();
    assert!(on_wall.contains(&"t-route") && on_wall.contains(&"heyuan-night"), "the wall's patrol panel: {on_wall:?}");

    // The guard's scans use the codes as printed: read back from the PDF.
    let printed = printed_urls(&pdf);
    assert!(printed.len() >= 3, "every checkpoint's address on the sheet: {printed:?}");
    let code = |id: &str| {
        let url = printed.iter().find(|u| u.contains(&format!("checkpoint={id}&"))).unwrap_or_else(|| panic!("{id} on the sheet: {printed:?}"));
        let api: Value = serde_json::from_str(&http(server.http, "GET", &format!("{base}/checkpoints/{id}/code"), Some(&admin), None).unwrap().1).unwrap();
        assert!(url.ends_with(api["url"].as_str().unwrap()), "the printed address is the code's: {url}");
        url.rsplit_once("code=").unwrap().1.to_string()
    };
    let scan = |id: &str, code: &str| http(server.http, "POST", &format!("{base}/check-ins"), Some(&guard), Some(&format!(r#"{{"checkpoint":"{id}","code":"{code}"}}"#))).unwrap();
    let (status, reply) = scan("t-1", "0123456789abcdef0123456789abcdef");
    assert_eq!(status, 400, "a forged code: {reply}");
    assert!(reply.contains("二维码无效"), "{reply}");
    let (status, reply) = scan("t-2", &code("t-1"));
    assert_eq!(status, 400, "another checkpoint's code: {reply}");
    let (status, reply) = scan("t-9", &code("t-9"));
    assert_eq!(status, 404, "a place on no route: {reply}");
    let (status, reply) = scan("t-1", &code("t-1"));
    assert_eq!(status, 200, "{reply}");
    let scanned = serde_json::from_str::<Value>(&reply).unwrap();
    assert_eq!(scanned["route"], "t-route");
    let (status, reply) = scan("t-1", &code("t-1"));
    assert_eq!(status, 200, "scanned again on leaving: {reply}");
    assert_eq!(serde_json::from_str::<Value>(&reply).unwrap()["kind"], "left");
    assert_eq!(scan("t-1", &code("t-1")).0, 409, "a third time in one round");

    // The miss as an alarm, and the route's day on the wall's patrol panel (in either order).
    let (mut miss, mut day, mut heard) = (None, None, Utc::now());
    while miss.is_none() || day.is_none() {
        let e = wait_event(&mut wall, Duration::from_secs(30), |e| e["body"]["kind"] == "alarm" || e["body"]["kind"] == "patrol").await.unwrap();
        if e["body"]["alarm"]["kind"] == "patrol_missed" {
            heard = Utc::now();
            miss = Some(e);
        } else if e["body"]["patrol"]["route"] == "t-route" && e["body"]["patrol"]["missed"] == 1 {
            day = Some(e);
        }
    }
    let (miss, day) = (miss.unwrap(), day.unwrap());
    assert!(heard - closes < TimeDelta::seconds(1), "on the wall {} ms after the window closed", (heard - closes).num_milliseconds());
    assert!(heard >= closes, "not before it closed");
    assert!(miss["body"]["alarm"]["text"].as_str().unwrap().contains("西门"), "{miss}");
    assert_eq!((day["body"]["patrol"]["reached"].as_u64(), day["body"]["patrol"]["due"].as_u64()), (Some(1), Some(0)), "{day}");

    let (status, reply) = scan("t-2", &code("t-2"));
    assert_eq!(status, 409, "reached late: {reply}");
    let view: Value = serde_json::from_str(&http(server.http, "GET", &format!("{base}/routes/t-route"), Some(&guard), None).unwrap().1).unwrap();
    let states: Vec<&str> = view["today"][0]["stops"].as_array().unwrap().iter().map(|s| s["state"].as_str().unwrap()).collect();
    assert_eq!(states, ["reached", "missed"]);
    let month = view["months"].as_object().unwrap().values().next().unwrap().clone();
    assert_eq!((month["rounds"].as_u64(), month["completed"].as_u64(), month["missed_stops"].as_u64()), (Some(1), Some(0), Some(1)), "{month}");
    assert_eq!(month["by_guard"]["guard"]["rounds"], 1);

    // Photos (T4): taken by their bytes, kept under the data directory, added to the guard's own
    // check-in with a note, served only under their own community.
    let photo: &[u8] = include_bytes!("../fixtures/photo-own.png");
    let upload = |token: &str, body: &[u8]| request(server.http, "POST", &format!("{base}/photos"), Some(token), &[], body).unwrap();
    let (status, _, reply) = upload(&guard, b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>");
    assert_eq!(status, 400, "not a photo: {}", String::from_utf8_lossy(&reply));
    assert!(String::from_utf8_lossy(&reply).contains("JPEG"));
    let (status, _, _) = upload(&guard, &vec![0xFFu8; 7 * 1024 * 1024]);
    assert_eq!(status, 413, "too large");
    assert_eq!(server.metric("hutong_photos_refused_total{reason=\"not_a_photo\"}"), 1);
    let (status, _, reply) = upload(&guard, photo);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&reply));
    let id = serde_json::from_slice::<Value>(&reply).unwrap()["id"].as_str().unwrap().to_string();
    assert!(dir.path().join(format!("data/photos/heyuan/{id}.png")).exists(), "kept under the data directory");
    let note = |token: &str, photos: &[&str]| {
        let body = json!({"checkpoint": "t-1", "at": scanned["at"], "note": "东门锁有松动", "photos": photos}).to_string();
        http(server.http, "POST", &format!("{base}/routes/t-route/notes"), Some(token), Some(&body)).unwrap()
    };
    assert_eq!(note(&guard, &["0123456789abcdef0123456789abcdef"]).0, 400, "a photo never taken");
    assert_eq!(note(&admin, &[&id]).0, 404, "someone else's check-in");
    let (status, reply) = note(&guard, &[&id]);
    assert_eq!(status, 200, "{reply}");
    let view: Value = serde_json::from_str(&http(server.http, "GET", &format!("{base}/routes/t-route"), Some(&admin), None).unwrap().1).unwrap();
    let first = &view["today"][0]["stops"][0];
    assert_eq!((first["note"].as_str(), first["photos"][0].as_str()), (Some("东门锁有松动"), Some(id.as_str())), "{first}");
    let (status, headers, bytes) = request(server.http, "GET", &format!("{base}/photos/{id}"), Some(&admin), &[], b"").unwrap();
    assert_eq!((status, bytes.as_slice()), (200, photo), "as taken");
    assert!(headers.to_ascii_lowercase().contains("content-type: image/png") && headers.to_ascii_lowercase().contains("nosniff"), "{headers}");
    assert_eq!(http(server.http, "GET", &format!("/api/v1/communities/lianyuan/patrol/photos/{id}"), Some(&admin), None).unwrap().0, 404, "not a photo of the sister community");
    let other = server.login("meiyuan-admin");
    assert!([403, 404].contains(&http(server.http, "GET", &format!("{base}/photos/{id}"), Some(&other), None).unwrap().0), "never served to another company");

    // The manager's month (T6): the route, the guard by name, the total, with their rates.
    let round_month = (closes - TimeDelta::minutes(1)).with_timezone(&chrono_tz::Asia::Shanghai).format("%Y-%m").to_string();
    let (status, reply) = http(server.http, "GET", &format!("{base}/figures?month={round_month}"), Some(&admin), None).unwrap();
    assert_eq!(status, 200, "{reply}");
    let figures: Value = serde_json::from_str(&reply).unwrap();
    let row = figures["routes"].as_array().unwrap().iter().find(|r| r["id"] == "t-route").unwrap().clone();
    assert_eq!((row["rounds"].as_u64(), row["missed_rounds"].as_u64(), row["completion_rate"].as_str(), row["miss_rate"].as_str()), (Some(1), Some(1), Some("0.0"), Some("100.0")), "{row}");
    let guard_row = figures["guards"].as_array().unwrap().iter().find(|r| r["id"] == "guard").unwrap().clone();
    assert!(guard_row["name"].as_str().is_some_and(|n| !n.is_empty() && n != "guard"), "the guard by name: {guard_row}");
    assert_eq!(guard_row["rounds"], 1);
    assert!(figures["total"]["rounds"].as_u64() >= Some(1));
    let (status, reply) = http(server.http, "GET", &format!("{base}/figures?month=2026-13"), Some(&admin), None).unwrap();
    assert_eq!(status, 400, "a month that is not one: {reply}");
    assert!(reply.contains("年-月"), "{reply}");
}

/// A patrol reader (巡更棒) is a device: registered like any, it publishes each tag it reads over
/// MQTT, and a read of a tag fixed at a checkpoint checks in for the route whose window is open —
/// by the reader. A tag fixed nowhere or a malformed read counts nowhere and is refused with a reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_patrol_reader_checks_in_over_mqtt_by_the_tag_it_reads() {
    use chrono::{TimeDelta, Utc};
    let dir = tempfile::tempdir().unwrap();
    let server = Server::demo(&dir.path().join("data"), 0, &[]).await;
    let admin = server.admin.clone();
    let base = "/api/v1/communities/heyuan/patrol";
    for (id, name, tag) in [("tag-1", "配电房", "04:a1:00:01"), ("tag-2", "水泵房", "04:A1:00:02")] {
        let (status, reply) = http(server.http, "PUT", &format!("{base}/checkpoints/{id}"), Some(&admin), Some(&format!(r#"{{"name":"{name}","tag":"{tag}"}}"#))).unwrap();
        assert_eq!(status, 200, "{reply}");
        assert_eq!(serde_json::from_str::<Value>(&reply).unwrap()["tag"], tag.to_uppercase());
    }
    let (status, reply) = http(server.http, "PUT", &format!("{base}/checkpoints/tag-3"), Some(&admin), Some(r#"{"name":"屋顶","tag":"04:A1:00:02"}"#)).unwrap();
    assert_eq!(status, 400, "one tag, one place: {reply}");
    assert!(reply.contains("水泵房"), "{reply}");
    let start = (Utc::now() - TimeDelta::seconds(50)).with_timezone(&chrono_tz::Asia::Shanghai).format("%H:%M:%S").to_string();
    let route = format!(r#"{{"name":"设备房巡查","stops":[{{"checkpoint":"tag-1","after_mins":0}},{{"checkpoint":"tag-2","after_mins":0}}],"plan":{{"starts":["{start}"],"tolerance_mins":1,"guards":["reader-1"]}}}}"#);
    let (status, reply) = http(server.http, "PUT", &format!("{base}/routes/rooms"), Some(&admin), Some(&route)).unwrap();
    assert_eq!(status, 200, "{reply}");

    let (status, reply) = http(server.http, "POST", "/api/v1/communities/heyuan/devices", Some(&admin), Some(r#"{"id":"reader-1","kind":"patrol_reader"}"#)).unwrap();
    assert_eq!(status, 200, "a reader is registered like any device: {reply}");
    // The registration reaches the keyring and the community's actors just after the answer.
    let key = wait_for("the reader's key", Duration::from_secs(5), async || {
        let (status, body) = http(server.http, "GET", "/api/v1/communities/heyuan/devices/reader-1/key", Some(&admin), None).ok()?;
        (status == 200).then(|| serde_json::from_str::<Value>(&body).ok()?["key"].as_str().map(str::to_string)).flatten()
    })
    .await;
    let mut reader = Device::connect("127.0.0.1", server.mqtt_port, "reader-1", "heyuan/reader-1", &key).await;
    let topic = "hutong/heyuan/devices/reader-1/event";
    let read = |seq: u64, tag: &str| format!(r#"{{"seq":{seq},"ts":{},"tag":"{tag}"}}"#, now_ms());
    reader.publish(topic, read(1, "04:A1:00:99")).await;
    reader.publish(topic, read(2, "04 A1; DROP")).await;
    reader.publish(topic, read(3, "04:a1:00:01")).await;

    let reached = wait_for("the reader's check-in", Duration::from_secs(10), async || {
        let view: Value = serde_json::from_str(&http(server.http, "GET", &format!("{base}/routes/rooms"), Some(&admin), None).ok()?.1).ok()?;
        let stop = view["today"].as_array()?.iter().flat_map(|r| r["stops"].as_array().cloned().unwrap_or_default()).find(|s| s["checkpoint"] == "tag-1")?;
        (stop["state"] == "reached").then_some(stop)
    })
    .await;
    assert_eq!(reached["by"], "巡更棒 reader-1", "checked in by the reader: {reached}");
    assert_eq!(server.metric("hutong_mqtt_rejected_total{reason=\"wrong_type\"}"), 1, "the malformed read refused with its reason");
    let device: Value = server.get_json("/api/v1/communities/heyuan/devices/reader-1");
    assert_eq!(device["last_device_seq"], 3, "every well-formed read is in the reader's own stream, the one fixed nowhere too: {device}");
    // A reader that is not a gate may not send gate events.
    reader.publish(topic, r#"{"seq":4,"ts":1,"action":"forced_open"}"#).await;
    wait_for("the gate event refused", Duration::from_secs(10), async || (server.metric("hutong_mqtt_rejected_total{reason=\"refused\"}") == 1).then_some(())).await;
}
