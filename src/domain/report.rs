//! Statutory reports (SPEC §9) as data: a definition read from `reports/*.toml` names its columns
//! by key, and the engine knows each key's figure. The figures of one school on a report date
//! (`SchoolFacts`) are computed elsewhere; here they become cells and totals. Pure.

use serde::{Deserialize, Serialize};

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};
use rust_decimal::{Decimal, RoundingStrategy};

use super::calendar::Span;
use super::money::Fen;
use super::programme::MealModel;
use super::role::OrgKind;

/// The built-in definitions, shipped inside the binary (a user's machine has no source tree).
const BUILTIN: &[(&str, &str)] = &[
    ("school-regular", include_str!("../../reports/school-regular.toml")),
    ("county-regular", include_str!("../../reports/county-regular.toml")),
    ("annual-execution", include_str!("../../reports/annual-execution.toml")),
    ("registry-overview", include_str!("../../reports/registry-overview.toml")),
    ("monthly-progress", include_str!("../../reports/monthly-progress.toml")),
];

/// What a report is drawn for: one school (one row), an area (a row per programme school with
/// something to report), or either (every school: the registry's overview).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    School,
    County,
    Any,
}

impl Level {
    /// Whether a report of this level is drawn for a school (`true`) or for an org above schools.
    pub fn drawn_for(self, school: bool) -> bool {
        !matches!((self, school), (Level::School, false) | (Level::County, true))
    }

    /// Whether people of an org of `kind` have an org to draw it for: their own, or one below.
    pub fn open_to(self, kind: OrgKind) -> bool {
        kind != OrgKind::School || self.drawn_for(true)
    }
}

/// A figure the engine knows how to compute. A definition may only name these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Column {
    SchoolName,
    SchoolType,
    Enrolled,
    Classes,
    Beneficiaries,
    Boarders,
    Yibu,
    LeftBehind,
    Migrant,
    Standard,
    SubsidyTotal,
    MealModel,
    ModelCanteen,
    ModelEnterprise,
    ModelFamily,
    Implementing,
    DaysServed,
    MealsServed,
    AvgBeneficiaries,
    AvgMealDays,
    Grades,
    Boys,
    Girls,
    Minority,
    MigrantEnrolled,
    OutOfCounty,
    LeftBehindEnrolled,
    Orphans,
    YibuEnrolled,
    Disabled,
    ProblemRecords,
    Allocated,
    Spent,
}

impl Column {
    const ALL: [Column; 33] = [
        Column::SchoolName,
        Column::SchoolType,
        Column::Enrolled,
        Column::Classes,
        Column::Beneficiaries,
        Column::Boarders,
        Column::Yibu,
        Column::LeftBehind,
        Column::Migrant,
        Column::Standard,
        Column::SubsidyTotal,
        Column::MealModel,
        Column::ModelCanteen,
        Column::ModelEnterprise,
        Column::ModelFamily,
        Column::Implementing,
        Column::DaysServed,
        Column::MealsServed,
        Column::AvgBeneficiaries,
        Column::AvgMealDays,
        Column::Grades,
        Column::Boys,
        Column::Girls,
        Column::Minority,
        Column::MigrantEnrolled,
        Column::OutOfCounty,
        Column::LeftBehindEnrolled,
        Column::Orphans,
        Column::YibuEnrolled,
        Column::Disabled,
        Column::ProblemRecords,
        Column::Allocated,
        Column::Spent,
    ];

    pub fn key(self) -> &'static str {
        match self {
            Column::SchoolName => "school_name",
            Column::SchoolType => "school_type",
            Column::Enrolled => "enrolled",
            Column::Classes => "classes",
            Column::Beneficiaries => "beneficiaries",
            Column::Boarders => "boarders",
            Column::Yibu => "yibu",
            Column::LeftBehind => "left_behind",
            Column::Migrant => "migrant",
            Column::Standard => "standard",
            Column::SubsidyTotal => "subsidy_total",
            Column::MealModel => "meal_model",
            Column::ModelCanteen => "model_canteen",
            Column::ModelEnterprise => "model_enterprise",
            Column::ModelFamily => "model_family",
            Column::Implementing => "implementing",
            Column::DaysServed => "days_served",
            Column::MealsServed => "meals_served",
            Column::AvgBeneficiaries => "avg_beneficiaries",
            Column::AvgMealDays => "avg_meal_days",
            Column::Grades => "grades",
            Column::Boys => "boys",
            Column::Girls => "girls",
            Column::Minority => "minority",
            Column::MigrantEnrolled => "migrant_enrolled",
            Column::OutOfCounty => "out_of_county",
            Column::LeftBehindEnrolled => "left_behind_enrolled",
            Column::Orphans => "orphans",
            Column::YibuEnrolled => "yibu_enrolled",
            Column::Disabled => "disabled",
            Column::ProblemRecords => "problem_records",
            Column::Allocated => "allocated",
            Column::Spent => "spent",
        }
    }

    pub fn parse(key: &str) -> Option<Column> {
        Column::ALL.into_iter().find(|c| c.key() == key)
    }

    /// Students counted by this column (drill-down lists them), if it counts students.
    pub fn counts_students(self) -> bool {
        matches!(
            self,
            Column::Enrolled
                | Column::Beneficiaries
                | Column::Boarders
                | Column::Yibu
                | Column::LeftBehind
                | Column::Migrant
                | Column::ModelCanteen
                | Column::ModelEnterprise
                | Column::ModelFamily
                | Column::Boys
                | Column::Girls
                | Column::Minority
                | Column::MigrantEnrolled
                | Column::OutOfCounty
                | Column::LeftBehindEnrolled
                | Column::Orphans
                | Column::YibuEnrolled
                | Column::Disabled
                | Column::ProblemRecords
        )
    }

    /// Columns read from the full registry record (民族, 户口, 孤儿, 残疾): loaded only when asked.
    pub fn needs_record(self) -> bool {
        matches!(self, Column::Minority | Column::OutOfCounty | Column::Orphans | Column::Disabled)
    }

    /// Columns from the fund ledger, through the reconciliation.
    pub fn needs_ledger(self) -> bool {
        matches!(self, Column::Allocated | Column::Spent)
    }

    /// Whether the totals row adds this column up.
    pub fn sums(self) -> bool {
        self.counts_students() || self == Column::Classes
    }
}

/// A column as a definition names it: the figure, its heading and what it means.
#[derive(Debug, Clone, Serialize)]
pub struct ColumnDef {
    pub column: Column,
    pub title: String,
    pub meaning: String,
}

/// A report definition, valid by construction: every column is one the engine knows.
#[derive(Debug, Clone, Serialize)]
pub struct Definition {
    pub name: String,
    pub title: String,
    pub level: Level,
    pub columns: Vec<ColumnDef>,
    pub footnotes: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDefinition {
    name: String,
    title: String,
    level: String,
    #[serde(default)]
    footnotes: Vec<String>,
    columns: Vec<RawColumn>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawColumn {
    key: String,
    title: String,
    #[serde(default)]
    meaning: String,
}

impl Definition {
    /// Reads a definition; `source` names the file in messages.
    pub fn parse(source: &str, text: &str) -> Result<Definition, String> {
        let raw: RawDefinition =
            toml::from_str(text).map_err(|e| format!("报表定义 {source} 格式错误：{}", e.message()))?;
        let level = match raw.level.as_str() {
            "school" => Level::School,
            "county" => Level::County,
            "any" => Level::Any,
            other => return Err(format!("报表定义 {source} 的 level “{other}”无效，应为 school 或 county")),
        };
        if raw.columns.is_empty() {
            return Err(format!("报表定义 {source} 没有任何列"));
        }
        let columns = raw
            .columns
            .into_iter()
            .enumerate()
            .map(|(i, c)| {
                let column = Column::parse(&c.key).ok_or_else(|| {
                    format!("报表定义 {source} 第{}列“{}”的 key “{}”不是报表引擎认识的指标", i + 1, c.title, c.key)
                })?;
                Ok(ColumnDef { column, title: c.title, meaning: c.meaning })
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(Definition { name: raw.name, title: raw.title, level, columns, footnotes: raw.footnotes })
    }

    /// A built-in report by its SPEC §12 name.
    pub fn named(name: &str) -> Result<Definition, String> {
        let (_, text) = BUILTIN
            .iter()
            .find(|(n, _)| *n == name)
            .ok_or_else(|| format!("没有名为“{name}”的报表，可用：{}", Definition::names().join("、")))?;
        Definition::parse(&format!("reports/{name}.toml"), text)
    }

    pub fn names() -> Vec<&'static str> {
        BUILTIN.iter().map(|(n, _)| *n).collect()
    }
}

/// One beneficiary as the reports count them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Beneficiary {
    pub student_id: i64,
    pub boarder: bool,
    pub yibu: bool,
    pub left_behind: bool,
    pub migrant: bool,
    /// The meal model's label (学校食堂供餐, 企业(单位)供餐, 家庭(个人)托餐), empty when unset.
    pub model: String,
}

/// A child at school on the report date (all grades), as the registry overview counts them.
/// The fields from the full record are false unless they were asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pupil {
    pub student_id: i64,
    pub grade: Option<i32>,
    pub boy: bool,
    pub girl: bool,
    pub migrant: bool,
    pub left_behind: bool,
    pub yibu: bool,
    pub minority: bool,
    pub out_of_county: bool,
    pub orphan: bool,
    pub disabled: bool,
}

/// One school's figures on a report date over a report period.
#[derive(Debug, Clone, Default)]
pub struct SchoolFacts {
    pub code: String,
    pub name: String,
    pub school_type: String,
    /// Students at school on the date (all grades), and their classes.
    pub enrolled: Vec<i64>,
    pub classes: usize,
    pub beneficiaries: Vec<Beneficiary>,
    pub standard: Option<Fen>,
    pub subsidy_total: Fen,
    /// Meal days and meals (person-times) the school reported over the period.
    pub days_served: i64,
    pub meals: i64,
    /// Per month of the period (YYYYMM), how many schools had children on their entitlement:
    /// 1 for a school's active months; a rolled-up area adds its schools'.
    pub schools_by_month: BTreeMap<i32, i64>,
    /// Σ of its schools' 平均受益学生数, for a rolled-up area (a school's is meals ÷ days).
    pub summed_avg: Option<Decimal>,
    /// Everyone at school on the date, and the school's records waiting in the problem queue.
    pub pupils: Vec<Pupil>,
    pub problems: Vec<i64>,
    /// Passed on to the school (or its supplier for it) and spent, over the period.
    pub allocated: Fen,
    pub spent: Fen,
}

/// `a ÷ b` to two decimals (half away from zero); 0 when `b` is 0.
fn ratio(a: i64, b: i64) -> Decimal {
    ratio_dec(Decimal::from(a), Decimal::from(b))
}

fn ratio_dec(a: Decimal, b: Decimal) -> Decimal {
    if b.is_zero() {
        return Decimal::ZERO;
    }
    (a / b).round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
}

/// Averages are written with two decimals, as the forms print them.
fn two_places<S: serde::Serializer>(d: &Decimal, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format!("{d:.2}"))
}

/// A figure: a count, an amount, or words. Stored snapshots read back the same (an amount is
/// a decimal string, tried before words).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum Value {
    Count(i64),
    Money(Fen),
    /// A computed average, to two decimals (a decimal string, like money).
    Number(#[serde(serialize_with = "two_places")] Decimal),
    Text(String),
}

impl Value {
    pub fn text(&self) -> String {
        match self {
            Value::Count(n) => n.to_string(),
            Value::Money(f) => f.to_string(),
            Value::Number(d) => format!("{d:.2}"),
            Value::Text(s) => s.clone(),
        }
    }
}

impl SchoolFacts {
    /// 平均受益学生数 (DOMAIN §6.3): meals ÷ meal days served.
    pub fn avg_beneficiaries(&self) -> Decimal {
        self.summed_avg.unwrap_or_else(|| ratio(self.meals, self.days_served))
    }

    /// 实施学校数: the most schools with beneficiaries in any one month.
    fn implementing(&self) -> i64 {
        self.schools_by_month.values().copied().max().unwrap_or(0)
    }

    /// The row these figures make under `columns`, with what the totals need besides.
    pub fn row(&self, columns: &[Column]) -> Row {
        Row {
            values: columns.iter().map(|c| self.value(*c)).collect(),
            standard: self.standard,
            schools_by_month: self.schools_by_month.clone(),
            meals: self.meals,
            avg_beneficiaries: self.avg_beneficiaries(),
        }
    }

    /// Whether anything is to be reported for the school: children, money or meals.
    pub fn has_data(&self) -> bool {
        !self.beneficiaries.is_empty() || self.subsidy_total.fen() != 0 || self.meals != 0
    }

    /// Whether the registry has anything of the school: children at school or problem records.
    pub fn has_registry(&self) -> bool {
        !self.enrolled.is_empty() || !self.problems.is_empty()
    }

    /// Which beneficiaries a column counts.
    pub fn counted(&self, column: Column) -> Vec<i64> {
        let pick = |f: &dyn Fn(&Beneficiary) -> bool| {
            self.beneficiaries.iter().filter(|b| f(b)).map(|b| b.student_id).collect::<Vec<_>>()
        };
        match column {
            Column::Enrolled => self.enrolled.clone(),
            Column::Beneficiaries => pick(&|_| true),
            Column::Boarders => pick(&|b| b.boarder),
            Column::Yibu => pick(&|b| b.yibu),
            Column::LeftBehind => pick(&|b| b.left_behind),
            Column::Migrant => pick(&|b| b.migrant),
            Column::ModelCanteen => pick(&|b| b.model == MealModel::Canteen.label()),
            Column::ModelEnterprise => pick(&|b| b.model == MealModel::Enterprise.label()),
            Column::ModelFamily => pick(&|b| b.model == MealModel::Family.label()),
            Column::ProblemRecords => self.problems.clone(),
            c => {
                let test: fn(&Pupil) -> bool = match c {
                    Column::Boys => |p| p.boy,
                    Column::Girls => |p| p.girl,
                    Column::Minority => |p| p.minority,
                    Column::MigrantEnrolled => |p| p.migrant,
                    Column::OutOfCounty => |p| p.out_of_county,
                    Column::LeftBehindEnrolled => |p| p.left_behind,
                    Column::Orphans => |p| p.orphan,
                    Column::YibuEnrolled => |p| p.yibu,
                    Column::Disabled => |p| p.disabled,
                    _ => return Vec::new(),
                };
                self.pupils.iter().filter(|p| test(p)).map(|p| p.student_id).collect()
            }
        }
    }

    pub fn value(&self, column: Column) -> Value {
        let count = |n: usize| Value::Count(i64::try_from(n).unwrap_or(i64::MAX));
        match column {
            Column::SchoolName => Value::Text(self.name.clone()),
            Column::SchoolType => Value::Text(self.school_type.clone()),
            Column::Classes => count(self.classes),
            Column::Grades => {
                let mut grades: Vec<i32> = self.pupils.iter().filter_map(|p| p.grade).collect();
                grades.sort_unstable();
                grades.dedup();
                count(grades.len())
            }
            Column::Allocated => Value::Money(self.allocated),
            Column::Spent => Value::Money(self.spent),
            Column::Standard => self.standard.map_or(Value::Text(String::new()), Value::Money),
            Column::SubsidyTotal => Value::Money(self.subsidy_total),
            Column::Implementing => Value::Count(self.implementing()),
            Column::DaysServed => Value::Count(self.days_served),
            Column::MealsServed => Value::Count(self.meals),
            Column::AvgBeneficiaries => Value::Number(self.avg_beneficiaries()),
            // meals ÷ (meals ÷ days): the school's own days, to two decimals.
            Column::AvgMealDays => Value::Number(ratio_dec(Decimal::from(self.meals), self.avg_beneficiaries())),
            Column::MealModel => Value::Text(
                MealModel::ALL
                    .iter()
                    .map(|m| m.label())
                    .filter(|label| self.beneficiaries.iter().any(|b| b.model == *label))
                    .collect::<Vec<_>>()
                    .join("、"),
            ),
            c => count(self.counted(c).len()),
        }
    }
}

/// An area's figures as one row of a roll-up (a county in a city's report): its schools'
/// children and money together, its standard when all share one.
pub fn roll_up(code: String, name: String, schools: &[SchoolFacts]) -> SchoolFacts {
    let mut standards: Vec<Option<Fen>> = schools.iter().map(|s| s.standard).collect();
    standards.dedup();
    SchoolFacts {
        code,
        name,
        school_type: format!("受益学校{}所", schools.iter().filter(|s| !s.beneficiaries.is_empty()).count()),
        enrolled: schools.iter().flat_map(|s| s.enrolled.iter().copied()).collect(),
        classes: schools.iter().map(|s| s.classes).sum(),
        beneficiaries: schools.iter().flat_map(|s| s.beneficiaries.iter().cloned()).collect(),
        standard: match standards.as_slice() {
            [one] => *one,
            _ => None,
        },
        subsidy_total: Fen::new(schools.iter().map(|s| s.subsidy_total.fen()).sum()),
        days_served: schools.iter().map(|s| s.days_served).sum(),
        meals: schools.iter().map(|s| s.meals).sum(),
        schools_by_month: {
            let mut m: BTreeMap<i32, i64> = BTreeMap::new();
            for (month, n) in schools.iter().flat_map(|s| s.schools_by_month.iter()) {
                *m.entry(*month).or_default() += n;
            }
            m
        },
        summed_avg: Some(schools.iter().map(SchoolFacts::avg_beneficiaries).sum()),
        pupils: schools.iter().flat_map(|s| s.pupils.iter().cloned()).collect(),
        problems: schools.iter().flat_map(|s| s.problems.iter().copied()).collect(),
        allocated: Fen::new(schools.iter().map(|s| s.allocated.fen()).sum()),
        spent: Fen::new(schools.iter().map(|s| s.spent.fen()).sum()),
    }
}

/// A drawn row: its figures, and what the totals need beyond them (so an area's schools can be
/// dropped once their row is drawn).
#[derive(Debug, Clone)]
pub struct Row {
    pub values: Vec<Value>,
    standard: Option<Fen>,
    schools_by_month: BTreeMap<i32, i64>,
    meals: i64,
    avg_beneficiaries: Decimal,
}

/// The totals row: counts and money added up; a standard only when every row has the same;
/// 实施学校数 as the most schools in a month; the averages by their formulas (DOMAIN §6.3).
pub fn totals(columns: &[Column], rows: &[Row]) -> Vec<Value> {
    columns
        .iter()
        .enumerate()
        .map(|(j, c)| match c {
            Column::SchoolName => Value::Text("合计".into()),
            Column::Standard => {
                let mut standards: Vec<Option<Fen>> = rows.iter().map(|r| r.standard).collect();
                standards.dedup();
                match standards.as_slice() {
                    [Some(s)] => Value::Money(*s),
                    _ => Value::Text(String::new()),
                }
            }
            Column::SubsidyTotal | Column::Allocated | Column::Spent => Value::Money(Fen::new(
                rows.iter().map(|r| if let Some(Value::Money(f)) = r.values.get(j) { f.fen() } else { 0 }).sum(),
            )),
            Column::Implementing => {
                let mut per_month: BTreeMap<i32, i64> = BTreeMap::new();
                for (m, n) in rows.iter().flat_map(|r| r.schools_by_month.iter()) {
                    *per_month.entry(*m).or_default() += n;
                }
                Value::Count(per_month.values().copied().max().unwrap_or(0))
            }
            Column::AvgBeneficiaries => Value::Number(rows.iter().map(|r| r.avg_beneficiaries).sum()),
            Column::AvgMealDays => {
                let avg: Decimal = rows.iter().map(|r| r.avg_beneficiaries).sum();
                Value::Number(ratio_dec(Decimal::from(rows.iter().map(|r| r.meals).sum::<i64>()), avg))
            }
            c if c.sums() || *c == Column::MealsServed => Value::Count(
                rows.iter().map(|r| if let Some(Value::Count(n)) = r.values.get(j) { *n } else { 0 }).sum(),
            ),
            _ => Value::Text(String::new()),
        })
        .collect()
}

/// When a report for `period` is due: the regular reports of an autumn term or a school year
/// by 15 September (seed 003, 第十二条); any other period by the 15th of the month after it.
pub fn due_date(period: &Span) -> NaiveDate {
    let first = period.first_day();
    let day = |y, m| NaiveDate::from_ymd_opt(y, m, 15).unwrap_or(first);
    if first.month() == 9 {
        return day(first.year(), 9);
    }
    let after = period.last_day() + chrono::Days::new(1);
    day(after.year(), after.month())
}

/// A figure that changed between two submissions of the same report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CellChange {
    /// The row (its school, or 第N行), and the column's heading.
    pub row: String,
    pub column: String,
    pub before: String,
    pub after: String,
}

/// What changed from `before` to `after` (rows matched by their first column when it names the
/// school, else by position); a row only on one side shows every figure against a blank.
pub fn diff(titles: &[String], keyed: bool, before: &[Vec<Value>], after: &[Vec<Value>]) -> Vec<CellChange> {
    let key = |i: usize, row: &[Value]| {
        if keyed { row.first().map(Value::text).unwrap_or_default() } else { format!("第{}行", i + 1) }
    };
    let index = |rows: &[Vec<Value>]| -> Vec<(String, Vec<String>)> {
        rows.iter().enumerate().map(|(i, r)| (key(i, r), r.iter().map(Value::text).collect())).collect()
    };
    let (old, new) = (index(before), index(after));
    let mut keys: Vec<&String> = old.iter().map(|(k, _)| k).collect();
    keys.extend(new.iter().map(|(k, _)| k).filter(|k| !old.iter().any(|(o, _)| o == *k)));
    let mut out = Vec::new();
    for k in keys {
        let find = |side: &[(String, Vec<String>)]| side.iter().find(|(x, _)| x == k).map(|(_, v)| v.clone());
        let (a, b) = (find(&old).unwrap_or_default(), find(&new).unwrap_or_default());
        for (j, title) in titles.iter().enumerate() {
            let (x, y) = (a.get(j).cloned().unwrap_or_default(), b.get(j).cloned().unwrap_or_default());
            if x != y {
                out.push(CellChange { row: k.clone(), column: title.clone(), before: x, after: y });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_school_is_offered_only_the_reports_drawn_for_a_school() {
        assert!(Level::School.drawn_for(true) && Level::Any.drawn_for(true) && !Level::County.drawn_for(true));
        assert!(!Level::School.drawn_for(false) && Level::Any.drawn_for(false) && Level::County.drawn_for(false));
        assert!(!Level::County.open_to(OrgKind::School) && Level::School.open_to(OrgKind::School));
        // Above a school every report has an org to be drawn for: itself or a school below.
        for kind in [OrgKind::County, OrgKind::Prefecture, OrgKind::Province] {
            assert!([Level::School, Level::County, Level::Any].iter().all(|l| l.open_to(kind)), "{kind:?}");
        }
    }

    #[test]
    fn the_shipped_definitions_parse_and_name_only_known_columns() {
        for name in Definition::names() {
            let d = Definition::named(name).expect(name);
            assert_eq!(d.name, name);
            assert!(d.columns.iter().all(|c| !c.title.is_empty() && !c.meaning.is_empty()), "{name}");
        }
        let county = Definition::named("county-regular").expect("county");
        assert_eq!(county.level, Level::County);
        assert_eq!(county.columns.len(), 12);
        assert!(Definition::named("weekly-gossip").unwrap_err().contains("school-regular"));
    }

    #[test]
    fn an_unknown_column_or_level_is_refused_with_where() {
        let bad =
            "name = \"x\"\ntitle = \"X\"\nlevel = \"county\"\n[[columns]]\nkey = \"ghosts\"\ntitle = \"虚报人数\"\n";
        let e = Definition::parse("reports/x.toml", bad).unwrap_err();
        assert!(e.contains("reports/x.toml") && e.contains("第1列") && e.contains("ghosts"), "{e}");
        let e = Definition::parse("x", &bad.replace("county", "village")).unwrap_err();
        assert!(e.contains("village"), "{e}");
        assert!(Definition::parse("x", "name = ").is_err());
    }

    fn kid(id: i64, boarder: bool, model: &str) -> Beneficiary {
        Beneficiary {
            student_id: id,
            boarder,
            yibu: boarder,
            left_behind: id % 2 == 0,
            migrant: false,
            model: model.into(),
        }
    }

    #[test]
    fn cells_count_their_students_and_totals_add_up() {
        let (canteen, family) = (MealModel::Canteen.label(), MealModel::Family.label());
        let a = SchoolFacts {
            name: "甲".into(),
            enrolled: vec![1, 2, 3, 4],
            classes: 2,
            beneficiaries: vec![kid(1, true, canteen), kid(2, false, canteen), kid(3, false, family)],
            standard: Some(Fen::new(500)),
            subsidy_total: Fen::new(15_000),
            ..SchoolFacts::default()
        };
        let b = SchoolFacts {
            name: "乙".into(),
            enrolled: vec![9],
            classes: 1,
            beneficiaries: vec![kid(9, true, canteen)],
            standard: Some(Fen::new(600)),
            subsidy_total: Fen::new(5_000),
            ..SchoolFacts::default()
        };
        assert_eq!(a.value(Column::Boarders), Value::Count(1));
        assert_eq!(a.value(Column::LeftBehind), Value::Count(1));
        assert_eq!(a.counted(Column::ModelFamily), vec![3]);
        assert_eq!(a.value(Column::MealModel), Value::Text(format!("{canteen}、{family}")));
        let cols = [Column::SchoolName, Column::Beneficiaries, Column::Classes, Column::Standard, Column::SubsidyTotal];
        assert_eq!(
            totals(&cols, &[a.row(&cols), b.row(&cols)]),
            vec![
                Value::Text("合计".into()),
                Value::Count(4),
                Value::Count(3),
                Value::Text(String::new()),
                Value::Money(Fen::new(20_000))
            ]
        );
        assert_eq!(totals(&[Column::Standard], &[a.row(&[Column::Standard])]), vec![Value::Money(Fen::new(500))]);
    }

    #[test]
    fn regular_reports_are_due_on_15_september_and_others_the_month_after() {
        let due = |p: &str| due_date(&Span::parse(p).expect("period")).to_string();
        assert_eq!(due("2026-1"), "2026-09-15");
        assert_eq!(due("2026"), "2026-09-15");
        assert_eq!(due("2026-2"), "2027-09-15");
        assert_eq!(due("2026-10"), "2026-11-15");
        assert_eq!(due("2026-12"), "2027-01-15");
    }

    #[test]
    fn a_diff_names_the_school_the_column_and_both_figures() {
        let titles = vec!["受益学校".to_owned(), "受益学生人数".to_owned()];
        let row = |s: &str, n: i64| vec![Value::Text(s.into()), Value::Count(n)];
        let before = vec![row("甲", 10), row("乙", 5)];
        let after = vec![row("乙", 5), row("甲", 12), row("丙", 3)];
        let changes = diff(&titles, true, &before, &after);
        assert_eq!(
            changes,
            vec![
                CellChange {
                    row: "甲".into(), column: "受益学生人数".into(), before: "10".into(), after: "12".into()
                },
                CellChange { row: "丙".into(), column: "受益学校".into(), before: "".into(), after: "丙".into() },
                CellChange {
                    row: "丙".into(), column: "受益学生人数".into(), before: "".into(), after: "3".into()
                },
            ]
        );
        assert!(diff(&titles, true, &after, &after).is_empty());
    }

    #[test]
    fn a_roll_up_adds_its_schools_and_keeps_a_shared_standard() {
        let school = |n: usize, std: i64| SchoolFacts {
            enrolled: (0..n as i64).collect(),
            classes: 1,
            beneficiaries: (0..n as i64).map(|i| kid(i, i == 0, MealModel::Canteen.label())).collect(),
            standard: Some(Fen::new(std)),
            subsidy_total: Fen::new(100),
            ..SchoolFacts::default()
        };
        let county = roll_up("522326".into(), "望谟县".into(), &[school(3, 500), school(2, 500)]);
        assert_eq!(county.value(Column::Beneficiaries), Value::Count(5));
        assert_eq!(county.value(Column::Boarders), Value::Count(2));
        assert_eq!(county.value(Column::SchoolType), Value::Text("受益学校2所".into()));
        assert_eq!((county.standard, county.subsidy_total, county.classes), (Some(Fen::new(500)), Fen::new(200), 2));
        assert_eq!(roll_up("x".into(), "x".into(), &[school(1, 500), school(1, 600)]).standard, None);
    }

    #[test]
    fn annual_execution_follows_the_2023_definitions() {
        // School A: 1,800 meals over 10 days = 180.00 a day; school B: 500 over 4 = 125.00.
        let months = |ms: &[i32]| ms.iter().map(|m| (*m, 1)).collect::<BTreeMap<i32, i64>>();
        let a = SchoolFacts {
            meals: 1_800,
            days_served: 10,
            schools_by_month: months(&[202609, 202610]),
            ..SchoolFacts::default()
        };
        let b =
            SchoolFacts { meals: 500, days_served: 4, schools_by_month: months(&[202610]), ..SchoolFacts::default() };
        assert_eq!(a.value(Column::AvgBeneficiaries).text(), "180.00");
        assert_eq!(a.value(Column::AvgMealDays).text(), "10.00");
        let cols = [Column::Implementing, Column::MealsServed, Column::AvgBeneficiaries, Column::AvgMealDays];
        let t: Vec<String> = totals(&cols, &[a.row(&cols), b.row(&cols)]).iter().map(Value::text).collect();
        // Two schools in October (the most in a month); 2,300 meals; 305.00 a day; 2300 ÷ 305 = 7.54.
        assert_eq!(t, ["2", "2300", "305.00", "7.54"]);
        // Rolled up into one area, the row carries the same: its schools, not one per area.
        let area = roll_up("x".into(), "x".into(), &[a, b]);
        let t: Vec<String> = area.row(&cols).values.iter().map(Value::text).collect();
        assert_eq!(t, ["2", "2300", "305.00", "7.54"]);
        assert_eq!(ratio(1, 3).to_string(), "0.33");
        assert_eq!(ratio(5, 0), Decimal::ZERO);
    }
}
