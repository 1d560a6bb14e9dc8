//! The live side of stored rooms: everyone listening to a room (its home page, its call), and
//! the rate at which each person may post.
//!
//! Each room with a listener has a broadcast channel. An event is serialised once and shared by
//! every listener, so a message to fifty people costs one `serde_json` call. A listener that
//! falls more than [`BACKLOG`] events behind is told so ([`Listener::next`] says `Lagged`), and
//! its connection closes: the client reconnects and reads the history afresh, so nothing is
//! silently skipped. A room's channel is dropped with its last listener.

use std::num::NonZeroU32;
use std::sync::Arc;

use dashmap::DashMap;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use protocol::ServerMessage;
use tokio::sync::broadcast;

/// Events a listener may be behind by before it is cut off.
pub const BACKLOG: usize = 256;

/// What a room's listeners are told.
#[derive(Debug, Clone)]
pub enum Event {
    /// A server message for every listener, as JSON text.
    Send(Arc<str>),
    /// Links stopped working: the connections holding them close.
    Revoked(Revoked),
}

/// Whose links stopped working.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Revoked {
    /// One member's personal links.
    Identity(String),
    /// Every link of the room (its key was rotated, or the room deleted).
    All,
}

impl Revoked {
    /// Whether a connection of `identity` holds a link this revoked.
    pub fn covers(&self, identity: &str) -> bool {
        match self {
            Revoked::All => true,
            Revoked::Identity(who) => who == identity,
        }
    }
}

/// What a listener's wait for the next event ended with.
#[derive(Debug)]
pub enum Next {
    Event(Event),
    /// The listener fell behind and missed events.
    Lagged,
}

/// The rooms' live channels and the posting rate per person.
pub struct Hub {
    rooms: DashMap<String, broadcast::Sender<Event>>,
    posts: Option<DefaultKeyedRateLimiter<String>>,
}

impl Hub {
    /// A hub letting each person post `per_minute` chat messages a minute, in bursts of
    /// `burst`; `per_minute == 0` turns the limit off.
    pub fn new(per_minute: u32, burst: u32) -> Arc<Hub> {
        let posts = NonZeroU32::new(per_minute).map(|rate| {
            let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
            RateLimiter::keyed(Quota::per_minute(rate).allow_burst(burst))
        });
        Arc::new(Hub {
            rooms: DashMap::new(),
            posts,
        })
    }

    /// Starts listening to the room `room_id`.
    pub fn listen(self: &Arc<Self>, room_id: &str) -> Listener {
        let rx = self
            .rooms
            .entry(room_id.to_owned())
            .or_insert_with(|| broadcast::channel(BACKLOG).0)
            .subscribe();
        Listener {
            hub: self.clone(),
            room_id: room_id.to_owned(),
            rx: Some(rx),
        }
    }

    /// Sends `msg` to everyone listening to `room_id`.
    pub fn publish(&self, room_id: &str, msg: &ServerMessage) {
        // Invariant: server messages hold only strings, numbers, bools and lists of them,
        // which always serialise.
        let text = serde_json::to_string(msg).expect("server messages serialise");
        self.send(room_id, Event::Send(text.into()));
    }

    /// Closes the connections holding links that `revoked` names.
    pub fn revoke(&self, room_id: &str, revoked: Revoked) {
        self.send(room_id, Event::Revoked(revoked));
    }

    fn send(&self, room_id: &str, event: Event) {
        if let Some(tx) = self.rooms.get(room_id) {
            // An error means nobody listens any more; nothing is lost that anyone awaited.
            let _ = tx.send(event);
        }
    }

    /// How many connections listen to `room_id`.
    pub fn listeners(&self, room_id: &str) -> usize {
        self.rooms.get(room_id).map_or(0, |tx| tx.receiver_count())
    }

    /// Takes one post from `identity`'s allowance in `room_id`; `Err` holds the seconds until
    /// the next is allowed.
    pub fn allow_post(&self, room_id: &str, identity: &str) -> Result<(), u64> {
        let Some(posts) = &self.posts else {
            return Ok(());
        };
        posts
            .check_key(&format!("{room_id} {identity}"))
            .map_err(|not_until| {
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                wait.as_secs() + 1
            })
    }

    /// Forgets the allowances of people who have not posted lately.
    pub fn forget_quiet(&self) {
        if let Some(posts) = &self.posts {
            posts.retain_recent();
        }
    }
}

/// One connection listening to a room; dropping it stops listening.
pub struct Listener {
    hub: Arc<Hub>,
    room_id: String,
    rx: Option<broadcast::Receiver<Event>>,
}

impl Listener {
    /// The next event. Pending for ever once the hub has dropped the room (never while this
    /// listener holds it).
    pub async fn next(&mut self) -> Next {
        let Some(rx) = self.rx.as_mut() else {
            return std::future::pending().await;
        };
        match rx.recv().await {
            Ok(event) => Next::Event(event),
            Err(broadcast::error::RecvError::Lagged(_)) => Next::Lagged,
            // The sender lives in the hub for as long as a receiver does.
            Err(broadcast::error::RecvError::Closed) => std::future::pending().await,
        }
    }

    pub fn room_id(&self) -> &str {
        &self.room_id
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        drop(self.rx.take());
        // Under the map's shard lock, as `listen` is: a listener arriving now either finds the
        // channel before it is removed or makes a new one.
        self.hub
            .rooms
            .remove_if(&self.room_id, |_, tx| tx.receiver_count() == 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(next: Next) -> String {
        match next {
            Next::Event(Event::Send(t)) => t.to_string(),
            other => panic!("expected a message, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn every_listener_hears_and_the_last_one_out_drops_the_room() {
        let hub = Hub::new(0, 0);
        let mut a = hub.listen("r1");
        let mut b = hub.listen("r1");
        let _other = hub.listen("r2");
        assert_eq!(hub.listeners("r1"), 2);
        hub.publish("r1", &ServerMessage::Pong { ts: Some(7) });
        assert_eq!(text(a.next().await), r#"{"type":"pong","ts":7}"#);
        assert_eq!(text(b.next().await), r#"{"type":"pong","ts":7}"#);
        drop(a);
        assert_eq!(hub.listeners("r1"), 1);
        drop(b);
        assert_eq!(hub.listeners("r1"), 0);
        assert!(!hub.rooms.contains_key("r1"));
        assert!(hub.rooms.contains_key("r2"));
    }

    #[tokio::test]
    async fn a_listener_that_falls_behind_is_told() {
        let hub = Hub::new(0, 0);
        let mut slow = hub.listen("r");
        for i in 0..=BACKLOG as u64 {
            hub.publish("r", &ServerMessage::Pong { ts: Some(i) });
        }
        assert!(matches!(slow.next().await, Next::Lagged));
    }

    #[test]
    fn each_person_has_an_allowance_of_their_own() {
        let hub = Hub::new(60, 3);
        for _ in 0..3 {
            assert_eq!(hub.allow_post("r", "member:a"), Ok(()));
        }
        let wait = hub.allow_post("r", "member:a").unwrap_err();
        assert!((1..=2).contains(&wait), "{wait}");
        assert_eq!(hub.allow_post("r", "member:b"), Ok(()));
        assert_eq!(hub.allow_post("r2", "member:a"), Ok(()));
        let off = Hub::new(0, 0);
        for _ in 0..1000 {
            assert_eq!(off.allow_post("r", "member:a"), Ok(()));
        }
    }

    #[test]
    fn revocations_name_whom_they_cover() {
        assert!(Revoked::All.covers("guest:abcdefgh"));
        assert!(Revoked::Identity("member:a".into()).covers("member:a"));
        assert!(!Revoked::Identity("member:a".into()).covers("member:b"));
    }
}
