//! The integration tests, linked as one binary: linking the crate once instead of once per file
//! keeps a clean build and CI within their time, and lets the slow stories (the browser, the
//! demo) run beside the rest instead of after them.

mod common;

mod actions;
mod audit;
mod auth;
mod backup;
mod browser;
mod canteen;
mod central;
mod chains;
mod clock;
mod collect;
mod confirm;
mod crash;
mod entitlement;
mod findings;
mod hostile_files;
mod id_oracle;
mod import;
mod inspection;
mod jobs;
mod key_lock;
mod layers;
mod ledger;
mod lists;
mod meal_days;
mod org;
mod outage;
mod photos;
mod privacy;
mod problems;
mod programme;
mod promotion;
mod reconcile;
mod registry;
mod replica;
mod report;
mod roster;
mod roster_review;
mod scope;
mod status_changes;
mod student_form;
mod timeline_property;
mod todo;
