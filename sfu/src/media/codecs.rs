//! The codecs this server forwards, and matching publishers' codecs to them.

use rtc::peer_connection::configuration::media_engine::MediaEngine;
use rtc::rtp_transceiver::RTCRtpTransceiverDirection;
use rtc::rtp_transceiver::rtp_sender::{
    RTCPFeedback, RTCRtpCodec, RTCRtpCodecParameters, RTCRtpHeaderExtensionCapability, RtpCodecKind,
};

use super::CodecSpec;
use crate::engine::conn::rtc_err;
use crate::error::Result;

pub(crate) fn video_feedback() -> Vec<RTCPFeedback> {
    [
        ("goog-remb", ""),
        ("ccm", "fir"),
        ("nack", ""),
        ("nack", "pli"),
    ]
    .into_iter()
    .map(|(typ, parameter)| RTCPFeedback {
        typ: typ.to_owned(),
        parameter: parameter.to_owned(),
    })
    .collect()
}

/// The codecs Cohort forwards: Opus, VP8 and H.264 (constrained baseline and baseline,
/// packetization mode 1). No RTX, so browsers retransmit on the media SSRC.
fn codecs(kind: RtpCodecKind) -> Vec<RTCRtpCodecParameters> {
    let codec = |mime: &str, clock_rate, channels, fmtp: &str, fb: Vec<RTCPFeedback>, pt| {
        RTCRtpCodecParameters {
            rtp_codec: RTCRtpCodec {
                mime_type: mime.to_owned(),
                clock_rate,
                channels,
                sdp_fmtp_line: fmtp.to_owned(),
                rtcp_feedback: fb,
            },
            payload_type: pt,
        }
    };
    const H264: &str = "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=";
    match kind {
        RtpCodecKind::Audio => vec![codec(
            "audio/opus",
            48000,
            2,
            "minptime=10;useinbandfec=1",
            vec![],
            111,
        )],
        _ => vec![
            codec("video/VP8", 90000, 0, "", video_feedback(), 96),
            codec(
                "video/H264",
                90000,
                0,
                &format!("{H264}42e01f"),
                video_feedback(),
                125,
            ),
            codec(
                "video/H264",
                90000,
                0,
                &format!("{H264}42001f"),
                video_feedback(),
                102,
            ),
        ],
    }
}

pub(crate) fn media_engine() -> Result<MediaEngine> {
    let mut m = MediaEngine::default();
    for kind in [RtpCodecKind::Audio, RtpCodecKind::Video] {
        for c in codecs(kind) {
            m.register_codec(c, kind).map_err(rtc_err)?;
        }
    }
    // Publishers' audio levels, for speaker detection and talk time. Received only: what we
    // forward carries no level of ours.
    m.register_header_extension(
        RTCRtpHeaderExtensionCapability {
            uri: super::sdp::AUDIO_LEVEL_URI.to_owned(),
        },
        RtpCodecKind::Audio,
        Some(RTCRtpTransceiverDirection::Recvonly),
    )
    .map_err(rtc_err)?;
    Ok(m)
}

/// Every codec of the kind, the track's own first. Offering them all on every m-line matters:
/// the codecs a connection can send are fixed by the first answer that covers a kind, so the
/// first video m-line must already carry H.264 for an H.264 publisher who joins later.
pub(crate) fn preferences(spec: &CodecSpec, kind: RtpCodecKind) -> Vec<RTCRtpCodecParameters> {
    let mut all = codecs(kind);
    all.sort_by_key(|c| codec_distance(spec, &c.rtp_codec));
    all
}

/// How far one of our codecs is from a publisher's: 0 the same, 1 the same H.264 packetization
/// mode and profile (or the same non-H.264 codec) with other parameters, 2 the same MIME type
/// only, 3 another codec.
fn codec_distance(spec: &CodecSpec, ours: &RTCRtpCodec) -> u8 {
    if !ours.mime_type.eq_ignore_ascii_case(&spec.mime_type) {
        return 3;
    }
    if ours.sdp_fmtp_line == spec.fmtp {
        return 0;
    }
    let param = |fmtp: &str, key: &str| {
        fmtp.split(';')
            .filter_map(|kv| kv.trim().split_once('='))
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.to_ascii_lowercase())
    };
    let h264 = spec.mime_type.eq_ignore_ascii_case("video/H264");
    let same = |key: &str| param(&spec.fmtp, key) == param(&ours.sdp_fmtp_line, key);
    // Profile: the first two bytes of profile-level-id; the level may differ.
    let profile =
        |fmtp: &str| param(fmtp, "profile-level-id").map(|p| p.chars().take(4).collect::<String>());
    if !h264 || (same("packetization-mode") && profile(&spec.fmtp) == profile(&ours.sdp_fmtp_line))
    {
        1
    } else {
        2
    }
}

/// The publisher's codec as this server registers it: the forwarded payload is unchanged, but a
/// sending track must name a codec of our media engine, and browsers write the same codec's
/// parameters in different orders and with extras (Firefox's VP8 `max-fs`, for one).
pub(crate) fn as_registered(spec: &CodecSpec) -> CodecSpec {
    let kind = if spec.is_video() {
        RtpCodecKind::Video
    } else {
        RtpCodecKind::Audio
    };
    codecs(kind)
        .into_iter()
        .map(|c| c.rtp_codec)
        .filter(|c| codec_distance(spec, c) < 3)
        .min_by_key(|c| codec_distance(spec, c))
        .map(|c| CodecSpec {
            mime_type: c.mime_type,
            clock_rate: c.clock_rate,
            channels: c.channels,
            fmtp: c.sdp_fmtp_line,
        })
        .unwrap_or_else(|| spec.clone())
}

#[cfg(test)]
mod codec_tests {
    use super::*;

    fn spec(mime: &str, fmtp: &str) -> CodecSpec {
        CodecSpec {
            mime_type: mime.into(),
            clock_rate: 90000,
            channels: 0,
            fmtp: fmtp.into(),
        }
    }

    #[test]
    fn browser_codecs_map_to_registered_ones() {
        // Firefox's VP8 carries extra parameters.
        let vp8 = as_registered(&spec("video/VP8", "max-fs=12288;max-fr=60"));
        assert_eq!(
            (vp8.mime_type.as_str(), vp8.fmtp.as_str()),
            ("video/VP8", "")
        );
        // The same H.264 parameters in another order.
        let h264 = as_registered(&spec(
            "video/H264",
            "profile-level-id=42e01f;level-asymmetry-allowed=1;packetization-mode=1",
        ));
        assert!(
            h264.fmtp.contains("profile-level-id=42e01f"),
            "{}",
            h264.fmtp
        );
        // Another level of the same profile.
        let base = as_registered(&spec(
            "video/h264",
            "packetization-mode=1;profile-level-id=42001e",
        ));
        assert!(
            base.fmtp.contains("profile-level-id=42001f"),
            "{}",
            base.fmtp
        );
        // Opus as browsers send it.
        let opus = as_registered(&CodecSpec {
            mime_type: "audio/opus".into(),
            clock_rate: 48000,
            channels: 2,
            fmtp: "minptime=10;useinbandfec=1;stereo=0".into(),
        });
        assert_eq!(opus.fmtp, "minptime=10;useinbandfec=1");
        // Something we do not forward stays as it was.
        assert_eq!(as_registered(&spec("video/AV1", "")).mime_type, "video/AV1");
    }
}
