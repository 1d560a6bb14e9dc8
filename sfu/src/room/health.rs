//! What a room publishes about itself once a second, and its snapshot: participants' bitrates,
//! recent loss, and the core's drop counts turned into the node's counters.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::Duration;

use protocol::{ParticipantInfo, ParticipantQuality, Quality, ServerMessage};
use sfu_core::ParticipantId;
use sfu_core::grade::{Grade, Told, grade};

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
        self.tell_grades();
        let totals = (
            self.meters.rtcp_lost.load(Ordering::Relaxed),
            self.meters.rtcp_expected.load(Ordering::Relaxed),
        );
        if self.loss_window.len() > LOSS_TICKS {
            self.loss_window.pop_front();
        }
        self.loss_window.push_back(totals);
    }

    /// Each member's connection grades from their latest reports and their downlink's
    /// allocation. Everyone is good until told otherwise: when a grade changes, everyone is
    /// told them all; a newcomer is told them when any is not good.
    fn tell_grades(&mut self) {
        let mut told: HashMap<ParticipantId, (Told, Told)> = HashMap::new();
        let mut changed = false;
        let mut newcomers = Vec::new();
        for (&id, m) in &self.members {
            let links = m.links.read();
            let (mut up, mut down) = self.grades.get(&id).copied().unwrap_or_else(|| {
                newcomers.push(id);
                Default::default()
            });
            let was = (up.grade(), down.grade());
            up.update(grade(&links.publish.upstream, false));
            down.update(grade(
                &links.subscribe.downstream,
                self.core.link_limited(id),
            ));
            changed |= was != (up.grade(), down.grade());
            told.insert(id, (up, down));
        }
        self.grades = told;
        let all_good = (self.grades.values())
            .all(|(up, down)| up.grade() == Grade::Good && down.grade() == Grade::Good);
        if !changed && (all_good || newcomers.is_empty()) {
            return;
        }
        let mut participants: Vec<ParticipantQuality> = (self.grades.iter())
            .filter_map(|(id, (up, down))| {
                Some(ParticipantQuality {
                    participant_id: self.members.get(id)?.wire_id.clone(),
                    uplink: quality(up.grade()),
                    downlink: quality(down.grade()),
                })
            })
            .collect();
        participants.sort_by(|a, b| a.participant_id.cmp(&b.participant_id));
        let msg = ServerMessage::ConnectionQuality { participants };
        if changed {
            self.broadcast(None, msg);
        } else {
            for id in newcomers {
                if let Some(m) = self.members.get(&id) {
                    let _ = m.events.try_send(msg.clone());
                }
            }
        }
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

fn quality(g: Grade) -> Quality {
    match g {
        Grade::Good => Quality::Good,
        Grade::Fair => Quality::Fair,
        Grade::Poor => Quality::Poor,
    }
}
