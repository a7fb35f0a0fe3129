//! Property test on both databases: random sequences of suspensions, resumptions, transfers and
//! decisions (valid or not, through the real services and users) never leave a child at two
//! schools, nor at none without a named state, and the eligibility function agrees.

use crate::common;

use std::collections::HashMap;

use chrono::{Datelike, Days, Months, NaiveDate};
use common::*;
use diesel::prelude::*;
use mealroll::auth::Caller;
use mealroll::db::schema::{orgs, status_change_steps, status_changes, student_spells, students};
use mealroll::domain::status::State;
use mealroll::error::ErrorKind;
use mealroll::registry::status::{self, ChangeInput, TransferInput};
use mealroll::registry::{service, timeline};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn today() -> NaiveDate {
    mealroll::clock::today()
}

const SCHOOLS: [&str; 3] = [SCHOOL_A, SCHOOL_B, SCHOOL_C];

fn registrar(school: &str) -> &'static str {
    match school {
        SCHOOL_A => "a.xueji",
        SCHOOL_B => "b.xueji",
        _ => "c.xueji",
    }
}

/// The user who holds `role` at the org with `code`.
fn holder(code: &str, role: &str) -> Option<&'static str> {
    Some(match (code, role) {
        (SCHOOL_A, "registrar") => "a.xueji",
        (SCHOOL_A, "principal") => "a.xiaozhang",
        (SCHOOL_B, "registrar") => "b.xueji",
        (SCHOOL_B, "principal") => "b.xiaozhang",
        (SCHOOL_C, "registrar") => "c.xueji",
        (SCHOOL_C, "principal") => "c.xiaozhang",
        (COUNTY, "nutrition_office") => "yyb",
        (OTHER_COUNTY, "nutrition_office") => "yyb2",
        _ => return None,
    })
}

/// Whatever the services refuse must be a clean refusal, never an internal error.
fn refused_cleanly<T>(r: Result<T, mealroll::error::AppError>, what: &str) {
    if let Err(e) = r {
        assert!(
            matches!(e.kind, ErrorKind::Invalid | ErrorKind::Conflict | ErrorKind::Forbidden | ErrorKind::NotFound),
            "{what}: {} {}",
            e.code,
            e.message
        );
    }
}

fn check(w: &World, ids: &[i64], school_ids: &HashMap<i64, &str>, rng: &mut StdRng, label: &str, step: usize) {
    let mut conn = w.conn();
    let start = today().checked_sub_months(Months::new(25)).expect("date");
    for &id in ids {
        let rows = timeline::load(&mut conn, id).expect("spells");
        let tl = timeline::timeline_of(&rows);
        tl.check().unwrap_or_else(|e| panic!("{label} step {step}: student {id}: {e}"));
        let enrolled = tl.enrolled_on().expect("enrolled");
        let mut day = start;
        while day <= today() + Days::new(30) {
            let n = tl.spells().iter().filter(|s| s.covers(day)).count();
            assert_eq!(n, usize::from(day >= enrolled), "{label} step {step}: student {id} on {day} in {n} spells");
            day = day + Days::new(5);
        }
        let cur = tl.current().expect("current");
        let (school_id, st, open): (i64, String, i64) = (
            students::table.find(id).select(students::school_id).first(&mut conn).expect("school"),
            students::table.find(id).select(students::status).first(&mut conn).expect("status"),
            status_changes::table
                .filter(status_changes::student_id.eq(id))
                .filter(status_changes::status.eq("open"))
                .count()
                .get_result(&mut conn)
                .expect("open"),
        );
        assert!(open <= 1, "{label}: two open changes");
        assert_eq!(cur.school_id, school_id, "{label} step {step}: current spell and record disagree on the school");
        assert_eq!(State::of_student_status(&st), Some(cur.state), "{label} step {step}: status {st}");
        if cur.state == State::InTransit {
            assert_eq!(open, 1, "{label}: in transit without an open transfer");
        }
        // The eligibility function: on a few random days, at most one school lists the child,
        // and exactly one when the day's spell is at school.
        for _ in 0..3 {
            let day = enrolled + Days::new(rng.random_range(0..800));
            let listed: Vec<&str> = school_ids
                .iter()
                .filter(|(sid, _)| timeline::eligible_at(&mut conn, **sid, day).expect("eligible").contains(&id))
                .map(|(_, code)| *code)
                .collect();
            let expect = tl.at(day).filter(|s| s.state == State::AtSchool).map(|s| school_ids[&s.school_id]);
            assert_eq!(listed, expect.into_iter().collect::<Vec<_>>(), "{label} step {step}: {id} on {day}");
        }
    }
}

#[test]
fn random_changes_never_lose_or_double_a_child() {
    for db in TestDb::all() {
        let label = db.label;
        let w = World::new(db);
        let callers: HashMap<&str, Caller> =
            ["a.xueji", "a.xiaozhang", "b.xueji", "b.xiaozhang", "c.xueji", "c.xiaozhang", "yyb", "yyb2"]
                .into_iter()
                .map(|u| (u, w.caller(u)))
                .collect();
        let mut conn = w.conn();
        let school_ids: HashMap<i64, &str> = SCHOOLS
            .iter()
            .map(|c| (orgs::table.filter(orgs::code.eq(c)).select(orgs::id).first(&mut conn).expect("id"), *c))
            .collect();
        let entry = today().checked_sub_months(Months::new(24)).expect("date").with_day(1).expect("day");
        let mut ids = Vec::new();
        for (i, school) in [SCHOOL_A, SCHOOL_A, SCHOOL_B, SCHOOL_C].into_iter().enumerate() {
            let mut rec = student(
                &format!("韦{}", ["甲", "乙", "丙", "丁"][i]),
                &format!("5223262019010100{}", [1, 3, 5, 7][i]),
                "2019-01-01",
                "男",
            );
            rec["entry_ym"] = serde_json::json!(entry.format("%Y%m").to_string());
            rec["enrolled_on"] = serde_json::json!(entry.to_string());
            rec["backdate_reason"] = serde_json::json!("测试：两年前入学");
            let v = service::create(&mut conn, &callers[registrar(school)], school, &raw_of(&rec)).expect("create");
            let county = if school == SCHOOL_C { "yyb2" } else { "yyb" };
            service::confirm(&mut conn, &callers[county], &[v.id]).expect("confirm");
            ids.push(v.id);
        }
        let mut rng = StdRng::seed_from_u64(20261123);
        let span = (today() - entry).num_days().max(2) as u64;
        for step in 0..70 {
            let id = ids[rng.random_range(0..ids.len())];
            let day = entry + Days::new(rng.random_range(0..span + 20));
            let row = students::table.find(id).select((students::name, students::status));
            let (name, st): (String, String) = row.first(&mut conn).expect("student");
            let no = common::student_no_of(&mut conn, id);
            let here =
                school_ids[&students::table.find(id).select(students::school_id).first::<i64>(&mut conn).expect("s")];
            match rng.random_range(0..4) {
                0 | 1 => {
                    let kind = if st == "suspended" { "12" } else { "11" };
                    let input = ChangeInput {
                        kind: kind.into(),
                        effective_date: day.to_string(),
                        reason: "随机测试".into(),
                        to_class_no: String::new(),
                    };
                    refused_cleanly(status::request(&mut conn, &callers[registrar(here)], id, &input, None), "request");
                }
                2 => {
                    let to = SCHOOLS[rng.random_range(0..SCHOOLS.len())];
                    let input = TransferInput {
                        student_no: no,
                        name,
                        to_class_no: "202601".into(),
                        effective_date: day.to_string(),
                        // Some arrive the same day, some days later (in transit in between).
                        // (From the step number, so the random walk itself stays as it was.)
                        arrival_date: (day + Days::new(if step % 3 == 0 { step as u64 % 7 } else { 0 })).to_string(),
                        reason: "随机测试".into(),
                    };
                    refused_cleanly(
                        status::request_transfer(&mut conn, &callers[registrar(to)], &input, None),
                        "transfer",
                    );
                }
                _ => {
                    let open: Option<(i64, i32)> = status_changes::table
                        .filter(status_changes::student_id.eq(id))
                        .filter(status_changes::status.eq("open"))
                        .select((status_changes::id, status_changes::step_no))
                        .first(&mut conn)
                        .optional()
                        .expect("open");
                    if let Some((change, step_no)) = open {
                        let (code, role): (String, String) = status_change_steps::table
                            .inner_join(orgs::table)
                            .filter(status_change_steps::change_id.eq(change))
                            .filter(status_change_steps::step_no.eq(step_no))
                            .select((orgs::code, status_change_steps::role))
                            .first(&mut conn)
                            .expect("step");
                        let user = holder(&code, &role).expect("a user for every step");
                        let approve = rng.random_bool(0.8);
                        let r = status::decide(&mut conn, &callers[user], change, approve, "随机测试");
                        refused_cleanly(r, "decide");
                    }
                }
            }
            check(&w, &ids, &school_ids, &mut rng, label, step);
        }
        let spells: i64 = student_spells::table.count().get_result(&mut conn).expect("count");
        let applied: i64 = status_changes::table
            .filter(status_changes::status.eq("approved"))
            .count()
            .get_result(&mut conn)
            .expect("count");
        assert!(
            applied >= 3,
            "{label}: the random walk should apply some changes (applied {applied}, spells {spells})"
        );
    }
}
