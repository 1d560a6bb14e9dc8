//! Merging and throttling keyframe requests (PLI/FIR) for one published video track.
//!
//! Many subscribers asking at once for a keyframe must cost the publisher one keyframe, not many:
//! the first request goes upstream at once, and any that arrive within `min_interval` after it are
//! merged into one more request at the end of that interval, which a keyframe arriving in the
//! meantime cancels. While someone still waits for a keyframe that has not come, the request is
//! repeated every `retry_interval`.

use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct KeyframeThrottle {
    min_interval: Duration,
    retry_interval: Duration,
    last_sent: Option<Instant>,
    pending: bool,
    waiting: bool,
}

impl KeyframeThrottle {
    pub fn new(min_interval: Duration, retry_interval: Duration) -> Self {
        KeyframeThrottle {
            min_interval,
            retry_interval: retry_interval.max(min_interval),
            last_sent: None,
            pending: false,
            waiting: false,
        }
    }

    /// A subscriber asks for a keyframe. Returns true when a request must go upstream now.
    pub fn request(&mut self, now: Instant) -> bool {
        self.waiting = true;
        match self.last_sent {
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
        self.pending = false;
        self.waiting = false;
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
    fn many_requests_merge_into_two() {
        let t0 = Instant::now();
        let mut k = throttle();
        let mut sent = 0;
        for i in 0..20u64 {
            if k.request(t0 + Duration::from_millis(i * 10)) {
                sent += 1;
            }
        }
        assert_eq!(sent, 1, "only the first goes at once");
        assert_eq!(k.poll_timeout(), Some(t0 + Duration::from_millis(500)));
        assert!(!k.handle_timeout(t0 + Duration::from_millis(499)));
        assert!(k.handle_timeout(t0 + Duration::from_millis(500)));
    }

    #[test]
    fn a_keyframe_cancels_the_merged_request() {
        let t0 = Instant::now();
        let mut k = throttle();
        assert!(k.request(t0));
        assert!(!k.request(t0 + Duration::from_millis(100)));
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
