//! What each subscriber shows of its remote videos (`layout`), handed to the room's core.

use protocol::TrackView;
use sfu_core::{Input, ParticipantId, View};
use tracing::debug;

use super::{Room, now};

impl Room {
    /// `participant`'s layout, by the server's track ids. Ids the room does not know (a track
    /// that just ended) are passed over.
    pub(super) fn layout(&mut self, participant: ParticipantId, views: &[TrackView]) {
        let views: Vec<_> = views
            .iter()
            .filter_map(|v| {
                let found = self.tracks.iter().find(|(_, t)| t.info.id == v.track_id);
                if found.is_none() {
                    debug!(track = %v.track_id, "layout names an unknown track");
                }
                Some((*found?.0, view(v)))
            })
            .collect();
        if !views.is_empty() {
            self.core.handle_input(
                now(),
                Input::Layout {
                    subscriber: participant,
                    views,
                },
            );
        }
    }
}

fn view(v: &TrackView) -> View {
    match (v.visible, v.width, v.height) {
        (false, _, _) => View::Hidden,
        (true, 0, 0) => View::Unknown,
        (true, width, height) => View::Shown { width, height },
    }
}
