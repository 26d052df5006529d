//! Administration screens (X1, X3): staff and roles, and the audit log. They show what the API
//! gives the signed-in admin — their own company only, phones masked — and say the server's own
//! sentence when it refuses something.

use hutong_core::api::{DisabledReply, NewStaff, StaffView};
use hutong_core::identity::{AuditEntry, Role};
use hutong_core::{CommunityId, RoleId};
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::http::{get_json as get, post_json};

#[component]
pub fn StaffScreen(communities: Vec<(String, String)>, may_write: bool) -> impl IntoView {
    let staff = RwSignal::new(Vec::<StaffView>::new());
    let roles = RwSignal::new(Vec::<Role>::new());
    let message = RwSignal::new(String::new());
    let reload = move || {
        spawn_local(async move {
            match get::<Vec<StaffView>>("/api/v1/staff").await {
                Ok(s) => staff.set(s),
                Err(e) => message.set(e),
            }
            if let Ok(r) = get::<Vec<Role>>("/api/v1/roles").await {
                roles.set(r);
            }
        })
    };
    reload();

    let (account, name, phone, password) = (RwSignal::new(String::new()), RwSignal::new(String::new()), RwSignal::new(String::new()), RwSignal::new(String::new()));
    let role = RwSignal::new("cashier".to_string());
    let community = RwSignal::new(communities.first().map(|c| c.0.clone()).unwrap_or_default());
    let create = move |ev: web_sys::SubmitEvent| {
        ev.prevent_default();
        let body = NewStaff {
            account: account.get_untracked(),
            name: name.get_untracked(),
            phone: phone.get_untracked(),
            password: password.get_untracked(),
            roles: vec![RoleId::new(role.get_untracked())],
            communities: [CommunityId::new(community.get_untracked())].into(),
            buildings: Default::default(),
            department: None,
            post: None,
        };
        spawn_local(async move {
            match post_json::<_, StaffView>("/api/v1/staff", &body).await {
                Ok(_) => {
                    message.set("已创建 / created".into());
                    reload();
                }
                Err(e) => message.set(e),
            }
        });
    };
    let disable = move |id: String| {
        spawn_local(async move {
            match post_json::<_, DisabledReply>(&format!("/api/v1/staff/{id}/disable"), &()).await {
                Ok(_) => reload(),
                Err(e) => message.set(e),
            }
        })
    };
    // Wall displays: added with a name and a community; the pairing code is shown here once.
    let display_name = RwSignal::new(String::new());
    let display_community = RwSignal::new(communities.first().map(|c| c.0.clone()).unwrap_or_default());
    let pairing = RwSignal::new(String::new());
    let show_code = move |reply: Result<serde_json::Value, String>| match reply {
        Ok(v) => {
            let (code, name) = (v["code"].as_str().unwrap_or_default(), v["display"]["name"].as_str().unwrap_or_default());
            pairing.set(format!("{name} 的配对码：{code}（15 分钟内在显示屏上输入）"));
            reload();
        }
        Err(e) => message.set(e),
    };
    let add_display = move |ev: web_sys::SubmitEvent| {
        ev.prevent_default();
        let body = serde_json::json!({"name": display_name.get_untracked(), "communities": [display_community.get_untracked()]});
        spawn_local(async move { show_code(post_json::<_, serde_json::Value>("/api/v1/displays", &body).await) });
    };
    let new_code = move |id: String| {
        spawn_local(async move { show_code(post_json::<_, serde_json::Value>(&format!("/api/v1/displays/{id}/pairing-code"), &()).await) });
    };
    let display_options = communities.clone();
    let role_name = move |id: &RoleId| roles.with(|r| r.iter().find(|r| r.id == *id).map_or(id.to_string(), |r| r.name.clone()));
    let options = communities.clone();
    view! {
        <div class="admin" data-test="staff-screen">
            <h2>"员工与角色"</h2>
            <table data-test="staff-table">
                <thead><tr><th>"账号"</th><th>"姓名"</th><th>"手机"</th><th>"角色"</th><th>"管辖范围"</th><th>"状态"</th><th></th></tr></thead>
                <tbody>
                    {move || staff.get().into_iter().map(|s| {
                        let id = s.id.to_string();
                        let join = |ids: Vec<String>| ids.join("、");
                        let communities = join(s.communities.iter().map(ToString::to_string).collect());
                        let scope = if s.buildings.is_empty() { communities } else { format!("{communities}（{}）", join(s.buildings.iter().map(ToString::to_string).collect())) };
                        view! {
                            <tr>
                                <td>{s.account.clone()}</td><td>{s.name.clone()}</td><td>{s.phone.clone()}</td>
                                <td>{s.roles.iter().map(|r| role_name(r)).collect::<Vec<_>>().join("、")}</td>
                                <td>{scope}</td>
                                <td>{if s.disabled { "已停用" } else { "正常" }}</td>
                                <td>
                                    {(may_write && !s.disabled).then(|| { let id = id.clone(); view! { <button on:click=move |_| disable(id.clone())>"停用"</button> } })}
                                    {(may_write && !s.disabled && s.account.starts_with("display-")).then(|| view! { <button data-test="new-pairing-code" on:click=move |_| new_code(id.clone())>"新配对码"</button> })}
                                </td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
            {may_write.then(|| view! {
                <form class="inline" on:submit=create data-test="staff-form">
                    <input placeholder="账号" prop:value=account on:input=move |ev| account.set(event_target_value(&ev)) />
                    <input placeholder="姓名" prop:value=name on:input=move |ev| name.set(event_target_value(&ev)) />
                    <input placeholder="手机" prop:value=phone on:input=move |ev| phone.set(event_target_value(&ev)) />
                    <input placeholder="初始密码（至少8位）" type="password" prop:value=password on:input=move |ev| password.set(event_target_value(&ev)) />
                    <select on:change=move |ev| role.set(event_target_value(&ev))>
                        {move || roles.get().into_iter().map(|r| { let selected = r.id.as_str() == role.get_untracked(); view! { <option value=r.id.to_string() selected=selected>{r.name}</option> } }).collect_view()}
                    </select>
                    <select on:change=move |ev| community.set(event_target_value(&ev))>
                        {options.iter().map(|(id, n)| view! { <option value=id.clone()>{n.clone()}</option> }).collect_view()}
                    </select>
                    <button type="submit">"新增员工"</button>
                </form>
            })}
            <p class="message" data-test="staff-message">{move || message.get()}</p>
            {may_write.then(|| view! {
                <h2>"监控大屏显示屏"</h2>
                <form class="inline" on:submit=add_display data-test="display-form">
                    <input name="display-name" placeholder="显示屏名称，如 监控中心左屏" prop:value=display_name on:input=move |ev| display_name.set(event_target_value(&ev)) />
                    <select on:change=move |ev| display_community.set(event_target_value(&ev))>
                        {display_options.iter().map(|(id, n)| view! { <option value=id.clone()>{n.clone()}</option> }).collect_view()}
                    </select>
                    <button type="submit">"添加显示屏"</button>
                </form>
                <p class="pairing" data-test="pairing-code">{move || pairing.get()}</p>
            })}
            <h2>"角色"</h2>
            <table>
                <thead><tr><th>"角色"</th><th>"权限"</th><th>"类型"</th></tr></thead>
                <tbody>
                    {move || roles.get().into_iter().map(|r| view! {
                        <tr><td>{r.name}</td><td class="small">{r.permissions.iter().map(ToString::to_string).collect::<Vec<_>>().join(" ")}</td><td>{if r.builtin { "内置" } else { "自定义" }}</td></tr>
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
}

#[component]
pub fn AuditScreen() -> impl IntoView {
    let rows = RwSignal::new(Vec::<AuditEntry>::new());
    let actor = RwSignal::new(String::new());
    let action = RwSignal::new(String::new());
    let message = RwSignal::new(String::new());
    let search = move || {
        let mut query = vec!["limit=200".to_string()];
        for (k, v) in [("actor", actor.get_untracked()), ("action", action.get_untracked())] {
            if !v.is_empty() {
                query.push(format!("{k}={}", js_sys::encode_uri_component(&v)));
            }
        }
        spawn_local(async move {
            match get::<Vec<AuditEntry>>(&format!("/api/v1/audit?{}", query.join("&"))).await {
                Ok(r) => {
                    message.set(String::new());
                    rows.set(r);
                }
                Err(e) => message.set(e),
            }
        })
    };
    search();
    view! {
        <div class="admin" data-test="audit-screen">
            <h2>"审计日志"</h2>
            <form class="inline" on:submit=move |ev: web_sys::SubmitEvent| { ev.prevent_default(); search(); }>
                <input placeholder="操作人账号" prop:value=actor on:input=move |ev| actor.set(event_target_value(&ev)) />
                <input placeholder="操作（如 auth.sign_in）" prop:value=action on:input=move |ev| action.set(event_target_value(&ev)) />
                <button type="submit">"查询"</button>
            </form>
            <p class="message">{move || message.get()}</p>
            <table data-test="audit-table">
                <thead><tr><th>"#"</th><th>"时间 (UTC)"</th><th>"操作人"</th><th>"操作"</th><th>"对象"</th><th>"结果"</th><th>"IP"</th></tr></thead>
                <tbody>
                    {move || rows.get().into_iter().map(|r| {
                        let class = if r.outcome == "ok" { "" } else { "warn" };
                        view! {
                        <tr class=class>
                            <td>{r.seq}</td><td>{r.at.format("%Y-%m-%d %H:%M:%S").to_string()}</td><td>{r.actor}</td>
                            <td>{r.action}</td><td>{r.target}</td><td>{r.outcome}</td><td>{r.ip.unwrap_or_default()}</td>
                        </tr>
                    }}).collect_view()}
                </tbody>
            </table>
        </div>
    }
}
