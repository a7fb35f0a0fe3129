//! mealroll: the real-name management system of the rural compulsory-education student nutrition
//! improvement programme, with the student registry that feeds it.

pub mod app;
pub mod audit;
pub mod auth;
pub mod bench;
pub mod central;
pub mod clock;
pub mod collect;
pub mod config;
pub mod db;
pub mod demo;
pub mod domain;
pub mod error;
pub mod exchange;
pub mod inspection;
pub mod ledger;
pub mod meals;
pub mod org;
pub mod programme;
pub mod registry;
pub mod reports;
pub mod web;
