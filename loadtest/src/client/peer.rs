//! Building the client's peer connections.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use protocol::{ClientMessage, IceCandidate, PcTarget};
use rtc::ice::mdns::MulticastDnsMode;
use rtc::interceptor::Packet;
use rtc::rtcp::receiver_report::ReceiverReport;
use rtc::rtcp::sender_report::SenderReport;
use rtc::rtp_transceiver::RTCRtpTransceiverDirection;
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodec, RTCRtpCodecParameters, RTCRtpHeaderExtensionCapability, RtpCodecKind,
};
use tokio::sync::{mpsc, watch};
use webrtc::media_stream::track_remote::TrackRemote;
use webrtc::peer_connection::{
    MediaEngine, PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler,
    RTCConfigurationBuilder, RTCIceGatheringState, RTCSessionDescription, Registry,
    SettingEngineBuilder, register_default_interceptors,
};
use webrtc::rtp_transceiver::RtpSender;

use super::config::*;
use super::recv::*;

pub(crate) struct Handler {
    pub(crate) gathered: watch::Sender<bool>,
    /// Where to trickle candidates, once `sdp_sent` says the description they belong to has
    /// gone out (earlier ones are in that description already).
    pub(crate) candidates: Option<(PcTarget, mpsc::Sender<ClientMessage>)>,
    pub(crate) sdp_sent: Arc<AtomicBool>,
    pub(crate) record: Option<Arc<Shared>>,
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Handler {
    async fn on_ice_gathering_state_change(&self, state: RTCIceGatheringState) {
        if state == RTCIceGatheringState::Complete {
            let _ = self.gathered.send(true);
        }
    }

    async fn on_ice_candidate(&self, event: webrtc::peer_connection::RTCPeerConnectionIceEvent) {
        if !self.sdp_sent.load(Ordering::Acquire) {
            return;
        }
        if let (Some((target, out)), Ok(init)) = (&self.candidates, event.candidate.to_json()) {
            let candidate = IceCandidate {
                candidate: init.candidate,
                sdp_mid: init.sdp_mid,
                sdp_m_line_index: init.sdp_mline_index,
                username_fragment: init.username_fragment,
            };
            let _ = out.try_send(ClientMessage::Candidate {
                target: *target,
                candidate,
            });
        }
    }

    async fn on_track(&self, track: Arc<dyn TrackRemote>) {
        if let Some(shared) = &self.record {
            let shared = Arc::clone(shared);
            tokio::spawn(record_track(shared, track));
        }
    }
}

/// How one of the client's connections is set up.
const AUDIO_LEVEL_URI: &str = "urn:ietf:params:rtp-hdrext:ssrc-audio-level";

#[derive(Debug, Clone, Copy)]
pub(crate) struct PcOptions {
    pub(crate) udp_ip: IpAddr,
    pub(crate) accept_duplicates: bool,
    /// Receive video as VP8 only, like a browser without H.264.
    pub(crate) vp8_only: bool,
}

pub(crate) async fn new_pc(
    opts: PcOptions,
    handler: Handler,
    reports: Arc<ReportCounts>,
) -> Result<Arc<dyn PeerConnection>, ClientError> {
    let PcOptions {
        udp_ip,
        accept_duplicates,
        vp8_only,
    } = opts;
    let mut media = MediaEngine::default();
    if vp8_only {
        for (codec, kind) in [
            (
                RTCRtpCodec {
                    mime_type: "audio/opus".into(),
                    clock_rate: 48000,
                    channels: 2,
                    sdp_fmtp_line: "minptime=10;useinbandfec=1".into(),
                    rtcp_feedback: vec![],
                },
                RtpCodecKind::Audio,
            ),
            (
                RTCRtpCodec {
                    mime_type: "video/VP8".into(),
                    clock_rate: 90000,
                    channels: 0,
                    sdp_fmtp_line: String::new(),
                    rtcp_feedback: vec![],
                },
                RtpCodecKind::Video,
            ),
        ] {
            let payload_type = if kind == RtpCodecKind::Audio { 111 } else { 96 };
            media
                .register_codec(
                    RTCRtpCodecParameters {
                        rtp_codec: codec,
                        payload_type,
                    },
                    kind,
                )
                .map_err(rtc_err)?;
        }
    } else {
        media.register_default_codecs().map_err(rtc_err)?;
    }
    // As browsers do: audio levels on what we send, for the server's speaker detection.
    media
        .register_header_extension(
            RTCRtpHeaderExtensionCapability {
                uri: AUDIO_LEVEL_URI.to_owned(),
            },
            RtpCodecKind::Audio,
            Some(RTCRtpTransceiverDirection::Sendonly),
        )
        .map_err(rtc_err)?;
    let registry = register_default_interceptors(Registry::new(), &mut media).map_err(rtc_err)?;
    let registry = sfu::feedback::with_application_feedback(registry);
    let registry = sfu::feedback::with_rtcp_inspector(registry, 13_500, move |msg| {
        if let Packet::Rtcp(packets) = &msg.message.packet {
            for p in packets {
                if p.as_any().is::<SenderReport>() {
                    reports.sender.fetch_add(1, Ordering::Relaxed);
                } else if p.as_any().is::<ReceiverReport>() {
                    reports.receiver.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    });
    let mut settings = SettingEngineBuilder::new()
        .with_multicast_dns_mode(MulticastDnsMode::Disabled)
        .with_include_loopback_candidate(udp_ip.is_loopback());
    if accept_duplicates {
        settings = settings.with_srtp_replay_protection_window(0);
    }
    let settings = settings.build();
    let pc = PeerConnectionBuilder::new()
        .with_configuration(RTCConfigurationBuilder::new().build())
        .with_media_engine(media)
        .with_setting_engine(settings)
        .with_interceptor_registry(registry)
        .with_handler(Arc::new(handler) as Arc<dyn PeerConnectionEventHandler>)
        .with_udp_addrs(vec![format!("{udp_ip}:0")])
        .build()
        .await
        .map_err(rtc_err)?;
    Ok(Arc::new(pc))
}

/// Applies a server's `offer` to the subscribe connection in `slot`, made on the first offer (its
/// tracks recorded into `shared`, its later candidates trickled to `candidates` if given), and
/// returns the answer. The first answer waits for ICE gathering, so it carries the candidates.
pub(crate) async fn answer_offer(
    slot: &super::SubscribeSlot,
    opts: PcOptions,
    shared: &Arc<Shared>,
    candidates: Option<(PcTarget, mpsc::Sender<ClientMessage>)>,
    offer: String,
) -> Result<String, ClientError> {
    let mut guard = slot.lock().await;
    let (gathered_tx, mut gathered) = watch::channel(false);
    let first = guard.is_none();
    if first {
        let handler = Handler {
            gathered: gathered_tx,
            candidates,
            sdp_sent: Arc::clone(&shared.subscribe_sdp_sent),
            record: Some(Arc::clone(shared)),
        };
        *guard = Some(new_pc(opts, handler, Arc::clone(&shared.reports)).await?);
    }
    // Invariant: filled just above when it was empty.
    let pc = guard.clone().expect("subscribe connection exists");
    drop(guard);
    let offer = RTCSessionDescription::offer(offer).map_err(rtc_err)?;
    pc.set_remote_description(offer).await.map_err(rtc_err)?;
    let answer = pc.create_answer(None).await.map_err(rtc_err)?;
    pc.set_local_description(answer).await.map_err(rtc_err)?;
    if first {
        return gathered_sdp(&pc, &mut gathered).await;
    }
    pc.local_description()
        .await
        .map(|d| d.sdp)
        .ok_or(ClientError::WebRtc("no local description".into()))
}

pub(crate) async fn gathered_sdp(
    pc: &Arc<dyn PeerConnection>,
    gathered: &mut watch::Receiver<bool>,
) -> Result<String, ClientError> {
    let _ = tokio::time::timeout(Duration::from_secs(3), gathered.wait_for(|g| *g)).await;
    pc.local_description()
        .await
        .map(|d| d.sdp)
        .ok_or(ClientError::WebRtc("no local description".into()))
}

pub(crate) async fn negotiated_pt(sender: &Arc<dyn RtpSender>, mime: &str) -> Option<u8> {
    sender
        .get_parameters()
        .await
        .ok()?
        .rtp_parameters
        .codecs
        .iter()
        .find(|c| c.rtp_codec.mime_type.eq_ignore_ascii_case(mime))
        .map(|c| c.payload_type)
}

/// RTCP sender and receiver reports that reached a client.
#[derive(Debug, Default)]
pub struct ReportCounts {
    pub(crate) sender: AtomicU64,
    pub(crate) receiver: AtomicU64,
}
