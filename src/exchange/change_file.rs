//! A batch of status changes from a file (.xlsx, .xls or UTF-8 CSV): a header row naming the
//! columns 学籍号, 生效日期 and 原因 (in any order), then one student per row.

use super::sheet::{self, Column};
use crate::error::{AppResult, ErrorCode};
use crate::registry::status::BatchLine;

const COLUMNS: [Column; 3] = [
    Column {
        name: "学籍号", synonyms: &["学籍号", "全国学籍号", "学籍辅号", "student_no"], required: true
    },
    Column { name: "生效日期", synonyms: &["生效日期", "异动日期", "effective_date"], required: true },
    Column { name: "原因", synonyms: &["原因", "异动原因", "reason"], required: true },
];

/// The lines of a batch file; a missing column is named in the error.
pub fn read(bytes: &[u8], filename: &str) -> AppResult<Vec<BatchLine>> {
    Ok(sheet::read_named(bytes, filename, ErrorCode::ChangeFileMissingColumn, &COLUMNS)?
        .into_iter()
        .map(|r| {
            let mut v = r.values.into_iter();
            let mut next = || v.next().unwrap_or_default();
            BatchLine { row: r.row, student_no: next(), effective_date: next(), reason: next() }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_found_by_name_in_any_order() {
        let csv = "\u{feff}原因,学籍号,生效日期\n因病,G522326201901010011,2026-11-02\n,,\n".as_bytes();
        let lines = read(csv, "休学.csv").expect("read");
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0].row, 2);
        assert_eq!(lines[0].student_no, "G522326201901010011");
        assert_eq!(lines[0].effective_date, "2026-11-02");
        assert_eq!(lines[0].reason, "因病");
    }

    #[test]
    fn a_missing_column_is_named() {
        let err = read("学籍号,原因\nG1,因病\n".as_bytes(), "x.csv").unwrap_err();
        assert_eq!(err.code, ErrorCode::ChangeFileMissingColumn);
        assert!(err.message.contains("生效日期"), "{}", err.message);
    }
}
