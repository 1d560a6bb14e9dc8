//! `/api/v1/admin`: what an admin sees of live rooms and of this node, and what they can do
//! about it. Admin keys only.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::Utc;
use protocol::{LeaveReason, TrackKind};
use serde::{Deserialize, Serialize};
use sfu::links::LinkReading;
use sfu::links::Summary;
use utoipa::ToSchema;

use super::extract::Caller;
use super::schedule::{OccurrenceView, load, off_thread};
use crate::AppState;
use crate::error::AppError;

/// This node at a glance.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct NodeView {
    pub rooms: i64,
    pub participants: i64,
    pub websocket_sessions: i64,
    /// Peer connections open on the media engines (two per publishing participant).
    pub peer_connections: usize,
    /// Shutting down: no new joins.
    pub draining: bool,
    /// CPU time the process has used, user and system.
    pub cpu_seconds: f64,
    /// CPU cores available to the process.
    pub cpu_cores: usize,
    pub resident_memory_bytes: u64,
    pub open_fds: u64,
}

/// One published track.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TrackView {
    pub id: String,
    /// `audio` or `video`.
    pub kind: String,
    pub muted: bool,
    pub codec: String,
}

/// One of a participant's two connections: publish (their media to us) or subscribe (the
/// room's media to them).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LinkView {
    /// `none` (no such connection yet), `new`, `connecting`, `connected`, `disconnected`,
    /// `failed` or `closed`.
    pub state: String,
    /// Packets lost over the last RTCP report interval, 0 to 1: measured by us on the publish
    /// connection, reported by the participant's browser on the subscribe connection.
    pub loss: Option<f64>,
    /// Interarrival jitter, the worst of the connection's streams.
    pub jitter_seconds: Option<f64>,
    /// Round-trip time (from the participant's receiver reports; subscribe connection only).
    pub rtt_seconds: Option<f64>,
    /// What the participant's downlink is estimated to carry, in bits per second (send-side
    /// bandwidth estimation; subscribe connection only, once its feedback moved the estimate).
    pub estimate_bps: Option<u64>,
}

/// A video track a participant is sent, and at which layer.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ReceivingView {
    /// The server's id of the track.
    pub track_id: String,
    /// The simulcast layer it receives now, 0 the lowest; null while paused (hidden in the
    /// participant's layout, or no room in its link).
    pub layer: Option<u8>,
    /// How many layers the track has: 1 unless its publisher sends simulcast.
    pub layers: u8,
}

/// One participant of a live room.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ParticipantView {
    pub id: String,
    pub name: String,
    pub tracks: Vec<TrackView>,
    /// RTP payload bits per second received from them, over the last second.
    pub inbound_bitrate_bps: u64,
    /// RTP payload bits per second sent to them, over the last second.
    pub outbound_bitrate_bps: u64,
    pub publish: LinkView,
    pub subscribe: LinkView,
    /// The others' video tracks they are sent, and at which layer.
    pub receiving: Vec<ReceivingView>,
}

/// A live room.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LiveRoomView {
    /// The room's slug.
    pub room: String,
    /// Its name, when it was created through the API.
    pub name: Option<String>,
    pub participants: Vec<ParticipantView>,
    /// The most participants the room admits now.
    pub capacity: usize,
    pub subscriptions: usize,
    /// The participants' bitrates, summed.
    pub inbound_bitrate_bps: u64,
    pub outbound_bitrate_bps: u64,
    /// Packets lost over packets expected in the last 10 seconds, both directions, from RTCP
    /// reports; none when nothing was reported.
    pub loss: Option<f64>,
    pub received_bytes: u64,
    pub forwarded_bytes: u64,
    pub forwarded_packets: u64,
    pub dropped_packets: u64,
    /// The meeting running now or the next one, if the room has a schedule.
    pub next_occurrence: Option<OccurrenceView>,
}

#[cfg(target_os = "linux")]
fn process_figures() -> (f64, u64, u64) {
    let Ok(me) = procfs::process::Process::myself() else {
        return (0.0, 0, 0);
    };
    let ticks = procfs::ticks_per_second() as f64;
    let page = procfs::page_size();
    let (cpu, rss) = me
        .stat()
        .map(|s| ((s.utime + s.stime) as f64 / ticks, s.rss * page))
        .unwrap_or((0.0, 0));
    let fds = me.fd_count().map(|n| n as u64).unwrap_or(0);
    (cpu, rss, fds)
}

#[cfg(not(target_os = "linux"))]
fn process_figures() -> (f64, u64, u64) {
    (0.0, 0, 0)
}

/// This node: load, process figures, draining.
#[utoipa::path(get, path = "/admin/node", tag = "admin", security(("api_key" = [])),
    responses((status = 200, body = NodeView), (status = 401, body = crate::error::Problem),
        (status = 403, body = crate::error::Problem)))]
pub async fn node(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<NodeView>, AppError> {
    caller.require_admin()?;
    let c = state.sfu.counters();
    let (cpu_seconds, resident_memory_bytes, open_fds) = process_figures();
    Ok(Json(NodeView {
        rooms: c.rooms.load(std::sync::atomic::Ordering::Relaxed),
        participants: c.participants.load(std::sync::atomic::Ordering::Relaxed),
        websocket_sessions: state.metrics.ws_sessions.get(),
        peer_connections: state.sfu.peer_connections(),
        draining: state.sfu.is_draining(),
        cpu_seconds,
        cpu_cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        resident_memory_bytes,
        open_fds,
    }))
}

/// Live rooms, the busiest first, with their participants and tracks.
#[utoipa::path(get, path = "/admin/rooms", tag = "admin", security(("api_key" = [])),
    responses((status = 200, body = [LiveRoomView]), (status = 401, body = crate::error::Problem),
        (status = 403, body = crate::error::Problem)))]
pub async fn rooms(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<LiveRoomView>>, AppError> {
    caller.require_admin()?;
    let now = Utc::now();
    let mut out = Vec::new();
    for (slug, reading) in state.sfu.room_readings() {
        let Some(snapshot) = state.sfu.room_snapshot(&slug).await else {
            continue; // closed meanwhile
        };
        let stored = state.store.room_by_slug(&slug).await?;
        let mut next_occurrence = None;
        if let Some(room) = &stored
            && let Some(row) = state.store.schedule(&room.id).await?
        {
            let schedule = load(&row, &room.time_zone)?;
            next_occurrence = off_thread(move || schedule.next(now))
                .await?
                .ok()
                .flatten()
                .as_ref()
                .map(OccurrenceView::from);
        }
        let participants: Vec<ParticipantView> = snapshot
            .participants
            .into_iter()
            .map(|p| {
                let links = snapshot.links.get(&p.id).copied().unwrap_or_default();
                ParticipantView {
                    inbound_bitrate_bps: links.inbound_bps,
                    outbound_bitrate_bps: links.outbound_bps,
                    publish: link_view(&links.publish, links.publish.upstream),
                    subscribe: link_view(&links.subscribe, links.subscribe.downstream),
                    receiving: snapshot
                        .receiving
                        .get(&p.id)
                        .into_iter()
                        .flatten()
                        .map(|r| ReceivingView {
                            track_id: r.track.clone(),
                            layer: r.layer,
                            layers: r.layers,
                        })
                        .collect(),
                    id: p.id,
                    name: p.name,
                    tracks: p
                        .tracks
                        .into_iter()
                        .map(|t| TrackView {
                            id: t.id,
                            kind: match t.kind {
                                TrackKind::Audio => "audio".into(),
                                TrackKind::Video => "video".into(),
                            },
                            muted: t.muted,
                            codec: t.codec,
                        })
                        .collect(),
                }
            })
            .collect();
        out.push(LiveRoomView {
            room: slug,
            name: stored.map(|r| r.name),
            inbound_bitrate_bps: participants.iter().map(|p| p.inbound_bitrate_bps).sum(),
            outbound_bitrate_bps: participants.iter().map(|p| p.outbound_bitrate_bps).sum(),
            participants,
            capacity: snapshot.capacity,
            loss: snapshot.loss,
            subscriptions: snapshot.subscriptions,
            received_bytes: reading.received_bytes.iter().sum(),
            forwarded_bytes: reading.forwarded_bytes.iter().sum(),
            forwarded_packets: reading.forwarded_packets.iter().sum(),
            dropped_packets: reading.dropped(),
            next_occurrence,
        });
    }
    out.sort_by(|a, b| {
        b.participants
            .len()
            .cmp(&a.participants.len())
            .then(a.room.cmp(&b.room))
    });
    Ok(Json(out))
}

fn link_view(link: &LinkReading, quality: Summary) -> LinkView {
    LinkView {
        state: link.state.as_str().to_owned(),
        loss: quality.loss_fraction,
        jitter_seconds: quality.jitter.map(|d| d.as_secs_f64()),
        rtt_seconds: quality.rtt.map(|d| d.as_secs_f64()),
        estimate_bps: link.estimate,
    }
}

/// 204 when an action found what it acts on; otherwise 404 naming what was missing.
fn done(found: bool, missing: &'static str) -> Result<StatusCode, AppError> {
    if found {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(AppError::NotFound(missing))
    }
}

/// Mutes a participant's published track; the participant is told (their page shows that an
/// admin turned it off) and may turn it on again themselves.
#[utoipa::path(post, path = "/admin/rooms/{room}/tracks/{track}/mute", tag = "admin",
    security(("api_key" = [])),
    params(("room" = String, Path, description = "The room's slug"),
        ("track" = String, Path, description = "The track's id")),
    responses((status = 204, description = "Muted"), (status = 401, body = crate::error::Problem),
        (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub async fn mute_track(
    State(state): State<AppState>,
    caller: Caller,
    Path((room, track)): Path<(String, String)>,
) -> Result<StatusCode, AppError> {
    caller.require_admin()?;
    let found = state.sfu.mute_track(&room, &track).await;
    if found {
        tracing::info!(%room, %track, key_id = %caller.0.id, "track muted by an admin");
    }
    done(found, "track in a live room")
}

/// Removes a participant from a live room; they are told `removed` and disconnected.
#[utoipa::path(delete, path = "/admin/rooms/{room}/participants/{participant}", tag = "admin",
    security(("api_key" = [])),
    params(("room" = String, Path, description = "The room's slug"),
        ("participant" = String, Path, description = "The participant's id")),
    responses((status = 204, description = "Removed"), (status = 401, body = crate::error::Problem),
        (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub async fn remove_participant(
    State(state): State<AppState>,
    caller: Caller,
    Path((room, participant)): Path<(String, String)>,
) -> Result<StatusCode, AppError> {
    caller.require_admin()?;
    let found = state.sfu.remove_participant(&room, &participant).await;
    if found {
        tracing::info!(%room, %participant, key_id = %caller.0.id, "participant removed by an admin");
    }
    done(found, "participant in a live room")
}

/// Closes a live room: everyone in it is told `room_closed` and disconnected.
#[utoipa::path(post, path = "/admin/rooms/{room}/close", tag = "admin", security(("api_key" = [])),
    params(("room" = String, Path, description = "The room's slug")),
    responses((status = 204, description = "Closed"), (status = 401, body = crate::error::Problem),
        (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub async fn close_room(
    State(state): State<AppState>,
    caller: Caller,
    Path(room): Path<String>,
) -> Result<StatusCode, AppError> {
    caller.require_admin()?;
    let found = state.sfu.close_room(&room, LeaveReason::RoomClosed).await;
    if found {
        tracing::info!(%room, key_id = %caller.0.id, "room closed by an admin");
    }
    done(found, "live room")
}
