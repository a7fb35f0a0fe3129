//! The statutory reports over the demo county, on both databases: every figure of the county
//! and school reports equals a count made here straight from the tables, totals are the sums of
//! the rows, 补助总额 equals the entitlement lines, and the page, the xlsx (calamine), the PDF
//! (pdftotext) and the CLI carry the same figures. Bad requests are refused, never an empty file.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};

use actix_web::test;
use calamine::{Data, Reader};
use common::*;
use diesel::prelude::*;
use mealroll::db::schema::{
    classes, entitlement_lines, entitlement_periods, orgs, programme_schools, student_spells, students,
};
use mealroll::domain::calendar::Span;
use serde_json::{Value, json};

/// What one school's beneficiaries are, counted straight from the registry: confirmed, at school
/// there on the day, in a class of grades 1–9.
#[derive(Debug, Default, PartialEq)]
struct Counted {
    enrolled: i64,
    classes: i64,
    beneficiaries: i64,
    boarders: i64,
    yibu: i64,
    left_behind: i64,
    migrant: i64,
}

fn count(conn: &mut mealroll::db::DbConn, school_id: i64, day: chrono::NaiveDate) -> Counted {
    type Row = (i64, Option<i64>, String, bool, String, bool, Option<i32>);
    let rows: Vec<Row> = student_spells::table
        .inner_join(students::table)
        .left_join(classes::table.on(classes::id.nullable().eq(student_spells::class_id)))
        .filter(student_spells::school_id.eq(school_id))
        .filter(student_spells::state.eq("at_school"))
        .filter(student_spells::from_date.le(day))
        .filter(student_spells::to_date.is_null().or(student_spells::to_date.gt(day)))
        .filter(students::review.eq("confirmed"))
        .select((
            students::id,
            student_spells::class_id,
            students::attendance,
            students::yibu,
            students::left_behind,
            students::migrant,
            classes::grade.nullable(),
        ))
        .load(conn)
        .expect("students");
    let mut c = Counted {
        enrolled: rows.len() as i64,
        classes: rows.iter().filter_map(|r| r.1).collect::<BTreeSet<_>>().len() as i64,
        ..Counted::default()
    };
    for (_, _, attendance, yibu, left_behind, migrant, grade) in rows {
        if !grade.is_some_and(|g| (1..=9).contains(&g)) {
            continue;
        }
        c.beneficiaries += 1;
        c.boarders += i64::from(attendance == "2");
        c.yibu += i64::from(yibu);
        c.left_behind += i64::from(left_behind == "1" || left_behind == "2");
        c.migrant += i64::from(migrant);
    }
    c
}

/// The entitlement lines booked to a school for the period's months, in fen.
fn lines_total(conn: &mut mealroll::db::DbConn, school_id: i64, span: &Span) -> i64 {
    entitlement_lines::table
        .inner_join(entitlement_periods::table)
        .filter(entitlement_periods::school_id.eq(school_id))
        .filter(entitlement_periods::month.eq_any(span.keys()))
        .select(entitlement_lines::amount_fen)
        .load::<i64>(conn)
        .expect("lines")
        .into_iter()
        .sum()
}

fn fen(v: &Value) -> i64 {
    mealroll::domain::money::Fen::parse_yuan(v.as_str().expect("money")).expect("yuan").fen()
}

fn col(r: &Value, key: &str) -> usize {
    r["columns"].as_array().expect("columns").iter().position(|c| c["key"] == key).expect(key)
}

fn cli(args: &[&str]) -> (bool, String, String) {
    let out = common::mealroll_cmd().args(args).output().expect("run");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[actix_web::test]
async fn the_demo_countys_reports_equal_independent_counts_in_every_format() {
    for (db, _) in TestDb::demos() {
        let label = db.label;
        let w = World::bare(db);
        let app = test::init_service(mealroll::app::app(w.state())).await;
        let yyb = bearer(&w, "yyb");
        let period = mealroll::domain::term::Term::of_day(mealroll::clock::today()).to_string();
        let span = Span::parse(&period).expect("term");
        let uri =
            |name: &str, org: &str, extra: &str| format!("/api/v1/reports/{name}?org={org}&period={period}{extra}");

        let (s, r) = call(&app, test::TestRequest::get().uri(&uri("county-regular", "522326", "")), &yyb).await;
        assert_eq!(s, 200, "{label}: {r}");
        assert_eq!((r["report"].as_str(), r["org"].as_str()), (Some("county-regular"), Some("522326")), "{label}");
        let day: chrono::NaiveDate = r["date"].as_str().expect("date").parse().expect("day");
        let titles: Vec<&str> =
            r["columns"].as_array().expect("cols").iter().filter_map(|c| c["title"].as_str()).collect();
        assert_eq!(titles[..3], ["受益学校", "学校办学类型", "受益学生人数"], "{label}: statutory order");
        assert_eq!(titles[9..], ["学校食堂供餐", "企业(单位)供餐", "家庭(个人)托餐"], "{label}");

        // The rows are exactly the programme schools with beneficiaries on the day.
        let mut conn = w.conn();
        let members: Vec<(i64, String, String)> = orgs::table
            .inner_join(programme_schools::table.on(programme_schools::school_id.eq(orgs::id)))
            .filter(programme_schools::from_date.le(day))
            .filter(programme_schools::to_date.is_null().or(programme_schools::to_date.ge(day)))
            .filter(orgs::path.like("%/522326/%"))
            .select((orgs::id, orgs::code, orgs::name))
            .order(orgs::code.asc())
            .load(&mut conn)
            .expect("members");
        let mut expected: BTreeMap<String, (i64, Counted)> = BTreeMap::new();
        for (id, _, name) in &members {
            let c = count(&mut conn, *id, day);
            if c.beneficiaries > 0 {
                expected.insert(name.clone(), (*id, c));
            }
        }
        let rows = r["rows"].as_array().expect("rows");
        assert_eq!(rows.len(), expected.len(), "{label}: one row per beneficiary school");
        assert!(rows.len() > 20, "{label}: the demo county has its schools");
        let at = |key: &str| col(&r, key);
        for row in rows {
            let name = row[at("school_name")].as_str().expect("name");
            let (id, c) = expected.get(name).unwrap_or_else(|| panic!("{label}: {name} is not a beneficiary school"));
            let n = |key: &str| row[at(key)].as_i64().expect(key);
            assert_eq!(
                (n("beneficiaries"), n("boarders"), n("yibu"), n("left_behind"), n("migrant")),
                (c.beneficiaries, c.boarders, c.yibu, c.left_behind, c.migrant),
                "{label}: {name}"
            );
            // Every beneficiary has exactly one meal model.
            assert_eq!(
                n("model_canteen") + n("model_enterprise") + n("model_family"),
                c.beneficiaries,
                "{label}: {name}"
            );
            assert_eq!(row[at("standard")], json!("5.00"), "{label}: {name}");
            assert_eq!(fen(&row[at("subsidy_total")]), lines_total(&mut conn, *id, &span), "{label}: {name}");
        }
        // The demo's models: 纳包 buys from an enterprise, the teaching points host with families.
        let row_of = |needle: &str| rows.iter().find(|x| x[0].as_str().is_some_and(|n| n.contains(needle)));
        let nabao = row_of("纳包").expect("纳包");
        assert_eq!(nabao[at("model_enterprise")], nabao[at("beneficiaries")], "{label}");
        assert!(rows.iter().any(|x| x[at("model_family")].as_i64() > Some(0)), "{label}");
        // Totals are the sums of the rows; 补助总额 is every entitlement line of the period.
        let totals = r["totals"].as_array().expect("totals");
        for key in ["beneficiaries", "boarders", "yibu", "left_behind", "migrant", "model_canteen"] {
            let sum: i64 = rows.iter().map(|x| x[at(key)].as_i64().expect(key)).sum();
            assert_eq!(totals[at(key)].as_i64(), Some(sum), "{label}: {key}");
        }
        let all_lines: i64 = expected.values().map(|(id, _)| lines_total(&mut conn, *id, &span)).sum();
        assert!(all_lines > 0, "{label}: the demo computed this term's months");
        assert_eq!(fen(&totals[at("subsidy_total")]), all_lines, "{label}");

        // The school report of one school: the same figures, plus the whole school.
        let (id, c) = expected.values().next().expect("a school");
        let code: String = orgs::table.find(id).select(orgs::code).first(&mut conn).expect("code");
        let (s, sr) = call(&app, test::TestRequest::get().uri(&uri("school-regular", &code, "")), &yyb).await;
        assert_eq!(s, 200, "{label}: {sr}");
        let row = &sr["rows"][0];
        let n = |key: &str| row[col(&sr, key)].as_i64().expect(key);
        assert_eq!(
            (n("enrolled"), n("classes"), n("beneficiaries"), n("boarders"), n("yibu"), n("left_behind"), n("migrant")),
            (c.enrolled, c.classes, c.beneficiaries, c.boarders, c.yibu, c.left_behind, c.migrant),
            "{label}: {sr}"
        );
        assert_eq!(fen(&row[col(&sr, "subsidy_total")]), lines_total(&mut conn, *id, &span), "{label}");

        // The xlsx read back carries the same figures, row by row, and the totals.
        let req =
            test::TestRequest::get().uri(&uri("county-regular", "522326", "&format=xlsx")).insert_header(yyb.clone());
        let resp = test::call_service(&app, req.to_request()).await;
        assert_eq!(resp.status(), 200, "{label}");
        let bytes = test::read_body(resp).await.to_vec();
        let mut book = calamine::Xlsx::new(std::io::Cursor::new(bytes)).expect("xlsx");
        let sheet = book.worksheet_range("报表").expect("sheet");
        let cell = |r: usize, c: usize| match sheet.get((r, c)) {
            Some(Data::String(s)) => s.clone(),
            Some(Data::Float(f)) if f.fract() == 0.0 => format!("{f:.0}"),
            Some(Data::Float(f)) => format!("{f:.2}"),
            Some(Data::Int(i)) => i.to_string(),
            Some(Data::Empty) | None => String::new(),
            other => format!("{other:?}"),
        };
        let text = |v: &Value| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        for (i, row) in rows.iter().chain([&r["totals"]]).enumerate() {
            for (j, v) in row.as_array().expect("cells").iter().enumerate() {
                let want = text(v);
                let got = cell(3 + i, j);
                // Money keeps two decimals in the file's number format; whole yuan read back as integers.
                let same = got == want || want.strip_suffix(".00").is_some_and(|w| w == got);
                assert!(same, "{label}: xlsx row {i} col {j}: {got} ≠ {want}");
            }
        }

        // The PDF read back: every school, its 补助总额, the totals and the footnotes.
        let req =
            test::TestRequest::get().uri(&uri("county-regular", "522326", "&format=pdf")).insert_header(yyb.clone());
        let pdf = test::call_and_read_body(&app, req.to_request()).await.to_vec();
        let text_pdf = pdftool("pdftotext", &pdf, &["-layout"]);
        for row in rows {
            let name = row[0].as_str().expect("name");
            assert!(text_pdf.contains(name), "{label}: {name} missing from the PDF");
            assert!(text_pdf.contains(row[at("subsidy_total")].as_str().expect("money")), "{label}: {name}");
        }
        assert!(text_pdf.contains(totals[at("subsidy_total")].as_str().expect("total")), "{label}");
        assert!(text_pdf.contains("县级常规统计报表") && text_pdf.contains("受益学校"), "{label}");

        // The page shows the same figures; a figure leads to the children it counts.
        let cookie = format!("mealroll_session={}", w.token("yyb"));
        let get = |uri: &str| {
            test::TestRequest::get()
                .uri(uri)
                .insert_header((actix_web::http::header::COOKIE, cookie.clone()))
                .to_request()
        };
        let html = body_text(
            test::call_service(&app, get(&format!("/reports/county-regular?org=522326&period={period}"))).await,
        )
        .await;
        assert!(html.contains(totals[at("subsidy_total")].as_str().expect("total")), "{label}");
        for row in rows {
            let money = row[at("subsidy_total")].as_str().expect("money");
            let n = row[at("beneficiaries")].as_i64().expect("n");
            assert!(html.contains(&format!(">{money}</a>")) && html.contains(&format!(">{n}</a>")), "{label}: {row}");
        }

        // The page refuses a period with nothing to count in words, not with an empty table.
        let empty = test::call_service(&app, get("/reports/county-regular?org=522326&period=2015-1")).await;
        assert_eq!(empty.status(), 422, "{label}");
        assert!(body_text(empty).await.contains("没有可统计的数据"), "{label}");

        // The dashboard's figures: last month's beneficiaries are the entitlement's, and its
        // money is the reconciliation's.
        let (s, dash) = call(&app, test::TestRequest::get().uri("/api/v1/dashboard"), &yyb).await;
        assert_eq!(s, 200, "{label}: {dash}");
        let last_month = mealroll::domain::calendar::Month::of(day).prev();
        let children: i64 = entitlement_periods::table
            .inner_join(orgs::table)
            .filter(orgs::path.like("%/522326/%"))
            .filter(entitlement_periods::month.eq(last_month.key()))
            .select(entitlement_periods::students)
            .load::<i32>(&mut conn)
            .expect("periods")
            .into_iter()
            .map(i64::from)
            .sum();
        assert_eq!(dash["beneficiaries"][11].as_i64(), Some(children), "{label}: {dash}");
        let (_, recon) = call(
            &app,
            test::TestRequest::get().uri(&format!("/api/v1/reconciliation?org=522326&month={last_month}")),
            &yyb,
        )
        .await;
        let yuan = |v: &Value| v.as_str().and_then(|s| s.parse::<f64>().ok()).expect("yuan");
        assert_eq!(dash["money"][0][11].as_f64(), Some(yuan(&recon["total"]["entitled"])), "{label}");
        assert_eq!(dash["money"][2][11].as_f64(), Some(yuan(&recon["total"]["spent"])), "{label}");
        let late = dash["late"].as_array().expect("late");
        let flagged = dash["rosters"][1].as_u64().unwrap_or(0) + dash["reports"][1].as_u64().unwrap_or(0);
        assert_eq!(late.len() as u64, flagged, "{label}");
        // A school's own dashboard shows its money too; another county's is out of reach.
        let (s, own) = call(&app, test::TestRequest::get().uri("/api/v1/dashboard"), &bearer(&w, "s1.xiaozhang")).await;
        assert!(s == 200 && own["is_school"] == json!(true) && own["money"].is_array(), "{label}: {own}");
        let (s, _) = call(&app, test::TestRequest::get().uri("/api/v1/dashboard?org=522327"), &yyb).await;
        assert_eq!(s, 404, "{label}");
        let first = &rows[0];
        let want = first[at("beneficiaries")].as_i64().expect("n");
        let needle = "column=beneficiaries";
        let href_start = html.find(needle).and_then(|i| html[..i].rfind("href=\"")).expect("drill link") + 6;
        let href = html[href_start..].split('"').next().expect("href").replace("&#38;", "&").replace("&amp;", "&");
        let drill = body_text(test::call_service(&app, get(&href)).await).await;
        assert_eq!(
            drill.matches("<tr><td>").count() as i64,
            want,
            "{label}: the drill lists every child counted: {href} {drill}"
        );
        assert!(drill.contains("******"), "{label}: student numbers are masked in the list");

        // The annual execution statistics over last school year, by the 2023 definitions,
        // recomputed here from the meals each school reported and the entitlement months.
        let year = (mealroll::domain::term::Term::of_day(day).school_year() - 1).to_string();
        let year_span = Span::parse(&year).expect("year");
        let (s, a) = call(
            &app,
            test::TestRequest::get().uri(&format!("/api/v1/reports/annual-execution?org=522326&period={year}")),
            &yyb,
        )
        .await;
        assert_eq!(s, 200, "{label}: {a}");
        let served: Vec<(String, i32, i32, i32)> = mealroll::db::schema::meals_served::table
            .inner_join(orgs::table)
            .filter(mealroll::db::schema::meals_served::month.eq_any(year_span.keys()))
            .select((
                orgs::name,
                mealroll::db::schema::meals_served::month,
                mealroll::db::schema::meals_served::days_served,
                mealroll::db::schema::meals_served::meals,
            ))
            .load(&mut conn)
            .expect("meals");
        let mut by_school: BTreeMap<String, (i64, i64)> = BTreeMap::new();
        for (name, _, days, meals) in &served {
            let e = by_school.entry(name.clone()).or_default();
            *e = (e.0 + i64::from(*days), e.1 + i64::from(*meals));
        }
        let avg = |meals: i64, days: i64| {
            (rust_decimal::Decimal::from(meals) / rust_decimal::Decimal::from(days))
                .round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero)
        };
        let arows = a["rows"].as_array().expect("rows");
        let mut sum_avg = rust_decimal::Decimal::ZERO;
        for row in arows {
            let (days, meals) = by_school[row[0].as_str().expect("name")];
            assert_eq!((row[2].as_i64(), row[3].as_i64()), (Some(days), Some(meals)), "{label}: {row}");
            assert_eq!(row[4].as_str(), Some(format!("{:.2}", avg(meals, days)).as_str()), "{label}: {row}");
            sum_avg += avg(meals, days);
        }
        let total_meals: i64 = by_school.values().map(|v| v.1).sum();
        let at_most: i64 = {
            let months: Vec<(i32, i32)> = entitlement_periods::table
                .inner_join(orgs::table)
                .filter(orgs::path.like("%/522326/%"))
                .filter(entitlement_periods::month.eq_any(year_span.keys()))
                .filter(entitlement_periods::students.gt(0))
                .select((entitlement_periods::month, entitlement_periods::students))
                .load(&mut conn)
                .expect("months");
            let mut per: BTreeMap<i32, i64> = BTreeMap::new();
            for (m, _) in months {
                *per.entry(m).or_default() += 1;
            }
            per.values().copied().max().unwrap_or(0)
        };
        let at = &a["totals"];
        assert_eq!((at[1].as_i64(), at[3].as_i64()), (Some(at_most), Some(total_meals)), "{label}: {at}");
        assert_eq!(at[4].as_str(), Some(format!("{sum_avg:.2}").as_str()), "{label}");
        let days_avg = (rust_decimal::Decimal::from(total_meals) / sum_avg)
            .round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero);
        assert_eq!(at[5].as_str(), Some(format!("{days_avg:.2}").as_str()), "{label}");
        // Rolled up to the prefecture, the county's row keeps its schools' figures (实施学校数
        // counts schools, not the one county).
        let (ok, stdout, err) = cli(&[
            "--db",
            &w.db.url,
            "report",
            "annual-execution",
            "--org",
            "522300",
            "--period",
            &year,
            "--format",
            "json",
        ]);
        assert!(ok, "{label}: {err}");
        let up: Value = serde_json::from_str(&stdout).expect("json");
        let county_row = &up["rows"][0];
        for k in [1, 3, 4, 5, 6] {
            assert_eq!(county_row[k], at[k], "{label}: column {k}: {up}");
        }

        // The registry overview: everyone at school, by sex and ethnicity, and the problem queue,
        // counted here from the stored records.
        let (s, ro) = call(
            &app,
            test::TestRequest::get().uri(&format!("/api/v1/reports/registry-overview?org=522326&period={period}")),
            &yyb,
        )
        .await;
        assert_eq!(s, 200, "{label}: {ro}");
        let rcol = |key: &str| col(&ro, key);
        for row in ro["rows"].as_array().expect("rows") {
            let name = row[rcol("school_name")].as_str().expect("name");
            let id: i64 = orgs::table.filter(orgs::name.eq(name)).select(orgs::id).first(&mut conn).expect("school");
            let c = count(&mut conn, id, day);
            let placed: Vec<(String, String)> = student_spells::table
                .inner_join(students::table)
                .filter(student_spells::school_id.eq(id))
                .filter(student_spells::state.eq("at_school"))
                .filter(student_spells::from_date.le(day))
                .filter(student_spells::to_date.is_null().or(student_spells::to_date.gt(day)))
                .filter(students::review.eq("confirmed"))
                .select((students::sex, students::record_sealed))
                .load::<(String, String)>(&mut conn)
                .expect("placed")
                .into_iter()
                .map(|(sex, r)| (sex, mealroll::db::at_rest::open::<mealroll::db::at_rest::Record>(&r).expect("opens")))
                .collect::<Vec<_>>();
            let minority = placed
                .iter()
                .filter(|(_, r)| {
                    let v: Value = serde_json::from_str(r).expect("record");
                    v["ethnicity"].as_str().is_some_and(|e| !e.is_empty() && e != "01")
                })
                .count() as i64;
            let problems: i64 = students::table
                .filter(students::school_id.eq(id))
                .filter(students::review.eq("problem"))
                .count()
                .get_result(&mut conn)
                .expect("problems");
            let n = |key: &str| row[rcol(key)].as_i64().expect(key);
            assert_eq!(
                (n("enrolled"), n("classes"), n("boys") + n("girls"), n("minority"), n("problem_records")),
                (c.enrolled, c.classes, c.enrolled, minority, problems),
                "{label}: {name}"
            );
            assert_eq!(n("boys"), placed.iter().filter(|(sex, _)| sex == "1").count() as i64, "{label}: {name}");
        }
        assert!(ro["totals"][rcol("problem_records")].as_i64() > Some(0), "{label}: the demo plants problem records");

        // The monthly progress report takes its money from the reconciliation of the same period.
        let month = mealroll::domain::calendar::Month::of(day).prev().to_string();
        let (s, mp) = call(
            &app,
            test::TestRequest::get().uri(&format!("/api/v1/reports/monthly-progress?org=522326&period={month}")),
            &yyb,
        )
        .await;
        assert_eq!(s, 200, "{label}: {mp}");
        let (_, rec) =
            call(&app, test::TestRequest::get().uri(&format!("/api/v1/reconciliation?org=522326&month={month}")), &yyb)
                .await;
        for row in mp["rows"].as_array().expect("rows") {
            let name = row[0].as_str().expect("name");
            let recon = rec["rows"].as_array().and_then(|r| r.iter().find(|x| x["name"] == name)).expect("reconciled");
            assert_eq!(
                (&row[col(&mp, "allocated")], &row[col(&mp, "spent")], &row[col(&mp, "subsidy_total")]),
                (&recon["allocated"], &recon["spent"], &recon["entitled"]),
                "{label}: {name}"
            );
        }
        assert_eq!(mp["totals"][col(&mp, "spent")], rec["total"]["spent"], "{label}");
        // `mealroll report disbursement-form` is the reconciliation's 资金拨付审批表.
        let (ok, stdout, err) = cli(&[
            "--db",
            &w.db.url,
            "report",
            "disbursement-form",
            "--org",
            "522326",
            "--period",
            &month,
            "--format",
            "json",
        ]);
        assert!(ok, "{label}: {err}");
        let form: Value = serde_json::from_str(&stdout).expect("json");
        assert_eq!(form["total"], rec["total"], "{label}");

        // Bad requests: a clear refusal, never an empty file.
        for (u, status, code) in [
            (uri("weekly-gossip", "522326", ""), 422, "report.unknown"),
            (uri("county-regular", "522327", ""), 404, "not_found"),
            (uri("school-regular", "522326", ""), 422, "report.level"),
            ("/api/v1/reports/county-regular?org=522326&period=2015-1&format=xlsx".to_owned(), 422, "report.no_data"),
            (uri("county-regular", "522326", "&format=docx"), 422, "report.format"),
            ("/api/v1/reports/county-regular?org=522326&period=2026-13".to_owned(), 422, "period.format"),
        ] {
            let (s, v) = call(&app, test::TestRequest::get().uri(&u), &yyb).await;
            assert_eq!((s, v["error"].as_str()), (status, Some(code)), "{label}: {u}: {v}");
        }
        let (s, v) =
            call(&app, test::TestRequest::get().uri("/api/v1/reports/county-regular?org=522326&period=2015-1"), &yyb)
                .await;
        assert!(s == 422 && v["message"].as_str().is_some_and(|m| m.contains("没有可统计的数据")), "{label}: {v}");

        // The CLI writes the same JSON, and files only where asked.
        let dir = tempfile::tempdir().expect("dir");
        let out = dir.path().join("county.xlsx");
        let (ok, _, err) = cli(&[
            "--db",
            &w.db.url,
            "report",
            "county-regular",
            "--org",
            "522326",
            "--period",
            &period,
            "--out",
            out.to_str().expect("path"),
        ]);
        assert!(ok && out.exists(), "{label}: {err}");
        let (ok, stdout, err) = cli(&[
            "--db",
            &w.db.url,
            "report",
            "county-regular",
            "--org",
            "522326",
            "--period",
            &period,
            "--format",
            "json",
        ]);
        assert!(ok, "{label}: {err}");
        let v: Value = serde_json::from_str(&stdout).expect("json");
        assert_eq!((&v["rows"], &v["totals"]), (&r["rows"], &r["totals"]), "{label}");
        // The prefecture's view rolls the county up into one row: the county report's totals.
        let (ok, stdout, err) = cli(&[
            "--db",
            &w.db.url,
            "report",
            "county-regular",
            "--org",
            "522300",
            "--period",
            &period,
            "--format",
            "json",
        ]);
        assert!(ok, "{label}: {err}");
        let up: Value = serde_json::from_str(&stdout).expect("json");
        assert_eq!(up["columns"][0]["title"], json!("县（市、区）"), "{label}");
        let wangmo = up["rows"].as_array().and_then(|rows| rows.iter().find(|x| x[0] == "望谟县")).expect("county row");
        assert_eq!(wangmo[1], json!(format!("受益学校{}所", rows.len())), "{label}");
        assert_eq!(
            wangmo.as_array().map(|c| c[2..].to_vec()),
            r["totals"].as_array().map(|c| c[2..].to_vec()),
            "{label}"
        );
        let (ok, _, err) =
            cli(&["--db", &w.db.url, "report", "county-regular", "--org", "522326", "--period", "2015-1"]);
        assert!(!ok && err.contains("report.no_data"), "{label}: {err}");
        // Submission: the school freezes its report; the county signs off once, with reasons.
        let (school, principal) = ("2152326001", bearer(&w, "s1.xiaozhang"));
        let submit = |org: &str| {
            test::TestRequest::post()
                .uri("/api/v1/reports/school-regular/submissions")
                .set_json(json!({"org": org, "period": period}))
        };
        let (s, v1) = call(&app, submit(school), &principal).await;
        assert_eq!((s, v1["created"].as_bool()), (201, Some(true)), "{label}: {v1}");
        let first = &v1["submission"];
        assert_eq!((first["version"].as_i64(), first["status"].as_str()), (Some(1), Some("submitted")), "{label}");
        assert_eq!(first["content_hash"].as_str().map(str::len), Some(64), "{label}");
        // Due 15 September; today is later in the autumn term, so it came in late.
        let due = mealroll::domain::report::due_date(&span).to_string();
        assert_eq!(first["due_date"].as_str(), Some(due.as_str()), "{label}");
        assert_eq!(first["late"].as_bool(), Some(today_after(&due)), "{label}");
        let (s, again) = call(&app, submit(school), &principal).await;
        assert_eq!(
            (s, again["created"].as_bool(), &again["submission"]["id"]),
            (200, Some(false), &first["id"]),
            "{label}"
        );
        let (s, v) = call(&app, submit("2152326002"), &principal).await;
        assert_eq!((s, v["error"].as_str()), (422, Some("report.not_own")), "{label}: {v}");

        // The county sees who owes the report, late first, and this school's first version.
        let (s, owed) = call(
            &app,
            test::TestRequest::get().uri(&format!("/api/v1/report-submissions?report=school-regular&period={period}")),
            &yyb,
        )
        .await;
        assert_eq!(s, 200, "{label}: {owed}");
        let owed = owed.as_array().expect("owed");
        assert_eq!(owed.len(), members.len(), "{label}: every programme school owes it");
        let mine = owed.iter().find(|o| o["org"] == school).expect("school");
        assert_eq!(mine["latest"]["version"].as_i64(), Some(1), "{label}");
        assert!(
            owed.iter().filter(|o| o["latest"].is_null()).all(|o| o["late"] == json!(today_after(&due))),
            "{label}"
        );

        let id = first["id"].as_i64().expect("id");
        let decide = |decision: &str, note: &str| {
            test::TestRequest::post()
                .uri(&format!("/api/v1/report-submissions/{id}/decision"))
                .set_json(json!({"decision": decision, "note": note}))
        };
        let (s, v) = call(&app, decide("approve", ""), &principal).await;
        assert_eq!(s, 403, "{label}: a school does not sign off: {v}");
        let (s, v) = call(&app, decide("reject", " "), &yyb).await;
        assert_eq!((s, v["error"].as_str()), (422, Some("report.reason_required")), "{label}: {v}");
        let (s, v) = call(&app, decide("reject", "寄宿生人数与花名册不符，请核实后重报"), &yyb).await;
        assert_eq!((s, v["status"].as_str()), (200, Some("rejected")), "{label}: {v}");
        let (s, v) = call(&app, decide("approve", ""), &yyb).await;
        assert_eq!((s, v["error"].as_str()), (409, Some("report.already_decided")), "{label}: {v}");

        // The school corrects a child's 就读方式 and submits again: version 2 with the change named.
        let school_id: i64 = orgs::table.filter(orgs::code.eq(school)).select(orgs::id).first(&mut conn).expect("id");
        let day_pupil: i64 = students::table
            .filter(students::school_id.eq(school_id))
            .filter(students::review.eq("confirmed"))
            .filter(students::attendance.eq("1"))
            .select(students::id)
            .first(&mut conn)
            .expect("day pupil");
        let boarders_before = count(&mut conn, school_id, day).boarders;
        diesel::update(students::table.find(day_pupil))
            .set(students::attendance.eq("2"))
            .execute(&mut conn)
            .expect("fix");
        let (s, v2) = call(&app, submit(school), &principal).await;
        assert_eq!(s, 201, "{label}: {v2}");
        let second = &v2["submission"];
        assert_eq!(second["version"].as_i64(), Some(2), "{label}");
        assert_eq!(
            second["diff"],
            json!([{"row": "第1行", "column": "寄宿生人数", "before": boarders_before.to_string(), "after": (boarders_before + 1).to_string()}]),
            "{label}: {second}"
        );
        let id2 = second["id"].as_i64().expect("id");
        let (s, v) = call(
            &app,
            test::TestRequest::post()
                .uri(&format!("/api/v1/report-submissions/{id2}/decision"))
                .set_json(json!({"decision": "approve_with_reservations", "note": "逾期报送，下次按时"})),
            &yyb,
        )
        .await;
        assert_eq!((s, v["status"].as_str()), (200, Some("approved_with_reservations")), "{label}: {v}");
        assert_eq!(audit_count(&mut conn, "report.submit"), 2, "{label}");
        assert_eq!(audit_count(&mut conn, "report.decide"), 2, "{label}");

        // The county's page shows the frozen version, the change and the decision.
        let html = body_text(test::call_service(&app, get(&format!("/reports/submissions/{id2}"))).await).await;
        assert!(
            html.contains("第2版") && html.contains("有保留通过") && html.contains("逾期报送，下次按时"),
            "{label}"
        );
        assert!(html.contains("寄宿生人数") && html.contains("id=\"diff\""), "{label}");
        // The county submits its own county report; the prefecture reads the roll-up and signs it off.
        let (s, cv) = call(
            &app,
            test::TestRequest::post()
                .uri("/api/v1/reports/county-regular/submissions")
                .set_json(json!({"org": "522326", "period": period})),
            &yyb,
        )
        .await;
        assert_eq!(s, 201, "{label}: {cv}");
        let zhou = bearer(&w, "zhou.yyb");
        let (s, up) = call(
            &app,
            test::TestRequest::get().uri(&format!("/api/v1/reports/county-regular?org=522300&period={period}")),
            &zhou,
        )
        .await;
        assert!(s == 200 && up["rows"][0][0] == json!("望谟县"), "{label}: {up}");
        let (s, owed) = call(
            &app,
            test::TestRequest::get().uri(&format!("/api/v1/report-submissions?report=county-regular&period={period}")),
            &zhou,
        )
        .await;
        assert_eq!(s, 200, "{label}: {owed}");
        assert!(owed.as_array().is_some_and(|o| o.iter().any(|x| x["org"] == "522326" && x["latest"]["version"] == 1)));
        let cid = cv["submission"]["id"].as_i64().expect("id");
        let (s, v) = call(
            &app,
            test::TestRequest::post()
                .uri(&format!("/api/v1/report-submissions/{cid}/decision"))
                .set_json(json!({"decision": "approve"})),
            &yyb,
        )
        .await;
        assert_eq!(
            (s, v["error"].as_str()),
            (422, Some("report.own")),
            "{label}: a county does not sign off its own: {v}"
        );
        let (s, v) = call(
            &app,
            test::TestRequest::post()
                .uri(&format!("/api/v1/report-submissions/{cid}/decision"))
                .set_json(json!({"decision": "approve"})),
            &zhou,
        )
        .await;
        assert_eq!((s, v["status"].as_str()), (200, Some("approved")), "{label}: {v}");

        // The page's 报送 form carries CSRF.
        let cookie_s = format!("mealroll_session={}", w.token("s1.xiaozhang"));
        let page_post = |csrf: &str| {
            test::TestRequest::post()
                .uri("/reports/school-regular/submit")
                .insert_header((actix_web::http::header::COOKIE, cookie_s.clone()))
                .set_form([("csrf", csrf), ("org", school), ("period", period.as_str()), ("confirmed", "1")])
                .to_request()
        };
        assert_eq!(test::call_service(&app, page_post("forged")).await.status(), 403, "{label}");
        let page = test::TestRequest::get()
            .uri(&format!("/reports/school-regular?org={school}&period={period}"))
            .insert_header((actix_web::http::header::COOKIE, cookie_s.clone()))
            .to_request();
        let html = body_text(test::call_service(&app, page).await).await;
        assert!(html.contains("submit-form"), "{label}: the school may submit its own report");
        // 报送 asks first, saying what freezes; nothing is submitted until confirmed.
        let submissions = || -> i64 {
            use diesel::prelude::*;
            mealroll::db::schema::report_submissions::table.count().get_result(&mut w.conn()).expect("count")
        };
        let before = submissions();
        let ask = test::TestRequest::post()
            .uri("/reports/school-regular/submit")
            .insert_header((actix_web::http::header::COOKIE, cookie_s.clone()))
            .set_form([("csrf", csrf_of(&html).as_str()), ("org", school), ("period", period.as_str())])
            .to_request();
        let r = test::call_service(&app, ask).await;
        assert_eq!(r.status(), 200, "{label}");
        let asked = body_text(r).await;
        assert!(asked.contains(">确认报送<") && asked.contains("冻结为不可更改"), "{label}: {asked}");
        assert_eq!(submissions(), before, "{label}: nothing submitted before the confirmation");
        let r = test::call_service(&app, page_post(&csrf_of(&html))).await;
        assert_eq!(r.status(), 303, "{label}");
        // A snapshot edited in SQL is refused, never shown as the submitted figures, and
        // blocks the next submission until someone looks.
        diesel::update(mealroll::db::schema::report_submissions::table.find(id2))
            .set(mealroll::db::schema::report_submissions::content.eq("{}"))
            .execute(&mut conn)
            .expect("tamper");
        let (s, v) = call(&app, test::TestRequest::get().uri(&format!("/api/v1/report-submissions/{id2}")), &yyb).await;
        assert_eq!((s, v["error"].as_str()), (409, Some("report.tampered")), "{label}: {v}");
    }
}

/// Whether today is past a due date written YYYY-MM-DD.
fn today_after(due: &str) -> bool {
    mealroll::clock::today().to_string().as_str() > due
}
