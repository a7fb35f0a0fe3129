//! Importing the registry template: every row validated first, then all-or-nothing (default),
//! only the valid rows (`partial`), or nothing at all (`dry_run`). Re-importing a file changes
//! nothing: rows match existing students by ID number (or, without one, by name and birth date)
//! within the school. One audit row records the import; each student's history records its row.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::NaiveDate;
use diesel::prelude::*;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::guard;
use super::sheet::{self, Cell, column_letter};
use crate::audit::{self, Entry};
use crate::auth::Caller;
use crate::db::schema::{classes, orgs, students};
use crate::db::{DbConn, at_rest, write_tx};
use crate::domain::enrolment::Start;
use crate::domain::key_lock::KeyLock;
use crate::domain::role::{OrgKind, Permission};
use crate::domain::student::{self as fields, Field, Kind, Need, Review, StudentRecord};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::org::model::Org;
use crate::registry::changes;
use crate::registry::model::StudentRow;
use crate::registry::service::{self as registry, Arrival, StoredRecord};

#[derive(Debug, Clone, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct ImportOptions {
    /// Validate and count, write nothing.
    pub dry_run: bool,
    /// Commit the valid rows even when others are rejected.
    pub partial: bool,
    /// The first day at school of new students whose row has no 入校日期 (default: today).
    pub enrolled_on: Option<NaiveDate>,
    /// Why new students start long before today (needed when they do; the audit keeps it).
    pub backdate_reason: String,
}

/// The optional column with a new student's first day at the school (not a template field).
pub const START_HEADERS: [&str; 3] = ["入校日期", "到校日期", "注册日期"];

/// One rejected cell or row: where (sheet, Excel row, column) and what (code, message).
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq, schemars::JsonSchema)]
pub struct RowError {
    pub sheet: String,
    pub row: u32,
    /// "C 性别": letter and header; empty when the problem is the whole row.
    pub column: String,
    pub code: ErrorCode,
    pub message: String,
}

#[derive(Debug, Clone, Serialize, serde::Deserialize, Default, schemars::JsonSchema)]
pub struct ImportReport {
    pub rows: usize,
    pub imported: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub rejected: usize,
    pub committed: bool,
    pub dry_run: bool,
    /// New students whose first day lies more than the allowed days before today.
    pub backdated: usize,
    pub errors: Vec<RowError>,
}

/// What a column of the file holds.
#[derive(Debug, Clone, Copy)]
enum Target {
    School,
    /// The field and its index in `FIELDS`.
    Field(&'static Field, usize),
    /// 入校日期: a new student's first day at the school.
    Start,
    Ignored,
}

struct Mapping {
    columns: Vec<Target>,
    /// Column index by field key, for error positions.
    position: HashMap<&'static str, usize>,
    school_col: usize,
    start_col: Option<usize>,
}

fn map_headers(sheet: &str, row: u32, cells: &[Cell]) -> Result<Mapping, Vec<RowError>> {
    let mut columns = Vec::with_capacity(cells.len());
    let mut position = HashMap::new();
    let mut school_col = None;
    let mut start_col = None;
    let mut errors = Vec::new();
    for (i, c) in cells.iter().enumerate() {
        let h = match c {
            Cell::Text(s) => s.trim().to_owned(),
            _ => String::new(),
        };
        let t = if fields::SCHOOL_CODE_HEADER == h || fields::SCHOOL_CODE_SYNONYMS.contains(&h.as_str()) {
            school_col = Some(i);
            Target::School
        } else if START_HEADERS.contains(&h.as_str()) {
            start_col = Some(i);
            Target::Start
        } else if let Some(f) = fields::field_by_header(&h) {
            if position.insert(f.key, i).is_some() {
                errors.push(err(sheet, row, i, &h, ErrorCode::ImportDuplicateHeader, format!("列“{h}”出现了两次")));
            }
            Target::Field(f, fields::FIELDS.iter().position(|x| x.key == f.key).unwrap_or(0))
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
            code: ErrorCode::ImportMissingHeader,
            message: "缺少必填列“学校标识码”（请使用本系统下载的模板，不要修改列名）".into(),
        });
    }
    for f in fields::FIELDS.iter().filter(|f| f.need == Need::Required && !position.contains_key(f.key)) {
        errors.push(RowError {
            sheet: sheet.into(),
            row,
            column: String::new(),
            code: ErrorCode::ImportMissingHeader,
            message: format!("缺少必填列“{}”（请使用本系统下载的模板，不要修改列名）", f.header),
        });
    }
    if errors.is_empty() {
        Ok(Mapping { columns, position, school_col: school_col.unwrap_or(0), start_col })
    } else {
        Err(errors)
    }
}

fn err(sheet: &str, row: u32, col: usize, header: &str, code: ErrorCode, message: String) -> RowError {
    RowError { sheet: sheet.into(), row, column: format!("{} {header}", column_letter(col)), code, message }
}

/// A cell as the text a field expects; refuses what cannot be taken back exactly.
fn cell_text(f: &Field, cell: Cell) -> Result<String, (ErrorCode, String)> {
    match cell {
        Cell::Empty => Ok(String::new()),
        Cell::Text(s) => Ok(s),
        Cell::Bool(b) => Ok(if b { "是" } else { "否" }.to_owned()),
        Cell::Error => Err((ErrorCode::ImportCellError, "单元格内容是Excel错误值（如#N/A）".to_owned())),
        Cell::Date(d) => Ok(match f.kind {
            Kind::YearMonth => d.format("%Y%m").to_string(),
            _ => d.format("%Y-%m-%d").to_string(),
        }),
        Cell::Number(n) => match f.kind {
            // The digits of a long number typed into a General cell are already gone.
            Kind::IdNumber => Err((
                ErrorCode::ImportIdAsNumber,
                "被存成了数值，末几位已丢失；请将本列设置为文本格式后重新填写".to_owned(),
            )),
            _ if f.key.ends_with("id_no") && n >= 1e15 => Err((
                ErrorCode::ImportIdAsNumber,
                "被存成了数值，末几位已丢失；请将本列设置为文本格式后重新填写".to_owned(),
            )),
            Kind::Date if (1.0..100_000.0).contains(&n) && n.fract() == 0.0 => {
                // An Excel serial date in a General cell (1900 system).
                let base = NaiveDate::from_ymd_opt(1899, 12, 30).unwrap_or_default();
                Ok((base + chrono::Duration::days(n as i64)).format("%Y-%m-%d").to_string())
            }
            Kind::Distance => Ok(format!("{n}")),
            _ if n.fract() == 0.0 && n.abs() < 1e15 => Ok(format!("{}", n as i64)),
            _ => Ok(format!("{n}")),
        },
    }
}

/// A row that passed every check, waiting to be written.
struct Valid {
    row: u32,
    school: usize,
    record: StudentRecord,
    /// The first day at school, should the row be a new student (checked then: an update of a
    /// student already stored needs none).
    start: AppResult<Start>,
    /// The record as a new student is stored, with the keyed hash it is found by.
    stored: StoredRecord,
}

/// A 入校日期 cell: a date, or text YYYY-MM-DD / YYYYMMDD; empty means none.
fn start_cell(cell: Cell) -> Result<Option<NaiveDate>, String> {
    match cell {
        Cell::Empty => Ok(None),
        Cell::Date(d) => Ok(Some(d)),
        Cell::Text(s) if s.trim().is_empty() => Ok(None),
        Cell::Text(s) => ["%Y-%m-%d", "%Y%m%d", "%Y/%m/%d"]
            .iter()
            .find_map(|f| NaiveDate::parse_from_str(s.trim(), f).ok())
            .map(Some)
            .ok_or_else(|| format!("“入校日期”应为日期（如2026-09-01），现为“{}”", s.trim())),
        Cell::Number(n) if (1.0..100_000.0).contains(&n) && n.fract() == 0.0 => {
            let base = NaiveDate::from_ymd_opt(1899, 12, 30).unwrap_or_default();
            Ok(Some(base + chrono::Duration::days(n as i64)))
        }
        _ => Err("“入校日期”应为日期（如2026-09-01）".into()),
    }
}

/// Rows are written in batches of this size, so memory stays flat however long the file.
const BATCH: usize = 500;

/// Where a stored student is found again: by ID number, or (without one) by name and birth date.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum MatchKey {
    Id(i64, String),
    NameBirth(i64, String, NaiveDate),
}

/// ID numbers are compared by their keyed hash, as the database keeps them.
fn match_key(school_id: i64, v: &Valid) -> MatchKey {
    match v.stored.id_no_hash() {
        Some(hash) => MatchKey::Id(school_id, hash.to_owned()),
        None => MatchKey::NameBirth(school_id, v.record.name().to_owned(), v.record.birth_date()),
    }
}

/// A row as the reading thread hands it on.
enum Prepared {
    /// A blank row, or any row after a header row that could not be used.
    Skip,
    Header {
        sheet: String,
        mapping: Result<Arc<Mapping>, Vec<RowError>>,
    },
    Row(Box<Checked>),
    /// The row could not be prepared (sealing without a key): the import stops.
    Failed(AppError),
}

/// A data row checked on its own (each cell, then the record's rules) and sealed, by the reading
/// thread: what needs no database, off the thread that writes.
struct Checked {
    row: u32,
    school_code: String,
    start_day: Option<NaiveDate>,
    /// Cells refused as they were read (before any other error of the row).
    cell_errors: Vec<RowError>,
    /// The record and how it is stored, or the rules it breaks (less those that repeat a
    /// refused cell).
    record: Result<(StudentRecord, StoredRecord), Vec<RowError>>,
    /// The ID number a second row of the file would repeat.
    own_id: Option<String>,
}

/// The reading thread's side of an import: finds the header row, then checks and seals each row.
struct Preparer {
    today: NaiveDate,
    mapping: Option<Arc<Mapping>>,
    /// The header row could not be used: the rest of the file is not read as data.
    refused: bool,
}

impl Preparer {
    fn prepare(&mut self, sheet: &str, row: u32, cells: Vec<Cell>) -> Prepared {
        if self.refused || cells.iter().all(Cell::is_empty) {
            return Prepared::Skip;
        }
        let Some(m) = self.mapping.clone() else {
            let mapping = map_headers(sheet, row, &cells).map(Arc::new);
            match &mapping {
                Ok(m) => self.mapping = Some(Arc::clone(m)),
                Err(_) => self.refused = true,
            }
            return Prepared::Header { sheet: sheet.to_owned(), mapping };
        };
        match self.check(&m, sheet, row, cells) {
            Ok(c) => Prepared::Row(Box::new(c)),
            Err(e) => Prepared::Failed(e),
        }
    }

    fn check(&self, m: &Mapping, sheet: &str, row: u32, mut cells: Vec<Cell>) -> AppResult<Checked> {
        let mut cell_errors = Vec::new();
        // Fields whose cell was refused: their follow-on "required" issues would only repeat it.
        let mut cell_failed: HashSet<&'static str> = HashSet::new();
        let mut values: Vec<String> = vec![String::new(); fields::FIELDS.len()];
        let mut school_code = String::new();
        let mut start_day: Option<NaiveDate> = None;
        for (i, target) in m.columns.iter().enumerate() {
            let cell = cells.get_mut(i).map(std::mem::take).unwrap_or_default();
            match target {
                Target::School => {
                    school_code = match cell {
                        Cell::Text(s) => s.trim().to_owned(),
                        Cell::Number(n) if n.fract() == 0.0 => format!("{}", n as i64),
                        _ => String::new(),
                    }
                }
                Target::Field(f, idx) => match cell_text(f, cell) {
                    Ok(v) => values[*idx] = v,
                    Err((code, message)) => {
                        cell_failed.insert(f.key);
                        cell_errors.push(err(sheet, row, i, f.header, code, format!("“{}”{message}", f.header)))
                    }
                },
                Target::Start => match start_cell(cell) {
                    Ok(d) => start_day = d,
                    Err(message) => {
                        cell_errors.push(err(sheet, row, i, "入校日期", ErrorCode::ImportStartDate, message))
                    }
                },
                Target::Ignored => {}
            }
        }
        let refs: Vec<&str> = values.iter().map(String::as_str).collect();
        let record = StudentRecord::parse_fields(&refs, self.today).map_err(|issues| {
            issues
                .into_iter()
                .filter(|i| !cell_failed.contains(i.field))
                .map(|i| match m.position.get(i.field) {
                    Some(c) => err(sheet, row, *c, i.header(), i.code, i.message),
                    None => {
                        RowError { sheet: sheet.into(), row, column: String::new(), code: i.code, message: i.message }
                    }
                })
                .collect()
        });
        let own_id = record.as_ref().ok().and_then(|r| r.own_id_no()).map(|id| id.into_owned());
        let record = match record {
            Ok(r) => {
                let stored = StoredRecord::of(&r)?;
                Ok((r, stored))
            }
            Err(e) => Err(e),
        };
        Ok(Checked { row, school_code, start_day, cell_errors, record, own_id })
    }
}

/// State of one import as rows stream past.
struct Run<'a> {
    caller: &'a Caller,
    only: Option<Org>,
    write: bool,
    today: NaiveDate,
    report: ImportReport,
    mapping: Option<Arc<Mapping>>,
    schools: Vec<Org>,
    school_index: HashMap<String, Option<usize>>,
    class_nos: HashMap<usize, HashSet<String>>,
    /// Stored students of the schools seen so far: match key → student id.
    existing: HashMap<MatchKey, i64>,
    seen_ids: HashMap<String, u32>,
    rejected_rows: HashSet<u32>,
    pending: Vec<Valid>,
    numbers: registry::NumberCounters,
    /// The key-information lock in force per school (by index in `schools`).
    locks: HashMap<usize, Option<KeyLock>>,
    /// The sheet being read, for errors found when a batch is written.
    sheet: String,
    fatal: Option<Vec<RowError>>,
    opts: &'a ImportOptions,
}

impl Run<'_> {
    fn lock_in_force(&mut self, conn: &mut DbConn, school: usize, row: &StudentRow) -> AppResult<Option<KeyLock>> {
        if row.review != Review::Confirmed {
            return Ok(None);
        }
        if !self.locks.contains_key(&school) {
            let lock =
                changes::lock_for(conn, &self.schools[school].path, self.today)?.filter(|l| l.is_locked(self.today));
            self.locks.insert(school, lock);
        }
        Ok(self.locks[&school].clone())
    }

    fn school(&mut self, conn: &mut DbConn, code: &str) -> AppResult<Option<usize>> {
        if let Some(i) = self.school_index.get(code) {
            return Ok(*i);
        }
        let found = lookup_school(conn, self.caller, code)?;
        let i = match found {
            Some(o) => {
                let classes: Vec<String> =
                    classes::table.filter(classes::school_id.eq(o.id)).select(classes::class_no).load(conn)?;
                let stored: Vec<(i64, Option<String>, String, NaiveDate)> = students::table
                    .filter(students::school_id.eq(o.id))
                    .select((students::id, students::id_no_hash, students::name, students::birth_date))
                    .load(conn)?;
                for (id, id_no, name, birth) in stored {
                    let key = match id_no {
                        Some(n) => MatchKey::Id(o.id, n),
                        None => MatchKey::NameBirth(o.id, name, birth),
                    };
                    self.existing.insert(key, id);
                }
                self.schools.push(o);
                let i = self.schools.len() - 1;
                self.class_nos.insert(i, classes.into_iter().collect());
                Some(i)
            }
            None => None,
        };
        self.school_index.insert(code.to_owned(), i);
        Ok(i)
    }

    fn row(&mut self, conn: &mut DbConn, prepared: Prepared) -> AppResult<()> {
        match prepared {
            Prepared::Skip => Ok(()),
            Prepared::Failed(e) => Err(e),
            Prepared::Header { sheet, mapping } => {
                self.sheet = sheet;
                match mapping {
                    Ok(m) => self.mapping = Some(m),
                    Err(e) => self.fatal = Some(e),
                }
                Ok(())
            }
            Prepared::Row(checked) => {
                let Some(m) = self.mapping.clone() else { return Ok(()) };
                self.place(conn, &m, *checked)?;
                if self.pending.len() >= BATCH {
                    self.flush(conn)?;
                }
                Ok(())
            }
        }
    }

    /// What of a checked row needs the database or the rows before it: its school (in the
    /// caller's scope) and class, and a repeat of an earlier row of the file.
    fn place(&mut self, conn: &mut DbConn, m: &Mapping, c: Checked) -> AppResult<()> {
        let Checked { row, school_code, start_day, cell_errors: mut row_errors, record, own_id } = c;
        self.report.rows += 1;
        let (school_col, id_col, class_col) =
            (m.school_col, m.position.get("id_no").copied(), m.position.get("class_no").copied().unwrap_or(0));
        // Which school the row belongs to. A file for one school names no other school's fate.
        let foreign = self.only.as_ref().is_some_and(|o| o.code != school_code && !school_code.is_empty());
        let school = if foreign {
            let own = self.only.as_ref().map(|o| o.code.clone()).unwrap_or_default();
            row_errors.push(err(
                &self.sheet,
                row,
                school_col,
                "学校标识码",
                ErrorCode::ImportOtherSchool,
                format!("本行属于学校“{school_code}”，不是本次导入的学校“{own}”"),
            ));
            None
        } else {
            let i = self.school(conn, &school_code)?;
            if i.is_none() {
                row_errors.push(err(
                    &self.sheet,
                    row,
                    school_col,
                    "学校标识码",
                    ErrorCode::ImportUnknownSchool,
                    format!("学校标识码“{school_code}”不存在或不在您的管辖范围内"),
                ));
            }
            i
        };
        match record {
            Ok((record, stored)) => {
                if let Some(i) = school
                    && !self.class_nos.get(&i).is_some_and(|n| n.contains(record.get("class_no")))
                {
                    row_errors.push(err(
                        &self.sheet,
                        row,
                        class_col,
                        "班号",
                        ErrorCode::StudentUnknownClass,
                        format!("班号“{}”在该校不存在，请先建立该班级", record.get("class_no")),
                    ));
                }
                if let Some(id) = own_id {
                    match self.seen_ids.get(&id) {
                        Some(first) => row_errors.push(err(
                            &self.sheet,
                            row,
                            id_col.unwrap_or(0),
                            "身份证件号",
                            ErrorCode::ImportDuplicateInFile,
                            format!("身份证件号与本文件第{first}行重复"),
                        )),
                        None => {
                            self.seen_ids.insert(id, row);
                        }
                    }
                } else {
                    // Without an ID number a child is known by school, name and birth date: a
                    // second row with the same three would be taken for the first and dropped.
                    let key = format!("{school:?}\u{1}{}\u{1}{}", record.name(), record.birth_date());
                    match self.seen_ids.get(&key) {
                        Some(first) => row_errors.push(err(
                            &self.sheet,
                            row,
                            m.position.get("name").copied().unwrap_or(0),
                            "姓名",
                            ErrorCode::ImportDuplicateInFile,
                            format!(
                                "与本文件第{first}行同校、同名、同出生日期且都没有身份证件号，无法区分：请补填身份证件号，或删去重复的一行"
                            ),
                        )),
                        None => {
                            self.seen_ids.insert(key, row);
                        }
                    }
                }
                if row_errors.is_empty()
                    && let Some(i) = school
                {
                    let start = registry::start_on(
                        start_day.or(self.opts.enrolled_on),
                        &record,
                        &self.opts.backdate_reason,
                        self.today,
                    );
                    self.pending.push(Valid { row, school: i, record, start, stored });
                }
            }
            Err(issues) => row_errors.extend(issues),
        }
        if !row_errors.is_empty() {
            self.rejected_rows.insert(row);
            self.report.errors.extend(row_errors);
        }
        Ok(())
    }

    /// Classifies the pending rows against the stored students and, when writing, writes them.
    fn flush(&mut self, conn: &mut DbConn) -> AppResult<()> {
        let mut new: Vec<Valid> = Vec::new();
        let mut matched: Vec<(Valid, i64)> = Vec::new();
        for v in std::mem::take(&mut self.pending) {
            match self.existing.get(&match_key(self.schools[v.school].id, &v)) {
                Some(id) => matched.push((v, *id)),
                None => new.push(v),
            }
        }
        let ids: Vec<i64> = matched.iter().map(|(_, id)| *id).collect();
        let stored: HashMap<i64, StudentRow> = students::table
            .filter(students::id.eq_any(&ids))
            .select(StudentRow::as_select())
            .load(conn)?
            .into_iter()
            .map(|r| (r.id, r))
            .collect();
        for (v, id) in &matched {
            let Some(row) = stored.get(id) else { continue };
            let before = row.record();
            if before == v.record {
                self.report.unchanged += 1;
                continue;
            }
            // After the lock date a file cannot change key fields: that takes a change request.
            if let Some(lock) = self.lock_in_force(conn, v.school, row)? {
                let changed = lock.changed(&before, &v.record);
                if let Some(first) = changed.first() {
                    let e = changes::locked_error(&lock, &changed);
                    let col = self.mapping.as_ref().and_then(|m| m.position.get(first)).copied().unwrap_or(0);
                    let header = fields::field(first).map(|f| f.header).unwrap_or("");
                    self.rejected_rows.insert(v.row);
                    self.report.errors.push(err(&self.sheet, v.row, col, header, e.code, e.message));
                    continue;
                }
            }
            self.report.updated += 1;
            if self.write {
                registry::apply_update(conn, self.caller, row, &v.record, &format!("模板导入（第{}行）", v.row), None)?;
            }
        }
        // A new student needs a first day the rules allow; an update did not.
        let mut arrivals: Vec<Arrival> = Vec::new();
        let mut keys: Vec<MatchKey> = Vec::new();
        for v in new {
            let key = match_key(self.schools[v.school].id, &v);
            match v.start {
                Ok(start) => {
                    keys.push(key);
                    self.report.backdated += usize::from(start.backdated.is_some());
                    arrivals.push(Arrival { school: v.school, record: v.record, start, stored: v.stored });
                }
                Err(e) => {
                    let (col, header) = match (self.mapping.as_ref().and_then(|m| m.start_col), e.fields.first()) {
                        (Some(c), _) => (c, "入校日期"),
                        (None, _) => {
                            let c = self.mapping.as_ref().and_then(|m| m.position.get("entry_ym")).copied();
                            (c.unwrap_or(0), "入学年月")
                        }
                    };
                    let code = e.fields.first().map(|f| f.code).unwrap_or(e.code);
                    self.rejected_rows.insert(v.row);
                    self.report.errors.push(err(&self.sheet, v.row, col, header, code, e.message));
                }
            }
        }
        self.report.imported += keys.len();
        if self.write && !arrivals.is_empty() {
            registry::insert_many(conn, self.caller, &self.schools, arrivals, "模板导入", &mut self.numbers)?;
        }
        // Later rows of the same file find these students too.
        for key in keys {
            self.existing.insert(key, -1);
        }
        Ok(())
    }
}

/// Imports a template file. `school` limits the file to one school (the caller's own for a
/// school user); every row's 学校标识码 must be in the caller's scope either way. Rows are
/// validated and written in batches inside one transaction, which is rolled back at the end
/// when any row was rejected and `partial` is off.
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
    let run = |conn: &mut DbConn, write: bool| -> AppResult<(Run<'_>, String)> {
        let mut r = Run {
            caller,
            only: only.clone(),
            write,
            today: caller.today(),
            report: ImportReport { dry_run: opts.dry_run, ..Default::default() },
            mapping: None,
            schools: Vec::new(),
            school_index: HashMap::new(),
            class_nos: HashMap::new(),
            existing: HashMap::new(),
            seen_ids: HashMap::new(),
            rejected_rows: HashSet::new(),
            pending: Vec::new(),
            numbers: Default::default(),
            locks: HashMap::new(),
            sheet: String::new(),
            fatal: None,
            opts: &opts,
        };
        // Sealing needs the key: refused here, before any row, when it is not loaded.
        at_rest::ring()?;
        let mut preparer = Preparer { today: r.today, mapping: None, refused: false };
        let prepare = |sheet: &str, row: u32, cells: Vec<Cell>| preparer.prepare(sheet, row, cells);
        let sheet = sheet::read_rows_prepared(bytes, kind, prepare, |prepared| {
            r.row(conn, prepared)?;
            if r.report.rows.is_multiple_of(1000) && r.report.rows > 0 {
                progress(r.report.rows, if write { "导入" } else { "校验" });
            }
            Ok(())
        })?;
        if let Some(e) = r.fatal.take() {
            r.report.errors = e;
            return Ok((r, sheet));
        }
        if r.mapping.is_none() {
            return Err(AppError::invalid(ErrorCode::ImportEmpty, "文件中没有表头和数据"));
        }
        r.flush(conn)?;
        if write {
            r.numbers.save(conn)?;
        }
        r.report.rejected = r.rejected_rows.len();
        Ok((r, sheet))
    };

    if opts.dry_run {
        return Ok(run(conn, false)?.0.report);
    }
    // Rolled back when rows were rejected (and not partial): the report still comes out.
    let mut kept: Option<ImportReport> = None;
    let digest = hex::encode(Sha256::digest(bytes));
    let outcome = write_tx(conn, |conn| {
        let (r, sheet) = run(conn, true)?;
        let mut report = r.report;
        let abort = r.mapping.is_none()
            || (!report.errors.is_empty() && !opts.partial)
            || report.errors.iter().any(|e| e.code == ErrorCode::ImportMissingHeader);
        if abort {
            report.imported = 0;
            report.updated = 0;
            kept = Some(report);
            return Err(AppError::conflict(ErrorCode::ImportRolledBack, "存在错误，已全部撤销"));
        }
        audit::record(
            conn,
            &caller.actor(),
            Entry::new("student.import", "file", &digest[..16]).after(&serde_json::json!({
                "file": filename, "sha256": digest, "sheet": sheet, "rows": report.rows,
                "imported": report.imported, "updated": report.updated, "unchanged": report.unchanged,
                "rejected": report.rejected, "enrolled_on": opts.enrolled_on, "backdated": report.backdated,
                "backdate_reason": (report.backdated > 0).then_some(opts.backdate_reason.trim()),
                "schools": r.schools.iter().map(|s| s.code.as_str()).collect::<Vec<_>>(),
            })),
        )?;
        report.committed = true;
        Ok(report)
    });
    match (outcome, kept) {
        (Ok(report), _) => {
            progress(report.rows, "完成");
            Ok(report)
        }
        (Err(_), Some(report)) => Ok(report),
        (Err(e), None) => Err(e),
    }
}

fn registry_school(conn: &mut DbConn, caller: &Caller, code: &str) -> AppResult<Org> {
    let org = crate::org::service::org_in_scope(conn, caller.scope(), code)?;
    if org.kind != OrgKind::School {
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
    let bad = Format::new()
        .set_num_format("@")
        .set_background_color(Color::RGB(0xFFC7CE))
        .set_font_color(Color::RGB(0x9C0006));
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
            .map(|e| {
                if e.column.is_empty() {
                    format!("第{}行：{}", e.row, e.message)
                } else {
                    format!("第{}行{}列：{}", e.row, e.column, e.message)
                }
            })
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
    caller.require(conn, Permission::ExportStudents, "export_students")?;
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
    let limit = crate::config::registry_rules().export_max_rows;
    if rows.len() > limit {
        return Err(AppError::invalid(
            ErrorCode::StudentExportTooMany,
            format!("一次最多导出 {limit} 名学生，{} 有 {} 名：请按班级分别导出", org.name, rows.len()),
        ));
    }
    let note = super::template::ExportNote {
        by: format!("{}（{}）", caller.display_name, caller.username),
        org: caller.org_name.clone(),
        at: crate::clock::shown_now(),
        rows: rows.len(),
    };
    let data = rows.iter().map(|r| (org.code.clone(), r.record()));
    let bytes = super::template::write_iter(data, rows.len(), Some(&note))?;
    audit::record_alone(
        conn,
        &caller.actor(),
        Entry::new("student.export", "school", &org.code)
            .after(&serde_json::json!({"rows": note.rows, "class_id": class_id})),
    )?;
    Ok(bytes)
}
