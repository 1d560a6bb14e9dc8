//! A Cohort server in-process on port 0, for integration tests.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use sfu::{Sfu, SfuConfig};
use signaling::config::Limits;
use signaling::{AppState, app};
use tokio::net::TcpListener;

pub struct TestServer {
    pub addr: SocketAddr,
    pub sfu: Sfu,
}

impl TestServer {
    /// Starts a server whose media ports come from `ports`; each test uses its own range.
    pub async fn start(ports: (u16, u16)) -> TestServer {
        Self::start_with(
            SfuConfig {
                udp_ports: ports,
                ..SfuConfig::default()
            },
            Limits::default(),
        )
        .await
    }

    pub async fn start_with(cfg: SfuConfig, limits: Limits) -> TestServer {
        let sfu = Sfu::new(cfg);
        let state = AppState::new(sfu.clone(), limits);
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind port 0");
        let addr = listener.local_addr().expect("local addr");
        tokio::spawn(async move {
            axum::serve(listener, app(state)).await.expect("serve");
        });
        TestServer { addr, sfu }
    }

    pub fn ws_url(&self) -> String {
        format!("ws://{}/api/v1/rtc", self.addr)
    }
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

/// Logs to the test output when `RUST_LOG` is set.
pub fn init_tracing() {
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
    }
}
