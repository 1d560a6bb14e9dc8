//! What a run reads off the process: the CPU time of its threads, the server's counters, and
//! callgrind's counts when it runs under callgrind.

use std::sync::atomic::Ordering;
use std::time::Duration;

use sfu::Counters;

use super::Error;

/// The CPU time a thread of this process has had, by its name.
pub(super) fn thread_cpu(name: &str) -> Option<Duration> {
    for task in std::fs::read_dir("/proc/self/task").ok()?.flatten() {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if comm.trim_end() == name {
            return schedstat(&task.path().join("schedstat"));
        }
    }
    None
}

fn schedstat(path: &std::path::Path) -> Option<Duration> {
    let s = std::fs::read_to_string(path).ok()?;
    let ns: u64 = s.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(ns))
}

pub(super) fn own_cpu() -> Duration {
    schedstat(std::path::Path::new("/proc/thread-self/schedstat")).unwrap_or_default()
}

pub(super) fn forwarded(c: &Counters) -> u64 {
    c.forwarded_packets
        .iter()
        .map(|a| a.load(Ordering::Relaxed))
        .sum()
}

/// Under callgrind (`COHORT_BENCH_CALLGRIND=1`, as loadtest/engine-bench.sh runs it): zeroes
/// (`-z`) or dumps (`-d`) this process's counts, so that a dump holds the measured rounds only.
pub(super) fn callgrind(command: &str) -> Result<(), Error> {
    if std::env::var_os("COHORT_BENCH_CALLGRIND").is_none() {
        return Ok(());
    }
    let out = std::process::Command::new("callgrind_control")
        .arg(command)
        .arg(std::process::id().to_string())
        .output()
        .map_err(|e| format!("callgrind_control: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "callgrind_control {command}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )
        .into());
    }
    Ok(())
}
