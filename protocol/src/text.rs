//! What text people may give, in one place for the WebSocket protocol and the HTTP API.
//!
//! - **Names** (display names, room names): trimmed; no control characters (new lines, tabs,
//!   NUL, ESC, the line and paragraph separators); bidirectional formatting characters
//!   (embeddings, overrides, isolates, marks) are removed, so a name cannot reorder the text
//!   around it; and at least one visible character must be left.
//! - **Messages** (chat, room descriptions): trimmed; new lines and tabs are kept, other control
//!   characters are refused; at least one visible character. Bidirectional characters are kept,
//!   since right-to-left writers use them, and clients show each message isolated
//!   (`dir="auto"`), so they cannot reach past it.

/// Unicode's bidirectional formatting characters: LRE, RLE, PDF, LRO, RLO, LRI, RLI, FSI, PDI,
/// LRM, RLM and ALM.
pub fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}'
    )
}

/// Characters that show nothing on their own: white space, bidirectional and other format
/// characters, fillers and blanks that render empty, and variation selectors and tags.
pub fn is_invisible(c: char) -> bool {
    c.is_whitespace()
        || is_bidi_control(c)
        || matches!(
            c,
            '\u{00AD}'
                | '\u{034F}'
                | '\u{115F}'
                | '\u{1160}'
                | '\u{17B4}'
                | '\u{17B5}'
                | '\u{180B}'..='\u{180F}'
                | '\u{200B}'..='\u{200D}'
                | '\u{2060}'..='\u{2064}'
                | '\u{206A}'..='\u{206F}'
                | '\u{2800}'
                | '\u{3164}'
                | '\u{FE00}'..='\u{FE0F}'
                | '\u{FEFF}'
                | '\u{FFA0}'
                | '\u{1D173}'..='\u{1D17A}'
                | '\u{E0000}'..='\u{E007F}'
                | '\u{E0100}'..='\u{E01EF}'
        )
}

fn is_line_break_control(c: char) -> bool {
    c.is_control() || c == '\u{2028}' || c == '\u{2029}'
}

/// `text` trimmed, if it then has 1 to `max` characters and something visible.
fn visible_within<'a>(text: &'a str, max: usize, what: &str) -> Result<&'a str, String> {
    let trimmed = text.trim();
    let count = trimmed.chars().count();
    if count == 0 || count > max {
        return Err(format!("{what} has 1 to {max} characters"));
    }
    if trimmed.chars().all(is_invisible) {
        return Err(format!("{what} needs at least one visible character"));
    }
    Ok(trimmed)
}

/// Checks and normalises a name (see the module's rules); `what` names it in the error, as in
/// "a display name".
pub fn normalize_name(text: &str, max: usize, what: &str) -> Result<String, String> {
    if text.chars().any(is_line_break_control) {
        return Err(format!(
            "{what} has no control characters (new lines, tabs and the like)"
        ));
    }
    let stripped: String = text.chars().filter(|c| !is_bidi_control(*c)).collect();
    visible_within(&stripped, max, what).map(str::to_owned)
}

/// Checks and normalises a message (see the module's rules).
pub fn normalize_message(text: &str, max: usize, what: &str) -> Result<String, String> {
    let trimmed = visible_within(text, max, what)?;
    if trimmed
        .chars()
        .any(|c| is_line_break_control(c) && c != '\n' && c != '\t')
    {
        return Err(format!(
            "{what} has no control characters but new lines and tabs"
        ));
    }
    Ok(trimmed.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_lose_bidi_controls_and_refuse_controls_and_invisible_text() {
        let name = |t: &str| normalize_name(t, 64, "a name");
        assert_eq!(name("  Ada  ").unwrap(), "Ada");
        // An override that would show "evil.exe" as "exe.live" is removed.
        assert_eq!(name("\u{202E}exe.live").unwrap(), "exe.live");
        assert_eq!(name("مريم \u{2067}x\u{2069}").unwrap(), "مريم x");
        assert_eq!(name("👩\u{200D}💻").unwrap(), "👩\u{200D}💻");
        for bad in ["a\nb", "tab\there", "nul\0", "esc\u{1b}[31m", "a\u{2028}b"] {
            assert!(name(bad).unwrap_err().contains("control"), "{bad:?}");
        }
        for empty in [
            "\u{200B}",
            "\u{202E}\u{202C}",
            "\u{3164}\u{3164}",
            "\u{2800}",
            " \u{FEFF} ",
        ] {
            let err = name(empty).unwrap_err();
            assert!(
                err.contains("visible") || err.contains("1 to"),
                "{empty:?}: {err}"
            );
        }
        assert!(name(&"x".repeat(65)).is_err());
    }

    #[test]
    fn messages_keep_new_lines_and_bidi_but_refuse_other_controls() {
        let msg = |t: &str| normalize_message(t, 2000, "a chat message");
        assert_eq!(
            msg(" line one\nline two\t! ").unwrap(),
            "line one\nline two\t!"
        );
        assert_eq!(msg("\u{202B}שלום\u{202C}").unwrap(), "\u{202B}שלום\u{202C}");
        for bad in [
            "nul\0",
            "bell\u{7}",
            "esc\u{1b}[2J",
            "cr\r\nlf",
            "a\u{2029}b",
        ] {
            assert!(msg(bad).unwrap_err().contains("control"), "{bad:?}");
        }
        assert!(msg("\u{200B}\u{200B}").unwrap_err().contains("visible"));
    }
}
