//! The per-packet path: one publisher's packet to each subscriber that receives its layer.

use std::time::Instant;

use super::{Room, Track};
use crate::rewriter::Rewrite;
use crate::{MediaKind, RtpMeta, TrackId};

impl<P: Clone + AsRef<[u8]>> Room<P> {
    pub(super) fn rtp(&mut self, now: Instant, id: TrackId, meta: RtpMeta, payload: P) {
        let Some(track) = self.tracks.get_mut(&id) else {
            self.stats.dropped_no_route += 1;
            return;
        };
        if usize::from(meta.layer) >= track.layers.len() {
            // A layer the publisher did not declare.
            self.stats.dropped_no_route += 1;
            return;
        }
        let kind = track.kind();
        let k = kind.index();
        self.stats.received_packets[k] += 1;
        let len = payload.as_ref().len();
        let simulcast = track.layers.len() > 1;
        let layer = &mut track.layers[usize::from(meta.layer)];
        if simulcast && !layer.live(now, self.config.layer_timeout) {
            // A layer (re)appeared: it may now be chosen.
            self.realloc_due = super::Due::All;
        }
        layer.packet(now, len);
        let keyframe = kind == MediaKind::Video && track.codec.is_keyframe_start(payload.as_ref());
        if keyframe {
            layer.keyframes.keyframe_received();
        }
        if let (MediaKind::Audio, Some(level), false) = (kind, meta.audio_level, track.muted) {
            self.speakers.level(now, track.publisher, level);
        }
        if track.muted {
            for rw in track.subs.iter_mut().filter_map(|s| s.rewriter.as_mut()) {
                rw.skip(&meta);
                self.stats.skipped_muted += 1;
            }
            return;
        }
        if len == 0 {
            // Padding only (bandwidth probes): nothing to decode, so nothing to send, and no gap.
            for rw in track.subs.iter_mut().filter_map(|s| s.rewriter.as_mut()) {
                rw.skip(&meta);
            }
            self.stats.skipped_padding += 1;
            return;
        }
        let top = kind == MediaKind::Video && is_top_flowing(track, meta.layer, now, &self.config);
        let mut ready = 0;
        let l = Some(meta.layer);
        for sub in track.subs.iter_mut() {
            let Some(rw) = sub.rewriter.as_mut() else {
                self.stats.skipped_not_ready += 1;
                continue;
            };
            if !sub.reachable {
                // Sent now, it would be lost; video starts at a keyframe asked for once the
                // path is up.
                rw.skip(&meta);
                self.stats.skipped_not_ready += 1;
                continue;
            }
            ready += 1;
            if sub.current != l {
                if sub.target == l && keyframe {
                    // The switch (or the start) waited for this.
                    if sub.current.is_some() {
                        self.stats.layer_switches += 1;
                    }
                    sub.current = l;
                } else {
                    // Not this subscriber's layer, or not yet: the rewriter notes the hold-back
                    // when it is the layer it last sent.
                    rw.skip(&meta);
                    if sub.target == l {
                        self.stats.skipped_waiting_keyframe += 1;
                    } else {
                        self.stats.skipped_other_layer += 1;
                    }
                    continue;
                }
            }
            match rw.rewrite(now, &meta) {
                Rewrite::Forward(header) => {
                    self.stats.forwarded_packets[k] += 1;
                    self.stats.forwarded_bytes[k] += len as u64;
                    if let Some(h) = sub.history.as_mut() {
                        h.record(now, header, meta.marker, &payload);
                    }
                    self.outputs.push_back(super::Output::Forward {
                        subscriber: sub.subscriber,
                        track: id,
                        kind,
                        header,
                        marker: meta.marker,
                        payload: payload.clone(),
                        retransmission: false,
                    });
                }
                Rewrite::TooOld => self.stats.dropped_too_old += 1,
            }
        }
        if top {
            self.stats.video_bytes_at_full += (len * ready) as u64;
        }
    }
}

/// `layer` is the highest of the track's layers that flows now: what every subscriber would
/// receive with no layer selection.
fn is_top_flowing<P>(
    track: &Track<P>,
    layer: u8,
    now: Instant,
    config: &super::RoomConfig,
) -> bool {
    track.layers[usize::from(layer) + 1..]
        .iter()
        .all(|l| !l.live(now, config.layer_timeout))
}
