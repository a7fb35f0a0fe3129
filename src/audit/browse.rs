//! The audit log as an auditor reads it: narrowed by action (its Chinese name or its code),
//! person (username or name), object and Beijing days; each change shown field by field
//! (old → new); people by name; the same rows exported to Excel, the export itself audited.

use std::collections::{BTreeSet, HashMap};

use chrono::Duration;
use diesel::prelude::*;
use serde::Serialize;

use super::service::{AuditRow, action_codes, action_label, escape_like};
use crate::auth::Scope;
use crate::db::DbConn;
use crate::db::schema::{audit_log, users};
use crate::domain::calendar::DayRange;
use crate::error::{AppError, AppResult, ErrorCode};

/// Filters for the audit viewer and its API; every one travels in the address.
#[derive(Debug, Clone, Default, serde::Deserialize, schemars::JsonSchema)]
pub struct AuditFilter {
    /// An action's code, or the start of one (`login.`, `ledger.`).
    #[serde(default)]
    pub action: String,
    /// An action's Chinese name (登录失败, 审批入账…), as the 操作 filter lists them.
    #[serde(default)]
    pub label: String,
    /// A username, or part of a person's name.
    #[serde(default)]
    pub actor: String,
    /// What was acted on: its type (student, ledger_request, user…) and its id.
    #[serde(default)]
    pub object_type: String,
    #[serde(default)]
    pub object_id: String,
    /// Beijing days from and to, both included (YYYY-MM-DD).
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub to: String,
    #[serde(default, deserialize_with = "crate::domain::text::blank_or_number")]
    pub page: Option<i64>,
}

pub const PAGE_SIZE: i64 = 50;
/// The most rows one export writes; past it the auditor narrows the filter.
pub const EXPORT_LIMIT: i64 = 20_000;

impl AuditFilter {
    /// The filters as the address carries them (without the page), blanks left out.
    pub fn to_query(&self) -> Vec<(&'static str, String)> {
        crate::web::filled([
            ("action", self.action.as_str()),
            ("label", &self.label),
            ("actor", &self.actor),
            ("object_type", &self.object_type),
            ("object_id", &self.object_id),
            ("from", &self.from),
            ("to", &self.to),
        ])
    }

    fn days(&self) -> AppResult<DayRange> {
        DayRange::parse(&self.from, &self.to).map_err(|(field, m)| AppError::field(field, ErrorCode::InputDate, m))
    }
}

/// One page of the rows of actors inside `scope` that match, newest first. The caller must
/// hold ViewAudit.
pub fn list(conn: &mut DbConn, scope: &Scope, f: &AuditFilter) -> AppResult<Vec<AuditRow>> {
    let page = f.page.unwrap_or(1).max(1);
    matching(conn, scope, f, PAGE_SIZE, (page - 1) * PAGE_SIZE)
}

/// Every matching row up to the export's limit, newest first.
pub fn for_export(conn: &mut DbConn, scope: &Scope, f: &AuditFilter) -> AppResult<Vec<AuditRow>> {
    matching(conn, scope, f, EXPORT_LIMIT, 0)
}

fn matching(conn: &mut DbConn, scope: &Scope, f: &AuditFilter, limit: i64, offset: i64) -> AppResult<Vec<AuditRow>> {
    let days = f.days()?;
    let label = f.label.trim();
    let codes = action_codes(label);
    if !label.is_empty() && codes.is_empty() {
        return Err(AppError::field("label", ErrorCode::InputInvalid, format!("没有名为“{label}”的操作")));
    }
    let actor = f.actor.trim();
    // A person is found by username, or by a part of the name on file.
    let named: Vec<String> = if actor.is_empty() {
        Vec::new()
    } else {
        users::table
            .filter(users::display_name.like(format!("%{}%", escape_like(actor))))
            .select(users::username)
            .limit(200)
            .load(conn)?
    };
    let mut q = audit_log::table
        .filter(audit_log::org_path.like(scope.like_pattern()))
        .select(AuditRow::as_select())
        .order(audit_log::id.desc())
        .into_boxed();
    if !f.action.trim().is_empty() {
        q = q.filter(audit_log::action.like(format!("{}%", escape_like(f.action.trim()))));
    }
    if !codes.is_empty() {
        q = q.filter(audit_log::action.eq_any(codes));
    }
    if !actor.is_empty() {
        q = q.filter(audit_log::actor.eq(actor.to_owned()).or(audit_log::actor.eq_any(named)));
    }
    if !f.object_type.trim().is_empty() {
        q = q.filter(audit_log::object_type.eq(f.object_type.trim().to_owned()));
    }
    if !f.object_id.trim().is_empty() {
        q = q.filter(audit_log::object_id.eq(f.object_id.trim().to_owned()));
    }
    if let Some(d) = days.from {
        q = q.filter(audit_log::at.ge(crate::clock::day_start_utc(d)));
    }
    if let Some(d) = days.to {
        q = q.filter(audit_log::at.lt(crate::clock::day_start_utc(d + Duration::days(1))));
    }
    Ok(q.limit(limit).offset(offset).load(conn)?)
}

/// The Chinese names of the action filter, each once, in the list's order.
pub fn action_names() -> Vec<&'static str> {
    let mut seen = BTreeSet::new();
    super::service::ACTIONS.iter().map(|(_, l)| *l).filter(|l| seen.insert(*l)).collect()
}

/// What an object type is called.
pub fn object_label(object_type: &str) -> &'static str {
    OBJECTS.iter().find(|(t, _)| *t == object_type).map_or("", |(_, l)| l)
}

/// The object types a person filters by, with their names.
pub const OBJECTS: &[(&str, &str)] = &[
    ("student", "学生"),
    ("change_request", "关键信息变更"),
    ("status_change", "学籍异动"),
    ("class", "班级"),
    ("teacher", "教师"),
    ("school", "学校"),
    ("campus", "校区"),
    ("org", "机构"),
    ("user", "用户"),
    ("roster", "受益名册"),
    ("ledger_request", "记账"),
    ("purchase", "采购"),
    ("stock_entry", "出库"),
    ("supplier", "供应商"),
    ("standard", "补助标准"),
    ("plan", "实施方案/核查计划"),
    ("finding", "督查问题"),
    ("flag", "预警"),
    ("visit", "现场核查"),
    ("complaint", "举报"),
    ("meal_correction", "就餐日报更正"),
    ("backup", "备份"),
    ("field_key", "字段加密密钥"),
    ("audit_log", "审计日志"),
];

/// One field a change touched: its value before and after (blank where it had none).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub field: String,
    pub before: String,
    pub after: String,
}

/// The fields a row's before and after differ in (or, for a row with only one side, every field
/// it names), as text. A side that is not a JSON object shows whole under the field "值".
pub fn changes(before: Option<&str>, after: Option<&str>) -> Vec<Change> {
    let parse = |s: Option<&str>| s.map(|t| serde_json::from_str::<serde_json::Value>(t).unwrap_or_else(|_| t.into()));
    let (b, a) = (parse(before), parse(after));
    let fields = |v: &Option<serde_json::Value>| match v {
        Some(serde_json::Value::Object(m)) => Some(m.clone()),
        Some(serde_json::Value::Null) | None => Some(serde_json::Map::new()),
        Some(_) => None,
    };
    let (Some(bm), Some(am)) = (fields(&b), fields(&a)) else {
        return vec![Change { field: "值".into(), before: text(b.as_ref()), after: text(a.as_ref()) }];
    };
    let keys: BTreeSet<&String> = bm.keys().chain(am.keys()).collect();
    keys.into_iter()
        .filter(|k| bm.get(*k) != am.get(*k))
        .map(|k| Change { field: k.clone(), before: text(bm.get(k)), after: text(am.get(k)) })
        .collect()
}

fn text(v: Option<&serde_json::Value>) -> String {
    match v {
        None | Some(serde_json::Value::Null) => String::new(),
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// A row as the log's page and its export show it.
#[derive(Debug, Clone)]
pub struct Line {
    pub row: AuditRow,
    pub action_label: &'static str,
    /// The person, by name ("李会计（caiwu）"); the command line as 命令行.
    pub actor_name: String,
    /// What was acted on, by name where one is known ("用户 张三（s1.xiaozhang）").
    pub object: String,
    pub changes: Vec<Change>,
}

/// The rows with people and users named.
pub fn lines(conn: &mut DbConn, rows: Vec<AuditRow>) -> AppResult<Vec<Line>> {
    let actors: Vec<&str> = rows.iter().map(|r| r.actor.as_str()).collect();
    let names = crate::auth::people::names(conn, &actors)?;
    let user_ids: Vec<i64> =
        rows.iter().filter(|r| r.object_type == "user").filter_map(|r| r.object_id.parse().ok()).collect();
    let users_named: HashMap<i64, (String, String)> = users::table
        .filter(users::id.eq_any(&user_ids))
        .select((users::id, users::username, users::display_name))
        .load::<(i64, String, String)>(conn)?
        .into_iter()
        .map(|(id, u, n)| (id, (u, n)))
        .collect();
    Ok(rows
        .into_iter()
        .map(|row| {
            let kind = object_label(&row.object_type);
            let kind = if kind.is_empty() { row.object_type.as_str() } else { kind };
            let object = match row.object_id.parse::<i64>().ok().and_then(|id| users_named.get(&id)) {
                Some((u, n)) if row.object_type == "user" => format!("{kind} {n}（{u}）"),
                _ => format!("{kind} {}", row.object_id).trim().to_owned(),
            };
            Line {
                action_label: action_label(&row.action),
                actor_name: names.get(&row.actor).cloned().unwrap_or_else(|| row.actor.clone()),
                object,
                changes: changes(row.before_json.as_deref(), row.after_json.as_deref()),
                row,
            }
        })
        .collect())
}

/// The lines as an Excel workbook: one row each, times in Beijing time, changes as
/// "字段：旧 → 新" lines.
pub fn xlsx(lines: &[Line]) -> AppResult<Vec<u8>> {
    use rust_xlsxwriter::{Format, Workbook};
    let xl = |e: rust_xlsxwriter::XlsxError| AppError::internal(anyhow::anyhow!(e));
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name("审计日志").map_err(xl)?;
    let head = Format::new().set_bold();
    let wrap = Format::new().set_text_wrap();
    let columns = [
        ("序号", 8.0),
        ("时间（北京时间）", 20.0),
        ("操作人", 18.0),
        ("来源IP", 15.0),
        ("操作", 20.0),
        ("操作代码", 22.0),
        ("对象", 22.0),
        ("结果", 8.0),
        ("变更", 60.0),
    ];
    for (c, (title, width)) in columns.iter().enumerate() {
        let c = u16::try_from(c).unwrap_or(0);
        sheet.write_string_with_format(0, c, *title, &head).map_err(xl)?;
        sheet.set_column_width(c, *width).map_err(xl)?;
    }
    for (i, l) in lines.iter().enumerate() {
        let r = u32::try_from(i + 1).map_err(|e| AppError::internal(anyhow::anyhow!(e)))?;
        let changed: Vec<String> =
            l.changes.iter().map(|c| format!("{}：{} → {}", c.field, c.before, c.after)).collect();
        sheet.write_number(r, 0, l.row.id as f64).map_err(xl)?;
        sheet.write_string(r, 1, crate::clock::local(l.row.at).format("%Y-%m-%d %H:%M:%S").to_string()).map_err(xl)?;
        sheet.write_string(r, 2, &l.actor_name).map_err(xl)?;
        sheet.write_string(r, 3, &l.row.ip).map_err(xl)?;
        sheet.write_string(r, 4, l.action_label).map_err(xl)?;
        sheet.write_string(r, 5, &l.row.action).map_err(xl)?;
        sheet.write_string(r, 6, &l.object).map_err(xl)?;
        sheet.write_string(r, 7, &l.row.result).map_err(xl)?;
        sheet.write_string_with_format(r, 8, changed.join("\n"), &wrap).map_err(xl)?;
    }
    sheet.set_freeze_panes(1, 0).map_err(xl)?;
    book.save_to_buffer().map_err(xl)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_lists_the_fields_that_differ_as_old_and_new() {
        let c = changes(
            Some(r#"{"name":"张三","grade":3,"same":1}"#),
            Some(r#"{"name":"张叁","grade":4,"same":1,"memo":"补录"}"#),
        );
        assert_eq!(
            c,
            vec![
                Change { field: "grade".into(), before: "3".into(), after: "4".into() },
                Change { field: "memo".into(), before: String::new(), after: "补录".into() },
                Change { field: "name".into(), before: "张三".into(), after: "张叁".into() },
            ]
        );
    }

    #[test]
    fn a_row_with_one_side_or_no_object_still_reads() {
        let c = changes(None, Some(r#"{"amount":"5000.00"}"#));
        assert_eq!(c, vec![Change { field: "amount".into(), before: String::new(), after: "5000.00".into() }]);
        let c = changes(Some("[1,2]"), Some("not json"));
        assert_eq!(c, vec![Change { field: "值".into(), before: "[1,2]".into(), after: "not json".into() }]);
        assert!(changes(None, None).is_empty());
    }

    #[test]
    fn an_action_name_covers_its_codes_and_is_listed_once() {
        assert_eq!(action_codes("打印受益名册"), vec!["roster.print", "roster.print_all"]);
        assert!(action_codes("没有这个").is_empty());
        let names = action_names();
        assert_eq!(names.iter().filter(|n| **n == "计算应补金额").count(), 1);
        assert!(names.contains(&"审批入账") && names.contains(&"导出审计日志"));
    }
}
