//! The archive read back with the same ZIP crate a user's unzip would agree with.

use std::io::{Cursor, Read};

use protocol::{BoardFile, BoardItem};

use super::*;

fn item(id: &str, title: &str, file: Option<&str>) -> BoardItem {
    BoardItem {
        id: id.into(),
        kind: if file.is_some() { "file" } else { "text" }.into(),
        title: title.into(),
        description: None,
        url: None,
        body: None,
        file: file.map(|name| BoardFile {
            name: name.into(),
            mime: "application/pdf".into(),
            size: 3,
            inline: false,
            download: format!("/files/{id}"),
        }),
        identity: "member:a".into(),
        author_name: "Ada".into(),
        meeting: None,
        pinned: false,
        position: 0,
        created_at_ms: 0,
        updated_at_ms: 0,
    }
}

fn contents(board: &[BoardItem]) -> Contents<'_> {
    Contents {
        room_name: "Biology *9*",
        exported_at: "2026-12-01T10:00:00+00:00",
        room_json: b"{}".to_vec(),
        chat_markdown: "# Chat\n".into(),
        chat_json: b"{\"messages\":[]}".to_vec(),
        board,
        notes: vec![
            ("notes.md".into(), "# Goals\n".into()),
            (
                "kept/2026-03-03T1800000100/minutes.md".into(),
                "## Decisions\n".into(),
            ),
        ],
    }
}

#[test]
fn every_part_and_every_file_is_in_the_archive_byte_for_byte() {
    let mut note = item("n1", "Reading <b>list</b>", None);
    note.body = Some("Use ``` fences\n- [x] done".into());
    note.pinned = true;
    let mut link = item("l1", "Video", None);
    link.kind = "link".into();
    link.url = Some("https://example.org/a`b".into());
    let board = vec![
        note,
        link,
        item("f1", "Slides", Some("week3.pdf")),
        item("f2", "Slides again", Some("week3.pdf")),
    ];
    let paths = file_paths(&board);
    assert_eq!(
        paths,
        [
            ("f1".to_owned(), "files/01-week3.pdf".to_owned()),
            ("f2".to_owned(), "files/02-week3.pdf".to_owned())
        ],
        "two uploads of one name never collide"
    );
    let files: Vec<ArchivedFile> = paths
        .into_iter()
        .map(|(id, path)| ArchivedFile {
            file_id: format!("stored-{id}"),
            path,
        })
        .collect();
    let c = contents(&board);
    let out = write(Cursor::new(Vec::new()), &c, &files, |id| {
        Ok(Box::new(Cursor::new(format!("bytes of {id}").into_bytes())))
    })
    .unwrap();
    let mut zip = zip::ZipArchive::new(Cursor::new(out.into_inner())).unwrap();
    let names: Vec<String> = zip.file_names().map(String::from).collect();
    for want in [
        "README.md",
        "room.json",
        "chat.md",
        "chat.json",
        "board.md",
        "board.json",
        "files/01-week3.pdf",
        "files/02-week3.pdf",
    ] {
        assert!(names.iter().any(|n| n == want), "{want} in {names:?}");
    }
    let read = |zip: &mut zip::ZipArchive<Cursor<Vec<u8>>>, name: &str| {
        let mut s = String::new();
        zip.by_name(name).unwrap().read_to_string(&mut s).unwrap();
        s
    };
    assert_eq!(read(&mut zip, "files/02-week3.pdf"), "bytes of stored-f2");
    let md = read(&mut zip, "board.md");
    assert!(
        md.contains("## Reading \\<b\\>list\\<\\/b\\> (pinned)"),
        "{md}"
    );
    assert!(
        md.contains("````markdown\nUse ``` fences\n- [x] done\n````"),
        "a note's Markdown is kept in a fence it cannot close: {md}"
    );
    assert!(md.contains("Link: `https://example.org/a%60b`"), "{md}");
    assert!(md.contains("File: `files/01-week3.pdf`"), "{md}");
    let json: Vec<BoardItem> = serde_json::from_str(&read(&mut zip, "board.json")).unwrap();
    assert_eq!(json, board);
    assert!(read(&mut zip, "README.md").starts_with("# Biology \\*9\\*"));
    assert_eq!(read(&mut zip, "notes/notes.md"), "# Goals\n");
    assert_eq!(
        read(&mut zip, "notes/kept/2026-03-03T1800000100/minutes.md"),
        "## Decisions\n"
    );
}

#[test]
fn a_missing_file_fails_the_export_rather_than_leaving_it_short() {
    let board = vec![item("f1", "Slides", Some("a.pdf"))];
    let files = [ArchivedFile {
        file_id: "gone".into(),
        path: "files/01-a.pdf".into(),
    }];
    let r = write(Cursor::new(Vec::new()), &contents(&board), &files, |_| {
        Err(io::Error::new(io::ErrorKind::NotFound, "gone"))
    });
    assert!(r.is_err());
}
