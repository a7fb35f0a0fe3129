//! Loads the GB/T 2260 list into the org tree on first start.

use std::collections::HashMap;

use diesel::prelude::*;

use crate::db::schema::orgs;
use crate::db::{DbConn, write_tx};
use crate::domain::division::{self, DivisionLevel};
use crate::error::AppResult;
use crate::per_backend;

pub const ROOT_CODE: &str = "000000";
pub const ROOT_NAME: &str = "教育部";

#[derive(Insertable)]
#[diesel(table_name = orgs)]
struct NewOrg {
    code: String,
    name: String,
    kind: &'static str,
    parent_id: Option<i64>,
    path: String,
    created_at: chrono::NaiveDateTime,
}

/// Inserts the ministry and every division, level by level, once. Returns rows inserted.
pub fn divisions(conn: &mut DbConn) -> AppResult<usize> {
    let have: i64 = orgs::table.count().get_result(conn)?;
    if have > 0 {
        return Ok(0);
    }
    write_tx(conn, |conn| {
        let now = crate::clock::now();
        let root_path = format!("/{ROOT_CODE}/");
        let root_id: i64 = diesel::insert_into(orgs::table)
            .values(NewOrg {
                code: ROOT_CODE.into(),
                name: ROOT_NAME.into(),
                kind: "ministry",
                parent_id: None,
                path: root_path.clone(),
                created_at: now,
            })
            .returning(orgs::id)
            .get_result(conn)?;
        let mut known: HashMap<String, (i64, String)> = HashMap::new();
        let mut inserted = 1;
        for (level, kind) in [
            (DivisionLevel::Province, "province"),
            (DivisionLevel::Prefecture, "prefecture"),
            (DivisionLevel::County, "county"),
        ] {
            let rows: Vec<NewOrg> = division::all()
                .iter()
                .filter(|d| d.level == level)
                .map(|d| {
                    let (parent_id, parent_path) = match d.parent.as_ref().and_then(|p| known.get(p)) {
                        Some((id, path)) => (*id, path.clone()),
                        None => (root_id, root_path.clone()),
                    };
                    NewOrg {
                        code: d.code.clone(),
                        name: d.name.clone(),
                        kind,
                        parent_id: Some(parent_id),
                        path: format!("{parent_path}{}/", d.code),
                        created_at: now,
                    }
                })
                .collect();
            for chunk in rows.chunks(500) {
                inserted += per_backend!(conn, |c| diesel::insert_into(orgs::table).values(chunk).execute(c))?;
            }
            let ids: Vec<(i64, String, String)> =
                orgs::table.filter(orgs::kind.eq(kind)).select((orgs::id, orgs::code, orgs::path)).load(conn)?;
            known.extend(ids.into_iter().map(|(id, code, path)| (code, (id, path))));
        }
        Ok(inserted)
    })
}
