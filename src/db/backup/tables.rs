//! Every table's rows, read and written as JSON in one form both backends share, so a county's
//! SQLite snapshot restores into PostgreSQL and back. Tables and columns come from the
//! database's own catalog; values are normalised by kind (booleans as true/false, bytes as
//! lower-case hex, dates and instants as text), so the same row reads the same from either.

use std::collections::{BTreeMap, BTreeSet};

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::db::DbConn;
use crate::error::{AppError, AppResult, ErrorCode};

/// What a column holds, as far as moving it between backends goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Int,
    Text,
    Bool,
    Date,
    Timestamp,
    Bytes,
}

impl Kind {
    fn of_sqlite(declared: &str) -> Option<Kind> {
        Some(match declared.to_ascii_uppercase().as_str() {
            "BIGINT" | "INTEGER" | "INT" => Kind::Int,
            "TEXT" => Kind::Text,
            "BOOLEAN" | "BOOL" => Kind::Bool,
            "DATE" => Kind::Date,
            "TIMESTAMP" | "DATETIME" => Kind::Timestamp,
            "BLOB" | "BINARY" => Kind::Bytes,
            _ => return None,
        })
    }

    fn of_pg(data_type: &str) -> Option<Kind> {
        Some(match data_type {
            "bigint" | "integer" | "smallint" => Kind::Int,
            "text" | "character varying" => Kind::Text,
            "boolean" => Kind::Bool,
            "date" => Kind::Date,
            "timestamp without time zone" => Kind::Timestamp,
            "bytea" => Kind::Bytes,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Column {
    pub name: String,
    pub kind: Kind,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Table {
    pub name: String,
    pub columns: Vec<Column>,
    /// A single integer primary key: rows are read in pages along it.
    #[serde(default)]
    pub key: Option<String>,
}

#[derive(QueryableByName)]
struct Name {
    #[diesel(sql_type = Text)]
    name: String,
}

#[derive(QueryableByName)]
struct ColumnRow {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = BigInt)]
    pk: i64,
}

#[derive(QueryableByName)]
struct Edge {
    #[diesel(sql_type = Text)]
    child: String,
    #[diesel(sql_type = Text)]
    parent: String,
}

#[derive(QueryableByName)]
struct Json {
    #[diesel(sql_type = Text)]
    j: String,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

fn unknown_type(table: &str, column: &str, t: &str) -> AppError {
    AppError::internal_msg(ErrorCode::BackupColumnType, format!("表 {table} 的列 {column} 类型 {t} 无法备份"))
}

/// The database's tables (the migrations' bookkeeping aside), parents before the tables that
/// refer to them, so rows load in an order every foreign key accepts.
pub fn catalog(conn: &mut DbConn) -> AppResult<Vec<Table>> {
    let (names, edges): (Vec<Name>, Vec<Edge>) = match conn {
        #[cfg(feature = "postgres")]
        DbConn::Pg(_) => (
            diesel::sql_query(
                "SELECT table_name::text AS name FROM information_schema.tables WHERE table_schema = 'public' \
                 AND table_type = 'BASE TABLE' AND table_name <> '__diesel_schema_migrations' ORDER BY 1",
            )
            .load(conn)?,
            diesel::sql_query(
                "SELECT conrelid::regclass::text AS child, confrelid::regclass::text AS parent \
                 FROM pg_constraint WHERE contype = 'f'",
            )
            .load(conn)?,
        ),
        DbConn::Sqlite(_) => (
            diesel::sql_query(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
                 AND name <> '__diesel_schema_migrations' ORDER BY 1",
            )
            .load(conn)?,
            diesel::sql_query(
                "SELECT m.name AS child, f.\"table\" AS parent FROM sqlite_master m, pragma_foreign_key_list(m.name) f \
                 WHERE m.type = 'table'",
            )
            .load(conn)?,
        ),
    };
    let mut tables = Vec::with_capacity(names.len());
    for Name { name } in names {
        let cols: Vec<ColumnRow> = match conn {
            #[cfg(feature = "postgres")]
            DbConn::Pg(_) => diesel::sql_query(
                "SELECT c.column_name::text AS name, c.data_type::text AS kind, \
                 CASE WHEN EXISTS (SELECT 1 FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid \
                   AND a.attnum = ANY(i.indkey) WHERE i.indrelid = ($1)::regclass AND i.indisprimary \
                   AND a.attname = c.column_name) THEN 1 ELSE 0 END::bigint AS pk \
                 FROM information_schema.columns c WHERE c.table_schema = 'public' AND c.table_name = $1 \
                 ORDER BY c.ordinal_position",
            )
            .bind::<Text, _>(&name)
            .load(conn)?,
            DbConn::Sqlite(_) => {
                diesel::sql_query("SELECT name, type AS kind, pk FROM pragma_table_info(?) ORDER BY cid")
                    .bind::<Text, _>(&name)
                    .load(conn)?
            }
        };
        let pg = !matches!(conn, DbConn::Sqlite(_));
        let mut columns = Vec::with_capacity(cols.len());
        for c in &cols {
            let kind = if pg { Kind::of_pg(&c.kind) } else { Kind::of_sqlite(&c.kind) };
            columns.push(Column {
                name: c.name.clone(),
                kind: kind.ok_or_else(|| unknown_type(&name, &c.name, &c.kind))?,
            });
        }
        let keys: Vec<&Column> = columns.iter().filter(|c| cols.iter().any(|r| r.name == c.name && r.pk > 0)).collect();
        let key = match keys.as_slice() {
            [k] if k.kind == Kind::Int => Some(k.name.clone()),
            _ => None,
        };
        tables.push(Table { name, columns, key });
    }
    Ok(in_dependency_order(tables, &edges))
}

/// Kahn's order over the foreign keys (a table's references to itself aside); ties by name.
fn in_dependency_order(tables: Vec<Table>, edges: &[Edge]) -> Vec<Table> {
    let names: BTreeSet<String> = tables.iter().map(|t| t.name.clone()).collect();
    let mut parents: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for e in edges {
        if e.child != e.parent && names.contains(&e.parent) && names.contains(&e.child) {
            parents.entry(e.child.as_str()).or_default().insert(e.parent.as_str());
        }
    }
    let mut placed: BTreeSet<String> = BTreeSet::new();
    let mut order: Vec<String> = Vec::with_capacity(names.len());
    while order.len() < names.len() {
        let ready: Vec<String> = names
            .iter()
            .filter(|n| !placed.contains(*n))
            .filter(|n| parents.get(n.as_str()).is_none_or(|ps| ps.iter().all(|p| placed.contains(*p))))
            .cloned()
            .collect();
        // A cycle (none today) would leave nothing ready: take the rest by name rather than stop.
        let next =
            if ready.is_empty() { names.iter().filter(|n| !placed.contains(*n)).cloned().collect() } else { ready };
        for n in next {
            placed.insert(n.clone());
            order.push(n);
        }
    }
    let mut by_name: BTreeMap<String, Table> = tables.into_iter().map(|t| (t.name.clone(), t)).collect();
    order.into_iter().filter_map(|n| by_name.remove(&n)).collect()
}

fn quote(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

const PAGE: i64 = 2000;

/// Reads a table's rows in pages (along its key where it has one) and hands each, normalised,
/// to `each`. Call inside the snapshot's transaction.
pub fn read_rows(
    conn: &mut DbConn,
    table: &Table,
    mut each: impl FnMut(Vec<Value>) -> AppResult<()>,
) -> AppResult<u64> {
    let pg = !matches!(conn, DbConn::Sqlite(_));
    let exprs: Vec<String> = table
        .columns
        .iter()
        .map(|c| {
            let q = quote(&c.name);
            match (pg, c.kind) {
                (true, Kind::Bytes) => format!("encode({q}, 'hex')"),
                (true, Kind::Timestamp) => format!("to_char({q}, 'YYYY-MM-DD HH24:MI:SS.US')"),
                (true, Kind::Date) => format!("to_char({q}, 'YYYY-MM-DD')"),
                (false, Kind::Bytes) => format!("lower(hex({q}))"),
                _ => q,
            }
        })
        .collect();
    let select = if pg {
        format!("SELECT json_build_array({})::text AS j FROM {}", exprs.join(", "), quote(&table.name))
    } else {
        format!("SELECT json_array({}) AS j FROM {}", exprs.join(", "), quote(&table.name))
    };
    let key_at = table.key.as_ref().and_then(|k| table.columns.iter().position(|c| &c.name == k));
    let mut count = 0u64;
    let mut after = i64::MIN;
    loop {
        let rows: Vec<Json> = match (&table.key, key_at) {
            (Some(k), Some(_)) => {
                let q = format!("{select} WHERE {} > {after} ORDER BY {} LIMIT {PAGE}", quote(k), quote(k));
                diesel::sql_query(q).load(conn)?
            }
            _ => diesel::sql_query(select.clone()).load(conn)?,
        };
        let n = rows.len() as i64;
        for Json { j } in rows {
            let raw: Vec<Value> = serde_json::from_str(&j).map_err(|e| {
                AppError::internal_msg(ErrorCode::BackupRead, format!("表 {} 的一行无法读出: {e}", table.name))
            })?;
            let row: Vec<Value> = raw.into_iter().zip(&table.columns).map(|(v, c)| normalise(v, c.kind)).collect();
            if let Some(i) = key_at {
                after = row[i].as_i64().unwrap_or(after);
            }
            each(row)?;
            count += 1;
        }
        if key_at.is_none() || n < PAGE {
            return Ok(count);
        }
    }
}

/// One form for both backends' values. Instants to the microsecond, which is what PostgreSQL
/// keeps (SQLite's text may carry nanoseconds PostgreSQL would round).
fn normalise(v: Value, kind: Kind) -> Value {
    match (kind, v) {
        (Kind::Bool, Value::Number(n)) => Value::Bool(n.as_i64() != Some(0)),
        (Kind::Bytes, Value::String(s)) => Value::String(s.to_ascii_lowercase()),
        (Kind::Timestamp, Value::String(s)) => Value::String(instant(&s).unwrap_or(s)),
        (_, v) => v,
    }
}

fn instant(text: &str) -> Option<String> {
    use chrono::{NaiveDateTime, Timelike};
    let t = NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f")
        .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f"))
        .ok()?;
    let t = t.with_nanosecond(t.nanosecond() / 1000 * 1000)?;
    Some(t.format("%Y-%m-%d %H:%M:%S%.6f").to_string())
}

/// Writes rows of one table (as read by [`read_rows`]) in one statement: PostgreSQL casts each
/// field to its column's type with `json_populate_recordset`; SQLite lifts them out with
/// `json_extract` (and turns hex back into bytes).
pub fn write_rows(conn: &mut DbConn, table: &Table, rows: &[Vec<Value>]) -> AppResult<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let pg = !matches!(conn, DbConn::Sqlite(_));
    let objects: Vec<Value> = rows
        .iter()
        .map(|row| {
            let fields = table.columns.iter().zip(row).map(|(c, v)| {
                let v = match (pg, c.kind, v) {
                    (true, Kind::Bytes, Value::String(hex)) => Value::String(format!("\\x{hex}")),
                    (_, _, v) => v.clone(),
                };
                (c.name.clone(), v)
            });
            Value::Object(fields.collect())
        })
        .collect();
    let batch = Value::Array(objects).to_string();
    let names: Vec<String> = table.columns.iter().map(|c| quote(&c.name)).collect();
    let sql = if pg {
        format!(
            "INSERT INTO {t} ({cols}) SELECT {cols} FROM json_populate_recordset(NULL::{t}, $1::json)",
            t = quote(&table.name),
            cols = names.join(", ")
        )
    } else {
        let fields: Vec<String> = table
            .columns
            .iter()
            .map(|c| {
                let path = format!("json_extract(value, '$.\"{}\"')", c.name.replace('"', ""));
                if c.kind == Kind::Bytes { format!("unhex({path})") } else { path }
            })
            .collect();
        format!(
            "INSERT INTO {} ({}) SELECT {} FROM json_each(?)",
            quote(&table.name),
            names.join(", "),
            fields.join(", ")
        )
    };
    diesel::sql_query(sql).bind::<Text, _>(batch).execute(conn)?;
    Ok(())
}

pub fn count(conn: &mut DbConn, table: &str) -> AppResult<i64> {
    let c: Count = diesel::sql_query(format!("SELECT COUNT(*) AS n FROM {}", quote(table))).get_result(conn)?;
    Ok(c.n)
}

/// Clears a table the migrations seeded, before its rows from the backup go in.
pub fn clear(conn: &mut DbConn, table: &str) -> AppResult<()> {
    diesel::sql_query(format!("DELETE FROM {}", quote(table))).execute(conn)?;
    Ok(())
}

/// The migrations a database has run, oldest first: a backup restores only into the same.
pub fn migrations(conn: &mut DbConn) -> AppResult<Vec<String>> {
    let rows: Vec<Name> =
        diesel::sql_query("SELECT version AS name FROM __diesel_schema_migrations ORDER BY version").load(conn)?;
    Ok(rows.into_iter().map(|r| r.name).collect())
}

/// PostgreSQL hands out ids from sequences that know nothing of rows written with their ids:
/// each identity column's sequence is moved past the highest restored id.
pub fn advance_sequences(conn: &mut DbConn) -> AppResult<()> {
    if matches!(conn, DbConn::Sqlite(_)) {
        return Ok(());
    }
    #[derive(QueryableByName)]
    struct Identity {
        #[diesel(sql_type = Text)]
        t: String,
        #[diesel(sql_type = Text)]
        c: String,
    }
    let ids: Vec<Identity> = diesel::sql_query(
        "SELECT table_name::text AS t, column_name::text AS c FROM information_schema.columns \
         WHERE table_schema = 'public' AND is_identity = 'YES'",
    )
    .load(conn)?;
    for Identity { t, c } in ids {
        diesel::sql_query(format!(
            "SELECT setval(pg_get_serial_sequence('{qt}', '{c}'), COALESCE((SELECT MAX({qc}) FROM {qt}), 0) + 1, false)",
            qt = quote(&t),
            qc = quote(&c)
        ))
        .execute(conn)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parents_load_before_children_and_self_references_do_not_block() {
        let t = |n: &str| Table { name: n.into(), columns: vec![], key: None };
        let e = |c: &str, p: &str| Edge { child: c.into(), parent: p.into() };
        let order: Vec<String> = in_dependency_order(
            vec![t("students"), t("orgs"), t("audit_log"), t("classes")],
            &[e("students", "classes"), e("classes", "orgs"), e("students", "orgs"), e("orgs", "orgs")],
        )
        .into_iter()
        .map(|t| t.name)
        .collect();
        assert_eq!(order, ["audit_log", "orgs", "classes", "students"]);
    }

    #[test]
    fn both_backends_column_types_are_known() {
        assert_eq!(Kind::of_sqlite("BIGINT"), Some(Kind::Int));
        assert_eq!(Kind::of_sqlite("boolean"), Some(Kind::Bool));
        assert_eq!(Kind::of_pg("timestamp without time zone"), Some(Kind::Timestamp));
        assert_eq!(Kind::of_pg("bytea"), Some(Kind::Bytes));
        assert_eq!(Kind::of_pg("jsonb"), None);
        assert_eq!(normalise(Value::from(1), Kind::Bool), Value::Bool(true));
        assert_eq!(normalise(Value::from("ABCD"), Kind::Bytes), Value::from("abcd"));
        let at = |s: &str| normalise(Value::from(s), Kind::Timestamp);
        assert_eq!(at("2026-12-06 03:10:00.123456789"), Value::from("2026-12-06 03:10:00.123456"));
        assert_eq!(at("2026-12-06 03:10:00"), Value::from("2026-12-06 03:10:00.000000"));
        assert_eq!(at("2026-12-06T03:10:00.5"), Value::from("2026-12-06 03:10:00.500000"));
    }
}
