//! Imports and exports (C5, F6, F7): the spreadsheet templates — the standard bill template of
//! seed 001, the 新视窗 export, the house and resident template — turned into lines with a
//! report of every bad row, and (with the `sheets` feature) reading CSV / XLS / XLSX files within
//! hard limits and writing exports that no spreadsheet will run as a formula.
//!
//! # Layout
//! - [`template`]: rows of cells → bill lines or house lines, and the row errors.
//! - [`sheet`]: bytes of a CSV (UTF-8 or GBK), XLS or XLSX file → rows of cells, bounded.
//! - [`export`]: rows → CSV or XLSX, formula-injection safe.

#[cfg(feature = "sheets")]
pub mod export;
#[cfg(feature = "sheets")]
pub mod sheet;
pub mod devices;
pub mod template;

pub use template::{BillImport, HouseImport, ImportedBill, ImportedHouse, RowError, Template};

/// Takes a file's rows one at a time (the import templates' readers, fed by `sheet`).
pub trait RowSink {
    /// Row `i` (0-based) of the file, trailing empty cells left off.
    fn row(&mut self, i: usize, cells: &[String]);
}
