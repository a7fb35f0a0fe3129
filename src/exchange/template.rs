//! The registry template: the 71 columns of the national 学生基本信息 sheet (学校标识码 then the
//! record's fields), required headers in red, every column formatted as text (an 18-digit ID typed
//! into it stays exact), dropdowns for coded fields from a hidden list sheet, a frozen header, and
//! a sheet of instructions. The same writer exports students back in that layout.

use rust_xlsxwriter::{Color, DataValidation, Format, FormatBorder, Formula, Workbook, Worksheet, XlsxError};

use super::sheet::{LISTS_SHEET, STUDENT_SHEET, column_letter};
use crate::domain::codes;
use crate::domain::student::{FIELDS, Kind, Need, SCHOOL_CODE_HEADER, StudentRecord};
use crate::error::{AppError, AppResult};

/// Rows given dropdowns and text format in a blank template.
const BLANK_ROWS: u32 = 5_000;

fn xl(e: XlsxError) -> AppError {
    AppError::internal(anyhow::anyhow!("xlsx: {e}"))
}

/// All headers in template order.
pub fn headers() -> Vec<&'static str> {
    std::iter::once(SCHOOL_CODE_HEADER).chain(FIELDS.iter().map(|f| f.header)).collect()
}

/// How a stored value is written: labels for codes (what the dropdowns offer), text otherwise.
pub fn cell_text(record: &StudentRecord, key: &str) -> String {
    record.display(key)
}

/// A workbook with the given rows (school code, record); empty rows give a blank template.
pub fn write(rows: &[(String, StudentRecord)]) -> AppResult<Vec<u8>> {
    write_iter(rows.iter().map(|(s, r)| (s.clone(), r.clone())), rows.len(), None)
}

/// Who took an export out of the system, and when: written into the file itself.
#[derive(Debug, Clone)]
pub struct ExportNote {
    pub by: String,
    pub org: String,
    /// Beijing time, as people read it.
    pub at: String,
    pub rows: usize,
}

/// The same, from an iterator of `expected` rows (held one at a time: large exports stay
/// small); an export carries its [`ExportNote`] on a sheet and in the file's properties.
pub fn write_iter(
    rows: impl Iterator<Item = (String, StudentRecord)>,
    expected: usize,
    note: Option<&ExportNote>,
) -> AppResult<Vec<u8>> {
    let mut wb = Workbook::new();
    if let Some(n) = note {
        let props = rust_xlsxwriter::DocProperties::new()
            .set_author(&n.by)
            .set_company(&n.org)
            .set_comment(format!("{} 导出，{} 名学生；含未成年人个人信息，仅限学籍管理使用", n.at, n.rows));
        wb.set_properties(&props);
    }
    let text = Format::new().set_num_format("@");
    let required = Format::new()
        .set_bold()
        .set_font_color(Color::White)
        .set_background_color(Color::RGB(0xC0504D))
        .set_border(FormatBorder::Thin)
        .set_num_format("@");
    let optional = Format::new()
        .set_bold()
        .set_background_color(Color::RGB(0xDCE6F1))
        .set_border(FormatBorder::Thin)
        .set_num_format("@");
    let last_row = u32::try_from(expected).unwrap_or(u32::MAX).saturating_add(BLANK_ROWS);

    // Lists for the dropdowns: one column per code table used.
    let tables: Vec<&'static str> = {
        let mut t: Vec<&'static str> = FIELDS
            .iter()
            .filter_map(|f| match f.kind {
                Kind::Code(t) => Some(t),
                _ => None,
            })
            .collect();
        t.sort_unstable();
        t.dedup();
        t
    };

    {
        let ws = wb.add_worksheet_with_constant_memory().map_err(xl)?;
        ws.set_name(STUDENT_SHEET).map_err(xl)?;
        for (c, h) in headers().iter().enumerate() {
            let col = u16::try_from(c).unwrap_or(0);
            let field = FIELDS.get(c.wrapping_sub(1)).filter(|_| c > 0);
            let is_required = c == 0 || field.is_some_and(|f| f.need == Need::Required);
            ws.set_column_format(col, &text).map_err(xl)?;
            let width = match field.map(|f| f.kind) {
                Some(Kind::IdNumber) => 21.0,
                Some(Kind::Text(n)) if n >= 60 => 24.0,
                _ => 13.0,
            };
            ws.set_column_width(col, width).map_err(xl)?;
            ws.write_string_with_format(0, col, *h, if is_required { &required } else { &optional }).map_err(xl)?;
            if let Some(Kind::Code(t)) = field.map(|f| f.kind) {
                let idx = tables.iter().position(|x| *x == t).unwrap_or(0);
                let n = codes::table(t).entries.len().max(1);
                let letter = column_letter(idx);
                let dv = DataValidation::new()
                    .allow_list_formula(Formula::new(format!("={LISTS_SHEET}!${letter}$2:${letter}${}", n + 1)))
                    .set_error_title("取值不在列表中")
                    .map_err(xl)?
                    .set_error_message(format!("“{h}”请从下拉列表中选择"))
                    .map_err(xl)?;
                ws.add_data_validation(1, col, last_row, col, &dv).map_err(xl)?;
            }
            if field.is_some_and(|f| f.kind == Kind::IdNumber) {
                let dv = DataValidation::new()
                    .allow_any_value()
                    .set_input_title("身份证件号")
                    .map_err(xl)?
                    .set_input_message("本列为文本格式，请直接输入18位号码，末位X大写")
                    .map_err(xl)?;
                ws.add_data_validation(1, col, last_row, col, &dv).map_err(xl)?;
            }
        }
        ws.set_freeze_panes(1, 0).map_err(xl)?;
        for (i, (school, record)) in rows.enumerate() {
            let r = u32::try_from(i + 1).unwrap_or(u32::MAX);
            ws.write_string(r, 0, &school).map_err(xl)?;
            for (c, f) in FIELDS.iter().enumerate() {
                let v = cell_text(&record, f.key);
                if !v.is_empty() {
                    ws.write_string(r, u16::try_from(c + 1).unwrap_or(0), v).map_err(xl)?;
                }
            }
        }
    }
    {
        let lists = wb.add_worksheet();
        lists.set_name(LISTS_SHEET).map_err(xl)?;
        for (c, t) in tables.iter().enumerate() {
            let col = u16::try_from(c).unwrap_or(0);
            lists.write_string(0, col, *t).map_err(xl)?;
            for (r, e) in codes::table(t).entries.iter().enumerate() {
                lists.write_string(u32::try_from(r + 1).unwrap_or(0), col, &e.label).map_err(xl)?;
            }
        }
        lists.set_hidden(true);
    }
    instructions(wb.add_worksheet())?;
    if let Some(n) = note {
        export_record(wb.add_worksheet(), n)?;
    }
    wb.save_to_buffer().map_err(xl)
}

/// The sheet that says who exported the file, when and how many children it holds.
pub const EXPORT_SHEET: &str = "导出记录";

fn export_record(ws: &mut Worksheet, n: &ExportNote) -> AppResult<()> {
    ws.set_name(EXPORT_SHEET).map_err(xl)?;
    ws.set_column_width(0, 14.0).map_err(xl)?;
    ws.set_column_width(1, 60.0).map_err(xl)?;
    let rows = [
        ("导出人", n.by.clone()),
        ("所在单位", n.org.clone()),
        ("导出时间", n.at.clone()),
        ("学生人数", n.rows.to_string()),
        ("注意", "本文件含未成年人个人信息，仅限学籍管理使用，不得外传；用毕请删除。".to_owned()),
    ];
    for (i, (k, v)) in rows.iter().enumerate() {
        let r = u32::try_from(i).unwrap_or(0);
        ws.write_string(r, 0, *k).map_err(xl)?;
        ws.write_string(r, 1, v).map_err(xl)?;
    }
    Ok(())
}

fn instructions(ws: &mut Worksheet) -> AppResult<()> {
    ws.set_name("填写说明").map_err(xl)?;
    let bold = Format::new().set_bold();
    let lines = [
        "1. 请勿修改工作表名称、列名和列的顺序；红色列为必填项。",
        "2. 全部列已设为文本格式：身份证件号请直接输入18位，末位X大写；不要改成数值格式，否则末几位会丢失。",
        "3. 代码项（性别、民族、就读方式等）请从下拉列表选择，也可填写代码（如 1、01）。",
        "4. 日期写作 2015-03-09 或 20150309；入学年月写作 201909。",
        "5. 学校标识码须为本校10位代码；班号须与系统中已建立的班级一致。",
        "6. 学生无身份证件号时，身份证件类型选“其他”，并填写家庭成员的身份证件号。",
    ];
    ws.set_column_width(0, 110.0).map_err(xl)?;
    ws.write_string_with_format(0, 0, "学生基本信息导入模板 填写说明", &bold).map_err(xl)?;
    for (i, l) in lines.iter().enumerate() {
        ws.write_string(u32::try_from(i + 2).unwrap_or(0), 0, *l).map_err(xl)?;
    }
    Ok(())
}
