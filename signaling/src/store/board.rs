//! A room's resource board: items, their order, and the bytes their files take against the
//! room's quota and the server's.

use protocol::{BoardFile, BoardItem};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::Store;
use crate::error::AppError;

/// A file of an item as stored: its random id in the data directory, and what it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredFile {
    pub id: String,
    pub name: String,
    pub mime: String,
    pub size: i64,
    pub inline: bool,
}

/// An item as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoardRecord {
    pub room_id: String,
    pub item: BoardItem,
    pub file: Option<StoredFile>,
}

/// How much a room and the server may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quotas {
    pub items_per_room: i64,
    pub room_bytes: i64,
    pub total_bytes: i64,
}

/// `SELECT` of every board column, then `$tail`, as one static string.
macro_rules! select_items {
    ($tail:literal) => {
        concat!(
            "SELECT id, room_id, kind, title, description, url, body, file_id, file_name, ",
            "file_type, file_size, identity, author_name, meeting, pinned, position, created_at, ",
            "updated_at FROM board_items ",
            $tail
        )
    };
}

fn ms(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

fn record(row: &AnyRow) -> Result<BoardRecord, sqlx::Error> {
    let id: String = row.try_get("id")?;
    let room_id: String = row.try_get("room_id")?;
    let file_id: Option<String> = row.try_get("file_id")?;
    let file = match file_id {
        Some(fid) => {
            let mime: String = row.try_get("file_type")?;
            Some(StoredFile {
                inline: mime.starts_with("image/"),
                id: fid,
                name: row
                    .try_get::<Option<String>, _>("file_name")?
                    .unwrap_or_default(),
                size: row.try_get::<Option<i64>, _>("file_size")?.unwrap_or(0),
                mime,
            })
        }
        None => None,
    };
    let wire_file = file.as_ref().map(|f| BoardFile {
        name: f.name.clone(),
        mime: f.mime.clone(),
        size: u64::try_from(f.size).unwrap_or(0),
        inline: f.inline,
        download: format!("/api/v1/rooms/{room_id}/board/{id}/file"),
    });
    let pinned: i64 = row.try_get("pinned")?;
    Ok(BoardRecord {
        item: BoardItem {
            id,
            kind: row.try_get("kind")?,
            title: row.try_get("title")?,
            description: row.try_get("description")?,
            url: row.try_get("url")?,
            body: row.try_get("body")?,
            file: wire_file,
            identity: row.try_get("identity")?,
            author_name: row.try_get("author_name")?,
            meeting: row.try_get("meeting")?,
            pinned: pinned != 0,
            position: row.try_get("position")?,
            created_at_ms: ms(row.try_get("created_at")?),
            updated_at_ms: ms(row.try_get("updated_at")?),
        },
        room_id,
        file,
    })
}

/// Why a new item did not fit.
fn full(what: &str) -> AppError {
    AppError::Quota(what.to_owned())
}

impl Store {
    /// Stores a new item at the end of the board, if it fits the quotas: checked and written
    /// in one transaction, so two uploads cannot both take the last of the room's space.
    pub async fn insert_board_item(
        &self,
        r: &BoardRecord,
        q: Quotas,
    ) -> Result<BoardItem, AppError> {
        let mut tx = self.write_tx(&r.room_id, r.file.is_some()).await?;
        let (count, used): (i64, Option<i64>) = sqlx::query_as(
            "SELECT COUNT(*), CAST(SUM(file_size) AS BIGINT) FROM board_items WHERE room_id = $1",
        )
        .bind(&r.room_id)
        .fetch_one(&mut *tx)
        .await?;
        if count >= q.items_per_room {
            return Err(full(&format!(
                "the board holds at most {} items",
                q.items_per_room
            )));
        }
        if let Some(f) = &r.file {
            if used.unwrap_or(0).saturating_add(f.size) > q.room_bytes {
                return Err(full(&format!(
                    "the room's uploads are full ({}); delete some files first",
                    crate::board::size(u64::try_from(q.room_bytes).unwrap_or(0))
                )));
            }
            let total: Option<i64> =
                sqlx::query_scalar("SELECT CAST(SUM(file_size) AS BIGINT) FROM board_items")
                    .fetch_one(&mut *tx)
                    .await?;
            if total.unwrap_or(0).saturating_add(f.size) > q.total_bytes {
                return Err(full(
                    "the server's space for uploads is full; ask its admin",
                ));
            }
        }
        let last: Option<i64> =
            sqlx::query_scalar("SELECT MAX(position) FROM board_items WHERE room_id = $1")
                .bind(&r.room_id)
                .fetch_one(&mut *tx)
                .await?;
        let position = last.map_or(0, |p| p + 1);
        let at = i64::try_from(r.item.created_at_ms).unwrap_or(i64::MAX);
        let file = r.file.as_ref();
        sqlx::query(
            "INSERT INTO board_items (id, room_id, kind, title, description, url, body, file_id, \
             file_name, file_type, file_size, identity, author_name, meeting, pinned, position, \
             created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $17)",
        )
        .bind(&r.item.id)
        .bind(&r.room_id)
        .bind(&r.item.kind)
        .bind(&r.item.title)
        .bind(r.item.description.as_deref())
        .bind(r.item.url.as_deref())
        .bind(r.item.body.as_deref())
        .bind(file.map(|f| f.id.as_str()))
        .bind(file.map(|f| f.name.as_str()))
        .bind(file.map(|f| f.mime.as_str()))
        .bind(file.map(|f| f.size))
        .bind(&r.item.identity)
        .bind(&r.item.author_name)
        .bind(r.item.meeting.as_deref())
        .bind(i64::from(r.item.pinned))
        .bind(position)
        .bind(at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.board_item(&r.room_id, &r.item.id)
            .await?
            .map(|r| r.item)
            .ok_or(AppError::NotFound("board item"))
    }

    /// The room's board: pinned items first, then in order.
    pub async fn board(&self, room_id: &str) -> Result<Vec<BoardRecord>, AppError> {
        let rows = sqlx::query(select_items!(
            "WHERE room_id = $1 ORDER BY pinned DESC, position ASC, created_at ASC"
        ))
        .bind(room_id)
        .fetch_all(self.pool())
        .await?;
        Ok(rows.iter().map(record).collect::<Result<_, _>>()?)
    }

    pub async fn board_item(
        &self,
        room_id: &str,
        id: &str,
    ) -> Result<Option<BoardRecord>, AppError> {
        let row = sqlx::query(select_items!("WHERE room_id = $1 AND id = $2"))
            .bind(room_id)
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.as_ref().map(record).transpose()?)
    }

    /// Replaces an item's title, description, note, link, meeting and pin.
    pub async fn update_board_item(
        &self,
        room_id: &str,
        item: &BoardItem,
        at_ms: i64,
    ) -> Result<(), AppError> {
        sqlx::query(
            "UPDATE board_items SET title = $3, description = $4, body = $5, url = $6, \
             meeting = $7, pinned = $8, updated_at = $9 WHERE room_id = $1 AND id = $2",
        )
        .bind(room_id)
        .bind(&item.id)
        .bind(&item.title)
        .bind(item.description.as_deref())
        .bind(item.body.as_deref())
        .bind(item.url.as_deref())
        .bind(item.meeting.as_deref())
        .bind(i64::from(item.pinned))
        .bind(at_ms)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Moves item `id` to place `index` (0 first) of the board, renumbering the rest.
    pub async fn move_board_item(
        &self,
        room_id: &str,
        id: &str,
        index: usize,
    ) -> Result<(), AppError> {
        let mut tx = self.write_tx(room_id, false).await?;
        let mut ids: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM board_items WHERE room_id = $1 ORDER BY pinned DESC, position ASC, created_at ASC",
        )
        .bind(room_id)
        .fetch_all(&mut *tx)
        .await?;
        let Some(from) = ids.iter().position(|i| i == id) else {
            return Err(AppError::NotFound("board item"));
        };
        let moved = ids.remove(from);
        ids.insert(index.min(ids.len()), moved);
        for (position, item) in ids.iter().enumerate() {
            sqlx::query("UPDATE board_items SET position = $3 WHERE room_id = $1 AND id = $2")
                .bind(room_id)
                .bind(item)
                .bind(i64::try_from(position).unwrap_or(i64::MAX))
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Deletes an item; the file it held, if any, for the caller to remove from the disk.
    pub async fn delete_board_item(
        &self,
        room_id: &str,
        id: &str,
    ) -> Result<Option<Option<String>>, AppError> {
        let file: Option<Option<String>> =
            sqlx::query_scalar("SELECT file_id FROM board_items WHERE room_id = $1 AND id = $2")
                .bind(room_id)
                .bind(id)
                .fetch_optional(self.pool())
                .await?;
        if file.is_none() {
            return Ok(None);
        }
        sqlx::query("DELETE FROM board_items WHERE room_id = $1 AND id = $2")
            .bind(room_id)
            .bind(id)
            .execute(self.pool())
            .await?;
        self.needs_scrub();
        Ok(file)
    }

    /// The file ids of one room's board.
    pub async fn room_file_ids(&self, room_id: &str) -> Result<Vec<String>, AppError> {
        Ok(sqlx::query_scalar(
            "SELECT file_id FROM board_items WHERE room_id = $1 AND file_id IS NOT NULL",
        )
        .bind(room_id)
        .fetch_all(self.pool())
        .await?)
    }

    /// Every file id the board knows, for sweeping the data directory of files no item holds.
    pub async fn board_file_ids(&self) -> Result<Vec<String>, AppError> {
        Ok(
            sqlx::query_scalar("SELECT file_id FROM board_items WHERE file_id IS NOT NULL")
                .fetch_all(self.pool())
                .await?,
        )
    }
}
