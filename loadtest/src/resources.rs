//! A process's CPU time and resident memory, read from `/proc/<pid>` (Linux; elsewhere the
//! figures are absent, never made up).

/// One reading of a process.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProcSample {
    /// User plus system CPU time so far, seconds.
    pub cpu_seconds: f64,
    pub rss_bytes: u64,
}

/// Reads process `pid` (this process when `None`); `None` when it cannot be read (gone, not
/// ours, not Linux).
#[cfg(target_os = "linux")]
pub fn sample(pid: Option<u32>) -> Option<ProcSample> {
    let process = match pid {
        Some(p) => procfs::process::Process::new(i32::try_from(p).ok()?).ok()?,
        None => procfs::process::Process::myself().ok()?,
    };
    let stat = process.stat().ok()?;
    let ticks = procfs::ticks_per_second() as f64;
    Some(ProcSample {
        cpu_seconds: (stat.utime + stat.stime) as f64 / ticks,
        rss_bytes: stat.rss * procfs::page_size(),
    })
}

#[cfg(not(target_os = "linux"))]
pub fn sample(_pid: Option<u32>) -> Option<ProcSample> {
    None
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn this_process_uses_some_cpu_and_memory() {
        let before = sample(None).expect("this process can be read");
        let mut x = 0u64;
        for i in 0..30_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        std::hint::black_box(x);
        let after = sample(Some(std::process::id())).expect("by pid too");
        assert!(after.rss_bytes > 0);
        assert!(after.cpu_seconds >= before.cpu_seconds);
        assert_eq!(sample(Some(u32::MAX)), None, "no such process");
    }
}
