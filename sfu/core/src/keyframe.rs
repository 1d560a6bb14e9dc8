//! Merging and throttling keyframe requests (PLI/FIR) for one published video track.
//!
//! Many subscribers asking at once for a keyframe must cost the publisher one keyframe, not many,
//! and a new subscriber must not wait long for its first picture:
//! - While a request is in flight (sent, and no keyframe since), further requests add nothing:
//!   the keyframe on its way serves them all.
//! - Otherwise a request goes upstream at once, unless one went less than `min_interval` ago;
//!   then it goes at the end of that interval, and a keyframe arriving in the meantime cancels it.
//!   The interval bounds how many keyframes subscribers can make a publisher send.
//! - While someone still waits for a keyframe that has not come, the request is repeated every
//!   `retry_interval` (a request or its keyframe may be lost).

use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct KeyframeThrottle {
    min_interval: Duration,
    retry_interval: Duration,
    last_sent: Option<Instant>,
    /// A request went upstream and no keyframe has come since.
    in_flight: bool,
    pending: bool,
    waiting: bool,
}

impl KeyframeThrottle {
    pub fn new(min_interval: Duration, retry_interval: Duration) -> Self {
        KeyframeThrottle {
            min_interval,
            retry_interval: retry_interval.max(min_interval),
            last_sent: None,
            in_flight: false,
            pending: false,
            waiting: false,
        }
    }

    /// A subscriber asks for a keyframe. Returns true when a request must go upstream now.
    pub fn request(&mut self, now: Instant) -> bool {
        self.waiting = true;
        match self.last_sent {
            // The keyframe asked for is on its way (or the retry will ask again).
            Some(last) if self.in_flight && now < last + self.retry_interval => false,
            Some(last) if now < last + self.min_interval => {
                self.pending = true;
                false
            }
            _ => {
                self.send(now);
                true
            }
        }
    }

    /// A keyframe arrived from the publisher.
    pub fn keyframe_received(&mut self) {
        self.in_flight = false;
        self.pending = false;
        self.waiting = false;
    }

    /// The publisher's path is up again after a gap: what was sent meanwhile never reached it,
    /// so nothing holds the next request back.
    pub fn path_restored(&mut self) {
        self.last_sent = None;
        self.in_flight = false;
        self.pending = false;
    }

    /// Nobody waits for a keyframe any more: stop repeating (a merged request still goes).
    pub fn stop_waiting(&mut self) {
        self.waiting = false;
    }

    /// When [`handle_timeout`](Self::handle_timeout) next has something to do.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let last = self.last_sent?;
        if self.pending {
            Some(last + self.min_interval)
        } else if self.waiting {
            Some(last + self.retry_interval)
        } else {
            None
        }
    }

    /// Returns true when a merged or repeated request must go upstream now.
    pub fn handle_timeout(&mut self, now: Instant) -> bool {
        match self.poll_timeout() {
            Some(at) if now >= at => {
                self.send(now);
                true
            }
            _ => false,
        }
    }

    fn send(&mut self, now: Instant) {
        self.last_sent = Some(now);
        self.in_flight = true;
        self.pending = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn throttle() -> KeyframeThrottle {
        KeyframeThrottle::new(Duration::from_millis(500), Duration::from_millis(1000))
    }

    #[test]
    fn requests_while_one_is_in_flight_add_nothing() {
        let t0 = Instant::now();
        let mut k = throttle();
        let mut sent = 0;
        for i in 0..20u64 {
            if k.request(t0 + Duration::from_millis(i * 10)) {
                sent += 1;
            }
        }
        assert_eq!(sent, 1, "only the first goes; its keyframe serves the rest");
        // Nothing more until the retry, in case the request or its keyframe was lost.
        assert_eq!(k.poll_timeout(), Some(t0 + Duration::from_millis(1000)));
        assert!(!k.handle_timeout(t0 + Duration::from_millis(999)));
        assert!(k.handle_timeout(t0 + Duration::from_millis(1000)));
    }

    #[test]
    fn a_request_just_after_a_keyframe_waits_for_the_interval() {
        let t0 = Instant::now();
        let mut k = throttle();
        assert!(k.request(t0));
        k.keyframe_received();
        // This subscriber missed that keyframe: it needs another, but not sooner than 500 ms
        // after the last request.
        assert!(!k.request(t0 + Duration::from_millis(100)));
        assert_eq!(k.poll_timeout(), Some(t0 + Duration::from_millis(500)));
        assert!(!k.request(t0 + Duration::from_millis(200)), "merged");
        assert!(k.handle_timeout(t0 + Duration::from_millis(500)));
        assert!(
            !k.request(t0 + Duration::from_millis(510)),
            "in flight again"
        );
    }

    #[test]
    fn a_stale_request_in_flight_does_not_hold_a_new_one_back() {
        let t0 = Instant::now();
        let mut k = throttle();
        assert!(k.request(t0));
        k.stop_waiting();
        // Its keyframe never came, and nobody asked again for a while.
        assert_eq!(k.poll_timeout(), None);
        assert!(k.request(t0 + Duration::from_millis(1500)));
    }

    #[test]
    fn a_keyframe_cancels_the_merged_request() {
        let t0 = Instant::now();
        let mut k = throttle();
        assert!(k.request(t0));
        k.keyframe_received();
        assert!(!k.request(t0 + Duration::from_millis(100)), "merged");
        // A keyframe of the publisher's own (a periodic one) serves the merged request.
        k.keyframe_received();
        assert_eq!(k.poll_timeout(), None);
        assert!(!k.handle_timeout(t0 + Duration::from_secs(5)));
    }

    #[test]
    fn an_unanswered_request_is_repeated() {
        let t0 = Instant::now();
        let mut k = throttle();
        assert!(k.request(t0));
        assert_eq!(k.poll_timeout(), Some(t0 + Duration::from_millis(1000)));
        assert!(k.handle_timeout(t0 + Duration::from_millis(1000)));
        assert!(k.handle_timeout(t0 + Duration::from_millis(2000)));
        k.keyframe_received();
        assert!(!k.handle_timeout(t0 + Duration::from_millis(3000)));
    }

    #[test]
    fn requests_spaced_out_all_go() {
        let t0 = Instant::now();
        let mut k = throttle();
        assert!(k.request(t0));
        k.keyframe_received();
        assert!(k.request(t0 + Duration::from_millis(600)));
    }
}
