//! Inspection pages and API: the stored flags of a term that people answer and decide
//! (`/inspections`), one flag with its history and the steps the caller may take, the immediate
//! scan of any period (`/inspections/scan`, `GET /api/v1/anomalies`), and the rules' thresholds
//! and severities (`/inspections/rules`).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::findings::{self, FindingView, NewFinding};
use super::flags::{self, StoredFlag};
use super::risk::{self, SchoolRisk};
use super::sample::{self, AskForm, PlanView};
use super::scan::{self, Scan};
use super::settings::{self, Change, Setting, Standing};
use super::summary;
use crate::auth::Caller;
use crate::auth::extract::{ApiUser, CsrfForm, PageUser};
use crate::domain::anomaly::{FlagState, Rule, RuleInfo, Severity};
use crate::domain::calendar::Span;
use crate::domain::role::Permission;
use crate::domain::sampling::VisitStatus;
use crate::domain::term::Term;
use crate::error::{AppError, AppResult, ErrorCode, ErrorKind};
use crate::exchange::jobs::Jobs;
use crate::registry::changes::{MAX_EVIDENCE, Upload};
use crate::web::api_doc::{Body, Created, FileReply, NewId, Reply};
use crate::web::strict::{ApiJson, ApiQuery};
use crate::web::{AppState, Flash, FormErrors, Layout, PageResult, Pager, html_page, see_other};

#[derive(Deserialize, schemars::JsonSchema)]
pub struct Query {
    #[serde(default)]
    org: String,
    #[serde(default)]
    period: String,
    #[serde(default)]
    rules: String,
}

/// Bad input and a lost race are shown in the form they came from; anything else is an error page.
fn shown_in_form(e: &AppError) -> bool {
    matches!(e.kind, ErrorKind::Invalid | ErrorKind::Conflict)
}

fn org_or_own(org: &str, caller: &Caller) -> String {
    if org.trim().is_empty() { caller.org_code.clone() } else { org.trim().to_owned() }
}

impl Query {
    /// The org (the caller's own when empty), the period (this term when empty) and the rules.
    fn parse(&self, caller: &Caller) -> AppResult<(String, Span, Vec<Rule>)> {
        let p = self.period.trim();
        let p = if p.is_empty() { Term::of_day(caller.today()).to_string() } else { p.to_owned() };
        let span = Span::parse(&p).map_err(|m| AppError::field("period", ErrorCode::PeriodFormat, m))?;
        Ok((org_or_own(&self.org, caller), span, scan::rules_from(&self.rules)?))
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "inspection/scan.html")]
pub struct ScanPage {
    layout: Layout,
    scan: Scan,
    rules: String,
    catalogue: Vec<RuleInfo>,
}

pub async fn scan_page(
    st: web::Data<AppState>,
    PageUser(caller): PageUser,
    q: web::Query<Query>,
) -> PageResult<ScanPage> {
    let q = q.into_inner();
    let (org, span, rules) = q.parse(&caller)?;
    let c = caller.clone();
    let scan = st.read(move |conn| scan::scan(conn, &c, &org, &span, &rules)).await?.shown();
    Ok(ScanPage {
        layout: Layout::new(&caller, &st, format!("即时扫描 {}", scan.period)),
        scan,
        rules: q.rules,
        catalogue: Rule::ALL.iter().map(|r| r.info()).collect(),
    })
}

pub async fn api(st: web::Data<AppState>, ApiUser(caller): ApiUser, q: ApiQuery<Query>) -> AppResult<Reply<impl Body>> {
    let (org, span, rules) = q.parse(&caller)?;
    let scan = st.read(move |conn| scan::scan(conn, &caller, &org, &span, &rules)).await?.shown();
    Ok(Reply(scan))
}

// ------------------------------------------------------------------------- stored flags

#[derive(Deserialize, schemars::JsonSchema)]
pub struct FlagsQuery {
    #[serde(default)]
    org: String,
    #[serde(default)]
    term: String,
    /// Every state, not only those asking for action.
    #[serde(default)]
    all: String,
    #[serde(default)]
    ok: Option<String>,
}

impl FlagsQuery {
    fn term(&self, caller: &Caller) -> AppResult<Term> {
        let t = self.term.trim();
        if t.is_empty() {
            return Ok(Term::of_day(caller.today()));
        }
        Term::parse(t).map_err(|m| AppError::field("term", ErrorCode::TermFormat, m))
    }

    fn pending_only(&self) -> bool {
        self.all.is_empty()
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "inspection/flags.html")]
pub struct FlagsPage {
    layout: Layout,
    org: String,
    org_name: String,
    term: String,
    term_label: String,
    all: bool,
    flags: Vec<StoredFlag>,
    /// (state label, count) over the list.
    counts: Vec<(&'static str, usize)>,
    may_trail: bool,
    flash: String,
}

fn counts(flags: &[StoredFlag]) -> Vec<(&'static str, usize)> {
    FlagState::ALL
        .iter()
        .map(|s| (s.label(), flags.iter().filter(|f| f.state == *s).count()))
        .filter(|(_, n)| *n > 0)
        .collect()
}

pub async fn flags_page(
    st: web::Data<AppState>,
    PageUser(caller): PageUser,
    q: web::Query<FlagsQuery>,
) -> PageResult<FlagsPage> {
    let q = q.into_inner();
    let term = q.term(&caller)?;
    let org = org_or_own(&q.org, &caller);
    let pending = q.pending_only();
    let c = caller.clone();
    let (org, flags) = st.run(move |conn| flags::list(conn, &c, &org, term, pending)).await?;
    let flash = Flash { ok: q.ok.clone(), n: None }.message();
    Ok(FlagsPage {
        layout: Layout::new(&caller, &st, format!("督查预警 {}", term.label())),
        org: org.code,
        org_name: org.name,
        term: term.to_string(),
        term_label: term.label(),
        all: !pending,
        counts: counts(&flags),
        flags,
        may_trail: caller.may(Permission::ReadAuditTrail),
        flash,
    })
}

pub async fn flags_api(
    st: web::Data<AppState>,
    ApiUser(caller): ApiUser,
    q: ApiQuery<FlagsQuery>,
) -> AppResult<Reply<impl Body>> {
    let term = q.term(&caller)?;
    let org = org_or_own(&q.org, &caller);
    let pending = q.pending_only();
    let (org, flags) = st.run(move |conn| flags::list(conn, &caller, &org, term, pending)).await?;
    Ok(Reply(FlagList { org: org.code, term: term.to_string(), flags }))
}

#[derive(Deserialize, schemars::JsonSchema)]
pub struct RefreshBody {
    #[serde(default)]
    org: String,
    #[serde(default)]
    term: String,
}

/// Rescans the county of `org` (or the caller's) for the term, now.
fn refresh_for(
    conn: &mut crate::db::DbConn,
    caller: &Caller,
    org: &str,
    term: Term,
) -> AppResult<(String, flags::Refreshed)> {
    let (asked, county) = flags::county_to_refresh(conn, caller, org)?;
    Ok((asked, flags::refresh(conn, &county, term)?))
}

/// The page's rescan runs as a job: a province's county may take a while, and the job page
/// shows its progress and what it changed, from any server.
pub async fn refresh_form(
    st: web::Data<AppState>,
    jobs: web::Data<Jobs>,
    f: CsrfForm<RefreshBody>,
) -> PageResult<HttpResponse> {
    let CsrfForm { user, form } = f;
    let term = Term::parse(form.term.trim()).map_err(|m| AppError::field("term", ErrorCode::TermFormat, m))?;
    let org = org_or_own(&form.org, &user);
    let input = crate::exchange::jobs::JobInput::Scan { org, term: term.to_string() };
    let job = crate::exchange::job_runs::start(st, jobs, user, input, None).await?;
    Ok(see_other(&format!("/jobs/{job}")))
}

pub async fn refresh_api(
    st: web::Data<AppState>,
    ApiUser(caller): ApiUser,
    body: ApiJson<RefreshBody>,
) -> AppResult<Reply<impl Body>> {
    let term = Term::parse(body.term.trim()).map_err(|m| AppError::field("term", ErrorCode::TermFormat, m))?;
    let org = org_or_own(&body.org, &caller);
    let (org, done) = st.run(move |conn| refresh_for(conn, &caller, &org, term)).await?;
    Ok(Reply(Refresh { org, term: term.to_string(), result: done }))
}

// ------------------------------------------------------------------------------ one flag

#[derive(Template, WebTemplate)]
#[template(path = "inspection/flag.html")]
pub struct FlagPage {
    layout: Layout,
    flag: StoredFlag,
    steps: Vec<flags::Step>,
    info: RuleInfo,
    /// The actions the caller may take now: (action, label).
    actions: Vec<(&'static str, &'static str)>,
    /// An inspector may take it up as a finding now.
    may_find: bool,
    errors: FormErrors,
    flash: String,
}

async fn flag_page(
    st: &web::Data<AppState>,
    caller: Caller,
    id: i64,
    errors: FormErrors,
    flash: String,
) -> AppResult<FlagPage> {
    let c = caller.clone();
    let (flag, steps) = st.run(move |conn| flags::get(conn, &c, id)).await?;
    let info = Rule::parse(&flag.rule).map(Rule::info).ok_or_else(AppError::not_found)?;
    Ok(FlagPage {
        layout: Layout::new(&caller, st, format!("预警 {} · {}", flag.rule, flag.school_name)),
        actions: flags::actions(&caller, &flag).into_iter().map(|a| (a.as_str(), a.label())).collect(),
        may_find: flags::may_take_up(&caller, &flag),
        flag,
        steps,
        info,
        errors,
        flash,
    })
}

pub async fn flag(
    st: web::Data<AppState>,
    PageUser(caller): PageUser,
    path: web::Path<i64>,
    flash: web::Query<Flash>,
) -> PageResult<FlagPage> {
    Ok(flag_page(&st, caller, path.into_inner(), FormErrors::none(), flash.message()).await?)
}

#[derive(Deserialize, schemars::JsonSchema)]
pub struct ActBody {
    #[serde(default)]
    action: String,
    #[serde(default)]
    note: String,
}

pub async fn act_form(st: web::Data<AppState>, path: web::Path<i64>, f: CsrfForm<ActBody>) -> PageResult<HttpResponse> {
    let CsrfForm { user, form } = f;
    let id = path.into_inner();
    let c = user.clone();
    match st.run(move |conn| flags::act(conn, &c, id, &form.action, &form.note)).await {
        Ok(_) => Ok(see_other(&format!("/inspections/flags/{id}?ok=saved"))),
        Err(e) if shown_in_form(&e) => html_page(
            StatusCode::UNPROCESSABLE_ENTITY,
            flag_page(&st, user, id, FormErrors::from_error(&e), String::new()).await?,
        ),
        Err(e) => Err(e.into()),
    }
}

pub async fn flag_api(
    st: web::Data<AppState>,
    ApiUser(caller): ApiUser,
    path: web::Path<i64>,
) -> AppResult<Reply<impl Body>> {
    let id = path.into_inner();
    let (flag, steps) = st.run(move |conn| flags::get(conn, &caller, id)).await?;
    Ok(Reply(FlagDetail { flag, history: steps }))
}

pub async fn act_api(
    st: web::Data<AppState>,
    ApiUser(caller): ApiUser,
    path: web::Path<i64>,
    body: ApiJson<ActBody>,
) -> AppResult<Reply<impl Body>> {
    let id = path.into_inner();
    let flag = st.run(move |conn| flags::act(conn, &caller, id, &body.action, &body.note)).await?;
    Ok(Reply(flag))
}

// ----------------------------------------------------------------------------- settings

#[derive(Deserialize, schemars::JsonSchema)]
pub struct OrgQuery {
    #[serde(default)]
    org: String,
    #[serde(default)]
    ok: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "inspection/rules.html")]
pub struct RulesPage {
    layout: Layout,
    org: String,
    rules: Vec<Standing>,
    history: Vec<Setting>,
    catalogue: Vec<RuleInfo>,
    severities: Vec<Severity>,
    may_set: bool,
    errors: FormErrors,
    flash: String,
}

async fn rules_page(
    st: &web::Data<AppState>,
    caller: Caller,
    org: String,
    errors: FormErrors,
    flash: String,
) -> AppResult<RulesPage> {
    let c = caller.clone();
    let o = org.clone();
    let (rules, history) = st.run(move |conn| settings::standing(conn, &c, &o)).await?;
    Ok(RulesPage {
        layout: Layout::new(&caller, st, "预警规则阈值与级别"),
        // What is set is always the caller's own org's rules: offered on its own page only.
        may_set: settings::may_set(&caller).is_ok() && org == caller.org_code,
        org,
        rules,
        history,
        catalogue: Rule::ALL.iter().map(|r| r.info()).collect(),
        severities: Severity::ALL.to_vec(),
        errors,
        flash,
    })
}

pub async fn rules(
    st: web::Data<AppState>,
    PageUser(caller): PageUser,
    q: web::Query<OrgQuery>,
) -> PageResult<RulesPage> {
    let org = org_or_own(&q.org, &caller);
    let flash = Flash { ok: q.ok.clone(), n: None }.message();
    Ok(rules_page(&st, caller, org, FormErrors::none(), flash).await?)
}

#[derive(Deserialize, schemars::JsonSchema)]
pub struct SettingBody {
    #[serde(default)]
    rule: String,
    #[serde(default)]
    threshold: Option<String>,
    #[serde(default)]
    severity: Option<String>,
    #[serde(default)]
    note: String,
}

impl SettingBody {
    fn change(self) -> Change {
        Change { rule: self.rule, threshold: self.threshold, severity: self.severity, note: self.note }
    }
}

pub async fn rules_set(st: web::Data<AppState>, f: CsrfForm<SettingBody>) -> PageResult<HttpResponse> {
    let CsrfForm { user, form } = f;
    let c = user.clone();
    match st.run(move |conn| settings::set(conn, &c, &form.change())).await {
        Ok(_) => Ok(see_other("/inspections/rules?ok=saved")),
        Err(e) if shown_in_form(&e) => {
            let org = user.org_code.clone();
            html_page(
                StatusCode::UNPROCESSABLE_ENTITY,
                rules_page(&st, user, org, FormErrors::from_error(&e), String::new()).await?,
            )
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn rules_api(
    st: web::Data<AppState>,
    ApiUser(caller): ApiUser,
    q: ApiQuery<OrgQuery>,
) -> AppResult<Reply<impl Body>> {
    let org = org_or_own(&q.org, &caller);
    let (rules, history) = st.run(move |conn| settings::standing(conn, &caller, &org)).await?;
    Ok(Reply(Rules { rules, history }))
}

pub async fn rules_set_api(
    st: web::Data<AppState>,
    ApiUser(caller): ApiUser,
    body: ApiJson<SettingBody>,
) -> AppResult<Created<impl Body>> {
    let change = body.into_inner().change();
    let set = st.run(move |conn| settings::set(conn, &caller, &change)).await?;
    Ok(Created::new(set))
}

// ------------------------------------------------------------------------------ risk list

#[derive(Template, WebTemplate)]
#[template(path = "inspection/risk.html")]
pub struct RiskPage {
    layout: Layout,
    org: String,
    org_name: String,
    term: String,
    term_label: String,
    schools: Vec<SchoolRisk>,
}

pub async fn risk_page(
    st: web::Data<AppState>,
    PageUser(caller): PageUser,
    q: web::Query<FlagsQuery>,
) -> PageResult<RiskPage> {
    let term = q.term(&caller)?;
    let org = org_or_own(&q.org, &caller);
    let c = caller.clone();
    let (org, schools) = st.run(move |conn| risk::ranked(conn, &c, &org, term)).await?;
    Ok(RiskPage {
        layout: Layout::new(&caller, &st, format!("风险排序 {}", term.label())),
        org: org.code,
        org_name: org.name,
        term: term.to_string(),
        term_label: term.label(),
        schools,
    })
}

pub async fn risk_api(
    st: web::Data<AppState>,
    ApiUser(caller): ApiUser,
    q: ApiQuery<FlagsQuery>,
) -> AppResult<Reply<impl Body>> {
    let term = q.term(&caller)?;
    let org = org_or_own(&q.org, &caller);
    let (org, schools) = st.run(move |conn| risk::ranked(conn, &caller, &org, term)).await?;
    Ok(Reply(RiskList { org: org.code, term: term.to_string(), schools }))
}

// ------------------------------------------------------------------------- spot checks

#[derive(Template, WebTemplate)]
#[template(path = "inspection/plans.html")]
pub struct PlansPage {
    layout: Layout,
    plans: Vec<sample::PlanRow>,
    may_draw: bool,
    form: AskForm,
    errors: FormErrors,
}

async fn plans_page(
    st: &web::Data<AppState>,
    caller: Caller,
    form: AskForm,
    errors: FormErrors,
) -> AppResult<PlansPage> {
    let c = caller.clone();
    let plans = st.run(move |conn| sample::list(conn, &c)).await?;
    Ok(PlansPage {
        layout: Layout::new(&caller, st, "抽查计划"),
        may_draw: caller.may(Permission::Inspect),
        plans,
        form,
        errors,
    })
}

pub async fn plans(st: web::Data<AppState>, PageUser(caller): PageUser) -> PageResult<PlansPage> {
    let form = AskForm {
        org: caller.org_code.clone(),
        term: Term::of_day(caller.today()).to_string(),
        schools: "5".into(),
        students: "10".into(),
        seed: rand::random::<u32>().to_string(),
        method: "mixed".into(),
        risk_share: "60".into(),
    };
    Ok(plans_page(&st, caller, form, FormErrors::none()).await?)
}

pub async fn plan_draw(st: web::Data<AppState>, f: CsrfForm<AskForm>) -> PageResult<HttpResponse> {
    let CsrfForm { user, form } = f;
    let c = user.clone();
    let typed = form.clone();
    let result = match form.parse() {
        Ok(ask) => st.run(move |conn| sample::plan(conn, &c, &ask)).await.map(|(id, _)| id),
        Err(e) => Err(e),
    };
    match result {
        Ok(id) => Ok(see_other(&format!("/inspections/plans/{id}?ok=created"))),
        Err(e) if shown_in_form(&e) => {
            html_page(StatusCode::UNPROCESSABLE_ENTITY, plans_page(&st, user, typed, FormErrors::from_error(&e)).await?)
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "inspection/plan.html")]
pub struct PlanPage {
    layout: Layout,
    plan: PlanView,
    may_inspect: bool,
    flash: String,
}

pub async fn plan(
    st: web::Data<AppState>,
    PageUser(caller): PageUser,
    path: web::Path<i64>,
    flash: web::Query<Flash>,
) -> PageResult<PlanPage> {
    let id = path.into_inner();
    let c = caller.clone();
    let plan = st.run(move |conn| sample::get(conn, &c, id, false)).await?;
    Ok(PlanPage {
        layout: Layout::new(&caller, &st, format!("抽查计划 {id}")),
        may_inspect: caller.may(Permission::Inspect),
        plan,
        flash: flash.message(),
    })
}

/// The visit sheet prints the children's numbers in full: the inspector must find them.
pub async fn visit_sheet(
    st: web::Data<AppState>,
    PageUser(caller): PageUser,
    path: web::Path<(i64, i64)>,
) -> PageResult<HttpResponse> {
    let (id, visit) = path.into_inner();
    let (name, bytes) = st
        .run(move |conn| {
            caller.require(conn, Permission::Inspect, "visit_sheet")?;
            let plan = sample::get(conn, &caller, id, true)?;
            let out = crate::exchange::visit_sheet::sheet(&plan, visit)?;
            crate::audit::record_alone(
                conn,
                &caller.actor(),
                crate::audit::Entry::new("inspection.visit_sheet", "visit", visit)
                    .after(&serde_json::json!({"plan": id})),
            )?;
            Ok(out)
        })
        .await?;
    Ok(crate::web::download(bytes, &name, crate::web::PDF))
}

/// The report of a recorded visit, for whoever may see the plan (学籍号 masked): the children
/// checked, the recount and the findings the visit opened.
async fn report_pdf(st: &AppState, caller: Caller, id: i64, visit: i64) -> AppResult<HttpResponse> {
    let (name, bytes) = st
        .run(move |conn| {
            let plan = sample::get(conn, &caller, id, false)?;
            let term = Term::parse(&plan.term).map_err(|m| AppError::invalid(ErrorCode::TermFormat, m))?;
            let (_, list) = findings::list(conn, &caller, &plan.county, term)?;
            let opened: Vec<FindingView> = list.into_iter().filter(|f| f.visit_id == Some(visit)).collect();
            crate::exchange::visit_sheet::report(&plan, visit, &opened)
        })
        .await?;
    Ok(crate::web::download(bytes, &name, crate::web::PDF))
}

pub async fn visit_report(
    st: web::Data<AppState>,
    PageUser(caller): PageUser,
    path: web::Path<(i64, i64)>,
) -> PageResult<HttpResponse> {
    let (id, visit) = path.into_inner();
    Ok(report_pdf(&st, caller, id, visit).await?)
}

pub async fn visit_report_api(
    st: web::Data<AppState>,
    ApiUser(caller): ApiUser,
    path: web::Path<(i64, i64)>,
) -> AppResult<FileReply> {
    let (id, visit) = path.into_inner();
    report_pdf(&st, caller, id, visit).await.map(FileReply)
}

pub async fn sample_api(
    st: web::Data<AppState>,
    ApiUser(caller): ApiUser,
    q: ApiQuery<AskForm>,
) -> AppResult<Reply<impl Body>> {
    let ask = q.into_inner().parse()?;
    let drawn = st.run(move |conn| sample::draw(conn, &caller, &ask)).await?.shown();
    Ok(Reply(drawn))
}

pub async fn plan_draw_api(
    st: web::Data<AppState>,
    ApiUser(caller): ApiUser,
    body: ApiJson<AskForm>,
) -> AppResult<Created<impl Body>> {
    let ask = body.into_inner().parse()?;
    let (id, drawn) = st.run(move |conn| sample::plan(conn, &caller, &ask)).await?;
    Ok(Created::new(NewPlan { id, drawn: drawn.shown() }))
}

pub async fn plan_api(
    st: web::Data<AppState>,
    ApiUser(caller): ApiUser,
    path: web::Path<i64>,
) -> AppResult<Reply<impl Body>> {
    let id = path.into_inner();
    let plan = st.run(move |conn| sample::get(conn, &caller, id, false)).await?;
    Ok(Reply(plan))
}

// ------------------------------------------------------------------------------ findings

#[derive(Template, WebTemplate)]
#[template(path = "inspection/findings.html")]
pub struct FindingsPage {
    layout: Layout,
    org: String,
    org_name: String,
    term: String,
    term_label: String,
    findings: Vec<FindingView>,
    summary: summary::Summary,
    may_record: bool,
    form: NewFinding,
    errors: FormErrors,
}

async fn findings_page(
    st: &web::Data<AppState>,
    caller: Caller,
    org: String,
    term: Term,
    form: NewFinding,
    errors: FormErrors,
) -> AppResult<FindingsPage> {
    let c = caller.clone();
    let (org, list, summary) = st
        .run(move |conn| {
            let (org, list) = findings::list(conn, &c, &org, term)?;
            let summary = summary::of(conn, &c, &org.code, term)?;
            Ok((org, list, summary))
        })
        .await?;
    Ok(FindingsPage {
        layout: Layout::new(&caller, st, format!("督查问题 {}", term.label())),
        may_record: caller.may(Permission::Inspect),
        org: org.code,
        org_name: org.name,
        term: term.to_string(),
        term_label: term.label(),
        findings: list,
        summary,
        form,
        errors,
    })
}

pub async fn findings_list(
    st: web::Data<AppState>,
    PageUser(caller): PageUser,
    q: web::Query<FlagsQuery>,
) -> PageResult<FindingsPage> {
    let term = q.term(&caller)?;
    let org = org_or_own(&q.org, &caller);
    let form = NewFinding { term: term.to_string(), ..NewFinding::default() };
    Ok(findings_page(&st, caller, org, term, form, FormErrors::none()).await?)
}

fn uploads(form: &crate::web::upload::UploadForm) -> Vec<Upload> {
    form.files
        .iter()
        .filter(|f| f.field == "evidence" && !f.bytes.is_empty())
        .map(|f| Upload { filename: f.filename.clone(), bytes: f.bytes.clone() })
        .collect()
}

fn new_finding(form: &crate::web::upload::UploadForm) -> NewFinding {
    let id = |name: &str| form.text(name).trim().parse::<i64>().ok();
    NewFinding {
        school: form.text("school").to_owned(),
        term: form.text("term").to_owned(),
        rule: form.text("rule").to_owned(),
        severity: form.text("severity").to_owned(),
        description: form.text("description").to_owned(),
        amount: form.text("amount").to_owned(),
        flag_id: id("flag_id"),
        visit_id: id("visit_id"),
        complaint_id: id("complaint_id"),
    }
}

pub async fn finding_record(
    st: web::Data<AppState>,
    PageUser(caller): PageUser,
    req: actix_web::HttpRequest,
    form: actix_multipart::Multipart,
) -> PageResult<HttpResponse> {
    let form = crate::web::upload::read_page_form(&st, &caller, &req, form, 4 * (MAX_EVIDENCE + 64 * 1024)).await?;
    let (typed, files) = (new_finding(&form), uploads(&form));
    let (c, t) = (caller.clone(), typed.clone());
    match st.run(move |conn| findings::record(conn, &c, &t, &files)).await {
        Ok(id) => Ok(see_other(&format!("/inspections/findings/{id}?ok=created"))),
        Err(e) if shown_in_form(&e) => {
            let term = Term::parse(typed.term.trim()).unwrap_or_else(|_| Term::of_day(caller.today()));
            let org = caller.org_code.clone();
            let page = findings_page(&st, caller, org, term, typed, FormErrors::from_error(&e)).await?;
            html_page(StatusCode::UNPROCESSABLE_ENTITY, page)
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "inspection/finding.html")]
pub struct FindingPage {
    layout: Layout,
    f: FindingView,
    steps: Vec<flags::Step>,
    actions: Vec<(&'static str, &'static str)>,
    may_link: bool,
    /// The caller's org may take the money back (a county's finance, nothing linked yet).
    may_recover: bool,
    /// The caller may open a registry correction from here.
    may_correct: bool,
    /// One per form shown: submitting the recovery twice posts once.
    key: String,
    today: String,
    errors: FormErrors,
    flash: String,
}

async fn finding_page(
    st: &web::Data<AppState>,
    caller: Caller,
    id: i64,
    errors: FormErrors,
    flash: String,
) -> AppResult<FindingPage> {
    let c = caller.clone();
    let (f, steps, recoverable) = st
        .run(move |conn| {
            let (f, steps) = findings::get(conn, &c, id)?;
            let open = findings::recovery_open(conn, &f)?;
            Ok((f, steps, open))
        })
        .await?;
    Ok(FindingPage {
        layout: Layout::new(&caller, st, format!("督查问题 {id}")),
        actions: findings::steps_for(&caller, &f),
        may_link: caller.may(Permission::Inspect),
        may_recover: findings::may_recover(&caller, &f, recoverable).is_ok(),
        may_correct: findings::may_correct(&caller, &f).is_ok(),
        key: crate::ledger::fund::new_key(),
        today: caller.today().to_string(),
        f,
        steps,
        errors,
        flash,
    })
}

pub async fn finding(
    st: web::Data<AppState>,
    PageUser(caller): PageUser,
    path: web::Path<i64>,
    flash: web::Query<Flash>,
) -> PageResult<FindingPage> {
    Ok(finding_page(&st, caller, path.into_inner(), FormErrors::none(), flash.message()).await?)
}

/// After a step or a link on a finding's page: back to the page, or the page again with what was
/// refused.
async fn after_finding_form<T>(
    st: &web::Data<AppState>,
    user: Caller,
    id: i64,
    result: AppResult<T>,
) -> PageResult<HttpResponse> {
    match result {
        Ok(_) => Ok(see_other(&format!("/inspections/findings/{id}?ok=saved"))),
        Err(e) if shown_in_form(&e) => html_page(
            StatusCode::UNPROCESSABLE_ENTITY,
            finding_page(st, user, id, FormErrors::from_error(&e), String::new()).await?,
        ),
        Err(e) => Err(e.into()),
    }
}

pub async fn finding_step(
    st: web::Data<AppState>,
    path: web::Path<i64>,
    f: CsrfForm<findings::StepForm>,
) -> PageResult<HttpResponse> {
    let CsrfForm { user, form } = f;
    let id = path.into_inner();
    let c = user.clone();
    let result = st.run(move |conn| findings::step(conn, &c, id, &form)).await;
    after_finding_form(&st, user, id, result).await
}

pub async fn finding_link(
    st: web::Data<AppState>,
    path: web::Path<i64>,
    f: CsrfForm<findings::LinkForm>,
) -> PageResult<HttpResponse> {
    let CsrfForm { user, form } = f;
    let id = path.into_inner();
    let c = user.clone();
    let result = st.run(move |conn| findings::link(conn, &c, id, &form)).await;
    after_finding_form(&st, user, id, result).await
}

pub async fn finding_recover(
    st: web::Data<AppState>,
    path: web::Path<i64>,
    f: CsrfForm<findings::RecoverForm>,
) -> PageResult<HttpResponse> {
    let CsrfForm { user, form } = f;
    let id = path.into_inner();
    let c = user.clone();
    let result = st.run(move |conn| findings::recover(conn, &c, id, &form)).await;
    after_finding_form(&st, user, id, result).await
}

/// `?finding=N` on a registry form opened from a finding.
#[derive(Debug, Default, Deserialize)]
pub struct FromFinding {
    #[serde(default)]
    pub finding: Option<i64>,
}

#[derive(Deserialize)]
pub struct CorrectQuery {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    student_no: String,
}

/// From a finding to the registry form that corrects one of its school's students, carrying the
/// finding so that what is submitted there is linked back.
pub async fn finding_correct(
    st: web::Data<AppState>,
    PageUser(caller): PageUser,
    path: web::Path<i64>,
    q: web::Query<CorrectQuery>,
) -> PageResult<HttpResponse> {
    let id = path.into_inner();
    let kind = findings::Link::parse(&q.kind)?;
    let (c, no) = (caller.clone(), q.student_no.clone());
    match st.run(move |conn| findings::student_of(conn, &c, id, &no)).await {
        Ok(student) => Ok(see_other(&match kind {
            findings::Link::Status => format!("/students/{student}/status-changes/new?finding={id}"),
            _ => format!("/students/{student}/change-request?finding={id}"),
        })),
        Err(e) if shown_in_form(&e) => html_page(
            StatusCode::UNPROCESSABLE_ENTITY,
            finding_page(&st, caller, id, FormErrors::from_error(&e), String::new()).await?,
        ),
        Err(e) => Err(e.into()),
    }
}

pub async fn finding_recover_api(
    st: web::Data<AppState>,
    ApiUser(caller): ApiUser,
    path: web::Path<i64>,
    body: ApiJson<findings::RecoverForm>,
) -> AppResult<Reply<impl Body>> {
    let id = path.into_inner();
    let posted = st.run(move |conn| findings::recover(conn, &caller, id, &body)).await?;
    Ok(Reply(posted))
}

pub async fn finding_evidence(
    st: web::Data<AppState>,
    PageUser(caller): PageUser,
    path: web::Path<(i64, i64)>,
) -> PageResult<HttpResponse> {
    let (id, att) = path.into_inner();
    let (name, kind, bytes) = st.run(move |conn| findings::evidence(conn, &caller, id, att)).await?;
    Ok(crate::web::download(bytes, &name, &kind))
}

/// Evidence in a JSON body: a file name and its bytes in base64.
#[derive(Deserialize, schemars::JsonSchema)]
pub struct EvidenceJson {
    #[serde(default)]
    filename: String,
    #[serde(default)]
    base64: String,
}

#[derive(Deserialize, schemars::JsonSchema)]
pub struct FindingJson {
    #[serde(flatten)]
    finding: NewFinding,
    #[serde(default)]
    evidence: Vec<EvidenceJson>,
}

pub async fn finding_record_api(
    st: web::Data<AppState>,
    ApiUser(caller): ApiUser,
    body: ApiJson<FindingJson>,
) -> AppResult<Created<impl Body>> {
    use base64::Engine;
    let body = body.into_inner();
    let mut files = Vec::new();
    for (i, e) in body.evidence.iter().enumerate() {
        let bytes = base64::engine::general_purpose::STANDARD.decode(e.base64.trim()).map_err(|_| {
            AppError::field("evidence", ErrorCode::FindingEvidence, format!("第{}个证据文件不是有效的base64", i + 1))
        })?;
        if bytes.len() > MAX_EVIDENCE {
            return Err(AppError::field(
                "evidence",
                ErrorCode::FindingEvidence,
                format!("第{}个证据文件超过5MB", i + 1),
            ));
        }
        files.push(Upload { filename: e.filename.clone(), bytes });
    }
    let f = body.finding;
    let id = st.run(move |conn| findings::record(conn, &caller, &f, &files)).await?;
    Ok(Created::new(NewId { id }))
}

pub async fn findings_api(
    st: web::Data<AppState>,
    ApiUser(caller): ApiUser,
    q: ApiQuery<FlagsQuery>,
) -> AppResult<Reply<impl Body>> {
    let term = q.term(&caller)?;
    let org = org_or_own(&q.org, &caller);
    let (org, list, summary) = st
        .run(move |conn| {
            let (org, list) = findings::list(conn, &caller, &org, term)?;
            let summary = summary::of(conn, &caller, &org.code, term)?;
            Ok((org, list, summary))
        })
        .await?;
    Ok(Reply(FindingList { org: org.code, term: term.to_string(), findings: list, summary }))
}

pub async fn finding_api(
    st: web::Data<AppState>,
    ApiUser(caller): ApiUser,
    path: web::Path<i64>,
) -> AppResult<Reply<impl Body>> {
    let id = path.into_inner();
    let (f, steps) = st.run(move |conn| findings::get(conn, &caller, id)).await?;
    Ok(Reply(FindingDetail { finding: f, history: steps }))
}

pub async fn finding_step_api(
    st: web::Data<AppState>,
    ApiUser(caller): ApiUser,
    path: web::Path<i64>,
    body: ApiJson<findings::StepForm>,
) -> AppResult<Reply<impl Body>> {
    let id = path.into_inner();
    let f = st.run(move |conn| findings::step(conn, &caller, id, &body)).await?;
    Ok(Reply(f))
}

pub async fn finding_link_api(
    st: web::Data<AppState>,
    ApiUser(caller): ApiUser,
    path: web::Path<i64>,
    body: ApiJson<findings::LinkForm>,
) -> AppResult<Reply<impl Body>> {
    let id = path.into_inner();
    let f = st.run(move |conn| findings::link(conn, &caller, id, &body)).await?;
    Ok(Reply(f))
}

pub async fn visit_record(
    st: web::Data<AppState>,
    path: web::Path<i64>,
    f: CsrfForm<std::collections::BTreeMap<String, String>>,
) -> PageResult<HttpResponse> {
    let CsrfForm { user, form } = f;
    let visit = path.into_inner();
    let plan: i64 = form.get("plan").and_then(|p| p.parse().ok()).unwrap_or(0);
    let typed = super::visits::VisitForm::from_fields(&form);
    let done = st.run(move |conn| super::visits::record(conn, &user, visit, &typed)).await?;
    Ok(match done {
        Some(finding) => see_other(&format!("/inspections/findings/{finding}?ok=created")),
        None => see_other(&format!("/inspections/plans/{plan}?ok=saved")),
    })
}

pub async fn visit_record_api(
    st: web::Data<AppState>,
    ApiUser(caller): ApiUser,
    path: web::Path<i64>,
    body: ApiJson<super::visits::VisitForm>,
) -> AppResult<Reply<impl Body>> {
    let visit = path.into_inner();
    let finding = st.run(move |conn| super::visits::record(conn, &caller, visit, &body)).await?;
    Ok(Reply(VisitRecorded { visit, finding }))
}

// --------------------------------------------------------------------------- audit trail

#[derive(Template, WebTemplate)]
#[template(path = "inspection/trail.html")]
pub struct TrailPage {
    layout: Layout,
    school: Option<crate::org::model::Org>,
    rows: Vec<super::trail::TrailRow>,
    q: super::trail::TrailQuery,
    pager: Pager,
    errors: FormErrors,
}

pub async fn trail_page(
    st: web::Data<AppState>,
    PageUser(caller): PageUser,
    q: web::Query<super::trail::TrailQuery>,
) -> PageResult<HttpResponse> {
    let q = q.into_inner();
    let (c, asked) = (caller.clone(), q.clone());
    let (found, errors) = match st.run(move |conn| super::trail::trail(conn, &c, &asked)).await {
        Ok(found) => (found, FormErrors::none()),
        Err(e) if shown_in_form(&e) => ((None, Vec::new()), FormErrors::from_error(&e)),
        Err(e) => return Err(e.into()),
    };
    let status = if errors.any() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    html_page(
        status,
        TrailPage {
            layout: Layout::new(&caller, &st, "操作记录"),
            school: found.0,
            pager: Pager::open_ended(
                "/inspections/audit",
                &[("school", &q.school), ("action", &q.action), ("actor", &q.actor)],
                q.page.unwrap_or(1).max(1),
                found.1.len(),
                crate::audit::browse::PAGE_SIZE,
            ),
            rows: found.1,
            q,
            errors,
        },
    )
}

pub async fn trail_api(
    st: web::Data<AppState>,
    ApiUser(caller): ApiUser,
    q: ApiQuery<super::trail::TrailQuery>,
) -> AppResult<Reply<impl Body>> {
    let (school, rows) = st.run(move |conn| super::trail::trail(conn, &caller, &q)).await?;
    Ok(Reply(Trail { school: school.map(|s| s.code), rows }))
}

// ------------------------------------------------------------------------- API answers

/// A county's flags for a term.
#[derive(Serialize, JsonSchema)]
pub struct FlagList {
    org: String,
    term: String,
    flags: Vec<flags::StoredFlag>,
}

/// What a scan found and changed.
#[derive(Serialize, JsonSchema)]
pub struct Refresh {
    org: String,
    term: String,
    result: flags::Refreshed,
}

/// A flag and the steps taken on it.
#[derive(Serialize, JsonSchema)]
pub struct FlagDetail {
    flag: flags::StoredFlag,
    history: Vec<flags::Step>,
}

/// The rules standing for an org, and the settings that made them so.
#[derive(Serialize, JsonSchema)]
pub struct Rules {
    rules: Vec<settings::Standing>,
    history: Vec<settings::Setting>,
}

/// A county's schools ranked by risk for a term.
#[derive(Serialize, JsonSchema)]
pub struct RiskList {
    org: String,
    term: String,
    schools: Vec<risk::SchoolRisk>,
}

/// A new spot-check plan: its number and the schools and children drawn.
#[derive(Serialize, JsonSchema)]
pub struct NewPlan {
    id: i64,
    #[serde(flatten)]
    drawn: sample::Sample,
}

/// A county's findings for a term, with the counts by state.
#[derive(Serialize, JsonSchema)]
pub struct FindingList {
    org: String,
    term: String,
    findings: Vec<FindingView>,
    summary: summary::Summary,
}

/// A finding and the steps taken on it.
#[derive(Serialize, JsonSchema)]
pub struct FindingDetail {
    finding: FindingView,
    history: Vec<flags::Step>,
}

/// A recorded visit, and the finding it opened if the recount differed.
#[derive(Serialize, JsonSchema)]
pub struct VisitRecorded {
    visit: i64,
    finding: Option<i64>,
}

/// One school's trail (or the county's when no school is named).
#[derive(Serialize, JsonSchema)]
pub struct Trail {
    school: Option<String>,
    rows: Vec<super::trail::TrailRow>,
}
