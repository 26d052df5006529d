//! Wall displays (R2) against the real binary: the office adds a display and gets a one-time
//! code; the display pairs with it (once, within its time) and holds a year-long session that
//! only watches; a new code replaces the old; closing the display's account ends its session
//! and closes its socket at once; guessing codes is limited per address.

use std::time::Duration;

use hutong_tests::*;
use serde_json::{Value, json};

fn pair(server: &Server, code: &str) -> (u16, String, String) {
    let body = json!({ "code": code }).to_string();
    let (status, head, reply) = request(server.http, "POST", "/api/v1/auth/pair", None, &[("Content-Type", "application/json")], body.as_bytes()).unwrap();
    (status, head, String::from_utf8_lossy(&reply).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_display_pairs_once_watches_only_and_is_unpaired_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::demo(&dir.path().join("data"), 0, &[]).await;
    let add = |token: &str, body: Value| http(server.http, "POST", "/api/v1/displays", Some(token), Some(&body.to_string())).unwrap();
    let wall = json!({"name": "监控中心左屏", "communities": ["heyuan", "lianyuan"]});
    assert_eq!(add(&server.login("cashier"), wall.clone()).0, 403);
    assert_eq!(add(&server.admin, json!({"name": "x", "communities": ["meiyuan"]})).0, 400, "another company's community");
    assert_eq!(add(&server.admin, json!({"name": "", "communities": ["heyuan"]})).0, 400);
    let (status, reply) = add(&server.admin, wall);
    assert_eq!(status, 200, "{reply}");
    let added: Value = serde_json::from_str(&reply).unwrap();
    let (code, id) = (added["code"].as_str().unwrap().to_string(), added["display"]["id"].as_str().unwrap().to_string());
    assert_eq!(code.len(), 8);
    assert!(!std::fs::read_to_string(&server.log).unwrap_or_default().contains(&code), "a pairing code never reaches the log");

    // Wrong, then right — typed as a person would (lower case, a dash) — then used up.
    assert_eq!(pair(&server, "ABCD2345").0, 401);
    let typed = format!("{}-{}", code[..4].to_lowercase(), &code[4..]);
    let (status, head, reply) = pair(&server, &typed);
    assert_eq!(status, 200, "{reply}");
    assert!(head.contains("max-age=31536000"), "a display's session lasts a year: {head}");
    let token = serde_json::from_str::<Value>(&reply).unwrap()["token"].as_str().unwrap().to_string();
    assert_eq!(pair(&server, &code).0, 401, "a code pairs once");

    // It watches its communities, and nothing else.
    let me: Value = serde_json::from_str(&http(server.http, "GET", "/api/v1/me", Some(&token), None).unwrap().1).unwrap();
    assert_eq!((me["kind"].as_str(), me["permissions"].as_array().map(Vec::len)), (Some("display"), Some(1)));
    assert_eq!(http(server.http, "GET", "/api/v1/communities/lianyuan/wall", Some(&token), None).unwrap().0, 200);
    assert_eq!(http(server.http, "GET", "/api/v1/communities/meiyuan/wall", Some(&token), None).unwrap().0, 404);
    assert_eq!(http(server.http, "GET", "/api/v1/communities/heyuan/bills", Some(&token), None).unwrap().0, 403);
    assert_eq!(http(server.http, "POST", "/api/v1/communities/heyuan/devices/gate-1/open", Some(&token), Some("")).unwrap().0, 403);
    assert_eq!(http(server.http, "GET", "/api/v1/staff", Some(&token), None).unwrap().0, 403);

    // A new code replaces an unused older one; another company cannot see the display.
    let new_code = |t: &str| http(server.http, "POST", &format!("/api/v1/displays/{id}/pairing-code"), Some(t), Some("")).unwrap();
    let first: Value = serde_json::from_str(&new_code(&server.admin).1).unwrap();
    let second: Value = serde_json::from_str(&new_code(&server.admin).1).unwrap();
    assert_eq!(pair(&server, first["code"].as_str().unwrap()).0, 401, "replaced");
    assert_eq!(new_code(&server.login("meiyuan-admin")).0, 404);
    assert_eq!(http(server.http, "POST", "/api/v1/displays/heyuan-wuye-cashier/pairing-code", Some(&server.admin), Some("")).unwrap().0, 409, "a person is not a display");
    let listed = server.get_json("/api/v1/displays");
    assert_eq!(listed.as_array().map(Vec::len), Some(1));
    // A person's account cannot pass for a display.
    let sneaky = json!({"account": "display-x", "name": "X", "phone": "13000000000", "password": "long-enough-1", "roles": ["control_room"], "communities": ["heyuan"]});
    assert_eq!(http(server.http, "POST", "/api/v1/staff", Some(&server.admin), Some(&sneaky.to_string())).unwrap().0, 400);

    // Unpaired: its socket closes and its session is gone at once.
    let (mut socket, _) = ws_connect(server.http, "heyuan", &token).await;
    let (status, reply) = http(server.http, "POST", &format!("/api/v1/staff/{id}/disable"), Some(&server.admin), Some("")).unwrap();
    assert_eq!(status, 200, "{reply}");
    let closed = tokio::time::timeout(Duration::from_secs(3), async { while next_json(&mut socket).await.is_some() {} }).await;
    assert!(closed.is_ok(), "the display's socket closes within a second or so");
    assert_eq!(http(server.http, "GET", "/api/v1/me", Some(&token), None).unwrap().0, 401);
    assert_eq!(pair(&server, second["code"].as_str().unwrap()).0, 401, "a closed display cannot pair");

    // Guessing is limited per address (20 failures), and says when to try again.
    let mut last = 0;
    for _ in 0..25 {
        last = pair(&server, "ZZZZZZZZ").0;
    }
    assert_eq!(last, 429);
    server.stop();
}
