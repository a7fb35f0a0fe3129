//! The student registry: records, the duplicate check, county confirmation, search; the key-information lock and its change requests.

pub mod api;
pub mod change_web;
pub mod changes;
pub mod model;
pub mod photo_web;
pub mod photos;
pub mod problems;
pub mod promotion;
pub mod routes;
pub mod service;
pub mod status;
pub mod status_api;
pub mod status_web;
pub mod terms;
pub mod timeline;
pub mod web;
