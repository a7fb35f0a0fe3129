//! Test harness: every data test runs on a fresh SQLite file and, when `MEALROLL_TEST_PG_URL`
//! is set, on a throw-away PostgreSQL database created for the run and dropped after it.

#![allow(dead_code)]

use actix_web::dev::{Service, ServiceResponse};
use actix_web::{test, web};
use chrono::{Datelike, Months, NaiveDate, Utc};
use diesel::{Connection, RunQueryDsl};

use mealroll::auth::Caller;
use mealroll::auth::service::{self as accounts, NewUser};
use mealroll::config::{Keys, Settings};
use mealroll::db::{self, Backend, DbConn, Pool};
use mealroll::demo::DemoReport;
use mealroll::org::model::{ClassInput, SchoolInput, TeacherInput};
use mealroll::org::service as org;
use mealroll::web::AppState;
use serde_json::{Value, json};

pub const PASSWORD: &str = "Test-password-2026";

/// The master secret of every test: the harness's own process and each command it runs seal
/// the chains with the key derived from it.
pub const SECRET: [u8; 32] = [42u8; 32];

/// A data directory for this test process (keys, anchors), so no test writes `./data`.
pub fn data_dir() -> &'static std::path::Path {
    static DIR: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().expect("data dir")).path()
}

/// The built binary with the tests' secret and data directory (a later `.env` overrides).
pub fn mealroll_cmd() -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_mealroll"));
    cmd.env("MEALROLL_SECRET_KEY", hex::encode(SECRET)).env("MEALROLL_DATA_DIR", data_dir());
    cmd
}

pub struct TestDb {
    pub url: String,
    pub label: &'static str,
    pg_admin: Option<(String, String)>,
    _dir: Option<tempfile::TempDir>,
    born: std::time::Instant,
}

impl TestDb {
    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}", dir.path().join("test.db").display());
        Self { url, label: "sqlite", pg_admin: None, _dir: Some(dir), born: std::time::Instant::now() }
    }

    pub fn postgres() -> Option<Self> {
        Self::postgres_from(None)
    }

    /// A throw-away PostgreSQL database, empty or a copy of `template`.
    fn postgres_from(template: Option<&str>) -> Option<Self> {
        let admin = pg_admin_url()?;
        let name = format!("mealroll_test_{}", uuid::Uuid::new_v4().simple());
        let mut c = diesel::PgConnection::establish(&admin).expect("connect to MEALROLL_TEST_PG_URL");
        let from = template.map(|t| format!(" TEMPLATE {t}")).unwrap_or_default();
        diesel::sql_query(format!("CREATE DATABASE {name}{from}")).execute(&mut c).expect("create test database");
        Some(Self {
            url: pg_url(&admin, &name),
            label: "postgres",
            pg_admin: Some((admin, name)),
            _dir: None,
            born: std::time::Instant::now(),
        })
    }

    /// SQLite always; PostgreSQL when configured.
    pub fn all() -> Vec<TestDb> {
        let mut v = vec![Self::sqlite()];
        v.extend(Self::postgres());
        v
    }

    /// A fresh copy of the demo county on each backend, as `mealroll demo` builds it.
    pub fn sqlite_demo() -> TestDb {
        demo_copy(Backend::Sqlite).0
    }

    pub fn demos() -> Vec<(TestDb, DemoReport)> {
        // PostgreSQL's template builds beside SQLite's instead of after it.
        let pg = pg_admin_url().is_some().then(|| std::thread::spawn(|| template(Backend::Postgres).report.clone()));
        let mut v = vec![demo_copy(Backend::Sqlite)];
        if let Some(built) = pg {
            built.join().expect("the PostgreSQL demo template");
            v.push(demo_copy(Backend::Postgres));
        }
        v
    }

    /// A PostgreSQL database the test made and removes itself (a cluster of its own).
    pub fn external(url: String) -> Self {
        Self { url, label: "postgres", pg_admin: None, _dir: None, born: std::time::Instant::now() }
    }

    pub fn sqlite_path(&self) -> Option<String> {
        self.url.strip_prefix("sqlite://").map(str::to_owned)
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        // `MEALROLL_TEST_TIMES=FILE cargo test` appends how long each test held each database:
        // the way to find what makes the suite slow (the test's name is its thread's).
        if let Ok(path) = std::env::var("MEALROLL_TEST_TIMES") {
            use std::io::Write;
            let test = std::thread::current().name().unwrap_or("?").to_owned();
            let line = format!("{:.2}\t{}\t{test}\n", self.born.elapsed().as_secs_f64(), self.label);
            if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(path) {
                let _ = f.write_all(line.as_bytes());
            }
        }
        if let Some((admin, name)) = &self.pg_admin
            && let Ok(mut c) = diesel::PgConnection::establish(admin)
        {
            let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut c);
        }
    }
}

pub fn pg_admin_url() -> Option<String> {
    std::env::var("MEALROLL_TEST_PG_URL").ok().filter(|s| !s.is_empty())
}

/// The address of database `name` on the server `admin` names.
fn pg_url(admin: &str, name: &str) -> String {
    let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(admin);
    format!("{base}/{name}")
}

/// The demo county, built once per test process and backend, whose copies the stories that
/// start from it take: building it takes a minute a backend, copying it a second.
/// SQLite: a file; PostgreSQL: a database used as the template of each copy.
struct DemoTemplate {
    source: String,
    report: DemoReport,
}

/// The demo template of a backend, built once per test process (each backend on its own, so
/// the two can build side by side).
fn template(backend: Backend) -> &'static DemoTemplate {
    static SQLITE: std::sync::OnceLock<DemoTemplate> = std::sync::OnceLock::new();
    static POSTGRES: std::sync::OnceLock<DemoTemplate> = std::sync::OnceLock::new();
    let cell = match backend {
        Backend::Sqlite => &SQLITE,
        Backend::Postgres => &POSTGRES,
    };
    cell.get_or_init(|| demo_template(backend))
}

fn demo_copy(backend: Backend) -> (TestDb, DemoReport) {
    let t = template(backend);
    let db = match backend {
        Backend::Sqlite => {
            let db = TestDb::sqlite();
            std::fs::copy(&t.source, db.sqlite_path().expect("sqlite")).expect("copy the demo file");
            db
        }
        Backend::Postgres => TestDb::postgres_from(Some(&t.source)).expect("postgres"),
    };
    (db, t.report.clone())
}

/// Builds the template, after removing those a finished test process left behind (named after
/// its process id).
fn demo_template(backend: Backend) -> DemoTemplate {
    let pid = std::process::id();
    let gone = |name: &str, prefix: &str| {
        name.strip_prefix(prefix)
            .and_then(|rest| rest.split(['.', '_']).next())
            .and_then(|p| p.parse::<u32>().ok())
            .is_some_and(|p| p != pid && !std::path::Path::new(&format!("/proc/{p}")).exists())
    };
    let (url, source) = match backend {
        Backend::Sqlite => {
            let dir = std::env::temp_dir();
            for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                if gone(&entry.file_name().to_string_lossy(), "mealroll-demo-") {
                    let _ = std::fs::remove_file(entry.path());
                }
            }
            let path = dir.join(format!("mealroll-demo-{pid}.db"));
            let _ = std::fs::remove_file(&path);
            (format!("sqlite://{}", path.display()), path.display().to_string())
        }
        Backend::Postgres => {
            let admin = pg_admin_url().expect("MEALROLL_TEST_PG_URL");
            let mut c = diesel::PgConnection::establish(&admin).expect("connect to MEALROLL_TEST_PG_URL");
            #[derive(diesel::QueryableByName)]
            struct Name {
                #[diesel(sql_type = diesel::sql_types::Text)]
                datname: String,
            }
            let names: Vec<Name> = diesel::sql_query(
                "SELECT datname::text AS datname FROM pg_database WHERE datname LIKE 'mealroll_demo_%'",
            )
            .load(&mut c)
            .expect("databases");
            let name = format!("mealroll_demo_{pid}");
            for n in names.iter().filter(|n| n.datname == name || gone(&n.datname, "mealroll_demo_")) {
                let _ =
                    diesel::sql_query(format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", n.datname)).execute(&mut c);
            }
            diesel::sql_query(format!("CREATE DATABASE {name}")).execute(&mut c).expect("create the demo database");
            (pg_url(&admin, &name), name)
        }
    };
    // Built by the command a county runs, so the stories starting from a copy cover it too.
    let out = mealroll_cmd().args(["--db", &url, "--json", "demo"]).output().expect("run mealroll demo");
    assert!(out.status.success(), "mealroll demo: {}", String::from_utf8_lossy(&out.stderr));
    let report: DemoReport = serde_json::from_slice(&out.stdout).expect("the demo's report as JSON");
    if backend == Backend::Sqlite {
        // The whole file in one piece for copying (the command has ended: no connection is open).
        let mut c = diesel::SqliteConnection::establish(&source).expect("open the demo file");
        diesel::sql_query("PRAGMA wal_checkpoint(TRUNCATE)").execute(&mut c).expect("checkpoint");
    }
    DemoTemplate { source, report }
}

/// A migrated database with the division tree and a small world:
/// county 522326 with schools A and B, county 522327 with school C; users per role.
pub struct World {
    pub db: TestDb,
    pub pool: Pool,
    pub keys: Keys,
    pub settings: Settings,
    pub totp: std::collections::HashMap<String, String>,
}

pub const COUNTY: &str = "522326";
pub const OTHER_COUNTY: &str = "522327";
pub const SCHOOL_A: &str = "2152326001";
pub const SCHOOL_B: &str = "2152326002";
pub const SCHOOL_C: &str = "2152327001";

impl World {
    /// A migrated database with the division tree only: no schools, no users (room for the
    /// demo county).
    pub fn bare(db: TestDb) -> Self {
        // Workbooks are parsed by the built binary in a child process, as in the server.
        mealroll::exchange::worker::set_program(env!("CARGO_BIN_EXE_mealroll"));
        let mut settings = Settings::defaults();
        settings.database_url = db.url.clone();
        settings.pool_size = 4;
        settings.data_dir = data_dir().to_owned();
        let keys = Keys::from_master(&SECRET);
        mealroll::audit::chain::install(&keys.chain).expect("chain key");
        mealroll::db::at_rest::install(&keys.fields);
        let pool = db::connect(&db.url, 4).expect("connect");
        let mut conn = pool.get().expect("conn");
        mealroll::audit::chain::adopt(&mut conn, &keys.chain).expect("adopt");
        mealroll::db::at_rest::seal_once(&mut conn).expect("seal");
        mealroll::org::seed::divisions(&mut conn).expect("seed");
        drop(conn);
        Self { db, pool, keys, settings, totp: std::collections::HashMap::new() }
    }

    pub fn new(db: TestDb) -> Self {
        let Self { db, pool, keys, settings, .. } = Self::bare(db);
        let mut conn = pool.get().expect("conn");
        let cli = Caller::cli(&mut conn).expect("cli");
        let mut totp = std::collections::HashMap::new();
        for (code, parent, name) in [
            (SCHOOL_A, COUNTY, "望谟县王母小学"),
            (SCHOOL_B, COUNTY, "望谟县纳包小学"),
            (SCHOOL_C, OTHER_COUNTY, "册亨县者楼小学"),
        ] {
            org::create_school(
                &mut conn,
                &cli,
                &SchoolInput {
                    code: code.into(),
                    name: name.into(),
                    parent_code: parent.into(),
                    sponsor_type: "1".into(),
                    urban_rural: "220".into(),
                    school_type: "211".into(),
                    ..SchoolInput::default()
                },
            )
            .expect("school");
            org::create_teacher(
                &mut conn,
                &cli,
                code,
                &TeacherInput {
                    staff_no: "0001".into(),
                    name: "王䶮".into(),
                    sex: "女".into(),
                    phone: "13812345678".into(),
                    subject: "语文".into(),
                },
            )
            .expect("teacher");
            org::create_class(
                &mut conn,
                &cli,
                code,
                &ClassInput {
                    class_no: "202601".into(),
                    grade: "1".into(),
                    entry_year: "2026".into(),
                    head_teacher_staff_no: "0001".into(),
                    ..ClassInput::default()
                },
            )
            .expect("class");
        }
        let now = mealroll::clock::now();
        for (username, org_code, role) in [
            ("yyb", COUNTY, "nutrition_office"),
            ("yyb2", OTHER_COUNTY, "nutrition_office"),
            ("ducha", COUNTY, "inspector"),
            ("a.xueji", SCHOOL_A, "registrar"),
            ("b.xueji", SCHOOL_B, "registrar"),
            ("a.xiaozhang", SCHOOL_A, "principal"),
            ("b.xiaozhang", SCHOOL_B, "principal"),
            ("c.xueji", SCHOOL_C, "registrar"),
            ("c.xiaozhang", SCHOOL_C, "principal"),
            ("xitong", COUNTY, "sysadmin"),
            ("anquan", COUNTY, "secadmin"),
            ("shenji", COUNTY, "auditadmin"),
        ] {
            let creds = accounts::create_user(
                &mut conn,
                &keys,
                &cli,
                &NewUser {
                    username: username.into(),
                    display_name: format!("测试 {username}"),
                    org_code: org_code.into(),
                    roles: vec![role.into()],
                    password: Some(PASSWORD.into()),
                },
                now,
            )
            .expect("user");
            if let Some(s) = creds.totp_secret {
                totp.insert(username.to_owned(), s);
            }
        }
        drop(conn);
        Self { db, pool, keys, settings, totp }
    }

    pub fn conn(&self) -> db::PooledConn {
        self.pool.get().expect("conn")
    }

    pub fn state(&self) -> mealroll::app::Shared {
        mealroll::app::Shared {
            state: web::Data::new(
                AppState::new(self.pool.clone(), self.settings.clone(), self.keys.clone()).expect("state"),
            ),
            jobs: web::Data::new(mealroll::exchange::jobs::Jobs::new(
                self.pool.clone(),
                "test-server",
                std::time::Duration::from_secs(3600),
            )),
        }
    }

    /// A valid TOTP code for a user that has one, for a time step not used yet.
    pub fn totp_code(&self, username: &str, step_offset: i64) -> Option<String> {
        let secret = self.totp.get(username)?;
        let unix = u64::try_from(Utc::now().timestamp() + step_offset * 30).ok()?;
        mealroll::auth::totp::code_at(secret, unix).ok()
    }

    /// A session token for a user without going through the login form (TOTP steps are scarce
    /// within one test; the login itself is tested in `auth.rs`).
    pub fn token(&self, username: &str) -> String {
        use diesel::prelude::*;
        use mealroll::db::schema::users;
        let mut conn = self.conn();
        let id: i64 =
            users::table.filter(users::username.eq(username)).select(users::id).first(&mut conn).expect("user");
        mealroll::auth::session::open(&mut conn, &self.keys, &self.settings, id, "127.0.0.1", mealroll::clock::now())
            .expect("session")
    }

    pub fn caller(&self, username: &str) -> Caller {
        let token = self.token(username);
        let mut conn = self.conn();
        mealroll::auth::session::authenticate(
            &mut conn,
            &self.keys,
            &self.settings,
            &token,
            "127.0.0.1",
            mealroll::clock::now(),
        )
        .expect("auth")
    }
}

pub type Header = (actix_web::http::header::HeaderName, String);

/// A bearer-token header for a user (session opened directly, see [`World::token`]).
pub fn bearer(w: &World, user: &str) -> Header {
    (actix_web::http::header::AUTHORIZATION, format!("Bearer {}", w.token(user)))
}

/// The app under test, as `test::init_service` gives it: helpers take `&impl TestApp<B>`.
pub trait TestApp<B>: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error> {}

impl<S, B> TestApp<B> for S where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>
{
}

/// Calls the app as `who`; returns the status and the JSON body (null when not JSON).
pub async fn call<S, B>(app: &S, req: test::TestRequest, who: &Header) -> (u16, Value)
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: actix_web::body::MessageBody,
{
    let r = test::call_service(app, req.insert_header(who.clone()).to_request()).await;
    let status = r.status().as_u16();
    (status, body_json(r).await)
}

pub fn audit_count(conn: &mut DbConn, action: &str) -> i64 {
    use diesel::prelude::*;
    use mealroll::db::schema::audit_log;
    audit_log::table.filter(audit_log::action.eq(action)).count().get_result(conn).expect("count")
}

pub async fn body_json<B: actix_web::body::MessageBody>(resp: ServiceResponse<B>) -> serde_json::Value {
    let bytes = test::read_body(resp).await;
    serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null)
}

pub async fn body_text<B: actix_web::body::MessageBody>(resp: ServiceResponse<B>) -> String {
    String::from_utf8_lossy(&test::read_body(resp).await).into_owned()
}

/// Logs in through the API; returns the bearer token.
pub async fn api_token<S, B>(app: &S, w: &World, username: &str) -> String
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: actix_web::body::MessageBody,
{
    let req = test::TestRequest::post()
        .uri("/api/v1/auth/token")
        .set_json(serde_json::json!({"username": username, "password": PASSWORD, "totp": w.totp_code(username, 0)}))
        .to_request();
    let resp = test::call_service(app, req).await;
    assert_eq!(resp.status(), 200, "login {username}");
    body_json(resp).await["token"].as_str().expect("token").to_owned()
}

/// The CSRF token embedded in a page's forms.
pub fn csrf_of(html: &str) -> String {
    let key = "name=\"csrf\" value=\"";
    let start = html.find(key).expect("page has a csrf field") + key.len();
    html[start..].split('"').next().unwrap_or_default().to_owned()
}

pub fn with_check(body17: &str) -> String {
    format!("{body17}{}", mealroll::domain::id_card::check_char(body17).expect("17 digits"))
}

/// A complete record for school A's class 202601.
pub fn student(name: &str, id_body17: &str, birth: &str, sex: &str) -> Value {
    json!({
        "name": name, "sex": sex, "birth_date": birth, "birthplace": "522326", "native_place": "贵州望谟",
        "ethnicity": "布依族", "nationality": "CHN", "id_type": "居民身份证", "gatqw": "否", "health": "健康或良好",
        "id_no": with_check(id_body17), "hukou_type": "农业户口", "hukou_place": "522326001001", "class_no": "202601",
        "entry_ym": "202609", "entry_mode": "就近入学", "attendance": "住校", "address_now": "王母街道纳包村",
        "address_mail": "王母街道纳包村", "address_home": "王母街道纳包村", "phone": "13800001111", "postcode": "552300",
        "only_child": "否", "preschool": "是", "left_behind": "双亲留守儿童", "needs_aid": "是", "yibu": "是",
        "orphan": "否", "martyr_child": "否", "m1_name": "王国华", "m1_relation": "父亲", "m1_guardian": "是",
        "m1_phone": "13900002222", "m2_name": "李秀英", "m2_relation": "母亲", "m2_guardian": "否", "migrant": "否"
    })
}

/// The national template as a UTF-8 CSV with BOM: one row per (school code, record).
pub fn csv_of(rows: &[(String, mealroll::domain::student::StudentRecord)]) -> Vec<u8> {
    use mealroll::domain::student::FIELDS;
    use mealroll::exchange::template;
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(template::headers()).expect("header");
    for (school, r) in rows {
        let mut line = vec![school.clone()];
        line.extend(FIELDS.iter().map(|f| template::cell_text(r, f.key)));
        w.write_record(line).expect("row");
    }
    let mut out = "\u{feff}".as_bytes().to_vec();
    out.extend(w.into_inner().expect("csv"));
    out
}

/// A JSON student (as [`student`] makes) as the raw field map the services take.
pub fn raw_of(rec: &Value) -> std::collections::BTreeMap<String, String> {
    rec.as_object()
        .expect("object")
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
        .collect()
}

/// Two years ago, first of the month: when the test children entered school.
pub fn entry_day() -> NaiveDate {
    let d = mealroll::clock::today().checked_sub_months(Months::new(24)).expect("date");
    d.with_day(1).expect("day")
}

/// Registers a child at a school (by its registrar) and has the county confirm it.
pub async fn enrolled<S, B>(app: &S, w: &World, school: &str, name: &str, id17: &str) -> (i64, String)
where
    S: TestApp<B>,
    B: actix_web::body::MessageBody,
{
    enrolled_in(app, w, school, "202601", name, id17).await
}

/// [`enrolled`] into a class of the school (by its number).
pub async fn enrolled_in<S, B>(
    app: &S,
    w: &World,
    school: &str,
    class_no: &str,
    name: &str,
    id17: &str,
) -> (i64, String)
where
    S: TestApp<B>,
    B: actix_web::body::MessageBody,
{
    let (registrar, county) = match school {
        SCHOOL_A => ("a.xueji", "yyb"),
        SCHOOL_B => ("b.xueji", "yyb"),
        _ => ("c.xueji", "yyb2"),
    };
    let mut rec = student(name, id17, "2019-01-01", "男");
    rec["class_no"] = json!(class_no);
    rec["entry_ym"] = json!(entry_day().format("%Y%m").to_string());
    rec["enrolled_on"] = json!(entry_day().to_string());
    rec["backdate_reason"] = json!("测试：两年前入学，系统启用前已在校");
    let (s, v) = call(
        app,
        test::TestRequest::post().uri(&format!("/api/v1/schools/{school}/students")).set_json(&rec),
        &bearer(w, registrar),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let id = v["id"].as_i64().expect("id");
    let (s, v) = call(
        app,
        test::TestRequest::post().uri("/api/v1/students/confirm").set_json(json!({"ids": [id]})),
        &bearer(w, county),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    (id, student_no_of(&mut w.conn(), id))
}

/// A student's 学籍号 in full (the registry keeps it sealed).
pub fn student_no_of(conn: &mut mealroll::db::DbConn, id: i64) -> String {
    use diesel::prelude::*;
    use mealroll::db::schema::students;
    let sealed: String = students::table.find(id).select(students::student_no_sealed).first(conn).expect("student");
    mealroll::db::at_rest::student_no(&sealed).expect("opens")
}

/// Runs a poppler tool (pdftotext, pdfinfo …) on PDF bytes and returns its output.
pub fn pdftool(tool: &str, pdf: &[u8], args: &[&str]) -> String {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("f.pdf");
    std::fs::write(&path, pdf).expect("write");
    let out = std::process::Command::new(tool)
        .args(args)
        .arg(&path)
        .args(if tool == "pdftotext" { vec!["-"] } else { vec![] })
        .output()
        .expect("poppler-utils is installed");
    assert!(out.status.success(), "{tool}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf8")
}

/// Adds a user of a role at an org (for roles the world does not create, such as 财务).
pub fn add_user(w: &World, username: &str, org: &str, role: &str) {
    let mut conn = w.conn();
    let cli = Caller::cli(&mut conn).expect("cli");
    accounts::create_user(
        &mut conn,
        &w.keys,
        &cli,
        &NewUser {
            username: username.into(),
            display_name: format!("测试 {username}"),
            org_code: org.into(),
            roles: vec![role.into()],
            password: Some(PASSWORD.into()),
        },
        mealroll::clock::now(),
    )
    .expect("user");
}

/// A multipart/form-data body: `(field, Some(filename), bytes)` for a file, `None` for a text
/// field. Returns the content type (with its boundary) and the body.
pub fn multipart(parts: &[(&str, Option<&str>, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "----mealroll-test-boundary-7d1e";
    let mut body = Vec::new();
    for (field, filename, bytes) in parts {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        match filename {
            Some(f) => body.extend_from_slice(
                format!(
                    "Content-Disposition: form-data; name=\"{field}\"; filename=\"{f}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
                )
                .as_bytes(),
            ),
            None => body.extend_from_slice(format!("Content-Disposition: form-data; name=\"{field}\"\r\n\r\n").as_bytes()),
        }
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// How many rows a table holds (what a refusal must leave as it was).
pub fn rows_in(w: &World, table: &str) -> i64 {
    #[derive(diesel::QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    diesel::sql_query(format!("SELECT COUNT(*) AS n FROM {table}")).get_result::<N>(&mut w.conn()).expect("count").n
}

/// Posts a multipart form to `uri` as `who`; returns the status and the JSON body.
pub async fn post_multipart<S, B>(
    app: &S,
    who: &Header,
    uri: &str,
    parts: &[(&str, Option<&str>, &[u8])],
) -> (u16, Value)
where
    S: TestApp<B>,
    B: actix_web::body::MessageBody,
{
    let (ct, body) = multipart(parts);
    let req =
        test::TestRequest::post().uri(uri).insert_header((actix_web::http::header::CONTENT_TYPE, ct)).set_payload(body);
    call(app, req, who).await
}

/// A grey JPEG of `w` × `h` pixels (a scanned page, as far as any check can tell).
pub fn jpeg(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([200, (x % 256) as u8, (y % 256) as u8]));
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new(&mut out).encode_image(&img).expect("jpeg");
    out
}

/// A PDF whose every page is one JPEG, as a scanner writes it.
pub fn scanned_pdf(pages: &[Vec<u8>]) -> Vec<u8> {
    use lopdf::{Document, Object, Stream, dictionary};
    let mut doc = Document::with_version("1.5");
    let pages_id = doc.new_object_id();
    let mut kids = Vec::new();
    for jpeg in pages {
        let (w, h) = image::ImageReader::with_format(std::io::Cursor::new(jpeg), image::ImageFormat::Jpeg)
            .into_dimensions()
            .expect("jpeg");
        let img = doc.add_object(Stream::new(
            dictionary! {
                "Type" => "XObject", "Subtype" => "Image", "Width" => i64::from(w), "Height" => i64::from(h),
                "ColorSpace" => "DeviceRGB", "BitsPerComponent" => 8, "Filter" => "DCTDecode",
            },
            jpeg.clone(),
        ));
        let content = doc.add_object(Stream::new(dictionary! {}, b"q 595 0 0 842 0 0 cm /Im0 Do Q".to_vec()));
        let page = doc.add_object(dictionary! {
            "Type" => "Page", "Parent" => pages_id, "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()],
            "Contents" => content, "Resources" => dictionary! { "XObject" => dictionary! { "Im0" => img } },
        });
        kids.push(Object::Reference(page));
    }
    let count = i64::try_from(kids.len()).expect("pages");
    doc.objects
        .insert(pages_id, Object::Dictionary(dictionary! { "Type" => "Pages", "Kids" => kids, "Count" => count }));
    let catalog = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
    doc.trailer.set("Root", catalog);
    let mut out = Vec::new();
    doc.save_to(&mut out).expect("pdf");
    out
}

/// Writes a student's ID number as the server stores it (sealed, with its keyed hash): for tests
/// that plant a wrong or shared number behind the service's back.
pub fn set_id_no(conn: &mut mealroll::db::DbConn, student: i64, id_no: &str) {
    use diesel::prelude::*;
    use mealroll::db::at_rest;
    use mealroll::db::schema::students;
    diesel::update(students::table.find(student))
        .set((
            students::id_no_sealed.eq(at_rest::seal::<at_rest::IdNo>(id_no).expect("seal")),
            students::id_no_hash.eq(at_rest::id_hash(id_no).expect("hash")),
        ))
        .execute(conn)
        .expect("id_no");
}

/// The newest term whose 15 September / 1 March snapshot has passed, with that snapshot.
pub fn past_term() -> (String, NaiveDate) {
    let today = mealroll::clock::today();
    let y = today.year();
    let sep = NaiveDate::from_ymd_opt(y, 9, 15).expect("day");
    let mar = NaiveDate::from_ymd_opt(y, 3, 1).expect("day");
    if today >= sep {
        (format!("{y}-1"), sep)
    } else if today >= mar {
        (format!("{}-2", y - 1), mar)
    } else {
        (format!("{}-1", y - 1), NaiveDate::from_ymd_opt(y - 1, 9, 15).expect("day"))
    }
}

/// Puts school A into the programme for the term's school year.
pub async fn school_a_in_programme<S, B>(app: &S, yyb: &Header, term: &str)
where
    S: TestApp<B>,
    B: actix_web::body::MessageBody,
{
    let (s, v) = call(
        app,
        test::TestRequest::put()
            .uri("/api/v1/programme/plans")
            .set_json(json!({"county": COUNTY, "school_year": &term[..4], "plan_type": "national"})),
        yyb,
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let (s, v) = call(
        app,
        test::TestRequest::post()
            .uri("/api/v1/programme/schools")
            .set_json(json!({"school": SCHOOL_A, "from_date": "2011-09-01"})),
        yyb,
    )
    .await;
    assert_eq!(s, 200, "{v}");
}

/// Opens school A's second first-grade class, 202602 (一年级（2）班).
pub fn second_class(w: &World) {
    class_at_school_a(w, "202602", "一年级（2）班", 1);
}

/// Opens a class at school A: its number, name and grade (entered the year the grade says).
pub fn class_at_school_a(w: &World, class_no: &str, name: &str, grade: i32) {
    let cli = Caller::cli(&mut w.conn()).expect("cli");
    let class = ClassInput {
        class_no: class_no.into(),
        name: name.into(),
        grade: grade.to_string(),
        entry_year: (2027 - grade).to_string(),
        head_teacher_staff_no: "0001".into(),
        ..Default::default()
    };
    org::create_class(&mut w.conn(), &cli, SCHOOL_A, &class).expect("class");
}
