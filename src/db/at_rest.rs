//! Encryption at rest, in the database's terms: the process's key ring, the sealed columns of
//! `students` read back in plain text by diesel, the keyed hashes beside them, sealing a
//! database written before encryption, and moving rows to a new key after a rotation.
//!
//! The ring's first key and the index key are derived from the master secret (no new file to
//! keep); a rotation adds a random key to `data_dir/field-keys.json`, which then has to travel
//! with `secret.key` (and is carried inside every backup).

use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use diesel::backend::Backend;
use diesel::deserialize::{FromStaticSqlRow, Queryable};
use diesel::prelude::*;
use diesel::sql_types::{Nullable, Text};
use serde::{Deserialize, Serialize};

use crate::db::DbConn;
use crate::db::schema::{complaints, jobs, roster_lines, schools, student_history, student_merges, students, teachers};
use crate::domain::field_seal::{FieldKey, KeyRing, OpenError, bytes_sealed_with, sealed_with};
use crate::error::{AppError, AppResult, ErrorCode};

static RING: RwLock<Option<Arc<KeyRing>>> = RwLock::new(None);
/// The data directory whose ring file this process follows (the server's and the commands').
static RING_DIR: RwLock<Option<PathBuf>> = RwLock::new(None);

/// Makes `ring` the one this process seals and opens fields with. A later install replaces it
/// (a rotation adds a key); every entry point installs the ring it loaded before reading.
pub fn install(ring: &KeyRing) {
    *RING.write().unwrap_or_else(|p| p.into_inner()) = Some(Arc::new(ring.clone()));
}

/// The installed ring; none is an error, never a plain value.
pub fn ring() -> AppResult<Arc<KeyRing>> {
    RING.read().unwrap_or_else(|p| p.into_inner()).clone().ok_or_else(|| {
        AppError::internal_msg(ErrorCode::SealNoKey, "尚未加载字段加密密钥，不能读写学生身份信息".into())
    })
}

/// Follows `data_dir/field-keys.json`: a value sealed under a key this process has not loaded
/// (`keys rotate` run beside a running server) makes it read the file again, instead of every
/// student page failing until a restart.
pub fn follow_file(data_dir: &Path) {
    *RING_DIR.write().unwrap_or_else(|p| p.into_inner()) = Some(data_dir.to_owned());
}

/// Opens a value with `ring` (`open` says how); when it names a key the ring lacks and `dir`
/// is followed, with the ring as the file now has it, which is returned for the caller to install.
fn open_following<T>(
    ring: &KeyRing,
    dir: Option<&Path>,
    field: &str,
    open: impl Fn(&KeyRing) -> Result<T, OpenError>,
) -> AppResult<(T, Option<KeyRing>)> {
    match (open(ring), dir) {
        (Err(OpenError::UnknownKey(_)), Some(dir)) => {
            let reloaded = load_ring(dir, ring.clone())?;
            let plain = open(&reloaded).map_err(|e| open_error(field, e))?;
            Ok((plain, Some(reloaded)))
        }
        (r, _) => Ok((r.map_err(|e| open_error(field, e))?, None)),
    }
}

fn open_with<T>(field: &str, open: impl Fn(&KeyRing) -> Result<T, OpenError>) -> AppResult<T> {
    let dir = RING_DIR.read().unwrap_or_else(|p| p.into_inner()).clone();
    let (plain, reloaded) = open_following(&*ring()?, dir.as_deref(), field, open)?;
    if let Some(r) = reloaded {
        tracing::info!(active = r.active_id(), "field key ring reloaded after a rotation");
        install(&r);
    }
    Ok(plain)
}

fn open_field(field: &str, stored: &str) -> AppResult<String> {
    open_with(field, |r| r.open(field, stored))
}

/// Seals a file kept in the database (an upload, a job's result) as `field`, which names
/// its row, so it opens only there.
pub fn seal_file(field: &str, plain: &[u8]) -> AppResult<Vec<u8>> {
    Ok(ring()?.seal_bytes(field, plain))
}

/// Opens a file sealed by [`seal_file`]; one stored before files were sealed (a job of the
/// day of the upgrade) is returned as it is.
pub fn open_file(field: &str, stored: Vec<u8>) -> AppResult<Vec<u8>> {
    if bytes_sealed_with(&stored).is_none() {
        return Ok(stored);
    }
    open_with(field, |r| r.open_bytes(field, &stored))
}

fn open_error(field: &str, e: OpenError) -> AppError {
    AppError::internal_msg(e.code(), format!("学生数据字段 {field} 无法解密：{e}"))
}

// ---------------------------------------------------------------- the sealed columns

/// A sealed column: its name is the associated data its values are sealed with.
pub trait SealedField {
    const NAME: &'static str;
}

/// Declares each sealed column's marker with the name it is sealed under.
macro_rules! sealed_fields {
    ($($(#[$doc:meta])* $marker:ident = $name:literal;)*) => {
        $(
            $(#[$doc])*
            pub struct $marker;
            impl SealedField for $marker {
                const NAME: &'static str = $name;
            }
        )*
    };
}

sealed_fields! {
    /// The child's own ID number, its guardian's, the guardian's phone, the whole record.
    IdNo = "id_no";
    GuardianIdNo = "guardian_id_no";
    GuardianPhone = "guardian_phone";
    Record = "record";
    /// The phones of adults other than guardians: a teacher's, a principal's, a complainant's
    /// contact.
    StaffPhone = "teacher.phone";
    PrincipalPhone = "school.principal_phone";
    PrincipalMobile = "school.principal_mobile";
    ComplaintContact = "complaint.contact";
    /// A roster line's 学籍号 (a G number carries the ID number).
    RosterStudentNo = "roster.student_no";
    /// A registered student's 学籍号, found by [`student_no_hash`].
    StudentNumber = "student_no";
    /// What a merge into another record keeps of the merged one: its number and its record.
    MergedStudentNo = "merge.student_no";
    MergedRecord = "merge.record";
    /// The key a collection point's packages are sealed under (at the county and at the point).
    CollectKey = "collect.key";
}

/// What a sealed nullable column loads as, opened on the way into the row struct
/// (`#[diesel(deserialize_as = Opened<IdNo>)]` on an `Option<String>` field).
pub struct Opened<F>(Option<String>, PhantomData<F>);

impl<F, DB> Queryable<Nullable<Text>, DB> for Opened<F>
where
    DB: Backend,
    Option<String>: FromStaticSqlRow<Nullable<Text>, DB>,
{
    type Row = Option<String>;
    fn build(row: Option<String>) -> diesel::deserialize::Result<Self> {
        Ok(Opened(row, PhantomData))
    }
}

impl<F: SealedField> TryFrom<Opened<F>> for Option<String> {
    type Error = AppError;
    fn try_from(v: Opened<F>) -> AppResult<Self> {
        v.0.map(|s| open::<F>(&s)).transpose()
    }
}

/// The same for a column that is never null.
pub struct OpenedText<F>(String, PhantomData<F>);

impl<F, DB> Queryable<Text, DB> for OpenedText<F>
where
    DB: Backend,
    String: FromStaticSqlRow<Text, DB>,
{
    type Row = String;
    fn build(row: String) -> diesel::deserialize::Result<Self> {
        Ok(OpenedText(row, PhantomData))
    }
}

impl<F: SealedField> TryFrom<OpenedText<F>> for String {
    type Error = AppError;
    fn try_from(v: OpenedText<F>) -> AppResult<Self> {
        open::<F>(&v.0)
    }
}

pub fn seal<F: SealedField>(plain: &str) -> AppResult<String> {
    Ok(ring()?.seal(F::NAME, plain))
}

pub fn open<F: SealedField>(stored: &str) -> AppResult<String> {
    open_field(F::NAME, stored)
}

/// The keyed hash an ID number (the child's or a guardian's) is found by.
pub fn id_hash(id_no: &str) -> AppResult<String> {
    Ok(id_index(&*ring()?, id_no))
}

pub fn id_index(ring: &KeyRing, id_no: &str) -> String {
    ring.index("id", id_no)
}

/// The keyed hash a phone number is found by.
pub fn phone_hash(phone: &str) -> AppResult<String> {
    Ok(phone_index(&*ring()?, phone))
}

pub fn phone_index(ring: &KeyRing, phone: &str) -> String {
    ring.index("phone", phone)
}

/// The keyed hash a 学籍号 is found by (and kept unique by).
pub fn student_no_hash(no: &str) -> AppResult<String> {
    Ok(student_no_index(&*ring()?, no))
}

pub fn student_no_index(ring: &KeyRing, no: &str) -> String {
    ring.index("student_no", no)
}

/// A stored 学籍号, opened.
pub fn student_no(stored: &str) -> AppResult<String> {
    open::<StudentNumber>(stored)
}

/// A 学籍号 as stored: sealed, and its keyed hash.
pub fn sealed_student_no(no: &str) -> AppResult<(String, String)> {
    let ring = ring()?;
    Ok((ring.seal(StudentNumber::NAME, no), student_no_index(&ring, no)))
}

/// The sealed columns of one student and the hashes beside them, from the plain values.
#[derive(Debug, Clone)]
pub struct SealedStudent {
    pub id_no: Option<String>,
    pub id_no_hash: Option<String>,
    pub guardian_id_no: Option<String>,
    pub guardian_id_no_hash: Option<String>,
    pub guardian_phone: Option<String>,
    pub guardian_phone_hash: Option<String>,
    pub record: String,
}

impl SealedStudent {
    pub fn new(
        id_no: Option<&str>,
        guardian_id_no: Option<&str>,
        guardian_phone: Option<&str>,
        record_json: &str,
    ) -> AppResult<Self> {
        let ring = ring()?;
        let sealed = |field: &str, v: Option<&str>| v.map(|v| ring.seal(field, v));
        Ok(Self {
            id_no: sealed(IdNo::NAME, id_no),
            id_no_hash: id_no.map(|v| id_index(&ring, v)),
            guardian_id_no: sealed(GuardianIdNo::NAME, guardian_id_no),
            guardian_id_no_hash: guardian_id_no.map(|v| id_index(&ring, v)),
            guardian_phone: sealed(GuardianPhone::NAME, guardian_phone),
            guardian_phone_hash: guardian_phone.map(|v| phone_index(&ring, v)),
            record: ring.seal(Record::NAME, record_json),
        })
    }
}

// ---------------------------------------------------------------- field history

/// Whether a field's history values are kept sealed: those shown only masked (ID numbers,
/// phones) and the 学籍号 (a G number carries the ID number).
pub fn history_sealed(field: &str) -> bool {
    crate::domain::student::is_sensitive(field) || matches!(field, "student_no" | "merge")
}

/// A history value of a field in [`history_sealed`], sealed.
pub fn history_value(field: &str, value: Option<&str>) -> AppResult<Option<String>> {
    match value {
        Some(v) if history_sealed(field) && !v.is_empty() => Ok(Some(ring()?.seal(HISTORY, v))),
        other => Ok(other.map(str::to_owned)),
    }
}

const HISTORY: &str = "history";

/// A history value as stored, opened when it was sealed.
pub fn open_history(stored: &str) -> AppResult<String> {
    if sealed_with(stored).is_some() { open_field(HISTORY, stored) } else { Ok(stored.to_owned()) }
}

/// A history value as stored, opened when it was sealed.
pub struct HistoryValue(Option<String>);

impl<DB> Queryable<Nullable<Text>, DB> for HistoryValue
where
    DB: Backend,
    Option<String>: FromStaticSqlRow<Nullable<Text>, DB>,
{
    type Row = Option<String>;
    fn build(row: Option<String>) -> diesel::deserialize::Result<Self> {
        Ok(HistoryValue(row))
    }
}

impl TryFrom<HistoryValue> for Option<String> {
    type Error = AppError;
    fn try_from(v: HistoryValue) -> AppResult<Self> {
        v.0.map(|s| open_history(&s)).transpose()
    }
}

// ---------------------------------------------------------------- the key ring's file

/// The ring's file: the keys added by rotations (hex), and which one seals new values.
#[derive(Debug, Default, Serialize, Deserialize)]
struct RingFile {
    active: Option<String>,
    keys: Vec<String>,
}

pub fn ring_path(data_dir: &Path) -> PathBuf {
    data_dir.join("field-keys.json")
}

fn file_error(path: &Path, e: impl std::fmt::Display) -> AppError {
    AppError::internal_msg(ErrorCode::SealKeyFile, format!("字段密钥文件 {} 无法读写：{e}", path.display()))
}

fn read_file(path: &Path) -> AppResult<RingFile> {
    match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text).map_err(|e| file_error(path, e)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(RingFile::default()),
        Err(e) => Err(file_error(path, e)),
    }
}

fn key_of(path: &Path, hex_key: &str) -> AppResult<FieldKey> {
    let bytes: [u8; 32] = hex::decode(hex_key.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| file_error(path, "密钥应为64个十六进制字符"))?;
    Ok(FieldKey::new(bytes))
}

/// `base` (the keys derived from the master secret) with the keys of the ring file, if any.
pub fn load_ring(data_dir: &Path, base: KeyRing) -> AppResult<KeyRing> {
    let path = ring_path(data_dir);
    let file = read_file(&path)?;
    let mut ring = base;
    for k in &file.keys {
        let key = key_of(&path, k)?;
        let active = file.active.as_deref() == Some(key.id());
        ring = ring.with(key, active);
    }
    if let Some(active) = &file.active
        && ring.active_id() != active
        && !file.keys.is_empty()
    {
        return Err(file_error(&path, format!("其中指定的当前密钥 {active} 不在文件里")));
    }
    Ok(ring)
}

/// Adds a new random key to the ring file and makes it the one new values are sealed with;
/// the file is replaced whole (written beside, then renamed) so a crash leaves the old or the new.
pub fn add_key(data_dir: &Path, base: KeyRing) -> AppResult<KeyRing> {
    let path = ring_path(data_dir);
    let mut file = read_file(&path)?;
    let bytes: [u8; 32] = rand::random();
    let key = FieldKey::new(bytes);
    file.active = Some(key.id().to_owned());
    file.keys.push(hex::encode(bytes));
    write_file(&path, &file)?;
    load_ring(data_dir, base)
}

/// Adds keys (hex) to the ring file without changing the active one: a restored backup brings
/// the keys its rows were sealed with.
pub fn import_keys(data_dir: &Path, keys: &[String]) -> AppResult<()> {
    let path = ring_path(data_dir);
    let mut file = read_file(&path)?;
    let before = file.keys.len();
    for k in keys {
        key_of(&path, k)?;
        if !file.keys.contains(k) {
            file.keys.push(k.clone());
        }
    }
    if file.keys.len() != before {
        write_file(&path, &file)?;
    }
    Ok(())
}

/// The keys of the ring file (hex), for a backup to carry.
pub fn file_keys(data_dir: &Path) -> AppResult<Vec<String>> {
    Ok(read_file(&ring_path(data_dir))?.keys)
}

/// Drops a key no stored value names any more from the ring file.
pub fn retire_key(conn: &mut DbConn, data_dir: &Path, key_id: &str) -> AppResult<()> {
    let path = ring_path(data_dir);
    let mut file = read_file(&path)?;
    if file.active.as_deref() == Some(key_id) {
        return Err(AppError::invalid(ErrorCode::SealRetireActive, "不能停用当前正在使用的密钥"));
    }
    let still = usage(conn)?.into_iter().find(|u| u.key_id == key_id).map(|u| u.values).unwrap_or(0);
    if still > 0 {
        return Err(AppError::invalid(
            ErrorCode::SealKeyInUse,
            format!("仍有 {still} 个字段由密钥 {key_id} 加密：请先运行 mealroll keys reseal"),
        ));
    }
    let n = file.keys.len();
    // Every key in the file parsed when the ring was loaded; one that does not is kept as is.
    file.keys.retain(|k| key_of(&path, k).map_or(true, |key| key.id() != key_id));
    if file.keys.len() == n {
        return Err(AppError::invalid(
            ErrorCode::SealUnknownKey,
            format!("密钥文件中没有密钥 {key_id}（由主密钥派生的密钥不能停用）"),
        ));
    }
    write_file(&path, &file)
}

fn write_file(path: &Path, file: &RingFile) -> AppResult<()> {
    let text = serde_json::to_string_pretty(file).map_err(|e| file_error(path, e))?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| file_error(path, e))?;
    }
    let tmp = path.with_extension("json.new");
    std::fs::write(&tmp, text).map_err(|e| file_error(&tmp, e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600)).map_err(|e| file_error(&tmp, e))?;
    }
    std::fs::rename(&tmp, path).map_err(|e| file_error(path, e))
}

// ---------------------------------------------------------------- sealing and resealing rows

const BATCH: i64 = 500;

/// One stored student's sealed cells as they are in the database.
#[derive(Queryable, Selectable)]
#[diesel(table_name = students)]
struct StoredCells {
    id: i64,
    id_no_sealed: Option<String>,
    guardian_id_no_sealed: Option<String>,
    guardian_phone_sealed: Option<String>,
    record_sealed: String,
    student_no_sealed: String,
    student_no_hash: Option<String>,
}

impl StoredCells {
    fn values(&self) -> [Option<&str>; 5] {
        [
            self.id_no_sealed.as_deref(),
            self.guardian_id_no_sealed.as_deref(),
            self.guardian_phone_sealed.as_deref(),
            Some(&self.record_sealed),
            Some(&self.student_no_sealed),
        ]
    }
}

fn stored_cells(conn: &mut DbConn, after: i64) -> AppResult<Vec<StoredCells>> {
    Ok(students::table
        .filter(students::id.gt(after))
        .select(StoredCells::as_select())
        .order(students::id.asc())
        .limit(BATCH)
        .load(conn)?)
}

/// A cell's plain value: opened when sealed (under any key of the ring), else as written
/// before the database was encrypted.
fn plain_of(ring: &KeyRing, field: &str, stored: &str) -> AppResult<String> {
    match ring.open(field, stored) {
        Ok(v) => Ok(v),
        Err(OpenError::NotSealed) => Ok(stored.to_owned()),
        Err(e) => Err(open_error(field, e)),
    }
}

/// What [`reseal`] did.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Resealed {
    pub students: usize,
    pub history: usize,
    /// Other columns: teachers', principals' and complainants' phones, what merges keep.
    pub others: usize,
    /// Uploads and results kept with jobs.
    pub files: usize,
    /// Roster lines' 学籍号.
    pub roster_lines: usize,
}

impl Resealed {
    pub fn total(&self) -> usize {
        self.students + self.history + self.others + self.files + self.roster_lines
    }

    /// What was done, as the command says it.
    pub fn summary(&self) -> String {
        format!(
            "重新加密学生 {} 人、字段历史 {} 条、花名册行 {} 行、电话与合并记录 {} 个、任务文件 {} 个。",
            self.students, self.history, self.roster_lines, self.others, self.files
        )
    }
}

/// Seals every value not yet sealed under the ring's active key: plain values of a database
/// written before encryption, and values under an older key after a rotation. Each batch is
/// its own transaction, so a crash leaves every row either as it was or done, and a second run
/// continues. Returns what changed; SQLite's file is then rewritten (VACUUM) so no plain value
/// is left in its free pages.
pub fn reseal(conn: &mut DbConn) -> AppResult<Resealed> {
    let ring = ring()?;
    let active = ring.active_id().to_owned();
    let current = |s: &str| sealed_with(s) == Some(active.as_str());
    let mut done = Resealed::default();
    let mut after = 0;
    loop {
        let rows = stored_cells(conn, after)?;
        let Some(last) = rows.last().map(|r| r.id) else { break };
        after = last;
        // A number without its hash was written before the number was sealed.
        let stale: Vec<&StoredCells> = rows
            .iter()
            .filter(|r| r.values().into_iter().flatten().any(|v| !current(v)) || r.student_no_hash.is_none())
            .collect();
        if stale.is_empty() {
            continue;
        }
        crate::db::write_tx(conn, |conn| {
            for cells in &stale {
                let open =
                    |field: &str, v: &Option<String>| v.as_deref().map(|v| plain_of(&ring, field, v)).transpose();
                let (a, b, c) = (
                    open(IdNo::NAME, &cells.id_no_sealed)?,
                    open(GuardianIdNo::NAME, &cells.guardian_id_no_sealed)?,
                    open(GuardianPhone::NAME, &cells.guardian_phone_sealed)?,
                );
                let r = plain_of(&ring, Record::NAME, &cells.record_sealed)?;
                let s = SealedStudent::new(a.as_deref(), b.as_deref(), c.as_deref(), &r)?;
                let (no, no_hash) =
                    sealed_student_no(&plain_of(&ring, StudentNumber::NAME, &cells.student_no_sealed)?)?;
                diesel::update(students::table.find(cells.id))
                    .set((
                        students::id_no_sealed.eq(s.id_no),
                        students::id_no_hash.eq(s.id_no_hash),
                        students::guardian_id_no_sealed.eq(s.guardian_id_no),
                        students::guardian_id_no_hash.eq(s.guardian_id_no_hash),
                        students::guardian_phone_sealed.eq(s.guardian_phone),
                        students::guardian_phone_hash.eq(s.guardian_phone_hash),
                        students::record_sealed.eq(s.record),
                        students::student_no_sealed.eq(no),
                        students::student_no_hash.eq(no_hash),
                    ))
                    .execute(conn)?;
            }
            Ok(())
        })?;
        done.students += stale.len();
    }
    done.history = reseal_history(conn, &ring)?;
    done.others = reseal_columns(conn, &ring)?;
    done.roster_lines = reseal_roster_lines(conn, &ring)?;
    done.files = reseal_files(conn, &ring)?;
    if done.total() > 0 && matches!(conn, DbConn::Sqlite(_)) {
        use diesel::connection::SimpleConnection;
        // The old pages go from the file, then from the write-ahead log.
        conn.batch_execute("VACUUM; PRAGMA wal_checkpoint(TRUNCATE);")?;
    }
    Ok(done)
}

/// Seals the 学籍号 written in plain by set-based SQL (the benchmarks' generated children),
/// a batch of rows per statement. Returns how many.
pub fn seal_plain_numbers(conn: &mut DbConn) -> AppResult<usize> {
    let ring = ring()?;
    let mut done = 0;
    loop {
        let rows: Vec<(i64, String)> = students::table
            .filter(students::student_no_hash.is_null())
            .select((students::id, students::student_no_sealed))
            .order(students::id.asc())
            .limit(BATCH * 10)
            .load(conn)?;
        if rows.is_empty() {
            return Ok(done);
        }
        let mut values = Vec::with_capacity(rows.len());
        for (id, stored) in &rows {
            let plain = plain_of(&ring, StudentNumber::NAME, stored)?;
            // Both are base64url or hex text (checked), so they go into the statement as literals.
            let (sealed, hash) = (ring.seal(StudentNumber::NAME, &plain), student_no_index(&ring, &plain));
            if !(sealed.chars().chain(hash.chars())).all(|c| c.is_ascii_alphanumeric() || "$-_".contains(c)) {
                return Err(AppError::internal_msg(ErrorCode::SealFormat, "加密后的学籍号含有意外字符".into()));
            }
            values.push(format!("({id}, '{sealed}', '{hash}')"));
        }
        diesel::sql_query(format!(
            "WITH v(id, sealed, hash) AS (VALUES {}) UPDATE students SET student_no_sealed = v.sealed, \
             student_no_hash = v.hash FROM v WHERE students.id = v.id",
            values.join(", ")
        ))
        .execute(conn)?;
        done += rows.len();
    }
}

/// The fields whose history values are sealed.
fn sensitive_fields() -> Vec<&'static str> {
    crate::domain::student::FIELDS
        .iter()
        .map(|f| f.key)
        .chain(["student_no", "merge"])
        .filter(|k| history_sealed(k))
        .collect()
}

fn reseal_history(conn: &mut DbConn, ring: &KeyRing) -> AppResult<usize> {
    let sensitive = sensitive_fields();
    let mut changed = 0;
    let mut after = 0;
    loop {
        let rows: Vec<(i64, Option<String>, Option<String>)> = student_history::table
            .filter(student_history::id.gt(after))
            .filter(student_history::field.eq_any(&sensitive))
            .select((student_history::id, student_history::old_value, student_history::new_value))
            .order(student_history::id.asc())
            .limit(BATCH)
            .load(conn)?;
        let Some(last) = rows.last().map(|r| r.0) else { break };
        after = last;
        let stale = |v: &Option<String>| {
            v.as_deref().is_some_and(|v| !v.is_empty() && sealed_with(v) != Some(ring.active_id()))
        };
        let todo: Vec<_> = rows.into_iter().filter(|(_, o, n)| stale(o) || stale(n)).collect();
        if todo.is_empty() {
            continue;
        }
        crate::db::write_tx(conn, |conn| {
            for (id, old, new) in &todo {
                let again = |v: &Option<String>| -> AppResult<Option<String>> {
                    match v.as_deref() {
                        Some(v) if !v.is_empty() => Ok(Some(ring.seal(HISTORY, &plain_of(ring, HISTORY, v)?))),
                        other => Ok(other.map(str::to_owned)),
                    }
                };
                diesel::update(student_history::table.find(id))
                    .set((student_history::old_value.eq(again(old)?), student_history::new_value.eq(again(new)?)))
                    .execute(conn)?;
            }
            Ok(())
        })?;
        changed += todo.len();
    }
    Ok(changed)
}

/// A row's key and one sealed cell of it.
type Cell = (i64, String);

/// A sealed text column outside `students`, every value sealed ("" too), read and rewritten
/// a batch at a time by its table's integer key.
struct SealedColumn {
    field: &'static str,
    batch: fn(&mut DbConn, i64) -> AppResult<Vec<Cell>>,
    set: fn(&mut DbConn, i64, String) -> AppResult<()>,
}

macro_rules! sealed_column {
    ($marker:ty, $table:ident, $id:ident, $col:ident) => {
        SealedColumn {
            field: <$marker as SealedField>::NAME,
            batch: |conn, after| {
                Ok($table::table
                    .filter($table::$id.gt(after))
                    .select(($table::$id, $table::$col))
                    .order($table::$id.asc())
                    .limit(BATCH)
                    .load(conn)?)
            },
            set: |conn, id, v| {
                diesel::update($table::table.find(id)).set($table::$col.eq(v)).execute(conn)?;
                Ok(())
            },
        }
    };
}

fn sealed_columns() -> [SealedColumn; 6] {
    [
        sealed_column!(StaffPhone, teachers, id, phone_sealed),
        sealed_column!(PrincipalPhone, schools, org_id, principal_phone_sealed),
        sealed_column!(PrincipalMobile, schools, org_id, principal_mobile_sealed),
        sealed_column!(ComplaintContact, complaints, id, contact_sealed),
        sealed_column!(MergedStudentNo, student_merges, id, merged_student_no_sealed),
        sealed_column!(MergedRecord, student_merges, id, merged_record_sealed),
    ]
}

/// Each value of `column`, a batch at a time.
fn each_value(
    conn: &mut DbConn,
    column: &SealedColumn,
    mut f: impl FnMut(&mut DbConn, Vec<Cell>) -> AppResult<()>,
) -> AppResult<()> {
    let mut after = 0;
    loop {
        let rows = (column.batch)(conn, after)?;
        let Some(last) = rows.last().map(|r| r.0) else { break };
        after = last;
        f(conn, rows)?;
    }
    Ok(())
}

/// Rewrites the cells of `field` not sealed under the active key, in one transaction; returns
/// how many. `set` stores a cell's new sealed value by its key.
fn reseal_cells<K>(
    conn: &mut DbConn,
    ring: &KeyRing,
    field: &str,
    cells: Vec<(K, String)>,
    set: impl Fn(&mut DbConn, &K, String) -> AppResult<()>,
) -> AppResult<usize> {
    let stale: Vec<_> = cells.into_iter().filter(|(_, v)| sealed_with(v) != Some(ring.active_id())).collect();
    if stale.is_empty() {
        return Ok(0);
    }
    crate::db::write_tx(conn, |conn| {
        for (key, v) in &stale {
            set(conn, key, ring.seal(field, &plain_of(ring, field, v)?))?;
        }
        Ok(())
    })?;
    Ok(stale.len())
}

fn reseal_columns(conn: &mut DbConn, ring: &KeyRing) -> AppResult<usize> {
    let mut changed = 0;
    for column in sealed_columns() {
        each_value(conn, &column, |conn, rows| {
            changed += reseal_cells(conn, ring, column.field, rows, |conn, id, v| (column.set)(conn, *id, v))?;
            Ok(())
        })?;
    }
    Ok(changed)
}

/// Each roster's lines (keyed by roster and line, not one integer), a roster at a time.
fn each_roster(
    conn: &mut DbConn,
    mut f: impl FnMut(&mut DbConn, i64, Vec<(i32, String)>) -> AppResult<()>,
) -> AppResult<()> {
    let rosters: Vec<i64> =
        roster_lines::table.select(roster_lines::roster_id).distinct().order(roster_lines::roster_id).load(conn)?;
    for roster in rosters {
        let lines = roster_lines::table
            .filter(roster_lines::roster_id.eq(roster))
            .select((roster_lines::seq, roster_lines::student_no_sealed))
            .load(conn)?;
        f(conn, roster, lines)?;
    }
    Ok(())
}

fn reseal_roster_lines(conn: &mut DbConn, ring: &KeyRing) -> AppResult<usize> {
    let mut changed = 0;
    each_roster(conn, |conn, roster, lines| {
        changed += reseal_cells(conn, ring, RosterStudentNo::NAME, lines, |conn, seq, v| {
            diesel::update(roster_lines::table.find((roster, seq)))
                .set(roster_lines::student_no_sealed.eq(v))
                .execute(conn)?;
            Ok(())
        })?;
        Ok(())
    })?;
    Ok(changed)
}

/// A job's files as stored, with the part each is sealed as.
type JobFiles = (String, Option<Vec<u8>>, Option<Vec<u8>>, Option<Vec<u8>>);

fn job_files(conn: &mut DbConn) -> AppResult<Vec<JobFiles>> {
    Ok(jobs::table
        .filter(
            jobs::input_bytes.is_not_null().or(jobs::file_bytes.is_not_null()).or(jobs::error_workbook.is_not_null()),
        )
        .select((jobs::id, jobs::input_bytes, jobs::file_bytes, jobs::error_workbook))
        .load(conn)?)
}

/// The files a job keeps: the upload (for a restart), the result, the rejected rows.
pub const JOB_INPUT: &str = "input";
pub const JOB_FILE: &str = "file";
pub const JOB_ERRORS: &str = "errors";

/// The field a job's file is sealed as: bound to the job, so it opens nowhere else.
pub fn job_field(job: &str, part: &str) -> String {
    format!("job.{part}.{job}")
}

/// Moves the files kept with jobs (few: they expire) to the active key, a job at a time.
fn reseal_files(conn: &mut DbConn, ring: &KeyRing) -> AppResult<usize> {
    let mut changed = 0;
    for (id, input, file, errors) in job_files(conn)? {
        let stale = |b: &Option<Vec<u8>>| b.as_deref().is_some_and(|b| bytes_sealed_with(b) != Some(ring.active_id()));
        if ![&input, &file, &errors].into_iter().any(stale) {
            continue;
        }
        let again = |part: &str, b: Option<Vec<u8>>| -> AppResult<Option<Vec<u8>>> {
            let field = job_field(&id, part);
            b.map(|b| {
                let plain = match ring.open_bytes(&field, &b) {
                    Ok(p) => p,
                    Err(OpenError::NotSealed) => b,
                    Err(e) => return Err(open_error(&field, e)),
                };
                Ok(ring.seal_bytes(&field, &plain))
            })
            .transpose()
        };
        let (input, file, errors) = (again(JOB_INPUT, input)?, again(JOB_FILE, file)?, again(JOB_ERRORS, errors)?);
        diesel::update(jobs::table.find(&id))
            .set((jobs::input_bytes.eq(input), jobs::file_bytes.eq(file), jobs::error_workbook.eq(errors)))
            .execute(conn)?;
        changed += 1;
    }
    Ok(changed)
}

/// How many stored values each key seals (and how many are still plain).
#[derive(Debug, Clone, Serialize)]
pub struct KeyUsage {
    /// The key's fingerprint, or "plain" for values not sealed.
    pub key_id: String,
    pub values: i64,
}

pub fn usage(conn: &mut DbConn) -> AppResult<Vec<KeyUsage>> {
    let mut counts: std::collections::BTreeMap<String, i64> = Default::default();
    let mut count = |v: Option<&str>| {
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            *counts.entry(sealed_with(v).unwrap_or("plain").to_owned()).or_default() += 1;
        }
    };
    let mut after = 0;
    loop {
        let rows = stored_cells(conn, after)?;
        let Some(last) = rows.last().map(|r| r.id) else { break };
        after = last;
        for cells in &rows {
            for v in cells.values() {
                count(v);
            }
        }
    }
    let mut after = 0;
    loop {
        let rows: Vec<(i64, Option<String>, Option<String>)> = student_history::table
            .filter(student_history::id.gt(after))
            .filter(student_history::field.eq_any(sensitive_fields()))
            .select((student_history::id, student_history::old_value, student_history::new_value))
            .order(student_history::id.asc())
            .limit(BATCH * 10)
            .load(conn)?;
        let Some(last) = rows.last().map(|r| r.0) else { break };
        after = last;
        for (_, o, n) in &rows {
            count(o.as_deref());
            count(n.as_deref());
        }
    }
    for column in sealed_columns() {
        each_value(conn, &column, |_, rows| {
            for (_, v) in &rows {
                count(Some(v));
            }
            Ok(())
        })?;
    }
    each_roster(conn, |_, _, lines| {
        for (_, v) in &lines {
            count(Some(v));
        }
        Ok(())
    })?;
    for (_, input, file, errors) in job_files(conn)? {
        for b in [input, file, errors].into_iter().flatten() {
            *counts.entry(bytes_sealed_with(&b).unwrap_or("plain").to_owned()).or_default() += 1;
        }
    }
    Ok(counts.into_iter().map(|(key_id, values)| KeyUsage { key_id, values }).collect())
}

/// At start: seals the rows of a database written before encryption (once; the `sealing` row
/// remembers), then proves the ring opens what is stored, so a server given the wrong keys
/// stops here rather than failing page by page.
pub fn seal_once(conn: &mut DbConn) -> AppResult<Option<Resealed>> {
    use crate::db::schema::sealing;
    let at: Option<Option<chrono::NaiveDateTime>> =
        sealing::table.find(1).select(sealing::sealed_at).first(conn).optional()?;
    let done = match at {
        Some(Some(_)) => None,
        _ => {
            let r = reseal(conn)?;
            diesel::update(sealing::table.find(1)).set(sealing::sealed_at.eq(crate::clock::now())).execute(conn)?;
            Some(r)
        }
    };
    let sample: Option<String> =
        students::table.select(students::record_sealed).order(students::id.desc()).first(conn).optional()?;
    if let Some(s) = sample {
        open::<Record>(&s).map_err(|e| {
            AppError::internal_msg(
                ErrorCode::SealKeyMismatch,
                format!("{}：请使用加密这些数据时的主密钥与字段密钥文件（secret.key、field-keys.json）启动", e.message),
            )
        })?;
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> KeyRing {
        KeyRing::new(FieldKey::new([5; 32]), [6; 32])
    }

    #[test]
    fn a_value_under_a_key_rotated_in_by_another_process_opens_after_reading_the_file_again() {
        let dir = tempfile::tempdir().expect("dir");
        let running = base();
        // `keys rotate` in another process: a new key in the file, values sealed under it.
        let rotated = add_key(dir.path(), base()).expect("rotate");
        let sealed = rotated.seal(Record::NAME, "{\"name\":\"韦一\"}");

        let e =
            open_following(&running, None, Record::NAME, |r| r.open(Record::NAME, &sealed)).expect_err("not followed");
        assert_eq!(e.code, ErrorCode::SealUnknownKey);
        let (plain, reloaded) =
            open_following(&running, Some(dir.path()), Record::NAME, |r| r.open(Record::NAME, &sealed))
                .expect("follows");
        assert_eq!(plain, "{\"name\":\"韦一\"}");
        let reloaded = reloaded.expect("a new ring to install");
        assert_eq!(reloaded.active_id(), rotated.active_id(), "new values go under the new key");
        // What the ring already opens needs no reload.
        let (_, again) = open_following(&reloaded, Some(dir.path()), Record::NAME, |r| r.open(Record::NAME, &sealed))
            .expect("opens");
        assert!(again.is_none());
        // A key the file does not have either is still refused, naming it.
        let stranger = KeyRing::new(FieldKey::new([8; 32]), [6; 32]).seal(Record::NAME, "{}");
        let e = open_following(&running, Some(dir.path()), Record::NAME, |r| r.open(Record::NAME, &stranger))
            .expect_err("unknown");
        assert_eq!(e.code, ErrorCode::SealUnknownKey);
    }
}
