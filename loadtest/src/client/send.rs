//! Sending stamped audio and video.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use protocol::TrackKind;
use rtc::rtp;
use rtc::rtp::extension::HeaderExtension;
use rtc::rtp::extension::audio_level_extension::AudioLevelExtension;
use tokio::sync::watch;
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::media_stream::track_local::{TrackLocal, TrackLocalEvent};

use crate::payload::{self, Stamp};

use super::config::*;
use super::publish::ActiveLayers;
use super::recv::*;

/// One stream a track's frames go out on: a simulcast layer, or the whole track.
pub(crate) struct Layer {
    pub(crate) ssrc: u32,
    /// Its frames are the full frame divided by this: 1 for the top layer, or without simulcast.
    pub(crate) divisor: usize,
    /// Header extensions every packet on it carries, by negotiated id: the MID and RID with
    /// simulcast, none otherwise.
    pub(crate) extensions: Vec<(u8, Bytes)>,
}

/// The streams a track sends on, lowest first, and which of them are on.
pub(crate) struct Streams {
    /// One alone without simulcast.
    pub(crate) layers: Vec<Layer>,
    /// Which simulcast layers the server wants; `None` sends every one.
    pub(crate) active: Option<Arc<ActiveLayers>>,
}

impl Streams {
    /// Which layers to send now, by index.
    fn on(&self) -> Vec<bool> {
        match &self.active {
            None => vec![true; self.layers.len()],
            Some(active) => {
                let on = active.get();
                (0..self.layers.len())
                    .map(|i| on.get(i).copied().unwrap_or(false))
                    .collect()
            }
        }
    }
}

/// Sends a frame every period on each layer of `streams` that is on. Every layer carries the
/// same timestamp and splits a frame into as many packets as the full frame, so the i-th packet
/// of a frame has one stamp counter on every layer, and a subscriber the server moves between
/// layers sees the counters run on. Keyframes go out on all layers together.
pub(crate) async fn send_loop(
    cfg: ClientConfig,
    kind: TrackKind,
    track: Arc<TrackLocalStaticRTP>,
    pt: u8,
    streams: Streams,
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
    let mut seqs: Vec<u16> = streams
        .layers
        .iter()
        .map(|l| (l.ssrc & 0xFFFF) as u16)
        .collect();
    let mut ts: u32 = streams.layers.first().map_or(0, |l| l.ssrc.rotate_left(7));
    let mut counter: u64 = 0;
    let mut last_key = Instant::now();
    let mut was_on = vec![false; streams.layers.len()];
    let min = payload::VP8_PREFIX_LEN + payload::HEADER_LEN;
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = stop.changed() => break,
        }
        if *stop.borrow() {
            break;
        }
        let on = streams.on();
        // A layer that comes back on starts with a keyframe, as a browser's encoder does.
        let woke = on.iter().zip(&was_on).any(|(&now, &before)| now && !before);
        was_on.clone_from(&on);
        // With every layer off nothing is sent, and a keyframe asked for waits.
        let key = video
            && on.contains(&true)
            && (want_keyframe.swap(false, Ordering::Relaxed)
                || woke
                || last_key.elapsed() >= cfg.keyframe_interval);
        if key {
            last_key = Instant::now();
            shared.keyframes_sent.fetch_add(1, Ordering::Relaxed);
        }
        let scale = if key {
            cfg.keyframe_scale.max(1) as usize
        } else {
            1
        };
        let frame = cfg.video_frame_bytes * scale;
        let full = if video {
            payload::split_frame(frame, min)
        } else {
            vec![60]
        };
        let layers = streams.layers.iter().zip(seqs.iter_mut()).zip(&on);
        for ((layer, seq), &is_on) in layers {
            if !is_on {
                continue;
            }
            let sizes = if layer.divisor == 1 {
                full.clone()
            } else {
                split_in(frame / layer.divisor, full.len(), min)
            };
            let last = sizes.len() - 1;
            for (i, len) in sizes.into_iter().enumerate() {
                let stamp = Stamp {
                    publisher: cfg.index,
                    counter: counter + i as u64,
                    sent_us: payload::now_us(),
                };
                let data = match (video, cfg.video_codec) {
                    (false, _) => payload::audio(stamp, len),
                    (true, VideoCodec::Vp8) => payload::vp8_packet(stamp, key, i == 0, len),
                    (true, VideoCodec::H264) => payload::h264(stamp, key, len),
                };
                let bytes = data.len() as u64;
                let mut pkt = rtp::Packet {
                    header: rtp::header::Header {
                        version: 2,
                        marker: video && i == last,
                        payload_type: pt,
                        sequence_number: *seq,
                        timestamp: ts,
                        ssrc: layer.ssrc,
                        ..Default::default()
                    },
                    payload: data.into(),
                };
                for (id, value) in &layer.extensions {
                    if let Err(e) = pkt.header.set_extension(*id, value.clone()) {
                        tracing::debug!("header extension {id} not set: {e}");
                    }
                }
                let written = match (video, cfg.audio_level) {
                    (false, Some(level)) => {
                        let ext = HeaderExtension::AudioLevel(AudioLevelExtension {
                            level: level.min(127),
                            voice: level < 127,
                        });
                        track.write_rtp_with_extensions(pkt, &[ext]).await
                    }
                    _ => track.write_rtp(pkt).await,
                };
                if written.is_ok() {
                    shared.sent[usize::from(video)].fetch_add(1, Ordering::Relaxed);
                    shared.sent_bytes.fetch_add(bytes, Ordering::Relaxed);
                }
                *seq = seq.wrapping_add(1);
            }
        }
        counter += full.len() as u64;
        ts = ts.wrapping_add(ts_step);
    }
}

/// The sizes of `n` packets (at least one) carrying a frame of `frame` bytes: as even as
/// possible, none smaller than `min`.
fn split_in(frame: usize, n: usize, min: usize) -> Vec<usize> {
    let n = n.max(1);
    let frame = frame.max(min);
    let (base, extra) = (frame / n, frame % n);
    (0..n)
        .map(|i| (base + usize::from(i < extra)).max(min))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lower_layers_split_into_as_many_packets_as_the_full_frame() {
        for frame in [1, 1000, 1101, 2201, 9999] {
            let full = payload::split_frame(frame, 24);
            assert_eq!(split_in(frame, full.len(), 24), full);
            for divisor in [2, 4] {
                let parts = split_in(frame / divisor, full.len(), 24);
                assert_eq!(parts.len(), full.len());
                assert!(
                    parts
                        .iter()
                        .all(|p| (24..=payload::MAX_VIDEO_PAYLOAD).contains(p))
                );
            }
        }
    }
}
