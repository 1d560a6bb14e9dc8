//! `/api/v1/rooms/{id}/board/files` and `.../board/{item}/file`: uploads, whose type is read
//! from their bytes, and downloads that a browser only ever saves (or, for a raster image,
//! shows), never runs: `Content-Disposition` with the exact name (RFC 6266),
//! `X-Content-Type-Options: nosniff`, and `Content-Security-Policy: default-src 'none'; sandbox`.

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use protocol::BoardItem;
use serde::Deserialize;
use utoipa::IntoParams;

use super::board::{ID, ITEM, announce, meeting, new_item, quotas, signed};
use super::extract::ApiQuery;
use super::reader::{Need, reader};
use crate::AppState;
use crate::board::{self, Kind, files};
use crate::error::AppError;
use crate::store::{BoardRecord, StoredFile};

/// The query of an upload; the body is the file's bytes.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct UploadQuery {
    /// The file's name (only its last part is kept; it is never a path).
    pub name: String,
    /// Shown on the board; the file's name when left out.
    pub title: Option<String>,
    pub description: Option<String>,
    pub meeting: Option<String>,
    pub author: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DownloadQuery {
    /// The room link's token, for a plain link a browser follows (or `Authorization`).
    pub t: Option<String>,
    /// `1` shows an image in the page; anything else is only ever downloaded.
    pub inline: Option<u8>,
}

/// What a download is served with, whatever the file holds.
pub const DOWNLOAD_CSP: &str = "default-src 'none'; sandbox";

/// Uploads a file: the request's body is its bytes. Its type is read from them and must be on
/// the allowlist (PDF, PNG, JPEG, GIF, WebP, office documents, plain text, Markdown, CSV).
#[utoipa::path(post, path = "/rooms/{id}/board/files", tag = "board",
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The file"),
    params(("id" = String, Path, description = ID), UploadQuery), security(("invite" = [])),
    responses((status = 201, body = BoardItem), (status = 401, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem), (status = 413, body = crate::error::Problem),
        (status = 415, body = crate::error::Problem), (status = 422, body = crate::error::Problem),
        (status = 507, body = crate::error::Problem)))]
pub async fn upload(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<UploadQuery>,
    req: Request,
) -> Result<(StatusCode, Json<BoardItem>), AppError> {
    let max = usize::try_from(state.limits.upload_max_bytes).unwrap_or(usize::MAX);
    let (parts, body) = req.into_parts();
    let mut r = reader(&state, &parts.headers, &id, Need::Post).await?;
    let author = signed(&mut r, q.author.as_deref())?;
    let name = files::safe_name(&q.name)?;
    let title = board::check_title(q.title.as_deref().unwrap_or(&name))?;
    let description = board::check_description(q.description.as_deref())?;
    let meeting = meeting(&r, q.meeting.as_deref())?;
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let too_big =
        || AppError::UploadTooLarge(format!("a file is at most {}", board::size(max as u64)));
    if declared.is_some_and(|n| n > max as u64) {
        return Err(too_big());
    }
    let bytes: Bytes = axum::body::to_bytes(body, max)
        .await
        .map_err(|_| too_big())?;
    let kind = files::sniff(&bytes, &name).map_err(|e| AppError::UnsupportedFile(e.0))?;
    let file_id = state.files.put(&bytes).await?;
    let mut item = new_item(&r, Kind::File, title, author);
    item.description = description;
    item.meeting = meeting;
    let record = BoardRecord {
        room_id: r.room.id.clone(),
        item,
        file: Some(StoredFile {
            id: file_id.clone(),
            name,
            mime: kind.mime.to_owned(),
            size: i64::try_from(bytes.len()).unwrap_or(i64::MAX),
            inline: kind.inline,
        }),
    };
    match state.store.insert_board_item(&record, quotas(&state)).await {
        Ok(item) => {
            tracing::info!(room_id = %r.room.id, item = %item.id, bytes = bytes.len(), "file shared");
            Ok((
                StatusCode::CREATED,
                Json(announce(&state, &r.room.id, item)),
            ))
        }
        Err(e) => {
            // Nothing is kept half-way: the bytes go with the refusal.
            if let Err(io) = state.files.remove(&file_id).await {
                tracing::warn!(error = %io, "an unstored upload could not be removed; the upkeep sweeps it");
            }
            Err(e)
        }
    }
}

/// Downloads an item's file. Needs the room's link, as `Authorization` or `?t=` (for a plain
/// link). Always an attachment, except a raster image asked for with `inline=1`.
#[utoipa::path(get, path = "/rooms/{id}/board/{item}/file", tag = "board",
    params(("id" = String, Path, description = ID), ("item" = String, Path, description = ITEM), DownloadQuery),
    security(("api_key" = []), ("invite" = [])),
    responses((status = 200, description = "The file's bytes", content_type = "application/octet-stream"),
        (status = 401, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub async fn download(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((id, item_id)): Path<(String, String)>,
    ApiQuery(q): ApiQuery<DownloadQuery>,
) -> Result<Response, AppError> {
    let headers = with_link_token(headers, q.t.as_deref());
    let r = reader(&state, &headers, &id, Need::Read).await?;
    let record = state
        .store
        .board_item(&r.room.id, &item_id)
        .await?
        .ok_or(AppError::NotFound("board item"))?;
    let Some(file) = record.file else {
        return Err(AppError::NotFound("file"));
    };
    let f = state.files.open(&file.id).await.map_err(|e| {
        tracing::error!(error = %e, item = %item_id, "a stored file is missing");
        AppError::NotFound("file")
    })?;
    let body = Body::from_stream(chunks(f));
    let inline = file.inline && q.inline == Some(1);
    let mut res = (StatusCode::OK, body).into_response();
    let h = res.headers_mut();
    let value = |v: &str| {
        HeaderValue::from_str(v)
            .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"))
    };
    h.insert(header::CONTENT_TYPE, value(&file.mime));
    h.insert(
        header::CONTENT_LENGTH,
        HeaderValue::from(u64::try_from(file.size).unwrap_or(0)),
    );
    if let Ok(v) = HeaderValue::from_str(&files::content_disposition(&file.name, inline)) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(DOWNLOAD_CSP),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    Ok(res)
}

/// A file's bytes in chunks of 64 KiB, so a large file is never held whole.
pub(super) fn chunks(
    f: tokio::fs::File,
) -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> {
    futures::stream::unfold(Some(f), |f| async move {
        let mut f = f?;
        let mut buf = vec![0u8; 64 * 1024];
        match tokio::io::AsyncReadExt::read(&mut f, &mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(Bytes::from(buf)), Some(f)))
            }
            Err(e) => Some((Err(e), None)),
        }
    })
}

/// `headers` with `Authorization: Bearer <t>` when they carry none: a plain link a browser
/// follows (a download, a CSV) names its token in the query.
pub fn with_link_token(mut headers: HeaderMap, t: Option<&str>) -> HeaderMap {
    if let Some(t) = t.filter(|_| !headers.contains_key(header::AUTHORIZATION))
        && let Ok(v) = HeaderValue::from_str(&format!("Bearer {t}"))
    {
        headers.insert(header::AUTHORIZATION, v);
    }
    headers
}
