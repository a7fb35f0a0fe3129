//! The administrative tree (ministry → province → prefecture → county → township → school),
//! schools with their campuses, classes and teachers.

pub mod api;
pub mod model;
pub mod routes;
pub mod seed;
pub mod service;
pub mod web;
