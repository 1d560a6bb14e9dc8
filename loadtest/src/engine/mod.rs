//! `cohort-loadtest engine`: the in-memory benchmark of the engine's cost per forwarded packet.
//!
//! The whole media server (`sfu::Sfu`, one engine thread with its rooms) runs on a network in
//! memory (`sfu::engine::memnet`) instead of a UDP socket, so the figure is the engine's own
//! work (rtc's SRTP, interceptors and DTLS-SRTP state, our demux, room and forwarding) without
//! the kernel's network stack. The clients are webrtc-rs's sans-IO peer connections on this
//! thread: publishers send Opus and VP8 packets, everyone else receives them.
//!
//! The figure is the engine thread's CPU time (from `/proc/self/task/<tid>/schedstat`) over
//! the measured packets, divided by the packets it forwarded. Run under callgrind it is an
//! instruction count instead (`loadtest/engine-bench.sh`).

mod measure;
mod peer;
mod plan;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bytes::Bytes;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use protocol::{ServerMessage, TrackMeta, TrackSource};
use rtc::peer_connection::state::RTCPeerConnectionState;
use rtc::rtp_transceiver::RTCRtpSenderId;
use sfu::engine::memnet::{MemoryNet, MemorySocket};
use sfu::{CodecSpec, Counters, SessionHandle, Sfu, SfuConfig};
use tokio::sync::mpsc;

use measure::{callgrind, forwarded, own_cpu, thread_cpu};
pub(crate) use peer::Error;
use peer::Peer;
pub use plan::{EngineBench, EngineReport};

/// How long a run may take in all, and without any progress.
const DEADLINE: Duration = Duration::from_secs(600);
const STALL: Duration = Duration::from_secs(10);
/// Rounds in flight before the publishers wait for the subscribers to catch up.
const WINDOW: u64 = 16;
/// The engine's address on the memory network, and where the clients' addresses start.
const SERVER: ([u8; 4], u16) = ([10, 0, 0, 1], 7882);
const CLIENTS: [u8; 4] = [10, 0, 1, 1];

struct Sending {
    sender: RTCRtpSenderId,
    mime: &'static str,
    ssrc: u32,
    payload_type: Option<u8>,
    seq: u16,
    timestamp: u32,
}

struct Member {
    handle: SessionHandle,
    events: mpsc::Receiver<ServerMessage>,
    publish: Option<(Peer, [Sending; 2])>,
    subscribe: Option<Peer>,
    subscribe_addr: SocketAddr,
    /// A keyframe is owed: the first, or one a subscriber asked for.
    keyframe_due: bool,
    keyframes_asked: u64,
}

fn opus() -> CodecSpec {
    CodecSpec {
        mime_type: "audio/opus".into(),
        clock_rate: 48000,
        channels: 2,
        fmtp: "minptime=10;useinbandfec=1".into(),
    }
}

fn vp8() -> CodecSpec {
    CodecSpec {
        mime_type: "video/VP8".into(),
        clock_rate: 90000,
        channels: 0,
        fmtp: String::new(),
    }
}

fn client_addr(i: usize) -> SocketAddr {
    let ip = IpAddr::from(CLIENTS);
    SocketAddr::new(ip, 20000 + u16::try_from(i).unwrap_or(u16::MAX - 20000))
}

/// The clients' side of a run, on one thread.
struct Clients {
    rt: tokio::runtime::Handle,
    socket: MemorySocket,
    members: Vec<Member>,
    /// Which member's publish (false) or subscribe (true) peer holds an address.
    by_addr: HashMap<SocketAddr, (usize, bool)>,
    cfg: EngineBench,
    /// Packets the publishers sent, and (sent, delivered) when the count of what is in flight
    /// starts: packets sent before a subscriber was connected never reach it.
    sent: u64,
    base: (u64, u64),
    /// For the report when a run is stuck.
    net: MemoryNet,
    counters: std::sync::Arc<Counters>,
}

/// Runs the benchmark on the current thread, which must not be a runtime's worker: it blocks
/// on `rt` for the few asynchronous calls into the server.
pub fn run(cfg: &EngineBench, rt: tokio::runtime::Handle) -> Result<EngineReport, Error> {
    let started = Instant::now();
    let net = MemoryNet::new();
    let members = cfg.publishers + cfg.listeners;
    let config = SfuConfig {
        bind_ip: IpAddr::from(SERVER.0),
        udp_port: SERVER.1,
        engines: 1,
        max_participants_per_room: members.max(1),
        // All of estimation runs (stamps, send history, feedback, GCC), but pinned at a rate
        // no run reaches: the run pushes packets as fast as the engine takes them (each video
        // at tens of Mbit/s), which a real estimate would take for congestion and a 50 Mbit/s
        // ceiling could not carry, and the benchmark measures forwarding, every packet to
        // everyone.
        estimation: cfg.estimation.then_some(sfu::config::Estimation {
            initial: plan::UNLIMITED_BPS,
            min: plan::UNLIMITED_BPS,
            max: plan::UNLIMITED_BPS,
        }),
        ..SfuConfig::default()
    };
    let sfu = Sfu::in_memory(config, &net)?;
    let addrs: Vec<SocketAddr> = (0..members * 2).map(client_addr).collect();
    let socket = net.bind(&addrs)?;
    let mut clients = Clients {
        rt,
        socket,
        members: Vec::new(),
        by_addr: HashMap::new(),
        cfg: cfg.clone(),
        sent: 0,
        base: (0, 0),
        net: net.clone(),
        counters: sfu.counters(),
    };
    for i in 0..members {
        clients.join(&sfu, i, i < cfg.publishers)?;
        if !cfg.join_gap.is_zero() {
            clients.spin_for(cfg.join_gap);
        }
    }
    // Everyone connected both ways, and then rounds delivered whole, to everyone, three in a
    // row: every subscriber has every other publisher's audio and video (a video stream is
    // forwarded from its first keyframe, which the subscriber's request brings).
    let connected = |c: &Clients| -> bool {
        c.members.iter().enumerate().all(|(i, m)| {
            // A lone publisher has nobody to receive.
            let others = cfg.publishers - usize::from(i < cfg.publishers);
            m.publish.as_ref().is_none_or(|(p, s)| {
                p.state == RTCPeerConnectionState::Connected
                    && s.iter().all(|s| s.payload_type.is_some())
            }) && (others == 0
                || m.subscribe
                    .as_ref()
                    .is_some_and(|p| p.state == RTCPeerConnectionState::Connected))
        })
    };
    let per_round = clients.expected_per_round();
    let setup_deadline = Instant::now() + Duration::from_secs(120);
    let mut whole = 0;
    while whole < 3 {
        if Instant::now() > setup_deadline {
            return Err(clients.stuck("setting up").into());
        }
        let before = clients.delivered();
        clients.send_round();
        if !connected(&clients) {
            // A round now and then opens the tracks (and so the subscriptions) without
            // flooding handshakes that are still under way, however slowly the engine runs
            // (under callgrind, about 50 times slower).
            clients.spin_for(Duration::from_millis(200));
            whole = 0;
            continue;
        }
        // Waits for the whole round, or a second (a video stream held for its keyframe).
        let end = Instant::now() + Duration::from_secs(1);
        while clients.delivered() - before < per_round && Instant::now() < end {
            clients.spin_for(Duration::from_millis(2));
        }
        whole = if clients.delivered() - before == per_round {
            whole + 1
        } else {
            0
        };
    }
    clients.base = (clients.sent, clients.delivered());
    for _ in 0..cfg.warmup {
        clients.send_whole_round()?;
        clients.spin_until_within(WINDOW)?;
    }
    // Nothing in flight as the measured rounds start, nor once they end, however slowly the
    // engine runs: each packet is counted in the window it was sent in.
    clients.spin_until_within(0)?;
    let setup = started.elapsed();

    // The measured rounds.
    let counters = sfu.counters();
    let (delivered0, forwarded0) = (clients.delivered(), forwarded(&counters));
    // The datagrams from the clients' side of the network: each is counted before the other
    // end can read it, so the counts are whole once everything is read.
    let (in0, out0) = (clients.socket.sent(), clients.socket.arrived());
    let calls0 = counters.receive_calls.load(Ordering::Relaxed);
    callgrind("-z")?;
    let engine0 = thread_cpu("cohort-engine-0").ok_or("no engine thread found")?;
    let (own0, wall0) = (own_cpu(), Instant::now());
    let mut sent = 0;
    for _ in 0..cfg.rounds {
        sent += clients.send_whole_round()?;
        clients.spin_until_within(WINDOW)?;
    }
    clients.spin_until_within(0)?;
    let wall = wall0.elapsed();
    callgrind("-d")?;
    let engine_cpu = thread_cpu("cohort-engine-0").ok_or("no engine thread found")? - engine0;
    let clients_cpu = own_cpu() - own0;
    let (in1, out1) = (clients.socket.sent(), clients.socket.arrived());
    // Added by the engine after each turn: the last turn's may be missing.
    let calls1 = counters.receive_calls.load(Ordering::Relaxed);
    let report = EngineReport {
        packets_sent: sent,
        forwarded: forwarded(&counters) - forwarded0,
        delivered: clients.delivered() - delivered0,
        expected: per_round * cfg.rounds as u64,
        engine_cpu,
        clients_cpu,
        wall,
        datagrams_in: in1 - in0,
        datagrams_out: out1 - out0,
        receive_calls: calls1 - calls0,
        setup,
    };
    drop(clients);
    drop(sfu);
    Ok(report)
}

impl Clients {
    fn join(&mut self, sfu: &Sfu, i: usize, publishes: bool) -> Result<(), Error> {
        let now = Instant::now();
        let session = self
            .rt
            .block_on(sfu.join("bench", &format!("member {i}")))?;
        let (pub_addr, sub_addr) = (client_addr(2 * i), client_addr(2 * i + 1));
        let mut member = Member {
            handle: session.handle,
            events: session.events,
            publish: None,
            subscribe: None,
            subscribe_addr: sub_addr,
            keyframe_due: true,
            keyframes_asked: 0,
        };
        if publishes {
            let mut pc = Peer::new(pub_addr, now)?;
            let stream = format!("stream-{i}");
            let base = 0x1000_0000 + u32::try_from(i).unwrap_or(0) * 16;
            let audio = pc.add_track(&stream, &format!("audio-{i}"), &opus(), base + 1)?;
            let video = pc.add_track(&stream, &format!("video-{i}"), &vp8(), base + 2)?;
            let offer = pc.offer(now)?;
            let tracks = vec![
                TrackMeta {
                    track_id: format!("audio-{i}"),
                    source: TrackSource::Microphone,
                    muted: false,
                    layers: Vec::new(),
                },
                TrackMeta {
                    track_id: format!("video-{i}"),
                    source: TrackSource::Camera,
                    muted: false,
                    layers: Vec::new(),
                },
            ];
            self.rt
                .block_on(member.handle.publish_offer(offer, tracks))?;
            let sending = |sender, mime, ssrc| Sending {
                sender,
                mime,
                ssrc,
                payload_type: None,
                seq: 0,
                timestamp: 0,
            };
            member.publish = Some((
                pc,
                [
                    sending(audio, "audio/opus", base + 1),
                    sending(video, "video/VP8", base + 2),
                ],
            ));
            self.by_addr.insert(pub_addr, (i, false));
        }
        self.by_addr.insert(sub_addr, (i, true));
        self.members.push(member);
        Ok(())
    }

    /// Subscribers' packets due in one round: each publisher's two, to everyone else.
    fn expected_per_round(&self) -> u64 {
        let n = self.members.len() as u64;
        self.cfg.publishers as u64 * 2 * (n - 1)
    }

    fn delivered(&self) -> u64 {
        self.members
            .iter()
            .filter_map(|m| m.subscribe.as_ref())
            .map(|p| p.rtp)
            .sum()
    }

    /// [`Clients::send_round`], failing unless every publisher sent both packets (one whose
    /// connection dropped sends nothing, and the run would measure less than it says).
    fn send_whole_round(&mut self) -> Result<u64, Error> {
        let sent = self.send_round();
        if sent != 2 * self.cfg.publishers as u64 {
            return Err(self.stuck("sending (a publisher could not send)").into());
        }
        Ok(sent)
    }

    /// Each publisher sends one audio and one video packet; how many were sent.
    fn send_round(&mut self) -> u64 {
        let now = Instant::now();
        let (audio_bytes, video_bytes) = (self.cfg.audio_bytes, self.cfg.video_bytes);
        let mut sent = 0;
        for (i, m) in self.members.iter_mut().enumerate() {
            let Some((pc, senders)) = m.publish.as_mut() else {
                continue;
            };
            if pc.state != RTCPeerConnectionState::Connected {
                continue;
            }
            if pc.keyframe_requests > m.keyframes_asked {
                m.keyframes_asked = pc.keyframe_requests;
                m.keyframe_due = true;
            }
            for (k, s) in senders.iter_mut().enumerate() {
                let Some(pt) = s.payload_type else { continue };
                let stamp = crate::payload::Stamp {
                    publisher: u32::try_from(i).unwrap_or(0),
                    counter: u64::from(s.seq),
                    sent_us: 0,
                };
                let (payload, step) = if k == 0 {
                    (crate::payload::audio(stamp, audio_bytes), 960)
                } else {
                    let key = std::mem::take(&mut m.keyframe_due);
                    (crate::payload::vp8(stamp, key, video_bytes), 3000)
                };
                let header = rtc::rtp::header::Header {
                    version: 2,
                    marker: k == 1,
                    payload_type: pt,
                    sequence_number: s.seq,
                    timestamp: s.timestamp,
                    ssrc: s.ssrc,
                    ..Default::default()
                };
                if pc.write_rtp(now, s.sender, header, Bytes::from(payload)) {
                    sent += 1;
                }
                s.seq = s.seq.wrapping_add(1);
                s.timestamp = s.timestamp.wrapping_add(step);
            }
        }
        self.sent += sent;
        sent
    }

    /// One pass over everything: datagrams in, the server's messages, every peer's timers and
    /// output; whether anything happened.
    fn spin(&mut self) -> Result<bool, Error> {
        let now = Instant::now();
        let mut busy = false;
        loop {
            let batch = self.socket.take();
            if batch.is_empty() {
                break;
            }
            busy = true;
            for d in batch {
                let Some(&(i, sub)) = self.by_addr.get(&d.to) else {
                    continue;
                };
                let m = &mut self.members[i];
                let peer = if sub {
                    m.subscribe.as_mut()
                } else {
                    m.publish.as_mut().map(|p| &mut p.0)
                };
                if let Some(p) = peer {
                    p.read(now, d.from, d.bytes);
                }
            }
        }
        for i in 0..self.members.len() {
            busy |= self.server_messages(i, now)?;
            let m = &mut self.members[i];
            if let Some((p, _)) = m.publish.as_mut() {
                busy |= p.pump(now, &mut self.socket);
            }
            if let Some(p) = m.subscribe.as_mut() {
                busy |= p.pump(now, &mut self.socket);
            }
        }
        self.socket.deliver();
        Ok(busy)
    }

    fn server_messages(&mut self, i: usize, now: Instant) -> Result<bool, Error> {
        let mut busy = false;
        while let Ok(msg) = self.members[i].events.try_recv() {
            busy = true;
            let m = &mut self.members[i];
            match msg {
                ServerMessage::PublishAnswer { sdp, .. } => {
                    if let Some((pc, senders)) = m.publish.as_mut() {
                        pc.apply_answer(sdp, now)?;
                        for s in senders.iter_mut() {
                            s.payload_type = pc.payload_type(s.sender, s.mime);
                        }
                    }
                }
                ServerMessage::SubscribeOffer { sdp } => {
                    if m.subscribe.is_none() {
                        m.subscribe = Some(Peer::new(m.subscribe_addr, now)?);
                    }
                    let answer = m
                        .subscribe
                        .as_mut()
                        .ok_or("no subscribe peer")?
                        .answer(sdp, now)?;
                    self.rt.block_on(m.handle.subscribe_answer(answer))?;
                }
                ServerMessage::Leave { reason } => {
                    return Err(format!("the server said leave: {reason:?}").into());
                }
                _ => {}
            }
        }
        Ok(busy)
    }

    /// Spins, sleeping on the network while idle, for `d`.
    fn spin_for(&mut self, d: Duration) {
        let end = Instant::now() + d;
        while Instant::now() < end {
            match self.spin() {
                Ok(true) => {}
                Ok(false) => self.sleep(end),
                Err(e) => {
                    tracing::warn!("a client failed: {e}");
                    self.sleep(end);
                }
            }
        }
    }

    fn sleep(&mut self, until: Instant) {
        let next = self
            .members
            .iter_mut()
            .flat_map(|m| {
                let a = m.publish.as_mut().and_then(|(p, _)| p.next_timer());
                let b = m.subscribe.as_mut().and_then(Peer::next_timer);
                [a, b]
            })
            .flatten()
            .chain([until])
            .min()
            .unwrap_or(until);
        let ms = next
            .saturating_duration_since(Instant::now())
            .as_micros()
            .div_ceil(1000)
            .min(5);
        let mut fds = [PollFd::new(self.socket.ready_fd(), PollFlags::POLLIN)];
        let _ = poll(&mut fds, PollTimeout::from(u16::try_from(ms).unwrap_or(5)));
    }

    /// Spins until the subscribers are within `rounds` rounds of what was sent (0: until
    /// they have read everything).
    fn spin_until_within(&mut self, rounds: u64) -> Result<(), Error> {
        let per_round = self.expected_per_round();
        let mut last = (self.delivered(), Instant::now());
        loop {
            let lag = self.lag();
            if lag <= rounds * per_round {
                return Ok(());
            }
            if !self.spin()? {
                self.sleep(Instant::now() + Duration::from_millis(1));
            }
            let d = self.delivered();
            if d != last.0 {
                last = (d, Instant::now());
            } else if last.1.elapsed() > STALL {
                return Err(self.stuck("forwarding").into());
            }
        }
    }

    /// Packets sent and not yet read by the subscribers who should have them.
    fn lag(&self) -> u64 {
        let others = self.members.len() as u64 - 1;
        let sent = self.sent - self.base.0;
        (sent * others).saturating_sub(self.delivered() - self.base.1)
    }

    fn stuck(&self, doing: &str) -> String {
        let states: Vec<String> = self
            .members
            .iter()
            .map(|m| {
                format!(
                    "{:?}/{:?}",
                    m.publish
                        .as_ref()
                        .map(|(p, _)| (p.state, p.keyframe_requests)),
                    m.subscribe.as_ref().map(|p| (p.state, p.rtp))
                )
            })
            .collect();
        let c = &self.counters;
        let load = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
        format!(
            "stuck {doing}: sent {}, the engine received {}+{} and forwarded {} \
             (dropped: queue full {}, no route {}, too old {}; datagrams dropped {:?}); \
             keyframe requests {} received, {} sent; the network lost {} unroutable, {} \
             overflowed; members ((publish state, keyframe requests read) / (subscribe state, RTP read)): {}",
            self.sent,
            load(&c.received_packets[0]),
            load(&c.received_packets[1]),
            forwarded(c),
            load(&c.dropped_queue_full),
            load(&c.dropped_no_route),
            load(&c.dropped_too_old),
            c.datagrams_dropped.iter().map(load).collect::<Vec<_>>(),
            load(&c.keyframe_requests_received),
            load(&c.keyframe_requests_sent),
            self.net.unroutable(),
            self.net.overflowed(),
            states.join(" ")
        )
    }
}

/// The bound on a whole run, for the caller's timeout.
pub fn deadline() -> Duration {
    DEADLINE
}
