//! The subcommands with their own files: each holds its clap arguments and what it runs.

pub mod admin;
pub mod args;
pub mod audit;
pub mod central;
pub mod change;
pub mod collect;
pub mod inspect;
pub mod keys;
pub mod ledger;
pub mod roster;
pub mod year;
