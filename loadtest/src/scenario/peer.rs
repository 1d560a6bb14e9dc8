//! One participant of a scenario, whichever server it talks to.

use std::time::Instant;

use protocol::TrackKind;

use crate::client::{Client, ClientConfig, ClientError, Totals, TrackRecv};
use crate::janus::{self, JanusClient};

use super::{Seat, Target};

/// Join times across participants, microseconds.
#[derive(Debug, Default)]
pub(crate) struct JoinTimes {
    /// To the first packet of any track. A server may forward video from a delta frame, which
    /// shows nothing, or hold it back until a keyframe (Cohort does): this alone does not
    /// compare servers.
    pub(crate) first_packet: Vec<u32>,
    /// To the first packet of each audio track: what a listener first hears.
    pub(crate) audio: Vec<u32>,
    /// To the first keyframe of each video track: the first picture a decoder can show.
    pub(crate) first_picture: Vec<u32>,
}

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

    /// Keyframe requests (PLI/FIR) this participant's publisher received, and keyframes it sent.
    pub(crate) fn keyframes(&self) -> (u64, u64) {
        match self {
            Peer::Cohort(c) => c.keyframes(),
            Peer::Janus(c) => c.keyframes(),
        }
    }

    pub(crate) fn received(&self) -> Vec<TrackRecv> {
        match self {
            Peer::Cohort(c) => c.received(),
            Peer::Janus(c) => c.received(),
        }
    }

    /// Join times of the remote tracks received, each from the join request (or from when this
    /// participant learnt of the track, if that was later); microseconds.
    pub(crate) fn join_times(&self, out: &mut JoinTimes) {
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
            let from = announced(&t).map_or(requested, |a| a.max(requested));
            let since = |at: Instant| {
                let us = at.saturating_duration_since(from).as_micros();
                us.min(u128::from(u32::MAX)) as u32
            };
            if let Some(first) = t.first_packet_at {
                out.first_packet.push(since(first));
                if t.kind == TrackKind::Audio {
                    out.audio.push(since(first));
                }
            }
            if let Some(key) = t.first_keyframe_at {
                out.first_picture.push(since(key));
            }
        }
    }

    pub(crate) async fn leave(self) {
        match self {
            Peer::Cohort(c) => c.leave().await,
            Peer::Janus(c) => c.leave().await,
        }
    }
}
