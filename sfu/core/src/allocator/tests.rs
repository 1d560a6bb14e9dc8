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
