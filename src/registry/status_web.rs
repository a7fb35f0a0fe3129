//! Pages for status changes: the request form on a student, the transfer request at the
//! receiving school, the lists (mine, open, in transit, overdue), the detail with its chain and
//! the decision form; terms and transfer restrictions; year-end promotion.

use actix_multipart::Multipart;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;

use super::changes::{MAX_EVIDENCE, Upload};
use super::promotion::{self, Plan, PromoteInput, PromotionView, Repeater};
use super::status::{self, ChainView, ChangeInput, ChangeView, Show, TransferInput};
use super::terms::{self, RestrictionRow, TermRow};
use super::timeline::{self, SpellView};
use crate::auth::Caller;
use crate::auth::extract::{CsrfForm, PageUser};
use crate::domain::key_lock::school_year_of;
use crate::domain::role::Permission;
use crate::domain::status::State;
use crate::domain::term::Term;
use crate::error::{AppError, ErrorCode, ErrorKind};
use crate::inspection::findings::{self, Link};
use crate::inspection::web::FromFinding;
use crate::web::{AppState, Flash, FormErrors, Layout, PageResult, download, html_page, see_other, upload};

/// Errors a form shows beside its fields; anything else is a page error.
fn shown_in_form(e: &AppError) -> bool {
    matches!(e.kind, ErrorKind::Invalid | ErrorKind::Conflict)
}

fn evidence_of(form: &upload::UploadForm) -> Option<Upload> {
    form.file("evidence").map(|f| Upload { filename: f.filename.clone(), bytes: f.bytes.clone() })
}

// ---------------------------------------------------------------- request on a student

#[derive(Template, WebTemplate)]
#[template(path = "registry/status_form.html")]
pub struct RequestPage {
    layout: Layout,
    student_id: i64,
    student_name: String,
    state_label: &'static str,
    kinds: Vec<(&'static str, &'static str)>,
    classes: Vec<(String, String)>,
    form: ChangeInput,
    /// The inspection finding this change is opened from (linked back on submit).
    finding: Option<i64>,
    errors: FormErrors,
}

async fn request_page(
    st: &AppState,
    caller: Caller,
    id: i64,
    form: ChangeInput,
    finding: Option<i64>,
    errors: FormErrors,
) -> PageResult<RequestPage> {
    let c = caller.clone();
    let (view, spells, classes, kinds) = st
        .run(move |conn| {
            let view = super::service::get(conn, &c, id)?;
            let spells = timeline::view(conn, &c, id)?;
            let classes = crate::org::service::list_classes(conn, &c, &view.school_code)?;
            Ok((view, spells, classes, status::kinds_open(conn, &c, id)?))
        })
        .await?;
    let state = spells.last().and_then(|s| State::parse(s.state)).unwrap_or(State::Left);
    Ok(RequestPage {
        layout: Layout::new(&caller, st, "办理学籍异动"),
        student_id: id,
        student_name: view.record.name().to_owned(),
        state_label: state.label(),
        kinds: kinds.into_iter().map(|k| (k.code(), k.label())).collect(),
        classes: classes.into_iter().map(|c| (c.class.class_no, c.class.name)).collect(),
        form,
        finding,
        errors,
    })
}

pub async fn new_request(
    st: web::Data<AppState>,
    PageUser(caller): PageUser,
    path: web::Path<i64>,
    from: web::Query<FromFinding>,
) -> PageResult<RequestPage> {
    request_page(&st, caller, path.into_inner(), ChangeInput::default(), from.finding, FormErrors::none()).await
}

fn change_input(form: &upload::UploadForm) -> ChangeInput {
    ChangeInput {
        kind: form.text("kind").to_owned(),
        effective_date: form.text("effective_date").to_owned(),
        reason: form.text("reason").to_owned(),
        to_class_no: form.text("to_class_no").to_owned(),
    }
}

pub async fn submit_request(
    st: web::Data<AppState>,
    PageUser(caller): PageUser,
    req: actix_web::HttpRequest,
    path: web::Path<i64>,
    form: Multipart,
) -> PageResult<HttpResponse> {
    let id = path.into_inner();
    let form = upload::read_page_form(&st, &caller, &req, form, MAX_EVIDENCE + 64 * 1024).await?;
    let (input, evidence) = (change_input(&form), evidence_of(&form));
    let finding = form.text("finding").parse::<i64>().ok();
    let (c, i) = (caller.clone(), input.clone());
    let requested = st.run(move |conn| {
        let request = |conn: &mut _| status::request(conn, &c, id, &i, evidence.as_ref());
        findings::opened_from(conn, &c, finding, Link::Status, request, |v| v.id)
    });
    match requested.await {
        Ok(v) => Ok(see_other(&format!("/status-changes/{}?ok=requested", v.id))),
        Err(e) if shown_in_form(&e) || e.code == ErrorCode::ChangeNotYourStep => {
            let page = request_page(&st, caller, id, input, finding, FormErrors::from_error(&e)).await?;
            html_page(StatusCode::UNPROCESSABLE_ENTITY, page)
        }
        Err(e) => Err(e.into()),
    }
}

// ---------------------------------------------------------------- transfer in

#[derive(Template, WebTemplate)]
#[template(path = "registry/transfer_form.html")]
pub struct TransferPage {
    layout: Layout,
    school_name: String,
    classes: Vec<(String, String)>,
    form: TransferInput,
    errors: FormErrors,
}

async fn transfer_page(
    st: &AppState,
    caller: Caller,
    form: TransferInput,
    errors: FormErrors,
) -> PageResult<TransferPage> {
    status::may_request_transfer(&caller)?;
    let c = caller.clone();
    let classes = st.run(move |conn| crate::org::service::list_classes(conn, &c, &c.org_code)).await?;
    Ok(TransferPage {
        layout: Layout::new(&caller, st, "转学申请（转入）"),
        school_name: caller.org_name.clone(),
        classes: classes.into_iter().map(|c| (c.class.class_no, c.class.name)).collect(),
        form,
        errors,
    })
}

pub async fn new_transfer(st: web::Data<AppState>, PageUser(caller): PageUser) -> PageResult<TransferPage> {
    transfer_page(&st, caller, TransferInput::default(), FormErrors::none()).await
}

pub async fn submit_transfer(
    st: web::Data<AppState>,
    PageUser(caller): PageUser,
    req: actix_web::HttpRequest,
    form: Multipart,
) -> PageResult<HttpResponse> {
    let form = upload::read_page_form(&st, &caller, &req, form, MAX_EVIDENCE + 64 * 1024).await?;
    let input = TransferInput {
        student_no: form.text("student_no").to_owned(),
        name: form.text("name").to_owned(),
        to_class_no: form.text("to_class_no").to_owned(),
        effective_date: form.text("effective_date").to_owned(),
        arrival_date: form.text("arrival_date").to_owned(),
        reason: form.text("reason").to_owned(),
    };
    let evidence = evidence_of(&form);
    let (c, i) = (caller.clone(), input.clone());
    match st.run(move |conn| status::request_transfer(conn, &c, &i, evidence.as_ref())).await {
        Ok(v) => Ok(see_other(&format!("/status-changes/{}?ok=requested", v.id))),
        Err(e) if shown_in_form(&e) || e.code == ErrorCode::ChangeNotYourStep => {
            let page = transfer_page(&st, caller, input, FormErrors::from_error(&e)).await?;
            html_page(StatusCode::UNPROCESSABLE_ENTITY, page)
        }
        Err(e) => Err(e.into()),
    }
}

// ---------------------------------------------------------------- lists and detail

#[derive(Template, WebTemplate)]
#[template(path = "registry/status_list.html")]
pub struct ListPage {
    layout: Layout,
    show: &'static str,
    tabs: Vec<(&'static str, &'static str)>,
    items: Vec<ChangeView>,
    can_transfer: bool,
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
pub struct ListQuery {
    #[serde(default)]
    show: String,
}

pub async fn list(
    st: web::Data<AppState>,
    PageUser(caller): PageUser,
    q: web::Query<ListQuery>,
) -> PageResult<ListPage> {
    let show = Show::parse(&q.show).unwrap_or_default();
    let c = caller.clone();
    let items = st.run(move |conn| status::list(conn, &c, show)).await?;
    let tabs = vec![
        ("mine", "待我办理"),
        ("open", "办理中"),
        ("in_transit", "转学途中"),
        ("overdue", "已超时"),
        ("all", "全部"),
    ];
    let show_name = tabs.iter().map(|(k, _)| *k).find(|k| Show::parse(k) == Some(show)).unwrap_or("open");
    Ok(ListPage {
        layout: Layout::new(&caller, &st, "学籍异动"),
        show: show_name,
        tabs,
        items,
        can_transfer: status::may_request_transfer(&caller).is_ok(),
    })
}

#[derive(Template, WebTemplate)]
#[template(path = "registry/status_detail.html")]
pub struct DetailPage {
    layout: Layout,
    c: ChangeView,
    flash: String,
    errors: FormErrors,
}

async fn detail_page(
    st: &AppState,
    caller: Caller,
    id: i64,
    flash: String,
    errors: FormErrors,
) -> PageResult<DetailPage> {
    let c = caller.clone();
    let v = st.run(move |conn| status::get(conn, &c, id)).await?;
    Ok(DetailPage { layout: Layout::new(&caller, st, format!("学籍异动 #{id}")), c: v, flash, errors })
}

pub async fn detail(
    st: web::Data<AppState>,
    PageUser(caller): PageUser,
    path: web::Path<i64>,
    flash: web::Query<Flash>,
) -> PageResult<DetailPage> {
    detail_page(&st, caller, path.into_inner(), flash.message(), FormErrors::none()).await
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct DecisionForm {
    #[serde(default)]
    decision: String,
    #[serde(default)]
    note: String,
}

pub async fn decide(
    st: web::Data<AppState>,
    path: web::Path<i64>,
    f: CsrfForm<DecisionForm>,
) -> PageResult<HttpResponse> {
    let CsrfForm { user, form } = f;
    let id = path.into_inner();
    let approve = match form.decision.as_str() {
        "approve" => true,
        "refuse" => false,
        _ => return Err(AppError::invalid(ErrorCode::ChangeDecision, "请选择“同意”或“驳回”").into()),
    };
    let c = user.clone();
    match st.run(move |conn| status::decide(conn, &c, id, approve, &form.note)).await {
        Ok(_) => Ok(see_other(&format!("/status-changes/{id}?ok=decided"))),
        Err(e) if shown_in_form(&e) => {
            let page = detail_page(&st, user, id, String::new(), FormErrors::from_error(&e)).await?;
            html_page(StatusCode::UNPROCESSABLE_ENTITY, page)
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn evidence(
    st: web::Data<AppState>,
    PageUser(caller): PageUser,
    path: web::Path<i64>,
) -> PageResult<HttpResponse> {
    let id = path.into_inner();
    let (name, content_type, bytes) = st.run(move |conn| status::evidence(conn, &caller, id)).await?;
    Ok(download(bytes, &name, &content_type))
}

/// The student page's share: the timeline and the changes, newest last / first.
pub struct StudentStatus {
    pub spells: Vec<SpellView>,
    pub changes: Vec<ChangeView>,
}

pub fn student_status(
    conn: &mut crate::db::DbConn,
    caller: &Caller,
    id: i64,
) -> crate::error::AppResult<StudentStatus> {
    Ok(StudentStatus { spells: timeline::view(conn, caller, id)?, changes: status::of_student(conn, caller, id)? })
}

// ---------------------------------------------------------------- terms and restrictions

#[derive(Template, WebTemplate)]
#[template(path = "registry/terms.html")]
pub struct TermsPage {
    layout: Layout,
    terms: Vec<TermRow>,
    restrictions: Vec<RestrictionRow>,
    chains: Vec<ChainView>,
    can_set: bool,
    next_terms: Vec<(String, String, String, String)>,
    flash: String,
    errors: FormErrors,
}

async fn terms_page(st: &AppState, caller: Caller, flash: String, errors: FormErrors) -> PageResult<TermsPage> {
    let c = caller.clone();
    let ((terms, restrictions), chains) =
        st.run(move |conn| Ok((terms::list(conn, &c)?, status::chains(conn)?))).await?;
    let year = school_year_of(caller.today());
    let next_terms = [(year, 1), (year, 2), (year + 1, 1)]
        .into_iter()
        .filter_map(|(y, h)| Term::new(y, h).ok())
        .map(|t| {
            let (s, e) = t.customary_dates();
            (t.to_string(), t.label(), s.to_string(), e.to_string())
        })
        .collect();
    Ok(TermsPage {
        layout: Layout::new(&caller, st, "学年学期与转学限制"),
        terms,
        restrictions,
        chains,
        can_set: caller.may_at_county(Permission::ConfigureRegistry).is_ok(),
        next_terms,
        flash,
        errors,
    })
}

pub async fn terms_get(
    st: web::Data<AppState>,
    PageUser(caller): PageUser,
    flash: web::Query<Flash>,
) -> PageResult<TermsPage> {
    terms_page(&st, caller, flash.message(), FormErrors::none()).await
}

/// Runs a settings action and comes back to the page, with the error beside the forms if any.
async fn terms_action(
    st: &AppState,
    user: Caller,
    f: impl FnOnce(&mut crate::db::DbConn, &Caller) -> crate::error::AppResult<()> + Send + 'static,
) -> PageResult<HttpResponse> {
    let c = user.clone();
    match st.run(move |conn| f(conn, &c)).await {
        Ok(()) => Ok(see_other("/terms?ok=saved")),
        Err(e) if shown_in_form(&e) => html_page(
            StatusCode::UNPROCESSABLE_ENTITY,
            terms_page(st, user, String::new(), FormErrors::from_error(&e)).await?,
        ),
        Err(e) => Err(e.into()),
    }
}

#[derive(Debug, Deserialize)]
pub struct TermForm {
    #[serde(default)]
    term: String,
    #[serde(default)]
    start_date: String,
    #[serde(default)]
    end_date: String,
}

pub async fn term_set(st: web::Data<AppState>, f: CsrfForm<TermForm>) -> PageResult<HttpResponse> {
    let CsrfForm { user, form } = f;
    terms_action(&st, user, move |conn, c| {
        let t = Term::parse(&form.term).map_err(|m| AppError::field("term", ErrorCode::TermFormat, m))?;
        let (s, e) =
            (status::parse_day("start_date", &form.start_date)?, status::parse_day("end_date", &form.end_date)?);
        terms::set_term(conn, c, t, s, e)
    })
    .await
}

pub async fn term_close(st: web::Data<AppState>, f: CsrfForm<TermForm>) -> PageResult<HttpResponse> {
    let CsrfForm { user, form } = f;
    terms_action(&st, user, move |conn, c| {
        let t = Term::parse(&form.term).map_err(|m| AppError::field("term", ErrorCode::TermFormat, m))?;
        terms::close_term(conn, c, t)
    })
    .await
}

#[derive(Debug, Deserialize)]
pub struct RestrictionForm {
    #[serde(default)]
    grade: String,
    #[serde(default)]
    term: String,
    #[serde(default)]
    note: String,
}

pub async fn restriction_add(st: web::Data<AppState>, f: CsrfForm<RestrictionForm>) -> PageResult<HttpResponse> {
    let CsrfForm { user, form } = f;
    terms_action(&st, user, move |conn, c| {
        let grade = crate::domain::codes::parse_grade(&form.grade)
            .ok_or_else(|| AppError::field("grade", ErrorCode::RestrictionGrade, "请选择年级"))?;
        let term = match form.term.trim() {
            "" => None,
            t => Some(
                t.parse::<u8>()
                    .map_err(|_| AppError::field("term", ErrorCode::RestrictionTerm, "学期应为1、2或全学年"))?,
            ),
        };
        terms::add_restriction(conn, c, grade, term, &form.note)
    })
    .await
}

#[derive(Debug, Deserialize)]
pub struct Empty {}

pub async fn restriction_remove(
    st: web::Data<AppState>,
    path: web::Path<i64>,
    f: CsrfForm<Empty>,
) -> PageResult<HttpResponse> {
    let id = path.into_inner();
    terms_action(&st, f.user, move |conn, c| terms::remove_restriction(conn, c, id)).await
}

// ---------------------------------------------------------------- promotion

#[derive(Template, WebTemplate)]
#[template(path = "registry/promotion.html")]
pub struct PromotionPage {
    layout: Layout,
    jobs: Vec<PromotionView>,
    plan: Option<Plan>,
    form: PromotionForm,
    can_run: bool,
    flash: String,
    errors: FormErrors,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct PromotionForm {
    #[serde(default)]
    org: String,
    #[serde(default)]
    school_year: String,
    #[serde(default)]
    graduation_date: String,
    /// One repeater per line: 学籍号 班号.
    #[serde(default)]
    repeaters: String,
    /// "preview" or "apply".
    #[serde(default)]
    mode: String,
}

async fn promotion_page(
    st: &AppState,
    caller: Caller,
    form: PromotionForm,
    plan: Option<Plan>,
    flash: String,
    errors: FormErrors,
) -> PageResult<PromotionPage> {
    let c = caller.clone();
    let jobs = st.run(move |conn| promotion::list(conn, &c)).await?;
    let form = PromotionForm {
        org: if form.org.is_empty() { caller.org_code.clone() } else { form.org },
        school_year: if form.school_year.is_empty() {
            school_year_of(caller.today()).to_string()
        } else {
            form.school_year
        },
        ..form
    };
    Ok(PromotionPage {
        layout: Layout::new(&caller, st, "学年升级与毕业"),
        jobs,
        plan,
        can_run: promotion::may_run(&caller).is_ok(),
        form,
        flash,
        errors,
    })
}

pub async fn promotions(
    st: web::Data<AppState>,
    PageUser(caller): PageUser,
    flash: web::Query<Flash>,
) -> PageResult<PromotionPage> {
    promotion_page(&st, caller, PromotionForm::default(), None, flash.message(), FormErrors::none()).await
}

fn promote_input(form: &PromotionForm) -> Result<PromoteInput, AppError> {
    let school_year = form.school_year.trim().parse::<i32>().map_err(|_| {
        AppError::field("school_year", ErrorCode::PromotionYear, "学年应为四位年份，如2025（2025—2026学年）")
    })?;
    let graduation_date = match form.graduation_date.trim() {
        "" => None,
        d => Some(status::parse_day("graduation_date", d)?),
    };
    let mut repeaters = Vec::new();
    for (i, line) in form.repeaters.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let mut parts = line.split_whitespace();
        let (Some(no), Some(class)) = (parts.next(), parts.next()) else {
            return Err(AppError::field(
                "repeaters",
                ErrorCode::PromotionRepeatFormat,
                format!("留级名单第{}行应写作“学籍号 班号”", i + 1),
            ));
        };
        repeaters.push(Repeater { student_no: no.into(), class_no: class.into() });
    }
    Ok(PromoteInput {
        org: form.org.trim().to_owned(),
        school_year,
        graduation_date,
        repeaters,
        dry_run: form.mode != "apply",
    })
}

pub async fn promote(st: web::Data<AppState>, f: CsrfForm<PromotionForm>) -> PageResult<HttpResponse> {
    let CsrfForm { user, form } = f;
    let c = user.clone();
    let f2 = form.clone();
    let r = st
        .run(move |conn| {
            let input = promote_input(&f2)?;
            promotion::promote(conn, &c, &input)
        })
        .await;
    match r {
        Ok(plan) if plan.promotion_id.is_some() => Ok(see_other("/promotions?ok=saved")),
        Ok(plan) => html_page(
            StatusCode::OK,
            promotion_page(&st, user, form, Some(plan), String::new(), FormErrors::none()).await?,
        ),
        Err(e) if shown_in_form(&e) => html_page(
            StatusCode::UNPROCESSABLE_ENTITY,
            promotion_page(&st, user, form, None, String::new(), FormErrors::from_error(&e)).await?,
        ),
        Err(e) => Err(e.into()),
    }
}

#[derive(Debug, Deserialize)]
pub struct JobAction {
    #[serde(default)]
    action: String,
}

pub async fn promotion_action(
    st: web::Data<AppState>,
    path: web::Path<i64>,
    f: CsrfForm<JobAction>,
) -> PageResult<HttpResponse> {
    let CsrfForm { user, form } = f;
    let id = path.into_inner();
    let c = user.clone();
    let r = st
        .run(move |conn| match form.action.as_str() {
            "confirm" => promotion::confirm(conn, &c, id),
            "undo" => promotion::undo(conn, &c, id),
            _ => Err(AppError::invalid(ErrorCode::PromotionAction, "请选择确认或撤销")),
        })
        .await;
    match r {
        Ok(_) => Ok(see_other("/promotions?ok=saved")),
        Err(e) if shown_in_form(&e) => html_page(
            StatusCode::UNPROCESSABLE_ENTITY,
            promotion_page(&st, user, PromotionForm::default(), None, String::new(), FormErrors::from_error(&e))
                .await?,
        ),
        Err(e) => Err(e.into()),
    }
}
