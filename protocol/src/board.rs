//! A room's resource board on the wire: one item as the HTTP API returns it and the room
//! channel announces it.

use serde::{Deserialize, Serialize};

/// A shared link, file or text note.
#[derive(Serialize, Deserialize, Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct BoardItem {
    pub id: String,
    /// `link`, `file` or `text`.
    pub kind: String,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// A link's address (http or https; the server never fetches it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// A text note's Markdown: render it as text, never as HTML.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<BoardFile>,
    /// Who shared it: `member:<id>` or `guest:<device id>`.
    pub identity: String,
    pub author_name: String,
    /// The meeting it is attached to (its start, RFC 3339): the agenda of one to come, or what
    /// was shared in one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meeting: Option<String>,
    pub pinned: bool,
    /// Its place on the board: pinned items first, then by position.
    pub position: i64,
    pub created_at_ms: u64,
    pub updated_at_ms: u64,
}

/// An uploaded file of a board item.
#[derive(Serialize, Deserialize, Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct BoardFile {
    /// The name it is downloaded under.
    pub name: String,
    /// Its type, read from its bytes.
    pub mime: String,
    pub size: u64,
    /// A raster image that may be shown inline (PNG, JPEG, GIF, WebP); everything else is
    /// only ever downloaded.
    pub inline: bool,
    /// Where to download it (needs the room's link: `Authorization` or `?t=`).
    pub download: String,
}
