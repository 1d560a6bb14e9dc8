//! `/api/v1/rooms`: fixed rooms, created once and kept between meetings. Their invites are in
//! [`super::invites`].

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::extract::{ApiJson, ApiQuery, Caller};
use super::invites::{InviteView, invite_for};
use crate::AppState;
use crate::attendance::{Mode, Thresholds};
use crate::error::{AppError, FieldError, field};
use crate::invite::{self, Role};
use crate::schedule::parse_time_zone;
use crate::store::{Room, RoomChanges, rfc3339_ms};

const NAME_MAX: usize = 100;
const DESCRIPTION_MAX: usize = 2000;
const WINDOW_MAX_MINUTES: i64 = 240;
const DEFAULT_EARLY_JOIN_MINUTES: i64 = 10;
const DEFAULT_GRACE_MINUTES: i64 = 15;
const PAGE_DEFAULT: i64 = 50;
const PAGE_MAX: i64 = 200;

/// `POST /api/v1/rooms`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRoom {
    /// Shown to people, 1 to 100 characters.
    pub name: String,
    /// The room's address, `/r/{slug}`: a-z, 0-9, '-' and '_'. Made from the name when left
    /// out.
    pub slug: Option<String>,
    /// IANA time zone of the room's meetings, for example `Europe/Berlin`.
    pub time_zone: String,
    /// Most participants at once; the server's limit when left out.
    pub capacity: Option<i64>,
    pub description: Option<String>,
    /// Minutes before a meeting that participants may come in (default 10).
    pub early_join_minutes: Option<i64>,
    /// Minutes after a meeting's end that the room stays open (default 15).
    pub grace_minutes: Option<i64>,
    /// Days the room's chat is kept, 1 to 3650; for ever when left out or `null`.
    pub chat_retention_days: Option<i64>,
    /// What the room records of who came: `attendance` (default), `talk_time` (attendance and
    /// each person's talk time) or `off`.
    pub attendance_mode: Option<Mode>,
    /// Arriving more than this many minutes late is late (default 5, up to 240).
    pub late_after_minutes: Option<i64>,
    /// Present for less than this share of a meeting is absent (percent, default 25).
    pub min_present_percent: Option<i64>,
    /// Days the room's attendance is kept, 1 to 3650; for as long as the room when left out
    /// or `null`.
    pub attendance_retention_days: Option<i64>,
    /// Only hosts edit the shared notes; participants read them (default false).
    pub notes_read_only: Option<bool>,
}

/// `PATCH /api/v1/rooms/{id}`: only the fields given change; `description: null` clears it.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoomPatch {
    #[serde(default, deserialize_with = "not_null")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    pub slug: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    pub time_zone: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    pub capacity: Option<i64>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
    #[serde(default, deserialize_with = "not_null")]
    pub early_join_minutes: Option<i64>,
    #[serde(default, deserialize_with = "not_null")]
    pub grace_minutes: Option<i64>,
    /// `null` keeps chat for ever.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>)]
    pub chat_retention_days: Option<Option<i64>>,
    #[serde(default, deserialize_with = "not_null")]
    pub attendance_mode: Option<Mode>,
    #[serde(default, deserialize_with = "not_null")]
    pub late_after_minutes: Option<i64>,
    #[serde(default, deserialize_with = "not_null")]
    pub min_present_percent: Option<i64>,
    /// `null` keeps attendance for as long as the room.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>)]
    pub attendance_retention_days: Option<Option<i64>>,
    #[serde(default, deserialize_with = "not_null")]
    pub notes_read_only: Option<bool>,
    /// Hands the room to another API key to manage, by the key's id. Admin keys only.
    #[serde(default, deserialize_with = "not_null")]
    pub owner_key_id: Option<String>,
}

/// A field that may be left out but not cleared: `null` is refused (422, naming the field).
fn not_null<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    match Option::<T>::deserialize(d)? {
        Some(v) => Ok(Some(v)),
        None => Err(serde::de::Error::custom(
            "must not be null; leave the field out to keep its value",
        )),
    }
}

/// Tells a field given as `null` (`Some(None)`) from one left out (`None`).
pub(crate) fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// A room as the API shows it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RoomView {
    pub id: String,
    pub slug: String,
    pub name: String,
    pub description: Option<String>,
    pub time_zone: String,
    pub capacity: i64,
    pub early_join_minutes: i64,
    pub grace_minutes: i64,
    /// Days chat is kept; `null`: for ever.
    pub chat_retention_days: Option<i64>,
    /// What the room records of who came; its pages say so.
    pub attendance_mode: Mode,
    pub late_after_minutes: i64,
    pub min_present_percent: i64,
    /// Days attendance is kept; `null`: for as long as the room.
    pub attendance_retention_days: Option<i64>,
    /// Only hosts edit the shared notes.
    pub notes_read_only: bool,
    /// The room's page; people need an invite token to get in (see invites).
    pub join_url: String,
    /// The schedule as an iCalendar file.
    pub calendar_url: String,
    /// Bumped each time the invite key is rotated.
    pub invite_key_version: i64,
    /// The id of the API key that manages the room (admin keys manage every room); absent for
    /// rooms made before rooms had owners, which only admin keys manage.
    pub owner_key_id: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl RoomView {
    pub fn new(room: &Room, public_url: &str) -> RoomView {
        RoomView {
            id: room.id.clone(),
            slug: room.slug.clone(),
            name: room.name.clone(),
            description: room.description.clone(),
            time_zone: room.time_zone.clone(),
            capacity: room.capacity,
            early_join_minutes: room.early_join_minutes,
            grace_minutes: room.grace_minutes,
            chat_retention_days: room.chat_retention_days,
            attendance_mode: Mode::parse(&room.attendance_mode),
            late_after_minutes: room.late_after_minutes,
            min_present_percent: room.min_present_percent,
            attendance_retention_days: room.attendance_retention_days,
            notes_read_only: room.notes_read_only,
            join_url: format!("{public_url}/r/{}", room.slug),
            calendar_url: format!("{public_url}/api/v1/rooms/{}/calendar.ics", room.id),
            invite_key_version: room.key_version,
            owner_key_id: room.owner_key_id.clone(),
            created_at: rfc3339_ms(room.created_at),
            updated_at: rfc3339_ms(room.updated_at),
        }
    }
}

/// One page of rooms.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RoomPage {
    pub items: Vec<RoomView>,
    /// Pass as `after` for the next page; absent on the last page.
    pub next_after: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    /// Rooms per page, 1 to 200 (default 50).
    pub limit: Option<i64>,
    /// The slug after which the page starts (from `next_after`).
    pub after: Option<String>,
}

/// Makes a slug from a name: lowercase letters and digits, runs of anything else as one '-'.
pub fn slugify(name: &str) -> String {
    let mut slug = String::new();
    for c in name.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            slug.push(c);
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
        if slug.len() >= 48 {
            break;
        }
    }
    let slug = slug.trim_end_matches('-').to_owned();
    if slug.is_empty() { "room".into() } else { slug }
}

/// A room's name, by the rules for names (docs/protocol.md): it is shown in lists and pages.
fn check_name(errors: &mut Vec<FieldError>, text: &str) -> String {
    match protocol::text::normalize_name(text, NAME_MAX, "a room name") {
        Ok(name) => name,
        Err(e) => {
            errors.push(field("name", e));
            text.to_owned()
        }
    }
}

/// A description, by the rules for messages (new lines kept); empty clears it.
fn check_description(errors: &mut Vec<FieldError>, text: &str) -> Option<String> {
    if text.trim().is_empty() {
        return None;
    }
    match protocol::text::normalize_message(text, DESCRIPTION_MAX, "a description") {
        Ok(d) => Some(d),
        Err(e) => {
            errors.push(field("description", e));
            None
        }
    }
}

fn check_range(errors: &mut Vec<FieldError>, name: &str, value: i64, min: i64, max: i64) {
    if value < min || value > max {
        errors.push(field(name, format!("from {min} to {max}")));
    }
}

/// Checks every field of a room, collecting all problems.
fn check(c: &mut RoomChanges, max_capacity: i64) -> Result<(), AppError> {
    let mut errors = Vec::new();
    c.name = check_name(&mut errors, &c.name);
    if let Some(d) = &c.description {
        c.description = check_description(&mut errors, d);
    }
    if let Err(e) = protocol::validate_room_name(&c.slug) {
        errors.push(field("slug", e));
    }
    if let Err(e) = parse_time_zone(&c.time_zone) {
        errors.push(e);
    }
    check_range(&mut errors, "capacity", c.capacity, 1, max_capacity);
    check_range(
        &mut errors,
        "early_join_minutes",
        c.early_join_minutes,
        0,
        WINDOW_MAX_MINUTES,
    );
    check_range(
        &mut errors,
        "grace_minutes",
        c.grace_minutes,
        0,
        WINDOW_MAX_MINUTES,
    );
    for (name, days) in [
        ("chat_retention_days", c.chat_retention_days),
        ("attendance_retention_days", c.attendance_retention_days),
    ] {
        if let Err(e) = crate::chat::check_retention(name, days) {
            errors.push(e);
        }
    }
    let thresholds = Thresholds {
        late_after_minutes: c.late_after_minutes,
        min_present_percent: c.min_present_percent,
    };
    if let Err(mut e) = thresholds.check() {
        errors.append(&mut e);
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(AppError::Invalid(errors))
    }
}

/// Creates a room.
#[utoipa::path(post, path = "/rooms", tag = "rooms", request_body = NewRoom,
    security(("api_key" = [])),
    responses(
        (status = 201, description = "Created", body = RoomView),
        (status = 401, body = crate::error::Problem), (status = 409, body = crate::error::Problem),
        (status = 413, body = crate::error::Problem), (status = 422, body = crate::error::Problem),
    ))]
pub async fn create_room(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<NewRoom>,
) -> Result<impl IntoResponse, AppError> {
    let max_capacity = state.settings.max_capacity;
    let explicit_slug = body.slug.is_some();
    let mut changes = RoomChanges {
        slug: body.slug.clone().unwrap_or_else(|| slugify(&body.name)),
        name: body.name,
        description: body.description,
        time_zone: body.time_zone,
        capacity: body.capacity.unwrap_or(max_capacity),
        early_join_minutes: body
            .early_join_minutes
            .unwrap_or(DEFAULT_EARLY_JOIN_MINUTES),
        grace_minutes: body.grace_minutes.unwrap_or(DEFAULT_GRACE_MINUTES),
        chat_retention_days: body.chat_retention_days,
        attendance_mode: body
            .attendance_mode
            .unwrap_or(Mode::Attendance)
            .as_str()
            .to_owned(),
        late_after_minutes: body
            .late_after_minutes
            .unwrap_or(Thresholds::default().late_after_minutes),
        min_present_percent: body
            .min_present_percent
            .unwrap_or(Thresholds::default().min_present_percent),
        attendance_retention_days: body.attendance_retention_days,
        notes_read_only: body.notes_read_only.unwrap_or(false),
    };
    check(&mut changes, max_capacity)?;
    let id = uuid::Uuid::new_v4().to_string();
    let base = changes.slug.clone();
    // A slug made from the name takes the first free "-2", "-3", ... suffix.
    for attempt in 1..=20 {
        if attempt > 1 {
            changes.slug = format!("{base}-{attempt}");
        }
        match state
            .store
            .insert_room(
                &id,
                &changes,
                &invite::new_secret(),
                Some(caller.0.id.as_str()),
            )
            .await
        {
            Ok(room) => {
                tracing::info!(room = %room.slug, room_id = %room.id, "room created");
                let view = RoomView::new(&room, &state.settings.public_url);
                return Ok((StatusCode::CREATED, Json(view)));
            }
            Err(AppError::Conflict(e)) if explicit_slug || attempt == 20 => {
                return Err(AppError::Conflict(e));
            }
            Err(AppError::Conflict(_)) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(AppError::Conflict(field("slug", "no free slug; give one")))
}

/// Lists rooms in slug order, a page at a time.
#[utoipa::path(get, path = "/rooms", tag = "rooms", params(PageQuery),
    security(("api_key" = [])),
    responses((status = 200, body = RoomPage), (status = 401, body = crate::error::Problem),
        (status = 422, body = crate::error::Problem)))]
pub async fn list_rooms(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> Result<Json<RoomPage>, AppError> {
    let limit = q.limit.unwrap_or(PAGE_DEFAULT);
    if !(1..=PAGE_MAX).contains(&limit) {
        return Err(field("limit", format!("from 1 to {PAGE_MAX}")).into());
    }
    // One more than asked tells whether another page follows.
    let owner = (!caller.is_admin()).then_some(caller.0.id.as_str());
    let mut rooms = state
        .store
        .rooms(q.after.as_deref(), limit + 1, owner)
        .await?;
    let more = rooms.len() as i64 > limit;
    rooms.truncate(limit as usize);
    let next_after = more.then(|| rooms.last().map(|r| r.slug.clone())).flatten();
    let items = rooms
        .iter()
        .map(|r| RoomView::new(r, &state.settings.public_url))
        .collect();
    Ok(Json(RoomPage { items, next_after }))
}

/// One room.
#[utoipa::path(get, path = "/rooms/{id}", tag = "rooms", security(("api_key" = [])),
    params(("id" = String, Path, description = "The room's id")),
    responses((status = 200, body = RoomView), (status = 401, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem)))]
pub async fn get_room(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<RoomView>, AppError> {
    let room = caller.room(&state, &id).await?;
    Ok(Json(RoomView::new(&room, &state.settings.public_url)))
}

/// Changes some of a room's fields.
#[utoipa::path(patch, path = "/rooms/{id}", tag = "rooms", request_body = RoomPatch,
    security(("api_key" = [])),
    params(("id" = String, Path, description = "The room's id")),
    responses((status = 200, body = RoomView), (status = 401, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem),
        (status = 422, body = crate::error::Problem)))]
pub async fn patch_room(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(patch): ApiJson<RoomPatch>,
) -> Result<Json<RoomView>, AppError> {
    let room = caller.room(&state, &id).await?;
    let mut changes = RoomChanges {
        slug: patch.slug.unwrap_or(room.slug),
        name: patch.name.unwrap_or(room.name),
        description: patch.description.unwrap_or(room.description),
        time_zone: patch.time_zone.unwrap_or(room.time_zone),
        capacity: patch.capacity.unwrap_or(room.capacity),
        early_join_minutes: patch.early_join_minutes.unwrap_or(room.early_join_minutes),
        grace_minutes: patch.grace_minutes.unwrap_or(room.grace_minutes),
        chat_retention_days: patch
            .chat_retention_days
            .unwrap_or(room.chat_retention_days),
        attendance_mode: patch
            .attendance_mode
            .map_or(room.attendance_mode, |m| m.as_str().to_owned()),
        late_after_minutes: patch.late_after_minutes.unwrap_or(room.late_after_minutes),
        min_present_percent: patch
            .min_present_percent
            .unwrap_or(room.min_present_percent),
        attendance_retention_days: patch
            .attendance_retention_days
            .unwrap_or(room.attendance_retention_days),
        notes_read_only: patch.notes_read_only.unwrap_or(room.notes_read_only),
    };
    check(&mut changes, state.settings.max_capacity)?;
    if let Some(owner) = &patch.owner_key_id {
        if !caller.is_admin() {
            return Err(AppError::Forbidden(
                "only an admin key can hand a room to another key".into(),
            ));
        }
        match state.store.key(owner).await? {
            Some(key) if key.revoked_at.is_none() => {}
            _ => return Err(field("owner_key_id", "no such active API key").into()),
        }
    }
    // A schedule that follows the room's zone must still hold in the new one.
    if let Some(row) = state.store.schedule(&id).await?
        && row.time_zone.is_none()
    {
        let zone = changes.time_zone.clone();
        super::schedule::off_thread(move || super::schedule::recheck(&row, &zone))
            .await??
            .map_err(|e| field("time_zone", format!("the room's schedule breaks: {e}")))?;
    }
    let mut room = state
        .store
        .update_room(&id, &changes)
        .await?
        .ok_or(AppError::NotFound("room"))?;
    if let Some(owner) = &patch.owner_key_id {
        room = state
            .store
            .set_room_owner(&id, owner)
            .await?
            .ok_or(AppError::NotFound("room"))?;
        tracing::info!(room = %room.slug, owner_key_id = %owner, "room handed to another key");
    }
    Ok(Json(RoomView::new(&room, &state.settings.public_url)))
}

/// Deletes a room, its schedule and (by its key) every invite to it.
#[utoipa::path(delete, path = "/rooms/{id}", tag = "rooms", security(("api_key" = [])),
    params(("id" = String, Path, description = "The room's id")),
    responses((status = 204, description = "Deleted"),
        (status = 401, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub async fn delete_room(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, AppError> {
    caller.room(&state, &id).await?;
    let files = state.store.room_file_ids(&id).await?;
    if state.store.delete_room(&id).await? {
        for f in files {
            if let Err(e) = state.files.remove(&f).await {
                tracing::warn!(error = %e, "a deleted room's file could not be removed; the upkeep sweeps it");
            }
        }
        tracing::info!(room_id = %id, "room deleted");
        state.hub.revoke(&id, crate::hub::Revoked::All);
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(AppError::NotFound("room"))
    }
}

/// The demo room a newcomer is pointed to at start.
pub const DEMO_SLUG: &str = "try-cohort";

/// Makes sure the demo room exists (always open: no schedule) and returns a fresh invite to it,
/// valid for a week.
pub async fn demo_invite(state: &AppState) -> Result<InviteView, AppError> {
    let room = match state.store.room_by_slug(DEMO_SLUG).await? {
        Some(room) => room,
        None => {
            let changes = RoomChanges {
                slug: DEMO_SLUG.into(),
                name: "Try Cohort".into(),
                description: Some(
                    "A room to try Cohort in; it has no schedule, so it is always open.".into(),
                ),
                time_zone: "UTC".into(),
                capacity: state.settings.max_capacity,
                early_join_minutes: DEFAULT_EARLY_JOIN_MINUTES,
                grace_minutes: DEFAULT_GRACE_MINUTES,
                chat_retention_days: None,
                attendance_mode: Mode::Attendance.as_str().to_owned(),
                late_after_minutes: Thresholds::default().late_after_minutes,
                min_present_percent: Thresholds::default().min_present_percent,
                attendance_retention_days: None,
                notes_read_only: false,
            };
            let id = uuid::Uuid::new_v4().to_string();
            state
                .store
                .insert_room(&id, &changes, &invite::new_secret(), None)
                .await?
        }
    };
    Ok(invite_for(
        &room,
        Role::Participant,
        7 * 24 * 3600,
        &state.settings.public_url,
        None,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_come_from_names() {
        assert_eq!(slugify("Tuesday Maths — Year 9!"), "tuesday-maths-year-9");
        assert_eq!(slugify("  ***  "), "room");
        assert_eq!(slugify("Ünïcode Straße"), "n-code-stra-e");
        assert!(slugify(&"long ".repeat(40)).len() <= 48);
        assert!(protocol::validate_room_name(&slugify("Café & Co")).is_ok());
    }
}
