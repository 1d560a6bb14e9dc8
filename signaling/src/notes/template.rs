//! What new minutes start from: the room's template (a document hosts edit, or the default
//! below) with its placeholders filled in: `{date}` (the meeting, in the room's zone),
//! `{agenda}` (the board items attached to the meeting) and `{attendees}` (who has come so
//! far). Titles and names are people's text: each goes on a line of its own, as a list item.

/// The template a room starts with.
pub const DEFAULT: &str = "# Minutes: {date}\n\n## Agenda\n{agenda}\n\n## Present\n{attendees}\n\n\
## Notes\n\n## Decisions\n\n## Action items\n- [ ] \n";

/// A list of `items` as Markdown list lines, or `none` when there are none.
fn list(items: &[String], none: &str) -> String {
    if items.is_empty() {
        return format!("- {none}");
    }
    items
        .iter()
        .map(|i| format!("- {}", one_line(i)))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Text on one line: a name or title with a line break in it cannot start a heading.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The first text of a meeting's minutes.
pub fn fill(template: &str, date: &str, agenda: &[String], attendees: &[String]) -> String {
    let template = if template.trim().is_empty() {
        DEFAULT
    } else {
        template
    };
    // One pass, so that a title holding "{attendees}" stays as typed.
    let mut out = String::with_capacity(template.len() + 256);
    let mut rest = template;
    while let Some(at) = rest.find('{') {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        let (fill, len) = if tail.starts_with("{date}") {
            (one_line(date), "{date}".len())
        } else if tail.starts_with("{agenda}") {
            (
                list(agenda, "nothing on the board for this meeting"),
                "{agenda}".len(),
            )
        } else if tail.starts_with("{attendees}") {
            (list(attendees, "nobody yet"), "{attendees}".len())
        } else {
            ("{".to_owned(), 1)
        };
        out.push_str(&fill);
        rest = &tail[len..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_filled_once_and_people_s_text_stays_on_its_line() {
        let text = fill(
            "",
            "Tuesday 3 March 2026, 18:00",
            &["Read {attendees}".into(), "Chapter\n# 4".into()],
            &["Ada".into()],
        );
        assert!(
            text.starts_with("# Minutes: Tuesday 3 March 2026, 18:00\n"),
            "{text}"
        );
        assert!(
            text.contains("## Agenda\n- Read {attendees}\n- Chapter # 4\n"),
            "{text}"
        );
        assert!(text.contains("## Present\n- Ada\n"), "{text}");
        assert!(text.contains("## Decisions") && text.contains("## Action items"));
        let own = fill("Week of {date} {unknown}", "3 March", &[], &[]);
        assert_eq!(own, "Week of 3 March {unknown}");
        assert!(fill("{agenda}", "d", &[], &[]).contains("nothing on the board"));
    }
}
