//! Send-side bandwidth estimation on a subscribe connection, in memory on a virtual clock: the
//! engine sends a video track to a full webrtc-rs client through a link of a given capacity
//! (a queue drained at that rate, dropping what would wait too long, as a home router does),
//! the client reports arrivals with TWCC feedback, and the engine's connection tells its room
//! the estimate GCC makes of them. Nothing is sent on any network.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use rtc::interceptor::Registry;
use rtc::peer_connection::configuration::RTCConfigurationBuilder;
use rtc::peer_connection::configuration::interceptor_registry::register_default_interceptors;
use rtc::peer_connection::configuration::media_engine::MediaEngine;
use rtc::peer_connection::sdp::RTCSessionDescription;
use rtc::peer_connection::state::RTCPeerConnectionState;
use rtc::peer_connection::{RTCPeerConnection, RTCPeerConnectionBuilder};
use rtc::sansio::Protocol;
use rtc::shared::{TaggedBytesMut, TransportContext, TransportProtocol};
use sfu::CodecSpec;
use sfu::config::Estimation;
use sfu::engine::conn::{ConnEvent, Local};
use sfu::engine::conns::Conns;
use sfu::engine::demux::{ConnId, Demux};
use sfu::engine::transport::Peer;
use sfu::links::LinkStats;
use sfu_core::{RtpOut, TrackId};

/// Addresses only in name: nothing is bound or sent.
fn server() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 7882))
}

fn client_addr() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 40000))
}

const TRACK: TrackId = TrackId(1);
const STEP: Duration = Duration::from_millis(1);

fn vp8() -> CodecSpec {
    CodecSpec {
        mime_type: "video/VP8".into(),
        clock_rate: 90_000,
        channels: 0,
        fmtp: String::new(),
    }
}

/// One direction of a path: a first-in first-out queue drained at `rate` bits per second
/// (unlimited when 0), then `delay` on the wire. A datagram that would wait in the queue
/// longer than `queue` is dropped, as a router's tail drop does.
struct Link {
    rate: u64,
    delay: Duration,
    queue: Duration,
    busy_until: Option<Instant>,
    in_flight: VecDeque<(Instant, BytesMut)>,
    dropped: usize,
}

impl Link {
    fn new(rate: u64, delay: Duration, queue: Duration) -> Link {
        Link {
            rate,
            delay,
            queue,
            busy_until: None,
            in_flight: VecDeque::new(),
            dropped: 0,
        }
    }

    fn send(&mut self, now: Instant, bytes: BytesMut) {
        let bits = (bytes.len() as u64 + 28) * 8; // with IP and UDP headers
        let out = match (bits * 1_000_000_000).checked_div(self.rate) {
            None => now, // an unlimited link
            Some(nanos) => {
                let start = self.busy_until.map_or(now, |b| b.max(now));
                if start - now > self.queue {
                    self.dropped += 1;
                    return;
                }
                let out = start + Duration::from_nanos(nanos);
                self.busy_until = Some(out);
                out
            }
        };
        self.in_flight.push_back((out + self.delay, bytes));
    }

    fn arrived(&mut self, now: Instant) -> Vec<BytesMut> {
        let mut due = Vec::new();
        while self.in_flight.front().is_some_and(|(at, _)| *at <= now) {
            if let Some((_, bytes)) = self.in_flight.pop_front() {
                due.push(bytes);
            }
        }
        due
    }
}

/// The engine's subscribe connection sending one video track to a webrtc-rs client.
struct Path {
    client: RTCPeerConnection,
    conns: Conns,
    id: ConnId,
    stats: Arc<LinkStats>,
    down: Link,
    up: Link,
    now: Instant,
    /// Every estimate the connection told its room, with when.
    estimates: Vec<(Duration, u64)>,
    start: Instant,
    seq: u16,
    frames: u32,
}

impl Path {
    fn new(estimation: Option<Estimation>, down: Link) -> Path {
        let start = Instant::now();
        let crypto = rtc::crypto::default_provider().unwrap();
        let local = Local {
            advertised: server(),
            tcp: false,
            estimation,
        };
        let mut conns = Conns::new(Demux::new(crypto), local, Arc::default());
        let stats = Arc::new(LinkStats::default());
        let (id, offer) = conns
            .offer(&[(TRACK, vp8())], stats.clone(), start)
            .unwrap();

        let mut media = MediaEngine::default();
        media.register_default_codecs().unwrap();
        let registry = register_default_interceptors(Registry::new(), &mut media).unwrap();
        let mut client = RTCPeerConnectionBuilder::new()
            .with_configuration(RTCConfigurationBuilder::new().build())
            .with_media_engine(media)
            .with_interceptor_registry(registry)
            .build(start)
            .unwrap();
        client
            .set_remote_description(start, RTCSessionDescription::offer(offer).unwrap())
            .unwrap();
        let answer = client.create_answer(None).unwrap();
        client.set_local_description(start, answer).unwrap();
        client
            .add_local_candidate(sfu::engine::conn::host_candidate(client_addr()).unwrap())
            .unwrap();
        let answer = client.local_description().unwrap().sdp;
        conns.get(id).unwrap().apply_answer(&answer, start).unwrap();
        Path {
            client,
            conns,
            id,
            stats,
            down,
            up: Link::new(0, Duration::from_millis(20), Duration::ZERO),
            now: start,
            estimates: Vec::new(),
            start,
            seq: 0,
            frames: 0,
        }
    }

    fn connected(&self) -> bool {
        self.conns.state(self.id) == Some(RTCPeerConnectionState::Connected)
    }

    fn events(&mut self) {
        while let Some(event) = self.conns.get(self.id).and_then(|c| c.poll()) {
            if let ConnEvent::Estimate { bitrate } = event {
                self.estimates.push((self.now - self.start, bitrate));
            }
        }
    }

    /// One millisecond: what arrives is read on each side, timers run, and what each side
    /// made goes on its link.
    fn step(&mut self) {
        self.now += STEP;
        let now = self.now;
        for message in self.up.arrived(now) {
            self.conns.deliver(now, Peer::udp(client_addr()), &message);
            self.events();
        }
        let transport = TransportContext {
            local_addr: client_addr(),
            peer_addr: server(),
            ecn: None,
            transport_protocol: TransportProtocol::UDP,
        };
        for message in self.down.arrived(now) {
            let _ = self.client.handle_read(TaggedBytesMut {
                now,
                transport,
                message,
            });
        }
        if self.client.poll_timeout().is_some_and(|t| t <= now) {
            let _ = self.client.handle_timeout(now);
        }
        while self.client.poll_event().is_some() {}
        while self.client.poll_read().is_some() {}
        while let Some(out) = self.client.poll_write() {
            self.up.send(now, out.message);
        }
        for id in self.conns.run_timers(now) {
            while self.conns.get(id).and_then(|c| c.poll()).is_some() {}
        }
        self.events();
        let down = &mut self.down;
        self.conns
            .flush(|_, bytes| down.send(now, BytesMut::from(bytes)));
    }

    /// A frame of `bitrate`'s worth at 30 frames a second, in packets of at most 1100 bytes.
    fn send_frame(&mut self, bitrate: u64) {
        let bytes = (bitrate / 8 / 30) as usize;
        let packets = bytes.div_ceil(1100);
        let ssrc = self.conns.get(self.id).unwrap().send_ssrc(TRACK).unwrap();
        let timestamp = self.frames.wrapping_mul(3000);
        for i in 0..packets {
            let header = RtpOut {
                ssrc,
                seq: self.seq,
                timestamp,
            };
            self.seq = self.seq.wrapping_add(1);
            let payload = Bytes::from(vec![0x90; bytes / packets]);
            let conn = self.conns.get(self.id).unwrap();
            conn.send_rtp(self.now, TRACK, header, i + 1 == packets, payload);
        }
        self.frames += 1;
    }

    /// Connects, then sends video at `bitrate` for `secs` of virtual time; when `follow`, at
    /// no more than the latest estimate, as the allocator would.
    fn run(&mut self, bitrate: u64, secs: u64) {
        self.run_following(bitrate, secs, false);
    }

    fn run_following(&mut self, bitrate: u64, secs: u64, follow: bool) {
        for _ in 0..5_000 {
            if self.connected() {
                break;
            }
            self.step();
        }
        assert!(self.connected(), "the subscribe connection came up");
        let began = self.now;
        let mut next_frame = self.now;
        while self.now < began + Duration::from_secs(secs) {
            if self.now >= next_frame {
                let estimate = self.estimates.last().map(|(_, e)| *e);
                let rate = match estimate {
                    Some(e) if follow => bitrate.min(e),
                    _ => bitrate,
                };
                self.send_frame(rate);
                next_frame += Duration::from_micros(33_333);
            }
            self.step();
        }
    }
}

fn estimation(initial: u64) -> Option<Estimation> {
    Some(Estimation {
        initial,
        min: 100_000,
        max: 50_000_000,
    })
}

/// 1.5 Mbit/s of video into a 500 kbit/s link: the queue grows, then overflows. GCC sees the
/// delay and the loss, and the estimate comes down to what the link carries.
#[test]
fn a_narrow_link_brings_the_estimate_down_to_what_it_carries() {
    let narrow = Link::new(
        500_000,
        Duration::from_millis(20),
        Duration::from_millis(300),
    );
    let mut path = Path::new(estimation(5_000_000), narrow);
    path.run(1_500_000, 10);
    println!(
        "narrow link: {} datagrams dropped; estimates told (virtual time, bit/s): {:?}",
        path.down.dropped, path.estimates
    );
    assert!(path.down.dropped > 0, "the link was overrun");
    let &(at, last) = path
        .estimates
        .last()
        .expect("the connection told an estimate");
    assert!(
        (100_000..=650_000).contains(&last),
        "the last estimate ({last} bit/s at {at:?}) fits a 500 kbit/s link; all: {:?}",
        path.estimates
    );
    assert_eq!(
        path.stats.read().estimate,
        Some(last),
        "the admin view reads it too"
    );
}

/// A sender that keeps within the estimate, as the allocator does: the loss stops, and the
/// estimate settles near what the link carries instead of at the floor.
#[test]
fn following_the_estimate_settles_it_near_the_link_rate() {
    let narrow = Link::new(
        500_000,
        Duration::from_millis(20),
        Duration::from_millis(300),
    );
    let mut path = Path::new(estimation(5_000_000), narrow);
    path.run_following(1_500_000, 20, true);
    println!(
        "following: {} dropped; estimates {:?}",
        path.down.dropped, path.estimates
    );
    let settled: Vec<u64> = (path.estimates.iter())
        .filter(|(at, _)| *at > Duration::from_secs(12))
        .map(|(_, e)| *e)
        .collect();
    assert!(
        !settled.is_empty(),
        "estimates kept coming: {:?}",
        path.estimates
    );
    assert!(
        settled.iter().all(|e| (200_000..=800_000).contains(e)),
        "the estimate settles near 500 kbit/s: {:?}",
        path.estimates
    );
    // It climbs no faster than 8% a second (a little over, for feedback that came late).
    for pair in path.estimates.windows(2) {
        let ((t0, e0), (t1, e1)) = (pair[0], pair[1]);
        let secs = (t1 - t0).as_secs_f64().min(1.0);
        assert!(
            e1 as f64 <= e0 as f64 * 1.08f64.powf(secs) + 1.0,
            "{e0} at {t0:?} to {e1} at {t1:?}"
        );
    }
}

/// The same video on a wide link: feedback keeps coming, and the estimate never falls below
/// where it started.
#[test]
fn a_wide_link_keeps_the_estimate_up() {
    let wide = Link::new(
        100_000_000,
        Duration::from_millis(20),
        Duration::from_millis(300),
    );
    let mut path = Path::new(estimation(2_000_000), wide);
    path.run(1_500_000, 10);
    assert_eq!(path.down.dropped, 0);
    assert!(
        !path.estimates.is_empty(),
        "feedback moved the estimate at least once"
    );
    let lowest = path.estimates.iter().map(|(_, e)| *e).min().unwrap_or(0);
    assert!(
        lowest >= 2_000_000,
        "no estimate below the start on a clean path: {:?}",
        path.estimates
    );
}

/// Starting at the ceiling, as the server does: the first feedback tells the start, and a
/// clean path never moves it.
#[test]
fn at_the_ceiling_a_clean_path_tells_the_start_once() {
    let wide = Link::new(
        100_000_000,
        Duration::from_millis(20),
        Duration::from_millis(300),
    );
    let start = Estimation::default();
    let mut path = Path::new(Some(start), wide);
    path.run(1_500_000, 5);
    let told: Vec<u64> = path.estimates.iter().map(|(_, e)| *e).collect();
    assert_eq!(told, vec![start.max], "{:?}", path.estimates);
}

/// With estimation off, a subscribe connection estimates nothing and tells no estimate.
#[test]
fn without_estimation_no_estimate_is_told() {
    let narrow = Link::new(
        500_000,
        Duration::from_millis(20),
        Duration::from_millis(300),
    );
    let mut path = Path::new(None, narrow);
    path.run(1_500_000, 5);
    assert!(path.down.dropped > 0, "the link was overrun");
    assert!(path.estimates.is_empty(), "{:?}", path.estimates);
    assert_eq!(path.stats.read().estimate, None);
}
