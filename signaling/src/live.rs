//! Who is in each stored room's call now, as the signaling side knows them: each call
//! participant's identity, name, role and when they joined. The media server knows the same
//! people by participant id only; the organiser's "now" card (`GET /rooms/{id}/live`) puts
//! the two together. An entry lives exactly as long as its call: dropping the [`Entry`] (at
//! the leave, or when the connection ends any way at all) removes it.

use std::collections::HashMap;
use std::sync::Arc;

use dashmap::DashMap;

/// One person in a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attendee {
    /// `member:<id>` or `guest:<device>`.
    pub identity: String,
    pub name: String,
    pub host: bool,
    /// Unix milliseconds.
    pub joined_at: i64,
}

/// Everyone in the stored rooms' calls, by room id, then by participant id.
#[derive(Debug, Default)]
pub struct Directory {
    rooms: DashMap<String, HashMap<String, Attendee>>,
}

/// A participant's place in the directory; dropping it takes them out.
#[derive(Debug)]
pub struct Entry {
    directory: Arc<Directory>,
    room_id: String,
    participant_id: String,
}

impl Directory {
    pub fn new() -> Arc<Directory> {
        Arc::new(Directory::default())
    }

    /// Puts a participant who joined the call of `room_id` in the directory.
    pub fn enter(
        self: &Arc<Self>,
        room_id: &str,
        participant_id: &str,
        attendee: Attendee,
    ) -> Entry {
        self.rooms
            .entry(room_id.to_owned())
            .or_default()
            .insert(participant_id.to_owned(), attendee);
        Entry {
            directory: Arc::clone(self),
            room_id: room_id.to_owned(),
            participant_id: participant_id.to_owned(),
        }
    }

    /// Who is in the call of `room_id`, by participant id.
    pub fn in_room(&self, room_id: &str) -> HashMap<String, Attendee> {
        self.rooms
            .get(room_id)
            .map(|r| r.value().clone())
            .unwrap_or_default()
    }

    /// Rooms with someone in their call.
    pub fn rooms(&self) -> usize {
        self.rooms.len()
    }
}

impl Drop for Entry {
    fn drop(&mut self) {
        // The room's map goes with its last participant, so an idle server keeps nothing.
        self.directory
            .rooms
            .remove_if_mut(&self.room_id, |_, people| {
                people.remove(&self.participant_id);
                people.is_empty()
            });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn someone(name: &str) -> Attendee {
        Attendee {
            identity: format!("guest:{name}-device"),
            name: name.into(),
            host: false,
            joined_at: 1,
        }
    }

    #[test]
    fn entries_last_as_long_as_their_calls() {
        let d = Directory::new();
        let ada = d.enter("room1", "p1", someone("ada"));
        let ben = d.enter("room1", "p2", someone("ben"));
        let cy = d.enter("room2", "p3", someone("cy"));
        assert_eq!(d.in_room("room1").len(), 2);
        assert_eq!(d.in_room("room1")["p2"].name, "ben");
        drop(ben);
        assert_eq!(d.in_room("room1").keys().collect::<Vec<_>>(), ["p1"]);
        drop(ada);
        assert!(d.in_room("room1").is_empty());
        assert_eq!(d.rooms(), 1, "an empty room is not kept");
        drop(cy);
        assert_eq!(d.rooms(), 0);
    }
}
