//! Exports (F7). A cell that starts like a formula (`=`, `+`, `-`, `@`, tab, CR) is written with a
//! leading apostrophe, so a spreadsheet shows it as text instead of running it; CSV is UTF-8 with a
//! BOM so Excel opens Chinese correctly.

use rust_xlsxwriter::{Workbook, XlsxError};

/// The text a spreadsheet will not take for a formula.
pub fn defuse(cell: &str) -> std::borrow::Cow<'_, str> {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{cell}").into() } else { cell.into() }
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

/// Every cell as text (never a formula); the header row bold.
pub fn xlsx(rows: &[Vec<String>]) -> Result<Vec<u8>, XlsxError> {
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    for (r, row) in rows.iter().enumerate() {
        for (c, cell) in row.iter().enumerate() {
            if !cell.is_empty() {
                sheet.write_string(r as u32, c as u16, defuse(cell).as_ref())?;
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
        let back = super::super::sheet::read_rows(&xlsx(&rows).unwrap(), Default::default()).unwrap();
        assert_eq!(back[0][0], "'=HYPERLINK(\"http://evil\")");
    }
}
