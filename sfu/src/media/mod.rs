//! Every call into webrtc-rs lives in this module, so that replacing it (for example with a
//! single multiplexed UDP port driving `rtc` directly) stays local. The rest of the crate sees
//! [`MediaPeer`], [`ForwardTrack`], [`CodecSpec`] and [`PeerEvent`], all of them our own types.

mod codecs;
pub mod feedback;
mod ingress;
mod quality;
mod sdp;
mod writer;

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use protocol::{IceCandidate, PcTarget};
use tokio::sync::{mpsc, watch};
use webrtc::media_stream::MediaStreamTrack;
use webrtc::media_stream::track_local::TrackLocal;
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::media_stream::track_remote::TrackRemote;
use webrtc::peer_connection::{
    MediaEngine, PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler,
    RTCConfigurationBuilder, RTCIceCandidateInit, RTCIceGatheringState, RTCPeerConnectionIceEvent,
    RTCPeerConnectionState, RTCSessionDescription, Registry, SettingEngineBuilder,
    configure_rtcp_reports, configure_simulcast_extension_headers, configure_twcc_receiver_only,
};
use webrtc::rtp_transceiver::{RtpSender, RtpTransceiver};

use rtc::ice::mdns::MulticastDnsMode;
use rtc::interceptor::{NackGeneratorBuilder, Slot};
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodec, RTCRtpCodingParameters, RTCRtpEncodingParameters, RtpCodecKind,
};
use rtc::rtp_transceiver::{RTCRtpTransceiverDirection, RTCRtpTransceiverInit};

use crate::Counters;
use crate::config::SfuConfig;
use crate::error::{Result, SfuError};
use crate::links::{LinkState, LinkStats};
use crate::ports::{PortAllocator, PortLease};

use codecs::{as_registered, media_engine, preferences, video_feedback};
pub(crate) use ingress::IngressCtx;
pub(crate) use quality::QualityCtx;
use sdp::Advertise;
use sdp::check_codecs;
pub(crate) use sdp::{audio_level_id, check_sections};
pub(crate) use writer::spawn_writer;

/// A codec as negotiated by a publisher, carried to the subscribers' sending tracks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodecSpec {
    pub mime_type: String,
    pub clock_rate: u32,
    pub channels: u16,
    pub fmtp: String,
}

impl CodecSpec {
    pub fn is_video(&self) -> bool {
        self.mime_type.to_ascii_lowercase().starts_with("video/")
    }

    /// Audio or video, by the MIME type.
    pub fn kind(&self) -> protocol::TrackKind {
        if self.is_video() {
            protocol::TrackKind::Video
        } else {
            protocol::TrackKind::Audio
        }
    }
}

/// Something a peer connection reports.
#[derive(Debug, Clone)]
pub(crate) enum PeerEvent {
    Candidate(PcTarget, IceCandidate),
    /// The connection failed or closed.
    Down(PcTarget),
    Connected(PcTarget),
}

/// One server-side peer connection, with the UDP port it holds.
pub(crate) struct MediaPeer {
    pc: Arc<dyn PeerConnection>,
    target: PcTarget,
    advertise: Advertise,
    gathered: watch::Receiver<bool>,
    gather_timeout: Duration,
    _lease: PortLease,
}

/// A sending track toward a subscriber.
impl ForwardTrack {
    pub(crate) fn is_video(&self) -> bool {
        self.mime_type.to_ascii_lowercase().starts_with("video/")
    }
}

pub(crate) struct ForwardTrack {
    transceiver: Arc<dyn RtpTransceiver>,
    sender: Arc<dyn RtpSender>,
    pub(crate) local: Arc<TrackLocalStaticRTP>,
    pub(crate) ssrc: u32,
    mime_type: String,
}

struct Handler {
    target: PcTarget,
    advertise: Advertise,
    events: mpsc::Sender<PeerEvent>,
    gathered: watch::Sender<bool>,
    ingress: Option<IngressCtx>,
    live: Arc<Counters>,
    stats: Arc<LinkStats>,
}

impl Drop for Handler {
    fn drop(&mut self) {
        self.live.live_peers.fetch_sub(1, Ordering::Relaxed);
    }
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Handler {
    async fn on_ice_candidate(&self, event: RTCPeerConnectionIceEvent) {
        if let Ok(init) = event.candidate.to_json() {
            let cand = IceCandidate {
                candidate: self.advertise.candidate(&init.candidate),
                sdp_mid: init.sdp_mid,
                sdp_m_line_index: init.sdp_mline_index,
                username_fragment: init.username_fragment,
            };
            let _ = self
                .events
                .try_send(PeerEvent::Candidate(self.target, cand));
        }
    }

    async fn on_ice_gathering_state_change(&self, state: RTCIceGatheringState) {
        if state == RTCIceGatheringState::Complete {
            let _ = self.gathered.send(true);
        }
    }

    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        self.stats.set_state(link_state(state));
        let event = match state {
            RTCPeerConnectionState::Connected => PeerEvent::Connected(self.target),
            RTCPeerConnectionState::Failed | RTCPeerConnectionState::Closed => {
                PeerEvent::Down(self.target)
            }
            _ => return,
        };
        let _ = self.events.try_send(event);
    }

    async fn on_track(&self, track: Arc<dyn TrackRemote>) {
        if let Some(ingress) = &self.ingress {
            ingress.open(track);
        }
    }
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

/// The server's interceptor chain: the defaults (NACK generator toward publishers, RTCP
/// reports, transport-wide congestion feedback, simulcast header extensions) except the NACK
/// responder, because `sfu-core` answers subscribers' NACKs from its own per-subscription
/// history; plus our one probe stage, which lets PLI/FIR/NACK reach us and reads the reception
/// reports for link quality.
fn interceptors(media: &mut MediaEngine, quality: QualityCtx) -> Result<Registry> {
    let registry = Registry::new().with(Slot::NackGenerator, NackGeneratorBuilder::new().build());
    configure_simulcast_extension_headers(media).map_err(webrtc_err)?;
    let registry = configure_twcc_receiver_only(registry, media).map_err(webrtc_err)?;
    let registry = configure_rtcp_reports(registry);
    Ok(quality::with_quality_probe(registry, quality))
}

fn webrtc_err(e: impl std::fmt::Display) -> SfuError {
    SfuError::WebRtc(e.to_string())
}

impl MediaPeer {
    /// Builds a peer connection bound to one port of the configured range. `ingress` is set for
    /// publish connections, whose incoming tracks feed the room; `quality` says where the
    /// connection's state and RTCP quality go.
    pub(crate) async fn new(
        cfg: &SfuConfig,
        ports: &Arc<PortAllocator>,
        counters: &Arc<Counters>,
        target: PcTarget,
        events: mpsc::Sender<PeerEvent>,
        ingress: Option<IngressCtx>,
        quality: QualityCtx,
    ) -> Result<Self> {
        // A port another process holds would fail this connection later; skip it now.
        let lease = ports
            .lease_where(|port| std::net::UdpSocket::bind(bind_addr(cfg.bind_ip, port)).is_ok())?;
        let mut media = media_engine()?;
        let stats = Arc::clone(&quality.stats);
        stats.set_state(LinkState::New);
        let registry = interceptors(&mut media, quality)?;
        let settings = SettingEngineBuilder::new()
            .with_multicast_dns_mode(MulticastDnsMode::Disabled)
            .with_include_loopback_candidate(cfg.bind_ip.is_loopback());
        let (gathered_tx, gathered) = watch::channel(false);
        counters.live_peers.fetch_add(1, Ordering::Relaxed);
        let advertise = Advertise {
            bind: cfg.bind_ip,
            public: cfg.public_ip.filter(|ip| *ip != cfg.bind_ip),
        };
        let handler = Arc::new(Handler {
            target,
            advertise,
            events,
            gathered: gathered_tx,
            ingress,
            live: Arc::clone(counters),
            stats,
        });
        let addr = bind_addr(cfg.bind_ip, lease.port());
        let pc = PeerConnectionBuilder::new()
            .with_configuration(RTCConfigurationBuilder::new().build())
            .with_media_engine(media)
            .with_setting_engine(settings.build())
            .with_interceptor_registry(registry)
            .with_handler(handler as Arc<dyn PeerConnectionEventHandler>)
            .with_udp_addrs(vec![addr])
            .build()
            .await
            .map_err(webrtc_err)?;
        Ok(MediaPeer {
            pc: Arc::new(pc),
            target,
            advertise,
            gathered,
            gather_timeout: cfg.gather_timeout,
            _lease: lease,
        })
    }

    /// Applies a client's offer and returns the answer, with candidates once gathered.
    pub(crate) async fn answer(&self, offer_sdp: &str) -> Result<String> {
        check_codecs(offer_sdp)?;
        let offer = RTCSessionDescription::offer(offer_sdp.to_owned())
            .map_err(|e| SfuError::InvalidSdp(e.to_string()))?;
        self.pc
            .set_remote_description(offer)
            .await
            .map_err(|e| SfuError::InvalidSdp(e.to_string()))?;
        let answer = self.pc.create_answer(None).await.map_err(webrtc_err)?;
        self.pc
            .set_local_description(answer)
            .await
            .map_err(webrtc_err)?;
        self.local_sdp().await
    }

    /// Creates and applies a new offer (subscribe side).
    pub(crate) async fn offer(&self) -> Result<String> {
        let offer = self.pc.create_offer(None).await.map_err(webrtc_err)?;
        self.pc
            .set_local_description(offer)
            .await
            .map_err(webrtc_err)?;
        self.local_sdp().await
    }

    /// Applies the client's answer to our latest offer.
    pub(crate) async fn apply_answer(&self, sdp: &str) -> Result<()> {
        let answer = RTCSessionDescription::answer(sdp.to_owned())
            .map_err(|e| SfuError::InvalidSdp(e.to_string()))?;
        self.pc
            .set_remote_description(answer)
            .await
            .map_err(|e| SfuError::InvalidSdp(e.to_string()))
    }

    async fn local_sdp(&self) -> Result<String> {
        let mut gathered = self.gathered.clone();
        let started = std::time::Instant::now();
        let done = tokio::time::timeout(self.gather_timeout, gathered.wait_for(|g| *g))
            .await
            .is_ok();
        tracing::debug!(elapsed = ?started.elapsed(), done, "ICE gathering");
        self.pc
            .local_description()
            .await
            .map(|d| self.advertise.sdp(&d.sdp))
            .ok_or_else(|| SfuError::WebRtc("no local description".into()))
    }

    /// Adds a trickled candidate from the client.
    pub(crate) async fn add_candidate(&self, cand: &IceCandidate) -> Result<()> {
        let Some(remote) = self.pc.remote_description().await else {
            return Err(SfuError::OutOfOrder(
                "a candidate came before the description it belongs to",
            ));
        };
        if let Some(mid) = &cand.sdp_mid {
            let known = remote
                .sdp
                .lines()
                .any(|l| l.trim_end().strip_prefix("a=mid:") == Some(mid.as_str()));
            if !known {
                let shown: String = mid.chars().take(32).collect();
                return Err(SfuError::InvalidCandidate(format!(
                    "no transceiver with mid {shown:?} on the {:?} connection",
                    self.target
                )));
            }
        }
        if cand.candidate.trim().is_empty() {
            // End-of-candidates: nothing to add.
            return Ok(());
        }
        self.pc
            .add_ice_candidate(RTCIceCandidateInit {
                candidate: cand.candidate.clone(),
                sdp_mid: cand.sdp_mid.clone(),
                sdp_mline_index: cand.sdp_m_line_index,
                username_fragment: cand.username_fragment.clone(),
                url: None,
            })
            .await
            .map_err(|e| SfuError::InvalidCandidate(e.to_string()))
    }

    /// Adds a sending track with its own SSRC; `stream_id` and `track_id` become the `a=msid`
    /// the subscriber sees.
    pub(crate) async fn add_forward_track(
        &self,
        stream_id: &str,
        track_id: &str,
        codec: &CodecSpec,
    ) -> Result<ForwardTrack> {
        let ssrc = rand_ssrc();
        let kind = if codec.is_video() {
            RtpCodecKind::Video
        } else {
            RtpCodecKind::Audio
        };
        let codec = &as_registered(codec);
        let local = rtp_track(stream_id, track_id, codec, ssrc);
        // A transceiver of its own, offering every codec of the kind (see `preferences`).
        let init = RTCRtpTransceiverInit {
            direction: RTCRtpTransceiverDirection::Sendrecv,
            streams: vec![],
            send_encodings: vec![],
        };
        let transceiver = self
            .pc
            .add_transceiver_from_track(Arc::clone(&local) as Arc<dyn TrackLocal>, Some(init))
            .await
            .map_err(webrtc_err)?;
        // Once a kind has been negotiated, only the codecs the subscriber accepted then can be
        // preferred (a Firefox without H.264, say, narrows video to VP8): fall back to the
        // track's own codec, and failing that to the connection's defaults. If the subscriber
        // cannot take this codec at all, the answer will say so and the track stays silent.
        let all = preferences(codec, kind);
        let own: Vec<_> = all.iter().take(1).cloned().collect();
        if transceiver.set_codec_preferences(all).await.is_err()
            && transceiver.set_codec_preferences(own).await.is_err()
        {
            tracing::debug!(codec = %codec.mime_type, "keeping the connection's default codecs");
        }
        let sender = transceiver
            .sender()
            .await
            .map_err(webrtc_err)?
            .ok_or_else(|| SfuError::WebRtc("a sending transceiver without a sender".into()))?;
        Ok(ForwardTrack {
            transceiver,
            sender,
            local,
            ssrc,
            mime_type: codec.mime_type.clone(),
        })
    }

    /// Stops a sending track; its m-line is rejected in the next offer.
    pub(crate) async fn remove_forward_track(&self, track: &ForwardTrack) -> Result<()> {
        self.pc
            .remove_track(&track.sender)
            .await
            .map_err(webrtc_err)?;
        track.transceiver.stop().await.map_err(webrtc_err)
    }

    /// The payload type negotiated for a sending track's codec, once the answer is applied.
    pub(crate) async fn payload_type(&self, track: &ForwardTrack) -> Option<u8> {
        let params = track.sender.get_parameters().await.ok()?;
        let found = params
            .rtp_parameters
            .codecs
            .iter()
            .find(|c| c.rtp_codec.mime_type.eq_ignore_ascii_case(&track.mime_type))
            .map(|c| c.payload_type);
        if found.is_none() {
            let offered: Vec<&str> = params
                .rtp_parameters
                .codecs
                .iter()
                .map(|c| c.rtp_codec.mime_type.as_str())
                .collect();
            tracing::debug!(?offered, want = %track.mime_type, "no negotiated codec for a sending track");
        }
        found
    }

    pub(crate) async fn close(&self) {
        let _ = self.pc.close().await;
    }
}

/// A track that sends ready-made RTP packets as `ssrc` with `codec`; `stream_id` and
/// `track_id` become its `a=msid`. The test client builds its publishing tracks with it too.
pub fn rtp_track(
    stream_id: &str,
    track_id: &str,
    codec: &CodecSpec,
    ssrc: u32,
) -> Arc<TrackLocalStaticRTP> {
    let kind = if codec.is_video() {
        RtpCodecKind::Video
    } else {
        RtpCodecKind::Audio
    };
    Arc::new(TrackLocalStaticRTP::new(MediaStreamTrack::new(
        stream_id.to_owned(),
        track_id.to_owned(),
        track_id.to_owned(),
        kind,
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
    )))
}

fn bind_addr(ip: IpAddr, port: u16) -> String {
    match ip {
        IpAddr::V4(v4) => format!("{v4}:{port}"),
        IpAddr::V6(v6) => format!("[{v6}]:{port}"),
    }
}

fn rand_ssrc() -> u32 {
    let bytes = uuid::Uuid::new_v4();
    let b = bytes.as_bytes();
    u32::from_be_bytes([b[0], b[1], b[2], b[3]]).max(1)
}
