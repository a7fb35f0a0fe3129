//! Importing the registry template: every row validated first, then all-or-nothing (default),
//! only the valid rows (`partial`), or nothing at all (`dry_run`). Re-importing a file changes
//! nothing: rows match existing students by ID number (or, without one, by name and birth date)
//! within the school. One audit row records the import; each student's history records its row.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{NaiveDate, Utc};
use diesel::prelude::*;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::guard;
use super::sheet::{self, Cell, column_letter};
use crate::audit::{self, Entry};
use crate::auth::Caller;
use crate::db::schema::{classes, orgs, students};
use crate::db::{DbConn, write_tx};
use crate::domain::role::{OrgKind, Permission};
use crate::domain::student::{self as fields, Field, Kind, Need, StudentRecord};
use crate::error::{AppError, AppResult};
use crate::org::model::Org;
use crate::registry::model::StudentRow;
use crate::registry::service as registry;

#[derive(Debug, Clone, Copy, Default)]
pub struct ImportOptions {
    /// Validate and count, write nothing.
    pub dry_run: bool,
    /// Commit the valid rows even when others are rejected.
    pub partial: bool,
}

/// One rejected cell or row: where (sheet, Excel row, column) and what (code, message).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct RowError {
    pub sheet: String,
    pub row: u32,
    /// "C 性别": letter and header; empty when the problem is the whole row.
    pub column: String,
    pub code: String,
    pub message: String,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct ImportReport {
    pub rows: usize,
    pub imported: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub rejected: usize,
    pub committed: bool,
    pub dry_run: bool,
    pub errors: Vec<RowError>,
}

/// What a column of the file holds.
#[derive(Debug, Clone, Copy)]
enum Target {
    School,
    Field(&'static Field),
    Ignored,
}

struct Mapping {
    columns: Vec<Target>,
    /// Column index by field key, for error positions.
    position: HashMap<&'static str, usize>,
    school_col: usize,
}

fn map_headers(sheet: &str, row: u32, cells: &[Cell]) -> Result<Mapping, Vec<RowError>> {
    let mut columns = Vec::with_capacity(cells.len());
    let mut position = HashMap::new();
    let mut school_col = None;
    let mut errors = Vec::new();
    for (i, c) in cells.iter().enumerate() {
        let h = match c {
            Cell::Text(s) => s.trim().to_owned(),
            _ => String::new(),
        };
        let t = if fields::SCHOOL_CODE_HEADER == h || fields::SCHOOL_CODE_SYNONYMS.contains(&h.as_str()) {
            school_col = Some(i);
            Target::School
        } else if let Some(f) = fields::field_by_header(&h) {
            if position.insert(f.key, i).is_some() {
                errors.push(err(sheet, row, i, &h, "import.duplicate_header", format!("列“{h}”出现了两次")));
            }
            Target::Field(f)
        } else {
            Target::Ignored
        };
        columns.push(t);
    }
    if school_col.is_none() {
        errors.push(RowError {
            sheet: sheet.into(),
            row,
            column: String::new(),
            code: "import.missing_header".into(),
            message: "缺少必填列“学校标识码”（请使用本系统下载的模板，不要修改列名）".into(),
        });
    }
    for f in fields::FIELDS.iter().filter(|f| f.need == Need::Required && !position.contains_key(f.key)) {
        errors.push(RowError {
            sheet: sheet.into(),
            row,
            column: String::new(),
            code: "import.missing_header".into(),
            message: format!("缺少必填列“{}”（请使用本系统下载的模板，不要修改列名）", f.header),
        });
    }
    if errors.is_empty() {
        Ok(Mapping { columns, position, school_col: school_col.unwrap_or(0) })
    } else {
        Err(errors)
    }
}

fn err(sheet: &str, row: u32, col: usize, header: &str, code: &str, message: String) -> RowError {
    RowError {
        sheet: sheet.into(),
        row,
        column: format!("{} {header}", column_letter(col)),
        code: code.into(),
        message,
    }
}

/// A cell as the text a field expects; refuses what cannot be taken back exactly.
fn cell_text(f: &Field, cell: &Cell) -> Result<String, (&'static str, String)> {
    match cell {
        Cell::Empty => Ok(String::new()),
        Cell::Text(s) => Ok(s.trim().to_owned()),
        Cell::Bool(b) => Ok(if *b { "是" } else { "否" }.to_owned()),
        Cell::Error => Err(("import.cell_error", "单元格内容是Excel错误值（如#N/A）".to_owned())),
        Cell::Date(d) => Ok(match f.kind {
            Kind::YearMonth => d.format("%Y%m").to_string(),
            _ => d.format("%Y-%m-%d").to_string(),
        }),
        Cell::Number(n) => match f.kind {
            // The digits of a long number typed into a General cell are already gone.
            Kind::IdNumber => Err((
                "import.id_as_number",
                "身份证件号被存成了数值，末几位已丢失；请将本列设置为文本格式后重新填写".to_owned(),
            )),
            _ if f.key.ends_with("id_no") && *n >= 1e15 => Err((
                "import.id_as_number",
                "身份证件号被存成了数值，末几位已丢失；请将本列设置为文本格式后重新填写".to_owned(),
            )),
            Kind::Date if (1.0..2_958_466.0).contains(n) && n.fract() == 0.0 && *n < 100_000.0 => {
                // An Excel serial date in a General cell (1900 system).
                let base = NaiveDate::from_ymd_opt(1899, 12, 30).unwrap_or_default();
                Ok((base + chrono::Duration::days(*n as i64)).format("%Y-%m-%d").to_string())
            }
            Kind::Distance => Ok(format!("{n}")),
            _ if n.fract() == 0.0 && n.abs() < 1e15 => Ok(format!("{}", *n as i64)),
            _ => Ok(format!("{n}")),
        },
    }
}

/// A row that passed every check, waiting to be written.
struct Valid {
    row: u32,
    school: usize,
    record: StudentRecord,
}

/// Imports a template file. `school` limits the file to one school (the caller's own for a
/// school user); every row's 学校标识码 must be in the caller's scope either way.
pub fn import_students(
    conn: &mut DbConn,
    caller: &Caller,
    school: Option<&str>,
    bytes: &[u8],
    filename: &str,
    opts: ImportOptions,
    progress: &dyn Fn(usize, &str),
) -> AppResult<ImportReport> {
    caller.require(conn, Permission::EditStudents, "import_students")?;
    let kind = guard::check(bytes, filename)?;
    let only = match school {
        Some(code) => Some(registry_school(conn, caller, code)?),
        None if caller.org_kind == OrgKind::School => Some(registry_school(conn, caller, &caller.org_code.clone())?),
        None => None,
    };
    let today = Utc::now().date_naive();
    let mut report = ImportReport { dry_run: opts.dry_run, ..Default::default() };
    let mut mapping: Option<Mapping> = None;
    let mut schools: Vec<Org> = Vec::new();
    let mut school_index: HashMap<String, Option<usize>> = HashMap::new();
    let mut class_nos: HashMap<usize, HashSet<String>> = HashMap::new();
    let mut seen_ids: HashMap<String, u32> = HashMap::new();
    let mut valid: Vec<Valid> = Vec::new();
    let mut rejected_rows: HashSet<u32> = HashSet::new();
    let mut fatal: Option<Vec<RowError>> = None;

    let sheet_name = sheet::read_rows(bytes, kind, |sheet, row, cells| {
        if fatal.is_some() {
            return Ok(());
        }
        if cells.iter().all(Cell::is_empty) {
            return Ok(());
        }
        let Some(m) = &mapping else {
            match map_headers(sheet, row, &cells) {
                Ok(m) => mapping = Some(m),
                Err(e) => fatal = Some(e),
            }
            return Ok(());
        };
        report.rows += 1;
        if report.rows % 1000 == 0 {
            progress(report.rows, "校验");
        }
        let mut row_errors = Vec::new();
        let mut raw = BTreeMap::new();
        let mut school_code = String::new();
        for (i, target) in m.columns.iter().enumerate() {
            let cell = cells.get(i).unwrap_or(&Cell::Empty);
            match target {
                Target::School => {
                    school_code = match cell {
                        Cell::Text(s) => s.trim().to_owned(),
                        Cell::Number(n) if n.fract() == 0.0 => format!("{}", *n as i64),
                        _ => String::new(),
                    }
                }
                Target::Field(f) => match cell_text(f, cell) {
                    Ok(v) => {
                        raw.insert(f.key.to_owned(), v);
                    }
                    Err((code, message)) => row_errors.push(err(sheet, row, i, f.header, code, format!("“{}”{message}", f.header))),
                },
                Target::Ignored => {}
            }
        }
        // Which school the row belongs to.
        let idx = match school_index.get(&school_code) {
            Some(i) => *i,
            None => {
                let found = lookup_school(conn, caller, &school_code)?;
                let i = found.map(|o| {
                    schools.push(o);
                    schools.len() - 1
                });
                school_index.insert(school_code.clone(), i);
                i
            }
        };
        let col = m.school_col;
        let school_ok = match (idx, &only) {
            (None, _) => {
                row_errors.push(err(sheet, row, col, "学校标识码", "import.unknown_school", format!("学校标识码“{school_code}”不存在或不在您的管辖范围内")));
                None
            }
            (Some(i), Some(o)) if schools[i].id != o.id => {
                row_errors.push(err(sheet, row, col, "学校标识码", "import.other_school", format!("本行属于学校“{school_code}”，不是本次导入的学校“{}”", o.code)));
                None
            }
            (Some(i), _) => Some(i),
        };
        match StudentRecord::parse(&raw, today) {
            Ok(record) => {
                if let Some(i) = school_ok {
                    let nos = match class_nos.get(&i) {
                        Some(n) => n,
                        None => {
                            let list: Vec<String> = classes::table
                                .filter(classes::school_id.eq(schools[i].id))
                                .select(classes::class_no)
                                .load(conn)?;
                            class_nos.entry(i).or_insert_with(|| list.into_iter().collect())
                        }
                    };
                    if !nos.contains(record.get("class_no")) {
                        let c = m.position.get("class_no").copied().unwrap_or(0);
                        row_errors.push(err(sheet, row, c, "班号", "student.unknown_class", format!("班号“{}”在该校不存在，请先建立该班级", record.get("class_no"))));
                    }
                }
                if let Some(id) = record.id_no().filter(|_| record.get("id_type") != "Z") {
                    if let Some(first) = seen_ids.get(id) {
                        let c = m.position.get("id_no").copied().unwrap_or(0);
                        row_errors.push(err(sheet, row, c, "身份证件号", "import.duplicate_in_file", format!("身份证件号与本文件第{first}行重复")));
                    } else {
                        seen_ids.insert(id.to_owned(), row);
                    }
                }
                if row_errors.is_empty() {
                    if let Some(i) = school_ok {
                        valid.push(Valid { row, school: i, record });
                    }
                }
            }
            Err(issues) => {
                for i in issues {
                    let c = m.position.get(i.field).copied();
                    row_errors.push(match c {
                        Some(c) => err(sheet, row, c, i.header(), i.code, i.message),
                        None => RowError { sheet: sheet.into(), row, column: String::new(), code: i.code.into(), message: i.message },
                    });
                }
            }
        }
        if !row_errors.is_empty() {
            rejected_rows.insert(row);
            report.errors.extend(row_errors);
        }
        Ok(())
    })?;
    if let Some(e) = fatal {
        report.errors = e;
        return Ok(report);
    }
    if mapping.is_none() {
        return Err(AppError::invalid("import.empty", "文件中没有表头和数据"));
    }
    report.rejected = rejected_rows.len();
    if opts.dry_run || (!report.errors.is_empty() && !opts.partial) {
        if opts.dry_run {
            let (new, changed, same) = classify(conn, &schools, &valid)?;
            report.imported = new.len();
            report.updated = changed.len();
            report.unchanged = same;
        }
        return Ok(report);
    }
    progress(report.rows, "写入");
    let (new, changed, same) = classify(conn, &schools, &valid)?;
    let digest = hex::encode(Sha256::digest(bytes));
    write_tx(conn, |conn| {
        let inserted = registry::insert_many(conn, caller, &schools, new.iter().map(|v| (v.school, &v.record)).collect(), "模板导入")?;
        for (v, stored) in &changed {
            registry::apply_update(conn, caller, stored, &v.record, &format!("模板导入（第{}行）", v.row), None)?;
        }
        audit::record(
            conn,
            &caller.actor(),
            Entry::new("student.import", "file", &digest[..16]).after(&serde_json::json!({
                "file": filename, "sha256": digest, "sheet": sheet_name, "rows": report.rows,
                "imported": inserted, "updated": changed.len(), "unchanged": same, "rejected": report.rejected,
                "schools": schools.iter().map(|s| s.code.as_str()).collect::<Vec<_>>(),
            })),
        )?;
        Ok(())
    })?;
    report.imported = new.len();
    report.updated = changed.len();
    report.unchanged = same;
    report.committed = true;
    progress(report.rows, "完成");
    Ok(report)
}

fn registry_school(conn: &mut DbConn, caller: &Caller, code: &str) -> AppResult<Org> {
    let org = crate::org::service::org_in_scope(conn, caller.scope(), code)?;
    if org.kind != OrgKind::School.as_str() {
        return Err(AppError::not_found());
    }
    Ok(org)
}

fn lookup_school(conn: &mut DbConn, caller: &Caller, code: &str) -> AppResult<Option<Org>> {
    if code.is_empty() {
        return Ok(None);
    }
    Ok(orgs::table
        .filter(orgs::code.eq(code))
        .filter(orgs::kind.eq(OrgKind::School.as_str()))
        .filter(orgs::path.like(caller.scope().like_pattern()))
        .select(Org::as_select())
        .first(conn)
        .optional()?)
}

/// Splits valid rows into new students, changed ones (with their stored row) and a count of
/// unchanged ones, matching within each school by ID number, else by name and birth date.
fn classify<'a>(conn: &mut DbConn, schools: &[Org], valid: &'a [Valid]) -> AppResult<(Vec<&'a Valid>, Vec<(&'a Valid, StudentRow)>, usize)> {
    let mut by_id: HashMap<(i64, String), StudentRow> = HashMap::new();
    let mut by_name: HashMap<(i64, String, NaiveDate), StudentRow> = HashMap::new();
    let involved: HashSet<usize> = valid.iter().map(|v| v.school).collect();
    for i in involved {
        let rows: Vec<StudentRow> = students::table
            .filter(students::school_id.eq(schools[i].id))
            .select(StudentRow::as_select())
            .load(conn)?;
        for r in rows {
            match &r.id_no {
                Some(id) => {
                    by_id.insert((r.school_id, id.clone()), r);
                }
                None => {
                    by_name.insert((r.school_id, r.name.clone(), r.birth_date), r);
                }
            }
        }
    }
    let (mut new, mut changed, mut same) = (Vec::new(), Vec::new(), 0);
    for v in valid {
        let sid = schools[v.school].id;
        let hit = match v.record.id_no() {
            Some(id) => by_id.remove(&(sid, id.to_owned())),
            None => by_name.remove(&(sid, v.record.name().to_owned(), v.record.birth_date())),
        };
        match hit {
            None => new.push(v),
            Some(stored) if stored.record() == v.record => same += 1,
            Some(stored) => changed.push((v, stored)),
        }
    }
    Ok((new, changed, same))
}

/// The rejected rows in the user's own layout: their header row, the rows as they were, the
/// cells at fault highlighted and a last column saying what is wrong.
pub fn error_workbook(bytes: &[u8], filename: &str, errors: &[RowError]) -> AppResult<Vec<u8>> {
    use rust_xlsxwriter::{Color, Format, Workbook};
    let kind = guard::check(bytes, filename)?;
    let by_row: HashMap<u32, Vec<&RowError>> = errors.iter().fold(HashMap::new(), |mut m, e| {
        m.entry(e.row).or_default().push(e);
        m
    });
    let xl = |e: rust_xlsxwriter::XlsxError| AppError::internal(anyhow::anyhow!("xlsx: {e}"));
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name("错误行").map_err(xl)?;
    let text = Format::new().set_num_format("@");
    let bad = Format::new().set_num_format("@").set_background_color(Color::RGB(0xFFC7CE)).set_font_color(Color::RGB(0x9C0006));
    let head = Format::new().set_bold().set_background_color(Color::RGB(0xDCE6F1));
    let mut out_row = 0u32;
    let mut width = 0usize;
    let mut header_done = false;
    sheet::read_rows(bytes, kind, |_, row, cells| {
        if cells.iter().all(Cell::is_empty) {
            return Ok(());
        }
        if !header_done {
            header_done = true;
            width = cells.len();
            for (c, cell) in cells.iter().enumerate() {
                ws.write_string_with_format(0, u16::try_from(c).unwrap_or(0), cell_as_text(cell), &head).map_err(xl)?;
            }
            ws.write_string_with_format(0, u16::try_from(width).unwrap_or(0), "错误说明", &bad).map_err(xl)?;
            ws.set_freeze_panes(1, 0).map_err(xl)?;
            return Ok(());
        }
        let Some(errs) = by_row.get(&row) else { return Ok(()) };
        out_row += 1;
        let bad_cols: HashSet<&str> = errs.iter().filter_map(|e| e.column.split(' ').next()).collect();
        for (c, cell) in cells.iter().enumerate().take(width.max(cells.len())) {
            let f = if bad_cols.contains(column_letter(c).as_str()) { &bad } else { &text };
            ws.write_string_with_format(out_row, u16::try_from(c).unwrap_or(0), cell_as_text(cell), f).map_err(xl)?;
        }
        for c in cells.len()..width {
            if bad_cols.contains(column_letter(c).as_str()) {
                ws.write_string_with_format(out_row, u16::try_from(c).unwrap_or(0), "", &bad).map_err(xl)?;
            }
        }
        let message = errs
            .iter()
            .map(|e| if e.column.is_empty() { format!("第{}行：{}", e.row, e.message) } else { format!("第{}行{}列：{}", e.row, e.column, e.message) })
            .collect::<Vec<_>>()
            .join("；");
        ws.write_string_with_format(out_row, u16::try_from(width).unwrap_or(0), message, &bad).map_err(xl)?;
        Ok(())
    })?;
    ws.set_column_width(u16::try_from(width).unwrap_or(0), 80.0).map_err(xl)?;
    wb.save_to_buffer().map_err(xl)
}

fn cell_as_text(cell: &Cell) -> String {
    match cell {
        Cell::Empty | Cell::Error => String::new(),
        Cell::Text(s) => s.clone(),
        Cell::Number(n) if n.fract() == 0.0 && n.abs() < 1e15 => format!("{}", *n as i64),
        Cell::Number(n) => format!("{n}"),
        Cell::Date(d) => d.format("%Y-%m-%d").to_string(),
        Cell::Bool(b) => if *b { "是" } else { "否" }.into(),
    }
}

/// The students of a school (optionally one class) in the template layout.
pub fn export_students(conn: &mut DbConn, caller: &Caller, school: &str, class_id: Option<i64>) -> AppResult<Vec<u8>> {
    caller.require(conn, Permission::EditStudents, "export_students")?;
    let org = registry_school(conn, caller, school)?;
    let mut q = students::table
        .filter(students::school_id.eq(org.id))
        .filter(students::status.eq("enrolled"))
        .select(StudentRow::as_select())
        .order((students::class_id.asc(), students::id.asc()))
        .into_boxed();
    if let Some(c) = class_id {
        q = q.filter(students::class_id.eq(c));
    }
    let rows: Vec<StudentRow> = q.load(conn)?;
    let data: Vec<(String, StudentRecord)> = rows.iter().map(|r| (org.code.clone(), r.record())).collect();
    let bytes = super::template::write(&data)?;
    audit::record_alone(
        conn,
        &caller.actor(),
        Entry::new("student.export", "school", &org.code).after(&serde_json::json!({"rows": data.len(), "class_id": class_id})),
    )?;
    Ok(bytes)
}
