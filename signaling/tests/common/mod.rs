//! A Cohort server in-process on port 0, for integration tests.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use sfu::{Sfu, SfuConfig};
use signaling::config::Limits;
use signaling::ratelimit::Rate;
use signaling::serve::ConnLimits;
use signaling::store::Store;
use signaling::{AppState, Settings, app};
use tokio::net::TcpListener;

pub mod class;
pub mod db;
pub mod http;
pub mod notes;
pub mod python;
pub mod routes;

/// The admin key of every in-process test server.
pub const ADMIN_KEY: &str = "ck_test_admin_key_0123456789abcdef";

/// The media settings of a test server given its port range: one engine, on the range's
/// first port (a test that wants more engines sets them, on the ports that follow).
pub fn media_config(ports: (u16, u16)) -> SfuConfig {
    SfuConfig {
        udp_port: ports.0,
        engines: 1,
        ..SfuConfig::default()
    }
}

pub struct TestServer {
    pub addr: SocketAddr,
    pub sfu: Sfu,
    pub store: Store,
    /// Where its uploads go.
    pub data_dir: std::path::PathBuf,
    /// Its open shared-notes documents.
    pub notes: std::sync::Arc<signaling::notes::service::Notes>,
}

impl TestServer {
    /// Starts a server whose media ports come from `ports`; each test uses its own range (see
    /// [`media_config`]).
    pub async fn start(ports: (u16, u16)) -> TestServer {
        Self::start_with(media_config(ports), Limits::default()).await
    }

    /// A server whose rooms need no invite (`--open-rooms`), on a fresh SQLite file.
    pub async fn start_with(cfg: SfuConfig, limits: Limits) -> TestServer {
        Self::serve(cfg, limits, &db::sqlite_url(), true, (Rate::OFF, Rate::OFF)).await
    }

    /// A server as deployed: rooms need invites; its database is at `db_url`. No rate limits.
    pub async fn start_api(db_url: &str, ports: (u16, u16)) -> TestServer {
        Self::start_limited(db_url, ports, Rate::OFF, Rate::OFF).await
    }

    /// [`TestServer::start_api`] with these limits.
    pub async fn start_api_with(db_url: &str, ports: (u16, u16), limits: Limits) -> TestServer {
        let cfg = media_config(ports);
        Self::serve(cfg, limits, db_url, false, (Rate::OFF, Rate::OFF)).await
    }

    /// [`TestServer::start_api`] with these API and join rate limits.
    pub async fn start_limited(
        db_url: &str,
        ports: (u16, u16),
        api: Rate,
        join: Rate,
    ) -> TestServer {
        let cfg = media_config(ports);
        Self::serve(cfg, Limits::default(), db_url, false, (api, join)).await
    }

    async fn serve(
        cfg: SfuConfig,
        limits: Limits,
        db_url: &str,
        open_rooms: bool,
        (api_rate, join_rate): (Rate, Rate),
    ) -> TestServer {
        Self::serve_tweaked(
            cfg,
            limits,
            db_url,
            open_rooms,
            (api_rate, join_rate),
            |_| {},
            ConnLimits::default(),
        )
        .await
    }

    /// A server with open rooms whose settings `tweak` adjusts.
    pub async fn start_tweaked(ports: (u16, u16), tweak: impl FnOnce(&mut Settings)) -> TestServer {
        let cfg = media_config(ports);
        let rates = (Rate::OFF, Rate::OFF);
        Self::serve_tweaked(
            cfg,
            Limits::default(),
            &db::sqlite_url(),
            true,
            rates,
            tweak,
            ConnLimits::default(),
        )
        .await
    }

    /// A server as deployed (invites needed, no rate limits) whose HTTP listener has `conn`.
    pub async fn start_with_conn_limits(
        db_url: &str,
        ports: (u16, u16),
        conn: ConnLimits,
    ) -> TestServer {
        let cfg = media_config(ports);
        let rates = (Rate::OFF, Rate::OFF);
        Self::serve_tweaked(cfg, Limits::default(), db_url, false, rates, |_| {}, conn).await
    }

    #[allow(clippy::too_many_arguments)]
    async fn serve_tweaked(
        cfg: SfuConfig,
        limits: Limits,
        db_url: &str,
        open_rooms: bool,
        (api_rate, join_rate): (Rate, Rate),
        tweak: impl FnOnce(&mut Settings),
        conn: ConnLimits,
    ) -> TestServer {
        let store = Store::connect(db_url).await.expect("database");
        signaling::api::keys::bootstrap_admin_key(&store, Some(ADMIN_KEY))
            .await
            .expect("admin key");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind port 0");
        let addr = listener.local_addr().expect("local addr");
        let mut settings = Settings {
            public_url: format!("http://{addr}"),
            open_rooms,
            max_capacity: cfg.max_participants_per_room as i64,
            api_rate,
            join_rate,
            metrics_room_cap: 100,
            metrics_token: None,
            metrics_elsewhere: false,
            data_dir: std::env::temp_dir()
                .join("cohort-tests")
                .join(format!("files-{}", uuid::Uuid::new_v4().simple())),
            session_hours: 12,
        };
        tweak(&mut settings);
        let data_dir = settings.data_dir.clone();
        let sfu = Sfu::new(cfg).expect("the test's media port is free");
        let state = AppState::new(sfu.clone(), store.clone(), settings, limits);
        let notes = state.notes.clone();
        tokio::spawn(async move {
            let stop = std::future::pending();
            signaling::serve::serve(listener, app(state), conn, stop, Duration::ZERO)
                .await
                .expect("serve");
        });
        TestServer {
            addr,
            sfu,
            store,
            data_dir,
            notes,
        }
    }

    pub fn ws_url(&self) -> String {
        format!("ws://{}/api/v1/rtc", self.addr)
    }
}

/// For a tool or service a test needs but this machine lacks: fails under CI (which installs
/// everything), otherwise says what does not run here.
pub fn missing_outside_ci(what: &str, how: &str) {
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "CI needs {what}: {how}"
    );
    eprintln!("note: {what} is missing here, so that part does not run ({how})");
}

/// Polls `check` until it holds or `timeout` passes; returns whether it held.
pub async fn eventually(timeout: Duration, mut check: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    loop {
        if check() {
            return true;
        }
        if start.elapsed() > timeout {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Logs go to the test's captured output, shown only when it fails: our crates' warnings by
/// default, or whatever `RUST_LOG` asks for.
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new("sfu=warn,signaling=warn,loadtest=warn")
    });
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_test_writer()
        .try_init();
}

/// A bare WebSocket client, for feeding the server exactly what a test wants.
pub mod raw {
    use std::time::Duration;

    use futures::{SinkExt, StreamExt};
    use tokio::net::TcpStream;
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

    pub struct Raw {
        pub ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    }

    /// What the server did next.
    #[derive(Debug, PartialEq)]
    pub enum Next {
        Json(serde_json::Value),
        Closed(Option<u16>),
        Timeout,
    }

    impl Raw {
        pub async fn connect(url: &str) -> Raw {
            let (ws, _) = tokio_tungstenite::connect_async(url)
                .await
                .expect("connect");
            Raw { ws }
        }

        pub async fn send_text(&mut self, text: &str) {
            self.ws
                .send(Message::Text(text.to_owned().into()))
                .await
                .expect("send");
        }

        pub async fn send_json(&mut self, v: serde_json::Value) {
            self.send_text(&v.to_string()).await;
        }

        /// The next JSON message or close, skipping pings.
        pub async fn next(&mut self) -> Next {
            loop {
                let msg = match tokio::time::timeout(Duration::from_secs(5), self.ws.next()).await {
                    Err(_) => return Next::Timeout,
                    Ok(None) => return Next::Closed(None),
                    Ok(Some(Err(_))) => return Next::Closed(None),
                    Ok(Some(Ok(m))) => m,
                };
                match msg {
                    Message::Text(t) => {
                        return Next::Json(serde_json::from_str(&t).expect("server sends JSON"));
                    }
                    Message::Close(frame) => return Next::Closed(frame.map(|f| u16::from(f.code))),
                    _ => continue,
                }
            }
        }

        /// The next message, which must be an error with this code.
        pub async fn expect_error(&mut self, code: &str) {
            match self.next().await {
                Next::Json(v) if v["type"] == "error" && v["code"] == code => {
                    assert!(v["message"].as_str().is_some_and(|m| !m.is_empty()));
                }
                other => panic!("expected error {code}, got {other:?}"),
            }
        }

        /// Joins `room`; panics unless the server says `joined`.
        pub async fn join(&mut self, room: &str) -> serde_json::Value {
            self.send_json(serde_json::json!({"type":"join","v":1,"room":room,"name":"raw"}))
                .await;
            match self.next().await {
                Next::Json(v) if v["type"] == "joined" => v,
                other => panic!("expected joined, got {other:?}"),
            }
        }

        /// Sends a join for `room` with `token`; returns what the server answered.
        pub async fn try_join(&mut self, room: &str, token: Option<&str>) -> serde_json::Value {
            let mut join = serde_json::json!({"type":"join","v":1,"room":room,"name":"raw"});
            if let Some(t) = token {
                join["token"] = t.into();
            }
            self.send_json(join).await;
            match self.next().await {
                Next::Json(v) => v,
                other => panic!("expected an answer to join, got {other:?}"),
            }
        }

        /// Checks the connection still answers. A joined participant may be told how the
        /// room's connections look at any moment (`connection_quality`, once a second at most);
        /// that is not the answer, and is passed over.
        pub async fn assert_alive(&mut self) {
            self.send_json(serde_json::json!({"type":"ping","ts":7}))
                .await;
            let mut next = self.next().await;
            while matches!(&next, Next::Json(v) if v["type"] == "connection_quality") {
                next = self.next().await;
            }
            assert_eq!(next, Next::Json(serde_json::json!({"type":"pong","ts":7})));
        }
    }
}

/// The status code of a plain HTTP GET.
pub async fn http_status(addr: SocketAddr, path: &str) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let req = format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.expect("write");
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.expect("read");
    let text = String::from_utf8_lossy(&buf);
    text.split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("a status line")
}
