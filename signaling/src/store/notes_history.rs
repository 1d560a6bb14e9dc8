//! The notes kept at each meeting's end ([`crate::notes::history`]).

use sqlx::Row;

use super::Store;
use crate::error::AppError;

/// One document as it was when a meeting ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeptDoc {
    /// The meeting, as its minutes name it.
    pub meeting: String,
    /// `minutes:<meeting>` or `room`.
    pub doc: String,
    /// The text (Markdown).
    pub body: String,
    /// When it was kept (ms since the epoch).
    pub at: i64,
}

impl Store {
    /// Every room's minutes documents that have content and nothing kept yet: `(room id, doc)`.
    pub async fn minutes_without_history(&self) -> Result<Vec<(String, String)>, AppError> {
        let rows = sqlx::query(
            "SELECT DISTINCT d.room_id, d.doc FROM \
             (SELECT room_id, doc FROM doc_updates UNION SELECT room_id, doc FROM doc_snapshots) d \
             WHERE d.doc LIKE 'minutes:%' AND NOT EXISTS (SELECT 1 FROM doc_history h \
             WHERE h.room_id = d.room_id AND h.doc = d.doc) ORDER BY 1, 2",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("room_id")?, r.try_get("doc")?)))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(Into::into)
    }

    /// Keeps a meeting's documents as they are now, together; what is kept already stays.
    pub async fn keep_history(&self, room_id: &str, docs: &[KeptDoc]) -> Result<(), AppError> {
        let mut tx = self.pool().begin().await?;
        for d in docs {
            sqlx::query(
                "INSERT INTO doc_history (room_id, meeting, doc, body, at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (room_id, meeting, doc) DO NOTHING",
            )
            .bind(room_id)
            .bind(&d.meeting)
            .bind(&d.doc)
            .bind(&d.body)
            .bind(d.at)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// What was kept of a room's notes, latest meeting first (one meeting's, with `meeting`).
    pub async fn history(
        &self,
        room_id: &str,
        meeting: Option<&str>,
    ) -> Result<Vec<KeptDoc>, AppError> {
        let rows = sqlx::query(
            "SELECT meeting, doc, body, at FROM doc_history WHERE room_id = $1 \
             AND ($2 IS NULL OR meeting = $2) ORDER BY at DESC, meeting DESC, doc",
        )
        .bind(room_id)
        .bind(meeting)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(KeptDoc {
                    meeting: r.try_get("meeting")?,
                    doc: r.try_get("doc")?,
                    body: r.try_get("body")?,
                    at: r.try_get("at")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(Into::into)
    }
}
