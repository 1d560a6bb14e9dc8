//! Who is speaking, and for how long: server-side active-speaker detection from the audio levels
//! publishers write into their packets (RFC 6464, `ssrc-audio-level`), and each participant's
//! talk time.
//!
//! Levels are grouped into fixed windows per participant. A window is *loud* when at least
//! [`SpeakerConfig::min_loud_percent`] of its packets are at [`SpeakerConfig::loud_level`] or
//! louder. Speaking starts after [`SpeakerConfig::attack`] loud windows in a row (a cough or a
//! click is not speech) and ends after [`SpeakerConfig::release`] quiet ones in a row (a pause
//! between sentences does not end it): hysteresis both ways. Talk time runs from the start of
//! the first loud window of a stretch to the end of its last loud window, so the attack is not
//! lost and the release is not added.
//!
//! No clock is read: every call takes the caller's `now`.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use crate::ParticipantId;

/// Tunables of speaker detection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpeakerConfig {
    /// A packet at this level or louder counts as voice. Levels are −dBov: 0 is the loudest,
    /// 127 silence.
    pub loud_level: u8,
    /// The share of a window's packets (percent) that must be loud for the window to be.
    pub min_loud_percent: u32,
    pub window: Duration,
    /// Loud windows in a row before someone counts as speaking.
    pub attack: u32,
    /// Quiet windows in a row before a speaker counts as silent again.
    pub release: u32,
}

impl Default for SpeakerConfig {
    fn default() -> Self {
        SpeakerConfig {
            loud_level: 40,
            min_loud_percent: 40,
            window: Duration::from_millis(250),
            attack: 2,
            release: 4,
        }
    }
}

/// A change for the room's owner to act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpeakerChange {
    /// Who is speaking now, loudest first.
    Active(Vec<ParticipantId>),
    /// A participant's talk time in the room so far.
    TalkTime(ParticipantId, Duration),
}

#[derive(Debug, Clone)]
struct Voice {
    window_start: Instant,
    packets: u32,
    loud: u32,
    loud_sum: u32,
    /// No packets and nothing under way: no timer until the next packet.
    idle: bool,
    /// Loud windows in a row (while not speaking), and when the first of them began.
    run: u32,
    run_start: Instant,
    quiet: u32,
    speaking: bool,
    /// The end of the latest loud window of the stretch under way.
    last_loud_end: Instant,
    /// The mean level of the latest loud window (lower is louder), to order speakers.
    loudness: u32,
    /// Talk time of the stretches already over.
    talked: Duration,
}

impl Voice {
    fn new(now: Instant) -> Voice {
        Voice {
            window_start: now,
            packets: 0,
            loud: 0,
            loud_sum: 0,
            idle: false,
            run: 0,
            run_start: now,
            quiet: 0,
            speaking: false,
            last_loud_end: now,
            loudness: u32::MAX,
            talked: Duration::ZERO,
        }
    }

    fn talk_time(&self) -> Duration {
        if self.speaking {
            self.talked + self.last_loud_end.saturating_duration_since(self.run_start)
        } else {
            self.talked
        }
    }

    /// Ends a stretch under way at its last loud window; true if one was.
    fn stop(&mut self) -> bool {
        let was = self.speaking;
        self.talked = self.talk_time();
        self.speaking = false;
        self.run = 0;
        self.quiet = 0;
        was
    }
}

/// One room's speaker detection.
#[derive(Debug)]
pub struct Speakers {
    config: SpeakerConfig,
    voices: BTreeMap<ParticipantId, Voice>,
    /// The speakers as last reported.
    active: Vec<ParticipantId>,
    talk_changed: BTreeSet<ParticipantId>,
}

impl Speakers {
    pub fn new(config: SpeakerConfig) -> Speakers {
        Speakers {
            config,
            voices: BTreeMap::new(),
            active: Vec::new(),
            talk_changed: BTreeSet::new(),
        }
    }

    /// One audio packet of `p`'s at `level` (−dBov; values over 127 count as silence).
    pub fn level(&mut self, now: Instant, p: ParticipantId, level: u8) {
        let voice = self.voices.entry(p).or_insert_with(|| Voice::new(now));
        if !voice.idle {
            roll(&self.config, voice, now, p, &mut self.talk_changed);
        }
        if voice.idle {
            voice.idle = false;
            // Back on the window grid: the window that holds `now`.
            let window = self.config.window.as_nanos().max(1);
            let behind = now.saturating_duration_since(voice.window_start).as_nanos() / window;
            let skip = u32::try_from(behind).unwrap_or(u32::MAX);
            voice.window_start += self.config.window.saturating_mul(skip);
        }
        voice.packets += 1;
        if level <= self.config.loud_level {
            voice.loud += 1;
            voice.loud_sum += u32::from(level);
        }
    }

    /// `p` is silent from now on, at once (muted, stopped publishing, or gone).
    pub fn silence(&mut self, p: ParticipantId) {
        if let Some(voice) = self.voices.get_mut(&p) {
            voice.stop();
            voice.packets = 0;
            voice.loud = 0;
            voice.loud_sum = 0;
            voice.idle = true;
        }
    }

    /// Forgets `p`, returning their talk time.
    pub fn remove(&mut self, p: ParticipantId) -> Duration {
        self.talk_changed.remove(&p);
        self.voices
            .remove(&p)
            .map_or(Duration::ZERO, |v| v.talk_time())
    }

    /// When [`Speakers::handle_timeout`] is due next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.voices
            .values()
            .filter(|v| !v.idle)
            .map(|v| v.window_start + self.config.window)
            .min()
    }

    /// Closes every window that has ended by `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        for (&p, voice) in self.voices.iter_mut().filter(|(_, v)| !v.idle) {
            roll(&self.config, voice, now, p, &mut self.talk_changed);
        }
    }

    /// `p`'s talk time in this room so far.
    pub fn talk_time(&self, p: ParticipantId) -> Duration {
        self.voices.get(&p).map_or(Duration::ZERO, Voice::talk_time)
    }

    /// Who is speaking now, loudest first.
    pub fn speaking(&self) -> Vec<ParticipantId> {
        let mut now: Vec<(&ParticipantId, &Voice)> =
            self.voices.iter().filter(|(_, v)| v.speaking).collect();
        now.sort_by_key(|(p, v)| (v.loudness, **p));
        now.into_iter().map(|(p, _)| *p).collect()
    }

    /// What changed since the last call: new talk times, then the speakers if their set
    /// changed (a new order of the same speakers is not a change).
    pub fn changes(&mut self) -> Vec<SpeakerChange> {
        let mut out: Vec<SpeakerChange> = std::mem::take(&mut self.talk_changed)
            .into_iter()
            .map(|p| SpeakerChange::TalkTime(p, self.talk_time(p)))
            .collect();
        let now = self.speaking();
        let same = now.len() == self.active.len() && now.iter().all(|p| self.active.contains(p));
        if !same {
            self.active = now.clone();
            out.push(SpeakerChange::Active(now));
        }
        out
    }
}

/// Closes `voice`'s windows that ended by `now`.
fn roll(
    c: &SpeakerConfig,
    voice: &mut Voice,
    now: Instant,
    p: ParticipantId,
    talk_changed: &mut BTreeSet<ParticipantId>,
) {
    while voice.window_start + c.window <= now {
        let start = voice.window_start;
        let end = start + c.window;
        voice.window_start = end;
        let loud = voice.packets > 0
            && voice.loud.saturating_mul(100) >= voice.packets.saturating_mul(c.min_loud_percent);
        if loud {
            voice.loudness = voice.loud_sum / voice.loud.max(1);
            voice.quiet = 0;
            if voice.speaking {
                voice.last_loud_end = end;
                talk_changed.insert(p);
            } else {
                if voice.run == 0 {
                    voice.run_start = start;
                }
                voice.run += 1;
                if voice.run >= c.attack {
                    voice.speaking = true;
                    voice.last_loud_end = end;
                    talk_changed.insert(p);
                }
            }
        } else {
            voice.quiet += 1;
            if !voice.speaking {
                voice.run = 0;
            } else if voice.quiet >= c.release {
                voice.stop();
            }
        }
        voice.packets = 0;
        voice.loud = 0;
        voice.loud_sum = 0;
        if !voice.speaking && voice.run == 0 {
            // Nothing under way: no timer until the next packet, so a long silence costs
            // neither wake-ups nor a loop over its windows.
            voice.idle = true;
            break;
        }
    }
}

#[cfg(test)]
mod tests;
