//! `signaling`: Cohort's HTTP and WebSocket front, and the `cohort` binary.
//!
//! # Layout
//! - [`app`]: builds the router from an [`AppState`]; kept apart from `main` so tests drive it
//!   in-process on port 0.
//! - `ws`: the per-connection signaling state machine, generic over a message stream and sink.
//! - `access`: who may join a room (invite tokens, the room's meeting window).
//! - `api`: the HTTP API under `/api/v1` and its OpenAPI document.
//! - `store`: the database (SQLite or PostgreSQL).
//! - `hub`: everyone listening to a stored room, its home page or its call.
//! - `schedule`, `invite`, `members`, `chat`: meeting times, invite tokens, rosters and kept
//!   chat, free of HTTP and SQL.
//! - `config`: flags and environment variables.

pub mod access;
pub mod api;
pub mod attendance;
pub mod board;
pub mod calendar;
pub mod chat;
pub mod config;
pub mod error;
pub mod hooks;
pub mod hub;
pub mod invite;
pub mod live;
pub mod members;
pub mod metrics;
pub mod notes;
pub mod ratelimit;
pub mod schedule;
pub mod serve;
pub mod store;
pub mod upgrade;
pub mod upkeep;
pub mod web;
pub mod ws;

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use sfu::Sfu;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::config::Limits;
use crate::error::AppError;
use crate::store::Store;

/// Server-wide settings the API and access checks read.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Where people reach this server, without a trailing slash (`http://127.0.0.1:8080`); join
    /// links start with it.
    pub public_url: String,
    /// Rooms never created through the API may be joined by anyone with their name.
    pub open_rooms: bool,
    /// The most participants a room may be given.
    pub max_capacity: i64,
    /// Requests to `/api/v1` per address.
    pub api_rate: ratelimit::Rate,
    /// Signaling connections (joins) per address.
    pub join_rate: ratelimit::Rate,
    /// Rooms with series of their own in `/metrics`; the rest are summed as `_other`.
    pub metrics_room_cap: usize,
    /// The bearer token `/metrics` asks for, if any.
    pub metrics_token: Option<String>,
    /// `/metrics` is served on a listener of its own (`--metrics-addr`), not on the main one.
    pub metrics_elsewhere: bool,
    /// Where uploaded files are kept (`--data-dir`).
    pub data_dir: std::path::PathBuf,
    /// How long an organiser's browser session lasts (`--session-hours`).
    pub session_hours: u64,
}

/// What every request handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub sfu: Sfu,
    pub store: Store,
    pub settings: Arc<Settings>,
    pub metrics: Arc<metrics::Metrics>,
    pub limits: Arc<Limits>,
    /// Everyone listening to a stored room, and each person's chat allowance.
    pub hub: Arc<hub::Hub>,
    /// Uploaded files, in the data directory.
    pub files: store::files::FileStore,
    /// The test hooks (`--test-hooks`); `None` when they are off.
    pub hooks: Option<Arc<hooks::TestHooks>>,
    /// The shared-notes documents open now.
    pub notes: Arc<notes::service::Notes>,
    /// Who is in each stored room's call now.
    pub live: Arc<live::Directory>,
}

impl AppState {
    pub fn new(sfu: Sfu, store: Store, settings: Settings, limits: Limits) -> Self {
        let metrics = metrics::Metrics::new(
            sfu.clone(),
            settings.metrics_room_cap,
            settings.metrics_token.clone(),
        );
        let files = store::files::FileStore::new(&settings.data_dir);
        let notes = notes::service::Notes::new(store.clone(), limits.notes);
        AppState {
            notes,
            sfu,
            store,
            metrics,
            settings: Arc::new(settings),
            hub: hub::Hub::new(limits.chat_per_minute, limits.chat_burst),
            files,
            limits: Arc::new(limits),
            hooks: None,
            live: live::Directory::new(),
        }
    }

    /// Turns on the test hooks (`--test-hooks`).
    pub fn with_test_hooks(mut self) -> Self {
        self.hooks = Some(hooks::TestHooks::new());
        self
    }
}

/// The whole HTTP surface. Serve it with [`serve::serve`], which gives every request the peer's
/// address (the rate limits key on it) and holds the connection limits.
pub fn app(state: AppState) -> Router {
    let hooks = state.hooks.is_some();
    let mut signaling = OpenApiRouter::new().routes(routes!(rtc));
    if let Some(limit) = ratelimit::Limiter::new(state.settings.join_rate) {
        signaling = signaling.layer(limit.layer());
    }
    let mut service = OpenApiRouter::new()
        .routes(routes!(web::index))
        .routes(routes!(web::room))
        .routes(routes!(web::admin))
        .routes(routes!(web::organise))
        .routes(routes!(api::sign_in::sign_in_page, api::sign_in::sign_in))
        .routes(routes!(web::asset))
        .routes(routes!(web::vendored))
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .merge(signaling);
    if hooks {
        service = service
            .routes(routes!(hooks::drop_signaling))
            .routes(routes!(hooks::notes_outage));
    }
    if !state.settings.metrics_elsewhere {
        service = service.routes(routes!(metrics::serve_metrics));
    }
    api::with_api(service, ratelimit::Limiter::new(state.settings.api_rate))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            metrics::track_http,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            api::session::guard,
        ))
        .layer(axum::middleware::from_fn(web::security_headers))
        .with_state(state)
}

/// The router of a separate metrics listener (`--metrics-addr`): `/metrics` only.
pub fn metrics_app(state: AppState) -> Router {
    Router::new()
        .route("/metrics", axum::routing::get(metrics::serve_metrics))
        .with_state(state)
}

/// Whether the process is up.
#[utoipa::path(get, path = "/healthz", tag = "service",
    responses((status = 200, description = "Up", body = String)))]
async fn healthz() -> &'static str {
    "ok"
}

/// Whether the server takes new sessions (503 while draining).
#[utoipa::path(get, path = "/readyz", tag = "service",
    responses((status = 200, description = "Ready", body = String),
        (status = 503, description = "Draining", body = crate::error::Problem)))]
async fn readyz(State(state): State<AppState>) -> Result<&'static str, AppError> {
    if state.sfu.is_draining() {
        return Err(AppError::Draining);
    }
    Ok("ready")
}

/// The signaling WebSocket (protocol v1, docs/protocol.md).
#[utoipa::path(get, path = "/api/v1/rtc", tag = "service",
    responses((status = 101, description = "Switching to the WebSocket protocol"),
        (status = 503, description = "Draining", body = crate::error::Problem)))]
async fn rtc(
    State(state): State<AppState>,
    slot: Option<axum::Extension<serve::ConnSlot>>,
    req: axum::extract::Request,
) -> Response {
    if state.sfu.is_draining() {
        return AppError::Draining.into_response();
    }
    // Messages a little past the limit still arrive whole, and the session closes them with
    // 1009 itself; larger ones are refused by their frame header, then closed with 1009 too.
    let hard_cap = state.limits.max_message_bytes.saturating_mul(2).max(1024);
    let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
        .max_message_size(Some(hard_cap))
        .max_frame_size(Some(hard_cap));
    upgrade::accept(req, config, move |socket| async move {
        // The connection counts against the caps for as long as the session lives.
        let _slot = slot;
        ws::run(socket, state).await
    })
}

/// `N` bytes from the operating system's random source.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    // The OS random source exists on every platform Cohort runs on; without it no key or
    // token could be made safely, so there is nothing sensible to continue with.
    getrandom::fill(&mut buf).expect("the operating system's random source is available");
    buf
}
