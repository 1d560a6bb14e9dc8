//! `/api/v1/keys`: the API keys of organisers and admins. Admin keys only.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::extract::{Caller, hash_key};
use crate::AppState;
use crate::error::{AppError, field};
use crate::store::{ApiKey, KeyRole, Store, rfc3339_ms};

/// Shortest key accepted from `--admin-key`.
pub const MIN_KEY_CHARS: usize = 24;

/// `POST /api/v1/keys`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewKey {
    /// What the key is for, 1 to 100 characters.
    pub name: String,
    pub role: KeyRole,
}

/// A key as listed; the secret itself is shown only once, when made.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct KeyView {
    pub id: String,
    pub name: String,
    pub role: KeyRole,
    /// The key's first characters, to tell keys apart.
    pub prefix: String,
    pub created_at: String,
    pub revoked_at: Option<String>,
    /// The key itself: only in the reply that creates it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

impl From<&ApiKey> for KeyView {
    fn from(k: &ApiKey) -> Self {
        KeyView {
            id: k.id.clone(),
            name: k.name.clone(),
            role: k.role,
            prefix: k.prefix.clone(),
            created_at: rfc3339_ms(k.created_at),
            revoked_at: k.revoked_at.map(rfc3339_ms),
            key: None,
        }
    }
}

/// A new random key: `ck_` and 256 random bits, base64url.
pub fn generate_key() -> String {
    format!("ck_{}", URL_SAFE_NO_PAD.encode(crate::random_bytes::<32>()))
}

fn prefix(key: &str) -> String {
    key.chars().take(8).collect()
}

/// Stores `key` (its hash) under `name`.
pub async fn store_key(
    store: &Store,
    key: &str,
    name: &str,
    role: KeyRole,
) -> Result<ApiKey, AppError> {
    let id = uuid::Uuid::new_v4().to_string();
    store
        .insert_key(&id, name, role, &hash_key(key), &prefix(key))
        .await
}

/// Makes sure an admin can get in. With `given` (`--admin-key`), that key is stored if it is
/// not yet; otherwise, when no key is active, a new admin key is made and returned, to be shown
/// once.
pub async fn bootstrap_admin_key(
    store: &Store,
    given: Option<&str>,
) -> Result<Option<String>, AppError> {
    if let Some(key) = given {
        if key.chars().count() < MIN_KEY_CHARS {
            return Err(AppError::Config(format!(
                "--admin-key must have at least {MIN_KEY_CHARS} characters"
            )));
        }
        match store.key_by_hash(&hash_key(key)).await? {
            Some(k) if k.revoked_at.is_some() => Err(AppError::Config(
                "the --admin-key given has been revoked; give another".into(),
            )),
            Some(_) => Ok(None),
            None => {
                store_key(store, key, "--admin-key", KeyRole::Admin).await?;
                Ok(None)
            }
        }
    } else if store.active_key_count().await? == 0 {
        let key = generate_key();
        store_key(store, &key, "first run", KeyRole::Admin).await?;
        Ok(Some(key))
    } else {
        Ok(None)
    }
}

/// Makes a key. The reply is the only time the key is shown.
#[utoipa::path(post, path = "/keys", tag = "keys", request_body = NewKey,
    security(("api_key" = [])),
    responses((status = 201, body = KeyView), (status = 401, body = crate::error::Problem),
        (status = 403, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn create_key(
    State(state): State<AppState>,
    caller: Caller,
    super::extract::ApiJson(body): super::extract::ApiJson<NewKey>,
) -> Result<(StatusCode, Json<KeyView>), AppError> {
    caller.require_admin()?;
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(field("name", "1 to 100 characters, no control characters").into());
    }
    let key = generate_key();
    let stored = store_key(&state.store, &key, name, body.role).await?;
    tracing::info!(key_id = %stored.id, role = stored.role.as_str(), "API key created");
    let mut view = KeyView::from(&stored);
    view.key = Some(key);
    Ok((StatusCode::CREATED, Json(view)))
}

/// Every key, revoked ones included, without their secrets.
#[utoipa::path(get, path = "/keys", tag = "keys", security(("api_key" = [])),
    responses((status = 200, body = [KeyView]), (status = 401, body = crate::error::Problem),
        (status = 403, body = crate::error::Problem)))]
pub async fn list_keys(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<KeyView>>, AppError> {
    caller.require_admin()?;
    let keys = state.store.keys().await?;
    Ok(Json(keys.iter().map(KeyView::from).collect()))
}

/// Revokes a key at once. The last active admin key cannot be revoked.
#[utoipa::path(delete, path = "/keys/{id}", tag = "keys", security(("api_key" = [])),
    params(("id" = String, Path, description = "The key's id")),
    responses((status = 204, description = "Revoked"), (status = 401, body = crate::error::Problem),
        (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem),
        (status = 409, body = crate::error::Problem)))]
pub async fn revoke_key(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, AppError> {
    caller.require_admin()?;
    let key = state
        .store
        .key(&id)
        .await?
        .ok_or(AppError::NotFound("key"))?;
    if key.role == KeyRole::Admin && key.revoked_at.is_none() {
        let admins = state
            .store
            .keys()
            .await?
            .iter()
            .filter(|k| k.role == KeyRole::Admin && k.revoked_at.is_none())
            .count();
        if admins <= 1 {
            return Err(AppError::Conflict(field(
                "id",
                "this is the last admin key; make another admin key first",
            )));
        }
    }
    state.store.revoke_key(&id).await?;
    tracing::info!(key_id = %id, "API key revoked");
    Ok(StatusCode::NO_CONTENT)
}
