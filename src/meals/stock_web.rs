//! The canteen's stock on a page and in the API: balances by food, the month's receipts and
//! uses, a meal day's use entered by the kitchen, a use taken back with its reason.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;

use super::stock::{self, StockView, UseForm, UseLine};
use super::web::own_or;
use crate::auth::Caller;
use crate::auth::extract::{ApiUser, CsrfForm, PageUser};
use crate::domain::calendar::Month;
use crate::domain::food::{self, Food};
use crate::domain::role::OrgKind;
use crate::error::{AppError, AppResult, ErrorCode, ErrorKind};
use crate::web::api_doc::{Body, Reply};
use crate::web::strict::{ApiJson, ApiQuery};
use crate::web::{AppState, Flash, FormErrors, Layout, PageResult, html_page, see_other};

/// Rows of foods the use form offers.
const FORM_LINES: usize = 6;

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
pub struct StockQuery {
    #[serde(default)]
    school: String,
    #[serde(default, rename = "period", alias = "month")]
    month: String,
    #[serde(default)]
    ok: Option<String>,
}

fn month_of(s: &str, caller: &Caller) -> AppResult<Month> {
    match s.trim() {
        "" => Ok(Month::of(caller.today())),
        m => Month::parse(m).map_err(|e| AppError::field("period", ErrorCode::StockMonth, e)),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "meals/stock.html")]
pub struct StockPage {
    layout: Layout,
    stock: StockView,
    may_record: bool,
    foods: &'static [Food],
    typed: UseForm,
    errors: FormErrors,
    flash: String,
}

impl StockPage {
    fn line(&self, i: &usize) -> UseLine {
        self.typed.lines.get(*i).cloned().unwrap_or_default()
    }

    fn rows(&self) -> std::ops::Range<usize> {
        0..FORM_LINES
    }
}

async fn page(
    st: &AppState,
    caller: Caller,
    school: String,
    month: Month,
    typed: UseForm,
    errors: FormErrors,
    flash: String,
) -> AppResult<StockPage> {
    let c = caller.clone();
    let stock = st.run(move |conn| stock::view(conn, &c, &school, month)).await?;
    Ok(StockPage {
        layout: Layout::new(&caller, st, format!("食堂库存 · {}", stock.school_name)),
        may_record: stock::may_record(&caller, &stock.school_code, &stock.school_name).is_ok(),
        stock,
        foods: food::all(),
        typed,
        errors,
        flash,
    })
}

pub async fn view(
    st: web::Data<AppState>,
    PageUser(caller): PageUser,
    q: web::Query<StockQuery>,
) -> PageResult<HttpResponse> {
    let month = month_of(&q.month, &caller)?;
    // Above a school: its schools side by side.
    if q.school.trim().is_empty() && caller.org_kind != OrgKind::School {
        return Ok(see_other(&format!("/meals/stock/compare?month={month}")));
    }
    let school = own_or(&q.school, &caller);
    let typed = UseForm { day: caller.today().to_string(), ..UseForm::default() };
    let flash = Flash { ok: q.ok.clone(), n: None }.message();
    html_page(StatusCode::OK, page(&st, caller, school, month, typed, FormErrors::none(), flash).await?)
}

#[derive(Template, WebTemplate)]
#[template(path = "meals/stock_compare.html")]
pub struct ComparePage {
    layout: Layout,
    org_code: String,
    org_name: String,
    month: String,
    rows: Vec<super::compare::FoodRow>,
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
pub struct CompareQuery {
    #[serde(default)]
    org: String,
    #[serde(default, rename = "period", alias = "month")]
    month: String,
}

pub async fn compare(
    st: web::Data<AppState>,
    PageUser(caller): PageUser,
    q: web::Query<CompareQuery>,
) -> PageResult<ComparePage> {
    let month = month_of(&q.month, &caller)?;
    let org = own_or(&q.org, &caller);
    let c = caller.clone();
    let (o, rows) = st.run(move |conn| super::compare::month(conn, &c, &org, month)).await?;
    Ok(ComparePage {
        layout: Layout::new(&caller, &st, format!("食品采购与用量比较 · {}", o.name)),
        org_code: o.code,
        org_name: o.name,
        month: month.to_string(),
        rows,
    })
}

/// `GET /api/v1/stock-comparison?org=&month=`.
pub async fn api_compare(
    st: web::Data<AppState>,
    ApiUser(caller): ApiUser,
    q: ApiQuery<CompareQuery>,
) -> AppResult<Reply<impl Body>> {
    let month = month_of(&q.month, &caller)?;
    let org = own_or(&q.org, &caller);
    let (o, rows) = st.run(move |conn| super::compare::month(conn, &caller, &org, month)).await?;
    Ok(Reply(Comparison { org: o.code, month: month.to_string(), foods: rows }))
}

/// A month's food bought against food used, food by food.
#[derive(serde::Serialize, schemars::JsonSchema)]
#[schemars(rename = "StockComparison")]
pub struct Comparison {
    org: String,
    month: String,
    foods: Vec<super::compare::FoodRow>,
}

/// The form's fields as a use: `day`, `note`, `food_N`, `qty_N`.
fn use_of(fields: &BTreeMap<String, String>) -> UseForm {
    let get = |k: &str| fields.get(k).cloned().unwrap_or_default();
    UseForm {
        day: get("day"),
        note: get("note"),
        lines: (1..=FORM_LINES)
            .map(|n| UseLine { food: get(&format!("food_{n}")), qty: get(&format!("qty_{n}")) })
            .collect(),
    }
}

pub async fn record_use(st: web::Data<AppState>, f: CsrfForm<BTreeMap<String, String>>) -> PageResult<HttpResponse> {
    let CsrfForm { user, form } = f;
    let typed = use_of(&form);
    let (c, body) = (user.clone(), typed.clone());
    match st.run(move |conn| stock::use_food(conn, &c, &c.org_code, &body)).await {
        Ok(v) => Ok(see_other(&format!("/meals/stock?month={}&ok=saved", v.month))),
        Err(e) if matches!(e.kind, ErrorKind::Invalid | ErrorKind::Conflict) => {
            let month = typed.day.parse().map(Month::of).unwrap_or_else(|_| Month::of(user.today()));
            let school = user.org_code.clone();
            html_page(
                StatusCode::UNPROCESSABLE_ENTITY,
                page(&st, user, school, month, typed, FormErrors::from_error(&e), String::new()).await?,
            )
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
pub struct CorrectForm {
    #[serde(default)]
    reason: String,
}

pub async fn correct(
    st: web::Data<AppState>,
    path: web::Path<i64>,
    f: CsrfForm<CorrectForm>,
) -> PageResult<HttpResponse> {
    let CsrfForm { user, form } = f;
    let id = path.into_inner();
    let c = user.clone();
    match st.run(move |conn| stock::correct(conn, &c, id, &form.reason)).await {
        Ok(v) => Ok(see_other(&format!("/meals/stock?month={}&ok=saved", v.month))),
        Err(e) if matches!(e.kind, ErrorKind::Invalid | ErrorKind::Conflict) => {
            let school = user.org_code.clone();
            let typed = UseForm { day: user.today().to_string(), ..UseForm::default() };
            let month = Month::of(user.today());
            html_page(
                StatusCode::UNPROCESSABLE_ENTITY,
                page(&st, user, school, month, typed, FormErrors::from_error(&e), String::new()).await?,
            )
        }
        Err(e) => Err(e.into()),
    }
}

// ---------------------------------------------------------------- API

/// `GET /api/v1/schools/{code}/stock?month=`.
pub async fn api_view(
    st: web::Data<AppState>,
    ApiUser(caller): ApiUser,
    path: web::Path<String>,
    q: ApiQuery<StockQuery>,
) -> AppResult<Reply<impl Body>> {
    let (code, month) = (path.into_inner(), month_of(&q.month, &caller)?);
    Ok(Reply(st.run(move |conn| stock::view(conn, &caller, &code, month)).await?))
}

/// `POST /api/v1/schools/{code}/stock/use` with `{day, lines:[{food, qty}], note}`.
pub async fn api_use(
    st: web::Data<AppState>,
    ApiUser(caller): ApiUser,
    path: web::Path<String>,
    body: ApiJson<UseForm>,
) -> AppResult<Reply<impl Body>> {
    let (code, body) = (path.into_inner(), body.into_inner());
    Ok(Reply(st.run(move |conn| stock::use_food(conn, &caller, &code, &body)).await?))
}

/// `POST /api/v1/stock-entries/{id}/correct` with `{reason}`.
pub async fn api_correct(
    st: web::Data<AppState>,
    ApiUser(caller): ApiUser,
    path: web::Path<i64>,
    body: ApiJson<CorrectForm>,
) -> AppResult<Reply<impl Body>> {
    let (id, reason) = (path.into_inner(), body.into_inner().reason);
    Ok(Reply(st.run(move |conn| stock::correct(conn, &caller, id, &reason)).await?))
}
