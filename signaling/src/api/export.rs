//! `GET /api/v1/rooms/{id}/export`: everything a room keeps between meetings that its members
//! made (its chat, its board and the uploaded files) as one ZIP file
//! ([`crate::board::archive`]), for a host or the organiser's key. The archive is built on a
//! blocking thread into an unlinked scratch file in the data directory, then streamed: a room
//! of many uploads is never held in memory.

use std::io::{Seek, SeekFrom};

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;

use super::board_files::{chunks, with_link_token};
use super::chat::ChatExport;
use super::extract::ApiQuery;
use super::notes::file_name;
use super::reader::{Need, reader};
use super::rooms::RoomView;
use crate::AppState;
use crate::board::archive::{self, ArchivedFile, Contents};
use crate::chat::export;
use crate::error::AppError;
use crate::notes::DocId;
use crate::schedule::parse_time_zone;

/// A plain link's token (a browser's download), or `Authorization`.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ExportRoomQuery {
    pub t: Option<String>,
}

fn failed(e: impl std::fmt::Display) -> AppError {
    AppError::Io(std::io::Error::other(format!("the export failed: {e}")))
}

/// The room's notes for its archive: every document as it is now, then what each meeting's end
/// kept, by path under `notes/`.
async fn notes_files(state: &AppState, room_id: &str) -> Result<Vec<(String, String)>, AppError> {
    let mut out = Vec::new();
    for id in state.store.doc_ids(room_id).await? {
        let Some(doc) = DocId::from_stored(&id) else {
            continue;
        };
        let text = state.notes.text(room_id, &doc).await?;
        out.push((format!("{}.md", file_name(&doc)), text));
    }
    for kept in state.store.history(room_id, None).await? {
        let meeting: String = kept
            .meeting
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '+')
            .collect();
        let name = if kept.doc == "room" {
            "room-notes"
        } else {
            "minutes"
        };
        out.push((format!("kept/{meeting}/{name}.md"), kept.body));
    }
    Ok(out)
}

/// The room's chat, board, notes and files as one ZIP file, to download and keep.
#[utoipa::path(get, path = "/rooms/{id}/export", tag = "rooms",
    params(("id" = String, Path, description = "The room's id"), ExportRoomQuery),
    security(("api_key" = []), ("invite" = [])),
    responses((status = 200, description = "The room's archive", content_type = "application/zip"),
        (status = 401, body = crate::error::Problem), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem)))]
pub async fn export_room(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<ExportRoomQuery>,
) -> Result<Response, AppError> {
    let headers = with_link_token(headers, q.t.as_deref());
    let r = reader(&state, &headers, &id, Need::Read).await?;
    if r.participant {
        return Err(AppError::Forbidden("only a host exports the room".into()));
    }
    let zone = parse_time_zone(&r.room.time_zone)?;
    let exported_at = Utc::now().to_rfc3339();
    let messages = state.store.all_chat(&r.room.id, None).await?;
    let chat_markdown = export::markdown(&r.room.name, zone, &messages, "Chat");
    let chat_json = serde_json::to_vec_pretty(&ChatExport {
        room_id: r.room.id.clone(),
        room_name: r.room.name.clone(),
        time_zone: r.room.time_zone.clone(),
        occurrence: None,
        exported_at: exported_at.clone(),
        messages,
    })
    .map_err(failed)?;
    let room_json = serde_json::to_vec_pretty(&RoomView::new(&r.room, &state.settings.public_url))
        .map_err(failed)?;
    let records = state.store.board(&r.room.id).await?;
    let board: Vec<protocol::BoardItem> = records.iter().map(|b| b.item.clone()).collect();
    let files: Vec<ArchivedFile> = archive::file_paths(&board)
        .into_iter()
        .filter_map(|(item, path)| {
            let stored = records.iter().find(|b| b.item.id == item)?.file.as_ref()?;
            Some(ArchivedFile {
                file_id: stored.id.clone(),
                path,
            })
        })
        .collect();
    let notes = notes_files(&state, &r.room.id).await?;
    let store = state.files.clone();
    let name = r.room.name.clone();
    let built = tokio::task::spawn_blocking(move || {
        let contents = Contents {
            room_name: &name,
            exported_at: &exported_at,
            room_json,
            chat_markdown,
            chat_json,
            board: &board,
            notes,
        };
        let scratch = store.scratch()?;
        let mut f = archive::write(scratch, &contents, &files, |id| {
            Ok(Box::new(store.open_blocking(id)?))
        })?;
        let size = f.stream_position()?;
        f.seek(SeekFrom::Start(0))?;
        Ok::<_, std::io::Error>((f, size))
    })
    .await
    .map_err(failed)?;
    let (file, size) = built.map_err(|e| {
        tracing::error!(room = %r.room.id, error = %e, "a room's export failed");
        failed(e)
    })?;
    tracing::info!(room = %r.room.id, bytes = size, "room exported");
    let body = Body::from_stream(chunks(tokio::fs::File::from_std(file)));
    let mut res = (StatusCode::OK, body).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/zip"),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
    let day = Utc::now().format("%Y-%m-%d");
    // The slug is a-z, 0-9, '-' and '_': a plain token.
    if let Ok(v) = HeaderValue::from_str(&format!(
        "attachment; filename=\"room-{}-{day}.zip\"",
        r.room.slug
    )) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    Ok(res)
}
