//! Keyframes: asked for whoever waits for one (a new subscription, a reconnected path, a hole
//! in the stream), merged and throttled per layer ([`crate::keyframe`]), and never for a
//! subscriber whose path is not up yet (see [`Subscription`](super::Subscription)).

use std::time::Instant;

use super::{Output, Room, Subscription, Track};
use crate::{ParticipantId, TrackId};

impl<P: Clone + AsRef<[u8]>> Room<P> {
    /// A publisher's path is up, at first or again after a gap.
    pub(super) fn publisher_connected(&mut self, now: Instant, p: ParticipantId) {
        // Back after a gap: the requests sent meanwhile never reached it, and the layers that
        // flowed before come back one by one, each given the time a resumed layer is, so that
        // the first to return does not take the others' subscribers.
        let resume_by = now + self.config.layer_resume_timeout;
        for track in self.tracks.values_mut().filter(|t| t.publisher == p) {
            for layer in &mut track.layers {
                layer.keyframes.path_restored();
                if layer.last_packet.is_some() && !layer.paused {
                    layer.resume_by = Some(resume_by);
                }
            }
        }
        self.resync(now, |t, _| t.publisher == p)
    }

    /// A subscriber's path is up, at first or again after a gap: from now on it can receive.
    pub(super) fn subscriber_connected(&mut self, now: Instant, p: ParticipantId) {
        self.reachable.insert(p);
        for track in self.tracks.values_mut() {
            for sub in track.subs.iter_mut().filter(|s| s.subscriber == p) {
                sub.reachable = true;
            }
        }
        self.resync(now, |_, s| s.subscriber == p)
    }

    pub(super) fn keyframe_request(
        &mut self,
        now: Instant,
        subscriber: ParticipantId,
        id: TrackId,
    ) {
        let Some(track) = self.tracks.get(&id) else {
            return;
        };
        if !track.codec.is_video() {
            return;
        }
        let Some(sub) = track.subs.iter().find(|s| s.subscriber == subscriber) else {
            return;
        };
        self.stats.keyframe_requests_received += 1;
        if let Some(layer) = sub.current.or(sub.target) {
            self.request_keyframe(now, id, layer);
        }
    }

    /// Every ready video subscription `which` picks waits for a keyframe, and its track asks
    /// for one: after a gap the stream is undecodable until then.
    fn resync(&mut self, now: Instant, which: impl Fn(&Track<P>, &Subscription<P>) -> bool) {
        let mut asks = Vec::new();
        for (id, track) in &mut self.tracks {
            if !track.codec.is_video() {
                continue;
            }
            let mut any = false;
            for i in 0..track.subs.len() {
                if track.subs[i].rewriter.is_some() && which(track, &track.subs[i]) {
                    track.subs[i].current = None;
                    any = true;
                }
            }
            if any {
                asks.push(*id);
            }
        }
        for id in asks {
            self.request_waited_keyframes(now, id);
        }
    }

    pub(super) fn queue_full(&mut self, now: Instant, subscriber: ParticipantId, id: TrackId) {
        self.stats.dropped_queue_full += 1;
        let Some(track) = self.tracks.get_mut(&id) else {
            return;
        };
        if !track.codec.is_video() {
            return;
        }
        // A video stream with a hole in it is undecodable until the next keyframe.
        if let Some(sub) = track.subs.iter_mut().find(|s| s.subscriber == subscriber)
            && sub.current.is_some()
        {
            sub.current = None;
            if let Some(layer) = sub.target {
                self.request_keyframe(now, id, layer);
            }
        }
    }

    /// Asks for a keyframe of every layer of `id` that a subscription waits for.
    pub(super) fn request_waited_keyframes(&mut self, now: Instant, id: TrackId) {
        let Some(track) = self.tracks.get(&id) else {
            return;
        };
        let mut layers: Vec<u8> = track
            .subs
            .iter()
            .filter(|s| s.waiting())
            .filter_map(|s| s.target)
            .collect();
        layers.sort_unstable();
        layers.dedup();
        for layer in layers {
            self.request_keyframe(now, id, layer);
        }
    }

    pub(super) fn request_keyframe(&mut self, now: Instant, id: TrackId, layer: u8) {
        if let Some(track) = self.tracks.get_mut(&id)
            && let Some(l) = track.layers.get_mut(usize::from(layer))
            && l.keyframes.request(now)
        {
            self.stats.keyframe_requests_sent += 1;
            self.outputs
                .push_back(Output::RequestKeyframe { track: id, layer });
        }
    }
}
