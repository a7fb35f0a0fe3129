//! What happens in the canteen day by day: the daily meal records (就餐日报).

pub mod daily;
pub mod web;
