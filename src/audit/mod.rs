//! The audit trail: every change writes one row in the same transaction as the change.
//! Rows are append-only and hash-chained, so a hand edit shows in `mealroll audit verify`.

pub mod archive;
pub mod browse;
pub mod chain;
pub mod routes;
pub mod service;
pub mod web;

pub use service::{Actor, Entry, record, record_alone};
