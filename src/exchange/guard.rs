//! Checks an uploaded file before any parser sees it: size, kind, and for zip containers the
//! entry count, declared sizes, compression ratio and XML entity declarations (zip bombs and
//! billion-laughs files are refused, not parsed).

use std::io::{Cursor, Read};

use crate::error::{AppError, AppResult};

pub const MAX_UPLOAD: usize = 64 * 1024 * 1024;
const MAX_ENTRIES: usize = 2_000;
const MAX_UNPACKED: u64 = 1024 * 1024 * 1024;
const MAX_RATIO: u64 = 200;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Xlsx,
    Xls,
    Csv,
}

fn refuse(code: &'static str, message: impl Into<String>) -> AppError {
    AppError::invalid(code, message)
}

/// The kind of an upload, from its first bytes (the name only breaks the tie for text).
pub fn check(bytes: &[u8], filename: &str) -> AppResult<FileKind> {
    if bytes.is_empty() {
        return Err(refuse("file.empty", "文件为空"));
    }
    if bytes.len() > MAX_UPLOAD {
        return Err(refuse(
            "file.too_large",
            format!("文件超过{}MB上限，请按年级或班级拆分后分别导入", MAX_UPLOAD / 1024 / 1024),
        ));
    }
    if bytes.starts_with(b"PK\x03\x04") {
        check_zip(bytes)?;
        return Ok(FileKind::Xlsx);
    }
    if bytes.starts_with(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]) {
        return Ok(FileKind::Xls);
    }
    let lower = filename.to_lowercase();
    if lower.ends_with(".xlsx") || lower.ends_with(".xls") {
        return Err(refuse("file.corrupt", "文件扩展名是Excel，但内容不是有效的Excel文件（可能已损坏或被截断）"));
    }
    if std::str::from_utf8(bytes).is_err() {
        return Err(refuse("file.not_utf8", "CSV文件须为UTF-8编码（在Excel中“另存为 CSV UTF-8”）"));
    }
    Ok(FileKind::Csv)
}

fn check_zip(bytes: &[u8]) -> AppResult<()> {
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes))
        .map_err(|_| refuse("file.corrupt", "Excel文件已损坏或被截断，无法打开"))?;
    if zip.len() > MAX_ENTRIES {
        return Err(refuse("file.hostile", "Excel文件结构异常（内部文件过多），已拒绝"));
    }
    let mut total = 0u64;
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).map_err(|_| refuse("file.corrupt", "Excel文件已损坏或被截断，无法打开"))?;
        let size = entry.size();
        let packed = entry.compressed_size().max(1);
        total = total.saturating_add(size);
        if total > MAX_UNPACKED || (size > 1024 * 1024 && size / packed > MAX_RATIO) {
            return Err(refuse("file.hostile", "Excel文件解压后体积异常（疑似压缩炸弹），已拒绝"));
        }
        let xml = entry.name().map(|n| n.ends_with(".xml") || n.ends_with(".rels")).unwrap_or(true);
        if xml {
            let mut head = Vec::with_capacity(4096);
            (&mut entry)
                .take(4096)
                .read_to_end(&mut head)
                .map_err(|_| refuse("file.corrupt", "Excel文件已损坏或被截断，无法打开"))?;
            let text = String::from_utf8_lossy(&head);
            if text.contains("<!DOCTYPE") || text.contains("<!ENTITY") {
                return Err(refuse("file.hostile", "Excel文件含有XML实体声明，已拒绝"));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn zip_with(name: &str, content: &[u8]) -> Vec<u8> {
        let mut buf = Cursor::new(Vec::new());
        {
            let mut z = zip::ZipWriter::new(&mut buf);
            let opts = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
            z.start_file(name, opts).expect("start");
            z.write_all(content).expect("write");
            z.finish().expect("finish");
        }
        buf.into_inner()
    }

    #[test]
    fn kinds_by_magic_bytes() {
        assert_eq!(check(b"a,b\n1,2\n", "x.csv").ok(), Some(FileKind::Csv));
        assert_eq!(check(&zip_with("a.xml", b"<a/>"), "x.xlsx").ok(), Some(FileKind::Xlsx));
        assert_eq!(check(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1, 0], "x.xls").ok(), Some(FileKind::Xls));
    }

    #[test]
    fn refuses_truncated_bombs_entities_and_bad_encodings() {
        assert_eq!(check(b"", "x.csv").map_err(|e| e.code), Err("file.empty"));
        let z = zip_with("a.xml", b"<a/>");
        assert_eq!(check(&z[..z.len() / 2], "x.xlsx").map_err(|e| e.code), Err("file.corrupt"));
        assert_eq!(check(b"not excel", "x.xlsx").map_err(|e| e.code), Err("file.corrupt"));
        let bomb = zip_with("xl/worksheets/sheet1.xml", &vec![b'a'; 50 * 1024 * 1024]);
        assert!(bomb.len() < 1024 * 1024);
        assert_eq!(check(&bomb, "x.xlsx").map_err(|e| e.code), Err("file.hostile"));
        let laughs = zip_with(
            "xl/sharedStrings.xml",
            b"<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\">]><a>&lol;</a>",
        );
        assert_eq!(check(&laughs, "x.xlsx").map_err(|e| e.code), Err("file.hostile"));
        assert_eq!(check(&[0xB0, 0xA1, b','], "x.csv").map_err(|e| e.code), Err("file.not_utf8"));
    }
}
