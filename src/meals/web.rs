//! Pages and API of the daily meal records: a school's day (one number per class, prefilled
//! with the eligible children, the absent nameable), the county's board of who has reported,
//! its deadline, and its approvals of corrections in closed months.

use std::collections::{BTreeMap, BTreeSet};

use actix_multipart::Multipart;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use chrono::NaiveDate;
use serde::Deserialize;

use super::corrections::{self, Correction};
use super::daily::{self, BoardRow, ClassCount, DayForm, DaySheet, Recorded};
use crate::auth::Caller;
use crate::auth::extract::{ApiUser, CsrfForm, PageUser};
use crate::error::{AppError, AppResult, ErrorCode, ErrorKind};
use crate::web::api_doc::{ApiOutput, Body, OperationDoc, Reply, Schemas};
use crate::web::strict::{ApiJson, ApiQuery};
use crate::web::upload;
use crate::web::{AppState, Flash, FormErrors, Layout, PageResult, html_page, see_other};

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
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

/// A day as a query or form gives it; empty is the caller's today (Beijing time).
pub(super) fn day_of(s: &str, caller: &Caller) -> AppResult<NaiveDate> {
    match s.trim() {
        "" => Ok(caller.today()),
        d => d
            .parse()
            .map_err(|_| AppError::field("day", ErrorCode::MealsDay, format!("日期“{d}”应为如2026-10-12的日期"))),
    }
}

/// The school (or org) asked for, else the caller's own.
pub(super) fn own_or(code: &str, caller: &Caller) -> String {
    if code.trim().is_empty() { caller.org_code.clone() } else { code.trim().to_owned() }
}

#[derive(Template, WebTemplate)]
#[template(path = "meals/day.html")]
pub struct DayPage {
    layout: Layout,
    sheet: DaySheet,
    may_record: bool,
    typed: Typed,
    errors: FormErrors,
    flash: String,
}

impl DayPage {
    /// The value a class's box shows: what was typed, else what was recorded, else the eligible.
    fn value(&self, c: &daily::ClassDay) -> String {
        self.typed.counts.get(&c.class_no).cloned().unwrap_or_else(|| c.ate.unwrap_or(c.eligible).to_string())
    }

    /// Whether a child's absent box is ticked: as typed on a refused submission, else as recorded.
    fn absent(&self, c: &daily::ClassDay, child: &daily::Child) -> bool {
        if self.typed.submitted {
            self.typed.absent.contains(&(c.class_no.clone(), child.id))
        } else {
            c.absent.contains(&child.id)
        }
    }

    /// What was refused about a class's count or its absent children.
    fn error_of(&self, c: &daily::ClassDay) -> String {
        [self.errors.get(&format!("ate_{}", c.class_no)), self.errors.get(&format!("absent_{}", c.class_no))]
            .into_iter()
            .filter(|m| !m.is_empty())
            .collect::<Vec<_>>()
            .join("；")
    }
}

/// What the page shows back when a submission was refused: as typed.
#[derive(Default)]
struct Typed {
    submitted: bool,
    counts: BTreeMap<String, String>,
    absent: BTreeSet<(String, i64)>,
    reason: String,
}

async fn day_page(
    st: &AppState,
    caller: Caller,
    school: String,
    day: NaiveDate,
    typed: Typed,
    errors: FormErrors,
    flash: String,
) -> AppResult<DayPage> {
    let c = caller.clone();
    let sheet = st.run(move |conn| daily::sheet(conn, &c, &school, day)).await?;
    Ok(DayPage {
        layout: Layout::new(&caller, st, format!("就餐日报 {day}")),
        may_record: daily::may_record(&caller, &sheet).is_ok(),
        sheet,
        typed,
        errors,
        flash,
    })
}

pub async fn day(st: web::Data<AppState>, PageUser(caller): PageUser, q: web::Query<DayQuery>) -> PageResult<DayPage> {
    let day = day_of(&q.day, &caller)?;
    let school = own_or(&q.school, &caller);
    let flash = Flash { ok: q.ok.clone(), n: None }.message();
    Ok(day_page(&st, caller, school, day, Typed::default(), FormErrors::none(), flash).await?)
}

/// The page's form: `school`, `day`, `ate_<班级号>` per class, `absent_<班级号>_<child id>` per
/// child ticked absent, `reason`.
pub async fn record(st: web::Data<AppState>, f: CsrfForm<BTreeMap<String, String>>) -> PageResult<HttpResponse> {
    let CsrfForm { user, form } = f;
    let day = day_of(form.get("day").map_or("", String::as_str), &user)?;
    let school = own_or(form.get("school").map_or("", String::as_str), &user);
    let counts: BTreeMap<String, String> =
        form.iter().filter_map(|(k, v)| k.strip_prefix("ate_").map(|c| (c.to_owned(), v.clone()))).collect();
    let absent: BTreeSet<(String, i64)> = form
        .keys()
        .filter_map(|k| k.strip_prefix("absent_")?.rsplit_once('_'))
        .filter_map(|(class, id)| Some((class.to_owned(), id.parse().ok()?)))
        .collect();
    let reason = form.get("reason").cloned().unwrap_or_default();
    let body = DayForm {
        classes: counts
            .iter()
            .map(|(class, ate)| ClassCount {
                class: class.clone(),
                ate: serde_json::Value::String(ate.clone()),
                absent: absent
                    .iter()
                    .filter(|(c, _)| c == class)
                    .map(|(_, id)| serde_json::Value::String(id.to_string()))
                    .collect(),
            })
            .collect(),
        reason: reason.clone(),
    };
    let (c, s) = (user.clone(), school.clone());
    match st.run(move |conn| daily::record(conn, &c, &s, day, &body)).await {
        Ok(Recorded::Saved { .. }) => Ok(see_other(&format!("/meals?school={school}&day={day}&ok=saved"))),
        Ok(Recorded::Pending { .. }) => Ok(see_other(&format!("/meals?school={school}&day={day}&ok=correction"))),
        Err(e) if matches!(e.kind, ErrorKind::Invalid | ErrorKind::Conflict) => html_page(
            StatusCode::UNPROCESSABLE_ENTITY,
            day_page(
                &st,
                user,
                school,
                day,
                Typed { submitted: true, counts, absent, reason },
                FormErrors::from_error(&e),
                String::new(),
            )
            .await?,
        ),
        Err(e) => Err(e.into()),
    }
}

/// The page's workbook upload (`file`, back to `day`): the same rows the CLI imports.
pub async fn import_page(
    st: web::Data<AppState>,
    PageUser(caller): PageUser,
    req: actix_web::HttpRequest,
    form: Multipart,
) -> PageResult<HttpResponse> {
    let form = upload::read_page_form(&st, &caller, &req, form, super::import::MAX_UPLOAD).await?;
    let day = day_of(form.text("day"), &caller)?;
    let school = caller.org_code.clone();
    let Some(file) = form.file("file") else {
        let e = AppError::field("file", ErrorCode::MealsNoFile, "请选择要导入的就餐日报文件");
        return html_page(
            StatusCode::UNPROCESSABLE_ENTITY,
            day_page(&st, caller, school, day, Typed::default(), FormErrors::from_error(&e), String::new()).await?,
        );
    };
    let (bytes, name, c) = (file.bytes.clone(), file.filename.clone(), caller.clone());
    match st.run(move |conn| super::import::meal_days(conn, &c, &bytes, &name)).await {
        Ok(done) if done.pending > 0 => Ok(see_other(&format!("/meals?day={day}&ok=correction"))),
        Ok(_) => Ok(see_other(&format!("/meals?day={day}&ok=saved"))),
        Err(e) if matches!(e.kind, ErrorKind::Invalid | ErrorKind::Conflict) => html_page(
            StatusCode::UNPROCESSABLE_ENTITY,
            day_page(&st, caller, school, day, Typed::default(), FormErrors::from_error(&e), String::new()).await?,
        ),
        Err(e) => Err(e.into()),
    }
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
pub struct FileQuery {
    #[serde(default)]
    filename: String,
}

/// The workbook as the request body; `?filename=` tells its format.
pub async fn import_api(
    st: web::Data<AppState>,
    ApiUser(caller): ApiUser,
    q: ApiQuery<FileQuery>,
    upload::ApiBody(body): upload::ApiBody<{ super::import::MAX_UPLOAD }>,
) -> AppResult<Reply<impl Body>> {
    let name = if q.filename.is_empty() { "meal-days.xlsx".to_owned() } else { q.filename.clone() };
    Ok(Reply(st.run(move |conn| super::import::meal_days(conn, &caller, &body, &name)).await?))
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
    deadline: String,
    may_set: bool,
    pending: usize,
    errors: FormErrors,
    flash: String,
}

async fn board_page(
    st: &AppState,
    caller: Caller,
    org: String,
    day: NaiveDate,
    errors: FormErrors,
    flash: String,
) -> AppResult<BoardPage> {
    let c = caller.clone();
    let (org, rows, deadline, pending) = st
        .run(move |conn| {
            let (org, rows) = daily::board(conn, &c, &org, day)?;
            let deadline = super::settings::deadline_for(conn, &org.path)?.format("%H:%M").to_string();
            let pending = corrections::list(conn, &c, &org.code)?
                .iter()
                .filter(|x| x.status == corrections::Status::Pending)
                .count();
            Ok((org, rows, deadline, pending))
        })
        .await?;
    Ok(BoardPage {
        layout: Layout::new(&caller, st, format!("就餐日报进度 {day}")),
        reported: rows.iter().filter(|r| r.classes > 0 && r.reported_classes == r.classes).count(),
        // The deadline set is always the caller's own org's: offered on its own board only.
        may_set: super::settings::may_set_deadline(&caller).is_ok() && caller.org_code == org.code,
        org: org.code,
        org_name: org.name,
        day,
        rows,
        deadline,
        pending,
        errors,
        flash,
    })
}

pub async fn board(
    st: web::Data<AppState>,
    PageUser(caller): PageUser,
    q: web::Query<DayQuery>,
) -> PageResult<BoardPage> {
    let day = day_of(&q.day, &caller)?;
    let org = own_or(&q.org, &caller);
    let flash = Flash { ok: q.ok.clone(), n: None }.message();
    Ok(board_page(&st, caller, org, day, FormErrors::none(), flash).await?)
}

#[derive(Debug, Deserialize)]
pub struct DeadlineForm {
    #[serde(default)]
    deadline: String,
}

/// The county sets its schools' daily deadline.
pub async fn set_deadline(st: web::Data<AppState>, f: CsrfForm<DeadlineForm>) -> PageResult<HttpResponse> {
    let CsrfForm { user, form } = f;
    let c = user.clone();
    match st.run(move |conn| super::settings::set_deadline(conn, &c, &form.deadline)).await {
        Ok(_) => Ok(see_other("/meals/board?ok=saved")),
        Err(e) if e.kind == ErrorKind::Invalid => {
            let org = user.org_code.clone();
            html_page(
                StatusCode::UNPROCESSABLE_ENTITY,
                board_page(&st, user.clone(), org, user.today(), FormErrors::from_error(&e), String::new()).await?,
            )
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "meals/corrections.html")]
pub struct CorrectionsPage {
    layout: Layout,
    rows: Vec<Correction>,
    errors: FormErrors,
    flash: String,
}

async fn corrections_page(
    st: &AppState,
    caller: Caller,
    errors: FormErrors,
    flash: String,
) -> AppResult<CorrectionsPage> {
    let c = caller.clone();
    let rows = st.run(move |conn| corrections::list(conn, &c, &c.org_code)).await?;
    Ok(CorrectionsPage { layout: Layout::new(&caller, st, "就餐日报更正审批".to_owned()), rows, errors, flash })
}

pub async fn corrections(
    st: web::Data<AppState>,
    PageUser(caller): PageUser,
    q: web::Query<DayQuery>,
) -> PageResult<CorrectionsPage> {
    let flash = Flash { ok: q.ok.clone(), n: None }.message();
    Ok(corrections_page(&st, caller, FormErrors::none(), flash).await?)
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct DecisionForm {
    /// `approve` or `refuse`.
    #[serde(default)]
    decision: String,
    #[serde(default)]
    note: String,
}

fn approves(decision: &str) -> AppResult<bool> {
    match decision.trim() {
        "approve" => Ok(true),
        "refuse" => Ok(false),
        other => Err(AppError::field(
            "decision",
            ErrorCode::MealsDecision,
            format!("审批意见“{other}”应为 approve 或 refuse"),
        )),
    }
}

pub async fn decide(
    st: web::Data<AppState>,
    path: web::Path<i64>,
    f: CsrfForm<DecisionForm>,
) -> PageResult<HttpResponse> {
    let CsrfForm { user, form } = f;
    let id = path.into_inner();
    let c = user.clone();
    let done = match approves(&form.decision) {
        Ok(approve) => st.run(move |conn| corrections::decide(conn, &c, id, approve, &form.note)).await,
        Err(e) => Err(e),
    };
    match done {
        Ok(_) => Ok(see_other("/meals/corrections?ok=decided")),
        Err(e) if matches!(e.kind, ErrorKind::Invalid | ErrorKind::Conflict) => html_page(
            StatusCode::UNPROCESSABLE_ENTITY,
            corrections_page(&st, user, FormErrors::from_error(&e), String::new()).await?,
        ),
        Err(e) => Err(e.into()),
    }
}

pub async fn day_api(
    st: web::Data<AppState>,
    ApiUser(caller): ApiUser,
    path: web::Path<(String, String)>,
) -> AppResult<Reply<impl Body>> {
    let (school, day) = path.into_inner();
    let day = day_of(&day, &caller)?;
    Ok(Reply(st.run(move |conn| daily::sheet(conn, &caller, &school, day)).await?))
}

/// 200 with the day's sheet when saved; 202 with the correction's id (and the sheet as it still
/// is) when the month is closed and the county must approve.
pub async fn record_api(
    st: web::Data<AppState>,
    ApiUser(caller): ApiUser,
    path: web::Path<(String, String)>,
    body: ApiJson<DayForm>,
) -> AppResult<Recorded> {
    let (school, day) = path.into_inner();
    let day = day_of(&day, &caller)?;
    st.run(move |conn| daily::record(conn, &caller, &school, day, &body)).await
}

pub async fn board_api(
    st: web::Data<AppState>,
    ApiUser(caller): ApiUser,
    q: ApiQuery<DayQuery>,
) -> AppResult<Reply<impl Body>> {
    let day = day_of(&q.day, &caller)?;
    let org = own_or(&q.org, &caller);
    let (org, rows) = st.run(move |conn| daily::board(conn, &caller, &org, day)).await?;
    Ok(Reply(Board { org: org.code, day, schools: rows }))
}

/// A day's meal records across the schools of an org.
#[derive(serde::Serialize, schemars::JsonSchema)]
pub struct Board {
    org: String,
    day: chrono::NaiveDate,
    schools: Vec<daily::BoardRow>,
}

/// The time of day after which a day's record needs the county.
#[derive(serde::Deserialize, serde::Serialize, schemars::JsonSchema)]
pub struct Deadline {
    /// HH:MM, Beijing time.
    deadline: String,
}

pub async fn deadline_api(
    st: web::Data<AppState>,
    ApiUser(caller): ApiUser,
    body: ApiJson<Deadline>,
) -> AppResult<Reply<impl Body>> {
    let typed = body.into_inner().deadline;
    let t = st.run(move |conn| super::settings::set_deadline(conn, &caller, &typed)).await?;
    Ok(Reply(Deadline { deadline: t.format("%H:%M").to_string() }))
}

pub async fn corrections_api(
    st: web::Data<AppState>,
    ApiUser(caller): ApiUser,
    q: ApiQuery<DayQuery>,
) -> AppResult<Reply<impl Body>> {
    let org = own_or(&q.org, &caller);
    Ok(Reply(st.run(move |conn| corrections::list(conn, &caller, &org)).await?))
}

pub async fn decide_api(
    st: web::Data<AppState>,
    ApiUser(caller): ApiUser,
    path: web::Path<i64>,
    body: ApiJson<DecisionForm>,
) -> AppResult<Reply<impl Body>> {
    let id = path.into_inner();
    let approve = approves(&body.decision)?;
    Ok(Reply(st.run(move |conn| corrections::decide(conn, &caller, id, approve, &body.note)).await?))
}

/// 200 with the day's sheet when saved; 202 with the correction's number (and the sheet as it
/// still is) when the month is closed and the county must approve.
impl actix_web::Responder for Recorded {
    type Body = actix_web::body::BoxBody;
    fn respond_to(self, _: &actix_web::HttpRequest) -> actix_web::HttpResponse {
        match self {
            Recorded::Saved { sheet } => actix_web::HttpResponse::Ok().json(sheet),
            pending @ Recorded::Pending { .. } => actix_web::HttpResponse::Accepted().json(pending),
        }
    }
}

impl ApiOutput for Recorded {
    fn describe(schemas: &mut Schemas, doc: &mut OperationDoc) {
        doc.respond_json(200, "已保存：当日记录", schemas.response::<daily::DaySheet>());
        doc.respond_json(202, "本月已结账：更正待县级审批（含更正编号与当前记录）", schemas.response::<Recorded>());
    }
}
