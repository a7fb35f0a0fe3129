//! Inspection (SPEC §10): the anomaly rules over named children, school days and ledger
//! entries, their thresholds and severities, the flags people answer and decide, and their
//! pages and API. Inspection reads every area above it and writes only its own records.

pub mod findings;
pub mod flags;
pub mod risk;
pub mod routes;
mod rules;
pub mod sample;
pub mod scan;
pub mod settings;
pub mod summary;
pub mod trail;
pub mod visits;
pub mod web;
