//! A stored room's chat, kept between meetings.

use protocol::ChatMessage;
use sqlx::Row;

use super::Store;
use crate::error::AppError;

/// A chat message as it is stored: the wire message, who sent it, and in which meeting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatRecord {
    pub room_id: String,
    pub message: ChatMessage,
    /// `member:<id>` or `guest:<device id>`.
    pub identity: String,
    /// The start (RFC 3339) of the meeting it was sent in.
    pub occurrence: Option<String>,
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
        .bind(&r.identity)
        .bind(&r.message.participant_id)
        .bind(&r.message.name)
        .bind(&r.message.text)
        .bind(r.occurrence.as_deref())
        .bind(sent_at)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The room's latest `limit` messages, oldest first.
    pub async fn recent_chat(
        &self,
        room_id: &str,
        limit: i64,
    ) -> Result<Vec<ChatMessage>, AppError> {
        let rows = sqlx::query(
            "SELECT id, participant_id, name, text, sent_at FROM chat_messages \
             WHERE room_id = $1 ORDER BY seq DESC LIMIT $2",
        )
        .bind(room_id)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows.iter().rev() {
            let sent_at: i64 = row.try_get("sent_at")?;
            out.push(ChatMessage {
                id: row.try_get("id")?,
                participant_id: row.try_get("participant_id")?,
                name: row.try_get("name")?,
                text: row.try_get("text")?,
                sent_at_ms: u64::try_from(sent_at).unwrap_or(0),
            });
        }
        Ok(out)
    }
}
