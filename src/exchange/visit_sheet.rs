//! The A4 visit sheet (现场核查表) an inspector takes to a drawn school: the plan's seed and data
//! hash, the checklist of documents to see, the meal recount against the school's own count (a
//! gap of 10 % or more is a finding), and the drawn children with boxes to tick.

use super::pdf::{self, A4_W, Document, Page};
use crate::error::{AppError, AppResult};
use crate::inspection::sample::{PlanView, VisitView};

const MARGIN: f32 = 15.0;
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
    let text: String = visit.children.iter().map(|c| c.name.as_str()).chain([visit.school_name.as_str()]).collect();
    let missing = pdf::missing_glyphs(&text)?;
    if !missing.is_empty() {
        return Err(AppError::invalid(
            "pdf.glyph",
            format!("内置字体缺少字符：{}，请联系管理员", missing.iter().collect::<String>()),
        ));
    }
    let printed = pdf::printed_now();
    let chunks: Vec<&[crate::inspection::sample::Child]> = if visit.children.len() <= FIRST_PAGE_ROWS {
        vec![&visit.children[..]]
    } else {
        let (first, rest) = visit.children.split_at(FIRST_PAGE_ROWS);
        std::iter::once(first).chain(rest.chunks(PAGE_ROWS)).collect()
    };
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
                p.text(
                    MARGIN,
                    y,
                    SIZE,
                    "督查人员签字：________________    学校负责人签字：________________    日期：____年__月__日",
                );
            }
            p.text(
                MARGIN,
                287.0,
                7.5,
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
fn table(p: &mut Page, top: f32, rows: &[crate::inspection::sample::Child]) -> f32 {
    let width: f32 = COLUMNS.iter().map(|c| c.1).sum();
    p.shade(MARGIN, top, width, ROW_H, 0.9);
    let mut x = MARGIN;
    for (label, w) in COLUMNS {
        p.text(x + 1.5, top + 4.8, SIZE, label);
        x += w;
    }
    let mut y = top + ROW_H;
    for c in rows {
        let cells = [
            c.seq.to_string(),
            c.student_no.clone(),
            c.name.clone(),
            c.sex.to_owned(),
            c.class_name.clone(),
            "□".into(),
            "□".into(),
            "□".into(),
            "□".into(),
        ];
        let mut x = MARGIN;
        for ((_, w), cell) in COLUMNS.iter().zip(cells) {
            p.text(x + 1.5, y + 4.8, SIZE, &cell);
            x += w;
        }
        y += ROW_H;
        p.line(MARGIN, y, MARGIN + width, y, 0.3);
    }
    p.line(MARGIN, top, MARGIN + width, top, 0.6);
    p.line(MARGIN, top + ROW_H, MARGIN + width, top + ROW_H, 0.6);
    let mut x = MARGIN;
    for (_, w) in COLUMNS.iter().chain([("", 0.0)].iter()) {
        p.line(x, top, x, y, 0.3);
        x += w;
    }
    y
}
