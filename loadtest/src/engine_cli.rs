//! `cohort-loadtest engine`: the in-memory benchmark of the engine's cost per forwarded packet
//! (see `loadtest::engine`).

use std::process::ExitCode;

use clap::Parser;
use loadtest::engine::{EngineBench, EngineReport};

/// The media engine's CPU cost per forwarded packet, with the server on a network in memory:
/// no socket, no kernel, nothing sent anywhere.
#[derive(Debug, Parser)]
#[command(name = "cohort-loadtest engine")]
pub struct EngineArgs {
    /// Members who publish audio and video.
    #[arg(long, default_value_t = 1)]
    publishers: usize,
    /// Members who only receive.
    #[arg(long, default_value_t = 50)]
    listeners: usize,
    /// Rounds measured; in each, every publisher sends one audio and one video packet.
    #[arg(long, default_value_t = 5000)]
    rounds: usize,
    /// Rounds sent once everyone is connected, before measuring.
    #[arg(long, default_value_t = 200)]
    warmup: usize,
    #[arg(long, default_value_t = 1100)]
    video_bytes: usize,
    #[arg(long, default_value_t = 120)]
    audio_bytes: usize,
    /// Milliseconds the clients run between one member's join and the next (0: all at once).
    #[arg(long, default_value_t = 0)]
    join_gap_ms: u64,
    /// Runs the subscribe connections without send-side bandwidth estimation (TWCC stamps,
    /// send history and GCC), to measure what it costs. With it, the estimate is held far
    /// above any rate the run reaches: a run as fast as the engine goes would otherwise read
    /// as congestion.
    #[arg(long)]
    no_estimation: bool,
    /// Also write the figures here, as one JSON object.
    #[arg(long)]
    json: Option<std::path::PathBuf>,
}

fn render(a: &EngineArgs, r: &EngineReport) -> String {
    format!(
        "engine in memory: {} publishers, {} listeners, {} rounds\n\
         sent {} packets; the engine forwarded {}; subscribers read {} of {} ({:.3}% missing)\n\
         engine thread: {:.1} ms CPU, {:.0} ns per forwarded packet, {:.0} forwarded per core-second\n\
         clients (this thread): {:.1} ms CPU; wall {:.1} ms; setup {:.1} s\n\
         engine I/O: {} datagrams in ({:.1} per receive call), {} out\n",
        a.publishers,
        a.listeners,
        a.rounds,
        r.packets_sent,
        r.forwarded,
        r.delivered,
        r.expected,
        100.0 * (r.expected.saturating_sub(r.delivered)) as f64 / r.expected.max(1) as f64,
        r.engine_cpu.as_secs_f64() * 1e3,
        r.ns_per_forwarded(),
        r.per_core_second(),
        r.clients_cpu.as_secs_f64() * 1e3,
        r.wall.as_secs_f64() * 1e3,
        r.setup.as_secs_f64(),
        r.datagrams_in,
        r.datagrams_in as f64 / r.receive_calls.max(1) as f64,
        r.datagrams_out,
    )
}

fn json(a: &EngineArgs, r: &EngineReport) -> serde_json::Value {
    serde_json::json!({
        "publishers": a.publishers,
        "listeners": a.listeners,
        "rounds": a.rounds,
        "packets_sent": r.packets_sent,
        "forwarded": r.forwarded,
        "delivered": r.delivered,
        "expected": r.expected,
        "engine_cpu_ns": r.engine_cpu.as_nanos() as u64,
        "ns_per_forwarded": r.ns_per_forwarded(),
        "forwarded_per_core_second": r.per_core_second(),
        "clients_cpu_ns": r.clients_cpu.as_nanos() as u64,
        "wall_ns": r.wall.as_nanos() as u64,
        "datagrams_in": r.datagrams_in,
        "datagrams_out": r.datagrams_out,
        "receive_calls": r.receive_calls,
    })
}

pub async fn engine(a: EngineArgs) -> ExitCode {
    if a.publishers == 0 || a.publishers + a.listeners < 2 {
        eprintln!("cohort-loadtest engine: needs a publisher and someone else to receive");
        return ExitCode::from(2);
    }
    if a.publishers + a.listeners > 500 || a.rounds > 1_000_000 {
        eprintln!("cohort-loadtest engine: at most 500 members and 1 000 000 rounds");
        return ExitCode::from(2);
    }
    let cfg = EngineBench {
        publishers: a.publishers,
        listeners: a.listeners,
        rounds: a.rounds,
        warmup: a.warmup,
        video_bytes: a.video_bytes.clamp(32, 1200),
        audio_bytes: a.audio_bytes.clamp(32, 1200),
        join_gap: std::time::Duration::from_millis(a.join_gap_ms.min(10_000)),
        estimation: !a.no_estimation,
    };
    let rt = tokio::runtime::Handle::current();
    let run = tokio::task::spawn_blocking(move || loadtest::engine::run(&cfg, rt));
    let limit = loadtest::engine::deadline();
    let report = match tokio::time::timeout(limit, run).await {
        Ok(Ok(Ok(r))) => r,
        Ok(Ok(Err(e))) => {
            eprintln!("cohort-loadtest engine: {e}");
            return ExitCode::FAILURE;
        }
        Ok(Err(e)) => {
            eprintln!("cohort-loadtest engine: the run failed: {e}");
            return ExitCode::FAILURE;
        }
        Err(_) => {
            eprintln!(
                "cohort-loadtest engine: did not finish within {} s; stopped",
                limit.as_secs()
            );
            return ExitCode::FAILURE;
        }
    };
    print!("{}", render(&a, &report));
    if let Some(path) = &a.json
        && let Err(e) = std::fs::write(path, json(&a, &report).to_string())
    {
        eprintln!("cohort-loadtest engine: {}: {e}", path.display());
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
