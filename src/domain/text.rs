//! Free-text fields: names, addresses. Stored as entered, in Unicode NFC, never silently altered
//! beyond trimming; control characters are refused so logs and exports stay clean.

use unicode_normalization::UnicodeNormalization;

/// Normalises and checks a required text field; `label` names the field in the message.
pub fn required(label: &str, input: &str, max_chars: usize) -> Result<String, String> {
    let s = optional(label, input, max_chars)?;
    if s.is_empty() {
        return Err(format!("{label}不能为空"));
    }
    Ok(s)
}

pub fn optional(label: &str, input: &str, max_chars: usize) -> Result<String, String> {
    let t = input.trim();
    // Most text is already NFC; only rebuild it when it is not.
    let s: String = if unicode_normalization::is_nfc(t) { t.to_owned() } else { t.nfc().collect() };
    if s.chars().any(char::is_control) {
        return Err(format!("{label}含有不可见的控制字符"));
    }
    let n = s.chars().count();
    if n > max_chars {
        return Err(format!("{label}最多{max_chars}个字符（现有{n}个）"));
    }
    Ok(s)
}

/// Digits only, of a length within bounds (phone numbers, postcodes); empty allowed.
pub fn digits(label: &str, input: &str, min: usize, max: usize) -> Result<String, String> {
    let s: String = input.trim().chars().filter(|c| *c != '-' && *c != ' ').collect();
    if s.is_empty() {
        return Ok(s);
    }
    if !s.chars().all(|c| c.is_ascii_digit()) || s.len() < min || s.len() > max {
        return Err(format!("{label}应为{min}–{max}位数字"));
    }
    Ok(s)
}

/// For `#[serde(deserialize_with)]` on an optional filter: blank (a form's "全部") is none, and
/// anything else must be one of the names, or the request is refused naming the values allowed —
/// a misspelt filter must not quietly match nothing.
pub fn blank_or_one_of<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: std::str::FromStr + strum::VariantNames,
{
    let s: Option<String> = serde::Deserialize::deserialize(d)?;
    match s.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => v
            .parse()
            .map(Some)
            .map_err(|_| serde::de::Error::custom(format!("“{v}”无效，应为 {}", T::VARIANTS.join("、")))),
    }
}

/// For `#[serde(deserialize_with)]` on an optional number filter: blank is none; a form's text
/// and a JSON number both read; anything else is refused naming the value.
pub fn blank_or_number<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: std::str::FromStr + serde::Deserialize<'de>,
{
    #[derive(serde::Deserialize)]
    #[serde(untagged)]
    enum Raw<T> {
        Number(T),
        Text(String),
    }
    match <Option<Raw<T>> as serde::Deserialize>::deserialize(d)? {
        None => Ok(None),
        Some(Raw::Number(n)) => Ok(Some(n)),
        Some(Raw::Text(s)) if s.trim().is_empty() => Ok(None),
        Some(Raw::Text(s)) => {
            s.trim().parse().map(Some).map_err(|_| serde::de::Error::custom(format!("“{s}”不是有效的数字")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_number_filter_is_blank_a_numeral_or_a_json_number() {
        #[derive(serde::Deserialize)]
        struct F {
            #[serde(default, deserialize_with = "blank_or_number")]
            grade: Option<i32>,
        }
        let form = |q: &str| serde_urlencoded::from_str::<F>(q).map(|f| f.grade);
        assert_eq!(form("grade=").unwrap(), None);
        assert_eq!(form("").unwrap(), None);
        assert_eq!(form("grade=7").unwrap(), Some(7));
        assert!(form("grade=seven").unwrap_err().to_string().contains("“seven”不是有效的数字"));
        let json = |v: &str| serde_json::from_str::<F>(v).map(|f| f.grade);
        assert_eq!(json(r#"{"grade": 3}"#).unwrap(), Some(3));
        assert_eq!(json(r#"{"grade": "4"}"#).unwrap(), Some(4));
        assert_eq!(json(r#"{"grade": null}"#).unwrap(), None);
    }

    #[test]
    fn a_filter_is_blank_or_one_of_its_names() {
        use crate::domain::student::Review;
        #[derive(serde::Deserialize)]
        struct F {
            #[serde(default, deserialize_with = "blank_or_one_of")]
            review: Option<Review>,
        }
        let read = |json: &str| serde_json::from_str::<F>(json).map(|f| f.review).map_err(|e| e.to_string());
        assert_eq!(read(r#"{"review": " "}"#), Ok(None));
        assert_eq!(read(r#"{}"#), Ok(None));
        assert_eq!(read(r#"{"review": "problem"}"#), Ok(Some(Review::Problem)));
        let refused = read(r#"{"review": "problm"}"#).expect_err("a misspelt name");
        assert!(refused.contains("“problm”无效，应为 pending、confirmed、problem"), "{refused}");
    }

    #[test]
    fn keeps_rare_characters_and_normalises_to_nfc() {
        assert_eq!(required("姓名", " 刘𠮷芳 ", 20).as_deref(), Ok("刘𠮷芳"));
        // e + combining acute → é (NFC)
        assert_eq!(required("姓名", "e\u{301}", 20).as_deref(), Ok("\u{e9}"));
    }

    #[test]
    fn rejects_empty_control_and_overlong() {
        assert!(required("姓名", "  ", 20).unwrap_err().contains("不能为空"));
        assert!(required("姓名", "a\nb", 20).unwrap_err().contains("控制字符"));
        assert!(required("姓名", "一二三", 2).unwrap_err().contains("最多2个"));
    }

    #[test]
    fn digits_accepts_separators_and_refuses_letters() {
        assert_eq!(digits("电话", "0859-1234567", 7, 12).as_deref(), Ok("08591234567"));
        assert_eq!(digits("电话", "", 7, 12).as_deref(), Ok(""));
        assert!(digits("电话", "12ab", 7, 12).is_err());
    }
}
