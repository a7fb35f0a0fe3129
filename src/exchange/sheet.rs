//! Rows out of .xlsx (streamed cell by cell), .xls and UTF-8 CSV, as plain cell values.

use std::io::Cursor;

use calamine::{Data, DataRef, Reader, Xlsx};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::guard::FileKind;
use crate::error::{AppError, AppResult, ErrorCode};

/// The sheet the template writes; read first when present.
pub const STUDENT_SHEET: &str = "学生基本信息";
/// The hidden sheet of dropdown lists; never read as data.
pub const LISTS_SHEET: &str = "字典";
pub const MAX_ROWS: u32 = 200_000;
pub const MAX_COLUMNS: u32 = 200;

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub enum Cell {
    #[default]
    Empty,
    Text(String),
    Number(f64),
    Date(NaiveDate),
    Bool(bool),
    Error,
}

impl Cell {
    pub fn is_empty(&self) -> bool {
        match self {
            Cell::Empty => true,
            Cell::Text(s) => s.trim().is_empty(),
            _ => false,
        }
    }
}

fn from_ref(d: &DataRef<'_>) -> Cell {
    match d {
        DataRef::Empty => Cell::Empty,
        DataRef::String(s) => Cell::Text(s.clone()),
        DataRef::SharedString(s) => Cell::Text((*s).to_owned()),
        DataRef::Int(i) => Cell::Number(*i as f64),
        DataRef::Float(f) => Cell::Number(*f),
        DataRef::Bool(b) => Cell::Bool(*b),
        DataRef::DateTime(dt) => dt.as_datetime().map(|d| Cell::Date(d.date())).unwrap_or(Cell::Error),
        DataRef::DateTimeIso(s) => Cell::Text(s.clone()),
        DataRef::DurationIso(s) => Cell::Text(s.clone()),
        DataRef::Error(_) => Cell::Error,
    }
}

fn from_data(d: &Data) -> Cell {
    match d {
        Data::Empty => Cell::Empty,
        Data::String(s) => Cell::Text(s.clone()),
        Data::Int(i) => Cell::Number(*i as f64),
        Data::Float(f) => Cell::Number(*f),
        Data::Bool(b) => Cell::Bool(*b),
        Data::DateTime(dt) => dt.as_datetime().map(|d| Cell::Date(d.date())).unwrap_or(Cell::Error),
        Data::DateTimeIso(s) => Cell::Text(s.clone()),
        Data::DurationIso(s) => Cell::Text(s.clone()),
        Data::Error(_) => Cell::Error,
    }
}

fn unreadable(e: impl std::fmt::Display) -> AppError {
    AppError::invalid(ErrorCode::FileUnreadable, format!("无法读取文件内容：{e}"))
}

/// Calls `on_row(sheet, row_number_1_based, cells)` for every row, in order. Returns the sheet
/// name. A workbook is parsed in a child process ([`super::worker`]) whose failure refuses the
/// file and nothing else; CSV, read by a streaming parser with no declared sizes to believe,
/// is read here.
pub fn read_rows(
    bytes: &[u8],
    kind: FileKind,
    on_row: impl FnMut(&str, u32, Vec<Cell>) -> AppResult<()>,
) -> AppResult<String> {
    match kind {
        FileKind::Csv => parse_in_process(bytes, kind, on_row),
        FileKind::Xlsx | FileKind::Xls => super::worker::read_rows(bytes, kind, on_row),
    }
}

/// As [`read_rows`], with each row first put through `prepare` on a thread of its own, in order:
/// the work a row needs before the database (checking, sealing) overlaps with `on_row` writing
/// the rows before it. At most [`AHEAD`] prepared rows wait, so memory stays flat. An error from
/// `on_row` stops the reading.
pub fn read_rows_prepared<P: Send>(
    bytes: &[u8],
    kind: FileKind,
    mut prepare: impl FnMut(&str, u32, Vec<Cell>) -> P + Send,
    mut on_row: impl FnMut(P) -> AppResult<()>,
) -> AppResult<String> {
    let (tx, rx) = std::sync::mpsc::sync_channel::<P>(AHEAD);
    std::thread::scope(|scope| {
        let reader = scope.spawn(move || {
            read_rows(bytes, kind, |sheet, row, cells| {
                // Fails only when `on_row` has stopped: then reading on is pointless.
                tx.send(prepare(sheet, row, cells))
                    .map_err(|_| AppError::internal(anyhow::anyhow!("the rows' reader was stopped")))
            })
        });
        let written = rx.iter().try_for_each(&mut on_row);
        drop(rx);
        let read =
            reader.join().unwrap_or_else(|_| Err(AppError::internal(anyhow::anyhow!("the rows' reader panicked"))));
        written.and(read)
    })
}

/// Prepared rows that may wait for [`read_rows_prepared`]'s `on_row`.
const AHEAD: usize = 2048;

/// The parser itself, in this process: the parse worker's side of [`read_rows`].
pub(crate) fn parse_in_process(
    bytes: &[u8],
    kind: FileKind,
    mut on_row: impl FnMut(&str, u32, Vec<Cell>) -> AppResult<()>,
) -> AppResult<String> {
    match kind {
        FileKind::Csv => {
            let text = std::str::from_utf8(bytes).map_err(unreadable)?;
            let text = text.strip_prefix('\u{feff}').unwrap_or(text);
            let mut rdr = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(text.as_bytes());
            let name = "CSV".to_owned();
            for (i, rec) in rdr.records().enumerate() {
                let rec =
                    rec.map_err(|e| AppError::invalid(ErrorCode::FileCsv, format!("CSV第{}行格式有误：{e}", i + 1)))?;
                let row = u32::try_from(i + 1).unwrap_or(u32::MAX);
                guard_size(row, rec.len())?;
                on_row(&name, row, rec.iter().map(|s| Cell::Text(s.to_owned())).collect())?;
            }
            Ok(name)
        }
        FileKind::Xlsx => {
            let mut wb: Xlsx<_> = Xlsx::new(Cursor::new(bytes)).map_err(unreadable)?;
            let name = pick_sheet(wb.sheet_names())?;
            let mut reader = wb.worksheet_cells_reader(&name).map_err(unreadable)?;
            let mut current: Option<u32> = None;
            let mut row: Vec<Cell> = Vec::new();
            while let Some(cell) = reader.next_cell().map_err(unreadable)? {
                let (r, c) = cell.get_position();
                if r >= MAX_ROWS || c >= MAX_COLUMNS {
                    return Err(too_big());
                }
                if current != Some(r) {
                    if let Some(prev) = current {
                        on_row(&name, prev + 1, std::mem::take(&mut row))?;
                    }
                    current = Some(r);
                }
                let c = usize::try_from(c).unwrap_or(0);
                if row.len() <= c {
                    row.resize(c + 1, Cell::Empty);
                }
                row[c] = from_ref(cell.get_value());
            }
            if let Some(prev) = current {
                on_row(&name, prev + 1, row)?;
            }
            Ok(name)
        }
        FileKind::Xls => {
            let mut wb = calamine::open_workbook_auto_from_rs(Cursor::new(bytes)).map_err(unreadable)?;
            let name = pick_sheet(wb.sheet_names())?;
            let range = wb.worksheet_range(&name).map_err(unreadable)?;
            let (start_row, start_col) = range.start().unwrap_or((0, 0));
            for (i, cells) in range.rows().enumerate() {
                let r = start_row + u32::try_from(i).unwrap_or(u32::MAX);
                guard_size(r, cells.len())?;
                let mut row = vec![Cell::Empty; usize::try_from(start_col).unwrap_or(0)];
                row.extend(cells.iter().map(from_data));
                on_row(&name, r + 1, row)?;
            }
            Ok(name)
        }
    }
}

fn too_big() -> AppError {
    AppError::invalid(ErrorCode::FileTooManyCells, format!("表格超过{MAX_ROWS}行或{MAX_COLUMNS}列的上限，请拆分后导入"))
}

fn guard_size(row: u32, cols: usize) -> AppResult<()> {
    if row >= MAX_ROWS || cols > MAX_COLUMNS as usize {
        return Err(too_big());
    }
    Ok(())
}

fn pick_sheet(names: Vec<String>) -> AppResult<String> {
    if let Some(n) = names.iter().find(|n| n.as_str() == STUDENT_SHEET) {
        return Ok(n.clone());
    }
    names
        .into_iter()
        .find(|n| n != LISTS_SHEET)
        .ok_or_else(|| AppError::invalid(ErrorCode::FileNoSheet, format!("文件中没有工作表“{STUDENT_SHEET}”")))
}

/// Excel column letters for a 0-based index (0 → A, 26 → AA).
pub fn column_letter(mut i: usize) -> String {
    let mut s = Vec::new();
    loop {
        s.push(b'A' + u8::try_from(i % 26).unwrap_or(0));
        if i < 26 {
            break;
        }
        i = i / 26 - 1;
    }
    s.reverse();
    String::from_utf8(s).unwrap_or_default()
}

impl Cell {
    /// The cell as text people typed: numbers without a trailing `.0`, dates as YYYY-MM-DD.
    pub fn text(&self) -> String {
        match self {
            Cell::Text(s) => s.trim().to_owned(),
            Cell::Number(n) => format!("{n}"),
            Cell::Date(d) => d.format("%Y-%m-%d").to_string(),
            Cell::Bool(b) => b.to_string(),
            Cell::Empty | Cell::Error => String::new(),
        }
    }
}

/// A column found by its header: the name used in messages and the headers that mean it.
pub struct Column {
    pub name: &'static str,
    pub synonyms: &'static [&'static str],
    pub required: bool,
}

/// One data row of a table read by header names: its sheet and row number, and the text of
/// each column in the order asked for (empty when an optional column is absent).
pub struct NamedRow {
    pub sheet: String,
    pub row: u32,
    pub values: Vec<String>,
}

impl NamedRow {
    /// A refusal of this row (or of one of its columns, by name), located as a clerk reads it.
    pub fn error(&self, col: &str, code: ErrorCode, message: &str) -> crate::error::FieldError {
        let at = if col.is_empty() {
            format!("工作表“{}”第{}行", self.sheet, self.row)
        } else {
            format!("工作表“{}”第{}行“{col}”列", self.sheet, self.row)
        };
        crate::error::FieldError {
            field: format!("{}:{}:{col}", self.sheet, self.row),
            code,
            message: format!("{at}：{message}"),
        }
    }
}

/// Reads a table whose first row names its columns, in any order; blank rows are skipped. A
/// required column that is missing is named in the error with what the header should hold.
pub fn read_named(bytes: &[u8], filename: &str, code: ErrorCode, columns: &[Column]) -> AppResult<Vec<NamedRow>> {
    let kind = super::guard::check(bytes, filename)?;
    let mut index: Option<Vec<Option<usize>>> = None;
    let mut rows = Vec::new();
    read_rows(bytes, kind, |sheet, row, cells| {
        let Some(idx) = &index else {
            let headers: Vec<String> = cells.iter().map(Cell::text).collect();
            let mut found = Vec::new();
            for c in columns {
                let at = headers.iter().position(|h| c.synonyms.contains(&h.as_str()));
                if at.is_none() && c.required {
                    let all: Vec<&str> = columns.iter().filter(|c| c.required).map(|c| c.name).collect();
                    return Err(AppError::invalid(
                        code,
                        format!("工作表“{sheet}”第{row}行（表头）缺少“{}”列；表头应含：{}", c.name, all.join("、")),
                    ));
                }
                found.push(at);
            }
            index = Some(found);
            return Ok(());
        };
        if cells.iter().all(Cell::is_empty) {
            return Ok(());
        }
        let values = idx.iter().map(|i| i.and_then(|i| cells.get(i)).map(Cell::text).unwrap_or_default()).collect();
        rows.push(NamedRow { sheet: sheet.to_owned(), row, values });
        Ok(())
    })?;
    if index.is_none() {
        return Err(AppError::invalid(code, format!("文件“{filename}”没有表头行")));
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_letters() {
        assert_eq!(column_letter(0), "A");
        assert_eq!(column_letter(25), "Z");
        assert_eq!(column_letter(26), "AA");
        assert_eq!(column_letter(70), "BS");
    }

    fn numbered_csv(rows: usize) -> Vec<u8> {
        (1..=rows).map(|i| format!("{i}\n")).collect::<String>().into_bytes()
    }

    #[test]
    fn prepared_rows_arrive_in_order_through_the_preparing_thread() {
        let main = std::thread::current().id();
        let mut seen = Vec::new();
        let prepare = |_: &str, row: u32, cells: Vec<Cell>| (row, cells, std::thread::current().id());
        read_rows_prepared(&numbered_csv(5000), FileKind::Csv, prepare, |(row, cells, on)| {
            assert_ne!(on, main, "prepared on the caller's thread");
            seen.push((row, cells));
            Ok(())
        })
        .unwrap();
        assert_eq!(seen.len(), 5000);
        assert!(
            seen.iter()
                .enumerate()
                .all(|(i, (row, cells))| { *row as usize == i + 1 && cells == &vec![Cell::Text((i + 1).to_string())] })
        );
    }

    #[test]
    fn a_failing_row_stops_the_reading_and_its_error_is_returned() {
        let prepared = std::sync::atomic::AtomicUsize::new(0);
        let prepare = |_: &str, row: u32, _: Vec<Cell>| {
            prepared.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            row
        };
        let e = read_rows_prepared(&numbered_csv(100_000), FileKind::Csv, prepare, |row| {
            if row == 10 { Err(AppError::invalid(ErrorCode::ImportStopped, "第10行")) } else { Ok(()) }
        })
        .unwrap_err();
        assert_eq!(e.code, ErrorCode::ImportStopped);
        // The reader may run ahead by what the channel holds, not through the whole file.
        assert!(prepared.load(std::sync::atomic::Ordering::Relaxed) < 10 + AHEAD + 2);
    }

    #[test]
    fn a_file_that_cannot_be_read_is_the_error_after_the_rows_before_it() {
        let mut file = b"a\nb\n".to_vec();
        file.extend(vec![b','; MAX_COLUMNS as usize]);
        let mut rows = 0;
        let e = read_rows_prepared(
            &file,
            FileKind::Csv,
            |_, row, _| row,
            |_| {
                rows += 1;
                Ok(())
            },
        )
        .unwrap_err();
        assert_eq!((e.code, rows), (ErrorCode::FileTooManyCells, 2));
    }

    #[test]
    fn csv_rows_with_bom_and_quotes() {
        let mut rows = Vec::new();
        parse_in_process("\u{feff}姓名,备注\n王䶮,\"a,b\"\n".as_bytes(), FileKind::Csv, |_, r, cells| {
            rows.push((r, cells));
            Ok(())
        })
        .expect("csv");
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].1[0], Cell::Text("姓名".into()));
        assert_eq!(rows[1].1[1], Cell::Text("a,b".into()));
    }
}
