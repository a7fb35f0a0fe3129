//! Printing the beneficiary roster (SPEC §6): A4 PDF and xlsx with the guardian-signature column,
//! per-page and grand totals, signature and stamp blocks, and the version and content hash on every
//! page; and the public-notice (公示) list without any identifying column beyond name and class.

use rust_xlsxwriter::{Format, FormatAlign, FormatBorder, Workbook, XlsxError};

use super::pdf::{self, A4_W, Align, Document, MARGIN, Page, Table};
use crate::audit::{self, Entry};
use crate::auth::Caller;
use crate::db::DbConn;
use crate::domain::roster::RosterLine;
use crate::domain::term::Term;
use crate::domain::{codes, mask};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::programme::roster::{self, RosterHead};

/// Which list to print.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// 受益学生花名册: for guardians to sign, filed with the county.
    Signed,
    /// 受益学生名单公示: posted on the notice board; no number, guardian or signature.
    Public,
}

struct Col {
    title: &'static str,
    width: f32,
    value: fn(usize, &RosterLine) -> String,
}

fn yes_no(b: bool) -> String {
    if b { "是".into() } else { "否".into() }
}

const SIGNED_COLS: [Col; 11] = [
    Col { title: "序号", width: 9.0, value: |i, _| i.to_string() },
    // Masked: the paper goes round every guardian of the class (SPEC §6).
    Col { title: "学籍号", width: 33.0, value: |_, l| mask::student_no(&l.student_no) },
    Col { title: "姓名", width: 19.0, value: |_, l| l.name.clone() },
    Col { title: "性别", width: 8.0, value: |_, l| codes::sex_label(&l.sex).to_owned() },
    Col { title: "年级", width: 13.0, value: |_, l| codes::grade_name(l.grade).to_owned() },
    Col { title: "班级", width: 20.0, value: |_, l| l.class_name.clone() },
    Col {
        title: "就读方式",
        width: 13.0,
        value: |_, l| codes::table("attendance").label(&l.attendance).unwrap_or("").to_owned(),
    },
    Col { title: "一补", width: 8.0, value: |_, l| yes_no(l.yibu) },
    Col { title: "留守", width: 9.0, value: |_, l| yes_no(l.is_left_behind()) },
    Col { title: "监护人", width: 19.0, value: |_, l| l.guardian_name.clone() },
    Col { title: "监护人签字", width: 35.0, value: |_, _| String::new() },
];

const PUBLIC_COLS: [Col; 6] = [
    Col { title: "序号", width: 14.0, value: |i, _| i.to_string() },
    Col { title: "姓名", width: 34.0, value: |_, l| l.name.clone() },
    Col { title: "性别", width: 16.0, value: |_, l| codes::sex_label(&l.sex).to_owned() },
    Col { title: "年级", width: 26.0, value: |_, l| codes::grade_name(l.grade).to_owned() },
    Col { title: "班级", width: 38.0, value: |_, l| l.class_name.clone() },
    Col { title: "供餐模式", width: 44.0, value: |_, l| l.meal_model.clone() },
];

impl Kind {
    fn cols(self) -> &'static [Col] {
        match self {
            Kind::Signed => &SIGNED_COLS,
            Kind::Public => &PUBLIC_COLS,
        }
    }

    fn title(self) -> &'static str {
        match self {
            Kind::Signed => "受益学生花名册",
            Kind::Public => "营养改善计划受益学生名单公示",
        }
    }

    /// Signing needs room for a hand; a notice can be denser.
    fn rows_per_page(self) -> usize {
        match self {
            Kind::Signed => 28,
            Kind::Public => 36,
        }
    }

    fn row_h(self) -> f32 {
        match self {
            Kind::Signed => 8.0,
            Kind::Public => 6.4,
        }
    }
}

/// Head counts for a page or the whole list.
#[derive(Default)]
struct Totals {
    all: usize,
    boys: usize,
    girls: usize,
    yibu: usize,
    left_behind: usize,
    boarders: usize,
}

impl Totals {
    fn of<'a>(lines: impl Iterator<Item = &'a RosterLine>) -> Self {
        let mut t = Totals::default();
        for l in lines {
            t.all += 1;
            t.boys += usize::from(l.sex == "1");
            t.girls += usize::from(l.sex == "2");
            t.yibu += usize::from(l.yibu);
            t.left_behind += usize::from(l.is_left_behind());
            t.boarders += usize::from(l.is_boarder());
        }
        t
    }

    fn text(&self, label: &str) -> String {
        format!(
            "{label}：{} 人（男 {}，女 {}；住校 {}；享受一补 {}；留守儿童 {}）",
            self.all, self.boys, self.girls, self.boarders, self.yibu, self.left_behind
        )
    }
}

/// Every character to be printed must be in the shipped font: otherwise name whose field holds
/// which character, rather than print an empty box.
pub fn check_glyphs(head: &RosterHead, lines: &[RosterLine]) -> AppResult<()> {
    let mut problems = Vec::new();
    let mut check = |who: &str, what: &str, text: &str| -> AppResult<()> {
        let missing = pdf::missing_glyphs(text)?;
        if !missing.is_empty() {
            let chars: Vec<String> = missing.iter().map(|c| format!("“{c}”(U+{:04X})", *c as u32)).collect();
            problems.push(format!("{who}的{what}含{}", chars.join("")));
        }
        Ok(())
    };
    check("学校", "名称", &head.school_name)?;
    for l in lines {
        let who = format!("学籍号{}", crate::domain::mask::student_no(&l.student_no));
        check(&who, "姓名", &l.name)?;
        check(&who, "监护人姓名", &l.guardian_name)?;
        check(&who, "班级", &l.class_name)?;
    }
    if problems.is_empty() {
        return Ok(());
    }
    Err(AppError::invalid(
        ErrorCode::PdfMissingGlyph,
        format!("内置字体缺少以下字符，无法正确打印（请核对这些信息或手工填写）：{}", problems.join("；")),
    ))
}

const SIZE: f32 = 8.5;
const TABLE_TOP: f32 = 30.0;
const FOOT_Y: f32 = 289.0;

/// Whether the closing block (grand total, signatures, stamp: about 58 mm under the table) has
/// to go on a page of its own after `lines` lines.
fn closing_page_needed(lines: usize, kind: Kind) -> bool {
    let per = kind.rows_per_page();
    let last_rows = if lines == 0 { 0 } else { (lines - 1) % per + 1 };
    kind == Kind::Signed && TABLE_TOP + 7.0 + kind.row_h() * last_rows as f32 + 58.0 > FOOT_Y - 6.0
}

/// The pages a list of `lines` lines prints on.
pub fn page_count(lines: usize, kind: Kind) -> usize {
    lines.div_ceil(kind.rows_per_page()).max(1) + usize::from(closing_page_needed(lines, kind))
}

/// The lines each page of the table holds, in print order (a closing page of its own, when
/// [`page_count`] has one more, holds none). The scan review sets each beside its scanned page.
pub fn table_pages(lines: &[RosterLine], kind: Kind) -> Vec<&[RosterLine]> {
    pdf::paged(lines, kind.rows_per_page(), kind.rows_per_page())
}

/// Draws one roster into a document: its pages, numbered within the roster.
pub fn draw_into(doc: &mut Document, head: &RosterHead, lines: &[RosterLine], kind: Kind, printed: &str) {
    let per = kind.rows_per_page();
    let pages = table_pages(lines, kind);
    let needs_extra = closing_page_needed(lines.len(), kind);
    let total_pages = page_count(lines.len(), kind);
    let all = Totals::of(lines.iter());
    for (n, page_lines) in pages.iter().enumerate() {
        let first_seq = n * per + 1;
        let is_last = n + 1 == pages.len();
        doc.page(|p| {
            header(p, head, kind);
            let y = table(p, page_lines, first_seq, kind);
            let mut y = y + 5.0;
            p.text(MARGIN, y, SIZE, &Totals::of(page_lines.iter()).text("本页小计"));
            if is_last {
                y += 6.0;
                p.text(MARGIN, y, SIZE + 1.0, &all.text("合    计"));
                if !needs_extra {
                    closing(p, kind, y + 8.0);
                }
            }
            footer(p, head, (n + 1, total_pages), printed);
        });
    }
    if needs_extra {
        doc.page(|p| {
            header(p, head, kind);
            p.text(MARGIN, TABLE_TOP + 6.0, SIZE + 1.0, &all.text("合    计"));
            closing(p, kind, TABLE_TOP + 14.0);
            footer(p, head, (total_pages, total_pages), printed);
        });
    }
}

fn header(p: &mut Page, head: &RosterHead, kind: Kind) {
    let title = format!("{}{}", head.school_name, kind.title());
    let size = 14.0;
    let w = pdf::text_width(&title, size);
    p.text(((A4_W - w) / 2.0).max(MARGIN), 16.0, size, &title);
    let standard = head.standard.map(|s| format!("    补助标准：{s} 元/生·天")).unwrap_or_default();
    p.text(
        MARGIN,
        24.0,
        SIZE,
        &format!(
            "学校标识码：{}    学期：{}    统计日期：{}{standard}",
            head.school_code, head.term_label, head.snapshot_date
        ),
    );
}

/// The table with its header row; returns the y of its bottom edge.
fn table(p: &mut Page, lines: &[RosterLine], first_seq: usize, kind: Kind) -> f32 {
    let cols = kind.cols();
    let layout = cols.iter().fold(Table::new(SIZE, kind.row_h()), |t, c| t.column(c.title, c.width, Align::Left));
    let rows = lines.iter().enumerate().map(|(i, l)| cols.iter().map(|c| (c.value)(first_seq + i, l)).collect());
    layout.draw(p, TABLE_TOP, rows)
}

fn closing(p: &mut Page, kind: Kind, y: f32) {
    match kind {
        Kind::Signed => {
            p.text(
                MARGIN,
                y + 6.0,
                SIZE + 0.5,
                "说明：本花名册由学校依据学籍系统生成，经监护人逐人签字确认，学校盖章后报县教育局审核、县营养办备案。",
            );
            let y = y + 18.0;
            p.text(
                MARGIN,
                y,
                10.0,
                "填表人（签字）：____________      班主任（签字）：____________      校长（签字）：____________",
            );
            p.text(MARGIN, y + 14.0, 10.0, "学校（盖章）");
            p.line(MARGIN + 25.0, y + 2.0 + 14.0, MARGIN + 70.0, y + 2.0 + 14.0, 0.3);
            p.text(MARGIN + 110.0, y + 14.0, 10.0, "日期：______年____月____日");
        }
        Kind::Public => {
            p.text(MARGIN, y + 6.0, SIZE + 0.5, "公示期：自张贴之日起7天。如有异议，请向学校或县营养办反映。");
            p.text(MARGIN + 120.0, y + 16.0, 10.0, "学校（盖章）");
        }
    }
}

fn footer(p: &mut Page, head: &RosterHead, (n, total): (usize, usize), printed: &str) {
    p.line(MARGIN, FOOT_Y - 4.0, A4_W - MARGIN, FOOT_Y - 4.0, 0.2);
    p.text(
        MARGIN,
        FOOT_Y,
        7.0,
        &format!(
            "第 {n} / {total} 页    第{}版    内容校验码 {}    打印时间 {printed}    营养改善计划实名制管理系统",
            head.version,
            head.hash_short()
        ),
    );
}

/// The list as a PDF; the title names the school, term and version.
pub fn pdf(head: &RosterHead, lines: &[RosterLine], kind: Kind, printed: &str) -> AppResult<Vec<u8>> {
    check_glyphs(head, lines)?;
    let mut doc =
        Document::new(&format!("{}{} {} 第{}版", head.school_name, kind.title(), head.term_label, head.version))?;
    draw_into(&mut doc, head, lines, kind, printed);
    Ok(doc.save())
}

fn xl(e: XlsxError) -> AppError {
    AppError::internal(anyhow::anyhow!("xlsx: {e}"))
}

/// The list as a workbook laid out for A4: the same columns, a subtotal row closing each printed
/// page (with a page break after it), the grand total, signature lines, and the version and hash
/// in the page footer.
pub fn xlsx(head: &RosterHead, lines: &[RosterLine], kind: Kind) -> AppResult<Vec<u8>> {
    let cols = kind.cols();
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name(if kind == Kind::Signed { "花名册" } else { "公示名单" }).map_err(xl)?;
    ws.set_paper_size(9).set_portrait().set_print_fit_to_pages(1, 0);
    let title = Format::new().set_bold().set_font_size(14).set_align(FormatAlign::Center);
    let th = Format::new()
        .set_bold()
        .set_border(FormatBorder::Thin)
        .set_align(FormatAlign::Center)
        .set_background_color("#E0E0E0");
    let td = Format::new().set_border(FormatBorder::Thin).set_num_format("@");
    let last_col = u16::try_from(cols.len() - 1).unwrap_or(0);
    ws.merge_range(0, 0, 0, last_col, &format!("{}{}", head.school_name, kind.title()), &title).map_err(xl)?;
    let standard = head.standard.map(|s| format!("    补助标准：{s} 元/生·天")).unwrap_or_default();
    ws.merge_range(
        1,
        0,
        1,
        last_col,
        &format!(
            "学校标识码：{}    学期：{}    统计日期：{}{standard}",
            head.school_code, head.term_label, head.snapshot_date
        ),
        &Format::new(),
    )
    .map_err(xl)?;
    for (i, c) in cols.iter().enumerate() {
        let col = u16::try_from(i).unwrap_or(0);
        ws.write_string_with_format(2, col, c.title, &th).map_err(xl)?;
        ws.set_column_width(col, f64::from(c.width) / 2.0).map_err(xl)?;
    }
    ws.set_repeat_rows(0, 2).map_err(xl)?;
    let mut row: u32 = 3;
    let mut breaks = Vec::new();
    let per = kind.rows_per_page();
    for (p, chunk) in lines.chunks(per).enumerate() {
        for (i, l) in chunk.iter().enumerate() {
            for (k, c) in cols.iter().enumerate() {
                ws.write_string_with_format(row, u16::try_from(k).unwrap_or(0), (c.value)(p * per + i + 1, l), &td)
                    .map_err(xl)?;
            }
            if kind == Kind::Signed {
                ws.set_row_height(row, 22).map_err(xl)?;
            }
            row += 1;
        }
        ws.merge_range(row, 0, row, last_col, &Totals::of(chunk.iter()).text("本页小计"), &Format::new())
            .map_err(xl)?;
        row += 1;
        breaks.push(row);
    }
    breaks.pop();
    if !breaks.is_empty() {
        ws.set_page_breaks(&breaks).map_err(xl)?;
    }
    let bold = Format::new().set_bold();
    ws.merge_range(row, 0, row, last_col, &Totals::of(lines.iter()).text("合    计"), &bold).map_err(xl)?;
    row += 2;
    let closing = match kind {
        Kind::Signed => {
            "填表人（签字）：__________    班主任（签字）：__________    校长（签字）：__________    学校（盖章）    日期：____年__月__日"
        }
        Kind::Public => "公示期：自张贴之日起7天。如有异议，请向学校或县营养办反映。    学校（盖章）",
    };
    ws.merge_range(row, 0, row, last_col, closing, &Format::new()).map_err(xl)?;
    ws.set_footer(format!("&L第{}版  内容校验码 {}&R第 &P / &N 页", head.version, head.hash_short()));
    wb.save_to_buffer().map_err(xl)
}

/// The file formats a roster prints to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    Pdf,
    Xlsx,
}

impl FileFormat {
    /// From a file name or an extension.
    pub fn of(name: &str) -> Option<Self> {
        let lower = name.to_ascii_lowercase();
        if lower.ends_with("pdf") {
            Some(Self::Pdf)
        } else if lower.ends_with("xlsx") {
            Some(Self::Xlsx)
        } else {
            None
        }
    }

    pub fn ext(self) -> &'static str {
        match self {
            Self::Pdf => "pdf",
            Self::Xlsx => "xlsx",
        }
    }
}

/// One roster version printed, audited. Returns (file name, bytes).
pub fn render(
    conn: &mut DbConn,
    caller: &Caller,
    id: i64,
    kind: Kind,
    format: FileFormat,
) -> AppResult<(String, Vec<u8>)> {
    let (head, lines) = roster::get(conn, caller, id)?;
    let bytes = match format {
        FileFormat::Pdf => pdf(&head, &lines, kind, &pdf::printed_now())?,
        FileFormat::Xlsx => {
            check_glyphs(&head, &lines)?;
            xlsx(&head, &lines, kind)?
        }
    };
    audit::record_alone(
        conn,
        &caller.actor(),
        Entry::new("roster.print", "roster", id).after(&serde_json::json!({
            "kind": kind.title(), "format": format.ext(), "version": head.version, "hash": head.hash,
        })),
    )?;
    let name = format!("{}_{}_{}_第{}版.{}", kind.title(), head.school_code, head.term, head.version, format.ext());
    Ok((name, bytes))
}

/// The newest roster of every programme school in the caller's scope for a term, as one PDF
/// (each school from a new page, numbered on its own). `progress(done, total)` after each school.
pub fn render_all(
    conn: &mut DbConn,
    caller: &Caller,
    term: Term,
    progress: &dyn Fn(usize, usize),
) -> AppResult<(String, Vec<u8>, usize)> {
    let rows = roster::overview(conn, caller, term)?;
    let ids: Vec<i64> = rows.iter().filter_map(|r| r.roster_id).collect();
    if ids.is_empty() {
        return Err(AppError::invalid(ErrorCode::RosterNone, format!("{}还没有学校生成花名册", term.label())));
    }
    let mut doc = Document::new(&format!("受益学生花名册 {}", term.label()))?;
    let printed = pdf::printed_now();
    let mut schools = 0;
    for (n, id) in ids.iter().enumerate() {
        let (head, lines) = roster::get(conn, caller, *id)?;
        check_glyphs(&head, &lines)?;
        draw_into(&mut doc, &head, &lines, Kind::Signed, &printed);
        schools += 1;
        progress(n + 1, ids.len());
    }
    let bytes = doc.save();
    audit::record_alone(
        conn,
        &caller.actor(),
        Entry::new("roster.print_all", "org", &caller.org_code)
            .after(&serde_json::json!({"term": term.to_string(), "schools": schools})),
    )?;
    Ok((format!("受益学生花名册_{}_{}.pdf", caller.org_code, term), bytes, schools))
}
