//! Same-origin JSON requests; the session cookie travels with them.

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
    let request = web_sys::Request::new_with_str_and_init(path, &init).ok()?;
    let window = web_sys::window()?;
    let response: web_sys::Response = JsFuture::from(window.fetch_with_request(&request)).await.ok()?.dyn_into().ok()?;
    let text = JsFuture::from(response.text().ok()?).await.ok()?.as_string().unwrap_or_default();
    Some((response.status(), text))
}

/// The server's error sentence (Chinese / English) from an error body.
pub fn error_message(body: &str) -> String {
    serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["error"]["message"].as_str().map(str::to_string))
        .unwrap_or_else(|| "无法连接服务器 / cannot reach the server".into())
}

/// POSTs a file (a `Blob`) as the request body.
pub async fn upload(path: &str, file: &web_sys::Blob) -> Option<(u16, String)> {
    let init = web_sys::RequestInit::new();
    init.set_method("POST");
    let headers = web_sys::Headers::new().ok()?;
    headers.set("Content-Type", "application/octet-stream").ok()?;
    init.set_headers(&headers);
    init.set_body(file);
    let request = web_sys::Request::new_with_str_and_init(path, &init).ok()?;
    let window = web_sys::window()?;
    let response: web_sys::Response = JsFuture::from(window.fetch_with_request(&request)).await.ok()?.dyn_into().ok()?;
    let text = JsFuture::from(response.text().ok()?).await.ok()?.as_string().unwrap_or_default();
    Some((response.status(), text))
}
