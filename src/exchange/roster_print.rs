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
    /// Free text that may need more than one line (names); codes, numbers and dates fit.
    wraps: bool,
}

fn yes_no(b: bool) -> String {
    if b { "是".into() } else { "否".into() }
}

const SIGNED_COLS: [Col; 11] = [
    Col { title: "序号", width: 9.0, value: |i, _| i.to_string(), wraps: false },
    // Masked: the paper goes round every guardian of the class (SPEC §6).
    Col { title: "学籍号", width: 33.0, value: |_, l| mask::student_no(&l.student_no), wraps: false },
    Col { title: "姓名", width: 19.0, value: |_, l| l.name.clone(), wraps: true },
    Col { title: "性别", width: 8.0, value: |_, l| codes::sex_label(&l.sex).to_owned(), wraps: false },
    Col { title: "年级", width: 13.0, value: |_, l| codes::grade_name(l.grade).to_owned(), wraps: false },
    Col { title: "班级", width: 20.0, value: |_, l| l.class_name.clone(), wraps: true },
    Col {
        title: "就读方式",
        width: 13.0,
        value: |_, l| codes::table("attendance").label(&l.attendance).unwrap_or("").to_owned(),
        wraps: false,
    },
    Col { title: "一补", width: 8.0, value: |_, l| yes_no(l.yibu), wraps: false },
    Col { title: "留守", width: 9.0, value: |_, l| yes_no(l.is_left_behind()), wraps: false },
    Col { title: "监护人", width: 19.0, value: |_, l| l.guardian_name.clone(), wraps: true },
    Col { title: "监护人签字", width: 35.0, value: |_, _| String::new(), wraps: false },
];

const PUBLIC_COLS: [Col; 6] = [
    Col { title: "序号", width: 14.0, value: |i, _| i.to_string(), wraps: false },
    Col { title: "姓名", width: 34.0, value: |_, l| l.name.clone(), wraps: true },
    Col { title: "性别", width: 16.0, value: |_, l| codes::sex_label(&l.sex).to_owned(), wraps: false },
    Col { title: "年级", width: 26.0, value: |_, l| codes::grade_name(l.grade).to_owned(), wraps: false },
    Col { title: "班级", width: 38.0, value: |_, l| l.class_name.clone(), wraps: true },
    Col { title: "供餐模式", width: 44.0, value: |_, l| l.meal_model.clone(), wraps: true },
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

/// How many row heights a line takes: a name too long for one line wraps at a readable size,
/// and its row grows to hold it.
fn slots(l: &RosterLine, kind: Kind) -> usize {
    kind.cols()
        .iter()
        .filter(|c| c.wraps)
        .map(|c| pdf::rows_needed(&(c.value)(0, l), c.width, kind.row_h(), SIZE))
        .max()
        .unwrap_or(1)
}

/// A page of a roster's table as printed: its lines, the 序号 of the first, the class it belongs
/// to (printed by class), and that class's lines when the class ends on it (for its total).
pub struct TablePage<'a> {
    pub lines: &'a [RosterLine],
    pub first_seq: usize,
    pub class_name: Option<&'a str>,
    pub class_end: Option<&'a [RosterLine]>,
    /// Row heights the page's lines take.
    slots: usize,
}

/// The pages a roster's table prints on, in order. Printed by class (the default), each class
/// starts a page of its own with its 序号 from 1 and ends with its total, so a head teacher can
/// take away just their class's sheets; otherwise the lines run on. A page holds
/// `rows_per_page` row heights; a long name's row takes more than one. Always at least one page.
pub fn table_pages(lines: &[RosterLine], kind: Kind, by_class: bool) -> Vec<TablePage<'_>> {
    let mut groups: Vec<&[RosterLine]> = Vec::new();
    if by_class {
        let mut start = 0;
        for i in 1..=lines.len() {
            if i == lines.len() || lines[i].class_name != lines[start].class_name {
                groups.push(&lines[start..i]);
                start = i;
            }
        }
    } else {
        groups.push(lines);
    }
    if groups.is_empty() {
        groups.push(lines);
    }
    let per = kind.rows_per_page();
    let mut pages = Vec::new();
    let mut seq = 1;
    for group in groups {
        if by_class {
            seq = 1;
        }
        let mut start = 0;
        loop {
            let (mut end, mut used) = (start, 0);
            while end < group.len() {
                let need = slots(&group[end], kind);
                if end > start && used + need > per {
                    break;
                }
                used += need;
                end += 1;
            }
            let last = end >= group.len();
            pages.push(TablePage {
                lines: &group[start..end],
                first_seq: seq,
                class_name: (by_class && !group.is_empty()).then(|| group[0].class_name.as_str()),
                class_end: (by_class && last).then_some(group),
                slots: used,
            });
            seq += end - start;
            start = end;
            if last {
                break;
            }
        }
    }
    pages
}

/// Where the last page's table ends, with its subtotal (and class total) under it.
fn table_bottom(page: &TablePage, kind: Kind) -> f32 {
    TABLE_TOP + 7.0 + kind.row_h() * page.slots as f32 + 5.0 + if page.class_end.is_some() { 6.0 } else { 0.0 }
}

/// Whether the closing block (grand total, signatures, stamp: about 58 mm under the table) has
/// to go on a page of its own after the last page of the table.
fn closing_page_needed(last: Option<&TablePage>, kind: Kind) -> bool {
    kind == Kind::Signed && last.is_some_and(|p| table_bottom(p, kind) + 53.0 > FOOT_Y - 6.0)
}

/// The pages a roster prints on: its table's, and a closing page when the signatures need one.
pub fn page_count(lines: &[RosterLine], kind: Kind, by_class: bool) -> usize {
    let pages = table_pages(lines, kind, by_class);
    pages.len() + usize::from(closing_page_needed(pages.last(), kind))
}

/// Draws one roster into a document: its pages, numbered within the roster.
pub fn draw_into(
    doc: &mut Document,
    head: &RosterHead,
    lines: &[RosterLine],
    kind: Kind,
    by_class: bool,
    printed: &str,
) {
    let pages = table_pages(lines, kind, by_class);
    let needs_extra = closing_page_needed(pages.last(), kind);
    let total_pages = pages.len() + usize::from(needs_extra);
    let all = Totals::of(lines.iter());
    for (n, page) in pages.iter().enumerate() {
        let is_last = n + 1 == pages.len();
        doc.page(|p| {
            header(p, head, kind, page.class_name);
            let y = table(p, page, kind);
            let mut y = y + 5.0;
            p.text(MARGIN, y, SIZE, &Totals::of(page.lines.iter()).text("本页小计"));
            if let (Some(class), Some(name)) = (page.class_end, page.class_name) {
                y += 6.0;
                p.text(MARGIN, y, SIZE + 0.5, &Totals::of(class.iter()).text(&format!("{name}合计")));
            }
            if is_last {
                y += 6.0;
                p.text(MARGIN, y, SIZE + 1.0, &all.text("全校合计"));
                if !needs_extra {
                    closing(p, kind, y + 8.0);
                }
            }
            footer(p, head, (n + 1, total_pages), printed);
        });
    }
    if needs_extra {
        doc.page(|p| {
            header(p, head, kind, None);
            p.text(MARGIN, TABLE_TOP + 6.0, SIZE + 1.0, &all.text("全校合计"));
            closing(p, kind, TABLE_TOP + 14.0);
            footer(p, head, (total_pages, total_pages), printed);
        });
    }
}

fn header(p: &mut Page, head: &RosterHead, kind: Kind, class: Option<&str>) {
    let title = format!("{}{}", head.school_name, kind.title());
    let size = 14.0;
    let w = pdf::text_width(&title, size);
    p.text(((A4_W - w) / 2.0).max(MARGIN), 16.0, size, &title);
    // A class's pages say whose they are where a head teacher looks first: beside the title.
    if let Some(c) = class {
        let label = format!("班级：{c}");
        p.text(A4_W - MARGIN - pdf::text_width(&label, 10.0), 16.0, 10.0, &label);
    }
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
fn table(p: &mut Page, page: &TablePage, kind: Kind) -> f32 {
    let cols = kind.cols();
    let layout = cols.iter().fold(Table::new(SIZE, kind.row_h()), |t, c| t.column(c.title, c.width, Align::Left));
    let mut y = layout.head(p, TABLE_TOP);
    for (i, l) in page.lines.iter().enumerate() {
        let cells: Vec<String> = cols.iter().map(|c| (c.value)(page.first_seq + i, l)).collect();
        y = layout.row_of(p, y, &cells, kind.row_h() * slots(l, kind) as f32);
    }
    layout.close(p, TABLE_TOP, y);
    y
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
pub fn pdf(head: &RosterHead, lines: &[RosterLine], kind: Kind, by_class: bool, printed: &str) -> AppResult<Vec<u8>> {
    check_glyphs(head, lines)?;
    let mut doc =
        Document::new(&format!("{}{} {} 第{}版", head.school_name, kind.title(), head.term_label, head.version))?;
    draw_into(&mut doc, head, lines, kind, by_class, printed);
    Ok(doc.save())
}

fn xl(e: XlsxError) -> AppError {
    AppError::internal(anyhow::anyhow!("xlsx: {e}"))
}

/// The list as a workbook laid out for A4: the same columns, a subtotal row closing each printed
/// page (with a page break after it), the grand total, signature lines, and the version and hash
/// in the page footer.
pub fn xlsx(head: &RosterHead, lines: &[RosterLine], kind: Kind, by_class: bool) -> AppResult<Vec<u8>> {
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
    let td = Format::new().set_border(FormatBorder::Thin).set_num_format("@").set_text_wrap();
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
    for page in table_pages(lines, kind, by_class) {
        for (i, l) in page.lines.iter().enumerate() {
            for (k, c) in cols.iter().enumerate() {
                ws.write_string_with_format(row, u16::try_from(k).unwrap_or(0), (c.value)(page.first_seq + i, l), &td)
                    .map_err(xl)?;
            }
            let rows = u16::try_from(slots(l, kind)).unwrap_or(1);
            if kind == Kind::Signed {
                ws.set_row_height(row, 22 * rows).map_err(xl)?;
            } else if rows > 1 {
                ws.set_row_height(row, 16 * rows).map_err(xl)?;
            }
            row += 1;
        }
        ws.merge_range(row, 0, row, last_col, &Totals::of(page.lines.iter()).text("本页小计"), &Format::new())
            .map_err(xl)?;
        row += 1;
        if let (Some(class), Some(name)) = (page.class_end, page.class_name) {
            let total = Totals::of(class.iter()).text(&format!("{name}合计"));
            ws.merge_range(row, 0, row, last_col, &total, &Format::new().set_bold()).map_err(xl)?;
            row += 1;
        }
        breaks.push(row);
    }
    breaks.pop();
    if !breaks.is_empty() {
        ws.set_page_breaks(&breaks).map_err(xl)?;
    }
    let bold = Format::new().set_bold();
    ws.merge_range(row, 0, row, last_col, &Totals::of(lines.iter()).text("全校合计"), &bold).map_err(xl)?;
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
    by_class: bool,
) -> AppResult<(String, Vec<u8>)> {
    let (head, lines) = roster::get(conn, caller, id)?;
    let bytes = match format {
        FileFormat::Pdf => pdf(&head, &lines, kind, by_class, &pdf::printed_now())?,
        FileFormat::Xlsx => {
            check_glyphs(&head, &lines)?;
            xlsx(&head, &lines, kind, by_class)?
        }
    };
    audit::record_alone(
        conn,
        &caller.actor(),
        Entry::new("roster.print", "roster", id).after(&serde_json::json!({
            "kind": kind.title(), "format": format.ext(), "version": head.version, "hash": head.hash, "by_class": by_class,
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
        draw_into(&mut doc, &head, &lines, Kind::Signed, true, &printed);
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
