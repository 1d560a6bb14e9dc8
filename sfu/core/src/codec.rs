//! Codecs the core forwards, and keyframe detection on their RTP payloads.
//!
//! The parsers take any bytes: a short or malformed payload is "not a keyframe", never a panic.

/// A codec as the core needs to know it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Codec {
    Opus,
    Vp8,
    H264,
    /// Another codec, forwarded without keyframe detection (every packet counts as a start).
    Other {
        clock_rate: u32,
        video: bool,
    },
}

impl Codec {
    /// From a MIME type such as `video/VP8` (case-insensitive) and its clock rate.
    pub fn from_mime(mime: &str, clock_rate: u32) -> Codec {
        let lower = mime.to_ascii_lowercase();
        match lower.as_str() {
            "audio/opus" => Codec::Opus,
            "video/vp8" => Codec::Vp8,
            "video/h264" => Codec::H264,
            other => Codec::Other {
                clock_rate,
                video: other.starts_with("video/"),
            },
        }
    }

    pub fn clock_rate(self) -> u32 {
        match self {
            Codec::Opus => 48_000,
            Codec::Vp8 | Codec::H264 => 90_000,
            Codec::Other { clock_rate, .. } => clock_rate,
        }
    }

    pub fn is_video(self) -> bool {
        match self {
            Codec::Opus => false,
            Codec::Vp8 | Codec::H264 => true,
            Codec::Other { video, .. } => video,
        }
    }

    /// Whether this payload starts a keyframe. Audio is always decodable, so always `true`.
    pub fn is_keyframe_start(self, payload: &[u8]) -> bool {
        match self {
            Codec::Vp8 => vp8_is_keyframe_start(payload),
            Codec::H264 => h264_is_keyframe(payload),
            Codec::Opus | Codec::Other { .. } => true,
        }
    }
}

/// VP8 (RFC 7741 §4.2-4.3): the first packet of partition 0 of a frame whose payload header has
/// the P bit clear.
pub fn vp8_is_keyframe_start(payload: &[u8]) -> bool {
    let Some(&b0) = payload.first() else {
        return false;
    };
    let extended = b0 & 0x80 != 0;
    let start = b0 & 0x10 != 0;
    let partition = b0 & 0x07;
    if !start || partition != 0 {
        return false;
    }
    let mut i = 1usize;
    if extended {
        let Some(&x) = payload.get(i) else {
            return false;
        };
        i += 1;
        if x & 0x80 != 0 {
            // PictureID: one byte, or two when its M bit is set.
            let Some(&p) = payload.get(i) else {
                return false;
            };
            i += if p & 0x80 != 0 { 2 } else { 1 };
        }
        if x & 0x40 != 0 {
            i += 1; // TL0PICIDX
        }
        if x & 0x30 != 0 {
            i += 1; // TID/Y/KEYIDX
        }
    }
    match payload.get(i) {
        Some(&header) => header & 0x01 == 0,
        None => false,
    }
}

const H264_IDR: u8 = 5;
const H264_SPS: u8 = 7;
const H264_STAP_A: u8 = 24;
const H264_FU_A: u8 = 28;

/// H.264 (RFC 6184): an IDR slice or an SPS, alone, aggregated in a STAP-A, or as the start of a
/// fragmented FU-A unit.
pub fn h264_is_keyframe(payload: &[u8]) -> bool {
    let Some(&b0) = payload.first() else {
        return false;
    };
    match b0 & 0x1F {
        H264_IDR | H264_SPS => true,
        H264_STAP_A => {
            let mut i = 1usize;
            while i + 2 < payload.len() {
                let size = usize::from(u16::from_be_bytes([payload[i], payload[i + 1]]));
                let Some(&nal) = payload.get(i + 2) else {
                    return false;
                };
                if size == 0 {
                    return false;
                }
                if matches!(nal & 0x1F, H264_IDR | H264_SPS) {
                    return true;
                }
                i += 2 + size;
            }
            false
        }
        H264_FU_A => match payload.get(1) {
            Some(&fu) => fu & 0x80 != 0 && matches!(fu & 0x1F, H264_IDR | H264_SPS),
            None => false,
        },
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vp8_keyframes() {
        // S=1, PID=0, no extension; payload header P=0 -> keyframe.
        assert!(vp8_is_keyframe_start(&[0x10, 0x00, 0x9d, 0x01, 0x2a]));
        // P=1 -> interframe.
        assert!(!vp8_is_keyframe_start(&[0x10, 0x01]));
        // Not the start of a partition.
        assert!(!vp8_is_keyframe_start(&[0x00, 0x00]));
        // Extended: I with 15-bit picture id, L, T; then header P=0.
        assert!(vp8_is_keyframe_start(&[
            0x90, 0xE0, 0x80, 0x01, 0x05, 0x20, 0x00
        ]));
        // Truncated extension.
        assert!(!vp8_is_keyframe_start(&[0x90, 0xE0, 0x80]));
        assert!(!vp8_is_keyframe_start(&[]));
    }

    #[test]
    fn h264_keyframes() {
        assert!(h264_is_keyframe(&[0x65, 0x88])); // IDR
        assert!(h264_is_keyframe(&[0x67, 0x42])); // SPS
        assert!(!h264_is_keyframe(&[0x41, 0x9a])); // non-IDR slice
        // STAP-A with SPS inside.
        assert!(h264_is_keyframe(&[
            0x78, 0x00, 0x02, 0x67, 0x42, 0x00, 0x01, 0x68
        ]));
        // STAP-A with only PPS.
        assert!(!h264_is_keyframe(&[0x78, 0x00, 0x01, 0x68]));
        // FU-A start of IDR / middle of IDR.
        assert!(h264_is_keyframe(&[0x7c, 0x85, 0x00]));
        assert!(!h264_is_keyframe(&[0x7c, 0x05, 0x00]));
        // Truncated and empty.
        assert!(!h264_is_keyframe(&[0x7c]));
        assert!(!h264_is_keyframe(&[0x78, 0x00]));
        assert!(!h264_is_keyframe(&[]));
    }

    #[test]
    fn mime_types_map_to_codecs() {
        assert_eq!(Codec::from_mime("video/VP8", 90000), Codec::Vp8);
        assert_eq!(Codec::from_mime("audio/opus", 48000), Codec::Opus);
        assert_eq!(Codec::from_mime("video/H264", 90000), Codec::H264);
        assert!(Codec::from_mime("video/AV1", 90000).is_video());
        assert!(!Codec::from_mime("audio/PCMU", 8000).is_video());
    }
}
