//! A room's resource board: links and notes, uploads whose type comes from their bytes,
//! downloads that only ever save, quotas, permissions, and live updates on the room channel.

mod common;

use common::class::{BEA, Class, class, next_of, open};
use common::http::{Resp, call_as, try_raw_with};
use common::{TestServer, db};
use serde_json::{Value, json};
use signaling::config::Limits;

const PDF: &[u8] = b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n%%EOF\n";
const PNG: &[u8] =
    b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89";

async fn upload(
    s: &TestServer,
    c: &Class,
    token: &str,
    device: Option<&str>,
    query: &str,
    bytes: &[u8],
) -> Resp {
    let auth = format!("Bearer {token}");
    let mut headers = vec![("Authorization", auth.as_str())];
    if let Some(d) = device {
        headers.push(("X-Cohort-Device", d));
    }
    let path = format!("/api/v1/rooms/{}/board/files?{query}", c.id);
    try_raw_with(
        s.addr,
        "POST",
        &path,
        &headers,
        Some("application/octet-stream"),
        bytes,
    )
    .await
    .expect("a response")
}

async fn download(s: &TestServer, path: &str, token: Option<&str>) -> Resp {
    let auth = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = auth.iter().map(|a| ("Authorization", a.as_str())).collect();
    try_raw_with(s.addr, "GET", path, &headers, None, b"")
        .await
        .expect("a response")
}

fn stored_files(s: &TestServer) -> usize {
    std::fs::read_dir(&s.data_dir)
        .map(|d| d.count())
        .unwrap_or(0)
}

fn titles(board: &Value) -> Vec<String> {
    board["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["title"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn links_and_notes_are_shared_ordered_and_only_their_authors_or_hosts_change_them() {
    let s = TestServer::start_api(&db::sqlite_url(), (46500, 46509)).await;
    let c = class(&s, json!({})).await;
    let board = format!("/api/v1/rooms/{}/board", c.id);
    let (mut home, _) = open(&s, &c.slug, &c.shared, Some(BEA), Some("Bea")).await;

    let link = json!({"kind": "link", "title": "Khan Academy: photosynthesis", "url": "https://www.khanacademy.org/science/biology"});
    let r = call_as(s.addr, "POST", &board, &c.ada, None, Some(link)).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let link = r.json();
    assert_eq!(link["author_name"], "Ada");
    assert_eq!(
        next_of(&mut home, "board_item").await["item"]["id"],
        link["id"],
        "announced live"
    );

    for bad in [
        "javascript:alert(document.cookie)",
        "JAVASCRIPT:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "file:///etc/passwd",
        "https://user:pw@example.org/",
    ] {
        let r = call_as(
            s.addr,
            "POST",
            &board,
            &c.ada,
            None,
            Some(json!({"kind": "link", "title": "x", "url": bad})),
        )
        .await;
        assert_eq!(r.problem_fields(422), ["url"], "{bad}");
    }
    let note = json!({"kind": "text", "title": "Agenda", "body": "# Week 3\n- read ch. 3\n<script>x</script>", "author": "Bea"});
    let r = call_as(s.addr, "POST", &board, &c.shared, Some(BEA), Some(note)).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let note = r.json();
    assert_eq!(
        note["body"], "# Week 3\n- read ch. 3\n<script>x</script>",
        "kept as typed; clients show it as text"
    );
    let r = call_as(
        s.addr,
        "POST",
        &board,
        &c.shared,
        Some(BEA),
        Some(json!({"kind": "text", "title": "x", "author": "Bea"})),
    )
    .await;
    assert_eq!(r.problem_fields(422), ["body"]);
    let r = call_as(
        s.addr,
        "POST",
        &board,
        &c.shared,
        Some(BEA),
        Some(json!({"kind": "text", "title": "x", "body": "y"})),
    )
    .await;
    assert_eq!(
        r.problem_fields(422),
        ["author"],
        "a guest signs what it shares"
    );

    // Pin the note, then move the link to the top: pinned items stay first.
    let note_path = format!("{board}/{}", note["id"].as_str().unwrap());
    let link_path = format!("{board}/{}", link["id"].as_str().unwrap());
    let r = call_as(
        s.addr,
        "PATCH",
        &note_path,
        &c.shared,
        Some(BEA),
        Some(json!({"pinned": true})),
    )
    .await;
    assert_eq!(r.json()["pinned"], true);
    let listed = call_as(s.addr, "GET", &board, &c.ada, None, None)
        .await
        .json();
    assert_eq!(titles(&listed), ["Agenda", "Khan Academy: photosynthesis"]);

    // Nobody changes another's item but a host; the author does.
    let r = call_as(
        s.addr,
        "PATCH",
        &link_path,
        &c.shared,
        Some(BEA),
        Some(json!({"title": "mine now"})),
    )
    .await;
    assert_eq!(r.status, 403);
    let r = call_as(s.addr, "DELETE", &link_path, &c.shared, Some(BEA), None).await;
    assert_eq!(r.status, 403);
    let r = call_as(
        s.addr,
        "PATCH",
        &link_path,
        &c.ada,
        None,
        Some(json!({"title": "Photosynthesis videos", "meeting": "2026-03-03T17:00:00Z"})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.json()["meeting"],
        "2026-03-03T18:00:00+01:00",
        "kept in the room's zone"
    );
    let r = call_as(
        s.addr,
        "PATCH",
        &link_path,
        &c.ada,
        None,
        Some(json!({"body": "x"})),
    )
    .await;
    assert_eq!(r.problem_fields(422), ["body"]);
    let r = call_as(
        s.addr,
        "DELETE",
        &note_path,
        &c.host,
        Some("hal-device-0001"),
        None,
    )
    .await;
    assert_eq!(r.status, 204);
    loop {
        let v = next_of(&mut home, "board_removed").await;
        if v["id"] == note["id"] {
            break;
        }
    }
    let listed = call_as(s.addr, "GET", &board, &c.ada, None, None)
        .await
        .json();
    assert_eq!(titles(&listed), ["Photosynthesis videos"]);
    let r = call_as(s.addr, "GET", &board, "not-a-token.x.y", None, None).await;
    assert_eq!(r.status, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_are_typed_by_their_bytes_and_downloaded_only_as_attachments() {
    let s = TestServer::start_api(&db::sqlite_url(), (46510, 46519)).await;
    let c = class(&s, json!({})).await;
    let r = upload(
        &s,
        &c,
        &c.ada,
        None,
        "name=..%2F..%2Fetc%2FWeek%203%20%E2%80%93%20slides.pdf",
        PDF,
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let pdf = r.json();
    assert_eq!(
        pdf["file"]["name"], "Week 3 – slides.pdf",
        "only the last part of the name"
    );
    assert_eq!(pdf["file"]["mime"], "application/pdf");
    assert_eq!(pdf["title"], "Week 3 – slides.pdf");
    // On disk under a random id inside the data directory, nowhere else.
    let names: Vec<String> = std::fs::read_dir(&s.data_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 1);
    assert!(
        names[0].len() == 32 && names[0].bytes().all(|b| b.is_ascii_hexdigit()),
        "{names:?}"
    );

    let path = pdf["file"]["download"].as_str().unwrap().to_owned();
    let r = download(&s, &path, Some(&c.shared)).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, PDF, "byte for byte");
    assert_eq!(r.header("content-type"), Some("application/pdf"));
    assert_eq!(
        r.header("content-disposition"),
        Some(
            "attachment; filename=\"Week 3 _ slides.pdf\"; filename*=UTF-8''Week%203%20%E2%80%93%20slides.pdf"
        )
    );
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(
        r.header("content-security-policy"),
        Some("default-src 'none'; sandbox")
    );
    // A PDF is never shown inline, even when asked; a plain link works with ?t=.
    let r = download(&s, &format!("{path}?inline=1&t={}", c.ada), None).await;
    assert_eq!(r.status, 200);
    assert!(
        r.header("content-disposition")
            .unwrap()
            .starts_with("attachment;")
    );
    assert_eq!(download(&s, &path, None).await.status, 401);
    assert_eq!(
        download(&s, &format!("{path}?t=forged.token.x"), None)
            .await
            .status,
        401
    );

    let r = upload(&s, &c, &c.ada, None, "name=pixel.png", PNG).await;
    let png = r.json();
    assert_eq!(
        (png["file"]["mime"].clone(), png["file"]["inline"].clone()),
        (json!("image/png"), json!(true))
    );
    let r = download(
        &s,
        &format!("{}?inline=1", png["file"]["download"].as_str().unwrap()),
        Some(&c.ada),
    )
    .await;
    assert!(
        r.header("content-disposition")
            .unwrap()
            .starts_with("inline;")
    );
    assert_eq!(
        r.header("content-security-policy"),
        Some("default-src 'none'; sandbox")
    );

    // What is not on the allowlist, or markup dressed as an image or text, is refused.
    let before = stored_files(&s);
    for (name, bytes) in [
        (
            "cat.png",
            &b"<svg xmlns=\"http://www.w3.org/2000/svg\" onload=\"alert(1)\"/>"[..],
        ),
        ("page.txt", b"<!doctype html><script>alert(1)</script>"),
        ("notes.md", b"<html><body>x</body></html>"),
        ("tool.pdf", b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0"),
        ("archive.docx", b"PK\x03\x04\x14\0\0\0\x08\0\0\0!\0"),
    ] {
        let r = upload(&s, &c, &c.ada, None, &format!("name={name}"), bytes).await;
        assert_eq!(r.problem(415)["status"], 415, "{name}");
    }
    for bad in ["name=..", "name=", "name=a%0Ab.pdf"] {
        let r = upload(&s, &c, &c.ada, None, bad, PDF).await;
        assert_eq!(r.problem_fields(422), ["name"], "{bad}");
    }
    let r = upload(&s, &c, &c.shared, Some(BEA), "name=a.pdf", PDF).await;
    assert_eq!(
        r.problem_fields(422),
        ["author"],
        "a guest signs what it shares"
    );
    assert_eq!(stored_files(&s), before, "nothing refused was kept");
    let csv = upload(
        &s,
        &c,
        &c.shared,
        Some(BEA),
        "name=marks.csv&author=Bea&title=Marks",
        b"name,mark\nAda,1\n",
    )
    .await;
    assert_eq!(csv.json()["file"]["mime"], "text/csv; charset=utf-8");

    // Deleting the item removes its file.
    let r = call_as(
        s.addr,
        "DELETE",
        &format!(
            "/api/v1/rooms/{}/board/{}",
            c.id,
            pdf["id"].as_str().unwrap()
        ),
        &c.ada,
        None,
        None,
    )
    .await;
    assert_eq!(r.status, 204);
    assert_eq!(download(&s, &path, Some(&c.ada)).await.status, 404);
    assert_eq!(stored_files(&s), 2);
}

async fn quotas(url: &str, ports: u16) {
    let limits = Limits {
        upload_max_bytes: 1000,
        room_quota_bytes: 2500,
        storage_quota_bytes: 3500,
        ..Limits::default()
    };
    let s = TestServer::start_api_with(url, (ports, ports + 9), limits).await;
    let c = class(&s, json!({})).await;
    let big = b"a,b\n".repeat(300);
    let r = upload(&s, &c, &c.ada, None, "name=big.csv", &big).await;
    assert_eq!(r.problem(413)["detail"], "a file is at most 1 kB");
    let fits = b"a,b\n".repeat(200);
    for i in 0..3 {
        let r = upload(&s, &c, &c.ada, None, &format!("name=part{i}.csv"), &fits).await;
        assert_eq!(r.status, 201, "{i}: {}", r.text());
    }
    let r = upload(&s, &c, &c.ada, None, "name=one-more.csv", &fits).await;
    assert!(
        r.problem(507)["detail"]
            .as_str()
            .unwrap()
            .starts_with("the room's uploads are full")
    );
    assert_eq!(stored_files(&s), 3, "the refused upload left nothing");
    // Another room has its own quota, until the server's is full.
    let other = class(&s, json!({"name": "Other"})).await;
    assert_eq!(
        upload(&s, &other, &other.ada, None, "name=a.csv", &fits)
            .await
            .status,
        201
    );
    let r = upload(&s, &other, &other.ada, None, "name=b.csv", &fits).await;
    assert!(
        r.problem(507)["detail"]
            .as_str()
            .unwrap()
            .starts_with("the server's space")
    );
    assert_eq!(stored_files(&s), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_keep_to_the_file_limit_and_the_quotas() {
    for (i, (name, url)) in db::all().await.into_iter().enumerate() {
        eprintln!("-- quotas on {name}");
        quotas(&url, 46520 + (i as u16) * 10).await;
        eprintln!("-- concurrent uploads on {name}");
        concurrent_uploads(&url, 46680 + (i as u16) * 10).await;
    }
}

/// Six uploads at once into a room with room for two: the quota holds (no 500, no third file),
/// because the check and the write are one transaction at a time.
async fn concurrent_uploads(url: &str, ports: u16) {
    let limits = Limits {
        room_quota_bytes: 1000,
        ..Limits::default()
    };
    let s = std::sync::Arc::new(TestServer::start_api_with(url, (ports, ports + 9), limits).await);
    let c = std::sync::Arc::new(class(&s, json!({})).await);
    let tasks: Vec<_> = (0..6)
        .map(|i| {
            let (s, c) = (s.clone(), c.clone());
            tokio::spawn(async move {
                let bytes = b"a,b\n".repeat(100);
                upload(&s, &c, &c.ada, None, &format!("name=race{i}.csv"), &bytes)
                    .await
                    .status
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    statuses.sort_unstable();
    assert_eq!(
        statuses,
        [201, 201, 507, 507, 507, 507],
        "two of 400 bytes fit in 1000"
    );
    assert_eq!(stored_files(&s), 2, "the refused uploads left nothing");
}

async fn the_room_exports_as_one_zip(s: &TestServer) {
    let c = class(s, json!({})).await;
    let board = format!("/api/v1/rooms/{}/board", c.id);
    let r = call_as(
        s.addr,
        "POST",
        &board,
        &c.ada,
        None,
        Some(json!({"kind": "text", "title": "Agenda", "body": "1. *Cells*"})),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());
    for _ in 0..2 {
        let r = upload(s, &c, &c.ada, None, "name=week3.pdf&title=Slides", PDF).await;
        assert_eq!(r.status, 201, "{}", r.text());
    }
    let chat = format!("/api/v1/rooms/{}/chat", c.id);
    let r = call_as(
        s.addr,
        "POST",
        &chat,
        &c.ada,
        None,
        Some(json!({"text": "See the slides"})),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());

    let export = format!("/api/v1/rooms/{}/export", c.id);
    assert_eq!(
        download(s, &export, Some(&c.ada)).await.status,
        403,
        "participants do not export"
    );
    let r = download(s, &format!("{export}?t={}", c.host), None).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("application/zip"));
    assert!(
        r.header("content-disposition")
            .is_some_and(|d| d.starts_with("attachment; filename=\"room-biology-9-")),
        "{:?}",
        r.header("content-disposition")
    );
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(r.body.clone())).expect("a ZIP file");
    let mut read = |name: &str| {
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut zip.by_name(name).expect(name), &mut out).unwrap();
        out
    };
    assert_eq!(read("files/01-week3.pdf"), PDF, "byte for byte");
    assert_eq!(read("files/02-week3.pdf"), PDF);
    let chat_md = String::from_utf8(read("chat.md")).unwrap();
    assert!(chat_md.contains("See the slides"), "{chat_md}");
    let board_json: Value = serde_json::from_slice(&read("board.json")).unwrap();
    assert_eq!(board_json.as_array().unwrap().len(), 3);
    let room: Value = serde_json::from_slice(&read("room.json")).unwrap();
    assert_eq!(room["id"], c.id);
    assert!(
        !String::from_utf8_lossy(&read("room.json")).contains("secret"),
        "no invite key in the export"
    );
    assert!(
        String::from_utf8(read("board.md"))
            .unwrap()
            .contains("File: `files/01-week3.pdf`")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_room_exports_its_chat_board_and_files_as_one_zip() {
    for (i, (name, url)) in db::all().await.into_iter().enumerate() {
        let base = 46660 + (i as u16) * 10;
        let server = TestServer::start_api(&url, (base, base + 9)).await;
        eprintln!("-- on {name}");
        the_room_exports_as_one_zip(&server).await;
    }
}
