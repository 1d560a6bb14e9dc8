//! SDP text the server reads or rewrites itself.

use crate::error::{Result, SfuError};

/// The RFC 6464 client-to-mixer audio level header extension.
pub(crate) const AUDIO_LEVEL_URI: &str = "urn:ietf:params:rtp-hdrext:ssrc-audio-level";

/// The id an offer gives the audio level extension (`a=extmap:<id>[/<direction>] <uri>`), if
/// it offers it. Bundled m-lines share one id per extension (RFC 8285), so the first is it.
pub(crate) fn audio_level_id(sdp: &str) -> Option<u8> {
    sdp.lines().find_map(|line| {
        let mut fields = line
            .trim_end()
            .strip_prefix("a=extmap:")?
            .split_whitespace();
        let id = fields.next()?.split('/').next()?.parse::<u8>().ok()?;
        (fields.next()? == AUDIO_LEVEL_URI && (1..=254).contains(&id)).then_some(id)
    })
}

/// An answer to a publisher with DTX asked of its Opus (`usedtx=1` on the `a=fmtp` line of
/// each Opus payload type, RFC 7587), so that it sends silence as a packet every 400 ms. rtc
/// answers with the offer's Opus parameters, and a browser offers no DTX of its own accord.
/// A payload type with no `a=fmtp` line gets one after its `a=rtpmap`.
pub(crate) fn with_opus_dtx(sdp: &str) -> String {
    let opus: Vec<&str> = sdp
        .lines()
        .filter_map(|l| {
            let (pt, codec) = l.trim_end().strip_prefix("a=rtpmap:")?.split_once(' ')?;
            codec
                .to_ascii_lowercase()
                .starts_with("opus/")
                .then_some(pt)
        })
        .collect();
    if opus.is_empty() {
        return sdp.to_owned();
    }
    let has_fmtp = |pt: &str| {
        let prefix = format!("a=fmtp:{pt} ");
        sdp.lines().any(|l| l.starts_with(&prefix))
    };
    let mut out = String::with_capacity(sdp.len() + 32 * opus.len());
    for line in sdp.split_inclusive('\n') {
        let body = line.trim_end_matches(['\r', '\n']);
        let ending = &line[body.len()..];
        let fmtp_pt = body
            .strip_prefix("a=fmtp:")
            .and_then(|r| r.split_once(' '))
            .filter(|(pt, _)| opus.contains(pt));
        match fmtp_pt {
            Some((_, params)) if !params.split(';').any(|p| p.trim().starts_with("usedtx=")) => {
                out.push_str(body);
                out.push_str(";usedtx=1");
                out.push_str(ending);
            }
            _ => out.push_str(line),
        }
        if let Some(pt) = body
            .strip_prefix("a=rtpmap:")
            .and_then(|r| r.split_once(' '))
            .map(|(pt, _)| pt)
            .filter(|pt| opus.contains(pt) && !has_fmtp(pt))
        {
            out.push_str(&format!("a=fmtp:{pt} usedtx=1"));
            out.push_str(if ending.is_empty() { "\r\n" } else { ending });
        }
    }
    out
}

/// The `a=msid` track ids of the sections an offer sends on (`sendonly` or `sendrecv`), in
/// order, each once.
pub(crate) fn sending_track_ids(sdp: &str) -> Vec<String> {
    let mut ids: Vec<String> = Vec::new();
    let mut section: Option<(bool, Option<&str>)> = None;
    let close = |section: Option<(bool, Option<&str>)>, ids: &mut Vec<String>| {
        if let Some((true, Some(id))) = section
            && !ids.iter().any(|known| known == id)
        {
            ids.push(id.to_owned());
        }
    };
    for line in sdp.lines().map(str::trim_end) {
        if line.starts_with("m=") {
            close(section.take(), &mut ids);
            section = Some((false, None));
        } else if let Some((sending, msid)) = section.as_mut() {
            if line == "a=sendonly" || line == "a=sendrecv" {
                *sending = true;
            } else if let Some(value) = line.strip_prefix("a=msid:") {
                // `a=msid:<stream id> <track id>`; the track id is what browsers name a track by.
                *msid = value.split_whitespace().nth(1).filter(|t| !t.is_empty());
            }
        }
    }
    close(section, &mut ids);
    ids
}

/// Media sections an offer may have per published track. A browser keeps a section for every
/// track it ever sent on the connection (a transceiver whose sender was used is not reused), so a
/// long class with a screen shared and stopped many times grows its offer; this bounds it.
pub(crate) const SECTIONS_PER_TRACK: usize = 16;

/// Refuses an offer that sends more tracks than `max_tracks`, or that has more media sections
/// than [`SECTIONS_PER_TRACK`] for each, before anything is set up for it.
pub(crate) fn check_sections(sdp: &str, max_tracks: usize) -> Result<()> {
    let mut sections = 0usize;
    let mut sending = 0usize;
    for line in sdp.lines() {
        let line = line.trim_end();
        if line.starts_with("m=") {
            sections += 1;
        } else if sections > 0 && (line == "a=sendonly" || line == "a=sendrecv") {
            sending += 1;
        }
    }
    let most = max_tracks.saturating_mul(SECTIONS_PER_TRACK).max(1);
    if sections > most {
        return Err(SfuError::InvalidSdp(format!(
            "the offer has {sections} media sections; at most {most} are accepted"
        )));
    }
    if sending > max_tracks {
        return Err(SfuError::TooManyTracks(max_tracks));
    }
    Ok(())
}

/// Refuses an offer none of whose audio or video sections carries Opus, VP8 or H.264.
pub(crate) fn check_codecs(sdp: &str) -> Result<()> {
    if !sdp.trim_start().starts_with("v=") {
        return Err(SfuError::InvalidSdp("an SDP starts with a v= line".into()));
    }
    let mut media_sections = 0;
    let mut usable = false;
    let mut in_media = false;
    for line in sdp.lines() {
        let line = line.trim_end();
        if let Some(m) = line.strip_prefix("m=") {
            in_media = m.starts_with("audio") || m.starts_with("video");
            if in_media {
                media_sections += 1;
            }
        } else if in_media && let Some(map) = line.strip_prefix("a=rtpmap:") {
            let name = map
                .split_whitespace()
                .nth(1)
                .and_then(|enc| enc.split('/').next())
                .unwrap_or("")
                .to_ascii_lowercase();
            if matches!(name.as_str(), "opus" | "vp8" | "h264") {
                usable = true;
            }
        }
    }
    if media_sections > 0 && !usable {
        return Err(SfuError::NoUsableCodec);
    }
    Ok(())
}

#[cfg(test)]
mod dtx_tests {
    use super::with_opus_dtx;

    #[test]
    fn dtx_is_asked_of_every_opus_payload_type_once() {
        let sdp = "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111 0\r\na=rtpmap:111 opus/48000/2\r\n\
                   a=fmtp:111 minptime=10;useinbandfec=1\r\na=rtpmap:0 PCMU/8000\r\n\
                   a=fmtp:0 x=1\r\n";
        let out = with_opus_dtx(sdp);
        assert!(
            out.contains("a=fmtp:111 minptime=10;useinbandfec=1;usedtx=1\r\n"),
            "{out}"
        );
        assert!(
            out.contains("a=fmtp:0 x=1\r\n"),
            "other codecs untouched: {out}"
        );
        assert_eq!(with_opus_dtx(&out), out, "asked once");
        // Already said either way: left as it is.
        let off = sdp.replace("useinbandfec=1", "useinbandfec=1;usedtx=0");
        assert_eq!(with_opus_dtx(&off), off);
        // No fmtp line: one is added after the rtpmap.
        let bare = "m=audio 9 RTP/SAVPF 109\r\na=rtpmap:109 OPUS/48000/2\r\na=sendrecv\r\n";
        assert_eq!(
            with_opus_dtx(bare),
            "m=audio 9 RTP/SAVPF 109\r\na=rtpmap:109 OPUS/48000/2\r\na=fmtp:109 usedtx=1\r\na=sendrecv\r\n"
        );
        // No Opus at all: the same text.
        assert_eq!(with_opus_dtx("v=0\r\n"), "v=0\r\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_audio_level_id_is_read_from_the_offer() {
        let chrome = "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n\
            a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid\r\n\
            a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n";
        assert_eq!(audio_level_id(chrome), Some(1));
        let firefox = "a=extmap:3/sendonly urn:ietf:params:rtp-hdrext:ssrc-audio-level\n";
        assert_eq!(audio_level_id(firefox), Some(3));
        for none in [
            "a=extmap:1 urn:ietf:params:rtp-hdrext:csrc-audio-level",
            "a=extmap:0 urn:ietf:params:rtp-hdrext:ssrc-audio-level",
            "a=extmap:x urn:ietf:params:rtp-hdrext:ssrc-audio-level",
            "a=extmap:300 urn:ietf:params:rtp-hdrext:ssrc-audio-level",
            "a=extmap:",
            "",
        ] {
            assert_eq!(audio_level_id(none), None, "{none:?}");
        }
    }

    #[test]
    fn the_sending_track_ids_of_an_offer_are_read_in_order_once_each() {
        let offer = "v=0\r\na=msid-semantic: WMS *\r\n\
            m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=sendrecv\r\na=msid:s1 mic-1\r\n\
            m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=msid:s1 cam-1\r\na=sendonly\r\n\
            m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=inactive\r\na=msid:s2 old-screen\r\n\
            m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=sendonly\r\n\
            m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=sendonly\r\na=msid:s1 mic-1\r\n\
            m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=sendonly\r\na=msid:-\r\n";
        assert_eq!(sending_track_ids(offer), ["mic-1", "cam-1"]);
        assert!(sending_track_ids("").is_empty());
        assert!(sending_track_ids("a=msid:s x\na=sendonly").is_empty());
    }

    #[test]
    fn offers_with_too_many_sections_or_sending_tracks_are_refused() {
        let section = |dir: &str| format!("m=video 9 UDP/TLS/RTP/SAVPF 96\r\na={dir}\r\n");
        let offer = |n: usize, dir: &str| format!("v=0\r\n{}", section(dir).repeat(n));
        assert!(check_sections(&offer(4, "sendonly"), 4).is_ok());
        assert!(matches!(
            check_sections(&offer(5, "sendrecv"), 4),
            Err(SfuError::TooManyTracks(4))
        ));
        // Old sections no longer sending are fine, up to the bound.
        assert!(check_sections(&offer(64, "inactive"), 4).is_ok());
        let Err(SfuError::InvalidSdp(why)) = check_sections(&offer(500, "recvonly"), 4) else {
            panic!("500 sections accepted");
        };
        assert!(why.contains("500 media sections"), "{why}");
    }

    #[test]
    fn codec_check_tells_apart_bad_sdp_and_unusable_codecs() {
        assert!(matches!(
            check_codecs("hello"),
            Err(SfuError::InvalidSdp(_))
        ));
        let g722 = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 9\r\na=rtpmap:9 G722/8000\r\n";
        assert!(matches!(check_codecs(g722), Err(SfuError::NoUsableCodec)));
        let opus = "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:111 opus/48000/2\r\n";
        assert!(check_codecs(opus).is_ok());
        let vp8 = "v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=rtpmap:96 VP8/90000\r\n";
        assert!(check_codecs(vp8).is_ok());
    }

    proptest::proptest! {
        /// Any text, made of SDP-like lines: the ids come once each, each from an `a=msid:` line.
        #[test]
        fn sending_track_ids_come_from_msid_lines_once_each(
            lines in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::strategy::Just("m=audio 9 UDP/TLS/RTP/SAVPF 111".to_owned()),
                    proptest::strategy::Just("a=sendonly".to_owned()),
                    proptest::strategy::Just("a=recvonly".to_owned()),
                    "a=msid:[a-z]{0,3}( [a-z0-9-]{0,4}){0,2}",
                    "\\PC{0,12}",
                ],
                0..24,
            ),
            crlf in proptest::bool::ANY,
        ) {
            let sdp = lines.join(if crlf { "\r\n" } else { "\n" });
            let ids = sending_track_ids(&sdp);
            for (i, id) in ids.iter().enumerate() {
                proptest::prop_assert!(!ids[..i].contains(id), "{id} twice in {ids:?}");
                let from_msid = sdp.lines().any(|l| {
                    l.trim_end()
                        .strip_prefix("a=msid:")
                        .and_then(|v| v.split_whitespace().nth(1))
                        == Some(id.as_str())
                });
                proptest::prop_assert!(from_msid, "{id} is on no a=msid line of {sdp:?}");
            }
        }
    }
}
