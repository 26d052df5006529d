//! The billing desk (F3–F9, R4): the bill list with fuzzy search, filters and pages; one bill's
//! details and history; edit, delete and void; batch actions (only when every selected bill is
//! pending); imports with a row-by-row report; exports of the filtered list; bill runs with a
//! preview.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use chrono::NaiveDate;
use hutong_actors::building::{RunOutcome, RunRequest};
use hutong_core::bill::{BillCommand, BillState};
use hutong_core::bill_run::RunSpec;
use hutong_core::api::{BatchAction, BatchBody, EditBody, RunBody, VoidBody, BatchReply, BillDetail, BillPage, BillReply, BillView, ImportReport, ResultLine, RunItem, RunReply};
use hutong_core::book::{BatchAction as BookBatch, BillLine, BillQuery, BillRecord, BillRow, BillSource, BookCommand, BookEvent};
use hutong_core::identity::{Module, Permission};
use hutong_core::import::export;
use hutong_core::import::template::{self, RowError};
use hutong_core::{BuildingId, Money};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{actor_name, building, item_name, building_of_house, building_of_no, command, community_of, in_scope, internal, local_now, refused};
use crate::error::{ApiError, ApiJson, Upload};
use crate::auth::Caller;
use crate::app::App;
use crate::audit::audit_entry;

/// The list's query string (F8).
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ListQuery {
    pub q: String,
    /// Comma-separated: pending, partly_paid, paid, voided, deleted.
    pub state: String,
    pub item: String,
    pub building: String,
    pub house: String,
    pub period_from: String,
    pub period_to: String,
    pub issued_from: String,
    pub issued_to: String,
    pub amount_min: String,
    pub amount_max: String,
    pub batch: String,
    pub page: Option<usize>,
    pub page_size: Option<usize>,
    /// Exports only: csv or xlsx.
    pub format: String,
}

fn some(s: &str) -> Option<String> {
    Some(s.trim().to_string()).filter(|s| !s.is_empty())
}

fn date(field: &str, s: &str) -> Result<Option<NaiveDate>, ApiError> {
    match some(s) {
        None => Ok(None),
        Some(t) => template::parse_date(&t, false)
            .map(Some)
            .ok_or_else(|| ApiError::BadRequest { zh: format!("{field} 日期“{t}”无法识别"), en: format!("{field}: unreadable date “{t}”") }),
    }
}

fn money(field: &str, s: &str) -> Result<Option<Money>, ApiError> {
    match some(s) {
        None => Ok(None),
        Some(t) => t.parse().map(Some).map_err(|_| ApiError::BadRequest { zh: format!("{field} 金额“{t}”无效"), en: format!("{field}: invalid amount “{t}”") }),
    }
}

fn state_of(s: &str) -> Result<BillState, ApiError> {
    serde_json::from_value(Value::String(s.trim().to_string()))
        .map_err(|_| ApiError::BadRequest { zh: format!("未知的账单状态 {s}"), en: format!("unknown bill state {s}") })
}

impl ListQuery {
    fn to_query(&self, caller: &Caller) -> Result<BillQuery, ApiError> {
        Ok(BillQuery {
            unmasked: caller.principal.may(Permission::UnmaskPersonalData),
            text: self.q.trim().to_string(),
            states: self.state.split(',').filter(|s| !s.trim().is_empty()).map(state_of).collect::<Result<_, _>>()?,
            item: some(&self.item),
            building: some(&self.building),
            house: some(&self.house),
            period_from: date("period_from", &self.period_from)?,
            period_to: date("period_to", &self.period_to)?,
            issued_from: date("issued_from", &self.issued_from)?,
            issued_to: date("issued_to", &self.issued_to)?,
            amount_min: money("amount_min", &self.amount_min)?,
            amount_max: money("amount_max", &self.amount_max)?,
            batch: some(&self.batch),
        })
    }
}

/// A row as the desk shows it: the book's row, the item's name and the state's label.
pub(crate) fn view(app: &App, community: &str, row: BillRow) -> BillView {
    BillView { item_name: item_name(app, community, &row.item), state_label: row.state.label_zh().to_string(), row }
}

/// Every matching bill of the buildings the caller may see, newest first.
async fn matching(app: &App, caller: &Caller, community: &str, query: BillQuery) -> Result<Vec<BillRow>, ApiError> {
    let c = community_of(app, community)?;
    let mut rows = Vec::new();
    for b in &c.buildings {
        if !in_scope(caller, &b.id) || query.building.as_ref().is_some_and(|x| x != b.id.as_str()) {
            continue;
        }
        let q = query.clone();
        rows.extend(building(app, &b.id)?.find(q).await?);
    }
    rows.sort_by(|a, b| b.issued_at.cmp(&a.issued_at).then_with(|| b.no.cmp(&a.no)));
    Ok(rows)
}

pub async fn list(State(app): State<Arc<App>>, Extension(caller): Extension<Caller>, Path(community): Path<String>, Query(q): Query<ListQuery>) -> Result<Json<BillPage>, ApiError> {
    let rows = matching(&app, &caller, &community, q.to_query(&caller)?).await?;
    let size = q.page_size.unwrap_or(20).clamp(1, 500);
    let page = q.page.unwrap_or(1).max(1);
    let amount: Money = rows.iter().map(|r| r.amount).sum();
    let paid: Money = rows.iter().map(|r| r.paid).sum();
    let total = rows.len();
    let rows = rows.into_iter().skip((page - 1) * size).take(size).map(|row| view(&app, &community, row)).collect();
    Ok(Json(BillPage { total, page, page_size: size, amount, paid, rows }))
}

/// A bill and where it lives, or 404 (also for a bill outside a butler's buildings).
async fn find_bill(app: &App, caller: &Caller, community: &str, no: &str) -> Result<(BuildingId, BillRecord, BillRow), ApiError> {
    let c = community_of(app, community)?;
    let missing = || ApiError::not_found("账单", "bill", no);
    let building_id = building_of_no(&c, no).filter(|b| in_scope(caller, b)).ok_or_else(missing)?;
    let (record, row) = building(app, &building_id)?.bill(no).await?.ok_or_else(missing)?;
    Ok((building_id, record, row))
}

pub async fn detail(State(app): State<Arc<App>>, Extension(caller): Extension<Caller>, Path((community, no)): Path<(String, String)>) -> Result<Json<BillDetail>, ApiError> {
    let (building, record, row) = find_bill(&app, &caller, &community, &no).await?;
    let payments = self::building(&app, &building)?.payments_of(&no).await?;
    Ok(Json(BillDetail { bill: view(&app, &community, row), history: record.history, payments }))
}



async fn change(app: &App, caller: &Caller, community: &str, no: &str, change: BillCommand, action: &str) -> Result<Json<BillReply>, ApiError> {
    let (building, record, _) = find_bill(app, caller, community, no).await?;
    let c = community_of(app, community)?;
    let cmd = BookCommand::ChangeBill { no: no.to_string(), change, by: actor_name(caller), at: local_now(&app, &c) };
    command(app, &building, cmd).await?.map_err(refused)?;
    let (_, after, row) = find_bill(app, caller, community, no).await?;
    let audit = audit_entry(caller, action, no, serde_json::to_value(&record.bill).ok(), serde_json::to_value(&after.bill).ok());
    app.identity.audit(audit).await.map_err(internal)?;
    Ok(Json(BillReply { bill: view(app, community, row) }))
}

pub async fn edit(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    Path((community, no)): Path<(String, String)>,
    ApiJson(b): ApiJson<EditBody>,
) -> Result<Json<BillReply>, ApiError> {
    if !app.tariffs.get(&community).items.iter().any(|i| i.id == b.item) {
        return Err(ApiError::BadRequest { zh: format!("未知的收费项目 {}", b.item), en: format!("unknown charge item {}", b.item) });
    }
    let cmd = BillCommand::Edit { item: b.item, period_start: b.period_start, period_end: b.period_end, amount: b.amount, remark: b.remark };
    change(&app, &caller, &community, &no, cmd, "bill.edit").await
}

pub async fn delete(State(app): State<Arc<App>>, Extension(caller): Extension<Caller>, Path((community, no)): Path<(String, String)>) -> Result<Json<BillReply>, ApiError> {
    change(&app, &caller, &community, &no, BillCommand::Delete, "bill.delete").await
}

pub async fn void(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    Path((community, no)): Path<(String, String)>,
    ApiJson(b): ApiJson<VoidBody>,
) -> Result<Json<BillReply>, ApiError> {
    change(&app, &caller, &community, &no, BillCommand::Void { reason: b.reason }, "bill.void").await
}



/// F9: remind, mark paid or delete several bills — refused whole unless every one is pending.
/// Delete and mark-paid are one book command per building, committed in every building or in
/// none (`hutong_actors::handle::batch`); reminders go house by house (a house inside its
/// channel's limit must not stop the others).
pub async fn batch(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    Path(community): Path<String>,
    ApiJson(b): ApiJson<BatchBody>,
) -> Result<Json<BatchReply>, ApiError> {
    if b.bills.is_empty() {
        return Err(ApiError::bad("请选择账单", "select some bills"));
    }
    if matches!(b.action, BatchAction::Delete) && !caller.principal.may(Permission::Write(Module::Billing)) {
        return Err(ApiError::Forbidden(Permission::Write(Module::Billing)));
    }
    let c = community_of(&app, &community)?;
    // Every bill must be one the caller may see, found in the building its number names.
    let mut by_building: BTreeMap<BuildingId, Vec<String>> = BTreeMap::new();
    for no in &b.bills {
        let building = building_of_no(&c, no).filter(|bd| in_scope(&caller, bd)).ok_or_else(|| ApiError::not_found("账单", "bill", no))?;
        by_building.entry(building).or_default().push(no.clone());
    }
    let (by, at) = (actor_name(&caller), local_now(&app, &c));
    let action = match b.action {
        BatchAction::Delete => BookBatch::Delete,
        BatchAction::MarkPaid => {
            let key = b.key.clone().filter(|k| !k.trim().is_empty()).ok_or_else(|| ApiError::bad("标记已支付需要幂等键 key", "mark paid needs an idempotency key"))?;
            let channel = b.pay_channel.ok_or_else(|| ApiError::bad("请选择支付渠道", "choose the payment channel"))?;
            BookBatch::MarkPaid { key: super::scoped_key(&caller, &key)?, channel, payer: super::payer_name(&b.payer.clone().unwrap_or_default())? }
        }
        BatchAction::Remind => {
            let channel = b.channel.unwrap_or(hutong_core::reminder::Channel::InApp);
            let mut houses = Vec::new();
            for (bd, nos) in &by_building {
                let pending = building(&app, bd)?.pending_houses(nos.clone()).await?.map_err(refused)?;
                houses.extend(pending.into_iter().map(|h| (bd.clone(), h)));
            }
            let mut results = Vec::new();
            for (building, house) in houses {
                results.push(super::pay::remind_house(&app, &caller, &community, &building, &house, channel).await?);
            }
            return Ok(Json(BatchReply { results }));
        }
    };
    let parts: Vec<_> = by_building
        .into_iter()
        .map(|(bd, bills)| Ok((building(&app, &bd)?, BookCommand::Batch { bills, action: action.clone(), by: by.clone(), at })))
        .collect::<Result<_, ApiError>>()?;
    let events = hutong_actors::handle::batch(parts).await?.map_err(refused)?;
    let mut results = Vec::new();
    for event in &events {
        match event {
            BookEvent::BillChanged { no, change } => {
                let audit = audit_entry(&caller, "bill.delete", no, None, serde_json::to_value(&change.event).ok());
                app.identity.audit(audit).await.map_err(internal)?;
                results.push(ResultLine { bill: Some(no.clone()), ok: true, ..ResultLine::default() });
            }
            BookEvent::PaymentTaken { payment } => {
                let audit = audit_entry(&caller, "payment.take", &payment.no, None, Some(json!({"house": payment.house, "amount": payment.amount, "channel": payment.channel, "bills": payment.parts})));
                app.identity.audit(audit).await.map_err(internal)?;
                app.metrics.inc("hutong_payments_total", &[("channel", payment.channel.label_zh())]);
                results.push(ResultLine { house: Some(payment.house.clone()), ok: true, payment: Some(payment.clone()), ..ResultLine::default() });
            }
            _ => {}
        }
    }
    Ok(Json(BatchReply { results }))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ImportQuery {
    /// Import the good rows even when some are bad (the default imports nothing then).
    pub good_only: bool,
}

/// F6: the file is the request body (CSV in UTF-8 or GBK, XLS, XLSX; sniffed from its bytes).
pub async fn import(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    Path(community): Path<String>,
    Query(q): Query<ImportQuery>,
    upload: Upload,
) -> Result<Response, ApiError> {
    let c = community_of(&app, &community)?;
    let _slot = app.imports.start(&community)?;
    let body = upload.read().await?;
    let started = std::time::Instant::now();
    let houses = super::index(&app, &c);
    let reader = template::BillReader::new(move |a: &str| houses.find(a).map(|(h, _)| h));
    let parsed = match super::upload::read(body, reader).await {
        Ok(reader) => reader.finish(),
        Err(e) => {
            app.metrics.inc("hutong_import_refused_total", &[("reason", "file")]);
            return Err(e);
        }
    };
    let mut errors: Vec<RowError> = parsed.errors;
    let mut out_of_scope = 0;
    // A butler imports only into their own buildings.
    let mut by_building: HashMap<BuildingId, Vec<BillLine>> = HashMap::new();
    let items = app.tariffs.get(&community);
    for bill in parsed.bills {
        let Some(building) = building_of_house(&app, &c, bill.house.as_str()).filter(|b| in_scope(&caller, b)) else {
            out_of_scope += 1;
            if errors.len() < template::MAX_REPORTED_ERRORS {
                errors.push(RowError { row: bill.row, column: "房屋地址".into(), reason: "不在您管理的楼栋内 / outside your buildings".into() });
            }
            continue;
        };
        let subject = items.subject_of(&bill.item);
        by_building.entry(building).or_default().push(BillLine {
            house: bill.house,
            item: bill.item,
            subject,
            period_start: bill.period_start,
            period_end: bill.period_end,
            amount: bill.amount,
            external_no: bill.external_no,
            remark: bill.remark,
        });
    }
    errors.sort_by_key(|e| e.row);
    // Rows the reader refused (it lists the first thousand), and rows outside the caller's buildings.
    let bad_rows = parsed.bad_rows + out_of_scope;
    app.metrics.counter("hutong_import_bad_rows_total", &[]).fetch_add(bad_rows as u64, std::sync::atomic::Ordering::Relaxed);
    if !errors.is_empty() && !q.good_only {
        return Err(ApiError::Unprocessable(Box::new(ImportReport {
            rows: parsed.rows,
            bad_rows,
            errors,
            template: parsed.template,
            message: format!("{bad_rows} 行有误，未导入任何账单 / {bad_rows} bad rows; nothing was imported"),
            ..ImportReport::default()
        })));
    }
    let now = local_now(&app, &c);
    let batch = format!("import-{}", now.format("%Y%m%d%H%M%S%3f"));
    // Every building issues its part, all of them or none (`handle::batch`).
    let asked: usize = by_building.values().map(Vec::len).sum();
    let parts = by_building
        .into_iter()
        .map(|(bd, lines)| {
            let cmd = BookCommand::IssueBills { lines, source: BillSource::Import { batch: batch.as_str().into() }, by: actor_name(&caller), at: now };
            Ok((building(&app, &bd)?, cmd))
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    let events = hutong_actors::handle::batch(parts).await?.map_err(refused)?;
    let issued: Vec<&BillLine> = events
        .iter()
        .flat_map(|e| match e {
            BookEvent::BillsIssued { lines, .. } => lines.iter().collect::<Vec<_>>(),
            _ => Vec::new(),
        })
        .collect();
    let imported = issued.len();
    let amount: Money = issued.iter().map(|l| l.amount).sum();
    let skipped = asked - imported;
    let audit = audit_entry(&caller, "bill.import", &batch, None, Some(json!({"imported": imported, "amount": amount, "bad_rows": bad_rows})));
    app.identity.audit(audit).await.map_err(internal)?;
    Ok(Json(ImportReport {
            batch: Some(batch),
            imported,
            skipped_duplicates: skipped,
            amount,
            rows: parsed.rows,
            bad_rows,
            errors,
            template: parsed.template,
            elapsed_ms: started.elapsed().as_millis() as u64,
            message: format!("导入成功 {imported} 条，立即给刚导入的记录住户发催缴通知？ / imported {imported}; remind these residents now?"),
            ..ImportReport::default()
    })
    .into_response())
}

const EXPORT_HEADER: [&str; 14] =
    ["海纳单号", "物业系统单号", "导入时间", "住户", "电话", "住址", "类型", "金额", "已付", "开始时间", "结束时间", "状态", "备注", "楼栋"];

/// F7: the filtered list as CSV or XLSX; phones masked, nothing a spreadsheet would run.
pub async fn export(State(app): State<Arc<App>>, Extension(caller): Extension<Caller>, Path(community): Path<String>, Query(q): Query<ListQuery>) -> Result<Response, ApiError> {
    let _slot = app.exports.start(&caller.principal.actor())?;
    let rows = matching(&app, &caller, &community, q.to_query(&caller)?).await?;
    let mut table: Vec<Vec<String>> = vec![EXPORT_HEADER.iter().map(|s| s.to_string()).collect()];
    for r in &rows {
        table.push(vec![
            r.no.clone(),
            r.external_no.clone().unwrap_or_else(|| "--".into()),
            r.issued_at.format("%Y-%m-%d %H:%M").to_string(),
            r.resident.clone().unwrap_or_default(),
            r.phone.clone().unwrap_or_default(),
            r.address_path.clone(),
            item_name(&app, &community, &r.item),
            r.amount.to_string(),
            r.paid.to_string(),
            r.period_start.to_string(),
            r.period_end.to_string(),
            r.state.label_zh().to_string(),
            r.remark.clone(),
            r.building.clone(),
        ]);
    }
    let audit = audit_entry(&caller, "bill.export", &community, None, Some(json!({"rows": rows.len(), "format": q.format})));
    app.identity.audit(audit).await.map_err(internal)?;
    file_response(&q.format, "缴费单", table)
}

pub(crate) fn file_response(format: &str, name: &str, table: Vec<Vec<String>>) -> Result<Response, ApiError> {
    let (bytes, mime, ext) = match format {
        "" | "csv" => (export::csv(&table), "text/csv; charset=utf-8", "csv"),
        "xlsx" => (export::xlsx(&table).map_err(internal)?, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"),
        other => return Err(ApiError::BadRequest { zh: format!("不支持的格式 {other}，请用 csv 或 xlsx"), en: format!("unsupported format {other}; use csv or xlsx") }),
    };
    let disposition = format!("attachment; filename=\"export.{ext}\"; filename*=UTF-8''{}.{ext}", percent(name));
    Ok(([(header::CONTENT_TYPE, mime.to_string()), (header::CONTENT_DISPOSITION, disposition)], bytes).into_response())
}

fn percent(s: &str) -> String {
    s.bytes().map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TemplateQuery {
    /// standard (default), xinshichuang or houses.
    pub kind: String,
}

/// The templates to fill in, as XLSX.
pub async fn template_file(Path(_community): Path<String>, Query(q): Query<TemplateQuery>) -> Result<Response, ApiError> {
    let rows: Vec<Vec<&str>> = match q.kind.as_str() {
        "" | "standard" => vec![
            vec!["保留字段", "必填字段", "", "", "", "选填字段"],
            vec!["房屋地址", "费用类型", "费用金额", "开始时间", "结束时间", "备注"],
            vec!["一栋一单元101", "物业费", "1300", "2018年01月02日", "2018年12月01日", "缴费备注说明(最多500字)"],
        ],
        "xinshichuang" => vec![vec!["房号", "客户名称", "收费项目", "应收金额", "计费开始日期", "计费结束日期", "单据号", "备注"]],
        "houses" => vec![vec!["房屋地址", "类型", "面积", "状态", "状态日期", "住户姓名", "手机号", "身份证号", "关系", "VIP"]],
        other => return Err(ApiError::BadRequest { zh: format!("没有模板 {other}"), en: format!("no template {other}") }),
    };
    let table = rows.into_iter().map(|r| r.into_iter().map(String::from).collect()).collect();
    file_response("xlsx", "模板", table)
}


/// F3: a bill run over every building the caller may see, building actors in parallel.
pub async fn run(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    Path(community): Path<String>,
    ApiJson(b): ApiJson<RunBody>,
) -> Result<Json<RunReply>, ApiError> {
    let c = community_of(&app, &community)?;
    let tariff = app.tariffs.get(&community);
    if b.items.is_empty() {
        return Err(ApiError::bad("请选择收费项目", "choose the charge items"));
    }
    if let Some(unknown) = b.items.iter().find(|i| !tariff.items.iter().any(|x| &x.id == *i)) {
        return Err(ApiError::BadRequest { zh: format!("未知的收费项目 {unknown}"), en: format!("unknown charge item {unknown}") });
    }
    let now = local_now(&app, &c);
    let spec = RunSpec { cycle: b.cycle, timing: b.timing, on: b.on.unwrap_or(now.date()), items: b.items };
    let started = std::time::Instant::now();
    let items = Arc::new(tariff.items.clone());
    let rules = Arc::new(tariff.rules.clone());
    let mut pending = Vec::new();
    for b2 in c.buildings.iter().filter(|b| in_scope(&caller, &b.id)) {
        let target = building(&app, &b2.id)?;
        let request = RunRequest { spec: spec.clone(), items: items.clone(), rules: rules.clone(), commit: b.commit, by: actor_name(&caller), at: now };
        pending.push(tokio::spawn(async move { target.run(request).await }));
    }
    let mut total = RunOutcome::default();
    for p in pending {
        total.merge(p.await.map_err(internal)??);
    }
    let (start, end) = spec.period();
    if b.commit {
        let audit = audit_entry(&caller, "bill.run", &format!("{community} {start}~{end}"), None, Some(json!({"bills": total.bills, "amount": total.amount})));
        app.identity.audit(audit).await.map_err(internal)?;
    }
    let problem_count = total.problems.len();
    Ok(Json(RunReply {
        committed: b.commit,
        period_start: start,
        period_end: end,
        bills: total.bills,
        amount: total.amount,
        skipped: total.skipped,
        by_item: total.by_item.iter().map(|(k, (n, m))| RunItem { item: k.clone(), name: item_name(&app, &community, k), bills: *n, amount: *m }).collect(),
        problems: total.problems.into_iter().take(100).collect(),
        problem_count,
        sample: total.sample,
        elapsed_ms: started.elapsed().as_millis() as u64,
    }))
}
