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

/// A one-packet VP8 frame: a descriptor with S=1, PID=0, then a payload header whose P bit
/// marks a keyframe (0) or an interframe (1), then the stamp.
pub fn vp8(stamp: Stamp, keyframe: bool, len: usize) -> Vec<u8> {
    let total = len.max(VP8_PREFIX_LEN + HEADER_LEN);
    let mut v = Vec::with_capacity(total);
    v.push(0x10);
    v.push(if keyframe { 0x00 } else { 0x01 });
    put_stamp(&mut v, stamp);
    v.resize(total, 0x55);
    v
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

/// A one-NAL H.264 frame: an IDR slice (type 5) for a keyframe, a non-IDR slice (type 1)
/// otherwise, then the stamp.
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
        assert_eq!(read_stamp(&[0; 30]), None);
        assert_eq!(read_stamp(&[]), None);
    }
}
