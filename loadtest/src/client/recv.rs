//! Recording what arrives on each remote track.

use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use protocol::{ServerMessage, TrackKind};
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtp_transceiver::rtp_sender::RtpCodecKind;
use tokio::sync::oneshot;
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};

use crate::payload::{self};

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
    /// Payload bytes of every packet received.
    pub bytes: u64,
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
    /// One-way delay samples, microseconds (the first [`LATENCY_SAMPLES`]).
    pub latencies_us: Vec<u32>,
    /// Every delay, summed, and how many: for a running mean without the samples.
    pub latency_sum_us: u64,
    pub latency_count: u64,
    /// RFC 3550 interarrival jitter, microseconds, from the send stamps.
    pub jitter: crate::stats::Jitter,
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

/// Delay samples kept per track: about an hour of 50 packets a second.
pub const LATENCY_SAMPLES: usize = 200_000;

#[derive(Default)]
pub(crate) struct Shared {
    pub(crate) subscribe_sdp_sent: Arc<std::sync::atomic::AtomicBool>,
    pub(crate) reports: Arc<crate::client::peer::ReportCounts>,
    pub(crate) tracks: Mutex<HashMap<String, TrackRecv>>,
    pub(crate) remotes: Mutex<HashMap<String, Arc<dyn TrackRemote>>>,
    pub(crate) events: Mutex<Vec<(Instant, ServerMessage)>>,
    pub(crate) sent: [AtomicU64; 2],
    /// Payload bytes sent, audio and video.
    pub(crate) sent_bytes: AtomicU64,
    pub(crate) keyframe_requests: AtomicU64,
    /// Keyframes this participant's publisher sent, periodic or asked for.
    pub(crate) keyframes_sent: AtomicU64,
    pub(crate) publish_answer: Mutex<Option<oneshot::Sender<Result<String, super::ClientError>>>>,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Invariant: no code panics while holding these locks.
    m.lock().expect("client lock poisoned")
}

pub(crate) async fn record_track(shared: Arc<Shared>, track: Arc<dyn TrackRemote>) {
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
            bytes: 0,
            corrupt: 0,
            out_of_order: 0,
            publisher_index: None,
            first_counter: None,
            last_counter: 0,
            keyframes: 0,
            first_packet_at: None,
            first_keyframe_at: None,
            latencies_us: Vec::new(),
            latency_sum_us: 0,
            latency_count: 0,
            jitter: Default::default(),
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
        t.bytes += pkt.payload.len() as u64;
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
        let arrived = payload::now_us();
        let delay = arrived.saturating_sub(stamp.sent_us);
        t.latency_sum_us += delay;
        t.latency_count += 1;
        t.jitter.arrival(stamp.sent_us, arrived);
        if t.latencies_us.len() < LATENCY_SAMPLES {
            t.latencies_us.push(delay.min(u64::from(u32::MAX)) as u32);
        }
    }
}
