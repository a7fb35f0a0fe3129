//! Complaints (举报) from the public notice page or entered by the county: what they are about,
//! where they stand, and what text the public may send.

use serde::Serialize;

/// What a complaint is about, as the county bulletins count them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// 饭菜质量、食品安全.
    Quality,
    /// 分量不足、降低标准.
    Quantity,
    /// 收费、向学生收钱.
    Charges,
    /// 虚报冒领、名单不实.
    FalseClaims,
    Other,
}

impl Category {
    pub const ALL: [Category; 5] =
        [Category::Quality, Category::Quantity, Category::Charges, Category::FalseClaims, Category::Other];

    pub fn as_str(self) -> &'static str {
        match self {
            Category::Quality => "quality",
            Category::Quantity => "quantity",
            Category::Charges => "charges",
            Category::FalseClaims => "false_claims",
            Category::Other => "other",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Category::Quality => "饭菜质量与食品安全",
            Category::Quantity => "分量不足、降低标准",
            Category::Charges => "乱收费",
            Category::FalseClaims => "虚报冒领、名单不实",
            Category::Other => "其他",
        }
    }

    /// By code or label; empty is 其他.
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        if s.is_empty() {
            return Some(Category::Other);
        }
        Category::ALL.into_iter().find(|c| c.as_str() == s || c.label() == s)
    }
}

/// Where a complaint stands.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema, strum::EnumString, strum::IntoStaticStr,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
#[schemars(rename = "ComplaintStatus")]
pub enum Status {
    /// Received, nobody has acted yet.
    Received,
    /// An inspection finding was opened from it; the answer waits for what it finds.
    Handling,
    /// The county answered it.
    Answered,
}

impl Status {
    pub fn label(self) -> &'static str {
        match self {
            Status::Received => "已受理",
            Status::Handling => "调查处理中",
            Status::Answered => "已答复",
        }
    }
}

stored_as_text!(Status, "举报状态");

/// Days the county has to answer (the bulletins' 15-day rule for letters and visits).
pub const ANSWER_DAYS: i64 = 15;

/// Text a member of the public sends: what `text::optional` accepts, and no markup or script.
/// Refused rather than cleaned, so what is stored is what the sender wrote.
pub fn plain(label: &str, input: &str, max_chars: usize) -> Result<String, String> {
    let s = super::text::optional(label, input, max_chars)?;
    let lower = s.to_lowercase();
    let markup = lower.contains("javascript:")
        || lower.contains("<script")
        || lower.contains("<iframe")
        || lower.contains("onerror=")
        || lower.contains("onload=")
        // A tag: '<' followed by a letter, '/', '!' or '?'.
        || s.as_bytes().windows(2).any(|w| w[0] == b'<' && (w[1].is_ascii_alphabetic() || b"/!?".contains(&w[1])));
    if markup {
        return Err(format!("{label}含有网页代码（如<script>），请只写文字"));
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_and_tags_are_refused_plain_words_kept() {
        assert!(plain("举报内容", "<script>alert(1)</script>", 500).expect_err("script").contains("网页代码"));
        assert!(plain("举报内容", "饭菜<img src=x onerror=alert(1)>", 500).is_err());
        assert!(plain("举报内容", "点这里 javascript:alert(1)", 500).is_err());
        assert!(plain("举报内容", "</b>", 500).is_err());
        // Comparisons people write are words, not tags.
        assert_eq!(plain("举报内容", "每餐肉<50克，人数<3", 500).as_deref(), Ok("每餐肉<50克，人数<3"));
        assert_eq!(plain("举报内容", "  饭菜变少了  ", 500).as_deref(), Ok("饭菜变少了"));
        assert!(plain("举报内容", &"多".repeat(501), 500).is_err());
    }

    #[test]
    fn categories_and_states_read_back() {
        for c in Category::ALL {
            assert_eq!(Category::parse(c.as_str()), Some(c));
            assert_eq!(Category::parse(c.label()), Some(c));
        }
        assert_eq!(Category::parse(""), Some(Category::Other));
        assert_eq!(Category::parse("别的"), None);
        for st in [Status::Received, Status::Handling, Status::Answered] {
            assert_eq!(Status::try_from(st.as_str().to_owned()), Ok(st));
        }
        assert_eq!(Status::Answered.as_str(), "answered");
        assert!(Status::try_from("closed".to_owned()).is_err());
    }
}
