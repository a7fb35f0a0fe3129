//! Password policy (SPEC §11, SECURITY.md §3): 12–128 characters, at least three of four
//! character classes, not a common password, not the user name.

const COMMON: &[&str] = &[
    "password1234",
    "Password1234",
    "Passw0rd1234",
    "P@ssw0rd1234",
    "Admin@123456",
    "admin@123456",
    "Abc@12345678",
    "abc@12345678",
    "Qwer@1234567",
    "qwer@1234567",
    "Aa123456789!",
    "Aa@123456789",
    "1qaz@WSX3edc",
    "1qaz!QAZ2wsx",
    "Zxcv@1234567",
    "Welcome@1234",
    "Mealroll@123",
    "Huawei@12345",
];

pub const MIN_LEN: usize = 12;
pub const MAX_LEN: usize = 128;
/// A new password may not be any of this many: the current one and those before it.
pub const REMEMBERED: i64 = 5;

/// Checks a new password; the message names the rule broken.
pub fn check(password: &str, username: &str) -> Result<(), String> {
    let n = password.chars().count();
    if n < MIN_LEN {
        return Err(format!("密码至少{MIN_LEN}个字符"));
    }
    if n > MAX_LEN {
        return Err(format!("密码最多{MAX_LEN}个字符"));
    }
    let classes = [
        password.chars().any(|c| c.is_ascii_lowercase()),
        password.chars().any(|c| c.is_ascii_uppercase()),
        password.chars().any(|c| c.is_ascii_digit()),
        password.chars().any(|c| !c.is_ascii_alphanumeric()),
    ];
    if classes.iter().filter(|x| **x).count() < 3 {
        return Err("密码须包含大写字母、小写字母、数字、符号中的至少三类".into());
    }
    let lower = password.to_lowercase();
    if !username.is_empty() && lower.contains(&username.to_lowercase()) {
        return Err("密码不能包含用户名".into());
    }
    if COMMON.iter().any(|c| c.eq_ignore_ascii_case(password)) {
        return Err("密码过于常见，请换一个".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_of_verdicts() {
        let cases: &[(&str, bool, &str)] = &[
            ("Abcdefgh123", false, "至少12"),
            (&"Aa1".repeat(43), false, "最多128"),
            ("123456789012", false, "三类"),
            ("abcdefghijkl", false, "三类"),
            ("zhangsan-Abc123", false, "用户名"),
            ("P@ssw0rd1234", false, "常见"),
            ("Kq7-mealday-2026", true, ""),
            ("kq7mealday2026!", true, ""),
        ];
        for (pw, ok, why) in cases {
            let r = check(pw, "zhangsan");
            assert_eq!(r.is_ok(), *ok, "{pw}: {r:?}");
            if let Err(m) = r {
                assert!(m.contains(why), "{pw}: {m}");
            }
        }
    }
}
