//! Templates (F6, C5). The standard bill template of seed 001: 房屋地址, 费用类型, 费用金额,
//! 开始时间, 结束时间, 备注; its first data row is the sample `一栋一单元101` and is skipped; a
//! fee type outside the ten is imported as 其它; amounts round half-up to the fen; dates are
//! `2019年01月`, `2019年12月5日` or ISO. The 新视窗 export names its columns 房号, 客户名称,
//! 收费项目, 应收金额, 计费开始日期, 计费结束日期, 单据号, 备注. The house template:
//! 房屋地址, 类型, 面积, 状态, 状态日期, 住户姓名, 手机号, 身份证号, 关系, VIP.
//!
//! Every row is checked; each bad one is reported with its row number (as the spreadsheet numbers
//! it), column and reason, and the good ones are returned — the caller decides whether a file with
//! errors imports nothing (the default) or only its good rows.

use std::str::FromStr;

use chrono::{Datelike, NaiveDate};
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

use crate::book::house::{house_state_from_label, Relation, ResourceKind};
use crate::fee::HouseState;
use crate::ids::HouseId;
use crate::money::Money;

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Template {
    /// 标准缴费单模板.
    Standard,
    /// 新视窗缴费单模板.
    Xinshichuang,
    /// 房屋住户模板.
    Houses,
}

/// One bad cell or row.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowError {
    /// 1-based, as the spreadsheet shows it.
    pub row: usize,
    pub column: String,
    pub reason: String,
}

/// A good bill row.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportedBill {
    pub row: usize,
    pub house: HouseId,
    /// The item id (`property`, `water` … `other`).
    pub item: String,
    pub amount: Money,
    pub period_start: NaiveDate,
    pub period_end: NaiveDate,
    pub external_no: Option<String>,
    pub remark: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BillImport {
    pub template: Option<Template>,
    pub bills: Vec<ImportedBill>,
    pub errors: Vec<RowError>,
    /// Rows read, the sample and blank rows not counted.
    pub rows: usize,
    /// Rows with at least one error (`errors` lists the first thousand errors).
    #[serde(default)]
    pub bad_rows: usize,
}

/// A good house row: the house's facts, and a resident when the row names one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ImportedHouse {
    pub row: usize,
    pub house: HouseId,
    pub kind: Option<ResourceKind>,
    pub area: Option<Decimal>,
    pub state: Option<HouseState>,
    pub state_since: Option<NaiveDate>,
    pub resident: Option<(String, String, Option<String>, Relation, bool)>,
    /// The sheet's own columns beyond the template's (C2's custom fields), by header: non-empty
    /// cells only.
    #[serde(default)]
    pub fields: Vec<(String, String)>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct HouseImport {
    pub houses: Vec<ImportedHouse>,
    pub errors: Vec<RowError>,
    pub rows: usize,
    /// Rows with at least one error (`errors` lists the first thousand errors).
    #[serde(default)]
    pub bad_rows: usize,
}

/// The ten fee types of the standard template, and the item each imports as.
pub const FEE_TYPES: [(&str, &str); 10] = [
    ("物业费", "property"),
    ("水费", "water"),
    ("电费", "electricity"),
    ("车位费", "parking"),
    ("租金", "rent"),
    ("公摊费用", "shared_cost"),
    ("滞纳金", "late_fee"),
    ("电梯费", "elevator"),
    ("当月应缴费用", "month_total"),
    ("其它", "other"),
];

/// The item a fee type label imports as; anything else is 其它.
pub fn item_of(label: &str) -> &'static str {
    let label = label.trim();
    FEE_TYPES.iter().find(|(l, _)| *l == label || (*l == "其它" && label == "其他")).map_or("other", |(_, id)| id)
}

/// The label of an item id, for exports and screens.
pub fn label_of(item: &str) -> &str {
    FEE_TYPES.iter().find(|(_, id)| *id == item).map_or(item, |(l, _)| l)
}

const SAMPLE_ADDRESS: &str = "一栋一单元101";

/// A date of the template: `2019年01月` (the month's first day, or its last when `end`),
/// `2019年12月5日`, `2019-12-05`, `2019/12/5` or `2019-12`.
pub fn parse_date(text: &str, end: bool) -> Option<NaiveDate> {
    let t = text.trim();
    let t = t.split(' ').next().unwrap_or(t);
    let t = t.replace('年', "-").replace('月', "-").replace('日', "").replace('/', "-");
    let t = t.trim_end_matches('-');
    let mut parts = t.split('-').map(str::trim);
    let y: i32 = parts.next()?.parse().ok()?;
    let m: u32 = parts.next()?.parse().ok()?;
    match parts.next() {
        Some(d) if !d.is_empty() => {
            let d: u32 = d.parse().ok()?;
            if parts.next().is_some() {
                return None;
            }
            NaiveDate::from_ymd_opt(y, m, d)
        }
        _ => {
            let first = NaiveDate::from_ymd_opt(y, m, 1)?;
            if !end {
                return Some(first);
            }
            let next = if m == 12 { NaiveDate::from_ymd_opt(y + 1, 1, 1)? } else { NaiveDate::from_ymd_opt(y, m + 1, 1)? };
            next.pred_opt().filter(|d| d.month() == m)
        }
    }
}

/// An amount: `1300`, `0.01`, `¥1,300.005` → half-up to the fen; must be above zero.
pub fn parse_amount(text: &str) -> Result<Money, &'static str> {
    let t: String = text.trim().trim_start_matches(['¥', '￥']).chars().filter(|c| *c != ',').collect();
    if t.is_empty() {
        return Err("金额为空 / the amount is empty");
    }
    let d = Decimal::from_str(&t).or_else(|_| Decimal::from_scientific(&t)).map_err(|_| "金额不是数字 / the amount is not a number")?;
    // A spreadsheet's number cell is a float in the file; rounding it once to the fen is the
    // seeds' rule (JSON bodies, typed by a program, are refused past two decimals instead).
    let m = Money::from_decimal_with(d, 2, RoundingStrategy::MidpointAwayFromZero);
    if m.is_zero() || m.is_negative() {
        return Err("金额必须大于零 / the amount must be above zero");
    }
    if crate::limits::check_amount(m, "", "").is_err() {
        return Err("金额超过单笔上限 100000000.00 / the amount is above the limit of 100000000.00");
    }
    Ok(m)
}

struct Columns {
    template: Template,
    address: usize,
    item: usize,
    amount: usize,
    start: usize,
    end: usize,
    remark: Option<usize>,
    external: Option<usize>,
}

fn find(header: &[String], names: &[&str]) -> Option<usize> {
    header.iter().position(|h| names.contains(&h.trim()))
}

fn bill_columns(header: &[String]) -> Option<Columns> {
    {
        if let (Some(address), Some(item), Some(amount), Some(start), Some(end)) = (
            find(header, &["房屋地址"]),
            find(header, &["费用类型"]),
            find(header, &["费用金额"]),
            find(header, &["开始时间"]),
            find(header, &["结束时间"]),
        ) {
            let remark = find(header, &["备注"]);
            return Some(Columns { template: Template::Standard, address, item, amount, start, end, remark, external: None });
        }
        if let (Some(address), Some(item), Some(amount), Some(start), Some(end)) = (
            find(header, &["房号", "房屋编号"]),
            find(header, &["收费项目"]),
            find(header, &["应收金额"]),
            find(header, &["计费开始日期"]),
            find(header, &["计费结束日期"]),
        ) {
            let remark = find(header, &["备注"]);
            let external = find(header, &["单据号"]);
            return Some(Columns { template: Template::Xinshichuang, address, item, amount, start, end, remark, external });
        }
    }
    None
}

fn cell(row: &[String], i: usize) -> &str {
    row.get(i).map_or("", |s| s.trim())
}

fn blank(row: &[String]) -> bool {
    row.iter().all(|c| c.trim().is_empty())
}

/// The most row errors a report lists; the rest are only counted (`bad_rows`).
pub const MAX_REPORTED_ERRORS: usize = 1_000;

/// Rows before the header a reader keeps while it looks for it.
const HEADER_WITHIN: usize = 5;

/// Where row errors go: every bad row counted, the first `MAX_REPORTED_ERRORS` errors kept.
#[derive(Default)]
struct Errors {
    kept: Vec<RowError>,
    bad_rows: usize,
    last_bad: Option<usize>,
}

impl Errors {
    fn push(&mut self, row: usize, column: &str, reason: String) {
        if self.last_bad != Some(row) {
            self.bad_rows += 1;
            self.last_bad = Some(row);
        }
        if self.kept.len() < MAX_REPORTED_ERRORS {
            self.kept.push(RowError { row, column: column.into(), reason });
        }
    }

    fn bad(&self, row: usize) -> bool {
        self.last_bad == Some(row)
    }
}

/// Bill rows of either bill template; `resolve` finds a house by its address (either form).
pub fn parse_bills(rows: &[Vec<String>], resolve: impl Fn(&str) -> Option<HouseId>) -> BillImport {
    let mut reader = BillReader::new(resolve);
    for (i, row) in rows.iter().enumerate() {
        reader.row(i, row);
    }
    reader.finish()
}

/// Reads bill rows one at a time (the file is never held as rows).
pub struct BillReader<F> {
    resolve: F,
    cols: Option<Columns>,
    first: bool,
    errors: Errors,
    out: BillImport,
}

impl<F: Fn(&str) -> Option<HouseId>> super::RowSink for BillReader<F> {
    fn row(&mut self, i: usize, cells: &[String]) {
        BillReader::row(self, i, cells);
    }
}

impl<F: Fn(&str) -> Option<HouseId>> BillReader<F> {
    pub fn new(resolve: F) -> Self {
        BillReader { resolve, cols: None, first: true, errors: Errors::default(), out: BillImport::default() }
    }

    /// Row `i` (0-based) of the file.
    pub fn row(&mut self, i: usize, row: &[String]) {
        let Some(cols) = &self.cols else {
            // The header is within the first rows (the standard template has a 保留/必填/选填 row above it).
            if i < HEADER_WITHIN {
                self.cols = bill_columns(row);
                self.out.template = self.cols.as_ref().map(|c| c.template);
            }
            return;
        };
        let n = i + 1;
        if blank(row) {
            return;
        }
        if self.first && cols.template == Template::Standard && cell(row, cols.address) == SAMPLE_ADDRESS {
            self.first = false;
            return;
        }
        self.first = false;
        self.out.rows += 1;
        let errors = &mut self.errors;
        let mut bad = |column: &str, reason: &str| errors.push(n, column, reason.into());
        let address = cell(row, cols.address);
        let house = if address.is_empty() {
            bad("房屋地址", "房屋地址为空 / the address is empty");
            None
        } else {
            let h = (self.resolve)(address);
            if h.is_none() {
                bad("房屋地址", &format!("找不到房屋“{address}” / no house at “{address}”"));
            }
            h
        };
        if cell(row, cols.item).is_empty() {
            bad("费用类型", "费用类型为空（必填） / the fee type is empty (required)");
        }
        let amount = parse_amount(cell(row, cols.amount)).map_err(|e| bad("费用金额", e)).ok();
        let start = parse_date(cell(row, cols.start), false);
        if start.is_none() {
            bad("开始时间", &format!("日期“{}”无法识别，应为 2019年01月 或 2019年12月5日 / unreadable date", cell(row, cols.start)));
        }
        let end = parse_date(cell(row, cols.end), true);
        if end.is_none() {
            bad("结束时间", &format!("日期“{}”无法识别，应为 2019年01月 或 2019年12月5日 / unreadable date", cell(row, cols.end)));
        }
        if let (Some(s), Some(e)) = (start, end)
            && e < s
        {
            bad("结束时间", "结束时间早于开始时间 / the period ends before it starts");
        }
        let remark = cols.remark.map(|c| cell(row, c).to_string()).unwrap_or_default();
        if remark.chars().count() > 500 {
            bad("备注", "备注不能超过500字 / the remark is over 500 characters");
        }
        let external_no = cols.external.map(|c| cell(row, c).to_string()).filter(|s| !s.is_empty());
        if self.errors.bad(n) {
            return;
        }
        if let (Some(house), Some(amount), Some(period_start), Some(period_end)) = (house, amount, start, end) {
            self.out.bills.push(ImportedBill {
                row: n,
                house,
                item: item_of(cell(row, cols.item)).to_string(),
                amount,
                period_start,
                period_end,
                external_no,
                remark,
            });
        }
    }

    pub fn finish(mut self) -> BillImport {
        if self.cols.is_none() {
            self.errors.push(1, "", "找不到表头：请使用标准缴费单模板或新视窗缴费单模板 / no header row: use the standard or the 新视窗 template".into());
        }
        self.out.errors = self.errors.kept;
        self.out.bad_rows = self.errors.bad_rows;
        self.out
    }
}

/// Rows of the house and resident template.
pub fn parse_houses(rows: &[Vec<String>], resolve: impl Fn(&str) -> Option<HouseId>) -> HouseImport {
    let mut reader = HouseReader::new(resolve);
    for (i, row) in rows.iter().enumerate() {
        reader.row(i, row);
    }
    reader.finish()
}

/// The house template's own columns; any other headed column is a custom field.
const HOUSE_HEADERS: [&str; 10] = ["房屋地址", "类型", "面积", "状态", "状态日期", "住户姓名", "手机号", "身份证号", "关系", "VIP"];
/// At most this many custom fields a sheet brings; a field's name and value are bounded too.
pub const MAX_FIELDS: usize = 20;
pub const FIELD_NAME_CHARS: usize = 20;
pub const FIELD_VALUE_CHARS: usize = 200;

/// Where the house template's columns are.
#[derive(Clone)]
struct HouseColumns {
    address: Option<usize>,
    kind: Option<usize>,
    area: Option<usize>,
    state: Option<usize>,
    since: Option<usize>,
    name: Option<usize>,
    phone: Option<usize>,
    id_no: Option<usize>,
    relation: Option<usize>,
    vip: Option<usize>,
    /// Custom fields: column and header.
    extra: Vec<(usize, String)>,
}

impl HouseColumns {
    fn of(header: &[String]) -> Option<HouseColumns> {
        if find(header, &["房屋地址"]).is_none() || find(header, &["面积", "类型", "住户姓名"]).is_none() {
            return None;
        }
        let col = |names: &[&str]| find(header, names);
        Some(HouseColumns {
            address: col(&["房屋地址"]),
            kind: col(&["类型"]),
            area: col(&["面积"]),
            state: col(&["状态"]),
            since: col(&["状态日期"]),
            name: col(&["住户姓名"]),
            phone: col(&["手机号"]),
            id_no: col(&["身份证号"]),
            relation: col(&["关系"]),
            vip: col(&["VIP"]),
            extra: header
                .iter()
                .enumerate()
                .map(|(i, h)| (i, h.trim().to_string()))
                .filter(|(_, h)| !h.is_empty() && h.chars().count() <= FIELD_NAME_CHARS && !HOUSE_HEADERS.contains(&h.as_str()))
                .take(MAX_FIELDS)
                .collect(),
        })
    }
}

fn get(_: &HouseColumns, row: &[String], c: Option<usize>) -> String {
    c.map_or(String::new(), |c| cell(row, c).to_string())
}

/// Reads house rows one at a time (the file is never held as rows).
pub struct HouseReader<F> {
    resolve: F,
    cols: Option<HouseColumns>,
    errors: Errors,
    out: HouseImport,
}

impl<F: Fn(&str) -> Option<HouseId>> super::RowSink for HouseReader<F> {
    fn row(&mut self, i: usize, cells: &[String]) {
        HouseReader::row(self, i, cells);
    }
}

impl<F: Fn(&str) -> Option<HouseId>> HouseReader<F> {
    pub fn new(resolve: F) -> Self {
        HouseReader { resolve, cols: None, errors: Errors::default(), out: HouseImport::default() }
    }

    /// Row `i` (0-based) of the file.
    pub fn row(&mut self, i: usize, row: &[String]) {
        let Some(c) = &self.cols else {
            if i < HEADER_WITHIN {
                self.cols = HouseColumns::of(row);
            }
            return;
        };
        let HouseColumns { address, kind, area, state, since, name, phone, id_no, relation, vip, .. } = *c;
        let extra = c.extra.clone();
        let n = i + 1;
        if blank(row) {
            return;
        }
        self.out.rows += 1;
        let errors = &mut self.errors;
        let mut bad = |column: &str, reason: String| errors.push(n, column, reason);
        let addr = get(c, row, address);
        let house = if addr.is_empty() {
            bad("房屋地址", "房屋地址为空（必填） / the address is empty (required)".into());
            None
        } else {
            (self.resolve)(&addr)
        };
        if house.is_none() && !addr.is_empty() {
            bad("房屋地址", format!("找不到房屋“{addr}” / no house at “{addr}”"));
        }
        let kind_text = get(c, row, kind);
        let kind = (!kind_text.is_empty()).then(|| ResourceKind::from_label(&kind_text));
        if kind == Some(None) {
            bad("类型", format!("类型“{kind_text}”应为 住宅/商铺/写字间/车位/储藏室/广告位 / unknown kind"));
        }
        let area_text = get(c, row, area);
        let area_value = (!area_text.is_empty()).then(|| Decimal::from_str(&area_text).ok().filter(|a| a.is_sign_positive() && !a.is_zero() && *a <= crate::limits::AREA_MAX));
        if area_value == Some(None) {
            bad("面积", format!("面积“{area_text}”不是 0 至 1000000 之间的正数 / the area is not a positive number up to 1000000"));
        }
        let state_text = get(c, row, state);
        let state_value = (!state_text.is_empty()).then(|| house_state_from_label(&state_text));
        if state_value == Some(None) {
            bad("状态", format!("状态“{state_text}”应为 未售/已交房/装修中/空置/入住/出租 / unknown state"));
        }
        let since_text = get(c, row, since);
        let since_value = (!since_text.is_empty()).then(|| parse_date(&since_text, false));
        if since_value == Some(None) {
            bad("状态日期", format!("日期“{since_text}”无法识别 / unreadable date"));
        }
        let person = get(c, row, name);
        let mobile = get(c, row, phone);
        let resident = if person.is_empty() && mobile.is_empty() {
            None
        } else {
            if person.is_empty() {
                bad("住户姓名", "住户姓名为空 / the name is empty".into());
            }
            if !crate::identity::is_mobile(&mobile) {
                bad("手机号", format!("手机号“{mobile}”应为11位数字 / the phone must be 11 digits"));
            }
            let rel_text = get(c, row, relation);
            let rel = if rel_text.is_empty() { Some(Relation::Owner) } else { Relation::from_label(&rel_text) };
            if rel.is_none() {
                bad("关系", format!("关系“{rel_text}”应为 业主/租户/家属 / unknown relation"));
            }
            let id_number = Some(get(c, row, id_no)).filter(|s| !s.is_empty());
            let vip = matches!(get(c, row, vip).as_str(), "是" | "Y" | "y" | "yes" | "VIP" | "1");
            rel.map(|r| (person.clone(), mobile.clone(), id_number, r, vip))
        };
        let mut fields = Vec::new();
        for (i, header) in extra {
            let value = cell(row, i).trim();
            if value.chars().count() > FIELD_VALUE_CHARS {
                bad(&header, format!("内容超过 {FIELD_VALUE_CHARS} 字 / longer than {FIELD_VALUE_CHARS} characters"));
            } else if !value.is_empty() {
                fields.push((header, value.to_string()));
            }
        }
        if self.errors.bad(n) {
            return;
        }
        if let Some(house) = house {
            self.out.houses.push(ImportedHouse {
                row: n,
                house,
                kind: kind.flatten(),
                area: area_value.flatten().map(|a| a.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)),
                state: state_value.flatten(),
                state_since: since_value.flatten(),
                resident,
                fields,
            });
        }
        }

    pub fn finish(mut self) -> HouseImport {
        if self.cols.is_none() {
            self.errors.push(1, "", "找不到表头：请使用房屋住户模板 / no header row: use the house template".into());
        }
        self.out.errors = self.errors.kept;
        self.out.bad_rows = self.errors.bad_rows;
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(text: &str) -> Vec<Vec<String>> {
        text.lines().map(|l| l.split('\t').map(String::from).collect()).collect()
    }

    fn resolve(a: &str) -> Option<HouseId> {
        (a.starts_with("测试用小区/1号楼") || a.starts_with("荷花苑-")).then(|| HouseId::new(a))
    }

    #[test]
    fn the_standard_template_skips_its_sample_row_and_applies_every_rule() {
        let file = rows(
            "保留字段\t必填字段\t\t\t\t选填字段\n\
             房屋地址\t费用类型\t费用金额\t开始时间\t结束时间\t备注\n\
             一栋一单元101\t物业费\t1300\t2018年01月02日\t2018年12月01日\t缴费备注说明(最多500字)\n\
             测试用小区/1号楼/1层/101\t物业费\t0.005\t2019年01月\t2019年12月5日\t\n\
             荷花苑-1-1-101\t宠物费\t12.345\t2019-02-01\t2019年02月\t备注",
        );
        let import = parse_bills(&file, resolve);
        assert_eq!(import.template, Some(Template::Standard));
        assert!(import.errors.is_empty(), "{:?}", import.errors);
        assert_eq!(import.rows, 2);
        let [a, b] = &import.bills[..] else { panic!() };
        assert_eq!((a.row, a.amount, a.item.as_str()), (4, "0.01".parse().unwrap(), "property"));
        assert_eq!((a.period_start, a.period_end), (NaiveDate::from_ymd_opt(2019, 1, 1).unwrap(), NaiveDate::from_ymd_opt(2019, 12, 5).unwrap()));
        // An unknown type imports as 其它; 12.345 → 12.35; `2019年02月` as an end is the month's last day.
        assert_eq!((b.item.as_str(), b.amount), ("other", "12.35".parse().unwrap()));
        assert_eq!(b.period_end, NaiveDate::from_ymd_opt(2019, 2, 28).unwrap());
    }

    #[test]
    fn every_bad_row_is_reported_with_its_row_column_and_reason() {
        let file = rows(
            "房屋地址\t费用类型\t费用金额\t开始时间\t结束时间\t备注\n\
             荷花苑-1-1-101\t物业费\tabc\t2019年13月\t2019年01月\t\n\
             火星-1\t水费\t10\t2019年01月\t2019年01月\t\n\
             荷花苑-1-1-102\t水费\t-1\t2019年02月\t2019年01月\t",
        );
        let import = parse_bills(&file, resolve);
        assert!(import.bills.is_empty());
        let got: Vec<(usize, &str)> = import.errors.iter().map(|e| (e.row, e.column.as_str())).collect();
        assert_eq!(got, vec![(2, "费用金额"), (2, "开始时间"), (3, "房屋地址"), (4, "费用金额"), (4, "结束时间")]);
        assert!(import.errors[0].reason.contains("not a number"));
    }

    #[test]
    fn the_xinshichuang_template_maps_its_own_columns_and_keeps_its_numbers() {
        let file = rows(
            "房号\t客户名称\t收费项目\t应收金额\t计费开始日期\t计费结束日期\t单据号\t备注\n\
             荷花苑-1-1-101\t张三\t电梯费\t45.5\t2019-01-01\t2019-03-31\tXSC-0001\t",
        );
        let import = parse_bills(&file, resolve);
        assert_eq!(import.template, Some(Template::Xinshichuang));
        assert_eq!(import.bills[0].item, "elevator");
        assert_eq!(import.bills[0].external_no.as_deref(), Some("XSC-0001"));
    }

    #[test]
    fn house_rows_carry_kind_area_state_and_a_resident() {
        let file = rows(
            "房屋地址\t类型\t面积\t状态\t状态日期\t住户姓名\t手机号\t身份证号\t关系\tVIP\n\
             荷花苑-1-1-101\t住宅\t89.255\t空置\t2026年11月1日\t张三\t13898424613\t\t业主\t是\n\
             荷花苑-1-1-102\t别墅\t-3\t\t\t李四\t123\t\t\t",
        );
        let import = parse_houses(&file, resolve);
        assert_eq!(import.houses.len(), 1);
        let h = &import.houses[0];
        assert_eq!((h.kind, h.area, h.state), (Some(ResourceKind::Home), Some(Decimal::new(8926, 2)), Some(HouseState::Vacant)));
        assert!(h.resident.as_ref().is_some_and(|r| r.4));
        let cols: Vec<&str> = import.errors.iter().map(|e| e.column.as_str()).collect();
        assert_eq!(cols, vec!["类型", "面积", "手机号"]);
    }

    #[test]
    fn a_sheet_s_own_columns_are_the_company_s_custom_fields() {
        let long = "长".repeat(FIELD_VALUE_CHARS + 1);
        let file = rows(&format!(
            "房屋地址\t面积\t朝向\t产权证号\n\
             荷花苑-1-1-101\t89\t南北\t\n\
             荷花苑-1-1-102\t90\t{long}\tX-1"
        ));
        let import = parse_houses(&file, resolve);
        assert_eq!(import.houses.len(), 1);
        assert_eq!(import.houses[0].fields, vec![("朝向".to_string(), "南北".to_string())], "empty cells set nothing");
        assert_eq!((import.errors[0].row, import.errors[0].column.as_str()), (3, "朝向"));
    }
}
