//! Uploaded documents (证明材料, signed roster scans, invoices, delivery notes): what a file is,
//! judged by its bytes and never by its name.

/// The kinds of document accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocKind {
    Jpeg,
    Png,
    Pdf,
}

impl DocKind {
    /// The kind the bytes are, or `None` for anything else (a renamed .exe, a Word file).
    pub fn sniff(bytes: &[u8]) -> Option<Self> {
        if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(Self::Jpeg)
        } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            Some(Self::Png)
        } else if bytes.starts_with(b"%PDF-") {
            Some(Self::Pdf)
        } else {
            None
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Self::Jpeg => "image/jpeg",
            Self::Png => "image/png",
            Self::Pdf => "application/pdf",
        }
    }

    pub fn of_content_type(s: &str) -> Option<Self> {
        [Self::Jpeg, Self::Png, Self::Pdf].into_iter().find(|k| k.content_type() == s)
    }

    pub fn is_image(self) -> bool {
        !matches!(self, Self::Pdf)
    }
}

/// Whether a scan's pages are as many as the printed roster's: the reviewer's first check that
/// every page came back signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageCheck {
    Same,
    /// Fewer pages scanned than printed: a page (and its signatures) is missing.
    Missing(u32),
    /// More scanned than printed: a cover page, or a page scanned twice.
    Extra(u32),
}

impl PageCheck {
    pub fn of(scanned: u32, printed: u32) -> Self {
        match scanned.cmp(&printed) {
            std::cmp::Ordering::Equal => Self::Same,
            std::cmp::Ordering::Less => Self::Missing(printed - scanned),
            std::cmp::Ordering::Greater => Self::Extra(scanned - printed),
        }
    }

    pub fn label(self) -> String {
        match self {
            Self::Same => "页数一致".into(),
            Self::Missing(n) => format!("扫描件少{n}页"),
            Self::Extra(n) => format!("扫描件多{n}页"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_what_its_bytes_say() {
        assert_eq!(DocKind::sniff(&[0xFF, 0xD8, 0xFF, 0xE0]), Some(DocKind::Jpeg));
        assert_eq!(DocKind::sniff(b"%PDF-1.7\n"), Some(DocKind::Pdf));
        assert_eq!(DocKind::sniff(b"\x89PNG\r\n\x1a\n\0\0"), Some(DocKind::Png));
        assert_eq!(DocKind::sniff(b"MZ\x90\x00"), None);
        assert_eq!(DocKind::sniff(b"<script>alert(1)</script>"), None);
        assert_eq!(DocKind::sniff(b""), None);
        assert_eq!(DocKind::of_content_type("application/pdf"), Some(DocKind::Pdf));
    }

    #[test]
    fn pages_are_compared_both_ways() {
        assert_eq!(PageCheck::of(3, 3), PageCheck::Same);
        assert_eq!(PageCheck::of(2, 3), PageCheck::Missing(1));
        assert_eq!(PageCheck::of(5, 3), PageCheck::Extra(2));
        assert_eq!(PageCheck::of(2, 3).label(), "扫描件少1页");
    }
}
