//! The shared-notes benchmark, against a running Cohort over loopback: yrs clients edit one
//! document together at a steady rate, and it measures the latency from an update's send to its
//! arrival at each other client, the server's CPU and memory, and how long a document takes to
//! load (`--load-doc`: one seeded with a long log by [`seed_sql`]). It measures; it asserts
//! nothing about speed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use serde::Serialize;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use yrs::sync::Message;
use yrs::sync::protocol::SyncMessage;
use yrs::updates::decoder::Decode;
use yrs::updates::encoder::Encode;
use yrs::{Doc, ReadTxn, StateVector, Text, Transact, Update};

use crate::chat::{Error, created};
use crate::resources::sample;
use crate::stats::Millis;

/// What to run.
#[derive(Debug, Clone)]
pub struct NotesBench {
    /// `127.0.0.1:8080`.
    pub addr: String,
    /// An admin or organiser API key.
    pub key: String,
    pub clients: usize,
    /// Updates each client sends a second.
    pub rate: f64,
    pub seconds: u64,
    /// Documents opened at the end, each with the edited document's content, to measure the
    /// server's memory per open document.
    pub docs: usize,
    /// The server's process, for its CPU and memory.
    pub server_pid: Option<u32>,
    /// Every client sends at the same instant (a burst each period), not spread out.
    pub in_step: bool,
}

/// What it measured.
#[derive(Debug, Clone, Serialize)]
pub struct NotesReport {
    pub clients: usize,
    pub in_step: bool,
    pub rate: f64,
    pub seconds: u64,
    pub updates_sent: usize,
    /// Mean bytes of one update as sent.
    pub update_bytes: f64,
    /// From one client's send to each other client's receipt.
    pub latency: Millis,
    /// Receipts expected (each update at every other client) that never came.
    pub missed: usize,
    /// The server's CPU over the editing, percent of one core.
    pub server_cpu_percent: Option<f64>,
    /// The edited document's encoded state at the end.
    pub doc_state_bytes: usize,
    /// A new client's time from connecting to holding the whole edited document.
    pub join_sync: Millis,
    /// The server's resident memory growth per open document like the edited one (and one
    /// connection to it), over `docs` documents.
    pub rss_per_doc_kib: Option<f64>,
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// One client: its socket and its copy of the document.
struct Client {
    ws: Ws,
    doc: Doc,
}

const TEXT: &str = "content";

fn frame(msg: &Message) -> WsMessage {
    WsMessage::Binary(msg.encode_v1().into())
}

impl Client {
    /// Connects and syncs: returns once the server has answered this client's step 1.
    async fn synced(url: &str) -> Result<Client, Error> {
        // No Nagle, as browsers do: small frames go at once.
        let (ws, _) = tokio_tungstenite::connect_async_with_config(url, None, true).await?;
        let mut c = Client {
            ws,
            doc: Doc::new(),
        };
        c.doc.get_or_insert_text(TEXT);
        let sv = c.doc.transact().state_vector();
        c.ws.send(frame(&Message::Sync(SyncMessage::SyncStep1(sv))))
            .await?;
        loop {
            let Some(m) = c.ws.next().await else {
                return Err("closed before syncing".into());
            };
            let WsMessage::Binary(b) = m? else { continue };
            match Message::decode_v1(&b)? {
                Message::Sync(SyncMessage::SyncStep1(sv)) => {
                    let diff = c.doc.transact().encode_state_as_update_v1(&sv);
                    c.ws.send(frame(&Message::Sync(SyncMessage::SyncStep2(diff))))
                        .await?;
                }
                Message::Sync(SyncMessage::SyncStep2(u)) => {
                    c.apply(&u)?;
                    return Ok(c);
                }
                Message::Sync(SyncMessage::Update(u)) => c.apply(&u)?,
                _ => {}
            }
        }
    }

    fn apply(&self, u: &[u8]) -> Result<(), Error> {
        self.doc
            .transact_mut()
            .apply_update(Update::decode_v1(u)?)?;
        Ok(())
    }

    /// Sends a step 1 and reads until its answer: the server has kept all sent before it.
    async fn confirm(&mut self) -> Result<(), Error> {
        let sv = self.doc.transact().state_vector();
        self.ws
            .send(frame(&Message::Sync(SyncMessage::SyncStep1(sv))))
            .await?;
        while let Some(m) = self.ws.next().await {
            if let WsMessage::Binary(b) = m?
                && let Message::Sync(SyncMessage::SyncStep2(u)) = Message::decode_v1(&b)?
            {
                return self.apply(&u);
            }
        }
        Err("closed before confirming".into())
    }

    /// Types `text` at the end of its copy; the update to send.
    fn type_text(&self, text: &str) -> Vec<u8> {
        let before = self.doc.transact().state_vector();
        let t = self.doc.get_or_insert_text(TEXT);
        {
            let mut txn = self.doc.transact_mut();
            let end = t.len(&txn);
            t.insert(&mut txn, end, text);
        }
        self.doc.transact().encode_state_as_update_v1(&before)
    }
}

/// `[c<client>s<seq>]` markers in an update's bytes (yjs keeps inserted text as UTF-8).
fn markers(bytes: &[u8]) -> Vec<(u32, u32)> {
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(at) = bytes[i..].windows(2).position(|w| w == b"[c") {
        let rest = &bytes[i + at + 2..];
        let num = |s: &[u8]| {
            let n = s.iter().take_while(|b| b.is_ascii_digit()).count();
            std::str::from_utf8(&s[..n])
                .ok()
                .and_then(|d| d.parse::<u32>().ok())
                .map(|v| (v, n))
        };
        if let Some((c, n)) = num(rest)
            && rest.get(n) == Some(&b's')
            && let Some((s, m)) = num(&rest[n + 1..])
            && rest.get(n + 1 + m) == Some(&b']')
        {
            out.push((c, s));
        }
        i += at + 2;
    }
    out
}

/// The notes WebSocket of `doc` in `room`, with a link.
pub fn doc_url(addr: &str, room: &str, doc: &str, token: &str) -> String {
    let doc: String = doc
        .bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    format!("ws://{addr}/api/v1/rooms/{room}/docs/{doc}?t={token}")
}

/// A room of its own and a host link to it: `(room id, token)`.
pub async fn room_and_link(addr: &str, key: &str, name: &str) -> Result<(String, String), Error> {
    let room = created(
        addr,
        key,
        "/api/v1/rooms",
        json!({"name": name, "time_zone": "UTC"}),
    )
    .await?;
    let id = room["id"].as_str().ok_or("no room id")?.to_owned();
    let invite = created(
        addr,
        key,
        &format!("/api/v1/rooms/{id}/invites"),
        json!({"role": "host"}),
    )
    .await?;
    let token = invite["token"].as_str().ok_or("no token")?.to_owned();
    Ok((id, token))
}

type Sent = Arc<Mutex<HashMap<(u32, u32), Instant>>>;

/// One client's editing: `count` updates at `rate` a second from `first`, reading everyone
/// else's between.
#[allow(clippy::too_many_arguments)]
async fn edit(
    mut c: Client,
    me: u32,
    count: u32,
    rate: f64,
    first: tokio::time::Instant,
    sent: Sent,
    arrivals: Arc<Mutex<Vec<u32>>>,
    drain_until: Instant,
) -> Result<(Client, usize, usize), Error> {
    let mut tick = tokio::time::interval_at(first, Duration::from_secs_f64(1.0 / rate));
    let (mut seq, mut bytes, mut received) = (0u32, 0usize, 0usize);
    let deadline = tokio::time::Instant::from_std(drain_until);
    loop {
        tokio::select! {
            _ = tick.tick(), if seq < count => {
                let update = c.type_text(&format!("[c{me}s{seq}] a note "));
                bytes += update.len();
                sent.lock().map_err(|_| "a poisoned lock")?.insert((me, seq), Instant::now());
                c.ws.send(frame(&Message::Sync(SyncMessage::Update(update)))).await?;
                seq += 1;
            }
            m = c.ws.next() => {
                let Some(m) = m else { return Err("the server closed a client".into()) };
                let WsMessage::Binary(b) = m? else { continue };
                let now = Instant::now();
                if let Message::Sync(SyncMessage::Update(u)) = Message::decode_v1(&b)? {
                    for (from, s) in markers(&u) {
                        if from == me { continue }
                        let at = sent.lock().map_err(|_| "a poisoned lock")?.get(&(from, s)).copied();
                        if let Some(at) = at {
                            let us = u32::try_from(now.duration_since(at).as_micros()).unwrap_or(u32::MAX);
                            arrivals.lock().map_err(|_| "a poisoned lock")?.push(us);
                            received += 1;
                        }
                    }
                    c.apply(&u)?;
                }
            }
            _ = tokio::time::sleep_until(deadline) => return Ok((c, bytes, received)),
        }
    }
}

/// Runs the benchmark; every part has a deadline.
pub async fn run(b: &NotesBench) -> Result<NotesReport, Error> {
    let (room, token) = room_and_link(&b.addr, &b.key, "Notes bench").await?;
    let url = doc_url(&b.addr, &room, "room", &token);
    let mut clients = Vec::new();
    for _ in 0..b.clients {
        clients.push(Client::synced(&url).await?);
    }
    let count = (b.rate * b.seconds as f64).round() as u32;
    let sent: Sent = Arc::default();
    let arrivals: Arc<Mutex<Vec<u32>>> = Arc::default();
    let before = b.server_pid.and_then(|p| sample(Some(p)));
    let started = Instant::now();
    // Everyone stops reading two seconds after the last send is due.
    let drain_until = started + Duration::from_secs(b.seconds) + Duration::from_secs(2);
    let mut tasks = Vec::new();
    // People do not type in step: each client's first update is offset by its share of the
    // period, so the updates come evenly spread rather than all at one instant.
    let period = Duration::from_secs_f64(1.0 / b.rate);
    let t0 = tokio::time::Instant::now();
    for (i, c) in clients.into_iter().enumerate() {
        let me = u32::try_from(i).unwrap_or(u32::MAX);
        let share = if b.in_step {
            0.0
        } else {
            i as f64 / b.clients as f64
        };
        let first = t0 + period.mul_f64(share);
        tasks.push(tokio::spawn(edit(
            c,
            me,
            count,
            b.rate,
            first,
            sent.clone(),
            arrivals.clone(),
            drain_until,
        )));
    }
    let mut done = Vec::new();
    let (mut bytes, mut received) = (0, 0);
    for t in tasks {
        let (c, by, r) = t.await??;
        bytes += by;
        received += r;
        done.push(c);
    }
    let after = b.server_pid.and_then(|p| sample(Some(p)));
    let editing = (Instant::now() - started).as_secs_f64();
    let server_cpu_percent = match (before, after) {
        (Some(x), Some(y)) => Some((y.cpu_seconds - x.cpu_seconds) / editing * 100.0),
        _ => None,
    };
    let updates_sent = count as usize * b.clients;
    let expected = updates_sent * b.clients.saturating_sub(1);
    let state = done
        .first()
        .map(|c| {
            c.doc
                .transact()
                .encode_state_as_update_v1(&StateVector::default())
        })
        .unwrap_or_default();

    // A latecomer joins the edited document, five times.
    let mut joins = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let c = Client::synced(&url).await?;
        joins.push(u32::try_from(t.elapsed().as_micros()).unwrap_or(u32::MAX));
        drop(c);
    }

    // Memory: `docs` more documents with the same content, each held open by one client.
    let rss_before = b.server_pid.and_then(|p| sample(Some(p)));
    let mut holders = Vec::new();
    for i in 0..b.docs {
        // A meeting a minute apart for each document (--docs is at most 200).
        let doc = format!("minutes:2030-01-01T{:02}:{:02}:00+00:00", i / 60, i % 60);
        let mut c = Client::synced(&doc_url(&b.addr, &room, &doc, &token)).await?;
        c.ws.send(frame(&Message::Sync(SyncMessage::Update(state.clone()))))
            .await?;
        holders.push(c);
    }
    // Each document has stored and applied its copy once it answers a step 1 sent after it.
    for c in &mut holders {
        c.confirm().await?;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_after = b.server_pid.and_then(|p| sample(Some(p)));
    let rss_per_doc_kib = match (rss_before, rss_after) {
        (Some(x), Some(y)) if b.docs > 0 => {
            Some((y.rss_bytes as f64 - x.rss_bytes as f64) / b.docs as f64 / 1024.0)
        }
        _ => None,
    };
    drop(holders);
    drop(done);

    let latency = Millis::from_micros(std::mem::take(
        &mut *arrivals.lock().map_err(|_| "a poisoned lock")?,
    ));
    Ok(NotesReport {
        clients: b.clients,
        in_step: b.in_step,
        rate: b.rate,
        seconds: b.seconds,
        updates_sent,
        update_bytes: bytes as f64 / updates_sent.max(1) as f64,
        missed: expected.saturating_sub(received),
        latency,
        server_cpu_percent,
        doc_state_bytes: state.len(),
        join_sync: Millis::from_micros(joins),
        rss_per_doc_kib,
    })
}

/// Times `times` fresh clients syncing `doc` of `room` (seeded by [`seed_sql`]); the first
/// loads the stored log, later ones find the document in memory or compacted.
pub async fn time_load(
    addr: &str,
    room: &str,
    doc: &str,
    token: &str,
    times: usize,
) -> Result<Vec<(f64, usize)>, Error> {
    let mut out = Vec::new();
    for _ in 0..times {
        let t = Instant::now();
        let c = Client::synced(&doc_url(addr, room, doc, token)).await?;
        let len = c.doc.get_or_insert_text(TEXT).len(&c.doc.transact()) as usize;
        out.push((t.elapsed().as_secs_f64() * 1000.0, len));
    }
    Ok(out)
}

/// SQL that appends `updates` typing updates to `doc` of `room` (as a client typing a line at a
/// time would make them) to the server's log, for SQLite (`X'…'`) or PostgreSQL
/// (`decode('…', 'hex')`).
pub fn seed_sql(room: &str, doc: &str, updates: usize, postgres: bool) -> String {
    let d = Doc::new();
    let t = d.get_or_insert_text(TEXT);
    let mut out = String::from("BEGIN;\n");
    for i in 0..updates {
        let before = d.transact().state_vector();
        {
            let mut txn = d.transact_mut();
            let end = t.len(&txn);
            t.insert(&mut txn, end, &format!("line {i} of the minutes\n"));
        }
        let u = d.transact().encode_state_as_update_v1(&before);
        let hex: String = u.iter().map(|b| format!("{b:02x}")).collect();
        let body = if postgres {
            format!("decode('{hex}', 'hex')")
        } else {
            format!("X'{hex}'")
        };
        out.push_str(&format!(
            "INSERT INTO doc_updates (room_id, doc, body, at) VALUES ('{room}', '{doc}', {body}, 0);\n"
        ));
    }
    out.push_str("COMMIT;\n");
    out
}

impl std::fmt::Display for NotesReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "notes: {} clients x {} updates/s for {} s{}: {} updates of {:.0} bytes",
            self.clients,
            self.rate,
            self.seconds,
            if self.in_step { ", all at once" } else { "" },
            self.updates_sent,
            self.update_bytes
        )?;
        writeln!(
            f,
            "update to the others: p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({} samples, {} missed)",
            self.latency.p50,
            self.latency.p95,
            self.latency.p99,
            self.latency.max,
            self.latency.samples,
            self.missed
        )?;
        if let Some(c) = self.server_cpu_percent {
            writeln!(f, "server CPU while editing: {c:.1}% of one core")?;
        }
        writeln!(
            f,
            "document at the end: {} bytes encoded; a latecomer syncs it in p50 {:.2} ms",
            self.doc_state_bytes, self.join_sync.p50
        )?;
        if let Some(m) = self.rss_per_doc_kib {
            writeln!(f, "server memory per open document like it: {m:.0} KiB")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_are_found_in_an_updates_bytes() {
        let d = Doc::new();
        let t = d.get_or_insert_text(TEXT);
        t.insert(
            &mut d.transact_mut(),
            0,
            "[c3s41] a note [c12s0] x [c1sx] [c2s5",
        );
        let u = d
            .transact()
            .encode_state_as_update_v1(&StateVector::default());
        assert_eq!(markers(&u), vec![(3, 41), (12, 0)]);
    }

    #[test]
    fn seeded_sql_holds_every_update() {
        let sql = seed_sql("r", "minutes:x", 3, false);
        assert_eq!(sql.matches("INSERT INTO doc_updates").count(), 3);
        assert!(sql.contains("X'") && sql.starts_with("BEGIN;") && sql.ends_with("COMMIT;\n"));
        assert!(seed_sql("r", "room", 1, true).contains("decode('"));
    }
}
