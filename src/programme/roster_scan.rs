//! The guardian-signed roster as scanned (PDF or JPEG pages), uploaded by the school against the
//! version it printed. 备案 requires it; the county's reviewer sees it page by page beside the
//! electronic version, with the pages counted against what the printer made.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::roster::{self, RosterHead};
use crate::audit::{self, Entry};
use crate::auth::Caller;
use crate::db::schema::{attachments, roster_scan_pages, roster_scans};
use crate::db::{DbConn, write_tx};
use crate::domain::document::{DocKind, PageCheck};
use crate::domain::role::Permission;
use crate::domain::roster::Status;
use crate::error::{AppError, AppResult, ErrorCode, ErrorKind};
use crate::exchange::document::{self, Checked};
use crate::exchange::roster_print::{self, Kind};

/// One upload of scans, all files together, is at most this large.
pub const MAX_SCAN: usize = 40 * 1024 * 1024;
/// Files in one upload (a roster of 3,000 children prints on about 110 pages).
pub const MAX_FILES: usize = 300;
/// Pages of one scan: a PDF that says it has more is not a roster.
pub const MAX_PAGES: u32 = 500;

/// One scanned page as the reviewer sees it.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ScanPage {
    pub page_no: i32,
    pub file_id: i64,
    pub file_page: i32,
    /// The image shown for the page, when there is one.
    pub image_id: Option<i64>,
}

/// An uploaded file of a scan.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ScanFile {
    pub id: i64,
    pub filename: String,
    pub content_type: String,
    pub sha256: String,
    pub pages: i32,
}

/// The newest scan of a roster version.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ScanView {
    pub id: i64,
    pub roster_id: i64,
    pub pages: i32,
    pub printed_pages: i32,
    /// 页数一致 / 扫描件少N页 / 扫描件多N页.
    pub check: String,
    pub pages_match: bool,
    pub uploaded_by: String,
    pub uploaded_at: NaiveDateTime,
    /// Scans of this version uploaded before this one (kept, never deleted).
    pub earlier: i64,
    pub files: Vec<ScanFile>,
    pub page_list: Vec<ScanPage>,
}

/// The pages the printer makes for a version (printed by class, the default): what the scan is
/// counted against.
pub fn printed_pages(lines: &[crate::domain::roster::RosterLine]) -> i32 {
    i32::try_from(roster_print::page_count(lines, Kind::Signed, true)).unwrap_or(i32::MAX)
}

/// Checks the files of an upload (outside any transaction: a PDF is read in the parse worker).
pub fn check_files(uploads: &[document::Upload]) -> AppResult<Vec<Checked>> {
    if uploads.is_empty() {
        return Err(AppError::field(
            "scan",
            ErrorCode::RosterScanEmpty,
            "请选择监护人签字后的花名册扫描件（PDF或JPG图片，可多选）",
        ));
    }
    if uploads.len() > MAX_FILES {
        return Err(AppError::field(
            "scan",
            ErrorCode::RosterScanFiles,
            format!("一次最多上传{MAX_FILES}个文件，请把图片合成PDF后上传"),
        ));
    }
    let total: usize = uploads.iter().map(|u| u.bytes.len()).sum();
    if total > MAX_SCAN {
        return Err(AppError::field(
            "scan",
            ErrorCode::FileTooLarge,
            format!("扫描件合计超过{}MB，请降低扫描分辨率（200dpi即可）后上传", MAX_SCAN >> 20),
        ));
    }
    let files: Vec<Checked> = uploads.iter().map(|u| document::check(u, "scan", "扫描件")).collect::<AppResult<_>>()?;
    let pages: u32 = files.iter().fold(0u32, |n, f| n.saturating_add(f.pages));
    if pages > MAX_PAGES {
        return Err(AppError::field(
            "scan",
            ErrorCode::RosterScanPages,
            format!("扫描件共{pages}页，超过{MAX_PAGES}页：请只上传本校这一版花名册的签字页"),
        ));
    }
    Ok(files)
}

/// Why the caller may not upload a scan of this version, or `None` when they may: the school's
/// own principal or nutrition officer, on the newest version, before 备案. The roster page
/// offers the form by the same answer.
pub fn upload_refusal(caller: &Caller, head: &RosterHead) -> Option<AppError> {
    if !caller.may(Permission::SignRoster) {
        return Some(AppError::forbidden());
    }
    if caller.org_code != head.school_code && !caller.is_cli() {
        return Some(AppError::new(
            ErrorKind::Forbidden,
            ErrorCode::RosterNotYours,
            format!("花名册扫描件须由{}自行上传", head.school_name),
        ));
    }
    if !head.current {
        return Some(AppError::conflict(
            ErrorCode::RosterSuperseded,
            format!("第{}版已有更新的版本：请打印最新版本，签字后上传其扫描件", head.version),
        ));
    }
    if head.status() == Status::Archived {
        return Some(AppError::conflict(ErrorCode::RosterScanArchived, "该花名册已备案，扫描件不能再更换"));
    }
    None
}

/// Stores a scan of the newest version of a roster: the school's own act, before 备案.
pub fn upload(conn: &mut DbConn, caller: &Caller, roster_id: i64, files: &[Checked]) -> AppResult<ScanView> {
    caller.require(conn, Permission::SignRoster, "roster_scan")?;
    let head = roster::head_of(conn, caller, roster_id)?;
    let lines = roster::layout_lines(conn, caller, roster_id)?;
    if let Some(refusal) = upload_refusal(caller, &head) {
        return Err(refusal);
    }
    if files.is_empty() {
        return Err(AppError::field(
            "scan",
            ErrorCode::RosterScanEmpty,
            "请选择监护人签字后的花名册扫描件（PDF或JPG图片，可多选）",
        ));
    }
    let printed = printed_pages(&lines);
    let pages: u32 = files.iter().fold(0u32, |n, f| n.saturating_add(f.pages));
    let pages =
        i32::try_from(pages).map_err(|_| AppError::field("scan", ErrorCode::RosterScanFiles, "扫描件页数过多"))?;
    write_tx(conn, |conn| {
        let scan_id: i64 = diesel::insert_into(roster_scans::table)
            .values((
                roster_scans::roster_id.eq(roster_id),
                roster_scans::pages.eq(pages),
                roster_scans::printed_pages.eq(printed),
                roster_scans::uploaded_by.eq(&caller.username),
                roster_scans::uploaded_at.eq(caller.now()),
            ))
            .returning(roster_scans::id)
            .get_result(conn)?;
        let mut page_no = 0;
        let mut stored = Vec::new();
        for f in files {
            let file_id = document::store(conn, caller, &f.filename, f.kind, &f.bytes)?;
            for i in 0..usize::try_from(f.pages).unwrap_or(0) {
                page_no += 1;
                let image_id = match f.previews.get(i) {
                    // An image is its own page; a PDF page's JPEG is stored beside the PDF.
                    Some(Some(_)) if f.kind.is_image() => Some(file_id),
                    Some(Some(jpeg)) => Some(document::store(
                        conn,
                        caller,
                        &format!("{}-第{}页.jpg", f.filename, i + 1),
                        DocKind::Jpeg,
                        jpeg,
                    )?),
                    _ => None,
                };
                diesel::insert_into(roster_scan_pages::table)
                    .values((
                        roster_scan_pages::scan_id.eq(scan_id),
                        roster_scan_pages::page_no.eq(page_no),
                        roster_scan_pages::file_id.eq(file_id),
                        roster_scan_pages::file_page.eq(i32::try_from(i + 1).unwrap_or(i32::MAX)),
                        roster_scan_pages::image_id.eq(image_id),
                    ))
                    .execute(conn)?;
            }
            stored.push(serde_json::json!({
                "file": file_id, "name": f.filename, "sha256": hex::encode(Sha256::digest(&f.bytes)), "pages": f.pages
            }));
        }
        audit::record(
            conn,
            &caller.actor(),
            Entry::new("roster.scan", "roster", roster_id).after(&serde_json::json!({
                "scan": scan_id, "version": head.version, "hash": head.hash,
                "pages": pages, "printed_pages": printed, "files": stored
            })),
        )
    })?;
    latest(conn, roster_id)?.ok_or_else(|| AppError::internal_msg(ErrorCode::RosterScan, "扫描件保存后未能读回".into()))
}

/// The newest scan of a version, read without a caller: the roster's own service has checked it.
pub(super) fn latest(conn: &mut DbConn, roster_id: i64) -> AppResult<Option<ScanView>> {
    let rows: Vec<(i64, i32, i32, String, NaiveDateTime)> = roster_scans::table
        .filter(roster_scans::roster_id.eq(roster_id))
        .order(roster_scans::id.desc())
        .select((
            roster_scans::id,
            roster_scans::pages,
            roster_scans::printed_pages,
            roster_scans::uploaded_by,
            roster_scans::uploaded_at,
        ))
        .load(conn)?;
    let Some((id, pages, printed, by, at)) = rows.first().cloned() else { return Ok(None) };
    let page_list: Vec<ScanPage> = roster_scan_pages::table
        .filter(roster_scan_pages::scan_id.eq(id))
        .order(roster_scan_pages::page_no.asc())
        .select((
            roster_scan_pages::page_no,
            roster_scan_pages::file_id,
            roster_scan_pages::file_page,
            roster_scan_pages::image_id,
        ))
        .load::<(i32, i64, i32, Option<i64>)>(conn)?
        .into_iter()
        .map(|(page_no, file_id, file_page, image_id)| ScanPage { page_no, file_id, file_page, image_id })
        .collect();
    let mut file_ids: Vec<i64> = page_list.iter().map(|p| p.file_id).collect();
    file_ids.dedup();
    let mut files: Vec<ScanFile> = attachments::table
        .filter(attachments::id.eq_any(&file_ids))
        .select((attachments::id, attachments::filename, attachments::content_type, attachments::sha256))
        .load::<(i64, String, String, String)>(conn)?
        .into_iter()
        .map(|(id, filename, content_type, sha256)| ScanFile {
            id,
            filename,
            content_type,
            sha256,
            pages: i32::try_from(page_list.iter().filter(|p| p.file_id == id).count()).unwrap_or(0),
        })
        .collect();
    files.sort_by_key(|f| file_ids.iter().position(|x| *x == f.id));
    let check = PageCheck::of(u32::try_from(pages).unwrap_or(0), u32::try_from(printed).unwrap_or(0));
    Ok(Some(ScanView {
        id,
        roster_id,
        pages,
        printed_pages: printed,
        check: check.label(),
        pages_match: check == PageCheck::Same,
        uploaded_by: by,
        uploaded_at: at,
        earlier: i64::try_from(rows.len() - 1).unwrap_or(0),
        files,
        page_list,
    }))
}

/// The newest scan of a roster version in the caller's scope.
pub fn of(conn: &mut DbConn, caller: &Caller, roster_id: i64) -> AppResult<Option<ScanView>> {
    roster::head_of(conn, caller, roster_id)?;
    latest(conn, roster_id)
}

/// A file of a roster's scans, or a page's image: (filename, content type, bytes). Only what
/// belongs to a scan of this roster is served, whatever attachment id is asked for.
pub fn file(
    conn: &mut DbConn,
    caller: &Caller,
    roster_id: i64,
    attachment: i64,
) -> AppResult<(String, String, Vec<u8>)> {
    roster::head_of(conn, caller, roster_id)?;
    let belongs: i64 = roster_scan_pages::table
        .inner_join(roster_scans::table)
        .filter(roster_scans::roster_id.eq(roster_id))
        .filter(roster_scan_pages::file_id.eq(attachment).or(roster_scan_pages::image_id.eq(attachment)))
        .count()
        .get_result(conn)?;
    if belongs == 0 {
        return Err(AppError::not_found());
    }
    document::load(conn, attachment)
}

/// The pages of the newest scan of each of these versions that has one.
pub(super) fn pages_of(conn: &mut DbConn, roster_ids: &[i64]) -> AppResult<HashMap<i64, i32>> {
    let mut out = HashMap::new();
    for chunk in roster_ids.chunks(500) {
        let rows: Vec<(i64, i64, i32)> = roster_scans::table
            .filter(roster_scans::roster_id.eq_any(chunk))
            .select((roster_scans::roster_id, roster_scans::id, roster_scans::pages))
            .order(roster_scans::id.asc())
            .load(conn)?;
        // Ascending ids: the newest scan of a version is written last.
        out.extend(rows.into_iter().map(|(roster, _, pages)| (roster, pages)));
    }
    Ok(out)
}

/// Whether a version has a scan: 备案 needs one, and a draft with one is no longer discarded.
pub(super) fn has_scan(conn: &mut DbConn, roster_id: i64) -> AppResult<bool> {
    Ok(roster_scans::table.filter(roster_scans::roster_id.eq(roster_id)).count().get_result::<i64>(conn)? > 0)
}
