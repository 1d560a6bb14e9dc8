//! The one place where access control plugs into joining a room.
//!
//! Rooms are ad hoc by name for now, so every well-formed join is let in. When invites arrive,
//! this is where a join's token is checked against the room; nothing else needs to change.

use protocol::ErrorCode;

use crate::AppState;

/// Whether this join may enter `room`. An `Err` carries the code and message the client sees.
pub fn authorize_join(
    _state: &AppState,
    _room: &str,
    _token: Option<&str>,
) -> Result<(), (ErrorCode, String)> {
    Ok(())
}
