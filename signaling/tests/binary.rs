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
    async fn start(extra: &[&str]) -> Server {
        // A port the OS just handed out and released: free unless something races for it.
        let addr = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port");
        let child = Command::new(env!("CARGO_BIN_EXE_cohort"))
            .args(["--http", &addr.to_string(), "--log-level", "warn"])
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
