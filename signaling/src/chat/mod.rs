//! A stored room's chat, kept between meetings, free of HTTP and SQL.
//!
//! - Who may change a message ([`may_edit`], [`may_delete`]): its author edits and deletes it;
//!   a host deletes anyone's. A deleted message keeps its place in the conversation, shown as
//!   deleted, and its text is gone.
//! - History is read in pages ([`page_size`]) going back from a message.
//! - Search ([`search_terms`]) reads words, never query syntax: each backend builds its own
//!   query from the words, so that nothing a person types is read as an operator.
//! - Retention ([`check_retention`], [`retention_cutoff`]): a room keeps its chat for ever or
//!   for a number of days.
//! - [`export`] renders one meeting or the whole room as Markdown or JSON.
//! - [`service`] carries a post, an edit or a delete through the checks, the store and the
//!   room's live channel, the same for the call, the room home and the HTTP API. The purge of
//!   old chat runs in [`crate::upkeep`].

pub mod export;
pub mod service;

use crate::error::{FieldError, field};

/// Messages in a history page when the client does not say.
pub const PAGE_DEFAULT: i64 = 50;
/// Most messages in one history or search page.
pub const PAGE_MAX: i64 = 200;
/// Longest retention a room may set, in days (ten years); longer is "for ever" (`null`).
pub const RETENTION_MAX_DAYS: i64 = 3650;
/// Most words one search reads.
pub const SEARCH_TERMS_MAX: usize = 8;
/// Longest word a search reads, in characters.
pub const SEARCH_TERM_MAX: usize = 64;

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// Why a change to a message was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Only the author edits a message; hosts may delete, not rewrite, what others said.
    NotAuthor,
    /// A deleted message has no text left to edit.
    Deleted,
}

impl Refused {
    pub fn message(self) -> &'static str {
        match self {
            Refused::NotAuthor => "only the author of a message may change it",
            Refused::Deleted => "this message was deleted",
        }
    }
}

/// Whether `identity` may edit a message written by `author`.
pub fn may_edit(identity: &str, author: &str, deleted: bool) -> Result<(), Refused> {
    if identity != author {
        return Err(Refused::NotAuthor);
    }
    if deleted {
        return Err(Refused::Deleted);
    }
    Ok(())
}

/// Whether `identity` (a host when `host`) may delete a message written by `author`.
pub fn may_delete(identity: &str, host: bool, author: &str) -> Result<(), Refused> {
    if identity == author || host {
        Ok(())
    } else {
        Err(Refused::NotAuthor)
    }
}

/// The size of a history or search page: [`PAGE_DEFAULT`] when not given, 1 to [`PAGE_MAX`].
pub fn page_size(asked: Option<i64>) -> Result<i64, FieldError> {
    match asked {
        None => Ok(PAGE_DEFAULT),
        Some(n) if (1..=PAGE_MAX).contains(&n) => Ok(n),
        Some(_) => Err(field(
            "limit",
            format!("a page holds 1 to {PAGE_MAX} messages"),
        )),
    }
}

/// Checks a room's retention (of chat, or of what `name` says): `None` keeps it for ever,
/// otherwise 1 to [`RETENTION_MAX_DAYS`] days.
pub fn check_retention(name: &str, days: Option<i64>) -> Result<Option<i64>, FieldError> {
    match days {
        None => Ok(None),
        Some(d) if (1..=RETENTION_MAX_DAYS).contains(&d) => Ok(Some(d)),
        Some(_) => Err(field(
            name,
            format!("1 to {RETENTION_MAX_DAYS} days, or null to keep it for ever"),
        )),
    }
}

/// Messages sent before this moment (Unix ms) are past a retention of `days` at `now_ms`.
pub fn retention_cutoff(now_ms: i64, days: i64) -> i64 {
    now_ms.saturating_sub(days.saturating_mul(DAY_MS))
}

/// The words a search looks for, lower-cased: runs of letters and digits in any script. The
/// rest (quotes, operators, punctuation) only separates words, so no query syntax reaches the
/// database. A message matches when it has every word; the last one also matches as a prefix.
pub fn search_terms(q: &str) -> Result<Vec<String>, FieldError> {
    let mut terms: Vec<String> = Vec::new();
    for word in q.split(|c: char| !c.is_alphanumeric()) {
        if word.is_empty() {
            continue;
        }
        if word.chars().count() > SEARCH_TERM_MAX {
            return Err(field(
                "q",
                format!("a word in a search is at most {SEARCH_TERM_MAX} characters"),
            ));
        }
        let word = word.to_lowercase();
        if !terms.contains(&word) {
            terms.push(word);
        }
    }
    if terms.is_empty() {
        return Err(field("q", "a search needs at least one word"));
    }
    if terms.len() > SEARCH_TERMS_MAX {
        return Err(field(
            "q",
            format!("a search reads at most {SEARCH_TERMS_MAX} words"),
        ));
    }
    Ok(terms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authors_edit_and_hosts_only_delete() {
        assert_eq!(may_edit("member:a", "member:a", false), Ok(()));
        assert_eq!(
            may_edit("member:b", "member:a", false),
            Err(Refused::NotAuthor)
        );
        assert_eq!(
            may_edit("member:a", "member:a", true),
            Err(Refused::Deleted)
        );
        assert_eq!(may_delete("member:a", false, "member:a"), Ok(()));
        assert_eq!(may_delete("member:h", true, "guest:abcdefgh"), Ok(()));
        assert_eq!(
            may_delete("guest:abcdefgh", false, "member:a"),
            Err(Refused::NotAuthor)
        );
    }

    #[test]
    fn pages_and_retention_have_bounds() {
        assert_eq!(page_size(None), Ok(PAGE_DEFAULT));
        assert_eq!(page_size(Some(PAGE_MAX)), Ok(PAGE_MAX));
        assert!(page_size(Some(0)).is_err());
        assert!(page_size(Some(PAGE_MAX + 1)).is_err());
        assert_eq!(check_retention("x", None), Ok(None));
        assert_eq!(check_retention("x", Some(30)), Ok(Some(30)));
        assert!(check_retention("x", Some(0)).is_err());
        assert!(check_retention("x", Some(RETENTION_MAX_DAYS + 1)).is_err());
        assert_eq!(retention_cutoff(10 * DAY_MS, 3), 7 * DAY_MS);
        assert_eq!(retention_cutoff(0, i64::MAX), -i64::MAX);
    }

    #[test]
    fn search_reads_words_never_syntax() {
        assert_eq!(
            search_terms(r#"Chapter "3" OR -x* NEAR(a)"#).unwrap(),
            ["chapter", "3", "or", "x", "near", "a"]
        );
        assert_eq!(
            search_terms("Ünïcode ДОМ 数学").unwrap(),
            ["ünïcode", "дом", "数学"]
        );
        assert_eq!(search_terms("a a A").unwrap(), ["a"]);
        assert!(search_terms(" \"*\" ").is_err());
        assert!(search_terms("a b c d e f g h i").is_err());
        assert!(search_terms(&"x".repeat(65)).is_err());
    }
}
