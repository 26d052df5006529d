//! hutong-dashboards: Hutong's screens, a Leptos app compiled to WASM. First screen: the
//! control-room wall (R2) — building tiles coloured by state, the live alarm feed and a ticker
//! of readings, all fed by one WebSocket that reconnects by itself.
//!
//! # Layout
//! - [`wall`]: the wall's state (pure, testable natively) and its view.
//! - [`socket`]: the WebSocket that feeds it, with reconnect and batching.
//! - `desk`: the billing desk (缴费记录); `manager`: collection rates and arrears, live.
//! - `app`: sign-in, who is signed in, and which screens their role opens.

#[cfg(target_arch = "wasm32")]
pub mod admin;
#[cfg(target_arch = "wasm32")]
pub mod app;
#[cfg(target_arch = "wasm32")]
pub mod desk;
#[cfg(target_arch = "wasm32")]
mod http;
#[cfg(target_arch = "wasm32")]
pub mod manager;
#[cfg(target_arch = "wasm32")]
pub mod socket;
pub mod wall;

#[cfg(target_arch = "wasm32")]
#[wasm_bindgen::prelude::wasm_bindgen(start)]
pub fn start() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(app::App);
}
