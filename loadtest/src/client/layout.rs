//! What a synthetic subscriber shows, told to the server as a browser's grid tells it
//! (`layout`): one publisher on the stage, a number of others as thumbnails, the rest hidden.
//! The server then sends the stage's videos at their top layer, thumbnails at a low one, and
//! hidden ones nothing.

use std::sync::Arc;
use std::time::Duration;

use protocol::{ClientMessage, TrackKind, TrackView};
use tokio::sync::{mpsc, watch};

use super::{Shared, received_of};

/// A subscriber's grid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayoutPlan {
    /// The publisher (by its client index) whose videos are shown large, if any.
    pub stage: Option<u32>,
    /// At most this many other videos are shown, as thumbnails; the rest are hidden.
    pub thumbnails: usize,
}

/// Rendered sizes, in device pixels, of a stage and of a thumbnail.
pub const STAGE: (u32, u32) = (1280, 720);
pub const THUMBNAIL: (u32, u32) = (320, 180);

/// How often the subscriber looks at what it receives and tells any change.
const EVERY: Duration = Duration::from_millis(500);

/// The views of `videos` (track id and, once a packet told it, the publisher's index), in the
/// order given: the stage's first, then thumbnails while there are any left, then hidden.
pub fn views(plan: &LayoutPlan, videos: &[(String, Option<u32>)]) -> Vec<TrackView> {
    let mut thumbnails = plan.thumbnails;
    videos
        .iter()
        .map(|(track_id, publisher)| {
            let on_stage = plan.stage.is_some() && *publisher == plan.stage;
            let (visible, (width, height)) = if on_stage {
                (true, STAGE)
            } else if thumbnails > 0 {
                thumbnails -= 1;
                (true, THUMBNAIL)
            } else {
                (false, (0, 0))
            };
            TrackView {
                track_id: track_id.clone(),
                visible,
                width,
                height,
            }
        })
        .collect()
}

/// Tells the server the plan's layout whenever what the client receives changes it, until
/// `stop`.
pub(crate) async fn keep_told(
    plan: LayoutPlan,
    shared: Arc<Shared>,
    out: mpsc::Sender<ClientMessage>,
    mut stop: watch::Receiver<bool>,
) {
    let mut told: Vec<TrackView> = Vec::new();
    loop {
        let mut videos: Vec<(String, Option<u32>)> = received_of(&shared)
            .into_iter()
            .filter(|t| t.kind == TrackKind::Video)
            .map(|t| (t.track_id, t.publisher_index))
            .collect();
        // The stage's first, then in the order of the publishers' indexes (a stable grid).
        videos.sort_by_key(|(id, p)| (*p != plan.stage || plan.stage.is_none(), *p, id.clone()));
        let tracks = views(&plan, &videos);
        if !tracks.is_empty() && tracks != told {
            if out
                .send(ClientMessage::Layout {
                    tracks: tracks.clone(),
                })
                .await
                .is_err()
            {
                return;
            }
            told = tracks;
        }
        tokio::select! {
            _ = tokio::time::sleep(EVERY) => {}
            _ = stop.changed() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(id: &str, p: Option<u32>) -> (String, Option<u32>) {
        (id.to_owned(), p)
    }

    #[test]
    fn the_stage_is_large_thumbnails_small_and_the_rest_hidden() {
        let plan = LayoutPlan {
            stage: Some(1),
            thumbnails: 2,
        };
        let got = views(
            &plan,
            &[
                v("t", Some(1)),
                v("a", Some(2)),
                v("b", None),
                v("c", Some(4)),
            ],
        );
        let sizes: Vec<(bool, u32)> = got.iter().map(|t| (t.visible, t.width)).collect();
        assert_eq!(
            sizes,
            vec![(true, 1280), (true, 320), (true, 320), (false, 0)]
        );
    }

    #[test]
    fn without_a_stage_everyone_is_a_thumbnail() {
        let plan = LayoutPlan {
            stage: None,
            thumbnails: 16,
        };
        let got = views(&plan, &[v("a", None), v("b", Some(3))]);
        assert!(got.iter().all(|t| t.visible && t.width == 320));
    }
}
