//! The publishing side shared by every target: the client's audio and video tracks, and the
//! tasks that send stamped media on them once negotiated.

use std::sync::Arc;

use protocol::{TrackKind, TrackMeta, TrackSource};
use sfu::CodecSpec;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use webrtc::media_stream::track_local::TrackLocal;
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::peer_connection::PeerConnection;
use webrtc::rtp_transceiver::RtpSender;

use super::config::*;
use super::peer::negotiated_pt;
use super::recv::Shared;
use super::send::send_loop;

/// A track added to a publishing connection: its kind, the track, its sender and its SSRC.
pub(crate) type Sending = (TrackKind, Arc<TrackLocalStaticRTP>, Arc<dyn RtpSender>, u32);

/// Adds the configured audio and video tracks to `pc`; what to send on, and how to describe it.
pub(crate) async fn add_tracks(
    cfg: &ClientConfig,
    pc: &Arc<dyn PeerConnection>,
) -> Result<(Vec<Sending>, Vec<TrackMeta>), ClientError> {
    let base = 0x1000_0000 + cfg.index * 16;
    let mut metas = Vec::new();
    let mut senders = Vec::new();
    let audio = CodecSpec {
        mime_type: "audio/opus".into(),
        clock_rate: 48000,
        channels: 2,
        fmtp: "minptime=10;useinbandfec=1".into(),
    };
    let video = CodecSpec {
        mime_type: cfg.video_codec.mime().into(),
        clock_rate: 90000,
        channels: 0,
        fmtp: String::new(),
    };
    let wanted = [
        (
            cfg.publish_audio,
            TrackKind::Audio,
            audio,
            TrackSource::Microphone,
            1,
        ),
        (
            cfg.publish_video,
            TrackKind::Video,
            video,
            TrackSource::Camera,
            2,
        ),
    ];
    for (on, kind, codec, source, n) in wanted {
        if !on {
            continue;
        }
        let kind_name = if kind == TrackKind::Video {
            "video"
        } else {
            "audio"
        };
        let id = format!("{kind_name}-{}", cfg.index);
        let ssrc = base + n;
        let t = rtp_track(&format!("stream-{}", cfg.index), &id, &codec, ssrc);
        let s = pc
            .add_track(Arc::clone(&t) as Arc<dyn TrackLocal>)
            .await
            .map_err(rtc_err)?;
        metas.push(TrackMeta {
            track_id: id,
            source,
            muted: false,
            layers: Vec::new(),
        });
        senders.push((kind, t, s, ssrc));
    }
    Ok((senders, metas))
}

/// Once the answer is applied: a sending task per track, at the negotiated payload type.
pub(crate) async fn start_sending(
    cfg: &ClientConfig,
    senders: Vec<Sending>,
    shared: &Arc<Shared>,
    stop: watch::Receiver<bool>,
) -> Result<Vec<JoinHandle<()>>, ClientError> {
    let mut tasks = Vec::new();
    for (kind, track, sender, ssrc) in senders {
        let mime = if kind == TrackKind::Video {
            cfg.video_codec.mime()
        } else {
            "audio/opus"
        };
        let pt = negotiated_pt(&sender, mime)
            .await
            .ok_or_else(|| ClientError::WebRtc(format!("{mime} was not negotiated")))?;
        tasks.push(tokio::spawn(send_loop(
            cfg.clone(),
            kind,
            track,
            pt,
            ssrc,
            Arc::clone(shared),
            stop.clone(),
        )));
    }
    Ok(tasks)
}

/// A track that sends ready-made RTP packets as `ssrc` with `codec` (the server's own shape of
/// a sending track); `stream_id` and `track_id` become its `a=msid`.
fn rtp_track(
    stream_id: &str,
    track_id: &str,
    codec: &CodecSpec,
    ssrc: u32,
) -> Arc<TrackLocalStaticRTP> {
    Arc::new(TrackLocalStaticRTP::new(sfu::engine::conn::sending_track(
        stream_id, track_id, codec, ssrc,
    )))
}
