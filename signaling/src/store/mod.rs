//! The database: an embedded SQLite file by default, PostgreSQL when the URL says so.
//!
//! One set of queries serves both through sqlx's `Any` driver: every statement uses `$N`
//! placeholders (which SQLite also reads) and only text and 64-bit integer columns. Each backend
//! has its own migrations, embedded in the binary and run at start.
//!
//! Durability: SQLite runs in WAL mode with `synchronous=FULL` (sqlx's default), so a write is on
//! disk before its statement returns, and an acknowledged write survives the server being
//! killed. PostgreSQL commits are durable by default.

mod attendance;
mod board;
mod chat;
pub mod files;
mod keys;
pub mod lock;
mod members;
mod notes;
mod notes_history;
mod rooms;
mod schedules;
mod sessions;

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sqlx::AnyPool;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::Migrator;

pub use attendance::{MeetingPresence, Override, Presence};
pub use board::{BoardRecord, Quotas, StoredFile};
pub use chat::{ChatPage, ChatRecord};
pub use keys::{ApiKey, KeyRole};
pub use members::Member;
pub use notes::StoredDoc;
pub use notes_history::KeptDoc;
pub use rooms::{Room, RoomChanges};
pub use schedules::ScheduleRow;
pub use sessions::SignInLink;

use crate::error::AppError;

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("migrations/postgres");

/// Which database a [`Store`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A pool of connections to the database, with the queries Cohort runs.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// Text was deleted or replaced since the last [`Store::scrub`].
    scrub_needed: Arc<AtomicBool>,
}

impl Store {
    /// Connects to `url` (`sqlite://cohort.db`, `postgres://user@127.0.0.1/cohort`), creating a
    /// SQLite file that does not exist yet, and brings the schema up to date.
    pub async fn connect(url: &str) -> Result<Store, AppError> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            return Err(AppError::Config(format!(
                "--db must be a sqlite:// or postgres:// URL, not {:?}",
                redact(url)
            )));
        };
        let url = match backend {
            Backend::Sqlite if !url.contains("mode=") => {
                let sep = if url.contains('?') { '&' } else { '?' };
                format!("{url}{sep}mode=rwc")
            }
            _ => url.to_owned(),
        };
        let options = AnyConnectOptions::from_str(&url)
            .map_err(|e| AppError::Config(format!("--db {:?}: {e}", redact(&url))))?;
        let mut pool = AnyPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(10));
        if backend == Backend::Sqlite {
            // Freed space is zeroed, so that deleted chat is gone from the file, not only
            // unreachable (a per-connection setting).
            pool = pool.after_connect(|conn, _| {
                Box::pin(async move {
                    sqlx::query("PRAGMA secure_delete = ON")
                        .execute(conn)
                        .await
                        .map(|_| ())
                })
            });
        }
        let pool = pool.connect_with(options).await?;
        if backend == Backend::Sqlite {
            // WAL is a property of the file: set once, every later connection uses it.
            sqlx::query("PRAGMA journal_mode = WAL")
                .execute(&pool)
                .await?;
        }
        let migrator = match backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator.run(&pool).await?;
        Ok(Store {
            pool,
            backend,
            scrub_needed: Arc::new(AtomicBool::new(false)),
        })
    }

    /// Notes that text was deleted or replaced, for the next [`Store::scrub`].
    pub(crate) fn needs_scrub(&self) {
        self.scrub_needed.store(true, Ordering::Relaxed);
    }

    /// Removes what deleted text leaves behind, if any was deleted since the last scrub. On
    /// SQLite: the search index is merged into one segment (dropping the deleted words) and
    /// the write-ahead log is checkpointed and emptied (it holds old copies of pages). On
    /// PostgreSQL, old row versions stay in the table's files, unreadable, until vacuum
    /// reuses their space (docs/api.md, "Chat kept between meetings").
    pub async fn scrub(&self) -> Result<(), AppError> {
        if !self.scrub_needed.swap(false, Ordering::Relaxed) || self.backend != Backend::Sqlite {
            return Ok(());
        }
        let result = async {
            sqlx::query("INSERT INTO chat_fts (chat_fts) VALUES ('optimize')")
                .execute(&self.pool)
                .await?;
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(&self.pool)
                .await?;
            Ok::<_, AppError>(())
        }
        .await;
        if result.is_err() {
            // Tried again at the next scrub.
            self.needs_scrub();
        }
        result
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// A transaction that reads, decides, then writes (a quota, a position, a roster's size),
    /// made to run one at a time. On SQLite it takes the write lock at its start (`BEGIN
    /// IMMEDIATE`): two such transactions queue behind the busy timeout instead of the second
    /// failing on a stale snapshot. On PostgreSQL it locks the room's row, so that two writers
    /// of one room take turns, and with `server` a lock of the whole server's (for a check
    /// across rooms, as the uploads' total).
    pub(crate) async fn write_tx(
        &self,
        room_id: &str,
        server: bool,
    ) -> Result<sqlx::Transaction<'static, sqlx::Any>, AppError> {
        match self.backend {
            Backend::Sqlite => Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?),
            Backend::Postgres => {
                let mut tx = self.pool.begin().await?;
                if server {
                    // One key for "the server's uploads"; held until the transaction ends.
                    sqlx::query("SELECT pg_advisory_xact_lock(4242001)")
                        .execute(&mut *tx)
                        .await?;
                }
                sqlx::query("SELECT id FROM rooms WHERE id = $1 FOR UPDATE")
                    .bind(room_id)
                    .execute(&mut *tx)
                    .await?;
                Ok(tx)
            }
        }
    }

    /// Closes every connection; later queries fail.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// A database URL with any password replaced, for messages and logs.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    match rest.split_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

/// A stored time (Unix milliseconds) as RFC 3339.
pub fn rfc3339_ms(ms: i64) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339()
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_reach_messages() {
        assert_eq!(
            redact("postgres://cohort:s3cret@127.0.0.1/cohort"),
            "postgres://cohort:***@127.0.0.1/cohort"
        );
        assert_eq!(redact("sqlite://cohort.db"), "sqlite://cohort.db");
    }
}
