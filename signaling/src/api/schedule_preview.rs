//! `POST /api/v1/rooms/{id}/schedule/preview`: what a schedule would be, stored nowhere. The
//! organiser console's schedule form sends its term (weekdays, time, duration, first and last
//! meeting, every week or every other week) or an expert's rule, and shows the rule, the form
//! that rule is, and its meetings, as the server itself computes them: so what the preview
//! lists is what `PUT /schedule` then stores.

use axum::Json;
use axum::extract::{Path, State};
use chrono::{Duration, NaiveDate, NaiveTime, Weekday};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::extract::{ApiJson, Caller};
use super::schedule::{OccurrenceView, off_thread};
use crate::AppState;
use crate::error::{AppError, FieldError, field};
use crate::schedule::term::{MAX_TERM_DAYS, Term, day_code, parse_day};
use crate::schedule::{Schedule, format_local, parse_local, parse_time_zone};

/// Most meetings one preview lists.
pub const MAX_PREVIEW: u16 = 200;

/// A term as the console's form states it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TermBody {
    /// Days it meets: `MO`, `TU`, `WE`, `TH`, `FR`, `SA`, `SU`.
    pub weekdays: Vec<String>,
    /// Local start time of each meeting, `18:00`.
    pub time: String,
    pub duration_minutes: u32,
    /// The first meeting's date (or the first of `weekdays` after it), `2026-09-01`.
    pub first: String,
    /// No meeting after this date, the term's end; none: no end.
    #[serde(default)]
    pub last: Option<String>,
    /// 1: every week; 2: every other week.
    pub every_weeks: u8,
}

/// `POST /api/v1/rooms/{id}/schedule/preview`: a `term`, or `rrule`, `start` and
/// `duration_minutes` as `PUT /schedule` takes them.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewBody {
    #[serde(default)]
    pub term: Option<TermBody>,
    #[serde(default)]
    pub rrule: Option<String>,
    #[serde(default)]
    pub start: Option<String>,
    #[serde(default)]
    pub duration_minutes: Option<u32>,
    /// IANA time zone; the room's when left out.
    #[serde(default)]
    pub time_zone: Option<String>,
    /// How many meetings to list from the first: 1 to 200, 100 if not given.
    #[serde(default)]
    pub limit: Option<u16>,
}

/// A schedule that could be stored.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PreviewView {
    /// What `PUT /schedule` takes: `rrule`, `start`, `duration_minutes`.
    pub rrule: String,
    pub start: String,
    pub duration_minutes: u32,
    pub time_zone: String,
    /// The rule as the form states it; none when the form cannot state it exactly.
    pub term: Option<TermBody>,
    /// Its meetings from the first, at most `limit`.
    pub occurrences: Vec<OccurrenceView>,
    /// It has more meetings than were listed.
    pub truncated: bool,
}

fn term_of(b: &TermBody) -> Result<Term, FieldError> {
    let weekdays = b
        .weekdays
        .iter()
        .enumerate()
        .map(|(i, d)| {
            parse_day(d).ok_or_else(|| {
                field(
                    format!("term.weekdays[{i}]"),
                    "MO, TU, WE, TH, FR, SA or SU",
                )
            })
        })
        .collect::<Result<Vec<Weekday>, _>>()?;
    let time = NaiveTime::parse_from_str(&b.time, "%H:%M")
        .map_err(|_| field("term.time", "a time of day like 18:00"))?;
    let date = |name: &str, text: &str| {
        NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .map_err(|_| field(name, "a date like 2026-09-01"))
    };
    Ok(Term {
        weekdays,
        time,
        duration_minutes: b.duration_minutes,
        first: date("term.first", &b.first)?,
        last: b
            .last
            .as_deref()
            .map(|l| date("term.last", l))
            .transpose()?,
        every_weeks: b.every_weeks,
    })
}

fn body_of(t: &Term) -> TermBody {
    TermBody {
        weekdays: t.weekdays.iter().map(|d| day_code(*d).to_owned()).collect(),
        time: t.time.format("%H:%M").to_string(),
        duration_minutes: t.duration_minutes,
        first: t.first.format("%Y-%m-%d").to_string(),
        last: t.last.map(|l| l.format("%Y-%m-%d").to_string()),
        every_weeks: t.every_weeks,
    }
}

fn preview(body: PreviewBody, room_zone: &str) -> Result<PreviewView, FieldError> {
    let zone_name = body.time_zone.as_deref().unwrap_or(room_zone);
    let zone = parse_time_zone(zone_name)?;
    let limit = body.limit.unwrap_or(100);
    if !(1..=MAX_PREVIEW).contains(&limit) {
        return Err(field("limit", format!("1 to {MAX_PREVIEW}")));
    }
    let (rrule, start, minutes) = match (&body.term, &body.rrule) {
        (Some(_), Some(_)) => return Err(field("rrule", "give a term or a rule, not both")),
        (Some(t), None) => {
            let term = term_of(t)?;
            let c = term.compose(zone)?;
            (c.rrule, c.start, term.duration_minutes)
        }
        (None, Some(rule)) => {
            let start = body
                .start
                .as_deref()
                .ok_or_else(|| field("start", "required with rrule"))?;
            let minutes = body
                .duration_minutes
                .ok_or_else(|| field("duration_minutes", "required with rrule"))?;
            (rule.clone(), parse_local("start", start)?, minutes)
        }
        (None, None) => {
            return Err(field(
                "term",
                "a term, or rrule with start and duration_minutes",
            ));
        }
    };
    let schedule = Schedule::new(&rrule, &format_local(start), minutes, zone.name(), &[])?;
    let from = crate::schedule::place_utc(zone, start) - Duration::minutes(1);
    let to = from + Duration::days(MAX_TERM_DAYS + 8);
    let found = schedule.occurrences(from, to)?;
    let shown = usize::from(limit);
    let truncated = found.truncated || found.occurrences.len() > shown;
    Ok(PreviewView {
        term: Term::read(&schedule.rrule, start, minutes, zone)
            .as_ref()
            .map(body_of),
        rrule: schedule.rrule.clone(),
        start: format_local(start),
        duration_minutes: minutes,
        time_zone: zone.name().to_owned(),
        occurrences: found
            .occurrences
            .iter()
            .take(shown)
            .map(OccurrenceView::from)
            .collect(),
        truncated,
    })
}

/// What a schedule would be, stored nowhere: its rule, the form it is, and its meetings from
/// the first.
#[utoipa::path(post, path = "/rooms/{id}/schedule/preview", tag = "schedule",
    request_body = PreviewBody, security(("api_key" = [])),
    params(("id" = String, Path, description = "The room's id")),
    responses((status = 200, body = PreviewView), (status = 401, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn preview_schedule(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<PreviewBody>,
) -> Result<Json<PreviewView>, AppError> {
    let room = caller.room(&state, &id).await?;
    let zone = room.time_zone.clone();
    Ok(Json(off_thread(move || preview(body, &zone)).await??))
}
