//! The soak: participants joining and leaving for a long time, with the server's resident
//! memory and open file descriptors sampled as it goes. A server that leaks per join shows
//! it as growth after the warm-up. Bounded: every join has a deadline, every stay ends by
//! the run's end, and the run stops by itself.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::client::{Client, ClientConfig};
use crate::resources;
use crate::scenario::{JOIN_TIMEOUT, LEAVE_TIMEOUT};

/// What to run.
#[derive(Debug, Clone)]
pub struct Churn {
    /// The signaling WebSocket, for example `ws://127.0.0.1:8080/api/v1/rtc`.
    pub url: String,
    pub udp_ip: IpAddr,
    pub rooms: usize,
    /// Seats, each filled by one participant after another.
    pub seats: usize,
    pub duration: Duration,
    /// How long one participant stays, at least and at most (spread over the seats).
    pub stay: (Duration, Duration),
    pub sample_every: Duration,
    /// The share of the run counted as warm-up (growth is measured from its end).
    pub warm_up: f64,
    /// The server's process, whose memory and descriptors are sampled.
    pub server_pid: u32,
    pub room_prefix: String,
}

/// One reading of the server.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct Sample {
    pub at_seconds: f64,
    pub rss_bytes: u64,
    pub fds: usize,
    /// Participants in the call at that moment, and joins (and failed joins) so far.
    pub live: i64,
    pub joins: u64,
    pub failures: u64,
}

/// What a soak found.
#[derive(Debug, Clone, Serialize)]
pub struct ChurnReport {
    pub samples: Vec<Sample>,
    pub warm_up_seconds: f64,
    /// When the seats stop joining (a join must fit before the end) and the call empties:
    /// growth is measured up to here, over a full call.
    pub steady_until_seconds: f64,
}

/// Growth of the last sample up to `until` seconds over the first one after the warm-up, as
/// a share; `None` without two such samples.
pub fn growth(
    samples: &[Sample],
    (warm_up_seconds, until): (f64, f64),
    of: impl Fn(&Sample) -> f64,
) -> Option<f64> {
    let base = samples.iter().find(|s| s.at_seconds >= warm_up_seconds)?;
    let last = samples.iter().rev().find(|s| s.at_seconds <= until)?;
    (last.at_seconds > base.at_seconds && of(base) > 0.0).then(|| of(last) / of(base) - 1.0)
}

impl fmt::Display for ChurnReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{:>8} {:>10} {:>6} {:>5} {:>7} {:>7}",
            "seconds", "rss MiB", "fds", "live", "joins", "failed"
        )?;
        for s in &self.samples {
            writeln!(
                f,
                "{:>8.0} {:>10.1} {:>6} {:>5} {:>7} {:>7}",
                s.at_seconds,
                s.rss_bytes as f64 / 1048576.0,
                s.fds,
                s.live,
                s.joins,
                s.failures
            )?;
        }
        let pct = |g: Option<f64>| g.map_or("n/a".to_owned(), |g| format!("{:+.1}%", g * 100.0));
        let window = (self.warm_up_seconds, self.steady_until_seconds);
        writeln!(
            f,
            "growth from {:.0} s (after the warm-up) to {:.0} s (before the call empties): rss {}, fds {}",
            window.0,
            window.1,
            pct(growth(&self.samples, window, |s| s.rss_bytes as f64)),
            pct(growth(&self.samples, window, |s| s.fds as f64)),
        )
    }
}

/// Open file descriptors of `pid`, from `/proc/<pid>/fd`.
fn fds(pid: u32) -> Option<usize> {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .ok()
        .map(Iterator::count)
}

/// A stay between the bounds, different for each seat and each turn of it (deterministic).
fn stay(bounds: (Duration, Duration), seat: usize, turn: u64) -> Duration {
    let (lo, hi) = bounds;
    let span = hi.saturating_sub(lo).as_millis() as u64;
    let mix = (seat as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ turn.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    lo + Duration::from_millis(if span == 0 { 0 } else { (mix >> 7) % span })
}

#[derive(Default)]
struct Counts {
    live: AtomicI64,
    joins: AtomicU64,
    failures: AtomicU64,
}

/// Runs the soak to its end.
pub async fn run(c: &Churn) -> Result<ChurnReport, String> {
    if c.seats == 0 || c.rooms == 0 || c.seats < c.rooms {
        return Err(format!("{} seats cannot fill {} rooms", c.seats, c.rooms));
    }
    resources::sample(Some(c.server_pid))
        .ok_or_else(|| format!("cannot read the server's process {}", c.server_pid))?;
    let start = Instant::now();
    let end = start + c.duration;
    let counts = Arc::new(Counts::default());
    let mut seats = Vec::new();
    for seat in 0..c.seats {
        let (c, counts) = (c.clone(), Arc::clone(&counts));
        seats.push(tokio::spawn(async move {
            let mut turn = 0u64;
            // Seats start spread over the first stay, not all at once.
            tokio::time::sleep(stay((Duration::ZERO, c.stay.0), seat, 0)).await;
            while Instant::now() + JOIN_TIMEOUT < end {
                let room = format!("{}-{}", c.room_prefix, seat % c.rooms);
                let index = u32::try_from(seat).unwrap_or(u32::MAX);
                let mut cfg = ClientConfig::new(c.url.clone(), room, index);
                cfg.udp_ip = c.udp_ip;
                cfg.name = format!("churn-{seat}-{turn}");
                match tokio::time::timeout(JOIN_TIMEOUT, Client::connect(cfg)).await {
                    Ok(Ok(client)) => {
                        counts.joins.fetch_add(1, Ordering::Relaxed);
                        counts.live.fetch_add(1, Ordering::Relaxed);
                        let until = (Instant::now() + stay(c.stay, seat, turn)).min(end);
                        tokio::time::sleep_until(until.into()).await;
                        let _ = tokio::time::timeout(LEAVE_TIMEOUT, client.leave()).await;
                        counts.live.fetch_sub(1, Ordering::Relaxed);
                    }
                    _ => {
                        counts.failures.fetch_add(1, Ordering::Relaxed);
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
                turn += 1;
            }
        }));
    }
    let mut samples = Vec::new();
    let mut next = start;
    loop {
        let now = Instant::now();
        let (Some(proc), Some(fds)) = (resources::sample(Some(c.server_pid)), fds(c.server_pid))
        else {
            return Err(format!("the server's process {} went away", c.server_pid));
        };
        let sample = Sample {
            at_seconds: now.duration_since(start).as_secs_f64(),
            rss_bytes: proc.rss_bytes,
            fds,
            live: counts.live.load(Ordering::Relaxed),
            joins: counts.joins.load(Ordering::Relaxed),
            failures: counts.failures.load(Ordering::Relaxed),
        };
        eprintln!(
            "{:>6.0} s  rss {:.1} MiB  fds {}  live {}  joins {}  failed {}",
            sample.at_seconds,
            sample.rss_bytes as f64 / 1048576.0,
            sample.fds,
            sample.live,
            sample.joins,
            sample.failures
        );
        samples.push(sample);
        if now >= end {
            break;
        }
        next += c.sample_every;
        tokio::time::sleep_until(next.min(end).into()).await;
    }
    for s in seats {
        let _ = tokio::time::timeout(LEAVE_TIMEOUT, s).await;
    }
    Ok(ChurnReport {
        samples,
        warm_up_seconds: c.duration.as_secs_f64() * c.warm_up.clamp(0.0, 0.9),
        steady_until_seconds: c.duration.saturating_sub(JOIN_TIMEOUT).as_secs_f64(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(t: f64, rss: u64) -> Sample {
        Sample {
            at_seconds: t,
            rss_bytes: rss,
            fds: 10,
            live: 0,
            joins: 0,
            failures: 0,
        }
    }

    #[test]
    fn growth_is_measured_from_the_end_of_the_warm_up_to_the_wind_down() {
        let s = [
            at(0.0, 50),
            at(60.0, 100),
            at(120.0, 103),
            at(180.0, 104),
            at(200.0, 90),
        ];
        let rss = |s: &Sample| s.rss_bytes as f64;
        let g = growth(&s, (60.0, 190.0), rss).unwrap();
        assert!((g - 0.04).abs() < 1e-9, "{g}");
        let g = growth(&s, (60.0, 200.0), rss).unwrap();
        assert!((g + 0.1).abs() < 1e-9, "{g}");
        assert_eq!(
            growth(&s, (210.0, 300.0), rss),
            None,
            "no sample after the warm-up"
        );
        assert_eq!(growth(&s[..1], (0.0, 10.0), rss), None, "one sample");
    }

    #[test]
    fn stays_spread_within_their_bounds() {
        let b = (Duration::from_secs(5), Duration::from_secs(30));
        let all: Vec<Duration> = (0..50)
            .flat_map(|seat| (0..4).map(move |t| stay(b, seat, t)))
            .collect();
        assert!(all.iter().all(|d| *d >= b.0 && *d < b.1));
        let distinct: std::collections::BTreeSet<_> = all.iter().collect();
        assert!(
            distinct.len() > 150,
            "{} distinct stays of 200",
            distinct.len()
        );
    }
}
