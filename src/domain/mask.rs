//! Masking of personal data in lists and logs (SPEC §11).

/// `110***********1234`: first 3 and last 4 kept.
pub fn id_number(s: &str) -> String {
    keep_ends(s, 3, 4)
}

/// A 学籍号 with the birth date hidden: `G522326********3348`. A G or J number carries the
/// child's ID number, and a roster passes through every guardian's hands.
pub fn student_no(s: &str) -> String {
    if s.chars().count() < 12 {
        return s.to_owned();
    }
    keep_ends(s, 7, 4)
}

/// `138****5678`.
pub fn phone(s: &str) -> String {
    if s.chars().count() < 7 {
        return "*".repeat(s.chars().count());
    }
    keep_ends(s, 3, 4)
}

/// A phone as an audit row or an API answer carries it (`#[serde(serialize_with)]`).
pub fn serialize_phone<S: serde::Serializer>(v: &str, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&phone(v))
}

/// `张*`, `欧阳**` (two-character surnames for four-character names and known compound surnames).
pub fn name(s: &str) -> String {
    const COMPOUND: &[&str] = &[
        "欧阳", "司马", "诸葛", "上官", "东方", "皇甫", "尉迟", "公孙", "慕容", "长孙", "宇文", "令狐", "夏侯", "端木",
        "澹台",
    ];
    let chars: Vec<char> = s.chars().collect();
    let keep = if COMPOUND.iter().any(|c| s.starts_with(c)) && chars.len() > 2 { 2 } else { 1 };
    let keep = keep.min(chars.len());
    chars[..keep].iter().collect::<String>() + &"*".repeat(chars.len() - keep)
}

/// Free text (an audit row's before and after) with every run of 11 or more digits (a phone,
/// an ID number, a 学籍号's digits; an ID's final X included) masked as those are in lists.
pub fn numbers_in_text(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let start = i;
        while i < chars.len()
            && (chars[i].is_ascii_digit() || (i > start && i - start == 17 && matches!(chars[i], 'X' | 'x')))
        {
            i += 1;
        }
        if i == start {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        let run: String = chars[start..i].iter().collect();
        out.push_str(&if run.len() >= 11 { keep_ends(&run, 3, 4) } else { run });
    }
    out
}

fn keep_ends(s: &str, head: usize, tail: usize) -> String {
    let chars: Vec<char> = s.chars().collect();
    if chars.len() <= head + tail {
        return "*".repeat(chars.len());
    }
    let mut out: String = chars[..head].iter().collect();
    out.push_str(&"*".repeat(chars.len() - head - tail));
    out.extend(&chars[chars.len() - tail..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn student_numbers_hide_the_birth_date() {
        assert_eq!(student_no("G522326202002163348"), "G522326********3348");
        assert_eq!(student_no("L5223262020021600012"), "L522326*********0012");
        assert_eq!(student_no("X1"), "X1");
    }

    #[test]
    fn masks_follow_spec_examples() {
        assert_eq!(id_number("110101201501011234"), "110***********1234");
        assert_eq!(phone("13812345678"), "138****5678");
        assert_eq!(name("张三"), "张*");
        assert_eq!(name("欧阳娜娜"), "欧阳**");
        assert_eq!(name("王䶮"), "王*");
    }

    #[test]
    fn short_values_are_fully_hidden() {
        assert_eq!(id_number("1234567"), "*******");
        assert_eq!(phone("12345"), "*****");
        assert_eq!(name(""), "");
    }

    #[test]
    fn numbers_in_text_masks_long_runs_only() {
        let t = r#"{"phone":"13812345678","id":"52232620150304123X","class":"3","n":1234567890}"#;
        let m = numbers_in_text(t);
        assert!(m.contains(r#""phone":"138****5678""#), "{m}");
        assert!(m.contains(r#""id":"522***********123X""#), "{m}");
        assert!(m.contains(r#""n":1234567890"#), "ten digits stay: {m}");
        assert!(!m.contains("13812345678") && !m.contains("2015030412"));
        assert_eq!(numbers_in_text("学籍号 G52232620150304123X"), "学籍号 G522***********123X");
    }
}
