//! Test hooks (`--test-hooks`): the browser tests cut connections as a failing network would.
//! Served, and documented in the OpenAPI document, only when the flag is on.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::AppState;

/// The longest outage the hook makes: a test's, never a server's.
const MAX_OUTAGE: Duration = Duration::from_secs(60);

pub struct TestHooks {
    /// Bumped to cut every signaling connection.
    pub drop_signaling: watch::Sender<u64>,
    /// Until when the shared notes are out of reach: setting it cuts every notes connection, and
    /// new ones are refused until it passes.
    pub notes_outage: watch::Sender<Option<Instant>>,
}

impl TestHooks {
    pub fn new() -> Arc<Self> {
        Arc::new(TestHooks {
            drop_signaling: watch::channel(0).0,
            notes_outage: watch::channel(None).0,
        })
    }

    /// Whether the notes are out of reach now.
    pub fn notes_unreachable(&self) -> bool {
        self.notes_outage
            .borrow()
            .is_some_and(|until| Instant::now() < until)
    }
}

/// Test hook: cuts every signaling connection without a closing handshake.
#[utoipa::path(post, path = "/test/drop-signaling", tag = "service",
    responses((status = 204, description = "Every signaling connection was cut")))]
pub async fn drop_signaling(State(state): State<AppState>) -> StatusCode {
    match &state.hooks {
        Some(h) => {
            h.drop_signaling.send_modify(|n| *n += 1);
            StatusCode::NO_CONTENT
        }
        None => StatusCode::NOT_FOUND,
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct OutageQuery {
    /// How long the notes stay out of reach, in milliseconds (at most 60000).
    ms: u64,
}

/// Test hook: the shared notes go out of reach for a while, as if the network were down. Every
/// notes connection is cut without a closing handshake, and new ones are refused (503) until
/// the time passes.
#[utoipa::path(post, path = "/test/notes-outage", tag = "service", params(OutageQuery),
    responses((status = 204, description = "The notes are out of reach until the time passes")))]
pub async fn notes_outage(
    State(state): State<AppState>,
    Query(q): Query<OutageQuery>,
) -> StatusCode {
    match &state.hooks {
        Some(h) => {
            let until = Instant::now() + Duration::from_millis(q.ms).min(MAX_OUTAGE);
            h.notes_outage.send_replace(Some(until));
            StatusCode::NO_CONTENT
        }
        None => StatusCode::NOT_FOUND,
    }
}
