//! Template download, export, and import through the page (a background job with a progress bar)
//! and through the API (synchronous, JSON report).

use actix_multipart::Multipart;
use actix_web::{HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;

use super::import::{self, ImportOptions, RowError};
use super::jobs::{JobInput, JobState, Jobs};
use crate::auth::extract::{ApiUser, PageUser};
use crate::domain::role::{OrgKind, Permission};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::web::api_doc::{Body, Checked, FileReply, Reply};
use crate::web::strict::ApiQuery;
use crate::web::{AppState, Layout, PDF, PageResult, XLSX, blocking, download, see_other, upload};

pub async fn template(
    st: web::Data<AppState>,
    PageUser(caller): PageUser,
    path: web::Path<String>,
) -> PageResult<HttpResponse> {
    let code = path.into_inner();
    let c = caller.clone();
    let k = code.clone();
    let bytes = st
        .run(move |conn| {
            crate::org::service::get_school(conn, &c, &k)?;
            super::template::write(&[])
        })
        .await?;
    Ok(download(bytes, &format!("学生基本信息导入模板_{code}.xlsx"), XLSX))
}

#[derive(Deserialize, schemars::JsonSchema)]
pub struct ExportQuery {
    #[serde(default)]
    class_id: Option<i64>,
}

pub async fn export(
    st: web::Data<AppState>,
    PageUser(caller): PageUser,
    path: web::Path<String>,
    q: web::Query<ExportQuery>,
) -> PageResult<HttpResponse> {
    let code = path.into_inner();
    let (c, k, class) = (caller.clone(), code.clone(), q.class_id);
    let bytes = st.run(move |conn| import::export_students(conn, &c, &k, class)).await?;
    Ok(download(bytes, &format!("学生基本信息_{code}.xlsx"), XLSX))
}

#[derive(Template, WebTemplate)]
#[template(path = "exchange/import.html")]
pub struct ImportPage {
    layout: Layout,
    school: String,
    is_school: bool,
    backdate_days: i64,
}

pub async fn import_page(st: web::Data<AppState>, PageUser(caller): PageUser) -> PageResult<ImportPage> {
    let c = caller.clone();
    st.run(move |conn| c.require(conn, Permission::EditStudents, "import_page")).await?;
    Ok(ImportPage {
        layout: Layout::new(&caller, &st, "导入学籍"),
        is_school: caller.org_kind == OrgKind::School,
        school: if caller.org_kind == OrgKind::School { caller.org_code.clone() } else { String::new() },
        backdate_days: crate::config::registry_rules().backdate_days,
    })
}

/// Reads the upload form (csrf, school, mode, file) and starts the import job.
pub async fn import_submit(
    st: web::Data<AppState>,
    jobs: web::Data<Jobs>,
    PageUser(caller): PageUser,
    req: actix_web::HttpRequest,
    form: Multipart,
) -> PageResult<HttpResponse> {
    let mut form = upload::read_page_form(&st, &caller, &req, form, super::guard::MAX_UPLOAD).await?;
    let (school, mode) = (form.text("school").trim().to_owned(), form.text("mode").to_owned());
    let (filename, file) = match form.files.iter().position(|f| f.field == "file") {
        Some(i) => {
            let f = form.files.swap_remove(i);
            (f.filename, f.bytes)
        }
        None => (String::new(), Vec::new()),
    };
    if file.is_empty() {
        return Err(AppError::invalid(ErrorCode::FileEmpty, "请选择要导入的文件").into());
    }
    let opts = ImportOptions {
        dry_run: mode == "dry_run",
        partial: mode == "partial",
        enrolled_on: optional_day(form.text("enrolled_on"))?,
        backdate_reason: form.text("backdate_reason").to_owned(),
    };
    let school = Some(school).filter(|s| !s.is_empty());
    let input = JobInput::Import { school, filename, options: opts };
    let job = super::job_runs::start(st, jobs, caller, input, Some(file)).await?;
    Ok(see_other(&format!("/jobs/{job}")))
}

#[derive(Template, WebTemplate)]
#[template(path = "exchange/job.html")]
pub struct JobPage {
    layout: Layout,
    job: JobState,
    errors: Vec<RowError>,
    more: usize,
}

pub async fn job_page(
    st: web::Data<AppState>,
    jobs: web::Data<Jobs>,
    PageUser(caller): PageUser,
    path: web::Path<String>,
) -> PageResult<JobPage> {
    let (id, owner) = (path.into_inner(), caller.user_id.unwrap_or(0));
    let job = blocking(move || jobs.get(&id, owner)).await?;
    let all = job.report.as_ref().map(|r| r.errors.clone()).unwrap_or_default();
    let shown: Vec<RowError> = all.iter().take(500).cloned().collect();
    Ok(JobPage {
        layout: Layout::new(&caller, &st, job.title.clone()),
        more: all.len() - shown.len(),
        errors: shown,
        job,
    })
}

/// A job's state as JSON, for its owner (anyone else: 404, the same as no such job).
pub async fn api_job(
    jobs: web::Data<Jobs>,
    ApiUser(caller): ApiUser,
    path: web::Path<String>,
) -> AppResult<Reply<impl Body>> {
    let id = path.into_inner();
    let job = blocking(move || jobs.get(&id, caller.user_id.unwrap_or(0))).await?;
    Ok(Reply(job))
}

pub async fn job_errors(
    jobs: web::Data<Jobs>,
    PageUser(caller): PageUser,
    path: web::Path<String>,
) -> PageResult<HttpResponse> {
    let (id, owner) = (path.into_inner(), caller.user_id.unwrap_or(0));
    let bytes = blocking(move || jobs.error_workbook(&id, owner)).await?;
    Ok(download(bytes, "导入错误行.xlsx", XLSX))
}

/// Runs a failed job again from the input kept with it (its owner only).
pub async fn job_restart(
    st: web::Data<AppState>,
    jobs: web::Data<Jobs>,
    path: web::Path<String>,
    f: crate::auth::extract::CsrfForm<crate::auth::web::Empty>,
) -> PageResult<HttpResponse> {
    let (user, id) = (f.user, path.into_inner());
    let job = blocking(move || {
        let (input, bytes) = jobs.input(&id, user.user_id.unwrap_or(0))?;
        super::job_runs::launch(&st, &jobs, user, input, bytes)
    })
    .await?;
    Ok(see_other(&format!("/jobs/{job}")))
}

/// What a finished job made (a county's rosters as one PDF).
pub async fn job_file(
    jobs: web::Data<Jobs>,
    PageUser(caller): PageUser,
    path: web::Path<String>,
) -> PageResult<HttpResponse> {
    let (id, owner) = (path.into_inner(), caller.user_id.unwrap_or(0));
    let (name, bytes) = blocking(move || jobs.file(&id, owner)).await?;
    let kind = if name.ends_with(".pdf") { PDF } else { XLSX };
    Ok(download(bytes, &name, kind))
}

#[derive(Deserialize, schemars::JsonSchema)]
pub struct ImportQuery {
    #[serde(default)]
    school: Option<String>,
    #[serde(default)]
    dry_run: bool,
    #[serde(default)]
    partial: bool,
    #[serde(default)]
    filename: Option<String>,
    /// YYYY-MM-DD: new students' first day where the file has no 入校日期 column.
    #[serde(default)]
    enrolled_on: String,
    #[serde(default)]
    backdate_reason: String,
}

fn optional_day(s: &str) -> AppResult<Option<chrono::NaiveDate>> {
    match s.trim() {
        "" => Ok(None),
        d => crate::registry::status::parse_day("enrolled_on", d).map(Some),
    }
}

/// `POST /api/v1/students/import`: the body is the file; the answer is the report.
pub async fn api_import(
    st: web::Data<AppState>,
    ApiUser(caller): ApiUser,
    q: ApiQuery<ImportQuery>,
    upload::ApiBody(body): upload::ApiBody<{ super::guard::MAX_UPLOAD }>,
) -> AppResult<Checked<impl Body>> {
    let q = q.into_inner();
    let filename = q.filename.unwrap_or_else(|| "upload.xlsx".into());
    let opts = ImportOptions {
        dry_run: q.dry_run,
        partial: q.partial,
        enrolled_on: optional_day(&q.enrolled_on)?,
        backdate_reason: q.backdate_reason.clone(),
    };
    let report = st
        .run(move |conn| {
            import::import_students(conn, &caller, q.school.as_deref(), &body, &filename, opts, &|_, _| {})
        })
        .await?;
    Ok(Checked { refused: !report.errors.is_empty(), report })
}

pub async fn api_template(
    st: web::Data<AppState>,
    ApiUser(caller): ApiUser,
    path: web::Path<String>,
) -> AppResult<FileReply> {
    let code = path.into_inner();
    let k = code.clone();
    let bytes = st
        .run(move |conn| {
            crate::org::service::get_school(conn, &caller, &k)?;
            super::template::write(&[])
        })
        .await?;
    Ok(FileReply(download(bytes, &format!("学生基本信息导入模板_{code}.xlsx"), XLSX)))
}

pub async fn api_export(
    st: web::Data<AppState>,
    ApiUser(caller): ApiUser,
    path: web::Path<String>,
    q: ApiQuery<ExportQuery>,
) -> AppResult<FileReply> {
    let code = path.into_inner();
    let (k, class) = (code.clone(), q.class_id);
    let bytes = st.run(move |conn| import::export_students(conn, &caller, &k, class)).await?;
    Ok(FileReply(download(bytes, &format!("学生基本信息_{code}.xlsx"), XLSX)))
}

/// The class's student information forms (PDF), built off the async executor.
pub async fn student_forms(
    st: web::Data<AppState>,
    PageUser(caller): PageUser,
    path: web::Path<i64>,
) -> PageResult<HttpResponse> {
    let id = path.into_inner();
    let (name, bytes) = st.run(move |conn| super::student_form::class_forms(conn, &caller, id)).await?;
    Ok(download(bytes, &name, PDF))
}

pub async fn api_student_forms(
    st: web::Data<AppState>,
    ApiUser(caller): ApiUser,
    path: web::Path<i64>,
) -> AppResult<FileReply> {
    let id = path.into_inner();
    let (name, bytes) = st.run(move |conn| super::student_form::class_forms(conn, &caller, id)).await?;
    Ok(FileReply(download(bytes, &name, PDF)))
}
