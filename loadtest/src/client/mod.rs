//! One synthetic participant: signaling over a WebSocket, a publish connection that sends
//! stamped Opus-like audio and VP8-like video, and a subscribe connection that records what
//! arrives from everyone else.

mod config;
pub mod layout;
pub(crate) mod peer;
pub(crate) mod publish;
pub(crate) mod recv;
mod send;

pub use config::{ClientConfig, ClientError, VideoCodec};
pub use recv::TrackRecv;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use protocol::{ClientMessage, PROTOCOL_VERSION, ParticipantInfo, PcTarget, ServerMessage};
use rtc::rtcp::transport_feedbacks::transport_layer_nack::{NackPair, TransportLayerNack};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use webrtc::peer_connection::{PeerConnection, RTCIceCandidateInit, RTCSessionDescription};

use config::*;
use peer::*;
use recv::*;

/// Sums over a client's remote tracks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    /// Intact packets received, and all packets' payload bytes.
    pub packets: u64,
    pub bytes: u64,
    /// Payload bytes this participant's publisher sent.
    pub sent_bytes: u64,
    /// Packets the publishers sent between the first and last seen, per track.
    pub expected: u64,
    pub latency_sum_us: u64,
    pub latency_count: u64,
}

/// Sums over the remote tracks recorded in `shared`.
pub(crate) fn totals_of(shared: &Shared) -> Totals {
    let mut t = Totals::default();
    for r in lock(&shared.tracks).values() {
        t.packets += r.packets.saturating_sub(r.corrupt);
        t.bytes += r.bytes;
        t.expected += r.expected();
        t.latency_sum_us += r.latency_sum_us;
        t.latency_count += r.latency_count;
    }
    t.sent_bytes = shared.sent_bytes.load(Ordering::Relaxed);
    t
}

/// Keyframe requests (PLI/FIR) the publisher recorded in `shared` received, and keyframes it sent.
pub(crate) fn keyframes_of(shared: &Shared) -> (u64, u64) {
    (
        shared.keyframe_requests.load(Ordering::Relaxed),
        shared.keyframes_sent.load(Ordering::Relaxed),
    )
}

/// The remote tracks recorded in `shared`, by track id.
pub(crate) fn received_of(shared: &Shared) -> Vec<TrackRecv> {
    let mut v: Vec<TrackRecv> = lock(&shared.tracks).values().cloned().collect();
    v.sort_by(|a, b| a.track_id.cmp(&b.track_id));
    v
}

/// A connected synthetic participant. Dropping it closes everything.
pub struct Client {
    pub participant_id: String,
    pub others_at_join: Vec<ParticipantInfo>,
    /// When the join was sent, and when `joined` came back.
    pub requested_at: Instant,
    pub joined_at: Instant,
    shared: Arc<Shared>,
    out: mpsc::Sender<ClientMessage>,
    owned: Owned,
}

/// A subscribe connection, made when the first offer comes.
pub(crate) type SubscribeSlot = Arc<tokio::sync::Mutex<Option<Arc<dyn PeerConnection>>>>;

/// What a participant owns that must stop with it: the switch of its senders, its tasks, and
/// both connections.
pub(crate) struct Owned {
    pub(crate) stop: watch::Sender<bool>,
    pub(crate) tasks: Vec<JoinHandle<()>>,
    pub(crate) publish_pc: Option<Arc<dyn PeerConnection>>,
    pub(crate) subscribe_pc: SubscribeSlot,
}

impl Owned {
    /// Stops sending, ends the tasks and closes both connections.
    pub(crate) async fn close(&mut self) {
        let _ = self.stop.send(true);
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

impl Drop for Owned {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        for t in &self.tasks {
            t.abort();
        }
    }
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
            token: cfg.token.clone(),
            device: cfg.device.clone(),
        };
        let text =
            serde_json::to_string(&join).map_err(|e| ClientError::Protocol(e.to_string()))?;
        let requested_at = Instant::now();
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
                Ok(ServerMessage::Error { code, message, .. }) => {
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
        let publish_sdp_sent = Arc::new(AtomicBool::new(false));
        let publishing = cfg.publish_audio || cfg.publish_video;
        let publish_pc = if publishing {
            Some(
                new_pc(
                    PcOptions {
                        udp_ip: cfg.udp_ip,
                        accept_duplicates: false,
                        vp8_only: false,
                    },
                    Handler {
                        gathered: pub_gathered_tx,
                        candidates: Some((PcTarget::Publish, out.clone())),
                        sdp_sent: Arc::clone(&publish_sdp_sent),
                        record: None,
                    },
                    Arc::clone(&shared.reports),
                )
                .await?,
            )
        } else {
            None
        };
        let subscribe_pc: SubscribeSlot = Arc::new(tokio::sync::Mutex::new(None));

        // Which of the camera's simulcast layers the server wants encoded (`set_encodings`).
        let layers = publish::ActiveLayers::new(&cfg);
        // Reader: applies what the server sends.
        {
            let layers = Arc::clone(&layers);
            let shared = Arc::clone(&shared);
            let out = out.clone();
            let publish_pc = publish_pc.clone();
            let subscribe_pc = Arc::clone(&subscribe_pc);
            let opts = PcOptions {
                udp_ip: cfg.udp_ip,
                accept_duplicates: cfg.accept_duplicates,
                vp8_only: cfg.vp8_only,
            };
            tasks.push(tokio::spawn(async move {
                while let Some(Ok(msg)) = ws_rx.next().await {
                    let Message::Text(t) = msg else { continue };
                    let Ok(msg) = serde_json::from_str::<ServerMessage>(&t) else {
                        continue;
                    };
                    // Recorded first, so that whoever is woken by what follows already sees it.
                    lock(&shared.events).push((Instant::now(), msg.clone()));
                    match &msg {
                        ServerMessage::PublishAnswer { sdp, .. } => {
                            if let Some(tx) = lock(&shared.publish_answer).take() {
                                let _ = tx.send(Ok(sdp.clone()));
                            }
                        }
                        // While a publish offer is outstanding, an error is its answer.
                        ServerMessage::Error { code, message, .. } => {
                            if let Some(tx) = lock(&shared.publish_answer).take() {
                                let _ = tx.send(Err(ClientError::Server {
                                    code: *code,
                                    message: message.clone(),
                                }));
                            }
                        }
                        ServerMessage::SetEncodings { track_id, active } => {
                            layers.set(track_id, active);
                        }
                        ServerMessage::SubscribeOffer { sdp } => {
                            let r = answer_subscribe(&subscribe_pc, opts, &shared, &out, sdp).await;
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
                }
            }));
        }

        if let Some(plan) = cfg.layout.clone() {
            let (shared, out, stop) = (Arc::clone(&shared), out.clone(), stop_rx.clone());
            tasks.push(tokio::spawn(layout::keep_told(plan, shared, out, stop)));
        }

        let mut client = Client {
            participant_id,
            others_at_join: others,
            requested_at,
            joined_at,
            shared,
            out,
            owned: Owned {
                stop,
                tasks,
                publish_pc,
                subscribe_pc,
            },
        };
        if let Some(pc) = client.owned.publish_pc.clone() {
            client
                .publish(
                    &cfg,
                    pc,
                    &mut pub_gathered,
                    &publish_sdp_sent,
                    stop_rx,
                    &layers,
                )
                .await?;
        }
        Ok(client)
    }

    async fn publish(
        &mut self,
        cfg: &ClientConfig,
        pc: Arc<dyn PeerConnection>,
        gathered: &mut watch::Receiver<bool>,
        sdp_sent: &AtomicBool,
        stop: watch::Receiver<bool>,
        layers: &Arc<publish::ActiveLayers>,
    ) -> Result<(), ClientError> {
        let (senders, metas) = publish::add_tracks_with_layers(cfg, &pc, layers).await?;
        let offer = pc.create_offer(None).await.map_err(rtc_err)?;
        pc.set_local_description(offer).await.map_err(rtc_err)?;
        let sdp = gathered_sdp(&pc, gathered).await?;
        let (answer_tx, answer_rx) = oneshot::channel();
        *lock(&self.shared.publish_answer) = Some(answer_tx);
        self.out
            .send(ClientMessage::PublishOffer { sdp, tracks: metas })
            .await
            .map_err(|_| ClientError::Ws("closed".into()))?;
        sdp_sent.store(true, Ordering::Release);
        let answer = tokio::time::timeout(Duration::from_secs(10), answer_rx)
            .await
            .map_err(|_| ClientError::Timeout("publish answer"))?
            .map_err(|_| ClientError::Ws("closed before the publish answer".into()))??;
        let answer = RTCSessionDescription::answer(answer).map_err(rtc_err)?;
        pc.set_remote_description(answer).await.map_err(rtc_err)?;
        let tasks = publish::start_sending(cfg, senders, &self.shared, stop).await?;
        self.owned.tasks.extend(tasks);
        Ok(())
    }

    /// Every remote track seen so far, by server track id.
    pub fn received(&self) -> Vec<TrackRecv> {
        received_of(&self.shared)
    }

    /// Running totals over every remote track, without copying the delay samples.
    pub fn totals(&self) -> Totals {
        totals_of(&self.shared)
    }

    /// When this client learnt of each remote track (by server track id): at `joined` for the
    /// tracks already there, at `track_published` for later ones.
    pub fn announced_at(&self) -> std::collections::HashMap<String, Instant> {
        let mut at: std::collections::HashMap<String, Instant> = self
            .others_at_join
            .iter()
            .flat_map(|p| p.tracks.iter().map(|t| (t.id.clone(), self.joined_at)))
            .collect();
        for (when, m) in lock(&self.shared.events).iter() {
            if let ServerMessage::TrackPublished { track, .. } = m {
                at.entry(track.id.clone()).or_insert(*when);
            }
        }
        at
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

    /// Keyframe requests (PLI/FIR) this client's publisher received, and keyframes it sent.
    pub fn keyframes(&self) -> (u64, u64) {
        keyframes_of(&self.shared)
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

    /// RTCP reports that reached this client: (receiver reports about what it publishes,
    /// sender reports about what it receives).
    pub fn rtcp_reports(&self) -> (u64, u64) {
        (
            self.shared.reports.receiver.load(Ordering::Relaxed),
            self.shared.reports.sender.load(Ordering::Relaxed),
        )
    }

    /// Sends a raw protocol message.
    pub async fn send(&self, msg: ClientMessage) {
        let _ = self.out.send(msg).await;
    }

    /// Stops sending media without leaving.
    pub fn stop_media(&self) {
        let _ = self.owned.stop.send(true);
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
        self.owned.close().await;
    }
}

async fn answer_subscribe(
    slot: &SubscribeSlot,
    opts: PcOptions,
    shared: &Arc<Shared>,
    out: &mpsc::Sender<ClientMessage>,
    sdp: &str,
) -> Result<(), ClientError> {
    let candidates = Some((PcTarget::Subscribe, out.clone()));
    let sdp = answer_offer(slot, opts, shared, candidates, sdp.to_owned()).await?;
    out.send(ClientMessage::SubscribeAnswer { sdp })
        .await
        .map_err(|_| ClientError::Ws("closed".into()))?;
    shared.subscribe_sdp_sent.store(true, Ordering::Release);
    Ok(())
}
