//! The canteen's week on a page and in the API: the menu (the school posts it) and the
//! leaders' 陪餐 records.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;

use super::canteen::{self, AccompanyForm, DAYS, Menu, Week};
use super::web::{day_of, own_or};
use crate::auth::Caller;
use crate::auth::extract::{ApiUser, CsrfForm, PageUser};
use crate::error::{AppResult, ErrorKind};
use crate::web::api_doc::{Body, Created, Reply};
use crate::web::strict::ApiJson;
use crate::web::{AppState, Flash, FormErrors, Layout, PageResult, html_page, see_other};

#[derive(Debug, Default, Deserialize)]
pub struct WeekQuery {
    #[serde(default)]
    school: String,
    #[serde(default)]
    day: String,
    #[serde(default)]
    ok: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "meals/canteen.html")]
pub struct WeekPage {
    layout: Layout,
    week: Week,
    may_record: bool,
    /// The menu as typed on a refused submission, else as posted.
    menu: Menu,
    accompany: AccompanyForm,
    errors: FormErrors,
    flash: String,
}

impl WeekPage {
    fn days(&self) -> [(&'static str, &'static str); 5] {
        DAYS
    }
}

async fn page(
    st: &AppState,
    caller: Caller,
    school: String,
    day: chrono::NaiveDate,
    typed: Option<(Menu, AccompanyForm)>,
    errors: FormErrors,
    flash: String,
) -> AppResult<WeekPage> {
    let c = caller.clone();
    let week = st.run(move |conn| canteen::week(conn, &c, &school, day)).await?;
    let (menu, accompany) = typed.unwrap_or_else(|| {
        (week.menu.clone().unwrap_or_default(), AccompanyForm { day: caller.today().to_string(), ..Default::default() })
    });
    Ok(WeekPage {
        layout: Layout::new(&caller, st, format!("食谱与陪餐 {}", week.week_start)),
        may_record: super::canteen::may_record(&caller, &week.school, &week.school_name).is_ok(),
        week,
        menu,
        accompany,
        errors,
        flash,
    })
}

pub async fn week(
    st: web::Data<AppState>,
    PageUser(caller): PageUser,
    q: web::Query<WeekQuery>,
) -> PageResult<WeekPage> {
    let (day, school) = (day_of(&q.day, &caller)?, own_or(&q.school, &caller));
    let flash = Flash { ok: q.ok.clone(), n: None }.message();
    Ok(page(&st, caller, school, day, None, FormErrors::none(), flash).await?)
}

#[derive(Debug, Default, Deserialize)]
pub struct MenuForm {
    #[serde(default)]
    day: String,
    #[serde(flatten)]
    menu: Menu,
}

pub async fn set_menu(st: web::Data<AppState>, f: CsrfForm<MenuForm>) -> PageResult<HttpResponse> {
    let CsrfForm { user, form } = f;
    let day = day_of(&form.day, &user)?;
    let (c, school, menu) = (user.clone(), user.org_code.clone(), form.menu.clone());
    match st.run(move |conn| canteen::set_menu(conn, &c, &c.org_code, day, &menu)).await {
        Ok(_) => Ok(see_other(&format!("/meals/canteen?day={day}&ok=saved"))),
        Err(e) if matches!(e.kind, ErrorKind::Invalid) => html_page(
            StatusCode::UNPROCESSABLE_ENTITY,
            page(
                &st,
                user,
                school,
                day,
                Some((form.menu, AccompanyForm::default())),
                FormErrors::from_error(&e),
                String::new(),
            )
            .await?,
        ),
        Err(e) => Err(e.into()),
    }
}

pub async fn accompany(st: web::Data<AppState>, f: CsrfForm<AccompanyForm>) -> PageResult<HttpResponse> {
    let CsrfForm { user, form } = f;
    let (c, school, body) = (user.clone(), user.org_code.clone(), form.clone());
    match st.run(move |conn| canteen::accompany(conn, &c, &c.org_code, &body)).await {
        Ok(w) => Ok(see_other(&format!("/meals/canteen?day={}&ok=saved", w.week_start))),
        Err(e) if matches!(e.kind, ErrorKind::Invalid) => {
            let day = day_of(&form.day, &user).unwrap_or_else(|_| user.today());
            let c = user.clone();
            let posted = st.run(move |conn| canteen::week(conn, &c, &c.org_code, day)).await?.menu.unwrap_or_default();
            html_page(
                StatusCode::UNPROCESSABLE_ENTITY,
                page(&st, user, school, day, Some((posted, form)), FormErrors::from_error(&e), String::new()).await?,
            )
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn week_api(
    st: web::Data<AppState>,
    ApiUser(caller): ApiUser,
    path: web::Path<(String, String)>,
) -> AppResult<Reply<impl Body>> {
    let (school, day) = path.into_inner();
    let day = day_of(&day, &caller)?;
    Ok(Reply(st.run(move |conn| canteen::week(conn, &caller, &school, day)).await?))
}

pub async fn menu_api(
    st: web::Data<AppState>,
    ApiUser(caller): ApiUser,
    path: web::Path<(String, String)>,
    body: ApiJson<Menu>,
) -> AppResult<Reply<impl Body>> {
    let (school, day) = path.into_inner();
    let day = day_of(&day, &caller)?;
    Ok(Reply(st.run(move |conn| canteen::set_menu(conn, &caller, &school, day, &body)).await?))
}

pub async fn accompany_api(
    st: web::Data<AppState>,
    ApiUser(caller): ApiUser,
    path: web::Path<String>,
    body: ApiJson<AccompanyForm>,
) -> AppResult<Created<impl Body>> {
    let school = path.into_inner();
    Ok(Created::new(st.run(move |conn| canteen::accompany(conn, &caller, &school, &body)).await?))
}
