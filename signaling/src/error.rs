//! The signaling crate's one error type. At the HTTP edge every error becomes an RFC 9457
//! `application/problem+json` body, with field-level messages where a field is to blame.

use std::borrow::Cow;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// A problem with one field of a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    /// The field's name, or its path for nested fields (`exdates[2]`).
    pub field: String,
    pub message: String,
}

/// Builds a [`FieldError`].
pub fn field(field: impl Into<String>, message: impl Into<String>) -> FieldError {
    FieldError {
        field: field.into(),
        message: message.into(),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("the server is draining")]
    Draining,
    #[error("{0} not found")]
    NotFound(&'static str),
    /// One or more fields are invalid (422).
    #[error("invalid request: {}", list(.0))]
    Invalid(Vec<FieldError>),
    /// The request clashes with what is stored, such as a slug already taken (409).
    #[error("conflict: {0}")]
    Conflict(FieldError),
    /// The body could not be read as the JSON the route expects (400).
    #[error("malformed request: {0}")]
    BadRequest(String),
    #[error("the request body is larger than the server accepts")]
    TooLarge,
    #[error("the request body must be JSON (Content-Type: application/json)")]
    UnsupportedMediaType,
    /// An upload over the size limit (413).
    #[error("{0}")]
    UploadTooLarge(String),
    /// An upload of a type that is not accepted (415).
    #[error("{0}")]
    UnsupportedFile(String),
    /// A room's or the server's storage is full (507).
    #[error("{0}")]
    Quota(String),
    /// No credentials, or credentials that are not valid (401).
    #[error("{0}")]
    Unauthorized(Cow<'static, str>),
    /// Valid credentials that may not do this (403).
    #[error("{0}")]
    Forbidden(Cow<'static, str>),
    /// Too many requests from one address; retry after this many seconds (429).
    #[error("too many requests; retry in {0} s")]
    RateLimited(u64),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("configuration: {0}")]
    Config(String),
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// Work the request needs did not finish in time; retrying may succeed (503).
    #[error("{0} took too long; try again")]
    Timeout(&'static str),
}

fn list(errors: &[FieldError]) -> String {
    let parts: Vec<String> = errors.iter().map(ToString::to_string).collect();
    parts.join("; ")
}

impl AppError {
    /// The error a WebSocket client is told, as `{"type":"error"}`. The server's own failures
    /// are logged here, and the client learns only that they were ours.
    pub fn to_wire(&self) -> protocol::ServerMessage {
        use protocol::{ErrorCode, ServerMessage};
        let code = match self {
            AppError::Invalid(_) | AppError::Conflict(_) | AppError::BadRequest(_) => {
                ErrorCode::InvalidMessage
            }
            AppError::NotFound(_) => ErrorCode::NotFound,
            AppError::Forbidden(_) => ErrorCode::Forbidden,
            AppError::Unauthorized(_) => ErrorCode::InviteInvalid,
            AppError::RateLimited(_) => ErrorCode::RateLimited,
            AppError::Draining => ErrorCode::Draining,
            _ => {
                tracing::error!(error = %self, "a request on the WebSocket failed");
                return ServerMessage::error(
                    ErrorCode::Internal,
                    "the server failed to complete the request",
                );
            }
        };
        ServerMessage::error(code, self.to_string())
    }
}

impl From<FieldError> for AppError {
    fn from(e: FieldError) -> Self {
        AppError::Invalid(vec![e])
    }
}

/// An RFC 9457 problem document.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem; `about:blank` when the status says it all.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Field-level messages (422, 409).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

impl AppError {
    pub fn status(&self) -> StatusCode {
        match self {
            AppError::Draining | AppError::Timeout(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::TooLarge | AppError::UploadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::UnsupportedMediaType | AppError::UnsupportedFile(_) => {
                StatusCode::UNSUPPORTED_MEDIA_TYPE
            }
            AppError::Quota(_) => StatusCode::INSUFFICIENT_STORAGE,
            AppError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            AppError::Database(_)
            | AppError::Migrate(_)
            | AppError::Config(_)
            | AppError::Io(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn problem(&self) -> Problem {
        let status = self.status();
        let (kind, errors) = match self {
            AppError::Invalid(errors) => ("urn:cohort:problem:invalid-field", errors.clone()),
            AppError::Conflict(e) => ("urn:cohort:problem:conflict", vec![e.clone()]),
            _ => ("about:blank", Vec::new()),
        };
        let detail = match self {
            // The cause is logged; the client learns only that it was ours.
            AppError::Database(_)
            | AppError::Migrate(_)
            | AppError::Config(_)
            | AppError::Io(_) => "the server failed to complete the request".to_owned(),
            other => other.to_string(),
        };
        Problem {
            kind: kind.to_owned(),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail,
            errors,
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() && status != StatusCode::SERVICE_UNAVAILABLE {
            tracing::error!(error = %self, "request failed");
        }
        let body = serde_json::to_vec(&self.problem()).unwrap_or_default();
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        match self {
            AppError::Unauthorized(_) => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"cohort\""),
                );
            }
            AppError::RateLimited(seconds) => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds.max(1)));
            }
            _ => {}
        }
        response
    }
}
