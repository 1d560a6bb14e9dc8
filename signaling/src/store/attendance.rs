//! Attendance as recorded: stretches of presence, opened at a join, closed at the leave, kept
//! alive by a heartbeat, and closed at the last heartbeat if the server died.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::Store;
use crate::attendance::register::HostMark;
use crate::attendance::{Interval, Status};
use crate::error::AppError;

/// A host's word on one person's status in one meeting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Override {
    pub identity: String,
    /// A [`crate::attendance::Status`], as stored.
    pub status: String,
    pub note: String,
    /// Who set it: the host's identity, or `key:<id>` for an organiser's key.
    pub set_by: String,
    pub set_at: i64,
}

pub use crate::attendance::Presence;

impl Override {
    /// The override as the register reads it; `None` for a status this server does not know.
    pub fn host_mark(&self) -> Option<HostMark> {
        Some(HostMark {
            status: Status::parse(&self.status)?,
            note: self.note.clone(),
            set_by: self.set_by.clone(),
            set_at: self.set_at,
        })
    }
}

/// The stretches of one meeting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeetingPresence {
    pub meeting: String,
    /// By identity.
    pub people: Vec<Presence>,
    /// Someone's stretch is still open.
    pub open: bool,
}

fn override_of(row: &AnyRow) -> Result<Override, sqlx::Error> {
    Ok(Override {
        identity: row.try_get("identity")?,
        status: row.try_get("status")?,
        note: row.try_get("note")?,
        set_by: row.try_get("set_by")?,
        set_at: row.try_get("set_at")?,
    })
}

/// Rows ordered by meeting, identity and join, grouped into meetings and people.
fn group(rows: Vec<AnyRow>, now_ms: i64) -> Result<Vec<MeetingPresence>, sqlx::Error> {
    let mut out: Vec<MeetingPresence> = Vec::new();
    for row in rows {
        let meeting: String = row.try_get("meeting")?;
        let identity: String = row.try_get("identity")?;
        let left: Option<i64> = row.try_get("left_at")?;
        let interval = Interval {
            start: row.try_get("joined_at")?,
            end: left.unwrap_or(now_ms),
        };
        let name: String = row.try_get("name")?;
        let talk_ms: i64 = row.try_get("talk_ms")?;
        if out.last().is_none_or(|m| m.meeting != meeting) {
            out.push(MeetingPresence {
                meeting,
                people: Vec::new(),
                open: false,
            });
        }
        // Invariant: a meeting was pushed just above when the last one was another.
        let m = out.last_mut().expect("a meeting for this row");
        m.open |= left.is_none();
        match m.people.last_mut() {
            Some(p) if p.identity == identity => {
                p.intervals.push(interval);
                p.name = name;
                p.talk_ms += talk_ms;
            }
            _ => m.people.push(Presence {
                identity,
                name,
                intervals: vec![interval],
                talk_ms,
            }),
        }
    }
    Ok(out)
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

    /// Closes a stretch at `at_ms`, with its talk time when the room keeps it.
    pub async fn close_presence(
        &self,
        id: &str,
        at_ms: i64,
        talk_ms: Option<i64>,
    ) -> Result<(), AppError> {
        let query = match talk_ms {
            None => sqlx::query(
                "UPDATE attendance SET left_at = $2, seen_at = $2 \
                 WHERE id = $1 AND left_at IS NULL",
            )
            .bind(id)
            .bind(at_ms),
            Some(talk) => sqlx::query(
                "UPDATE attendance SET left_at = $2, seen_at = $2, talk_ms = $3 \
                 WHERE id = $1 AND left_at IS NULL",
            )
            .bind(id)
            .bind(at_ms)
            .bind(talk),
        };
        query.execute(self.pool()).await?;
        Ok(())
    }

    /// The talk time so far of an open stretch.
    pub async fn set_talk_time(&self, id: &str, talk_ms: i64) -> Result<(), AppError> {
        sqlx::query("UPDATE attendance SET talk_ms = $2 WHERE id = $1 AND left_at IS NULL")
            .bind(id)
            .bind(talk_ms)
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
            "SELECT meeting, identity, name, joined_at, left_at, talk_ms FROM attendance \
             WHERE room_id = $1 AND meeting = $2 ORDER BY identity, joined_at",
        )
        .bind(room_id)
        .bind(meeting)
        .fetch_all(self.pool())
        .await?;
        Ok(group(rows, now_ms)?
            .pop()
            .map(|m| m.people)
            .unwrap_or_default())
    }

    /// Everyone's stretches, by meeting, of the stretches that began in `[from_ms, to_ms)`
    /// (open ones end at `now_ms`).
    pub async fn presence_between(
        &self,
        room_id: &str,
        from_ms: i64,
        to_ms: i64,
        now_ms: i64,
    ) -> Result<Vec<MeetingPresence>, AppError> {
        let rows = sqlx::query(
            "SELECT meeting, identity, name, joined_at, left_at, talk_ms FROM attendance \
             WHERE room_id = $1 AND joined_at >= $2 AND joined_at < $3 \
             ORDER BY meeting, identity, joined_at",
        )
        .bind(room_id)
        .bind(from_ms)
        .bind(to_ms)
        .fetch_all(self.pool())
        .await?;
        Ok(group(rows, now_ms)?)
    }

    /// Every override the room's hosts have set, with its meeting.
    pub async fn all_overrides(&self, room_id: &str) -> Result<Vec<(String, Override)>, AppError> {
        let rows = sqlx::query(
            "SELECT meeting, identity, status, note, set_by, set_at FROM attendance_overrides \
             WHERE room_id = $1",
        )
        .bind(room_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| Ok((row.try_get("meeting")?, override_of(row)?)))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(AppError::from)
    }

    /// A host's overrides for one meeting, by identity.
    pub async fn overrides(&self, room_id: &str, meeting: &str) -> Result<Vec<Override>, AppError> {
        let rows = sqlx::query(
            "SELECT identity, status, note, set_by, set_at FROM attendance_overrides \
             WHERE room_id = $1 AND meeting = $2",
        )
        .bind(room_id)
        .bind(meeting)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(override_of)
            .collect::<Result<_, sqlx::Error>>()
            .map_err(AppError::from)
    }

    /// Sets (or replaces) a host's override of one person's status in one meeting.
    pub async fn set_override(
        &self,
        room_id: &str,
        meeting: &str,
        o: &Override,
    ) -> Result<(), AppError> {
        sqlx::query(
            "INSERT INTO attendance_overrides (room_id, meeting, identity, status, note, set_by, \
             set_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (room_id, meeting, identity) DO UPDATE SET status = excluded.status, \
             note = excluded.note, set_by = excluded.set_by, set_at = excluded.set_at",
        )
        .bind(room_id)
        .bind(meeting)
        .bind(&o.identity)
        .bind(&o.status)
        .bind(&o.note)
        .bind(&o.set_by)
        .bind(o.set_at)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Removes a host's override; whether there was one.
    pub async fn clear_override(
        &self,
        room_id: &str,
        meeting: &str,
        identity: &str,
    ) -> Result<bool, AppError> {
        let done = sqlx::query(
            "DELETE FROM attendance_overrides WHERE room_id = $1 AND meeting = $2 \
             AND identity = $3",
        )
        .bind(room_id)
        .bind(meeting)
        .bind(identity)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Deletes everything the room keeps of one person's attendance (their stretches and the
    /// hosts' overrides), on request; the count of records deleted.
    pub async fn delete_attendance_of(
        &self,
        room_id: &str,
        identity: &str,
    ) -> Result<u64, AppError> {
        let mut tx = self.pool().begin().await?;
        let stretches = sqlx::query("DELETE FROM attendance WHERE room_id = $1 AND identity = $2")
            .bind(room_id)
            .bind(identity)
            .execute(&mut *tx)
            .await?;
        let overrides =
            sqlx::query("DELETE FROM attendance_overrides WHERE room_id = $1 AND identity = $2")
                .bind(room_id)
                .bind(identity)
                .execute(&mut *tx)
                .await?;
        tx.commit().await?;
        Ok(stretches.rows_affected() + overrides.rows_affected())
    }

    /// Deletes the attendance past its room's retention at `now_ms` (closed stretches that
    /// began before it, and overrides set before it); the count deleted.
    pub async fn purge_attendance(&self, now_ms: i64) -> Result<u64, AppError> {
        let stretches = sqlx::query(
            "DELETE FROM attendance WHERE left_at IS NOT NULL AND id IN (SELECT a.id \
             FROM attendance a JOIN rooms r ON r.id = a.room_id \
             WHERE r.attendance_retention_days IS NOT NULL \
             AND a.joined_at < $1 - r.attendance_retention_days * 86400000)",
        )
        .bind(now_ms)
        .execute(self.pool())
        .await?;
        let overrides = sqlx::query(
            "DELETE FROM attendance_overrides WHERE EXISTS (SELECT 1 FROM rooms r \
             WHERE r.id = attendance_overrides.room_id \
             AND r.attendance_retention_days IS NOT NULL \
             AND attendance_overrides.set_at < $1 - r.attendance_retention_days * 86400000)",
        )
        .bind(now_ms)
        .execute(self.pool())
        .await?;
        Ok(stretches.rows_affected() + overrides.rows_affected())
    }
}
