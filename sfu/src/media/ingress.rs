//! Reading a publisher's incoming tracks into the room.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use bytes::Bytes;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtp::extension::audio_level_extension::AudioLevelExtension;
use rtc::shared::marshal::Unmarshal;
use sfu_core::{ParticipantId, RtpMeta};
use tokio::sync::mpsc;
use tracing::{debug, warn};
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};

use super::CodecSpec;
use crate::links::ParticipantLinks;
use crate::room::RoomMsg;

/// What an incoming track needs to reach its room.
#[derive(Clone)]
pub(crate) struct IngressCtx {
    pub(crate) room: mpsc::Sender<RoomMsg>,
    pub(crate) participant: ParticipantId,
    pub(crate) links: Arc<ParticipantLinks>,
    /// The audio level extension's id in the publisher's latest offer; 0 when not offered.
    pub(crate) audio_level_id: Arc<AtomicU8>,
}

impl IngressCtx {
    /// Announces a new incoming track to the room and starts copying its packets there.
    pub(crate) fn open(&self, track: Arc<dyn TrackRemote>) {
        let ctx = self.clone();
        tokio::spawn(async move { ctx.run(track).await });
    }

    async fn run(self, track: Arc<dyn TrackRemote>) {
        let Some(ssrc) = track.ssrcs().await.first().copied() else {
            warn!("incoming track without an SSRC");
            return;
        };
        let Some(codec) = track.codec(ssrc).await else {
            warn!(ssrc, "incoming track without a codec");
            return;
        };
        let spec = CodecSpec {
            mime_type: codec.mime_type.clone(),
            clock_rate: codec.clock_rate,
            channels: codec.channels,
            fmtp: codec.sdp_fmtp_line.clone(),
        };
        let codec_debug = spec.clone();
        let kind = spec.kind();
        let msid = track.track_id().await;
        let id = crate::next_track_id();
        let (keyframes_tx, mut keyframes) = mpsc::channel::<()>(4);
        let opened = RoomMsg::TrackOpened {
            publisher: self.participant,
            track: id,
            msid,
            codec: spec,
            keyframes: keyframes_tx,
        };
        if self.room.send(opened).await.is_err() {
            return;
        }
        debug!(track = id.0, ssrc, codec = ?codec_debug, "ingress started");
        loop {
            tokio::select! {
                event = track.poll() => match event {
                    Some(TrackRemoteEvent::OnRtpPacket(pkt)) => {
                        let audio_level = match (kind, self.audio_level_id.load(Ordering::Relaxed)) {
                            (protocol::TrackKind::Audio, id @ 1..) => pkt
                                .header
                                .get_extension(id)
                                .and_then(|mut b| AudioLevelExtension::unmarshal(&mut b).ok())
                                .map(|e| e.level),
                            _ => None,
                        };
                        let meta = RtpMeta {
                            ssrc: pkt.header.ssrc,
                            seq: pkt.header.sequence_number,
                            timestamp: pkt.header.timestamp,
                            marker: pkt.header.marker,
                            audio_level,
                        };
                        let payload: Bytes = pkt.payload;
                        self.links.add_in(payload.len());
                        if self.room.send(RoomMsg::Rtp { track: id, kind, meta, payload }).await.is_err() {
                            break;
                        }
                    }
                    Some(TrackRemoteEvent::OnEnded) | None => break,
                    Some(_) => {}
                },
                Some(()) = keyframes.recv() => {
                    let pli = PictureLossIndication { sender_ssrc: 0, media_ssrc: ssrc };
                    debug!(track = id.0, ssrc, "asking the publisher for a keyframe");
                    if let Err(e) = track.write_rtcp(vec![Box::new(pli)]).await {
                        debug!(track = id.0, "keyframe request not sent: {e}");
                    }
                }
            }
        }
        let _ = self.room.send(RoomMsg::TrackEnded { track: id }).await;
        debug!(track = id.0, "ingress ended");
    }
}
