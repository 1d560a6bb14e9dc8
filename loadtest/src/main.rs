//! `cohort-loadtest`: synthetic participants against a Cohort server (or Janus, for
//! comparison) on this machine, with a live progress bar, a human summary and a JSON report.
//!
//!     cohort-loadtest --participants 16 --rooms 1 --duration 30 --server-pid $(pgrep ...)

mod churn_cli;
mod engine_cli;
mod notes_cli;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};
use loadtest::scenario::{self, Scenario, Target};

/// Load a Cohort server with synthetic webrtc-rs participants and measure forwarding: loss,
/// one-way latency, jitter, join time, and (with --server-pid) the server's CPU and memory.
/// Talks to loopback only.
#[derive(Debug, Parser)]
#[command(name = "cohort-loadtest", version)]
struct Args {
    /// The server under test: cohort, or janus (its VideoRoom plugin, WebSocket transport).
    #[arg(long, value_enum, default_value = "cohort")]
    target: TargetArg,
    /// The server's signaling WebSocket [default: ws://127.0.0.1:8080/api/v1/rtc for cohort,
    /// ws://127.0.0.1:8188/ for janus].
    #[arg(long)]
    url: Option<String>,
    /// Address the participants' media sockets bind to [default: 127.0.0.1 for cohort,
    /// 10.200.0.1 for janus, which gathers no loopback candidates: run it in the namespace
    /// loadtest/bench.sh sets up].
    #[arg(long)]
    udp_ip: Option<std::net::IpAddr>,
    /// Participants in all.
    #[arg(long, short = 'n', default_value_t = 4)]
    participants: usize,
    /// Rooms they are spread over (the server must admit ad hoc rooms: --open-rooms).
    #[arg(long, short = 'r', default_value_t = 1)]
    rooms: usize,
    /// Share of each room's participants who publish, 0 to 1 (at least one per room when above 0).
    #[arg(long, default_value_t = 1.0)]
    publish_share: f64,
    /// Exactly this many publishers in each room (instead of --publish-share).
    #[arg(long, conflicts_with = "publish_share")]
    publishers: Option<usize>,
    /// Joins started per second.
    #[arg(long, default_value_t = 10.0)]
    ramp: f64,
    /// Seconds measured once everyone has joined.
    #[arg(long, short = 'd', default_value_t = 10.0)]
    duration: f64,
    /// Video bitrate of each publisher, kbit/s (keyframes included).
    #[arg(long, default_value_t = 500)]
    video_kbps: u32,
    #[arg(long, default_value_t = 30)]
    fps: u32,
    /// Seconds between keyframes (sooner when a subscriber asks).
    #[arg(long, default_value_t = 2.0)]
    keyframe_interval: f64,
    /// Send video as three simulcast layers (a quarter, a half and all of --video-kbps), as a
    /// browser sends a camera; the server picks one per subscriber.
    #[arg(long)]
    simulcast: bool,
    /// Everyone shows their room's first participant on the stage and at most this many others
    /// as thumbnails (the rest hidden), as a class's grid does, and tells the server so.
    #[arg(long)]
    thumbnails: Option<usize>,
    /// Publish no audio.
    #[arg(long)]
    no_audio: bool,
    /// Publish no video.
    #[arg(long)]
    no_video: bool,
    /// Rooms are named PREFIX-1, PREFIX-2, ...
    #[arg(long, default_value = "load")]
    room_prefix: String,
    /// The server's process id, for its CPU time and memory from /proc.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Also write the report as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
    /// No progress bar (for logs and CI).
    #[arg(long, short = 'q')]
    quiet: bool,
}

/// `cohort-loadtest report <dir>`: the benchmark's table and plots from the JSON reports
/// loadtest/bench.sh wrote.
#[derive(Debug, Parser)]
#[command(name = "cohort-loadtest report")]
struct ReportArgs {
    /// The folder of `<case>-<target>.json` reports.
    dir: PathBuf,
    /// Where to write the SVG plots [default: the same folder].
    #[arg(long)]
    svg_dir: Option<PathBuf>,
}

/// `cohort-loadtest chat`: fan-out latency of chat to room-channel listeners, and (with
/// --history-room) history pages and searches on a large room. The server needs
/// `--chat-rate 0`, or a rate above --rate.
#[derive(Debug, Parser)]
#[command(name = "cohort-loadtest chat")]
struct ChatArgs {
    /// The server's HTTP address.
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: String,
    /// An admin or organiser API key.
    #[arg(long, env = "COHORT_BENCH_KEY")]
    key: String,
    #[arg(long, default_value_t = 50)]
    listeners: usize,
    #[arg(long, default_value_t = 200)]
    messages: usize,
    /// Messages posted per second.
    #[arg(long, default_value_t = 20.0)]
    rate: f64,
    /// The id of a room seeded with messages `seed1` to `seed100000`.
    #[arg(long)]
    history_room: Option<String>,
    /// History pages timed (searches: at most 50 of each).
    #[arg(long, default_value_t = 200)]
    requests: usize,
}

async fn chat(a: ChatArgs) -> ExitCode {
    let bench = loadtest::chat::ChatBench {
        addr: a.addr,
        key: a.key,
        listeners: a.listeners.clamp(1, 1000),
        messages: a.messages.clamp(1, 10_000),
        rate: a.rate,
        history_room: a.history_room,
        requests: a.requests.clamp(1, 10_000),
    };
    // Bounded: every part has its own deadline, and the whole run this one.
    bounded(
        "chat",
        Duration::from_secs(600),
        false,
        loadtest::chat::run(&bench),
    )
    .await
}

/// Runs one bench to its end within `limit`: prints its report (and the report as JSON
/// too, on `json`), or its error, or that it was stopped.
async fn bounded<R, E>(
    name: &str,
    limit: Duration,
    json: bool,
    run: impl std::future::Future<Output = Result<R, E>>,
) -> ExitCode
where
    R: std::fmt::Display + serde::Serialize,
    E: std::fmt::Display,
{
    match tokio::time::timeout(limit, run).await {
        Ok(Ok(report)) => {
            print!("{report}");
            if json {
                println!("{}", serde_json::to_string(&report).unwrap_or_default());
            }
            ExitCode::SUCCESS
        }
        Ok(Err(e)) => {
            eprintln!("cohort-loadtest {name}: {e}");
            ExitCode::FAILURE
        }
        Err(_) => {
            eprintln!("cohort-loadtest {name}: did not finish within {limit:?}; stopped");
            ExitCode::FAILURE
        }
    }
}

fn report(args: ReportArgs) -> ExitCode {
    let cases = match loadtest::bench::load(&args.dir) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("cohort-loadtest report: {e}");
            return ExitCode::from(2);
        }
    };
    print!("{}", loadtest::bench::table(&cases));
    let dir = args.svg_dir.unwrap_or(args.dir);
    for (file, chart) in [
        ("bench-cpu.svg", loadtest::bench::cpu_chart(&cases)),
        ("bench-latency.svg", loadtest::bench::latency_chart(&cases)),
    ] {
        let path = dir.join(file);
        if let Err(e) = std::fs::write(&path, chart.render()) {
            eprintln!("cohort-loadtest report: {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
        eprintln!("wrote {}", path.display());
    }
    ExitCode::SUCCESS
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum TargetArg {
    Cohort,
    Janus,
}

fn seconds(name: &str, v: f64) -> Result<Duration, String> {
    if v.is_finite() && v > 0.0 && v <= 3600.0 {
        Ok(Duration::from_secs_f64(v))
    } else {
        Err(format!(
            "--{name} is a number of seconds between 0 and 3600, not {v}"
        ))
    }
}

fn scenario(a: &Args) -> Result<Scenario, String> {
    let (target, url, udp_ip) = match a.target {
        TargetArg::Cohort => (
            Target::Cohort,
            "ws://127.0.0.1:8080/api/v1/rtc",
            [127, 0, 0, 1],
        ),
        TargetArg::Janus => (Target::Janus, "ws://127.0.0.1:8188/", [10, 200, 0, 1]),
    };
    Ok(Scenario {
        target,
        url: a.url.clone().unwrap_or_else(|| url.to_owned()),
        udp_ip: a.udp_ip.unwrap_or(std::net::IpAddr::from(udp_ip)),
        rooms: a.rooms,
        participants: a.participants,
        publish_share: a.publish_share,
        publishers_per_room: a.publishers,
        ramp_per_second: a.ramp,
        duration: seconds("duration", a.duration)?,
        audio: !a.no_audio,
        video: !a.no_video,
        video_bitrate_bps: a.video_kbps.saturating_mul(1000),
        video_fps: a.fps,
        keyframe_interval: seconds("keyframe-interval", a.keyframe_interval)?,
        simulcast: a.simulcast,
        thumbnails: a.thumbnails,
        room_prefix: a.room_prefix.clone(),
        server_pid: a.server_pid,
    })
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("error")),
        )
        .with_writer(std::io::stderr)
        .init();
    if std::env::args().nth(1).as_deref() == Some("report") {
        return report(ReportArgs::parse_from(std::env::args().skip(1)));
    }
    match std::env::args().nth(1).as_deref() {
        Some("chat") => return chat(ChatArgs::parse_from(std::env::args().skip(1))).await,
        Some("engine") => {
            let a = engine_cli::EngineArgs::parse_from(std::env::args().skip(1));
            return engine_cli::engine(a).await;
        }
        Some("churn") => {
            let a = churn_cli::ChurnArgs::parse_from(std::env::args().skip(1));
            return churn_cli::churn(a).await;
        }
        Some("notes") => {
            let a = notes_cli::NotesArgs::parse_from(std::env::args().skip(1));
            return notes_cli::notes(a).await;
        }
        Some("notes-seed") => {
            return notes_cli::seed(notes_cli::SeedArgs::parse_from(std::env::args().skip(1)));
        }
        Some("notes-load") => {
            let a = notes_cli::LoadArgs::parse_from(std::env::args().skip(1));
            return notes_cli::load(a).await;
        }
        _ => {}
    }
    let args = Args::parse();
    let s = match scenario(&args).and_then(|s| s.validate().map(|()| s)) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("cohort-loadtest: {e}");
            return ExitCode::from(2);
        }
    };
    let bar = if args.quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(s.participants as u64)
    };
    bar.set_style(
        ProgressStyle::with_template("{spinner} {elapsed_precise} {wide_msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    let deadline = s.deadline();
    let run = scenario::run(&s, |p| {
        bar.set_message(if p.phase == "measuring" {
            format!(
                "measuring {:.0}/{:.0} s: {:.0} packets/s, loss {:.2}%, latency {:.2} ms",
                p.measured,
                s.duration.as_secs_f64(),
                p.packets_per_second,
                p.loss * 100.0,
                p.latency_ms
            )
        } else {
            format!(
                "{}: {}/{} joined, {} failed",
                p.phase, p.joined, p.total, p.failed
            )
        });
    });
    let report = match tokio::time::timeout(deadline, run).await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => {
            bar.finish_and_clear();
            eprintln!("cohort-loadtest: {e}");
            return ExitCode::from(2);
        }
        Err(_) => {
            bar.finish_and_clear();
            eprintln!("cohort-loadtest: the run did not finish within {deadline:?}; stopped");
            return ExitCode::FAILURE;
        }
    };
    bar.finish_and_clear();
    print!("{report}");
    if let Some(path) = &args.json {
        let written = serde_json::to_string_pretty(&report)
            .map_err(|e| e.to_string())
            .and_then(|j| std::fs::write(path, j + "\n").map_err(|e| e.to_string()));
        if let Err(e) = written {
            eprintln!("cohort-loadtest: could not write {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
    }
    if report.joined == 0 {
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_arguments_get_clear_errors() {
        let parse = |args: &[&str]| {
            let a = Args::try_parse_from(
                std::iter::once("cohort-loadtest").chain(args.iter().copied()),
            )
            .map_err(|e| e.to_string())?;
            scenario(&a).and_then(|s| s.validate())
        };
        assert!(
            parse(&["--duration=-3"])
                .unwrap_err()
                .contains("--duration")
        );
        assert!(
            parse(&["--duration", "NaN"])
                .unwrap_err()
                .contains("--duration")
        );
        assert!(
            parse(&["--participants", "lots"])
                .unwrap_err()
                .contains("invalid value")
        );
        assert!(
            parse(&["--url", "ws://192.168.1.4:8080/api/v1/rtc"])
                .unwrap_err()
                .contains("loopback")
        );
        assert!(
            parse(&["--rooms", "5", "--participants", "2"])
                .unwrap_err()
                .contains("rooms")
        );
        assert!(parse(&[]).is_ok());
    }
}
