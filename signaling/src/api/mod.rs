//! The HTTP API under `/api/v1`: rooms, schedules, invites and keys, with an OpenAPI 3.1
//! document generated from the handlers themselves, so the document and the routes cannot
//! drift apart.

pub mod admin;
pub mod attendance;
pub mod attendance_edit;
pub mod board;
pub mod board_files;
pub mod calendar;
pub mod chat;
pub mod export;
pub mod extract;
pub mod invites;
pub mod keys;
pub mod live;
pub mod lobby;
pub mod members;
pub mod notes;
pub mod notes_history;
pub mod reader;
pub mod register;
pub mod rooms;
pub mod schedule;
pub mod schedule_preview;
pub mod session;
pub mod sign_in;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use utoipa::openapi::path::{HttpMethod, OperationBuilder, PathItem};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Content, ResponseBuilder};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use utoipa_swagger_ui::SwaggerUi;

use crate::AppState;
use crate::error::AppError;
use crate::ratelimit::Limiter;

/// Largest JSON body the API reads.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Cohort API",
        description = "Fixed rooms with weekly schedules, invites and API keys. Errors are RFC 9457 problem documents.",
    ),
    modifiers(&BearerKey),
    components(schemas(crate::error::Problem, crate::error::FieldError)),
    tags(
        (name = "rooms", description = "Fixed rooms, kept between meetings"),
        (name = "schedule", description = "Weekly meeting times and single changes"),
        (name = "invites", description = "Invite links and their key"),
        (name = "members", description = "A room's roster, class lists and personal links"),
        (name = "chat", description = "A room's kept chat: history, search, export"),
        (name = "board", description = "A room's resource board: links, files, notes"),
        (name = "attendance", description = "Who came to a room's meetings"),
        (name = "notes", description = "A room's shared notes, edited together (WebSocket)"),
        (name = "keys", description = "API keys (admin only)"),
        (name = "admin", description = "Live rooms and this node (admin only)"),
        (name = "service", description = "Health, readiness, signaling and pages"),
    )
)]
struct ApiDoc;

struct BearerKey;

impl Modify for BearerKey {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("An organiser or admin API key"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "invite",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "An invite or personal link's token; a guest's page also sends \
                         X-Cohort-Device",
                    ))
                    .build(),
            ),
        );
    }
}

/// Every API route, and the document that describes them.
fn api_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(rooms::create_room, rooms::list_rooms))
        .routes(routes!(
            rooms::get_room,
            rooms::patch_room,
            rooms::delete_room
        ))
        .routes(routes!(invites::create_invite))
        .routes(routes!(invites::rotate_invite_key))
        .routes(routes!(members::add_member, members::list_members))
        .routes(routes!(members::import_members))
        .routes(routes!(
            members::get_member,
            members::patch_member,
            members::delete_member
        ))
        .routes(routes!(members::personal_invite))
        .routes(routes!(members::revoke_links))
        .routes(routes!(chat::chat_history, chat::post_chat))
        .routes(routes!(chat::edit_chat, chat::delete_chat))
        .routes(routes!(chat::search_chat))
        .routes(routes!(chat::export_chat))
        .routes(routes!(export::export_room))
        .routes(routes!(notes::notes_socket))
        .routes(routes!(notes::notes_markdown))
        .routes(routes!(notes_history::notes_history))
        .routes(routes!(notes_history::notes_history_markdown))
        .routes(routes!(board::board, board::share))
        .routes(routes!(board::change_item, board::delete_item))
        .routes(routes!(board_files::download))
        .routes(routes!(
            attendance::attendance,
            attendance_edit::forget_attendance
        ))
        .routes(routes!(
            attendance_edit::set_override,
            attendance_edit::clear_override
        ))
        .routes(routes!(
            schedule::put_schedule,
            schedule::get_schedule,
            schedule::delete_schedule
        ))
        .routes(routes!(register::register))
        .routes(routes!(live::live))
        .routes(routes!(schedule_preview::preview_schedule))
        .routes(routes!(schedule::occurrences))
        .routes(routes!(schedule::patch_occurrence))
        .routes(routes!(calendar::calendar))
        .routes(routes!(lobby::lobby))
        .routes(routes!(admin::node))
        .routes(routes!(admin::rooms))
        .routes(routes!(admin::remove_participant))
        .routes(routes!(admin::close_room))
        .routes(routes!(admin::mute_track))
        .routes(routes!(keys::create_key, keys::list_keys))
        .routes(routes!(keys::revoke_key))
        .routes(routes!(session::create_sign_in_link))
        .routes(routes!(session::get_session, session::end_session))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        // Uploads read their body themselves, up to --upload-max-mb.
        .merge(
            OpenApiRouter::new()
                .routes(routes!(board_files::upload))
                .layer(DefaultBodyLimit::disable()),
        )
}

/// The API, nested at `/api/v1`, merged into `service` (the routes outside the API, documented
/// too), with `/api/v1/openapi.json` and a docs page at `/api/v1/docs`.
/// `limit` applies per client address to every API route.
pub fn with_api(service: OpenApiRouter<AppState>, limit: Option<Limiter>) -> Router<AppState> {
    let mut api = api_routes();
    if let Some(limit) = limit {
        api = api.layer(limit.layer());
    }
    let (router, mut openapi) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .nest("/api/v1", api)
        .merge(service)
        .split_for_parts();
    // The two routes SwaggerUi adds below describe themselves here.
    for (path, summary, content) in [
        ("/api/v1/openapi.json", "This document", "application/json"),
        (
            "/api/v1/docs/",
            "The API docs page (Swagger UI)",
            "text/html",
        ),
    ] {
        let ok = ResponseBuilder::new()
            .description(summary)
            .content(
                content,
                Content::new(None::<utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>>),
            )
            .build();
        let op = OperationBuilder::new()
            .summary(Some(summary))
            .tag("service")
            .response("200", ok);
        openapi
            .paths
            .paths
            .insert(path.to_owned(), PathItem::new(HttpMethod::Get, op));
    }
    // OpenAPI names a path parameter `{path}`; the router's catch-all (several segments) is
    // `{*path}`.
    let catch_all: Vec<String> = openapi
        .paths
        .paths
        .keys()
        .filter(|p| p.contains("{*"))
        .cloned()
        .collect();
    for path in catch_all {
        if let Some(item) = openapi.paths.paths.remove(&path) {
            openapi.paths.paths.insert(path.replace("{*", "{"), item);
        }
    }
    let docs = SwaggerUi::new("/api/v1/docs").url("/api/v1/openapi.json", openapi);
    router
        .merge(docs)
        .route("/api/v1/{*rest}", axum::routing::any(api_not_found))
}

async fn api_not_found() -> AppError {
    AppError::NotFound("API route")
}
