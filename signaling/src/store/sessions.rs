//! One-time sign-in links and the browser sessions they open. Only SHA-256 hashes of their
//! tokens are stored (the tokens are 256 random bits), as for API keys.

use sqlx::Row;

use super::{ApiKey, Store};
use crate::error::AppError;

/// A sign-in link as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignInLink {
    pub key_id: String,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

impl Store {
    pub async fn insert_sign_in_link(
        &self,
        hash: &str,
        key_id: &str,
        now_ms: i64,
        expires_at: i64,
    ) -> Result<(), AppError> {
        sqlx::query(
            "INSERT INTO sign_in_links (hash, key_id, created_at, expires_at) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(hash)
        .bind(key_id)
        .bind(now_ms)
        .bind(expires_at)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    pub async fn sign_in_link(&self, hash: &str) -> Result<Option<SignInLink>, AppError> {
        let row =
            sqlx::query("SELECT key_id, expires_at, used_at FROM sign_in_links WHERE hash = $1")
                .bind(hash)
                .fetch_optional(self.pool())
                .await?;
        row.map(|r| {
            Ok(SignInLink {
                key_id: r.try_get("key_id")?,
                expires_at: r.try_get("expires_at")?,
                used_at: r.try_get("used_at")?,
            })
        })
        .transpose()
    }

    /// Marks the link used, once: `true` only for the one call that used it, while it was
    /// unexpired. Two browsers racing with one link get one session between them.
    pub async fn use_sign_in_link(&self, hash: &str, now_ms: i64) -> Result<bool, AppError> {
        let done = sqlx::query(
            "UPDATE sign_in_links SET used_at = $2 \
             WHERE hash = $1 AND used_at IS NULL AND expires_at > $2",
        )
        .bind(hash)
        .bind(now_ms)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn insert_session(
        &self,
        hash: &str,
        key_id: &str,
        now_ms: i64,
        expires_at: i64,
    ) -> Result<(), AppError> {
        sqlx::query(
            "INSERT INTO sessions (hash, key_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(hash)
        .bind(key_id)
        .bind(now_ms)
        .bind(expires_at)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The key of a session that has neither ended nor expired, whose key is not revoked, and
    /// when the session expires.
    pub async fn session_key(
        &self,
        hash: &str,
        now_ms: i64,
    ) -> Result<Option<(ApiKey, i64)>, AppError> {
        let row = sqlx::query(
            "SELECT k.id, k.name, k.role, k.prefix, k.created_at, k.revoked_at, s.expires_at \
             FROM sessions s JOIN api_keys k ON k.id = s.key_id \
             WHERE s.hash = $1 AND s.ended_at IS NULL AND s.expires_at > $2 \
             AND k.revoked_at IS NULL",
        )
        .bind(hash)
        .bind(now_ms)
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| Ok((super::keys::key(&r)?, r.try_get("expires_at")?)))
            .transpose()
    }

    /// Ends a session (signing out); ending it twice keeps the first time.
    pub async fn end_session(&self, hash: &str, now_ms: i64) -> Result<(), AppError> {
        sqlx::query("UPDATE sessions SET ended_at = $2 WHERE hash = $1 AND ended_at IS NULL")
            .bind(hash)
            .bind(now_ms)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Deletes links and sessions that expired or ended before `before_ms`; how many.
    pub async fn purge_sign_ins(&self, before_ms: i64) -> Result<u64, AppError> {
        let links = sqlx::query("DELETE FROM sign_in_links WHERE expires_at < $1")
            .bind(before_ms)
            .execute(self.pool())
            .await?;
        let sessions = sqlx::query("DELETE FROM sessions WHERE expires_at < $1 OR ended_at < $1")
            .bind(before_ms)
            .execute(self.pool())
            .await?;
        Ok(links.rows_affected() + sessions.rows_affected())
    }
}
