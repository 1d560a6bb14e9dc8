//! `cohort-loadtest notes`, `notes-seed` and `notes-load`: the shared-notes benchmark
//! ([`loadtest::notes`]), as `loadtest/notes-bench.sh` runs it.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

/// `cohort-loadtest notes`: yrs clients editing one document together at a steady rate. The
/// server needs `--notes-update-rate` above --rate and `--api-rate 0`.
#[derive(Debug, Parser)]
#[command(name = "cohort-loadtest notes")]
pub struct NotesArgs {
    /// The server's HTTP address.
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: String,
    /// An admin or organiser API key.
    #[arg(long, env = "COHORT_BENCH_KEY")]
    key: String,
    #[arg(long, default_value_t = 30)]
    clients: usize,
    /// Updates each client sends a second.
    #[arg(long, default_value_t = 2.0)]
    rate: f64,
    #[arg(long, default_value_t = 60)]
    seconds: u64,
    /// Documents opened at the end to measure the server's memory per document.
    #[arg(long, default_value_t = 20)]
    docs: usize,
    /// The server's PID, for its CPU and memory.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Every client sends at the same instant each period (bursts), not spread out.
    #[arg(long)]
    in_step: bool,
    /// Also print the report as JSON.
    #[arg(long)]
    json: bool,
}

pub async fn notes(a: NotesArgs) -> ExitCode {
    let bench = loadtest::notes::NotesBench {
        addr: a.addr,
        key: a.key,
        clients: a.clients.clamp(2, 500),
        rate: a.rate.clamp(0.1, 100.0),
        seconds: a.seconds.clamp(1, 600),
        docs: a.docs.min(200),
        server_pid: a.server_pid,
        in_step: a.in_step,
    };
    let limit = Duration::from_secs(bench.seconds + 120);
    crate::bounded("notes", limit, a.json, loadtest::notes::run(&bench)).await
}

/// `cohort-loadtest notes-seed`: prints SQL that puts `--updates` typing updates in a
/// document's log, for `notes-load` to time.
#[derive(Debug, Parser)]
#[command(name = "cohort-loadtest notes-seed")]
pub struct SeedArgs {
    #[arg(long)]
    room: String,
    #[arg(long, default_value = "room")]
    doc: String,
    #[arg(long, default_value_t = 10_000)]
    updates: usize,
    /// PostgreSQL's spelling of the blobs, not SQLite's.
    #[arg(long)]
    postgres: bool,
}

pub fn seed(a: SeedArgs) -> ExitCode {
    print!(
        "{}",
        loadtest::notes::seed_sql(&a.room, &a.doc, a.updates.min(1_000_000), a.postgres)
    );
    ExitCode::SUCCESS
}

/// `cohort-loadtest notes-load`: times fresh clients syncing a document (`--times` of them,
/// one after another).
#[derive(Debug, Parser)]
#[command(name = "cohort-loadtest notes-load")]
pub struct LoadArgs {
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: String,
    #[arg(long)]
    room: String,
    #[arg(long, default_value = "room")]
    doc: String,
    /// A link to the room.
    #[arg(long)]
    token: String,
    #[arg(long, default_value_t = 3)]
    times: usize,
    /// Seconds to wait between loads (longer than --notes-unload-after, to load it again from
    /// the store).
    #[arg(long, default_value_t = 0)]
    pause: u64,
}

pub async fn load(a: LoadArgs) -> ExitCode {
    for n in 0..a.times.clamp(1, 20) {
        if n > 0 && a.pause > 0 {
            tokio::time::sleep(Duration::from_secs(a.pause.min(120))).await;
        }
        let timed = tokio::time::timeout(
            Duration::from_secs(60),
            loadtest::notes::time_load(&a.addr, &a.room, &a.doc, &a.token, 1),
        )
        .await;
        match timed {
            Ok(Ok(t)) => {
                for (ms, len) in t {
                    println!("load {}: {ms:.1} ms to sync {len} characters", n + 1);
                }
            }
            Ok(Err(e)) => {
                eprintln!("cohort-loadtest notes-load: {e}");
                return ExitCode::FAILURE;
            }
            Err(_) => {
                eprintln!("cohort-loadtest notes-load: no sync within 60 s");
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}
