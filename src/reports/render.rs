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
use crate::exchange::pdf::{self, A4_H, A4_W, Align, Document, MARGIN, Table, wrap};

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

/// The report's table: the sequence number, then each column, figures to the right.
fn layout(r: &Report) -> Table {
    let sample = r.rows.first().unwrap_or(&r.totals);
    let columns = r.columns.iter().zip(widths(r)).enumerate();
    columns.fold(Table::new(SIZE, ROW_H).column("序号", 8.0, Align::Left), |t, (j, (c, w))| {
        let align = if matches!(sample.get(j), Some(Value::Text(_)) | None) { Align::Left } else { Align::Right };
        t.column(c.title.clone(), w, align)
    })
}

fn cells(seq: String, values: &[Value]) -> Vec<String> {
    std::iter::once(seq).chain(values.iter().map(Value::text)).collect()
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
    let table = layout(r);
    let mut doc = Document::new(&r.title)?;
    let chunks = pdf::paged(&r.rows, ROWS_PER_PAGE, ROWS_PER_PAGE);
    let pages = chunks.len();
    for (n, rows) in chunks.iter().enumerate() {
        doc.page(|p| {
            for (i, line) in wrap(&r.title, A4_W - 2.0 * MARGIN, 12.0).iter().enumerate() {
                let tw = pdf::text_width(line, 12.0);
                p.text((A4_W - tw) / 2.0, 15.0 + 6.0 * i as f32, 12.0, line);
            }
            p.text(MARGIN, 27.0, SIZE + 0.5, &subtitle(r));
            let mut y = table.head(p, HEAD_TOP);
            for (i, values) in rows.iter().enumerate() {
                y = table.row(p, y, &cells((n * ROWS_PER_PAGE + i + 1).to_string(), values));
            }
            if n + 1 == pages && r.rows.len() > 1 {
                y = table.row(p, y, &cells(String::new(), &r.totals));
            }
            table.close(p, HEAD_TOP, y);
            if n + 1 == pages {
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
