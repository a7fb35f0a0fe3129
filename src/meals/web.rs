//! Pages and API of the daily meal records: a school's day (one number per class, prefilled
//! with the eligible children), and the county's board of who has reported.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use chrono::NaiveDate;
use serde::Deserialize;

use super::daily::{self, BoardRow, ClassCount, DayForm, DaySheet};
use crate::auth::Caller;
use crate::auth::extract::{ApiUser, CsrfForm, PageUser};
use crate::domain::role::Permission;
use crate::error::{AppError, AppResult, ErrorKind};
use crate::web::{AppState, Flash, FormErrors, Layout, PageResult, html_page, see_other};

#[derive(Debug, Default, Deserialize)]
pub struct DayQuery {
    #[serde(default)]
    school: String,
    #[serde(default)]
    org: String,
    #[serde(default)]
    day: String,
    #[serde(default)]
    ok: Option<String>,
}

fn day_of(s: &str) -> AppResult<NaiveDate> {
    match s.trim() {
        "" => Ok(crate::clock::today()),
        d => d.parse().map_err(|_| AppError::field("day", "meals.day", format!("日期“{d}”应为如2026-10-12的日期"))),
    }
}

fn own_or(code: &str, caller: &Caller) -> String {
    if code.trim().is_empty() { caller.org_code.clone() } else { code.trim().to_owned() }
}

#[derive(Template, WebTemplate)]
#[template(path = "meals/day.html")]
pub struct DayPage {
    layout: Layout,
    sheet: DaySheet,
    may_record: bool,
    /// What was typed, by class number, when the page comes back refused.
    typed: BTreeMap<String, String>,
    reason: String,
    errors: FormErrors,
    flash: &'static str,
}

impl DayPage {
    /// The value a class's box shows: what was typed, else what was recorded, else the eligible.
    fn value(&self, c: &daily::ClassDay) -> String {
        self.typed.get(&c.class_no).cloned().unwrap_or_else(|| c.ate.unwrap_or(c.eligible).to_string())
    }

    /// What was refused about a class's count.
    fn error_of(&self, c: &daily::ClassDay) -> &str {
        self.errors.get(&format!("ate_{}", c.class_no))
    }
}

/// What the page shows back when a submission was refused: the counts and reason as typed.
#[derive(Default)]
struct Typed {
    counts: BTreeMap<String, String>,
    reason: String,
}

async fn day_page(
    st: &AppState,
    caller: Caller,
    school: String,
    day: NaiveDate,
    typed: Typed,
    errors: FormErrors,
    flash: &'static str,
) -> AppResult<DayPage> {
    let c = caller.clone();
    let sheet = st.run(move |conn| daily::sheet(conn, &c, &school, day)).await?;
    Ok(DayPage {
        layout: Layout::new(&caller, st, format!("就餐日报 {day}")),
        may_record: caller.may(Permission::RecordMeals) && caller.org_code == sheet.school && sheet.meal_day,
        sheet,
        typed: typed.counts,
        reason: typed.reason,
        errors,
        flash,
    })
}

pub async fn day(st: web::Data<AppState>, PageUser(caller): PageUser, q: web::Query<DayQuery>) -> PageResult<DayPage> {
    let day = day_of(&q.day)?;
    let school = own_or(&q.school, &caller);
    let flash = Flash { ok: q.ok.clone() }.message();
    Ok(day_page(&st, caller, school, day, Typed::default(), FormErrors::none(), flash).await?)
}

/// The page's form: `school`, `day`, `ate_<班级号>` per class, `reason`.
pub async fn record(st: web::Data<AppState>, f: CsrfForm<BTreeMap<String, String>>) -> PageResult<HttpResponse> {
    let CsrfForm { user, form } = f;
    let day = day_of(form.get("day").map_or("", String::as_str))?;
    let school = own_or(form.get("school").map_or("", String::as_str), &user);
    let typed: BTreeMap<String, String> =
        form.iter().filter_map(|(k, v)| k.strip_prefix("ate_").map(|c| (c.to_owned(), v.clone()))).collect();
    let reason = form.get("reason").cloned().unwrap_or_default();
    let body = DayForm {
        classes: typed
            .iter()
            .map(|(class, ate)| ClassCount { class: class.clone(), ate: serde_json::Value::String(ate.clone()) })
            .collect(),
        reason: reason.clone(),
    };
    let (c, s) = (user.clone(), school.clone());
    match st.run(move |conn| daily::record(conn, &c, &s, day, &body)).await {
        Ok(_) => Ok(see_other(&format!("/meals?school={school}&day={day}&ok=saved"))),
        Err(e) if matches!(e.kind, ErrorKind::Invalid | ErrorKind::Conflict) => html_page(
            StatusCode::UNPROCESSABLE_ENTITY,
            day_page(&st, user, school, day, Typed { counts: typed, reason }, FormErrors::from_error(&e), "").await?,
        ),
        Err(e) => Err(e.into()),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "meals/board.html")]
pub struct BoardPage {
    layout: Layout,
    org: String,
    org_name: String,
    day: NaiveDate,
    rows: Vec<BoardRow>,
    reported: usize,
}

pub async fn board(
    st: web::Data<AppState>,
    PageUser(caller): PageUser,
    q: web::Query<DayQuery>,
) -> PageResult<BoardPage> {
    let day = day_of(&q.day)?;
    let (c, org) = (caller.clone(), own_or(&q.org, &caller));
    let (org, rows) = st.run(move |conn| daily::board(conn, &c, &org, day)).await?;
    Ok(BoardPage {
        layout: Layout::new(&caller, &st, format!("就餐日报进度 {day}")),
        reported: rows.iter().filter(|r| r.classes > 0 && r.reported_classes == r.classes).count(),
        org: org.code,
        org_name: org.name,
        day,
        rows,
    })
}

pub async fn day_api(
    st: web::Data<AppState>,
    ApiUser(caller): ApiUser,
    path: web::Path<(String, String)>,
) -> AppResult<HttpResponse> {
    let (school, day) = path.into_inner();
    let day = day_of(&day)?;
    Ok(HttpResponse::Ok().json(st.run(move |conn| daily::sheet(conn, &caller, &school, day)).await?))
}

pub async fn record_api(
    st: web::Data<AppState>,
    ApiUser(caller): ApiUser,
    path: web::Path<(String, String)>,
    body: web::Json<DayForm>,
) -> AppResult<HttpResponse> {
    let (school, day) = path.into_inner();
    let day = day_of(&day)?;
    Ok(HttpResponse::Ok().json(st.run(move |conn| daily::record(conn, &caller, &school, day, &body)).await?))
}

pub async fn board_api(
    st: web::Data<AppState>,
    ApiUser(caller): ApiUser,
    q: web::Query<DayQuery>,
) -> AppResult<HttpResponse> {
    let day = day_of(&q.day)?;
    let org = own_or(&q.org, &caller);
    let (org, rows) = st.run(move |conn| daily::board(conn, &caller, &org, day)).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({"org": org.code, "day": day, "schools": rows})))
}
