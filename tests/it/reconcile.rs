//! Reconciliation on both databases, against figures worked out by hand: two schools in October
//! 2026 (17 meal days at 5.00 yuan), money received by the county, passed on to one school
//! directly and to the other's supplier late, spending and meals imported from workbooks (a bad
//! row first: nothing written), every SPEC §8 flag where it belongs, and the 资金拨付审批表 read
//! back from its PDF and its xlsx.

use crate::common;

use actix_web::test;
use calamine::{Data, Reader};
use common::*;
use diesel::prelude::*;
use mealroll::db::schema::{ledger_entries, meals_served};
use serde_json::{Value, json};

fn workbook(rows: &[Vec<&str>]) -> Vec<u8> {
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name("明细").expect("name");
    for (r, row) in rows.iter().enumerate() {
        for (c, v) in row.iter().enumerate() {
            ws.write_string(u32::try_from(r).expect("row"), u16::try_from(c).expect("col"), *v).expect("cell");
        }
    }
    wb.save_to_buffer().expect("xlsx")
}

fn row_of<'a>(r: &'a Value, school: &str) -> &'a Value {
    r["rows"].as_array().and_then(|rows| rows.iter().find(|x| x["school"] == school)).expect("row")
}

fn codes(row: &Value) -> Vec<String> {
    row["flags"]
        .as_array()
        .map(|f| f.iter().map(|x| x["code"].as_str().unwrap_or("").to_owned()).collect())
        .unwrap_or_default()
}

#[actix_web::test]
async fn a_month_reconciles_to_the_hand_computed_figures_with_the_flags_and_the_disbursement_form() {
    for db in TestDb::all() {
        let label = db.label;
        let w = World::new(db);
        add_user(&w, "caiwu", COUNTY, "finance");
        let app = test::init_service(mealroll::app::app(w.state())).await;
        let (yyb, caiwu, school_a) = (bearer(&w, "yyb"), bearer(&w, "caiwu"), bearer(&w, "a.xiaozhang"));
        let ok = |s: u16, v: &Value| assert!(s == 200 || s == 201, "{label}: {s} {v}");
        for school in [SCHOOL_A, SCHOOL_B] {
            let (s, v) = call(
                &app,
                test::TestRequest::post()
                    .uri("/api/v1/programme/schools")
                    .set_json(json!({"school": school, "from_date": "2011-09-01"})),
                &yyb,
            )
            .await;
            ok(s, &v);
        }
        let (s, v) = call(
            &app,
            test::TestRequest::put()
                .uri("/api/v1/terms")
                .set_json(json!({"term": "2026-1", "start_date": "2026-09-01", "end_date": "2027-01-15"})),
            &yyb,
        )
        .await;
        ok(s, &v);
        // October after the National Day week: 8–9, 12–16, 19–23, 26–30 = 17 meal days.
        let (s, v) = call(
            &app,
            test::TestRequest::put()
                .uri(&format!("/api/v1/calendars/{COUNTY}/2026-10"))
                .set_json(json!({"days": "8-9,12-16,19-23,26-30"})),
            &yyb,
        )
        .await;
        ok(s, &v);
        for (school, name, id) in [
            (SCHOOL_A, "王一", "52232620190101001"),
            (SCHOOL_A, "王二", "52232620190101003"),
            (SCHOOL_A, "王三", "52232620190101005"),
            (SCHOOL_B, "李一", "52232620190101007"),
            (SCHOOL_B, "李二", "52232620190101009"),
        ] {
            enrolled(&app, &w, school, name, id).await;
        }
        let (s, v) = call(
            &app,
            test::TestRequest::post()
                .uri("/api/v1/entitlements/compute")
                .set_json(json!({"org": COUNTY, "month": "2026-10"})),
            &yyb,
        )
        .await;
        ok(s, &v);

        // Money: 1,000.00 received 20 September; 255.00 to school A on 5 October (15 days);
        // 100.00 to school B's supplier on 25 October (35 days: late).
        mealroll::programme::config::add_supplier(
            &mut w.conn(),
            &w.caller("yyb"),
            "望谟县绿源配送有限公司",
            "91522326MA6DGY2X1K",
            "韦",
            "13800000000",
        )
        .expect("supplier");
        for body in [
            json!({"kind": "receipt", "to": COUNTY, "amount": "1000", "date": "2026-09-20", "voucher_no": "SR-1", "memo": "中央财政"}),
            json!({"kind": "allocation", "from": COUNTY, "to": SCHOOL_A, "amount": "255", "date": "2026-10-05", "voucher_no": "BF-1"}),
            json!({"kind": "allocation", "from": COUNTY, "to": format!("{COUNTY}/91522326MA6DGY2X1K"), "for_school": SCHOOL_B, "amount": "100", "date": "2026-10-25", "voucher_no": "BF-2"}),
        ] {
            let (s, v) =
                call(&app, test::TestRequest::post().uri("/api/v1/ledger/requests").set_json(body), &caiwu).await;
            assert_eq!((s, v["status"].as_str()), (201, Some("posted")), "{label}: {v}");
        }

        // Expenditures from a workbook: a forbidden row refuses the whole file, named by row and column.
        let head = vec!["学校标识码", "日期", "类别", "金额", "凭证号", "摘要"];
        let bad = workbook(&[
            head.clone(),
            vec![SCHOOL_A, "2026-10-10", "肉蛋奶", "150.00", "ZC-1", "猪肉鸡蛋"],
            vec![SCHOOL_A, "2026-10-11", "食堂人员工资", "80.00", "ZC-2", "10月工资"],
        ]);
        let before: i64 = ledger_entries::table.count().get_result(&mut w.conn()).expect("count");
        let (s, v) = call(
            &app,
            test::TestRequest::post().uri("/api/v1/ledger/import?filename=zc.xlsx").set_payload(bad),
            &school_a,
        )
        .await;
        assert_eq!(s, 422, "{label}: {v}");
        let text = v.to_string();
        assert!(text.contains("工作表“明细”第3行“类别”列") && text.contains("人员工资"), "{label}: {text}");
        assert_eq!(
            ledger_entries::table.count().get_result::<i64>(&mut w.conn()).expect("count"),
            before,
            "{label}: nothing posted"
        );
        let good = workbook(&[
            head.clone(),
            vec![SCHOOL_A, "2026-10-10", "肉蛋奶", "150.00", "ZC-1", "猪肉鸡蛋"],
            vec![SCHOOL_A, "2026-10-12", "粮油", "50", "ZC-3", "大米"],
        ]);
        let (s, v) = call(
            &app,
            test::TestRequest::post().uri("/api/v1/ledger/import?filename=zc.xlsx").set_payload(good.clone()),
            &school_a,
        )
        .await;
        assert_eq!((s, v["posted"].as_u64()), (200, Some(2)), "{label}: {v}");
        let (s, v) = call(
            &app,
            test::TestRequest::post().uri("/api/v1/ledger/import?filename=zc.xlsx").set_payload(good),
            &school_a,
        )
        .await;
        assert_eq!(
            (s, v["posted"].as_u64(), v["repeated"].as_u64()),
            (200, Some(0), Some(2)),
            "{label}: the same file twice posts once: {v}"
        );

        // Meals served: a bad month refuses the file; then A reports 51, B 40 (more than its 34).
        let bad =
            workbook(&[vec!["学校标识码", "月份", "供餐天数", "就餐人次"], vec![SCHOOL_A, "2026-13", "17", "51"]]);
        let (s, v) =
            call(&app, test::TestRequest::post().uri("/api/v1/meals/import?filename=jc.xlsx").set_payload(bad), &yyb)
                .await;
        assert!(s == 422 && v.to_string().contains("第2行“月份”列"), "{label}: {v}");
        assert_eq!(meals_served::table.count().get_result::<i64>(&mut w.conn()).expect("count"), 0, "{label}");
        let good = workbook(&[
            vec!["学校标识码", "月份", "供餐天数", "就餐人次"],
            vec![SCHOOL_A, "2026-10", "17", "51"],
            vec![SCHOOL_B, "2026-10", "17", "40"],
        ]);
        let (s, v) =
            call(&app, test::TestRequest::post().uri("/api/v1/meals/import?filename=jc.xlsx").set_payload(good), &yyb)
                .await;
        assert_eq!((s, v["schools"].as_u64()), (200, Some(2)), "{label}: {v}");

        // On paper: A is owed 3 × 17 × 5.00 = 255.00, was given 255.00, spent 200.00 (3.92 a
        // meal for 51 meals: below 5.00), keeps 55.00. B is owed 2 × 17 × 5.00 = 170.00, its
        // supplier got 100.00 (under-allocated, spent, late), B reports 40 meals for 34 child-days.
        let (s, r) = call(
            &app,
            test::TestRequest::get().uri(&format!("/api/v1/reconciliation?org={COUNTY}&month=2026-10")),
            &caiwu,
        )
        .await;
        assert_eq!(s, 200, "{label}: {r}");
        let a = row_of(&r, SCHOOL_A);
        assert_eq!(
            (
                &a["meal_days"],
                &a["students"],
                &a["beneficiary_days"],
                &a["entitled"],
                &a["allocated"],
                &a["spent"],
                &a["closing_balance"]
            ),
            (&json!(17), &json!(3), &json!(51), &json!("255.00"), &json!("255.00"), &json!("200.00"), &json!("55.00")),
            "{label}: {a}"
        );
        assert_eq!(codes(a), ["below_standard", "surplus"], "{label}: {a}");
        assert!(a["flags"][0]["message"].as_str().unwrap_or("").contains("3.92"), "{label}: {a}");
        let b = row_of(&r, SCHOOL_B);
        assert_eq!(
            (&b["entitled"], &b["allocated"], &b["spent"], &b["closing_balance"], &b["to_allocate"]),
            (&json!("170.00"), &json!("100.00"), &json!("100.00"), &json!("0.00"), &json!("70.00")),
            "{label}: {b}"
        );
        assert_eq!(
            codes(b),
            ["under_allocated", "below_standard", "meals_exceed_roll", "late_allocation"],
            "{label}: {b}"
        );
        assert_eq!(
            (&r["total"]["entitled"], &r["total"]["allocated"], &r["total"]["spent"]),
            (&json!("425.00"), &json!("355.00"), &json!("300.00")),
            "{label}"
        );
        // The county kept 645.00 from 20 September to the end of October: 41 days.
        assert!(r["county_flags"][0]["message"].as_str().unwrap_or("").contains("41 天"), "{label}: {r}");

        // The autumn term and the school year hold only October's money here: the same figures.
        for period in ["2026-1", "2026"] {
            let (s, p) = call(
                &app,
                test::TestRequest::get().uri(&format!("/api/v1/reconciliation?org={COUNTY}&month={period}")),
                &caiwu,
            )
            .await;
            assert_eq!(s, 200, "{label}: {p}");
            assert_eq!(
                (&p["month"], &p["total"]["entitled"], &p["total"]["spent"]),
                (&json!(period), &json!("425.00"), &json!("300.00")),
                "{label}"
            );
            assert_eq!(codes(row_of(&p, SCHOOL_A)), ["below_standard", "surplus"], "{label}: {period}");
        }
        let (s, v) = call(
            &app,
            test::TestRequest::get().uri(&format!("/api/v1/reconciliation?org={COUNTY}&month=2026-3")),
            &caiwu,
        )
        .await;
        assert!(s == 422 && v.to_string().contains("period.format"), "{label}: {v}");

        // The 资金拨付审批表 carries the same figures, in both formats.
        let req = test::TestRequest::get()
            .uri(&format!("/api/v1/reconciliation/{COUNTY}/2026-10/disbursement.pdf"))
            .insert_header(caiwu.clone())
            .to_request();
        let pdf = test::call_and_read_body(&app, req).await.to_vec();
        let text = pdftool("pdftotext", &pdf, &["-layout"]);
        for needle in [
            "资金拨付审批表",
            "2026-10",
            "望谟县王母小学",
            "望谟县纳包小学",
            "255.00",
            "170.00",
            "425.00",
            "70.00",
            "财政局审批",
        ] {
            assert!(text.contains(needle), "{label}: PDF lacks {needle}: {text}");
        }
        let req = test::TestRequest::get()
            .uri(&format!("/api/v1/reconciliation/{COUNTY}/2026-10/disbursement.xlsx"))
            .insert_header(caiwu.clone())
            .to_request();
        let bytes = test::call_and_read_body(&app, req).await.to_vec();
        let mut wb: calamine::Xlsx<_> = calamine::Xlsx::new(std::io::Cursor::new(bytes)).expect("xlsx");
        let sheet = wb.worksheet_range("资金拨付审批表").expect("sheet");
        let rows: Vec<Vec<Data>> = sheet.rows().map(|r| r.to_vec()).collect();
        let find = |code: &str| rows.iter().find(|r| r.get(1).is_some_and(|c| *c == code)).expect("row").clone();
        let xa = find(SCHOOL_A);
        assert_eq!(
            (xa[3].to_string(), xa[4].to_string(), xa[7].to_string(), xa[8].to_string()),
            ("17".into(), "3".into(), "255".into(), "255".into()),
            "{label}: {xa:?}"
        );
        let xt = find("合计");
        assert_eq!((xt[7].to_string(), xt[9].to_string()), ("425".into(), "70".into()), "{label}: {xt:?}");

        // The page shows the same totals; another county's finance sees nothing of it.
        let html = body_text(
            test::call_service(
                &app,
                test::TestRequest::get()
                    .uri(&format!("/reconciliation?org={COUNTY}&month=2026-10"))
                    .insert_header((actix_web::http::header::COOKIE, format!("mealroll_session={}", w.token("caiwu"))))
                    .to_request(),
            )
            .await,
        )
        .await;
        assert!(html.contains("id=\"total-entitled\">425.00") && html.contains("资金滞留"), "{label}");
        let (s, _) = call(
            &app,
            test::TestRequest::get().uri(&format!("/api/v1/reconciliation?org={COUNTY}&month=2026-10")),
            &bearer(&w, "yyb2"),
        )
        .await;
        assert_eq!(s, 404, "{label}: out of scope");

        // The prefecture's 资金对账 menu is a chooser of its counties, each a working link.
        add_user(&w, "shi.caiwu", "522300", "finance");
        let page = |uri: String| {
            let cookie = format!("mealroll_session={}", w.token("shi.caiwu"));
            let app = &app;
            async move {
                let resp = test::call_service(
                    app,
                    test::TestRequest::get()
                        .uri(&uri)
                        .insert_header((actix_web::http::header::COOKIE, cookie))
                        .to_request(),
                )
                .await;
                (resp.status().as_u16(), body_text(resp).await)
            }
        };
        let (s, html) = page("/reconciliation?month=2026-10".into()).await;
        assert_eq!(s, 200, "{label}: {html}");
        let link = format!("/reconciliation?org={COUNTY}&amp;month=2026-10&amp;fund=meal");
        assert!(html.contains(&link) && html.contains(&format!("org={OTHER_COUNTY}")), "{label}: {html}");
        let (s, html) = page(link.replace("&amp;", "&")).await;
        assert_eq!(s, 200, "{label}");
        assert!(html.contains("id=\"total-entitled\">425.00"), "{label}: the county's figures from the prefecture");
        // A school's own month: its rows only, titled with the school, the form links by the school.
        let (s, html) = page(format!("/reconciliation?org={SCHOOL_A}&month=2026-10")).await;
        assert_eq!(s, 200, "{label}");
        assert!(html.contains(&format!("/reconciliation/{SCHOOL_A}/2026-10/disbursement.pdf")), "{label}");
        assert!(!html.contains(&format!("<td>{SCHOOL_B}</td>")), "{label}: another school's row");
    }
}
