//! The same synthetic participant against Janus's VideoRoom plugin, for side-by-side figures:
//! one Janus session per participant, a handle that joins as publisher (publishing with
//! `joinandconfigure` when it sends, plain `join` to hear of publishers when it only listens),
//! and a multistream subscriber handle that takes every other publisher's feed as it appears.
//! Media, stamps and recording are the Cohort client's own (`crate::client`).

mod api;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::sync::{mpsc, watch};
use tracing::warn;
use webrtc::peer_connection::RTCSessionDescription;

use crate::client::peer::{Handler, PcOptions, answer_offer, gathered_sdp, new_pc};
use crate::client::recv::{Shared, lock};
use crate::client::{
    ClientConfig, ClientError, Owned, SubscribeSlot, Totals, TrackRecv, keyframes_of, publish,
    received_of, totals_of,
};
use api::{Api, jsep, jsep_sdp};

/// Scenario room n is Janus room `ROOM_BASE + n`.
pub const ROOM_BASE: u64 = 4_200_000;
/// Keepalives go this often (Janus drops a session after 60 s of silence).
const KEEPALIVE: Duration = Duration::from_secs(25);

fn rtc(e: impl std::fmt::Display) -> ClientError {
    ClientError::WebRtc(e.to_string())
}

/// A publisher as Janus lists it: its feed id and, from its display name, our index.
#[derive(Debug, Clone, Copy)]
struct Feed {
    id: u64,
    index: Option<u32>,
}

fn feeds(v: &Value) -> Vec<Feed> {
    v["plugindata"]["data"]["publishers"]
        .as_array()
        .map(|list| {
            list.iter()
                .filter_map(|p| {
                    Some(Feed {
                        id: p["id"].as_u64()?,
                        index: p["display"]
                            .as_str()
                            .and_then(|d| d.strip_prefix("peer-"))
                            .and_then(|i| i.parse().ok()),
                    })
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Creates the scenario's rooms (an existing one is reused), sized for `publishers` each.
pub async fn create_rooms(url: &str, rooms: &[u64], publishers: usize) -> Result<(), ClientError> {
    let api = Api::connect(url).await?;
    let session = api.create_session().await?;
    let (handle, _) = api.attach(session).await?;
    for &room in rooms {
        let body = json!({
            "request": "create", "room": room, "description": "cohort-loadtest",
            "publishers": publishers.max(1), "bitrate": 0, "fir_freq": 0,
            "audiocodec": "opus", "videocodec": "vp8", "record": false,
            "notify_joining": false, "audiolevel_ext": false, "videoorient_ext": false,
            "playoutdelay_ext": false, "transport_wide_cc_ext": true,
        });
        match api.message(session, handle, body, None).await {
            Ok(_) => {}
            Err(ClientError::Protocol(e)) if e.contains("427") => {}
            Err(e) => return Err(e),
        }
    }
    api.send(json!({"janus": "destroy", "session_id": session}))
        .await;
    Ok(())
}

/// Destroys the scenario's rooms; failures only warn (Janus is stopped next anyway).
pub async fn destroy_rooms(url: &str, rooms: &[u64]) {
    let Ok(api) = Api::connect(url).await else {
        return;
    };
    let Ok(session) = api.create_session().await else {
        return;
    };
    if let Ok((handle, _)) = api.attach(session).await {
        for &room in rooms {
            let body = json!({"request": "destroy", "room": room});
            if let Err(e) = api.message(session, handle, body, None).await {
                warn!(room, "room not destroyed: {e}");
            }
        }
    }
    api.send(json!({"janus": "destroy", "session_id": session}))
        .await;
}

/// A connected participant of a Janus VideoRoom.
pub struct JanusClient {
    /// When the join was sent.
    pub requested_at: Instant,
    api: Arc<Api>,
    session: u64,
    publish_handle: u64,
    shared: Arc<Shared>,
    /// When this client first heard of each publisher, by our index.
    announced: Arc<Mutex<HashMap<u32, Instant>>>,
    owned: Owned,
}

impl JanusClient {
    /// Joins Janus room `room` (publishing as configured) and subscribes to every other
    /// publisher there, now and later.
    pub async fn connect(cfg: ClientConfig, room: u64) -> Result<JanusClient, ClientError> {
        let api = Arc::new(Api::connect(&cfg.url).await?);
        let session = api.create_session().await?;
        let (publish_handle, mut publish_events) = api.attach(session).await?;
        let shared = Arc::new(Shared::default());
        let (stop, stop_rx) = watch::channel(false);
        let opts = PcOptions {
            udp_ip: cfg.udp_ip,
            accept_duplicates: false,
            vp8_only: false,
        };
        let display = format!("peer-{}", cfg.index);
        let mut tasks = Vec::new();
        let requested_at = Instant::now();
        let (joined, publish_pc) = if cfg.publish_audio || cfg.publish_video {
            let (gathered_tx, mut gathered) = watch::channel(false);
            let handler = Handler {
                gathered: gathered_tx,
                candidates: None,
                sdp_sent: Arc::default(),
                record: None,
            };
            let pc = new_pc(opts, handler, Arc::clone(&shared.reports)).await?;
            let (senders, _) = publish::add_tracks(&cfg, &pc).await?;
            let offer = pc.create_offer(None).await.map_err(rtc)?;
            pc.set_local_description(offer).await.map_err(rtc)?;
            let sdp = gathered_sdp(&pc, &mut gathered).await?;
            let body = json!({"request": "joinandconfigure", "ptype": "publisher", "room": room,
                "display": display, "audio": cfg.publish_audio, "video": cfg.publish_video});
            let r = api
                .message(session, publish_handle, body, Some(jsep("offer", sdp)))
                .await?;
            let answer = jsep_sdp(&r, "answer")
                .ok_or_else(|| ClientError::Protocol(format!("no answer in {r}")))?;
            let answer = RTCSessionDescription::answer(answer).map_err(rtc)?;
            pc.set_remote_description(answer).await.map_err(rtc)?;
            tasks.extend(publish::start_sending(&cfg, senders, &shared, stop_rx).await?);
            (r, Some(pc))
        } else {
            let body =
                json!({"request": "join", "ptype": "publisher", "room": room, "display": display});
            (
                api.message(session, publish_handle, body, None).await?,
                None,
            )
        };
        let own = joined["plugindata"]["data"]["id"].as_u64();
        let (feeds_tx, feeds_rx) = mpsc::unbounded_channel();
        let _ = feeds_tx.send(feeds(&joined));
        tasks.push(tokio::spawn(async move {
            while let Some(ev) = publish_events.recv().await {
                let list = feeds(&ev);
                if !list.is_empty() && feeds_tx.send(list).is_err() {
                    break;
                }
            }
        }));
        let subscribe_pc: SubscribeSlot = Arc::default();
        let announced: Arc<Mutex<HashMap<u32, Instant>>> = Arc::default();
        let sub = Subscriber {
            api: Arc::clone(&api),
            session,
            room,
            own,
            opts,
            shared: Arc::clone(&shared),
            pc: Arc::clone(&subscribe_pc),
            announced: Arc::clone(&announced),
            handle: None,
            known: HashSet::new(),
        };
        tasks.push(tokio::spawn(sub.run(feeds_rx)));
        let keepalive = Arc::clone(&api);
        tasks.push(tokio::spawn(async move {
            loop {
                tokio::time::sleep(KEEPALIVE).await;
                keepalive
                    .send(json!({"janus": "keepalive", "session_id": session}))
                    .await;
            }
        }));
        Ok(JanusClient {
            requested_at,
            api,
            session,
            publish_handle,
            shared,
            announced,
            owned: Owned {
                stop,
                tasks,
                publish_pc,
                subscribe_pc,
            },
        })
    }

    /// Keyframe requests (PLI/FIR) this client's publisher received, and keyframes it sent.
    pub fn keyframes(&self) -> (u64, u64) {
        keyframes_of(&self.shared)
    }

    pub fn totals(&self) -> Totals {
        totals_of(&self.shared)
    }

    pub fn received(&self) -> Vec<TrackRecv> {
        received_of(&self.shared)
    }

    /// When this client heard of the publisher of `track` (by the index its payloads carry).
    pub fn announced_for(&self, track: &TrackRecv) -> Option<Instant> {
        let index = track.publisher_index?;
        lock(&self.announced).get(&index).copied()
    }

    /// Leaves the room, ends the session and closes both connections.
    pub async fn leave(mut self) {
        let _ = self.owned.stop.send(true);
        let leave = json!({"janus": "message", "session_id": self.session,
            "handle_id": self.publish_handle, "body": {"request": "leave"}});
        self.api.send(leave).await;
        self.api
            .send(json!({"janus": "destroy", "session_id": self.session}))
            .await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        self.owned.close().await;
    }
}

/// The subscribing side: one multistream handle, renegotiated one step at a time.
struct Subscriber {
    api: Arc<Api>,
    session: u64,
    room: u64,
    own: Option<u64>,
    opts: PcOptions,
    shared: Arc<Shared>,
    pc: SubscribeSlot,
    announced: Arc<Mutex<HashMap<u32, Instant>>>,
    handle: Option<(u64, mpsc::UnboundedReceiver<Value>)>,
    known: HashSet<u64>,
}

impl Subscriber {
    async fn run(mut self, mut feeds_rx: mpsc::UnboundedReceiver<Vec<Feed>>) {
        loop {
            let events = async {
                match self.handle.as_mut() {
                    Some((_, rx)) => rx.recv().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                list = feeds_rx.recv() => {
                    let Some(mut list) = list else { break };
                    while let Ok(more) = feeds_rx.try_recv() {
                        list.extend(more);
                    }
                    if let Err(e) = self.add(list).await {
                        warn!("subscribing failed: {e}");
                    }
                }
                Some(ev) = events => {
                    // Janus renegotiates by itself when feeds go (autoupdate): answer it.
                    if jsep_sdp(&ev, "offer").is_some()
                        && let Err(e) = self.answer(&ev).await
                    {
                        warn!("answering Janus's update failed: {e}");
                    }
                }
            }
        }
    }

    async fn add(&mut self, list: Vec<Feed>) -> Result<(), ClientError> {
        let now = Instant::now();
        let fresh: Vec<Feed> = list
            .into_iter()
            .filter(|f| Some(f.id) != self.own && self.known.insert(f.id))
            .collect();
        if fresh.is_empty() {
            return Ok(());
        }
        for f in &fresh {
            if let Some(i) = f.index {
                lock(&self.announced).entry(i).or_insert(now);
            }
        }
        let streams: Vec<Value> = fresh.iter().map(|f| json!({"feed": f.id})).collect();
        let reply = match &self.handle {
            Some((h, _)) => {
                let body = json!({"request": "subscribe", "streams": streams});
                self.api.message(self.session, *h, body, None).await?
            }
            None => {
                let (h, rx) = self.api.attach(self.session).await?;
                self.handle = Some((h, rx));
                let body = json!({"request": "join", "ptype": "subscriber", "room": self.room,
                    "streams": streams});
                self.api.message(self.session, h, body, None).await?
            }
        };
        self.answer(&reply).await
    }

    /// Answers an offer from Janus on the subscription, and starts (or resumes) it.
    async fn answer(&self, with_offer: &Value) -> Result<(), ClientError> {
        let Some((handle, _)) = &self.handle else {
            return Ok(());
        };
        let offer = jsep_sdp(with_offer, "offer")
            .ok_or_else(|| ClientError::Protocol(format!("no offer in {with_offer}")))?;
        let sdp = answer_offer(&self.pc, self.opts, &self.shared, None, offer).await?;
        let body = json!({"request": "start"});
        self.api
            .message(self.session, *handle, body, Some(jsep("answer", sdp)))
            .await
            .map(|_| ())
    }
}
