//! Rooms: created once by an organiser, kept between meetings.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Store, now_ms};
use crate::error::{AppError, field};

/// A stored room.
#[derive(Debug, Clone, PartialEq)]
pub struct Room {
    pub id: String,
    pub slug: String,
    pub name: String,
    pub description: Option<String>,
    pub time_zone: String,
    pub capacity: i64,
    pub early_join_minutes: i64,
    pub grace_minutes: i64,
    /// The key that signs this room's invites (base64url). Rotating it revokes every invite.
    pub invite_secret: String,
    /// Bumped on every rotation of `invite_secret`.
    pub key_version: i64,
    /// The organiser key that manages the room (admins manage every room); `None` for rooms
    /// made before rooms had owners, which only admins manage.
    pub owner_key_id: Option<String>,
    /// Days chat is kept; `None` keeps it for ever.
    pub chat_retention_days: Option<i64>,
    /// `off`, `attendance` or `talk_time` ([`crate::attendance::Mode`]).
    pub attendance_mode: String,
    pub late_after_minutes: i64,
    pub min_present_percent: i64,
    /// Days attendance is kept; `None` keeps it for as long as the room.
    pub attendance_retention_days: Option<i64>,
    /// Only hosts edit the shared notes.
    pub notes_read_only: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

/// The editable fields of a room, all already checked.
#[derive(Debug, Clone, PartialEq)]
pub struct RoomChanges {
    pub slug: String,
    pub name: String,
    pub description: Option<String>,
    pub time_zone: String,
    pub capacity: i64,
    pub early_join_minutes: i64,
    pub grace_minutes: i64,
    pub chat_retention_days: Option<i64>,
    pub attendance_mode: String,
    pub late_after_minutes: i64,
    pub min_present_percent: i64,
    pub attendance_retention_days: Option<i64>,
    pub notes_read_only: bool,
}

/// `SELECT` of every room column, then `$tail`, as one static string.
macro_rules! select_rooms {
    ($tail:literal) => {
        concat!(
            "SELECT id, slug, name, description, time_zone, capacity, early_join_minutes, ",
            "grace_minutes, invite_secret, key_version, owner_key_id, chat_retention_days, ",
            "attendance_mode, late_after_minutes, min_present_percent, attendance_retention_days, notes_read_only, ",
            "created_at, updated_at ",
            "FROM rooms ",
            $tail
        )
    };
}

fn room(row: &AnyRow) -> Result<Room, sqlx::Error> {
    Ok(Room {
        id: row.try_get("id")?,
        slug: row.try_get("slug")?,
        name: row.try_get("name")?,
        description: row.try_get("description")?,
        time_zone: row.try_get("time_zone")?,
        capacity: row.try_get("capacity")?,
        early_join_minutes: row.try_get("early_join_minutes")?,
        grace_minutes: row.try_get("grace_minutes")?,
        invite_secret: row.try_get("invite_secret")?,
        key_version: row.try_get("key_version")?,
        owner_key_id: row.try_get("owner_key_id")?,
        chat_retention_days: row.try_get("chat_retention_days")?,
        attendance_mode: row.try_get("attendance_mode")?,
        late_after_minutes: row.try_get("late_after_minutes")?,
        min_present_percent: row.try_get("min_present_percent")?,
        attendance_retention_days: row.try_get("attendance_retention_days")?,
        notes_read_only: row.try_get::<i64, _>("notes_read_only")? != 0,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>;

/// Binds `$1` to the room's id and `$2` to `$14` to its editable fields, in column order.
fn bind_changes<'q>(query: AnyQuery<'q>, id: &'q str, changes: &'q RoomChanges) -> AnyQuery<'q> {
    query
        .bind(id)
        .bind(changes.slug.as_str())
        .bind(changes.name.as_str())
        .bind(changes.description.as_deref())
        .bind(changes.time_zone.as_str())
        .bind(changes.capacity)
        .bind(changes.early_join_minutes)
        .bind(changes.grace_minutes)
        .bind(changes.chat_retention_days)
        .bind(changes.attendance_mode.as_str())
        .bind(changes.late_after_minutes)
        .bind(changes.min_present_percent)
        .bind(changes.attendance_retention_days)
        .bind(i64::from(changes.notes_read_only))
}

/// A unique-constraint failure on `slug` becomes a 409 naming the field.
fn slug_conflict(e: sqlx::Error, slug: &str) -> AppError {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => AppError::Conflict(field(
            "slug",
            format!("the slug {slug:?} is already taken by another room"),
        )),
        _ => AppError::Database(e),
    }
}

impl Store {
    /// Stores a new room managed by the key `owner` (by admins only when `None`). A taken slug is a [`AppError::Conflict`].
    pub async fn insert_room(
        &self,
        id: &str,
        changes: &RoomChanges,
        invite_secret: &str,
        owner: Option<&str>,
    ) -> Result<Room, AppError> {
        let now = now_ms();
        let query = sqlx::query(
            "INSERT INTO rooms (id, slug, name, description, time_zone, capacity, \
             early_join_minutes, grace_minutes, chat_retention_days, attendance_mode, \
             late_after_minutes, min_present_percent, attendance_retention_days, notes_read_only, \
             invite_secret, key_version, owner_key_id, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, 1, $16, $17, $17)",
        );
        bind_changes(query, id, changes)
            .bind(invite_secret)
            .bind(owner)
            .bind(now)
            .execute(self.pool())
            .await
            .map_err(|e| slug_conflict(e, &changes.slug))?;
        self.existing_room(id).await
    }

    pub async fn room(&self, id: &str) -> Result<Option<Room>, AppError> {
        let row = sqlx::query(select_rooms!("WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.as_ref().map(room).transpose()?)
    }

    /// The room `id`, or a 404 naming it.
    pub async fn existing_room(&self, id: &str) -> Result<Room, AppError> {
        self.room(id).await?.ok_or(AppError::NotFound("room"))
    }

    pub async fn room_by_slug(&self, slug: &str) -> Result<Option<Room>, AppError> {
        let row = sqlx::query(select_rooms!("WHERE slug = $1"))
            .bind(slug)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.as_ref().map(room).transpose()?)
    }

    /// Up to `limit` rooms in slug order, starting after the slug `after`: every room, or
    /// only those `owner` manages.
    pub async fn rooms(
        &self,
        after: Option<&str>,
        limit: i64,
        owner: Option<&str>,
    ) -> Result<Vec<Room>, AppError> {
        let after = after.unwrap_or("");
        let rows = match owner {
            None => {
                sqlx::query(select_rooms!("WHERE slug > $1 ORDER BY slug ASC LIMIT $2"))
                    .bind(after)
                    .bind(limit)
                    .fetch_all(self.pool())
                    .await?
            }
            Some(owner) => {
                sqlx::query(select_rooms!(
                    "WHERE owner_key_id = $3 AND slug > $1 ORDER BY slug ASC LIMIT $2"
                ))
                .bind(after)
                .bind(limit)
                .bind(owner)
                .fetch_all(self.pool())
                .await?
            }
        };
        Ok(rows.iter().map(room).collect::<Result<_, _>>()?)
    }

    /// Hands a room to the key `owner` to manage.
    pub async fn set_room_owner(&self, id: &str, owner: &str) -> Result<Option<Room>, AppError> {
        let done = sqlx::query("UPDATE rooms SET owner_key_id = $2, updated_at = $3 WHERE id = $1")
            .bind(id)
            .bind(owner)
            .bind(now_ms())
            .execute(self.pool())
            .await?;
        self.updated(id, done).await
    }

    /// The room `id` as an update left it; `None` when the update found no such room.
    async fn updated(
        &self,
        id: &str,
        done: sqlx::any::AnyQueryResult,
    ) -> Result<Option<Room>, AppError> {
        if done.rows_affected() == 0 {
            return Ok(None);
        }
        self.room(id).await
    }

    /// Replaces a room's editable fields; `None` when there is no such room.
    pub async fn update_room(
        &self,
        id: &str,
        changes: &RoomChanges,
    ) -> Result<Option<Room>, AppError> {
        let query = sqlx::query(
            "UPDATE rooms SET slug = $2, name = $3, description = $4, time_zone = $5, \
             capacity = $6, early_join_minutes = $7, grace_minutes = $8, \
             chat_retention_days = $9, attendance_mode = $10, late_after_minutes = $11, \
             min_present_percent = $12, attendance_retention_days = $13, notes_read_only = $14, \
             updated_at = $15 \
             WHERE id = $1",
        );
        let done = bind_changes(query, id, changes)
            .bind(now_ms())
            .execute(self.pool())
            .await
            .map_err(|e| slug_conflict(e, &changes.slug))?;
        self.updated(id, done).await
    }

    /// Gives a room a new invite key, which revokes every invite signed with the old one.
    pub async fn rotate_invite_secret(
        &self,
        id: &str,
        secret: &str,
    ) -> Result<Option<Room>, AppError> {
        let done = sqlx::query(
            "UPDATE rooms SET invite_secret = $2, key_version = key_version + 1, updated_at = $3 \
             WHERE id = $1",
        )
        .bind(id)
        .bind(secret)
        .bind(now_ms())
        .execute(self.pool())
        .await?;
        self.updated(id, done).await
    }

    /// Deletes a room, its schedule, its members, its chat and its board; whether it existed.
    /// The caller removes the board's files (see `Store::room_file_ids`); any left are swept
    /// by [`crate::upkeep`].
    pub async fn delete_room(&self, id: &str) -> Result<bool, AppError> {
        let mut tx = self.pool().begin().await?;
        sqlx::query("DELETE FROM schedules WHERE room_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM members WHERE room_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM chat_messages WHERE room_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM board_items WHERE room_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        for table in [
            "DELETE FROM attendance_overrides WHERE room_id = $1",
            "DELETE FROM doc_updates WHERE room_id = $1",
            "DELETE FROM doc_snapshots WHERE room_id = $1",
        ] {
            sqlx::query(table).bind(id).execute(&mut *tx).await?;
        }
        sqlx::query("DELETE FROM attendance WHERE room_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let done = sqlx::query("DELETE FROM rooms WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }
}
