//! Identity, roles and scope against the real binary: the cross-community access matrix walked
//! from the router's own route table, mass assignment, revocation closing an open socket, sign-in
//! rate limits, masking in the API and the logs, and the audit trail of it all.

use std::time::Duration;

use hutong_core::identity::{BuiltinRole, Permission};
use hutong_tests::*;
use hutong_web::auth::{Access, Where};
use hutong_web::routes::ROUTES;
use hutong_web::server::DEMO_ACCOUNTS;
use serde_json::{Value, json};

/// The three places every route is tried against, from the demo: a community in scope of every
/// company-A account, another community of company A, and company B's community.
const OWN: &str = "heyuan";
const SISTER: &str = "lianyuan";
const OTHER_COMPANY: &str = "meiyuan";
/// Words that appear only in one community's data.
fn markers(community: &str) -> [&'static str; 2] {
    match community {
        OWN => ["荷花苑", "heyuan-b0"],
        SISTER => ["莲园", "lianyuan-b0"],
        _ => ["梅园", "meiyuan-b0"],
    }
}

fn scope_of(account: &str) -> Vec<&'static str> {
    match account {
        "admin" | "manager" | "finance" => vec![OWN, SISTER],
        "meiyuan-admin" => vec![OTHER_COMPANY],
        _ => vec![OWN],
    }
}

fn concrete(path: &str, community: &str, staff: &str) -> String {
    path.replace("{community}", community)
        .replace("{device}", "wm-1-1-101")
        .replace("{staff}", staff)
        .replace("{bill}", "20260101000000001000001")
        .replace("{payment}", "20260101000000001000002")
        .replace("{alarm}", "1")
        .replace("{building}", &format!("{community}-b01"))
        .replace("{checkpoint}", &format!("{community}-cp-1"))
        .replace("{route}", &format!("{community}-night"))
        .replace("{photo}", PHOTO_ID.get().map_or("", String::as_str))
        .replace("{order}", "wo-1")
        .replace("{notice}", "1")
        .replace("{house}", &format!("{community}-1-1-101"))
        // Registration requests are numbered across the deployment, one made per community in turn.
        .replace("{registration}", match community { OWN => "1", SISTER => "2", _ => "3" })
}

/// A real work order in each community (its first, `wo-1`), at a house of building 1 with the
/// community's photo, each raised by that community's own administrator.
fn open_orders(server: &Server) {
    let other = server.login("meiyuan-admin");
    for (community, admin) in [(OWN, &server.admin), (SISTER, &server.admin), (OTHER_COMPANY, &other)] {
        let photos: Vec<&String> = PHOTO_ID.get().into_iter().collect();
        let body = json!({"kind": "repair", "category": "水电", "description": "矩阵工单", "house": format!("{community}-1-1-101"), "photos": photos}).to_string();
        let (status, reply) = http(server.http, "POST", &format!("/api/v1/communities/{community}/work-orders"), Some(admin), Some(&body)).unwrap();
        assert_eq!(status, 200, "{community}: {reply}");
        assert_eq!(serde_json::from_str::<Value>(&reply).unwrap()["id"], "wo-1", "{reply}");
        // And its first announcement (公告 #1), to the whole community.
        let body = json!({"title": "矩阵公告", "body": "明天上午停水"}).to_string();
        let (status, reply) = http(server.http, "POST", &format!("/api/v1/communities/{community}/notices"), Some(admin), Some(&body)).unwrap();
        assert_eq!(status, 200, "{community}: {reply}");
        assert_eq!(serde_json::from_str::<Value>(&reply).unwrap()["no"], 1, "{reply}");
    }
    // And a registration request of someone not known yet, at its house 1-1-101.
    for (community, no) in [(OWN, 1), (SISTER, 2), (OTHER_COMPANY, 3)] {
        let body = json!({"community": community, "address": format!("{community}-1-1-101"), "name": "矩阵申请人", "phone": "13700000001"}).to_string();
        let (status, reply) = http(server.http, "POST", "/api/v1/owner/registrations", None, Some(&body)).unwrap();
        assert_eq!(status, 200, "{community}: {reply}");
        assert_eq!(serde_json::from_str::<Value>(&reply).unwrap()["no"], no, "{reply}");
    }
}

/// The id of a photo taken in each of the three communities (the same bytes in each: one id).
static PHOTO_ID: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// A real photo in each community, each taken by that community's own administrator.
fn take_photos(server: &Server) {
    let photo = include_bytes!("../fixtures/photo-own.png");
    let other = server.login("meiyuan-admin");
    for (community, admin) in [(OWN, &server.admin), (SISTER, &server.admin), (OTHER_COMPANY, &other)] {
        let (status, _, reply) = request(server.http, "POST", &format!("/api/v1/communities/{community}/patrol/photos"), Some(admin), &[], photo).unwrap();
        assert_eq!(status, 200, "{community}: {}", String::from_utf8_lossy(&reply));
        let id = serde_json::from_slice::<Value>(&reply).unwrap()["id"].as_str().unwrap().to_string();
        assert_eq!(PHOTO_ID.get_or_init(|| id.clone()), &id);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_and_stream_refuses_what_is_out_of_scope() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::demo(&dir.path().join("data"), 0, &[]).await;
    take_photos(&server);
    open_orders(&server);
    let mut checked = 0;
    for (account, role, _) in DEMO_ACCOUNTS.iter().filter(|(a, _, _)| *a != "meiyuan-admin") {
        let token = server.login(account);
        let permissions = role.permissions();
        for route in ROUTES {
            // An owner's route refuses every member of staff.
            let owners_only = route.access == Access::Owner;
            let (permission, place) = match route.access {
                Access::Public => continue,
                Access::SignedIn | Access::Owner => (None, None),
                Access::Allowed(p, w) => (p, Some(w)),
            };
            for target in [OWN, SISTER, OTHER_COMPANY] {
                let in_scope = match place {
                    Some(Where::Community) => scope_of(account).contains(&target),
                    // Company-wide routes: the own company's staff, or another company's.
                    // (a route naming no staff member is about the caller's own company, whatever the target).
                    Some(Where::Company) => !route.path.contains("{staff}") || target != OTHER_COMPANY,
                    // About the caller only.
                    None => true,
                };
                let staff = if target == OTHER_COMPANY { "meiyuan-wuye-meiyuan-admin" } else { "heyuan-wuye-nobody" };
                let path = concrete(route.path, target, staff);
                let allowed = !owners_only && in_scope && permission.is_none_or(|p: Permission| permissions.contains(&p));
                let (status, body) = if route.path.starts_with("/ws") {
                    match ws_open_at(server.http, &format!("{}?community={target}", route.path), &token).await {
                        Ok(_) => (101, String::new()),
                        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => (r.status().as_u16(), String::from_utf8_lossy(r.body().as_deref().unwrap_or_default()).into_owned()),
                        Err(e) => panic!("{account} {path}: {e}"),
                    }
                } else {
                    // Logging out would end this session; it gets a session of its own.
                    let t = if route.path == "/api/v1/auth/logout" { server.login(account) } else { token.clone() };
                    let body = (route.method != "GET").then_some("{}");
                    http(server.http, route.method.as_str(), &path, Some(&t), body).unwrap()
                };
                let what = format!("{account} ({role:?}) {} {path}", route.method);
                if allowed {
                    assert!(![401, 403].contains(&status), "{what}: refused with {status}: {body}");
                    // A route naming a bill, receipt or alarm that does not exist rightly answers 404.
                    if place == Some(Where::Community) && !["{bill}", "{payment}", "{alarm}"].iter().any(|p| route.path.contains(p)) {
                        assert_ne!(status, 404, "{what}: in scope but 404: {body}");
                    }
                } else {
                    assert!([403, 404].contains(&status), "{what}: expected a refusal, got {status}: {body}");
                }
                // No answer, allowed or refused, carries data of a community outside the scope.
                for foreign in [OWN, SISTER, OTHER_COMPANY].into_iter().filter(|c| !scope_of(account).contains(c)) {
                    for marker in markers(foreign) {
                        assert!(!body.contains(marker), "{what}: leaked {marker}: {body}");
                    }
                }
                checked += 1;
            }
        }
    }
    // Another company's admin sees nothing of company A, and an owner no staff route.
    let other = server.login("meiyuan-admin");
    for path in ["/api/v1/communities/heyuan", "/api/v1/communities/heyuan/devices", "/api/v1/staff/heyuan-wuye-cashier/phone"] {
        let (status, body) = http(server.http, "GET", path, Some(&other), None).unwrap();
        assert!([403, 404].contains(&status), "meiyuan-admin {path}: {status} {body}");
        assert!(!body.contains(markers(OWN)[0]) && !body.contains("13800000003"), "{body}");
    }
    let list: Value = serde_json::from_str(&http(server.http, "GET", "/api/v1/communities", Some(&other), None).unwrap().1).unwrap();
    assert_eq!(list.as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap()).collect::<Vec<_>>(), vec![OTHER_COMPANY]);
    assert!(ws_open(server.http, OWN, &other).await.is_err());
    assert!(checked > 300, "the matrix covered {checked} cases");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_butler_sees_only_their_buildings_on_the_wall_and_in_the_api() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::demo(&dir.path().join("data"), 0, &[]).await;
    let butler = server.login("butler");
    let (_, wall) = ws_connect(server.http, OWN, &butler).await;
    let tiles: Vec<&str> = wall["buildings"].as_array().unwrap().iter().map(|b| b["id"].as_str().unwrap()).collect();
    assert_eq!(tiles, vec!["heyuan-b01"]);
    let devices: Value = serde_json::from_str(&http(server.http, "GET", "/api/v1/communities/heyuan/devices", Some(&butler), None).unwrap().1).unwrap();
    assert!(devices.as_array().unwrap().iter().all(|d| d["building"] == "heyuan-b01"));
    let (status, _) = http(server.http, "GET", "/api/v1/communities/heyuan/devices/wm-2-1-101", Some(&butler), None).unwrap();
    assert_eq!(status, 404, "a device of another building does not exist for the butler");
    // A3: nor does a house of another building, or another building's reminders.
    let at = |address: &str| http(server.http, "GET", &format!("/api/v1/communities/heyuan/houses?address={}", address.replace('荷', "%E8%8D%B7").replace('花', "%E8%8A%B1").replace('苑', "%E8%8B%91")), Some(&butler), None).unwrap().0;
    assert_eq!((at("荷花苑-1-1-101"), at("荷花苑-3-2-506")), (200, 404));
    // A house of each of two buildings that still owes something.
    let owing = |building: &str| -> String {
        let path = format!("/api/v1/communities/heyuan/bills?state=pending&building={building}&page_size=1");
        let page: Value = serde_json::from_str(&http(server.http, "GET", &path, Some(&server.admin), None).unwrap().1).unwrap();
        page["rows"][0]["address"].as_str().unwrap().to_string()
    };
    let remind = json!({"houses": [owing("heyuan-b01"), owing("heyuan-b02")], "channel": "in_app"}).to_string();
    let (status, reply) = http(server.http, "POST", "/api/v1/communities/heyuan/reminders", Some(&server.admin), Some(&remind)).unwrap();
    assert_eq!(status, 200, "{reply}");
    let all: Value = serde_json::from_str(&http(server.http, "GET", "/api/v1/communities/heyuan/notifications", Some(&server.admin), None).unwrap().1).unwrap();
    let mine: Value = serde_json::from_str(&http(server.http, "GET", "/api/v1/communities/heyuan/notifications", Some(&butler), None).unwrap().1).unwrap();
    let houses = |v: &Value| v["notifications"].as_array().unwrap().iter().map(|n| n["house"].as_str().unwrap().to_string()).collect::<Vec<_>>();
    assert!(houses(&all).iter().any(|h| h.starts_with("heyuan-2-")), "{all}");
    assert!(!houses(&mine).is_empty() && houses(&mine).iter().all(|h| h.starts_with("heyuan-1-")), "{mine}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_bodies_cannot_set_what_the_caller_may_not() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::demo(&dir.path().join("data"), 0, &[]).await;
    let staff_before = server.get_json("/api/v1/staff");
    let sneaky = [
        json!({"account": "x1", "name": "X", "phone": "13000000000", "password": "long-enough-1", "roles": ["cashier"], "communities": ["heyuan"], "company_id": "meiyuan-wuye"}),
        json!({"account": "x2", "name": "X", "phone": "13000000000", "password": "long-enough-1", "roles": ["cashier"], "communities": ["meiyuan"]}),
        json!({"account": "x3", "name": "X", "phone": "13000000000", "password": "long-enough-1", "roles": ["cashier"], "communities": ["heyuan"], "paid_amount": "100.00"}),
    ];
    for body in sneaky {
        let (status, reply) = http(server.http, "POST", "/api/v1/staff", Some(&server.admin), Some(&body.to_string())).unwrap();
        assert_eq!(status, 400, "{body}: {reply}");
    }
    let cashier = server.login("cashier");
    for body in [json!({"name": "王芳", "roles": ["admin"]}), json!({"community_id": "meiyuan"}), json!({"role": "admin"})] {
        let (status, reply) = http(server.http, "PATCH", "/api/v1/me", Some(&cashier), Some(&body.to_string())).unwrap();
        assert_eq!(status, 400, "{body}: {reply}");
    }
    // A cashier cannot hand themselves a role either.
    let (status, _) = http(server.http, "PUT", "/api/v1/staff/heyuan-wuye-cashier/roles", Some(&cashier), Some(r#"{"roles":["admin"]}"#)).unwrap();
    assert_eq!(status, 403);
    assert_eq!(server.get_json("/api/v1/staff"), staff_before, "nothing changed");
    let me: Value = serde_json::from_str(&http(server.http, "GET", "/api/v1/me", Some(&cashier), None).unwrap().1).unwrap();
    assert_eq!(me["permissions"], json!(BuiltinRole::Cashier.permissions().iter().map(|p| p.to_string()).collect::<Vec<_>>()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_an_account_ends_its_sessions_and_closes_its_open_socket() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::demo(&dir.path().join("data"), 0, &[]).await;
    let control = server.login("control");
    let (mut ws, _) = ws_connect(server.http, OWN, &control).await;
    let (status, reply) = http(server.http, "POST", "/api/v1/staff/heyuan-wuye-control/disable", Some(&server.admin), Some("")).unwrap();
    assert_eq!(status, 200, "{reply}");
    let closed = tokio::time::timeout(Duration::from_secs(3), async {
        while next_json(&mut ws).await.is_some() {}
    })
    .await;
    assert!(closed.is_ok(), "the revoked user's socket closed within seconds");
    let (status, _) = http(server.http, "GET", "/api/v1/me", Some(&control), None).unwrap();
    assert_eq!(status, 401);
    let body = json!({"account": "control", "password": PASSWORD}).to_string();
    assert_eq!(http(server.http, "POST", "/api/v1/auth/login", None, Some(&body)).unwrap().0, 401);
    // Sign-out ends a session the same way.
    let cashier = server.login("cashier");
    assert_eq!(http(server.http, "POST", "/api/v1/auth/logout", Some(&cashier), Some("")).unwrap().0, 200);
    assert_eq!(http(server.http, "GET", "/api/v1/me", Some(&cashier), None).unwrap().0, 401);
    // Revocations survive a restart: the journal holds them.
    server.stop();
    let server = Server::demo(&dir.path().join("data"), 0, &[]).await;
    assert_eq!(http(server.http, "GET", "/api/v1/me", Some(&cashier), None).unwrap().0, 401);
    let audit = server.get_json("/api/v1/audit?action=staff.disable");
    assert_eq!(audit[0]["target"], "control");
    assert_eq!(audit[0]["after"]["disabled"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_wrong_passwords_are_refused_with_a_time_to_try_again() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::demo(&dir.path().join("data"), 0, &[]).await;
    let wrong = json!({"account": "finance", "password": "not-it"}).to_string();
    for _ in 0..5 {
        assert_eq!(http(server.http, "POST", "/api/v1/auth/login", None, Some(&wrong)).unwrap().0, 401);
    }
    let (status, reply) = http(server.http, "POST", "/api/v1/auth/login", None, Some(&wrong)).unwrap();
    assert_eq!(status, 429, "{reply}");
    assert!(reply.contains("请于") && reply.contains("try again at"), "{reply}");
    // Even the right password waits: the account is locked, not the guess.
    let right = json!({"account": "finance", "password": PASSWORD}).to_string();
    assert_eq!(http(server.http, "POST", "/api/v1/auth/login", None, Some(&right)).unwrap().0, 429);
    let failures = server.get_json("/api/v1/audit?actor=finance&action=auth.sign_in");
    assert!(failures.as_array().unwrap().iter().filter(|e| e["outcome"] == "failed").count() >= 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn phone_numbers_are_masked_unless_unmasked_and_never_logged() {
    // The company's SMS gateway adapter: whatever Hutong POSTs to it, kept.
    let gateway = SmsGateway::start();
    let sms_url = gateway.url.clone();
    let dir = tempfile::tempdir().unwrap();
    let server = Server::demo(&dir.path().join("data"), 0, &["--sms-webhook", &sms_url]).await;
    let staff = server.get_json("/api/v1/staff");
    let cashier = staff.as_array().unwrap().iter().find(|s| s["account"] == "cashier").unwrap();
    assert_eq!(cashier["phone"], "138****0003");
    let manager = server.login("manager");
    let (status, body) = http(server.http, "GET", "/api/v1/staff", Some(&manager), None).unwrap();
    assert_eq!(status, 200);
    assert!(!body.contains("13800000003"), "masked for a manager too");
    let (status, _) = http(server.http, "GET", "/api/v1/staff/heyuan-wuye-cashier/phone", Some(&manager), None).unwrap();
    assert_eq!(status, 403, "unmasking is its own permission");
    let full = server.get_json("/api/v1/staff/heyuan-wuye-cashier/phone");
    assert_eq!(full["phone"], "13800000003");
    let audit = server.get_json("/api/v1/audit?action=personal.unmask");
    assert_eq!((audit[0]["actor"].as_str(), audit[0]["target"].as_str()), (Some("admin"), Some("cashier")));
    // A4: a masked phone cannot be recovered by searching for its parts; the whole number finds it.
    let cashier = server.login("cashier");
    let total = |token: &str, path: &str| -> u64 {
        let (status, body) = http(server.http, "GET", path, Some(token), None).unwrap();
        assert_eq!(status, 200, "{path}: {body}");
        let v: Value = serde_json::from_str(&body).unwrap();
        v["total"].as_u64().unwrap()
    };
    let bills = |q: &str| format!("/api/v1/communities/heyuan/bills?q={q}");
    let houses = |q: &str| format!("/api/v1/communities/heyuan/house-records?q={q}");
    assert_eq!(total(&cashier, &bills("1389842")), 0, "part of a phone finds nothing without personal.unmask");
    assert_eq!(total(&cashier, &houses("1389842")), 0);
    assert!(total(&cashier, &bills("13898424613")) > 0, "the whole number still finds the house's bills");
    assert!(total(&server.admin, &bills("1389842")) > 0, "an unmasking role searches by part");

    // An owner signs in with a one-time code sent through the outbox to the SMS gateway.
    let (status, _) = http(server.http, "POST", "/api/v1/auth/owner/code", None, Some(r#"{"phone":"13898424613"}"#)).unwrap();
    assert_eq!(status, 200);
    let sms = wait_for("the code at the SMS gateway", Duration::from_secs(10), async || {
        gateway.texts().into_iter().find(|t| t.contains("验证码"))
    })
    .await;
    assert!(sms.contains("13898424613"), "the gateway gets the full number: {sms}");
    let code: String = sms.split("验证码是 ").nth(1).unwrap().chars().take(6).collect();
    assert!(code.chars().all(|c| c.is_ascii_digit()), "{sms}");
    let log = std::fs::read_to_string(&server.log).unwrap();
    assert!(!log.contains(&code), "a one-time code reached the log");
    for phone in ["13898424613", "13800000003"] {
        assert!(!log.contains(phone), "a full phone number reached the log");
    }
    let body = json!({"phone": "13898424613", "code": code}).to_string();
    let (status, reply) = http(server.http, "POST", "/api/v1/auth/owner/login", None, Some(&body)).unwrap();
    assert_eq!(status, 200, "{reply}");
    let owner: Value = serde_json::from_str(&reply).unwrap();
    let owner_token = owner["token"].as_str().unwrap();
    assert_eq!(owner["me"]["account"], "138****4613");
    let (status, _) = http(server.http, "GET", "/api/v1/communities/heyuan/devices", Some(owner_token), None).unwrap();
    assert_eq!(status, 403, "an owner is not staff");
    // The same code does not work twice.
    assert_eq!(http(server.http, "POST", "/api/v1/auth/owner/login", None, Some(&body)).unwrap().0, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_socket_from_another_origin_is_refused_and_roles_stay_within_what_their_author_holds() {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let dir = tempfile::tempdir().unwrap();
    let server = Server::demo(&dir.path().join("data"), 0, &[]).await;
    let mut request = format!("ws://{}/ws?community={OWN}", server.http).into_client_request().unwrap();
    request.headers_mut().insert("Authorization", format!("Bearer {}", server.admin).parse().unwrap());
    request.headers_mut().insert("Origin", "http://evil.example".parse().unwrap());
    match tokio_tungstenite::connect_async(request).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => assert_eq!(r.status().as_u16(), 403),
        other => panic!("a cross-origin socket was not refused: {:?}", other.map(|_| ())),
    }
    let mut same = format!("ws://{}/ws?community={OWN}", server.http).into_client_request().unwrap();
    same.headers_mut().insert("Authorization", format!("Bearer {}", server.admin).parse().unwrap());
    same.headers_mut().insert("Origin", format!("http://{}", server.http).parse().unwrap());
    assert!(tokio_tungstenite::connect_async(same).await.is_ok(), "the server's own pages may connect");

    // A company defines a role of its own; a manager cannot hand out what they do not hold.
    let role = json!({"id": "night_watch", "name": "夜班值守", "permissions": ["devices.read", "patrol.read"]}).to_string();
    let (status, reply) = http(server.http, "POST", "/api/v1/roles", Some(&server.admin), Some(&role)).unwrap();
    assert_eq!(status, 200, "{reply}");
    let manager = server.login("manager");
    let grab = json!({"id": "boss", "name": "老板", "permissions": ["settings.write"]}).to_string();
    assert_eq!(http(server.http, "POST", "/api/v1/roles", Some(&manager), Some(&grab)).unwrap().0, 403);
    let org = server.get_json("/api/v1/org");
    assert_eq!(org["company"]["name"], "荷花物业");
    assert_eq!(org["communities"].as_array().unwrap().len(), 2);
    assert!(org["posts"].as_array().unwrap().iter().any(|p| p == "收银员"));
    assert!(!org.to_string().contains("梅园"));
    let roles = server.get_json("/api/v1/roles");
    assert!(roles.as_array().unwrap().iter().any(|r| r["id"] == "night_watch" && r["builtin"] == false));
    // Company B does not see company A's role.
    let other = server.login("meiyuan-admin");
    let theirs = http(server.http, "GET", "/api/v1/roles", Some(&other), None).unwrap().1;
    assert!(!theirs.contains("night_watch"));
}

#[test]
fn serve_refuses_to_start_without_the_secrets_it_was_given() {
    let dir = tempfile::tempdir().unwrap();
    let run = |extra: &[&str], env: &[(&str, &str)]| {
        let out = std::process::Command::new(hutong_bin())
            .arg("serve")
            .arg("--data")
            .arg(dir.path().join("data"))
            .args(["--http", &format!("127.0.0.1:{}", free_port()), "--mqtt", &format!("127.0.0.1:{}", free_port())])
            .args(extra)
            .env_remove("HUTONG_ADMIN_PASSWORD")
            .env_remove("HUTONG_DEVICE_SECRET")
            .envs(env.iter().copied())
            .output()
            .unwrap();
        (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (ok, err) = run(&[], &[]);
    assert!(!ok && err.contains("HUTONG_DEVICE_SECRET"), "{err}");
    // L3: a secret on the command line (where `ps` shows it) is refused with where to put it.
    let (ok, err) = run(&["--device-secret", DEVICE_SECRET], &[]);
    assert!(!ok && err.contains("not taken on the command line") && err.contains("HUTONG_DEVICE_SECRET"), "{err}");
    // L4: a short device secret is refused.
    let (ok, err) = run(&[], &[("HUTONG_DEVICE_SECRET", "abc")]);
    assert!(!ok && err.contains("at least 32"), "{err}");
    let (ok, err) = run(&[], &[("HUTONG_DEVICE_SECRET", DEVICE_SECRET)]);
    assert!(!ok && err.contains("HUTONG_ADMIN_PASSWORD"), "{err}");
    let (ok, err) = run(&[], &[("HUTONG_DEVICE_SECRET", DEVICE_SECRET), ("HUTONG_ADMIN_PASSWORD", "short")]);
    assert!(!ok && err.contains("8"), "{err}");
}

/// A device secret long enough for `serve`.
const DEVICE_SECRET: &str = "a-device-secret-of-at-least-32-characters";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_with_its_secrets_starts_and_its_first_admin_signs_in() {
    let dir = tempfile::tempdir().unwrap();
    let http_addr: std::net::SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let mut child = std::process::Command::new(hutong_bin())
        .arg("serve")
        .arg("--data")
        .arg(dir.path().join("data"))
        .args(["--http", &http_addr.to_string(), "--mqtt", &format!("127.0.0.1:{}", free_port())])
        .env("HUTONG_DEVICE_SECRET", DEVICE_SECRET)
        .env("HUTONG_ADMIN_PASSWORD", "first-admin-pw")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_for("serve to be ready", Duration::from_secs(30), async || {
        http_get(http_addr, "/healthz").ok().filter(|(s, _)| *s == 200)
    })
    .await;
    let body = json!({"account": "admin", "password": "first-admin-pw"}).to_string();
    let (status, reply) = http(http_addr, "POST", "/api/v1/auth/login", None, Some(&body)).unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(status, 200, "{reply}");
    assert!(reply.contains("personal.unmask"));
}

/// Security review A1 and A2, by their own request sequences: a staff manager grants, creates and
/// closes nothing beyond their own permissions and scope; HEAD is guarded exactly as GET is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_managers_reach_no_further_than_they_hold_and_head_is_guarded_like_get() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::demo(&dir.path().join("data"), 0, &[]).await;
    let post = |token: &str, path: &str, body: Value| http(server.http, "POST", path, Some(token), Some(&body.to_string())).unwrap();
    let (status, reply) = post(&server.admin, "/api/v1/roles", json!({"id": "hr", "name": "人事", "permissions": ["settings.read", "settings.write"]}));
    assert_eq!(status, 200, "{reply}");
    let hr1 = json!({"account": "hr1", "name": "HR", "phone": "13000000009", "password": "hr-pass-123", "roles": ["hr"], "communities": ["lianyuan"]});
    let (status, reply) = post(&server.admin, "/api/v1/staff", hr1);
    assert_eq!(status, 200, "{reply}");
    let (status, reply) = http(server.http, "POST", "/api/v1/auth/login", None, Some(r#"{"account":"hr1","password":"hr-pass-123"}"#)).unwrap();
    assert_eq!(status, 200, "{reply}");
    let hr: String = serde_json::from_str::<Value>(&reply).unwrap()["token"].as_str().unwrap().into();

    let (status, reply) = http(server.http, "PUT", "/api/v1/staff/heyuan-wuye-hr1/roles", Some(&hr), Some(r#"{"roles":["admin"]}"#)).unwrap();
    assert_eq!(status, 403, "HR makes itself admin: {reply}");
    let admin2 = json!({"account": "x-admin", "name": "X", "phone": "13000000010", "password": "x-pass-1234", "roles": ["admin"], "communities": ["heyuan", "lianyuan"]});
    let (status, reply) = post(&hr, "/api/v1/staff", admin2);
    assert_eq!(status, 403, "HR opens an admin account: {reply}");
    let (status, reply) = post(&hr, "/api/v1/staff/heyuan-wuye-admin/disable", Value::Null);
    assert_eq!(status, 403, "HR closes the admin: {reply}");
    let me: Value = serde_json::from_str(&http(server.http, "GET", "/api/v1/me", Some(&hr), None).unwrap().1).unwrap();
    assert!(!me["permissions"].as_array().unwrap().iter().any(|p| p == "personal.unmask"), "{me}");
    // Within what HR holds, it works.
    let clerk = json!({"account": "clerk", "name": "C", "phone": "13000000011", "password": "clerk-pass-1", "roles": ["hr"], "communities": ["lianyuan"]});
    assert_eq!(post(&hr, "/api/v1/staff", clerk).0, 200);

    // S4: the code endpoint says the same for any phone, and sends a few texts, not unlimited.
    let code = |phone: &str| http(server.http, "POST", "/api/v1/auth/owner/code", None, Some(&json!({"phone": phone}).to_string())).unwrap();
    assert_eq!(code("13800000000"), code("13800000000"), "an unknown phone looks like any other");
    assert_eq!(code("13800000000").0, 200);
    let statuses: Vec<u16> = (0..6).map(|_| code("13898424613").0).collect();
    assert_eq!(statuses, [200, 200, 200, 200, 200, 429], "five texts a quarter hour for one phone");

    // HEAD without a session: refused like GET, never a size or an existence.
    for path in ["/api/v1/communities/meiyuan", "/api/v1/communities/heyuan/houses?address=%E8%8D%B7%E8%8A%B1%E8%8B%91-1-1-101", "/api/v1/communities/heyuan/notifications", "/api/v1/communities/heyuan/tariff"] {
        let (status, _, _) = request(server.http, "HEAD", path, None, &[], b"").unwrap();
        assert_eq!(status, 401, "HEAD {path}");
    }
}
