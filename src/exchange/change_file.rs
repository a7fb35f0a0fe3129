//! A batch of status changes from a file (.xlsx, .xls or UTF-8 CSV): a header row naming the
//! columns 学籍号, 生效日期 and 原因 (in any order), then one student per row.

use super::guard;
use super::sheet::{self, Cell};
use crate::error::{AppError, AppResult};
use crate::registry::status::BatchLine;

const COLUMNS: [(&str, &[&str]); 3] = [
    ("学籍号", &["学籍号", "全国学籍号", "学籍辅号", "student_no"]),
    ("生效日期", &["生效日期", "异动日期", "effective_date"]),
    ("原因", &["原因", "异动原因", "reason"]),
];

fn text(c: &Cell) -> String {
    match c {
        Cell::Text(s) => s.trim().to_owned(),
        Cell::Number(n) => format!("{n}"),
        Cell::Date(d) => d.format("%Y-%m-%d").to_string(),
        Cell::Bool(b) => b.to_string(),
        Cell::Empty | Cell::Error => String::new(),
    }
}

/// The lines of a batch file; a missing column is named in the error.
pub fn read(bytes: &[u8], filename: &str) -> AppResult<Vec<BatchLine>> {
    let kind = guard::check(bytes, filename)?;
    let mut index: Option<[usize; 3]> = None;
    let mut lines = Vec::new();
    let mut sheet_name = String::new();
    sheet::read_rows(bytes, kind, |sheet, row, cells| {
        sheet_name = sheet.to_owned();
        let Some(idx) = index else {
            let headers: Vec<String> = cells.iter().map(text).collect();
            let mut found = [0usize; 3];
            for (k, (name, synonyms)) in COLUMNS.iter().enumerate() {
                found[k] = headers.iter().position(|h| synonyms.contains(&h.as_str())).ok_or_else(|| {
                    AppError::invalid(
                        "change_file.missing_column",
                        format!("工作表“{sheet}”第{row}行（表头）缺少“{name}”列；表头应含：学籍号、生效日期、原因"),
                    )
                })?;
            }
            index = Some(found);
            return Ok(());
        };
        if cells.iter().all(Cell::is_empty) {
            return Ok(());
        }
        let get = |i: usize| cells.get(idx[i]).map(text).unwrap_or_default();
        lines.push(BatchLine { row, student_no: get(0), effective_date: get(1), reason: get(2) });
        Ok(())
    })?;
    if index.is_none() {
        return Err(AppError::invalid("change_file.empty", format!("文件“{filename}”没有表头行")));
    }
    Ok(lines)
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
        assert_eq!(err.code, "change_file.missing_column");
        assert!(err.message.contains("生效日期"), "{}", err.message);
    }
}
