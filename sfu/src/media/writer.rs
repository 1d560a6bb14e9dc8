//! Sending one subscription's queued packets, and hearing its keyframe requests.

use std::sync::Arc;
use std::time::Duration;

use rtc::rtp;
use sfu_core::{ParticipantId, TrackId};
use tokio::sync::mpsc;
use tracing::debug;
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::media_stream::track_local::{TrackLocal, TrackLocalEvent};

use super::feedback::{is_keyframe_request, nack_pairs};
use crate::egress::Egress;
use crate::links::ParticipantLinks;
use crate::room::RoomMsg;

/// Starts the task that drains `egress` into `local`. It ends when the egress is closed.
pub(crate) fn spawn_writer(
    local: Arc<TrackLocalStaticRTP>,
    egress: Arc<Egress>,
    room: mpsc::Sender<RoomMsg>,
    subscriber: ParticipantId,
    track: TrackId,
    links: Arc<ParticipantLinks>,
) {
    tokio::spawn(async move {
        let mut batch = Vec::with_capacity(64);
        loop {
            tokio::select! {
                more = egress.next_batch(&mut batch) => {
                    if !more {
                        break;
                    }
                    let Some(pt) = egress.payload_type() else {
                        batch.clear();
                        continue;
                    };
                    let n = batch.len() as u64;
                    let bytes: usize = batch.iter().map(|p| p.payload.len()).sum();
                    links.add_out(bytes as u64);
                    for p in batch.drain(..) {
                        let pkt = rtp::Packet {
                            header: rtp::header::Header {
                                version: 2,
                                marker: p.marker,
                                payload_type: pt,
                                sequence_number: p.header.seq,
                                timestamp: p.header.timestamp,
                                ssrc: p.header.ssrc,
                                ..Default::default()
                            },
                            payload: p.payload,
                        };
                        if let Err(e) = local.write_rtp(pkt).await {
                            debug!(track = track.0, "write failed: {e}");
                        }
                    }
                    egress.record_sent(n);
                }
                event = poll_feedback(&local) => {
                    if let Some(TrackLocalEvent::OnRtcpPacket(pkts)) = event {
                        tracing::trace!(track = track.0, "feedback: {:?}", pkts);
                        let wants_keyframe = pkts.iter().any(|p| is_keyframe_request(p.as_ref()));
                        if wants_keyframe {
                            let _ = room.try_send(RoomMsg::KeyframeRequest { subscriber, track });
                        }
                        let pairs: Vec<(u16, u16)> =
                            pkts.iter().filter_map(|p| nack_pairs(p.as_ref())).flatten().collect();
                        if !pairs.is_empty() {
                            let _ = room.try_send(RoomMsg::Nack { subscriber, track, pairs });
                        }
                    }
                }
            }
        }
        debug!(track = track.0, "writer ended");
    });
}

/// RTCP about a sending track; waits a little when the track is not bound yet, so an unbound
/// track never spins.
async fn poll_feedback(local: &TrackLocalStaticRTP) -> Option<TrackLocalEvent> {
    match local.poll().await {
        Some(e) => Some(e),
        None => {
            tokio::time::sleep(Duration::from_millis(100)).await;
            None
        }
    }
}
