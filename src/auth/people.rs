//! People as others read them: a username stored on a record (a ledger posting's 经办, an
//! audit row's actor) shown by the person's name.

use std::collections::HashMap;

use diesel::prelude::*;

use crate::db::DbConn;
use crate::db::schema::users;
use crate::error::AppResult;

/// What the command line's postings and changes are stored under (`Caller::cli`).
pub const CLI_USERNAME: &str = "cli";

/// The display names of these usernames, as "姓名（用户名）"; the command line reads as 命令行,
/// and a username no longer on file as itself.
pub fn names(conn: &mut DbConn, usernames: &[&str]) -> AppResult<HashMap<String, String>> {
    let mut wanted: Vec<&str> = usernames.iter().copied().filter(|u| !u.is_empty() && *u != CLI_USERNAME).collect();
    wanted.sort_unstable();
    wanted.dedup();
    let mut out: HashMap<String, String> = HashMap::new();
    for chunk in wanted.chunks(500) {
        let rows: Vec<(String, String)> = users::table
            .filter(users::username.eq_any(chunk))
            .select((users::username, users::display_name))
            .load(conn)?;
        out.extend(rows.into_iter().map(|(u, name)| (u.clone(), shown(&name, &u))));
    }
    for u in usernames {
        if !out.contains_key(*u) {
            let name = if *u == CLI_USERNAME { "命令行".to_owned() } else { (*u).to_owned() };
            out.insert((*u).to_owned(), name);
        }
    }
    Ok(out)
}

fn shown(display_name: &str, username: &str) -> String {
    if display_name.trim().is_empty() || display_name == username {
        username.to_owned()
    } else {
        format!("{display_name}（{username}）")
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_person_reads_by_name_with_the_username_beside_it() {
        assert_eq!(super::shown("李会计", "caiwu"), "李会计（caiwu）");
        assert_eq!(super::shown("", "caiwu"), "caiwu");
        assert_eq!(super::shown("caiwu", "caiwu"), "caiwu");
    }
}
