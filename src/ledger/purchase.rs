//! Purchases (采购): what a school's food money bought, with the documents behind it (发票,
//! 送货单), its supplier and its lines (food, quantity, unit price). Three ways in:
//! - a purchase the school pays: its expenditure is posted in the same transaction, for the sum
//!   of the lines;
//! - documents and lines for an expenditure already posted (through the ledger or an import);
//! - a delivery the school did not pay (county-bought food): lines and delivery note only.
//!
//! Every line is received into the canteen's stock on the delivery day. Nothing here is edited
//! afterwards; a wrong expenditure is reversed in the ledger.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::fund::{self, PostingForm};
use crate::audit::{self, Entry};
use crate::auth::Caller;
use crate::db::schema::{
    attachments, fund_accounts, ledger_requests, orgs, purchase_documents, purchase_lines, purchases, suppliers,
};
use crate::db::{DbConn, write_tx};
use crate::domain::food::{self, Food, Qty};
use crate::domain::ledger::{Category, Fund};
use crate::domain::money::Fen;
use crate::domain::role::{OrgKind, Permission};
use crate::domain::text;
use crate::error::{AppError, AppResult, ErrorCode, ErrorKind, FieldError};
use crate::exchange::document::{self, Checked};
use crate::meals::stock;
use crate::org::model::{Org, ancestor_paths};
use crate::org::service::org_in_scope;

/// All documents of one purchase together.
pub const MAX_DOCUMENTS: usize = 20 * 1024 * 1024;
/// Lines of one purchase.
pub const MAX_LINES: usize = 50;

/// How the purchase came to the school.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Paid by the school now: posts the expenditure.
    Paid,
    /// Documents and lines for an expenditure already posted.
    ForExpenditure(i64),
    /// Delivered, paid above the school.
    Delivery,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Paid => "paid",
            Mode::ForExpenditure(_) => "attached",
            Mode::Delivery => "delivery",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Mode::Paid => "学校采购",
            Mode::ForExpenditure(_) => "补录票据",
            Mode::Delivery => "配送入库",
        }
    }

    /// The stored mode with the expenditure it names.
    fn of_row(s: &str, request: Option<i64>) -> Self {
        match (s, request) {
            ("paid", _) => Mode::Paid,
            ("attached", Some(r)) => Mode::ForExpenditure(r),
            _ => Mode::Delivery,
        }
    }
}

/// What a document is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum DocRole {
    Invoice,
    Delivery,
    Other,
}

impl DocRole {
    pub fn as_str(self) -> &'static str {
        match self {
            DocRole::Invoice => "invoice",
            DocRole::Delivery => "delivery",
            DocRole::Other => "other",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            DocRole::Invoice => "发票",
            DocRole::Delivery => "送货单",
            DocRole::Other => "其他票据",
        }
    }

    /// The form field a file came in (`invoice`, `delivery`, `document`).
    pub fn of_field(field: &str) -> Option<Self> {
        match field {
            "invoice" => Some(DocRole::Invoice),
            "delivery" => Some(DocRole::Delivery),
            "document" | "other" => Some(DocRole::Other),
            _ => None,
        }
    }

    fn parse(s: &str) -> Self {
        Self::of_field(s).unwrap_or(DocRole::Other)
    }
}

/// One line as typed.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct LineForm {
    #[serde(default)]
    pub food: String,
    #[serde(default)]
    pub qty: String,
    /// Yuan per unit; empty for a delivery without prices.
    #[serde(default)]
    pub price: String,
    #[serde(default)]
    pub spec: String,
}

impl LineForm {
    pub fn is_blank(&self) -> bool {
        self.food.trim().is_empty() && self.qty.trim().is_empty() && self.price.trim().is_empty()
    }
}

/// A purchase as typed on the page or sent to the API.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct PurchaseForm {
    /// The school (its own, for a school user).
    #[serde(default)]
    pub school: String,
    /// `purchase` (the school pays, default), `delivery` (paid above the school).
    #[serde(default)]
    pub kind: String,
    /// An expenditure already posted that these documents and lines are for.
    #[serde(default)]
    pub expenditure: Option<i64>,
    /// A supplier of the county's list (its credit code or name), or another supplier's name.
    #[serde(default)]
    pub supplier: String,
    #[serde(default)]
    pub delivered_on: String,
    /// The invoice number (the expenditure's voucher number when the school pays).
    #[serde(default)]
    pub invoice_no: String,
    #[serde(default)]
    pub memo: String,
    #[serde(default)]
    pub lines: Vec<LineForm>,
    /// One per form shown: submitting twice records once.
    #[serde(default)]
    pub key: String,
}

impl PurchaseForm {
    fn mode(&self) -> Result<Mode, FieldError> {
        match (self.expenditure, self.kind.trim()) {
            (Some(id), _) => Ok(Mode::ForExpenditure(id)),
            (None, "" | "purchase" | "采购") => Ok(Mode::Paid),
            (None, "delivery" | "配送") => Ok(Mode::Delivery),
            (None, other) => Err(FieldError {
                field: "kind".into(),
                code: ErrorCode::PurchaseKind,
                message: format!("类型“{other}”应为 purchase（学校采购）或 delivery（配送入库）"),
            }),
        }
    }
}

/// A checked line.
#[derive(Debug, Clone)]
struct Line {
    food: &'static Food,
    qty: Qty,
    price: Option<Fen>,
    amount: Fen,
    spec: String,
}

/// A document to store with a purchase: what it is, and the file as checked.
#[derive(Debug, Clone)]
pub struct NewDocument {
    pub role: DocRole,
    pub file: Checked,
}

/// A stored line as shown.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[schemars(rename = "PurchaseLine")]
pub struct LineView {
    pub food: String,
    pub name: String,
    pub category: String,
    pub unit: String,
    pub qty: String,
    pub price: Option<Fen>,
    pub amount: Fen,
    pub spec: String,
}

/// A stored document as listed.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct DocumentView {
    pub id: i64,
    pub kind: DocRole,
    pub kind_label: &'static str,
    pub filename: String,
    pub content_type: String,
    pub pages: i32,
    pub sha256: String,
}

/// A purchase as pages and the API show it.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct PurchaseView {
    pub id: i64,
    pub school_code: String,
    pub school_name: String,
    pub mode: &'static str,
    pub mode_label: &'static str,
    /// The expenditure (ledger request) that paid it.
    pub expenditure: Option<i64>,
    pub supplier: String,
    pub supplier_registered: bool,
    pub delivered_on: NaiveDate,
    pub invoice_no: String,
    pub amount: Fen,
    pub memo: String,
    pub recorded_by: String,
    pub recorded_at: NaiveDateTime,
    pub lines: Vec<LineView>,
    pub documents: Vec<DocumentView>,
    /// This answer is an earlier submission of the same key (nothing new was recorded).
    pub replayed: bool,
}

/// Who records purchases and their documents: the school itself, someone who may post. The
/// purchases page offers its form on this rule.
pub fn may_record(caller: &Caller, school: &Org) -> AppResult<()> {
    if !caller.may(Permission::PostLedger) {
        return Err(AppError::forbidden());
    }
    if school.kind != OrgKind::School {
        return Err(AppError::field(
            "school",
            ErrorCode::PurchaseSchool,
            format!("“{}”不是学校：采购记在学校", school.name),
        ));
    }
    if !caller.acts_for(&school.code) {
        return Err(AppError::new(
            ErrorKind::Forbidden,
            ErrorCode::PurchaseNotOwnSchool,
            format!("采购和票据由{}本校录入", school.name),
        ));
    }
    Ok(())
}

fn own_school(conn: &mut DbConn, caller: &Caller, code: &str) -> AppResult<Org> {
    caller.require(conn, Permission::PostLedger, "purchase_record")?;
    let code = if code.trim().is_empty() { caller.org_code.as_str() } else { code.trim() };
    let school = org_in_scope(conn, caller.scope(), code)?;
    may_record(caller, &school)?;
    Ok(school)
}

/// The supplier named: one registered by the school's county or above (by credit code or
/// name), or a supplier outside the list by its name.
fn supplier_of(conn: &mut DbConn, school: &Org, typed: &str) -> AppResult<(Option<i64>, String)> {
    let found: Option<(i64, String)> = suppliers::table
        .inner_join(orgs::table)
        .filter(orgs::path.eq_any(ancestor_paths(&school.path)))
        .filter(suppliers::credit_code.eq(typed).or(suppliers::name.eq(typed)))
        .order(orgs::path.desc())
        .select((suppliers::id, suppliers::name))
        .first(conn)
        .optional()?;
    Ok(match found {
        Some((id, name)) => (Some(id), name),
        None => (None, typed.to_owned()),
    })
}

/// Checks the lines: each a food of the list, a quantity, a price where one is needed; paid
/// lines all of one expenditure category.
fn check_lines(form: &PurchaseForm, mode: Mode, errors: &mut Vec<FieldError>) -> Vec<Line> {
    let typed: Vec<&LineForm> = form.lines.iter().filter(|l| !l.is_blank()).collect();
    let mut err = |field: String, code: ErrorCode, message: String| errors.push(FieldError { field, code, message });
    if typed.is_empty() && !matches!(mode, Mode::ForExpenditure(_)) {
        err("lines".into(), ErrorCode::PurchaseNoLines, "请至少填写一行采购明细（食品、数量、单价）".into());
    }
    if typed.len() > MAX_LINES {
        err("lines".into(), ErrorCode::PurchaseLines, format!("一笔采购最多{MAX_LINES}行明细，请分笔录入"));
        return Vec::new();
    }
    let mut out = Vec::new();
    for (i, l) in typed.iter().enumerate() {
        let n = i + 1;
        let field = |name: &str| format!("lines[{i}].{name}");
        let food =
            food::parse(&l.food).map_err(|m| err(field("food"), ErrorCode::PurchaseFood, format!("第{n}行：{m}"))).ok();
        let qty =
            Qty::parse(&l.qty).map_err(|m| err(field("qty"), ErrorCode::PurchaseQty, format!("第{n}行：{m}"))).ok();
        let price = match (l.price.trim(), mode) {
            ("", Mode::Delivery) => Some(None),
            ("", _) => {
                err(field("price"), ErrorCode::PurchasePrice, format!("第{n}行：请填写单价（元）"));
                None
            }
            (p, _) => food::unit_price(p)
                .map(Some)
                .map_err(|m| err(field("price"), ErrorCode::PurchasePrice, format!("第{n}行：{m}")))
                .ok(),
        };
        let spec = text::optional("规格", &l.spec, 40)
            .map_err(|m| err(field("spec"), ErrorCode::PurchaseSpec, format!("第{n}行：{m}")))
            .ok();
        if let (Some(food), Some(qty), Some(price), Some(spec)) = (food, qty, price, spec) {
            let amount = price.map_or(Fen::new(0), |p| food::line_amount(qty, p));
            out.push(Line { food, qty, price, amount, spec });
        }
    }
    if mode != Mode::Delivery
        && let Some(first) = out.first()
        && let Some((n, l)) = out.iter().enumerate().find(|(_, l)| l.food.category != first.food.category)
    {
        err(
            format!("lines[{n}].food"),
            ErrorCode::PurchaseCategory,
            format!(
                "第{}行“{}”属{}，与第1行的{}不同：一笔支出只记一个类别，不同类别请分笔录入",
                n + 1,
                l.food.name,
                l.food.category.as_str(),
                first.food.category.as_str()
            ),
        );
    }
    out
}

/// Records a purchase with its documents and lines, and receives the lines into stock.
pub fn record(
    conn: &mut DbConn,
    caller: &Caller,
    form: &PurchaseForm,
    docs: &[NewDocument],
) -> AppResult<PurchaseView> {
    let school = own_school(conn, caller, &form.school)?;
    let key = if form.key.trim().is_empty() { fund::new_key() } else { form.key.trim().to_owned() };
    // The expenditure's own key is this one with a prefix, within the ledger's 64.
    if key.len() > 60 {
        return Err(AppError::field("key", ErrorCode::LedgerKey, "幂等键最多60个字符"));
    }
    if let Some(id) = by_key(conn, &key)? {
        let mut v = get(conn, caller, id)?;
        v.replayed = true;
        return Ok(v);
    }
    let mut errors = Vec::new();
    let mode = form.mode().map_err(|e| errors.push(e)).unwrap_or(Mode::Paid);
    let supplier = text::required("供应商", &form.supplier, 60)
        .map_err(|m| {
            errors.push(FieldError { field: "supplier".into(), code: ErrorCode::PurchaseSupplier, message: m })
        })
        .unwrap_or_default();
    let day = match crate::domain::student::parse_date(&form.delivered_on) {
        Ok(d) if d > caller.today() => {
            errors.push(FieldError {
                field: "delivered_on".into(),
                code: ErrorCode::PurchaseFuture,
                message: format!("送货日期{d}还没有到"),
            });
            None
        }
        Ok(d) => Some(d),
        Err(m) => {
            errors.push(FieldError {
                field: "delivered_on".into(),
                code: ErrorCode::PurchaseDay,
                message: format!("送货日期{m}"),
            });
            None
        }
    };
    let invoice_no = text::optional("发票号", &form.invoice_no, 40)
        .map_err(|m| {
            errors.push(FieldError { field: "invoice_no".into(), code: ErrorCode::PurchaseInvoiceNo, message: m })
        })
        .unwrap_or_default();
    if mode == Mode::Paid && invoice_no.is_empty() {
        errors.push(FieldError {
            field: "invoice_no".into(),
            code: ErrorCode::PurchaseInvoiceNo,
            message: "请填写发票号（记为支出凭证号）".into(),
        });
    }
    let memo = text::optional("摘要", &form.memo, 200)
        .map_err(|m| errors.push(FieldError { field: "memo".into(), code: ErrorCode::PurchaseMemo, message: m }))
        .unwrap_or_default();
    let lines = check_lines(form, mode, &mut errors);
    if docs.is_empty() {
        errors.push(FieldError {
            field: "documents".into(),
            code: ErrorCode::PurchaseNoDocument,
            message: "请上传发票或送货单（图片或PDF）：没有票据的支出不能作为采购依据".into(),
        });
    }
    let Some(day) = day.filter(|_| errors.is_empty()) else {
        return Err(AppError::fields(errors));
    };
    let (supplier_id, supplier_name) = supplier_of(conn, &school, &supplier)?;
    let amount = Fen::new(lines.iter().map(|l| l.amount.fen()).sum());
    let category = lines.first().map(|l| l.food.category);
    let new = NewPurchase {
        key: &key,
        school: &school,
        supplier_id,
        supplier_name: &supplier_name,
        day,
        invoice_no: &invoice_no,
        memo: &memo,
        amount,
        lines: &lines,
        docs,
        mode,
    };
    let id = match mode {
        Mode::Paid => {
            let posting = PostingForm {
                kind: "expenditure".into(),
                fund: Fund::Meal.as_str().into(),
                from: school.code.clone(),
                amount: amount.to_string(),
                date: day.to_string(),
                category: category.map(Category::as_str).unwrap_or_default().into(),
                voucher_no: invoice_no.clone(),
                memo: if memo.is_empty() { format!("采购：{supplier_name}") } else { memo.clone() },
                key: format!("p:{key}"),
                ..PostingForm::default()
            };
            let mut stored = None;
            fund::post_then(conn, caller, &posting, |conn, request| {
                stored = Some(insert(conn, caller, &new, Some(request))?);
                Ok(())
            })?;
            match stored {
                Some(id) => id,
                // The posting was a replay of an earlier submission: its purchase is the answer.
                None => by_key(conn, &key)?.ok_or_else(AppError::not_found)?,
            }
        }
        Mode::ForExpenditure(request) => {
            let (req_amount, req_category) = expenditure_of(conn, &school, request)?;
            if !lines.is_empty() && amount != req_amount {
                return Err(AppError::field(
                    "lines",
                    ErrorCode::PurchaseAmount,
                    format!("明细合计{amount}元与支出金额{req_amount}元不符"),
                ));
            }
            if let Some(c) = category.filter(|c| c.as_str() != req_category) {
                return Err(AppError::field(
                    "lines",
                    ErrorCode::PurchaseCategory,
                    format!("明细属{}，而这笔支出记为{req_category}", c.as_str()),
                ));
            }
            write_tx(conn, |conn| insert(conn, caller, &new, Some(request)))?
        }
        Mode::Delivery => write_tx(conn, |conn| insert(conn, caller, &new, None))?,
    };
    get(conn, caller, id)
}

struct NewPurchase<'a> {
    key: &'a str,
    school: &'a Org,
    supplier_id: Option<i64>,
    supplier_name: &'a str,
    day: NaiveDate,
    invoice_no: &'a str,
    memo: &'a str,
    amount: Fen,
    lines: &'a [Line],
    docs: &'a [NewDocument],
    mode: Mode,
}

fn insert(conn: &mut DbConn, caller: &Caller, p: &NewPurchase, request: Option<i64>) -> AppResult<i64> {
    let id: i64 = diesel::insert_into(purchases::table)
        .values((
            purchases::idempotency_key.eq(p.key),
            purchases::mode.eq(p.mode.as_str()),
            purchases::school_id.eq(p.school.id),
            purchases::request_id.eq(request),
            purchases::supplier_id.eq(p.supplier_id),
            purchases::supplier_name.eq(p.supplier_name),
            purchases::delivered_on.eq(p.day),
            purchases::invoice_no.eq(p.invoice_no),
            purchases::amount_fen.eq(p.amount.fen()),
            purchases::memo.eq(p.memo),
            purchases::recorded_by.eq(&caller.username),
            purchases::recorded_at.eq(caller.now()),
        ))
        .returning(purchases::id)
        .get_result(conn)
        .map_err(|e| match e {
            diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)
                if request.is_some() =>
            {
                AppError::conflict(ErrorCode::PurchaseAlready, "这笔支出已录入票据和明细")
            }
            e => e.into(),
        })?;
    for (i, l) in p.lines.iter().enumerate() {
        diesel::insert_into(purchase_lines::table)
            .values((
                purchase_lines::purchase_id.eq(id),
                purchase_lines::seq.eq(i32::try_from(i + 1).unwrap_or(i32::MAX)),
                purchase_lines::food.eq(&l.food.code),
                purchase_lines::category.eq(l.food.category.as_str()),
                purchase_lines::qty_milli.eq(l.qty.milli()),
                purchase_lines::price_fen.eq(l.price.map(Fen::fen)),
                purchase_lines::amount_fen.eq(l.amount.fen()),
                purchase_lines::spec.eq(&l.spec),
            ))
            .execute(conn)?;
        stock::receive(conn, caller, p.school.id, l.food, p.day, l.qty, id)?;
    }
    let mut stored = Vec::new();
    for d in p.docs {
        let att = document::store(conn, caller, &d.file.filename, d.file.kind, &d.file.bytes)?;
        diesel::insert_into(purchase_documents::table)
            .values((
                purchase_documents::purchase_id.eq(id),
                purchase_documents::attachment_id.eq(att),
                purchase_documents::kind.eq(d.role.as_str()),
                purchase_documents::pages.eq(i32::try_from(d.file.pages).unwrap_or(i32::MAX)),
            ))
            .execute(conn)?;
        stored.push(serde_json::json!({
            "kind": d.role.as_str(), "name": d.file.filename, "sha256": hex::encode(Sha256::digest(&d.file.bytes))
        }));
    }
    let lines: Vec<serde_json::Value> = p
        .lines
        .iter()
        .map(|l| serde_json::json!({"food": l.food.name, "qty": l.qty.to_string(), "price": l.price.map(|p| p.to_string()), "amount": l.amount.to_string()}))
        .collect();
    audit::record(
        conn,
        &caller.actor(),
        Entry::new("purchase.record", "purchase", id).after(&serde_json::json!({
            "school": p.school.code, "mode": p.mode.label(), "expenditure": request, "supplier": p.supplier_name,
            "delivered_on": p.day, "invoice_no": p.invoice_no, "amount": p.amount.to_string(),
            "lines": lines, "documents": stored
        })),
    )?;
    Ok(id)
}

/// An expenditure of the school's meal account, posted or waiting, not reversed, without
/// documents yet: (amount, category).
fn expenditure_of(conn: &mut DbConn, school: &Org, request: i64) -> AppResult<(Fen, String)> {
    let row: Option<(String, String, i64, String, String)> = ledger_requests::table
        .inner_join(fund_accounts::table.on(fund_accounts::id.nullable().eq(ledger_requests::from_account_id)))
        .filter(ledger_requests::id.eq(request))
        .filter(fund_accounts::org_id.eq(school.id))
        .filter(fund_accounts::supplier_id.is_null())
        .select((
            ledger_requests::kind,
            ledger_requests::fund,
            ledger_requests::amount_fen,
            ledger_requests::category,
            ledger_requests::status,
        ))
        .first(conn)
        .optional()?;
    let not_found = || {
        AppError::field(
            "expenditure",
            ErrorCode::PurchaseExpenditure,
            format!("{}没有编号为{request}的支出", school.name),
        )
    };
    let (kind, fund, amount, category, status) = row.ok_or_else(not_found)?;
    if kind != "expenditure" || fund != Fund::Meal.as_str() {
        return Err(not_found());
    }
    if status == "rejected" {
        return Err(AppError::conflict(ErrorCode::PurchaseExpenditure, format!("支出{request}已被退回，不需要票据")));
    }
    let reversed: i64 = ledger_requests::table
        .filter(ledger_requests::reverses_request_id.eq(request))
        .filter(ledger_requests::status.eq("posted"))
        .count()
        .get_result(conn)?;
    if reversed > 0 {
        return Err(AppError::conflict(ErrorCode::PurchaseExpenditure, format!("支出{request}已冲销，不需要票据")));
    }
    Ok((Fen::new(amount), category))
}

fn by_key(conn: &mut DbConn, key: &str) -> AppResult<Option<i64>> {
    Ok(purchases::table.filter(purchases::idempotency_key.eq(key)).select(purchases::id).first(conn).optional()?)
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = purchases)]
struct Row {
    id: i64,
    mode: String,
    request_id: Option<i64>,
    supplier_id: Option<i64>,
    supplier_name: String,
    delivered_on: NaiveDate,
    invoice_no: String,
    amount_fen: i64,
    memo: String,
    recorded_by: String,
    recorded_at: NaiveDateTime,
}

fn view(conn: &mut DbConn, row: Row, school: &Org) -> AppResult<PurchaseView> {
    let lines = purchase_lines::table
        .filter(purchase_lines::purchase_id.eq(row.id))
        .order(purchase_lines::seq.asc())
        .select((
            purchase_lines::food,
            purchase_lines::category,
            purchase_lines::qty_milli,
            purchase_lines::price_fen,
            purchase_lines::amount_fen,
            purchase_lines::spec,
        ))
        .load::<(String, String, i64, Option<i64>, i64, String)>(conn)?
        .into_iter()
        .map(|(code, category, qty, price, amount, spec)| {
            let f = food::by_code(&code);
            LineView {
                name: f.map_or_else(|| code.clone(), |f| f.name.clone()),
                unit: f.map_or_else(String::new, |f| f.unit.clone()),
                food: code,
                category,
                qty: Qty::from_milli(qty).to_string(),
                price: price.map(Fen::new),
                amount: Fen::new(amount),
                spec,
            }
        })
        .collect();
    let documents = purchase_documents::table
        .inner_join(attachments::table)
        .filter(purchase_documents::purchase_id.eq(row.id))
        .order(attachments::id.asc())
        .select((
            attachments::id,
            purchase_documents::kind,
            attachments::filename,
            attachments::content_type,
            purchase_documents::pages,
            attachments::sha256,
        ))
        .load::<(i64, String, String, String, i32, String)>(conn)?
        .into_iter()
        .map(|(id, kind, filename, content_type, pages, sha256)| {
            let kind = DocRole::parse(&kind);
            DocumentView { id, kind, kind_label: kind.label(), filename, content_type, pages, sha256 }
        })
        .collect();
    let mode = Mode::of_row(&row.mode, row.request_id);
    Ok(PurchaseView {
        id: row.id,
        school_code: school.code.clone(),
        school_name: school.name.clone(),
        mode: mode.as_str(),
        mode_label: mode.label(),
        expenditure: row.request_id,
        supplier: row.supplier_name,
        supplier_registered: row.supplier_id.is_some(),
        delivered_on: row.delivered_on,
        invoice_no: row.invoice_no,
        amount: Fen::new(row.amount_fen),
        memo: row.memo,
        recorded_by: row.recorded_by,
        recorded_at: row.recorded_at,
        lines,
        documents,
        replayed: false,
    })
}

fn row_in_scope(conn: &mut DbConn, caller: &Caller, id: i64) -> AppResult<(Row, Org)> {
    caller.require(conn, Permission::ViewLedger, "purchase_view")?;
    purchases::table
        .inner_join(orgs::table)
        .filter(purchases::id.eq(id))
        .filter(orgs::path.like(caller.scope().like_pattern()))
        .select((Row::as_select(), Org::as_select()))
        .first(conn)
        .optional()?
        .ok_or_else(AppError::not_found)
}

/// One purchase in the caller's scope.
pub fn get(conn: &mut DbConn, caller: &Caller, id: i64) -> AppResult<PurchaseView> {
    let (row, school) = row_in_scope(conn, caller, id)?;
    view(conn, row, &school)
}

/// A purchase's document: (file name, content type, bytes).
pub fn document(conn: &mut DbConn, caller: &Caller, id: i64, attachment: i64) -> AppResult<(String, String, Vec<u8>)> {
    row_in_scope(conn, caller, id)?;
    let belongs: i64 = purchase_documents::table
        .filter(purchase_documents::purchase_id.eq(id))
        .filter(purchase_documents::attachment_id.eq(attachment))
        .count()
        .get_result(conn)?;
    if belongs == 0 {
        return Err(AppError::not_found());
    }
    document::load(conn, attachment)
}

/// A school's purchases of a period (newest first), with what each bought.
pub fn list(
    conn: &mut DbConn,
    caller: &Caller,
    org_code: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> AppResult<(Org, Vec<PurchaseView>)> {
    caller.require(conn, Permission::ViewLedger, "purchase_list")?;
    let org = org_in_scope(conn, caller.scope(), org_code)?;
    let rows: Vec<(Row, Org)> = purchases::table
        .inner_join(orgs::table)
        .filter(orgs::path.like(format!("{}%", org.path)))
        .filter(purchases::delivered_on.between(from, to))
        .order((purchases::delivered_on.desc(), purchases::id.desc()))
        .select((Row::as_select(), Org::as_select()))
        .limit(500)
        .load(conn)?;
    let out = rows.into_iter().map(|(r, s)| view(conn, r, &s)).collect::<AppResult<Vec<_>>>()?;
    Ok((org, out))
}

/// An expenditure of a school without documents, for the page that asks for them.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Undocumented {
    pub id: i64,
    pub school_code: String,
    pub school_name: String,
    pub date: NaiveDate,
    pub amount: Fen,
    pub category: String,
    pub voucher_no: String,
}

/// The meal-fund expenditures of the org's schools in a period that carry no document (posted
/// or waiting, not reversed): what rule A30 flags, and what the school is asked to complete.
pub fn undocumented(
    conn: &mut DbConn,
    caller: &Caller,
    org_code: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> AppResult<Vec<Undocumented>> {
    caller.require(conn, Permission::ViewLedger, "purchase_undocumented")?;
    let org = org_in_scope(conn, caller.scope(), org_code)?;
    Ok(undocumented_under(conn, &org.path, from, to)?
        .into_iter()
        .map(|(id, school_code, school_name, date, amount, category, voucher_no)| Undocumented {
            id,
            school_code,
            school_name,
            date,
            amount: Fen::new(amount),
            category,
            voucher_no,
        })
        .collect())
}

type UndocumentedRow = (i64, String, String, NaiveDate, i64, String, String);

/// The same, unscoped (the anomaly scan has checked its caller): by value date.
pub(crate) fn undocumented_under(
    conn: &mut DbConn,
    path: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> AppResult<Vec<UndocumentedRow>> {
    let documented = purchase_documents::table
        .inner_join(purchases::table)
        .filter(purchases::request_id.eq(ledger_requests::id.nullable()))
        .select(purchase_documents::attachment_id);
    let reversed = diesel::alias!(ledger_requests as reversal);
    Ok(ledger_requests::table
        .inner_join(fund_accounts::table.on(fund_accounts::id.nullable().eq(ledger_requests::from_account_id)))
        .inner_join(orgs::table.on(orgs::id.eq(fund_accounts::org_id)))
        .filter(orgs::path.like(format!("{path}%")))
        .filter(orgs::kind.eq(OrgKind::School.as_str()))
        .filter(fund_accounts::supplier_id.is_null())
        .filter(ledger_requests::kind.eq("expenditure"))
        .filter(ledger_requests::fund.eq(Fund::Meal.as_str()))
        .filter(ledger_requests::status.eq_any(["posted", "pending"]))
        .filter(ledger_requests::value_date.between(from, to))
        .filter(diesel::dsl::not(diesel::dsl::exists(documented)))
        .filter(diesel::dsl::not(diesel::dsl::exists(
            reversed
                .filter(reversed.field(ledger_requests::reverses_request_id).eq(ledger_requests::id.nullable()))
                .filter(reversed.field(ledger_requests::status).eq("posted"))
                .select(reversed.field(ledger_requests::id)),
        )))
        .order((ledger_requests::value_date.asc(), ledger_requests::id.asc()))
        .select((
            ledger_requests::id,
            orgs::code,
            orgs::name,
            ledger_requests::value_date,
            ledger_requests::amount_fen,
            ledger_requests::category,
            ledger_requests::voucher_no,
        ))
        .load(conn)?)
}
