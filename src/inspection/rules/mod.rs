//! The rules, by what they read: the registry's children, the meals reported (monthly and
//! daily), the money, the rosters, the canteen's purchases and stock.

pub(super) mod canteen;
pub(super) mod children;
pub(super) mod daily;
pub(super) mod meals;
pub(super) mod money;
pub(super) mod roster;
