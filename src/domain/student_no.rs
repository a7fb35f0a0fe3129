//! 全国学籍号: 19 characters, a letter and 18 more.
//! `G` + the student's ID number (formal); `J` + an ID-style number built from the school's county
//! code, the birth date, a sequence and a MOD 11-2 check character (formal, no ID); `L` + county code
//! + birth date + 4 digits (temporary, until the formal number arrives).

use std::fmt;

use chrono::NaiveDate;

use super::id_card::{IdCardNo, check_char};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StudentNoKind {
    /// G: from the ID number.
    Formal,
    /// J: formal, for a student without a usable ID number.
    FormalNoId,
    /// L: temporary.
    Temporary,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StudentNo(String);

impl StudentNo {
    pub fn parse(input: &str) -> Result<Self, String> {
        let s = super::id_card::normalise(input);
        if s.chars().count() != 19 {
            return Err(format!("学籍号应为19位（字母G/J/L加18位），现为{}位", s.chars().count()));
        }
        let (prefix, rest) = s.split_at(1);
        match prefix {
            "G" => IdCardNo::parse(rest)
                .map(|id| Self::formal(&id))
                .map_err(|e| format!("G字头学籍号的身份证号部分无效：{e}")),
            "J" => {
                Self::check_date(&rest[6..14])?;
                match check_char(&rest[..17]) {
                    Some(c) if rest.ends_with(c) => Ok(Self(s)),
                    _ => Err("J字头学籍号的校验位错误".into()),
                }
            }
            "L" => {
                if !rest.bytes().all(|b| b.is_ascii_digit()) {
                    return Err("L字头临时学籍号的后18位应全为数字".into());
                }
                Self::check_date(&rest[6..14])?;
                Ok(Self(s))
            }
            _ => Err("学籍号应以G、J或L开头".into()),
        }
    }

    fn check_date(s: &str) -> Result<NaiveDate, String> {
        NaiveDate::parse_from_str(s, "%Y%m%d").map_err(|_| "学籍号中的出生日期（第8–15位）不是有效日期".to_owned())
    }

    pub fn formal(id: &IdCardNo) -> Self {
        Self(format!("G{}", id.as_str()))
    }

    /// `J` + county code + birth date + 3-digit sequence + check character.
    pub fn formal_without_id(county: &str, birth: NaiveDate, seq: u16) -> Self {
        let first17 = format!("{county}{}{:03}", birth.format("%Y%m%d"), seq % 1000);
        let c = check_char(&first17).unwrap_or('0');
        Self(format!("J{first17}{c}"))
    }

    /// `L` + county code + birth date + 4 digits.
    pub fn temporary(county: &str, birth: NaiveDate, n: u16) -> Self {
        Self(format!("L{county}{}{:04}", birth.format("%Y%m%d"), n % 10000))
    }

    pub fn kind(&self) -> StudentNoKind {
        match self.0.as_bytes()[0] {
            b'G' => StudentNoKind::Formal,
            b'J' => StudentNoKind::FormalNoId,
            _ => StudentNoKind::Temporary,
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for StudentNo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn birth() -> NaiveDate {
        NaiveDate::from_ymd_opt(2018, 3, 9).unwrap_or_default()
    }

    #[test]
    fn the_three_kinds_round_trip() {
        let id = IdCardNo::parse("360426199101010071").expect("id");
        let g = StudentNo::formal(&id);
        assert_eq!(g.as_str(), "G360426199101010071");
        assert_eq!(StudentNo::parse("g360426199101010071").map(|s| s.kind()), Ok(StudentNoKind::Formal));
        let j = StudentNo::formal_without_id("522326", birth(), 7);
        assert_eq!(StudentNo::parse(j.as_str()).map(|s| s.kind()), Ok(StudentNoKind::FormalNoId));
        let l = StudentNo::temporary("522326", birth(), 42);
        assert_eq!(l.as_str(), "L522326201803090042");
        assert_eq!(StudentNo::parse(l.as_str()).map(|s| s.kind()), Ok(StudentNoKind::Temporary));
    }

    #[test]
    fn rejects_bad_prefix_length_check_and_date() {
        assert!(StudentNo::parse("X360426199101010071").is_err());
        assert!(StudentNo::parse("G36042619910101007").is_err());
        assert!(StudentNo::parse("G360426199101010072").is_err());
        let mut j = StudentNo::formal_without_id("522326", birth(), 7).0;
        let last = if j.ends_with('1') { '2' } else { '1' };
        j.pop();
        j.push(last);
        assert!(StudentNo::parse(&j).unwrap_err().contains("校验位"));
        assert!(StudentNo::parse("L522326201813090042").unwrap_err().contains("日期"));
    }
}
