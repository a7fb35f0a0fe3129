//! Headless Chromium, driven over WebDriver, logs in as a county user (with TOTP), opens the
//! school list, a school and a class page, and saves screenshots to look at.
//! Needs Debian's `chromium` and `chromium-driver`; CI installs them and sets
//! `MEALROLL_REQUIRE_BROWSER=1`, so there a missing browser fails the test.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;

use crate::common;
use serde_json::{Value, json};

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("free port")
}

fn wait_for(url: &str) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(30) {
        if ureq::get(url).call().is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("{url} did not come up");
}

struct Driver {
    base: String,
    session: String,
}

impl Driver {
    fn post(&self, path: &str, body: Value) -> Value {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let mut resp = ureq::post(&url).send_json(&body).unwrap_or_else(|e| panic!("POST {path}: {e}"));
        resp.body_mut().read_json::<Value>().expect("json")
    }

    fn get(&self, path: &str) -> Value {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let mut resp = ureq::get(&url).call().unwrap_or_else(|e| panic!("GET {path}: {e}"));
        resp.body_mut().read_json::<Value>().expect("json")
    }

    fn open(&self, url: &str) {
        self.post("/url", json!({ "url": url }));
    }

    fn try_post(&self, path: &str, body: Value) -> Option<Value> {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        ureq::post(&url).send_json(&body).ok()?.body_mut().read_json::<Value>().ok()
    }

    fn try_get(&self, path: &str) -> Option<Value> {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        ureq::get(&url).call().ok()?.body_mut().read_json::<Value>().ok()
    }

    /// Retries `f` for up to 15 s: right after a click the old page may still be showing, or be
    /// replaced between finding an element and reading it.
    fn retry<T>(&self, what: &str, f: impl Fn() -> Option<T>) -> T {
        let start = Instant::now();
        loop {
            if let Some(v) = f() {
                return v;
            }
            assert!(start.elapsed() < Duration::from_secs(15), "{what}: not found in 15 s: {}", self.source());
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn try_find(&self, css: &str) -> Option<String> {
        let v = self.try_post("/element", json!({"using": "css selector", "value": css}))?;
        v["value"][ELEMENT].as_str().map(str::to_owned)
    }

    fn find(&self, css: &str) -> String {
        self.retry(css, || self.try_find(css))
    }

    fn type_into(&self, css: &str, text: &str) {
        let id = self.find(css);
        self.post(&format!("/element/{id}/value"), json!({ "text": text }));
    }

    /// Replaces a field's value (typing appends to what is there).
    fn set_value(&self, css: &str, text: &str) {
        let id = self.find(css);
        self.post(&format!("/element/{id}/clear"), json!({}));
        self.post(&format!("/element/{id}/value"), json!({ "text": text }));
    }

    /// Runs a line of script (a date input's value, which keys type in the locale's order).
    fn exec(&self, script: &str) {
        self.post("/execute/sync", json!({ "script": script, "args": [] }));
    }

    fn click(&self, css: &str) {
        self.retry(css, || {
            let id = self.try_find(css)?;
            self.try_post(&format!("/element/{id}/click"), json!({}))
        });
    }

    fn find_text(&self, css: &str) -> String {
        self.retry(css, || {
            let id = self.try_find(css)?;
            let v = self.try_get(&format!("/element/{id}/text"))?;
            v["value"].as_str().map(str::to_owned)
        })
    }

    fn source(&self) -> String {
        self.get("/source")["value"].as_str().unwrap_or_default().to_owned()
    }

    fn cookie(&self, name: &str) -> String {
        self.get(&format!("/cookie/{name}"))["value"]["value"].as_str().unwrap_or_default().to_owned()
    }

    fn url(&self) -> String {
        self.get("/url")["value"].as_str().unwrap_or_default().to_owned()
    }

    /// Waits until the browser has left a URL (form posts return before the next page loads).
    fn wait_until_url(&self, pred: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let url = self.url();
            if pred(&url) || start.elapsed() > Duration::from_secs(15) {
                return url;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Polls the page until `pred` holds (or 15 s pass); returns the last source seen.
    fn wait_until_source(&self, pred: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let html = self.source();
            if pred(&html) || start.elapsed() > Duration::from_secs(15) {
                return html;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn screenshot(&self, to: &Path) {
        let b64 = self.get("/screenshot")["value"].as_str().unwrap_or_default().to_owned();
        let png = base64::engine::general_purpose::STANDARD.decode(b64).expect("png");
        std::fs::write(to, png).expect("write screenshot");
        eprintln!("screenshot: {}", to.display());
    }
}

/// The cells (of those `arguments[0]` selects) whose text runs over more than one line; a cell
/// that breaks on purpose (a `<br>`) or holds a field is not counted.
const WRAPPED_CELLS: &str = "const out = []; document.querySelectorAll(arguments[0]).forEach(td => { \
    if (td.querySelector('br,input,select,form')) return; \
    const tops = []; const w = document.createTreeWalker(td, NodeFilter.SHOW_TEXT); let n; \
    while ((n = w.nextNode())) { if (!n.textContent.trim()) continue; const r = document.createRange(); \
      r.selectNodeContents(n); for (const x of r.getClientRects()) { if (x.width > 0) tops.push(x.top); } } \
    tops.sort((a, b) => a - b); let lines = tops.length ? 1 : 0; \
    for (let i = 1; i < tops.length; i++) { if (tops[i] - tops[i - 1] > 8) lines++; } \
    if (lines > 1) out.push(td.innerText); }); return out;";

fn screenshot_dir() -> PathBuf {
    let dir = std::env::var("MEALROLL_SCREENSHOT_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("screenshots"));
    std::fs::create_dir_all(&dir).expect("screenshot dir");
    dir
}

#[test]
fn county_user_logs_in_and_browses_schools_and_a_class_in_chromium() {
    let chromedriver =
        ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"].into_iter().find(|p| Path::new(p).exists());
    let Some(chromedriver) = chromedriver else {
        assert!(std::env::var("MEALROLL_REQUIRE_BROWSER").is_err(), "chromium-driver is not installed");
        eprintln!("browser test skipped: chromium-driver not installed (CI installs it)");
        return;
    };
    let tmp = tempfile::tempdir().expect("tmp");
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut server = Command::new(env!("CARGO_BIN_EXE_mealroll"))
        .args([
            "--db",
            &format!("sqlite://{}", tmp.path().join("m.db").display()),
            "--json",
            "serve",
            "--demo",
            "--bind",
            &format!("127.0.0.1:{port}"),
        ])
        .env("MEALROLL_DATA_DIR", tmp.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start mealroll");
    let mut first = String::new();
    let mut out = BufReader::new(server.stdout.take().expect("stdout"));
    out.read_line(&mut first).expect("demo json");
    // Keep draining, so the server never writes into a closed pipe.
    std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
    let _server = Killed(server);
    let demo: Value = serde_json::from_str(&first).expect("demo report is JSON");
    let yyb =
        demo["users"].as_array().expect("users").iter().find(|u| u["username"] == "yyb").expect("county user").clone();
    wait_for(&format!("{base}/login"));

    let dport = free_port();
    let _driver = Killed(
        Command::new(chromedriver)
            .arg(format!("--port={dport}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver"),
    );
    let dbase = format!("http://127.0.0.1:{dport}");
    wait_for(&format!("{dbase}/status"));
    let profile = tmp.path().join("chrome");
    let caps = json!({"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {
        "binary": "/usr/bin/chromium",
        "args": ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--window-size=1280,1000", "--lang=zh-CN",
                 format!("--user-data-dir={}", profile.display())]
    }}}});
    let mut resp = ureq::post(&format!("{dbase}/session")).send_json(&caps).expect("new session");
    let session: Value = resp.body_mut().read_json().expect("json");
    let d = Driver { base: dbase, session: session["value"]["sessionId"].as_str().expect("session id").to_owned() };
    let shots = screenshot_dir();

    d.open(&format!("{base}/login"));
    d.screenshot(&shots.join("01-login.png"));
    d.type_into("#username", "yyb");
    d.type_into("#password", yyb["password"].as_str().expect("password"));
    let secret = yyb["totp_secret"].as_str().expect("county users have TOTP");
    let unix = u64::try_from(chrono::Utc::now().timestamp()).expect("time");
    d.type_into("#totp", &mealroll::auth::totp::code_at(secret, unix).expect("code"));
    d.click("#login-submit");
    d.wait_until_url(|u| !u.contains("/login"));
    let after = d.source();
    assert!(after.contains("望谟县"), "dashboard after login: {} {}", d.url(), after);
    // What waits is counted in the menu on every page, and the to-do panel leads to it.
    assert!(after.contains("id=\"menu-count\""), "the menu counts what waits: {after}");
    d.click("#todo a[href='/students?review=pending']");
    d.wait_until_url(|u| u.ends_with("/students?review=pending"));
    assert!(d.source().contains("全选本页并确认"), "the pending students, all selectable at once: {}", d.source());
    assert!(d.source().contains("id=\"menu-count\""), "the count on the next page too");
    // A list filtered from its form keeps the filter in its address; it prints without the form.
    d.exec("document.querySelector('#search-form select[name=grade]').value = '1';");
    d.exec("document.querySelector('#search-form select[name=review]').value = 'confirmed';");
    d.click("#search-form button[type=submit]");
    let filtered = d.wait_until_url(|u| u.contains("grade=1"));
    assert!(filtered.contains("review=confirmed"), "{filtered}");
    for width in [1366, 1024] {
        d.post("/window/rect", json!({"width": width, "height": 900}));
        // No column of the list breaks a name, a date or a state over two lines.
        let wrapped = d.post("/execute/sync", json!({"script": WRAPPED_CELLS, "args": ["#student-list td"]}));
        assert_eq!(wrapped["value"], json!([]), "wrapped cells at {width} px");
        d.screenshot(&shots.join(format!("07a-students-filtered-{width}.png")));
    }
    let printed = d.post("/print", json!({"orientation": "landscape", "background": false}));
    let pdf = base64::engine::general_purpose::STANDARD.decode(printed["value"].as_str().expect("print")).expect("pdf");
    std::fs::write(shots.join("students-print.pdf"), &pdf).expect("write");
    let text = common::pdftool("pdftotext", &pdf, &["-layout"]);
    assert!(text.contains("学生学籍") && text.contains("一年级"), "the list prints: {text}");
    assert!(!text.contains("清除条件") && !text.contains("全选本页"), "without its forms: {text}");
    let first_page = text.split('\u{c}').next().unwrap_or_default();
    assert!(first_page.contains("学籍号"), "the list starts on the first page, under its heading: {text}");
    d.post("/window/rect", json!({"width": 1280, "height": 1000}));

    d.open(&format!("{base}/schools"));
    let list = d.source();
    assert!(list.contains("共 29 所"), "school list");
    assert!(list.contains("望谟县王母小学"));
    d.screenshot(&shots.join("02-schools.png"));

    d.click("#school-list tbody tr:first-child a");
    let url = d.wait_until_url(|u| u.contains("/schools/2"));
    assert!(url.ends_with("/schools/2152326001"), "{url}");
    d.screenshot(&shots.join("03-school.png"));
    d.click("#class-list tbody tr:first-child a");
    let url = d.wait_until_url(|u| u.contains("/classes/"));
    assert!(url.contains("/classes/"), "{url}");
    let class_page = d.source();
    assert!(class_page.contains("一年级(1)班"), "class page");
    assert!(class_page.contains("班主任"));
    d.screenshot(&shots.join("04-class.png"));

    // The class's students: IDs masked in the list, the record grouped on its page.
    d.click("a[href^='/students?class_id=']");
    d.wait_until_url(|u| u.contains("/students?class_id="));
    let list = d.source();
    assert!(list.contains("***********"), "IDs masked in the list");
    d.screenshot(&shots.join("07-students.png"));
    d.click("#student-list tbody tr:first-child td a");
    d.wait_until_url(|u| u.contains("/students/") && !u.contains("class_id"));
    let detail = d.source();
    assert!(detail.contains("家庭成员信息") && detail.contains("变更历史"), "student detail");
    d.screenshot(&shots.join("08-student.png"));
    d.click("a[href$='/edit']");
    d.wait_until_url(|u| u.ends_with("/edit"));
    d.screenshot(&shots.join("09-student-form.png"));

    // The county sets this school year's key-information lock date (yesterday, so it holds now).
    let today = mealroll::clock::today();
    let year = mealroll::domain::key_lock::school_year_of(today);
    let lock_day = (today - chrono::Duration::days(1)).max(chrono::NaiveDate::from_ymd_opt(year, 9, 1).expect("date"));
    d.open(&format!("{base}/key-locks"));
    d.type_into("#lock_date", &lock_day.format("%Y-%m-%d").to_string());
    d.click("#lock-form button");
    d.wait_until_url(|u| u.contains("ok=saved"));
    assert!(d.source().contains(&lock_day.format("%Y-%m-%d").to_string()), "lock date listed");
    d.screenshot(&shots.join("13-key-locks.png"));
    let first_login_step = unix / 30;

    // Log out; the officers' pages: users for the system administrator, the log for the auditor.
    d.click("header form button");
    d.wait_until_url(|u| u.contains("/login"));
    // A one-time code is accepted once: a second login of the same user waits for the next step.
    let last_step: std::cell::RefCell<std::collections::HashMap<String, u64>> = Default::default();
    let login_as = |name: &str| {
        let u = demo["users"].as_array().expect("users").iter().find(|u| u["username"] == name).expect("user").clone();
        d.open(&format!("{base}/login"));
        d.type_into("#username", name);
        d.type_into("#password", u["password"].as_str().expect("password"));
        let now = || u64::try_from(chrono::Utc::now().timestamp()).expect("time");
        while last_step.borrow().get(name).is_some_and(|s| now() / 30 <= *s) {
            std::thread::sleep(Duration::from_millis(500));
        }
        let unix = now();
        last_step.borrow_mut().insert(name.to_owned(), unix / 30);
        d.type_into(
            "#totp",
            &mealroll::auth::totp::code_at(u["totp_secret"].as_str().expect("totp"), unix).expect("code"),
        );
        d.click("#login-submit");
        d.wait_until_url(|u| !u.contains("/login"));
    };
    login_as("xitong");
    d.open(&format!("{base}/users"));
    let users = d.source();
    assert!(users.contains("s1.xueji") && users.contains("学籍管理员"), "user list");
    d.screenshot(&shots.join("05-users.png"));
    d.click("header form button");
    d.wait_until_url(|u| u.contains("/login"));
    login_as("shenji");
    let home = d.source();
    assert!(home.contains("最近操作") && home.contains("login.ok"), "auditor's start page");
    d.open(&format!("{base}/audit?action=login"));
    assert!(d.source().contains("yyb"), "yyb's login is in the log");
    d.screenshot(&shots.join("06-audit.png"));
    // The log by an action's Chinese name, shown by people's names; the export takes the filter.
    d.exec("document.querySelector('#audit-filter select[name=label]').value = '登录成功';");
    d.click("#audit-filter button[type=submit]");
    d.wait_until_url(|u| u.contains("label="));
    let log = d.find_text("#audit-log");
    assert!(log.contains("登录成功") && !log.contains("退出登录"), "{log}");
    assert!(
        d.source().contains("href=\"/audit.xlsx?action=login&amp;label=%E7%99%BB%E5%BD%95%E6%88%90%E5%8A%9F\""),
        "the export carries the filters: {}",
        d.source()
    );
    d.screenshot(&shots.join("06a-audit-filtered.png"));

    // The school's registrar imports a CSV through the page: two good rows and one bad.
    d.click("header form button");
    d.wait_until_url(|u| u.contains("/login"));
    let clerk =
        demo["users"].as_array().expect("users").iter().find(|u| u["username"] == "s1.xueji").expect("clerk").clone();
    d.open(&format!("{base}/login"));
    d.type_into("#username", "s1.xueji");
    d.type_into("#password", clerk["password"].as_str().expect("password"));
    d.click("#login-submit");
    d.wait_until_url(|u| !u.contains("/login"));
    // The registrar's home lists the children it entered that wait for the county; one click
    // shows them.
    d.click("#todo a[href='/students?review=pending']");
    d.wait_until_url(|u| u.ends_with("/students?review=pending"));
    assert!(d.source().contains("待县级确认"), "the school's pending students: {}", d.source());
    assert!(!d.source().contains("全选本页并确认"), "a school does not confirm its own: {}", d.source());
    d.screenshot(&shots.join("14a-registrar-pending.png"));
    let mut factory = mealroll::demo::StudentFactory::new(99);
    let class_no = format!("{}01", factory.school_year());
    let today = factory.today;
    let mut rows: Vec<(String, mealroll::domain::student::StudentRecord)> = (0..3)
        .map(|_| {
            let raw = factory.raw(&class_no, 1, false);
            ("2152326001".to_owned(), mealroll::domain::student::StudentRecord::parse(&raw, today).expect("valid"))
        })
        .collect();
    let fixed_name = rows[0].1.name().to_owned();
    let mut csv = csv::Writer::from_writer(Vec::new());
    csv.write_record(mealroll::exchange::template::headers()).expect("header");
    for (i, (school, r)) in rows.iter_mut().enumerate() {
        let mut line = vec![school.clone()];
        line.extend(mealroll::domain::student::FIELDS.iter().map(|f| {
            if i == 2 && f.key == "ethnicity" {
                "傈傈族".to_owned()
            } else {
                mealroll::exchange::template::cell_text(r, f.key)
            }
        }));
        csv.write_record(line).expect("row");
    }
    let upload = tmp.path().join("导入.csv");
    std::fs::write(&upload, csv.into_inner().expect("csv")).expect("write csv");
    d.open(&format!("{base}/import"));
    d.type_into("#file", upload.to_str().expect("path"));
    d.click("input[name='mode'][value='partial']");
    d.screenshot(&shots.join("10-import.png"));
    d.click("#import-submit");
    let job_url = d.wait_until_url(|u| u.contains("/jobs/"));
    let start = Instant::now();
    while !d.source().contains("data-finished") && start.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(300));
    }
    let result = d.source();
    assert!(result.contains("新增 2") && result.contains("有错误 1 行"), "import result on {job_url}");
    assert!(result.contains("傈傈族"), "the bad value is named");
    d.screenshot(&shots.join("11-import-result.png"));
    // The error workbook, fetched with the page's session.
    let session = d.cookie("mealroll_session");
    let mut resp = ureq::get(&format!("{job_url}/errors.xlsx"))
        .header("Cookie", &format!("mealroll_session={session}"))
        .call()
        .expect("error workbook");
    let bytes = resp.body_mut().read_to_vec().expect("bytes");
    let mut wb: calamine::Xlsx<_> = calamine::Xlsx::new(std::io::Cursor::new(bytes)).expect("xlsx");
    use calamine::Reader;
    let range = wb.worksheet_range("错误行").expect("sheet");
    assert_eq!(range.height(), 2, "header + the one bad row");
    let reason = range.get((1, range.width() - 1)).map(|c| c.to_string()).unwrap_or_default();
    assert!(reason.contains("民族"), "{reason}");

    // Fix one imported student through the form.
    d.open(&format!("{base}/students?q={}", fixed_name));
    d.click("#student-list tbody tr:first-child td a");
    d.wait_until_url(|u| u.contains("/students/") && !u.contains("?q="));
    d.click("a[href$='/edit']");
    d.wait_until_url(|u| u.ends_with("/edit"));
    let addr = d.find("#f-address_now");
    d.post(&format!("/element/{addr}/clear"), json!({}));
    d.type_into("#f-address_now", "望谟县王母街道新屯村12号");
    d.type_into("input[name='reason']", "家访核实现住址");
    d.click("#student-save");
    d.wait_until_url(|u| u.contains("ok=student_saved"));
    assert!(d.source().contains("学生信息已保存"), "the message names what was saved: {}", d.source());
    let detail = d.source();
    assert!(
        detail.contains("望谟县王母街道新屯村12号") && detail.contains("家访核实现住址"),
        "fix saved with its reason"
    );
    d.screenshot(&shots.join("12-student-fixed.png"));

    // A confirmed student's name is locked: the registrar asks for the change with evidence.
    d.open(&format!("{base}/students?review=confirmed"));
    d.click("#student-list tbody tr:first-child td a");
    d.wait_until_url(|u| u.contains("/students/") && !u.contains("review="));
    assert!(d.source().contains("关键信息已于"), "lock shown on the student page");
    let old_name = d.find_text("#student-name").split(' ').next().unwrap_or_default().to_owned();
    d.click("#change-request-link");
    d.wait_until_url(|u| u.ends_with("/change-request"));
    let evidence = tmp.path().join("户口簿.pdf");
    std::fs::write(&evidence, b"%PDF-1.4\n% scan of the household register\n%%EOF\n").expect("evidence");
    let name_input = d.find("#new-name");
    d.post(&format!("/element/{name_input}/clear"), json!({}));
    d.type_into("#new-name", "王䶮");
    d.type_into("#reason", "以户口簿为准");
    d.type_into("#evidence", evidence.to_str().expect("path"));
    d.screenshot(&shots.join("14-change-form.png"));
    d.click("#change-submit");
    let request_url = d.wait_until_url(|u| u.contains("/change-requests/"));
    let request_url = request_url.split('?').next().unwrap_or_default().to_owned();
    assert!(d.source().contains("待学校审核"), "submitted");

    // The principal reviews it, then the county approves; only then does the name change.
    d.click("header form button");
    d.wait_until_url(|u| u.contains("/login"));
    let principal = demo["users"]
        .as_array()
        .expect("users")
        .iter()
        .find(|u| u["username"] == "s1.xiaozhang")
        .expect("principal")
        .clone();
    d.type_into("#username", "s1.xiaozhang");
    d.type_into("#password", principal["password"].as_str().expect("password"));
    d.click("#login-submit");
    d.wait_until_url(|u| !u.contains("/login"));
    d.open(&request_url);
    d.type_into("#note", "与户口簿一致");
    // No decision is chosen for the reviewer: 同意 is a click of its own.
    assert!(d.source().contains("name=\"decision\" value=\"approve\" required"), "no decision pre-selected");
    d.click("input[name=decision][value=approve]");
    d.click("#decide-submit");
    d.wait_until_url(|u| u.contains("ok=decided"));
    assert!(d.source().contains("待县级审批"), "school approved");
    d.click("header form button");
    d.wait_until_url(|u| u.contains("/login"));
    // A TOTP code is good once: wait for the next step after yyb's first login.
    while u64::try_from(chrono::Utc::now().timestamp()).expect("time") / 30 <= first_login_step {
        std::thread::sleep(Duration::from_millis(500));
    }
    login_as("yyb");
    d.open(&request_url);
    d.screenshot(&shots.join("15-change-review.png"));
    d.click("input[name=decision][value=approve]");
    d.click("#decide-submit");
    d.wait_until_url(|u| u.contains("ok=decided"));
    assert!(d.source().contains("已批准生效"), "approved");
    d.click("p a[href^='/students/']");
    d.wait_until_url(|u| u.contains("/students/") && !u.contains("change"));
    let detail = d.source();
    assert!(detail.contains("王䶮") && detail.contains(&old_name), "new name shown, old kept in history");
    d.screenshot(&shots.join("16-student-changed.png"));
    let yyb_step = u64::try_from(chrono::Utc::now().timestamp()).expect("time") / 30;

    // A cross-county transfer with four users: the receiving registrar (册亨), the receiving
    // county, the sending principal and the sending county; both sides see the child in transit.
    let (student_no, student_name, student_id) = {
        use diesel::prelude::*;
        use mealroll::db::schema::{orgs, students};
        let pool = mealroll::db::connect(&format!("sqlite://{}", tmp.path().join("m.db").display()), 1).expect("db");
        let mut conn = pool.get().expect("conn");
        students::table
            .inner_join(orgs::table)
            .filter(orgs::code.eq(demo["schools"][0].as_str().expect("school")))
            .filter(students::review.eq("confirmed"))
            .filter(students::status.eq("enrolled"))
            .select((students::student_no_sealed, students::name, students::id))
            .order(students::id.desc())
            .first::<(String, String, i64)>(&mut conn)
            .map(|(sealed, name, id)| {
                // Opened with this server's keys (its own secret.key), not the tests' installed ring.
                let master = std::fs::read_to_string(tmp.path().join("secret.key")).expect("secret");
                let keys = mealroll::config::Keys::from_master(&hex::decode(master.trim()).expect("hex"));
                let no = keys
                    .fields
                    .open(<mealroll::db::at_rest::StudentNumber as mealroll::db::at_rest::SealedField>::NAME, &sealed)
                    .expect("opens");
                (no, name, id)
            })
            .expect("a confirmed student")
    };
    let logout = || {
        d.click("header form button");
        d.wait_until_url(|u| u.contains("/login"));
    };
    let login_plain = |name: &str| {
        let u = demo["users"].as_array().expect("users").iter().find(|u| u["username"] == name).expect("user").clone();
        d.open(&format!("{base}/login"));
        d.type_into("#username", name);
        d.type_into("#password", u["password"].as_str().expect("password"));
        d.click("#login-submit");
        d.wait_until_url(|u| !u.contains("/login"));
    };
    logout();
    login_plain("ch.xueji");
    d.open(&format!("{base}/transfers/new"));
    d.type_into("#student_no", &student_no);
    d.type_into("#name", &student_name);
    let day = (mealroll::clock::today() - chrono::Days::new(3)).format("%Y-%m-%d").to_string();
    d.post(
        "/execute/sync",
        json!({"script": "document.getElementById('effective_date').value = arguments[0];", "args": [day]}),
    );
    d.type_into("#reason", "随父母迁居册亨县");
    d.screenshot(&shots.join("17-transfer-form.png"));
    d.click("#transfer-submit");
    let transfer_url = d.wait_until_url(|u| u.contains("/status-changes/"));
    assert!(transfer_url.contains("ok=requested"), "transfer submitted: {transfer_url} {}", d.source());
    let transfer_url = transfer_url.split('?').next().expect("url").to_owned();
    assert!(d.find_text("#change-status").contains("转学途中"), "the receiving school sees the child in transit");
    d.screenshot(&shots.join("18-transfer-requested.png"));
    logout();
    login_as("yyb2");
    d.open(&format!("{base}/status-changes?show=mine"));
    assert!(d.source().contains(&student_name), "receiving county has it waiting");
    d.open(&transfer_url);
    d.click("input[name=decision][value=approve]");
    d.click("#decide-submit");
    d.wait_until_url(|u| u.contains("ok=decided"));
    logout();
    login_plain("s1.xiaozhang");
    d.open(&format!("{base}/status-changes?show=in_transit"));
    let list = d.source();
    assert!(
        list.contains(&student_name) && list.contains("转学途中") && list.contains("册亨县者楼小学"),
        "the sending school sees it in transit"
    );
    d.screenshot(&shots.join("19-in-transit-sending-side.png"));
    d.open(&transfer_url);
    d.type_into("#note", "同意转出");
    d.click("input[name=decision][value=approve]");
    d.click("#decide-submit");
    d.wait_until_url(|u| u.contains("ok=decided"));
    logout();
    while u64::try_from(chrono::Utc::now().timestamp()).expect("time") / 30 <= yyb_step {
        std::thread::sleep(Duration::from_millis(500));
    }
    login_as("yyb");
    d.open(&transfer_url);
    d.screenshot(&shots.join("20-transfer-last-step.png"));
    d.click("input[name=decision][value=approve]");
    d.click("#decide-submit");
    d.wait_until_url(|u| u.contains("ok=decided"));
    assert!(d.find_text("#change-status").contains("已生效"), "approved: {}", d.source());
    // The county's settings: terms, restrictions and the configured chains; a promotion preview.
    d.open(&format!("{base}/terms"));
    assert!(d.source().contains("转入学校提交转学申请"), "chains shown");
    d.screenshot(&shots.join("22-terms.png"));
    d.open(&format!("{base}/promotions"));
    d.click("#preview-button");
    // The address stays /promotions: wait for the preview itself, not for the old page.
    d.wait_until_source(|s| s.contains("id=\"preview-title\""));
    assert!(d.find_text("#preview-title").contains("预览"), "promotion preview: {}", d.source());
    d.screenshot(&shots.join("23-promotion-preview.png"));
    logout();
    login_plain("ch.xueji");
    d.open(&format!("{base}/students/{student_id}"));
    let page = d.source();
    assert!(page.contains("册亨县者楼小学") && page.contains("学籍状态"), "the new school holds the child");
    d.screenshot(&shots.join("21-transferred-student.png"));

    // The 15 September roster: the school rebuilds on a later day (the transferred child has
    // left: v2 with its diff), signs, and the county reviews and archives; prints read back.
    let yyb_step = u64::try_from(chrono::Utc::now().timestamp()).expect("time") / 30;
    logout();
    login_plain("s1.yyzg");
    d.open(&format!("{base}/rosters"));
    assert!(d.source().contains("本校各版本"), "the school sees its versions: {}", d.source());
    d.screenshot(&shots.join("24-rosters-school.png"));
    let later = (mealroll::clock::today() - chrono::Days::new(1)).format("%Y-%m-%d").to_string();
    d.post(
        "/execute/sync",
        json!({"script": "document.getElementById('snapshot_date').value = arguments[0];", "args": [later]}),
    );
    // The demo's first version is archived: the page says so, and the rebuild is confirmed.
    assert!(d.find_text("#archived-warning").contains("已备案"), "warned before rebuilding: {}", d.source());
    d.click("#after_archive");
    d.click("#build-form button");
    let roster_url = d.wait_until_url(|u| u.contains("/rosters/") && u.contains("ok="));
    let page = d.source();
    assert!(roster_url.contains("ok=rebuilt") && page.contains("第2版"), "a new version: {roster_url} {page}");
    assert!(page.contains("（最近备案版本）相比"), "compared with what the county filed: {page}");
    assert!(d.find_text("#diff").contains(&student_name), "the diff names the child who left: {page}");
    d.screenshot(&shots.join("25-roster-v2.png"));
    // The guardians have signed the printed pages: the officer photographs each and uploads
    // them, one JPEG a page, chosen together.
    let summary = d.find_text("#scan-summary");
    let printed: usize = summary
        .split("共 ")
        .nth(1)
        .and_then(|t| t.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("the page says how many pages print: {summary}"));
    let mut paths = Vec::new();
    for n in 1..=printed {
        let img = image::RgbImage::from_fn(420, 594, |x, y| {
            if y % 20 == 0 || x % 70 == 0 { image::Rgb([60, 60, 60]) } else { image::Rgb([245, 243, 235]) }
        });
        let path = tmp.path().join(format!("签字第{n}页.jpg"));
        img.save_with_format(&path, image::ImageFormat::Jpeg).expect("jpeg");
        paths.push(path.display().to_string());
    }
    d.type_into("#scan", &paths.join("\n"));
    d.click("#scan-form button");
    d.wait_until_url(|u| u.contains("ok=scanned"));
    assert!(d.find_text("#scan-check").contains("页数一致"), "every printed page scanned: {}", d.source());
    // The new version waits for the principal's signature: the home page's to-do leads to it.
    let roster_path = roster_url.split('?').next().unwrap_or_default().trim_start_matches(base.as_str()).to_owned();
    d.open(&format!("{base}/"));
    d.click(&format!("#todo a[href='{roster_path}']"));
    d.wait_until_url(|u| u.ends_with(&roster_path));
    d.click("#sign-form button");
    // 签章 cannot be undone: a page says so and asks again.
    let asked = d.wait_until_source(|html| html.contains("id=\"confirm-form\""));
    assert!(asked.contains("内容冻结"), "the consequence is named: {asked}");
    d.screenshot(&shots.join("25a-roster-sign-confirm.png"));
    d.click("#confirm-submit");
    d.wait_until_url(|u| u.contains("ok=sign"));
    assert!(d.source().contains("已签章确认本版花名册"), "the message names what was done: {}", d.source());
    assert!(d.find_text("#roster-status").contains("学校已签章"), "signed: {}", d.source());
    let roster_url = roster_url.split('?').next().expect("url").to_owned();
    logout();
    while u64::try_from(chrono::Utc::now().timestamp()).expect("time") / 30 <= yyb_step {
        std::thread::sleep(Duration::from_millis(500));
    }
    login_as("yyb");
    d.open(&format!("{base}/rosters"));
    assert!(d.source().contains("逾期"), "the county sees late schools: {}", d.source());
    d.screenshot(&shots.join("26-rosters-county.png"));
    // The reviewer holds each scanned page beside the names printed on it.
    d.post("/window/rect", json!({"width": 1366, "height": 1000}));
    d.open(&format!("{roster_url}/scan"));
    assert!(d.find_text("#scan-check").contains("页数一致"), "pages compared: {}", d.source());
    assert!(d.source().contains("id=\"page-1\"") && d.source().contains("<img"), "page 1 shown: {}", d.source());
    d.screenshot(&shots.join("57-roster-scan-review-1366.png"));
    d.post("/window/rect", json!({"width": 1024, "height": 900}));
    d.screenshot(&shots.join("58-roster-scan-review-1024.png"));
    d.post("/window/rect", json!({"width": 1366, "height": 1000}));
    d.open(&roster_url);
    d.click("#review-form button[value=review]");
    d.wait_until_source(|html| html.contains("id=\"confirm-form\""));
    d.click("#confirm-submit");
    d.wait_until_url(|u| u.contains("ok=review"));
    d.click("#review-form button[value=archive]");
    d.wait_until_source(|html| html.contains("id=\"confirm-form\"") && html.contains("确认备案"));
    d.click("#confirm-submit");
    // The address changes from ok=review to ok=archive: wait for the page itself.
    let archived = d.wait_until_source(|html| html.contains("已备案"));
    assert!(archived.contains("已备案"), "archived: {archived}");
    d.screenshot(&shots.join("27-roster-archived.png"));
    // The whole county's rosters as one PDF, built as a job with a progress bar.
    d.open(&format!("{base}/rosters"));
    d.click("#print-all button");
    d.wait_until_url(|u| u.contains("/jobs/"));
    for _ in 0..240 {
        if d.source().contains("job-file") {
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    assert!(d.source().contains("job-file"), "the county print job finishes: {}", d.source());
    d.screenshot(&shots.join("31-print-all-done.png"));
    // Last month's meal subsidy for every programme school, down to a child's days.
    let today = mealroll::clock::today();
    let month =
        mealroll::domain::calendar::Month::of(today - chrono::Days::new(u64::from(chrono::Datelike::day(&today))));
    d.open(&format!("{base}/entitlements?month={month}"));
    // Computed as a job: its page shows progress, then what was computed and the way back.
    d.click("#compute-form button");
    d.wait_until_url(|u| u.contains("/jobs/"));
    for _ in 0..240 {
        if d.source().contains("data-finished") || d.source().contains("job-summary-link") {
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    let done = d.source();
    assert!(done.contains("已计算") && done.contains("所学校"), "the month's job finishes: {done}");
    d.screenshot(&shots.join("32-entitlements-job.png"));
    d.click("#job-summary-link");
    d.wait_until_url(|u| u.contains("/entitlements?month="));
    let total = d.find_text("#total");
    assert!(!total.is_empty() && total != "0.00", "a county total: {}", d.source());
    d.screenshot(&shots.join("32-entitlements.png"));
    d.click("#periods tbody tr td a");
    d.wait_until_url(|u| u.contains(&format!("/{month}")));
    assert!(d.source().contains("供餐日"), "a school's month by child: {}", d.source());
    d.screenshot(&shots.join("33-entitlement-school.png"));
    // The demo's year of money: last month reconciled, with the planted problems flagged.
    d.open(&format!("{base}/reconciliation?month={month}"));
    let page = d.source();
    assert!(page.contains("资金对账") && page.contains("压低标准") && page.contains("虚报就餐"), "flags: {page}");
    assert!(page.contains("仅月报"), "the school without daily records is marked: {page}");
    d.screenshot(&shots.join("34-reconciliation.png"));
    // Only the flagged schools, the filter kept in the address.
    d.click("input[name=flagged]");
    d.click("form[action='/reconciliation'] button[type=submit]");
    let flagged = d.wait_until_url(|u| u.contains("flagged=1"));
    let page = d.source();
    assert!(page.contains("压低标准") && !page.contains("<tr><td>"), "{flagged}: only flagged rows: {page}");
    d.screenshot(&shots.join("34a-reconciliation-flagged.png"));
    // The finance clerk starts from home: the receipt waiting on a second person is listed there
    // and leads to the ledger's pending postings; the ledger filters by kind and prints.
    logout();
    login_as("caiwu");
    d.click("#todo a[href^='/ledger']");
    d.wait_until_url(|u| u.contains("/ledger?status=pending"));
    let page = d.source();
    assert!(page.contains("待审批") && !page.contains("value=\"approve\""), "not the maker's to approve: {page}");
    d.exec("document.querySelector('#ledger-filter select[name=kind]').value = 'allocation';");
    d.exec("document.querySelector('#ledger-filter select[name=status]').value = '';");
    d.click("#ledger-filter button[type=submit]");
    let url = d.wait_until_url(|u| u.contains("kind=allocation"));
    assert!(!url.contains("status=pending"), "the state filter cleared: {url}");
    assert!(d.find_text("#requests tbody").contains("拨付"), "allocations listed: {}", d.source());
    for width in [1366, 1024] {
        d.post("/window/rect", json!({"width": width, "height": 900}));
        d.screenshot(&shots.join(format!("35a-ledger-allocations-{width}.png")));
    }
    let printed = d.post("/print", json!({"orientation": "landscape", "background": false}));
    let pdf = base64::engine::general_purpose::STANDARD.decode(printed["value"].as_str().expect("print")).expect("pdf");
    let text = common::pdftool("pdftotext", &pdf, &["-layout"]);
    assert!(text.contains("记账记录") && text.contains("拨付"), "the ledger prints: {text}");
    assert!(!text.contains("请选择业务"), "without the posting form: {text}");
    d.post("/window/rect", json!({"width": 1280, "height": 1000}));
    logout();
    login_as("yyb");
    // The county office reaches the receipt from its to-do panel and approves it.
    d.open(&format!("{base}/"));
    d.click("#todo a[href^='/ledger']");
    d.wait_until_url(|u| u.contains("/ledger?status=pending"));
    assert!(d.source().contains("待审批"), "a pending posting: {}", d.source());
    d.click("button[value=approve]");
    let asked = d.wait_until_source(|html| html.contains("id=\"confirm-form\""));
    assert!(asked.contains("审批入账：第") && asked.contains("不能撤回"), "approval asks first: {asked}");
    d.click("#confirm-submit");
    d.wait_until_url(|u| u.contains("ok=approved"));
    assert!(d.source().contains("已审批入账"), "approved: {}", d.source());
    d.screenshot(&shots.join("35-ledger.png"));
    d.open(&format!("{base}/ledger/verify"));
    assert!(d.source().contains("verify-ok"), "chains intact: {}", d.source());
    d.screenshot(&shots.join("36-ledger-verify.png"));
    let mut resp = ureq::get(&format!("{base}/reconciliation/{}/{month}/disbursement.pdf", mealroll::demo::COUNTY))
        .header("Cookie", &format!("mealroll_session={}", d.cookie("mealroll_session")))
        .call()
        .expect("disbursement pdf");
    let pdf = resp.body_mut().read_to_vec().expect("bytes");
    assert!(pdf.starts_with(b"%PDF"), "a PDF");
    std::fs::write(shots.join("disbursement.pdf"), &pdf).expect("write pdf");
    let _ = std::process::Command::new("pdftoppm")
        .args(["-r", "80", "-png", "-f", "1", "-l", "1"])
        .arg(shots.join("disbursement.pdf"))
        .arg(shots.join("37-disbursement-page"))
        .status();
    // The county dashboard: charts drawn on the server, then the county report, one figure
    // drilled into, and the report's xlsx as the download link gives it.
    d.open(&format!("{base}/dashboard"));
    let page = d.wait_until_source(|s| s.contains("chart-beneficiaries"));
    assert!(page.contains("chart-money") && page.contains("chart-late") && page.contains("<svg"), "{page}");
    d.screenshot(&shots.join("38-dashboard.png"));
    d.click("#open-report");
    d.wait_until_url(|u| u.contains("/reports/county-regular"));
    let report = d.wait_until_source(|s| s.contains("id=\"report\""));
    assert!(report.contains("县级常规统计报表") && report.contains("合计"), "{report}");
    d.screenshot(&shots.join("39-county-report.png"));
    let report_url = d.url();
    let total = d.find_text("#report tfoot th[data-col=beneficiaries]");
    d.click("#report tbody tr td[data-col=beneficiaries] a");
    d.wait_until_url(|u| u.contains("/drill"));
    let drill = d.source();
    assert!(drill.contains("受益学生人数") && drill.contains("******"), "the children counted, masked: {drill}");
    d.screenshot(&shots.join("40-report-drill.png"));
    d.open(&report_url);
    let page = d.source();
    let at = page.find("id=\"report-xlsx\"").expect("xlsx link");
    let href_at = page[..at].rfind("href=\"").expect("href") + 6;
    let href = page[href_at..].split('"').next().expect("href").replace("&amp;", "&").replace("&#38;", "&");
    let mut resp = ureq::get(&format!("{base}{href}"))
        .header("Cookie", &format!("mealroll_session={}", d.cookie("mealroll_session")))
        .call()
        .expect("report xlsx");
    let bytes = resp.body_mut().read_to_vec().expect("bytes");
    std::fs::write(shots.join("county-report.xlsx"), &bytes).expect("write xlsx");
    {
        use calamine::Reader;
        let mut wb: calamine::Xlsx<_> = calamine::Xlsx::new(std::io::Cursor::new(bytes)).expect("xlsx");
        let sheet = wb.worksheet_range("报表").expect("sheet");
        let totals = sheet.rows().find(|r| r.first().is_some_and(|c| *c == "合计")).expect("totals row");
        assert_eq!(totals[2].to_string(), total, "the xlsx carries the page's total beneficiaries");
    }
    // The county submits its county report: a frozen first version, waiting for the prefecture.
    d.open(&report_url);
    d.click("#submit-form button");
    d.wait_until_source(|html| html.contains("id=\"confirm-form\"") && html.contains("确认报送"));
    d.screenshot(&shots.join("40a-report-submit-confirm.png"));
    d.click("#confirm-submit");
    d.wait_until_url(|u| u.contains("/reports/submissions/"));
    let page = d.wait_until_source(|s| s.contains("id=\"snapshot\""));
    assert!(page.contains("第1版") && page.contains("已报送，待审核") && page.contains("内容哈希"), "{page}");
    d.screenshot(&shots.join("41-report-submitted.png"));
    // Who owes the schools' regular report this term, late ones first.
    d.open(&format!("{base}/reports/submissions?report=school-regular"));
    let page = d.source();
    assert!(page.contains("未报送") && page.contains("逾期"), "{page}");
    d.screenshot(&shots.join("42-report-owed.png"));
    d.open(&format!("{base}/programme"));
    assert!(d.source().contains("国家计划县") && d.source().contains("5.00"), "settings page: {}", d.source());
    d.screenshot(&shots.join("28-programme.png"));
    d.open(&format!("{base}/calendars/{}", demo["schools"][0].as_str().expect("school")));
    d.screenshot(&shots.join("29-calendar.png"));
    let roster_id = roster_url.rsplit('/').next().expect("id");
    let mut resp = ureq::get(&format!("{base}/rosters/{roster_id}/roster.pdf"))
        .header("Cookie", &format!("mealroll_session={}", d.cookie("mealroll_session")))
        .call()
        .expect("roster pdf");
    let pdf = resp.body_mut().read_to_vec().expect("bytes");
    assert!(pdf.starts_with(b"%PDF"), "a PDF");
    std::fs::write(shots.join("roster.pdf"), &pdf).expect("write pdf");
    let _ = std::process::Command::new("pdftoppm")
        .args(["-r", "80", "-png", "-f", "1", "-l", "1"])
        .arg(shots.join("roster.pdf"))
        .arg(shots.join("30-roster-page"))
        .status();
    // The prefecture's 资金对账: a chooser of its counties, each opening that county's month.
    logout();
    login_as("zhou.yyb");
    // The prefecture's dashboard leads down to each county, with that county's lateness.
    d.open(&format!("{base}/dashboard"));
    assert!(d.find_text("#below-orgs").contains("望谟县"), "the counties listed: {}", d.source());
    d.click(&format!("#below-orgs a[href='/dashboard?org={}']", mealroll::demo::COUNTY));
    d.wait_until_url(|u| u.contains(&format!("org={}", mealroll::demo::COUNTY)));
    assert!(d.source().contains("需要关注的学校"), "the county's own dashboard: {}", d.source());
    d.open(&format!("{base}/reconciliation?month={month}"));
    assert!(d.find_text("#counties").contains("望谟县"), "the prefecture chooses a county: {}", d.source());
    d.screenshot(&shots.join("43-reconciliation-prefecture.png"));
    d.click(&format!("#counties a[href*='org={}']", mealroll::demo::COUNTY));
    let page = d.wait_until_source(|s| s.contains("id=\"reconciliation\""));
    assert!(page.contains("压低标准"), "the county's month from the prefecture: {page}");
    // The inspector's list of this term's flags (scanned on opening) holds the demo's inflated
    // meal counts (A05).
    logout();
    login_as("ducha");
    d.open(&format!("{base}/inspections"));
    let page = d.wait_until_source(|s| s.contains("id=\"stored-flags\""));
    assert!(page.contains("id=\"stored-flags\""), "the stored flags: {page}");
    assert!(page.contains("就餐人次超过在籍受益人·天"), "A05 flagged: {page}");
    d.screenshot(&shots.join("44-inspections.png"));

    // The spot check: the inspector draws two schools at random with a seed, prints a visit
    // sheet, and records a finding with a photo at the first demo school.
    d.open(&format!("{base}/inspections/plans"));
    d.set_value("#schools", "2");
    d.set_value("#students", "3");
    d.set_value("#seed", "77");
    d.click("#draw-form button[type=submit]");
    let plan_url = d.wait_until_url(|u| u.contains("/inspections/plans/"));
    assert!(d.find_text("#plan-seed").contains("77"), "the seed is kept: {}", d.source());
    d.screenshot(&shots.join("45-plan.png"));
    let sheet = d.retry("visit sheet link", || {
        let id = d.try_find("a[href$='sheet.pdf']")?;
        d.try_get(&format!("/element/{id}/attribute/href"))?["value"].as_str().map(str::to_owned)
    });
    let mut resp = ureq::get(&format!("{base}{sheet}"))
        .header("Cookie", &format!("mealroll_session={}", d.cookie("mealroll_session")))
        .call()
        .expect("visit sheet");
    let pdf = resp.body_mut().read_to_vec().expect("bytes");
    assert!(pdf.starts_with(b"%PDF"), "a visit sheet from {plan_url}");
    std::fs::write(shots.join("visit-sheet.pdf"), &pdf).expect("write pdf");
    let _ = std::process::Command::new("pdftoppm")
        .args(["-r", "80", "-png", "-f", "1", "-l", "1"])
        .arg(shots.join("visit-sheet.pdf"))
        .arg(shots.join("46-visit-sheet"))
        .status();
    let term = mealroll::domain::term::Term::of_day(mealroll::clock::today()).to_string();
    let first_school = demo["schools"][0].as_str().expect("school").to_owned();
    let photo = tmp.path().join("canteen.jpg");
    let img = image::RgbImage::from_fn(120, 90, |x, y| image::Rgb([x as u8, y as u8, 120]));
    img.save(&photo).expect("photo");
    d.open(&format!("{base}/inspections/findings?term={term}"));
    d.set_value("#school", &first_school);
    d.set_value("#description", "留样柜无温度记录，当日留样不足125克");
    d.set_value("#amount", "0");
    d.type_into("#evidence", &photo.display().to_string());
    d.click("#finding-form button[type=submit]");
    let finding_url = d.wait_until_url(|u| u.contains("/inspections/findings/"));
    let finding_id = finding_url.rsplit('/').next().and_then(|s| s.split('?').next()).expect("id").to_owned();
    assert!(d.find_text("#evidence").contains("canteen.jpg"), "the photo is kept: {}", d.source());
    d.screenshot(&shots.join("47-finding.png"));
    // The county sets the rectification and its deadline.
    logout();
    login_as("yyb");
    assert!(!d.url().contains("/login"), "the county logs in: {}", d.source());
    d.open(&format!("{base}/inspections/findings/{finding_id}"));
    d.set_value("#text", "三日内补齐留样记录并配置温度计");
    d.exec("document.getElementById('deadline').value = '2099-12-31'");
    d.click("button[name=step][value=rectify]");
    d.wait_until_source(|s| s.contains("整改中"));
    assert!(d.find_text("#finding-status").contains("整改中"), "{}", d.source());
    // The school answers.
    logout();
    login_plain("s1.xiaozhang");
    d.open(&format!("{base}/inspections/findings/{finding_id}"));
    d.set_value("#text", "已配置温度计，留样记录补齐");
    d.click("button[name=step][value=answer]");
    d.wait_until_source(|s| s.contains("学校已报整改"));
    assert!(d.find_text("#finding-status").contains("学校已报整改"), "{}", d.source());
    // A second inspector (never the one who recorded it) verifies and closes it.
    logout();
    login_as("ducha2");
    d.open(&format!("{base}/inspections/findings/{finding_id}"));
    d.set_value("#text", "复查属实");
    d.click("button[name=step][value=verify]");
    d.wait_until_source(|s| s.contains("已核销"));
    assert!(d.find_text("#finding-status").contains("已核销"), "{}", d.source());
    d.screenshot(&shots.join("48-finding-closed.png"));
    d.post("/window/rect", json!({"width": 1024, "height": 900}));
    d.open(&format!("{base}/inspections/findings?term={term}"));
    d.screenshot(&shots.join("49-findings-1024.png"));
    d.post("/window/rect", json!({"width": 1366, "height": 1000}));
    d.open(&format!("{base}/inspections/risk"));
    d.screenshot(&shots.join("50-risk.png"));
    // The inspector reads who changed what at the school: the finding recorded above is there.
    d.open(&format!("{base}/inspections/audit?school={first_school}"));
    let page = d.wait_until_source(|s| s.contains("id=\"trail\""));
    assert!(page.contains("记录督查问题") && page.contains("ducha"), "the school's trail: {page}");
    d.screenshot(&shots.join("51-trail.png"));
    d.post("/window/rect", json!({"width": 1024, "height": 900}));
    d.screenshot(&shots.join("52-trail-1024.png"));
    // 就餐日报 on a phone: the second school has not reported this morning; its officer lowers the
    // first class's count by one and ticks who is away, in under a minute.
    // The latest meal day (today, or before the weekend): the demo leaves it half reported.
    let meal_day = {
        let pool = mealroll::db::connect(&format!("sqlite://{}", tmp.path().join("m.db").display()), 1).expect("db");
        let path: String = {
            use diesel::prelude::*;
            mealroll::db::schema::orgs::table
                .filter(mealroll::db::schema::orgs::code.eq(mealroll::demo::COUNTY))
                .select(mealroll::db::schema::orgs::path)
                .first(&mut pool.get().expect("conn"))
                .expect("county")
        };
        let today = mealroll::clock::today();
        mealroll::programme::calendar::meal_days(
            &mut pool.get().expect("conn"),
            &path,
            today - chrono::Days::new(120),
            today,
        )
        .expect("days")
        .last()
        .copied()
        .expect("a meal day this term")
    };
    logout();
    login_plain("s2.yyzg");
    d.post("/window/rect", json!({"width": 390, "height": 844}));
    d.open(&format!("{base}/meals?day={meal_day}"));
    let page = d.wait_until_source(|s| s.contains("id=\"meal-day-form\""));
    assert!(page.contains("未报"), "not yet reported this morning: {page}");
    d.exec("const i = document.querySelector('#meal-day input[name^=ate_]'); i.value = String(Number(i.value) - 1);");
    d.click("#meal-day details.absent summary");
    d.click("#meal-day details.absent input[type=checkbox]");
    d.screenshot(&shots.join("53-meal-day-phone.png"));
    d.click("#meal-day-form button[type=submit]");
    let page = d.wait_until_source(|s| s.contains("id=\"flash\""));
    assert!(page.contains("已保存") && page.contains("已全部报送"), "recorded: {page}");
    assert!(page.contains("点名缺勤（1人）"), "the child named absent: {page}");
    d.screenshot(&shots.join("54-meal-day-saved-phone.png"));
    // The week's menu and 陪餐 the demo posted, a click away.
    d.click("#canteen-link");
    let page = d.wait_until_source(|s| s.contains("id=\"menu-form\""));
    assert!(page.contains("保存食谱") && page.contains("陪餐记录"), "the canteen's week: {page}");
    d.screenshot(&shots.join("54b-canteen-phone.png"));
    // The county's board: the second school now reported.
    logout();
    d.post("/window/rect", json!({"width": 1366, "height": 1000}));
    login_as("yyb");
    d.open(&format!("{base}/meals/board?day={meal_day}"));
    let page = d.wait_until_source(|s| s.contains("id=\"meal-board\""));
    let second = demo["schools"][1].as_str().expect("school").to_owned();
    let row = page
        .split(&format!("school={second}&"))
        .nth(1)
        .and_then(|r| r.split("</tr>").next())
        .unwrap_or_else(|| panic!("the board lists the school: {page}"));
    assert!(row.contains("已报") && !row.contains("未报齐"), "the school reported: {row}");
    assert!(page.contains("未报齐"), "others still to report this morning: {page}");
    d.screenshot(&shots.join("55-meal-board.png"));
    d.post("/window/rect", json!({"width": 1024, "height": 900}));
    d.screenshot(&shots.join("56-meal-board-1024.png"));

    // A parent scans the poster: the school's notice on a phone, no login, and a complaint.
    logout();
    d.post("/window/rect", json!({"width": 390, "height": 844}));
    let first = demo["schools"][0].as_str().expect("school").to_owned();
    d.open(&format!("{base}/notice/{first}"));
    let page = d.wait_until_source(|s| s.contains("id=\"complaint-form\""));
    assert!(page.contains("受益学生") && page.contains("0859-4612345") && page.contains("<svg"), "the notice: {page}");
    d.screenshot(&shots.join("59-notice-phone.png"));
    d.set_value("#content", "今天午饭的汤是凉的，孩子说菜也不够吃。");
    d.type_into("#contact", "13908597777");
    d.click("#complaint-form button[type=submit]");
    let page = d.wait_until_source(|s| s.contains("id=\"tracking\""));
    assert!(page.contains("查询码"), "the sender gets a tracking code: {page}");
    d.screenshot(&shots.join("60-complaint-sent-phone.png"));
    // The county's office sees it come in; its inspector turns it into a finding.
    d.post("/window/rect", json!({"width": 1366, "height": 1000}));
    login_as("yyb");
    d.open(&format!("{base}/complaints"));
    let page = d.wait_until_source(|s| s.contains("id=\"complaints\""));
    assert!(page.contains("汤是凉的") && page.contains("139****7777"), "listed, the number masked: {page}");
    d.screenshot(&shots.join("61-complaints-county.png"));
    d.post("/window/rect", json!({"width": 1024, "height": 900}));
    d.screenshot(&shots.join("62-complaints-county-1024.png"));
    d.post("/window/rect", json!({"width": 1366, "height": 1000}));
    logout();
    login_as("ducha");
    d.open(&format!("{base}/complaints"));
    d.click("#complaints tbody tr:first-child a");
    d.wait_until_url(|u| u.contains("/complaints/"));
    assert!(d.source().contains("汤是凉的"), "the complaint: {}", d.source());
    d.click("#to-finding button[type=submit]");
    d.wait_until_url(|u| u.contains("/inspections/findings/"));
    let page = d.source();
    assert!(
        page.contains("群众举报") && page.contains("id=\"from-complaint\""),
        "a finding from the complaint: {page}"
    );
    d.screenshot(&shots.join("63-finding-from-complaint.png"));
    let _ = ureq::delete(&format!("{}/session/{}", d.base, d.session)).call();
}
