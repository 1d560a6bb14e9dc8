//! Whole-room tests on a virtual clock: no sockets, no tasks.

use super::*;
use crate::{Codec, RtpMeta, RtpOut};

pub(super) type Payload = Vec<u8>;

pub(super) const A: ParticipantId = ParticipantId(1);
pub(super) const B: ParticipantId = ParticipantId(2);
pub(super) const C: ParticipantId = ParticipantId(3);
pub(super) const A_AUDIO: TrackId = TrackId(10);
pub(super) const A_VIDEO: TrackId = TrackId(11);

/// A one-layer track of `codec` published by `publisher`.
pub(super) fn publish(publisher: ParticipantId, track: TrackId, codec: Codec) -> Input<Payload> {
    Input::Publish {
        publisher,
        track,
        codec,
        source: Source::default(),
        layers: Vec::new(),
    }
}

pub(super) fn room() -> Room<Payload> {
    Room::new(RoomConfig::default())
}

pub(super) fn drain(room: &mut Room<Payload>) -> Vec<Output<Payload>> {
    std::iter::from_fn(|| room.poll_output()).collect()
}

fn meta(ssrc: u32, seq: u16, ts: u32) -> RtpMeta {
    RtpMeta {
        ssrc,
        seq,
        timestamp: ts,
        marker: false,
        audio_level: None,
        layer: 0,
    }
}

pub(super) const VP8_KEY: [u8; 4] = [0x10, 0x00, 0x9d, 0x01];
pub(super) const VP8_DELTA: [u8; 2] = [0x10, 0x01];
const VP8_CONT: [u8; 2] = [0x00, 0x00];

pub(super) fn subscribes(out: &[Output<Payload>]) -> Vec<(ParticipantId, TrackId)> {
    out.iter()
        .filter_map(|o| match o {
            Output::Subscribe {
                subscriber, track, ..
            } => Some((*subscriber, *track)),
            _ => None,
        })
        .collect()
}

pub(super) fn forwards(out: &[Output<Payload>]) -> Vec<(ParticipantId, TrackId, RtpOut)> {
    out.iter()
        .filter_map(|o| match o {
            Output::Forward {
                subscriber,
                track,
                header,
                ..
            } => Some((*subscriber, *track, *header)),
            _ => None,
        })
        .collect()
}

pub(super) fn keyframe_requests(out: &[Output<Payload>]) -> usize {
    out.iter()
        .filter(|o| matches!(o, Output::RequestKeyframe { .. }))
        .count()
}

/// A's video packet `seq` (SSRC 7) at `at`.
pub(super) fn a_video(r: &mut Room<Payload>, at: Instant, seq: u16, ts: u32, payload: &[u8]) {
    r.handle_input(
        at,
        Input::Rtp {
            track: A_VIDEO,
            meta: meta(7, seq, ts),
            payload: payload.to_vec(),
        },
    );
}

/// A, B and C in the room; A publishes audio and video; every subscription made ready, and
/// B's and C's paths up.
fn three_with_a_publishing(now: Instant) -> Room<Payload> {
    let mut r = room();
    for p in [A, B, C] {
        r.handle_input(now, Input::Join(p));
    }
    r.handle_input(now, publish(A, A_AUDIO, Codec::Opus));
    r.handle_input(now, publish(A, A_VIDEO, Codec::Vp8));
    let out = drain(&mut r);
    for (i, (sub, track)) in subscribes(&out).into_iter().enumerate() {
        r.handle_input(
            now,
            Input::SubscriptionReady {
                subscriber: sub,
                track,
                ssrc: 1000 + i as u32,
            },
        );
    }
    for p in [B, C] {
        r.handle_input(now, Input::SubscriberConnected(p));
    }
    drain(&mut r);
    r
}

#[test]
fn forwarding_table_follows_joins_and_leaves() {
    let t0 = Instant::now();
    let mut r = room();
    r.handle_input(t0, Input::Join(A));
    r.handle_input(t0, publish(A, A_AUDIO, Codec::Opus));
    assert!(subscribes(&drain(&mut r)).is_empty(), "nobody to send to");

    r.handle_input(t0, Input::Join(B));
    assert_eq!(subscribes(&drain(&mut r)), vec![(B, A_AUDIO)]);

    r.handle_input(t0, publish(B, TrackId(20), Codec::Vp8));
    assert_eq!(subscribes(&drain(&mut r)), vec![(A, TrackId(20))]);

    // A late joiner is offered every existing track.
    r.handle_input(t0, Input::Join(C));
    let mut got = subscribes(&drain(&mut r));
    got.sort();
    assert_eq!(got, vec![(C, A_AUDIO), (C, TrackId(20))]);
    assert_eq!(r.subscription_count(), 4);

    // B leaves: its track is withdrawn from A and C, and B's subscriptions vanish.
    r.handle_input(t0, Input::Leave(B));
    let out = drain(&mut r);
    let mut unsubs: Vec<_> = out
        .iter()
        .filter_map(|o| match o {
            Output::Unsubscribe { subscriber, track } => Some((*subscriber, *track)),
            _ => None,
        })
        .collect();
    unsubs.sort();
    assert_eq!(unsubs, vec![(A, TrackId(20)), (C, TrackId(20))]);
    assert_eq!(r.track_count(), 1);
    assert_eq!(r.subscriptions_of(C), vec![A_AUDIO]);
    assert_eq!(r.subscription_count(), 1);

    r.handle_input(t0, Input::Leave(A));
    r.handle_input(t0, Input::Leave(C));
    assert!(r.is_empty());
    assert_eq!(r.track_count(), 0);
    assert_eq!(r.subscription_count(), 0);
}

#[test]
fn audio_reaches_every_other_participant_once() {
    let t0 = Instant::now();
    let mut r = three_with_a_publishing(t0);
    r.handle_input(
        t0,
        Input::Rtp {
            track: A_AUDIO,
            meta: meta(5, 1, 960),
            payload: vec![1, 2, 3],
        },
    );
    let f = forwards(&drain(&mut r));
    let mut subs: Vec<_> = f.iter().map(|(s, _, _)| *s).collect();
    subs.sort();
    assert_eq!(subs, vec![B, C]);
    assert_eq!(r.stats().forwarded_packets[0], 2);
    assert_eq!(r.stats().forwarded_bytes[0], 6);
}

#[test]
fn video_waits_for_a_keyframe_and_leaves_no_gap() {
    let t0 = Instant::now();
    let mut r = three_with_a_publishing(t0);
    // Delta frames before any keyframe are held back.
    for seq in 1..5u16 {
        r.handle_input(
            t0,
            Input::Rtp {
                track: A_VIDEO,
                meta: meta(7, seq, 3000 * u32::from(seq)),
                payload: VP8_DELTA.to_vec(),
            },
        );
    }
    assert!(forwards(&drain(&mut r)).is_empty());
    assert_eq!(r.stats().skipped_waiting_keyframe, 8);
    // The keyframe and everything after it flows, numbered without a gap.
    let seqs = [
        (5u16, &VP8_KEY[..]),
        (6, &VP8_CONT[..]),
        (7, &VP8_DELTA[..]),
    ];
    for (seq, p) in seqs {
        r.handle_input(
            t0,
            Input::Rtp {
                track: A_VIDEO,
                meta: meta(7, seq, 3000 * u32::from(seq)),
                payload: p.to_vec(),
            },
        );
    }
    let f = forwards(&drain(&mut r));
    assert_eq!(f.len(), 6);
    for sub in [B, C] {
        let seqs: Vec<u16> = f
            .iter()
            .filter(|(s, _, _)| *s == sub)
            .map(|(_, _, h)| h.seq)
            .collect();
        assert_eq!(seqs.len(), 3);
        assert_eq!(seqs[1], seqs[0].wrapping_add(1));
        assert_eq!(seqs[2], seqs[0].wrapping_add(2));
    }
}

#[test]
fn keyframe_requests_from_many_subscribers_merge() {
    let t0 = Instant::now();
    let mut r = three_with_a_publishing(t0);
    // B's readiness asked; C's, while that request was in flight, added nothing.
    assert_eq!(r.stats().keyframe_requests_sent, 1);
    let mut sent = 0;
    for i in 0..10u64 {
        let now = t0 + Duration::from_millis(10 * i);
        for sub in [B, C] {
            r.handle_input(
                now,
                Input::KeyframeRequest {
                    subscriber: sub,
                    track: A_VIDEO,
                },
            );
        }
        sent += keyframe_requests(&drain(&mut r));
    }
    assert_eq!(sent, 0, "the keyframe on its way serves them all");
    assert_eq!(r.stats().keyframe_requests_received, 20);
    // Audio tracks never ask for keyframes.
    r.handle_input(
        t0,
        Input::KeyframeRequest {
            subscriber: B,
            track: A_AUDIO,
        },
    );
    assert_eq!(r.stats().keyframe_requests_received, 20);
    // The keyframe comes; a request right after it (a subscriber that missed it) is held until
    // the minimum interval has passed since the last one, then goes.
    let kf = t0 + Duration::from_millis(40);
    a_video(&mut r, kf, 1, 0, &VP8_KEY);
    drain(&mut r);
    assert_eq!(r.poll_timeout(), None, "nobody waits any more");
    r.handle_input(
        kf,
        Input::KeyframeRequest {
            subscriber: B,
            track: A_VIDEO,
        },
    );
    assert_eq!(keyframe_requests(&drain(&mut r)), 0);
    let at = r.poll_timeout().expect("a merged request is pending");
    assert_eq!(at, t0 + RoomConfig::default().keyframe_min_interval);
    r.handle_input(at, Input::Timeout);
    assert_eq!(keyframe_requests(&drain(&mut r)), 1);
}

#[test]
fn a_keyframe_stops_repeated_requests() {
    let t0 = Instant::now();
    let mut r = three_with_a_publishing(t0);
    // B's readiness asked at once; C's came while it was in flight. No keyframe comes.
    let retry = t0 + RoomConfig::default().keyframe_retry_interval;
    assert_eq!(r.poll_timeout(), Some(retry));
    r.handle_input(retry, Input::Timeout);
    assert_eq!(
        keyframe_requests(&drain(&mut r)),
        1,
        "repeated while waiting"
    );
    let again = retry + RoomConfig::default().keyframe_retry_interval;
    assert_eq!(r.poll_timeout(), Some(again));
    a_video(&mut r, again, 1, 0, &VP8_KEY);
    drain(&mut r);
    assert_eq!(r.poll_timeout(), None);
}

#[test]
fn a_full_queue_drops_counts_and_resyncs_video() {
    let t0 = Instant::now();
    let mut r = three_with_a_publishing(t0);
    a_video(&mut r, t0, 1, 0, &VP8_KEY);
    drain(&mut r);
    let later = t0 + Duration::from_secs(2);
    r.handle_input(
        later,
        Input::QueueFull {
            subscriber: B,
            track: A_VIDEO,
        },
    );
    assert_eq!(r.stats().dropped_queue_full, 1);
    assert_eq!(keyframe_requests(&drain(&mut r)), 1);
    // B now waits for a keyframe; C keeps receiving.
    a_video(&mut r, later, 2, 3000, &VP8_DELTA);
    let f = forwards(&drain(&mut r));
    assert_eq!(f.iter().map(|(s, _, _)| *s).collect::<Vec<_>>(), vec![C]);
}

#[test]
fn muting_holds_packets_and_unmuting_asks_for_a_keyframe() {
    let t0 = Instant::now();
    let mut r = three_with_a_publishing(t0);
    a_video(&mut r, t0, 1, 0, &VP8_KEY);
    let first = forwards(&drain(&mut r));
    r.handle_input(
        t0,
        Input::SetMuted {
            track: A_VIDEO,
            muted: true,
        },
    );
    for seq in 2..50u16 {
        r.handle_input(
            t0,
            Input::Rtp {
                track: A_VIDEO,
                meta: meta(7, seq, 3000 * u32::from(seq)),
                payload: VP8_DELTA.to_vec(),
            },
        );
    }
    assert!(forwards(&drain(&mut r)).is_empty());
    let later = t0 + Duration::from_secs(3);
    r.handle_input(
        later,
        Input::SetMuted {
            track: A_VIDEO,
            muted: false,
        },
    );
    assert_eq!(keyframe_requests(&drain(&mut r)), 1);
    a_video(&mut r, later, 50, 150_000, &VP8_KEY);
    let after = forwards(&drain(&mut r));
    for sub in [B, C] {
        let before = first.iter().find(|(s, _, _)| *s == sub).unwrap().2;
        let next = after.iter().find(|(s, _, _)| *s == sub).unwrap().2;
        assert_eq!(
            next.seq,
            before.seq.wrapping_add(1),
            "no gap across the mute"
        );
        assert_eq!(next.ssrc, before.ssrc);
    }
}

#[test]
fn packets_for_unknown_tracks_are_counted() {
    let t0 = Instant::now();
    let mut r = room();
    r.handle_input(
        t0,
        Input::Rtp {
            track: TrackId(99),
            meta: meta(1, 1, 1),
            payload: vec![],
        },
    );
    assert_eq!(r.stats().dropped_no_route, 1);
    // Publishing for someone not in the room does nothing.
    r.handle_input(t0, publish(A, A_AUDIO, Codec::Opus));
    assert_eq!(r.track_count(), 0);
}

/// A small deterministic generator for the simulation below.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

#[test]
fn a_simulated_minute_with_seeded_loss_delivers_everything_that_arrived() {
    let t0 = Instant::now();
    let mut r = three_with_a_publishing(t0);
    let mut rng = Lcg(42);
    let mut arrived = 0u64;
    let mut last_seq_b: Option<u16> = None;
    // 50 audio packets per second for 60 virtual seconds, 3% upstream loss.
    for i in 0..3000u32 {
        let now = t0 + Duration::from_millis(20 * u64::from(i));
        if rng.next() % 100 < 3 {
            continue;
        }
        arrived += 1;
        r.handle_input(
            now,
            Input::Rtp {
                track: A_AUDIO,
                meta: meta(5, (60_000u32 + i) as u16, 960 * i),
                payload: vec![0; 40],
            },
        );
        for (sub, _, h) in forwards(&drain(&mut r)) {
            if sub == B {
                if let Some(prev) = last_seq_b {
                    // Upstream loss keeps its gap, and the order is kept across the wrap.
                    let step = h.seq.wrapping_sub(prev);
                    assert!((1..10).contains(&step), "step {step}");
                }
                last_seq_b = Some(h.seq);
            }
        }
    }
    assert_eq!(r.stats().forwarded_packets[0], 2 * arrived);
}

#[test]
fn nacks_are_answered_from_the_subscriptions_own_history() {
    let t0 = Instant::now();
    let mut r = three_with_a_publishing(t0);
    for (seq, p) in [
        (1u16, &VP8_KEY[..]),
        (2, &VP8_DELTA[..]),
        (3, &VP8_DELTA[..]),
    ] {
        r.handle_input(
            t0,
            Input::Rtp {
                track: A_VIDEO,
                meta: meta(7, seq, 3000 * u32::from(seq)),
                payload: p.to_vec(),
            },
        );
    }
    let sent: Vec<RtpOut> = forwards(&drain(&mut r))
        .into_iter()
        .filter(|(s, _, _)| *s == B)
        .map(|(_, _, h)| h)
        .collect();
    assert_eq!(sent.len(), 3);
    // B lost its second and third packets: one NACK pair with a bitmask.
    r.handle_input(
        t0,
        Input::Nack {
            subscriber: B,
            track: A_VIDEO,
            pairs: vec![(sent[1].seq, 0b1)],
        },
    );
    let out = drain(&mut r);
    let again: Vec<(ParticipantId, RtpOut, bool, Payload)> = out
        .into_iter()
        .filter_map(|o| match o {
            Output::Forward {
                subscriber,
                header,
                retransmission,
                payload,
                ..
            } => Some((subscriber, header, retransmission, payload)),
            _ => None,
        })
        .collect();
    assert_eq!(again.len(), 2);
    assert!(again.iter().all(|(s, _, re, _)| *s == B && *re));
    assert_eq!(again[0].1, sent[1]);
    assert_eq!(again[1].1, sent[2]);
    assert_eq!(again[0].3, VP8_DELTA.to_vec());
    assert_eq!(r.stats().nacked_packets, 2);
    assert_eq!(r.stats().retransmitted_packets, 2);

    // A sequence number never sent, or a NACK on audio, is counted and not answered.
    r.handle_input(
        t0,
        Input::Nack {
            subscriber: B,
            track: A_VIDEO,
            pairs: vec![(sent[2].seq.wrapping_add(100), 0)],
        },
    );
    r.handle_input(
        t0,
        Input::Nack {
            subscriber: C,
            track: A_AUDIO,
            pairs: vec![(1, 0)],
        },
    );
    assert!(forwards(&drain(&mut r)).is_empty());
    assert_eq!(r.stats().retransmitted_packets, 2);

    // B's first packet is held up to the history's age, and no longer.
    let age = RoomConfig::default().nack_max_age;
    for (at, answered) in [(age, 1), (age + Duration::from_millis(1), 0)] {
        r.handle_input(
            t0 + at,
            Input::Nack {
                subscriber: B,
                track: A_VIDEO,
                pairs: vec![(sent[0].seq, 0)],
            },
        );
        assert_eq!(forwards(&drain(&mut r)).len(), answered, "{at:?} after");
    }
    assert_eq!(r.stats().retransmitted_packets, 3);
}

#[test]
fn a_publisher_back_after_a_gap_is_asked_for_a_keyframe_until_one_comes() {
    let t0 = Instant::now();
    let mut r = three_with_a_publishing(t0);
    a_video(&mut r, t0, 1, 0, &VP8_KEY);
    assert_eq!(forwards(&drain(&mut r)).len(), 2, "B and C see the picture");
    // A's path was down (an ICE restart); it is back.
    let t1 = t0 + Duration::from_secs(5);
    r.handle_input(t1, Input::PublisherConnected(A));
    assert_eq!(
        keyframe_requests(&drain(&mut r)),
        1,
        "one request for A's video"
    );
    // What A sends before the keyframe is held back from everyone, and the request repeats.
    a_video(&mut r, t1, 90, 9000, &VP8_DELTA);
    assert!(forwards(&drain(&mut r)).is_empty(), "an undecodable delta");
    let retry = t1 + RoomConfig::default().keyframe_retry_interval;
    assert_eq!(r.poll_timeout(), Some(retry));
    r.handle_input(retry, Input::Timeout);
    assert_eq!(keyframe_requests(&drain(&mut r)), 1, "asked again");
    a_video(&mut r, retry, 91, 9900, &VP8_KEY);
    assert_eq!(
        forwards(&drain(&mut r)).len(),
        2,
        "the keyframe reaches both"
    );
    assert_eq!(r.poll_timeout(), None, "and the asking stops");
    // Audio and other participants are not asked anything.
    r.handle_input(retry, Input::PublisherConnected(B));
    assert_eq!(keyframe_requests(&drain(&mut r)), 0, "B publishes nothing");
}

#[test]
fn a_subscriber_back_after_a_gap_waits_for_a_keyframe_alone() {
    let t0 = Instant::now();
    let mut r = three_with_a_publishing(t0);
    a_video(&mut r, t0, 1, 0, &VP8_KEY);
    drain(&mut r);
    let t1 = t0 + Duration::from_secs(5);
    r.handle_input(t1, Input::SubscriberConnected(B));
    assert_eq!(keyframe_requests(&drain(&mut r)), 1, "asked for B");
    a_video(&mut r, t1, 2, 90, &VP8_DELTA);
    let to: Vec<ParticipantId> = forwards(&drain(&mut r)).iter().map(|f| f.0).collect();
    assert_eq!(
        to,
        [C],
        "C, who lost nothing, goes on; B waits for the keyframe"
    );
}
