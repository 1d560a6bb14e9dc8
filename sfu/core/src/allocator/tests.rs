//! The allocator on its own, on a virtual clock.

use super::*;

const KBPS: u64 = 1000;
/// A three-layer camera: 150, 500 and 1500 kbit/s.
const CAMERA: [u64; 3] = [150 * KBPS, 500 * KBPS, 1500 * KBPS];

fn cam(track: u64, priority: Priority, cap: Option<u8>, current: Option<u8>) -> Candidate {
    Candidate {
        track: TrackId(track),
        priority,
        costs: CAMERA.iter().map(|&c| Some(c)).collect(),
        cap,
        current,
    }
}

fn run(
    state: &mut AllocState,
    now: Instant,
    budget: Option<u64>,
    cs: &[Candidate],
) -> Vec<Option<u8>> {
    allocate(&AllocConfig::default(), state, now, budget, 0, cs)
        .targets
        .into_iter()
        .map(|(_, t)| t)
        .collect()
}

#[test]
fn with_no_estimate_every_view_gets_what_it_wants() {
    let t0 = Instant::now();
    let cs = [
        cam(1, Priority::Other, Some(2), None),
        cam(2, Priority::Other, Some(0), None),
        cam(3, Priority::Other, None, None),
    ];
    let a = allocate(
        &AllocConfig::default(),
        &mut AllocState::default(),
        t0,
        None,
        40 * KBPS,
        &cs,
    );
    assert_eq!(
        a.targets,
        vec![
            (TrackId(1), Some(2)),
            (TrackId(2), Some(0)),
            (TrackId(3), None)
        ]
    );
    assert_eq!(a.used, 40 * KBPS + 1500 * KBPS + 150 * KBPS);
    assert_eq!(a.wanted, a.used);
    assert!(!a.limited, "hidden is not limited");
}

#[test]
fn a_low_estimate_gives_everyone_a_thumbnail_before_anyone_a_sharp_picture() {
    let t0 = Instant::now();
    let cs = [
        cam(1, Priority::Other, Some(2), None),
        cam(2, Priority::Other, Some(2), None),
        cam(3, Priority::Other, Some(2), None),
    ];
    // 3 x 150 = 450 fits; raising one to 500 would need 800 plus headroom.
    let t = run(&mut AllocState::default(), t0, Some(600 * KBPS), &cs);
    assert_eq!(t, vec![Some(0), Some(0), Some(0)]);
    let t = run(&mut AllocState::default(), t0, Some(1200 * KBPS), &cs);
    assert_eq!(
        t,
        vec![Some(1), Some(0), Some(0)],
        "the first in order is raised"
    );
}

#[test]
fn priorities_hold_screen_then_speaker_then_the_rest() {
    let t0 = Instant::now();
    let cs = [
        cam(1, Priority::Other, Some(2), None),
        cam(2, Priority::Speaker, Some(2), None),
        cam(3, Priority::Screen, Some(2), None),
    ];
    // Room for two thumbnails (with the headroom new pictures need) and no more: the speaker
    // and the screen get them.
    let t = run(&mut AllocState::default(), t0, Some(400 * KBPS), &cs);
    assert_eq!(t, vec![None, Some(0), Some(0)]);
    // Room for the screen's top layer and the others' thumbnails.
    let t = run(&mut AllocState::default(), t0, Some(2200 * KBPS), &cs);
    assert_eq!(t, vec![Some(0), Some(0), Some(2)]);
}

#[test]
fn audio_comes_off_the_budget_first() {
    let t0 = Instant::now();
    let cs = [cam(1, Priority::Other, Some(2), None)];
    let a = allocate(
        &AllocConfig::default(),
        &mut AllocState::default(),
        t0,
        Some(160 * KBPS),
        100 * KBPS,
        &cs,
    );
    assert_eq!(a.targets, vec![(TrackId(1), None)]);
    assert!(a.limited);
    assert_eq!(a.used, 100 * KBPS);
}

#[test]
fn an_ineligible_layer_is_passed_over() {
    let t0 = Instant::now();
    let mut c = cam(1, Priority::Other, Some(2), None);
    c.costs[2] = None;
    assert_eq!(
        run(&mut AllocState::default(), t0, None, &[c.clone()]),
        vec![Some(1)]
    );
    // The view wants only the thumbnail, which does not flow: the next one up serves.
    c.cap = Some(0);
    c.costs = vec![None, Some(500 * KBPS), None];
    assert_eq!(
        run(&mut AllocState::default(), t0, None, &[c]),
        vec![Some(1)]
    );
}

#[test]
fn layers_drop_when_the_estimate_falls_and_come_back_with_hysteresis() {
    let t0 = Instant::now();
    let mut state = AllocState::default();
    let mut cur = cam(1, Priority::Other, Some(2), Some(2));
    // The estimate falls below the top layer: down to the middle one, at once.
    let t = run(&mut state, t0, Some(1400 * KBPS), &[cur.clone()]);
    assert_eq!(t, vec![Some(1)]);
    cur.current = t[0];
    // It recovers to just over the top layer's cost: no headroom, so no raise.
    let t1 = t0 + Duration::from_secs(10);
    assert_eq!(
        run(&mut state, t1, Some(1600 * KBPS), &[cur.clone()]),
        vec![Some(1)]
    );
    // With headroom, but within the hold after a forced downgrade: still no raise.
    let mut state = AllocState::default();
    assert_eq!(
        run(
            &mut state,
            t0,
            Some(1400 * KBPS),
            &[cam(1, Priority::Other, Some(2), Some(2))]
        ),
        vec![Some(1)]
    );
    let soon = t0 + Duration::from_secs(1);
    assert_eq!(
        run(&mut state, soon, Some(3000 * KBPS), &[cur.clone()]),
        vec![Some(1)]
    );
    // After the hold, with headroom: back to the top.
    let later = t0 + Duration::from_secs(4);
    assert_eq!(
        run(&mut state, later, Some(3000 * KBPS), &[cur.clone()]),
        vec![Some(2)]
    );
    // A layer kept needs only the budget, not the headroom: no flapping around the threshold.
    cur.current = Some(2);
    assert_eq!(
        run(&mut state, later, Some(1510 * KBPS), &[cur]),
        vec![Some(2)]
    );
}

#[test]
fn a_smaller_view_is_not_a_forced_downgrade() {
    let t0 = Instant::now();
    let mut state = AllocState::default();
    let shrunk = cam(1, Priority::Other, Some(0), Some(2));
    assert_eq!(
        run(&mut state, t0, Some(10_000 * KBPS), &[shrunk]),
        vec![Some(0)]
    );
    // Enlarged again a moment later: no hold, since the budget forced nothing.
    let grown = cam(1, Priority::Other, Some(2), Some(0));
    let t1 = t0 + Duration::from_millis(100);
    assert_eq!(
        run(&mut state, t1, Some(10_000 * KBPS), &[grown]),
        vec![Some(2)]
    );
}

/// After congestion, a recovered estimate brings layers back one track and one step at a time,
/// each `step_interval` apart (everyone a picture first, then sharper ones in priority order):
/// a raise is the link's probe.
#[test]
fn after_congestion_raises_go_one_step_at_a_time() {
    let config = AllocConfig::default();
    let t0 = Instant::now();
    let mut state = AllocState::default();
    let both = |a: Option<u8>, b: Option<u8>| {
        [
            cam(1, Priority::Other, Some(2), a),
            cam(2, Priority::Other, Some(2), b),
        ]
    };
    let step = |state: &mut AllocState, at: Instant, a, b| {
        let t = allocate(&config, state, at, Some(100_000 * KBPS), 0, &both(a, b));
        (t.targets[0].1, t.targets[1].1)
    };
    // Congestion: both forced down to nothing.
    let t = allocate(
        &config,
        &mut state,
        t0,
        Some(100 * KBPS),
        0,
        &both(Some(2), Some(2)),
    );
    assert_eq!((t.targets[0].1, t.targets[1].1), (None, None));
    // Room again, after the hold: one track comes back at its lowest layer, the other waits.
    let mut at = t0 + config.upgrade_hold;
    assert_eq!(step(&mut state, at, None, None), (Some(0), None));
    // Not again until the step interval has passed.
    at += Duration::from_millis(500);
    assert_eq!(step(&mut state, at, Some(0), None), (Some(0), None));
    let mut cur = (Some(0), None);
    let mut seen = vec![cur];
    for _ in 0..6 {
        at += config.step_interval;
        cur = step(&mut state, at, cur.0, cur.1);
        seen.push(cur);
    }
    assert_eq!(
        seen,
        vec![
            (Some(0), None),
            (Some(0), Some(0)),
            // Sharper pictures in priority order, as without congestion.
            (Some(1), Some(0)),
            (Some(2), Some(0)),
            (Some(2), Some(1)),
            (Some(2), Some(2)),
            (Some(2), Some(2)),
        ]
    );
    // Long after the congestion, a new track comes up at once.
    let free = t0 + config.cautious_for + Duration::from_secs(1);
    let t = allocate(
        &config,
        &mut state,
        free,
        Some(100_000 * KBPS),
        0,
        &both(None, None),
    );
    assert_eq!((t.targets[0].1, t.targets[1].1), (Some(2), Some(2)));
}

/// A raise the budget takes back within the trial failed: the hold doubles each time, up to
/// its ceiling; a downgrade that follows no raise sets it back.
#[test]
fn failed_raises_lengthen_the_hold() {
    let config = AllocConfig::default();
    let t0 = Instant::now();
    let mut state = AllocState::default();
    let one = |cur| [cam(1, Priority::Other, Some(2), cur)];
    allocate(&config, &mut state, t0, Some(200 * KBPS), 0, &one(Some(2)));
    assert_eq!(state.hold(&config), config.upgrade_hold);
    let mut at = t0;
    let mut holds = Vec::new();
    for _ in 0..5 {
        // Raised on trial once the hold is over, then taken back a second later.
        at += state.hold(&config);
        let up = allocate(
            &config,
            &mut state,
            at,
            Some(10_000 * KBPS),
            0,
            &one(Some(0)),
        );
        assert_eq!(up.targets[0].1, Some(1), "one step up, on trial");
        at += Duration::from_secs(1);
        allocate(&config, &mut state, at, Some(200 * KBPS), 0, &one(Some(1)));
        holds.push(state.hold(&config).as_secs());
    }
    assert_eq!(holds, vec![6, 12, 24, 30, 30]);
    // A downgrade with no trial before it: back to the first hold.
    at += Duration::from_secs(40);
    allocate(&config, &mut state, at, Some(200 * KBPS), 0, &one(Some(1)));
    assert_eq!(state.hold(&config), config.upgrade_hold);
}
