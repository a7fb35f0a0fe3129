//! The A4 visit sheet (现场核查表) an inspector takes to a drawn school: the plan's seed and data
//! hash, the checklist of documents to see, the meal recount against the school's own count (a
//! gap of 10 % or more is a finding), and the drawn children with boxes to tick. And the visit's
//! report (现场核查报告) once recorded: the same children with what was found, the recount, and
//! the findings the visit opened with their rectification.

use super::pdf::{self, A4_W, Align, Document, MARGIN, Page, Table};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::inspection::findings::FindingView;
use crate::inspection::sample::{Child, PlanView, VisitView};
use crate::inspection::visits::{RECOUNT_GAP, recount_gap};

const SIZE: f32 = 9.0;
const ROW_H: f32 = 7.0;

/// What an inspector checks at every visit (DOMAIN §7; the anchors' review forms).
pub const CHECKLIST: [&str; 9] = [
    "纸质花名册监护人签字与系统电子名册一致",
    "受益学生名单已在校内公示",
    "食材采购索证索票（购货凭证、发票）齐全",
    "食材入库验收记录完整",
    "食堂出入库台账与采购、就餐人数相符",
    "食品经营许可证、从业人员健康证在有效期内",
    "每餐食品留样（125克、48小时）",
    "学校负责人陪餐记录",
    "膳食补助专账核算，无挤占挪用",
];

/// The line both documents end with.
const SIGNATURES: &str = "督查人员签字：________________    学校负责人签字：________________    日期：____年__月__日";

/// The small print at the foot of every page.
fn footer(p: &mut Page, text: &str) {
    p.text(MARGIN, 287.0, 7.5, text);
}

/// Children per page after the first page's checklist.
const FIRST_PAGE_ROWS: usize = 14;
const PAGE_ROWS: usize = 32;

const COLUMNS: [(&str, f32); 9] = [
    ("序号", 10.0),
    ("学籍号", 42.0),
    ("姓名", 24.0),
    ("性别", 10.0),
    ("班级", 30.0),
    ("在校", 12.0),
    ("在本班", 14.0),
    ("在校就餐", 16.0),
    ("监护人确认", 22.0),
];

/// The sheet for one visit of a plan: (file name, PDF).
pub fn sheet(plan: &PlanView, visit_id: i64) -> AppResult<(String, Vec<u8>)> {
    let visit = plan.visits.iter().find(|v| v.id == visit_id).ok_or_else(AppError::not_found)?;
    printable(visit, &[])?;
    let printed = pdf::printed_now();
    let chunks = pdf::paged(&visit.children, FIRST_PAGE_ROWS, PAGE_ROWS);
    let pages = chunks.len();
    let mut doc = Document::new(&format!("现场核查表 {} {}", visit.school_name, plan.term))?;
    for (i, rows) in chunks.iter().enumerate() {
        doc.page(|p| {
            let mut y = MARGIN + 6.0;
            if i == 0 {
                y = head(p, plan, visit);
            } else {
                p.text(MARGIN, y, SIZE, &format!("{}（{}）现场核查表 · 续", visit.school_name, visit.school));
                y += 8.0;
            }
            y = table(p, y, rows);
            if i + 1 == pages {
                y += 8.0;
                p.text(MARGIN, y, SIZE, SIGNATURES);
            }
            footer(
                p,
                &format!(
                    "计划 {} · 种子 {} · 数据校验 {} · 打印于 {printed}（北京时间） · 第{}页／共{pages}页",
                    plan.id,
                    plan.seed,
                    &plan.data_hash[..16],
                    i + 1
                ),
            );
        });
    }
    Ok((format!("现场核查表_{}_{}.pdf", visit.school, plan.term), doc.save()))
}

/// The first page's title, plan, checklist and meal recount; returns where the table starts.
fn head(p: &mut Page, plan: &PlanView, visit: &VisitView) -> f32 {
    let title = "农村义务教育学生营养改善计划 现场核查表";
    p.text((A4_W - pdf::text_width(title, 14.0)) / 2.0, MARGIN + 6.0, 14.0, title);
    let mut y = MARGIN + 16.0;
    let term = crate::domain::term::Term::parse(&plan.term).map_or(plan.term.clone(), |t| t.label());
    let risk = visit.risk.as_deref().map_or("随机抽取".to_owned(), |r| format!("按风险抽取，风险分 {r}"));
    for line in [
        format!("学校：{}（{}）    {}    {term}", visit.school_name, visit.school, plan.county_name),
        format!(
            "抽样：{}（{}），种子 {}，共{}所学校；本校{}",
            plan.method_label,
            plan.drawn_by,
            plan.seed,
            plan.visits.len(),
            risk
        ),
        "核查日期：____年__月__日    督查人员：________________    陪同人员：________________".to_owned(),
    ] {
        p.text(MARGIN, y, SIZE, &line);
        y += 6.0;
    }
    y += 2.0;
    p.text(MARGIN, y, 10.5, "一、核查项目（逐项打“√”或“×”，“×”须在备注写明情况）");
    y += 6.0;
    for (i, item) in CHECKLIST.iter().enumerate() {
        p.text(MARGIN + 2.0, y, SIZE, &format!("{}. {item}", i + 1));
        p.text(150.0, y, SIZE, "□是   □否   备注：______");
        y += 5.6;
    }
    y += 3.0;
    p.text(MARGIN, y, 10.5, "二、当餐就餐人数复核（差异达10%即记为问题）");
    y += 6.0;
    p.text(MARGIN + 2.0, y, SIZE, "学校自报当餐就餐人数：______    督查现场清点人数：______    差异：______%");
    y += 8.0;
    p.text(MARGIN, y, 10.5, "三、抽查学生（逐人核对：在校、在本班、在校就餐、电话回访监护人确认）");
    y + 4.0
}

/// The children table with its header; returns the y below it.
fn table(p: &mut Page, top: f32, rows: &[Child]) -> f32 {
    let layout = COLUMNS.iter().fold(Table::new(SIZE, ROW_H), |t, (title, w)| t.column(*title, *w, Align::Left));
    let cells = rows.iter().map(|c| {
        vec![
            c.seq.to_string(),
            c.student_no.clone(),
            c.name.clone(),
            c.sex.to_owned(),
            c.class_name.clone(),
            tick(c.present),
            tick(c.in_class),
            tick(c.eats_here),
            tick(c.guardian_confirms),
        ]
    });
    layout.draw(p, top, cells)
}

/// A box to tick on the sheet; what was found on the report.
fn tick(v: Option<bool>) -> String {
    match v {
        None => "□".into(),
        Some(true) => "是".into(),
        Some(false) => "否".into(),
    }
}

/// Refuses a document the embedded font cannot print, naming the characters.
fn printable(visit: &VisitView, findings: &[FindingView]) -> AppResult<()> {
    let text: String = visit
        .children
        .iter()
        .map(|c| c.name.as_str())
        .chain([visit.school_name.as_str(), visit.note.as_str()])
        .chain(findings.iter().flat_map(|f| [f.description.as_str(), f.rectification.as_deref().unwrap_or("")]))
        .collect();
    let missing = pdf::missing_glyphs(&text)?;
    if missing.is_empty() {
        Ok(())
    } else {
        Err(AppError::invalid(
            ErrorCode::PdfGlyph,
            format!("内置字体缺少字符：{}，请联系管理员", missing.iter().collect::<String>()),
        ))
    }
}

/// Children on the report's first page, below the head and recount.
const REPORT_FIRST_ROWS: usize = 18;
/// Height the findings, note and signatures need per finding line and around them.
const FINDING_H: f32 = 11.0;

/// The report of one recorded visit: (file name, PDF). `findings` are those the visit opened.
pub fn report(plan: &PlanView, visit_id: i64, findings: &[FindingView]) -> AppResult<(String, Vec<u8>)> {
    let visit = plan.visits.iter().find(|v| v.id == visit_id).ok_or_else(AppError::not_found)?;
    let Some(on) = visit.visited_on else {
        return Err(AppError::conflict(
            ErrorCode::VisitNotRecorded,
            format!("{}尚未记录现场核查，还没有报告", visit.school_name),
        ));
    };
    printable(visit, findings)?;
    let printed = pdf::printed_now();
    let mut groups: Vec<&[Child]> = pdf::paged(&visit.children, REPORT_FIRST_ROWS, PAGE_ROWS);
    // The findings go below the last table if they fit, else on a page of their own.
    let tail_h = 40.0 + FINDING_H * (findings.len().max(1) as f32) + 6.0 * (visit.note.chars().count() / 70 + 1) as f32;
    let last_rows = groups.last().map_or(0, |g| g.len());
    let last_top = if groups.len() == 1 { 110.0 } else { MARGIN + 14.0 };
    if last_top + ROW_H * (last_rows as f32 + 1.0) + tail_h > 280.0 {
        groups.push(&[]);
    }
    let pages = groups.len();
    let wrong = visit
        .children
        .iter()
        .filter(|c| [c.present, c.in_class, c.eats_here, c.guardian_confirms].contains(&Some(false)))
        .count();
    let mut doc = Document::new(&format!("现场核查报告 {} {}", visit.school_name, plan.term))?;
    for (i, rows) in groups.iter().enumerate() {
        doc.page(|p| {
            let mut y;
            if i == 0 {
                let title = "农村义务教育学生营养改善计划 现场核查报告";
                p.text((A4_W - pdf::text_width(title, 14.0)) / 2.0, MARGIN + 6.0, 14.0, title);
                y = MARGIN + 16.0;
                let term = crate::domain::term::Term::parse(&plan.term).map_or(plan.term.clone(), |t| t.label());
                let recount = match (visit.meals_school, visit.meals_counted) {
                    (Some(s), Some(c)) => match recount_gap(s, c) {
                        Some(g) => {
                            format!("学校自报 {s} 人次，现场清点 {c} 人次，差异 {g}%，达到{RECOUNT_GAP}%，已记为问题")
                        }
                        None => format!("学校自报 {s} 人次，现场清点 {c} 人次，差异未达{RECOUNT_GAP}%"),
                    },
                    _ => "未复核".to_owned(),
                };
                for line in [
                    format!("学校：{}（{}）    {}    {term}", visit.school_name, visit.school, plan.county_name),
                    format!(
                        "抽查计划 {}：{}，种子 {}；本校{}",
                        plan.id,
                        plan.method_label,
                        plan.seed,
                        visit.risk.as_deref().map_or("随机抽取".to_owned(), |r| format!("按风险抽取，风险分 {r}"))
                    ),
                    format!("核查日期：{on}    督查人员：{}", visit.visited_by.as_deref().unwrap_or("")),
                ] {
                    p.text(MARGIN, y, SIZE, &line);
                    y += 6.0;
                }
                y += 2.0;
                p.text(MARGIN, y, 10.5, "一、当餐就餐人数复核");
                y += 6.0;
                p.text(MARGIN + 2.0, y, SIZE, &recount);
                y += 8.0;
                p.text(
                    MARGIN,
                    y,
                    10.5,
                    &format!("二、抽查学生 {} 人，核对有误 {wrong} 人（“否”为核对不符）", visit.children.len()),
                );
                y += 4.0;
            } else {
                p.text(
                    MARGIN,
                    MARGIN + 6.0,
                    SIZE,
                    &format!("{}（{}）现场核查报告 · 续", visit.school_name, visit.school),
                );
                y = MARGIN + 14.0;
            }
            if !rows.is_empty() {
                y = table(p, y, rows);
            }
            if i + 1 == pages {
                y += 8.0;
                p.text(MARGIN, y, 10.5, &format!("三、发现问题 {} 项", findings.len()));
                y += 6.0;
                if findings.is_empty() {
                    p.text(MARGIN + 2.0, y, SIZE, "本次核查未发现问题。");
                    y += FINDING_H;
                }
                for f in findings {
                    let amount = f.amount.as_deref().map_or(String::new(), |a| format!("，涉及 {a} 元"));
                    let deadline = f.deadline.map_or(String::new(), |d| format!("，整改期限 {d}"));
                    let rule = if f.rule == "visit" { String::new() } else { format!("{} ", f.rule) };
                    let line = format!(
                        "问题 {}：{rule}{}（{}{amount}），{}{deadline}",
                        f.id, f.rule_title, f.severity_label, f.status_label
                    );
                    p.text(MARGIN + 2.0, y, SIZE, &line);
                    let what: String = f.description.chars().take(70).collect();
                    p.text(MARGIN + 6.0, y + 5.0, SIZE, &what);
                    y += FINDING_H;
                }
                y += 2.0;
                p.text(MARGIN, y, 10.5, "四、备注");
                y += 6.0;
                let note: Vec<char> = visit.note.chars().collect();
                for part in note.chunks(70) {
                    p.text(MARGIN + 2.0, y, SIZE, &part.iter().collect::<String>());
                    y += 6.0;
                }
                y += 6.0;
                p.text(MARGIN, y, SIZE, SIGNATURES);
            }
            footer(
                p,
                &format!(
                    "计划 {} · 数据校验 {} · 打印于 {printed}（北京时间） · 学籍号已部分隐藏 · 第{}页／共{pages}页",
                    plan.id,
                    &plan.data_hash[..16],
                    i + 1
                ),
            );
        });
    }
    Ok((format!("现场核查报告_{}_{}.pdf", visit.school, plan.term), doc.save()))
}
