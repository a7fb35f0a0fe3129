//! Statutory reports (SPEC §9): definitions in `reports/*.toml`, drawn for an org, a period and a
//! report date, rendered to the page, xlsx, PDF and JSON.

pub mod chart;
pub mod dashboard;
pub mod render;
pub mod routes;
pub mod service;
pub mod submission;
pub mod todo;
pub mod web;
