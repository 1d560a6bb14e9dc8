//! Shared notes: a room's documents, edited together in real time and kept between meetings.
//! Free of HTTP and SQL.
//!
//! - [`DocId`]: which document. Every room has its standing notes (`room`), the minutes of each
//!   meeting (`minutes:<its start>`), and the template the minutes start from (`template`,
//!   hosts only).
//! - [`engine::Engine`]: one document in memory, speaking the y-sync and awareness protocol
//!   (yrs) with its connections, sans-IO: frames in, replies, updates to keep and frames to
//!   broadcast out.
//! - [`service`]: the task that owns each open document, keeps every update before anyone else
//!   sees it, compacts the log, and unloads the document when its last connection leaves.
//! - [`Limits`]: frame size, document size, update rate and connections per document.

pub mod engine;
pub mod history;
#[doc(hidden)]
pub mod replay;
pub mod service;
pub mod shape;
pub mod template;

use chrono_tz::Tz;

use crate::error::{FieldError, field};

/// The name of the text every document keeps its Markdown in.
pub const TEXT: &str = "content";

/// Which document of a room.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DocId {
    /// The room's standing notes: goals, conventions, links.
    Room,
    /// A meeting's minutes, by the meeting's start (as the register names it).
    Minutes(String),
    /// What new minutes start from; only hosts edit it.
    Template,
}

impl DocId {
    /// A document id as the API names it (`room`, `template`, `minutes:<start>`); the
    /// meeting's start in any spelling of the same moment, read in the room's zone.
    pub fn parse(text: &str, zone: Tz) -> Result<DocId, FieldError> {
        match text {
            "room" => Ok(DocId::Room),
            "template" => Ok(DocId::Template),
            _ => match text.strip_prefix("minutes:") {
                Some(start) => {
                    let (_, meeting) = crate::schedule::parse_meeting(start, zone, "doc")?;
                    Ok(DocId::Minutes(meeting))
                }
                None => Err(field(
                    "doc",
                    "room, template, or minutes:<the meeting's start>",
                )),
            },
        }
    }

    /// A stored id (as [`DocId::as_string`] wrote it); `None` for one this server does not
    /// know.
    pub fn from_stored(id: &str) -> Option<DocId> {
        match id {
            "room" => Some(DocId::Room),
            "template" => Some(DocId::Template),
            _ => id
                .strip_prefix("minutes:")
                .map(|m| DocId::Minutes(m.to_owned())),
        }
    }

    /// The id as stored and shown.
    pub fn as_string(&self) -> String {
        match self {
            DocId::Room => "room".into(),
            DocId::Template => "template".into(),
            DocId::Minutes(m) => format!("minutes:{m}"),
        }
    }

    /// Whether only hosts may edit it, whatever the room's setting.
    pub fn hosts_only(&self) -> bool {
        matches!(self, DocId::Template)
    }
}

/// What one connection and one document may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest frame a client may send.
    pub max_frame_bytes: usize,
    /// Largest a document may grow (its encoded state).
    pub max_doc_bytes: usize,
    /// Edits (update frames) a connection may send each second, and in a burst.
    pub updates_per_second: u32,
    pub update_burst: u32,
    /// Connections one document holds at once.
    pub max_connections: usize,
    /// The log is folded into the snapshot past this many updates, or bytes of updates.
    pub compact_after_updates: usize,
    pub compact_after_bytes: usize,
    /// A document nobody has open is dropped from memory after this long.
    pub unload_after: std::time::Duration,
    /// How often ended meetings' notes are kept ([`history`]).
    pub history_every: std::time::Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_frame_bytes: 256 * 1024,
            max_doc_bytes: 4 * 1024 * 1024,
            updates_per_second: 30,
            update_burst: 60,
            max_connections: 100,
            compact_after_updates: 500,
            compact_after_bytes: 1024 * 1024,
            unload_after: std::time::Duration::from_secs(10),
            history_every: std::time::Duration::from_secs(60),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_ids_parse_and_name_themselves() {
        let zone: Tz = "Europe/Berlin".parse().unwrap();
        assert_eq!(DocId::parse("room", zone).unwrap(), DocId::Room);
        assert_eq!(DocId::parse("template", zone).unwrap(), DocId::Template);
        let a = DocId::parse("minutes:2026-03-03T18:00:00+01:00", zone).unwrap();
        let b = DocId::parse("minutes:2026-03-03T17:00:00Z", zone).unwrap();
        assert_eq!(a, b, "one meeting, however its start is spelled");
        assert_eq!(a.as_string(), "minutes:2026-03-03T18:00:00+01:00");
        for bad in [
            "",
            "Room",
            "minutes:",
            "minutes:yesterday",
            "../room",
            "room ",
        ] {
            assert!(DocId::parse(bad, zone).is_err(), "{bad:?}");
        }
        assert!(DocId::Template.hosts_only() && !DocId::Room.hosts_only());
    }
}
