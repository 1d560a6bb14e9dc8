//! A stored room's chat, kept between meetings: written, paged, edited, deleted, searched,
//! exported and purged.
//!
//! A deleted message keeps its row (its place in the conversation) with its text emptied. The
//! text is then gone from the database too, not only hidden: SQLite runs with
//! `secure_delete`, which zeroes freed space, and [`Store::scrub`] rebuilds the search index
//! without the removed words and empties the write-ahead log.

use protocol::ChatMessage;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Backend, Store};
use crate::error::{AppError, field};

/// A chat message as it is stored: the wire message, and the room it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatRecord {
    pub room_id: String,
    /// The message, with its author's `identity` and its `occurrence`.
    pub message: ChatMessage,
}

/// A page of messages, and whether there are more beyond it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatPage {
    pub messages: Vec<ChatMessage>,
    pub more: bool,
}

/// `SELECT` of every chat column, then `$tail`, as one static string.
macro_rules! select_chat {
    ($tail:literal) => {
        concat!(
            "SELECT m.seq, m.id, m.participant_id, m.name, m.text, m.sent_at, m.identity, ",
            "m.occurrence, m.edited_at, m.deleted_at FROM chat_messages m ",
            $tail
        )
    };
}

fn ms(v: Option<i64>) -> Option<u64> {
    v.map(|v| u64::try_from(v).unwrap_or(0))
}

fn message(row: &AnyRow) -> Result<ChatMessage, sqlx::Error> {
    let sent_at: i64 = row.try_get("sent_at")?;
    let deleted_at: Option<i64> = row.try_get("deleted_at")?;
    Ok(ChatMessage {
        id: row.try_get("id")?,
        participant_id: row.try_get("participant_id")?,
        name: row.try_get("name")?,
        text: row.try_get("text")?,
        sent_at_ms: u64::try_from(sent_at).unwrap_or(0),
        identity: row.try_get("identity")?,
        occurrence: row.try_get("occurrence")?,
        edited_at_ms: ms(row.try_get("edited_at")?),
        deleted: deleted_at.is_some(),
    })
}

fn messages(rows: &[AnyRow]) -> Result<Vec<ChatMessage>, AppError> {
    Ok(rows.iter().map(message).collect::<Result<_, _>>()?)
}

/// The page of the first `limit` of `rows` (which were read with one more), in `order`.
fn page(mut rows: Vec<ChatMessage>, limit: i64, oldest_first: bool) -> ChatPage {
    let limit = usize::try_from(limit).unwrap_or(0);
    let more = rows.len() > limit;
    rows.truncate(limit);
    if oldest_first {
        rows.reverse();
    }
    ChatPage {
        messages: rows,
        more,
    }
}

impl Store {
    /// Stores a chat message; storing the same message twice keeps one.
    pub async fn insert_chat(&self, r: &ChatRecord) -> Result<(), AppError> {
        let sent_at = i64::try_from(r.message.sent_at_ms).unwrap_or(i64::MAX);
        sqlx::query(
            "INSERT INTO chat_messages (id, room_id, identity, participant_id, name, text, \
             occurrence, sent_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(&r.message.id)
        .bind(&r.room_id)
        .bind(&r.message.identity)
        .bind(&r.message.participant_id)
        .bind(&r.message.name)
        .bind(&r.message.text)
        .bind(r.message.occurrence.as_deref())
        .bind(sent_at)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The order of message `id` in `room_id`; an unknown id is an error on `param`.
    async fn chat_seq(&self, room_id: &str, id: &str, param: &str) -> Result<i64, AppError> {
        let seq: Option<i64> =
            sqlx::query_scalar("SELECT seq FROM chat_messages WHERE room_id = $1 AND id = $2")
                .bind(room_id)
                .bind(id)
                .fetch_optional(self.pool())
                .await?;
        seq.ok_or_else(|| field(param, "no such message in this room").into())
    }

    /// Up to `limit` messages of the room before the message `before` (the latest when
    /// `None`), oldest first.
    pub async fn chat_page(
        &self,
        room_id: &str,
        before: Option<&str>,
        limit: i64,
    ) -> Result<ChatPage, AppError> {
        let before = match before {
            Some(id) => self.chat_seq(room_id, id, "before").await?,
            None => i64::MAX,
        };
        let rows = sqlx::query(select_chat!(
            "WHERE m.room_id = $1 AND m.seq < $2 ORDER BY m.seq DESC LIMIT $3"
        ))
        .bind(room_id)
        .bind(before)
        .bind(limit + 1)
        .fetch_all(self.pool())
        .await?;
        Ok(page(messages(&rows)?, limit, true))
    }

    /// One message of the room.
    pub async fn chat_message(
        &self,
        room_id: &str,
        id: &str,
    ) -> Result<Option<ChatMessage>, AppError> {
        let row = sqlx::query(select_chat!("WHERE m.room_id = $1 AND m.id = $2"))
            .bind(room_id)
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.as_ref().map(message).transpose()?)
    }

    /// Replaces a message's text. `false`: no such message, or it was deleted.
    pub async fn edit_chat(
        &self,
        room_id: &str,
        id: &str,
        text: &str,
        at_ms: i64,
    ) -> Result<bool, AppError> {
        let done = sqlx::query(
            "UPDATE chat_messages SET text = $3, edited_at = $4 \
             WHERE room_id = $1 AND id = $2 AND deleted_at IS NULL",
        )
        .bind(room_id)
        .bind(id)
        .bind(text)
        .bind(at_ms)
        .execute(self.pool())
        .await?;
        self.needs_scrub();
        Ok(done.rows_affected() == 1)
    }

    /// Deletes a message's text, keeping its place as deleted by `by`. `false`: no such
    /// message, or it was deleted already.
    pub async fn delete_chat(
        &self,
        room_id: &str,
        id: &str,
        by: &str,
        at_ms: i64,
    ) -> Result<bool, AppError> {
        let done = sqlx::query(
            "UPDATE chat_messages SET text = '', deleted_at = $3, deleted_by = $4 \
             WHERE room_id = $1 AND id = $2 AND deleted_at IS NULL",
        )
        .bind(room_id)
        .bind(id)
        .bind(at_ms)
        .bind(by)
        .execute(self.pool())
        .await?;
        self.needs_scrub();
        Ok(done.rows_affected() == 1)
    }

    /// Up to `limit` messages of the room with every one of `terms` (the last also as a
    /// prefix), newest first, before the message `before`.
    pub async fn search_chat(
        &self,
        room_id: &str,
        terms: &[String],
        before: Option<&str>,
        limit: i64,
    ) -> Result<ChatPage, AppError> {
        let before = match before {
            Some(id) => self.chat_seq(room_id, id, "before").await?,
            None => i64::MAX,
        };
        // The terms are letters and digits only (`chat::search_terms`), so quoting them keeps
        // every one a plain word in either query language.
        let last = terms.len().saturating_sub(1);
        let query = match self.backend() {
            Backend::Sqlite => {
                let words: Vec<String> = terms
                    .iter()
                    .enumerate()
                    .map(|(i, t)| format!("\"{t}\"{}", if i == last { "*" } else { "" }))
                    .collect();
                // The index leads (CROSS JOIN keeps SQLite from walking every message and
                // asking the index about each), newest match first.
                sqlx::query(concat!(
                    "SELECT m.seq, m.id, m.participant_id, m.name, m.text, m.sent_at, ",
                    "m.identity, m.occurrence, m.edited_at, m.deleted_at FROM chat_fts ",
                    "CROSS JOIN chat_messages m ON m.seq = chat_fts.rowid ",
                    "WHERE chat_fts MATCH $1 AND m.room_id = $2 AND chat_fts.rowid < $3 ",
                    "AND m.deleted_at IS NULL ORDER BY chat_fts.rowid DESC LIMIT $4"
                ))
                .bind(words.join(" "))
            }
            Backend::Postgres => {
                let words: Vec<String> = terms
                    .iter()
                    .enumerate()
                    .map(|(i, t)| format!("'{t}'{}", if i == last { ":*" } else { "" }))
                    .collect();
                sqlx::query(select_chat!(
                    "WHERE m.words @@ to_tsquery('simple', $1) \
                     AND m.room_id = $2 AND m.seq < $3 AND m.deleted_at IS NULL \
                     ORDER BY m.seq DESC LIMIT $4"
                ))
                .bind(words.join(" & "))
            }
        };
        let rows = query
            .bind(room_id)
            .bind(before)
            .bind(limit + 1)
            .fetch_all(self.pool())
            .await?;
        Ok(page(messages(&rows)?, limit, false))
    }

    /// Every message of the room, or of one meeting of it, oldest first.
    pub async fn all_chat(
        &self,
        room_id: &str,
        occurrence: Option<&str>,
    ) -> Result<Vec<ChatMessage>, AppError> {
        let rows = match occurrence {
            Some(o) => {
                sqlx::query(select_chat!(
                    "WHERE m.room_id = $1 AND m.occurrence = $2 ORDER BY m.seq"
                ))
                .bind(room_id)
                .bind(o)
                .fetch_all(self.pool())
                .await?
            }
            None => {
                sqlx::query(select_chat!("WHERE m.room_id = $1 ORDER BY m.seq"))
                    .bind(room_id)
                    .fetch_all(self.pool())
                    .await?
            }
        };
        messages(&rows)
    }

    /// Deletes every message past its room's retention at `now_ms`; the count deleted.
    pub async fn purge_chat(&self, now_ms: i64) -> Result<u64, AppError> {
        let done = sqlx::query(
            "DELETE FROM chat_messages WHERE seq IN (SELECT m.seq FROM chat_messages m \
             JOIN rooms r ON r.id = m.room_id WHERE r.chat_retention_days IS NOT NULL \
             AND m.sent_at < $1 - r.chat_retention_days * 86400000)",
        )
        .bind(now_ms)
        .execute(self.pool())
        .await?;
        if done.rows_affected() > 0 {
            self.needs_scrub();
        }
        Ok(done.rows_affected())
    }
}
