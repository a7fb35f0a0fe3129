//! Findings and their rectification: an inspector records one (from a flag, from a visit, or on
//! its own) with evidence and the school responsible; the county sets the rectification and its
//! deadline; the school reports what it did; another inspector verifies and closes it. A finding
//! can be linked to the ledger request that recovers the money (追回) and the registry change
//! that corrects the record, each checked to concern the same school.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::audit::{self, Entry};
use crate::auth::Caller;
use crate::db::schema::{
    anomaly_flags, attachments, change_requests, finding_events, finding_evidence, findings, inspection_plans,
    inspection_visits, ledger_requests, orgs, status_changes,
};
use crate::db::{DbConn, write_tx};
use crate::domain::anomaly::{FlagAction, FlagState, Rule, Severity};
use crate::domain::finding::{Status, Step};
use crate::domain::money::Fen;
use crate::domain::role::{OrgKind, Permission};
use crate::domain::term::Term;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::org::model::Org;
use crate::org::service::org_in_scope;
use crate::registry::changes::{Upload, store_evidence};

/// What an inspector records (text as typed; evidence files beside it).
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
pub struct NewFinding {
    #[serde(default)]
    pub school: String,
    #[serde(default)]
    pub term: String,
    /// A rule code, or empty for a finding of the visit itself.
    #[serde(default)]
    pub rule: String,
    #[serde(default)]
    pub severity: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub amount: String,
    #[serde(default)]
    pub flag_id: Option<i64>,
    #[serde(default)]
    pub visit_id: Option<i64>,
    /// A complaint (举报) it comes from: the complaint is its evidence.
    #[serde(default)]
    pub complaint_id: Option<i64>,
}

/// A finding as pages and the API show it.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct FindingView {
    pub id: i64,
    pub school: String,
    pub school_name: String,
    pub term: String,
    pub rule: String,
    pub rule_title: &'static str,
    pub severity: Severity,
    pub severity_label: &'static str,
    pub description: String,
    pub amount: Option<String>,
    pub status: Status,
    pub status_label: &'static str,
    pub overdue: bool,
    pub rectification: Option<String>,
    pub deadline: Option<NaiveDate>,
    pub answer: Option<String>,
    pub recorded_by: String,
    pub recorded_at: NaiveDateTime,
    pub verified_by: Option<String>,
    pub flag_id: Option<i64>,
    pub visit_id: Option<i64>,
    pub ledger_request_id: Option<i64>,
    pub change_request_id: Option<i64>,
    pub status_change_id: Option<i64>,
    /// (attachment id, file name).
    pub evidence: Vec<(i64, String)>,
    /// The complaint it was opened from.
    pub complaint_id: Option<i64>,
}

/// The rule a finding is filed under: a catalogue code, or `visit` for what a visit found itself
/// (a recount gap, a child not there).
fn rule_of(s: &str) -> AppResult<String> {
    let s = s.trim();
    if s.is_empty() || s == "visit" {
        return Ok("visit".into());
    }
    if s == "complaint" {
        return Ok("complaint".into());
    }
    Rule::parse(s).map(|r| r.code().to_owned()).ok_or_else(|| {
        AppError::field("rule", ErrorCode::AnomalyRule, format!("没有规则“{s}”：规则编号为 A01 至 {}", Rule::LAST))
    })
}

fn rule_title(code: &str) -> &'static str {
    match code {
        "visit" => "现场核查发现",
        "complaint" => "群众举报",
        _ => Rule::parse(code).map_or("", |r| r.info().title),
    }
}

/// Records a finding at a school in the caller's scope; refused without evidence or school.
pub fn record(conn: &mut DbConn, caller: &Caller, f: &NewFinding, evidence: &[Upload]) -> AppResult<i64> {
    caller.require(conn, Permission::Inspect, "finding_record")?;
    if f.school.trim().is_empty() {
        return Err(AppError::field("school", ErrorCode::FindingSchool, "请填写被查学校（学校标识码）"));
    }
    let school = org_in_scope(conn, caller.scope(), f.school.trim())?;
    if school.kind != OrgKind::School {
        return Err(AppError::field("school", ErrorCode::FindingSchool, "问题须落实到一所学校"));
    }
    let term = Term::parse(f.term.trim()).map_err(|m| AppError::field("term", ErrorCode::TermFormat, m))?;
    let rule = rule_of(&f.rule)?;
    let severity = if f.severity.trim().is_empty() {
        Rule::parse(&rule).map_or(Severity::Warn, |r| r.info().severity)
    } else {
        Severity::parse(&f.severity).ok_or_else(|| {
            AppError::field(
                "severity",
                ErrorCode::AnomalySeverity,
                format!("严重程度“{}”应为 提示、预警 或 拒付", f.severity.trim()),
            )
        })?
    };
    let description: String = f.description.trim().chars().take(2000).collect();
    if description.is_empty() {
        return Err(AppError::field("description", ErrorCode::FindingDescription, "请写明发现的问题"));
    }
    let amount = match f.amount.trim() {
        "" => None,
        a => Some(Fen::parse_yuan(a).map_err(|m| AppError::field("amount", ErrorCode::FindingAmount, m))?),
    };
    if evidence.is_empty() && f.complaint_id.is_none() {
        return Err(AppError::field(
            "evidence",
            ErrorCode::FindingEvidence,
            "问题须附证据（照片、扫描件，JPG、PNG或PDF）",
        ));
    }
    // A flag or visit it comes from must be the same school's.
    if let Some(flag) = f.flag_id {
        let (org, state): (i64, String) = anomaly_flags::table
            .find(flag)
            .select((anomaly_flags::org_id, anomaly_flags::state))
            .first(conn)
            .optional()?
            .ok_or_else(|| AppError::field("flag_id", ErrorCode::FindingFlag, format!("没有编号为{flag}的预警")))?;
        if org != school.id {
            return Err(AppError::field("flag_id", ErrorCode::FindingFlag, "该预警不是这所学校的"));
        }
        FlagState::parse(&state)
            .unwrap_or(FlagState::Open)
            .after(FlagAction::Find)
            .map_err(|m| AppError::conflict(ErrorCode::FlagState, m))?;
    }
    if let Some(visit) = f.visit_id {
        let org: Option<i64> = inspection_visits::table
            .inner_join(inspection_plans::table)
            .filter(inspection_visits::id.eq(visit))
            .filter(inspection_plans::term.eq(term.to_string()))
            .select(inspection_visits::school_id)
            .first(conn)
            .optional()?;
        if org != Some(school.id) {
            return Err(AppError::field("visit_id", ErrorCode::FindingVisit, "该核查记录不是这所学校本学期的"));
        }
    }
    write_tx(conn, |conn| {
        let id: i64 = diesel::insert_into(findings::table)
            .values((
                findings::school_id.eq(school.id),
                findings::term.eq(term.to_string()),
                findings::visit_id.eq(f.visit_id),
                findings::flag_id.eq(f.flag_id),
                findings::rule.eq(&rule),
                findings::severity.eq(severity.as_str()),
                findings::description.eq(&description),
                findings::amount_fen.eq(amount.map(Fen::fen)),
                findings::status.eq(Status::Open.as_str()),
                findings::recorded_by.eq(&caller.username),
                findings::recorded_at.eq(caller.now()),
            ))
            .returning(findings::id)
            .get_result(conn)?;
        for e in evidence {
            let a = store_evidence(conn, caller, e)?;
            diesel::insert_into(finding_evidence::table)
                .values((finding_evidence::finding_id.eq(id), finding_evidence::attachment_id.eq(a)))
                .execute(conn)?;
        }
        event(conn, caller, id, None, Status::Open, &description)?;
        if let Some(complaint) = f.complaint_id {
            crate::meals::complaints::link_finding(conn, caller, complaint, school.id, id)?;
        }
        if let Some(flag) = f.flag_id {
            let from: String = anomaly_flags::table.find(flag).select(anomaly_flags::state).first(conn)?;
            diesel::update(anomaly_flags::table.find(flag))
                .set(anomaly_flags::state.eq(FlagState::Finding.as_str()))
                .execute(conn)?;
            let from = FlagState::parse(&from).unwrap_or(FlagState::Open);
            super::flags::event(
                conn,
                flag,
                &caller.username,
                caller.now(),
                Some(from),
                FlagState::Finding,
                &format!("转为问题 {id}"),
            )?;
        }
        audit::record(
            conn,
            &caller.actor(),
            Entry::new("finding.record", "finding", id).after(&serde_json::json!({
                "school": school.code, "term": term.to_string(), "rule": rule, "severity": severity.as_str(),
                "amount": amount.map(|a| a.to_string()), "flag": f.flag_id, "visit": f.visit_id, "complaint": f.complaint_id, "evidence": evidence.len(),
            })),
        )?;
        Ok(id)
    })
}

fn event(conn: &mut DbConn, caller: &Caller, id: i64, from: Option<Status>, to: Status, note: &str) -> AppResult<()> {
    diesel::insert_into(finding_events::table)
        .values((
            finding_events::finding_id.eq(id),
            finding_events::at.eq(caller.now()),
            finding_events::actor.eq(&caller.username),
            finding_events::from_status.eq(from.map(Status::as_str)),
            finding_events::to_status.eq(to.as_str()),
            finding_events::note.eq(note),
        ))
        .execute(conn)?;
    Ok(())
}

type Row = (
    (i64, String, Option<i64>, Option<i64>, String, String, String, Option<i64>, String),
    (Option<String>, Option<NaiveDate>, Option<String>, String, NaiveDateTime, Option<String>),
    (Option<i64>, Option<i64>, Option<i64>),
    (String, String),
);

fn view(row: Row, evidence: Vec<(i64, String)>, today: NaiveDate) -> FindingView {
    let (
        (id, term, visit_id, flag_id, rule, severity, description, amount, status),
        (rectification, deadline, answer, recorded_by, recorded_at, verified_by),
        (ledger_request_id, change_request_id, status_change_id),
        (code, name),
    ) = row;
    let severity = Severity::parse(&severity).unwrap_or(Severity::Warn);
    let status = Status::parse(&status).unwrap_or(Status::Open);
    FindingView {
        id,
        school: code,
        school_name: name,
        term,
        rule_title: rule_title(&rule),
        rule,
        severity,
        severity_label: severity.label(),
        description,
        amount: amount.map(|a| Fen::new(a).to_string()),
        status,
        status_label: status.label(),
        overdue: status.overdue(deadline, today),
        rectification,
        deadline,
        answer,
        recorded_by,
        recorded_at: crate::clock::local(recorded_at),
        verified_by,
        flag_id,
        visit_id,
        ledger_request_id,
        change_request_id,
        status_change_id,
        evidence,
        complaint_id: None,
    }
}

macro_rules! finding_columns {
    () => {
        (
            (
                findings::id,
                findings::term,
                findings::visit_id,
                findings::flag_id,
                findings::rule,
                findings::severity,
                findings::description,
                findings::amount_fen,
                findings::status,
            ),
            (
                findings::rectification,
                findings::deadline,
                findings::answer,
                findings::recorded_by,
                findings::recorded_at,
                findings::verified_by,
            ),
            (findings::ledger_request_id, findings::change_request_id, findings::status_change_id),
            (orgs::code, orgs::name),
        )
    };
}

/// One finding with its history, if the caller may see it (a school sees its own).
pub fn get(
    conn: &mut DbConn,
    caller: &Caller,
    id: i64,
) -> AppResult<(FindingView, Vec<crate::inspection::flags::Step>)> {
    caller.require(conn, Permission::ViewFindings, "finding")?;
    let row: Row = findings::table
        .inner_join(orgs::table)
        .filter(findings::id.eq(id))
        .filter(orgs::path.like(caller.scope().like_pattern()))
        .select(finding_columns!())
        .first(conn)
        .optional()?
        .ok_or_else(AppError::not_found)?;
    let evidence: Vec<(i64, String)> = finding_evidence::table
        .inner_join(attachments::table)
        .filter(finding_evidence::finding_id.eq(id))
        .select((attachments::id, attachments::filename))
        .load(conn)?;
    let label = |s: &str| Status::parse(s).map_or("", Status::label);
    let steps = finding_events::table
        .filter(finding_events::finding_id.eq(id))
        .order(finding_events::id.asc())
        .select((
            finding_events::at,
            finding_events::actor,
            finding_events::from_status,
            finding_events::to_status,
            finding_events::note,
        ))
        .load::<(NaiveDateTime, String, Option<String>, String, String)>(conn)?
        .into_iter()
        .map(|(at, actor, from, to, note)| crate::inspection::flags::Step {
            at: crate::clock::local(at),
            actor,
            from: from.as_deref().map(label),
            to: label(&to),
            note,
        })
        .collect();
    let mut v = view(row, evidence, caller.today());
    v.complaint_id = crate::meals::complaints::of_finding(conn, id)?;
    Ok((v, steps))
}

/// The findings of an org's schools for a term.
pub fn list(conn: &mut DbConn, caller: &Caller, org_code: &str, term: Term) -> AppResult<(Org, Vec<FindingView>)> {
    caller.require(conn, Permission::ViewFindings, "findings")?;
    let org = org_in_scope(conn, caller.scope(), org_code)?;
    let rows: Vec<Row> = findings::table
        .inner_join(orgs::table)
        .filter(findings::term.eq(term.to_string()))
        .filter(orgs::path.like(format!("{}%", org.path)))
        .filter(orgs::path.like(caller.scope().like_pattern()))
        .order(findings::id.asc())
        .select(finding_columns!())
        .load(conn)?;
    Ok((org, rows.into_iter().map(|r| view(r, Vec::new(), caller.today())).collect()))
}

/// What a step carries: the rectification and deadline (the county), the answer (the school),
/// the verifier's note.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
pub struct StepForm {
    #[serde(default)]
    pub step: String,
    #[serde(default)]
    pub text: String,
    #[serde(default)]
    pub deadline: String,
}

fn permission(step: Step) -> Permission {
    match step {
        Step::Rectify => Permission::DecideFlags,
        Step::Answer => Permission::AnswerFlags,
        Step::Verify | Step::Return => Permission::Inspect,
    }
}

/// The steps the caller may take on a finding now.
pub fn steps_for(caller: &Caller, f: &FindingView) -> Vec<(&'static str, &'static str)> {
    [("rectify", Step::Rectify), ("answer", Step::Answer), ("verify", Step::Verify), ("return", Step::Return)]
        .into_iter()
        .filter(|(_, s)| caller.may(permission(*s)))
        .filter(|(_, s)| f.status.after(*s, f.recorded_by == caller.username).is_ok())
        .map(|(code, s)| (code, s.label()))
        .collect()
}

/// One step on a finding by the role it belongs to, audited and kept in its history.
pub fn step(conn: &mut DbConn, caller: &Caller, id: i64, form: &StepForm) -> AppResult<FindingView> {
    let step = Step::parse(form.step.trim())
        .ok_or_else(|| AppError::field("step", ErrorCode::FindingStep, format!("没有操作“{}”", form.step.trim())))?;
    caller.require(conn, permission(step), "finding_step")?;
    let (f, _) = get(conn, caller, id)?;
    let next = f
        .status
        .after(step, f.recorded_by == caller.username)
        .map_err(|m| AppError::conflict(ErrorCode::FindingStatus, m))?;
    let text: String = form.text.trim().chars().take(2000).collect();
    if text.is_empty() && matches!(step, Step::Rectify | Step::Answer | Step::Return) {
        let what = match step {
            Step::Rectify => "整改要求",
            Step::Answer => "整改情况",
            _ => "退回理由",
        };
        return Err(AppError::field("text", ErrorCode::FindingText, format!("请填写{what}")));
    }
    let deadline = if step == Step::Rectify {
        let d: NaiveDate = form.deadline.trim().parse().map_err(|_| {
            AppError::field(
                "deadline",
                ErrorCode::FindingDeadline,
                format!("整改期限“{}”应为日期，如2026-12-31", form.deadline.trim()),
            )
        })?;
        if d < caller.today() {
            return Err(AppError::field("deadline", ErrorCode::FindingDeadline, format!("整改期限{d}早于今天")));
        }
        Some(d)
    } else {
        f.deadline
    };
    write_tx(conn, |conn| {
        let q = findings::table.filter(findings::id.eq(id)).filter(findings::status.eq(f.status.as_str()));
        let changed = match step {
            Step::Rectify => diesel::update(q)
                .set((
                    findings::status.eq(next.as_str()),
                    findings::rectification.eq(&text),
                    findings::deadline.eq(deadline),
                ))
                .execute(conn)?,
            Step::Answer => {
                diesel::update(q).set((findings::status.eq(next.as_str()), findings::answer.eq(&text))).execute(conn)?
            }
            Step::Verify => diesel::update(q)
                .set((
                    findings::status.eq(next.as_str()),
                    findings::verified_by.eq(&caller.username),
                    findings::verified_at.eq(caller.now()),
                ))
                .execute(conn)?,
            Step::Return => diesel::update(q).set(findings::status.eq(next.as_str())).execute(conn)?,
        };
        if changed == 0 {
            return Err(AppError::conflict(ErrorCode::FindingChanged, "该问题刚被他人处理，请刷新后再试"));
        }
        let note = match deadline {
            Some(d) if step == Step::Rectify => format!("{text}（期限{d}）"),
            _ => text.clone(),
        };
        event(conn, caller, id, Some(f.status), next, &note)?;
        audit::record(
            conn,
            &caller.actor(),
            Entry::new("finding.step", "finding", id).before(&serde_json::json!({"status": f.status.as_str()})).after(
                &serde_json::json!({"status": next.as_str(), "step": step.label(), "text": text, "deadline": deadline}),
            ),
        )
    })?;
    get(conn, caller, id).map(|(f, _)| f)
}

/// What a link names: a ledger request (the recovery), a key-information change request or a
/// status change, by id.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
pub struct LinkForm {
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub target: String,
}

/// What puts a finding right: the recovery posting, or the registry change that corrects the record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    Ledger,
    Change,
    Status,
}

impl Link {
    pub fn parse(s: &str) -> AppResult<Self> {
        match s.trim() {
            "ledger" => Ok(Link::Ledger),
            "change" => Ok(Link::Change),
            "status" => Ok(Link::Status),
            other => Err(AppError::field(
                "kind",
                ErrorCode::FindingLinkKind,
                format!("关联类型“{other}”应为 ledger（追回入账）、change（关键信息变更）或 status（学籍异动）"),
            )),
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Link::Ledger => "ledger",
            Link::Change => "change",
            Link::Status => "status",
        }
    }
}

/// Links a finding, by an inspector, to a posting or registry change already made.
pub fn link(conn: &mut DbConn, caller: &Caller, id: i64, form: &LinkForm) -> AppResult<FindingView> {
    caller.require(conn, Permission::Inspect, "finding_link")?;
    let kind = Link::parse(&form.kind)?;
    let target: i64 = form.target.trim().parse().map_err(|_| {
        AppError::field("target", ErrorCode::FindingLink, format!("编号“{}”应为整数", form.target.trim()))
    })?;
    write_tx(conn, |conn| attach(conn, caller, id, kind, target))?;
    get(conn, caller, id).map(|(f, _)| f)
}

/// Links a finding the caller may see to a posting or registry change of the same school (a
/// recovery: a request on the school's account or for the school), audited. Call inside the
/// transaction that made the target, when a finding opens it.
pub fn attach(conn: &mut DbConn, caller: &Caller, id: i64, kind: Link, target: i64) -> AppResult<()> {
    let (f, _) = get(conn, caller, id)?;
    let school: i64 = orgs::table.filter(orgs::code.eq(&f.school)).select(orgs::id).first(conn)?;
    let mismatch =
        || AppError::field("target", ErrorCode::FindingLink, format!("编号{target}不存在，或与{}无关", f.school_name));
    let ours = match kind {
        Link::Ledger => {
            let (for_school, from, to): (Option<i64>, Option<i64>, Option<i64>) = ledger_requests::table
                .find(target)
                .select((
                    ledger_requests::for_school_id,
                    ledger_requests::from_account_id,
                    ledger_requests::to_account_id,
                ))
                .first(conn)
                .optional()?
                .ok_or_else(mismatch)?;
            let accounts: Vec<i64> = crate::db::schema::fund_accounts::table
                .filter(crate::db::schema::fund_accounts::org_id.eq(school))
                .select(crate::db::schema::fund_accounts::id)
                .load(conn)?;
            for_school == Some(school)
                || from.is_some_and(|a| accounts.contains(&a))
                || to.is_some_and(|a| accounts.contains(&a))
        }
        Link::Change => {
            change_requests::table
                .find(target)
                .select(change_requests::school_id)
                .first::<i64>(conn)
                .optional()?
                .ok_or_else(mismatch)?
                == school
        }
        Link::Status => {
            status_changes::table
                .find(target)
                .select(status_changes::from_school_id)
                .first::<i64>(conn)
                .optional()?
                .ok_or_else(mismatch)?
                == school
        }
    };
    if !ours {
        return Err(mismatch());
    }
    let q = findings::table.find(id);
    match kind {
        Link::Ledger => diesel::update(q).set(findings::ledger_request_id.eq(target)).execute(conn)?,
        Link::Change => diesel::update(q).set(findings::change_request_id.eq(target)).execute(conn)?,
        Link::Status => diesel::update(q).set(findings::status_change_id.eq(target)).execute(conn)?,
    };
    audit::record(
        conn,
        &caller.actor(),
        Entry::new("finding.link", "finding", id).after(&serde_json::json!({"kind": kind.as_str(), "target": target})),
    )
}

/// Posting a recovery (追回): someone of the county (or above) who may post, while the finding
/// has no recovery standing (`recovery_open`). The finding's page offers the form on this rule.
pub fn may_recover(caller: &Caller, f: &FindingView, open: bool) -> AppResult<()> {
    if !caller.may(Permission::PostLedger) {
        return Err(AppError::forbidden());
    }
    // The finding is in the caller's scope: county or above is above its school.
    if !caller.org_kind.is_county_or_above() {
        return Err(AppError::field(
            "to",
            ErrorCode::LedgerNotBelow,
            format!("只能由上级追回：“{}”不是“{}”的上级单位", caller.org_name, f.school_name),
        ));
    }
    if !open {
        let r = f.ledger_request_id.unwrap_or_default();
        return Err(AppError::conflict(ErrorCode::FindingRecovered, format!("该问题已关联追回入账申请 {r}")));
    }
    Ok(())
}

/// Opening a registry correction from a finding: someone who edits students, while the finding
/// is not yet verified (a verified finding is closed).
pub fn may_correct(caller: &Caller, f: &FindingView) -> AppResult<()> {
    if !caller.may(Permission::EditStudents) {
        return Err(AppError::forbidden());
    }
    if f.status == Status::Verified {
        return Err(AppError::conflict(
            ErrorCode::FindingVerified,
            format!("督查问题{}已核销，不能再据此更正学籍", f.id),
        ));
    }
    Ok(())
}

/// Whether a recovery may be posted for the finding: none is linked yet, or the linked one was
/// refused by the second person.
pub fn recovery_open(conn: &mut DbConn, f: &FindingView) -> AppResult<bool> {
    let Some(r) = f.ledger_request_id else { return Ok(true) };
    let status: Option<String> =
        ledger_requests::table.find(r).select(ledger_requests::status).first(conn).optional()?;
    Ok(status.as_deref() == Some("rejected"))
}

/// Makes a registry change opened from a finding (`finding` set) and links it back, in one
/// transaction: a change the finding may not take leaves nothing behind.
pub fn opened_from<T>(
    conn: &mut DbConn,
    caller: &Caller,
    finding: Option<i64>,
    kind: Link,
    make: impl FnOnce(&mut DbConn) -> AppResult<T>,
    id_of: impl Fn(&T) -> i64,
) -> AppResult<T> {
    if let Some(f) = finding {
        may_correct(caller, &get(conn, caller, f)?.0)?;
    }
    write_tx(conn, |conn| {
        let made = make(conn)?;
        if let Some(f) = finding {
            attach(conn, caller, f, kind, id_of(&made))?;
        }
        Ok(made)
    })
}

/// A recovery (追回) as the county's finance fills it in on the finding's page.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
pub struct RecoverForm {
    /// Yuan; empty takes the finding's amount.
    #[serde(default)]
    pub amount: String,
    #[serde(default)]
    pub date: String,
    #[serde(default)]
    pub voucher_no: String,
    #[serde(default)]
    pub memo: String,
    #[serde(default)]
    pub fund: String,
    #[serde(default)]
    pub key: String,
}

/// Posts the recovery of a finding's money from the school's account to the caller's org, linked to
/// the finding in the same transaction. The caller is the county's own finance (the ledger rule:
/// an org's money moves by its own people), above the threshold a second person approves it.
pub fn recover(
    conn: &mut DbConn,
    caller: &Caller,
    id: i64,
    form: &RecoverForm,
) -> AppResult<crate::ledger::fund::Request> {
    caller.require(conn, Permission::PostLedger, "finding_recover")?;
    let (f, _) = get(conn, caller, id)?;
    // The same form sent again answers with what the first one posted.
    let replay = match f.ledger_request_id {
        Some(r) => crate::ledger::fund::request_by_key(conn, form.key.trim())?.is_some_and(|r2| r2.id() == r),
        None => false,
    };
    may_recover(caller, &f, replay || recovery_open(conn, &f)?)?;
    let amount = match (form.amount.trim(), &f.amount) {
        ("", Some(a)) => a.clone(),
        ("", None) => return Err(AppError::field("amount", ErrorCode::LedgerAmount, "请填写追回金额")),
        (a, _) => a.to_owned(),
    };
    let memo = format!("追回：督查问题{id} {}", form.memo.trim());
    let posting = crate::ledger::fund::PostingForm {
        kind: crate::ledger::fund::RequestKind::Recovery.as_str().into(),
        fund: form.fund.clone(),
        from: f.school.clone(),
        // The caller's own org takes it back: the ledger checks that it is above the school.
        to: caller.org_code.clone(),
        amount,
        date: form.date.clone(),
        voucher_no: form.voucher_no.clone(),
        memo: memo.trim().to_owned(),
        key: form.key.clone(),
        ..Default::default()
    };
    crate::ledger::fund::post_then(conn, caller, &posting, |conn, request| {
        attach(conn, caller, id, Link::Ledger, request)
    })
}

/// The student of a finding's school with this 学籍号 (the registry's own id), for opening a key-
/// information change or a status change from the finding.
pub fn student_of(conn: &mut DbConn, caller: &Caller, id: i64, student_no: &str) -> AppResult<i64> {
    caller.require(conn, Permission::EditStudents, "finding_correct")?;
    let (f, _) = get(conn, caller, id)?;
    let no = student_no.trim();
    crate::db::schema::students::table
        .inner_join(orgs::table.on(orgs::id.eq(crate::db::schema::students::school_id)))
        .filter(orgs::code.eq(&f.school))
        .filter(crate::db::schema::students::student_no_hash.eq(crate::db::at_rest::student_no_hash(no)?))
        .select(crate::db::schema::students::id)
        .first(conn)
        .optional()?
        .ok_or_else(|| {
            AppError::field(
                "student_no",
                ErrorCode::FindingStudent,
                format!("{}没有学籍号为“{no}”的学生", f.school_name),
            )
        })
}

/// An evidence file of a finding the caller may see: (file name, content type, bytes).
pub fn evidence(conn: &mut DbConn, caller: &Caller, id: i64, attachment: i64) -> AppResult<(String, String, Vec<u8>)> {
    get(conn, caller, id)?;
    finding_evidence::table
        .inner_join(attachments::table)
        .filter(finding_evidence::finding_id.eq(id))
        .filter(attachments::id.eq(attachment))
        .select((attachments::filename, attachments::content_type, attachments::bytes))
        .first(conn)
        .optional()?
        .ok_or_else(AppError::not_found)
}
