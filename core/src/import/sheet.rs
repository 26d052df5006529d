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
    /// 64 MiB uploaded, 512 MiB unzipped, a million rows of up to 64 columns.
    fn default() -> Self {
        Limits { max_bytes: 64 << 20, max_unzipped: 512 << 20, max_rows: 1_000_000, max_columns: 64 }
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

/// Every row of the file's first sheet, as text.
pub fn read_rows(bytes: &[u8], limits: Limits) -> Result<Vec<Vec<String>>, SheetError> {
    if bytes.len() > limits.max_bytes {
        return Err(SheetError::TooLarge(limits.max_bytes >> 20));
    }
    if bytes.is_empty() {
        return Err(SheetError::Empty);
    }
    match sniff(bytes) {
        Format::Csv => read_csv(bytes, limits),
        Format::Xlsx => read_xlsx(bytes, limits),
        Format::Xls => read_xls(bytes, limits),
    }
}

/// UTF-8 (with or without BOM) as it is; anything else is read as GBK (GB18030, its superset),
/// which is what Excel on a Chinese Windows saves.
pub fn decode_text(bytes: &[u8]) -> String {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_string(),
        Err(_) => encoding_rs::GB18030.decode(bytes).0.into_owned(),
    }
}

fn read_csv(bytes: &[u8], limits: Limits) -> Result<Vec<Vec<String>>, SheetError> {
    let text = decode_text(bytes);
    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(text.as_bytes());
    let mut rows = Vec::new();
    let mut record = csv::StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => return Err(SheetError::Unreadable(e.to_string())),
        }
        if rows.len() >= limits.max_rows {
            return Err(SheetError::TooManyRows(limits.max_rows));
        }
        if record.len() > limits.max_columns {
            return Err(SheetError::TooManyColumns(limits.max_columns));
        }
        rows.push(record.iter().map(str::to_string).collect());
    }
    Ok(rows)
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

fn place(rows: &mut Vec<Vec<String>>, r: usize, c: usize, text: String, limits: Limits) -> Result<(), SheetError> {
    if r >= limits.max_rows {
        return Err(SheetError::TooManyRows(limits.max_rows));
    }
    if c >= limits.max_columns {
        return Err(SheetError::TooManyColumns(limits.max_columns));
    }
    if rows.len() <= r {
        rows.resize_with(r + 1, Vec::new);
    }
    let row = &mut rows[r];
    if row.len() <= c {
        row.resize(c + 1, String::new());
    }
    row[c] = text;
    Ok(())
}

fn read_xlsx(bytes: &[u8], limits: Limits) -> Result<Vec<Vec<String>>, SheetError> {
    check_zip(bytes, limits)?;
    let unreadable = |e: calamine::XlsxError| SheetError::Unreadable(e.to_string());
    let mut book: Xlsx<_> = Xlsx::new(Cursor::new(bytes)).map_err(unreadable)?;
    let name = book.sheet_names().first().cloned().ok_or(SheetError::Empty)?;
    let mut cells = book.worksheet_cells_reader(&name).map_err(unreadable)?;
    let mut rows = Vec::new();
    while let Some(cell) = cells.next_cell().map_err(unreadable)? {
        let (r, c) = cell.get_position();
        let text = text_of(cell.get_value());
        if text.is_empty() {
            continue;
        }
        place(&mut rows, r as usize, c as usize, text, limits)?;
    }
    Ok(rows)
}

fn read_xls(bytes: &[u8], limits: Limits) -> Result<Vec<Vec<String>>, SheetError> {
    let unreadable = |e: calamine::XlsError| SheetError::Unreadable(e.to_string());
    let mut book: Xls<_> = Xls::new(Cursor::new(bytes)).map_err(unreadable)?;
    let name = book.sheet_names().first().cloned().ok_or(SheetError::Empty)?;
    // BIFF8 itself caps a sheet at 65,536 × 256 cells.
    let range = book.worksheet_range(&name).map_err(unreadable)?;
    let (r0, c0) = range.start().unwrap_or((0, 0));
    let mut rows = Vec::new();
    for (r, c, value) in range.used_cells() {
        let text = match value {
            Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
            Data::Float(f) => f.to_string(),
            Data::Int(i) => i.to_string(),
            Data::Bool(b) => b.to_string(),
            Data::DateTime(d) => d.as_datetime().map_or_else(|| d.as_f64().to_string(), |t| t.date().to_string()),
            Data::Error(_) | Data::Empty => continue,
        };
        place(&mut rows, r + r0 as usize, c + c0 as usize, text, limits)?;
    }
    Ok(rows)
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
