//! Uploaded files, free of I/O: what a file is (read from its bytes with `infer`, never from
//! its name or the client's word), whether it is on the allowlist, the name it is shown and
//! downloaded under, and the `Content-Disposition` it is served with (RFC 6266).
//!
//! Allowed: PDF; PNG, JPEG, GIF and WebP images (the only files ever shown inline); office
//! documents (Word, Excel, PowerPoint, OpenDocument); plain text, Markdown and CSV. Never: HTML,
//! SVG, XML, scripts, archives or executables, whatever they are named.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::error::{FieldError, field};

/// Longest file name kept.
pub const NAME_MAX: usize = 200;

/// An allowed file's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileType {
    pub mime: &'static str,
    /// A raster image a page may show inline.
    pub inline: bool,
}

/// Why a file was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsupported(pub String);

const OFFICE: &[&str] = &[
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "application/msword",
    "application/vnd.ms-excel",
    "application/vnd.ms-powerpoint",
    "application/vnd.oasis.opendocument.text",
    "application/vnd.oasis.opendocument.spreadsheet",
    "application/vnd.oasis.opendocument.presentation",
];
const IMAGES: &[&str] = &["image/png", "image/jpeg", "image/gif", "image/webp"];

/// What `bytes` are, if they are allowed; `name` (already made safe) only tells plain text
/// from Markdown and CSV, which have no signature of their own.
pub fn sniff(bytes: &[u8], name: &str) -> Result<FileType, Unsupported> {
    if bytes.is_empty() {
        return Err(Unsupported("the file is empty".into()));
    }
    if let Some(kind) = infer::get(bytes) {
        let mime = kind.mime_type();
        if mime == "application/pdf" {
            return Ok(FileType {
                mime: "application/pdf",
                inline: false,
            });
        }
        if let Some(m) = IMAGES.iter().find(|m| **m == mime) {
            return Ok(FileType {
                mime: m,
                inline: true,
            });
        }
        if let Some(m) = OFFICE.iter().find(|m| **m == mime) {
            return Ok(FileType {
                mime: m,
                inline: false,
            });
        }
        return Err(Unsupported(format!(
            "files of type {mime} are not accepted; share PDF, images, office documents or text"
        )));
    }
    text(bytes, name)
}

/// Text with no signature: UTF-8 without NUL, and no markup.
fn text(bytes: &[u8], name: &str) -> Result<FileType, Unsupported> {
    let refused = || {
        Unsupported(
            "this file is not one of PDF, an image, an office document or text; it was not accepted"
                .into(),
        )
    };
    let Ok(s) = std::str::from_utf8(bytes) else {
        return Err(refused());
    };
    if s.contains('\0') {
        return Err(refused());
    }
    // HTML, SVG and XML (however named) would be markup a browser could run.
    let head: String = s
        .trim_start_matches('\u{feff}')
        .trim_start()
        .chars()
        .take(1024)
        .collect();
    let lower = head.to_lowercase();
    if head.starts_with('<')
        || [
            "<svg",
            "<html",
            "<script",
            "<?xml",
            "<!doctype",
            "<iframe",
            "<object",
        ]
        .iter()
        .any(|tag| lower.contains(tag))
    {
        return Err(Unsupported(
            "HTML, SVG and XML files are not accepted; share them as PDF or an image".into(),
        ));
    }
    let ext = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    let mime = match ext.as_deref() {
        Some("md" | "markdown") => "text/markdown; charset=utf-8",
        Some("csv") => "text/csv; charset=utf-8",
        _ => "text/plain; charset=utf-8",
    };
    Ok(FileType {
        mime,
        inline: false,
    })
}

/// The name a file is shown and downloaded under: the last part of what the client sent
/// (`../../etc/passwd` is `passwd`, `C:\x\a.pdf` is `a.pdf`), by the rules for names. It is
/// never used as a path: files are stored under a random id.
pub fn safe_name(sent: &str) -> Result<String, FieldError> {
    let last = sent.rsplit(['/', '\\']).next().unwrap_or("");
    let name = protocol::text::normalize_name(last, NAME_MAX, "a file name")
        .map_err(|e| field("name", e))?;
    if name == "." || name == ".." {
        return Err(field("name", "a file name, not a folder"));
    }
    Ok(name)
}

/// RFC 5987 `attr-char`: what stays as it is in `filename*`.
const ATTR: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'!')
    .remove(b'#')
    .remove(b'$')
    .remove(b'&')
    .remove(b'+')
    .remove(b'-')
    .remove(b'.')
    .remove(b'^')
    .remove(b'_')
    .remove(b'`')
    .remove(b'|')
    .remove(b'~');

/// `attachment` (or `inline`) with an ASCII `filename` for old clients and the exact name in
/// `filename*` (RFC 6266, RFC 5987).
pub fn content_disposition(name: &str, inline: bool) -> String {
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let kind = if inline { "inline" } else { "attachment" };
    format!(
        "{kind}; filename=\"{ascii}\"; filename*=UTF-8''{}",
        utf8_percent_encode(name, ATTR)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const PDF: &[u8] = b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\n%%EOF\n";
    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0";

    #[test]
    fn types_come_from_the_bytes() {
        assert_eq!(sniff(PDF, "notes.txt").unwrap().mime, "application/pdf");
        assert_eq!(
            sniff(PNG, "a.pdf").unwrap(),
            FileType {
                mime: "image/png",
                inline: true
            }
        );
        assert_eq!(
            sniff(b"a,b\n1,2\n", "marks.CSV").unwrap().mime,
            "text/csv; charset=utf-8"
        );
        assert_eq!(
            sniff("# Week 3\n".as_bytes(), "w3.md").unwrap().mime,
            "text/markdown; charset=utf-8"
        );
        assert_eq!(
            sniff(b"plain", "readme").unwrap().mime,
            "text/plain; charset=utf-8"
        );
    }

    #[test]
    fn markup_archives_and_programs_are_refused_whatever_their_name() {
        for (bytes, name) in [
            (
                &b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>"[..],
                "cat.png",
            ),
            (
                b"\xef\xbb\xbf  <!DOCTYPE html><html><body>hi</body></html>",
                "page.txt",
            ),
            (b"<?xml version='1.0'?><x/>", "data.csv"),
            (b"hello <script>alert(1)</script>", "notes.md"),
            (b"PK\x03\x04\x14\0\0\0\x08\0", "slides.pdf"),
            (b"\x7fELF\x02\x01\x01\0", "run.txt"),
            (b"MZ\x90\0\x03\0\0\0", "setup.pdf"),
            (b"\xff\xfe\0\0bin", "x.txt"),
            (b"", "empty.txt"),
        ] {
            assert!(sniff(bytes, name).is_err(), "{name}: {bytes:?} passed");
        }
    }

    #[test]
    fn names_are_their_last_part_and_never_a_path() {
        assert_eq!(safe_name("../../etc/passwd").unwrap(), "passwd");
        assert_eq!(
            safe_name(r"C:\Users\ada\Report 3.pdf").unwrap(),
            "Report 3.pdf"
        );
        assert_eq!(
            safe_name("Übung 3 – Lösungen.pdf").unwrap(),
            "Übung 3 – Lösungen.pdf"
        );
        for bad in ["", "a/", "..", "x/..", ".", "a\nb.pdf", "a\u{0}.pdf"] {
            assert!(safe_name(bad).is_err(), "{bad:?} passed");
        }
    }

    #[test]
    fn dispositions_carry_the_exact_name() {
        assert_eq!(
            content_disposition("Übung \"3\".pdf", false),
            "attachment; filename=\"_bung _3_.pdf\"; filename*=UTF-8''%C3%9Cbung%20%223%22.pdf"
        );
        assert_eq!(
            content_disposition("a.png", true),
            "inline; filename=\"a.png\"; filename*=UTF-8''a.png"
        );
    }
}
