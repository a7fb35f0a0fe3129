//! PDF output with the shipped font (Noto Sans CJK SC, SIL OFL, `fonts/`): parsed once, embedded
//! and subset, so rare characters in names print and stay searchable. A character the font lacks
//! is reported before anything is drawn, never printed as an empty box.

use std::sync::LazyLock;

use printpdf::{
    Color, Greyscale, Line, LinePoint, Mm, Op, PaintMode, ParsedFont, PdfDocument, PdfFontHandle, PdfPage,
    PdfSaveOptions, Point, Pt, Rect, TextItem,
};

use crate::error::{AppError, AppResult, ErrorCode};

static FONT_BYTES: &[u8] = include_bytes!("../../fonts/NotoSansCJKsc-Regular.otf");

static FONT: LazyLock<Option<ParsedFont>> = LazyLock::new(|| {
    let mut warnings = Vec::new();
    ParsedFont::from_bytes(FONT_BYTES, 0, &mut warnings)
});

fn font() -> AppResult<&'static ParsedFont> {
    FONT.as_ref().ok_or_else(|| AppError::internal_msg(ErrorCode::PdfFont, "内置字体无法加载".into()))
}

/// The characters of `text` the font cannot draw.
pub fn missing_glyphs(text: &str) -> AppResult<Vec<char>> {
    let f = font()?;
    Ok(text.chars().filter(|c| !c.is_control() && f.lookup_glyph_index(*c as u32).is_none()).collect())
}

/// Width of `text` at `size` in millimetres, from the font's advances.
pub fn text_width(text: &str, size: f32) -> f32 {
    let Ok(f) = font() else { return 0.0 };
    let units = f32::from(f.font_metrics.units_per_em.max(1));
    let advance: f32 = text
        .chars()
        .map(|c| f.lookup_glyph_index(c as u32).map(|g| f32::from(f.get_horizontal_advance(g))).unwrap_or(units))
        .sum();
    advance / units * size * 25.4 / 72.0
}

/// The time a printout says it was printed: Beijing time (UTC+8), to the minute.
pub fn printed_now() -> String {
    crate::clock::shown_now()
}

/// One A4 page being drawn; coordinates in millimetres from the top-left corner.
pub struct Page {
    ops: Vec<Op>,
    font: PdfFontHandle,
}

pub const A4_W: f32 = 210.0;
pub const A4_H: f32 = 297.0;

fn point(x: f32, y_from_top: f32) -> Point {
    Point { x: Mm(x).into(), y: Mm(A4_H - y_from_top).into() }
}

impl Page {
    /// Text with its baseline at `y`.
    pub fn text(&mut self, x: f32, y: f32, size: f32, text: &str) {
        self.ops.extend([
            Op::StartTextSection,
            Op::SetFont { font: self.font.clone(), size: Pt(size) },
            Op::SetTextCursor { pos: point(x, y) },
            Op::ShowText { items: vec![TextItem::Text(text.to_owned())] },
            Op::EndTextSection,
        ]);
    }

    pub fn line(&mut self, x1: f32, y1: f32, x2: f32, y2: f32, thickness: f32) {
        self.ops.push(Op::SetOutlineThickness { pt: Pt(thickness) });
        self.ops.push(Op::DrawLine {
            line: Line {
                points: vec![
                    LinePoint { p: point(x1, y1), bezier: false },
                    LinePoint { p: point(x2, y2), bezier: false },
                ],
                is_closed: false,
            },
        });
    }

    /// A filled grey box (header shading), `grey` 0 = black … 1 = white.
    pub fn shade(&mut self, x: f32, y: f32, w: f32, h: f32, grey: f32) {
        self.ops.push(Op::SetFillColor { col: Color::Greyscale(Greyscale { percent: grey, icc_profile: None }) });
        self.ops.push(Op::DrawRectangle {
            rectangle: Rect {
                x: Mm(x).into(),
                y: Mm(A4_H - y - h).into(),
                width: Mm(w).into(),
                height: Mm(h).into(),
                mode: Some(PaintMode::Fill),
                winding_order: None,
            },
        });
        self.ops.push(Op::SetFillColor { col: Color::Greyscale(Greyscale { percent: 0.0, icc_profile: None }) });
    }
}

/// A document of A4 pages drawn by `draw`, one call per page.
pub struct Document {
    doc: PdfDocument,
    font: PdfFontHandle,
    pages: Vec<PdfPage>,
}

impl Document {
    pub fn new(title: &str) -> AppResult<Self> {
        let mut doc = PdfDocument::new(title);
        // Otherwise the document claims 1970.
        doc.metadata.info.creation_date = printpdf::OffsetDateTime::now_utc();
        doc.metadata.info.modification_date = doc.metadata.info.creation_date;
        let id = doc.add_font(font()?);
        Ok(Self { doc, font: PdfFontHandle::External(id), pages: Vec::new() })
    }

    pub fn page(&mut self, draw: impl FnOnce(&mut Page)) {
        let mut p = Page { ops: Vec::new(), font: self.font.clone() };
        draw(&mut p);
        self.pages.push(PdfPage::new(Mm(A4_W), Mm(A4_H), p.ops));
    }

    pub fn save(self) -> Vec<u8> {
        let mut warnings = Vec::new();
        let mut doc = self.doc;
        doc.with_pages(self.pages).save(&PdfSaveOptions { subset_fonts: true, ..Default::default() }, &mut warnings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_font_covers_rare_name_characters() {
        assert_eq!(missing_glyphs("王䶮 刘𠮷芳").unwrap(), Vec::<char>::new());
        // A private-use code point has no glyph and is reported.
        assert_eq!(missing_glyphs("王\u{E000}").unwrap(), vec!['\u{E000}']);
        let w = text_width("汉字", 10.0);
        assert!((w - 2.0 * 10.0 * 25.4 / 72.0).abs() < 0.2, "{w}");
    }
}
