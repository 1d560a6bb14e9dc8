//! Prometheus metrics (`prometheus` crate), served at `GET /metrics`.
//!
//! Media counters are atomics that the room tasks bump as packets pass; this module reads them
//! only when scraped, through a collector that builds the families afresh each time. So a room's
//! series exist exactly while the room is open, and nothing on the packet path touches a label
//! map. Per-room series are capped: the busiest rooms by participants get their own `room`
//! label, the rest are summed under `room="_other"`.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus::core::Collector;
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry, TextEncoder,
};
use sfu::Sfu;

mod counted;
mod live;
mod observer;

pub use live::cap_rooms;

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
        let timings = observer::Timings::new();
        sfu.set_observer(Arc::new(timings.clone()));
        let live = live::LiveCollector::new(sfu, room_cap.max(1));
        let collectors: Vec<Box<dyn Collector>> = vec![
            Box::new(ws_sessions.clone()),
            Box::new(http_requests.clone()),
            Box::new(http_seconds.clone()),
            Box::new(live),
            #[cfg(target_os = "linux")]
            Box::new(prometheus::process_collector::ProcessCollector::new(
                std::process::id() as i32,
                "cohort",
            )),
        ];
        for c in collectors.into_iter().chain(timings.collectors()) {
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

    /// Signaling WebSocket sessions open now.
    pub fn open_sessions(&self) -> i64 {
        self.ws_sessions.get()
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
    let method = method_label(req.method());
    let start = Instant::now();
    let res = next.run(req).await;
    let seconds = start.elapsed().as_secs_f64();
    state
        .metrics
        .observe_http(&route, method, res.status().as_u16(), seconds);
    res
}

/// A request method as a label: the standard ones by name, anything else (a client may send
/// any token) as `other`, so that no request can add a label value.
fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
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
