//! `mealroll demo`: a realistic demo county (望谟县, 黔西南州, 贵州 — a national pilot county) with
//! townships, about thirty schools, classes, teachers, and one login per role. Running it again
//! keeps the data and issues fresh passwords, so the printed logins always work.

mod daily;
mod documents;
mod money;

use chrono::{Datelike, NaiveDate, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::auth::service::{self as accounts, AccountAction, NewUser};
use crate::auth::{Caller, totp};
use crate::config::Keys;
use crate::db::DbConn;
use crate::db::schema::{orgs, users};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::org::model::{ClassInput, SchoolInput, TeacherInput};
use crate::org::service as org;
use money::build_money;

pub const COUNTY: &str = "522326";

/// (township code suffix, township name, village schools, has junior school)
const TOWNSHIPS: &[(&str, &str, &[&str], bool)] = &[
    ("001", "王母街道", &["王母小学", "纳包小学"], true),
    ("002", "复兴镇", &["复兴中心小学", "坪阳小学", "岜赖教学点"], true),
    ("003", "蔗香镇", &["蔗香中心小学", "新联小学"], true),
    ("004", "乐旺镇", &["乐旺中心小学", "坡头小学", "桑郎教学点"], true),
    ("005", "石屯镇", &["石屯中心小学", "伟俄小学"], true),
    ("006", "打易镇", &["打易中心小学", "长田小学", "红星教学点"], true),
    ("007", "郊纳镇", &["郊纳中心小学", "八步小学"], false),
    ("008", "边饶镇", &["边饶中心小学", "岜饶小学"], true),
    ("009", "麻山镇", &["麻山中心小学", "冗号小学"], false),
    ("010", "油迈瑶族乡", &["油迈中心小学"], false),
];

const SURNAMES: &[&str] =
    &["王", "李", "张", "刘", "陈", "杨", "黄", "罗", "韦", "吴", "岑", "梁", "蒙", "龙", "班", "欧阳"];
const GIVEN: &[&str] = &[
    "国华", "秀英", "德明", "丽娟", "光荣", "春燕", "志强", "桂芳", "建军", "玉兰", "文斌", "海燕", "正平", "晓梅",
    "䶮", "𠮷祥",
];

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DemoUser {
    pub username: String,
    pub password: String,
    pub role: String,
    pub org: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub totp_secret: Option<String>,
}

/// What `mealroll demo` built, as `--json` prints it (and the tests read it back).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DemoReport {
    pub county: String,
    pub schools: Vec<String>,
    pub users: Vec<DemoUser>,
}

fn person(i: usize) -> String {
    format!("{}{}", SURNAMES[i % SURNAMES.len()], GIVEN[(i / SURNAMES.len() + i * 7) % GIVEN.len()])
}

/// Builds (or refreshes) the demo county.
pub fn build(conn: &mut DbConn, keys: &Keys) -> AppResult<DemoReport> {
    let cli = Caller::cli(conn)?;
    let county_path: String = orgs::table.filter(orgs::code.eq(COUNTY)).select(orgs::path).first(conn)?;
    let existing: Vec<String> = orgs::table
        .filter(orgs::kind.eq("school"))
        .filter(orgs::path.like(format!("{county_path}%")))
        .select(orgs::code)
        .order(orgs::code.asc())
        .load(conn)?;
    let new = existing.is_empty();
    let schools = if new {
        let schools = build_schools(conn, &cli)?;
        build_students(conn, &cli)?;
        build_terms(conn, &cli)?;
        build_neighbour(conn, &cli)?;
        build_programme(conn, &cli, &schools)?;
        schools
    } else {
        existing
    };
    let users = build_users(conn, keys, &cli, &schools)?;
    if new {
        build_money(conn, &cli, &schools)?;
        build_inspections(conn, &schools)?;
        documents::complaints(conn, &keys.csrf, &schools)?;
    }
    Ok(DemoReport { county: COUNTY.into(), schools, users })
}

/// This term's spot checks: the inspector's plan (mixed, seed 20261203), one visit recorded
/// whose recount is 12 % off (a finding by itself, open), and findings at the first two schools
/// in every later state: rectifying, answered by the school, verified by a second inspector.
fn build_inspections(conn: &mut DbConn, schools: &[String]) -> AppResult<()> {
    use crate::domain::term::Term;
    use crate::inspection::{findings, sample, visits};
    let ducha = Caller::cli_as(conn, "ducha")?;
    let term = Term::of_day(crate::clock::today());
    let ask = sample::AskForm {
        org: COUNTY.into(),
        term: term.to_string(),
        schools: "4".into(),
        students: "5".into(),
        seed: "20261203".into(),
        method: "mixed".into(),
        risk_share: "60".into(),
    }
    .parse()?;
    let (plan, _) = sample::plan(conn, &ducha, &ask)?;
    let first: i64 = crate::db::schema::inspection_visits::table
        .filter(crate::db::schema::inspection_visits::plan_id.eq(plan))
        .order(crate::db::schema::inspection_visits::seq.asc())
        .select(crate::db::schema::inspection_visits::id)
        .first(conn)?;
    let day = crate::clock::today().pred_opt().unwrap_or_else(crate::clock::today);
    visits::record(
        conn,
        &ducha,
        first,
        &visits::VisitForm {
            visited_on: day.to_string(),
            meals_school: "112".into(),
            meals_counted: "100".into(),
            note: "午餐现场清点".into(),
            children: (1..=5)
                .map(|seq| visits::Tick {
                    seq,
                    present: seq != 3,
                    in_class: true,
                    eats_here: true,
                    guardian_confirms: true,
                })
                .collect(),
        },
    )?;
    let photo = {
        let img =
            image::RgbImage::from_fn(160, 120, |x, y| image::Rgb([(x % 200) as u8 + 40, (y % 200) as u8 + 40, 150]));
        let mut bytes = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, 70)
            .encode_image(&img)
            .map_err(|e| AppError::internal_msg(ErrorCode::DemoPhoto, e.to_string()))?;
        crate::registry::changes::Upload { filename: "现场照片.jpg".into(), bytes }
    };
    let yyb = Caller::cli_as(conn, "yyb")?;
    let due = (crate::clock::today() + chrono::Days::new(30)).to_string();
    let cases = [
        (0, "visit", "食品留样不足48小时，留样柜无温度记录", 1),
        (1, "visit", "学校负责人陪餐记录缺失近两周", 2),
        (0, "visit", "食材入库验收单无验收人签字", 3),
    ];
    for (school, rule, text, steps) in cases {
        let Some(code) = schools.get(school) else { continue };
        let new = findings::NewFinding {
            school: code.clone(),
            term: term.to_string(),
            rule: rule.into(),
            description: text.into(),
            ..findings::NewFinding::default()
        };
        let id = findings::record(conn, &ducha, &new, std::slice::from_ref(&photo))?;
        let step =
            |step: &str, text: &str| findings::StepForm { step: step.into(), text: text.into(), deadline: due.clone() };
        findings::step(conn, &yyb, id, &step("rectify", "限期整改并上报整改照片"))?;
        if steps >= 2 {
            let principal = Caller::cli_as(conn, &format!("s{}.xiaozhang", school + 1))?;
            findings::step(conn, &principal, id, &step("answer", "已整改，补齐记录并专人负责"))?;
        }
        if steps >= 3 {
            let second = Caller::cli_as(conn, "ducha2")?;
            findings::step(conn, &second, id, &step("verify", "复查属实，予以核销"))?;
        }
    }
    // The frugal school's unspent meal money: a finding whose money the county takes back, and
    // whose rectification, set five weeks ago with thirty days, is overdue.
    if let Some(code) = schools.get(2) {
        let new = findings::NewFinding {
            school: code.clone(),
            term: term.to_string(),
            rule: "A09".into(),
            description: "膳食补助结余长期未用于学生伙食，供餐标准被降低".into(),
            amount: "360.00".into(),
            ..findings::NewFinding::default()
        };
        let id = findings::record(conn, &ducha, &new, std::slice::from_ref(&photo))?;
        let step = findings::StepForm {
            step: "rectify".into(),
            text: "按标准足额供餐，县级收回部分结余统筹".into(),
            deadline: due,
        };
        findings::step(conn, &yyb, id, &step)?;
        let set = crate::clock::today() - chrono::Days::new(5);
        diesel::update(crate::db::schema::findings::table.find(id))
            .set(crate::db::schema::findings::deadline.eq(set))
            .execute(conn)?;
        let caiwu = Caller::cli_as(conn, "caiwu")?;
        let recover = findings::RecoverForm {
            date: crate::clock::today().to_string(),
            voucher_no: "ZH-2026-001".into(),
            memo: "收回结余".into(),
            ..findings::RecoverForm::default()
        };
        findings::recover(conn, &caiwu, id, &recover)?;
    }
    Ok(())
}

/// The neighbouring county (册亨县) with one school and no students yet: where a child of the
/// demo county transfers to across a county line.
pub const NEIGHBOUR_COUNTY: &str = "522327";
/// 黔西南州, above both counties.
pub const PREFECTURE: &str = "522300";
pub const NEIGHBOUR_SCHOOL: &str = "2152327001";

fn build_neighbour(conn: &mut DbConn, cli: &Caller) -> AppResult<()> {
    let year = crate::domain::key_lock::school_year_of(crate::clock::today());
    org::create_school(
        conn,
        cli,
        &SchoolInput {
            code: NEIGHBOUR_SCHOOL.into(),
            name: "册亨县者楼小学".into(),
            parent_code: NEIGHBOUR_COUNTY.into(),
            sponsor_type: "1".into(),
            urban_rural: "220".into(),
            school_type: "211".into(),
            address: "贵州省黔西南州册亨县者楼街道".into(),
            postcode: "552200".into(),
            ..SchoolInput::default()
        },
    )?;
    for g in 1..=6 {
        let entry = year - (g - 1);
        org::create_class(
            conn,
            cli,
            NEIGHBOUR_SCHOOL,
            &ClassInput {
                class_no: format!("{entry}01"),
                grade: g.to_string(),
                entry_year: entry.to_string(),
                ..ClassInput::default()
            },
        )?;
    }
    Ok(())
}

/// The customary terms of last and this school year (set nationally; a province or county may
/// override them), last year's closed.
fn build_terms(conn: &mut DbConn, cli: &Caller) -> AppResult<()> {
    use crate::domain::term::Term;
    let today = crate::clock::today();
    let this_year = crate::domain::key_lock::school_year_of(today);
    for year in [this_year - 1, this_year] {
        for half in [1, 2] {
            let t = Term::new(year, half).map_err(|m| AppError::internal_msg(ErrorCode::DemoTerm, m))?;
            let (start, end) = t.customary_dates();
            crate::registry::terms::set_term(conn, cli, t, start, end)?;
            if end < today {
                crate::registry::terms::close_term(conn, cli, t)?;
            }
        }
    }
    Ok(())
}

/// The programme in the demo county: a national plan county since 2011 with every school in
/// the programme, a supplier and the four meal models, the county's calendar for last and this
/// school year (weekdays in term, without the National Day week), and rosters: last school
/// year's archived everywhere, this autumn's archived but at one school in six signed late and one in
/// six still a draft.
fn build_programme(conn: &mut DbConn, cli: &Caller, schools: &[String]) -> AppResult<()> {
    use crate::db::schema::{classes, orgs as o, rosters};
    use crate::domain::calendar::{MealMonth, Month};
    use crate::domain::programme::{MealModel, Period, PlanType};
    use crate::domain::roster::{Step, deadline, default_snapshot};
    use crate::domain::term::Term;
    use crate::programme::config::{self, ModelInput};
    use crate::programme::{calendar, roster};

    let today = crate::clock::today();
    let this_year = crate::domain::key_lock::school_year_of(today);
    let d = |y, m, day| chrono::NaiveDate::from_ymd_opt(y, m, day).unwrap_or_default();
    for year in [this_year - 1, this_year] {
        config::set_plan(conn, cli, COUNTY, year, PlanType::National)?;
    }
    let supplier =
        config::add_supplier(conn, cli, "望谟县黔味营养餐配送有限公司", "91522326MA6HX2K81Q", "罗德明", "08594612345")?;
    let since = Period::new(d(2011, 9, 1), None).map_err(|m| AppError::internal_msg(ErrorCode::DemoPeriod, m))?;
    for code in schools {
        config::join(conn, cli, code, since, false, "国家试点县首批")?;
        let name: String = o::table.filter(o::code.eq(code)).select(o::name).first(conn)?;
        let class_ids: Vec<i64> = classes::table
            .inner_join(o::table)
            .filter(o::code.eq(code))
            .select(classes::id)
            .order(classes::class_no.asc())
            .load(conn)?;
        let model = |m, classes: Vec<i64>| ModelInput {
            model: m,
            period: since,
            supplier_id: (m == MealModel::Enterprise).then_some(supplier),
            class_ids: classes,
        };
        let models = if name.contains("纳包") {
            vec![model(MealModel::Enterprise, vec![])]
        } else if name.ends_with("教学点") {
            vec![model(MealModel::Family, vec![])]
        } else if name.contains("复兴中心") {
            // 混合: the first class eats with a hosting family, the rest in the canteen.
            vec![model(MealModel::Canteen, vec![]), model(MealModel::Family, class_ids.into_iter().take(1).collect())]
        } else {
            vec![model(MealModel::Canteen, vec![])]
        };
        for m in models {
            config::add_model(conn, cli, code, m)?;
        }
    }
    let county_path: String = o::table.filter(o::code.eq(COUNTY)).select(o::path).first(conn)?;
    let terms = crate::registry::terms::terms_for(conn, &county_path)?;
    for t in terms.iter().filter(|t| t.term.school_year() >= this_year - 1) {
        for m in Month::span(t.start, t.end) {
            let mut cal = MealMonth::working_days_in_terms(m, &terms);
            if m.to_string().ends_with("-10") {
                cal = MealMonth::new(m, cal.days().filter(|day| *day > 7))
                    .map_err(|e| AppError::internal_msg(ErrorCode::DemoCalendar, e))?;
            }
            calendar::set_month(conn, cli, COUNTY, &cal)?;
        }
    }
    let last_autumn = Term::new(this_year - 1, 1).map_err(|m| AppError::internal_msg(ErrorCode::DemoTerm, m))?;
    let last_spring = Term::new(this_year - 1, 2).map_err(|m| AppError::internal_msg(ErrorCode::DemoTerm, m))?;
    let autumn = Term::new(this_year, 1).map_err(|m| AppError::internal_msg(ErrorCode::DemoTerm, m))?;
    for (i, code) in schools.iter().enumerate() {
        // This autumn: archived, except one school in six signing late (not yet reviewed) and
        // one leaving its roster unsigned: the two A08 finds, and nothing else is late.
        for (term, steps) in [(last_autumn, 3), (last_spring, 3), (autumn, [3, 3, 3, 3, 1, 0][i % 6])] {
            if default_snapshot(term) > today {
                continue;
            }
            let built = roster::build(conn, cli, code, term, None, roster::AfterArchive::Refuse)?;
            // One school's last spring was archived in the old system, before scans were
            // required: its roster stands archived with no scan (A29).
            let migrated = term == last_spring && i == documents::ARCHIVED_WITHOUT_SCAN;
            if steps > 0 && !migrated {
                documents::upload_roster_scan(conn, cli, &built.roster)?;
            }
            let all = [Step::Sign, Step::Review, Step::Archive];
            for step in all.iter().take(if migrated { 2 } else { steps }) {
                roster::step(conn, cli, built.roster.id, *step, "演示")?;
            }
            if migrated {
                diesel::update(rosters::table.find(built.roster.id))
                    .set((rosters::status.eq("archived"), rosters::archived_by.eq(Some("旧系统迁移"))))
                    .execute(conn)?;
            }
            // The demo is built today; its signatures are dated as a school would have signed.
            let late = term == autumn && i % 6 == 4;
            let signed = (deadline(term) - chrono::Days::new(if late { 0 } else { 3 }))
                .and_hms_opt(10, 0, 0)
                .unwrap_or_default();
            let signed = if late { signed + chrono::Days::new(6) } else { signed };
            if steps > 0 {
                diesel::update(rosters::table.find(built.roster.id))
                    .set((
                        rosters::built_at.eq(signed - chrono::Days::new(2)),
                        rosters::signed_at.eq(Some(signed)),
                        rosters::reviewed_at.eq((steps > 1).then(|| signed + chrono::Days::new(2))),
                        rosters::archived_at.eq((steps > 2).then(|| signed + chrono::Days::new(4))),
                    ))
                    .execute(conn)?;
            }
        }
    }
    Ok(())
}

fn build_schools(conn: &mut DbConn, cli: &Caller) -> AppResult<Vec<String>> {
    let year = crate::clock::today().year() - i32::from(crate::clock::today().month() < 9);
    let mut codes = Vec::new();
    let mut seq = 0usize;
    let mut people = 0usize;
    for (suffix, town, villages, junior) in TOWNSHIPS {
        let town_code = format!("{COUNTY}{suffix}");
        org::create_township(conn, cli, COUNTY, &town_code, town)?;
        let mut list: Vec<(String, bool)> = villages.iter().map(|v| ((*v).to_owned(), false)).collect();
        if *junior {
            list.push((
                format!(
                    "望谟县{}中学",
                    town.trim_end_matches("街道").trim_end_matches('镇').trim_end_matches("瑶族乡")
                ),
                true,
            ));
        }
        for (name, is_junior) in list {
            seq += 1;
            let code = format!("{}52326{:03}", if is_junior { "31" } else { "21" }, seq);
            let teaching_point = name.ends_with("教学点");
            let input = SchoolInput {
                code: code.clone(),
                name: if name.starts_with("望谟") { name.clone() } else { format!("望谟县{name}") },
                parent_code: town_code.clone(),
                sponsor_type: "1".into(),
                urban_rural: if name.contains("中心") || is_junior { "210" } else { "220" }.into(),
                school_type: if is_junior {
                    "311"
                } else if teaching_point {
                    "218"
                } else {
                    "211"
                }
                .into(),
                in_county_seat: None,
                address: format!("贵州省黔西南州望谟县{town}"),
                postcode: "552300".into(),
                phone: format!("0859461{:04}", 1000 + seq),
                principal_name: person(people),
                principal_mobile: format!("139{:08}", 85_000_000 + seq * 37),
                ..SchoolInput::default()
            };
            org::create_school(conn, cli, &input)?;
            people += 1;
            let grades: Vec<i32> = match (is_junior, teaching_point) {
                (true, _) => vec![7, 8, 9],
                (false, true) => vec![1, 2],
                (false, false) => (1..=6).collect(),
            };
            let per_grade = if is_junior {
                3
            } else if name.contains("中心") {
                2
            } else {
                1
            };
            let mut staff = 0;
            for g in grades {
                let entry = year - (if g >= 7 { g - 7 } else { g - 1 });
                for k in 1..=per_grade {
                    staff += 1;
                    let staff_no = format!("{:04}", staff);
                    org::create_teacher(
                        conn,
                        cli,
                        &code,
                        &TeacherInput {
                            staff_no: staff_no.clone(),
                            name: person(people),
                            sex: if people.is_multiple_of(3) { "1" } else { "2" }.into(),
                            phone: format!("138{:08}", 5_000_000 + people * 13),
                            subject: if g >= 7 { "数学" } else { "语文" }.into(),
                        },
                    )?;
                    people += 1;
                    org::create_class(
                        conn,
                        cli,
                        &code,
                        &ClassInput {
                            class_no: format!("{entry}{k:02}"),
                            grade: g.to_string(),
                            entry_year: entry.to_string(),
                            head_teacher_staff_no: staff_no,
                            ..ClassInput::default()
                        },
                    )?;
                }
            }
            codes.push(code);
        }
    }
    Ok(codes)
}

fn build_users(conn: &mut DbConn, keys: &Keys, cli: &Caller, schools: &[String]) -> AppResult<Vec<DemoUser>> {
    let mut wanted: Vec<(String, String, String, &str)> = vec![
        ("yyb".into(), "县营养办 黄丽".into(), COUNTY.into(), "nutrition_office"),
        ("caiwu".into(), "县财务 罗建国".into(), COUNTY.into(), "finance"),
        ("ducha".into(), "县督查 韦正平".into(), COUNTY.into(), "inspector"),
        ("ducha2".into(), "县督查 王海燕".into(), COUNTY.into(), "inspector"),
        ("xitong".into(), "系统管理员 梁文斌".into(), COUNTY.into(), "sysadmin"),
        ("anquan".into(), "安全管理员 蒙春燕".into(), COUNTY.into(), "secadmin"),
        ("shenji".into(), "审计管理员 岑志强".into(), COUNTY.into(), "auditadmin"),
    ];
    wanted.push(("yyb2".into(), "册亨县营养办 班文".into(), NEIGHBOUR_COUNTY.into(), "nutrition_office"));
    // The prefecture reads its counties' roll-ups and signs off their county reports.
    wanted.push(("zhou.yyb".into(), "黔西南州营养办 杨敏".into(), PREFECTURE.into(), "nutrition_office"));
    wanted.push(("ch.xueji".into(), "者楼小学 学籍管理员".into(), NEIGHBOUR_SCHOOL.into(), "registrar"));
    wanted.push(("ch.xiaozhang".into(), "者楼小学 校长".into(), NEIGHBOUR_SCHOOL.into(), "principal"));
    for (i, code) in schools.iter().take(2).enumerate() {
        let n = i + 1;
        wanted.push((format!("s{n}.xueji"), format!("学校{n} 学籍管理员"), code.clone(), "registrar"));
        wanted.push((format!("s{n}.yyzg"), format!("学校{n} 营养专干"), code.clone(), "nutrition_officer"));
        wanted.push((format!("s{n}.xiaozhang"), format!("学校{n} 校长"), code.clone(), "principal"));
    }
    let now = crate::clock::now();
    let mut out = Vec::new();
    for (username, display_name, org_code, role) in wanted {
        let id: Option<i64> =
            users::table.filter(users::username.eq(&username)).select(users::id).first(conn).optional()?;
        let password = accounts::generate_password(&username);
        let totp_secret = match id {
            None => {
                accounts::create_user(
                    conn,
                    keys,
                    cli,
                    &NewUser {
                        username: username.clone(),
                        display_name,
                        org_code: org_code.clone(),
                        roles: vec![role.to_owned()],
                        password: Some(password.clone()),
                    },
                    now,
                )?
                .totp_secret
            }
            Some(id) => refresh_user(conn, keys, cli, id, &password)?,
        };
        out.push(DemoUser { username, password, role: role.into(), org: org_code, totp_secret });
    }
    Ok(out)
}

/// A fresh password (and TOTP secret where one exists) for an existing demo account.
fn refresh_user(conn: &mut DbConn, keys: &Keys, cli: &Caller, id: i64, password: &str) -> AppResult<Option<String>> {
    let hash = crate::auth::hashing::hash(password)?;
    let has_totp: bool = users::table.find(id).select(users::totp_secret_enc.is_not_null()).first(conn)?;
    let secret = if has_totp {
        accounts::act_on_user(conn, keys, cli, id, AccountAction::ResetTotp, crate::clock::now())?
            .and_then(|c| c.totp_secret)
    } else {
        None
    };
    crate::db::write_tx(conn, |conn| {
        diesel::update(users::table.find(id))
            .set((
                users::password_hash.eq(&hash),
                users::must_change_password.eq(false),
                users::status.eq(crate::domain::account::AccountStatus::Active.as_str()),
                users::locked_until.eq(None::<chrono::NaiveDateTime>),
                users::failed_count.eq(0),
            ))
            .execute(conn)?;
        crate::audit::record(conn, &cli.actor(), crate::audit::Entry::new("demo.password_reset", "user", id))
    })?;
    Ok(secret)
}

/// A small deterministic generator, so every demo county is the same county.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        self.0 >> 33
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn pick<'a>(&mut self, items: &'a [&'a str]) -> &'a str {
        items[usize::try_from(self.below(items.len() as u64)).unwrap_or(0)]
    }
}

const CHILD_GIVEN: &[&str] = &[
    "子涵", "梓萱", "浩然", "欣怡", "宇轩", "雨桐", "俊杰", "思琪", "家豪", "佳怡", "明轩", "诗涵", "天佑", "语嫣",
    "金凤", "银花", "永福", "春梅", "国庆", "秀兰", "䶮", "𠮷祥", "昇", "喆", "堃", "玥", "珺", "翀",
];
const FATHER_GIVEN: &[&str] = &["国华", "德明", "光荣", "志强", "建军", "文斌", "正平", "永刚", "昌友", "明贵"];
const MOTHER_GIVEN: &[&str] = &["秀英", "丽娟", "春燕", "桂芳", "玉兰", "海燕", "晓梅", "金花", "小芬", "美兰"];
const MOTHER_SURNAMES: &[&str] = &["李", "罗", "韦", "黄", "岑", "王", "杨", "陆", "潘", "吴"];
const ETHNICITIES: &[&str] = &["09", "09", "09", "01", "01", "06", "08", "13"];

/// Makes realistic, valid student records: real county code, distinct valid IDs, families,
/// boarders, left-behind children, a few without an ID. Deterministic for a seed.
pub struct StudentFactory {
    rng: Lcg,
    used: std::collections::HashSet<String>,
    year: i32,
    pub today: chrono::NaiveDate,
}

impl StudentFactory {
    pub fn new(seed: u64) -> Self {
        let today = crate::clock::today();
        Self {
            rng: Lcg(seed),
            used: std::collections::HashSet::new(),
            year: today.year() - i32::from(today.month() < 9),
            today,
        }
    }

    /// The school year's first calendar year (autumn term).
    pub fn school_year(&self) -> i32 {
        self.year
    }

    /// One student of `class_no` in `grade` (1–9), as the raw fields a clerk would type.
    pub fn raw(&mut self, class_no: &str, grade: i32, junior: bool) -> std::collections::BTreeMap<String, String> {
        use crate::domain::id_card::check_char;
        let (rng, year, today) = (&mut self.rng, self.year, self.today);
        let surname = rng.pick(SURNAMES);
        let girl = rng.chance(48);
        let age_year = year - 6 - (grade - 1);
        let birth = chrono::NaiveDate::from_ymd_opt(
            age_year,
            1 + u32::try_from(rng.below(12)).unwrap_or(0),
            1 + u32::try_from(rng.below(28)).unwrap_or(0),
        )
        .unwrap_or(today);
        // Distinct IDs: draw the serial again on a clash.
        let id_no = loop {
            let serial = rng.below(500) * 2 + u64::from(!girl);
            let body = format!("{COUNTY}{}{:03}", birth.format("%Y%m%d"), serial);
            let id = format!("{body}{}", check_char(&body).unwrap_or('0'));
            if self.used.insert(id.clone()) {
                break id;
            }
        };
        let has_id = !rng.chance(2);
        let boarder = junior && rng.chance(55) || !junior && rng.chance(8);
        let left = if rng.chance(30) { if rng.chance(40) { "2" } else { "1" } } else { "0" };
        let father = format!("{surname}{}", rng.pick(FATHER_GIVEN));
        let mother = format!("{}{}", rng.pick(MOTHER_SURNAMES), rng.pick(MOTHER_GIVEN));
        // Fathers' numbers are distinct: siblings are not modelled, and a number shared across
        // schools is what A11 looks for.
        let father_id = loop {
            let fb = format!(
                "{COUNTY}{}{:02}{:02}{:03}",
                1980 + rng.below(12),
                1 + rng.below(12),
                1 + rng.below(28),
                rng.below(500) * 2 + 1
            );
            let id = format!("{fb}{}", check_char(&fb).unwrap_or('0'));
            if self.used.insert(id.clone()) {
                break id;
            }
        };
        let village = rng.pick(&["纳包村", "坪阳村", "新联村", "坡头村", "伟俄村", "长田村", "八步村", "冗号村"]);
        let phone = format!("1{}{:09}", rng.pick(&["38", "39", "58", "87"]), rng.below(1_000_000_000));
        let entry = if junior { year - (grade - 7) } else { year - (grade - 1) };
        let name = format!("{surname}{}", rng.pick(CHILD_GIVEN));
        // A child without an ID number is known by name and birth date: those stay distinct.
        let has_id = has_id || !self.used.insert(format!("{name}\u{1}{birth}"));
        let v: Vec<(&str, String)> = vec![
            ("name", name),
            ("sex", if girl { "2" } else { "1" }.into()),
            ("birth_date", birth.format("%Y-%m-%d").to_string()),
            ("birthplace", format!("{COUNTY}{:03}000", 1 + rng.below(10))),
            ("native_place", "贵州望谟".into()),
            ("ethnicity", rng.pick(ETHNICITIES).into()),
            ("nationality", "CHN".into()),
            ("id_type", if has_id { "1" } else { "Z" }.into()),
            ("gatqw", "00".into()),
            ("health", "10".into()),
            ("political", if junior { "03" } else { "14" }.into()),
            ("id_no", if has_id { id_no } else { String::new() }),
            ("hukou_type", "1".into()),
            ("hukou_place", COUNTY.into()),
            ("class_no", class_no.to_owned()),
            ("entry_ym", format!("{entry}09")),
            ("entry_mode", "11".into()),
            ("attendance", if boarder { "2" } else { "1" }.into()),
            ("address_now", format!("望谟县{village}")),
            ("address_mail", format!("望谟县{village}")),
            ("address_home", format!("望谟县{village}")),
            ("phone", phone.clone()),
            ("postcode", "552300".into()),
            ("only_child", if rng.chance(15) { "1" } else { "0" }.into()),
            ("preschool", if rng.chance(85) { "1" } else { "0" }.into()),
            ("left_behind", left.into()),
            ("needs_aid", if boarder || rng.chance(20) { "1" } else { "0" }.into()),
            ("yibu", if boarder && rng.chance(70) { "1" } else { "0" }.into()),
            ("orphan", "0".into()),
            ("martyr_child", "0".into()),
            ("commute_km", format!("{}", rng.below(80) as f64 / 10.0)),
            ("commute_mode", "1".into()),
            ("m1_name", father),
            ("m1_relation", "51".into()),
            ("m1_guardian", "1".into()),
            ("m1_phone", phone),
            ("m1_id_type", "1".into()),
            ("m1_id_no", father_id),
            ("m2_name", mother),
            ("m2_relation", "52".into()),
            ("m2_guardian", "0".into()),
            ("migrant", if rng.chance(2) { "1" } else { "0" }.into()),
        ];
        v.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
    }
}

/// A demo child has been at its school since the start of its entry month, long before the
/// system was set up: a back-dated start, with the reason the audit keeps.
fn at_school_since_entry(
    record: &crate::domain::student::StudentRecord,
    today: NaiveDate,
) -> AppResult<crate::domain::enrolment::Start> {
    let first = crate::domain::enrolment::entry_month_first(record.get("entry_ym"));
    crate::registry::service::start_on(first, record, "演示数据：系统启用前已在校", today)
}

/// Students for every demo class; most confirmed by the county, a few pending, two in the
/// problem queue.
fn build_students(conn: &mut DbConn, cli: &Caller) -> AppResult<usize> {
    use crate::db::schema::{classes, orgs as o};
    use crate::domain::student::StudentRecord;
    use std::collections::BTreeMap;

    let mut factory = StudentFactory::new(20260915);
    let today = factory.today;
    let schools: Vec<crate::org::model::Org> = o::table
        .filter(o::kind.eq("school"))
        .filter(o::path.like(format!("%/{COUNTY}/%")))
        .select(crate::org::model::Org::as_select())
        .order(o::code.asc())
        .load(conn)?;
    let mut total = 0;
    for school in &schools {
        let class_rows: Vec<(String, i32)> = classes::table
            .filter(classes::school_id.eq(school.id))
            .select((classes::class_no, classes::grade))
            .order(classes::class_no.asc())
            .load(conn)?;
        let junior = school.code.starts_with("31");
        let ids = crate::db::write_tx(conn, |conn| {
            let mut ids = Vec::new();
            for (class_no, grade) in &class_rows {
                let size = 18 + factory.rng.below(if junior { 30 } else { 20 });
                for _ in 0..size {
                    let raw = factory.raw(class_no, *grade, junior);
                    let record =
                        StudentRecord::parse(&raw, today).map_err(crate::registry::service::issues_to_error)?;
                    let start = at_school_since_entry(&record, today)?;
                    ids.push(crate::registry::service::insert(conn, cli, school, &record, &start, "演示数据")?);
                }
            }
            Ok(ids)
        })?;
        total += ids.len();
        // The county has confirmed all but the last few of each school.
        let keep_pending = if school.code.ends_with("01") { 5 } else { 1 };
        let confirm: Vec<i64> = ids.iter().copied().take(ids.len().saturating_sub(keep_pending)).collect();
        crate::registry::service::confirm(conn, cli, &confirm)?;
    }
    // Two children entered at a second school too: the duplicate check sends them to the county.
    if let (Some(first), Some(second)) = (schools.first(), schools.get(1)) {
        use crate::db::schema::students;
        let records: Vec<crate::registry::model::StudentRow> = students::table
            .filter(students::school_id.eq(first.id))
            .filter(students::id_no_hash.is_not_null())
            .select(crate::registry::model::StudentRow::as_select())
            .order(students::id.asc())
            .limit(2)
            .load(conn)?;
        crate::db::write_tx(conn, |conn| {
            for row in &records {
                let raw: BTreeMap<String, String> = row.record().values().clone();
                let record = StudentRecord::parse(&raw, today).map_err(crate::registry::service::issues_to_error)?;
                let start = crate::registry::service::start_on(None, &record, "", today)?;
                crate::registry::service::insert(conn, cli, second, &record, &start, "演示数据：重复录入")?;
            }
            Ok(())
        })?;
    }
    Ok(total)
}

/// Today's code for a demo secret, for the printed login help.
pub fn current_code(secret: &str) -> String {
    let unix = u64::try_from(Utc::now().timestamp()).unwrap_or(0);
    totp::code_at(secret, unix).unwrap_or_default()
}
