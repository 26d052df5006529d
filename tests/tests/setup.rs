//! Setting a company's own community up from an empty `hutong serve` (C1, M6), against the real
//! binary: the first administrator describes the community, registers a meter, the meter
//! publishes over MQTT and the wall shows it; after `kill -9` and a restart everything is there.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use hutong_tests::*;
use chrono::Datelike;
use serde_json::{Value, json};

/// The deployment's device secret (from the environment, as a real one would be; ≥ 32 characters).
const DEVICE_SECRET: &str = "a-device-secret-of-at-least-32-characters";

struct Serve {
    child: Child,
    http: SocketAddr,
    mqtt: u16,
}

impl Serve {
    async fn start(data: &Path) -> Serve {
        let (http, mqtt): (SocketAddr, u16) = (format!("127.0.0.1:{}", free_port()).parse().unwrap(), free_port());
        let child = Command::new(hutong_bin())
            .arg("serve")
            .arg("--data")
            .arg(data)
            .args(["--http", &http.to_string(), "--mqtt", &format!("127.0.0.1:{mqtt}")])
            .env("HUTONG_DEVICE_SECRET", DEVICE_SECRET)
            .env("HUTONG_ADMIN_PASSWORD", "first-admin-pw")
            .env("HUTONG_OPERATOR_PASSWORD", "platform-operator-pw")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        wait_for("serve to be ready", Duration::from_secs(30), async || http_get(http, "/healthz").ok().filter(|(s, _)| *s == 200)).await;
        Serve { child, http, mqtt }
    }

    fn admin(&self) -> String {
        self.login("admin", "first-admin-pw")
    }

    fn login(&self, account: &str, password: &str) -> String {
        let body = json!({"account": account, "password": password}).to_string();
        let (status, reply) = http(self.http, "POST", "/api/v1/auth/login", None, Some(&body)).unwrap();
        assert_eq!(status, 200, "{reply}");
        serde_json::from_str::<Value>(&reply).unwrap()["token"].as_str().unwrap().to_string()
    }

    fn get(&self, token: &str, path: &str) -> (u16, Value) {
        let (status, body) = http(self.http, "GET", path, Some(token), None).unwrap();
        (status, serde_json::from_str(&body).unwrap_or(Value::Null))
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn plan(id: &str, zone: &str) -> Value {
    let floors: Vec<Value> = (1..=3).map(|f| json!({"no": f, "rooms": [{"room": format!("{f}01"), "area": "88.50"}, {"room": format!("{f}02"), "area": "102.3"}]})).collect();
    json!({
        "id": id, "name": "桃园", "time_zone": zone,
        "buildings": [
            {"no": 1, "units": [{"no": 1, "floors": floors}]},
            {"no": 2, "name": "商铺楼", "units": [{"no": 1, "floors": [{"no": 1, "rooms": [{"room": "101", "area": "40"}]}]}]}
        ]
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_sets_up_a_community_from_an_empty_serve_and_a_restart_keeps_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let serve = Serve::start(&data).await;
    let admin = serve.admin();
    assert_eq!(serve.get(&admin, "/api/v1/communities").1.as_array().map(Vec::len), Some(0), "an empty serve");
    let post = |path: &str, body: &Value| http(serve.http, "POST", path, Some(&admin), Some(&body.to_string())).unwrap();

    // Refused with a sentence, and nothing changes.
    let (status, reply) = post("/api/v1/communities", &plan("taoyuan", "Mars/Olympus"));
    assert_eq!(status, 400, "{reply}");
    assert!(reply.contains("未知时区"), "{reply}");
    let mut twice = plan("taoyuan", "Asia/Shanghai");
    twice["buildings"][1]["no"] = json!(1);
    assert_eq!(post("/api/v1/communities", &twice).0, 400);
    assert_eq!(serve.get(&admin, "/api/v1/communities").1.as_array().map(Vec::len), Some(0));

    let (status, reply) = post("/api/v1/communities", &plan("taoyuan", "Asia/Shanghai"));
    assert_eq!(status, 200, "{reply}");
    let summary: Value = serde_json::from_str(&reply).unwrap();
    assert_eq!((summary["buildings"].as_u64(), summary["houses"].as_u64()), (Some(2), Some(7)));
    assert_eq!(post("/api/v1/communities", &plan("taoyuan", "Asia/Shanghai")).0, 409);
    let listed = serve.get(&admin, "/api/v1/communities").1;
    assert_eq!(listed[0]["id"], "taoyuan", "in the company and in the administrator's scope at once: {listed}");
    let (status, wall) = serve.get(&admin, "/api/v1/communities/taoyuan/wall");
    assert_eq!(status, 200);
    assert_eq!(wall["buildings"].as_array().map(Vec::len), Some(2));
    let chart = serve.get(&admin, "/api/v1/communities/taoyuan/buildings/taoyuan-b01/chart").1;
    assert_eq!(chart["cells"].as_array().map(Vec::len), Some(6), "the book knows its houses: {chart}");
    let (status, house) = serve.get(&admin, "/api/v1/communities/taoyuan/houses?address=taoyuan-1-1-201");
    assert_eq!(status, 200, "{house}");

    // A meter of house 1-1-201, registered, then heard over MQTT with its provisioning key.
    let meter = json!({"id": "wm-1-1-201", "kind": "water_meter", "building": "taoyuan-b01", "house": "taoyuan-1-1-201"});
    let (status, reply) = post("/api/v1/communities/taoyuan/devices", &meter);
    assert_eq!(status, 200, "{reply}");
    let key = wait_for("the meter's key", Duration::from_secs(5), async || {
        let (status, body) = serve.get(&admin, "/api/v1/communities/taoyuan/devices/wm-1-1-201/key");
        (status == 200).then(|| body["key"].as_str().map(str::to_string)).flatten()
    })
    .await;
    let (mut socket, _) = ws_connect(serve.http, "taoyuan", &admin).await;
    let mut device = Device::connect("127.0.0.1", serve.mqtt, "taoyuan-meter", "taoyuan/wm-1-1-201", &key).await;
    device.publish("hutong/taoyuan/devices/wm-1-1-201/telemetry", telemetry(1, "321.5")).await;
    let event = wait_event(&mut socket, Duration::from_secs(10), |m| m["body"]["device"] == "wm-1-1-201").await.unwrap();
    assert_eq!(event["community"], "taoyuan");
    let audit = serve.get(&admin, "/api/v1/audit?action=community.create").1;
    assert_eq!(audit[0]["target"], "taoyuan");

    // The estate grows while running: a second unit in building 1 and a new building 3.
    let more = json!({"buildings": [
        {"no": 1, "units": [{"no": 1, "floors": [{"no": 1, "rooms": [{"room": "101", "area": "88.50"}]}]}, {"no": 2, "floors": [{"no": 1, "rooms": [{"room": "101", "area": "70"}]}]}]},
        {"no": 3, "units": [{"no": 1, "floors": [{"no": 1, "rooms": [{"room": "101", "area": "66"}, {"room": "102", "area": "66"}]}]}]}
    ]});
    let (status, reply) = post("/api/v1/communities/taoyuan/buildings", &more);
    assert_eq!(status, 200, "{reply}");
    let grown: Value = serde_json::from_str(&reply).unwrap();
    assert_eq!((grown["houses_added"].as_u64(), grown["houses_existing"].as_u64()), (Some(3), Some(1)), "{grown}");
    assert_eq!(grown["new_buildings"], json!(["taoyuan-b03"]));
    assert_eq!(post("/api/v1/communities/taoyuan/buildings", &more).1, r#"{"new_buildings":[],"houses_added":0,"houses_existing":4}"#);
    let chart = serve.get(&admin, "/api/v1/communities/taoyuan/buildings/taoyuan-b03/chart").1;
    assert_eq!(chart["cells"].as_array().map(Vec::len), Some(2), "the new building's actor runs with its houses: {chart}");
    assert_eq!(serve.get(&admin, "/api/v1/communities/taoyuan/houses?address=taoyuan-1-2-101").0, 200);

    // The house & resident template creates what is missing — all rows or none.
    let sheet = |rows: &[&[&str]]| hutong_core::import::export::xlsx(&rows.iter().map(|r| r.iter().map(|c| c.to_string()).collect()).collect::<Vec<_>>()).unwrap();
    let header: &[&str] = &["房屋地址", "类型", "面积", "状态", "状态日期", "住户姓名", "手机号", "身份证号", "关系", "VIP"];
    let import = |bytes: Vec<u8>| {
        let (status, _, body) = request(serve.http, "POST", "/api/v1/communities/taoyuan/house-records/import", Some(&admin), &[("Content-Type", "application/octet-stream")], &bytes).unwrap();
        (status, serde_json::from_slice::<Value>(&body).unwrap_or(Value::Null))
    };
    let existing: &[&str] = &["桃园-1-1-101", "住宅", "", "入住", "2026-01-01", "张三", "13800000001", "", "业主", ""];
    let new_shop: &[&str] = &["桃园/4号楼/1层/S1", "商铺", "45.5", "空置", "", "李四", "13800000002", "", "业主", ""];
    let no_area: &[&str] = &["桃园-4-1-1203", "住宅", "", "", "", "王五", "13800000003", "", "租户", ""];
    let (status, report) = import(sheet(&[header, existing, new_shop, no_area]));
    assert_eq!(status, 422, "{report}");
    assert_eq!(report["errors"][0]["row"].as_u64(), Some(4), "{report}");
    assert!(report["errors"][0]["reason"].as_str().unwrap().contains("面积"), "{report}");
    assert_eq!(serve.get(&admin, "/api/v1/communities/taoyuan/houses?address=taoyuan-4-1-S1").0, 404, "nothing was created");
    let with_area: &[&str] = &["桃园-4-1-1203", "住宅", "120", "", "", "王五", "13800000003", "", "租户", ""];
    let (status, report) = import(sheet(&[header, existing, new_shop, with_area]));
    assert_eq!(status, 200, "{report}");
    assert_eq!((report["imported"].as_u64(), report["created"].as_u64()), (Some(3), Some(2)), "{report}");
    let chart = serve.get(&admin, "/api/v1/communities/taoyuan/buildings/taoyuan-b04/chart").1;
    assert_eq!(chart["cells"].as_array().map(Vec::len), Some(2), "{chart}");
    let (status, house) = serve.get(&admin, "/api/v1/communities/taoyuan/houses?address=taoyuan-4-1-1203");
    assert_eq!((status, house["id"].as_str()), (200, Some("taoyuan-4-1-1203")), "{house}");
    let records = serve.get(&admin, "/api/v1/communities/taoyuan/house-records?building=taoyuan-b04").1;
    assert!(records.to_string().contains("王五") && records.to_string().contains("商铺"), "{records}");

    // A community created empty, its whole tree from a spreadsheet — with the company's own column.
    let (status, reply) = post("/api/v1/communities", &json!({"id": "xinyuan", "name": "新苑", "time_zone": "Asia/Shanghai", "buildings": []}));
    assert_eq!(status, 200, "{reply}");
    let xin = |path: &str| format!("/api/v1/communities/xinyuan{path}");
    let own_header: &[&str] = &["房屋地址", "类型", "面积", "状态", "状态日期", "住户姓名", "手机号", "身份证号", "关系", "VIP", "朝向"];
    let rows: Vec<Vec<String>> = (1..=2)
        .flat_map(|b| (1..=3).map(move |f| vec![format!("新苑-{b}-1-{f}01"), "住宅".into(), "95.5".into(), "入住".into(), "2026-06-01".into(), format!("住户{b}{f}"), format!("1390000{b}{f:03}"), String::new(), "业主".into(), String::new(), "南北".into()]))
        .collect();
    let mut sheet_rows: Vec<Vec<String>> = vec![own_header.iter().map(|c| c.to_string()).collect()];
    sheet_rows.extend(rows);
    let bytes = hutong_core::import::export::xlsx(&sheet_rows).unwrap();
    let (status, _, body) = request(serve.http, "POST", &xin("/house-records/import"), Some(&admin), &[("Content-Type", "application/octet-stream")], &bytes).unwrap();
    let report: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    assert_eq!((status, report["created"].as_u64()), (200, Some(6)), "{report}");
    let tree = serve.get(&admin, &xin("")).1;
    assert_eq!(tree["buildings"].as_array().map(Vec::len), Some(2), "{tree}");
    let records = serve.get(&admin, &xin("/house-records?building=xinyuan-b02")).1;
    assert_eq!(records["houses"][0]["fields"]["朝向"], "南北", "{records}");
    let (status, _, exported) = request(serve.http, "GET", &xin("/house-records?format=csv"), Some(&admin), &[], &[]).unwrap();
    assert_eq!(status, 200);
    assert!(String::from_utf8_lossy(&exported).lines().next().is_some_and(|h| h.ends_with("朝向")), "the export carries the company's column");
    // C2 on screen: a home becomes a shop of another area, with a field of the company's own.
    let patch = |house: &str, body: Value| {
        let (status, reply) = http(serve.http, "PATCH", &xin(&format!("/house-records/{house}")), Some(&admin), Some(&body.to_string())).unwrap();
        (status, serde_json::from_str::<Value>(&reply).unwrap_or(Value::String(reply)))
    };
    let (status, reply) = patch("xinyuan-1-1-101", json!({"area": "0"}));
    assert_eq!(status, 400, "{reply}");
    let (status, shop) = patch("xinyuan-1-1-101", json!({"kind": "shop", "area": "60.25", "fields": {"产权证号": "X-101"}}));
    assert_eq!(status, 200, "{shop}");
    assert_eq!((shop["kind_label"].as_str(), shop["area"].as_str(), shop["fields"]["朝向"].as_str(), shop["fields"]["产权证号"].as_str()), (Some("商铺"), Some("60.25"), Some("南北"), Some("X-101")), "{shop}");
    assert_eq!(shop["residents"].as_array().map(Vec::len), Some(1), "its resident stays");
    let stats = serve.get(&admin, &xin("/house-stats")).1;
    assert_eq!((stats["houses"].as_u64(), stats["residents"].as_u64(), stats["by_state"]["入住"].as_u64(), stats["by_kind"]["住宅"].as_u64()), (Some(6), Some(6), Some(6), Some(5)), "{stats}");
    assert_eq!(stats["by_kind"]["商铺"].as_u64(), Some(1), "{stats}");
    assert_eq!(stats["by_building"].as_array().map(Vec::len), Some(2), "{stats}");

    // C3: a house enters a state on a day, kept in its history; a bill run prices each part.
    let tariff = json!({
        "items": [{"id": "property", "name": "物业费", "kind": "property_residential", "subject": "6001", "rounding": {"dp": 2, "mode": "half_up"}, "vacant_share": "0.5"}],
        "rules": [{"item": "property", "scope": {"level": "community", "community": "taoyuan"}, "formula": {"type": "area_times_price", "unit_price": "2"}, "effective_from": "2020-01-01"}]
    });
    let (status, reply) = http(serve.http, "PUT", "/api/v1/communities/taoyuan/tariff", Some(&admin), Some(&tariff.to_string())).unwrap();
    assert_eq!(status, 200, "{reply}");
    let today = (chrono::Utc::now() + chrono::Duration::hours(8)).date_naive();
    let mut vacant_from = today - chrono::Duration::days(10);
    if vacant_from.day() == 1 {
        vacant_from = vacant_from.pred_opt().unwrap();
    }
    let (status, house) = post("/api/v1/communities/taoyuan/house-records/taoyuan-1-1-101/state", &json!({"state": "vacant", "on": vacant_from}));
    assert_eq!(status, 200, "{house}");
    let house: Value = serde_json::from_str(&house).unwrap();
    assert_eq!((house["state_label"].as_str(), house["history"].as_array().map(Vec::len)), (Some("空置"), Some(2)), "{house}");
    let (status, reply) = post("/api/v1/communities/taoyuan/house-records/taoyuan-1-1-101/state", &json!({"state": "decorating", "on": vacant_from.pred_opt().unwrap()}));
    assert_eq!(status, 400, "{reply}");
    assert!(reply.contains("早于当前状态的开始日期"), "{reply}");
    let run = json!({"cycle": "monthly", "timing": "in_advance", "on": vacant_from, "items": ["property"], "commit": true});
    let (status, reply) = post("/api/v1/communities/taoyuan/bill-runs", &run);
    assert_eq!(status, 200, "{reply}");
    let (_, bills) = serve.get(&admin, "/api/v1/communities/taoyuan/bills?house=taoyuan-1-1-101&item=property");
    let bill = &bills["rows"][0];
    let first = vacant_from.with_day(1).unwrap();
    let month_days = (first.checked_add_months(chrono::Months::new(1)).unwrap() - first).num_days();
    let (occupied, vacant) = ((vacant_from - first).num_days(), month_days - (vacant_from - first).num_days());
    // 88.50 m² × 2.00 = 177.00 a month occupied, half of it vacant, by the day, rounded once.
    let full = rust_decimal::Decimal::new(17700, 2);
    let expected = (full * rust_decimal::Decimal::from(occupied) + full / rust_decimal::Decimal::TWO * rust_decimal::Decimal::from(vacant)) / rust_decimal::Decimal::from(month_days);
    let expected = expected.round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero);
    assert_eq!(bill["amount"].as_str(), Some(expected.to_string().as_str()), "{bills}");
    assert!(bill["remark"].as_str().unwrap_or_default().contains("空置"), "the bill says why: {bill}");

    // C4: residents added, edited by the phone as the screen shows it, moved to another building, removed.
    let residents = |house: &str, body: Value| post(&format!("/api/v1/communities/taoyuan/house-records/{house}/residents"), &body);
    let (status, reply) = residents("taoyuan-1-1-101", json!({"action": "put", "name": "赵六", "phone": "13900000011", "relation": "tenant"}));
    assert_eq!(status, 200, "{reply}");
    let (status, reply) = residents("taoyuan-1-1-101", json!({"action": "put", "name": "赵六", "phone": "1390000", "relation": "tenant"}));
    assert_eq!(status, 400, "{reply}");
    assert!(reply.contains("手机号应为 11 位数字"), "{reply}");
    let (status, reply) = residents("taoyuan-1-1-101", json!({"action": "put", "name": "赵六六", "phone": "13900000012", "relation": "family", "replacing": "139****0011"}));
    assert_eq!(status, 200, "{reply}");
    assert!(reply.contains("赵六六") && !reply.contains("13900000011"), "{reply}");
    let (status, reply) = residents("taoyuan-1-1-101", json!({"action": "move", "phone": "13900000012", "to": "taoyuan-4-1-1203"}));
    assert_eq!(status, 200, "{reply}");
    let moved: Value = serde_json::from_str(&reply).unwrap();
    assert_eq!(moved["houses"].as_array().map(Vec::len), Some(2), "{moved}");
    assert!(!moved["houses"][0].to_string().contains("赵六六") && moved["houses"][1].to_string().contains("赵六六"), "{moved}");
    let (status, reply) = residents("taoyuan-4-1-1203", json!({"action": "remove", "phone": "13800000003"}));
    assert_eq!(status, 200, "{reply}");
    let (status, reply) = residents("taoyuan-4-1-1203", json!({"action": "remove", "phone": "13800000003"}));
    assert_eq!(status, 404, "{reply}");

    // Pulled plug, then back: the community, its houses, its meter and its reading.
    drop(device);
    drop(serve);
    let serve = Serve::start(&data).await;
    let admin = serve.admin();
    assert_eq!(serve.get(&admin, "/api/v1/communities").1[0]["id"], "taoyuan");
    let view = serve.get(&admin, "/api/v1/communities/taoyuan/devices/wm-1-1-201").1;
    assert_eq!((view["last_value"].as_str(), view["house"].as_str()), (Some("321.5"), Some("taoyuan-1-1-201")));
    assert_eq!(serve.get(&admin, "/api/v1/communities/taoyuan/buildings/taoyuan-b02/chart").1["cells"].as_array().map(Vec::len), Some(1));
    assert_eq!(serve.get(&admin, "/api/v1/communities/taoyuan/buildings/taoyuan-b04/chart").1["cells"].as_array().map(Vec::len), Some(2), "grown buildings come back");
    let records = serve.get(&admin, "/api/v1/communities/taoyuan/house-records?building=taoyuan-b04").1;
    assert!(records.to_string().contains("赵六六") && !records.to_string().contains("王五"), "{records}");
    let records = serve.get(&admin, "/api/v1/communities/taoyuan/house-records?building=taoyuan-b01").1;
    let first = records["houses"].as_array().unwrap().iter().find(|h| h["id"] == "taoyuan-1-1-101").unwrap().clone();
    assert_eq!((first["state"].as_str(), first["history"].as_array().map(Vec::len)), (Some("vacant"), Some(2)), "{first}");
}

/// C1 for a multi-company deployment: the platform operator adds a property company with its
/// first administrator; that administrator sets up the company's own community, defines a
/// branch with a 片区 and places the community in it. Neither the operator nor another company
/// sees that community.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_platform_operator_adds_a_company_whose_administrator_builds_it_up() {
    let dir = tempfile::tempdir().unwrap();
    let serve = Serve::start(&dir.path().join("data")).await;
    let (operator, first_admin) = (serve.login("operator", "platform-operator-pw"), serve.admin());
    let call = |token: &str, method: &str, path: &str, body: Value| {
        let (status, reply) = http(serve.http, method, path, Some(token), Some(&body.to_string())).unwrap();
        (status, serde_json::from_str::<Value>(&reply).unwrap_or(Value::String(reply)))
    };
    let company = json!({"id": "taohua", "name": "桃花物业", "admin": {"account": "taohua-admin", "name": "桃花管理员", "password": "taohua-admin-pw"}});
    let (status, reply) = call(&first_admin, "POST", "/api/v1/companies", company.clone());
    assert_eq!(status, 403, "a company's administrator adds no company: {reply}");
    let (status, reply) = call(&operator, "POST", "/api/v1/companies", json!({"id": "Tao Hua", "name": "x", "admin": company["admin"]}));
    assert_eq!(status, 400, "{reply}");
    let (status, reply) = call(&operator, "POST", "/api/v1/companies", company.clone());
    assert_eq!(status, 200, "{reply}");
    assert_eq!(call(&operator, "POST", "/api/v1/companies", company).0, 409);

    let taohua = serve.login("taohua-admin", "taohua-admin-pw");
    assert_eq!(serve.get(&taohua, "/api/v1/communities").1, json!([]), "a new company starts empty");
    let (status, reply) = call(&taohua, "POST", "/api/v1/communities", plan("meilin", "Asia/Shanghai"));
    assert_eq!(status, 200, "{reply}");
    assert_eq!(serve.get(&taohua, "/api/v1/communities").1[0]["id"], "meilin");
    for token in [&operator, &first_admin] {
        assert_eq!(serve.get(token, "/api/v1/communities/meilin").0, 404, "another company's community does not exist for them");
        assert!(!serve.get(token, "/api/v1/communities").1.to_string().contains("meilin"));
    }

    let (status, org) = call(&taohua, "POST", "/api/v1/org/branches", json!({"branch": "华东分公司", "regions": ["杭州片区", "宁波片区"]}));
    assert_eq!(status, 200, "{org}");
    assert_eq!(org["regions"]["华东分公司"], json!(["宁波片区", "杭州片区"]), "{org}");
    let (status, reply) = call(&taohua, "PUT", "/api/v1/communities/meilin/placement", json!({"branch": "华东分公司", "region": "深圳片区"}));
    assert_eq!(status, 404, "{reply}");
    let (status, org) = call(&taohua, "PUT", "/api/v1/communities/meilin/placement", json!({"branch": "华东分公司", "region": "杭州片区"}));
    assert_eq!(status, 200, "{org}");
    assert_eq!((org["communities"][0]["branch"].as_str(), org["communities"][0]["region"].as_str()), (Some("华东分公司"), Some("杭州片区")), "{org}");
    assert_eq!(call(&first_admin, "PUT", "/api/v1/communities/meilin/placement", json!({"branch": null})).0, 404);

    let companies = serve.get(&operator, "/api/v1/companies").1;
    let row = companies.as_array().unwrap().iter().find(|c| c["id"] == "taohua").unwrap().clone();
    assert_eq!((row["communities"].as_u64(), row["branches"].as_u64(), row["staff"].as_u64()), (Some(1), Some(1), Some(1)), "{companies}");
    assert!(!companies.to_string().contains("platform"), "the platform is no company: {companies}");
    assert_eq!(serve.get(&taohua, "/api/v1/companies").0, 403);
}
