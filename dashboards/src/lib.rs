//! hutong-dashboards: Hutong's screens, a Leptos app compiled to WASM: the control-room wall
//! (R2), the billing desk (R4), the manager's collection figures (R3), staff and the audit log.
//! Every screen has the wall's shape: one WebSocket, whose messages it folds into a pure state
//! (tested natively), and replies read into the contract's types (`hutong_core::api`).
//!
//! # Layout
//! - [`wall`]: the wall's state (`WallState::fold`) and its view.
//! - [`desk_feed`]: what the desk takes from `/ws/money` (`DeskFeed::fold`); the manager's state is
//!   `hutong_core::live::MoneyState`.
//! - `socket`: a screen's one WebSocket, with reconnect, batching, and closing when the screen goes.
//! - `http`: typed JSON requests (`get_json`, `post_json`) and uploads.
//! - `desk`: the billing desk (缴费记录); `manager`: collection rates and arrears, live;
//!   `chart`: the building chart (销控图), by house state or by arrears, live;
//!   `admin`: staff and the audit log; `patrol`: the guard's phone (today's rounds, live, the scan
//!   page with photos and notes, the month's figures); `patrol_setup`: checkpoints and routes on screen.
//! - [`work_feed`]: what the work-order screens take from `/ws/work` (`WorkBoard::fold`); `work`:
//!   the dispatcher's board, the staff phone's inbox (accept, scan, photos, complete, charge), the figures.
//! - `app`: sign-in, who is signed in (`api::Me`), and which screens their role opens.

#[cfg(target_arch = "wasm32")]
pub mod admin;
#[cfg(target_arch = "wasm32")]
pub mod app;
#[cfg(target_arch = "wasm32")]
pub mod chart;
#[cfg(target_arch = "wasm32")]
pub mod desk;
#[cfg(target_arch = "wasm32")]
mod http;
#[cfg(target_arch = "wasm32")]
pub mod manager;
#[cfg(target_arch = "wasm32")]
pub mod owner;
#[cfg(target_arch = "wasm32")]
pub mod patrol;
#[cfg(target_arch = "wasm32")]
pub mod patrol_setup;
#[cfg(target_arch = "wasm32")]
pub mod devices;
#[cfg(target_arch = "wasm32")]
pub mod setup;
#[cfg(target_arch = "wasm32")]
pub mod socket;
pub mod desk_feed;
pub mod wall;
pub mod work_feed;
#[cfg(target_arch = "wasm32")]
pub mod work;

#[cfg(target_arch = "wasm32")]
#[wasm_bindgen::prelude::wasm_bindgen(start)]
pub fn start() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(app::App);
}
