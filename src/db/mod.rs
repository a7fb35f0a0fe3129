//! One connection type over bundled SQLite and PostgreSQL, its pool and its migrations.

pub mod at_rest;
pub mod backup;
pub mod schema;

use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::r2d2::{self, ManageConnection, PooledConnection};
use diesel::{Connection, RunQueryDsl};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::error::{AppError, ErrorCode};

#[derive(diesel::MultiConnection)]
pub enum DbConn {
    #[cfg(feature = "postgres")]
    Pg(diesel::PgConnection),
    // Last: SQLite accepts any string as a path.
    Sqlite(diesel::SqliteConnection),
}

pub const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
#[cfg(feature = "postgres")]
pub const PG_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// Runs the same body once per backend, so backend-only DSL (upserts, batch inserts) compiles.
#[macro_export]
macro_rules! per_backend {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            #[cfg(feature = "postgres")]
            $crate::db::DbConn::Pg($c) => $body,
            $crate::db::DbConn::Sqlite($c) => $body,
        }
    };
}

/// Writes many rows of one table in the caller's transaction: PostgreSQL by binary COPY (no
/// statement to parse and plan, no bind-parameter limit), SQLite by one prepared single-row
/// INSERT run per row (it has no COPY; a multi-row INSERT is parsed anew each time and keeps a
/// statement journal, which cost more than the steps it saves). `$rows` is a slice of a type that
/// is `Insertable` for the table with `treat_none_as_default_value = false` (COPY has no
/// DEFAULT). Evaluates to a `QueryResult<()>`.
#[macro_export]
macro_rules! insert_bulk {
    ($conn:expr, $table:expr, $rows:expr) => {
        match $conn {
            #[cfg(feature = "postgres")]
            $crate::db::DbConn::Pg(c) => diesel::copy_from($table).from_insertable($rows).execute(c).map(|_| ()),
            $crate::db::DbConn::Sqlite(c) => $rows.iter().try_for_each(|row| {
                diesel::RunQueryDsl::execute(diesel::insert_into($table).values(row), c).map(|_| ())
            }),
        }
    };
}

/// Which backend a database URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn of(url: &str) -> Backend {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            Backend::Sqlite
        }
    }
}

/// The file path a SQLite URL names (`sqlite://data/x.db`, `sqlite:data/x.db` or a bare path).
pub fn sqlite_path(url: &str) -> &str {
    url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")).unwrap_or(url)
}

/// Opens connections by URL scheme and says plainly why one failed
/// (diesel's derived manager swallows the real cause).
#[derive(Debug, Clone)]
pub struct DbConnManager {
    url: String,
}

impl DbConnManager {
    pub fn new(url: &str) -> Self {
        Self { url: url.to_owned() }
    }
}

impl ManageConnection for DbConnManager {
    type Connection = DbConn;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<DbConn, r2d2::Error> {
        match Backend::of(&self.url) {
            Backend::Postgres => {
                #[cfg(feature = "postgres")]
                {
                    let c = diesel::PgConnection::establish(&self.url).map_err(r2d2::Error::ConnectionError)?;
                    Ok(DbConn::Pg(c))
                }
                #[cfg(not(feature = "postgres"))]
                Err(r2d2::Error::ConnectionError(diesel::ConnectionError::BadConnection(
                    "这是 PostgreSQL 地址，但本程序编译时未启用 postgres 功能".into(),
                )))
            }
            Backend::Sqlite => {
                let path = sqlite_path(&self.url);
                if let Some(dir) = Path::new(path).parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(|e| {
                        r2d2::Error::ConnectionError(diesel::ConnectionError::BadConnection(format!(
                            "无法创建数据库目录 {}: {e}",
                            dir.display()
                        )))
                    })?;
                }
                let mut c = diesel::SqliteConnection::establish(path).map_err(r2d2::Error::ConnectionError)?;
                // WAL is a property of the file, set once in `connect`; these are per connection.
                // A 64 MB page cache keeps large imports from spilling pages mid-transaction.
                c.batch_execute(
                    "PRAGMA busy_timeout = 10000; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; \
                     PRAGMA cache_size = -65536; PRAGMA temp_store = MEMORY;",
                )
                .map_err(r2d2::Error::QueryError)?;
                Ok(DbConn::Sqlite(c))
            }
        }
    }

    fn is_valid(&self, conn: &mut DbConn) -> Result<(), r2d2::Error> {
        conn.batch_execute("SELECT 1").map_err(r2d2::Error::QueryError)
    }

    /// A connection left inside a transaction (a panic or an error mid-transaction) or returned
    /// while panicking is dropped, not handed to the next request half-way through someone's work.
    fn has_broken(&self, conn: &mut DbConn) -> bool {
        use diesel::r2d2::R2D2Connection;
        std::thread::panicking() || conn.is_broken()
    }
}

pub type Pool = r2d2::Pool<DbConnManager>;
pub type PooledConn = PooledConnection<DbConnManager>;

/// Builds the pool and applies pending migrations.
pub fn connect(url: &str, max_size: u32) -> Result<Pool, AppError> {
    if Backend::of(url) == Backend::Sqlite {
        // Switching to WAL takes an exclusive lock: do it once, before the pool opens
        // connections in parallel.
        let mut first = DbConnManager::new(url).connect().map_err(|e| {
            AppError::internal_msg(ErrorCode::DbConnect, format!("无法打开数据库 {}: {e}", redact_url(url)))
        })?;
        first.batch_execute("PRAGMA journal_mode = WAL;")?;
    }
    let pool = pool_of(url, max_size)?;
    let mut conn = pool.get()?;
    migrate(&mut conn)?;
    Ok(pool)
}

fn pool_of(url: &str, max_size: u32) -> Result<Pool, AppError> {
    r2d2::Pool::builder()
        .max_size(max_size)
        // A page waits this long for a connection before saying the database cannot be reached.
        .connection_timeout(Duration::from_secs(5))
        .build(DbConnManager::new(url))
        .map_err(|e| AppError::internal_msg(ErrorCode::DbConnect, format!("无法连接数据库 {}: {e}", redact_url(url))))
}

/// A pool on a streaming replica of the database (PostgreSQL): read-only, so nothing is
/// migrated or written through it.
pub fn connect_replica(url: &str, max_size: u32) -> Result<Pool, AppError> {
    if Backend::of(url) != Backend::Postgres {
        return Err(AppError::internal_msg(
            ErrorCode::DbConnect,
            "只读副本（MEALROLL_READ_DATABASE_URL）须为 PostgreSQL 流复制备库".into(),
        ));
    }
    pool_of(url, max_size)
}

/// Applies the embedded migrations of the connection's backend; returns how many ran.
pub fn migrate(conn: &mut DbConn) -> Result<usize, AppError> {
    let applied = match conn {
        #[cfg(feature = "postgres")]
        DbConn::Pg(_) => conn.run_pending_migrations(PG_MIGRATIONS),
        DbConn::Sqlite(_) => conn.run_pending_migrations(SQLITE_MIGRATIONS),
    }
    .map_err(|e| AppError::internal_msg(ErrorCode::DbMigrate, format!("数据库迁移失败: {e}")))?;
    Ok(applied.len())
}

/// SQLite has one writer; a process-wide lock keeps this process's write transactions
/// from tripping over each other's snapshot upgrades (SQLITE_BUSY_SNAPSHOT).
static SQLITE_WRITER: Mutex<()> = Mutex::new(());

/// Runs `f` in a write transaction: all of it or none of it. Called inside another one (a
/// decision recomputing the months it touches), it is a savepoint of that one.
pub fn write_tx<T, F>(conn: &mut DbConn, f: F) -> Result<T, AppError>
where
    F: FnOnce(&mut DbConn) -> Result<T, AppError>,
{
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    let DbConn::Sqlite(sqlite) = conn else {
        return conn.transaction(f);
    };
    let nested =
        AnsiTransactionManager::transaction_manager_status_mut(sqlite).transaction_depth().is_ok_and(|d| d.is_some());
    if nested {
        // The outer transaction already holds the write lock (and the writer mutex).
        return conn.transaction(f);
    }
    let _guard = SQLITE_WRITER.lock().unwrap_or_else(|p| p.into_inner());
    // BEGIN IMMEDIATE takes the write lock before the first read, waiting under busy_timeout:
    // a deferred transaction whose snapshot is overtaken by a write outside `write_tx` (a
    // session being touched) would fail at its first write with SQLITE_BUSY_SNAPSHOT.
    AnsiTransactionManager::begin_transaction_sql(sqlite, "BEGIN IMMEDIATE")?;
    match f(conn) {
        Ok(value) => match <DbConn as Connection>::TransactionManager::commit_transaction(conn) {
            Ok(()) => Ok(value),
            Err(e) => {
                let _ = <DbConn as Connection>::TransactionManager::rollback_transaction(conn);
                Err(e.into())
            }
        },
        Err(e) => {
            <DbConn as Connection>::TransactionManager::rollback_transaction(conn)?;
            Err(e)
        }
    }
}

/// Serialises writers of a hash-chained table for the rest of the transaction (PostgreSQL;
/// SQLite writers are already serialised).
pub fn lock_chain(conn: &mut DbConn, table: &str) -> Result<(), AppError> {
    match conn {
        #[cfg(feature = "postgres")]
        DbConn::Pg(c) => {
            diesel::sql_query(format!("LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE")).execute(c)?;
        }
        DbConn::Sqlite(_) => {}
    }
    Ok(())
}

/// Hides a password in a database URL before it reaches a message or a log.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.find(':') {
                Some(colon) => format!("{}{}:***{}", &url[..s + 3], &creds[..colon], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_is_chosen_by_scheme() {
        assert_eq!(Backend::of("postgres://u@h/db"), Backend::Postgres);
        assert_eq!(Backend::of("postgresql://u@h/db"), Backend::Postgres);
        assert_eq!(Backend::of("sqlite://data/mealroll.db"), Backend::Sqlite);
        assert_eq!(sqlite_path("sqlite://data/mealroll.db"), "data/mealroll.db");
        assert_eq!(sqlite_path("/tmp/x.db"), "/tmp/x.db");
    }

    #[test]
    fn passwords_never_leave_in_urls() {
        assert_eq!(redact_url("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact_url("postgres://u@h/db"), "postgres://u@h/db");
    }
}
