//! `/api/v1/rooms/{id}/board`: a room's resource board over HTTP ([`crate::board`]): links and
//! text notes (JSON), file uploads (the raw bytes), pinning, ordering and deleting, and
//! downloads with headers that keep a file from running as a page. Participants use their
//! link's token ([`super::reader`]); every change reaches the room channel as `board_item` or
//! `board_removed`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use protocol::{BoardItem, ServerMessage};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::extract::ApiJson;
use super::reader::{Need, Reader, reader};
use super::rooms::present;
use crate::AppState;
use crate::board::{self, Kind};
use crate::error::{AppError, field};
use crate::schedule::{parse_meeting, parse_time_zone};
use crate::store::{BoardRecord, Quotas, now_ms};

/// The board, in order.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct BoardView {
    /// Pinned first, then by position.
    pub items: Vec<BoardItem>,
}

/// `POST /api/v1/rooms/{id}/board`: a link or a text note.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewItem {
    /// `link` or `text` (files are uploaded to `.../board/files`).
    pub kind: Kind,
    pub title: String,
    /// A link's address: http or https.
    pub url: Option<String>,
    /// A text note's Markdown.
    pub body: Option<String>,
    pub description: Option<String>,
    /// The meeting to attach it to (its start, RFC 3339); the one on now when left out.
    pub meeting: Option<String>,
    /// The name to sign with; a member's roster name when left out. Guests must give one.
    pub author: Option<String>,
}

/// `PATCH /api/v1/rooms/{id}/board/{item}`: only the fields given change.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ItemPatch {
    pub title: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
    pub body: Option<String>,
    pub url: Option<String>,
    /// `null` detaches it from its meeting.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub meeting: Option<Option<String>>,
    pub pinned: Option<bool>,
    /// Moves it to this place on the board (0 first).
    pub position: Option<u32>,
}

pub(super) const ID: &str = "The room's id";
pub(super) const ITEM: &str = "The item's id";

pub(super) fn quotas(state: &AppState) -> Quotas {
    let bytes = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    Quotas {
        items_per_room: board::ITEMS_MAX,
        room_bytes: bytes(state.limits.room_quota_bytes),
        total_bytes: bytes(state.limits.storage_quota_bytes),
    }
}

/// A meeting's start as the room's chat and board store it: in the room's zone.
pub(super) fn meeting(r: &Reader, given: Option<&str>) -> Result<Option<String>, AppError> {
    let Some(given) = given else {
        return Ok(r.author.occurrence.clone());
    };
    let zone = parse_time_zone(&r.room.time_zone)?;
    Ok(Some(parse_meeting(given, zone, "meeting")?.1))
}

/// The poster, named: a member by the roster, a guest by what it gave.
pub(super) fn signed(r: &mut Reader, author: Option<&str>) -> Result<String, AppError> {
    r.identified()?;
    if let Some(name) = author {
        let name = protocol::normalize_display_name(name).map_err(|e| field("author", e))?;
        r.author.name = Some(name);
    }
    r.author
        .name
        .clone()
        .ok_or_else(|| field("author", "say who you are: a name is needed to share").into())
}

pub(super) fn new_item(r: &Reader, kind: Kind, title: String, author_name: String) -> BoardItem {
    let now = u64::try_from(now_ms()).unwrap_or(0);
    BoardItem {
        id: uuid::Uuid::new_v4().simple().to_string(),
        kind: kind.as_str().to_owned(),
        title,
        identity: r.author.identity.clone(),
        author_name,
        created_at_ms: now,
        updated_at_ms: now,
        ..BoardItem::default()
    }
}

pub(super) fn announce(state: &AppState, room_id: &str, item: BoardItem) -> BoardItem {
    state.hub.publish(
        room_id,
        &ServerMessage::BoardItem {
            item: Box::new(item.clone()),
        },
    );
    item
}

/// The room's board.
#[utoipa::path(get, path = "/rooms/{id}/board", tag = "board", params(("id" = String, Path, description = ID)),
    security(("api_key" = []), ("invite" = [])),
    responses((status = 200, body = BoardView), (status = 401, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem)))]
pub async fn board(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<BoardView>, AppError> {
    let r = reader(&state, &headers, &id, Need::Read).await?;
    let items = state
        .store
        .board(&r.room.id)
        .await?
        .into_iter()
        .map(|r| r.item)
        .collect();
    Ok(Json(BoardView { items }))
}

/// Shares a link or a text note.
#[utoipa::path(post, path = "/rooms/{id}/board", tag = "board", request_body = NewItem,
    params(("id" = String, Path, description = ID)), security(("invite" = [])),
    responses((status = 201, body = BoardItem), (status = 401, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem),
        (status = 507, body = crate::error::Problem)))]
pub async fn share(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<NewItem>,
) -> Result<(StatusCode, Json<BoardItem>), AppError> {
    let mut r = reader(&state, &headers, &id, Need::Post).await?;
    let author = signed(&mut r, body.author.as_deref())?;
    let mut errors = Vec::new();
    let title = board::check_title(&body.title)
        .map_err(|e| errors.push(e))
        .ok();
    let description = board::check_description(body.description.as_deref())
        .map_err(|e| errors.push(e))
        .ok()
        .flatten();
    let (url, text) = match body.kind {
        Kind::Link => match body.url.as_deref() {
            Some(u) => (board::check_link(u).map_err(|e| errors.push(e)).ok(), None),
            None => {
                errors.push(field("url", "a link needs its address"));
                (None, None)
            }
        },
        Kind::Text => match body.body.as_deref() {
            Some(b) => (None, board::check_text(b).map_err(|e| errors.push(e)).ok()),
            None => {
                errors.push(field("body", "a note needs its text"));
                (None, None)
            }
        },
        Kind::File => {
            errors.push(field("kind", "upload files to .../board/files"));
            (None, None)
        }
    };
    let meeting = match meeting(&r, body.meeting.as_deref()) {
        Ok(m) => m,
        Err(AppError::Invalid(mut f)) => {
            errors.append(&mut f);
            None
        }
        Err(e) => return Err(e),
    };
    if !errors.is_empty() {
        return Err(AppError::Invalid(errors));
    }
    let mut item = new_item(&r, body.kind, title.unwrap_or_default(), author);
    item.description = description;
    item.url = url;
    item.body = text;
    item.meeting = meeting;
    let record = BoardRecord {
        room_id: r.room.id.clone(),
        item,
        file: None,
    };
    let item = state
        .store
        .insert_board_item(&record, quotas(&state))
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(announce(&state, &r.room.id, item)),
    ))
}

/// Changes an item: its text, its meeting, its pin, its place. The author or a host.
#[utoipa::path(patch, path = "/rooms/{id}/board/{item}", tag = "board", request_body = ItemPatch,
    params(("id" = String, Path, description = ID), ("item" = String, Path, description = ITEM)),
    security(("api_key" = []), ("invite" = [])),
    responses((status = 200, body = BoardItem), (status = 401, body = crate::error::Problem),
        (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem),
        (status = 422, body = crate::error::Problem)))]
pub async fn change_item(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((id, item_id)): Path<(String, String)>,
    ApiJson(p): ApiJson<ItemPatch>,
) -> Result<Json<BoardItem>, AppError> {
    let r = reader(&state, &headers, &id, Need::Read).await?;
    r.identified()?;
    let mut item = changeable(&state, &r, &item_id).await?.item;
    let kind = Kind::parse(&item.kind);
    let mut errors = Vec::new();
    if let Some(t) = &p.title {
        board::check_title(t)
            .map(|t| item.title = t)
            .unwrap_or_else(|e| errors.push(e));
    }
    if let Some(d) = &p.description {
        board::check_description(d.as_deref())
            .map(|d| item.description = d)
            .unwrap_or_else(|e| errors.push(e));
    }
    match (&p.body, kind) {
        (Some(b), Some(Kind::Text)) => board::check_text(b)
            .map(|b| item.body = Some(b))
            .unwrap_or_else(|e| errors.push(e)),
        (Some(_), _) => errors.push(field("body", "only a text note has a body")),
        _ => {}
    }
    match (&p.url, kind) {
        (Some(u), Some(Kind::Link)) => board::check_link(u)
            .map(|u| item.url = Some(u))
            .unwrap_or_else(|e| errors.push(e)),
        (Some(_), _) => errors.push(field("url", "only a link has an address")),
        _ => {}
    }
    match &p.meeting {
        Some(Some(m)) => match meeting(&r, Some(m)) {
            Ok(m) => item.meeting = m,
            Err(AppError::Invalid(mut f)) => errors.append(&mut f),
            Err(e) => return Err(e),
        },
        Some(None) => item.meeting = None,
        None => {}
    }
    if let Some(pinned) = p.pinned {
        item.pinned = pinned;
    }
    if !errors.is_empty() {
        return Err(AppError::Invalid(errors));
    }
    state
        .store
        .update_board_item(&r.room.id, &item, now_ms())
        .await?;
    if let Some(position) = p.position {
        state
            .store
            .move_board_item(&r.room.id, &item.id, position as usize)
            .await?;
    }
    let item = state
        .store
        .board_item(&r.room.id, &item.id)
        .await?
        .ok_or(AppError::NotFound("board item"))?
        .item;
    Ok(Json(announce(&state, &r.room.id, item)))
}

/// An item the caller may change: their own, or any for a host.
pub(super) async fn changeable(
    state: &AppState,
    r: &Reader,
    item_id: &str,
) -> Result<BoardRecord, AppError> {
    let record = state
        .store
        .board_item(&r.room.id, item_id)
        .await?
        .ok_or(AppError::NotFound("board item"))?;
    if !board::may_change(&r.author.identity, r.author.host, &record.item.identity) {
        return Err(AppError::Forbidden(
            "only the one who shared an item, or a host, may change it".into(),
        ));
    }
    Ok(record)
}

/// Deletes an item, and its file. The author or a host.
#[utoipa::path(delete, path = "/rooms/{id}/board/{item}", tag = "board",
    params(("id" = String, Path, description = ID), ("item" = String, Path, description = ITEM)),
    security(("api_key" = []), ("invite" = [])),
    responses((status = 204, description = "Deleted"), (status = 401, body = crate::error::Problem),
        (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub async fn delete_item(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((id, item_id)): Path<(String, String)>,
) -> Result<StatusCode, AppError> {
    let r = reader(&state, &headers, &id, Need::Read).await?;
    r.identified()?;
    changeable(&state, &r, &item_id).await?;
    let Some(file) = state.store.delete_board_item(&r.room.id, &item_id).await? else {
        return Err(AppError::NotFound("board item"));
    };
    if let Some(file) = file
        && let Err(e) = state.files.remove(&file).await
    {
        tracing::warn!(error = %e, "a deleted item's file could not be removed; the upkeep sweeps it");
    }
    state
        .hub
        .publish(&r.room.id, &ServerMessage::BoardRemoved { id: item_id });
    Ok(StatusCode::NO_CONTENT)
}
