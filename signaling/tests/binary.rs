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
        // A port the OS just handed out and released: free unless something races for it.
        let addr = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port");
        let child = Command::new(env!("CARGO_BIN_EXE_cohort"))
            .args([
                "--http",
                &addr.to_string(),
                "--log-level",
                "warn",
                "--no-demo",
            ])
            .args(["--admin-key", common::ADMIN_KEY, "--api-rate", "0"])
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
    let mut server = Server::start(&["--udp-ports", "43000-43049", "--drain-seconds", "5"]).await;
    assert_eq!(http_status(server.addr, "/healthz").await, 200);
    assert_eq!(http_status(server.addr, "/readyz").await, 200);
    let mut raw = Raw::connect(&format!("ws://{}/api/v1/rtc", server.addr)).await;
    raw.join("shutdown").await;

    server.signal("TERM");
    match raw.next().await {
        Next::Json(v) => {
            assert_eq!(v["type"], "leave");
            assert_eq!(v["reason"], "server_shutdown");
        }
        other => panic!("expected leave, got {other:?}"),
    }
    assert_eq!(raw.next().await, Next::Closed(Some(1001)));
    let code = server.wait(Duration::from_secs(6)).await;
    assert_eq!(
        code,
        Some(0),
        "cohort did not exit cleanly within the drain deadline"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nonsensical_flags_are_refused_with_a_clear_message() {
    for args in [
        &["--udp-ports", "9-1"][..],
        &["--udp-ports", "many"][..],
        &["--http", "not-an-address"][..],
        &["--log-format", "xml"][..],
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

/// Posts rooms from `writers` concurrent clients until the server dies; the ids of every room
/// whose creation was acknowledged (201).
async fn write_until_killed(
    addr: SocketAddr,
    writers: usize,
) -> Vec<tokio::task::JoinHandle<Vec<String>>> {
    (0..writers)
        .map(|w| {
            tokio::spawn(async move {
                let mut acked = Vec::new();
                for i in 0..2000 {
                    let body =
                        serde_json::json!({"name": format!("w{w} n{i}"), "time_zone": "UTC"});
                    let bytes = body.to_string().into_bytes();
                    let key = Some(common::ADMIN_KEY);
                    let json = Some("application/json");
                    let r = common::http::try_raw(addr, "POST", "/api/v1/rooms", key, json, &bytes)
                        .await;
                    match r {
                        Some(r) if r.status == 201 => {
                            acked.push(r.json()["id"].as_str().unwrap_or_default().to_owned());
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_write_survives_kill_9() {
    for (name, db) in common::db::all().await {
        let mut server = Server::start_on(&["--db", &db]).await;
        let writers = write_until_killed(server.addr, 4).await;
        // Kill the server in the middle of the burst, once some writes are through.
        tokio::time::sleep(Duration::from_millis(700)).await;
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

/// Starts `cohort` as a newcomer would (no key given, the demo on) and returns it with every
/// line it printed up to and including the demo link.
async fn start_as_newcomer(db: &str, ports: &str) -> (Server, Vec<String>) {
    use std::io::{BufRead, BufReader};
    let addr = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port");
    let mut child = Command::new(env!("CARGO_BIN_EXE_cohort"))
        .args([
            "--http",
            &addr.to_string(),
            "--db",
            db,
            "--udp-ports",
            ports,
        ])
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
    let (server, lines) = start_as_newcomer(&db, "43100-43149").await;
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
    let (_again, lines) = start_as_newcomer(&db, "43150-43199").await;
    assert!(!lines.iter().any(|l| l.contains("ck_")), "{lines:?}");
    assert!(lines.last().is_some_and(|l| l.contains("Try a room: ")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_can_live_on_a_listener_of_their_own() {
    let metrics_addr = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port");
    let addr = metrics_addr.to_string();
    let server = Server::start(&["--udp-ports", "43200-43249", "--metrics-addr", &addr]).await;
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
