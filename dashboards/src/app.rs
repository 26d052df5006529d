//! The shell every screen sits in: sign-in first, then the signed-in person's name, their
//! communities and the screens their role opens — the wall for roles that may read devices.
//! A role without a screen here yet is told what its account covers, not shown someone else's.
//! Every screen has its own URL (`/wall/heyuan`, `/desk/heyuan`, `/chart/heyuan`, `/manager/heyuan`, `/patrol/heyuan`, `/staff`,
//! `/audit`, `/workspace`), so a reload or a link lands on it; `/` opens the role's first screen.

use hutong_core::api::{CommunitySummary as Community, Me};
use hutong_core::identity::{Module, Permission};
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::{Route, Router, Routes};
use leptos_router::hooks::{use_location, use_params_map};

use leptos_router::path;

use crate::admin::{AuditScreen, StaffScreen};
use crate::http::{error_message, get_json, request};
use crate::chart::ChartScreen;
use crate::desk::DeskScreen;
use crate::manager::ManagerScreen;
use crate::patrol::{PatrolScreen, ScanScreen};
use crate::wall::WallScreen;


/// Where the signed-in person stands.
#[derive(Clone, Debug, PartialEq)]
enum Session {
    Checking,
    SignedOut,
    SignedIn(Me, Vec<Community>),
}

async fn load_session() -> Session {
    let Ok(me) = get_json::<Me>("/api/v1/me").await else { return Session::SignedOut };
    let communities = get_json::<Vec<Community>>("/api/v1/communities").await.unwrap_or_default();
    Session::SignedIn(me, communities)
}

#[component]
pub fn App() -> impl IntoView {
    // The community's posted QR code opens the report form for anyone, signed in or not.
    let path = web_sys::window().and_then(|w| w.location().pathname().ok()).unwrap_or_default();
    if path == "/report" {
        return view! { <crate::work::ReportScreen /> }.into_any();
    }
    let session = RwSignal::new(Session::Checking);
    spawn_local(async move { session.set(load_session().await) });
    view! {
        <Router>
            {move || match session.get() {
                Session::Checking => view! { <div class="center">"正在加载…"</div> }.into_any(),
                Session::SignedOut => view! { <SignIn session /> }.into_any(),
                Session::SignedIn(me, communities) if me.kind == "display" => view! { <DisplayWall communities /> }.into_any(),
                Session::SignedIn(me, _) if me.kind == "owner" => view! { <OwnerHome me session /> }.into_any(),
                Session::SignedIn(me, communities) => view! { <Home me communities session /> }.into_any(),
            }}
        </Router>
    }
    .into_any()
}

/// The `:community` of the current URL.
fn community_param() -> impl Fn() -> String + Copy + Send + Sync + 'static {
    let params = use_params_map();
    move || params.with(|p| p.get("community").unwrap_or_default())
}

/// A figure for each community, read from one of its routes once the workspace opens (those
/// that answered, in the communities' order); nothing is asked when `allowed` is false.
fn per_community<T, F>(allowed: bool, pairs: &[(String, String)], path: impl Fn(&str) -> String, figure: impl Fn(T) -> F + 'static) -> RwSignal<Vec<(String, String, F)>>
where
    T: serde::de::DeserializeOwned,
    F: Send + Sync + 'static,
{
    let figures = RwSignal::new(Vec::new());
    if allowed {
        let asks: Vec<(String, String, String)> = pairs.iter().map(|(id, name)| (id.clone(), name.clone(), path(id))).collect();
        spawn_local(async move {
            let mut list = Vec::new();
            for (id, name, path) in asks {
                if let Ok(answer) = get_json::<T>(&path).await {
                    list.push((id, name, figure(answer)));
                }
            }
            figures.set(list);
        });
    }
    figures
}

#[component]
fn WallRoute(may_operate: bool) -> impl IntoView {
    let community = community_param();
    move || view! { <WallScreen community=community() may_operate /> }
}

#[component]
fn DeskRoute(may_write_billing: bool) -> impl IntoView {
    let community = community_param();
    move || view! { <DeskScreen community=community() may_write_billing /> }
}

#[component]
fn PatrolRoute() -> impl IntoView {
    let community = community_param();
    move || view! { <PatrolScreen community=community() /> }
}

#[component]
fn WorkRoute() -> impl IntoView {
    let community = community_param();
    move || view! { <crate::work::WorkScreen community=community() /> }
}

#[component]
fn PatrolSetupRoute() -> impl IntoView {
    let community = community_param();
    move || view! { <crate::patrol_setup::PatrolSetupScreen community=community() /> }
}

#[component]
fn ChartRoute(may_write_billing: bool) -> impl IntoView {
    let community = community_param();
    move || view! { <ChartScreen community=community() may_write=may_write_billing /> }
}

#[component]
fn ManagerRoute() -> impl IntoView {
    let community = community_param();
    move || view! { <ManagerScreen community=community() /> }
}

/// A paired wall display: its communities' walls, one after another (every `?cycle=` seconds,
/// 30 by default) when it shows several; no navigation, nothing to click.
#[component]
fn DisplayWall(communities: Vec<Community>) -> impl IntoView {
    let ids: Vec<String> = communities.iter().map(|c| c.id.to_string()).collect();
    let count = ids.len();
    let shown = RwSignal::new(0usize);
    let every = web_sys::window()
        .and_then(|w| w.location().search().ok())
        .and_then(|q| web_sys::UrlSearchParams::new_with_str(&q).ok())
        .and_then(|p| p.get("cycle"))
        .and_then(|v| v.parse::<u64>().ok())
        .filter(|s| (3..=3600).contains(s))
        .unwrap_or(30);
    if count > 1 {
        set_interval(move || shown.update(|i| *i = (*i + 1) % count), std::time::Duration::from_secs(every));
    }
    move || match ids.get(shown.get()) {
        Some(id) => view! { <WallScreen community=id.clone() may_operate=false display=true /> }.into_any(),
        None => view! { <div class="center" data-test="session-gone">"此显示屏没有可显示的小区"</div> }.into_any(),
    }
}

#[component]
fn SignIn(session: RwSignal<Session>) -> impl IntoView {
    let account = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let error = RwSignal::new(String::new());
    let submit = move |ev: web_sys::SubmitEvent| {
        ev.prevent_default();
        let body = serde_json::json!({"account": account.get_untracked(), "password": password.get_untracked()}).to_string();
        spawn_local(async move {
            match request("POST", "/api/v1/auth/login", Some(body)).await {
                Some((200, _)) => session.set(load_session().await),
                Some((_, body)) => error.set(error_message(&body)),
                None => error.set(error_message("")),
            }
        });
    };
    view! {
        <form class="signin" on:submit=submit data-test="signin">
            <h1>"胡同 · 智慧社区运营平台"</h1>
            <label>"账号"<input name="account" autocomplete="username" prop:value=account on:input=move |ev| account.set(event_target_value(&ev)) /></label>
            <label>"密码"<input name="password" type="password" autocomplete="current-password" prop:value=password on:input=move |ev| password.set(event_target_value(&ev)) /></label>
            <button type="submit">"登录"</button>
            <p class="error" data-test="signin-error">{move || error.get()}</p>
        </form>
        <crate::owner::OwnerSignIn signed_in=Callback::new(move |_| spawn_local(async move { session.set(load_session().await) })) />
        <PairForm session />
    }
}

/// An owner's phone: their bills and paying them, and signing out.
#[component]
fn OwnerHome(me: Me, session: RwSignal<Session>) -> impl IntoView {
    let sign_out = move |_| {
        spawn_local(async move {
            let _ = request("POST", "/api/v1/auth/logout", Some(String::new())).await;
            session.set(Session::SignedOut);
        })
    };
    view! {
        <div class="shell owner">
            <nav><span data-test="who">{me.account.clone()}</span><button on:click=sign_out data-test="signout">"退出"</button></nav>
            <crate::owner::OwnerScreen name=me.name.clone() />
        </div>
    }
}

/// A wall display types the one-time code the office was shown when it added the display.
#[component]
fn PairForm(session: RwSignal<Session>) -> impl IntoView {
    let code = RwSignal::new(String::new());
    let error = RwSignal::new(String::new());
    let submit = move |ev: web_sys::SubmitEvent| {
        ev.prevent_default();
        let body = serde_json::json!({"code": code.get_untracked()}).to_string();
        spawn_local(async move {
            match request("POST", "/api/v1/auth/pair", Some(body)).await {
                Some((200, _)) => session.set(load_session().await),
                Some((_, body)) => error.set(error_message(&body)),
                None => error.set(error_message("")),
            }
        });
    };
    view! {
        <form class="signin pair" on:submit=submit data-test="pair">
            <h2>"监控大屏配对"</h2>
            <label>"配对码"<input name="code" autocomplete="off" prop:value=code on:input=move |ev| code.set(event_target_value(&ev)) /></label>
            <button type="submit">"配对"</button>
            <p class="error" data-test="pair-error">{move || error.get()}</p>
        </form>
    }
}

#[component]
fn Home(me: Me, communities: Vec<Community>, session: RwSignal<Session>) -> impl IntoView {
    let may_watch = me.may(Permission::Read(Module::Devices));
    let may_admin = me.may(Permission::Read(Module::Settings));
    let may_write_staff = me.may(Permission::Write(Module::Settings));
    let may_bill = me.may(Permission::Read(Module::Billing));
    let may_write_billing = me.may(Permission::Write(Module::Billing));
    // The control room takes and resolves alarms from the wall; a paired display only shows them.
    let may_operate = me.may(Permission::Operate(Module::Devices));
    let may_see_collection = me.may(Permission::Read(Module::Collection)) && me.may(Permission::Read(Module::Reports));
    let may_patrol = me.may(Permission::Read(Module::Patrol));
    let may_work = me.may(Permission::Read(Module::WorkOrders));
    // The community screens need a community; a company that has none yet starts at set-up.
    let (may_watch, may_bill, may_see_collection, may_patrol, may_work) = {
        let some = !communities.is_empty();
        (may_watch && some, may_bill && some, may_see_collection && some, may_patrol && some, may_work && some)
    };
    let may_platform = me.may(Permission::ManagePlatform);
    let first = communities.first().map(|c| c.id.to_string()).unwrap_or_default();
    // What `/` shows: the wall for those who watch it, else the desk, else the workspace.
    // (Rendered in place, not redirected: a navigation while the routes first render is refused.)
    #[derive(Clone, Copy)]
    enum Start {
        Wall,
        Desk,
        Patrol,
        Work,
        Companies,
        Setup,
        Workspace,
    }
    let start = match () {
        _ if may_platform => Start::Companies,
        // A company's administrator with no community yet starts by setting one up.
        _ if communities.is_empty() && may_write_staff => Start::Setup,
        _ if communities.is_empty() => Start::Workspace,
        _ if may_watch => Start::Wall,
        _ if may_bill => Start::Desk,
        // A guard's phone opens on today's rounds.
        _ if may_patrol => Start::Patrol,
        // A technician's phone opens on their orders.
        _ if may_work => Start::Work,
        _ => Start::Workspace,
    };
    let modules: Vec<&'static str> = me.modules().into_iter().map(Module::label_zh).collect();
    provide_context(crate::work::WorkViewer { account: me.account.clone(), may_operate: me.may(Permission::Operate(Module::WorkOrders)) });
    provide_context(crate::patrol::Viewer { account: me.account.clone(), may_set_up: me.may(Permission::Write(Module::Settings)) });
    let navigate = leptos_router::hooks::use_navigate();
    let sign_out = move |_| {
        let navigate = navigate.clone();
        spawn_local(async move {
            let _ = request("POST", "/api/v1/auth/logout", Some(String::new())).await;
            // The next person starts from their own first screen, not this one's.
            navigate("/", Default::default());
            session.set(Session::SignedOut);
        })
    };
    let names: Vec<String> = communities.iter().map(|c| c.name.clone()).collect();
    let pairs: Vec<(String, String)> = communities.iter().map(|c| (c.id.to_string(), c.name.clone())).collect();
    let setup_pairs = StoredValue::new(pairs.clone());
    let workspace_names = names.clone();
    // What waits for this person (X4), community by community, each as their rights allow: the
    // open alarms for those who handle them; the work orders given to them, not yet accepted or not
    // yet done; for the office, orders to review or dispatch, owners asking to be registered,
    // homes handed over or being decorated (交房装修情况), and this month's collection rate.
    let account = me.account.clone();
    let waiting = per_community(may_operate, &pairs, |id| format!("/api/v1/communities/{id}/alarms"), |list: serde_json::Value| {
        let open = list["open"].as_array().cloned().unwrap_or_default();
        let untaken = open.iter().filter(|a| a["acknowledged"].is_null()).count();
        (untaken, open.len() - untaken)
    });
    let orders = per_community(may_work, &pairs, |id| format!("/api/v1/communities/{id}/work-orders?with=mine"), move |list: Vec<hutong_core::work_order::WorkOrderTile>| {
        let waiting = list.iter().filter(|o| o.waits_for(&account)).count();
        (waiting, list.iter().filter(|o| o.status.is_open()).count() - waiting)
    });
    let to_dispatch = per_community(may_work && me.may(Permission::Operate(Module::WorkOrders)), &pairs, |id| format!("/api/v1/communities/{id}/work-orders"), |list: Vec<hutong_core::work_order::WorkOrderTile>| {
        list.iter().filter(|o| o.status < hutong_core::work_order::Status::Dispatched).count()
    });
    let to_register = per_community(may_write_billing && may_bill, &pairs, |id| format!("/api/v1/communities/{id}/owner-registrations"), |list: Vec<serde_json::Value>| {
        list.iter().filter(|r| r["state"] == "waiting").count()
    });
    let handed_over = per_community(may_bill, &pairs, |id| format!("/api/v1/communities/{id}/house-stats"), |stats: hutong_core::api::HouseStats| {
        let of = |label: &str| stats.by_state.get(label).copied().unwrap_or(0);
        (of("已交房"), of("装修中"))
    });
    let rates = per_community(may_see_collection, &pairs, |id| format!("/api/v1/communities/{id}/money"), |m: hutong_core::book::CommunityMoney| m.rate_month.percent.to_string());
    let workspace = move || view! {
        <div class="workspace" data-test="workspace">
            <h2>"我的工作台"</h2>
            <p>{format!("管辖小区：{}", workspace_names.join("、"))}</p>
            <p>{format!("本账号可用模块：{}", modules.join("、"))}</p>
            {(!may_watch).then(|| view! { <p class="dim">"本账号没有查看监控大屏的权限。"</p> })}
            <ul class="waiting" data-test="waiting">
                {move || waiting.get().into_iter().map(|(id, name, (untaken, taken))| view! {
                    <li><a href=format!("/wall/{id}")>{format!("{name}：待接手告警 {untaken} 条，处理中 {taken} 条")}</a></li>
                }).collect_view()}
                {move || orders.get().into_iter().map(|(id, name, (waiting, doing))| view! {
                    <li><a href=format!("/work/{id}")>{format!("{name}：待接工单 {waiting} 张，处理中 {doing} 张")}</a></li>
                }).collect_view()}
                {move || to_dispatch.get().into_iter().filter(|(_, _, n)| *n > 0).map(|(id, name, n)| view! {
                    <li><a href=format!("/work/{id}")>{format!("{name}：待审核派工 {n} 张")}</a></li>
                }).collect_view()}
                {move || to_register.get().into_iter().filter(|(_, _, n)| *n > 0).map(|(id, name, n)| view! {
                    <li><a href=format!("/desk/{id}")>{format!("{name}：待审核业主注册 {n} 条")}</a></li>
                }).collect_view()}
                {move || handed_over.get().into_iter().filter(|(_, _, (h, d))| h + d > 0).map(|(id, name, (handed, decorating))| view! {
                    <li><a href=format!("/chart/{id}")>{format!("{name}：已交房待入住 {handed} 户，装修中 {decorating} 户")}</a></li>
                }).collect_view()}
                {move || rates.get().into_iter().map(|(id, name, rate)| view! {
                    <li><a href=format!("/manager/{id}")>{format!("{name}：本月收缴率 {rate}%")}</a></li>
                }).collect_view()}
            </ul>
        </div>
    };
    let location = use_location();
    let tab = move |prefix: &'static str, href: String, label: &'static str, test: &'static str| {
        // `/work` is not `/workspace`: the prefix must end where a path segment does.
        let on = move || location.pathname.with(|p| p.strip_prefix(prefix).is_some_and(|rest| rest.is_empty() || rest.starts_with('/')));
        view! { <a class=move || if on() { "tab on" } else { "tab" } href=href data-test=test>{label}</a> }
    };
    let first = StoredValue::new(first);
    let at = move |screen: &str| format!("/{screen}/{}", first.get_value());
    view! {
        <div class="shell">
            <nav>
                <span data-test="who">{format!("{} · {}", me.name, me.account)}</span>
                <span data-test="communities">{names.join(" · ")}</span>
                {may_watch.then(|| tab("/wall", at("wall"), "监控大屏", "tab-wall"))}
                {tab("/workspace", "/workspace".into(), "工作台", "tab-workspace")}
                {may_bill.then(|| tab("/desk", at("desk"), "缴费记录", "tab-desk"))}
                {may_bill.then(|| tab("/chart", at("chart"), "销控图", "tab-chart"))}
                {may_see_collection.then(|| tab("/manager", at("manager"), "收缴情况", "tab-manager"))}
                {may_patrol.then(|| tab("/patrol", at("patrol"), "巡更", "tab-patrol"))}
                {may_work.then(|| tab("/work", at("work"), "工单", "tab-work"))}
                {may_platform.then(|| tab("/companies", "/companies".into(), "物业公司", "tab-companies"))}
                {may_write_staff.then(|| tab("/setup", "/setup".into(), "小区设置", "tab-setup"))}
                {may_admin.then(|| tab("/staff", "/staff".into(), "员工与角色", "tab-staff"))}
                {may_admin.then(|| tab("/audit", "/audit".into(), "审计日志", "tab-audit"))}
                <button on:click=sign_out data-test="signout">"退出"</button>
            </nav>
            <Routes fallback=workspace.clone()>
                <Route path=path!("/") view={
                    let workspace = workspace.clone();
                    move || match start {
                    Start::Wall => view! { <WallScreen community=first.get_value() may_operate /> }.into_any(),
                    Start::Desk => view! { <DeskScreen community=first.get_value() may_write_billing /> }.into_any(),
                    Start::Patrol => view! { <PatrolScreen community=first.get_value() /> }.into_any(),
                    Start::Work => view! { <crate::work::WorkScreen community=first.get_value() /> }.into_any(),
                    Start::Companies => view! { <crate::setup::CompaniesScreen /> }.into_any(),
                    Start::Setup => view! { <crate::setup::SetupScreen communities=setup_pairs.get_value() /> }.into_any(),
                    Start::Workspace => workspace().into_any(),
                    }
                } />
                <Route path=path!("/wall/:community") view=move || view! { <WallRoute may_operate /> } />
                <Route path=path!("/desk/:community") view=move || view! { <DeskRoute may_write_billing /> } />
                <Route path=path!("/manager/:community") view=ManagerRoute />
                <Route path=path!("/chart/:community") view=move || view! { <ChartRoute may_write_billing /> } />
                <Route path=path!("/patrol/scan") view=ScanScreen />
                <Route path=path!("/patrol/:community/setup") view=PatrolSetupRoute />
                <Route path=path!("/patrol/:community") view=PatrolRoute />
                <Route path=path!("/work/:community") view=WorkRoute />
                <Route path=path!("/staff") view=move || view! { <StaffScreen communities=pairs.clone() may_write=may_write_staff /> } />
                <Route path=path!("/audit") view=AuditScreen />
                <Route path=path!("/setup") view=move || view! { <crate::setup::SetupScreen communities=setup_pairs.get_value() /> } />
                <Route path=path!("/companies") view=crate::setup::CompaniesScreen />
                <Route path=path!("/workspace") view=workspace.clone() />
            </Routes>
        </div>
    }
}
