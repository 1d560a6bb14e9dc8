//! Speaker detection on a virtual clock: packets every 20 ms, timers fired when due.

use proptest::prelude::*;

use super::*;

const A: ParticipantId = ParticipantId(1);
const B: ParticipantId = ParticipantId(2);
const LOUD: u8 = 20;
const NOISE: u8 = 60;
const SILENT: u8 = 127;

/// A detector and its virtual clock, with every change it reported.
struct Sim {
    s: Speakers,
    t0: Instant,
    /// Milliseconds since `t0`.
    now: u64,
    changes: Vec<(u64, SpeakerChange)>,
}

impl Sim {
    fn new() -> Sim {
        Sim {
            s: Speakers::new(SpeakerConfig::default()),
            t0: Instant::now(),
            now: 0,
            changes: Vec::new(),
        }
    }

    fn at(&self, ms: u64) -> Instant {
        self.t0 + Duration::from_millis(ms)
    }

    /// Runs the clock to `ms`, firing the detector's timers when due.
    fn advance(&mut self, ms: u64) {
        while let Some(due) = self.s.poll_timeout() {
            if due > self.at(ms) {
                break;
            }
            self.now = due.duration_since(self.t0).as_millis() as u64;
            self.s.handle_timeout(due);
            self.collect();
        }
        self.now = ms;
    }

    fn collect(&mut self) {
        for c in self.s.changes() {
            self.changes.push((self.now, c));
        }
    }

    /// `who` send packets every 20 ms from now for `ms`, at the levels `level` gives each
    /// packet's time.
    fn talk(&mut self, who: &[ParticipantId], ms: u64, level: impl Fn(u64) -> u8) {
        let end = self.now + ms;
        let mut t = self.now;
        while t < end {
            self.advance(t);
            for &p in who {
                self.s.level(self.at(t), p, level(t));
            }
            self.collect();
            t += 20;
        }
        self.advance(end);
    }

    fn actives(&self) -> Vec<(u64, Vec<ParticipantId>)> {
        self.changes
            .iter()
            .filter_map(|(t, c)| match c {
                SpeakerChange::Active(a) => Some((*t, a.clone())),
                SpeakerChange::TalkTime(..) => None,
            })
            .collect()
    }

    fn talk_ms(&self, p: ParticipantId) -> u128 {
        self.s.talk_time(p).as_millis()
    }
}

#[test]
fn speech_starts_after_the_attack_and_ends_after_the_release_with_exact_talk_time() {
    let mut sim = Sim::new();
    sim.talk(&[A], 3000, |_| LOUD);
    sim.talk(&[A], 2000, |_| SILENT);
    // Loud from 0: the second loud window closes at 500 ms; four quiet windows after the last
    // loud one (ending at 3000) end it at 4000.
    assert_eq!(sim.actives(), vec![(500, vec![A]), (4000, vec![])]);
    assert_eq!(
        sim.talk_ms(A),
        3000,
        "neither the attack lost nor the release added"
    );
    let reported: Vec<Duration> = sim
        .changes
        .iter()
        .filter_map(|(_, c)| match c {
            SpeakerChange::TalkTime(p, d) if *p == A => Some(*d),
            _ => None,
        })
        .collect();
    assert_eq!(reported.first(), Some(&Duration::from_millis(500)));
    assert_eq!(reported.last(), Some(&Duration::from_millis(3000)));
    assert!(reported.windows(2).all(|w| w[0] < w[1]), "{reported:?}");
}

#[test]
fn a_cough_noise_and_sparse_clicks_are_not_speech() {
    let mut sim = Sim::new();
    // One loud window, then silence.
    sim.talk(&[A], 240, |_| LOUD);
    sim.talk(&[A], 1000, |_| SILENT);
    // Steady background noise below the loud level.
    sim.talk(&[A], 2000, |_| NOISE);
    // Clicks: one packet in five loud, under the 40% a window needs.
    sim.talk(&[A], 2000, |t| if t % 100 == 0 { LOUD } else { SILENT });
    assert_eq!(sim.actives(), vec![]);
    assert_eq!(sim.talk_ms(A), 0);
}

#[test]
fn a_pause_between_sentences_does_not_end_a_stretch_but_a_longer_silence_does() {
    let mut sim = Sim::new();
    sim.talk(&[A], 1000, |_| LOUD);
    sim.talk(&[A], 750, |_| SILENT); // three quiet windows: under the release
    sim.talk(&[A], 1000, |_| LOUD);
    sim.talk(&[A], 1500, |_| SILENT);
    sim.talk(&[A], 500, |_| LOUD);
    sim.talk(&[A], 1500, |_| SILENT);
    assert_eq!(
        sim.actives(),
        vec![
            (500, vec![A]),
            (3750, vec![]),
            (4750, vec![A]),
            (5750, vec![])
        ]
    );
    // 0-2750 (the pause inside it counts), then 4250-4750.
    assert_eq!(sim.talk_ms(A), 2750 + 500);
}

#[test]
fn silence_ends_a_stretch_at_once_and_keeps_its_talk_time() {
    let mut sim = Sim::new();
    sim.talk(&[A], 1000, |_| LOUD);
    sim.s.silence(A);
    sim.collect();
    assert_eq!(sim.actives(), vec![(500, vec![A]), (1000, vec![])]);
    assert_eq!(sim.talk_ms(A), 1000);
    assert_eq!(
        sim.s.poll_timeout(),
        None,
        "a silenced voice needs no timer"
    );
    // Packets of a muted track are not fed; when fed again, detection starts afresh.
    sim.talk(&[A], 1000, |_| LOUD);
    assert_eq!(sim.talk_ms(A), 2000);
    assert_eq!(sim.s.remove(A), Duration::from_millis(2000));
    assert_eq!(sim.s.talk_time(A), Duration::ZERO);
}

#[test]
fn speakers_are_ordered_loudest_first_and_reordering_is_no_change() {
    let mut sim = Sim::new();
    // Both loud, B louder; then A louder: the same two speakers, so no new report.
    sim.talk(&[A, B], 1000, |_| LOUD);
    let louder_b = |t: u64| if t < 1000 { 10 } else { 30 };
    let mut s = Speakers::new(SpeakerConfig::default());
    let t0 = Instant::now();
    let mut reports = Vec::new();
    for step in 0..100u64 {
        let t = t0 + Duration::from_millis(step * 20);
        while let Some(due) = s.poll_timeout().filter(|d| *d <= t) {
            s.handle_timeout(due);
            reports.extend(s.changes());
        }
        s.level(t, A, 25);
        s.level(t, B, louder_b(step * 20));
        reports.extend(s.changes());
    }
    let actives: Vec<_> = reports
        .into_iter()
        .filter_map(|c| match c {
            SpeakerChange::Active(a) => Some(a),
            SpeakerChange::TalkTime(..) => None,
        })
        .collect();
    assert_eq!(actives, vec![vec![B, A]], "B was louder when they started");
    assert_eq!(s.speaking(), vec![A, B], "and A is louder now");
    assert_eq!(sim.actives(), vec![(500, vec![A, B])], "ties go by id");
}

#[test]
fn a_late_timer_closes_the_windows_it_missed() {
    // The owner was busy for a second: the windows are still closed at their own ends.
    let mut s = Speakers::new(SpeakerConfig::default());
    let t0 = Instant::now();
    for step in 0..50u64 {
        s.level(t0 + Duration::from_millis(step * 20), A, LOUD);
    }
    s.handle_timeout(t0 + Duration::from_millis(3000));
    assert_eq!(s.speaking(), vec![], "four quiet windows after 1000 ms");
    assert_eq!(s.talk_time(A), Duration::from_millis(1000));
}

proptest! {
    /// Whatever the levels and gaps, talk time never runs backwards and never exceeds the time
    /// since the first packet; someone never heard loud never talks.
    #[test]
    fn talk_time_is_bounded_and_monotonic(
        packets in proptest::collection::vec((0u64..300, 0u8..=127), 1..400),
    ) {
        let mut s = Speakers::new(SpeakerConfig::default());
        let t0 = Instant::now();
        let mut t = t0;
        let mut last = Duration::ZERO;
        let mut any_loud = false;
        for (gap, level) in &packets {
            t += Duration::from_millis(*gap);
            s.handle_timeout(t);
            s.level(t, A, *level);
            any_loud |= *level <= SpeakerConfig::default().loud_level;
            let talk = s.talk_time(A);
            prop_assert!(talk >= last, "talk time fell from {last:?} to {talk:?}");
            prop_assert!(talk <= t - t0 + Duration::from_millis(250), "{talk:?} after {:?}", t - t0);
            last = talk;
        }
        if !any_loud {
            prop_assert_eq!(last, Duration::ZERO);
        }
    }
}

/// The room feeds unmuted audio levels to the detector, reports its changes as outputs, and
/// silences a speaker who mutes, unpublishes or leaves.
#[test]
fn a_room_reports_speakers_and_talk_time_and_mute_silences() {
    use crate::room::{Input, Output, Room, RoomConfig};
    use crate::{Codec, RtpMeta, TrackId};
    let mut room: Room<Vec<u8>> = Room::new(RoomConfig::default());
    let t0 = Instant::now();
    let track = TrackId(10);
    room.handle_input(t0, Input::Join(A));
    room.handle_input(t0, Input::Join(B));
    room.handle_input(
        t0,
        Input::Publish {
            publisher: A,
            track,
            codec: Codec::Opus,
            source: crate::Source::Microphone,
            layers: Vec::new(),
        },
    );
    let mut outs = Vec::new();
    let step = |room: &mut Room<Vec<u8>>, ms: u64, level: Option<u8>, outs: &mut Vec<_>| {
        let t = t0 + Duration::from_millis(ms);
        while let Some(due) = room.poll_timeout().filter(|d| *d <= t) {
            room.handle_input(due, Input::Timeout);
        }
        let meta = RtpMeta {
            ssrc: 1,
            seq: (ms / 20) as u16,
            timestamp: 0,
            marker: false,
            audio_level: level,
            layer: 0,
        };
        room.handle_input(
            t,
            Input::Rtp {
                track,
                meta,
                payload: vec![1, 2, 3],
            },
        );
        outs.extend(
            std::iter::from_fn(|| room.poll_output())
                .filter(|o| matches!(o, Output::ActiveSpeakers(_) | Output::TalkTime { .. })),
        );
    };
    for ms in (0..1000).step_by(20) {
        step(&mut room, ms, Some(LOUD), &mut outs);
    }
    assert!(outs.contains(&Output::ActiveSpeakers(vec![A])), "{outs:?}");
    assert_eq!(
        room.talk_time(A),
        Duration::from_millis(750),
        "windows closed so far"
    );
    room.handle_input(
        t0 + Duration::from_millis(1000),
        Input::SetMuted { track, muted: true },
    );
    let muted: Vec<_> = std::iter::from_fn(|| room.poll_output()).collect();
    assert_eq!(
        muted,
        vec![Output::ActiveSpeakers(vec![])],
        "muting ends speech at once"
    );
    // Loud packets of a muted track, or packets without a level, are not speech.
    outs.clear();
    for ms in (1000..2000).step_by(20) {
        step(&mut room, ms, Some(LOUD), &mut outs);
    }
    room.handle_input(
        t0 + Duration::from_millis(2000),
        Input::SetMuted {
            track,
            muted: false,
        },
    );
    for ms in (2000..3000).step_by(20) {
        step(&mut room, ms, None, &mut outs);
    }
    assert_eq!(outs, vec![]);
    assert_eq!(room.talk_time(A), Duration::from_millis(750));
    for ms in (3000..4000).step_by(20) {
        step(&mut room, ms, Some(LOUD), &mut outs);
    }
    assert_eq!(
        outs.first(),
        Some(&Output::TalkTime {
            participant: A,
            talk: Duration::from_millis(1250)
        })
    );
    room.handle_input(t0 + Duration::from_millis(4000), Input::Leave(A));
    let left: Vec<_> = std::iter::from_fn(|| room.poll_output())
        .filter(|o| matches!(o, Output::ActiveSpeakers(_)))
        .collect();
    assert_eq!(left, vec![Output::ActiveSpeakers(vec![])]);
    assert_eq!(room.talk_time(A), Duration::ZERO, "forgotten when gone");
}
