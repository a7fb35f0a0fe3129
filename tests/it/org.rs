//! The org tree's edge cases and the clear refusal of bad input.

use crate::common;

use actix_web::http::header;
use actix_web::test;
use common::*;
use mealroll::auth::Caller;
use mealroll::error::ErrorCode;
use mealroll::org::model::SchoolInput;
use mealroll::org::service as org;

fn school(code: &str, parent: &str) -> SchoolInput {
    SchoolInput {
        code: code.into(),
        name: "测试学校".into(),
        parent_code: parent.into(),
        sponsor_type: "1".into(),
        urban_rural: "220".into(),
        school_type: "211".into(),
        ..SchoolInput::default()
    }
}

#[actix_web::test]
async fn the_tree_holds_the_divisions_edge_cases() {
    for db in TestDb::all() {
        let label = db.label;
        let w = World::new(db);
        let mut conn = w.conn();
        let cli = Caller::cli(&mut conn).expect("cli");
        // A province-administered county (济源) hangs off its province.
        let page = org::org_page(&mut conn, &cli, Some("410000")).expect("henan");
        assert!(page.children.iter().any(|c| c.org.code == "419001"), "{label}");
        // 东莞 has no counties: a school may sit right under it, with the province code 44.
        org::create_school(&mut conn, &cli, &school("2144000001", "441900")).expect("dongguan school");
        // A prefecture with counties may not hold schools directly.
        let e =
            org::create_school(&mut conn, &cli, &school("2152000099", "522300")).expect_err("prefecture with counties");
        assert_eq!(e.code, ErrorCode::SchoolBadParent, "{label}");
        // A Beijing district under the province-level city.
        org::create_school(&mut conn, &cli, &school("2111000001", "110105")).expect("beijing school");
        // Province mismatch between code and location.
        let e = org::create_school(&mut conn, &cli, &school("2144000002", COUNTY)).expect_err("mismatch");
        assert_eq!(e.code, ErrorCode::SchoolProvinceMismatch, "{label}");
        assert!(e.message.contains("44") && e.message.contains("52"), "{label}: {}", e.message);
        // A township under the county, then a school under the township.
        org::create_township(&mut conn, &cli, COUNTY, "522326101", "复兴镇").expect("township");
        org::create_school(&mut conn, &cli, &school("2152326050", "522326101")).expect("school under township");
        let (list, total) =
            org::list_schools(&mut conn, &cli, &org::SchoolFilter { under: "522326".into(), ..Default::default() })
                .expect("list");
        assert_eq!(total, 3, "{label}: A, B and the township's school");
        assert!(list.iter().any(|s| s.parent_name == "复兴镇"), "{label}");
        // County users of 东莞 (prefecture without counties) see its school.
        let dg =
            org::list_schools(&mut conn, &cli, &org::SchoolFilter { under: "441900".into(), ..Default::default() })
                .expect("dg");
        assert_eq!(dg.1, 1, "{label}");
    }
}

#[actix_web::test]
async fn bad_input_gets_chinese_messages_per_field_and_no_500() {
    for db in TestDb::all() {
        let label = db.label;
        let w = World::new(db);
        let app = test::init_service(mealroll::app::app(w.state())).await;
        let auth = (header::AUTHORIZATION, format!("Bearer {}", w.token("yyb")));

        // Malformed JSON.
        let r = test::call_service(
            &app,
            test::TestRequest::post()
                .uri("/api/v1/schools")
                .insert_header(auth.clone())
                .insert_header((header::CONTENT_TYPE, "application/json"))
                .set_payload("{\"code\": ")
                .to_request(),
        )
        .await;
        assert_eq!(r.status(), 422, "{label}");
        assert_eq!(body_json(r).await["error"], "input.malformed_json", "{label}");

        // A school with several bad fields: each named.
        let r = test::call_service(&app, test::TestRequest::post().uri("/api/v1/schools").insert_header(auth.clone())
            .set_json(serde_json::json!({"code": "21523260", "name": "", "parent_code": COUNTY, "sponsor_type": "外星", "urban_rural": "220", "school_type": "211", "principal_mobile": "139"}))
            .to_request()).await;
        assert_eq!(r.status(), 422, "{label}");
        let body = body_json(r).await;
        let fields: Vec<&str> =
            body["fields"].as_array().expect("fields").iter().filter_map(|f| f["field"].as_str()).collect();
        for f in ["code", "name", "sponsor_type", "principal_mobile"] {
            assert!(fields.contains(&f), "{label}: {f} in {fields:?}");
        }
        assert!(body["message"].as_str().unwrap_or("").contains("10位"), "{label}: {body}");

        // A class with a bad grade, a bad year and an unknown head teacher.
        let r = test::call_service(&app, test::TestRequest::post().uri(&format!("/api/v1/schools/{SCHOOL_A}/classes")).insert_header(auth.clone())
            .set_json(serde_json::json!({"class_no": "2026a1", "grade": "十三年级", "entry_year": "26", "head_teacher_staff_no": "9999"}))
            .to_request()).await;
        assert_eq!(r.status(), 422, "{label}");
        let body = body_json(r).await;
        let msg = body["message"].as_str().unwrap_or("");
        for part in ["班号", "年级", "入学年份", "9999"] {
            assert!(msg.contains(part), "{label}: {part} in {msg}");
        }
        // Duplicate class number.
        let r = test::call_service(
            &app,
            test::TestRequest::post()
                .uri(&format!("/api/v1/schools/{SCHOOL_A}/classes"))
                .insert_header(auth.clone())
                .set_json(serde_json::json!({"class_no": "202601", "grade": "1", "entry_year": "2026"}))
                .to_request(),
        )
        .await;
        assert_eq!(r.status(), 422, "{label}");
        assert_eq!(body_json(r).await["error"], "class.duplicate", "{label}");
        // A teacher still heading a class cannot be deleted.
        let teachers = body_json(
            test::call_service(
                &app,
                test::TestRequest::get()
                    .uri(&format!("/api/v1/schools/{SCHOOL_A}/teachers"))
                    .insert_header(auth.clone())
                    .to_request(),
            )
            .await,
        )
        .await;
        let tid = teachers[0]["id"].as_i64().expect("id");
        let r = test::call_service(
            &app,
            test::TestRequest::delete()
                .uri(&format!("/api/v1/teachers/{tid}"))
                .insert_header(auth.clone())
                .to_request(),
        )
        .await;
        assert_eq!(r.status(), 409, "{label}");
        assert_eq!(body_json(r).await["error"], "teacher.in_use", "{label}");
        // Non-numeric ids and unknown routes are 404s with a code.
        let r = test::call_service(
            &app,
            test::TestRequest::get().uri("/api/v1/classes/abc").insert_header(auth.clone()).to_request(),
        )
        .await;
        assert_eq!(r.status(), 404, "{label}");
        let r = test::call_service(
            &app,
            test::TestRequest::get().uri("/api/v1/nothing").insert_header(auth.clone()).to_request(),
        )
        .await;
        assert_eq!(r.status(), 404, "{label}");
        assert_eq!(body_json(r).await["error"], "not_found", "{label}");

        // The page form shows the field errors next to the fields, escaped.
        let cookie = (header::COOKIE, format!("mealroll_session={}", w.token("a.xueji")));
        let page = test::call_service(
            &app,
            test::TestRequest::get()
                .uri(&format!("/schools/{SCHOOL_A}/classes/new"))
                .insert_header(cookie.clone())
                .to_request(),
        )
        .await;
        let csrf = csrf_of(&body_text(page).await);
        let r = test::call_service(
            &app,
            test::TestRequest::post()
                .uri(&format!("/schools/{SCHOOL_A}/classes"))
                .insert_header(cookie.clone())
                .set_form([
                    ("csrf", csrf.as_str()),
                    ("class_no", "202603"),
                    ("grade", "1"),
                    ("entry_year", "2026"),
                    ("name", "<script>alert(1)</script>\u{7}"),
                ])
                .to_request(),
        )
        .await;
        assert_eq!(r.status(), 422, "{label}");
        let html = body_text(r).await;
        assert!(html.contains("控制字符"), "{label}");
        assert!(!html.contains("<script>alert(1)"), "{label}: escaped");
    }
}

#[actix_web::test]
async fn pages_carry_security_headers_and_the_openapi_document_lists_the_api() {
    let w = World::new(TestDb::sqlite());
    let app = test::init_service(mealroll::app::app(w.state())).await;
    let r = test::call_service(&app, test::TestRequest::get().uri("/login").to_request()).await;
    for h in ["content-security-policy", "x-content-type-options", "x-frame-options", "referrer-policy"] {
        assert!(r.headers().contains_key(h), "{h}");
    }
    let doc =
        body_json(test::call_service(&app, test::TestRequest::get().uri("/api/v1/openapi.json").to_request()).await)
            .await;
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["paths"]["/api/v1/auth/token"]["post"].is_object());
    assert!(doc["paths"]["/api/v1/classes/{id}"]["delete"].is_object());
    // Once routed but never documented.
    assert!(doc["paths"]["/api/v1/dashboard"]["get"]["summary"].as_str().is_some_and(|s| !s.is_empty()));
}

/// The document and the routes come from one declaration per route: every operation the areas
/// declare is in the document, with a summary and a group, and is answered by a handler (not by
/// the scope's "接口不存在"), and the document lists nothing else.
#[actix_web::test]
async fn every_api_route_is_documented_and_every_documented_route_is_routed() {
    let w = World::new(TestDb::sqlite());
    let app = test::init_service(mealroll::app::app(w.state())).await;
    let doc =
        body_json(test::call_service(&app, test::TestRequest::get().uri("/api/v1/openapi.json").to_request()).await)
            .await;
    let operations = mealroll::app::operations();
    assert!(operations.len() > 150, "{} operations", operations.len());
    let listed: usize =
        doc["paths"].as_object().expect("paths").values().map(|p| p.as_object().expect("ops").len()).sum();
    assert_eq!(listed, operations.len(), "the document lists exactly the declared operations");

    let unrouted = |status: u16, body: &serde_json::Value| status == 404 && body["message"] == "接口不存在";
    let probe =
        test::TestRequest::default().method(actix_web::http::Method::PATCH).uri("/api/v1/students").to_request();
    let r = test::call_service(&app, probe).await;
    let status = r.status().as_u16();
    assert!(unrouted(status, &body_json(r).await), "the control: an undeclared method is not routed");

    for op in &operations {
        let method = op.method.as_str().to_lowercase();
        let entry = &doc["paths"][format!("/api/v1{}", op.path)][&method];
        assert!(entry["summary"].as_str().is_some_and(|s| !s.is_empty()), "{method} {}: summary", op.path);
        assert_eq!(entry["tags"][0], op.tag, "{method} {}: group", op.path);
        // Any value fills the path's parameters: what answers must be the handler, even if only
        // to say 401 or that there is no such record.
        let uri: String =
            op.path.split('/').map(|seg| if seg.starts_with('{') { "1" } else { seg }).collect::<Vec<_>>().join("/");
        let req = test::TestRequest::default().method(op.method.clone()).uri(&format!("/api/v1{uri}")).to_request();
        let r = test::call_service(&app, req).await;
        let status = r.status().as_u16();
        let body = body_json(r).await;
        assert!(!unrouted(status, &body), "{method} {} is documented but not routed", op.path);
    }
}

/// Schemas where a contract tool needs them: every operation says what it answers with a schema
/// (or that it answers a file or nothing), no schema anywhere is "anything", every reference
/// resolves, and what handlers read shows as they read it (a query's parameters with their
/// values, a body's fields with which are required).
#[actix_web::test]
async fn every_api_operation_has_its_request_and_response_schemas() {
    let doc = mealroll::web::openapi::build(&mealroll::app::operations());
    let components = doc["components"]["schemas"].as_object().expect("components");

    // Every schema position in the document, with where it is.
    fn schemas<'a>(v: &'a serde_json::Value, at: String, out: &mut Vec<(String, &'a serde_json::Value)>) {
        match v {
            serde_json::Value::Object(o) => {
                for (k, child) in o {
                    let here = format!("{at}/{k}");
                    match k.as_str() {
                        "schema" | "items" | "additionalProperties" | "not" => out.push((here.clone(), child)),
                        "properties" | "$defs" => {
                            if let Some(props) = child.as_object() {
                                out.extend(props.iter().map(|(n, s)| (format!("{here}/{n}"), s)));
                            }
                        }
                        "oneOf" | "anyOf" | "allOf" | "prefixItems" => {
                            if let Some(list) = child.as_array() {
                                out.extend(list.iter().enumerate().map(|(i, s)| (format!("{here}/{i}"), s)));
                            }
                        }
                        _ => {}
                    }
                    schemas(child, here, out);
                }
            }
            serde_json::Value::Array(a) => {
                for (i, child) in a.iter().enumerate() {
                    schemas(child, format!("{at}/{i}"), out);
                }
            }
            _ => {}
        }
    }
    let mut found = Vec::new();
    schemas(&doc["paths"], "paths".into(), &mut found);
    for (name, s) in components {
        found.push((format!("components/{name}"), s));
        schemas(s, format!("components/{name}"), &mut found);
    }
    assert!(found.len() > 1000, "{} schemas", found.len());
    // Each named type under its own name: two types sharing one ("Period", "Period2") are renamed.
    let numbered: Vec<&String> = components.keys().filter(|n| n.ends_with(|c: char| c.is_ascii_digit())).collect();
    assert!(numbered.is_empty(), "{numbered:?}");
    let mut wrong = Vec::new();
    for (at, s) in &found {
        // Annotations alone (a description, a default) constrain nothing.
        let annotations = ["description", "default", "title", "examples", "deprecated", "readOnly", "writeOnly"];
        if *s == &serde_json::Value::Bool(true)
            || s.as_object().is_some_and(|o| o.keys().all(|k| annotations.contains(&k.as_str())))
        {
            wrong.push(format!("{at}: a schema that says nothing"));
        }
        if let Some(r) = s.get("$ref").and_then(|r| r.as_str()) {
            let resolves = match r.strip_prefix("#/components/schemas/") {
                Some(name) => components.contains_key(name),
                None => r.starts_with("https://spec.openapis.org/"),
            };
            if !resolves {
                wrong.push(format!("{at}: {r} does not resolve"));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));

    for (path, ops) in doc["paths"].as_object().expect("paths") {
        for (method, op) in ops.as_object().expect("ops") {
            let responses = op["responses"].as_object().expect("responses");
            let success: Vec<_> = responses.iter().filter(|(s, _)| s.starts_with('2')).collect();
            assert!(!success.is_empty(), "{method} {path}: no success answer");
            for (status, r) in success {
                if status == "204" {
                    continue;
                }
                let content = r["content"].as_object().unwrap_or_else(|| panic!("{method} {path} {status}: content"));
                assert!(
                    content.values().all(|c| c["schema"].is_object()),
                    "{method} {path} {status}: every content has its schema"
                );
            }
        }
    }

    // One name for a month, term or year across the API, as on the command line.
    for (path, ops) in doc["paths"].as_object().expect("paths") {
        for (method, op) in ops.as_object().expect("ops") {
            let params = op["parameters"].as_array().expect("parameters");
            let body = &op["requestBody"]["content"]["application/json"]["schema"]["properties"];
            let named_month = params.iter().any(|p| p["name"] == "month") || body.get("month").is_some();
            assert!(!named_month, "{method} {path} calls its period a month");
        }
    }

    // What handlers read, as they read it.
    let op = |method: &str, path: &str| doc["paths"][format!("/api/v1{path}")][method].clone();
    let students = op("get", "/students");
    let review = students["parameters"]
        .as_array()
        .expect("parameters")
        .iter()
        .find(|p| p["name"] == "review" && p["in"] == "query")
        .expect("?review= is listed");
    let values: Vec<&str> = review["schema"]["enum"]
        .as_array()
        .or_else(|| review["schema"]["anyOf"][0]["enum"].as_array())
        .or_else(|| review["schema"]["oneOf"].as_array())
        .map(|v| v.iter().filter_map(|x| x.as_str().or_else(|| x["const"].as_str())).collect())
        .unwrap_or_default();
    assert!(values.contains(&"pending") && values.contains(&"problem"), "{review}");
    assert_eq!(
        students["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
            .as_str()
            .map(|r| r == "#/components/schemas/StudentListItemPage"),
        Some(true),
        "{students}"
    );

    let posting = op("post", "/ledger/requests");
    let body = &posting["requestBody"]["content"]["application/json"]["schema"];
    for field in ["kind", "fund", "amount", "date"] {
        assert!(body["properties"][field].is_object(), "the posting body names {field}: {body}");
    }
    assert!(posting["responses"]["201"].is_object() && posting["responses"]["200"].is_object(), "{posting}");
    let id = &op("get", "/students/{id}")["parameters"][0];
    assert_eq!((id["name"].as_str(), id["in"].as_str()), (Some("id"), Some("path")));
    assert_eq!(id["schema"]["type"], "integer", "{id}");
    assert_eq!(op("post", "/auth/token")["security"], serde_json::json!([]), "the token needs no token");
    assert!(op("get", "/students")["responses"]["401"].is_object());
    assert!(op("delete", "/classes/{id}")["responses"]["204"].is_object());
    let money = &components["Threshold"]["properties"]["threshold"];
    assert_eq!(money["type"], "string", "money is a decimal string: {money}");
}
