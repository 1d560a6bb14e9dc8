//! `GET /api/v1/rooms/{id}/register`: the register of a term, for the room's organiser
//! ([`crate::attendance::register`]): every roster member by every meeting that has begun in
//! a range, present, late, absent or excused, with time present and, in a `talk_time` room,
//! talk time; totals per person; guests apart. JSON, or CSV with one line per person (one
//! column per meeting) that a spreadsheet cannot mistake for formulas.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Duration, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::attendance::HostOverride;
use super::extract::{ApiQuery, Caller};
use super::schedule::{instant, load, off_thread, stored_problem};
use crate::AppState;
use crate::attendance::register::{self, Kept, Line, Meeting};
use crate::attendance::{Mode, Status, Thresholds, csv};
use crate::error::{AppError, field};
use crate::members::Identity;
use crate::schedule::{Status as Held, parse_time_zone};
use crate::store::{now_ms, rfc3339_ms};

/// Most meetings one register holds; a wider range is refused.
pub const MAX_MEETINGS: usize = 500;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct RegisterQuery {
    /// RFC 3339: the first meeting's earliest start (default: when the room or its schedule
    /// began, whichever is earlier, a meeting moved before the schedule's start included).
    pub from: Option<String>,
    /// RFC 3339, exclusive (default: now). Meetings that have not begun are never listed.
    pub to: Option<String>,
    /// `json` (default) or `csv`.
    pub format: Option<String>,
}

/// A meeting of the register.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RegisterMeeting {
    /// Its start, as the per-meeting register (`attendance?meeting=`) names it.
    pub start: String,
    pub end: String,
    /// On the schedule; otherwise a session held off it.
    pub scheduled: bool,
    /// Over; a meeting under way is listed but not yet counted in the totals.
    pub over: bool,
}

/// One mark.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RegisterMark {
    /// The host's override if there is one, otherwise `suggested`.
    pub status: Status,
    pub suggested: Status,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_override: Option<HostOverride>,
    pub seconds_present: i64,
    pub minutes_late: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seconds_talking: Option<i64>,
}

/// One person's totals over the meetings that are over.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RegisterTotals {
    /// Meetings over.
    pub held: u32,
    /// Present or late.
    pub attended: u32,
    pub late: u32,
    pub excused: u32,
    pub absent: u32,
    pub minutes_present: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seconds_talking: Option<i64>,
}

/// One person's line.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RegisterLine {
    pub identity: String,
    pub name: String,
    /// One per meeting, in the order of `meetings`; a guest's is null where they did not
    /// come.
    pub marks: Vec<Option<RegisterMark>>,
    pub totals: RegisterTotals,
}

/// The register of a range of meetings.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TermRegister {
    pub from: String,
    pub to: String,
    pub time_zone: String,
    pub thresholds: Thresholds,
    /// The room keeps talk time.
    pub talk_time: bool,
    /// Oldest first.
    pub meetings: Vec<RegisterMeeting>,
    /// The roster, in its order.
    pub members: Vec<RegisterLine>,
    /// Who came by the shared link, by name.
    pub guests: Vec<RegisterLine>,
}

fn line_view(l: Line, talk: bool) -> RegisterLine {
    RegisterLine {
        marks: l
            .marks
            .into_iter()
            .map(|m| {
                m.map(|m| RegisterMark {
                    status: m.status,
                    suggested: m.suggested,
                    host_override: m.host.map(HostOverride::from),
                    seconds_present: m.summary.present_ms / 1000,
                    minutes_late: m.summary.minutes_late,
                    seconds_talking: talk.then_some(m.talk_ms / 1000),
                })
            })
            .collect(),
        totals: RegisterTotals {
            held: l.totals.held,
            attended: l.totals.attended,
            late: l.totals.late,
            excused: l.totals.excused,
            absent: l.totals.absent,
            minutes_present: l.totals.present_ms / 60_000,
            seconds_talking: talk.then_some(l.totals.talk_ms / 1000),
        },
        identity: l.identity,
        name: l.name,
    }
}

/// The register of the meetings that began in a range: the roster by meetings, with totals,
/// and the guests apart. `format=csv` gives one line per person and a column per meeting.
#[utoipa::path(get, path = "/rooms/{id}/register", tag = "attendance",
    params(("id" = String, Path, description = "The room's id"), RegisterQuery),
    security(("api_key" = [])),
    responses((status = 200, description = "The register (JSON or CSV)", body = TermRegister),
        (status = 401, body = crate::error::Problem), (status = 404, body = crate::error::Problem),
        (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn register(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<RegisterQuery>,
) -> Result<Response, AppError> {
    let csv_wanted = super::attendance::wants_csv(q.format.as_deref())?;
    let room = caller.room(&state, &id).await?;
    let zone = parse_time_zone(&room.time_zone)?;
    let now = now_ms();
    let schedule = match state.store.schedule(&room.id).await? {
        Some(row) => Some(load(&row, &room.time_zone)?),
        None => None,
    };
    let began = schedule
        .as_ref()
        .and_then(|s| s.earliest().and_local_timezone(zone).earliest())
        .map_or(room.created_at, |s| {
            s.timestamp_millis().min(room.created_at)
        });
    let from = match &q.from {
        Some(t) => instant("from", t)?,
        None => at(began),
    };
    let to = match &q.to {
        Some(t) => instant("to", t)?.min(at(now)),
        None => at(now),
    };
    if to <= from {
        return Err(field("to", "must be after from, and meetings listed have begun").into());
    }

    // The schedule's meetings that have begun, then the sessions held off it.
    let mut meetings: Vec<Meeting> = Vec::new();
    if let Some(schedule) = schedule {
        let found = off_thread(move || schedule.occurrences(from, to))
            .await?
            .map_err(stored_problem)?;
        if found.truncated {
            return Err(too_many());
        }
        meetings.extend(
            found
                .occurrences
                .iter()
                .filter(|o| o.status != Held::Cancelled)
                .map(|o| {
                    let start = o.start.with_timezone(&Utc);
                    Meeting::scheduled(
                        crate::schedule::meeting_name(start, zone),
                        start.timestamp_millis(),
                        o.end.timestamp_millis(),
                        now,
                    )
                }),
        );
    }
    let day = Duration::days(1).num_milliseconds();
    let stored = state
        .store
        .presence_between(
            &room.id,
            from.timestamp_millis() - day,
            to.timestamp_millis(),
            now,
        )
        .await?;
    let mut kept: Vec<Kept> = vec![Kept::default(); meetings.len()];
    for m in stored {
        let Ok(start) = DateTime::parse_from_rfc3339(&m.meeting) else {
            continue; // not a meeting's name; never written by this server
        };
        let start = start.timestamp_millis();
        if let Some(i) = meetings.iter().position(|s| s.start == start) {
            kept[i].came.extend(m.people);
        } else if (from.timestamp_millis()..to.timestamp_millis()).contains(&start) {
            meetings.push(Meeting::session(m.meeting, start, &m.people, m.open));
            kept.push(Kept {
                came: m.people,
                hosts: Vec::new(),
            });
        }
    }
    if meetings.len() > MAX_MEETINGS {
        return Err(too_many());
    }
    for (meeting, o) in state.store.all_overrides(&room.id).await? {
        let Ok(start) = DateTime::parse_from_rfc3339(&meeting) else {
            continue;
        };
        if let Some(i) = meetings
            .iter()
            .position(|s| s.start == start.timestamp_millis())
            && let Some(h) = o.host_mark()
        {
            kept[i].hosts.push((o.identity, h));
        }
    }
    let mut held: Vec<(Meeting, Kept)> = meetings.into_iter().zip(kept).collect();
    held.sort_by_key(|(m, _)| m.start);
    let (meetings, kept): (Vec<Meeting>, Vec<Kept>) = held.into_iter().unzip();

    let roster: Vec<(String, String)> = state
        .store
        .members(&room.id)
        .await?
        .into_iter()
        .map(|m| (Identity::Member(m.id).to_string(), m.fields.display_name))
        .collect();
    let t = Thresholds {
        late_after_minutes: room.late_after_minutes,
        min_present_percent: room.min_present_percent,
    };
    let talk = Mode::parse(&room.attendance_mode).records_talk_time();
    let built = register::build(&meetings, &kept, &roster, now, t);
    if csv_wanted {
        return Ok(csv_response(&room.slug, &meetings, &built, zone, talk));
    }
    Ok(Json(TermRegister {
        from: from.to_rfc3339(),
        to: to.to_rfc3339(),
        time_zone: room.time_zone.clone(),
        thresholds: t,
        talk_time: talk,
        meetings: meetings
            .iter()
            .map(|m| RegisterMeeting {
                start: m.name.clone(),
                end: rfc3339_ms(m.end),
                scheduled: m.scheduled,
                over: m.over,
            })
            .collect(),
        members: built
            .members
            .into_iter()
            .map(|l| line_view(l, talk))
            .collect(),
        guests: built
            .guests
            .into_iter()
            .map(|l| line_view(l, talk))
            .collect(),
    })
    .into_response())
}

fn at(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

fn too_many() -> AppError {
    field(
        "from",
        format!(
            "the range holds more than {MAX_MEETINGS} meetings; give a later from or an earlier to"
        ),
    )
    .into()
}

/// One line per person: name, identity, member or guest, the totals, a column per meeting
/// (headed by its local start) holding the mark, and the hosts' notes.
fn csv_response(
    slug: &str,
    meetings: &[Meeting],
    built: &register::Register,
    zone: Tz,
    talk: bool,
) -> Response {
    let local = |ms: i64| {
        at(ms)
            .with_timezone(&zone)
            .format("%Y-%m-%d %H:%M")
            .to_string()
    };
    let mut header: Vec<String> = [
        "name",
        "identity",
        "kind",
        "attended",
        "held",
        "late",
        "excused",
        "absent",
        "minutes_present",
    ]
    .map(String::from)
    .to_vec();
    if talk {
        header.push("seconds_talking".into());
    }
    header.extend(meetings.iter().map(|m| local(m.start)));
    header.push("notes".into());
    let rows: Vec<Vec<String>> = built
        .members
        .iter()
        .map(|l| (l, "member"))
        .chain(built.guests.iter().map(|l| (l, "guest")))
        .map(|(l, kind)| {
            let t = &l.totals;
            let mut cells = vec![
                l.name.clone(),
                l.identity.clone(),
                kind.to_owned(),
                t.attended.to_string(),
                t.held.to_string(),
                t.late.to_string(),
                t.excused.to_string(),
                t.absent.to_string(),
                (t.present_ms / 60_000).to_string(),
            ];
            if talk {
                cells.push((t.talk_ms / 1000).to_string());
            }
            let mut notes = Vec::new();
            for (m, mark) in meetings.iter().zip(&l.marks) {
                cells.push(
                    mark.as_ref()
                        .map(|k| k.status.as_str())
                        .unwrap_or("")
                        .to_owned(),
                );
                if let Some(h) = mark.as_ref().and_then(|k| k.host.as_ref())
                    && !h.note.is_empty()
                {
                    notes.push(format!("{}: {}", local(m.start), h.note));
                }
            }
            cells.push(notes.join("; "));
            cells
        })
        .collect();
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    let mut res = csv::document(&header, &rows).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"register-{slug}.csv\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    res
}
