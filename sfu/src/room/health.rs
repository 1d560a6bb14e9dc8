//! What a room publishes about itself once a second, and its snapshot: participants' bitrates,
//! recent loss, and the core's drop counts turned into the node's counters.

use std::sync::atomic::Ordering;
use std::time::Duration;

use protocol::ParticipantInfo;

use super::{Room, now};
use crate::{Receiving, RoomSnapshot};

/// How often a room samples its participants' bitrates and publishes its counts.
pub(crate) const TICK: Duration = Duration::from_secs(1);
/// Ticks of RTCP totals kept for the room's recent loss.
const LOSS_TICKS: usize = 10;

impl Room {
    /// Once a second: bitrates sampled, counts published, and members whose session ended
    /// without its leave reaching the room removed.
    pub(crate) fn tick(&mut self, conns: &mut crate::engine::conns::Conns) {
        let _entered = self.span.clone().entered();
        let gone: Vec<_> = self
            .members
            .iter()
            .filter(|(_, m)| m.gone.load(Ordering::Relaxed))
            .map(|(id, _)| *id)
            .collect();
        for id in gone {
            self.leave(id, conns);
        }
        self.settle(conns);
        let at = now();
        for m in self.members.values() {
            m.links.sample(at);
            if let Some(estimate) = m.links.subscribe.estimate() {
                self.meters.observe_estimate(estimate);
            }
        }
        self.publish_core_drops();
        let totals = (
            self.meters.rtcp_lost.load(Ordering::Relaxed),
            self.meters.rtcp_expected.load(Ordering::Relaxed),
        );
        if self.loss_window.len() > LOSS_TICKS {
            self.loss_window.pop_front();
        }
        self.loss_window.push_back(totals);
    }

    /// Packets lost over packets expected, over the ticks kept; none when nothing was expected.
    pub(super) fn recent_loss(&self) -> Option<f64> {
        let (first, last) = (self.loss_window.front()?, self.loss_window.back()?);
        let expected = last.1.saturating_sub(first.1);
        let lost = last.0.saturating_sub(first.0);
        (expected > 0).then(|| lost as f64 / expected as f64)
    }

    /// Copies the core's drop counts into the room's meters and adds what is new since the
    /// last copy (what the meters held) to the node's counters.
    pub(super) fn publish_core_drops(&self) {
        let stats = self.core.stats();
        let c = &self.registry.counters;
        for (total, room, node) in [
            (
                stats.dropped_no_route,
                &self.meters.dropped_no_route,
                &c.dropped_no_route,
            ),
            (
                stats.dropped_too_old,
                &self.meters.dropped_too_old,
                &c.dropped_too_old,
            ),
        ] {
            let was = room.swap(total, Ordering::Relaxed);
            node.fetch_add(total.saturating_sub(was), Ordering::Relaxed);
        }
        let m = &self.meters;
        let paused = i64::try_from(self.core.paused_subscriptions()).unwrap_or(i64::MAX);
        m.paused_subscriptions.store(paused, Ordering::Relaxed);
        m.layer_switches
            .store(stats.layer_switches, Ordering::Relaxed);
        let saved = stats
            .video_bytes_at_full
            .saturating_sub(stats.forwarded_bytes[1]);
        m.video_bytes_saved.store(saved, Ordering::Relaxed);
    }

    pub(super) fn snapshot(&self) -> RoomSnapshot {
        let mut participants: Vec<ParticipantInfo> = self
            .members
            .keys()
            .map(|id| self.participant_info(*id))
            .collect();
        participants.sort_by(|a, b| a.id.cmp(&b.id));
        let links = self
            .members
            .values()
            .map(|m| (m.wire_id.clone(), m.links.read()))
            .collect();
        let receiving = self
            .members
            .iter()
            .map(|(&id, m)| {
                let mut tracks: Vec<Receiving> = self
                    .core
                    .receptions(id)
                    .into_iter()
                    .filter_map(|r| {
                        let t = self.tracks.get(&r.track)?;
                        (t.info.kind == protocol::TrackKind::Video).then(|| Receiving {
                            track: t.info.id.clone(),
                            layer: r.current,
                            layers: r.layers,
                        })
                    })
                    .collect();
                tracks.sort_by(|a, b| a.track.cmp(&b.track));
                (m.wire_id.clone(), tracks)
            })
            .collect();
        RoomSnapshot {
            name: self.name.clone(),
            participants,
            links,
            capacity: self.meters.capacity.load(Ordering::Relaxed) as usize,
            loss: self.recent_loss(),
            subscriptions: self.core.subscription_count(),
            paused_subscriptions: self.core.paused_subscriptions(),
            stats: self.core.stats().clone(),
            speakers: self.wire_ids(&self.core.speakers()),
            receiving,
        }
    }
}
