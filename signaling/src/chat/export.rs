//! A room's chat, or one meeting's, as a Markdown document to read and keep: grouped by day and,
//! within a day, by meeting, in the room's time zone. Every character people typed is shown as
//! typed: Markdown syntax in a message is escaped, so an export renders what was said.

use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Tz;
use protocol::ChatMessage;

/// The Markdown export of `messages` (oldest first) of the room `room_name`.
pub fn markdown(room_name: &str, zone: Tz, messages: &[ChatMessage], title: &str) -> String {
    let mut out = format!("# {}: {}\n", escape(title), escape(room_name));
    if messages.is_empty() {
        out.push_str("\nNo messages.\n");
        return out;
    }
    let mut day = None;
    let mut meeting: Option<Option<&str>> = None;
    for m in messages {
        let sent = local(zone, m.sent_at_ms);
        let this_day = sent.date_naive();
        if day != Some(this_day) {
            day = Some(this_day);
            meeting = None;
            out.push_str(&format!("\n## {}\n", sent.format("%A %-d %B %Y")));
        }
        let this_meeting = m.occurrence.as_deref();
        if meeting != Some(this_meeting) {
            meeting = Some(this_meeting);
            out.push_str(&format!("\n### {}\n", meeting_label(zone, this_meeting)));
        }
        out.push('\n');
        out.push_str(&format!(
            "**{}**, {}",
            escape(&m.name),
            sent.format("%H:%M")
        ));
        if m.deleted {
            out.push_str("\\\n*message deleted*\n");
            continue;
        }
        if m.edited_at_ms.is_some() {
            out.push_str(" (edited)");
        }
        for line in m.text.lines() {
            out.push_str("\\\n");
            out.push_str(&escape(line));
        }
        out.push('\n');
    }
    out
}

/// "Tuesday 3 March meeting, 18:00", or "Between meetings".
fn meeting_label(zone: Tz, occurrence: Option<&str>) -> String {
    let start = occurrence
        .and_then(|o| DateTime::parse_from_rfc3339(o).ok())
        .map(|t| t.with_timezone(&zone));
    match start {
        Some(t) => format!("{} meeting, {}", t.format("%A %-d %B"), t.format("%H:%M")),
        None => "Between meetings".into(),
    }
}

fn local(zone: Tz, ms: u64) -> DateTime<Tz> {
    let utc = DateTime::<Utc>::from_timestamp_millis(i64::try_from(ms).unwrap_or(i64::MAX))
        .unwrap_or_default();
    zone.from_utc_datetime(&utc.naive_utc())
}

/// `text` with every character that Markdown could read as syntax escaped.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii_punctuation() {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(name: &str, text: &str, at: &str, occurrence: Option<&str>) -> ChatMessage {
        ChatMessage {
            id: format!("{name}{at}"),
            name: name.into(),
            text: text.into(),
            sent_at_ms: DateTime::parse_from_rfc3339(at).unwrap().timestamp_millis() as u64,
            occurrence: occurrence.map(Into::into),
            ..ChatMessage::default()
        }
    }

    #[test]
    fn days_and_meetings_head_the_conversation_in_the_room_zone() {
        let zone: Tz = "Europe/Berlin".parse().unwrap();
        let meeting = Some("2026-03-03T18:00:00+01:00");
        let mut edited = msg(
            "Bea",
            "see *chapter* [3](javascript:x)",
            "2026-03-03T17:04:00Z",
            meeting,
        );
        edited.edited_at_ms = Some(1);
        let mut gone = msg("Ada", "", "2026-03-03T17:05:00Z", meeting);
        gone.deleted = true;
        let messages = [
            msg(
                "Ada",
                "Read chapter 3\n# not a heading",
                "2026-03-03T17:03:00Z",
                meeting,
            ),
            edited,
            gone,
            msg("Cai", "thanks!", "2026-03-04T08:00:00Z", None),
        ];
        let md = markdown("Reading group", zone, &messages, "Chat");
        let expected = "# Chat: Reading group\n\
            \n## Tuesday 3 March 2026\n\
            \n### Tuesday 3 March meeting, 18:00\n\
            \n**Ada**, 18:03\\\nRead chapter 3\\\n\\# not a heading\n\
            \n**Bea**, 18:04 (edited)\\\nsee \\*chapter\\* \\[3\\]\\(javascript\\:x\\)\n\
            \n**Ada**, 18:05\\\n*message deleted*\n\
            \n## Wednesday 4 March 2026\n\
            \n### Between meetings\n\
            \n**Cai**, 09:00\\\nthanks\\!\n";
        assert_eq!(md, expected);
        assert!(markdown("R", zone, &[], "Chat").ends_with("No messages.\n"));
    }
}
