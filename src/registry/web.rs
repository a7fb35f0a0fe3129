//! Student pages: lists with masked IDs, the grouped form, detail with history, confirmation.

use std::collections::BTreeMap;

use actix_web::{HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;

use super::model::*;
use super::problems;
use super::service::{self, StudentFilter};
use crate::auth::Caller;
use crate::auth::extract::{CsrfForm, PageUser};
use crate::domain::codes;
use crate::domain::role::{OrgKind, Permission};
use crate::domain::student::{FIELDS, GROUP_TITLES, Kind, Need, Review};
use crate::error::{AppError, ErrorCode, ErrorKind};
use crate::web::{AppState, Flash, FormErrors, Layout, PageResult, Pager, html_page, see_other};

const UNPROCESSABLE: actix_web::http::StatusCode = actix_web::http::StatusCode::UNPROCESSABLE_ENTITY;

// ---------------------------------------------------------------- list

#[derive(Template, WebTemplate)]
#[template(path = "registry/list.html")]
pub struct ListPage {
    layout: Layout,
    items: Vec<StudentListItem>,
    total: i64,
    pager: Pager,
    filter: StudentFilter,
    class_id: String,
    /// The schools to filter by (code, name); none for a school, or past the picker's limit.
    schools: Option<Vec<(String, String)>>,
    /// The chosen school's classes (id, name).
    classes: Vec<(String, String)>,
    /// The 状态 filter's choices (value, label).
    states: Vec<(&'static str, &'static str)>,
    show_school: bool,
    can_confirm: bool,
    can_register: bool,
    can_export: bool,
    own_school: String,
    flash: String,
    /// What confirming each pending student on the page adds: (meal days, yuan).
    added: BTreeMap<i64, (usize, crate::domain::money::Fen)>,
}

impl ListPage {
    fn added_of(&self, id: &i64) -> Option<&(usize, crate::domain::money::Fen)> {
        self.added.get(id)
    }

    fn confirmable_count(&self) -> usize {
        self.items.iter().filter(|s| s.confirmable).count()
    }
}

/// What confirming each of these pending students adds, summed over its months.
pub fn added_totals(
    conn: &mut crate::db::DbConn,
    ids: &[i64],
    today: chrono::NaiveDate,
) -> crate::error::AppResult<BTreeMap<i64, (usize, crate::domain::money::Fen)>> {
    Ok(crate::ledger::entitlement::added_by_confirming(conn, ids, today)?
        .into_iter()
        .map(|(id, months)| {
            let days = months.iter().map(|m| m.days).sum();
            let fen = months.iter().map(|m| m.amount.fen()).sum();
            (id, (days, crate::domain::money::Fen::new(fen)))
        })
        .collect())
}

pub async fn list(
    st: web::Data<AppState>,
    PageUser(caller): PageUser,
    q: web::Query<StudentFilter>,
    flash: web::Query<Flash>,
) -> PageResult<ListPage> {
    let filter = q.into_inner();
    filter.refuse_identifier_in_query()?;
    list_page(&st, caller, filter, flash.message()).await
}

/// The list's filter form. A search for an ID number or 学籍号 is answered here, its term kept in
/// the POST body; any other filter goes to the list's address, so the view can be shared.
pub async fn search(st: web::Data<AppState>, f: CsrfForm<StudentFilter>) -> PageResult<HttpResponse> {
    let CsrfForm { user, form } = f;
    if form.may_be_addressed() {
        let mut query = form.to_query();
        if let Some(page) = form.page.filter(|p| *p > 1) {
            query.push(("page", page.to_string()));
        }
        let query = serde_urlencoded::to_string(&query).unwrap_or_default();
        return Ok(see_other(&if query.is_empty() { "/students".to_owned() } else { format!("/students?{query}") }));
    }
    html_page(actix_web::http::StatusCode::OK, list_page(&st, user, form, String::new()).await?)
}

/// Above this many schools in scope the school filter is typed by code instead of chosen.
const SCHOOL_PICKER_LIMIT: i64 = 300;

async fn list_page(st: &AppState, caller: Caller, filter: StudentFilter, flash: String) -> PageResult<ListPage> {
    let (c, f) = (caller.clone(), filter.clone());
    let may_confirm = caller.may(Permission::ConfirmStudents);
    let (items, total, added, schools, classes) = st
        .read(move |conn| {
            let (items, total) = service::list(conn, &c, &f)?;
            // The county sees what each confirmation adds before it confirms.
            let pending: Vec<i64> = items.iter().filter(|s| s.review == Review::Pending).map(|s| s.id).collect();
            let added = if may_confirm && !pending.is_empty() {
                added_totals(conn, &pending, c.today())?
            } else {
                BTreeMap::new()
            };
            let is_school = c.org_kind == OrgKind::School;
            let schools =
                if is_school { None } else { crate::org::service::school_choices(conn, &c, SCHOOL_PICKER_LIMIT)? };
            // Classes to choose from once the school is known (and the caller may see classes).
            let school = if is_school { c.org_code.clone() } else { f.school.trim().to_owned() };
            let classes = if !school.is_empty() && c.may(Permission::ViewOrgs) {
                crate::org::service::list_classes(conn, &c, &school)?
                    .into_iter()
                    .map(|v| (v.class.id.to_string(), format!("{}（{}年级）", v.class.name, v.class.grade)))
                    .collect()
            } else {
                Vec::new()
            };
            Ok((items, total, added, schools, classes))
        })
        .await?;
    let is_school = caller.org_kind == OrgKind::School;
    let class_id = filter.class_id.map(|c| c.to_string()).unwrap_or_default();
    let query = filter.to_query();
    let query: Vec<(&str, &str)> = query.iter().map(|(k, v)| (*k, v.as_str())).collect();
    Ok(ListPage {
        layout: Layout::new(&caller, st, "学生学籍"),
        pager: Pager::counted("/students", &query, filter.page.unwrap_or(1).max(1), total, service::PAGE_SIZE),
        class_id,
        items,
        total,
        filter,
        schools,
        classes,
        states: crate::domain::status::ALL_STATES.iter().map(|s| (s.as_str(), s.label())).collect(),
        show_school: !is_school,
        can_confirm: caller.may(Permission::ConfirmStudents),
        can_register: is_school && caller.may(Permission::EditStudents),
        can_export: is_school && caller.may(Permission::ExportStudents),
        own_school: if is_school { caller.org_code.clone() } else { String::new() },
        flash,
        added,
    })
}

/// Bulk confirmation from the list: the ticked boxes (`ids=1&ids=2…`), or with `all=page` every
/// student on the page that may be confirmed (the page lists them as `page_ids`).
pub async fn confirm(st: web::Data<AppState>, f: CsrfForm<Vec<(String, String)>>) -> PageResult<HttpResponse> {
    let CsrfForm { user, form } = f;
    let whole_page = form.iter().any(|(k, v)| k == "all" && v == "page");
    let key = if whole_page { "page_ids" } else { "ids" };
    let ids: Vec<i64> = form.iter().filter(|(k, _)| k == key).filter_map(|(_, v)| v.parse().ok()).collect();
    if ids.is_empty() {
        return Err(AppError::invalid(ErrorCode::StudentNoneSelected, "请先勾选要确认的学生").into());
    }
    let n = st.run(move |conn| service::confirm(conn, &user, &ids)).await?;
    Ok(see_other(&format!("/students?review=pending&ok=confirmed&n={n}")))
}

// ---------------------------------------------------------------- form

pub struct FormField {
    pub key: &'static str,
    pub header: &'static str,
    pub required: bool,
    pub options: Vec<(String, String)>,
    pub value: String,
    pub error: String,
    /// Locked key information: shown, sent back unchanged, changed only by request.
    pub locked: bool,
}

pub struct FormGroup {
    pub title: &'static str,
    pub fields: Vec<FormField>,
}

fn form_groups(values: &BTreeMap<String, String>, errors: &FormErrors, locked: &[&str]) -> Vec<FormGroup> {
    (1..=7u8)
        .map(|g| FormGroup {
            title: GROUP_TITLES[usize::from(g - 1)],
            fields: FIELDS
                .iter()
                .filter(|f| f.group == g)
                .map(|f| FormField {
                    key: f.key,
                    header: f.header,
                    required: f.need == Need::Required,
                    options: match f.kind {
                        Kind::Code(t) => service::choices(t),
                        _ => Vec::new(),
                    },
                    value: values.get(f.key).cloned().unwrap_or_default(),
                    error: errors.get(f.key).to_owned(),
                    locked: locked.contains(&f.key),
                })
                .collect(),
        })
        .collect()
}

#[derive(Template, WebTemplate)]
#[template(path = "registry/form.html")]
pub struct FormPage {
    layout: Layout,
    action: String,
    cancel: String,
    heading: String,
    groups: Vec<FormGroup>,
    errors: FormErrors,
    editing: bool,
    version: i32,
    reason: String,
    classes: Vec<(String, String)>,
    /// A new registration's first day at school and why it lies far back (see `start_of`).
    enrolled_on: String,
    backdate_reason: String,
    backdate_days: i64,
    /// The one-time key of this form: sent twice, it registers the child once.
    form_key: String,
}

impl FormPage {
    fn start_fields(mut self, raw: &BTreeMap<String, String>) -> Self {
        let get = |k: &str| raw.get(k).cloned().unwrap_or_default();
        self.enrolled_on = get("enrolled_on");
        self.backdate_reason = get("backdate_reason");
        self.form_key = get("form_key");
        self
    }
}

fn fresh_key() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

async fn class_choices(st: &AppState, caller: &Caller, school: String) -> PageResult<Vec<(String, String)>> {
    let c = caller.clone();
    let classes = st.run(move |conn| crate::org::service::list_classes(conn, &c, &school)).await?;
    Ok(classes
        .into_iter()
        .map(|v| (v.class.class_no.clone(), format!("{} {}", v.class.class_no, v.class.name)))
        .collect())
}

fn defaults() -> BTreeMap<String, String> {
    [
        ("nationality", "CHN"),
        ("id_type", "1"),
        ("gatqw", "00"),
        ("health", "10"),
        ("political", "14"),
        ("entry_mode", "11"),
        ("source", "1"),
        ("attendance", "1"),
        ("hukou_type", "1"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect()
}

pub async fn new_form(
    st: web::Data<AppState>,
    PageUser(caller): PageUser,
    path: web::Path<String>,
) -> PageResult<FormPage> {
    let school = path.into_inner();
    let c = caller.clone();
    let s = school.clone();
    let school_name = st
        .run(move |conn| {
            c.require(conn, Permission::EditStudents, "student_form")?;
            Ok(crate::org::service::get_school(conn, &c, &s)?.name)
        })
        .await?;
    Ok(FormPage {
        layout: Layout::new(&caller, &st, "新生注册"),
        action: format!("/schools/{school}/students"),
        cancel: format!("/students?school={school}"),
        heading: format!("新生注册 · {school_name}"),
        groups: form_groups(&defaults(), &FormErrors::none(), &[]),
        errors: FormErrors::none(),
        editing: false,
        version: 0,
        reason: String::new(),
        classes: class_choices(&st, &caller, school).await?,
        enrolled_on: caller.today().to_string(),
        backdate_reason: String::new(),
        backdate_days: crate::config::registry_rules().backdate_days,
        form_key: fresh_key(),
    })
}

fn to_map(form: &[(String, String)]) -> BTreeMap<String, String> {
    form.iter().filter(|(k, _)| k != "csrf").map(|(k, v)| (k.clone(), v.clone())).collect()
}

pub async fn create(
    st: web::Data<AppState>,
    path: web::Path<String>,
    f: CsrfForm<Vec<(String, String)>>,
) -> PageResult<HttpResponse> {
    let CsrfForm { user: caller, form } = f;
    let school = path.into_inner();
    let raw = to_map(&form);
    let (c, s, r) = (caller.clone(), school.clone(), raw.clone());
    match st.run(move |conn| service::create(conn, &c, &s, &r)).await {
        Ok(v) => Ok(see_other(&format!("/students/{}?ok=student_created", v.id))),
        Err(e) if e.kind == ErrorKind::Invalid => {
            let errors = FormErrors::from_error(&e);
            html_page(
                UNPROCESSABLE,
                FormPage {
                    layout: Layout::new(&caller, &st, "新生注册"),
                    action: format!("/schools/{school}/students"),
                    cancel: format!("/students?school={school}"),
                    heading: "新生注册".into(),
                    groups: form_groups(&raw, &errors, &[]),
                    errors,
                    editing: false,
                    version: 0,
                    reason: String::new(),
                    classes: class_choices(&st, &caller, school).await?,
                    enrolled_on: String::new(),
                    backdate_reason: String::new(),
                    backdate_days: crate::config::registry_rules().backdate_days,
                    form_key: String::new(),
                }
                .start_fields(&raw),
            )
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn edit_form(
    st: web::Data<AppState>,
    PageUser(caller): PageUser,
    path: web::Path<i64>,
) -> PageResult<FormPage> {
    let id = path.into_inner();
    let c = caller.clone();
    let (view, lock) = st
        .run(move |conn| {
            c.require(conn, Permission::EditStudents, "student_form")?;
            Ok((service::get(conn, &c, id)?, super::changes::lock_of_student(conn, &c, id)?))
        })
        .await?;
    let locked = lock.as_ref().map(|l| l.fields.clone()).unwrap_or_default();
    Ok(FormPage {
        layout: Layout::new(&caller, &st, "修改学生信息"),
        action: format!("/students/{id}/edit"),
        cancel: format!("/students/{id}"),
        heading: format!("修改学生信息 · {}", view.record.name()),
        groups: form_groups(view.record.values(), &FormErrors::none(), &locked),
        errors: FormErrors::none(),
        editing: true,
        version: view.version,
        reason: String::new(),
        classes: class_choices(&st, &caller, view.school_code).await?,
        enrolled_on: String::new(),
        backdate_reason: String::new(),
        backdate_days: 0,
        form_key: String::new(),
    })
}

pub async fn update(
    st: web::Data<AppState>,
    path: web::Path<i64>,
    f: CsrfForm<Vec<(String, String)>>,
) -> PageResult<HttpResponse> {
    let CsrfForm { user: caller, form } = f;
    let id = path.into_inner();
    let mut raw = to_map(&form);
    let reason = raw.remove("reason").unwrap_or_default();
    let version = raw.remove("version").and_then(|v| v.parse().ok());
    let (c, r, why) = (caller.clone(), raw.clone(), reason.clone());
    let res = st
        .run(move |conn| {
            let why = if why.trim().is_empty() { "信息更正".to_owned() } else { why };
            service::update(conn, &c, id, &r, &why, version)
        })
        .await;
    match res {
        Ok(_) => Ok(see_other(&format!("/students/{id}?ok=student_saved"))),
        Err(e) if e.kind == ErrorKind::Invalid || e.code == ErrorCode::StudentKeyLocked => {
            let c = caller.clone();
            let (school, lock) = st
                .run(move |conn| {
                    Ok((service::get(conn, &c, id)?.school_code, super::changes::lock_of_student(conn, &c, id)?))
                })
                .await?;
            let locked = lock.map(|l| l.fields).unwrap_or_default();
            let errors = FormErrors::from_error(&e);
            html_page(
                UNPROCESSABLE,
                FormPage {
                    layout: Layout::new(&caller, &st, "修改学生信息"),
                    action: format!("/students/{id}/edit"),
                    cancel: format!("/students/{id}"),
                    heading: "修改学生信息".into(),
                    groups: form_groups(&raw, &errors, &locked),
                    errors,
                    editing: true,
                    version: version.unwrap_or(0),
                    reason,
                    classes: class_choices(&st, &caller, school).await?,
                    enrolled_on: String::new(),
                    backdate_reason: String::new(),
                    backdate_days: 0,
                    form_key: String::new(),
                },
            )
        }
        Err(e) => Err(e.into()),
    }
}

// ---------------------------------------------------------------- detail

pub struct DetailGroup {
    pub title: &'static str,
    pub rows: Vec<(&'static str, String)>,
}

#[derive(Template, WebTemplate)]
#[template(path = "registry/detail.html")]
pub struct DetailPage {
    layout: Layout,
    view: StudentView,
    groups: Vec<DetailGroup>,
    history: Vec<HistoryRow>,
    actions: service::StudentActions,
    lock: Option<crate::domain::key_lock::KeyLock>,
    has_photo: bool,
    duplicate: Option<problems::Comparison>,
    merges: Vec<problems::MergeView>,
    status: super::status_web::StudentStatus,
    flash: String,
    can_unmask: bool,
    /// For a pending student: what confirming adds, month by month.
    added: Vec<crate::ledger::entitlement::AddedMonth>,
    enrolled_on: Option<chrono::NaiveDate>,
    backdated_days: Option<i64>,
}

pub async fn detail(
    st: web::Data<AppState>,
    PageUser(caller): PageUser,
    path: web::Path<i64>,
    flash: web::Query<Flash>,
) -> PageResult<DetailPage> {
    detail_page(&st, caller, path.into_inner(), flash.message(), None).await
}

#[derive(serde::Deserialize)]
pub struct UnmaskForm {
    #[serde(default)]
    reason: String,
}

/// The student page with ID numbers, 学籍号 and phones in full: the permission, a reason, an
/// audit row. The answer is this one page, never cached; every other page stays masked.
pub async fn unmask(
    st: web::Data<AppState>,
    path: web::Path<i64>,
    f: CsrfForm<UnmaskForm>,
) -> PageResult<HttpResponse> {
    let CsrfForm { user, form } = f;
    let page = detail_page(&st, user, path.into_inner(), String::new(), Some(form.reason)).await?;
    let mut r = html_page(actix_web::http::StatusCode::OK, page)?;
    r.headers_mut()
        .insert(actix_web::http::header::CACHE_CONTROL, actix_web::http::header::HeaderValue::from_static("no-store"));
    Ok(r)
}

async fn detail_page(
    st: &AppState,
    caller: crate::auth::Caller,
    id: i64,
    flash: String,
    unmask_reason: Option<String>,
) -> PageResult<DetailPage> {
    let c = caller.clone();
    let ((view, actions), history, lock, has_photo, duplicate, merges, status, preview) = st
        .run(move |conn| {
            let view = match &unmask_reason {
                Some(reason) => service::unmask(conn, &c, id, reason)?,
                None => service::get(conn, &c, id)?,
            };
            let preview = service::confirm_preview(conn, &c, id)?;
            let lock = super::changes::lock_of_student(conn, &c, id)?;
            let actions = service::actions(conn, &c, &view, lock.as_ref())?;
            Ok((
                (view, actions),
                service::history(conn, &c, id)?,
                lock,
                super::photos::has_photo(conn, id)?,
                problems::compare(conn, &c, id)?,
                problems::merges_of(conn, &c, id)?,
                super::status_web::student_status(conn, &c, id)?,
                preview,
            ))
        })
        .await?;
    let groups = (1..=7u8)
        .map(|g| DetailGroup {
            title: GROUP_TITLES[usize::from(g - 1)],
            rows: FIELDS.iter().filter(|f| f.group == g).map(|f| (f.header, view.record.display(f.key))).collect(),
        })
        .collect();
    Ok(DetailPage {
        layout: Layout::new(&caller, st, format!("学生 · {}", view.record.name())),
        can_unmask: caller.may(Permission::Unmask),
        groups,
        history,
        actions,
        lock,
        has_photo,
        duplicate,
        merges,
        status,
        flash,
        enrolled_on: preview.enrolled_on,
        backdated_days: preview.backdated_days,
        added: preview.months,
        view,
    })
}

#[derive(serde::Deserialize)]
pub struct ResolveForm {
    #[serde(default)]
    decision: String,
    #[serde(default)]
    note: String,
}

pub async fn resolve(
    st: web::Data<AppState>,
    path: web::Path<i64>,
    f: CsrfForm<ResolveForm>,
) -> PageResult<HttpResponse> {
    let CsrfForm { user, form } = f;
    let id = path.into_inner();
    let next = st
        .run(move |conn| {
            let decision = problems::Resolution::parse(&form.decision)?;
            problems::resolve(conn, &user, id, decision, &form.note)
        })
        .await?;
    Ok(match next {
        Some(id) => see_other(&format!("/students/{id}?ok=problem_resolved")),
        None => see_other("/students?review=problem&ok=problem_deleted"),
    })
}

pub async fn confirm_one(
    st: web::Data<AppState>,
    path: web::Path<i64>,
    f: CsrfForm<crate::org::web::NoFields>,
) -> PageResult<HttpResponse> {
    let id = path.into_inner();
    let user = f.user;
    let n = st.run(move |conn| service::confirm(conn, &user, &[id])).await?;
    Ok(see_other(&format!("/students/{id}?ok=confirmed&n={n}")))
}

/// Labels for a code, for templates.
pub fn label(table: &str, code: &str) -> String {
    codes::table(table).label(code).unwrap_or(code).to_owned()
}
