//! One participant of a scenario, whichever server it talks to.

use std::time::Instant;

use crate::client::{Client, ClientConfig, ClientError, Totals, TrackRecv};
use crate::janus::{self, JanusClient};

use super::{Seat, Target};

/// When a participant learnt of a remote track, if it knows.
type Announced<'a> = dyn Fn(&TrackRecv) -> Option<Instant> + 'a;

pub(crate) enum Peer {
    Cohort(Client),
    Janus(JanusClient),
}

impl Peer {
    pub(crate) async fn connect(
        target: Target,
        cfg: ClientConfig,
        seat: &Seat,
    ) -> Result<Peer, ClientError> {
        match target {
            Target::Cohort => Client::connect(cfg).await.map(Peer::Cohort),
            Target::Janus => JanusClient::connect(cfg, janus::ROOM_BASE + seat.number as u64)
                .await
                .map(Peer::Janus),
        }
    }

    pub(crate) fn totals(&self) -> Totals {
        match self {
            Peer::Cohort(c) => c.totals(),
            Peer::Janus(c) => c.totals(),
        }
    }

    pub(crate) fn received(&self) -> Vec<TrackRecv> {
        match self {
            Peer::Cohort(c) => c.received(),
            Peer::Janus(c) => c.received(),
        }
    }

    /// Join time of each remote track received: from the join request, or from when this
    /// participant learnt of the track if that was later, to its first packet; microseconds.
    pub(crate) fn join_times(&self, out: &mut Vec<u32>) {
        let (requested, announced): (Instant, Box<Announced<'_>>) = match self {
            Peer::Cohort(c) => {
                let map = c.announced_at();
                (
                    c.requested_at,
                    Box::new(move |t: &TrackRecv| map.get(&t.track_id).copied()),
                )
            }
            Peer::Janus(c) => (c.requested_at, Box::new(|t: &TrackRecv| c.announced_for(t))),
        };
        for t in self.received() {
            let Some(first) = t.first_packet_at else {
                continue;
            };
            let from = announced(&t).map_or(requested, |a| a.max(requested));
            let us = first.saturating_duration_since(from).as_micros();
            out.push(us.min(u128::from(u32::MAX)) as u32);
        }
    }

    pub(crate) async fn leave(self) {
        match self {
            Peer::Cohort(c) => c.leave().await,
            Peer::Janus(c) => c.leave().await,
        }
    }
}
