//! Pages: dashboard, org tree, schools, classes, teachers. Handlers only translate.

use actix_web::{HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;

use super::model::*;
use super::service::{self, OrgPage, SchoolFilter, ScopeCounts};
use crate::auth::Caller;
use crate::auth::extract::{CsrfForm, PageUser};
use crate::domain::codes::{self, CodeTable};
use crate::domain::role::{OrgKind, Permission};
use crate::error::ErrorKind;
use crate::web::{AppState, Flash, FormErrors, Layout, PageResult, Pager, confirm, html_page, see_other};

const UNPROCESSABLE: actix_web::http::StatusCode = actix_web::http::StatusCode::UNPROCESSABLE_ENTITY;

// ---------------------------------------------------------------- dashboard & tree

#[derive(Template, WebTemplate)]
#[template(path = "dashboard.html")]
pub struct DashboardPage {
    layout: Layout,
    caller: Caller,
    counts: ScopeCounts,
    can_view_orgs: bool,
    can_manage_users: bool,
    can_view_audit: bool,
    is_school: bool,
    recent_audit: Vec<crate::audit::service::AuditRow>,
    todo: crate::reports::todo::Todo,
}

pub async fn dashboard(st: web::Data<AppState>, PageUser(caller): PageUser) -> PageResult<DashboardPage> {
    let c = caller.clone();
    let (counts, recent_audit, todo) = st
        .run(move |conn| {
            let counts = service::scope_counts(conn, &c)?;
            let todo = crate::reports::todo::for_caller(conn, &c)?;
            // The audit administrator's start page shows what happened last.
            let recent = if c.may(Permission::ViewAudit) {
                crate::audit::browse::list(conn, c.scope(), &Default::default())?.into_iter().take(10).collect()
            } else {
                Vec::new()
            };
            Ok((counts, recent, todo))
        })
        .await?;
    // The list just made is the menu's count too.
    if let Some(session) = caller.session_id.as_deref() {
        crate::web::menu::remember(session, todo.decide);
    }
    Ok(DashboardPage {
        todo,
        is_school: caller.org_kind == crate::domain::role::OrgKind::School,
        recent_audit,
        layout: Layout::new(&caller, &st, "首页"),
        can_view_orgs: caller.may(Permission::ViewOrgs),
        can_manage_users: caller.may(Permission::ManageUsers) || caller.may(Permission::ManageSecurity),
        can_view_audit: caller.may(Permission::ViewAudit),
        counts,
        caller,
    })
}

#[derive(Template, WebTemplate)]
#[template(path = "org/tree.html")]
pub struct TreePage {
    layout: Layout,
    page: OrgPage,
    /// The township form (`service::may_add_township`).
    may_add_township: bool,
    errors: FormErrors,
}

async fn tree_page(st: web::Data<AppState>, caller: Caller, code: Option<String>) -> PageResult<TreePage> {
    let c = caller.clone();
    let page = st.run(move |conn| service::org_page(conn, &c, code.as_deref())).await?;
    Ok(TreePage {
        layout: Layout::new(&caller, &st, format!("组织机构 · {}", page.org.name)),
        may_add_township: service::may_add_township(&caller, &page.org).is_ok(),
        page,
        errors: FormErrors::none(),
    })
}

pub async fn tree(st: web::Data<AppState>, PageUser(caller): PageUser) -> PageResult<TreePage> {
    tree_page(st, caller, None).await
}

pub async fn tree_at(
    st: web::Data<AppState>,
    PageUser(caller): PageUser,
    path: web::Path<String>,
) -> PageResult<TreePage> {
    tree_page(st, caller, Some(path.into_inner())).await
}

#[derive(serde::Deserialize)]
pub struct TownshipForm {
    #[serde(default)]
    code: String,
    #[serde(default)]
    name: String,
}

pub async fn township_create(
    st: web::Data<AppState>,
    path: web::Path<String>,
    f: CsrfForm<TownshipForm>,
) -> PageResult<HttpResponse> {
    let CsrfForm { user: caller, form } = f;
    let parent = path.into_inner();
    let c = caller.clone();
    let p = parent.clone();
    match st.run(move |conn| service::create_township(conn, &c, &p, &form.code, &form.name)).await {
        Ok(_) => Ok(see_other(&format!("/orgs/{parent}"))),
        Err(e) if e.kind == ErrorKind::Invalid => {
            let mut page = tree_page(st, caller, Some(parent)).await?;
            page.errors = FormErrors::from_error(&e);
            html_page(UNPROCESSABLE, page)
        }
        Err(e) => Err(e.into()),
    }
}

// ---------------------------------------------------------------- schools

#[derive(Template, WebTemplate)]
#[template(path = "org/schools.html")]
pub struct SchoolsPage {
    layout: Layout,
    schools: Vec<SchoolListItem>,
    total: i64,
    pager: Pager,
    q: String,
    under: String,
    can_create: bool,
}

pub async fn schools(
    st: web::Data<AppState>,
    PageUser(caller): PageUser,
    q: web::Query<SchoolFilter>,
) -> PageResult<SchoolsPage> {
    let f = q.into_inner();
    let (qs, under, page) = (f.q.clone(), f.under.clone(), f.page.unwrap_or(1).max(1));
    let c = caller.clone();
    let (schools, total) = st.run(move |conn| service::list_schools(conn, &c, &f)).await?;
    Ok(SchoolsPage {
        layout: Layout::new(&caller, &st, "学校"),
        schools,
        total,
        pager: Pager::counted("/schools", &[("q", &qs), ("under", &under)], page, total, service::PAGE_SIZE),
        q: qs,
        under,
        can_create: caller.may(Permission::CreateSchools),
    })
}

#[derive(Template, WebTemplate)]
#[template(path = "org/school_form.html")]
pub struct SchoolFormPage {
    layout: Layout,
    /// None when creating.
    existing: Option<String>,
    form: SchoolInput,
    errors: FormErrors,
    sponsor_types: &'static [(String, String)],
    urban_rural: &'static [(String, String)],
    school_types: &'static [(String, String)],
}

impl SchoolFormPage {
    fn new(layout: Layout, existing: Option<String>, form: SchoolInput, errors: FormErrors) -> Self {
        Self {
            layout,
            existing,
            form,
            errors,
            sponsor_types: CodeTable::SponsorType.entries(),
            urban_rural: CodeTable::UrbanRural.entries(),
            school_types: CodeTable::SchoolType.entries(),
        }
    }

    fn in_county_seat(&self) -> bool {
        matches!(self.form.in_county_seat.as_deref(), Some("1" | "true" | "on" | "是"))
    }
}

pub async fn school_new(st: web::Data<AppState>, PageUser(caller): PageUser) -> PageResult<SchoolFormPage> {
    if !caller.may(Permission::CreateSchools) {
        let c = caller.clone();
        st.run(move |conn| c.require(conn, Permission::CreateSchools, "school_form")).await?;
    }
    let form = SchoolInput { parent_code: caller.org_code.clone(), sponsor_type: "1".into(), ..SchoolInput::default() };
    Ok(SchoolFormPage::new(Layout::new(&caller, &st, "新建学校"), None, form, FormErrors::none()))
}

pub async fn school_create(st: web::Data<AppState>, f: CsrfForm<SchoolInput>) -> PageResult<HttpResponse> {
    let CsrfForm { user: caller, form } = f;
    let c = caller.clone();
    let input = form.clone();
    match st.run(move |conn| service::create_school(conn, &c, &input)).await {
        Ok(s) => Ok(see_other(&format!("/schools/{}?ok=school_created", s.code))),
        Err(e) if e.kind == ErrorKind::Invalid => html_page(
            UNPROCESSABLE,
            SchoolFormPage::new(Layout::new(&caller, &st, "新建学校"), None, form, FormErrors::from_error(&e)),
        ),
        Err(e) => Err(e.into()),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "org/school.html")]
pub struct SchoolPage {
    layout: Layout,
    school: School,
    classes: Vec<ClassView>,
    teachers: Vec<Teacher>,
    campuses: Vec<Campus>,
    can_edit_school: bool,
    can_edit_classes: bool,
    flash: String,
    errors: FormErrors,
}

async fn load_school_page(st: &web::Data<AppState>, caller: &Caller, code: String) -> PageResult<SchoolPage> {
    let c = caller.clone();
    let (school, classes, teachers, campuses) = st
        .run(move |conn| {
            Ok((
                service::get_school(conn, &c, &code)?,
                service::list_classes(conn, &c, &code)?,
                service::list_teachers(conn, &c, &code)?,
                service::list_campuses(conn, &c, &code)?,
            ))
        })
        .await?;
    Ok(SchoolPage {
        layout: Layout::new(caller, st, school.name.clone()),
        school,
        classes,
        teachers,
        campuses,
        can_edit_school: caller.may(Permission::EditSchool),
        can_edit_classes: caller.may(Permission::EditClasses),
        flash: String::new(),
        errors: FormErrors::none(),
    })
}

pub async fn school(
    st: web::Data<AppState>,
    PageUser(caller): PageUser,
    path: web::Path<String>,
    flash: web::Query<Flash>,
) -> PageResult<SchoolPage> {
    let mut page = load_school_page(&st, &caller, path.into_inner()).await?;
    page.flash = flash.message();
    Ok(page)
}

fn school_input(s: &School) -> SchoolInput {
    let r = &s.row;
    SchoolInput {
        code: s.code.clone(),
        name: s.name.clone(),
        parent_code: s.parent_code.clone(),
        sponsor_type: r.sponsor_type.clone(),
        urban_rural: r.urban_rural.clone(),
        school_type: r.school_type.clone(),
        in_county_seat: r.in_county_seat.then(|| "1".to_owned()),
        address: r.address.clone(),
        postcode: r.postcode.clone(),
        phone: r.phone.clone(),
        fax: r.fax.clone(),
        email: r.email.clone(),
        homepage: r.homepage.clone(),
        principal_name: r.principal_name.clone(),
        principal_phone: r.principal_phone.clone(),
        principal_mobile: r.principal_mobile.clone(),
    }
}

pub async fn school_edit(
    st: web::Data<AppState>,
    PageUser(caller): PageUser,
    path: web::Path<String>,
) -> PageResult<SchoolFormPage> {
    let code = path.into_inner();
    let c = caller.clone();
    let school = st
        .run(move |conn| {
            let s = service::get_school(conn, &c, &code)?;
            c.require(conn, Permission::EditSchool, "school_form")?;
            Ok(s)
        })
        .await?;
    let title = format!("编辑 · {}", school.name);
    Ok(SchoolFormPage::new(
        Layout::new(&caller, &st, title),
        Some(school.code.clone()),
        school_input(&school),
        FormErrors::none(),
    ))
}

pub async fn school_update(
    st: web::Data<AppState>,
    path: web::Path<String>,
    f: CsrfForm<SchoolInput>,
) -> PageResult<HttpResponse> {
    let CsrfForm { user: caller, form } = f;
    let code = path.into_inner();
    let c = caller.clone();
    let (input, k) = (form.clone(), code.clone());
    match st.run(move |conn| service::update_school(conn, &c, &k, &input)).await {
        Ok(s) => Ok(see_other(&format!("/schools/{}?ok=school_saved", s.code))),
        Err(e) if e.kind == ErrorKind::Invalid => html_page(
            UNPROCESSABLE,
            SchoolFormPage::new(Layout::new(&caller, &st, "编辑学校"), Some(code), form, FormErrors::from_error(&e)),
        ),
        Err(e) => Err(e.into()),
    }
}

pub async fn campus_create(
    st: web::Data<AppState>,
    path: web::Path<String>,
    f: CsrfForm<CampusInput>,
) -> PageResult<HttpResponse> {
    let CsrfForm { user: caller, form } = f;
    let code = path.into_inner();
    let (c, k) = (caller.clone(), code.clone());
    match st.run(move |conn| service::add_campus(conn, &c, &k, &form)).await {
        Ok(_) => Ok(see_other(&format!("/schools/{code}?ok=campus_created"))),
        Err(e) if e.kind == ErrorKind::Invalid => {
            let mut page = load_school_page(&st, &caller, code).await?;
            page.errors = FormErrors::from_error(&e);
            html_page(UNPROCESSABLE, page)
        }
        Err(e) => Err(e.into()),
    }
}

// ---------------------------------------------------------------- classes

#[derive(Template, WebTemplate)]
#[template(path = "org/class.html")]
pub struct ClassPage {
    layout: Layout,
    view: ClassView,
    can_edit: bool,
    flash: String,
}

pub async fn class(
    st: web::Data<AppState>,
    PageUser(caller): PageUser,
    path: web::Path<i64>,
    flash: web::Query<Flash>,
) -> PageResult<ClassPage> {
    let id = path.into_inner();
    let c = caller.clone();
    let view = st.run(move |conn| service::get_class(conn, &c, id)).await?;
    Ok(ClassPage {
        layout: Layout::new(&caller, &st, format!("{} · {}", view.school_name, view.class.name)),
        can_edit: caller.may(Permission::EditClasses),
        flash: flash.message(),
        view,
    })
}

#[derive(Template, WebTemplate)]
#[template(path = "org/class_form.html")]
pub struct ClassFormPage {
    layout: Layout,
    school_code: String,
    existing: Option<i64>,
    form: ClassInput,
    teachers: Vec<Teacher>,
    campuses: Vec<Campus>,
    grades: Vec<(i32, &'static str)>,
    errors: FormErrors,
}

async fn class_form(
    st: &web::Data<AppState>,
    caller: &Caller,
    school_code: String,
    existing: Option<i64>,
    form: ClassInput,
    errors: FormErrors,
) -> PageResult<ClassFormPage> {
    let (c, k) = (caller.clone(), school_code.clone());
    let (teachers, campuses) = st
        .run(move |conn| {
            c.require(conn, Permission::EditClasses, "class_form")?;
            Ok((service::list_teachers(conn, &c, &k)?, service::list_campuses(conn, &c, &k)?))
        })
        .await?;
    Ok(ClassFormPage {
        layout: Layout::new(caller, st, if existing.is_some() { "编辑班级" } else { "新建班级" }),
        school_code,
        existing,
        form,
        teachers,
        campuses,
        grades: (1..=12).map(|g| (g, codes::grade_name(g))).collect(),
        errors,
    })
}

pub async fn class_new(
    st: web::Data<AppState>,
    PageUser(caller): PageUser,
    path: web::Path<String>,
) -> PageResult<ClassFormPage> {
    let year = chrono::Datelike::year(&caller.today());
    let form = ClassInput { entry_year: year.to_string(), grade: "1".into(), ..ClassInput::default() };
    class_form(&st, &caller, path.into_inner(), None, form, FormErrors::none()).await
}

pub async fn class_create(
    st: web::Data<AppState>,
    path: web::Path<String>,
    f: CsrfForm<ClassInput>,
) -> PageResult<HttpResponse> {
    let CsrfForm { user: caller, form } = f;
    let code = path.into_inner();
    let (c, k, input) = (caller.clone(), code.clone(), form.clone());
    match st.run(move |conn| service::create_class(conn, &c, &k, &input)).await {
        Ok(v) => Ok(see_other(&format!("/classes/{}?ok=class_created", v.class.id))),
        Err(e) if e.kind == ErrorKind::Invalid => {
            html_page(UNPROCESSABLE, class_form(&st, &caller, code, None, form, FormErrors::from_error(&e)).await?)
        }
        Err(e) => Err(e.into()),
    }
}

fn class_input(v: &ClassView, teachers: &[Teacher], campuses: &[Campus]) -> ClassInput {
    ClassInput {
        class_no: v.class.class_no.clone(),
        name: v.class.name.clone(),
        grade: v.class.grade.to_string(),
        entry_year: v.class.entry_year.to_string(),
        head_teacher_staff_no: teachers
            .iter()
            .find(|t| Some(t.id) == v.class.head_teacher_id)
            .map(|t| t.staff_no.clone())
            .unwrap_or_default(),
        campus_no: campuses
            .iter()
            .find(|c| Some(c.id) == v.class.campus_id)
            .map(|c| c.campus_no.clone())
            .unwrap_or_default(),
    }
}

pub async fn class_edit(
    st: web::Data<AppState>,
    PageUser(caller): PageUser,
    path: web::Path<i64>,
) -> PageResult<ClassFormPage> {
    let id = path.into_inner();
    let c = caller.clone();
    let view = st.run(move |conn| service::get_class(conn, &c, id)).await?;
    let mut page =
        class_form(&st, &caller, view.school_code.clone(), Some(id), ClassInput::default(), FormErrors::none()).await?;
    page.form = class_input(&view, &page.teachers, &page.campuses);
    Ok(page)
}

pub async fn class_update(
    st: web::Data<AppState>,
    path: web::Path<i64>,
    f: CsrfForm<ClassInput>,
) -> PageResult<HttpResponse> {
    let CsrfForm { user: caller, form } = f;
    let id = path.into_inner();
    let (c, input) = (caller.clone(), form.clone());
    match st.run(move |conn| service::update_class(conn, &c, id, &input)).await {
        Ok(v) => Ok(see_other(&format!("/classes/{}?ok=class_saved", v.class.id))),
        Err(e) if e.kind == ErrorKind::Invalid => {
            let c = caller.clone();
            let view = st.run(move |conn| service::get_class(conn, &c, id)).await?;
            html_page(
                UNPROCESSABLE,
                class_form(&st, &caller, view.school_code, Some(id), form, FormErrors::from_error(&e)).await?,
            )
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(serde::Deserialize)]
pub struct NoFields {}

/// The confirmation a delete asks for: nothing comes back once deleted.
fn ask_delete(st: &AppState, user: &Caller, what: &str, action: &str, back: &str) -> PageResult<HttpResponse> {
    let ask = confirm::Ask {
        what,
        consequence: "删除后不能恢复（审计日志留有删除前的内容）。",
        action,
        fields: &[],
        button: "确认删除",
        back,
    };
    confirm::page(Layout::new(user, st, "确认删除"), &ask)
}

/// A delete button's form: only the confirmation.
#[derive(serde::Deserialize)]
pub struct DeleteForm {
    /// "1" once the confirmation step was answered (`web::confirm`).
    #[serde(default)]
    confirmed: String,
}

pub async fn class_delete(
    st: web::Data<AppState>,
    path: web::Path<i64>,
    f: CsrfForm<DeleteForm>,
) -> PageResult<HttpResponse> {
    let id = path.into_inner();
    let CsrfForm { user, form } = f;
    if !confirm::confirmed(&form.confirmed) {
        let c = user.clone();
        let v = st.run(move |conn| service::get_class(conn, &c, id)).await?;
        let what = format!("删除{}的班级“{}”", v.school_name, v.class.name);
        return ask_delete(&st, &user, &what, &format!("/classes/{id}/delete"), &format!("/classes/{id}"));
    }
    let c = user;
    let school = st
        .run(move |conn| {
            let v = service::get_class(conn, &c, id)?;
            service::delete_class(conn, &c, id)?;
            Ok(v.school_code)
        })
        .await?;
    Ok(see_other(&format!("/schools/{school}?ok=class_deleted")))
}

// ---------------------------------------------------------------- teachers

#[derive(Template, WebTemplate)]
#[template(path = "org/teacher_form.html")]
pub struct TeacherFormPage {
    layout: Layout,
    school_code: String,
    existing: Option<i64>,
    form: TeacherInput,
    errors: FormErrors,
}

pub async fn teacher_new(
    st: web::Data<AppState>,
    PageUser(caller): PageUser,
    path: web::Path<String>,
) -> PageResult<TeacherFormPage> {
    let code = path.into_inner();
    let (c, k) = (caller.clone(), code.clone());
    st.run(move |conn| {
        service::get_school(conn, &c, &k)?;
        c.require(conn, Permission::EditClasses, "teacher_form")
    })
    .await?;
    Ok(TeacherFormPage {
        layout: Layout::new(&caller, &st, "新增教师"),
        school_code: code,
        existing: None,
        form: TeacherInput::default(),
        errors: FormErrors::none(),
    })
}

pub async fn teacher_create(
    st: web::Data<AppState>,
    path: web::Path<String>,
    f: CsrfForm<TeacherInput>,
) -> PageResult<HttpResponse> {
    let CsrfForm { user: caller, form } = f;
    let code = path.into_inner();
    let (c, k, input) = (caller.clone(), code.clone(), form.clone());
    match st.run(move |conn| service::create_teacher(conn, &c, &k, &input)).await {
        Ok(_) => Ok(see_other(&format!("/schools/{code}?ok=teacher_created"))),
        Err(e) if e.kind == ErrorKind::Invalid => html_page(
            UNPROCESSABLE,
            TeacherFormPage {
                layout: Layout::new(&caller, &st, "新增教师"),
                school_code: code,
                existing: None,
                form,
                errors: FormErrors::from_error(&e),
            },
        ),
        Err(e) => Err(e.into()),
    }
}

pub async fn teacher_edit(
    st: web::Data<AppState>,
    PageUser(caller): PageUser,
    path: web::Path<i64>,
) -> PageResult<TeacherFormPage> {
    let id = path.into_inner();
    let c = caller.clone();
    let (t, school_code) = st
        .run(move |conn| {
            let r = service::get_teacher(conn, &c, id)?;
            c.require(conn, Permission::EditClasses, "teacher_form")?;
            Ok(r)
        })
        .await?;
    Ok(TeacherFormPage {
        layout: Layout::new(&caller, &st, "编辑教师"),
        school_code,
        existing: Some(id),
        form: TeacherInput { staff_no: t.staff_no, name: t.name, sex: t.sex, phone: t.phone, subject: t.subject },
        errors: FormErrors::none(),
    })
}

pub async fn teacher_update(
    st: web::Data<AppState>,
    path: web::Path<i64>,
    f: CsrfForm<TeacherInput>,
) -> PageResult<HttpResponse> {
    let CsrfForm { user: caller, form } = f;
    let id = path.into_inner();
    let (c, input) = (caller.clone(), form.clone());
    let res = st
        .run(move |conn| {
            let (_, school) = service::get_teacher(conn, &c, id)?;
            service::update_teacher(conn, &c, id, &input)?;
            Ok(school)
        })
        .await;
    match res {
        Ok(school) => Ok(see_other(&format!("/schools/{school}?ok=teacher_saved"))),
        Err(e) if e.kind == ErrorKind::Invalid => {
            let c = caller.clone();
            let (_, school_code) = st.run(move |conn| service::get_teacher(conn, &c, id)).await?;
            html_page(
                UNPROCESSABLE,
                TeacherFormPage {
                    layout: Layout::new(&caller, &st, "编辑教师"),
                    school_code,
                    existing: Some(id),
                    form,
                    errors: FormErrors::from_error(&e),
                },
            )
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn teacher_delete(
    st: web::Data<AppState>,
    path: web::Path<i64>,
    f: CsrfForm<DeleteForm>,
) -> PageResult<HttpResponse> {
    let id = path.into_inner();
    let CsrfForm { user, form } = f;
    if !confirm::confirmed(&form.confirmed) {
        let c = user.clone();
        let (t, school) = st.run(move |conn| service::get_teacher(conn, &c, id)).await?;
        let what = format!("删除教师“{}”（工号 {}）", t.name, t.staff_no);
        return ask_delete(&st, &user, &what, &format!("/teachers/{id}/delete"), &format!("/schools/{school}"));
    }
    let c = user;
    let school = st
        .run(move |conn| {
            let (_, school) = service::get_teacher(conn, &c, id)?;
            service::delete_teacher(conn, &c, id)?;
            Ok(school)
        })
        .await?;
    Ok(see_other(&format!("/schools/{school}?ok=teacher_deleted")))
}
