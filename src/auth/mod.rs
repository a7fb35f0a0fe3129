//! Users, roles, scopes, passwords, sessions (JWT carrying a server-side session id), CSRF, TOTP.

pub mod account_actions;
pub mod caller;
pub mod csrf;
pub mod extract;
pub mod hashing;
pub mod people;
pub mod routes;
pub mod service;
pub mod session;
pub mod totp;
pub mod web;

pub use caller::{Caller, Scope};
