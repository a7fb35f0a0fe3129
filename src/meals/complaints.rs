//! Complaints (举报): sent by anyone from a school's public notice page (named or anonymous,
//! a contact if given), or entered by the county from a call or a letter. Each goes to the
//! county of its school, is answered there within 15 days, and can become an inspection finding.
//! The sender gets a tracking code to read the answer; the county's summary counts them as the
//! county bulletins do.

use std::collections::BTreeMap;

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::audit::{self, Actor, Entry};
use crate::auth::Caller;
use crate::clock::now;
use crate::db::at_rest::{self, ComplaintContact, OpenedText};
use crate::db::schema::{complaints, orgs};
use crate::db::{DbConn, write_tx};
use crate::domain::complaint::{self, ANSWER_DAYS, Category, Status};
use crate::domain::role::{OrgKind, Permission};
use crate::domain::{mask, text};
use crate::error::{AppError, AppResult, ErrorCode, ErrorKind, FieldError};
use crate::org::model::Org;
use crate::org::service::org_in_scope;
use crate::registry::service::county_of;

/// Complaints one sender may file in an hour, before being asked to call instead.
pub const PER_HOUR: i64 = 5;
const MAX_CONTENT: usize = 1000;

/// A complaint as typed on the notice page, entered by the county, or sent to the API.
#[derive(Debug, Clone, Default, Deserialize, Serialize, schemars::JsonSchema)]
pub struct ComplaintForm {
    /// The school it is about (the notice page's own; the county chooses one of its schools).
    #[serde(default)]
    pub school: String,
    #[serde(default)]
    pub category: String,
    #[serde(default)]
    pub content: String,
    #[serde(default)]
    pub anonymous: bool,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub contact: String,
}

struct Checked {
    category: Category,
    content: String,
    anonymous: bool,
    name: String,
    contact: String,
}

fn check(form: &ComplaintForm) -> AppResult<Checked> {
    let mut errors = Vec::new();
    let mut field = |name: &str, code: ErrorCode, r: Result<String, String>| -> String {
        r.unwrap_or_else(|m| {
            errors.push(FieldError { field: name.into(), code, message: m });
            String::new()
        })
    };
    let content =
        field("content", ErrorCode::ComplaintContent, complaint::plain("举报内容", &form.content, MAX_CONTENT));
    let name = field("name", ErrorCode::ComplaintName, complaint::plain("姓名", &form.name, 20));
    let contact = field("contact", ErrorCode::ComplaintContact, complaint::plain("联系方式", &form.contact, 40));
    if content.chars().count() < 5 && errors.iter().all(|e| e.field != "content") {
        errors.push(FieldError {
            field: "content".into(),
            code: ErrorCode::ComplaintContent,
            message: "请写明举报的事情（至少5个字）：时间、地点、什么问题".into(),
        });
    }
    let category = Category::parse(&form.category).unwrap_or_else(|| {
        errors.push(FieldError {
            field: "category".into(),
            code: ErrorCode::ComplaintCategory,
            message: format!("举报类别“{}”无效", form.category.trim()),
        });
        Category::Other
    });
    if !contact.is_empty() && !contact.chars().any(|c| c.is_ascii_digit()) && !contact.contains('@') {
        errors.push(FieldError {
            field: "contact".into(),
            code: ErrorCode::ComplaintContact,
            message: "联系方式应为电话号码或电子邮箱".into(),
        });
    }
    if !errors.is_empty() {
        return Err(AppError::fields(errors));
    }
    // Anonymous means nothing about the sender is kept, whatever was typed.
    let (name, contact) = if form.anonymous { (String::new(), String::new()) } else { (name, contact) };
    Ok(Checked { category, content, anonymous: form.anonymous, name, contact })
}

/// A keyed hash of where a public complaint came from: enough to count a flood, never the
/// address itself.
pub fn source_hash(key: &[u8], address: &str) -> String {
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(b"complaint-source:");
    mac.update(address.as_bytes());
    hex::encode(&mac.finalize().into_bytes()[..16])
}

fn tracking_code() -> String {
    // Ten characters without the ones people misread (0/O, 1/I/L).
    const ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";
    (0..10).map(|_| char::from(ALPHABET[usize::from(rand::random::<u8>()) % ALPHABET.len()])).collect()
}

fn county_id(conn: &mut DbConn, school: &Org) -> AppResult<i64> {
    orgs::table
        .filter(orgs::code.eq(county_of(&school.path)))
        .select(orgs::id)
        .first(conn)
        .optional()?
        .ok_or_else(|| AppError::internal_msg(ErrorCode::ComplaintCounty, format!("{}没有所属县", school.name)))
}

fn insert(
    conn: &mut DbConn,
    actor: &Actor,
    school: &Org,
    c: &Checked,
    channel: &str,
    source: &str,
    received_by: &str,
) -> AppResult<(i64, String)> {
    let county = county_id(conn, school)?;
    let code = tracking_code();
    write_tx(conn, |conn| {
        let id: i64 = diesel::insert_into(complaints::table)
            .values((
                complaints::tracking_code.eq(&code),
                complaints::school_id.eq(school.id),
                complaints::county_id.eq(county),
                complaints::channel.eq(channel),
                complaints::category.eq(c.category.as_str()),
                complaints::content.eq(&c.content),
                complaints::anonymous.eq(c.anonymous),
                complaints::name.eq(&c.name),
                complaints::contact_sealed.eq(at_rest::seal::<ComplaintContact>(&c.contact)?),
                complaints::status.eq(Status::Received.as_str()),
                complaints::source_hash.eq(source),
                complaints::received_by.eq(received_by),
                complaints::received_at.eq(now()),
            ))
            .returning(complaints::id)
            .get_result(conn)?;
        // The audit keeps that a complaint came and about what; the sender's details stay in
        // the complaint alone.
        audit::record(
            conn,
            actor,
            Entry::new("complaint.receive", "complaint", id).after(&serde_json::json!({
                "school": school.code, "channel": channel, "category": c.category.as_str(), "anonymous": c.anonymous
            })),
        )?;
        Ok((id, code.clone()))
    })
}

/// A complaint from a school's public notice page: no login; at most [`PER_HOUR`] an hour from
/// one sender. Returns the tracking code.
pub fn submit_public(
    conn: &mut DbConn,
    key: &[u8],
    school_code: &str,
    form: &ComplaintForm,
    address: &str,
) -> AppResult<String> {
    let school = super::notice::school(conn, school_code)?;
    let c = check(form)?;
    let source = source_hash(key, address);
    let since = now() - chrono::Duration::hours(1);
    let recent: i64 = complaints::table
        .filter(complaints::source_hash.eq(&source))
        .filter(complaints::received_at.ge(since))
        .count()
        .get_result(conn)?;
    if recent >= PER_HOUR {
        return Err(AppError::new(
            ErrorKind::Locked,
            ErrorCode::ComplaintTooMany,
            "提交过于频繁，请一小时后再试，或拨打公示的举报电话",
        ));
    }
    let instance = audit::service::instance_path(conn)?;
    let (_, code) = insert(conn, &Actor::anonymous(address, &instance), &school, &c, "public", &source, "public")?;
    Ok(code)
}

/// A complaint the county took by phone or letter, about one of its schools.
pub fn enter(conn: &mut DbConn, caller: &Caller, form: &ComplaintForm) -> AppResult<i64> {
    caller.require(conn, Permission::ApproveMeals, "complaint_enter")?;
    let school = org_in_scope(conn, caller.scope(), form.school.trim()).map_err(|_| {
        AppError::field("school", ErrorCode::ComplaintSchool, format!("没有学校“{}”或不在本县", form.school.trim()))
    })?;
    if school.kind != OrgKind::School {
        return Err(AppError::field("school", ErrorCode::ComplaintSchool, format!("“{}”不是学校", school.name)));
    }
    let c = check(form)?;
    Ok(insert(conn, &caller.actor(), &school, &c, "county", "", &caller.username)?.0)
}

/// A complaint as the county reads it. The sender's contact is masked in lists and shown whole
/// only on the complaint itself.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ComplaintView {
    pub id: i64,
    pub school_code: String,
    pub school_name: String,
    pub channel: &'static str,
    pub category: Category,
    pub category_label: &'static str,
    pub content: String,
    pub anonymous: bool,
    pub name: String,
    pub contact: String,
    pub status: Status,
    pub status_label: &'static str,
    pub answer: String,
    pub answered_by: Option<String>,
    pub answered_at: Option<NaiveDateTime>,
    pub finding_id: Option<i64>,
    pub received_by: String,
    pub received_at: NaiveDateTime,
    /// The answer is due this day (Beijing time).
    pub due: NaiveDate,
    pub overdue: bool,
    /// What the caller may do with it (`may_answer`, `may_take_up`).
    pub actions: ComplaintActions,
}

/// What a caller may do with a complaint.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct ComplaintActions {
    /// 答复.
    pub answer: bool,
    /// 转为督查问题.
    pub take_up: bool,
}

/// Answering: the nutrition office, once.
pub fn may_answer(caller: &Caller, status: Status) -> AppResult<()> {
    if !caller.may(Permission::ApproveMeals) {
        return Err(AppError::forbidden());
    }
    if status == Status::Answered {
        return Err(AppError::conflict(ErrorCode::ComplaintAnswered, "这件举报已答复"));
    }
    Ok(())
}

/// Taking it up as a finding (转为督查问题): an inspector, once per complaint.
pub fn may_take_up(caller: &Caller, finding: Option<i64>) -> AppResult<()> {
    if !caller.may(Permission::Inspect) {
        return Err(AppError::forbidden());
    }
    if finding.is_some() {
        return Err(AppError::conflict(ErrorCode::FindingComplaint, "该举报已转为督查问题"));
    }
    Ok(())
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = complaints)]
struct Row {
    id: i64,
    channel: String,
    category: String,
    content: String,
    anonymous: bool,
    name: String,
    #[diesel(column_name = contact_sealed, deserialize_as = OpenedText<ComplaintContact>)]
    contact: String,
    #[diesel(deserialize_as = String)]
    status: Status,
    answer: String,
    answered_by: Option<String>,
    answered_at: Option<NaiveDateTime>,
    finding_id: Option<i64>,
    received_by: String,
    received_at: NaiveDateTime,
}

fn view(caller: &Caller, r: Row, school: &Org, whole: bool) -> ComplaintView {
    let status = r.status;
    let category = Category::parse(&r.category).unwrap_or(Category::Other);
    let due = crate::clock::local(r.received_at).date() + chrono::Days::new(ANSWER_DAYS.unsigned_abs());
    ComplaintView {
        id: r.id,
        school_code: school.code.clone(),
        school_name: school.name.clone(),
        channel: if r.channel == "public" { "公示页举报" } else { "县级登记" },
        category,
        category_label: category.label(),
        content: r.content,
        anonymous: r.anonymous,
        name: r.name,
        contact: if whole { r.contact } else { mask::phone(&r.contact) },
        status,
        status_label: status.label(),
        answer: r.answer,
        answered_by: r.answered_by,
        answered_at: r.answered_at,
        finding_id: r.finding_id,
        received_by: if r.received_by == "public" { "公示页".into() } else { r.received_by },
        received_at: r.received_at,
        due,
        overdue: status != Status::Answered && caller.today() > due,
        actions: ComplaintActions {
            answer: may_answer(caller, status).is_ok(),
            take_up: may_take_up(caller, r.finding_id).is_ok(),
        },
    }
}

/// Who reads complaints: the county's nutrition office answers them; its inspectors read them
/// to open findings; a school sees none (they may be about its own staff).
fn may_read(caller: &Caller) -> bool {
    caller.org_kind.is_county_or_above() && (caller.may(Permission::ApproveMeals) || caller.may(Permission::Inspect))
}

fn in_scope(conn: &mut DbConn, caller: &Caller, id: i64) -> AppResult<(Row, Org)> {
    if !may_read(caller) {
        caller.require(conn, Permission::ApproveMeals, "complaint_view")?;
        return Err(AppError::forbidden());
    }
    complaints::table
        .inner_join(orgs::table.on(orgs::id.nullable().eq(complaints::school_id)))
        .filter(complaints::id.eq(id))
        .filter(orgs::path.like(caller.scope().like_pattern()))
        .select((Row::as_select(), Org::as_select()))
        .first(conn)
        .optional()?
        .ok_or_else(AppError::not_found)
}

/// One complaint, the sender's contact in full.
pub fn get(conn: &mut DbConn, caller: &Caller, id: i64) -> AppResult<ComplaintView> {
    let (r, school) = in_scope(conn, caller, id)?;
    Ok(view(caller, r, &school, true))
}

/// The complaints about the org's schools received in a period, newest first.
pub fn list(
    conn: &mut DbConn,
    caller: &Caller,
    org_code: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> AppResult<(Org, Vec<ComplaintView>)> {
    if !may_read(caller) {
        caller.require(conn, Permission::ApproveMeals, "complaint_list")?;
        return Err(AppError::forbidden());
    }
    let org = org_in_scope(conn, caller.scope(), org_code)?;
    // Beijing days, stored instants in UTC.
    let (start, end) = (crate::clock::day_start_utc(from), crate::clock::day_start_utc(to + chrono::Days::new(1)));
    let rows: Vec<(Row, Org)> = complaints::table
        .inner_join(orgs::table.on(orgs::id.nullable().eq(complaints::school_id)))
        .filter(orgs::path.like(format!("{}%", org.path)))
        .filter(complaints::received_at.ge(start))
        .filter(complaints::received_at.lt(end))
        .order(complaints::id.desc())
        .select((Row::as_select(), Org::as_select()))
        .limit(1000)
        .load(conn)?;
    Ok((org, rows.into_iter().map(|(r, s)| view(caller, r, &s, false)).collect()))
}

/// The county's answer; the complaint is then closed for the sender to read.
pub fn answer(conn: &mut DbConn, caller: &Caller, id: i64, typed: &str) -> AppResult<ComplaintView> {
    caller.require(conn, Permission::ApproveMeals, "complaint_answer")?;
    let (r, _) = in_scope(conn, caller, id)?;
    let text =
        text::required("答复", typed, 1000).map_err(|m| AppError::field("answer", ErrorCode::ComplaintAnswer, m))?;
    may_answer(caller, r.status)?;
    write_tx(conn, |conn| {
        let n = diesel::update(complaints::table.find(id).filter(complaints::status.ne(Status::Answered.as_str())))
            .set((
                complaints::status.eq(Status::Answered.as_str()),
                complaints::answer.eq(&text),
                complaints::answered_by.eq(&caller.username),
                complaints::answered_at.eq(caller.now()),
            ))
            .execute(conn)?;
        if n == 0 {
            return Err(AppError::conflict(ErrorCode::ComplaintAnswered, "这件举报已答复"));
        }
        audit::record(
            conn,
            &caller.actor(),
            Entry::new("complaint.answer", "complaint", id)
                .before(&r.status.as_str())
                .after(&serde_json::json!({"answer": text})),
        )
    })?;
    get(conn, caller, id)
}

/// Links a finding opened from a complaint, inside the finding's transaction: the complaint must
/// be about the finding's school and not linked yet. It is then being handled.
pub(crate) fn link_finding(
    conn: &mut DbConn,
    caller: &Caller,
    complaint: i64,
    school_id: i64,
    finding: i64,
) -> AppResult<()> {
    let row: Option<(Option<i64>, Option<i64>, String)> = complaints::table
        .find(complaint)
        .select((complaints::school_id, complaints::finding_id, complaints::status))
        .first(conn)
        .optional()?;
    let Some((school, linked, status)) = row else {
        return Err(AppError::field(
            "complaint_id",
            ErrorCode::FindingComplaint,
            format!("没有编号为{complaint}的举报"),
        ));
    };
    if school != Some(school_id) {
        return Err(AppError::field("complaint_id", ErrorCode::FindingComplaint, "该举报不是这所学校的"));
    }
    may_take_up(caller, linked)?;
    let next = if status == Status::Answered.as_str() { Status::Answered } else { Status::Handling };
    diesel::update(complaints::table.find(complaint))
        .set((complaints::finding_id.eq(finding), complaints::status.eq(next.as_str())))
        .execute(conn)?;
    Ok(())
}

/// The complaint a finding came from, if any.
pub(crate) fn of_finding(conn: &mut DbConn, finding: i64) -> AppResult<Option<i64>> {
    Ok(complaints::table.filter(complaints::finding_id.eq(finding)).select(complaints::id).first(conn).optional()?)
}

/// What a sender reads with the tracking code: where it stands and the answer; nothing of the
/// complaint itself beyond its school and category.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Tracked {
    pub school_name: String,
    pub category_label: &'static str,
    pub status_label: &'static str,
    pub received_at: NaiveDateTime,
    pub answer: String,
    pub answered_at: Option<NaiveDateTime>,
}

pub fn track(conn: &mut DbConn, code: &str) -> AppResult<Tracked> {
    let code: String = code.trim().to_uppercase().chars().filter(|c| c.is_ascii_alphanumeric()).take(10).collect();
    if code.len() != 10 {
        return Err(AppError::field("code", ErrorCode::ComplaintCode, "查询码为10位字母数字（提交举报后显示）"));
    }
    let (r, school): (Row, Org) = complaints::table
        .inner_join(orgs::table.on(orgs::id.nullable().eq(complaints::school_id)))
        .filter(complaints::tracking_code.eq(&code))
        .select((Row::as_select(), Org::as_select()))
        .first(conn)
        .optional()?
        .ok_or_else(|| {
            AppError::new(ErrorKind::NotFound, ErrorCode::ComplaintUnknownCode, "没有这个查询码的举报，请核对")
        })?;
    let status = r.status;
    let category = Category::parse(&r.category).unwrap_or(Category::Other);
    Ok(Tracked {
        school_name: school.name,
        category_label: category.label(),
        status_label: status.label(),
        received_at: r.received_at,
        answer: r.answer,
        answered_at: r.answered_at,
    })
}

/// A county's complaints by school: received, answered, overdue, turned into findings.
#[derive(Debug, Clone, Default, Serialize, schemars::JsonSchema)]
pub struct SummaryRow {
    pub school_code: String,
    pub school_name: String,
    pub received: i64,
    pub answered: i64,
    pub overdue: i64,
    pub findings: i64,
    pub by_category: BTreeMap<&'static str, i64>,
}

/// Counts by school of a list (the page's and the API's summary, and the bulletin's figures).
pub fn summary(list: &[ComplaintView]) -> (Vec<SummaryRow>, SummaryRow) {
    let mut by: BTreeMap<String, SummaryRow> = BTreeMap::new();
    let mut total = SummaryRow { school_name: "合计".into(), ..SummaryRow::default() };
    for c in list {
        let row = by.entry(c.school_code.clone()).or_insert_with(|| SummaryRow {
            school_code: c.school_code.clone(),
            school_name: c.school_name.clone(),
            ..SummaryRow::default()
        });
        for r in [&mut *row, &mut total] {
            r.received += 1;
            r.answered += i64::from(c.status == Status::Answered);
            r.overdue += i64::from(c.overdue);
            r.findings += i64::from(c.finding_id.is_some());
            *r.by_category.entry(c.category_label).or_default() += 1;
        }
    }
    (by.into_values().collect(), total)
}
