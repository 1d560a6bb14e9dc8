//! Sending stamped audio and video.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use protocol::TrackKind;
use rtc::rtp;
use rtc::rtp::extension::HeaderExtension;
use rtc::rtp::extension::audio_level_extension::AudioLevelExtension;
use tokio::sync::watch;
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::media_stream::track_local::{TrackLocal, TrackLocalEvent};

use crate::payload::{self, Stamp};

use super::config::*;
use super::recv::*;

pub(crate) async fn send_loop(
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
        let key = video
            && (want_keyframe.swap(false, Ordering::Relaxed)
                || last_key.elapsed() >= cfg.keyframe_interval);
        if key {
            last_key = Instant::now();
            shared.keyframes_sent.fetch_add(1, Ordering::Relaxed);
        }
        let sizes = if video {
            let scale = if key {
                cfg.keyframe_scale.max(1) as usize
            } else {
                1
            };
            payload::split_frame(
                cfg.video_frame_bytes * scale,
                payload::VP8_PREFIX_LEN + payload::HEADER_LEN,
            )
        } else {
            vec![60]
        };
        let last = sizes.len() - 1;
        for (i, len) in sizes.into_iter().enumerate() {
            let stamp = Stamp {
                publisher: cfg.index,
                counter,
                sent_us: payload::now_us(),
            };
            let data = match (video, cfg.video_codec) {
                (false, _) => payload::audio(stamp, len),
                (true, VideoCodec::Vp8) => payload::vp8_packet(stamp, key, i == 0, len),
                (true, VideoCodec::H264) => payload::h264(stamp, key, len),
            };
            let pkt = rtp::Packet {
                header: rtp::header::Header {
                    version: 2,
                    marker: video && i == last,
                    payload_type: pt,
                    sequence_number: seq,
                    timestamp: ts,
                    ssrc,
                    ..Default::default()
                },
                payload: data.into(),
            };
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
            }
            seq = seq.wrapping_add(1);
            counter += 1;
        }
        ts = ts.wrapping_add(ts_step);
    }
}
