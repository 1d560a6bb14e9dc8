//! Fitting one subscriber's tracks into what its link carries.
//!
//! The input is the subscriber's estimate (from send-side bandwidth estimation, or none yet) and,
//! for each track it receives, its priority, the cost of each layer that may be chosen, the
//! highest layer its view wants, and the layer it gets now. The output is one target per track:
//! a layer, or nothing (paused).
//!
//! - Audio is always sent, and its cost comes off the budget first.
//! - Then every shown video gets its lowest layer, in priority order (the screen share, then
//!   the active speakers, then the rest), as far as the budget goes: everyone visible gets a
//!   picture before anyone gets a sharp one.
//! - Then, in the same order, each is raised as far as its view wants and the budget allows.
//!
//! Hysteresis keeps layers from flapping when the estimate wobbles around a threshold:
//! - keeping or lowering a layer needs only the budget;
//! - raising one above what it gets now needs `headroom` to spare as well;
//! - after the budget forced a layer down, nothing is raised for the upgrade hold. This gives
//!   the estimator time to settle.
//!
//! And once the budget has forced a layer down, the subscriber is treated as on a congested link
//! for `cautious_for`: its estimate then comes from a link that carries only what it was sent,
//! so it climbs without knowing whether there is room (GCC here has no probing), and a raise is
//! the probe. So raises go one at a time: one track, one layer up (or a paused one back at its
//! lowest), then `step_interval` to see what the link made of it. A raise that the budget takes
//! back within `trial` has failed, and doubles the hold, up to `max_upgrade_hold`; a downgrade
//! that follows no raise sets it back to `upgrade_hold`. A link that is full stops being probed
//! every few seconds, and one that recovers is found again.

use std::time::{Duration, Instant};

use crate::TrackId;

/// The order in which a subscriber's videos are served (lower first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Priority {
    Screen,
    Speaker,
    Other,
}

/// Tunables of the allocator.
#[derive(Debug, Clone, Copy)]
pub struct AllocConfig {
    /// Raising a layer needs this fraction of the budget to spare (0.15 is 15%).
    pub headroom: f64,
    /// After a forced downgrade, no layer is raised for this long (at first).
    pub upgrade_hold: Duration,
    /// The longest the hold grows to after raises that failed.
    pub max_upgrade_hold: Duration,
    /// After a forced downgrade, raises go one at a time for this long.
    pub cautious_for: Duration,
    /// While cautious, the time between one raise and the next.
    pub step_interval: Duration,
    /// A raise taken back by the budget within this long failed.
    pub trial: Duration,
}

impl Default for AllocConfig {
    fn default() -> Self {
        AllocConfig {
            headroom: 0.15,
            upgrade_hold: Duration::from_secs(3),
            max_upgrade_hold: Duration::from_secs(30),
            cautious_for: Duration::from_secs(60),
            step_interval: Duration::from_secs(2),
            trial: Duration::from_secs(5),
        }
    }
}

/// One video track as the allocator sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub track: TrackId,
    pub priority: Priority,
    /// Cost of each layer in bits per second; `None` for a layer that may not be chosen.
    pub costs: Vec<Option<u64>>,
    /// The highest layer the view wants; `None` when hidden.
    pub cap: Option<u8>,
    /// The layer the subscriber receives now.
    pub current: Option<u8>,
}

impl Candidate {
    /// The layer this track gets with no budget limit: the highest eligible layer up to the
    /// cap, or, when none is, the lowest eligible one above it.
    fn wanted(&self) -> Option<u8> {
        let cap = usize::from(self.cap?);
        let eligible = |i: &usize| self.costs[*i].is_some();
        (0..self.costs.len().min(cap + 1))
            .rev()
            .find(eligible)
            .or_else(|| (cap + 1..self.costs.len()).find(eligible))
            .map(|i| i as u8)
    }

    fn cost(&self, layer: u8) -> u64 {
        self.costs
            .get(usize::from(layer))
            .copied()
            .flatten()
            .unwrap_or(0)
    }
}

/// The allocator's memory for one subscriber: when the budget last forced a layer down, when
/// a layer was last raised on trial (while cautious), and how long raises are held after a
/// forced downgrade now.
#[derive(Debug, Clone, Default)]
pub struct AllocState {
    last_forced_down: Option<Instant>,
    last_trial: Option<Instant>,
    /// `None`: the configured `upgrade_hold`.
    hold: Option<Duration>,
}

impl AllocState {
    /// How long raises are held after a forced downgrade, now.
    pub fn hold(&self, config: &AllocConfig) -> Duration {
        self.hold.unwrap_or(config.upgrade_hold)
    }
}

/// One allocation: the target of each candidate, in the order given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allocation {
    pub targets: Vec<(TrackId, Option<u8>)>,
    /// What the targets cost together, audio included, in bits per second.
    pub used: u64,
    /// What the targets would cost with no limit: what probing should look for.
    pub wanted: u64,
    /// Some track gets less than its view wants because of the budget.
    pub limited: bool,
}

/// Chooses the targets for one subscriber. `budget` is its estimate in bits per second, `None`
/// before there is one; `audio` is the cost of its audio tracks together.
pub fn allocate(
    config: &AllocConfig,
    state: &mut AllocState,
    now: Instant,
    budget: Option<u64>,
    audio: u64,
    candidates: &[Candidate],
) -> Allocation {
    let mut order: Vec<usize> = (0..candidates.len()).collect();
    order.sort_by_key(|&i| (candidates[i].priority, candidates[i].track));
    let wanted: Vec<Option<u8>> = candidates.iter().map(Candidate::wanted).collect();
    let wanted_total = audio
        + candidates
            .iter()
            .zip(&wanted)
            .filter_map(|(c, w)| w.map(|l| c.cost(l)))
            .sum::<u64>();
    let since = |t: Option<Instant>| t.map(|t| now.saturating_duration_since(t));
    let cautious =
        budget.is_some() && since(state.last_forced_down).is_some_and(|d| d < config.cautious_for);
    let budget = budget.unwrap_or(u64::MAX);
    let spare = (budget as f64 * (1.0 - config.headroom.clamp(0.0, 1.0))) as u64;
    let held = since(state.last_forced_down).is_some_and(|d| d < state.hold(config))
        || cautious && since(state.last_trial).is_some_and(|d| d < config.step_interval);
    // While cautious, the one track raised this time, once there is one.
    let mut raised: Option<TrackId> = None;
    // May `c` go to `layer`, with `used` already spent on the others?
    let fits = |c: &Candidate, layer: u8, used: u64, raised: Option<TrackId>| {
        let raise = c.current.is_none_or(|cur| layer > cur);
        if raise && held {
            return false;
        }
        if raise && cautious {
            // One track, one step: the next eligible layer above what it gets (a paused one
            // comes back at its lowest).
            let next = (c.current.map_or(0, |cur| cur + 1)..c.costs.len() as u8)
                .find(|&l| c.costs[usize::from(l)].is_some());
            if raised.is_some_and(|t| t != c.track) || Some(layer) != next {
                return false;
            }
        }
        let limit = if raise { spare } else { budget };
        used.saturating_add(c.cost(layer)) <= limit
    };

    let mut target: Vec<Option<u8>> = vec![None; candidates.len()];
    let mut used = audio;
    let is_raise = |c: &Candidate, l: u8| c.current.is_none_or(|cur| l > cur);
    // Everyone shown gets a picture first, then pictures get sharper.
    for &i in &order {
        let (c, Some(want)) = (&candidates[i], wanted[i]) else {
            continue;
        };
        let lowest = (0..=want).find(|&l| c.costs[usize::from(l)].is_some());
        if let Some(l) = lowest.filter(|&l| fits(c, l, used, raised)) {
            target[i] = Some(l);
            used += c.cost(l);
            if cautious && is_raise(c, l) {
                raised = Some(c.track);
            }
        }
    }
    for &i in &order {
        let (c, Some(from), Some(want)) = (&candidates[i], target[i], wanted[i]) else {
            continue;
        };
        let others = used - c.cost(from);
        let best = (from..=want)
            .rev()
            .find(|&l| c.costs[usize::from(l)].is_some() && fits(c, l, others, raised));
        if let Some(l) = best {
            target[i] = Some(l);
            used = others + c.cost(l);
            if cautious && is_raise(c, l) {
                raised = Some(c.track);
            }
        }
    }

    let limited = target.iter().zip(&wanted).any(|(t, w)| t != w);
    let forced_down = candidates
        .iter()
        .zip(&target)
        .zip(&wanted)
        .any(|((c, t), w)| match (c.current, *t) {
            // Lower than it was, though its view wants at least what it had.
            (Some(cur), t) => t.is_none_or(|t| t < cur) && w.is_some_and(|w| w >= cur),
            (None, _) => false,
        });
    if forced_down {
        // A raise the budget took back soon after failed: the link is full, so wait longer
        // before the next one.
        let failed = since(state.last_trial).is_some_and(|d| d < config.trial);
        let hold = state.hold(config);
        state.hold = Some(if failed {
            (hold * 2).min(config.max_upgrade_hold)
        } else {
            config.upgrade_hold
        });
        state.last_forced_down = Some(now);
        state.last_trial = None;
    } else if raised.is_some() {
        state.last_trial = Some(now);
    }
    Allocation {
        targets: candidates.iter().map(|c| c.track).zip(target).collect(),
        used,
        wanted: wanted_total,
        limited,
    }
}

#[cfg(test)]
mod tests;
