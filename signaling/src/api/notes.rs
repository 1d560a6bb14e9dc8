//! `GET /api/v1/rooms/{id}/docs/{doc}`: one shared-notes document over a WebSocket of its own
//! (binary frames of y-sync and awareness, [`crate::notes`]), with no media session: notes
//! work between meetings. The credential is the room's link, as `?t=` (a browser's WebSocket
//! cannot set headers) or `Authorization`, and a guest's `?device=`. A participant of a room
//! whose notes are read-only (and everyone but hosts, for the template) may read and be
//! present but not edit: their edits are refused with auth-denied, never merged. Revoking the
//! link closes the connection (1008).

use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::DateTime;
use futures::{SinkExt, StreamExt};
use serde::Deserialize;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use utoipa::IntoParams;

use super::board_files::with_link_token;
use super::reader::{DEVICE_HEADER, Need, Reader, reader};
use crate::AppState;
use crate::error::AppError;
use crate::hub;
use crate::notes::service::{DocConn, MinutesSeed, ToConn};
use crate::notes::{DocId, Limits};
use crate::ratelimit::Bucket;
use crate::schedule::parse_time_zone;
use crate::upgrade::{self, Socket};

/// The link, for a browser's WebSocket.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DocQuery {
    /// The room link's token (or `Authorization`).
    pub t: Option<String>,
    /// A guest's device id (or `X-Cohort-Device`).
    pub device: Option<String>,
}

/// Who is connecting to which document, checked before the upgrade.
struct Opening {
    room_id: String,
    doc: DocId,
    read_only: bool,
    identity: String,
    seed: MinutesSeed,
}

/// `headers` with a link and a guest's device given in the query (a browser's WebSocket, or a
/// download link, cannot set headers).
pub fn with_link(headers: &HeaderMap, token: Option<&str>, device: Option<&str>) -> HeaderMap {
    let mut headers = with_link_token(headers.clone(), token);
    if let Some(d) = device
        && let Ok(v) = HeaderValue::from_str(d)
    {
        headers.insert(DEVICE_HEADER, v);
    }
    headers
}

/// The caller, if the link fits the room, and the document they name.
async fn authorize(
    state: &AppState,
    id: &str,
    doc: &str,
    headers: &HeaderMap,
    query: Option<&str>,
) -> Result<(Reader, DocId, chrono_tz::Tz), AppError> {
    let q: DocQuery = serde_urlencoded::from_str(query.unwrap_or(""))
        .map_err(|e| AppError::BadRequest(format!("the query: {e}")))?;
    let headers = with_link(headers, q.t.as_deref(), q.device.as_deref());
    let r = reader(state, &headers, id, Need::Read).await?;
    let zone = parse_time_zone(&r.room.time_zone)?;
    let doc = DocId::parse(doc, zone)?;
    Ok((r, doc, zone))
}

async fn open(
    state: &AppState,
    id: &str,
    doc: &str,
    headers: &HeaderMap,
    query: Option<&str>,
) -> Result<Opening, AppError> {
    let (r, doc, zone) = authorize(state, id, doc, headers, query).await?;
    let read_only = r.participant && (r.room.notes_read_only || doc.hosts_only());
    let mut seed = MinutesSeed::default();
    if let DocId::Minutes(meeting) = &doc {
        seed.date = DateTime::parse_from_rfc3339(meeting)
            .map(|t| {
                t.with_timezone(&zone)
                    .format("%A %-d %B %Y, %H:%M")
                    .to_string()
            })
            .unwrap_or_else(|_| meeting.clone());
        seed.agenda = state
            .store
            .board(&r.room.id)
            .await?
            .into_iter()
            .filter(|b| b.item.meeting.as_deref() == Some(meeting.as_str()))
            .map(|b| b.item.title)
            .collect();
        let now = crate::store::now_ms();
        seed.attendees = state
            .store
            .presence(&r.room.id, meeting, now)
            .await?
            .into_iter()
            .map(|p| p.name)
            .collect();
    }
    Ok(Opening {
        room_id: r.room.id.clone(),
        doc,
        read_only,
        identity: r.author.identity.clone(),
        seed,
    })
}

/// A shared-notes document, live: the y-sync and awareness protocol in binary frames.
#[utoipa::path(get, path = "/rooms/{id}/docs/{doc}", tag = "notes",
    params(("id" = String, Path, description = "The room's id"),
        ("doc" = String, Path, description = "`room`, `template`, or `minutes:<the meeting's start>`"),
        DocQuery),
    security(("api_key" = []), ("invite" = [])),
    responses((status = 101, description = "Switching to the WebSocket protocol"),
        (status = 401, body = crate::error::Problem), (status = 404, body = crate::error::Problem),
        (status = 422, body = crate::error::Problem)))]
pub async fn notes_socket(
    State(state): State<AppState>,
    Path((id, doc)): Path<(String, String)>,
    req: Request,
) -> Response {
    if state.hooks.as_ref().is_some_and(|h| h.notes_unreachable()) {
        return (StatusCode::SERVICE_UNAVAILABLE, "a test outage").into_response();
    }
    let opening = match open(&state, &id, &doc, req.headers(), req.uri().query()).await {
        Ok(o) => o,
        Err(e) => return e.into_response(),
    };
    let limits = state.notes.limits;
    // Frames a little past the limit still arrive whole, and the engine refuses them; larger
    // ones are refused by their frame header. Either way the close is 1009.
    let cap = limits.max_frame_bytes.saturating_mul(2).max(1024);
    let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
        .max_message_size(Some(cap))
        .max_frame_size(Some(cap));
    let span =
        tracing::info_span!("notes", room = %opening.room_id, doc = %opening.doc.as_string());
    upgrade::accept(req, config, move |socket| {
        tracing::Instrument::instrument(run(socket, state, opening, limits), span)
    })
}

/// A document as Markdown (its text as the server keeps it now), to download: empty for a
/// document nobody has written in yet.
#[utoipa::path(get, path = "/rooms/{id}/docs/{doc}/markdown", tag = "notes",
    params(("id" = String, Path, description = "The room's id"),
        ("doc" = String, Path, description = "`room`, `template`, or `minutes:<the meeting's start>`"),
        DocQuery),
    security(("api_key" = []), ("invite" = [])),
    responses((status = 200, description = "The document's text", content_type = "text/markdown", body = String),
        (status = 401, body = crate::error::Problem), (status = 404, body = crate::error::Problem),
        (status = 422, body = crate::error::Problem)))]
pub async fn notes_markdown(
    State(state): State<AppState>,
    Path((id, doc)): Path<(String, String)>,
    req: Request,
) -> Result<Response, AppError> {
    let (r, doc, _) = authorize(&state, &id, &doc, req.headers(), req.uri().query()).await?;
    let text = state.notes.text(&r.room.id, &doc).await?;
    let name = format!("{}-{}.md", r.room.slug, file_name(&doc));
    Ok(markdown_attachment(text, &name))
}

/// Markdown to download, as `name` (made of safe characters by the caller).
pub fn markdown_attachment(text: String, name: &str) -> Response {
    let mut res = (
        [(header::CONTENT_TYPE, "text/markdown; charset=utf-8")],
        text,
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        res.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    res
}

/// A document's id as a file name: "notes", "template", "minutes-2026-03-03T1800Z".
pub fn file_name(doc: &DocId) -> String {
    match doc {
        DocId::Room => "notes".into(),
        DocId::Template => "template".into(),
        DocId::Minutes(at) => format!(
            "minutes-{}",
            at.chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '+')
                .collect::<String>()
        ),
    }
}

async fn close(socket: &mut Socket, code: u16, reason: &str) {
    let frame = CloseFrame {
        code: CloseCode::from(code),
        reason: reason.to_owned().into(),
    };
    let _ = socket.send(Message::Close(Some(frame))).await;
}

/// Whether a frame carries an edit (sync step 2 or update), which counts against the rate.
fn is_edit(frame: &[u8]) -> bool {
    matches!(frame, [0, 1 | 2, ..])
}

/// Whether a frame is presence (awareness), which has a rate of its own: the server sends each
/// one on to everyone in the document.
fn is_presence(frame: &[u8]) -> bool {
    matches!(frame, [1, ..])
}

async fn run(mut socket: Socket, state: AppState, o: Opening, limits: Limits) {
    let seed = o.seed.clone();
    let joined = state
        .notes
        .join(&o.room_id, &o.doc, o.read_only, move || seed.clone())
        .await;
    let mut conn: DocConn = match joined {
        Ok(c) => c,
        Err(fatal) => {
            close(&mut socket, fatal.code, fatal.reason).await;
            return;
        }
    };
    tracing::debug!(
        conn = conn.conn,
        read_only = o.read_only,
        "notes connection open"
    );
    let mut listener = state.hub.listen(&o.room_id);
    let mut outage = state.hooks.as_ref().map(|h| h.notes_outage.subscribe());
    let mut edits = Bucket::new(limits.updates_per_second, limits.update_burst);
    let mut presence = Bucket::new(limits.updates_per_second, limits.update_burst);
    let mut pings = tokio::time::interval(state.limits.ping_every);
    let mut last_seen = tokio::time::Instant::now();
    loop {
        let dead_at = last_seen + state.limits.dead_after;
        tokio::select! {
            incoming = socket.next() => {
                last_seen = tokio::time::Instant::now();
                let bytes = match incoming {
                    Some(Ok(Message::Binary(b))) => b,
                    Some(Ok(Message::Text(_))) => {
                        close(&mut socket, 1003, "binary y-sync frames only").await;
                        break;
                    }
                    Some(Ok(Message::Close(_))) | None => break,
                    Some(Ok(_)) => continue,
                    Some(Err(tokio_tungstenite::tungstenite::Error::Capacity(_))) => {
                        close(&mut socket, 1009, "frame too big").await;
                        break;
                    }
                    Some(Err(_)) => break,
                };
                if is_edit(&bytes) && !edits.allow() {
                    close(&mut socket, 1008, "too many edits; slow down").await;
                    break;
                }
                if is_presence(&bytes) && !presence.allow() {
                    close(&mut socket, 1008, "too many presence updates; slow down").await;
                    break;
                }
                if !conn.send(bytes.to_vec()).await {
                    close(&mut socket, 1011, "the document closed; reconnect").await;
                    break;
                }
            }
            out = conn.rx.recv() => match out {
                Some(ToConn::Frame(f)) => {
                    if socket.send(Message::Binary(f)).await.is_err() { break }
                }
                Some(ToConn::Close(code, reason)) => {
                    close(&mut socket, code, reason).await;
                    break;
                }
                None => {
                    close(&mut socket, 1013, "fell behind the document; reconnect").await;
                    break;
                }
            },
            heard = listener.next() => match heard {
                hub::Next::Event(hub::Event::Revoked(revoked)) if revoked.covers(&o.identity) => {
                    tracing::info!("link revoked; closing");
                    close(&mut socket, 1008, "this link was revoked").await;
                    break;
                }
                hub::Next::Event(_) => {}
                // The room's events are not this connection's business, but a revocation might
                // have been among those missed.
                hub::Next::Lagged => {
                    close(&mut socket, 1013, "reconnect").await;
                    break;
                }
            },
            // The test hook: cut, as a network would, with no closing handshake.
            Ok(()) = async { match outage.as_mut() {
                Some(rx) => rx.changed().await,
                None => std::future::pending().await,
            } } => break,
            _ = pings.tick() => {
                if socket.send(Message::Ping(Default::default())).await.is_err() { break }
            }
            _ = tokio::time::sleep_until(dead_at) => {
                close(&mut socket, 1001, "no traffic").await;
                break;
            }
        }
    }
}
