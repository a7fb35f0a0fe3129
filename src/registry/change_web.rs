//! Pages for the key-information lock and its change requests.

use std::collections::BTreeMap;

use actix_multipart::Multipart;
use actix_web::{HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use chrono::NaiveDate;
use serde::Deserialize;

use super::changes::{self, LockView, MAX_EVIDENCE, RequestView, Upload};
use super::service;
use crate::auth::extract::{CsrfForm, PageUser};
use crate::domain::key_lock::{self, KeyLock, RequestStatus};
use crate::domain::role::Permission;
use crate::domain::student::{self, Kind};
use crate::error::{AppError, ErrorCode, ErrorKind};
use crate::inspection::findings::{self, Link};
use crate::inspection::web::FromFinding;
use crate::web::{AppState, Flash, FormErrors, Layout, PageResult, download, html_page, see_other, upload};
use actix_web::http::StatusCode;

// ---------------------------------------------------------------- lock settings

#[derive(Template, WebTemplate)]
#[template(path = "registry/key_locks.html")]
pub struct LocksPage {
    layout: Layout,
    locks: Vec<LockView>,
    can_set: bool,
    year: i32,
    errors: FormErrors,
    form: LockForm,
    flash: String,
}

#[derive(Debug, Default, Clone, Deserialize)]
pub struct LockForm {
    #[serde(default)]
    school_year: String,
    #[serde(default)]
    lock_date: String,
    #[serde(default)]
    extra_fields: String,
}

async fn locks_page(
    st: &AppState,
    caller: crate::auth::Caller,
    errors: FormErrors,
    form: LockForm,
    flash: String,
) -> PageResult<LocksPage> {
    let c = caller.clone();
    let locks = st.run(move |conn| changes::list_locks(conn, &c)).await?;
    Ok(LocksPage {
        layout: Layout::new(&caller, st, "关键信息锁定设置"),
        locks,
        can_set: caller.may_at_county(Permission::SetKeyLock).is_ok(),
        year: key_lock::school_year_of(caller.today()),
        errors,
        form,
        flash,
    })
}

pub async fn locks(
    st: web::Data<AppState>,
    PageUser(caller): PageUser,
    flash: web::Query<Flash>,
) -> PageResult<LocksPage> {
    locks_page(&st, caller, FormErrors::none(), LockForm::default(), flash.message()).await
}

pub async fn set_lock(st: web::Data<AppState>, f: CsrfForm<LockForm>) -> PageResult<HttpResponse> {
    let CsrfForm { user, form } = f;
    let parsed = (form.school_year.trim().parse::<i32>(), NaiveDate::parse_from_str(form.lock_date.trim(), "%Y-%m-%d"));
    let (year, date) = match parsed {
        (Ok(y), Ok(d)) => (y, d),
        (Err(_), _) => {
            let e = AppError::field("school_year", ErrorCode::KeyLockYear, "学年应为四位年份，如2026（2026—2027学年）");
            return render_lock_error(&st, user, e, form).await;
        }
        (_, Err(_)) => {
            let e = AppError::field("lock_date", ErrorCode::KeyLockDate, "锁定日期应为YYYY-MM-DD格式");
            return render_lock_error(&st, user, e, form).await;
        }
    };
    let (c, extra) = (user.clone(), form.extra_fields.clone());
    match st.run(move |conn| changes::set_lock(conn, &c, year, date, &extra)).await {
        Ok(()) => Ok(see_other("/key-locks?ok=saved")),
        Err(e) if e.kind == ErrorKind::Invalid => render_lock_error(&st, user, e, form).await,
        Err(e) => Err(e.into()),
    }
}

async fn render_lock_error(
    st: &AppState,
    user: crate::auth::Caller,
    e: AppError,
    form: LockForm,
) -> PageResult<HttpResponse> {
    let page = locks_page(st, user, FormErrors::from_error(&e), form, String::new()).await?;
    html_page(StatusCode::UNPROCESSABLE_ENTITY, page)
}

// ---------------------------------------------------------------- the request form

pub struct KeyField {
    pub key: &'static str,
    pub header: &'static str,
    pub current: String,
    pub current_label: String,
    pub options: Vec<(String, String)>,
    pub value: String,
    pub error: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "registry/change_form.html")]
pub struct RequestForm {
    layout: Layout,
    student_id: i64,
    student_name: String,
    lock: KeyLock,
    fields: Vec<KeyField>,
    reason: String,
    /// The inspection finding this request is opened from (linked back on submit).
    finding: Option<i64>,
    errors: FormErrors,
}

fn key_fields(
    lock: &KeyLock,
    view: &super::model::StudentView,
    asked: &BTreeMap<String, String>,
    errors: &FormErrors,
) -> Vec<KeyField> {
    lock.fields
        .iter()
        .filter_map(|k| student::field(k))
        .map(|f| KeyField {
            key: f.key,
            header: f.header,
            current: view.record.get(f.key).to_owned(),
            current_label: view.record.display(f.key),
            options: match f.kind {
                Kind::Code(t) => service::choices(t),
                _ => Vec::new(),
            },
            value: asked.get(f.key).cloned().unwrap_or_else(|| view.record.get(f.key).to_owned()),
            error: errors.get(f.key).to_owned(),
        })
        .collect()
}

async fn request_form(
    st: &AppState,
    caller: crate::auth::Caller,
    id: i64,
    asked: BTreeMap<String, String>,
    reason: String,
    finding: Option<i64>,
    errors: FormErrors,
) -> PageResult<RequestForm> {
    let c = caller.clone();
    let (view, lock) = st
        .run(move |conn| {
            c.require(conn, Permission::EditStudents, "change_request_form")?;
            let view = service::get(conn, &c, id)?;
            let lock = changes::lock_of_student(conn, &c, id)?.ok_or_else(|| {
                AppError::conflict(ErrorCode::ChangeNotLocked, "该学生的关键信息尚未锁定，可直接在“修改信息”中更正")
            })?;
            Ok((view, lock))
        })
        .await?;
    Ok(RequestForm {
        layout: Layout::new(&caller, st, "关键信息变更申请"),
        student_id: id,
        student_name: view.record.name().to_owned(),
        fields: key_fields(&lock, &view, &asked, &errors),
        lock,
        reason,
        finding,
        errors,
    })
}

pub async fn new_request(
    st: web::Data<AppState>,
    PageUser(caller): PageUser,
    path: web::Path<i64>,
    from: web::Query<FromFinding>,
) -> PageResult<RequestForm> {
    request_form(&st, caller, path.into_inner(), BTreeMap::new(), String::new(), from.finding, FormErrors::none()).await
}

/// The multipart form: one input per locked field (only changed values count), reason, evidence.
pub async fn submit_request(
    st: web::Data<AppState>,
    PageUser(caller): PageUser,
    req: actix_web::HttpRequest,
    path: web::Path<i64>,
    form: Multipart,
) -> PageResult<HttpResponse> {
    let id = path.into_inner();
    let form = upload::read_page_form(&st, &caller, &req, form, MAX_EVIDENCE + 64 * 1024).await?;
    let reason = form.text("reason").to_owned();
    let evidence = form.file("evidence").map(|f| Upload { filename: f.filename.clone(), bytes: f.bytes.clone() });
    // Fields named "new_<key>"; the current values ride along as "old_<key>" so only edits count.
    let asked: BTreeMap<String, String> = form
        .fields
        .iter()
        .filter_map(|(k, v)| k.strip_prefix("new_").map(|key| (key.to_owned(), v.trim().to_owned())))
        .collect();
    let changed: BTreeMap<String, String> = asked
        .iter()
        .filter(|(k, v)| form.fields.get(&format!("old_{k}")).map(|o| o.trim()) != Some(v.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let finding = form.text("finding").parse::<i64>().ok();
    let (c, r) = (caller.clone(), reason.clone());
    let submitted = st.run(move |conn| {
        let submit = |conn: &mut _| changes::submit(conn, &c, id, &changed, &r, evidence.as_ref());
        findings::opened_from(conn, &c, finding, Link::Change, submit, |v| v.id)
    });
    match submitted.await {
        Ok(v) => Ok(see_other(&format!("/change-requests/{}?ok=submitted", v.id))),
        Err(e)
            if matches!(e.kind, ErrorKind::Invalid | ErrorKind::Conflict) && e.code != ErrorCode::ChangeNotLocked =>
        {
            let page = request_form(&st, caller, id, asked, reason, finding, FormErrors::from_error(&e)).await?;
            html_page(StatusCode::UNPROCESSABLE_ENTITY, page)
        }
        Err(e) => Err(e.into()),
    }
}

// ---------------------------------------------------------------- list, detail, decision

#[derive(Template, WebTemplate)]
#[template(path = "registry/change_list.html")]
pub struct ListPage {
    layout: Layout,
    items: Vec<RequestView>,
    status: Option<RequestStatus>,
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
pub struct ListQuery {
    #[serde(default, deserialize_with = "crate::domain::text::blank_or_one_of")]
    status: Option<RequestStatus>,
}

pub async fn list(
    st: web::Data<AppState>,
    PageUser(caller): PageUser,
    q: web::Query<ListQuery>,
) -> PageResult<ListPage> {
    let status = q.into_inner().status;
    let c = caller.clone();
    let items = st.run(move |conn| changes::list(conn, &c, status)).await?;
    Ok(ListPage { layout: Layout::new(&caller, &st, "关键信息变更申请"), items, status })
}

#[derive(Template, WebTemplate)]
#[template(path = "registry/change_detail.html")]
pub struct DetailPage {
    layout: Layout,
    r: RequestView,
    flash: String,
}

pub async fn detail(
    st: web::Data<AppState>,
    PageUser(caller): PageUser,
    path: web::Path<i64>,
    flash: web::Query<Flash>,
) -> PageResult<DetailPage> {
    let id = path.into_inner();
    let c = caller.clone();
    let r = st.run(move |conn| changes::get(conn, &c, id)).await?;
    Ok(DetailPage { layout: Layout::new(&caller, &st, format!("变更申请 #{id}")), r, flash: flash.message() })
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
        "reject" => false,
        _ => return Err(AppError::invalid(ErrorCode::ChangeDecision, "请选择“同意”或“驳回”").into()),
    };
    st.run(move |conn| changes::decide(conn, &user, id, approve, &form.note)).await?;
    Ok(see_other(&format!("/change-requests/{id}?ok=decided")))
}

pub async fn evidence(
    st: web::Data<AppState>,
    PageUser(caller): PageUser,
    path: web::Path<i64>,
) -> PageResult<HttpResponse> {
    let id = path.into_inner();
    let (name, content_type, bytes) = st.run(move |conn| changes::evidence(conn, &caller, id)).await?;
    Ok(download(bytes, &name, &content_type))
}
