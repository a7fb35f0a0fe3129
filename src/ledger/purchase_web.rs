//! Purchases on a page and in the API: the school records what it bought (or was delivered)
//! with the invoice and delivery note, completes the documents of expenditures posted without
//! them; the county reads its schools' purchases and what is still undocumented.

use actix_multipart::Multipart;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use chrono::NaiveDate;
use serde::Deserialize;

use super::purchase::{self, DocRole, LineForm, MAX_DOCUMENTS, NewDocument, PurchaseForm, PurchaseView, Undocumented};
use crate::auth::Caller;
use crate::auth::extract::{ApiUser, PageUser};
use crate::domain::calendar::Month;
use crate::domain::document::DocKind;
use crate::domain::food::{self, Food};
use crate::error::{AppError, AppResult, ErrorCode, ErrorKind};
use crate::exchange::document::{self, Upload};
use crate::programme::config::{self, SupplierRow};
use crate::web::api_doc::{Body, Created, FileReply, Reply};
use crate::web::strict::ApiQuery;
use crate::web::upload::{self, UploadForm};
use crate::web::{AppState, Flash, FormErrors, Layout, PageResult, html_page, see_other};

/// Rows of lines the page's form offers.
const FORM_LINES: usize = 8;

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
pub struct ListQuery {
    #[serde(default)]
    org: String,
    #[serde(default, rename = "period", alias = "month")]
    month: String,
    /// Opens the form to complete this expenditure's documents.
    #[serde(default)]
    expenditure: Option<i64>,
    #[serde(default)]
    ok: Option<String>,
}

impl ListQuery {
    fn month(&self, caller: &Caller) -> AppResult<Month> {
        match self.month.trim() {
            "" => Ok(Month::of(caller.today())),
            m => Month::parse(m).map_err(|e| AppError::field("period", ErrorCode::PurchaseMonth, e)),
        }
    }
}

fn span(m: Month) -> (NaiveDate, NaiveDate) {
    (m.first_day(), m.last_day())
}

#[derive(Template, WebTemplate)]
#[template(path = "ledger/purchases.html")]
pub struct PurchasesPage {
    layout: Layout,
    org_code: String,
    org_name: String,
    month: String,
    purchases: Vec<PurchaseView>,
    undocumented: Vec<Undocumented>,
    /// The school's own clerk: the form is offered.
    may_record: bool,
    /// The caller's own org is the one shown.
    own_org: bool,
    suppliers: Vec<SupplierRow>,
    foods: &'static [Food],
    typed: PurchaseForm,
    key: String,
    errors: FormErrors,
    flash: String,
}

impl PurchasesPage {
    fn line(&self, i: &usize) -> LineForm {
        self.typed.lines.get(*i).cloned().unwrap_or_default()
    }

    fn rows(&self) -> std::ops::Range<usize> {
        0..FORM_LINES
    }
}

#[allow(clippy::too_many_arguments)]
async fn page(
    st: &AppState,
    caller: Caller,
    org: String,
    month: Month,
    typed: PurchaseForm,
    errors: FormErrors,
    flash: String,
) -> AppResult<PurchasesPage> {
    let c = caller.clone();
    let (first, last) = span(month);
    let ((o, purchases), undocumented, suppliers) = st
        .run(move |conn| {
            let list = purchase::list(conn, &c, &org, first, last)?;
            // What is still without documents: the whole school year so far, not only the month.
            let since = first.min(c.today() - chrono::Days::new(365));
            let undocumented = purchase::undocumented(conn, &c, &org, since, c.today())?;
            Ok((list, undocumented, config::suppliers(conn, &c)?))
        })
        .await?;
    let may_record = purchase::may_record(&caller, &o).is_ok();
    Ok(PurchasesPage {
        layout: Layout::new(&caller, st, format!("采购与票据 · {}", o.name)),
        own_org: caller.org_code == o.code,
        org_code: o.code,
        org_name: o.name,
        month: month.to_string(),
        purchases,
        undocumented,
        may_record,
        suppliers,
        foods: food::all(),
        typed,
        key: super::fund::new_key(),
        errors,
        flash,
    })
}

pub async fn list(
    st: web::Data<AppState>,
    PageUser(caller): PageUser,
    q: web::Query<ListQuery>,
) -> PageResult<PurchasesPage> {
    let month = q.month(&caller)?;
    let org = if q.org.trim().is_empty() { caller.org_code.clone() } else { q.org.trim().to_owned() };
    let typed = PurchaseForm {
        expenditure: q.expenditure,
        delivered_on: caller.today().to_string(),
        ..PurchaseForm::default()
    };
    let flash = match q.ok.as_deref() {
        Some("recorded") => "采购及票据已保存，明细已入库",
        Some("replayed") => "重复提交：这笔此前已保存，未再次记录",
        other => {
            return Ok(page(
                &st,
                caller,
                org,
                month,
                typed,
                FormErrors::none(),
                Flash { ok: other.map(str::to_owned), n: None }.message(),
            )
            .await?);
        }
    };
    Ok(page(&st, caller, org, month, typed, FormErrors::none(), flash.to_owned()).await?)
}

/// The form's fields as a purchase: lines from `food_N`, `qty_N`, `price_N`, `spec_N`.
fn typed_of(form: &UploadForm) -> PurchaseForm {
    let lines = (1..=FORM_LINES)
        .map(|n| LineForm {
            food: form.text(&format!("food_{n}")).to_owned(),
            qty: form.text(&format!("qty_{n}")).to_owned(),
            price: form.text(&format!("price_{n}")).to_owned(),
            spec: form.text(&format!("spec_{n}")).to_owned(),
        })
        .collect();
    PurchaseForm {
        school: String::new(),
        kind: form.text("kind").to_owned(),
        expenditure: form.text("expenditure").trim().parse().ok(),
        supplier: form.text("supplier").to_owned(),
        delivered_on: form.text("delivered_on").to_owned(),
        invoice_no: form.text("invoice_no").to_owned(),
        memo: form.text("memo").to_owned(),
        lines,
        key: form.text("key").to_owned(),
    }
}

/// The files of a form by what they are (fields `invoice`, `delivery`, `document`).
fn uploads_of(form: &UploadForm) -> Vec<(DocRole, Upload)> {
    form.files
        .iter()
        .filter(|f| !f.bytes.is_empty())
        .filter_map(|f| {
            Some((DocRole::of_field(&f.field)?, Upload { filename: f.filename.clone(), bytes: f.bytes.clone() }))
        })
        .collect()
}

/// Reads the documents (PDFs in the parse worker, away from the database) and records.
async fn store(
    st: &AppState,
    caller: Caller,
    typed: PurchaseForm,
    files: Vec<(DocRole, Upload)>,
) -> AppResult<PurchaseView> {
    let docs = web::block(move || {
        files
            .iter()
            .map(|(role, u)| Ok(NewDocument { role: *role, file: document::check(u, "documents", role.label())? }))
            .collect::<AppResult<Vec<_>>>()
    })
    .await??;
    st.run(move |conn| purchase::record(conn, &caller, &typed, &docs)).await
}

pub async fn record(
    st: web::Data<AppState>,
    PageUser(caller): PageUser,
    req: actix_web::HttpRequest,
    form: Multipart,
) -> PageResult<HttpResponse> {
    let form = upload::read_page_form(&st, &caller, &req, form, MAX_DOCUMENTS + 256 * 1024).await?;
    let typed = typed_of(&form);
    match store(&st, caller.clone(), typed.clone(), uploads_of(&form)).await {
        Ok(p) => Ok(see_other(&format!("/purchases/{}?ok={}", p.id, if p.replayed { "replayed" } else { "recorded" }))),
        Err(e) if matches!(e.kind, ErrorKind::Invalid | ErrorKind::Conflict) => {
            let month = Month::of(caller.today());
            let org = caller.org_code.clone();
            html_page(
                StatusCode::UNPROCESSABLE_ENTITY,
                page(&st, caller, org, month, typed, FormErrors::from_error(&e), String::new()).await?,
            )
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "ledger/purchase.html")]
pub struct PurchasePage {
    layout: Layout,
    p: PurchaseView,
    flash: String,
}

impl PurchasePage {
    fn is_image(&self, content_type: &str) -> bool {
        DocKind::of_content_type(content_type).is_some_and(DocKind::is_image)
    }
}

pub async fn detail(
    st: web::Data<AppState>,
    PageUser(caller): PageUser,
    path: web::Path<i64>,
    q: web::Query<Flash>,
) -> PageResult<PurchasePage> {
    let id = path.into_inner();
    let c = caller.clone();
    let p = st.run(move |conn| purchase::get(conn, &c, id)).await?;
    let flash = match q.ok.as_deref() {
        Some("recorded") => "采购及票据已保存，明细已入库",
        Some("replayed") => "重复提交：这笔此前已保存，未再次记录",
        _ => "",
    };
    Ok(PurchasePage {
        layout: Layout::new(&caller, &st, format!("采购 {} · {}", p.delivered_on, p.supplier)),
        p,
        flash: flash.to_owned(),
    })
}

pub async fn document(
    st: web::Data<AppState>,
    PageUser(caller): PageUser,
    path: web::Path<(i64, i64)>,
) -> PageResult<HttpResponse> {
    let (id, att) = path.into_inner();
    let (name, kind, bytes) = st.run(move |conn| purchase::document(conn, &caller, id, att)).await?;
    Ok(crate::web::document(bytes, &name, &kind))
}

// ---------------------------------------------------------------- API

/// `POST /api/v1/purchases`: multipart with the purchase as JSON in the field `purchase` and
/// files in `invoice`, `delivery` or `document`.
pub async fn api_record(
    st: web::Data<AppState>,
    ApiUser(caller): ApiUser,
    form: Multipart,
) -> AppResult<Created<impl Body>> {
    let form = upload::read(form, MAX_DOCUMENTS + 256 * 1024).await?;
    let typed: PurchaseForm = serde_json::from_str(form.text("purchase")).map_err(|e| {
        AppError::field("purchase", ErrorCode::PurchaseJson, format!("字段 purchase 应为采购内容的JSON：{e}"))
    })?;
    let p = store(&st, caller, typed, uploads_of(&form)).await?;
    Ok(Created::repeated_if(p.replayed, p))
}

/// `GET /api/v1/purchases?org=&month=`: the purchases of the month and the expenditures of the
/// past year still without documents.
pub async fn api_list(
    st: web::Data<AppState>,
    ApiUser(caller): ApiUser,
    q: ApiQuery<ListQuery>,
) -> AppResult<Reply<impl Body>> {
    let month = q.month(&caller)?;
    let org = if q.org.trim().is_empty() { caller.org_code.clone() } else { q.org.trim().to_owned() };
    let (first, last) = span(month);
    let (o, list, undocumented) = st
        .run(move |conn| {
            let (o, list) = purchase::list(conn, &caller, &org, first, last)?;
            let since = first.min(caller.today() - chrono::Days::new(365));
            let undocumented = purchase::undocumented(conn, &caller, &o.code, since, caller.today())?;
            Ok((o, list, undocumented))
        })
        .await?;
    Ok(Reply(Purchases { org: o.code, month: month.to_string(), purchases: list, undocumented }))
}

/// A month's purchases, and the expenditures of the past year still without documents.
#[derive(serde::Serialize, schemars::JsonSchema)]
pub struct Purchases {
    org: String,
    month: String,
    purchases: Vec<purchase::PurchaseView>,
    undocumented: Vec<purchase::Undocumented>,
}

pub async fn api_get(
    st: web::Data<AppState>,
    ApiUser(caller): ApiUser,
    path: web::Path<i64>,
) -> AppResult<Reply<impl Body>> {
    let id = path.into_inner();
    Ok(Reply(st.run(move |conn| purchase::get(conn, &caller, id)).await?))
}

pub async fn api_document(
    st: web::Data<AppState>,
    ApiUser(caller): ApiUser,
    path: web::Path<(i64, i64)>,
) -> AppResult<FileReply> {
    let (id, att) = path.into_inner();
    let (name, kind, bytes) = st.run(move |conn| purchase::document(conn, &caller, id, att)).await?;
    Ok(FileReply(crate::web::document(bytes, &name, &kind)))
}
