//! Pages for entitlements: a month's schools with their totals, computing and closing, and one
//! school's month down to each child and day.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;

use super::api::{parse_month, parse_rule};
use super::entitlement::{self, LineView, Period};
use crate::auth::Caller;
use crate::auth::extract::{CsrfForm, PageUser};
use crate::domain::calendar::Month;
use crate::domain::money::Fen;
use crate::domain::role::Permission;
use crate::error::{AppError, ErrorKind};
use crate::web::{AppState, FormErrors, Layout, PageResult, html_page, see_other};

fn last_month() -> Month {
    let today = crate::registry::service::today();
    let this = Month::of(today);
    Month::from_key(if this.key() % 100 == 1 { this.key() - 89 } else { this.key() - 1 }).unwrap_or(this)
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

#[derive(Deserialize)]
pub struct MonthQuery {
    #[serde(default)]
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
        can_compute: caller.may(Permission::ComputeEntitlements) && caller.org_kind.is_county_or_above(),
        errors,
    })
}

pub async fn list(
    st: web::Data<AppState>,
    PageUser(caller): PageUser,
    q: web::Query<MonthQuery>,
) -> PageResult<ListPage> {
    let m = if q.month.is_empty() { last_month() } else { parse_month(&q.month)? };
    list_page(&st, caller, m, FormErrors::none()).await
}

#[derive(Deserialize)]
pub struct ActionForm {
    #[serde(default)]
    month: String,
    /// compute (every programme school in scope), close (one school) or rule.
    #[serde(default)]
    action: String,
    #[serde(default)]
    school: String,
    #[serde(default)]
    rule: String,
}

pub async fn act(st: web::Data<AppState>, f: CsrfForm<ActionForm>) -> PageResult<HttpResponse> {
    let CsrfForm { user, form } = f;
    let m = parse_month(&form.month)?;
    let c = user.clone();
    let result = st
        .run(move |conn| match form.action.as_str() {
            "compute" => entitlement::compute_all(conn, &c, &c.org_code, m).map(|_| ()),
            "close" => entitlement::close(conn, &c, &form.school, m).map(|_| ()),
            "rule" => entitlement::set_rule(conn, &c, parse_rule(&form.rule)?),
            _ => Err(AppError::field("action", "entitlement.action", "未知操作")),
        })
        .await;
    match result {
        Ok(()) => Ok(see_other(&format!("/entitlements?month={m}"))),
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
