//! Pages for the fund ledger: accounts and balances, the posting form (one key per form shown,
//! so a double click posts once), approvals by a second person, reversals, an account's
//! entries with their hashes, and the chain check.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;

use super::api::parse_month;
use super::fund::{self, Account, EntryView, Party, PostingForm, Request, RequestFilter, RequestKind, Verification};
use crate::auth::Caller;
use crate::auth::extract::{CsrfForm, PageUser};
use crate::domain::ledger::{Category, Fund, RequestStatus};
use crate::domain::role::Permission;
use crate::error::{AppError, ErrorCode, ErrorKind};
use crate::web::{AppState, Flash, FormErrors, Layout, PageResult, Pager, confirm, html_page, see_other};
use strum::IntoEnumIterator;

#[derive(Template, WebTemplate)]
#[template(path = "ledger/fund.html")]
pub struct FundPage {
    layout: Layout,
    flash: String,
    errors: FormErrors,
    accounts: Vec<Account>,
    requests: Vec<Request>,
    total: i64,
    filter: RequestFilter,
    pager: Pager,
    /// Whom a posting can name (code, name); none past the picker's limit (codes are typed).
    parties: Option<Vec<Party>>,
    threshold: String,
    kinds: Vec<(&'static str, &'static str)>,
    statuses: Vec<(&'static str, &'static str)>,
    categories: Vec<&'static str>,
    form: PostingForm,
    key: String,
    own_code: String,
    can: fund::LedgerActions,
}

/// Requests per page of the ledger's list.
const PAGE_SIZE: i64 = 50;
/// Above this many orgs and suppliers in scope the posting form takes typed codes.
const PARTY_PICKER_LIMIT: i64 = 400;

async fn fund_page(
    st: &AppState,
    caller: Caller,
    flash: String,
    errors: FormErrors,
    form: PostingForm,
    filter: RequestFilter,
) -> PageResult<FundPage> {
    let (c, f) = (caller.clone(), filter.clone());
    let (accounts, (requests, total), threshold, parties) = st
        .run(move |conn| {
            let path: String = {
                use crate::db::schema::orgs;
                use diesel::prelude::*;
                orgs::table.find(c.org_id).select(orgs::path).first(conn)?
            };
            Ok((
                fund::accounts(conn, &c)?,
                fund::list_requests(conn, &c, &f, PAGE_SIZE)?,
                fund::threshold_for(conn, &path)?,
                fund::parties(conn, &c, PARTY_PICKER_LIMIT)?,
            ))
        })
        .await?;
    let form = PostingForm {
        date: if form.date.is_empty() { caller.today().to_string() } else { form.date },
        from: if form.from.is_empty() && form.kind.is_empty() { caller.org_code.clone() } else { form.from },
        ..form
    };
    let query = filter.to_query();
    let query: Vec<(&str, &str)> = query.iter().map(|(k, v)| (*k, v.as_str())).collect();
    Ok(FundPage {
        layout: Layout::new(&caller, st, "资金台账"),
        flash,
        errors,
        accounts,
        requests,
        total,
        pager: Pager::counted("/ledger", &query, filter.page.unwrap_or(1).max(1), total, PAGE_SIZE),
        filter,
        parties,
        threshold: threshold.to_string(),
        kinds: [
            RequestKind::Receipt,
            RequestKind::Allocation,
            RequestKind::Expenditure,
            RequestKind::Recovery,
            RequestKind::Reversal,
        ]
        .into_iter()
        .map(|k| (k.as_str(), k.label()))
        .collect(),
        statuses: RequestStatus::iter().map(|s| (s.as_str(), s.label())).collect(),
        categories: Fund::ALL.iter().flat_map(|f| Category::allowed(*f)).map(|c| c.as_str()).collect(),
        form,
        // A fresh key each time the form is shown: resubmitting this one posts nothing new.
        key: fund::new_key(),
        own_code: caller.org_code.clone(),
        can: fund::ledger_actions(&caller),
    })
}

impl FundPage {
    /// The kinds a posting can be (a reversal is made from its row, never typed).
    fn posting_kinds(&self) -> impl Iterator<Item = &(&'static str, &'static str)> {
        self.kinds.iter().filter(|(k, _)| *k != RequestKind::Reversal.as_str())
    }
}

pub async fn page(
    st: web::Data<AppState>,
    PageUser(caller): PageUser,
    flash: web::Query<Flash>,
    filter: web::Query<RequestFilter>,
) -> PageResult<FundPage> {
    if !caller.may(Permission::ViewLedger) {
        return Err(AppError::forbidden().into());
    }
    fund_page(&st, caller, flash.message(), FormErrors::none(), PostingForm::default(), filter.into_inner()).await
}

#[derive(Deserialize, schemars::JsonSchema)]
pub struct ActionForm {
    action: String,
    // A string: flattened forms reach serde as strings only.
    #[serde(default)]
    id: String,
    #[serde(default)]
    reason: String,
    #[serde(default, alias = "period")]
    month: String,
    /// The approval threshold (the posting's own amount is in `posting`).
    #[serde(default)]
    threshold: String,
    /// "1" once the confirmation step was answered (`web::confirm`).
    #[serde(default)]
    confirmed: String,
    #[serde(flatten)]
    posting: PostingForm,
}

/// Every ledger form posts here with its `action`; errors come back beside the form.
pub async fn act(st: web::Data<AppState>, f: CsrfForm<ActionForm>) -> PageResult<HttpResponse> {
    let CsrfForm { user, form } = f;
    if form.action == "close" && !confirm::confirmed(&form.confirmed) {
        let month = parse_month(&form.month)?;
        let what = format!("结账：{}资金台账 {month}", user.org_name);
        let ask = confirm::Ask {
            what: &what,
            consequence: "结账后不能再记入该月（包括冲销）；需要更正的，记入之后未结账的月份。",
            action: "/ledger",
            fields: &[("action", "close"), ("month", &form.month)],
            button: "确认结账",
            back: "/ledger",
        };
        return confirm::page(Layout::new(&user, &st, "确认结账"), &ask);
    }
    let id: i64 = form.id.trim().parse().unwrap_or(0);
    if form.action == "approve" && !confirm::confirmed(&form.confirmed) {
        let c = user.clone();
        let r = st.run(move |conn| fund::request(conn, &c, id)).await?;
        let what = format!(
            "审批入账：第{}号 {} {}元，{} → {}（经办 {}）",
            r.id,
            r.kind_label,
            r.amount,
            r.from_name.as_deref().unwrap_or("—"),
            r.to_name.as_deref().unwrap_or("—"),
            r.maker_name
        );
        let ask = confirm::Ask {
            what: &what,
            consequence: "审批后即记入账户、计入余额，不能撤回；记错了只能另做冲销。",
            action: "/ledger",
            fields: &[("action", "approve"), ("id", &form.id)],
            button: "确认审批入账",
            back: "/ledger?status=pending",
        };
        return confirm::page(Layout::new(&user, &st, "确认审批入账"), &ask);
    }
    let c = user.clone();
    let shown = form.posting.clone();
    let result = st
        .run(move |conn| match form.action.as_str() {
            "post" => {
                let r = fund::post(conn, &c, &form.posting)?;
                Ok((if r.replayed { "replayed" } else { r.status.as_str() }, Some(r.id)))
            }
            "approve" => fund::approve(conn, &c, id).map(|r| ("approved", Some(r.id))),
            "reject" => fund::reject(conn, &c, id, &form.reason).map(|r| ("rejected", Some(r.id))),
            "reverse" => {
                let r = fund::reverse(conn, &c, id, &form.reason, &form.posting.key)?;
                Ok((if r.replayed { "replayed" } else { r.status.as_str() }, Some(r.id)))
            }
            "threshold" => fund::set_threshold(conn, &c, &form.threshold).map(|_| ("saved", None)),
            "close" => fund::close_month(conn, &c, parse_month(&form.month)?).map(|_| ("saved", None)),
            _ => Err(AppError::field("action", ErrorCode::LedgerAction, "未知操作")),
        })
        .await;
    match result {
        Ok((ok, Some(n))) => Ok(see_other(&format!("/ledger?ok={ok}&n={n}#request-{n}"))),
        Ok((ok, None)) => Ok(see_other(&format!("/ledger?ok={ok}"))),
        Err(e) if matches!(e.kind, ErrorKind::Invalid | ErrorKind::Conflict) => html_page(
            StatusCode::UNPROCESSABLE_ENTITY,
            fund_page(&st, user, String::new(), FormErrors::from_error(&e), shown, RequestFilter::default()).await?,
        ),
        Err(e) => Err(e.into()),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "ledger/account.html")]
pub struct AccountPage {
    layout: Layout,
    account: Account,
    entries: Vec<EntryView>,
}

pub async fn account(
    st: web::Data<AppState>,
    PageUser(caller): PageUser,
    path: web::Path<String>,
) -> PageResult<AccountPage> {
    let code = path.into_inner();
    let c = caller.clone();
    let (account, entries) = st.run(move |conn| fund::entries(conn, &c, &code)).await?;
    Ok(AccountPage { layout: Layout::new(&caller, &st, format!("{} 账户", account.holder)), account, entries })
}

#[derive(Template, WebTemplate)]
#[template(path = "ledger/verify.html")]
pub struct VerifyPage {
    layout: Layout,
    v: Verification,
}

pub async fn verify(st: web::Data<AppState>, PageUser(caller): PageUser) -> PageResult<VerifyPage> {
    let c = caller.clone();
    let settings = st.settings.clone();
    let v = st.run(move |conn| fund::verify_anchored(conn, &c, &settings)).await?;
    Ok(VerifyPage { layout: Layout::new(&caller, &st, "分录链核验"), v })
}
