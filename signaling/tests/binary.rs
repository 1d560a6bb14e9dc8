//! The `cohort` binary itself: flags, readiness, and draining on SIGTERM.

mod common;

use std::net::{SocketAddr, TcpListener};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::http_status;
use common::raw::{Next, Raw};

struct Server {
    child: Child,
    addr: SocketAddr,
}

impl Server {
    /// A server with rooms open to all, on a fresh SQLite file.
    async fn start(extra: &[&str]) -> Server {
        let db = common::db::sqlite_url();
        let mut args = vec!["--open-rooms", "--db", &db];
        args.extend_from_slice(extra);
        Self::start_on(&args).await
    }

    async fn start_on(extra: &[&str]) -> Server {
        Self::spawn(extra, None).await
    }

    /// Starts cohort with `extra` flags, under an open-file limit of `fds` (soft and hard) if
    /// given.
    async fn spawn(extra: &[&str], fds: Option<u64>) -> Server {
        // A port the OS just handed out and released: free unless something races for it.
        let addr = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port");
        let mut command = Command::new(env!("CARGO_BIN_EXE_cohort"));
        if let Some(fds) = fds {
            use std::os::unix::process::CommandExt;
            let limit = libc::rlimit {
                rlim_cur: fds,
                rlim_max: fds,
            };
            // SAFETY: setrlimit is async-signal-safe and touches only the child's limits.
            unsafe {
                command.pre_exec(move || {
                    if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) == 0 {
                        Ok(())
                    } else {
                        Err(std::io::Error::last_os_error())
                    }
                });
            }
        }
        let child = command
            .args([
                "--http",
                &addr.to_string(),
                "--log-level",
                "warn",
                "--no-demo",
            ])
            .args(["--admin-key", common::ADMIN_KEY, "--api-rate", "0"])
            // Servers of their own ports, unless the test names them: several run at once.
            .args(if extra.contains(&"--udp-port") {
                &[][..]
            } else {
                &["--udp-port", "0"][..]
            })
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cohort starts");
        let start = Instant::now();
        while tokio::net::TcpStream::connect(addr).await.is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "cohort never listened"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Server { child, addr }
    }

    fn signal(&self, sig: &str) {
        let status = Command::new("kill")
            .args([&format!("-{sig}"), &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
    }

    /// Waits for the process to end; its exit code, or None if it outlived `limit`.
    async fn wait(&mut self, limit: Duration) -> Option<i32> {
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status.code();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        None
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_tells_participants_to_leave_and_exits_within_the_deadline() {
    let mut server = Server::start(&["--udp-port", "43000", "--drain-seconds", "5"]).await;
    assert_eq!(http_status(server.addr, "/healthz").await, 200);
    assert_eq!(http_status(server.addr, "/readyz").await, 200);
    let mut raw = Raw::connect(&format!("ws://{}/api/v1/rtc", server.addr)).await;
    raw.join("shutdown").await;
    let lingering = Raw::connect(&format!("ws://{}/api/v1/rtc", server.addr)).await;

    server.signal("TERM");
    match raw.next().await {
        Next::Json(v) => {
            assert_eq!(v["type"], "leave");
            assert_eq!(v["reason"], "server_shutdown");
        }
        other => panic!("expected leave, got {other:?}"),
    }
    assert_eq!(raw.next().await, Next::Closed(Some(1001)));
    // The drain lasts while a session is open (one that never joined, here): the listener stays
    // up, answering health but not readiness, and refusing new signaling connections.
    assert_eq!(http_status(server.addr, "/healthz").await, 200);
    assert_eq!(http_status(server.addr, "/readyz").await, 503);
    match tokio_tungstenite::connect_async(format!("ws://{}/api/v1/rtc", server.addr)).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => assert_eq!(r.status(), 503),
        Err(e) => panic!("expected 503 for a new connection while draining, got {e}"),
        Ok(_) => panic!("a new signaling connection was taken while draining"),
    }
    assert_eq!(server.wait(Duration::from_millis(300)).await, None);
    drop(lingering);
    let code = server.wait(Duration::from_secs(6)).await;
    assert_eq!(
        code,
        Some(0),
        "cohort did not exit cleanly within the drain deadline"
    );
}

/// The campaign's finding: under a 1024 open-file limit, 1100 half-sent requests from one
/// address made `/healthz` stop answering ("Too many open files") until the attacker let go.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_a_1024_file_limit_a_flood_from_one_address_leaves_the_server_answering() {
    let server = Server::spawn(
        &[
            "--open-rooms",
            "--db",
            &common::db::sqlite_url(),
            "--udp-port",
            "43060",
        ],
        Some(1024),
    )
    .await;
    let mut flood = Vec::new();
    let mut refused = 0;
    for _ in 0..1100 {
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket
            .bind("127.0.0.2:0".parse().expect("address"))
            .expect("bind 127.0.0.2");
        let Ok(mut c) = socket.connect(server.addr).await else {
            refused += 1;
            continue;
        };
        use tokio::io::AsyncWriteExt;
        if c.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            .await
            .is_err()
        {
            refused += 1;
        }
        flood.push(c);
    }
    // Every connection past the per-address cap was answered 503 and closed at once.
    let mut told = 0;
    for c in &mut flood {
        use tokio::io::AsyncReadExt;
        let mut buf = [0u8; 64];
        if let Ok(Ok(n)) = tokio::time::timeout(Duration::from_millis(5), c.read(&mut buf)).await
            && buf[..n].starts_with(b"HTTP/1.1 503")
        {
            told += 1;
        }
    }
    assert!(
        told + refused >= 1100 - 256,
        "told {told}, refused {refused}"
    );
    // The server still answers everyone else, and still takes a signaling connection.
    assert_eq!(http_status(server.addr, "/healthz").await, 200);
    let mut raw = Raw::connect(&format!("ws://{}/api/v1/rtc", server.addr)).await;
    raw.join("still-here").await;
    drop(flood);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_server_on_the_same_sqlite_file_refuses_to_start() {
    let db = common::db::sqlite_url();
    let first = Server::start_on(&["--db", &db, "--udp-port", "43070"]).await;
    let out = Command::new(env!("CARGO_BIN_EXE_cohort"))
        .args(["--http", "127.0.0.1:0", "--db", &db, "--no-demo"])
        .args(["--admin-key", common::ADMIN_KEY])
        .output()
        .expect("cohort runs");
    assert!(!out.status.success(), "a second server started on {db}");
    let err = String::from_utf8_lossy(&out.stderr);
    let pid = first.child.id().to_string();
    assert!(
        err.contains("another Cohort") && err.contains(&pid),
        "{err}"
    );
    // The first one is unaffected.
    assert_eq!(http_status(first.addr, "/healthz").await, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nonsensical_flags_are_refused_with_a_clear_message() {
    for args in [
        &["--udp-port", "65536"][..],
        &["--udp-port", "many"][..],
        &["--udp-port", "65535", "--engines", "2"][..],
        &["--http", "not-an-address"][..],
        &["--log-format", "xml"][..],
        &["--max-participants", "0"][..],
        &["--message-rate", "0"][..],
        &["--max-connections-per-ip", "0"][..],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_cohort"))
            .args(args)
            .output()
            .expect("cohort runs");
        assert!(!out.status.success(), "{args:?} was accepted");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(args[0]), "{args:?}: {err}");
    }
}

/// A new room and an invite to it with `role`: its id and the invite's token.
async fn room_with_invite(addr: SocketAddr, role: &str) -> (String, String) {
    let admin = Some(common::ADMIN_KEY);
    let room = serde_json::json!({"name": "Kept", "time_zone": "UTC"});
    let room = common::http::call(addr, "POST", "/api/v1/rooms", admin, Some(room))
        .await
        .json();
    let id = room["id"].as_str().expect("room id").to_owned();
    let path = format!("/api/v1/rooms/{id}/invites");
    let body = serde_json::json!({ "role": role });
    let invite = common::http::call(addr, "POST", &path, admin, Some(body))
        .await
        .json();
    (id, invite["token"].as_str().expect("token").to_owned())
}

/// One write of a burst: where it goes, with which `Authorization`, and what it says.
struct Write {
    path: String,
    auth: String,
    device: String,
    body: serde_json::Value,
}

/// Posts what `write(writer, n)` makes from `writers` concurrent clients until the server dies;
/// the ids of every write that was acknowledged (201). `acks` counts them as they come.
fn write_until_killed(
    addr: SocketAddr,
    writers: usize,
    acks: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    write: fn(usize, usize, &str) -> Write,
    ctx: String,
) -> Vec<tokio::task::JoinHandle<Vec<String>>> {
    (0..writers)
        .map(|w| {
            let (acks, ctx) = (acks.clone(), ctx.clone());
            tokio::spawn(async move {
                let mut acked = Vec::new();
                for i in 0..2000 {
                    let one = write(w, i, &ctx);
                    let bytes = one.body.to_string().into_bytes();
                    let headers = [
                        ("Authorization", one.auth.as_str()),
                        ("X-Cohort-Device", one.device.as_str()),
                    ];
                    let json = Some("application/json");
                    let r =
                        common::http::try_raw_with(addr, "POST", &one.path, &headers, json, &bytes)
                            .await;
                    match r {
                        Some(r) if r.status == 201 => {
                            acked.push(r.json()["id"].as_str().unwrap_or_default().to_owned());
                            acks.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        }
                        Some(r) => panic!("write refused: {} {}", r.status, r.text()),
                        None => break,
                    }
                }
                acked
            })
        })
        .collect()
}

/// Writes with `writers` clients, kills the server with SIGKILL in the middle of the burst once
/// some writes are through (counted, not timed: a busy machine writes fewer in a given time),
/// and returns the acknowledged ids.
async fn kill_mid_burst(
    name: &str,
    server: &mut Server,
    write: fn(usize, usize, &str) -> Write,
    ctx: String,
) -> Vec<String> {
    let acks = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let writers = write_until_killed(server.addr, 4, acks.clone(), write, ctx);
    let through = common::eventually(Duration::from_secs(30), || {
        acks.load(std::sync::atomic::Ordering::Relaxed) >= 40
    })
    .await;
    assert!(through, "{name}: fewer than 40 writes in 30 s");
    server.child.kill().expect("SIGKILL");
    let _ = server.child.wait();
    let mut acked = Vec::new();
    for w in writers {
        acked.extend(w.await.expect("writer"));
    }
    assert!(
        acked.len() >= 20,
        "only {} writes before the kill",
        acked.len()
    );
    eprintln!("{name}: {} acknowledged writes before kill -9", acked.len());
    acked
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_write_survives_kill_9() {
    fn room(w: usize, i: usize, _: &str) -> Write {
        Write {
            path: "/api/v1/rooms".into(),
            auth: format!("Bearer {}", common::ADMIN_KEY),
            device: String::new(),
            body: serde_json::json!({"name": format!("w{w} n{i}"), "time_zone": "UTC"}),
        }
    }
    for (name, db) in common::db::all().await {
        let mut server = Server::start_on(&["--db", &db]).await;
        let acked = kill_mid_burst(name, &mut server, room, String::new()).await;
        let restarted = Server::start_on(&["--db", &db]).await;
        for id in &acked {
            let r = common::http::call(
                restarted.addr,
                "GET",
                &format!("/api/v1/rooms/{id}"),
                Some(common::ADMIN_KEY),
                None,
            )
            .await;
            assert_eq!(
                r.status,
                200,
                "{name}: acknowledged room {id} lost: {}",
                r.text()
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_chat_message_and_board_item_survives_kill_9() {
    // `ctx`: the room's id and a guest invite, as "id token". Even writers chat, odd ones share
    // notes on the board.
    fn message(w: usize, i: usize, ctx: &str) -> Write {
        let (id, token) = ctx.split_once(' ').expect("id and token");
        let (path, body) = if w.is_multiple_of(2) {
            (
                format!("/api/v1/rooms/{id}/chat"),
                serde_json::json!({"text": format!("w{w} n{i}"), "name": format!("Writer {w}")}),
            )
        } else {
            (
                format!("/api/v1/rooms/{id}/board"),
                serde_json::json!({"kind": "text", "title": format!("w{w} n{i}"),
                    "body": "A note", "author": format!("Writer {w}")}),
            )
        };
        Write {
            path,
            auth: format!("Bearer {token}"),
            device: format!("writer-device-{w}"),
            body,
        }
    }
    for (name, db) in common::db::all().await {
        let flags = ["--db", db.as_str(), "--chat-rate", "0"];
        let mut server = Server::start_on(&flags).await;
        let admin = Some(common::ADMIN_KEY);
        let (id, token) = room_with_invite(server.addr, "participant").await;
        let acked = kill_mid_burst(name, &mut server, message, format!("{id} {token}")).await;

        let restarted = Server::start_on(&flags).await;
        let mut kept = std::collections::HashSet::new();
        let mut path = format!("/api/v1/rooms/{id}/chat?limit=200");
        loop {
            let page = common::http::call(restarted.addr, "GET", &path, admin, None)
                .await
                .json();
            let messages = page["messages"].as_array().expect("messages").clone();
            kept.extend(
                messages
                    .iter()
                    .map(|m| m["id"].as_str().unwrap_or_default().to_owned()),
            );
            if page["more"] != true {
                break;
            }
            path = format!(
                "/api/v1/rooms/{id}/chat?limit=200&before={}",
                messages[0]["id"].as_str().unwrap_or_default()
            );
        }
        let board = common::http::call(
            restarted.addr,
            "GET",
            &format!("/api/v1/rooms/{id}/board"),
            admin,
            None,
        )
        .await
        .json();
        let items = board["items"].as_array().expect("items").clone();
        kept.extend(
            items
                .iter()
                .map(|i| i["id"].as_str().unwrap_or_default().to_owned()),
        );
        assert!(!items.is_empty(), "{name}: some board items were written");
        for m in &acked {
            assert!(
                kept.contains(m),
                "{name}: acknowledged message or item {m} lost"
            );
        }
    }
}

/// Starts `cohort` as a newcomer would (no key given, the demo on) and returns it with every
/// line it printed up to and including the demo link.
async fn start_as_newcomer(db: &str, ports: &str) -> (Server, Vec<String>) {
    use std::io::{BufRead, BufReader};
    let addr = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port");
    let mut child = Command::new(env!("CARGO_BIN_EXE_cohort"))
        .args(["--http", &addr.to_string(), "--db", db, "--udp-port", ports])
        .args(["--log-level", "warn"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("cohort starts");
    let stdout = child.stdout.take().expect("piped stdout");
    let server = Server { child, addr };
    let read = tokio::task::spawn_blocking(move || {
        let mut lines = Vec::new();
        for line in BufReader::new(stdout).lines().take(20) {
            let line = line.unwrap_or_default();
            let done = line.contains("Try a room: ");
            lines.push(line);
            if done {
                break;
            }
        }
        lines
    });
    let lines = tokio::time::timeout(Duration::from_secs(15), read)
        .await
        .expect("cohort printed its link in time")
        .expect("reader");
    (server, lines)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_run_prints_a_key_and_a_demo_link_that_lets_you_in() {
    let db = common::db::sqlite_url();
    let (server, lines) = start_as_newcomer(&db, "43100").await;
    let key_at = lines
        .iter()
        .position(|l| l.contains("shown only this once"))
        .expect("the first run announces a key");
    let key = lines[key_at + 1].trim().to_owned();
    assert!(key.starts_with("ck_") && key.len() > 40, "{key}");
    let link = lines
        .last()
        .and_then(|l| l.split("Try a room: ").nth(1))
        .expect("a demo link")
        .trim()
        .to_owned();

    // The key is an admin key.
    let keys = common::http::call(server.addr, "GET", "/api/v1/keys", Some(&key), None).await;
    assert_eq!(keys.status, 200, "{}", keys.text());
    // The link is this server's demo room with an invite that lets you in.
    let prefix = format!("http://{}/r/", server.addr);
    let rest = link
        .strip_prefix(&prefix)
        .expect("a link to this server's room page");
    let (slug, token) = rest.split_once("?t=").expect("the link carries an invite");
    let mut raw = Raw::connect(&format!("ws://{}/api/v1/rtc", server.addr)).await;
    let answer = raw.try_join(slug, Some(token)).await;
    assert_eq!(answer["type"], "joined", "{answer}");
    drop(raw);
    drop(server);

    // The key is shown once: a second start on the same database prints only the link.
    let (_again, lines) = start_as_newcomer(&db, "43150").await;
    assert!(!lines.iter().any(|l| l.contains("ck_")), "{lines:?}");
    assert!(lines.last().is_some_and(|l| l.contains("Try a room: ")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_can_live_on_a_listener_of_their_own() {
    let metrics_addr = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port");
    let addr = metrics_addr.to_string();
    let server = Server::start(&["--udp-port", "43200", "--metrics-addr", &addr]).await;
    let start = Instant::now();
    while tokio::net::TcpStream::connect(metrics_addr).await.is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "metrics never listened"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(http_status(metrics_addr, "/metrics").await, 200);
    // Not on the main listener then.
    assert_eq!(http_status(server.addr, "/metrics").await, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_notes_update_another_client_received_survives_kill_9() {
    use common::notes::{NoteClient, url};
    for (name, db) in common::db::all().await {
        let flags = ["--db", db.as_str(), "--notes-update-rate", "500"];
        let mut server = Server::start_on(&flags).await;
        let (id, token) = room_with_invite(server.addr, "host").await;
        let u = url(server.addr, &id, "room", &token);
        let mut writer = NoteClient::synced(&u).await;
        let mut reader = NoteClient::synced(&u).await;
        // Ada types a line every few milliseconds until the server is gone.
        let typing = tokio::spawn(async move {
            for i in 0..5000 {
                writer.type_text(&format!("line {i}\n")).await;
                tokio::time::sleep(Duration::from_millis(3)).await;
            }
        });
        let lines = |c: &NoteClient| c.text().lines().count();
        let enough = reader
            .pump_until(Duration::from_secs(30), |r| lines(r) >= 40)
            .await;
        assert!(
            enough,
            "{name}: the reader received {} lines",
            lines(&reader)
        );
        server.child.kill().expect("SIGKILL");
        let _ = server.child.wait();
        // Whatever was still on its way to the reader is read, up to the connection's end.
        reader
            .pump_until(Duration::from_secs(2), |r| r.closed.is_some())
            .await;
        typing.abort();
        let received = reader.text();
        let restarted = Server::start_on(&flags).await;
        let fresh = NoteClient::synced(&url(restarted.addr, &id, "room", &token)).await;
        let kept = fresh.text();
        for line in received.lines() {
            assert!(
                kept.contains(line),
                "{name}: {line:?}, received before kill -9, lost"
            );
        }
        eprintln!(
            "{name}: {} lines received before kill -9, {} kept",
            received.lines().count(),
            kept.lines().count()
        );
    }
}
