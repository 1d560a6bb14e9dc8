//! A room's members (its roster) and who someone is, free of HTTP and SQL.
//!
//! - A **member** is on the roster: a display name, an optional email (kept for the organiser,
//!   never shown to other participants), and a role. Each gets personal invite links, whose `sub`
//!   is the member's id; bumping the member's link version revokes them all, on their own,
//!   without rotating the room's key.
//! - Someone who joins through a shared class link is a **guest**, known by the device id their
//!   page keeps.
//! - [`Identity`] names either, the same everywhere: `member:<id>` or `guest:<device id>`.
//! - A class list comes in as CSV ([`parse_roster`]): every row is added or refused with its
//!   reason, and a file with bad rows still adds the good ones.

use std::collections::HashSet;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{FieldError, field};
use crate::invite::Role;

/// Most members one room keeps.
pub const MAX_MEMBERS: usize = 2000;
/// Longest email address (RFC 5321's path limit).
pub const EMAIL_MAX: usize = 254;
/// Longest guest device id.
pub const DEVICE_ID_MAX: usize = 64;

/// Who someone is in a room.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Identity {
    /// On the roster, by member id.
    Member(String),
    /// Joined through a shared link, by the device id the page keeps.
    Guest(String),
}

impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Identity::Member(id) => write!(f, "member:{id}"),
            Identity::Guest(device) => write!(f, "guest:{device}"),
        }
    }
}

impl Identity {
    /// A guest's identity from the device id its page sent: 8 to 64 of `A-Z a-z 0-9 - _`.
    pub fn guest(device: &str) -> Result<Identity, FieldError> {
        let ok = (8..=DEVICE_ID_MAX).contains(&device.len())
            && device
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !ok {
            return Err(field(
                "device",
                format!("8 to {DEVICE_ID_MAX} characters from A-Z, a-z, 0-9, '-' and '_'"),
            ));
        }
        Ok(Identity::Guest(device.to_owned()))
    }

    /// Reads `member:<id>` or `guest:<device id>`.
    pub fn parse(text: &str) -> Result<Identity, FieldError> {
        match text.split_once(':') {
            Some(("member", id)) if !id.is_empty() && id.len() <= 64 => {
                Ok(Identity::Member(id.to_owned()))
            }
            Some(("guest", device)) => Identity::guest(device),
            _ => Err(field("identity", "member:<id> or guest:<device id>")),
        }
    }
}

/// A member's fields, checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberFields {
    pub display_name: String,
    pub email: Option<String>,
    pub role: Role,
}

/// Checks an email address: one `@`, a local part and a domain with a dot, no spaces or control
/// characters, at most [`EMAIL_MAX`] characters. Lower-cased, so that one person's address
/// written twice in other cases is seen as one (mail systems treat them so in practice).
pub fn normalize_email(text: &str) -> Result<String, String> {
    let text = text.trim().to_lowercase();
    let text = text.as_str();
    if text.chars().count() > EMAIL_MAX {
        return Err(format!(
            "an email address has at most {EMAIL_MAX} characters"
        ));
    }
    let Some((local, domain)) = text.rsplit_once('@') else {
        return Err("an email address like ada@example.org".into());
    };
    let clean = |s: &str| !s.is_empty() && !s.chars().any(|c| c.is_whitespace() || c.is_control());
    let domain_ok = clean(domain)
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@');
    if !clean(local) || local.contains('@') || !domain_ok {
        return Err("an email address like ada@example.org".into());
    }
    Ok(format!("{local}@{domain}"))
}

impl MemberFields {
    /// Checks a member's fields; every problem is named by its field.
    pub fn new(
        display_name: &str,
        email: Option<&str>,
        role: Option<Role>,
    ) -> Result<MemberFields, Vec<FieldError>> {
        let mut errors = Vec::new();
        let display_name = match protocol::text::normalize_name(
            display_name,
            protocol::DISPLAY_NAME_MAX,
            "a name",
        ) {
            Ok(n) => n,
            Err(e) => {
                errors.push(field("display_name", e));
                String::new()
            }
        };
        let email = match email.map(str::trim).filter(|e| !e.is_empty()) {
            None => None,
            Some(e) => match normalize_email(e) {
                Ok(e) => Some(e),
                Err(e) => {
                    errors.push(field("email", e));
                    None
                }
            },
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(MemberFields {
            display_name,
            email,
            role: role.unwrap_or(Role::Participant),
        })
    }
}

/// What became of one row of a class list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowOutcome {
    Member(MemberFields),
    Refused(String),
}

/// One row of a class list: its line in the file (the header is line 1) and what it gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RosterRow {
    pub line: u64,
    pub outcome: RowOutcome,
}

/// Reads a class list: CSV (RFC 4180) with a header naming `name` (or `display_name`) and,
/// optionally, `email` and `role` (`host` or `participant`, the default), in any order and any
/// case; other columns are ignored. Rows with the same email as an earlier row are refused.
/// Errors only when the file as a whole cannot be read (no name column, more than
/// [`MAX_MEMBERS`] rows); a bad row is refused with its reason.
pub fn parse_roster(text: &str) -> Result<Vec<RosterRow>, String> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| format!("the first line must name the columns: {e}"))?
        .clone();
    let column = |names: &[&str]| {
        headers
            .iter()
            .position(|h| names.iter().any(|n| h.eq_ignore_ascii_case(n)))
    };
    let name_at = column(&["name", "display_name"]).ok_or(
        "the first line must name a column \"name\" (and may name \"email\" and \"role\")",
    )?;
    let (email_at, role_at) = (column(&["email"]), column(&["role"]));
    let mut rows = Vec::new();
    let mut emails = HashSet::new();
    for record in reader.records() {
        if rows.len() >= MAX_MEMBERS {
            return Err(format!("at most {MAX_MEMBERS} rows in one import"));
        }
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map(|p| p.line()).unwrap_or(0);
                rows.push(RosterRow {
                    line,
                    outcome: RowOutcome::Refused(format!("not readable as CSV: {e}")),
                });
                continue;
            }
        };
        let line = record.position().map(|p| p.line()).unwrap_or(0);
        let cell = |at: Option<usize>| at.and_then(|i| record.get(i)).unwrap_or("");
        let role = match cell(role_at).to_ascii_lowercase().as_str() {
            "" | "participant" => Ok(Role::Participant),
            "host" => Ok(Role::Host),
            other => Err(format!("role {other:?} is neither host nor participant")),
        };
        let outcome = match role {
            Err(why) => RowOutcome::Refused(why),
            Ok(role) => {
                let email = Some(cell(email_at));
                match MemberFields::new(cell(Some(name_at)), email, Some(role)) {
                    Err(errors) => RowOutcome::Refused(
                        errors
                            .iter()
                            .map(|e| format!("{}: {}", e.field, e.message))
                            .collect::<Vec<_>>()
                            .join("; "),
                    ),
                    Ok(m) => match &m.email {
                        Some(e) if !emails.insert(e.clone()) => {
                            RowOutcome::Refused(format!("{e} is already on an earlier row"))
                        }
                        _ => RowOutcome::Member(m),
                    },
                }
            }
        };
        rows.push(RosterRow { line, outcome });
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identities_read_back_as_written() {
        for text in ["member:5f0c", "guest:dev-0123456789"] {
            assert_eq!(Identity::parse(text).unwrap().to_string(), text);
        }
        for bad in [
            "5f0c",
            "member:",
            "guest:short",
            "guest:has space!",
            "admin:x",
        ] {
            assert!(Identity::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn member_fields_are_checked_and_normalised() {
        let m = MemberFields::new("  Ada Lovelace ", Some("Ada@Example.ORG"), None).unwrap();
        assert_eq!(m.display_name, "Ada Lovelace");
        assert_eq!(m.email.as_deref(), Some("ada@example.org"));
        assert_eq!(m.role, Role::Participant);
        let errs = MemberFields::new("\u{202E}", Some("no-at-sign"), None).unwrap_err();
        let fields: Vec<&str> = errs.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["display_name", "email"]);
        for bad in [
            "a@b",
            "@b.org",
            "a@.org",
            "a b@c.org",
            "a@b.org.",
            "a@@b.org",
        ] {
            assert!(normalize_email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_class_list_adds_good_rows_and_says_why_bad_ones_are_refused() {
        let csv = "Email,Name,Role,Student number\n\
                   ada@example.org,Ada Lovelace,host,1\n\
                   grace@example.org,\"Hopper, Grace\",,2\n\
                   ,Alan Turing,participant,3\n\
                   bad-email,Bob,,4\n\
                   ada@EXAMPLE.org,Ada again,,5\n\
                   x@example.org,,,6\n\
                   y@example.org,Yo,teacher,7\n";
        let rows = parse_roster(csv).unwrap();
        let lines: Vec<(u64, bool)> = rows
            .iter()
            .map(|r| (r.line, matches!(r.outcome, RowOutcome::Member(_))))
            .collect();
        assert_eq!(
            lines,
            [
                (2, true),
                (3, true),
                (4, true),
                (5, false),
                (6, false),
                (7, false),
                (8, false)
            ]
        );
        let RowOutcome::Member(grace) = &rows[1].outcome else {
            panic!()
        };
        assert_eq!(grace.display_name, "Hopper, Grace");
        let RowOutcome::Member(ada) = &rows[0].outcome else {
            panic!()
        };
        assert_eq!(ada.role, Role::Host);
        let why = |i: usize| match &rows[i].outcome {
            RowOutcome::Refused(w) => w.clone(),
            RowOutcome::Member(_) => String::new(),
        };
        assert!(why(3).contains("email"), "{}", why(3));
        assert!(why(4).contains("earlier row"), "{}", why(4));
        assert!(why(5).contains("display_name"), "{}", why(5));
        assert!(why(6).contains("teacher"), "{}", why(6));
        assert!(parse_roster("email\nada@example.org\n").is_err());
    }
}
