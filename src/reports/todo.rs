//! 待办: what waits for the caller — decisions that are theirs to take, their own requests
//! waiting for someone else, and deadlines coming or passed — each one click from the place to
//! act. Every item comes from the list and the rule that decide what the caller may do there
//! (a ledger request's `actions.approve`, a change's `can_decide`, a roster's next step), so the
//! panel offers nothing the page would then refuse. A list the caller may not read is not asked
//! for: asking would be refused and audited as an access denied.

use chrono::NaiveDate;
use serde::Serialize;

use crate::auth::Caller;
use crate::db::DbConn;
use crate::domain::calendar::Span;
use crate::domain::ledger::RequestStatus;
use crate::domain::money::Fen;
use crate::domain::role::{OrgKind, Permission};
use crate::domain::roster::Step;
use crate::domain::student::Review;
use crate::domain::term::Term;
use crate::error::AppResult;

/// What an item asks of the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
#[schemars(rename = "TodoKind")]
pub enum Kind {
    /// A decision that is the caller's to take (审批、审核、确认、备案).
    Decide,
    /// Something the caller asked for, waiting for someone else.
    Waiting,
    /// A date the caller's org must meet, coming or passed.
    Deadline,
}

impl Kind {
    /// As the JSON and the page's classes name it.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Decide => "decide",
            Kind::Waiting => "waiting",
            Kind::Deadline => "deadline",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Kind::Decide => "待我办理",
            Kind::Waiting => "等待他人",
            Kind::Deadline => "期限",
        }
    }
}

/// One line of the panel.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[schemars(rename = "TodoItem")]
pub struct Item {
    pub kind: Kind,
    pub kind_label: &'static str,
    /// Where it is done (资金台账、学籍异动…).
    pub area: &'static str,
    /// What waits, in words ("3 笔记账（合计 12,000.00 元）待您审批").
    pub title: String,
    pub count: usize,
    /// The page where it is done.
    pub href: String,
    pub due: Option<NaiveDate>,
    /// The due date has passed.
    pub overdue: bool,
}

/// The caller's to-do list, decisions first, then deadlines (passed first), then what waits on others.
#[derive(Debug, Clone, Default, Serialize, schemars::JsonSchema)]
pub struct Todo {
    pub items: Vec<Item>,
    /// How many things wait for the caller's decision (the menu's count).
    pub decide: usize,
    pub waiting: usize,
    pub deadlines: usize,
}

fn item(kind: Kind, area: &'static str, title: String, count: usize, href: impl Into<String>) -> Item {
    Item { kind, kind_label: kind.label(), area, title, count, href: href.into(), due: None, overdue: false }
}

/// Everything waiting for the caller.
pub fn for_caller(conn: &mut DbConn, caller: &Caller) -> AppResult<Todo> {
    let mut items = Vec::new();
    items.extend(ledger(conn, caller)?);
    items.extend(students(conn, caller)?);
    items.extend(change_requests(conn, caller)?);
    items.extend(status_changes(conn, caller)?);
    items.extend(rosters(conn, caller)?);
    items.extend(reports(conn, caller)?);
    items.extend(accounts(conn, caller)?);
    items.sort_by_key(|i| {
        let rank = match (i.kind, i.overdue) {
            (Kind::Decide, _) => 0,
            (Kind::Deadline, true) => 1,
            (Kind::Deadline, false) => 2,
            (Kind::Waiting, _) => 3,
        };
        (rank, i.due)
    });
    let count = |k: Kind| items.iter().filter(|i| i.kind == k).map(|i| i.count).sum();
    Ok(Todo { decide: count(Kind::Decide), waiting: count(Kind::Waiting), deadlines: count(Kind::Deadline), items })
}

/// Postings above the threshold wait for a second person of the org.
fn ledger(conn: &mut DbConn, caller: &Caller) -> AppResult<Vec<Item>> {
    if !caller.may(Permission::ViewLedger) {
        return Ok(Vec::new());
    }
    let pending = crate::ledger::fund::requests(conn, caller, Some(RequestStatus::Pending))?;
    let mut out = Vec::new();
    let mine: Vec<_> = pending.iter().filter(|r| r.actions.approve).collect();
    if !mine.is_empty() {
        let sum = Fen::new(mine.iter().map(|r| r.amount.fen()).sum());
        let title = format!("{} 笔记账（合计 {sum} 元）待您审批", mine.len());
        out.push(item(Kind::Decide, "资金台账", title, mine.len(), "/ledger?status=pending#records"));
    }
    let asked = pending.iter().filter(|r| r.maker == caller.username).count();
    if asked > 0 {
        let title = format!("您提交的 {asked} 笔记账等待本单位第二人审批");
        out.push(item(Kind::Waiting, "资金台账", title, asked, "/ledger?status=pending#records"));
    }
    Ok(out)
}

/// New students wait for the county's confirmation (确认入库); suspected duplicates for a decision.
/// The school's registrar sees the same two counts of its own school as waiting on the county.
fn students(conn: &mut DbConn, caller: &Caller) -> AppResult<Vec<Item>> {
    if !caller.may(Permission::ViewStudents) {
        return Ok(Vec::new());
    }
    let registrar = caller.org_kind == OrgKind::School && caller.may(Permission::EditStudents);
    let (kind, prefix, pending, problem) = if caller.may(Permission::ConfirmStudents) {
        (Kind::Decide, "", "名新生待确认入库", "条问题学籍（疑似重复等）待处理")
    } else if registrar {
        (Kind::Waiting, "本校 ", "名新生等待县级确认入库", "条问题学籍等待县级处理")
    } else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for (review, what) in [(Review::Pending, pending), (Review::Problem, problem)] {
        let total = crate::registry::service::review_count(conn, caller, review)?;
        if total > 0 {
            let n = usize::try_from(total).unwrap_or(usize::MAX);
            let href = format!("/students?review={}", review.as_str());
            out.push(item(kind, "学生学籍", format!("{prefix}{total} {what}"), n, href));
        }
    }
    Ok(out)
}

/// Key-information changes (关键信息变更): the step waiting at the caller, and the caller's own.
fn change_requests(conn: &mut DbConn, caller: &Caller) -> AppResult<Vec<Item>> {
    if !caller.may(Permission::ViewStudents) {
        return Ok(Vec::new());
    }
    let all = crate::registry::changes::open(conn, caller)?;
    let mut out = Vec::new();
    let decide = all.iter().filter(|r| r.actions.decide).count();
    if decide > 0 {
        let title = format!("{decide} 件关键信息变更待您审核");
        out.push(item(Kind::Decide, "关键信息变更", title, decide, "/change-requests"));
    }
    let asked = all.iter().filter(|r| r.requested_by == caller.username && !r.actions.decide).count();
    if asked > 0 {
        let title = format!("您提交的 {asked} 件关键信息变更正在审批中");
        out.push(item(Kind::Waiting, "关键信息变更", title, asked, "/change-requests"));
    }
    Ok(out)
}

/// Status changes (学籍异动): steps the caller may decide, steps past their time limit, and the
/// caller's own requests on their way.
fn status_changes(conn: &mut DbConn, caller: &Caller) -> AppResult<Vec<Item>> {
    use crate::registry::status::{self, Show};
    if !caller.may(Permission::ViewStudents) {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    let open = status::list(conn, caller, Show::Open)?;
    let decide = open.iter().filter(|c| c.can_decide).count();
    if decide > 0 {
        let title = format!("{decide} 件学籍异动待您办理");
        out.push(item(Kind::Decide, "学籍异动", title, decide, "/status-changes?show=mine"));
    }
    // The overdue are among the open ones: counted from the same list, not asked again.
    let overdue = open.iter().filter(|c| c.is_overdue()).count();
    if overdue > 0 {
        let title = format!("{overdue} 件学籍异动已超过办理时限（每一环节10个工作日）");
        let mut i = item(Kind::Deadline, "学籍异动", title, overdue, "/status-changes?show=overdue");
        i.overdue = true;
        out.push(i);
    }
    let asked = open.iter().filter(|c| c.requested_by == caller.username && !c.can_decide).count();
    if asked > 0 {
        let title = format!("您提出的 {asked} 件学籍异动正在办理中");
        out.push(item(Kind::Waiting, "学籍异动", title, asked, "/status-changes"));
    }
    Ok(out)
}

/// This term's beneficiary rosters: the school's signature before its deadline, and the county's
/// review and archiving — the next step each roster's rule lets the caller take.
fn rosters(conn: &mut DbConn, caller: &Caller) -> AppResult<Vec<Item>> {
    if !caller.may(Permission::ViewStudents)
        || !(caller.may(Permission::SignRoster) || caller.may(Permission::ReviewRoster))
    {
        return Ok(Vec::new());
    }
    let term = Term::of_day(caller.today());
    let rows = crate::programme::roster::overview(conn, caller, term)?;
    let mut out = Vec::new();
    // The school: its own roster not yet signed, against the deadline (late by the roster's rule).
    let own = rows.iter().find(|r| r.school_code == caller.org_code);
    if let Some(own) = own.filter(|_| caller.org_kind == OrgKind::School && caller.may(Permission::SignRoster)) {
        // Straight to the version to sign, once there is one.
        let href = own.roster_id.map_or_else(|| "/rosters".to_owned(), |id| format!("/rosters/{id}"));
        if own.signed_at.is_none() {
            let title = format!(
                "{}受益学生花名册尚未签章确认（{}，截止 {}）",
                term.label(),
                own.status_label,
                own.deadline.format("%-m月%-d日")
            );
            let mut i = item(Kind::Deadline, "受益花名册", title, 1, href);
            i.due = Some(own.deadline);
            i.overdue = own.late;
            out.push(i);
        } else if own.awaits == Some(Step::Sign.label()) {
            // Signed once on time; a newer version (a child moved) waits for its signature.
            let title = format!("{}受益学生花名册第{}版待签章确认", term.label(), own.version.unwrap_or(1));
            out.push(item(Kind::Decide, "受益花名册", title, 1, href));
        }
    }
    for (step, waiting) in [(Step::Review, "待审核"), (Step::Archive, "待备案")] {
        let n = rows.iter().filter(|r| r.awaits == Some(step.label())).count();
        if n > 0 {
            let title = format!("{n} 所学校的{}花名册{waiting}", term.label());
            out.push(item(Kind::Decide, "受益花名册", title, n, "/rosters"));
        }
    }
    Ok(out)
}

/// Statutory reports: submissions from below waiting for the caller's sign-off, and the caller's
/// own org's report for this term when it is not yet submitted.
fn reports(conn: &mut DbConn, caller: &Caller) -> AppResult<Vec<Item>> {
    use crate::reports::submission;
    if !caller.may(Permission::ViewReports) {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    let term = Term::of_day(caller.today());
    let period = Span::of_term(term);
    let awaiting = submission::awaiting(conn, caller)?;
    if let Some(first) = awaiting.first() {
        let title = format!("{} 份下级报送的报表待您审核", awaiting.len());
        let href = format!("/reports/submissions?report={}&period={}", first.report, first.period);
        out.push(item(Kind::Decide, "统计报表", title, awaiting.len(), href));
    }
    // The caller's own org's report for this term. Asked for its own level only: a school's
    // overview is itself, a county's county report is the county.
    if let Some(report) = submission::own_report(caller.org_kind)
        && caller.may(Permission::SubmitReports)
    {
        let owed = submission::overview(conn, caller, report, &period)?;
        if let Some(o) = owed.iter().find(|o| o.org == caller.org_code && o.latest.is_none()) {
            let title = format!("本单位{}报表尚未报送（截止 {}）", term.label(), o.due_date);
            let href = format!("/reports/{report}?org={}&period={term}", caller.org_code);
            let mut i = item(Kind::Deadline, "统计报表", title, 1, href);
            i.due = Some(o.due_date);
            i.overdue = o.late;
            out.push(i);
        }
    }
    Ok(out)
}

/// Accounts waiting for a second officer (a grant, a disabling).
fn accounts(conn: &mut DbConn, caller: &Caller) -> AppResult<Vec<Item>> {
    if !caller.roles.has_officer() {
        return Ok(Vec::new());
    }
    let open = crate::auth::service::open_requests(conn, caller)?;
    let decide = open.iter().filter(|r| r.actions.grant || r.actions.confirm_disable || r.actions.refuse).count();
    let mut out = Vec::new();
    if decide > 0 {
        out.push(item(Kind::Decide, "用户管理", format!("{decide} 项账号申请待您确认"), decide, "/users"));
    }
    let asked = open.iter().filter(|r| r.requested_by == caller.username).count();
    if asked > 0 {
        let title = format!("您提出的 {asked} 项账号申请等待另一名管理员确认");
        out.push(item(Kind::Waiting, "用户管理", title, asked, "/users"));
    }
    Ok(out)
}
