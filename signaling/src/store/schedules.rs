//! A room's recurring schedule, one per room, stored as the organiser gave it.

use sqlx::Row;

use super::{Store, now_ms};
use crate::error::AppError;

/// A stored schedule. Exceptions are JSON arrays of local date-times (`exdates`) and of
/// `{occurrence, start, duration_minutes}` objects (`moves`).
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduleRow {
    pub rrule: String,
    pub start_local: String,
    pub duration_minutes: i64,
    /// The schedule's own zone; `None` follows the room's.
    pub time_zone: Option<String>,
    pub exdates: String,
    pub moves: String,
    pub updated_at: i64,
}

impl Store {
    pub async fn schedule(&self, room_id: &str) -> Result<Option<ScheduleRow>, AppError> {
        let row = sqlx::query(
            "SELECT rrule, start_local, duration_minutes, time_zone, exdates, moves, updated_at \
             FROM schedules WHERE room_id = $1",
        )
        .bind(room_id)
        .fetch_optional(self.pool())
        .await?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(ScheduleRow {
            rrule: row.try_get("rrule")?,
            start_local: row.try_get("start_local")?,
            duration_minutes: row.try_get("duration_minutes")?,
            time_zone: row.try_get("time_zone")?,
            exdates: row.try_get("exdates")?,
            moves: row.try_get("moves")?,
            updated_at: row.try_get("updated_at")?,
        }))
    }

    /// Sets a room's schedule, replacing any earlier one.
    pub async fn put_schedule(&self, room_id: &str, s: &ScheduleRow) -> Result<(), AppError> {
        let mut tx = self.pool().begin().await?;
        sqlx::query("DELETE FROM schedules WHERE room_id = $1")
            .bind(room_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO schedules (room_id, rrule, start_local, duration_minutes, time_zone, \
             exdates, moves, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(room_id)
        .bind(&s.rrule)
        .bind(&s.start_local)
        .bind(s.duration_minutes)
        .bind(s.time_zone.as_deref())
        .bind(&s.exdates)
        .bind(&s.moves)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Removes a room's schedule; whether there was one.
    pub async fn delete_schedule(&self, room_id: &str) -> Result<bool, AppError> {
        let done = sqlx::query("DELETE FROM schedules WHERE room_id = $1")
            .bind(room_id)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }
}
