//! The subcommands with their own files: each holds its clap arguments and what it runs.

pub mod keys;
pub mod ledger;
pub mod roster;
