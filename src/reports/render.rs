//! A drawn report as xlsx and A4 PDF (the page is an askama template, JSON is serde): the same
//! `Report`, so every format carries the same figures.

use askama::Template;
use rust_xlsxwriter::{Format, FormatAlign, FormatBorder, Workbook};

use super::service::{self, Report, Request};
use crate::audit::{self, Entry};
use crate::auth::Caller;
use crate::db::DbConn;
use crate::domain::report::Value;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::exchange::pdf::{self, A4_H, A4_W, Document, Page};

/// Draws a report as a file, audited (a report leaving the system is a disclosure).
pub fn export(conn: &mut DbConn, caller: &Caller, req: &Request, f: OutputFormat) -> AppResult<(Vec<u8>, String)> {
    let r = service::run(conn, caller, req)?;
    let bytes = match f {
        OutputFormat::Xlsx => xlsx(&r)?,
        OutputFormat::Pdf => pdf(&r, &pdf::printed_now())?,
        OutputFormat::Html => html(&r)?.into_bytes(),
        OutputFormat::Json => serde_json::to_vec_pretty(&r).map_err(AppError::internal)?,
    };
    audit::record_alone(
        conn,
        &caller.actor(),
        Entry::new("report.export", "org", &r.org).after(&serde_json::json!({
            "report": r.report, "period": r.period, "date": r.date.to_string(), "format": f.extension(),
        })),
    )?;
    Ok((bytes, file_name(&r, f)))
}

#[derive(Template)]
#[template(path = "reports/standalone.html")]
struct Standalone<'a> {
    r: &'a Report,
}

/// The report as a page of its own (no navigation), for the CLI's `--format html`.
pub fn html(r: &Report) -> AppResult<String> {
    Standalone { r }.render().map_err(AppError::internal)
}

/// The formats a report is drawn in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    Html,
    Xlsx,
    Pdf,
    Json,
}

impl OutputFormat {
    pub fn parse(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "" | "html" => Ok(Self::Html),
            "xlsx" => Ok(Self::Xlsx),
            "pdf" => Ok(Self::Pdf),
            "json" => Ok(Self::Json),
            other => Err(format!("格式“{other}”无效，应为 html、xlsx、pdf 或 json")),
        }
    }

    pub fn mime(self) -> &'static str {
        match self {
            Self::Html => "text/html; charset=utf-8",
            Self::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            Self::Pdf => "application/pdf",
            Self::Json => "application/json",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Self::Html => "html",
            Self::Xlsx => "xlsx",
            Self::Pdf => "pdf",
            Self::Json => "json",
        }
    }
}

/// `县级常规统计报表` with its org and period, as the file is named.
pub fn file_name(r: &Report, f: OutputFormat) -> String {
    format!("{}-{}-{}.{}", r.report, r.org, r.period, f.extension())
}

fn subtitle(r: &Report) -> String {
    format!("填报单位：{}（{}）    统计期：{}    报表日：{}", r.org_name, r.org, r.period, r.date)
}

fn xl(e: rust_xlsxwriter::XlsxError) -> AppError {
    AppError::internal(e)
}

pub fn xlsx(r: &Report) -> AppResult<Vec<u8>> {
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name("报表").map_err(xl)?;
    ws.set_paper_size(9).set_landscape().set_print_fit_to_pages(1, 0);
    let last = u16::try_from(r.columns.len().saturating_sub(1)).unwrap_or(0);
    let th = Format::new()
        .set_bold()
        .set_border(FormatBorder::Thin)
        .set_align(FormatAlign::Center)
        .set_text_wrap()
        .set_background_color("#E0E0E0");
    let td = Format::new().set_border(FormatBorder::Thin);
    let money = Format::new().set_border(FormatBorder::Thin).set_num_format("#,##0.00");
    let bold = Format::new().set_bold().set_border(FormatBorder::Thin);
    let title = Format::new().set_bold().set_font_size(14).set_align(FormatAlign::Center);
    if last > 0 {
        ws.merge_range(0, 0, 0, last, &r.title, &title).map_err(xl)?;
        ws.merge_range(1, 0, 1, last, &subtitle(r), &Format::new()).map_err(xl)?;
    } else {
        ws.write_string_with_format(0, 0, &r.title, &title).map_err(xl)?;
        ws.write_string(1, 0, subtitle(r)).map_err(xl)?;
    }
    for (i, c) in r.columns.iter().enumerate() {
        let col = u16::try_from(i).unwrap_or(0);
        ws.write_string_with_format(2, col, &c.title, &th).map_err(xl)?;
        ws.set_column_width(col, if c.key == "school_name" { 28 } else { 12 }).map_err(xl)?;
    }
    ws.set_row_height(2, 32).map_err(xl)?;
    let mut row: u32 = 3;
    let totals = (r.rows.len() > 1).then_some(&r.totals);
    for (cells, is_total) in r.rows.iter().map(|c| (c, false)).chain(totals.map(|t| (t, true))) {
        for (i, v) in cells.iter().enumerate() {
            let col = u16::try_from(i).unwrap_or(0);
            let text_fmt = if is_total { &bold } else { &td };
            match v {
                Value::Count(n) => {
                    ws.write_number_with_format(row, col, *n as f64, text_fmt).map_err(xl)?;
                }
                Value::Money(_) | Value::Number(_) => {
                    let n: f64 = v.text().parse().unwrap_or(0.0);
                    ws.write_number_with_format(row, col, n, &money).map_err(xl)?;
                }
                Value::Text(s) => {
                    ws.write_string_with_format(row, col, s, text_fmt).map_err(xl)?;
                }
            }
        }
        row += 1;
    }
    row += 1;
    for note in &r.footnotes {
        ws.write_string(row, 0, format!("注：{note}")).map_err(xl)?;
        row += 1;
    }
    ws.write_string(row + 1, 0, "填报人：__________    审核人：__________    单位负责人：__________    （盖章）")
        .map_err(xl)?;
    wb.save_to_buffer().map_err(xl)
}

const MARGIN: f32 = 10.0;
const SIZE: f32 = 7.5;
const ROW_H: f32 = 6.0;
const HEAD_TOP: f32 = 32.0;
const ROWS_PER_PAGE: usize = 36;

/// Column widths across the page: each as wide as its widest figure (a heading wraps, so it
/// asks only for three characters), text columns capped; the space left over is shared out.
fn widths(r: &Report) -> Vec<f32> {
    let usable = A4_W - 2.0 * MARGIN - 8.0;
    let floor = pdf::text_width("人数字", SIZE) + 1.6;
    let mut need: Vec<f32> = (0..r.columns.len())
        .map(|j| {
            let widest = r
                .rows
                .iter()
                .chain([&r.totals])
                .filter_map(|cells| cells.get(j))
                .map(|v| pdf::text_width(&v.text(), SIZE) + 1.6)
                .fold(floor, f32::max);
            widest.min(45.0)
        })
        .collect();
    let total: f32 = need.iter().sum();
    let scale = usable / total.max(1.0);
    for w in &mut need {
        *w *= scale;
    }
    need
}

/// Splits `text` into lines no wider than `width` at `size` (CJK text breaks anywhere).
fn wrap(text: &str, width: f32, size: f32) -> Vec<String> {
    let mut lines = vec![String::new()];
    for ch in text.chars() {
        let mut candidate = lines.last().cloned().unwrap_or_default();
        candidate.push(ch);
        if pdf::text_width(&candidate, size) > width && !candidate.chars().count().eq(&1) {
            lines.push(ch.to_string());
        } else if let Some(last) = lines.last_mut() {
            *last = candidate;
        }
    }
    lines
}

fn head(p: &mut Page, r: &Report, w: &[f32]) -> f32 {
    let total: f32 = 8.0 + w.iter().sum::<f32>();
    let wrapped: Vec<Vec<String>> = r.columns.iter().zip(w).map(|(c, w)| wrap(&c.title, w - 1.0, SIZE)).collect();
    let height = 3.5 * wrapped.iter().map(Vec::len).max().unwrap_or(1) as f32 + 3.0;
    p.shade(MARGIN, HEAD_TOP, total, height, 0.88);
    p.text(MARGIN + 1.0, HEAD_TOP + height / 2.0 + 1.2, SIZE, "序号");
    let mut x = MARGIN + 8.0;
    for (lines, w) in wrapped.iter().zip(w) {
        for (i, l) in lines.iter().enumerate() {
            let lw = pdf::text_width(l, SIZE);
            p.text(x + (w - lw) / 2.0, HEAD_TOP + 3.8 + 3.5 * i as f32, SIZE, l);
        }
        x += w;
    }
    p.line(MARGIN, HEAD_TOP, MARGIN + total, HEAD_TOP, 0.6);
    p.line(MARGIN, HEAD_TOP + height, MARGIN + total, HEAD_TOP + height, 0.6);
    HEAD_TOP + height
}

fn row(p: &mut Page, y: f32, seq: &str, cells: &[Value], w: &[f32]) -> f32 {
    let total: f32 = 8.0 + w.iter().sum::<f32>();
    let base = y + ROW_H - 1.8;
    p.text(MARGIN + 1.5, base, SIZE, seq);
    let mut x = MARGIN + 8.0;
    for (v, w) in cells.iter().zip(w) {
        let text = v.text();
        let text = wrap(&text, w - 1.0, SIZE).into_iter().next().unwrap_or_default();
        let tw = pdf::text_width(&text, SIZE);
        let at = if matches!(v, Value::Text(_)) { x + 0.8 } else { x + w - tw - 0.8 };
        p.text(at, base, SIZE, &text);
        x += w;
    }
    p.line(MARGIN, y + ROW_H, MARGIN + total, y + ROW_H, 0.3);
    y + ROW_H
}

/// Every character must be in the shipped font (school names can hold rare ones).
fn check_glyphs(r: &Report) -> AppResult<()> {
    for cells in &r.rows {
        for v in cells {
            if let Value::Text(s) = v
                && let Some(c) = pdf::missing_glyphs(s)?.first()
            {
                return Err(AppError::invalid(
                    ErrorCode::PdfMissingGlyph,
                    format!("“{s}”含内置字体没有的字符 U+{:04X}，无法打印", *c as u32),
                ));
            }
        }
    }
    Ok(())
}

pub fn pdf(r: &Report, printed: &str) -> AppResult<Vec<u8>> {
    check_glyphs(r)?;
    let w = widths(r);
    let mut doc = Document::new(&r.title)?;
    let chunks: Vec<&[Vec<Value>]> = if r.rows.is_empty() { vec![&[]] } else { r.rows.chunks(ROWS_PER_PAGE).collect() };
    let pages = chunks.len();
    for (n, rows) in chunks.iter().enumerate() {
        doc.page(|p| {
            for (i, line) in wrap(&r.title, A4_W - 2.0 * MARGIN, 12.0).iter().enumerate() {
                let tw = pdf::text_width(line, 12.0);
                p.text((A4_W - tw) / 2.0, 15.0 + 6.0 * i as f32, 12.0, line);
            }
            p.text(MARGIN, 27.0, SIZE + 0.5, &subtitle(r));
            let mut y = head(p, r, &w);
            for (i, cells) in rows.iter().enumerate() {
                y = row(p, y, &(n * ROWS_PER_PAGE + i + 1).to_string(), cells, &w);
            }
            if n + 1 == pages {
                if r.rows.len() > 1 {
                    y = row(p, y, "", &r.totals, &w);
                }
                y += 6.0;
                for note in &r.footnotes {
                    for line in wrap(&format!("注：{note}"), A4_W - 2.0 * MARGIN, SIZE) {
                        p.text(MARGIN, y, SIZE, &line);
                        y += 4.0;
                    }
                }
                p.text(
                    MARGIN,
                    y + 8.0,
                    SIZE + 1.0,
                    "填报人：__________    审核人：__________    单位负责人：__________    （单位盖章）",
                );
            }
            let footer = format!("{} · 第 {} 页 / 共 {} 页 · 打印于 {printed}", r.title, n + 1, pages);
            p.text(MARGIN, A4_H - 8.0, SIZE - 1.0, &footer);
        });
    }
    Ok(doc.save())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_headings_wrap_within_their_column() {
        let lines = wrap("外来务工人员子女人数", 12.0, SIZE);
        assert!(lines.len() > 1, "{lines:?}");
        assert!(lines.iter().all(|l| pdf::text_width(l, SIZE) <= 12.0));
        assert_eq!(lines.concat(), "外来务工人员子女人数");
        assert_eq!(wrap("", 10.0, SIZE), vec![String::new()]);
    }

    #[test]
    fn formats_parse_with_a_clear_refusal() {
        assert_eq!(OutputFormat::parse("PDF"), Ok(OutputFormat::Pdf));
        assert_eq!(OutputFormat::parse(""), Ok(OutputFormat::Html));
        assert!(OutputFormat::parse("docx").unwrap_err().contains("docx"));
    }
}
