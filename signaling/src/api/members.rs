//! `/api/v1/rooms/{id}/members`: a room's roster, class-list imports, and each member's
//! personal invite links ([`crate::members`]).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::extract::{ApiJson, ApiQuery, Caller};
use super::invites::{InviteView, invite_for, invite_ttl};
use super::rooms::present;
use crate::AppState;
use crate::error::{AppError, field};
use crate::hub::Revoked;
use crate::invite::Role;
use crate::members::{Identity, MAX_MEMBERS, MemberFields, RowOutcome, parse_roster};
use crate::store::{Member, rfc3339_ms};

/// `POST /api/v1/rooms/{id}/members`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMember {
    pub display_name: String,
    /// Kept for the organiser; never shown to other participants.
    pub email: Option<String>,
    /// `participant` when left out.
    pub role: Option<Role>,
}

/// `PATCH /api/v1/rooms/{id}/members/{member}`: only the fields given change; `email: null`
/// clears it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberPatch {
    pub display_name: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub email: Option<Option<String>>,
    pub role: Option<Role>,
}

/// A member as the API shows it (to the room's organisers only).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MemberView {
    pub id: String,
    /// `member:<id>`: how chat, the board and attendance name this person.
    pub identity: String,
    pub display_name: String,
    pub email: Option<String>,
    pub role: Role,
    /// Bumped by revoking the member's links; links made before stop working.
    pub link_version: i64,
    pub created_at: String,
    pub updated_at: String,
}

impl From<&Member> for MemberView {
    fn from(m: &Member) -> Self {
        MemberView {
            identity: Identity::Member(m.id.clone()).to_string(),
            id: m.id.clone(),
            display_name: m.fields.display_name.clone(),
            email: m.fields.email.clone(),
            role: m.fields.role,
            link_version: m.link_version,
            created_at: rfc3339_ms(m.created_at),
            updated_at: rfc3339_ms(m.updated_at),
        }
    }
}

/// One refused row of an import.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RefusedRow {
    /// The row's line in the file (the header is line 1).
    pub line: u64,
    pub reason: String,
}

/// What an import did: every row is in one of the two lists.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ImportReport {
    pub added: Vec<MemberView>,
    pub refused: Vec<RefusedRow>,
}

/// `POST /api/v1/rooms/{id}/members/{member}/invites`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPersonalInvite {
    /// Seconds the link stays valid: 60 to a year (default 30 days).
    pub expires_in_seconds: Option<i64>,
}

async fn existing_member(state: &AppState, room: &str, id: &str) -> Result<Member, AppError> {
    state
        .store
        .member(room, id)
        .await?
        .ok_or(AppError::NotFound("member"))
}

const ID: &str = "The room's id";
const MEMBER: &str = "The member's id";

/// Adds a member to the room's roster.
#[utoipa::path(post, path = "/rooms/{id}/members", tag = "members", request_body = NewMember,
    security(("api_key" = [])), params(("id" = String, Path, description = ID)),
    responses((status = 201, body = MemberView), (status = 401, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem),
        (status = 422, body = crate::error::Problem)))]
pub async fn add_member(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<NewMember>,
) -> Result<(StatusCode, Json<MemberView>), AppError> {
    let room = caller.room(&state, &id).await?;
    let fields = MemberFields::new(&body.display_name, body.email.as_deref(), body.role)
        .map_err(AppError::Invalid)?;
    let mut added = state
        .store
        .insert_members(&room.id, &[fields], MAX_MEMBERS, false)
        .await?;
    let member = added
        .pop()
        .ok_or(AppError::Config("no member was added".into()))??;
    tracing::info!(room = %room.slug, member = %member.id, "member added");
    Ok((StatusCode::CREATED, Json(MemberView::from(&member))))
}

/// `POST /api/v1/rooms/{id}/members/import?dry_run=true`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ImportQuery {
    /// Answer as the import would (who is added, who refused and why), and keep nothing: the
    /// console's preview.
    pub dry_run: Option<bool>,
}

/// Adds members from a class list: CSV with a header naming `name`, and optionally `email` and
/// `role`. Good rows are added even when others are refused; the report lists both. With
/// `dry_run=true`, the report says what the import would do, and nothing is kept.
#[utoipa::path(post, path = "/rooms/{id}/members/import", tag = "members",
    request_body(content = String, content_type = "text/csv",
        description = "name,email,role\nAda Lovelace,ada@example.org,host"),
    security(("api_key" = [])), params(("id" = String, Path, description = ID), ImportQuery),
    responses((status = 200, body = ImportReport), (status = 401, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem), (status = 415, body = crate::error::Problem),
        (status = 422, body = crate::error::Problem)))]
pub async fn import_members(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<ImportQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<ImportReport>, AppError> {
    let room = caller.room(&state, &id).await?;
    let csv = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            let mime = v.split(';').next().unwrap_or("").trim();
            mime.eq_ignore_ascii_case("text/csv")
        });
    if !csv {
        return Err(AppError::UnsupportedMediaType);
    }
    let text = std::str::from_utf8(&body)
        .map_err(|_| AppError::BadRequest("a class list must be UTF-8 text".into()))?;
    let rows = parse_roster(text).map_err(|e| field("body", e))?;
    let mut refused = Vec::new();
    let mut wanted = Vec::new();
    for row in rows {
        match row.outcome {
            RowOutcome::Member(m) => wanted.push((row.line, m)),
            RowOutcome::Refused(reason) => refused.push(RefusedRow {
                line: row.line,
                reason,
            }),
        }
    }
    let fields: Vec<MemberFields> = wanted.iter().map(|(_, m)| m.clone()).collect();
    let results = state
        .store
        .insert_members(
            &room.id,
            &fields,
            MAX_MEMBERS,
            query.dry_run.unwrap_or(false),
        )
        .await?;
    let mut added = Vec::new();
    for ((line, _), result) in wanted.iter().zip(results) {
        match result {
            Ok(m) => added.push(MemberView::from(&m)),
            Err(AppError::Conflict(e)) => refused.push(RefusedRow {
                line: *line,
                reason: format!("{}: {}", e.field, e.message),
            }),
            Err(e) => return Err(e),
        }
    }
    refused.sort_by_key(|r| r.line);
    if !query.dry_run.unwrap_or(false) {
        tracing::info!(room = %room.slug, added = added.len(), refused = refused.len(), "class list imported");
    }
    Ok(Json(ImportReport { added, refused }))
}

/// The room's roster, by name.
#[utoipa::path(get, path = "/rooms/{id}/members", tag = "members",
    security(("api_key" = [])), params(("id" = String, Path, description = ID)),
    responses((status = 200, body = [MemberView]), (status = 401, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem)))]
pub async fn list_members(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Vec<MemberView>>, AppError> {
    let room = caller.room(&state, &id).await?;
    let members = state.store.members(&room.id).await?;
    Ok(Json(members.iter().map(MemberView::from).collect()))
}

/// One member.
#[utoipa::path(get, path = "/rooms/{id}/members/{member}", tag = "members",
    security(("api_key" = [])),
    params(("id" = String, Path, description = ID), ("member" = String, Path, description = MEMBER)),
    responses((status = 200, body = MemberView), (status = 401, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem)))]
pub async fn get_member(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, member)): Path<(String, String)>,
) -> Result<Json<MemberView>, AppError> {
    let room = caller.room(&state, &id).await?;
    let m = existing_member(&state, &room.id, &member).await?;
    Ok(Json(MemberView::from(&m)))
}

/// Changes a member's name, email or role; a new role applies to their links at once.
#[utoipa::path(patch, path = "/rooms/{id}/members/{member}", tag = "members",
    request_body = MemberPatch, security(("api_key" = [])),
    params(("id" = String, Path, description = ID), ("member" = String, Path, description = MEMBER)),
    responses((status = 200, body = MemberView), (status = 401, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem),
        (status = 422, body = crate::error::Problem)))]
pub async fn patch_member(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, member)): Path<(String, String)>,
    ApiJson(patch): ApiJson<MemberPatch>,
) -> Result<Json<MemberView>, AppError> {
    let room = caller.room(&state, &id).await?;
    let m = existing_member(&state, &room.id, &member).await?;
    let name = patch.display_name.unwrap_or(m.fields.display_name);
    let email = patch.email.unwrap_or(m.fields.email);
    let fields = MemberFields::new(
        &name,
        email.as_deref(),
        Some(patch.role.unwrap_or(m.fields.role)),
    )
    .map_err(AppError::Invalid)?;
    let m = state
        .store
        .update_member(&room.id, &member, &fields)
        .await?
        .ok_or(AppError::NotFound("member"))?;
    Ok(Json(MemberView::from(&m)))
}

/// Takes a member off the roster; their personal links stop working.
#[utoipa::path(delete, path = "/rooms/{id}/members/{member}", tag = "members",
    security(("api_key" = [])),
    params(("id" = String, Path, description = ID), ("member" = String, Path, description = MEMBER)),
    responses((status = 204, description = "Removed"), (status = 401, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem)))]
pub async fn delete_member(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, member)): Path<(String, String)>,
) -> Result<StatusCode, AppError> {
    let room = caller.room(&state, &id).await?;
    if state.store.delete_member(&room.id, &member).await? {
        tracing::info!(room = %room.slug, %member, "member removed");
        let identity = Identity::Member(member.clone()).to_string();
        state.hub.revoke(&room.id, Revoked::Identity(identity));
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(AppError::NotFound("member"))
    }
}

/// Makes a personal invite link for a member: it names them (`sub`), admits them with their
/// current role, and stops working when their links are revoked.
#[utoipa::path(post, path = "/rooms/{id}/members/{member}/invites", tag = "members",
    request_body = NewPersonalInvite, security(("api_key" = [])),
    params(("id" = String, Path, description = ID), ("member" = String, Path, description = MEMBER)),
    responses((status = 201, body = InviteView), (status = 401, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn personal_invite(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, member)): Path<(String, String)>,
    ApiJson(body): ApiJson<NewPersonalInvite>,
) -> Result<(StatusCode, Json<InviteView>), AppError> {
    let ttl = invite_ttl(body.expires_in_seconds)?;
    let room = caller.room(&state, &id).await?;
    let m = existing_member(&state, &room.id, &member).await?;
    let personal = Some((m.id.as_str(), m.link_version));
    let view = invite_for(
        &room,
        m.fields.role,
        ttl,
        &state.settings.public_url,
        personal,
    );
    Ok((StatusCode::CREATED, Json(view)))
}

/// Revokes every personal link of a member made so far, without touching anyone else's.
#[utoipa::path(post, path = "/rooms/{id}/members/{member}/revoke-links", tag = "members",
    security(("api_key" = [])),
    params(("id" = String, Path, description = ID), ("member" = String, Path, description = MEMBER)),
    responses((status = 200, body = MemberView), (status = 401, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem)))]
pub async fn revoke_links(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, member)): Path<(String, String)>,
) -> Result<Json<MemberView>, AppError> {
    let room = caller.room(&state, &id).await?;
    let m = state
        .store
        .bump_link_version(&room.id, &member)
        .await?
        .ok_or(AppError::NotFound("member"))?;
    tracing::info!(room = %room.slug, member = %m.id, "personal links revoked");
    let identity = Identity::Member(m.id.clone()).to_string();
    state.hub.revoke(&room.id, Revoked::Identity(identity));
    Ok(Json(MemberView::from(&m)))
}
