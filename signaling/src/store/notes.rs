//! Shared notes as stored: an append-only log of each document's updates, and a snapshot that
//! folds the log's head into one encoded state ([`crate::notes`]).

use sqlx::Row;

use super::{Store, now_ms};
use crate::error::AppError;

/// A document as stored: its snapshot (if any) and the updates after it, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoredDoc {
    pub snapshot: Option<Vec<u8>>,
    /// `(seq, update)`.
    pub tail: Vec<(i64, Vec<u8>)>,
}

impl StoredDoc {
    /// Bytes of the tail's updates.
    pub fn tail_bytes(&self) -> usize {
        self.tail.iter().map(|(_, u)| u.len()).sum()
    }
}

impl Store {
    /// Loads a document: its snapshot and the updates after it.
    pub async fn load_doc(&self, room_id: &str, doc: &str) -> Result<StoredDoc, AppError> {
        // The snapshot and the tail after it are read apart; a compaction between the two
        // moves the snapshot on (and deletes the tail it folded in), so the reading is checked
        // against the snapshot's `upto` and made again if it moved.
        loop {
            let (snapshot, upto) = self.snapshot(room_id, doc).await?;
            let rows = sqlx::query(
                "SELECT seq, body FROM doc_updates WHERE room_id = $1 AND doc = $2 AND seq > $3 \
                 ORDER BY seq",
            )
            .bind(room_id)
            .bind(doc)
            .bind(upto)
            .fetch_all(self.pool())
            .await?;
            let tail = rows
                .iter()
                .map(|r| Ok((r.try_get("seq")?, r.try_get("body")?)))
                .collect::<Result<_, sqlx::Error>>()?;
            let still: Option<i64> = sqlx::query_scalar(
                "SELECT upto FROM doc_snapshots WHERE room_id = $1 AND doc = $2",
            )
            .bind(room_id)
            .bind(doc)
            .fetch_optional(self.pool())
            .await?;
            if still.unwrap_or(0) == upto {
                return Ok(StoredDoc { snapshot, tail });
            }
        }
    }

    async fn snapshot(&self, room_id: &str, doc: &str) -> Result<(Option<Vec<u8>>, i64), AppError> {
        let snap =
            sqlx::query("SELECT state, upto FROM doc_snapshots WHERE room_id = $1 AND doc = $2")
                .bind(room_id)
                .bind(doc)
                .fetch_optional(self.pool())
                .await?;
        Ok(match snap {
            Some(row) => (
                Some(row.try_get::<Vec<u8>, _>("state")?),
                row.try_get::<i64, _>("upto")?,
            ),
            None => (None, 0),
        })
    }

    /// Appends updates to a document's log, in order and durably, in one transaction (one
    /// commit, so a burst of edits costs one sync to disk); the last one's sequence number.
    pub async fn append_doc_updates(
        &self,
        room_id: &str,
        doc: &str,
        updates: &[&[u8]],
    ) -> Result<i64, AppError> {
        let mut tx = self.pool().begin().await?;
        let mut seq = 0;
        let at = now_ms();
        for update in updates {
            seq = sqlx::query_scalar(
                "INSERT INTO doc_updates (room_id, doc, body, at) VALUES ($1, $2, $3, $4) \
                 RETURNING seq",
            )
            .bind(room_id)
            .bind(doc)
            .bind(update)
            .bind(at)
            .fetch_one(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(seq)
    }

    /// Replaces a document's snapshot with `state`, which holds every update up to `upto`, and
    /// drops those updates from the log: in one transaction, so a crash leaves the old
    /// snapshot and log or the new ones, never a gap. A compaction older than the stored
    /// snapshot (a document unloading while its next load already compacted) changes nothing.
    pub async fn compact_doc(
        &self,
        room_id: &str,
        doc: &str,
        state: &[u8],
        upto: i64,
    ) -> Result<(), AppError> {
        let mut tx = self.pool().begin().await?;
        sqlx::query(
            "INSERT INTO doc_snapshots (room_id, doc, state, upto, at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (room_id, doc) DO UPDATE SET state = excluded.state, \
             upto = excluded.upto, at = excluded.at WHERE doc_snapshots.upto < excluded.upto",
        )
        .bind(room_id)
        .bind(doc)
        .bind(state)
        .bind(upto)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM doc_updates WHERE room_id = $1 AND doc = $2 AND seq <= $3")
            .bind(room_id)
            .bind(doc)
            .bind(upto)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The room's documents that have anything stored, by id.
    pub async fn doc_ids(&self, room_id: &str) -> Result<Vec<String>, AppError> {
        Ok(sqlx::query_scalar(
            "SELECT doc FROM doc_snapshots WHERE room_id = $1 \
             UNION SELECT doc FROM doc_updates WHERE room_id = $1 ORDER BY 1",
        )
        .bind(room_id)
        .fetch_all(self.pool())
        .await?)
    }
}
