//! Choosing each subscriber's layers, and telling publishers which layers anyone receives.
//!
//! Every allocation is redone from the room's state, never patched: after a view or an estimate
//! changes, a track comes or goes, the speakers change, a layer starts or stops flowing, and
//! every `realloc_interval` while the room has simulcast tracks or estimates (measured bitrates
//! move). The allocator itself is [`crate::allocator`]; this is the room's side of it.

use std::time::Instant;

use super::{Output, Room};
use crate::allocator::{AllocState, Candidate, Priority, allocate};
use crate::layers::{GUESSED_AUDIO_BITRATE, Source, View};
use crate::{ParticipantId, TrackId};

/// Whose allocations are to be redone.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) enum Due {
    #[default]
    Nothing,
    One(ParticipantId),
    All,
}

impl Due {
    pub(super) fn add(&mut self, p: ParticipantId) {
        *self = match *self {
            Due::Nothing => Due::One(p),
            Due::One(q) if q == p => Due::One(q),
            _ => Due::All,
        };
    }
}

/// What the room knows of one subscriber's downlink.
#[derive(Debug, Clone, Default)]
pub(super) struct Link {
    /// Its bandwidth estimate in bits per second, once there is one.
    pub(super) estimate: Option<u64>,
    pub(super) alloc: AllocState,
    /// Its latest allocation gave some video less than its view wants, for want of budget.
    pub(super) limited: bool,
}

/// One subscription's layers, as the admin view shows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reception {
    pub track: TrackId,
    /// The layer received now; `None` while paused or waiting for a keyframe.
    pub current: Option<u8>,
    /// The layer chosen; `None` when paused.
    pub target: Option<u8>,
    /// How many layers the track has.
    pub layers: u8,
}

impl<P: Clone + AsRef<[u8]>> Room<P> {
    /// `subscriber`'s subscription to `id`, if it has one.
    fn subscription_mut(
        &mut self,
        subscriber: ParticipantId,
        id: TrackId,
    ) -> Option<&mut super::Subscription<P>> {
        let track = self.tracks.get_mut(&id)?;
        track.subs.iter_mut().find(|s| s.subscriber == subscriber)
    }

    pub(super) fn layout(&mut self, subscriber: ParticipantId, views: &[(TrackId, View)]) {
        for &(id, view) in views {
            let Some(sub) = self.subscription_mut(subscriber, id) else {
                continue;
            };
            if sub.view != view {
                sub.view = view;
                self.realloc_due.add(subscriber);
            }
        }
    }

    pub(super) fn set_estimate(&mut self, subscriber: ParticipantId, bitrate: u64) {
        if !self.participants.contains(&subscriber) {
            return;
        }
        let link = self.links.entry(subscriber).or_default();
        if link.estimate != Some(bitrate) {
            link.estimate = Some(bitrate);
            self.realloc_due.add(subscriber);
        }
    }

    /// Redoes the allocation of `only` that subscriber, or of all, applies the targets that
    /// changed, and updates what publishers are asked to encode.
    pub(super) fn reallocate(&mut self, now: Instant, only: Option<ParticipantId>) {
        let speaking = self.speakers.speaking();
        let timeout = self.config.layer_timeout;
        let subscribers: Vec<ParticipantId> = match only {
            Some(p) => vec![p],
            None => self.links.keys().copied().collect(),
        };
        for subscriber in subscribers {
            let mut audio = 0;
            let mut candidates = Vec::new();
            for (&id, track) in &self.tracks {
                let Some(sub) = track
                    .subs
                    .iter()
                    .find(|s| s.subscriber == subscriber && s.rewriter.is_some())
                else {
                    continue;
                };
                if !track.codec.is_video() {
                    if !track.muted {
                        let measured = track.layers.first().and_then(|l| l.meter.rate());
                        audio += measured.unwrap_or(GUESSED_AUDIO_BITRATE);
                    }
                    continue;
                }
                if track.muted {
                    // Nothing flows to choose from; the choice waits for the unmute.
                    continue;
                }
                // A layer is judged by the track's latest packet, not by the clock: one that
                // stops while others flow has stopped on its own (a small camera, a starved
                // uplink) and is passed over, but when none flows the publisher is silent (a
                // network change, a restart), and the layers that flowed until then stay as
                // they were.
                let single = track.layers.len() == 1;
                let latest = track.layers.iter().filter_map(|l| l.last_packet).max();
                candidates.push(Candidate {
                    track: id,
                    priority: if track.source == Source::Screen {
                        Priority::Screen
                    } else if speaking.contains(&track.publisher) {
                        Priority::Speaker
                    } else {
                        Priority::Other
                    },
                    costs: (track.layers.iter().enumerate())
                        .map(|(i, l)| {
                            (single || l.eligible(now, latest, timeout)).then(|| l.cost(i))
                        })
                        .collect(),
                    cap: sub
                        .view
                        .cap(&track.layers.iter().map(|l| l.spec).collect::<Vec<_>>()),
                    current: sub.current,
                });
            }
            let Some(link) = self.links.get_mut(&subscriber) else {
                continue;
            };
            let a = allocate(
                &self.config.alloc,
                &mut link.alloc,
                now,
                link.estimate,
                audio,
                &candidates,
            );
            link.limited = a.limited;
            for (id, target) in a.targets {
                self.retarget(now, subscriber, id, target);
            }
        }
        self.update_demand(now);
        if only.is_none() || self.next_realloc.is_none() {
            let periodic = self.links.values().any(|l| l.estimate.is_some())
                || self.tracks.values().any(|t| t.layers.len() > 1);
            self.next_realloc = periodic.then(|| now + self.config.realloc_interval);
        }
    }

    /// Points one subscription at `target`. A new layer is switched to at its next keyframe,
    /// which is asked for; pausing stops the current layer at once.
    fn retarget(
        &mut self,
        now: Instant,
        subscriber: ParticipantId,
        id: TrackId,
        target: Option<u8>,
    ) {
        let Some(sub) = self.subscription_mut(subscriber, id) else {
            return;
        };
        if sub.target == target {
            return;
        }
        sub.target = target;
        match target {
            None => sub.current = None,
            Some(layer) if sub.current != target && sub.reachable => {
                self.request_keyframe(now, id, layer)
            }
            Some(_) => {}
        }
    }

    /// Dynacast: a simulcast layer nobody receives or waits for is paused at its publisher after
    /// `dynacast_delay`; one somebody wants again is resumed at once. The lowest layer stays
    /// encoded while anyone wants any layer: it is what a publisher whose uplink collapses (a
    /// network change) can still send at once, where a higher layer alone would stop until its
    /// estimate climbs back, and what every subscriber can fall back to.
    fn update_demand(&mut self, now: Instant) {
        let Some(delay) = self.config.dynacast_delay else {
            return;
        };
        let resume = self.config.layer_resume_timeout;
        for (&id, track) in self.tracks.iter_mut() {
            if track.layers.len() < 2 {
                continue;
            }
            let mut changed = false;
            let any = (track.subs.iter()).any(|s| s.target.is_some() || s.current.is_some());
            for (i, layer) in track.layers.iter_mut().enumerate() {
                let base = i == 0 && any;
                let i = Some(i as u8);
                let wanted = base || track.subs.iter().any(|s| s.target == i || s.current == i);
                if wanted {
                    layer.unwanted_since = None;
                    if layer.paused {
                        layer.paused = false;
                        layer.resume_by = Some(now + resume);
                        changed = true;
                    }
                } else {
                    let since = *layer.unwanted_since.get_or_insert(now);
                    // A layer that never flowed costs nothing to leave as it is (and stopping
                    // it would keep it from appearing when the camera grows).
                    let flowed = layer.last_packet.is_some();
                    if flowed && !layer.paused && now.saturating_duration_since(since) >= delay {
                        layer.paused = true;
                        changed = true;
                    }
                }
            }
            if changed {
                self.outputs.push_back(Output::PublisherLayers {
                    track: id,
                    active: track.layers.iter().map(|l| !l.paused).collect(),
                });
            }
        }
    }

    /// Whether `subscriber`'s link holds it back: its latest allocation gave some video less
    /// than its view wants, because the estimate had no room for more.
    pub fn link_limited(&self, subscriber: ParticipantId) -> bool {
        self.links.get(&subscriber).is_some_and(|l| l.limited)
    }

    /// Each of `subscriber`'s subscriptions: the layer it receives and the one chosen for it.
    pub fn receptions(&self, subscriber: ParticipantId) -> Vec<Reception> {
        self.tracks
            .iter()
            .filter_map(|(&track, t)| {
                let s = t.subs.iter().find(|s| s.subscriber == subscriber)?;
                Some(Reception {
                    track,
                    current: s.current,
                    target: s.target,
                    layers: t.layers.len() as u8,
                })
            })
            .collect()
    }

    /// Ready video subscriptions that receive nothing by choice (hidden, or no room in the
    /// link), not counting muted tracks.
    pub fn paused_subscriptions(&self) -> usize {
        self.tracks
            .values()
            .filter(|t| t.codec.is_video() && !t.muted)
            .flat_map(|t| &t.subs)
            .filter(|s| s.rewriter.is_some() && s.target.is_none())
            .count()
    }
}
