//! Simulcast in a whole room, on a virtual clock: layer choice by view and by estimate, switches
//! at keyframes, pausing, dynacast, and the outgoing stream's continuity across all of it.

use std::time::{Duration, Instant};

use proptest::prelude::*;

use super::*;
use crate::{Codec, RtpMeta, RtpOut};

type Payload = Vec<u8>;

const A: ParticipantId = ParticipantId(1);
const B: ParticipantId = ParticipantId(2);
const CAM: TrackId = TrackId(11);
const FRAME: Duration = Duration::from_millis(33);
/// libwebrtc ignores a keyframe request within this long of the last one it acted on.
const PUBLISHER_KEYFRAME_FLOOR: Duration = Duration::from_millis(300);
const VP8_KEY: [u8; 4] = [0x10, 0x00, 0x9d, 0x01];
const VP8_DELTA: [u8; 2] = [0x10, 0x01];
/// Bytes per packet of each layer: at one packet per 33 ms frame, about 48, 97 and 242 kbit/s.
const SIZES: [usize; 3] = [200, 400, 1000];
const HEIGHTS: [u32; 3] = [180, 360, 720];

/// A publishing A whose camera sends three layers, one packet per frame each, answering
/// keyframe requests on the next frame of the layer asked, but, as libwebrtc does, not a
/// request within 300 ms of the last one it answered for that layer; and B receiving it.
struct Sim {
    room: Room<Payload>,
    now: Instant,
    frame: u32,
    seqs: [u16; 3],
    /// Layers A encodes (dynacast may turn them off).
    active: [bool; 3],
    /// Layers a keyframe was asked of.
    asked: [bool; 3],
    /// When A last answered a keyframe request, by layer.
    answered: [Option<Instant>; 3],
    /// What reached B: (source layer, keyframe, header).
    got: Vec<(u8, bool, RtpOut)>,
    outputs: Vec<Output<Payload>>,
}

impl Sim {
    fn new(config: RoomConfig) -> Sim {
        let now = Instant::now();
        let mut room = Room::new(config);
        room.handle_input(now, Input::Join(A));
        room.handle_input(now, Input::Join(B));
        room.handle_input(
            now,
            Input::Publish {
                publisher: A,
                track: CAM,
                codec: Codec::Vp8,
                source: Source::Camera,
                layers: HEIGHTS
                    .iter()
                    .map(|&height| LayerSpec { height, bitrate: 0 })
                    .collect(),
            },
        );
        room.handle_input(
            now,
            Input::SubscriptionReady {
                subscriber: B,
                track: CAM,
                ssrc: 4242,
            },
        );
        room.handle_input(now, Input::SubscriberConnected(B));
        let mut sim = Sim {
            room,
            now,
            frame: 0,
            seqs: [100, 30_000, 65_000],
            active: [true; 3],
            asked: [true; 3],
            answered: [None; 3],
            got: Vec::new(),
            outputs: Vec::new(),
        };
        sim.collect();
        sim
    }

    fn collect(&mut self) {
        while let Some(o) = self.room.poll_output() {
            match &o {
                Output::RequestKeyframe { layer, .. } => {
                    let i = usize::from(*layer);
                    if self.answered[i].is_none_or(|at| self.now >= at + PUBLISHER_KEYFRAME_FLOOR) {
                        self.answered[i] = Some(self.now);
                        self.asked[i] = true;
                    }
                }
                Output::PublisherLayers { active, .. } => {
                    for (i, a) in active.iter().enumerate() {
                        self.active[i] = *a;
                    }
                }
                _ => {}
            }
            self.outputs.push(o);
        }
    }

    /// `n` frames: every active layer sends one packet each, then due timers fire.
    fn frames(&mut self, n: u32) {
        for _ in 0..n {
            self.now += FRAME;
            self.frame += 1;
            for layer in 0..3u8 {
                let i = usize::from(layer);
                if !self.active[i] {
                    continue;
                }
                // A keyframe when asked, and every 100 frames anyway.
                let key = std::mem::take(&mut self.asked[i]) || self.frame.is_multiple_of(100);
                let mut payload = if key {
                    VP8_KEY.to_vec()
                } else {
                    VP8_DELTA.to_vec()
                };
                payload.resize(SIZES[i], 0);
                self.seqs[i] = self.seqs[i].wrapping_add(1);
                let meta = RtpMeta {
                    ssrc: 70 + u32::from(layer),
                    seq: self.seqs[i],
                    timestamp: self.frame.wrapping_mul(3000),
                    marker: true,
                    audio_level: None,
                    layer,
                };
                self.room.handle_input(
                    self.now,
                    Input::Rtp {
                        track: CAM,
                        meta,
                        payload,
                    },
                );
                let before = self.outputs.len();
                self.collect();
                for o in &self.outputs[before..] {
                    if let Output::Forward {
                        subscriber: B,
                        header,
                        ..
                    } = o
                    {
                        self.got.push((layer, key, *header));
                    }
                }
            }
            while let Some(due) = self.room.poll_timeout().filter(|d| *d <= self.now) {
                self.room.handle_input(due, Input::Timeout);
                self.collect();
            }
        }
    }

    fn view(&mut self, view: View) {
        self.room.handle_input(
            self.now,
            Input::Layout {
                subscriber: B,
                views: vec![(CAM, view)],
            },
        );
        self.collect();
    }

    fn estimate(&mut self, bitrate: u64) {
        self.room.handle_input(
            self.now,
            Input::Estimate {
                subscriber: B,
                bitrate,
            },
        );
        self.collect();
    }

    /// The layers B received in the last `n` forwards.
    fn last_layers(&self, n: usize) -> Vec<u8> {
        let from = self.got.len().saturating_sub(n);
        self.got[from..].iter().map(|g| g.0).collect()
    }

    fn reception(&self) -> (Option<u8>, Option<u8>) {
        let r = self.room.receptions(B);
        (r[0].current, r[0].target)
    }
}

fn shown(height: u32) -> View {
    View::Shown {
        width: height * 16 / 9,
        height,
    }
}

#[test]
fn a_view_picks_the_layer_and_a_switch_waits_for_its_keyframe() {
    let mut s = Sim::new(RoomConfig::default());
    s.view(shown(180));
    s.frames(30);
    assert_eq!(s.reception(), (Some(0), Some(0)));
    assert!(s.last_layers(10).iter().all(|&l| l == 0));
    // The tile grows: the top layer is chosen and its keyframe asked for...
    s.asked = [false; 3];
    s.view(shown(720));
    assert!(s.asked[2], "a keyframe of the target layer was asked for");
    assert_eq!(s.reception(), (Some(0), Some(2)));
    // ...and, until it comes, the low layer goes on. The publisher answers on its next frame.
    s.frames(5);
    assert_eq!(s.reception(), (Some(2), Some(2)));
    let switch = s.got.iter().position(|g| g.0 == 2).expect("switched");
    assert!(
        s.got[switch].1,
        "the first packet of the new layer is a keyframe"
    );
    assert!(s.got[switch..].iter().all(|g| g.0 == 2));
    assert_eq!(s.room.stats().layer_switches, 1);
    for w in s.got.windows(2) {
        assert_eq!(w[1].2.seq, w[0].2.seq.wrapping_add(1), "no gap, no repeat");
    }
}

#[test]
fn a_hidden_track_sends_nothing_and_comes_back_with_a_keyframe() {
    let mut s = Sim::new(RoomConfig::default());
    s.frames(10);
    let before = s.got.len();
    assert!(before > 0);
    s.view(View::Hidden);
    assert_eq!(s.reception(), (None, None));
    assert_eq!(s.room.paused_subscriptions(), 1);
    s.frames(30);
    assert_eq!(s.got.len(), before, "a paused track sends nothing");
    s.view(shown(360));
    s.frames(3);
    assert_eq!(s.reception(), (Some(1), Some(1)));
    assert!(s.got[before].1, "it resumes on a keyframe");
    assert_eq!(s.got[before].2.seq, s.got[before - 1].2.seq.wrapping_add(1));
}

#[test]
fn the_estimate_lowers_the_layer_and_its_recovery_raises_it_after_the_hold() {
    let mut s = Sim::new(RoomConfig::default());
    s.frames(60);
    assert_eq!(s.reception().0, Some(2), "no estimate: the top layer");
    // Room for the middle layer (97 kbit/s) but not the top one (242).
    s.estimate(150_000);
    assert_eq!(s.reception(), (Some(2), Some(1)));
    s.frames(5);
    assert_eq!(s.reception(), (Some(1), Some(1)));
    // The estimate recovers at once; the hold keeps the layer down for a while.
    s.estimate(1_000_000);
    s.frames(30);
    assert_eq!(s.reception().1, Some(1), "held after the forced downgrade");
    s.frames(100);
    assert_eq!(s.reception(), (Some(2), Some(2)));
    // Too little even for the thumbnail: paused, not torn down.
    s.estimate(20_000);
    assert_eq!(s.reception(), (None, None));
    assert_eq!(s.room.subscriptions_of(B), vec![CAM]);
}

#[test]
fn dynacast_stops_a_layer_nobody_receives_and_restarts_it_when_wanted() {
    let mut s = Sim::new(RoomConfig::default());
    s.view(shown(180));
    s.frames(30);
    assert_eq!(s.active, [true; 3], "not before the delay");
    s.frames(100);
    assert_eq!(s.active, [true, false, false]);
    // B enlarges to the middle layer: the top one stays off.
    s.view(shown(360));
    s.frames(100);
    assert_eq!(s.active, [true, true, false]);
    s.view(shown(180));
    s.frames(100);
    assert_eq!(s.active, [true, false, false]);
    let stopped = s.got.len();
    s.frames(60);
    assert_eq!(s.reception(), (Some(0), Some(0)));
    assert!(s.got.len() > stopped, "the low layer goes on");
    // B enlarges the tile: the top layer is asked back at once, with a keyframe.
    s.view(shown(720));
    assert_eq!(s.active, [true, false, true]);
    s.frames(3);
    assert_eq!(s.reception(), (Some(2), Some(2)));
    s.frames(100);
    assert_eq!(
        s.active,
        [true, false, true],
        "the lowest layer stays encoded"
    );
    // Nobody wants the track at all: nothing is encoded, not even the lowest layer.
    s.view(View::Hidden);
    s.frames(100);
    assert_eq!(s.active, [false; 3]);
}

#[test]
fn a_layer_that_stops_on_its_own_is_not_waited_for() {
    let mut s = Sim::new(RoomConfig {
        dynacast_delay: None,
        ..RoomConfig::default()
    });
    s.frames(30);
    assert_eq!(s.reception(), (Some(2), Some(2)));
    // The publisher's uplink starves: it drops its top layer.
    s.active[2] = false;
    s.frames(60);
    assert_eq!(s.reception(), (Some(1), Some(1)));
    let last = s.last_layers(5);
    assert_eq!(last, vec![1; 5]);
}

#[test]
fn a_silent_publisher_keeps_its_layers_chosen_and_nothing_is_paused() {
    let mut s = Sim::new(RoomConfig::default());
    // The camera is too small for the top layer: the publisher never sends it.
    s.active[2] = false;
    s.frames(30);
    assert_eq!(s.reception(), (Some(1), Some(1)));
    // The publisher's network goes away for a while: no layer flows. The choice stays, and
    // the layer never seen is not chosen for want of any other.
    let was = s.active;
    s.active = [false; 3];
    for _ in 0..20 {
        s.frames(20);
        assert_eq!(s.reception().1, Some(1), "the choice stays, at {}", s.frame);
    }
    // (The layers nobody was on are paused, as they would be anyway.)
    let top_paused = s.outputs.iter().any(
        |o| matches!(o, Output::PublisherLayers { active, .. } if active.get(1) == Some(&false)),
    );
    assert!(
        !top_paused,
        "silence is no reason to stop encoding the layer received"
    );
    // It comes back: the subscriber is sent the same layer again (after a keyframe).
    s.active = was;
    s.room.handle_input(s.now, Input::PublisherConnected(A));
    s.collect();
    let before = s.got.len();
    s.frames(5);
    assert_eq!(s.reception(), (Some(1), Some(1)));
    assert!(s.got.len() > before);
}

#[test]
fn bytes_at_full_count_what_the_top_layer_would_have_cost() {
    let mut s = Sim::new(RoomConfig {
        dynacast_delay: None,
        ..RoomConfig::default()
    });
    s.view(shown(180));
    s.frames(50);
    let st = s.room.stats();
    // The first frame's low layers counted while they were the top flowing ones.
    let first = (SIZES[0] + SIZES[1]) as u64;
    assert_eq!(st.video_bytes_at_full, first + 50 * SIZES[2] as u64);
    assert!(st.forwarded_bytes[1] < st.video_bytes_at_full / 4);
    assert!(st.skipped_other_layer > 0);
}

#[derive(Debug, Clone)]
enum Op {
    Frames(u32),
    View(Option<u32>),
    Estimate(u64),
    QueueFull,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (1u32..40).prop_map(Op::Frames),
        proptest::option::weighted(0.8, 100u32..800).prop_map(Op::View),
        (10_000u64..600_000).prop_map(Op::Estimate),
        Just(Op::QueueFull),
    ]
}

proptest! {
    /// Whatever the switches, B sees one gap-free stream: each packet numbered one after the
    /// last, timestamps moving forward, and every change of source layer starting at a keyframe.
    #[test]
    fn the_outgoing_stream_stays_continuous_across_switches(ops in proptest::collection::vec(op(), 1..40)) {
        let mut s = Sim::new(RoomConfig::default());
        for op in &ops {
            match *op {
                Op::Frames(n) => s.frames(n),
                Op::View(h) => s.view(h.map_or(View::Hidden, shown)),
                Op::Estimate(b) => s.estimate(b),
                Op::QueueFull => {
                    s.room.handle_input(s.now, Input::QueueFull { subscriber: B, track: CAM });
                    s.collect();
                }
            }
        }
        for w in s.got.windows(2) {
            let (a, b) = (w[0], w[1]);
            prop_assert_eq!(b.2.seq, a.2.seq.wrapping_add(1), "gap or repeat: {:?} then {:?}", a, b);
            let dt = b.2.timestamp.wrapping_sub(a.2.timestamp);
            prop_assert!(dt < 0x8000_0000, "timestamp went back: {:?} then {:?}", a, b);
            if b.0 != a.0 {
                prop_assert!(b.1, "switched to layer {} on a delta frame", b.0);
            }
        }
        if let Some(first) = s.got.first() {
            prop_assert!(first.1, "the stream starts on a keyframe");
        }
    }
}
