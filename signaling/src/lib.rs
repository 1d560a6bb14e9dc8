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
pub mod ws;

use std::sync::Arc;

use axum::Router;
use axum::extract::{State, WebSocketUpgrade};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use sfu::Sfu;

use crate::config::Limits;
use crate::error::AppError;

/// What every request handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub sfu: Sfu,
    pub limits: Arc<Limits>,
}

impl AppState {
    pub fn new(sfu: Sfu, limits: Limits) -> Self {
        AppState {
            sfu,
            limits: Arc::new(limits),
        }
    }
}

/// The whole HTTP surface.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/api/v1/rtc", get(rtc))
        .with_state(state)
}

async fn index() -> Response {
    (
        [(
            header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'",
        )],
        Html(include_str!("../../web/index.html")),
    )
        .into_response()
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

/// For tests and tools: `StatusCode` of a draining server's readiness.
pub const DRAINING_STATUS: StatusCode = StatusCode::SERVICE_UNAVAILABLE;
