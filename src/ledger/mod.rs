//! Money: meal-subsidy entitlements computed from the rosters' registry and the programme's
//! configuration (the fund ledger and reconciliation follow).

pub mod api;
pub mod entitlement;
pub mod fund;
pub mod fund_web;
pub mod import;
pub mod purchase;
pub mod purchase_web;
pub mod reconcile;
pub mod reconcile_web;
pub mod routes;
pub mod web;
pub mod yibu;
