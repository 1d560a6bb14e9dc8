//! Payloads that carry who sent them, a counter and the send time, so a receiver can check
//! that packets arrive intact and in order and measure how long they took.

use std::time::{SystemTime, UNIX_EPOCH};

/// Marks a synthetic payload.
pub const MAGIC: [u8; 2] = [0xC0, 0x4F];
/// Bytes of the marked header: magic, publisher, counter, send time.
pub const HEADER_LEN: usize = 2 + 4 + 8 + 8;
/// The VP8 payload descriptor and header byte we put in front of video payloads.
pub const VP8_PREFIX_LEN: usize = 2;

/// What a synthetic payload says about itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    pub publisher: u32,
    pub counter: u64,
    /// Microseconds since the Unix epoch when it was sent.
    pub sent_us: u64,
}

pub fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// An audio payload of `len` bytes (at least the header).
pub fn audio(stamp: Stamp, len: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(len.max(HEADER_LEN));
    put_stamp(&mut v, stamp);
    v.resize(len.max(HEADER_LEN), 0xAA);
    v
}

/// Most payload bytes one video packet carries; larger frames are split (as a browser would
/// under a 1200-byte MTU budget).
pub const MAX_VIDEO_PAYLOAD: usize = 1100;

/// The sizes of the packets a frame of `frame` bytes is split into: as few as fit
/// [`MAX_VIDEO_PAYLOAD`], as even as possible, none smaller than `min`.
pub fn split_frame(frame: usize, min: usize) -> Vec<usize> {
    let frame = frame.max(min);
    let n = frame.div_ceil(MAX_VIDEO_PAYLOAD).max(1);
    let base = frame / n;
    let extra = frame % n;
    (0..n)
        .map(|i| (base + usize::from(i < extra)).max(min))
        .collect()
}

/// One packet of a VP8 frame: a descriptor whose S bit marks the frame's first packet (PID 0),
/// then on the first packet a payload header whose P bit marks a keyframe (0) or an interframe
/// (1) (a filler byte on the others), then the stamp.
pub fn vp8_packet(stamp: Stamp, keyframe: bool, first: bool, len: usize) -> Vec<u8> {
    let total = len.max(VP8_PREFIX_LEN + HEADER_LEN);
    let mut v = Vec::with_capacity(total);
    v.push(if first { 0x10 } else { 0x00 });
    v.push(if first && keyframe { 0x00 } else { 0x01 });
    put_stamp(&mut v, stamp);
    v.resize(total, 0x55);
    v
}

/// A one-packet VP8 frame.
pub fn vp8(stamp: Stamp, keyframe: bool, len: usize) -> Vec<u8> {
    vp8_packet(stamp, keyframe, true, len)
}

fn put_stamp(v: &mut Vec<u8>, s: Stamp) {
    v.extend_from_slice(&MAGIC);
    v.extend_from_slice(&s.publisher.to_be_bytes());
    v.extend_from_slice(&s.counter.to_be_bytes());
    v.extend_from_slice(&s.sent_us.to_be_bytes());
}

/// Reads the stamp at the start of `data`, if it is one of ours.
pub fn read_stamp(data: &[u8]) -> Option<Stamp> {
    if data.len() < HEADER_LEN || data[..2] != MAGIC {
        return None;
    }
    let publisher = u32::from_be_bytes(data[2..6].try_into().ok()?);
    let counter = u64::from_be_bytes(data[6..14].try_into().ok()?);
    let sent_us = u64::from_be_bytes(data[14..22].try_into().ok()?);
    Some(Stamp {
        publisher,
        counter,
        sent_us,
    })
}

/// One H.264 slice as its own packet (single NAL unit mode; a frame of several packets is several
/// slices): an IDR slice (type 5) for a keyframe, a non-IDR slice (type 1) otherwise, then the
/// stamp.
pub fn h264(stamp: Stamp, keyframe: bool, len: usize) -> Vec<u8> {
    let total = len.max(1 + HEADER_LEN);
    let mut v = Vec::with_capacity(total);
    v.push(if keyframe { 0x65 } else { 0x41 });
    put_stamp(&mut v, stamp);
    v.resize(total, 0x55);
    v
}

/// Reads an H.264 payload: (is keyframe, stamp).
pub fn read_h264(data: &[u8]) -> Option<(bool, Stamp)> {
    let nal = *data.first()?;
    Some((nal & 0x1F == 5, read_stamp(&data[1..])?))
}

/// Reads a video payload: (is keyframe, stamp).
pub fn read_vp8(data: &[u8]) -> Option<(bool, Stamp)> {
    if data.len() < VP8_PREFIX_LEN {
        return None;
    }
    let keyframe = data[0] & 0x10 != 0 && data[1] & 0x01 == 0;
    Some((keyframe, read_stamp(&data[VP8_PREFIX_LEN..])?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_round_trip() {
        let s = Stamp {
            publisher: 7,
            counter: 123_456,
            sent_us: 99,
        };
        assert_eq!(read_stamp(&audio(s, 60)), Some(s));
        assert_eq!(read_vp8(&vp8(s, true, 1000)), Some((true, s)));
        assert_eq!(read_vp8(&vp8(s, false, 10)), Some((false, s)));
        assert_eq!(read_h264(&h264(s, true, 500)), Some((true, s)));
        assert_eq!(read_h264(&h264(s, false, 5)), Some((false, s)));
        // Only a frame's first packet can say "keyframe".
        assert_eq!(read_vp8(&vp8_packet(s, true, false, 900)), Some((false, s)));
        assert_eq!(read_stamp(&[0; 30]), None);
        assert_eq!(read_stamp(&[]), None);
    }

    #[test]
    fn frames_split_into_even_packets_under_the_limit() {
        assert_eq!(split_frame(1000, 30), vec![1000]);
        assert_eq!(split_frame(2200, 30), vec![1100, 1100]);
        assert_eq!(split_frame(2201, 30), vec![734, 734, 733]);
        assert_eq!(split_frame(5, 30), vec![30]);
        for frame in [1, 1100, 1101, 9999, 50_000] {
            let parts = split_frame(frame, 30);
            assert!(parts.iter().all(|p| (30..=MAX_VIDEO_PAYLOAD).contains(p)));
            assert_eq!(parts.iter().sum::<usize>(), frame.max(30));
        }
    }
}
