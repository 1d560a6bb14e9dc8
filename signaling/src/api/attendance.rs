//! `/api/v1/rooms/{id}/attendance`: who came to a stored room's meetings ([`crate::attendance`]).
//! A host (or the room's key) sees everyone, the roster's absentees included, with the hosts'
//! overrides and, in a `talk_time` room, each person's talk time, and exports the register as
//! CSV; a participant sees only their own record. Overrides and deletion are in
//! [`super::attendance_edit`].

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::extract::ApiQuery;
use super::reader::{Need, Reader, reader};
use crate::AppState;
use crate::attendance::{Mode, Status, Thresholds, csv, register};
use crate::error::{AppError, field};
use crate::members::Identity;
use crate::schedule::{parse_meeting, parse_time_zone};
use crate::store::{Presence, now_ms, rfc3339_ms};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AttendanceQuery {
    /// One meeting (its start, as `meetings` lists it); without it, the list of meetings.
    pub meeting: Option<String>,
    /// Only this person (`member:<id>` or `guest:<device>`); a participant may ask only for
    /// themselves.
    pub identity: Option<String>,
    /// `json` (default) or `csv` (hosts only).
    pub format: Option<String>,
    /// The room link's token, for a plain link a browser follows (or `Authorization`).
    pub t: Option<String>,
}

/// One stretch of presence.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Stretch {
    pub start: String,
    pub end: String,
}

/// A host's word on someone's status.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct HostOverride {
    pub status: Status,
    pub note: String,
    /// The host's identity, or `key:<id>` for an organiser's key.
    pub set_by: String,
    pub set_at: String,
}

impl From<register::HostMark> for HostOverride {
    fn from(h: register::HostMark) -> Self {
        HostOverride {
            status: h.status,
            note: h.note,
            set_by: h.set_by,
            set_at: rfc3339_ms(h.set_at),
        }
    }
}

/// One person's attendance of one meeting.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AttendanceRow {
    pub identity: String,
    pub name: String,
    /// On the roster (absentees are listed too), or a guest who came.
    pub member: bool,
    /// The host's override if there is one, otherwise `suggested`.
    pub status: Status,
    /// By the room's thresholds.
    pub suggested: Status,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_override: Option<HostOverride>,
    pub first_join: Option<String>,
    pub last_leave: Option<String>,
    pub seconds_present: i64,
    pub minutes_late: i64,
    /// How long they spoke, by the server's speaker detection; only in a room that keeps talk
    /// time (`talk_time` mode).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seconds_talking: Option<i64>,
    /// Merged: reconnects and two tabs count once.
    pub intervals: Vec<Stretch>,
}

/// A meeting's register.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Register {
    pub meeting: String,
    pub end: String,
    pub thresholds: Thresholds,
    pub people: Vec<AttendanceRow>,
}

/// The meetings with attendance, latest first.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Meetings {
    pub meetings: Vec<String>,
}

/// Whether a register's `format` asks for CSV (`json`, the default, or `csv`).
pub(super) fn wants_csv(format: Option<&str>) -> Result<bool, AppError> {
    match format {
        None | Some("json") => Ok(false),
        Some("csv") => Ok(true),
        Some(_) => Err(field("format", "json or csv").into()),
    }
}

/// When the meeting that started at `start` ends: by the schedule, or, for a session of a room
/// without one (or a meeting the schedule no longer has), at its last leave.
async fn meeting_end(
    state: &AppState,
    r: &Reader,
    start: DateTime<Utc>,
    last: i64,
) -> Result<i64, AppError> {
    if let Some(row) = state.store.schedule(&r.room.id).await? {
        let schedule = super::schedule::load(&row, &r.room.time_zone)?;
        let found = super::schedule::off_thread(move || {
            schedule
                .occurrences(start - Duration::minutes(1), start + Duration::minutes(1))
                .ok()
                .and_then(|e| {
                    e.occurrences
                        .into_iter()
                        .find(|o| o.start.with_timezone(&Utc) == start)
                })
                .map(|o| o.end.timestamp_millis())
        })
        .await?;
        if let Some(end) = found {
            return Ok(end);
        }
    }
    Ok(last.max(start.timestamp_millis() + 1))
}

/// A room's meetings with attendance, or one meeting's register.
#[utoipa::path(get, path = "/rooms/{id}/attendance", tag = "attendance",
    params(("id" = String, Path, description = "The room's id"), AttendanceQuery),
    security(("api_key" = []), ("invite" = [])),
    responses((status = 200, description = "Meetings, or a register (JSON or CSV)", body = Register),
        (status = 401, body = crate::error::Problem), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn attendance(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<AttendanceQuery>,
) -> Result<Response, AppError> {
    let headers = super::board_files::with_link_token(headers, q.t.as_deref());
    let r = reader(&state, &headers, &id, Need::Read).await?;
    let csv_wanted = wants_csv(q.format.as_deref())?;
    if r.participant {
        r.identified()?;
        if csv_wanted {
            return Err(AppError::Forbidden("only hosts export the register".into()));
        }
        if q.identity
            .as_deref()
            .is_some_and(|i| i != r.author.identity)
        {
            return Err(AppError::Forbidden(
                "a participant sees only their own attendance".into(),
            ));
        }
    }
    let only = if r.participant {
        Some(r.author.identity.clone())
    } else {
        q.identity.clone()
    };
    let Some(meeting) = q.meeting else {
        let meetings = state
            .store
            .attended_meetings(&r.room.id, only.as_deref())
            .await?;
        return Ok(Json(Meetings { meetings }).into_response());
    };
    let zone = parse_time_zone(&r.room.time_zone)?;
    let (start, meeting) = parse_meeting(&meeting, zone, "meeting")?;
    let now = now_ms();
    let presence = state.store.presence(&r.room.id, &meeting, now).await?;
    let last = presence
        .iter()
        .flat_map(|p| p.intervals.iter().map(|i| i.end))
        .max()
        .unwrap_or(now);
    let end = meeting_end(&state, &r, start, last).await?;
    let t = Thresholds {
        late_after_minutes: r.room.late_after_minutes,
        min_present_percent: r.room.min_present_percent,
    };
    let talk = Mode::parse(&r.room.attendance_mode).records_talk_time();
    let overrides = state.store.overrides(&r.room.id, &meeting).await?;
    let held = register::Meeting {
        name: meeting.clone(),
        start: start.timestamp_millis(),
        end,
        scheduled: true,
        over: end <= now,
    };
    let row = |identity: String, name: String, member: bool, came: Option<&Presence>| {
        let host = overrides
            .iter()
            .find(|o| o.identity == identity)
            .and_then(|o| o.host_mark());
        let m = register::mark(&held, now, came, host, t);
        AttendanceRow {
            status: m.status,
            suggested: m.suggested,
            host_override: m.host.map(HostOverride::from),
            seconds_talking: talk.then_some(m.talk_ms / 1000),
            identity,
            name,
            member,
            first_join: m.summary.first_join.map(rfc3339_ms),
            last_leave: m.summary.last_leave.map(rfc3339_ms),
            seconds_present: m.summary.present_ms / 1000,
            minutes_late: m.summary.minutes_late,
            intervals: m
                .summary
                .intervals
                .iter()
                .map(|i| Stretch {
                    start: rfc3339_ms(i.start),
                    end: rfc3339_ms(i.end),
                })
                .collect(),
        }
    };
    let mut people = Vec::new();
    let roster = state.store.members(&r.room.id).await?;
    for m in &roster {
        let identity = Identity::Member(m.id.clone()).to_string();
        let came = presence.iter().find(|p| p.identity == identity);
        people.push(row(identity, m.fields.display_name.clone(), true, came));
    }
    for p in &presence {
        if !people.iter().any(|row| row.identity == p.identity) {
            people.push(row(p.identity.clone(), p.name.clone(), false, Some(p)));
        }
    }
    if let Some(who) = &only {
        people.retain(|p| &p.identity == who);
    }
    if csv_wanted {
        let local = |s: &Option<String>| {
            s.as_deref()
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.with_timezone(&zone).format("%Y-%m-%d %H:%M").to_string())
                .unwrap_or_default()
        };
        let rows: Vec<Vec<String>> = people
            .iter()
            .map(|p| {
                let mut cells = vec![
                    p.name.clone(),
                    p.identity.clone(),
                    p.status.as_str().to_owned(),
                    p.suggested.as_str().to_owned(),
                    p.host_override
                        .as_ref()
                        .map(|o| o.note.clone())
                        .unwrap_or_default(),
                    local(&p.first_join),
                    local(&p.last_leave),
                    (p.seconds_present / 60).to_string(),
                    p.minutes_late.to_string(),
                ];
                cells.extend(p.seconds_talking.map(|s| s.to_string()));
                cells
            })
            .collect();
        let mut header = vec![
            "name",
            "identity",
            "status",
            "suggested",
            "note",
            "first_join",
            "last_leave",
            "minutes_present",
            "minutes_late",
        ];
        if talk {
            header.push("seconds_talking");
        }
        let doc = csv::document(&header, &rows);
        let mut res = doc.into_response();
        let h = res.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/csv; charset=utf-8"),
        );
        let file = format!(
            "attachment; filename=\"attendance-{}-{}.csv\"",
            r.room.slug,
            &meeting[..meeting.len().min(10)]
        );
        if let Ok(v) = HeaderValue::from_str(&file) {
            h.insert(header::CONTENT_DISPOSITION, v);
        }
        return Ok(res);
    }
    Ok(Json(Register {
        meeting,
        end: rfc3339_ms(end),
        thresholds: t,
        people,
    })
    .into_response())
}
