//! A screen's one WebSocket. Messages are queued as they arrive and handed to the screen's fold
//! four times a second, so a busy community does not re-render a screen hundreds of times a
//! second. A closed socket reconnects by itself with capped backoff; a fresh snapshot follows.
//! When the screen goes away (its reactive owner is cleaned up), the socket is closed, the
//! flush timer cleared and no reconnect is tried: a tab switch leaves nothing running.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use hutong_core::live::ServerMessage;
use leptos::prelude::*;
use send_wrapper::SendWrapper;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use web_sys::{CloseEvent, MessageEvent, WebSocket};

type Queue = Rc<RefCell<Vec<ServerMessage>>>;

const FLUSH_MS: i32 = 250;

fn window() -> web_sys::Window {
    web_sys::window().expect("a browser window")
}

/// One screen's connection: the socket open now, and whether the screen has gone away.
#[derive(Default)]
struct Link {
    socket: RefCell<Option<WebSocket>>,
    ended: Cell<bool>,
}

/// Opens the WebSocket at `path` and hands what arrived to `on_batch` four times a second at
/// most, until the calling component is cleaned up.
pub fn connect_feed(path: String, on_batch: impl Fn(Vec<ServerMessage>) + 'static, connected: RwSignal<bool>) {
    let queue: Queue = Rc::default();
    let link = Rc::new(Link::default());
    let q = queue.clone();
    let flush = Closure::<dyn FnMut()>::new(move || {
        let batch: Vec<ServerMessage> = q.borrow_mut().drain(..).collect();
        if !batch.is_empty() {
            on_batch(batch);
        }
    });
    let timer = window().set_interval_with_callback_and_timeout_and_arguments_0(flush.as_ref().unchecked_ref(), FLUSH_MS).ok();
    let end = SendWrapper::new({
        let link = link.clone();
        move || {
            link.ended.set(true);
            if let Some(id) = timer {
                window().clear_interval_with_handle(id);
            }
            if let Some(ws) = link.socket.borrow_mut().take() {
                ws.set_onclose(None);
                let _ = ws.close();
            }
            drop(flush);
        }
    });
    on_cleanup(move || end.take()());
    open(path, queue, connected, link, 0);
}

fn backoff_ms(attempt: u32) -> i32 {
    (500 * 2i32.pow(attempt.min(4))).min(8_000)
}

fn open(path: String, queue: Queue, connected: RwSignal<bool>, link: Rc<Link>, attempt: u32) {
    if link.ended.get() {
        return;
    }
    let location = window().location();
    let scheme = if location.protocol().unwrap_or_default() == "https:" { "wss" } else { "ws" };
    let url = format!("{scheme}://{}{path}", location.host().unwrap_or_default());
    let Ok(ws) = WebSocket::new(&url) else {
        retry(path, queue, connected, link, attempt);
        return;
    };

    let on_open = Closure::<dyn FnMut()>::new(move || connected.set(true));
    ws.set_onopen(Some(on_open.as_ref().unchecked_ref()));
    on_open.forget();

    let q = queue.clone();
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
        if let Some(text) = e.data().as_string() {
            match serde_json::from_str::<ServerMessage>(&text) {
                Ok(message) => q.borrow_mut().push(message),
                Err(err) => web_sys::console::warn_1(&format!("unreadable message: {err}").into()),
            }
        }
    });
    ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    on_message.forget();

    let again = link.clone();
    let on_close = Closure::<dyn FnMut(CloseEvent)>::new(move |_e: CloseEvent| {
        if again.ended.get() {
            return;
        }
        let was_up = connected.get_untracked();
        connected.set(false);
        let next = if was_up { 0 } else { attempt + 1 };
        retry(path.clone(), queue.clone(), connected, again.clone(), next);
    });
    ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
    on_close.forget();
    *link.socket.borrow_mut() = Some(ws);
}

fn retry(path: String, queue: Queue, connected: RwSignal<bool>, link: Rc<Link>, attempt: u32) {
    let again = Closure::once_into_js(move || open(path, queue, connected, link, attempt));
    let _ = window().set_timeout_with_callback_and_timeout_and_arguments_0(again.unchecked_ref(), backoff_ms(attempt));
}
