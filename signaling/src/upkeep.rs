//! The server's upkeep, every [`EVERY`]: chat and attendance past their room's retention are
//! deleted, what
//! deleted text leaves behind is scrubbed ([`Store::scrub`]), posting allowances of people gone
//! quiet are forgotten, and uploaded files that no board item holds are removed.

use std::time::Duration;

use crate::AppState;
use crate::error::AppError;
use crate::hub::Hub;
use crate::store::Store;
use crate::store::files::FileStore;

/// How often the server runs [`run`].
pub const EVERY: Duration = Duration::from_secs(10 * 60);
/// How old a file no item holds must be before it is removed: an upload in flight has written
/// its file and not yet its item.
pub const STRAY_AGE: Duration = Duration::from_secs(60 * 60);

/// What one round did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Done {
    pub purged_messages: u64,
    pub purged_attendance: u64,
    pub swept_files: u64,
}

/// One round of upkeep at `now_ms`; files no item holds are removed once `stray_age` old.
pub async fn run(
    store: &Store,
    hub: &Hub,
    files: &FileStore,
    now_ms: i64,
    stray_age: Duration,
) -> Result<Done, AppError> {
    let purged_messages = store.purge_chat(now_ms).await?;
    if purged_messages > 0 {
        tracing::info!(purged_messages, "chat past its rooms' retention deleted");
    }
    let purged_attendance = store.purge_attendance(now_ms).await?;
    if purged_attendance > 0 {
        tracing::info!(
            purged_attendance,
            "attendance past its rooms' retention deleted"
        );
    }
    // Used and expired sign-in links are kept a day, so that a link opened again says it was
    // used rather than that it never existed.
    store.purge_sign_ins(now_ms - 24 * 3_600_000).await?;
    store.scrub().await?;
    hub.forget_quiet();
    let held = store.board_file_ids().await?;
    let swept_files = files.sweep(&held, stray_age).await?;
    if swept_files > 0 {
        tracing::info!(swept_files, "uploaded files no item holds removed");
    }
    Ok(Done {
        purged_messages,
        purged_attendance,
        swept_files,
    })
}

/// How often open stretches of attendance are marked alive: after a crash, they end at the
/// last mark, at most this much after the truth.
pub const HEARTBEAT: Duration = Duration::from_secs(30);

/// Runs [`run`] every [`EVERY`], and the attendance heartbeat every [`HEARTBEAT`], for as
/// long as the server runs.
pub fn spawn(state: &AppState) {
    let store = state.store.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(HEARTBEAT);
        loop {
            tick.tick().await;
            if let Err(e) = store.presence_alive(crate::store::now_ms()).await {
                tracing::error!(error = %e, "attendance heartbeat failed");
            }
        }
    });
    let (store, hub, files) = (state.store.clone(), state.hub.clone(), state.files.clone());
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(EVERY);
        loop {
            tick.tick().await;
            if let Err(e) = run(&store, &hub, &files, crate::store::now_ms(), STRAY_AGE).await {
                tracing::error!(error = %e, "upkeep failed; tried again at the next round");
            }
        }
    });
}
