//! What happens in the canteen day by day: the daily meal records (就餐日报), the county's
//! deadline for them, corrections of closed months, and the month's figures they add up to;
//! the weekly menu and the leaders' accompanying meals (陪餐).

pub mod canteen;
pub mod canteen_web;
pub mod corrections;
pub mod daily;
pub mod import;
pub mod monthly;
pub mod settings;
pub mod web;
