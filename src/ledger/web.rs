//! Pages for entitlements: a month's schools with their totals, computing and closing, and one
//! school's month down to each child and day.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use chrono::NaiveDate;
use serde::Deserialize;

use super::api::{parse_month, parse_rule};
use super::entitlement::{self, LineView, Period};
use crate::auth::Caller;
use crate::auth::extract::{CsrfForm, PageUser};
use crate::domain::calendar::Month;
use crate::domain::money::Fen;
use crate::error::{AppError, ErrorCode, ErrorKind};
use crate::exchange::job_runs;
use crate::exchange::jobs::{JobInput, Jobs};
use crate::web::{AppState, FormErrors, Layout, PageResult, confirm, html_page, see_other};

/// The month before today's: what a county computes and reconciles by default.
pub(crate) fn last_month(today: NaiveDate) -> Month {
    Month::of(today).prev()
}

#[derive(Template, WebTemplate)]
#[template(path = "ledger/entitlements.html")]
pub struct ListPage {
    layout: Layout,
    month: String,
    periods: Vec<Period>,
    total: Fen,
    adjustment: Fen,
    days: i64,
    can_compute: bool,
    errors: FormErrors,
}

#[derive(Deserialize, schemars::JsonSchema)]
pub struct MonthQuery {
    #[serde(default, alias = "period")]
    month: String,
}

async fn list_page(st: &AppState, caller: Caller, m: Month, errors: FormErrors) -> PageResult<ListPage> {
    let c = caller.clone();
    let periods = st.run(move |conn| entitlement::periods(conn, &c, m)).await?;
    Ok(ListPage {
        layout: Layout::new(&caller, st, "膳食补助核算"),
        month: m.to_string(),
        total: Fen::new(periods.iter().map(|p| p.amount.fen()).sum()),
        adjustment: Fen::new(periods.iter().map(|p| p.adjustment.fen()).sum()),
        days: periods.iter().map(|p| i64::from(p.beneficiary_days)).sum(),
        periods,
        can_compute: entitlement::may_compute(&caller).is_ok(),
        errors,
    })
}

pub async fn list(
    st: web::Data<AppState>,
    PageUser(caller): PageUser,
    q: web::Query<MonthQuery>,
) -> PageResult<ListPage> {
    let m = if q.month.is_empty() { last_month(caller.today()) } else { parse_month(&q.month)? };
    list_page(&st, caller, m, FormErrors::none()).await
}

#[derive(Deserialize, schemars::JsonSchema)]
pub struct ActionForm {
    #[serde(default, alias = "period")]
    month: String,
    /// compute (every programme school in scope), close (one school) or rule.
    #[serde(default)]
    action: String,
    #[serde(default)]
    school: String,
    #[serde(default)]
    rule: String,
    /// "1" once the confirmation step was answered (`web::confirm`).
    #[serde(default)]
    confirmed: String,
}

pub async fn act(st: web::Data<AppState>, jobs: web::Data<Jobs>, f: CsrfForm<ActionForm>) -> PageResult<HttpResponse> {
    let CsrfForm { user, form } = f;
    let m = parse_month(&form.month)?;
    if form.action == "close" && !confirm::confirmed(&form.confirmed) {
        let what = format!("结账：学校 {} {m} 的膳食补助", form.school);
        let back = format!("/entitlements?month={m}");
        let ask = confirm::Ask {
            what: &what,
            consequence: "结账后该月补助不再重新核算；之后登记的学籍变化作为调整记入下一个未结账月份。",
            action: "/entitlements",
            fields: &[("action", "close"), ("month", &form.month), ("school", &form.school)],
            button: "确认结账",
            back: &back,
        };
        return confirm::page(Layout::new(&user, &st, "确认结账"), &ask);
    }
    let c = user.clone();
    let result = match form.action.as_str() {
        // A county's (or a province's) month is long work: a job with progress, on any server.
        "compute" => {
            let input = JobInput::Entitle { org: c.org_code.clone(), month: m.to_string() };
            job_runs::start(st.clone(), jobs, c, input, None).await.map(|job| format!("/jobs/{job}"))
        }
        _ => st
            .run(move |conn| match form.action.as_str() {
                "close" => entitlement::close(conn, &c, &form.school, m).map(|_| ()),
                "rule" => entitlement::set_rule(conn, &c, parse_rule(&form.rule)?),
                _ => Err(AppError::field("action", ErrorCode::EntitlementAction, "未知操作")),
            })
            .await
            .map(|()| format!("/entitlements?month={m}")),
    };
    match result {
        Ok(to) => Ok(see_other(&to)),
        Err(e) if matches!(e.kind, ErrorKind::Invalid | ErrorKind::Conflict) => {
            html_page(StatusCode::UNPROCESSABLE_ENTITY, list_page(&st, user, m, FormErrors::from_error(&e)).await?)
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "ledger/entitlement.html")]
pub struct DetailPage {
    layout: Layout,
    period: Period,
    lines: Vec<LineView>,
}

pub async fn detail(
    st: web::Data<AppState>,
    PageUser(caller): PageUser,
    path: web::Path<(String, String)>,
) -> PageResult<DetailPage> {
    let (code, month) = path.into_inner();
    let m = parse_month(&month)?;
    let c = caller.clone();
    let (period, lines) = st.run(move |conn| entitlement::get(conn, &c, &code, m)).await?;
    Ok(DetailPage {
        layout: Layout::new(&caller, &st, format!("{} {} 膳食补助", period.name, period.month)),
        period,
        lines,
    })
}

// ---- 一补 ----

use super::yibu;
use crate::domain::term::Term;

fn parse_term(s: &str) -> Result<Term, AppError> {
    Term::parse(s).map_err(|m| AppError::field("term", ErrorCode::TermFormat, m))
}

#[derive(Template, WebTemplate)]
#[template(path = "ledger/yibu.html")]
pub struct YibuPage {
    layout: Layout,
    term: String,
    term_label: String,
    periods: Vec<yibu::Period>,
    total: Fen,
    adjustment: Fen,
    can_compute: bool,
    errors: FormErrors,
}

async fn yibu_page(st: &AppState, caller: Caller, t: Term, errors: FormErrors) -> PageResult<YibuPage> {
    let c = caller.clone();
    let periods = st.run(move |conn| yibu::periods(conn, &c, t)).await?;
    Ok(YibuPage {
        layout: Layout::new(&caller, st, "一补核算"),
        term: t.to_string(),
        term_label: t.label(),
        total: Fen::new(periods.iter().map(|p| p.amount.fen()).sum()),
        adjustment: Fen::new(periods.iter().map(|p| p.adjustment.fen()).sum()),
        periods,
        can_compute: entitlement::may_compute(&caller).is_ok(),
        errors,
    })
}

#[derive(Deserialize, schemars::JsonSchema)]
pub struct TermQuery {
    #[serde(default)]
    term: String,
}

pub async fn yibu_list(
    st: web::Data<AppState>,
    PageUser(caller): PageUser,
    q: web::Query<TermQuery>,
) -> PageResult<YibuPage> {
    let t = if q.term.is_empty() { Term::of_day(caller.today()) } else { parse_term(&q.term)? };
    yibu_page(&st, caller, t, FormErrors::none()).await
}

#[derive(Deserialize)]
pub struct YibuForm {
    #[serde(default)]
    term: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    school: String,
    /// "1" once the confirmation step was answered (`web::confirm`).
    #[serde(default)]
    confirmed: String,
}

pub async fn yibu_act(st: web::Data<AppState>, f: CsrfForm<YibuForm>) -> PageResult<HttpResponse> {
    let CsrfForm { user, form } = f;
    let t = parse_term(&form.term)?;
    if form.action == "close" && !confirm::confirmed(&form.confirmed) {
        let what = format!("结账：学校 {} {} 的一补", form.school, t.label());
        let back = format!("/yibu?term={t}");
        let ask = confirm::Ask {
            what: &what,
            consequence: "结账后该学期一补不再重新核算；之后的学籍变化作为调整记入下一学期。",
            action: "/yibu",
            fields: &[("action", "close"), ("term", &form.term), ("school", &form.school)],
            button: "确认结账",
            back: &back,
        };
        return confirm::page(Layout::new(&user, &st, "确认结账"), &ask);
    }
    let c = user.clone();
    let result = st
        .run(move |conn| match form.action.as_str() {
            "compute" => yibu::compute_all(conn, &c, &c.org_code, t).map(|_| ()),
            "close" => yibu::close(conn, &c, &form.school, t).map(|_| ()),
            _ => Err(AppError::field("action", ErrorCode::EntitlementAction, "未知操作")),
        })
        .await;
    match result {
        Ok(()) => Ok(see_other(&format!("/yibu?term={t}"))),
        Err(e) if matches!(e.kind, ErrorKind::Invalid | ErrorKind::Conflict) => {
            html_page(StatusCode::UNPROCESSABLE_ENTITY, yibu_page(&st, user, t, FormErrors::from_error(&e)).await?)
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "ledger/yibu_school.html")]
pub struct YibuSchoolPage {
    layout: Layout,
    period: yibu::Period,
    lines: Vec<yibu::LineView>,
}

pub async fn yibu_detail(
    st: web::Data<AppState>,
    PageUser(caller): PageUser,
    path: web::Path<(String, String)>,
) -> PageResult<YibuSchoolPage> {
    let (code, term) = path.into_inner();
    let t = parse_term(&term)?;
    let c = caller.clone();
    let (period, lines) = st.run(move |conn| yibu::get(conn, &c, &code, t)).await?;
    Ok(YibuSchoolPage {
        layout: Layout::new(&caller, &st, format!("{} {} 一补", period.name, period.term)),
        period,
        lines,
    })
}
