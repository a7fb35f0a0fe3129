//! Files in and out: the registry's Excel template (written with rust_xlsxwriter, read back with
//! calamine from .xlsx and .xls, or from UTF-8 CSV), the import engine and its background jobs.

pub mod change_file;
pub mod disbursement;
pub mod document;
pub mod guard;
pub mod import;
pub mod job_runs;
pub mod jobs;
pub mod notice_poster;
pub mod pdf;
pub mod roster_print;
pub mod routes;
pub mod sheet;
pub mod student_form;
pub mod template;
pub mod visit_sheet;
pub mod web;
pub mod worker;
