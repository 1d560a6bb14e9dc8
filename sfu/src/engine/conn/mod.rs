//! One peer connection on an engine: webrtc-rs's sans-IO `RTCPeerConnection`, an ICE-lite agent
//! with the credentials the engine chose and one host candidate, the engine's advertised
//! address. A publish connection answers the client's offers and reads its tracks; a subscribe
//! connection offers the tracks the room forwards and writes their packets. The engine feeds it
//! the datagrams its demux routed here and takes its datagrams and timers back; nothing here
//! touches a socket, and every call into rtc's peer connection lives in this module (what it
//! reads in `read.rs`, what it writes in `write.rs`).

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use protocol::{PcTarget, TrackKind};
use rtc::ice::mdns::MulticastDnsMode;
use rtc::ice::tcp_type::TcpType;
use rtc::interceptor::{CongestionControlBuilder, Gcc, NackGeneratorBuilder, Registry, Slot};
use rtc::media_stream::MediaStreamTrack;
use rtc::peer_connection::configuration::RTCConfigurationBuilder;
use rtc::peer_connection::configuration::interceptor_registry::{
    configure_rtcp_reports, configure_simulcast_extension_headers, configure_twcc_receiver_only,
    configure_twcc_sender_only,
};
use rtc::peer_connection::configuration::media_engine::MediaEngine;
use rtc::peer_connection::configuration::setting_engine::SettingEngineBuilder;
use rtc::peer_connection::sdp::RTCSessionDescription;
use rtc::peer_connection::state::RTCPeerConnectionState;
use rtc::peer_connection::transport::{
    CandidateConfig, CandidateHostConfig, RTCIceCandidate, RTCIceCandidateInit,
};
use rtc::peer_connection::{RTCPeerConnection, RTCPeerConnectionBuilder};
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodec, RTCRtpCodingParameters, RTCRtpEncodingParameters, RtpCodecKind,
};
use rtc::rtp_transceiver::{
    RTCRtpReceiverId, RTCRtpSenderId, RTCRtpTransceiverDirection, RTCRtpTransceiverInit,
};
use rtc::sansio::Protocol;
use rtc::shared::{TransportContext, TransportProtocol};
use sfu_core::{RtpMeta, TrackId};

use super::transport::{Peer, Proto};
use crate::config::Estimation;
use crate::error::SfuError;
use crate::links::{LinkState, LinkStats};
use crate::media::codecs::{as_registered, media_engine, preferences, video_feedback};
use crate::media::estimator::Damped;
use crate::media::quality::{QualityCtx, with_quality_probe};
use crate::media::{CodecSpec, audio_level_id};

mod read;
mod write;

/// Silence from a client (no ICE check) before its connection is disconnected, and as long
/// again before it has failed.
const CHECKS_MISSED: std::time::Duration = std::time::Duration::from_secs(15);

/// What a connection is told of its own side.
#[derive(Debug, Clone)]
pub struct Local {
    /// The address clients reach the engine at (`--public-ip` and the engine's port): the one
    /// host candidate, and the local address of everything it reads.
    pub advertised: SocketAddr,
    /// Whether the engine listens for ICE-TCP there too: then a `tcptype passive` host
    /// candidate at the same address and port is offered beside the UDP one.
    pub tcp: bool,
    /// Bandwidth estimation on subscribe connections, when on.
    pub estimation: Option<Estimation>,
}

/// What a connection has to tell its room.
#[derive(Debug)]
pub enum ConnEvent {
    /// The connection's state changed.
    State(LinkState),
    /// A publisher's track sent its first packet.
    TrackOpened {
        track: TrackId,
        /// The publisher's own `a=msid` track id.
        msid: String,
        codec: CodecSpec,
        /// A simulcast track's RIDs in the order of the offer (lowest first, as clients send
        /// them): its layers 0, 1, ... Empty when it is not simulcast.
        rids: Vec<String>,
    },
    /// A publisher's track is no longer sent (its m-section stopped receiving).
    TrackEnded { track: TrackId },
    Rtp {
        track: TrackId,
        kind: TrackKind,
        meta: RtpMeta,
        payload: Bytes,
    },
    /// A subscriber asks for a keyframe of a track it is sent.
    KeyframeRequest { track: TrackId },
    /// A subscriber lost packets of a track it is sent: (packet id, bitmask) pairs.
    Nack {
        track: TrackId,
        pairs: Vec<(u16, u16)>,
    },
    /// The subscriber's link is estimated to carry this many bits per second (it changed).
    Estimate { bitrate: u64 },
}

/// A track a publisher sends us.
struct Inbound {
    track: TrackId,
    receiver: RTCRtpReceiverId,
    /// The SSRC of each layer seen so far, with its layer (one entry unless simulcast).
    ssrcs: Vec<(u32, u8)>,
    /// A simulcast track's RIDs, lowest layer first.
    rids: Vec<String>,
    kind: TrackKind,
}

impl Inbound {
    fn layer_of(&self, ssrc: u32) -> Option<u8> {
        self.ssrcs.iter().find(|(s, _)| *s == ssrc).map(|(_, l)| *l)
    }
}

/// A track we send a subscriber.
struct Outbound {
    sender: RTCRtpSenderId,
    /// rtc's id for the sending track: the wire id the subscriber sees in `a=msid`.
    name: String,
    ssrc: u32,
    mime_type: String,
    /// Negotiated once the subscriber's answer is applied.
    payload_type: Option<u8>,
}

pub struct Conn {
    pc: RTCPeerConnection,
    local: SocketAddr,
    state: RTCPeerConnectionState,
    stats: Arc<LinkStats>,
    /// The audio level extension's id in the publisher's latest offer; 0 when not offered.
    audio_level_id: u8,
    /// By rtc's track id (the publisher's msid track id).
    inbound: HashMap<String, Inbound>,
    outbound: HashMap<TrackId, Outbound>,
    /// Our track for rtc's id of a sending track, for the feedback rtc hands over by that id.
    outbound_names: HashMap<String, TrackId>,
    /// ICE checks that came before the client's description: the client starts checking as
    /// soon as it has our offer, before its answer reaches us, and rtc can verify nothing
    /// until it has the client's credentials. Kept (at most [`EARLY_CHECKS`]) and read once
    /// the answer is applied, so the first connection waits for no retransmission.
    early: Vec<(Instant, Peer, BytesMut)>,
    /// When a datagram was last read while the connection is not up yet: once rtc has taken
    /// in the events it raised, a timeout at that instant sends what they queued (see
    /// [`Conn::poll`]).
    setting_up: Option<Instant>,
    /// What rtc wrote and the engine has not collected yet: while the connection is being set
    /// up, answers to ICE checks first (see [`Conn::poll_transmit`]); once it is up, what a
    /// burst of forwarded packets made (see [`Conn::send_rtp`]).
    out: VecDeque<(Peer, BytesMut)>,
    /// Packets written to rtc since its writes were last taken out.
    unflushed: usize,
    /// The estimate last told to the room ([`ConnEvent::Estimate`]), 0 before any.
    estimate_told: u64,
}

/// ICE checks kept for a connection whose client's description has not come yet.
const EARLY_CHECKS: usize = 16;

pub(crate) fn rtc_err(e: impl std::fmt::Display) -> SfuError {
    SfuError::WebRtc(e.to_string())
}

/// The UDP host candidate at `addr`, as rtc takes a local candidate (the engine's, and a test
/// or benchmark client's).
pub fn host_candidate(addr: SocketAddr) -> Result<RTCIceCandidateInit, SfuError> {
    candidate(addr, Proto::Udp)
}

/// The host candidate at `addr` over `proto`: a TCP one is `tcptype passive` (RFC 6544), the
/// engine only accepting connections.
fn candidate(addr: SocketAddr, proto: Proto) -> Result<RTCIceCandidateInit, SfuError> {
    let (network, tcp_type) = match proto {
        Proto::Udp => ("udp", TcpType::Unspecified),
        Proto::Tcp => ("tcp", TcpType::Passive),
    };
    let host = CandidateHostConfig {
        base_config: CandidateConfig {
            network: network.to_owned(),
            address: addr.ip().to_string(),
            port: addr.port(),
            component: 1,
            ..Default::default()
        },
        tcp_type,
    }
    .new_candidate_host()
    .map_err(rtc_err)?;
    RTCIceCandidate::from(&host).to_json().map_err(rtc_err)
}

/// Where rtc sends a datagram.
fn peer_of(t: &TransportContext) -> Peer {
    Peer {
        proto: match t.transport_protocol {
            TransportProtocol::TCP => Proto::Tcp,
            _ => Proto::Udp,
        },
        addr: t.peer_addr,
    }
}

fn invalid_sdp(e: impl std::fmt::Display) -> SfuError {
    SfuError::InvalidSdp(e.to_string())
}

/// The server's interceptor chain, RTCP reports and simulcast header extensions on both sides,
/// and our one probe stage, which lets PLI/FIR/NACK reach us, reads the reception reports for
/// link quality and takes the congestion controller's estimate.
/// - A publish connection generates NACKs toward its publisher and reports arrivals (TWCC) for
///   the publisher's own congestion control.
/// - A subscribe connection stamps what it sends with transport-wide sequence numbers and, with
///   estimation on, runs GCC on the subscriber's feedback (see [`Estimation`]). It has no NACK
///   responder, because `sfu-core` answers subscribers' NACKs from its own per-subscription
///   history, and no pacer: what it forwards is already paced by each publisher's sender, and a
///   pacer here would queue every forwarded packet behind a timer.
fn interceptors(
    media: &mut MediaEngine,
    side: PcTarget,
    estimation: Option<Estimation>,
    quality: QualityCtx,
) -> Result<Registry, SfuError> {
    configure_simulcast_extension_headers(media).map_err(rtc_err)?;
    let registry = match (side, estimation) {
        (PcTarget::Publish, _) => {
            let nacks =
                Registry::new().with(Slot::NackGenerator, NackGeneratorBuilder::new().build());
            configure_twcc_receiver_only(nacks, media).map_err(rtc_err)?
        }
        (PcTarget::Subscribe, None) => Registry::new(),
        (PcTarget::Subscribe, Some(e)) => {
            let gcc = Gcc::new(e.initial as f64, e.min as f64, e.max as f64);
            let cc = Registry::new().with(
                Slot::CongestionControl,
                CongestionControlBuilder::new(Damped::new(gcc, e.min as f64)).build(),
            );
            configure_twcc_sender_only(cc, media).map_err(rtc_err)?
        }
    };
    let registry = configure_rtcp_reports(registry);
    let estimating = estimation
        .filter(|_| side == PcTarget::Subscribe)
        .map(|e| e.initial.clamp(e.min, e.max));
    Ok(with_quality_probe(registry, quality, estimating))
}

fn link_state(state: RTCPeerConnectionState) -> LinkState {
    match state {
        RTCPeerConnectionState::New => LinkState::New,
        RTCPeerConnectionState::Connecting => LinkState::Connecting,
        RTCPeerConnectionState::Connected => LinkState::Connected,
        RTCPeerConnectionState::Disconnected => LinkState::Disconnected,
        RTCPeerConnectionState::Failed => LinkState::Failed,
        RTCPeerConnectionState::Closed => LinkState::Closed,
        _ => LinkState::None,
    }
}

fn kind_of(codec: &CodecSpec) -> RtpCodecKind {
    if codec.is_video() {
        RtpCodecKind::Video
    } else {
        RtpCodecKind::Audio
    }
}

impl Conn {
    /// A connection with our codecs and interceptors, its one host candidate added.
    pub(crate) fn new(
        local: &Local,
        side: PcTarget,
        quality: QualityCtx,
        now: Instant,
    ) -> Result<Conn, SfuError> {
        let mut media = media_engine()?;
        let stats = Arc::clone(&quality.stats);
        stats.set_state(LinkState::New);
        let registry = interceptors(&mut media, side, local.estimation, quality)?;
        let settings = SettingEngineBuilder::new()
            .with_lite(true)
            // A lite agent hears only the client's checks (rtc counts no other traffic), and
            // browsers send one every 4-6 s (RFC 7675), so rtc's 5 s would call a healthy
            // connection disconnected. Consent lapses after 30 s without checks.
            .with_ice_timeouts(Some(CHECKS_MISSED), Some(CHECKS_MISSED), None)
            // A lite agent learns its paths from the checks that reach it: a client's `.local`
            // candidates are dropped, not resolved by multicast queries it may not send.
            .with_multicast_dns_mode(MulticastDnsMode::Disabled)
            // No fixed credentials (`with_ice_credentials`): rtc would reuse them on an ICE
            // restart, which must change them (RFC 8839 §4.4.1.1.1). rtc draws random ones at
            // each start and restart; the engine reads them from each local description
            // ([`Conn::local_credentials`]) and routes by them.
            .build();
        let mut pc = RTCPeerConnectionBuilder::new()
            .with_configuration(RTCConfigurationBuilder::new().build())
            .with_media_engine(media)
            .with_setting_engine(settings)
            .with_interceptor_registry(registry)
            .build(now)
            .map_err(rtc_err)?;
        pc.add_local_candidate(host_candidate(local.advertised)?)
            .map_err(rtc_err)?;
        if local.tcp {
            pc.add_local_candidate(candidate(local.advertised, Proto::Tcp)?)
                .map_err(rtc_err)?;
        }
        Ok(Conn {
            pc,
            local: local.advertised,
            state: RTCPeerConnectionState::New,
            stats,
            audio_level_id: 0,
            inbound: HashMap::new(),
            outbound: HashMap::new(),
            outbound_names: HashMap::new(),
            early: Vec::new(),
            setting_up: None,
            out: VecDeque::new(),
            unflushed: 0,
            estimate_told: 0,
        })
    }

    /// Applies a client's offer and returns our answer. Tracks whose m-section no longer
    /// sends are reported ended ([`ConnEvent::TrackEnded`] from [`Conn::poll`]).
    pub fn answer(&mut self, offer: &str, now: Instant) -> Result<String, SfuError> {
        let desc = RTCSessionDescription::offer(offer.to_owned()).map_err(invalid_sdp)?;
        self.pc
            .set_remote_description(now, desc)
            .map_err(invalid_sdp)?;
        self.audio_level_id = audio_level_id(offer).unwrap_or(0);
        self.read_early();
        let answer = self.pc.create_answer(None).map_err(rtc_err)?;
        self.pc
            .set_local_description(now, answer)
            .map_err(rtc_err)?;
        self.local_sdp()
    }

    /// Creates and applies a new offer (the subscribe side).
    pub fn offer(&mut self, now: Instant) -> Result<String, SfuError> {
        let offer = self.pc.create_offer(None).map_err(rtc_err)?;
        self.pc.set_local_description(now, offer).map_err(rtc_err)?;
        self.local_sdp()
    }

    /// Applies the client's answer to our latest offer, and learns the payload type each
    /// sending track was given.
    pub fn apply_answer(&mut self, answer: &str, now: Instant) -> Result<(), SfuError> {
        let desc = RTCSessionDescription::answer(answer.to_owned()).map_err(invalid_sdp)?;
        self.pc
            .set_remote_description(now, desc)
            .map_err(invalid_sdp)?;
        self.read_early();
        for out in self.outbound.values_mut() {
            out.payload_type = self.pc.rtp_sender(out.sender).and_then(|mut s| {
                s.get_parameters()
                    .rtp_parameters
                    .codecs
                    .iter()
                    .find(|c| c.rtp_codec.mime_type.eq_ignore_ascii_case(&out.mime_type))
                    .map(|c| c.payload_type)
            });
        }
        Ok(())
    }

    /// Restarts ICE at the next offer ([`Conn::offer`]): it carries new credentials, and the
    /// agent forgets its pairs once it is applied (the subscribe side, which the server offers).
    /// The publish side restarts when the client's offer brings new credentials.
    pub fn restart_ice(&mut self) {
        self.pc.restart_ice();
    }

    /// The ICE ufrag and password of the local description (every m-section shares them
    /// under BUNDLE), once there is one.
    pub fn local_credentials(&self) -> Option<(String, String)> {
        let desc = self.pc.local_description()?;
        let attr = |name: &str| {
            desc.sdp
                .lines()
                .find_map(|l| l.trim_end().strip_prefix(name))
                .map(str::to_owned)
        };
        Some((attr("a=ice-ufrag:")?, attr("a=ice-pwd:")?))
    }

    fn local_sdp(&self) -> Result<String, SfuError> {
        self.pc
            .local_description()
            .map(|d| d.sdp)
            .ok_or_else(|| SfuError::WebRtc("no local description".into()))
    }

    /// Whether the client's description names the media section `mid`.
    pub fn has_mid(&self, mid: &str) -> bool {
        self.pc.remote_description().is_some_and(|d| {
            d.sdp
                .lines()
                .any(|l| l.trim_end().strip_prefix("a=mid:") == Some(mid))
        })
    }

    pub fn has_remote_description(&self) -> bool {
        self.pc.remote_description().is_some()
    }

    /// A candidate the client trickled. An ICE-lite agent never checks a named candidate (rtc's
    /// sends a triggered check only back to the address of a check it answered), so it only
    /// tells the agent what to expect; the engine sends nowhere but to addresses that proved
    /// themselves ([`super::demux`]).
    pub fn add_remote_candidate(&mut self, init: RTCIceCandidateInit) -> Result<(), SfuError> {
        self.pc
            .add_remote_candidate(init)
            .map_err(|e| SfuError::InvalidCandidate(e.to_string()))
    }

    /// Adds a sending track for `track`, with its own SSRC and a transceiver of its own;
    /// `stream_id` and `track_id` become the `a=msid` the subscriber sees. Offered with the
    /// next [`Conn::offer`].
    pub fn add_send_track(
        &mut self,
        track: TrackId,
        stream_id: &str,
        track_id: &str,
        codec: &CodecSpec,
    ) -> Result<(), SfuError> {
        let ssrc = rand_ssrc();
        let codec = as_registered(codec);
        let kind = kind_of(&codec);
        let local = sending_track(stream_id, track_id, &codec, ssrc);
        let init = RTCRtpTransceiverInit {
            direction: RTCRtpTransceiverDirection::Sendonly,
            streams: vec![stream_id.to_owned()],
            send_encodings: vec![],
        };
        let id = self
            .pc
            .add_transceiver_from_track(local, Some(init))
            .map_err(rtc_err)?;
        // Every codec of the kind, the track's own first (see `preferences`); failing that the
        // track's own only, and failing that the connection's defaults. If the subscriber can
        // take none of them, its answer says so and the track stays silent.
        let all = preferences(&codec, kind);
        let own: Vec<_> = all.iter().take(1).cloned().collect();
        let sender = {
            let mut t = self
                .pc
                .rtp_transceiver(id)
                .ok_or_else(|| SfuError::WebRtc("a new transceiver is missing".into()))?;
            if t.set_codec_preferences(all).is_err() && t.set_codec_preferences(own).is_err() {
                tracing::debug!(codec = %codec.mime_type, "keeping the connection's default codecs");
            }
            t.sender()
                .ok_or_else(|| SfuError::WebRtc("a sending transceiver without a sender".into()))?
        };
        self.outbound_names.insert(track_id.to_owned(), track);
        self.outbound.insert(
            track,
            Outbound {
                sender,
                name: track_id.to_owned(),
                ssrc,
                mime_type: codec.mime_type.clone(),
                payload_type: None,
            },
        );
        Ok(())
    }

    /// The SSRC a sending track was given.
    pub fn send_ssrc(&self, track: TrackId) -> Option<u32> {
        self.outbound.get(&track).map(|o| o.ssrc)
    }

    /// Whether the subscriber accepted a codec for the sending track.
    pub fn payload_type(&self, track: TrackId) -> Option<u8> {
        self.outbound.get(&track).and_then(|o| o.payload_type)
    }

    /// Stops a sending track; its m-section is rejected in the next offer.
    pub fn remove_send_track(&mut self, track: TrackId) -> Result<(), SfuError> {
        let Some(out) = self.outbound.remove(&track) else {
            return Ok(());
        };
        self.outbound_names.remove(&out.name);
        self.pc.remove_track(out.sender).map_err(rtc_err)?;
        if let Some(mut t) = self.pc.rtp_transceiver(out.sender.into()) {
            t.stop().map_err(rtc_err)?;
        }
        Ok(())
    }

    /// When the connection next wants [`Conn::handle_timeout`].
    pub fn poll_timeout(&mut self) -> Option<Instant> {
        self.pc.poll_timeout()
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        if let Err(e) = self.pc.handle_timeout(now) {
            tracing::debug!(error = %e, "a connection's timer failed");
        }
    }

    pub fn state(&self) -> RTCPeerConnectionState {
        self.state
    }

    pub fn close(&mut self) {
        let _ = self.pc.close();
        self.stats.set_state(LinkState::Closed);
    }
}

/// A track that sends ready-made RTP packets as `ssrc` with `codec`; `stream_id` and
/// `track_id` become its `a=msid`. The test clients build their publishing tracks with it too.
pub fn sending_track(
    stream_id: &str,
    track_id: &str,
    codec: &CodecSpec,
    ssrc: u32,
) -> MediaStreamTrack {
    MediaStreamTrack::new(
        stream_id.to_owned(),
        track_id.to_owned(),
        track_id.to_owned(),
        kind_of(codec),
        vec![RTCRtpEncodingParameters {
            rtp_coding_parameters: RTCRtpCodingParameters {
                ssrc: Some(ssrc),
                ..Default::default()
            },
            codec: RTCRtpCodec {
                mime_type: codec.mime_type.clone(),
                clock_rate: codec.clock_rate,
                channels: codec.channels,
                sdp_fmtp_line: codec.fmtp.clone(),
                rtcp_feedback: if codec.is_video() {
                    video_feedback()
                } else {
                    vec![]
                },
            },
            ..Default::default()
        }],
    )
}

fn rand_ssrc() -> u32 {
    let bytes = uuid::Uuid::new_v4();
    let b = bytes.as_bytes();
    u32::from_be_bytes([b[0], b[1], b[2], b[3]]).max(1)
}
