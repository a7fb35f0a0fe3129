//! The per-class student information form (学生基本信息核对表): one A4 page per student with every
//! field of the national table, grouped, and a line for the guardian's signature.

use diesel::prelude::*;

use super::pdf::{self, A4_W, Document, Page};
use crate::audit::{self, Entry};
use crate::auth::Caller;
use crate::db::DbConn;
use crate::db::schema::{classes, orgs, students};
use crate::domain::role::Permission;
use crate::domain::student::{FIELDS, GROUP_TITLES, StudentRecord};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::registry::model::StudentRow;

const MARGIN: f32 = 15.0;
const ROW_H: f32 = 6.4;
const SIZE: f32 = 8.5;
/// Three label/value pairs share a row; a value too long for its slot takes a whole row.
const PER_ROW: usize = 3;
const LABEL_W: f32 = 24.0;

/// The forms of one class (enrolled students, by student number). Returns (file name, PDF).
/// The ID numbers print in full for the guardian to check, so this takes the right to edit.
pub fn class_forms(conn: &mut DbConn, caller: &Caller, class_id: i64) -> AppResult<(String, Vec<u8>)> {
    caller.require(conn, Permission::EditStudents, "print_student_forms")?;
    let (class_name, school_code, school_name): (String, String, String) = classes::table
        .inner_join(orgs::table)
        .filter(classes::id.eq(class_id))
        .filter(orgs::path.like(caller.scope().like_pattern()))
        .select((classes::name, orgs::code, orgs::name))
        .first(conn)
        .optional()?
        .ok_or_else(AppError::not_found)?;
    let mut rows: Vec<StudentRow> = students::table
        .filter(students::class_id.eq(class_id))
        .filter(students::status.eq("enrolled"))
        .select(StudentRow::as_select())
        .load(conn)?;
    // In number order (sorted here: the numbers are sealed in the database).
    rows.sort_by(|a, b| a.student_no.cmp(&b.student_no));
    if rows.is_empty() {
        return Err(AppError::invalid(ErrorCode::PdfEmptyClass, "该班级没有在校学生，无需打印"));
    }
    let records: Vec<(String, StudentRecord)> = rows.iter().map(|r| (r.student_no.clone(), r.record())).collect();
    check_glyphs(&records)?;
    let printed = caller.today().format("%Y-%m-%d").to_string();
    let mut doc = Document::new(&format!("学生基本信息核对表 {school_name} {class_name}"))?;
    let total = records.len();
    for (i, (no, record)) in records.iter().enumerate() {
        doc.page(|p| draw(p, &school_name, &class_name, no, record, (i + 1, total), &printed));
    }
    let bytes = doc.save();
    audit::record_alone(
        conn,
        &caller.actor(),
        Entry::new("student.print_forms", "class", class_id)
            .after(&serde_json::json!({"school": school_code, "students": total})),
    )?;
    Ok((format!("学生基本信息核对表_{school_code}_{class_name}.pdf"), bytes))
}

/// Every character to be printed must be in the font; otherwise say whose field holds which one.
fn check_glyphs(records: &[(String, StudentRecord)]) -> AppResult<()> {
    let mut problems = Vec::new();
    for (_, r) in records {
        for f in FIELDS.iter() {
            let missing = pdf::missing_glyphs(&r.display(f.key))?;
            if !missing.is_empty() {
                let chars: Vec<String> = missing.iter().map(|c| format!("“{c}”(U+{:04X})", *c as u32)).collect();
                problems.push(format!("学生“{}”的“{}”含{}", r.name(), f.header, chars.join("")));
            }
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    Err(AppError::invalid(
        ErrorCode::PdfMissingGlyph,
        format!("内置字体缺少以下字符，无法正确打印（请手工填写这些栏目）：{}", problems.join("；")),
    ))
}

fn draw(
    p: &mut Page,
    school: &str,
    class: &str,
    student_no: &str,
    r: &StudentRecord,
    (n, total): (usize, usize),
    printed: &str,
) {
    let width = A4_W - 2.0 * MARGIN;
    let slot = width / PER_ROW as f32;
    let value_w = slot - LABEL_W - 2.0;
    p.text(MARGIN, 20.0, 15.0, "学生基本信息核对表（请监护人核对签字）");
    p.text(
        MARGIN,
        27.0,
        9.5,
        &format!("学校：{school}    班级：{class}    学籍号：{student_no}    姓名：{}", r.name()),
    );
    let mut y = 31.0;
    for (g, title) in GROUP_TITLES.iter().enumerate() {
        y += 1.5;
        p.shade(MARGIN, y, width, ROW_H, 0.88);
        p.text(MARGIN + 1.5, y + ROW_H - 1.8, SIZE + 0.5, title);
        p.line(MARGIN, y, MARGIN + width, y, 0.5);
        y += ROW_H;
        let mut col = 0;
        let row_top = |y: f32, p: &mut Page| p.line(MARGIN, y, MARGIN + width, y, 0.3);
        for f in FIELDS.iter().filter(|f| usize::from(f.group) == g + 1) {
            let value = r.display(f.key);
            let wide = pdf::text_width(&value, SIZE) > value_w;
            if wide && col > 0 {
                y += ROW_H;
                col = 0;
            }
            if col == 0 {
                row_top(y, p);
            }
            let x = MARGIN + col as f32 * slot;
            p.line(x, y, x, y + ROW_H, 0.3);
            // Long headers (出生地行政区划代码) shrink to fit their cell.
            let label_size =
                (SIZE - 1.0).min((SIZE - 1.0) * (LABEL_W - 2.0) / pdf::text_width(f.header, SIZE - 1.0).max(1.0));
            p.text(x + 1.0, y + ROW_H - 1.9, label_size, f.header);
            p.line(x + LABEL_W, y, x + LABEL_W, y + ROW_H, 0.2);
            p.text(x + LABEL_W + 1.0, y + ROW_H - 1.9, SIZE, &value);
            col = if wide { PER_ROW } else { col + 1 };
            if col == PER_ROW {
                p.line(MARGIN + width, y, MARGIN + width, y + ROW_H, 0.3);
                y += ROW_H;
                col = 0;
            }
        }
        if col > 0 {
            p.line(MARGIN + width, y, MARGIN + width, y + ROW_H, 0.3);
            y += ROW_H;
        }
        p.line(MARGIN, y, MARGIN + width, y, 0.5);
    }
    y += 8.0;
    p.text(MARGIN, y, 9.0, "以上信息本人已逐项核对。如有错误，请在对应栏旁用笔更正，并告知班主任。");
    y += 12.0;
    p.text(MARGIN, y, 10.5, "监护人签字：________________    与学生关系：__________    日期：______年____月____日");
    p.text(MARGIN, 290.0, 7.5, &format!("第 {n} / {total} 页    打印日期 {printed}    营养改善计划实名制管理系统"));
}
