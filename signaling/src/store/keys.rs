//! API keys of organisers and admins. Only a SHA-256 hash of each key is stored; keys are 256
//! random bits, so a fast hash is enough to make a stolen table useless.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Store, now_ms};
use crate::error::AppError;

/// What a key may do.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum KeyRole {
    /// Everything, including managing keys.
    Admin,
    /// Rooms, schedules and invites.
    Organiser,
}

impl KeyRole {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyRole::Admin => "admin",
            KeyRole::Organiser => "organiser",
        }
    }

    fn parse(s: &str) -> Option<KeyRole> {
        match s {
            "admin" => Some(KeyRole::Admin),
            "organiser" => Some(KeyRole::Organiser),
            _ => None,
        }
    }
}

/// A stored key, without its secret.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiKey {
    pub id: String,
    pub name: String,
    pub role: KeyRole,
    /// The first characters of the key, to tell keys apart.
    pub prefix: String,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

/// A key from a row with its columns (`id`, `name`, `role`, `prefix`, `created_at`,
/// `revoked_at`).
pub(super) fn key(row: &AnyRow) -> Result<ApiKey, AppError> {
    let role: String = row.try_get("role")?;
    Ok(ApiKey {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        role: KeyRole::parse(&role)
            .ok_or_else(|| AppError::Config(format!("stored key has unknown role {role:?}")))?,
        prefix: row.try_get("prefix")?,
        created_at: row.try_get("created_at")?,
        revoked_at: row.try_get("revoked_at")?,
    })
}

/// `SELECT` of every key column but the hash, then `$tail`, as one static string.
macro_rules! select_keys {
    ($tail:literal) => {
        concat!(
            "SELECT id, name, role, prefix, created_at, revoked_at FROM api_keys ",
            $tail
        )
    };
}

impl Store {
    pub async fn insert_key(
        &self,
        id: &str,
        name: &str,
        role: KeyRole,
        hash: &str,
        prefix: &str,
    ) -> Result<ApiKey, AppError> {
        sqlx::query(
            "INSERT INTO api_keys (id, name, role, hash, prefix, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id)
        .bind(name)
        .bind(role.as_str())
        .bind(hash)
        .bind(prefix)
        .bind(now_ms())
        .execute(self.pool())
        .await?;
        self.key(id).await?.ok_or(AppError::NotFound("key"))
    }

    pub async fn key(&self, id: &str) -> Result<Option<ApiKey>, AppError> {
        let row = sqlx::query(select_keys!("WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(key).transpose()
    }

    /// The key with this hash, revoked or not.
    pub async fn key_by_hash(&self, hash: &str) -> Result<Option<ApiKey>, AppError> {
        let row = sqlx::query(select_keys!("WHERE hash = $1"))
            .bind(hash)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(key).transpose()
    }

    /// Every key, oldest first.
    pub async fn keys(&self) -> Result<Vec<ApiKey>, AppError> {
        let rows = sqlx::query(select_keys!("ORDER BY created_at ASC, id ASC"))
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(key).collect()
    }

    /// Keys not revoked.
    pub async fn active_key_count(&self) -> Result<i64, AppError> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM api_keys WHERE revoked_at IS NULL")
            .fetch_one(self.pool())
            .await?;
        Ok(row.try_get("n")?)
    }

    /// Revokes a key; `None` when there is no such key. Revoking twice keeps the first time.
    pub async fn revoke_key(&self, id: &str) -> Result<Option<ApiKey>, AppError> {
        sqlx::query("UPDATE api_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL")
            .bind(id)
            .bind(now_ms())
            .execute(self.pool())
            .await?;
        self.key(id).await
    }
}
