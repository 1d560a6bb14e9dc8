//! `GET /api/v1/rooms/{id}/live`: the organiser's "now" card. The meeting under way (or the
//! next one), and who is in the call: each person's name, identity and role from the
//! signaling side ([`crate::live`]), for how long they have been in, and from the media
//! server whether they are speaking now, their microphone, camera and screen, and (in a
//! `talk_time` room) their talk time so far.

use axum::Json;
use axum::extract::{Path, State};
use chrono::Utc;
use protocol::{TrackKind, TrackSource};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::extract::Caller;
use super::schedule::{OccurrenceView, load, off_thread};
use crate::AppState;
use crate::attendance::Mode;
use crate::error::AppError;
use crate::store::{now_ms, rfc3339_ms};

/// One person in the call.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LivePerson {
    /// The call's participant id (the media server's name for them).
    pub participant_id: String,
    /// `member:<id>` or `guest:<device>`.
    pub identity: String,
    pub name: String,
    pub host: bool,
    pub joined_at: String,
    pub seconds_in: i64,
    /// Speaking now, by the server's speaker detection.
    pub speaking: bool,
    /// Publishing an unmuted microphone.
    pub microphone: bool,
    pub camera: bool,
    pub screen: bool,
    /// Talk time in this call so far; only in a room that keeps it (`talk_time` mode).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seconds_talking: Option<i64>,
}

/// The room now.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LiveView {
    /// The scheduled meeting under way, or else the next one.
    pub meeting: Option<OccurrenceView>,
    /// `meeting` has begun and not ended.
    pub under_way: bool,
    /// Who is in the call, the longest-present first.
    pub people: Vec<LivePerson>,
    /// How many people the call admits.
    pub capacity: Option<usize>,
}

/// Who is in a room's call now, and the meeting under way or next.
#[utoipa::path(get, path = "/rooms/{id}/live", tag = "rooms",
    params(("id" = String, Path, description = "The room's id")),
    security(("api_key" = [])),
    responses((status = 200, body = LiveView), (status = 401, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem)))]
pub async fn live(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<LiveView>, AppError> {
    let room = caller.room(&state, &id).await?;
    let now = Utc::now();
    let meeting = match state.store.schedule(&room.id).await? {
        Some(row) => {
            let schedule = load(&row, &room.time_zone)?;
            off_thread(move || schedule.next(now)).await?.ok().flatten()
        }
        None => None,
    };
    let under_way = meeting
        .as_ref()
        .is_some_and(|o| o.start <= now && now < o.end);
    let talk = Mode::parse(&room.attendance_mode).records_talk_time();
    let who = state.live.in_room(&room.id);
    let snapshot = if who.is_empty() {
        None
    } else {
        state.sfu.room_snapshot(&room.slug).await
    };
    let now_ms = now_ms();
    let mut people: Vec<(i64, LivePerson)> = Vec::new();
    let mut capacity = None;
    if let Some(snap) = snapshot {
        capacity = Some(snap.capacity);
        for p in snap.participants {
            // Someone the media server has and the signaling side does not is still joining
            // or leaving; they are listed once both agree.
            let Some(a) = who.get(&p.id) else { continue };
            // A client that names no source: its audio is a microphone, its video a camera.
            let on = |kind: TrackKind, source: TrackSource| {
                p.tracks.iter().any(|t| {
                    !t.muted
                        && t.kind == kind
                        && (t.source == source || t.source == TrackSource::Unknown)
                })
            };
            let talk_ms = snap.links.get(&p.id).map_or(0, |l| l.talk_ms);
            people.push((
                a.joined_at,
                LivePerson {
                    speaking: snap.speakers.contains(&p.id),
                    microphone: on(TrackKind::Audio, TrackSource::Microphone),
                    camera: on(TrackKind::Video, TrackSource::Camera),
                    screen: p
                        .tracks
                        .iter()
                        .any(|t| t.source == TrackSource::Screen && !t.muted),
                    seconds_talking: talk
                        .then_some(i64::try_from(talk_ms / 1000).unwrap_or(i64::MAX)),
                    identity: a.identity.clone(),
                    name: a.name.clone(),
                    host: a.host,
                    joined_at: rfc3339_ms(a.joined_at),
                    seconds_in: (now_ms - a.joined_at).max(0) / 1000,
                    participant_id: p.id,
                },
            ));
        }
    }
    people.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.name.cmp(&b.1.name)));
    let people = people.into_iter().map(|(_, p)| p).collect();
    Ok(Json(LiveView {
        meeting: meeting.as_ref().map(OccurrenceView::from),
        under_way,
        people,
        capacity,
    }))
}
