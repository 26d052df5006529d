//! The community's devices on the set-up screen (M6, C5): what is installed where and how it is
//! doing; a new device registered or a sheet of them imported; a device moved, replaced by a new
//! one in its place (换表) or retired with a reason; the provisioning key shown for the installer.
//! Every change is the server's decision: a refusal shows its sentence and the list is read again
//! after each change.

use hutong_core::api::{DeviceKey, ImportReport};
use hutong_core::device::{DeviceHealth, DeviceKind};
use hutong_core::live::DeviceView;
use leptos::prelude::*;
use leptos::task::spawn_local;
use serde_json::{Value, json};
use wasm_bindgen::JsCast;

use crate::http::{error_message, get_json, post_json, request, upload};

/// What the row form under the list is doing to one device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Change {
    Move,
    Replace,
    Retire,
}

/// Rows the list shows at once.
const SHOWN: usize = 200;

const KINDS: [DeviceKind; 5] = [DeviceKind::WaterMeter, DeviceKind::ElectricityMeter, DeviceKind::GasMeter, DeviceKind::Gate, DeviceKind::Barrier];

fn kind_value(kind: DeviceKind) -> String {
    serde_json::to_value(kind).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default()
}

fn health_label(health: DeviceHealth) -> &'static str {
    match health {
        DeviceHealth::Ok => "正常",
        DeviceHealth::Anomaly => "异常",
        DeviceHealth::Offline => "离线",
    }
}

/// An empty field is "none" (a public-area device has no house).
fn optional(text: &str) -> Option<String> {
    Some(text.trim().to_string()).filter(|t| !t.is_empty())
}

#[component]
pub fn DevicesPanel(communities: Vec<(String, String)>) -> impl IntoView {
    let community = RwSignal::new(communities.first().map(|c| c.0.clone()).unwrap_or_default());
    let devices = RwSignal::new(Vec::<DeviceView>::new());
    let message = RwSignal::new(String::new());
    let base = move || format!("/api/v1/communities/{}/devices", community.get_untracked());
    let load = move || spawn_local(async move {
        match get_json::<Vec<DeviceView>>(&base()).await {
            Ok(list) => devices.set(list),
            Err(e) => message.set(e),
        }
    });
    load();

    // Registering one device.
    let (id, kind, building, house, heartbeat) = (RwSignal::new(String::new()), RwSignal::new(kind_value(DeviceKind::WaterMeter)), RwSignal::new(String::new()), RwSignal::new(String::new()), RwSignal::new(String::new()));
    let register = move |ev: web_sys::SubmitEvent| {
        ev.prevent_default();
        let heartbeat_secs: Option<u32> = heartbeat.get_untracked().trim().parse().ok();
        let body = json!({"id": id.get_untracked().trim(), "kind": kind.get_untracked(), "building": optional(&building.get_untracked()), "house": optional(&house.get_untracked()), "heartbeat_secs": heartbeat_secs});
        spawn_local(async move {
            match post_json::<_, Value>(&base(), &body).await {
                Ok(v) => {
                    message.set(format!("已登记设备 {}，设备用其初始密钥连接即可上报", v["id"].as_str().unwrap_or_default()));
                    id.set(String::new());
                    load();
                }
                Err(e) => message.set(e),
            }
        });
    };

    // A sheet of devices: all rows or none.
    let input: NodeRef<leptos::html::Input> = NodeRef::new();
    let report = RwSignal::new(None::<ImportReport>);
    let import = move |_| {
        let Some(file) = input.get().and_then(|i| i.files()).and_then(|f| f.get(0)) else {
            message.set("请选择文件 / choose a file".into());
            return;
        };
        spawn_local(async move {
            match upload(&format!("{}/import", base()), file.unchecked_ref()).await {
                Some((200 | 422, body)) => match serde_json::from_str::<ImportReport>(&body) {
                    Ok(r) => {
                        message.set(if r.errors.is_empty() { format!("导入设备 {} 台", r.imported) } else { r.message.clone() });
                        report.set(Some(r));
                        load();
                    }
                    Err(e) => message.set(e.to_string()),
                },
                Some((_, body)) => message.set(error_message(&body)),
                None => message.set(error_message("")),
            }
        });
    };

    let key = RwSignal::new(None::<DeviceKey>);
    // The change under way: which device, what, and its fields.
    let editing = RwSignal::new(None::<(DeviceView, Change)>);
    let (field_a, field_b, field_c) = (RwSignal::new(String::new()), RwSignal::new(String::new()), RwSignal::new(String::new()));
    let start = move |device: DeviceView, change: Change| {
        match change {
            Change::Move => {
                field_a.set(device.building.as_ref().map(|b| b.to_string()).unwrap_or_default());
                field_b.set(device.house.as_ref().map(|h| h.to_string()).unwrap_or_default());
                field_c.set(if device.kind.is_meter() { "3600".into() } else { "300".into() });
            }
            Change::Replace | Change::Retire => {
                field_a.set(String::new());
                field_b.set(String::new());
            }
        }
        editing.set(Some((device, change)));
    };
    let submit = move |ev: web_sys::SubmitEvent| {
        ev.prevent_default();
        let Some((device, change)) = editing.get_untracked() else { return };
        let path = format!("{}/{}", base(), device.id);
        let (method, path, body, done) = match change {
            Change::Move => {
                let heartbeat_secs: u32 = field_c.get_untracked().trim().parse().unwrap_or(0);
                ("PUT", path, json!({"building": optional(&field_a.get_untracked()), "house": optional(&field_b.get_untracked()), "heartbeat_secs": heartbeat_secs}), format!("{} 已移动", device.id))
            }
            Change::Replace => ("POST", format!("{path}/replace"), json!({"id": field_a.get_untracked().trim(), "reason": field_b.get_untracked().trim()}), format!("{} 已更换为 {}，旧设备已停用", device.id, field_a.get_untracked().trim())),
            Change::Retire => ("POST", format!("{path}/retire"), json!({"reason": field_a.get_untracked().trim()}), format!("{} 已停用", device.id)),
        };
        spawn_local(async move {
            match request(method, &path, Some(body.to_string())).await {
                Some((200, _)) => {
                    message.set(done);
                    editing.set(None);
                    key.set(None);
                    load();
                }
                Some((_, text)) => message.set(error_message(&text)),
                None => message.set(error_message("")),
            }
        });
    };

    // The provisioning key, for the installer flashing the device.
    let show_key = move |device: String| spawn_local(async move {
        match get_json::<DeviceKey>(&format!("{}/{device}/key", base())).await {
            Ok(k) => key.set(Some(k)),
            Err(e) => message.set(e),
        }
    });

    // A community has thousands of meters: the list is searched, and shows at most a page.
    let filter = RwSignal::new(String::new());
    let shown = move || {
        let wanted = filter.get().trim().to_lowercase();
        let all = devices.get();
        let matching: Vec<DeviceView> = all
            .into_iter()
            .filter(|d| wanted.is_empty() || [Some(d.id.as_str()), d.building.as_ref().map(|b| b.as_str()), d.house.as_ref().map(|h| h.as_str())].into_iter().flatten().any(|t| t.to_lowercase().contains(&wanted)))
            .collect();
        (matching.len(), matching.into_iter().take(SHOWN).collect::<Vec<_>>())
    };
    let count = move || {
        let (n, page) = shown();
        if n > page.len() { format!("共 {n} 台，显示前 {} 台；输入编号或房屋查找", page.len()) } else { format!("共 {n} 台") }
    };
    let rows = move || {
        shown().1.into_iter().map(|d| {
            let (moved, replaced, retired, keyed) = (d.clone(), d.clone(), d.clone(), d.id.to_string());
            view! {
                <tr data-test="device-row" data-device=d.id.to_string()>
                    <td>{d.id.to_string()}</td>
                    <td>{d.kind.label_zh()}</td>
                    <td>{d.building.map(|b| b.to_string()).unwrap_or_else(|| "—".into())}</td>
                    <td>{d.house.map(|h| h.to_string()).unwrap_or_else(|| "—".into())}</td>
                    <td class=format!("health-{:?}", d.health).to_lowercase()>{health_label(d.health)}</td>
                    <td>
                        <button on:click=move |_| start(moved.clone(), Change::Move)>"移动"</button>
                        <button data-test="device-replace" on:click=move |_| start(replaced.clone(), Change::Replace)>"更换"</button>
                        <button data-test="device-retire" on:click=move |_| start(retired.clone(), Change::Retire)>"停用"</button>
                        <button data-test="device-key" on:click=move |_| show_key(keyed.clone())>"密钥"</button>
                    </td>
                </tr>
            }
        }).collect_view()
    };
    let input_of = |name: &'static str, text: &'static str, value: RwSignal<String>| view! {
        <label>{text}<input name=name prop:value=value on:input=move |ev| value.set(event_target_value(&ev)) /></label>
    };
    let hinted = |name: &'static str, text: &'static str, hint: &'static str, value: RwSignal<String>| view! {
        <label>{text}<input name=name placeholder=hint prop:value=value on:input=move |ev| value.set(event_target_value(&ev)) /></label>
    };
    let form = move || editing.get().map(|(device, change)| {
        let fields = match change {
            Change::Move => view! { {input_of("move-building", "楼栋", field_a)}{input_of("move-house", "房屋", field_b)}{input_of("move-heartbeat", "心跳间隔(秒)", field_c)} }.into_any(),
            Change::Replace => view! { {input_of("replace-id", "新设备编号", field_a)}{input_of("replace-reason", "原因", field_b)} }.into_any(),
            Change::Retire => view! { {input_of("retire-reason", "停用原因", field_a)} }.into_any(),
        };
        let title = match change {
            Change::Move => "移动",
            Change::Replace => "更换（旧设备停用，新设备接替其位置）",
            Change::Retire => "停用（记录保留，编号不再使用）",
        };
        view! {
            <form class="inline" data-test="device-change" on:submit=submit>
                <strong>{format!("{} · {title}", device.id)}</strong>
                {fields}
                <button type="submit">"确定"</button>
                <button type="button" on:click=move |_| editing.set(None)>"取消"</button>
            </form>
        }
    });

    let options = communities.iter().map(|(id, n)| view! { <option value=id.clone()>{n.clone()}</option> }).collect_view();
    view! {
        <h2>"设备"</h2>
        <p class="message" data-test="devices-message">{move || message.get()}</p>
        <label>"小区"<select data-test="devices-community" on:change=move |ev| { community.set(event_target_value(&ev)); editing.set(None); key.set(None); load(); }>{options}</select></label>
        <form class="inline" data-test="device-form" on:submit=register>
            {input_of("device-id", "编号", id)}
            <label>"类型"<select name="device-kind" on:change=move |ev| kind.set(event_target_value(&ev))>
                {KINDS.map(|k| view! { <option value=kind_value(k)>{k.label_zh()}</option> }).collect_view()}
            </select></label>
            {hinted("device-building", "楼栋", "按房屋自动带出", building)}
            {hinted("device-house", "房屋", "如 荷花苑-1-1-101；公共设备不填", house)}
            {hinted("device-heartbeat", "心跳间隔(秒)", "表 3600 / 门禁 300", heartbeat)}
            <button type="submit">"登记"</button>
        </form>
        <div class="inline">
            <span class="dim">"批量导入（列：设备编号、设备类型、房屋地址、楼栋号、心跳间隔(秒)）"</span>
            <input type="file" node_ref=input accept=".xlsx,.xls,.csv" data-test="device-file" />
            <button data-test="device-import" on:click=import>"导入"</button>
        </div>
        <crate::setup::RowReport report test="device-import-errors" />
        {form}
        {move || key.get().map(|k| view! { <p data-test="device-key-shown">{format!("{} 的初始密钥：", k.device)}<code>{k.key}</code>" （仅供安装时写入设备，已记入审计）"</p> })}
        <div class="inline">
            <input name="device-filter" placeholder="查找：编号、楼栋或房屋" prop:value=filter on:input=move |ev| filter.set(event_target_value(&ev)) />
            <span class="dim" data-test="device-count">{count}</span>
        </div>
        <table data-test="devices">
            <thead><tr><th>"编号"</th><th>"类型"</th><th>"楼栋"</th><th>"房屋"</th><th>"状态"</th><th></th></tr></thead>
            <tbody>{rows}</tbody>
        </table>
    }
}
