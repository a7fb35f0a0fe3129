//! Pages for the programme: the county's settings (plan type, member schools, standards,
//! suppliers), a school's meal models, calendars, and the rosters with their flow and printing.

use std::collections::BTreeMap;

use actix_multipart::Multipart;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;

use super::api::{file_response, parse_file, parse_step};
use super::calendar::{self, MonthView};
use super::config::{self, MemberRow, ModelRow, PlanRow, ShareRow, StandardRow, SupplierRow};
use super::input::{self, BuildBody, EndBody, JoinBody, ModelBody, PlanBody, StandardBody, SupplierBody};
use super::roster::{self, OverviewRow, RosterHead};
use super::roster_scan::{self, ScanView};
use crate::auth::Caller;
use crate::auth::extract::{CsrfForm, PageUser};
use crate::domain::calendar::{MealMonth, Month};
use crate::domain::key_lock::school_year_of;
use crate::domain::money::Fen;
use crate::domain::programme::{MealModel, PlanType, StandardKind};
use crate::domain::role::{OrgKind, Permission};
use crate::domain::roster::{RosterLine, Step};
use crate::domain::term::{Term, TermDates};
use crate::error::{AppError, AppResult, ErrorCode, ErrorKind};
use crate::exchange::jobs::{JobInput, Jobs};
use crate::exchange::roster_print;
use crate::org::model::ClassView;
use crate::web::{AppState, Flash, FormErrors, Layout, PageResult, confirm, html_page, see_other, upload};

fn shown_in_form(e: &AppError) -> bool {
    matches!(e.kind, ErrorKind::Invalid | ErrorKind::Conflict)
}

fn current_term(caller: &Caller) -> Term {
    Term::of_day(caller.today())
}

fn term_choices(around: Term) -> Vec<(String, String)> {
    let y = around.school_year();
    [(y - 1, 1), (y - 1, 2), (y, 1), (y, 2), (y + 1, 1)]
        .into_iter()
        .filter_map(|(y, h)| Term::new(y, h).ok())
        .map(|t| (t.to_string(), t.label()))
        .collect()
}

// ---------------------------------------------------------------- county settings

#[derive(Template, WebTemplate)]
#[template(path = "programme/settings.html")]
pub struct SettingsPage {
    layout: Layout,
    can_set: bool,
    plans: Vec<PlanRow>,
    members: Vec<MemberRow>,
    standards: Vec<StandardRow>,
    shares: Vec<ShareRow>,
    suppliers: Vec<SupplierRow>,
    plan_types: Vec<(&'static str, &'static str)>,
    kinds: Vec<(&'static str, &'static str)>,
    year: i32,
    own_code: String,
    flash: String,
    errors: FormErrors,
}

async fn settings_page(st: &AppState, caller: Caller, flash: String, errors: FormErrors) -> PageResult<SettingsPage> {
    let c = caller.clone();
    let (plans, members, standards, shares, suppliers) = st
        .run(move |conn| {
            c.require(conn, Permission::ViewOrgs, "programme_settings")?;
            Ok((
                config::plans(conn, &c)?,
                config::members(conn, &c)?,
                config::standards(conn, &c)?,
                config::central_shares(conn)?,
                config::suppliers(conn, &c)?,
            ))
        })
        .await?;
    Ok(SettingsPage {
        layout: Layout::new(&caller, st, "营养改善计划设置"),
        can_set: caller.may_at_county(Permission::ConfigureProgramme).is_ok(),
        plans,
        members,
        standards,
        shares,
        suppliers,
        plan_types: PlanType::ALL.iter().map(|p| (p.as_str(), p.label())).collect(),
        kinds: StandardKind::ALL.iter().filter(|k| !k.is_national()).map(|k| (k.as_str(), k.label())).collect(),
        year: school_year_of(caller.today()),
        own_code: caller.org_code.clone(),
        flash,
        errors,
    })
}

pub async fn settings(
    st: web::Data<AppState>,
    PageUser(caller): PageUser,
    flash: web::Query<Flash>,
) -> PageResult<SettingsPage> {
    settings_page(&st, caller, flash.message(), FormErrors::none()).await
}

/// Runs a settings action and comes back to the page, with the error beside the forms if any.
async fn settings_action(
    st: &AppState,
    user: Caller,
    f: impl FnOnce(&mut crate::db::DbConn, &Caller) -> AppResult<()> + Send + 'static,
) -> PageResult<HttpResponse> {
    let c = user.clone();
    match st.run(move |conn| f(conn, &c)).await {
        Ok(()) => Ok(see_other("/programme?ok=saved")),
        Err(e) if shown_in_form(&e) => html_page(
            StatusCode::UNPROCESSABLE_ENTITY,
            settings_page(st, user, String::new(), FormErrors::from_error(&e)).await?,
        ),
        Err(e) => Err(e.into()),
    }
}

pub async fn plan_set(st: web::Data<AppState>, f: CsrfForm<PlanBody>) -> PageResult<HttpResponse> {
    let CsrfForm { user, form } = f;
    settings_action(&st, user, move |conn, c| {
        let (year, plan) = form.parse()?;
        config::set_plan(conn, c, &form.county, year, plan)
    })
    .await
}

pub async fn join(st: web::Data<AppState>, f: CsrfForm<JoinBody>) -> PageResult<HttpResponse> {
    let CsrfForm { user, form } = f;
    settings_action(&st, user, move |conn, c| {
        let (period, seat) = form.parse()?;
        config::join(conn, c, &form.school, period, seat, &form.note)
    })
    .await
}

pub async fn leave(st: web::Data<AppState>, path: web::Path<i64>, f: CsrfForm<EndBody>) -> PageResult<HttpResponse> {
    let CsrfForm { user, form } = f;
    let id = path.into_inner();
    settings_action(&st, user, move |conn, c| config::leave(conn, c, id, form.parse()?)).await
}

pub async fn standard_add(st: web::Data<AppState>, f: CsrfForm<StandardBody>) -> PageResult<HttpResponse> {
    let CsrfForm { user, form } = f;
    settings_action(&st, user, move |conn, c| config::add_standard(conn, c, form.parse()?).map(|_| ())).await
}

pub async fn standard_end(
    st: web::Data<AppState>,
    path: web::Path<i64>,
    f: CsrfForm<EndBody>,
) -> PageResult<HttpResponse> {
    let CsrfForm { user, form } = f;
    let id = path.into_inner();
    settings_action(&st, user, move |conn, c| config::end_standard(conn, c, id, form.parse()?)).await
}

pub async fn supplier_add(st: web::Data<AppState>, f: CsrfForm<SupplierBody>) -> PageResult<HttpResponse> {
    let CsrfForm { user, form } = f;
    settings_action(&st, user, move |conn, c| {
        config::add_supplier(conn, c, &form.name, &form.credit_code, &form.contact, &form.phone).map(|_| ())
    })
    .await
}

// ---------------------------------------------------------------- a school's meal models

#[derive(Template, WebTemplate)]
#[template(path = "programme/school.html")]
pub struct SchoolPage {
    layout: Layout,
    code: String,
    name: String,
    can_set: bool,
    members: Vec<MemberRow>,
    standard: Option<Fen>,
    models: Vec<ModelRow>,
    classes: Vec<ClassView>,
    suppliers: Vec<SupplierRow>,
    model_kinds: Vec<(&'static str, &'static str)>,
    term: String,
    flash: String,
    errors: FormErrors,
}

async fn school_page(
    st: &AppState,
    caller: Caller,
    code: String,
    flash: String,
    errors: FormErrors,
) -> PageResult<SchoolPage> {
    let c = caller.clone();
    let k = code.clone();
    let (school, members, standard, models, classes, suppliers) = st
        .run(move |conn| {
            let school = crate::org::service::get_school(conn, &c, &k)?;
            let members: Vec<MemberRow> =
                config::members(conn, &c)?.into_iter().filter(|m| m.school_code == k).collect();
            let path = crate::org::service::org_in_scope(conn, c.scope(), &k)?.path;
            let standard = config::meal_standard(conn, &path, c.today())?;
            Ok((
                school,
                members,
                standard,
                config::models(conn, &c, &k)?,
                crate::org::service::list_classes(conn, &c, &k)?,
                config::suppliers(conn, &c)?,
            ))
        })
        .await?;
    Ok(SchoolPage {
        layout: Layout::new(&caller, st, format!("{} · 营养改善计划", school.name)),
        code,
        name: school.name,
        can_set: caller.may(Permission::ConfigureProgramme),
        members,
        standard,
        models,
        classes,
        suppliers,
        model_kinds: MealModel::ALL.iter().map(|m| (m.as_str(), m.label())).collect(),
        term: current_term(&caller).to_string(),
        flash,
        errors,
    })
}

pub async fn school(
    st: web::Data<AppState>,
    PageUser(caller): PageUser,
    path: web::Path<String>,
    flash: web::Query<Flash>,
) -> PageResult<SchoolPage> {
    school_page(&st, caller, path.into_inner(), flash.message(), FormErrors::none()).await
}

pub async fn model_add(
    st: web::Data<AppState>,
    path: web::Path<String>,
    f: CsrfForm<ModelBody>,
) -> PageResult<HttpResponse> {
    let CsrfForm { user, form } = f;
    let code = path.into_inner();
    let (c, k) = (user.clone(), code.clone());
    let result = match form.parse() {
        Ok(input) => st.run(move |conn| config::add_model(conn, &c, &k, input)).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(_) => Ok(see_other(&format!("/programme/schools/{code}?ok=saved"))),
        Err(e) if shown_in_form(&e) => html_page(
            StatusCode::UNPROCESSABLE_ENTITY,
            school_page(&st, user, code, String::new(), FormErrors::from_error(&e)).await?,
        ),
        Err(e) => Err(e.into()),
    }
}

// ---------------------------------------------------------------- calendars

#[derive(Template, WebTemplate)]
#[template(path = "programme/calendar.html")]
pub struct CalendarPage {
    layout: Layout,
    code: String,
    name: String,
    term: String,
    term_label: String,
    terms: Vec<(String, String)>,
    dates: Option<TermDates>,
    months: Vec<MonthView>,
    can_set: bool,
    flash: String,
    errors: FormErrors,
}

#[derive(Deserialize)]
pub struct CalendarQuery {
    #[serde(default)]
    term: String,
    #[serde(default)]
    ok: Option<String>,
}

async fn calendar_page(
    st: &AppState,
    caller: Caller,
    code: String,
    t: Term,
    flash: String,
    errors: FormErrors,
) -> PageResult<CalendarPage> {
    let (c, k) = (caller.clone(), code.clone());
    let (org, dates, months) = st.run(move |conn| calendar::term_view(conn, &c, &k, t)).await?;
    let kind = org.kind;
    Ok(CalendarPage {
        layout: Layout::new(&caller, st, format!("{} · 供餐日历", org.name)),
        code,
        name: org.name,
        term: t.to_string(),
        term_label: t.label(),
        terms: term_choices(current_term(&caller)),
        dates,
        months,
        can_set: calendar::may_set(&caller, kind).is_ok(),
        flash,
        errors,
    })
}

pub async fn calendar(
    st: web::Data<AppState>,
    PageUser(caller): PageUser,
    path: web::Path<String>,
    q: web::Query<CalendarQuery>,
) -> PageResult<CalendarPage> {
    let t = if q.term.is_empty() { current_term(&caller) } else { input::term(&q.term)? };
    let flash = match q.ok.as_deref() {
        Some(n) if n.chars().all(|c| c.is_ascii_digit()) => format!("已导入 {n} 个月的供餐日历"),
        Some(_) => "已保存".to_owned(),
        None => String::new(),
    };
    calendar_page(&st, caller, path.into_inner(), t, flash, FormErrors::none()).await
}

/// The month form: `month`, `term` and one checkbox `d{day}` per meal day.
pub async fn calendar_set(
    st: web::Data<AppState>,
    path: web::Path<String>,
    f: CsrfForm<BTreeMap<String, String>>,
) -> PageResult<HttpResponse> {
    let CsrfForm { user, form } = f;
    let code = path.into_inner();
    let t = input::term(form.get("term").map(String::as_str).unwrap_or(""))?;
    let month = form.get("month").cloned().unwrap_or_default();
    let parsed: AppResult<MealMonth> =
        Month::parse(&month).map_err(|m| AppError::field("month", ErrorCode::CalendarMonth, m)).and_then(|m| {
            let days = form.keys().filter_map(|k| k.strip_prefix('d')?.parse::<u32>().ok());
            MealMonth::new(m, days).map_err(|e| AppError::field("days", ErrorCode::CalendarDays, e))
        });
    let (c, k) = (user.clone(), code.clone());
    let result = match parsed {
        Ok(cal) => st.run(move |conn| calendar::set_month(conn, &c, &k, &cal)).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => Ok(see_other(&format!("/calendars/{code}?term={t}&ok=saved"))),
        Err(e) if shown_in_form(&e) => html_page(
            StatusCode::UNPROCESSABLE_ENTITY,
            calendar_page(&st, user, code, t, String::new(), FormErrors::from_error(&e)).await?,
        ),
        Err(e) => Err(e.into()),
    }
}

pub async fn calendar_import(
    st: web::Data<AppState>,
    PageUser(caller): PageUser,
    req: actix_web::HttpRequest,
    path: web::Path<String>,
    form: Multipart,
) -> PageResult<HttpResponse> {
    let code = path.into_inner();
    let form = upload::read_page_form(&st, &caller, &req, form, calendar::MAX_UPLOAD).await?;
    let t = input::term(form.text("term")).unwrap_or_else(|_| current_term(&caller));
    let Some(file) = form.file("file") else {
        let e = AppError::field("file", ErrorCode::CalendarNoFile, "请选择要导入的供餐日历文件");
        return html_page(
            StatusCode::UNPROCESSABLE_ENTITY,
            calendar_page(&st, caller, code, t, String::new(), FormErrors::from_error(&e)).await?,
        );
    };
    let (bytes, name) = (file.bytes.clone(), file.filename.clone());
    let (c, k) = (caller.clone(), code.clone());
    match st.run(move |conn| calendar::import(conn, &c, &k, &bytes, &name)).await {
        Ok(n) => Ok(see_other(&format!("/calendars/{code}?term={t}&ok={n}"))),
        Err(e) if shown_in_form(&e) => html_page(
            StatusCode::UNPROCESSABLE_ENTITY,
            calendar_page(&st, caller, code, t, String::new(), FormErrors::from_error(&e)).await?,
        ),
        Err(e) => Err(e.into()),
    }
}

// ---------------------------------------------------------------- rosters

#[derive(Template, WebTemplate)]
#[template(path = "programme/rosters.html")]
pub struct RostersPage {
    layout: Layout,
    term: String,
    term_label: String,
    terms: Vec<(String, String)>,
    overview: Vec<OverviewRow>,
    /// A school user's own versions.
    versions: Vec<RosterHead>,
    school_code: String,
    can_build: bool,
    can_print_all: bool,
    late: usize,
    /// The term's newest archived version: a rebuild must be confirmed.
    archived: Option<i32>,
    /// A county's reviewers: whether it requires two people for 审核 and 备案.
    review_rule: Option<bool>,
    flash: String,
    errors: FormErrors,
}

#[derive(Deserialize, schemars::JsonSchema)]
pub struct TermQuery {
    #[serde(default)]
    term: String,
}

async fn rosters_page(
    st: &AppState,
    caller: Caller,
    t: Term,
    flash: String,
    errors: FormErrors,
) -> PageResult<RostersPage> {
    let c = caller.clone();
    let is_school = caller.org_kind == OrgKind::School;
    let (overview, versions, review_rule) = st
        .run(move |conn| {
            let overview = roster::overview(conn, &c, t)?;
            let versions = if is_school { roster::versions(conn, &c, &c.org_code, t)? } else { Vec::new() };
            let rule = if c.org_kind == OrgKind::County && c.may(Permission::ReviewRoster) {
                Some(super::roster_review::two_person(conn, &c.org_code)?)
            } else {
                None
            };
            Ok((overview, versions, rule))
        })
        .await?;
    Ok(RostersPage {
        layout: Layout::new(&caller, st, "受益学生花名册"),
        term: t.to_string(),
        term_label: t.label(),
        terms: term_choices(current_term(&caller)),
        late: overview.iter().filter(|r| r.late).count(),
        archived: versions
            .iter()
            .filter(|v| v.status() == crate::domain::roster::Status::Archived)
            .map(|v| v.version)
            .max(),
        overview,
        versions,
        school_code: if is_school { caller.org_code.clone() } else { String::new() },
        // The page builds the caller's own school's roster; the county builds through the API.
        can_build: is_school && caller.may(Permission::BuildRoster),
        can_print_all: caller.org_kind.is_county_or_above(),
        review_rule,
        flash,
        errors,
    })
}

#[derive(Deserialize)]
pub struct ReviewRuleForm {
    /// "1" requires two people; anything else (the box unticked) does not.
    #[serde(default)]
    two_person: String,
}

/// The county's rule: 审核 and 备案 by two different people.
pub async fn review_rule(st: web::Data<AppState>, f: CsrfForm<ReviewRuleForm>) -> PageResult<HttpResponse> {
    let CsrfForm { user, form } = f;
    let on = form.two_person == "1";
    st.run(move |conn| super::roster_review::set_two_person(conn, &user, on)).await?;
    Ok(see_other(&format!("/rosters?ok={}", if on { "two_person" } else { "one_person" })))
}

pub async fn rosters(
    st: web::Data<AppState>,
    PageUser(caller): PageUser,
    q: web::Query<TermQuery>,
    flash: web::Query<Flash>,
) -> PageResult<RostersPage> {
    let t = if q.term.is_empty() { current_term(&caller) } else { input::term(&q.term)? };
    rosters_page(&st, caller, t, flash.message(), FormErrors::none()).await
}

pub async fn build(st: web::Data<AppState>, f: CsrfForm<BuildBody>) -> PageResult<HttpResponse> {
    let CsrfForm { user, form } = f;
    let t = input::term(&form.term).unwrap_or_else(|_| current_term(&user));
    let c = user.clone();
    let result = match form.parse() {
        Ok((t, day)) => st.run(move |conn| roster::build(conn, &c, &form.school, t, day, form.after_archive())).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(b) => Ok(see_other(&format!(
            "/rosters/{}?ok={}",
            b.roster.id,
            match (b.created, b.warning.is_some()) {
                (true, true) => "rebuilt",
                (true, false) => "created",
                _ => "saved",
            }
        ))),
        Err(e) if shown_in_form(&e) => html_page(
            StatusCode::UNPROCESSABLE_ENTITY,
            rosters_page(&st, user, t, String::new(), FormErrors::from_error(&e)).await?,
        ),
        Err(e) => Err(e.into()),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "programme/roster.html")]
pub struct RosterPage {
    layout: Layout,
    head: RosterHead,
    lines: Vec<RosterLine>,
    /// The newest scan of the guardians' signatures, and the pages the printer makes.
    scan: Option<ScanView>,
    printed_pages: i32,
    can: roster::RosterActions,
    flash: String,
    errors: FormErrors,
}

impl RosterPage {
    fn sex(&self, code: &str) -> &'static str {
        crate::domain::codes::sex_label(code)
    }

    fn grade(&self, g: &i32) -> &'static str {
        crate::domain::codes::grade_name(*g)
    }

    fn attendance(&self, code: &str) -> &'static str {
        crate::domain::codes::table("attendance").label(code).unwrap_or("")
    }
}

pub(super) async fn roster_page(
    st: &AppState,
    caller: Caller,
    id: i64,
    flash: String,
    errors: FormErrors,
) -> PageResult<RosterPage> {
    let c = caller.clone();
    let ((head, lines), scan) =
        st.run(move |conn| Ok((roster::shown(roster::get(conn, &c, id)?), roster_scan::of(conn, &c, id)?))).await?;
    Ok(RosterPage {
        layout: Layout::new(&caller, st, format!("{} 花名册 第{}版", head.school_name, head.version)),
        scan,
        printed_pages: roster_scan::printed_pages(&lines),
        can: roster::actions(&caller, &head),
        head,
        lines,
        flash,
        errors,
    })
}

pub async fn detail(
    st: web::Data<AppState>,
    PageUser(caller): PageUser,
    path: web::Path<i64>,
    flash: web::Query<Flash>,
) -> PageResult<RosterPage> {
    let msg = match flash.ok.as_deref() {
        Some("created") => "已生成新版本",
        Some("rebuilt") => "已生成新版本；此前的备案版本在新版本备案前仍然有效，新版本须重新签章、审核、备案",
        Some("saved") => "内容与最新版本相同，未生成新版本",
        Some("stepped") => "已办理",
        Some("sign") => "已签章确认本版花名册，报县教育局审核",
        Some("review") => "已审核通过本版花名册，待县营养办备案",
        Some("archive") => "本版花名册已备案",
        Some("return") => "已将本版花名册退回学校，学校须重新签章",
        Some("scanned") => "签字扫描件已上传",
        _ => "",
    };
    roster_page(&st, caller, path.into_inner(), msg.to_owned(), FormErrors::none()).await
}

#[derive(Deserialize, schemars::JsonSchema)]
pub struct StepForm {
    #[serde(default)]
    step: String,
    #[serde(default)]
    note: String,
    /// "1" once the confirmation step was answered (`web::confirm`).
    #[serde(default)]
    confirmed: String,
}

/// What each forward step fixes for good, and its confirming button (sending back needs no
/// confirmation: it undoes).
fn step_confirmation(step: Step) -> Option<(&'static str, &'static str)> {
    match step {
        Step::Sign => {
            Some(("确认签章", "签章确认后本版花名册内容冻结，不能再修改或删除；之后的学籍变化须重新生成新版本。"))
        }
        Step::Review => Some(("确认审核通过", "审核通过后交县营养办备案，不能撤回；如有问题请选择“退回学校”。")),
        Step::Archive => Some(("确认备案", "备案后本版即为本学期正式的受益学生名单，用于公示和补助核算，不能撤回。")),
        Step::Return => None,
    }
}

pub async fn step(st: web::Data<AppState>, path: web::Path<i64>, f: CsrfForm<StepForm>) -> PageResult<HttpResponse> {
    let CsrfForm { user, form } = f;
    let id = path.into_inner();
    if let Ok(s) = parse_step(&form.step)
        && let Some((button, consequence)) = step_confirmation(s)
        && !confirm::confirmed(&form.confirmed)
    {
        let c = user.clone();
        let head = st.run(move |conn| roster::head_of(conn, &c, id)).await?;
        let what = format!("{}：{}第{}版受益学生花名册（{}人）", s.label(), head.school_name, head.version, head.count);
        let (action, back) = (format!("/rosters/{id}/step"), format!("/rosters/{id}"));
        let ask = confirm::Ask {
            what: &what,
            consequence,
            action: &action,
            fields: &[("step", &form.step), ("note", &form.note)],
            button,
            back: &back,
        };
        return confirm::page(Layout::new(&user, &st, "确认办理"), &ask);
    }
    let c = user.clone();
    let result = match parse_step(&form.step) {
        Ok(s) => st.run(move |conn| roster::step(conn, &c, id, s, &form.note)).await.map(|_| s),
        Err(e) => Err(e),
    };
    match result {
        Ok(s) => Ok(see_other(&format!("/rosters/{id}?ok={}", s.as_str()))),
        Err(e) if shown_in_form(&e) || matches!(e.code, ErrorCode::RosterNotYours | ErrorCode::RosterSamePerson) => {
            html_page(
                StatusCode::UNPROCESSABLE_ENTITY,
                roster_page(&st, user, id, String::new(), FormErrors::from_error(&e)).await?,
            )
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn discard(st: web::Data<AppState>, path: web::Path<i64>, f: CsrfForm<StepForm>) -> PageResult<HttpResponse> {
    let CsrfForm { user, .. } = f;
    let id = path.into_inner();
    let c = user.clone();
    match st.run(move |conn| roster::discard(conn, &c, id)).await {
        Ok(()) => Ok(see_other("/rosters?ok=deleted")),
        Err(e) if shown_in_form(&e) => html_page(
            StatusCode::UNPROCESSABLE_ENTITY,
            roster_page(&st, user, id, String::new(), FormErrors::from_error(&e)).await?,
        ),
        Err(e) => Err(e.into()),
    }
}

pub async fn file(
    st: web::Data<AppState>,
    PageUser(caller): PageUser,
    path: web::Path<(i64, String)>,
    q: web::Query<super::api::PrintQuery>,
) -> PageResult<HttpResponse> {
    let (id, name) = path.into_inner();
    let (kind, format) = parse_file(&name)?;
    let by_class = q.by_class();
    let (filename, bytes) = st.run(move |conn| roster_print::render(conn, &caller, id, kind, format, by_class)).await?;
    Ok(file_response(&filename, bytes, format))
}

/// Every programme school's newest roster of a term as one PDF, built as a job with progress.
pub async fn print_all(
    st: web::Data<AppState>,
    jobs: web::Data<Jobs>,
    f: CsrfForm<TermQuery>,
) -> PageResult<HttpResponse> {
    let CsrfForm { user, form } = f;
    let term = input::term(&form.term)?.to_string();
    let job = crate::exchange::job_runs::start(st, jobs, user, JobInput::PrintRosters { term }, None).await?;
    Ok(see_other(&format!("/jobs/{job}")))
}
