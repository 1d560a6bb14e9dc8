//! The `cohort` binary: parse flags, set up logging, serve, drain on a signal.

use std::time::Duration;

use clap::Parser;
use signaling::api::keys::bootstrap_admin_key;
use signaling::api::rooms::demo_invite;
use signaling::config::{Cli, LogFormat};
use signaling::store::{Store, redact};
use signaling::{AppState, app};
use tokio::net::TcpListener;
use tracing::{error, info, warn};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let filter = EnvFilter::try_new(log_filter(&cli.log_level)).unwrap_or_else(|e| {
        eprintln!("invalid --log-level {:?}: {e}; using info", cli.log_level);
        EnvFilter::new("info")
    });
    match cli.log_format {
        LogFormat::Json => tracing_subscriber::fmt()
            .with_env_filter(filter)
            .json()
            .init(),
        LogFormat::Text => tracing_subscriber::fmt().with_env_filter(filter).init(),
    }
    match serve(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            error!("{e}");
            eprintln!("cohort: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// A bare level (`info`) applies to Cohort; the WebRTC stack's crates, which warn about routine
/// per-connection events, are then held at `error`. A full filter (`sfu=debug,rtc=warn`) is used
/// as given.
fn log_filter(level: &str) -> String {
    if level.contains('=') || level.contains(',') {
        return level.to_owned();
    }
    let quiet = [
        "rtc",
        "rtc_dtls",
        "rtc_ice",
        "rtc_srtp",
        "rtc_sctp",
        "rtc_interceptor",
        "rtc_mdns",
        "webrtc",
    ];
    let caps: Vec<String> = quiet.iter().map(|c| format!("{c}=error")).collect();
    format!("{level},{}", caps.join(","))
}

async fn serve(cli: Cli) -> Result<(), signaling::error::AppError> {
    let fd_limit = signaling::serve::raise_fd_limit();
    // Held until the process ends: a second Cohort on the same SQLite file refuses to start.
    let _db_lock = signaling::store::lock::lock_database(&cli.db)?;
    let store = Store::connect(&cli.db).await?;
    info!(db = %redact(&cli.db), backend = ?store.backend(), "database ready");
    // Attendance left open by a server that died ends at its last heartbeat.
    let closed = store.close_dangling_presence().await?;
    if closed > 0 {
        warn!(
            closed,
            "attendance left open by the last run closed at its last heartbeat"
        );
    }
    if let Some(key) = bootstrap_admin_key(&store, cli.admin_key.as_deref()).await? {
        // Shown once, on the terminal only (never in the logs); only its hash is stored.
        println!("First run: an admin API key was made. It is shown only this once; keep it:");
        println!("  {key}");
        println!("  (use it as: Authorization: Bearer <key>; see docs/api.md)");
    }
    let listener = TcpListener::bind(cli.http).await?;
    let addr = listener.local_addr()?;
    let sfu = sfu::Sfu::new(cli.sfu_config()).map_err(|e| {
        signaling::error::AppError::Config(format!("--udp-port {}: {e}", cli.udp_port))
    })?;
    let mut state = AppState::new(sfu.clone(), store, cli.settings(addr), cli.limits());
    if cli.test_hooks {
        warn!("test hooks are on: POST /test/drop-signaling cuts every connection");
        state = state.with_test_hooks();
    }
    state.files.check().map_err(|e| {
        signaling::error::AppError::Config(format!(
            "--data-dir {}: cannot write there: {e}",
            state.files.dir().display()
        ))
    })?;
    info!(data_dir = %state.files.dir().display(), "uploads kept here");
    signaling::upkeep::spawn(&state);
    signaling::notes::history::spawn(&state);
    let media: Vec<String> = sfu
        .media_addresses()
        .iter()
        .map(|a| a.to_string())
        .collect();
    info!(%addr, media = ?media, "cohort listening");
    if cli.metrics_addr.is_none() && cli.metrics_token.is_none() {
        warn!(
            "/metrics is public: it is served on --http without a token, and shows live room \
             names and load to anyone who reaches {addr}; set --metrics-token or --metrics-addr"
        );
    }
    if let Some(metrics_addr) = cli.metrics_addr {
        let listener = TcpListener::bind(metrics_addr).await?;
        info!(addr = %listener.local_addr()?, "metrics listening");
        let router = signaling::metrics_app(state.clone());
        tokio::spawn(async move {
            if let Err(e) = signaling::serve::serve_forever(listener, router).await {
                error!("metrics listener failed: {e}");
            }
        });
    }
    if cli.no_demo {
        println!("Cohort is running at http://{addr}/");
    } else {
        let invite = demo_invite(&state).await?;
        println!("Cohort is running. Try a room: {}", invite.url);
    }

    let drain_deadline = Duration::from_secs(cli.drain_seconds);
    let metrics = state.metrics.clone();
    // The drain: rooms are closed and joins refused at once, while the listener stays open
    // (health 200, readiness 503) until every signaling session has gone or the deadline.
    let stop = async move {
        wait_for_signal().await;
        warn!("shutting down: draining for at most {drain_deadline:?} (signal again to force)");
        sfu.drain().await;
        tokio::spawn(async move {
            wait_for_signal().await;
            warn!("second signal: exiting now");
            std::process::exit(130);
        });
        let deadline = tokio::time::Instant::now() + drain_deadline;
        while metrics.open_sessions() > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        if metrics.open_sessions() > 0 {
            warn!("drain deadline passed with sessions still open: closing");
        }
    };
    let limits = cli.conn_limits().fit_to_fds(fd_limit, cli.media_fds());
    info!(
        max_connections = limits.max_connections,
        max_per_ip = limits.max_per_ip,
        header_timeout = ?limits.header_timeout,
        "connection limits"
    );
    signaling::serve::serve(listener, app(state), limits, stop, Duration::from_secs(1)).await?;
    info!("stopped");
    Ok(())
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
