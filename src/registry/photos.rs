//! Student photos: one at a time or a ZIP of a class or school, every file checked against
//! SPEC §4 and matched to a student in the caller's scope; each refused file comes back with its
//! reason, the accepted ones are stored in one transaction.

use std::collections::HashSet;
use std::io::{Cursor, Read};

use diesel::prelude::*;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::audit::{self, Entry};
use crate::auth::Caller;
use crate::db::schema::{classes, orgs, student_photos, students};
use crate::db::{DbConn, write_tx};
use crate::domain::photo::{self, PhotoInfo, PhotoName};
use crate::domain::role::Permission;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::per_backend;

/// A ZIP of photos: at most this many bytes and entries (a large school's photos fit).
pub const MAX_ZIP: usize = 64 * 1024 * 1024;
/// One photo as uploaded: far above the 60 KB rule, so an oversized photo is measured and
/// refused by that rule with its real size.
pub const MAX_UPLOAD: usize = 8 * 1024 * 1024;
const MAX_ENTRIES: usize = 5_000;

/// One file of a bulk upload and what became of it.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct PhotoResult {
    pub file: String,
    pub accepted: bool,
    pub student: String,
    pub code: String,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, Default, schemars::JsonSchema)]
pub struct PhotoReport {
    pub files: usize,
    pub accepted: usize,
    pub rejected: usize,
    pub results: Vec<PhotoResult>,
}

#[derive(Insertable, AsChangeset)]
#[diesel(table_name = student_photos)]
struct NewPhoto<'a> {
    student_id: i64,
    bytes: &'a [u8],
    width: i32,
    height: i32,
    sha256: String,
    uploaded_by: &'a str,
    uploaded_at: chrono::NaiveDateTime,
}

fn store(conn: &mut DbConn, caller: &Caller, student_id: i64, bytes: &[u8], info: PhotoInfo) -> AppResult<()> {
    let row = NewPhoto {
        student_id,
        bytes,
        width: i32::from(info.width),
        height: i32::from(info.height),
        sha256: hex::encode(Sha256::digest(bytes)),
        uploaded_by: &caller.username,
        uploaded_at: caller.now(),
    };
    per_backend!(conn, |c| diesel::insert_into(student_photos::table)
        .values(&row)
        .on_conflict(student_photos::student_id)
        .do_update()
        .set(&row)
        .execute(c))?;
    Ok(())
}

/// A student in the caller's scope whose record the caller may edit: (id, name, school path).
fn editable_student(conn: &mut DbConn, caller: &Caller, id: i64) -> AppResult<(i64, String)> {
    caller.require(conn, Permission::EditStudents, "upload_photo")?;
    students::table
        .inner_join(orgs::table)
        .filter(students::id.eq(id))
        .filter(orgs::path.like(caller.scope().like_pattern()))
        .select((students::id, students::name))
        .first(conn)
        .optional()?
        .ok_or_else(AppError::not_found)
}

/// Stores one student's photo after the checks.
/// The photo as stored: decoded within limits and encoded afresh, so nothing of the upload but
/// its pixels is kept (EXIF with GPS position, camera and time, comments, thumbnails, anything
/// appended after the image). The declared density is kept; the quality steps down until the
/// file is under the size limit again.
pub fn reencode(bytes: &[u8], info: PhotoInfo) -> Result<Vec<u8>, photo::PhotoIssue> {
    use image::codecs::jpeg::{JpegEncoder, PixelDensity};
    let corrupt = || photo::PhotoIssue {
        code: ErrorCode::PhotoCorrupt, message: "JPG文件已损坏，无法读出图像".into()
    };
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(u32::from(info.width));
    limits.max_image_height = Some(u32::from(info.height));
    limits.max_alloc = Some(u64::from(photo::MAX_PIXELS) * 8);
    let mut reader = image::ImageReader::with_format(Cursor::new(bytes), image::ImageFormat::Jpeg);
    reader.limits(limits);
    let pixels = reader.decode().map_err(|_| corrupt())?.to_rgb8();
    for quality in [92, 85, 75, 65, 50] {
        let mut out = Vec::with_capacity(bytes.len());
        let mut encoder = JpegEncoder::new_with_quality(&mut out, quality);
        if let Some(dpi) = info.dpi {
            encoder.set_pixel_density(PixelDensity::dpi(dpi.round().clamp(1.0, 65_535.0) as u16));
        }
        encoder.encode_image(&pixels).map_err(|_| corrupt())?;
        if out.len() < photo::MAX_BYTES {
            return Ok(out);
        }
    }
    Err(photo::PhotoIssue {
        code: ErrorCode::PhotoTooLarge,
        message: "照片重新编码后仍超过60KB，请压缩后再上传".into(),
    })
}

pub fn upload(conn: &mut DbConn, caller: &Caller, id: i64, bytes: &[u8]) -> AppResult<PhotoInfo> {
    let (id, name) = editable_student(conn, caller, id)?;
    let info = photo::inspect(bytes).map_err(|i| AppError::field("photo", i.code, i.message))?;
    let clean = reencode(bytes, info).map_err(|i| AppError::field("photo", i.code, i.message))?;
    let bytes = clean.as_slice();
    write_tx(conn, |conn| {
        store(conn, caller, id, bytes, info)?;
        audit::record(
            conn,
            &caller.actor(),
            Entry::new("photo.upload", "student", id).after(
                &serde_json::json!({"name": name, "width": info.width, "height": info.height, "bytes": bytes.len()}),
            ),
        )
    })?;
    Ok(info)
}

/// The stored photo of a student in scope.
pub fn get(conn: &mut DbConn, caller: &Caller, id: i64) -> AppResult<Vec<u8>> {
    caller.require(conn, Permission::ViewStudents, "view_photo")?;
    student_photos::table
        .inner_join(students::table.inner_join(orgs::table))
        .filter(student_photos::student_id.eq(id))
        .filter(orgs::path.like(caller.scope().like_pattern()))
        .select(student_photos::bytes)
        .first(conn)
        .optional()?
        .ok_or_else(AppError::not_found)
}

pub fn has_photo(conn: &mut DbConn, id: i64) -> AppResult<bool> {
    let n: i64 = student_photos::table.filter(student_photos::student_id.eq(id)).count().get_result(conn)?;
    Ok(n > 0)
}

/// ZIP entry names: UTF-8 when flagged or valid, otherwise GBK (what Chinese Windows zips write).
fn entry_name(raw: &[u8]) -> String {
    match std::str::from_utf8(raw) {
        Ok(s) => s.to_owned(),
        Err(_) => encoding_rs::GBK.decode(raw).0.into_owned(),
    }
}

/// The student a file names (id, name), or why none could be chosen (code, reason).
type Match = Result<(i64, String), (ErrorCode, String)>;

fn find(conn: &mut DbConn, caller: &Caller, name: &PhotoName) -> AppResult<Match> {
    let scoped = students::table
        .inner_join(orgs::table)
        .filter(orgs::path.like(caller.scope().like_pattern()))
        .filter(students::status.eq("enrolled"))
        .select((students::id, students::name))
        .into_boxed();
    let hits: Vec<(i64, String)> = match name {
        PhotoName::IdNumber(id) => {
            scoped.filter(students::id_no_hash.eq(crate::db::at_rest::id_hash(id)?)).load(conn)?
        }
        PhotoName::SchoolClassName { school, class_no, name } => {
            let class_ids: Vec<Option<i64>> = classes::table
                .inner_join(orgs::table)
                .filter(orgs::code.eq(school))
                .filter(classes::class_no.eq(class_no))
                .select(classes::id.nullable())
                .load(conn)?;
            scoped.filter(students::name.eq(name)).filter(students::class_id.eq_any(class_ids)).load(conn)?
        }
    };
    Ok(match hits.len() {
        1 => Ok(hits.into_iter().next().unwrap_or_default()),
        0 => Err((ErrorCode::PhotoNoStudent, "在您管辖范围内找不到文件名所指的在校学生".to_owned())),
        n => Err((ErrorCode::PhotoAmbiguous, format!("文件名对应{n}名同名学生，请改用身份证件号命名"))),
    })
}

/// Checks every file of a ZIP, stores the good ones (all in one transaction) and lists every file
/// with what became of it.
pub fn upload_zip(conn: &mut DbConn, caller: &Caller, zip_bytes: &[u8]) -> AppResult<PhotoReport> {
    caller.require(conn, Permission::EditStudents, "upload_photos")?;
    if zip_bytes.len() > MAX_ZIP {
        return Err(AppError::invalid(ErrorCode::PhotoZipTooLarge, "压缩包超过64MB，请按班级分批上传"));
    }
    let corrupt = || AppError::invalid(ErrorCode::PhotoZipCorrupt, "压缩包已损坏或不是ZIP格式");
    let mut zip = zip::ZipArchive::new(Cursor::new(zip_bytes)).map_err(|_| corrupt())?;
    if zip.len() > MAX_ENTRIES {
        return Err(AppError::invalid(ErrorCode::PhotoZipHostile, "压缩包内文件过多，请按班级分批上传"));
    }
    let mut report = PhotoReport::default();
    let mut good: Vec<(i64, Vec<u8>, PhotoInfo, usize)> = Vec::new();
    let mut seen: HashSet<i64> = HashSet::new();
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).map_err(|_| corrupt())?;
        let file = entry_name(entry.name_raw());
        if entry.is_dir()
            || file.starts_with("__MACOSX/")
            || file.rsplit('/').next().is_some_and(|f| f.starts_with('.'))
        {
            continue;
        }
        report.files += 1;
        let mut result = PhotoResult {
            file: file.clone(),
            accepted: false,
            student: String::new(),
            code: String::new(),
            reason: String::new(),
        };
        // Read at most one byte past the limit: a declared size can lie.
        let mut bytes = Vec::new();
        let read = (&mut entry).take(photo::MAX_BYTES as u64 + 1).read_to_end(&mut bytes);
        let size = usize::try_from(entry.size()).unwrap_or(usize::MAX);
        let checked = match read {
            Err(_) => Err((ErrorCode::PhotoCorrupt, "文件已损坏，无法读取".to_owned())),
            Ok(_) => photo::parse_name(&file)
                .and_then(|n| photo::inspect_sized(&bytes, size).map(|info| (n, info)))
                .and_then(|(n, info)| reencode(&bytes, info).map(|clean| (n, info, clean)))
                .map_err(|i| (i.code, i.message)),
        };
        let matched = match checked {
            Ok((name, info, clean)) => find(conn, caller, &name)?.map(|s| (s, (info, clean))),
            Err(e) => Err(e),
        };
        match matched {
            Ok(((id, name), _)) if !seen.insert(id) => {
                result.student = name;
                result.code = ErrorCode::PhotoDuplicate.to_string();
                result.reason = "压缩包中同一学生有多张照片，只取第一张".into();
            }
            Ok(((id, name), (info, clean))) => {
                result.accepted = true;
                result.student = name;
                good.push((id, clean, info, report.results.len()));
            }
            Err((code, reason)) => {
                result.code = code.to_string();
                result.reason = reason;
            }
        }
        report.results.push(result);
    }
    report.accepted = good.len();
    report.rejected = report.files - report.accepted;
    if !good.is_empty() {
        write_tx(conn, |conn| {
            for (id, bytes, info, _) in &good {
                store(conn, caller, *id, bytes, *info)?;
            }
            audit::record(
                conn,
                &caller.actor(),
                Entry::new("photo.upload", "zip", hex::encode(&Sha256::digest(zip_bytes)[..8])).after(
                    &serde_json::json!({
                        "files": report.files, "accepted": report.accepted, "rejected": report.rejected,
                        "students": good.iter().map(|g| g.0).collect::<Vec<_>>(),
                    }),
                ),
            )
        })?;
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zip_names_from_chinese_windows_are_read_as_gbk() {
        let (gbk, _, _) = encoding_rs::GBK.encode("2152326001_202601_王小花.jpg");
        assert_eq!(entry_name(&gbk), "2152326001_202601_王小花.jpg");
        assert_eq!(entry_name("王䶮.jpg".as_bytes()), "王䶮.jpg");
    }
}
