//! The open documents: one task owns each, with its [`Engine`], and is its only writer. Every
//! update a client sends is applied, kept in the store, and only then sent to the others, so an
//! update anyone has seen survives a crash. The log is folded into a snapshot past
//! [`Limits::compact_after_updates`] or [`Limits::compact_after_bytes`]; a document nobody has
//! open is compacted and dropped from memory after [`Limits::unload_after`].

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use dashmap::DashMap;
use tokio::sync::{mpsc, oneshot};

use super::engine::{ConnId, Engine, Fatal, Out};
use super::{DocId, Limits, template};
use crate::error::AppError;
use crate::store::Store;

/// Frames queued toward one connection before it counts as stuck and is closed.
const CONN_QUEUE: usize = 256;
/// Frames from clients handled together, their updates kept in one transaction.
const BATCH_FRAMES: usize = 64;

/// What a connection is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToConn {
    /// Shared by every connection it goes to.
    Frame(bytes::Bytes),
    Close(u16, &'static str),
}

enum DocMsg {
    Join {
        conn: ConnId,
        read_only: bool,
        tx: mpsc::Sender<ToConn>,
        reply: oneshot::Sender<Result<(), Fatal>>,
    },
    Frame {
        conn: ConnId,
        bytes: Vec<u8>,
    },
    Leave {
        conn: ConnId,
    },
}

/// What a new minutes document is made from, gathered by the caller.
#[derive(Debug, Clone, Default)]
pub struct MinutesSeed {
    /// The meeting, as people read it ("Tuesday 3 March 2026, 18:00").
    pub date: String,
    pub agenda: Vec<String>,
    pub attendees: Vec<String>,
}

/// One connection's place in a document.
pub struct DocConn {
    pub conn: ConnId,
    tx: mpsc::Sender<DocMsg>,
    /// What the document sends this connection.
    pub rx: mpsc::Receiver<ToConn>,
}

impl DocConn {
    /// Hands a frame the client sent to the document; false once the document is gone.
    pub async fn send(&self, bytes: Vec<u8>) -> bool {
        let conn = self.conn;
        self.tx.send(DocMsg::Frame { conn, bytes }).await.is_ok()
    }
}

impl Drop for DocConn {
    fn drop(&mut self) {
        let conn = self.conn;
        let tx = self.tx.clone();
        // The document learns of the leave even if the connection's task is being torn down.
        if tx.try_send(DocMsg::Leave { conn }).is_err() {
            tokio::spawn(async move {
                let _ = tx.send(DocMsg::Leave { conn }).await;
            });
        }
    }
}

struct Open {
    tx: mpsc::Sender<DocMsg>,
    generation: u64,
}

/// Every open document of the server.
pub struct Notes {
    store: Store,
    pub limits: Limits,
    open: DashMap<(String, String), Open>,
    next_conn: AtomicU64,
    generation: AtomicU64,
}

impl Notes {
    pub fn new(store: Store, limits: Limits) -> Arc<Notes> {
        Arc::new(Notes {
            store,
            limits,
            open: DashMap::new(),
            next_conn: AtomicU64::new(1),
            generation: AtomicU64::new(1),
        })
    }

    /// Documents in memory now.
    pub fn open_documents(&self) -> usize {
        self.open.len()
    }

    /// A document's text as the store keeps it (every update anyone has seen is there: updates
    /// are stored before they are sent on); empty for one nobody has written in.
    pub async fn text(&self, room_id: &str, doc: &DocId) -> Result<String, AppError> {
        let stored = self.store.load_doc(room_id, &doc.as_string()).await?;
        let tail: Vec<Vec<u8>> = stored.tail.into_iter().map(|(_, u)| u).collect();
        Engine::load(stored.snapshot.as_deref(), &tail, self.limits)
            .map(|e| e.text())
            .map_err(|e| AppError::Config(format!("a stored document cannot be read: {e}")))
    }

    /// Opens `doc` of `room_id` for a new connection. `seed` fills a new minutes' template.
    pub async fn join(
        self: &Arc<Self>,
        room_id: &str,
        doc: &DocId,
        read_only: bool,
        seed: impl Fn() -> MinutesSeed,
    ) -> Result<DocConn, Fatal> {
        let key = (room_id.to_owned(), doc.as_string());
        for _ in 0..3 {
            let tx = self.task(&key, doc, &seed);
            let conn = self.next_conn.fetch_add(1, Ordering::Relaxed);
            let (to_conn, rx) = mpsc::channel(CONN_QUEUE);
            let (reply, answer) = oneshot::channel();
            let join = DocMsg::Join {
                conn,
                read_only,
                tx: to_conn,
                reply,
            };
            if tx.send(join).await.is_err() {
                continue;
            }
            match answer.await {
                Ok(Ok(())) => return Ok(DocConn { conn, tx, rx }),
                Ok(Err(fatal)) => return Err(fatal),
                // The task ended (unloading, or a failed load) before it took the join.
                Err(_) => continue,
            }
        }
        Err(Fatal {
            code: 1011,
            reason: "the document could not be opened; try again",
        })
    }

    fn task(
        self: &Arc<Self>,
        key: &(String, String),
        doc: &DocId,
        seed: &impl Fn() -> MinutesSeed,
    ) -> mpsc::Sender<DocMsg> {
        // Checked and replaced under the entry's lock: two joins never start two tasks.
        let mut entry = self.open.entry(key.clone()).or_insert_with(|| Open {
            // A sender whose receiver is gone: "no task yet".
            tx: mpsc::channel(1).0,
            generation: 0,
        });
        if !entry.tx.is_closed() {
            return entry.tx.clone();
        }
        let (tx, rx) = mpsc::channel(1024);
        let generation = self.generation.fetch_add(1, Ordering::Relaxed);
        *entry = Open {
            tx: tx.clone(),
            generation,
        };
        drop(entry);
        let minutes = matches!(doc, DocId::Minutes(_)).then(seed);
        let task = DocTask {
            notes: Arc::clone(self),
            room_id: key.0.clone(),
            doc: key.1.clone(),
            generation,
            conns: Vec::new(),
            stored_updates: 0,
            stored_bytes: 0,
            last_seq: 0,
        };
        let span = tracing::info_span!("doc", room = %key.0, doc = %key.1);
        tokio::spawn(tracing::Instrument::instrument(task.run(rx, minutes), span));
        tx
    }
}

struct DocTask {
    notes: Arc<Notes>,
    room_id: String,
    doc: String,
    generation: u64,
    conns: Vec<(ConnId, mpsc::Sender<ToConn>)>,
    /// The log after the snapshot.
    stored_updates: usize,
    stored_bytes: usize,
    last_seq: i64,
}

impl DocTask {
    async fn load(&mut self, minutes: Option<MinutesSeed>) -> Result<Engine, String> {
        let store = &self.notes.store;
        let stored = store
            .load_doc(&self.room_id, &self.doc)
            .await
            .map_err(|e| e.to_string())?;
        let tail: Vec<Vec<u8>> = stored.tail.iter().map(|(_, u)| u.clone()).collect();
        self.stored_updates = tail.len();
        self.stored_bytes = stored.tail_bytes();
        self.last_seq = stored.tail.last().map_or(0, |(s, _)| *s);
        let mut engine = Engine::load(stored.snapshot.as_deref(), &tail, self.notes.limits)?;
        if let Some(seed) = minutes.filter(|_| engine.is_empty()) {
            let template = store
                .load_doc(&self.room_id, &DocId::Template.as_string())
                .await
                .map_err(|e| e.to_string())?;
            let tail: Vec<Vec<u8>> = template.tail.into_iter().map(|(_, u)| u).collect();
            let own = Engine::load(template.snapshot.as_deref(), &tail, self.notes.limits)?.text();
            let text = template::fill(&own, &seed.date, &seed.agenda, &seed.attendees);
            let outs = engine.append_text(&text);
            if !self.dispatch(outs).await {
                return Err("the minutes' first text could not be kept".into());
            }
        }
        Ok(engine)
    }

    async fn run(mut self, mut rx: mpsc::Receiver<DocMsg>, minutes: Option<MinutesSeed>) {
        let mut engine = match self.load(minutes).await {
            Ok(e) => e,
            Err(e) => {
                tracing::error!(error = %e, "a document could not be loaded");
                self.unregister();
                return;
            }
        };
        tracing::debug!("document loaded");
        // A message taken while gathering frames, to handle next.
        let mut next: Option<DocMsg> = None;
        loop {
            let msg = if let Some(m) = next.take() {
                Some(m)
            } else if self.conns.is_empty() {
                match tokio::time::timeout(self.notes.limits.unload_after, rx.recv()).await {
                    Ok(m) => m,
                    Err(_) => break,
                }
            } else {
                rx.recv().await
            };
            let Some(msg) = msg else { break };
            let kept = match msg {
                DocMsg::Join {
                    conn,
                    read_only,
                    tx,
                    reply,
                } => match engine.connect(conn, read_only) {
                    Ok(outs) => {
                        self.conns.push((conn, tx));
                        let _ = reply.send(Ok(()));
                        self.dispatch(outs).await
                    }
                    Err(fatal) => {
                        let _ = reply.send(Err(fatal));
                        true
                    }
                },
                DocMsg::Frame { conn, bytes } => {
                    // Group commit: the frames already waiting are handled too, and all their
                    // updates kept in one transaction before any of it is sent on.
                    let mut outs = self.frame(&mut engine, conn, &bytes);
                    for _ in 1..BATCH_FRAMES {
                        if engine.poisoned() {
                            break;
                        }
                        match rx.try_recv() {
                            Ok(DocMsg::Frame { conn, bytes }) => {
                                outs.extend(self.frame(&mut engine, conn, &bytes));
                            }
                            Ok(other) => {
                                next = Some(other);
                                break;
                            }
                            Err(_) => break,
                        }
                    }
                    self.dispatch(outs).await
                }
                DocMsg::Leave { conn } => {
                    self.conns.retain(|(c, _)| *c != conn);
                    let outs = engine.disconnect(conn);
                    self.dispatch(outs).await
                }
            };
            if !kept || engine.poisoned() {
                // Memory is ahead of the store: drop it, and let every client sync again
                // against what was kept (they resend what the server lacks).
                for (_, tx) in std::mem::take(&mut self.conns) {
                    let _ = tx.try_send(ToConn::Close(
                        1011,
                        "the notes could not be saved; reconnect",
                    ));
                }
                self.unregister();
                return;
            }
            if self.compaction_due(false) {
                self.compact(engine.state()).await;
            }
        }
        self.unregister();
        if self.compaction_due(true) {
            self.compact(engine.state()).await;
        }
        tracing::debug!("document unloaded");
    }

    /// Carries out the engine's outputs: first keeps every update among them (one
    /// transaction), then sends everything in order, so nothing goes out before the updates
    /// it follows are stored. False when the updates could not be kept.
    async fn dispatch(&mut self, outs: Vec<Out>) -> bool {
        let updates: Vec<&[u8]> = outs
            .iter()
            .filter_map(|o| match o {
                Out::Update { update, .. } => Some(update.as_slice()),
                _ => None,
            })
            .collect();
        if !updates.is_empty() {
            let kept = self
                .notes
                .store
                .append_doc_updates(&self.room_id, &self.doc, &updates)
                .await;
            match kept {
                Ok(seq) => {
                    self.last_seq = seq;
                    self.stored_updates += updates.len();
                    self.stored_bytes += updates.iter().map(|u| u.len()).sum::<usize>();
                }
                Err(e) => {
                    tracing::error!(error = %e, "updates could not be kept");
                    return false;
                }
            }
        }
        for out in outs {
            match out {
                Out::Reply(conn, frame) => self.send(conn, frame),
                Out::Broadcast { except, frame } => self.broadcast(Some(except), frame),
                Out::Update { origin, frame, .. } => self.broadcast(origin, frame),
            }
        }
        true
    }

    /// One frame from `conn`: the engine's outputs, or, when the frame ends the connection,
    /// its close and the others' news of its leaving.
    fn frame(&mut self, engine: &mut Engine, conn: ConnId, bytes: &[u8]) -> Vec<Out> {
        match engine.handle(conn, bytes) {
            Ok(outs) => outs,
            Err(fatal) => {
                tracing::info!(conn, reason = fatal.reason, "a connection's frame ends it");
                self.close(conn, fatal);
                engine.disconnect(conn)
            }
        }
    }

    fn send(&mut self, conn: ConnId, frame: Vec<u8>) {
        let Some(i) = self.conns.iter().position(|(c, _)| *c == conn) else {
            return;
        };
        if self.conns[i]
            .1
            .try_send(ToConn::Frame(frame.into()))
            .is_err()
        {
            // Stuck behind: it is closed rather than slowing the document for everyone.
            self.conns.remove(i);
        }
    }

    fn broadcast(&mut self, except: Option<ConnId>, frame: Vec<u8>) {
        let frame = bytes::Bytes::from(frame);
        let mut stuck = Vec::new();
        for (conn, tx) in &self.conns {
            if Some(*conn) != except && tx.try_send(ToConn::Frame(frame.clone())).is_err() {
                stuck.push(*conn);
            }
        }
        self.conns.retain(|(c, _)| !stuck.contains(c));
    }

    fn close(&mut self, conn: ConnId, fatal: Fatal) {
        if let Some(i) = self.conns.iter().position(|(c, _)| *c == conn) {
            let (_, tx) = self.conns.remove(i);
            let _ = tx.try_send(ToConn::Close(fatal.code, fatal.reason));
        }
    }

    fn unregister(&self) {
        let key = (self.room_id.clone(), self.doc.clone());
        self.notes
            .open
            .remove_if(&key, |_, o| o.generation == self.generation);
    }

    fn compaction_due(&self, unloading: bool) -> bool {
        let limits = self.notes.limits;
        self.stored_updates >= limits.compact_after_updates
            || self.stored_bytes >= limits.compact_after_bytes
            || (unloading && self.stored_updates > 0)
    }

    /// Folds the log into `state` (the whole document now). A state that does not read back is
    /// never written: the log stays, and holds the document.
    async fn compact(&mut self, state: Vec<u8>) {
        if !super::engine::reads_back(&state) {
            tracing::error!("a document's state does not read back; its log is kept as it is");
            return;
        }
        match self
            .notes
            .store
            .compact_doc(&self.room_id, &self.doc, &state, self.last_seq)
            .await
        {
            Ok(()) => {
                tracing::debug!(
                    updates = self.stored_updates,
                    bytes = state.len(),
                    "log compacted"
                );
                self.stored_updates = 0;
                self.stored_bytes = 0;
            }
            // The log stays as it was: nothing is lost, the next round tries again.
            Err(e) => tracing::error!(error = %e, "a document's log could not be compacted"),
        }
    }
}
