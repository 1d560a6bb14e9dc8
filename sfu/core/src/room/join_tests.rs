//! A join's first picture, on a virtual clock: the keyframe a new subscriber needs is asked for
//! once its path is up (earlier, it would be forwarded before the subscriber has its keys, and
//! lost), and once only; a publisher back after a gap is asked at once.

use super::tests::*;
use super::*;

/// A publishing audio and video, B joined: B's subscriptions made ready, its path not up.
fn b_joining(now: Instant) -> Room<Payload> {
    let mut r = room();
    for p in [A, B] {
        r.handle_input(now, Input::Join(p));
    }
    r.handle_input(now, publish(A, A_AUDIO, crate::Codec::Opus));
    r.handle_input(now, publish(A, A_VIDEO, crate::Codec::Vp8));
    let out = drain(&mut r);
    for (i, (sub, track)) in subscribes(&out).into_iter().enumerate() {
        let ssrc = 1000 + i as u32;
        r.handle_input(
            now,
            Input::SubscriptionReady {
                subscriber: sub,
                track,
                ssrc,
            },
        );
    }
    r
}

#[test]
fn a_new_subscriber_is_asked_a_keyframe_once_its_path_is_up_and_once_only() {
    let t0 = Instant::now();
    let mut r = b_joining(t0);
    assert_eq!(keyframe_requests(&drain(&mut r)), 0, "B cannot receive yet");
    assert_eq!(r.poll_timeout(), None, "and nothing is repeated for it");
    // A keyframe of A's own comes meanwhile: B cannot use it.
    a_video(&mut r, t0, 1, 0, &VP8_KEY);
    assert!(
        forwards(&drain(&mut r)).is_empty(),
        "not sent before B's path is up"
    );
    let t1 = t0 + Duration::from_millis(60);
    r.handle_input(t1, Input::SubscriberConnected(B));
    assert_eq!(
        keyframe_requests(&drain(&mut r)),
        1,
        "asked when B can receive"
    );
    a_video(&mut r, t1 + Duration::from_millis(30), 2, 3000, &VP8_KEY);
    let to: Vec<ParticipantId> = forwards(&drain(&mut r)).iter().map(|f| f.0).collect();
    assert_eq!(to, [B], "its keyframe reaches B");
    assert_eq!(r.stats().keyframe_requests_sent, 1);
    assert_eq!(r.poll_timeout(), None, "nothing more to ask");
}

#[test]
fn a_track_published_to_a_connected_subscriber_is_asked_at_once() {
    let t0 = Instant::now();
    let mut r = b_joining(t0);
    r.handle_input(t0, Input::SubscriberConnected(B));
    a_video(&mut r, t0, 1, 0, &VP8_KEY);
    drain(&mut r);
    // A shares a screen: B's path is up already, so its keyframe is asked as soon as the
    // subscription is ready.
    let screen = TrackId(12);
    let t1 = t0 + Duration::from_secs(2);
    r.handle_input(t1, publish(A, screen, crate::Codec::Vp8));
    drain(&mut r);
    r.handle_input(
        t1,
        Input::SubscriptionReady {
            subscriber: B,
            track: screen,
            ssrc: 2000,
        },
    );
    assert_eq!(keyframe_requests(&drain(&mut r)), 1);
}

#[test]
fn a_publisher_back_after_a_gap_is_asked_at_once_however_recently_it_was_asked() {
    let t0 = Instant::now();
    let mut r = b_joining(t0);
    r.handle_input(t0, Input::SubscriberConnected(B));
    assert_eq!(keyframe_requests(&drain(&mut r)), 1);
    // A's path drops before that request reached it, and is back 100 ms later: the request
    // sent meanwhile never reached A, so this one is not held to the minimum interval.
    let t1 = t0 + Duration::from_millis(100);
    assert!(t1 < t0 + RoomConfig::default().keyframe_min_interval);
    r.handle_input(t1, Input::PublisherConnected(A));
    assert_eq!(keyframe_requests(&drain(&mut r)), 1, "asked again at once");
}
