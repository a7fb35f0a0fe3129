//! The student registry: records, the duplicate check, county confirmation, search.

pub mod api;
pub mod model;
pub mod service;
pub mod web;
