//! Reading the SFU's counters at scrape time: the node's series and the per-room series, built
//! afresh for every scrape so a closed room's series are simply gone.

use std::sync::atomic::{AtomicU64, Ordering};

use prometheus::core::{Collector, Desc};
use prometheus::proto::MetricFamily;
use prometheus::{IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts};
use sfu::Sfu;
use sfu::meters::{ESTIMATE_BOUNDS, RoomReading};

use super::counted::CountedHistogram;
use super::{KINDS, OTHER_ROOMS};

/// Reads the SFU's counters at scrape time.
pub(super) struct LiveCollector {
    sfu: Sfu,
    room_cap: usize,
    descs: Vec<Desc>,
}

impl LiveCollector {
    pub(super) fn new(sfu: Sfu, room_cap: usize) -> LiveCollector {
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
    dropped_no_route: u64,
    dropped_too_old: u64,
    retransmitted: u64,
    nacks_received: u64,
    keyframes_received: u64,
    keyframes_sent: u64,
    peer_connections: i64,
    /// The engines' I/O: (datagrams, system calls) received and sent.
    received_datagrams: (u64, u64),
    sent_datagrams: (u64, u64),
    segmented_datagrams: u64,
    /// By `sfu::engine::demux::Drop::ALL`.
    datagrams_dropped: Vec<(&'static str, u64)>,
    sends_refused: u64,
    /// ICE-TCP connections: accepted, refused, closed.
    tcp_connections: [u64; 3],
    ice_restarts: u64,
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
            dropped_no_route: u(&c.dropped_no_route),
            dropped_too_old: u(&c.dropped_too_old),
            retransmitted: u(&c.retransmitted_packets),
            nacks_received: u(&c.nacks_received),
            keyframes_received: u(&c.keyframe_requests_received),
            keyframes_sent: u(&c.keyframe_requests_sent),
            peer_connections: i64::try_from(sfu.peer_connections()).unwrap_or(i64::MAX),
            received_datagrams: (u(&c.datagrams_received), u(&c.receive_calls)),
            sent_datagrams: (u(&c.datagrams_sent), u(&c.send_calls)),
            segmented_datagrams: u(&c.datagrams_segmented),
            datagrams_dropped: sfu::engine::demux::Drop::ALL
                .iter()
                .zip(&c.datagrams_dropped)
                .map(|(why, n)| (why.as_str(), u(n)))
                .collect(),
            sends_refused: u(&c.sends_refused),
            tcp_connections: [
                u(&c.tcp_connections[0]),
                u(&c.tcp_connections[1]),
                u(&c.tcp_connections[2]),
            ],
            ice_restarts: u(&c.ice_restarts),
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

fn cpu_cores() -> i64 {
    std::thread::available_parallelism().map_or(1, |n| i64::try_from(n.get()).unwrap_or(1))
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
            "cohort_peer_connections",
            "Peer connections open on the media engines.",
            r.peer_connections,
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
            &[
                (vec!["subscriber_queue_full"], r.dropped_queue_full),
                (vec!["no_route"], r.dropped_no_route),
                (vec!["too_old"], r.dropped_too_old),
            ],
        ),
        counter(
            "cohort_engine_datagrams_received_total",
            "Datagrams the media engines received.",
            r.received_datagrams.0,
        ),
        counter(
            "cohort_engine_receive_calls_total",
            "recvmmsg calls that returned datagrams (datagrams per call: the batch size).",
            r.received_datagrams.1,
        ),
        counter(
            "cohort_engine_datagrams_sent_total",
            "Datagrams the media engines sent.",
            r.sent_datagrams.0,
        ),
        counter(
            "cohort_engine_send_calls_total",
            "Send system calls: sendmmsg batches and GSO sends (datagrams per call: the batch size).",
            r.sent_datagrams.1,
        ),
        counter(
            "cohort_engine_datagrams_segmented_total",
            "Datagrams the media engines sent as segments of GSO sends (UDP_SEGMENT).",
            r.segmented_datagrams,
        ),
        counter_vec(
            "cohort_engine_datagrams_dropped_total",
            "Datagrams the media engines dropped before any connection saw them, by reason.",
            &["reason"],
            &r.datagrams_dropped
                .iter()
                .map(|(why, n)| (vec![*why], *n))
                .collect::<Vec<_>>(),
        ),
        counter(
            "cohort_engine_sends_refused_total",
            "Datagrams a connection made for an address it never proved: not sent.",
            r.sends_refused,
        ),
        counter_vec(
            "cohort_engine_tcp_connections_total",
            "ICE-TCP connections to the media engines: accepted, refused over a limit, closed.",
            &["event"],
            &[
                (vec!["accepted"], r.tcp_connections[0]),
                (vec!["refused"], r.tcp_connections[1]),
                (vec!["closed"], r.tcp_connections[2]),
            ],
        ),
        gauge(
            "cohort_engine_tcp_connections_open",
            "ICE-TCP connections open on the media engines.",
            i64::try_from(r.tcp_connections[0].saturating_sub(r.tcp_connections[2]))
                .unwrap_or(i64::MAX),
        ),
        counter(
            "cohort_engine_ice_restarts_total",
            "ICE restarts of peer connections on the media engines (new local credentials).",
            r.ice_restarts,
        ),
        gauge(
            "cohort_cpu_cores",
            "CPU cores available to the process (CPU use as a share: rate(cohort_process_cpu_seconds_total) / this).",
            cpu_cores(),
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
            "Packets a room did not forward, for any reason (see cohort_dropped_packets_total).",
            &["room"],
            &per_room_u(&|x| x.dropped()),
        ),
        gauge_vec(
            "cohort_room_capacity",
            "The most participants a room admits.",
            &["room"],
            &per_room(&|x| i64::try_from(x.capacity).unwrap_or(i64::MAX)),
        ),
        counter_vec(
            "cohort_room_rtcp_packets_lost_total",
            "Packets lost in a room according to RTCP reports, both directions.",
            &["room"],
            &per_room_u(&|x| x.rtcp_lost),
        ),
        counter_vec(
            "cohort_room_rtcp_packets_expected_total",
            "Packets expected in a room according to RTCP reports, both directions.",
            &["room"],
            &per_room_u(&|x| x.rtcp_expected),
        ),
        gauge_vec(
            "cohort_room_paused_subscriptions",
            "Video subscriptions sent nothing by choice: hidden in the subscriber's layout, or no room in its link.",
            &["room"],
            &per_room(&|x| x.paused_subscriptions),
        ),
        counter_vec(
            "cohort_room_layer_switches_total",
            "Video subscriptions moved from one simulcast layer to another.",
            &["room"],
            &per_room_u(&|x| x.layer_switches),
        ),
        Box::new(rooms.iter().fold(
            CountedHistogram::new(
                "cohort_room_subscriber_estimate_bytes_per_second",
                "Subscribers' downlink estimates (send-side bandwidth estimation), in bytes per second: one sample per subscriber with an estimate each second.",
                &["room"],
                &ESTIMATE_BOUNDS.map(|bits| bits as f64 / 8.0),
            ),
            |h, (n, x)| h.row(&[n.as_str()], &x.estimate_buckets, x.estimate_sum as f64 / 8.0),
        )),
        counter_vec(
            "cohort_room_video_bytes_saved_total",
            "Video payload bytes not sent thanks to layer choice and pausing: what the top flowing layers would have cost, less what was sent.",
            &["room"],
            &per_room_u(&|x| x.video_bytes_saved),
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
