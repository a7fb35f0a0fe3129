//! What a page offers is what the service allows (issue 20, step 1). For each workflow, every
//! role meets the workflow's rows in each state; the actions the row's view offers that role are
//! then tried through the service, each on a fresh row in the same state, and a try succeeds
//! exactly when it was offered.

use crate::common;

use actix_web::body::MessageBody;
use actix_web::test;
use base64::Engine;
use chrono::NaiveDate;
use common::*;
use mealroll::auth::Caller;
use mealroll::error::ErrorCode;
use mealroll::ledger::fund::{self, PostingForm, RequestActions};
use serde_json::{Value, json};

/// Holds a try to the offer: the service takes it exactly when the page offered it.
fn assert_agrees<T>(offered: bool, outcome: mealroll::error::AppResult<T>, what: &str) {
    let said = outcome.as_ref().err().map(|e| e.code);
    assert_eq!(outcome.is_ok(), offered, "{what}: offered {offered}, service said {said:?}");
}

/// The order a walk tries people in on one row: those not offered the action first (a refusal
/// leaves the row as it was), then those offered it, each after the first on a fresh row (the
/// third field).
fn in_try_order(mut offers: Vec<(&str, bool)>) -> Vec<(&str, bool, bool)> {
    offers.sort_by_key(|(_, offered)| *offered);
    let mut used = false;
    offers
        .into_iter()
        .map(|(person, offered)| {
            let fresh = offered && used;
            used |= offered;
            (person, offered, fresh)
        })
        .collect()
}

fn posting(kind: &str, from: &str, to: &str, amount: &str, category: &str) -> PostingForm {
    PostingForm {
        kind: kind.into(),
        fund: "meal".into(),
        from: from.into(),
        to: to.into(),
        amount: amount.into(),
        date: "2026-09-10".into(),
        category: category.into(),
        voucher_no: "T-1".into(),
        memo: "中央财政 黔财教〔2026〕12号".into(),
        ..PostingForm::default()
    }
}

/// The states a ledger request meets people in, and how to make a fresh one of each.
#[derive(Debug, Clone, Copy)]
enum LedgerState {
    /// A county receipt above the threshold, made by caiwu, waiting for a second person.
    CountyPending,
    /// A school expenditure above the threshold, made by school A's principal.
    SchoolPending,
    /// An allocation from the county to school A, posted at once.
    Posted,
    /// A county receipt refused by a second person.
    Rejected,
    /// A posted reversal of an allocation.
    Reversal,
    /// An allocation whose reversal is posted.
    Reversed,
}

fn make(w: &World, state: LedgerState) -> i64 {
    let mut conn = w.conn();
    let caiwu = w.caller("caiwu");
    let post = |conn: &mut _, who: &Caller, f: PostingForm| fund::post(conn, who, &f).expect("post").id;
    match state {
        LedgerState::CountyPending => post(&mut conn, &caiwu, posting("receipt", "", COUNTY, "60000", "")),
        LedgerState::SchoolPending => {
            post(&mut conn, &w.caller("a.xiaozhang"), posting("expenditure", SCHOOL_A, "", "60000", "粮油"))
        }
        LedgerState::Posted => post(&mut conn, &caiwu, posting("allocation", COUNTY, SCHOOL_A, "100", "")),
        LedgerState::Rejected => {
            let id = make(w, LedgerState::CountyPending);
            fund::reject(&mut conn, &w.caller("caiwu2"), id, "凭证不全").expect("reject");
            id
        }
        LedgerState::Reversal | LedgerState::Reversed => {
            let id = make(w, LedgerState::Posted);
            let reversal = fund::reverse(&mut conn, &caiwu, id, "拨错学校", "").expect("reverse");
            assert_eq!(reversal.status, mealroll::domain::ledger::RequestStatus::Posted);
            if matches!(state, LedgerState::Reversal) { reversal.id } else { id }
        }
    }
}

/// What `who` is offered for request `id` on the ledger list (nothing when it is not listed).
fn offered(w: &World, who: &Caller, id: i64) -> RequestActions {
    let list = fund::requests(&mut w.conn(), who, None).unwrap_or_default();
    list.into_iter().find(|r| r.id == id).map(|r| r.actions).unwrap_or_default()
}

#[actix_web::test]
async fn ledger_requests_offer_exactly_what_the_service_allows() {
    for db in TestDb::all() {
        let label = db.label;
        let w = World::new(db);
        add_user(&w, "caiwu", COUNTY, "finance");
        add_user(&w, "caiwu2", COUNTY, "finance");
        add_user(&w, "a.yingyang", SCHOOL_A, "nutrition_officer");
        let cli = Caller::cli(&mut w.conn()).expect("cli");
        fund::set_threshold(&mut w.conn(), &w.caller("caiwu"), "50000").expect("threshold");
        fund::post(&mut w.conn(), &cli, &posting("receipt", "", COUNTY, "10000000", "")).expect("fund the county");
        fund::post(&mut w.conn(), &cli, &posting("allocation", COUNTY, SCHOOL_A, "5000000", "")).expect("fund A");

        let people = ["caiwu", "caiwu2", "yyb", "ducha", "a.xiaozhang", "a.yingyang", "b.xiaozhang", "yyb2"];
        let states = [
            LedgerState::CountyPending,
            LedgerState::SchoolPending,
            LedgerState::Posted,
            LedgerState::Rejected,
            LedgerState::Reversal,
            LedgerState::Reversed,
        ];
        let mut offered_any = RequestActions::default();
        for person in people {
            let who = w.caller(person);
            for state in states {
                let shown = offered(&w, &who, make(&w, state));
                let mut conn = w.conn();
                let approve = fund::approve(&mut conn, &who, make(&w, state));
                let reject = fund::reject(&mut conn, &who, make(&w, state), "金额有误");
                let reverse = fund::reverse(&mut conn, &who, make(&w, state), "记错", "");
                for (action, shown, outcome) in [
                    ("approve", shown.approve, approve.map(|_| ())),
                    ("reject", shown.reject, reject.map(|_| ())),
                    ("reverse", shown.reverse, reverse.map(|_| ())),
                ] {
                    assert_agrees(shown, outcome, &format!("{label}: {person} on a {state:?} request, {action}"));
                }
                offered_any.approve |= shown.approve;
                offered_any.reject |= shown.reject;
                offered_any.reverse |= shown.reverse;
            }
        }
        // The walk met every action at least once, so the agreement above is not vacuous.
        assert_eq!(offered_any, RequestActions { approve: true, reject: true, reverse: true }, "{label}");
    }
}

/// The states a change request meets people in.
#[derive(Debug, Clone, Copy)]
enum ChangeState {
    Submitted,
    SchoolApproved,
    Approved,
    Rejected,
}

/// A fresh change request in `state`: the `n`th new confirmed student of school A, whose locked
/// name the registrar asks to correct.
async fn change_request<B: MessageBody>(app: &impl TestApp<B>, w: &World, n: usize, state: ChangeState) -> i64 {
    const CHARS: [char; 10] = ['甲', '乙', '丙', '丁', '戊', '己', '庚', '辛', '壬', '癸'];
    let (registrar, principal, county) = (bearer(w, "a.xueji"), bearer(w, "a.xiaozhang"), bearer(w, "yyb"));
    let name = format!("王{}{}", CHARS[n / 10 % 10], CHARS[n % 10]);
    let body = format!("522326201905{:02}{:03}", 1 + n / 500, 2 * (n % 500));
    let post = |uri: &str, body: Value| test::TestRequest::post().uri(uri).set_json(body);
    let (s, v) = call(
        app,
        post(&format!("/api/v1/schools/{SCHOOL_A}/students"), student(&name, &body, &body_birth(&body), "女")),
        &registrar,
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let student = v["id"].as_i64().expect("id");
    let (s, v) = call(app, post("/api/v1/students/confirm", json!({"ids": [student]})), &county).await;
    assert_eq!(s, 200, "{v}");
    let evidence = json!({"filename": "户口簿.pdf", "content_base64": base64::engine::general_purpose::STANDARD
        .encode(b"%PDF-1.4\n% household register scan\n%%EOF\n")});
    let (s, v) = call(
        app,
        post(
            &format!("/api/v1/students/{student}/change-requests"),
            json!({"changes": {"name": format!("李{}", &name[3..])}, "reason": "以户口簿为准", "evidence": evidence}),
        ),
        &registrar,
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let id = v["id"].as_i64().expect("id");
    let decide = |approve: bool| {
        post(&format!("/api/v1/change-requests/{id}/decision"), json!({"approve": approve, "note": "核对"}))
    };
    match state {
        ChangeState::Submitted => {}
        ChangeState::SchoolApproved => assert_eq!(call(app, decide(true), &principal).await.0, 200),
        ChangeState::Approved => {
            assert_eq!(call(app, decide(true), &principal).await.0, 200);
            assert_eq!(call(app, decide(true), &county).await.0, 200);
        }
        ChangeState::Rejected => assert_eq!(call(app, decide(false), &principal).await.0, 200),
    }
    id
}

fn body_birth(body17: &str) -> String {
    format!("{}-{}-{}", &body17[6..10], &body17[10..12], &body17[12..14])
}

#[actix_web::test]
async fn change_requests_offer_a_decision_exactly_when_the_service_takes_it() {
    for db in TestDb::all() {
        let label = db.label;
        let w = World::new(db);
        let app = test::init_service(mealroll::app::app(w.state())).await;
        // The lock in force since yesterday (or 1 September), so names change only by request.
        let today = mealroll::clock::today();
        let year = mealroll::domain::key_lock::school_year_of(today);
        let date = (today - chrono::Duration::days(1)).max(chrono::NaiveDate::from_ymd_opt(year, 9, 1).expect("date"));
        let (s, v) = call(
            &app,
            test::TestRequest::put().uri("/api/v1/key-locks").set_json(json!({"school_year": year, "lock_date": date})),
            &bearer(&w, "yyb"),
        )
        .await;
        assert_eq!(s, 200, "{label}: {v}");

        let people = ["a.xueji", "a.xiaozhang", "b.xiaozhang", "yyb", "ducha", "yyb2", "xitong"];
        let states =
            [ChangeState::Submitted, ChangeState::SchoolApproved, ChangeState::Approved, ChangeState::Rejected];
        let (mut n, mut offered_count) = (0, 0);
        for person in people {
            let who = bearer(&w, person);
            for state in states {
                n += 1;
                let id = change_request(&app, &w, n, state).await;
                let (_, list) = call(&app, test::TestRequest::get().uri("/api/v1/change-requests"), &who).await;
                let shown = list
                    .as_array()
                    .and_then(|l| l.iter().find(|r| r["id"] == id))
                    .is_some_and(|r| r["actions"]["decide"] == true);
                n += 1;
                let id = change_request(&app, &w, n, state).await;
                let (s, v) = call(
                    &app,
                    test::TestRequest::post()
                        .uri(&format!("/api/v1/change-requests/{id}/decision"))
                        .set_json(json!({"approve": true, "note": "同意"})),
                    &who,
                )
                .await;
                assert_eq!(
                    s == 200,
                    shown,
                    "{label}: {person} on a {state:?} request: offered {shown}, service said {s} {v}"
                );
                offered_count += usize::from(shown);
            }
        }
        // The principal at the school's step and the county at its step: the walk is not vacuous.
        assert_eq!(offered_count, 2, "{label}");
        // Filtered by its state; a misspelt state is refused, not read as "every state".
        let yyb = bearer(&w, "yyb");
        let (_, open) =
            call(&app, test::TestRequest::get().uri("/api/v1/change-requests?status=school_approved"), &yyb).await;
        let states: Vec<&str> = open.as_array().expect("list").iter().filter_map(|r| r["status"].as_str()).collect();
        assert!(!states.is_empty() && states.iter().all(|s| *s == "school_approved"), "{label}: {open}");
        let (s, v) = call(&app, test::TestRequest::get().uri("/api/v1/change-requests?status=aproved"), &yyb).await;
        assert_eq!((s, v["error"].as_str()), (422, Some("input.malformed_query")), "{label}: {v}");
        assert!(v["message"].as_str().is_some_and(|m| m.contains("“aproved”")), "{label}: {v}");
    }
}

/// A new confirmed student of school A's first grade (compulsory education), born 2019, at
/// school since `since`.
async fn confirmed_pupil<B: MessageBody>(app: &impl TestApp<B>, w: &World, n: usize, since: NaiveDate) -> i64 {
    let body = format!("522326201906{:02}{:03}", 1 + n / 500, 2 * (n % 500));
    let post = |uri: &str, body: Value| test::TestRequest::post().uri(uri).set_json(body);
    let mut record = student("赵小禾", &body, &body_birth(&body), "女");
    record["enrolled_on"] = json!(since);
    record["backdate_reason"] = json!("测试：开学后补录");
    let (s, v) = call(app, post(&format!("/api/v1/schools/{SCHOOL_A}/students"), record), &bearer(w, "a.xueji")).await;
    assert_eq!(s, 201, "{v}");
    let id = v["id"].as_i64().expect("id");
    let (s, v) = call(app, post("/api/v1/students/confirm", json!({"ids": [id]})), &bearer(w, "yyb")).await;
    assert_eq!(s, 200, "{v}");
    id
}

#[actix_web::test]
async fn the_status_change_form_offers_the_kinds_the_service_takes() {
    use mealroll::domain::status::{ALL_KINDS, ChangeKind};
    use mealroll::registry::changes::Upload;
    use mealroll::registry::status::{self, ChangeInput};
    for db in TestDb::all() {
        let label = db.label;
        let w = World::new(db);
        let app = test::init_service(mealroll::app::app(w.state())).await;
        let cli = Caller::cli(&mut w.conn()).expect("cli");
        second_class(&w);
        let registrar = w.caller("a.xueji");
        let today = mealroll::clock::today();
        let input = |kind: ChangeKind, on: NaiveDate| ChangeInput {
            kind: kind.code().into(),
            effective_date: on.to_string(),
            reason: "测试".into(),
            to_class_no: "202602".into(),
        };
        let evidence = Upload {
            filename: "证明.pdf".into(),
            bytes: b"%PDF-1.4\n%\xe2\xe3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n".to_vec(),
        };
        // Everyone by a kind the service could take from a pupil at school, and from one suspended.
        let mut n = 0;
        for suspended in [false, true] {
            let fresh = async |n: usize| {
                let id = confirmed_pupil(&app, &w, n, today - chrono::Days::new(20)).await;
                if suspended {
                    let on = today - chrono::Days::new(10);
                    let c = status::request(&mut w.conn(), &registrar, id, &input(ChangeKind::Suspend, on), None)
                        .expect("suspend");
                    for who in ["a.xiaozhang", "yyb"] {
                        if status::get(&mut w.conn(), &cli, c.id).expect("change").status
                            == mealroll::domain::status::ChangeStatus::Open
                        {
                            status::decide(&mut w.conn(), &w.caller(who), c.id, true, "同意").expect("approve");
                        }
                    }
                }
                id
            };
            n += 1;
            let offered = status::kinds_open(&mut w.conn(), &registrar, fresh(n).await).expect("kinds");
            for kind in ALL_KINDS.into_iter().filter(|k| *k != ChangeKind::Transfer) {
                n += 1;
                let id = fresh(n).await;
                let outcome = status::request(&mut w.conn(), &registrar, id, &input(kind, today), Some(&evidence));
                assert_agrees(
                    offered.contains(&kind),
                    outcome,
                    &format!("{label}: suspended {suspended}, {kind:?} among {offered:?}"),
                );
            }
            // Whom the chain's first step does not name is offered nothing, and refused: the
            // principal and the county review changes, they do not open them.
            for who in ["a.xiaozhang", "yyb"] {
                n += 1;
                let id = fresh(n).await;
                let caller = w.caller(who);
                let theirs = status::kinds_open(&mut w.conn(), &caller, id).expect("kinds");
                assert!(theirs.is_empty(), "{label}: {who} offered {theirs:?}");
                let outcome = status::request(&mut w.conn(), &caller, id, &input(ChangeKind::Other, today), None);
                assert_agrees(false, outcome, &format!("{label}: {who} opening 其他"));
            }
            // One change at a time: with one open, nothing more is offered.
            n += 1;
            let id = fresh(n).await;
            status::request(&mut w.conn(), &registrar, id, &input(ChangeKind::Other, today), None).expect("open one");
            let more = status::kinds_open(&mut w.conn(), &registrar, id).expect("kinds");
            assert!(more.is_empty(), "{label}: offered {more:?} beside an open change");
            let again = status::request(&mut w.conn(), &registrar, id, &input(ChangeKind::Suspend, today), None);
            assert_agrees(false, again, &format!("{label}: a second change"));
            // Never 退学 or 开除 in a compulsory grade; 复学 only from 休学.
            assert!(!offered.contains(&ChangeKind::Withdraw) && !offered.contains(&ChangeKind::Expel), "{label}");
            assert_eq!(offered.contains(&ChangeKind::Resume), suspended, "{label}: {offered:?}");
        }
    }
}

/// The states an account meets its administrators in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AccountState {
    /// A county account, which binds a second factor.
    ActiveWithTotp,
    /// A school registrar's account, which has none.
    ActiveNoTotp,
    Disabled,
    /// Unused for too long (封存).
    Sealed,
    /// Locked after failed logins.
    Locked,
    /// Created by the 系统管理员, waiting for the 安全管理员's grant.
    Pending,
}

/// A fresh account in `state`, named `acct{n}`.
fn account(w: &World, n: usize, state: AccountState) -> (i64, String) {
    use diesel::prelude::*;
    use mealroll::auth::service::{self as accounts, AccountAction, NewUser};
    use mealroll::db::schema::users;
    let mut conn = w.conn();
    let cli = Caller::cli(&mut conn).expect("cli");
    let now = mealroll::clock::now();
    let username = format!("acct{n:03}");
    let (org, role) =
        if state == AccountState::ActiveWithTotp { (COUNTY, "nutrition_office") } else { (SCHOOL_A, "registrar") };
    let pending = state == AccountState::Pending;
    let creator = if pending { w.caller("xitong") } else { cli.clone() };
    let user = NewUser {
        username: username.clone(),
        display_name: format!("测试 {username}"),
        org_code: org.into(),
        roles: vec![role.into()],
        password: (!pending).then(|| PASSWORD.into()),
    };
    let id = accounts::create_user(&mut conn, &w.keys, &creator, &user, now).expect("user").user_id;
    match state {
        AccountState::Disabled => {
            accounts::act_on_user(&mut conn, &w.keys, &cli, id, AccountAction::Disable, now).expect("disable");
        }
        AccountState::Sealed => {
            diesel::update(users::table.find(id)).set(users::status.eq("sealed")).execute(&mut conn).expect("seal");
        }
        AccountState::Locked => {
            diesel::update(users::table.find(id))
                .set(users::locked_until.eq(Some(now + chrono::Duration::hours(1))))
                .execute(&mut conn)
                .expect("lock");
        }
        _ => {}
    }
    (id, username)
}

#[actix_web::test]
async fn the_user_list_offers_an_account_action_exactly_when_the_service_takes_it() {
    use mealroll::auth::service::{self as accounts, AccountAction, UserFilter};
    for db in TestDb::all() {
        let label = db.label;
        let w = World::new(db);
        let now = mealroll::clock::now();
        let people = ["xitong", "anquan", "shenji", "yyb", "a.xiaozhang"];
        let states = [
            AccountState::ActiveWithTotp,
            AccountState::ActiveNoTotp,
            AccountState::Disabled,
            AccountState::Sealed,
            AccountState::Locked,
            AccountState::Pending,
        ];
        let actions = [
            AccountAction::ResetPassword,
            AccountAction::Disable,
            AccountAction::Enable,
            AccountAction::Unlock,
            AccountAction::ResetTotp,
        ];
        let pick = |a: &mealroll::auth::account_actions::AccountActions, action: AccountAction| match action {
            AccountAction::ResetPassword => a.reset_password,
            AccountAction::Disable => a.disable,
            AccountAction::Enable => a.enable,
            AccountAction::Unlock => a.unlock,
            AccountAction::ResetTotp => a.reset_totp,
            _ => false,
        };
        let (mut n, mut offered_count) = (0, 0);
        for state in states {
            for action in actions {
                n += 1;
                let (mut target, name) = account(&w, n, state);
                // Each person's offer on a fresh account; those refused are tried first (a refusal
                // leaves the account as it was), then each offered one on an account of its own.
                let offers: Vec<(&str, bool)> = people
                    .iter()
                    .map(|p| {
                        let list = accounts::list_users(&mut w.conn(), &w.caller(p), &UserFilter { q: name.clone() })
                            .unwrap_or_default();
                        (*p, list.iter().find(|u| u.id == target).is_some_and(|u| pick(&u.actions, action)))
                    })
                    .collect();
                for (person, offered, fresh) in in_try_order(offers) {
                    if fresh {
                        n += 1;
                        target = account(&w, n, state).0;
                    }
                    let outcome = accounts::act_on_user(&mut w.conn(), &w.keys, &w.caller(person), target, action, now);
                    assert_agrees(offered, outcome, &format!("{label}: {person} on a {state:?} account, {action:?}"));
                    offered_count += usize::from(offered);
                }
            }
        }
        // 重置动态口令 only for an account that has one; nothing at all on a pending account.
        assert!(offered_count >= 8, "{label}: {offered_count}");
        let (no_totp, _) = account(&w, 900, AccountState::ActiveNoTotp);
        let e =
            accounts::act_on_user(&mut w.conn(), &w.keys, &w.caller("anquan"), no_totp, AccountAction::ResetTotp, now)
                .expect_err("nothing to reset");
        assert_eq!(e.code, ErrorCode::UserNoTotp, "{label}");
    }
}

#[actix_web::test]
async fn requests_waiting_for_a_second_officer_are_offered_to_whom_the_service_lets_decide() {
    use mealroll::auth::service::{self as accounts, AccountAction};
    for db in TestDb::all() {
        let label = db.label;
        let w = World::new(db);
        let now = mealroll::clock::now();
        add_user(&w, "xitong2", COUNTY, "sysadmin");
        let xitong2 = account_id(&w, "xitong2");
        let (pending, _) = account(&w, 1, AccountState::Pending);
        let xitong = w.caller("xitong");
        accounts::act_on_user(&mut w.conn(), &w.keys, &xitong, xitong2, AccountAction::Disable, now)
            .expect("asks for the disabling");
        for person in ["xitong", "anquan", "shenji", "xitong2"] {
            let who = w.caller(person);
            let requests = accounts::open_requests(&mut w.conn(), &who).expect("requests");
            let offered =
                |user: i64| requests.iter().find(|r| r.user_id == user).map(|r| r.actions).unwrap_or_default();
            // Refusals first: each leaves the request open for the next person.
            let tries = [
                (pending, AccountAction::Grant, offered(pending).grant),
                (xitong2, AccountAction::ConfirmDisable, offered(xitong2).confirm_disable),
                (xitong2, AccountAction::RefuseRequest, offered(xitong2).refuse),
                (pending, AccountAction::RefuseRequest, offered(pending).refuse),
            ];
            for (target, action, _) in tries.into_iter().filter(|t| !t.2) {
                let outcome = accounts::act_on_user(&mut w.conn(), &w.keys, &who, target, action, now);
                assert!(outcome.is_err(), "{label}: {person} {action:?} was not offered yet the service took it");
            }
            let expected: &[(i64, AccountAction)] = match person {
                "anquan" => &[(pending, AccountAction::Grant), (xitong2, AccountAction::ConfirmDisable)],
                "shenji" => &[(xitong2, AccountAction::ConfirmDisable)],
                _ => &[],
            };
            let shown: Vec<(i64, AccountAction)> = tries
                .iter()
                .filter(|t| t.2)
                .map(|t| (t.0, t.1))
                .filter(|t| t.1 != AccountAction::RefuseRequest)
                .collect();
            assert_eq!(shown, expected, "{label}: {person}");
        }
        // Offered is taken: the 安全管理员 grants, the 审计管理员 confirms the disabling.
        accounts::act_on_user(&mut w.conn(), &w.keys, &w.caller("anquan"), pending, AccountAction::Grant, now)
            .expect("grant");
        accounts::act_on_user(&mut w.conn(), &w.keys, &w.caller("shenji"), xitong2, AccountAction::ConfirmDisable, now)
            .expect("confirm");
    }
}

fn account_id(w: &World, username: &str) -> i64 {
    use diesel::prelude::*;
    use mealroll::db::schema::users;
    users::table.filter(users::username.eq(username)).select(users::id).first(&mut w.conn()).expect("user")
}

/// The states a roster version meets people in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RosterState {
    Draft,
    Signed,
    /// Reviewed by the county, with the guardians' signed scan uploaded.
    Reviewed,
}

/// A fresh current roster version of school A in `state`: one more child makes its content, and
/// so its version, new.
async fn roster_in<B: MessageBody>(app: &impl TestApp<B>, w: &World, term: &str, n: usize, state: RosterState) -> i64 {
    enrolled(app, w, SCHOOL_A, "孙小麦", &format!("52232620190101{:03}", 2 * n + 1)).await;
    let principal = bearer(w, "a.xiaozhang");
    // A version after an archived one is built knowingly (it must go through the chain again).
    let body = json!({"school": SCHOOL_A, "term": term, "after_archive": true});
    let (s, v) = call(app, test::TestRequest::post().uri("/api/v1/rosters").set_json(body), &principal).await;
    assert_eq!(s, 201, "{v}");
    let id = v["roster"]["id"].as_i64().expect("id");
    let step =
        |s: &str| test::TestRequest::post().uri(&format!("/api/v1/rosters/{id}/step")).set_json(json!({"step": s}));
    if state != RosterState::Draft {
        assert_eq!(call(app, step("sign"), &principal).await.0, 200);
    }
    if state == RosterState::Reviewed {
        assert_eq!(call(app, step("review"), &bearer(w, "yyb")).await.0, 200);
        let page = jpeg(60, 80);
        let (s, v) = post_multipart(
            app,
            &principal,
            &format!("/api/v1/rosters/{id}/scan"),
            &[("scan", Some("第1页.jpg"), page.as_slice())],
        )
        .await;
        assert_eq!(s, 201, "{v}");
    }
    id
}

#[actix_web::test]
async fn a_roster_offers_each_step_exactly_when_the_service_takes_it() {
    use mealroll::domain::roster::Step;
    use mealroll::programme::roster;
    for db in TestDb::all() {
        let label = db.label;
        let w = World::new(db);
        let app = test::init_service(mealroll::app::app(w.state())).await;
        let (term, _) = past_term();
        school_a_in_programme(&app, &bearer(&w, "yyb"), &term).await;
        let people = ["a.xiaozhang", "a.xueji", "b.xiaozhang", "yyb", "ducha", "yyb2"];
        let moves = [Some(Step::Sign), Some(Step::Review), Some(Step::Archive), Some(Step::Return), None];
        let (mut n, mut offered_count) = (0, 0);
        for state in [RosterState::Draft, RosterState::Signed, RosterState::Reviewed] {
            for step in moves {
                n += 1;
                let mut id = roster_in(&app, &w, &term, n, state).await;
                let offers: Vec<(&str, bool)> = people
                    .iter()
                    .map(|p| {
                        let who = w.caller(p);
                        let can = roster::head_of(&mut w.conn(), &who, id).map(|h| roster::actions(&who, &h));
                        let can = can.unwrap_or_default();
                        let shown = match step {
                            Some(Step::Sign) => can.sign,
                            Some(Step::Review) => can.review,
                            Some(Step::Archive) => can.archive,
                            Some(Step::Return) => can.send_back,
                            None => can.discard,
                        };
                        (*p, shown)
                    })
                    .collect();
                for (person, shown, fresh) in in_try_order(offers) {
                    if fresh {
                        n += 1;
                        id = roster_in(&app, &w, &term, n, state).await;
                    }
                    let who = w.caller(person);
                    let outcome = match step {
                        Some(s) => roster::step(&mut w.conn(), &who, id, s, "名单有误").map(|_| ()),
                        None => roster::discard(&mut w.conn(), &who, id),
                    };
                    assert_agrees(shown, outcome, &format!("{label}: {person} on a {state:?} roster, {step:?}"));
                    offered_count += usize::from(shown);
                }
            }
        }
        // 签章 (draft), 审核 (signed), 备案 (reviewed), 退回 (signed, reviewed), deleting a draft.
        assert!(offered_count >= 6, "{label}: {offered_count}");
    }
}

#[actix_web::test]
async fn a_flag_offers_each_action_exactly_when_the_service_takes_it() {
    use diesel::prelude::*;
    use mealroll::db::schema::{anomaly_flags, orgs};
    use mealroll::domain::anomaly::{FlagAction, FlagState};
    use mealroll::inspection::flags;
    for db in TestDb::all() {
        let label = db.label;
        let w = World::new(db);
        let app = test::init_service(mealroll::app::app(w.state())).await;
        // A programme school with no roster signed by the deadline: A08 is flagged at once.
        let (term, _) = past_term();
        school_a_in_programme(&app, &bearer(&w, "yyb"), &term).await;
        let (s, v) = call(
            &app,
            test::TestRequest::post()
                .uri("/api/v1/anomaly-flags/refresh")
                .set_json(json!({"org": COUNTY, "term": term})),
            &bearer(&w, "ducha"),
        )
        .await;
        assert_eq!(s, 200, "{label}: {v}");
        let id: i64 = anomaly_flags::table
            .inner_join(orgs::table)
            .filter(orgs::code.eq(SCHOOL_A))
            .select(anomaly_flags::id)
            .first(&mut w.conn())
            .expect("a flag at school A");
        let people = ["a.xiaozhang", "a.xueji", "b.xiaozhang", "yyb", "ducha", "yyb2"];
        let actions = [FlagAction::Explain, FlagAction::Accept, FlagAction::Reject, FlagAction::Dismiss];
        let mut offered_count = 0;
        for state in FlagState::ALL {
            for action in actions {
                for person in people {
                    // The flag put back in `state` before each try (what a try changes).
                    diesel::update(anomaly_flags::table.find(id))
                        .set(anomaly_flags::state.eq(state.as_str()))
                        .execute(&mut w.conn())
                        .expect("state");
                    let who = w.caller(person);
                    let shown = flags::get(&mut w.conn(), &who, id)
                        .is_ok_and(|(flag, _)| flags::actions(&who, &flag).contains(&action));
                    let outcome = flags::act(&mut w.conn(), &who, id, action.as_str(), "已核实");
                    assert_agrees(shown, outcome, &format!("{label}: {person} on a {state:?} flag, {action:?}"));
                    offered_count += usize::from(shown);
                }
            }
        }
        // The school explains, the county accepts or rejects, the inspector dismisses.
        assert!(offered_count >= 4, "{label}: {offered_count}");
    }
}

/// The states a complaint meets its readers in.
#[derive(Debug, Clone, Copy)]
enum ComplaintState {
    Received,
    Answered,
    TakenUp,
}

#[actix_web::test]
async fn a_complaint_offers_its_answer_and_its_finding_exactly_when_the_service_takes_them() {
    use mealroll::inspection::findings::{self, NewFinding};
    use mealroll::meals::complaints::{self, ComplaintForm};
    for db in TestDb::all() {
        let label = db.label;
        let w = World::new(db);
        let term = mealroll::domain::term::Term::of_day(mealroll::clock::today()).to_string();
        let finding = |id: i64| NewFinding {
            school: SCHOOL_A.into(),
            term: term.clone(),
            rule: "complaint".into(),
            description: "群众举报：饭菜未煮熟".into(),
            complaint_id: Some(id),
            ..Default::default()
        };
        let complaint = |state: ComplaintState| {
            let form = ComplaintForm {
                school: SCHOOL_A.into(),
                category: "quality".into(),
                content: "中午的饭菜没有煮熟".into(),
                name: "韦某".into(),
                contact: "0859-4612345".into(),
                ..Default::default()
            };
            let id = complaints::enter(&mut w.conn(), &w.caller("yyb"), &form).expect("complaint");
            match state {
                ComplaintState::Received => {}
                ComplaintState::Answered => {
                    complaints::answer(&mut w.conn(), &w.caller("yyb"), id, "已核实整改").expect("answer");
                }
                ComplaintState::TakenUp => {
                    findings::record(&mut w.conn(), &w.caller("ducha"), &finding(id), &[]).expect("taken up");
                }
            }
            id
        };
        let mut offered = 0;
        for state in [ComplaintState::Received, ComplaintState::Answered, ComplaintState::TakenUp] {
            for person in ["a.xiaozhang", "a.xueji", "yyb", "ducha"] {
                let who = w.caller(person);
                // Answering, on a complaint of its own.
                let id = complaint(state);
                let shown = complaints::get(&mut w.conn(), &who, id).is_ok_and(|c| c.actions.answer);
                let outcome = complaints::answer(&mut w.conn(), &who, id, "已核实");
                assert_agrees(shown, outcome, &format!("{label}: {person} answering a {state:?} complaint"));
                offered += usize::from(shown);
                // Taking it up as a finding, on another.
                let id = complaint(state);
                let shown = complaints::get(&mut w.conn(), &who, id).is_ok_and(|c| c.actions.take_up);
                let outcome = findings::record(&mut w.conn(), &who, &finding(id), &[]);
                assert_agrees(shown, outcome, &format!("{label}: {person} taking up a {state:?} complaint"));
                offered += usize::from(shown);
            }
        }
        // The office answers what is unanswered; the inspector takes up what is not yet a finding.
        assert_eq!(offered, 4, "{label}");
    }
}

/// A computed month offers 结账 to whoever the service lets close it: the county's computing
/// roles while it is open, no one once closed (一补's terms share the same rule).
#[actix_web::test]
async fn a_computed_month_offers_closing_exactly_when_the_service_takes_it() {
    use mealroll::domain::calendar::Month;
    use mealroll::ledger::entitlement;
    for db in TestDb::all() {
        let label = db.label;
        let w = World::new(db);
        let app = test::init_service(mealroll::app::app(w.state())).await;
        add_user(&w, "caiwu", COUNTY, "finance");
        add_user(&w, "a.yingyang", SCHOOL_A, "nutrition_officer");
        let (term, start) = past_term();
        school_a_in_programme(&app, &bearer(&w, "yyb"), &term).await;
        // The term's months, each a fresh period when a try needs one.
        let mut months = std::iter::successors(Some(Month::of(start)), |m| Some(m.next())).take(5);
        let mut fresh = |closed: bool| {
            let m = months.next().expect("a month left");
            let cli = Caller::cli(&mut w.conn()).expect("cli");
            entitlement::compute(&mut w.conn(), &cli, SCHOOL_A, m).expect("computed");
            if closed {
                entitlement::close(&mut w.conn(), &cli, SCHOOL_A, m).expect("closed");
            }
            m
        };
        let shown = |who: &Caller, m: Month| {
            let listed = entitlement::periods(&mut w.conn(), who, m).unwrap_or_default();
            listed.iter().find(|p| p.school == SCHOOL_A).is_some_and(|p| p.actions.close)
        };
        let people = ["yyb", "caiwu", "ducha", "a.yingyang", "a.xiaozhang", "yyb2"];
        let mut closers = Vec::new();
        for closed in [false, true] {
            let mut m = fresh(closed);
            let offers = people.iter().map(|p| (*p, shown(&w.caller(p), m))).collect();
            for (person, offered, new_row) in in_try_order(offers) {
                if new_row {
                    m = fresh(closed);
                    assert!(shown(&w.caller(person), m), "{label}: {person} is offered the fresh month too");
                }
                let outcome = entitlement::close(&mut w.conn(), &w.caller(person), SCHOOL_A, m);
                assert_agrees(offered, outcome, &format!("{label}: {person} closing a month (closed: {closed})"));
                if offered {
                    closers.push(person);
                }
            }
        }
        assert_eq!(closers, ["yyb", "caiwu"], "{label}: the county's computing roles, on an open month");
    }
}

/// The student list ticks a box for 确认入库 exactly where the service would confirm: for the
/// county's confirming role, on a pending record only (a problem record must be resolved first).
#[actix_web::test]
async fn the_student_list_offers_confirmation_exactly_when_the_service_takes_it() {
    use mealroll::registry::service::{self, StudentFilter};
    for db in TestDb::all() {
        let label = db.label;
        let w = World::new(db);
        let app = test::init_service(mealroll::app::app(w.state())).await;
        let (app, w) = (&app, &w);
        let pending = |n: usize| async move {
            let body = format!("52232620190501{:03}", 2 * n);
            let rec = student("吕待确认", &body, &body_birth(&body), "女");
            let (s, v) = call(
                app,
                test::TestRequest::post().uri(&format!("/api/v1/schools/{SCHOOL_A}/students")).set_json(rec),
                &bearer(w, "a.xueji"),
            )
            .await;
            assert_eq!(s, 201, "{v}");
            v["id"].as_i64().expect("id")
        };
        let mut n = 0;
        let mut confirmers = Vec::new();
        for state in ["pending", "confirmed"] {
            n += 1;
            let mut id = pending(n).await;
            if state == "confirmed" {
                service::confirm(&mut w.conn(), &w.caller("yyb"), &[id]).expect("confirmed");
            }
            let shown = |who: &Caller, id: i64| {
                let f = StudentFilter { school: SCHOOL_A.into(), ..StudentFilter::default() };
                let (items, _) = service::list(&mut w.conn(), who, &f).unwrap_or_default();
                items.iter().find(|s| s.id == id).is_some_and(|s| s.confirmable)
            };
            let people = ["yyb", "ducha", "a.xueji", "a.xiaozhang", "yyb2"];
            let offers = people.iter().map(|p| (*p, shown(&w.caller(p), id))).collect();
            for (person, offered, new_row) in in_try_order(offers) {
                if new_row {
                    n += 1;
                    id = pending(n).await;
                }
                let outcome = service::confirm(&mut w.conn(), &w.caller(person), &[id]);
                let took = outcome.as_ref().is_ok_and(|confirmed| *confirmed == 1);
                assert_eq!(
                    took,
                    offered,
                    "{label}: {person} confirming a {state} record: {:?}",
                    outcome.err().map(|e| e.code)
                );
                if offered {
                    confirmers.push(person);
                }
            }
        }
        assert_eq!(confirmers, ["yyb"], "{label}: the county, on a pending record");
    }
}
