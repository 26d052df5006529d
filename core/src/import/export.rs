//! Exports (F7). In CSV, a cell that starts like a formula (`=`, `+`, `-`, `@`, tab, CR, NUL) is
//! written with a leading apostrophe, so a spreadsheet shows it as text instead of running it; CSV
//! is UTF-8 with a BOM so Excel opens Chinese correctly. XLSX cells are typed as strings, which no
//! spreadsheet evaluates, so they keep their text as it is (a remark "-5" stays "-5", review I3).

use rust_xlsxwriter::{Workbook, XlsxError};

/// The text a spreadsheet will not take for a formula.
pub fn defuse(cell: &str) -> std::borrow::Cow<'_, str> {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r', '\0']) { format!("'{cell}").into() } else { cell.into() }
}

pub fn csv(rows: &[Vec<String>]) -> Vec<u8> {
    let mut out = b"\xEF\xBB\xBF".to_vec();
    {
        let mut w = csv::Writer::from_writer(&mut out);
        for row in rows {
            // Writing into a Vec cannot fail.
            let _ = w.write_record(row.iter().map(|c| defuse(c).into_owned()));
        }
        let _ = w.flush();
    }
    out
}

/// Every cell as a string cell: text, never a formula, whatever it starts with.
pub fn xlsx(rows: &[Vec<String>]) -> Result<Vec<u8>, XlsxError> {
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    for (r, row) in rows.iter().enumerate() {
        for (c, cell) in row.iter().enumerate() {
            if !cell.is_empty() {
                sheet.write_string(r as u32, c as u16, cell)?;
            }
        }
    }
    book.save_to_buffer()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_written_as_text() {
        let rows = vec![vec!["=HYPERLINK(\"http://evil\")".to_string(), "张三".into(), "@SUM(A1)".into()]];
        let text = String::from_utf8(csv(&rows)).unwrap();
        assert!(text.contains("'=HYPERLINK"));
        assert!(text.contains(",张三,'@SUM(A1)"));
        // NUL first is defused too (ASVS 1.2.10).
        assert!(String::from_utf8(csv(&[vec!["\0=1+1".into()]])).unwrap().contains("'\0=1+1"));
        // XLSX keeps the text itself in a string cell: nothing to run, nothing corrupted.
        let rows = vec![vec!["=HYPERLINK(\"http://evil\")".to_string(), "-5".into()]];
        let bytes = xlsx(&rows).unwrap();
        let back = super::super::sheet::read_rows(&bytes, Default::default()).unwrap();
        assert_eq!(back[0], rows[0]);
        let sheet_xml = {
            use std::io::Read;
            let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
            let mut xml = String::new();
            zip.by_name("xl/worksheets/sheet1.xml").unwrap().read_to_string(&mut xml).unwrap();
            xml
        };
        assert!(!sheet_xml.contains("<f>"), "no formula cell: {sheet_xml}");
    }
}
