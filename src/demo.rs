//! `mealroll demo`: a realistic demo county (望谟县, 黔西南州, 贵州 — a national pilot county) with
//! townships, about thirty schools, classes, teachers, and one login per role. Running it again
//! keeps the data and issues fresh passwords, so the printed logins always work.

use chrono::{Datelike, Utc};
use diesel::prelude::*;
use serde::Serialize;

use crate::auth::service::{self as accounts, AccountAction, NewUser};
use crate::auth::{Caller, totp};
use crate::config::Keys;
use crate::db::DbConn;
use crate::db::schema::{orgs, users};
use crate::error::AppResult;
use crate::org::model::{ClassInput, SchoolInput, TeacherInput};
use crate::org::service as org;

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

#[derive(Debug, Clone, Serialize)]
pub struct DemoUser {
    pub username: String,
    pub password: String,
    pub role: String,
    pub org: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub totp_secret: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
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
    let schools = if existing.is_empty() { build_schools(conn, &cli)? } else { existing };
    let users = build_users(conn, keys, &cli, &schools)?;
    Ok(DemoReport { county: COUNTY.into(), schools, users })
}

fn build_schools(conn: &mut DbConn, cli: &Caller) -> AppResult<Vec<String>> {
    let year = Utc::now().date_naive().year() - i32::from(Utc::now().date_naive().month() < 9);
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
        ("xitong".into(), "系统管理员 梁文斌".into(), COUNTY.into(), "sysadmin"),
        ("anquan".into(), "安全管理员 蒙春燕".into(), COUNTY.into(), "secadmin"),
        ("shenji".into(), "审计管理员 岑志强".into(), COUNTY.into(), "auditadmin"),
    ];
    for (i, code) in schools.iter().take(2).enumerate() {
        let n = i + 1;
        wanted.push((format!("s{n}.xueji"), format!("学校{n} 学籍管理员"), code.clone(), "registrar"));
        wanted.push((format!("s{n}.yyzg"), format!("学校{n} 营养专干"), code.clone(), "nutrition_officer"));
        wanted.push((format!("s{n}.xiaozhang"), format!("学校{n} 校长"), code.clone(), "principal"));
    }
    let now = Utc::now().naive_utc();
    let mut out = Vec::new();
    for (username, display_name, org_code, role) in wanted {
        let id: Option<i64> =
            users::table.filter(users::username.eq(&username)).select(users::id).first(conn).optional()?;
        let password = accounts::generate_password();
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
        accounts::act_on_user(conn, keys, cli, id, AccountAction::ResetTotp, Utc::now().naive_utc())?
            .and_then(|c| c.totp_secret)
    } else {
        None
    };
    crate::db::write_tx(conn, |conn| {
        diesel::update(users::table.find(id))
            .set((
                users::password_hash.eq(&hash),
                users::must_change_password.eq(false),
                users::status.eq("active"),
                users::locked_until.eq(None::<chrono::NaiveDateTime>),
                users::failed_count.eq(0),
            ))
            .execute(conn)?;
        crate::audit::record(conn, &cli.actor(), crate::audit::Entry::new("demo.password_reset", "user", id))
    })?;
    Ok(secret)
}

/// Today's code for a demo secret, for the printed login help.
pub fn current_code(secret: &str) -> String {
    let unix = u64::try_from(Utc::now().timestamp()).unwrap_or(0);
    totp::code_at(secret, unix).unwrap_or_default()
}
