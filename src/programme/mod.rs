//! The programme (营养改善计划): configuration (plan types, member schools, standards, suppliers,
//! meal models, calendars) and the beneficiary rosters built from the registry.

pub mod api;
pub mod calendar;
pub mod config;
pub mod input;
pub mod roster;
pub mod roster_review;
pub mod roster_scan;
pub mod routes;
pub mod scan_web;
pub mod web;
