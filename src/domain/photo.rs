//! Student photos (SPEC §4): JPEG, under 60 KB, the 26×32 mm proportion within 5 %, and at least
//! 150 dpi when the file declares a density. Read from the JPEG headers; nothing is decoded.
//! Bulk files are named by ID number or `学校标识码_班号_姓名`.
use crate::domain::error_code::ErrorCode;

/// Files of this size or more are refused.
pub const MAX_BYTES: usize = 60 * 1024;
/// Width over height of a 26 mm × 32 mm photo.
const RATIO: f64 = 26.0 / 32.0;
const RATIO_TOLERANCE: f64 = 0.05;
const MIN_DPI: f64 = 150.0;
/// Pixels a photo may have (26 × 32 mm at 1,000 dpi is 1,024 × 1,260): what decoding it can cost.
pub const MAX_PIXELS: u32 = 1_200 * 1_500;

#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, schemars::JsonSchema)]
pub struct PhotoInfo {
    pub width: u16,
    pub height: u16,
    /// Dots per inch when the file declares a density (JFIF units 1 or 2).
    pub dpi: Option<f64>,
}

/// Why a photo was refused: a stable code and a message in Chinese.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhotoIssue {
    pub code: ErrorCode,
    pub message: String,
}

fn issue(code: ErrorCode, message: impl Into<String>) -> PhotoIssue {
    PhotoIssue { code, message: message.into() }
}

/// Checks a photo against every rule and returns its dimensions.
pub fn inspect(bytes: &[u8]) -> Result<PhotoInfo, PhotoIssue> {
    inspect_sized(bytes, bytes.len())
}

/// [`inspect`] for the first bytes of a file of `size` bytes (a file read only up to the limit
/// is still reported at its own size).
pub fn inspect_sized(bytes: &[u8], size: usize) -> Result<PhotoInfo, PhotoIssue> {
    if !bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Err(issue(ErrorCode::PhotoNotJpeg, "不是JPG格式的照片"));
    }
    let size = size.max(bytes.len());
    if size >= MAX_BYTES {
        return Err(issue(ErrorCode::PhotoTooLarge, format!("照片大小为{:.1}KB，须小于60KB", size as f64 / 1024.0)));
    }
    let info = headers(bytes).ok_or_else(|| issue(ErrorCode::PhotoCorrupt, "JPG文件已损坏，读不出图像尺寸"))?;
    if u32::from(info.width) * u32::from(info.height) > MAX_PIXELS {
        return Err(issue(
            ErrorCode::PhotoTooManyPixels,
            format!(
                "照片为{}×{}像素，超过{MAX_PIXELS}像素的上限，请缩小后上传（如390×480像素）",
                info.width, info.height
            ),
        ));
    }
    let ratio = f64::from(info.width) / f64::from(info.height);
    if (ratio / RATIO - 1.0).abs() > RATIO_TOLERANCE {
        return Err(issue(
            ErrorCode::PhotoProportion,
            format!("照片为{}×{}像素，宽高比须为26:32（允许±5%），如宽390、高480像素", info.width, info.height),
        ));
    }
    if let Some(dpi) = info.dpi
        && dpi < MIN_DPI
    {
        return Err(issue(ErrorCode::PhotoLowDpi, format!("照片分辨率为{dpi:.0}dpi，须不低于150dpi")));
    }
    Ok(info)
}

/// Walks the marker segments up to the frame header: size from SOFn, density from JFIF APP0.
fn headers(b: &[u8]) -> Option<PhotoInfo> {
    let mut i = 2;
    let mut dpi = None;
    while i + 4 <= b.len() {
        if b[i] != 0xFF {
            return None;
        }
        let marker = b[i + 1];
        if marker == 0xFF {
            i += 1; // fill byte
            continue;
        }
        let len = usize::from(u16::from_be_bytes([b[i + 2], b[i + 3]]));
        let seg = b.get(i + 4..i + 2 + len)?;
        match marker {
            0xE0 if seg.starts_with(b"JFIF\0") && seg.len() >= 12 => {
                let (x, unit) = (f64::from(u16::from_be_bytes([seg[8], seg[9]])), seg[7]);
                dpi = match unit {
                    1 => Some(x),
                    2 => Some(x * 2.54),
                    _ => None,
                };
            }
            // SOF0–SOF15 except DHT (C4), JPG (C8) and DAC (CC).
            0xC0..=0xCF if !matches!(marker, 0xC4 | 0xC8 | 0xCC) && seg.len() >= 5 => {
                let height = u16::from_be_bytes([seg[1], seg[2]]);
                let width = u16::from_be_bytes([seg[3], seg[4]]);
                return (width > 0 && height > 0).then_some(PhotoInfo { width, height, dpi });
            }
            0xDA | 0xD9 => return None,
            _ => {}
        }
        i += 2 + len;
    }
    None
}

/// Whom a bulk file names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PhotoName {
    IdNumber(String),
    SchoolClassName { school: String, class_no: String, name: String },
}

/// Reads a file name (any folder part dropped): `<ID>.jpg` or `<学校标识码>_<班号>_<姓名>.jpg`.
pub fn parse_name(path: &str) -> Result<PhotoName, PhotoIssue> {
    let file = path.rsplit(['/', '\\']).next().unwrap_or(path);
    let lower = file.to_lowercase();
    let stem = match (lower.strip_suffix(".jpg"), lower.strip_suffix(".jpeg")) {
        (Some(_), _) => &file[..file.len() - 4],
        (_, Some(_)) => &file[..file.len() - 5],
        _ => return Err(issue(ErrorCode::PhotoNotJpeg, "文件扩展名须为.jpg")),
    };
    let stem = stem.trim();
    let parts: Vec<&str> = stem.split('_').map(str::trim).collect();
    match parts.as_slice() {
        [id] if id.len() == 18 || id.len() == 15 => Ok(PhotoName::IdNumber(id.to_uppercase())),
        [school, class_no, name] if !school.is_empty() && !class_no.is_empty() && !name.is_empty() => {
            Ok(PhotoName::SchoolClassName {
                school: (*school).to_owned(),
                class_no: (*class_no).to_owned(),
                name: (*name).to_owned(),
            })
        }
        _ => Err(issue(
            ErrorCode::PhotoBadName,
            "文件名须为“身份证件号.jpg”或“学校标识码_班号_姓名.jpg”（如2152326001_202601_王小花.jpg）",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The headers of a baseline JPEG: SOI, JFIF APP0 with a density, SOF0 with a size, EOI.
    fn jpeg(width: u16, height: u16, unit: u8, density: u16, pad: usize) -> Vec<u8> {
        let mut b = vec![0xFF, 0xD8];
        b.extend([0xFF, 0xE0, 0x00, 0x10]);
        b.extend(b"JFIF\0");
        b.extend([1, 1, unit]);
        b.extend(density.to_be_bytes());
        b.extend(density.to_be_bytes());
        b.extend([0, 0]);
        b.extend([0xFF, 0xC0, 0x00, 0x11, 8]);
        b.extend(height.to_be_bytes());
        b.extend(width.to_be_bytes());
        b.extend([3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1]);
        b.extend(vec![0u8; pad]);
        b.extend([0xFF, 0xD9]);
        b
    }

    #[test]
    fn a_proper_photo_passes_with_its_size() {
        let info = inspect(&jpeg(390, 480, 1, 300, 0)).unwrap();
        assert_eq!((info.width, info.height, info.dpi), (390, 480, Some(300.0)));
        // Dots per centimetre: 59.1 ≈ 150 dpi; no declared density is accepted.
        assert!(inspect(&jpeg(390, 480, 2, 60, 0)).is_ok());
        assert_eq!(inspect(&jpeg(390, 480, 0, 1, 0)).unwrap().dpi, None);
    }

    #[test]
    fn each_rule_refuses_with_its_code() {
        let code = |b: &[u8]| inspect(b).unwrap_err().code;
        assert_eq!(code(b"\x89PNG\r\n\x1a\n"), ErrorCode::PhotoNotJpeg);
        assert_eq!(code(&jpeg(390, 480, 1, 300, MAX_BYTES)), ErrorCode::PhotoTooLarge);
        assert_eq!(code(&jpeg(480, 480, 1, 300, 0)), ErrorCode::PhotoProportion);
        assert_eq!(code(&jpeg(390, 480, 1, 96, 0)), ErrorCode::PhotoLowDpi);
        assert_eq!(code(&[0xFF, 0xD8, 0xFF, 0xE0, 0x00]), ErrorCode::PhotoCorrupt);
        // 5 % either side of 26:32.
        assert!(inspect(&jpeg(400, 480, 1, 300, 0)).is_ok());
        assert_eq!(code(&jpeg(420, 480, 1, 300, 0)), ErrorCode::PhotoProportion);
    }

    #[test]
    fn names_by_id_or_school_class_and_name() {
        assert_eq!(parse_name("照片/52232620200309002x.JPG"), Ok(PhotoName::IdNumber("52232620200309002X".into())));
        assert_eq!(
            parse_name("2152326001_202601_王䶮.jpeg"),
            Ok(PhotoName::SchoolClassName {
                school: "2152326001".into(),
                class_no: "202601".into(),
                name: "王䶮".into()
            })
        );
        assert_eq!(parse_name("王小花.jpg").unwrap_err().code, ErrorCode::PhotoBadName);
        assert_eq!(parse_name("a.png").unwrap_err().code, ErrorCode::PhotoNotJpeg);
    }
}
