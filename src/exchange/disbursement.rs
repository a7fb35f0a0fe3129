//! The county's 资金拨付审批表 (DOMAIN §6.6) for a settlement month, as A4 PDF and xlsx: per
//! school the meal days, the children (实施人数), child-days, the standard, the amount the roll
//! entitles, what has been passed on and what is still to pass on; signatures and stamps below.
//! Both are drawn from one `Reconciliation`, so they carry the page's figures.

use rust_xlsxwriter::{Format, FormatAlign, FormatBorder, Workbook};

use super::pdf::{self, A4_W, Align, Document, MARGIN, Table};
use crate::audit::{self, Entry};
use crate::auth::Caller;
use crate::db::DbConn;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::ledger::reconcile::{Reconciliation, SchoolRow};

/// The form of a drawn reconciliation as `pdf` or `xlsx`, audited (it leaves the system as a
/// file): (bytes, MIME type, file name). Any other extension is refused.
pub fn export(
    conn: &mut DbConn,
    caller: &Caller,
    r: &Reconciliation,
    ext: &str,
) -> AppResult<(Vec<u8>, &'static str, String)> {
    let (bytes, mime) = match ext {
        "pdf" => (pdf(r, &pdf::printed_now())?, "application/pdf"),
        "xlsx" => (xlsx(r)?, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        other => {
            return Err(AppError::invalid(
                ErrorCode::FileFormat,
                format!("资金拨付审批表只有 pdf 和 xlsx 两种格式，没有“{other}”"),
            ));
        }
    };
    let file = format!("disbursement.{ext}");
    audit::record_alone(
        conn,
        &caller.actor(),
        Entry::new("ledger.disbursement_form", "org", &r.org)
            .after(&serde_json::json!({"month": r.month, "fund": r.fund, "file": file})),
    )?;
    Ok((bytes, mime, format!("{}-{}-{}-{file}", r.org, r.month, r.fund)))
}

struct Col {
    title: &'static str,
    /// The heading on the 一补 form, where the figures mean per-term things.
    yibu: &'static str,
    width: f32,
    value: fn(&SchoolRow) -> String,
    numeric: bool,
}

const COLS: &[Col] = &[
    Col { title: "学校标识码", yibu: "学校标识码", width: 20.0, value: |r| r.school.clone(), numeric: false },
    Col { title: "学校名称", yibu: "学校名称", width: 44.0, value: |r| r.name.clone(), numeric: false },
    Col { title: "供餐天数", yibu: "计算天数", width: 13.0, value: |r| r.meal_days.to_string(), numeric: true },
    Col { title: "实施人数", yibu: "享受人数", width: 13.0, value: |r| r.students.to_string(), numeric: true },
    Col {
        title: "人·天", yibu: "在校人·天", width: 16.0, value: |r| r.beneficiary_days.to_string(), numeric: true
    },
    Col { title: "标准(元)", yibu: "生均(元)", width: 14.0, value: |r| r.standard.to_string(), numeric: true },
    Col { title: "核定金额", yibu: "核定金额", width: 22.0, value: |r| r.entitled.to_string(), numeric: true },
    Col { title: "已拨金额", yibu: "已拨金额", width: 22.0, value: |r| r.allocated.to_string(), numeric: true },
    Col {
        title: "本次拨付", yibu: "本次拨付", width: 22.0, value: |r| r.to_allocate.to_string(), numeric: true
    },
];

const SIZE: f32 = 8.0;
const ROW_H: f32 = 6.5;
const TABLE_TOP: f32 = 34.0;
const ROWS_PER_PAGE: usize = 34;
const SIGNATURES: &str =
    "经办人：__________    县营养办审核：__________    教育局负责人：__________    财政局审批：__________";

fn title(r: &Reconciliation) -> String {
    match r.fund {
        "yibu" => format!("{}家庭经济困难寄宿生生活费补助（一补）资金拨付审批表", r.county_name),
        _ => format!("{}农村义务教育学生营养改善计划膳食补助资金拨付审批表", r.county_name),
    }
}

fn heading(c: &Col, r: &Reconciliation) -> &'static str {
    if r.fund == "yibu" { c.yibu } else { c.title }
}

fn subtitle(r: &Reconciliation) -> String {
    // A school's own form says so: the county issues it, for that school's rows only.
    let only = if r.org == r.county { String::new() } else { format!("    仅{}（{}）", r.org_name, r.org) };
    format!("结算期：{}    单位：元    计划学校 {} 所{only}", r.month, r.rows.len())
}

/// Every character must be in the shipped font (school names can hold rare ones).
fn check_glyphs(r: &Reconciliation) -> AppResult<()> {
    for row in &r.rows {
        if let Some(c) = pdf::missing_glyphs(&row.name)?.first() {
            return Err(AppError::invalid(
                ErrorCode::PdfMissingGlyph,
                format!("学校“{}”（{}）的名称含内置字体没有的字符 U+{:04X}", row.name, row.school, *c as u32),
            ));
        }
    }
    Ok(())
}

pub fn pdf(r: &Reconciliation, printed: &str) -> AppResult<Vec<u8>> {
    check_glyphs(r)?;
    let mut doc = Document::new(&title(r))?;
    let table = layout(r);
    let chunks = pdf::paged(&r.rows, ROWS_PER_PAGE, ROWS_PER_PAGE);
    let pages = chunks.len();
    for (n, rows) in chunks.iter().enumerate() {
        doc.page(|p| {
            let t = title(r);
            let w = pdf::text_width(&t, 13.0);
            p.text(((A4_W - w) / 2.0).max(MARGIN), 16.0, 13.0, &t);
            p.text(MARGIN, 25.0, SIZE + 1.0, &subtitle(r));
            let mut y = table.head(p, TABLE_TOP);
            for (i, row) in rows.iter().enumerate() {
                y = table.row(p, y, &cells((n * ROWS_PER_PAGE + i + 1).to_string(), row));
            }
            if n + 1 == pages {
                y = table.row(p, y, &cells(String::new(), &r.total));
            }
            table.close(p, TABLE_TOP, y);
            if n + 1 == pages {
                y += 10.0;
                for f in &r.county_flags {
                    p.text(MARGIN, y, SIZE, &format!("提示：{}", f.message));
                    y += 5.0;
                }
                p.text(MARGIN, y + 4.0, SIZE + 1.0, SIGNATURES);
                p.text(
                    MARGIN,
                    y + 16.0,
                    SIZE + 1.0,
                    "县教育局（盖章）                    县财政局（盖章）                    日期：____年__月__日",
                );
                p.text(
                    MARGIN,
                    y + 26.0,
                    SIZE,
                    "本表一式两份，附本结算期专户资金凭证。核定金额按实名制学生逐日计算（含已结账月份的调整）。",
                );
            }
            let foot = format!("第 {} / {} 页    打印时间 {printed}", n + 1, pages);
            let w = pdf::text_width(&foot, SIZE);
            p.text((A4_W - w) / 2.0, 287.0, SIZE, &foot);
        });
    }
    Ok(doc.save())
}

/// The form's table: the sequence number, then each column, figures to the right.
fn layout(r: &Reconciliation) -> Table {
    COLS.iter().fold(Table::new(SIZE, ROW_H).column("序号", 8.0, Align::Left), |t, c| {
        t.column(heading(c, r), c.width, if c.numeric { Align::Right } else { Align::Left })
    })
}

fn cells(seq: String, row: &SchoolRow) -> Vec<String> {
    std::iter::once(seq).chain(COLS.iter().map(|c| (c.value)(row))).collect()
}

fn xl(e: rust_xlsxwriter::XlsxError) -> AppError {
    AppError::internal(e)
}

pub fn xlsx(r: &Reconciliation) -> AppResult<Vec<u8>> {
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name("资金拨付审批表").map_err(xl)?;
    ws.set_paper_size(9).set_portrait().set_print_fit_to_pages(1, 0);
    let last_col = u16::try_from(COLS.len() + 1).unwrap_or(0);
    let title_fmt = Format::new().set_bold().set_font_size(14).set_align(FormatAlign::Center);
    let th = Format::new()
        .set_bold()
        .set_border(FormatBorder::Thin)
        .set_align(FormatAlign::Center)
        .set_background_color("#E0E0E0");
    let td = Format::new().set_border(FormatBorder::Thin);
    let money = Format::new().set_border(FormatBorder::Thin).set_num_format("#,##0.00");
    ws.merge_range(0, 0, 0, last_col, &title(r), &title_fmt).map_err(xl)?;
    ws.merge_range(1, 0, 1, last_col, &subtitle(r), &Format::new()).map_err(xl)?;
    ws.write_string_with_format(2, 0, "序号", &th).map_err(xl)?;
    for (i, c) in COLS.iter().enumerate() {
        let col = u16::try_from(i + 1).unwrap_or(0);
        ws.write_string_with_format(2, col, heading(c, r), &th).map_err(xl)?;
        ws.set_column_width(col, f64::from(c.width) / 2.0).map_err(xl)?;
    }
    ws.write_string_with_format(2, last_col, "提示", &th).map_err(xl)?;
    ws.set_column_width(last_col, 40).map_err(xl)?;
    let mut row: u32 = 3;
    let all: Vec<(String, &SchoolRow)> =
        r.rows.iter().enumerate().map(|(i, s)| ((i + 1).to_string(), s)).chain([(String::new(), &r.total)]).collect();
    for (seq, s) in all {
        ws.write_string_with_format(row, 0, &seq, &td).map_err(xl)?;
        for (i, c) in COLS.iter().enumerate() {
            let col = u16::try_from(i + 1).unwrap_or(0);
            let v = (c.value)(s);
            match (c.numeric, v.parse::<f64>()) {
                // Money and counts as numbers, so the clerk's own sums work; the text is exact.
                (true, Ok(n)) => ws.write_number_with_format(row, col, n, if v.contains('.') { &money } else { &td }),
                _ => ws.write_string_with_format(row, col, &v, &td),
            }
            .map_err(xl)?;
        }
        let notes: Vec<&str> = s.flags.iter().map(|f| f.message.as_str()).collect();
        ws.write_string_with_format(row, last_col, notes.join("；"), &td).map_err(xl)?;
        row += 1;
    }
    row += 1;
    for f in &r.county_flags {
        ws.merge_range(row, 0, row, last_col, &format!("提示：{}", f.message), &Format::new()).map_err(xl)?;
        row += 1;
    }
    ws.merge_range(row, 0, row, last_col, SIGNATURES, &Format::new()).map_err(xl)?;
    ws.merge_range(
        row + 2,
        0,
        row + 2,
        last_col,
        "县教育局（盖章）        县财政局（盖章）        日期：____年__月__日",
        &Format::new(),
    )
    .map_err(xl)?;
    ws.merge_range(row + 3, 0, row + 3, last_col, "本表一式两份，附本结算期专户资金凭证。", &Format::new())
        .map_err(xl)?;
    wb.save_to_buffer().map_err(xl)
}
