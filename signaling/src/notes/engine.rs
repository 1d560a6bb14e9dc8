//! One document in memory and its connections, speaking y-sync and awareness (the framing of
//! y-websocket: `[varuint type][payload]`) through yrs' own protocol types. Sans-IO: a frame
//! goes in with the connection it came from; what to send, keep and broadcast comes out.
//!
//! The server never relays a client's frame as it came. An edit is applied to the server's
//! document, and what the document itself reports as changed (`observe_update_v1`) is what is
//! kept and broadcast, to everyone but the connection it came from. So a client's sync step 2
//! never reaches another client as if it were the server's answer to that client's step 1.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::mpsc;

use yrs::block::ClientID;
use yrs::encoding::read::{Cursor, Read};
use yrs::sync::protocol::SyncMessage;
use yrs::sync::{Awareness, AwarenessUpdate, Message, MessageReader};
use yrs::updates::decoder::{Decode, DecoderV1};
use yrs::updates::encoder::Encode;
use yrs::{Doc, GetString, ReadTxn, StateVector, Text, Transact, Update};

use super::{Limits, TEXT, shape};

/// A connection, as numbered by the document's owner.
pub type ConnId = u64;

/// Why a frame ends its connection: a WebSocket close code and a reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fatal {
    pub code: u16,
    pub reason: &'static str,
}

const INVALID: u16 = 1007;
const POLICY: u16 = 1008;
const TOO_BIG: u16 = 1009;

/// What the engine asks its owner to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Out {
    /// Send this frame to that connection only.
    Reply(ConnId, Vec<u8>),
    /// Keep this update (yrs v1), then send `frame` to every connection but `origin`.
    Update {
        origin: Option<ConnId>,
        update: Vec<u8>,
        frame: Vec<u8>,
    },
    /// Send this frame to every connection but `except` (presence: not kept).
    Broadcast { except: ConnId, frame: Vec<u8> },
}

struct Conn {
    read_only: bool,
    /// The awareness clients this connection announced, removed when it leaves.
    clients: BTreeSet<ClientID>,
}

/// One open document.
pub struct Engine {
    awareness: Awareness,
    limits: Limits,
    conns: BTreeMap<ConnId, Conn>,
    /// The document's encoded size, as loaded plus every update since (an upper bound).
    size: usize,
    updates: mpsc::Receiver<Vec<u8>>,
    /// An update panicked yrs while applying: the document in memory cannot be trusted.
    poisoned: bool,
}

fn frame(msg: &Message) -> Vec<u8> {
    msg.encode_v1()
}

/// Presences (awareness clients) one connection may speak for: a page and its reloads.
const MAX_PRESENCES: u64 = 16;

/// How many clients a presence frame declares, read before yrs reads the frame: yrs reserves
/// room for what a frame declares, so a frame of a few bytes could make it reserve gigabytes.
fn declared_presences(bytes: &[u8]) -> Option<u64> {
    let mut c = Cursor::new(bytes);
    let tag: u8 = c.read_var().ok()?;
    if tag != yrs::sync::protocol::MSG_AWARENESS {
        return None;
    }
    let _len: usize = c.read_var().ok()?;
    c.read_var::<u64>().ok()
}

/// An auth-denied frame with its reason: the edit was refused, the connection stays.
pub fn denied(reason: &str) -> Vec<u8> {
    frame(&Message::Auth(Some(reason.to_owned())))
}

impl Engine {
    /// A document from its snapshot and the updates after it. An update that cannot be read is
    /// an error: a stored document is never loaded short.
    pub fn load(
        snapshot: Option<&[u8]>,
        tail: &[Vec<u8>],
        limits: Limits,
    ) -> Result<Engine, String> {
        let doc = Doc::new();
        doc.get_or_insert_text(TEXT);
        {
            let mut txn = doc.transact_mut();
            for u in snapshot.into_iter().chain(tail.iter().map(Vec::as_slice)) {
                let update = Update::decode_v1(u).map_err(|e| format!("a stored update: {e}"))?;
                txn.apply_update(update)
                    .map_err(|e| format!("a stored update: {e}"))?;
            }
        }
        let size = doc
            .transact()
            .encode_state_as_update_v1(&StateVector::default())
            .len();
        let (tx, updates) = mpsc::channel();
        doc.observe_update_v1("cohort", move |_, e| {
            // The receiver lives as long as the engine that holds the document.
            let _ = tx.send(e.update.clone());
        })
        .map_err(|e| format!("observing the document: {e}"))?;
        Ok(Engine {
            awareness: Awareness::new(doc),
            limits,
            conns: BTreeMap::new(),
            size,
            updates,
            poisoned: false,
        })
    }

    /// The document's text.
    pub fn text(&self) -> String {
        let doc = self.awareness.doc();
        let text = doc.get_or_insert_text(TEXT);
        text.get_string(&doc.transact())
    }

    /// Whether the document holds nothing yet.
    pub fn is_empty(&self) -> bool {
        self.awareness.doc().transact().state_vector() == StateVector::default()
    }

    /// The whole document, encoded (a snapshot).
    pub fn state(&self) -> Vec<u8> {
        self.awareness
            .doc()
            .transact()
            .encode_state_as_update_v1(&StateVector::default())
    }

    /// Whether the document in memory must be dropped and loaded again.
    pub fn poisoned(&self) -> bool {
        self.poisoned
    }

    pub fn connections(&self) -> usize {
        self.conns.len()
    }

    /// A connection opens: the server's sync step 1 (the client answers with what the server
    /// lacks), "read-only" to a reader, and everyone's presence. `Err` when the document holds all it may.
    pub fn connect(&mut self, conn: ConnId, read_only: bool) -> Result<Vec<Out>, Fatal> {
        if self.conns.len() >= self.limits.max_connections {
            return Err(Fatal {
                code: 1013,
                reason: "this document has as many people in it as it takes",
            });
        }
        self.conns.insert(
            conn,
            Conn {
                read_only,
                clients: BTreeSet::new(),
            },
        );
        let sv = self.awareness.doc().transact().state_vector();
        let mut out = vec![Out::Reply(
            conn,
            frame(&Message::Sync(SyncMessage::SyncStep1(sv))),
        )];
        // A reader is told at once, so that its page says so before anyone types.
        if read_only {
            out.push(Out::Reply(conn, denied("read-only")));
        }
        if let Ok(update) = self.awareness.update()
            && !update.clients.is_empty()
        {
            out.push(Out::Reply(conn, frame(&Message::Awareness(update))));
        }
        Ok(out)
    }

    /// A connection closes: its people leave the presence list.
    pub fn disconnect(&mut self, conn: ConnId) -> Vec<Out> {
        let Some(c) = self.conns.remove(&conn) else {
            return Vec::new();
        };
        for client in &c.clients {
            // As in `presence`: a hostile clock must not take the document down with it.
            let awareness = &mut self.awareness;
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                awareness.remove_state(*client)
            }));
        }
        match self
            .awareness
            .update_with_clients(c.clients.iter().copied())
        {
            Ok(update) if !c.clients.is_empty() => self
                .conns
                .keys()
                .map(|&to| Out::Reply(to, frame(&Message::Awareness(update.clone()))))
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Handles one frame from `conn`. `Err` ends that connection (and only it).
    pub fn handle(&mut self, conn: ConnId, bytes: &[u8]) -> Result<Vec<Out>, Fatal> {
        if bytes.len() > self.limits.max_frame_bytes {
            return Err(Fatal {
                code: TOO_BIG,
                reason: "frame too big",
            });
        }
        let Some(read_only) = self.conns.get(&conn).map(|c| c.read_only) else {
            return Ok(Vec::new());
        };
        if declared_presences(bytes).is_some_and(|n| n > MAX_PRESENCES) {
            return Err(Fatal {
                code: POLICY,
                reason: "too many presences on one connection",
            });
        }
        // One message a frame, as y-websocket sends them. yrs asserts on some hostile values
        // while reading (a client id over 53 bits, found by fuzzing): reading touches nothing,
        // so such a panic only refuses the frame.
        let read = std::panic::catch_unwind(|| {
            let mut decoder = DecoderV1::new(Cursor::new(bytes));
            MessageReader::new(&mut decoder).next()
        });
        let Ok(read) = read else {
            return Err(Fatal {
                code: INVALID,
                reason: "not a y-sync frame",
            });
        };
        let mut out = Vec::new();
        let mut any = false;
        if let Some(msg) = read {
            any = true;
            let msg = msg.map_err(|_| Fatal {
                code: INVALID,
                reason: "not a y-sync frame",
            })?;
            match msg {
                Message::Sync(SyncMessage::SyncStep1(sv)) => {
                    let diff = self
                        .awareness
                        .doc()
                        .transact()
                        .encode_state_as_update_v1(&sv);
                    out.push(Out::Reply(
                        conn,
                        frame(&Message::Sync(SyncMessage::SyncStep2(diff))),
                    ));
                }
                Message::Sync(SyncMessage::SyncStep2(u) | SyncMessage::Update(u)) => {
                    if read_only {
                        // A reader's step 2 answers the server's step 1 with nothing: not an
                        // edit, and not refused.
                        if !is_empty_update(&u) {
                            out.push(Out::Reply(conn, denied("read-only")));
                        }
                    } else if self.size.saturating_add(u.len()) > self.limits.max_doc_bytes {
                        out.push(Out::Reply(conn, denied("the document is full")));
                    } else {
                        out.extend(self.apply(Some(conn), &u)?);
                    }
                }
                Message::Awareness(update) => out.extend(self.presence(conn, update)?),
                Message::AwarenessQuery => {
                    if let Ok(update) = self.awareness.update() {
                        out.push(Out::Reply(conn, frame(&Message::Awareness(update))));
                    }
                }
                // Only the server says who may do what.
                Message::Auth(_) => {}
                Message::Custom(..) => {
                    return Err(Fatal {
                        code: INVALID,
                        reason: "unknown message type",
                    });
                }
            }
        }
        if !any {
            return Err(Fatal {
                code: INVALID,
                reason: "an empty frame",
            });
        }
        Ok(out)
    }

    /// Applies an update (a client's, or the server's own when `origin` is `None`) and returns
    /// what the document reports as changed, to keep and broadcast.
    pub fn apply(&mut self, origin: Option<ConnId>, u: &[u8]) -> Result<Vec<Out>, Fatal> {
        let bad = Fatal {
            code: INVALID,
            reason: "an update that cannot be read",
        };
        let doc = self.awareness.doc();
        let before = doc.transact().state_vector();
        // yrs trusts an update's structure while integrating it: a shape no synced client
        // sends is refused before yrs reads it (see `shape`).
        shape::check(u, Some(&before)).map_err(|why| Fatal {
            code: INVALID,
            reason: why.reason(),
        })?;
        // yrs can panic on hostile input (an integer overflow in a delete set was found by
        // fuzzing). Reading touches nothing, so a panic there only refuses the frame; one while
        // applying may have left the document half-changed, so it is dropped (`poisoned`) and
        // loaded again from the store, which holds only updates that applied.
        let decoded = std::panic::catch_unwind(|| Update::decode_v1(u));
        let update = match decoded {
            Ok(Ok(update)) => update,
            Ok(Err(_)) | Err(_) => return Err(bad),
        };
        let applied = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let mut txn = doc.transact_mut();
            txn.apply_update(update).map(|()| txn.has_missing_updates())
        }));
        match applied {
            Ok(Ok(false)) => {
                // What the document holds now beyond `before`, as yrs would send it to a
                // client that has `before`: it must read back.
                let doc = self.awareness.doc();
                let since = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    doc.transact().encode_state_as_update_v1(&before)
                }));
                let outs = self.changes(origin);
                if since.is_ok_and(|diff| reads_back(&diff))
                    && outs.iter().all(|o| match o {
                        Out::Update { update, .. } => reads_back(update),
                        _ => true,
                    })
                {
                    return Ok(outs);
                }
                // The document took in what it cannot give back (found by fuzzing: a skip
                // block at a client's start went into the document, in no update, and made its
                // state undecodable). Nothing of it is kept or sent: the document is dropped
                // and loaded again from the store.
                self.poisoned = true;
                Err(Fatal {
                    code: INVALID,
                    reason: "an update the server cannot keep as it applied",
                })
            }
            // An update that builds on edits the server does not have: a client that synced
            // never sends one (found by fuzzing: yrs keeps the rest pending, and one such
            // pending update made every later encoding of the document panic). What of it did
            // apply is not kept: the document is dropped and loaded again from the store.
            Ok(Ok(true)) => {
                self.poisoned = true;
                Err(Fatal {
                    code: INVALID,
                    reason: "an update that builds on edits the server does not have",
                })
            }
            Ok(Err(_)) => Err(bad),
            Err(_) => {
                self.poisoned = true;
                Err(Fatal {
                    code: 1011,
                    reason: "an update broke the document; it is loaded again",
                })
            }
        }
    }

    /// Writes `text` at the document's end as the server's own edit (a new minutes' template).
    pub fn append_text(&mut self, text: &str) -> Vec<Out> {
        {
            let doc = self.awareness.doc();
            let t = doc.get_or_insert_text(TEXT);
            let mut txn = doc.transact_mut();
            let end = t.len(&txn);
            t.insert(&mut txn, end, text);
        }
        self.changes(None)
    }

    fn changes(&mut self, origin: Option<ConnId>) -> Vec<Out> {
        let mut out = Vec::new();
        while let Ok(update) = self.updates.try_recv() {
            self.size = self.size.saturating_add(update.len());
            let frame = frame(&Message::Sync(SyncMessage::Update(update.clone())));
            out.push(Out::Update {
                origin,
                update,
                frame,
            });
        }
        out
    }

    fn presence(&mut self, conn: ConnId, update: AwarenessUpdate) -> Result<Vec<Out>, Fatal> {
        if let Some(c) = self.conns.get_mut(&conn) {
            // A connection speaks for a few clients at most (a page, its reloads).
            c.clients.extend(update.clients.keys().copied());
            if c.clients.len() > MAX_PRESENCES as usize {
                return Err(Fatal {
                    code: POLICY,
                    reason: "too many presences on one connection",
                });
            }
        }
        let frame = frame(&Message::Awareness(update.clone()));
        let bad = Fatal {
            code: INVALID,
            reason: "a presence update that cannot be read",
        };
        // yrs' clock arithmetic can overflow on a hostile clock (found by fuzzing).
        let awareness = &mut self.awareness;
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            awareness.apply_update(update)
        })) {
            Ok(Ok(())) => Ok(vec![Out::Broadcast {
                except: conn,
                frame,
            }]),
            Ok(Err(_)) | Err(_) => Err(bad),
        }
    }
}

/// Whether a v1 update decodes (yrs can panic while reading hostile bytes).
pub fn reads_back(u: &[u8]) -> bool {
    matches!(std::panic::catch_unwind(|| Update::decode_v1(u)), Ok(Ok(_)))
}

/// Whether a yjs v1 update changes nothing (no blocks, no deletions).
fn is_empty_update(u: &[u8]) -> bool {
    u == [0, 0]
        || (shape::check(u, None).is_ok()
            && matches!(std::panic::catch_unwind(|| Update::decode_v1(u)), Ok(Ok(x)) if x.is_empty()))
}

#[cfg(test)]
mod tests;
