//! The publishing side shared by every target: the client's audio and video tracks, and the
//! tasks that send stamped media on them once negotiated.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use protocol::{LayerMeta, TrackKind, TrackMeta, TrackSource};
use rtc::media_stream::MediaStreamTrack;
use rtc::sdp::extmap::{SDES_MID_URI, SDES_RTP_STREAM_ID_URI};
use sfu::CodecSpec;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use webrtc::media_stream::track_local::TrackLocal;
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::peer_connection::PeerConnection;
use webrtc::rtp_transceiver::{RtpSender, RtpTransceiver};

use super::config::*;
use super::peer::negotiated_pt;
use super::recv::Shared;
use super::send::{Layer, Streams, send_loop};

/// The RIDs of the simulcast layers, lowest first, as a browser names them.
pub(crate) const RIDS: [&str; 3] = ["q", "h", "f"];
/// A layer's frames are the full frame divided by this, lowest first.
const DIVISORS: [usize; 3] = [4, 2, 1];
/// The picture height each layer declares, lowest first, as a browser's 720p camera does.
const HEIGHTS: [u32; 3] = [180, 360, 720];

/// Which simulcast layers of a client's camera go out, lowest first: all of them until the
/// server's dynacast (`set_encodings`) says otherwise.
#[derive(Debug)]
pub(crate) struct ActiveLayers {
    /// The client's own id for its camera track, which `set_encodings` names.
    track_id: String,
    on: [AtomicBool; 3],
}

impl ActiveLayers {
    /// Every layer on, for the camera track `cfg` publishes.
    pub(crate) fn new(cfg: &ClientConfig) -> Arc<Self> {
        Arc::new(ActiveLayers {
            track_id: track_id(TrackKind::Video, cfg.index),
            on: std::array::from_fn(|_| AtomicBool::new(true)),
        })
    }

    /// Applies a `set_encodings` if it is about this client's camera: a layer `active` does not
    /// mention is off. Returns whether it was about the camera.
    pub(crate) fn set(&self, track_id: &str, active: &[bool]) -> bool {
        if track_id != self.track_id {
            return false;
        }
        for (i, on) in self.on.iter().enumerate() {
            on.store(active.get(i).copied().unwrap_or(false), Ordering::Relaxed);
        }
        true
    }

    /// Which layers are on now, lowest first.
    pub(crate) fn get(&self) -> [bool; 3] {
        std::array::from_fn(|i| self.on[i].load(Ordering::Relaxed))
    }
}

/// A track added to a publishing connection, to send on once negotiated.
pub(crate) struct Sending {
    kind: TrackKind,
    track: Arc<TrackLocalStaticRTP>,
    sender: Arc<dyn RtpSender>,
    /// One SSRC per simulcast layer, lowest first; one alone without simulcast.
    ssrcs: Vec<u32>,
    /// For a simulcast camera: its transceiver, whose MID every packet names, and which layers
    /// to send.
    simulcast: Option<(Arc<dyn RtpTransceiver>, Arc<ActiveLayers>)>,
}

/// Adds the configured audio and video tracks to `pc`; what to send on, and how to describe it.
/// A simulcast camera sends every layer; see [`add_tracks_with_layers`] to switch them.
pub(crate) async fn add_tracks(
    cfg: &ClientConfig,
    pc: &Arc<dyn PeerConnection>,
) -> Result<(Vec<Sending>, Vec<TrackMeta>), ClientError> {
    add_tracks_with_layers(cfg, pc, &ActiveLayers::new(cfg)).await
}

/// As [`add_tracks`], with a simulcast camera sending the layers `layers` says are on.
pub(crate) async fn add_tracks_with_layers(
    cfg: &ClientConfig,
    pc: &Arc<dyn PeerConnection>,
    layers: &Arc<ActiveLayers>,
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
        let id = track_id(kind, cfg.index);
        let stream = format!("stream-{}", cfg.index);
        let simulcast = cfg.simulcast && kind == TrackKind::Video;
        let (t, ssrcs) = if simulcast {
            let ssrcs = random_ssrcs(base + 1);
            (simulcast_track(&stream, &id, &codec, &ssrcs), ssrcs)
        } else {
            let ssrc = base + n;
            (rtp_track(&stream, &id, &codec, ssrc), vec![ssrc])
        };
        let s = pc
            .add_track(Arc::clone(&t) as Arc<dyn TrackLocal>)
            .await
            .map_err(rtc_err)?;
        let simulcast = if simulcast {
            Some((transceiver_of(pc, &s).await?, Arc::clone(layers)))
        } else {
            None
        };
        metas.push(TrackMeta {
            track_id: id,
            source,
            muted: false,
            layers: if simulcast.is_some() {
                layer_metas(cfg)
            } else {
                Vec::new()
            },
        });
        senders.push(Sending {
            kind,
            track: t,
            sender: s,
            ssrcs,
            simulcast,
        });
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
    for s in senders {
        let mime = if s.kind == TrackKind::Video {
            cfg.video_codec.mime()
        } else {
            "audio/opus"
        };
        let pt = negotiated_pt(&s.sender, mime)
            .await
            .ok_or_else(|| ClientError::WebRtc(format!("{mime} was not negotiated")))?;
        let streams = streams_of(&s).await?;
        tasks.push(tokio::spawn(send_loop(
            cfg.clone(),
            s.kind,
            s.track,
            pt,
            streams,
            Arc::clone(shared),
            stop.clone(),
        )));
    }
    Ok(tasks)
}

/// What `s` sends on. A simulcast camera has a stream per layer, each packet carrying the MID
/// and RID header extensions at their negotiated ids: rtc writes neither, and the server's
/// rtc matches a layer's SSRC to the offer's `a=rid` by them.
async fn streams_of(s: &Sending) -> Result<Streams, ClientError> {
    let Some((transceiver, active)) = &s.simulcast else {
        let layers = s
            .ssrcs
            .iter()
            .map(|&ssrc| Layer {
                ssrc,
                divisor: 1,
                extensions: Vec::new(),
            })
            .collect();
        return Ok(Streams {
            layers,
            active: None,
        });
    };
    let mid = transceiver
        .mid()
        .await
        .map_err(rtc_err)?
        .ok_or_else(|| ClientError::WebRtc("the camera's transceiver has no mid".into()))?;
    let params = s.sender.get_parameters().await.map_err(rtc_err)?;
    let id_of = |uri: &str| {
        params
            .rtp_parameters
            .header_extensions
            .iter()
            .find(|e| e.uri == uri)
            .and_then(|e| u8::try_from(e.id).ok())
    };
    let (Some(mid_id), Some(rid_id)) = (id_of(SDES_MID_URI), id_of(SDES_RTP_STREAM_ID_URI)) else {
        return Err(ClientError::WebRtc(
            "the MID and RID header extensions were not negotiated".into(),
        ));
    };
    let mid = Bytes::from(mid.into_bytes());
    let layers = s
        .ssrcs
        .iter()
        .zip(RIDS)
        .zip(DIVISORS)
        .map(|((&ssrc, rid), divisor)| Layer {
            ssrc,
            divisor,
            extensions: vec![
                (mid_id, mid.clone()),
                (rid_id, Bytes::from_static(rid.as_bytes())),
            ],
        })
        .collect();
    Ok(Streams {
        layers,
        active: Some(Arc::clone(active)),
    })
}

/// The client's own id for its track of `kind`: the track id of its `a=msid`.
fn track_id(kind: TrackKind, index: u32) -> String {
    let name = if kind == TrackKind::Video {
        "video"
    } else {
        "audio"
    };
    format!("{name}-{index}")
}

/// The transceiver `sender` belongs to: its id is the transceiver's.
async fn transceiver_of(
    pc: &Arc<dyn PeerConnection>,
    sender: &Arc<dyn RtpSender>,
) -> Result<Arc<dyn RtpTransceiver>, ClientError> {
    let id: usize = sender.id().into();
    pc.get_transceivers()
        .await
        .into_iter()
        .find(|t| t.id() == id)
        .ok_or_else(|| ClientError::WebRtc("the camera's sender has no transceiver".into()))
}

/// The layers a simulcast camera declares in `publish_offer`, lowest first: each one's RID, a
/// nominal height, and the bitrate its frames make at `video_fps`.
fn layer_metas(cfg: &ClientConfig) -> Vec<LayerMeta> {
    let fps = u64::from(cfg.video_fps.max(1));
    RIDS.iter()
        .zip(DIVISORS)
        .zip(HEIGHTS)
        .map(|((rid, divisor), height)| LayerMeta {
            rid: (*rid).to_owned(),
            height,
            max_bitrate: (cfg.video_frame_bytes / divisor) as u64 * 8 * fps,
        })
        .collect()
}

/// One random SSRC per simulcast layer, all different, none 0 or `taken`.
fn random_ssrcs(taken: u32) -> Vec<u32> {
    let state = RandomState::new();
    let mut ssrcs = Vec::with_capacity(RIDS.len());
    let mut n: u64 = 0;
    while ssrcs.len() < RIDS.len() {
        let ssrc = state.hash_one(n) as u32;
        n += 1;
        if ssrc != 0 && ssrc != taken && !ssrcs.contains(&ssrc) {
            ssrcs.push(ssrc);
        }
    }
    ssrcs
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

/// As [`rtp_track`], with an encoding per simulcast layer: RID [`RIDS`]`[i]` as `ssrcs[i]`,
/// lowest first. The offer then carries `a=rid:q send`, `a=rid:h send`, `a=rid:f send` and
/// `a=simulcast:send q;h;f`, and no `a=ssrc` lines.
fn simulcast_track(
    stream_id: &str,
    track_id: &str,
    codec: &CodecSpec,
    ssrcs: &[u32],
) -> Arc<TrackLocalStaticRTP> {
    let one = sfu::engine::conn::sending_track(stream_id, track_id, codec, 0);
    let coding = one
        .codings()
        .first()
        .cloned()
        // Invariant: `sending_track` makes a track of exactly one encoding.
        .expect("a sending track has one encoding");
    let codings = ssrcs
        .iter()
        .zip(RIDS)
        .map(|(&ssrc, rid)| {
            let mut c = coding.clone();
            c.rtp_coding_parameters.rid = rid.to_owned();
            c.rtp_coding_parameters.ssrc = Some(ssrc);
            c
        })
        .collect();
    Arc::new(TrackLocalStaticRTP::new(MediaStreamTrack::new(
        one.stream_id().clone(),
        one.track_id().clone(),
        one.label().clone(),
        one.kind(),
        codings,
    )))
}
