//! The county's complaints: the list with its summary by school, a complaint taken by phone,
//! the answer, the way to an inspection finding, the notice's complaint number; and the API.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use chrono::NaiveDate;
use serde::Deserialize;

use super::complaints::{self, ComplaintForm, ComplaintView, SummaryRow};
use super::notice;
use crate::auth::Caller;
use crate::auth::extract::{ApiUser, CsrfForm, PageUser};
use crate::domain::complaint::Category;
use crate::domain::role::Permission;
use crate::domain::term::Term;
use crate::error::{AppError, AppResult, ErrorCode, ErrorKind};
use crate::web::api_doc::{Body, Created, NewId, Reply};
use crate::web::strict::{ApiJson, ApiQuery};
use crate::web::{AppState, Flash, FormErrors, Layout, PageResult, html_page, see_other};

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
pub struct ListQuery {
    #[serde(default)]
    org: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    ok: Option<String>,
}

impl ListQuery {
    /// The period asked for; by default this term so far.
    fn span(&self, caller: &Caller) -> AppResult<(NaiveDate, NaiveDate)> {
        let day = |s: &str, field: &str, default: NaiveDate| match s.trim() {
            "" => Ok(default),
            d => d.parse().map_err(|_| {
                AppError::field(field, ErrorCode::ComplaintDate, format!("日期“{d}”应为如2026-10-12的日期"))
            }),
        };
        let today = caller.today();
        let from = day(&self.from, "from", Term::of_day(today).customary_dates().0.min(today))?;
        Ok((from, day(&self.to, "to", today)?))
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "meals/complaints.html")]
pub struct ListPage {
    layout: Layout,
    org_code: String,
    org_name: String,
    from: NaiveDate,
    to: NaiveDate,
    list: Vec<ComplaintView>,
    rows: Vec<SummaryRow>,
    total: SummaryRow,
    may_enter: bool,
    hotline: String,
    typed: ComplaintForm,
    categories: [Category; 5],
    errors: FormErrors,
    flash: String,
}

async fn list_page(
    st: &AppState,
    caller: Caller,
    q: &ListQuery,
    typed: ComplaintForm,
    errors: FormErrors,
    flash: String,
) -> AppResult<ListPage> {
    let (from, to) = q.span(&caller)?;
    let org = if q.org.trim().is_empty() { caller.org_code.clone() } else { q.org.trim().to_owned() };
    let c = caller.clone();
    let ((o, list), hotline) = st
        .run(move |conn| {
            let listed = complaints::list(conn, &c, &org, from, to)?;
            let hotline = notice::hotline(conn, &listed.0.path)?;
            Ok((listed, hotline))
        })
        .await?;
    let (rows, total) = complaints::summary(&list);
    Ok(ListPage {
        layout: Layout::new(&caller, st, format!("举报受理 · {}", o.name)),
        org_code: o.code,
        org_name: o.name,
        from,
        to,
        list,
        rows,
        total,
        may_enter: caller.may(Permission::ApproveMeals),
        hotline,
        typed,
        categories: Category::ALL,
        errors,
        flash,
    })
}

pub async fn list(
    st: web::Data<AppState>,
    PageUser(caller): PageUser,
    q: web::Query<ListQuery>,
) -> PageResult<ListPage> {
    let flash = Flash { ok: q.ok.clone(), n: None }.message();
    Ok(list_page(&st, caller, &q, ComplaintForm::default(), FormErrors::none(), flash).await?)
}

/// A complaint as a page's form sends it (url-encoded; `anonymous` a checkbox): the county's
/// form and, flattened into its own, the public notice page's.
#[derive(Debug, Default, Deserialize)]
pub struct TypedComplaint {
    #[serde(default)]
    school: String,
    #[serde(default)]
    category: String,
    #[serde(default)]
    content: String,
    #[serde(default)]
    anonymous: Option<String>,
    #[serde(default)]
    name: String,
    #[serde(default)]
    contact: String,
}

impl TypedComplaint {
    /// As the service takes it, about `school` when the form does not name one.
    pub fn form(self, school: &str) -> ComplaintForm {
        ComplaintForm {
            school: if self.school.trim().is_empty() { school.to_owned() } else { self.school },
            category: self.category,
            content: self.content,
            anonymous: self.anonymous.is_some(),
            name: self.name,
            contact: self.contact,
        }
    }
}

pub async fn enter(st: web::Data<AppState>, f: CsrfForm<TypedComplaint>) -> PageResult<HttpResponse> {
    let CsrfForm { user, form } = f;
    let typed = form.form("");
    let (c, body) = (user.clone(), typed.clone());
    match st.run(move |conn| complaints::enter(conn, &c, &body)).await {
        Ok(id) => Ok(see_other(&format!("/complaints/{id}?ok=created"))),
        Err(e) if matches!(e.kind, ErrorKind::Invalid) => html_page(
            StatusCode::UNPROCESSABLE_ENTITY,
            list_page(&st, user, &ListQuery::default(), typed, FormErrors::from_error(&e), String::new()).await?,
        ),
        Err(e) => Err(e.into()),
    }
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
pub struct HotlineForm {
    #[serde(default)]
    hotline: String,
}

pub async fn set_hotline(st: web::Data<AppState>, f: CsrfForm<HotlineForm>) -> PageResult<HttpResponse> {
    let CsrfForm { user, form } = f;
    let c = user.clone();
    match st.run(move |conn| notice::set_hotline(conn, &c, &form.hotline)).await {
        Ok(_) => Ok(see_other("/complaints?ok=saved")),
        Err(e) if matches!(e.kind, ErrorKind::Invalid) => html_page(
            StatusCode::UNPROCESSABLE_ENTITY,
            list_page(
                &st,
                user,
                &ListQuery::default(),
                ComplaintForm::default(),
                FormErrors::from_error(&e),
                String::new(),
            )
            .await?,
        ),
        Err(e) => Err(e.into()),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "meals/complaint.html")]
pub struct DetailPage {
    layout: Layout,
    c: ComplaintView,
    /// An inspector may open a finding from it (none opened yet).
    term: String,
    errors: FormErrors,
    flash: String,
}

async fn detail_page(
    st: &AppState,
    caller: Caller,
    id: i64,
    errors: FormErrors,
    flash: String,
) -> AppResult<DetailPage> {
    let c = caller.clone();
    let view = st.run(move |conn| complaints::get(conn, &c, id)).await?;
    Ok(DetailPage {
        layout: Layout::new(&caller, st, format!("举报 {} · {}", view.id, view.school_name)),
        term: Term::of_day(crate::clock::local(view.received_at).date()).to_string(),
        c: view,
        errors,
        flash,
    })
}

pub async fn detail(
    st: web::Data<AppState>,
    PageUser(caller): PageUser,
    path: web::Path<i64>,
    q: web::Query<Flash>,
) -> PageResult<DetailPage> {
    let flash = match q.ok.as_deref() {
        Some("created") => "举报已登记",
        Some("answered") => "已答复",
        other => {
            return Ok(detail_page(
                &st,
                caller,
                path.into_inner(),
                FormErrors::none(),
                Flash { ok: other.map(str::to_owned), n: None }.message(),
            )
            .await?);
        }
    };
    Ok(detail_page(&st, caller, path.into_inner(), FormErrors::none(), flash.to_owned()).await?)
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
pub struct AnswerForm {
    #[serde(default)]
    answer: String,
}

pub async fn answer(
    st: web::Data<AppState>,
    path: web::Path<i64>,
    f: CsrfForm<AnswerForm>,
) -> PageResult<HttpResponse> {
    let CsrfForm { user, form } = f;
    let id = path.into_inner();
    let c = user.clone();
    match st.run(move |conn| complaints::answer(conn, &c, id, &form.answer)).await {
        Ok(_) => Ok(see_other(&format!("/complaints/{id}?ok=answered"))),
        Err(e) if matches!(e.kind, ErrorKind::Invalid | ErrorKind::Conflict) => html_page(
            StatusCode::UNPROCESSABLE_ENTITY,
            detail_page(&st, user, id, FormErrors::from_error(&e), String::new()).await?,
        ),
        Err(e) => Err(e.into()),
    }
}

// ---------------------------------------------------------------- API

/// `GET /api/v1/complaints?org=&from=&to=`: the list and its summary by school.
pub async fn api_list(
    st: web::Data<AppState>,
    ApiUser(caller): ApiUser,
    q: ApiQuery<ListQuery>,
) -> AppResult<Reply<impl Body>> {
    let (from, to) = q.span(&caller)?;
    let org = if q.org.trim().is_empty() { caller.org_code.clone() } else { q.org.trim().to_owned() };
    let (o, list) = st.run(move |conn| complaints::list(conn, &caller, &org, from, to)).await?;
    let (rows, total) = complaints::summary(&list);
    Ok(Reply(Complaints { org: o.code, from, to, complaints: list, summary: Summary { schools: rows, total } }))
}

/// The complaints of a span, and their count by school.
#[derive(serde::Serialize, schemars::JsonSchema)]
pub struct Complaints {
    org: String,
    from: chrono::NaiveDate,
    to: chrono::NaiveDate,
    complaints: Vec<complaints::ComplaintView>,
    summary: Summary,
}

#[derive(serde::Serialize, schemars::JsonSchema)]
#[schemars(rename = "ComplaintSummary")]
pub struct Summary {
    schools: Vec<complaints::SummaryRow>,
    total: complaints::SummaryRow,
}

pub async fn api_enter(
    st: web::Data<AppState>,
    ApiUser(caller): ApiUser,
    body: ApiJson<ComplaintForm>,
) -> AppResult<Created<impl Body>> {
    let body = body.into_inner();
    let id = st.run(move |conn| complaints::enter(conn, &caller, &body)).await?;
    Ok(Created::new(NewId { id }))
}

pub async fn api_get(
    st: web::Data<AppState>,
    ApiUser(caller): ApiUser,
    path: web::Path<i64>,
) -> AppResult<Reply<impl Body>> {
    let id = path.into_inner();
    Ok(Reply(st.run(move |conn| complaints::get(conn, &caller, id)).await?))
}

pub async fn api_answer(
    st: web::Data<AppState>,
    ApiUser(caller): ApiUser,
    path: web::Path<i64>,
    body: ApiJson<AnswerForm>,
) -> AppResult<Reply<impl Body>> {
    let (id, text) = (path.into_inner(), body.into_inner().answer);
    Ok(Reply(st.run(move |conn| complaints::answer(conn, &caller, id, &text)).await?))
}

/// `PUT /api/v1/notice-settings` with `{hotline}`.
pub async fn api_hotline(
    st: web::Data<AppState>,
    ApiUser(caller): ApiUser,
    body: ApiJson<HotlineForm>,
) -> AppResult<Reply<impl Body>> {
    let typed = body.into_inner().hotline;
    let hotline = st.run(move |conn| notice::set_hotline(conn, &caller, &typed)).await?;
    Ok(Reply(Hotline { hotline }))
}

/// The county's complaint hotline as the notices print it.
#[derive(serde::Serialize, schemars::JsonSchema)]
pub struct Hotline {
    hotline: String,
}
