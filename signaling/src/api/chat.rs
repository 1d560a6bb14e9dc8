//! `/api/v1/rooms/{id}/chat`: a stored room's kept chat over HTTP: history in pages, posting,
//! editing and deleting, search, and export ([`crate::chat`]). Participants use their invite
//! or personal link's token; organisers their key ([`super::reader`]).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use protocol::ChatMessage;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::extract::{ApiJson, ApiQuery};
use super::reader::{Need, reader};
use crate::AppState;
use crate::chat::{export, page_size, search_terms, service};
use crate::error::{AppError, field};
use crate::schedule::{parse_meeting, parse_time_zone};

/// A page of messages.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ChatPageView {
    /// History: oldest first. Search: newest first.
    pub messages: Vec<ChatMessage>,
    /// More messages lie beyond this page: ask again with `before` set to the id of the page's
    /// oldest message (history) or its last one (search).
    pub more: bool,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct HistoryQuery {
    /// The page ends just before this message (the latest page when left out).
    pub before: Option<String>,
    /// Messages per page, 1 to 200 (default 50).
    pub limit: Option<i64>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SearchQuery {
    /// Words to find (all of them; the last also as the start of a word). Punctuation and
    /// operators are read as spaces.
    pub q: String,
    pub before: Option<String>,
    pub limit: Option<i64>,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    #[default]
    Markdown,
    Json,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ExportQuery {
    /// `markdown` (default) or `json`.
    #[param(value_type = Option<String>)]
    pub format: Option<ExportFormat>,
    /// Only the meeting starting at this moment (RFC 3339, as the occurrences API gives it).
    pub occurrence: Option<String>,
}

/// `POST /api/v1/rooms/{id}/chat`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewChatMessage {
    pub text: String,
    /// The name to sign with; a member's roster name when left out. Guests must give one.
    pub name: Option<String>,
}

/// `PATCH /api/v1/rooms/{id}/chat/{message}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChatEdit {
    pub text: String,
}

/// The JSON export.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ChatExport {
    pub room_id: String,
    pub room_name: String,
    pub time_zone: String,
    /// The meeting exported, or absent for the whole room.
    pub occurrence: Option<String>,
    pub exported_at: String,
    /// Oldest first.
    pub messages: Vec<ChatMessage>,
}

const ID: &str = "The room's id";
const MESSAGE: &str = "The message's id";

/// The room's chat, a page at a time, going back.
#[utoipa::path(get, path = "/rooms/{id}/chat", tag = "chat", params(("id" = String, Path, description = ID), HistoryQuery),
    security(("api_key" = []), ("invite" = [])),
    responses((status = 200, body = ChatPageView), (status = 401, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn chat_history(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<HistoryQuery>,
) -> Result<Json<ChatPageView>, AppError> {
    let limit = page_size(q.limit)?;
    let r = reader(&state, &headers, &id, Need::Read).await?;
    let page = state
        .store
        .chat_page(&r.room.id, q.before.as_deref(), limit)
        .await?;
    Ok(Json(ChatPageView {
        messages: page.messages,
        more: page.more,
    }))
}

/// Posts a message, as the call and the room home do; everyone listening sees it at once.
#[utoipa::path(post, path = "/rooms/{id}/chat", tag = "chat", request_body = NewChatMessage,
    params(("id" = String, Path, description = ID)), security(("invite" = [])),
    responses((status = 201, body = ChatMessage), (status = 401, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem),
        (status = 429, body = crate::error::Problem)))]
pub async fn post_chat(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<NewChatMessage>,
) -> Result<(StatusCode, Json<ChatMessage>), AppError> {
    let mut r = reader(&state, &headers, &id, Need::Post).await?;
    r.identified()?;
    if let Some(name) = body.name {
        let name = protocol::normalize_display_name(&name).map_err(|e| field("name", e))?;
        r.author.name = Some(name);
    }
    let message = service::post(&state, &r.author, &body.text).await?;
    Ok((StatusCode::CREATED, Json(message)))
}

/// Changes the text of one's own message.
#[utoipa::path(patch, path = "/rooms/{id}/chat/{message}", tag = "chat", request_body = ChatEdit,
    params(("id" = String, Path, description = ID), ("message" = String, Path, description = MESSAGE)),
    security(("invite" = [])),
    responses((status = 200, body = ChatMessage), (status = 401, body = crate::error::Problem),
        (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem),
        (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn edit_chat(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((id, message)): Path<(String, String)>,
    ApiJson(body): ApiJson<ChatEdit>,
) -> Result<Json<ChatMessage>, AppError> {
    let r = reader(&state, &headers, &id, Need::Read).await?;
    r.identified()?;
    Ok(Json(
        service::edit(&state, &r.author, &message, &body.text).await?,
    ))
}

/// Deletes a message: one's own, or anyone's for a host or the room's organiser. It stays in
/// the conversation as deleted; its text is gone.
#[utoipa::path(delete, path = "/rooms/{id}/chat/{message}", tag = "chat",
    params(("id" = String, Path, description = ID), ("message" = String, Path, description = MESSAGE)),
    security(("api_key" = []), ("invite" = [])),
    responses((status = 200, body = ChatMessage), (status = 401, body = crate::error::Problem),
        (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub async fn delete_chat(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((id, message)): Path<(String, String)>,
) -> Result<Json<ChatMessage>, AppError> {
    let r = reader(&state, &headers, &id, Need::Read).await?;
    r.identified()?;
    Ok(Json(service::delete(&state, &r.author, &message).await?))
}

/// Finds messages with every word asked for, newest first.
#[utoipa::path(get, path = "/rooms/{id}/chat/search", tag = "chat",
    params(("id" = String, Path, description = ID), SearchQuery),
    security(("api_key" = []), ("invite" = [])),
    responses((status = 200, body = ChatPageView), (status = 401, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn search_chat(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<SearchQuery>,
) -> Result<Json<ChatPageView>, AppError> {
    let limit = page_size(q.limit)?;
    let terms = search_terms(&q.q)?;
    let r = reader(&state, &headers, &id, Need::Read).await?;
    let page = state
        .store
        .search_chat(&r.room.id, &terms, q.before.as_deref(), limit)
        .await?;
    Ok(Json(ChatPageView {
        messages: page.messages,
        more: page.more,
    }))
}

/// The whole room's chat, or one meeting's, as Markdown or JSON, to download.
#[utoipa::path(get, path = "/rooms/{id}/chat/export", tag = "chat",
    params(("id" = String, Path, description = ID), ExportQuery),
    security(("api_key" = []), ("invite" = [])),
    responses((status = 200, description = "text/markdown, or application/json (ChatExport)",
        body = ChatExport),
        (status = 401, body = crate::error::Problem), (status = 404, body = crate::error::Problem),
        (status = 422, body = crate::error::Problem)))]
pub async fn export_chat(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<ExportQuery>,
) -> Result<Response, AppError> {
    let r = reader(&state, &headers, &id, Need::Read).await?;
    let zone = parse_time_zone(&r.room.time_zone)?;
    // The stored tag is the meeting's start in the room's zone; any spelling of the same
    // moment finds it.
    let occurrence = q
        .occurrence
        .as_deref()
        .map(|o| parse_meeting(o, zone, "occurrence").map(|(_, name)| name))
        .transpose()?;
    let messages = state
        .store
        .all_chat(&r.room.id, occurrence.as_deref())
        .await?;
    let stem = match &occurrence {
        Some(o) => format!("chat-{}-{}", r.room.slug, &o[..o.len().min(10)]),
        None => format!("chat-{}", r.room.slug),
    };
    let (body, mime, ext) = match q.format.unwrap_or_default() {
        ExportFormat::Markdown => {
            let title = match &occurrence {
                Some(o) => format!("Chat of the meeting of {o}"),
                None => "Chat".to_owned(),
            };
            let md = export::markdown(&r.room.name, zone, &messages, &title);
            (md.into_bytes(), "text/markdown; charset=utf-8", "md")
        }
        ExportFormat::Json => {
            let doc = ChatExport {
                room_id: r.room.id.clone(),
                room_name: r.room.name.clone(),
                time_zone: r.room.time_zone.clone(),
                occurrence,
                exported_at: Utc::now().to_rfc3339(),
                messages,
            };
            let json = serde_json::to_vec_pretty(&doc)
                .map_err(|e| AppError::Io(std::io::Error::other(format!("export failed: {e}"))))?;
            (json, "application/json", "json")
        }
    };
    let mut response = body.into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    // The slug is a-z, 0-9, '-' and '_'; the date digits and '-': a plain token.
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{stem}.{ext}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(response)
}
