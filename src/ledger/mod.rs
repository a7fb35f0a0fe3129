//! Money: meal-subsidy entitlements computed from the rosters' registry and the programme's
//! configuration (the fund ledger and reconciliation follow).

pub mod entitlement;
