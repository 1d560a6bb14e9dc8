//! `/api/v1/rooms/{id}/schedule` and `/occurrences`: a room's weekly meeting times.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::extract::{ApiJson, ApiQuery, Caller};
use crate::AppState;
use crate::error::{AppError, FieldError, field};
use crate::schedule::{
    MAX_EXCEPTIONS, Move, Occurrence, Schedule, Status, format_local, parse_local,
};
use crate::store::{Room, ScheduleRow};

/// Longest range one occurrences request may cover.
const MAX_RANGE_DAYS: i64 = 5 * 366;
const DEFAULT_RANGE_DAYS: i64 = 90;

/// One occurrence held at another time, as stored and as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MoveView {
    /// Local start of the occurrence as the rule places it.
    pub occurrence: String,
    /// Its new local start.
    pub start: String,
    pub duration_minutes: u32,
}

/// `PUT /api/v1/rooms/{id}/schedule`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleBody {
    /// An RFC 5545 recurrence rule, for example `FREQ=WEEKLY;BYDAY=TU`.
    pub rrule: String,
    /// Local start of the first meeting in the schedule's time zone, `2026-10-06T18:00`.
    pub start: String,
    pub duration_minutes: u32,
    /// IANA time zone; the room's when left out.
    pub time_zone: Option<String>,
    /// Local starts of cancelled meetings.
    #[serde(default)]
    pub exdates: Vec<String>,
    /// Meetings held at another time.
    #[serde(default)]
    pub moves: Vec<MoveView>,
}

/// A room's schedule as the API shows it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ScheduleView {
    pub rrule: String,
    pub start: String,
    pub duration_minutes: u32,
    /// The zone the schedule runs in.
    pub time_zone: String,
    /// Whether the zone is the schedule's own (`true`) or follows the room's.
    pub own_time_zone: bool,
    pub exdates: Vec<String>,
    pub moves: Vec<MoveView>,
    /// The first meeting still running or yet to come.
    pub next_occurrence: Option<OccurrenceView>,
    /// Why the stored schedule cannot be expanded, when it cannot (set it again to fix it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// One meeting.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OccurrenceView {
    /// RFC 3339 with the offset in force that day.
    pub start: String,
    pub end: String,
    pub status: Status,
    /// For a moved meeting, where the rule placed it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub original_start: Option<String>,
}

impl From<&Occurrence> for OccurrenceView {
    fn from(o: &Occurrence) -> Self {
        OccurrenceView {
            start: o.start.to_rfc3339(),
            end: o.end.to_rfc3339(),
            status: o.status,
            original_start: o.original_start.map(|d| d.to_rfc3339()),
        }
    }
}

/// Longest a schedule computation may take before the request gives up on it. The work itself
/// is bounded ([`crate::schedule::EXPANSION_BUDGET`]); this only keeps a request from waiting
/// on a machine too busy to do it.
const DEADLINE: std::time::Duration = std::time::Duration::from_secs(5);

/// Runs a schedule computation on tokio's blocking threads, never on the async ones, within
/// [`DEADLINE`].
pub async fn off_thread<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, AppError> {
    match tokio::time::timeout(DEADLINE, tokio::task::spawn_blocking(work)).await {
        Ok(Ok(done)) => Ok(done),
        Ok(Err(e)) => Err(AppError::Config(format!(
            "schedule computation failed: {e}"
        ))),
        Err(_) => Err(AppError::Timeout("the schedule computation")),
    }
}

/// A stored schedule's rule that cannot be expanded, as the API reports it (409: the request is
/// fine, the stored schedule is not; setting it again fixes it).
pub fn stored_problem(e: FieldError) -> AppError {
    AppError::Conflict(field(
        e.field,
        format!(
            "the stored schedule cannot be used: {}; set it again",
            e.message
        ),
    ))
}

/// Rebuilds a stored schedule, in `room_zone` unless it has its own. Its rule and moves were
/// checked when written and are not checked again; a rule that no longer passes is kept as the
/// schedule's [`Schedule::problem`].
pub fn load(row: &ScheduleRow, room_zone: &str) -> Result<Schedule, AppError> {
    let corrupt = |what: &str| AppError::Config(format!("stored schedule has a bad {what}"));
    let exdates: Vec<String> =
        serde_json::from_str(&row.exdates).map_err(|_| corrupt("exdates"))?;
    let moves: Vec<MoveView> = serde_json::from_str(&row.moves).map_err(|_| corrupt("moves"))?;
    let moves = moves
        .iter()
        .map(|m| {
            Ok(Move {
                occurrence: parse_local("occurrence", &m.occurrence)?,
                start: parse_local("start", &m.start)?,
                duration_minutes: m.duration_minutes,
            })
        })
        .collect::<Result<Vec<_>, FieldError>>()
        .map_err(|_| corrupt("moves"))?;
    let minutes = u32::try_from(row.duration_minutes).map_err(|_| corrupt("duration"))?;
    let zone = row.time_zone.as_deref().unwrap_or(room_zone);
    Schedule::stored(&row.rrule, &row.start_local, minutes, zone, &exdates, moves)
        .map_err(|e| corrupt(&e.field))
}

/// Checks a stored schedule again, all of it, as a new one would be, in `zone` unless it has
/// its own: the outer error is a stored row that cannot be read, the inner what fails the checks.
pub fn recheck(row: &ScheduleRow, zone: &str) -> Result<Result<(), FieldError>, AppError> {
    let stored = load(row, zone)?;
    let exdates: Vec<String> = stored.exdates.iter().map(|e| format_local(*e)).collect();
    let zone = stored.time_zone.name();
    let start = format_local(stored.start);
    Ok(Schedule::new(
        &stored.rrule,
        &start,
        stored.duration_minutes,
        zone,
        &exdates,
    )
    .and_then(|mut again| {
        stored
            .moves
            .iter()
            .try_for_each(|m| again.move_occurrence(m.occurrence, m.start, m.duration_minutes))
    }))
}

fn apply_moves(schedule: &mut Schedule, moves: &[MoveView]) -> Result<(), FieldError> {
    if moves.len() > MAX_EXCEPTIONS {
        return Err(field(
            "moves",
            format!("at most {MAX_EXCEPTIONS} moved meetings"),
        ));
    }
    for (i, m) in moves.iter().enumerate() {
        let name = |f: &str| format!("moves[{i}].{f}");
        let occurrence = parse_local(&name("occurrence"), &m.occurrence)?;
        let start = parse_local(&name("start"), &m.start)?;
        schedule
            .move_occurrence(occurrence, start, m.duration_minutes)
            .map_err(|e| field(name(&e.field), e.message))?;
    }
    Ok(())
}

fn to_row(schedule: &Schedule, own_zone: bool) -> ScheduleRow {
    let exdates: Vec<String> = schedule.exdates.iter().map(|e| format_local(*e)).collect();
    ScheduleRow {
        rrule: schedule.rrule.clone(),
        start_local: format_local(schedule.start),
        duration_minutes: i64::from(schedule.duration_minutes),
        time_zone: own_zone.then(|| schedule.time_zone.name().to_owned()),
        exdates: serde_json::Value::from(exdates).to_string(),
        moves: serde_json::to_string(&moves_view(schedule)).unwrap_or_else(|_| "[]".into()),
        updated_at: 0,
    }
}

fn moves_view(schedule: &Schedule) -> Vec<MoveView> {
    schedule
        .moves
        .iter()
        .map(|m| MoveView {
            occurrence: format_local(m.occurrence),
            start: format_local(m.start),
            duration_minutes: m.duration_minutes,
        })
        .collect()
}

fn view(schedule: &Schedule, own_zone: bool) -> ScheduleView {
    let next = schedule.next(Utc::now());
    ScheduleView {
        rrule: schedule.rrule.clone(),
        start: format_local(schedule.start),
        duration_minutes: schedule.duration_minutes,
        time_zone: schedule.time_zone.name().to_owned(),
        own_time_zone: own_zone,
        exdates: schedule.exdates.iter().map(|e| format_local(*e)).collect(),
        moves: moves_view(schedule),
        next_occurrence: next
            .as_ref()
            .ok()
            .and_then(Option::as_ref)
            .map(OccurrenceView::from),
        problem: next.err().map(|e| e.to_string()),
    }
}

async fn room_and_schedule(
    state: &AppState,
    caller: &Caller,
    id: &str,
) -> Result<(Room, Option<(Schedule, bool)>), AppError> {
    let room = caller.room(state, id).await?;
    let schedule = match state.store.schedule(id).await? {
        Some(row) => Some((load(&row, &room.time_zone)?, row.time_zone.is_some())),
        None => None,
    };
    Ok((room, schedule))
}

const ID: &str = "The room's id";

/// Sets the room's schedule, replacing any earlier one.
#[utoipa::path(put, path = "/rooms/{id}/schedule", tag = "schedule", request_body = ScheduleBody,
    security(("api_key" = [])), params(("id" = String, Path, description = ID)),
    responses((status = 200, body = ScheduleView), (status = 401, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn put_schedule(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ScheduleBody>,
) -> Result<Json<ScheduleView>, AppError> {
    let room = caller.room(&state, &id).await?;
    let own_zone = body.time_zone.is_some();
    let zone = body.time_zone.as_deref().unwrap_or(&room.time_zone);
    let zone = zone.to_owned();
    let (schedule, shown) = off_thread(move || {
        let mut schedule = Schedule::new(
            &body.rrule,
            &body.start,
            body.duration_minutes,
            &zone,
            &body.exdates,
        )?;
        apply_moves(&mut schedule, &body.moves)?;
        let shown = view(&schedule, own_zone);
        Ok::<_, FieldError>((schedule, shown))
    })
    .await??;
    state
        .store
        .put_schedule(&id, &to_row(&schedule, own_zone))
        .await?;
    tracing::info!(room = %room.slug, rrule = %schedule.rrule, "schedule set");
    Ok(Json(shown))
}

/// The room's schedule.
#[utoipa::path(get, path = "/rooms/{id}/schedule", tag = "schedule",
    security(("api_key" = [])), params(("id" = String, Path, description = ID)),
    responses((status = 200, body = ScheduleView), (status = 401, body = crate::error::Problem),
        (status = 404, description = "No such room, or it has no schedule",
            body = crate::error::Problem)))]
pub async fn get_schedule(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<ScheduleView>, AppError> {
    let (_, schedule) = room_and_schedule(&state, &caller, &id).await?;
    let (schedule, own) = schedule.ok_or(AppError::NotFound("schedule"))?;
    Ok(Json(off_thread(move || view(&schedule, own)).await?))
}

/// Removes the room's schedule: the room is then always open.
#[utoipa::path(delete, path = "/rooms/{id}/schedule", tag = "schedule",
    security(("api_key" = [])), params(("id" = String, Path, description = ID)),
    responses((status = 204, description = "Removed"),
        (status = 401, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub async fn delete_schedule(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, AppError> {
    caller.room(&state, &id).await?;
    if state.store.delete_schedule(&id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(AppError::NotFound("schedule"))
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct RangeQuery {
    /// RFC 3339 start of the range (default: now).
    pub from: Option<String>,
    /// RFC 3339 end of the range, exclusive (default: 90 days after `from`; at most 5 years).
    pub to: Option<String>,
}

pub(super) fn instant(name: &str, text: &str) -> Result<DateTime<Utc>, AppError> {
    DateTime::parse_from_rfc3339(text)
        .map(|d| d.with_timezone(&Utc))
        .map_err(|_| field(name, "an RFC 3339 date-time like 2026-10-06T18:00:00+02:00").into())
}

/// Meetings that start in a range, cancelled and moved ones marked. At most 1000; when more
/// fall in the range, the header `Cohort-Truncated: true` says so.
#[utoipa::path(get, path = "/rooms/{id}/occurrences", tag = "schedule",
    security(("api_key" = [])), params(("id" = String, Path, description = ID), RangeQuery),
    responses((status = 200, body = [OccurrenceView]), (status = 401, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn occurrences(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<RangeQuery>,
) -> Result<(HeaderMap, Json<Vec<OccurrenceView>>), AppError> {
    let from = match &q.from {
        Some(t) => instant("from", t)?,
        None => Utc::now(),
    };
    let to = match &q.to {
        Some(t) => instant("to", t)?,
        None => from + Duration::days(DEFAULT_RANGE_DAYS),
    };
    if to <= from {
        return Err(field("to", "must be after from").into());
    }
    if to - from > Duration::days(MAX_RANGE_DAYS) {
        return Err(field("to", format!("at most {MAX_RANGE_DAYS} days after from")).into());
    }
    let (_, schedule) = room_and_schedule(&state, &caller, &id).await?;
    let (schedule, _) = schedule.ok_or(AppError::NotFound("schedule"))?;
    let found = off_thread(move || schedule.occurrences(from, to))
        .await?
        .map_err(stored_problem)?;
    let mut headers = HeaderMap::new();
    if found.truncated {
        headers.insert("cohort-truncated", HeaderValue::from_static("true"));
    }
    let list = found.occurrences.iter().map(OccurrenceView::from).collect();
    Ok((headers, Json(list)))
}

/// `PATCH /api/v1/rooms/{id}/occurrences/{occurrence}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OccurrencePatch {
    /// `cancelled` cancels the meeting; `scheduled` restores it as the rule has it.
    pub status: Option<PatchStatus>,
    /// Holds the meeting at this local start instead.
    pub start: Option<String>,
    /// Holds the meeting for this many minutes instead.
    pub duration_minutes: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum PatchStatus {
    Cancelled,
    Scheduled,
}

/// Cancels, restores or moves one meeting, named by its local start as the rule places it.
#[utoipa::path(patch, path = "/rooms/{id}/occurrences/{occurrence}", tag = "schedule",
    request_body = OccurrencePatch, security(("api_key" = [])),
    params(("id" = String, Path, description = ID),
        ("occurrence" = String, Path, description = "Local start, like 2026-10-20T18:00")),
    responses((status = 200, body = ScheduleView), (status = 401, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn patch_occurrence(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, occurrence)): Path<(String, String)>,
    ApiJson(patch): ApiJson<OccurrencePatch>,
) -> Result<Json<ScheduleView>, AppError> {
    let occurrence = parse_local("occurrence", &occurrence)?;
    let (_, schedule) = room_and_schedule(&state, &caller, &id).await?;
    let (mut schedule, own) = schedule.ok_or(AppError::NotFound("schedule"))?;
    if let Some(problem) = schedule.problem() {
        return Err(stored_problem(problem.clone()));
    }
    let (schedule, shown) = off_thread(move || {
        patch_one(&mut schedule, occurrence, &patch)?;
        let shown = view(&schedule, own);
        Ok::<_, AppError>((schedule, shown))
    })
    .await??;
    state
        .store
        .put_schedule(&id, &to_row(&schedule, own))
        .await?;
    Ok(Json(shown))
}

fn patch_one(
    schedule: &mut Schedule,
    occurrence: NaiveDateTime,
    patch: &OccurrencePatch,
) -> Result<(), AppError> {
    let moving = patch.start.is_some() || patch.duration_minutes.is_some();
    match (patch.status, moving) {
        (Some(PatchStatus::Cancelled), true) => {
            return Err(field("status", "a cancelled meeting cannot also move").into());
        }
        (Some(PatchStatus::Cancelled), false) => schedule.set_cancelled(occurrence, true)?,
        (_, true) => {
            let start = match &patch.start {
                Some(s) => parse_local("start", s)?,
                None => occurrence,
            };
            let minutes = patch.duration_minutes.unwrap_or(schedule.duration_minutes);
            schedule.set_cancelled(occurrence, false)?;
            schedule.move_occurrence(occurrence, start, minutes)?;
        }
        (Some(PatchStatus::Scheduled), false) => schedule.set_cancelled(occurrence, false)?,
        (None, false) => {
            return Err(field("body", "give status, or start and/or duration_minutes").into());
        }
    }
    Ok(())
}
