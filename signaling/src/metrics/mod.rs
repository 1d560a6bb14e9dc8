//! Prometheus metrics (`prometheus` crate), served at `GET /metrics`.
//!
//! Media counters are atomics that the room tasks bump as packets pass; this module reads them
//! only when scraped, through a collector that builds the families afresh each time. So a room's
//! series exist exactly while the room is open, and nothing on the packet path touches a label
//! map. Per-room series are capped: the busiest rooms by participants get their own `room`
//! label, the rest are summed under `room="_other"`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus::core::{Collector, Desc};
use prometheus::proto::MetricFamily;
use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};
use sfu::Sfu;
use sfu::meters::RoomReading;

use crate::AppState;
use crate::error::AppError;

/// The label of rooms beyond the cap.
pub const OTHER_ROOMS: &str = "_other";
const KINDS: [&str; 2] = ["audio", "video"];

/// Everything `/metrics` shows.
pub struct Metrics {
    registry: Registry,
    /// Open signaling WebSocket connections.
    pub ws_sessions: IntGauge,
    http_requests: IntCounterVec,
    http_seconds: HistogramVec,
    /// `Authorization: Bearer` that `/metrics` asks for, if any.
    token: Option<String>,
}

impl Metrics {
    /// Metrics of `sfu`, with at most `room_cap` rooms under their own label.
    pub fn new(sfu: Sfu, room_cap: usize, token: Option<String>) -> Arc<Metrics> {
        let registry = Registry::new();
        let ws_sessions = IntGauge::new(
            "cohort_websocket_sessions",
            "Open signaling WebSocket connections.",
        )
        .expect("static metric options are valid"); // name and help are fixed and well-formed
        let http_requests = IntCounterVec::new(
            Opts::new(
                "cohort_http_requests_total",
                "HTTP requests answered, by route template, method and status code.",
            ),
            &["route", "method", "status"],
        )
        .expect("static metric options are valid");
        let http_seconds = HistogramVec::new(
            HistogramOpts::new(
                "cohort_http_request_duration_seconds",
                "Time to answer an HTTP request, by route template and method.",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
            ]),
            &["route", "method"],
        )
        .expect("static metric options are valid");
        let join_seconds = Histogram::with_opts(
            HistogramOpts::new(
                "cohort_join_duration_seconds",
                "From a join request (or, in an empty room, from the first track) to the first media packet forwarded to the participant.",
            )
            .buckets(vec![0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0]),
        )
        .expect("static metric options are valid");
        sfu.set_observer(Arc::new(Timings {
            join_seconds: join_seconds.clone(),
        }));
        let live = LiveCollector::new(sfu, room_cap.max(1));
        let collectors: Vec<Box<dyn Collector>> = vec![
            Box::new(ws_sessions.clone()),
            Box::new(http_requests.clone()),
            Box::new(http_seconds.clone()),
            Box::new(join_seconds),
            Box::new(live),
            #[cfg(target_os = "linux")]
            Box::new(prometheus::process_collector::ProcessCollector::new(
                std::process::id() as i32,
                "cohort",
            )),
        ];
        for c in collectors {
            // Every name above is distinct, so registration cannot clash.
            registry.register(c).expect("metric names are distinct");
        }
        Arc::new(Metrics {
            registry,
            ws_sessions,
            http_requests,
            http_seconds,
            token,
        })
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        let families = self.registry.gather();
        if let Err(e) = TextEncoder::new().encode(&families, &mut buf) {
            tracing::error!(error = %e, "metrics could not be encoded");
        }
        String::from_utf8(buf).unwrap_or_default()
    }

    fn observe_http(&self, route: &str, method: &str, status: u16, seconds: f64) {
        self.http_requests
            .with_label_values(&[route, method, &status.to_string()])
            .inc();
        self.http_seconds
            .with_label_values(&[route, method])
            .observe(seconds);
    }
}

/// Where the SFU's timings land.
struct Timings {
    join_seconds: Histogram,
}

impl sfu::meters::Observer for Timings {
    fn join_to_first_media(&self, took: std::time::Duration) {
        self.join_seconds.observe(took.as_secs_f64());
    }
}

/// Counts an open WebSocket session for as long as it lives.
pub struct SessionGauge(IntGauge);

impl SessionGauge {
    pub fn new(metrics: &Metrics) -> SessionGauge {
        metrics.ws_sessions.inc();
        SessionGauge(metrics.ws_sessions.clone())
    }
}

impl Drop for SessionGauge {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// Middleware: counts and times every request by its route template (not its path, so
/// cardinality stays bounded).
pub async fn track_http(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = req.method().as_str().to_owned();
    let start = Instant::now();
    let res = next.run(req).await;
    let seconds = start.elapsed().as_secs_f64();
    state
        .metrics
        .observe_http(&route, &method, res.status().as_u16(), seconds);
    res
}

/// Prometheus metrics in the text format.
#[utoipa::path(get, path = "/metrics", tag = "service",
    responses((status = 200, description = "Metrics, Prometheus text format", content_type = "text/plain"),
        (status = 401, description = "A --metrics-token is set and was not given", body = crate::error::Problem)))]
pub async fn serve_metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    metrics_response(&state.metrics, &headers)
}

/// The `/metrics` answer, checking the token when one is set.
pub fn metrics_response(metrics: &Metrics, headers: &HeaderMap) -> Response {
    if let Some(token) = &metrics.token {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if given != Some(token.as_str()) {
            return AppError::Unauthorized("/metrics needs its bearer token".into())
                .into_response();
        }
    }
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        metrics.render(),
    )
        .into_response()
}

/// Reads the SFU's counters at scrape time.
struct LiveCollector {
    sfu: Sfu,
    room_cap: usize,
    descs: Vec<Desc>,
}

impl LiveCollector {
    fn new(sfu: Sfu, room_cap: usize) -> LiveCollector {
        // The descriptors are those of the families built from an empty reading.
        let descs = build(&Reading::default(), room_cap)
            .iter()
            .flat_map(|c| c.desc().into_iter().cloned().collect::<Vec<_>>())
            .collect();
        LiveCollector {
            sfu,
            room_cap,
            descs,
        }
    }
}

impl Collector for LiveCollector {
    fn desc(&self) -> Vec<&Desc> {
        self.descs.iter().collect()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let reading = Reading::take(&self.sfu);
        build(&reading, self.room_cap)
            .iter()
            .flat_map(|c| c.collect())
            .collect()
    }
}

/// The node's counters and every open room's, at one moment.
#[derive(Default)]
struct Reading {
    rooms: i64,
    participants: i64,
    tracks: [i64; 2],
    received_packets: [u64; 2],
    received_bytes: [u64; 2],
    forwarded_packets: [u64; 2],
    forwarded_bytes: [u64; 2],
    dropped_queue_full: u64,
    retransmitted: u64,
    nacks_received: u64,
    keyframes_received: u64,
    keyframes_sent: u64,
    ports_in_use: i64,
    per_room: Vec<(String, RoomReading)>,
}

impl Reading {
    fn take(sfu: &Sfu) -> Reading {
        let c = sfu.counters();
        let u = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let pair = |a: &[AtomicU64; 2]| [u(&a[0]), u(&a[1])];
        Reading {
            rooms: c.rooms.load(Ordering::Relaxed),
            participants: c.participants.load(Ordering::Relaxed),
            tracks: [
                c.tracks[0].load(Ordering::Relaxed),
                c.tracks[1].load(Ordering::Relaxed),
            ],
            received_packets: pair(&c.received_packets),
            received_bytes: pair(&c.received_bytes),
            forwarded_packets: pair(&c.forwarded_packets),
            forwarded_bytes: pair(&c.forwarded_bytes),
            dropped_queue_full: u(&c.dropped_queue_full),
            retransmitted: u(&c.retransmitted_packets),
            nacks_received: u(&c.nacks_received),
            keyframes_received: u(&c.keyframe_requests_received),
            keyframes_sent: u(&c.keyframe_requests_sent),
            ports_in_use: i64::try_from(sfu.ports_in_use()).unwrap_or(i64::MAX),
            per_room: sfu.room_readings(),
        }
    }
}

/// The busiest `cap` rooms by participants (then by name) under their own names, the rest
/// summed under [`OTHER_ROOMS`].
pub fn cap_rooms(mut rooms: Vec<(String, RoomReading)>, cap: usize) -> Vec<(String, RoomReading)> {
    rooms.sort_by(|a, b| b.1.participants.cmp(&a.1.participants).then(a.0.cmp(&b.0)));
    if rooms.len() <= cap {
        return rooms;
    }
    let rest = rooms.split_off(cap);
    let mut other = RoomReading::default();
    for (_, r) in &rest {
        other.add(r);
    }
    rooms.push((OTHER_ROOMS.to_owned(), other));
    rooms
}

fn gauge(name: &str, help: &str, v: i64) -> Box<dyn Collector> {
    let g = IntGauge::new(name, help).expect("static metric options are valid");
    g.set(v);
    Box::new(g)
}

fn counter(name: &str, help: &str, v: u64) -> Box<dyn Collector> {
    let c = IntCounter::new(name, help).expect("static metric options are valid");
    c.inc_by(v);
    Box::new(c)
}

fn gauge_vec(
    name: &str,
    help: &str,
    labels: &[&str],
    rows: &[(Vec<&str>, i64)],
) -> Box<dyn Collector> {
    let g =
        IntGaugeVec::new(Opts::new(name, help), labels).expect("static metric options are valid");
    for (values, v) in rows {
        g.with_label_values(values).set(*v);
    }
    Box::new(g)
}

fn counter_vec(
    name: &str,
    help: &str,
    labels: &[&str],
    rows: &[(Vec<&str>, u64)],
) -> Box<dyn Collector> {
    let c =
        IntCounterVec::new(Opts::new(name, help), labels).expect("static metric options are valid");
    for (values, v) in rows {
        c.with_label_values(values).inc_by(*v);
    }
    Box::new(c)
}

fn by_kind<T: Copy>(v: [T; 2]) -> Vec<(Vec<&'static str>, T)> {
    vec![(vec![KINDS[0]], v[0]), (vec![KINDS[1]], v[1])]
}

/// Every family of the live collector, filled from `r`.
fn build(r: &Reading, cap: usize) -> Vec<Box<dyn Collector>> {
    let rooms = cap_rooms(r.per_room.clone(), cap);
    let mut subscriptions = [0i64; 2];
    for (_, room) in &r.per_room {
        subscriptions[0] += room.subscriptions[0];
        subscriptions[1] += room.subscriptions[1];
    }
    let per_room = |f: &dyn Fn(&RoomReading) -> i64| -> Vec<(Vec<&str>, i64)> {
        rooms
            .iter()
            .map(|(n, x)| (vec![n.as_str()], f(x)))
            .collect()
    };
    let per_room_u = |f: &dyn Fn(&RoomReading) -> u64| -> Vec<(Vec<&str>, u64)> {
        rooms
            .iter()
            .map(|(n, x)| (vec![n.as_str()], f(x)))
            .collect()
    };
    let mut room_tracks = Vec::new();
    for (n, x) in &rooms {
        for (k, kind) in KINDS.iter().enumerate() {
            room_tracks.push((vec![n.as_str(), *kind], x.tracks[k]));
        }
    }
    vec![
        gauge("cohort_rooms", "Rooms open.", r.rooms),
        gauge(
            "cohort_participants",
            "Participants in all rooms.",
            r.participants,
        ),
        gauge(
            "cohort_udp_ports_in_use",
            "UDP ports leased by open peer connections.",
            r.ports_in_use,
        ),
        gauge_vec(
            "cohort_published_tracks",
            "Published tracks, by kind.",
            &["kind"],
            &by_kind(r.tracks),
        ),
        gauge_vec(
            "cohort_subscriptions",
            "Subscriptions with a sending queue, by kind.",
            &["kind"],
            &by_kind(subscriptions),
        ),
        counter_vec(
            "cohort_received_packets_total",
            "RTP packets received from publishers, by kind.",
            &["kind"],
            &by_kind(r.received_packets),
        ),
        counter_vec(
            "cohort_received_bytes_total",
            "RTP payload bytes received from publishers, by kind.",
            &["kind"],
            &by_kind(r.received_bytes),
        ),
        counter_vec(
            "cohort_forwarded_packets_total",
            "RTP packets forwarded to subscribers, by kind.",
            &["kind"],
            &by_kind(r.forwarded_packets),
        ),
        counter_vec(
            "cohort_forwarded_bytes_total",
            "RTP payload bytes forwarded to subscribers, by kind.",
            &["kind"],
            &by_kind(r.forwarded_bytes),
        ),
        counter_vec(
            "cohort_dropped_packets_total",
            "Packets not forwarded, by reason.",
            &["reason"],
            &[(vec!["subscriber_queue_full"], r.dropped_queue_full)],
        ),
        counter(
            "cohort_retransmitted_packets_total",
            "Packets sent again in answer to subscribers' NACKs.",
            r.retransmitted,
        ),
        counter(
            "cohort_nacks_received_total",
            "NACK messages received from subscribers.",
            r.nacks_received,
        ),
        counter(
            "cohort_keyframe_requests_received_total",
            "Keyframe requests (PLI/FIR) received from subscribers.",
            r.keyframes_received,
        ),
        counter(
            "cohort_keyframe_requests_sent_total",
            "Keyframe requests (PLI) sent to publishers, after merging and throttling.",
            r.keyframes_sent,
        ),
        gauge_vec(
            "cohort_room_participants",
            "Participants, by room.",
            &["room"],
            &per_room(&|x| x.participants),
        ),
        gauge_vec(
            "cohort_room_published_tracks",
            "Published tracks, by room and kind.",
            &["room", "kind"],
            &room_tracks,
        ),
        counter_vec(
            "cohort_room_received_bytes_total",
            "RTP payload bytes received from a room's publishers.",
            &["room"],
            &per_room_u(&|x| x.received_bytes[0] + x.received_bytes[1]),
        ),
        counter_vec(
            "cohort_room_forwarded_bytes_total",
            "RTP payload bytes forwarded to a room's subscribers.",
            &["room"],
            &per_room_u(&|x| x.forwarded_bytes[0] + x.forwarded_bytes[1]),
        ),
        counter_vec(
            "cohort_room_forwarded_packets_total",
            "RTP packets forwarded to a room's subscribers.",
            &["room"],
            &per_room_u(&|x| x.forwarded_packets[0] + x.forwarded_packets[1]),
        ),
        counter_vec(
            "cohort_room_dropped_packets_total",
            "Packets a room could not forward because a subscriber's queue was full.",
            &["room"],
            &per_room_u(&|x| x.dropped_queue_full),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room(participants: i64) -> RoomReading {
        RoomReading {
            participants,
            forwarded_packets: [10, 20],
            ..RoomReading::default()
        }
    }

    #[test]
    fn rooms_beyond_the_cap_are_summed_as_other() {
        let rooms = vec![
            ("a".to_owned(), room(1)),
            ("b".to_owned(), room(5)),
            ("c".to_owned(), room(3)),
            ("d".to_owned(), room(2)),
        ];
        let capped = cap_rooms(rooms, 2);
        let names: Vec<&str> = capped.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, vec!["b", "c", OTHER_ROOMS]);
        assert_eq!(capped[2].1.participants, 3);
        assert_eq!(capped[2].1.forwarded_packets, [20, 40]);
        // Under the cap, nothing is summed.
        assert_eq!(cap_rooms(vec![("a".to_owned(), room(1))], 2).len(), 1);
    }
}
