//! `signaling`: Cohort's HTTP and WebSocket front, and the `cohort` binary.
//!
//! # Layout
//! - [`app`]: builds the router from an [`AppState`]; kept apart from `main` so tests drive it
//!   in-process on port 0.
//! - `ws`: the per-connection signaling state machine, generic over a message stream and sink.
//! - `access`: the single hook where access control plugs into joins.
//! - `config`: flags and environment variables.

pub mod access;
pub mod config;
pub mod error;
pub mod schedule;
pub mod web;
pub mod ws;

use std::sync::Arc;

use axum::Router;
use axum::extract::{State, WebSocketUpgrade};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use sfu::Sfu;
use tokio::sync::watch;

use crate::config::Limits;
use crate::error::AppError;

/// What every request handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub sfu: Sfu,
    pub limits: Arc<Limits>,
    /// Bumped to cut every signaling connection (the test hook); `None` when hooks are off.
    pub drop_signaling: Option<Arc<watch::Sender<u64>>>,
}

impl AppState {
    pub fn new(sfu: Sfu, limits: Limits) -> Self {
        AppState {
            sfu,
            limits: Arc::new(limits),
            drop_signaling: None,
        }
    }

    /// Turns on the test hooks (`--test-hooks`).
    pub fn with_test_hooks(mut self) -> Self {
        self.drop_signaling = Some(Arc::new(watch::channel(0).0));
        self
    }
}

/// The whole HTTP surface.
pub fn app(state: AppState) -> Router {
    let hooks = state.drop_signaling.is_some();
    let router = Router::new()
        .route("/", get(web::index))
        .route("/r/{room}", get(web::room))
        .route("/static/{name}", get(web::asset))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/api/v1/rtc", get(rtc));
    let router = if hooks {
        router.route("/test/drop-signaling", post(drop_signaling))
    } else {
        router
    };
    router
        .layer(axum::middleware::from_fn(web::security_headers))
        .with_state(state)
}

/// Test hook: cuts every signaling connection without a closing handshake.
async fn drop_signaling(State(state): State<AppState>) -> StatusCode {
    match &state.drop_signaling {
        Some(tx) => {
            tx.send_modify(|n| *n += 1);
            StatusCode::NO_CONTENT
        }
        None => StatusCode::NOT_FOUND,
    }
}

async fn healthz() -> &'static str {
    "ok"
}

async fn readyz(State(state): State<AppState>) -> Result<&'static str, AppError> {
    if state.sfu.is_draining() {
        return Err(AppError::Draining);
    }
    Ok("ready")
}

async fn rtc(State(state): State<AppState>, ws: WebSocketUpgrade) -> Response {
    if state.sfu.is_draining() {
        return AppError::Draining.into_response();
    }
    // Frames a little past the limit still arrive, so the session can close them with 1009
    // itself; far larger ones are cut off by the WebSocket layer.
    let hard_cap = state.limits.max_message_bytes.saturating_mul(2).max(1024);
    ws.max_message_size(hard_cap)
        .max_frame_size(hard_cap)
        .on_upgrade(move |socket| ws::run(socket, state))
        .into_response()
}
