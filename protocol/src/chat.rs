//! Chat on the wire: one message as the room relays it, and as a stored room keeps it.

use serde::{Deserialize, Serialize};

/// One chat message. In a stored room it is kept, and may later be edited or deleted: the
/// server then sends it again whole in `chat_updated`, and clients replace it by `id`.
#[derive(Serialize, Deserialize, Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct ChatMessage {
    /// Unique per message.
    pub id: String,
    /// The connection that sent it (a call's participant id, or a room channel's).
    pub participant_id: String,
    /// The sender's display name when it was sent.
    pub name: String,
    /// The text; empty once the message is deleted.
    pub text: String,
    /// When the server relayed it, in milliseconds since the Unix epoch.
    pub sent_at_ms: u64,
    /// Who sent it, the same everywhere: `member:<id>` or `guest:<device id>` (stored rooms).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub identity: String,
    /// The start (RFC 3339) of the meeting it was sent in, if one was running.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub occurrence: Option<String>,
    /// When its author last edited it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edited_at_ms: Option<u64>,
    /// Deleted by its author or a host: shown as "deleted", its text is gone.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deleted: bool,
}
