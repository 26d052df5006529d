//! Setting the organisation up on screen (C1–C5): a community from nothing (its buildings laid
//! out by units, floors and homes per floor), more buildings or homes for a running one, the house
//! & resident spreadsheet, and the company's branches and 片区 with each community placed in
//! them; the devices of each community (`crate::devices`). The platform operator's screen adds
//! property companies. Every refusal shows the
//! server's own sentence.

use hutong_core::api::{ImportReport, OrgView};
use leptos::prelude::*;
use leptos::task::spawn_local;
use serde_json::{Value, json};
use wasm_bindgen::JsCast;

use crate::http::{error_message, get_json, post_json, request, upload};

/// One building as the form lays it out: every unit has the same floors, every floor the same
/// number of homes (`{floor}{nn}`: 101, 102 …), all of one area. Odd buildings are imported.
#[derive(Clone, Debug, PartialEq)]
struct Layout {
    no: u32,
    units: u32,
    floors: i32,
    per_floor: u32,
    area: String,
}

impl Layout {
    fn plan(&self) -> Value {
        let floors: Vec<Value> = (1..=self.floors)
            .map(|f| json!({"no": f, "rooms": (1..=self.per_floor).map(|n| json!({"room": format!("{f}{n:02}"), "area": self.area})).collect::<Vec<_>>()}))
            .collect();
        json!({"no": self.no, "units": (1..=self.units).map(|u| json!({"no": u, "floors": floors})).collect::<Vec<_>>()})
    }

    fn label(&self) -> String {
        format!("{}号楼：{} 单元 × {} 层 × 每层 {} 户，{} m²（共 {} 户）", self.no, self.units, self.floors, self.per_floor, self.area, self.units * self.floors.max(0) as u32 * self.per_floor)
    }
}

/// The layout form: a building number, units, floors, homes per floor and the area.
#[component]
fn LayoutForm(on_add: Callback<Layout>, #[prop(into)] label: String) -> impl IntoView {
    let (no, units, floors, per_floor, area) = (RwSignal::new("1".to_string()), RwSignal::new("1".to_string()), RwSignal::new("6".to_string()), RwSignal::new("2".to_string()), RwSignal::new("88.50".to_string()));
    let error = RwSignal::new(String::new());
    let add = move |ev: web_sys::SubmitEvent| {
        ev.prevent_default();
        let parsed = (no.get_untracked().trim().parse(), units.get_untracked().trim().parse(), floors.get_untracked().trim().parse(), per_floor.get_untracked().trim().parse());
        match parsed {
            (Ok(no), Ok(units), Ok(floors), Ok(per_floor)) if no > 0 && (1..=20).contains(&units) && (1..=99).contains(&floors) && (1..=99).contains(&per_floor) => {
                error.set(String::new());
                on_add.run(Layout { no, units, floors, per_floor, area: area.get_untracked().trim().to_string() });
            }
            _ => error.set("楼号、单元（1–20）、层数与每层户数（1–99）须为正整数 / numbers, please".into()),
        }
    };
    let field = |name: &'static str, text: &'static str, value: RwSignal<String>| view! {
        <label>{text}<input name=name size="6" prop:value=value on:input=move |ev| value.set(event_target_value(&ev)) /></label>
    };
    view! {
        <form class="inline layout" on:submit=add data-test="layout-form">
            {field("no", "楼号", no)}
            {field("units", "单元数", units)}
            {field("floors", "层数", floors)}
            {field("per-floor", "每层户数", per_floor)}
            {field("area", "面积 m²", area)}
            <button type="submit">{label}</button>
            <span class="error">{move || error.get()}</span>
        </form>
    }
}

/// An import's refused rows: which row, which column, why.
#[component]
pub fn RowReport(report: RwSignal<Option<ImportReport>>, test: &'static str) -> impl IntoView {
    view! {
        <table class="errors" data-test=test>
            <tbody>{move || report.get().map(|r| r.errors.into_iter().map(|e| view! { <tr><td>{format!("第 {} 行", e.row)}</td><td>{e.column}</td><td>{e.reason}</td></tr> }).collect_view())}</tbody>
        </table>
    }
}

#[component]
pub fn SetupScreen(communities: Vec<(String, String)>) -> impl IntoView {
    let message = RwSignal::new(String::new());
    let say = move |text: String| message.set(text);

    // Branches, 片区 and where each community sits.
    let org = RwSignal::new(None::<OrgView>);
    let load_org = move || spawn_local(async move {
        if let Ok(o) = get_json::<OrgView>("/api/v1/org").await {
            org.set(Some(o));
        }
    });
    load_org();

    // A new community: id, name, zone and the buildings laid out so far.
    let (id, name, zone) = (RwSignal::new(String::new()), RwSignal::new(String::new()), RwSignal::new("Asia/Shanghai".to_string()));
    let planned = RwSignal::new(Vec::<Layout>::new());
    let plan_building = Callback::new(move |l: Layout| planned.update(|p| {
        p.retain(|x| x.no != l.no);
        p.push(l);
        p.sort_by_key(|x| x.no);
    }));
    let made = RwSignal::new(None::<String>);
    let create = move |_| {
        let body = json!({
            "id": id.get_untracked().trim(), "name": name.get_untracked().trim(), "time_zone": zone.get_untracked(),
            "buildings": planned.get_untracked().iter().map(Layout::plan).collect::<Vec<_>>(),
        });
        spawn_local(async move {
            match post_json::<_, Value>("/api/v1/communities", &body).await {
                Ok(v) => {
                    planned.set(Vec::new());
                    say(format!("已建立小区 {}：{} 栋楼，{} 户。", v["name"].as_str().unwrap_or_default(), v["buildings"], v["houses"]));
                    made.set(v["id"].as_str().map(String::from));
                    load_org();
                }
                Err(e) => say(e),
            }
        });
    };

    // More buildings or homes for a running community.
    let first = communities.first().map(|c| c.0.clone()).unwrap_or_default();
    let grow_community = RwSignal::new(first.clone());
    let grow = Callback::new(move |l: Layout| {
        let path = format!("/api/v1/communities/{}/buildings", grow_community.get_untracked());
        let body = json!({"buildings": [l.plan()]});
        spawn_local(async move {
            match post_json::<_, Value>(&path, &body).await {
                Ok(v) => say(format!("新增 {} 户（新楼栋：{}），已有 {} 户保持不变", v["houses_added"], v["new_buildings"].as_array().map(|b| b.iter().filter_map(Value::as_str).collect::<Vec<_>>().join("、")).filter(|s| !s.is_empty()).unwrap_or_else(|| "无".into()), v["houses_existing"])),
                Err(e) => say(e),
            }
        });
    });

    // The house & resident spreadsheet: it creates the homes its addresses name that are missing.
    let import_community = RwSignal::new(first.clone());
    let input: NodeRef<leptos::html::Input> = NodeRef::new();
    let report = RwSignal::new(None::<ImportReport>);
    let import = move |_| {
        let Some(file) = input.get().and_then(|i| i.files()).and_then(|f| f.get(0)) else {
            say("请选择文件 / choose a file".into());
            return;
        };
        let path = format!("/api/v1/communities/{}/house-records/import", import_community.get_untracked());
        spawn_local(async move {
            match upload(&path, file.unchecked_ref()).await {
                Some((200 | 422, body)) => match serde_json::from_str::<ImportReport>(&body) {
                    Ok(r) => {
                        say(if r.errors.is_empty() { format!("导入 {} 行，新建房屋 {} 户", r.imported, r.created) } else { r.message.clone() });
                        report.set(Some(r));
                    }
                    Err(e) => say(e.to_string()),
                },
                Some((_, body)) => say(error_message(&body)),
                None => say(error_message("")),
            }
        });
    };

    let (branch, regions) = (RwSignal::new(String::new()), RwSignal::new(String::new()));
    let add_branch = move |ev: web_sys::SubmitEvent| {
        ev.prevent_default();
        let list: Vec<String> = regions.get_untracked().split([',', '，', '、', ' ']).map(str::trim).filter(|r| !r.is_empty()).map(String::from).collect();
        let body = json!({"branch": branch.get_untracked().trim(), "regions": list});
        spawn_local(async move {
            match post_json::<_, OrgView>("/api/v1/org/branches", &body).await {
                Ok(o) => {
                    org.set(Some(o));
                    say("已保存分公司与片区".into());
                }
                Err(e) => say(e),
            }
        });
    };
    let place = move |community: String, at: String| {
        // `at` is "branch/region", "branch/" or "" (nowhere).
        let (b, r) = at.split_once('/').map_or((None, None), |(b, r)| (Some(b.to_string()), (!r.is_empty()).then(|| r.to_string())));
        let body = json!({"branch": b, "region": r}).to_string();
        spawn_local(async move {
            match request("PUT", &format!("/api/v1/communities/{community}/placement"), Some(body)).await {
                Some((200, text)) => {
                    org.set(serde_json::from_str(&text).ok());
                    say(format!("{community} 已调整归属"));
                }
                Some((_, text)) => say(error_message(&text)),
                None => say(error_message("")),
            }
        });
    };
    let placements = move || {
        org.get().map(|o| {
            let choices: Vec<(String, String)> = std::iter::once((String::new(), "（未归属）".to_string()))
                .chain(o.branches.iter().flat_map(|b| {
                    let regions = o.regions.get(b).cloned().unwrap_or_default();
                    std::iter::once((format!("{b}/"), b.clone())).chain(regions.into_iter().map(move |r| (format!("{b}/{r}"), format!("{b} · {r}"))))
                }))
                .collect();
            o.communities.iter().map(|c| {
                let current = match (&c.branch, &c.region) {
                    (Some(b), Some(r)) => format!("{b}/{r}"),
                    (Some(b), None) => format!("{b}/"),
                    _ => String::new(),
                };
                let id = c.id.to_string();
                let options = choices.iter().map(|(value, text)| view! { <option value=value.clone() selected=*value == current>{text.clone()}</option> }).collect_view();
                view! {
                    <tr>
                        <td>{c.name.clone().unwrap_or_else(|| id.clone())}</td>
                        <td><select data-test="placement" data-community=id.clone() on:change=move |ev| place(id.clone(), event_target_value(&ev))>{options}</select></td>
                    </tr>
                }
            }).collect_view()
        })
    };

    let options = move |list: &Vec<(String, String)>| list.iter().map(|(id, n)| view! { <option value=id.clone()>{n.clone()}</option> }).collect_view();
    let (grow_options, import_options) = (options(&communities), options(&communities));
    let has_communities = !communities.is_empty();
    let device_communities = communities.clone();
    view! {
        <div class="admin setup" data-test="setup-screen">
            <p class="message" data-test="setup-message">{move || message.get()}</p>
            <h2>"新建小区"</h2>
            <form class="inline" on:submit=|ev: web_sys::SubmitEvent| ev.prevent_default()>
                <label>"编号"<input name="community-id" placeholder="如 taoyuan" prop:value=id on:input=move |ev| id.set(event_target_value(&ev)) /></label>
                <label>"名称"<input name="community-name" placeholder="如 桃园" prop:value=name on:input=move |ev| name.set(event_target_value(&ev)) /></label>
                <label>"时区"<select name="zone" on:change=move |ev| zone.set(event_target_value(&ev))>
                    {["Asia/Shanghai", "Asia/Hong_Kong", "Asia/Taipei", "Asia/Urumqi", "Asia/Singapore"].map(|z| view! { <option value=z>{z}</option> }).collect_view()}
                </select></label>
            </form>
            <LayoutForm on_add=plan_building label="加入规划" />
            <ul data-test="planned">{move || planned.get().into_iter().map(|l| view! { <li>{l.label()}</li> }).collect_view()}</ul>
            <button data-test="create-community" on:click=create>{move || if planned.with(Vec::is_empty) { "建立小区（楼栋稍后导入）" } else { "建立小区" }}</button>
            {move || made.get().map(|id| view! {
                <p data-test="made">"下一步："<a href=format!("/chart/{id}")>"销控图"</a>" · "<a href=format!("/wall/{id}")>"监控大屏"</a>"（新小区在重新登录后出现在顶部导航中）"</p>
            })}

            {has_communities.then(|| view! {
                <h2>"增加楼栋或房屋"</h2>
                <p class="dim">"已有的房屋保持不变；同一规划提交两次不会重复建立。"</p>
                <label>"小区"<select on:change=move |ev| grow_community.set(event_target_value(&ev))>{grow_options}</select></label>
                <LayoutForm on_add=grow label="增加" />

                <h2>"导入房屋住户"</h2>
                <p class="dim">"模板列：房屋地址、类型、面积、状态、状态日期、住户姓名、手机号、身份证号、关系、VIP。地址不存在的房屋按地址新建（须填面积）；有一行错误则全部不导入。"</p>
                <div class="inline">
                    <select on:change=move |ev| import_community.set(event_target_value(&ev))>{import_options}</select>
                    <input type="file" node_ref=input accept=".xlsx,.xls,.csv" data-test="house-file" />
                    <button data-test="house-import" on:click=import>"导入"</button>
                </div>
                <RowReport report test="house-import-errors" />
            })}

            {has_communities.then(|| view! { <crate::devices::DevicesPanel communities=device_communities /> })}

            <h2>"分公司与片区"</h2>
            <form class="inline" on:submit=add_branch data-test="branch-form">
                <input name="branch" placeholder="分公司，如 华东分公司" prop:value=branch on:input=move |ev| branch.set(event_target_value(&ev)) />
                <input name="regions" placeholder="片区，用、分隔" prop:value=regions on:input=move |ev| regions.set(event_target_value(&ev)) />
                <button type="submit">"保存"</button>
            </form>
            <table data-test="placements"><thead><tr><th>"小区"</th><th>"所属分公司 · 片区"</th></tr></thead><tbody>{placements}</tbody></table>
        </div>
    }
}

/// The platform operator's screen: the property companies of the deployment (counts only) and a
/// form adding one with its first administrator.
#[component]
pub fn CompaniesScreen() -> impl IntoView {
    let rows = RwSignal::new(Vec::<Value>::new());
    let message = RwSignal::new(String::new());
    let reload = move || spawn_local(async move {
        match get_json::<Vec<Value>>("/api/v1/companies").await {
            Ok(r) => rows.set(r),
            Err(e) => message.set(e),
        }
    });
    reload();
    let fields: [RwSignal<String>; 5] = std::array::from_fn(|_| RwSignal::new(String::new()));
    let [id, name, account, admin_name, password] = fields;
    let add = move |ev: web_sys::SubmitEvent| {
        ev.prevent_default();
        let body = json!({"id": id.get_untracked().trim(), "name": name.get_untracked().trim(), "admin": {"account": account.get_untracked().trim(), "name": admin_name.get_untracked().trim(), "password": password.get_untracked()}});
        spawn_local(async move {
            match post_json::<_, Value>("/api/v1/companies", &body).await {
                Ok(v) => {
                    message.set(format!("已添加 {}，管理员账号 {}", v["name"].as_str().unwrap_or_default(), v["admin"].as_str().unwrap_or_default()));
                    password.set(String::new());
                    reload();
                }
                Err(e) => message.set(e),
            }
        });
    };
    let input = |n: &'static str, hint: &'static str, v: RwSignal<String>, kind: &'static str| view! {
        <input name=n placeholder=hint type=kind prop:value=v on:input=move |ev| v.set(event_target_value(&ev)) />
    };
    view! {
        <div class="admin" data-test="companies-screen">
            <h2>"物业公司"</h2>
            <table data-test="companies">
                <thead><tr><th>"编号"</th><th>"名称"</th><th>"小区"</th><th>"分公司"</th><th>"员工"</th></tr></thead>
                <tbody>{move || rows.get().into_iter().map(|c| view! {
                    <tr><td>{c["id"].as_str().unwrap_or_default().to_string()}</td><td>{c["name"].as_str().unwrap_or_default().to_string()}</td><td>{c["communities"].to_string()}</td><td>{c["branches"].to_string()}</td><td>{c["staff"].to_string()}</td></tr>
                }).collect_view()}</tbody>
            </table>
            <form class="inline" on:submit=add data-test="company-form">
                {input("company-id", "公司编号，如 taohua", id, "text")}
                {input("company-name", "公司名称", name, "text")}
                {input("admin-account", "管理员账号", account, "text")}
                {input("admin-name", "管理员姓名", admin_name, "text")}
                {input("admin-password", "初始密码（至少8位）", password, "password")}
                <button type="submit">"添加公司"</button>
            </form>
            <p class="message" data-test="companies-message">{move || message.get()}</p>
        </div>
    }
}
