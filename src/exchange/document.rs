//! Uploaded documents: evidence for registry changes and findings, signed roster scans,
//! invoices and delivery notes. Each is judged by its bytes (an image's header must read, a
//! PDF's pages are counted in the parse worker), then stored as an attachment with its SHA-256.

use std::io::Cursor;

use diesel::prelude::*;
use sha2::{Digest, Sha256};

use super::worker;
use crate::auth::Caller;
use crate::db::DbConn;
use crate::db::schema::attachments;
use crate::domain::document::DocKind;
use crate::error::{AppError, AppResult, ErrorCode};

/// An uploaded file as received.
#[derive(Debug, Clone)]
pub struct Upload {
    pub filename: String,
    pub bytes: Vec<u8>,
}

/// A scanned page larger than this is refused: 600 dpi A3 is about 7,000 × 10,000.
const MAX_SIDE: u32 = 12_000;

/// A document that has been read and found to be what it claims, with its pages.
#[derive(Debug, Clone)]
pub struct Checked {
    pub filename: String,
    pub kind: DocKind,
    pub bytes: Vec<u8>,
    pub pages: u32,
    /// Each page's image to show (an image is its own page; a PDF page shows the JPEG a
    /// scanner put on it, when it has one that reads).
    pub previews: Vec<Option<Vec<u8>>>,
}

/// The file's name as it may be shown and stored: no control characters, at most 100 chars.
pub fn clean_name(name: &str, fallback: &str) -> String {
    let n: String = name.chars().filter(|c| !c.is_control()).take(100).collect();
    if n.trim().is_empty() { fallback.to_owned() } else { n }
}

/// The width and height an image's header declares, when the bytes are an image that reads.
fn image_size(kind: DocKind, bytes: &[u8]) -> Option<(u32, u32)> {
    let format = match kind {
        DocKind::Jpeg => image::ImageFormat::Jpeg,
        DocKind::Png => image::ImageFormat::Png,
        DocKind::Pdf => return None,
    };
    image::ImageReader::with_format(Cursor::new(bytes), format).into_dimensions().ok()
}

fn sane(size: Option<(u32, u32)>) -> bool {
    size.is_some_and(|(w, h)| w > 0 && h > 0 && w <= MAX_SIDE && h <= MAX_SIDE)
}

/// Reads one upload: refused, naming the file and the rule, unless it is a JPEG or PNG image
/// whose header reads or a PDF with pages. `what` names the document in messages (扫描件, 票据).
pub fn check(upload: &Upload, field: &str, what: &str) -> AppResult<Checked> {
    let name = clean_name(&upload.filename, what);
    let kind = DocKind::sniff(&upload.bytes).ok_or_else(|| {
        AppError::field(
            field,
            ErrorCode::DocumentType,
            format!("“{name}”不是JPG、PNG图片或PDF文件（按文件内容判断），{what}须为图片或PDF"),
        )
    })?;
    let (pages, previews) = match kind {
        DocKind::Pdf => {
            let read = worker::read_pdf(&upload.bytes).map_err(|e| match e.kind {
                crate::error::ErrorKind::Invalid => AppError::field(field, e.code, format!("“{name}”：{}", e.message)),
                _ => e,
            })?;
            if read.pages == 0 {
                return Err(AppError::field(field, ErrorCode::DocumentNoPages, format!("“{name}”是没有页面的PDF")));
            }
            // What the worker lifted out is still an upload: only a JPEG that reads is shown.
            let previews = read
                .previews
                .into_iter()
                .map(|p| p.filter(|b| DocKind::sniff(b) == Some(DocKind::Jpeg) && sane(image_size(DocKind::Jpeg, b))))
                .collect();
            (read.pages, previews)
        }
        DocKind::Jpeg | DocKind::Png => {
            if !sane(image_size(kind, &upload.bytes)) {
                return Err(AppError::field(
                    field,
                    ErrorCode::DocumentCorrupt,
                    format!("“{name}”图片无法读取或尺寸超出{MAX_SIDE}像素，请重新拍摄或扫描"),
                ));
            }
            (1, vec![Some(upload.bytes.clone())])
        }
    };
    Ok(Checked { filename: name, kind, bytes: upload.bytes.clone(), pages, previews })
}

/// Stores a file's bytes as an attachment; returns its id.
pub fn store(conn: &mut DbConn, caller: &Caller, filename: &str, kind: DocKind, bytes: &[u8]) -> AppResult<i64> {
    Ok(diesel::insert_into(attachments::table)
        .values((
            attachments::sha256.eq(hex::encode(Sha256::digest(bytes))),
            attachments::filename.eq(filename),
            attachments::content_type.eq(kind.content_type()),
            attachments::bytes.eq(bytes),
            attachments::uploaded_by.eq(&caller.username),
            attachments::uploaded_at.eq(caller.now()),
        ))
        .returning(attachments::id)
        .get_result(conn)?)
}

/// A stored file: (filename, content type, bytes). The caller has checked it may be read.
pub fn load(conn: &mut DbConn, id: i64) -> AppResult<(String, String, Vec<u8>)> {
    attachments::table
        .find(id)
        .select((attachments::filename, attachments::content_type, attachments::bytes))
        .first(conn)
        .optional()?
        .ok_or_else(AppError::not_found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_cleaned_and_never_empty() {
        assert_eq!(clean_name("扫描\u{0}件\n.pdf", "扫描件"), "扫描件.pdf");
        assert_eq!(clean_name("  ", "扫描件"), "扫描件");
        assert_eq!(clean_name(&"长".repeat(300), "x").chars().count(), 100);
    }

    #[test]
    fn an_image_must_read() {
        let jpeg = {
            let img = image::RgbImage::from_pixel(40, 30, image::Rgb([200, 200, 200]));
            let mut out = Vec::new();
            image::codecs::jpeg::JpegEncoder::new(&mut out).encode_image(&img).expect("encode");
            out
        };
        let ok = check(&Upload { filename: "p1.jpg".into(), bytes: jpeg.clone() }, "scan", "扫描件").expect("reads");
        assert_eq!((ok.kind, ok.pages, ok.previews.len()), (DocKind::Jpeg, 1, 1));
        // A JPEG's first bytes and nothing after them.
        let e = check(&Upload { filename: "坏.jpg".into(), bytes: jpeg[..20].to_vec() }, "scan", "扫描件")
            .expect_err("refused");
        assert_eq!(e.code, ErrorCode::DocumentCorrupt);
        assert!(e.fields[0].message.contains("坏.jpg"), "{}", e.fields[0].message);
        let e = check(&Upload { filename: "a.exe".into(), bytes: b"MZ\x90\0".to_vec() }, "scan", "扫描件")
            .expect_err("refused");
        assert_eq!(e.code, ErrorCode::DocumentType);
    }
}
