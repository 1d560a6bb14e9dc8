//! The chat benchmark: fan-out latency from one poster to many room-channel listeners, and the
//! time of history pages and searches on a large room, against a running Cohort over loopback.
//! It measures; it asserts nothing about speed.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use serde::Serialize;
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

use crate::stats::Millis;

/// What to run.
#[derive(Debug, Clone)]
pub struct ChatBench {
    /// `127.0.0.1:8080`.
    pub addr: String,
    /// An admin or organiser API key.
    pub key: String,
    pub listeners: usize,
    pub messages: usize,
    /// Messages posted per second.
    pub rate: f64,
    /// A room already holding many messages, for the history and search figures.
    pub history_room: Option<String>,
    /// History pages and searches timed.
    pub requests: usize,
}

/// What it measured.
#[derive(Debug, Clone, Serialize)]
pub struct ChatReport {
    pub listeners: usize,
    pub messages: usize,
    /// From the poster's send to each listener's receipt (one sample per message and listener).
    pub fanout: Millis,
    /// Messages some listener never received before the deadline.
    pub missed: usize,
    /// `GET .../chat?limit=100` at random places in the history room.
    pub history_page: Option<Millis>,
    /// `GET .../chat/search`, per query.
    pub searches: Vec<(String, Millis, u64)>,
}

pub(crate) type Error = Box<dyn std::error::Error + Send + Sync>;

/// One HTTP/1.1 request over a fresh loopback connection; the status and the JSON body.
async fn request(
    addr: &str,
    method: &str,
    path: &str,
    key: &str,
    body: Option<Value>,
) -> Result<(u16, Value), Error> {
    let stream = TcpStream::connect(addr).await?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    let bytes = body.map(|b| b.to_string()).unwrap_or_default();
    let req = hyper::Request::builder()
        .method(method)
        .uri(path)
        .header("host", addr)
        .header("authorization", format!("Bearer {key}"))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(bytes)))?;
    let res = sender.send_request(req).await?;
    let status = res.status().as_u16();
    let body = res.into_body().collect().await?.to_bytes();
    let json = serde_json::from_slice(&body).unwrap_or(Value::Null);
    Ok((status, json))
}

pub(crate) async fn created(
    addr: &str,
    key: &str,
    path: &str,
    body: Value,
) -> Result<Value, Error> {
    let (status, v) = request(addr, "POST", path, key, Some(body)).await?;
    if status != 201 {
        return Err(format!("POST {path}: {status} {v}").into());
    }
    Ok(v)
}

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>;

/// Opens the room channel of `slug`; returns the socket after `opened`.
async fn open(
    addr: &str,
    slug: &str,
    token: &str,
    device: &str,
    name: Option<&str>,
) -> Result<Ws, Error> {
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/api/v1/rtc")).await?;
    let mut msg = json!({"type": "open", "v": 1, "room": slug, "token": token, "device": device});
    if let Some(n) = name {
        msg["name"] = n.into();
    }
    ws.send(Message::Text(msg.to_string().into())).await?;
    while let Some(m) = ws.next().await {
        if let Message::Text(t) = m? {
            let v: Value = serde_json::from_str(&t)?;
            match v["type"].as_str() {
                Some("opened") => return Ok(ws),
                Some("error") => return Err(format!("open refused: {v}").into()),
                _ => {}
            }
        }
    }
    Err("the channel closed before opened".into())
}

/// Runs the benchmark.
pub async fn run(b: &ChatBench) -> Result<ChatReport, Error> {
    let room = created(
        &b.addr,
        &b.key,
        "/api/v1/rooms",
        json!({"name": format!("Chat bench {}", std::process::id()), "time_zone": "UTC"}),
    )
    .await?;
    let id = room["id"].as_str().ok_or("no room id")?.to_owned();
    let slug = room["slug"].as_str().ok_or("no slug")?.to_owned();
    let invite = created(
        &b.addr,
        &b.key,
        &format!("/api/v1/rooms/{id}/invites"),
        json!({"role": "participant"}),
    )
    .await?;
    let token = invite["token"].as_str().ok_or("no token")?.to_owned();

    // Send times by message number, shared with the listeners.
    let sent: Arc<Mutex<Vec<Option<Instant>>>> = Arc::new(Mutex::new(vec![None; b.messages]));
    let mut tasks = Vec::new();
    for i in 0..b.listeners {
        let mut ws = open(
            &b.addr,
            &slug,
            &token,
            &format!("bench-listener-{i:04}"),
            None,
        )
        .await?;
        let (sent, total) = (sent.clone(), b.messages);
        tasks.push(tokio::spawn(async move {
            let mut got = Vec::with_capacity(total);
            while got.len() < total {
                // Pings and other frames are skipped; silence, a close or an error ends it.
                let t = match tokio::time::timeout(Duration::from_secs(10), ws.next()).await {
                    Ok(Some(Ok(Message::Text(t)))) => t,
                    Ok(Some(Ok(_))) => continue,
                    _ => break,
                };
                let at = Instant::now();
                let Ok(v) = serde_json::from_str::<Value>(&t) else {
                    continue;
                };
                let n = v["text"]
                    .as_str()
                    .and_then(|t| t.strip_prefix("bench "))
                    .and_then(|n| n.parse::<usize>().ok());
                if let (Some("chat"), Some(n)) = (v["type"].as_str(), n) {
                    let t0 = sent
                        .lock()
                        .map(|s| s.get(n).copied().flatten())
                        .ok()
                        .flatten();
                    if let Some(t0) = t0 {
                        got.push(
                            u32::try_from(at.duration_since(t0).as_micros()).unwrap_or(u32::MAX),
                        );
                    }
                }
            }
            got
        }));
    }
    let mut poster = open(&b.addr, &slug, &token, "bench-poster-0001", Some("Poster")).await?;
    let gap = Duration::from_secs_f64(1.0 / b.rate.max(0.1));
    let mut tick = tokio::time::interval(gap);
    for n in 0..b.messages {
        tick.tick().await;
        if let Ok(mut s) = sent.lock() {
            s[n] = Some(Instant::now());
        }
        let msg = json!({"type": "chat", "text": format!("bench {n}")});
        poster.send(Message::Text(msg.to_string().into())).await?;
    }
    let mut samples = Vec::new();
    let mut missed = 0;
    for t in tasks {
        let got = t.await?;
        missed += b.messages.saturating_sub(got.len());
        samples.extend(got);
    }
    let fanout = Millis::from_micros(samples);

    let (mut history_page, mut searches) = (None, Vec::new());
    if let Some(room) = &b.history_room {
        let (status, latest) = request(
            &b.addr,
            "GET",
            &format!("/api/v1/rooms/{room}/chat?limit=200"),
            &b.key,
            None,
        )
        .await?;
        if status != 200 {
            return Err(format!("the history room answers {status}: {latest}").into());
        }
        // Page starts spread over the room: every id the first pages name, then random ones
        // of the seeded `seed<n>` ids.
        let mut times = Vec::new();
        for i in 0..b.requests {
            let before = format!("seed{}", 200 + (i * 7919) % 99_800);
            let path = format!("/api/v1/rooms/{room}/chat?limit=100&before={before}");
            let t0 = Instant::now();
            let (status, page) = request(&b.addr, "GET", &path, &b.key, None).await?;
            times.push(u32::try_from(t0.elapsed().as_micros()).unwrap_or(u32::MAX));
            if status != 200 || page["messages"].as_array().map_or(0, Vec::len) != 100 {
                return Err(format!("{path}: {status}, not a page of 100").into());
            }
        }
        history_page = Some(Millis::from_micros(times));
        for q in [
            "photosynthesis",
            "algebra%20equations",
            "photo",
            "message%2042424",
        ] {
            let mut times = Vec::new();
            let mut found = 0;
            for _ in 0..b.requests.min(50) {
                let path = format!("/api/v1/rooms/{room}/chat/search?q={q}&limit=50");
                let t0 = Instant::now();
                let (status, page) = request(&b.addr, "GET", &path, &b.key, None).await?;
                times.push(u32::try_from(t0.elapsed().as_micros()).unwrap_or(u32::MAX));
                if status != 200 {
                    return Err(format!("{path}: {status} {page}").into());
                }
                found = page["messages"].as_array().map_or(0, Vec::len) as u64;
            }
            searches.push((q.replace("%20", " "), Millis::from_micros(times), found));
        }
    }
    Ok(ChatReport {
        listeners: b.listeners,
        messages: b.messages,
        fanout,
        missed,
        history_page,
        searches,
    })
}

impl std::fmt::Display for ChatReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let m = |d: &Millis| {
            format!(
                "p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
                d.p50, d.p95, d.p99, d.max
            )
        };
        writeln!(
            f,
            "chat fan-out to {} listeners, {} messages: {} ({} samples, {} missed)",
            self.listeners,
            self.messages,
            m(&self.fanout),
            self.fanout.samples,
            self.missed
        )?;
        if let Some(h) = &self.history_page {
            writeln!(f, "history page of 100: {} ({} requests)", m(h), h.samples)?;
        }
        for (q, d, found) in &self.searches {
            writeln!(f, "search {q:?} (page of {found}): {}", m(d))?;
        }
        Ok(())
    }
}
