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

/// The page margin every printout keeps, left and right.
pub const MARGIN: f32 = 12.0;

/// How a column's cells sit: words from the left, figures to the right.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    Left,
    Right,
}

/// The one table every printed list is drawn with: a shaded heading row (a long heading wraps),
/// ruled rows, heavier outer rules, and a value too long for its cell shrunk to fit rather than
/// cut or run into the next.
#[derive(Debug, Clone)]
pub struct Table {
    size: f32,
    row_h: f32,
    columns: Vec<(String, f32, Align)>,
}

impl Table {
    /// A table in type of `size` points with rows `row_h` mm high, centred on the page once its
    /// columns are added.
    pub fn new(size: f32, row_h: f32) -> Self {
        Self { size, row_h, columns: Vec::new() }
    }

    pub fn column(mut self, title: impl Into<String>, width: f32, align: Align) -> Self {
        self.columns.push((title.into(), width, align));
        self
    }

    /// The left edge: the table is centred on the page.
    fn left(&self) -> f32 {
        ((A4_W - self.width()) / 2.0).max(0.0)
    }

    pub fn width(&self) -> f32 {
        self.columns.iter().map(|c| c.1).sum()
    }

    pub fn row_height(&self) -> f32 {
        self.row_h
    }

    /// The heading's lines, column by column, each no wider than its column.
    fn heading_lines(&self) -> Vec<Vec<String>> {
        self.columns.iter().map(|(title, width, _)| wrap(title, width - 1.0, self.size)).collect()
    }

    /// How tall the heading row is: one line of type, or as many as the longest heading wraps to.
    pub fn head_height(&self) -> f32 {
        let lines = self.heading_lines().iter().map(Vec::len).max().unwrap_or(1);
        (3.5 * lines as f32 + 3.0).max(7.0)
    }

    /// The heading row at `top`; returns the y below it, where the first row goes.
    pub fn head(&self, p: &mut Page, top: f32) -> f32 {
        let h = self.head_height();
        let right = self.left() + self.width();
        p.shade(self.left(), top, self.width(), h, 0.88);
        let mut x = self.left();
        for ((_, width, _), lines) in self.columns.iter().zip(self.heading_lines()) {
            let first = top + (h - 3.5 * (lines.len() as f32 - 1.0)) / 2.0 + self.size * 0.3528 / 2.0;
            for (i, line) in lines.iter().enumerate() {
                let w = text_width(line, self.size);
                p.text(x + (width - w) / 2.0, first + 3.5 * i as f32, self.size, line);
            }
            x += width;
        }
        p.line(self.left(), top, right, top, 0.6);
        p.line(self.left(), top + h, right, top + h, 0.4);
        top + h
    }

    /// One row at `y` (a cell for each column, missing cells blank); returns the y below it.
    pub fn row(&self, p: &mut Page, y: f32, cells: &[String]) -> f32 {
        self.row_of(p, y, cells, self.row_h)
    }

    /// One row `height` mm high (a multiple of the row height, for a value that wraps).
    pub fn row_of(&self, p: &mut Page, y: f32, cells: &[String], height: f32) -> f32 {
        let mut x = self.left();
        for (i, (_, width, align)) in self.columns.iter().enumerate() {
            let v = cells.get(i).map(String::as_str).unwrap_or("");
            let (size, lines) = fit(v, *width, height, self.size);
            let lh = line_height(size);
            let block = lh * lines.len() as f32;
            for (k, line) in lines.iter().enumerate() {
                let base = y + (height - block) / 2.0 + lh * k as f32 + (lh + size * 0.3528) / 2.0 - 0.6;
                let at = match align {
                    Align::Left => x + 0.8,
                    Align::Right => x + width - 0.8 - text_width(line, size),
                };
                p.text(at, base, size, line);
            }
            x += width;
        }
        p.line(self.left(), y + height, self.left() + self.width(), y + height, 0.25);
        y + height
    }

    /// Closes the table drawn from `top` (its heading) down to `bottom`: the bottom rule and the
    /// column rules.
    pub fn close(&self, p: &mut Page, top: f32, bottom: f32) {
        let right = self.left() + self.width();
        p.line(self.left(), bottom, right, bottom, 0.6);
        let mut x = self.left();
        p.line(x, top, x, bottom, 0.6);
        for (i, (_, width, _)) in self.columns.iter().enumerate() {
            x += width;
            p.line(x, top, x, bottom, if i + 1 == self.columns.len() { 0.6 } else { 0.25 });
        }
    }

    /// The heading, `rows` and the rules, from `top`; returns the y below the table.
    pub fn draw(&self, p: &mut Page, top: f32, rows: impl IntoIterator<Item = Vec<String>>) -> f32 {
        let mut y = self.head(p, top);
        for cells in rows {
            y = self.row(p, y, &cells);
        }
        self.close(p, top, y);
        y
    }
}

/// How far below the table's size a wrapped value may go and still be read easily.
pub const READABLE: f32 = 0.8;

/// The distance between the lines of a wrapped value.
fn line_height(size: f32) -> f32 {
    size * 0.3528 * 1.2
}

/// How a value sits in a cell `width` × `height` mm: on one line at `size` when it fits; else
/// wrapped over as many lines as the height holds, at `size` or down to [`READABLE`] of it;
/// only when no readable wrap fits, shrunk onto one line.
pub fn fit(text: &str, width: f32, height: f32, size: f32) -> (f32, Vec<String>) {
    let room = width - 1.6;
    if text_width(text, size) <= room {
        return (size, vec![text.to_owned()]);
    }
    let mut s = size;
    while s >= size * READABLE - 1e-3 {
        let lines = wrap(text, room, s);
        if line_height(s) * lines.len() as f32 <= height - 1.0 {
            return (s, lines);
        }
        s -= 0.25;
    }
    (size.min(size * room / text_width(text, size).max(0.1)), vec![text.to_owned()])
}

/// How many rows of `row_h` mm a value needs to be printed readably in a column `width` wide.
pub fn rows_needed(text: &str, width: f32, row_h: f32, size: f32) -> usize {
    (1..=12).find(|k| fit(text, width, row_h * *k as f32, size).0 >= size * READABLE - 1e-3).unwrap_or(12)
}

/// Splits `text` into lines no wider than `width` at `size` (CJK text breaks anywhere).
pub fn wrap(text: &str, width: f32, size: f32) -> Vec<String> {
    let mut lines = vec![String::new()];
    for ch in text.chars() {
        let mut candidate = lines.last().cloned().unwrap_or_default();
        candidate.push(ch);
        if text_width(&candidate, size) > width && candidate.chars().count() > 1 {
            lines.push(ch.to_string());
        } else if let Some(last) = lines.last_mut() {
            *last = candidate;
        }
    }
    lines
}

/// A list's rows over pages: `first` rows on the first page, `rest` on each after; always at
/// least one page, so an empty list still prints its heading.
pub fn paged<T>(rows: &[T], first: usize, rest: usize) -> Vec<&[T]> {
    if rows.len() <= first {
        return vec![rows];
    }
    let (head, tail) = rows.split_at(first);
    std::iter::once(head).chain(tail.chunks(rest.max(1))).collect()
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

    #[test]
    fn a_list_pages_with_its_first_page_shorter_and_never_zero_pages() {
        let rows: Vec<u32> = (1..=50).collect();
        let pages = paged(&rows, 14, 32);
        assert_eq!(pages.iter().map(|p| p.len()).collect::<Vec<_>>(), vec![14, 32, 4]);
        assert_eq!(pages.concat(), rows, "every row once, in order");
        assert_eq!(paged(&rows[..14], 14, 32).len(), 1, "the last row that fits stays on the page");
        assert_eq!(paged::<u32>(&[], 36, 36), vec![&[] as &[u32]], "an empty list still prints its heading");
    }

    #[test]
    fn a_long_heading_wraps_within_its_column_and_the_table_is_centred() {
        let t = Table::new(8.0, 6.5).column("序号", 10.0, Align::Left).column(
            "本学期累计应发补助金额（元）",
            18.0,
            Align::Right,
        );
        assert!((t.width() - 28.0).abs() < 0.01);
        assert!(t.head_height() > 7.0, "the long heading takes more than one line");
        for line in wrap("本学期累计应发补助金额（元）", 17.0, 8.0) {
            assert!(text_width(&line, 8.0) <= 17.0, "{line}");
        }
        assert_eq!(Table::new(8.0, 6.5).column("姓名", 20.0, Align::Left).head_height(), 7.0);
    }

    #[test]
    fn a_long_value_wraps_at_a_readable_size_and_its_row_grows_to_hold_it() {
        let name = "阿卜杜热合曼·买买提明·艾合买提江·阿不都热西提·依明江·吐尔逊托合提江";
        assert_eq!(name.chars().count(), 36);
        // One 8 mm row cannot hold it readably; the row grows until it can.
        let k = rows_needed(name, 19.0, 8.0, 8.5);
        assert!(k > 1, "{k}");
        let (size, lines) = fit(name, 19.0, 8.0 * k as f32, 8.5);
        assert!(size >= 8.5 * READABLE - 1e-3, "readable: {size}");
        assert_eq!(lines.concat(), name, "nothing lost");
        for l in &lines {
            assert!(text_width(l, size) <= 19.0 - 1.6 + 1e-3, "within the column: {l}");
        }
        // A short name stays on one line at full size.
        assert_eq!(fit("王小明", 19.0, 8.0, 8.5), (8.5, vec!["王小明".to_owned()]));
        assert_eq!(rows_needed("王小明", 19.0, 8.0, 8.5), 1);
    }
}
