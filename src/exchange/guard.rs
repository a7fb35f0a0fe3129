//! Checks an uploaded file before any parser sees it: size and kind; for zip containers (.xlsx)
//! the entry count, declared sizes, compression ratio, XML entity declarations, the shared-string
//! counts and unpacked size, and each sheet's declared dimensions; for .xls the BIFF DIMENSIONS
//! records and the cells each sheet really holds. What a file declares is what a parser would
//! reserve, so a file past the product's caps is refused here, not parsed. The parse itself then
//! runs in a limited child process (`worker`), for whatever this check does not foresee.

use std::io::{BufReader, Cursor, Read};

use quick_xml::events::Event;

use super::sheet::{MAX_COLUMNS, MAX_ROWS};
use crate::error::{AppError, AppResult, ErrorCode};

pub const MAX_UPLOAD: usize = 64 * 1024 * 1024;
const MAX_ENTRIES: usize = 2_000;
const MAX_UNPACKED: u64 = 1024 * 1024 * 1024;
const MAX_RATIO: u64 = 200;
/// Distinct strings a workbook may declare (calamine reserves a slot for each before reading).
pub const MAX_SHARED_STRINGS: u64 = 8_000_000;
/// Unpacked size of the shared-string table (held in memory whole while a sheet is read).
pub const MAX_SHARED_STRINGS_BYTES: u64 = 256 * 1024 * 1024;
/// Cells of an .xls sheet's rectangle (the .xls reader builds it whole): a full 65,536-row sheet
/// of the template's columns fits.
pub const MAX_XLS_CELLS: u64 = 65_536 * 80;
/// How much of an XML part is read to find its first elements.
const HEAD: u64 = 64 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Xlsx,
    Xls,
    Csv,
}

fn refuse(code: ErrorCode, message: impl Into<String>) -> AppError {
    AppError::invalid(code, message)
}

/// The kind of an upload, from its first bytes (the name only breaks the tie for text).
pub fn check(bytes: &[u8], filename: &str) -> AppResult<FileKind> {
    if bytes.is_empty() {
        return Err(refuse(ErrorCode::FileEmpty, "文件为空"));
    }
    if bytes.len() > MAX_UPLOAD {
        return Err(refuse(
            ErrorCode::FileTooLarge,
            format!("文件超过{}MB上限，请按年级或班级拆分后分别导入", MAX_UPLOAD / 1024 / 1024),
        ));
    }
    if bytes.starts_with(b"PK\x03\x04") {
        check_zip(bytes)?;
        return Ok(FileKind::Xlsx);
    }
    if bytes.starts_with(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]) {
        check_xls(bytes)?;
        return Ok(FileKind::Xls);
    }
    let lower = filename.to_lowercase();
    if lower.ends_with(".xlsx") || lower.ends_with(".xls") {
        return Err(refuse(
            ErrorCode::FileCorrupt,
            "文件扩展名是Excel，但内容不是有效的Excel文件（可能已损坏或被截断）",
        ));
    }
    if std::str::from_utf8(bytes).is_err() {
        return Err(refuse(ErrorCode::FileNotUtf8, "CSV文件须为UTF-8编码（在Excel中“另存为 CSV UTF-8”）"));
    }
    Ok(FileKind::Csv)
}

fn hostile(message: impl Into<String>) -> AppError {
    refuse(ErrorCode::FileHostile, message)
}

fn corrupt() -> AppError {
    refuse(ErrorCode::FileCorrupt, "Excel文件已损坏或被截断，无法打开")
}

fn check_zip(bytes: &[u8]) -> AppResult<()> {
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|_| corrupt())?;
    if zip.len() > MAX_ENTRIES {
        return Err(hostile("Excel文件结构异常（内部文件过多），已拒绝"));
    }
    let mut total = 0u64;
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).map_err(|_| corrupt())?;
        let size = entry.size();
        let packed = entry.compressed_size().max(1);
        total = total.saturating_add(size);
        if total > MAX_UNPACKED || (size > 1024 * 1024 && size / packed > MAX_RATIO) {
            return Err(hostile("Excel文件解压后体积异常（疑似压缩炸弹），已拒绝"));
        }
        let name = entry.name().map(|n| n.to_lowercase()).unwrap_or_default();
        if !(name.ends_with(".xml") || name.ends_with(".rels") || name.is_empty()) {
            continue;
        }
        let shared = name.ends_with("sharedstrings.xml");
        if shared && size > MAX_SHARED_STRINGS_BYTES {
            return Err(hostile(format!(
                "Excel文件的共享字符串表解压后为{}MB，超过{}MB上限，已拒绝；请拆分后导入",
                size / 1024 / 1024,
                MAX_SHARED_STRINGS_BYTES / 1024 / 1024
            )));
        }
        let mut head = Vec::with_capacity(4096);
        (&mut entry).take(HEAD).read_to_end(&mut head).map_err(|_| corrupt())?;
        let text = String::from_utf8_lossy(&head);
        if text.contains("<!DOCTYPE") || text.contains("<!ENTITY") {
            return Err(hostile("Excel文件含有XML实体声明，已拒绝"));
        }
        if shared {
            check_shared_strings(&head)?;
        } else if name.starts_with("xl/worksheets/") {
            check_dimension(&head, &name)?;
        }
    }
    Ok(())
}

/// The attributes of the first element named `tag` in the head of a part, unless `stop` (or
/// the end of the head) comes first.
fn first_element(head: &[u8], tag: &str, stop: &str) -> Option<Vec<(String, String)>> {
    let mut reader = quick_xml::Reader::from_reader(head);
    let mut buf = Vec::new();
    loop {
        match reader.read_event_into(&mut buf) {
            Ok(Event::Start(e) | Event::Empty(e)) => {
                let local = e.local_name();
                if local.as_ref() == tag {
                    return Some(
                        e.attributes()
                            .flatten()
                            .map(|a| (a.key.local_name().as_ref().to_owned(), a.value.into_owned()))
                            .collect(),
                    );
                }
                if local.as_ref() == stop {
                    return None;
                }
            }
            Ok(Event::Eof) | Err(_) => return None,
            _ => {}
        }
        buf.clear();
    }
}

/// A declared count as a number; digits too many for u64 count as too many.
fn declared_count(value: &str) -> Option<u64> {
    let v = value.trim();
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(v.parse::<u64>().unwrap_or(u64::MAX))
}

fn check_shared_strings(head: &[u8]) -> AppResult<()> {
    let Some(attrs) = first_element(head, "sst", "si") else {
        return Err(hostile("Excel文件的共享字符串表结构异常，已拒绝"));
    };
    for (key, value) in &attrs {
        if key != "count" && key != "uniqueCount" {
            continue;
        }
        let Some(n) = declared_count(value) else {
            return Err(hostile(format!("Excel文件的共享字符串表声明了无效的数量“{value}”，已拒绝")));
        };
        // `count` counts uses (a string used in many cells counts each time), so it may exceed
        // the cells of the sheets; only the distinct strings are held in memory.
        let cap = if key == "uniqueCount" { MAX_SHARED_STRINGS } else { MAX_SHARED_STRINGS * 4 };
        if n > cap {
            return Err(hostile(format!(
                "Excel文件声明了{n}个共享字符串，超过{cap}个的上限（可能是伪造的文件），已拒绝"
            )));
        }
    }
    Ok(())
}

/// Row and column (both 1-based) of a cell reference such as `IV65536`.
fn cell_ref(r: &str) -> Option<(u64, u64)> {
    let r: String = r.trim().chars().filter(|c| *c != '$').collect();
    let split = r.find(|c: char| c.is_ascii_digit())?;
    let (letters, digits) = r.split_at(split);
    if letters.is_empty() || letters.len() > 4 || !letters.bytes().all(|b| b.is_ascii_alphabetic()) {
        return None;
    }
    let col = letters.bytes().fold(0u64, |acc, b| acc * 26 + u64::from(b.to_ascii_uppercase() - b'A' + 1));
    let row = digits.parse::<u64>().ok()?;
    Some((row, col))
}

fn check_dimension(head: &[u8], part: &str) -> AppResult<()> {
    let Some(attrs) = first_element(head, "dimension", "sheetData") else { return Ok(()) };
    let Some((_, range)) = attrs.iter().find(|(k, _)| k == "ref") else { return Ok(()) };
    let last = range.rsplit(':').next().unwrap_or(range);
    let Some((rows, cols)) = cell_ref(last) else {
        return Err(hostile(format!("Excel文件中工作表（{part}）声明的范围“{range}”无效，已拒绝")));
    };
    if rows > u64::from(MAX_ROWS) || cols > u64::from(MAX_COLUMNS) {
        return Err(refuse(
            ErrorCode::FileTooManyCells,
            format!(
                "Excel文件中工作表声明的范围为{range}（{rows}行、{cols}列），超过{MAX_ROWS}行或{MAX_COLUMNS}列的上限，已拒绝；请删除多余的行列或拆分后导入"
            ),
        ));
    }
    Ok(())
}

/// The record types of an .xls sheet that place a cell (row and column in their first 4 bytes).
const CELL_RECORDS: [u16; 10] = [0x0006, 0x00BD, 0x00BE, 0x00D6, 0x00FD, 0x0201, 0x0203, 0x0204, 0x0205, 0x027E];

/// Walks the BIFF records of an .xls workbook: each sheet's DIMENSIONS record (what the reader
/// reserves) and the extent of the cells it really places (the rectangle the reader builds).
fn check_xls(bytes: &[u8]) -> AppResult<()> {
    let mut cfb = cfb::CompoundFile::open(Cursor::new(bytes)).map_err(|_| corrupt())?;
    let name = ["/Workbook", "/Book"].into_iter().find(|n| cfb.is_stream(n)).ok_or_else(corrupt)?;
    let stream = cfb.open_stream(name).map_err(|_| corrupt())?;
    let mut stream = BufReader::new(stream);
    let mut extent = Extent::default();
    let mut header = [0u8; 4];
    let mut data = Vec::new();
    loop {
        match stream.read_exact(&mut header) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(_) => return Err(corrupt()),
        }
        let typ = u16::from_le_bytes([header[0], header[1]]);
        let len = usize::from(u16::from_le_bytes([header[2], header[3]]));
        data.resize(len, 0);
        if stream.read_exact(&mut data).is_err() {
            // A truncated last record: the reader stops there too.
            break;
        }
        match typ {
            // BOF: a new substream (sheet) begins.
            0x0809 => {
                extent.check()?;
                extent = Extent::default();
            }
            0x0200 => check_dimensions_record(&data)?,
            t if CELL_RECORDS.contains(&t) && data.len() >= 4 => {
                let row = u64::from(u16::from_le_bytes([data[0], data[1]]));
                let first = u64::from(u16::from_le_bytes([data[2], data[3]]));
                // MULRK / MULBLANK name their last column in their last two bytes.
                let last = if (t == 0x00BD || t == 0x00BE) && data.len() >= 6 {
                    u64::from(u16::from_le_bytes([data[len - 2], data[len - 1]]))
                } else {
                    first
                };
                extent.add(row, first.min(last), first.max(last));
            }
            _ => {}
        }
    }
    extent.check()
}

fn xls_too_big(rows: u64, cols: u64) -> AppError {
    refuse(
        ErrorCode::FileTooManyCells,
        format!(
            "Excel文件（.xls）的工作表范围为{rows}行、{cols}列，超过上限（不超过{MAX_COLUMNS}列，且行数×列数不超过{MAX_XLS_CELLS}），已拒绝；请删除多余的行列、另存为.xlsx或拆分后导入"
        ),
    )
}

fn check_dimensions_record(data: &[u8]) -> AppResult<()> {
    let u16_at = |i: usize| data.get(i..i + 2).map(|b| u64::from(u16::from_le_bytes([b[0], b[1]])));
    let u32_at = |i: usize| data.get(i..i + 4).map(|b| u64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]])));
    // BIFF8: first row, last row + 1 (u32 each), first column, last column + 1 (u16 each);
    // BIFF5 has u16 rows.
    let dims = if data.len() >= 14 {
        (u32_at(0), u32_at(4), u16_at(8), u16_at(10))
    } else {
        (u16_at(0), u16_at(2), u16_at(4), u16_at(6))
    };
    let (Some(r0), Some(r1), Some(c0), Some(c1)) = dims else { return Ok(()) };
    let (rows, cols) = (r1.saturating_sub(r0), c1.saturating_sub(c0));
    if c1 > u64::from(MAX_COLUMNS) || rows.saturating_mul(cols) > MAX_XLS_CELLS {
        return Err(xls_too_big(rows, cols));
    }
    Ok(())
}

/// The rows and columns a sheet's cells span.
#[derive(Default)]
struct Extent(Option<(u64, u64, u64, u64)>);

impl Extent {
    fn add(&mut self, row: u64, first_col: u64, last_col: u64) {
        self.0 = Some(match self.0 {
            None => (row, row, first_col, last_col),
            Some((r0, r1, c0, c1)) => (r0.min(row), r1.max(row), c0.min(first_col), c1.max(last_col)),
        });
    }

    fn check(&self) -> AppResult<()> {
        let Some((r0, r1, c0, c1)) = self.0 else { return Ok(()) };
        let (rows, cols) = (r1 - r0 + 1, c1 - c0 + 1);
        if c1 >= u64::from(MAX_COLUMNS) || rows * cols > MAX_XLS_CELLS {
            return Err(xls_too_big(rows, cols));
        }
        Ok(())
    }
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
        assert_eq!(check(&xls_with(&[]), "x.xls").ok(), Some(FileKind::Xls));
        assert_eq!(
            check(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1, 0], "x.xls").map_err(|e| e.code),
            Err(ErrorCode::FileCorrupt)
        );
    }

    /// A compound file whose Workbook stream holds these BIFF records.
    fn xls_with(records: &[(u16, Vec<u8>)]) -> Vec<u8> {
        let mut stream = Vec::new();
        for (typ, data) in [(0x0809u16, vec![0u8; 16])].iter().chain(records) {
            stream.extend_from_slice(&typ.to_le_bytes());
            stream.extend_from_slice(&u16::try_from(data.len()).expect("len").to_le_bytes());
            stream.extend_from_slice(data);
        }
        let mut cfb = cfb::CompoundFile::create(Cursor::new(Vec::new())).expect("cfb");
        cfb.create_stream("/Workbook").expect("stream").write_all(&stream).expect("write");
        cfb.flush().expect("flush");
        cfb.into_inner().into_inner()
    }

    fn number_at(row: u16, col: u16) -> (u16, Vec<u8>) {
        let mut d = Vec::new();
        d.extend_from_slice(&row.to_le_bytes());
        d.extend_from_slice(&col.to_le_bytes());
        d.extend_from_slice(&[0u8; 10]);
        (0x0203, d)
    }

    fn dimensions(rows: u32, cols: u16) -> (u16, Vec<u8>) {
        let mut d = Vec::new();
        d.extend_from_slice(&0u32.to_le_bytes());
        d.extend_from_slice(&rows.to_le_bytes());
        d.extend_from_slice(&0u16.to_le_bytes());
        d.extend_from_slice(&cols.to_le_bytes());
        d.extend_from_slice(&0u16.to_le_bytes());
        (0x0200, d)
    }

    #[test]
    fn xls_sheets_are_measured_by_their_records_and_their_cells() {
        let ok = xls_with(&[dimensions(100, 71), number_at(0, 0), number_at(99, 70)]);
        assert_eq!(check(&ok, "x.xls").ok(), Some(FileKind::Xls));
        // Declared: 65,536 × 256 (what the reader would reserve).
        let declared = xls_with(&[dimensions(65_536, 256), number_at(0, 0)]);
        assert_eq!(check(&declared, "x.xls").map_err(|e| e.code), Err(ErrorCode::FileTooManyCells));
        // Not declared, but cells at A1 and IV65536 (the rectangle the reader would build).
        let spread = xls_with(&[number_at(0, 0), number_at(65_535, 255)]);
        assert_eq!(check(&spread, "x.xls").map_err(|e| e.code), Err(ErrorCode::FileTooManyCells));
        // Within the columns, but 65,536 rows × 150 columns is past the cells cap.
        let wide = xls_with(&[number_at(0, 0), number_at(65_535, 149)]);
        let e = check(&wide, "x.xls").map_err(|e| (e.code, e.message));
        assert!(matches!(&e, Err((ErrorCode::FileTooManyCells, m)) if m.contains("65536行")), "{e:?}");
    }

    #[test]
    fn shared_string_counts_and_sheet_dimensions_are_read_before_parsing() {
        let sst = |attrs: &str| {
            zip_with("xl/sharedStrings.xml", format!("<?xml version=\"1.0\"?><sst xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\" {attrs}><si><t>a</t></si></sst>").as_bytes())
        };
        assert!(check(&sst(r#"count="2" uniqueCount="1""#), "x.xlsx").is_ok());
        for bad in [
            r#"count="2" uniqueCount="10000000000000000""#,
            r#"uniqueCount="18446744073709551615""#,
            r#"uniqueCount="99999999999999999999999""#,
            r#"uniqueCount="-1""#,
            r#"count="100000000000""#,
        ] {
            let e = check(&sst(bad), "x.xlsx").map_err(|e| e.code);
            assert_eq!(e, Err(ErrorCode::FileHostile), "{bad}");
        }
        // An sst element pushed out of the head by padding is itself a refusal.
        let padded = zip_with(
            "xl/sharedStrings.xml",
            format!("<?xml version=\"1.0\"?><!--{}--><sst uniqueCount=\"1\"/>", "x".repeat(70_000)).as_bytes(),
        );
        assert_eq!(check(&padded, "x.xlsx").map_err(|e| e.code), Err(ErrorCode::FileHostile));
        let sheet = |dim: &str| {
            zip_with("xl/worksheets/sheet1.xml", format!("<worksheet xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\"><dimension ref=\"{dim}\"/><sheetData/></worksheet>").as_bytes())
        };
        assert!(check(&sheet("A1:BS100001"), "x.xlsx").is_ok());
        assert!(check(&sheet("A1"), "x.xlsx").is_ok());
        assert_eq!(check(&sheet("A1:IV65536"), "x.xlsx").map_err(|e| e.code), Err(ErrorCode::FileTooManyCells));
        assert_eq!(check(&sheet("A1:B1048576"), "x.xlsx").map_err(|e| e.code), Err(ErrorCode::FileTooManyCells));
        assert_eq!(check(&sheet("A1:ZZZZZ1"), "x.xlsx").map_err(|e| e.code), Err(ErrorCode::FileHostile));
    }

    #[test]
    fn cell_references() {
        assert_eq!(cell_ref("A1"), Some((1, 1)));
        assert_eq!(cell_ref("IV65536"), Some((65_536, 256)));
        assert_eq!(cell_ref("$XFD$1048576"), Some((1_048_576, 16_384)));
        assert_eq!(cell_ref("12"), None);
        assert_eq!(cell_ref("A"), None);
    }

    #[test]
    fn refuses_truncated_bombs_entities_and_bad_encodings() {
        assert_eq!(check(b"", "x.csv").map_err(|e| e.code), Err(ErrorCode::FileEmpty));
        let z = zip_with("a.xml", b"<a/>");
        assert_eq!(check(&z[..z.len() / 2], "x.xlsx").map_err(|e| e.code), Err(ErrorCode::FileCorrupt));
        assert_eq!(check(b"not excel", "x.xlsx").map_err(|e| e.code), Err(ErrorCode::FileCorrupt));
        let bomb = zip_with("xl/worksheets/sheet1.xml", &vec![b'a'; 50 * 1024 * 1024]);
        assert!(bomb.len() < 1024 * 1024);
        assert_eq!(check(&bomb, "x.xlsx").map_err(|e| e.code), Err(ErrorCode::FileHostile));
        let laughs = zip_with(
            "xl/sharedStrings.xml",
            b"<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\">]><a>&lol;</a>",
        );
        assert_eq!(check(&laughs, "x.xlsx").map_err(|e| e.code), Err(ErrorCode::FileHostile));
        assert_eq!(check(&[0xB0, 0xA1, b','], "x.csv").map_err(|e| e.code), Err(ErrorCode::FileNotUtf8));
    }
}
