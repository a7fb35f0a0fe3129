//! Pure rules: no IO, no diesel, no actix. Values here are valid by construction.

/// `as_str` and `TryFrom<String>` for a state or kind stored as text under its strum name (what a row's
/// `deserialize_as` calls): a value the code does not know fails the load, named in Chinese, rather
/// than being read as some other state. Declared before the modules so each can use it.
macro_rules! stored_as_text {
    ($t:ty, $what:literal) => {
        impl $t {
            /// As its column stores it (strum's name).
            pub fn as_str(self) -> &'static str {
                self.into()
            }
        }

        impl TryFrom<String> for $t {
            type Error = String;

            fn try_from(s: String) -> Result<Self, String> {
                s.parse().map_err(|_| format!(concat!("未知的", $what, "“{}”"), s))
            }
        }
    };
}

pub mod account;
pub mod anomaly;
pub mod calendar;
pub mod central;
pub mod chain;
pub mod codes;
pub mod collect;
pub mod complaint;
pub mod division;
pub mod document;
pub mod enrolment;
pub mod entitlement;
pub mod error_code;
pub mod field_seal;
pub mod finding;
pub mod food;
pub mod id_card;
pub mod key_lock;
pub mod ledger;
pub mod mask;
pub mod meal_day;
pub mod money;
pub mod password;
pub mod photo;
pub mod programme;
pub mod promotion;
pub mod report;
pub mod role;
pub mod roster;
pub mod sampling;
pub mod school_code;
pub mod status;
pub mod student;
pub mod student_no;
pub mod submission;
pub mod term;
pub mod text;
pub mod timeline;
