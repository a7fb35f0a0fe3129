//! Status changes (学籍异动, JY/T 1001 codes) and the states a student can be in: which change
//! is allowed from which state, where it leads, and who acts at each step of its approval chain
//! (DOMAIN §5). The chains themselves are data (`workflow_steps`); these are the rules around them.

use crate::domain::error_code::ErrorCode;
use std::fmt;

use super::role::Role;

/// Where a status change stands: in its approval chain, or closed either way. Stored and sent by
/// its snake_case name.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, schemars::JsonSchema, strum::EnumString, strum::IntoStaticStr,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
#[schemars(rename = "StatusChangeState")]
pub enum ChangeStatus {
    Open,
    Approved,
    Refused,
}

impl ChangeStatus {
    pub fn label(self) -> &'static str {
        match self {
            ChangeStatus::Open => "办理中",
            ChangeStatus::Approved => "已生效",
            ChangeStatus::Refused => "已驳回",
        }
    }
}

stored_as_text!(ChangeStatus, "学籍异动状态");

/// Where a student is on a given day. Exactly one holds from enrolment on. Parsed by its
/// snake_case name (the list's 状态 filter).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, strum::EnumString, strum::VariantNames)]
#[strum(serialize_all = "snake_case")]
pub enum State {
    /// 在校: at a school, in a class; the only state that can be subsidised.
    AtSchool,
    /// 休学.
    Suspended,
    /// 转学途中: a transfer is under way; neither school has the child on its roll.
    InTransit,
    /// 已离校: withdrawn, expelled (senior secondary only) or left for another reason.
    Left,
    /// 已死亡.
    Deceased,
    /// 已毕业.
    Graduated,
}

pub const ALL_STATES: [State; 6] =
    [State::AtSchool, State::Suspended, State::InTransit, State::Left, State::Deceased, State::Graduated];

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::AtSchool => "at_school",
            State::Suspended => "suspended",
            State::InTransit => "in_transit",
            State::Left => "left",
            State::Deceased => "deceased",
            State::Graduated => "graduated",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        s.parse().ok()
    }

    pub fn label(self) -> &'static str {
        match self {
            State::AtSchool => "在校",
            State::Suspended => "休学",
            State::InTransit => "转学途中",
            State::Left => "已离校",
            State::Deceased => "已死亡",
            State::Graduated => "已毕业",
        }
    }

    /// The student still holds a place in the registry (and an identity for the duplicate check).
    pub fn on_roll(self) -> bool {
        matches!(self, State::AtSchool | State::Suspended | State::InTransit)
    }

    /// What `students.status` says for this state ("enrolled" predates the timeline).
    pub fn student_status(self) -> &'static str {
        match self {
            State::AtSchool => "enrolled",
            other => other.as_str(),
        }
    }

    pub fn of_student_status(s: &str) -> Option<Self> {
        if s == "enrolled" { Some(State::AtSchool) } else { Self::parse(s) }
    }
}

/// `students.status` of children still on the roll (at school, suspended, in transit): they
/// hold their identity for the duplicate check and count in the year-end promotion.
pub const ON_ROLL_STATUSES: [&str; 3] = ["enrolled", "suspended", "in_transit"];

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// A kind of status change, stored by its JY/T 1001 code (学籍异动类别).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChangeKind {
    Suspend,
    Resume,
    /// One transfer: 21 (转出) at the sending school and 22 (转入) at the receiving one.
    Transfer,
    ClassChange,
    Withdraw,
    Expel,
    Death,
    Other,
}

pub const ALL_KINDS: [ChangeKind; 8] = [
    ChangeKind::Suspend,
    ChangeKind::Resume,
    ChangeKind::Transfer,
    ChangeKind::ClassChange,
    ChangeKind::Withdraw,
    ChangeKind::Expel,
    ChangeKind::Death,
    ChangeKind::Other,
];

/// The last grade of compulsory education (grades 1–9: 小学 and 初中).
pub const LAST_COMPULSORY_GRADE: i32 = 9;

/// A rule that refused a change: a stable code and a message for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub code: ErrorCode,
    pub message: String,
}

impl Refusal {
    fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }
}

impl ChangeKind {
    pub fn code(self) -> &'static str {
        match self {
            ChangeKind::Suspend => "11",
            ChangeKind::Resume => "12",
            ChangeKind::Transfer => "21",
            ChangeKind::ClassChange => "29",
            ChangeKind::Withdraw => "31",
            ChangeKind::Expel => "42",
            ChangeKind::Death => "51",
            ChangeKind::Other => "99",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            ChangeKind::Suspend => "休学",
            ChangeKind::Resume => "复学",
            ChangeKind::Transfer => "转学",
            ChangeKind::ClassChange => "转班",
            ChangeKind::Withdraw => "退学",
            ChangeKind::Expel => "开除学籍",
            ChangeKind::Death => "死亡",
            ChangeKind::Other => "其他",
        }
    }

    /// Accepts the code (22 names the same transfer as 21) or the Chinese label.
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        if s == "22" || s == "转入" || s == "转出" {
            return Some(ChangeKind::Transfer);
        }
        ALL_KINDS.into_iter().find(|k| k.code() == s || k.label() == s)
    }

    /// The state the student is in from the effective date once the chain is complete.
    pub fn outcome(self) -> State {
        match self {
            ChangeKind::Suspend => State::Suspended,
            ChangeKind::Resume | ChangeKind::Transfer | ChangeKind::ClassChange => State::AtSchool,
            ChangeKind::Withdraw | ChangeKind::Expel | ChangeKind::Other => State::Left,
            ChangeKind::Death => State::Deceased,
        }
    }

    /// Whether this change may start for a student in `state` in `grade` (DOMAIN §5.1).
    pub fn check(self, state: State, grade: i32) -> Result<(), Refusal> {
        let from = |ok: &[State]| {
            if ok.contains(&state) {
                Ok(())
            } else {
                Err(Refusal::new(
                    ErrorCode::ChangeWrongState,
                    format!("学生当前为“{}”，不能办理{}", state.label(), self.label()),
                ))
            }
        };
        match self {
            ChangeKind::Transfer if state == State::Suspended => {
                Err(Refusal::new(ErrorCode::TransferSuspended, "休学期间不得转学（须先办理复学）"))
            }
            ChangeKind::Suspend | ChangeKind::Transfer | ChangeKind::ClassChange => from(&[State::AtSchool]),
            ChangeKind::Resume => from(&[State::Suspended]),
            ChangeKind::Withdraw | ChangeKind::Expel if grade <= LAST_COMPULSORY_GRADE => Err(Refusal::new(
                ErrorCode::ChangeCompulsory,
                format!(
                    "义务教育阶段（{}）学校不得{}学生；{}仅适用于高中阶段",
                    super::codes::grade_name(grade),
                    if self == ChangeKind::Expel { "开除" } else { "令其退学" },
                    self.label()
                ),
            )),
            ChangeKind::Withdraw | ChangeKind::Expel | ChangeKind::Other => from(&[State::AtSchool, State::Suspended]),
            ChangeKind::Death => from(&[State::AtSchool, State::Suspended]),
        }
    }
}

impl fmt::Display for ChangeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// Which chain a change follows: everything but a transfer stays with its own school and county.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Route {
    Local,
    InCounty,
    CrossCounty,
    CrossProvince,
}

impl Route {
    pub fn as_str(self) -> &'static str {
        match self {
            Route::Local => "local",
            Route::InCounty => "in_county",
            Route::CrossCounty => "cross_county",
            Route::CrossProvince => "cross_province",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Route::Local, Route::InCounty, Route::CrossCounty, Route::CrossProvince].into_iter().find(|r| r.as_str() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            Route::Local => "本校",
            Route::InCounty => "县内转学",
            Route::CrossCounty => "省内跨县转学",
            Route::CrossProvince => "跨省转学",
        }
    }

    /// A transfer's route from the two schools' county-level codes (GB/T 2260).
    pub fn of_transfer(from_county: &str, to_county: &str) -> Self {
        if from_county == to_county {
            Route::InCounty
        } else if from_county.get(..2) == to_county.get(..2) {
            Route::CrossCounty
        } else {
            Route::CrossProvince
        }
    }
}

/// The side of a change a step belongs to: the student's own (sending) school or the receiving one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    From,
    To,
}

impl Side {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "from" => Some(Side::From),
            "to" => Some(Side::To),
            _ => None,
        }
    }
}

/// The level of the org that acts at a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    School,
    County,
    Province,
    Ministry,
}

impl Level {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "school" => Some(Level::School),
            "county" => Some(Level::County),
            "province" => Some(Level::Province),
            "ministry" => Some(Level::Ministry),
            _ => None,
        }
    }
}

/// One step of a chain as configured: who acts (side × level × role) and what it is called.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepSpec {
    pub side: Side,
    pub level: Level,
    pub role: Role,
    pub label: String,
}

/// A chain must have a first step at a school (whoever submits the change) and the receiving
/// school must submit a transfer (DOMAIN §5.1: requested at the receiving school).
pub fn check_chain(kind: ChangeKind, steps: &[StepSpec]) -> Result<(), String> {
    let first = steps.first().ok_or_else(|| format!("{}尚未配置审批流程", kind.label()))?;
    if first.level != Level::School {
        return Err(format!("{}的审批流程须由学校提交", kind.label()));
    }
    if kind == ChangeKind::Transfer && first.side != Side::To {
        return Err("转学须由转入学校提交申请".into());
    }
    if kind != ChangeKind::Transfer && steps.iter().any(|s| s.side == Side::To) {
        return Err(format!("{}不涉及转入学校", kind.label()));
    }
    Ok(())
}

/// Working days each step has before it is overdue (DOMAIN §5.1).
pub const STEP_WORKING_DAYS: u32 = 10;

/// How an actor may act on a step: as the step's own org and role, or, once the step is overdue,
/// as the nutrition office of an org above it (escalation). `None`: not theirs to act on.
pub fn may_act(
    step_org_path: &str,
    step_role: Role,
    actor_path: &str,
    actor_has: impl Fn(Role) -> bool,
    overdue: bool,
) -> Option<bool> {
    if actor_path == step_org_path && actor_has(step_role) {
        return Some(false);
    }
    if overdue
        && step_org_path.starts_with(actor_path)
        && step_org_path != actor_path
        && actor_has(Role::NutritionOffice)
    {
        return Some(true);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_s_state_reads_back_as_stored_and_refuses_what_it_does_not_know() {
        for s in [ChangeStatus::Open, ChangeStatus::Approved, ChangeStatus::Refused] {
            assert_eq!(ChangeStatus::try_from(s.as_str().to_owned()), Ok(s));
            assert_eq!(serde_json::to_value(s).expect("json"), serde_json::json!(s.as_str()));
        }
        assert_eq!(ChangeStatus::Open.as_str(), "open");
        assert!(ChangeStatus::try_from("opened".to_owned()).is_err());
    }

    #[test]
    fn kinds_parse_by_code_and_label() {
        for k in ALL_KINDS {
            assert_eq!(ChangeKind::parse(k.code()), Some(k));
            assert_eq!(ChangeKind::parse(k.label()), Some(k));
        }
        assert_eq!(ChangeKind::parse("22"), Some(ChangeKind::Transfer));
        assert_eq!(ChangeKind::parse("13"), None);
    }

    #[test]
    fn no_transfer_while_suspended_and_no_expulsion_in_compulsory_grades() {
        let e = ChangeKind::Transfer.check(State::Suspended, 5).unwrap_err();
        assert_eq!(e.code, ErrorCode::TransferSuspended);
        let e = ChangeKind::Expel.check(State::AtSchool, 8).unwrap_err();
        assert_eq!(e.code, ErrorCode::ChangeCompulsory);
        assert!(e.message.contains("八年级"), "{}", e.message);
        assert_eq!(ChangeKind::Withdraw.check(State::AtSchool, 9).unwrap_err().code, ErrorCode::ChangeCompulsory);
        assert!(ChangeKind::Withdraw.check(State::AtSchool, 10).is_ok());
        assert_eq!(ChangeKind::Resume.check(State::AtSchool, 3).unwrap_err().code, ErrorCode::ChangeWrongState);
        assert!(ChangeKind::Resume.check(State::Suspended, 3).is_ok());
        assert!(ChangeKind::Death.check(State::Graduated, 3).is_err());
        assert!(ChangeKind::Suspend.check(State::InTransit, 3).is_err());
    }

    #[test]
    fn outcomes() {
        assert_eq!(ChangeKind::Suspend.outcome(), State::Suspended);
        assert_eq!(ChangeKind::Transfer.outcome(), State::AtSchool);
        assert_eq!(ChangeKind::Death.outcome(), State::Deceased);
        assert!(State::InTransit.on_roll());
        assert!(!State::Graduated.on_roll());
        assert_eq!(State::of_student_status("enrolled"), Some(State::AtSchool));
    }

    #[test]
    fn on_roll_statuses_are_the_on_roll_states() {
        let derived: Vec<&str> = ALL_STATES.into_iter().filter(|s| s.on_roll()).map(State::student_status).collect();
        assert_eq!(derived, ON_ROLL_STATUSES);
    }

    #[test]
    fn transfer_routes_follow_the_division_codes() {
        assert_eq!(Route::of_transfer("522326", "522326"), Route::InCounty);
        assert_eq!(Route::of_transfer("522326", "522327"), Route::CrossCounty);
        assert_eq!(Route::of_transfer("522326", "530102"), Route::CrossProvince);
    }

    #[test]
    fn chains_start_at_a_school_and_transfers_at_the_receiving_one() {
        let step = |side, level, role| StepSpec { side, level, role, label: String::new() };
        assert!(check_chain(ChangeKind::Transfer, &[step(Side::From, Level::School, Role::Registrar)]).is_err());
        assert!(check_chain(ChangeKind::Transfer, &[step(Side::To, Level::School, Role::Registrar)]).is_ok());
        assert!(check_chain(ChangeKind::Suspend, &[step(Side::From, Level::County, Role::NutritionOffice)]).is_err());
        assert!(check_chain(ChangeKind::Suspend, &[]).is_err());
    }

    #[test]
    fn escalation_needs_an_overdue_step_and_an_office_above() {
        let school = "/000000/520000/522300/522326/2152326001/";
        let county = "/000000/520000/522300/522326/";
        let office = |r: Role| r == Role::NutritionOffice;
        let principal = |r: Role| r == Role::Principal;
        assert_eq!(may_act(school, Role::Principal, school, principal, false), Some(false));
        assert_eq!(may_act(school, Role::Principal, county, office, false), None);
        assert_eq!(may_act(school, Role::Principal, county, office, true), Some(true));
        assert_eq!(may_act(county, Role::NutritionOffice, school, principal, true), None);
        assert_eq!(may_act(school, Role::Principal, "/000000/520000/522300/522327/", office, true), None);
    }
}
