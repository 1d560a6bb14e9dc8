//! A load scenario: N synthetic participants spread over R rooms, joined at a ramp rate, a share
//! of them publishing, measured over a fixed window, then gone. Everything it starts stops by
//! itself: each join has a deadline, the run as a whole has one, and every client leaves.

use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::client::layout::LayoutPlan;
use crate::client::{ClientConfig, Totals};
use crate::resources::{self, ProcSample};
use crate::stats::loss_fraction;

mod peer;
mod report;
use peer::Peer;
pub use report::{Report, ServerFigures};

/// The server under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    Cohort,
    /// Janus's VideoRoom over its WebSocket transport (loadtest/janus/).
    Janus,
}

/// How long one join may take before it counts as failed.
pub const JOIN_TIMEOUT: Duration = Duration::from_secs(20);
/// After the last join, before measuring: ICE, DTLS and the first keyframes.
pub const SETTLE: Duration = Duration::from_secs(2);
/// Leaving, after the window, may take this long at most.
pub const LEAVE_TIMEOUT: Duration = Duration::from_secs(10);

/// What to run.
#[derive(Debug, Clone, Serialize)]
pub struct Scenario {
    pub target: Target,
    /// The signaling WebSocket, for example `ws://127.0.0.1:8080/api/v1/rtc` (Cohort) or
    /// `ws://127.0.0.1:8188/` (Janus).
    pub url: String,
    /// The address the participants' media sockets bind to: 127.0.0.1, or for Janus (which
    /// gathers no loopback candidates) the namespace's own veth address.
    pub udp_ip: IpAddr,
    pub rooms: usize,
    pub participants: usize,
    /// Share of each room's participants who publish (at least one when above zero).
    pub publish_share: f64,
    /// Publishers per room, exactly; overrides the share.
    pub publishers_per_room: Option<usize>,
    /// Joins started per second.
    pub ramp_per_second: f64,
    /// The measured window, after everyone has joined.
    pub duration: Duration,
    pub audio: bool,
    pub video: bool,
    pub video_bitrate_bps: u32,
    pub video_fps: u32,
    pub keyframe_interval: Duration,
    /// Publishers send video as three simulcast layers, a quarter, a half and all of the video
    /// bitrate, as a browser sends a camera; each subscriber is sent one.
    pub simulcast: bool,
    /// Everyone shows their room's first participant (a class's teacher) on the stage and at
    /// most this many others as thumbnails, the rest hidden, and tells the server so
    /// (`layout`); `None` tells no layout, and everyone is sent every video at its top.
    pub thumbnails: Option<usize>,
    /// Rooms are named `{room_prefix}-{n}`.
    pub room_prefix: String,
    /// The server's process, for its CPU time and memory.
    pub server_pid: Option<u32>,
}

/// One participant of the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seat {
    pub index: u32,
    /// 1-based.
    pub number: usize,
    pub room: String,
    pub publishes: bool,
}

impl Scenario {
    /// Checks the numbers; the message says what is wrong and what would do.
    pub fn validate(&self) -> Result<(), String> {
        let host = self
            .url
            .strip_prefix("ws://")
            .or_else(|| self.url.strip_prefix("wss://"))
            .ok_or("the URL must start with ws:// or wss://")?;
        let host = host.split('/').next().unwrap_or("");
        let host = host.rsplit_once(':').map_or(host, |(h, _)| h);
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let loopback =
            host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
        if !loopback {
            return Err(format!(
                "the load generator only talks to loopback (127.0.0.1, ::1, localhost), not {host:?}"
            ));
        }
        let media_ok = self.udp_ip.is_loopback()
            || (self.target == Target::Janus && in_test_namespace(self.udp_ip));
        if !media_ok {
            return Err(format!(
                "media binds to loopback only (or, for Janus, the test namespace's 10.200.0.0/24), not {}",
                self.udp_ip
            ));
        }
        if self.rooms == 0 || self.participants == 0 {
            return Err("rooms and participants must be at least 1".into());
        }
        if self.rooms > self.participants {
            return Err(format!(
                "{} rooms need at least as many participants (got {})",
                self.rooms, self.participants
            ));
        }
        if self.participants > 2000 {
            return Err("at most 2000 participants: one machine cannot hold more peers".into());
        }
        if self
            .publishers_per_room
            .is_some_and(|n| n > self.participants)
        {
            return Err("more publishers per room than participants".into());
        }
        if !(0.0..=1.0).contains(&self.publish_share) {
            return Err("the publishing share is between 0 and 1".into());
        }
        if !(self.ramp_per_second > 0.0 && self.ramp_per_second <= 1000.0) {
            return Err("the ramp is between 0 and 1000 joins per second".into());
        }
        if self.duration.is_zero() || self.duration > Duration::from_secs(3600) {
            return Err("the duration is between 1 second and 1 hour".into());
        }
        if !self.audio && !self.video && self.publish_share > 0.0 {
            return Err("publishers need audio, video or both".into());
        }
        if self.video && !(1..=60).contains(&self.video_fps) {
            return Err("the frame rate is between 1 and 60".into());
        }
        if self.video && !(10_000..=20_000_000).contains(&self.video_bitrate_bps) {
            return Err("the video bitrate is between 10 kbit/s and 20 Mbit/s".into());
        }
        if self.room_prefix.is_empty() || self.room_prefix.len() > 40 {
            return Err("the room prefix has 1 to 40 characters".into());
        }
        Ok(())
    }

    /// Who joins which room and who publishes: participant i goes to room i mod R; in each
    /// room the first ⌈share · size⌉ publish.
    pub fn seats(&self) -> Vec<Seat> {
        let rooms = self.rooms.max(1);
        let mut sizes = vec![0usize; rooms];
        for i in 0..self.participants {
            sizes[i % rooms] += 1;
        }
        (0..self.participants)
            .map(|i| {
                let room = i % rooms;
                let place = i / rooms;
                let publishers = if let Some(n) = self.publishers_per_room {
                    n
                } else if self.publish_share > 0.0 {
                    ((self.publish_share * sizes[room] as f64).ceil() as usize).max(1)
                } else {
                    0
                };
                Seat {
                    index: i as u32 + 1,
                    number: room + 1,
                    room: format!("{}-{}", self.room_prefix, room + 1),
                    publishes: place < publishers,
                }
            })
            .collect()
    }

    /// The whole run may take this long: the ramp, every join's deadline, settling, the
    /// window and leaving.
    pub fn deadline(&self) -> Duration {
        let ramp = Duration::from_secs_f64(self.participants as f64 / self.ramp_per_second);
        ramp + JOIN_TIMEOUT + SETTLE + self.duration + LEAVE_TIMEOUT + Duration::from_secs(5)
    }

    fn config(&self, seat: &Seat) -> ClientConfig {
        let mut cfg = ClientConfig::new(self.url.clone(), seat.room.clone(), seat.index);
        cfg.udp_ip = self.udp_ip;
        cfg.publish_audio = seat.publishes && self.audio;
        cfg.publish_video = seat.publishes && self.video;
        cfg.video_fps = self.video_fps.max(1);
        cfg.keyframe_interval = self.keyframe_interval;
        cfg.keyframe_scale = KEYFRAME_SCALE;
        cfg.simulcast = self.simulcast;
        // The room's first seat has index `number` (seats go round the rooms in turn).
        cfg.layout = self.thumbnails.map(|thumbnails| LayoutPlan {
            stage: u32::try_from(seat.number).ok(),
            thumbnails,
        });
        cfg.video_frame_bytes = frame_bytes(
            self.video_bitrate_bps,
            cfg.video_fps,
            self.keyframe_interval,
        );
        cfg
    }
}

/// The veth pair scripts/ and loadtest/janus/ set up inside a private network namespace; it
/// exists nowhere else.
fn in_test_namespace(ip: IpAddr) -> bool {
    matches!(ip, IpAddr::V4(v4) if v4.octets()[..3] == [10, 200, 0])
}

/// Keyframes are this many times a delta frame.
pub const KEYFRAME_SCALE: u32 = 4;

/// Delta-frame bytes that make `bitrate` on average, keyframes included.
pub fn frame_bytes(bitrate_bps: u32, fps: u32, keyframe_interval: Duration) -> usize {
    let per_frame = f64::from(bitrate_bps) / 8.0 / f64::from(fps.max(1));
    let frames_per_key = (keyframe_interval.as_secs_f64() * f64::from(fps)).max(1.0);
    let scale = (frames_per_key - 1.0 + f64::from(KEYFRAME_SCALE)) / frames_per_key;
    (per_frame / scale).round().max(1.0) as usize
}

/// What the run is doing, for a progress display.
#[derive(Debug, Clone, Default)]
pub struct Progress {
    pub phase: &'static str,
    pub joined: usize,
    pub failed: usize,
    pub total: usize,
    /// Seconds into the measured window (0 before it).
    pub measured: f64,
    /// Packets received per second, over the last update.
    pub packets_per_second: f64,
    /// Loss over the last update.
    pub loss: f64,
    /// Mean one-way delay over the last update, milliseconds.
    pub latency_ms: f64,
}

struct Joined {
    seat: Seat,
    client: Peer,
}

fn sum(clients: &[Joined]) -> Totals {
    let mut t = Totals::default();
    for j in clients {
        let c = j.client.totals();
        t.packets += c.packets;
        t.bytes += c.bytes;
        t.sent_bytes += c.sent_bytes;
        t.expected += c.expected;
        t.latency_sum_us += c.latency_sum_us;
        t.latency_count += c.latency_count;
    }
    t
}

/// Runs the scenario, calling `progress` about twice a second; always returns within
/// [`Scenario::deadline`].
pub async fn run(s: &Scenario, mut progress: impl FnMut(&Progress)) -> Result<Report, String> {
    s.validate()?;
    let started = Instant::now();
    let server_before = s.server_pid.and_then(|p| resources::sample(Some(p)));
    if s.server_pid.is_some() && server_before.is_none() {
        return Err(format!(
            "cannot read /proc/{} (is the server running, and ours to read?)",
            s.server_pid.unwrap_or(0)
        ));
    }
    let seats = s.seats();
    let total = seats.len();
    let janus_rooms: Vec<u64> = (1..=s.rooms)
        .map(|n| crate::janus::ROOM_BASE + n as u64)
        .collect();
    if s.target == Target::Janus {
        crate::janus::create_rooms(&s.url, &janus_rooms, s.participants)
            .await
            .map_err(|e| format!("could not create the Janus rooms: {e}"))?;
    }
    let joined: Arc<Mutex<Vec<Joined>>> = Arc::default();
    let failures: Arc<Mutex<Vec<String>>> = Arc::default();
    let mut tasks = Vec::with_capacity(total);
    let step = Duration::from_secs_f64(1.0 / s.ramp_per_second);
    let mut p = Progress {
        phase: "joining",
        total,
        ..Progress::default()
    };
    for (i, seat) in seats.iter().enumerate() {
        let at = started + step * i as u32;
        tokio::time::sleep_until(at.into()).await;
        let cfg = s.config(seat);
        let seat = seat.clone();
        let (into, failed) = (Arc::clone(&joined), Arc::clone(&failures));
        let target = s.target;
        tasks.push(tokio::spawn(async move {
            let who = format!("participant {} in {}", seat.index, seat.room);
            match tokio::time::timeout(JOIN_TIMEOUT, Peer::connect(target, cfg, &seat)).await {
                Ok(Ok(client)) => lock(&into).push(Joined { seat, client }),
                Ok(Err(e)) => lock(&failed).push(format!("{who}: {e}")),
                Err(_) => lock(&failed).push(format!("{who}: no answer in {JOIN_TIMEOUT:?}")),
            }
        }));
        p.joined = lock(&joined).len();
        p.failed = lock(&failures).len();
        progress(&p);
    }
    for t in tasks {
        let _ = t.await;
    }
    let clients = std::mem::take(&mut *lock(&joined));
    let failures = std::mem::take(&mut *lock(&failures));
    p.joined = clients.len();
    p.failed = failures.len();
    p.phase = "settling";
    progress(&p);
    tokio::time::sleep(SETTLE).await;

    // The measured window.
    p.phase = "measuring";
    let window_start = Instant::now();
    let server_start = s.server_pid.and_then(|p| resources::sample(Some(p)));
    let own_start = resources::sample(None);
    let first = sum(&clients);
    let mut last = first;
    let mut last_at = window_start;
    let mut server_rss_max = server_start.map_or(0, |x| x.rss_bytes);
    let end = window_start + s.duration;
    while Instant::now() < end {
        let next = (Instant::now() + Duration::from_millis(500)).min(end);
        tokio::time::sleep_until(next.into()).await;
        let now_totals = sum(&clients);
        let dt = last_at.elapsed().as_secs_f64().max(1e-3);
        p.measured = window_start.elapsed().as_secs_f64();
        p.packets_per_second = now_totals.packets.saturating_sub(last.packets) as f64 / dt;
        p.loss = loss_fraction(
            now_totals.expected.saturating_sub(last.expected),
            now_totals.packets.saturating_sub(last.packets),
        );
        let n = now_totals.latency_count.saturating_sub(last.latency_count);
        p.latency_ms = if n == 0 {
            0.0
        } else {
            now_totals
                .latency_sum_us
                .saturating_sub(last.latency_sum_us) as f64
                / n as f64
                / 1000.0
        };
        if let Some(x) = s.server_pid.and_then(|p| resources::sample(Some(p))) {
            server_rss_max = server_rss_max.max(x.rss_bytes);
        }
        progress(&p);
        last = now_totals;
        last_at = Instant::now();
    }
    let window = window_start.elapsed();
    let final_totals = sum(&clients);
    let server_end = s.server_pid.and_then(|p| resources::sample(Some(p)));
    let own_end = resources::sample(None);

    let report = report::build(report::Inputs {
        scenario: s,
        clients: &clients
            .iter()
            .map(|j| (&j.seat, &j.client))
            .collect::<Vec<_>>(),
        failures,
        window,
        window_packets: final_totals.packets.saturating_sub(first.packets),
        window_bytes: final_totals.bytes.saturating_sub(first.bytes),
        window_sent_bytes: final_totals.sent_bytes.saturating_sub(first.sent_bytes),
        server: match (server_before, server_start, server_end) {
            (Some(b), Some(a), Some(z)) => Some((b, a, z, server_rss_max)),
            _ => None,
        },
        own: own_start.zip(own_end),
    });

    p.phase = "leaving";
    progress(&p);
    let leaving = futures::future::join_all(clients.into_iter().map(|j| j.client.leave()));
    let _ = tokio::time::timeout(LEAVE_TIMEOUT, leaving).await;
    if s.target == Target::Janus {
        crate::janus::destroy_rooms(&s.url, &janus_rooms).await;
    }
    Ok(report)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Invariant: nothing panics while holding these locks (pushes and takes only).
    m.lock().expect("scenario lock poisoned")
}

/// CPU seconds and the largest resident memory of a process over the window, with its memory
/// before the run.
pub(crate) type ServerSamples = (ProcSample, ProcSample, ProcSample, u64);

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario() -> Scenario {
        Scenario {
            target: Target::Cohort,
            udp_ip: IpAddr::from([127, 0, 0, 1]),
            url: "ws://127.0.0.1:8080/api/v1/rtc".into(),
            rooms: 2,
            participants: 7,
            publish_share: 0.5,
            publishers_per_room: None,
            ramp_per_second: 10.0,
            duration: Duration::from_secs(5),
            audio: true,
            video: true,
            video_bitrate_bps: 500_000,
            video_fps: 30,
            keyframe_interval: Duration::from_secs(2),
            simulcast: false,
            thumbnails: None,
            room_prefix: "load".into(),
            server_pid: None,
        }
    }

    #[test]
    fn seats_spread_over_rooms_with_a_share_publishing() {
        let seats = scenario().seats();
        assert_eq!(seats.len(), 7);
        let in_room = |r: &str| seats.iter().filter(|s| s.room == r).count();
        assert_eq!((in_room("load-1"), in_room("load-2")), (4, 3));
        let publishing = |r: &str| seats.iter().filter(|s| s.room == r && s.publishes).count();
        // ceil(0.5 * 4) = 2, ceil(0.5 * 3) = 2.
        assert_eq!((publishing("load-1"), publishing("load-2")), (2, 2));
        let one_speaker = Scenario {
            rooms: 1,
            participants: 51,
            publish_share: 1.0 / 51.0,
            ..scenario()
        };
        assert_eq!(
            one_speaker.seats().iter().filter(|s| s.publishes).count(),
            1
        );
        let exactly = Scenario {
            rooms: 1,
            participants: 51,
            publishers_per_room: Some(1),
            ..scenario()
        };
        assert_eq!(exactly.seats().iter().filter(|s| s.publishes).count(), 1);
    }

    #[test]
    fn nonsense_is_refused_with_a_reason() {
        let bad = |f: fn(&mut Scenario)| {
            let mut s = scenario();
            f(&mut s);
            s.validate().expect_err("refused")
        };
        assert!(bad(|s| s.url = "ws://10.0.0.1:8080/x".into()).contains("loopback"));
        assert!(bad(|s| s.url = "http://127.0.0.1".into()).contains("ws://"));
        assert!(bad(|s| s.rooms = 0).contains("at least 1"));
        assert!(bad(|s| s.udp_ip = IpAddr::from([192, 168, 1, 2])).contains("loopback"));
        assert!(bad(|s| s.udp_ip = IpAddr::from([10, 200, 0, 1])).contains("loopback"));
        let janus = Scenario {
            target: Target::Janus,
            udp_ip: IpAddr::from([10, 200, 0, 1]),
            ..scenario()
        };
        assert!(janus.validate().is_ok());
        assert!(bad(|s| s.rooms = 9).contains("participants"));
        assert!(bad(|s| s.publish_share = 1.5).contains("share"));
        assert!(bad(|s| s.ramp_per_second = 0.0).contains("ramp"));
        assert!(bad(|s| s.duration = Duration::ZERO).contains("duration"));
        assert!(bad(|s| s.video_fps = 0).contains("frame rate"));
        assert!(scenario().validate().is_ok());
        let v6 = Scenario {
            url: "ws://[::1]:8080/api/v1/rtc".into(),
            ..scenario()
        };
        assert!(v6.validate().is_ok());
    }

    #[test]
    fn frames_make_the_bitrate_with_keyframes_included() {
        let fps = 30;
        let key_every = Duration::from_secs(2);
        let delta = frame_bytes(500_000, fps, key_every);
        let frames = 60.0;
        let bytes = (frames - 1.0 + f64::from(KEYFRAME_SCALE)) * delta as f64;
        let bps = bytes * 8.0 / 2.0;
        assert!((bps - 500_000.0).abs() / 500_000.0 < 0.01, "{bps}");
    }
}
