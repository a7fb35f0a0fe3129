//! What happens in the canteen day by day: the daily meal records (就餐日报), the county's
//! deadline for them, corrections of closed months, and the month's figures they add up to;
//! the weekly menu and the leaders' accompanying meals (陪餐); the canteen's stock of food; the
//! school's public notice and the complaints it invites.

pub mod canteen;
pub mod canteen_web;
pub mod compare;
pub mod complaints;
pub mod complaints_web;
pub mod corrections;
pub mod daily;
pub mod import;
pub mod monthly;
pub mod notice;
pub mod notice_web;
pub mod routes;
pub mod settings;
pub mod stock;
pub mod stock_web;
pub mod web;
