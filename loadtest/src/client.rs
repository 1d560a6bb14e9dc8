//! One synthetic participant: signaling over a WebSocket, a publish connection that sends
//! stamped Opus-like audio and VP8-like video, and a subscribe connection that records what
//! arrives from everyone else.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use protocol::{
    ClientMessage, IceCandidate, PROTOCOL_VERSION, ParticipantInfo, PcTarget, ServerMessage,
    TrackKind, TrackMeta, TrackSource,
};
use rtc::ice::mdns::MulticastDnsMode;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtcp::transport_feedbacks::transport_layer_nack::{NackPair, TransportLayerNack};
use rtc::rtp;
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodec, RTCRtpCodingParameters, RTCRtpEncodingParameters, RtpCodecKind,
};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use webrtc::media_stream::MediaStreamTrack;
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::media_stream::track_local::{TrackLocal, TrackLocalEvent};
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};
use webrtc::peer_connection::{
    MediaEngine, PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler,
    RTCConfigurationBuilder, RTCIceCandidateInit, RTCIceGatheringState, RTCSessionDescription,
    Registry, SettingEngineBuilder, register_default_interceptors,
};
use webrtc::rtp_transceiver::RtpSender;

use crate::payload::{self, Stamp};

/// The video codec a synthetic publisher sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VideoCodec {
    Vp8,
    H264,
}

impl VideoCodec {
    fn mime(self) -> &'static str {
        match self {
            VideoCodec::Vp8 => "video/VP8",
            VideoCodec::H264 => "video/H264",
        }
    }
}

/// How a synthetic participant behaves.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The signaling URL, for example `ws://127.0.0.1:8080/api/v1/rtc`.
    pub url: String,
    pub room: String,
    pub name: String,
    /// Stamped into every payload this client publishes.
    pub index: u32,
    pub publish_audio: bool,
    pub publish_video: bool,
    pub video_codec: VideoCodec,
    pub video_fps: u32,
    /// Bytes of each video packet (one packet per frame).
    pub video_packet_bytes: usize,
    /// Keyframes come this often unless a PLI or FIR asks for one sooner.
    pub keyframe_interval: Duration,
    /// Address the client's media sockets bind to.
    pub udp_ip: IpAddr,
    /// Turns off SRTP replay protection on the subscribe side, so that a packet asked for again
    /// with a NACK is delivered even though its first copy arrived (a test seam).
    pub accept_duplicates: bool,
}

impl ClientConfig {
    pub fn new(url: impl Into<String>, room: impl Into<String>, index: u32) -> Self {
        ClientConfig {
            url: url.into(),
            room: room.into(),
            name: format!("peer-{index}"),
            index,
            publish_audio: true,
            publish_video: true,
            video_codec: VideoCodec::Vp8,
            video_fps: 30,
            video_packet_bytes: 1000,
            keyframe_interval: Duration::from_secs(10),
            udp_ip: IpAddr::from([127, 0, 0, 1]),
            accept_duplicates: false,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("WebSocket: {0}")]
    Ws(String),
    #[error("protocol: {0}")]
    Protocol(String),
    #[error("server error {code:?}: {message}")]
    Server {
        code: protocol::ErrorCode,
        message: String,
    },
    #[error("WebRTC: {0}")]
    WebRtc(String),
    #[error("timed out waiting for {0}")]
    Timeout(&'static str),
}

fn rtc_err(e: impl std::fmt::Display) -> ClientError {
    ClientError::WebRtc(e.to_string())
}

/// What one subscriber saw of one remote track.
#[derive(Debug, Clone)]
pub struct TrackRecv {
    /// Server track id (the `a=msid` track id).
    pub track_id: String,
    /// Publisher's participant id (the `a=msid` stream id).
    pub publisher_id: String,
    pub kind: TrackKind,
    /// MIME type of the received codec.
    pub codec: String,
    pub packets: u64,
    /// Payloads that were not ours or were cut short.
    pub corrupt: u64,
    /// Packets whose counter did not move forward.
    pub out_of_order: u64,
    /// Payload stamp of the publisher.
    pub publisher_index: Option<u32>,
    pub first_counter: Option<u64>,
    pub last_counter: u64,
    pub keyframes: u64,
    pub first_packet_at: Option<Instant>,
    pub first_keyframe_at: Option<Instant>,
    /// One-way delay samples, microseconds (capped).
    pub latencies_us: Vec<u32>,
    /// SSRC and sequence number of the latest packet.
    pub last_seq: Option<(u32, u16)>,
}

impl TrackRecv {
    /// Packets the publisher sent between the first and last one seen here.
    pub fn expected(&self) -> u64 {
        self.first_counter
            .map(|f| self.last_counter.saturating_sub(f) + 1)
            .unwrap_or(0)
    }
}

const LATENCY_SAMPLES: usize = 200_000;

#[derive(Default)]
struct Shared {
    tracks: Mutex<HashMap<String, TrackRecv>>,
    remotes: Mutex<HashMap<String, Arc<dyn TrackRemote>>>,
    events: Mutex<Vec<(Instant, ServerMessage)>>,
    sent: [AtomicU64; 2],
    keyframe_requests: AtomicU64,
    publish_answer: Mutex<Option<oneshot::Sender<String>>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Invariant: no code panics while holding these locks.
    m.lock().expect("client lock poisoned")
}

/// A connected synthetic participant. Dropping it closes everything.
pub struct Client {
    pub participant_id: String,
    pub others_at_join: Vec<ParticipantInfo>,
    pub joined_at: Instant,
    shared: Arc<Shared>,
    out: mpsc::Sender<ClientMessage>,
    publish_pc: Option<Arc<dyn PeerConnection>>,
    subscribe_pc: Arc<tokio::sync::Mutex<Option<Arc<dyn PeerConnection>>>>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

struct Handler {
    gathered: watch::Sender<bool>,
    candidates: Option<(PcTarget, mpsc::Sender<ClientMessage>)>,
    record: Option<Arc<Shared>>,
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Handler {
    async fn on_ice_gathering_state_change(&self, state: RTCIceGatheringState) {
        if state == RTCIceGatheringState::Complete {
            let _ = self.gathered.send(true);
        }
    }

    async fn on_ice_candidate(&self, event: webrtc::peer_connection::RTCPeerConnectionIceEvent) {
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

async fn record_track(shared: Arc<Shared>, track: Arc<dyn TrackRemote>) {
    let track_id = track.track_id().await;
    let publisher_id = track.stream_id().await;
    let kind = match track.kind().await {
        RtpCodecKind::Video => TrackKind::Video,
        _ => TrackKind::Audio,
    };
    let ssrc = track.ssrcs().await.first().copied().unwrap_or(0);
    let codec_mime = match track.codec(ssrc).await {
        Some(c) => c.mime_type,
        None => String::new(),
    };
    let h264 = codec_mime.eq_ignore_ascii_case("video/H264");
    let read_video = move |data: &[u8]| {
        if h264 {
            payload::read_h264(data)
        } else {
            payload::read_vp8(data)
        }
    };
    lock(&shared.remotes).insert(track_id.clone(), Arc::clone(&track));
    lock(&shared.tracks)
        .entry(track_id.clone())
        .or_insert_with(|| TrackRecv {
            track_id: track_id.clone(),
            publisher_id,
            kind,
            codec: codec_mime.clone(),
            packets: 0,
            corrupt: 0,
            out_of_order: 0,
            publisher_index: None,
            first_counter: None,
            last_counter: 0,
            keyframes: 0,
            first_packet_at: None,
            first_keyframe_at: None,
            latencies_us: Vec::new(),
            last_seq: None,
        });
    // Like a browser's decoder, ask for a keyframe while video arrives without one.
    let mut last_pli: Option<Instant> = None;
    while let Some(event) = track.poll().await {
        let TrackRemoteEvent::OnRtpPacket(pkt) = event else {
            continue;
        };
        let now = Instant::now();
        tracing::trace!(seq = pkt.header.sequence_number, "rtp in");
        if kind == TrackKind::Video {
            let have_key = lock(&shared.tracks)
                .get(&track_id)
                .is_some_and(|t| t.first_keyframe_at.is_some());
            let is_key = read_video(&pkt.payload).is_some_and(|(k, _)| k);
            let due = last_pli.is_none_or(|t| now.duration_since(t) >= Duration::from_millis(300));
            if !have_key && !is_key && due {
                last_pli = Some(now);
                let pli = PictureLossIndication {
                    sender_ssrc: 0,
                    media_ssrc: pkt.header.ssrc,
                };
                let _ = track.write_rtcp(vec![Box::new(pli)]).await;
            }
        }
        let parsed = match kind {
            TrackKind::Video => read_video(&pkt.payload),
            TrackKind::Audio => payload::read_stamp(&pkt.payload).map(|s| (true, s)),
        };
        let mut tracks = lock(&shared.tracks);
        let Some(t) = tracks.get_mut(&track_id) else {
            break;
        };
        t.packets += 1;
        t.last_seq = Some((pkt.header.ssrc, pkt.header.sequence_number));
        let Some((key, stamp)) = parsed else {
            t.corrupt += 1;
            continue;
        };
        if t.first_packet_at.is_none() {
            t.first_packet_at = Some(now);
        }
        if key && kind == TrackKind::Video {
            t.keyframes += 1;
            t.first_keyframe_at.get_or_insert(now);
        }
        t.publisher_index = Some(stamp.publisher);
        match t.first_counter {
            None => {
                t.first_counter = Some(stamp.counter);
                t.last_counter = stamp.counter;
            }
            Some(_) if stamp.counter > t.last_counter => t.last_counter = stamp.counter,
            Some(_) => t.out_of_order += 1,
        }
        if t.latencies_us.len() < LATENCY_SAMPLES {
            let delay = payload::now_us().saturating_sub(stamp.sent_us);
            t.latencies_us.push(delay.min(u64::from(u32::MAX)) as u32);
        }
    }
}

async fn new_pc(
    udp_ip: IpAddr,
    handler: Handler,
    accept_duplicates: bool,
) -> Result<Arc<dyn PeerConnection>, ClientError> {
    let mut media = MediaEngine::default();
    media.register_default_codecs().map_err(rtc_err)?;
    let registry = register_default_interceptors(Registry::new(), &mut media).map_err(rtc_err)?;
    let registry = sfu::feedback::with_application_feedback(registry);
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

async fn gathered_sdp(
    pc: &Arc<dyn PeerConnection>,
    gathered: &mut watch::Receiver<bool>,
) -> Result<String, ClientError> {
    let _ = tokio::time::timeout(Duration::from_secs(3), gathered.wait_for(|g| *g)).await;
    pc.local_description()
        .await
        .map(|d| d.sdp)
        .ok_or(ClientError::WebRtc("no local description".into()))
}

fn local_track(
    kind: RtpCodecKind,
    mime: &str,
    clock: u32,
    channels: u16,
    ssrc: u32,
    id: &str,
) -> Arc<TrackLocalStaticRTP> {
    Arc::new(TrackLocalStaticRTP::new(MediaStreamTrack::new(
        format!("stream-{id}"),
        id.to_owned(),
        id.to_owned(),
        kind,
        vec![RTCRtpEncodingParameters {
            rtp_coding_parameters: RTCRtpCodingParameters {
                ssrc: Some(ssrc),
                ..Default::default()
            },
            codec: RTCRtpCodec {
                mime_type: mime.to_owned(),
                clock_rate: clock,
                channels,
                ..Default::default()
            },
            ..Default::default()
        }],
    )))
}

async fn negotiated_pt(sender: &Arc<dyn RtpSender>, mime: &str) -> Option<u8> {
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

impl Client {
    /// Connects, joins, and (if configured) publishes. Returns once the publish answer is
    /// applied; media starts flowing as ICE connects.
    pub async fn connect(cfg: ClientConfig) -> Result<Client, ClientError> {
        let (ws, _) = tokio_tungstenite::connect_async(cfg.url.as_str())
            .await
            .map_err(|e| ClientError::Ws(e.to_string()))?;
        let (mut ws_tx, mut ws_rx) = ws.split();
        let join = ClientMessage::Join {
            v: PROTOCOL_VERSION,
            room: cfg.room.clone(),
            name: cfg.name.clone(),
            token: None,
        };
        let text =
            serde_json::to_string(&join).map_err(|e| ClientError::Protocol(e.to_string()))?;
        ws_tx
            .send(Message::Text(text.into()))
            .await
            .map_err(|e| ClientError::Ws(e.to_string()))?;
        let (participant_id, others) = loop {
            let msg = tokio::time::timeout(Duration::from_secs(10), ws_rx.next())
                .await
                .map_err(|_| ClientError::Timeout("joined"))?;
            let Some(Ok(Message::Text(t))) = msg else {
                match msg {
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                    _ => return Err(ClientError::Ws("closed before joined".into())),
                }
            };
            match serde_json::from_str::<ServerMessage>(&t) {
                Ok(ServerMessage::Joined {
                    participant_id,
                    participants,
                    ..
                }) => break (participant_id, participants),
                Ok(ServerMessage::Error { code, message }) => {
                    return Err(ClientError::Server { code, message });
                }
                Ok(_) => continue,
                Err(e) => return Err(ClientError::Protocol(e.to_string())),
            }
        };
        let joined_at = Instant::now();
        let shared = Arc::new(Shared::default());
        let (out, mut out_rx) = mpsc::channel::<ClientMessage>(256);
        let (stop, stop_rx) = watch::channel(false);
        let mut tasks = Vec::new();

        // Writer: everything this client says goes through one queue.
        tasks.push(tokio::spawn(async move {
            while let Some(msg) = out_rx.recv().await {
                let Ok(text) = serde_json::to_string(&msg) else {
                    continue;
                };
                if ws_tx.send(Message::Text(text.into())).await.is_err() {
                    break;
                }
                if matches!(msg, ClientMessage::Leave {}) {
                    let _ = ws_tx.close().await;
                    break;
                }
            }
        }));

        let (pub_gathered_tx, mut pub_gathered) = watch::channel(false);
        let publishing = cfg.publish_audio || cfg.publish_video;
        let publish_pc = if publishing {
            Some(
                new_pc(
                    cfg.udp_ip,
                    Handler {
                        gathered: pub_gathered_tx,
                        candidates: Some((PcTarget::Publish, out.clone())),
                        record: None,
                    },
                    false,
                )
                .await?,
            )
        } else {
            None
        };
        let subscribe_pc: Arc<tokio::sync::Mutex<Option<Arc<dyn PeerConnection>>>> =
            Arc::new(tokio::sync::Mutex::new(None));

        // Reader: applies what the server sends.
        {
            let shared = Arc::clone(&shared);
            let out = out.clone();
            let publish_pc = publish_pc.clone();
            let subscribe_pc = Arc::clone(&subscribe_pc);
            let udp_ip = cfg.udp_ip;
            let accept_duplicates = cfg.accept_duplicates;
            tasks.push(tokio::spawn(async move {
                while let Some(Ok(msg)) = ws_rx.next().await {
                    let Message::Text(t) = msg else { continue };
                    let Ok(msg) = serde_json::from_str::<ServerMessage>(&t) else {
                        continue;
                    };
                    match &msg {
                        ServerMessage::PublishAnswer { sdp } => {
                            if let Some(tx) = lock(&shared.publish_answer).take() {
                                let _ = tx.send(sdp.clone());
                            }
                        }
                        ServerMessage::SubscribeOffer { sdp } => {
                            let r = answer_subscribe(
                                &subscribe_pc,
                                (udp_ip, accept_duplicates),
                                &shared,
                                &out,
                                sdp,
                            )
                            .await;
                            if let Err(e) = r {
                                tracing::warn!("subscribe answer failed: {e}");
                            }
                        }
                        ServerMessage::Candidate { target, candidate } => {
                            let pc = match target {
                                PcTarget::Publish => publish_pc.clone(),
                                PcTarget::Subscribe => subscribe_pc.lock().await.clone(),
                            };
                            if let Some(pc) = pc {
                                let _ = pc
                                    .add_ice_candidate(RTCIceCandidateInit {
                                        candidate: candidate.candidate.clone(),
                                        sdp_mid: candidate.sdp_mid.clone(),
                                        sdp_mline_index: candidate.sdp_m_line_index,
                                        username_fragment: candidate.username_fragment.clone(),
                                        url: None,
                                    })
                                    .await;
                            }
                        }
                        _ => {}
                    }
                    lock(&shared.events).push((Instant::now(), msg));
                }
            }));
        }

        let mut client = Client {
            participant_id,
            others_at_join: others,
            joined_at,
            shared,
            out,
            publish_pc,
            subscribe_pc,
            stop,
            tasks,
        };
        if let Some(pc) = client.publish_pc.clone() {
            client.publish(&cfg, pc, &mut pub_gathered, stop_rx).await?;
        }
        Ok(client)
    }

    async fn publish(
        &mut self,
        cfg: &ClientConfig,
        pc: Arc<dyn PeerConnection>,
        gathered: &mut watch::Receiver<bool>,
        stop: watch::Receiver<bool>,
    ) -> Result<(), ClientError> {
        let base = 0x1000_0000 + cfg.index * 16;
        let mut metas = Vec::new();
        let mut senders = Vec::new();
        if cfg.publish_audio {
            let id = format!("audio-{}", cfg.index);
            let t = local_track(RtpCodecKind::Audio, "audio/opus", 48000, 2, base + 1, &id);
            let s = pc
                .add_track(Arc::clone(&t) as Arc<dyn TrackLocal>)
                .await
                .map_err(rtc_err)?;
            metas.push(TrackMeta {
                track_id: id,
                source: TrackSource::Microphone,
                muted: false,
            });
            senders.push((TrackKind::Audio, t, s, base + 1));
        }
        if cfg.publish_video {
            let id = format!("video-{}", cfg.index);
            let t = local_track(
                RtpCodecKind::Video,
                cfg.video_codec.mime(),
                90000,
                0,
                base + 2,
                &id,
            );
            let s = pc
                .add_track(Arc::clone(&t) as Arc<dyn TrackLocal>)
                .await
                .map_err(rtc_err)?;
            metas.push(TrackMeta {
                track_id: id,
                source: TrackSource::Camera,
                muted: false,
            });
            senders.push((TrackKind::Video, t, s, base + 2));
        }
        let offer = pc.create_offer(None).await.map_err(rtc_err)?;
        pc.set_local_description(offer).await.map_err(rtc_err)?;
        let sdp = gathered_sdp(&pc, gathered).await?;
        let (answer_tx, answer_rx) = oneshot::channel();
        *lock(&self.shared.publish_answer) = Some(answer_tx);
        self.out
            .send(ClientMessage::PublishOffer { sdp, tracks: metas })
            .await
            .map_err(|_| ClientError::Ws("closed".into()))?;
        let answer = tokio::time::timeout(Duration::from_secs(10), answer_rx)
            .await
            .map_err(|_| ClientError::Timeout("publish answer"))?
            .map_err(|_| ClientError::Ws("closed before the publish answer".into()))?;
        let answer = RTCSessionDescription::answer(answer).map_err(rtc_err)?;
        pc.set_remote_description(answer).await.map_err(rtc_err)?;
        for (kind, track, sender, ssrc) in senders {
            let mime = if kind == TrackKind::Video {
                cfg.video_codec.mime()
            } else {
                "audio/opus"
            };
            let pt = negotiated_pt(&sender, mime)
                .await
                .ok_or_else(|| ClientError::WebRtc(format!("{mime} was not negotiated")))?;
            let task = tokio::spawn(send_loop(
                cfg.clone(),
                kind,
                track,
                pt,
                ssrc,
                Arc::clone(&self.shared),
                stop.clone(),
            ));
            self.tasks.push(task);
        }
        Ok(())
    }

    /// Every remote track seen so far, by server track id.
    pub fn received(&self) -> Vec<TrackRecv> {
        let mut v: Vec<TrackRecv> = lock(&self.shared.tracks).values().cloned().collect();
        v.sort_by(|a, b| a.track_id.cmp(&b.track_id));
        v
    }

    /// Every server message seen after joining, with its arrival time.
    pub fn events(&self) -> Vec<(Instant, ServerMessage)> {
        lock(&self.shared.events).clone()
    }

    /// Packets sent so far: (audio, video).
    pub fn sent(&self) -> (u64, u64) {
        (
            self.shared.sent[0].load(Ordering::Relaxed),
            self.shared.sent[1].load(Ordering::Relaxed),
        )
    }

    /// Keyframe requests (PLI/FIR) this client's video track received.
    pub fn keyframe_requests(&self) -> u64 {
        self.shared.keyframe_requests.load(Ordering::Relaxed)
    }

    /// Asks the server to retransmit the latest packet received on `track_id`, with a NACK.
    /// Returns the sequence number asked for.
    pub async fn nack_latest(&self, track_id: &str) -> Option<u16> {
        let (ssrc, seq) = lock(&self.shared.tracks).get(track_id)?.last_seq?;
        let track = lock(&self.shared.remotes).get(track_id).cloned()?;
        let nack = TransportLayerNack {
            sender_ssrc: 0,
            media_ssrc: ssrc,
            nacks: vec![NackPair {
                packet_id: seq,
                lost_packets: 0,
            }],
        };
        track.write_rtcp(vec![Box::new(nack)]).await.ok()?;
        Some(seq)
    }

    /// Sends a raw protocol message.
    pub async fn send(&self, msg: ClientMessage) {
        let _ = self.out.send(msg).await;
    }

    /// Stops sending media without leaving.
    pub fn stop_media(&self) {
        let _ = self.stop.send(true);
    }

    /// Leaves politely and closes both connections.
    pub async fn leave(mut self) {
        self.stop_media();
        let _ = self.out.send(ClientMessage::Leave {}).await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        self.close().await;
    }

    /// Closes everything without a word, as a crashed client would.
    pub async fn close(&mut self) {
        self.stop_media();
        for t in self.tasks.drain(..) {
            t.abort();
        }
        if let Some(pc) = self.publish_pc.take() {
            let _ = pc.close().await;
        }
        if let Some(pc) = self.subscribe_pc.lock().await.take() {
            let _ = pc.close().await;
        }
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        for t in &self.tasks {
            t.abort();
        }
    }
}

async fn answer_subscribe(
    slot: &tokio::sync::Mutex<Option<Arc<dyn PeerConnection>>>,
    (udp_ip, accept_duplicates): (IpAddr, bool),
    shared: &Arc<Shared>,
    out: &mpsc::Sender<ClientMessage>,
    sdp: &str,
) -> Result<(), ClientError> {
    let mut guard = slot.lock().await;
    let (gathered_tx, mut gathered) = watch::channel(false);
    let first = guard.is_none();
    if first {
        let pc = new_pc(
            udp_ip,
            Handler {
                gathered: gathered_tx,
                candidates: Some((PcTarget::Subscribe, out.clone())),
                record: Some(Arc::clone(shared)),
            },
            accept_duplicates,
        )
        .await?;
        *guard = Some(pc);
    }
    // Invariant: filled just above when it was empty.
    let pc = guard.clone().expect("subscribe connection exists");
    drop(guard);
    let offer = RTCSessionDescription::offer(sdp.to_owned()).map_err(rtc_err)?;
    pc.set_remote_description(offer).await.map_err(rtc_err)?;
    let answer = pc.create_answer(None).await.map_err(rtc_err)?;
    pc.set_local_description(answer).await.map_err(rtc_err)?;
    let sdp = if first {
        gathered_sdp(&pc, &mut gathered).await?
    } else {
        pc.local_description()
            .await
            .map(|d| d.sdp)
            .ok_or(ClientError::WebRtc("no local description".into()))?
    };
    out.send(ClientMessage::SubscribeAnswer { sdp })
        .await
        .map_err(|_| ClientError::Ws("closed".into()))
}

async fn send_loop(
    cfg: ClientConfig,
    kind: TrackKind,
    track: Arc<TrackLocalStaticRTP>,
    pt: u8,
    ssrc: u32,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) {
    let video = kind == TrackKind::Video;
    let period = if video {
        Duration::from_secs(1) / cfg.video_fps.max(1)
    } else {
        Duration::from_millis(20)
    };
    let ts_step: u32 = if video {
        90_000 / cfg.video_fps.max(1)
    } else {
        960
    };
    let want_keyframe = Arc::new(AtomicBool::new(true));
    if video {
        let track = Arc::clone(&track);
        let want = Arc::clone(&want_keyframe);
        let shared = Arc::clone(&shared);
        let mut stop = stop.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    ev = track.poll() => match ev {
                        Some(TrackLocalEvent::OnRtcpPacket(pkts)) => {
                            tracing::debug!("publisher rtcp: {:?}", pkts);
                            if pkts.iter().any(|p| sfu::feedback::is_keyframe_request(p.as_ref())) {
                                shared.keyframe_requests.fetch_add(1, Ordering::Relaxed);
                                want.store(true, Ordering::Relaxed);
                            }
                        }
                        Some(_) => {}
                        None => tokio::time::sleep(Duration::from_millis(50)).await,
                    },
                    _ = stop.changed() => break,
                }
            }
        });
    }
    let mut ticker = tokio::time::interval(period);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut seq: u16 = (ssrc & 0xFFFF) as u16;
    let mut ts: u32 = ssrc.rotate_left(7);
    let mut counter: u64 = 0;
    let mut last_key = Instant::now();
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = stop.changed() => break,
        }
        if *stop.borrow() {
            break;
        }
        let stamp = Stamp {
            publisher: cfg.index,
            counter,
            sent_us: payload::now_us(),
        };
        let data = if video {
            let key = want_keyframe.swap(false, Ordering::Relaxed)
                || last_key.elapsed() >= cfg.keyframe_interval;
            if key {
                last_key = Instant::now();
            }
            match cfg.video_codec {
                VideoCodec::Vp8 => payload::vp8(stamp, key, cfg.video_packet_bytes),
                VideoCodec::H264 => payload::h264(stamp, key, cfg.video_packet_bytes),
            }
        } else {
            payload::audio(stamp, 60)
        };
        let pkt = rtp::Packet {
            header: rtp::header::Header {
                version: 2,
                marker: video,
                payload_type: pt,
                sequence_number: seq,
                timestamp: ts,
                ssrc,
                ..Default::default()
            },
            payload: data.into(),
        };
        if track.write_rtp(pkt).await.is_ok() {
            shared.sent[usize::from(video)].fetch_add(1, Ordering::Relaxed);
        }
        seq = seq.wrapping_add(1);
        ts = ts.wrapping_add(ts_step);
        counter += 1;
    }
}
