//! The beneficiary roster (受益学生花名册, SPEC §6): its lines, the content hash that freezes a
//! version, the diff between versions, and the flow draft → signed → reviewed → archived.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::term::Term;

/// One child on the roster, as true on the snapshot date and as printed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RosterLine {
    pub student_id: i64,
    pub student_no: String,
    pub name: String,
    /// Code: 1 男, 2 女.
    pub sex: String,
    pub grade: i32,
    pub class_name: String,
    /// Code of 就读方式 (1 走读, 2 住校).
    pub attendance: String,
    pub yibu: bool,
    /// Code of 留守儿童 (0 否 …).
    pub left_behind: String,
    pub guardian_name: String,
    pub meal_model: String,
}

impl RosterLine {
    /// The line as a page or the API shows it: 学籍号 masked (a G number is the ID number). The
    /// stored line, which the content hash covers, keeps it whole.
    pub fn shown(mut self) -> Self {
        self.student_no = super::mask::student_no(&self.student_no);
        self
    }
}

/// 就读方式 code 2: 住校.
pub fn is_boarder(attendance: &str) -> bool {
    attendance == "2"
}

/// 留守儿童 code 1 or 2: one parent or both away working.
pub fn is_left_behind(code: &str) -> bool {
    matches!(code, "1" | "2")
}

impl RosterLine {
    pub fn is_boarder(&self) -> bool {
        is_boarder(&self.attendance)
    }

    pub fn is_left_behind(&self) -> bool {
        is_left_behind(&self.left_behind)
    }

    /// The fields people see that differ from another line of the same child.
    pub fn changed_fields(&self, other: &RosterLine) -> Vec<&'static str> {
        [
            ("姓名", self.name == other.name),
            ("性别", self.sex == other.sex),
            ("年级", self.grade == other.grade),
            ("班级", self.class_name == other.class_name),
            ("就读方式", self.attendance == other.attendance),
            ("一补", self.yibu == other.yibu),
            ("留守", self.left_behind == other.left_behind),
            ("监护人", self.guardian_name == other.guardian_name),
            ("供餐模式", self.meal_model == other.meal_model),
        ]
        .into_iter()
        .filter(|(_, same)| !same)
        .map(|(label, _)| label)
        .collect()
    }
}

/// SHA-256 over a canonical text of the school, term, snapshot date and every line in order:
/// the same children with the same printed facts always give the same hash.
pub fn content_hash(school_code: &str, term: Term, snapshot: NaiveDate, lines: &[RosterLine]) -> String {
    let mut h = Sha256::new();
    h.update(format!("mealroll-roster-v1\n{school_code}\n{term}\n{snapshot}\n").as_bytes());
    for l in lines {
        // Unit separators keep fields from running into each other.
        let row = [
            l.student_no.as_str(),
            &l.name,
            &l.sex,
            &l.grade.to_string(),
            &l.class_name,
            &l.attendance,
            if l.yibu { "1" } else { "0" },
            &l.left_behind,
            &l.guardian_name,
            &l.meal_model,
        ]
        .join("\u{1f}");
        h.update(row.as_bytes());
        h.update(b"\n");
    }
    hex::encode(h.finalize())
}

/// Who joined, who left and who changed between two versions; reasons are filled in by the
/// caller, which knows the timelines.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Diff {
    pub from_version: i32,
    /// The version compared with is the last archived (备案) one: what the county signed off, so
    /// a reviewer sees everything that changed since, not only since the last draft.
    #[serde(default)]
    pub from_archived: bool,
    pub joined: Vec<DiffEntry>,
    pub left: Vec<DiffEntry>,
    pub changed: Vec<DiffEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DiffEntry {
    pub student_id: i64,
    pub student_no: String,
    pub name: String,
    pub class_name: String,
    /// Why, as people read it: 转入, 休学, 已离校 …, or the changed fields.
    pub reason: String,
}

impl Diff {
    /// The diff as pages and the API show it: 学籍号 masked.
    pub fn shown(mut self) -> Self {
        for e in self.joined.iter_mut().chain(self.left.iter_mut()).chain(self.changed.iter_mut()) {
            e.student_no = super::mask::student_no(&e.student_no);
        }
        self
    }

    pub fn is_empty(&self) -> bool {
        self.joined.is_empty() && self.left.is_empty() && self.changed.is_empty()
    }
}

pub fn diff(from_version: i32, old: &[RosterLine], new: &[RosterLine]) -> Diff {
    let before: BTreeMap<i64, &RosterLine> = old.iter().map(|l| (l.student_id, l)).collect();
    let after: BTreeMap<i64, &RosterLine> = new.iter().map(|l| (l.student_id, l)).collect();
    let entry = |l: &RosterLine, reason: String| DiffEntry {
        student_id: l.student_id,
        student_no: l.student_no.clone(),
        name: l.name.clone(),
        class_name: l.class_name.clone(),
        reason,
    };
    let mut d = Diff { from_version, ..Diff::default() };
    for l in new {
        match before.get(&l.student_id) {
            None => d.joined.push(entry(l, String::new())),
            Some(o) => {
                let fields = l.changed_fields(o);
                if !fields.is_empty() {
                    d.changed.push(entry(l, format!("{}变更", fields.join("、"))));
                }
            }
        }
    }
    d.left = old.iter().filter(|l| !after.contains_key(&l.student_id)).map(|l| entry(l, String::new())).collect();
    d
}

/// Where a version stands in its flow. Only the newest version of a term moves on; older
/// ones keep the state they reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
#[schemars(rename = "RosterStatus")]
pub enum Status {
    Draft,
    Signed,
    Reviewed,
    Archived,
}

impl TryFrom<String> for Status {
    type Error = String;

    fn try_from(s: String) -> Result<Self, String> {
        Self::stored(s)
    }
}

/// The steps of the flow, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// 学校签章: the principal (or nutrition officer) signs for the school.
    Sign,
    /// 县教育局审核.
    Review,
    /// 县营养办备案.
    Archive,
    /// The county sends it back to the school with a reason.
    Return,
}

impl Step {
    const ALL: [Step; 4] = [Self::Sign, Self::Review, Self::Archive, Self::Return];

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s.trim())
    }

    /// Its name in forms, the API and the page's answer (`?ok=sign`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sign => "sign",
            Self::Review => "review",
            Self::Archive => "archive",
            Self::Return => "return",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Sign => "学校签章确认",
            Self::Review => "县教育局审核",
            Self::Archive => "县营养办备案",
            Self::Return => "退回学校",
        }
    }
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Signed => "signed",
            Self::Reviewed => "reviewed",
            Self::Archived => "archived",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Draft => "草稿（待学校签章）",
            Self::Signed => "学校已签章（待县审核）",
            Self::Reviewed => "县已审核（待备案）",
            Self::Archived => "已备案",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Draft, Self::Signed, Self::Reviewed, Self::Archived].into_iter().find(|x| x.as_str() == s)
    }

    /// As the column stores it; a value the code does not know fails the load rather than being
    /// read as a draft (which could be discarded).
    pub fn stored(s: String) -> Result<Self, String> {
        Self::parse(&s).ok_or_else(|| format!("未知的花名册状态“{s}”"))
    }

    /// Signed and after: the school has put its name to it, so it can no longer be discarded.
    pub fn is_frozen(self) -> bool {
        !matches!(self, Self::Draft)
    }

    /// The state after `step`, or why the step is out of order.
    pub fn after(self, step: Step) -> Result<Status, String> {
        match (self, step) {
            (Self::Draft, Step::Sign) => Ok(Self::Signed),
            (Self::Signed, Step::Review) => Ok(Self::Reviewed),
            (Self::Reviewed, Step::Archive) => Ok(Self::Archived),
            (Self::Signed | Self::Reviewed, Step::Return) => Ok(Self::Draft),
            (Self::Archived, _) => Err("该花名册已备案，不能再办理".into()),
            (s, step) => Err(format!("花名册当前为“{}”，不能“{}”", s.label(), step.label())),
        }
    }
}

/// The snapshot date a term's roster is taken on by default: 15 September / 1 March.
pub fn default_snapshot(term: Term) -> NaiveDate {
    let (y, m, d) = if term.half() == 1 { (term.school_year(), 9, 15) } else { (term.school_year() + 1, 3, 1) };
    NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default()
}

/// The day by which the school must have signed: 15 September, and 15 March in spring.
pub fn deadline(term: Term) -> NaiveDate {
    let (y, m) = if term.half() == 1 { (term.school_year(), 9) } else { (term.school_year() + 1, 3) };
    NaiveDate::from_ymd_opt(y, m, 15).unwrap_or_default()
}

/// Late for the deadline: signed after it, or not signed and the deadline has passed.
pub fn is_late(first_signed: Option<NaiveDate>, deadline: NaiveDate, today: NaiveDate) -> bool {
    match first_signed {
        Some(day) => day > deadline,
        None => today > deadline,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_roster_s_state_reads_back_as_stored_and_refuses_what_it_does_not_know() {
        for st in [Status::Draft, Status::Signed, Status::Reviewed, Status::Archived] {
            assert_eq!(Status::try_from(st.as_str().to_owned()), Ok(st));
            assert_eq!(serde_json::to_value(st).expect("json"), serde_json::json!(st.as_str()));
        }
        // Not a draft by default: a draft may be discarded.
        assert!(Status::try_from("archive".to_owned()).is_err());
    }

    fn line(id: i64, name: &str, class: &str) -> RosterLine {
        RosterLine {
            student_id: id,
            student_no: format!("G{id:017}"),
            name: name.into(),
            sex: "1".into(),
            grade: 3,
            class_name: class.into(),
            attendance: "1".into(),
            yibu: false,
            left_behind: "0".into(),
            guardian_name: "王大".into(),
            meal_model: "学校食堂供餐".into(),
        }
    }

    #[test]
    fn the_hash_depends_on_content_only() {
        let t = Term::new(2026, 1).unwrap();
        let day = default_snapshot(t);
        let a = vec![line(1, "王小明", "三(1)班"), line(2, "李䶮", "三(1)班")];
        let h = content_hash("5223260001", t, day, &a);
        assert_eq!(h, content_hash("5223260001", t, day, &a.clone()));
        assert_eq!(h.len(), 64);
        let mut b = a.clone();
        b[1].name = "李岩".into();
        assert_ne!(h, content_hash("5223260001", t, day, &b));
        assert_ne!(h, content_hash("5223260001", t, day.succ_opt().unwrap(), &a));
    }

    #[test]
    fn the_diff_names_who_joined_left_and_changed() {
        let old = vec![line(1, "王小明", "三(1)班"), line(2, "李䶮", "三(1)班")];
        let new = vec![line(1, "王小明", "三(2)班"), line(3, "张三", "三(1)班")];
        let d = diff(1, &old, &new);
        assert_eq!(d.joined.iter().map(|e| e.student_id).collect::<Vec<_>>(), vec![3]);
        assert_eq!(d.left.iter().map(|e| e.student_id).collect::<Vec<_>>(), vec![2]);
        assert_eq!(d.changed.len(), 1);
        assert_eq!(d.changed[0].reason, "班级变更");
        assert!(diff(1, &old, &old).is_empty());
    }

    #[test]
    fn the_flow_refuses_steps_out_of_order() {
        assert_eq!(Status::Draft.after(Step::Sign), Ok(Status::Signed));
        assert_eq!(Status::Signed.after(Step::Review), Ok(Status::Reviewed));
        assert_eq!(Status::Reviewed.after(Step::Archive), Ok(Status::Archived));
        assert!(Status::Draft.after(Step::Review).unwrap_err().contains("不能“县教育局审核”"));
        assert!(Status::Draft.after(Step::Archive).is_err());
        assert!(Status::Signed.after(Step::Sign).is_err());
        assert!(Status::Archived.after(Step::Return).is_err());
        assert_eq!(Status::Signed.after(Step::Return), Ok(Status::Draft));
        assert!(!Status::Draft.is_frozen() && Status::Signed.is_frozen());
    }

    #[test]
    fn snapshot_dates_and_deadlines_follow_the_term() {
        let autumn = Term::new(2026, 1).unwrap();
        let spring = Term::new(2026, 2).unwrap();
        assert_eq!(default_snapshot(autumn).to_string(), "2026-09-15");
        assert_eq!(default_snapshot(spring).to_string(), "2027-03-01");
        assert_eq!(deadline(spring).to_string(), "2027-03-15");
        let due = deadline(autumn);
        let (before, after) = (due.pred_opt().unwrap(), due.succ_opt().unwrap());
        assert!(!is_late(Some(due), due, after), "signed on the day");
        assert!(is_late(Some(after), due, after));
        assert!(!is_late(None, due, before) && !is_late(None, due, due));
        assert!(is_late(None, due, after));
    }
}
