//! Same-origin JSON requests; the session cookie travels with them. Replies are read into the
//! contract's types (`hutong_core::api`); a refusal becomes the server's sentence.

use serde::Serialize;
use serde::de::DeserializeOwned;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

/// Status and body text, or `None` when the server could not be reached.
pub async fn request(method: &str, path: &str, body: Option<String>) -> Option<(u16, String)> {
    let init = web_sys::RequestInit::new();
    init.set_method(method);
    if let Some(body) = body {
        let headers = web_sys::Headers::new().ok()?;
        headers.set("Content-Type", "application/json").ok()?;
        init.set_headers(&headers);
        init.set_body(&wasm_bindgen::JsValue::from_str(&body));
    }
    send(path, &init).await
}

async fn send(path: &str, init: &web_sys::RequestInit) -> Option<(u16, String)> {
    let request = web_sys::Request::new_with_str_and_init(path, init).ok()?;
    let window = web_sys::window()?;
    let response: web_sys::Response = JsFuture::from(window.fetch_with_request(&request)).await.ok()?.dyn_into().ok()?;
    let text = JsFuture::from(response.text().ok()?).await.ok()?.as_string().unwrap_or_default();
    Some((response.status(), text))
}

/// The server's error sentence (Chinese / English) from an error body.
pub fn error_message(body: &str) -> String {
    #[derive(serde::Deserialize)]
    struct Reply {
        error: Detail,
    }
    #[derive(serde::Deserialize)]
    struct Detail {
        message: String,
    }
    serde_json::from_str::<Reply>(body).map(|r| r.error.message).unwrap_or_else(|_| "无法连接服务器 / cannot reach the server".into())
}

fn typed<T: DeserializeOwned>(reply: Option<(u16, String)>) -> Result<T, String> {
    match reply {
        Some((200, body)) => serde_json::from_str(&body).map_err(|e| format!("无法读取服务器的回复 / unreadable reply: {e}")),
        Some((_, body)) => Err(error_message(&body)),
        None => Err(error_message("")),
    }
}

/// GETs `path` as a `T`, or the server's refusal.
pub async fn get_json<T: DeserializeOwned>(path: &str) -> Result<T, String> {
    typed(request("GET", path, None).await)
}

/// POSTs `body` as JSON and reads the reply as a `T`, or the server's refusal.
pub async fn post_json<B: Serialize, T: DeserializeOwned>(path: &str, body: &B) -> Result<T, String> {
    let text = serde_json::to_string(body).map_err(|e| e.to_string())?;
    typed(request("POST", path, Some(text)).await)
}

/// POSTs a file (a `Blob`) as the request body: the status and the body text.
pub async fn upload(path: &str, file: &web_sys::Blob) -> Option<(u16, String)> {
    let init = web_sys::RequestInit::new();
    init.set_method("POST");
    let headers = web_sys::Headers::new().ok()?;
    headers.set("Content-Type", "application/octet-stream").ok()?;
    init.set_headers(&headers);
    init.set_body(file);
    send(path, &init).await
}
