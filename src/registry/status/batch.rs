//! Suspensions and resumptions in batches from a file (the command line): all or nothing.

use diesel::prelude::*;
use serde::Serialize;

use super::{ChangeInput, request_in_tx};
use crate::auth::Caller;
use crate::db::schema::students;
use crate::db::{DbConn, at_rest, write_tx};
use crate::domain::status::ChangeKind;
use crate::error::{AppError, AppResult, ErrorCode};

/// One line of a batch file that was refused: the row and why.
#[derive(Debug, Clone, Serialize)]
pub struct RowError {
    pub row: u32,
    pub column: String,
    pub code: ErrorCode,
    pub message: String,
}

/// One line of a batch: student number, effective date and reason.
#[derive(Debug, Clone)]
pub struct BatchLine {
    pub row: u32,
    pub student_no: String,
    pub effective_date: String,
    pub reason: String,
}

/// Suspends or resumes many students from a file as the command line, all or nothing: every line
/// is checked and applied through the whole chain in one transaction; any refused line rolls the
/// batch back and every refusal is listed. `dry_run` checks without keeping anything.
pub fn batch(
    conn: &mut DbConn,
    caller: &Caller,
    kind: ChangeKind,
    lines: &[BatchLine],
    dry_run: bool,
) -> AppResult<Result<usize, Vec<RowError>>> {
    if !caller.is_cli() {
        return Err(AppError::forbidden());
    }
    if !matches!(kind, ChangeKind::Suspend | ChangeKind::Resume) {
        return Err(AppError::invalid(ErrorCode::ChangeBatchKind, "批量办理仅支持休学和复学"));
    }
    let mut errors = Vec::new();
    const ROLLBACK: ErrorCode = ErrorCode::ChangeBatchRollback;
    let outcome = write_tx(conn, |conn| {
        for l in lines {
            let no = crate::domain::id_card::normalise(&l.student_no);
            let id: Option<i64> = students::table
                .filter(students::student_no_hash.eq(at_rest::student_no_hash(&no)?))
                .select(students::id)
                .first(conn)
                .optional()?;
            let Some(id) = id else {
                errors.push(RowError {
                    row: l.row,
                    column: "学籍号".into(),
                    code: ErrorCode::ChangeUnknownStudent,
                    message: format!("学籍号“{no}”不存在"),
                });
                continue;
            };
            let input = ChangeInput {
                kind: kind.code().into(),
                effective_date: l.effective_date.clone(),
                reason: l.reason.clone(),
                to_class_no: String::new(),
            };
            // A savepoint per line, so one refusal leaves the others' work in place to check.
            let r = conn.transaction(|conn| request_in_tx(conn, caller, id, &input, None));
            if let Err(e) = r {
                let field = e.fields.first();
                let column = match field.map(|f| f.field.as_str()) {
                    Some("effective_date") => "生效日期",
                    Some("reason") => "原因",
                    _ => "学籍号",
                };
                errors.push(RowError {
                    row: l.row,
                    column: column.into(),
                    code: field.map(|f| f.code).unwrap_or(e.code),
                    message: field.map(|f| f.message.clone()).unwrap_or(e.message),
                });
            }
        }
        if !errors.is_empty() || dry_run {
            return Err(AppError::invalid(ROLLBACK, String::new()));
        }
        Ok(lines.len())
    });
    match outcome {
        Ok(n) => Ok(Ok(n)),
        Err(e) if e.code == ROLLBACK && errors.is_empty() => Ok(Ok(lines.len())),
        Err(e) if e.code == ROLLBACK => Ok(Err(errors)),
        Err(e) => Err(e),
    }
}
