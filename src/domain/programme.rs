//! The programme's configuration rules (SPEC §5, DOMAIN §1.1–§1.5, §2): plan types, standards
//! with effective dates that must not overlap, meal models, and who counts as a beneficiary.

use chrono::NaiveDate;

use super::money::Fen;

/// A county's plan type for a school year (DOMAIN §1.2, the national statistics form).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlanType {
    National,
    LocalAward,
    LocalNoAward,
    Other,
}

impl PlanType {
    pub const ALL: [PlanType; 4] = [Self::National, Self::LocalAward, Self::LocalNoAward, Self::Other];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::National => "national",
            Self::LocalAward => "local_award",
            Self::LocalNoAward => "local_no_award",
            Self::Other => "other",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::National => "国家计划县",
            Self::LocalAward => "享受中央奖补的地方计划县",
            Self::LocalNoAward => "不享受中央奖补的地方计划县",
            Self::Other => "其他",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        Self::ALL.into_iter().find(|p| p.as_str() == s || p.label() == s)
    }
}

/// What a standard row prices, per student per day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StandardKind {
    /// 国家基础标准: national, no org.
    MealBase,
    /// 地方提标: a province, county or school adds this on top.
    MealTopUp,
    /// 一补 for boarders, primary / junior (per province; national default).
    YibuPrimary,
    YibuJunior,
    /// 一补 for non-boarders from poor families, where a province pays it.
    YibuPrimaryDay,
    YibuJuniorDay,
}

impl StandardKind {
    pub const ALL: [StandardKind; 6] = [
        Self::MealBase,
        Self::MealTopUp,
        Self::YibuPrimary,
        Self::YibuJunior,
        Self::YibuPrimaryDay,
        Self::YibuJuniorDay,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::MealBase => "meal_base",
            Self::MealTopUp => "meal_topup",
            Self::YibuPrimary => "yibu_primary",
            Self::YibuJunior => "yibu_junior",
            Self::YibuPrimaryDay => "yibu_primary_day",
            Self::YibuJuniorDay => "yibu_junior_day",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::MealBase => "国家基础标准（膳食补助）",
            Self::MealTopUp => "地方提标（膳食补助）",
            Self::YibuPrimary => "一补·小学寄宿生",
            Self::YibuJunior => "一补·初中寄宿生",
            Self::YibuPrimaryDay => "一补·小学非寄宿生",
            Self::YibuJuniorDay => "一补·初中非寄宿生",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s.trim())
    }

    /// Only the national basic standard is set without an org (by the ministry or the system).
    pub fn is_national(self) -> bool {
        self == Self::MealBase
    }
}

/// 一补 days per school year (DOMAIN §2): not the meal subsidy's 200; paid per semester.
pub const YIBU_DAYS_PER_YEAR: i64 = 250;

/// A standard's validity: from a day, to a day (inclusive) or open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub from: NaiveDate,
    pub to: Option<NaiveDate>,
}

impl Period {
    pub fn new(from: NaiveDate, to: Option<NaiveDate>) -> Result<Self, String> {
        if to.is_some_and(|t| t < from) {
            return Err(format!("结束日期{}早于开始日期{from}", to.unwrap_or(from)));
        }
        Ok(Self { from, to })
    }

    pub fn contains(&self, day: NaiveDate) -> bool {
        self.from <= day && self.to.is_none_or(|t| day <= t)
    }

    pub fn overlaps(&self, other: &Period) -> bool {
        self.to.is_none_or(|t| other.from <= t) && other.to.is_none_or(|t| self.from <= t)
    }

    pub fn label(&self) -> String {
        match self.to {
            Some(t) => format!("{}至{t}", self.from),
            None => format!("{}起", self.from),
        }
    }
}

/// Refuses a new period that overlaps one already set for the same thing, naming it.
pub fn check_no_overlap(existing: &[Period], new: &Period, what: &str) -> Result<(), String> {
    match existing.iter().find(|p| p.overlaps(new)) {
        Some(p) => Err(format!("{what}的有效期{}与已有的{}重叠；请先为已有标准设置结束日期", new.label(), p.label())),
        None => Ok(()),
    }
}

/// The amount in force on a day among dated rows (at most one holds, by [`check_no_overlap`]).
pub fn amount_on(rows: &[(Period, Fen)], day: NaiveDate) -> Option<Fen> {
    rows.iter().find(|(p, _)| p.contains(day)).map(|(_, a)| *a)
}

/// A school's daily meal standard on a day: the national basic standard in force plus every
/// top-up on its path (province, county, school) in force. `None` before any national standard.
pub fn daily_standard(base: &[(Period, Fen)], top_ups: &[(Period, Fen)], day: NaiveDate) -> Option<Fen> {
    let top: i64 = top_ups.iter().filter(|(p, _)| p.contains(day)).map(|(_, a)| a.fen()).sum();
    amount_on(base, day).map(|b| Fen::new(b.fen() + top))
}

/// The meal supply models (供餐模式, DOMAIN §1.5). 混合 is several models at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MealModel {
    Canteen,
    Enterprise,
    Family,
}

impl MealModel {
    pub const ALL: [MealModel; 3] = [Self::Canteen, Self::Enterprise, Self::Family];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Canteen => "canteen",
            Self::Enterprise => "enterprise",
            Self::Family => "family",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Canteen => "学校食堂供餐",
            Self::Enterprise => "企业(单位)供餐",
            Self::Family => "家庭(个人)托餐",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        Self::ALL.into_iter().find(|m| m.as_str() == s || m.label() == s)
    }

    /// Enterprise supply is bought from a supplier, so it names one.
    pub fn needs_supplier(self) -> bool {
        self == Self::Enterprise
    }
}

/// Beneficiaries are in compulsory education (grades 1–9, SPEC §6).
pub fn is_compulsory_grade(grade: i32) -> bool {
    (1..=9).contains(&grade)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn the_2014_rise_takes_effect_mid_term() {
        let rows = [
            (Period::new(d(2011, 9, 1), Some(d(2014, 10, 31))).unwrap(), Fen::new(300)),
            (Period::new(d(2014, 11, 1), Some(d(2021, 8, 31))).unwrap(), Fen::new(400)),
            (Period::new(d(2021, 9, 1), None).unwrap(), Fen::new(500)),
        ];
        assert_eq!(amount_on(&rows, d(2014, 10, 31)), Some(Fen::new(300)));
        assert_eq!(amount_on(&rows, d(2014, 11, 1)), Some(Fen::new(400)));
        assert_eq!(amount_on(&rows, d(2026, 9, 15)), Some(Fen::new(500)));
        assert_eq!(amount_on(&rows, d(2010, 9, 1)), None);
    }

    #[test]
    fn top_ups_add_to_the_national_standard_only_while_in_force() {
        let base = [(Period::new(d(2021, 9, 1), None).unwrap(), Fen::new(500))];
        let top = [(Period::new(d(2024, 1, 1), Some(d(2024, 12, 31))).unwrap(), Fen::new(100))];
        assert_eq!(daily_standard(&base, &top, d(2024, 6, 3)), Some(Fen::new(600)));
        assert_eq!(daily_standard(&base, &top, d(2025, 1, 2)), Some(Fen::new(500)));
        assert_eq!(daily_standard(&base, &top, d(2020, 1, 2)), None);
    }

    #[test]
    fn overlapping_periods_are_refused_and_adjacent_ones_accepted() {
        let open = Period::new(d(2021, 9, 1), None).unwrap();
        let later = Period::new(d(2025, 1, 1), None).unwrap();
        assert!(check_no_overlap(&[open], &later, "国家基础标准").unwrap_err().contains("重叠"));
        let closed = Period::new(d(2021, 9, 1), Some(d(2024, 12, 31))).unwrap();
        assert!(check_no_overlap(&[closed], &later, "国家基础标准").is_ok());
        assert!(Period::new(d(2025, 1, 2), Some(d(2025, 1, 1))).is_err());
    }

    #[test]
    fn codes_and_labels_round_trip() {
        for p in PlanType::ALL {
            assert_eq!(PlanType::parse(p.label()), Some(p));
        }
        for m in MealModel::ALL {
            assert_eq!(MealModel::parse(m.as_str()), Some(m));
        }
        assert!(MealModel::Enterprise.needs_supplier() && !MealModel::Canteen.needs_supplier());
        assert!(is_compulsory_grade(9) && !is_compulsory_grade(10));
    }
}
