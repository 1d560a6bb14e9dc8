//! A room's export as one ZIP file: its chat (Markdown and JSON), its board (Markdown and
//! JSON), its shared notes (Markdown: each document now, and what each meeting's end kept) and
//! every uploaded file, with a README that says what is where. Free of HTTP and SQL:
//! the caller hands over what the room keeps and a way to open each stored file.
//!
//! Entries are stored, not compressed: most of an export's bytes are uploads (PDFs, images,
//! office documents) that are compressed already, and every unzip tool reads stored entries.

use std::io::{self, Read, Seek, Write};

use protocol::BoardItem;
use serde::Serialize;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

use crate::chat::export::escape;

/// One uploaded file to put in the archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchivedFile {
    /// The stored file's id, for the opener.
    pub file_id: String,
    /// Its path in the archive, under `files/`.
    pub path: String,
}

/// What goes into a room's archive besides its files.
pub struct Contents<'a> {
    pub room_name: &'a str,
    /// When it was made (RFC 3339), for the README.
    pub exported_at: &'a str,
    /// The room's settings, as the API shows them.
    pub room_json: Vec<u8>,
    pub chat_markdown: String,
    pub chat_json: Vec<u8>,
    /// The board, in its order.
    pub board: &'a [BoardItem],
    /// The shared notes: `(path under notes/, Markdown)`, each document as it is now and each
    /// meeting's kept ones.
    pub notes: Vec<(String, String)>,
}

/// The archive path of each item's file, in board order: `files/01-week3.pdf`, numbered so that
/// two uploads of one name never collide (names were made safe at upload: no folders).
pub fn file_paths(board: &[BoardItem]) -> Vec<(String, String)> {
    board
        .iter()
        .filter(|i| i.file.is_some())
        .enumerate()
        .map(|(n, i)| {
            let name = i.file.as_ref().map_or("file", |f| f.name.as_str());
            (i.id.clone(), format!("files/{:02}-{name}", n + 1))
        })
        .collect()
}

/// The board as a Markdown document: pinned first, as on the page; every title and text shown
/// as typed.
pub fn board_markdown(room_name: &str, board: &[BoardItem]) -> String {
    let paths = file_paths(board);
    let mut out = format!("# Board: {}\n", escape(room_name));
    if board.is_empty() {
        out.push_str("\nNothing shared.\n");
    }
    for item in board {
        out.push_str(&format!("\n## {}", escape(&item.title)));
        if item.pinned {
            out.push_str(" (pinned)");
        }
        out.push_str(&format!("\n\nShared by {}", escape(&item.author_name)));
        if let Some(m) = &item.meeting {
            out.push_str(&format!(", for the meeting of {}", escape(m)));
        }
        out.push_str(".\n");
        if let Some(url) = &item.url {
            // A URL the server checked (http or https), shown as code so it stays inert.
            out.push_str(&format!("\nLink: `{}`\n", url.replace('`', "%60")));
        }
        if let Some(path) = paths.iter().find(|(id, _)| *id == item.id).map(|(_, p)| p) {
            out.push_str(&format!("\nFile: `{path}`\n"));
        }
        if let Some(d) = &item.description {
            out.push_str(&format!("\n{}\n", escape(d)));
        }
        if let Some(body) = &item.body {
            // A note's own Markdown, kept as written, in a fence it cannot close.
            let fence = "`".repeat(longest_run(body, '`').max(2) + 1);
            out.push_str(&format!("\n{fence}markdown\n{body}\n{fence}\n"));
        }
    }
    out
}

fn longest_run(text: &str, c: char) -> usize {
    let (mut best, mut run) = (0, 0);
    for ch in text.chars() {
        run = if ch == c { run + 1 } else { 0 };
        best = best.max(run);
    }
    best
}

fn readme(c: &Contents<'_>, files: usize) -> String {
    format!(
        "# {}\n\nExported from Cohort on {}.\n\n\
         - `room.json`: the room's settings.\n\
         - `chat.md`, `chat.json`: the kept chat, oldest first, by day and meeting.\n\
         - `board.md`, `board.json`: the board, pinned items first.\n\
         - `notes/`: the shared notes as they are now (`notes.md`, each meeting's \
         `minutes-<start>.md`, the minutes' `template.md`), and under `notes/kept/<meeting>/` \
         the minutes and the room's notes as they were when that meeting ended.\n\
         - `files/`: the {files} uploaded file(s), named as on the board.\n\n\
         Attendance and the roster are not in here: hosts export the register of each meeting \
         (CSV) and organisers the roster through the API.\n",
        escape(c.room_name),
        c.exported_at
    )
}

/// Writes the archive of `c` and `files` to `out`; `open` opens a stored file by id. A file
/// that cannot be opened fails the whole archive: an export is complete or an error.
pub fn write<W: Write + Seek>(
    out: W,
    c: &Contents<'_>,
    files: &[ArchivedFile],
    mut open: impl FnMut(&str) -> io::Result<Box<dyn Read>>,
) -> io::Result<W> {
    let mut zip = ZipWriter::new(out);
    let options = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Stored)
        .large_file(true)
        .unix_permissions(0o644);
    let (readme, board_md, board_json) = (
        readme(c, files.len()),
        board_markdown(c.room_name, c.board),
        json(&c.board)?,
    );
    let entries: [(&str, &[u8]); 6] = [
        ("README.md", readme.as_bytes()),
        ("room.json", &c.room_json),
        ("chat.md", c.chat_markdown.as_bytes()),
        ("chat.json", &c.chat_json),
        ("board.md", board_md.as_bytes()),
        ("board.json", &board_json),
    ];
    for (name, bytes) in entries {
        zip.start_file(name, options).map_err(io::Error::other)?;
        zip.write_all(bytes)?;
    }
    for (path, text) in &c.notes {
        zip.start_file(format!("notes/{path}"), options)
            .map_err(io::Error::other)?;
        zip.write_all(text.as_bytes())?;
    }
    for f in files {
        let mut src = open(&f.file_id)?;
        zip.start_file(f.path.as_str(), options)
            .map_err(io::Error::other)?;
        io::copy(&mut src, &mut zip)?;
    }
    zip.finish().map_err(io::Error::other)
}

fn json<T: Serialize + ?Sized>(v: &T) -> io::Result<Vec<u8>> {
    serde_json::to_vec_pretty(v).map_err(io::Error::other)
}

#[cfg(test)]
mod tests;
