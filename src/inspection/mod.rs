//! Inspection: the anomaly scan over named children, school days and ledger entries (SPEC §10),
//! its page and API. Inspection reads every area above it and writes only its own records.

pub mod scan;
pub mod web;
