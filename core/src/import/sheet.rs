//! Reading an uploaded spreadsheet into rows of text, within limits a hostile file cannot get
//! past: the upload's size, the bytes an XLSX may unzip to (checked by unzipping, not by trusting
//! the sizes it claims), and the rows and columns it may have. XLSX is read cell by cell, so a
//! sheet claiming huge dimensions costs only the cells it really has.

use std::io::{Cursor, Read};

use calamine::{Data, DataRef, Reader, Xls, Xlsx};


/// How much a file may be.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub max_bytes: usize,
    pub max_unzipped: u64,
    pub max_rows: usize,
    pub max_columns: usize,
}

impl Default for Limits {
    /// 10 MiB uploaded, 100 MiB unzipped, 200,000 rows of up to 64 columns (review I1, plan D21).
    fn default() -> Self {
        Limits { max_bytes: 10 << 20, max_unzipped: 100 << 20, max_rows: 200_000, max_columns: 64 }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SheetError {
    TooLarge(usize),
    ZipBomb(u64),
    TooManyRows(usize),
    TooManyColumns(usize),
    Unreadable(String),
    Empty,
}

crate::bilingual!(SheetError {
    SheetError::TooLarge(_0) => ("文件超过 {_0} MB 上限") / ("the file is over the {_0} MB limit"),
    SheetError::ZipBomb(_0) => ("文件解压后超过 {_0} MB，疑似压缩炸弹，已拒绝") / ("the file unzips to over {_0} MB and was refused"),
    SheetError::TooManyRows(_0) => ("文件超过 {_0} 行上限") / ("the file has more than {_0} rows"),
    SheetError::TooManyColumns(_0) => ("文件超过 {_0} 列上限") / ("the file has more than {_0} columns"),
    SheetError::Unreadable(_0) => ("无法读取文件（{_0}），请上传 csv、xls 或 xlsx") / ("cannot read the file ({_0}); upload csv, xls or xlsx"),
    SheetError::Empty => ("文件是空的") / ("the file is empty"),
});

/// The kind of file, by its first bytes rather than its name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Csv,
    Xls,
    Xlsx,
}

pub fn sniff(bytes: &[u8]) -> Format {
    if bytes.starts_with(b"PK\x03\x04") {
        Format::Xlsx
    } else if bytes.starts_with(&[0xD0, 0xCF, 0x11, 0xE0]) {
        Format::Xls
    } else {
        Format::Csv
    }
}

pub use super::RowSink;

/// Every row of the file's first sheet, as text (tests and small files; imports read row by row).
pub fn read_rows(bytes: &[u8], limits: Limits) -> Result<Vec<Vec<String>>, SheetError> {
    let mut rows = Vec::new();
    for_each_row(bytes, limits, |i, row| {
        if rows.len() <= i {
            rows.resize_with(i + 1, Vec::new);
        }
        rows[i] = row.to_vec();
    })?;
    Ok(rows)
}

/// Reads the file's first sheet row by row: `row(index, cells)` for every row that has a cell,
/// 0-based as the file numbers them, trailing empty cells left off. Only the row being read is
/// held, so memory follows the widest row, not the file (review I1). A legacy XLS is read whole
/// by its library: the server reads those in a separate, memory-capped process instead.
pub fn for_each_row(bytes: &[u8], limits: Limits, row: impl FnMut(usize, &[String])) -> Result<(), SheetError> {
    if bytes.len() > limits.max_bytes {
        return Err(SheetError::TooLarge(limits.max_bytes >> 20));
    }
    if bytes.is_empty() {
        return Err(SheetError::Empty);
    }
    match sniff(bytes) {
        Format::Csv => read_csv(bytes, limits, row),
        Format::Xlsx => read_xlsx(bytes, limits, row),
        Format::Xls => read_xls(bytes, limits, row),
    }
}

/// UTF-8 (with or without BOM) as it is; anything else is read as GBK (GB18030, its superset),
/// which is what Excel on a Chinese Windows saves.
pub fn decode_text(bytes: &[u8]) -> std::borrow::Cow<'_, str> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match std::str::from_utf8(bytes) {
        Ok(s) => std::borrow::Cow::Borrowed(s),
        Err(_) => encoding_rs::GB18030.decode(bytes).0,
    }
}

/// One row being assembled from its cells, padded only up to its last cell.
struct RowBuffer {
    index: Option<usize>,
    cells: Vec<String>,
    limits: Limits,
}

impl RowBuffer {
    fn new(limits: Limits) -> Self {
        RowBuffer { index: None, cells: Vec::new(), limits }
    }

    fn put(&mut self, r: usize, c: usize, text: String, out: &mut impl FnMut(usize, &[String])) -> Result<(), SheetError> {
        if r >= self.limits.max_rows {
            return Err(SheetError::TooManyRows(self.limits.max_rows));
        }
        if c >= self.limits.max_columns {
            return Err(SheetError::TooManyColumns(self.limits.max_columns));
        }
        if self.index != Some(r) {
            self.flush(out);
            self.index = Some(r);
        }
        if self.cells.len() <= c {
            self.cells.resize(c + 1, String::new());
        }
        self.cells[c] = text;
        Ok(())
    }

    fn flush(&mut self, out: &mut impl FnMut(usize, &[String])) {
        if let Some(i) = self.index.take() {
            while self.cells.last().is_some_and(|c| c.trim().is_empty()) {
                self.cells.pop();
            }
            if !self.cells.is_empty() {
                out(i, &self.cells);
            }
            self.cells.clear();
        }
    }
}

fn read_csv(bytes: &[u8], limits: Limits, mut out: impl FnMut(usize, &[String])) -> Result<(), SheetError> {
    let text = decode_text(bytes);
    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(text.as_bytes());
    let mut record = csv::StringRecord::new();
    let mut row = RowBuffer::new(limits);
    for r in 0.. {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => return Err(SheetError::Unreadable(e.to_string())),
        }
        if record.len() > limits.max_columns {
            return Err(SheetError::TooManyColumns(limits.max_columns));
        }
        for (c, field) in record.iter().enumerate().filter(|(_, f)| !f.is_empty()) {
            row.put(r, c, field.to_string(), &mut out)?;
        }
    }
    row.flush(&mut out);
    Ok(())
}

/// Unzips every entry into nothing, counting, so a bomb is stopped at the limit whatever sizes
/// its directory claims.
fn check_zip(bytes: &[u8], limits: Limits) -> Result<(), SheetError> {
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| SheetError::Unreadable(e.to_string()))?;
    let mut total: u64 = 0;
    for i in 0..archive.len() {
        let entry = archive.by_index(i).map_err(|e| SheetError::Unreadable(e.to_string()))?;
        let left = limits.max_unzipped.saturating_sub(total);
        let read = std::io::copy(&mut entry.take(left + 1), &mut std::io::sink()).map_err(|e| SheetError::Unreadable(e.to_string()))?;
        total += read;
        if total > limits.max_unzipped {
            return Err(SheetError::ZipBomb(limits.max_unzipped >> 20));
        }
    }
    Ok(())
}

fn text_of(value: &DataRef<'_>) -> String {
    match value {
        DataRef::Empty => String::new(),
        DataRef::String(s) | DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => s.clone(),
        DataRef::SharedString(s) => (*s).to_string(),
        DataRef::Int(i) => i.to_string(),
        // Shortest text that reads back as the same number: 0.01 stays "0.01".
        DataRef::Float(f) => f.to_string(),
        DataRef::Bool(b) => b.to_string(),
        DataRef::DateTime(d) => d.as_datetime().map_or_else(|| d.as_f64().to_string(), |t| t.date().to_string()),
        DataRef::Error(e) => format!("#{e:?}"),
    }
}

fn read_xlsx(bytes: &[u8], limits: Limits, mut out: impl FnMut(usize, &[String])) -> Result<(), SheetError> {
    check_zip(bytes, limits)?;
    let unreadable = |e: calamine::XlsxError| SheetError::Unreadable(e.to_string());
    let mut book: Xlsx<_> = Xlsx::new(Cursor::new(bytes)).map_err(unreadable)?;
    let name = book.sheet_names().first().cloned().ok_or(SheetError::Empty)?;
    let mut cells = book.worksheet_cells_reader(&name).map_err(unreadable)?;
    let mut row = RowBuffer::new(limits);
    // A sheet's XML lists its rows in order, so a row is whole when the next one starts.
    while let Some(cell) = cells.next_cell().map_err(unreadable)? {
        let (r, c) = cell.get_position();
        let text = text_of(cell.get_value());
        if !text.is_empty() {
            row.put(r as usize, c as usize, text, &mut out)?;
        }
    }
    row.flush(&mut out);
    Ok(())
}

fn read_xls(bytes: &[u8], limits: Limits, mut out: impl FnMut(usize, &[String])) -> Result<(), SheetError> {
    let unreadable = |e: calamine::XlsError| SheetError::Unreadable(e.to_string());
    let mut book: Xls<_> = Xls::new(Cursor::new(bytes)).map_err(unreadable)?;
    let name = book.sheet_names().first().cloned().ok_or(SheetError::Empty)?;
    // BIFF8 itself caps a sheet at 65,536 × 256 cells.
    let range = book.worksheet_range(&name).map_err(unreadable)?;
    let (r0, c0) = range.start().unwrap_or((0, 0));
    let mut row = RowBuffer::new(limits);
    for (r, c, value) in range.used_cells() {
        let text = match value {
            Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
            Data::Float(f) => f.to_string(),
            Data::Int(i) => i.to_string(),
            Data::Bool(b) => b.to_string(),
            Data::DateTime(d) => d.as_datetime().map_or_else(|| d.as_f64().to_string(), |t| t.date().to_string()),
            Data::Error(_) | Data::Empty => continue,
        };
        row.put(r + r0 as usize, c + c0 as usize, text, &mut out)?;
    }
    row.flush(&mut out);
    Ok(())
}

/// A legacy XLS as CSV text (UTF-8), for the server's memory-capped converter process.
pub fn xls_to_csv(bytes: &[u8], limits: Limits) -> Result<Vec<u8>, SheetError> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    let mut next = 0;
    let mut failed = None;
    read_xls(bytes, limits, |i, cells| {
        // Blank rows keep their place, so row numbers in reports match the file.
        while next < i {
            let _ = writer.write_record([""]);
            next += 1;
        }
        if let Err(e) = writer.write_record(cells) {
            failed = Some(e.to_string());
        }
        next = i + 1;
    })?;
    if let Some(e) = failed {
        return Err(SheetError::Unreadable(e));
    }
    writer.into_inner().map_err(|e| SheetError::Unreadable(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn gbk_csv_reads_the_same_as_utf8() {
        let text = "房屋地址,费用类型\n荷花苑-1-1-101,物业费\n";
        let (gbk, _, _) = encoding_rs::GBK.encode(text);
        assert_eq!(read_rows(&gbk, Limits::default()).unwrap(), read_rows(text.as_bytes(), Limits::default()).unwrap());
        assert_eq!(read_rows(text.as_bytes(), Limits::default()).unwrap()[1][1], "物业费");
    }

    #[test]
    fn an_xlsx_round_trips_and_a_zip_bomb_is_refused() {
        let rows = vec![vec!["房屋地址".to_string(), "费用金额".into()], vec!["荷花苑-1-1-101".into(), "0.01".into()]];
        let bytes = super::super::export::xlsx(&rows).unwrap();
        assert_eq!(read_rows(&bytes, Limits::default()).unwrap(), rows);
        // 8 MiB of zeros compresses to a few KiB; with a 1 MiB unzip limit it is refused.
        let mut bomb = zip::ZipWriter::new(Cursor::new(Vec::new()));
        bomb.start_file("xl/worksheets/sheet1.xml", zip::write::SimpleFileOptions::default()).unwrap();
        bomb.write_all(&vec![0u8; 8 << 20]).unwrap();
        let bomb = bomb.finish().unwrap().into_inner();
        assert!(bomb.len() < 64 << 10);
        let limits = Limits { max_unzipped: 1 << 20, ..Limits::default() };
        assert_eq!(read_rows(&bomb, limits), Err(SheetError::ZipBomb(1)));
    }

    #[test]
    fn oversized_and_overwide_files_are_refused_with_a_sentence() {
        let limits = Limits { max_bytes: 10, ..Limits::default() };
        assert!(read_rows(b"a,b,c,d,e,f,g,h", limits).unwrap_err().to_string().contains("limit"));
        let wide = vec!["x"; 70].join(",");
        assert_eq!(read_rows(wide.as_bytes(), Limits::default()), Err(SheetError::TooManyColumns(64)));
    }
}
