//! The student record of the national 学生基本信息表 (DOMAIN.md §3.1): one catalogue of fields —
//! template header, synonyms, required flag, kind — that the form, the importer, the exporter and
//! the API all use, and `StudentRecord`, a record that passed every field and cross-field rule.

use crate::domain::error_code::ErrorCode;
use std::borrow::Cow;
use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use super::codes;
use super::id_card::{IdCardNo, normalise};
use super::text;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text(usize),
    /// A code of the named table (code, label or alias accepted).
    Code(&'static str),
    Date,
    /// YYYYMM (入学年月).
    YearMonth,
    /// A 6-digit division code or a 12-digit statistical code (first six checked against history).
    Division,
    /// The student's ID number: checked with the ID type in the cross-field rules.
    IdNumber,
    Phone,
    Postcode,
    Email,
    /// Kilometres, up to one decimal.
    Distance,
    /// 班号: digits.
    ClassNo,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    Required,
    Optional,
    /// Required depending on other fields (checked by the cross-field rules).
    Conditional,
}

#[derive(Debug, Clone, Copy)]
pub struct Field {
    pub key: &'static str,
    pub header: &'static str,
    pub synonyms: &'static [&'static str],
    pub need: Need,
    pub kind: Kind,
    /// 1–7: the seven groups of the national table (7 = family members).
    pub group: u8,
}

const fn f(key: &'static str, header: &'static str, need: Need, kind: Kind, group: u8) -> Field {
    Field { key, header, synonyms: &[], need, kind, group }
}

const fn s(
    key: &'static str,
    header: &'static str,
    synonyms: &'static [&'static str],
    need: Need,
    kind: Kind,
    group: u8,
) -> Field {
    Field { key, header, synonyms, need, kind, group }
}

use Kind::*;
use Need::*;

/// The school code column of the template: not part of the record (it places the row).
pub const SCHOOL_CODE_HEADER: &str = "学校标识码";
pub const SCHOOL_CODE_SYNONYMS: &[&str] = &["学校标示码", "学校代码"];

/// The record's fields in the order of the 71-column national template (after 学校标识码).
pub const FIELDS: &[Field] = &[
    s("name", "姓名", &["学生姓名"], Required, Text(40), 1),
    f("sex", "性别", Required, Code("sex"), 1),
    f("birth_date", "出生日期", Required, Date, 1),
    s("birthplace", "出生地行政区划代码", &["出生地"], Required, Division, 1),
    f("native_place", "籍贯", Required, Text(40), 1),
    f("ethnicity", "民族", Required, Code("ethnicity"), 1),
    s("nationality", "国籍/地区", &["国籍"], Required, Code("nationality"), 1),
    s("id_type", "身份证件类型", &["证件类型"], Required, Code("id_type"), 1),
    f("gatqw", "港澳台侨外", Required, Code("gatqw"), 1),
    f("health", "健康状况", Required, Code("health"), 1),
    f("political", "政治面貌", Optional, Code("political"), 1),
    s("id_no", "身份证件号", &["身份证号", "证件号码", "身份证件号码", "身份证号码"], Conditional, IdNumber, 1),
    f("hukou_type", "户口性质", Required, Code("hukou_type"), 2),
    s("hukou_place", "户口所在地行政区划", &["户口所在地"], Required, Division, 2),
    s("class_no", "班号", &["班级号", "班级编号"], Required, ClassNo, 3),
    f("entry_ym", "入学年月", Required, YearMonth, 3),
    f("entry_mode", "入学方式", Required, Code("entry_mode"), 3),
    f("attendance", "就读方式", Required, Code("attendance"), 3),
    f("address_now", "现住址", Required, Text(100), 4),
    f("address_mail", "通信地址", Required, Text(100), 4),
    f("address_home", "家庭地址", Required, Text(100), 4),
    f("phone", "联系电话", Required, Phone, 4),
    f("postcode", "邮政编码", Required, Postcode, 4),
    f("only_child", "是否独生子女", Required, Code("yes_no"), 5),
    f("preschool", "是否受过学前教育", Required, Code("yes_no"), 5),
    f("left_behind", "是否留守儿童", Required, Code("left_behind"), 5),
    f("needs_aid", "是否需要申请资助", Required, Code("yes_no"), 5),
    f("yibu", "是否享受一补", Required, Code("yes_no"), 5),
    f("orphan", "是否孤儿", Required, Code("yes_no"), 5),
    f("martyr_child", "是否烈士或优抚子女", Required, Code("yes_no"), 5),
    f("commute_km", "上下学距离", Optional, Distance, 6),
    s("commute_mode", "上下学方式", &["上下学交通方式"], Optional, Code("commute"), 6),
    s("school_bus", "是否需要乘坐校车", &["是否乘坐校车"], Optional, Code("yes_no"), 6),
    f("former_name", "曾用名", Optional, Text(40), 2),
    f("id_validity", "身份证件有效期", Optional, Text(30), 2),
    f("blood_type", "血型", Optional, Code("blood"), 5),
    f("skills", "特长", Optional, Text(100), 2),
    f("aux_no", "学籍辅号", Optional, Text(30), 3),
    f("seat_no", "班内学号", Optional, Text(10), 3),
    f("source", "学生来源", Optional, Code("source"), 3),
    f("email", "电子信箱", Optional, Email, 4),
    f("homepage", "主页地址", Optional, Text(100), 4),
    s("disability", "残疾类型", &["残疾人类型"], Optional, Code("disability"), 5),
    f("gov_place", "是否由政府购买学位", Optional, Code("yes_no"), 5),
    f("inclusive", "随班就读", Optional, Code("inclusive"), 5),
    f("m1_name", "成员1姓名", Required, Text(40), 7),
    f("m1_relation", "成员1关系", Required, Code("relation"), 7),
    f("m1_relation_note", "成员1关系说明", Conditional, Text(20), 7),
    f("m1_address", "成员1现住址", Optional, Text(100), 7),
    f("m1_hukou_place", "成员1户口所在地行政区划", Optional, Division, 7),
    f("m1_phone", "成员1联系电话", Optional, Phone, 7),
    f("m1_guardian", "成员1是否监护人", Required, Code("yes_no"), 7),
    f("m1_id_type", "成员1身份证件类型", Optional, Code("id_type"), 7),
    f("m1_id_no", "成员1身份证件号", Conditional, Text(30), 7),
    f("m1_ethnicity", "成员1民族", Optional, Code("ethnicity"), 7),
    f("m1_workplace", "成员1工作单位", Optional, Text(60), 7),
    f("m1_position", "成员1职务", Optional, Text(30), 7),
    // 成员2 is optional (an orphan, a child of one parent); begun, it is completed.
    f("m2_name", "成员2姓名", Conditional, Text(40), 7),
    f("m2_relation", "成员2关系", Conditional, Code("relation"), 7),
    f("m2_relation_note", "成员2关系说明", Conditional, Text(20), 7),
    f("m2_address", "成员2现住址", Optional, Text(100), 7),
    f("m2_hukou_place", "成员2户口所在地行政区划", Optional, Division, 7),
    f("m2_phone", "成员2联系电话", Optional, Phone, 7),
    f("m2_guardian", "成员2是否监护人", Conditional, Code("yes_no"), 7),
    f("m2_id_type", "成员2身份证件类型", Optional, Code("id_type"), 7),
    f("m2_id_no", "成员2身份证件号", Conditional, Text(30), 7),
    f("m2_ethnicity", "成员2民族", Optional, Code("ethnicity"), 7),
    f("m2_workplace", "成员2工作单位", Optional, Text(60), 7),
    f("m2_position", "成员2职务", Optional, Text(30), 7),
    s("migrant", "是否进城务工人员随迁子女", &["是否随迁子女"], Required, Code("yes_no"), 5),
];

pub const GROUP_TITLES: [&str; 7] =
    ["个人基础信息", "个人辅助信息", "学籍基本信息", "个人联系信息", "个人扩展信息", "上下学交通方式", "家庭成员信息"];

/// Key information locked at the configured date (到期即锁).
pub const KEY_FIELDS: &[&str] = &["name", "sex", "birth_date", "id_type", "id_no"];

pub fn field(key: &str) -> Option<&'static Field> {
    FIELDS.iter().find(|f| f.key == key)
}

/// The field a template header names (exact header or a synonym, spaces and a trailing `*` ignored).
pub fn field_by_header(header: &str) -> Option<&'static Field> {
    let h: String = header.trim().trim_end_matches(['*', '＊']).chars().filter(|c| !c.is_whitespace()).collect();
    FIELDS.iter().find(|f| f.header == h || f.synonyms.contains(&h.as_str()))
}

/// Where a record stands with the county: entered and waiting (待县级确认), confirmed into the
/// database (已确认入库, the only state that counts for meals and money), or held as a possible
/// duplicate (问题学籍). Stored and sent by its snake_case name, shown by its label.
#[derive(
    schemars::JsonSchema,
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::VariantNames,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Review {
    Pending,
    Confirmed,
    Problem,
}

impl Review {
    pub fn label(self) -> &'static str {
        match self {
            Review::Pending => "待县级确认",
            Review::Confirmed => "已确认入库",
            Review::Problem => "问题学籍",
        }
    }
}

stored_as_text!(Review, "学籍审核状态");

/// One problem with one field of one record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Issue {
    /// Field key, or "" for the record as a whole.
    pub field: &'static str,
    pub code: ErrorCode,
    pub message: String,
}

impl Issue {
    fn new(field: &'static str, code: ErrorCode, message: impl Into<String>) -> Self {
        Self { field, code, message: message.into() }
    }

    pub fn header(&self) -> &'static str {
        field(self.field).map(|f| f.header).unwrap_or("")
    }
}

/// A student record that passed every rule: normalised values by field key (codes as codes,
/// dates as YYYY-MM-DD, yes/no as 1/0, empty optional fields absent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct StudentRecord(BTreeMap<String, String>);

impl StudentRecord {
    /// Validates raw input (field key → text as typed) against `today`.
    pub fn parse(raw: &BTreeMap<String, String>, today: NaiveDate) -> Result<Self, Vec<Issue>> {
        let values: Vec<&str> = FIELDS.iter().map(|f| raw.get(f.key).map(String::as_str).unwrap_or("")).collect();
        Self::parse_fields(&values, today)
    }

    /// Validates values given in the order of `FIELDS` (the importer's fast path).
    pub fn parse_fields(values: &[&str], today: NaiveDate) -> Result<Self, Vec<Issue>> {
        let mut out = BTreeMap::new();
        let mut issues = Vec::new();
        for (i, f) in FIELDS.iter().enumerate() {
            let value = values.get(i).map(|v| v.trim()).unwrap_or("");
            if value.is_empty() {
                if f.need == Required {
                    issues.push(Issue::new(f.key, ErrorCode::StudentRequired, format!("“{}”为必填项", f.header)));
                }
                continue;
            }
            match normalise_value(f, value, today) {
                Ok(v) => {
                    out.insert(f.key.to_owned(), v);
                }
                Err(m) => issues.push(Issue::new(f.key, ErrorCode::StudentInvalid, format!("“{}”{m}", f.header))),
            }
        }
        cross_field(&out, today, &mut issues);
        if issues.is_empty() { Ok(Self(out)) } else { Err(issues) }
    }

    /// Rebuilds a record read back from storage (it passed `parse` when written).
    pub fn from_stored(map: BTreeMap<String, String>) -> Self {
        Self(map)
    }

    pub fn get(&self, key: &str) -> &str {
        self.0.get(key).map(String::as_str).unwrap_or("")
    }

    pub fn values(&self) -> &BTreeMap<String, String> {
        &self.0
    }

    /// The record as lists, pages, the API and the audit log show it: the ID numbers of the
    /// child and its family (`110***********1234`) and their phones (`138****5678`) masked.
    pub fn masked(&self) -> Self {
        Self(self.0.iter().map(|(k, v)| (k.clone(), masked_value(k, v))).collect())
    }

    /// The record with its special categories withheld, present or not (an empty 残疾类型 would
    /// tell as much as a filled one).
    pub fn without_special_categories(&self) -> Self {
        let mut values = self.0.clone();
        for key in SPECIAL_CATEGORIES {
            values.insert(key.to_owned(), WITHHELD.to_owned());
        }
        Self(values)
    }

    /// A form or API body sent back with masked values left as shown: each masked value that
    /// is exactly the mask of the stored one means "unchanged" and becomes the stored value.
    pub fn unmasked_from(stored: &Self, sent: &BTreeMap<String, String>) -> BTreeMap<String, String> {
        sent.iter()
            .map(|(k, v)| {
                let kept = stored.0.get(k).filter(|old| is_sensitive(k) && !v.is_empty() && masked_value(k, old) == *v);
                (k.clone(), kept.cloned().unwrap_or_else(|| v.clone()))
            })
            .collect()
    }

    /// The value as people read it: labels for codes.
    pub fn display(&self, key: &str) -> String {
        let v = self.get(key);
        match field(key).map(|f| f.kind) {
            Some(Code(t)) => codes::table(t).label(v).unwrap_or(v).to_owned(),
            _ => v.to_owned(),
        }
    }

    pub fn name(&self) -> &str {
        self.get("name")
    }

    pub fn birth_date(&self) -> NaiveDate {
        NaiveDate::parse_from_str(self.get("birth_date"), "%Y-%m-%d").unwrap_or_default()
    }

    pub fn id_no(&self) -> Option<&str> {
        Some(self.get("id_no")).filter(|s| !s.is_empty())
    }

    /// The child's own ID number, the one the duplicate check matches on. A number that parses
    /// as a resident ID is that child's ID whatever type it was entered under (another child's
    /// number under 其他 or a passport type is still that child's), and is matched in its
    /// normalised form; otherwise type Z (其他) means "none", so whatever stands in the number
    /// column then must not collide.
    pub fn own_id_no(&self) -> Option<Cow<'_, str>> {
        let n = self.id_no()?;
        if let Ok(id) = IdCardNo::parse(n) {
            return Some(if id.as_str() == n { Cow::Borrowed(n) } else { Cow::Owned(id.as_str().to_owned()) });
        }
        (self.get("id_type") != "Z").then_some(Cow::Borrowed(n))
    }

    /// The number as the `id_no` column keeps it: the matching form where there is one (see
    /// [`Self::own_id_no`]), else as entered.
    pub fn stored_id_no(&self) -> Option<String> {
        self.own_id_no().map(Cow::into_owned).or_else(|| self.id_no().map(str::to_owned))
    }

    pub fn is(&self, key: &str) -> bool {
        self.get(key) == "1"
    }

    /// The family member who is the guardian: the first one marked so, else member 1.
    fn guardian_member(&self) -> &'static str {
        if self.is("m1_guardian") || !self.is("m2_guardian") { "m1" } else { "m2" }
    }

    /// The first guardian's phone and ID number (for the cross-school guardian check).
    pub fn guardian(&self) -> (Option<&str>, Option<&str>) {
        let m = self.guardian_member();
        let get = |k: &str| Some(self.get(&format!("{m}_{k}"))).filter(|s| !s.is_empty());
        (get("phone"), get("id_no"))
    }

    /// The guardian's name, as the roster prints it for signing.
    pub fn guardian_name(&self) -> &str {
        self.get(if self.guardian_member() == "m1" { "m1_name" } else { "m2_name" })
    }
}

fn normalise_value(f: &Field, v: &str, today: NaiveDate) -> Result<String, String> {
    match f.kind {
        Text(max) => text::optional(f.header, v, max).map_err(|m| m.trim_start_matches(f.header).to_owned()),
        Code(t) => codes::table(t)
            .parse(v)
            .map(str::to_owned)
            .ok_or_else(|| format!("的值“{v}”不在代码表中（可选：{}）", short_list(codes::table(t).labels()))),
        Date => parse_date(v).map(|d| d.format("%Y-%m-%d").to_string()).and_then(|d| {
            if NaiveDate::parse_from_str(&d, "%Y-%m-%d").is_ok_and(|x| x > today) {
                Err("不能晚于今天".into())
            } else {
                Ok(d)
            }
        }),
        YearMonth => {
            let digits: String = v.chars().filter(char::is_ascii_digit).collect();
            let ok = digits.len() == 6
                && NaiveDate::parse_from_str(&format!("{digits}01"), "%Y%m%d").is_ok_and(|d| d <= today);
            if ok {
                Ok(digits)
            } else {
                Err(format!("应为年月YYYYMM（如201909），且不晚于本月，现为“{v}”"))
            }
        }
        Division => {
            let d = normalise(v);
            let known = (d.len() == 6 || d.len() == 12)
                && d.bytes().all(|b| b.is_ascii_digit())
                && !IdCardNo::region_spans(&d[..6]).is_empty();
            if known {
                Ok(d)
            } else {
                Err(format!("应为6位或12位行政区划代码，“{v}”不是有效代码"))
            }
        }
        IdNumber => Ok(normalise(v)),
        Phone => text::digits(f.header, v, 7, 12).map_err(|_| "应为7–12位数字（可含“-”）".to_owned()),
        Postcode => text::digits(f.header, v, 6, 6).map_err(|_| "应为6位数字".to_owned()),
        Email => {
            if v.contains('@') && !v.contains(char::is_whitespace) && v.len() <= 100 {
                Ok(v.to_owned())
            } else {
                Err("格式不正确".into())
            }
        }
        Distance => match v.trim_end_matches(['公', '里', 'k', 'm', 'K', 'M']).trim().parse::<f64>() {
            Ok(x) if (0.0..=200.0).contains(&x) => Ok(format!("{}", (x * 10.0).round() / 10.0)),
            _ => Err("应为0–200之间的公里数".into()),
        },
        ClassNo => {
            let d = normalise(v);
            if !d.is_empty() && d.len() <= 10 && d.bytes().all(|b| b.is_ascii_digit()) {
                Ok(d)
            } else {
                Err("应为1–10位数字".into())
            }
        }
    }
}

fn short_list(labels: Vec<&str>) -> String {
    if labels.len() > 8 { format!("{}等", labels[..8].join("、")) } else { labels.join("、") }
}

/// Dates as the template writes them: 2015-03-09, 2015/3/9, 20150309, 2015年3月9日, 2015.03.09.
pub fn parse_date(v: &str) -> Result<NaiveDate, String> {
    let v = normalise(v);
    let cleaned: String = v.replace(['年', '月', '/', '.'], "-").replace('日', "");
    for fmt in ["%Y-%m-%d", "%Y%m%d"] {
        if let Ok(d) = NaiveDate::parse_from_str(&cleaned, fmt) {
            return Ok(d);
        }
    }
    Err(format!("应为日期（如2015-03-09或20150309），现为“{v}”"))
}

fn cross_field(r: &BTreeMap<String, String>, today: NaiveDate, issues: &mut Vec<Issue>) {
    let get = |k: &str| r.get(k).map(String::as_str).unwrap_or("");
    let id_type = get("id_type");
    let id_no = get("id_no");
    match id_type {
        "1" if id_no.is_empty() => issues.push(Issue::new(
            "id_no",
            ErrorCode::StudentIdRequired,
            "身份证件类型为居民身份证时，“身份证件号”必填",
        )),
        "1" => match IdCardNo::parse_on(id_no, today) {
            Err(e) => issues.push(Issue::new("id_no", e.code(), e.to_string())),
            Ok(id) => {
                let birth = id.birth_date().format("%Y-%m-%d").to_string();
                if !get("birth_date").is_empty() && get("birth_date") != birth {
                    issues.push(Issue::new(
                        "birth_date",
                        ErrorCode::StudentBirthMismatch,
                        format!("“出生日期”{}与身份证号中的出生日期{birth}不一致", get("birth_date")),
                    ));
                }
                if !get("sex").is_empty() && get("sex") != id.sex() {
                    issues.push(Issue::new(
                        "sex",
                        ErrorCode::StudentSexMismatch,
                        format!("“性别”与身份证号第17位不符（身份证号表明为{}）", codes::sex_label(id.sex())),
                    ));
                }
            }
        },
        "Z" | "" => {}
        _ if id_no.is_empty() => {
            issues.push(Issue::new("id_no", ErrorCode::StudentIdRequired, "身份证件类型不是“其他”时，“身份证件号”必填"))
        }
        _ => {}
    }
    // Without an ID of their own, the family members' ID numbers carry the identity.
    if (id_type == "Z" || id_no.is_empty()) && get("m1_id_no").is_empty() && get("m2_id_no").is_empty() {
        issues.push(Issue::new(
            "m1_id_no",
            ErrorCode::StudentMemberIdRequired,
            "学生无身份证件号时，须填写家庭成员的身份证件号",
        ));
    }
    for m in ["m1", "m2"] {
        if get(&format!("{m}_relation")) == "99" && get(&format!("{m}_relation_note")).is_empty() {
            let key = if m == "m1" { "m1_relation_note" } else { "m2_relation_note" };
            issues.push(Issue::new(
                key,
                ErrorCode::StudentRelationNote,
                format!("成员{}关系为“其他”时须填写关系说明", &m[1..]),
            ));
        }
        let t = get(&format!("{m}_id_type"));
        let n = get(&format!("{m}_id_no"));
        if t == "1"
            && !n.is_empty()
            && let Err(e) = IdCardNo::parse_on(n, today)
        {
            let key = if m == "m1" { "m1_id_no" } else { "m2_id_no" };
            issues.push(Issue::new(key, e.code(), format!("成员{}{e}", &m[1..])));
        }
    }
    // A second member, once begun, is named with its relation and whether it is a guardian.
    let m2_begun = r.iter().any(|(k, v)| k.starts_with("m2_") && !v.trim().is_empty());
    if m2_begun {
        for (key, label) in [("m2_name", "成员2姓名"), ("m2_relation", "成员2关系"), ("m2_guardian", "成员2是否监护人")]
        {
            if get(key).is_empty() {
                issues.push(Issue::new(
                    key,
                    ErrorCode::StudentMember2Incomplete,
                    format!("已填写成员2的信息时，“{label}”必填（没有第二名家庭成员的，成员2各项全部留空）"),
                ));
            }
        }
    }
    if !r.is_empty() && get("m1_guardian") != "1" && get("m2_guardian") != "1" && !get("m1_guardian").is_empty() {
        let message = if m2_begun {
            "两名家庭成员中至少一人应为监护人"
        } else {
            "只填写一名家庭成员时，成员1应为监护人"
        };
        issues.push(Issue::new("m1_guardian", ErrorCode::StudentNoGuardian, message));
    }
    let ym = get("entry_ym");
    if let Ok(b) = NaiveDate::parse_from_str(get("birth_date"), "%Y-%m-%d")
        && ym.len() == 6
        && ym[..4].parse::<i32>().is_ok_and(|y| y < b.year() + 3)
    {
        issues.push(Issue::new(
            "entry_ym",
            ErrorCode::StudentEntryTooEarly,
            format!("入学年月{ym}早于出生后三年，请核对"),
        ));
    }
}

/// Fields a role sees only masked: ID numbers and phones (the child's and its family's).
/// The special categories of personal data about a child (孤儿, 留守, 残疾, 健康状况): shown only
/// to the roles that register and look after children (see `Permission::ViewSpecialCategories`).
pub const SPECIAL_CATEGORIES: [&str; 4] = ["health", "orphan", "left_behind", "disability"];

/// What a role without the permission reads in place of a special category.
pub const WITHHELD: &str = "（无权查看）";

pub fn is_sensitive(key: &str) -> bool {
    key.ends_with("id_no") || key.ends_with("phone")
}

/// A value as a masking role sees it (see [`is_sensitive`]).
pub fn masked_value(key: &str, v: &str) -> String {
    if key.ends_with("id_no") {
        super::mask::id_number(v)
    } else if key.ends_with("phone") {
        super::mask::phone(v)
    } else {
        v.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_review_state_is_stored_and_sent_by_one_name() {
        for (review, name) in
            [(Review::Pending, "pending"), (Review::Confirmed, "confirmed"), (Review::Problem, "problem")]
        {
            assert_eq!(review.as_str(), name);
            assert_eq!(Review::try_from(name.to_owned()), Ok(review));
            assert_eq!(serde_json::to_value(review).expect("json"), serde_json::json!(name));
        }
        let e = Review::try_from("Confirmed".to_owned()).expect_err("names are exact");
        assert!(e.contains("Confirmed"), "{e}");
        assert_eq!(Review::Problem.label(), "问题学籍");
    }

    pub fn sample() -> BTreeMap<String, String> {
        let pairs = [
            ("name", "王䶮"),
            ("sex", "女"),
            ("birth_date", "2018-03-09"),
            ("birthplace", "522326"),
            ("native_place", "贵州望谟"),
            ("ethnicity", "布依族"),
            ("nationality", "CHN"),
            ("id_type", "居民身份证"),
            ("gatqw", "否"),
            ("health", "健康或良好"),
            ("id_no", "522326201803090026"),
            ("hukou_type", "农业户口"),
            ("hukou_place", "522326"),
            ("class_no", "202401"),
            ("entry_ym", "202409"),
            ("entry_mode", "就近入学"),
            ("attendance", "住校"),
            ("address_now", "望谟县王母街道"),
            ("address_mail", "望谟县王母街道"),
            ("address_home", "望谟县王母街道"),
            ("phone", "13800001111"),
            ("postcode", "552300"),
            ("only_child", "否"),
            ("preschool", "是"),
            ("left_behind", "双亲留守儿童"),
            ("needs_aid", "是"),
            ("yibu", "是"),
            ("orphan", "否"),
            ("martyr_child", "否"),
            ("m1_name", "王国华"),
            ("m1_relation", "父亲"),
            ("m1_guardian", "是"),
            ("m2_name", "李秀英"),
            ("m2_relation", "母亲"),
            ("m2_guardian", "是"),
            ("migrant", "否"),
        ];
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 23).unwrap_or_default()
    }

    #[test]
    fn a_second_family_member_is_optional_but_once_begun_complete() {
        let mut one = sample();
        one.insert("id_no".into(), "522326201803090025".into());
        for k in ["m2_name", "m2_relation", "m2_guardian"] {
            one.remove(k);
        }
        let parsed = StudentRecord::parse(&one, today());
        assert!(parsed.is_ok(), "an orphan's or one parent's child: one member: {:?}", parsed.err());
        let mut begun = one.clone();
        begun.insert("m2_phone".into(), "13900003333".into());
        let issues = StudentRecord::parse(&begun, today()).unwrap_err();
        let keys: Vec<&str> =
            issues.iter().filter(|i| i.code == ErrorCode::StudentMember2Incomplete).map(|i| i.field).collect();
        assert_eq!(keys, ["m2_name", "m2_relation", "m2_guardian"]);
        let mut not_guardian = one;
        not_guardian.insert("m1_guardian".into(), "否".into());
        let issues = StudentRecord::parse(&not_guardian, today()).unwrap_err();
        assert!(issues.iter().any(|i| i.code == ErrorCode::StudentNoGuardian && i.message.contains("成员1应为监护人")));
    }

    #[test]
    fn a_number_under_id_type_other_is_not_the_childs_own() {
        let with_id = StudentRecord::from_stored(sample());
        assert_eq!(with_id.own_id_no().as_deref(), Some("522326201803090026"));
        let mut raw = sample();
        raw.insert("id_type".into(), "Z".into());
        raw.insert("id_no".into(), "无".into());
        assert_eq!(StudentRecord::from_stored(raw).own_id_no(), None);
    }

    #[test]
    fn masked_values_sent_back_unchanged_mean_unchanged() {
        let stored = StudentRecord::from_stored(sample());
        let shown = stored.masked();
        assert_ne!(shown.get("id_no"), stored.get("id_no"));
        assert!(shown.get("id_no").contains('*') && shown.get("phone").contains('*'));
        assert_eq!(shown.get("name"), stored.get("name"));
        let mut sent = shown.values().clone();
        sent.insert("address_now".into(), "新地址".into());
        let back = StudentRecord::unmasked_from(&stored, &sent);
        assert_eq!(back.get("id_no").map(String::as_str), Some(stored.get("id_no")));
        assert_eq!(back.get("address_now").map(String::as_str), Some("新地址"));
        // A new number typed over the mask is taken as typed.
        sent.insert("id_no".into(), "522326201803090034".into());
        let back = StudentRecord::unmasked_from(&stored, &sent);
        assert_eq!(back.get("id_no").map(String::as_str), Some("522326201803090034"));
    }

    #[test]
    fn a_resident_id_number_is_the_childs_own_under_any_type() {
        let number = with_check("52232620180309002");
        for id_type in ["Z", "A", "1"] {
            let mut raw = sample();
            raw.insert("id_type".into(), id_type.into());
            raw.insert("id_no".into(), format!(" {} ", number.to_lowercase()));
            assert_eq!(StudentRecord::from_stored(raw).own_id_no().as_deref(), Some(number.as_str()), "{id_type}");
        }
        let mut passport = sample();
        passport.insert("id_type".into(), "A".into());
        passport.insert("id_no".into(), "E12345678".into());
        assert_eq!(StudentRecord::from_stored(passport).own_id_no().as_deref(), Some("E12345678"));
    }

    fn with_check(body17: &str) -> String {
        format!("{body17}{}", crate::domain::id_card::check_char(body17).unwrap_or('0'))
    }

    #[test]
    fn catalogue_has_the_71_template_columns() {
        assert_eq!(FIELDS.len() + 1, 71);
        let headers = include_str!("../../config/template/registry_headers.txt");
        let row: Vec<&str> = headers.lines().find(|l| !l.starts_with('#')).unwrap_or("").split('\t').collect();
        assert_eq!(row[0], SCHOOL_CODE_HEADER);
        let ours: Vec<&str> = FIELDS.iter().map(|f| f.header).collect();
        assert_eq!(&row[1..], ours.as_slice());
    }

    #[test]
    fn a_complete_record_normalises_codes_and_dates() {
        let mut raw = sample();
        raw.insert("id_no".into(), with_check("52232620180309002"));
        let r = StudentRecord::parse(&raw, today()).expect("valid");
        assert_eq!(r.get("sex"), "2");
        assert_eq!(r.get("ethnicity"), "09");
        assert_eq!(r.get("attendance"), "2");
        assert_eq!(r.get("yibu"), "1");
        assert_eq!(r.name(), "王䶮");
        assert_eq!(r.display("ethnicity"), "布依族");
    }

    #[test]
    fn id_must_agree_with_birth_date_and_sex() {
        let mut raw = sample();
        raw.insert("id_no".into(), with_check("52232620180310001"));
        let issues = StudentRecord::parse(&raw, today()).expect_err("mismatch");
        let codes: Vec<ErrorCode> = issues.iter().map(|i| i.code).collect();
        assert!(codes.contains(&ErrorCode::StudentBirthMismatch), "{issues:?}");
        assert!(codes.contains(&ErrorCode::StudentSexMismatch), "{issues:?}");
    }

    #[test]
    fn without_id_the_members_ids_are_needed() {
        let mut raw = sample();
        raw.insert("id_type".into(), "其他".into());
        raw.remove("id_no");
        let issues = StudentRecord::parse(&raw, today()).expect_err("members");
        assert_eq!(issues[0].code, ErrorCode::StudentMemberIdRequired);
        raw.insert("m1_id_no".into(), "522326198001010011".into());
        assert!(StudentRecord::parse(&raw, today()).is_ok());
    }

    #[test]
    fn bad_values_are_named_with_their_header() {
        let mut raw = sample();
        raw.insert("id_no".into(), with_check("52232620180309002"));
        raw.insert("ethnicity".into(), "傈傈族".into());
        raw.insert("entry_ym".into(), "2024-13".into());
        raw.insert("postcode".into(), "5523".into());
        raw.remove("phone");
        let issues = StudentRecord::parse(&raw, today()).expect_err("bad");
        let msgs: Vec<String> = issues.iter().map(|i| i.message.clone()).collect();
        assert!(msgs.iter().any(|m| m.starts_with("“民族”的值“傈傈族”")), "{msgs:?}");
        assert!(msgs.iter().any(|m| m.contains("入学年月")), "{msgs:?}");
        assert!(msgs.iter().any(|m| m.contains("邮政编码")), "{msgs:?}");
        assert!(msgs.iter().any(|m| m == "“联系电话”为必填项"), "{msgs:?}");
    }

    #[test]
    fn headers_match_with_synonyms_and_marks() {
        assert_eq!(field_by_header("身份证号").map(|f| f.key), Some("id_no"));
        assert_eq!(field_by_header(" 姓名* ").map(|f| f.key), Some("name"));
        assert_eq!(field_by_header("上下学交通方式").map(|f| f.key), Some("commute_mode"));
        assert!(field_by_header("未知列").is_none());
    }

    #[test]
    fn dates_in_the_usual_spellings() {
        for v in ["2015-03-09", "2015/3/9", "20150309", "2015年3月9日", "2015.03.09"] {
            assert_eq!(parse_date(v).map(|d| d.to_string()), Ok("2015-03-09".into()), "{v}");
        }
        assert!(parse_date("2015-02-30").is_err());
    }
}
