//! Whatever text people send, the rules for names and messages (protocol::text) and the class
//! list reader never panic, and what they accept keeps their promises: no control or
//! bidirectional characters in names, something visible, within the limit, and checking again
//! changes nothing. Cases: 256, or `PROPTEST_CASES`; scripts/test.sh prints the seed.

use proptest::prelude::*;
use protocol::text::{is_bidi_control, is_invisible, normalize_message, normalize_name};
use signaling::members::{Identity, RowOutcome, normalize_email, parse_roster};

/// Text that mixes the characters these rules are about with ordinary ones.
fn tricky() -> impl Strategy<Value = String> {
    let pieces = prop::sample::select(vec![
        "a",
        "Ada",
        " ",
        "\t",
        "\n",
        "\r",
        "\0",
        "\u{1b}[31m",
        "\u{202E}",
        "\u{2066}",
        "\u{2069}",
        "\u{200B}",
        "\u{200D}",
        "\u{FEFF}",
        "\u{3164}",
        "\u{2028}",
        "مريم",
        "👩\u{200D}💻",
        ",",
        "\"",
        "@",
        "e\u{301}",
        "\u{E0041}",
    ]);
    prop_oneof![
        prop::collection::vec(pieces, 0..12).prop_map(|v| v.concat()),
        "\\PC{0,80}",
        ".{0,80}",
    ]
}

proptest! {
    #[test]
    fn accepted_names_are_clean_and_stable(text in tricky()) {
        if let Ok(name) = normalize_name(&text, 64, "a name") {
            prop_assert!(name.chars().count() <= 64);
            prop_assert!(!name.chars().any(|c| c.is_control() || is_bidi_control(c)), "{name:?}");
            prop_assert!(!name.chars().all(is_invisible), "{name:?}");
            prop_assert_eq!(normalize_name(&name, 64, "a name"), Ok(name.clone()));
        }
    }

    #[test]
    fn accepted_messages_keep_only_new_lines_and_tabs_and_are_stable(text in tricky()) {
        if let Ok(msg) = normalize_message(&text, 2000, "a message") {
            prop_assert!(!msg.chars().any(|c| c.is_control() && c != '\n' && c != '\t'), "{msg:?}");
            prop_assert!(!msg.chars().all(is_invisible));
            prop_assert_eq!(normalize_message(&msg, 2000, "a message"), Ok(msg.clone()));
        }
    }

    #[test]
    fn emails_and_identities_read_back_as_written(text in tricky()) {
        if let Ok(email) = normalize_email(&text) {
            prop_assert_eq!(normalize_email(&email), Ok(email.clone()));
        }
        if let Ok(identity) = Identity::parse(&text) {
            prop_assert_eq!(Identity::parse(&identity.to_string()), Ok(identity));
        }
    }

    /// Every data line of a class list comes back once, added or refused, in order.
    #[test]
    fn every_row_of_a_class_list_is_accounted_for(
        rows in prop::collection::vec((tricky(), tricky(), prop::sample::select(vec!["", "host", "participant", "teacher"])), 0..30),
    ) {
        let quote = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
        let mut csv = String::from("name,email,role\n");
        for (name, email, role) in &rows {
            csv.push_str(&format!("{},{},{role}\n", quote(name), quote(email)));
        }
        let got = parse_roster(&csv).map_err(TestCaseError::fail)?;
        prop_assert_eq!(got.len(), rows.len());
        for w in got.windows(2) {
            prop_assert!(w[0].line < w[1].line);
        }
        for (row, (_, _, role)) in got.iter().zip(&rows) {
            if *role == "teacher" {
                prop_assert!(matches!(row.outcome, RowOutcome::Refused(_)));
            }
        }
    }

    #[test]
    fn any_text_as_a_class_list_never_panics(text in "\\PC{0,300}") {
        let _ = parse_roster(&text);
    }
}
