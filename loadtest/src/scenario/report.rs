//! The figures of one run, for people (`Display`) and for tools (JSON).

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::time::Duration;

use protocol::TrackKind;
use serde::{Deserialize, Serialize};

use super::peer::JoinTimes;
use super::{Peer, Scenario, Seat, ServerSamples};
use crate::resources::ProcSample;
use crate::stats::{Millis, loss_fraction};

/// Delay samples merged for the percentiles at most; tracks are thinned evenly beyond it.
const MAX_DELAY_SAMPLES: usize = 2_000_000;
/// The load generator is the limit when it used more than this share of its cores.
const SATURATED: f64 = 0.9;
/// Failures and missing tracks listed in full at most.
const LISTED: usize = 20;

/// The server's figures over the measured window.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServerFigures {
    pub cpu_seconds: f64,
    /// CPU seconds per second of the window: 1.0 is one core busy.
    pub cpu_cores_used: f64,
    pub rss_bytes_before: u64,
    pub rss_bytes_max: u64,
    /// (largest RSS − RSS before the run) / participants joined.
    pub rss_bytes_per_participant: f64,
    /// Server CPU time per packet the subscribers received, in microseconds.
    pub cpu_us_per_forwarded_packet: f64,
    /// Packets forwarded per second of one fully used core.
    pub forwarded_packets_per_core_second: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    pub target: super::Target,
    pub url: String,
    pub rooms: usize,
    pub participants: usize,
    pub publish_share: f64,
    pub video_bitrate_bps: u32,
    pub video_fps: u32,
    pub joined: usize,
    pub publishers: usize,
    pub join_failures: usize,
    pub join_failure_examples: Vec<String>,
    /// Remote tracks that should have reached someone, and those that did.
    pub tracks_expected: usize,
    pub tracks_received: usize,
    pub missing_examples: Vec<String>,
    pub window_seconds: f64,
    /// Over the whole run, every subscription: packets the publishers sent between the first and
    /// last one a subscriber saw, and the intact ones it got.
    pub packets_expected: u64,
    pub packets_received: u64,
    pub loss: f64,
    /// Packets the subscribers received per second during the window: what the server forwarded.
    pub forwarded_packets_per_second: f64,
    /// Payload bits per second each participant received, on average over the window (what a
    /// subscriber's downlink carried, less packet headers).
    pub downlink_bps_per_subscriber: f64,
    /// Payload bits per second each publisher sent, on average over the window.
    pub uplink_bps_per_publisher: f64,
    pub latency_ms: Millis,
    /// Per-track RFC 3550 jitter at the end, across tracks.
    pub jitter_ms: Millis,
    /// Join request to each remote track's first packet, whatever it carries.
    pub join_ms: Millis,
    /// Join request to each remote audio track's first packet.
    #[serde(default)]
    pub join_audio_ms: Millis,
    /// Join request to each remote video track's first keyframe: the first picture.
    #[serde(default)]
    pub first_picture_ms: Millis,
    /// Over the whole run, all publishers: keyframe requests (PLI/FIR) the server sent them, and
    /// keyframes they sent (periodic ones included).
    #[serde(default)]
    pub keyframe_requests: u64,
    #[serde(default)]
    pub keyframes_sent: u64,
    pub server: Option<ServerFigures>,
    pub loadgen_cpu_seconds: Option<f64>,
    /// The load generator's CPU use as a share of the cores it may use.
    pub loadgen_cpu_share: Option<f64>,
    /// The load generator, not the server, was the limit.
    pub saturated: bool,
}

pub(super) struct Inputs<'a> {
    pub scenario: &'a Scenario,
    pub clients: &'a [(&'a Seat, &'a Peer)],
    pub failures: Vec<String>,
    pub window: Duration,
    pub window_packets: u64,
    /// Payload bytes received by every subscriber, and sent by every publisher, in the window.
    pub window_bytes: u64,
    pub window_sent_bytes: u64,
    pub server: Option<ServerSamples>,
    pub own: Option<(ProcSample, ProcSample)>,
}

pub(super) fn build(i: Inputs<'_>) -> Report {
    let s = i.scenario;
    let mut by_room: HashMap<&str, Vec<u32>> = HashMap::new();
    for (seat, _) in i.clients {
        if seat.publishes {
            by_room
                .entry(seat.room.as_str())
                .or_default()
                .push(seat.index);
        }
    }
    let (mut expected, mut received, mut tracks_expected, mut tracks_received) = (0, 0, 0, 0);
    let mut missing = Vec::new();
    let mut delay_tracks = Vec::new();
    let mut jitter_us = Vec::new();
    let mut joins = JoinTimes::default();
    let (mut keyframe_requests, mut keyframes_sent) = (0, 0);
    for (seat, client) in i.clients {
        let tracks = client.received();
        let publishers = by_room
            .get(seat.room.as_str())
            .map_or(&[][..], |v| v.as_slice());
        let mut got: BTreeSet<(u32, bool)> = BTreeSet::new();
        for t in &tracks {
            expected += t.expected();
            received += t.packets.saturating_sub(t.corrupt);
            if let Some(p) = t.publisher_index
                && t.packets > t.corrupt
            {
                got.insert((p, t.kind == TrackKind::Video));
            }
            jitter_us.push(t.jitter.micros().round() as u32);
            delay_tracks.push(t.latencies_us.clone());
        }
        for &p in publishers.iter().filter(|&&p| p != seat.index) {
            for (video, wanted) in [(false, s.audio), (true, s.video)] {
                if !wanted {
                    continue;
                }
                tracks_expected += 1;
                if got.contains(&(p, video)) {
                    tracks_received += 1;
                } else if missing.len() < LISTED {
                    let kind = if video { "video" } else { "audio" };
                    missing.push(format!(
                        "{} in {} got no {kind} from {p}",
                        seat.index, seat.room
                    ));
                }
            }
        }
        client.join_times(&mut joins);
        let (asked, sent) = client.keyframes();
        keyframe_requests += asked;
        keyframes_sent += sent;
    }
    let total: usize = delay_tracks.iter().map(Vec::len).sum();
    let stride = total.div_ceil(MAX_DELAY_SAMPLES).max(1);
    let delays: Vec<u32> = delay_tracks
        .into_iter()
        .flat_map(|v| v.into_iter().step_by(stride))
        .collect();
    let window_seconds = i.window.as_secs_f64().max(1e-3);
    let joined = i.clients.len();
    let publishers = i.clients.iter().filter(|(seat, _)| seat.publishes).count();
    let server = i.server.map(|(before, start, end, rss_max)| {
        let cpu = (end.cpu_seconds - start.cpu_seconds).max(0.0);
        let packets = i.window_packets.max(1) as f64;
        ServerFigures {
            cpu_seconds: cpu,
            cpu_cores_used: cpu / window_seconds,
            rss_bytes_before: before.rss_bytes,
            rss_bytes_max: rss_max.max(end.rss_bytes),
            rss_bytes_per_participant: rss_max.max(end.rss_bytes).saturating_sub(before.rss_bytes)
                as f64
                / joined.max(1) as f64,
            cpu_us_per_forwarded_packet: cpu * 1e6 / packets,
            forwarded_packets_per_core_second: if cpu > 0.0 { packets / cpu } else { 0.0 },
        }
    });
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    let own_cpu = i.own.map(|(a, b)| (b.cpu_seconds - a.cpu_seconds).max(0.0));
    let own_share = own_cpu.map(|c| c / window_seconds / cores);
    Report {
        target: s.target,
        url: s.url.clone(),
        rooms: s.rooms,
        participants: s.participants,
        publish_share: s.publish_share,
        video_bitrate_bps: s.video_bitrate_bps,
        video_fps: s.video_fps,
        joined,
        publishers,
        join_failures: i.failures.len(),
        join_failure_examples: i.failures.into_iter().take(LISTED).collect(),
        tracks_expected,
        tracks_received,
        missing_examples: missing,
        window_seconds,
        packets_expected: expected,
        packets_received: received,
        loss: loss_fraction(expected, received),
        forwarded_packets_per_second: i.window_packets as f64 / window_seconds,
        downlink_bps_per_subscriber: i.window_bytes as f64 * 8.0
            / window_seconds
            / joined.max(1) as f64,
        uplink_bps_per_publisher: i.window_sent_bytes as f64 * 8.0
            / window_seconds
            / publishers.max(1) as f64,
        latency_ms: Millis::from_micros(delays),
        jitter_ms: Millis::from_micros(jitter_us),
        join_ms: Millis::from_micros(joins.first_packet),
        join_audio_ms: Millis::from_micros(joins.audio),
        first_picture_ms: Millis::from_micros(joins.first_picture),
        keyframe_requests,
        keyframes_sent,
        server,
        loadgen_cpu_seconds: own_cpu,
        loadgen_cpu_share: own_share,
        saturated: own_share.is_some_and(|x| x > SATURATED),
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} participants ({} publishing) in {} rooms; {} joined, {} failed",
            self.participants, self.publishers, self.rooms, self.joined, self.join_failures
        )?;
        for e in &self.join_failure_examples {
            writeln!(f, "  join failed: {e}")?;
        }
        writeln!(
            f,
            "tracks received: {} of {}",
            self.tracks_received, self.tracks_expected
        )?;
        for m in &self.missing_examples {
            writeln!(f, "  missing: {m}")?;
        }
        writeln!(
            f,
            "packets: {} of {} ({:.3}% lost); {:.0} forwarded/s over {:.1} s",
            self.packets_received,
            self.packets_expected,
            self.loss * 100.0,
            self.forwarded_packets_per_second,
            self.window_seconds
        )?;
        writeln!(
            f,
            "payload: {:.2} Mbit/s down per participant, {:.2} Mbit/s up per publisher",
            self.downlink_bps_per_subscriber / 1e6,
            self.uplink_bps_per_publisher / 1e6
        )?;
        let m = |x: &Millis| {
            format!(
                "p50 {:.2} ms, p95 {:.2}, p99 {:.2}, max {:.2}",
                x.p50, x.p95, x.p99, x.max
            )
        };
        writeln!(f, "latency: {}", m(&self.latency_ms))?;
        writeln!(f, "jitter:  {}", m(&self.jitter_ms))?;
        writeln!(
            f,
            "join:    {} (first packet of any track)",
            m(&self.join_ms)
        )?;
        writeln!(f, "  audio: {}", m(&self.join_audio_ms))?;
        writeln!(f, "  first picture: {}", m(&self.first_picture_ms))?;
        writeln!(
            f,
            "keyframes: {} requests reached the publishers, who sent {} keyframes",
            self.keyframe_requests, self.keyframes_sent
        )?;
        if let Some(s) = &self.server {
            writeln!(
                f,
                "server: {:.2} cores, {:.2} µs CPU per forwarded packet ({:.0} packets per core-second), RSS {:.1} MiB (+{:.0} KiB per participant)",
                s.cpu_cores_used,
                s.cpu_us_per_forwarded_packet,
                s.forwarded_packets_per_core_second,
                s.rss_bytes_max as f64 / 1048576.0,
                s.rss_bytes_per_participant / 1024.0
            )?;
        }
        if let Some(share) = self.loadgen_cpu_share {
            writeln!(
                f,
                "load generator: {:.0}% of its cores{}",
                share * 100.0,
                if self.saturated {
                    " — SATURATED: the load generator, not the server, was the limit"
                } else {
                    ""
                }
            )?;
        }
        Ok(())
    }
}
