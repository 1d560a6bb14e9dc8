//! A room's resource board ("a place to share knowledge"), free of HTTP and SQL: links, files
//! and short Markdown notes that members share, pin, order and attach to meetings.
//!
//! - A **link** is http or https, with a title the poster types; the server never fetches it
//!   (no previews), so it cannot be made to reach anything.
//! - A **file** is an upload whose type is read from its bytes ([`files::sniff`]), not from its
//!   name or what the client claims, and checked against an allowlist.
//! - A **text** is a short Markdown note; clients render it as text, never as HTML.
//! - The author changes or deletes an item; a host any item ([`may_change`]).

pub mod archive;
pub mod files;

use protocol::text::{normalize_message, normalize_name};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{FieldError, field};

/// Longest title.
pub const TITLE_MAX: usize = 200;
/// Longest description of a link or file.
pub const DESCRIPTION_MAX: usize = 1000;
/// Longest text note.
pub const TEXT_MAX: usize = 10_000;
/// Longest link.
pub const URL_MAX: usize = 2048;
/// Most items one room's board holds.
pub const ITEMS_MAX: i64 = 2000;

/// What an item is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Link,
    File,
    Text,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Link => "link",
            Kind::File => "file",
            Kind::Text => "text",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        match s {
            "link" => Some(Kind::Link),
            "file" => Some(Kind::File),
            "text" => Some(Kind::Text),
            _ => None,
        }
    }
}

/// A title, by the rules for names: 1 to [`TITLE_MAX`] characters.
pub fn check_title(title: &str) -> Result<String, FieldError> {
    normalize_name(title, TITLE_MAX, "a title").map_err(|e| field("title", e))
}

/// A description, by the rules for messages; an empty one is none.
pub fn check_description(text: Option<&str>) -> Result<Option<String>, FieldError> {
    match text.map(str::trim).filter(|t| !t.is_empty()) {
        None => Ok(None),
        Some(t) => normalize_message(t, DESCRIPTION_MAX, "a description")
            .map(Some)
            .map_err(|e| field("description", e)),
    }
}

/// A text note's Markdown, by the rules for messages: 1 to [`TEXT_MAX`] characters.
pub fn check_text(text: &str) -> Result<String, FieldError> {
    normalize_message(text, TEXT_MAX, "a note").map_err(|e| field("body", e))
}

/// A link: an absolute http or https URL with a host, at most [`URL_MAX`] characters, no
/// credentials. `javascript:`, `data:`, `file:` and the rest are refused, whatever their case
/// or the spaces and control characters around them.
pub fn check_link(text: &str) -> Result<String, FieldError> {
    let bad = |m: &str| field("url", m.to_owned());
    if text.len() > URL_MAX {
        return Err(bad(&format!("a link is at most {URL_MAX} characters")));
    }
    if text.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(bad("a link has no spaces or control characters"));
    }
    let url = url::Url::parse(text).map_err(|e| bad(&format!("not a link: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad("a link starts with http:// or https://"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(bad("a link names a host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("a link carries no user name or password"));
    }
    Ok(url.to_string())
}

/// A size for people: "25 MB", "1 kB", "300 bytes" (decimal units, as the flags).
pub fn size(bytes: u64) -> String {
    match bytes {
        b if b >= 1_000_000 => format!("{} MB", b / 1_000_000),
        b if b >= 1000 => format!("{} kB", b / 1000),
        b => format!("{b} bytes"),
    }
}

/// Whether `identity` (a host when `host`) may change or delete an item `author` shared.
pub fn may_change(identity: &str, host: bool, author: &str) -> bool {
    host || identity == author
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_web_links_pass() {
        assert_eq!(
            check_link("https://example.org/a b").unwrap_err().field,
            "url"
        );
        for ok in [
            "https://example.org/notes?x=1#y",
            "http://10.0.0.1:8080/",
            "HTTPS://Example.org",
        ] {
            assert!(check_link(ok).is_ok(), "{ok}");
        }
        for bad in [
            "javascript:alert(1)",
            "JavaScript:alert(1)",
            " javascript:alert(1)",
            "java\tscript:alert(1)",
            "data:text/html,<script>alert(1)</script>",
            "file:///etc/passwd",
            "ftp://example.org/",
            "//example.org/",
            "example.org",
            "https://user:pw@example.org/",
            "http://",
            "",
        ] {
            assert!(check_link(bad).is_err(), "{bad:?} passed");
        }
        assert!(check_link(&format!("https://e.org/{}", "a".repeat(URL_MAX))).is_err());
    }

    #[test]
    fn titles_descriptions_and_notes_follow_the_text_rules() {
        assert_eq!(check_title("  Slides week 3 ").unwrap(), "Slides week 3");
        assert!(check_title(" ").is_err());
        assert!(check_title("a\nb").is_err());
        assert_eq!(check_description(Some("  ")).unwrap(), None);
        assert_eq!(check_description(None).unwrap(), None);
        assert!(check_description(Some(&"x".repeat(DESCRIPTION_MAX + 1))).is_err());
        assert_eq!(check_text("# Notes\n- one").unwrap(), "# Notes\n- one");
        assert!(check_text("").is_err());
        assert_eq!(Kind::parse("file"), Some(Kind::File));
        assert_eq!(Kind::parse("svg"), None);
        assert!(may_change("member:a", false, "member:a"));
        assert!(may_change("member:h", true, "member:a"));
        assert!(!may_change("member:b", false, "member:a"));
    }
}
