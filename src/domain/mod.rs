//! Pure rules: no IO, no diesel, no actix. Values here are valid by construction.

pub mod anomaly;
pub mod calendar;
pub mod chain;
pub mod codes;
pub mod division;
pub mod enrolment;
pub mod entitlement;
pub mod id_card;
pub mod key_lock;
pub mod ledger;
pub mod mask;
pub mod money;
pub mod password;
pub mod photo;
pub mod programme;
pub mod promotion;
pub mod report;
pub mod role;
pub mod roster;
pub mod school_code;
pub mod status;
pub mod student;
pub mod student_no;
pub mod term;
pub mod text;
pub mod timeline;
