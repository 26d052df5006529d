//! The A4 receipt of seed 001 (收款收据): community, print date, number, address, fee type,
//! amount, period, state, resident, import time, external number, paid time, channel, payer,
//! remark, and the payee's stamp area — as a print-ready page and as a PDF. The PDF embeds a
//! subset of Noto Sans CJK (Debian's fonts-noto-cjk), so it prints the same anywhere and its
//! text can be searched and copied.

use std::sync::OnceLock;

use chrono::NaiveDate;
use hutong_core::Money;

pub struct ReceiptLine {
    pub bill: String,
    pub item: String,
    pub amount: Money,
    pub paid_now: Money,
    pub period: String,
    pub state: String,
    pub issued: String,
    pub external_no: String,
    pub remark: String,
}

pub struct Receipt {
    pub community: String,
    pub printed: NaiveDate,
    pub no: String,
    pub address: String,
    pub resident: String,
    pub lines: Vec<ReceiptLine>,
    pub amount: Money,
    pub prepaid: Money,
    pub paid_at: String,
    pub channel: String,
    pub payer: String,
    pub cashier: String,
}

/// Where Debian puts the CJK fonts; the Simplified Chinese face is index 2 of the collection.
const FONT_FILES: [(&str, u32); 2] =
    [("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 2), ("/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc", 2)];

pub(crate) fn font_data() -> Option<&'static (Vec<u8>, u32)> {
    static FONT: OnceLock<Option<(Vec<u8>, u32)>> = OnceLock::new();
    FONT.get_or_init(|| {
        let from_env = std::env::var("HUTONG_RECEIPT_FONT").ok().map(|p| (p, 0));
        from_env.into_iter().chain(FONT_FILES.iter().map(|(p, i)| (p.to_string(), *i))).find_map(|(p, i)| std::fs::read(p).ok().map(|d| (d, i)))
    })
    .as_ref()
}

pub(crate) fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

impl Receipt {
    fn title(&self) -> String {
        format!("{}收款收据", self.community)
    }

    pub fn html(&self) -> String {
        let rows: String = self
            .lines
            .iter()
            .map(|l| {
                format!(
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    esc(&self.address), esc(&l.item), l.amount, l.paid_now, esc(&l.period), esc(&l.state)
                )
            })
            .collect();
        let details: String = self
            .lines
            .iter()
            .map(|l| format!("<tr><th>账单号</th><td>{}</td><th>导入时间</th><td>{}</td><th>物业系统单号</th><td>{}</td></tr><tr><th>备注</th><td colspan=5>{}</td></tr>", esc(&l.bill), esc(&l.issued), esc(&l.external_no), esc(&l.remark)))
            .collect();
        format!(
            "<!doctype html><html lang=zh-CN><meta charset=utf-8><title>{title}</title>\
<style>@page{{size:A4;margin:18mm}}body{{font-family:'Noto Sans CJK SC',sans-serif;font-size:12pt}}h1{{text-align:center;font-size:18pt}}\
table{{width:100%;border-collapse:collapse;margin:6pt 0}}td,th{{border:1px solid #333;padding:4pt;text-align:left}}.meta{{display:flex;justify-content:space-between}}\
.stamp{{margin-top:24pt;text-align:right;height:60pt}}@media print{{button{{display:none}}}}</style>\
<body><button onclick=print()>打印</button><h1>{title}</h1><div class=meta><span>{printed}(打印日期)</span><span>单号：{no}</span></div>\
<table><tr><th>房屋地址</th><th>缴费类型</th><th>费用金额</th><th>本次实收</th><th>费用时段</th><th>状态</th></tr>{rows}</table>\
<table><tr><th>住户/电话</th><td colspan=5>{resident}</td></tr>{details}\
<tr><th>支付时间</th><td>{paid_at}</td><th>支付渠道</th><td>{channel}</td><th>支付人姓名</th><td>{payer}</td></tr>\
<tr><th>合计实收</th><td>¥{amount}</td><th>转入预存</th><td>¥{prepaid}</td><th>收款人</th><td>{cashier}</td></tr></table>\
<div class=stamp>收款单位（盖章）</div></body></html>",
            title = esc(&self.title()),
            printed = hutong_core::reminder::zh_date(self.printed),
            no = esc(&self.no),
            resident = esc(&self.resident),
            paid_at = esc(&self.paid_at),
            channel = esc(&self.channel),
            payer = esc(&self.payer),
            amount = self.amount,
            prepaid = self.prepaid,
            cashier = esc(&self.cashier),
        )
    }

    /// The receipt as an A4 PDF.
    pub fn pdf(&self) -> Result<Vec<u8>, String> {
        use krilla::Document;
        use krilla::geom::{PathBuilder, Point, Rect};
        use krilla::page::PageSettings;
        use krilla::paint::Stroke;
        use krilla::text::{Font, TextDirection};

        let (data, index) = font_data().ok_or("未安装中文字体 fonts-noto-cjk / the CJK font (fonts-noto-cjk) is not installed")?;
        let font = Font::new(data.clone().into(), *index).ok_or("字体无法读取 / the font cannot be read")?;
        let mut doc = Document::new();
        // A4 in points.
        let settings = PageSettings::from_wh(595.0, 842.0).ok_or("page size")?;
        let mut page = doc.start_page_with(settings);
        let mut s = page.surface();
        let mut y = 60.0_f32;
        let text = |s: &mut krilla::surface::Surface<'_>, x: f32, y: f32, size: f32, t: &str| {
            s.draw_text(Point::from_xy(x, y), font.clone(), size, t, false, TextDirection::Auto);
        };
        text(&mut s, 200.0, y, 18.0, &self.title());
        y += 30.0;
        text(&mut s, 50.0, y, 10.0, &format!("{}(打印日期)", hutong_core::reminder::zh_date(self.printed)));
        text(&mut s, 330.0, y, 10.0, &format!("单号：{}", self.no));
        y += 20.0;
        let cols = [50.0_f32, 200.0, 280.0, 345.0, 410.0, 515.0];
        let header = ["房屋地址", "缴费类型", "费用金额", "本次实收", "费用时段", "状态"];
        let top = y;
        y += 16.0;
        for (x, h) in cols.iter().zip(header) {
            text(&mut s, x + 3.0, y, 9.0, h);
        }
        for l in &self.lines {
            y += 18.0;
            let cells = [self.address.as_str(), &l.item, &l.amount.to_string(), &l.paid_now.to_string(), &l.period, &l.state];
            for (x, c) in cols.iter().zip(cells) {
                let size = if c.chars().count() > 16 { 6.5 } else { 9.0 };
                text(&mut s, x + 3.0, y, size, c);
            }
        }
        y += 8.0;
        let mut grid = PathBuilder::new();
        grid.push_rect(Rect::from_xywh(cols[0], top, 545.0 - cols[0], y - top).ok_or("rect")?);
        for x in &cols[1..] {
            grid.move_to(*x, top);
            grid.line_to(*x, y);
        }
        grid.move_to(cols[0], top + 22.0);
        grid.line_to(545.0, top + 22.0);
        s.set_stroke(Some(Stroke { width: 0.6, ..Stroke::default() }));
        if let Some(path) = grid.finish() {
            s.draw_path(&path);
        }
        y += 20.0;
        let mut pairs: Vec<(String, String)> = vec![("住户/电话".into(), self.resident.clone())];
        for l in &self.lines {
            pairs.push(("账单号".into(), format!("{}   导入时间 {}   物业系统单号 {}", l.bill, l.issued, l.external_no)));
            if !l.remark.is_empty() {
                pairs.push(("备注".into(), l.remark.clone()));
            }
        }
        pairs.push(("支付时间".into(), format!("{}   支付渠道 {}   支付人姓名 {}", self.paid_at, self.channel, self.payer)));
        pairs.push(("合计实收".into(), format!("¥{}   转入预存 ¥{}   收款人 {}", self.amount, self.prepaid, self.cashier)));
        for (k, v) in pairs {
            text(&mut s, 53.0, y, 9.0, &k);
            text(&mut s, 130.0, y, 9.0, &v);
            y += 18.0;
        }
        y += 30.0;
        text(&mut s, 400.0, y, 11.0, "收款单位（盖章）");
        s.finish();
        page.finish();
        doc.finish().map_err(|e| format!("{e:?}"))
    }
}
