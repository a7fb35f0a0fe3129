//! A point's package applied at the county: each child matched to the network's and merged
//! field by field, photos and the point's field history carried over, term dates, meal calendars
//! and meal days taken where the network has none, and everything else listed as an item for a
//! person. One run per package, inside the import's transaction.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use diesel::prelude::*;
use serde_json::json;

use super::county::{ItemKind, ItemState, Summary, meal_month, student_row, write_term};
use crate::auth::Caller;
use crate::db::at_rest;
use crate::db::schema::{collect_children, collect_items, meal_calendars, orgs, school_terms, students};
use crate::db::{DbConn, write_tx};
use crate::domain::calendar::MealMonth;
use crate::domain::collect::{self, Absent, Body, Calendar, Child, MealDay, Term};
use crate::domain::student::StudentRecord;
use crate::error::{AppError, AppResult, ErrorKind};
use crate::org::model::Org;
use crate::registry::service as registry;

/// Whether an error is the registry refusing what was sent (listed for a person), not a fault.
fn refusal(e: &AppError) -> bool {
    matches!(e.kind, ErrorKind::Invalid | ErrorKind::Conflict | ErrorKind::BadRequest)
}

/// An error as an item's note: what was refused and why, with the code.
fn why(e: &AppError) -> String {
    let details: Vec<String> = e.fields.iter().map(|f| f.message.clone()).collect();
    let text = if details.is_empty() { e.message.clone() } else { details.join("；") };
    format!("{text}（{}）", e.code.as_str())
}

/// One package's application.
pub(super) struct Run<'a> {
    point_id: i64,
    point: &'a str,
    seq: i64,
    pub(super) summary: Summary,
}

/// An item before it is written.
struct NewItem<'a> {
    kind: ItemKind,
    school: &'a str,
    student_id: Option<i64>,
    subject: String,
    field: &'a str,
    base: Option<&'a str>,
    theirs: Option<&'a str>,
    ours: Option<&'a str>,
    note: String,
}

impl<'a> Run<'a> {
    pub(super) fn new(point_id: i64, point: &'a str, seq: i64) -> Self {
        Self { point_id, point, seq, summary: Summary::default() }
    }

    fn item(&mut self, conn: &mut DbConn, i: NewItem<'_>) -> AppResult<()> {
        diesel::insert_into(collect_items::table)
            .values((
                collect_items::point_id.eq(self.point_id),
                collect_items::package_seq.eq(self.seq),
                collect_items::kind.eq(i.kind.as_ref()),
                collect_items::school_code.eq(i.school),
                collect_items::student_id.eq(i.student_id),
                collect_items::subject.eq(&i.subject),
                collect_items::field.eq(i.field),
                collect_items::base_value.eq(at_rest::history_value(i.field, i.base)?),
                collect_items::theirs.eq(at_rest::history_value(i.field, i.theirs)?),
                collect_items::ours.eq(at_rest::history_value(i.field, i.ours)?),
                collect_items::state.eq(ItemState::Open.as_ref()),
                collect_items::note.eq(&i.note),
            ))
            .execute(conn)?;
        Ok(())
    }

    fn refused(&mut self, conn: &mut DbConn, c: &Child, student_id: Option<i64>, e: &AppError) -> AppResult<()> {
        let name = c.record.get("name").cloned().unwrap_or_default();
        self.item(
            conn,
            NewItem {
                kind: ItemKind::Refused,
                school: &c.school,
                student_id,
                subject: name,
                field: e.fields.first().map_or("", |f| f.field.as_str()),
                base: None,
                theirs: None,
                ours: None,
                note: why(e),
            },
        )
    }

    pub(super) fn children(&mut self, conn: &mut DbConn, caller: &Caller, body: &Body) -> AppResult<()> {
        for c in &body.children {
            let school = crate::org::service::org_in_scope(conn, caller.scope(), &c.school)?;
            let target = self.network_child(conn, c)?;
            // Each child in a savepoint: what the registry refuses is undone alone and listed.
            let applied = write_tx(conn, |conn| match target {
                None => self.register(conn, caller, &school, c).map(Some),
                Some(id) => self.change(conn, caller, id, c).map(|_| Some(id)),
            });
            match applied {
                Ok(Some(id)) => {
                    if self.known(conn, c.point_id)?.is_none() {
                        diesel::insert_into(collect_children::table)
                            .values((
                                collect_children::point_id.eq(self.point_id),
                                collect_children::point_student.eq(c.point_id),
                                collect_children::student_id.eq(id),
                            ))
                            .execute(conn)?;
                    }
                    // The point's own numbers stay there: the county's number is the child's.
                    let history: Vec<_> = c.history.iter().filter(|h| h.field != "student_no").cloned().collect();
                    registry::add_point_history(conn, id, self.point, &history)?;
                    self.summary.history_rows += history.len();
                    if let Some(photo) = &c.photo {
                        self.photo(conn, caller, id, c, photo)?;
                    }
                }
                Ok(None) => {}
                Err(e) if refusal(&e) => self.refused(conn, c, target, &e)?,
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// The network's child a point's child is: known from an earlier package, else the one with
    /// the same ID number, else the one with the same 学籍号 (a point set up from the county's
    /// data); none for a child new to the network.
    fn network_child(&mut self, conn: &mut DbConn, c: &Child) -> AppResult<Option<i64>> {
        if let Some(id) = self.known(conn, c.point_id)? {
            return Ok(Some(id));
        }
        if let Some(id_no) = c.record.get("id_no").filter(|v| !v.is_empty()) {
            let hash = at_rest::id_hash(id_no)?;
            let found: Option<i64> =
                students::table.filter(students::id_no_hash.eq(&hash)).select(students::id).first(conn).optional()?;
            if found.is_some() {
                return Ok(found);
            }
        }
        self.by_number(conn, &c.student_no)
    }

    fn known(&mut self, conn: &mut DbConn, point_id: i64) -> AppResult<Option<i64>> {
        Ok(collect_children::table
            .find((self.point_id, point_id))
            .select(collect_children::student_id)
            .first(conn)
            .optional()?)
    }

    fn by_number(&mut self, conn: &mut DbConn, student_no: &str) -> AppResult<Option<i64>> {
        let hash = at_rest::student_no_hash(student_no)?;
        Ok(students::table.filter(students::student_no_hash.eq(&hash)).select(students::id).first(conn).optional()?)
    }

    /// The network's child a package names outside its records (absent, a status change).
    fn named(&mut self, conn: &mut DbConn, a: &Absent) -> AppResult<Option<i64>> {
        match self.known(conn, a.point_id)? {
            Some(id) => Ok(Some(id)),
            None => self.by_number(conn, &a.student_no),
        }
    }

    fn register(&mut self, conn: &mut DbConn, caller: &Caller, school: &Org, c: &Child) -> AppResult<i64> {
        let record = StudentRecord::parse(&c.record, caller.today()).map_err(registry::issues_to_error)?;
        let start = registry::start_on(c.enrolled_on, &record, &format!("采集点{}补录", self.point), caller.today())?;
        let id = registry::insert(conn, caller, school, &record, &start, &format!("采集点{}登记", self.point))?;
        self.summary.new_children += 1;
        Ok(id)
    }

    fn change(&mut self, conn: &mut DbConn, caller: &Caller, id: i64, c: &Child) -> AppResult<()> {
        let row = student_row(conn, id)?;
        let ours = row.record().values().clone();
        let merged = collect::merge(c.base.as_ref(), &c.record, &ours);
        let name = row.name.clone();
        for k in &merged.conflicts {
            self.item(
                conn,
                NewItem {
                    kind: ItemKind::Field,
                    school: &c.school,
                    student_id: Some(id),
                    subject: name.clone(),
                    field: &k.field,
                    base: k.base.as_deref(),
                    theirs: k.theirs.as_deref(),
                    ours: k.ours.as_deref(),
                    note: if c.base.is_some() {
                        "采集点和网络版都改了这个字段".into()
                    } else {
                        "采集点新登记的学生在网络版中已有，两边的值不同".into()
                    },
                },
            )?;
        }
        if merged.taken.is_empty() {
            self.summary.unchanged_children += 1;
            return Ok(());
        }
        let record = StudentRecord::parse(&merged.record, caller.today()).map_err(registry::issues_to_error)?;
        let path: String = orgs::table.find(row.school_id).select(orgs::path).first(conn)?;
        crate::registry::changes::ensure_unlocked(conn, &row, &path, &record, caller.today())?;
        let reason = format!("采集点{}第{}号包同步", self.point, self.seq);
        registry::apply_update(conn, caller, &row, &record, &reason, None)?;
        self.summary.updated_children += 1;
        Ok(())
    }

    fn photo(&mut self, conn: &mut DbConn, caller: &Caller, id: i64, c: &Child, photo: &str) -> AppResult<()> {
        let bytes = collect::base64_decode(photo).unwrap_or_default();
        match write_tx(conn, |conn| crate::registry::photos::upload(conn, caller, id, &bytes)) {
            Ok(_) => {
                self.summary.photos += 1;
                Ok(())
            }
            Err(e) if refusal(&e) => self.refused(conn, c, Some(id), &e),
            Err(e) => Err(e),
        }
    }

    pub(super) fn terms(&mut self, conn: &mut DbConn, caller: &Caller, terms: &[Term]) -> AppResult<()> {
        for t in terms {
            let org = crate::org::service::org_in_scope(conn, caller.scope(), &t.school)?;
            let held: Option<(NaiveDate, NaiveDate, bool)> = school_terms::table
                .filter(school_terms::org_id.eq(org.id))
                .filter(school_terms::school_year.eq(t.school_year))
                .filter(school_terms::term.eq(t.term))
                .select((school_terms::start_date, school_terms::end_date, school_terms::closed_at.is_not_null()))
                .first(conn)
                .optional()?;
            match held {
                None => {
                    write_term(conn, caller, &org, t)?;
                    self.summary.terms += 1;
                }
                Some((s, e, _)) if s == t.start && e == t.end => {}
                Some((s, e, closed)) => {
                    let theirs = serde_json::to_string(t).map_err(AppError::internal)?;
                    let ours = format!("{s}至{e}");
                    self.item(
                        conn,
                        NewItem {
                            kind: ItemKind::Term,
                            school: &t.school,
                            student_id: None,
                            subject: format!("{}（{}学年第{}学期）", org.name, t.school_year, t.term),
                            field: "term",
                            base: None,
                            theirs: Some(&theirs),
                            ours: Some(&ours),
                            note: format!(
                                "采集点的日期为{}至{}{}",
                                t.start,
                                t.end,
                                if closed { "；网络版该学期已关闭" } else { "" }
                            ),
                        },
                    )?;
                }
            }
        }
        Ok(())
    }

    pub(super) fn calendars(&mut self, conn: &mut DbConn, caller: &Caller, calendars: &[Calendar]) -> AppResult<()> {
        for c in calendars {
            let org = crate::org::service::org_in_scope(conn, caller.scope(), &c.school)?;
            let theirs = serde_json::to_string(c).map_err(AppError::internal)?;
            let cal = match meal_month(c) {
                Ok(cal) => cal,
                Err(m) => {
                    self.calendar_item(conn, &org, c, &theirs, None, m)?;
                    continue;
                }
            };
            let held: Option<String> = meal_calendars::table
                .filter(meal_calendars::org_id.eq(org.id))
                .filter(meal_calendars::month.eq(cal.month().key()))
                .select(meal_calendars::days)
                .first(conn)
                .optional()?;
            match held {
                Some(bits) if bits == cal.bits() => {}
                Some(bits) => {
                    let ours = MealMonth::from_bits(cal.month(), &bits).list();
                    let note = format!("采集点的供餐日为{}（{}天）", cal.list(), cal.count());
                    self.calendar_item(conn, &org, c, &theirs, Some(&ours), note)?;
                }
                None => {
                    match write_tx(conn, |conn| crate::programme::calendar::set_month(conn, caller, &c.school, &cal)) {
                        Ok(()) => self.summary.calendars += 1,
                        Err(e) if refusal(&e) => self.calendar_item(conn, &org, c, &theirs, None, why(&e))?,
                        Err(e) => return Err(e),
                    }
                }
            }
        }
        Ok(())
    }

    fn calendar_item(
        &mut self,
        conn: &mut DbConn,
        org: &Org,
        c: &Calendar,
        theirs: &str,
        ours: Option<&str>,
        note: String,
    ) -> AppResult<()> {
        self.item(
            conn,
            NewItem {
                kind: ItemKind::Calendar,
                school: &c.school,
                student_id: None,
                subject: format!("{}（{}）", org.name, c.month),
                field: "calendar",
                base: None,
                theirs: Some(theirs),
                ours,
                note,
            },
        )
    }

    pub(super) fn meal_days(&mut self, conn: &mut DbConn, caller: &Caller, body: &Body) -> AppResult<()> {
        let mut by_day: BTreeMap<(&str, NaiveDate), Vec<&MealDay>> = BTreeMap::new();
        for m in &body.meal_days {
            by_day.entry((m.school.as_str(), m.day)).or_default().push(m);
        }
        for ((school_code, day), classes) in by_day {
            let school = crate::org::service::org_in_scope(conn, caller.scope(), school_code)?;
            let sheet = crate::meals::daily::sheet_of(conn, &school, day)?;
            let mut form = crate::meals::daily::DayForm { classes: vec![], reason: String::new() };
            let mut by = String::new();
            for m in classes {
                let absent = self.mapped(conn, &m.absent)?;
                let held = sheet.classes.iter().find(|c| c.class_no == m.class_no);
                let differs = |why: String| NewItem {
                    kind: ItemKind::Meals,
                    school: school_code,
                    student_id: None,
                    subject: format!("{day} {}班", m.class_no),
                    field: "ate",
                    base: None,
                    theirs: None,
                    ours: None,
                    note: why,
                };
                match held {
                    None => self.item(conn, differs(format!("网络版{school_code}没有班级号{}", m.class_no)))?,
                    Some(h) if h.ate == Some(m.ate) && absent.as_ref().is_some_and(|a| *a == sorted(&h.absent)) => {}
                    Some(h) if h.ate.is_some() => self.item(
                        conn,
                        differs(format!(
                            "采集点报{}人就餐，网络版已记{}人：请核实后在网络版更正",
                            m.ate,
                            h.ate.unwrap_or_default()
                        )),
                    )?,
                    Some(_) if sheet.closed => self
                        .item(conn, differs(format!("采集点报{}人就餐，但{}的补助已结账：请走补报审批", m.ate, day)))?,
                    Some(_) => match absent {
                        Some(absent) => {
                            by = m.recorded_by.clone();
                            form.classes.push(crate::meals::daily::ClassCount {
                                class: m.class_no.clone(),
                                ate: json!(m.ate),
                                absent: absent.into_iter().map(|a| json!(a)).collect(),
                            });
                        }
                        None => self.item(conn, differs("缺席学生中有网络版没有的学生".into()))?,
                    },
                }
            }
            if form.classes.is_empty() {
                continue;
            }
            let n = form.classes.len();
            let applied = write_tx(conn, |conn| {
                let changes = crate::meals::daily::changes_of(conn, &school, &sheet, &form)?;
                crate::meals::daily::apply(
                    conn,
                    caller,
                    &format!("{}/{by}", self.point),
                    &school,
                    day,
                    &changes,
                    &format!("采集点{}第{}号包同步", self.point, self.seq),
                    false,
                    caller.now(),
                )
            });
            match applied {
                Ok(()) => self.summary.meal_days += n,
                Err(e) if refusal(&e) => self.item(
                    conn,
                    NewItem {
                        kind: ItemKind::Meals,
                        school: school_code,
                        student_id: None,
                        subject: day.to_string(),
                        field: "ate",
                        base: None,
                        theirs: None,
                        ours: None,
                        note: why(&e),
                    },
                )?,
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// The network ids of children the package names, or None when one is not known here.
    fn mapped(&mut self, conn: &mut DbConn, named: &[Absent]) -> AppResult<Option<Vec<i64>>> {
        let mut out: Vec<i64> = Vec::new();
        for a in named {
            match self.named(conn, a)? {
                Some(id) => out.push(id),
                None => return Ok(None),
            }
        }
        out.sort_unstable();
        Ok(Some(out))
    }

    pub(super) fn status_changes(&mut self, conn: &mut DbConn, body: &Body) -> AppResult<()> {
        for s in &body.status_changes {
            let id = self.named(conn, &s.child)?;
            let (name, school) = match id {
                Some(id) => {
                    let r = student_row(conn, id)?;
                    let school: String = orgs::table.find(r.school_id).select(orgs::code).first(conn)?;
                    (r.name, school)
                }
                None => ("（采集点的学生）".into(), body.schools.first().cloned().unwrap_or_default()),
            };
            let kind = crate::domain::status::ChangeKind::parse(&s.kind).map_or(s.kind.as_str(), |k| k.label());
            let theirs = format!("{kind}，生效日期{}，原因：{}", s.effective_date, s.reason);
            self.item(
                conn,
                NewItem {
                    kind: ItemKind::Status,
                    school: &school,
                    student_id: id,
                    subject: name,
                    field: "status",
                    base: None,
                    theirs: Some(&theirs),
                    ours: None,
                    note: format!("由采集点{}的{}提出：请在网络版的学籍异动中办理", self.point, s.requested_by),
                },
            )?;
        }
        Ok(())
    }
}

fn sorted(ids: &[i64]) -> Vec<i64> {
    let mut v = ids.to_vec();
    v.sort_unstable();
    v
}
