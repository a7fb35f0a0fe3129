use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::db::at_rest::{OpenedText, PrincipalMobile, PrincipalPhone, StaffPhone};
use crate::db::schema::{campuses, classes, orgs, schools, teachers};
use crate::domain::codes::{self, CodeTable};
use crate::domain::mask;
use crate::domain::role::OrgKind;

#[derive(Debug, Clone, Queryable, Selectable, Serialize, schemars::JsonSchema)]
#[diesel(table_name = orgs)]
pub struct Org {
    pub id: i64,
    pub code: String,
    pub name: String,
    #[diesel(deserialize_as = String)]
    pub kind: OrgKind,
    pub parent_id: Option<i64>,
    pub path: String,
    pub created_at: NaiveDateTime,
}

impl Org {
    pub fn kind_label(&self) -> &'static str {
        self.kind.label()
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Serialize, schemars::JsonSchema)]
#[diesel(table_name = schools)]
pub struct SchoolRow {
    pub org_id: i64,
    pub sponsor_type: String,
    pub urban_rural: String,
    pub school_type: String,
    pub in_county_seat: bool,
    pub address: String,
    pub postcode: String,
    pub phone: String,
    pub fax: String,
    pub email: String,
    pub homepage: String,
    pub principal_name: String,
    #[diesel(column_name = principal_phone_sealed, deserialize_as = OpenedText<PrincipalPhone>)]
    #[serde(serialize_with = "mask::serialize_phone")]
    pub principal_phone: String,
    #[diesel(column_name = principal_mobile_sealed, deserialize_as = OpenedText<PrincipalMobile>)]
    #[serde(serialize_with = "mask::serialize_phone")]
    pub principal_mobile: String,
    pub updated_at: NaiveDateTime,
}

/// A school as pages and the API show it.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct School {
    pub code: String,
    pub name: String,
    pub parent_code: String,
    pub parent_name: String,
    pub category: String,
    #[serde(flatten)]
    pub row: SchoolRow,
    pub sponsor_type_label: String,
    pub urban_rural_label: String,
    pub school_type_label: String,
}

impl School {
    pub fn new(org: &Org, parent: &Org, row: SchoolRow) -> Self {
        let label = |t: CodeTable, c: &str| t.label(c).unwrap_or(c).to_owned();
        Self {
            code: org.code.clone(),
            name: org.name.clone(),
            parent_code: parent.code.clone(),
            parent_name: parent.name.clone(),
            category: crate::domain::school_code::SchoolCode::parse(&org.code)
                .map(|c| c.category().to_owned())
                .unwrap_or_default(),
            sponsor_type_label: label(CodeTable::SponsorType, &row.sponsor_type),
            urban_rural_label: label(CodeTable::UrbanRural, &row.urban_rural),
            school_type_label: label(CodeTable::SchoolType, &row.school_type),
            row,
        }
    }
}

/// One line of the school list.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct SchoolListItem {
    pub code: String,
    pub name: String,
    pub parent_name: String,
    pub school_type_label: String,
    pub urban_rural_label: String,
    pub principal_name: String,
    pub classes: i64,
}

/// Fields of the school form and of `POST/PUT /api/v1/schools`. Codes or labels accepted.
#[derive(Debug, Clone, Default, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(default)]
pub struct SchoolInput {
    pub code: String,
    pub name: String,
    pub parent_code: String,
    pub sponsor_type: String,
    pub urban_rural: String,
    pub school_type: String,
    /// "1"/"true"/"on" = in the county seat (excluded from the programme unless configured).
    pub in_county_seat: Option<String>,
    pub address: String,
    pub postcode: String,
    pub phone: String,
    pub fax: String,
    pub email: String,
    pub homepage: String,
    pub principal_name: String,
    pub principal_phone: String,
    pub principal_mobile: String,
}

#[derive(Debug, Clone, Queryable, Selectable, Serialize, schemars::JsonSchema)]
#[diesel(table_name = campuses)]
pub struct Campus {
    pub id: i64,
    pub school_id: i64,
    pub campus_no: String,
    pub name: String,
    pub address: String,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(default)]
pub struct CampusInput {
    pub campus_no: String,
    pub name: String,
    pub address: String,
}

#[derive(Debug, Clone, Queryable, Selectable, Serialize, schemars::JsonSchema)]
#[diesel(table_name = teachers)]
pub struct Teacher {
    pub id: i64,
    pub school_id: i64,
    pub staff_no: String,
    pub name: String,
    pub sex: String,
    #[diesel(column_name = phone_sealed, deserialize_as = OpenedText<StaffPhone>)]
    #[serde(serialize_with = "mask::serialize_phone")]
    pub phone: String,
    pub subject: String,
    pub active: bool,
    pub updated_at: NaiveDateTime,
}

impl Teacher {
    pub fn sex_label(&self) -> &'static str {
        codes::sex_label(&self.sex)
    }

    pub fn phone_masked(&self) -> String {
        mask::phone(&self.phone)
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(default)]
pub struct TeacherInput {
    pub staff_no: String,
    pub name: String,
    pub sex: String,
    pub phone: String,
    pub subject: String,
}

#[derive(Debug, Clone, Queryable, Selectable, Serialize, schemars::JsonSchema)]
#[diesel(table_name = classes)]
pub struct Class {
    pub id: i64,
    pub school_id: i64,
    pub campus_id: Option<i64>,
    pub class_no: String,
    pub name: String,
    pub grade: i32,
    pub entry_year: i32,
    pub head_teacher_id: Option<i64>,
    pub updated_at: NaiveDateTime,
}

/// A class with its school and head teacher, for pages and the API.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ClassView {
    #[serde(flatten)]
    pub class: Class,
    pub grade_name: String,
    pub school_code: String,
    pub school_name: String,
    pub head_teacher_name: Option<String>,
    pub campus_name: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(default)]
pub struct ClassInput {
    pub class_no: String,
    pub name: String,
    pub grade: String,
    pub entry_year: String,
    /// Staff number of the head teacher (班主任工号); empty for none.
    pub head_teacher_staff_no: String,
    pub campus_no: String,
}

/// Every prefix of an org path that names an org: the org itself and its ancestors, root first.
pub fn ancestor_paths(path: &str) -> Vec<String> {
    path.match_indices('/').skip(1).map(|(i, _)| path[..=i].to_owned()).collect()
}
