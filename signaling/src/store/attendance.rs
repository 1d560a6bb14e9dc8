//! Attendance as recorded: stretches of presence, opened at a join, closed at the leave, kept
//! alive by a heartbeat, and closed at the last heartbeat if the server died.

use sqlx::Row;

use super::Store;
use crate::attendance::Interval;
use crate::error::AppError;

/// One person's stretches in one meeting, with the name they used last.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Presence {
    pub identity: String,
    pub name: String,
    pub intervals: Vec<Interval>,
}

impl Store {
    /// The meeting a join without a scheduled one belongs to: the session under way in the
    /// room (the start of its earliest open stretch), if any.
    pub async fn open_session(&self, room_id: &str) -> Result<Option<String>, AppError> {
        Ok(sqlx::query_scalar(
            "SELECT meeting FROM attendance WHERE room_id = $1 AND left_at IS NULL \
             ORDER BY joined_at LIMIT 1",
        )
        .bind(room_id)
        .fetch_optional(self.pool())
        .await?)
    }

    /// Opens a stretch of presence; returns its id.
    pub async fn open_presence(
        &self,
        room_id: &str,
        meeting: &str,
        identity: &str,
        name: &str,
        at_ms: i64,
    ) -> Result<String, AppError> {
        let id = uuid::Uuid::new_v4().simple().to_string();
        sqlx::query(
            "INSERT INTO attendance (id, room_id, meeting, identity, name, joined_at, left_at, \
             seen_at) VALUES ($1, $2, $3, $4, $5, $6, NULL, $6)",
        )
        .bind(&id)
        .bind(room_id)
        .bind(meeting)
        .bind(identity)
        .bind(name)
        .bind(at_ms)
        .execute(self.pool())
        .await?;
        Ok(id)
    }

    /// Closes a stretch at `at_ms`.
    pub async fn close_presence(&self, id: &str, at_ms: i64) -> Result<(), AppError> {
        sqlx::query(
            "UPDATE attendance SET left_at = $2, seen_at = $2 WHERE id = $1 AND left_at IS NULL",
        )
        .bind(id)
        .bind(at_ms)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The heartbeat: every open stretch was alive at `at_ms`.
    pub async fn presence_alive(&self, at_ms: i64) -> Result<u64, AppError> {
        let done = sqlx::query("UPDATE attendance SET seen_at = $1 WHERE left_at IS NULL")
            .bind(at_ms)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected())
    }

    /// At start, after a crash: every stretch still open ends at the last moment it was known
    /// alive. One server per database (`store::lock`), so none of them is live.
    pub async fn close_dangling_presence(&self) -> Result<u64, AppError> {
        let done = sqlx::query("UPDATE attendance SET left_at = seen_at WHERE left_at IS NULL")
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected())
    }

    /// The meetings the room has attendance for (of `identity` only, when given), latest
    /// first.
    pub async fn attended_meetings(
        &self,
        room_id: &str,
        identity: Option<&str>,
    ) -> Result<Vec<String>, AppError> {
        let query = match identity {
            None => sqlx::query_scalar(
                "SELECT meeting FROM attendance WHERE room_id = $1 GROUP BY meeting \
                 ORDER BY MIN(joined_at) DESC",
            )
            .bind(room_id),
            Some(who) => sqlx::query_scalar(
                "SELECT meeting FROM attendance WHERE room_id = $1 AND identity = $2 \
                 GROUP BY meeting ORDER BY MIN(joined_at) DESC",
            )
            .bind(room_id)
            .bind(who),
        };
        Ok(query.fetch_all(self.pool()).await?)
    }

    /// Everyone's stretches in one meeting (open ones end at `now_ms`), by identity.
    pub async fn presence(
        &self,
        room_id: &str,
        meeting: &str,
        now_ms: i64,
    ) -> Result<Vec<Presence>, AppError> {
        let rows = sqlx::query(
            "SELECT identity, name, joined_at, left_at FROM attendance \
             WHERE room_id = $1 AND meeting = $2 ORDER BY identity, joined_at",
        )
        .bind(room_id)
        .bind(meeting)
        .fetch_all(self.pool())
        .await?;
        let mut out: Vec<Presence> = Vec::new();
        for row in rows {
            let identity: String = row.try_get("identity")?;
            let interval = Interval {
                start: row.try_get("joined_at")?,
                end: row.try_get::<Option<i64>, _>("left_at")?.unwrap_or(now_ms),
            };
            let name: String = row.try_get("name")?;
            match out.last_mut() {
                Some(p) if p.identity == identity => {
                    p.intervals.push(interval);
                    p.name = name;
                }
                _ => out.push(Presence {
                    identity,
                    name,
                    intervals: vec![interval],
                }),
            }
        }
        Ok(out)
    }
}
