use std::collections::BTreeMap;

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::db::at_rest::{GuardianIdNo, GuardianPhone, HistoryValue, IdNo, Opened, OpenedText, Record, StudentNumber};
use crate::db::schema::{student_history, students};
use crate::domain::codes;
use crate::domain::mask;
use crate::domain::student::{Review, SPECIAL_CATEGORIES, StudentRecord, WITHHELD, is_sensitive, masked_value};

#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = students)]
pub struct StudentRow {
    pub id: i64,
    pub school_id: i64,
    pub class_id: Option<i64>,
    pub county_code: String,
    #[diesel(column_name = student_no_sealed, deserialize_as = OpenedText<StudentNumber>)]
    pub student_no: String,
    pub name: String,
    pub sex: String,
    pub birth_date: NaiveDate,
    pub id_type: String,
    #[diesel(column_name = id_no_sealed, deserialize_as = Opened<IdNo>)]
    pub id_no: Option<String>,
    pub attendance: String,
    pub yibu: bool,
    pub left_behind: String,
    pub migrant: bool,
    #[diesel(column_name = guardian_phone_sealed, deserialize_as = Opened<GuardianPhone>)]
    pub guardian_phone: Option<String>,
    #[diesel(column_name = guardian_id_no_sealed, deserialize_as = Opened<GuardianIdNo>)]
    pub guardian_id_no: Option<String>,
    pub status: String,
    #[diesel(deserialize_as = String)]
    pub review: Review,
    pub problem: Option<String>,
    /// The record's JSON, opened.
    #[diesel(column_name = record_sealed, deserialize_as = OpenedText<Record>)]
    pub record: String,
    pub version: i32,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// The enrolled student this problem record duplicates, while it is in the queue.
    pub duplicate_of: Option<i64>,
}

impl StudentRow {
    pub fn record(&self) -> StudentRecord {
        StudentRecord::from_stored(serde_json::from_str::<BTreeMap<String, String>>(&self.record).unwrap_or_default())
    }

    pub fn id_masked(&self) -> String {
        self.id_no.as_deref().map(mask::id_number).unwrap_or_default()
    }
}

/// One line of a student list: ID masked.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct StudentListItem {
    pub id: i64,
    pub student_no: String,
    pub name: String,
    pub sex: &'static str,
    pub birth_date: NaiveDate,
    pub id_masked: String,
    pub school_code: String,
    pub school_name: String,
    pub class_name: String,
    pub attendance: String,
    pub yibu: bool,
    pub review: Review,
    pub review_label: &'static str,
    /// 在校, 休学, 已离校… (the 状态 filter's value).
    pub state_label: &'static str,
    pub problem: Option<String>,
    /// The first day at school (the first spell).
    pub enrolled_on: Option<NaiveDate>,
    /// How many days before the day of entry that first day lies, when past the allowed limit.
    pub backdated_days: Option<i64>,
    /// Whether the caller may tick it for 确认入库 on the list (set by the service's rule).
    pub confirmable: bool,
}

impl StudentListItem {
    pub fn new(r: &StudentRow, school_code: String, school_name: String, class_name: Option<String>) -> Self {
        Self {
            id: r.id,
            student_no: mask::student_no(&r.student_no),
            name: r.name.clone(),
            sex: codes::sex_label(&r.sex),
            birth_date: r.birth_date,
            id_masked: r.id_masked(),
            school_code,
            school_name,
            class_name: class_name.unwrap_or_default(),
            attendance: codes::table("attendance").label(&r.attendance).unwrap_or("").to_owned(),
            yibu: r.yibu,
            review_label: r.review.label(),
            review: r.review,
            state_label: crate::domain::status::State::of_student_status(&r.status).map_or("", |s| s.label()),
            problem: r.problem.clone(),
            enrolled_on: None,
            backdated_days: None,
            confirmable: false,
        }
    }

    /// Sets the first day, and the back-dating when it lies past the limit before entry.
    pub fn starting(mut self, first_day: Option<NaiveDate>, entered: NaiveDate) -> Self {
        self.enrolled_on = first_day;
        let limit = crate::config::registry_rules().backdate_days;
        self.backdated_days = first_day.map(|d| (entered - d).num_days()).filter(|d| *d > limit);
        self
    }
}

/// A student with every field, for the detail page, the form and the API. The ID numbers and
/// phones of the student and the family members, and the 学籍号 (a G number is the ID number),
/// are masked unless the view came from an audited unmasking.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct StudentView {
    pub id: i64,
    pub student_no: String,
    /// Shown in full (an audited unmasking with its reason).
    pub unmasked: bool,
    pub school_code: String,
    pub school_name: String,
    pub class_id: Option<i64>,
    pub class_name: String,
    pub status: String,
    pub review: Review,
    pub review_label: &'static str,
    pub problem: Option<String>,
    pub version: i32,
    pub record: StudentRecord,
    pub updated_at: NaiveDateTime,
}

/// A field's value as a list shows it: numbers masked, special categories withheld from a
/// reader not granted them.
pub fn shown_value(field: &str, v: &str, special: bool) -> String {
    if !special && SPECIAL_CATEGORIES.contains(&field) {
        WITHHELD.to_owned()
    } else if is_sensitive(field) {
        masked_value(field, v)
    } else if matches!(field, "student_no" | "merge") {
        mask::student_no(v)
    } else {
        v.to_owned()
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Serialize, Deserialize, schemars::JsonSchema)]
#[diesel(table_name = student_history)]
pub struct HistoryRow {
    pub id: i64,
    pub student_id: i64,
    pub field: String,
    #[diesel(deserialize_as = HistoryValue)]
    pub old_value: Option<String>,
    #[diesel(deserialize_as = HistoryValue)]
    pub new_value: Option<String>,
    pub reason: String,
    pub actor: String,
    pub at: NaiveDateTime,
}

impl HistoryRow {
    /// The row as shown, like the record it belongs to: numbers masked, special categories
    /// withheld from a reader not granted them.
    pub fn shown(mut self, special: bool) -> Self {
        let field = self.field.as_str();
        self.old_value = self.old_value.as_deref().map(|v| shown_value(field, v, special));
        self.new_value = self.new_value.as_deref().map(|v| shown_value(field, v, special));
        self
    }

    pub fn header(&self) -> &'static str {
        crate::domain::student::field(&self.field).map(|f| f.header).unwrap_or(match self.field.as_str() {
            "student_no" => "学籍号",
            "review" => "审核状态",
            "merge" => "合并学籍",
            _ => "其他",
        })
    }
}
