//! The register of a term: every roster member by every meeting of a range, each mark the
//! host's override or the status the room's thresholds suggest, with totals per person; the
//! guests who came by the shared link listed apart. Free of HTTP and SQL: the API gathers the
//! meetings, the roster, who came and the overrides, and this puts them together.

use super::{Presence, Status, Summary, Thresholds, summarise};

/// One meeting of the range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Meeting {
    /// The name attendance is kept under ([`crate::schedule::meeting_name`]).
    pub name: String,
    /// Unix milliseconds.
    pub start: i64,
    pub end: i64,
    /// On the schedule (otherwise a session held in a room without one, or off it).
    pub scheduled: bool,
    /// Over: its marks count in the totals. A meeting under way does not count yet.
    pub over: bool,
}

impl Meeting {
    /// A meeting of the schedule, `[start, end)`.
    pub fn scheduled(name: String, start: i64, end: i64, now: i64) -> Meeting {
        Meeting {
            name,
            start,
            end,
            scheduled: true,
            over: end <= now,
        }
    }

    /// A session off the schedule: it lasts from its start to its last leave, and is over
    /// once nobody is in it (`open`: someone's stretch is still open).
    pub fn session(name: String, start: i64, came: &[Presence], open: bool) -> Meeting {
        let last = came
            .iter()
            .flat_map(|p| p.intervals.iter().map(|i| i.end))
            .max()
            .unwrap_or(start);
        Meeting {
            name,
            start,
            end: last.max(start + 1),
            scheduled: false,
            over: !open,
        }
    }
}

/// A host's word on one mark.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostMark {
    pub status: Status,
    pub note: String,
    /// The host's identity, or `key:<id>` for an organiser's key.
    pub set_by: String,
    pub set_at: i64,
}

/// One person's mark in one meeting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mark {
    /// The host's, if there is one, otherwise `suggested`.
    pub status: Status,
    /// By the room's thresholds.
    pub suggested: Status,
    pub host: Option<HostMark>,
    pub summary: Summary,
    /// Talk time, in milliseconds (0 where the room does not keep it).
    pub talk_ms: i64,
}

/// The mark of someone who came as `came` (or not at all) to `meeting`, at `now`.
pub fn mark(
    meeting: &Meeting,
    now: i64,
    came: Option<&Presence>,
    host: Option<HostMark>,
    t: Thresholds,
) -> Mark {
    let intervals = came.map_or(&[][..], |p| p.intervals.as_slice());
    let summary = summarise(meeting.start, meeting.end, now, intervals, t);
    Mark {
        status: host.as_ref().map_or(summary.status, |h| h.status),
        suggested: summary.status,
        host,
        talk_ms: came.map_or(0, |p| p.talk_ms),
        summary,
    }
}

/// One person's totals over the meetings that are over.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    /// Meetings of the range that are over.
    pub held: u32,
    /// Present or late.
    pub attended: u32,
    pub late: u32,
    pub excused: u32,
    pub absent: u32,
    pub present_ms: i64,
    pub talk_ms: i64,
}

/// One person's line of the register.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub identity: String,
    pub name: String,
    /// One per meeting. A member has a mark in each; a guest only where they came or a host
    /// marked them.
    pub marks: Vec<Option<Mark>>,
    pub totals: Totals,
}

/// What one meeting of the range brought: who came, and the hosts' marks by identity.
#[derive(Debug, Clone, Default)]
pub struct Kept {
    pub came: Vec<Presence>,
    pub hosts: Vec<(String, HostMark)>,
}

/// The register: the roster's lines in its order, then the guests' by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Register {
    pub members: Vec<Line>,
    pub guests: Vec<Line>,
}

/// Puts the register together. `kept` has one entry per meeting, in the same order;
/// `roster` is each member's identity and name.
pub fn build(
    meetings: &[Meeting],
    kept: &[Kept],
    roster: &[(String, String)],
    now: i64,
    t: Thresholds,
) -> Register {
    let held = u32::try_from(meetings.iter().filter(|m| m.over).count()).unwrap_or(u32::MAX);
    let line = |identity: &str, name: &str, member: bool| {
        let mut totals = Totals {
            held,
            ..Totals::default()
        };
        let marks: Vec<Option<Mark>> = meetings
            .iter()
            .zip(kept.iter().chain(std::iter::repeat(&Kept::default())))
            .map(|(m, k)| {
                let came = k.came.iter().find(|p| p.identity == identity);
                let host = k
                    .hosts
                    .iter()
                    .find(|(who, _)| who == identity)
                    .map(|(_, h)| h.clone());
                if !member && came.is_none() && host.is_none() {
                    return None;
                }
                let mark = mark(m, now, came, host, t);
                if m.over {
                    match mark.status {
                        Status::Present => totals.attended += 1,
                        Status::Late => {
                            totals.attended += 1;
                            totals.late += 1;
                        }
                        Status::Excused => totals.excused += 1,
                        Status::Absent => totals.absent += 1,
                    }
                    totals.present_ms += mark.summary.present_ms;
                    totals.talk_ms += mark.talk_ms;
                }
                Some(mark)
            })
            .collect();
        Line {
            identity: identity.to_owned(),
            name: name.to_owned(),
            marks,
            totals,
        }
    };
    let members: Vec<Line> = roster
        .iter()
        .map(|(identity, name)| line(identity, name, true))
        .collect();
    // A guest's name is the one they used last.
    let mut guests: Vec<(String, String)> = Vec::new();
    for k in kept {
        for p in &k.came {
            if roster.iter().any(|(id, _)| id == &p.identity) {
                continue;
            }
            match guests.iter_mut().find(|(id, _)| id == &p.identity) {
                Some(g) => g.1.clone_from(&p.name),
                None => guests.push((p.identity.clone(), p.name.clone())),
            }
        }
    }
    guests.sort_by(|a, b| {
        a.1.to_lowercase()
            .cmp(&b.1.to_lowercase())
            .then(a.0.cmp(&b.0))
    });
    let guests = guests
        .iter()
        .map(|(identity, name)| line(identity, name, false))
        .collect();
    Register { members, guests }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attendance::Interval;

    const M: i64 = 60_000;

    fn came(identity: &str, name: &str, from: i64, to: i64) -> Presence {
        Presence {
            identity: identity.into(),
            name: name.into(),
            intervals: vec![Interval {
                start: from * M,
                end: to * M,
            }],
            talk_ms: 30_000,
        }
    }

    fn roster() -> Vec<(String, String)> {
        ["ada", "ben", "cy"]
            .iter()
            .map(|n| (format!("member:{n}"), n.to_uppercase()))
            .collect()
    }

    #[test]
    fn members_are_marked_in_every_meeting_and_guests_only_where_they_came() {
        let now = 1000 * M;
        let meetings = vec![
            Meeting::scheduled("m1".into(), 0, 60 * M, now),
            Meeting::scheduled("m2".into(), 100 * M, 160 * M, now),
            // Under way: shown, not counted.
            Meeting::scheduled("m3".into(), 990 * M, 1050 * M, now),
        ];
        let excused = HostMark {
            status: Status::Excused,
            note: "ill, told us".into(),
            set_by: "key:k".into(),
            set_at: 5,
        };
        let kept = vec![
            Kept {
                came: vec![
                    came("member:ada", "Ada", 0, 60),
                    came("member:ben", "Ben", 20, 60),
                    came("guest:g1", "Visitor", 0, 30),
                ],
                hosts: vec![("member:cy".into(), excused.clone())],
            },
            Kept {
                came: vec![
                    came("member:ada", "Ada", 100, 160),
                    came("guest:g1", "Visiting Parent", 100, 110),
                ],
                hosts: vec![],
            },
            Kept {
                came: vec![came("member:ada", "Ada", 990, 1000)],
                hosts: vec![],
            },
        ];
        let r = build(&meetings, &kept, &roster(), now, Thresholds::default());
        let statuses = |l: &Line| {
            l.marks
                .iter()
                .map(|m| m.as_ref().map(|m| m.status))
                .collect::<Vec<_>>()
        };
        let [ada, ben, cy] = &r.members[..] else {
            panic!("three members: {r:?}")
        };
        assert_eq!(
            statuses(ada),
            [
                Some(Status::Present),
                Some(Status::Present),
                Some(Status::Present)
            ]
        );
        assert_eq!(
            (ada.totals.held, ada.totals.attended, ada.totals.present_ms),
            (2, 2, 120 * M),
            "the meeting under way is not counted yet"
        );
        assert_eq!(ada.totals.talk_ms, 60_000);
        assert_eq!(
            statuses(ben),
            [
                Some(Status::Late),
                Some(Status::Absent),
                Some(Status::Absent)
            ]
        );
        assert_eq!(
            (ben.totals.attended, ben.totals.late, ben.totals.absent),
            (1, 1, 1)
        );
        let cy_first = cy.marks[0].as_ref().expect("members have every mark");
        assert_eq!(
            (cy_first.status, cy_first.suggested),
            (Status::Excused, Status::Absent)
        );
        assert_eq!(
            cy_first.host.as_ref().map(|h| h.note.as_str()),
            Some("ill, told us")
        );
        assert_eq!((cy.totals.excused, cy.totals.absent), (1, 1));
        let [guest] = &r.guests[..] else {
            panic!("one guest: {:?}", r.guests)
        };
        assert_eq!(guest.name, "Visiting Parent", "the name used last");
        assert_eq!(
            statuses(guest),
            [Some(Status::Present), Some(Status::Absent), None],
            "a guest is marked only where they came"
        );
        assert_eq!((guest.totals.held, guest.totals.attended), (2, 1));
    }

    #[test]
    fn a_session_off_the_schedule_lasts_to_its_last_leave() {
        let people = [came("guest:a", "A", 10, 40), came("guest:b", "B", 12, 55)];
        let s = Meeting::session("s".into(), 10 * M, &people, false);
        assert_eq!((s.end, s.over, s.scheduled), (55 * M, true, false));
        let open = Meeting::session("s".into(), 10 * M, &people, true);
        assert!(!open.over, "someone is still in it");
        let empty = Meeting::session("e".into(), 10 * M, &[], false);
        assert!(empty.end > empty.start);
    }

    #[test]
    fn an_empty_range_is_an_empty_register() {
        let r = build(&[], &[], &roster(), 0, Thresholds::default());
        assert_eq!(r.members.len(), 3);
        assert!(
            r.members
                .iter()
                .all(|l| l.marks.is_empty() && l.totals == Totals::default())
        );
        assert!(r.guests.is_empty());
    }
}
