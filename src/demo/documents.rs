//! The demo's paper: scanned pages of the guardian-signed rosters. A page is drawn, not
//! photographed: ruled paper with a table, and ink in the signature column.

use std::sync::OnceLock;

use crate::auth::Caller;
use crate::db::DbConn;
use crate::error::{AppError, AppResult};
use crate::exchange::document::Upload;
use crate::programme::roster::RosterHead;
use crate::programme::roster_scan;

/// The school (by its index in the demo's list) whose last spring's roster was archived before
/// scans were required.
pub const ARCHIVED_WITHOUT_SCAN: usize = 6;

/// One scanned A4 page at 72 dpi: off-white paper, the roster's grid, pen strokes where the
/// guardians signed. Drawn once per process.
fn scan_page() -> AppResult<&'static [u8]> {
    static PAGE: OnceLock<Vec<u8>> = OnceLock::new();
    if let Some(p) = PAGE.get() {
        return Ok(p);
    }
    let (w, h) = (595u32, 842u32);
    let mut img = image::RgbImage::from_pixel(w, h, image::Rgb([246, 244, 236]));
    let ink = image::Rgb([40, 40, 48]);
    let pen = image::Rgb([20, 40, 130]);
    let (left, right, top) = (40u32, 555u32, 110u32);
    // The title band and the table's rows and columns.
    for x in 180..415 {
        for y in 50..58 {
            img.put_pixel(x, y, ink);
        }
    }
    for row in 0..=29u32 {
        let y = top + row * 22;
        for x in left..=right {
            img.put_pixel(x, y, ink);
        }
    }
    for x in [left, 70, 170, 230, 300, 360, 430, right] {
        for y in top..=top + 29 * 22 {
            img.put_pixel(x, y, ink);
        }
    }
    // A signature in each row's last column: a few strokes of a wave.
    for row in 0..29u32 {
        let base = f64::from(top + row * 22 + 11);
        let phase = f64::from(row) * 0.7;
        for x in 440..540u32 {
            let t = f64::from(x - 440) / 9.0 + phase;
            let y = base + 5.0 * t.sin() * (f64::from(x % 17) / 17.0 + 0.4);
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let y = y.round().max(0.0) as u32;
            img.put_pixel(x, y.min(h - 1), pen);
            img.put_pixel(x, (y + 1).min(h - 1), pen);
        }
    }
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 60)
        .encode_image(&img)
        .map_err(|e| AppError::internal_msg("demo.scan", e.to_string()))?;
    Ok(PAGE.get_or_init(|| out))
}

/// The school uploads its signed roster, one photographed page per printed page.
pub fn upload_roster_scan(conn: &mut DbConn, cli: &Caller, head: &RosterHead) -> AppResult<()> {
    let page = scan_page()?;
    let pages = usize::try_from(roster_scan::printed_pages(head)).unwrap_or(1);
    let uploads: Vec<Upload> =
        (1..=pages).map(|n| Upload { filename: format!("花名册签字第{n}页.jpg"), bytes: page.to_vec() }).collect();
    let checked = roster_scan::check_files(&uploads)?;
    roster_scan::upload(conn, cli, head.id, &checked)?;
    Ok(())
}
