//! The route table: every route once — method, path, the access it needs, its handler — and the
//! router built from it. Each route hands its own access to the authorisation layer (`auth`),
//! so a route cannot exist without one, and the access-matrix test walks this same table.

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::http::{Method, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{MethodRouter, get, patch, post, put};
use axum::Router;
use hutong_core::identity::{Module, Permission};
use tower_http::services::{ServeDir, ServeFile};

use crate::app::App;
use crate::auth::{self, Access, Guard, Where};
use crate::openapi::{Doc, Entry, doc, list, schema};
use crate::{alarms, api, billing, companies, devices, displays, meters, notices, patrol, photos, setup, signin, staff, work_orders as wo, ws};

/// The largest sign-in body: an account and a password, with room to spare. A larger one is
/// refused (413) before it is read (review S1).
const SIGN_IN_LIMIT: usize = 4 * 1024;

/// The largest upload an import takes; the spreadsheet reader has its own limits inside.
pub const UPLOAD_LIMIT: usize = 10 << 20;

/// One route: method, path, the access it needs and its handler. The router is built from this
/// table and each route carries its own access into the authorisation layer, so a route cannot
/// exist without a declared access — and the access-matrix test walks the same table.
pub struct RouteSpec {
    pub method: Method,
    pub path: &'static str,
    pub access: Access,
    pub handler: fn() -> MethodRouter<Arc<App>>,
    /// What the OpenAPI document says of it.
    pub doc: Doc,
}

const fn route(method: Method, path: &'static str, access: Access, handler: fn() -> MethodRouter<Arc<App>>, doc: Doc) -> RouteSpec {
    RouteSpec { method, path, access, handler, doc }
}

const DEVICES_READ: Option<Permission> = Some(Permission::Read(Module::Devices));
const SETTINGS_READ: Option<Permission> = Some(Permission::Read(Module::Settings));
const SETTINGS_WRITE: Option<Permission> = Some(Permission::Write(Module::Settings));
const BILLING_READ: Option<Permission> = Some(Permission::Read(Module::Billing));
const BILLING_WRITE: Option<Permission> = Some(Permission::Write(Module::Billing));
const COLLECTION_READ: Option<Permission> = Some(Permission::Read(Module::Collection));
const COLLECTION_WRITE: Option<Permission> = Some(Permission::Write(Module::Collection));
const PATROL_READ: Option<Permission> = Some(Permission::Read(Module::Patrol));
const PATROL_WRITE: Option<Permission> = Some(Permission::Write(Module::Patrol));
const ORDERS_READ: Option<Permission> = Some(Permission::Read(Module::WorkOrders));
const ORDERS_WRITE: Option<Permission> = Some(Permission::Write(Module::WorkOrders));
/// The office's part of work orders: review, dispatch, outsource, close, return visit, archive, rules, store.
const ORDERS_OPERATE: Option<Permission> = Some(Permission::Operate(Module::WorkOrders));

const fn community_route(method: Method, path: &'static str, permission: Option<Permission>, handler: fn() -> MethodRouter<Arc<App>>, doc: Doc) -> RouteSpec {
    route(method, path, Access::Allowed(permission, Where::Community), handler, doc)
}

/// The tariff as a request body: charge items, price rules by scope and date, reminder limits
/// (the shape `GET …/tariff` answers).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
struct TariffBody {
    items: Vec<serde_json::Value>,
    rules: Vec<serde_json::Value>,
    reminder_limits: Option<serde_json::Value>,
}

/// A community's service rules as a request body (the shape `GET …/work-orders/rules` answers):
/// minutes to acknowledge, `{respond_mins, complete_mins}` by urgency, the urgency words and
/// categories, and which alarm kinds open an order by themselves.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
struct ServiceRulesBody {
    ack_mins: u32,
    normal: serde_json::Value,
    urgent: serde_json::Value,
    critical: serde_json::Value,
    urgent_words: Vec<String>,
    critical_words: Vec<String>,
    urgent_categories: Vec<String>,
    alarm_orders: Vec<String>,
    offline_order_hours: u32,
}

pub const ROUTES: &[RouteSpec] = &[
    route(Method::GET, "/healthz", Access::Public, || get(api::healthz), doc("Ready once recovery is done (503 while recovering)").reply(schema::<hutong_core::api::Health>)),
    route(Method::GET, "/metrics", Access::Public, || get(api::metrics), doc("Prometheus metrics: with HUTONG_METRICS_TOKEN set, as a bearer token; otherwise to this machine only")),
    route(Method::GET, "/api/openapi.json", Access::Public, || get(openapi), doc("This document")),
    route(Method::POST, "/api/v1/mqtt/auth", Access::Public, || post(crate::mqtt_hooks::authenticate).layer(DefaultBodyLimit::max(SIGN_IN_LIMIT)), doc("The external broker's authentication hook (EMQX HTTP auth): only with HUTONG_MQTT_HOOK_TOKEN, as a bearer token").body(schema::<crate::mqtt_hooks::AuthQuestion>).reply(schema::<crate::mqtt_hooks::HookAnswer>)),
    route(Method::POST, "/api/v1/mqtt/acl", Access::Public, || post(crate::mqtt_hooks::authorize).layer(DefaultBodyLimit::max(SIGN_IN_LIMIT)), doc("The external broker's authorization hook (EMQX HTTP authz): only with HUTONG_MQTT_HOOK_TOKEN, as a bearer token").body(schema::<crate::mqtt_hooks::AclQuestion>).reply(schema::<crate::mqtt_hooks::HookAnswer>)),
    route(Method::POST, "/api/v1/auth/login", Access::Public, || post(signin::login).layer(DefaultBodyLimit::max(SIGN_IN_LIMIT)), doc("Staff sign-in with account and password (rate-limited; audited)").body(schema::<signin::StaffLogin>).reply(schema::<hutong_core::api::SignedIn>)),
    route(Method::POST, "/api/v1/auth/owner/code", Access::Public, || post(signin::owner_code).layer(DefaultBodyLimit::max(SIGN_IN_LIMIT)), doc("Send an owner a one-time sign-in code by SMS").body(schema::<signin::CodeRequest>).reply(schema::<hutong_core::api::CodeSent>)),
    route(Method::POST, "/api/v1/auth/owner/login", Access::Public, || post(signin::owner_login).layer(DefaultBodyLimit::max(SIGN_IN_LIMIT)), doc("Owner sign-in with phone and one-time code").body(schema::<signin::OwnerLogin>).reply(schema::<hutong_core::api::SignedIn>)),
    route(Method::POST, "/api/v1/auth/pair", Access::Public, || post(signin::pair).layer(DefaultBodyLimit::max(SIGN_IN_LIMIT)), doc("A wall display pairs with its one-time code: a session of a year as the display's own account (rate-limited per address)").body(schema::<signin::PairBody>).reply(schema::<hutong_core::api::SignedIn>)),
    route(Method::POST, "/api/v1/report", Access::Public, || post(wo::report).layer(DefaultBodyLimit::max(SIGN_IN_LIMIT)), doc("Anyone reports a matter in a public place through the community's posted QR code, without signing in (W1): the code checked, a few reports per address in 15 minutes").body(schema::<wo::ReportBody>).reply(schema::<wo::Reported>)),
    route(Method::GET, "/demo/inbox", Access::Public, || get(signin::demo_inbox), doc("`hutong demo` without an SMS gateway: the demo phones' text messages, sign-in codes included (404 anywhere else)")),
    route(Method::POST, "/api/v1/pay/notify/sandbox", Access::Public, || post(crate::pay::notify).layer(DefaultBodyLimit::max(SIGN_IN_LIMIT)), doc("The payment provider's notification (the sandbox's, signed like WeChat Pay v3's): verified, checked against the order, booked once; a forged, stale or replayed one is refused (403) and counted").body(schema::<crate::pay::NotifyBody>)),
    route(Method::GET, "/sandbox/checkout/{community}/{order}", Access::Public, || get(crate::pay::provider::checkout_page), doc("The sandbox provider's hosted checkout page (the demo's and the tests' provider)")),
    route(Method::POST, "/sandbox/checkout/{community}/{order}", Access::Public, || post(crate::pay::provider::charge), doc("The payer confirms on the sandbox provider's page; the provider then notifies Hutong on its own (`?notify=N` sends it N times)")),
    route(Method::POST, "/api/v1/owner/registrations", Access::Public, || post(crate::pay::registration::register).layer(DefaultBodyLimit::max(SIGN_IN_LIMIT)), doc("Someone not registered asks to be a house's resident (R6): a request the property office approves; a few per address in 15 minutes").body(schema::<crate::pay::registration::RegistrationBody>).reply(schema::<crate::pay::registration::RegistrationTaken>)),
    route(Method::GET, "/api/v1/owner/houses", Access::Owner, || get(crate::pay::owner::houses), doc("The owner's houses, each with its bills to pay (待支付) and paid (已支付), newest first").reply(list::<crate::pay::owner::OwnerHouse>)),
    route(Method::POST, "/api/v1/owner/payments", Access::Owner, || post(crate::pay::owner::pay), doc("Pay several bills of one house at once (合并支付): an order at the provider for what they owe, and its checkout page; within one fee item the earliest bill first").body(schema::<crate::pay::owner::PayBody>).reply(schema::<crate::pay::owner::OrderOpened>)),
    route(Method::GET, "/api/v1/owner/notices", Access::Owner, || get(crate::pay::owner::notices), doc("Announcements for the owner's homes (their communities' and buildings') and in-app reminders of what they owe, newest first").reply(list::<crate::pay::owner::OwnerNotice>)),
    route(Method::GET, "/api/v1/owner/receipts/{payment}", Access::Owner, || get(crate::pay::owner::receipt), doc("The receipt of a payment for one of the owner's homes (`?community=`; PDF, or a print page with `&format=html`); another home's is 404")),
    route(Method::GET, "/api/v1/owner/payments/{order}", Access::Owner, || get(crate::pay::owner::order), doc("One of the owner's orders (`?community=`); an order still open is asked about at the provider").reply(schema::<hutong_core::pay::PayOrder>)),
    route(Method::GET, "/api/v1/finance/statements", Access::Public, || get(crate::pay::finance::finance_pull), doc("Finance software pulls a community's statement (`?community=&from=&to=`) with its app id and a signed request (HMAC-SHA256 over method, path and query, timestamp and nonce); switched off, stale, replayed or forged pulls are refused (403) and counted").reply(schema::<crate::pay::finance::FinanceStatement>)),
    route(Method::POST, "/api/v1/auth/logout", Access::SignedIn, || post(signin::logout), doc("End this session").reply(schema::<hutong_core::api::SignedOut>)),
    route(Method::GET, "/api/v1/me", Access::SignedIn, || get(signin::me), doc("The caller: kind, account, company, permissions, scope").reply(schema::<hutong_core::api::Me>)),
    route(Method::PATCH, "/api/v1/me", Access::SignedIn, || patch(staff::update_me), doc("A staff member edits their own name and phone").body(schema::<staff::Profile>).reply(schema::<hutong_core::api::ProfileReply>)),
    route(Method::POST, "/api/v1/me/password", Access::SignedIn, || post(signin::change_password), doc("Change one's own password (8–256 characters; the current one checked and rate-limited); every session of the account ends").body(schema::<signin::PasswordChange>).reply(schema::<hutong_core::api::SignedOut>)),
    route(Method::GET, "/api/v1/communities", Access::SignedIn, || get(api::communities), doc("Communities the caller may see").reply(list::<hutong_core::api::CommunitySummary>)),
    route(Method::POST, "/api/v1/communities", Access::Allowed(SETTINGS_WRITE, Where::Company), || post(setup::create), doc("Set a community up: id, name, time zone and its tree of buildings, units, floors and rooms; it is the company's and running at once (audited)").body(schema::<hutong_core::community::CommunityPlan>).reply(schema::<hutong_core::api::CommunitySummary>)),
    route(Method::GET, "/api/v1/communities/{community}", Access::Allowed(None, Where::Community), || get(api::community), doc("A community's tree: buildings, units, floors, houses")),
    route(Method::POST, "/api/v1/communities/{community}/buildings", Access::Allowed(SETTINGS_WRITE, Where::Community), || post(setup::grow_route), doc("Add buildings, units, floors and rooms to a running community (C1); houses it has already are left as they are (audited)").body(schema::<setup::GrowBody>).reply(schema::<setup::Grown>)),
    route(Method::GET, "/api/v1/communities/{community}/houses", Access::Allowed(None, Where::Community), || get(api::house_by_address), doc("A house by address (`?address=荷花苑-1-1-101` or the slash form)").reply(schema::<hutong_core::api::HouseAt>)),
    route(Method::GET, "/api/v1/communities/{community}/devices", Access::Allowed(DEVICES_READ, Where::Community), || get(api::devices), doc("The community's devices and their health (a butler: their buildings')")),
    route(Method::POST, "/api/v1/communities/{community}/devices", Access::Allowed(Some(Permission::Write(Module::Devices)), Where::Community), || post(devices::register), doc("Register a device; it is heard as soon as it connects with its provisioning key (audited)").body(schema::<devices::NewDevice>)),
    route(Method::POST, "/api/v1/communities/{community}/devices/import", Access::Allowed(Some(Permission::Write(Module::Devices)), Where::Community), || post(devices::import).layer(DefaultBodyLimit::max(UPLOAD_LIMIT)), doc("Register devices from a spreadsheet (设备编号, 设备类型, 房屋地址, 楼栋号, 心跳间隔(秒)): all rows or none, with the row report (audited)").file().reply(schema::<hutong_core::api::ImportReport>)),
    route(Method::GET, "/api/v1/communities/{community}/devices/{device}", Access::Allowed(DEVICES_READ, Where::Community), || get(api::device), doc("One device")),
    route(Method::PUT, "/api/v1/communities/{community}/devices/{device}", Access::Allowed(Some(Permission::Write(Module::Devices)), Where::Community), || put(devices::place), doc("Move a device (building, house) or change its heartbeat interval: its whole placement, replaced (audited)").body(schema::<devices::Placement>)),
    route(Method::POST, "/api/v1/communities/{community}/devices/{device}/retire", Access::Allowed(Some(Permission::Write(Module::Devices)), Where::Community), || post(devices::retire), doc("Retire a device with a reason: it leaves the screens, its key is revoked, its history stays and its id is never given again (audited)").body(schema::<devices::Retirement>)),
    route(Method::POST, "/api/v1/communities/{community}/devices/{device}/replace", Access::Allowed(Some(Permission::Write(Module::Devices)), Where::Community), || post(devices::replace), doc("Replace a device by a new one in the same place (换表): the old one retired and the new one registered where it was in one step; the old key revoked, its open alarms resolved (audited)").body(schema::<devices::Replacement>)),
    route(Method::GET, "/api/v1/communities/{community}/devices/{device}/key", Access::Allowed(Some(Permission::Write(Module::Devices)), Where::Community), || get(staff::device_key), doc("A device's provisioning key, while it has one (audited; 409 once rotated or revoked)").reply(schema::<hutong_core::api::DeviceKey>)),
    route(Method::POST, "/api/v1/communities/{community}/devices/{device}/key/rotate", Access::Allowed(Some(Permission::Write(Module::Devices)), Where::Community), || post(staff::rotate_device_key), doc("A new random key for the device, shown once; the old key is refused and its connection closed (audited)").reply(schema::<hutong_core::api::DeviceKey>)),
    route(Method::POST, "/api/v1/communities/{community}/devices/{device}/open", Access::Allowed(Some(Permission::Operate(Module::Devices)), Where::Community), || post(staff::open_gate), doc("Open a gate or a barrier now: a command on its MQTT command topic, sent only while it is connected and listening (audited)").reply(schema::<hutong_core::api::GateOpened>)),
    route(Method::POST, "/api/v1/communities/{community}/devices/{device}/key/revoke", Access::Allowed(Some(Permission::Write(Module::Devices)), Where::Community), || post(staff::revoke_device_key), doc("Refuse every key of the device until its next rotation; its connection is closed at once (audited)").reply(schema::<hutong_core::api::DeviceKeyState>)),
    route(Method::GET, "/api/v1/communities/{community}/patrol/checkpoints", Access::Allowed(PATROL_READ, Where::Community), || get(patrol::checkpoints), doc("The community's patrol checkpoints (T1)")),
    route(Method::PUT, "/api/v1/communities/{community}/patrol/checkpoints/{checkpoint}", Access::Allowed(SETTINGS_WRITE, Where::Community), || put(patrol::put_checkpoint), doc("Add a checkpoint, or rename or move one (audited)").body(schema::<patrol::CheckpointBody>)),
    route(Method::GET, "/api/v1/communities/{community}/patrol/checkpoints/{checkpoint}/code", Access::Allowed(SETTINGS_WRITE, Where::Community), || get(patrol::code), doc("The checkpoint's code to print: the signed token and the address a guard's phone opens").reply(schema::<patrol::CheckpointCode>)),
    route(Method::POST, "/api/v1/communities/{community}/patrol/checkpoints/{checkpoint}/new-code", Access::Allowed(SETTINGS_WRITE, Where::Community), || post(patrol::new_code), doc("A new code for a lost or copied one: the printed code stops working at once (audited)").reply(schema::<patrol::CheckpointCode>)),
    route(Method::GET, "/api/v1/communities/{community}/patrol/codes.pdf", Access::Allowed(SETTINGS_WRITE, Where::Community), || get(patrol::codes_pdf), doc("Every checkpoint's code on print-ready A4 sheets, six to a page, with names (audited)")),
    route(Method::GET, "/api/v1/communities/{community}/patrol/suggested-order", Access::Allowed(PATROL_READ, Where::Community), || get(patrol::suggested_order), doc("An order to walk the given checkpoints in (`?checkpoints=a,b,c`, the first first): nearest neighbour then 2-opt on the site plan").reply(schema::<patrol::SuggestedOrder>)),
    route(Method::GET, "/api/v1/communities/{community}/patrol/routes", Access::Allowed(PATROL_READ, Where::Community), || get(patrol::routes), doc("Every patrol route: its plan, today's rounds stop by stop, the next window to close, figures by month").reply(list::<patrol::RouteView>)),
    route(Method::GET, "/api/v1/communities/{community}/patrol/figures", Access::Allowed(PATROL_READ, Where::Community), || get(patrol::figures), doc("A month's patrol figures (`?month=YYYY-MM`, the current month when left out): per route, per guard and in total — rounds, completed, missed, completion and miss rates (T6)").reply(schema::<patrol::PatrolFigures>)),
    route(Method::GET, "/api/v1/communities/{community}/patrol/routes/{route}", Access::Allowed(PATROL_READ, Where::Community), || get(patrol::route), doc("One patrol route, as in the list").reply(schema::<patrol::RouteView>)),
    route(Method::PUT, "/api/v1/communities/{community}/patrol/routes/{route}", Access::Allowed(SETTINGS_WRITE, Where::Community), || put(patrol::put_route), doc("Set a route (its checkpoints in order, minutes between them, dwell) and its plan (start times, days, tolerance, guards); audited").body(schema::<patrol::RouteBody>).reply(schema::<patrol::RouteView>)),
    route(Method::POST, "/api/v1/communities/{community}/patrol/check-ins", Access::Allowed(PATROL_WRITE, Where::Community), || post(patrol::check_in), doc("A guard's scan of a checkpoint's code: counted for the route whose window is open, or refused with a sentence").body(schema::<patrol::CheckInBody>).reply(schema::<patrol::CheckedIn>)),
    route(Method::POST, "/api/v1/communities/{community}/patrol/photos", Access::Allowed(PATROL_WRITE, Where::Community), || post(photos::upload).layer(DefaultBodyLimit::max(photos::MAX_PHOTO_BYTES + 1024)), doc("Take a photo for a check-in: the image's own bytes (JPEG, PNG or WebP, recognised by their content, 6 MiB at most); answers its id").file().reply(schema::<photos::PhotoKept>)),
    route(Method::GET, "/api/v1/communities/{community}/patrol/photos/{photo}", Access::Allowed(PATROL_READ, Where::Community), || get(photos::photo), doc("A photo of the community's patrols, as taken (only under its own community)")),
    route(Method::POST, "/api/v1/communities/{community}/patrol/routes/{route}/notes", Access::Allowed(PATROL_WRITE, Where::Community), || post(patrol::annotate), doc("A guard adds a note and photos to their own check-in (the one at `checkpoint` scanned at `at`)").body(schema::<patrol::NoteBody>).reply(schema::<patrol::CheckedIn>)),
    route(Method::GET, "/api/v1/communities/{community}/alarms", Access::Allowed(DEVICES_READ, Where::Community), || get(alarms::list), doc("Open alarms (most severe, then newest) and the latest resolved, as the caller may see them").reply(schema::<alarms::AlarmList>)),
    community_route(Method::GET, "/api/v1/communities/{community}/notices", None, || get(notices::list), doc("The community's announcements (公告), newest first, withdrawn ones marked (a butler: those for their buildings or everyone)")),
    community_route(Method::POST, "/api/v1/communities/{community}/notices", ORDERS_OPERATE, || post(notices::announce), doc("Publish an announcement to the residents of the community or of some buildings: each home's residents are sent it (in-app, through the outbox); answers the notice with the homes it reached (audited)").body(schema::<notices::AnnounceBody>)),
    community_route(Method::POST, "/api/v1/communities/{community}/notices/{notice}/withdraw", ORDERS_OPERATE, || post(notices::withdraw), doc("Withdraw an announcement (it stays in the record; audited)")),
    community_route(Method::GET, "/api/v1/communities/{community}/work-orders", ORDERS_READ, || get(wo::list), doc("The board: every work order not yet archived (a butler: their buildings'), overdue and most urgent first; `?with=mine` for the caller's own")),
    community_route(Method::POST, "/api/v1/communities/{community}/work-orders", ORDERS_WRITE, || post(wo::register), doc("Register a repair, complaint or suggestion at a house, a device or a public area: urgency and deadlines from the community's rules (W1, W3; audited)").body(schema::<wo::RegisterBody>)),
    community_route(Method::GET, "/api/v1/communities/{community}/work-orders/report-code", ORDERS_OPERATE, || get(wo::report_code), doc("The community's QR code for anonymous reports (匿名报事), to post: its token and the address it holds").reply(schema::<wo::ReportCode>)),
    community_route(Method::GET, "/api/v1/communities/{community}/work-orders/place-codes.pdf", ORDERS_OPERATE, || get(wo::place_codes_pdf), doc("Every house's door-plate code of a building (`?building=`), six to an A4 page: the address a technician's phone opens to confirm arrival and completion (audited)")),
    community_route(Method::GET, "/api/v1/communities/{community}/work-orders/figures", ORDERS_READ, || get(wo::figures), doc("A month's work-order figures (`?month=YYYY-MM`): completion, on-time, re-dispatch and return-visit rates, satisfaction, workload per person (W6)")),
    community_route(Method::GET, "/api/v1/communities/{community}/work-orders/rules", ORDERS_READ, || get(wo::rules), doc("The community's service rules: minutes to acknowledge, deadlines by urgency, urgency words, which alarms open an order")),
    community_route(Method::PUT, "/api/v1/communities/{community}/work-orders/rules", ORDERS_OPERATE, || put(wo::put_rules), doc("Set the community's service rules (audited)").body(schema::<ServiceRulesBody>)),
    community_route(Method::GET, "/api/v1/communities/{community}/work-orders/store", ORDERS_READ, || get(wo::store), doc("The materials store: items, units, prices, stock").reply(list::<wo::StoreLine>)),
    community_route(Method::POST, "/api/v1/communities/{community}/work-orders/store", ORDERS_OPERATE, || post(wo::stock_in), doc("Goods in: a new item or more of one (audited)").body(schema::<wo::StockInBody>).reply(list::<wo::StoreLine>)),
    community_route(Method::GET, "/api/v1/communities/{community}/work-orders/staff", ORDERS_OPERATE, || get(wo::assignable), doc("Who takes work orders in the community, with how many they hold now (the dispatcher's picker)").reply(list::<wo::Assignable>)),
    community_route(Method::POST, "/api/v1/communities/{community}/work-orders/photos", ORDERS_WRITE, || post(photos::upload).layer(DefaultBodyLimit::max(photos::MAX_PHOTO_BYTES + 1024)), doc("Take a photo for a work order: the image's own bytes (JPEG, PNG or WebP, 6 MiB at most); answers its id").file().reply(schema::<photos::PhotoKept>)),
    community_route(Method::GET, "/api/v1/communities/{community}/work-orders/photos/{photo}", ORDERS_READ, || get(wo::photo), doc("A photo of the community's work orders, as taken (only under its own community)")),
    community_route(Method::GET, "/api/v1/communities/{community}/work-orders/{order}", ORDERS_READ, || get(wo::get), doc("One work order in full: registration, where it stands, deadlines, materials, charge, history")),
    community_route(Method::GET, "/api/v1/communities/{community}/work-orders/{order}/place-code", ORDERS_OPERATE, || get(wo::place_code), doc("The code of the order's place to print (door plate, equipment): scanned on arrival and completion").reply(schema::<wo::PlaceCode>)),
    community_route(Method::POST, "/api/v1/communities/{community}/work-orders/{order}/review", ORDERS_OPERATE, || post(wo::review), doc("Review (审核): the category and urgency may be corrected (audited)").body(schema::<wo::ReviewBody>)),
    community_route(Method::POST, "/api/v1/communities/{community}/work-orders/{order}/cancel", ORDERS_OPERATE, || post(wo::cancel), doc("Turn an order down at review, with why (audited)").body(schema::<wo::NoteBody>)),
    community_route(Method::POST, "/api/v1/communities/{community}/work-orders/{order}/dispatch", ORDERS_OPERATE, || post(wo::dispatch), doc("Give it to a person (派工, or 改派 when it is with someone): if they do not accept in the rules' minutes, the next of their post gets it (audited)").body(schema::<wo::DispatchBody>)),
    community_route(Method::POST, "/api/v1/communities/{community}/work-orders/{order}/outsource", ORDERS_OPERATE, || post(wo::outsource), doc("Give it to an outside contractor (外委; audited)").body(schema::<wo::OutsourceBody>)),
    community_route(Method::POST, "/api/v1/communities/{community}/work-orders/{order}/accept", ORDERS_WRITE, || post(wo::accept), doc("Accept (接单): only the person it is with (audited)")),
    community_route(Method::POST, "/api/v1/communities/{community}/work-orders/{order}/arrive", ORDERS_WRITE, || post(wo::arrive), doc("Arrival, confirmed by the place's scanned code (audited)").body(schema::<wo::ScanBody>)),
    community_route(Method::POST, "/api/v1/communities/{community}/work-orders/{order}/materials", ORDERS_WRITE, || post(wo::draw), doc("Draw materials from the store for the job: refused when short (audited)").body(schema::<wo::DrawBody>)),
    community_route(Method::POST, "/api/v1/communities/{community}/work-orders/{order}/complete", ORDERS_WRITE, || post(wo::complete), doc("Done (回单), the place's code scanned again: a note, photos, and a charge that becomes a bill in the house's book (audited)").body(schema::<wo::CompleteBody>)),
    community_route(Method::POST, "/api/v1/communities/{community}/work-orders/{order}/coordinate", ORDERS_WRITE, || post(wo::coordinate), doc("Open a coordination order (协调单): another department's part, at the same place, naming this order (audited)").body(schema::<wo::CoordinateBody>)),
    community_route(Method::POST, "/api/v1/communities/{community}/work-orders/{order}/close", ORDERS_OPERATE, || post(wo::close), doc("Close a completed order (结单; audited)").body(schema::<wo::NoteBody>)),
    community_route(Method::POST, "/api/v1/communities/{community}/work-orders/{order}/visit", ORDERS_OPERATE, || post(wo::visit), doc("The return visit (回访): the owner's satisfaction 1–5; closes a completed order (audited)").body(schema::<wo::VisitBody>)),
    community_route(Method::POST, "/api/v1/communities/{community}/work-orders/{order}/archive", ORDERS_OPERATE, || post(wo::archive), doc("Archive a closed order: it leaves the board (audited)")),
    route(Method::POST, "/api/v1/communities/{community}/alarms/{alarm}/acknowledge", Access::Allowed(Some(Permission::Operate(Module::Devices)), Where::Community), || post(alarms::acknowledge), doc("I am on it: the alarm shows who took it and when (409 if someone else did; audited)")),
    route(Method::POST, "/api/v1/communities/{community}/alarms/{alarm}/work-order", Access::Allowed(ORDERS_OPERATE, Where::Community), || post(alarms::to_work_order), doc("Turn an open alarm into a work order (转工单): the order carries the alarm's sentence and device; the alarm shows it as who is on it (409 once it is one; audited)")),
    route(Method::POST, "/api/v1/communities/{community}/alarms/{alarm}/resolve", Access::Allowed(Some(Permission::Operate(Module::Devices)), Where::Community), || post(alarms::resolve), doc("Resolve an alarm with a note of how it was dealt with (audited)").body(schema::<alarms::ResolveBody>)),
    route(Method::GET, "/api/v1/communities/{community}/meter-rules", Access::Allowed(DEVICES_READ, Where::Community), || get(meters::get), doc("The community's meter thresholds (M4): night window for leaks, months out of range, monthly ranges").reply(schema::<hutong_core::meter_rules::MeterRules>)),
    route(Method::PUT, "/api/v1/communities/{community}/meter-rules", Access::Allowed(Some(Permission::Write(Module::Devices)), Where::Community), || put(meters::put), doc("Change the meter thresholds; every meter judges by them at once (audited)").body(schema::<hutong_core::meter_rules::MeterRules>).reply(schema::<hutong_core::meter_rules::MeterRules>)),
    route(Method::GET, "/api/v1/communities/{community}/wall", Access::Allowed(DEVICES_READ, Where::Community), || get(api::wall), doc("The control-room wall's snapshot, as the caller may see it")),
    route(Method::GET, "/api/v1/companies", Access::Allowed(Some(Permission::ManagePlatform), Where::Company), || get(companies::list), doc("The platform operator: the property companies of the deployment, with counts only").reply(list::<companies::CompanySummary>)),
    route(Method::POST, "/api/v1/companies", Access::Allowed(Some(Permission::ManagePlatform), Where::Company), || post(companies::create), doc("The platform operator adds a property company and its first administrator (audited)").body(schema::<companies::NewCompany>).reply(schema::<companies::CompanyCreated>)),
    route(Method::POST, "/api/v1/org/branches", Access::Allowed(SETTINGS_WRITE, Where::Company), || post(companies::define_branch), doc("Define a branch (分公司) of the caller's company with its 片区, or add 片区 to it (audited)").body(schema::<companies::BranchBody>).reply(schema::<hutong_core::api::OrgView>)),
    route(Method::PUT, "/api/v1/communities/{community}/placement", Access::Allowed(SETTINGS_WRITE, Where::Community), || put(companies::place), doc("Place a community under a branch and 片区 of its company (audited)").body(schema::<companies::PlacementBody>).reply(schema::<hutong_core::api::OrgView>)),
    route(Method::GET, "/api/v1/org", Access::Allowed(SETTINGS_READ, Where::Company), || get(staff::organisation), doc("The caller's organisation: company, branches, communities, departments, posts").reply(schema::<hutong_core::api::OrgView>)),
    route(Method::GET, "/api/v1/staff", Access::Allowed(SETTINGS_READ, Where::Company), || get(staff::list), doc("Staff of the caller's company (phones masked)").reply(list::<hutong_core::api::StaffView>)),
    route(Method::POST, "/api/v1/staff", Access::Allowed(SETTINGS_WRITE, Where::Company), || post(staff::create), doc("Open a staff account (audited)").body(schema::<hutong_core::api::NewStaff>).reply(schema::<hutong_core::api::StaffView>)),
    route(Method::PUT, "/api/v1/staff/{staff}/roles", Access::Allowed(SETTINGS_WRITE, Where::Company), || put(staff::set_roles), doc("Replace a staff member's roles (audited)").body(schema::<staff::RolesBody>).reply(schema::<hutong_core::api::RolesReply>)),
    route(Method::POST, "/api/v1/staff/{staff}/enable", Access::Allowed(SETTINGS_WRITE, Where::Company), || post(staff::enable), doc("Open a closed staff account again, within the caller's own permissions and scope (audited)").reply(schema::<hutong_core::api::DisabledReply>)),
    route(Method::POST, "/api/v1/staff/{staff}/disable", Access::Allowed(SETTINGS_WRITE, Where::Company), || post(staff::disable), doc("Close a staff account: its sessions and sockets end (audited)").reply(schema::<hutong_core::api::DisabledReply>)),
    route(Method::GET, "/api/v1/staff/{staff}/phone", Access::Allowed(Some(Permission::UnmaskPersonalData), Where::Company), || get(staff::unmask_phone), doc("A staff member's phone in full (audited)").reply(schema::<hutong_core::api::PhoneReply>)),
    route(Method::GET, "/api/v1/displays", Access::Allowed(SETTINGS_READ, Where::Company), || get(displays::list), doc("The company's wall displays (closing one's account unpairs it)")),
    route(Method::POST, "/api/v1/displays", Access::Allowed(SETTINGS_WRITE, Where::Company), || post(displays::create), doc("Add a wall display for some communities or buildings; answers its one-time pairing code, shown this once (audited)").body(schema::<displays::NewDisplay>).reply(schema::<displays::Pairing>)),
    route(Method::POST, "/api/v1/displays/{staff}/pairing-code", Access::Allowed(SETTINGS_WRITE, Where::Company), || post(displays::new_code), doc("A new pairing code for a display; its earlier code stops working (audited)").reply(schema::<displays::Pairing>)),
    route(Method::GET, "/api/v1/roles", Access::Allowed(SETTINGS_READ, Where::Company), || get(staff::roles), doc("Built-in roles and the company's own")),
    route(Method::POST, "/api/v1/roles", Access::Allowed(SETTINGS_WRITE, Where::Company), || post(staff::define_role), doc("Define a company role, never beyond the caller's own permissions (audited)").body(schema::<staff::NewRole>)),
    route(Method::GET, "/api/v1/audit", Access::Allowed(SETTINGS_READ, Where::Company), || get(staff::audit_log), doc("The company's audit log, newest first, a page at a time (`?actor=`, `?action=` prefix, `?limit=` up to 1000, `?before=` the last seq of the previous page)")),
    route(Method::GET, "/ws", Access::Allowed(DEVICES_READ, Where::Community), || get(ws::upgrade), doc("WebSocket: the wall's snapshot, then a frame of live events per screen tick (`?community=`)")),
    route(Method::GET, "/ws/money", Access::Allowed(COLLECTION_READ, Where::Community), || get(ws::upgrade), doc("WebSocket: every building's money, then each change in full, in frames of events (`?community=`)")),
    route(Method::GET, "/ws/work", Access::Allowed(ORDERS_READ, Where::Community), || get(ws::upgrade), doc("WebSocket: the work orders not yet archived (a butler: their buildings'), then each order as it changes — the board, the staff phone's inbox, the wall (`?community=`)")),
    route(Method::GET, "/ws/patrol", Access::Allowed(PATROL_READ, Where::Community), || get(ws::upgrade), doc("WebSocket: each patrol route's day, then its changes and a reminder before each round, in frames of events (`?community=`)")),
    community_route(Method::GET, "/api/v1/communities/{community}/tariff", BILLING_READ, || get(billing::tariff::get), doc("The tariff: charge items with subjects, prices, reminder limits").reply(schema::<TariffBody>)),
    community_route(Method::PUT, "/api/v1/communities/{community}/tariff", BILLING_WRITE, || put(billing::tariff::put), doc("Replace the tariff (validated; audited with before and after)").body(schema::<TariffBody>)),
    community_route(Method::GET, "/api/v1/communities/{community}/bills", BILLING_READ, || get(billing::desk::list), doc("Bills: search (`q`), filters (state, item, building, house, periods, amounts, batch), pages").reply(schema::<hutong_core::api::BillPage>)),
    community_route(Method::GET, "/api/v1/communities/{community}/bills/export", BILLING_READ, || get(billing::desk::export), doc("The filtered bills as CSV or XLSX (`?format=`), every cell as text")),
    community_route(Method::GET, "/api/v1/communities/{community}/bills/template", BILLING_READ, || get(billing::desk::template_file), doc("The bill import template")),
    community_route(Method::POST, "/api/v1/communities/{community}/bills/import", BILLING_WRITE, || post(billing::desk::import).layer(DefaultBodyLimit::max(UPLOAD_LIMIT)), doc("Import bills from CSV/XLS/XLSX: all or nothing unless `?good_only=true`; 422 names every bad row").file().reply(schema::<hutong_core::api::ImportReport>)),
    community_route(Method::POST, "/api/v1/communities/{community}/bills/batch", COLLECTION_WRITE, || post(billing::desk::batch), doc("Remind, mark paid or delete several bills: all pending or refused whole (409), all buildings or none").body(schema::<hutong_core::api::BatchBody>).reply(schema::<hutong_core::api::BatchReply>)),
    community_route(Method::GET, "/api/v1/communities/{community}/bills/{bill}", BILLING_READ, || get(billing::desk::detail), doc("One bill with its history and payments").reply(schema::<hutong_core::api::BillDetail>)),
    community_route(Method::POST, "/api/v1/communities/{community}/bills/{bill}/edit", BILLING_WRITE, || post(billing::desk::edit), doc("Edit a pending bill (audited)").body(schema::<hutong_core::api::EditBody>).reply(schema::<hutong_core::api::BillReply>)),
    community_route(Method::POST, "/api/v1/communities/{community}/bills/{bill}/delete", BILLING_WRITE, || post(billing::desk::delete), doc("Delete a pending bill (audited; 409 unless pending)").reply(schema::<hutong_core::api::BillReply>)),
    community_route(Method::POST, "/api/v1/communities/{community}/bills/{bill}/void", BILLING_WRITE, || post(billing::desk::void), doc("Void an unpaid bill with a reason (audited)").body(schema::<hutong_core::api::VoidBody>).reply(schema::<hutong_core::api::BillReply>)),
    community_route(Method::POST, "/api/v1/communities/{community}/bill-runs", BILLING_WRITE, || post(billing::desk::run), doc("Preview or commit a bill run (idempotent per house, item and period)").body(schema::<hutong_core::api::RunBody>).reply(schema::<hutong_core::api::RunReply>)),
    community_route(Method::POST, "/api/v1/communities/{community}/payments", COLLECTION_WRITE, || post(billing::pay::pay), doc("Take a payment; `Idempotency-Key` pays once, another body under it is 409").body(schema::<hutong_core::api::PayBody>).reply(schema::<hutong_core::api::PayReply>)),
    community_route(Method::GET, "/api/v1/communities/{community}/payments/{payment}/receipt", COLLECTION_READ, || get(billing::pay::receipt), doc("The receipt as PDF, or as a print page with `?format=html` (audited)")),
    community_route(Method::GET, "/api/v1/communities/{community}/payment-notices", COLLECTION_READ, || get(billing::notice::print), doc("缴费通知单 to print: one A4 page per home that owes (`?building=` or `?house=`), its open bills and total, and the community's collection code (audited)")),
    community_route(Method::POST, "/api/v1/communities/{community}/reminders", COLLECTION_WRITE, || post(billing::pay::remind), doc("Remind houses, bills or an import batch on a channel, within its limit").body(schema::<hutong_core::api::RemindBody>).reply(schema::<hutong_core::api::RemindReply>)),
    community_route(Method::GET, "/api/v1/communities/{community}/notifications", COLLECTION_READ, || get(billing::pay::notifications), doc("The outbox: messages with their delivery state, newest first").reply(schema::<hutong_core::api::Notifications>)),
    community_route(Method::GET, "/api/v1/communities/{community}/money", COLLECTION_READ, || get(billing::money::summary), doc("Collection figures: rates today, this month, this year; arrears by building, item and age")),
    community_route(Method::GET, "/api/v1/communities/{community}/buildings/{building}/chart", BILLING_READ, || get(billing::chart::chart), doc("The building chart (销控图): every house as a cell with its state, residents, what it owes and what is overdue").reply(schema::<billing::chart::Chart>)),
    community_route(Method::GET, "/api/v1/communities/{community}/house-records", BILLING_READ, || get(billing::houses::list), doc("Houses and residents (phones masked unless unmasked, which is audited); CSV/XLSX export").reply(schema::<hutong_core::api::HousePage>)),
    community_route(Method::GET, "/api/v1/communities/{community}/reconciliation", COLLECTION_READ, || get(crate::pay::reconcile::reconciliation), doc("一键对账 (P10): the payment provider's statement for `?from=&to=` (days in the community's zone) against the orders recorded as paid — arrived, not arrived, anomalies, and the totals (合计到帐金额, 到帐订单数, 异常订单数)").reply(schema::<hutong_core::pay::Reconciliation>)),
    community_route(Method::POST, "/api/v1/communities/{community}/reconciliation", COLLECTION_READ, || post(crate::pay::reconcile::reconcile_file).layer(DefaultBodyLimit::max(UPLOAD_LIMIT)), doc("一键对账 with a statement file the provider gave (商户订单号, 交易单号, 金额, 支付时间), for `?from=&to=`").file().reply(schema::<hutong_core::pay::Reconciliation>)),
    community_route(Method::GET, "/api/v1/communities/{community}/collection-code", BILLING_READ, || get(crate::pay::code::collection_code), doc("The community's collection QR code (收款码, P8): a printable page (微信扫一扫缴纳费用) or `?format=svg`; it opens the owner portal")),
    community_route(Method::POST, "/api/v1/communities/{community}/owners", BILLING_WRITE, || post(crate::pay::registration::open_portal), doc("Open the owner portal to a phone for some houses of the community (开通业主, e.g. at handover; audited)").body(schema::<crate::pay::registration::OwnerBody>)),
    community_route(Method::GET, "/api/v1/communities/{community}/owner-registrations", BILLING_WRITE, || get(crate::pay::registration::registrations), doc("Registration requests of owners not known yet, newest first (a butler: their buildings')").reply(list::<crate::pay::registration::RegistrationView>)),
    community_route(Method::POST, "/api/v1/communities/{community}/owner-registrations/{registration}/decide", BILLING_WRITE, || post(crate::pay::registration::decide_registration), doc("Approve a registration (the person becomes the house's resident and may sign in) or turn it down with a note (audited)").body(schema::<crate::pay::registration::DecisionBody>).reply(schema::<crate::pay::registration::RegistrationTaken>)),
    community_route(Method::GET, "/api/v1/communities/{community}/finance-access", SETTINGS_READ, || get(crate::pay::finance::finance_access), doc("The finance software's pull access (P11): its app id and whether it is on").reply(schema::<crate::pay::finance::FinanceAccessView>)),
    community_route(Method::POST, "/api/v1/communities/{community}/finance-access", SETTINGS_WRITE, || post(crate::pay::finance::finance_enable), doc("Switch the finance pull on with a new secret, shown this once; the old secret stops (audited, the secret never)").reply(schema::<crate::pay::finance::FinanceAccessView>)),
    community_route(Method::POST, "/api/v1/communities/{community}/finance-access/disable", SETTINGS_WRITE, || post(crate::pay::finance::finance_disable), doc("Switch the finance pull off (停用; audited)").reply(schema::<crate::pay::finance::FinanceAccessView>)),
    community_route(Method::GET, "/api/v1/communities/{community}/house-stats", BILLING_READ, || get(billing::houses::stats), doc("Homes and resources by state and kind, and residents, for the community and each building (C6; a butler: their buildings)").reply(schema::<hutong_core::api::HouseStats>)),
    community_route(Method::PATCH, "/api/v1/communities/{community}/house-records/{house}", BILLING_WRITE, || patch(billing::houses::change), doc("Change what a house is (C2): its kind (home, shop, parking …), area and custom fields (audited)").body(schema::<billing::houses::HouseChange>).reply(schema::<hutong_core::api::HouseView>)),
    community_route(Method::POST, "/api/v1/communities/{community}/house-records/{house}/state", BILLING_WRITE, || post(billing::houses::change_state), doc("A house enters a state on a day (交房, 装修, 空置, 入住 …), kept in its history; a bill run prices each part of a period in its state (C3, audited)").body(schema::<billing::houses::StateBody>).reply(schema::<hutong_core::api::HouseView>)),
    community_route(Method::POST, "/api/v1/communities/{community}/house-records/{house}/residents", BILLING_WRITE, || post(billing::houses::change_residents), doc("Add, edit, remove or move a resident (C4): a move between buildings changes both at once (audited)").body(schema::<billing::houses::ResidentsBody>).reply(schema::<hutong_core::api::HousePage>)),
    community_route(Method::POST, "/api/v1/communities/{community}/house-records/import", BILLING_WRITE, || post(billing::houses::import).layer(DefaultBodyLimit::max(UPLOAD_LIMIT)), doc("Import houses and residents: all or nothing unless `?good_only=true`").file().reply(schema::<hutong_core::api::ImportReport>)),
];

/// The OpenAPI document of this table.
pub fn document() -> serde_json::Value {
    crate::openapi::document(ROUTES.iter().map(|r| Entry { method: r.method.as_str(), path: r.path, access: r.access, doc: r.doc }))
}

/// Serves the document, built once. (A plain future, not an `async fn`: the table names this
/// handler and the document reads the table.)
fn openapi() -> std::future::Ready<Response> {
    static DOCUMENT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let body = DOCUMENT.get_or_init(|| document().to_string());
    std::future::ready(([(axum::http::header::CONTENT_TYPE, "application/json")], body.as_str()).into_response())
}

pub fn router(app: Arc<App>) -> Router {
    let assets = app.assets.clone();
    let mut router: Router<Arc<App>> = Router::new();
    let mut paths: Vec<&str> = ROUTES.iter().map(|r| r.path).collect();
    paths.dedup();
    for path in paths {
        let mut methods: MethodRouter<Arc<App>> = MethodRouter::new();
        for spec in ROUTES.iter().filter(|r| r.path == path) {
            // The route's own access travels with it into `authorize`: no lookup by string.
            let guard = axum::middleware::from_fn_with_state(Guard { app: app.clone(), access: spec.access }, auth::authorize);
            methods = methods.merge((spec.handler)().route_layer(guard));
        }
        router = router.route(path, methods);
    }
    let router = router.with_state(app);
    if assets.join("index.html").is_file() {
        router.fallback_service(ServeDir::new(&assets).fallback(ServeFile::new(assets.join("index.html"))))
    } else {
        router.fallback(not_built)
    }
}

async fn not_built() -> Response {
    (
        StatusCode::NOT_FOUND,
        Html(
            "<!doctype html><meta charset=utf-8><title>Hutong</title>\
             <p>大屏尚未构建。请运行 <code>cargo xtask demo</code>。</p>\
             <p>The dashboards are not built: run <code>cargo xtask demo</code>. The API is at <a href=/api/openapi.json>/api/openapi.json</a>.</p>",
        ),
    )
        .into_response()
}


#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use serde_json::Value;
    use tower::ServiceExt;

    /// R3: an actor left stopped after failing too often makes `/healthz` say `degraded` (still
    /// 200: the rest serves on), with how many are down.
    #[tokio::test]
    async fn an_actor_left_stopped_is_reported_on_healthz() {
        let app = App::in_memory().await.unwrap();
        app.ready.store(true, std::sync::atomic::Ordering::Release);
        let health = |app: Arc<App>| async move {
            let reply = router(app).oneshot(Request::builder().uri("/healthz").body(Body::empty()).unwrap()).await.unwrap();
            let bytes = axum::body::to_bytes(reply.into_body(), 1 << 16).await.unwrap();
            serde_json::from_slice::<Value>(&bytes).unwrap()
        };
        assert_eq!(health(app.clone()).await["status"], "ready");
        app.metrics.inc("hutong_actor_gave_up_total", &[("community", "c1")]);
        let reply = health(app).await;
        assert_eq!((reply["status"].as_str(), reply["actors_down"].as_u64()), (Some("degraded"), Some(1)));
    }

    /// Every declared route is routed (never the router's own 404/405), and every route that is
    /// not public refuses a caller without a session — in-process, no binary, no network.
    #[tokio::test]
    async fn every_declared_route_is_routed_and_guarded_by_its_own_access() {
        let app = App::in_memory().await.unwrap();
        let router = router(app);
        for route in ROUTES {
            let path = route.path.replace("{community}", "c1").replace("{staff}", "s1").replace("{device}", "d1").replace("{bill}", "b1").replace("{payment}", "p1");
            let request = Request::builder().method(route.method.clone()).uri(&path).header("content-type", "application/json").body(Body::from("{}")).unwrap();
            let status = router.clone().oneshot(request).await.unwrap().status();
            assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{} {path}", route.method);
            match route.access {
                Access::Public => assert_ne!(status, StatusCode::UNAUTHORIZED, "{} {path} is public", route.method),
                _ => assert_eq!(status, StatusCode::UNAUTHORIZED, "{} {path} needs a session", route.method),
            }
        }
    }


    fn refs(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                if let Some(Value::String(r)) = m.get("$ref") {
                    out.push(r.clone());
                }
                m.values().for_each(|v| refs(v, out));
            }
            Value::Array(a) => a.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }

    #[test]
    fn every_route_has_an_operation_and_every_schema_it_names_exists() {
        let doc = document();
        for route in ROUTES {
            let op = &doc["paths"][route.path][route.method.as_str().to_ascii_lowercase()];
            assert!(op.is_object(), "{} {} has no operation", route.method, route.path);
            assert!(!route.doc.summary.is_empty(), "{} {} has no summary", route.method, route.path);
            // A route that takes a body says what it takes: every PUT, PATCH and POST but the
            // actions named by their path alone.
            let bodiless = ["/logout", "/finance-access", "/disable", "/enable", "/delete", "/rotate", "/revoke", "/open", "/acknowledge", "/pairing-code", "/new-code", "/accept", "/archive", "/work-order", "/withdraw"].iter().any(|end| route.path.ends_with(end));
            // The sandbox provider's checkout is a page's form, not a JSON API.
            let takes_body = matches!(route.method.as_str(), "PUT" | "PATCH" | "POST") && !bodiless && !route.path.starts_with("/sandbox/");
            assert_eq!(op["requestBody"].is_object(), takes_body, "{} {}", route.method, route.path);
        }
        let mut named = Vec::new();
        refs(&doc, &mut named);
        assert!(!named.is_empty());
        for r in named {
            let name = r.trim_start_matches("#/components/schemas/");
            assert!(doc["components"]["schemas"][name].is_object(), "{r} is referenced but missing");
        }
        assert!(doc["components"]["schemas"]["NewStaff"]["properties"]["password"].is_object());
        // Replies are described field by field, the book's rows too.
        let schemas = &doc["components"]["schemas"];
        assert_eq!(schemas["BillRow"]["properties"]["amount"]["$ref"], "#/components/schemas/Money", "{}", schemas["BillRow"]);
        assert_eq!(schemas["Money"]["type"], "string", "amounts travel as decimal strings");
        assert!(schemas["BillPage"]["properties"]["rows"].is_object());
        assert!(schemas["Payment"]["properties"]["parts"].is_object());
    }
}
