//! Request extractors of the HTTP API: JSON bodies and query strings whose every failure is a
//! problem document naming the field, and the caller's API key.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use crate::AppState;
use crate::error::{AppError, FieldError, field};
use crate::store::{ApiKey, KeyRole, Room};

/// A JSON body. Unknown fields, wrong types and missing fields are 422 with the field named;
/// text that is not JSON is 400; a body over the limit is 413.
pub struct ApiJson<T>(pub T);

/// Turns a serde error at `path` into a field-level message.
fn serde_field(path: &str, message: &str) -> FieldError {
    // serde reports an unknown field at its parent's path, with the name in the message.
    if let Some(rest) = message.strip_prefix("unknown field `")
        && let Some((name, _)) = rest.split_once('`')
    {
        // serde_path_to_error already ends the path with the unknown field's name.
        let full = if path == "." || path.is_empty() {
            name.to_owned()
        } else if path == name || path.ends_with(&format!(".{name}")) {
            path.to_owned()
        } else {
            format!("{path}.{name}")
        };
        return field(full, "unknown field");
    }
    if let Some(rest) = message.strip_prefix("missing field `")
        && let Some((name, _)) = rest.split_once('`')
    {
        return field(name, "required");
    }
    let name = if path == "." { "body" } else { path };
    // Drop serde's " at line 1 column 9" tail: the field is named already.
    let message = message.split(" at line ").next().unwrap_or(message);
    field(name, message)
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, AppError> {
        let json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                let mime = v.split(';').next().unwrap_or("").trim();
                mime.eq_ignore_ascii_case("application/json")
                    || mime.to_ascii_lowercase().ends_with("+json")
            });
        if !json {
            return Err(AppError::UnsupportedMediaType);
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                AppError::TooLarge
            } else {
                AppError::BadRequest(e.body_text())
            }
        })?;
        let mut de = serde_json::Deserializer::from_slice(&bytes);
        match serde_path_to_error::deserialize::<_, T>(&mut de) {
            Ok(value) => {
                de.end()
                    .map_err(|e| AppError::BadRequest(format!("not JSON: {e}")))?;
                Ok(ApiJson(value))
            }
            Err(e) => {
                let inner = e.inner();
                if inner.is_syntax() || inner.is_eof() || inner.is_io() {
                    return Err(AppError::BadRequest(format!("not JSON: {inner}")));
                }
                let path = e.path().to_string();
                Err(AppError::Invalid(vec![serde_field(
                    &path,
                    &inner.to_string(),
                )]))
            }
        }
    }
}

/// A query string; bad or unknown parameters are 422 with the parameter named.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, AppError> {
        let query = parts.uri.query().unwrap_or("");
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize::<_, T>(de)
            .map(ApiQuery)
            .map_err(|e| {
                let path = e.path().to_string();
                AppError::Invalid(vec![serde_field(&path, &e.inner().to_string())])
            })
    }
}

/// The SHA-256 of a key, hex: the only form in which keys are stored.
pub fn hash_key(key: &str) -> String {
    Sha256::digest(key.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Whoever called: their API key (`Authorization: Bearer <key>`, or the key of a signed-in
/// browser's session), and for a session, when it ends (Unix ms).
pub struct Caller(pub ApiKey, pub Option<i64>);

impl Caller {
    pub fn is_admin(&self) -> bool {
        self.0.role == KeyRole::Admin
    }

    /// Whether this key manages `room`: admin keys manage every room, an organiser key the
    /// rooms it owns.
    pub fn manages(&self, room: &Room) -> bool {
        self.is_admin() || room.owner_key_id.as_deref() == Some(self.0.id.as_str())
    }

    /// The room `id` if this key manages it. Another organiser's room is a 404, exactly as a
    /// room that does not exist, so that room ids cannot be probed.
    pub async fn room(&self, state: &AppState, id: &str) -> Result<Room, AppError> {
        match state.store.room(id).await? {
            Some(room) if self.manages(&room) => Ok(room),
            _ => Err(AppError::NotFound("room")),
        }
    }

    /// Refuses callers whose key is not an admin key.
    pub fn require_admin(&self) -> Result<(), AppError> {
        match self.0.role {
            KeyRole::Admin => Ok(()),
            KeyRole::Organiser => Err(AppError::Forbidden("this needs an admin key".into())),
        }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        caller(state, &parts.headers).await
    }
}

/// The credential of an `Authorization: Bearer <credential>` header: `None` when there is no
/// such header, `Some(None)` when it is not of that form.
pub fn bearer(headers: &HeaderMap) -> Option<Option<&str>> {
    let value = headers.get(header::AUTHORIZATION)?;
    Some(
        value
            .to_str()
            .ok()
            .and_then(|v| {
                let (scheme, rest) = v.split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
            })
            .filter(|k| !k.is_empty()),
    )
}

/// The caller named by the `Authorization: Bearer <key>` header, or else by the session
/// cookie of a signed-in browser.
pub async fn caller(state: &AppState, headers: &HeaderMap) -> Result<Caller, AppError> {
    let key = match bearer(headers) {
        None => {
            // A signed-in browser (the organiser's console) sends its session cookie instead.
            if let Some(token) = super::session::session_token(headers) {
                return super::session::session_caller(state, token).await;
            }
            return Err(AppError::Unauthorized(
                "this needs an API key (Authorization: Bearer <key>) or a signed-in session".into(),
            ));
        }
        Some(key) => key.ok_or(AppError::Unauthorized(
            "the Authorization header must be: Bearer <key>".into(),
        ))?,
    };
    match state.store.key_by_hash(&hash_key(key)).await? {
        Some(k) if k.revoked_at.is_none() => Ok(Caller(k, None)),
        Some(_) => Err(AppError::Unauthorized(
            "this API key has been revoked".into(),
        )),
        None => Err(AppError::Unauthorized("this API key is not valid".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_messages_name_their_field() {
        let e = serde_field(
            ".",
            "unknown field `colour`, expected one of `name`, `slug`",
        );
        assert_eq!(
            (e.field.as_str(), e.message.as_str()),
            ("colour", "unknown field")
        );
        let e = serde_field(".", "missing field `name`");
        assert_eq!((e.field.as_str(), e.message.as_str()), ("name", "required"));
        let e = serde_field(
            "capacity",
            "invalid type: string \"x\", expected i64 at line 1 column 20",
        );
        assert_eq!(e.field, "capacity");
        assert_eq!(e.message, "invalid type: string \"x\", expected i64");
    }
}
