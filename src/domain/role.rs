//! Org kinds, roles and what each role may do (SPEC §1). 三员分立: an account holding
//! 系统管理员, 安全管理员 or 审计管理员 holds no other role.

use std::collections::BTreeSet;
use std::fmt;

/// The level of an org in the tree. Stored and sent by its snake_case name (strum and serde
/// spell it the same).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    serde::Serialize,
    schemars::JsonSchema,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::EnumIter,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum OrgKind {
    Ministry,
    Province,
    Prefecture,
    County,
    Township,
    School,
}

stored_as_text!(OrgKind, "单位层级");

impl OrgKind {
    pub fn parse(s: &str) -> Option<Self> {
        s.parse().ok()
    }

    pub fn label(self) -> &'static str {
        match self {
            OrgKind::Ministry => "部",
            OrgKind::Province => "省",
            OrgKind::Prefecture => "市",
            OrgKind::County => "县",
            OrgKind::Township => "乡镇",
            OrgKind::School => "学校",
        }
    }

    /// County level and above: the level that configures, reviews and pays (and needs TOTP).
    pub fn is_county_or_above(self) -> bool {
        !matches!(self, OrgKind::Township | OrgKind::School)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    Registrar,
    NutritionOfficer,
    Principal,
    NutritionOffice,
    Finance,
    Inspector,
    SysAdmin,
    SecAdmin,
    AuditAdmin,
}

pub const ALL_ROLES: [Role; 9] = [
    Role::Registrar,
    Role::NutritionOfficer,
    Role::Principal,
    Role::NutritionOffice,
    Role::Finance,
    Role::Inspector,
    Role::SysAdmin,
    Role::SecAdmin,
    Role::AuditAdmin,
];

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Registrar => "registrar",
            Role::NutritionOfficer => "nutrition_officer",
            Role::Principal => "principal",
            Role::NutritionOffice => "nutrition_office",
            Role::Finance => "finance",
            Role::Inspector => "inspector",
            Role::SysAdmin => "sysadmin",
            Role::SecAdmin => "secadmin",
            Role::AuditAdmin => "auditadmin",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Role::Registrar => "学籍管理员",
            Role::NutritionOfficer => "营养专干",
            Role::Principal => "校长",
            Role::NutritionOffice => "营养办",
            Role::Finance => "财务",
            Role::Inspector => "督查",
            Role::SysAdmin => "系统管理员",
            Role::SecAdmin => "安全管理员",
            Role::AuditAdmin => "审计管理员",
        }
    }

    /// Accepts the code or the Chinese label.
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        ALL_ROLES.into_iter().find(|r| r.as_str() == s || r.label() == s)
    }

    /// One of the three separated administrator roles (三员).
    pub fn is_officer(self) -> bool {
        matches!(self, Role::SysAdmin | Role::SecAdmin | Role::AuditAdmin)
    }

    /// Whether an account at an org of `kind` may hold this role.
    pub fn fits(self, kind: OrgKind) -> bool {
        match self {
            Role::Registrar | Role::NutritionOfficer | Role::Principal => kind == OrgKind::School,
            Role::NutritionOffice | Role::Finance | Role::Inspector => {
                kind.is_county_or_above() || kind == OrgKind::Township
            }
            Role::SysAdmin | Role::SecAdmin | Role::AuditAdmin => true,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// What a caller may do; checked by every service before it acts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// Read the org tree, schools, classes and teachers in scope.
    ViewOrgs,
    /// Create schools and townships under the caller's org.
    CreateSchools,
    /// Edit a school's record and campuses.
    EditSchool,
    /// Create, edit and delete classes and teachers.
    EditClasses,
    /// Create users, disable them, reset passwords (not the 三员 of other officers' kinds).
    ManageUsers,
    /// Unlock accounts, reset second factors, reactivate sealed accounts.
    ManageSecurity,
    /// Read the audit log.
    ViewAudit,
    /// Read student records in scope.
    ViewStudents,
    /// Register and edit students, import templates.
    EditStudents,
    /// Confirm students into the database (确认入库), resolve the problem queue, and approve
    /// key-information change requests at county level.
    ConfirmStudents,
    /// Review a key-information change request for the school (the principal's step).
    ReviewKeyChange,
    /// Set the key-information lock date for the caller's org (county level and above).
    SetKeyLock,
    /// Set terms, close them, restrict transfers, and run year-end promotion (county and above).
    ConfigureRegistry,
    /// Set the programme's plan types, member schools, standards, suppliers, meal models and
    /// calendars (county and above; a school keeps its own calendar and meal models too).
    ConfigureProgramme,
    /// Build a school's beneficiary roster.
    BuildRoster,
    /// Sign (签章确认) the school's own roster.
    SignRoster,
    /// Review, return and archive (备案) the rosters of the county's schools.
    ReviewRoster,
    /// Compute, close and set the counting rule of meal-subsidy entitlements (county and above).
    ComputeEntitlements,
    /// Read fund accounts, entries and reconciliations in scope.
    ViewLedger,
    /// Ask for a posting (receipt, allocation, expenditure) or a reversal of the own org's money.
    PostLedger,
    /// Approve or refuse another person's posting above the threshold; close a month.
    ApproveLedger,
    /// Read the statutory reports of the orgs in scope (their drill-downs list students, so
    /// those also need `ViewStudents`).
    ViewReports,
    /// Submit the own org's statutory report (a frozen snapshot).
    SubmitReports,
    /// Sign off the reports of the orgs below: approve, approve with reservations, reject.
    ReviewReports,
    /// Run the anomaly scan and read its flags for the orgs in scope (a school: its own).
    ViewAnomalies,
    /// Set the anomaly rules' thresholds (province or county) and severities (province).
    ConfigureAnomalies,
    /// Give the school's reason for one of its own flags (explain or fix).
    AnswerFlags,
    /// Accept or reject a school's explanation of a flag (the county).
    DecideFlags,
    /// Inspect: dismiss a flag as a false alarm or turn it into a finding, draw spot-check
    /// samples, record visits and findings, verify another inspector's rectification.
    Inspect,
    /// See a child's full ID numbers, 学籍号 and phones, one child at a time, with a reason that
    /// the audit log keeps (everywhere else they are masked).
    Unmask,
    /// Record a school's daily meal counts (就餐日报).
    RecordMeals,
    /// See a child's special categories (孤儿, 留守, 残疾, 健康状况): those who register and look
    /// after children; everyone else reads "（无权查看）".
    ViewSpecialCategories,
    /// Take children's records out of the system as a file (a school's registrar, the county's
    /// office): each file names who took it and when, and holds at most a configured number.
    ExportStudents,
    /// See the inspection findings of the caller's scope and put them right in the registry (a
    /// school's registrar too, who makes the corrections, without the flags and scans).
    ViewFindings,
    /// Read who changed what in the caller's scope (the business changes of the audit log,
    /// numbers masked): the inspector's trail. The whole log stays the audit officer's.
    ReadAuditTrail,
    /// Set the daily meal records' deadline and approve corrections of days whose month is
    /// closed (the county's nutrition office).
    ApproveMeals,
    /// Exchange packages with the centre (跨省查重): a province's nutrition office sends its
    /// package and takes back what the centre found; the centre's office takes the packages.
    ExchangeCentral,
}

impl Role {
    pub fn may(self, p: Permission) -> bool {
        use Permission::*;
        use Role::*;
        match p {
            ViewOrgs => self != AuditAdmin,
            CreateSchools => matches!(self, NutritionOffice | SysAdmin),
            EditSchool => matches!(self, NutritionOffice | SysAdmin | Principal | Registrar),
            EditClasses => matches!(self, NutritionOffice | SysAdmin | Principal | Registrar),
            ManageUsers => self == SysAdmin,
            ManageSecurity => self == SecAdmin,
            ViewAudit => self == AuditAdmin,
            ViewStudents => !self.is_officer(),
            EditStudents => matches!(self, Registrar | Principal | NutritionOffice),
            ConfirmStudents => self == NutritionOffice,
            ReviewKeyChange => self == Principal,
            SetKeyLock => self == NutritionOffice,
            ConfigureRegistry => self == NutritionOffice,
            ConfigureProgramme => matches!(self, NutritionOffice | NutritionOfficer),
            BuildRoster => matches!(self, NutritionOffice | NutritionOfficer | Principal),
            SignRoster => matches!(self, Principal | NutritionOfficer),
            ReviewRoster => self == NutritionOffice,
            ComputeEntitlements => matches!(self, NutritionOffice | Finance),
            ViewLedger => matches!(self, NutritionOffice | Finance | Inspector | Principal | NutritionOfficer),
            PostLedger => matches!(self, Finance | NutritionOffice | NutritionOfficer | Principal),
            ApproveLedger => matches!(self, Finance | NutritionOffice | Principal),
            ViewReports => !self.is_officer(),
            SubmitReports => matches!(self, NutritionOffice | NutritionOfficer | Principal),
            ReviewReports => self == NutritionOffice,
            Unmask => matches!(self, Registrar | Principal | NutritionOffice | Inspector),
            ViewAnomalies => matches!(self, Inspector | NutritionOffice | Finance | Principal | NutritionOfficer),
            ConfigureAnomalies => self == NutritionOffice,
            AnswerFlags => matches!(self, Principal | NutritionOfficer),
            DecideFlags => self == NutritionOffice,
            Inspect => self == Inspector,
            ReadAuditTrail => self == Inspector,
            ApproveMeals => self == NutritionOffice,
            RecordMeals => matches!(self, NutritionOfficer | Principal),
            ViewSpecialCategories => matches!(self, Registrar | Principal | NutritionOffice),
            ExportStudents => matches!(self, Registrar | NutritionOffice),
            ViewFindings => self == Registrar || self.may(ViewAnomalies),
            ExchangeCentral => self == NutritionOffice,
        }
    }
}

/// The roles of one account: non-empty, fitting its org, 三员 held alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleSet(BTreeSet<Role>);

impl RoleSet {
    pub fn new(roles: impl IntoIterator<Item = Role>, kind: OrgKind) -> Result<Self, String> {
        let set: BTreeSet<Role> = roles.into_iter().collect();
        if set.is_empty() {
            return Err("至少选择一个角色".into());
        }
        if set.len() > 1 && set.iter().any(|r| r.is_officer()) {
            return Err("三员分立：系统管理员、安全管理员、审计管理员不得与其他任何角色由同一账号兼任".into());
        }
        if let Some(r) = set.iter().find(|r| !r.fits(kind)) {
            return Err(format!("角色“{}”不能设在{}级单位", r.label(), kind.label()));
        }
        Ok(Self(set))
    }

    /// Rebuilds a set read back from storage, skipping unknown codes.
    pub fn from_stored(codes: &[String]) -> Self {
        Self(codes.iter().filter_map(|c| Role::parse(c)).collect())
    }

    pub fn iter(&self) -> impl Iterator<Item = Role> + '_ {
        self.0.iter().copied()
    }

    pub fn contains(&self, r: Role) -> bool {
        self.0.contains(&r)
    }

    pub fn may(&self, p: Permission) -> bool {
        self.0.iter().any(|r| r.may(p))
    }

    pub fn has_officer(&self) -> bool {
        self.0.iter().any(|r| r.is_officer())
    }

    pub fn labels(&self) -> String {
        self.0.iter().map(|r| r.label()).collect::<Vec<_>>().join("、")
    }

    /// Second factor required: county level and above, and every 三员 account.
    pub fn needs_totp(&self, kind: OrgKind) -> bool {
        kind.is_county_or_above() || self.has_officer()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_org_kind_is_stored_sent_and_read_back_by_the_same_name() {
        use strum::IntoEnumIterator;
        let names: Vec<&str> = OrgKind::iter().map(OrgKind::as_str).collect();
        // The names the orgs table already holds.
        assert_eq!(names, ["ministry", "province", "prefecture", "county", "township", "school"]);
        for k in OrgKind::iter() {
            assert_eq!(OrgKind::try_from(k.as_str().to_owned()), Ok(k));
            assert_eq!(serde_json::to_value(k).expect("json"), serde_json::json!(k.as_str()));
        }
        assert_eq!(OrgKind::parse("village"), None);
    }

    #[test]
    fn officers_hold_no_other_role() {
        let err = RoleSet::new([Role::SysAdmin, Role::AuditAdmin], OrgKind::County).unwrap_err();
        assert!(err.contains("三员分立"));
        assert!(RoleSet::new([Role::SysAdmin, Role::Inspector], OrgKind::County).is_err());
        assert!(RoleSet::new([Role::SecAdmin], OrgKind::County).is_ok());
    }

    #[test]
    fn school_roles_live_at_schools_and_office_roles_above() {
        assert!(RoleSet::new([Role::Registrar], OrgKind::County).is_err());
        assert!(RoleSet::new([Role::NutritionOffice], OrgKind::School).is_err());
        // A small school's principal often doubles as its nutrition officer.
        assert!(RoleSet::new([Role::Principal, Role::NutritionOfficer], OrgKind::School).is_ok());
        assert!(RoleSet::new([], OrgKind::School).is_err());
    }

    #[test]
    fn totp_is_required_at_county_level_and_for_officers() {
        let school = RoleSet::new([Role::Registrar], OrgKind::School).expect("ok");
        assert!(!school.needs_totp(OrgKind::School));
        let admin = RoleSet::new([Role::SysAdmin], OrgKind::School).expect("ok");
        assert!(admin.needs_totp(OrgKind::School));
        let office = RoleSet::new([Role::NutritionOffice], OrgKind::County).expect("ok");
        assert!(office.needs_totp(OrgKind::County));
    }

    #[test]
    fn separation_of_duties_in_permissions() {
        assert!(!Role::SysAdmin.may(Permission::ViewAudit));
        assert!(!Role::AuditAdmin.may(Permission::ManageUsers));
        assert!(!Role::AuditAdmin.may(Permission::EditClasses));
        assert!(!Role::SecAdmin.may(Permission::EditClasses));
        assert!(!Role::Inspector.may(Permission::EditSchool));
        assert!(Role::Registrar.may(Permission::EditClasses));
        assert!(!Role::SysAdmin.may(Permission::ViewStudents));
        assert!(!Role::Registrar.may(Permission::ConfirmStudents));
        assert!(Role::NutritionOffice.may(Permission::ConfirmStudents));
    }

    #[test]
    fn roles_parse_from_code_or_label() {
        for r in ALL_ROLES {
            assert_eq!(Role::parse(r.as_str()), Some(r));
            assert_eq!(Role::parse(r.label()), Some(r));
        }
    }
}
