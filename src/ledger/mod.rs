//! Money: meal-subsidy entitlements computed from the rosters' registry and the programme's
//! configuration (the fund ledger and reconciliation follow).

pub mod api;
pub mod entitlement;
pub mod web;
